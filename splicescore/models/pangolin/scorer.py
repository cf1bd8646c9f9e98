"""Pangolin VCF scorer: windows, skips, genes and the ``INFO/Pangolin`` value.

The numbers and the per-gene text are those of the official command line (tkzeng/Pangolin 1.0.2,
``pangolin/pangolin.py``); every official fact is documented, with its source, in
:mod:`splicescore.models.pangolin.official`, whose pure functions this module calls. What this module
adds is the mapping onto splicescore's records, annotation and skip reasons:

* **Window**: ``seq[pos-5001-d : pos+len(REF)+4999+d]`` (0-based), upper-cased, no N-masking; the
  ALT window replaces REF at offset ``5000 + d``. One REF window per strand that has a gene at the
  variant, one ALT window per strand and ALT (``d`` is ``-D/--distance``, default 50 as Pangolin's
  ``-d``).
* **Genes**: the run's annotation (:class:`~splicescore.io.annotation.GeneIndex`; one transcript per
  gene). Pangolin keeps a gene when ``start < POS <= end`` (gffutils query + filter), so of
  ``GeneIndex.at`` (``tx_start1 <= POS <= tx_end1``) the transcripts starting exactly at POS are
  dropped. ``+`` genes first, then ``-`` genes, each strand ordered by (start, end). The printed
  name is the GTF ``gene_id`` (as Pangolin prints it), or the gene name for a SpliceAI table. The
  annotated sites of a gene are the exon starts and ends of its transcript in that annotation
  (Pangolin's ``create_db.py`` default keeps the ``Ensembl_canonical`` transcript; splicescore's
  ``--transcripts auto`` picks MANE_Select, else Ensembl_canonical, else the longest).
* **Skip reasons** (official check order): allele format (``symbolic_alt``, ``spanning_deletion``,
  ``non_acgt``; ``complex_allele`` for REF and ALT both longer than 1 nt and of different length:
  Pangolin's "Variant format not supported."), ``ref_too_long`` (``len(REF) > 2d``: "Deletion too
  large"), ``contig_not_in_fasta``, ``ref_mismatch``, ``contig_end`` (window past a contig end,
  unless ``--pad-ends``; the official tool reads a short window or crashes there), ``no_gene``.

Deliberate differences from the official CLI (README): every ALT is scored (official: ALT[0]
only); each gene is masked on the unmasked scores (officially masks accumulate across the genes of
one strand); REF is compared with the FASTA case-insensitively and lowercase alleles are accepted;
values print as ``%.2f`` (official: Python's repr of a rounded float32, e.g. ``0.6800000071525574``).

``INFO/Pangolin``: one entry per ALT × gene, ALT-major, each the official per-gene field prefixed
with the ALT: ``ALT|gene|pos:gain|pos:loss|Warnings:...`` (cutoff mode:
``ALT|gene|pos:score|...|Warnings:...``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


from splicescore.core.encoding import one_hot_oriented as encode  # model-orientation one-hot
from splicescore.core.outputs import AlignedOutputs, Track
from splicescore.core.scorer import RecordContext, RecordPlan, RecordResult, Variant
from splicescore.core.sliding import TX_TSV_COLUMNS, SlidingScorer, gene_id_or_name
from splicescore.io.annotation import GeneIndex, Transcript
from splicescore.io.genome import Reference
from splicescore.models.pangolin import official as ps
from splicescore.nn.incremental import AltEdit
from splicescore.nn.reduce import PangolinDeltaRequest
from splicescore.nn.tracks import TrackAlt, TrackSlice, reference_tracks

INFO_KEY = "Pangolin"
INFO_DESCRIPTION = (
    "Pangolin splice scores (Pangolin 1.0.2, computed by splicescore {version}; {mode}). "
    "One entry per ALT and gene: ALLELE|gene|pos:score_change|pos:score_change|Warnings:..., "
    "positions relative to POS"
)
TSV_COLUMNS = ("gain", "gain_pos", "loss", "loss_pos", "warnings")
TX_INFO_KEY = "Pangolin_TX"
TX_INFO_DESCRIPTION = (
    "Pangolin splice scores per transcript (Pangolin 1.0.2, computed by splicescore {version}; {mode}; "
    "--transcripts {transcripts}): one entry per ALT and transcript, masked with that transcript's exons. "
    "Priority: MS MANE Select, MP MANE Plus Clinical, C Ensembl canonical, N other. "
    "Format: ALLELE|gene|TRANSCRIPT|PRIORITY|pos:score_change|pos:score_change|Warnings:..."
)
#: what Pangolin prints for a gene: its ``gene_id`` when the annotation has one
gene_name = gene_id_or_name


def pangolin_genes(genes: GeneIndex, chrom: str, pos1: int, multi: bool = False) -> dict[str, list[Transcript]]:
    """Genes Pangolin scores at ``pos1``, per strand, in its output order.

    ``start < pos1 <= end`` (see module docstring), ordered by (start, end) and then by the
    annotation's order; a gene name repeated on one strand is kept once (its first transcript).
    With ``multi`` (several transcripts per gene) each gene is represented by its top-priority
    transcript at ``pos1`` (lowest ``rank``), as the one-per-gene annotation would have it.
    """
    out: dict[str, list[Transcript]] = {"+": [], "-": []}
    best: dict[tuple[str, str], Transcript] = {}
    for tx in genes.at(chrom, pos1):
        if tx.tx_start1 < pos1 <= tx.tx_end1 and tx.strand in out:
            if multi:
                key = (tx.strand, gene_name(tx))
                if key in best and best[key].rank <= tx.rank:
                    continue
                best[key] = tx
            else:
                out[tx.strand].append(tx)
    for (strand, _), tx in best.items():
        out[strand].append(tx)
    for strand, txs in out.items():
        txs.sort(key=lambda t: (t.tx_start1, t.tx_end1, t.order))
        seen: set[str] = set()
        out[strand] = [t for t in txs if not (gene_name(t) in seen or seen.add(gene_name(t)))]
    return out



def gene_transcripts(genes: GeneIndex, chrom: str, pos1: int, tx: Transcript) -> list[Transcript]:
    """Every transcript of ``tx``'s gene (same strand and gene_id) scored at ``pos1``, by rank."""
    out = [t for t in genes.at(chrom, pos1) if t.tx_start1 < pos1 <= t.tx_end1 and t.strand == tx.strand
           and gene_name(t) == gene_name(tx)]
    return sorted(out, key=lambda t: t.rank)


