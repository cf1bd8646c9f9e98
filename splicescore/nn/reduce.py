"""Score reductions on the device: the SpliceAI and Pangolin score formulas as torch functions.

Each function gives exactly (bit for bit, the same dtype) what the host numpy formula gives on the
same numbers, for any leading batch dimensions, so a scorer can reduce a chunk's outputs where they
were computed and bring back only the scores (``Engine(...)(net, inputs, reduce=f)``,
:mod:`splicescore.nn.engine`):

* SpliceAI (``models/spliceai/scorer.py``): :func:`spliceai_align_alt` = ``align_alt``,
  :func:`spliceai_delta_scores` = ``delta_scores`` (DS and DP, masked or not, the first index on
  ties);
* Pangolin (``models/pangolin/official.py``): :func:`pangolin_align_alt` = ``align_alt_to_ref``
  (float64 for deletions, as numpy makes it), :func:`pangolin_per_tissue_delta` =
  ``per_tissue_delta``, :func:`pangolin_loss_gain` = ``loss_gain``, :func:`pangolin_mask_scores` =
  ``mask_scores`` (with :func:`annotated_positions` from the gene's sites) and
  :func:`pangolin_extremes` = the positions and values ``format_gene`` writes.

How the numbers stay the same: differences, products by 0/1 and divisions are single IEEE
operations; the mean over replicates is summed in numpy's order (replicate 0, 1, 2, ...) and divided
by a tensor (a division by a Python scalar may become a multiplication by its reciprocal on a GPU);
``np.maximum(x, 0)`` / ``np.minimum(x, 0)`` keep ``x`` only when strictly greater / smaller or NaN
(on a tie numpy returns the ``0``: ``-0.0`` becomes ``0.0``); ``argmax``/``argmin`` take the first
index on ties in torch as in numpy. Positions are along the last axis, in genomic orientation
(flip a minus-strand output with ``torch.flip(y, (-1,))`` first, as ``to_genomic``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np
import torch

# ----------------------------------------------------------------------------- SpliceAI


def spliceai_align_alt(y_alt: torch.Tensor, ref_len: int, alt_len: int, cov: int) -> torch.Tensor:
    """ALT outputs ``(..., cov - ref_len + alt_len, 3)`` onto the ``cov`` REF positions (deleted
    positions zero, an insertion's span as its max), as ``align_alt``."""
    if ref_len > 1 and alt_len == 1:
        cut = cov // 2 + alt_len
        zeros = y_alt.new_zeros(y_alt.shape[:-2] + (ref_len - alt_len, y_alt.shape[-1]))
        return torch.cat([y_alt[..., :cut, :], zeros, y_alt[..., cut:, :]], dim=-2)
    if ref_len == 1 and alt_len > 1:
        mid = cov // 2
        peak = y_alt[..., mid : mid + alt_len, :].amax(dim=-2, keepdim=True)
        return torch.cat([y_alt[..., :mid, :], peak, y_alt[..., mid + alt_len :, :]], dim=-2)
    return y_alt


#: per (AG, AL, DG, DL): the output channel, and whether it is a gain (alt - ref; masked at the
#: annotated site) or a loss (ref - alt; masked everywhere else)
_SPLICEAI_CHANNELS = (1, 1, 2, 2)
_SPLICEAI_GAINS = (True, False, True, False)


def spliceai_delta_scores(y_ref: torch.Tensor, y_alt: torch.Tensor, cov: int, boundary_offset, mask) -> tuple:
    """SpliceAI's DS and DP of ``delta_scores`` for a batch of aligned outputs.

    Parameters
    ----------
    y_ref, y_alt : torch.Tensor
        ``(..., cov, 3)`` float32, genomic orientation (ALT aligned by :func:`spliceai_align_alt`).
    cov : int
        ``2 * D + 1``.
    boundary_offset : int or torch.Tensor
        ``(...)`` signed distance from POS to the nearest annotated exon boundary.
    mask : bool or torch.Tensor
        ``(...)`` SpliceAI's ``-M 1``.

    Returns
    -------
    (ds, dp)
        ``ds`` ``(..., 4)`` float32 (AG, AL, DG, DL, the unrounded scores ``DeltaScores.ds`` holds)
        and ``dp`` ``(..., 4)`` int64 positions relative to POS (``DeltaScores.dp``).
    """
    deltas = []
    for channel, gain in zip(_SPLICEAI_CHANNELS, _SPLICEAI_GAINS):
        a, r = y_alt[..., channel], y_ref[..., channel]
        deltas.append(a - r if gain else r - a)
    deltas = torch.stack(deltas, dim=-2)  # (..., 4, cov)
    idx = deltas.argmax(dim=-1)  # the first maximum, as np.argmax
    values = deltas.gather(-1, idx[..., None])[..., 0]
    rel = idx - cov // 2
    return spliceai_mask(values, rel, boundary_offset, mask), rel


def spliceai_mask(values: torch.Tensor, rel: torch.Tensor, boundary_offset, mask) -> torch.Tensor:
    """SpliceAI's ``-M`` on the extreme deltas ``values`` ``(..., 4)`` at positions ``rel`` (relative
    to POS) of :func:`spliceai_delta_scores`: a gain at the annotated boundary, a loss anywhere else,
    multiplied by 0 (``mask`` False: by 1, the same bits)."""
    offset = torch.as_tensor(boundary_offset, dtype=torch.long, device=rel.device)
    at_site = rel == offset[..., None]
    gains = torch.tensor(_SPLICEAI_GAINS, device=rel.device)
    masked = torch.as_tensor(mask, dtype=torch.bool, device=rel.device)[..., None] & (at_site == gains)
    keep = 1 - masked.to(torch.int32)  # v * float32(1 - m): a negative v masked is -0.0, as numpy
    return values * keep.to(values.dtype)


# ----------------------------------------------------------------------------- Pangolin


def pangolin_align_alt(alt: torch.Tensor, ref_length: int, d: int) -> torch.Tensor:
    """``align_alt_to_ref``: ALT ``(..., La)`` onto the ``ref_length`` REF positions. A deletion
    inserts float64 zeros, which makes the result float64 (numpy's promotion)."""
    la = alt.shape[-1]
    n = abs(ref_length - la)
    if ref_length > la:
        wide = alt.to(torch.float64)
        zeros = wide.new_zeros(alt.shape[:-1] + (n,))
        return torch.cat([wide[..., : d + 1], zeros, wide[..., d + 1 :]], dim=-1)
    if ref_length < la:
        peak = alt[..., d : d + n + 1].amax(dim=-1, keepdim=True)
        return torch.cat([alt[..., :d], peak, alt[..., d + n + 1 :]], dim=-1)
    return alt


def pangolin_per_tissue_delta(ref: torch.Tensor, alt: torch.Tensor, d: int) -> torch.Tensor:
    """``per_tissue_delta``: per tissue the mean over replicates of aligned ``alt - ref``.

    ``ref`` ``(..., R, T, Lr)``, ``alt`` ``(..., R, T, La)`` P(splice site), genomic orientation
    -> ``(..., T, Lr)`` (float64 for a deletion)."""
    diff = pangolin_align_alt(alt, ref.shape[-1], d) - ref
    total = diff[..., 0, :, :]
    for r in range(1, diff.shape[-3]):  # numpy's order along the reduced axis
        total = total + diff[..., r, :, :]
    return total / torch.full_like(total, diff.shape[-3])


def pangolin_loss_gain(delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``loss_gain``: ``(loss, gain)`` = (min, max) over the tissues (axis -2) of ``delta``."""
    return delta.amin(dim=-2), delta.amax(dim=-2)


def annotated_positions(sites: Sequence[int] | np.ndarray, pos: int, d: int, length: int) -> np.ndarray:
    """``(length,)`` bool: window index ``i`` (genomic position ``pos - d + i``) is an annotated site
    of the gene (host side: what the scorer ships with a request; ``mask_scores``'s ``idx``)."""
    idx = np.asarray(sites, dtype=np.int64) - (pos - d)
    out = np.zeros(length, dtype=bool)
    out[idx[(idx >= 0) & (idx < length)]] = True
    return out


def _np_maximum0(x: torch.Tensor) -> torch.Tensor:
    return torch.where((x > 0) | torch.isnan(x), x, torch.zeros_like(x))


def _np_minimum0(x: torch.Tensor) -> torch.Tensor:
    return torch.where((x < 0) | torch.isnan(x), x, torch.zeros_like(x))


def pangolin_mask_scores(loss: torch.Tensor, gain: torch.Tensor, annotated: torch.Tensor, has_sites) -> tuple:
    """``mask_scores`` for genes given as masks: ``loss``, ``gain`` ``(..., L)``; ``annotated``
    ``(..., L)`` bool (:func:`annotated_positions`); ``has_sites`` ``(...)`` bool (False: the gene has
    no annotated site at all, the ``NoAnnotatedSitesToMaskForThisGene`` rule: only ``loss`` is
    clipped at 0). Returns new ``(loss, gain)``."""
    has = torch.as_tensor(has_sites, dtype=torch.bool, device=loss.device)[..., None]
    annotated = annotated.to(torch.bool)
    clip_loss = ~has | ~annotated
    clip_gain = has & annotated
    return (torch.where(clip_loss, _np_maximum0(loss), loss), torch.where(clip_gain, _np_minimum0(gain), gain))


def pangolin_extremes(loss: torch.Tensor, gain: torch.Tensor) -> tuple:
    """What ``format_gene`` writes without a cutoff: ``(gain_index, gain_value, loss_index,
    loss_value)`` with ``gain_index = argmax(gain)`` and ``loss_index = argmin(loss)`` (the first on
    ties; window indices, subtract ``d`` for the position relative to POS)."""
    g = gain.argmax(dim=-1)
    lo = loss.argmin(dim=-1)
    return g, gain.gather(-1, g[..., None])[..., 0], lo, loss.gather(-1, lo[..., None])[..., 0]


# ----------------------------------------------------------------------------- requests for the engine


class UnitReduction(ABC):
    """A scorer's reduction of one chunk: a :data:`splicescore.nn.engine.Reduction` (``__call__``
    on the device outputs) whose host result :meth:`unpack` splits into one value per scored unit,
    in the order the units were given. Units of one (REF length, ALT length) reduce as one batch."""

    #: where a unit tuple holds its REF and ALT lengths
    shape_fields: tuple[int, int]

    def __init__(self, units: Sequence[tuple]):
        self.units = list(units)
        self.groups: dict[tuple, list[int]] = {}
        for k, u in enumerate(self.units):
            self.groups.setdefault(tuple(u[i] for i in self.shape_fields), []).append(k)

    @abstractmethod
    def reduce_group(self, outputs: list, shape: tuple, units: list[tuple]) -> dict:
        """Tensors ``(len(units), ...)`` for the units of one shape."""

    def __call__(self, outputs: list) -> list[dict]:
        return [self.reduce_group(outputs, shape, [self.units[k] for k in ks]) for shape, ks in self.groups.items()]

    def unpack(self, result: list[dict]) -> list[dict]:
        """Per unit, in unit order: ``{name: numpy row}`` of the host ``result`` of :meth:`__call__`."""
        out: list = [None] * len(self.units)
        for ks, arrays in zip(self.groups.values(), result):
            for row, k in enumerate(ks):
                out[k] = {name: a[row] for name, a in arrays.items()}
        return out


def _stacked(outputs: list, index: Sequence[int], minus: Sequence[bool], axis: int) -> torch.Tensor:
    """``outputs[i]`` of ``index`` stacked, each flipped along ``axis`` where ``minus``."""
    return torch.stack([torch.flip(outputs[i], (axis,)) if m else outputs[i] for i, m in zip(index, minus)])


class SpliceAIDeltaRequest(UnitReduction):
    """SpliceAI's scores of many (ALT, transcript) units of a chunk, on the device: everything
    ``SpliceAIScorer.finish`` writes except ``--all-nonzero``'s lists.

    Parameters
    ----------
    units : sequence of tuple
        ``(ref_input, ref_offset, alt_input, minus, ref_len, alt_len, boundary_offset)`` per unit:
        outputs ``(3, n)`` of inputs ``ref_input`` / ``alt_input``, reversed for a minus-strand
        transcript, REF positions ``ref_offset .. ref_offset + cov - 1`` (genomic orientation) and
        the ALT aligned by ``align_alt``.
    cov : int

    :meth:`unpack` gives per unit ``ds_raw``, ``ds_masked`` (``(4,)`` float32, AG AL DG DL: the
    ``DeltaScores.ds`` of ``delta_scores`` without / with ``-M 1``), ``dp`` (``(4,)`` int64, the
    same for both) and ``ref`` / ``alt`` (``(4,)`` float32: the REF and aligned ALT probability of
    each score's channel at its DP).
    """

    shape_fields = (4, 5)

    def __init__(self, units: Sequence[tuple], cov: int):
        super().__init__(units)
        self.cov = cov

    def _ref_window(self, y: torch.Tensor, ref_offset: int, minus: bool) -> torch.Tensor:
        """``(3, cov)``: positions ``ref_offset ..`` of ``y`` ``(3, n)`` in genomic orientation."""
        if not minus:
            return y[:, ref_offset : ref_offset + self.cov]
        n = y.shape[-1]
        return torch.flip(y[:, n - ref_offset - self.cov : n - ref_offset], (-1,))

    def reduce_group(self, outputs: list, shape: tuple, units: list[tuple]) -> dict:
        ref_len, alt_len = shape
        minus = [u[3] for u in units]
        # REF tracks differ in length: each unit's cov positions are cut before stacking
        y_ref = torch.stack([self._ref_window(outputs[u[0]], u[1], u[3]) for u in units]).transpose(1, 2)
        y_alt = _stacked(outputs, [u[2] for u in units], minus, -1).transpose(1, 2)  # (N, n, 3)
        y_alt = spliceai_align_alt(y_alt, ref_len, alt_len, self.cov)
        boundary = torch.tensor([u[6] for u in units], dtype=torch.long, device=y_ref.device)
        ds_raw, dp = spliceai_delta_scores(y_ref, y_alt, self.cov, boundary, False)
        ds_masked = spliceai_mask(ds_raw, dp, boundary, True)  # the deltas once: only the mask differs
        at = (dp + self.cov // 2)[..., None]  # (N, 4, 1) window index of each score
        channels = torch.tensor(_SPLICEAI_CHANNELS, device=y_ref.device)
        ref_at = y_ref[:, :, channels].transpose(1, 2).gather(-1, at)[..., 0]
        alt_at = y_alt[:, :, channels].transpose(1, 2).gather(-1, at)[..., 0]
        return {"ds_raw": ds_raw, "ds_masked": ds_masked, "dp": dp, "ref": ref_at, "alt": alt_at}


class PangolinDeltaRequest(UnitReduction):
    """Pangolin's per-position ``(loss, gain)`` of many (ALT, strand) units of a chunk, on the
    device (the official ``compute_score``: orientation, alignment, the per-tissue mean over
    replicates, min/max over tissues); the masking per gene stays on the host.

    Parameters
    ----------
    units : sequence of tuple
        ``(ref_input, alt_input, minus, ref_len, alt_len)`` per unit: outputs ``(R, T, 2d + len)``
        of inputs ``ref_input`` / ``alt_input`` in network orientation.
    d : int

    :meth:`unpack` gives per unit ``loss`` and ``gain`` ``(2d + ref_len,)`` (float32; float64 for
    a deletion), as ``loss_gain(per_tissue_delta(...))``.
    """

    shape_fields = (3, 4)

    def __init__(self, units: Sequence[tuple], d: int):
        super().__init__(units)
        self.d = d

    def reduce_group(self, outputs: list, shape: tuple, units: list[tuple]) -> dict:
        minus = [u[2] for u in units]
        ref = _stacked(outputs, [u[0] for u in units], minus, -1)
        alt = _stacked(outputs, [u[1] for u in units], minus, -1)
        loss, gain = pangolin_loss_gain(pangolin_per_tissue_delta(ref, alt, self.d))
        return {"loss": loss, "gain": gain}
