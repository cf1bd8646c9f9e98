"""Gene annotation: one transcript per gene, indexed by interval for point look-ups.

Sources:

* a SpliceAI gene table (the GENCODE V24 canonical tables ``grch37.txt``/``grch38.txt`` shipped in
  the ``spliceai`` 1.3.1 package, or any file in that format): tab-separated columns
  ``#NAME CHROM STRAND TX_START TX_END EXON_START EXON_END``, where ``TX_START`` and the
  comma-separated ``EXON_START`` values are 0-based and ``TX_END``/``EXON_END`` are 1-based inclusive
  ends (SpliceAI adds 1 to the starts when it loads them);
* a GTF or GFF3 file (optionally gzipped). One transcript is kept per gene: with ``auto`` the one
  tagged ``MANE_Select``, else ``Ensembl_canonical`` (GENCODE/Ensembl tags), else the longest
  (most exonic bases, then the widest span, then the first in the file). ``longest`` ignores tags;
  a file of transcript IDs keeps exactly those.

Coordinates are held 1-based inclusive (``tx_start1``..``tx_end1``). Genes keep the order of the
source (table row / first appearance), which is the order SpliceAI writes overlapping genes in.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from splicescore.errors import InputError
from splicescore.io.gene_index import GeneIndex, Transcript
from splicescore.io.gtf_reference import load_gtf_lines, read_gtf_lines
from splicescore.io.textfile import open_text
from splicescore.io.transcript_selection import is_multi, select_transcripts

#: what callers import from here (the loaders and the types they return)
__all__ = ["Transcript", "GeneIndex", "load_annotation", "load_spliceai_table", "load_gtf", "load_gtf_lines",
           "read_gtf_lines", "is_multi"]


def load_spliceai_table(path: str | Path) -> GeneIndex:
    """Load a SpliceAI-format gene table (see module docstring)."""
    path = Path(path)
    transcripts = []
    try:
        with open_text(path) as fh:
            header = fh.readline().rstrip("\n").split("\t")
            expected = ["#NAME", "CHROM", "STRAND", "TX_START", "TX_END", "EXON_START", "EXON_END"]
            if header[:7] != expected:
                raise InputError(f"not a SpliceAI gene table: header must be {' '.join(expected)}", str(path), 1)
            for lineno, line in enumerate(fh, start=2):
                if not line.strip():
                    continue
                f = line.rstrip("\n").split("\t")
                try:
                    name, chrom, strand, tx_start0, tx_end, exon_starts0, exon_ends = f[:7]
                    starts = tuple(int(x) + 1 for x in exon_starts0.split(",") if x)
                    ends = tuple(int(x) for x in exon_ends.split(",") if x)
                    t = Transcript(name, chrom, strand, int(tx_start0) + 1, int(tx_end), starts, ends, "", lineno)
                except ValueError as exc:
                    raise InputError(f"malformed gene table row ({exc})", str(path), lineno) from exc
                if strand not in "+-" or len(strand) != 1 or len(starts) != len(ends) or not starts:
                    raise InputError("malformed gene table row (strand or exon lists)", str(path), lineno)
                transcripts.append(t)
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read gene table: {exc}", str(path)) from exc
    if not transcripts:
        raise InputError("gene table holds no genes", str(path))
    return GeneIndex(transcripts, str(path))


def load_gtf(path: str | Path, transcripts: str = "auto", types: tuple[str, ...] | None = None,
             root: Path | None = None, cache: bool = False, log=None) -> GeneIndex:
    """Load a GTF or GFF3 (optionally gzipped) through the vectorised reader
    (:mod:`splicescore.io.gtfindex`); with ``cache`` its compiled index is taken from (or written to)
    the cache folder under ``root``. Same genes and transcripts as :func:`load_gtf_lines`."""
    from splicescore.io import gtfindex

    path = Path(path)
    if cache:
        _, arrays = gtfindex.load_source(path, root, log)
    else:
        arrays = gtfindex.parse(path)
    return select_transcripts(arrays, transcripts, types, str(path))


def load_annotation(spec: str, transcripts: str = "auto", builtin_dir: Path | None = None,
                    types: tuple[str, ...] | None = None, root: Path | None = None, cache: bool = True,
                    log=None) -> GeneIndex:
    """``grch37``/``grch38`` (the SpliceAI tables from the weights cache), a SpliceAI-format table,
    a compiled index (``splicescore annotation build``), or a GTF/GFF3 path (its compiled index is
    cached under ``root``, default ``$SPLICESCORE_HOME``, when ``cache``)."""
    if spec in ("grch37", "grch38"):
        if builtin_dir is None:
            raise InputError(f"built-in annotation {spec} needs the SpliceAI package files")
        return load_spliceai_table(builtin_dir / f"{spec}.txt")
    path = Path(spec)
    if not path.is_file():
        raise InputError("annotation file not found (use grch37, grch38, a SpliceAI gene table or a GTF/GFF3)", spec)
    from splicescore.io import gtfindex

    if gtfindex.is_index_file(path):
        _, arrays = gtfindex.read_index(path)
        return select_transcripts(arrays, transcripts, types, spec)
    try:
        with open_text(path) as fh:
            first = fh.readline()
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read annotation: {exc}", spec) from exc
    if first.startswith("#NAME"):
        return load_spliceai_table(path)
    return load_gtf(path, transcripts, types, root, cache, log)
