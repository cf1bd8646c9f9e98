"""The compute engine: the one place that decides how a chunk's network inputs are run.

A scorer *describes* its work: plain one-hot windows, REF tracks, and ALT windows written as edits of a
track (:class:`~splicescore.nn.tracks.TrackAlt`) or REF outputs taken from a track
(:class:`~splicescore.nn.tracks.TrackSlice`). A network that can run tracks incrementally says
so with ``members()`` (``(trunk, head)`` per ensemble member) and ``combine_blocks()`` (the ensemble's
output from its members'). :class:`Engine` picks the path:

``windows``
    every entry as the full window it stands for, through :func:`splicescore.nn.predict.predict`.
``tracks`` (the CPU's reproducible path)
    one (track, member) job per single-threaded worker
    (:func:`splicescore.nn.tracks.compute_tracks`): the same bytes for any ``--threads`` or
    ``--batch-size``.
``batched`` (:func:`splicescore.nn.batched.batched_tracks`, any device)
    REF tracks of one length run together, layer by layer, with the ALT cones of every edit of one
    shape gathered from them and run as one batched step; only the wanted outputs come back.
    Within 1e-6 of full windows (float rounding of different convolution lengths), the official
    strings on every golden file.

``--engine auto`` picks ``tracks`` on the CPU (as fast there, and byte-reproducible) and ``batched``
elsewhere (and for bf16/fp16 on the CPU). Reduced precision (``bf16``/``fp16``) is one scheme on every path
(:mod:`splicescore.nn.precision`). A caller may pass a *reduction* (``engine(net, inputs,
reduce=f)``): ``f`` receives the outputs as tensors on the device and only what it returns comes
to the host (score reductions on the device, :mod:`splicescore.nn.reduce`). This module imports
only torch, numpy and the networks' helpers (no VCF or FASTA libraries), so
``benchmarks/gpu_check.py`` runs it on a bare CUDA image.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import torch

from splicescore.nn.batched import batched_tracks
from splicescore.nn.precision import check_precision
from splicescore.nn.predict import exact_math, is_oom, predict, resolve_device
from splicescore.nn.tracks import TrackAlt, TrackSlice, compute_tracks, compute_windows
from splicescore.nn.transfer import to_device, to_host

log = logging.getLogger("splicescore")

ENGINES = ("auto", "batched", "windows")
#: input positions (tracks) or recomputed cone positions (ALT edits) per batched step when the
#: caller gives no cap: 64 SpliceAI windows at D=50
DEFAULT_POSITIONS = 64 * 10_101

#: ``reduce(outputs) -> result``: ``outputs[i]`` is input ``i``'s output as a tensor on the engine's
#: device (the layout :meth:`Engine.__call__` returns as numpy); ``result`` holds tensors (nested in
#: lists, tuples or dicts) that go to the host as numpy arrays
Reduction = Callable[[list], Any]


def track_path(name: str, device_type: str, precision: str) -> str:
    """``tracks``, ``batched`` or ``windows``: what engine ``name`` runs a network's track inputs on
    (``auto``: the CPU's per-track jobs in exact fp32, the batched engine otherwise)."""
    if name != "auto":
        return name
    # the tracks path is exact fp32 only; reduced precision on tracks is the batched path's
    return "tracks" if device_type == "cpu" and precision == "fp32" else "batched"


def has_tracks(inputs: Sequence) -> bool:
    return any(isinstance(x, (TrackAlt, TrackSlice)) for x in inputs)


class Engine:
    """Runs a chunk's inputs for one network on one device (see module docstring).

    Parameters
    ----------
    name : {"auto", "batched", "windows"}
    device : torch.device or str
    batch_size : int
        Windows per pass on the ``windows`` path (GPU).
    max_positions : int, optional
        Cap per batched step (``windows``: batch x window length; ``batched``: tracks' input
        positions, and ALT edits x their widest cone). A CUDA out-of-memory error halves it and is
        remembered for the rest of the run.
    precision : {"fp32", "bf16", "fp16"}
        ``fp32`` exact. bf16/fp16 on every path: the explicit casts of
        :mod:`splicescore.nn.precision` (convolutions and matrix products in bf16/fp16 with fp32
        accumulation; BatchNorm, residual and skip sums, heads in fp32); non-finite results are
        computed again in fp32 (a chunk on the batched path, a batch of windows otherwise).
    run : callable
        ``predict``-like ``(net, windows, batch_size, device, max_positions) -> outputs`` for plain
        windows (default: :func:`predict` with ``precision``).
    """

    def __init__(self, name: str = "auto", device="cpu", batch_size: int = 64, max_positions: int | None = None,
                 precision: str = "fp32", run: Callable | None = None):
        if name not in ENGINES:
            raise ValueError(f"engine {name!r}: one of {', '.join(ENGINES)}")
        check_precision(precision)
        self.name = name
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.batch_size = batch_size
        self.max_positions = max_positions or DEFAULT_POSITIONS
        self.precision = precision
        self.run = run or (lambda net, xs, bs, dev, mp: predict(net, xs, bs, dev, mp, precision=precision))
        self._own_run = run is None
        self.flops = 0  # trunk convolution FLOPs the batched path ran (2 per multiply-add)

    def path(self, net, inputs: Sequence = ()) -> str:
        """``windows``, ``tracks`` or ``batched``: what :meth:`__call__` runs for ``net``."""
        if not hasattr(net, "members") or (inputs and not has_tracks(inputs)):
            return "windows"
        return track_path(self.name, self.device.type, self.precision)

    def reduces_on_device(self, net, inputs: Sequence) -> bool:
        """Whether a reduction saves anything here: the outputs are on the device (the batched
        path, or any path on a GPU), not already numpy arrays on the host (the CPU's tracks and
        windows paths, whose outputs the scorers reduce in numpy: the same numbers)."""
        return self.path(net, inputs) == "batched" or self.device.type != "cpu"

    def __call__(self, net, inputs: list, reduce: Reduction | None = None):
        """Outputs of ``net`` for ``inputs``: a list of numpy arrays, ``outputs[i]`` for
        ``inputs[i]`` (a :class:`TrackAlt`/:class:`TrackSlice` gets the output of the window it
        stands for). With ``reduce``: ``to_host(reduce(device_outputs))`` instead, the outputs
        never leaving the device (see :data:`Reduction`)."""
        if reduce is None:
            return self._outputs(net, inputs, on_device=False)
        outputs = self._outputs(net, inputs, on_device=True)
        with torch.inference_mode(), exact_math(self.device):
            return to_host(reduce(outputs))

    def _outputs(self, net, inputs: list, on_device: bool) -> list:
        context = getattr(net, "context", None)

        def plain(xs):
            if on_device and self._own_run:
                return predict(net, xs, self.batch_size, self.device, self.max_positions, self.precision,
                               on_device=True)
            ys = self.run(net, xs, self.batch_size, self.device, self.max_positions)
            return [to_device(y, self.device) for y in ys] if on_device else ys

        path = self.path(net, inputs)
        if path == "windows":
            if context is None or not has_tracks(inputs):
                return plain(inputs)
            return compute_windows(inputs, context, plain)
        if path == "tracks":
            out = compute_tracks(inputs, net.members(), net.combine_members, context, plain)
            return [to_device(y, self.device) for y in out] if on_device else out
        return self._batched(net, inputs, plain, on_device)

    def _batched(self, net, inputs: list, plain, on_device: bool = False) -> list:
        keep = {"device_outputs": True} if on_device else {}
        while True:
            try:
                return batched_tracks(inputs, net.members(), net.combine_blocks, net.context, plain, self, **keep)
            except Exception as exc:  # noqa: BLE001 - only out-of-memory errors are retried
                if not is_oom(exc) or self.max_positions <= 1:
                    raise
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                self.max_positions //= 2
                log.warning(f"splicescore: out of memory on {self.device}; batched steps now hold at most "
                            f"{self.max_positions} positions")
