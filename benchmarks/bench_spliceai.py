"""Time splicescore against the official SpliceAI 1.3.1 CLI on the same VCF, same machine, same run.

Usage::

    .venv/bin/python benchmarks/bench_spliceai.py --records 40          # uses ../shared data
    .venv/bin/python benchmarks/bench_spliceai.py --setup-official      # first creates the official env

The official tool runs from its own virtual environment (``benchmarks/.envs/spliceai-official``:
``spliceai==1.3.1``, ``tensorflow-cpu``, ``numpy<2``; created by ``--setup-official`` from PyPI). Both
tools get the same records, the same FASTA (the official one a plain copy, as pyfaidx needs) and the
built-in ``grch38`` annotation. Prints one table (tool, variants, seconds, variants/s, ratio, peak RSS)
and whether every ``SpliceAI=`` string agreed. ``benchmarks/run`` puts this into the overall table.
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
from _common import Row, info_values, print_table, subset_vcf, timed  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPLICESCORE_SHARED", REPO.parent / "shared"))
OFFICIAL_ENV = REPO / "benchmarks" / ".envs" / "spliceai-official"


def setup_official(env: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    pip = [str(env / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["tensorflow-cpu", "spliceai==1.3.1", "numpy<2"], check=True)


def measure(vcf: Path, fasta: Path, records: int, distance: int = 50, batch_size: int = 64, device: str = "cpu",
            official_env: Path | None = OFFICIAL_ENV, engines: tuple[str, ...] = ()) -> tuple[list[Row], str]:
    """Time both tools on the first ``records`` records: (rows, a line on output agreement).
    ``engines``: also splicescore with each ``--engine`` given (e.g. ``batched``), one row each."""
    official_bin = official_env / "bin" / "spliceai" if official_env else None
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        n = subset_vcf(vcf, work / "in.vcf", records)
        ours_out = work / "ours.vcf"
        t_ours, rss_ours = timed([str(REPO / ".venv/bin/splicescore"), "-q", "vcf", "-i", str(work / "in.vcf"), "-o",
                                  str(ours_out), "-r", str(fasta), "-a", "grch38", "-D", str(distance),
                                  "--batch-size", str(batch_size), "--device", device])
        ours = Row(f"splicescore spliceai ({device})", n, t_ours, rss_ours)
        extra, same = [], []
        for name in engines:
            out = work / f"ours.{name}.vcf"
            t, rss = timed([str(REPO / ".venv/bin/splicescore"), "-q", "vcf", "-i", str(work / "in.vcf"), "-o", str(out),
                            "-r", str(fasta), "-a", "grch38", "-D", str(distance), "--batch-size", str(batch_size),
                            "--device", device, "--engine", name])
            extra.append(Row(f"splicescore spliceai ({device}, --engine {name})", n, t, rss))
            same.append(f"--engine {name}: {sum(x == y for x, y in zip(info_values(out, 'SpliceAI'), info_values(ours_out, 'SpliceAI')))}/{n} strings as the default")
        if official_bin is None or not official_bin.exists():
            return [ours] + extra, "; ".join(
                ["official SpliceAI not installed here: run bench_spliceai.py --setup-official to compare"] + same)
        plain = work / "ref.fa"
        with gzip.open(fasta, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)
        off_out = work / "official.vcf"
        t_off, rss_off = timed([str(official_bin), "-I", str(work / "in.vcf"), "-O", str(off_out), "-R", str(plain),
                                "-A", "grch38", "-D", str(distance)])
        official = Row("spliceai 1.3.1 (official)", n, t_off, rss_off)
        ours.baseline = official
        for r in extra:
            r.baseline = official
        a, b = info_values(ours_out, "SpliceAI"), info_values(off_out, "SpliceAI")
        return [ours] + extra + [official], "; ".join(
            [f"spliceai: identical SpliceAI= strings: {sum(x == y for x, y in zip(a, b))}/{len(b)}"] + same)


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
    args = ap.parse_args()
    if args.setup_official and not (args.official_env / "bin" / "spliceai").exists():
        setup_official(args.official_env)
    rows, note = measure(args.vcf, args.fasta, args.records, args.distance, args.batch_size, args.device,
                         args.official_env)
    print_table(rows)
    print(note)


if __name__ == "__main__":
    main()
