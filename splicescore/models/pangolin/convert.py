"""Official Pangolin weight files -> :mod:`splicescore.models.pangolin.network` state dicts.

Each file ``final.{replicate}.{head}.3.v2`` (tkzeng/Pangolin 1.0.2 @5cf94b8, ``pangolin/models/``)
is an ``OrderedDict`` of 252 tensors saved with ``torch.save``, the state dict of the official
``Pangolin(L=32, W, AR)`` module (``pangolin/model.py``):

==============================================  ===========================================
official key                                    splicescore key (:class:`PangolinNet`)
==============================================  ===========================================
``conv1.{weight,bias}`` (32, 4, 1)              ``trunk.conv_in.*``
``skip.{weight,bias}`` (32, 32, 1)              ``trunk.skip_in.*``
``resblocks.{i}.{bn1,conv1,bn2,conv2}.*``       ``trunk.units.{i}.{bn1,conv1,bn2,conv2}.*``
``convs.{g}.{weight,bias}`` (32, 32, 1)         ``trunk.skip_convs.{g}.*``
``conv_last{2t+1}.{weight,bias}`` (2, 32, 1)    ``splice_heads.{t}.*``
``conv_last{2t+2}.{weight,bias}`` (1, 32, 1)    ``usage_heads.{t}.*``
==============================================  ===========================================

Both sides are PyTorch ``Conv1d`` / ``BatchNorm1d``, so tensors are copied unchanged (no permute);
BatchNorm buffers (``running_mean``, ``running_var``, ``num_batches_tracked``) are carried over.
Kernel widths are checked through the weight shapes; dilations are not stored in the files (they
are the ``AR`` constants of ``model.py``, fixed in the trunk).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import torch

from splicescore.models.pangolin.network import (
    N_REPLICATES,
    TISSUES,
    PangolinEnsemble,
    PangolinNet,
    network_index,
    weight_file_name,
)

_RESBLOCK = re.compile(r"^resblocks\.(\d+)\.(bn1|conv1|bn2|conv2)\.(\w+)$")
_CONVS = re.compile(r"^convs\.(\d+)\.(weight|bias)$")
_LAST = re.compile(r"^conv_last(\d+)\.(weight|bias)$")


def map_pangolin_key(key: str) -> str:
    """splicescore name of one official state-dict key (``ValueError`` if unknown)."""
    if key.startswith("conv1."):
        return "trunk.conv_in." + key[len("conv1.") :]
    if key.startswith("skip."):
        return "trunk.skip_in." + key[len("skip.") :]
    m = _RESBLOCK.match(key)
    if m:
        return f"trunk.units.{m.group(1)}.{m.group(2)}.{m.group(3)}"
    m = _CONVS.match(key)
    if m:
        return f"trunk.skip_convs.{m.group(1)}.{m.group(2)}"
    m = _LAST.match(key)
    if m:
        k = int(m.group(1))
        if k < 1:
            raise ValueError(f"unexpected Pangolin key {key!r}")
        head = "splice_heads" if k % 2 == 1 else "usage_heads"
        return f"{head}.{(k - 1) // 2}.{m.group(2)}"
    raise ValueError(f"unexpected Pangolin key {key!r}")


def convert_pangolin_state(official: dict, source: str = "state dict") -> dict[str, torch.Tensor]:
    """State dict for one :class:`PangolinNet` from one official state dict (already loaded)."""
    ref = PangolinNet().state_dict()
    out: dict[str, torch.Tensor] = {}
    for key, value in official.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{source}: {key} is a {type(value).__name__}, not a tensor")
        new = map_pangolin_key(key)
        if new in out:
            raise ValueError(f"{source}: two official keys map to {new}")
        if new not in ref:
            raise ValueError(f"{source}: {key} -> {new} is not a PangolinNet parameter")
        if tuple(value.shape) != tuple(ref[new].shape):
            raise ValueError(
                f"{source}: {key} has shape {tuple(value.shape)}, expected {tuple(ref[new].shape)}"
            )
        if value.dtype != ref[new].dtype:
            raise ValueError(f"{source}: {key} has dtype {value.dtype}, expected {ref[new].dtype}")
        out[new] = value.detach().clone()
    missing = sorted(set(ref) - set(out))
    if missing:
        raise ValueError(f"{source}: missing tensors {missing}")
    return out


def convert_pangolin_file(path: str | Path) -> dict[str, torch.Tensor]:
    """State dict for one :class:`PangolinNet` from one official ``final.*.*.3.v2`` file."""
    official = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(official, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(official).__name__}")
    return convert_pangolin_state(official, source=str(path))


def pangolin_weight_files(directory: str | Path) -> list[Path]:
    """The 12 files the official command line loads, in its order (tissue outer, replicate
    inner), from a folder holding them."""
    directory = Path(directory)
    paths = [
        directory / weight_file_name(t, r)
        for t in range(len(TISSUES))
        for r in range(1, N_REPLICATES + 1)
    ]
    absent = [p.name for p in paths if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"{directory}: missing Pangolin weight files {absent}")
    return paths


def convert_pangolin_files(
    paths: Iterable[str | Path] | str | Path, check_names: bool = True
) -> dict[str, torch.Tensor]:
    """State dict for :class:`PangolinEnsemble`.

    Parameters
    ----------
    paths : folder, or 12 file paths
        A folder holding ``final.{1,2,3}.{0,2,4,6}.3.v2``, or the 12 files in the official order
        (``nets[3 * tissue + replicate - 1]``).
    check_names : bool
        With explicit paths, require each file name to be the official one for its slot, so a
        mis-ordered list fails instead of silently swapping tissues.
    """
    if isinstance(paths, (str, Path)):
        paths = pangolin_weight_files(paths)
    paths = [Path(p) for p in paths]
    n = len(TISSUES) * N_REPLICATES
    if len(paths) != n:
        raise ValueError(f"expected {n} Pangolin weight files, got {len(paths)}")
    out: dict[str, torch.Tensor] = {}
    for t in range(len(TISSUES)):
        for r in range(1, N_REPLICATES + 1):
            m = network_index(t, r)
            if check_names and paths[m].name != weight_file_name(t, r):
                raise ValueError(
                    f"network {m} must be {weight_file_name(t, r)}, got {paths[m].name}"
                )
            for k, v in convert_pangolin_file(paths[m]).items():
                out[f"nets.{m}.{k}"] = v
    expected = set(PangolinEnsemble().state_dict())
    if set(out) != expected:
        raise ValueError("conversion does not cover PangolinEnsemble exactly")
    return out
