"""HAL VCF scoring: 5' splice donor windows from the annotation, delta and ΔPSI, INFO.

HAL (the position-specific hexamer model of the official kipoi port, see
:mod:`splicescore.models.hal.network`; *not* the column-averaged variant of the paper's notebooks) scores
one 160-nt window per 5' splice donor: 80 exonic + 80 intronic nt, the last exon base at window
index 79, in transcript orientation. Window construction and the allele rules are the pure functions
of :mod:`splicescore.models.hal.official` (tested against the Vex-seq golden windows); this module
finds the donors and turns network outputs into INFO/TSV.

Donors
------
* From the annotation's exons: every exon except the transcript's last one (in transcript order)
  ends in a donor. ``DONOR_POS`` = the 1-based genomic position of the last exon base: the exon's end
  on the + strand, the exon's start (its lowest coordinate) on the - strand. Transcripts near the
  variant are searched (any transcript overlapping the variant ± 160 nt), so a donor window that
  reaches past its transcript's end is found too.
* A donor is scored when its 160-nt window contains the variant (:func:`~splicescore.models.hal.official.
  variant_in_window`: the trimmed changed bases overlap the window, or an insertion falls strictly inside
  it). **One INFO entry per ALT × donor**, donors sorted by position then strand; a donor shared by
  several genes is scored once (TSV ``gene`` = the first gene).
* Indels keep the donor fixed (:func:`~splicescore.models.hal.official.alt_donor_window`); an indel that
  deletes the donor base leaves the donor undefined: that entry is ``ALLELE|DONOR_POS|STRAND|.``.
  Likewise a window with a character other than A/C/G/T inside a scored hexamer (the official model
  raises ``KeyError``) gives a ``.`` entry. An ALT none of whose donors could be scored gets the
  skip reason of its first unscored donor (``donor_deleted`` or ``non_acgt``).

Scores: ``DELTA = score_alt - score_ref`` (logit units, float64, kipoi ``diff``); with
``--hal-ref-psi P`` also ``DPSI = expit(logit(P) + DELTA) - P`` (Rosenberg et al. 2015).
``INFO/HAL=ALLELE|DONOR_POS|STRAND|DELTA[|DPSI]`` (4 decimals). Skip reasons: the ``classify_alt``
ones, ``ref_mismatch``, ``contig_not_in_fasta``, ``contig_end`` (``--pad-ends`` reads N instead, which
then fails the A/C/G/T check), ``ref_too_long`` (REF longer than 160 nt), ``non_acgt``, ``no_gene``
(no transcript near the variant), ``no_donor`` and ``donor_deleted``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splicescore.core.encoding import one_hot
from splicescore.io.genome import Reference
from splicescore.models.hal.network import WINDOW, covered_positions
from splicescore.core.scorer import RecordContext, RecordPlan, RecordResult, SiteWindowScorer, Variant
from splicescore.models.hal.official import (
    alt_donor_window,
    delta_psi,
    donor_window,
    format_hal_info,
    variant_in_window,
)

INFO_KEY = "HAL"
INFO_DESCRIPTION = (
    "HAL (Rosenberg et al. 2015, kipoi position-specific donor model; computed by splicescore {version}) "
    "effect on the 5' splice donors whose 160-nt window contains the variant, one entry per ALT x donor. "
    "Format: ALLELE|DONOR_POS|STRAND|DELTA{psi}; DONOR_POS = last exon base; DELTA = score_alt - score_ref "
    "(logit units){psi_text}"
)
TSV_COLUMNS = ("DONOR_POS", "DELTA", "DPSI", "SCORE_REF", "SCORE_ALT")

_COVERED = covered_positions().numpy()


def transcript_donors(tx) -> list[int]:
    """1-based donor positions (last exon base) of a transcript: + exon ends but the last exon's,
    - exon starts but the lowest exon's."""
    if tx.strand == "+":
        return sorted(tx.exon_ends1)[:-1]
    return sorted(tx.exon_starts1)[1:]


def window_is_scorable(window: str) -> bool:
    """True when every position covered by a scored hexamer is A/C/G/T (the official model raises
    ``KeyError`` otherwise; positions 75 and 76 are in no scored hexamer and are not checked)."""
    if len(window) != WINDOW:
        return False
    ok = np.frombuffer(window.upper().encode("latin-1", "replace"), dtype=np.uint8)
    acgt = np.isin(ok, np.frombuffer(b"ACGT", dtype=np.uint8))
    return bool((acgt | ~_COVERED).all())


def transcripts_near(genes, chrom: str, lo1: int, hi1: int) -> list:
    """Transcripts overlapping ``[lo1, hi1]`` (1-based inclusive), in source order."""
    return genes.overlapping(chrom, lo1, hi1)


def donors_for_variant(txs, pos1: int, ref: str, alt: str) -> list[tuple[int, str, str]]:
    """``(donor_pos1, strand, gene)`` of every donor whose window contains the allele, sorted by
    position then strand, each donor once (first gene)."""
    out: dict[tuple[int, str], str] = {}
    for tx in txs:
        for d in transcript_donors(tx):
            if variant_in_window(d, tx.strand, pos1, ref, alt):
                out.setdefault((d, tx.strand), tx.gene)
    return [(d, s, g) for (d, s), g in sorted(out.items())]


