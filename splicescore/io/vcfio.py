"""VCF/BCF input and output (cyvcf2/htslib), and the TSV writer.

Outputs are written to a temporary file beside the target (``OUTPUT.partial``) and moved into place
only when the run succeeds, so an interrupted or failed run never leaves a file that looks complete;
the partial file is consistent after every chunk and ``--resume`` continues it (see "crash-consistent
outputs" below). ``-`` is stdin / stdout.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
import select
import struct
import sys
import zlib
from pathlib import Path
from typing import Iterator

import logging

import cyvcf2

from splicescore.errors import InputError, OutputError, ResumeMismatch, UsageError

log = logging.getLogger("splicescore")

OUTPUT_MODES = {"v": "w", "z": "wz", "b": "wb", "u": "wbu"}


def output_type_for(path: str, explicit: str | None) -> str:
    """``v`` (VCF), ``z`` (bgzipped VCF), ``b`` (BCF) or ``u`` (uncompressed BCF)."""
    if explicit:
        if explicit not in OUTPUT_MODES:
            raise UsageError(f"--output-type must be one of {', '.join(OUTPUT_MODES)}")
        return explicit
    if path.endswith((".vcf.gz", ".vcf.bgz", ".gz", ".bgz")):
        return "z"
    if path.endswith(".bcf"):
        return "b"
    return "v"


class VcfInput:
    """Streams records of a VCF/VCF.gz/BCF file or ``-`` (stdin); errors name the file and line."""

    def __init__(self, path: str):
        self.path = path
        if path != "-" and not Path(path).is_file():
            raise InputError("input VCF not found", path)
        # htslib's own messages (undeclared contigs, parse errors with the raw bytes) only with -vv:
        # every problem that stops a run is reported once, as one line naming the file and line
        cyvcf2.cyvcf2.set_htslib_log_level(3 if log.isEnabledFor(logging.DEBUG) else 0)
        self._stdin = None
        if path == "-":
            try:
                self._stdin = _StdinText()
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(f"cannot read the input ({exc})", "<stdin>") from exc
        try:
            self.reader = cyvcf2.VCF(self._stdin.path if self._stdin else path, lazy=True)
        except (OSError, Exception) as exc:  # cyvcf2 raises bare Exception for unparsable headers
            raise InputError(f"cannot read VCF header ({exc})", self._name) from exc
        if not self.reader.raw_header.startswith("##fileformat"):
            raise InputError("not a VCF: the header must start with ##fileformat", self._name, 1)
        self.header_lines = _count_header_lines(path) if self._stdin is None else getattr(self._stdin, "header_lines", None)
        self.records_read = 0

    @property
    def _name(self) -> str:
        return "<stdin>" if self.path == "-" else self.path

    def add_info(self, key: str, description: str, number: str = ".", type_: str = "String") -> None:
        self.reader.add_info_to_header({"ID": key, "Number": number, "Type": type_, "Description": description})

    def select(self, region: str | None = None, shard: tuple[int, int] | None = None) -> None:
        """Restrict the records: ``region`` (``chr:start-end``, ``chr``; needs a .tbi/.csi index) and
        ``shard`` ``(i, n)``: the i-th (1-based) of n contiguous blocks of the records (in the region),
        so that the shards' outputs, concatenated in order, are the unsharded output."""
        self.region = region
        self.shard = shard
        if region is not None and (
            self.path == "-" or not any(os.path.exists(self.path + ext) for ext in (".tbi", ".csi"))
        ):
            raise InputError(
                f"--region {region}: the input must be bgzipped and indexed (no .tbi/.csi beside it; "
                "run `bcftools index` or `tabix -p vcf`)", self._name
            )
        if shard is not None:
            if self.path == "-":
                raise UsageError("--shard needs an input file, not stdin (records are counted first)")
            i, n = shard
            self.shard_range = None
            total = self.count_selected()
            self.shard_range = (total * (i - 1) // n, total * i // n)

    def count_selected(self) -> int | None:
        """How many records this input will yield (``None`` for stdin): the shard's size, or one
        counting pass over the file (or region) with a reader of its own."""
        if getattr(self, "shard_range", None) is not None:
            lo, hi = self.shard_range
            return hi - lo
        if self.path == "-":
            return None
        counter = VcfInput(self.path)
        try:
            counter.region = getattr(self, "region", None)
            return sum(1 for _ in counter._records())
        finally:
            counter.close()

    def _region_iter(self):
        contig, _, span = self.region.partition(":")
        names = list(self.reader.seqnames or [])
        from splicescore.io.genome import contig_aliases

        name = next((a for a in contig_aliases(contig) if a in names), contig)
        query = self._region_query = name + (":" + span if span else "")
        try:
            return self.reader(query)
        except Exception as exc:
            raise InputError(
                f"--region {self.region}: cannot query the VCF ({exc}); it must be bgzipped and indexed "
                "(bcftools index / tabix -p vcf)", self._name
            ) from exc

    def _records(self):
        if self._stdin is not None and not self._stdin.bcf:
            return self._stdin.records(self)
        return iter(self._region_iter()) if getattr(self, "region", None) else iter(self.reader)

    def __iter__(self) -> Iterator[cyvcf2.Variant]:
        lo, hi = getattr(self, "shard_range", (0, None))
        for n, rec in enumerate(self._checked()):
            if n < lo:
                continue
            if hi is not None and n >= hi:
                return
            yield rec

    def _checked(self) -> Iterator[cyvcf2.Variant]:
        it = self._records()
        raw = self._raw_lines()
        while True:
            try:
                rec = next(it)
            except StopIteration:
                if raw is not None and self._stdin is None:
                    line = next(raw, None)
                    if line is not None:  # htslib stopped early (cannot happen for a well-formed file)
                        self._raise_for(line, "unreadable record")
                return
            except Exception as exc:  # htslib parse errors surface as bare Exception
                if raw is not None:
                    self._raise_for(next(raw, None), f"malformed VCF record ({exc})")
                n = self.records_read + 1
                if self.header_lines is None:
                    raise InputError(f"malformed record {n} ({exc})", self._name) from exc
                raise InputError(f"malformed VCF record ({exc})", self._name, self.header_lines + n) from exc
            self.records_read += 1
            if raw is not None:
                line = next(raw, None)
                problem = _line_problem(line)
                if problem:
                    raise InputError(problem, self._name, self._line_no)
                f = line.split(b"\t", 4)
                if f[0].decode() == rec.CHROM and int(f[1]) == rec.POS:
                    yield Record(rec, line)
                    continue
                log.debug(f"splicescore: {self._name}:{self._line_no}: record and text disagree; "
                          "htslib formats the rest of the output")
                raw = None
            yield rec

    def _raise_for(self, line: bytes | None, default: str):
        raise InputError(_line_problem(line) or default, self._name, self._line_no)

    def _raw_lines(self):
        """The text lines of the records (bytes, no line end) in step with htslib's records, so that
        the output keeps every column but INFO byte for byte; ``None`` for stdin, BCF and --region."""
        self._line_no = None
        if self._stdin is not None:
            if self._stdin.bcf:
                return None

            def last():
                while True:
                    yield self._stdin.last

            return last()
        if self.header_lines is None:
            return None
        if getattr(self, "region", None):
            return self._region_lines()

        def lines():
            with open(self.path, "rb") as probe:
                gz = probe.read(2) == b"\x1f\x8b"
            try:
                with (gzip.open(self.path, "rb") if gz else open(self.path, "rb")) as fh:
                    n = 0
                    for line in fh:
                        n += 1
                        if n <= self.header_lines:
                            continue
                        self._line_no = n
                        yield line.rstrip(b"\r\n") if line.endswith(b"\n") else line.rstrip(b"\r") + b"\0cut"
            except (OSError, EOFError, zlib.error) as exc:
                self._line_no = (self._line_no or self.header_lines) + 1
                yield b"\0gzip:" + str(exc).encode()

        return lines()

    def _region_lines(self):
        """The text lines of a --region query (tabix, the same records in the same order)."""
        import pysam

        query = getattr(self, "_region_query", None)
        index = next((self.path + e for e in (".tbi", ".csi") if os.path.exists(self.path + e)), None)
        if query is None or index is None:
            return None
        try:
            tbx = pysam.TabixFile(self.path, index=index, encoding="utf-8")
            it = tbx.fetch(region=query)
        except (OSError, ValueError):
            return None

        def lines():
            try:
                for line in it:
                    yield line.encode().rstrip(b"\r")
            finally:
                tbx.close()

        return lines()

    def close(self) -> None:
        self.reader.close()
        if self._stdin is not None:
            self._stdin.close()


class _StdinText:
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
            if _line_problem(self.last):
                raise ValueError("unreadable line")
            yield self.parser.variant_from_string(self.last.decode())
            line = next(self.lines, None)
            self.line_no += 1

    def close(self) -> None:
        import shutil

        shutil.rmtree(self._dir, ignore_errors=True)


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


def _line_problem(line: bytes | None) -> str | None:
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


def write_vcf_index(path: str, output_type: str) -> str:
    """Index a bgzipped VCF (``.tbi``) or a BCF (``.csi``); returns the index path."""
    import pysam

    if output_type not in ("z", "b"):
        raise UsageError("--write-index needs bgzipped VCF or BCF output (-O z or -O b, or a .vcf.gz/.bcf name)")
    try:
        if output_type == "z":
            pysam.tabix_index(path, preset="vcf", force=True, keep_original=True)
            return path + ".tbi"
        from pysam import bcftools

        bcftools.index("-f", path)
        return path + ".csi"
    except (OSError, pysam.utils.SamtoolsError) as exc:
        raise OutputError(f"{path}: cannot index ({exc}); is the VCF sorted?") from exc


def stdout_closed() -> bool:
    """True when stdout is a pipe whose reading end was closed (POLLERR on the write end)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _count_header_lines(path: str) -> int | None:
    """Header lines of a text VCF (plain or gzipped), so errors can name file lines; ``None`` for
    stdin and BCF, whose errors name the record number instead."""
    if path == "-":
        return None
    with open(path, "rb") as fh:
        magic = fh.read(3)
    opener = gzip.open if magic[:2] == b"\x1f\x8b" else open
    n = 0
    try:
        with opener(path, "rb") as fh:
            if fh.read(3) == b"BCF":
                return None
            fh.seek(0)
            for line in fh:
                if not line.startswith(b"#"):
                    break
                n += 1
    except (OSError, EOFError):
        return None
    return n


# -- crash-consistent outputs ------------------------------------------------------------------------
#
# Every output is written chunk by chunk: the records (and TSV rows) of a finished chunk are complete
# on disk before the next chunk starts (``end_chunk``), so a run killed at any moment leaves a
# ``.partial`` file that is a valid prefix of the output, possibly followed by a torn tail. ``--resume``
# keeps the complete records of such a file (an empty file, a header only, a record or a BGZF block cut
# off: the incomplete tail is dropped) and continues after them.
#
# Bgzipped output cuts its BGZF blocks by content only (every block but the last holds exactly
# BGZF_BLOCK bytes of text, as htslib cuts them), so the bytes never depend on --chunk-size or on where
# a run was resumed. To have a chunk on disk before that block is full, the not-yet-full last block is
# written as a provisional block after the full ones and rewritten by the next chunk; a kill during
# that rewrite leaves a torn block, which a resume drops (its records are scored again).
# BCF output is written the same way as bgzipped VCF text into ``OUTPUT.partial`` and converted to BCF
# (htslib) when the run completes.

BGZF_BLOCK = 0xFF00  # uncompressed bytes per BGZF block (htslib's BGZF_BLOCK_SIZE)
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_BGZF_MAGIC = b"\x1f\x8b\x08\x04"


def bgzf_block(data: bytes, level: int = 6) -> bytes:
    """One BGZF block (a gzip member with the ``BC`` extra field) holding ``data`` (<= 64 KiB)."""
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = comp.compress(data) + comp.flush()
    header = _BGZF_MAGIC + b"\x00\x00\x00\x00\x00\xff\x06\x00BC\x02\x00" + struct.pack("<H", len(body) + 25)
    return header + body + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data))


def iter_bgzf_blocks(fh):
    """``(compressed_start, compressed_end, data)`` of each complete, intact BGZF block of ``fh`` from
    its current position; stops at the first torn, corrupt or non-BGZF block (or the end)."""
    offset = fh.tell()
    while True:
        head = fh.read(18)
        if len(head) < 18 or head[:4] != _BGZF_MAGIC or head[12:14] != b"BC":
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


def _is_special(path: str) -> bool:
    """An existing output that is not a regular file (``/dev/null``, a named pipe): never replaced."""
    return os.path.exists(path) and not os.path.isfile(path)


def _record_key(line: bytes) -> tuple:
    f = line.split(b"\t", 5)
    if len(f) < 5:
        raise ValueError("short line")
    alts = () if f[4] == b"." else tuple(f[4].decode().split(","))
    return (f[0].decode(), int(f[1]), f[3].decode(), alts)


class _PartialScan:
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
                if head and not _BGZF_MAGIC.startswith(head):
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
                    key = _record_key(line)
                except (ValueError, UnicodeDecodeError):
                    return  # not a record this program wrote: keep what came before
                self.keys.append(key)
                pos += len(line) + 1
            self.kept = pos
        if in_header and bytes(seen) == header:
            self.kept = len(header)


class _ChunkedSink:
    """An output file (or stdout) written in chunks that are complete on disk after :meth:`end_chunk`;
    plain text or BGZF (see above). ``final_offset``/``pending`` continue a resumed file."""

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


class VcfOutput:
    """Writes the records, as VCF text with the run's header, into ``PATH.partial`` chunk by chunk
    (:meth:`end_chunk`); :meth:`commit` moves it to ``PATH`` (converting to BCF for ``-O b/u``). A
    failed or interrupted run keeps the ``.partial`` file, which ``--resume`` continues: the records it
    holds are in :attr:`resumed_records` (checked against the input by the pipeline), and
    :meth:`begin` (called after that check) drops its incomplete tail and appends."""

    def __init__(self, path: str, template: VcfInput, output_type: str | None = None, resume: bool = False,
                 header: str | None = None):
        self.path = path
        self.output_type = output_type_for(path, output_type)
        self.mode = OUTPUT_MODES[self.output_type]
        self.template = template
        self.header = (header if header is not None else template.reader.raw_header).encode()
        self.resumed_records: list = []
        self.tmp: str | None = None
        self.sink: _ChunkedSink | None = None
        self.writer = None  # cyvcf2 writer: BCF to stdout only
        self._scan: _PartialScan | None = None
        self._fd: int | None = None
        self.bgzf = self.output_type != "v"
        self.direct = path != "-" and _is_special(path)  # /dev/null, a named pipe: written as it goes
        if path == "-" or self.direct:
            if resume:
                raise UsageError(f"--resume needs an output file, not {'stdout' if path == '-' else path}")
        else:
            folder = Path(path).resolve().parent
            if not folder.is_dir():
                raise OutputError(f"{path}: output folder {folder} does not exist")
            if not os.access(folder, os.W_OK):
                raise OutputError(f"{path}: output folder {folder} is not writable")
            self.tmp = path + ".partial"
            if resume and os.path.exists(self.tmp):
                try:
                    scan = _PartialScan(self.tmp, self.header, self.bgzf)
                except OSError as exc:
                    raise OutputError(f"{self.tmp}: cannot read the partial output to resume ({exc.strerror})") from exc
                if not scan.header_ok:
                    raise ResumeMismatch(
                        f"{self.tmp} was written from another input or with other options; "
                        "run without --resume to start again"
                    )
                self._scan = scan
                self.resumed_records = scan.keys

    def begin(self) -> None:
        """Open the output (after a resumed partial was checked): write the header, or keep the resumed
        partial's complete records and drop the rest."""
        if self.sink is not None or self.writer is not None:
            return
        if self.path == "-" or self.direct:
            if self.output_type in ("b", "u"):
                try:
                    self.writer = cyvcf2.Writer(self.path, self.template.reader, mode=self.mode)
                except Exception as exc:
                    raise OutputError(f"{self.path}: cannot open output ({exc})") from exc
                return
            if self.direct:
                try:
                    self._fd = fd = os.open(self.path, os.O_WRONLY)
                except OSError as exc:
                    raise OutputError(f"{self.path}: cannot write output ({exc.strerror})") from exc
            else:
                sys.stdout.flush()
                fd = sys.stdout.fileno()
            self.sink = _ChunkedSink(fd, self.bgzf, seekable=False)
            self.sink.add(self.header)
            self.sink.end_chunk()
            return
        scan = self._scan
        try:
            if scan is None or scan.kept == 0:
                self._fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
                self.sink = _ChunkedSink(self._fd, self.bgzf, seekable=True)
                self.sink.add(self.header)
            elif not self.bgzf:
                self._fd = os.open(self.tmp, os.O_WRONLY)
                os.ftruncate(self._fd, scan.kept)
                os.lseek(self._fd, 0, os.SEEK_END)
                self.sink = _ChunkedSink(self._fd, False, seekable=True)
            else:
                self._resume_bgzf(scan)
        except OSError as exc:
            raise OutputError(f"{self.tmp}: cannot write output ({exc.strerror})") from exc
        self._scan = None
        self.sink.end_chunk()

    def _resume_bgzf(self, scan: _PartialScan) -> None:
        """Keep the partial's full blocks before the last complete record, rewrite the rest. A partial
        whose blocks were cut otherwise (an older splicescore) is rewritten from its text."""
        if any(size != BGZF_BLOCK for _, size in scan.blocks[:-1]):
            self._rewrite_bgzf(scan)
            return
        n_full = 0
        while n_full < len(scan.blocks) and scan.blocks[n_full][1] == BGZF_BLOCK and (n_full + 1) * BGZF_BLOCK <= scan.kept:
            n_full += 1
        final_offset = scan.blocks[n_full - 1][0] if n_full else 0
        with open(self.tmp, "rb") as fh:
            fh.seek(final_offset)
            text = bytearray()
            for _, _, data in iter_bgzf_blocks(fh):
                text += data
                if n_full * BGZF_BLOCK + len(text) >= scan.kept:
                    break
        if n_full * BGZF_BLOCK + len(text) < scan.kept:
            raise OSError(0, "the partial output changed while it was read")
        pending = bytes(text[: scan.kept - n_full * BGZF_BLOCK])
        self._fd = os.open(self.tmp, os.O_WRONLY)
        self.sink = _ChunkedSink(self._fd, True, seekable=True, final_offset=final_offset, pending=pending)

    def _rewrite_bgzf(self, scan: _PartialScan) -> None:
        fresh = self.tmp + ".rewrite"
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        sink = _ChunkedSink(fd, True, seekable=True)
        left = scan.kept
        with open(self.tmp, "rb") as fh:
            for _, _, data in iter_bgzf_blocks(fh):
                sink.add(data[:left])
                left -= min(left, len(data))
                if not left:
                    break
        sink.end_chunk()
        os.close(fd)
        os.replace(fresh, self.tmp)
        self._fd = os.open(self.tmp, os.O_WRONLY)
        self.sink = _ChunkedSink(self._fd, True, seekable=True, final_offset=sink.final_offset,
                                 pending=bytes(sink.pending))

    def format(self, record) -> bytes:
        """The record's VCF line: its input text with splicescore's INFO keys (:class:`Record`), or
        htslib's formatting (BCF and stdin input)."""
        if isinstance(record, Record):
            return record.text()
        return str(record).encode()

    def write(self, record) -> None:
        if self.sink is None and self.writer is None:
            self.begin()
        if self.writer is not None:
            self.writer.write_record(record.rec if isinstance(record, Record) else record)
        else:
            self.sink.add(self.format(record))

    def end_chunk(self) -> None:
        """Put the records written since the last call on disk (complete records; BGZF: whole blocks)."""
        if self.sink is None and self.writer is None:
            self.begin()
        if self.sink is not None:
            self.sink.end_chunk()

    def check_reader_alive(self) -> None:
        """Raise ``BrokenPipeError`` when writing to stdout and its reader has gone (``| head``):
        htslib's writes fail silently there, so the run would otherwise score to the end."""
        if self.path == "-" and stdout_closed():
            raise BrokenPipeError

    def commit(self, write_index: bool = False) -> None:
        if self.sink is None and self.writer is None:
            self.begin()
        if self.writer is not None:
            self.writer.close()
            return
        self.sink.end_chunk(final=True)
        if self.tmp is None:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            return
        os.close(self._fd)
        self._fd = None
        if self.output_type in ("b", "u"):
            self._convert_to_bcf()
        else:
            os.replace(self.tmp, self.path)
        self.tmp = None
        if write_index:
            write_vcf_index(self.path, self.output_type)

    def _convert_to_bcf(self) -> None:
        """BCF from the finished bgzipped VCF text (the same text always gives the same bytes)."""
        out = self.path + ".partial.bcf"
        try:
            reader = cyvcf2.VCF(self.tmp, lazy=True)
            known = set(reader.seqnames or [])
            with gzip.open(self.tmp, "rb") as fh:
                missing = dict.fromkeys(
                    c for c in (line.split(b"\t", 1)[0].decode() for line in fh if not line.startswith(b"#"))
                    if c not in known
                )
            for contig in missing:  # BCF needs every contig in the header
                reader.add_to_header(f"##contig=<ID={contig}>")
            writer = cyvcf2.Writer(out, reader, mode=self.mode)
            for rec in reader:
                writer.write_record(rec)
            writer.close()
            reader.close()
        except Exception as exc:
            raise OutputError(f"{self.path}: cannot write BCF ({exc}); the VCF text is kept in {self.tmp}") from exc
        os.replace(out, self.path)
        os.unlink(self.tmp)

    def discard(self, keep_partial: bool = False) -> None:
        """Close after a failure; the ``.partial`` file stays only when ``keep_partial``."""
        try:
            if self.writer is not None:
                self.writer.close()
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        except Exception:
            pass
        if self.tmp is not None and os.path.exists(self.tmp) and not keep_partial:
            os.unlink(self.tmp)


class TsvOutput:
    """One row per record x ALT x gene x model, written like :class:`VcfOutput` (``.partial`` until
    committed, complete rows on disk after each :meth:`end_chunk`; ``-`` is stdout). ``record`` is the
    1-based number of the input record. With ``resume_records`` an earlier ``.partial`` is continued
    after its rows of the first ``resume_records`` records (:meth:`begin` truncates it there)."""

    BASE = ("record", "chrom", "pos", "ref", "alt", "model", "gene", "strand")

    def __init__(self, path: str, columns: list[str], resume_records: int = 0, base: tuple[str, ...] = BASE):
        self.path = path
        self.columns = list(base) + list(dict.fromkeys(c for c in columns if c not in base))
        self.tmp: str | None = None
        self.fh = None
        self._keep: int | None = None  # bytes of the resumed partial to keep
        self.direct = path != "-" and _is_special(path)
        if path != "-" and not self.direct:
            folder = Path(path).resolve().parent
            if not folder.is_dir() or not os.access(folder, os.W_OK):
                raise OutputError(f"{path}: output folder {folder} does not exist or is not writable")
            self.tmp = path + ".partial"
            if resume_records:
                self._keep = self._scan_partial(resume_records)
        if resume_records == 0 or self.tmp is None:
            self.begin()

    def _header(self) -> bytes:
        return ("\t".join(self.columns) + "\n").encode()

    def _scan_partial(self, n_records: int) -> int:
        """Bytes of the partial TSV holding its header and complete rows of records <= ``n_records``."""
        if not os.path.exists(self.tmp):
            raise ResumeMismatch(
                f"{self.tmp} is missing: the TSV rows of the {n_records} records in the partial VCF cannot be "
                "resumed; run without --resume to start again"
            )
        header = self._header()
        with open(self.tmp, "rb") as fh:
            if fh.read(len(header)) != header:
                raise ResumeMismatch(f"{self.tmp} was written with other options; run without --resume to start again")
            keep = len(header)
            for line in fh:
                if not line.endswith(b"\n"):
                    break
                try:
                    record = int(line.split(b"\t", 1)[0])
                except ValueError:
                    break
                if record > n_records:
                    break
                keep += len(line)
        return keep

    def begin(self) -> None:
        if self.fh is not None:
            return
        if self.direct:
            try:
                self.fh = open(self.path, "w", newline="")
            except OSError as exc:
                raise OutputError(f"{self.path}: cannot write output ({exc.strerror})") from exc
        elif self.tmp is None:
            self.fh = sys.stdout
        else:
            try:
                if self._keep is not None:
                    self.fh = open(self.tmp, "r+", newline="")
                    self.fh.truncate(self._keep)
                    self.fh.seek(self._keep)
                else:
                    self.fh = open(self.tmp, "w", newline="")
            except OSError as exc:
                raise OutputError(f"{self.path}: cannot write output ({exc.strerror})") from exc
        self.writer = csv.DictWriter(self.fh, self.columns, delimiter="\t", restval=".", extrasaction="ignore",
                                     lineterminator="\n")
        if self._keep is None:
            self.writer.writeheader()
        self.fh.flush()

    def write(self, row: dict) -> None:
        if self.fh is None:
            self.begin()
        self.writer.writerow({k: _fmt(v) for k, v in row.items()})

    def end_chunk(self) -> None:
        if self.fh is None:
            self.begin()
        self.fh.flush()

    def commit(self) -> None:
        if self.fh is None:
            self.begin()
        if self.tmp is None:
            self.fh.flush()
            if self.direct:
                self.fh.close()
            return
        self.fh.close()
        os.replace(self.tmp, self.path)

    def discard(self, keep_partial: bool = False) -> None:
        if self.tmp is None:
            return
        if self.fh is not None and not self.fh.closed:
            try:
                self.fh.close()
            except OSError:
                pass
        if os.path.exists(self.tmp) and not keep_partial:
            os.unlink(self.tmp)


def _fmt(value) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)
