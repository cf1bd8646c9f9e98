"""The score cache (``splicescore vcf --cache FILE``): finished record results in one SQLite file.

One entry per model and VCF record: the :class:`~splicescore.core.scorer.RecordResult` (INFO value,
TSV rows, skip reasons) as JSON, under the sha256 of a canonical JSON of everything that can change
it (:func:`record_key`):

* the model, the sha256 of its converted weights (``tensors_sha256`` of the weight manifest) and the
  splicescore version;
* the run's scoring settings (:func:`scoring_settings`: ``-D``, ``-M``, ``--pad-ends``,
  ``--transcripts``, the model options, the sha256 of the ``--pas`` file, the device type) and the
  scorer's ``options()``;
* the record (CHROM, POS, REF and the ALTs in order);
* what the model can read around it (:func:`record_context`): the reference sequence of
  ``[POS - R, POS + len(REF) - 1 + R]`` as fetched (case kept, ``N`` off the contig) with the contig's
  length, the annotation entries overlapping that span and the model's own annotated sites in it
  (``Scorer.sites_between``, e.g. APARENT2's ``--pas`` sites). ``R`` is the model's reach
  (:func:`reach`, from the scorer's ``reach()``).

So a changed FASTA, annotation or option gives a new key (a miss), never a stale score. Floats
round-trip exactly (JSON writes Python's shortest repr), so a hit writes the same bytes as a fresh
computation on the same device.

Several runs may share one file (Snakemake shards): SQLite locks it, a writer waits up to
:data:`BUSY_TIMEOUT` seconds for another, and each chunk's entries go in with one ``INSERT OR
REPLACE`` transaction (:meth:`ScoreCache.commit`). The default rollback journal is used (WAL needs
shared memory, which network file systems do not offer).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from contextlib import contextmanager

import torch

from splicescore import __version__
from splicescore.errors import InputError, OutputError, WeightsError
from splicescore.core.scorer import RecordResult, Variant
from splicescore.model_options import cache_settings
from splicescore.nn.engine import track_path
from splicescore.weights import read_manifest

#: layout of the cache file; a file of another version is refused (use another file or delete it)
SCHEMA = 1
APPLICATION = "splicescore score cache"
#: seconds a run waits for another run that holds the file's lock
BUSY_TIMEOUT = 120.0

def reach(scorer, variant: Variant) -> int:
    """nt on each side of the REF bases of ``variant`` that the key's sequence and annotation cover:
    the model's own :meth:`~splicescore.core.scorer.Scorer.reach` plus ``len(REF)`` and the longest
    ALT, which covers what indels pull in (generous on purpose: a wider span only costs hits)."""
    return scorer.reach() + len(variant.ref) + max((len(a) for a in variant.alts), default=0)


def scoring_settings(cfg, device_type: str) -> dict:
    """The run options (a :class:`~splicescore.pipeline.RunConfig`) that can change a score, and the
    device type (``cpu``, ``cuda``; on a GPU also its model and the batching)."""
    settings = {
        "distance": cfg.distance,
        "mask": cfg.mask,
        "pad_ends": cfg.pad_ends,
        "transcripts": cfg.transcripts,
        "transcript_types": list(cfg.transcript_types) if cfg.transcript_types else None,
        # what a stored result holds: 2 = SpliceAI TSV rows with the SpliceAI-lookup columns
        "result_format": 2,
        # every model's own options (splicescore.model_options), e.g. pangolin_mask, pas_sha256
        **cache_settings(cfg.model_options),
        # GPU batches round differently from the CPU's single windows (README, "Reproducible bytes")
        "device": device_type,
        "precision": cfg.precision,
        "torch": torch.__version__,
    }
    path = track_path(cfg.engine, device_type, cfg.precision)
    if path != track_path("auto", device_type, "fp32"):
        # another compute path than the device's default rounds differently (same strings;
        # unrounded values to ~1e-9); the default's keys stay those of earlier versions
        settings["engine"] = path
    if device_type == "cpu" and cfg.precision != "fp32":
        # every model's windows get the bf16/fp16 casts on the CPU (before: the batched engine's only)
        settings["cpu_casts"] = "all"
    if device_type != "cpu":  # GPU kernels and batch composition change the last bits
        settings.update(batch_size=cfg.batch_size, chunk_size=cfg.chunk_size,
                        gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None)
    return settings


def _entry(tx) -> dict:
    """An annotation entry's fields; ``order`` (its index in the whole file) is left out: the entries'
    relative order is the list's."""
    return {f.name: getattr(tx, f.name) for f in dataclasses.fields(tx) if f.name != "order"}


def record_context(scorer, variant: Variant) -> dict:
    """What ``scorer`` can read for ``variant``: sequence, contig length, annotation entries and PAS
    sites of the span ``[POS - R, POS + len(REF) - 1 + R]`` (``R`` = :func:`reach`)."""
    r = reach(scorer, variant)
    lo1, hi1 = variant.pos1 - r, variant.pos1 + len(variant.ref) - 1 + r
    contig = scorer.reference.resolve(variant.chrom)
    genes = scorer.genes
    return {
        "sequence": None if contig is None else scorer.reference.fetch(contig, lo1 - 1, hi1),
        "contig_length": None if contig is None else scorer.reference.lengths[contig],
        "annotation": None if genes is None else [_entry(t) for t in genes.overlapping(variant.chrom, lo1, hi1)],
        "sites": scorer.sites_between(variant.chrom, lo1, hi1),
    }


