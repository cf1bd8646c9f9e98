"""SpliceAI sequence mode (``splicescore seqs --model spliceai``): unmasked delta scores and positions of
designed ref/alt windows, with the formulas of the VCF mode (:mod:`splicescore.models.spliceai.scorer`).

Windows are in model orientation (what the network reads). ``ref`` has ``10,000 + n`` nt for ``n``
scored positions (``n = 2D + 1``, odd); its first REF base is the centre, index ``5,000 + D``, as in
the windows ``spliceai`` builds around POS. ``alt`` is ``ref`` with REF replaced by ALT there: the
same length (SNV; an equal-length MNV is scored like one here, where ``spliceai`` prints dots), or
longer by ``k`` (an insertion of ``k`` nt after a 1-nt REF) or shorter by ``k`` (a deletion of ``k``
nt after a 1-nt ALT; ``k + 1 <= 2D``). Optional column ``strand``: ``-`` says the windows are the
reverse complement of the genomic ones (as ``spliceai`` feeds a minus-strand gene); the outputs are
then reversed back to genomic orientation before the indel alignment, as ``spliceai`` does, so the
columns equal its unmasked ``INFO/SpliceAI`` numbers. Without it (or ``+``) the windows are taken as
they are.
"""

from __future__ import annotations

from splicescore.errors import InputError

#: columns of ``splicescore seqs --model spliceai`` (unrounded DS, DP relative to the first REF base)
SEQ_COLUMNS = ("DS_AG", "DS_AL", "DS_DG", "DS_DL", "DP_AG", "DP_AL", "DP_DG", "DP_DL")


def _window(row: dict, key: str, path: str) -> str:
    seq = row[key].strip().upper()
    bad = set(seq) - set("ACGTN")
    if bad:
        raise InputError(f"{key} of {row['id']!r} has characters other than A/C/G/T/N ({''.join(sorted(bad))})",
                         path, row["_line"])
    return seq


def allele_lengths(ref_window: int, alt_window: int, context: int) -> tuple[int, int, int]:
    """``(cov, ref_len, alt_len)`` of a pair of windows of ``ref_window`` and ``alt_window`` nt.

    Raises ``ValueError`` for windows that are not those of one scorable SpliceAI allele.
    """
    cov = ref_window - context
    if cov < 1 or cov % 2 == 0:
        raise ValueError(f"ref has {ref_window} nt; SpliceAI windows are {context:,} + 2D + 1 nt (an odd count)")
    diff = alt_window - ref_window
    if diff >= 0:
        return cov, 1, 1 + diff
    ref_len = 1 - diff
    if ref_len > cov - 1:
        raise ValueError(f"a deletion of {-diff} nt in windows with D = {cov // 2}: SpliceAI scores REF up to 2D nt")
    return cov, ref_len, 1


def score_sequences(net, rows: list[dict], cfg, device) -> list[dict]:
    """Unmasked SpliceAI delta scores per ``ref``/``alt`` window pair (see the module docstring).

    Returns per row ``DS_AG``, ``DS_AL``, ``DS_DG``, ``DS_DL`` (float32 values as ``spliceai`` holds
    them, unrounded) and ``DP_*`` (their first arg-max position relative to the first REF base).
    """
    from splicescore.core.encoding import one_hot
    from splicescore.models.spliceai.scorer import CONTEXT, align_alt, delta_scores
    from splicescore.nn.predict import predict

    path = "<stdin>" if cfg.input == "-" else cfg.input
    pairs = []
    for row in rows:
        ref, alt = _window(row, "ref", path), _window(row, "alt", path)
        strand = (row.get("strand") or "+").strip() or "+"
        if strand not in ("+", "-"):
            raise InputError(f"strand of {row['id']!r} must be + or - (got {strand!r})", path, row["_line"])
        try:
            cov, ref_len, alt_len = allele_lengths(len(ref), len(alt), CONTEXT)
        except ValueError as exc:
            raise InputError(f"{row['id']!r}: {exc}", path, row["_line"]) from None
        pairs.append((ref, alt, strand, cov, ref_len, alt_len))
    if not pairs:
        return []
    outs = predict(net, [one_hot(s) for p in pairs for s in p[:2]], cfg.batch_size, device)
    results = []
    for k, (_, _, strand, cov, ref_len, alt_len) in enumerate(pairs):
        y_ref, y_alt = outs[2 * k].T, outs[2 * k + 1].T  # (positions, 3)
        if strand == "-":
            y_ref, y_alt = y_ref[::-1], y_alt[::-1]
        y_alt = align_alt(y_alt, ref_len, alt_len, cov)
        scores = delta_scores(y_ref, y_alt, cov, 0, False)
        results.append({**{c: float(v) for c, v in zip(SEQ_COLUMNS[:4], scores.ds)},
                        **dict(zip(SEQ_COLUMNS[4:], scores.dp))})
    return results
