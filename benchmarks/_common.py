"""Helpers shared by the benchmark scripts (subset a VCF, time a command, read an INFO key)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def subset_vcf(src: Path, dst: Path, n: int) -> int:
    """Header and the first ``n`` records of ``src`` into ``dst``; returns the record count."""
    lines = src.read_text().splitlines(keepends=True)
    header = [l for l in lines if l.startswith("#")]
    body = [l for l in lines if not l.startswith("#")][:n]
    dst.write_text("".join(header + body))
    return len(body)


def info_values(path: Path, key: str) -> list[str | None]:
    """The value of INFO ``key`` per record (None where absent)."""
    out = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            m = re.search(rf"(?:^|;){key}=([^;\t]*)", line.split("\t")[7])
            out.append(m.group(1) if m else None)
    return out


def timed(cmd: list[str], env=None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one command; exits with its stderr if it fails."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            sys.exit(f"failed: {' '.join(cmd)}\n{err.read().decode(errors='replace')[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


@dataclass
class Row:
    """One line of a benchmark table. ``baseline``: the official tool's row this one is compared with."""

    tool: str
    variants: int
    seconds: float
    rss_mib: float
    gflop_per_variant: float | None = None
    baseline: "Row | None" = None


def print_table(rows: list[Row], out=sys.stdout) -> None:
    """tool, variants, seconds, variants/s, ratio vs official, GFLOP per variant, peak RSS."""
    print(f"{'tool':54s} {'variants':>8s} {'seconds':>8s} {'variants/s':>10s} {'vs official':>11s} "
          f"{'GFLOP/variant':>13s} {'peak RSS':>9s}", file=out)
    for r in rows:
        ratio = (f"{(r.variants / r.seconds) / (r.baseline.variants / r.baseline.seconds):10.1f}x" if r.baseline
                 else f"{'-':>11s}")
        flops = f"{r.gflop_per_variant:13.1f}" if r.gflop_per_variant is not None else f"{'-':>13s}"
        print(f"{r.tool:54s} {r.variants:8d} {r.seconds:8.1f} {r.variants / r.seconds:10.2f} {ratio} {flops} "
              f"{r.rss_mib:5.0f} MiB", file=out)
