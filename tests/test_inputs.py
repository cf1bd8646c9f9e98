"""Inputs users really have: BCF and plain-gzip VCF, CRLF, VCF 4.3/4.4, no ##contig, unsorted records,
hundreds of samples, gVCF/symbolic ALTs, IUPAC ALTs, REF == ALT, variants at contig ends, very long
INFO values; and broken ones (binary garbage, truncated or blank lines, a malformed annotation line,
corrupt weight and cache files, a missing output folder, a FASTA without index in a read-only folder,
``-a grch38`` without the gene tables): every record out in input order, every unscored ALT with a
reason, or one clean line naming the file (and line) with the documented exit code.

The SpliceAI network is the deterministic stand-in of tests/fault_runner.py (no ../shared needed).
"""

from __future__ import annotations

import gzip
import os
import random
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_main

sys.path.insert(0, str(REPO / "tests"))

HEADER = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
PRE = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=26000>\n##contig=<ID=chr2,length=14000>\n"


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    rng = random.Random(4)
    d = tmp_path_factory.mktemp("inputs")
    seqs = {"chr1": "".join(rng.choice("ACGT") for _ in range(26_000)),
            "chr2": "".join(rng.choice("ACGT") for _ in range(14_000))}
    with open(d / "ref.fa", "w") as fh:
        for name, s in seqs.items():
            fh.write(f">{name}\n" + "\n".join(s[i : i + 60] for i in range(0, len(s), 60)) + "\n")
    (d / "genes.txt").write_text(
        "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
        "GA\t1\t+\t100\t20000\t100,5000,15000,\t1000,6000,20000,\n"
        "GC\t2\t-\t0\t14000\t0,9000,\t3000,14000,\n"
    )
    return d, seqs


@pytest.fixture
def fake(monkeypatch):
    from fault_runner import SlowFakeSpliceAI

    import splicescore.cache
    from splicescore import weights

    net = SlowFakeSpliceAI()
    monkeypatch.setattr(weights, "load_network", lambda name, root=None: net)
    monkeypatch.setattr(weights, "is_installed", lambda name, root=None: True)
    monkeypatch.setattr(weights, "is_verified", lambda name, root=None: True)
    monkeypatch.setattr(splicescore.cache, "read_manifest", lambda name, root=None: {"tensors_sha256": "x"})
    return net


def rec(seqs, chrom, pos, alt=None, ref=None, info=".", rest=""):
    ref = ref or seqs[chrom][pos - 1]
    alt = alt or ("A" if ref[0] != "A" else "C")
    return f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\t.\t{info}{rest}\n"


def score(genome, vcf: Path, tmp_path: Path, *extra, name="out.vcf") -> tuple[int, list[list[str]], Path]:
    d, _ = genome
    out = tmp_path / name
    code = run_main(["vcf", "-i", vcf, "-r", d / "ref.fa", "-a", d / "genes.txt", "--device", "cpu", "-o", out,
                     *extra])
    return code, (_rows(out) if out.exists() else []), out


def _rows(path: Path) -> list[list[str]]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="") as fh:
        return [line.rstrip("\n").split("\t") for line in fh if not line.startswith("#")]


def _info(row) -> dict:
    return dict(kv.split("=", 1) for kv in row[7].split(";") if "=" in kv)


def _accounted(rows_in: list[str], rows_out, model_key="SpliceAI"):
    """Same records in the same order; every ALT scored or given a reason."""
    assert len(rows_out) == len(rows_in)
    reasons = {}
    for line, row in zip(rows_in, rows_out):
        f = line.rstrip("\r\n").split("\t")
        assert row[:5] == f[:5]
        info = _info(row)
        scored = {e.split("|")[0] for e in info.get(model_key, "").split(",") if e}
        skipped = {e.split("|")[1]: e.split("|")[2] for e in info.get("SPLICESCORE_SKIP", "").split(",") if e}
        for alt in f[4].split(","):
            if alt != ".":
                assert alt in scored or alt in skipped, (row, alt)
                reasons[(f[1], alt)] = skipped.get(alt, "scored")
    return reasons


@pytest.fixture
def base_rows(genome):
    _, seqs = genome
    return [rec(seqs, "chr1", p) for p in (7000, 7050, 8000, 12000)] + [rec(seqs, "chr2", 7000)]


