"""HAL (Rosenberg et al., Cell 2015; the kipoi ``HAL`` donor model): weights
(``HAL_mer_scores.npz``), network, VCF scorer and sequence mode.

The position-specific hexamer formula of the official kipoi port (``HAL/model.py``), not the
column-averaged / exon-skipping variants of the paper's notebooks; see :mod:`splicescore.models.hal.network`.
The file is in kipoi/models ``HAL/model_files/`` (the same as Zenodo record 1466088 that kipoi pins,
md5 ``4db740f6b72345db5303c106ed6aad61``); no licence is stated by the authors, kipoi/models is MIT.
There is no automatic download: ``splicescore weights import hal HAL_mer_scores.npz``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from splicescore.models import ModelEntry, WeightSpec
from splicescore.models.hal.seqs import score_sequences

NPZ = "HAL_mer_scores.npz"

SPEC = WeightSpec(
    name="hal",
    files={NPZ: "961acd13238e19168b691d714d2f70c385fc87443cb493a9a9f54927a0e7e6af"},
    source=f"kipoi/models HAL/model_files/{NPZ} (Zenodo record 1466088, md5 4db740f6b72345db5303c106ed6aad61)",
    licence="no licence stated by the authors; kipoi/models MIT",
    fetch_hint=(
        f"Download {NPZ} from https://github.com/kipoi/models (folder HAL/model_files/) or from Zenodo "
        f"record 1466088 (https://zenodo.org/record/1466088) and run `splicescore weights import hal PATH/{NPZ}` "
        "(the file is recognised by its sha256)."
    ),
)


def convert_official(found: dict[str, Path]) -> dict[str, torch.Tensor]:
    from splicescore.models.hal.convert import convert_hal_npz

    return convert_hal_npz(found[NPZ])


#: HAL's options: the exon's reference PSI, for dPSI
OPTIONS = {"hal_ref_psi": None}


def make_scorer(cfg, reference, annotation):
    from splicescore import __version__
    from splicescore.models.hal.scorer import HALScorer

    return HALScorer(reference, annotation(), cfg.options_for("hal")["hal_ref_psi"], cfg.pad_ends, __version__)


#: the registry entry (:class:`splicescore.models.ModelEntry`)
MODEL = ModelEntry(SPEC, convert_official, "HALNet", make_scorer, score_sequences=score_sequences, options=OPTIONS)
