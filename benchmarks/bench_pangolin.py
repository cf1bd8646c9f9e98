"""Time splicescore against the official Pangolin CLI on the same VCF, same machine, same run.

Usage::

    .venv/bin/python benchmarks/bench_pangolin.py --records 20                       # splicescore only
    .venv/bin/python benchmarks/bench_pangolin.py --official-env ~/envs/pangolin     # and the official CLI

The official Pangolin (tkzeng/Pangolin 1.0.2) is not on PyPI and is not installed by this script:
install it yourself in its own environment (``git clone https://github.com/tkzeng/Pangolin``, then
``pip install torch pyvcf3 gffutils biopython pandas pyfastx`` and ``pip install .`` in the clone) and
pass that environment's folder with ``--official-env`` (the script runs ``ENV/bin/pangolin``). The
annotation database the official CLI needs is built from the same GTF with the official
``scripts/create_db.py`` (``--db PATH``; without it the script builds one with gffutils from the
environment, keeping every transcript, as the golden outputs were made).

Both tools get the same records, the same FASTA (the official one a plain copy, as pyfastx needs)
and the same annotation, ``-d 50`` and masking on. Prints one table (tool, variants, seconds,
variants/s, ratio) and how many records' ``Pangolin=`` scores agree numerically.
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
    ap.add_argument("--official-env", type=Path, default=None,
                    help="folder of a Python environment where you installed the official Pangolin")
    args = ap.parse_args()

    official_bin = args.official_env / "bin" / "pangolin" if args.official_env else None
    run_official = official_bin is not None and official_bin.exists()

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        n = subset_vcf(args.vcf, work / "in.vcf", args.records)
        rows = []
        ours_out = work / "ours.vcf"
        t_ours, _ = timed([str(REPO / ".venv/bin/splicescore"), "-q", "vcf", "--model", "pangolin", "-i",
                        str(work / "in.vcf"), "-o", str(ours_out), "-r", str(args.fasta), "-a", str(args.gtf),
                        "-D", str(args.distance), "--batch-size", str(args.batch_size), "--device", args.device])
        rows.append(("splicescore", n, t_ours))
        agree = None
        if run_official:
            plain = work / "ref.fa"
            opener = gzip.open if args.fasta.suffix == ".gz" else open
            with opener(args.fasta, "rb") as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst)
            db = args.db
            if db is None:
                db = work / "annotation.db"
                subprocess.run([str(args.official_env / "bin" / "python"), "-c", _MAKE_DB, str(args.gtf), str(db)],
                               check=True)
            t_off, _ = timed([str(official_bin), str(work / "in.vcf"), str(plain), str(db), str(work / "official"),
                           "-d", str(args.distance)])
            rows.append(("pangolin 1.0.2 (official)", n, t_off))
            alts0 = [l.split("\t")[4].split(",")[0] for l in (work / "in.vcf").read_text().splitlines()
                     if not l.startswith("#")]
            a = [alt0_fields(v, alt) for v, alt in zip(info_values(ours_out, "Pangolin"), alts0)]
            b = info_values(work / "official.vcf", "Pangolin")
            agree = sum(same_scores(x, y) for x, y in zip(a, b)), len(b)
        base = rows[-1][2] if run_official else None
        print(f"{'tool':28s} {'variants':>8s} {'seconds':>9s} {'variants/s':>11s} {'speed-up':>9s}")
        for name, count, secs in rows:
            ratio = f"{base / secs:8.1f}x" if base else "       -"
            print(f"{name:28s} {count:8d} {secs:9.1f} {count / secs:11.2f} {ratio}")
        if agree:
            print(f"records with the same Pangolin scores (ALT[0], 1e-6): {agree[0]}/{agree[1]}")
        elif not run_official:
            where = f" ({official_bin} not found)" if official_bin else ""
            print(f"official Pangolin not compared{where}: install it in its own environment and pass "
                  "--official-env PATH (this script never installs it)")


if __name__ == "__main__":
    main()
