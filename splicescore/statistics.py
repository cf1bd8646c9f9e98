"""What a run did: :class:`Statistics` (returned by ``run_vcf``, summarised on stderr by the CLI)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Statistics:
    """What a run did (returned by :func:`run_vcf`, summarised on stderr by the CLI)."""

    records: int = 0
    resumed: int = 0  # records copied from a partial output (--resume), not scored again
    alleles: int = 0
    scored: Counter = field(default_factory=Counter)  # model -> ALTs scored
    skipped: Counter = field(default_factory=Counter)  # (model, reason) -> ALTs
    windows: int = 0
    seconds: float = 0.0
    cache: str | None = None  # the score cache file, when one was used
    cache_hits: int = 0  # model x record results taken from the cache ...
    cache_misses: int = 0  # ... and computed (then stored)
    ref_checked: int = 0  # records whose REF was compared with the FASTA (contig found)
    ref_mismatches: int = 0  # ... and differed from it (counted apart from the skip reasons)
    warnings: list = field(default_factory=list)  # run-level warnings, repeated in the summary

    def summary(self) -> str:
        lines = [f"splicescore: {self.records} records, {self.alleles} ALT alleles in {self.seconds:.1f} s"]
        if self.resumed:
            lines.append(f"  {self.resumed} records resumed from the partial output")
        for model, n in sorted(self.scored.items()):
            lines.append(f"  {model}: {n} ALTs scored")
        for (model, reason), n in sorted(self.skipped.items()):
            lines.append(f"  {model}: {n} ALTs not scored: {reason}")
        if self.cache:
            lines.append(f"  cache: {self.cache_hits} hits, {self.cache_misses} new ({self.cache})")
        if self.ref_mismatches:
            lines.append(f"  REF differs from the FASTA in {self.ref_mismatches} of {self.ref_checked} records checked")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)
