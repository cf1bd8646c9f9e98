"""SpTransformer input encoding and variant scores, as the official annotation code computes them.

Facts used (``ShenLab-Genomics/SpliceTransformer@b67a51d``):

* ``tasks_annotate_mutations.one_hot_encode``: the sequence is upper-cased, A, C, G, T, N map to
  1, 2, 3, 4, 0 and then to one-hot rows (A, C, G, T order; N and padding = all zero). Any other
  character (IUPAC codes such as R or Y) makes ``int()`` fail, i.e. a ``ValueError``.
* ``SNPInterval.parse``: for an SNV at 1-based position ``pos`` the window is
  ``fasta.get_seq(chrom, pos - 4100, pos + 4100)`` (8,201 nt, 1-based inclusive, the variant at
  index 4100); the alt window replaces ``len(ref)`` characters at index 4100; for a gene on the minus
  strand both one-hot arrays are reversed in position *and* channel (``x[::-1, ::-1]``), which is the
  one-hot of the reverse complement. ``align_score`` reverses twice, so for SNVs the scores stay in
  model orientation; only maxima over positions are used.
* ``sptransformer.Annotator.query_scores`` (``annotate_VCF_general`` uses the same formula): per
  strand of the genes overlapping the variant, with model outputs ``(201, 18)`` after
  ``post_decorate``::

      sp = max(acceptor, donor) per position            (ref and alt separately)
      S  = max(S, max_k |sp_alt[k] - sp_ref[k]|)        (S starts at 0)
      usage_side *= (sp_side >= 0.09)                    (each side masked by its own splice prob)
      T  = max(T, max_k |usage_alt[k] - usage_ref[k]|)   (elementwise over the 15 tissues; T starts at 0)

  No overlapping gene means no strand and ``S = 0``, ``T = 0``. The CLI prints ``'{:.2f}'.format(S)``
  and, unless raw scores are requested, a Y/N flag per tissue:
  ``((T_t - mean(T)) - mu_t) / sd_t > thr95_t`` with the thresholds ``15tissue_z01_mean``,
  ``15tissue_z01_std`` and ``95_15tissue_z01`` of ``Annotator._threshold``. Indels are skipped by
  the CLI (``len(ref) > 1 or len(alt) > 1``).
* The tissue order is ``Annotator._tissue_list``.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from splicescore.core.encoding import one_hot, unknown_characters

#: The 15 tissue-usage channels in output order (official ``_tissue_list``).
TISSUE_NAMES = (
    "Adipose Tissue",
    "Blood",
    "Blood Vessel",
    "Brain",
    "Colon",
    "Heart",
    "Kidney",
    "Liver",
    "Lung",
    "Muscle",
    "Nerve",
    "Small Intestine",
    "Skin",
    "Spleen",
    "Stomach",
)

#: Splice probability (max of acceptor, donor) below which a side's tissue usages are zeroed.
SPLICE_MASK_THRESHOLD = 0.09

#: Context on each side of the 201 scored positions, and the offset of the variant in the window.
CONTEXT = 4000
FLANK = 100
WINDOW_LENGTH = 2 * (CONTEXT + FLANK) + 1  # 8201
VARIANT_INDEX = CONTEXT + FLANK  # 4100

def one_hot_encode(seq: str) -> np.ndarray:
    """Official one-hot ``(L, 4)`` uint8 in A, C, G, T order; ``N`` (any case) is all zero.

    Raises
    ------
    ValueError
        For any character other than A, C, G, T, N (either case), like the official encoder.
    """
    bad = unknown_characters(seq)
    if bad:
        raise ValueError(f"SpTransformer accepts only A, C, G, T, N; found {bad}")
    return one_hot(seq, dtype=np.uint8)


def encode_window(seq: str, strand: str = "+") -> np.ndarray:
    """Model input ``(4, L)`` float32 for a genomic window; ``'-'`` gives the reverse complement.

    This is the official ``one_hot_encode`` followed, on the minus strand, by ``x[::-1, ::-1]``,
    transposed to channel-first.
    """
    if strand not in ("+", "-"):
        raise ValueError(f"strand must be '+' or '-', not {strand!r}")
    x = one_hot_encode(seq)
    if strand == "-":
        x = x[::-1, ::-1]
    return np.ascontiguousarray(x.T, dtype=np.float32)


def splice_probability(out: np.ndarray) -> np.ndarray:
    """``max(acceptor, donor)`` per position of one output ``(18, T)`` (channel-first)."""
    return np.max(out[1:3], axis=0)


def strand_scores(
    ref_out: np.ndarray, alt_out: np.ndarray, threshold: float = SPLICE_MASK_THRESHOLD
) -> tuple[np.floating, np.ndarray]:
    """Splice score and the 15 raw tissue scores for one strand.

    Parameters
    ----------
    ref_out, alt_out : np.ndarray
        Model outputs after softmax/sigmoid, ``(18, T)`` channel-first as
        :class:`~splicescore.models.sptransformer.network.SpTransformerNet` returns them (channels 0-2
        neither/acceptor/donor, 3-17 tissue usages), both in model orientation.
    threshold : float
        0.09: each side's usages count only where its own splice probability is ``>=`` this.

    Returns
    -------
    score : float
        ``max_k |sp_alt - sp_ref|``.
    tissue : np.ndarray
        ``(15,)``, ``max_k |usage_alt * mask_alt - usage_ref * mask_ref|``.
    """
    ref_out, alt_out = np.asarray(ref_out), np.asarray(alt_out)
    if ref_out.shape != alt_out.shape or ref_out.ndim != 2 or ref_out.shape[0] < 4:
        raise ValueError(f"expected two (18, T) arrays, got {ref_out.shape} and {alt_out.shape}")
    sp_ref, sp_alt = splice_probability(ref_out), splice_probability(alt_out)
    score = np.max(np.abs(sp_alt - sp_ref))
    use_ref = ref_out[3:] * (sp_ref >= threshold)[None, :]
    use_alt = alt_out[3:] * (sp_alt >= threshold)[None, :]
    return score, np.max(np.abs(use_alt - use_ref), axis=1)


def variant_scores(
    strand_outputs: Iterable[tuple[np.ndarray, np.ndarray]],
    n_tissues: int = len(TISSUE_NAMES),
    threshold: float = SPLICE_MASK_THRESHOLD,
) -> tuple[float, np.ndarray]:
    """Official ``query_scores`` (raw): maxima over the strands of the overlapping genes.

    Parameters
    ----------
    strand_outputs : iterable of (ref_out, alt_out)
        One ``(18, T)`` pair per strand (see :func:`strand_scores`); empty when no gene overlaps.

    Returns
    -------
    score : float
        Splice score ``S`` (0 without strands).
    tissue : np.ndarray
        ``(n_tissues,)`` float64 raw tissue scores ``T`` (zeros without strands).
    """
    score = 0.0
    tissue = np.zeros(n_tissues)
    for ref_out, alt_out in strand_outputs:
        s, t = strand_scores(ref_out, alt_out, threshold)
        score = max(score, float(s))
        tissue = np.maximum(tissue, t)
    return score, tissue


def format_score(score: float) -> str:
    """The CLI's text form of the splice score (two decimals)."""
    return "{:.2f}".format(score)


def tissue_flags(
    tissue: np.ndarray,
    mean: Mapping[str, float] | Sequence[float],
    std: Mapping[str, float] | Sequence[float],
    threshold: Mapping[str, float] | Sequence[float],
    tissue_names: Sequence[str] = TISSUE_NAMES,
) -> list[str]:
    """Official Y/N tissue-specificity flags from the raw tissue scores.

    ``'Y'`` where ``((T_t - mean(T)) - mean_t) / std_t > threshold_t``. The official CLI uses the
    ``15tissue_z01_mean``, ``15tissue_z01_std`` and ``95_15tissue_z01`` tables (given here as
    mappings by tissue name or sequences in :data:`TISSUE_NAMES` order).
    """
    tissue = np.asarray(tissue, dtype=np.float64)

    def column(table) -> list[float]:
        if isinstance(table, Mapping):
            return [float(table[name]) for name in tissue_names]
        values = [float(v) for v in table]
        if len(values) != len(tissue_names):
            raise ValueError("threshold table length differs from the number of tissues")
        return values

    mu, sd, thr = column(mean), column(std), column(threshold)
    centre = np.mean(tissue)
    return ["Y" if ((t - centre) - m) / s > c else "N" for t, m, s, c in zip(tissue, mu, sd, thr)]
