"""Several devices (``--devices``), the in-order chunk runner, and ``--precision``.

No GPU is lent to CI: several CPU workers stand in for several GPUs (the runner is the same), and the
reduced-precision paths (explicit bf16/fp16 casts) run on the CPU.
"""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest
import torch

from conftest import BUNDLED_FASTA, BUNDLED_VCF, run_main
from splicescore.pipeline import run_chunks
from splicescore.nn.predict import _predict_batched

FASTA = "data/grch38/chr17_brca1_region.fa.gz"


def _vcf(tmp_path, n, source=BUNDLED_VCF):
    """The first ``n`` records of ``source`` (default: the bundled BRCA1 example)."""
    lines = source.read_text().splitlines(keepends=True)
    header = [l for l in lines if l.startswith("#")]
    path = tmp_path / "in.vcf"
    path.write_text("".join(header + [l for l in lines if not l.startswith("#")][:n]))
    return path


def test_devices_give_the_bytes_of_one_device(random_home, tmp_path):
    """Two CPU workers with chunks of 3 records alternating between them: the VCF and the unrounded
    TSV are the bytes of a one-device run (random-weight SpliceAI on the bundled example)."""
    vcf = _vcf(tmp_path, 10)
    base = ["vcf", "-i", vcf, "-r", BUNDLED_FASTA, "--chunk-size", "3", "--threads", "1"]
    assert run_main(base + ["--device", "cpu", "-o", tmp_path / "one.vcf", "--tsv", tmp_path / "one.tsv"]) == 0
    assert run_main(base + ["--devices", "cpu,cpu", "-o", tmp_path / "two.vcf", "--tsv", tmp_path / "two.tsv"]) == 0
    assert (tmp_path / "one.vcf").read_bytes() == (tmp_path / "two.vcf").read_bytes()
    assert (tmp_path / "one.tsv").read_bytes() == (tmp_path / "two.tsv").read_bytes()
    assert (tmp_path / "one.vcf").read_text().count("SpliceAI=") == 10


def test_runner_keeps_input_order_and_uses_every_device():
    """Chunks computed out of order on three workers come out in input order; chunk i runs on
    worker i % 3, and planning and writing stay in the calling thread."""
    caller = threading.get_ident()
    seen: list = []
    where: dict = {}

    def plan(chunk, first_index):
        assert threading.get_ident() == caller
        return {"chunk": chunk, "first": first_index}

    def computer(k):
        def compute(job):
            time.sleep(random.random() * 0.01)
            where[job["first"]] = k
            job["done"] = True
        return compute

    def written(job):
        assert threading.get_ident() == caller and job["done"]
        seen.append(job["first"])

    chunks = [list(range(i, i + 2)) for i in range(0, 40, 2)]
    run_chunks(iter(chunks), 100, plan, [computer(k) for k in range(3)], written)
    assert seen == list(range(100, 140, 2))
    assert [where[f] for f in seen] == [i % 3 for i in range(20)]


def test_runner_raises_a_worker_error_in_order():
    """An error in a device worker stops the run at that chunk; earlier chunks were written."""
    seen = []

    def compute(job):
        if job == 3:
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_chunks(iter([[0]] * 6), 0, lambda chunk, i: i, [compute, compute], seen.append)
    assert seen == [0, 1, 2]


@pytest.mark.parametrize("argv,message", [
    (["--devices", "cpu,cuda:0"], "mixes device types"),
    (["--devices", "cpu,nonsense"], "--devices"),
])
def test_device_and_precision_errors(random_home, tmp_path, capsys, argv, message):
    vcf = _vcf(tmp_path, 2)
    code = run_main(["vcf", "-i", vcf, "-r", BUNDLED_FASTA, "-o", tmp_path / "out.vcf"] + argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "out.vcf").exists()


def test_reduced_precision_on_the_cpu(random_home, tmp_path):
    """``--precision bf16 --device cpu`` runs (the default engine then takes the batched path for
    SpliceAI): every record annotated, unrounded TSV values close to fp32's but not the same numbers
    (regression: the CPU refused reduced precision unless ``--engine batched``)."""
    import csv

    vcf = _vcf(tmp_path, 4)
    rows = {}
    for precision in ("fp32", "bf16"):
        out, tsv = tmp_path / f"{precision}.vcf", tmp_path / f"{precision}.tsv"
        assert run_main(["vcf", "-i", vcf, "-r", BUNDLED_FASTA, "-o", out, "--tsv", tsv, "--device", "cpu",
                         "--precision", precision]) == 0
        body = [l for l in out.read_text().splitlines() if not l.startswith("#")]
        assert len(body) == 4 and all("SpliceAI=" in l for l in body)
        with open(tsv) as fh:
            rows[precision] = [float(r["DS_AG_REF"]) for r in csv.DictReader(fh, delimiter="\t")]
    diff = np.abs(np.array(rows["bf16"]) - np.array(rows["fp32"]))
    assert 0 < diff.max() < 0.05


