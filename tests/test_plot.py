"""``splicescore plot``: per-position tracks on real data, their extremes against the official scores.

Real GRCh38 sequence around BRCA1 (minus strand) from ``../shared/data``, the SpliceAI grch38 gene table
as ``-a grch38``. The expected scores are the official tools' outputs in ``../shared/golden``: SpliceAI
1.3.1's unrounded DS values (``dev_raw_index.tsv``), Pangolin's unmasked CLI output, and SpTransformer's
``query_scores`` with the kit's random checkpoint. Network outputs are memoised per window across the
tests (conftest ``_MEMO``), so every window goes through a network once.
"""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest

import splicescore.pipeline
import splicescore.nn.predict
from conftest import _MEMO, run_main
from splicescore import weights
from splicescore.errors import UsageError
from splicescore.io.genome import Reference
from splicescore.plot import draw_figure, parse_variant, variant_tracks

FASTA = "data/grch38/chr17_brca1_region.fa.gz"
TABLE = "data/annotation/spliceai_grch38.txt"
DEL = "17:43045792:CTGCCCAAT:C"  # golden v01: acceptor gain 0.98 at -1 (SpliceAI), 0.79 (Pangolin)


@pytest.fixture(scope="module")
def home(shared, weights_home, tmp_path_factory):
    """A weight cache with SpliceAI (copied from the session cache), Pangolin and the random
    SpTransformer checkpoint (``--unverified``), so the session cache stays as it was."""
    root = tmp_path_factory.mktemp("plot_home")
    for name, paths in (("spliceai", None), ("pangolin", [shared / "weights" / "pangolin"])):
        if weights.is_installed(name, weights_home):
            shutil.copytree(weights.model_dir(name, weights_home), weights.model_dir(name, root))
        else:
            weights.import_weights(name, paths, root)
    ckpt = shared / "weights" / "sptransformer" / "random_official_format.ckpt"
    weights.import_weights("sptransformer", [ckpt], root, unverified=True)
    return root


@pytest.fixture
def env(home, monkeypatch):
    monkeypatch.setenv("SPLICESCORE_HOME", str(home))
    monkeypatch.setattr(splicescore.nn.predict, "predict", _MEMO)
    monkeypatch.setattr(splicescore.pipeline, "predict", _MEMO)
    return home


def _tracks(shared, variant: str, model: str, distance: int = 50, gene=None):
    return variant_tracks(parse_variant(variant), model, str(shared / FASTA), "grch38", distance, gene, "cpu")


def _table_boundaries(shared, gene: str) -> set[int]:
    """Exon starts (0-based in the table, +1) and ends of ``gene``, read here from the table itself."""
    with open(shared / TABLE) as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if row[0] == gene:
                return {int(x) + 1 for x in row[5].split(",") if x} | {int(x) for x in row[6].split(",") if x}
    raise KeyError(gene)


