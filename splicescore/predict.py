"""The one batched inference path shared by every model.

``predict(model, inputs)`` runs one-hot windows of possibly different lengths through a network in
batches. Windows of one batch are right-padded with zeros (N) to a common length. For the sliding
models (SpliceAI, Pangolin) an output position only sees its own ``context + 1`` input positions, so
the padding never reaches the outputs that are kept: output ``i`` is cut back to
``len(inputs[i]) - model.context`` positions. Fixed-window models (APARENT2, HAL) have no
``context`` attribute and get windows of one length.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _batches(order: Sequence[int], lengths: Sequence[int], batch_size: int, max_positions: int | None):
    batch: list[int] = []
    for i in order:
        longest = max([lengths[j] for j in batch] + [lengths[i]])
        if batch and (len(batch) >= batch_size or (max_positions and longest * (len(batch) + 1) > max_positions)):
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
) -> list[np.ndarray]:
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

    Returns
    -------
    list of np.ndarray
        ``outputs[i]`` for ``inputs[i]``: ``(C, L_i - context)`` or the model's per-window output.
    """
    if not len(inputs):
        return []
    device = torch.device(device) if isinstance(device, str) else device
    context = getattr(model, "context", None)
    lengths = [x.shape[0] for x in inputs]
    # longest first keeps padding small; results go back to input order
    order = sorted(range(len(inputs)), key=lambda i: -lengths[i])
    outputs: list[np.ndarray | None] = [None] * len(inputs)
    pending = list(_batches(order, lengths, max(1, batch_size), max_positions))
    while pending:
        batch = pending.pop(0)
        try:
            y = _run_batch(model, [inputs[i] for i in batch], device)
        except torch.cuda.OutOfMemoryError:
            if len(batch) == 1:
                raise
            # halve the batch and retry instead of failing (the numbers do not depend on batching)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            half = len(batch) // 2
            pending[:0] = [batch[:half], batch[half:]]
            continue
        for row, i in enumerate(batch):
            out = y[row, ..., : lengths[i] - context] if context is not None else y[row]
            outputs[i] = np.ascontiguousarray(out)
    return outputs  # type: ignore[return-value]


def _run_batch(model: torch.nn.Module, windows: list[np.ndarray], device: torch.device) -> np.ndarray:
    """One forward pass over windows right-padded with zeros to a common length."""
    width = max(w.shape[0] for w in windows)
    x = np.zeros((len(windows), width, 4), dtype=np.float32)
    for row, w in enumerate(windows):
        x[row, : w.shape[0]] = w
    xt = torch.from_numpy(x).to(device).transpose(1, 2)
    return model(xt).cpu().numpy()
