"""VCF/BCF input and output (cyvcf2/htslib), and the TSV writer.

Outputs are written to a temporary file beside the target and moved into place only when the run
succeeds, so an interrupted or failed run never leaves a file that looks complete. ``-`` is stdin /
stdout.
"""

from __future__ import annotations

import csv
import gzip
import os
import select
import sys
from pathlib import Path
from typing import Iterator

import cyvcf2

from splicescore.errors import InputError, OutputError, ResumeMismatch, UsageError

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
        try:
            self.reader = cyvcf2.VCF(path, lazy=True)
        except (OSError, Exception) as exc:  # cyvcf2 raises bare Exception for unparsable headers
            raise InputError(f"cannot read VCF header ({exc})", self._name) from exc
        if not self.reader.raw_header.startswith("##fileformat"):
            raise InputError("not a VCF: the header must start with ##fileformat", self._name, 1)
        self.header_lines = _count_header_lines(path)
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
        from splicescore.genome import contig_aliases

        name = next((a for a in contig_aliases(contig) if a in names), contig)
        query = name + (":" + span if span else "")
        try:
            return self.reader(query)
        except Exception as exc:
            raise InputError(
                f"--region {self.region}: cannot query the VCF ({exc}); it must be bgzipped and indexed "
                "(bcftools index / tabix -p vcf)", self._name
            ) from exc

    def _records(self):
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
        while True:
            try:
                rec = next(it)
            except StopIteration:
                return
            except Exception as exc:  # htslib parse errors surface as bare Exception
                n = self.records_read + 1
                if self.header_lines is None:
                    raise InputError(f"malformed record {n} ({exc})", self._name) from exc
                raise InputError(f"malformed VCF record ({exc})", self._name, self.header_lines + n) from exc
            self.records_read += 1
            yield rec

    def close(self) -> None:
        self.reader.close()


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


class VcfOutput:
    """Writes records with the reader's (extended) header into ``PATH.partial``; :meth:`commit`
    moves it to ``PATH``. A failed or interrupted run keeps only the ``.partial`` file, which
    ``--resume`` continues (:meth:`resume_from_partial`)."""

    def __init__(self, path: str, template: VcfInput, output_type: str | None = None, resume: bool = False):
        self.path = path
        self.output_type = output_type_for(path, output_type)
        self.mode = OUTPUT_MODES[self.output_type]
        self.template = template
        self.resumed_records: list = []
        self.tmp: str | None = None
        if path == "-":
            if resume:
                raise UsageError("--resume needs an output file, not stdout")
            target = "-"
        else:
            folder = Path(path).resolve().parent
            if not folder.is_dir():
                raise OutputError(f"{path}: output folder does not exist")
            if not os.access(folder, os.W_OK):
                raise OutputError(f"{path}: output folder is not writable")
            self.tmp = path + ".partial"
            target = self.tmp
            source = None
            if resume and os.path.exists(self.tmp):
                source = self.tmp + ".resume"
                os.replace(self.tmp, source)
        try:
            self.writer = cyvcf2.Writer(target, template.reader, mode=self.mode)
        except Exception as exc:
            raise OutputError(f"{path}: cannot open output ({exc})") from exc
        if path != "-" and resume and source is not None:
            self._copy_partial(source)

    def _copy_partial(self, source: str) -> None:
        """Copy the complete records of an earlier partial output (a truncated tail is dropped)."""
        try:
            reader = cyvcf2.VCF(source, lazy=True)
        except Exception as exc:
            os.unlink(source)
            raise OutputError(f"{self.path}.partial: cannot read the partial output to resume ({exc})") from exc
        if reader.raw_header != self.template.reader.raw_header:
            reader.close()
            os.unlink(source)
            raise UsageError(
                f"{self.path}.partial was written from another input or with other options; "
                "run without --resume to start again"
            )
        try:
            for rec in reader:
                self.writer.write_record(rec)
                self.resumed_records.append((rec.CHROM, rec.POS, rec.REF, tuple(rec.ALT)))
        except Exception:
            pass  # a record cut off by the interruption: it is scored again
        reader.close()
        os.unlink(source)

    def write(self, record) -> None:
        self.writer.write_record(record)

    def check_reader_alive(self) -> None:
        """Raise ``BrokenPipeError`` when writing to stdout and its reader has gone (``| head``):
        htslib's writes fail silently there, so the run would otherwise score to the end."""
        if self.path == "-" and stdout_closed():
            raise BrokenPipeError

    def commit(self, write_index: bool = False) -> None:
        self.writer.close()
        if self.tmp is not None:
            os.replace(self.tmp, self.path)
            self.tmp = None
            if write_index:
                write_vcf_index(self.path, self.output_type)

    def discard(self, keep_partial: bool = False) -> None:
        """Close after a failure; the ``.partial`` file stays only when ``keep_partial``."""
        try:
            self.writer.close()
        except Exception:
            pass
        if self.tmp is not None and os.path.exists(self.tmp) and not keep_partial:
            os.unlink(self.tmp)


class TsvOutput:
    """One row per record x ALT x gene x model, written like :class:`VcfOutput` (``.partial`` until
    committed; ``-`` is stdout). ``record`` is the 1-based number of the input record."""

    BASE = ("record", "chrom", "pos", "ref", "alt", "model", "gene", "strand")

    def __init__(self, path: str, columns: list[str], resume_records: int = 0, base: tuple[str, ...] = BASE):
        self.path = path
        self.columns = list(base) + list(dict.fromkeys(c for c in columns if c not in base))
        self.tmp: str | None = None
        kept: list[str] = []
        if path == "-":
            self.fh = sys.stdout
        else:
            folder = Path(path).resolve().parent
            if not folder.is_dir() or not os.access(folder, os.W_OK):
                raise OutputError(f"{path}: output folder does not exist or is not writable")
            self.tmp = path + ".partial"
            if resume_records and os.path.exists(self.tmp):
                kept = _rows_up_to(self.tmp, self.columns, resume_records)
            try:
                self.fh = open(self.tmp, "w", newline="")
            except OSError as exc:
                raise OutputError(f"{path}: cannot write output ({exc.strerror})") from exc
        self.writer = csv.DictWriter(self.fh, self.columns, delimiter="\t", restval=".", extrasaction="ignore",
                                     lineterminator="\n")
        self.writer.writeheader()
        self.fh.writelines(kept)

    def write(self, row: dict) -> None:
        self.writer.writerow({k: _fmt(v) for k, v in row.items()})

    def commit(self) -> None:
        if self.tmp is None:
            self.fh.flush()
            return
        self.fh.close()
        os.replace(self.tmp, self.path)

    def discard(self, keep_partial: bool = False) -> None:
        if self.tmp is None:
            return
        if not self.fh.closed:
            self.fh.close()
        if os.path.exists(self.tmp) and not keep_partial:
            os.unlink(self.tmp)


def _rows_up_to(path: str, columns: list[str], n_records: int) -> list[str]:
    """Complete rows of an earlier partial TSV whose record number is <= ``n_records``."""
    with open(path) as fh:
        lines = fh.read().split("\n")
    if not lines or lines[0].split("\t") != columns:
        raise ResumeMismatch(f"{path} was written with other options; run without --resume to start again")
    kept = []
    for line in lines[1:-1]:  # the last piece is "" or a row cut off mid-write
        if int(line.split("\t", 1)[0]) <= n_records:
            kept.append(line + "\n")
    return kept


def _fmt(value) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)
