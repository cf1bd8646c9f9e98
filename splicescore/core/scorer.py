"""What every model's scorer provides to the pipeline, and the skip reasons.

A scorer turns one :class:`Variant` into a :class:`RecordPlan` (the network inputs it needs, plus
whatever it must remember) and, once the batched network outputs are back, into a
:class:`RecordResult`: the INFO value, TSV rows and the reasons for every ALT it could not score.
Planning and finishing are pure given the reference, annotation and network outputs; the pipeline
owns all I/O and batching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np

from splicescore.core.alleles import classify_alt

#: The documented skip reasons (``SPLICESCORE_SKIP=model|ALT|reason``).
SKIP_REASONS = {
    "ref_mismatch": "REF does not match the reference FASTA",
    "contig_not_in_fasta": "the contig is not in the reference FASTA",
    "contig_end": "the model's window runs past a contig end (use --pad-ends to score with N padding)",
    "symbolic_alt": "symbolic or breakend ALT (<DEL>, ]chr:pos], ...)",
    "spanning_deletion": "spanning deletion ALT (*)",
    "ref_too_long": "REF longer than the model allows (SpliceAI/Pangolin: 2*D)",
    "alt_too_long": "ALT longer than the model's window allows (SpTransformer: insertions up to 3,995 nt)",
    "no_gene": "no annotated gene at the variant",
    "no_pas": "no polyadenylation signal window contains the variant",
    "no_donor": "no annotated 5' splice donor window contains the variant",
    "donor_deleted": "an indel deletes the 5' splice donor base that HAL's window is anchored on",
    "non_acgt": "REF or ALT has characters other than A, C, G, T",
    "complex_allele": "REF and ALT both longer than 1 nt (SpliceAI writes '.' scores)",
}


@dataclass(frozen=True)
class Variant:
    """One VCF record as the scorers see it (``pos1`` is the VCF POS)."""

    chrom: str
    pos1: int
    ref: str
    alts: tuple[str, ...]
    index: int = 0


@dataclass
class RecordPlan:
    """Network inputs needed for one record and the scorer's private state."""

    inputs: list[np.ndarray] = field(default_factory=list)
    state: Any = None
    skips: list[tuple[str, str]] = field(default_factory=list)  # (alt, reason)
    #: where this record's inputs start in its chunk's input list (None: ``state`` indexes the chunk's list)
    first_input: int | None = None

    def outputs_of(self, chunk_outputs: list) -> list:
        """This record's outputs: its own slice of the chunk's, or all of them (shared inputs)."""
        if self.first_input is None:
            return chunk_outputs
        return chunk_outputs[self.first_input : self.first_input + len(self.inputs)]

    def skip_all(self, alts, reason: str) -> "RecordPlan":
        """Give every one of ``alts`` the same skip reason (a record-level reason)."""
        self.skips.extend((a, reason) for a in alts)
        return self


@dataclass
class RecordResult:
    info: str | None = None
    rows: list[dict] = field(default_factory=list)
    skips: list[tuple[str, str]] = field(default_factory=list)  # (alt, reason)
    extra: dict[str, str] = field(default_factory=dict)  # further INFO keys (the scorer's ``extra_info``)


@dataclass
class RecordContext:
    """What the record-level checks of :meth:`Scorer.plan` found, handed to the model's windows.

    ``seq`` is the reference ``[lo1, hi1]`` (1-based, ``N`` off the contig) of
    :meth:`Scorer.reference_span`; ``genes`` what :meth:`Scorer.genes_at` returned."""

    variant: Variant
    alts: list[str]
    genes: Any = None
    contig: str | None = None
    lo1: int = 0
    hi1: int = 0
    seq: str | None = None


#: the record-level checks a scorer can run, each giving its skip reason of :data:`SKIP_REASONS`
RECORD_CHECKS = ("genes", "contig", "ref_mismatch", "non_acgt", "ref_too_long", "contig_end")


