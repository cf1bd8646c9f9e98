"""Where splicescore keeps its files (weights, compiled annotation indexes); imports no torch."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The cache root: ``$SPLICESCORE_HOME`` or the platform's user cache dir."""
    env = os.environ.get("SPLICESCORE_HOME")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("splicescore"))
