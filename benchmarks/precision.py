"""Reduced-precision error of the batched engine against exact fp32, on real records.

Usage::

    SPLICESCORE_HOME=... .venv/bin/python benchmarks/precision.py --model spliceai --records 20 [--device cpu]

Plans the first ``--records`` DEV records as ``vcf`` does, runs the batched engine in fp32 and in each
reduced precision (bf16, fp16) on ``--device`` (the CPU runs bf16/fp16 convolutions too, slowly), and
prints per precision: max |delta| of the network probabilities (every REF and ALT output), and the
fraction of INFO entries (one per ALT x gene) whose string changes. One JSON line per precision.
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
    for precision in args.precisions.split(","):
        t0 = time.perf_counter()
        got = Engine("batched", args.device, precision=precision)(net, inputs)
        seconds = time.perf_counter() - t0
        diff = max(float(np.abs(a - b).max()) for a, b in zip(got, exact) if a is not None and a.size)
        strings = entries(got)
        changed = sum(a != b for a, b in zip(strings, want))
        print(json.dumps({"model": args.model, "device": args.device, "precision": precision,
                          "records": len(variants), "entries": len(want), "max_abs_prob_diff": diff,
                          "entries_changed": changed, "fraction_changed": changed / max(1, len(want)),
                          "seconds": round(seconds, 1), "seconds_fp32": round(t_exact, 1)}), flush=True)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
