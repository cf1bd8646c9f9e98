"""The one batched inference path shared by every model.

``predict(model, inputs)`` runs one-hot windows of possibly different lengths through a network.
On a GPU windows go in batches that only ever hold windows of one length, so nothing is padded
(SpTransformer's outputs depend on the whole input length; and rounding must not depend on what a
window is batched with). On the CPU each window runs on its own in one of ``torch.get_num_threads()``
single-threaded workers (see :func:`_cpu_windows`): the same bytes for any batch size or thread count.
Sliding models (SpliceAI, Pangolin, SpTransformer) have an integer ``context`` attribute (input
length minus output length); fixed-window models (APARENT2, HAL) have none.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np
import torch

from splicescore.nn.precision import PRECISIONS, check_precision, guarded_forward  # noqa: F401 - PRECISIONS: the CLI's


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Cancelled(Exception):
    """Raised inside network work once :func:`request_stop` was called (the run is stopping)."""


_STOP = threading.Event()


def request_stop() -> None:
    """Make running network work stop at its next window / job (Ctrl-C, or an error elsewhere)."""
    _STOP.set()


def clear_stop() -> None:
    _STOP.clear()


def check_stop() -> None:
    """Raise :class:`Cancelled` when a stop was requested (called between windows and jobs)."""
    if _STOP.is_set():
        raise Cancelled()



_TF32_LOCK = threading.Lock()
_TF32_USERS = [0, None]  # active exact_math contexts, flags to restore after the last one


@contextlib.contextmanager
def exact_math(device: torch.device | str | None = None):
    """TF32 off for cuDNN convolutions and CUDA matmuls while network work runs (every caller:
    the CLI, the engine, tests and scripts that call :func:`predict`); the previous flags come back
    when the last such context on any thread ends. TF32 would round inputs to 10-bit mantissas."""
    with _TF32_LOCK:
        if _TF32_USERS[0] == 0:
            _TF32_USERS[1] = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        _TF32_USERS[0] += 1
    try:
        yield
    finally:
        with _TF32_LOCK:
            _TF32_USERS[0] -= 1
            if _TF32_USERS[0] == 0:
                torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = _TF32_USERS[1]


def is_oom(exc: BaseException) -> bool:
    """A device out-of-memory error: ``torch.cuda.OutOfMemoryError``, or a RuntimeError from cuDNN /
    cuBLAS / the allocator that says so (``CUDNN_STATUS_ALLOC_FAILED``, ``out of memory``)."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    if isinstance(exc, RuntimeError):
        text = str(exc)
        return any(s in text for s in ("CUDNN_STATUS_ALLOC_FAILED", "out of memory", "CUBLAS_STATUS_ALLOC_FAILED"))
    return False


#: per (model, device): the batch size an out-of-memory error reduced it to, kept for the run
_REDUCED: dict = {}


def _batches(order: Sequence[int], lengths: Sequence[int], batch_size: int, max_positions: int | None):
    """Consecutive runs of ``order`` with one length, at most ``batch_size`` windows and
    ``max_positions`` input positions each (a longer window goes alone)."""
    batch: list[int] = []
    for i in order:
        if batch and (
            len(batch) >= batch_size
            or lengths[i] != lengths[batch[0]]
            or (max_positions and lengths[i] * (len(batch) + 1) > max_positions)
        ):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


@torch.inference_mode()
def predict(
    model: torch.nn.Module,
    inputs: Sequence[np.ndarray],
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    max_positions: int | None = None,
    precision: str = "fp32",
    on_device: bool = False,
) -> list:
    """Run ``model`` over one-hot windows in batches.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(B, 4, L)`` float32 to ``(B, C, L - context)`` (sliding models, with an integer
        ``context`` attribute) or ``(B, ...)`` (fixed-window models).
    inputs : sequence of np.ndarray
        Windows ``(L_i, 4)`` in model orientation.
    batch_size : int
        Windows per forward pass.
    device : torch.device or str
    max_positions : int, optional
        Cap on ``batch * padded length`` per pass (bounds memory for long windows).
    precision : {"fp32", "bf16", "fp16"}
        ``fp32`` exact. bf16/fp16: the explicit casts of :mod:`splicescore.nn.precision` (the
        scheme of the batched engine; faster on a GPU, not exact), outputs returned as float32; a
        batch with non-finite outputs is run again in fp32.
    on_device : bool
        Return the outputs as tensors on ``device`` instead of numpy arrays (for a reduction on
        the device, :class:`splicescore.nn.engine.Engine`).

    Returns
    -------
    list of np.ndarray (or torch.Tensor)
        ``outputs[i]`` for ``inputs[i]``: ``(C, L_i - context)`` or the model's per-window output.
    """
    check_precision(precision)
    if not len(inputs):
        return []
    device = torch.device(device) if isinstance(device, str) else device
    context = getattr(model, "context", None)
    lengths = [x.shape[0] for x in inputs]
    if device.type == "cpu":
        out = [_crop(y, n, context) for y, n in zip(_cpu_windows(model, inputs, precision), lengths)]
        return [torch.from_numpy(y) for y in out] if on_device else out
    with exact_math(device):
        return _predict_batched(model, inputs, batch_size, device, max_positions, precision, on_device)


