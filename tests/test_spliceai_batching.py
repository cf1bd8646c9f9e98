"""The same output, byte for byte, for batch sizes 1, 7 and 64 (a random-weight SpliceAI network in the
weight cache, the bundled BRCA1 example: SNVs, deletions, an insertion and a multi-allelic record; no
memoisation, no ../shared).

CPU only (``--device cpu``): on a GPU, batches of another size round differently in the last bits
(the same strings; unrounded values to float rounding), see README "Reproducible bytes"."""

from __future__ import annotations

import pytest

from conftest import BUNDLED_FASTA, BUNDLED_VCF, _as_home, run_main
from helpers import vcf_subset

IDS = {"182075", "383141", "125856", "55504", "55451", "265051", "55383", "462649", "415597", "418064"}
MULTI = "17\t43045795\tmulti\tC\tA,T\t.\t.\t.\n"  # the bundled SNV 383141 with a second ALT


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    return vcf_subset(BUNDLED_VCF, IDS, tmp_path_factory.mktemp("batching") / "subset.vcf", MULTI)


@pytest.fixture(scope="module")
def outputs(random_weights_root, subset, tmp_path_factory):
    out = {}
    with _as_home(random_weights_root):
        for bs in (1, 7, 64):
            d = tmp_path_factory.mktemp(f"bs{bs}")
            code = run_main(["vcf", "-i", subset, "-o", d / "out.vcf", "--tsv", d / "out.tsv", "-r", BUNDLED_FASTA,
                             "-a", "grch38", "--batch-size", bs, "--device", "cpu"])
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
    assert len(body) == len(IDS) + 1
    assert sum("SpliceAI=" in l for l in body) == len(IDS) + 1
    # the multi-allelic record gets one entry per ALT (C>A and C>T)
    multi = next(l for l in body if "\tmulti\t" in l)
    assert "SpliceAI=A|BRCA1|" in multi and ",T|BRCA1|" in multi
