"""Per-transcript SpliceAI and Pangolin scores (--transcripts mane|canonical|basic|all).

A BRCA1 annotation with several transcripts (built from the shared GTF's BRCA1 model): every
transcript's SpliceAI_TX / Pangolin_TX entry must equal what a one-transcript run on that transcript
alone (``--transcripts FILE`` with its ID) prints, and the default INFO/SpliceAI / INFO/Pangolin
must stay what the one-per-gene (``auto``) run prints.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pysam
import pytest

from conftest import run_main

FASTA = "data/grch38/chr17_brca1_region.fa.gz"
REPO = Path(__file__).resolve().parents[1]
RECORDS = [0, 4, 6, 8, 17]  # a deletion, an insertion, SNVs at and near exon ends (all transcripts differ)


@pytest.fixture(scope="module")
def pangolin_home(shared, weights_home):
    from splicescore import weights

    if not weights.is_installed("pangolin", weights_home):
        weights.import_weights("pangolin", [shared / "weights" / "pangolin"], weights_home)
    return weights_home


def _brca1_exons(shared):
    exons = []
    for line in (shared / "data/annotation/grch38_slices.gtf").read_text().splitlines():
        f = line.split("\t")
        if len(f) == 9 and f[2] == "exon" and 'gene_id "BRCA1"' in f[8]:
            exons.append((int(f[3]), int(f[4])))
    return sorted(exons)


TRANSCRIPTS = {
    # id: (exon filter, tags, type)
    "ENST_MANE": (lambda ex: ex, ["basic", "Ensembl_canonical", "MANE_Select"], "protein_coding"),
    "ENST_SKIP": (lambda ex: [e for e in ex if e[0] not in (43063874, 43095846)], ["basic", "MANE_Plus_Clinical"],
                  "protein_coding"),
    "ENST_SHORT": (lambda ex: ex[2:], ["basic"], "protein_coding"),  # starts at the 3rd exon: other N-padding
    "ENST_SAME": (lambda ex: ex, [], "lncRNA"),  # the MANE model again: shares its windows
    "ENST_NMD": (lambda ex: ex[1:], [], "nonsense_mediated_decay"),  # not a default type of `all`
}


@pytest.fixture(scope="module")
def multi_gtf(shared, tmp_path_factory):
    exons = _brca1_exons(shared)
    lines = []
    lo, hi = exons[0][0], exons[-1][1]
    gene = 'gene_id "ENSG_BRCA1"; gene_type "protein_coding"; gene_name "BRCA1";'
    lines.append(f"chr17\tt\tgene\t{lo}\t{hi}\t.\t-\t.\t{gene}")
    for tid, (pick, tags, ttype) in TRANSCRIPTS.items():
        ex = pick(exons)
        attrs = f'{gene} transcript_id "{tid}"; transcript_type "{ttype}";' + "".join(f' tag "{t}";' for t in tags)
        lines.append(f"chr17\tt\ttranscript\t{ex[0][0]}\t{ex[-1][1]}\t.\t-\t.\t{attrs}")
        for s, e in ex[::-1]:
            lines.append(f"chr17\tt\texon\t{s}\t{e}\t.\t-\t.\t{attrs}")
            lines.append(f"chr17\tt\tCDS\t{s}\t{e}\t.\t-\t0\t{attrs}")
    path = tmp_path_factory.mktemp("ann") / "brca1_multi.gtf"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def vcf(tmp_path_factory):
    src = REPO / "examples/brca1_clinvar.vcf"
    head, body = [], []
    for line in src.read_text().splitlines(keepends=True):
        (head if line.startswith("#") else body).append(line)
    path = tmp_path_factory.mktemp("vcf") / "brca1.vcf"
    path.write_text("".join(head + [body[i] for i in RECORDS]))
    return path


def _run(shared, vcf, gtf, out_dir: Path, name: str, model: str, *args) -> tuple[list[dict], list[dict]]:
    out, tsv = out_dir / f"{name}.vcf", out_dir / f"{name}.tsv"
    code = run_main(["vcf", "--model", model, "-i", vcf, "-o", out, "-r", shared / FASTA, "-a", gtf,
                     "--tsv", tsv, *args])
    assert code == 0
    with pysam.VariantFile(str(out)) as fh:
        infos = [dict(rec.info) for rec in fh]
    with open(tsv) as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return infos, rows


def _entries(value) -> list[str]:
    if value is None:
        return []
    return list(value) if isinstance(value, tuple) else value.split(",")


def _tx_entries(info: dict, key: str) -> dict[str, list[str]]:
    """SpliceAI_TX entries by transcript, without the transcript and priority fields."""
    out: dict[str, list[str]] = {}
    for e in _entries(info.get(key)):
        f = e.split("|")
        out.setdefault(f[2], []).append("|".join(f[:2] + f[4:]))
    return out


@pytest.mark.parametrize("model, key, args", [
    ("spliceai", "SpliceAI", ["-M", "1"]),
    pytest.param("spliceai", "SpliceAI", [], marks=pytest.mark.slow),
    pytest.param("pangolin", "Pangolin", [], marks=pytest.mark.slow),
])
def test_every_transcript_scored_like_a_run_on_it_alone(shared, weights_home, vcf, multi_gtf, tmp_path, model, key,
                                                        args, request):
    if model == "pangolin":
        request.getfixturevalue("pangolin_home")
    many, many_rows = _run(shared, vcf, multi_gtf, tmp_path, "all", model, "--transcripts", "all", *args)
    auto, auto_rows = _run(shared, vcf, multi_gtf, tmp_path, "auto", model, *args)
    # the default field is the one-per-gene run's, byte for byte; auto runs have no TX key
    assert [i.get(key) for i in many] == [i.get(key) for i in auto]
    assert all(f"{key}_TX" not in i for i in auto) and "transcript_id" not in auto_rows[0]
    seen = set()
    for tid in ("ENST_MANE", "ENST_SKIP", "ENST_SHORT"):
        ids = tmp_path / f"{tid}.txt"
        ids.write_text(tid + "\n")
        alone, _ = _run(shared, vcf, multi_gtf, tmp_path, tid, model, "--transcripts", str(ids), *args)
        for rec_many, rec_alone in zip(many, alone):
            got = _tx_entries(rec_many, f"{key}_TX").get(tid, [])
            assert got == _entries(rec_alone.get(key)), (tid, rec_many.get(f"{key}_TX"))
            if got:
                seen.add(tid)
    assert seen == {"ENST_MANE", "ENST_SKIP", "ENST_SHORT"}
    # the same model under another ID: the same entries (its windows are the MANE transcript's)
    for rec in many:
        by_tx = _tx_entries(rec, f"{key}_TX")
        assert by_tx.get("ENST_SAME") == by_tx.get("ENST_MANE")
    # priorities as SpliceAI-lookup prints them; the NMD transcript is not a default type
    prio = {e.split("|")[2]: e.split("|")[3] for i in many for e in _entries(i.get(f"{key}_TX"))}
    assert prio == {"ENST_MANE": "MS", "ENST_SKIP": "MP", "ENST_SHORT": "N", "ENST_SAME": "N"}
    # the TSV: one row per record x ALT x transcript, with the transcript columns
    assert len(many_rows) == sum(len(_entries(i.get(f"{key}_TX"))) for i in many)
    assert {r["transcript_id"] for r in many_rows} == set(prio)
    assert {(r["transcript_id"], r["transcript_priority"]) for r in many_rows} == set(prio.items())
    mane = [{k: v for k, v in r.items() if k not in ("transcript_id", "transcript_priority")}
            for r in many_rows if r["transcript_id"] == "ENST_MANE"]
    assert mane == auto_rows


def test_other_modes_and_types(shared, weights_home, vcf, multi_gtf, tmp_path):
    def tx_ids(infos):
        return {e.split("|")[2] for i in infos for e in _entries(i.get("SpliceAI_TX"))}

    mane, rows = _run(shared, vcf, multi_gtf, tmp_path, "mane", "spliceai", "--transcripts", "mane", "--all-nonzero")
    assert tx_ids(mane) == {"ENST_MANE", "ENST_SKIP"}
    # --all-nonzero: the largest listed change is the row's raw delta score
    for r in rows:
        if r["DS_AG"] == ".":
            continue
        deltas = [float(x.split(":")[1]) for x in r["ACCEPTOR_DELTAS"].split(";") if x != "."]
        if float(r["DS_AG_RAW"]) >= 0.01:
            assert max(deltas) == pytest.approx(float(r["DS_AG_RAW"]), abs=6e-5)
        assert all(abs(d) >= 0.01 for d in deltas)
    nmd, _ = _run(shared, vcf, multi_gtf, tmp_path, "nmd", "spliceai", "--transcripts", "all",
                  "--transcript-types", "nonsense_mediated_decay,lncRNA")
    assert tx_ids(nmd) == {"ENST_NMD", "ENST_SAME"}


def test_lookup_columns_from_the_same_outputs():
    """Raw and masked deltas of one pass, REF/ALT probabilities at the DPs, |delta| >= 0.01 lists."""
    import numpy as np

    from splicescore.models.spliceai.scorer import unit_scores

    def lookup_fields(y_ref, y_alt, cov, boundary_offset, all_nonzero=False):
        return unit_scores(y_ref, y_alt, cov, boundary_offset, all_nonzero).lookup()

    cov = 11  # D = 5
    y_ref = np.zeros((cov, 3), np.float32)
    y_alt = np.zeros((cov, 3), np.float32)
    y_ref[7, 1], y_alt[7, 1] = 0.10, 0.70  # acceptor gain at +2 (the annotated boundary: masked)
    y_ref[3, 1], y_alt[3, 1] = 0.50, 0.45  # acceptor loss at -2 (unannotated: masked)
    y_ref[5, 2], y_alt[5, 2] = 0.90, 0.20  # donor loss at 0
    y_ref[9, 2], y_alt[9, 2] = 0.000, 0.005  # below 0.01: not listed
    f = lookup_fields(y_ref, y_alt, cov, boundary_offset=2, all_nonzero=True)
    assert f["DS_AG_RAW"] == pytest.approx(0.6) and f["DS_AG_MASKED"] == 0
    assert f["DS_AL_RAW"] == pytest.approx(0.05) and f["DS_AL_MASKED"] == 0
    assert f["DS_DL_RAW"] == pytest.approx(0.7) and f["DS_DL_MASKED"] == 0  # a loss off the boundary
    assert (f["DS_AG_REF"], f["DS_AG_ALT"]) == pytest.approx((0.10, 0.70))
    assert (f["DS_AL_REF"], f["DS_AL_ALT"]) == pytest.approx((0.50, 0.45))
    assert (f["DS_DL_REF"], f["DS_DL_ALT"]) == pytest.approx((0.90, 0.20))
    assert f["ACCEPTOR_DELTAS"] == "-2:-0.0500;2:0.6000"
    assert f["DONOR_DELTAS"] == "0:-0.7000"
    assert "ACCEPTOR_DELTAS" not in lookup_fields(y_ref, y_alt, cov, 2)
