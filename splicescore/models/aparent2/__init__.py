"""APARENT2 plugin (Linder et al. 2022): weights (the official Keras ``.h5``), network, VCF scorer
and sequence mode.

The file is the one the official variant notebook loads, johli/aparent-resnet@a745736
``saved_models/aparent_all_libs_resnet_no_clinvar_wt_ep_5_var_batch_size_inference_mode_no_drop.h5``
(MIT). It is not on PyPI, so there is no automatic download: ``splicescore weights import aparent2
FILE.h5``. See :mod:`splicescore.models.aparent2.network`, :mod:`splicescore.models.aparent2.convert` and
:mod:`splicescore.models.aparent2.scorer`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from splicescore.errors import InputError
from splicescore.weights import WeightSpec

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

#: output columns of ``splicescore seqs --model aparent2`` (golden/aparent2 dev.tsv names)
SEQ_COLUMNS = (
    "delta_logodds", "delta_logodds_narrow",
    "ref_usage_0_205", "alt_usage_0_205", "ref_usage_narrow_77_127", "alt_usage_narrow_77_127",
    "ref_cut_205_nocleave", "alt_cut_205_nocleave", "ref_iso_out_80_110", "alt_iso_out_80_110",
)


def convert_official(found: dict[str, Path]) -> dict[str, torch.Tensor]:
    from splicescore.models.aparent2.convert import convert_aparent2_h5

    return convert_aparent2_h5(found[H5])


def build_network() -> torch.nn.Module:
    from splicescore.models.aparent2.network import Aparent2Net

    return Aparent2Net()


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


def _window(row: dict, key: str, path: str) -> str:
    from splicescore.models.aparent2.official import SEQ_LEN

    seq = row[key].strip().upper()
    if len(seq) != SEQ_LEN:
        raise InputError(f"{key} of {row['id']!r} has {len(seq)} nt; APARENT2 windows are {SEQ_LEN} nt "
                         "with the PAS hexamer at 0-based 70..75", path, row["_line"])
    bad = set(seq) - set("ACGTN")
    if bad:
        raise InputError(f"{key} of {row['id']!r} has characters other than A/C/G/T/N ({''.join(sorted(bad))})",
                         path, row["_line"])
    return seq


def score_sequences(net, rows: list[dict], cfg, device) -> list[dict]:
    """Cleavage sums and the notebook's delta log-odds for each ``ref``/``alt`` 205-nt pair.

    Windows are upper-cased (the official encoder would read lower case as all zeros); N is 0.25.
    """
    from splicescore.nn.predict import predict
    from splicescore.models.aparent2.scorer import encode_window
    from splicescore.models.aparent2.official import FULL, NARROW, delta_logodds, isoform_usage

    ref = [_window(r, "ref", cfg.input) for r in rows]
    alt = [_window(r, "alt", cfg.input) for r in rows]
    if not rows:
        return []
    out = predict(net, [encode_window(s) for s in ref + alt], cfg.batch_size, device)
    cut = np.stack(out).astype(np.float32)
    cut_ref, cut_alt = cut[: len(rows)], cut[len(rows) :]
    scores = delta_logodds(cut_ref, cut_alt)
    cols = {"delta_logodds": scores["delta_logodds"], "delta_logodds_narrow": scores["delta_logodds_narrow"]}
    for allele, c in (("ref", cut_ref), ("alt", cut_alt)):
        cols[f"{allele}_usage_0_205"] = isoform_usage(c, *FULL)
        cols[f"{allele}_usage_narrow_77_127"] = isoform_usage(c, *NARROW)
        cols[f"{allele}_cut_205_nocleave"] = c[:, 205]
        cols[f"{allele}_iso_out_80_110"] = isoform_usage(c, 80, 110)
    return [{k: float(cols[k][i]) for k in SEQ_COLUMNS} for i in range(len(rows))]
