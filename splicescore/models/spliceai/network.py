"""SpliceAI-10k (Jaganathan et al. 2019) as a plain ``nn.Module``.

Facts used: the trunk described in :mod:`splicescore.nn.trunk` with 32 channels and Keras 2
BatchNorm (``eps=1e-3``), followed by a 1x1 convolution to 3 channels and a softmax over
(neither, acceptor, donor). The published tool averages the softmax outputs of 5 independently
trained replicas (``spliceai1.h5`` ... ``spliceai5.h5``).
"""

from __future__ import annotations

import torch
from torch import nn

from splicescore.nn.trunk import DilatedResidualTrunk

N_REPLICAS = 5


class SpliceAINet(nn.Module):
    """One SpliceAI-10k replica: one-hot ``(B, 4, L)`` -> probabilities ``(B, 3, L - 10000)``."""

    def __init__(self, channels: int = 32, bn_eps: float = 1e-3):
        super().__init__()
        self.trunk = DilatedResidualTrunk(channels=channels, bn_eps=bn_eps)
        self.head = nn.Conv1d(channels, 3, 1)

    @property
    def context(self) -> int:
        return self.trunk.context

    def forward(self, x: torch.Tensor, valid: bool = True) -> torch.Tensor:
        return torch.softmax(self.head(self.trunk(x, valid=valid)), dim=1)


class SpliceAIEnsemble(nn.Module):
    """The replicas of SpliceAI, averaged after the softmax.

    ``forward`` maps one-hot ``(B, 4, L)`` (A, C, G, T channels; N all zero) to the mean
    probabilities ``(B, 3, L - 10000)`` over (neither, acceptor, donor).
    """

    def __init__(self, n_replicas: int = N_REPLICAS):
        super().__init__()
        self.replicas = nn.ModuleList(SpliceAINet() for _ in range(n_replicas))

    @property
    def context(self) -> int:
        return self.replicas[0].context

    def forward_replicas(self, x: torch.Tensor, valid: bool = True) -> torch.Tensor:
        """Per-replica probabilities ``(R, B, 3, L - 10000)``."""
        return torch.stack([m(x, valid=valid) for m in self.replicas])

    def members(self) -> list:
        """``(trunk, head)`` per replica for the track engines (:mod:`splicescore.nn.engine`): ``head``
        maps trunk features ``(B, C, n)`` to that replica's probabilities ``(B, 3, n)``."""
        from splicescore.nn.incremental import spliceai_head

        return [(r.trunk, spliceai_head(r)) for r in self.replicas]

    def combine_members(self, parts: list):
        """Per-replica ``(ref, [alt, ...])`` -> their mean, summed in replica order as :meth:`forward`."""
        from splicescore.nn.incremental import combine_replicas

        return combine_replicas(parts)

    def combine_blocks(self, parts: list) -> list:
        """Per replica a list of output blocks ``(B_k, 3, n_k)`` -> the mean blocks (replica order)."""
        ref, alts = self.combine_members([(p[0], list(p[1:])) for p in parts])
        return [ref] + list(alts)

    def forward(self, x: torch.Tensor, valid: bool = True) -> torch.Tensor:
        out = self.replicas[0](x, valid=valid)
        for m in self.replicas[1:]:
            out = out + m(x, valid=valid)
        return out / len(self.replicas)
