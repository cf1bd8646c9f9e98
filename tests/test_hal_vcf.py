"""HAL through the CLI: ``splicescore seqs --model hal`` on the golden Vex-seq table, donor windows
on real GRCh38 sequence (``splicescore vcf --model hal``) checked against the sequence-mode score of
the windows this test builds itself, and the window/donor rules on hand-made sequences.
"""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from splicescore import weights
from splicescore.core.encoding import reverse_complement
from splicescore.models.hal.scorer import (
    HALScorer,
    donors_for_variant,
    transcript_donors,
    window_is_scorable,
)
from splicescore.io.annotation import Transcript

from conftest import run_main

TOL = 1e-5
SEQ_SUBSET = 200  # golden rows scored in the default suite (all 1,028 with -m slow)
CHROM = "chr17"
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr17,length=83257441>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(scope="module")
def hal_home(shared, weights_home):
    weights.import_weights("hal", [shared / "weights" / "hal"], weights_home)
    return weights_home


def _tsv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _write_pairs(path, pairs, psi=None):
    with open(path, "w") as fh:
        fh.write("id\tref\talt" + ("\tpsi_ref" if psi is not None else "") + "\n")
        for i, (ref, alt) in enumerate(pairs):
            fh.write(f"{i}\t{ref}\t{alt}" + (f"\t{psi[i]}" if psi is not None else "") + "\n")
    return path


def _seqs(tmp_path, pairs, psi=None, extra=()):
    src = _write_pairs(tmp_path / "pairs.tsv", pairs, psi)
    out = tmp_path / "pairs.out.tsv"
    assert run_main(["seqs", "-m", "hal", "-i", src, "-o", out, "--device", "cpu", *extra]) == 0
    return _tsv(out)


# ----------------------------------------------------------------------------------------------
# sequence mode vs the golden table
# ----------------------------------------------------------------------------------------------
def _golden_seqs(shared, tmp_path, n):
    dev = _tsv(shared / "golden" / "hal" / "dev.tsv")[:n]
    rows = _seqs(tmp_path, [(r["window_ref"], r["window_alt"]) for r in dev], [r["psi_ref_measured"] for r in dev])
    assert len(rows) == len(dev)
    for g, o in zip(dev, rows):
        for col in ("score_ref", "score_alt", "delta", "psi_alt_pred", "delta_psi_pred"):
            assert abs(float(o[col]) - float(g[col])) <= TOL, (g["variant"], col)
    return dev, rows


def test_seqs_golden_subset(shared, hal_home, tmp_path):
    _golden_seqs(shared, tmp_path, SEQ_SUBSET)


def test_seqs_leaves_the_callers_tf32_flags(shared, hal_home, tmp_path):
    """Regression: ``seqs`` (like ``plot``) set the TF32 flags process-wide; now only the network calls
    turn them off (splicescore.nn.predict.exact_math) and the caller's settings come back."""
    import torch

    before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        _golden_seqs(shared, tmp_path, 2)
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def _pearson(x, y):
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum()))


@pytest.mark.slow
def test_seqs_golden_all_rows_and_readme_pearson(shared, hal_home, tmp_path):
    """Every dev row, and the README's Pearson figures of the CLI output (the Spearman figures are
    checked at network level in test_hal.py, with the rounding-noise caveat documented there)."""
    dev, rows = _golden_seqs(shared, tmp_path, None)
    text = (shared / "golden" / "hal" / "README.md").read_text()
    cells = [c.strip() for c in next(l for l in text.splitlines() if l.startswith("| dev |")).strip("|").split("|")]
    figures = [tuple(float(v) for v in c.split("/")) for c in cells if "/" in c]
    measured = np.array([float(r["delta_psi_measured"]) for r in dev])
    inwin = np.array([r["var_in_window"] == "1" for r in dev])
    for (pearson, _), (col, mask) in zip(
        figures, [("delta_psi_pred", ~np.zeros_like(inwin)), ("delta", ~np.zeros_like(inwin)),
                  ("delta_psi_pred", inwin), ("delta", inwin)]
    ):
        pred = np.array([float(r[col]) for r in rows])
        assert round(_pearson(pred[mask], measured[mask]), 4) == pytest.approx(pearson, abs=1e-9), col