def _predict_batched(model, inputs, batch_size: int, device: torch.device, max_positions: int | None,
                     precision: str = "fp32", on_device: bool = False):
    """Batches of one window length; a CUDA out-of-memory error halves the batch and retries."""
    context = getattr(model, "context", None)
    lengths = [x.shape[0] for x in inputs]
    # windows of one length side by side (stable: input order within a length); results go back to
    # input order
    order = sorted(range(len(inputs)), key=lambda i: -lengths[i])
    outputs: list[np.ndarray | None] = [None] * len(inputs)
    key = (id(model), str(device))
    batch_size = min(max(1, batch_size), _REDUCED.get(key, batch_size))
    pending = list(_batches(order, lengths, batch_size, max_positions))
    forward = model if precision == "fp32" else functools.partial(guarded_forward, model, precision=precision)
    while pending:
        check_stop()
        batch = pending.pop(0)
        try:
            y = _run_batch(forward, [inputs[i] for i in batch], device)
        except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
            if not is_oom(exc) or len(batch) == 1:
                raise
            # free, halve the batch (and remember it for the rest of the run) and retry instead of
            # failing (on a GPU the strings do not depend on batching; values to float rounding)
            del exc
            if device.type == "cuda":
                torch.cuda.empty_cache()
            half = len(batch) // 2
            _REDUCED[key] = min(_REDUCED.get(key, half), half)
            pending[:0] = [batch[:half], batch[half:]]
            continue
        if not on_device:
            y = _host(y)
        for row, i in enumerate(batch):
            outputs[i] = _crop(y[row], lengths[i], context)
    return outputs  # type: ignore[return-value]


def _crop(y, length: int, context: int | None):
    y = y[..., : length - context] if context is not None else y
    return np.ascontiguousarray(y) if isinstance(y, np.ndarray) else y


def _host(y: torch.Tensor) -> np.ndarray:
    # reduced-precision outputs come back as float32; HAL's float64 stays float64
    return (y.float() if y.dtype in (torch.float16, torch.bfloat16) else y).cpu().numpy()


def _run_batch(model, windows: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """One forward pass (GPU) over windows of one length; ``model`` is the network, or the network
    in reduced precision (:func:`~splicescore.nn.precision.guarded_forward`). Outputs stay on the
    device."""
    x = torch.from_numpy(np.stack(windows).astype(np.float32, copy=False)).transpose(1, 2)
    if device.type == "cuda":  # pinned host memory: an asynchronous copy
        x = x.contiguous().pin_memory().to(device, non_blocking=True)
    else:
        x = x.to(device)
    return model(x)


def _cpu_windows(model: torch.nn.Module, windows: Sequence[np.ndarray], precision: str = "fp32") -> list[np.ndarray]:
    """CPU: every window through the network on its own (batch of 1, single-threaded kernels),
    ``torch.get_num_threads()`` windows at a time in worker threads.

    CPU convolution kernels round differently (~1e-12) with the thread count and with a window's
    place in a batch; computed this way every number is the same bytes for any ``--batch-size`` and
    ``--threads``, and for 10-kb windows it is as fast as batched multi-threaded kernels.
    """
    workers = min(torch.get_num_threads(), len(windows))
    previous = torch.get_num_threads()
    try:
        if workers == 1:
            return [_one(model, w, precision) for w in windows]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda w: _one(model, w, precision), windows))
    finally:
        torch.set_num_threads(previous)


def _one(model: torch.nn.Module, window: np.ndarray, precision: str = "fp32") -> np.ndarray:
    check_stop()
    torch.set_num_threads(1)  # per thread: the worker's own OpenMP setting
    x = torch.from_numpy(np.ascontiguousarray(window.T, dtype=np.float32))[None]
    with torch.inference_mode():
        if precision == "fp32":
            return model(x)[0].numpy()
        return guarded_forward(model, x, precision)[0].numpy()
