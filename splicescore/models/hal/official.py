"""HAL variant scoring: donor windows, allele application, one-hot encoding, ΔPSI (pure functions).

Facts used (sources: kipoi/models ``HAL/dataloader.py`` and ``HAL/model.py``, ``HAL/model.yaml``;
Alex-Rosenberg/cell-2015 notebooks N10/N11; scottiadamson/Vex-seq ``preprocess_data/make_class_refs.py``;
all read for facts only, as summarised in ``golden/hal/README.md``):

* **Donor coordinate.** ``donor_pos1`` is the 1-based genomic (+ strand) position of the last exon
  base of the donor exon. On the + strand that is the exon's ``end``; on the - strand it is the
  exon's ``start`` (its lowest coordinate, which is the last base in transcript order). kipoi's
  dataloader takes genomic ``[end - 79, end + 80]`` on + and ``[start - 80, start + 79]`` on -,
  reverse-complemented; in both cases window index 79 is the last exon base and index 80 the first
  intron base (the G of GT). Windows are upper-cased (the official ``predict_seq`` upper-cases).
* **Variant effect.** ``delta = score_alt - score_ref`` (kipoi ``diff``), in logit units.
* **ΔPSI** (cell-2015 N10/N11): ``psi_alt = expit(logit(psi_ref) + delta)``,
  ``dpsi = psi_alt - psi_ref`` (multiplicative factor 1).
* **Indels keep the donor fixed.** The donor is the same genomic base in the reference and the
  alternative sequence; the alternative window is the 80 nt upstream of it (in transcript
  orientation, the donor included) and the 80 nt downstream of it in the *alternative* sequence.
  So a change upstream of the donor (exonic side) shifts the exonic part of the window and leaves
  the intronic part unchanged, and a change downstream (intronic side) shifts the intronic part and
  leaves the exonic part unchanged; deleted bases are replaced by the next bases of the genome on
  the far side, inserted bases push bases out of the window's far end. This is the Vex-seq rule of
  the golden data (``make_class_refs.py``: the donor index of the alt construct moves by
  ``len(alt) - len(ref)`` when the variant lies upstream of the donor). See
  :func:`alt_donor_window` for the exact bookkeeping.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from splicescore.core.alleles import apply_allele, changes_span, check_strand
from splicescore.core.encoding import one_hot, reverse_complement
from splicescore.models.hal.network import DONOR_INDEX, WINDOW


# ----------------------------------------------------------------------------------------------
# encoding
# ----------------------------------------------------------------------------------------------
def encode_windows(seqs: Sequence[str], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One-hot ``(B, 4, L)`` in A, C, G, T channel order; any other character is an all-zero column.

    Case-insensitive (as the official ``predict_seq``, which upper-cases). All sequences must have
    the same length. Windows with an all-zero column inside a scored hexamer are reported invalid by
    :func:`splicescore.models.hal.network.valid_windows` and scored ``NaN`` by ``HALNet``.
    """
    seqs = list(seqs)
    if not seqs:
        return torch.zeros(0, 4, WINDOW, dtype=dtype)
    length = len(seqs[0])
    if any(len(s) != length for s in seqs):
        raise ValueError("all windows must have the same length")
    onehot = np.stack([one_hot(s) for s in seqs])
    return torch.from_numpy(onehot).permute(0, 2, 1).contiguous().to(dtype)