def test_seqs_ref_psi_option_and_errors(shared, hal_home, tmp_path):
    dev = _tsv(shared / "golden" / "hal" / "dev.tsv")[:3]
    pairs = [(r["window_ref"], r["window_alt"]) for r in dev]
    rows = _seqs(tmp_path, pairs, extra=["--hal-ref-psi", "0.5"])
    for r in rows:
        d = float(r["delta"])
        assert float(r["delta_psi_pred"]) == pytest.approx(1 / (1 + np.exp(-d)) - 0.5, abs=1e-12)
    rows = _seqs(tmp_path, pairs)
    assert "delta_psi_pred" not in rows[0]
    bad = tmp_path / "bad.tsv"
    _write_pairs(bad, [pairs[0], (pairs[1][0][:-1], pairs[1][1])])
    assert run_main(["seqs", "-m", "hal", "-i", bad, "-o", tmp_path / "o.tsv"]) == 3
    n_window = pairs[0][0][:10] + "N" + pairs[0][0][11:]
    _write_pairs(bad, [(n_window, pairs[0][1])])
    assert run_main(["seqs", "-m", "hal", "-i", bad, "-o", tmp_path / "o.tsv"]) == 3


# ----------------------------------------------------------------------------------------------
# hand-made donors
# ----------------------------------------------------------------------------------------------
def _tx(strand, exons):
    return Transcript("G", "chr1", strand, exons[0][0], exons[-1][1], tuple(s for s, _ in exons),
                      tuple(e for _, e in exons))


def test_transcript_donors_both_strands():
    exons = [(100, 200), (500, 600), (900, 1000)]
    assert transcript_donors(_tx("+", exons)) == [200, 600]
    assert transcript_donors(_tx("-", exons)) == [500, 900]


def test_donors_for_variant_window_edges():
    plus = _tx("+", [(100, 1000), (2000, 3000)])  # donor 1000, window 921..1080
    minus = _tx("-", [(100, 1000), (2000, 3000)])  # donor 2000, window 1920..2079
    assert donors_for_variant([plus], 921, "A", "C") == [(1000, "+", "G")]
    assert donors_for_variant([plus], 920, "A", "C") == []
    assert donors_for_variant([plus], 1080, "A", "C") == [(1000, "+", "G")]
    assert donors_for_variant([plus], 1081, "A", "C") == []
    # a deletion reaching into the window from outside
    assert donors_for_variant([plus], 918, "AAAA", "A") == [(1000, "+", "G")]
    assert donors_for_variant([minus], 1920, "A", "T") == [(2000, "-", "G")]
    assert donors_for_variant([minus], 2080, "A", "T") == []
    # two transcripts sharing a donor: scored once
    assert donors_for_variant([plus, plus], 1000, "A", "C") == [(1000, "+", "G")]


def test_window_is_scorable_ignores_unscored_positions():
    w = "ACGT" * 40
    assert window_is_scorable(w)
    assert window_is_scorable(w[:75] + "NN" + w[77:])  # 75, 76 are in no scored hexamer
    assert not window_is_scorable(w[:74] + "N" + w[75:])
    assert not window_is_scorable(w[:-1])


class _Ref:
    def __init__(self, seq):
        self.seq = seq
        self.lengths = {"chr1": len(seq)}

    def resolve(self, name):
        return "chr1" if name in ("chr1", "1") else None

    def fetch(self, contig, start0, end0):
        lo, hi = max(start0, 0), min(end0, len(self.seq))
        return "N" * (lo - start0) + self.seq[lo:hi] + "N" * (end0 - hi)


