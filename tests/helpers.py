"""Helpers that only tests use: SNV edits of a track, the SpliceAI mean over replicas of one track, a VCF
of chosen records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from splicescore.nn.incremental import AltEdit, TrunkCache, alt_pass, combine_replicas, spliceai_head, track_pass
from splicescore.nn.trunk import DilatedResidualTrunk


def snv_edit(pos: int, alt: np.ndarray, distance: int) -> AltEdit:
    """The :class:`AltEdit` of an SNV at track position ``pos`` with ALT column ``alt`` ``(4,)``
    whose outputs ``pos - D .. pos + D`` are wanted."""
    return AltEdit(pos, 1, np.asarray(alt, dtype=np.float32).reshape(1, -1), pos - distance, 2 * distance + 1)


def snv_alt_pass(trunk: DilatedResidualTrunk, cache: TrunkCache, pos: int, alt, distance: int) -> torch.Tensor:
    """Trunk output ``(C, 2D + 1)`` at outputs ``pos - D .. pos + D`` for the track input with
    column ``pos`` replaced by ``alt`` ``(in_channels,)``."""
    alt = alt.detach().cpu().numpy() if isinstance(alt, torch.Tensor) else alt
    return alt_pass(trunk, cache, snv_edit(pos, alt, distance))


def spliceai_track(ensemble, x: torch.Tensor, edits: list[AltEdit]):
    """REF outputs ``(3, L - context)`` of one track and the ALT outputs of ``edits`` for a SpliceAI
    ensemble: the mean of the replicas' softmax outputs, summed in replica order."""
    return combine_replicas([track_pass(net.trunk, spliceai_head(net), x, edits) for net in ensemble.replicas])


def vcf_subset(source: Path, ids: set[str], path: Path, extra: str = "") -> Path:
    """``path``: the header of VCF ``source``, its records whose ID is in ``ids`` (in file order),
    then the record lines ``extra``."""
    lines = source.read_text().splitlines(keepends=True)
    keep = [line for line in lines if line.startswith("#") or (line.strip() and line.split("\t")[2] in ids)]
    path.write_text("".join(keep) + extra)
    return path