@dataclass
class DonorAllele:
    """One ALT at one donor: its REF and ALT inputs, or why it was not scored."""

    alt: str
    donor: int
    strand: str
    gene: str
    ref_input: int | None
    alt_input: int | None
    reason: str | None  # why it was not scored


class HALScorer(SiteWindowScorer):
    """Plans and finishes HAL scores for VCF records (see module docstring)."""

    name = "hal"
    window = WINDOW  # 160 nt per donor
    info_key = INFO_KEY
    tsv_columns = TSV_COLUMNS
    record_checks = ("genes", "contig", "ref_mismatch", "non_acgt", "ref_too_long", "contig_end")

    def __init__(self, reference: Reference, genes, ref_psi: float | None = None, pad_ends: bool = False,
                 version: str = ""):
        if ref_psi is not None and not 0.0 <= ref_psi <= 1.0:
            raise ValueError("ref_psi must lie in [0, 1]")
        self.reference = reference
        self.genes = genes
        self.ref_psi = ref_psi
        self.pad_ends = pad_ends
        psi = "" if ref_psi is None else "|DPSI"
        psi_text = "" if ref_psi is None else f"; DPSI = expit(logit({ref_psi:g}) + DELTA) - {ref_psi:g}"
        self.info_description = INFO_DESCRIPTION.format(version=version, psi=psi, psi_text=psi_text)

    # ------------------------------------------------------------------ the model's parts
    def span_margin(self, ref_len: int) -> int:
        return WINDOW + ref_len + 1

    def genes_at(self, variant: Variant):
        pos1, ref = variant.pos1, variant.ref
        return transcripts_near(self.genes, variant.chrom, pos1 - WINDOW, pos1 + len(ref) - 1 + WINDOW)

    def add_windows(self, record: RecordContext, plan: RecordPlan, shared: bool) -> None:
        variant, seq, lo1 = record.variant, record.seq, record.lo1
        pos1, ref = variant.pos1, variant.ref
        ref_inputs: dict[tuple[int, str], int | None] = {}
        for alt in record.alts:
            donors = donors_for_variant(record.genes, pos1, ref, alt)
            if not donors:
                plan.skips.append((alt, "no_donor"))
                continue
            for d, strand, gene in donors:
                key = (d, strand)
                if key not in ref_inputs:
                    w_ref = donor_window(seq, lo1, d, strand)
                    ref_inputs[key] = None if not window_is_scorable(w_ref) else len(plan.inputs)
                    if ref_inputs[key] is not None:
                        plan.inputs.append(one_hot(w_ref))
                w_alt = alt_donor_window(seq, lo1, d, strand, pos1, ref, alt)
                if w_alt is None:
                    plan.state.append(DonorAllele(alt, d, strand, gene, None, None, "donor_deleted"))
                elif ref_inputs[key] is None or not window_is_scorable(w_alt):
                    plan.state.append(DonorAllele(alt, d, strand, gene, None, None, "non_acgt"))
                else:
                    plan.inputs.append(one_hot(w_alt))
                    plan.state.append(DonorAllele(alt, d, strand, gene, ref_inputs[key], len(plan.inputs) - 1, None))

    def finish(self, variant: Variant, plan: RecordPlan, outputs: list[np.ndarray]) -> RecordResult:
        """``outputs[i]`` is the float64 HAL score (one value) of ``plan.inputs[i]``."""
        result = RecordResult(skips=list(plan.skips))
        entries = []
        scored: set[str] = set()
        first_reason: dict[str, str] = {}
        for e in plan.state:
            if e.reason is not None:
                first_reason.setdefault(e.alt, e.reason)
                entries.append(f"{e.alt}|{e.donor}|{e.strand}|." + ("" if self.ref_psi is None else "|."))
                continue
            s_ref = _scalar(outputs[e.ref_input])
            s_alt = _scalar(outputs[e.alt_input])
            delta = s_alt - s_ref
            dpsi = None if self.ref_psi is None else float(delta_psi(self.ref_psi, delta))
            entries.append(format_hal_info(e.alt, e.donor, e.strand, delta, dpsi))
            scored.add(e.alt)
            row = {"alt": e.alt, "gene": e.gene, "strand": e.strand, "DONOR_POS": e.donor, "DELTA": delta,
                   "SCORE_REF": s_ref, "SCORE_ALT": s_alt}
            if dpsi is not None:
                row["DPSI"] = dpsi
            result.rows.append(row)
        for alt, reason in first_reason.items():
            if alt not in scored:
                result.skips.append((alt, reason))
        result.skips = list(dict.fromkeys(result.skips))
        result.info = ",".join(entries) if entries else None
        return result


def _scalar(y) -> float:
    """The one float64 score of a window (``predict`` returns it as a 1-element array)."""
    return float(np.asarray(y, dtype=np.float64).reshape(-1)[0])
