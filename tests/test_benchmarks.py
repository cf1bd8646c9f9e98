"""The benchmark helpers: FLOP counts from real plans (the issue's targets) and the table layout."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import flops  # noqa: E402
from _common import Row, print_table  # noqa: E402

FASTA = "data/grch38/chr17_brca1_region.fa.gz"


@pytest.mark.parametrize("snvs_only", [True, False])
def test_spliceai_flops_per_variant(shared, weights_home, snvs_only):
    """Counted from the plans `vcf` makes for real ClinVar records: at most 20 GFLOP per SNV at D=50
    (the issue's target; the published model ~140), and far below the published cost for indels too."""
    variants = flops.read_variants(shared / "golden/spliceai/dev.input.vcf", 80, snvs_only)
    g = flops.count("spliceai", variants, shared / FASTA, "grch38")
    assert 120 < g["published"] < 145
    assert g["tracks"] < g["incremental"] < g["valid"] < g["published"]
    assert g["incremental"] <= (20 if snvs_only else g["published"] / 5)


def test_pangolin_flops_per_variant(shared):
    variants = flops.read_variants(shared / "golden/pangolin/dev_first150.input.vcf", 30)
    g = flops.count("pangolin", variants, shared / FASTA, str(shared / "data/annotation/grch38_slices.gtf"))
    assert g["incremental"] < g["valid"] < g["published"]
    assert g["incremental"] <= g["published"] / 5


def test_table_ratio_is_throughput_over_official():
    official = Row("official", 10, 100.0, 500)
    ours = Row("ours", 20, 10.0, 400, 12.5, baseline=official)
    out = io.StringIO()
    print_table([ours, official], out)
    line = out.getvalue().splitlines()[1].split()
    assert line[:5] == ["ours", "20", "10.0", "2.00", "20.0x"] and line[5] == "12.5"


def test_spliceai_benchmark_gains_the_batched_engine_row(shared, weights_home):
    """Smoke test of benchmarks/run's SpliceAI part: a row for ``--engine batched`` next to the
    default one, and the two give the same strings."""
    import bench_spliceai

    rows, note = bench_spliceai.measure(shared / "golden/spliceai/dev.input.vcf", shared / FASTA, 2,
                                        official_env=None, engines=("batched",))
    assert [r.tool for r in rows] == ["splicescore spliceai (cpu)", "splicescore spliceai (cpu, --engine batched)"]
    assert "--engine batched: 2/2 strings as the default" in note


@pytest.mark.slow
@pytest.mark.parametrize("model, limit", [("spliceai", 16), ("pangolin", 35)])
def test_batched_engine_flops_per_dev_record(shared, weights_home, model, limit):
    """The issue's targets for the device path: what the batched engine executes (a meta-device run)
    on the 300 DEV records, <= 16 GFLOP per record for SpliceAI and <= 35 for Pangolin."""
    annotation = "grch38" if model == "spliceai" else str(shared / "data/annotation/grch38_slices.gtf")
    variants = flops.read_variants(shared / "golden/spliceai/dev.input.vcf", 300)
    assert flops.count_batched(model, variants, shared / FASTA, annotation) <= limit
