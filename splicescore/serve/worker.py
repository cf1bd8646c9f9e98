"""The worker thread of ``splicescore serve``: it owns the session and scores queued requests in batches."""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

from splicescore.api import Session
from splicescore.errors import InputError
from splicescore.serve.params import BadRequest

log = logging.getLogger("splicescore.serve")

#: requests the worker takes from the queue at once
BATCH = 64


@dataclass
class _Job:
    kind: str  # "score" or "tracks"
    variant: str
    options: tuple  # hashable: what groups jobs into one score_many
    future: Future = field(default_factory=Future)


class Worker:
    """One thread that owns the session: takes up to :data:`BATCH` queued jobs at a time, checks each
    variant against the FASTA, and scores the valid ones of one option set with one ``score_many``."""

    def __init__(self, session: Session, queue_size: int = 256, start: bool = True):
        self.session = session
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.queue_size = queue_size
        self._thread = threading.Thread(target=self._run, name="splicescore-serve", daemon=True)
        self._stop = threading.Event()
        self.batches = 0
        if start:
            self.start()

    def start(self) -> None:
        if not self._thread.is_alive():
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def submit(self, kind: str, variant: str, options: tuple) -> Future:
        job = _Job(kind, variant, options)
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            raise Busy(self.queue_size) from None
        return job.future

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self.queue.get()
            if job is None:
                continue
            jobs = [job]
            while len(jobs) < BATCH:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is not None:
                    jobs.append(more)
            self.batches += 1
            try:
                self._process(jobs)
            except BaseException as exc:  # never leave a request waiting
                log.exception("splicescore serve: batch failed")
                for j in jobs:
                    if not j.future.done():
                        j.future.set_exception(exc)

    def _process(self, jobs: list[_Job]) -> None:
        groups: dict[tuple, list[_Job]] = {}
        for j in jobs:
            try:
                j.checked = self.session.check_variant(j.variant)
            except Exception as exc:  # VariantError: a 400
                j.future.set_exception(exc)
                continue
            if j.kind == "tracks":
                self._tracks(j)
            else:
                groups.setdefault(j.options, []).append(j)
        for options, group in groups.items():
            models, distance, mask, pangolin_mask = options
            variants = list(dict.fromkeys(j.checked for j in group))
            try:
                results = self.session.score_many(variants, distance=distance, mask=mask, models=models,
                                                  pangolin_mask=pangolin_mask)
            except Exception as exc:
                for j in group:
                    j.future.set_exception(exc)
                continue
            by_variant = dict(zip(variants, results))
            for j in group:
                j.future.set_result(by_variant[j.checked])

    def _tracks(self, j: _Job) -> None:
        model, distance, gene, fmt = j.options
        try:
            genes = self.session.tracks(j.checked, model, distance, gene)
            if fmt == "svg":
                from splicescore.plot import figure_bytes

                j.future.set_result(figure_bytes(genes, "svg"))
            else:
                j.future.set_result(genes)
        except InputError as exc:  # plot's skip errors (no gene, ...): about the variant, not the server
            j.future.set_exception(BadRequest(str(exc).split(" (annotation ")[0]))  # no server paths
        except Exception as exc:
            j.future.set_exception(exc)


class Busy(Exception):
    def __init__(self, size: int):
        super().__init__(f"server busy: {size} requests are queued; retry in a few seconds")
