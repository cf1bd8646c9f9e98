"""SpliceAI VCF scorer: genes, skips, windows and the ``INFO/SpliceAI`` value of SpliceAI 1.3.1.

The published formulas (window, masking, indel alignment, delta scores) are in
:mod:`splicescore.models.spliceai.official`. The record rules of ``spliceai.utils.get_delta_scores``
(1.3.1, PolyForm Strict: read as facts, no code taken) that this module follows:

* A record is scored only inside annotated genes (``TX_START < POS <= TX_END``; one score per ALT per
  overlapping gene, ALT-major, genes in table order). It is skipped when the window cannot be read,
  when REF differs from the FASTA (upper-cased) at POS, when the window runs past the contig end, and
  when ``len(REF) > 2*D``, in that order. ALTs containing ``.``, ``-``, ``*``, ``<`` or ``>`` are
  skipped; when REF and ALT are both longer than 1 nt the annotation is ``ALT|GENE|.|.|.|.|.|.|.|.``.

Deliberate differences (documented in README): every ALT whose alleles are not plain A/C/G/T gets an
explicit skip reason; ambiguity codes in the reference are encoded like N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splicescore.core.encoding import one_hot_oriented as encode  # model-orientation one-hot
from splicescore.core.outputs import AlignedOutputs, Track, make_track
from splicescore.core.scorer import RecordContext, RecordPlan, RecordResult, Variant
from splicescore.core.sliding import TX_TSV_COLUMNS, SlidingScorer, gene_id_or_name
from splicescore.io.annotation import GeneIndex, Transcript
from splicescore.io.genome import Reference
from splicescore.models.spliceai.official import CONTEXT, DeltaScores, align_alt, delta_scores, input_span0, masked_windows
from splicescore.nn.incremental import AltEdit
from splicescore.nn.reduce import SpliceAIDeltaRequest
from splicescore.nn.tracks import TrackAlt, reference_tracks

INFO_KEY = "SpliceAI"
INFO_DESCRIPTION = (
    "SpliceAIv1.3.1 variant annotation (computed by splicescore {version}). These include delta scores (DS) "
    "and delta positions (DP) for acceptor gain (AG), acceptor loss (AL), donor gain (DG), and donor loss "
    "(DL). Format: ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL"
)
TSV_COLUMNS = ("DS_AG", "DS_AL", "DS_DG", "DS_DL", "DP_AG", "DP_AL", "DP_DG", "DP_DL")
#: TSV columns after TSV_COLUMNS, as SpliceAI-lookup shows them (README, "Per-transcript scores"): the raw
#: and the masked delta scores of the same outputs, and the REF and ALT probability at each DP position
LOOKUP_COLUMNS = (
    "DS_AG_RAW", "DS_AL_RAW", "DS_DG_RAW", "DS_DL_RAW", "DS_AG_MASKED", "DS_AL_MASKED", "DS_DG_MASKED", "DS_DL_MASKED",
    "DS_AG_REF", "DS_AG_ALT", "DS_AL_REF", "DS_AL_ALT", "DS_DG_REF", "DS_DG_ALT", "DS_DL_REF", "DS_DL_ALT",
)
#: --all-nonzero: every position with |ALT - REF| >= 0.01, as pos:delta (pos relative to POS, delta signed)
NONZERO_COLUMNS = ("ACCEPTOR_DELTAS", "DONOR_DELTAS")
NONZERO_MIN = 0.01
TX_INFO_KEY = "SpliceAI_TX"
TX_INFO_DESCRIPTION = (
    "SpliceAIv1.3.1 delta scores per transcript (computed by splicescore {version}; --transcripts {mode}): "
    "one entry per ALT and transcript, each scored with its own boundaries and exons. Priority: MS MANE Select, "
    "MP MANE Plus Clinical, C Ensembl canonical, N other. "
    "Format: ALLELE|SYMBOL|TRANSCRIPT|PRIORITY|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL"
)
#: what groups transcripts into one gene (one ``INFO/SpliceAI`` entry per gene)
gene_key = gene_id_or_name


@dataclass(frozen=True)
class UnitScores:
    """Everything the VCF and TSV write for one (ALT, transcript): the delta scores without and with
    ``-M 1`` (the same DP), the REF and ALT probability of each score's channel at its DP, and the
    ``--all-nonzero`` lists when asked for. From the outputs (:func:`unit_scores`) or from a row of
    the device's reduction (:meth:`from_reduced`): the same numbers."""

    raw: DeltaScores
    masked: DeltaScores
    ref_at: tuple[float, float, float, float]
    alt_at: tuple[float, float, float, float]
    nonzero: dict | None = None

    @classmethod
    def from_reduced(cls, row: dict) -> "UnitScores":
        """From one unit's row of :class:`~splicescore.nn.reduce.SpliceAIDeltaRequest`."""
        dp = tuple(int(p) for p in row["dp"])
        return cls(DeltaScores(tuple(row["ds_raw"]), dp), DeltaScores(tuple(row["ds_masked"]), dp),
                   tuple(float(v) for v in row["ref"]), tuple(float(v) for v in row["alt"]))

    def lookup(self) -> dict:
        """The TSV's :data:`LOOKUP_COLUMNS` (and :data:`NONZERO_COLUMNS` when computed)."""
        out = {}
        for name, r, m in zip(("AG", "AL", "DG", "DL"), self.raw.ds, self.masked.ds):
            out[f"DS_{name}_RAW"], out[f"DS_{name}_MASKED"] = float(r), float(m)
        for name, ref, alt in zip(("AG", "AL", "DG", "DL"), self.ref_at, self.alt_at):
            out[f"DS_{name}_REF"], out[f"DS_{name}_ALT"] = ref, alt
        out.update(self.nonzero or {})
        return out


