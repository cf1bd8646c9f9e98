"""The dilated residual trunk shared by SpliceAI, Pangolin and SpTransformer's encoders.

Architecture facts (Jaganathan et al. 2019, Cell 176:535, Fig. 1 and STAR methods, "SpliceAI-10k"):

* a 1x1 convolution lifts the one-hot input (4 channels) to ``C`` channels; a second 1x1
  convolution of that result starts the *skip* sum;
* 16 residual units in 4 groups. Unit ``i`` has kernel width ``W[i]`` and dilation ``AR[i]``;
  SpliceAI-10k uses ``W = 11x8, 21x4, 41x4`` and ``AR = 1x4, 4x4, 10x4, 25x4``. A unit computes
  ``x + conv2(relu(bn2(conv1(relu(bn1(x))))))`` with "same" convolutions;
* after every 4th unit a 1x1 convolution of the running activation is added to the skip sum;
* the skip sum is cropped by ``CL/2 = sum(AR * (W - 1))`` = 5,000 nt on each side, so an output
  position sees exactly ``CL + 1`` = 10,001 input positions.

Pangolin (Zeng & Li 2022, Genome Biology 23:103) uses the same trunk with PyTorch BatchNorm
(``eps=1e-5``); SpliceAI's Keras 2 BatchNorm uses ``eps=1e-3``.

Because the receptive field is exactly ``CL + 1``, the cropped outputs never read the zero padding
of a "same" convolution. The trunk can therefore run *valid* convolutions and crop the residual and
skip paths as it goes ("valid" mode): the outputs are identical and about half the work is saved.
"same" mode is the literal architecture, kept as the reference path for equality tests.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F

SPLICEAI_10K_WIDTHS = (11,) * 8 + (21,) * 4 + (41,) * 4
SPLICEAI_10K_DILATIONS = (1,) * 4 + (4,) * 4 + (10,) * 4 + (25,) * 4


def _crop(x: torch.Tensor, left: int, right: int | None = None) -> torch.Tensor:
    """Drop ``left`` positions at the start and ``right`` (default ``left``) at the end of dim -1."""
    right = left if right is None else right
    if left == 0 and right == 0:
        return x
    return x[..., left : x.shape[-1] - right]


class ResidualUnit(nn.Module):
    """``x + conv2(relu(bn2(conv1(relu(bn1(x))))))`` with dilated convolutions.

    Parameters
    ----------
    channels : int
    width : int
        Odd kernel width.
    dilation : int
    bn_eps : float
    """

    def __init__(self, channels: int, width: int, dilation: int, bn_eps: float):
        super().__init__()
        if width % 2 != 1:
            raise ValueError("kernel width must be odd")
        self.width = width
        self.dilation = dilation
        self.bn1 = nn.BatchNorm1d(channels, eps=bn_eps)
        self.conv1 = nn.Conv1d(channels, channels, width, dilation=dilation)
        self.bn2 = nn.BatchNorm1d(channels, eps=bn_eps)
        self.conv2 = nn.Conv1d(channels, channels, width, dilation=dilation)

    @property
    def shrink(self) -> int:
        """Positions a valid pass of this unit removes from *each* side."""
        return self.dilation * (self.width - 1)

    def forward(self, x: torch.Tensor, valid: bool = True) -> torch.Tensor:
        pad = 0 if valid else self.dilation * (self.width - 1) // 2
        h = F.conv1d(
            F.relu(self.bn1(x)), self.conv1.weight, self.conv1.bias, padding=pad, dilation=self.dilation
        )
        h = F.conv1d(
            F.relu(self.bn2(h)), self.conv2.weight, self.conv2.bias, padding=pad, dilation=self.dilation
        )
        return h + (_crop(x, self.shrink) if valid else x)


class DilatedResidualTrunk(nn.Module):
    """Input one-hot ``(B, 4, L)`` -> skip features ``(B, C, L - context)``.

    Parameters
    ----------
    channels : int
        Width ``C`` of every layer (SpliceAI and Pangolin: 32).
    widths, dilations : sequence of int
        Per residual unit (16 for SpliceAI-10k).
    group_size : int
        A 1x1 "dense" convolution feeds the skip sum after every ``group_size`` units (and after
        the last one).
    bn_eps : float
        BatchNorm epsilon (Keras 2: 1e-3, PyTorch: 1e-5).
    in_channels : int
        4 for one-hot DNA.
    """

    def __init__(
        self,
        channels: int = 32,
        widths: Sequence[int] = SPLICEAI_10K_WIDTHS,
        dilations: Sequence[int] = SPLICEAI_10K_DILATIONS,
        group_size: int = 4,
        bn_eps: float = 1e-3,
        in_channels: int = 4,
    ):
        super().__init__()
        if len(widths) != len(dilations):
            raise ValueError("widths and dilations differ in length")
        self.channels = channels
        self.conv_in = nn.Conv1d(in_channels, channels, 1)
        self.skip_in = nn.Conv1d(channels, channels, 1)
        self.units = nn.ModuleList(
            ResidualUnit(channels, w, d, bn_eps) for w, d in zip(widths, dilations)
        )
        self.group_ends = tuple(
            i for i in range(len(widths)) if (i + 1) % group_size == 0 or i + 1 == len(widths)
        )
        self.skip_convs = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in self.group_ends)

    @property
    def context(self) -> int:
        """Input positions lost in total (``CL``; 10,000 for SpliceAI-10k)."""
        return 2 * sum(u.shrink for u in self.units)

    def forward(self, x: torch.Tensor, valid: bool = True, crop: bool = True) -> torch.Tensor:
        """Skip features for the central ``L - context`` positions.

        Parameters
        ----------
        x : torch.Tensor
            ``(B, in_channels, L)`` with ``L > context`` (any ``L`` when ``crop=False``).
        valid : bool
            Valid convolutions with progressive cropping (default) or the literal "same"-padded
            architecture followed by one crop. Both give the same numbers.
        crop : bool
            ``False`` (only with ``valid=False``) returns the full-length ``(B, C, L)`` skip sum of
            the "same"-padded architecture, edge positions (which read the zero padding) included.
            SpTransformer's encoders feed this uncropped output to the rest of the network.
        """
        if valid and not crop:
            raise ValueError("valid convolutions always crop; use valid=False with crop=False")
        conv = self.conv_in(x)
        skip = self.skip_in(conv)
        group = 0
        for i, unit in enumerate(self.units):
            conv = unit(conv, valid=valid)
            if i in self.group_ends:
                dense = self.skip_convs[group](conv)
                group += 1
                if valid:
                    skip = _crop(skip, (skip.shape[-1] - dense.shape[-1]) // 2)
                skip = skip + dense
        half = self.context // 2
        return skip if valid or not crop else _crop(skip, half)
