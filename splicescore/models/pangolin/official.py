"""Pangolin variant scoring, as the official command line computes it (pure numpy).

Source of every fact below: tkzeng/Pangolin 1.0.2 @5cf94b8, ``pangolin/pangolin.py``
(``one_hot_encode``, ``compute_score``, ``get_genes``, ``process_variant``, ``main``) and
``scripts/create_db.py``; gffutils 0.13 ``FeatureDB.region`` for the gene query; checked against
the golden runs in ``golden/pangolin`` (README there).

Official pipeline, per VCF record
---------------------------------
* **ALT**: only ``ALT[0]`` is scored (``str(variant.ALT[0])``). splicescore scores every ALT.
* **Skip conditions** (record written unchanged, no ``Pangolin`` INFO; a line
  ``[Line N] WARNING, skipping variant: <reason>`` is printed, ``N`` = 1-based line number of the
  record in the VCF), checked in this order:

  1. REF or ALT contains none of ``A C G T`` (case-sensitive; e.g. ``*``, ``N``, a missing ALT
     which PyVCF turns into ``"None"``), or ``len(REF) != 1 and len(ALT) != 1 and
     len(REF) != len(ALT)`` (complex indels): ``Variant format not supported.``
  2. ``len(REF) > 2*d``: ``Deletion too large`` (no full stop; also hits long MNVs).
  3. Contig naming: if the VCF contig is not in the FASTA but ``"chr" + contig`` is, that is used;
     else if ``contig[3:]`` is. The (possibly renamed) contig is also the one queried in the GTF DB.
  4. Sequence fetch raising (e.g. contig absent): the exception is printed, then
     ``Could not get sequence, possibly because the variant is too close to chromosome ends.
     See error message above.`` Note: pyfastx (2.3.1 tried here) does *not* raise for a window
     running past the chromosome end (it returns a shorter sequence and the CLI goes on with
     it: shortened score arrays, or an error once the window is shorter than the network's
     context) and crashes the whole process (segfault) for a negative window start
     (``pos <= 5000 + d``). splicescore should skip such variants instead.
  5. ``seq[5000+d : 5000+d+len(REF)] != REF`` (case-sensitive; pyfastx keeps soft-masked
     lowercase, so REF in a lowercase region mismatches): ``Mismatch between FASTA (ref base: X)
     and variant file (ref base: Y).``
  6. No gene on ``+`` or ``-`` contains the variant: ``Variant not contained in a gene body. Do
     GTF/FASTA chromosome names match?``

  An ALT with characters other than ``ACGTN`` that still contains one of ``ACGT`` (e.g. the
  symbolic ``<CN0>``) passes check 1 and then makes ``one_hot_encode`` raise, aborting the whole
  run. Lowercase REF/ALT are not upper-cased in VCF mode (they are in CSV mode).

* **Window**: ``seq = fasta[chrom][pos-5001-d : pos+len(REF)+4999+d]`` (0-based half open), i.e.
  1-based positions ``pos-5000-d .. pos+len(REF)+4999+d``, length ``10000 + 2d + len(REF)``, REF at
  offset ``5000+d``. ``alt_seq = seq[:5000+d] + ALT + seq[5000+d+len(REF):]``. No masking of
  any kind: the window is encoded as read, upper-cased (soft-masked bases count as bases), A, C,
  G, T as unit vectors, N as an all-zero column (any other letter raises). See
  :func:`window_bounds`.
* **Genes** (``get_genes``): ``gtf.region((chrom, pos-1, pos-1), featuretype="gene")`` with
  gffutils 0.13 returns genes with ``start <= pos-1 <= end``; the CLI then drops genes with
  ``start > pos`` or ``end < pos``. Net effect: ``start < pos <= end`` (a gene starting exactly at
  ``pos`` is *not* used; only POS, not the rest of REF, is tested). Genes are split by their
  strand column (``+`` / ``-``; any other strand is ignored) into two dicts keyed by the
  ``gene_id`` attribute (first value; the printed name is the gene_id, not gene_name; a repeated
  gene_id on one strand keeps its first dict slot and its last exon list). Order within a strand:
  the order SQLite returns rows of that query, which is by (start, end) through the
  ``seqidstartend`` index (verified with gffutils 0.13 / SQLite 3.40 on a GTF written in reverse
  order). For each gene the "annotated sites" are ``[exon.start, exon.end]`` of every exon child
  (``gtf.children(gene, featuretype="exon")``, all transcripts present in the DB), 1-based
  inclusive GTF coordinates, regardless of strand: exon starts and ends alike, including the
  first exon's start (TSS) and the last exon's end (polyA site). ``create_db.py`` keeps gene,
  transcript and exon features and by default only transcripts/exons tagged
  ``Ensembl_canonical`` (genes are never filtered), so with its defaults a gene with no canonical
  transcript has *no* sites. See :func:`exon_boundary_sites`.
* **One network run per strand**: ``compute_score`` runs once for ``+`` if the ``+`` dict is
  non-empty and once for ``-`` if the ``-`` dict is non-empty, on the same window; for ``-`` the
  one-hot input is the reverse complement and outputs are reversed back to genomic orientation.
  Every gene of that strand is then formatted from the same loss/gain arrays.
* **Score** (``compute_score``, see :func:`per_tissue_delta`, :func:`loss_gain`): for tissue ``t``
  and each of its 3 networks, ``ref``/``alt`` = channel ``[1,4,7,10][t]`` (P(splice site)), in
  genomic orientation; ``alt`` is aligned to ``ref`` (:func:`align_alt_to_ref`); the tissue score
  is ``mean over the 3 networks of (alt - ref)``; ``loss`` = min over tissues, ``gain`` = max over
  tissues, per position. The arrays have ``2d + len(REF)`` positions; index ``i`` is genomic
  position ``pos - d + i``, printed as offset ``i - d``. SNVs, insertions and equal-length MNVs
  give float32, deletions float64 (the zero padding is float64).
* **Masking** (default ``-m True``; :func:`mask_scores`), per gene: ``idx = sites - (pos - d)``
  restricted to ``0 <= idx < len(loss)``; ``gain[idx] = min(gain[idx], 0)`` (no gain at an
  annotated site) and ``loss[j] = max(loss[j], 0)`` for every ``j`` not in ``idx`` (no loss at an
  unannotated site). If the gene has no sites at all (the full list is empty, not merely none in
  the window): ``loss = max(loss, 0)`` everywhere, gain untouched, and the Warnings field gets
  ``NoAnnotatedSitesToMaskForThisGene``. The official code does this *in place* on the strand's
  shared arrays, so each gene sees the masks of all earlier genes of its strand; splicescore
  masks every gene from the unmasked arrays (``official_mask_leak=True`` reproduces the leak).
* **Output**: per gene ``gene|G:gain|L:loss|Warnings:<w>`` with ``G = argmax(gain) - d``,
  ``L = argmin(loss) - d`` (first index on ties; so an all-zero masked loss prints ``-d``),
  values ``round(x, 2)`` through an f-string; ``<w>`` is empty or
  ``NoAnnotatedSitesToMaskForThisGene`` (only with masking on). With ``-s C`` (cutoff mode) the
  per-gene string is ``gene|p:s|p:s|...|Warnings:<w>``: first every position with
  ``gain >= C`` (ascending), then every position with ``loss <= -C`` (ascending), on the masked
  arrays; with none it is ``gene|Warnings:<w>``. Genes are joined with ``,``: all ``+`` genes
  first, then all ``-`` genes. The VCF gets ``INFO/Pangolin=<that string>`` and the header line
  ``##INFO=<ID=Pangolin,Number=.,Type=String,Description="Pangolin splice scores. Format:
  gene|pos:score_change|pos:score_change|warnings,...">``. (``--score_exons True`` prints
  ``gene_sites1|...|gene_sites2|...`` per exon instead; not reproduced here.)
* **Number printing**: ``f"{round(v, 2)}"`` on a numpy scalar. Under numpy 2, float32 values
  print the double expansion of the rounded float32 (``0.6800000071525574``, ``-0.0``), float64
  (deletions) print ``0.68`` (so the golden files; numpy 1 is expected to print ``0.68`` for
  both, not checked). :func:`format_value` gives either this official text
  (``style="official"``, exact under the installed numpy) or clean two-decimal text
  (``style="fixed"``, ``"%.2f"`` as SpliceAI prints, ``-0.00`` written ``0.00``).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

NO_SITES_WARNING = "NoAnnotatedSitesToMaskForThisGene"
#: flank of the network: outputs start ``CONTEXT // 2`` positions into the input window
CONTEXT = 10000
SKIP_FORMAT = "Variant format not supported."
SKIP_TOO_LARGE = "Deletion too large"
SKIP_NO_GENE = "Variant not contained in a gene body. Do GTF/FASTA chromosome names match?"


def skip_mismatch_message(fasta_ref: str, vcf_ref: str) -> str:
    """The official REF-mismatch warning text."""
    return f"Mismatch between FASTA (ref base: {fasta_ref}) and variant file (ref base: {vcf_ref})."


def check_alleles(ref: str, alt: str, d: int = 50) -> str | None:
    """Official allele checks 1-2 (see module docstring): the skip reason, or ``None`` if scored."""
    acgt = set("ACGT")
    if not acgt & set(ref) or not acgt & set(alt) or (
        len(ref) != 1 and len(alt) != 1 and len(ref) != len(alt)
    ):
        return SKIP_FORMAT
    if len(ref) > 2 * d:
        return SKIP_TOO_LARGE
    return None


def window_bounds(pos: int, ref_len: int, d: int = 50) -> tuple[int, int]:
    """0-based half-open window ``[pos-5001-d, pos+ref_len+4999+d)`` of the official CLI.

    The REF allele starts at offset ``5000 + d`` of the window.
    """
    half = CONTEXT // 2
    return pos - half - 1 - d, pos + ref_len + half - 1 + d


def gene_contains(gene_start: int, gene_end: int, pos: int) -> bool:
    """Whether the official gene query keeps a gene (1-based inclusive GTF coordinates):
    ``start <= pos - 1`` (gffutils region overlap with ``pos - 1``) and ``start <= pos <= end``."""
    return gene_start <= pos - 1 and gene_end >= pos


def exon_boundary_sites(exons: Iterable[tuple[int, int]]) -> np.ndarray:
    """Annotated sites of one gene: ``[start, end]`` of every exon, flattened (1-based GTF
    coordinates, all transcripts, duplicates kept), as the official ``get_genes`` builds them."""
    out: list[int] = []
    for start, end in exons:
        out.extend((int(start), int(end)))
    return np.asarray(out, dtype=np.int64)


def to_genomic(tracks: np.ndarray, strand: str) -> np.ndarray:
    """Network-orientation outputs -> genomic orientation (reverse the last axis for ``-``)."""
    if strand == "+":
        return tracks
    if strand == "-":
        return tracks[..., ::-1]
    raise ValueError(f"strand must be '+' or '-', got {strand!r}")


def align_alt_to_ref(alt: np.ndarray, ref_length: int, d: int) -> np.ndarray:
    """Align the alt track to the ref positions exactly as the official ``compute_score``.

    Parameters
    ----------
    alt : np.ndarray
        ``(..., La)`` alt output in genomic orientation, ``La = 2d + len(ALT)``.
    ref_length : int
        ``Lr = 2d + len(REF)``, the length of the ref output.
    d : int

    Returns
    -------
    np.ndarray
        ``(..., Lr)``:

        * deletion (``Lr > La``): ``alt[..., :d+1]``, then ``Lr - La`` zeros (the deleted
          bases; float64, which makes the result float64), then ``alt[..., d+1:]``;
        * insertion (``Lr < La``): ``alt[..., :d]``, then the max of ``alt[..., d : d+n+1]``
          (the first ALT base and the ``n = La - Lr`` inserted positions) in one position, then
          ``alt[..., d+n+1:]``;
        * same length (SNV, MNV): ``alt`` unchanged.
    """
    la = alt.shape[-1]
    n = abs(ref_length - la)
    if ref_length > la:
        zeros = np.zeros(alt.shape[:-1] + (n,))
        return np.concatenate([alt[..., : d + 1], zeros, alt[..., d + 1 :]], axis=-1)
    if ref_length < la:
        peak = np.max(alt[..., d : d + n + 1], axis=-1, keepdims=True)
        return np.concatenate([alt[..., :d], peak, alt[..., d + n + 1 :]], axis=-1)
    return alt


def per_tissue_delta(ref: np.ndarray, alt: np.ndarray, d: int) -> np.ndarray:
    """Per tissue, the mean over replicate networks of aligned ``alt - ref``.

    Parameters
    ----------
    ref : np.ndarray
        ``(R, T, Lr)`` P(splice site), genomic orientation: replicate ``r`` of tissue ``t`` is
        channel ``3t+1`` of network ``final.{r+1}.{2t}.3.v2`` (``PangolinEnsemble.forward``
        gives ``(B, R, T, L)``; take one batch row and apply :func:`to_genomic`).
    alt : np.ndarray
        ``(R, T, La)``, same layout.
    d : int

    Returns
    -------
    np.ndarray
        ``(T, Lr)``; index ``i`` is genomic position ``pos - d + i``. Inputs are not modified.
    """
    if ref.ndim != 3 or alt.ndim != 3 or ref.shape[:2] != alt.shape[:2]:
        raise ValueError(f"expected (R, T, L) arrays, got {ref.shape} and {alt.shape}")
    diff = align_alt_to_ref(alt, ref.shape[-1], d) - ref
    return np.mean(diff, axis=0)


def loss_gain(delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(loss, gain)`` = (min, max) over tissues of ``delta`` ``(T, L)``, each ``(L,)``."""
    return delta.min(axis=0), delta.max(axis=0)


