"""Sequence encoding shared by the models.

SpliceAI (``spliceai.utils.one_hot_encode``, 1.3.1) maps A, C, G, T to unit vectors in that order and
N to all zeros; the input is upper-cased first, so soft-masked (lowercase) sequence is scored like
uppercase. Characters other than ACGTN fall through its modulo-5 lookup to an arbitrary base; here
every non-ACGT character (IUPAC ambiguity codes included) is encoded like N, a deliberate difference
that only affects references containing ambiguity codes.
"""

from __future__ import annotations

import numpy as np

_COMPLEMENT = str.maketrans("ACGTNacgtnRYKMSWBDHVrykmswbdhv", "TGCANtgcanYRMKSWVHDByrmkswvhdb")

#: the one one-hot table: byte code -> index of the base in A, C, G, T order (either case), -1 otherwise
_ACGT_INDEX = np.full(256, -1, dtype=np.int16)
for _i, _base in enumerate("ACGT"):
    _ACGT_INDEX[ord(_base)] = _i
    _ACGT_INDEX[ord(_base.lower())] = _i


def reverse_complement(seq: str) -> str:
    """Reverse complement; case and IUPAC codes are kept (N stays N)."""
    return seq.translate(_COMPLEMENT)[::-1]


def _codes(seq: str) -> np.ndarray:
    """``(L,)`` uint8 byte code per character (characters outside Latin-1 read as ``?``)."""
    return np.frombuffer(seq.encode("latin-1", errors="replace"), dtype=np.uint8)


def base_index(seq: str, upper_only: bool = False) -> np.ndarray:
    """``(L,)`` int16 index of each base in A,C,G,T order, ``-1`` for anything else.

    ``upper_only``: lower-case a, c, g, t are ``-1`` too (APARENT2's case-sensitive encoder).
    """
    codes = _codes(seq)
    idx = _ACGT_INDEX[codes]
    if upper_only:
        idx = np.where(codes >= ord("a"), np.int16(-1), idx)
    return idx


def one_hot(seq: str, dtype=np.float32, upper_only: bool = False, n_value: float = 0.0) -> np.ndarray:
    """One-hot ``(L, 4)`` in A, C, G, T order; N and any other character -> all zeros.

    ``upper_only``: only upper-case bases are encoded (see :func:`base_index`). ``n_value``: the
    value of all four channels at an upper-case ``N`` (APARENT2: 0.25; every other model: 0).
    """
    idx = base_index(seq, upper_only)
    out = np.zeros((len(seq), 4), dtype=dtype)
    known = idx >= 0
    out[np.nonzero(known)[0], idx[known]] = 1
    if n_value:
        out[_codes(seq) == ord("N")] = n_value
    return out


def unknown_characters(seq: str, limit: int = 20) -> list[str]:
    """Sorted characters other than A, C, G, T, N (either case) among the first ``limit`` such
    positions of ``seq`` (empty when there are none)."""
    codes = _codes(seq)
    bad = np.flatnonzero((_ACGT_INDEX[codes] < 0) & (codes != ord("N")) & (codes != ord("n")))
    return sorted({seq[i] for i in bad[:limit]})


def one_hot_oriented(window: str, strand: str) -> np.ndarray:
    """One-hot ``(L, 4)`` float32 in model orientation: the minus strand is the reverse complement
    (reversed positions, A<->T and C<->G channels), as SpliceAI, Pangolin and SpTransformer feed a
    minus-strand gene to their networks."""
    x = one_hot(window)
    return np.ascontiguousarray(x[::-1, ::-1]) if strand == "-" else x
