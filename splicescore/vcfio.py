"""VCF/BCF input and output (cyvcf2/htslib), and the TSV writer.

Outputs are written to a temporary file beside the target and moved into place only when the run
succeeds, so an interrupted or failed run never leaves a file that looks complete. ``-`` is stdin /
stdout.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Iterator

import cyvcf2

from splicescore.errors import InputError, OutputError, UsageError

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
        self.header_lines = self.reader.raw_header.count("\n")
        self.records_read = 0

    @property
    def _name(self) -> str:
        return "<stdin>" if self.path == "-" else self.path

    def add_info(self, key: str, description: str, number: str = ".", type_: str = "String") -> None:
        self.reader.add_info_to_header({"ID": key, "Number": number, "Type": type_, "Description": description})

    def __iter__(self) -> Iterator[cyvcf2.Variant]:
        it = iter(self.reader)
        while True:
            try:
                rec = next(it)
            except StopIteration:
                return
            except Exception as exc:  # htslib parse errors surface as bare Exception
                line = self.header_lines + self.records_read + 1
                raise InputError(f"malformed VCF record ({exc})", self._name, line) from exc
            self.records_read += 1
            yield rec

    def close(self) -> None:
        self.reader.close()


class VcfOutput:
    """Writes records with the reader's (extended) header; atomically replaces ``path`` on commit."""

    def __init__(self, path: str, template: VcfInput, output_type: str | None = None):
        self.path = path
        self.output_type = output_type_for(path, output_type)
        mode = OUTPUT_MODES[self.output_type]
        if path == "-":
            self.tmp = None
            target = "-"
        else:
            folder = Path(path).resolve().parent
            if not folder.is_dir():
                raise OutputError(f"{path}: output folder does not exist")
            try:
                fd, self.tmp = tempfile.mkstemp(prefix=f".{Path(path).name}.", suffix=".partial", dir=folder)
                os.close(fd)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write output ({exc.strerror})") from exc
            target = self.tmp
        try:
            self.writer = cyvcf2.Writer(target, template.reader, mode=mode)
        except Exception as exc:
            self.discard()
            raise OutputError(f"{path}: cannot open output ({exc})") from exc

    def write(self, record) -> None:
        self.writer.write_record(record)

    def commit(self) -> None:
        self.writer.close()
        if self.tmp is not None:
            os.replace(self.tmp, self.path)
            self.tmp = None

    def discard(self) -> None:
        try:
            if getattr(self, "writer", None) is not None:
                self.writer.close()
        except Exception:
            pass
        if self.tmp is not None and os.path.exists(self.tmp):
            os.unlink(self.tmp)
        self.tmp = None


class TsvOutput:
    """One row per record x ALT x gene x model; same atomic-commit behaviour as :class:`VcfOutput`."""

    BASE = ("chrom", "pos", "ref", "alt", "model", "gene", "strand")

    def __init__(self, path: str, columns: list[str]):
        self.path = path
        self.columns = list(self.BASE) + [c for c in columns if c not in self.BASE]
        folder = Path(path).resolve().parent
        if not folder.is_dir():
            raise OutputError(f"{path}: output folder does not exist")
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{Path(path).name}.", suffix=".partial", dir=folder)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write output ({exc.strerror})") from exc
        self.fh = os.fdopen(fd, "w", newline="")
        self.writer = csv.DictWriter(self.fh, self.columns, delimiter="\t", restval=".", extrasaction="ignore",
                                     lineterminator="\n")
        self.writer.writeheader()

    def write(self, row: dict) -> None:
        self.writer.writerow({k: _fmt(v) for k, v in row.items()})

    def commit(self) -> None:
        self.fh.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)


def _fmt(value) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)
