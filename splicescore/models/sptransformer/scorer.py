"""SpTransformer VCF scores: windows and scores of the official annotation script, every ALT, indels.

Facts of the official tool (``ShenLab-Genomics/SpliceTransformer@b67a51d``, Apache-2.0; read, not
copied), ``sptransformer.py`` (``Annotator``) and ``tasks_annotate_mutations.py``:

* **Genes and strands** (``Annotator.get_genes``): every gene of the GTF overlapping POS
  (``pyensembl.Genome.genes_at_locus``, any biotype unless ``limit_protein_coding``) contributes its
  strand. Only the strand matters: the window is not masked to the gene, so genes on one strand give
  the same numbers.
* **Window** (``SNPInterval.parse`` with ``center_posL = POS-100``, ``center_posR = POS+100`` and
  ``context_len = 4000``): genomic ``POS-4100 .. POS+4100`` (1-based, inclusive; 8,201 nt, the
  variant at index 4100); the ALT window replaces ``len(REF)`` characters at index 4100 by ALT.
  Minus strand: both one-hot arrays are reversed in position and channel (``x[::-1, ::-1]``, the
  reverse complement). Each window goes through the model alone (``calc_single_sequence``).
* **Scored positions**: the 201 model outputs, i.e. POS-100 .. POS+100 (output ``k`` = input
  ``4000 + k``).
* **Scores** (``Annotator.query_scores``): per strand, ``S = max_k |max(acc, don)_alt - max(acc,
  don)_ref|`` and per tissue ``T_t = max_k |usage_alt * [sp_alt >= 0.09] - usage_ref * [sp_ref >=
  0.09]|``; the variant's values are the maxima over the strands (see
  :mod:`splicescore.models.sptransformer.official`). The CLI writes ``'{:.2f}'.format(S)`` and either
  the raw ``T_t`` or Y/N flags ``((T_t - mean(T)) - mu_t) / sd_t > thr95_t`` (tables in
  :data:`FLAG_TABLES`, copied as numbers from ``Annotator._threshold``).
* **Records**: the official CLI scores ``ALT[0]`` only and skips every record whose REF or ALT is
  longer than 1 nt; a REF that differs from the FASTA only prints a warning; a variant in no gene
  gets ``S = 0``, ``T = 0``.

What splicescore does beyond / differently (README, "SpTransformer"):

* Every ALT is scored, one INFO entry per ALT x overlapping gene of ``-a`` (SpliceAI's gene rule,
  ``TX_START < POS <= TX_END``), ``ALLELE|GENE|SCORE|<15 tissues>``; the entry holds the scores of
  the gene's strand. The official per-variant value is the maximum over an ALT's entries.
* Indels, aligned like SpliceAI 1.3.1 (:func:`splicescore.models.spliceai.official.align_alt`). The ALT
  sequence is the REF window with ALT spliced in at index 4100 (as the official ``parse``), but the
  window is cut so that every position left of the variant (genomic orientation) enters the
  transformer at the same position as in the REF window. The network crops the central 8,192
  positions of its input for the transformer, whose 64-nt buckets and local windows are
  position-dependent: a window of another length (the official construction, ``8,201 + len(ALT) -
  len(REF)`` nt) would shift every position against the REF window's frame and change outputs even
  far from the variant. So:

  - deletion (ALT 1 nt, ``d = len(REF) - 1``): the ALT window starts at POS-4100 and is extended on
    the right from the genome to 8,201 nt (the network also needs >= 8,192 nt); of its 201 outputs
    the first ``201 - d`` (genomic order) are kept and ``d`` zero rows are inserted after the anchor
    base, as SpliceAI does;
  - insertion (REF 1 nt, ``i = len(ALT) - 1``): the ALT window starts ``i`` nt earlier, at
    POS-4100-i, and has ``8,201 + 2i`` nt (at least 4,000 nt of context on both sides); the first
    ``i`` outputs (left of POS-100) are dropped, and the outputs of the ALT bases are replaced by
    their maximum, as SpliceAI does, giving the 201 REF positions;
  - substitutions of equal length (MNVs) are scored position by position; REF and ALT both longer
    than 1 nt with different lengths are skipped (``complex_allele``).

  The official ``SNPInterval.align_score`` (unused by its CLI) instead pads the shorter side with
  zeros *before* the variant and does not extend deletion windows.
* Skips (``SPLICESCORE_SKIP``) instead of silent zeros or warnings: ``no_gene`` (the official CLI
  writes score 0), ``ref_mismatch``, ``contig_end`` (unless ``--pad-ends``: N padding),
  ``ref_too_long`` (REF > 200 nt: longer than the scored span, as SpliceAI with ``-D 100``),
  ``alt_too_long`` (insertions over 3,995 nt: the ALT window would exceed the network's 16,192 nt),
  and the generic allele
  reasons. Non-ACGT characters in the reference are encoded as N (the official encoder raises).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splicescore.core.encoding import one_hot_oriented as encode  # model-orientation one-hot
from splicescore.core.outputs import AlignedOutputs, Track, make_track
from splicescore.core.scorer import RecordContext, RecordPlan, RecordResult, Scorer, Variant
from splicescore.io.annotation import GeneIndex, Transcript
from splicescore.io.genome import Reference
from splicescore.models.spliceai.official import align_alt
from splicescore.models.sptransformer.official import (
    CONTEXT,
    FLANK,
    SPLICE_MASK_THRESHOLD,
    TISSUE_NAMES,
    VARIANT_INDEX,
    WINDOW_LENGTH,
    format_score,
    splice_probability,
    strand_scores,
    tissue_flags,
)

INFO_KEY = "SpTransformer"
INFO_DESCRIPTION = (
    "SpliceTransformer (SpTransformer) variant annotation (computed by splicescore {version}). "
    "Format: ALLELE|GENE|SCORE|{tissues}. SCORE: max |delta max(acceptor, donor)| over POS-100..POS+100 "
    "on the gene's strand; per tissue: max |delta usage| with usage set to 0 where the splice probability "
    "is below 0.09{flags}"
)
TSV_COLUMNS = ("score",) + TISSUE_NAMES

#: scored positions (POS-100 .. POS+100)
COV = 2 * FLANK + 1
#: longest input the network takes (8,192 transformer positions + 2 x 4,000 context)
MAX_INPUT_LENGTH = 8192 + 2 * CONTEXT

#: The official CLI's tissue-specificity tables (``Annotator._threshold`` of ``sptransformer.py``,
#: ``ShenLab-Genomics/SpliceTransformer@b67a51d``), in :data:`TISSUE_NAMES` order:
#: ``15tissue_z01_mean``, ``15tissue_z01_std`` and ``95_15tissue_z01`` (the 95% thresholds the CLI uses).
FLAG_TABLES = {
    "mean": (
        0.016170055925538048, -0.1466492029720345, -0.004814086515620099, 0.017831358519558433,
        0.03297392759250731, -0.0238562463866956, 0.03762999484050797, -0.057356272980532315,
        0.04777555561381407, -0.04901297259546376, 0.03865417911254773, 0.05855564392852844,
        0.008105610846240991, 0.001179770193512726, 0.022812684877590292,
    ),
    "std": (
        0.015315100552740593, 0.07765363341706003, 0.02180354730921543, 0.03280497132872753,
        0.018426896200775304, 0.02340998308282473, 0.022809397819461737, 0.037399009450944404,
        0.02457642947897365, 0.03512151853661846, 0.025045859953448327, 0.03187442362925183,
        0.015884291924608274, 0.022923747771506405, 0.01608487821592824,
    ),
    "threshold95": (
        1.8050256807163338, 1.2976271940160122, 1.7301640366913926, 1.5711727792118446,
        1.6529818774325018, 1.5579432960092778, 1.9147687989032427, 1.4824945358487465,
        1.7212837086526112, 1.4469248306980924, 1.5899046195758109, 1.8459915073972142,
        1.838922268820402, 1.709814212823414, 1.8189643807065778,
    ),
}


def official_flags(tissue: np.ndarray) -> list[str]:
    """Y/N tissue-specificity flags of the official CLI (95% thresholds) for 15 raw tissue scores."""
    return tissue_flags(tissue, FLAG_TABLES["mean"], FLAG_TABLES["std"], FLAG_TABLES["threshold95"])


def insertion_length(ref: str, alt: str) -> int:
    """Extra nt of an ALT window on the left (and its outputs to drop): ``max(0, len(ALT) - len(REF))``."""
    return max(0, len(alt) - len(ref))


def fetch_span0(pos1: int, ref_len: int, left: int = 0) -> tuple[int, int]:
    """0-based half-open genomic span to fetch: the 8,201-nt REF window (POS-4100 .. POS+4100) with
    ``left`` extra nt on the left (for insertions) and ``ref_len`` on the right (for deletions)."""
    start0 = pos1 - VARIANT_INDEX - 1
    return start0 - left, start0 + WINDOW_LENGTH + ref_len


def alt_window(span: str, left: int, ref: str, alt: str) -> str:
    """ALT window (genomic orientation) from a span fetched with :func:`fetch_span0` (``left``).

    ``len(REF)`` nt at index 4100 of the REF window become ALT. With ``i`` =
    :func:`insertion_length`, the window starts ``i`` nt before the REF window and has
    ``8,201 + 2i`` nt, so the positions left of the variant keep their transformer positions.
    """
    i = insertion_length(ref, alt)
    if i > left:
        raise ValueError("the fetched span has too little sequence on the left for this ALT")
    centre = left + VARIANT_INDEX
    out = span[left - i : centre] + alt + span[centre + len(ref) :]
    length = WINDOW_LENGTH + 2 * i
    if len(out) < length:
        raise ValueError("the fetched span is too short for this ALT window")
    return out[:length]



def align_outputs(
    ref_out: np.ndarray, alt_out: np.ndarray, strand: str, ref_len: int, alt_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """REF and ALT outputs on the 201 REF positions, ``(18, 201)`` each, genomic orientation.

    Parameters
    ----------
    ref_out, alt_out : np.ndarray
        Network outputs ``(18, T)`` in model orientation for the windows of :func:`alt_window`.
    """
    y_ref, y_alt = ref_out.T, alt_out.T
    if strand == "-":  # reversed output j is window (genomic) index 4000 + j for any window length
        y_ref, y_alt = y_ref[::-1], y_alt[::-1]
    if ref_len > alt_len:  # deletion (ALT 1 nt): keep the positions SpliceAI's shorter window would have
        y_alt = y_alt[: COV - (ref_len - alt_len)]
    elif alt_len > ref_len:  # insertion: the window starts i nt earlier; drop the outputs left of POS-100
        y_alt = y_alt[alt_len - ref_len :]
    y_alt = align_alt(np.ascontiguousarray(y_alt), ref_len, alt_len, COV)
    return np.ascontiguousarray(y_ref.T), np.ascontiguousarray(y_alt.T)


@dataclass
class GeneWindows:
    """One ALT in one gene: the REF and ALT inputs of the gene's strand."""

    alt: str
    tx: Transcript
    ref_input: int
    alt_input: int


