"""HAL, the hexamer additive linear model of 5' splice-site usage (Rosenberg et al., Cell 2015).

This is the position-specific donor model as the official kipoi port runs it (kipoi/models
``HAL/model.py``, ``HALModel``; read at 06bfe84 / 722d7f6 for facts only), **not** the
column-averaged or exon-skipping variants of the paper's notebooks (cell-2015 N11 and MFASS
``snv_run_HAL.py`` use a different parameter set and a cross-validated scaling factor).

Facts used
----------
* Input: one 160-nt window per donor, 80 exonic + 80 intronic nt in transcript orientation, so
  window index 79 is the last exon base and index 80 the first intron base (the G of GT).
* Parameters: a ``(4096, 8)`` float64 table ``w`` (``HAL_mer_scores.npz``, key ``weights``; the
  A5SS 8-region model of cell-2015 notebook N7/N8). Row = hexamer, column = position region.
  The official rows are in **A, T, C, G** base order (first base most significant); the converter
  :func:`splicescore.models.hal.convert.convert_hal_npz` re-orders them to A, C, G, T so that this module
  indexes the table directly from an A, C, G, T one-hot.
* Region (column) -> 0-based hexamer start positions in the window (``REGION_STARTS``)::

      col 0: 0..39     col 1: 40..69    col 2: 77   col 3: 78   col 4: 79   col 5: 80
      col 6: 86..114   col 7: 115..154

  Hexamers starting at 70..76 and 81..85 are not scored; window positions 75 and 76 (exon -5, -4)
  lie in no scored hexamer, so they never change the score.
* Score: the official ``_score_seq_pos`` adds ``w/6`` to each of the six positions of every scored
  hexamer and ``predict_seq`` sums the 160 positions, which equals
  ``score = sum_col sum_{b in starts(col)} w[hexamer(seq[b:b+6]), col]`` (the last start is 154,
  154 + 6 = 160, so nothing is truncated). Variant effect (kipoi ``model.yaml``, ``diff``):
  ``delta = score_alt - score_ref`` in logit units.
* The official model raises ``KeyError`` when a scored hexamer holds a character other than
  A/C/G/T. Here such windows are flagged by :func:`valid_windows` and their score is ``NaN``; they
  are never scored silently.

Dtype
-----
The table is a float64 buffer and scores are computed and returned in the table's dtype (float64),
whatever the input's floating dtype, to keep the published table's precision. Casting the module
with ``.float()`` / ``.to(torch.float32)`` would also cast the table (about 1e-7 relative error);
do not do that if you need parity with the official model. float64 works on CPU and CUDA (not MPS).
"""

from __future__ import annotations

import torch
from torch import nn

WINDOW = 160
EXON_NT = 80
DONOR_INDEX = 79  # last exon base in the window
MER = 6
N_HEXAMERS = 4**MER
N_REGIONS = 8

#: Column of the table -> 0-based start positions (in the 160-nt window) of the hexamers it scores.
REGION_STARTS: tuple[tuple[int, ...], ...] = (
    tuple(range(0, 40)),  # exon -80..-36
    tuple(range(40, 70)),  # exon -40..-6
    (77,),  # -3..+3
    (78,),  # -2..+4
    (79,),  # -1..+5
    (80,),  # +1..+6
    tuple(range(86, 115)),  # intron +7..+40
    tuple(range(115, 155)),  # intron +36..+80
)


def _start_column_pairs(region_starts=REGION_STARTS) -> tuple[list[int], list[int]]:
    starts: list[int] = []
    cols: list[int] = []
    for col, region in enumerate(region_starts):
        for b in region:
            starts.append(b)
            cols.append(col)
    return starts, cols


def covered_positions(region_starts=REGION_STARTS, mer: int = MER, window: int = WINDOW) -> torch.Tensor:
    """Boolean ``(window,)``: True at the window positions that lie in at least one scored hexamer.

    With the official regions every position except 75 and 76 is covered.
    """
    covered = torch.zeros(window, dtype=torch.bool)
    for region in region_starts:
        for b in region:
            covered[b : b + mer] = True
    return covered


def onehot_positions_valid(x: torch.Tensor) -> torch.Tensor:
    """Boolean ``(B, L)``: True where column ``x[:, :, j]`` is an exact one-hot (one 1, three 0).

    All-zero columns (N and other non-ACGT characters as encoded by
    :func:`splicescore.models.hal.official.encode_windows`) and soft/ambiguous columns are False.
    """
    binary = ((x == 0) | (x == 1)).all(dim=1)
    return binary & (x.sum(dim=1) == 1)