def test_bcf_plain_gzip_crlf_and_43_44_headers_give_the_same_records(genome, fake, base_rows, tmp_path):
    text = PRE + HEADER + "".join(base_rows)
    (tmp_path / "in.vcf").write_text(text)
    code, ref_rows, ref_out = score(genome, tmp_path / "in.vcf", tmp_path, name="ref.vcf")
    assert code == 0
    _accounted(base_rows, ref_rows)
    (tmp_path / "plain.vcf.gz").write_bytes(gzip.compress(text.encode()))  # gzip, not bgzip
    (tmp_path / "crlf.vcf").write_bytes(text.replace("\n", "\r\n").encode())
    for version in ("4.3", "4.4"):
        (tmp_path / f"v{version}.vcf").write_text(text.replace("VCFv4.2", f"VCFv{version}"))
    import cyvcf2

    reader = cyvcf2.VCF(str(tmp_path / "in.vcf"))
    writer = cyvcf2.Writer(str(tmp_path / "in.bcf"), reader, mode="wb")
    for v in reader:
        writer.write_record(v)
    writer.close()
    for name in ("plain.vcf.gz", "crlf.vcf", "v4.3.vcf", "v4.4.vcf", "in.bcf"):
        code, rows, out = score(genome, tmp_path / name, tmp_path, name=name + ".out.vcf")
        assert code == 0, name
        assert [r[:5] for r in rows] == [r[:5] for r in ref_rows], name
        assert [_info(r) for r in rows] == [_info(r) for r in ref_rows], name
        if name in ("plain.vcf.gz", "crlf.vcf"):
            assert out.read_bytes() == ref_out.read_bytes(), name
    assert "##fileformat=VCFv4.4" in (tmp_path / "v4.4.vcf.out.vcf").read_text()


def test_no_contig_lines_and_unsorted_input(genome, fake, base_rows, tmp_path):
    (tmp_path / "sorted.vcf").write_text(PRE + HEADER + "".join(base_rows))
    shuffled = [base_rows[i] for i in (3, 0, 4, 2, 1)]
    (tmp_path / "unsorted.vcf").write_text("##fileformat=VCFv4.2\n" + HEADER + "".join(shuffled))
    _, ref_rows, _ = score(genome, tmp_path / "sorted.vcf", tmp_path, name="a.vcf")
    code, rows, _ = score(genome, tmp_path / "unsorted.vcf", tmp_path, "--chunk-size", "2", name="b.vcf")
    assert code == 0
    _accounted(shuffled, rows)  # written in input order
    by_key = {tuple(r[:5]): _info(r) for r in ref_rows}
    assert all(_info(r) == by_key[tuple(r[:5])] for r in rows)


def test_hundreds_of_samples_pass_through_byte_for_byte(genome, fake, tmp_path, monkeypatch):
    """FORMAT and sample columns (and QUAL, FILTER, other INFO values) exactly as they came in, from a
    file and from stdin; htslib alone would rewrite 0.10 as 0.1 and pad dropped trailing fields."""
    _, seqs = genome
    rng = random.Random(9)
    n = 300
    head = (PRE + '##INFO=<ID=AF,Number=A,Type=Float,Description="af">\n'
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">\n##FORMAT=<ID=AD,Number=R,Type=Integer,Description="a">\n'
            '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="d">\n##FORMAT=<ID=VAF,Number=A,Type=Float,Description="v">\n'
            + HEADER.rstrip("\n") + "\tFORMAT\t" + "\t".join(f"S{i}" for i in range(n)) + "\n")
    rows = []
    for pos in (7000, 7100, 13000):
        samples = [rng.choice(["./.", "0/1", f"0|1:{rng.randrange(30)},{rng.randrange(30)}:{rng.randrange(60)}:0.10",
                               f"1/1:3,4:7:{rng.choice(['0.333', '1e-05', '0.5'])}", ".:.:.:."]) for _ in range(n)]
        rows.append(rec(seqs, "chr1", pos).replace("\t.\t.\t.\n", "\t50.50\tPASS\tAF=0.10\t") + "GT:AD:DP:VAF\t"
                    + "\t".join(samples) + "\n")
    vcf = tmp_path / "samples.vcf"
    vcf.write_text(head + "".join(rows))
    code, out_rows, out = score(genome, vcf, tmp_path, name="samples.out.vcf.gz")
    assert code == 0
    _accounted(rows, out_rows)
    for line, row in zip(rows, out_rows):
        f = line.rstrip("\n").split("\t")
        assert row[:7] == f[:7] and row[8:] == f[8:]
        assert row[7].startswith("AF=0.10;")
    _stdin(monkeypatch, vcf.read_bytes())
    code, _, piped = score(genome, "-", tmp_path, name="piped.vcf.gz")
    assert code == 0 and piped.read_bytes() == out.read_bytes()  # stdin: the same bytes as the file
    import pysam

    pysam.tabix_compress(str(vcf), str(vcf) + ".gz", force=True)
    pysam.tabix_index(str(vcf) + ".gz", preset="vcf", force=True)
    code, region_rows, _ = score(genome, Path(str(vcf) + ".gz"), tmp_path, "--region", "chr1:7050-20000", name="r.vcf")
    assert code == 0 and region_rows == out_rows[1:]  # --region (tabix): the same lines


