"""The compute engine (:mod:`splicescore.nn.engine`): the batched incremental path equals full windows on
SpliceAI and Pangolin chunks (SNVs, insertions, deletions, both strands), its FLOPs are what it runs,
out-of-memory handling, reduced precision and its NaN guard, and the CLI's ``--engine``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import run_main
from splicescore.nn import engine as eng
from splicescore.nn import batched as bat
from splicescore.nn.batched import batched_tracks
from splicescore.nn.engine import Engine
from splicescore.nn.transfer import base_codes as _codes, to_device_onehot
from conv_flops import edit_flops, window_flops
from splicescore.models.spliceai.network import SpliceAIEnsemble
from splicescore.nn.predict import is_oom, predict
from splicescore.core.scorer import Variant
from splicescore.nn.tracks import TrackAlt, TrackSlice

TOL = 1e-6  # tests/test_incremental.py's tolerance
FASTA = "data/grch38/chr17_brca1_region.fa.gz"


def _variants(shared, name, pick):
    rows = [l.split("\t") for l in (shared / name).read_text().splitlines() if not l.startswith("#")]
    return [Variant(r[0], int(r[1]), r[3], tuple(r[4].split(",")), i) for i, r in enumerate(rows) if pick(i)]


@pytest.fixture(scope="module")
def spliceai_chunk(shared):
    from splicescore.io.annotation import load_spliceai_table
    from splicescore.io.genome import Reference
    from splicescore.models.spliceai.scorer import SpliceAIScorer

    reference = Reference(shared / FASTA)
    genes = load_spliceai_table(shared / "data/annotation/spliceai_grch38.txt")
    # BRCA1 (-) cluster of DEV, and dev_supp's plus-strand genes with insertions and deletions
    variants = (_variants(shared, "golden/spliceai/dev.input.vcf", lambda i: i < 3)
                + _variants(shared, "golden/spliceai/dev_supp.input.vcf", lambda i: i == 5))
    plain = SpliceAIScorer(reference, genes, 50, incremental=False)
    inc = SpliceAIScorer(reference, genes, 50)
    return variants, plain, inc, plain.plan_chunk(variants), inc.plan_chunk(variants)


def test_spliceai_batched_equals_full_windows(spliceai_ensemble, spliceai_chunk):
    """Every output of the batched engine within TOL of the full window it stands for; the strings
    of the plain windows; several ALT shapes in one chunk; both strands."""
    variants, plain, inc, (inputs_p, plans_p), (inputs_i, plans_i) = spliceai_chunk
    alts = [x for x in inputs_i if isinstance(x, TrackAlt)]
    shapes = {(x.edit.ref_len, x.edit.alt.shape[0]) for x in alts}
    assert (1, 1) in shapes and any(a > 1 for _, a in shapes) and any(r > 1 for r, _ in shapes)
    out_p = predict(spliceai_ensemble, inputs_p)
    engine = Engine("batched", "cpu")
    assert engine.path(spliceai_ensemble, inputs_i) == "batched"
    out_b = engine(spliceai_ensemble, inputs_i)
    for i, x in enumerate(inputs_i):
        if isinstance(x, TrackAlt) or i in range(len(inputs_p)):
            assert out_b[i].shape == out_p[i].shape
            assert np.abs(out_b[i] - out_p[i]).max() <= TOL
    for v, pp, pi in zip(variants, plans_p, plans_i):
        assert plain.finish(v, pp, out_p).info == inc.finish(v, pi, out_b).info
    # a small cap: several track batches, edit batches and REF re-runs; the same numbers to TOL
    sub = _one_track(inputs_i)
    whole, small = Engine("batched", "cpu"), Engine("batched", "cpu", max_positions=2_000)
    out_w, out_s = whole(spliceai_ensemble, sub), small(spliceai_ensemble, sub)
    assert max(float(np.abs(a - b).max()) for a, b in zip(out_s, out_w)) <= TOL
    assert small.flops > whole.flops  # the REF pass ran again for the next batch of edits


def test_dry_run_flops_are_the_planned_cones():
    """On the meta device the engine runs the same code on shapes only; its FLOP count is the
    trunk work of one valid pass per track plus each edit's cone (the incremental formulas), and a
    real run counts the same."""
    net = _Tiny()
    inputs, _ = _tiny_chunk(net)
    inputs = [inputs[2]] + [TrackAlt(0, x.edit) for x in inputs if isinstance(x, TrackAlt) and x.track == 2]
    trunk = net.trunks[0]
    tracks = {x.track for x in inputs if isinstance(x, (TrackAlt, TrackSlice))}
    want = sum(window_flops(trunk, len(inputs[t]) - net.context) for t in tracks)
    want += sum(edit_flops(trunk, x.edit) for x in inputs if isinstance(x, TrackAlt))
    dry, real = Engine("batched", "meta"), Engine("batched", "cpu")
    dry(_Tiny().to("meta"), inputs)
    real(net, inputs)
    assert dry.flops == real.flops == 2 * want


@pytest.mark.slow
def test_pangolin_batched_equals_full_windows(shared):
    """(Default suite: the Pangolin golden strings through ``--engine batched``,
    tests/test_pangolin_golden.py.)"""
    from splicescore.io.annotation import load_annotation
    from splicescore.models.pangolin.convert import convert_pangolin_files
    from splicescore.io.genome import Reference
    from splicescore.models.pangolin.network import PangolinEnsemble
    from splicescore.models.pangolin.scorer import PangolinScorer

    net = PangolinEnsemble()
    net.load_state_dict(convert_pangolin_files(shared / "weights" / "pangolin"))
    net.eval()
    reference = Reference(shared / FASTA)
    genes = load_annotation(str(shared / "data/annotation/grch38_slices.gtf"), "auto", None)
    # a deletion and an SNV on a minus-strand gene, an insertion on a plus-strand one
    variants = _variants(shared, "golden/pangolin/dev_supp.input.vcf", lambda i: i in (0, 1, 5, 19))
    plain, inc = PangolinScorer(reference, genes, 50, incremental=False), PangolinScorer(reference, genes, 50)
    inputs_p, plans_p = plain.plan_chunk(variants)
    inputs_i, plans_i = inc.plan_chunk(variants)
    assert {np.sign(x.edit.shift) for x in inputs_i if isinstance(x, TrackAlt)} == {-1, 0, 1}
    out_p = predict(net, inputs_p)
    out_b = Engine("batched", "cpu")(net, inputs_i)
    for i in range(len(inputs_p)):
        assert out_b[i].shape == out_p[i].shape
        assert np.abs(out_b[i] - out_p[i]).max() <= TOL
    for v, pp, pi in zip(variants, plans_p, plans_i):
        assert plain.finish(v, pp, out_p).info == inc.finish(v, pi, out_b).info


def test_engine_paths():
    net = SpliceAIEnsemble(1)
    track = [np.zeros((10_010, 4), np.float32), TrackSlice(0, 5000, 10)]
    assert Engine("auto", "cpu").path(net, track) == "tracks"
    assert Engine("auto", "meta").path(net, track) == "batched"
    assert Engine("windows", "cpu").path(net, track) == "windows"
    assert Engine("batched", "cpu").path(net, [np.zeros((10_010, 4))]) == "windows"  # nothing to batch
    assert Engine("batched", "cpu").path(torch.nn.Identity(), track) == "windows"  # no members
    with pytest.raises(ValueError):
        Engine("fast")


def test_codes_and_device_one_hot():
    rng = np.random.default_rng(1)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 50)]
    x[[3, 17]] = 0  # N
    codes = _codes(x)
    assert codes.dtype == np.uint8 and set(codes[[3, 17]]) == {4}
    assert np.array_equal(torch.eye(5, 4)[torch.from_numpy(codes).long()].numpy(), x)
    assert _codes(x * 0.5) is None and _codes(np.ones((3, 4), np.float32)) is None
    assert torch.equal(to_device_onehot([x, x], torch.device("cpu")), torch.from_numpy(np.stack([x.T, x.T])))


def test_oom_errors_are_recognised_and_halve_the_batch(monkeypatch):
    """cuDNN's allocation failure counts as out of memory: the batch is halved, the reduced size is
    remembered for the next call, and other RuntimeErrors pass through."""
    from splicescore.nn import predict as pr

    assert is_oom(RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"))
    assert is_oom(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not is_oom(RuntimeError("shape mismatch")) and not is_oom(ValueError("out of memory"))
    sizes = []
    real = pr._run_batch

    def flaky(model, windows, device):
        sizes.append(len(windows))
        if len(windows) > 2:
            raise RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED")
        return real(model, windows, device)

    monkeypatch.setattr(pr, "_run_batch", flaky)
    net = torch.nn.Conv1d(4, 2, 1).requires_grad_(False)
    net.context = 0
    xs = [np.eye(4, dtype=np.float32)[np.arange(8) % 4] for _ in range(8)]
    want = [net(torch.from_numpy(x.T)[None])[0].numpy() for x in xs]
    got = pr._predict_batched(net, xs, 8, torch.device("cpu"), None)
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(got, want))
    assert sizes[0] == 8 and max(sizes[1:]) <= 4
    sizes.clear()
    pr._predict_batched(net, xs, 8, torch.device("cpu"), None)
    assert sizes[0] == 2  # remembered
    monkeypatch.setattr(pr, "_run_batch", lambda *a: (_ for _ in ()).throw(RuntimeError("shape mismatch")))
    with pytest.raises(RuntimeError, match="shape"):
        pr._predict_batched(net, xs, 8, torch.device("cpu"), None)


def test_engine_oom_halves_its_cap_and_retries(monkeypatch, spliceai_ensemble):
    calls = []
    real = eng.batched_tracks

    def flaky(*args):
        calls.append(args[-1].max_positions)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return ["ok"]

    monkeypatch.setattr(eng, "batched_tracks", flaky)
    engine = Engine("batched", "cpu", max_positions=1000)
    assert engine._batched(spliceai_ensemble, [], None) == ["ok"]
    assert calls == [1000, 500] and engine.max_positions == 500
    assert real is batched_tracks


class _Tiny(torch.nn.Module):
    """A small two-member trunk ensemble (random weights, context 36) with the engine's interface:
    cheap enough for reduced precision on the CPU, where bf16 convolutions are slow."""

    def __init__(self):
        super().__init__()
        from splicescore.nn.trunk import DilatedResidualTrunk

        g = torch.Generator().manual_seed(0)
        self.trunks = torch.nn.ModuleList(
            DilatedResidualTrunk(8, (5, 3, 3, 5), (1, 2, 3, 2), group_size=2) for _ in range(2))
        self.heads = torch.nn.ModuleList(torch.nn.Conv1d(8, 3, 1) for _ in range(2))
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
            for m in self.modules():
                if isinstance(m, torch.nn.BatchNorm1d):
                    m.running_mean.copy_(torch.randn(8, generator=g) * 0.1)
                    m.running_var.copy_(torch.rand(8, generator=g) + 0.5)
        self.eval().requires_grad_(False)

    @property
    def context(self):
        return self.trunks[0].context

    def members(self):
        return [(t, lambda f, h=h: torch.softmax(h(f), dim=1)) for t, h in zip(self.trunks, self.heads)]

    def combine_members(self, parts):
        from splicescore.nn.incremental import combine_replicas

        return combine_replicas(parts)

    def combine_blocks(self, parts):
        ref, alts = self.combine_members([(p[0], list(p[1:])) for p in parts])
        return [ref] + list(alts)

    def forward(self, x):
        return sum(torch.softmax(h(t(x)), dim=1) for t, h in zip(self.trunks, self.heads)) / 2


def _tiny_chunk(net, seed=0):
    """Two tracks of one length and one of another; SNVs, insertions, deletions (some at the
    tracks' ends), REF slices; and the full windows they stand for."""
    from splicescore.nn.incremental import AltEdit

    rng = np.random.default_rng(seed)
    half, d = net.context // 2, 4
    inputs = []
    for length in (120, 120, 97):
        x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, length)]
        x[rng.integers(0, length, 3)] = 0  # N
        inputs.append(x)
    for t in range(3):
        n = len(inputs[t])
        for rl, al in ((1, 1), (1, 1), (1, 3), (4, 1), (2, 2)):
            lo, hi = half + d, n - 1 - half - d - (rl - 1)
            for q in (lo, hi, int(rng.integers(lo, hi + 1))):
                alt = np.eye(4, dtype=np.float32)[rng.integers(0, 4, al)]
                n_out = 2 * d + 1 - rl + al
                inputs.append(TrackAlt(t, AltEdit(q, rl, alt, q - d, n_out)))
        inputs.append(TrackSlice(t, half + 3, 20))
    windows = [x if not isinstance(x, (TrackAlt, TrackSlice)) else x.window(inputs, net.context) for x in inputs]
    return inputs, windows


