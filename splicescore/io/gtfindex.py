"""Compiled GTF/GFF3 annotation: a data-only index in the cache folder.

The vectorised reader (:mod:`splicescore.io.gtf_reader`) makes every transcript with its exons,
tags and type into arrays, stored as a numpy ``.npz`` (``allow_pickle=False``: data only, never
code) with its format version, the parser version and the source's sha256:

* ``$SPLICESCORE_HOME/annotation/<sha256>.p<PARSER_VERSION>.npz`` for a GTF given with ``-a``
  (built on first use, written to a temporary file and renamed, so concurrent shards are safe);
* or any path written by ``splicescore annotation build GTF -o FILE`` and given with ``-a FILE``.

Selection of the transcripts of a run (``--transcripts``) happens when the index is loaded, on its
arrays (:mod:`splicescore.io.transcript_selection`).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from splicescore.errors import InputError
from splicescore.io.gtf_reader import PARSER_VERSION, parse
from splicescore.paths import home, sha256_file  # noqa: F401 (sha256_file: part of this module's API)

FORMAT = "splicescore-annotation-index"
FORMAT_VERSION = 1
SUFFIX = ".ssidx.npz"

_ARRAYS = ("meta", "chrom_names", "type_names", "tx_id", "tx_gene", "tx_gene_id", "tx_chrom", "tx_strand",
           "tx_start", "tx_end", "tx_order", "tx_group", "tx_flags", "tx_type", "tx_exonic", "ex_off",
           "ex_start", "ex_end")


class AnnotationIndexError(InputError):
    """A compiled index that cannot be used (foreign, stale or corrupt)."""


def cache_path(source_sha256: str, root: Path | None = None) -> Path:
    """Where ``-a GTF`` keeps the GTF's index: ``<root>/annotation/<sha256>.p<parser>.ssidx.npz``."""
    return (root or home()) / "annotation" / f"{source_sha256}.p{PARSER_VERSION}{SUFFIX}"


def is_index_file(path: str | Path) -> bool:
    """Whether ``path`` looks like a compiled index (a zip whose members are ours)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"  # a zip (.npz); a GTF or table never starts so
    except OSError:
        return False


def write_index(arrays: dict[str, np.ndarray], source_sha256: str, source_name: str, out: Path,
                make_parent: bool = True) -> Path:
    """Write the index atomically (temporary file in the same folder, then rename)."""
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "parser_version": PARSER_VERSION,
            "source_sha256": source_sha256, "source_name": source_name,
            "transcripts": int(len(arrays["tx_id"]))}
    out = Path(out)
    if make_parent:
        out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return out


def read_index(path: str | Path, expect_sha256: str | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) of a compiled index, checked; raises :class:`AnnotationIndexError` (one line) for a
    file that is not one, of another format/parser version, for another source, or inconsistent."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _ARRAYS if k not in z.files]
            if missing:
                raise AnnotationIndexError(f"not a splicescore annotation index (no {missing[0]})", str(path))
            arrays = {k: z[k] for k in _ARRAYS}
    except AnnotationIndexError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise AnnotationIndexError(f"unreadable annotation index ({exc})", str(path)) from exc
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise AnnotationIndexError("unreadable annotation index (bad metadata)", str(path)) from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise AnnotationIndexError("not a splicescore annotation index", str(path))
    if meta.get("format_version") != FORMAT_VERSION or meta.get("parser_version") != PARSER_VERSION:
        raise AnnotationIndexError(
            f"annotation index of format {meta.get('format_version')}/parser {meta.get('parser_version')}, "
            f"this splicescore reads {FORMAT_VERSION}/{PARSER_VERSION}: rebuild it with `splicescore annotation build`",
            str(path))
    if expect_sha256 is not None and meta.get("source_sha256") != expect_sha256:
        raise AnnotationIndexError("annotation index was built from another file", str(path))
    _check(arrays, path)
    return meta, arrays


def _check(a: dict[str, np.ndarray], path: Path) -> None:
    n = len(a["tx_id"])
    ok = (
        n > 0
        and all(a[k].ndim == 1 and len(a[k]) == n for k in (
            "tx_gene", "tx_gene_id", "tx_chrom", "tx_strand", "tx_start", "tx_end", "tx_order", "tx_group",
            "tx_flags", "tx_type", "tx_exonic"))
        and all(a[k].dtype.kind == "S" for k in ("chrom_names", "type_names", "tx_id", "tx_gene", "tx_gene_id"))
        and all(a[k].dtype.kind in "iu" for k in (
            "tx_chrom", "tx_strand", "tx_start", "tx_end", "tx_order", "tx_group", "tx_flags", "tx_type",
            "tx_exonic", "ex_off", "ex_start", "ex_end"))
        and len(a["ex_off"]) == n + 1 and a["ex_off"][0] == 0
        and len(a["ex_start"]) == len(a["ex_end"]) == a["ex_off"][-1]
        and bool(np.all(np.diff(a["ex_off"]) > 0))
        and 0 <= a["tx_chrom"].min() and a["tx_chrom"].max() < len(a["chrom_names"])
        and 0 <= a["tx_type"].min() and a["tx_type"].max() < len(a["type_names"])
        and bool(np.all((a["tx_strand"] == 0) | (a["tx_strand"] == 1)))
        and bool(np.all(np.diff(a["tx_order"]) > 0))
        and a["tx_group"].min() >= 0 and a["tx_group"].max() < n
    )
    if not ok:
        raise AnnotationIndexError("corrupt annotation index (inconsistent arrays)", str(path))


def build(source: str | Path, out: str | Path | None = None, root: Path | None = None) -> Path:
    """Parse ``source`` and write its index to ``out`` (default: the cache path for its sha256)."""
    from splicescore.errors import OutputError

    source = Path(source)
    try:
        digest = sha256_file(source)
    except OSError as exc:
        raise InputError(f"cannot read annotation: {exc}", str(source)) from exc
    target = Path(out) if out is not None else cache_path(digest, root)
    arrays = parse(source)
    try:
        return write_index(arrays, digest, source.name, target, make_parent=out is None)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write the annotation index ({exc.strerror or exc})") from exc


def load_source(source: str | Path, root: Path | None = None, log=None) -> tuple[dict, dict[str, np.ndarray]]:
    """The index of a GTF/GFF3: from the cache when a good one is there, else built (and cached
    when the cache folder is writable)."""
    source = Path(source)
    try:
        digest = sha256_file(source)
    except OSError as exc:
        raise InputError(f"cannot read annotation: {exc}", str(source)) from exc
    target = cache_path(digest, root)
    if target.is_file():
        try:
            return read_index(target, digest)
        except AnnotationIndexError as exc:
            if log:
                log(f"splicescore: {exc}; rebuilding it")
    arrays = parse(source)
    try:
        write_index(arrays, digest, source.name, target)
    except OSError as exc:
        if log:
            log(f"splicescore: cannot cache the annotation index in {target.parent} ({exc}); "
                "build one with `splicescore annotation build`")
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "parser_version": PARSER_VERSION,
            "source_sha256": digest, "source_name": source.name}
    return meta, arrays
