"""Reference FASTA access (opened once per run) and contig-name reconciliation."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pysam

from splicescore.errors import InputError
from splicescore.io.textfile import is_gzip

_MITO = ("chrM", "MT", "M", "chrMT")


def contig_aliases(name: str) -> list[str]:
    """Names under which contig ``name`` may appear in another file (``chr17``/``17``, ``chrM``/``MT``)."""
    out = [name]
    if name in _MITO:
        out += [m for m in _MITO if m != name]
    elif name.startswith("chr"):
        out.append(name[3:])
    else:
        out.append("chr" + name)
    return out


class ContigResolver:
    """Maps contig names of one file onto the names another file uses (cached)."""

    def __init__(self, names):
        self.names = set(names)
        self._cache: dict[str, str | None] = {}

    def __call__(self, name: str) -> str | None:
        if name not in self._cache:
            self._cache[name] = next((a for a in contig_aliases(name) if a in self.names), None)
        return self._cache[name]


class Reference:
    """A FASTA file (plain or bgzipped, with ``.fai``/``.gzi``), opened once.

    A missing index is built next to the file when the folder is writable; otherwise the error says
    how to build it (``samtools faidx``).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        if not Path(self.path).is_file():
            raise InputError("reference FASTA not found", self.path)
        self._index_dir: str | None = None
        try:
            self._fasta = self._open_read_only() or pysam.FastaFile(self.path)
        except (OSError, ValueError, pysam.utils.SamtoolsError) as exc:
            hint = ""
            if self.path.endswith(".gz"):
                hint = (
                    " (a compressed FASTA must be bgzip-compressed with .fai and .gzi indexes: "
                    "`bgzip -d < in.fa.gz | bgzip > out.fa.gz && samtools faidx out.fa.gz`)"
                )
            elif not os.access(os.path.dirname(os.path.abspath(self.path)), os.W_OK):
                hint = " (no .fai index and the folder is read-only: run `samtools faidx` on a copy)"
            raise InputError(f"cannot open FASTA: {exc}{hint}", self.path) from exc
        self.lengths = dict(zip(self._fasta.references, self._fasta.lengths))
        self.resolve = ContigResolver(self.lengths)
        self.reads = 0  # FASTA reads so far (see REGION)
        self._check_index()

    def _open_read_only(self):
        """A FASTA without its index in a folder this process cannot write: build the index in a
        temporary folder (removed on :meth:`close`) instead of failing."""
        folder = os.path.dirname(os.path.abspath(self.path))
        gz = is_gzip(self.path)
        missing = not os.path.exists(self.path + ".fai") or (gz and not os.path.exists(self.path + ".gzi"))
        if not missing or os.access(folder, os.W_OK):
            return None
        self._index_dir = tempfile.mkdtemp(prefix="splicescore-fai-")
        base = os.path.join(self._index_dir, os.path.basename(self.path))
        args = [self.path, "--fai-idx", base + ".fai"] + (["--gzi-idx", base + ".gzi"] if gz else [])
        pysam.faidx(*args)
        return pysam.FastaFile(self.path, filepath_index=base + ".fai",
                               filepath_index_compressed=base + ".gzi" if gz else None)

    def _check_index(self) -> None:
        """A stale or foreign ``.fai`` points outside the sequence: its last base must read as one
        sequence letter on every contig."""
        for contig, length in self.lengths.items():
            try:
                last = self._fasta.fetch(contig, length - 1, length) if length else ""
            except (OSError, ValueError) as exc:
                raise InputError(f"cannot read {contig} through its index ({exc})", self.path) from exc
            if length and (len(last) != 1 or not last.isalpha()):
                raise InputError(
                    f"the FASTA index does not match the file (contig {contig}: {length} bp in the index); "
                    "rebuild it with `samtools faidx`",
                    self.path,
                )

    def close(self) -> None:
        self._fasta.close()
        if self._index_dir is not None:
            shutil.rmtree(self._index_dir, ignore_errors=True)
            self._index_dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    #: sequence read around a request and kept, so that the windows of nearby records and of every
    #: model in a run come from one read of the FASTA (a bgzip block is decompressed once)
    REGION = 200_000

    def fetch(self, contig: str, start0: int, end0: int) -> str:
        """Sequence of ``[start0, end0)`` on ``contig`` (a name of this FASTA), positions outside the
        contig returned as ``N``. Case is kept as stored (soft-masking)."""
        length = self.lengths[contig]
        lo, hi = max(start0, 0), min(end0, length)
        if hi <= lo:
            return "N" * max(end0 - start0, 0)
        core = self._region(contig, lo, hi)
        return "N" * (lo - start0) + core + "N" * (end0 - hi)

    def _region(self, contig: str, lo: int, hi: int) -> str:
        cached = getattr(self, "_cache", None)
        if cached is None or cached[0] != contig or lo < cached[1] or hi > cached[1] + len(cached[2]):
            start = max(lo - self.REGION // 4, 0)
            end = min(max(hi, start + self.REGION), self.lengths[contig])
            seq = self._fasta.fetch(contig, start, end)
            self.reads += 1
            if len(seq) != end - start:
                raise InputError(f"FASTA index does not match the sequence of {contig}", self.path)
            self._cache = cached = (contig, start, seq)
        return cached[2][lo - cached[1] : hi - cached[1]]
