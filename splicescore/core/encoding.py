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

_ACGT_INDEX = np.full(256, -1, dtype=np.int16)
for _i, _base in enumerate("ACGT"):
    _ACGT_INDEX[ord(_base)] = _i
    _ACGT_INDEX[ord(_base.lower())] = _i


def reverse_complement(seq: str) -> str:
    """Reverse complement; case and IUPAC codes are kept (N stays N)."""
    return seq.translate(_COMPLEMENT)[::-1]


def base_index(seq: str) -> np.ndarray:
    """``(L,)`` int16 index of each base in A,C,G,T order, ``-1`` for anything else."""
    return _ACGT_INDEX[np.frombuffer(seq.encode("latin-1"), dtype=np.uint8)]


def one_hot(seq: str, dtype=np.float32) -> np.ndarray:
    """One-hot ``(L, 4)`` in A, C, G, T order; N and any other character -> all zeros."""
    idx = base_index(seq)
    out = np.zeros((len(seq), 4), dtype=dtype)
    known = idx >= 0
    out[np.nonzero(known)[0], idx[known]] = 1
    return out


def one_hot_oriented(window: str, strand: str) -> np.ndarray:
    """One-hot ``(L, 4)`` float32 in model orientation: the minus strand is the reverse complement
    (reversed positions, A<->T and C<->G channels), as SpliceAI, Pangolin and SpTransformer feed a
    minus-strand gene to their networks."""
    x = one_hot(window)
    return np.ascontiguousarray(x[::-1, ::-1]) if strand == "-" else x


def is_acgt(seq: str) -> bool:
    """True when every character is one of ACGT (either case)."""
    return bool(len(seq)) and bool((base_index(seq) >= 0).all())