def test_symbolic_iupac_ref_equals_alt_and_long_info(genome, fake, tmp_path):
    _, seqs = genome
    s1 = seqs["chr1"]
    other = lambda p: "A" if s1[p - 1] != "A" else "C"  # noqa: E731
    rows = [
        rec(seqs, "chr1", 7000, alt=f"{other(7000)},<NON_REF>"),
        rec(seqs, "chr1", 7010, alt="<*>"),
        rec(seqs, "chr1", 7020, alt=f"<DEL>,{other(7020)},*"),
        rec(seqs, "chr1", 7030, alt=f"R,{other(7030)},N"),
        rec(seqs, "chr1", 7040, alt=s1[7039]),  # REF == ALT: SpliceAI scores it (all deltas 0)
        rec(seqs, "chr1", 7050, info="LONG=" + "ACGT" * 60_000),
    ]
    (tmp_path / "odd.vcf").write_text(PRE + '##INFO=<ID=LONG,Number=1,Type=String,Description="l">\n' + HEADER + "".join(rows))
    code, out, _ = score(genome, tmp_path / "odd.vcf", tmp_path)
    assert code == 0
    reasons = _accounted(rows, out)
    assert reasons[("7000", "<NON_REF>")] == "symbolic_alt" and reasons[("7000", other(7000))] == "scored"
    assert reasons[("7010", "<*>")] == "symbolic_alt"
    assert reasons[("7020", "<DEL>")] == "symbolic_alt" and reasons[("7020", "*")] == "spanning_deletion"
    assert reasons[("7020", other(7020))] == "scored"
    assert reasons[("7030", "R")] == reasons[("7030", "N")] == "non_acgt" and reasons[("7030", other(7030))] == "scored"
    assert reasons[("7040", s1[7039])] == "scored"
    assert out[5][7].startswith("LONG=" + "ACGT" * 60_000 + ";SpliceAI=")


def test_variants_at_pos_1_and_at_the_contig_end(genome, fake, tmp_path):
    _, seqs = genome
    rows = [rec(seqs, "chr2", 1), rec(seqs, "chr2", 14000), rec(seqs, "chr2", 13990, ref=seqs["chr2"][13989:])]
    (tmp_path / "ends.vcf").write_text(PRE + HEADER + "".join(rows))
    code, out, _ = score(genome, tmp_path / "ends.vcf", tmp_path)
    assert code == 0
    assert set(_accounted(rows, out).values()) == {"contig_end"}
    code, out, _ = score(genome, tmp_path / "ends.vcf", tmp_path, "--pad-ends", name="padded.vcf")
    assert code == 0 and set(_accounted(rows, out).values()) == {"scored"}


def _stdin(monkeypatch, data: bytes) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))


@pytest.mark.parametrize("case", ["binary", "truncated", "blank", "columns", "pos"])
@pytest.mark.parametrize("source", ["file", "stdin"])
def test_broken_records_are_one_line_naming_file_and_line(genome, fake, base_rows, tmp_path, capsys, monkeypatch,
                                                          case, source):
    good = PRE + HEADER + "".join(base_rows[:2])  # records on lines 5 and 6
    bad = {"binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\n", "truncated": b"chr1\t9000\t.\tA",
           "blank": b"\n", "columns": b"chr1\t9000\t.\tA\tC\n", "pos": b"chr1\t9x00\t.\tA\tC\t.\t.\t.\n"}[case]
    vcf = tmp_path / "bad.vcf"
    after = b"" if case == "truncated" else b"".join(r.encode() for r in base_rows[2:])
    vcf.write_bytes(good.encode() + bad + after)
    d, _ = genome
    if source == "stdin":
        _stdin(monkeypatch, vcf.read_bytes())
    code = run_main(["vcf", "-i", "-" if source == "stdin" else vcf, "-r", d / "ref.fa", "-a", d / "genes.txt",
                     "--device", "cpu", "-o", tmp_path / "o.vcf"])
    err = capsys.readouterr().err
    assert code == 3, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"splicescore: error: {'<stdin>' if source == 'stdin' else vcf}:7: "), err
    assert not (tmp_path / "o.vcf").exists()


