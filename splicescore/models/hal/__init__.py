"""HAL plugin (Rosenberg et al., Cell 2015; the kipoi ``HAL`` donor model): weights
(``HAL_mer_scores.npz``), network, VCF scorer and sequence mode.

The position-specific hexamer formula of the official kipoi port (``HAL/model.py``), not the
column-averaged / exon-skipping variants of the paper's notebooks; see :mod:`splicescore.models.hal.network`.
The file is in kipoi/models ``HAL/model_files/`` (the same as Zenodo record 1466088 that kipoi pins,
md5 ``4db740f6b72345db5303c106ed6aad61``); no licence is stated by the authors, kipoi/models is MIT.
There is no automatic download: ``splicescore weights import hal HAL_mer_scores.npz``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from splicescore.errors import InputError
from splicescore.weights import WeightSpec

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


def build_network() -> torch.nn.Module:
    from splicescore.models.hal.network import HALNet

    return HALNet()


#: HAL's options: the exon's reference PSI, for dPSI
OPTIONS = {"hal_ref_psi": None}


def make_scorer(cfg, reference, annotation):
    from splicescore import __version__
    from splicescore.models.hal.scorer import HALScorer

    return HALScorer(reference, annotation(), cfg.options_for("hal")["hal_ref_psi"], cfg.pad_ends, __version__)


def _window(row: dict, key: str, path: str) -> str:
    from splicescore.models.hal.network import WINDOW
    from splicescore.models.hal.scorer import window_is_scorable

    seq = row[key].strip().upper()
    if len(seq) != WINDOW:
        raise InputError(f"{key} of {row['id']!r} has {len(seq)} nt; HAL windows are {WINDOW} nt "
                         "(80 exonic + 80 intronic, last exon base at 0-based 79)", path, row["_line"])
    if not window_is_scorable(seq):
        raise InputError(f"{key} of {row['id']!r} has a character other than A/C/G/T inside a scored hexamer",
                         path, row["_line"])
    return seq


def _psi(row: dict, default: float | None, path: str) -> float | None:
    text = (row.get("psi_ref") or "").strip()
    if text in ("", ".", "NA", "nan", "NaN"):
        return default
    try:
        value = float(text)
    except ValueError as exc:
        raise InputError(f"psi_ref of {row['id']!r} is not a number ({text!r})", path, row["_line"]) from exc
    if not 0.0 <= value <= 1.0:
        raise InputError(f"psi_ref of {row['id']!r} must lie in [0, 1] (got {value})", path, row["_line"])
    return value


def score_sequences(net, rows: list[dict], cfg, device) -> list[dict]:
    """``score_ref``, ``score_alt``, ``delta`` (= alt - ref, float64) per 160-nt pair, and with a
    reference PSI (the row's ``psi_ref`` column, else ``--hal-ref-psi``) ``psi_alt_pred`` and
    ``delta_psi_pred`` = expit(logit(psi_ref) + delta) - psi_ref."""
    from splicescore.core.encoding import one_hot
    from splicescore.nn.predict import predict
    from splicescore.models.hal.official import delta_psi

    default = (cfg.options or {}).get("hal_ref_psi")
    ref = [_window(r, "ref", cfg.input) for r in rows]
    alt = [_window(r, "alt", cfg.input) for r in rows]
    psi = [_psi(r, default, cfg.input) for r in rows]
    if not rows:
        return []
    out = predict(net, [one_hot(s) for s in ref + alt], cfg.batch_size, device)
    scores = np.array([np.asarray(y, dtype=np.float64).reshape(-1)[0] for y in out], dtype=np.float64)
    s_ref, s_alt = scores[: len(rows)], scores[len(rows) :]
    result = []
    for i in range(len(rows)):
        d = s_alt[i] - s_ref[i]
        row = {"score_ref": float(s_ref[i]), "score_alt": float(s_alt[i]), "delta": float(d)}
        if psi[i] is not None:
            dp = float(delta_psi(psi[i], d))
            row["psi_alt_pred"] = psi[i] + dp
            row["delta_psi_pred"] = dp
        result.append(row)
    return result
