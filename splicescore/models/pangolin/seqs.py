"""Pangolin sequence mode (``splicescore seqs --model pangolin``): unmasked delta scores of designed
ref/alt windows."""

from __future__ import annotations

import numpy as np

from splicescore.errors import InputError

#: columns of ``splicescore seqs --model pangolin``
SEQ_COLUMNS = ("gain", "gain_pos", "loss", "loss_pos") + tuple(
    f"{kind}_{t}" for t in ("heart", "liver", "brain", "testis") for kind in ("gain", "loss")
)


def score_sequences(net, rows: list[dict], cfg, device) -> list[dict]:
    """Unmasked Pangolin delta scores of designed ref/alt windows (``splicescore seqs``).

    Input columns: ``ref`` and ``alt``, each a full window in the model's orientation (the strand
    being scored read 5'->3'; for a minus-strand gene give the reverse complement), A/C/G/T/N,
    longer than 10,000 nt. The network scores input positions ``5000 .. len - 5001``. Optional
    column ``d``: the flank of the official VCF window (``ref`` = 5000 + d nt, REF, d + 4999 nt;
    ``alt`` likewise with ALT): with it, ref and alt may differ in length (indels are aligned as the
    official ``compute_score`` does) and positions are printed relative to the first REF base, as in
    ``INFO/Pangolin``. Without it, ref and alt must have the same length and positions are 0-based
    indices of the scored positions (input position ``5000 + i``).

    Output columns (all unmasked, no annotation involved): for each tissue, delta = mean over its
    3 replicate networks of ``P_alt - P_ref`` (P(splice site)); ``gain`` = max over positions of
    the max over tissues, ``loss`` = min over positions of the min over tissues, ``gain_pos`` /
    ``loss_pos`` their first arg-max/arg-min; ``gain_<tissue>`` / ``loss_<tissue>`` the same
    extremes for each tissue alone. Values are unrounded.
    """
    from splicescore.nn.predict import predict
    from splicescore.core.encoding import one_hot
    from splicescore.models.pangolin import official as ps

    pairs = []
    for row in rows:
        line = row.get("_line")
        ref, alt = row["ref"].strip().upper(), row["alt"].strip().upper()
        for label, seq in (("ref", ref), ("alt", alt)):
            if set(seq) - set("ACGTN"):
                raise InputError(f"{label} has characters other than A, C, G, T, N", cfg.input, line)
            if len(seq) <= ps.CONTEXT:
                raise InputError(f"{label} must be longer than {ps.CONTEXT} nt (got {len(seq)})", cfg.input, line)
        d_text = (row.get("d") or "").strip()
        if d_text:
            try:
                d = int(d_text)
            except ValueError as exc:
                raise InputError(f"d must be an integer, got {d_text!r}", cfg.input, line) from exc
            if d < 0 or len(ref) - ps.CONTEXT - 2 * d < 1 or len(alt) - ps.CONTEXT - 2 * d < 1:
                raise InputError(f"d={d} does not fit windows of {len(ref)} and {len(alt)} nt", cfg.input, line)
        else:
            d = None
            if len(ref) != len(alt):
                raise InputError("ref and alt differ in length: give the column d (see --help)", cfg.input, line)
        pairs.append((ref, alt, d))
    inputs = [one_hot(s) for ref, alt, _ in pairs for s in (ref, alt)]
    outs = predict(net, inputs, cfg.batch_size, device)
    results = []
    for k, (ref, alt, d) in enumerate(pairs):
        y_ref, y_alt = outs[2 * k], outs[2 * k + 1]  # (3, 4, L)
        delta = ps.per_tissue_delta(y_ref, y_alt, d if d is not None else 0)
        loss, gain = ps.loss_gain(delta)
        shift = d if d is not None else 0
        g, lo = int(np.argmax(gain)), int(np.argmin(loss))
        res = {"gain": float(gain[g]), "gain_pos": g - shift, "loss": float(loss[lo]), "loss_pos": lo - shift}
        for t, name in enumerate(("heart", "liver", "brain", "testis")):
            res[f"gain_{name}"] = float(delta[t].max())
            res[f"loss_{name}"] = float(delta[t].min())
        results.append(res)
    return results
