"""Official SpliceAI Keras ``.h5`` files -> :class:`~splicescore.models.spliceai.network.SpliceAINet` state.

The five files ``spliceai1.h5`` ... ``spliceai5.h5`` (Keras 2.0.5 full models, unchanged in the
``spliceai`` 1.3.1 wheel) share one graph: ``input -> Conv1D(32,1)`` (the input conv), a
``Conv1D(32,1)`` applied to that conv's output (the start of the skip sum), 16 residual units of
``BN -> ReLU -> Conv1D(k) -> BN -> ReLU -> Conv1D(k) -> Add``, four ``Conv1D(32,1)`` "dense" layers
added to the skip sum, ``Cropping1D(5000)`` and ``Conv1D(3,1, softmax)``.

Layer names carry global counters that differ between files, so the mapping follows the graph
(which layer feeds which) and the layers' hyper-parameters, never the names; and every
hyper-parameter of the file is checked against the port's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from splicescore.io.keras import batchnorm, conv1d_kernel, read_layers, read_weights
from splicescore.models.spliceai.network import SpliceAINet


def convert_spliceai_h5(path: str | Path) -> dict[str, torch.Tensor]:
    """State dict for one :class:`SpliceAINet` from one official ``spliceaiN.h5``."""
    layers = read_layers(path)
    weights = read_weights(path)
    by_name = {layer.name: layer for layer in layers}
    inputs = [layer.name for layer in layers if layer.class_name == "InputLayer"]
    convs = [layer for layer in layers if layer.class_name == "Conv1D"]
    bns = [layer for layer in layers if layer.class_name == "BatchNormalization"]

    conv_in = [c for c in convs if c.inbound == tuple(inputs)]
    if len(conv_in) != 1:
        raise ValueError(f"{path}: cannot find the input convolution")
    conv_in = conv_in[0]
    skip_in = [c for c in convs if c.inbound == (conv_in.name,) and c.config["kernel_size"] == [1]]
    head = [c for c in convs if c.config["filters"] == 3]
    dense = [
        c
        for c in convs
        if c.config["kernel_size"] == [1]
        and c.inbound
        and by_name[c.inbound[0]].class_name == "Add"
        and c.config["filters"] != 3
    ]
    unit_convs = [c for c in convs if c.config["kernel_size"] != [1]]
    if len(skip_in) != 1 or len(head) != 1:
        raise ValueError(f"{path}: unexpected SpliceAI graph (skip/head convolutions)")
    if head[0].config.get("activation") != "softmax":
        raise ValueError(f"{path}: the output layer is not a softmax")

    ref = SpliceAINet()
    trunk = ref.trunk
    if len(unit_convs) != 2 * len(trunk.units) or len(bns) != 2 * len(trunk.units):
        raise ValueError(f"{path}: expected {len(trunk.units)} residual units")
    if len(dense) != len(trunk.skip_convs):
        raise ValueError(f"{path}: expected {len(trunk.skip_convs)} skip convolutions")

    state: dict[str, np.ndarray] = {}

    def put_conv(prefix: str, layer) -> None:
        w = weights[layer.name]
        state[f"{prefix}.weight"] = conv1d_kernel(w["kernel"])
        state[f"{prefix}.bias"] = w["bias"]

    put_conv("trunk.conv_in", conv_in)
    put_conv("trunk.skip_in", skip_in[0])
    for i, unit in enumerate(trunk.units):
        for j in (0, 1):
            conv, bn = unit_convs[2 * i + j], bns[2 * i + j]
            if conv.config["kernel_size"] != [unit.width] or conv.config["dilation_rate"] != [unit.dilation]:
                raise ValueError(f"{path}: layer {conv.name} does not match residual unit {i}")
            if conv.config["padding"] != "same":
                raise ValueError(f"{path}: layer {conv.name} is not 'same'-padded")
            if not np.isclose(bn.config["epsilon"], unit.bn1.eps):
                raise ValueError(f"{path}: BatchNorm epsilon {bn.config['epsilon']} != {unit.bn1.eps}")
            put_conv(f"trunk.units.{i}.conv{j + 1}", conv)
            for key, value in batchnorm(weights[bn.name]).items():
                state[f"trunk.units.{i}.bn{j + 1}.{key}"] = value
    for g, layer in enumerate(dense):
        put_conv(f"trunk.skip_convs.{g}", layer)
    put_conv("head", head[0])

    tensors = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in state.items()}
    expected = {k for k in ref.state_dict() if not k.endswith("num_batches_tracked")}
    missing, extra = expected - set(tensors), set(tensors) - expected
    if missing or extra:
        raise ValueError(f"{path}: conversion mismatch, missing {sorted(missing)}, extra {sorted(extra)}")
    for k, v in ref.state_dict().items():
        if k in tensors and tuple(v.shape) != tuple(tensors[k].shape):
            raise ValueError(f"{path}: {k} has shape {tuple(tensors[k].shape)}, expected {tuple(v.shape)}")
    return tensors


def convert_spliceai_files(paths) -> dict[str, torch.Tensor]:
    """State dict for :class:`~splicescore.models.spliceai.network.SpliceAIEnsemble` from the replicas."""
    out: dict[str, torch.Tensor] = {}
    for r, path in enumerate(paths):
        for k, v in convert_spliceai_h5(path).items():
            out[f"replicas.{r}.{k}"] = v
    return out
