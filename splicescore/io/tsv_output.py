"""The TSV writer: one row per record x ALT x gene x model, written crash-consistently like the VCF."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

from splicescore.errors import OutputError, ResumeMismatch
from splicescore.io.chunked_output import is_special_file


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
        self.direct = path != "-" and is_special_file(path)
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
