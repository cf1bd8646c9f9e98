"""The Python API (``splicescore.Session``): the same strings as ``splicescore vcf`` and the official
SpliceAI 1.3.1 outputs, one code path with the CLI, models loaded once.

Real GRCh38 BRCA1 sequence and SpliceAI's grch38 table from ``../shared``; expected strings are the
official tool's (``../shared/golden/spliceai``), never ones produced by the code under test.
"""

from __future__ import annotations

import csv
import shutil
import sys

import numpy as np
import pytest

import splicescore
from conftest import run_main
from splicescore import weights
from splicescore.api import Session, VariantError, parse_variant
from test_spliceai_golden import compare, first_records, records

FASTA = "data/grch38/chr17_brca1_region.fa.gz"
DEL = "17:43045792:CTGCCCAAT:C"  # golden v01: SpliceAI acceptor gain 0.98 at -1


@pytest.fixture(scope="module")
def home(shared, weights_home, tmp_path_factory):
    """The session's SpliceAI weights plus HAL (for sequence mode), in a home of this module's own."""
    root = tmp_path_factory.mktemp("api_home")
    shutil.copytree(weights.model_dir("spliceai", weights_home), weights.model_dir("spliceai", root))
    weights.import_weights("hal", [shared / "weights" / "hal" / "HAL_mer_scores.npz"], root)
    return root


@pytest.fixture(scope="module")
def session(shared, home):
    s = Session(reference=shared / FASTA, annotation="grch38", models=["spliceai"], device="cpu", weights_home=home)
    yield s
    s.close()


def _vcf_variants(path):
    return [(c, int(p), r, a.split(",")) for c, p, r, a, _ in records(path)]


@pytest.mark.parametrize("vcf_in, official, first, distance, mask", [
    ("dev_supp.input.vcf", "dev_supp.D50.M0.official.vcf", None, 50, 0),
    ("dev.input.vcf", "dev_first50.D500.M0.official.vcf", 6, 500, 0),
])
def test_score_many_matches_official(shared, session, tmp_path, vcf_in, official, first, distance, mask):
    """``score_many`` INFO strings = SpliceAI 1.3.1's (designed records: two genes on two strands,
    multi-allelic, MNV, complex, REF mismatch, intergenic; and D=500 deletions/insertions)."""
    golden = shared / "golden" / "spliceai"
    inp = first_records(golden / vcf_in, tmp_path / "in.vcf", first)
    expected = records(golden / official)[: first or None]
    got = session.score_many(_vcf_variants(inp), distance=distance, mask=mask)
    assert len(got) == len(expected)
    ours = [(r.chrom, str(r.pos), r.ref, ",".join(r.alts), r.info["spliceai"]) for r in got]
    fields, flips, bad = compare(ours, expected, {})
    assert not bad, bad[:3]
    assert flips == 0 and fields > 0
    # every scored entry is also a Score with the same text and its unrounded values
    for r in got:
        entries = r.info["spliceai"].split(",") if r.info["spliceai"] else []
        assert [s.info for s in r.scores] == entries
        for s in r.scores:
            if s.values:
                assert s.info.split("|")[2:6] == [f"{s.values[k]:.2f}" for k in ("DS_AG", "DS_AL", "DS_DG", "DS_DL")]


