"""APARENT2 through the CLI: ``splicescore seqs --model aparent2`` on the golden MPRA table, PAS
window placement on hand-made sequences, the ``--pas`` parser, and ``splicescore vcf --model
aparent2`` on real GRCh38 sequence checked against the sequence-mode scores of the windows (and the
candidate choice) this test works out itself.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from splicescore import weights
from splicescore.core.encoding import reverse_complement
from splicescore.errors import InputError
from splicescore.models.aparent2.pas_sites import PasSites, parse_pas_lines
from splicescore.models.aparent2.scorer import (
    candidate_windows,
    candidates_from_sequence,
    candidates_from_sites,
)

from conftest import run_main

CUT_TOL = 1e-6
LOGODDS_TOL = 1e-5
SEQ_SUBSET = 48  # golden rows in the default suite (all 909 with -m slow)
CHROM = "chr17"
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr17,length=83257441>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
MOTIFS = ("AATAAA", "ATTAAA")


@pytest.fixture(scope="module")
def ap_home(shared, weights_home):
    weights.import_weights("aparent2", [shared / "weights" / "aparent2"], weights_home)
    return weights_home


def _tsv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _seqs(tmp_path, pairs, name="pairs"):
    src = tmp_path / f"{name}.tsv"
    with open(src, "w") as fh:
        fh.write("id\tref\talt\n")
        for i, (r, a) in enumerate(pairs):
            fh.write(f"{i}\t{r}\t{a}\n")
    out = tmp_path / f"{name}.out.tsv"
    assert run_main(["seqs", "-m", "aparent2", "-i", src, "-o", out, "--device", "cpu"]) == 0
    return _tsv(out)


# ----------------------------------------------------------------------------------------------
# sequence mode vs the golden table
# ----------------------------------------------------------------------------------------------
CUT_COLUMNS = ("ref_usage_0_205", "alt_usage_0_205", "ref_usage_narrow_77_127", "alt_usage_narrow_77_127",
               "ref_cut_205_nocleave", "alt_cut_205_nocleave", "ref_iso_out_80_110", "alt_iso_out_80_110")


def _golden(shared, tmp_path, n):
    dev = _tsv(shared / "golden" / "aparent2" / "dev.tsv")[:n]
    rows = _seqs(tmp_path, [(r["ref_seq_205"], r["alt_seq_205"]) for r in dev])
    assert [o["id"] for o in rows] == [str(i) for i in range(len(dev))]
    for g, o in zip(dev, rows):
        for col in CUT_COLUMNS:
            assert abs(float(o[col]) - float(g[col])) <= CUT_TOL, (g["row_index"], col)
        for col in ("delta_logodds", "delta_logodds_narrow"):
            assert abs(float(o[col]) - float(g[col])) <= LOGODDS_TOL, (g["row_index"], col)
    return dev, rows


def test_seqs_golden_subset(shared, ap_home, tmp_path):
    _golden(shared, tmp_path, SEQ_SUBSET)


def _ranks(x):
    order = np.argsort(x, kind="mergesort")
    xs, ranks, start = x[order], np.empty(len(x)), 0
    for end in range(1, len(x) + 1):
        if end == len(x) or xs[end] != xs[start]:
            ranks[order[start:end]] = (start + end - 1) / 2 + 1
            start = end
    return ranks


def _pearson(x, y):
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum()))


@pytest.mark.slow
def test_seqs_golden_all_rows_and_readme_correlations(shared, ap_home, tmp_path):
    dev, rows = _golden(shared, tmp_path, None)
    assert len(rows) == 909
    text = (shared / "golden" / "aparent2" / "README.md").read_text()
    cells = [c.strip() for c in next(l for l in text.splitlines() if l.startswith("| dev |")).strip("|").split("|")]
    measured = np.array([float(r["measured_delta_logodds_true"]) for r in dev])
    for col, cell in (("delta_logodds", cells[2]), ("delta_logodds_narrow", cells[3])):
        pearson, spearman = (float(v) for v in cell.split("/"))
        pred = np.array([float(r[col]) for r in rows])
        assert round(_pearson(pred, measured), 4) == pytest.approx(pearson, abs=1e-9), col
        assert round(_pearson(_ranks(pred), _ranks(measured)), 4) == pytest.approx(spearman, abs=1e-9), col


@pytest.mark.slow
def test_seqs_notebook_examples(shared, ap_home, tmp_path):
    ex = _tsv(shared / "golden" / "aparent2" / "notebook_examples.tsv")
    rows = _seqs(tmp_path, [(r["ref_seq"], r["alt_seq"]) for r in ex])
    for g, o in zip(ex, rows):
        for col in ("delta_logodds", "delta_logodds_narrow"):
            assert abs(float(o[col]) - float(g[col])) <= LOGODDS_TOL


def test_seqs_input_errors(tmp_path, ap_home):
    src = tmp_path / "bad.tsv"
    src.write_text("id\tref\talt\nx\t" + "A" * 205 + "\t" + "A" * 204 + "\n")
    assert run_main(["seqs", "-m", "aparent2", "-i", src, "-o", tmp_path / "o.tsv"]) == 3
    src.write_text("id\tref\talt\nx\t" + "A" * 205 + "\t" + "R" + "A" * 204 + "\n")
    assert run_main(["seqs", "-m", "aparent2", "-i", src, "-o", tmp_path / "o.tsv"]) == 3


# ----------------------------------------------------------------------------------------------
# window placement on hand-made sequences
# ----------------------------------------------------------------------------------------------
def _background(n, seed=1):
    """Random sequence without any AATAAA/ATTAAA on either strand."""
    rng = np.random.default_rng(seed)
    s = list(rng.choice(list("ACGT"), n))
    bad = set(MOTIFS) | {reverse_complement(m) for m in MOTIFS}
    i = 0
    while i + 6 <= n:
        if "".join(s[i : i + 6]) in bad:
            s[i + 2] = "G"
            i = max(i - 6, 0)
            continue
        i += 1
    return "".join(s)


START1 = 1001  # genomic position of seq[0]


def _site(seq, pos1, hexamer):
    i = pos1 - START1
    return seq[:i] + hexamer + seq[i + 6 :]


def test_pas_in_ref_plus_strand_snv_downstream():
    seq = _site(_background(1200), 1500, "AATAAA")
    p = 1500 + 30
    alt = "A" if seq[p - START1] != "A" else "C"
    (c,) = candidates_from_sequence(seq, START1, p, seq[p - START1], alt, ["+"])
    assert (c.strand, c.pas_pos1, c.source) == ("+", 1500, "ref")
    w_ref, w_alt = candidate_windows(seq, START1, c, p, seq[p - START1], alt)
    assert w_ref == seq[1500 - 70 - START1 : 1500 + 135 - START1] and w_ref[70:76] == "AATAAA"
    assert [i for i in range(205) if w_ref[i] != w_alt[i]] == [100] and w_alt[100] == alt


def test_pas_destroyed_and_window_edges():
    seq = _site(_background(1200), 1500, "AATAAA")
    (c,) = candidates_from_sequence(seq, START1, 1502, "T", "G", ["+"])
    w_ref, w_alt = candidate_windows(seq, START1, c, 1502, "T", "G")
    assert w_ref[70:76] == "AATAAA" and w_alt[70:76] == "AAGAAA" and c.source == "ref"
    base = lambda p: seq[p - START1]  # noqa: E731
    other = lambda p: "A" if base(p) != "A" else "C"  # noqa: E731
    # window = 1430..1634
    assert candidates_from_sequence(seq, START1, 1430, base(1430), other(1430), ["+"])
    assert not candidates_from_sequence(seq, START1, 1429, base(1429), other(1429), ["+"])
    assert candidates_from_sequence(seq, START1, 1634, base(1634), other(1634), ["+"])
    assert not candidates_from_sequence(seq, START1, 1635, base(1635), other(1635), ["+"])
    # the other strand does not see a + hexamer
    assert not candidates_from_sequence(seq, START1, 1502, "T", "G", ["-"])


def test_pas_created_by_alt():
    seq = _site(_background(1200), 1500, "AATCAA")
    (c,) = candidates_from_sequence(seq, START1, 1503, "C", "A", ["+", "-"])
    assert (c.strand, c.pas_pos1, c.source) == ("+", 1500, "alt")
    w_ref, w_alt = candidate_windows(seq, START1, c, 1503, "C", "A")
    assert w_ref[70:76] == "AATCAA" and w_alt[70:76] == "AATAAA"


def test_pas_minus_strand():
    seq = _site(_background(1200), 1500, reverse_complement("ATTAAA"))  # TTTAAT at 1500..1505
    (c,) = candidates_from_sequence(seq, START1, 1490, seq[1490 - START1], "A" if seq[489] != "A" else "C", ["-"])
    assert (c.strand, c.pas_pos1, c.ref_anchor1) == ("-", 1500, 1505)
    w_ref, w_alt = candidate_windows(seq, START1, c, 1490, seq[489], "A" if seq[489] != "A" else "C")
    assert w_ref == reverse_complement(seq[1505 - 134 - START1 : 1505 + 71 - START1]) and w_ref[70:76] == "ATTAAA"
    # genomic 1490 is 15 nt 3' of the anchor on the - strand
    assert [i for i in range(205) if w_ref[i] != w_alt[i]] == [85]
    assert not candidates_from_sequence(seq, START1, 1490, seq[489], "A" if seq[489] != "A" else "C", ["+"])


def test_indels_keep_the_pas_anchored():
    seq = _site(_background(1200), 1500, "AATAAA")
    i = 1500 - START1
    # deletion of 3 nt upstream (1480..1482 after the padding base 1479): upstream part shifts
    ref, alt = seq[1479 - START1 : 1483 - START1], seq[1479 - START1]
    (c,) = candidates_from_sequence(seq, START1, 1479, ref, alt, ["+"])
    w_ref, w_alt = candidate_windows(seq, START1, c, 1479, ref, alt)
    alt_seq = seq[: 1480 - START1] + seq[1483 - START1 :]
    j = i - 3
    assert w_alt == alt_seq[j - 70 : j + 135] and w_alt[70:76] == "AATAAA" and w_alt[76:] == w_ref[76:]
    # insertion of 4 nt downstream: downstream part shifts, upstream unchanged
    p = 1550
    (c,) = candidates_from_sequence(seq, START1, p, seq[p - START1], seq[p - START1] + "GGGG", ["+"])
    w_ref, w_alt = candidate_windows(seq, START1, c, p, seq[p - START1], seq[p - START1] + "GGGG")
    # genomic 1550 is window index 120: the 4 nt follow it
    assert w_alt[:121] == w_ref[:121] and w_alt[121:125] == "GGGG" and w_alt[125:] == w_ref[121:201]
    # minus strand: a genomic-left deletion is 3' of the PAS: the downstream part shifts
    seq = _site(_background(1200), 1500, "TTTATT")
    ref, alt = seq[1479 - START1 : 1483 - START1], seq[1479 - START1]
    (c,) = candidates_from_sequence(seq, START1, 1479, ref, alt, ["-"])
    w_ref, w_alt = candidate_windows(seq, START1, c, 1479, ref, alt)
    # window index of genomic g is 70 + (1505 - g): 1482..1480 are 93..95
    assert w_alt[:93] == w_ref[:93] and w_alt[70:76] == "AATAAA" and w_alt[93:202] == w_ref[96:]


def test_no_candidate_outside_every_window():
    seq = _site(_background(1200), 1500, "AATAAA")
    assert not candidates_from_sequence(seq, START1, 1800, seq[799], "A" if seq[799] != "A" else "C", ["+", "-"])


def test_candidates_from_sites():
    sites = [(1500, "+"), (2000, "-")]
    (c,) = candidates_from_sites(sites, 1520, "A", "C")
    assert (c.pas_pos1, c.strand, c.source) == (1500, "+", "file")
    (c,) = candidates_from_sites(sites, 2060, "A", "C")  # - window: anchor 2005, span 1871..2075
    assert c.strand == "-"
    assert not candidates_from_sites(sites, 2076, "A", "C")


# ----------------------------------------------------------------------------------------------
# --pas parser
# ----------------------------------------------------------------------------------------------
def test_parse_pas_bed_and_gtf():
    bed = ["track name=pas\n", "chr1\t99\t105\tp1\t0\t+\n", "chr1\t199\t205\tp2\t0\t-\n", "chr2\t9\t10\tp3\t.\t-\n"]
    assert parse_pas_lines(bed, "x.bed") == {"chr1": [(100, "+"), (200, "-")], "chr2": [(5, "-")]}
    gtf = ['chr1\tGENCODE\tpolyA_signal\t100\t105\t.\t+\t.\tgene_id "x";\n',
           'chr1\tGENCODE\tpolyA_site\t130\t130\t.\t+\t.\tgene_id "x";\n']
    assert parse_pas_lines(gtf, "x.gtf") == {"chr1": [(100, "+")]}
    sites = PasSites(parse_pas_lines(bed, "x.bed"))
    assert sites.between("1", 100, 200) == [(100, "+"), (200, "-")] and sites.between("chr1", 101, 199) == []


@pytest.mark.parametrize("lines, line", [
    (["chr1\t99\t105\tp\t0\t+\n", "chr1\t10\t16\tp\t0\t.\n"], 2),
    (["chr1\tx\t105\tp\t0\t+\n"], 1),
    (["chr1\t99\t105\n"], 1),
    (["# c\n", "chr1\t99\t90\tp\t0\t+\n"], 2),
])
def test_parse_pas_errors_name_file_and_line(lines, line):
    with pytest.raises(InputError, match=rf"^sites\.bed:{line}: "):
        parse_pas_lines(lines, "sites.bed")


# ----------------------------------------------------------------------------------------------
# end to end on real GRCh38 sequence
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def genome(shared):
    pysam = pytest.importorskip("pysam")
    fa = pysam.FastaFile(str(shared / "data" / "grch38" / "chr17_brca1_region.fa.gz"))
    yield lambda lo1, hi1: fa.fetch(CHROM, lo1 - 1, hi1).upper()
    fa.close()


def _motif_sites(text, start1, strand):
    targets = MOTIFS if strand == "+" else tuple(reverse_complement(m) for m in MOTIFS)
    return sorted({start1 + i for i in range(len(text) - 5) if text[i : i + 6] in targets})


def _window(genome_text, start1, pas_pos1, strand):
    if strand == "+":
        return genome_text[pas_pos1 - 70 - start1 : pas_pos1 + 135 - start1]
    anchor = pas_pos1 + 5
    return reverse_complement(genome_text[anchor - 134 - start1 : anchor + 71 - start1])


def _expected_snv(genome, pos, ref, alt, strand):
    """Every candidate of an SNV worked out from the FASTA: (pas_pos1, ref window, alt window)."""
    lo = pos - 600
    g = genome(lo, pos + 600)
    a = g[: pos - lo] + alt + g[pos - lo + 1 :]
    out = []
    for text in (g, a):
        for p in _motif_sites(text, lo, strand):
            anchor = p if strand == "+" else p + 5
            first, last = (anchor - 70, anchor + 134) if strand == "+" else (anchor - 134, anchor + 70)
            if first <= pos <= last and p not in [c[0] for c in out]:
                out.append((p, _window(g, lo, p, strand), _window(a, lo, p, strand)))
    return out


def _real_snvs(genome, shared):
    """SNVs near real AATAAA/ATTAAA of the 3' ends of RND2 (+) and BRCA1 (-): in the hexamer,
    upstream, downstream, and one creating a hexamer."""
    ends = {}
    for line in open(shared / "data" / "annotation" / "grch38_slices.gtf"):
        f = line.split("\t")
        if len(f) == 9 and f[2] == "transcript":
            for gene in ("RND2", "BRCA1"):
                if f'gene_name "{gene}"' in f[8]:
                    ends[gene] = (int(f[4]) if f[6] == "+" else int(f[3]), f[6])
    out = []
    for gene, (end, strand) in ends.items():
        # the last 1,500 nt of RND2 and the last 3,000 of BRCA1 (its PAS lies ~1,450 nt from the end)
        span = 1500 if strand == "+" else 3000
        lo = end - span if strand == "+" else end
        g = genome(lo, lo + span)
        sites = [p for p in _motif_sites(g, lo, strand) if 300 < p - lo < span - 300]
        assert sites, gene
        p = sites[0]
        for off in (2, -40, 60):
            pos = p + off
            b = genome(pos, pos)
            out.append((pos, b, "G" if b != "G" else "C", strand))
        # a hexamer one substitution away from AATAAA -> created by the ALT
        target = "AATAAA" if strand == "+" else "TTTATT"
        for i in range(300, span - 300):
            diff = [k for k in range(6) if g[i + k] != target[k]]
            if len(diff) == 1 and not _motif_sites(g[i - 5 : i + 11], 0, strand):
                pos = lo + i + diff[0]
                out.append((pos, g[i + diff[0]], target[diff[0]], strand))
                break
    return out


def _run_vcf(shared, tmp_path, variants, extra=()):
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEADER + "".join(f"{CHROM}\t{p}\t.\t{r}\t{a}\t.\t.\t.\n" for p, r, a in variants))
    out, tsv = tmp_path / "out.vcf", tmp_path / "out.tsv"
    code = run_main(["vcf", "-m", "aparent2", "-i", vcf, "-o", out, "--tsv", tsv, "-r",
                     shared / "data" / "grch38" / "chr17_brca1_region.fa.gz",
                     "-a", shared / "data" / "annotation" / "grch38_slices.gtf", "--device", "cpu", *extra])
    assert code == 0
    records = [l.split("\t") for l in out.read_text().splitlines() if not l.startswith("#")]
    assert [(int(f[1]), f[3], f[4]) for f in records] == list(variants)
    return {(int(f[1]), f[3], f[4]): f[7] for f in records}, _tsv(tsv)


def test_vcf_real_pas_match_sequence_mode(shared, ap_home, genome, tmp_path):
    snvs = sorted(_real_snvs(genome, shared))
    assert len(snvs) == 8
    info, rows = _run_vcf(shared, tmp_path, [(p, r, a) for p, r, a, _ in snvs])
    by_variant = {(int(r["pos"]), r["ref"], r["alt"]): r for r in rows}
    # every candidate of every SNV, scored in sequence mode
    cands = {v[:3]: _expected_snv(genome, *v) for v in snvs}
    pairs = [(w_r, w_a) for v in snvs for _, w_r, w_a in cands[v[:3]]]
    scores = iter(_seqs(tmp_path, pairs, "expected"))
    created = 0
    for pos, ref, alt, strand in snvs:
        expected = [(p, next(scores)) for p, _, _ in cands[(pos, ref, alt)]]
        assert expected, (pos, ref, alt)
        best_p, best = max(expected, key=lambda e: abs(float(e[1]["delta_logodds"])))
        row = by_variant[(pos, ref, alt)]
        assert (int(row["PAS_POS"]), row["strand"]) == (best_p, strand)
        assert int(row["CANDIDATES"]) == len(expected)
        assert abs(float(row["DLO"]) - float(best["delta_logodds"])) <= LOGODDS_TOL
        assert abs(float(row["DLO_NARROW"]) - float(best["delta_logodds_narrow"])) <= LOGODDS_TOL
        assert f"APARENT2={alt}|{best_p}|{strand}|" in info[(pos, ref, alt)]
        created += row["PAS_SOURCE"] == "alt"
    assert created >= 1


def test_vcf_pas_file_and_no_pas(shared, ap_home, genome, tmp_path):
    snvs = sorted(_real_snvs(genome, shared))[:3]
    pos, ref, alt, strand = snvs[0]
    cand = _expected_snv(genome, pos, ref, alt, strand)
    p, w_r, w_a = cand[-1]
    bed = tmp_path / "pas.bed"
    bed.write_text(f"chr17\t{p - 1}\t{p + 5}\tpas\t0\t{strand}\n")
    far = 43110000
    b = genome(far, far)
    variants = [(pos, ref, alt), (far, b, "A" if b != "A" else "C")]
    info, rows = _run_vcf(shared, tmp_path, variants, ["--pas", bed])
    (expected,) = _seqs(tmp_path, [(w_r, w_a)], "file")
    assert len(rows) == 1 and int(rows[0]["PAS_POS"]) == p and rows[0]["PAS_SOURCE"] == "file"
    assert abs(float(rows[0]["DLO"]) - float(expected["delta_logodds"])) <= LOGODDS_TOL
    assert "aparent2|" in info[variants[1]] and "no_pas" in info[variants[1]]
    bad = tmp_path / "bad.bed"
    bad.write_text("chr17\t10\t16\tpas\t0\t?\n")
    vcf = tmp_path / "in.vcf"
    code = run_main(["vcf", "-m", "aparent2", "-i", vcf, "-o", tmp_path / "o.vcf", "-r",
                     shared / "data" / "grch38" / "chr17_brca1_region.fa.gz", "--pas", bad])
    assert code == 3