def test_scorer_reasons_on_handmade_genome():
    from splicescore.io.annotation import GeneIndex
    from splicescore.core.scorer import Variant

    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGT"), 5000))
    seq = seq[:999] + "GGT" + seq[1002:]  # donor at 1000 (1-based), intron starts GT at 1001
    genes = GeneIndex([_tx("+", [(500, 1000), (2000, 3000)])], "test")
    scorer = HALScorer(_Ref(seq), genes, ref_psi=0.5)

    def run(pos, ref, alt):
        v = Variant("chr1", pos, ref, (alt,))
        plan = scorer.plan(v)
        from splicescore.nn.predict import predict
        from splicescore.models.hal.network import HALNet

        net = HALNet()
        net.table.copy_(torch_table())
        return scorer.finish(v, plan, predict(net, plan.inputs))

    r = run(1001, seq[1000], "A" if seq[1000] != "A" else "C")
    assert r.info.startswith(("A|1000|+|", "C|1000|+|")) and len(r.info.split("|")) == 5 and not r.skips
    r = run(1500, seq[1499], "A" if seq[1499] != "A" else "C")  # intron middle
    assert r.skips == [(r.skips[0][0], "no_donor")] and r.info is None
    r = run(4500, seq[4499], "A" if seq[4499] != "A" else "C")  # past the gene
    assert r.skips[0][1] == "no_gene"
    r = run(999, seq[998:1000], seq[998])  # deletes the donor base
    assert r.skips[0][1] == "donor_deleted" and r.info.endswith("|1000|+|.|.")
    r = run(1000, "T" if seq[999] != "T" else "G", "A")
    assert r.skips[0][1] == "ref_mismatch"
    r = run(1000, seq[999], "<DEL>")
    assert r.skips[0][1] == "symbolic_alt"
    r = run(900, seq[899 : 899 + 170], seq[899])
    assert r.skips[0][1] == "ref_too_long"


def torch_table():
    import torch

    rng = np.random.default_rng(0)
    return torch.from_numpy(rng.normal(size=(4096, 8)))


# ----------------------------------------------------------------------------------------------
# end to end on real GRCh38 sequence
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def genome(shared):
    pysam = pytest.importorskip("pysam")
    fa = pysam.FastaFile(str(shared / "data" / "grch38" / "chr17_brca1_region.fa.gz"))
    yield lambda lo1, hi1: fa.fetch(CHROM, lo1 - 1, hi1).upper()
    fa.close()


def _gtf_exons(shared, gene):
    exons, strand = [], None
    for line in open(shared / "data" / "annotation" / "grch38_slices.gtf"):
        f = line.rstrip("\n").split("\t")
        if len(f) == 9 and f[2] == "exon" and f'gene_name "{gene}"' in f[8]:
            exons.append((int(f[3]), int(f[4])))
            strand = f[6]
    return sorted(exons), strand


def _expected_windows(genome, donor, strand, pos, ref, alt):
    """The windows as the HAL README defines them, built here from the FASTA: donor kept fixed."""
    lo = donor - 400
    g = genome(lo, donor + 400)
    i, d = pos - lo, donor - lo
    assert g[i : i + len(ref)] == ref
    # trim the shared first base of an indel (VCF padding)
    k = 1 if len(ref) != len(alt) and ref[0] == alt[0] else 0
    start, r, a = i + k, ref[k:], alt[k:]
    alt_g = g[:start] + a + g[start + len(r):]
    shift = len(a) - len(r)
    upstream_change = start + len(r) - 1 < d if r else start <= d
    d_alt = d + shift if upstream_change else d
    if strand == "+":
        return g[d - 79 : d + 81], alt_g[d_alt - 79 : d_alt + 81]
    return reverse_complement(g[d - 80 : d + 80]), reverse_complement(alt_g[d_alt - 80 : d_alt + 80])


def _variants(genome, shared):
    """(pos, ref, alt) around real donors of RND2 (+) and BRCA1 (-)."""
    out = []
    for gene, which in (("RND2", 1), ("BRCA1", 3)):
        exons, strand = _gtf_exons(shared, gene)
        donor = sorted(e for _, e in exons)[:-1][which] if strand == "+" else sorted(s for s, _ in exons)[1:][which]
        g = lambda p, n=1: genome(p, p + n - 1)  # noqa: E731
        alt_of = lambda b: "A" if b != "A" else "C"  # noqa: E731
        exonic = -3 if strand == "+" else 3  # genomic offset of exon -3/-4
        intronic = 5 if strand == "+" else -5
        for off in (exonic, intronic, 0, 60 if strand == "+" else -60):
            out.append((donor + off, g(donor + off), alt_of(g(donor + off))))
        # deletions and insertions on both sides of the donor
        for off in (-12, 12):
            p = donor + off
            out.append((p, g(p, 3), g(p)))
            out.append((p, g(p), g(p) + "TTAC"))
    return out


