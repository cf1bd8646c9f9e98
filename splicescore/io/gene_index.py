"""Genes and their transcripts: :class:`Transcript` (one transcript, 1-based inclusive coordinates)
and :class:`GeneIndex` (the run's transcripts indexed by interval for point look-ups)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ncls import NCLS

from splicescore.io.genome import ContigResolver


@dataclass(frozen=True)
class Transcript:
    """One gene's chosen transcript (1-based inclusive coordinates)."""

    gene: str
    chrom: str
    strand: str
    tx_start1: int
    tx_end1: int
    exon_starts1: tuple[int, ...]
    exon_ends1: tuple[int, ...]
    transcript_id: str = ""
    order: int = 0
    gene_id: str = ""  # the GTF/GFF3 gene_id (Pangolin prints it); "" for SpliceAI tables
    priority: str = ""  # MS (MANE Select), MP (MANE Plus Clinical), C (Ensembl canonical), N; "" for tables
    rank: int = 0  # place among the gene's kept transcripts (0: the gene's top-priority transcript)
    transcript_type: str = ""

    @property
    def exon_boundaries1(self) -> np.ndarray:
        """Sorted unique exon starts and ends (SpliceAI's "annotated splice sites", incl. the
        transcript's own first and last base)."""
        return np.union1d(np.asarray(self.exon_starts1), np.asarray(self.exon_ends1))

    def nearest_boundary_offset(self, pos1: int) -> int:
        """Signed distance from ``pos1`` to the closest exon boundary (SpliceAI's ``dist_exon_bdry``:
        ``min(boundaries - pos, key=abs)``, the first such on ties)."""
        d = self.exon_boundaries1 - pos1
        return int(d[np.argmin(np.abs(d))])


class GeneIndex:
    """Transcripts indexed per contig with a nested containment list (``ncls``)."""

    def __init__(self, transcripts, source: str, _arrays=None):
        self.source = source
        if _arrays is None:
            self.transcripts = sorted(transcripts, key=lambda t: t.order)
            chrom_of = [t.chrom for t in self.transcripts]
            starts_all = np.asarray([t.tx_start1 for t in self.transcripts], dtype=np.int64)
            ends_all = np.asarray([t.tx_end1 for t in self.transcripts], dtype=np.int64)
        else:  # a compiled index: Transcript objects are made on first look-up
            self.transcripts = transcripts
            codes, names, starts_all, ends_all = _arrays
            chrom_of = None
        if chrom_of is not None:
            names = list(dict.fromkeys(chrom_of))
            lookup = {c: i for i, c in enumerate(names)}
            codes = np.asarray([lookup[c] for c in chrom_of], dtype=np.int64)
        self._index = {}
        for code, chrom in enumerate(names):
            ids_arr = np.flatnonzero(codes == code).astype(np.int64)
            if len(ids_arr):
                self._index[chrom] = NCLS(starts_all[ids_arr], ends_all[ids_arr] + 1, ids_arr)
        self.resolve = ContigResolver(self._index)

    @property
    def contigs(self) -> list[str]:
        return list(self._index)

    def __len__(self) -> int:
        return len(self.transcripts)

    def at(self, chrom: str, pos1: int) -> list[Transcript]:
        """Transcripts with ``tx_start1 <= pos1 <= tx_end1`` on ``chrom`` (any naming), in source order."""
        return self.overlapping(chrom, pos1, pos1)

    def overlapping(self, chrom: str, start1: int, end1: int) -> list[Transcript]:
        """Transcripts overlapping ``[start1, end1]`` (1-based inclusive) on ``chrom``, in source order."""
        name = self.resolve(chrom)
        if name is None:
            return []
        hits = sorted(h[2] for h in self._index[name].find_overlap(start1, end1 + 1))
        return [self.transcripts[i] for i in hits]

    def by_name(self, gene: str) -> list[Transcript]:
        return [t for t in self.transcripts if t.gene == gene]
