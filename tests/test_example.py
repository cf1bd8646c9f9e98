"""The bundled example on the bundled GRCh38 slice, with the real SpliceAI weights: runs on a fresh
clone (weights from PyPI, see conftest.spliceai_home), no ../shared needed.

Expected strings: the official SpliceAI 1.3.1 output (golden run ``dev.D50.M0.official.vcf``, -D 50
-M 0, annotation grch38) of the 9 example records that are among the golden DEV records.
"""

from __future__ import annotations

import gzip
import os
import subprocess

import pytest

from conftest import BUNDLED_FASTA, REPO, run_main, shared_dir

EXAMPLE = REPO / "examples" / "brca1_clinvar.vcf"

OFFICIAL = {
    ("17", 43045788, "ACATCTGCC", "A"): "A|BRCA1|0.00|0.01|0.00|0.00|-6|3|14|3",
    ("17", 43045803, "C", "T"): "T|BRCA1|0.95|1.00|0.00|0.00|-12|-1|-40|-1",
    ("17", 43047728, "A", "T"): "T|BRCA1|0.02|0.41|0.00|0.00|-2|-25|-25|-42",
    ("17", 43049234, "T", "G"): "G|BRCA1|0.00|0.00|0.00|0.00|-12|-2|12|25",
    ("17", 43051120, "GGAA", "G"): "G|BRCA1|0.02|0.00|0.00|0.00|-3|48|-11|-2",
    ("17", 43057147, "C", "T"): "T|BRCA1|0.96|0.76|0.00|0.00|-2|-12|-12|-23",
    ("17", 43071232, "G", "A"): "A|BRCA1|0.00|0.00|0.00|0.00|4|6|4|-2",
    ("17", 43082398, "A", "C"): "C|BRCA1|0.00|0.00|0.02|0.06|6|42|4|6",
    ("17", 43090945, "T", "C"): "C|BRCA1|0.00|0.00|0.01|0.36|-1|19|-10|-1",
}


def _records(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        for line in fh:
            if not line.startswith("#"):
                f = line.rstrip("\n").split("\t")
                info = dict(kv.split("=", 1) for kv in f[7].split(";") if "=" in kv)
                yield (f[0], int(f[1]), f[3], f[4]), info


def test_run_example_gives_the_official_scores(spliceai_home, tmp_path):
    """README command 1's script (or, without .venv, the same command in-process)."""
    out = REPO / "examples" / "out" / "brca1_clinvar.spliceai.vcf.gz"
    script = REPO / "examples" / "run_example.sh"
    if (REPO / ".venv" / "bin" / "splicescore").exists():
        env = {**os.environ, "SPLICESCORE_HOME": str(spliceai_home)}
        env.pop("SPLICESCORE_FASTA", None)
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert "BRCA1" in proc.stdout
    else:
        out = tmp_path / "out.vcf.gz"
        assert run_main(["vcf", "-m", "spliceai", "-i", EXAMPLE, "-r", BUNDLED_FASTA, "-a", "grch38",
                         "-o", out, "--device", "cpu"]) == 0
    got = list(_records(out))
    inputs = [k for k, _ in _records(EXAMPLE)]
    assert [k for k, _ in got] == inputs
    for key, info in got:
        assert key[3] in {e.split("|")[0] for e in info.get("SpliceAI", "").split(",") if e}, key
        if key in OFFICIAL:
            assert info["SpliceAI"] == OFFICIAL[key], key
    assert sum(k in OFFICIAL for k, _ in got) == len(OFFICIAL)


def test_bundled_fasta_is_the_real_sequence():
    """Real coordinates: the slice reads as the project's full GRCh38 chr17 copy over its real range,
    and N outside it."""
    import pysam

    fa = pysam.FastaFile(str(BUNDLED_FASTA))
    assert list(fa.references) == ["chr17"] and list(fa.lengths) == [83_257_441]
    assert set(fa.fetch("chr17", 43_033_000, 43_034_000)) == {"N"}
    assert set(fa.fetch("chr17", 43_136_000, 43_137_000)) == {"N"}
    inner = fa.fetch("chr17", 43_034_000, 43_136_000)
    assert "N" not in inner.upper()
    for (chrom, pos, ref, _), _ in _records(EXAMPLE):
        assert fa.fetch("chr17", pos - 1, pos - 1 + len(ref)).upper() == ref
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared not found: compared with the example's REF alleles only")
    full = pysam.FastaFile(str(shared / "data" / "grch38" / "chr17_brca1_region.fa.gz"))
    assert full.fetch("chr17", 43_034_000, 43_136_000) == inner
