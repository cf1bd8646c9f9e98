"""SpliceTransformer ("SpTransformer", You et al. 2024, Nat. Commun. 15:9129) as plain ``nn.Module``s.

Facts used (all read, none copied):

* ``ShenLab-Genomics/SpliceTransformer@b67a51d`` ``model/model.py`` (unchanged since ``78b0449``,
  2024-07-01): classes ``SpTransformer``, ``SpEncoder_L``, ``SpEncoder2_L``, ``ResBlock`` and
  ``AttnBlock``; ``tasks_annotate_mutations.py``: ``one_hot_encode``, ``SpTransformerDriver``
  (``SpTransformer(128, context_len=4000, tissue_num=15, max_seq_len=8192, attn_depth=8)``) and its
  ``post_decorate``.
* ``lucidrains/sinkhorn-transformer`` 0.11.4 (commit ``531bdbe``, identical to the tag):
  ``SinkhornTransformer``, ``SinkhornSelfAttention``, ``SinkhornAttention``, ``AttentionSortNet``,
  ``differentiable_topk``, ``SequentialSequence``, ``PreNorm``, ``Chunk``, ``FeedForward``.
* ``lucidrains/local-attention`` 1.9.3 ``LocalAttention`` (window 64, one window back and one forward,
  no rotary embedding, scale applied to the queries before the dot product).
* ``lucidrains/axial-positional-embedding`` 0.2.1 (summed axial embedding, shape (128, 64)).
* ``../shared/golden/sptransformer/README.md`` Section 2 (the same facts, checked by the kit's authors).

Architecture (input length ``L``; the official tool always uses ``L = 8201``)::

    x (B, 4, L) one-hot, channels A, C, G, T; N = all zero
    enc0 = dilated residual trunk, 128 ch, "same" padding, uncropped   (B, 128, L)
    enc1 = dilated residual trunk,  64 ch, "same" padding, uncropped   (B,  64, L)
    direct = Conv1d(128,128,1)(Conv1d(4,128,1)(x))  (no activation)  (B, 128, L)
    crop all three to the central 8192 positions: drop ceil((L-8192)/2) on the left
    h = Conv1d(320, 256, 1)(cat[enc0, enc1, direct])                  (B, 256, 8192)
    h = h^T + axial positional embedding (rows[p // 64] + cols[p % 64])
    8 x { h = h + Attn(LN(h));  h = h + FF(LN(h)) }                   (pre-norm, sequential)
    h = LN(h)^T
    logits = cat[Conv1d(256,3,1)(h), Conv1d(256,15,1)(h)]             (B, 18, 8192)
    crop to the central L - 8000 positions (drop (8192 - T - 1) // 2 on the left for odd L)

Each trunk is SpliceAI-like (see :mod:`splicescore.nn.trunk`): widths ``11 x 8, 21 x 8``,
dilations ``1, 4, 10, 20`` (4 units each), a skip convolution after every 4th unit, PyTorch
BatchNorm (``eps = 1e-5``). The official model runs it "same"-padded and uses the *uncropped* skip
sum, so the 8192 positions entering the transformer include the ones that read the zero padding.

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

The outputs at index ``k`` of the ``T = L - 8000`` output positions belong to input position
``4000 + k``; for ``L = 8201`` the centre (input 4100) is output 100.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F

from splicescore.nn.trunk import DilatedResidualTrunk
from splicescore.models.sptransformer.official import TISSUE_NAMES, WINDOW_LENGTH  # noqa: F401  (re-exported)

SPTRANSFORMER_WIDTHS = (11,) * 8 + (21,) * 8
SPTRANSFORMER_DILATIONS = (1,) * 4 + (4,) * 4 + (10,) * 4 + (20,) * 4

#: Official input length: 4000 context on each side of 201 scored positions.
SPTRANSFORMER_INPUT_LENGTH = WINDOW_LENGTH  # 8201


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
    b, h, t, d = q.shape
    nw = t // window
    bq = q.reshape(b, h, nw, window, d) * d**-0.5
    bk = _look_around(k.reshape(b, h, nw, window, d))
    bv = _look_around(v.reshape(b, h, nw, window, d))
    sim = torch.matmul(bq, bk.transpose(-1, -2))
    # key j of window w comes from window w - 1 + j // window; windows -1 and nw do not exist
    src = torch.arange(nw, device=q.device)[:, None] - 1 + torch.arange(3 * window, device=q.device)[None] // window
    outside = (src < 0) | (src >= nw)
    sim = sim.masked_fill(outside[:, None, :], -torch.finfo(sim.dtype).max)
    return torch.matmul(sim.softmax(dim=-1), bv).reshape(b, h, t, d)


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
    bq = q.reshape(b, s, nb, bucket_size, d)
    bk = k.reshape(b, s, nb, bucket_size, d)
    bv = v.reshape(b, s, nb, bucket_size, d)

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

    def __init__(
        self,
        dim: int = 256,
        heads: int = 8,
        n_local_heads: int = 2,
        bucket_size: int = 64,
        ff_mult: int = 4,
        ff_chunks: int = 10,
        ln_eps: float = 1e-5,
    ):
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


class SpTransformerNet(nn.Module):
    """SpliceTransformer: one-hot ``(B, 4, L)`` -> splice and tissue-usage outputs ``(B, 18, L - 8000)``.

    The input is float one-hot in the official channel order **A, C, G, T** (the official
    ``one_hot_encode``: ``N`` -> all zero; upper-cased first; see
    :func:`splicescore.models.sptransformer.official.one_hot_encode`). Minus-strand windows are fed as
    the reverse complement (the official ``x[::-1, ::-1]``). ``L >= 8192``; the official tool uses
    ``L = 8201`` (4000 context nt on each side of 201 scored positions).

    Output channels: 0 neither, 1 acceptor, 2 donor (softmax over 0-2 in :meth:`forward`), 3-17 the
    tissue usages in :data:`TISSUE_NAMES` order (sigmoid), as the official driver's
    ``post_decorate`` returns them; :meth:`logits` gives the raw model output.

    Parameters
    ----------
    encoder_channels : sequence of int
        Widths of the two frozen SpliceAI-style encoders (128, 64).
    direct_channels : int
        Width of the trainable one-hot path (128; the official ``dim``).
    model_dim : int
        Transformer width (256 = 2 * dim).
    depth, heads, n_local_heads, bucket_size, ff_mult, ff_chunks
        Sinkhorn transformer settings (8, 8, 2, 64, 4, 10).
    max_seq_len : int
        Positions entering the transformer (8192); the axial embedding has shape
        ``(max_seq_len // bucket_size, bucket_size)``.
    context : int
        Context removed on each side of the output (4000). Stored as ``flank``; the attribute
        ``context`` is the total ``L_in - L_out = 2 * flank`` (8000), as
        :func:`splicescore.nn.predict.predict` expects of every sliding model.
    n_tissues : int
        15.
    bn_eps, ln_eps : float
        BatchNorm and LayerNorm epsilons (PyTorch defaults, 1e-5).
    """

    def __init__(
        self,
        encoder_channels: Sequence[int] = (128, 64),
        direct_channels: int = 128,
        model_dim: int = 256,
        depth: int = 8,
        heads: int = 8,
        n_local_heads: int = 2,
        bucket_size: int = 64,
        ff_mult: int = 4,
        ff_chunks: int = 10,
        max_seq_len: int = 8192,
        context: int = 4000,
        n_tissues: int = 15,
        bn_eps: float = 1e-5,
        ln_eps: float = 1e-5,
    ):
        super().__init__()
        if max_seq_len % bucket_size:
            raise ValueError("max_seq_len must be a multiple of bucket_size")
        self.max_seq_len = max_seq_len
        self.bucket_size = bucket_size
        self.flank = context
        #: input minus output length (both sides), read by :func:`splicescore.nn.predict.predict`
        self.context = 2 * context
        # every output depends on the input length (the 8,192-position crop is centred), so
        # right-padding would change outputs; predict() never pads (batches hold one length)
        self.n_tissues = n_tissues
        self.encoders = nn.ModuleList(
            DilatedResidualTrunk(
                channels=c,
                widths=SPTRANSFORMER_WIDTHS,
                dilations=SPTRANSFORMER_DILATIONS,
                group_size=4,
                bn_eps=bn_eps,
            )
            for c in encoder_channels
        )
        self.direct_in = nn.Conv1d(4, direct_channels, 1)
        self.direct_mix = nn.Conv1d(direct_channels, direct_channels, 1)
        self.fuse = nn.Conv1d(sum(encoder_channels) + direct_channels, model_dim, 1)
        self.pos_rows = nn.Parameter(torch.zeros(max_seq_len // bucket_size, model_dim))
        self.pos_cols = nn.Parameter(torch.zeros(bucket_size, model_dim))
        self.layers = nn.ModuleList(
            TransformerLayer(model_dim, heads, n_local_heads, bucket_size, ff_mult, ff_chunks, ln_eps)
            for _ in range(depth)
        )
        self.final_norm = nn.LayerNorm(model_dim, eps=ln_eps)
        self.splice_head = nn.Conv1d(model_dim, 3, 1)
        self.usage_head = nn.Conv1d(model_dim, n_tissues, 1)

    def output_length(self, length: int) -> int:
        """Number of output positions ``T = L - 2 * flank`` for input length ``L``."""
        return length - 2 * self.flank

    def _check_length(self, length: int) -> None:
        t = self.output_length(length)
        if length < self.max_seq_len or not 0 < t <= self.max_seq_len:
            raise ValueError(
                f"input length {length} unsupported: need {self.max_seq_len} <= L <= "
                f"{self.max_seq_len + 2 * self.flank} (the official tool uses {SPTRANSFORMER_INPUT_LENGTH})"
            )

    def positional_embedding(self) -> torch.Tensor:
        """Summed axial embedding ``(max_seq_len, model_dim)``: ``rows[p // 64] + cols[p % 64]``."""
        return (self.pos_rows[:, None, :] + self.pos_cols[None, :, :]).reshape(self.max_seq_len, -1)

    def _run(self, x: torch.Tensor, rec: dict | None, stream_positions: slice | None) -> torch.Tensor:
        length = x.shape[-1]
        self._check_length(length)
        odd = length & 1
        feats = [enc(x, valid=False, crop=False) for enc in self.encoders]
        if rec is not None:
            rec["encoder_features"] = feats
        direct = self.direct_mix(self.direct_in(x))
        # official crop to max_seq_len: F.pad(t, (-(L-M)//2, -(L-M)//2 + odd)) in Python arithmetic
        left = -(-(length - self.max_seq_len) // 2)
        right = left - odd
        emb = torch.cat([*feats, direct], dim=1)[..., left : length - right]
        h = self.fuse(emb)
        if rec is not None:
            rec["transformer_input"] = h
        h = h.transpose(1, 2) + self.positional_embedding()
        stream = []
        sort = {"sort_logits": [], "sort_idx": [], "sort_val": []}

        def keep(z: torch.Tensor) -> None:
            if rec is not None:
                stream.append(z if stream_positions is None else z[:, stream_positions])

        for layer in self.layers:
            keep(h)
            lrec = {} if rec is not None else None
            h = layer(h, lrec)
            if lrec is not None:
                keep(lrec.pop("mid"))
                for key in sort:
                    if key in lrec:
                        sort[key].append(lrec[key])
        keep(h)
        h = self.final_norm(h)
        keep(h)
        h = h.transpose(1, 2)
        out = torch.cat([self.splice_head(h), self.usage_head(h)], dim=1)
        t = self.output_length(length)
        drop_right = -(-(self.max_seq_len - t) // 2)
        drop_left = drop_right - odd
        out = out[..., drop_left : self.max_seq_len - drop_right].contiguous()
        if rec is not None:
            rec["stream"] = torch.stack(stream, dim=1)
            for key, values in sort.items():
                if values:
                    rec[key] = torch.stack(values, dim=1)
        return out

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Raw model output ``(B, 3 + n_tissues, L - 8000)`` before softmax/sigmoid."""
        return self._run(x, None, None)

    @staticmethod
    def activate(raw: torch.Tensor) -> torch.Tensor:
        """Official ``post_decorate``: softmax over channels 0-2, sigmoid on the tissue channels.

        Applied one window at a time, like the official single-sequence path: a softmax over
        ``dim=1`` of a ``(B, 3, T)`` view takes a batch-size dependent kernel path on CPU, and the
        results would then differ in the last bit between batch sizes.
        """
        outs = []
        for one in raw.contiguous().split(1, dim=0):
            outs.append(torch.cat([one[:, :3].softmax(dim=1), torch.sigmoid(one[:, 3:])], dim=1))
        return torch.cat(outs, dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities ``(B, 18, L - 8000)``: (neither, acceptor, donor) softmax, then 15 usages.

        Parameters
        ----------
        x : torch.Tensor
            Float one-hot ``(B, 4, L)``, channels A, C, G, T.
        """
        return self.activate(self._run(x, None, None))

    def forward_intermediates(self, x: torch.Tensor, stream_positions: slice | None = None) -> dict:
        """Outputs plus the intermediate tensors the parity kit holds (for tests and debugging).

        Parameters
        ----------
        x : torch.Tensor
            ``(B, 4, L)``.
        stream_positions : slice, optional
            Positions (of the 8192) of the residual stream to keep; all when ``None`` (large).

        Returns
        -------
        dict
            ``raw`` and ``probs`` ``(B, 18, T)``; ``encoder_features`` list of ``(B, C_i, L)``;
            ``transformer_input`` ``(B, 256, 8192)``; ``stream`` ``(B, 2 * depth + 2, P, 256)``
            (entry ``2i`` enters layer ``i``'s attention, ``2i + 1`` its feed-forward,
            ``2 * depth`` leaves the last layer, ``2 * depth + 1`` after the final LayerNorm);
            ``sort_logits`` ``(B, depth, S, nb, nb)``, ``sort_idx`` and ``sort_val``
            ``(B, depth, S, nb)`` for the ``S`` Sinkhorn heads.
        """
        rec: dict = {}
        raw = self._run(x, rec, stream_positions)
        rec["raw"] = raw
        rec["probs"] = self.activate(raw)
        return rec
