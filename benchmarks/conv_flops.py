"""Trunk convolution FLOPs of full windows and of incremental ALT passes (2 FLOPs per multiply-add).

Counted from the trunk's shapes alone (:class:`splicescore.nn.trunk.DilatedResidualTrunk`) and, for an
incremental pass, from the positions :func:`splicescore.nn.incremental.alt_pass` recomputes. Used by
``flops.py`` and ``gpu_check.py`` (benchmarks) and by the tests that check the incremental passes do
less work than full windows.
"""

from __future__ import annotations

import numpy as np

from splicescore.nn.incremental import AltEdit, _offsets, _spans
from splicescore.nn.trunk import DilatedResidualTrunk


def conv_flops(trunk: DilatedResidualTrunk, lengths: list[int], with_skip: list[int] | int) -> int:
    """FLOPs of the trunk's convolutions when residual-unit convolution ``k`` (``2 * n_units`` of
    them, in order) produces ``lengths[k]`` positions and the 1x1 convolutions (``conv_in``,
    ``skip_in``, ``skip_convs``) ``with_skip`` positions each."""
    c = trunk.channels
    cin = trunk.conv_in.in_channels
    widths = [u.width for u in trunk.units for _ in (0, 1)]
    total = sum(2 * c * c * w * n for w, n in zip(widths, lengths))
    n1x1 = [with_skip] * (2 + len(trunk.skip_convs)) if isinstance(with_skip, int) else with_skip
    total += 2 * cin * c * n1x1[0] + sum(2 * c * c * n for n in n1x1[1:])
    return total


def window_flops(trunk: DilatedResidualTrunk, n_out: int, same: bool = False) -> int:
    """FLOPs of one full window with ``n_out`` outputs: valid convolutions, or (``same``) the
    literal "same"-padded architecture over all ``context + n_out`` input positions."""
    half = trunk.context // 2
    offs = _offsets(trunk)
    if same:
        n = trunk.context + n_out
        return conv_flops(trunk, [n] * (2 * len(trunk.units)), n)
    lengths = []
    for i, unit in enumerate(trunk.units):
        for o in (offs[i] + unit.shrink // 2, offs[i + 1]):
            lengths.append(n_out + 2 * (half - o))
    dense = [n_out + 2 * (half - offs[i + 1]) for i in trunk.group_ends]
    return conv_flops(trunk, lengths, [trunk.context + n_out] * 2 + dense)


def edit_flops(trunk: DilatedResidualTrunk, edit: AltEdit) -> int:
    """FLOPs of :func:`~splicescore.nn.incremental.alt_pass` for ``edit`` (what it recomputes; the
    REF pass not included)."""
    spans = _spans(trunk, edit)
    lengths = [hi - lo for lo, hi in spans[1:]]
    a = edit.alt.shape[0]
    return conv_flops(trunk, lengths, [a, a] + [edit.n_out] * len(trunk.skip_convs))


def snv_flops(trunk: DilatedResidualTrunk, distance: int, mode: str = "incremental") -> int:
    """FLOPs for the ALT outputs of one SNV at ``2D + 1`` positions.

    ``mode``: ``"same"`` (the literal "same"-padded architecture on a ``context + 2D + 1`` window, as
    the published Keras model runs), ``"valid"`` (the full ALT window with valid convolutions), or
    ``"incremental"`` (one incremental ALT pass; the shared REF track pass not included).
    """
    if mode == "incremental":
        pos = trunk.context // 2 + distance
        edit = AltEdit(pos, 1, np.zeros((1, trunk.conv_in.in_channels), np.float32), pos - distance, 2 * distance + 1)
        return edit_flops(trunk, edit)
    if mode not in ("same", "valid"):
        raise ValueError(f"unknown mode {mode!r}")
    return window_flops(trunk, 2 * distance + 1, same=mode == "same")