@dataclass
class StrandWindows:
    """The windows of one strand with genes at the variant: its REF input, an ALT input per ALT."""

    strand: str
    genes: list[Transcript]
    ref_input: int
    alt_inputs: dict[str, int] = field(default_factory=dict)
    transcripts: list[list[Transcript]] = field(default_factory=list)  # multi: per gene, all its transcripts
    reduced_rows: dict[str, int] = field(default_factory=dict)  # per ALT: its row in the chunk's reduction


class PangolinScorer(SlidingScorer):
    """Plans and finishes Pangolin scores for VCF records (see module docstring)."""

    name = "pangolin"
    info_key = INFO_KEY
    context = ps.CONTEXT
    # the official check order: alleles, "Deletion too large", then the window read, then the genes
    record_checks = ("ref_too_long", "non_acgt", "contig", "ref_mismatch", "contig_end", "genes")

    def __init__(self, reference: Reference, genes: GeneIndex, distance: int = 50, mask: bool = True,
                 cutoff: float | None = None, pad_ends: bool = False, version: str = "", incremental: bool = True,
                 multi: bool = False, transcripts: str = "auto"):
        super().__init__(reference, genes, distance, pad_ends, incremental, multi)
        if not version:
            from splicescore import __version__ as version
        self.mask = mask
        self.cutoff = cutoff
        mode = f"d={distance}, " + ("masked" if mask else "unmasked")
        if cutoff is not None:
            mode += f", every site with |change| >= {cutoff}"
        self.info_description = INFO_DESCRIPTION.format(version=version, mode=mode)
        self.tsv_columns = (TX_TSV_COLUMNS if multi else ()) + TSV_COLUMNS
        if multi:
            self.extra_info = {TX_INFO_KEY: TX_INFO_DESCRIPTION.format(version=version, mode=mode,
                                                                       transcripts=transcripts)}

    # ------------------------------------------------------------------ the model's parts
    def allele_reason(self, variant: Variant, alt: str) -> str | None:
        ref = variant.ref
        return "complex_allele" if len(ref) != 1 and len(alt) != 1 and len(ref) != len(alt) else None

    def genes_at(self, variant: Variant):
        by_strand = pangolin_genes(self.genes, variant.chrom, variant.pos1, self.multi)
        return by_strand if by_strand["+"] or by_strand["-"] else None

    def reference_span(self, variant: Variant, alts: list[str]) -> tuple[int, int]:
        start0, end0 = ps.window_bounds(variant.pos1, len(variant.ref), self.distance)
        return start0 + 1, end0

    def add_windows(self, record: RecordContext, plan: RecordPlan, shared: bool) -> None:
        """A REF window per strand with genes and an ALT window per strand and ALT. ``shared`` and
        incremental: ``None`` placeholders (:meth:`plan_chunk` replaces them with track entries, so
        the full windows are never built)."""
        variant, alts = record.variant, record.alts
        windows = not (shared and self.incremental)
        ref, seq = variant.ref.upper(), record.seq.upper()
        offset = ps.CONTEXT // 2 + self.distance
        units = []
        for strand in ("+", "-"):
            if not record.genes[strand]:
                continue
            unit = StrandWindows(strand, record.genes[strand], len(plan.inputs))
            if self.multi:
                unit.transcripts = [gene_transcripts(self.genes, variant.chrom, variant.pos1, t) for t in unit.genes]
            plan.inputs.append(encode(seq, strand) if windows else None)
            for alt in dict.fromkeys(alts):
                unit.alt_inputs[alt] = len(plan.inputs)
                alt_seq = seq[:offset] + alt.upper() + seq[offset + len(ref) :]
                plan.inputs.append(encode(alt_seq, strand) if windows else None)
            units.append(unit)
        plan.state = (alts, units)

    def plan_chunk(self, variants: list[Variant]) -> tuple[list, list[RecordPlan]]:
        """Plan a chunk of records together (plans index into the returned input list).

        With ``incremental`` the REF windows of nearby records on one strand become slices of one
        REF track (:class:`~splicescore.nn.tracks.TrackSlice`) and every ALT window an edit
        of it (:class:`~splicescore.nn.tracks.TrackAlt`). Pangolin's windows are plain reference sequence (no masking), so a track
        is the reference over the merged windows, one per contig and strand."""
        inputs: list = []
        plans = []
        requests: dict[tuple[str, str], list[tuple[Variant, StrandWindows]]] = {}
        for v in variants:
            plan = self.plan(v, shared=True)
            base = len(inputs)
            inputs.extend(plan.inputs)
            plan.inputs = []
            for unit in plan.state[1] if plan.state else ():
                unit.ref_input += base
                unit.alt_inputs = {a: i + base for a, i in unit.alt_inputs.items()}
                requests.setdefault((self.reference.resolve(v.chrom), unit.strand), []).append((v, unit))
            plans.append(plan)
        if self.incremental:
            for (contig, strand), reqs in requests.items():
                self._tracks(inputs, contig, strand, reqs)
        return inputs, plans

    def _tracks(self, inputs: list, contig: str, strand: str, reqs: list) -> None:
        """Replace the REF and ALT windows of ``reqs`` (on ``contig``, ``strand``) by track entries."""
        d, half = self.distance, ps.CONTEXT // 2
        spans = sorted({(v.pos1 - d, v.pos1 + len(v.ref) - 1 + d) for v, _ in reqs})
        for first1, last1 in reference_tracks(spans, ps.CONTEXT):
            start1 = first1 - half
            track = len(inputs)
            inputs.append(encode(self.reference.fetch(contig, start1 - 1, last1 + half).upper(), strand))
            length = len(inputs[track])
            for v, unit in reqs:
                r = len(v.ref)
                if not (first1 <= v.pos1 - d and v.pos1 + r - 1 + d <= last1):
                    continue
                # model orientation: the first REF nucleotide, and the first output (q - d)
                q = v.pos1 - start1 if strand == "+" else length - 1 - (v.pos1 + r - 1 - start1)
                inputs[unit.ref_input] = TrackSlice(track, q - d, 2 * d + r)
                for alt, i in unit.alt_inputs.items():
                    edit = AltEdit(q, r, encode(alt.upper(), strand), q - d, 2 * d + len(alt))
                    inputs[i] = TrackAlt(track, edit)

    # ------------------------------------------------------------------ outputs
    @staticmethod
    def _aligned(variant: Variant, unit: StrandWindows, alt: str, outputs: list, d: int):
        """REF and aligned ALT outputs ``(3 replicates, 4 tissues, 2d + len(REF))``, genomic
        orientation (the official ``compute_score``'s alignment)."""
        ref = ps.to_genomic(outputs[unit.ref_input], unit.strand)
        alt_out = ps.to_genomic(outputs[unit.alt_inputs[alt]], unit.strand)
        return ref, ps.align_alt_to_ref(alt_out, ref.shape[-1], d)

    def aligned_outputs(self, variant: Variant, plan: RecordPlan, outputs: list) -> list[AlignedOutputs]:
        """Per (ALT, gene) of the plan, in INFO order: ``(3, 4, 2d + len(REF))`` outputs (replicates,
        tissues, positions POS-d ..)."""
        if not plan.state:
            return []
        alts, strands = plan.state
        out = []
        for alt in alts:
            for unit in strands:
                ref, alt_out = self._aligned(variant, unit, alt, outputs, self.distance)
                out += [AlignedOutputs(alt, tx, unit.strand, variant.pos1 - self.distance, ref, alt_out)
                        for tx in unit.genes]
        return out

    def plot_tracks(self, aligned: AlignedOutputs, distance: int) -> list[Track]:
        """P(splice site) per tissue (heart, liver, brain, testis), positions POS-d..POS+d+len(REF)-1:
        REF and ALT averaged over the replicates; ``delta`` the official per-tissue mean of ``alt - ref``."""
        from splicescore.models.pangolin.network import TISSUES

        ref, alt = aligned.ref, aligned.alt_out
        delta = np.mean(alt - ref, axis=0)
        ref_mean, alt_mean = ref.mean(axis=0), alt.mean(axis=0)
        return [Track(name, ref_mean[t], alt_mean[t], delta[t]) for t, name in enumerate(TISSUES)]

    def reduction(self, variants: list[Variant], plans: list[RecordPlan]) -> PangolinDeltaRequest | None:
        """Every (ALT, strand) of the chunk's plans (as :meth:`plan_chunk` made them) as one device
        request for its ``(loss, gain)``; the masking per gene stays on the host."""
        units = []
        for variant, plan in zip(variants, plans):
            alts, strands = plan.state if plan.state else ((), ())
            for alt in alts:
                for unit in strands:
                    unit.reduced_rows[alt] = len(units)
                    units.append((unit.ref_input, unit.alt_inputs[alt], unit.strand == "-", len(variant.ref), len(alt)))
        return PangolinDeltaRequest(units, self.distance) if units else None

    def finish(self, variant: Variant, plan: RecordPlan, outputs: list[np.ndarray]) -> RecordResult:
        """``outputs[i]`` is ``(3 replicates, 4 tissues, L_i - 10000)`` for ``plan.inputs[i]``
        (network orientation), or for the chunk's inputs when the plan came from
        :meth:`plan_chunk`."""

        def loss_gain(alt: str, unit: StrandWindows):
            ref, alt_out = self._aligned(variant, unit, alt, outputs, self.distance)
            return ps.loss_gain(np.mean(alt_out - ref, axis=0))  # the official per-tissue delta

        return self._result(variant, plan, loss_gain)

    def finish_reduced(self, variant: Variant, plan: RecordPlan, reduced: list[dict]) -> RecordResult:
        """As :meth:`finish`, from the rows of the chunk's :meth:`reduction`."""

        def loss_gain(alt: str, unit: StrandWindows):
            row = reduced[unit.reduced_rows[alt]]
            return row["loss"], row["gain"]

        return self._result(variant, plan, loss_gain)

    def _result(self, variant: Variant, plan: RecordPlan, loss_gain_of) -> RecordResult:
        """The INFO entries and TSV rows of a record, ``loss_gain_of(alt, unit) -> (loss, gain)``
        ``(2d + len(REF),)`` per (ALT, strand)."""
        result = RecordResult(skips=list(plan.skips))
        if not plan.state:
            return result
        alts, strands = plan.state
        d, pos = self.distance, variant.pos1
        entries = []
        tx_entries = []
        for alt in alts:
            for unit in strands:
                loss, gain = loss_gain_of(alt, unit)
                genes = [(gene_name(t), ps.exon_boundary_sites(zip(t.exon_starts1, t.exon_ends1)))
                         for t in unit.genes]
                fields = ps.score_strand(genes, loss, gain, pos, d, mask=self.mask, cutoff=self.cutoff,
                                         style="fixed")
                entries.extend(f"{alt}|{f}" for f in fields)
                # multi: every transcript of each gene, masked with its own exons (same network outputs)
                txs = [t for group in unit.transcripts for t in group] if self.multi else unit.genes
                if self.multi:
                    tx_sites = [(gene_name(t), ps.exon_boundary_sites(zip(t.exon_starts1, t.exon_ends1))) for t in txs]
                    for t, f in zip(txs, ps.score_strand(tx_sites, loss, gain, pos, d, mask=self.mask,
                                                         cutoff=self.cutoff, style="fixed")):
                        gene, rest = f.split("|", 1)
                        tx_entries.append(f"{alt}|{gene}|{t.transcript_id or '.'}|{t.priority or '.'}|{rest}")
                for tx in txs:
                    gene, sites = gene_name(tx), ps.exon_boundary_sites(zip(tx.exon_starts1, tx.exon_ends1))
                    g_loss, g_gain, warning = loss, gain, ""
                    if self.mask:
                        g_loss, g_gain, warning = ps.mask_scores(loss, gain, sites, pos, d)
                    g, lo = int(np.argmax(g_gain)), int(np.argmin(g_loss))
                    row = {"alt": alt, "gene": gene, "strand": unit.strand}
                    if self.multi:
                        row.update(transcript_id=tx.transcript_id or ".", transcript_priority=tx.priority or ".")
                    row.update({
                        "gain": float(g_gain[g]), "gain_pos": g - d,
                        "loss": float(g_loss[lo]), "loss_pos": lo - d,
                        "warnings": warning or ".",
                    })
                    result.rows.append(row)
        if self.multi and tx_entries:
            result.extra[TX_INFO_KEY] = ",".join(tx_entries)
        result.info = ",".join(entries) if entries else None
        return result
