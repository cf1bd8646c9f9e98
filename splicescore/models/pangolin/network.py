"""Pangolin (Zeng & Li 2022, Genome Biology 23:103) as plain ``nn.Module`` s.

Facts used (tkzeng/Pangolin 1.0.2 @5cf94b8, ``pangolin/model.py`` and ``pangolin/pangolin.py``):

* Trunk: the SpliceAI-10k dilated residual trunk (32 channels, ``W = 11x8, 21x4, 41x4``,
  ``AR = 1x4, 4x4, 10x4, 25x4``, a 1x1 skip convolution after every 4th unit, crop of 5,000 on
  each side), with PyTorch's default ``BatchNorm1d`` (``eps=1e-5``). Here it is
  :class:`~splicescore.nn.trunk.DilatedResidualTrunk` with ``bn_eps=1e-5``.
* Heads: eight 1x1 convolutions on the cropped skip sum. For tissue ``t`` = 0..3 (heart, liver,
  brain, testis) ``conv_last{2t+1}`` gives 2 channels passed through a softmax over the pair
  (P(not splice site), P(splice site)) and ``conv_last{2t+2}`` gives 1 channel passed through a
  sigmoid (splice-site usage). The 12 output channels are, in order,
  ``[softmax pair, usage] x 4 tissues``, so channel ``3t + 1`` is tissue ``t``'s P(splice site).
* Input: one-hot ``(B, 4, L)`` with channels A, C, G, T (the official ``IN_MAP``); N (and any
  padding) is all zero. The official code builds the reverse complement itself for minus-strand
  genes (sequence reversed, A<->T, C<->G), so outputs are in *network* orientation: for a minus
  strand they run 3'->5' along the genome and must be reversed before scoring.
* Weights: one file ``final.{replicate}.{head}.3.v2`` = one network (all 8 heads). The official
  command line loads 12 of them, replicate 1..3 for ``head`` 0, 2, 4, 6 (heart, liver, brain,
  testis, in this loop order: tissue outer, replicate inner), and for tissue ``t`` it uses only
  channel ``[1, 4, 7, 10][t]`` of tissue ``t``'s own three networks.
"""

from __future__ import annotations

import torch
from torch import nn

from splicescore.nn.trunk import DilatedResidualTrunk

TISSUES = ("heart", "liver", "brain", "testis")
N_REPLICATES = 3
N_CHANNELS = 3 * len(TISSUES)  # [softmax pair, usage] per tissue
#: output channel of P(splice site) per tissue (the official ``[1, 4, 7, 10][tissue]``)
SPLICE_CHANNELS = tuple(3 * t + 1 for t in range(len(TISSUES)))
#: the ``head`` field of the weight file name per tissue (``final.{replicate}.{head}.3.v2``)
FILE_HEADS = tuple(2 * t for t in range(len(TISSUES)))


def network_index(tissue: int, replicate: int) -> int:
    """Position of network (``tissue`` 0..3, ``replicate`` 1..3) in the official model list.

    The CLI appends models for ``head`` in (0, 2, 4, 6), then ``replicate`` in (1, 2, 3), so the
    index is ``3 * tissue + replicate - 1``.
    """
    if not 0 <= tissue < len(TISSUES) or not 1 <= replicate <= N_REPLICATES:
        raise ValueError(f"no network for tissue {tissue}, replicate {replicate}")
    return N_REPLICATES * tissue + replicate - 1


def weight_file_name(tissue: int, replicate: int) -> str:
    """Official file name of network (``tissue`` 0..3, ``replicate`` 1..3)."""
    network_index(tissue, replicate)  # range check
    return f"final.{replicate}.{FILE_HEADS[tissue]}.3.v2"


class PangolinNet(nn.Module):
    """One Pangolin network (one weight file): one-hot ``(B, 4, L)`` -> ``(B, 12, L - 10000)``.

    Parameters
    ----------
    channels : int
        Trunk width (32 in every published file).
    bn_eps : float
        BatchNorm epsilon; PyTorch's default 1e-5, as in the official model.
    n_tissues : int
        Number of (softmax pair, usage) head pairs (4).
    """

    def __init__(self, channels: int = 32, bn_eps: float = 1e-5, n_tissues: int = len(TISSUES)):
        super().__init__()
        self.trunk = DilatedResidualTrunk(channels=channels, bn_eps=bn_eps)
        self.splice_heads = nn.ModuleList(nn.Conv1d(channels, 2, 1) for _ in range(n_tissues))
        self.usage_heads = nn.ModuleList(nn.Conv1d(channels, 1, 1) for _ in range(n_tissues))

    @property
    def context(self) -> int:
        """Input positions lost in total (10,000)."""
        return self.trunk.context

    def forward(self, x: torch.Tensor, valid: bool = True) -> torch.Tensor:
        """All 12 output channels, in the official order.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, 4, L)`` float one-hot, channels A, C, G, T, ``L > 10000``.
        valid : bool
            Valid convolutions with progressive cropping (default) or the literal same-padded
            architecture; identical numbers.

        Returns
        -------
        torch.Tensor
            ``(B, 12, L - 10000)``: for tissue ``t``, channels ``3t, 3t+1`` are the softmax pair
            (``3t+1`` = P(splice site)) and ``3t+2`` the sigmoid usage.
        """
        feats = self.trunk(x, valid=valid)
        outs = []
        for splice, usage in zip(self.splice_heads, self.usage_heads):
            outs.append(torch.softmax(splice(feats), dim=1))
            outs.append(torch.sigmoid(usage(feats)))
        return torch.cat(outs, dim=1)

    def splice_probability(self, x: torch.Tensor, tissue: int, valid: bool = True) -> torch.Tensor:
        """P(splice site) of one tissue head, ``(B, L - 10000)``; channel ``3 * tissue + 1`` of
        :meth:`forward` computed without the other heads."""
        feats = self.trunk(x, valid=valid)
        return torch.softmax(self.splice_heads[tissue](feats), dim=1)[:, 1]