def test_tiny_batched_equals_full_windows_for_every_shape():
    net = _Tiny()
    inputs, windows = _tiny_chunk(net)
    with torch.inference_mode():
        want = [net(torch.from_numpy(w.T)[None])[0].numpy() for w in windows]
    for cap in (None, 150):  # one batch per shape, or one edit per batch and the REF pass re-run
        got = Engine("batched", "cpu", max_positions=cap)(net, inputs)
        assert [g.shape for g in got] == [w.shape for w in want]
        assert max(float(np.abs(g - w).max()) for g, w in zip(got, want)) <= TOL


def test_reduced_precision_is_close_and_guarded(monkeypatch, caplog):
    """bf16/fp16 convolutions (fp32 accumulation, fp32 residual/skip sums) on the CPU: finite, close
    to fp32, not the same numbers. A NaN in the low-precision outputs reruns the chunk in fp32."""
    net = _Tiny()
    inputs, _ = _tiny_chunk(net, 1)
    exact = Engine("batched", "cpu")(net, inputs)
    for precision in ("bf16", "fp16"):
        low = Engine("batched", "cpu", precision=precision)(net, inputs)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(low, exact))
        assert 0 < diff < 0.05, precision
        assert all(np.isfinite(a).all() and a.dtype == np.float32 for a in low)

    real = bat._Runner.conv

    def poisoned(self, x, conv, dilation=1):
        y = real(self, x, conv, dilation)
        return y * float("nan") if self.low is not None else y

    monkeypatch.setattr(bat._Runner, "conv", poisoned)
    guarded = Engine("batched", "cpu", precision="bf16")(net, inputs)
    assert "rerun in fp32" in caplog.text
    assert all(np.array_equal(a, b) for a, b in zip(guarded, exact))


