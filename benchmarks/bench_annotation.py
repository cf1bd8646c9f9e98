"""Annotation loading on a GENCODE-comprehensive-sized GTF, and what --transcripts all costs.

    python benchmarks/bench_annotation.py [--gtf /tmp/gencode_like.gtf.gz] [--skip-vcf]

1. Writes the synthetic GTF (benchmarks/gencode_gtf.py: 250,000 transcripts, about 4.6 million
   lines) into /tmp unless it is there, plus a BRCA1 model with five transcripts appended (so the
   bundled BRCA1 records fall in a gene).
2. Loads it with a cold cache (parse + write the compiled index) and again (the cached index), each
   in its own process: seconds of annotation time and the process's peak RSS.
3. Scores examples/brca1_clinvar.vcf (SpliceAI) with -a grch38 (the table), with -a GTF (cached
   index), and with --transcripts all, each as its own process: wall seconds and peak RSS.

Needs ../shared (FASTA, SpliceAI weights already in $SPLICESCORE_HOME or importable) for step 3.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPLICESCORE_SHARED", REPO.parent / "shared"))

LOAD = """
import json, resource, sys, time
from pathlib import Path
t = time.perf_counter()
from splicescore.io.annotation import load_annotation
genes = load_annotation(sys.argv[1], sys.argv[2], root=Path(sys.argv[3]))
genes.at("chr17", 43_045_800)
print(json.dumps({"seconds": time.perf_counter() - t, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "transcripts": len(genes)}))
"""

WRAP = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"seconds": time.perf_counter() - t, "rc": r.returncode, "stderr": r.stderr[-400:],
                  "rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def brca1_lines() -> list[str]:
    """BRCA1 with five transcripts (the model of tests/test_transcripts.py)."""
    exons = []
    for line in (SHARED / "data/annotation/grch38_slices.gtf").read_text().splitlines():
        f = line.split("\t")
        if len(f) == 9 and f[2] == "exon" and 'gene_id "BRCA1"' in f[8]:
            exons.append((int(f[3]), int(f[4])))
    exons.sort()
    models = {
        "ENST_MANE": (exons, ["basic", "Ensembl_canonical", "MANE_Select"], "protein_coding"),
        "ENST_SKIP": ([e for e in exons if e[0] not in (43063874, 43095846)], ["basic"], "protein_coding"),
        "ENST_SHORT": (exons[2:], ["basic"], "protein_coding"),
        "ENST_SAME": (exons, [], "lncRNA"),
        "ENST_LONGFIRST": (exons[:-1], [], "protein_coding"),
    }
    gene = 'gene_id "ENSG_BRCA1"; gene_type "protein_coding"; gene_name "BRCA1";'
    out = [f"chr17\tt\tgene\t{exons[0][0]}\t{exons[-1][1]}\t.\t-\t.\t{gene}\n"]
    for tid, (ex, tags, ttype) in models.items():
        attrs = f'{gene} transcript_id "{tid}"; transcript_type "{ttype}";' + "".join(f' tag "{t}";' for t in tags)
        out.append(f"chr17\tt\ttranscript\t{ex[0][0]}\t{ex[-1][1]}\t.\t-\t.\t{attrs}\n")
        out += [f"chr17\tt\texon\t{s}\t{e}\t.\t-\t.\t{attrs}\n" for s, e in ex[::-1]]
    return out


def measure_load(gtf: Path, mode: str, home: Path) -> dict:
    r = subprocess.run([sys.executable, "-c", LOAD, str(gtf), mode, str(home)], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(r.stderr)
    return json.loads(r.stdout)


def measure_cli(args: list[str], env: dict) -> dict:
    r = subprocess.run([sys.executable, "-c", WRAP, sys.executable, "-m", "splicescore", *args],
                       capture_output=True, text=True, env=env)
    return json.loads(r.stdout)


PLAN = """
import json, sys
from pathlib import Path
from splicescore.io.annotation import load_annotation, is_multi
from splicescore.io.genome import Reference
from splicescore.core.scorer import Variant
from splicescore.models.spliceai.scorer import SpliceAIScorer
from splicescore.nn.tracks import TrackAlt
variants = []
for line in open(sys.argv[3]):
    if not line.startswith("#"):
        f = line.split("\\t")
        variants.append(Variant(f[0], int(f[1]), f[3], tuple(f[4].split(",")), len(variants)))