# ----------------------------------------------------------------------------------------------
# ΔPSI
# ----------------------------------------------------------------------------------------------
def delta_psi(psi_ref, delta):
    """Predicted ΔPSI ``expit(logit(psi_ref) + delta) - psi_ref`` (Rosenberg et al. 2015).

    Parameters
    ----------
    psi_ref : float or array
        Reference (wild-type) PSI in ``[0, 1]``.
    delta : float or array
        HAL ``score_alt - score_ref`` (logit units); broadcast against ``psi_ref``.

    Returns
    -------
    numpy float64 array (0-d for scalar inputs).

    Notes
    -----
    Computed as ``1 / (1 + exp(-(log(p) - log(1 - p) + delta))) - p``: ``expit`` written as the
    official ``HALModel.expit`` and ``logit(p) = log(p) - log(1 - p)``. With numpy's float64
    ``exp``/``log`` this is bit-identical to the golden ``delta_psi_pred``. That matters for one
    thing only: where ``delta = 0`` the result is rounding noise of ``expit(logit(p)) - p``
    (up to about 1e-16, not 0), and a Spearman correlation ranks those noise values, so the
    README's ΔPSI Spearman figures depend on them (see ``tests/test_hal.py``).

    Edge cases: ``psi_ref = 0`` gives ``logit = -inf`` and ``psi_alt = 0``, so ΔPSI = 0;
    ``psi_ref = 1`` likewise gives ΔPSI = 0 (a PSI of 0 or 1 cannot move under a finite logit
    shift). ``expit`` of a very negative argument underflows to 0 (no warning is raised). NaN
    inputs give NaN. Values outside ``[0, 1]`` raise ``ValueError``.
    """
    p = np.asarray(psi_ref, dtype=np.float64)
    d = np.asarray(delta, dtype=np.float64)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("psi_ref must lie in [0, 1]")
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        logit = np.log(p) - np.log(1.0 - p)  # -inf at 0, +inf at 1
        psi_alt = 1.0 / (1.0 + np.exp(-(logit + d)))
    return psi_alt - p


# ----------------------------------------------------------------------------------------------
# windows
# ----------------------------------------------------------------------------------------------
def donor_window_span(donor_pos1: int, strand: str) -> tuple[int, int]:
    """1-based inclusive genomic span ``(first, last)`` of the 160-nt window of a donor.

    ``+``: ``[donor_pos1 - 79, donor_pos1 + 80]``; ``-``: ``[donor_pos1 - 80, donor_pos1 + 79]``
    (kipoi ``HAL/dataloader.py``).
    """
    check_strand(strand)
    if strand == "+":
        return donor_pos1 - DONOR_INDEX, donor_pos1 + (WINDOW - 1 - DONOR_INDEX)
    return donor_pos1 - (WINDOW - 1 - DONOR_INDEX), donor_pos1 + DONOR_INDEX


def _window_at(seq: str, donor_idx: int, strand: str) -> str:
    """Window around the donor at 0-based index ``donor_idx`` of the + strand string ``seq``."""
    if strand == "+":
        lo, hi = donor_idx - DONOR_INDEX, donor_idx + (WINDOW - DONOR_INDEX)
    else:
        lo, hi = donor_idx - (WINDOW - 1 - DONOR_INDEX), donor_idx + DONOR_INDEX + 1
    if lo < 0 or hi > len(seq):
        raise ValueError("the sequence does not cover the donor window")
    window = seq[lo:hi]
    return (window if strand == "+" else reverse_complement(window)).upper()


def donor_window(seq: str, seq_start1: int, donor_pos1: int, strand: str) -> str:
    """The 160-nt reference window of a donor, in transcript orientation, upper-cased.

    Parameters
    ----------
    seq : str
        + strand genomic sequence whose first character is at 1-based position ``seq_start1``;
        it must cover :func:`donor_window_span`.
    donor_pos1 : int
        1-based position of the last exon base (+: exon end; -: exon start), see module docstring.
    strand : {"+", "-"}
        Transcript strand; ``-`` windows are reverse-complemented.

    Returns
    -------
    str of length 160, ``window[79]`` = last exon base, ``window[80]`` = first intron base.
    """
    check_strand(strand)
    return _window_at(seq, donor_pos1 - seq_start1, strand)


def variant_in_window(donor_pos1: int, strand: str, pos1: int, ref: str, alt: str) -> bool:
    """Whether the allele changes the donor's window (the window "contains the variant").

    True when the changed bases (:func:`trim_allele`) overlap :func:`donor_window_span`, or an
    insertion falls strictly between two window positions. Changes outside the window leave the
    alternative window identical to the reference one (indels there only move the donor).
    """
    return changes_span(*donor_window_span(donor_pos1, strand), pos1, ref, alt)