def _one_track(inputs):
    """The first track of a chunk with its entries, renumbered (a small input list)."""
    t = next(x.track for x in inputs if isinstance(x, TrackAlt))
    keep = [x for x in inputs if isinstance(x, (TrackAlt, TrackSlice)) and x.track == t][:6]
    out = [inputs[t]]
    for x in keep:
        out.append(TrackAlt(0, x.edit) if isinstance(x, TrackAlt) else TrackSlice(0, x.out_lo, x.n_out))
    return out


def test_cli_engine_option_and_cache_key(capsys):
    """``--engine`` is a ``vcf`` option; the cache key names a non-default engine (the default's
    keys are unchanged). (The strings of ``--engine batched`` are checked against the official ones
    in the golden tests; ``--precision bf16`` on the CPU in tests/test_devices.py.)"""
    from splicescore.cache import scoring_settings
    from splicescore.pipeline import RunConfig

    assert run_main(["vcf", "--help"]) == 0
    assert "--engine [auto|batched|windows]" in capsys.readouterr().out
    cfg = lambda e: RunConfig(input="", output="", reference="", engine=e)  # noqa: E731
    assert "engine" not in scoring_settings(cfg("auto"), "cpu")
    assert scoring_settings(cfg("batched"), "cpu")["engine"] == "batched"
    assert scoring_settings(cfg("windows"), "cpu")["engine"] == "windows"
    # bf16 on the CPU: auto runs the batched engine, so its key is that of --engine batched
    bf16 = lambda e: RunConfig(input="", output="", reference="", engine=e, precision="bf16")  # noqa: E731
    assert scoring_settings(bf16("auto"), "cpu") == scoring_settings(bf16("batched"), "cpu")
    assert scoring_settings(bf16("auto"), "cpu")["engine"] == "batched"
    # every model's windows get the casts on the CPU now: keys apart from the batched-only casts' before
    assert scoring_settings(bf16("auto"), "cpu")["cpu_casts"] == "all" and "cpu_casts" not in scoring_settings(cfg("auto"), "cpu")


