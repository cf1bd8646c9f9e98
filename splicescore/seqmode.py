"""Sequence mode: score designed ref/alt sequence pairs (``splicescore seqs``).

Input: a TSV with a header and the columns ``id``, ``ref``, ``alt`` (each already the model's window,
in the model's orientation) plus optional model-specific columns (e.g. ``psi_ref`` for HAL). Output:
one TSV row per pair, ``id`` first, then the model's score columns, in input order.

A model supports this mode with the ``score_sequences`` of its registry entry
(:class:`splicescore.models.ModelEntry`; the function lives in ``splicescore/models/<name>/seqs.py``),
``score_sequences(net, rows: list[dict], cfg: SeqsConfig, device) -> list[dict]``: it validates the
windows (raising :class:`~splicescore.errors.InputError` with the row's line), runs them through
:func:`splicescore.nn.predict.predict` and returns one dict of output columns per input row.
"""

from __future__ import annotations

import csv
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from splicescore.errors import InputError, UsageError
from splicescore.nn.predict import resolve_device
from splicescore.io.tsv_output import TsvOutput

REQUIRED = ("id", "ref", "alt")
log = logging.getLogger("splicescore")


@dataclass
class SeqsConfig:
    input: str
    output: str
    model: str
    batch_size: int = 64
    device: str = "auto"
    threads: int | None = None
    options: dict = field(default_factory=dict)  # model-specific (e.g. hal_ref_psi)
    weights_home: Path | None = None


@dataclass
class SeqsStatistics:
    pairs: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return f"splicescore: {self.pairs} sequence pairs scored in {self.seconds:.1f} s"


def read_pairs(path: str) -> tuple[list[str], list[dict]]:
    """Header and rows of a pairs TSV; each row also gets ``_line`` (1-based file line)."""
    try:
        fh = sys.stdin if path == "-" else open(path, newline="")
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path) from exc
    name = "<stdin>" if path == "-" else path
    with fh:
        reader = csv.DictReader(fh, delimiter="\t")
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)} (need id, ref, alt)", name, 1)
        rows = []
        for row in reader:
            line = reader.line_num
            if None in row or any(row[c] is None for c in REQUIRED):
                raise InputError("wrong number of columns", name, line)
            row["_line"] = line
            rows.append(row)
    return header, rows


def score_rows(model, net, rows: list[dict], cfg: SeqsConfig, device) -> list[dict]:
    """``{"id": ..., **scores}`` per pair of ``rows`` (dicts with ``id``, ``ref``, ``alt``, ``_line``
    and model columns), in chunks of ``4 * batch_size`` through the ``score_sequences`` of ``model``
    (a :class:`~splicescore.models.ModelEntry`)."""
    out_rows = []
    step = max(cfg.batch_size, 1) * 4
    for i in range(0, len(rows), step):
        chunk = rows[i : i + step]
        for row, scores in zip(chunk, model.score_sequences(net, chunk, cfg, device)):
            out_rows.append({"id": row["id"], **scores})
    return out_rows


def run_seqs(cfg: SeqsConfig) -> SeqsStatistics:
    from splicescore import models, weights

    started = time.perf_counter()
    model = models.get(cfg.model)
    if model.score_sequences is None:
        raise UsageError(f"model {cfg.model!r} has no sequence mode yet")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    header, rows = read_pairs(cfg.input)
    if not weights.is_installed(cfg.model, cfg.weights_home) and model.download is not None:
        weights.fetch_weights(cfg.model, cfg.weights_home)
    if not weights.is_verified(cfg.model, cfg.weights_home):
        log.warning(weights.UNVERIFIED_WARNING.format(name=cfg.model))
    net = weights.load_network(cfg.model, cfg.weights_home).to(device)
    out_rows = score_rows(model, net, rows, cfg, device)
    columns = list(dict.fromkeys(k for r in out_rows for k in r if k != "id"))
    out = TsvOutput(cfg.output, columns, base=("id",))
    try:
        for r in out_rows:
            out.write(r)
        out.commit()
    except BaseException:
        out.discard()
        raise
    return SeqsStatistics(pairs=len(out_rows), seconds=time.perf_counter() - started)
