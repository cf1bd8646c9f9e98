"""examples/Snakefile: scatter into shards, score, gather; the merged VCF equals the unsharded run."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pysam
import pytest

from conftest import REPO, run_main


def _body(path: Path) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return [l for l in fh if not l.startswith("#")]


def test_snakefile_on_the_bundled_example(shared, weights_home, tmp_path):
    snakemake = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or shutil.which("snakemake")
    if snakemake is None:
        pytest.skip("snakemake is not installed (pip install -e '.[test]')")
    vcf = tmp_path / "example.vcf"
    shutil.copy(REPO / "examples" / "brca1_clinvar.vcf", vcf)
    pysam.tabix_index(str(vcf), preset="vcf", force=True)
    vcf_gz = tmp_path / "example.vcf.gz"
    fasta = shared / "data/grch38/chr17_brca1_region.fa.gz"
    out = tmp_path / "scored.vcf.gz"
    env = {**os.environ, "SPLICESCORE_HOME": str(weights_home),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [snakemake, "-s", str(REPO / "examples" / "Snakefile"), "--cores", "2", "--quiet",
         "--directory", str(tmp_path), "--config", f"vcf={vcf_gz}", f"fasta={fasta}", f"out={out}", "shards=3"],
        capture_output=True, text=True, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "scored.vcf.gz.tbi").exists()
    unsharded = tmp_path / "unsharded.vcf.gz"
    assert run_main(["vcf", "-i", vcf_gz, "-r", fasta, "-a", "grch38", "-o", unsharded]) == 0
    merged = _body(out)
    assert merged == _body(unsharded) and len(merged) == 23
