"""SpliceAI port vs the official Keras models (``golden/spliceai/dev_raw.npz``): <= 1e-5."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from splicescore.convert.spliceai import convert_spliceai_files
from splicescore.networks.spliceai import SpliceAIEnsemble

from conftest import DEVICES

TOL = 1e-5


@pytest.fixture(scope="module")
def ensemble(shared):
    model = SpliceAIEnsemble()
    paths = [shared / "weights" / "spliceai" / f"spliceai{i}.h5" for i in range(1, 6)]
    model.load_state_dict(convert_spliceai_files(paths))
    return model.eval()


@pytest.fixture(scope="module")
def raw(shared):
    return np.load(shared / "golden" / "spliceai" / "dev_raw.npz")


def _keys(raw, n=None):
    keys = sorted({k.split("_")[0] for k in raw.files})
    return keys[:n] if n else keys


def _x(raw, key, allele):
    return torch.from_numpy(raw[f"{key}_x_{allele}"].astype(np.float32)).T[None]


def test_per_replica_and_mean_match_official(ensemble, raw):
    worst = 0.0
    with torch.no_grad():
        for key in _keys(raw):
            for allele in ("ref", "alt"):
                y = ensemble.forward_replicas(_x(raw, key, allele))[:, 0]
                for r in range(5):
                    official = raw[f"{key}_y_{allele}_model{r + 1}"]
                    worst = max(worst, float(np.abs(y[r].T.numpy() - official).max()))
                mean = y.mean(0).T.numpy()
                worst = max(worst, float(np.abs(mean - raw[f"{key}_y_{allele}_mean"]).max()))
    assert worst <= TOL


@pytest.mark.parametrize("device", DEVICES)
def test_valid_and_same_padding_agree_and_batch(ensemble, raw, device):
    """Valid convolutions with cropping equal the literal same-padded network; padding a batch on
    the right with N changes nothing for the real positions."""
    keys = _keys(raw, 3)
    xs = [_x(raw, k, a) for k in keys for a in ("ref", "alt")]
    length = max(x.shape[-1] for x in xs)
    batch = torch.zeros(len(xs), 4, length)
    for i, x in enumerate(xs):
        batch[i, :, : x.shape[-1]] = x[0]
    model = ensemble.to(device)
    with torch.no_grad():
        yb = model(batch.to(device)).cpu()
        for i, x in enumerate(xs):
            single_same = model(x.to(device), valid=False).cpu()[0]
            n = single_same.shape[-1]
            assert float((yb[i, :, :n] - single_same).abs().max()) <= TOL
    ensemble.to("cpu")
