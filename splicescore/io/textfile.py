"""Text files that may be gzipped (or bgzipped): recognised by their magic bytes, opened as text."""

from __future__ import annotations

import gzip
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | Path) -> bool:
    """Whether the file starts with the gzip magic bytes (gzip or BGZF)."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_text(path: str | Path):
    """The file as text, gunzipped when it is gzipped."""
    if is_gzip(path):
        return gzip.open(path, "rt")
    return open(path, "rt")
