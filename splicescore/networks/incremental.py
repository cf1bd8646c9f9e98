"""Exact incremental ALT pass for single-nucleotide variants through a :class:`DilatedResidualTrunk`.

Why it works (facts of the trunk, see :mod:`splicescore.networks.trunk`): every layer is a
convolution over positions (1x1 or dilated valid convolutions), an element-wise BatchNorm/ReLU, or
an element-wise sum. Substituting one input nucleotide at position ``p`` therefore changes a layer
whose valid output starts at input offset ``O`` only at positions ``p - O .. p + O`` (its forward
cone), and the trunk's outputs ``p - D .. p + D`` read a layer at offset ``O`` only at
``p - D - (CL/2 - O) .. p + D + (CL/2 - O)`` (their backward cone). Both cones are centred on ``p``,
so the positions to recompute at that layer are ``p - h .. p + h`` with
``h = min(O, D + CL/2 - O)``; every other position a convolution reads is the REF activation.

This module runs one REF pass over a *track* (the input of a stretch of consecutive outputs) that
keeps every layer's activations, then, per SNV, recomputes only those positions layer by layer.
The result equals a full ALT window's trunk output at the ``2D + 1`` positions around the SNV up to
float rounding (convolutions of different lengths sum in different orders; ~1e-7 here).

Coordinates: positions are indices into the track input (model orientation). A layer with valid
offset ``O`` holds positions ``O .. L - 1 - O``; its tensor index is ``position - O``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from splicescore.networks.trunk import DilatedResidualTrunk


@dataclass
class TrunkCache:
    """REF activations of one trunk over one track input of length ``L`` (batch of one).

    Attributes
    ----------
    unit_in : list of torch.Tensor
        ``unit_in[i]`` is the input of residual unit ``i`` (``unit_in[0]`` the lifted input,
        ``conv_in(x)``), shape ``(C, L - 2 * offsets[i])``; ``unit_in[n_units]`` is the last unit's
        output.
    mid : list of torch.Tensor
        ``mid[i]``: unit ``i``'s first convolution ``conv1(relu(bn1(unit_in[i])))``, shape
        ``(C, L - 2 * offsets[i] - shrink_i)`` (offset ``offsets[i] + shrink_i / 2``).
    skip0 : torch.Tensor
        ``skip_in(unit_in[0])`` at the trunk's output positions, ``(C, L - context)``.
    skip : torch.Tensor
        The trunk's output (the final skip sum), ``(C, L - context)``.
    offsets : list of int
        Valid offset of ``unit_in[i]`` (``offsets[n_units] = context / 2``).
    """

    unit_in: list = field(default_factory=list)
    mid: list = field(default_factory=list)
    skip0: torch.Tensor | None = None
    skip: torch.Tensor | None = None
    offsets: list = field(default_factory=list)

    @property
    def length(self) -> int:
        return self.unit_in[0].shape[-1]


def _offsets(trunk: DilatedResidualTrunk) -> list[int]:
    out = [0]
    for unit in trunk.units:
        out.append(out[-1] + unit.shrink)
    return out


@torch.inference_mode()
def ref_pass(trunk: DilatedResidualTrunk, x: torch.Tensor) -> TrunkCache:
    """Valid-mode trunk pass over one track ``x`` ``(in_channels, L)`` keeping every activation.

    The operations (and so the numbers) are those of ``trunk(x[None], valid=True)[0]``; the output
    is ``cache.skip`` ``(C, L - context)``.
    """
    cache = TrunkCache(offsets=_offsets(trunk))
    half = trunk.context // 2
    conv = trunk.conv_in(x[None])
    skip = trunk.skip_in(conv)
    cache.unit_in.append(conv[0])
    cache.skip0 = skip[0, :, half : skip.shape[-1] - half]
    group = 0
    for i, unit in enumerate(trunk.units):
        mid = F.conv1d(F.relu(unit.bn1(conv)), unit.conv1.weight, unit.conv1.bias, dilation=unit.dilation)
        h = F.conv1d(F.relu(unit.bn2(mid)), unit.conv2.weight, unit.conv2.bias, dilation=unit.dilation)
        s = unit.shrink
        conv = h + conv[..., s : conv.shape[-1] - s]
        cache.mid.append(mid[0])
        cache.unit_in.append(conv[0])
        if i in trunk.group_ends:
            dense = trunk.skip_convs[group](conv)
            group += 1
            cut = (skip.shape[-1] - dense.shape[-1]) // 2
            skip = skip[..., cut : skip.shape[-1] - cut] + dense
    cache.skip = skip[0]
    return cache


def _patched(ref: torch.Tensor, ref_offset: int, lo: int, hi: int, alt: torch.Tensor, alt_lo: int) -> torch.Tensor:
    """Positions ``lo .. hi - 1`` of a layer: REF values (``ref`` starts at position ``ref_offset``)
    with ALT values ``alt`` (starting at position ``alt_lo``) written over the positions they cover."""
    out = ref[:, lo - ref_offset : hi - ref_offset].clone()
    a0, a1 = max(lo, alt_lo), min(hi, alt_lo + alt.shape[-1])
    if a1 > a0:
        out[:, a0 - lo : a1 - lo] = alt[:, a0 - alt_lo : a1 - alt_lo]
    return out


@torch.inference_mode()
def snv_alt_pass(
    trunk: DilatedResidualTrunk, cache: TrunkCache, pos: int, alt: torch.Tensor, distance: int
) -> torch.Tensor:
    """Trunk output ``(C, 2D + 1)`` at outputs ``pos - D .. pos + D`` (input positions) for the
    track input with column ``pos`` replaced by ``alt`` ``(in_channels,)``.

    Equals ``trunk(x_alt_window[None])[0]`` for the ``context + 2D + 1`` ALT window centred on
    ``pos`` (up to float rounding). Requires ``context/2 + D <= pos < L - context/2 - D``.
    """
    half = trunk.context // 2
    if not half + distance <= pos < cache.length - half - distance:
        raise ValueError("the SNV's outputs are not inside the track")
    offs = cache.offsets

    def reach(offset: int) -> int:
        return min(offset, distance + half - offset)

    lo_w, hi_w = pos - distance, pos + distance + 1
    # input level: only column ``pos`` changes
    a = trunk.conv_in(alt.reshape(1, -1, 1).to(cache.unit_in[0].dtype))[0]  # (C, 1) at pos
    a_lo = pos
    s0 = cache.skip0[:, lo_w - half : hi_w - half].clone()
    s0[:, distance] = trunk.skip_in(a[None])[0, :, 0]
    skip = s0[None]
    group = 0
    for i, unit in enumerate(trunk.units):
        r = unit.shrink // 2
        o_in, o_mid, o_out = offs[i], offs[i] + r, offs[i + 1]
        h_mid, h_out = reach(o_mid), reach(o_out)
        # unit input over the positions the recomputed mid reads
        x_in = _patched(cache.unit_in[i], o_in, pos - h_mid - r, pos + h_mid + r + 1, a, a_lo)[None]
        mid = F.conv1d(F.relu(unit.bn1(x_in)), unit.conv1.weight, unit.conv1.bias, dilation=unit.dilation)
        m_in = _patched(cache.mid[i], o_mid, pos - h_out - r, pos + h_out + r + 1, mid[0], pos - h_mid)[None]
        h = F.conv1d(F.relu(unit.bn2(m_in)), unit.conv2.weight, unit.conv2.bias, dilation=unit.dilation)
        res_lo = pos - h_out - (pos - h_mid - r)
        a = (h + x_in[..., res_lo : res_lo + 2 * h_out + 1])[0]
        a_lo = pos - h_out
        if i in trunk.group_ends:
            a_w = _patched(cache.unit_in[i + 1], o_out, lo_w, hi_w, a, a_lo)[None]
            skip = skip + trunk.skip_convs[group](a_w)
            group += 1
    return skip[0]


def conv_flops(trunk: DilatedResidualTrunk, lengths: list[int], with_skip: list[int] | int) -> int:
    """Floating-point operations (2 per multiply-add) of the trunk's convolutions when residual-unit
    convolution ``k`` (``2 * n_units`` of them, in order) produces ``lengths[k]`` positions and the
    1x1 convolutions (``conv_in``, ``skip_in``, ``skip_convs``) ``with_skip`` positions each."""
    c = trunk.channels
    cin = trunk.conv_in.in_channels
    widths = [u.width for u in trunk.units for _ in (0, 1)]
    total = sum(2 * c * c * w * n for w, n in zip(widths, lengths))
    n1x1 = [with_skip] * (2 + len(trunk.skip_convs)) if isinstance(with_skip, int) else with_skip
    total += 2 * cin * c * n1x1[0] + sum(2 * c * c * n for n in n1x1[1:])
    return total


def trunk_flops(trunk: DilatedResidualTrunk, distance: int, mode: str = "incremental") -> int:
    """Trunk FLOPs for the ALT outputs of one SNV at ``2D + 1`` positions.

    ``mode``: ``"same"`` (the literal "same"-padded architecture on a ``context + 2D + 1`` window, as
    the published Keras model runs), ``"valid"`` (the full ALT window with valid convolutions), or
    ``"incremental"`` (:func:`snv_alt_pass`; the shared REF track pass not included).
    """
    return _flops(trunk, 2 * distance + 1, mode)


def track_flops(trunk: DilatedResidualTrunk, n_out: int) -> int:
    """Trunk FLOPs of a valid pass over a track input with ``n_out`` outputs (``n_out + context`` nt)."""
    return _flops(trunk, n_out, "valid")


def _flops(trunk: DilatedResidualTrunk, n_out: int, mode: str) -> int:
    half = trunk.context // 2
    offs = _offsets(trunk)
    distance = (n_out - 1) // 2
    if mode == "same":
        n = trunk.context + n_out
        return conv_flops(trunk, [n] * (2 * len(trunk.units)), n)
    lengths = []
    for i, unit in enumerate(trunk.units):
        r = unit.shrink // 2
        for o in (offs[i] + r, offs[i + 1]):
            if mode == "valid":
                lengths.append(n_out + 2 * (half - o))
            elif mode == "incremental":
                lengths.append(2 * min(o, distance + half - o) + 1)
            else:
                raise ValueError(f"unknown mode {mode!r}")
    if mode == "valid":
        dense = [n_out + 2 * (half - offs[i + 1]) for i in trunk.group_ends]
        return conv_flops(trunk, lengths, [trunk.context + n_out] * 2 + dense)
    return conv_flops(trunk, lengths, [1, 1] + [n_out] * len(trunk.skip_convs))


@torch.inference_mode()
def spliceai_track(ensemble, x: torch.Tensor, snvs: list[tuple[int, torch.Tensor]], distance: int):
    """REF outputs of one track and the ALT outputs of SNVs on it, for a SpliceAI ensemble.

    Parameters
    ----------
    ensemble : SpliceAIEnsemble
        Replicas with ``trunk`` and ``head``; the mean of their softmax outputs, summed in replica
        order as :meth:`SpliceAIEnsemble.forward` does.
    x : torch.Tensor
        Track one-hot ``(4, L)`` in model orientation.
    snvs : list of (int, torch.Tensor)
        ``(pos, alt)``: input position of the SNV and its ALT one-hot column ``(4,)``.
    distance : int

    Returns
    -------
    (torch.Tensor, list of torch.Tensor)
        REF ``(3, L - context)`` (the numbers of ``ensemble(x[None])[0]``) and, per SNV, the ALT
        ``(3, 2D + 1)`` for outputs ``pos - D .. pos + D``, as the full ALT window gives them.
        Replicas run one after the other, so only one replica's activations are held.
    """
    parts = [replica_track(net, x, snvs, distance) for net in ensemble.replicas]
    return combine_replicas(parts)


def replica_track(net, x: torch.Tensor, snvs: list[tuple[int, torch.Tensor]], distance: int):
    """One replica's softmax outputs: REF ``(3, L - context)`` and per SNV ALT ``(3, 2D + 1)``.
    Only this replica's activations are held (about 5 MB per kb of track)."""
    cache = ref_pass(net.trunk, x)
    ref = torch.softmax(net.head(cache.skip[None]), dim=1)[0]
    alts = []
    for pos, alt in snvs:
        skip = snv_alt_pass(net.trunk, cache, pos, alt, distance)
        alts.append(torch.softmax(net.head(skip[None]), dim=1)[0])
    return ref, alts


def combine_replicas(parts: list):
    """Mean over replicas of :func:`replica_track` results, summed in replica order (as
    :meth:`SpliceAIEnsemble.forward` sums), so the result does not depend on how they were run."""
    ref, alts = parts[0][0], list(parts[0][1])
    for r, a in parts[1:]:
        ref = ref + r
        alts = [x + y for x, y in zip(alts, a)]
    n = len(parts)
    return ref / n, [a / n for a in alts]
