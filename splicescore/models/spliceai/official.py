"""SpliceAI 1.3.1's published scoring facts: window, masking, indel alignment, delta scores.

Published behaviour of ``spliceai.utils.get_delta_scores`` (SpliceAI 1.3.1, ``spliceai/utils.py``;
PolyForm Strict: read as facts, no code taken) that these functions reproduce:

* ``cov = 2*D + 1`` scored positions, ``wid = 10000 + cov`` input nt centred on POS: genomic
  ``[POS - wid//2, POS + wid//2]`` (1-based, inclusive; :func:`input_span0`).
* Positions of the window outside the gene's transcript (``TX_START..TX_END``) become ``N``; the
  ALT window is the masked REF window with REF replaced by ALT at the centre
  (:func:`masked_windows`). Minus-strand genes are reverse-complemented before the network and the
  outputs reversed back.
* The 5 replicas' softmax outputs are averaged. Deletions: ``len(REF)-1`` zero rows are inserted
  into the ALT output after position ``cov//2 + len(ALT)``. Insertions: the ALT rows
  ``cov//2 .. cov//2+len(ALT)-1`` are replaced by their maximum (:func:`align_alt`).
* With channel 1 = acceptor, 2 = donor: DS_AG = max(alt - ref) acceptor, DS_AL = max(ref - alt)
  acceptor, DS_DG/DS_DL likewise for donors, each at its first arg-max; DP = that index - ``cov//2``
  (:func:`delta_scores`).
* Masking (``-M 1``): a gain at the annotated exon boundary nearest to POS, and a loss anywhere else,
  is multiplied by 0 (so ``-0.00`` can print). Scores print with ``{:.2f}`` (:meth:`DeltaScores.format`).

The record rules (genes, skips, the ``.`` entries of complex alleles) are in
:mod:`splicescore.models.spliceai.scorer`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splicescore.io.annotation import Transcript

#: input nt a SpliceAI output sees beyond itself (5,000 on each side)
CONTEXT = 10_000


def input_span0(pos1: int, distance: int) -> tuple[int, int]:
    """0-based half-open ``[start0, end0)`` of the ``10000 + 2D + 1`` nt input window centred on POS."""
    wid = CONTEXT + 2 * distance + 1
    return pos1 - wid // 2 - 1, pos1 + wid // 2


def masked_windows(seq: str, ref: str, alt: str, pos1: int, tx: Transcript, distance: int) -> tuple[str, str]:
    """REF and ALT input windows (genomic orientation) with positions outside the transcript as N.

    Parameters
    ----------
    seq : str
        The ``wid`` nt reference window from :func:`input_span0`.
    """
    wid = len(seq)
    half = wid // 2
    pad_left = max(half + (tx.tx_start1 - pos1), 0)
    pad_right = max(half - (tx.tx_end1 - pos1), 0)
    x_ref = "N" * pad_left + seq[pad_left : wid - pad_right] + "N" * pad_right
    x_alt = x_ref[:half] + alt + x_ref[half + len(ref) :]
    return x_ref, x_alt



def align_alt(y_alt: np.ndarray, ref_len: int, alt_len: int, cov: int) -> np.ndarray:
    """Bring ALT outputs ``(cov - ref_len + alt_len, 3)`` onto the ``cov`` REF positions."""
    if ref_len > 1 and alt_len == 1:
        del_len = ref_len - alt_len
        cut = cov // 2 + alt_len
        return np.concatenate([y_alt[:cut], np.zeros((del_len, y_alt.shape[1]), y_alt.dtype), y_alt[cut:]])
    if ref_len == 1 and alt_len > 1:
        mid = cov // 2
        return np.concatenate([y_alt[:mid], y_alt[mid : mid + alt_len].max(axis=0, keepdims=True), y_alt[mid + alt_len :]])
    return y_alt


@dataclass(frozen=True)
class DeltaScores:
    """Unrounded delta scores (float32, as SpliceAI holds them) and positions relative to POS."""

    ds: tuple[np.float32, np.float32, np.float32, np.float32]  # AG, AL, DG, DL
    dp: tuple[int, int, int, int]

    def format(self, alt: str, gene: str) -> str:
        ds = "|".join(f"{v:.2f}" for v in self.ds)
        dp = "|".join(str(v) for v in self.dp)
        return f"{alt}|{gene}|{ds}|{dp}"


def delta_scores(y_ref: np.ndarray, y_alt: np.ndarray, cov: int, boundary_offset: int, mask: bool) -> DeltaScores:
    """DS/DP from aligned outputs ``(cov, 3)`` in genomic orientation.

    ``boundary_offset`` is the signed distance from POS to the nearest annotated exon boundary.
    """
    gain_a = y_alt[:, 1] - y_ref[:, 1]
    loss_a = y_ref[:, 1] - y_alt[:, 1]
    gain_d = y_alt[:, 2] - y_ref[:, 2]
    loss_d = y_ref[:, 2] - y_alt[:, 2]
    idx = [int(np.argmax(v)) for v in (gain_a, loss_a, gain_d, loss_d)]
    rel = [i - cov // 2 for i in idx]
    at_site = [r == boundary_offset for r in rel]
    # gains are masked at the annotated site, losses everywhere else
    masked = [mask and at_site[0], mask and not at_site[1], mask and at_site[2], mask and not at_site[3]]
    ds = tuple(v[i] * np.float32(1 - int(m)) for v, i, m in zip((gain_a, loss_a, gain_d, loss_d), idx, masked))
    return DeltaScores(ds, tuple(rel))
