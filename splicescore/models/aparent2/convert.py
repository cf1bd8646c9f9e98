"""Official APARENT2 Keras ``.h5`` -> :class:`~splicescore.models.aparent2.network.Aparent2Net` state.

The published file
``aparent_all_libs_resnet_no_clinvar_wt_ep_5_var_batch_size_inference_mode_no_drop.h5``
(johli/aparent-resnet@a745736 ``saved_models/``, Keras 2.2.4) stores a graph with ``Lambda`` layers
(ReLUs, additions, the zero-logit extension, the softmax) whose code is marshalled Python bytecode,
so only the weights and the layer configurations are read here (h5py, no TensorFlow).

Layers are mapped by their official names (from
``aparent/model/aparent_model_plasmid_resnet_var_batch_size_inference_mode.py``):

============================================  ==============================  =========================
h5 layer                                      Keras shape                     port
============================================  ==============================  =========================
``aparent_conv_0``                            kernel (1, 1, 4, 32)            ``conv_in``
``aparent_skip_conv_{g}``, g = 0..6           kernel (1, 1, 32, 32)           ``skip_convs.{g}``
``aparent_resblock_{g}_{b}_batch_norm_{j}``   gamma/beta/mean/var (32,)       ``units.{4g+b}.bn{j+1}``
``aparent_resblock_{g}_{b}_conv_{j}``         kernel (1, 3, 32, 32)           ``units.{4g+b}.conv{j+1}``
``aparent_last_block_conv``                   kernel (1, 1, 32, 32)           ``last_conv``
``aparent_final_conv``                        kernel (1, 1, 32, 1)            ``final_conv``
``aparent_lib_conv`` (LocallyConnected2D)     kernel (206, 13, 1), bias       ``lib_weight`` (206, 13),
                                              (1, 206, 1)                     ``lib_bias`` (206,)
============================================  ==============================  =========================

Keras ``Conv2D`` kernels are ``(height, width, in, out)`` with height 1 here; torch ``Conv1d``
weights are ``(out, in, width)``. Both compute cross-correlation, so no flip. Keras 2's
``LocallyConnected2D`` kernel is ``(out_rows * out_cols, kh * kw * in, filters)`` and its bias
``(out_rows, out_cols, filters)``; here ``out_rows = kh = kw = filters = 1``, ``out_cols = 206``,
``in = 13``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from splicescore.io.keras import batchnorm, read_layers, read_weights
from splicescore.models.aparent2.network import N_BINS, N_LIBRARIES, Aparent2Net


def conv2d_row_kernel(kernel: np.ndarray) -> np.ndarray:
    """Keras Conv2D kernel ``(1, width, in, out)`` -> torch ``Conv1d`` weight ``(out, in, width)``."""
    if kernel.ndim != 4 or kernel.shape[0] != 1:
        raise ValueError(f"expected a (1, width, in, out) Conv2D kernel, got shape {kernel.shape}")
    return np.ascontiguousarray(kernel[0].transpose(2, 1, 0))


def convert_aparent2_h5(path: str | Path, library: int = 11) -> dict[str, torch.Tensor]:
    """State dict for :class:`Aparent2Net` from the official APARENT2 ``.h5``.

    Parameters
    ----------
    path : str or Path
        The Keras 2 HDF5 model file.
    library : int
        Only used to build the reference module whose shapes are checked (the library index is
        not part of the state).

    Returns
    -------
    dict[str, torch.Tensor]
        float32 tensors; loads into ``Aparent2Net()`` with ``strict=True``.
    """
    ref = Aparent2Net(library=library)
    n_groups = len(ref.skip_convs)
    per_group = ref.blocks_per_group
    layers = {layer.name: layer for layer in read_layers(path)}
    weights = read_weights(path)
    state: dict[str, np.ndarray] = {}

    def layer(name: str, class_name: str):
        if name not in layers or name not in weights:
            raise ValueError(f"{path}: layer {name} not found")
        if layers[name].class_name != class_name:
            raise ValueError(f"{path}: {name} is a {layers[name].class_name}, expected {class_name}")
        return layers[name].config, weights[name]

    def put_conv(prefix: str, name: str, width: int, dilation: int = 1) -> None:
        cfg, w = layer(name, "Conv2D")
        # Keras stores an int dilation d as [d, d]; with a kernel of height 1 on an input of height
        # 1 the row dilation has no effect, only the column dilation matters.
        rate = list(cfg.get("dilation_rate", [1, 1]))
        if list(cfg["kernel_size"]) != [1, width] or len(rate) != 2 or rate[1] != dilation:
            raise ValueError(
                f"{path}: {name} has kernel {cfg['kernel_size']} dilation {rate},"
                f" expected [1, {width}] and column dilation {dilation}"
            )
        if cfg["padding"] != "same" or list(cfg["strides"]) != [1, 1] or cfg["activation"] != "linear":
            raise ValueError(f"{path}: {name} is not a linear, 'same'-padded, stride-1 convolution")
        if cfg.get("data_format", "channels_last") != "channels_last" or not cfg["use_bias"]:
            raise ValueError(f"{path}: {name}: unexpected data_format or missing bias")
        state[f"{prefix}.weight"] = conv2d_row_kernel(w["kernel"])
        state[f"{prefix}.bias"] = w["bias"]

    put_conv("conv_in", "aparent_conv_0", 1)
    for g in range(n_groups):
        put_conv(f"skip_convs.{g}", f"aparent_skip_conv_{g}", 1)
        for b in range(per_group):
            i = g * per_group + b
            unit = ref.units[i]
            for j in (0, 1):
                base = f"aparent_resblock_{g}_{b}"
                put_conv(f"units.{i}.conv{j + 1}", f"{base}_conv_{j}", unit.width, unit.dilation)
                cfg, w = layer(f"{base}_batch_norm_{j}", "BatchNormalization")
                bn = getattr(unit, f"bn{j + 1}")
                if not np.isclose(cfg["epsilon"], bn.eps) or cfg.get("axis") not in (-1, 3, [3], [-1]):
                    raise ValueError(f"{path}: {base}_batch_norm_{j}: epsilon {cfg['epsilon']} / axis")
                if not (cfg.get("center", True) and cfg.get("scale", True)):
                    raise ValueError(f"{path}: {base}_batch_norm_{j} lacks beta or gamma")
                for key, value in batchnorm(w).items():
                    state[f"units.{i}.bn{j + 1}.{key}"] = value
    put_conv("last_conv", "aparent_last_block_conv", 1)
    put_conv("final_conv", "aparent_final_conv", 1)

    cfg, w = layer("aparent_lib_conv", "LocallyConnected2D")
    if list(cfg["kernel_size"]) != [1, 1] or cfg["filters"] != 1 or cfg["padding"] != "valid":
        raise ValueError(f"{path}: aparent_lib_conv: unexpected configuration")
    if not cfg["use_bias"] or cfg["activation"] != "linear":
        raise ValueError(f"{path}: aparent_lib_conv: expected a linear layer with bias")
    kernel, bias = w["kernel"], w["bias"]
    if kernel.shape != (N_BINS, N_LIBRARIES, 1) or bias.shape != (1, N_BINS, 1):
        raise ValueError(f"{path}: aparent_lib_conv shapes {kernel.shape}, {bias.shape}")
    state["lib_weight"] = kernel[:, :, 0]
    state["lib_bias"] = bias[0, :, 0]

    # Every weight-bearing layer of the file must have been used.
    used = {"aparent_conv_0", "aparent_last_block_conv", "aparent_final_conv", "aparent_lib_conv"}
    used |= {f"aparent_skip_conv_{g}" for g in range(n_groups)}
    used |= {
        f"aparent_resblock_{g}_{b}_{kind}_{j}"
        for g in range(n_groups)
        for b in range(per_group)
        for kind in ("conv", "batch_norm")
        for j in (0, 1)
    }
    if set(weights) != used:
        raise ValueError(f"{path}: unexpected weight layers {sorted(set(weights) ^ used)}")

    tensors = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()}
    expected = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    missing, extra = set(expected) - set(tensors), set(tensors) - set(expected)
    if missing or extra:
        raise ValueError(f"{path}: conversion mismatch, missing {sorted(missing)}, extra {sorted(extra)}")
    for k, v in expected.items():
        if tuple(v.shape) != tuple(tensors[k].shape):
            raise ValueError(f"{path}: {k} has shape {tuple(tensors[k].shape)}, expected {tuple(v.shape)}")
    return tensors
