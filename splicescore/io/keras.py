"""Reading Keras 2 full-model / weights HDF5 files with h5py (no TensorFlow needed).

Facts used (Keras 2 ``save_model`` HDF5 layout): the root attribute ``model_config`` holds the
model's JSON config, with ``config.layers`` listed in creation order, each with ``class_name``,
``name``, ``config`` and ``inbound_nodes``; weights live under ``model_weights/<layer>/`` (or at the
root for ``save_weights`` files), whose attribute ``weight_names`` lists the datasets in order
(``kernel:0``, ``bias:0``; BatchNorm: ``gamma:0``, ``beta:0``, ``moving_mean:0``,
``moving_variance:0``). Keras ``Conv1D`` kernels are ``(width, in, out)``; ``Conv2D`` and
``LocallyConnected2D`` kernels are ``(height, width, in, out)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np


@dataclass(frozen=True)
class KerasLayer:
    """One layer of a Keras functional model config."""

    name: str
    class_name: str
    config: dict
    inbound: tuple[str, ...]


def read_layers(path: str | Path) -> list[KerasLayer]:
    """Layers of a Keras 2 HDF5 model, in the order of the saved config."""
    with h5py.File(path, "r") as f:
        raw = f.attrs.get("model_config")
        if raw is None:
            raise ValueError(f"{path}: no model_config attribute (not a Keras full-model HDF5 file)")
        cfg = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    layers = []
    for entry in cfg["config"]["layers"]:
        inbound = tuple(node[0] for nodes in entry.get("inbound_nodes", []) for node in nodes)
        layers.append(KerasLayer(entry["name"], entry["class_name"], entry["config"], inbound))
    return layers


def read_weights(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """``{layer: {"kernel": ..., "bias": ..., "gamma": ...}}`` for every weight-bearing layer."""
    out: dict[str, dict[str, np.ndarray]] = {}
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        for layer in root.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            group = root[layer]
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
            if not names:
                continue
            out[layer] = {n.split("/")[-1].split(":")[0]: np.asarray(group[n]) for n in names}
    return out


def conv1d_kernel(kernel: np.ndarray) -> np.ndarray:
    """Keras Conv1D kernel ``(width, in, out)`` -> torch ``Conv1d`` weight ``(out, in, width)``.

    Both frameworks compute cross-correlation, so no flip is needed.
    """
    if kernel.ndim != 3:
        raise ValueError(f"expected a (width, in, out) Conv1D kernel, got shape {kernel.shape}")
    return np.ascontiguousarray(kernel.transpose(2, 1, 0))


def batchnorm(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Keras BatchNormalization weights -> torch ``BatchNorm1d`` state entries."""
    return {
        "weight": weights["gamma"],
        "bias": weights["beta"],
        "running_mean": weights["moving_mean"],
        "running_var": weights["moving_variance"],
    }
