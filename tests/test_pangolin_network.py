"""Pangolin port vs the official networks (``golden/pangolin/dev_raw.npz``, ``dev_supp_raw.npz``).

Every network's 12 output channels on the official inputs (``_x_ref``/``_x_alt``, already strand
flipped) must match ``_out_{ref,alt}_modelMM`` to 1e-5. A subset of keys keeps the runtime
down (12 networks x ~10 kb cost about 1 s per sequence on one CPU core); it covers both strands,
SNVs, deletions and insertions. The ``slow`` test runs every key of both files.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from splicescore.models.pangolin.convert import (
    convert_pangolin_file,
    convert_pangolin_files,
    convert_pangolin_state,
    map_pangolin_key,
    pangolin_weight_files,
)
from splicescore.models.pangolin.network import (
    SPLICE_CHANNELS,
    PangolinEnsemble,
    PangolinNet,
    network_index,
    weight_file_name,
)

from conftest import DEVICES

TOL = 1e-5
# dev (- strand): v00m del8, v12m ins1; supp (+ strand): v05p ins30, v08p SNV
KEYS = {"dev": ["v00m", "v12m"], "dev_supp": ["v05p", "v08p"]}


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    """One intra-op thread: on the shared 2-core machines two threads that wait on each other
    under load made a 10 kb pass ~20x slower (0.14 s -> 2.9 s per network)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def ensemble(shared):
    model = PangolinEnsemble()
    model.load_state_dict(convert_pangolin_files(shared / "weights" / "pangolin"))
    return model.eval()


@pytest.fixture(scope="module")
def raws(shared):
    return {name: np.load(shared / "golden" / "pangolin" / f"{name}_raw.npz") for name in KEYS}


def _x(raw, key, allele) -> torch.Tensor:
    return torch.from_numpy(raw[f"{key}_x_{allele}"].astype(np.float32))


def _cases(raws, keys=KEYS):
    return [(raws[name], key, allele) for name in keys for key in keys[name] for allele in ("ref", "alt")]


def _all_keys(raws):
    return {name: sorted({k.split("_")[0] for k in raw.files if k.endswith("_x_ref")})
            for name, raw in raws.items()}


def _batch(xs):
    """Right-pad with N (all-zero columns) to one length."""
    length = max(x.shape[-1] for x in xs)
    batch = torch.zeros(len(xs), 4, length)
    for i, x in enumerate(xs):
        batch[i, :, : x.shape[-1]] = x
    return batch


def _check_raw_channels(ensemble, cases, chunk=8):
    worst = 0.0
    for start in range(0, len(cases), chunk):
        worst = max(worst, _worst_raw(ensemble, cases[start : start + chunk]))
    assert worst <= TOL, worst


def _worst_raw(ensemble, cases):
    batch = _batch([_x(raw, key, allele) for raw, key, allele in cases])
    with torch.no_grad():
        out = ensemble.forward_raw(batch).numpy()  # (12, B, 12, L)
    assert out.shape[:3] == (12, len(cases), 12)
    worst = 0.0
    for i, (raw, key, allele) in enumerate(cases):
        for m in range(12):
            official = raw[f"{key}_out_{allele}_model{m:02d}"]
            assert official.shape == (12, raw[f"{key}_x_{allele}"].shape[1] - 10000)
            mine = out[m, i, :, : official.shape[1]]
            worst = max(worst, float(np.abs(mine - official).max()))
    return worst


def test_raw_channels_of_every_network_match_official(ensemble, raws):
    _check_raw_channels(ensemble, _cases(raws))


