"""The transformer layers of SpliceTransformer: mixed local / Sinkhorn self-attention and the
chunked feed-forward, as plain ``nn.Module``s (eval mode of ``lucidrains/sinkhorn-transformer`` 0.11.4
and ``lucidrains/local-attention`` 1.9.3; see :mod:`splicescore.models.sptransformer.network` for the
sources and the whole network).

Attention (``SinkhornSelfAttention``, 8 heads of 32 channels, head ``h`` = channels ``32h..32h+31``;
``q = to_q(x)``, ``k, v = to_kv(x)`` halves, both without bias; ``to_out`` with bias):

* heads 0-1, *local*: query window ``w`` (64 positions) attends to windows ``w-1, w, w+1`` (missing
  windows at the ends get zero weight); ``softmax((q / sqrt(32)) k^T) v``.
* heads 2-7, *Sinkhorn* with ``non_permutative=True``: bucket means ``sq, sk`` (128 buckets of 64),
  ``R = sq sk^T / sqrt(32)``; ``P = softmax(R)`` over key buckets; each query bucket ``u`` picks
  ``j* = argmax P`` with weight ``s = max P`` (``differentiable_topk(k=1)``; no Gumbel noise, no
  Sinkhorn iterations, no temperature in eval). Keys are ``cat[s K[j*], K[u]]`` and values
  ``cat[s K[j*], V[u]]``: in sinkhorn-transformer 0.11.4 the reordered *values* are built from the
  reordered *keys* (``b_v_r = b_k_r.reshape(...)``), which the port reproduces. Attention is
  ``softmax(q k^T / sqrt(32)) v`` over those 128 entries (scale after the product). No masks.
* the outputs of the 8 heads are concatenated in head order and projected by ``to_out``.

Feed-forward: ``Linear(256, 1024) -> GELU (erf) -> Linear(1024, 256)``, evaluated in 10 chunks
along the sequence like the official ``Chunk(10, ...)``. All LayerNorms: ``eps = 1e-5``, affine.
Dropout, LayerDrop and Gumbel sampling only act in training and are absent here; the forward is
deterministic. The 8192 positions are exactly 128 buckets of 64, so nothing is padded.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


def _blocks(t: torch.Tensor, size: int) -> torch.Tensor:
    """``(B, H, T, d)`` -> ``(B, H, T // size, size, d)``: consecutive blocks of ``size`` positions."""
    b, h, n, d = t.shape
    return t.reshape(b, h, n // size, size, d)


def _look_around(t: torch.Tensor) -> torch.Tensor:
    """``(..., W, n, d)`` windows -> ``(..., W, 3n, d)``: windows ``w-1, w, w+1`` (zeros off the ends)."""
    pad = [0, 0] * 2 + [1, 1]
    padded = F.pad(t, pad)
    w = t.shape[-3]
    return torch.cat([padded[..., i : i + w, :, :] for i in range(3)], dim=-2)


def local_window_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int) -> torch.Tensor:
    """Non-causal local attention, one window back and one forward (``local-attention`` 1.9.3).

    Parameters
    ----------
    q, k, v : torch.Tensor
        ``(B, H, T, d)`` with ``T % window == 0``.
    window : int

    Returns
    -------
    torch.Tensor
        ``(B, H, T, d)``.
    """
    d = q.shape[-1]
    bq = _blocks(q, window) * d**-0.5
    bk = _look_around(_blocks(k, window))
    bv = _look_around(_blocks(v, window))
    nw = bq.shape[2]
    sim = torch.matmul(bq, bk.transpose(-1, -2))
    # key j of window w comes from window w - 1 + j // window; windows -1 and nw do not exist
    src = torch.arange(nw, device=q.device)[:, None] - 1 + torch.arange(3 * window, device=q.device)[None] // window
    outside = (src < 0) | (src >= nw)
    sim = sim.masked_fill(outside[:, None, :], -torch.finfo(sim.dtype).max)
    return torch.matmul(sim.softmax(dim=-1), bv).reshape(q.shape)


def sinkhorn_bucket_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bucket_size: int, record: dict | None = None
) -> torch.Tensor:
    """Non-causal, non-permutative Sinkhorn attention of sinkhorn-transformer 0.11.4 (eval mode).

    Parameters
    ----------
    q, k, v : torch.Tensor
        ``(B, S, T, d)`` (``S`` Sinkhorn heads) with ``T % bucket_size == 0``.
    bucket_size : int
        Query and key/value bucket size (64).
    record : dict, optional
        If given, receives ``sort_logits`` ``(B, S, nb, nb)`` (``R``), ``sort_idx`` ``(B, S, nb)``
        (the selected key bucket ``j*``) and ``sort_val`` ``(B, S, nb)`` (``s``).

    Returns
    -------
    torch.Tensor
        ``(B, S, T, d)``.
    """
    b, s, t, d = q.shape
    nb = t // bucket_size
    bq, bk, bv = (_blocks(z, bucket_size) for z in (q, k, v))

    # AttentionSortNet: bucket means, scaled dot products between all query and key buckets
    r = torch.matmul(bq.mean(dim=3), bk.mean(dim=3).transpose(-1, -2)) * d**-0.5
    # differentiable_topk(k=1, temperature=1): softmax over key buckets, keep the largest entry
    val, idx = r.softmax(dim=-1).topk(1, dim=-1)
    if record is not None:
        record["sort_logits"] = r
        record["sort_idx"] = idx[..., 0]
        record["sort_val"] = val[..., 0]

    # reorder_buckets with a one-hot x s matrix == s * (selected bucket), exactly
    gather_idx = idx[..., None].expand(b, s, nb, bucket_size, d)
    chosen = torch.gather(bk, 2, gather_idx) * val[..., None]
    keys = torch.cat((chosen, bk), dim=3)
    values = torch.cat((chosen, bv), dim=3)  # library behaviour: selected *keys* serve as values

    dots = torch.matmul(bq, keys.transpose(-1, -2)) * d**-0.5
    return torch.matmul(dots.softmax(dim=-1), values).reshape(b, s, t, d)