class PangolinEnsemble(nn.Module):
    """The 12 networks of the official command line.

    ``nets[3 * tissue + replicate - 1]`` holds ``final.{replicate}.{2 * tissue}.3.v2``
    (see :func:`network_index`).

    :meth:`forward` returns what the scorer needs, *not* averaged: the official score takes, per
    replicate, alt - ref after aligning indels (an insertion takes a max over the inserted span of
    each replicate's alt output before the mean over replicates), so averaging first would not be
    exact. Feed the result, flipped to genomic orientation, to
    :func:`splicescore.models.pangolin.official.per_tissue_delta`.
    """

    def __init__(self, n_tissues: int = len(TISSUES), n_replicates: int = N_REPLICATES):
        super().__init__()
        self.n_tissues = n_tissues
        self.n_replicates = n_replicates
        self.nets = nn.ModuleList(PangolinNet() for _ in range(n_tissues * n_replicates))

    @property
    def context(self) -> int:
        return self.nets[0].context

    def forward(self, x: torch.Tensor, valid: bool = True) -> torch.Tensor:
        """P(splice site) per replicate and tissue, network orientation.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, 4, L)`` one-hot (A, C, G, T), already reverse-complemented for a minus strand.

        Returns
        -------
        torch.Tensor
            ``(B, 3, 4, L - 10000)``: ``[:, r - 1, t]`` is channel ``3t + 1`` of network
            ``final.{r}.{2t}.3.v2``.

        Notes
        -----
        The receptive field is exactly 10,001 nt, so sequences of different lengths can share a
        batch right-padded with all-zero columns: the first ``len - 10000`` outputs of each row
        are those of the unpadded sequence (the rest are to be dropped).
        """
        rows = []
        for r in range(self.n_replicates):
            cols = [
                self.nets[self.n_replicates * t + r].splice_probability(x, t, valid=valid)
                for t in range(self.n_tissues)
            ]
            rows.append(torch.stack(cols, dim=1))
        return torch.stack(rows, dim=1)

    def members(self) -> list[tuple[nn.Module, object]]:
        """``(trunk, head)`` per network in official order, ``head`` mapping trunk features
        ``(1, C, n)`` to that network's own tissue P(splice site) ``(1, n)`` (what :meth:`forward`
        takes from it); for :func:`splicescore.nn.tracks.compute_tracks`."""
        out = []
        for k, net in enumerate(self.nets):
            tissue = k // self.n_replicates
            out.append((net.trunk, lambda f, net=net, t=tissue: torch.softmax(net.splice_heads[t](f), dim=1)[:, 1]))
        return out

    def stack_members(self, parts: list) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Per-network ``(ref (n,), [alt (n_j,), ...])`` results in official order -> the layout of
        :meth:`forward`: REF ``(3, 4, n)`` and each ALT ``(3, 4, n_j)``."""

        def layout(get):
            return torch.stack([
                torch.stack([get(parts[self.n_replicates * t + r]) for t in range(self.n_tissues)])
                for r in range(self.n_replicates)
            ])

        ref = layout(lambda part: part[0])
        alts = [layout(lambda part, j=j: part[1][j]) for j in range(len(parts[0][1]))]
        return ref, alts

    def combine_members(self, parts: list):
        """:meth:`stack_members` (the name the track engines call)."""
        return self.stack_members(parts)

    def combine_blocks(self, parts: list) -> list:
        """Per network a list of output blocks ``(B_k, n_k)`` -> blocks ``(B_k, 3, 4, n_k)`` in the
        layout of :meth:`forward` (batch first)."""
        ref, alts = self.stack_members([(p[0], list(p[1:])) for p in parts])
        return [b.movedim(2, 0) for b in [ref] + list(alts)]

    def forward_raw(self, x: torch.Tensor, valid: bool = True) -> torch.Tensor:
        """All 12 channels of every network, ``(12 networks, B, 12, L - 10000)``, networks in the
        official order (index ``3 * tissue + replicate - 1``)."""
        return torch.stack([net(x, valid=valid) for net in self.nets])
