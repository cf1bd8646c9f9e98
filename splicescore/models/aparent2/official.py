"""APARENT2 input encoding and variant scores, as the official variant notebook defines them.

Facts used: johli/aparent-resnet@a745736 ``examples/aparent2_score_variants.ipynb``.

* Encoding (notebook ``one_hot_encode``): a ``(len, 4)`` array of zeros; for each character,
  ``'A'`` -> ``[1, 0, 0, 0]``, ``'C'`` -> ``[0, 1, 0, 0]``, ``'G'`` -> ``[0, 0, 1, 0]``,
  ``'T'`` -> ``[0, 0, 0, 1]``, ``'N'`` -> ``[0.25] * 4``; **any other character (lower-case letters
  included) stays all zeros** -- the comparison is case-sensitive. Unlike SpliceAI, N is *not* all
  zeros. The sequence is 205 nt with the core PAS hexamer at 0-based positions 70..75.
* Library one-hot: index 11 of 13 (fixed inside :class:`~splicescore.models.aparent2.network.Aparent2Net`).
* Scores, computed with numpy on the float32 ``(B, 206)`` cleavage output:
  ``u = sum(cut[:, start:end], axis=1)`` and
  ``delta = log(u_alt / (1 - u_alt)) - log(u_ref / (1 - u_ref))``, with ``(start, end) = (77, 127)``
  for ``delta_logodds_narrow`` (cleavage just downstream of the hexamer) and ``(0, 205)`` for
  ``delta_logodds`` (cleavage anywhere in the window; bin 205 is "no cleavage"). No clipping and
  no pseudo-count; the arithmetic stays in float32 as in the notebook.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from splicescore.core.encoding import one_hot

SEQ_LEN = 205
NARROW = (77, 127)
FULL = (0, 205)


def encode_aparent2(seqs: Iterable[str], length: int = SEQ_LEN) -> np.ndarray:
    """One-hot ``(B, 4, length)`` float32 in A, C, G, T channel order (the notebook encoding).

    Parameters
    ----------
    seqs : iterable of str
        Sequences of exactly ``length`` characters (205 for APARENT2). Case-sensitive, like the
        official code: only upper-case A, C, G, T, N are encoded; every other character
        (including lower case) gives an all-zero column. Upper-case the input first if needed.
    length : int

    Returns
    -------
    np.ndarray
        ``(B, 4, length)`` float32; N columns are 0.25 in each channel.
    """
    seqs = list(seqs)
    out = np.zeros((len(seqs), 4, length), dtype=np.float32)
    for i, s in enumerate(seqs):
        if len(s) != length:
            raise ValueError(f"sequence {i} has length {len(s)}, expected {length}")
        out[i] = one_hot(s, upper_only=True, n_value=0.25).T
    return out


def isoform_usage(cut: np.ndarray, start: int, end: int) -> np.ndarray:
    """Cleavage probability summed over bins ``start:end``: ``(B, 206)`` -> ``(B,)`` float32."""
    cut = np.asarray(cut, dtype=np.float32)
    if cut.ndim != 2:
        raise ValueError(f"expected a (B, 206) cleavage array, got shape {cut.shape}")
    return np.sum(cut[:, start:end], axis=1)


def isoform_logodds(cut: np.ndarray, start: int, end: int) -> np.ndarray:
    """Isoform log-odds ``log(u / (1 - u))`` with ``u`` the usage of bins ``start:end`` (float32)."""
    u = isoform_usage(cut, start, end)
    one = np.float32(1.0)
    return np.log(u / (one - u))


def delta_logodds(cut_ref: np.ndarray, cut_alt: np.ndarray) -> dict[str, np.ndarray]:
    """The notebook's variant scores from ref and alt cleavage distributions ``(B, 206)``.

    Returns
    -------
    dict
        ``delta_logodds`` (bins 0:205) and ``delta_logodds_narrow`` (bins 77:127), float32 ``(B,)``,
        each ``log(u_alt / (1 - u_alt)) - log(u_ref / (1 - u_ref))``.
    """
    out = {}
    for key, (start, end) in (("delta_logodds", FULL), ("delta_logodds_narrow", NARROW)):
        out[key] = isoform_logodds(cut_alt, start, end) - isoform_logodds(cut_ref, start, end)
    return out
