"""Shared fixtures: the read-only ``../shared`` folder (official weights, real data, golden outputs).

Found at ``$SPLICESCORE_SHARED`` or beside the repository root; tests that need it skip with the
reason when it is absent (CI always has it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    env = os.environ.get("SPLICESCORE_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared")
    for c in candidates:
        if (c / "golden").is_dir() and (c / "weights").is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if path is None:
        pytest.skip("../shared (official weights, data, golden outputs) not found; set SPLICESCORE_SHARED")
    return path


@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
