"""Fault injection: real runs (subprocesses of the CLI, tests/fault_runner.py) killed with SIGKILL and
stopped with SIGTERM/SIGHUP at seeded points, then ``--resume``d: the output must be the bytes of an
uninterrupted run, for plain VCF, bgzipped VCF and the TSV; partial outputs cut at every kind of place
(empty, inside the header, mid-record, mid-BGZF-block) resume the same way; two concurrent runs
sharing one ``--cache`` write what an uncached run writes.

The network is a fast deterministic stand-in for SpliceAI (the pipeline, the outputs and the
resume logic are the real ones); no ../shared needed.
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO

RUNNER = REPO / "tests" / "fault_runner.py"
HEADER = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
N_CONTIG = 40_000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A random contig with two genes and ~600 records (over 64 KiB of VCF text: several BGZF blocks)."""
    rng = random.Random(13)
    d = tmp_path_factory.mktemp("faults")
    seq = "".join(rng.choice("ACGT") for _ in range(N_CONTIG))
    (d / "ref.fa").write_text(">chr1\n" + "\n".join(seq[i : i + 60] for i in range(0, N_CONTIG, 60)) + "\n")
    (d / "genes.txt").write_text(
        "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
        "GA\t1\t+\t100\t39000\t100,5000,15000,\t1000,6000,39000,\n"
        "GB\t1\t-\t12000\t30000\t12000,22000,\t13000,30000,\n"
    )
    rows = []
    for pos in range(6000, 34000, 47):
        ref = seq[pos - 1]
        alt = rng.choice([a for a in "ACGT" if a != ref])
        if rng.random() < 0.2:
            ref, alt = seq[pos - 1 : pos + 2], seq[pos - 1]
        rows.append(f"chr1\t{pos}\tid{pos}\t{ref}\t{alt}\t.\t.\tAF=0.10;NOTE=x{'y' * rng.randrange(40)}\n")
    (d / "in.vcf").write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=40000>\n"
        '##INFO=<ID=AF,Number=A,Type=Float,Description="a">\n##INFO=<ID=NOTE,Number=1,Type=String,Description="n">\n'
        + HEADER + "".join(rows)
    )
    return d


def _args(d: Path, out: Path, *extra) -> list[str]:
    return ["vcf", "-i", str(d / "in.vcf"), "-r", str(d / "ref.fa"), "-a", str(d / "genes.txt"), "--device", "cpu",
            "--chunk-size", "16", "-o", str(out), "--tsv", str(out) + ".tsv", *map(str, extra)]


def _run(args, sleep: float = 0.0, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "FAULT_SLEEP": str(sleep)}
    return subprocess.run([sys.executable, str(RUNNER), *args], capture_output=True, text=True, env=env,
                          timeout=300, **kw)


@pytest.fixture(scope="module")
def reference_runs(data):
    """Uninterrupted outputs (VCF + TSV) per format."""
    out = {}
    for ext in ("vcf", "vcf.gz"):
        path = data / f"full.{ext}"
        proc = _run(_args(data, path))
        assert proc.returncode == 0, proc.stderr
        out[ext] = path
    return out


def _same(out: Path, full: Path) -> None:
    assert out.read_bytes() == full.read_bytes()
    assert Path(str(out) + ".tsv").read_bytes() == Path(str(full) + ".tsv").read_bytes()
    assert not Path(str(out) + ".partial").exists() and not Path(str(out) + ".tsv.partial").exists()