def compute_loss_gain(
    ref: np.ndarray, alt: np.ndarray, strand: str, d: int
) -> tuple[np.ndarray, np.ndarray]:
    """The official ``compute_score`` from network-orientation ``(R, T, L)`` tracks:
    orient, align, average, reduce. Returns ``(loss, gain)``, each ``(2d + len(REF),)``."""
    delta = per_tissue_delta(to_genomic(ref, strand), to_genomic(alt, strand), d)
    return loss_gain(delta)


def mask_scores(
    loss: np.ndarray, gain: np.ndarray, sites: Sequence[int] | np.ndarray, pos: int, d: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """The official masking for one gene, on copies.

    Parameters
    ----------
    loss, gain : np.ndarray
        ``(L,)`` unmasked scores; index ``i`` is genomic position ``pos - d + i``.
    sites : sequence of int
        *All* annotated sites of the gene (1-based exon starts and ends,
        :func:`exon_boundary_sites`), not only those in the window: an empty list is what
        triggers the ``NoAnnotatedSitesToMaskForThisGene`` rule.
    pos, d : int

    Returns
    -------
    (loss, gain, warning)
        New arrays (same dtype), and ``""`` or :data:`NO_SITES_WARNING`.
    """
    loss = np.array(loss, copy=True)
    gain = np.array(gain, copy=True)
    sites = np.asarray(sites, dtype=np.int64)
    if sites.size == 0:
        loss[:] = np.maximum(loss, 0)
        return loss, gain, NO_SITES_WARNING
    idx = sites - (pos - d)
    idx = idx[(idx >= 0) & (idx < len(loss))]
    gain[idx] = np.minimum(gain[idx], 0)
    unannotated = ~np.isin(np.arange(len(loss)), idx)
    loss[unannotated] = np.maximum(loss[unannotated], 0)
    return loss, gain, ""


def format_value(value, style: str = "fixed") -> str:
    """Text of one score.

    ``style="official"``: ``f"{round(value, 2)}"`` on the numpy scalar as the CLI does (keep the
    array's dtype: float32 for SNVs/insertions/MNVs, float64 for deletions).
    ``style="fixed"``: ``"%.2f"`` of the value, with a negative zero written ``0.00``.
    """
    if style == "official":
        return f"{round(value, 2)}"
    if style == "fixed":
        text = f"{float(value):.2f}"
        return "0.00" if text == "-0.00" else text
    raise ValueError(f"unknown style {style!r}")


def format_gene(
    gene: str,
    loss: np.ndarray,
    gain: np.ndarray,
    d: int,
    warning: str = "",
    cutoff: float | None = None,
    style: str = "fixed",
) -> str:
    """One gene's field of ``INFO/Pangolin`` from (already masked, if masking) scores.

    Default: ``gene|G:gain|L:loss|Warnings:<warning>`` at ``G = argmax(gain) - d`` and
    ``L = argmin(loss) - d``. With ``cutoff``: ``gene|`` + ``p:s`` for every ``gain >= cutoff``
    (ascending positions) then every ``loss <= -cutoff`` (ascending), then ``|Warnings:...``.
    """
    fields = [gene]
    if cutoff is None:
        g, lo = int(np.argmax(gain)), int(np.argmin(loss))
        fields.append(f"{g - d}:{format_value(gain[g], style)}")
        fields.append(f"{lo - d}:{format_value(loss[lo], style)}")
    else:
        for i in np.flatnonzero(gain >= cutoff):
            fields.append(f"{int(i) - d}:{format_value(gain[i], style)}")
        for i in np.flatnonzero(loss <= -cutoff):
            fields.append(f"{int(i) - d}:{format_value(loss[i], style)}")
    fields.append(f"Warnings:{warning}")
    return "|".join(fields)


def score_strand(
    genes: Sequence[tuple[str, Sequence[int] | np.ndarray]],
    loss: np.ndarray,
    gain: np.ndarray,
    pos: int,
    d: int,
    mask: bool = True,
    cutoff: float | None = None,
    style: str = "fixed",
    official_mask_leak: bool = False,
) -> list[str]:
    """Gene fields for the genes of one strand, in the given order.

    Parameters
    ----------
    genes : sequence of (gene_id, sites)
        The strand's genes in output order with all their annotated sites
        (:func:`exon_boundary_sites`).
    loss, gain : np.ndarray
        The strand's unmasked scores (:func:`compute_loss_gain`); not modified.
    pos, d : int
    mask : bool
        The official ``-m`` (default True).
    cutoff : float or None
        The official ``-s``.
    style : str
        See :func:`format_value`.
    official_mask_leak : bool
        Reproduce the official in-place masking, where every gene is masked on top of the
        masks of the genes before it on the same strand (for parity tests only).
    """
    out = []
    cur_loss, cur_gain = loss, gain
    for gene, sites in genes:
        warning = ""
        g_loss, g_gain = cur_loss, cur_gain
        if mask:
            g_loss, g_gain, warning = mask_scores(cur_loss, cur_gain, sites, pos, d)
            if official_mask_leak:
                cur_loss, cur_gain = g_loss, g_gain
        out.append(format_gene(gene, g_loss, g_gain, d, warning, cutoff, style))
    return out