def _golden_spliceai(shared) -> dict[str, dict]:
    with open(shared / "golden" / "spliceai" / "dev_raw_index.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return {f"{r['chrom']}:{r['pos']}:{r['ref']}:{r['alt']}": r for r in rows}


def _bases(shared, pos1: int, n: int = 1) -> str:
    fasta = Reference(str(shared / FASTA))
    try:
        return fasta.fetch("chr17", pos1 - 1, pos1 - 1 + n).upper()
    finally:
        fasta.close()


def _other(base: str) -> str:
    return "A" if base != "A" else "C"


def _site(gt, name):
    return next(t for t in gt.tracks if t.name == name)


# --------------------------------------------------------------------------- pure parts


def test_parse_variant():
    v = parse_variant("chr17:43045792:ctg:c")
    assert (v.chrom, v.pos1, v.ref, v.alts) == ("chr17", 43045792, "CTG", ("C",))
    for bad in ("chr17:43045792:C", "chr17:x:C:T", "chr17:0:C:T", "chr17:5:C:T,G", "chr17::C:T", "a:b:c:d:e"):
        with pytest.raises(UsageError):
            parse_variant(bad)


# --------------------------------------------------------------------------- SpliceAI


@pytest.mark.parametrize("variant", [DEL, "17:43047645:T:TA", "17:43045803:C:T"])  # deletion, insertion, SNV
def test_spliceai_tracks_give_the_official_scores(shared, env, variant):
    official = _golden_spliceai(shared)[variant]
    [gt] = _tracks(shared, variant, "spliceai")
    pos = int(official["pos"])
    assert (gt.gene, gt.strand, gt.model) == ("BRCA1", "-", "spliceai")
    assert np.array_equal(gt.positions1, np.arange(pos - 50, pos + 51))
    acc, don = _site(gt, "acceptor"), _site(gt, "donor")
    assert all(len(t.ref) == len(t.alt) == 101 for t in gt.tracks)
    got = [acc.delta.max(), -acc.delta.min(), don.delta.max(), -don.delta.min()]
    want = [float(official[f"DS_{k}_raw"]) for k in ("AG", "AL", "DG", "DL")]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    # positions: the official DP_* (the tool's own string), offsets of the first arg-max
    dp = [int(x) for x in official["cli_spliceai"].split("|")[6:]]
    args = [np.argmax(acc.delta), np.argmin(acc.delta), np.argmax(don.delta), np.argmin(don.delta)]
    assert [int(gt.positions1[i]) - pos for i in args] == dp
    # the annotation's exon boundaries inside the window, and only those
    inside = {b for b in _table_boundaries(shared, "BRCA1") if pos - 50 <= b <= pos + 50}
    assert set(gt.boundaries1) == inside and list(gt.boundaries1) == sorted(inside)
    if variant == DEL:
        assert inside and not acc.alt[51:59].any() and not don.alt[51:59].any()  # the 8 deleted bases: ALT 0


def test_genes_on_both_strands_and_gene_choice(shared, env):
    # MLX (+) and PSMC3IP (-) overlap here: one set of tracks per gene, in the table's order
    base = _bases(shared, 42573000)
    variant = f"chr17:42573000:{base}:{_other(base)}"
    genes = _tracks(shared, variant, "spliceai", distance=5)
    assert [(g.gene, g.strand) for g in genes] == [("MLX", "+"), ("PSMC3IP", "-")]
    [only] = _tracks(shared, variant, "spliceai", distance=5, gene="PSMC3IP")
    assert only.gene == "PSMC3IP"
    for a, b in zip(only.tracks, genes[1].tracks):
        assert np.array_equal(a.delta, b.delta)


# --------------------------------------------------------------------------- Pangolin


def test_pangolin_tracks_give_the_official_and_pipeline_scores(shared, env, tmp_path):
    [gt] = _tracks(shared, DEL, "pangolin")
    pos = 43045792
    assert [t.name for t in gt.tracks] == ["heart", "liver", "brain", "testis"]
    assert np.array_equal(gt.positions1, np.arange(pos - 50, pos + 50 + 9))  # 2d + len(REF)
    delta = np.stack([t.delta for t in gt.tracks])
    gain_at, loss_at = np.unravel_index(np.argmax(delta), delta.shape), np.unravel_index(np.argmin(delta), delta.shape)
    # official unmasked output for this record: BRCA1|-1:0.79|10:-0.17
    official = [line for line in (shared / "golden" / "pangolin" / "dev_first50.d50.nomask.official.vcf").read_text()
                .splitlines() if line.startswith("17\t43045792\t")][0]
    field = official.split("Pangolin=")[1].split(";")[0].split("|")
    (g_pos, g_val), (l_pos, l_val) = (f.split(":") for f in field[1:3])
    assert round(float(delta.max()), 2) == float(g_val) and int(gt.positions1[gain_at[1]]) - pos == int(g_pos)
    assert round(float(delta.min()), 2) == float(l_val) and int(gt.positions1[loss_at[1]]) - pos == int(l_pos)
    # the numbers of `splicescore vcf --pangolin-mask 0` (unrounded TSV); the plot runs full ALT
    # windows, `vcf` on the CPU incremental ALT passes, which agree to float rounding (<= 1e-6)
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   "17\t43045792\t.\tCTGCCCAAT\tC\t.\t.\t.\n")
    argv = ["vcf", "-m", "pangolin", "-i", vcf, "-r", shared / FASTA, "-o", tmp_path / "out.vcf",
            "--tsv", tmp_path / "out.tsv", "--pangolin-mask", "0", "--device", "cpu"]
    assert run_main(argv) == 0
    with open(tmp_path / "out.tsv", newline="") as fh:
        [row] = list(csv.DictReader(fh, delimiter="\t"))
    assert abs(float(row["gain"]) - float(delta.max())) <= 1e-6
    assert int(row["gain_pos"]) == int(gt.positions1[gain_at[1]]) - pos
    assert abs(float(row["loss"]) - float(delta.min())) <= 1e-6
    assert int(row["loss_pos"]) == int(gt.positions1[loss_at[1]]) - pos
    assert set(gt.boundaries1) == {b for b in _table_boundaries(shared, "BRCA1") if pos - 50 <= b <= pos + 58}


# --------------------------------------------------------------------------- SpTransformer


