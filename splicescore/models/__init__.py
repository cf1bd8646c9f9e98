"""Model registry: one package ``splicescore.models.<name>`` per model, each holding one :class:`ModelEntry`
named ``MODEL`` in its ``__init__``.

Adding a model: a new package ``splicescore/models/<name>/`` (its ``__init__`` defines ``MODEL``; see
an existing one) and its name in :data:`NAMES`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from splicescore.errors import UsageError

#: every model splicescore knows, in the order of the CLI help (the registry: one line per model)
NAMES = ("spliceai", "pangolin", "sptransformer", "aparent2", "hal")
#: the model a run uses when none is given (``splicescore vcf`` without ``-m``)
DEFAULT = NAMES[0]


@dataclass(frozen=True)
class WeightSpec:
    """The published files of one model and where they come from."""

    name: str
    files: dict[str, str]  # file name -> sha256 of the published file
    extras: dict[str, str] = field(default_factory=dict)  # shipped data files (not tensors)
    source: str = ""
    licence: str = ""
    fetch_hint: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """Everything splicescore needs to know about one model.

    Attributes
    ----------
    spec : WeightSpec
        The published files (by sha256), source and licence.
    convert_official : callable
        ``(found: dict[str, Path]) -> dict[str, torch.Tensor]``: the official files (by their
        :attr:`WeightSpec.files` names) -> state dict of the model's network.
    network : str
        The name of the network class in the package's ``network`` module (an ``nn.Module`` built with
        its default hyper-parameters, the converted state dict loads into it): :meth:`build_network`.
    make_scorer : callable
        ``(cfg, reference, annotation) -> Scorer``: the VCF scorer (:mod:`splicescore.core.scorer`);
        ``annotation`` is a callable returning the run's :class:`~splicescore.io.annotation.GeneIndex`
        (loaded once, on first use).
    download : callable or None
        ``(workdir: Path, log: Callable[[str], None]) -> list[Path]``: fetch the official files from
        their source (``splicescore weights fetch``); ``None``: the user imports them.
    score_sequences : callable or None
        ``(net, rows: list[dict], cfg: SeqsConfig, device) -> list[dict]``: sequence mode
        (:mod:`splicescore.seqmode`); ``None``: the model has none.
    options : mapping
        ``{option: default}``: the model's own settings that change its output
        (``RunConfig.model_options[name]``; :mod:`splicescore.model_options`). Names are unique across models.
    cache_settings : callable or None
        ``(options) -> dict``: what of ``options`` enters the score cache key (e.g. a file's sha256
        instead of its path); ``None``: the options themselves.
    gene_tables : tuple of str
        Built-in gene tables (``-a NAME``) that come with the model's weights as ``extras`` files
        ``NAME.txt``; ``gene_tables_label`` names the model in messages and ``gene_tables_hint`` says how
        to install them.
    plot_max_distance : int or None
        ``splicescore plot`` draws this model's per-position outputs up to this ``-D``; ``None``: the
        model has no per-position tracks to draw.
    """

    spec: WeightSpec
    convert_official: Callable[[dict[str, Path]], Any]
    network: str
    make_scorer: Callable[..., Any]
    download: Callable[..., list[Path]] | None = None
    score_sequences: Callable[..., list[dict]] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    cache_settings: Callable[[Mapping[str, Any]], dict] | None = None
    plot_max_distance: int | None = None
    gene_tables: tuple[str, ...] = ()
    gene_tables_label: str = ""
    gene_tables_hint: str = ""

    @property
    def name(self) -> str:
        return self.spec.name

    def build_network(self):
        """The (untrained) network of this model (imported on first use, so the registry stays light)."""
        module = importlib.import_module(f"splicescore.models.{self.name}.network")
        return getattr(module, self.network)()


def gene_table_provider(annotation: str) -> ModelEntry | None:
    """The entry whose weights bring the built-in gene table ``annotation`` (``-a grch38``), if any."""
    for name in available():
        entry = get(name)
        if annotation in entry.gene_tables:
            return entry
    return None


def available() -> list[str]:
    """Models whose package is present in this installation."""
    out = []
    for name in NAMES:
        try:
            get(name)
        except UsageError:
            continue
        out.append(name)
    return out


def get(name: str) -> ModelEntry:
    """The registry entry of model ``name``; :class:`UsageError` for an unknown or absent model."""
    if name not in NAMES:
        raise UsageError(f"unknown model {name!r} (known: {', '.join(NAMES)})")
    try:
        module = importlib.import_module(f"splicescore.models.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"splicescore.models.{name}":
            raise UsageError(f"model {name!r} is not available in this version of splicescore") from exc
        raise
    return module.MODEL
