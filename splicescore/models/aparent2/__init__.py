"""APARENT2 (Linder et al. 2022): weights (the official Keras ``.h5``), network, VCF scorer
and sequence mode.

The file is the one the official variant notebook loads, johli/aparent-resnet@a745736
``saved_models/aparent_all_libs_resnet_no_clinvar_wt_ep_5_var_batch_size_inference_mode_no_drop.h5``
(MIT). It is not on PyPI, so there is no automatic download: ``splicescore weights import aparent2
FILE.h5``. See :mod:`splicescore.models.aparent2.network`, :mod:`splicescore.models.aparent2.convert` and
:mod:`splicescore.models.aparent2.scorer`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from splicescore.models import ModelEntry, WeightSpec
from splicescore.models.aparent2.seqs import score_sequences

H5 = "aparent_all_libs_resnet_no_clinvar_wt_ep_5_var_batch_size_inference_mode_no_drop.h5"

SPEC = WeightSpec(
    name="aparent2",
    files={H5: "540147b1f239c27cec6594931a7305a3a5ded6d3c8fbc43661761bad94ed637e"},
    source=f"johli/aparent-resnet@a745736 saved_models/{H5}",
    licence="MIT",
    fetch_hint=(
        f"Download saved_models/{H5} from https://github.com/johli/aparent-resnet (e.g. `git clone "
        "https://github.com/johli/aparent-resnet`; the file the official notebook "
        "examples/aparent2_score_variants.ipynb loads) and run "
        f"`splicescore weights import aparent2 PATH/{H5}` (the file is recognised by its sha256)."
    ),
)

def convert_official(found: dict[str, Path]) -> dict[str, torch.Tensor]:
    from splicescore.models.aparent2.convert import convert_aparent2_h5

    return convert_aparent2_h5(found[H5])


#: APARENT2's options: a BED/GTF of PAS sites (instead of motif search)
OPTIONS = {"pas": None}


def cache_settings(options) -> dict:
    """The ``--pas`` file enters the score cache key by its sha256."""
    from splicescore.weights import sha256_file

    return {"pas_sha256": sha256_file(options["pas"]) if options["pas"] else None}


def make_scorer(cfg, reference, annotation):
    from splicescore import __version__
    from splicescore.models.aparent2.pas_sites import load_pas_sites
    from splicescore.models.aparent2.scorer import Aparent2Scorer

    pas = cfg.options_for("aparent2")["pas"]
    if pas:
        return Aparent2Scorer(reference, None, load_pas_sites(pas), cfg.pad_ends, __version__)
    return Aparent2Scorer(reference, annotation(), None, cfg.pad_ends, __version__)


#: the registry entry (:class:`splicescore.models.ModelEntry`)
MODEL = ModelEntry(SPEC, convert_official, "Aparent2Net", make_scorer, score_sequences=score_sequences, options=OPTIONS, cache_settings=cache_settings)
