"""VCF alleles: which ALTs a model can score, the changed core of a REF/ALT pair, applying it to a
sequence, and whether it changes a window.

Coordinates are 1-based (``pos1``, ``start1``), as in the VCF. No left-alignment is done anywhere:
the official tools score the allele as the VCF writes it.
"""

from __future__ import annotations

STRANDS = ("+", "-")


def check_strand(strand: str) -> None:
    """Raise ``ValueError`` unless ``strand`` is ``'+'`` or ``'-'``."""
    if strand not in STRANDS:
        raise ValueError(f"strand must be '+' or '-', got {strand!r}")


def classify_alt(alt: str | None) -> str | None:
    """Skip reason for an ALT that no model can score, ``None`` for a scorable sequence allele."""
    if alt is None or alt in (".", ""):
        return "missing"
    if alt == "*":
        return "spanning_deletion"
    if alt.startswith("<") or "[" in alt or "]" in alt or alt.startswith(".") or alt.endswith("."):
        return "symbolic_alt"
    if not set(alt.upper()) <= set("ACGT"):
        return "non_acgt"
    return None


def trim_allele(pos1: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Core of a VCF allele: drop the shared leading bases, then the shared trailing bases.

    Returns ``(start1, ref_core, alt_core)``; ``ref_core`` occupies ``[start1, start1 +
    len(ref_core) - 1]`` and is replaced by ``alt_core``. An empty ``ref_core`` is an insertion
    between ``start1 - 1`` and ``start1``. Case-insensitive (the cores are upper-cased).
    """
    r, a = ref.upper(), alt.upper()
    k = 0
    while k < min(len(r), len(a)) and r[k] == a[k]:
        k += 1
    r, a = r[k:], a[k:]
    m = 0
    while m < min(len(r), len(a)) and r[-1 - m] == a[-1 - m]:
        m += 1
    if m:
        r, a = r[:-m], a[:-m]
    return pos1 + k, r, a


def apply_allele(seq: str, seq_start1: int, pos1: int, ref: str, alt: str) -> tuple[str, int, str, str]:
    """``(alt_seq, start1, ref_core, alt_core)``: ``seq`` (first base at ``seq_start1``) with the
    trimmed allele (:func:`trim_allele`) applied; ``alt_seq`` has the same origin.

    Raises ``ValueError`` when ``seq`` does not cover REF or differs from it.
    """
    i = pos1 - seq_start1
    if i < 0 or i + len(ref) > len(seq):
        raise ValueError("the sequence does not cover the reference allele")
    if seq[i : i + len(ref)].upper() != ref.upper():
        raise ValueError(f"REF {ref!r} does not match the sequence ({seq[i : i + len(ref)]!r}) at {pos1}")
    start, r, a = trim_allele(pos1, ref, alt)
    j = start - seq_start1
    return seq[:j] + a + seq[j + len(r) :], start, r, a


def changes_span(first1: int, last1: int, pos1: int, ref: str, alt: str) -> bool:
    """Whether the allele changes the 1-based inclusive span ``[first1, last1]``: its trimmed
    changed bases (:func:`trim_allele`) overlap it, or an insertion falls strictly inside it.
    Changes outside the span leave it identical (indels there only move it)."""
    start, r, a = trim_allele(pos1, ref, alt)
    if not r and not a:
        return False
    if not r:  # insertion between start - 1 and start
        return first1 < start <= last1
    return start <= last1 and start + len(r) - 1 >= first1