class SpTransformerScorer(Scorer):
    """Plans and finishes SpTransformer scores for VCF records (see the module docstring)."""

    name = "sptransformer"
    info_key = INFO_KEY
    tsv_columns = TSV_COLUMNS
    record_checks = ("genes", "contig", "ref_mismatch", "contig_end", "ref_too_long", "non_acgt")

    def __init__(
        self, reference: Reference, genes: GeneIndex, pad_ends: bool = False, flags: bool = False, version: str = ""
    ):
        self.reference = reference
        self.genes = genes
        self.pad_ends = pad_ends
        self.flags = flags
        note = (
            "; tissues as the official Y/N tissue-specificity flags (95% thresholds)"
            if flags
            else "; tissue values are the raw delta usages"
        )
        self.info_description = INFO_DESCRIPTION.format(version=version, tissues="|".join(TISSUE_NAMES), flags=note)

    # ------------------------------------------------------------------ the model's parts
    def reach(self) -> int:
        return VARIANT_INDEX  # 4,100 nt on each side of POS (insertions: the alleles' lengths on top)

    def input_length(self) -> int:
        return WINDOW_LENGTH

    def max_ref(self) -> int:
        return 2 * FLANK  # longer than the scored span

    def allele_reason(self, variant: Variant, alt: str) -> str | None:
        ref_len = len(variant.ref)
        if ref_len > 1 and len(alt) > 1 and len(alt) != ref_len:
            return "complex_allele"
        if WINDOW_LENGTH + 2 * insertion_length(variant.ref, alt) > MAX_INPUT_LENGTH:
            return "alt_too_long"
        return None

    def genes_at(self, variant: Variant):
        return self.genes.at(variant.chrom, variant.pos1)

    @staticmethod
    def _left(variant: Variant, alts: list[str]) -> int:
        return max(insertion_length(variant.ref, a) for a in alts)

    def reference_span(self, variant: Variant, alts: list[str]) -> tuple[int, int]:
        start0, end0 = fetch_span0(variant.pos1, len(variant.ref), self._left(variant, alts))
        return start0 + 1, end0

    def needed_span(self, variant: Variant, alts: list[str], lo1: int, hi1: int) -> tuple[int, int]:
        """The REF window, extended on the right by the longest deletion (its ALT window reads on)."""
        longest_deletion = max(len(variant.ref) - len(a) for a in alts)
        return lo1, lo1 - 1 + self._left(variant, alts) + WINDOW_LENGTH + max(0, longest_deletion)

    def add_windows(self, record: RecordContext, plan: RecordPlan, shared: bool) -> None:
        variant, span = record.variant, record.seq
        left = self._left(variant, record.alts)
        ref_window = span[left : left + WINDOW_LENGTH]
        ref_inputs: dict[str, int] = {}
        alt_inputs: dict[tuple[str, str], int] = {}
        for alt in record.alts:
            for tx in record.genes:
                if tx.strand not in ref_inputs:
                    ref_inputs[tx.strand] = len(plan.inputs)
                    plan.inputs.append(encode(ref_window, tx.strand))
                key = (alt, tx.strand)
                if key not in alt_inputs:
                    alt_inputs[key] = len(plan.inputs)
                    plan.inputs.append(encode(alt_window(span, left, variant.ref, alt), tx.strand))
                plan.state.append(GeneWindows(alt, tx, ref_inputs[tx.strand], alt_inputs[key]))

    # ------------------------------------------------------------------ outputs
    def aligned_outputs(self, variant: Variant, plan: RecordPlan, outputs: list) -> list[AlignedOutputs]:
        """Per (ALT, gene) of the plan, in INFO order: ``(18, 201)`` outputs over POS-100 .. POS+100."""
        return [AlignedOutputs(u.alt, u.tx, u.tx.strand, variant.pos1 - FLANK,
                               *align_outputs(outputs[u.ref_input], outputs[u.alt_input], u.tx.strand,
                                              len(variant.ref), len(u.alt)))
                for u in plan.state]

    def plot_tracks(self, aligned: AlignedOutputs, distance: int) -> list[Track]:
        """Over POS-D..POS+D (``D <= 100``): ``acceptor`` and ``donor`` (kind ``site``), then the 15 tissue
        usages (kind ``usage``), each side's usage zeroed where its max(acceptor, donor) is below 0.09,
        as the tissue scores use them."""
        y_ref, y_alt = aligned.ref, aligned.alt_out
        keep = slice(FLANK - distance, FLANK + distance + 1)
        out = [make_track(name, y_ref[ch, keep], y_alt[ch, keep]) for ch, name in ((1, "acceptor"), (2, "donor"))]
        usage = [y[3:] * (splice_probability(y) >= SPLICE_MASK_THRESHOLD)[None, :] for y in (y_ref, y_alt)]
        out += [make_track(name, usage[0][t, keep], usage[1][t, keep], "usage") for t, name in enumerate(TISSUE_NAMES)]
        return out

    def finish(self, variant: Variant, plan: RecordPlan, outputs: list[np.ndarray]) -> RecordResult:
        """``outputs[i]`` is the network output ``(18, L_i - 8000)`` for ``plan.inputs[i]``."""
        result = RecordResult(skips=list(plan.skips))
        entries = []
        done: dict[tuple[int, int], tuple[float, np.ndarray]] = {}
        for unit in plan.state:
            key = (unit.ref_input, unit.alt_input)
            if key not in done:
                y_ref, y_alt = align_outputs(
                    outputs[unit.ref_input], outputs[unit.alt_input], unit.tx.strand, len(variant.ref), len(unit.alt)
                )
                score, tissue = strand_scores(y_ref, y_alt, SPLICE_MASK_THRESHOLD)
                done[key] = (float(score), tissue)
            score, tissue = done[key]
            values = official_flags(tissue) if self.flags else [format_score(t) for t in tissue]
            entries.append("|".join([unit.alt, unit.tx.gene, format_score(score), *values]))
            row = {"gene": unit.tx.gene, "strand": unit.tx.strand, "alt": unit.alt, "score": score}
            row.update({name: float(t) for name, t in zip(TISSUE_NAMES, tissue)})
            result.rows.append(row)
        result.skips = list(dict.fromkeys(result.skips))
        result.info = ",".join(entries) if entries else None
        return result