class Scorer(ABC):
    """A model's VCF scorer: the plan template, the model supplies its own parts.

    :meth:`plan` runs, for one record: the ALTs' classification (:func:`scorable_alts` with the
    model's :meth:`allele_reason`), then the record checks in the model's :attr:`record_checks`
    order (the official tools differ; every check gives every ALT the same reason), then the
    model's :meth:`add_windows`. :meth:`plan_chunk` / :meth:`finish_chunk` are what the pipeline
    calls; a model whose records share inputs (reference tracks) overrides :meth:`plan_chunk`.

    A model declares :meth:`reach` (nt around the REF bases it reads: sequence, annotation,
    sites), :meth:`options` (the settings that change its output: cache key, header) and, for a
    sliding model, :meth:`aligned_outputs` (per-position REF/ALT outputs in genome coordinates,
    used by its :meth:`finish` and by ``splicescore plot``).
    """

    name: str
    info_key: str
    info_description: str
    tsv_columns: Sequence[str]
    #: further INFO keys it may write: ``{key: description}``
    extra_info: dict = {}
    reference: Any = None
    genes: Any = None
    pad_ends: bool = False
    #: :data:`RECORD_CHECKS` in the official tool's order (``genes`` only where :meth:`genes_at` is used)
    record_checks: tuple[str, ...] = ("contig", "ref_mismatch", "non_acgt", "ref_too_long", "contig_end")

    # ------------------------------------------------------------------ the model's parts
    def allele_reason(self, variant: Variant, alt: str) -> str | None:
        """The model's own skip reason for one ALT (after :func:`classify_alt`), or ``None``."""
        return None

    def genes_at(self, variant: Variant):
        """What the ``genes`` check looks up (empty: ``no_gene``)."""
        return None

    @abstractmethod
    def reference_span(self, variant: Variant, alts: list[str]) -> tuple[int, int]:
        """1-based inclusive ``(lo1, hi1)`` of the reference the windows are cut from."""

    def needed_span(self, variant: Variant, alts: list[str], lo1: int, hi1: int) -> tuple[int, int]:
        """The part of the read span that must lie on the contig (else ``contig_end``)."""
        return lo1, hi1

    @abstractmethod
    def max_ref(self) -> int:
        """Longest REF the model scores (``ref_too_long`` beyond)."""

    @abstractmethod
    def add_windows(self, record: RecordContext, plan: RecordPlan, shared: bool) -> None:
        """The model's windows of a record that passed the checks (``plan.inputs``, ``plan.state``);
        ``shared``: planned by a :meth:`plan_chunk` that takes the REF outputs from shared tracks."""

    @abstractmethod
    def finish(self, variant: Variant, plan: RecordPlan, outputs: list) -> RecordResult:
        """The record's result from the network outputs of its plan's inputs."""

    def finish_reduced(self, variant: Variant, plan: RecordPlan, reduced: list) -> RecordResult:
        """The record's result from ``reduced``, the unpacked result of the chunk's
        :meth:`reduction` (one row per unit of the chunk), for a scorer that gives one."""
        raise NotImplementedError(f"{self.name} has no reduction")

    @abstractmethod
    def reach(self) -> int:
        """nt on each side of the REF bases that the model reads (sequence, annotation, sites),
        before the alleles' own lengths (the cache key covers ``reach() + len(REF) + longest ALT``)."""

    @abstractmethod
    def input_length(self) -> int:
        """Length (nt) of the model's usual input window (the engine's cap per pass is
        ``batch_size`` of them)."""

    def options(self) -> dict:
        """The settings that change this scorer's output (part of the cache key): its plain
        attributes (numbers, flags, strings) as it holds them."""
        return {k: v for k, v in sorted(vars(self).items()) if v is None or isinstance(v, (bool, int, float, str))}

    def sites_between(self, chrom: str, lo1: int, hi1: int) -> list | None:
        """The model's own annotated sites in ``[lo1, hi1]`` that it reads besides the gene
        annotation (part of the cache key), or ``None`` when it reads none."""
        return None

    def aligned_outputs(self, variant: Variant, plan: RecordPlan, outputs: list) -> list:
        """Per-position REF and ALT outputs of every (ALT, gene) of the plan, genome coordinates
        (:class:`~splicescore.core.outputs.AlignedOutputs`, in the order of the INFO entries)."""
        raise NotImplementedError(f"{self.name} has no per-position outputs")

    def plot_tracks(self, aligned, distance: int) -> list:
        """The :class:`~splicescore.core.outputs.Track` list ``splicescore plot`` draws for one
        :class:`~splicescore.core.outputs.AlignedOutputs`, positions POS-D onwards."""
        raise NotImplementedError(f"{self.name} has no per-position tracks")

    # ------------------------------------------------------------------ the template
    def plan(self, variant: Variant, shared: bool = False) -> RecordPlan:
        """ALTs -> record checks (model order) -> the model's windows (see the class docstring)."""
        plan = RecordPlan(state=[])
        alts = scorable_alts(variant, plan, lambda alt: self.allele_reason(variant, alt))
        if not alts:
            return plan
        record = RecordContext(variant, alts)
        for check in self.record_checks:
            reason = self._check(check, record)
            if reason is not None:
                return plan.skip_all(alts, reason)
        self.add_windows(record, plan, shared)
        return plan

    def _check(self, check: str, record: RecordContext) -> str | None:
        v = record.variant
        if check == "genes":
            record.genes = self.genes_at(v)
            return None if record.genes else "no_gene"
        if check == "contig":
            record.contig = self.reference.resolve(v.chrom)
            return "contig_not_in_fasta" if record.contig is None else None
        if check == "ref_mismatch":
            record.lo1, record.hi1 = self.reference_span(v, record.alts)
            record.seq = self.reference.fetch(record.contig, record.lo1 - 1, record.hi1)
            at = v.pos1 - record.lo1
            return "ref_mismatch" if record.seq[at : at + len(v.ref)].upper() != v.ref.upper() else None
        if check == "non_acgt":
            return "non_acgt" if classify_alt(v.ref) == "non_acgt" else None
        if check == "ref_too_long":
            return "ref_too_long" if len(v.ref) > self.max_ref() else None
        if check == "contig_end":
            lo1, hi1 = self.needed_span(v, record.alts, record.lo1, record.hi1)
            off = lo1 < 1 or hi1 > self.reference.lengths[record.contig]
            return "contig_end" if off and not self.pad_ends else None
        raise ValueError(f"unknown record check {check!r} (one of {', '.join(RECORD_CHECKS)})")

    def plan_chunk(self, variants: list[Variant]) -> tuple[list, list[RecordPlan]]:
        """Plans of a chunk of records and the chunk's network inputs (each record's own here)."""
        plans = [self.plan(v) for v in variants]
        inputs: list = []
        for p in plans:
            p.first_input = len(inputs)
            inputs.extend(p.inputs)
        return inputs, plans

    def reduction(self, variants: list[Variant], plans: list[RecordPlan]):
        """A reduction of the chunk's outputs on the device that :meth:`finish_chunk` can take
        instead of the outputs (a :class:`~splicescore.nn.reduce.UnitReduction`), or ``None``: the
        scorer needs the outputs themselves. A scorer that gives one numbers its plans' units
        (the row of each unit in :meth:`~splicescore.nn.reduce.UnitReduction.unpack`)."""
        return None

    def finish_chunk(self, variants: list[Variant], plans: list[RecordPlan], outputs: list | None,
                     reduced: list | None = None) -> list[RecordResult]:
        """Results of a chunk planned by :meth:`plan_chunk` from the outputs of its inputs, or
        (``outputs`` None) from ``reduced``, the unpacked result of :meth:`reduction`."""
        if outputs is None:
            if reduced is None:
                raise ValueError(f"{self.name}: a chunk to finish needs its outputs or its reduction's rows")
            return [self.finish_reduced(v, p, reduced) for v, p in zip(variants, plans)]
        return [self.finish(v, p, p.outputs_of(outputs)) for v, p in zip(variants, plans)]


