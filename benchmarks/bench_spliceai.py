"""Time splicescore against the official SpliceAI 1.3.1 CLI on the same VCF, same machine, same run.

Usage::

    .venv/bin/python benchmarks/bench_spliceai.py --records 40          # uses ../shared data
    .venv/bin/python benchmarks/bench_spliceai.py --setup-official      # first creates the official env

The official tool runs from its own virtual environment (``benchmarks/.envs/spliceai-official``:
``spliceai==1.3.1``, ``tensorflow-cpu``, ``numpy<2``; created by ``--setup-official`` from PyPI). Both
tools get the same records, the same FASTA (the official one a plain copy, as pyfaidx needs) and the
built-in ``grch38`` annotation. Prints one table (tool, variants, seconds, variants/s, ratio) and
whether every ``SpliceAI=`` string agreed.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import info_values, subset_vcf, timed  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPLICESCORE_SHARED", REPO.parent / "shared"))
OFFICIAL_ENV = REPO / "benchmarks" / ".envs" / "spliceai-official"


def setup_official(env: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    pip = [str(env / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["tensorflow-cpu", "spliceai==1.3.1", "numpy<2"], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vcf", type=Path, default=SHARED / "golden/spliceai/dev.input.vcf")
    ap.add_argument("--fasta", type=Path, default=SHARED / "data/grch38/chr17_brca1_region.fa.gz")
    ap.add_argument("--records", type=int, default=40)
    ap.add_argument("--distance", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--official-env", type=Path, default=OFFICIAL_ENV)
    ap.add_argument("--setup-official", action="store_true", help="create the official env if it is missing")
    ap.add_argument("--skip-official", action="store_true")
    args = ap.parse_args()

    official_bin = args.official_env / "bin" / "spliceai"
    if args.setup_official and not official_bin.exists():
        setup_official(args.official_env)
    run_official = not args.skip_official and official_bin.exists()

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        n = subset_vcf(args.vcf, work / "in.vcf", args.records)
        rows = []
        ours_out = work / "ours.vcf"
        t_ours, rss_ours = timed([str(REPO / ".venv/bin/splicescore"), "-q", "vcf", "-i", str(work / "in.vcf"), "-o",
                        str(ours_out), "-r", str(args.fasta), "-a", "grch38", "-D", str(args.distance),
                        "--batch-size", str(args.batch_size), "--device", args.device])
        rows.append(("splicescore", n, t_ours, rss_ours))
        agree = None
        if run_official:
            plain = work / "ref.fa"
            with gzip.open(args.fasta, "rb") as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst)
            off_out = work / "official.vcf"
            t_off, rss_off = timed([str(official_bin), "-I", str(work / "in.vcf"), "-O", str(off_out), "-R", str(plain),
                           "-A", "grch38", "-D", str(args.distance)])
            rows.append(("spliceai 1.3.1 (official)", n, t_off, rss_off))
            a, b = info_values(ours_out, "SpliceAI"), info_values(off_out, "SpliceAI")
            agree = sum(x == y for x, y in zip(a, b)), len(b)
        base = rows[-1][2] if run_official else None
        print(f"{'tool':28s} {'variants':>8s} {'seconds':>9s} {'variants/s':>11s} {'speed-up':>9s} {'peak RSS':>9s}")
        for name, count, secs, rss in rows:
            ratio = f"{base / secs:8.1f}x" if base else "       -"
            print(f"{name:28s} {count:8d} {secs:9.1f} {count / secs:11.2f} {ratio} {rss:6.0f} MiB")
        if agree:
            print(f"identical SpliceAI= strings: {agree[0]}/{agree[1]}")
        elif not run_official:
            print("official SpliceAI not installed here: run with --setup-official to compare")


if __name__ == "__main__":
    main()