def test_exact_math_turns_tf32_off_and_restores_it():
    from splicescore.nn.predict import exact_math

    before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        with exact_math("cuda"):
            with exact_math("cuda"):  # nested (another device worker)
                assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
            assert not torch.backends.cudnn.allow_tf32
        assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def test_batched_predict_keeps_float64_outputs():
    """HAL's scores are float64: the batched window path returns them as float64 (regression: they
    were cast to float32 on a GPU)."""
    from splicescore.nn.predict import _predict_batched

    class F64(torch.nn.Module):
        def forward(self, x):
            return x.double().sum(dim=(1, 2)) / 3

    xs = [np.full((5, 4), 0.1, np.float32) for _ in range(3)]
    with torch.inference_mode():
        got = _predict_batched(F64(), xs, 2, torch.device("cpu"), None)
    assert all(y.dtype == np.float64 for y in got)


#: the windows and batched engines under bf16/fp16 run the same casts (splicescore.nn.precision):
#: they differ only by the rounding of different convolution lengths (6e-8..9e-8 on the tiny network)
LOW_ENGINES_TOL = 1e-5


def test_windows_and_batched_reduced_precision_are_one_scheme():
    """bf16/fp16 through the windows engine (plain windows, predict) and the batched engine: the
    same explicit casts, so within LOW_ENGINES_TOL of each other, both close to fp32 and not equal
    to it; fp32 windows are the network's own forward, bit for bit."""
    net = _Tiny()
    inputs, windows = _tiny_chunk(net, 2)
    torch.set_num_threads(1)  # the CPU windows' single-threaded kernels
    with torch.inference_mode():
        forward = [net(torch.from_numpy(w.T)[None])[0].numpy() for w in windows]
    exact = Engine("windows", "cpu")(net, inputs)
    whole = [i for i, x in enumerate(inputs) if not isinstance(x, TrackSlice)]  # slices: cut from their track
    assert all(np.array_equal(exact[i], forward[i]) for i in whole)
    assert all(np.array_equal(a, b) for a, b in zip(predict(net, windows, precision="fp32"), forward))
    for precision in ("bf16", "fp16"):
        win = Engine("windows", "cpu", precision=precision)(net, inputs)
        bat_ = Engine("batched", "cpu", precision=precision)(net, inputs)
        assert all(a.dtype == np.float32 and a.shape == b.shape for a, b in zip(win, exact))
        assert max(float(np.abs(a - b).max()) for a, b in zip(win, bat_)) <= LOW_ENGINES_TOL, precision
        diff = max(float(np.abs(a - b).max()) for a, b in zip(win, exact))
        assert 0 < diff < 0.05, precision
    # --engine auto on the CPU in reduced precision: the batched path (the tracks path is fp32 only)
    assert Engine("auto", "cpu", precision="bf16").path(net, inputs) == "batched"