def test_sptransformer_tracks_give_the_official_scores(shared, env):
    from splicescore.models.sptransformer.official import TISSUE_NAMES

    with open(shared / "golden" / "sptransformer" / "parity_scores.tsv", newline="") as fh:
        official = {r["id"].split("_")[0]: r for r in csv.DictReader(fh, delimiter="\t")}["V2"]
    variant = f"chr17:{official['pos_grch38']}:{official['ref']}:{official['alt']}"
    [gt] = _tracks(shared, variant, "sptransformer", distance=100)
    assert (gt.gene, gt.strand) == ("BRCA1", "-") and len(gt.positions1) == 201
    acc, don = _site(gt, "acceptor"), _site(gt, "donor")
    score = np.abs(np.maximum(acc.alt, don.alt) - np.maximum(acc.ref, don.ref)).max()
    assert abs(float(score) - float(official["score"])) <= 1e-5
    usage = {t.name: t for t in gt.usage_tracks()}
    assert list(usage) == list(TISSUE_NAMES)
    got = [np.abs(usage[name].delta).max() for name in TISSUE_NAMES]
    np.testing.assert_allclose(got, [float(official[name]) for name in TISSUE_NAMES], rtol=0, atol=1e-5)
    # a smaller D is the middle of the same tracks
    [small] = _tracks(shared, variant, "sptransformer", distance=10)
    assert np.array_equal(small.positions1, gt.positions1[90:111])
    for a, b in zip(small.tracks, gt.tracks):
        assert np.array_equal(a.ref, b.ref[90:111]) and np.array_equal(a.delta, b.delta[90:111])


# --------------------------------------------------------------------------- the command and its figure


@pytest.mark.parametrize("model", ["spliceai", "pangolin"])
def test_plot_command_writes_a_png(shared, env, tmp_path, model):
    out = tmp_path / "variant.png"
    argv = ["plot", DEL, "-r", shared / FASTA, "-a", "grch38", "--model", model, "-o", out, "--device", "cpu"]
    assert run_main(argv) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "variant.png.partial").exists()


def test_figure_formats(shared, env, tmp_path):
    genes = _tracks(shared, DEL, "spliceai")
    draw_figure(genes, str(tmp_path / "v.pdf"))
    draw_figure(genes, str(tmp_path / "v.svg"))
    assert (tmp_path / "v.pdf").read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in (tmp_path / "v.svg").read_bytes()[:2000]


def _intergenic(shared) -> str:
    from splicescore.io.annotation import load_spliceai_table

    pos = 43_300_000  # between TMEM106A and ARL4D
    assert not load_spliceai_table(shared / TABLE).at("17", pos)
    base = _bases(shared, pos)
    assert base in "ACGT"
    return f"chr17:{pos}:{base}:{_other(base)}"


@pytest.mark.parametrize("case, code, words", [
    ("bad_variant", 2, "CHROM:POS:REF:ALT"),
    ("two_alts", 2, "one ALT"),
    ("contig", 3, "contig is not in the reference FASTA"),
    ("ref_mismatch", 3, "does not match the reference FASTA"),
    ("no_gene", 3, "no annotated gene"),
    ("gene_choice", 2, "genes there: BRCA1"),
    ("extension", 2, ".png, .pdf or .svg"),
    ("sptransformer_distance", 2, "within 100 nt"),
    ("spliceai_complex", 2, "REF and ALT both longer than 1 nt"),
])
def test_errors_are_one_line(shared, env, tmp_path, capsys, case, code, words):
    variant, extra, out = DEL, [], tmp_path / "v.png"
    if case == "bad_variant":
        variant = "chr17-43045792-C-T"
    elif case == "two_alts":
        variant = "chr17:43045803:C:T,G"
    elif case == "contig":
        variant = "chrZ:100:A:C"
    elif case == "ref_mismatch":
        variant = "chr17:43045803:G:T"  # the FASTA has C
    elif case == "no_gene":
        variant = _intergenic(shared)
    elif case == "gene_choice":
        extra = ["--gene", "NOPE"]
    elif case == "extension":
        out = tmp_path / "v.jpg"
    elif case == "sptransformer_distance":
        extra = ["-m", "sptransformer", "-D", "200"]
    elif case == "spliceai_complex":
        variant = f"chr17:43045803:{_bases(shared, 43045803, 2)}:TG"
    capsys.readouterr()
    argv = ["plot", variant, "-r", shared / FASTA, "-o", out, "--device", "cpu", *extra]
    assert run_main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "Traceback" not in err[0], err
    assert not out.exists()
