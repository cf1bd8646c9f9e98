"""SpTransformer port vs the official model (``golden/sptransformer``, random weights): <= 1e-5.

The golden files hold the official code's outputs (``ShenLab-Genomics/SpliceTransformer@b67a51d``,
sinkhorn-transformer 0.11.4, torch 2.13, CPU) for 18 real 8,201-nt windows with the random-weight
checkpoint ``weights/sptransformer/random_official_format.ckpt`` in the official on-disk format.
A forward pass costs a few seconds on 2 CPU cores, so the default suite runs 5 windows (two with
intermediates, the right-N-padded one and the ref/alt pair of the variant whose tissue mask flips);
``-m slow`` runs all 18 windows and scores every variant end to end.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from splicescore.models.sptransformer.convert import (
    convert_sptransformer_checkpoint,
    convert_sptransformer_state,
    load_official_state_dict,
)
from splicescore.models.sptransformer.network import SpTransformerNet
from splicescore.models.sptransformer.official import (
    TISSUE_NAMES,
    encode_window,
    format_score,
    one_hot_encode,
    tissue_flags,
    variant_scores,
)

from conftest import DEVICES

TOL = 1e-5
# 0 and 10 have intermediates (10: first 3,000 nt are N); 11: last 2,500 nt are N;
# 1 / 13: ref / alt of V2, whose tissue mask flips at one position
SUBSET = [0, 10, 11, 1, 13]


@pytest.fixture(scope="module")
def kit(shared):
    return shared / "golden" / "sptransformer"


@pytest.fixture(scope="module")
def ckpt(shared):
    return shared / "weights" / "sptransformer" / "random_official_format.ckpt"


@pytest.fixture(scope="module")
def golden(kit):
    return np.load(kit / "parity.npz")


@pytest.fixture(scope="module")
def inter(kit):
    path = kit / "parity_intermediates.npz"
    if not path.exists():
        pytest.skip("parity_intermediates.npz is not there")
    return np.load(path)


@pytest.fixture(scope="module")
def model(ckpt):
    net = SpTransformerNet()
    net.load_state_dict(convert_sptransformer_checkpoint(ckpt), strict=True)
    return net.eval()


def _x(golden, idx) -> torch.Tensor:
    return torch.from_numpy(golden["onehot"][list(idx)].astype(np.float32)).transpose(1, 2)


def _stream_slice(inter) -> slice:
    pos = inter["stream_slice_positions"]
    assert np.array_equal(pos, np.arange(pos[0], pos[-1] + 1))
    return slice(int(pos[0]), int(pos[-1]) + 1)


@pytest.fixture(scope="module")
def subset_run(model, golden, inter):
    with torch.no_grad():
        rec = model.forward_intermediates(_x(golden, SUBSET), stream_positions=_stream_slice(inter))
    return {k: (v.numpy() if isinstance(v, torch.Tensor) else [t.numpy() for t in v]) for k, v in rec.items()}


def _maxdiff(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


def _check_outputs(raw, probs, sort_idx, sort_val, golden, idx):
    idx = list(idx)
    assert raw.shape == golden["raw"][idx].shape
    assert _maxdiff(raw, golden["raw"][idx]) <= TOL
    assert _maxdiff(probs[:, :3], golden["splice_prob"][idx]) <= TOL
    assert _maxdiff(probs[:, 3:], golden["tissue_usage"][idx]) <= TOL
    assert np.array_equal(sort_idx, golden["sort_idx"][idx].astype(np.int64))
    assert _maxdiff(sort_val, golden["sort_val"][idx]) <= TOL


# --- converter -------------------------------------------------------------------------------


def test_checkpoint_keys_and_conversion(kit, ckpt, model):
    official = load_official_state_dict(ckpt)
    with open(kit / "checkpoint_keys.tsv") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert list(official) == [r["key"] for r in rows]
    for r in rows:
        shape = () if r["shape"] == "scalar" else tuple(int(s) for s in r["shape"].split("x"))
        assert tuple(official[r["key"]].shape) == shape
    converted = convert_sptransformer_state(official)
    # 586 official tensors minus the 4 of the unused encoder-0 heads
    assert len(converted) == len(official) - 4 == len(model.state_dict())
    assert torch.equal(converted["pos_rows"], official["attn.pos_emb.weights_0"][0, :, 0])
    assert torch.equal(converted["pos_cols"], official["attn.pos_emb.weights_1"][0, 0])
    assert torch.equal(converted["encoders.1.units.15.conv2.weight"], official["encoder.1.resblocks.15.conv2.weight"])
    assert torch.equal(converted["layers.7.attn.to_kv.weight"], official["attn.attn.layers.layers.7.0.fn.to_kv.weight"])
    assert torch.equal(converted["layers.3.ff.w2.bias"], official["attn.attn.layers.layers.3.1.fn.fn.w2.bias"])


def test_converter_rejects_bad_checkpoints(ckpt):
    official = load_official_state_dict(ckpt)
    with pytest.raises(ValueError, match="unexpected key"):
        convert_sptransformer_state({**official, "attn.extra.weight": torch.zeros(1)})
    bad = dict(official)
    bad["conv2.weight"] = torch.zeros(256, 321, 1)
    with pytest.raises(ValueError, match="shape"):
        convert_sptransformer_state(bad)
    short = {k: v for k, v in official.items() if k != "usage.bias"}
    with pytest.raises(ValueError, match="lacks"):
        convert_sptransformer_state(short)
    no_head = {k: v for k, v in official.items() if not k.startswith("encoder.0.splice_output")}
    with pytest.raises(ValueError, match="splice_output"):
        convert_sptransformer_state(no_head)


def test_loader_reads_state_dict_only_and_strips_prefix(ckpt, tmp_path):
    official = load_official_state_dict(ckpt)
    some = dict(list(official.items())[:3])
    path = tmp_path / "lightning_like.ckpt"
    torch.save(
        {
            "state_dict": {f"model.{k}": v for k, v in some.items()},
            "optimizer_states": [{"state": {0: {"exp_avg": torch.ones(2)}}, "param_groups": [{"lr": 1e-3}]}],
            "epoch": 3,
        },
        path,
    )
    loaded = load_official_state_dict(path)
    assert list(loaded) == list(some)
    assert all(torch.equal(loaded[k], some[k]) for k in some)


# --- encoding ----------------------------------------------------------------------------------


def test_one_hot_matches_official(golden):
    for seq, onehot in zip(golden["seqs"], golden["onehot"]):
        assert np.array_equal(one_hot_encode(str(seq)), onehot)
    assert np.array_equal(one_hot_encode("acgtnN"), one_hot_encode("ACGTNN"))
    assert not one_hot_encode("NN").any()
    with pytest.raises(ValueError):
        one_hot_encode("ACGR")
    # minus strand = reverse complement, N stays all zero
    x = encode_window("AACGTN", "-")
    assert np.array_equal(x, np.ascontiguousarray(one_hot_encode("NACGTT").T, dtype=np.float32))


# --- network -----------------------------------------------------------------------------------


def test_outputs_match_official(subset_run, golden):
    r = subset_run
    _check_outputs(r["raw"], r["probs"], r["sort_idx"], r["sort_val"], golden, SUBSET)


def test_intermediates_match_official(subset_run, inter):
    r = subset_run
    rows = [SUBSET.index(int(i)) for i in inter["seq_index"]]
    enc0, enc1 = (r["encoder_features"][i][rows] for i in (0, 1))
    assert _maxdiff(enc0, inter["enc0_skip"]) <= TOL
    assert _maxdiff(enc1, inter["enc1_skip"]) <= TOL
    assert _maxdiff(r["transformer_input"][rows], inter["transformer_input"]) <= TOL
    assert r["stream"][rows].shape == inter["stream_slice"].shape
    for entry in range(inter["stream_slice"].shape[1]):
        assert _maxdiff(r["stream"][rows, entry], inter["stream_slice"][:, entry]) <= TOL, entry
    assert _maxdiff(r["sort_logits"][rows], inter["sort_logits"]) <= TOL


@pytest.mark.parametrize("device", DEVICES)
def test_batch_size_one_equals_batched(model, golden, subset_run, device):
    """Windows alone (B = 1) give the same numbers as the 5-window batch (bit for bit on CPU).

    Window 11 goes through ``forward_intermediates``, window 13 through the plain ``forward``.
    """
    net = model.to(device)
    exact = device == "cpu"
    try:
        with torch.no_grad():
            rec = net.forward_intermediates(_x(golden, [SUBSET[2]]).to(device), stream_positions=slice(0, 0))
            probs13 = net(_x(golden, [SUBSET[4]]).to(device)).cpu().numpy()
    finally:
        model.to("cpu")
    single = {k: rec[k].cpu().numpy() for k in ("raw", "probs", "sort_idx", "sort_val")}
    _check_outputs(single["raw"], single["probs"], single["sort_idx"], single["sort_val"], golden, [SUBSET[2]])
    assert np.array_equal(single["sort_idx"][0], subset_run["sort_idx"][2])
    for key, value in single.items():
        if exact:
            assert np.array_equal(value[0], subset_run[key][2]), key
        else:
            assert _maxdiff(value[0], subset_run[key][2]) <= TOL, key
    if exact:
        assert np.array_equal(probs13[0], subset_run["probs"][4])
    else:
        assert _maxdiff(probs13[0], subset_run["probs"][4]) <= TOL


def test_probabilities_are_the_activated_logits(subset_run):
    raw, probs = torch.from_numpy(subset_run["raw"]), subset_run["probs"]
    assert np.array_equal(probs, SpTransformerNet.activate(raw).numpy())
    assert _maxdiff(probs[:, :3], raw[:, :3].softmax(dim=1).numpy()) <= 1e-6
    assert _maxdiff(probs[:, 3:], torch.sigmoid(raw[:, 3:]).numpy()) <= 1e-6


def test_rejects_unsupported_lengths(model):
    for length in (8191, 16193):
        with pytest.raises(ValueError, match="input length"):
            model.logits(torch.zeros(1, 4, length))


# --- scores ------------------------------------------------------------------------------------


def _score_rows(kit):
    with open(kit / "parity_scores.tsv") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _strand_pairs(row) -> list[tuple[int, int]]:
    spec = row["parity_index_ref_alt_per_strand"]
    if spec == "none":
        return []
    pairs = []
    for part in spec.split(";"):
        _, ra = part.split(":")
        ref, alt = ra.split("/")
        pairs.append((int(ref), int(alt)))
    return pairs


def _check_score_row(row, score, tissue, thresholds=None):
    assert abs(score - float(row["score"])) <= TOL
    assert format_score(score) == row["score_official_fmt"]
    expected = np.array([float(row[name]) for name in TISSUE_NAMES])
    assert _maxdiff(tissue, expected) <= TOL
    if thresholds is not None:
        th = thresholds["thresholds"]
        flags = tissue_flags(tissue, th["15tissue_z01_mean"], th["15tissue_z01_std"], th["95_15tissue_z01"])
        assert "".join(flags) == row["flags_95pct"]


def test_tissue_names_match_official(kit, golden):
    assert tuple(str(t) for t in golden["tissue_names"]) == TISSUE_NAMES
    assert tuple(json.loads((kit / "thresholds_15tissue.json").read_text())["tissue_order"]) == TISSUE_NAMES
    assert [k for k in _score_rows(kit)[0] if k in TISSUE_NAMES] == list(TISSUE_NAMES)


def test_scores_from_official_outputs(kit, golden):
    """The scoring formula on the official model outputs reproduces the official scores exactly."""
    thresholds = json.loads((kit / "thresholds_15tissue.json").read_text())
    outs = np.concatenate([golden["splice_prob"], golden["tissue_usage"]], axis=1)
    rows = _score_rows(kit)
    assert len(rows) == 5
    for row in rows:
        score, tissue = variant_scores((outs[r], outs[a]) for r, a in _strand_pairs(row))
        assert score == float(row["score"])
        assert np.array_equal(tissue, [float(row[name]) for name in TISSUE_NAMES])
        _check_score_row(row, score, tissue, thresholds)


def test_scores_end_to_end_mask_flip_variant(kit, subset_run):
    """V2 (mask flips at one position) scored from the port's own outputs."""
    row = next(r for r in _score_rows(kit) if r["id"].startswith("V2_"))
    assert _strand_pairs(row) == [(SUBSET[3], SUBSET[4])]
    score, tissue = variant_scores([(subset_run["probs"][3], subset_run["probs"][4])])
    _check_score_row(row, score, tissue)
    assert tissue.max() > 0.3  # the masked branch is exercised


@pytest.mark.slow
def test_all_windows_and_variants_match_official(model, golden, kit):
    n = len(golden["seqs"])
    outs = {}
    with torch.no_grad():
        for start in range(0, n, 6):
            idx = list(range(start, min(n, start + 6)))
            rec = model.forward_intermediates(_x(golden, idx), stream_positions=slice(0, 0))
            rec = {k: rec[k].numpy() for k in ("raw", "probs", "sort_idx", "sort_val")}
            _check_outputs(rec["raw"], rec["probs"], rec["sort_idx"], rec["sort_val"], golden, idx)
            outs.update({i: rec["probs"][j] for j, i in enumerate(idx)})
    for row in _score_rows(kit):
        score, tissue = variant_scores((outs[r], outs[a]) for r, a in _strand_pairs(row))
        _check_score_row(row, score, tissue)
