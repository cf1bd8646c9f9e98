"""What every model's scorer provides to the pipeline, and the skip reasons.

A scorer turns one :class:`Variant` into a :class:`RecordPlan` (the network inputs it needs, plus
whatever it must remember) and, once the batched network outputs are back, into a
:class:`RecordResult`: the INFO value, TSV rows and the reasons for every ALT it could not score.
Planning and finishing are pure given the reference, annotation and network outputs; the pipeline
owns all I/O and batching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

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


class Scorer(Protocol):
    name: str
    info_key: str
    info_description: str
    tsv_columns: Sequence[str]

    def plan(self, variant: Variant) -> RecordPlan: ...

    def finish(self, variant: Variant, plan: RecordPlan, outputs: list[np.ndarray]) -> RecordResult: ...


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
