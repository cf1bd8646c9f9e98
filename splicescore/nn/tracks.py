"""Reference tracks and incremental ALT passes for the sliding models (SpliceAI, Pangolin).

A sliding network's output at a position depends only on the ``context + 1`` input nucleotides
around it. So for a chunk of records a scorer can plan one REF *track* per stretch of clustered
variants (trick 3 of the performance issue), take each record's REF outputs as a slice of it
(:class:`TrackSlice`), and describe each ALT window as an edit of the track (:class:`TrackAlt`)
whose outputs :func:`splicescore.nn.incremental.alt_pass` recomputes only where the ALT
changes them (trick 4). :func:`compute_tracks` runs such a chunk; on a GPU, or for a network
without per-replica trunks, :func:`compute_windows` runs the entries as plain windows.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from splicescore.nn.incremental import AltEdit, track_pass
from splicescore.nn.predict import check_stop

#: longest stretch of REF outputs computed in one piece for clustered variants
MAX_TRACK = 20_000


@dataclass(frozen=True)
class TrackAlt:
    """Stands in a chunk's input list for an ALT window: ``edit`` of input ``track``. Its output is
    the full ALT window's output ``(..., edit.n_out)``."""

    track: int
    edit: AltEdit

    def window(self, inputs: list, context: int) -> np.ndarray:
        """The full ALT window ``(edit.n_out + context, 4)`` this entry stands for."""
        return self.edit.window(inputs[self.track], context)


@dataclass(frozen=True)
class TrackSlice:
    """Stands in a chunk's input list for a REF window whose outputs are outputs ``out_lo ..
    out_lo + n_out - 1`` (track positions, model orientation) of input ``track``."""

    track: int
    out_lo: int
    n_out: int

    def window(self, inputs: list, context: int) -> np.ndarray:
        half = context // 2
        return inputs[self.track][self.out_lo - half : self.out_lo + self.n_out + half]


def reference_tracks(spans: Sequence[tuple[int, int]], context: int, max_track: int = MAX_TRACK) -> list[tuple[int, int]]:
    """Merge output spans ``(lo1, hi1)`` (sorted by ``lo1``) whose input windows overlap into tracks
    ``(first1, last1)`` of at most ``max_track`` outputs (a longer span is a track of its own)."""
    tracks: list[list[int]] = []
    for lo, hi in spans:
        if tracks and lo - context <= tracks[-1][1] and max(hi, tracks[-1][1]) - tracks[-1][0] + 1 <= max_track:
            tracks[-1][1] = max(tracks[-1][1], hi)
        else:
            tracks.append([lo, hi])
    return [(lo, hi) for lo, hi in tracks]


def compute_windows(inputs: list, context: int, run: Callable[[list], list]) -> list[np.ndarray]:
    """Outputs for a chunk's inputs without the incremental path (GPU): plain windows and tracks run
    whole through ``run`` (:func:`splicescore.nn.predict.predict`), each :class:`TrackAlt` as the full
    ALT window it stands for, and each :class:`TrackSlice` is cut from its track's output (not run
    again)."""
    order = [i for i, x in enumerate(inputs) if not isinstance(x, TrackSlice)]
    outputs: list = [None] * len(inputs)
    windows = [x.window(inputs, context) if isinstance(x, TrackAlt) else x for x in (inputs[i] for i in order)]
    for i, y in zip(order, run(windows)):
        outputs[i] = y
    for i, x in enumerate(inputs):
        if isinstance(x, TrackSlice):
            outputs[i] = _slice(outputs[x.track], x, context)
    return outputs


def _slice(track_out, entry: TrackSlice, context: int):
    """``entry``'s outputs cut from its track's (a numpy array of its own, or a tensor view)."""
    lo = entry.out_lo - context // 2
    cut = track_out[..., lo : lo + entry.n_out]
    return np.ascontiguousarray(cut) if isinstance(cut, np.ndarray) else cut


def split_tracks(inputs: list, run_plain: Callable[[list], list]) -> tuple[dict[int, list[int]], list]:
    """``(entries, outputs)``: the indices of ``inputs`` that read each track (``track -> [i]``), and
    an output list with the plain inputs (neither tracks nor their entries) already run by
    ``run_plain``; the track entries' places are ``None``."""
    entries: dict[int, list[int]] = {}
    for i, x in enumerate(inputs):
        if isinstance(x, (TrackAlt, TrackSlice)):
            entries.setdefault(x.track, []).append(i)
    outputs: list = [None] * len(inputs)
    plain = [i for i, x in enumerate(inputs) if not isinstance(x, (TrackAlt, TrackSlice)) and i not in entries]
    if plain:
        for i, y in zip(plain, run_plain([inputs[i] for i in plain])):
            outputs[i] = y
    return entries, outputs


def compute_tracks(
    inputs: list,
    members: Sequence[tuple[torch.nn.Module, Callable]],
    combine: Callable[[list], tuple],
    context: int,
    run_plain: Callable[[list], list],
) -> list[np.ndarray]:
    """Outputs for a chunk's inputs holding :class:`TrackAlt` / :class:`TrackSlice` entries.

    Parameters
    ----------
    inputs : list
        One-hot windows ``(L, 4)`` and track entries.
    members : sequence of (trunk, head)
        The ensemble's networks (SpliceAI: 5 replicas; Pangolin: 12 networks); ``head`` maps trunk
        features ``(1, C, n)`` to that network's outputs.
    combine : callable
        ``[(ref, [alt, ...]) per member] -> (ref, [alt, ...])``: the ensemble's output from its
        members' (e.g. the replica mean, summed in member order).
    context : int
        Input positions the network loses (10,000).
    run_plain : callable
        ``list of windows -> list of outputs`` for inputs that are neither tracks with entries nor
        entries (:func:`splicescore.nn.predict.predict` with the full ensemble).

    Returns
    -------
    list of np.ndarray
        ``outputs[i]`` for ``inputs[i]``, as the plain windows would give them (REF tracks and
        slices: the same numbers; ALT entries: up to float rounding).

    Notes
    -----
    One job per (track, member) in ``torch.get_num_threads()`` single-threaded workers; members are
    combined in order afterwards, so neither ``--threads`` nor the job order changes a number.
    """
    entries, outputs = split_tracks(inputs, run_plain)
    jobs = [(track, m) for track in entries for m in range(len(members))]
    # each track's tensor and edits once, shared by its members' jobs
    tensors = {t: torch.from_numpy(np.ascontiguousarray(inputs[t].T, dtype=np.float32)) for t in entries}
    edits = {t: [inputs[i].edit for i in idx if isinstance(inputs[i], TrackAlt)] for t, idx in entries.items()}

    def job(item):
        check_stop()
        track, m = item
        torch.set_num_threads(1)
        trunk, head = members[m]
        return track_pass(trunk, head, tensors[track], edits[track])

    previous = torch.get_num_threads()
    try:
        with ThreadPoolExecutor(max(1, min(previous, len(jobs)))) as pool:
            results = dict(zip(jobs, pool.map(job, jobs)))
    finally:
        torch.set_num_threads(previous)
    for track, members_of in entries.items():
        ref, alts = combine([results[(track, m)] for m in range(len(members))])
        outputs[track] = ref.cpu().numpy()
        alts = iter(alts)
        for i in members_of:
            x = inputs[i]
            if isinstance(x, TrackAlt):
                outputs[i] = next(alts).cpu().numpy()
            else:
                outputs[i] = _slice(outputs[track], x, context)
    return outputs