out = {}
with Reference(sys.argv[2]) as ref:
    for mode in ("auto", "all"):
        genes = load_annotation(sys.argv[1], mode, root=Path(sys.argv[4]))
        inputs, plans = SpliceAIScorer(ref, genes, 50, multi=is_multi(mode)).plan_chunk(variants)
        tracks = [x for x in inputs if not isinstance(x, TrackAlt)]
        out[mode] = {"ref_track_nt": int(sum(len(x) for x in tracks)), "tracks": len(tracks),
                     "alt_passes": sum(isinstance(x, TrackAlt) for x in inputs),
                     "scores": sum(len(p.state) for p in plans)}
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gtf", default="/tmp/gencode_like_brca1.gtf.gz")
    ap.add_argument("--skip-vcf", action="store_true")
    args = ap.parse_args()
    gtf = Path(args.gtf)
    if not gtf.is_file():
        sys.path.insert(0, str(REPO / "benchmarks"))
        import gencode_gtf

        t = time.perf_counter()
        n = gencode_gtf.write(str(gtf))
        with gzip.open(gtf, "at") as fh:  # a second gzip member: still one valid .gz
            fh.writelines(brca1_lines())
        print(f"wrote {gtf}: {n} lines + BRCA1 in {time.perf_counter() - t:.0f} s, "
              f"{gtf.stat().st_size / 1e6:.0f} MB")
    home = Path(tempfile.mkdtemp(prefix="ssbench_"))
    try:
        first = measure_load(gtf, "auto", home)
        later = measure_load(gtf, "auto", home)
        later_all = measure_load(gtf, "all", home)
        print(f"annotation, first run (parse + cache): {first['seconds']:.1f} s, peak RSS {first['rss_mb']:.0f} MB")
        print(f"annotation, later runs (cached index): {later['seconds']:.2f} s, peak RSS {later['rss_mb']:.0f} MB "
              f"({later['transcripts']} genes)")
        print(f"annotation, later run --transcripts all: {later_all['seconds']:.2f} s ({later_all['transcripts']} transcripts)")
        if args.skip_vcf:
            return
        weights_home = Path(os.environ.get("SPLICESCORE_HOME", home))
        env = {**os.environ, "SPLICESCORE_HOME": str(home)}
        # the weights: reuse an installed SpliceAI (link its folder into the benchmark home)
        src = weights_home / "spliceai"
        if src.is_dir() and src != home / "spliceai":
            os.symlink(src, home / "spliceai")
        else:
            subprocess.run([sys.executable, "-m", "splicescore", "weights", "import", "spliceai",
                            str(SHARED / "weights/spliceai"), str(SHARED / "data/annotation/spliceai_grch38.txt")],
                           env=env, check=True, capture_output=True)
        vcf = REPO / "examples/brca1_clinvar.vcf"
        fasta = SHARED / "data/grch38/chr17_brca1_region.fa.gz"
        out = home / "out"
        out.mkdir()
        base = ["vcf", "-i", str(vcf), "-r", str(fasta), "--model", "spliceai"]
        runs = {
            "table (-a grch38)": base + ["-a", "grch38", "-o", str(out / "t.vcf"), "--tsv", str(out / "t.tsv")],
            "GTF, cached index": base + ["-a", str(gtf), "-o", str(out / "g.vcf"), "--tsv", str(out / "g.tsv")],
            "GTF, --transcripts all": base + ["-a", str(gtf), "--transcripts", "all", "-o", str(out / "a.vcf"),
                                              "--tsv", str(out / "a.tsv")],
        }
        results = {}
        for name, argv in runs.items():
            # the faster of two runs (the project machines are shared)
            r = min((measure_cli(argv, env) for _ in range(2)), key=lambda x: x["seconds"])
            results[name] = r
            if r["rc"]:
                print(f"{name}: exit {r['rc']}: {r['stderr']}")
                continue
            rows = sum(1 for _ in open(argv[argv.index("--tsv") + 1])) - 1
            print(f"{name}: {r['seconds']:.1f} s wall (best of 2), peak RSS {r['rss_mb']:.0f} MB, {rows} TSV rows")
        r = subprocess.run([sys.executable, "-c", PLAN, str(gtf), str(fasta), str(vcf), str(home)],
                           capture_output=True, text=True, env=env)
        work = json.loads(r.stdout)
        for mode, w in work.items():
            print(f"planned network work, --transcripts {mode}: {w['scores']} scores from {w['tracks']} REF tracks "
                  f"({w['ref_track_nt']} nt) and {w['alt_passes']} incremental ALT passes")
        a, b = results["GTF, cached index"], results["GTF, --transcripts all"]
        print(f"--transcripts all vs auto: {b['seconds'] / a['seconds']:.2f}x the wall time "
              f"({b['seconds'] - a['seconds']:+.1f} s)")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
