"""SpTransformer sequence mode (``splicescore seqs --model sptransformer``): splice and tissue scores
of designed 8,201-nt ref/alt windows."""

from __future__ import annotations

import numpy as np

from splicescore.errors import InputError


def score_sequences(net, rows: list[dict], cfg, device) -> list[dict]:
    """Sequence mode: ``ref`` and ``alt`` are 8,201-nt windows in model orientation (A, C, G, T, N).

    Returns ``score`` and the 15 raw tissue scores (official tissue names) per row, computed over all
    201 output positions as the official ``query_scores`` does for one strand.
    """
    from splicescore.nn.predict import predict
    from splicescore.models.sptransformer.official import (
        TISSUE_NAMES,
        WINDOW_LENGTH,
        encode_window,
        strand_scores,
    )

    name = "<stdin>" if cfg.input == "-" else cfg.input
    inputs = []
    for row in rows:
        for col in ("ref", "alt"):
            seq = row[col]
            if len(seq) != WINDOW_LENGTH:
                raise InputError(
                    f"{col} has {len(seq)} nt; SpTransformer windows are {WINDOW_LENGTH} nt "
                    "(4,000 context + 201 scored + 4,000 context)", name, row.get("_line")
                )
            try:
                inputs.append(np.ascontiguousarray(encode_window(seq).T))
            except ValueError as exc:
                raise InputError(f"{col}: {exc}", name, row.get("_line")) from None
    outputs = predict(net, inputs, cfg.batch_size, device)
    out = []
    for i in range(len(rows)):
        score, tissue = strand_scores(outputs[2 * i], outputs[2 * i + 1])
        out.append({"score": float(score), **{t: float(v) for t, v in zip(TISSUE_NAMES, tissue)}})
    return out
