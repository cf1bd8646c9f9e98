"""APARENT2's ``--pas`` file: annotated PAS hexamers (BED or GTF/GFF3) and their range look-ups."""

from __future__ import annotations

import bisect
import gzip
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from splicescore.errors import InputError
from splicescore.io.genome import ContigResolver

#: nt of a PAS hexamer
HEXAMER = 6

PAS_GTF_FEATURES = ("polyA_signal", "polyA_signal_sequence")


def parse_pas_lines(lines: Iterable[str], name: str) -> dict[str, list[tuple[int, str]]]:
    """``{chrom: sorted [(pas_pos1, strand)]}`` from BED or GTF/GFF3 lines.

    * BED (``chrom start0 end0 [name score strand ...]``, strand required): the hexamer is the
      6 nt at the feature's 5' end on its strand: + ``start0 + 1``, - ``end0 - 5`` (for a 6-nt
      feature both are the feature itself).
    * GTF/GFF3 (9 columns): features ``polyA_signal`` / ``polyA_signal_sequence`` only, 1-based
      ``start``/``end``, the same 5'-end rule; other features are ignored.

    ``track``/``browser``/``#`` lines and blank lines are skipped. Errors name ``name:line``.
    """
    sites: dict[str, set[tuple[int, str]]] = defaultdict(set)
    kind = None
    for lineno, line in enumerate(lines, start=1):
        text = line.rstrip("\r\n")
        if not text.strip() or text.startswith(("#", "track", "browser")):
            continue
        f = text.split("\t")
        this = "gtf" if len(f) == 9 and f[3].strip().isdigit() and f[4].strip().isdigit() and not f[1].strip().isdigit() else "bed"
        kind = kind or this
        if this != kind:
            raise InputError(f"mixes BED and GTF lines (this line looks like {this}, earlier ones like {kind})", name, lineno)
        try:
            if kind == "gtf":
                chrom, feature, strand = f[0], f[2], f[6]
                if feature not in PAS_GTF_FEATURES:
                    continue
                start1, end1 = int(f[3]), int(f[4])
            else:
                if len(f) < 6:
                    raise InputError("a PAS BED line needs at least 6 columns (chrom, start, end, name, score, strand)",
                                     name, lineno)
                chrom, strand = f[0], f[5]
                start1, end1 = int(f[1]) + 1, int(f[2])
        except ValueError as exc:
            raise InputError(f"non-numeric start/end ({exc})", name, lineno) from exc
        if strand not in ("+", "-"):
            raise InputError(f"strand must be + or -, found {strand!r}", name, lineno)
        if start1 < 1 or end1 < start1:
            raise InputError(f"invalid interval {start1}-{end1} (1-based)", name, lineno)
        pas_pos1 = start1 if strand == "+" else end1 - (HEXAMER - 1)
        sites[chrom].add((pas_pos1, strand))
    return {chrom: sorted(v) for chrom, v in sites.items()}


def load_pas_sites(path: str | Path) -> "PasSites":
    """Read a ``--pas`` BED or GTF/GFF3 (optionally gzipped)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        opener = gzip.open if gz else open
        with opener(path, "rt") as fh:
            sites = parse_pas_lines(fh, str(path))
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read PAS file: {exc}", str(path)) from exc
    if not sites:
        raise InputError("no PAS sites (BED lines with strand, or GTF polyA_signal features)", str(path))
    return PasSites(sites, str(path))


class PasSites:
    """Annotated PAS sites per contig, for range look-ups (contig names reconciled)."""

    def __init__(self, sites: dict[str, list[tuple[int, str]]], source: str = ""):
        self.source = source
        self.sites = sites
        self._pos = {c: [p for p, _ in v] for c, v in sites.items()}
        self.resolve = ContigResolver(sites)

    @property
    def contigs(self) -> list[str]:
        return list(self.sites)

    def between(self, chrom: str, lo1: int, hi1: int) -> list[tuple[int, str]]:
        """Sites with ``lo1 <= pas_pos1 <= hi1``."""
        name = self.resolve(chrom)
        if name is None:
            return []
        pos = self._pos[name]
        return self.sites[name][bisect.bisect_left(pos, lo1) : bisect.bisect_right(pos, hi1)]
