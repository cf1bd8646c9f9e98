"""splicescore: variant-effect scoring with batched PyTorch ports of published splicing models.

The Python API (:mod:`splicescore.api`) is importable from here: ``splicescore.Session``,
``splicescore.VariantResult``, ``splicescore.Score``, ``splicescore.Skip``, ``splicescore.Results``,
``splicescore.VariantError``, ``splicescore.parse_variant`` (loaded on first use, so the CLI starts fast).
"""

__version__ = "0.1.0"

_API = ("Session", "VariantResult", "Score", "Skip", "Results", "VariantError", "parse_variant")


def __getattr__(name):
    if name in _API:
        from splicescore import api

        return getattr(api, name)
    raise AttributeError(f"module 'splicescore' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API))
