"""REF against the FASTA for every record, before any model's checks (:class:`RefCheck`)."""

from __future__ import annotations

import logging

from splicescore.io.genome import Reference
from splicescore.statistics import Statistics

log = logging.getLogger("splicescore")

#: Skip reasons about where a variant lies; a record whose REF differs from the FASTA gets
#: ``ref_mismatch`` instead, one whose contig is not in the FASTA ``contig_not_in_fasta`` (its position
#: is probably not what the VCF meant).
LOCATION_REASONS = ("no_gene", "no_pas", "no_donor")


class RefCheck:
    """REF against the FASTA for every record, before any model's checks (one place, cheap: the
    reference is read in large cached regions). Mismatches are counted apart from the skip reasons;
    when they are more than a small fraction (>= MIN_MISMATCHES of the first WINDOW records checked,
    or, in a run that checks fewer, >= 10 % and at least 2), one warning names the fraction, the first
    mismatching record and the likely cause. :meth:`finish` also warns when no record's contig is in
    the FASTA or in the annotation."""

    WINDOW = 200
    MIN_MISMATCHES = 20

    def __init__(self, reference: Reference, stats: Statistics, built=(), source: str = "input"):
        self.reference = reference
        self.stats = stats
        self.source = source
        self.gene_indexes = [(sc.name, sc.genes) for sc, _ in built if sc.genes is not None]
        self.first: str | None = None
        self.window_mismatches = 0
        self.warned = False
        self.records = 0
        self.in_fasta = 0
        self.in_annotation = {name: 0 for name, _ in self.gene_indexes}
        self.contigs: dict[str, None] = {}

    def __call__(self, variants) -> list[str | None]:
        out = []
        for v in variants:
            self.records += 1
            if len(self.contigs) < 5:
                self.contigs.setdefault(v.chrom)
            for name, genes in self.gene_indexes:
                if genes.resolve(v.chrom):
                    self.in_annotation[name] += 1
            contig = self.reference.resolve(v.chrom)
            if contig is None or not v.ref:
                out.append("contig_not_in_fasta" if contig is None else None)
                continue
            self.in_fasta += 1
            seq = self.reference.fetch(contig, v.pos1 - 1, v.pos1 - 1 + len(v.ref))
            bad = seq.upper() != v.ref.upper()
            out.append("ref_mismatch" if bad else None)
            self.stats.ref_checked += 1
            if bad:
                self.stats.ref_mismatches += 1
                if self.first is None:
                    self.first = (f"record {v.index + 1} ({v.chrom}:{v.pos1} REF {_short(v.ref)}, "
                                  f"FASTA {_short(seq)})")
            if self.stats.ref_checked <= self.WINDOW:
                self.window_mismatches += bad
                if self.window_mismatches >= self.MIN_MISMATCHES:
                    self._warn()
        return out

    def _warn(self) -> None:
        if self.warned:
            return
        self.warned = True
        n, checked = self.window_mismatches, min(self.stats.ref_checked, self.WINDOW)
        msg = (f"REF differs from the FASTA {self.reference.path} in {n} of the first {checked} records checked "
               f"({100 * n / checked:.0f} %), first at {self.first} in {self.source}: the VCF and the FASTA are "
               "probably different builds or contig namings")
        log.warning(f"splicescore: warning: {msg}")
        self.stats.warnings.append(msg)

    def finish(self) -> None:
        checked = self.stats.ref_checked
        if not self.warned and 0 < checked < self.WINDOW and self.window_mismatches >= max(2, checked / 10):
            self._warn()
        if not self.records:
            return
        shown = ", ".join(self.contigs)
        problems = []
        if not self.in_fasta:
            problems.append(f"no record's contig ({shown}) is in the FASTA {self.reference.path} "
                            f"(which has {', '.join(list(self.reference.lengths)[:5])}...)")
        for name, genes in self.gene_indexes:
            if self.in_fasta and not self.in_annotation[name]:
                problems.append(f"no record's contig ({shown}) is in the annotation {genes.source}")
        for msg in dict.fromkeys(problems):
            msg += ": the VCF, the FASTA and the annotation probably use different builds or contig namings"
            log.warning(f"splicescore: warning: {msg}")
            self.stats.warnings.append(msg)


def _short(seq: str, n: int = 12) -> str:
    return seq if len(seq) <= n else seq[:n] + "..."
