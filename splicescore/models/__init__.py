"""Model registry: each supported model is one plugin module ``splicescore.models.<name>``.

A plugin provides:

``SPEC``
    :class:`splicescore.weights.WeightSpec`: the published files (by sha256), source and licence.
``convert_official(found: dict[str, Path]) -> dict[str, torch.Tensor]``
    official files -> state dict of its network (see the model package's ``convert`` module).
``build_network() -> torch.nn.Module``
    the (untrained) network the converted state dict loads into.
``make_scorer(cfg, reference, annotation) -> Scorer``
    the VCF scorer (:mod:`splicescore.core.scorer`); ``annotation`` is a callable returning the
    run's :class:`~splicescore.io.annotation.GeneIndex` (loaded once, on first use).
``download(workdir, log) -> list[Path]`` (optional)
    fetch the official files from their source for ``splicescore weights fetch``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from splicescore.errors import UsageError

#: every model splicescore knows, in the order of the CLI help
NAMES = ("spliceai", "pangolin", "sptransformer", "aparent2", "hal")


def available() -> list[str]:
    """Models whose plugin is present in this installation."""
    out = []
    for name in NAMES:
        try:
            get(name)
        except UsageError:
            continue
        out.append(name)
    return out


def get(name: str) -> ModuleType:
    if name not in NAMES:
        raise UsageError(f"unknown model {name!r} (known: {', '.join(NAMES)})")
    try:
        return importlib.import_module(f"splicescore.models.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"splicescore.models.{name}":
            raise UsageError(f"model {name!r} is not available in this version of splicescore") from exc
        raise
