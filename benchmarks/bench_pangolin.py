"""Time splicescore against the official Pangolin CLI on the same VCF, same machine, same run.

Usage::

    bash benchmarks/setup_official_pangolin.sh                     # once: the official CLI in its own env
    .venv/bin/python benchmarks/bench_pangolin.py --records 40     # both tools (splicescore only without it)

The official Pangolin (tkzeng/Pangolin 1.0.2) is not on PyPI: ``setup_official_pangolin.sh`` clones it
into a scratch folder, applies the one PyVCF3 compatibility edit the golden outputs were made with,
and installs it in ``benchmarks/.envs/pangolin-official`` (or pass another environment's folder with
``--official-env``; the script runs ``ENV/bin/pangolin``). The
annotation database the official CLI needs is built from the same GTF with the official
``scripts/create_db.py`` (``--db PATH``; without it the script builds one with gffutils from the
environment, keeping every transcript, as the golden outputs were made).

Both tools get the same records, the same FASTA (the official one a plain copy, as pyfastx needs)
and the same annotation, ``-d 50`` and masking on. Prints one table (tool, variants, seconds,
variants/s, ratio, peak RSS) and how many records' ``Pangolin=`` scores agree numerically.
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
OFFICIAL_ENV = REPO / "benchmarks" / ".envs" / "pangolin-official"

_MAKE_DB = """
import sys, gffutils
gffutils.create_db(sys.argv[1], sys.argv[2], force=True, disable_infer_genes=True,
                   disable_infer_transcripts=True)
"""


def alt0_fields(ours: str | None, alt0: str) -> str | None:
    """Our entries for ALT[0] in the official layout (ALT prefix removed)."""
    if ours is None:
        return None
    fields = [e.split("|", 1)[1] for e in ours.split(",") if e.split("|", 1)[0] == alt0]
    return ",".join(fields) or None


def same_scores(a: str | None, b: str | None) -> bool:
    """Same genes and positions, scores within 1e-6 (ours print two decimals)."""
    if a is None or b is None:
        return a is b
    fa, fb = a.split(","), b.split(",")
    if len(fa) != len(fb):
        return False
    for x, y in zip(fa, fb):
        px, py = x.split("|"), y.split("|")
        if px[0] != py[0] or px[-1] != py[-1] or len(px) != len(py):
            return False
        for sx, sy in zip(px[1:-1], py[1:-1]):
            (kx, vx), (ky, vy) = sx.split(":"), sy.split(":")
            if kx != ky or abs(float(vx) - float(vy)) > 1e-6:
                return False
    return True


def measure(vcf: Path, fasta: Path, gtf: Path, records: int, distance: int = 50, batch_size: int = 64,
            device: str = "cpu", official_env: Path | None = None, db: Path | None = None) -> tuple[list[Row], str]:
    """Time both tools on the first ``records`` records: (rows, a line on score agreement)."""
    official_bin = official_env / "bin" / "pangolin" if official_env else None
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        n = subset_vcf(vcf, work / "in.vcf", records)
        ours_out = work / "ours.vcf"
        t_ours, rss_ours = timed([str(REPO / ".venv/bin/splicescore"), "-q", "vcf", "--model", "pangolin", "-i",
                                  str(work / "in.vcf"), "-o", str(ours_out), "-r", str(fasta), "-a", str(gtf),
                                  "-D", str(distance), "--batch-size", str(batch_size), "--device", device])
        ours = Row(f"splicescore pangolin ({device})", n, t_ours, rss_ours)
        if official_bin is None or not official_bin.exists():
            where = f" ({official_bin} not found)" if official_bin else ""
            return [ours], (f"official Pangolin not compared{where}: set it up with "
                            "benchmarks/setup_official_pangolin.sh and pass --official-env")
        plain = work / "ref.fa"
        opener = gzip.open if fasta.suffix == ".gz" else open
        with opener(fasta, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)
        if db is None:
            db = work / "annotation.db"
            subprocess.run([str(official_env / "bin" / "python"), "-c", _MAKE_DB, str(gtf), str(db)], check=True)
        t_off, rss_off = timed([str(official_bin), str(work / "in.vcf"), str(plain), str(db), str(work / "official"),
                                "-d", str(distance)])
        official = Row("pangolin 1.0.2 (official)", n, t_off, rss_off)
        ours.baseline = official
        alts0 = [l.split("\t")[4].split(",")[0] for l in (work / "in.vcf").read_text().splitlines()
                 if not l.startswith("#")]
        a = [alt0_fields(v, alt) for v, alt in zip(info_values(ours_out, "Pangolin"), alts0)]
        b = info_values(work / "official.vcf", "Pangolin")
        agree = sum(same_scores(x, y) for x, y in zip(a, b))
        return [ours, official], f"pangolin: records with the same Pangolin scores (ALT[0], 1e-6): {agree}/{len(b)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vcf", type=Path, default=SHARED / "golden/pangolin/dev_first150.input.vcf")
    ap.add_argument("--fasta", type=Path, default=SHARED / "data/grch38/chr17_brca1_region.fa.gz")
    ap.add_argument("--gtf", type=Path, default=SHARED / "data/annotation/grch38_slices.gtf")
    ap.add_argument("--db", type=Path, default=None, help="gffutils database for the official CLI")
    ap.add_argument("--records", type=int, default=20)
    ap.add_argument("--distance", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--official-env", type=Path, default=OFFICIAL_ENV,
                    help="folder of a Python environment with the official Pangolin (setup_official_pangolin.sh)")
    args = ap.parse_args()
    rows, note = measure(args.vcf, args.fasta, args.gtf, args.records, args.distance, args.batch_size, args.device,
                         args.official_env, args.db)
    print_table(rows)
    print(note)


if __name__ == "__main__":
    main()