def test_windows_reduced_precision_guard_reruns_the_batch_in_fp32(monkeypatch, caplog):
    from splicescore.nn import precision as prec

    net = _Tiny()
    _, windows = _tiny_chunk(net, 1)
    windows = windows[:5]
    exact = predict(net, windows)
    real = prec.ReducedPrecision.conv1d

    def poisoned(self, x, *args, **kwargs):
        y = real(self, x, *args, **kwargs)
        return y * float("nan") if self.low is not None else y

    monkeypatch.setattr(prec.ReducedPrecision, "conv1d", poisoned)
    for device_batched in (False, True):
        caplog.clear()
        if device_batched:  # the GPU's batched-window loop, run on the CPU
            from splicescore.nn.predict import _predict_batched

            with torch.inference_mode():
                got = _predict_batched(net, windows, 4, torch.device("cpu"), None, "bf16")
                want = _predict_batched(net, windows, 4, torch.device("cpu"), None)
        else:
            got, want = predict(net, windows, precision="bf16"), exact
        assert "rerun in fp32" in caplog.text
        assert all(np.array_equal(a, b) for a, b in zip(got, want))


def test_explicit_casts_on_any_network():
    """A network without ``members()`` (APARENT2, SpTransformer) runs whole under the casts:
    convolutions, linear layers and matrix products in bf16 with float32 results, everything else
    float32; float64 work (HAL) is never cast and stays exact."""
    from splicescore.nn.precision import ExplicitCasts, ReducedPrecision, guarded_forward

    class Mixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(4, 6, 3, padding=1)
            self.lin = torch.nn.Linear(6, 6)

        def forward(self, x):
            h = torch.relu(self.conv(x)).transpose(1, 2)  # (B, L, 6)
            h = self.lin(h)
            return torch.softmax(h @ h.transpose(1, 2), dim=-1) + torch.matmul(h, h.transpose(1, 2)).mean()

    torch.manual_seed(0)
    net = Mixed().eval().requires_grad_(False)
    x = torch.randn(2, 4, 9)
    casts = ReducedPrecision("bf16")
    with torch.inference_mode():
        with ExplicitCasts(casts):
            y = net(x)
        exact = net(x)
    assert casts.casts == 4 and y.dtype == torch.float32
    assert 0 < float((y - exact).abs().max()) < 0.05

    class F64(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.linear(x.double().transpose(1, 2), torch.ones(2, 4, dtype=torch.float64))

    with torch.inference_mode():
        assert torch.equal(guarded_forward(F64(), x, "bf16"), F64()(x))
    casts = ReducedPrecision("fp32")
    with torch.inference_mode(), ExplicitCasts(casts):
        assert torch.equal(net(x), exact) and casts.casts == 0


def _scored_chunk(net, seed=3, d=4):
    """Tracks with SNV, insertion and deletion edits, each with its REF slice: SpliceAI-like units
    ``(ref_input, ref_offset, alt_input, minus, ref_len, alt_len, boundary_offset)``."""
    from splicescore.nn.incremental import AltEdit

    rng = np.random.default_rng(seed)
    half, cov = net.context // 2, 2 * d + 1
    inputs, units = [], []
    for length in (120, 120, 97):
        t = len(inputs)
        inputs.append(np.eye(4, dtype=np.float32)[rng.integers(0, 4, length)])
        for rl, al in ((1, 1), (1, 1), (1, 3), (3, 1)):
            q = int(rng.integers(half + d, length - half - d - rl))
            minus = bool(rng.integers(0, 2))
            inputs.append(TrackSlice(t, q - d, cov + rl - 1))  # REF: cov positions from ref_offset
            alt = np.eye(4, dtype=np.float32)[rng.integers(0, 4, al)]
            inputs.append(TrackAlt(t, AltEdit(q, rl, alt, q - d, cov - rl + al)))
            units.append((len(inputs) - 2, rl - 1 if minus else 0, len(inputs) - 1, minus, rl, al,
                          int(rng.integers(-d - 1, d + 2))))
    return inputs, units, cov


@pytest.mark.parametrize("path", ["windows", "tracks", "batched"])
def test_engine_reduction_hook_equals_host_scores(path):
    """``engine(net, inputs, reduce=f)``: ``f`` gets the outputs as device tensors and only its result
    comes back; SpliceAI DS/DP reduced that way equal, bit for bit, ``delta_scores`` on the outputs
    the engine returns without a reduction, on every path."""
    from splicescore.models.spliceai.scorer import align_alt, delta_scores
    from splicescore.nn.reduce import SpliceAIDeltaRequest

    net = _Tiny()
    inputs, units, cov = _scored_chunk(net)
    engine = Engine("auto" if path == "tracks" else path, "cpu")
    assert engine.path(net, inputs) == path
    outputs = engine(net, inputs)
    seen = []

    request = SpliceAIDeltaRequest(units, cov)

    def probe(device_outputs):
        seen.append(all(isinstance(y, torch.Tensor) and y.device == engine.device for y in device_outputs))
        return request(device_outputs)

    rows = request.unpack(engine(net, inputs, reduce=probe))
    for k, (ri, ro, ai, minus, rl, al, bo) in enumerate(units):
        y_ref, y_alt = outputs[ri].T, outputs[ai].T
        if minus:
            y_ref, y_alt = y_ref[::-1], y_alt[::-1]
        y_ref, y_alt = y_ref[ro : ro + cov], align_alt(y_alt, rl, al, cov)
        assert rows[k]["ds_raw"].dtype == np.float32 and rows[k]["dp"].dtype == np.int64
        for mask in (False, True):
            want = delta_scores(y_ref, y_alt, cov, bo, mask)
            ds = rows[k]["ds_masked" if mask else "ds_raw"]
            assert ds.tobytes() == np.array(want.ds, np.float32).tobytes() and tuple(rows[k]["dp"]) == want.dp
        at = np.array(want.dp) + cov // 2
        channels = [1, 1, 2, 2]
        assert rows[k]["ref"].tobytes() == y_ref[at, channels].tobytes()
        assert rows[k]["alt"].tobytes() == y_alt[at, channels].tobytes()
    assert seen == [True]


def test_engine_reduction_hook_pangolin_layout():
    """The hook with Pangolin's reductions: the tiny network's 3 channels as 3 replicates of one
    tissue; per-tissue delta, loss/gain, masking and extremes equal the official numpy functions."""
    from splicescore.models.pangolin import official as pg
    from splicescore.nn import reduce as rd

    net = _Tiny()
    inputs, units, cov = _scored_chunk(net, seed=5)
    d = cov // 2
    snvs = [u for u in units if u[4] == u[5] and not u[3]]
    engine = Engine("batched", "cpu")
    outputs = engine(net, inputs)

    def reduce(dev):
        ref = torch.stack([dev[u[0]] for u in snvs])[:, :, None]  # (N, R=3, T=1, L)
        alt = torch.stack([dev[u[2]] for u in snvs])[:, :, None]
        loss, gain = rd.pangolin_loss_gain(rd.pangolin_per_tissue_delta(ref, alt, d))
        ann = torch.zeros_like(loss, dtype=torch.bool)
        ann[:, d] = True
        return rd.pangolin_extremes(*rd.pangolin_mask_scores(loss, gain, ann, True))

    g, gv, lo, lv = engine(net, inputs, reduce=reduce)
    for k, u in enumerate(snvs):
        loss, gain = pg.loss_gain(pg.per_tissue_delta(outputs[u[0]][:, None], outputs[u[2]][:, None], d))
        loss, gain, _ = pg.mask_scores(loss, gain, [1000], 1000, d)
        assert (g[k], lo[k]) == (np.argmax(gain), np.argmin(loss))
        assert gv[k].tobytes() == gain[g[k]].tobytes() and lv[k].tobytes() == loss[lo[k]].tobytes()
