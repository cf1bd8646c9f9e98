"""Reduced-precision error of the engines against exact fp32, on real records.

Usage::

    SPLICESCORE_HOME=... .venv/bin/python benchmarks/precision.py --model spliceai --records 20 [--device cpu]
        [--engines batched,windows]

Plans the first ``--records`` DEV records as ``vcf`` does, runs the batched engine in fp32 and, per
engine in ``--engines``, each reduced precision (bf16, fp16) on ``--device`` (the CPU runs bf16/fp16
convolutions too, slowly; both engines use the explicit casts of ``splicescore.nn.precision``), and
prints per (engine, precision): max |delta| of the network probabilities (every REF and ALT output)
against fp32, the fraction of INFO entries (one per ALT x gene) whose string changes, and, from the
second engine on, max |delta| against the first engine in the same precision. One JSON line each.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import flops  # the benchmarks' record reader and scorers

from splicescore import weights
from splicescore.nn.engine import Engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=("spliceai", "pangolin"), default="spliceai")
    ap.add_argument("--records", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precisions", default="bf16,fp16")
    ap.add_argument("--engines", default="batched", help="engines to measure, e.g. batched,windows")
    args = ap.parse_args()
    annotation = "grch38" if args.model == "spliceai" else str(flops.SHARED / "data/annotation/grch38_slices.gtf")
    if args.model == "pangolin" and not weights.is_installed("pangolin"):
        weights.import_weights("pangolin", [flops.SHARED / "weights/pangolin"])
    net = weights.load_network(args.model).to(args.device).eval()
    variants = flops.read_variants(flops.SHARED / "golden/spliceai/dev.input.vcf", args.records)
    _, scorer = flops.scorers(args.model, flops.SHARED / "data/grch38/chr17_brca1_region.fa.gz", annotation, 50)
    inputs, plans = scorer.plan_chunk(variants)
    t0 = time.perf_counter()
    exact = Engine("batched", args.device)(net, inputs)
    t_exact = time.perf_counter() - t0

    def entries(outputs):
        out = []
        for v, p in zip(variants, plans):
            info = scorer.finish(v, p, outputs).info
            out += info.split(",") if info else []
        return out

    want = entries(exact)
    first: dict = {}
    for engine in args.engines.split(","):
        for precision in args.precisions.split(","):
            t0 = time.perf_counter()
            got = Engine(engine, args.device, precision=precision)(net, inputs)
            seconds = time.perf_counter() - t0
            diff = _max_diff(got, exact)
            strings = entries(got)
            changed = sum(a != b for a, b in zip(strings, want))
            row = {"model": args.model, "device": args.device, "engine": engine, "precision": precision,
                   "records": len(variants), "entries": len(want), "max_abs_prob_diff": diff,
                   "entries_changed": changed, "fraction_changed": changed / max(1, len(want)),
                   "seconds": round(seconds, 1), "seconds_fp32": round(t_exact, 1)}
            if precision in first:
                row["max_abs_diff_vs_" + first[precision][0]] = _max_diff(got, first[precision][1])
            else:
                first[precision] = (engine, got)
            print(json.dumps(row), flush=True)


def _max_diff(a: list, b: list) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b) if x is not None and x.size)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