def record_key(model: str, weights_sha256: str, settings: dict, variant: Variant, context: dict) -> str:
    """sha256 (hex) of the canonical JSON of everything that identifies one record's result.

    Parameters
    ----------
    model : str
    weights_sha256 : str
        Checksum of the converted weights (``tensors_sha256`` of the manifest).
    settings : dict
        :func:`scoring_settings` plus the scorer's ``options()``.
    variant : Variant
        Its ``index`` (the record number) is not part of the key.
    context : dict
        :func:`record_context`.
    """
    doc = {
        "model": model,
        "weights": weights_sha256,
        "splicescore": __version__,
        "settings": settings,
        "variant": [variant.chrom, variant.pos1, variant.ref, list(variant.alts)],
        "context": context,
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value):
    """JSON for the numpy integers and booleans a scorer may hand over (floats must be Python floats
    already: a numpy float32 would not print the same after a round trip)."""
    import numpy as np

    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in the score cache")


def encode_result(result: RecordResult) -> str:
    doc = {"info": result.info, "rows": result.rows, "skips": result.skips}
    if result.extra:
        doc["extra"] = result.extra
    return json.dumps(doc, default=_plain)


def decode_result(text: str) -> RecordResult:
    doc = json.loads(text)
    return RecordResult(doc["info"], doc["rows"], [tuple(s) for s in doc["skips"]], doc.get("extra", {}))


class ScoreCache:
    """A score cache file (created when missing), opened for one run.

    Parameters
    ----------
    path : str
        The SQLite file.
    settings : dict
        :func:`scoring_settings` of the run (part of every key).
    weights_home : Path, optional
        The weight cache whose manifests give the weights' checksums.
    check_same_thread : bool
        ``False`` lets other threads use the file (the caller serialises them: ``api.Session`` holds a lock).
    """

    def __init__(self, path: str, settings: dict | None = None, weights_home=None, check_same_thread: bool = True):
        self.path = str(path)
        self.settings = settings or {}
        self.weights_home = weights_home
        self._weights: dict[str, str] = {}
        self._pending: dict[str, str] = {}
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None,
                                       check_same_thread=check_same_thread)
        except sqlite3.Error as exc:
            raise OutputError(f"{self.path}: cannot open the score cache ({exc})") from exc
        try:
            self._open()
        except BaseException:
            self._db.close()
            raise

    def _open(self) -> None:
        with _sqlite_errors(self.path):
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:
                self._db.execute("BEGIN IMMEDIATE")  # two runs creating one file: the second waits
                self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
                self._db.execute("CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, result TEXT NOT NULL)")
                self._db.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)",
                                     [("application", APPLICATION), ("schema", str(SCHEMA))])
                self._db.execute("COMMIT")
                tables = {"meta", "scores"}
            meta = dict(self._db.execute("SELECT name, value FROM meta")) if {"meta", "scores"} <= tables else {}
        if meta.get("application") != APPLICATION:
            raise InputError("not a splicescore score cache (an SQLite file of something else); "
                             "give --cache another file", self.path)
        if meta.get("schema") != str(SCHEMA):
            raise InputError(f"score cache of another splicescore version (schema {meta.get('schema')}, this "
                             f"version uses {SCHEMA}); give --cache another file or delete this one", self.path)

    def key(self, scorer, variant: Variant) -> str:
        """The key of ``variant``'s result from ``scorer`` (see :func:`record_key`)."""
        name = scorer.name
        if name not in self._weights:
            checksum = (read_manifest(name, self.weights_home) or {}).get("tensors_sha256")
            if not checksum:
                raise WeightsError(f"{name}: the weight manifest has no checksum; re-import the weights")
            self._weights[name] = checksum
        settings = {**self.settings, "scorer": scorer.options()}
        return record_key(name, self._weights[name], settings, variant, record_context(scorer, variant))

    def get(self, key: str) -> RecordResult | None:
        """The stored result, or ``None`` (a miss)."""
        if key in self._pending:
            return decode_result(self._pending[key])
        with _sqlite_errors(self.path):
            row = self._db.execute("SELECT result FROM scores WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return decode_result(row[0])
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"damaged score cache entry ({exc}); delete the file", self.path) from exc

    def put(self, key: str, result: RecordResult) -> None:
        """Store a result with the next :meth:`commit`."""
        self._pending[key] = encode_result(result)

    def commit(self) -> None:
        """Write the pending results in one transaction (waiting for other runs' locks)."""
        items, self._pending = list(self._pending.items()), {}  # a failed write is not retried
        if not items:
            return
        with _sqlite_errors(self.path):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?)", items)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Commit what is pending and close the file."""
        try:
            self.commit()
        finally:
            self._db.close()


@contextmanager
def _sqlite_errors(path: str):
    """SQLite errors as splicescore errors naming the file: a damaged or foreign file is an input
    error, a file that cannot be written or stays locked an output error."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise OutputError(f"{path}: cannot use the score cache ({exc})") from exc
    except sqlite3.DatabaseError as exc:
        raise InputError(f"not a splicescore score cache, or a damaged one ({exc}); give --cache another file",
                         path) from exc
