"""APARENT2 VCF scoring: polyadenylation-signal (PAS) windows on the genome, scores, INFO.

APARENT2 does not slide over the variant: it scores one 205-nt window anchored on a PAS hexamer
(0-based window positions 70..75, the layout of the official variant notebook
``examples/aparent2_score_variants.ipynb``, johli/aparent-resnet@a745736), so the work here is to
place windows (pure functions, tested on hand-made sequences) and to score ref against alt with the
notebook's formulas (:mod:`splicescore.models.aparent2.official`).

Window placement
----------------
* A PAS is a hexamer on one strand. ``pas_pos1`` is the 1-based genomic (+ strand coordinate)
  position of its **leftmost** base, so the hexamer is ``pas_pos1 .. pas_pos1 + 5`` whatever the
  strand. Its *anchor* is its 5' base on its own strand: ``pas_pos1`` on +, ``pas_pos1 + 5`` on -.
* The window is 205 nt in PAS-strand orientation with the anchor at index 70: genomic
  ``[anchor - 70, anchor + 134]`` on + and ``[anchor - 134, anchor + 70]`` on -, reverse-complemented.
  It is upper-cased; any character other than A/C/G/T/N (IUPAC codes) becomes N, and N is encoded
  0.25 per channel (the official encoding, as outside a contig with ``--pad-ends``).
* A variant is *in* a window when its changed bases (shared leading/trailing bases trimmed) overlap the
  window, or an insertion falls strictly inside it.
* Alternative window: the allele is applied to the genome and the PAS stays anchored. A change
  5' of the anchor (upstream on the PAS strand) shifts the upstream part, a change 3' of it shifts the
  downstream part (the bases a deletion removes are replaced by the next genomic bases on the far
  side; inserted bases push bases out at the far end). A length-changing allele that covers the anchor
  base itself keeps the window's 5' end in place. SNVs/MNVs never move anything.

PAS candidates
--------------
* ``--pas FILE`` (:func:`load_pas_sites`): the sites of the file whose window contains the variant.
* Otherwise: every ``AATAAA`` / ``ATTAAA`` occurrence on the strand of the genes overlapping the
  variant (both strands when no gene overlaps it) whose window contains the variant, found in the
  reference (PAS kept, changed or destroyed by the ALT) or created by the ALT (a hexamer of the
  alternative sequence that overlaps the changed bases and is not a reference hexamer). For a created
  hexamer the alternative window is cut around it in the alternative sequence and the reference
  window at the same place in the reference (for a hexamer inside inserted bases: at the insertion
  point); ``PAS_POS`` is then that reference position.
* The reported candidate (one per ALT) is the one with the largest ``|delta_logodds|`` (bins 0:205;
  NaN counts as smallest; ties: the first by position, then strand ``+`` before ``-``). The TSV has one
  row per ALT for the same candidate, and the number of candidates.

Scores (official notebook, float32): ``DLO = delta_logodds`` (cleavage anywhere in bins 0:205) and
``DLO_NARROW = delta_logodds_narrow`` (bins 77:127). ``INFO/APARENT2=ALLELE|PAS_POS|STRAND|DLO|DLO_NARROW``
(4 decimals). Skip reasons: the ``classify_alt`` ones, ``ref_mismatch``, ``contig_not_in_fasta``,
``contig_end`` (a window could run past the contig end; ``--pad-ends`` scores with N),
``ref_too_long`` (REF longer than 205 nt), ``non_acgt`` (REF not A/C/G/T) and ``no_pas``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from splicescore.core.encoding import reverse_complement
from splicescore.io.genome import Reference
from splicescore.models.aparent2.pas_sites import HEXAMER, PasSites
from splicescore.models.aparent2.official import delta_logodds, encode_aparent2
from splicescore.core.scorer import RecordContext, RecordPlan, RecordResult, SiteWindowScorer, Variant
from splicescore.core.alleles import apply_allele, changes_span, check_strand, trim_allele

WINDOW = 205
UPSTREAM = 70  # window index of the anchor (first hexamer base)
DOWNSTREAM = WINDOW - 1 - UPSTREAM  # 134
MOTIFS = ("AATAAA", "ATTAAA")

INFO_KEY = "APARENT2"
INFO_DESCRIPTION = (
    "APARENT2 (johli/aparent-resnet, computed by splicescore {version}) change in polyadenylation at the PAS "
    "whose 205-nt window contains the variant (the candidate with the largest |DLO|). Format: "
    "ALLELE|PAS_POS|STRAND|DLO|DLO_NARROW; PAS_POS = leftmost genomic base of the hexamer; DLO = delta "
    "log-odds of cleavage in bins 0:205, DLO_NARROW = bins 77:127 (official variant notebook)"
)
TSV_COLUMNS = ("PAS_POS", "DLO", "DLO_NARROW", "PAS_SOURCE", "CANDIDATES")

_CLEAN = re.compile(r"[^ACGTN]")


# ----------------------------------------------------------------------------------------------
# geometry
# ----------------------------------------------------------------------------------------------
def pas_anchor(pas_pos1: int, strand: str) -> int:
    """The hexamer's 5' base on its strand (window index 70)."""
    check_strand(strand)
    return pas_pos1 if strand == "+" else pas_pos1 + HEXAMER - 1


def anchor_to_pas_pos(anchor1: int, strand: str) -> int:
    check_strand(strand)
    return anchor1 if strand == "+" else anchor1 - (HEXAMER - 1)


def window_span(anchor1: int, strand: str) -> tuple[int, int]:
    """1-based inclusive genomic span of the 205-nt window of the PAS anchored at ``anchor1``."""
    check_strand(strand)
    if strand == "+":
        return anchor1 - UPSTREAM, anchor1 + DOWNSTREAM
    return anchor1 - DOWNSTREAM, anchor1 + UPSTREAM


def clean_window(window: str) -> str:
    """Upper-case; every character other than A/C/G/T/N becomes N."""
    return _CLEAN.sub("N", window.upper())


def cut_window(seq: str, seq_start1: int, anchor1: int, strand: str) -> str:
    """The 205-nt window (PAS-strand orientation, cleaned) around ``anchor1`` of the + strand ``seq``
    whose first character is at 1-based ``seq_start1``."""
    first, last = window_span(anchor1, strand)
    lo, hi = first - seq_start1, last - seq_start1 + 1
    if lo < 0 or hi > len(seq):
        raise ValueError("the sequence does not cover the PAS window")
    w = seq[lo:hi]
    return clean_window(w if strand == "+" else reverse_complement(w))


def alt_anchor(anchor1: int, strand: str, start1: int, ref_core: str, alt_core: str) -> int:
    """Position of a reference anchor in the alternative sequence (coordinates of the same origin).

    The anchor moves by ``len(alt_core) - len(ref_core)`` when the change lies genomically left of it
    (insertion: at or before it); a length-changing allele that covers the anchor keeps the window's
    5' end in place (+: the anchor stays; -: it moves with the bases right of the change).
    """
    check_strand(strand)
    delta = len(alt_core) - len(ref_core)
    if not ref_core:
        moved = start1 <= anchor1
    else:
        end1 = start1 + len(ref_core) - 1
        if end1 < anchor1:
            moved = True
        elif start1 > anchor1:
            moved = False
        else:
            moved = strand == "-"
    return anchor1 + delta if moved else anchor1


def ref_anchor_of_created(alt_anchor1: int, start1: int, ref_core: str, alt_core: str) -> int:
    """Reference position of a hexamer anchor found in the alternative sequence (see module docstring)."""
    delta = len(alt_core) - len(ref_core)
    if alt_anchor1 < start1:
        return alt_anchor1
    if alt_anchor1 >= start1 + len(alt_core):
        return alt_anchor1 - delta
    return start1 + min(alt_anchor1 - start1, max(len(ref_core) - 1, 0))


def find_motifs(seq: str, seq_start1: int, strand: str, motifs: Iterable[str] = MOTIFS) -> list[int]:
    """Leftmost 1-based positions of every (overlapping) motif occurrence on ``strand`` of ``seq``
    (case-insensitive), sorted."""
    check_strand(strand)
    s = seq.upper()
    out = set()
    for m in motifs:
        target = m if strand == "+" else reverse_complement(m)
        i = s.find(target)
        while i >= 0:
            out.add(seq_start1 + i)
            i = s.find(target, i + 1)
    return sorted(out)


@dataclass(frozen=True)
class Candidate:
    """One PAS whose window contains the variant."""

    strand: str
    ref_anchor1: int
    alt_anchor1: int
    source: str  # "ref" (found in the reference), "alt" (created by the ALT), "file" (--pas)

    @property
    def pas_pos1(self) -> int:
        return anchor_to_pas_pos(self.ref_anchor1, self.strand)


def candidates_from_sequence(
    seq: str, seq_start1: int, pos1: int, ref: str, alt: str, strands: Iterable[str], motifs=MOTIFS
) -> list[Candidate]:
    """PAS candidates (no ``--pas``): motif occurrences in the reference or created by the ALT on
    ``strands`` whose window contains the variant. ``seq`` must cover every such window."""
    alt_seq, start1, r, a = apply_allele(seq, seq_start1, pos1, ref, alt)
    found: dict[tuple[str, int], Candidate] = {}
    for strand in strands:
        ref_hits = [pas_anchor(p, strand) for p in find_motifs(seq, seq_start1, strand, motifs)]
        images = set()
        for anchor in ref_hits:
            moved = alt_anchor(anchor, strand, start1, r, a)
            images.add(moved)
            if changes_span(*window_span(anchor, strand), pos1, ref, alt):
                found[(strand, anchor)] = Candidate(strand, anchor, moved, "ref")
        # hexamers of the alternative sequence that overlap the changed bases (or the junction of a deletion)
        lo, hi = (start1, start1 + len(a) - 1) if a else (start1 - 1, start1)
        for p in find_motifs(alt_seq, seq_start1, strand, motifs):
            if p > hi or p + HEXAMER - 1 < lo:
                continue
            anchor = pas_anchor(p, strand)
            if anchor in images:
                continue
            ref_anchor = ref_anchor_of_created(anchor, start1, r, a)
            found.setdefault((strand, ref_anchor), Candidate(strand, ref_anchor, anchor, "alt"))
    return sorted(found.values(), key=lambda c: (c.pas_pos1, c.strand))


def candidates_from_sites(sites: Iterable[tuple[int, str]], pos1: int, ref: str, alt: str) -> list[Candidate]:
    """PAS candidates from annotated sites ``(pas_pos1, strand)`` whose window contains the variant."""
    start1, r, a = trim_allele(pos1, ref, alt)
    out = {}
    for pas_pos1, strand in sites:
        anchor = pas_anchor(pas_pos1, strand)
        if changes_span(*window_span(anchor, strand), pos1, ref, alt):
            out[(strand, anchor)] = Candidate(strand, anchor, alt_anchor(anchor, strand, start1, r, a), "file")
    return sorted(out.values(), key=lambda c: (c.pas_pos1, c.strand))


def candidate_windows(seq: str, seq_start1: int, cand: Candidate, pos1: int, ref: str, alt: str) -> tuple[str, str]:
    """(ref window, alt window) of a candidate, both 205 nt in PAS-strand orientation."""
    alt_seq = apply_allele(seq, seq_start1, pos1, ref, alt)[0]
    return (
        cut_window(seq, seq_start1, cand.ref_anchor1, cand.strand),
        cut_window(alt_seq, seq_start1, cand.alt_anchor1, cand.strand),
    )


# ----------------------------------------------------------------------------------------------
# scorer
# ----------------------------------------------------------------------------------------------
def encode_window(window: str) -> np.ndarray:
    """``(205, 4)`` float32 input for :func:`splicescore.nn.predict.predict` (N = 0.25)."""
    return np.ascontiguousarray(encode_aparent2([window])[0].T)


@dataclass
class AltCandidates:
    """One ALT's PAS candidates and their (REF, ALT) inputs."""

    alt: str
    cands: list[Candidate]
    inputs: list[tuple[int, int]]  # (ref input, alt input) per candidate