class SiteWindowScorer(Scorer):
    """A model that scores one fixed window per site near the variant (a PAS, a 5' donor) instead
    of sliding over it: its window length sets its sizes. The model gives :attr:`window` and
    :meth:`span_margin`."""

    #: the model's window (nt)
    window: int

    def span_margin(self, ref_len: int) -> int:
        """nt read on each side of the REF bases: every window containing them, plus what a
        deletion pulls into one."""
        raise NotImplementedError

    def reach(self) -> int:
        return 2 * self.window  # every window containing the variant, plus room for a deletion

    def input_length(self) -> int:
        return self.window

    def max_ref(self) -> int:
        return self.window

    def reference_span(self, variant: Variant, alts: list[str]) -> tuple[int, int]:
        margin = self.span_margin(len(variant.ref))
        return variant.pos1 - margin, variant.pos1 + len(variant.ref) - 1 + margin


def scorable_alts(variant: Variant, plan: RecordPlan, check=None) -> list[str]:
    """ALTs of ``variant`` a model can try to score, in order. The others get their reason in
    ``plan.skips`` (``classify_alt``, then the model's own ``check(alt) -> reason | None``); a
    missing ALT (``.``) needs no reason."""
    alts = []
    for alt in variant.alts:
        reason = classify_alt(alt)
        if reason == "missing":
            continue
        if reason is None and check is not None:
            reason = check(alt)
        if reason is not None:  # an allele the model cannot score: say why, whatever else holds
            plan.skips.append((alt, reason))
        else:
            alts.append(alt)
    return alts


def read_and_check(reference, contig: str, variant: Variant, lo1: int, hi1: int, max_ref: int,
                   pad_ends: bool) -> tuple[str, str | None]:
    """Reference ``[lo1, hi1]`` (1-based, N outside the contig) around ``variant`` and the first
    record-level reason not to score it, in this order: ``ref_mismatch``, ``non_acgt`` (REF),
    ``ref_too_long`` (``len(REF) > max_ref``), ``contig_end`` (unless ``pad_ends``)."""
    seq = reference.fetch(contig, lo1 - 1, hi1)
    ref = variant.ref
    if seq[variant.pos1 - lo1 : variant.pos1 - lo1 + len(ref)].upper() != ref.upper():
        return seq, "ref_mismatch"
    if classify_alt(ref) == "non_acgt":
        return seq, "non_acgt"
    if len(ref) > max_ref:
        return seq, "ref_too_long"
    if (lo1 < 1 or hi1 > reference.lengths[contig]) and not pad_ends:
        return seq, "contig_end"
    return seq, None
