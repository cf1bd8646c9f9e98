"""VCF input from stdin, streamed: text (plain or gzipped) parsed line by line, BCF piped to htslib."""

from __future__ import annotations

import os
import sys
import zlib
from typing import TYPE_CHECKING

import cyvcf2

from splicescore.io.vcf_record import line_problem

if TYPE_CHECKING:
    from splicescore.io.vcf_input import VcfInput


class StdinText:
    """Stdin input read by Python (gunzipped when gzip/bgzip): the header goes to htslib through a
    temporary file and each record line is parsed by htslib as it comes (``variant_from_string``), so
    stdin input keeps its columns byte for byte as file input does and streams. BCF on stdin is handed
    to htslib unchanged through a pipe fed by a child process (records formatted by htslib)."""

    def __init__(self):
        import tempfile

        self.src = sys.stdin.buffer
        self.bcf = False
        self.parser = None
        self.last: bytes | None = None
        self.line_no = 0
        self._dir = tempfile.mkdtemp(prefix="splicescore-stdin-")
        prefix = self.src.read1(1 << 16)
        gz = prefix[:2] == b"\x1f\x8b"
        if gz:
            probe = zlib.decompressobj(31).decompress(prefix, 8)
            if probe.startswith(b"BCF"):
                self.path = self._pipe_bcf(prefix)
                self.bcf = True
                return
        elif prefix.startswith(b"BCF"):
            self.path = self._pipe_bcf(prefix)
            self.bcf = True
            return
        self.lines = self._lines(prefix, gz)
        header = []
        self.pending = None
        for line in self.lines:
            self.line_no += 1
            if line.startswith(b"#"):
                header.append(line if line.endswith(b"\n") else line + b"\n")
                continue
            self.pending = line
            break
        self.header_lines = len(header)
        self.path = os.path.join(self._dir, "header.vcf")
        with open(self.path, "wb") as fh:
            fh.write(b"".join(h.rstrip(b"\r\n") + b"\n" for h in header))

    def _lines(self, prefix: bytes, gz: bool):
        inflate = zlib.decompressobj(31) if gz else None
        carry = b""
        data = prefix
        while data:
            text = data
            if inflate is not None:
                text = b""
                while data:
                    text += inflate.decompress(data)
                    data = inflate.unused_data if inflate.eof else b""
                    if inflate.eof:
                        inflate = zlib.decompressobj(31)
            carry += text
            parts = carry.split(b"\n")
            carry = parts.pop()
            for part in parts:
                yield part + b"\n"
            data = self.src.read1(1 << 16)
        if carry:
            yield carry

    def _pipe_bcf(self, prefix: bytes) -> str:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: copy what was read, then the rest of stdin, into the pipe
            try:
                os.close(r)
                data = prefix
                while data:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(w, view):]
                    data = self.src.read1(1 << 16)
            finally:
                os._exit(0)
        os.close(w)
        self._pipe = r
        return f"/dev/fd/{r}"

    def records(self, owner: "VcfInput"):
        """Parsed records, one per text line (``self.last`` holds the line, no line end)."""
        if self.parser is None:
            self.parser = cyvcf2.Writer.from_string(os.path.join(self._dir, "parser.vcf"), owner.reader.raw_header)
        line = self.pending
        while line is not None:
            owner._line_no = self.line_no
            self.last = line.rstrip(b"\r\n") if line.endswith(b"\n") else line.rstrip(b"\r") + b"\0cut"
            if line_problem(self.last):
                raise ValueError("unreadable line")
            yield self.parser.variant_from_string(self.last.decode())
            line = next(self.lines, None)
            self.line_no += 1

    def close(self) -> None:
        import shutil

        shutil.rmtree(self._dir, ignore_errors=True)
