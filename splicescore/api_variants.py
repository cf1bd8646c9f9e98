"""Variants as the Python API and ``splicescore serve`` take them: text (``chr17:43045795:C:T`` and
SpliceAI-lookup's ``chr17-43045795-C-T``) or tuples, parsed and checked against the FASTA."""

from __future__ import annotations

import re

from splicescore.core.scorer import Variant


class VariantError(ValueError):
    """A variant that cannot be scored as written: malformed text, a contig missing from the FASTA,
    a position past the contig's end, or a REF that differs from the FASTA. The message is one line."""


_SEPARATORS = re.compile(r"[\s:>]+|-(?=[0-9A-Za-z])")


def parse_variant(text) -> Variant:
    """A variant as ``CHROM:POS:REF:ALT[,ALT...]`` (also ``CHROM-POS-REF-ALT`` as SpliceAI-lookup
    writes it, ``chr17 43045795 C T`` or ``chr17:43045795:C>T``), a :class:`Variant`, or a tuple
    ``(chrom, pos, ref, alt or alts)``. POS is 1-based.

    Raises
    ------
    VariantError
        Malformed text (the message says what is wrong).
    """
    if isinstance(text, Variant):
        return text
    if isinstance(text, (tuple, list)):
        if len(text) != 4:
            raise VariantError(f"variant {text!r}: expected (chrom, pos, ref, alt)")
        chrom, pos, ref, alts = text
        alts = (alts,) if isinstance(alts, str) else tuple(alts)
        return _checked(str(chrom), str(pos), str(ref), ",".join(alts), repr(text))
    if not isinstance(text, str):
        raise VariantError(f"variant must be a string such as chr17:43045795:C:T, not {type(text).__name__}")
    raw = text.strip()
    if len(raw) > 10_000:
        raise VariantError("variant text longer than 10,000 characters")
    parts = raw.split(":") if ":" in raw and ">" not in raw else [p for p in _SEPARATORS.split(raw) if p]
    if len(parts) != 4 or not all(parts):
        raise VariantError(f"variant {short_text(raw)!r}: expected CHROM:POS:REF:ALT, e.g. chr17:43045795:C:T")
    return _checked(*parts, short_text(raw))


def short_text(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _checked(chrom: str, pos: str, ref: str, alts: str, shown: str) -> Variant:
    if not re.fullmatch(r"[A-Za-z0-9_.]{1,100}", chrom):
        raise VariantError(f"variant {shown!r}: contig name {short_text(chrom)!r} has characters other than letters, "
                           "digits, '_' and '.'")
    if not pos.isdigit() or int(pos) < 1 or len(pos) > 10:
        raise VariantError(f"variant {shown!r}: POS must be a positive integer (1-based), not {short_text(pos)!r}")
    if not re.fullmatch(r"[ACGTNacgtn]+", ref):
        raise VariantError(f"variant {shown!r}: REF must be A/C/G/T/N bases, not {short_text(ref)!r}")
    alt_list = tuple(a if a.startswith("<") else a.upper() for a in alts.split(","))
    for a in alt_list:
        if not re.fullmatch(r"[A-Za-z]+|\*|<[A-Za-z0-9_.]+>", a):
            raise VariantError(f"variant {shown!r}: ALT {short_text(a)!r} is not a sequence of bases, '*' or <ID>")
    return Variant(chrom, int(pos), ref.upper(), alt_list)


class VariantRecord:
    """The fields of a cyvcf2 record the pipeline's planning reads (``pipeline._variant``)."""

    __slots__ = ("CHROM", "POS", "REF", "ALT")

    def __init__(self, v: Variant):
        self.CHROM, self.POS, self.REF, self.ALT = v.chrom, v.pos1, v.ref, list(v.alts)


def check_against_reference(reference, v: Variant) -> None:
    """Raise :class:`VariantError` unless ``v``'s contig is in ``reference`` (a
    :class:`~splicescore.io.genome.Reference`, any contig naming), ``v`` ends within it and its REF
    is the FASTA's (case-insensitive)."""
    contig = reference.resolve(v.chrom)
    if contig is None:
        shown = ", ".join(list(reference.lengths)[:5]) + ("..." if len(reference.lengths) > 5 else "")
        raise VariantError(f"contig {v.chrom!r} is not in the reference FASTA (it has {shown})")
    length = reference.lengths[contig]
    if v.pos1 + len(v.ref) - 1 > length:
        raise VariantError(f"{v.chrom}:{v.pos1}: past the end of {contig} ({length:,} nt)")
    seq = reference.fetch(contig, v.pos1 - 1, v.pos1 - 1 + len(v.ref))
    if seq.upper() != v.ref.upper():
        raise VariantError(f"REF {short_text(v.ref)} does not match the reference FASTA, which has "
                           f"{short_text(seq.upper())} at {contig}:{v.pos1}")
