"""Where splicescore keeps its files (weights, compiled annotation indexes); imports no torch."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def home() -> Path:
    """The cache root: ``$SPLICESCORE_HOME`` or the platform's user cache dir."""
    env = os.environ.get("SPLICESCORE_HOME")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("splicescore"))


def sha256_file(path: str | Path) -> str:
    """The file's sha256, hex (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