def test_malformed_annotation_line_names_file_and_line(genome, fake, base_rows, tmp_path, capsys):
    d, _ = genome
    (tmp_path / "in.vcf").write_text(PRE + HEADER + "".join(base_rows))
    table = tmp_path / "genes.txt"
    table.write_text((d / "genes.txt").read_text().replace("\t20000\t", "\t2x000\t"))
    gtf = tmp_path / "genes.gtf"
    gtf.write_text('chr1\tx\tgene\t100\t20000\t.\t+\t.\tgene_id "G1"; gene_name "GA";\n'
                   'chr1\tx\ttranscript\t100\tEND\t.\t+\t.\tgene_id "G1"; transcript_id "T1";\n')
    for path, line in ((table, 2), (gtf, 2)):
        code = run_main(["vcf", "-i", tmp_path / "in.vcf", "-r", d / "ref.fa", "-a", path, "-o", tmp_path / "o.vcf"])
        err = capsys.readouterr().err
        assert code == 3 and f"{path}:{line}: " in err and "Traceback" not in err, err


def _fake_cache(home: Path, body: bytes, sha: str) -> None:
    import json

    (home / "spliceai").mkdir(parents=True)
    (home / "spliceai" / "model.safetensors").write_bytes(body)
    (home / "spliceai" / "manifest.json").write_text(json.dumps({"model": "spliceai", "tensors_sha256": sha}))


@pytest.mark.parametrize("damage", ["checksum", "unreadable"])
def test_corrupt_cached_weights_exit_4_with_the_fix(genome, base_rows, tmp_path, capsys, monkeypatch, damage):
    import hashlib

    d, _ = genome
    home = tmp_path / "home"
    body = b"\x00garbage, not safetensors" * 10
    _fake_cache(home, body, "0" * 64 if damage == "checksum" else hashlib.sha256(body).hexdigest())
    monkeypatch.setenv("SPLICESCORE_HOME", str(home))
    (tmp_path / "in.vcf").write_text(PRE + HEADER + "".join(base_rows))
    code = run_main(["vcf", "-i", tmp_path / "in.vcf", "-r", d / "ref.fa", "-a", d / "genes.txt", "-o", tmp_path / "o.vcf"])
    err = capsys.readouterr().err
    assert code == 4, err
    assert "run `splicescore weights fetch spliceai` again" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_grch38_without_the_gene_tables_says_how_to_get_them(genome, fake, base_rows, tmp_path, capsys, monkeypatch):
    from splicescore import weights

    d, _ = genome
    monkeypatch.setattr(weights, "extra_dir", lambda name, root=None: tmp_path / "no_tables")
    (tmp_path / "in.vcf").write_text(PRE + HEADER + "".join(base_rows))
    code = run_main(["vcf", "-i", tmp_path / "in.vcf", "-r", d / "ref.fa", "-a", "grch38", "-o", tmp_path / "o.vcf"])
    err = capsys.readouterr().err
    assert code == 4 and "without the package's gene tables" in err and "weights fetch spliceai" in err, err


@pytest.mark.parametrize("damage", ["random", "truncated"])
def test_corrupt_cache_file_is_a_clean_error(genome, fake, base_rows, tmp_path, capsys, damage):
    d, _ = genome
    (tmp_path / "in.vcf").write_text(PRE + HEADER + "".join(base_rows))
    db = tmp_path / "scores.sqlite"
    args = ["vcf", "-i", tmp_path / "in.vcf", "-r", d / "ref.fa", "-a", d / "genes.txt", "-o", tmp_path / "o.vcf"]
    if damage == "random":
        db.write_bytes(random.Random(3).randbytes(5000))
    else:
        assert run_main(args + ["--cache", db]) == 0
        db.write_bytes(db.read_bytes()[:3000])
    capsys.readouterr()
    code = run_main(args + ["--cache", db])
    err = capsys.readouterr().err
    assert code == 3 and str(db) in err and "Traceback" not in err, err


def test_missing_output_folder_is_exit_5(genome, fake, base_rows, tmp_path, capsys):
    d, _ = genome
    (tmp_path / "in.vcf").write_text(PRE + HEADER + "".join(base_rows))
    for opt in ("-o", "--tsv"):
        out = ["-o", tmp_path / "o.vcf"] if opt == "--tsv" else []
        code = run_main(["vcf", "-i", tmp_path / "in.vcf", "-r", d / "ref.fa", "-a", d / "genes.txt", *out,
                         opt, tmp_path / "no" / "such" / "x.vcf"])
        err = capsys.readouterr().err
        assert code == 5 and "does not exist" in err and str(tmp_path / "no" / "such") in err, err


