"""The benchmark table of the performance issue: ``benchmarks/run``.

Runs, on this machine and in this one run: SpliceAI (splicescore vs the official SpliceAI 1.3.1),
Pangolin (splicescore vs the official Pangolin 1.0.2 CLI), the trunk FLOPs per variant of each
(``flops.py``) and, with ``--memory``, peak RSS for 1,000 vs 100,000 records (``bench_memory.py``).
Prints one table (tool, variants, seconds, variants/s, ratio vs official, GFLOP per variant, peak
RSS), whether the outputs agreed, and the machine it ran on. The official tools come from their own
environments (``bench_spliceai.py --setup-official``, ``setup_official_pangolin.sh``); without them
only splicescore's rows are printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_memory  # noqa: E402
import bench_pangolin  # noqa: E402
import bench_spliceai  # noqa: E402
import flops  # noqa: E402
from _common import print_table  # noqa: E402

SHARED = bench_spliceai.SHARED
FASTA = SHARED / "data/grch38/chr17_brca1_region.fa.gz"
GTF = SHARED / "data/annotation/grch38_slices.gtf"


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{cpu}, {os.cpu_count()} cores{gpu}; Python {platform.python_version()}, torch {torch.__version__}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spliceai-records", type=int, default=300)
    ap.add_argument("--pangolin-records", type=int, default=60)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--memory", action="store_true", help="also peak RSS for 1,000 vs 100,000 records")
    ap.add_argument("--engines", default="batched",
                    help="extra splicescore SpliceAI rows, one per --engine (comma-separated; '' for none)")
    ap.add_argument("--spliceai-env", type=Path, default=bench_spliceai.OFFICIAL_ENV)
    ap.add_argument("--pangolin-env", type=Path, default=bench_pangolin.OFFICIAL_ENV)
    args = ap.parse_args()

    sai_vcf = SHARED / "golden/spliceai/dev.input.vcf"
    pg_vcf = SHARED / "golden/pangolin/dev_first150.input.vcf"
    rows, notes = [], []
    for model, vcf, n, annotation, run in (
        ("spliceai", sai_vcf, args.spliceai_records, "grch38",
         lambda: bench_spliceai.measure(sai_vcf, FASTA, args.spliceai_records, device=args.device,
                                        official_env=args.spliceai_env,
                                        engines=tuple(e for e in args.engines.split(",") if e))),
        ("pangolin", pg_vcf, args.pangolin_records, str(GTF),
         lambda: bench_pangolin.measure(pg_vcf, FASTA, GTF, args.pangolin_records, device=args.device,
                                        official_env=args.pangolin_env)),
    ):
        measured, note = run()
        g = flops.count(model, flops.read_variants(vcf, n), FASTA, annotation)
        measured[0].gflop_per_variant = g["incremental"]
        for r in measured[1:]:
            if "official" in r.tool:
                r.gflop_per_variant = g["published"]
            elif "--engine batched" in r.tool:
                r.gflop_per_variant = flops.count_batched(model, flops.read_variants(vcf, n), FASTA, annotation)
        rows += measured
        notes.append(note)
    if args.memory:
        rows += bench_memory.measure()
    print_table(rows)
    for note in notes:
        print(note)
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
