"""Exact incremental ALT passes through a :class:`DilatedResidualTrunk` (SNVs and indels).

Why it works (facts of the trunk, see :mod:`splicescore.nn.trunk`): every layer is a
convolution over positions (1x1 or dilated valid convolutions), an element-wise BatchNorm/ReLU, or
an element-wise sum. Substituting one input nucleotide at position ``p`` therefore changes a layer
whose valid output starts at input offset ``O`` only at positions ``p - O .. p + O`` (its forward
cone), and the trunk's outputs ``p - D .. p + D`` read a layer at offset ``O`` only at
``p - D - (CL/2 - O) .. p + D + (CL/2 - O)`` (their backward cone). Both cones are centred on ``p``,
so the positions to recompute at that layer are ``p - h .. p + h`` with
``h = min(O, D + CL/2 - O)``; every other position a convolution reads is the REF activation.

An indel replaces ``ref_len`` track columns at ``q`` by ``a`` ALT columns. In the edited sequence a
position whose input field lies wholly left of the ALT columns has its REF activation, one wholly
right of them has the REF activation ``ref_len - a`` positions further along the track; only the
positions whose field meets the ALT columns (``q - O .. q + a - 1 + O``) and that the wanted outputs
read are recomputed (:class:`AltEdit`, :func:`alt_pass`). An SNV is the case ``ref_len = a = 1``.

This module runs one REF pass over a *track* (the input of a stretch of consecutive outputs) that
keeps every layer's activations, then, per ALT, recomputes only those positions layer by layer.
The result equals a full ALT window's trunk output up to float rounding (convolutions of different
lengths sum in different orders; ~1e-7 here).

Coordinates: positions are indices into the track input (model orientation). A layer with valid
offset ``O`` holds positions ``O .. L - 1 - O``; its tensor index is ``position - O``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from splicescore.nn.trunk import DilatedResidualTrunk


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


@dataclass(frozen=True)
class AltEdit:
    """An ALT input described as an edit of a REF track (all in model orientation).

    The ALT sequence is the track with its positions ``q .. q + ref_len - 1`` replaced by the
    ``a`` columns of ``alt`` (``M = T[:q] + alt + T[q + ref_len:]``, "edited coordinates"); the
    outputs wanted are those of ``M`` at ``out_lo .. out_lo + n_out - 1``, which are the outputs
    of the full ALT window ``M[out_lo - context/2 : out_lo + n_out + context/2]``. An SNV is
    ``ref_len == a == 1``; a deletion ``a == 1``; an insertion ``ref_len == 1``.

    Attributes
    ----------
    q : int
        Track position of the first REF nucleotide (model orientation).
    ref_len : int
    alt : np.ndarray
        ``(a, in_channels)`` one-hot ALT columns, model orientation.
    out_lo, n_out : int
        First wanted output (edited coordinates) and how many.
    """

    q: int
    ref_len: int
    alt: np.ndarray
    out_lo: int
    n_out: int

    @property
    def shift(self) -> int:
        """Edited position ``p`` right of the change is track position ``p + shift``."""
        return self.ref_len - self.alt.shape[0]

    def window(self, track: np.ndarray, context: int) -> np.ndarray:
        """The full ALT window ``(n_out + context, in_channels)`` this edit stands for, cut from
        the track input ``(L, in_channels)``."""
        half = context // 2
        lo, hi = self.out_lo - half, self.out_lo + self.n_out + half  # edited coordinates
        left = track[lo : min(hi, self.q)]
        right = track[max(lo, self.q + self.alt.shape[0]) + self.shift : hi + self.shift]
        return np.concatenate([left, self.alt.astype(track.dtype), right])


def _patched(ref: torch.Tensor, ref_offset: int, lo: int, hi: int, vals: torch.Tensor, v_lo: int,
             shift: int) -> torch.Tensor:
    """Edited positions ``lo .. hi - 1`` of one layer: recomputed values ``vals`` (starting at
    ``v_lo``) where they exist, REF values (``ref`` starts at track position ``ref_offset``) left of
    them, and REF values ``shift`` positions further on right of them."""
    v_hi = v_lo + vals.shape[-1]
    parts = []
    if lo < v_lo:
        parts.append(ref[:, lo - ref_offset : min(hi, v_lo) - ref_offset])
    m0, m1 = max(lo, v_lo), min(hi, v_hi)
    if m1 > m0:
        parts.append(vals[:, m0 - v_lo : m1 - v_lo])
    if hi > v_hi:
        parts.append(ref[:, max(lo, v_hi) + shift - ref_offset : hi + shift - ref_offset])
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


def _spans(trunk: DilatedResidualTrunk, edit: AltEdit) -> list[tuple[int, int]]:
    """Per layer offset in ``_offsets(trunk)`` order, interleaved with the units' middle layers
    (``[in_0, mid_0, in_1, mid_1, ..., in_n]``): the edited positions ``[lo, hi)`` to recompute.

    A layer with valid offset ``O`` changes at ``q - O .. q + a - 1 + O`` (positions whose input
    field ``p - O .. p + O`` meets an ALT column) and is read by the wanted outputs at
    ``out_lo - (CL/2 - O) .. out_hi + (CL/2 - O)``; the positions to recompute are both.
    """
    half = trunk.context // 2
    a = edit.alt.shape[0]
    out_hi = edit.out_lo + edit.n_out

    def span(o: int) -> tuple[int, int]:
        return max(edit.q - o, edit.out_lo - (half - o)), min(edit.q + a + o, out_hi + (half - o))

    offs = _offsets(trunk)
    out = []
    for i, unit in enumerate(trunk.units):
        out += [span(offs[i]), span(offs[i] + unit.shrink // 2)]
    out.append(span(offs[-1]))
    return out


@torch.inference_mode()
def alt_pass(trunk: DilatedResidualTrunk, cache: TrunkCache, edit: AltEdit) -> torch.Tensor:
    """Trunk output ``(C, n_out)`` of the ALT sequence ``edit`` describes, at its wanted outputs.

    Equals ``trunk(window[None])[0]`` for ``window = edit.window(track, trunk.context)`` up to float
    rounding. Requires the ALT window to lie inside the edited track.
    """
    half = trunk.context // 2
    shift = edit.shift
    out_lo, out_hi = edit.out_lo, edit.out_lo + edit.n_out
    if out_lo - half < 0 or out_hi - 1 + half + shift > cache.length - 1 or edit.n_out < 1:
        raise ValueError("the ALT window is not inside the track")
    offs = cache.offsets
    spans = _spans(trunk, edit)
    ref0 = cache.unit_in[0]
    alt = torch.from_numpy(np.ascontiguousarray(edit.alt.T, dtype=np.float32)).to(ref0.device, ref0.dtype)
    vals = trunk.conv_in(alt[None])[0]  # (C, a) at edited positions q .. q + a - 1
    v_lo = edit.q
    skip = _patched(cache.skip0, half, out_lo, out_hi, trunk.skip_in(vals[None])[0], v_lo, shift)[None]
    group = 0
    for i, unit in enumerate(trunk.units):
        r = unit.shrink // 2
        (m_lo, m_hi), (u_lo, u_hi) = spans[2 * i + 1], spans[2 * i + 2]
        # the unit input over the positions the recomputed middle layer reads, and so on
        x_in = _patched(cache.unit_in[i], offs[i], m_lo - r, m_hi + r, vals, v_lo, shift)[None]
        mid = F.conv1d(F.relu(unit.bn1(x_in)), unit.conv1.weight, unit.conv1.bias, dilation=unit.dilation)
        m_in = _patched(cache.mid[i], offs[i] + r, u_lo - r, u_hi + r, mid[0], m_lo, shift)[None]
        h = F.conv1d(F.relu(unit.bn2(m_in)), unit.conv2.weight, unit.conv2.bias, dilation=unit.dilation)
        res = u_lo - (m_lo - r)
        vals = (h + x_in[..., res : res + (u_hi - u_lo)])[0]
        v_lo = u_lo
        if i in trunk.group_ends:
            a_w = _patched(cache.unit_in[i + 1], offs[i + 1], out_lo, out_hi, vals, v_lo, shift)[None]
            skip = skip + trunk.skip_convs[group](a_w)
            group += 1
    return skip[0]


def track_pass(trunk: DilatedResidualTrunk, head, x: torch.Tensor, edits: list[AltEdit]):
    """REF outputs of one track and the ALT outputs of edits of it, through one trunk and a head.

    Parameters
    ----------
    trunk : DilatedResidualTrunk
    head : callable
        Trunk features ``(1, C, n)`` -> outputs ``(1, K, n)`` (or ``(1, n)``).
    x : torch.Tensor
        Track one-hot ``(in_channels, L)`` in model orientation.
    edits : list of AltEdit

    Returns
    -------
    (torch.Tensor, list of torch.Tensor)
        REF ``head(trunk(x[None]))[0]`` (the same numbers as the plain valid pass) and per edit the
        ALT outputs at its wanted positions, as the full ALT window gives them up to rounding. Only
        this trunk's activations are held (about 5 MB per kb of track).
    """
    with torch.inference_mode():
        cache = ref_pass(trunk, x)
        ref = head(cache.skip[None])[0]
        return ref, [head(alt_pass(trunk, cache, e)[None])[0] for e in edits]


def spliceai_head(net):
    """The softmax output head of one SpliceAI replica (:class:`~splicescore.models.spliceai.network.SpliceAINet`)."""
    return lambda feats: torch.softmax(net.head(feats), dim=1)


def combine_replicas(parts: list):
    """Mean over replicas of :func:`track_pass` results, summed in replica order (as
    :meth:`SpliceAIEnsemble.forward` sums), so the result does not depend on how they were run."""
    ref, alts = parts[0][0], list(parts[0][1])
    for r, a in parts[1:]:
        ref = ref + r
        alts = [x + y for x, y in zip(alts, a)]
    n = len(parts)
    return ref / n, [a / n for a in alts]