def test_vcf_real_donors_match_sequence_mode(shared, hal_home, genome, tmp_path):
    variants = _variants(genome, shared)
    # a variant in the middle of BRCA1's long intron 2 -> no_donor; an intergenic one -> no_gene
    far = [(43110000, genome(43110000, 43110000), "A" if genome(43110000, 43110000) != "A" else "C"),
           (43040000, genome(43040000, 43040000), "A" if genome(43040000, 43040000) != "A" else "C")]
    vcf = tmp_path / "in.vcf"
    body = sorted(variants + far)
    vcf.write_text(HEADER + "".join(f"{CHROM}\t{p}\t.\t{r}\t{a}\t.\t.\t.\n" for p, r, a in body))
    out, tsv = tmp_path / "out.vcf", tmp_path / "out.tsv"
    code = run_main(["vcf", "-m", "hal", "-i", vcf, "-o", out, "--tsv", tsv, "-r",
                     shared / "data" / "grch38" / "chr17_brca1_region.fa.gz",
                     "-a", shared / "data" / "annotation" / "grch38_slices.gtf", "--hal-ref-psi", "0.6",
                     "--device", "cpu"])
    assert code == 0
    records = [l.split("\t") for l in out.read_text().splitlines() if not l.startswith("#")]
    assert [(int(f[1]), f[3], f[4]) for f in records] == body
    info = {(int(f[1]), f[3], f[4]): f[7] for f in records}
    assert "no_gene" in info[far[1]] and "no_donor" in info[far[0]]
    rows = _tsv(tsv)
    assert len(rows) >= len(variants) - 1, "too few HAL rows"
    pairs, keys = [], []
    for row in rows:
        p, r, a = int(row["pos"]), row["ref"], row["alt"]
        pairs.append(_expected_windows(genome, int(row["DONOR_POS"]), row["strand"], p, r, a))
        keys.append(row)
    expected = _seqs(tmp_path, pairs, [0.6] * len(pairs))
    donors_seen = set()
    for row, exp in zip(keys, expected):
        assert abs(float(row["DELTA"]) - float(exp["delta"])) <= TOL, row
        assert abs(float(row["DPSI"]) - float(exp["delta_psi_pred"])) <= TOL, row
        assert abs(float(row["SCORE_REF"]) - float(exp["score_ref"])) <= TOL, row
        entry = f"{row['alt']}|{row['DONOR_POS']}|{row['strand']}|{float(exp['delta']):.4f}"
        assert entry in info[(int(row["pos"]), row["ref"], row["alt"])]
        donors_seen.add((row["DONOR_POS"], row["strand"]))
    assert {s for _, s in donors_seen} == {"+", "-"}
    # the donor-base SNVs change the GT-adjacent base: a clear loss
    assert any(float(r["DELTA"]) < -1 for r in rows)
    # every scored variant in this list has at least one entry
    for p, r, a in variants:
        assert "HAL=" in info[(p, r, a)] or "donor_deleted" in info[(p, r, a)], (p, r, a)


def test_vcf_donor_deleted(shared, hal_home, genome, tmp_path):
    exons, _ = _gtf_exons(shared, "RND2")
    donor = sorted(e for _, e in exons)[:-1][1]
    ref = genome(donor - 1, donor)
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEADER + f"{CHROM}\t{donor - 1}\t.\t{ref}\t{ref[0]}\t.\t.\t.\n")
    out = tmp_path / "out.vcf"
    assert run_main(["vcf", "-m", "hal", "-i", vcf, "-o", out, "-r",
                     shared / "data" / "grch38" / "chr17_brca1_region.fa.gz",
                     "-a", shared / "data" / "annotation" / "grch38_slices.gtf", "--device", "cpu"]) == 0
    rec = next(l for l in out.read_text().splitlines() if not l.startswith("#"))
    assert f"HAL={ref[0]}|{donor}|+|." in rec
    assert re.search(rf"SPLICESCORE_SKIP=hal\|{ref[0]}\|donor_deleted", rec)