def test_fasta_without_index_in_a_read_only_folder(genome, fake, base_rows, tmp_path, monkeypatch):
    """The index is built in a temporary folder (this test runs as any user: the folder is made
    read-only for the program by refusing write access to it)."""
    import splicescore.io.genome

    d, _ = genome
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "ref.fa").write_bytes((d / "ref.fa").read_bytes())
    real = os.access
    monkeypatch.setattr(splicescore.io.genome.os, "access",
                        lambda p, mode: False if str(p).startswith(str(ro)) and mode == os.W_OK else real(p, mode))
    (tmp_path / "in.vcf").write_text(PRE + HEADER + "".join(base_rows))
    code, rows, _ = score(genome, tmp_path / "in.vcf", tmp_path, "-r", ro / "ref.fa")
    assert code == 0 and len(rows) == len(base_rows)
    assert sorted(os.listdir(ro)) == ["ref.fa"]  # nothing written beside it


def _caplog_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_wrong_build_is_warned_once_and_in_the_summary(genome, fake, tmp_path, caplog):
    """A VCF whose REF alleles mostly differ from the FASTA (another build): one warning as soon as 20
    of the first 200 records checked mismatch, naming the fraction, the first record and the cause;
    the summary repeats it; a record in no gene with a wrong REF says ref_mismatch, not no_gene."""
    import logging

    _, seqs = genome
    rng = random.Random(5)
    rows = []
    for i, pos in enumerate(range(3000, 25000, 90)):
        real = seqs["chr1"][pos - 1]
        ref = real if i % 4 == 0 else rng.choice([b for b in "ACGT" if b != real])
        rows.append(rec(seqs, "chr1", pos, ref=ref, alt="A" if ref != "A" else "C"))
    (tmp_path / "hg19.vcf").write_text(PRE + HEADER + "".join(rows))
    caplog.set_level(logging.INFO, logger="splicescore")
    code, out, _ = score(genome, tmp_path / "hg19.vcf", tmp_path)
    assert code == 0
    reasons = _accounted(rows, out)
    warnings = [w for w in _caplog_warnings(caplog) if "different builds" in w]
    assert len(warnings) == 1, warnings
    assert "in 20 of the first" in warnings[0] and "first at record 2 (chr1:3090" in warnings[0]
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("splicescore: ")
               and "records," in r.getMessage()]
    assert summary and "REF differs from the FASTA in" in summary[-1] and "different builds" in summary[-1]
    for row, (key, reason) in zip(rows, reasons.items()):
        pos = int(row.split("\t")[1])
        wrong = row.split("\t")[3] != seqs["chr1"][pos - 1]
        assert (reason == "ref_mismatch") == wrong, (row, reason)  # also outside GA (pos > 20000): not no_gene


def test_small_wrong_build_and_contigs_nowhere(genome, fake, tmp_path, caplog):
    import logging

    d, seqs = genome
    caplog.set_level(logging.INFO, logger="splicescore")
    rows = [rec(seqs, "chr1", p, ref="G" if seqs["chr1"][p - 1] != "G" else "T") for p in (7000, 7100, 7200)]
    (tmp_path / "few.vcf").write_text(PRE + HEADER + "".join(rows) + rec(seqs, "chr1", 7300))
    assert score(genome, tmp_path / "few.vcf", tmp_path)[0] == 0
    assert any("in 3 of the first 4 records checked (75 %)" in w for w in _caplog_warnings(caplog))
    caplog.clear()
    # the header names contigs of the FASTA, but no record's contig is in it
    (tmp_path / "elsewhere.vcf").write_text(PRE + HEADER + "chrUn\t100\t.\tA\tC\t.\t.\t.\n")
    code, out, _ = score(genome, tmp_path / "elsewhere.vcf", tmp_path, name="e.vcf")
    assert code == 0 and "contig_not_in_fasta" in out[0][7]
    assert any("no record's contig (chrUn) is in the FASTA" in w for w in _caplog_warnings(caplog))
    caplog.clear()
    # every record on a contig the annotation does not have
    (tmp_path / "chr1only.txt").write_text((d / "genes.txt").read_text().split("GC\t")[0])
    (tmp_path / "chr2.vcf").write_text(PRE + HEADER + rec(seqs, "chr2", 7000))
    code = run_main(["vcf", "-i", tmp_path / "chr2.vcf", "-r", d / "ref.fa", "-a", tmp_path / "chr1only.txt",
                     "-o", tmp_path / "c.vcf"])
    assert code == 0
    assert any("no record's contig (chr2) is in the annotation" in w for w in _caplog_warnings(caplog))