def unit_scores(y_ref: np.ndarray, y_alt: np.ndarray, cov: int, boundary_offset: int,
                all_nonzero: bool = False) -> UnitScores:
    """:class:`UnitScores` of aligned outputs ``(cov, 3)`` (genomic orientation, POS-D .. POS+D)."""
    raw = delta_scores(y_ref, y_alt, cov, boundary_offset, False)
    masked = delta_scores(y_ref, y_alt, cov, boundary_offset, True)
    at = [dp + cov // 2 for dp in raw.dp]
    ref_at = tuple(float(y_ref[i, ch]) for i, ch in zip(at, (1, 1, 2, 2)))
    alt_at = tuple(float(y_alt[i, ch]) for i, ch in zip(at, (1, 1, 2, 2)))
    nonzero = None
    if all_nonzero:
        nonzero = {}
        for column, channel in zip(NONZERO_COLUMNS, (1, 2)):
            delta = y_alt[:, channel] - y_ref[:, channel]
            hits = np.flatnonzero(np.abs(delta) >= np.float32(NONZERO_MIN))
            nonzero[column] = ";".join(f"{i - cov // 2}:{delta[i]:.4f}" for i in hits) or "."
    return UnitScores(raw, masked, ref_at, alt_at, nonzero)


@dataclass
class TranscriptAllele:
    """One ALT in one transcript: its ALT input and where its REF outputs are."""

    alt: str
    tx: Transcript
    alt_input: int | None  # None: complex allele (dots)
    ref_input: int = -1  # output holding this unit's REF track ...
    ref_offset: int = 0  # ... starting here (genomic orientation)
    same_as: "TranscriptAllele | None" = None  # a transcript of the same gene with the same windows: its outputs
    reduced_row: int | None = None  # its row in the chunk's reduction (SpliceAIScorer.reduction)


class SpliceAIScorer(SlidingScorer):
    """Plans and finishes SpliceAI scores for VCF records (see module docstring)."""

    name = "spliceai"
    info_key = INFO_KEY
    context = CONTEXT
    # SpliceAI 1.3.1's order: genes, then the window read (REF, contig end), then len(REF) > 2D
    record_checks = ("genes", "contig", "ref_mismatch", "contig_end", "ref_too_long", "non_acgt")

    def __init__(self, reference: Reference, genes: GeneIndex, distance: int = 50, mask: bool = False,
                 pad_ends: bool = False, version: str = "", incremental: bool = True, multi: bool = False,
                 transcripts: str = "auto", all_nonzero: bool = False):
        # multi: several transcripts per gene: INFO/SpliceAI_TX and the TSV's transcript columns
        super().__init__(reference, genes, distance, pad_ends, incremental, multi)
        self.all_nonzero = all_nonzero
        self.tsv_columns = (TX_TSV_COLUMNS if multi else ()) + TSV_COLUMNS + LOOKUP_COLUMNS + (
            NONZERO_COLUMNS if all_nonzero else ())
        if multi:
            self.extra_info = {TX_INFO_KEY: TX_INFO_DESCRIPTION.format(version=version, mode=transcripts)}
        self.mask = mask
        self.info_description = INFO_DESCRIPTION.format(version=version)

    @property
    def cov(self) -> int:
        return 2 * self.distance + 1

    # ------------------------------------------------------------------ the model's parts
    def genes_at(self, variant: Variant):
        return self.genes.at(variant.chrom, variant.pos1)

    def reference_span(self, variant: Variant, alts: list[str]) -> tuple[int, int]:
        start0, end0 = input_span0(variant.pos1, self.distance)
        return start0 + 1, end0

    def add_windows(self, record: RecordContext, plan: RecordPlan, shared: bool) -> None:
        """One :class:`TranscriptAllele` per ALT x transcript; its ALT window (a placeholder when
        ``shared`` and incremental: :meth:`plan_chunk` makes it a track edit) and, unless ``shared``,
        its REF window."""
        variant, seq = record.variant, record.seq
        half = len(seq) // 2
        first: dict[tuple, TranscriptAllele] = {}
        refs: dict[int, int] = {}
        for alt in record.alts:
            for tx in record.genes:
                if len(variant.ref) > 1 and len(alt) > 1:
                    plan.state.append(TranscriptAllele(alt, tx, None))
                    continue
                if self.multi:
                    # transcripts of one gene whose windows are the same sequence (same strand, same
                    # N-padding here) share their REF and ALT outputs
                    key = (alt, gene_key(tx), tx.strand, max(half + (tx.tx_start1 - variant.pos1), 0),
                           max(half - (tx.tx_end1 - variant.pos1), 0))
                    if key in first:
                        plan.state.append(TranscriptAllele(alt, tx, first[key].alt_input, same_as=first[key]))
                        continue
                if shared and self.incremental:  # a TrackAlt later: the full window is never built
                    plan.inputs.append(None)
                else:
                    x_alt = masked_windows(seq, variant.ref, alt, variant.pos1, tx, self.distance)[1]
                    plan.inputs.append(encode(x_alt, tx.strand))
                unit = TranscriptAllele(alt, tx, len(plan.inputs) - 1)
                if not shared:
                    if id(tx) not in refs:
                        x_ref, _ = masked_windows(seq, variant.ref, variant.ref, variant.pos1, tx, self.distance)
                        plan.inputs.append(encode(x_ref, tx.strand))
                        refs[id(tx)] = len(plan.inputs) - 1
                    unit.ref_input = refs[id(tx)]
                plan.state.append(unit)
                if self.multi:
                    first[key] = unit

    def plan_chunk(self, variants: list[Variant]) -> tuple[list, list[RecordPlan]]:
        """Plan a chunk of records together: REF outputs of clustered variants (same gene) come from
        shared reference tracks. Returned plans index into the returned input list.

        With ``incremental`` the ALT window of an SNV or indel is a
        :class:`~splicescore.nn.tracks.TrackAlt` entry on its REF track."""
        inputs: list = []
        wanted: dict[tuple, list[tuple[Variant, TranscriptAllele]]] = {}
        txs: dict[tuple, tuple[Transcript, str]] = {}
        plans = []
        for v in variants:
            plan = self.plan(v, shared=True)
            base = len(inputs)
            inputs.extend(plan.inputs)
            plan.inputs = []
            for unit in plan.state:
                if unit.alt_input is None:
                    continue
                unit.alt_input += base
                if unit.same_as is not None:
                    continue
                # transcripts with the same strand and span have the same REF tracks
                contig = self.reference.resolve(v.chrom)
                key = (contig, unit.tx.strand, unit.tx.tx_start1, unit.tx.tx_end1)
                wanted.setdefault(key, []).append((v, unit))
                txs[key] = (unit.tx, contig)
            plans.append(plan)
        d = self.distance
        for key, requests in wanted.items():
            tx, contig = txs[key]
            spans = [(p - d, p + d) for p in sorted({v.pos1 for v, _ in requests})]
            for first1, last1 in reference_tracks(spans, CONTEXT):
                idx = len(inputs)
                inputs.append(self._track_input(tx, contig, first1, last1))
                for v, unit in requests:
                    if first1 <= v.pos1 - d and v.pos1 + d <= last1:
                        unit.ref_input, unit.ref_offset = idx, v.pos1 - d - first1
                        if self.incremental:
                            inputs[unit.alt_input] = TrackAlt(idx, self._alt_edit(unit, len(v.ref), len(inputs[idx])))
        return inputs, plans

    def _alt_edit(self, unit: TranscriptAllele, ref_len: int, length: int) -> AltEdit:
        """The ALT window of ``unit`` as an edit of its REF track (model orientation)."""
        d = self.distance
        centre = unit.ref_offset + d + CONTEXT // 2  # track index of POS, genomic orientation
        q = centre
        if unit.tx.strand == "-":
            centre = length - 1 - centre
            q = centre - ref_len + 1
        alt = encode(unit.alt, unit.tx.strand)
        return AltEdit(q, ref_len, alt, centre - d, self.cov - ref_len + len(unit.alt))

    def _track_input(self, tx: Transcript, contig: str, first1: int, last1: int) -> np.ndarray:
        """One-hot REF input whose outputs are genomic positions ``first1..last1`` (N outside ``tx``)."""
        half = CONTEXT // 2
        start1, end1 = first1 - half, last1 + half
        seq = self.reference.fetch(contig, start1 - 1, end1)
        keep_lo = min(max(tx.tx_start1 - start1, 0), len(seq))
        keep_hi = max(min(tx.tx_end1 - start1 + 1, len(seq)), keep_lo)
        seq = "N" * keep_lo + seq[keep_lo:keep_hi] + "N" * (len(seq) - keep_hi)
        return encode(seq, tx.strand)

    # ------------------------------------------------------------------ outputs
    def _aligned(self, variant: Variant, unit: TranscriptAllele, outputs: list) -> tuple[np.ndarray, np.ndarray]:
        """REF and aligned ALT outputs ``(cov, 3)`` of ``unit``, genomic orientation, POS-D .. POS+D."""
        src = unit.same_as or unit
        y_ref = outputs[src.ref_input].T
        y_alt = outputs[src.alt_input].T
        if unit.tx.strand == "-":
            y_ref, y_alt = y_ref[::-1], y_alt[::-1]
        y_ref = y_ref[src.ref_offset : src.ref_offset + self.cov]
        return y_ref, align_alt(y_alt, len(variant.ref), len(unit.alt), self.cov)

    def aligned_outputs(self, variant: Variant, plan: RecordPlan, outputs: list) -> list[AlignedOutputs]:
        """Per (ALT, transcript) of the plan, in INFO order: ``(cov, 3)`` outputs (channels neither,
        acceptor, donor; position axis 0) over POS-D .. POS+D. A complex allele has none."""
        out = []
        for unit in plan.state:
            if unit.alt_input is None:
                continue
            y_ref, y_alt = self._aligned(variant, unit, outputs)
            out.append(AlignedOutputs(unit.alt, unit.tx, unit.tx.strand, variant.pos1 - self.distance, y_ref, y_alt, 0))
        return out

    def plot_tracks(self, aligned: AlignedOutputs, distance: int) -> list[Track]:
        """Acceptor and donor, positions POS-D..POS+D."""
        return [make_track(name, aligned.ref[:, ch], aligned.alt_out[:, ch]) for ch, name in ((1, "acceptor"), (2, "donor"))]

    def reduction(self, variants: list[Variant], plans: list[RecordPlan]) -> SpliceAIDeltaRequest | None:
        """Every (ALT, transcript) of the chunk's plans (as :meth:`plan_chunk` made them) as one
        device request; ``None`` with ``--all-nonzero`` (its lists need every position)."""
        if self.all_nonzero:
            return None
        units = []
        for variant, plan in zip(variants, plans):
            for unit in plan.state:
                if unit.alt_input is None:
                    continue
                src = unit.same_as or unit
                unit.reduced_row = len(units)
                units.append((src.ref_input, src.ref_offset, src.alt_input, unit.tx.strand == "-", len(variant.ref),
                              len(unit.alt), unit.tx.nearest_boundary_offset(variant.pos1)))
        return SpliceAIDeltaRequest(units, self.cov) if units else None

    def finish(self, variant: Variant, plan: RecordPlan, outputs: list[np.ndarray]) -> RecordResult:
        """``outputs[i]`` is the mean probability ``(3, L_i - 10000)`` for input ``i`` (of ``plan.inputs``,
        or of the chunk's inputs when the plan came from :meth:`plan_chunk`)."""

        def scores(unit: TranscriptAllele) -> UnitScores:
            y_ref, y_alt = self._aligned(variant, unit, outputs)
            boundary = unit.tx.nearest_boundary_offset(variant.pos1)
            return unit_scores(y_ref, y_alt, self.cov, boundary, self.all_nonzero)

        return self._result(variant, plan, scores)

    def finish_reduced(self, variant: Variant, plan: RecordPlan, reduced: list[dict]) -> RecordResult:
        """As :meth:`finish`, from the rows of the chunk's :meth:`reduction`."""
        return self._result(variant, plan, lambda unit: UnitScores.from_reduced(reduced[unit.reduced_row]))

    def _result(self, variant: Variant, plan: RecordPlan, scores_of) -> RecordResult:
        """The INFO entries and TSV rows of a record, ``scores_of(unit) -> UnitScores`` per scored unit."""
        result = RecordResult(skips=list(plan.skips))
        entries = []
        tx_entries = []
        genes_done: set[tuple[str, str]] = set()  # (alt, gene): the gene's first transcript is its entry
        for unit in plan.state:
            top = True
            if self.multi:
                top = (unit.alt, gene_key(unit.tx)) not in genes_done
                genes_done.add((unit.alt, gene_key(unit.tx)))
            tx_tag = f"{unit.tx.transcript_id or '.'}|{unit.tx.priority or '.'}"
            if unit.alt_input is None:
                if top:
                    entries.append(f"{unit.alt}|{unit.tx.gene}|.|.|.|.|.|.|.|.")
                tx_entries.append(f"{unit.alt}|{unit.tx.gene}|{tx_tag}|.|.|.|.|.|.|.|.")
                result.skips.append((unit.alt, "complex_allele"))
                continue
            unit_result = scores_of(unit)
            scores = unit_result.masked if self.mask else unit_result.raw
            entry = scores.format(unit.alt, unit.tx.gene)
            if top:
                entries.append(entry)
            row = {"gene": unit.tx.gene, "strand": unit.tx.strand, "alt": unit.alt}
            if self.multi:
                alt_, rest = entry.split("|", 1)
                gene_, rest = rest.split("|", 1)
                tx_entries.append(f"{alt_}|{gene_}|{tx_tag}|{rest}")
                row.update(transcript_id=unit.tx.transcript_id or ".", transcript_priority=unit.tx.priority or ".")
            row.update({c: float(v) for c, v in zip(TSV_COLUMNS[:4], scores.ds)})
            row.update(dict(zip(TSV_COLUMNS[4:], scores.dp)))
            row.update(unit_result.lookup())
            result.rows.append(row)
        if self.multi and tx_entries:
            result.extra[TX_INFO_KEY] = ",".join(tx_entries)
        # the same ALT can be skipped for one reason only once
        result.skips = list(dict.fromkeys(result.skips))
        result.info = ",".join(entries) if entries else None
        return result
