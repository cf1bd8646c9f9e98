"""The batched incremental path of the engine (``--engine batched``, any device).

REF tracks of one length run together, layer by layer; the ALT cones of every edit of one shape
(SNVs; indels by ``(ref_len, alt_len)``) are gathered from the REF activations of the layer into one
tensor and run as one batched conv/BN/ReLU step (:func:`_member_pass`). Only the layers the next
step reads are alive, and only the wanted outputs come back (or stay on the device for a
reduction, ``device_outputs``). Within 1e-6 of full windows (float rounding of different
convolution lengths), the official strings on every golden file. Reduced precision: the casts of
:class:`splicescore.nn.precision.ReducedPrecision` (the same scheme as plain windows).
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from splicescore.nn.incremental import _offsets, _spans
from splicescore.nn.precision import RERUN_MESSAGE, ReducedPrecision, all_finite, log
from splicescore.nn.predict import check_stop, exact_math
from splicescore.nn.tracks import TrackAlt, TrackSlice, split_tracks
from splicescore.nn.transfer import download, to_device, to_device_onehot, upload


@dataclass
class _Shape:
    """ALT edits of one geometry: ``(ref_len, alt_len, out_lo - q, n_out)``."""

    key: tuple
    entries: list  # input indices of the TrackAlt entries
    spans: list  # _spans of the first edit, relative to its q


class _Layer:
    """One layer's REF activations of every track, flattened to ``(C, N)`` for gathering."""

    def __init__(self, groups: list, tensors: list, offset: int, device):
        # groups[g] = track ids, tensors[g] = (B_g, C, n_g); track (g, b) starts at base
        self.offset = offset
        parts, bases, start = [], {}, 0
        for ids, t in zip(groups, tensors):
            n = t.shape[-1]
            for b, tid in enumerate(ids):
                bases[tid] = start + b * n
            start += len(ids) * n
            parts.append(t[0] if len(ids) == 1 else t.transpose(0, 1).reshape(t.shape[1], -1))
        self.flat = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        self.bases = bases
        self.device = device


class _Runner:
    """One member's batched pass over a chunk's tracks and edits: convolutions through the shared
    casts (:class:`~splicescore.nn.precision.ReducedPrecision`; plain float32 for ``fp32``) and their
    FLOP count."""

    def __init__(self, engine):
        self.casts = ReducedPrecision(engine.precision)
        self.low = self.casts.low
        self.device = engine.device
        self.flops = 0

    def conv(self, x: torch.Tensor, conv: torch.nn.Conv1d, dilation: int = 1) -> torch.Tensor:
        y = self.casts.conv1d(x, conv.weight, conv.bias, dilation=dilation)
        self.flops += 2 * y.numel() * conv.weight.shape[1] * conv.weight.shape[2]
        return y


def _rel_patch(layer: _Layer, shape_edits: dict, lo: int, hi: int, vals: torch.Tensor, v_lo: int,
               shift: int) -> torch.Tensor:
    """Batched :func:`splicescore.nn.incremental._patched`: positions ``q + lo .. q + hi - 1``
    of every edit (``shape_edits``: ``q``, ``track`` index tensors), ``vals`` ``(E, C, nv)`` starting
    at ``q + v_lo``, REF values of its track left of them and ``shift`` further on right of them."""
    v_hi = v_lo + vals.shape[-1]
    base = shape_edits["base"][id(layer)]  # (E,) flat index of track position layer.offset
    q = shape_edits["q"]
    c = layer.flat.shape[0]
    parts = []

    def ref(a: int, b: int) -> torch.Tensor:  # relative positions a .. b - 1 (already shifted)
        n = b - a
        idx = (base + q + (a - layer.offset))[:, None] + torch.arange(n, device=layer.device)[None, :]
        return layer.flat.index_select(1, idx.reshape(-1)).view(c, -1, n).transpose(0, 1)

    if lo < v_lo:
        parts.append(ref(lo, min(hi, v_lo)))
    m0, m1 = max(lo, v_lo), min(hi, v_hi)
    if m1 > m0:
        parts.append(vals[..., m0 - v_lo : m1 - v_lo])
    if hi > v_hi:
        parts.append(ref(max(lo, v_hi) + shift, hi + shift))
    return parts[0].contiguous() if len(parts) == 1 else torch.cat(parts, dim=-1)


