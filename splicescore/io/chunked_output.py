"""Crash-consistent outputs: files written in chunks that are complete on disk, and the scan of
what a killed run left.

Every output is written chunk by chunk: the records (and TSV rows) of a finished chunk are complete
on disk before the next chunk starts (``end_chunk``), so a run killed at any moment leaves a
``.partial`` file that is a valid prefix of the output, possibly followed by a torn tail. ``--resume``
keeps the complete records of such a file (an empty file, a header only, a record or a BGZF block cut
off: the incomplete tail is dropped) and continues after them.

Bgzipped output cuts its BGZF blocks by content only (every block but the last holds exactly
BGZF_BLOCK bytes of text, as htslib cuts them), so the bytes never depend on --chunk-size or on where
a run was resumed. To have a chunk on disk before that block is full, the not-yet-full last block is
written as a provisional block after the full ones and rewritten by the next chunk; a kill during
that rewrite leaves a torn block, which a resume drops (its records are scored again).
BCF output is written the same way as bgzipped VCF text into ``OUTPUT.partial`` and converted to BCF
(htslib) when the run completes.
"""

from __future__ import annotations

import os

from splicescore.io.bgzf import BGZF_BLOCK, BGZF_EOF, BGZF_MAGIC, bgzf_block, iter_bgzf_blocks


def is_special_file(path: str) -> bool:
    """An existing output that is not a regular file (``/dev/null``, a named pipe): never replaced."""
    return os.path.exists(path) and not os.path.isfile(path)


def record_key(line: bytes) -> tuple:
    f = line.split(b"\t", 5)
    if len(f) < 5:
        raise ValueError("short line")
    alts = () if f[4] == b"." else tuple(f[4].decode().split(","))
    return (f[0].decode(), int(f[1]), f[3].decode(), alts)


class PartialScan:
    """What an earlier run left in a ``.partial`` file: the complete records after a matching header.

    ``kept`` is the text length to keep (header and complete records); ``keys`` are the kept records'
    (CHROM, POS, REF, ALTs). For BGZF files ``blocks`` lists (compressed_end, text_length) of the
    intact blocks. ``header_ok`` is False when the file holds a different header (another input or
    other options); an empty file or one cut inside the header counts as holding nothing."""

    def __init__(self, path: str, header: bytes, bgzf: bool):
        self.keys: list[tuple] = []
        self.blocks: list[tuple[int, int]] = []
        self.kept = 0
        self.header_ok = True
        with open(path, "rb") as fh:
            if bgzf:
                chunks = self._bgzf_chunks(fh)
            else:
                chunks = iter(lambda: fh.read(1 << 20), b"")
            self._scan(chunks, header)
            if bgzf and not self.blocks:  # nothing intact: a torn first block of ours, or not ours at all
                fh.seek(0)
                head = fh.read(4)
                if head and not BGZF_MAGIC.startswith(head):
                    self.header_ok = False

    def _bgzf_chunks(self, fh):
        for _, end, data in iter_bgzf_blocks(fh):
            self.blocks.append((end, len(data)))
            if data:
                yield data

    def _scan(self, chunks, header: bytes) -> None:
        seen = bytearray()
        pos = 0  # text offset of ``carry``'s start
        carry = b""
        in_header = True
        for data in chunks:
            if in_header:
                seen += data
                if len(seen) < len(header):
                    if not header.startswith(bytes(seen)):
                        self.header_ok = False
                        return
                    continue
                if not seen.startswith(header):
                    self.header_ok = False
                    return
                in_header = False
                self.kept = pos = len(header)
                data = bytes(seen[len(header):])
                seen = bytearray()
            carry += data
            lines = carry.split(b"\n")
            carry = lines.pop()
            for line in lines:
                try:
                    key = record_key(line)
                except (ValueError, UnicodeDecodeError):
                    return  # not a record this program wrote: keep what came before
                self.keys.append(key)
                pos += len(line) + 1
            self.kept = pos
        if in_header and bytes(seen) == header:
            self.kept = len(header)


class ChunkedSink:
    """An output file (or stdout) written in chunks that are complete on disk after :meth:`end_chunk`;
    plain text or BGZF (see the module docstring). ``final_offset``/``pending`` continue a resumed file."""

    def __init__(self, fd: int, bgzf: bool, seekable: bool, final_offset: int = 0, pending: bytes = b""):
        self.fd = fd
        self.bgzf = bgzf
        self.seekable = seekable
        self.final_offset = final_offset  # BGZF: end of the full blocks already on disk
        self.pending = bytearray(pending)  # BGZF: text after them (provisional block)
        self.buffer: list[bytes] = []

    def add(self, data: bytes) -> None:
        self.buffer.append(data)

    def _write_at(self, offset: int | None, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.pwrite(self.fd, view, offset) if offset is not None else os.write(self.fd, view)
            except BrokenPipeError:
                # the reader went away (`| head`): without errno, so that click leaves it to
                # splicescore.cli.main, which ends quietly with exit code 0
                raise BrokenPipeError() from None
            view = view[n:]
            if offset is not None:
                offset += n

    def end_chunk(self, final: bool = False) -> None:
        data = b"".join(self.buffer)
        self.buffer = []
        if not self.bgzf:
            if data:
                self._write_at(None, data)
            return
        self.pending += data
        full = bytearray()
        while len(self.pending) >= BGZF_BLOCK:
            full += bgzf_block(bytes(self.pending[:BGZF_BLOCK]))
            del self.pending[:BGZF_BLOCK]
        if not self.seekable:  # a pipe: full blocks now, the rest at the end
            tail = (bgzf_block(bytes(self.pending)) if self.pending else b"") + BGZF_EOF if final else b""
            if final:
                self.pending = bytearray()
            if full or tail:
                self._write_at(None, bytes(full) + tail)
            return
        tail = bgzf_block(bytes(self.pending)) if self.pending else b""
        if final:
            tail += BGZF_EOF
        self._write_at(self.final_offset, bytes(full) + tail)
        self.final_offset += len(full)
        os.ftruncate(self.fd, self.final_offset + len(tail))
