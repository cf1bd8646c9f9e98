"""SpliceTransformer (SpTransformer): weights, network, VCF scorer and sequence mode.

Weights: the authors' ``SpTransformer_pytorch.ckpt`` (``ShenLab-Genomics/SpliceTransformer``, README
section "1.2. (or) Download from Google Drive": the "model weights" link; it goes into
``model/weights/``). The repository is Apache-2.0 ("This project is covered under the Apache 2.0
License"); the weights come with it under the same terms. The file is not downloadable without a
browser here (Google Drive; the repository's Git-LFS copy is disabled), so there is no ``download``:
the user imports it. Its sha256 is the oid of the Git-LFS pointer in commit ``78f3996``.

Checkpoints in the official format that are not the published file (tests use a random-weight one)
can be imported with ``splicescore weights import sptransformer PATH --unverified``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from splicescore.models import ModelEntry, WeightSpec
from splicescore.models.sptransformer.seqs import score_sequences

CHECKPOINT = "SpTransformer_pytorch.ckpt"
#: sha256 and size of the published checkpoint (Git-LFS pointer, commit 78f3996)
CHECKPOINT_SHA256 = "bf9937c234139f850a770f84a26c65213a80d696d82426949a432ed1ccb9aa4e"
CHECKPOINT_BYTES = 120_352_565

SPEC = WeightSpec(
    name="sptransformer",
    files={CHECKPOINT: CHECKPOINT_SHA256},
    source="ShenLab-Genomics/SpliceTransformer (GitHub), model/weights/SpTransformer_pytorch.ckpt "
    f"({CHECKPOINT_BYTES:,} bytes, from the README's Google Drive link)",
    licence="Apache-2.0 (the SpliceTransformer repository's licence)",
    fetch_hint=(
        "Download SpTransformer_pytorch.ckpt (120 MB) with the 'model weights' Google Drive link in section "
        "'1.2. (or) Download from Google Drive' of the README of https://github.com/ShenLab-Genomics/SpliceTransformer "
        "and run `splicescore weights import sptransformer SpTransformer_pytorch.ckpt` "
        "(the file is recognised by its sha256)."
    ),
)


def convert_official(found: dict[str, Path]) -> dict[str, torch.Tensor]:
    from splicescore.models.sptransformer.convert import convert_sptransformer_checkpoint

    # full unpickling (if the restricted one refuses the file) only for the published file's sha256
    return convert_sptransformer_checkpoint(found[CHECKPOINT])


#: SpTransformer's options: Y/N tissue flags instead of tissue scores in INFO
OPTIONS = {"sptransformer_flags": False}


#: ``splicescore plot`` draws this model's per-position outputs up to this -D (its scores cover POS-100..POS+100)
PLOT_MAX_DISTANCE = 100


def make_scorer(cfg, reference, annotation):
    from splicescore import __version__
    from splicescore.models.sptransformer.scorer import SpTransformerScorer

    return SpTransformerScorer(
        reference, annotation(), cfg.pad_ends, bool(cfg.options_for("sptransformer")["sptransformer_flags"]), __version__
    )


#: the registry entry (:class:`splicescore.models.ModelEntry`)
MODEL = ModelEntry(SPEC, convert_official, "SpTransformerNet", make_scorer, score_sequences=score_sequences, options=OPTIONS, plot_max_distance=PLOT_MAX_DISTANCE)
