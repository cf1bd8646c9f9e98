"""SpliceAI port vs the official Keras models (``golden/spliceai/dev_raw.npz``): <= 1e-5."""

from __future__ import annotations

import numpy as np
import pytest
import torch


from conftest import DEVICES

TOL = 1e-5


def _keys(spliceai_raw, n=None):
    keys = sorted({k.split("_")[0] for k in spliceai_raw.files})
    return keys[:n] if n else keys


def _x(spliceai_raw, key, allele):
    return torch.from_numpy(spliceai_raw[f"{key}_x_{allele}"].astype(np.float32)).T[None]


def test_per_replica_and_mean_match_official(spliceai_ensemble, spliceai_raw):
    worst = 0.0
    with torch.no_grad():
        for key in _keys(spliceai_raw):
            for allele in ("ref", "alt"):
                y = spliceai_ensemble.forward_replicas(_x(spliceai_raw, key, allele))[:, 0]
                for r in range(5):
                    official = spliceai_raw[f"{key}_y_{allele}_model{r + 1}"]
                    worst = max(worst, float(np.abs(y[r].T.numpy() - official).max()))
                mean = y.mean(0).T.numpy()
                worst = max(worst, float(np.abs(mean - spliceai_raw[f"{key}_y_{allele}_mean"]).max()))
    assert worst <= TOL


@pytest.mark.parametrize("device", DEVICES)
def test_valid_and_same_padding_agree_and_batch(spliceai_ensemble, spliceai_raw, device):
    """Valid convolutions with cropping equal the literal same-padded network; padding a batch on
    the right with N changes nothing for the real positions."""
    keys = _keys(spliceai_raw, 3)
    xs = [_x(spliceai_raw, k, a) for k in keys for a in ("ref", "alt")]
    length = max(x.shape[-1] for x in xs)
    batch = torch.zeros(len(xs), 4, length)
    for i, x in enumerate(xs):
        batch[i, :, : x.shape[-1]] = x[0]
    model = spliceai_ensemble.to(device)
    with torch.no_grad():
        yb = model(batch.to(device)).cpu()
        for i, x in enumerate(xs):
            single_same = model(x.to(device), valid=False).cpu()[0]
            n = single_same.shape[-1]
            assert float((yb[i, :, :n] - single_same).abs().max()) <= TOL
    spliceai_ensemble.to("cpu")
