"""Per-position model outputs in genome coordinates: what a scorer's ``aligned_outputs`` gives
(:class:`AlignedOutputs`) and the plotted tracks a model picks from them (:class:`Track`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AlignedOutputs:
    """One ALT's REF and ALT outputs in one gene, aligned on the REF positions (genomic orientation).

    ``ref`` and ``alt`` have the same shape; their position axis (:attr:`axis`) runs over
    ``first1 .. first1 + n - 1``."""

    alt: str
    transcript: Any
    strand: str
    first1: int
    ref: np.ndarray
    alt_out: np.ndarray
    axis: int = -1


@dataclass(frozen=True)
class Track:
    """One model output over the plotted positions.

    ``ref``, ``alt`` and ``delta`` are ``(L,)`` arrays over :attr:`GeneTracks.positions1`; ``alt`` is
    already aligned onto the REF positions. ``kind`` ``"site"``: a splice-site probability (drawn REF
    vs ALT, and its delta); ``"usage"``: drawn as its delta only (SpTransformer tissue usages).
    """

    name: str
    ref: np.ndarray
    alt: np.ndarray
    delta: np.ndarray
    kind: str = "site"


def make_track(name: str, ref: np.ndarray, alt: np.ndarray, kind: str = "site") -> Track:
    """A :class:`Track` with ``delta = alt - ref`` (in the arrays' own dtype, as the scorers subtract)."""
    ref, alt = np.ascontiguousarray(ref), np.ascontiguousarray(alt)
    return Track(name, ref, alt, alt - ref, kind)
