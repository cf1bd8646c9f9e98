"""Host <-> device transfers of the engine: inputs as base codes, pinned non-blocking copies,
outputs back as numpy (reduced-precision tensors as float32, float64 kept)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def base_codes(x: np.ndarray) -> np.ndarray | None:
    """Base codes ``(L,)`` uint8 (0..3 = A, C, G, T; 4 = N) of a strict one-hot ``(L, 4)``, else None."""
    if x.ndim != 2 or x.shape[1] != 4:
        return None
    s = x.sum(axis=1)
    if not (np.all((x == 0) | (x == 1)) and np.all(s <= 1)):
        return None
    return np.where(s > 0, x.argmax(axis=1), 4).astype(np.uint8)


def to_device_onehot(windows: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    """``(B, 4, L)`` float32 on ``device`` from one-hot windows ``(L, 4)`` of one length. On a GPU
    the windows travel as uint8 base codes (16x fewer bytes) through pinned memory, non-blocking,
    and are one-hot encoded there; anything not strictly one-hot travels as float32."""
    if device.type == "cpu":
        return torch.from_numpy(np.ascontiguousarray(np.stack(windows).transpose(0, 2, 1), dtype=np.float32))
    codes = [base_codes(w) for w in windows]
    if any(c is None for c in codes):
        host = torch.from_numpy(np.ascontiguousarray(np.stack(windows).transpose(0, 2, 1), dtype=np.float32))
        return upload(host, device)
    idx = upload(torch.from_numpy(np.stack(codes)), device).long()
    eye = torch.eye(5, 4, device=device, dtype=torch.float32)  # row 4 (N) all zero
    return eye[idx].transpose(1, 2).contiguous()


def upload(host: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``host`` on ``device`` (pinned and non-blocking to a GPU)."""
    if device.type == "cuda":
        return host.pin_memory().to(device, non_blocking=True)
    return host.to(device)


def download(t: torch.Tensor) -> np.ndarray:
    """``t`` as a numpy array (bf16/fp16 as float32; other dtypes kept)."""
    t = t.detach()
    return (t.float() if t.dtype in (torch.float16, torch.bfloat16) else t).cpu().numpy()


def to_host(value):
    """``value`` with every tensor in it (nested lists, tuples, dicts) replaced by :func:`download`."""
    if isinstance(value, torch.Tensor):
        return download(value)
    if isinstance(value, dict):
        return {k: to_host(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_host(v) for v in value)
    return value


def to_device(value, device: torch.device) -> torch.Tensor:
    """A host output (numpy) as a tensor on ``device`` (a tensor passes through)."""
    if isinstance(value, torch.Tensor):
        return value.to(device)
    return upload(torch.from_numpy(np.ascontiguousarray(value)), device)