@pytest.mark.slow
def test_raw_channels_all_keys(ensemble, raws):
    _check_raw_channels(ensemble, _cases(raws, _all_keys(raws)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch_size", [1, 3])
def test_forward_gives_each_tissues_splice_channel(ensemble, raws, device, batch_size):
    """``forward`` = channel 3t+1 of tissue t's own replicate networks, for any batch size and
    any right padding."""
    cases = _cases(raws)
    cases = [cases[i % len(cases)] for i in range(batch_size)]
    batch = _batch([_x(raw, key, allele) for raw, key, allele in cases])
    model = ensemble.to(device)
    try:
        with torch.no_grad():
            out = model(batch.to(device)).cpu().numpy()
    finally:
        ensemble.to("cpu")
    assert out.shape[:3] == (batch_size, 3, 4)
    worst = 0.0
    for i, (raw, key, allele) in enumerate(cases):
        for t in range(4):
            for r in range(1, 4):
                official = raw[f"{key}_out_{allele}_model{network_index(t, r):02d}"][SPLICE_CHANNELS[t]]
                worst = max(worst, float(np.abs(out[i, r - 1, t, : official.shape[0]] - official).max()))
    assert worst <= TOL, worst


@pytest.mark.parametrize("device", DEVICES)
def test_valid_equals_same_padding(shared, raws, device):
    net = PangolinNet()
    net.load_state_dict(convert_pangolin_file(shared / "weights" / "pangolin" / weight_file_name(2, 3)))
    net = net.eval().to(device)
    x = _x(raws["dev"], "v04m", "ref")[None].to(device)
    with torch.no_grad():
        a, b = net(x).cpu(), net(x, valid=False).cpu()
        p = net.splice_probability(x, 2).cpu()
    assert a.shape == b.shape == (1, 12, x.shape[-1] - net.context)
    assert float((a - b).abs().max()) <= TOL
    assert float((a[:, SPLICE_CHANNELS[2]] - p).abs().max()) == 0.0


def test_file_order_and_names(shared, raws):
    paths = pangolin_weight_files(shared / "weights" / "pangolin")
    for raw in raws.values():  # the order the golden run (and the CLI) used for model00..11
        assert [p.name for p in paths] == [str(n) for n in raw["model_order"]]
    with pytest.raises(ValueError, match="must be"):
        convert_pangolin_files(paths[1:2] + paths[:1] + paths[2:])


def test_converter_maps_every_key_and_rejects_bad_input(shared):
    path = shared / "weights" / "pangolin" / "final.1.0.3.v2"
    official = torch.load(path, map_location="cpu", weights_only=True)
    assert len(official) == 252
    mapped = {map_pangolin_key(k) for k in official}
    assert mapped == set(PangolinNet().state_dict())
    state = convert_pangolin_state(official)
    PangolinNet().load_state_dict(state, strict=True)
    for k, v in official.items():
        assert torch.equal(state[map_pangolin_key(k)], v)

    bad = dict(official)
    bad["conv_last1.weight"] = torch.zeros(3, 32, 1)
    with pytest.raises(ValueError, match="shape"):
        convert_pangolin_state(bad)
    bad = dict(official)
    del bad["resblocks.15.conv2.bias"]
    with pytest.raises(ValueError, match="missing"):
        convert_pangolin_state(bad)
    bad = dict(official)
    bad["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="unexpected"):
        convert_pangolin_state(bad)


def test_scorer_tracks_equal_plain_windows(shared, ensemble):
    """Pangolin through reference tracks and incremental ALT passes (what ``vcf`` runs on the CPU):
    REF slices are the plain windows' outputs, ALTs (SNVs, insertions, deletions, both strands)
    within 1e-6 of their full windows, and the INFO strings are the same."""
    from splicescore.io.annotation import load_annotation
    from splicescore.io.genome import Reference
    from splicescore.nn.predict import predict
    from splicescore.core.scorer import Variant
    from splicescore.models.pangolin.scorer import PangolinScorer
    from splicescore.models.pangolin.official import CONTEXT
    from splicescore.nn.engine import Engine
    from splicescore.nn.tracks import TrackAlt, TrackSlice

    reference = Reference(shared / "data/grch38/chr17_brca1_region.fa.gz")
    genes = load_annotation(str(shared / "data/annotation/grch38_slices.gtf"), "auto", None)
    rows = [l.split("\t") for l in (shared / "golden/pangolin/dev_supp.input.vcf").read_text().splitlines()
            if not l.startswith("#")]
    # deletions, SNVs and insertions in three clusters (plus- and minus-strand genes)
    variants = [Variant(r[0], int(r[1]), r[3], tuple(r[4].split(",")), i)
                for i, r in enumerate(rows) if i in (0, 1, 5, 12, 13, 19, 20, 24)]
    plain = PangolinScorer(reference, genes, 50, incremental=False)
    inc = PangolinScorer(reference, genes, 50)
    inputs_p, plans_p = plain.plan_chunk(variants)
    inputs_i, plans_i = inc.plan_chunk(variants)
    alts = [i for i, x in enumerate(inputs_i) if isinstance(x, TrackAlt)]
    kinds = {(x.track, np.sign(x.edit.shift)) for x in (inputs_i[i] for i in alts)}
    assert {k for _, k in kinds} == {-1, 0, 1}  # insertions, SNVs, deletions
    assert len({x.track for x in (inputs_i[i] for i in alts)}) >= 3
    assert {u.strand for p in plans_i for u in p.state[1]} == {"+", "-"}
    entries = [i for i, x in enumerate(inputs_i) if isinstance(x, (TrackAlt, TrackSlice))]
    assert len(entries) == len(inputs_p)  # every window became a track entry
    for i in entries:
        assert np.array_equal(inputs_i[i].window(inputs_i, CONTEXT), inputs_p[i])
    out_p = predict(ensemble, inputs_p)
    out_i = Engine("auto", "cpu")(ensemble, inputs_i)
    for i in entries:
        assert out_i[i].shape == out_p[i].shape
        assert np.abs(out_i[i] - out_p[i]).max() <= 1e-6
    infos = [(plain.finish(v, pp, out_p).info, inc.finish(v, pi, out_i).info) for v, pp, pi in zip(variants, plans_p, plans_i)]
    # the GPU path (compute_windows): tracks and ALTs run as whole windows, REF slices are cut from their
    # track's output, not run again (regression: every track was run on top of every REF window). A fake
    # local network (output j = the centre base's code) makes the cut exact.
    from splicescore.nn.tracks import compute_windows

    ran = []

    def fake_run(windows):
        ran.extend(windows)
        return [np.broadcast_to(w[CONTEXT // 2 : len(w) - CONTEXT // 2] @ np.arange(1.0, 5.0), (3, 4, len(w) - CONTEXT))
                for w in windows]

    out_w = compute_windows(inputs_i, CONTEXT, fake_run)
    assert len(ran) == len(inputs_i) - sum(isinstance(x, TrackSlice) for x in inputs_i)
    for i in entries:
        assert np.array_equal(out_w[i], fake_run([inputs_p[i]])[0])
    assert sum(a is not None for a, _ in infos) == len(variants)
    assert all(a == b for a, b in infos)
