"""Model options: each model's registry entry declares its own (:attr:`splicescore.models.ModelEntry.options`: name -> default), and a run
holds the values per model (:attr:`splicescore.pipeline.RunConfig.model_options`).

Option names are unique across models (``pangolin_mask``, ``hal_ref_psi``, ...), so the CLI flags
and the Python API's keywords stay flat; :func:`split_options` files them under their model. A
model may also declare ``cache_settings(options) -> dict`` (:attr:`~splicescore.models.ModelEntry.cache_settings`): what of its options goes into the score
cache key (e.g. a file's sha256 instead of its path); by default the options themselves.
"""

from __future__ import annotations

from types import MappingProxyType


def _plugins():
    from splicescore import models

    return [(name, models.get(name)) for name in models.available()]


def declared() -> dict[str, dict]:
    """``{model: {option: default}}`` of every available model."""
    return {name: dict(plugin.options) for name, plugin in _plugins()}


def owner(option: str) -> str | None:
    """The model that declares ``option``, or ``None``."""
    for model, options in declared().items():
        if option in options:
            return model
    return None


def split_options(flat: dict) -> dict[str, dict]:
    """``{model: {option: value}}`` from flat model options (``{"pangolin_mask": False, ...}``).

    Raises
    ------
    KeyError
        For a name no model declares.
    """
    out: dict[str, dict] = {}
    for name, value in flat.items():
        model = owner(name)
        if model is None:
            raise KeyError(name)
        out.setdefault(model, {})[name] = value
    return out


def merged(model_options: dict, model: str) -> MappingProxyType:
    """``model``'s options: its declared defaults updated by ``model_options[model]``."""
    defaults = declared().get(model, {})
    given = model_options.get(model, {}) if model_options else {}
    unknown = set(given) - set(defaults)
    if unknown:
        raise KeyError(f"{model}: unknown option(s) {', '.join(sorted(unknown))}")
    return MappingProxyType({**defaults, **given})


def cache_settings(model_options: dict) -> dict:
    """Every model's options as they enter the score cache key (flat; see the module docstring)."""
    out: dict = {}
    for name, plugin in _plugins():
        options = merged(model_options, name)
        settings = plugin.cache_settings
        out.update(settings(options) if settings else options)
    return out
