"""VCF/BCF input (cyvcf2/htslib) of a file or ``-`` (stdin): records with their text lines, region
and shard selection, and errors that name the file and line."""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from pathlib import Path
from typing import Iterator

import cyvcf2

from splicescore.errors import InputError, UsageError
from splicescore.io.textfile import is_gzip
from splicescore.io.vcf_record import Record, line_problem
from splicescore.io.vcf_stdin import StdinText

log = logging.getLogger("splicescore")


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
                self._stdin = StdinText()
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(f"cannot read the input ({exc})", "<stdin>") from exc
        try:
            self.reader = cyvcf2.VCF(self._stdin.path if self._stdin else path, lazy=True)
        except (OSError, Exception) as exc:  # cyvcf2 raises bare Exception for unparsable headers
            raise InputError(f"cannot read VCF header ({exc})", self._name) from exc
        if not self.reader.raw_header.startswith("##fileformat"):
            raise InputError("not a VCF: the header must start with ##fileformat", self._name, 1)
        self.header_lines = count_header_lines(path) if self._stdin is None else getattr(self._stdin, "header_lines", None)
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
                problem = line_problem(line)
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
        raise InputError(line_problem(line) or default, self._name, self._line_no)

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
            gz = is_gzip(self.path)
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


def count_header_lines(path: str) -> int | None:
    """Header lines of a text VCF (plain or gzipped), so errors can name file lines; ``None`` for
    stdin and BCF, whose errors name the record number instead."""
    if path == "-":
        return None
    opener = gzip.open if is_gzip(path) else open
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
