"""The same output, byte for byte, for batch sizes 1, 7 and 64 (real network, no memoisation).

CPU only (``--device cpu``): on a GPU, batches of another size round differently in the last bits
(the same strings; unrounded values to float rounding), see README "Reproducible bytes"."""

from __future__ import annotations

import pytest

from conftest import run_main

IDS = {"supp01", "supp06", "supp13", "supp14", "supp15", "supp19", "supp32", "supp33", "supp34", "supp35", "supp48"}


@pytest.fixture(scope="module")
def subset(shared, tmp_path_factory):
    src = (shared / "golden/spliceai/dev_supp.input.vcf").read_text().splitlines(keepends=True)
    keep = [l for l in src if l.startswith("#") or l.split("\t")[2] in IDS]
    path = tmp_path_factory.mktemp("batching") / "subset.vcf"
    path.write_text("".join(keep))
    return path


@pytest.fixture(scope="module")
def outputs(shared, weights_home, subset, tmp_path_factory):
    out = {}
    for bs in (1, 7, 64):
        d = tmp_path_factory.mktemp(f"bs{bs}")
        code = run_main(["vcf", "-i", subset, "-o", d / "out.vcf", "--tsv", d / "out.tsv", "-r",
                         shared / "data/grch38/chr17_brca1_region.fa.gz", "-a", "grch38", "--batch-size", bs,
                         "--device", "cpu"])
        assert code == 0
        out[bs] = ((d / "out.vcf").read_bytes(), (d / "out.tsv").read_bytes())
    return out


@pytest.mark.parametrize("bs", [7, 64])
def test_identical_across_batch_sizes(outputs, bs):
    assert outputs[bs][0] == outputs[1][0]
    assert outputs[bs][1] == outputs[1][1]


def test_subset_is_scored(outputs, subset):
    vcf = outputs[64][0].decode()
    body = [l for l in vcf.splitlines() if not l.startswith("#")]
    assert len(body) == len(IDS)
    assert sum("SpliceAI=" in l for l in body) >= 8
    # the multi-allelic record gets one entry per ALT (G>A and G>T)
    multi = next(l for l in body if "\tsupp35\t" in l)
    assert "SpliceAI=A|NBR1|" in multi and ",T|NBR1|" in multi