class SinkhornSelfAttention(nn.Module):
    """Mixed local / Sinkhorn multi-head self-attention: ``(B, T, dim)`` -> ``(B, T, dim)``.

    Parameters
    ----------
    dim : int
        Model width (256).
    heads : int
        Total heads (8); ``dim_head = dim // heads``.
    n_local_heads : int
        The first ``n_local_heads`` heads are local-window heads (2), the rest Sinkhorn heads.
    bucket_size : int
        Local window and Sinkhorn bucket size (64).
    """

    def __init__(self, dim: int = 256, heads: int = 8, n_local_heads: int = 2, bucket_size: int = 64):
        super().__init__()
        if dim % heads:
            raise ValueError("dim must be divisible by heads")
        if not 0 <= n_local_heads <= heads:
            raise ValueError("n_local_heads must lie in [0, heads]")
        self.heads = heads
        self.n_local_heads = n_local_heads
        self.bucket_size = bucket_size
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, record: dict | None = None) -> torch.Tensor:
        b, t, dim = x.shape
        if t % self.bucket_size:
            raise ValueError(f"sequence length {t} is not a multiple of the bucket size {self.bucket_size}")
        h, nl = self.heads, self.n_local_heads
        k, v = self.to_kv(x).chunk(2, dim=-1)

        def split(z: torch.Tensor) -> torch.Tensor:
            return z.reshape(b, t, h, dim // h).transpose(1, 2)

        q, k, v = split(self.to_q(x)), split(k), split(v)
        out = []
        if nl > 0:
            out.append(local_window_attention(q[:, :nl], k[:, :nl], v[:, :nl], self.bucket_size))
        if nl < h:
            out.append(sinkhorn_bucket_attention(q[:, nl:], k[:, nl:], v[:, nl:], self.bucket_size, record))
        out = torch.cat(out, dim=1).transpose(1, 2).reshape(b, t, dim)
        return self.to_out(out)


class FeedForward(nn.Module):
    """``Linear(dim, mult*dim) -> GELU (erf) -> Linear(mult*dim, dim)``, run in ``chunks`` pieces along T."""

    def __init__(self, dim: int = 256, mult: int = 4, chunks: int = 10):
        super().__init__()
        self.chunks = chunks
        self.w1 = nn.Linear(dim, dim * mult)
        self.w2 = nn.Linear(dim * mult, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # contiguous chunks: for B > 1 a chunk along T is a strided view, and F.linear on a strided
        # input takes another GEMM path whose rounding depends on the batch size
        parts = [p.contiguous() for p in x.chunk(self.chunks, dim=1)]
        return torch.cat([self.w2(F.gelu(self.w1(p))) for p in parts], dim=1)


class TransformerLayer(nn.Module):
    """``x + Attn(LN(x))`` then ``+ FF(LN(x))`` (pre-norm, not reversible)."""

    def __init__(self, dim: int, heads: int, n_local_heads: int, bucket_size: int, ff_mult: int, ff_chunks: int,
                 ln_eps: float):  # the hyper-parameters are SpTransformerNet's (one place for their values)
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim, eps=ln_eps)
        self.attn = SinkhornSelfAttention(dim, heads, n_local_heads, bucket_size)
        self.ff_norm = nn.LayerNorm(dim, eps=ln_eps)
        self.ff = FeedForward(dim, ff_mult, ff_chunks)

    def forward(self, x: torch.Tensor, record: dict | None = None) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), record)
        if record is not None:
            record["mid"] = x
        return x + self.ff(self.ff_norm(x))
