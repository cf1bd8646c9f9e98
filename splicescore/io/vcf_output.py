"""VCF/BCF output: the records as VCF text written crash-consistently into ``OUTPUT.partial`` and
moved into place (converted to BCF for ``-O b/u``) when the run succeeds; ``-`` is stdout.

An interrupted or failed run never leaves a file that looks complete; the partial file is consistent
after every chunk and ``--resume`` continues it (:mod:`splicescore.io.chunked_output`).
"""

from __future__ import annotations

import gzip
import os
import select
import sys
from pathlib import Path

import cyvcf2

from splicescore.errors import OutputError, ResumeMismatch, UsageError
from splicescore.io.bgzf import BGZF_BLOCK, iter_bgzf_blocks
from splicescore.io.chunked_output import ChunkedSink, PartialScan, is_special_file
from splicescore.io.vcf_input import VcfInput
from splicescore.io.vcf_record import Record

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
        self.sink: ChunkedSink | None = None
        self.writer = None  # cyvcf2 writer: BCF to stdout only
        self._scan: PartialScan | None = None
        self._fd: int | None = None
        self.bgzf = self.output_type != "v"
        self.direct = path != "-" and is_special_file(path)  # /dev/null, a named pipe: written as it goes
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
                    scan = PartialScan(self.tmp, self.header, self.bgzf)
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
            self.sink = ChunkedSink(fd, self.bgzf, seekable=False)
            self.sink.add(self.header)
            self.sink.end_chunk()
            return
        scan = self._scan
        try:
            if scan is None or scan.kept == 0:
                self._fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
                self.sink = ChunkedSink(self._fd, self.bgzf, seekable=True)
                self.sink.add(self.header)
            elif not self.bgzf:
                self._fd = os.open(self.tmp, os.O_WRONLY)
                os.ftruncate(self._fd, scan.kept)
                os.lseek(self._fd, 0, os.SEEK_END)
                self.sink = ChunkedSink(self._fd, False, seekable=True)
            else:
                self._resume_bgzf(scan)
        except OSError as exc:
            raise OutputError(f"{self.tmp}: cannot write output ({exc.strerror})") from exc
        self._scan = None
        self.sink.end_chunk()

    def _resume_bgzf(self, scan: PartialScan) -> None:
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
        self.sink = ChunkedSink(self._fd, True, seekable=True, final_offset=final_offset, pending=pending)

    def _rewrite_bgzf(self, scan: PartialScan) -> None:
        fresh = self.tmp + ".rewrite"
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        sink = ChunkedSink(fd, True, seekable=True)
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
        self.sink = ChunkedSink(self._fd, True, seekable=True, final_offset=sink.final_offset,
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