def valid_windows(x: torch.Tensor, region_starts=REGION_STARTS, mer: int = MER) -> torch.Tensor:
    """Boolean ``(B,)``: True for windows the official model can score.

    A window is invalid (the official ``HALModel`` raises ``KeyError``) when a position inside a
    scored hexamer is not exactly one of A/C/G/T. Positions covered by no scored hexamer (75, 76)
    are not checked, as in the official model.

    Parameters
    ----------
    x : torch.Tensor
        One-hot ``(B, 4, 160)``, A, C, G, T channels.
    """
    if x.dim() != 3 or x.shape[1] != 4:
        raise ValueError(f"expected one-hot (B, 4, L), got {tuple(x.shape)}")
    covered = covered_positions(region_starts, mer, x.shape[-1]).to(x.device)
    return (onehot_positions_valid(x) | ~covered).all(dim=1)


class HALNet(nn.Module):
    """HAL donor model: one-hot ``(B, 4, 160)`` (A, C, G, T channels) -> raw scores ``(B,)``.

    The official model reads strings and indexes its table in A, T, C, G order; this module takes
    the A, C, G, T one-hot and expects the table already re-ordered to A, C, G, T rows (done by
    :func:`splicescore.models.hal.convert.convert_hal_npz`).

    Parameters
    ----------
    window : int
        Window length (160: 80 exon + 80 intron nt).
    mer : int
        k-mer length (6).
    region_starts : tuple of tuple of int
        Start positions scored by each column of the table (``REGION_STARTS``).

    Buffers
    -------
    table : float64 ``(4**mer, n_regions)``
        The hexamer weights, rows in A, C, G, T order (first base most significant). The only
        entry of the state dict.
    starts, columns : int64 ``(S,)``
        The scored hexamer starts and their column (explicit map, not saved in the state dict).
    """

    def __init__(self, window: int = WINDOW, mer: int = MER, region_starts=REGION_STARTS):
        super().__init__()
        starts, cols = _start_column_pairs(region_starts)
        if max(starts) + mer > window or min(starts) < 0:
            raise ValueError("a scored hexamer runs past the window")
        self.window = window
        self.mer = mer
        self.region_starts = tuple(tuple(r) for r in region_starts)
        self.register_buffer("table", torch.zeros(4**mer, len(region_starts), dtype=torch.float64))
        self.register_buffer("starts", torch.tensor(starts, dtype=torch.long), persistent=False)
        self.register_buffer("columns", torch.tensor(cols, dtype=torch.long), persistent=False)
        # place values: first base most significant
        self.register_buffer(
            "place", torch.tensor([4 ** (mer - 1 - i) for i in range(mer)], dtype=torch.long), persistent=False
        )

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[1] != 4 or x.shape[2] != self.window:
            raise ValueError(f"expected one-hot (B, 4, {self.window}), got {tuple(x.shape)}")

    def hexamer_rows(self, x: torch.Tensor) -> torch.Tensor:
        """Table row (A, C, G, T order) of every scored hexamer: int64 ``(B, S)``.

        Rows of invalid windows are meaningless (a non-one-hot column is read as its argmax).
        """
        self._check(x)
        codes = x.argmax(dim=1)  # (B, L): A=0, C=1, G=2, T=3
        offsets = torch.arange(self.mer, device=x.device)
        gathered = codes[:, self.starts[:, None] + offsets[None, :]]  # (B, S, mer)
        return (gathered * self.place).sum(dim=-1)

    def contributions(self, x: torch.Tensor) -> torch.Tensor:
        """Weight of every scored hexamer, ``(B, S)`` in the table's dtype (NaN rows if invalid).

        Column ``s`` is the hexamer starting at ``self.starts[s]``, scored with column
        ``self.columns[s]`` of the table.
        """
        rows = self.hexamer_rows(x)
        out = self.table[rows, self.columns[None, :].expand_as(rows)]
        bad = ~valid_windows(x, self.region_starts, self.mer)
        return out.masked_fill(bad[:, None], float("nan"))

    def position_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Per-position scores ``(B, window)`` as the official ``_score_seq_pos``.

        Each scored hexamer adds ``w / mer`` to each of its ``mer`` positions; the sum over
        positions is the score.
        """
        contrib = self.contributions(x) / self.mer  # (B, S)
        out = torch.zeros(x.shape[0], self.window, dtype=contrib.dtype, device=x.device)
        for i in range(self.mer):
            out.index_add_(1, self.starts + i, contrib)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw HAL scores ``(B,)`` (logit units, float64); ``NaN`` for invalid windows."""
        return self.contributions(x).sum(dim=1)
