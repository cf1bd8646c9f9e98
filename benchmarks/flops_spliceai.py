"""Network FLOPs per variant for a SpliceAI run, counted from the plan splicescore makes.

Usage::

    SPLICESCORE_HOME=... .venv/bin/python benchmarks/flops_spliceai.py --records 60

Plans the same records as ``bench_spliceai.py`` (one chunk of ``--chunk-size``) and prints the trunk
FLOPs (5 replicas; 2 per multiply-add; the 1x1 output heads, < 0.1 %, left out) of: the published
tool (a "same"-padded REF and ALT window per ALT and gene), splicescore with full valid ALT windows,
and splicescore with incremental ALT passes for SNVs and indels (what ``splicescore vcf`` runs on the CPU).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from splicescore.annotation import load_annotation
from splicescore.genome import Reference
from splicescore.networks.incremental import edit_flops, track_flops, trunk_flops, window_flops
from splicescore.networks.spliceai import N_REPLICAS, SpliceAIEnsemble
from splicescore.scorers.base import Variant
from splicescore.scorers.spliceai import CONTEXT, SpliceAIScorer
from splicescore.scorers.tracks import TrackAlt

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPLICESCORE_SHARED", REPO.parent / "shared"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vcf", type=Path, default=SHARED / "golden/spliceai/dev.input.vcf")
    ap.add_argument("--fasta", type=Path, default=SHARED / "data/grch38/chr17_brca1_region.fa.gz")
    ap.add_argument("--annotation", default="grch38")
    ap.add_argument("--records", type=int, default=60)
    ap.add_argument("--distance", type=int, default=50)
    ap.add_argument("--chunk-size", type=int, default=128)
    ap.add_argument("--snvs-only", action="store_true", help="keep only records whose REF and ALTs are 1 nt")
    args = ap.parse_args()

    from splicescore import weights

    builtin = weights.extra_dir("spliceai", None) if args.annotation in ("grch37", "grch38") else None
    genes = load_annotation(args.annotation, "auto", builtin)
    scorer = SpliceAIScorer(Reference(args.fasta), genes, args.distance)
    rows = [l.split("\t") for l in args.vcf.read_text().splitlines() if l and not l.startswith("#")]
    if args.snvs_only:
        rows = [r for r in rows if len(r[3]) == 1 and all(len(a) == 1 for a in r[4].split(","))]
    rows = rows[: args.records]
    variants = [Variant(r[0], int(r[1]), r[3], tuple(a for a in r[4].split(",") if a != "."), i) for i, r in enumerate(rows)]
    trunk = SpliceAIEnsemble(1).replicas[0].trunk
    same_window = trunk_flops(trunk, args.distance, "same")
    official = ours_full = ours_inc = tracks = 0
    scored = 0
    for k in range(0, len(variants), args.chunk_size):
        inputs, plans = scorer.plan_chunk(variants[k : k + args.chunk_size])
        alt_units = [u for p in plans for u in p.state if u.alt_input is not None]
        scored += len(alt_units)
        official += 2 * same_window * len(alt_units)
        track_ids = {u.ref_input for u in alt_units}
        for i, x in enumerate(inputs):
            if isinstance(x, TrackAlt):
                ours_full += window_flops(trunk, x.edit.n_out)
                ours_inc += edit_flops(trunk, x.edit)
                continue
            f = track_flops(trunk, len(x) - CONTEXT)
            ours_full += f
            ours_inc += f
            tracks += f if i in track_ids else 0
    n = len(variants)
    print(f"{n} records, {scored} scored (ALT, gene) pairs, D={args.distance}; trunk GFLOP per record:")
    for name, total in (("published (same padding, REF+ALT windows)", official),
                        ("splicescore, full valid ALT windows", ours_full),
                        ("splicescore, incremental ALT passes", ours_inc),
                        ("  of which REF tracks", tracks)):
        print(f"  {name:44s} {N_REPLICAS * total / n / 1e9:8.2f}")


if __name__ == "__main__":
    main()
