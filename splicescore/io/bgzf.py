"""BGZF, the blocked gzip of htslib: one block written, the intact blocks of a file read.

A BGZF file is a series of gzip members of at most 64 KiB of text each, every one with the ``BC``
extra field that holds its compressed size, and an empty end-of-file block (:data:`BGZF_EOF`).
"""

from __future__ import annotations

import struct
import zlib

BGZF_BLOCK = 0xFF00  # uncompressed bytes per BGZF block (htslib's BGZF_BLOCK_SIZE)
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
BGZF_MAGIC = b"\x1f\x8b\x08\x04"


def bgzf_block(data: bytes, level: int = 6) -> bytes:
    """One BGZF block (a gzip member with the ``BC`` extra field) holding ``data`` (<= 64 KiB)."""
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = comp.compress(data) + comp.flush()
    header = BGZF_MAGIC + b"\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00" + struct.pack("<H", len(body) + 25)
    return header + body + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data))


def iter_bgzf_blocks(fh):
    """``(compressed_start, compressed_end, data)`` of each complete, intact BGZF block of ``fh`` from
    its current position; stops at the first torn, corrupt or non-BGZF block (or the end)."""
    offset = fh.tell()
    while True:
        head = fh.read(18)
        if len(head) < 18 or head[:4] != BGZF_MAGIC or head[12:14] != b"BC":
            return
        size = struct.unpack("<H", head[16:18])[0] + 1
        rest = fh.read(size - 18)
        if len(rest) != size - 18:
            return
        crc, isize = struct.unpack("<II", rest[-8:])
        try:
            data = zlib.decompress(rest[:-8], -15)
        except zlib.error:
            return
        if len(data) != isize or zlib.crc32(data) & 0xFFFFFFFF != crc:
            return
        yield offset, offset + size, data
        offset += size
