"""Official SpTransformer checkpoint -> :class:`~splicescore.models.sptransformer.network.SpTransformerNet` state.

The official driver (``ShenLab-Genomics/SpliceTransformer@b67a51d``, ``tasks_annotate_mutations.py``,
``SpTransformerDriver.__init__``) reads ``model/weights/SpTransformer_pytorch.ckpt`` with
``torch.load(map_location='cpu')`` and loads its ``'state_dict'`` entry strictly into
``SpTransformer(128, context_len=4000, tissue_num=15, max_seq_len=8192, attn_depth=8)``. The file's
other top-level entries (very likely optimizer state) are ignored here as they are there.

Official key layout (586 tensors; module names from ``model/model.py``, sinkhorn-transformer 0.11.4 and
axial-positional-embedding 0.2.1, whose fake parameter list names its tensors ``weights_0``/``weights_1``)::

    encoder.{0,1}.conv1 / skip / resblocks.{0..15}.{bn1,conv1,bn2,conv2} / convs.{0..3}
    encoder.0.splice_output, encoder.0.tissue_output          (unused by the forward pass)
    conv1.{0,1}, conv2
    attn.pos_emb.weights_0 (1, 128, 1, 256), attn.pos_emb.weights_1 (1, 1, 64, 256)
    attn.attn.layers.layers.{i}.0.norm, .0.fn.{to_q,to_kv,to_out}     (PreNorm(SinkhornSelfAttention))
    attn.attn.layers.layers.{i}.1.norm, .1.fn.fn.{w1,w2}              (PreNorm(Chunk(FeedForward)))
    attn.norm, splice, usage
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import torch

from splicescore.models.sptransformer.network import SpTransformerNet

#: sha256 of the authors' ``SpTransformer_pytorch.ckpt`` (Git-LFS pointer in ``78f3996``, 120,352,565 B).
OFFICIAL_CKPT_SHA256 = "bf9937c234139f850a770f84a26c65213a80d696d82426949a432ed1ccb9aa4e"

#: Official keys that exist in the checkpoint but play no part in the forward pass.
UNUSED_PREFIXES = ("encoder.0.splice_output.", "encoder.0.tissue_output.")

_TRUNK_OFFICIAL_TO_PORT = {"conv1": "conv_in", "skip": "skip_in", "resblocks": "units", "convs": "skip_convs"}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_official_state_dict(path: str | Path, trust: bool = False) -> dict[str, torch.Tensor]:
    """The ``'state_dict'`` entry of an official checkpoint, with any ``model.``/``module.`` prefix removed.

    The file is read with ``weights_only=True``. A checkpoint whose extra entries (optimizer or trainer
    state) hold Python objects that the restricted unpickler refuses is re-read with
    ``weights_only=False`` only if it is the authors' file (sha256 :data:`OFFICIAL_CKPT_SHA256`) or
    ``trust`` is set: full unpickling can run code from the file.

    Parameters
    ----------
    path : str or Path
    trust : bool
        Allow full unpickling of a file with another hash.
    """
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not (trust or _sha256(path) == OFFICIAL_CKPT_SHA256):
            raise ValueError(
                f"{path}: the restricted unpickler refused the file ({err}); it is not the official "
                "SpTransformer checkpoint, pass trust=True only if you trust its origin"
            ) from err
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path}: not an SpTransformer checkpoint (no 'state_dict' entry)")
    state = ckpt["state_dict"]
    keys = list(state)
    for prefix in ("module.", "model."):
        if keys and all(k.startswith(prefix) for k in keys):
            state = {k[len(prefix) :]: v for k, v in state.items()}
            keys = list(state)
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"{path}: non-tensor entries in 'state_dict': {bad[:5]}")
    return dict(state)


def _official_to_port_key(key: str, n_encoders: int) -> str | None:
    """Port key for one official key; ``None`` for the unused encoder heads."""
    if key.startswith(UNUSED_PREFIXES):
        return None
    parts = key.split(".")
    if parts[0] == "encoder":
        enc = int(parts[1])
        if not 0 <= enc < n_encoders or parts[2] not in _TRUNK_OFFICIAL_TO_PORT:
            raise KeyError(key)
        return ".".join([f"encoders.{enc}", _TRUNK_OFFICIAL_TO_PORT[parts[2]], *parts[3:]])
    if parts[0] == "conv1" and parts[1] in ("0", "1"):
        return ".".join(["direct_in" if parts[1] == "0" else "direct_mix", *parts[2:]])
    if parts[0] == "conv2":
        return ".".join(["fuse", *parts[1:]])
    if parts[0] in ("splice", "usage") and len(parts) == 2:
        return f"{parts[0]}_head.{parts[1]}"
    if parts[:2] == ["attn", "norm"]:
        return ".".join(["final_norm", *parts[2:]])
    if key == "attn.pos_emb.weights_0":
        return "pos_rows"
    if key == "attn.pos_emb.weights_1":
        return "pos_cols"
    if parts[:4] == ["attn", "attn", "layers", "layers"] and len(parts) >= 8:
        layer, sub, rest = parts[4], parts[5], parts[6:]
        if sub == "0" and rest[0] == "norm":
            return ".".join([f"layers.{layer}.attn_norm", *rest[1:]])
        if sub == "0" and rest[0] == "fn" and rest[1] in ("to_q", "to_kv", "to_out"):
            return ".".join([f"layers.{layer}.attn", *rest[1:]])
        if sub == "1" and rest[0] == "norm":
            return ".".join([f"layers.{layer}.ff_norm", *rest[1:]])
        if sub == "1" and rest[:2] == ["fn", "fn"] and rest[2] in ("w1", "w2"):
            return ".".join([f"layers.{layer}.ff", *rest[2:]])
    raise KeyError(key)


def convert_sptransformer_state(
    official: dict[str, torch.Tensor], model: SpTransformerNet | None = None
) -> dict[str, torch.Tensor]:
    """Map an official ``state_dict`` onto ``model`` (default: the official configuration).

    Every official key must map (or be one of the unused encoder heads, whose presence and shapes are
    checked), every port key must be filled, and every shape must agree. The axial embedding tensors
    ``(1, 128, 1, 256)`` and ``(1, 1, 64, 256)`` become ``pos_rows`` ``(128, 256)`` and ``pos_cols``
    ``(64, 256)``.

    Returns
    -------
    dict[str, torch.Tensor]
        Loads into ``model`` with ``load_state_dict(strict=True)``.
    """
    model = SpTransformerNet() if model is None else model
    ref = model.state_dict()
    n_enc = len(model.encoders)
    out: dict[str, torch.Tensor] = {}
    unused_seen = set()
    for key, value in official.items():
        try:
            port = _official_to_port_key(key, n_enc)
        except KeyError:
            raise ValueError(f"unexpected key in the SpTransformer checkpoint: {key!r}") from None
        if port is None:
            unused_seen.add(key.rsplit(".", 1)[0])
            enc_c = model.encoders[0].channels
            n_out = 3 if "splice_output" in key else model.n_tissues
            want = (n_out, enc_c, 1) if key.endswith("weight") else (n_out,)
            if tuple(value.shape) != want:
                raise ValueError(f"{key} has shape {tuple(value.shape)}, expected {want}")
            continue
        if port == "pos_rows":
            rows = model.pos_rows.shape[0]
            if tuple(value.shape) != (1, rows, 1, model.pos_rows.shape[1]):
                raise ValueError(f"{key} has shape {tuple(value.shape)}, expected (1, {rows}, 1, dim)")
            value = value.reshape(rows, -1)
        elif port == "pos_cols":
            cols = model.pos_cols.shape[0]
            if tuple(value.shape) != (1, 1, cols, model.pos_cols.shape[1]):
                raise ValueError(f"{key} has shape {tuple(value.shape)}, expected (1, 1, {cols}, dim)")
            value = value.reshape(cols, -1)
        if port not in ref:
            raise ValueError(f"checkpoint key {key!r} maps to {port!r}, which the model does not have")
        if tuple(value.shape) != tuple(ref[port].shape):
            raise ValueError(f"{key} has shape {tuple(value.shape)}, expected {tuple(ref[port].shape)} for {port}")
        if value.dtype != ref[port].dtype:
            raise ValueError(f"{key} has dtype {value.dtype}, expected {ref[port].dtype}")
        if port in out:
            raise ValueError(f"two checkpoint keys map to {port!r}")
        out[port] = value.detach().clone()
    missing = sorted(set(ref) - set(out))
    if missing:
        raise ValueError(f"the checkpoint lacks {len(missing)} tensors, e.g. {missing[:5]}")
    if unused_seen != {p.rstrip(".") for p in UNUSED_PREFIXES}:
        raise ValueError("the checkpoint lacks encoder.0.splice_output / tissue_output (official strict load)")
    return out


def convert_sptransformer_checkpoint(path: str | Path, trust: bool = False) -> dict[str, torch.Tensor]:
    """State dict for :class:`SpTransformerNet` from an official ``SpTransformer_pytorch.ckpt``."""
    return convert_sptransformer_state(load_official_state_dict(path, trust=trust))