@pytest.mark.parametrize("ext", ["vcf", "vcf.gz"])
def test_killed_and_stopped_at_seeded_points_then_resumed(data, reference_runs, tmp_path, ext):
    """One output, stopped again and again (SIGKILL, SIGTERM; bgzipped: SIGKILL, SIGHUP) once
    its partial file has grown to a seeded size, each time resumed: the final bytes (VCF and TSV) are
    the uninterrupted run's."""
    rng = random.Random(f"faults-{ext}")
    full = reference_runs[ext]
    out = tmp_path / f"out.{ext}"
    partial = Path(str(out) + ".partial")
    size = full.stat().st_size
    stops = [signal.SIGKILL, signal.SIGTERM] if ext == "vcf" else [signal.SIGKILL, signal.SIGHUP]
    targets = sorted(rng.uniform(0.1, 0.85) * size for _ in stops)
    resumed = []
    for target, sig in zip(targets, stops):
        before = partial.stat().st_mtime_ns if partial.exists() else None
        env = {**os.environ, "FAULT_SLEEP": "0.004"}
        proc = subprocess.Popen([sys.executable, str(RUNNER), *_args(data, out, "--resume")], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                st = partial.stat()
            except FileNotFoundError:
                st = None
            if st is not None and st.st_mtime_ns != before and st.st_size >= target:
                break  # this run has written, and the file has the seeded size
            time.sleep(0.005)
        if proc.poll() is None:
            time.sleep(rng.uniform(0, 0.05))
            proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        if proc.returncode == 0:  # it finished first: nothing left to interrupt
            break
        assert proc.returncode == (-9 if sig == signal.SIGKILL else 128 + sig), err
        assert not out.exists() and partial.exists()
        if sig != signal.SIGKILL:
            assert "partial output kept" in err and "Traceback" not in err
        resumed.append(partial.stat().st_size)
    proc = _run(_args(data, out, "--resume"))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    _same(out, full)
    assert len(resumed) >= 2  # the stops did land inside the run


def _cut_points(text_len: int, header_len: int, record_ends: list[int], rng: random.Random) -> list[int]:
    mid_record = [rng.randrange(a + 1, b) for a, b in zip(record_ends, record_ends[1:]) if b - a > 2]
    return [0, header_len // 2, header_len, record_ends[len(record_ends) // 3]] + rng.sample(mid_record, 3)


def _fake_in_process(monkeypatch):
    sys.path.insert(0, str(REPO / "tests"))
    from fault_runner import SlowFakeSpliceAI

    import splicescore.cache
    from splicescore import weights

    net = SlowFakeSpliceAI()
    monkeypatch.setattr(weights, "load_network", lambda name, root=None: net)
    monkeypatch.setattr(weights, "is_installed", lambda name, root=None: True)
    monkeypatch.setattr(weights, "is_verified", lambda name, root=None: True)
    monkeypatch.setattr(splicescore.cache, "read_manifest", lambda name, root=None: {"tensors_sha256": "x"})


def test_resume_from_any_cut_of_a_plain_partial(data, reference_runs, tmp_path, monkeypatch):
    """Empty, header cut, header only, at a record end, mid-record: dropped tail, same bytes, exit 0."""
    from conftest import run_main

    _fake_in_process(monkeypatch)
    full = reference_runs["vcf"].read_bytes()
    tsv = Path(str(reference_runs["vcf"]) + ".tsv").read_bytes()
    header_len = full.index(b"\n#CHROM") + 1
    header_len = full.index(b"\n", header_len) + 1
    ends = [i + 1 for i in range(header_len - 1, len(full)) if full[i : i + 1] == b"\n"]
    out = tmp_path / "out.vcf"
    for cut in _cut_points(len(full), header_len, ends, random.Random(1)):
        Path(str(out) + ".partial").write_bytes(full[:cut])
        Path(str(out) + ".tsv.partial").write_bytes(tsv)  # the TSV is always ahead of the VCF
        assert run_main(_args(data, out, "--resume")) == 0, cut
        _same(out, reference_runs["vcf"])


def test_resume_from_any_cut_of_a_bgzf_partial(data, reference_runs, tmp_path, monkeypatch):
    """A bgzipped partial cut inside a block, at a block boundary, inside the header block, and one
    whose last block is the provisional (not yet full) block of an unfinished run, cut or whole."""
    from conftest import run_main
    from splicescore.io.bgzf import BGZF_BLOCK, bgzf_block, iter_bgzf_blocks

    _fake_in_process(monkeypatch)
    full = reference_runs["vcf.gz"]
    raw = full.read_bytes()
    with open(full, "rb") as fh:
        blocks = list(iter_bgzf_blocks(fh))
    assert len(blocks) >= 3  # header+records over more than one full block, and the EOF block
    text = b"".join(data_ for _, _, data_ in blocks)
    rng = random.Random(2)
    cuts = [raw[:0], raw[: blocks[0][1] // 2], raw[: blocks[0][1]], raw[: rng.randrange(blocks[0][1] + 1, blocks[1][1])],
            raw[: blocks[-2][1] - 5]]
    # an unfinished run's file: full blocks, then the provisional block holding the complete records so far
    upto = text.rindex(b"\n", 0, BGZF_BLOCK + 3000) + 1
    provisional = bgzf_block(text[:BGZF_BLOCK]) + bgzf_block(text[BGZF_BLOCK:upto])
    cuts += [provisional, provisional[: len(provisional) - 7]]
    tsv = Path(str(full) + ".tsv").read_bytes()
    out = tmp_path / "out.vcf.gz"
    for i, partial in enumerate(cuts):
        Path(str(out) + ".partial").write_bytes(partial)
        Path(str(out) + ".tsv.partial").write_bytes(tsv)
        assert run_main(_args(data, out, "--resume")) == 0, i
        _same(out, full)
        assert gzip.decompress(out.read_bytes()) == text


def test_resume_cuts_the_tsv_at_the_vcf_records(data, reference_runs, tmp_path, monkeypatch, capsys):
    """The TSV partial may hold a cut row and rows of records the VCF does not have yet: both dropped."""
    from conftest import run_main

    _fake_in_process(monkeypatch)
    full = reference_runs["vcf"].read_bytes()
    tsv = Path(str(reference_runs["vcf"]) + ".tsv").read_bytes()
    lines = full.split(b"\n")
    n_header = sum(1 for ln in lines if ln.startswith(b"#"))
    keep = b"\n".join(lines[: n_header + 200]) + b"\n"
    out = tmp_path / "out.vcf"
    rows = tsv.split(b"\n")
    first_after = next(i for i, r in enumerate(rows[1:], 1) if r and int(r.split(b"\t")[0]) > 200)
    for cut in (len(b"\n".join(rows[:first_after])) + 1 + 9, len(tsv)):  # mid-row after, or all rows
        Path(str(out) + ".partial").write_bytes(keep)
        Path(str(out) + ".tsv.partial").write_bytes(tsv[:cut])
        assert run_main(_args(data, out, "--resume")) == 0
        _same(out, reference_runs["vcf"])
    # the TSV partial missing while the VCF partial holds records: refused, both partial files kept
    Path(str(out) + ".partial").write_bytes(keep)
    capsys.readouterr()
    assert run_main(_args(data, out, "--resume")) == 2
    assert "tsv.partial is missing" in capsys.readouterr().err
    assert Path(str(out) + ".partial").read_bytes() == keep


def test_refused_partial_is_never_deleted(data, reference_runs, tmp_path, capsys, monkeypatch):
    """A partial of another input (or garbage) is refused with exit 2 and left as it was."""
    from conftest import run_main

    _fake_in_process(monkeypatch)
    out = tmp_path / "out.vcf.gz"
    for junk in (b"##fileformat=VCFv4.2\n#CHROM\tPOS\n", os.urandom(3000)):
        Path(str(out) + ".partial").write_bytes(junk)
        assert run_main(_args(data, out, "--resume")) == 2
        assert "run without --resume" in capsys.readouterr().err
        assert Path(str(out) + ".partial").read_bytes() == junk and not out.exists()


def test_concurrent_runs_share_one_cache(data, reference_runs, tmp_path):
    """Two runs at the same time on one --cache file (as two Snakemake jobs): each writes the bytes of
    an uncached run; a third run takes every record from the cache."""
    db = tmp_path / "scores.sqlite"
    outs = [tmp_path / "a.vcf.gz", tmp_path / "b.vcf.gz"]
    procs = [subprocess.Popen([sys.executable, str(RUNNER), *_args(data, o, "--cache", db)], stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "FAULT_SLEEP": "0.002"}) for o in outs]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    for o in outs:
        _same(o, reference_runs["vcf.gz"])
    third = tmp_path / "c.vcf.gz"
    proc = _run(_args(data, third, "--cache", db))
    assert proc.returncode == 0 and "cache: 596 hits, 0 new" in proc.stderr, proc.stderr
    _same(third, reference_runs["vcf.gz"])


def test_bcf_output_resumes_too(data, reference_runs, tmp_path, monkeypatch):
    """BCF: the partial is bgzipped VCF text (resumable like -O z), converted when the run completes."""
    import cyvcf2

    from conftest import run_main
    from splicescore.io.bgzf import BGZF_BLOCK, bgzf_block

    _fake_in_process(monkeypatch)
    full, out = tmp_path / "full.bcf", tmp_path / "out.bcf"
    assert run_main(_args(data, full)) == 0
    assert gzip.decompress(full.read_bytes())[:3] == b"BCF"
    text = gzip.decompress(reference_runs["vcf.gz"].read_bytes())
    lines = [ln.split(b"\t") for ln in text.split(b"\n") if ln and not ln.startswith(b"#")]
    records = list(cyvcf2.VCF(str(full)))  # BCF stores values, not text: compare the records' fields
    assert [(v.POS, v.INFO.get("SpliceAI")) for v in records] == [
        (int(f[1]), dict(kv.split(b"=", 1) for kv in f[7].split(b";"))[b"SpliceAI"].decode()) for f in lines]
    cut = text[: text.index(b"\n", len(text) // 2) + 1]
    blocks = [bgzf_block(cut[i : i + BGZF_BLOCK]) for i in range(0, len(cut), BGZF_BLOCK)]
    Path(str(out) + ".partial").write_bytes(b"".join(blocks)[:-3])  # the last block torn
    shutil.copy(str(reference_runs["vcf.gz"]) + ".tsv", str(out) + ".tsv.partial")
    assert run_main(_args(data, out, "--resume")) == 0
    assert out.read_bytes() == full.read_bytes()


def test_a_second_signal_stops_at_once_and_the_partial_still_resumes(data, reference_runs, tmp_path):
    """SIGTERM while a slow network pass is running, then SIGTERM again during the stop: the process
    ends at once (exit 143), and --resume still writes the uninterrupted bytes."""
    out = tmp_path / "out.vcf.gz"
    partial = Path(str(out) + ".partial")
    proc = subprocess.Popen([sys.executable, str(RUNNER), *_args(data, out)], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "FAULT_SLEEP": "1.0"})
    deadline = time.monotonic() + 120
    while not partial.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)  # the stop waits for the network pass in flight (1 s) ...
    time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # ... unless a second signal comes
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "again: stopped at once" in err, err
    proc = _run(_args(data, out, "--resume"))
    assert proc.returncode == 0, proc.stderr
    _same(out, reference_runs["vcf.gz"])