def _bind(layer: _Layer, shapes: list, edit_data: list) -> None:
    """Each shape's per-edit flat base index in ``layer``."""
    for sh, data in zip(shapes, edit_data):
        data["base"][id(layer)] = torch.tensor([layer.bases[t] for t in data["tracks"]], dtype=torch.long,
                                               device=layer.device)


def _member_pass(runner: _Runner, trunk, head, groups: list, x_groups: list, shapes: list, edit_data: list,
                 alts: list, half: int):
    """REF outputs per track group and ALT outputs per shape group of one ensemble member."""
    offs = _offsets(trunk)
    conv = [runner.conv(x, trunk.conv_in) for x in x_groups]
    skip = [runner.conv(c, trunk.skip_in) for c in conv]
    skip0 = _Layer(groups, [s[..., half : s.shape[-1] - half] for s in skip], half, runner.device)
    _bind(skip0, shapes, edit_data)
    vals, skip_alt, v_lo = [], [], []
    for sh, data, a in zip(shapes, edit_data, alts):
        ref_len, alt_len, out_rel, n_out = sh.key
        v = runner.conv(a, trunk.conv_in)  # (E, C, a) at q .. q + a - 1
        vals.append(v)
        v_lo.append(0)
        skip_alt.append(_rel_patch(skip0, data, out_rel, out_rel + n_out, runner.conv(v, trunk.skip_in), 0,
                                   ref_len - alt_len))
    del skip0
    group = 0
    for i, unit in enumerate(trunk.units):
        check_stop()
        r, s = unit.shrink // 2, unit.shrink
        mids = [runner.conv(F.relu(unit.bn1(c)), unit.conv1, unit.dilation) for c in conv]
        new = [runner.conv(F.relu(unit.bn2(m)), unit.conv2, unit.dilation) + c[..., s : c.shape[-1] - s]
               for m, c in zip(mids, conv)]
        if shapes:
            lay_in = _Layer(groups, conv, offs[i], runner.device)
            lay_mid = _Layer(groups, mids, offs[i] + r, runner.device)
            _bind(lay_in, shapes, edit_data)
            _bind(lay_mid, shapes, edit_data)
        del mids
        for k, (sh, data) in enumerate(zip(shapes, edit_data)):
            shift = sh.key[0] - sh.key[1]
            (m_lo, m_hi), (u_lo, u_hi) = sh.spans[2 * i + 1], sh.spans[2 * i + 2]
            x_in = _rel_patch(lay_in, data, m_lo - r, m_hi + r, vals[k], v_lo[k], shift)
            mid = runner.conv(F.relu(unit.bn1(x_in)), unit.conv1, unit.dilation)
            m_in = _rel_patch(lay_mid, data, u_lo - r, u_hi + r, mid, m_lo, shift)
            del mid
            h = runner.conv(F.relu(unit.bn2(m_in)), unit.conv2, unit.dilation)
            del m_in
            res = u_lo - (m_lo - r)
            vals[k] = h + x_in[..., res : res + (u_hi - u_lo)]
            v_lo[k] = u_lo
        if shapes:
            del lay_in, lay_mid
        conv = new
        if i in trunk.group_ends:
            dense = [runner.conv(c, trunk.skip_convs[group]) for c in conv]
            skip = [sk[..., (sk.shape[-1] - d.shape[-1]) // 2 : (sk.shape[-1] + d.shape[-1]) // 2] + d
                    for sk, d in zip(skip, dense)]
            if shapes:
                lay_out = _Layer(groups, conv, offs[i + 1], runner.device)
                _bind(lay_out, shapes, edit_data)
                for k, (sh, data) in enumerate(zip(shapes, edit_data)):
                    out_rel, n_out = sh.key[2], sh.key[3]
                    a_w = _rel_patch(lay_out, data, out_rel, out_rel + n_out, vals[k], v_lo[k], sh.key[0] - sh.key[1])
                    skip_alt[k] = skip_alt[k] + runner.conv(a_w, trunk.skip_convs[group])
                del lay_out
            group += 1
    del conv, vals
    for data in edit_data:
        data["base"].clear()
    return [head(sk) for sk in skip], [head(sk) for sk in skip_alt]


def _split(items: list, cost: Callable[[object], int], cap: int) -> list[list]:
    """Consecutive runs of ``items`` whose summed ``cost`` stays within ``cap`` (one item at least)."""
    out, cur, total = [], [], 0
    for it in items:
        c = cost(it)
        if cur and total + c > cap:
            out.append(cur)
            cur, total = [], 0
        cur.append(it)
        total += c
    if cur:
        out.append(cur)
    return out


@torch.inference_mode()
def batched_tracks(inputs: list, members: Sequence, combine_blocks: Callable, context: int, run_plain: Callable,
                   engine, *, device_outputs: bool = False) -> list:
    """Outputs for a chunk's inputs (as :func:`splicescore.nn.tracks.compute_tracks` returns
    them) through the batched incremental path on ``engine.device``
    (:class:`splicescore.nn.engine.Engine`: its device, precision, cap and FLOP count).

    Tracks are grouped by length (one batch per length, split at ``engine.max_positions`` input
    positions); the TrackAlt entries by shape, split so that edits x widest cone stays within the
    cap. Each (track batch, edit batches) unit runs every member layer by layer
    (:func:`_member_pass`); ``combine_blocks`` forms the ensemble's outputs from the members' on the
    device, and only then do they go to the host (numpy), or, with ``device_outputs``, stay on the
    device as tensors (plain inputs run by ``run_plain`` are uploaded). A low ``precision`` whose
    outputs are not all finite is run again in fp32 (logged).
    """
    with exact_math(engine.device):
        out = _batched_tracks(inputs, members, combine_blocks, context, run_plain, engine, device_outputs)
        if out is None:  # a NaN/inf in bf16/fp16: the chunk again in exact fp32
            log.warning(RERUN_MESSAGE.format(what="chunk"))
            fp32 = copy.copy(engine)
            fp32.precision, fp32.flops = "fp32", 0
            out = _batched_tracks(inputs, members, combine_blocks, context, run_plain, fp32, device_outputs)
            engine.flops += fp32.flops
        return out


def _batched_tracks(inputs, members, combine_blocks, context, run_plain, engine, device_outputs=False):
    half = context // 2
    entries, outputs = split_tracks(inputs, run_plain)
    if device_outputs:
        outputs = [None if y is None else to_device(y, engine.device) for y in outputs]
    if not entries:
        return outputs
    trunk0 = members[0][0]
    cap = max(1, engine.max_positions)
    # work units: tracks of one length, in batches of at most `cap` input positions
    by_len: dict[int, list[int]] = {}
    for t in entries:
        by_len.setdefault(len(inputs[t]), []).append(t)
    units = [b for _, ts in sorted(by_len.items(), key=lambda kv: -kv[0])
             for b in _split(ts, lambda t: len(inputs[t]), cap)]
    for tracks in units:
        check_stop()
        _run_unit(inputs, entries, tracks, members, combine_blocks, context, engine, trunk0, half, cap, outputs,
                  download if not device_outputs else (lambda t: t))
        if outputs[tracks[0]] is None:  # non-finite in low precision
            return None
    return outputs


def _run_unit(inputs, entries, tracks, members, combine_blocks, context, engine, trunk0, half, cap, outputs, fetch):
    """One batch of tracks of one length (and all their ALT edits, in batches of one shape); ``fetch``
    brings an output block to where the outputs live (the host, or the device itself)."""
    device = engine.device
    groups = [tracks]
    x_groups = [to_device_onehot([inputs[t] for t in tracks], device)]
    by_shape: dict[tuple, list[int]] = {}
    for t in tracks:
        for i in entries[t]:
            x = inputs[i]
            if isinstance(x, TrackAlt):
                e = x.edit
                by_shape.setdefault((e.ref_len, e.alt.shape[0], e.out_lo - e.q, e.n_out), []).append(i)
    shape_batches = []
    for key, idx in by_shape.items():
        e0 = inputs[idx[0]].edit
        spans = [(lo - e0.q, hi - e0.q) for lo, hi in _spans(trunk0, e0)]
        widest = max(hi - lo for lo, hi in spans) + 2 * max(u.shrink for u in trunk0.units)
        per = max(1, cap // max(1, widest))
        for k in range(0, len(idx), per):
            shape_batches.append(_Shape(key, idx[k : k + per], spans))
    # the ALT batches run alongside the REF pass of their tracks, layer by layer; when their running
    # cones would hold more than 4 x cap positions, the REF pass is run again for the next step
    # (bounded memory instead of every REF layer cached)
    steps = _split(shape_batches, lambda s: len(s.entries) * (max(h - l for l, h in s.spans) + 1), 4 * cap) or [[]]
    ref_host = None
    alt_host: dict = {}
    meta = device.type == "meta"  # a dry run (FLOP count): shapes only
    for step in steps:
        edit_data = []
        alts = []
        for sh in step:
            edits = [inputs[i].edit for i in sh.entries]
            edit_data.append({
                "tracks": [inputs[i].track for i in sh.entries],
                "q": torch.tensor([e.q for e in edits], dtype=torch.long, device=device),
                "base": {},
            })
            cols = np.stack([np.ascontiguousarray(e.alt.T, dtype=np.float32) for e in edits])
            alts.append(upload(torch.from_numpy(cols), device))
        def member(m, single_thread=False):
            if single_thread:
                torch.set_num_threads(1)  # this worker's own OpenMP setting
            with torch.inference_mode():
                runner = _Runner(engine)
                refs, alt_blocks = _member_pass(runner, m[0], m[1], groups, x_groups, step,
                                                [dict(d, base={}) for d in edit_data], alts, half)
                return refs + alt_blocks, runner.flops

        workers = min(torch.get_num_threads(), len(members)) if device.type == "cpu" else 1
        if workers > 1:
            # CPU: members side by side in single-threaded workers (as the tracks path): faster than
            # multi-threaded kernels on small cones, and the numbers do not depend on --threads
            previous = torch.get_num_threads()
            try:
                with ThreadPoolExecutor(workers) as pool:
                    results = list(pool.map(lambda m: member(m, True), members))
            finally:
                torch.set_num_threads(previous)
        else:
            results = [member(m) for m in members]
        parts = [r for r, _ in results]
        engine.flops += sum(f for _, f in results)
        del results
        blocks = combine_blocks(parts)
        del parts
        if engine.precision != "fp32" and not meta and not all_finite(blocks):
            return
        if meta:
            continue
        if ref_host is None:
            ref_host = fetch(blocks[0])
        for sh, b in zip(step, blocks[1:]):
            host = fetch(b)  # one transfer per batch of edits
            for j, i in enumerate(sh.entries):
                alt_host[i] = host[j]
    if meta:
        for t in tracks:
            outputs[t] = np.zeros(0)
        return
    for b, t in enumerate(tracks):
        outputs[t] = _own(ref_host[b])
    for i, y in alt_host.items():
        outputs[i] = _own(y)
    for t in tracks:
        for i in entries[t]:
            if isinstance(inputs[i], TrackSlice):
                lo = inputs[i].out_lo - half
                outputs[i] = _own(outputs[t][..., lo : lo + inputs[i].n_out])


def _own(y):
    """A host row as its own contiguous array; a device row stays a view of its block."""
    return np.ascontiguousarray(y) if isinstance(y, np.ndarray) else y

