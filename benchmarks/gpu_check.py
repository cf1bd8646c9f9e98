"""One prepared run for a GPU machine: correctness, engines, throughput, memory, ceiling, OOM path.

Usage::

    python benchmarks/gpu_check.py --data benchmarks/.gpu_bundle            # on the GPU machine
    python benchmarks/gpu_check.py --data ../shared --device cpu --quick     # seconds; in the test suite

``--data`` is a folder laid out like ``../shared`` with only what this check reads
(``benchmarks/make_gpu_bundle.sh`` copies it into ``benchmarks/.gpu_bundle/``, about 53 MB)::

    weights/spliceai/spliceai{1..5}.h5      weights/pangolin/final.{1..3}.{0,2,4,6}.3.v2
    golden/spliceai/dev_raw.npz             golden/pangolin/dev_raw.npz

Self-contained on a bare CUDA image with python3 + torch + numpy + h5py (no pysam, cyvcf2, ncls or
click: only the networks, the weight converters and the engine are imported). Prints one JSON line
per measurement as it goes (also to ``--out``), and a table last. Sections:

1. ``env``: torch, CUDA, cuDNN, the GPU.
2. ``golden``: fp32 per-replica (SpliceAI) / per-network (Pangolin) outputs on the official
   windows vs the official arrays (required <= 1e-5).
3. ``engines``: the batched engine vs full windows on the same variants (golden SNV windows with
   their official ALT, and indels on the same tracks).
4. ``speed``: SNV/s for both engines, fp32 and bf16, at a few batch sizes (``dense``: 200 SNVs per
   track of 1,000 outputs; ``isolated``: one SNV per 10,101-nt track), with peak memory and the
   FLOP rate as a fraction of a measured conv1d/matmul ceiling. Every row reduces each chunk to
   its scores on the device, as the pipeline does (SpliceAI: ``SpliceAIDeltaRequest``, DS/DP;
   Pangolin: ``PangolinDeltaRequest``, loss/gain from each SNV's REF slice and ALT), so only the
   scores come back.
5. ``oom``: under ``torch.cuda.set_per_process_memory_fraction`` the engine and ``predict`` meet
   an out-of-memory error, halve, remember and finish with the same numbers.

Budget: about 8 minutes on one GPU (each speed row stops after ``--seconds``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # conv_flops

from splicescore.nn.engine import Engine  # noqa: E402
from splicescore.nn.incremental import AltEdit  # noqa: E402
from splicescore.nn.predict import exact_math, predict  # noqa: E402
from splicescore.nn.reduce import PangolinDeltaRequest, SpliceAIDeltaRequest  # noqa: E402
from splicescore.nn.tracks import TrackAlt, TrackSlice  # noqa: E402

CONTEXT = 10_000
D = 50
ROWS: list[dict] = []


def emit(out, **row) -> dict:
    ROWS.append(row)
    line = json.dumps(row, default=float)
    print(line, flush=True)
    if out:
        with open(out, "a") as fh:
            fh.write(line + "\n")
    return row


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_mib(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak(device):
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


# --------------------------------------------------------------------------- networks


_NETS: dict = {}


def load_spliceai(data: Path, device, replicas: int = 5):
    """The official SpliceAI replicas (the first ``replicas`` of them), converted once per run."""
    from splicescore.models.spliceai.convert import convert_spliceai_files
    from splicescore.models.spliceai.network import SpliceAIEnsemble

    if (str(device), replicas) not in _NETS:
        net = SpliceAIEnsemble(replicas)
        paths = [data / f"weights/spliceai/spliceai{i}.h5" for i in range(1, replicas + 1)]
        net.load_state_dict(convert_spliceai_files(paths))
        _NETS[(str(device), replicas)] = net.eval().requires_grad_(False).to(device)
    return _NETS[(str(device), replicas)]


def load_pangolin(data: Path, device):
    from splicescore.models.pangolin.convert import convert_pangolin_files
    from splicescore.models.pangolin.network import PangolinEnsemble

    net = PangolinEnsemble()
    net.load_state_dict(convert_pangolin_files(data / "weights/pangolin"))
    return net.eval().requires_grad_(False).to(device)


# --------------------------------------------------------------------------- sections


def env(args, device):
    row = {"section": "env", "python": platform.python_version(), "torch": torch.__version__,
           "device": str(device), "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        row.update(gpu=p.name, capability=f"{p.major}.{p.minor}", memory_gib=round(p.total_memory / 2**30, 1),
                   sms=p.multi_processor_count)
    else:
        row.update(cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads())
    emit(args.out, **row)


def golden(args, device):
    sai = np.load(args.data / "golden/spliceai/dev_raw.npz")
    keys = [k for k in sorted({k.split("_")[0] for k in sai.files}) if f"{k}_x_ref" in sai.files][: args.keys]
    net = load_spliceai(args.data, device, 1 if args.quick else 5)
    worst = 0.0
    with torch.inference_mode(), exact_math(device):
        for k in keys:
            for allele in ("ref", "alt"):
                x = torch.from_numpy(sai[f"{k}_x_{allele}"].T.astype(np.float32))[None].to(device)
                for r, rep in enumerate(net.replicas):
                    y = rep(x)[0].T.cpu().numpy()
                    worst = max(worst, float(np.abs(y - sai[f"{k}_y_{allele}_model{r + 1}"]).max()))
    emit(args.out, section="golden", model="spliceai", windows=2 * len(keys), replicas=len(net.replicas), per="replica", max_abs_diff=worst,
         ok=worst <= 1e-5)
    del net
    pg = np.load(args.data / "golden/pangolin/dev_raw.npz")
    keys = [k for k in sorted({k.split("_")[0] for k in pg.files}) if f"{k}_x_ref" in pg.files]
    keys = keys[: max(1, args.keys // 4)]
    if args.quick:  # one network (of 12), REF only
        from splicescore.models.pangolin.convert import convert_pangolin_file
        from splicescore.models.pangolin.network import PangolinEnsemble, PangolinNet, weight_file_name

        net = PangolinEnsemble()
        one = PangolinNet()
        one.load_state_dict(convert_pangolin_file(args.data / "weights/pangolin" / weight_file_name(0, 1)))
        net.nets = torch.nn.ModuleList([one])
        net = net.eval().requires_grad_(False).to(device)
    else:
        net = load_pangolin(args.data, device)
    worst = 0.0
    with torch.inference_mode(), exact_math(device):
        for k in keys:
            for allele in ("ref",) if args.quick else ("ref", "alt"):
                x = torch.from_numpy(pg[f"{k}_x_{allele}"].astype(np.float32))[None].to(device)
                y = net.forward_raw(x)[:, 0].cpu().numpy()  # (networks, 12, n)
                for m in range(len(net.nets)):
                    worst = max(worst, float(np.abs(y[m] - pg[f"{k}_out_{allele}_model{m:02d}"]).max()))
    emit(args.out, section="golden", model="pangolin", windows=len(keys) * (1 if args.quick else 2),
         networks=len(net.nets), per="network", max_abs_diff=worst,
         ok=worst <= 1e-5)


def _golden_snv_chunk(sai, n: int, rng):
    """Golden SNV windows as tracks with their official ALT as an edit, and on the same tracks an
    insertion and a deletion at the centre."""
    keys = sorted({k.split("_")[0] for k in sai.files})
    snvs = [k for k in keys if sai[f"{k}_x_ref"].shape == sai[f"{k}_x_alt"].shape][:n]
    inputs, golden = [], {}
    for k in snvs:
        x_ref, x_alt = sai[f"{k}_x_ref"].astype(np.float32), sai[f"{k}_x_alt"].astype(np.float32)
        t = len(inputs)
        inputs.append(x_ref)
        q = len(x_ref) // 2
        golden[len(inputs)] = sai[f"{k}_y_alt_mean"].T
        inputs.append(TrackAlt(t, AltEdit(q, 1, x_alt[q : q + 1], q - D, 2 * D + 1)))
        ins = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 3)]
        inputs.append(TrackAlt(t, AltEdit(q, 1, ins, q - D, 2 * D + 3)))
        inputs.append(TrackAlt(t, AltEdit(q, 4, x_ref[q : q + 1], q - D, 2 * D - 2)))
    return inputs, golden


def engines(args, device):
    sai = np.load(args.data / "golden/spliceai/dev_raw.npz")
    net = load_spliceai(args.data, device, 1 if args.quick else 5)
    inputs, golden_alt = _golden_snv_chunk(sai, args.keys, np.random.default_rng(0))
    if args.quick:  # one replica: its own official outputs stand in for the mean
        keys = [k for k in sorted({k.split("_")[0] for k in sai.files}) if f"{k}_x_ref" in sai.files]
        snvs = [k for k in keys if sai[f"{k}_x_ref"].shape == sai[f"{k}_x_alt"].shape][: args.keys]
        golden_alt = {i: sai[f"{k}_y_alt_model1"].T for i, k in zip(golden_alt, snvs)}
    request = spliceai_request(inputs)
    with torch.inference_mode():
        b = Engine("batched", device)(net, inputs)
        w = Engine("windows", device)(net, inputs)
        on_device = request.unpack(Engine("batched", device)(net, inputs, reduce=request))
        on_host = request.unpack(request([torch.from_numpy(y) for y in b]))  # numpy's numbers (tests/test_reduce.py)
    diff = max(float(np.abs(x - y).max()) for x, y in zip(b, w))
    gold = max(float(np.abs(b[i] - y).max()) for i, y in golden_alt.items())
    same = all(all(np.array_equal(r[k], h[k]) for k in r) for r, h in zip(on_device, on_host))
    emit(args.out, section="engines", model="spliceai", replicas=len(net.replicas), tracks=args.keys, edits=3 * args.keys,
         batched_vs_windows=diff, batched_vs_official_alt=gold, device_reduction_equals_host=same,
         ok=diff <= 1e-6 and gold <= 1e-5 and same)


def _synthetic(kind: str, n_snv: int, rng) -> list:
    """``(track, [AltEdit])`` pairs. ``dense``: tracks of 1,000 outputs with 200 SNVs each;
    ``isolated``: one SNV per 10,101-nt track."""
    pairs, count = [], 0
    per, n_out = (min(200, n_snv), 1000) if kind == "dense" else (1, 2 * D + 1)
    half = CONTEXT // 2
    while count < n_snv:
        x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, CONTEXT + n_out)]
        qs = [half + D] if per == 1 else rng.choice(np.arange(half + D, half + n_out - D), per, replace=False)
        pairs.append((x, [AltEdit(int(q), 1, np.roll(x[q], 1)[None], int(q) - D, 2 * D + 1) for q in qs]))
        count += len(qs)
    return pairs


def chunk_inputs(pairs: list, ref_slices: bool = False) -> list:
    """An engine input list: each track followed by its edits (and, with ``ref_slices``, each
    edit's REF outputs as a :class:`TrackSlice` after it, as Pangolin's plans have them)."""
    inputs = []
    for x, edits in pairs:
        t = len(inputs)
        inputs.append(x)
        for e in edits:
            inputs.append(TrackAlt(t, e))
            if ref_slices:
                inputs.append(TrackSlice(t, e.out_lo, e.n_out))
    return inputs


def spliceai_request(inputs: list) -> SpliceAIDeltaRequest:
    """The pipeline's device reduction of a chunk of tracks and their edits: DS/DP of every edit
    (plus strand; REF positions from its track's outputs, the exon boundary at POS)."""
    units = [(x.track, x.edit.out_lo - CONTEXT // 2, i, False, x.edit.ref_len, len(x.edit.alt), 0)
             for i, x in enumerate(inputs) if isinstance(x, TrackAlt)]
    return SpliceAIDeltaRequest(units, 2 * D + 1)


def pangolin_request(inputs: list) -> PangolinDeltaRequest:
    """The pipeline's device reduction of a chunk from ``chunk_inputs(..., ref_slices=True)``:
    per-position loss/gain of every SNV (its REF slice follows its edit)."""
    units = [(i + 1, i, False, 1, 1) for i, x in enumerate(inputs) if isinstance(x, TrackAlt)]
    return PangolinDeltaRequest(units, D)


def conv_ceiling(args, device, dtype) -> float:
    """Measured TFLOP/s of a large dilated conv1d (32 -> 32 channels, width 11) in ``dtype``."""
    n = 200_000 if device.type == "cuda" else 20_000
    x = torch.randn(8, 32, n, device=device, dtype=dtype)
    w = torch.randn(32, 32, 11, device=device, dtype=dtype)
    with exact_math(device), torch.inference_mode():
        torch.nn.functional.conv1d(x, w, dilation=4)
        sync(device)
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < (1.0 if device.type == "cuda" else 0.3):
            y = torch.nn.functional.conv1d(x, w, dilation=4)
            reps += 1
        sync(device)
        seconds = time.perf_counter() - t0
    return 2 * y.numel() * 32 * 11 * reps / seconds / 1e12


def matmul_ceiling(device, dtype) -> float:
    n = 8192 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    with exact_math(device), torch.inference_mode():
        a @ a
        sync(device)
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < (1.0 if device.type == "cuda" else 0.3):
            a @ a
            reps += 1
        sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12


def speed(args, device):
    ceilings = {}
    precisions = args.precisions.split(",") if args.precisions else (
        ["fp32", "bf16"] if (device.type == "cuda" or not args.quick) else ["fp32"])
    for p in precisions:
        dt = torch.float32 if p == "fp32" else torch.bfloat16
        ceilings[p] = (conv_ceiling(args, device, dt), matmul_ceiling(device, dt))
        emit(args.out, section="ceiling", precision=p, conv1d_tflops=ceilings[p][0], matmul_tflops=ceilings[p][1])
    models = [("spliceai", load_spliceai(args.data, device, 1 if args.quick else 5))]
    if not args.quick:
        models.append(("pangolin", load_pangolin(args.data, device)))
    rng = np.random.default_rng(1)
    batch_sizes = [int(b) for b in args.batches.split(",")] if args.batches else [8] if args.quick else [16, 64, 256]
    n_snv = args.snvs or (2 if args.quick else 2048)
    for model, net in models:
        kinds = ["isolated"] if args.quick else ["dense", "isolated"] if model == "spliceai" else ["dense"]
        for kind in kinds:
            inputs = _synthetic(kind, n_snv if model == "spliceai" else max(1, n_snv // 4), rng)
            for engine_name in ("batched", "windows"):
                for p in precisions:
                    for bs in batch_sizes:
                        try:
                            _speed_row(args, device, net, model, kind, inputs, engine_name, p, bs, ceilings[p])
                        except Exception as exc:  # noqa: BLE001 - one row failing must not end the section
                            emit(args.out, section="speed", model=model, input=kind, engine=engine_name, precision=p,
                                 batch=bs, ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
                            if device.type == "cuda":
                                torch.cuda.empty_cache()


def _speed_row(args, device, net, model, kind, inputs, engine_name, precision, bs, ceiling):
    """SNV/s of one engine / precision / batch size on ``inputs``, stopping after ``args.seconds``
    (at least one chunk of tracks)."""
    from conv_flops import window_flops

    max_positions = bs * (CONTEXT + 2 * D + 1)
    engine = Engine(engine_name, device, bs, max_positions, precision)
    # chunks as the pipeline hands them over: dense one track each, isolated 2 x batch tracks
    per = 1 if kind == "dense" else 2 * bs
    chunks = [chunk_inputs(inputs[k : k + per], ref_slices=model == "pangolin") for k in range(0, len(inputs), per)]
    requests = [(spliceai_request if model == "spliceai" else pangolin_request)(c) for c in chunks]
    reset_peak(device)
    with torch.inference_mode():
        if not args.quick:
            engine(net, chunks[0], reduce=requests[0])  # warm-up (cuDNN autotuning, allocator)
        sync(device)
        snvs, t0, done = 0, time.perf_counter(), 0
        flops0 = engine.flops
        for c, request in zip(chunks, requests):
            engine(net, c, reduce=request)
            snvs += sum(isinstance(x, TrackAlt) for x in c)
            done += 1
            if time.perf_counter() - t0 > args.seconds:
                break
        sync(device)
        seconds = time.perf_counter() - t0
    members = len(net.members())
    if engine_name == "batched":
        flops = engine.flops - flops0
    else:  # every track and full ALT window through the valid trunk
        trunk = net.members()[0][0]
        flops = members * sum(window_flops(trunk, (len(x) if not isinstance(x, TrackAlt) else len(x.window(c, CONTEXT)))
                                           - CONTEXT) for c in chunks[:done] for x in c if not isinstance(x, TrackSlice))
    rate = flops / seconds / 1e12
    emit(args.out, section="speed", model=model, input=kind, engine=engine_name, precision=precision, batch=bs,
         reduced_on_device=True, snvs=snvs, seconds=round(seconds, 3), snv_per_s=round(snvs / seconds, 1),
         gflop_per_snv=round(flops / max(1, snvs) / 1e9, 2), tflops=round(rate, 3),
         of_conv_ceiling=round(rate / ceiling[0], 3), peak_mib=round(peak_mib(device)))


def oom(args, device):
    if device.type != "cuda":
        emit(args.out, section="oom", skipped="needs a CUDA device")
        return
    net = load_spliceai(args.data, device)
    rng = np.random.default_rng(2)
    inputs = chunk_inputs(_synthetic("isolated", 512, rng))  # 512 tracks of 10,101 nt: ~660 MB per layer
    with torch.inference_mode():
        want = Engine("batched", device, 16, 16 * 10_101)(net, inputs)
    torch.cuda.empty_cache()
    total = torch.cuda.mem_get_info(device)[1]
    fraction = min(1.0, 1.0 * 2**30 / total)  # about 1 GiB for this process
    torch.cuda.set_per_process_memory_fraction(fraction, device)
    try:
        engine = Engine("batched", device, 512, 512 * 10_101)
        t0 = time.perf_counter()
        with torch.inference_mode():
            got = engine(net, inputs)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(got, want))
        emit(args.out, section="oom", path="batched", memory_fraction=round(fraction, 4),
             start_positions=512 * 10_101, final_positions=engine.max_positions, seconds=round(time.perf_counter() - t0, 2),
             max_abs_diff=diff, ok=diff <= 1e-6 and engine.max_positions < 512 * 10_101)
        windows = [x.window(inputs, CONTEXT) if isinstance(x, TrackAlt) else x for x in inputs][:256]
        t0 = time.perf_counter()
        y = predict(net, windows, 256, device, None)
        y0 = predict(net, windows[:4], 4, device, None)
        from splicescore.nn.predict import _REDUCED

        emit(args.out, section="oom", path="predict", memory_fraction=round(fraction, 4), batch=256,
             reduced_batch=_REDUCED.get((id(net), str(device))),
             seconds=round(time.perf_counter() - t0, 2),
             max_abs_diff=max(float(np.abs(a - b).max()) for a, b in zip(y[:4], y0)))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)
        torch.cuda.empty_cache()


def table():
    print("\nsection   model     input     engine   prec  batch     SNV/s  GFLOP/SNV  TFLOP/s  of ceiling  peak MiB")
    for r in ROWS:
        if r.get("section") == "speed" and "snv_per_s" in r:
            print(f"speed     {r['model']:9s} {r['input']:9s} {r['engine']:8s} {r['precision']:5s} {r['batch']:5d} "
                  f"{r['snv_per_s']:9.1f} {r['gflop_per_snv']:10.2f} {r['tflops']:8.3f} {r['of_conv_ceiling']:11.3f} "
                  f"{r['peak_mib']:9.0f}")
    for r in ROWS:
        if r.get("section") != "speed" or "snv_per_s" not in r:
            rest = ", ".join(f"{k}={v}" for k, v in r.items() if k != "section")
            print(f"{r['section']:9s} {rest}")
    bad = [r for r in ROWS if r.get("ok") is False]
    print(f"checks: {'all ok' if not bad else f'{len(bad)} FAILED'}")
    return not bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parent / ".gpu_bundle",
                    help="folder with weights/ and golden/ as in ../shared (default: benchmarks/.gpu_bundle)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: every section in seconds (the test suite)")
    ap.add_argument("--seconds", type=float, default=4.0, help="time per speed row")
    ap.add_argument("--keys", type=int, default=None, help="golden windows per model (default 16, quick 1)")
    ap.add_argument("--out", type=Path, default=None, help="also append the JSON lines here")
    ap.add_argument("--snvs", type=int, default=None, help="SNVs per speed row input (default 2048, quick 2)")
    ap.add_argument("--batches", default=None, help="batch sizes of the speed rows (default 16,64,256; quick 8)")
    ap.add_argument("--precisions", default=None, help="precisions of the speed rows (default fp32,bf16)")
    ap.add_argument("--sections", default="env,golden,engines,speed,oom")
    args = ap.parse_args(argv)
    args.keys = args.keys or (1 if args.quick else 16)
    if args.quick:
        args.seconds = min(args.seconds, 0.5)
    device = torch.device(args.device)
    if device.type == "cpu" and args.quick:
        torch.set_num_threads(1)  # predictable on a shared machine (OpenMP threads waiting on each other)
    # cudnn.benchmark stays off, as in the pipeline: the ALT cones' shapes change with every batch
    started = time.perf_counter()
    for name in args.sections.split(","):
        t0 = time.perf_counter()
        try:
            globals()[name](args, device)
        except Exception as exc:  # noqa: BLE001 - report and go on to the next section
            emit(args.out, section=name, ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
        print(f"# {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    emit(args.out, section="total", seconds=round(time.perf_counter() - started, 1))
    return 0 if table() else 1


if __name__ == "__main__":
    sys.exit(main())