def context_span(donor_pos1: int, strand: str, pos1: int, ref: str, alt: str) -> tuple[int, int]:
    """1-based inclusive genomic span that :func:`alt_donor_window` needs for this allele.

    The window span widened by ``len(ref)`` on both sides (room for the reference allele and for
    the bases that a deletion pulls into the window).
    """
    first, last = donor_window_span(donor_pos1, strand)
    pad = max(len(ref), 1)
    return first - pad, last + pad


def alt_donor_window(
    seq: str, seq_start1: int, donor_pos1: int, strand: str, pos1: int, ref: str, alt: str
) -> str | None:
    """The 160-nt alternative window of a donor under a VCF allele, donor kept fixed.

    Parameters
    ----------
    seq, seq_start1, donor_pos1, strand
        As in :func:`donor_window`; ``seq`` must cover :func:`context_span` when the variant is in
        the window (otherwise only the window itself is read).
    pos1, ref, alt : int, str, str
        VCF position (1-based) and alleles; ``ref`` must match ``seq`` (case-insensitive).

    Returns
    -------
    str or None
        The window, or ``None`` when the donor base itself is deleted or replaced by an allele of
        different length (the donor is then undefined and HAL cannot score it).

    Notes
    -----
    The allele is applied to the + strand sequence. Its core (:func:`trim_allele`) spans
    ``[a, b]`` (empty for an insertion before ``a``); the donor base ``D = donor_pos1`` then
    sits at its reference index, moved by ``len(alt_core) - len(ref_core)`` when the whole
    change lies genomically left of it (``b < D``; for an insertion ``a <= D``), and the window is
    cut around it exactly as :func:`donor_window` does. On the + strand "genomically left" is the
    exonic side (upstream), on the - strand it is the intronic side (downstream in transcript
    orientation), so in transcript orientation:

    * exonic change (upstream of the donor): the exonic 80 nt are the 80 bases ending at the donor
      in the alternative sequence; a deletion of k bases brings in k more upstream genomic bases,
      an insertion of k bases drops the k most upstream ones; the intronic 80 nt are unchanged.
    * intronic change (downstream of the donor, from the first intron base on): the exonic 80 nt
      are unchanged; the intronic part is the first 80 bases after the donor in the alternative
      sequence.
    * an insertion between the last exon base and the first intron base is intronic.
    * same-length substitutions (SNVs, MNVs) never move anything, even over the donor.

    This reproduces the windows of the Vex-seq golden data. The Vex-seq script decides "upstream"
    from the VCF ``pos`` alone (``+``: ``pos < donor``; ``-``: ``pos > donor``), which differs only
    for a left-padded indel on the - strand whose padding base is the donor itself (its changed
    bases are exonic, so here they move the window's exonic side, as they should); no such variant
    is in the data.
    """
    check_strand(strand)
    if not variant_in_window(donor_pos1, strand, pos1, ref, alt):
        return donor_window(seq, seq_start1, donor_pos1, strand)
    alt_seq, start, r, a = apply_allele(seq, seq_start1, pos1, ref, alt)
    d = donor_pos1 - seq_start1
    if not r:
        moved = start <= donor_pos1
    else:
        end = start + len(r) - 1
        if start <= donor_pos1 <= end:
            if len(r) != len(a):
                return None
            moved = False
        else:
            moved = end < donor_pos1
    if moved:
        d += len(a) - len(r)
    return _window_at(alt_seq, d, strand)


# ----------------------------------------------------------------------------------------------
# VCF INFO
# ----------------------------------------------------------------------------------------------
def format_hal_info(allele: str, donor_pos1: int, strand: str, delta: float, dpsi: float | None = None) -> str:
    """One ``HAL`` INFO entry: ``ALLELE|DONOR_POS|STRAND|DELTA[|DPSI]`` (4 decimals; ``.`` for NaN)."""

    def fmt(v: float) -> str:
        return "." if v is None or not np.isfinite(v) else f"{v:.4f}"

    parts = [allele, str(donor_pos1), strand, fmt(delta)]
    if dpsi is not None:
        parts.append(fmt(dpsi))
    return "|".join(parts)
