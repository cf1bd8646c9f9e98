"""Nothing lost, nothing silent: every record out in order, every unscored ALT with a reason, every bad
input a clear error with a documented exit code.

Pipeline plumbing is exercised with a stand-in network (``FakeSpliceAI``: same interface and context as
SpliceAI-10k, trivial arithmetic) so that many random VCFs run in seconds; the real network is tested
against the official outputs in ``test_spliceai_*``.
"""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import splicescore.pipeline
from splicescore import weights
from splicescore.pipeline import RunConfig, run_vcf

from conftest import REPO, run_main

HEADER = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


class FakeSpliceAI(torch.nn.Module):
    """Stand-in with SpliceAI's interface: ``(B, 4, L) -> (B, 3, L - 10000)`` probabilities."""

    context = 10_000

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.windows = 0

    def forward(self, x):
        self.calls += 1
        self.windows += x.shape[0]
        core = x[..., 5000 : x.shape[-1] - 5000]
        logits = torch.stack([core[:, 0] + core[:, 3], 2 * core[:, 1], 2 * core[:, 2]], 1)
        return torch.softmax(logits, 1)


@pytest.fixture
def fake_net(monkeypatch, random_home):
    """The stand-in for SpliceAI, over a weight cache of random-weight networks (no ../shared)."""
    net = FakeSpliceAI()
    monkeypatch.setattr(weights, "load_network", lambda name, root=None: net)
    return net


# -- a small random genome with a gene table -------------------------------------------------------

CONTIGS = {"chr1": 26_000, "chr2": 14_000}


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    rng = random.Random(7)
    d = tmp_path_factory.mktemp("genome")
    seqs = {}
    with open(d / "ref.fa", "w") as fh:
        for name, n in CONTIGS.items():
            s = list(rng.choice("ACGT") for _ in range(n))
            for i in range(0, n, 997):  # soft-masked stretches and ambiguity codes
                s[i : i + 40] = [c.lower() for c in s[i : i + 40]]
            s[5000] = "R"
            s[5001] = "N"
            seqs[name] = "".join(s)
            fh.write(f">{name}\n")
            for i in range(0, n, 60):
                fh.write(seqs[name][i : i + 60] + "\n")
    table = d / "genes.txt"
    table.write_text(
        "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
        "GA\t1\t+\t100\t20000\t100,5000,15000,\t1000,6000,20000,\n"
        "GB\t1\t-\t12000\t25990\t12000,22000,\t13000,25990,\n"
        "GC\t2\t+\t0\t14000\t0,9000,\t3000,14000,\n"
    )
    return d / "ref.fa", table, seqs


def write_vcf(path: Path, rows: list[tuple]) -> Path:
    lines = ["##fileformat=VCFv4.2\n", "##contig=<ID=chr1>\n", "##contig=<ID=chr2>\n", HEADER]
    for chrom, pos, ref, alts in rows:
        lines.append(f"{chrom}\t{pos}\t.\t{ref}\t{','.join(alts) if alts else '.'}\t.\t.\t.\n")
    path.write_text("".join(lines))
    return path


