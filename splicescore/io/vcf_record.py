"""One VCF record's text line: what makes it unreadable, and the record that keeps it byte for byte."""

from __future__ import annotations

import re


class _InfoProxy:
    """``record.INFO`` that remembers the keys set (to rebuild the INFO column of the text line)."""

    __slots__ = ("info", "sets")

    def __init__(self, info):
        self.info = info
        self.sets: dict[str, str] = {}

    def __setitem__(self, key, value):
        self.info[key] = value
        self.sets[key] = value

    def __getitem__(self, key):
        return self.info[key]

    def get(self, key, default=None):
        return self.info.get(key, default)

    def __iter__(self):
        return iter(self.info)


class Record:
    """A cyvcf2 record together with its input text line: the output line is that line with only
    the INFO keys splicescore sets changed (replaced in place, or appended), so every other column
    (FORMAT and samples, QUAL, other INFO values) stays byte for byte as it came in."""

    __slots__ = ("rec", "line", "_info")

    def __init__(self, rec, line: bytes):
        self.rec = rec
        self.line = line
        self._info = None

    @property
    def INFO(self):  # noqa: N802 (cyvcf2's name)
        if self._info is None:
            self._info = _InfoProxy(self.rec.INFO)
        return self._info

    def __getattr__(self, name):
        return getattr(self.rec, name)

    def __str__(self) -> str:
        return self.text().decode()

    def text(self) -> bytes:
        if self._info is None or not self._info.sets:
            return self.line + b"\n"
        f = self.line.split(b"\t", 8)
        items = [] if f[7] in (b".", b"") else f[7].split(b";")
        keys = [i.split(b"=", 1)[0] for i in items]
        for key, value in self._info.sets.items():
            item = key.encode() + b"=" + str(value).encode()
            k = key.encode()
            if k in keys:
                items[keys.index(k)] = item
            else:
                items.append(item)
                keys.append(k)
        f[7] = b";".join(items)
        return b"\t".join(f) + b"\n"


_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def line_problem(line: bytes | None) -> str | None:
    """What makes a record line unreadable, in words (``None``: nothing found)."""
    if line is None:
        return "the file ends early (truncated?)"
    if line.startswith(b"\0gzip:"):
        return f"cannot decompress the file ({line[6:].decode(errors='replace')}); truncated or corrupt?"
    if line.endswith(b"\0cut"):
        return "the last line is cut off (no line end): a truncated file?"
    if not line.strip():
        return "empty line (a VCF has no blank lines)"
    if not line.isascii():
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return "binary data, not VCF text"
    if _CONTROL.search(line):
        return "control characters in the line: binary data, not VCF text"
    f = line.split(b"\t", 8)
    if len(f) < 8:
        return f"{len(f)} tab-separated columns; a VCF record has at least 8 (CHROM POS ID REF ALT QUAL FILTER INFO)"
    if not f[1].isdigit():
        return f"POS {f[1][:20].decode()!r} is not a number"
    if not f[3] or not f[4]:
        return "empty REF or ALT column"
    return None
