"""APARENT2 (Linder et al. 2022, "Deciphering the impact of genetic variation on human
polyadenylation using APARENT2", Genome Biology 23:232) as a plain ``nn.Module``.

Architecture facts, read from johli/aparent-resnet@a745736
``aparent/model/aparent_model_plasmid_resnet_var_batch_size_inference_mode.py``
(``load_aparent_model`` -> ``load_residual_network(n_groups=7, n_resblocks_per_group=4,
n_channels=32, window_size=3, dilation_rates=[1, 2, 4, 8, 4, 2, 1])``) and from the layer
configuration stored in the published ``.h5``:

* the input is a one-hot ``(B, 1, 205, 4)`` tensor (A, C, G, T channels). The official variant
  notebook (``examples/aparent2_score_variants.ipynb``) encodes ``N`` as 0.25 in every channel and
  any other character as all zeros; see :func:`splicescore.models.aparent2.official.encode_aparent2`;
* ``aparent_conv_0``: 1x1 convolution, 4 -> 32 channels;
* 7 groups with dilations ``1, 2, 4, 8, 4, 2, 1``. Group ``g`` first applies the 1x1 convolution
  ``aparent_skip_conv_g`` to the group's *input*, then runs 4 residual blocks
  ``x + conv_1(relu(bn_1(conv_0(relu(bn_0(x))))))``. Each ``conv`` is a ``(1, 3)`` Conv2D with the
  group's dilation and ``padding='same'`` (``d`` zeros on each side); BatchNorm is Keras 2's
  (``epsilon=1e-3``) in inference mode;
* ``aparent_last_block_conv`` (1x1) of the last block's output; the skip sum is accumulated in
  the official order ``((last + skip_0) + skip_1) + ... + skip_6``;
* ``aparent_final_conv`` (1x1, 32 -> 1) gives one logit per position (205); a zero logit is appended
  (bin 205, "no cleavage in the window");
* a *library bias* is added to all 206 logits. Officially it is a ``LocallyConnected2D(1, (1, 1))``
  applied to the 13-dim library one-hot tiled over the 206 positions, i.e.
  ``bias[j] = sum_k lib[k] * W[j, k] + b[j]`` with kernel ``W`` (206, 13) and bias ``b`` (206,);
  with a one-hot library of index ``i`` this is exactly ``W[j, i] + b[j]``. The published variant
  notebook always uses library index 11 ("Always set this one-hot variable to 11");
* a softmax over the 206 bins gives the cleavage distribution ``cut_prob``. (The official model's
  other output, ``iso_prob = sum(cut_prob[:, 80:110])``, is not part of the variant scores.)

Design choice: the module keeps the *full* library weights (``lib_weight`` (206, 13) and
``lib_bias`` (206,), exactly as in the ``.h5``) and takes the library index as a constructor
argument (default 11); the per-position bias ``lib_weight[:, library] + lib_bias`` is formed in
``forward``. The state dict is thus a lossless copy of the official weights.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from splicescore.nn.trunk import ResidualUnit

SEQ_LEN = 205
N_BINS = SEQ_LEN + 1
N_LIBRARIES = 13
DEFAULT_LIBRARY = 11
APARENT2_DILATIONS = (1, 2, 4, 8, 4, 2, 1)


class Aparent2Net(nn.Module):
    """APARENT2 cleavage model: one-hot ``(B, 4, 205)`` -> cleavage probabilities ``(B, 206)``.

    Parameters
    ----------
    channels : int
        Width of every layer (32).
    dilations : sequence of int
        One per group (``1, 2, 4, 8, 4, 2, 1``).
    blocks_per_group : int
        Residual blocks per group (4).
    width : int
        Kernel width of the residual convolutions (3).
    bn_eps : float
        BatchNorm epsilon (Keras 2 default, 1e-3).
    library : int
        Index of the sub-library one-hot (0..12). The official variant notebook uses 11.

    Notes
    -----
    Input channels are A, C, G, T, the official order; ``N`` is 0.25 in each channel (the official
    encoding). Bins 0..204 of the output are the 205 input positions, bin 205 is "no cleavage in
    the window". Eval-mode forward only (call ``.eval()``).
    """

    def __init__(
        self,
        channels: int = 32,
        dilations: Sequence[int] = APARENT2_DILATIONS,
        blocks_per_group: int = 4,
        width: int = 3,
        bn_eps: float = 1e-3,
        library: int = DEFAULT_LIBRARY,
    ):
        super().__init__()
        if not 0 <= library < N_LIBRARIES:
            raise ValueError(f"library index must be in 0..{N_LIBRARIES - 1}, got {library}")
        self.library = int(library)
        self.blocks_per_group = blocks_per_group
        self.conv_in = nn.Conv1d(4, channels, 1)
        self.skip_convs = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in dilations)
        self.units = nn.ModuleList(
            ResidualUnit(channels, width, d, bn_eps) for d in dilations for _ in range(blocks_per_group)
        )
        self.last_conv = nn.Conv1d(channels, channels, 1)
        self.final_conv = nn.Conv1d(channels, 1, 1)
        self.lib_weight = nn.Parameter(torch.zeros(N_BINS, N_LIBRARIES))
        self.lib_bias = nn.Parameter(torch.zeros(N_BINS))

    def library_bias(self) -> torch.Tensor:
        """Per-bin library bias ``(206,)``: ``lib_weight[:, library] + lib_bias``."""
        return self.lib_weight[:, self.library] + self.lib_bias

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Cleavage logits ``(B, 206)`` (before the softmax) for one-hot ``x`` ``(B, 4, 205)``."""
        if x.dim() != 3 or x.shape[1] != 4 or x.shape[2] != SEQ_LEN:
            raise ValueError(f"expected input of shape (B, 4, {SEQ_LEN}), got {tuple(x.shape)}")
        h = self.conv_in(x)
        skips = []
        for i, unit in enumerate(self.units):
            if i % self.blocks_per_group == 0:
                skips.append(self.skip_convs[i // self.blocks_per_group](h))
            h = unit(h, valid=False)
        acc = self.last_conv(h)
        for s in skips:
            acc = acc + s
        pos = self.final_conv(acc)[:, 0, :]
        logit = torch.cat([pos, pos.new_zeros(pos.shape[0], 1)], dim=1)
        return logit + self.library_bias()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Cleavage probabilities ``(B, 206)`` for one-hot ``x`` ``(B, 4, 205)``."""
        return torch.softmax(self.logits(x), dim=-1)