def test_score_vcf_is_the_cli(shared, session, tmp_path):
    """``score_vcf`` writes the bytes ``splicescore vcf`` writes (VCF and TSV), and ``score_many``
    gives each record's INFO/SpliceAI and INFO/SPLICESCORE_SKIP as written there."""
    inp = first_records(shared / "golden" / "spliceai" / "dev_supp.input.vcf", tmp_path / "in.vcf", 12)
    cli_out, cli_tsv = tmp_path / "cli.vcf", tmp_path / "cli.tsv"
    assert run_main(["vcf", "-i", inp, "-o", cli_out, "-r", shared / FASTA, "-a", "grch38", "-D", "50", "-M", "1",
                     "--tsv", cli_tsv]) == 0
    api_out, api_tsv = tmp_path / "api.vcf", tmp_path / "api.tsv"
    stats = session.score_vcf(inp, api_out, mask=True, tsv=str(api_tsv))
    assert api_out.read_bytes() == cli_out.read_bytes()
    assert api_tsv.read_bytes() == cli_tsv.read_bytes()
    assert stats.records == len(records(inp))

    got = session.score_many(_vcf_variants(inp), mask=True)
    official = records(shared / "golden" / "spliceai" / "dev_supp.D50.M1.official.vcf")[:12]
    fields, flips, bad = compare([(r.chrom, str(r.pos), r.ref, ",".join(r.alts), r.info["spliceai"]) for r in got],
                                 official, {})
    assert not bad and not flips and fields > 0
    for line, r in zip([l for l in cli_out.read_text().splitlines() if not l.startswith("#")], got):
        info = dict(kv.split("=", 1) for kv in line.split("\t")[7].split(";") if "=" in kv)
        assert r.info["spliceai"] == info.get("SpliceAI")
        assert r.skip_info == info.get("SPLICESCORE_SKIP")


