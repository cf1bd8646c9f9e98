"""Pangolin 1.0.2: weights (the 12 torch state dicts of the official repository), network,
VCF scorer and sequence mode.

The official command line (tkzeng/Pangolin 1.0.2, ``pangolin/pangolin.py``) loads
``pangolin/models/final.{replicate}.{head}.3.v2`` for replicate 1..3 and head 0, 2, 4, 6 (heart,
liver, brain, testis); these files are in the GitHub repository (not on PyPI). See
:mod:`splicescore.models.pangolin.network` and :mod:`splicescore.models.pangolin.convert`.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import torch

from splicescore.errors import WeightsError
from splicescore.models import ModelEntry, WeightSpec
from splicescore.models.pangolin.seqs import score_sequences

#: where ``splicescore weights fetch pangolin`` looks for the files (the official repository)
OFFICIAL_BASE_URL = "https://raw.githubusercontent.com/tkzeng/Pangolin/main/pangolin/models/"
#: seconds before an unreachable source is given up
DOWNLOAD_TIMEOUT = 15

_FILES = {
    "final.1.0.3.v2": "f0478fab173b75f7f7e9fe96688bad6c50fa4a46d70557f423b110caaf565501",
    "final.1.2.3.v2": "559c05de3e1ce65c2515ca3e92ef85edb0ec2e47686ca58060e25891ce06eb3a",
    "final.1.4.3.v2": "c50b12e0c0af776d5674ca5e346493f8265783494d4df383364de9c1136657f6",
    "final.1.6.3.v2": "2aae563fa18a8a9b6699c6c96e0d32b8ec7543f8f805fb3bc9de77302cc9f66e",
    "final.2.0.3.v2": "c4c6bb4880fa6fb28b14182ae3ea0600edb07056158f55325b5e6e6e48fc9f26",
    "final.2.2.3.v2": "48758ba8b95eee9aa9feea52672ef06ca1b34111299c27f8a710f734d8b9aae5",
    "final.2.4.3.v2": "e03303bed4fd6f135ec0f6c1b192cce954ea42d0646f44d17b4a6fbb2b1f610e",
    "final.2.6.3.v2": "7d3c0b1b2a60067b940dec315567874fbc8bcd322f1b7c76bf969f51f0f53f7f",
    "final.3.0.3.v2": "ec685a6e7105a4486c1f89a005458a13deb3fe7171f13d434f4877e386d10676",
    "final.3.2.3.v2": "7cb576c2b24db4fdd6970c4ca4fb7c20ae1b1d8ae80645ebbe689848b5743129",
    "final.3.4.3.v2": "9476d2e25520d7ff15bece0cd5d3b657e3b1dd3cc5fcab1d9c3b62bea7a0c5b6",
    "final.3.6.3.v2": "756e7721a382cace24e9bfea5b543af5623f2487d9a3efe7385e9c76367005fd",
}

SPEC = WeightSpec(
    name="pangolin",
    files=_FILES,
    source="tkzeng/Pangolin 1.0.2 (GitHub), pangolin/models/final.{1,2,3}.{0,2,4,6}.3.v2",
    licence="GPL-3.0 (weights)",
    fetch_hint=(
        "Download the 12 files final.1.0.3.v2, final.1.2.3.v2, final.1.4.3.v2, final.1.6.3.v2, "
        "final.2.0.3.v2, final.2.2.3.v2, final.2.4.3.v2, final.2.6.3.v2, final.3.0.3.v2, final.3.2.3.v2, "
        "final.3.4.3.v2, final.3.6.3.v2 from the folder pangolin/models/ of https://github.com/tkzeng/Pangolin "
        "(e.g. `git clone https://github.com/tkzeng/Pangolin`) into one folder DIR and run "
        "`splicescore weights import pangolin DIR` (files are recognised by their sha256)."
    ),
)


def convert_official(found: dict[str, Path]) -> dict[str, torch.Tensor]:
    from splicescore.models.pangolin.convert import convert_pangolin_files
    from splicescore.models.pangolin.network import N_REPLICATES, TISSUES, weight_file_name

    paths = [found[weight_file_name(t, r)] for t in range(len(TISSUES)) for r in range(1, N_REPLICATES + 1)]
    # the files were identified by sha256 (temporary copies may carry other names)
    return convert_pangolin_files(paths, check_names=False)


def download(workdir: Path, log: Callable[[str], None], base_url: str | None = None,
             timeout: float | None = None) -> list[Path]:
    """The 12 files from the official GitHub repository (raw URLs, ~1.5 MB each).

    Fails fast (``timeout`` seconds per connection) with :class:`WeightsError` and the manual steps
    (:attr:`SPEC.fetch_hint`) when the source cannot be reached.
    """
    base = base_url or OFFICIAL_BASE_URL
    timeout = DOWNLOAD_TIMEOUT if timeout is None else timeout
    log(f"splicescore: downloading the 12 Pangolin weight files from {base} ...")
    out = []
    for name in SPEC.files:
        target = Path(workdir) / name
        try:
            with urllib.request.urlopen(base + name, timeout=timeout) as resp, open(target, "wb") as fh:
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    fh.write(chunk)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise WeightsError(f"pangolin: cannot download {base + name} ({reason}). {SPEC.fetch_hint}") from exc
        out.append(target)
    return out


#: Pangolin's options (RunConfig.model_options["pangolin"]) and their defaults: its -m and -s
OPTIONS = {"pangolin_mask": True, "pangolin_cutoff": None}


#: ``splicescore plot`` draws this model's per-position outputs up to this -D (as -D)
PLOT_MAX_DISTANCE = 4999


def make_scorer(cfg, reference, annotation):
    from splicescore.io.annotation import is_multi
    from splicescore.models.pangolin.scorer import PangolinScorer

    options = cfg.options_for("pangolin")
    return PangolinScorer(
        reference, annotation(), distance=cfg.distance, mask=bool(options["pangolin_mask"]),
        cutoff=options["pangolin_cutoff"],
        pad_ends=cfg.pad_ends, multi=is_multi(cfg.transcripts), transcripts=cfg.transcripts,
    )


#: the registry entry (:class:`splicescore.models.ModelEntry`)
MODEL = ModelEntry(SPEC, convert_official, "PangolinEnsemble", make_scorer, download, score_sequences, options=OPTIONS, plot_max_distance=PLOT_MAX_DISTANCE)