class Aparent2Scorer(SiteWindowScorer):
    """Plans and finishes APARENT2 scores for VCF records (see module docstring)."""

    name = "aparent2"
    window = WINDOW  # 205 nt per PAS
    info_key = INFO_KEY
    tsv_columns = TSV_COLUMNS

    def __init__(self, reference: Reference, genes=None, pas_sites: PasSites | None = None,
                 pad_ends: bool = False, version: str = ""):
        self.reference = reference
        self.genes = genes  # used for the strand when there is no --pas file
        self.pas_sites = pas_sites
        self.pad_ends = pad_ends
        self.info_description = INFO_DESCRIPTION.format(version=version)

    def _strands(self, chrom: str, pos1: int) -> tuple[list[str], dict[str, str]]:
        txs = self.genes.at(chrom, pos1) if self.genes is not None else []
        names: dict[str, str] = {}
        for t in txs:
            names.setdefault(t.strand, t.gene)
        strands = [s for s in ("+", "-") if s in names] or ["+", "-"]
        return strands, names

    # ------------------------------------------------------------------ the model's parts
    def sites_between(self, chrom: str, lo1: int, hi1: int) -> list | None:
        return None if self.pas_sites is None else self.pas_sites.between(chrom, lo1, hi1)

    def span_margin(self, ref_len: int) -> int:
        return 2 * WINDOW + ref_len

    def add_windows(self, record: RecordContext, plan: RecordPlan, shared: bool) -> None:
        variant, seq, lo1 = record.variant, record.seq, record.lo1
        pos1, ref = variant.pos1, variant.ref
        strands, names = self._strands(variant.chrom, pos1)
        ref_inputs: dict[tuple[str, int], int] = {}
        for alt in record.alts:
            if self.pas_sites is not None:
                near = self.pas_sites.between(variant.chrom, pos1 - WINDOW, pos1 + len(ref) + WINDOW)
                cands = candidates_from_sites(near, pos1, ref, alt)
            else:
                cands = candidates_from_sequence(seq, lo1, pos1, ref, alt, strands)
            if not cands:
                plan.skips.append((alt, "no_pas"))
                continue
            unit = AltCandidates(alt, cands, [])
            for c in cands:
                w_ref, w_alt = candidate_windows(seq, lo1, c, pos1, ref, alt)
                key = (c.strand, c.ref_anchor1)
                if key not in ref_inputs:
                    ref_inputs[key] = len(plan.inputs)
                    plan.inputs.append(encode_window(w_ref))
                plan.inputs.append(encode_window(w_alt))
                unit.inputs.append((ref_inputs[key], len(plan.inputs) - 1))
            plan.state.append((unit, names))

    def finish(self, variant: Variant, plan: RecordPlan, outputs: list[np.ndarray]) -> RecordResult:
        """``outputs[i]`` is the cleavage distribution ``(206,)`` of ``plan.inputs[i]``."""
        result = RecordResult(skips=list(plan.skips))
        entries = []
        for unit, names in plan.state:
            ref_cut = np.stack([outputs[i] for i, _ in unit.inputs]).astype(np.float32)
            alt_cut = np.stack([outputs[j] for _, j in unit.inputs]).astype(np.float32)
            scores = delta_logodds(ref_cut, alt_cut)
            full = scores["delta_logodds"]
            key = np.where(np.isnan(full), -np.inf, np.abs(full))
            best = int(np.argmax(key))  # first of the largest
            c = unit.cands[best]
            dlo, narrow = float(full[best]), float(scores["delta_logodds_narrow"][best])
            entries.append(f"{unit.alt}|{c.pas_pos1}|{c.strand}|{_fmt(dlo)}|{_fmt(narrow)}")
            result.rows.append({
                "alt": unit.alt, "gene": names.get(c.strand, "."), "strand": c.strand, "PAS_POS": c.pas_pos1,
                "DLO": dlo, "DLO_NARROW": narrow, "PAS_SOURCE": c.source, "CANDIDATES": len(unit.cands),
            })
        result.skips = list(dict.fromkeys(result.skips))
        result.info = ",".join(entries) if entries else None
        return result


def _fmt(v: float) -> str:
    return f"{v:.4f}" if np.isfinite(v) else "."