def test_models_load_once(shared, home, monkeypatch):
    """Networks and the annotation load once per session; other options reuse them."""
    import splicescore.io.annotation
    import splicescore.pipeline

    import splicescore.nn.predict
    from conftest import _MEMO

    monkeypatch.setattr(splicescore.nn.predict, "predict", _MEMO)  # tracks' windows, shared with test_tracks_are_the_plot
    loads, annotations = [], []
    real_load, real_annotation = weights.load_network, splicescore.pipeline.load_annotation
    monkeypatch.setattr(weights, "load_network", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    monkeypatch.setattr(splicescore.pipeline, "load_annotation",
                        lambda *a, **k: annotations.append(a) or real_annotation(*a, **k))
    with Session(shared / FASTA, "grch38", ["spliceai"], device="cpu", weights_home=home) as s:
        assert len(loads) == 1
        first = s.score(DEL)
        again = s.score(DEL)
        d10 = s.score(DEL, distance=10, mask=True)
        s.tracks(DEL, distance=50)
        assert len(loads) == 1 and len(annotations) == 1
    assert first.info == again.info
    assert first.info["spliceai"].startswith("C|BRCA1|0.98|")
    assert d10.info["spliceai"].split("|")[6] == "-1"


def test_cache_hits(shared, home, tmp_path):
    """With ``cache=`` a repeated variant comes from the SQLite file, with the same strings."""
    db = tmp_path / "scores.sqlite"
    with Session(shared / FASTA, "grch38", ["spliceai"], device="cpu", weights_home=home, cache=db) as s:
        a = s.score_many([DEL, "17:43045795:C:T"])
        assert s.last_statistics.cache_misses == 2
    with Session(shared / FASTA, "grch38", ["spliceai"], device="cpu", weights_home=home, cache=db) as s:
        b = s.score_many([DEL, "17:43045795:C:T"])
        assert s.last_statistics.cache_hits == 2 and s.last_statistics.windows == 0
    assert [r.info for r in a] == [r.info for r in b]


def test_tracks_are_the_plot(shared, session, monkeypatch):
    """``tracks`` are ``splicescore plot``'s tracks; their extremes are the scores of ``score``."""
    import splicescore.nn.predict
    from conftest import _MEMO
    from splicescore.plot import variant_tracks

    monkeypatch.setenv("SPLICESCORE_HOME", str(session.config.weights_home))
    monkeypatch.setattr(splicescore.nn.predict, "predict", _MEMO)  # each window through the network once
    [gt] = session.tracks(DEL, distance=50)
    [ref] = variant_tracks(parse_variant(DEL), "spliceai", str(shared / FASTA), "grch38", 50, None, "cpu")
    assert gt.gene == ref.gene == "BRCA1" and gt.positions1.shape == (101,)
    for a, b in zip(gt.tracks, ref.tracks):
        assert a.name == b.name and np.array_equal(a.ref, b.ref) and np.array_equal(a.alt, b.alt)
    ds = session.score(DEL).scores[0].values
    acc = gt.tracks[0]
    assert float(acc.delta.max()) == pytest.approx(ds["DS_AG"], abs=1e-6)
    assert int(gt.positions1[int(np.argmax(acc.delta))]) - gt.pos1 == ds["DP_AG"]
    svg = session.figure(DEL)  # the windows come from the memo
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg


def test_score_sequences_hal(shared, session):
    """Sequence mode = the official HAL scores of the golden Vex-seq windows."""
    with open(shared / "golden" / "hal" / "dev.tsv", newline="") as fh:
        rows = [r for _, r in zip(range(12), csv.DictReader(fh, delimiter="\t"))]
    out = session.score_sequences([r["window_ref"] for r in rows], [r["window_alt"] for r in rows], model="hal",
                                  ids=[r["variant"] for r in rows])
    assert [o["id"] for o in out] == [r["variant"] for r in rows]
    for o, r in zip(out, rows):
        assert float(o["score_ref"]) == pytest.approx(float(r["score_ref"]), abs=1e-5)
        assert float(o["score_alt"]) == pytest.approx(float(r["score_alt"]), abs=1e-5)


def test_skips_and_checks(session):
    r = session.score("17:43045795:G:T")  # the FASTA has C
    assert r.info["spliceai"] is None and r.skip_info == "spliceai|T|ref_mismatch"
    assert r.skips[0].description.startswith("REF does not match")
    with pytest.raises(VariantError, match="does not match the reference FASTA, which has C"):
        session.check_variant("17:43045795:G:T")
    with pytest.raises(VariantError, match="not in the reference FASTA"):
        session.check_variant("chrUn_x:100:A:T")
    with pytest.raises(VariantError, match="past the end"):
        session.check_variant("17:999999999:A:T")
    assert session.check_variant("chr17-43045795-C-T").pos1 == 43045795


@pytest.mark.parametrize("text", ["", "chr17", "chr17:43045795:C", "chr17:x:C:T", "chr17:0:C:T", "chr17:5:C:",
                                  "chr17:5:Q!:T", "chr/../x:5:C:T", "chr17:5:C:T$(rm)", 17, "a:" * 6000])
def test_parse_variant_rejects(text):
    with pytest.raises(VariantError):
        parse_variant(text)


@pytest.mark.parametrize("text, expected", [
    ("chr17:43045795:C:T", ("chr17", 43045795, "C", ("T",))),
    ("chr17-43045795-C-T", ("chr17", 43045795, "C", ("T",))),
    ("17 43045795 c t", ("17", 43045795, "C", ("T",))),
    ("chr17:43045795:C>T", ("chr17", 43045795, "C", ("T",))),
    ("chr17:43045795:C:T,G", ("chr17", 43045795, "C", ("T", "G"))),
    (("chr17", 43045795, "C", "T"), ("chr17", 43045795, "C", ("T",))),
])
def test_parse_variant(text, expected):
    v = parse_variant(text)
    assert (v.chrom, v.pos1, v.ref, v.alts) == expected


def test_to_frame(session, monkeypatch):
    pytest.importorskip("pandas")
    res = session.score_many([DEL, "17:43045795:G:T"])
    df = res.to_frame()
    assert list(df["model"]) == ["spliceai", "spliceai"]
    assert list(df["reason"].fillna("")) == ["", "ref_mismatch"]
    assert df.loc[0, "DS_AG"] == res[0].scores[0].values["DS_AG"]
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        res.to_frame()


def test_package_root_exports():
    assert splicescore.Session is Session
    with pytest.raises(AttributeError):
        splicescore.nothing_here  # noqa: B018
