"""Peak memory of ``splicescore vcf`` does not grow with the VCF: 1,000 vs 100,000 records.

Usage::

    SPLICESCORE_HOME=... .venv/bin/python benchmarks/bench_memory.py

Records stream through in chunks, so peak RSS should be the same for a short and a long VCF. Two
pairs of runs on the real ClinVar BRCA1 records (``../shared/data/grch38/clinvar_brca1.vcf``):

* SpliceAI: 1,000 records, then the same 1,000 followed by 99,000 records outside any gene (read,
  skipped with ``no_gene`` and written; scoring 100,000 records with SpliceAI would take hours on
  the 2-core benchmark machine);
* HAL (needs ``weights import hal``): 1,000 and 100,000 records (the ClinVar records repeated), every
  one read, planned against the annotated donors, scored or skipped, and written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Row, print_table, timed  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPLICESCORE_SHARED", REPO.parent / "shared"))
CLINVAR = SHARED / "data/grch38/clinvar_brca1.vcf"
FASTA = SHARED / "data/grch38/chr17_brca1_region.fa.gz"


def write_vcf(path: Path, n: int, filler: int = 0) -> None:
    """``n`` ClinVar records (repeated as needed), then ``filler`` SNVs at chr17:50,000,001+ (no gene)."""
    lines = CLINVAR.read_text().splitlines(keepends=True)
    header = [l for l in lines if l.startswith("#")]
    body = [l for l in lines if not l.startswith("#")]
    with open(path, "w") as out:
        out.writelines(header)
        for i in range(n):
            out.write(body[i % len(body)])
        for i in range(filler):
            out.write(f"17\t{50_000_001 + 10 * i}\t.\tN\tA\t.\t.\t.\n")


def measure(spliceai_records: int = 1000, long_records: int = 100_000) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        runs = [("spliceai", spliceai_records, 0, f"{spliceai_records:,} scored"),
                ("spliceai", spliceai_records, long_records - spliceai_records,
                 f"{spliceai_records:,} scored + {long_records - spliceai_records:,} no gene"),
                ("hal", 1000, 0, "1,000"), ("hal", long_records, 0, f"{long_records:,}")]
        for model, n, filler, label in runs:
            vcf = work / f"{model}_{n}_{filler}.vcf"
            write_vcf(vcf, n, filler)
            seconds, rss = timed([str(REPO / ".venv/bin/splicescore"), "-q", "vcf", "-m", model, "-i", str(vcf),
                                  "-o", str(work / "out.vcf.gz"), "-r", str(FASTA), "--device", "cpu"])
            rows.append(Row(f"splicescore {model} ({label})", n + filler, seconds, rss))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spliceai-records", type=int, default=1000)
    ap.add_argument("--records", type=int, default=100_000, help="the long VCF's length")
    args = ap.parse_args()
    print_table(measure(args.spliceai_records, args.records))


if __name__ == "__main__":
    main()