def parse_out(path: Path) -> list[dict]:
    opener = gzip.open if str(path).endswith(".gz") else open
    out = []
    with opener(path, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            info = dict(kv.split("=", 1) for kv in f[7].split(";") if "=" in kv)
            out.append({"key": (f[0], int(f[1]), f[3], f[4]), "info": info})
    return out


def check_accounted(rows_in, out):
    """count in == count out, order kept, every ALT scored or given a reason."""
    assert len(out) == len(rows_in)
    for (chrom, pos, ref, alts), rec in zip(rows_in, out):
        assert rec["key"] == (chrom, pos, ref, ",".join(alts) if alts else ".")
        scored = {e.split("|")[0] for e in rec["info"].get("SpliceAI", "").split(",") if e}
        skipped = {e.split("|")[1]: e.split("|")[2] for e in rec["info"].get("SPLICESCORE_SKIP", "").split(",") if e}
        for alt in alts:
            assert alt in scored or alt in skipped, (rec, alt)


ALLELES = st.sampled_from(["A", "C", "G", "T", "AT", "GCA", "TTTTG", "N", "<DEL>", "*", "G]chr2:500]", "ACGTN"])


@st.composite
def vcf_rows(draw, seqs):
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        chrom = draw(st.sampled_from(["chr1", "chr2", "1", "chrUn"]))
        name = {"1": "chr1"}.get(chrom, chrom)
        n = CONTIGS.get(name, 1000)
        pos = draw(st.one_of(st.integers(1, n), st.integers(1, 60), st.integers(n - 60, n)))
        length = draw(st.integers(1, 4))
        if name in seqs and draw(st.booleans()):
            ref = seqs[name][pos - 1 : pos - 1 + length].upper() or "A"
        else:
            ref = "".join(draw(st.lists(st.sampled_from("ACGT"), min_size=length, max_size=length)))
        alts = draw(st.lists(ALLELES, min_size=0, max_size=3, unique=True))
        alts = [a for a in alts if a != ref]
        rows.append((chrom, pos, ref, alts))
    return rows


class FakePangolin(torch.nn.Module):
    """Stand-in with PangolinEnsemble's interface: ``(B, 4, L) -> (B, 3, 4, L - 10000)``."""

    context = 10_000

    def forward(self, x):
        core = x[..., 5000 : x.shape[-1] - 5000]
        p = torch.sigmoid(core[:, 1] - core[:, 2])  # (B, n)
        return p[:, None, None, :].expand(-1, 3, 4, -1).contiguous()


class FakeSpTransformer(torch.nn.Module):
    """Stand-in with SpTransformerNet's interface: ``(B, 4, L) -> (B, 18, L - 8000)``."""

    context = 8_000

    def forward(self, x):
        core = x[..., 4000 : x.shape[-1] - 4000]
        splice = torch.softmax(torch.stack([core[:, 0], core[:, 1], core[:, 2]], 1), 1)
        tissues = torch.sigmoid(core[:, 3:4].expand(-1, 15, -1))
        return torch.cat([splice, tissues], 1)


@pytest.fixture
def all_models(monkeypatch, random_home):
    """Every model: stand-ins for the three long-window networks, random-weight APARENT2 and HAL
    networks (the accounting of records and ALTs does not depend on the weights)."""
    real = weights.load_network
    fakes = {"spliceai": FakeSpliceAI(), "pangolin": FakePangolin(), "sptransformer": FakeSpTransformer()}
    installed = weights.is_installed  # the stand-ins count as installed
    monkeypatch.setattr(weights, "is_installed", lambda n, root=None: n in fakes or installed(n, root))
    monkeypatch.setattr(weights, "load_network", lambda name, root=None: fakes.get(name) or real(name, root))
    return ",".join(["spliceai", "pangolin", "sptransformer", "aparent2", "hal"])


def check_accounted_models(rows_in, out, models):
    """Per model: every ALT has an entry in the model's INFO key or a skip reason for that model."""
    keys = {"spliceai": "SpliceAI", "pangolin": "Pangolin", "sptransformer": "SpTransformer",
            "aparent2": "APARENT2", "hal": "HAL"}
    assert len(out) == len(rows_in)
    for (chrom, pos, ref, alts), rec in zip(rows_in, out):
        assert rec["key"] == (chrom, pos, ref, ",".join(alts) if alts else ".")
        skips = [e.split("|") for e in rec["info"].get("SPLICESCORE_SKIP", "").split(",") if e]
        for model in models:
            scored = {e.split("|")[0] for e in rec["info"].get(keys[model], "").split(",") if e}
            skipped = {alt for m, alt, _ in skips if m == model}
            for alt in alts:
                assert alt in scored or alt in skipped, (model, rec, alt)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_vcfs_every_record_accounted_for(data, genome, fake_net, tmp_path_factory):
    fasta, table, seqs = genome
    rows = data.draw(vcf_rows(seqs))
    d = tmp_path_factory.mktemp("prop")
    vcf = write_vcf(d / "in.vcf", rows)
    stats = run_vcf(RunConfig(input=str(vcf), output=str(d / "out.vcf.gz"), reference=str(fasta),
                              annotation=str(table), batch_size=data.draw(st.sampled_from([1, 3, 64])), device="cpu"))
    out = parse_out(d / "out.vcf.gz")
    check_accounted(rows, out)
    assert stats.records == len(rows)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_vcfs_all_models(data, genome, all_models, tmp_path_factory):
    """The same property with all five models in one run."""
    fasta, table, seqs = genome
    rows = data.draw(vcf_rows(seqs))
    d = tmp_path_factory.mktemp("prop_all")
    vcf = write_vcf(d / "in.vcf", rows)
    stats = run_vcf(RunConfig(input=str(vcf), output=str(d / "out.vcf"), reference=str(fasta), annotation=str(table),
                              models=tuple(all_models.split(",")), device="cpu",
                              chunk_size=data.draw(st.sampled_from([1, 5, 128]))))
    check_accounted_models(rows, parse_out(d / "out.vcf"), all_models.split(","))
    assert stats.records == len(rows)


def test_reasons_for_each_case(genome, fake_net, tmp_path):
    fasta, table, seqs = genome
    s1 = seqs["chr1"]
    rows = [
        ("chr1", 8000, s1[7999].upper(), ["A" if s1[7999].upper() != "A" else "C"]),  # scored
        ("chr1", 8001, "ACGTACGTAC"[: 1] if s1[8000].upper() != "A" else "C", ["G"]),  # ref mismatch
        ("chr1", 30, s1[29].upper(), ["G" if s1[29].upper() != "G" else "T"]),  # no gene (before GA)
        ("chr1", 150, s1[149].upper(), ["<DEL>", "*", "G]chr2:500]", "N"]),  # symbolic, *, breakend, non-ACGT
        ("chr1", 9000, s1[8999:9000 + 120].upper(), ["A"]),  # REF longer than 2*D
        ("chr2", 13_990, seqs["chr2"][13_989].upper(), ["A" if seqs["chr2"][13_989].upper() != "A" else "C"]),  # contig end
        ("chrUn", 100, "A", ["G"]),  # contig not in FASTA
        ("chr1", 8100, s1[8099].upper(), []),  # ALT '.'
    ]
    vcf = write_vcf(tmp_path / "in.vcf", rows)
    run_vcf(RunConfig(input=str(vcf), output=str(tmp_path / "out.vcf"), reference=str(fasta),
                      annotation=str(table), device="cpu"))
    out = parse_out(tmp_path / "out.vcf")
    check_accounted(rows, out)
    skip = [r["info"].get("SPLICESCORE_SKIP", "") for r in out]
    assert "SpliceAI" in out[0]["info"] and skip[0] == ""
    assert skip[1].endswith("|ref_mismatch")
    assert skip[2].endswith("|no_gene")
    assert skip[3] == ("spliceai|<DEL>|symbolic_alt,spliceai|*|spanning_deletion,"
                       "spliceai|G]chr2:500]|symbolic_alt,spliceai|N|non_acgt")
    assert skip[4].endswith("|ref_too_long")
    assert skip[5].endswith("|contig_end")
    assert skip[6].endswith("|no_gene") or skip[6].endswith("|contig_not_in_fasta")
    assert skip[7] == "" and "SpliceAI" not in out[7]["info"]


def test_pad_ends_scores_near_contig_end(genome, fake_net, tmp_path):
    fasta, table, seqs = genome
    ref = seqs["chr2"][13_989].upper()
    rows = [("chr2", 13_990, ref, ["A" if ref != "A" else "C"])]
    vcf = write_vcf(tmp_path / "in.vcf", rows)
    run_vcf(RunConfig(input=str(vcf), output=str(tmp_path / "out.vcf"), reference=str(fasta),
                      annotation=str(table), device="cpu", pad_ends=True))
    (rec,) = parse_out(tmp_path / "out.vcf")
    assert rec["info"]["SpliceAI"].startswith(rows[0][3][0] + "|GC|")


def test_soft_masked_and_iupac_reference(genome, fake_net, tmp_path):
    """Lowercase reference scores like uppercase; an ambiguity code inside the window acts like N."""
    fasta, table, seqs = genome
    upper = tmp_path / "upper.fa"
    upper.write_text("".join(l if l.startswith(">") else l.upper().replace("R", "N")
                             for l in Path(fasta).read_text().splitlines(keepends=True)))
    pos = 5100  # window contains the R at 5001 (1-based) and soft-masked stretches
    ref = seqs["chr1"][pos - 1].upper()
    rows = [("chr1", pos, ref, ["A" if ref != "A" else "C"])]
    vcf = write_vcf(tmp_path / "in.vcf", rows)
    outs = []
    for fa in (fasta, upper):
        o = tmp_path / f"out_{Path(fa).stem}.vcf"
        run_vcf(RunConfig(input=str(vcf), output=str(o), reference=str(fa), annotation=str(table), device="cpu"))
        outs.append(parse_out(o)[0]["info"]["SpliceAI"])
    assert outs[0] == outs[1]


# -- interruption, resume ----------------------------------------------------------------------------

def test_interrupted_run_leaves_partial_and_resume_completes(genome, fake_net, tmp_path, monkeypatch):
    fasta, table, seqs = genome
    s1 = seqs["chr1"]
    rows = [("chr1", p, s1[p - 1].upper(), ["A" if s1[p - 1].upper() != "A" else "G"]) for p in range(8000, 8200, 2)]
    vcf = write_vcf(tmp_path / "in.vcf", rows)
    args = ["vcf", "-i", vcf, "-r", fasta, "-a", table, "--device", "cpu", "--batch-size", "8", "--chunk-size", "32"]
    full = tmp_path / "full.vcf.gz"
    assert run_main(args + ["-o", full, "--tsv", tmp_path / "full.tsv"]) == 0

    real = splicescore.pipeline._finish
    calls = {"n": 0}

    def interrupt_after_two(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(splicescore.pipeline, "_finish", interrupt_after_two)
    out = tmp_path / "out.vcf.gz"
    assert run_main(args + ["-o", out, "--tsv", tmp_path / "out.tsv"]) == 130
    assert not out.exists() and Path(str(out) + ".partial").exists()
    assert not (tmp_path / "out.tsv").exists()

    monkeypatch.setattr(splicescore.pipeline, "_finish", real)
    before = fake_net.windows
    assert run_main(args + ["-o", out, "--tsv", tmp_path / "out.tsv", "--resume"]) == 0
    assert not Path(str(out) + ".partial").exists()
    assert gzip.open(out).read() == gzip.open(full).read()
    assert (tmp_path / "out.tsv").read_text() == (tmp_path / "full.tsv").read_text()
    # the 64 records already written (2 chunks of 32) were not scored again: one ALT window per
    # remaining record plus a few shared reference tracks
    assert len(rows) - 64 <= fake_net.windows - before <= len(rows) - 64 + 4


def test_resume_refuses_other_input(genome, fake_net, tmp_path, monkeypatch):
    fasta, table, seqs = genome
    s1 = seqs["chr1"]
    rows = [("chr1", p, s1[p - 1].upper(), ["A" if s1[p - 1].upper() != "A" else "G"]) for p in range(8000, 8100)]
    vcf = write_vcf(tmp_path / "in.vcf", rows)
    other = write_vcf(tmp_path / "other.vcf", rows[1:])
    out = tmp_path / "out.vcf"
    real = splicescore.pipeline._finish
    state = {"n": 0}

    def interrupt(*a, **k):
        state["n"] += 1
        if state["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(splicescore.pipeline, "_finish", interrupt)
    base = ["vcf", "-r", fasta, "-a", table, "--device", "cpu", "-o", out, "--chunk-size", "32"]
    assert run_main(base + ["-i", vcf]) == 130
    monkeypatch.setattr(splicescore.pipeline, "_finish", real)
    partial = Path(str(out) + ".partial")
    before = partial.read_bytes()
    assert run_main(base + ["-i", other, "--resume"]) == 2
    assert not out.exists()
    # regression: the refused resume used to delete the partial output it did not match
    assert partial.read_bytes() == before
    assert run_main(base + ["-i", vcf, "--resume"]) == 0 and out.exists()


# -- bad input files: one line, documented exit code, no traceback ----------------------------------

def _run_capture(capsys, args):
    code = run_main(args)
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("case", ["no_header", "bad_pos", "missing_columns", "truncated_gzip", "missing_file"])
def test_malformed_vcf(genome, fake_net, tmp_path, capsys, case):
    fasta, table, seqs = genome
    good = "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n" + HEADER + f"chr1\t8000\t.\t{seqs['chr1'][7999].upper()}\tA\t.\t.\t.\n"
    path = tmp_path / "in.vcf"
    if case == "no_header":
        path.write_text("chr1\t8000\t.\tA\tG\t.\t.\t.\n")
    elif case == "bad_pos":
        path.write_text(good + "chr1\tabc\t.\tA\tG\t.\t.\t.\n")
    elif case == "missing_columns":
        path.write_text(good + "chr1\t8001\n")
    elif case == "truncated_gzip":
        path = tmp_path / "in.vcf.gz"
        data = gzip.compress((good * 1).encode() + "".join(
            f"chr1\t{p}\t.\tA\tG\t.\t.\t.\n" for p in range(8001, 12000)).encode())
        path.write_bytes(data[: len(data) // 2])
    else:
        path = tmp_path / "nope.vcf"
    out = tmp_path / "out.vcf"
    code, err = _run_capture(capsys, ["vcf", "-i", path, "-o", out, "-r", fasta, "-a", table, "--device", "cpu"])
    assert code == 3, err
    msg = [l for l in err.splitlines() if l.startswith("splicescore: error:")]
    assert len(msg) == 1 and str(path) in msg[0], err
    assert "Traceback" not in err
    assert not out.exists()
    if case == "bad_pos":
        assert f"{path}:5:" in msg[0]  # header 3 lines, good record, bad record


def test_fasta_errors(genome, fake_net, tmp_path, capsys):
    fasta, table, seqs = genome
    vcf = write_vcf(tmp_path / "in.vcf", [("chr1", 8000, seqs["chr1"][7999].upper(), ["A"])])
    base = ["vcf", "-i", vcf, "-o", tmp_path / "o.vcf", "-a", table, "--device", "cpu"]
    code, err = _run_capture(capsys, base + ["-r", tmp_path / "missing.fa"])
    assert code == 3 and "missing.fa" in err and "Traceback" not in err
    gz = tmp_path / "plain_gzip.fa.gz"
    gz.write_bytes(gzip.compress(Path(fasta).read_bytes()))
    code, err = _run_capture(capsys, base + ["-r", gz])
    assert code == 3 and "bgzip" in err and "Traceback" not in err
    # an index that does not belong to the FASTA
    bad = tmp_path / "bad.fa"
    bad.write_text(Path(fasta).read_text())
    (tmp_path / "bad.fa.fai").write_text("chr1\t99999\t6\t60\t61\nchr2\t14000\t26450\t60\t61\n")
    code, err = _run_capture(capsys, base + ["-r", bad])
    assert code == 3 and "bad.fa" in err and "Traceback" not in err


def test_no_common_contig_stops_before_scoring(genome, fake_net, tmp_path, capsys):
    fasta, table, _ = genome
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chrX>\n" + HEADER + "chrX\t100\t.\tA\tG\t.\t.\t.\n")
    code, err = _run_capture(capsys, ["vcf", "-i", vcf, "-o", tmp_path / "o.vcf", "-r", fasta, "-a", table])
    assert code == 3 and "none of the VCF's contigs" in err
    assert fake_net.calls == 0 and not (tmp_path / "o.vcf").exists()


def test_unreadable_annotation_and_unwritable_output(genome, fake_net, tmp_path, capsys):
    fasta, table, seqs = genome
    vcf = write_vcf(tmp_path / "in.vcf", [("chr1", 8000, seqs["chr1"][7999].upper(), ["A"])])
    bad = tmp_path / "bad.gtf"
    bad.write_text("chr1\tx\texon\n")
    code, err = _run_capture(capsys, ["vcf", "-i", vcf, "-o", tmp_path / "o.vcf", "-r", fasta, "-a", bad])
    assert code == 3 and "bad.gtf:1:" in err
    code, err = _run_capture(capsys, ["vcf", "-i", vcf, "-o", tmp_path / "no/such/dir/o.vcf", "-r", fasta, "-a", table])
    assert code == 5 and "o.vcf" in err and "Traceback" not in err


def test_debug_shows_traceback(genome, fake_net, tmp_path, capsys):
    fasta, table, _ = genome
    code, err = _run_capture(capsys, ["--debug", "vcf", "-i", tmp_path / "none.vcf", "-o", tmp_path / "o.vcf",
                                      "-r", fasta, "-a", table])
    assert code == 3 and "Traceback" in err


# -- batching invariance and GPU out-of-memory ---------------------------------------------------------

def test_oom_halves_batch_and_retries():
    """GPU path: an out-of-memory error halves the batch and retries; the results are unchanged."""
    from splicescore.nn.predict import _predict_batched

    class OomAboveTwo(FakeSpliceAI):
        def forward(self, x):
            if x.shape[0] > 2:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
            return super().forward(x)

    rng = np.random.default_rng(3)
    windows = [np.eye(4, dtype=np.float32)[rng.integers(0, 4, n)] for n in [10_101] * 9 + [10_120] * 3]
    cpu = torch.device("cpu")
    plain = _predict_batched(FakeSpliceAI(), windows, 16, cpu, None)
    oom = OomAboveTwo()
    halved = _predict_batched(oom, windows, 16, cpu, None)
    assert oom.calls > 2 and all(np.array_equal(a, b) for a, b in zip(plain, halved))
    assert [y.shape[-1] for y in halved] == [101] * 9 + [120] * 3


def _cli(args, **kw):
    return subprocess.run([sys.executable, "-m", "splicescore", *map(str, args)], capture_output=True, **kw)


def test_stdin_file_and_threads_give_identical_bytes(spliceai_home, tmp_path):
    """Real network: a few golden records (without ../shared: bundled example records on the bundled
    GRCh38 slice) through stdin and file, 1 and 2 threads."""
    from conftest import BUNDLED_FASTA, shared_dir

    shared = shared_dir()
    if shared is not None:
        src = (shared / "golden/spliceai/dev_supp.input.vcf").read_text().splitlines(keepends=True)
        ids = {"supp03", "supp14", "supp35"}
        fa = shared / "data/grch38/chr17_brca1_region.fa.gz"
    else:
        src = (REPO / "examples" / "brca1_clinvar.vcf").read_text().splitlines(keepends=True)
        ids = {"182075", "371817", "462649"}
        fa = BUNDLED_FASTA
    keep = [l for l in src if l.startswith("#") or l.split("\t")[2] in ids]
    vcf = tmp_path / "in.vcf"
    vcf.write_text("".join(keep))
    env = {**os.environ, "SPLICESCORE_HOME": str(spliceai_home)}
    a = _cli(["-q", "vcf", "-i", vcf, "-o", "-", "-r", fa, "--threads", "1"], env=env)
    b = _cli(["-q", "vcf", "-i", "-", "-o", "-", "-r", fa, "--threads", "2"], env=env, input=vcf.read_bytes())
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert a.stdout == b.stdout and a.stdout.count(b"SpliceAI=") == 3


def test_closed_stdout_pipe_ends_quietly(genome, spliceai_home, tmp_path):
    """`splicescore vcf ... -o - | head -1`: no traceback, no error message."""
    fasta, table, _ = genome
    rows = [("chrUn", p, "A", ["G"]) for p in range(1, 400_000, 2)]  # no gene there: quick skips
    vcf = write_vcf(tmp_path / "in.vcf", rows)
    env = {**os.environ, "SPLICESCORE_HOME": str(spliceai_home)}
    cmd = f"{sys.executable} -m splicescore vcf -i {vcf} -o - -r {fasta} -a {table} --device cpu | head -1"
    proc = subprocess.run(["bash", "-c", "set -o pipefail; " + cmd], capture_output=True, env=env, cwd=REPO)
    assert proc.returncode == 0
    assert proc.stdout.startswith(b"##fileformat")
    assert b"Traceback" not in proc.stderr and b"error" not in proc.stderr.lower(), proc.stderr[-2000:]
    # it stopped when the reader went away instead of processing all 200,000 records
    assert b"200000 records" not in proc.stderr


# -- output formats, index building --------------------------------------------------------------------

@pytest.mark.parametrize("name, otype, magic", [("out.vcf.gz", None, b"\x1f\x8b"), ("out.bcf", None, b"\x1f\x8b"),
                                                ("out.txt", "z", b"\x1f\x8b"), ("out.vcf", None, b"##")])
def test_output_types(genome, fake_net, tmp_path, name, otype, magic):
    import cyvcf2

    fasta, table, seqs = genome
    s1 = seqs["chr1"]
    rows = [("chr1", p, s1[p - 1].upper(), ["A" if s1[p - 1].upper() != "A" else "G"]) for p in (8000, 8010)]
    vcf = write_vcf(tmp_path / "in.vcf", rows)
    out = tmp_path / name
    args = ["vcf", "-i", vcf, "-o", out, "-r", fasta, "-a", table, "--device", "cpu"]
    assert run_main(args + (["-O", otype] if otype else [])) == 0
    assert out.read_bytes()[:2] == magic
    recs = list(cyvcf2.VCF(str(out)))
    assert [(r.CHROM, r.POS) for r in recs] == [(c, p) for c, p, _, _ in rows]
    assert all(r.INFO.get("SpliceAI") for r in recs)
    if name.endswith(".bcf"):
        assert out.read_bytes()[:2] == b"\x1f\x8b" and b"BCF" in gzip.decompress(out.read_bytes())[:3]


def test_missing_fai_is_built(genome, fake_net, tmp_path):
    fasta, table, seqs = genome
    copy = tmp_path / "copy.fa"
    copy.write_text(Path(fasta).read_text())
    assert not (tmp_path / "copy.fa.fai").exists()
    vcf = write_vcf(tmp_path / "in.vcf", [("chr1", 8000, seqs["chr1"][7999].upper(), ["A"])])
    assert run_main(["vcf", "-i", vcf, "-o", tmp_path / "o.vcf", "-r", copy, "-a", table, "--device", "cpu"]) == 0
    assert (tmp_path / "copy.fa.fai").exists()


# -- region, shards, output index (scale-out building blocks) ------------------------------------------

def _body(path: Path) -> list[str]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        return [l for l in fh if not l.startswith("#")]


@pytest.fixture
def indexed_vcf(genome, tmp_path):
    import pysam

    fasta, table, seqs = genome
    s1, s2 = seqs["chr1"], seqs["chr2"]
    rows = [("chr1", p, s1[p - 1].upper(), ["A" if s1[p - 1].upper() != "A" else "G"]) for p in range(8000, 8100, 3)]
    rows += [("chr2", p, s2[p - 1].upper(), ["C" if s2[p - 1].upper() != "C" else "T"]) for p in range(6000, 6060, 4)]
    plain = write_vcf(tmp_path / "in.vcf", rows)
    pysam.tabix_index(str(plain), preset="vcf", force=True)  # bgzips to in.vcf.gz + .tbi
    return tmp_path / "in.vcf.gz", rows


def test_region_uses_the_index(genome, fake_net, indexed_vcf, tmp_path):
    fasta, table, _ = genome
    vcf, rows = indexed_vcf
    out = tmp_path / "region.vcf"
    assert run_main(["vcf", "-i", vcf, "-o", out, "-r", fasta, "-a", table, "--region", "1:8010-8040"]) == 0
    assert [int(l.split("\t")[1]) for l in _body(out)] == [p for c, p, _, _ in rows if c == "chr1" and 8010 <= p <= 8040]


def test_region_without_index_is_a_clear_error(genome, fake_net, tmp_path, capsys):
    fasta, table, seqs = genome
    vcf = write_vcf(tmp_path / "in.vcf", [("chr1", 8000, seqs["chr1"][7999].upper(), ["A"])])
    code = run_main(["vcf", "-i", vcf, "-o", tmp_path / "o.vcf", "-r", fasta, "-a", table, "--region", "chr1:1-10"])
    assert code == 3 and "indexed" in capsys.readouterr().err


def test_shards_concatenate_to_the_unsharded_output(genome, fake_net, indexed_vcf, tmp_path):
    fasta, table, _ = genome
    vcf, rows = indexed_vcf
    base = ["vcf", "-i", vcf, "-r", fasta, "-a", table, "--chunk-size", "7"]
    assert run_main(base + ["-o", tmp_path / "all.vcf"]) == 0
    parts = []
    for i in (1, 2, 3):
        assert run_main(base + ["-o", tmp_path / f"s{i}.vcf", "--shard", f"{i}/3"]) == 0
        parts.append(_body(tmp_path / f"s{i}.vcf"))
    assert all(parts) and sum(parts, []) == _body(tmp_path / "all.vcf")
    assert len(_body(tmp_path / "all.vcf")) == len(rows)


@pytest.mark.parametrize("name, index", [("out.vcf.gz", ".tbi"), ("out.bcf", ".csi")])
def test_write_index(genome, fake_net, indexed_vcf, tmp_path, name, index):
    import cyvcf2

    fasta, table, _ = genome
    vcf, rows = indexed_vcf
    out = tmp_path / name
    assert run_main(["vcf", "-i", vcf, "-o", out, "-r", fasta, "-a", table, "--write-index"]) == 0
    assert Path(str(out) + index).exists()
    assert len(list(cyvcf2.VCF(str(out))("chr2"))) == sum(1 for r in rows if r[0] == "chr2")


def test_write_index_needs_compressed_output(genome, fake_net, indexed_vcf, tmp_path, capsys):
    fasta, table, _ = genome
    vcf, _ = indexed_vcf
    code = run_main(["vcf", "-i", vcf, "-o", tmp_path / "o.vcf", "-r", fasta, "-a", table, "--write-index"])
    assert code == 2 and "--write-index" in capsys.readouterr().err
