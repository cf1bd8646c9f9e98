"""Chunks of records through the models: plan (cache look-ups, the scorers' plans), compute (one
engine per model on a device), finish (the scorers' results), in input order.

:func:`run_chunks` overlaps planning the next chunk with the device's work; :func:`plan_job`,
:func:`make_computer` and :func:`finish_results` are what :mod:`splicescore.pipeline` and
:mod:`splicescore.api` both run. Nothing here reads or writes a file.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from splicescore.core.scorer import Variant
from splicescore.nn.predict import clear_stop, predict, request_stop
from splicescore.statistics import Statistics

log = logging.getLogger("splicescore")


def record_variant(rec, index: int) -> Variant:
    alts = tuple(a for a in rec.ALT if a not in (".", ""))
    return Variant(rec.CHROM, rec.POS, rec.REF, alts, index)


def split_chunks(stream, size: int):
    """Consecutive lists of ``size`` records (the last may be shorter)."""
    chunk: list = []
    for rec in stream:
        chunk.append(rec)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def max_positions(cfg, scorer) -> int:
    """Input positions per forward pass of ``scorer``'s network: ``batch_size`` of its windows."""
    return cfg.batch_size * scorer.input_length()


@dataclass
class ModelWork:
    """One model's share of a chunk: cache keys and stored results, the records left to score, their
    plans and network inputs, and (once computed) the outputs."""

    keys: list
    stored: list
    todo: list
    plans: list
    inputs: list
    reduction: object = None  # the scorer's UnitReduction of these plans, when the engine ran one
    outputs: list | None = None
    reduced: list | None = None  # per unit, when the engine ran the reduction (then outputs stay None)


@dataclass
class ChunkJob:
    """A chunk of records on its way: planned (main thread), computed (a device worker), then
    finished and written in input order (main thread)."""

    chunk: list
    variants: list
    work: list  # ModelWork per model, in ``built`` order
    started: float = 0.0
    ref_mismatch: list | None = None  # per record: ref_mismatch, contig_not_in_fasta or None (RefCheck)


def plan_job(chunk: list, first_index: int, built, cache=None, refcheck=None) -> ChunkJob:
    """REF check, cache lookups and plans of every model for one chunk (reads the reference; main thread)."""
    job = ChunkJob(chunk, [record_variant(rec, first_index + i) for i, rec in enumerate(chunk)], [], time.perf_counter())
    if refcheck is not None:
        job.ref_mismatch = refcheck(job.variants)
    for scorer, _ in built:
        keys = [cache.key(scorer, v) for v in job.variants] if cache else [None] * len(chunk)
        stored = [cache.get(k) for k in keys] if cache else [None] * len(chunk)
        todo = [v for v, r in zip(job.variants, stored) if r is None]
        inputs, plans = scorer.plan_chunk(todo)  # plans may share inputs across records (reference tracks)
        job.work.append(ModelWork(keys, stored, todo, plans, inputs))
    return job


def make_computer(cfg, scorers: list, nets: list, device: torch.device, run_windows=predict):
    """``job -> None``: runs every model's network inputs of a job on ``device`` (a device worker;
    ``nets[k]`` is model ``k``'s network on that device) through the one engine
    (:class:`splicescore.nn.engine.Engine`), which picks the path per network and device. Where the
    outputs stay on the device (the batched path, any GPU path) and the scorer gives a reduction,
    only that reduction's result comes back.
    ``run_windows``: what runs plain windows (:func:`splicescore.nn.predict.predict`: the engine's
    own, which keeps a reduction's outputs on the device; another, e.g. a test's stand-in, gets
    ``precision`` and its outputs travel back to the device for a reduction)."""
    from splicescore.nn.engine import Engine

    run = None if run_windows is predict else functools.partial(run_windows, precision=cfg.precision)
    engines = [Engine(cfg.engine, device, cfg.batch_size, max_positions(cfg, scorer), cfg.precision, run=run)
               for scorer in scorers]

    def compute(job: ChunkJob) -> None:
        for scorer, engine, net, w in zip(scorers, engines, nets, job.work):
            # the reduction numbers the plans' units; the main thread touches them again only to finish
            if engine.reduces_on_device(net, w.inputs):
                w.reduction = scorer.reduction(w.todo, w.plans)
            if w.reduction is not None:
                w.reduced = w.reduction.unpack(engine(net, w.inputs, reduce=w.reduction))
            else:
                w.outputs = engine(net, w.inputs)

    return compute


def run_chunks(chunks, first_index: int, plan, computers: list, written) -> None:
    """Plan, compute and write chunks in input order with one worker per device.

    ``plan(chunk, first_index) -> job`` and ``written(job)`` run in the calling thread (they read
    the reference and write the output); ``computers[k](job)`` in device ``k``'s worker, chunk
    ``i`` on device ``i % len(computers)``. Up to one chunk per device is computed while the next
    one is planned, so window preparation overlaps the device's work; output order never changes.
    """
    workers = [ThreadPoolExecutor(1, thread_name_prefix=f"splicescore-device{k}") for k in range(len(computers))]
    pending: deque = deque()
    clear_stop()
    try:
        for i, chunk in enumerate(chunks):
            job = plan(chunk, first_index)
            first_index += len(chunk)
            pending.append((job, workers[i % len(workers)].submit(computers[i % len(workers)], job)))
            while len(pending) > len(workers):
                job, done = pending.popleft()
                done.result()
                written(job)
        while pending:
            job, done = pending.popleft()
            done.result()
            written(job)
    except BaseException:
        request_stop()  # Ctrl-C or an error: the device workers stop at their next window or job
        raise
    finally:
        for w in workers:
            w.shutdown(wait=True, cancel_futures=True)
        clear_stop()


def finish_results(job: ChunkJob, built, stats: Statistics, cache=None) -> tuple[list, list]:
    """Every model's :class:`~splicescore.core.scorer.RecordResult` for the records of one computed
    chunk: ``([(scorer, results in record order)] per model, [(cache key, result)] computed here)``.
    Writes nothing (:func:`_finish` writes the records; :mod:`splicescore.api` returns them)."""
    per_model = []
    fresh = []  # (key, result) of the results computed here, for the cache
    for (scorer, _), w in zip(built, job.work):
        computed = scorer.finish_chunk(w.todo, w.plans, w.outputs, w.reduced)
        stats.windows += len(w.inputs)
        new = iter(computed)
        results = [r if r is not None else next(new) for r in w.stored]
        if cache:
            fresh += [(key, r) for key, r, old in zip(w.keys, results, w.stored) if old is None]
            stats.cache_hits += len(job.variants) - len(w.todo)
            stats.cache_misses += len(w.todo)
            log.debug(f"splicescore: {scorer.name}: {len(job.variants) - len(w.todo)} cached, {len(w.todo)} scored "
                      f"({len(w.inputs)} windows)")
        per_model.append((scorer, results))
    return per_model, fresh
