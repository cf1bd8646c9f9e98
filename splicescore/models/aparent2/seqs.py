"""APARENT2 sequence mode (``splicescore seqs --model aparent2``): cleavage sums and delta log-odds of
designed 205-nt ref/alt windows."""

from __future__ import annotations

import numpy as np

from splicescore.errors import InputError

#: output columns of ``splicescore seqs --model aparent2`` (golden/aparent2 dev.tsv names)
SEQ_COLUMNS = (
    "delta_logodds", "delta_logodds_narrow",
    "ref_usage_0_205", "alt_usage_0_205", "ref_usage_narrow_77_127", "alt_usage_narrow_77_127",
    "ref_cut_205_nocleave", "alt_cut_205_nocleave", "ref_iso_out_80_110", "alt_iso_out_80_110",
)


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