def test_reduced_precision_batched_windows_on_cpu(random_home):
    """The batched windows path under ``--precision bf16``/``fp16`` (explicit casts, on the CPU here):
    float32 outputs close to the exact ones, but not the same numbers (random-weight APARENT2)."""
    from splicescore import weights

    net = weights.load_network("aparent2", random_home).eval()
    rng = np.random.default_rng(0)
    windows = [np.eye(4, dtype=np.float32)[rng.integers(0, 4, 205)] for _ in range(6)]
    with torch.inference_mode():
        exact = _predict_batched(net, windows, 4, torch.device("cpu"), None)
    for precision in ("bf16", "fp16"):
        with torch.inference_mode():
            got = _predict_batched(net, windows, 4, torch.device("cpu"), None, precision)
        assert all(g.dtype == np.float32 and g.shape == e.shape for g, e in zip(got, exact))
        diff = max(float(np.abs(g - e).max()) for g, e in zip(got, exact))
        assert 0 < diff < 0.1, precision


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on CI)")
def test_cuda_fp32_equals_cpu_scores_and_bf16_is_close(shared, weights_home, tmp_path):
    vcf = _vcf(tmp_path, 20, shared / "golden/spliceai/dev.input.vcf")
    base = ["vcf", "-i", vcf, "-r", shared / FASTA]
    assert run_main(base + ["--device", "cpu", "-o", tmp_path / "cpu.vcf"]) == 0
    assert run_main(base + ["--device", "cuda", "-o", tmp_path / "gpu.vcf"]) == 0
    assert run_main(base + ["--device", "cuda", "--precision", "bf16", "-o", tmp_path / "bf16.vcf"]) == 0
    cpu = [l for l in (tmp_path / "cpu.vcf").read_text().splitlines() if not l.startswith("##")]
    gpu = [l for l in (tmp_path / "gpu.vcf").read_text().splitlines() if not l.startswith("##")]
    assert cpu == gpu


def test_progress_line_and_background_count(tmp_path):
    """The progress line shows the ETA once the record count is known; the count is the number of
    records the run will read (a shard's own size)."""
    from splicescore.cli import progress_line
    from splicescore.io.vcf_input import VcfInput

    assert progress_line(50, 10.0) == "splicescore: 50 records, 5.0 records/s"
    assert progress_line(50, 10.0, 650) == "splicescore: 50/650 records, 5.0 records/s, ETA 2:00"
    assert progress_line(10, 1.0, 36_010) == "splicescore: 10/36010 records, 10.0 records/s, ETA 1:00:00"
    # resumed records count as done but not in the rate (regression: ETA 0:01 after resuming 90,000)
    assert progress_line(90_128, 10.0, 100_000, 90_000) == "splicescore: 90128/100000 records, 12.8 records/s, ETA 12:51"
    vcf = _vcf(tmp_path, 10)
    vin = VcfInput(str(vcf))
    assert vin.count_selected() == 10
    vin.select(shard=(2, 3))
    assert vin.count_selected() == len(list(vin)) == 3
    vin.close()


def test_interrupt_stops_a_busy_device_worker_at_its_next_step():
    """Ctrl-C while a device worker is in the middle of a long chunk: the worker stops at its next
    window/job instead of finishing the chunk (regression: the run used to wait for the whole chunk)."""
    from splicescore.nn.predict import check_stop

    def compute(job):
        if job == 1:  # a chunk of 5 s of network work in 10 ms steps
            for _ in range(500):
                check_stop()
                time.sleep(0.01)

    def written(job):
        raise KeyboardInterrupt  # arrives while chunk 1 is being computed

    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        run_chunks(iter([[0], [1]]), 0, lambda chunk, i: i, [compute], written)
    assert time.perf_counter() - started < 2.0
    check_stop()  # the next run starts clean
