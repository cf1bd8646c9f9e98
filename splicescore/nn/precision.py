"""Reduced precision (``--precision bf16|fp16``) by explicit casts, shared by every engine path.

One scheme for the batched engine (:mod:`splicescore.nn.batched`) and for plain windows
(:func:`splicescore.nn.predict.predict`, the ``windows`` engine and every model's windows):

* each convolution, linear layer and matrix product gets its float32 input and weights cast to
  bfloat16/float16 (:class:`ReducedPrecision`; cuDNN/oneDNN/cuBLAS accumulate in fp32) and its output
  cast back to float32;
* everything else stays float32: BatchNorm, LayerNorm, ReLU/GELU, softmax, the residual and skip
  sums, and, for the networks with ``members()`` (SpliceAI, Pangolin), the output heads and the
  ensemble's combination (:func:`reduced_forward` runs each member's trunk under the casts and its
  head in fp32, exactly as the batched engine does);
* float64 work (HAL's table) is never cast: its scores stay exact under any precision;
* a low-precision result that is not all finite is computed again in exact fp32 (logged):
  :func:`guarded_forward` per batch of windows, the batched engine per chunk.

Not ``torch.autocast``: autocast leaves convolution outputs in bf16/fp16, so the residual stream,
the skip sum and BatchNorm would run in reduced precision too. ``fp32`` never enters this module's
casts: it calls the networks as they are (exact, the golden bytes).
"""

from __future__ import annotations

import logging
from typing import Sequence

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

log = logging.getLogger("splicescore")

#: ``--precision`` -> the dtype convolutions and matrix products run in; ``fp32`` runs exact float32
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

RERUN_MESSAGE = "splicescore: non-finite network outputs in reduced precision; {what} rerun in fp32"


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: one of {', '.join(PRECISIONS)}")


class ReducedPrecision:
    """The explicit casts of one reduced-precision pass (one chunk or batch).

    Parameters
    ----------
    precision : {"fp32", "bf16", "fp16"}
        ``fp32``: every call is the plain float32 operation.

    Attributes
    ----------
    low : torch.dtype or None
    casts : int
        Operations run in ``low`` so far (0: the result is exact).
    """

    def __init__(self, precision: str):
        check_precision(precision)
        self.low = PRECISIONS[precision]
        self.casts = 0
        self._weights: dict[int, tuple] = {}  # id(parameter) -> (parameter, its low-precision copy)

    def _cast(self, t: torch.Tensor | None) -> torch.Tensor | None:
        if t is None:
            return None
        if not isinstance(t, torch.nn.Parameter):
            return t.to(self.low)
        hit = self._weights.get(id(t))
        if hit is None or hit[0] is not t:
            hit = self._weights[id(t)] = (t, t.to(self.low))  # the parameter is held: its id stays its own
        return hit[1]

    def _active(self, x: torch.Tensor) -> bool:
        return self.low is not None and x.dtype == torch.float32

    def conv1d(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride=1, padding=0,
               dilation=1, groups=1) -> torch.Tensor:
        """``F.conv1d`` with input and weights in ``low`` and a float32 output."""
        if not self._active(x):
            return F.conv1d(x, weight, bias, stride, padding, dilation, groups)
        self.casts += 1
        return F.conv1d(x.to(self.low), self._cast(weight), self._cast(bias), stride, padding, dilation,
                        groups).float()

    def linear(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        if not self._active(x):
            return F.linear(x, weight, bias)
        self.casts += 1
        return F.linear(x.to(self.low), self._cast(weight), self._cast(bias)).float()

    def matmul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if not (self._active(a) and b.dtype == torch.float32):
            return torch.matmul(a, b)
        self.casts += 1
        return torch.matmul(self._cast(a), self._cast(b)).float()


_MATMULS = (torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.bmm, torch.Tensor.bmm)


class ExplicitCasts(TorchFunctionMode):
    """While active (in this thread), every ``conv1d``, ``linear`` and matrix product of a network
    goes through a :class:`ReducedPrecision`; all other operations run unchanged (float32)."""

    def __init__(self, casts: ReducedPrecision):
        super().__init__()
        self.casts = casts

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.conv1d:
            return self.casts.conv1d(*args, **kwargs)
        if func is F.linear:
            return self.casts.linear(*args, **kwargs)
        if func in _MATMULS and len(args) == 2 and not kwargs:
            return self.casts.matmul(*args)
        return func(*args, **kwargs)


def reduced_forward(model, x: torch.Tensor, casts: ReducedPrecision) -> torch.Tensor:
    """``model(x)`` under ``casts``. A network with ``members()`` and ``combine_blocks()`` (the
    trunk ensembles) runs each member's trunk under the casts and its head and the combination in
    fp32, as the batched engine does; any other network runs whole under :class:`ExplicitCasts`."""
    if hasattr(model, "members") and hasattr(model, "combine_blocks"):
        parts = []
        for trunk, head in model.members():
            with ExplicitCasts(casts):
                features = trunk(x)
            parts.append([head(features)])
        return model.combine_blocks(parts)[0]
    with ExplicitCasts(casts):
        return model(x)


def all_finite(tensors: Sequence[torch.Tensor]) -> bool:
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()) if tensors else True


def guarded_forward(model, x: torch.Tensor, precision: str) -> torch.Tensor:
    """``model(x)`` in ``precision``: ``fp32`` exactly as the model computes it; bf16/fp16 through
    :func:`reduced_forward`, run again in fp32 (logged) when its outputs are not all finite (outputs
    of no cast operation, e.g. HAL's NaN for an invalid window, are exact and not rerun)."""
    if PRECISIONS[precision] is None:
        return model(x)
    casts = ReducedPrecision(precision)
    y = reduced_forward(model, x, casts)
    if casts.casts and not all_finite([y]):
        log.warning(RERUN_MESSAGE.format(what="batch"))
        return model(x)
    return y
