"""Helpers shared by the benchmark scripts (subset a VCF, time a command, read an INFO key)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
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
