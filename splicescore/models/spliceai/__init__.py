"""SpliceAI 1.3.1: weights (the five Keras models of the PyPI wheel), network, VCF scorer and sequence mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable

import torch

from splicescore.errors import WeightsError
from splicescore.models import ModelEntry, WeightSpec
from splicescore.models.spliceai.seqs import score_sequences

SPEC = WeightSpec(
    name="spliceai",
    files={
        "spliceai1.h5": "e1fd5adcef7489d604b10e79c40078ef790d51ef048c4ce3869c9119ac5de42b",
        "spliceai2.h5": "6ab042b82ab966b6d3582cb31b96f0859ea08a864f168d69e83aa14450a3b66e",
        "spliceai3.h5": "e2e790bde53dfdf410c6dc434a86122a7d12f3f38dc2ef45d85986e9ecf22fad",
        "spliceai4.h5": "ca88ac9e58e69ba6fdeed319b72f063f164c9abf7392eaccef903e94c1d99dd6",
        "spliceai5.h5": "791cd22c62a80a08d2ca674615a93ce8159d7b55bd157cfef2983b1bd6b41391",
    },
    extras={
        "grch37.txt": "16e495da074e965f46f60ced4e73292843e949051d2dc31dd521da3fd7615dce",
        "grch38.txt": "565c0ea83f66b2210182364c3d626fef526229e3d02f444bab247329b6695f2c",
    },
    source="PyPI spliceai==1.3.1 (spliceai/models/*.h5, spliceai/annotations/*.txt)",
    licence="CC BY-NC 4.0 (weights); annotation tables from GENCODE V24",
    fetch_hint="Run `splicescore weights fetch spliceai`, or download spliceai-1.3.1-py2.py3-none-any.whl "
    "from PyPI and run `splicescore weights import spliceai PATH.whl`.",
)


def convert_official(found: dict[str, Path]) -> dict[str, torch.Tensor]:
    from splicescore.models.spliceai.convert import convert_spliceai_files

    return convert_spliceai_files([found[f"spliceai{i}.h5"] for i in range(1, 6)])


def download(workdir: Path, log: Callable[[str], None]) -> list[Path]:
    """The spliceai 1.3.1 wheel from PyPI (through pip, so pip's index settings apply)."""
    log("splicescore: downloading the spliceai==1.3.1 wheel from PyPI (16 MB, once) ...")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(workdir),
           "spliceai==1.3.1"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(Path(workdir).glob("spliceai-1.3.1-*.whl"))
    if proc.returncode != 0 or not wheels:
        detail = ((proc.stderr or proc.stdout).strip().splitlines() or ["no wheel"])[-1]
        raise WeightsError(f"spliceai: download failed ({detail}). {SPEC.fetch_hint}")
    return wheels


#: SpliceAI's options (RunConfig.model_options["spliceai"]) and their defaults
OPTIONS = {"all_nonzero": False}  # TSV: every position with |delta| >= 0.01 as pos:delta lists


#: ``splicescore plot`` draws this model's per-position outputs up to this -D (as -D)
PLOT_MAX_DISTANCE = 4999


def make_scorer(cfg, reference, annotation):
    from splicescore import __version__
    from splicescore.models.spliceai.scorer import SpliceAIScorer

    from splicescore.io.annotation import is_multi

    return SpliceAIScorer(reference, annotation(), cfg.distance, cfg.mask, cfg.pad_ends, __version__,
                          multi=is_multi(cfg.transcripts), transcripts=cfg.transcripts,
                          all_nonzero=cfg.options_for("spliceai")["all_nonzero"])


#: how to install the built-in gene tables (-a grch37/grch38, GENCODE V24 from the wheel)
GENE_TABLES_HINT = ("run `splicescore weights fetch spliceai`, or `splicescore weights import spliceai` with the "
                    "spliceai-1.3.1 wheel (or with grch37.txt/grch38.txt from its spliceai/annotations/)")


#: the registry entry (:class:`splicescore.models.ModelEntry`)
MODEL = ModelEntry(SPEC, convert_official, "SpliceAIEnsemble", make_scorer, download, score_sequences, options=OPTIONS, plot_max_distance=PLOT_MAX_DISTANCE,
                   gene_tables=("grch37", "grch38"), gene_tables_label="SpliceAI", gene_tables_hint=GENE_TABLES_HINT)
