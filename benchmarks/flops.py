"""Network FLOPs per variant, counted from the plans splicescore makes for a VCF.

Usage::

    SPLICESCORE_HOME=... .venv/bin/python benchmarks/flops.py --model spliceai --records 300
    SPLICESCORE_HOME=... .venv/bin/python benchmarks/flops.py --model pangolin --records 40
    SPLICESCORE_HOME=... .venv/bin/python benchmarks/flops.py --engine batched --model spliceai --records 300

``--engine batched`` runs the batched engine (:mod:`splicescore.nn.engine`, what ``--device cuda``
runs) on PyTorch's ``meta`` device: the very code of a real run, tensors with shapes but no data,
and counts the convolutions it executes (``Engine.flops``: 2 x output elements x input channels x
kernel width of every trunk convolution it calls). The last line is ``GFLOP per record: X``.

Counts the trunk convolutions (2 FLOPs per multiply-add; the 1x1 output heads, < 0.1 %, left out) of
every ensemble member (SpliceAI: 5 replicas, Pangolin: 12 networks) for: the published tool (every
REF and ALT window run whole with "same" padding, as the Keras model and Pangolin's PyTorch model
run), splicescore with full valid windows, and splicescore as ``vcf`` runs on the CPU (shared
reference tracks + incremental ALT passes).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from conv_flops import edit_flops, window_flops
from splicescore.nn.trunk import DilatedResidualTrunk
from splicescore.core.scorer import Variant
from splicescore.nn.tracks import TrackAlt, TrackSlice

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SPLICESCORE_SHARED", REPO.parent / "shared"))
CONTEXT = 10_000
MEMBERS = {"spliceai": 5, "pangolin": 12}


def read_variants(vcf: Path, records: int, snvs_only: bool = False) -> list[Variant]:
    rows = [l.split("\t") for l in vcf.read_text().splitlines() if l and not l.startswith("#")]
    if snvs_only:
        rows = [r for r in rows if len(r[3]) == 1 and all(len(a) == 1 for a in r[4].split(","))]
    return [Variant(r[0], int(r[1]), r[3], tuple(a for a in r[4].split(",") if a != "."), i)
            for i, r in enumerate(rows[:records])]


def scorers(model: str, fasta: Path, annotation: str, distance: int):
    """(plain, incremental) scorers of ``model``."""
    from splicescore import weights
    from splicescore.io.annotation import load_annotation
    from splicescore.io.genome import Reference

    builtin = weights.extra_dir("spliceai", None) if annotation in ("grch37", "grch38") else None
    genes = load_annotation(annotation, "auto", builtin)
    reference = Reference(fasta)
    if model == "spliceai":
        from splicescore.models.spliceai.scorer import SpliceAIScorer as cls
    else:
        from splicescore.models.pangolin.scorer import PangolinScorer as cls
    return cls(reference, genes, distance, incremental=False), cls(reference, genes, distance)


def count(model: str, variants: list[Variant], fasta: Path, annotation: str, distance: int = 50,
          chunk_size: int = 128) -> dict[str, float]:
    """Trunk GFLOP per record: ``published``, ``valid`` (full valid windows), ``incremental`` (what
    ``vcf`` runs) and ``tracks`` (the REF-track part of it)."""
    trunk = DilatedResidualTrunk()
    plain, inc = scorers(model, fasta, annotation, distance)
    spliceai_pair = 2 * window_flops(trunk, 2 * distance + 1, same=True)  # one REF + one ALT window
    totals = dict(published=0, valid=0, incremental=0, tracks=0)
    for k in range(0, len(variants), chunk_size):
        chunk = variants[k : k + chunk_size]
        plain_inputs, plain_plans = plain.plan_chunk(chunk)
        for x in plain_inputs:
            n_out = len(x) - CONTEXT
            totals["valid"] += window_flops(trunk, n_out)
            if model == "pangolin":  # the published CLI runs each of these windows whole
                totals["published"] += window_flops(trunk, n_out, same=True)
        if model == "spliceai":  # the published tool reads a REF window per ALT and gene (ours: per gene)
            totals["published"] += sum(spliceai_pair for p in plain_plans for u in p.state if u.alt_input is not None)
        for x in inc.plan_chunk(chunk)[0]:
            if isinstance(x, TrackAlt):
                totals["incremental"] += edit_flops(trunk, x.edit)
            elif not isinstance(x, TrackSlice):
                f = window_flops(trunk, len(x) - CONTEXT)
                totals["incremental"] += f
                totals["tracks"] += f
    return {k: MEMBERS[model] * v / len(variants) / 1e9 for k, v in totals.items()}


def count_batched(model: str, variants: list[Variant], fasta: Path, annotation: str, distance: int = 50,
                  chunk_size: int = 128, max_positions: int | None = None) -> float:
    """Trunk GFLOP per record that the batched engine executes for these records (a meta-device
    run of :class:`splicescore.nn.engine.Engine` over the chunks ``vcf`` would plan)."""
    from splicescore.nn.engine import Engine

    if model == "spliceai":
        from splicescore.models.spliceai.network import SpliceAIEnsemble as net_cls
    else:
        from splicescore.models.pangolin.network import PangolinEnsemble as net_cls
    with torch.device("meta"):
        net = net_cls().eval()
    _, inc = scorers(model, fasta, annotation, distance)
    engine = Engine("batched", "meta", max_positions=max_positions or 64 * (CONTEXT + 2 * distance + 1))
    for k in range(0, len(variants), chunk_size):
        inputs, _ = inc.plan_chunk(variants[k : k + chunk_size])
        engine(net, inputs)  # these plans hold only tracks and their entries (no plain windows)
    return engine.flops / len(variants) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=sorted(MEMBERS), default="spliceai")
    ap.add_argument("--vcf", type=Path, default=SHARED / "golden/spliceai/dev.input.vcf")
    ap.add_argument("--fasta", type=Path, default=SHARED / "data/grch38/chr17_brca1_region.fa.gz")
    ap.add_argument("--annotation", default=None, help="default: grch38 (SpliceAI), the golden GTF (Pangolin)")
    ap.add_argument("--records", type=int, default=60)
    ap.add_argument("--distance", type=int, default=50)
    ap.add_argument("--chunk-size", type=int, default=128)
    ap.add_argument("--snvs-only", action="store_true", help="keep only records whose REF and ALTs are 1 nt")
    ap.add_argument("--engine", choices=("plans", "batched"), default="plans",
                    help="plans: FLOPs of every plan from formulas (default); batched: the convolutions the batched "
                         "engine executes (a meta-device run), last line 'GFLOP per record: X'")
    args = ap.parse_args()
    annotation = args.annotation or ("grch38" if args.model == "spliceai" else str(SHARED / "data/annotation/grch38_slices.gtf"))
    variants = read_variants(args.vcf, args.records, args.snvs_only)
    if args.engine == "batched":
        g = count_batched(args.model, variants, args.fasta, annotation, args.distance, args.chunk_size)
        print(f"{args.model}: {len(variants)} records, D={args.distance}; batched engine (what --device cuda runs), "
              f"trunk convolutions executed")
        print(f"GFLOP per record: {g:.2f}")
        return
    g = count(args.model, variants, args.fasta, annotation, args.distance, args.chunk_size)
    print(f"{args.model}: {len(variants)} records, D={args.distance}; trunk GFLOP per record:")
    for name, key in (("published (same padding, REF+ALT windows)", "published"),
                      ("splicescore, full valid windows", "valid"),
                      ("splicescore, tracks + incremental ALT passes", "incremental"),
                      ("  of which REF tracks", "tracks")):
        print(f"  {name:46s} {g[key]:8.2f}")


if __name__ == "__main__":
    main()
