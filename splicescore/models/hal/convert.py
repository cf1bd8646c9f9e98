"""Official HAL ``HAL_mer_scores.npz`` -> :class:`~splicescore.models.hal.network.HALNet` state dict.

The file (kipoi/models ``HAL/model_files/HAL_mer_scores.npz``, md5 ``4db740f6...`` as pinned in
kipoi ``HAL/model.yaml``) holds one array, key ``weights``, float64 ``(4096, 8)``: row = hexamer,
column = position region (see :data:`splicescore.models.hal.network.REGION_STARTS`).

Row order. The official ``HALModel.make_mer_list`` enumerates hexamers over the bases
``['A', 'T', 'C', 'G']`` with the first base most significant, i.e. the row of ``s`` is
``sum_i code(s[i]) * 4**(5 - i)`` with A=0, T=1, C=2, G=3 (AAAAAA=0, AAAAAT=1, TAAAAA=1024,
GTAAGT=3341, GGGGGG=4095). :class:`HALNet` reads an A, C, G, T one-hot, so the converter
re-orders the rows to the A, C, G, T enumeration (A=0, C=1, G=2, T=3, first base most
significant): ``table[row(s, "ACGT")] = weights[row(s, "ATCG")]`` for every hexamer ``s``. The
values are copied exactly (float64, no arithmetic).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from splicescore.models.hal.network import MER, N_REGIONS

OFFICIAL_BASES = "ATCG"
PORT_BASES = "ACGT"


def hexamer_row(kmer: str, bases: str) -> int:
    """Row of ``kmer`` in a table enumerated over ``bases`` (first base most significant)."""
    row = 0
    for ch in kmer.upper():
        row = row * len(bases) + bases.index(ch)
    return row


def row_permutation(mer: int = MER, src_bases: str = OFFICIAL_BASES, dst_bases: str = PORT_BASES) -> np.ndarray:
    """Index array ``perm`` with ``table_dst = table_src[perm]``.

    ``perm[r]`` is the ``src_bases`` row of the k-mer whose ``dst_bases`` row is ``r``: each base-4
    digit of ``r`` (most significant first) is a base of ``dst_bases``, mapped to its code in
    ``src_bases``.
    """
    if sorted(src_bases) != sorted(dst_bases) or len(set(src_bases)) != 4:
        raise ValueError("src_bases and dst_bases must be permutations of the same 4 bases")
    digit_map = np.array([src_bases.index(b) for b in dst_bases], dtype=np.int64)  # dst code -> src code
    rows = np.arange(4**mer, dtype=np.int64)
    perm = np.zeros_like(rows)
    for i in range(mer):
        place = 4 ** (mer - 1 - i)
        perm += digit_map[(rows // place) % 4] * place
    return perm


def convert_hal_weights(weights: np.ndarray) -> dict[str, torch.Tensor]:
    """State dict ``{"table": float64 (4096, 8)}`` from the official ATCG-ordered array."""
    w = np.asarray(weights)
    if w.shape != (4**MER, N_REGIONS):
        raise ValueError(f"HAL weights have shape {w.shape}, expected {(4**MER, N_REGIONS)}")
    if not np.issubdtype(w.dtype, np.floating):
        raise ValueError(f"HAL weights have dtype {w.dtype}, expected floating point")
    if not np.isfinite(w).all():
        raise ValueError("HAL weights contain non-finite values")
    table = np.ascontiguousarray(w.astype(np.float64, copy=False)[row_permutation()])
    return {"table": torch.from_numpy(table)}


def convert_hal_npz(path: str | Path) -> dict[str, torch.Tensor]:
    """State dict for :class:`~splicescore.models.hal.network.HALNet` from ``HAL_mer_scores.npz``."""
    with np.load(path, allow_pickle=False) as data:
        if "weights" not in data.files:
            raise ValueError(f"{path}: no 'weights' array (found {data.files})")
        weights = data["weights"]
    return convert_hal_weights(weights)
