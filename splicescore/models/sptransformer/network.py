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

The attention and feed-forward of the 8 layers: :mod:`splicescore.models.sptransformer.attention`.

Each trunk is SpliceAI-like (see :mod:`splicescore.nn.trunk`): widths ``11 x 8, 21 x 8``,
dilations ``1, 4, 10, 20`` (4 units each), a skip convolution after every 4th unit, PyTorch
BatchNorm (``eps = 1e-5``). The official model runs it "same"-padded and uses the *uncropped* skip
sum, so the 8192 positions entering the transformer include the ones that read the zero padding.

The outputs at index ``k`` of the ``T = L - 8000`` output positions belong to input position
``4000 + k``; for ``L = 8201`` the centre (input 4100) is output 100.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from splicescore.models.sptransformer.attention import TransformerLayer
from splicescore.models.sptransformer.official import WINDOW_LENGTH
from splicescore.nn.trunk import DilatedResidualTrunk

SPTRANSFORMER_WIDTHS = (11,) * 8 + (21,) * 8
SPTRANSFORMER_DILATIONS = (1,) * 4 + (4,) * 4 + (10,) * 4 + (20,) * 4

#: Official input length: 4000 context on each side of 201 scored positions.
SPTRANSFORMER_INPUT_LENGTH = WINDOW_LENGTH  # 8201


class SpTransformerNet(nn.Module):
    """SpliceTransformer: one-hot ``(B, 4, L)`` -> splice and tissue-usage outputs ``(B, 18, L - 8000)``.

    The input is float one-hot in the official channel order **A, C, G, T** (the official
    ``one_hot_encode``: ``N`` -> all zero; upper-cased first; see
    :func:`splicescore.models.sptransformer.official.one_hot_encode`). Minus-strand windows are fed as
    the reverse complement (the official ``x[::-1, ::-1]``). ``L >= 8192``; the official tool uses
    ``L = 8201`` (4000 context nt on each side of 201 scored positions).

    Output channels: 0 neither, 1 acceptor, 2 donor (softmax over 0-2 in :meth:`forward`), 3-17 the
    tissue usages in :data:`~splicescore.models.sptransformer.official.TISSUE_NAMES` order (sigmoid), as the official driver's
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
