"""SpliceAI delta scores, exactly as SpliceAI 1.3.1 computes them.

Published behaviour of ``spliceai.utils.get_delta_scores`` (1.3.1) that this module reproduces, read
as facts from the package (PolyForm Strict; no code taken):

* ``cov = 2*D + 1`` scored positions, ``wid = 10000 + cov`` input nt centred on POS:
  genomic ``[POS - wid//2, POS + wid//2]`` (1-based, inclusive).
* A record is scored only inside annotated genes (``TX_START < POS <= TX_END``; one score per ALT per
  overlapping gene, ALT-major, genes in table order). It is skipped when the window cannot be read,
  when REF differs from the FASTA (upper-cased) at POS, when the window runs past the contig end, and
  when ``len(REF) > 2*D``. ALTs containing ``.``, ``-``, ``*``, ``<`` or ``>`` are skipped; when REF
  and ALT are both longer than 1 nt the annotation is ``ALT|GENE|.|.|.|.|.|.|.|.``.
* Positions of the window outside the gene's transcript (``TX_START..TX_END``) become ``N``; the
  ALT window is the masked REF window with REF replaced by ALT at the centre; minus-strand genes are
  reverse-complemented before the network and the outputs reversed back.
* The 5 replicas' softmax outputs are averaged. Deletions: ``len(REF)-1`` zero rows are inserted into
  the ALT output after position ``cov//2 + len(ALT)``. Insertions: the ALT rows
  ``cov//2 .. cov//2+len(ALT)-1`` are replaced by their maximum.
* With channel 1 = acceptor, 2 = donor: DS_AG = max(alt - ref) acceptor, DS_AL = max(ref - alt)
  acceptor, DS_DG/DS_DL likewise for donors, each at its first arg-max; DP = that index - ``cov//2``.
* Masking (``-M 1``): a gain at the annotated exon boundary nearest to POS, and a loss anywhere else,
  is multiplied by 0 (so ``-0.00`` can print). Scores print with ``{:.2f}``.

Deliberate differences (documented in README): every ALT whose alleles are not plain A/C/G/T gets an
explicit skip reason; ambiguity codes in the reference are encoded like N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splicescore.io.annotation import GeneIndex, Transcript
from splicescore.core.encoding import one_hot_oriented as encode  # model-orientation one-hot
from splicescore.io.genome import Reference
from splicescore.nn.incremental import AltEdit
from splicescore.nn.predict import predict
from splicescore.core.scorer import RecordPlan, RecordResult, Variant, classify_alt, scorable_alts
from splicescore.nn.tracks import TrackAlt, reference_tracks

CONTEXT = 10_000
INFO_KEY = "SpliceAI"
INFO_DESCRIPTION = (
    "SpliceAIv1.3.1 variant annotation (computed by splicescore {version}). These include delta scores (DS) "
    "and delta positions (DP) for acceptor gain (AG), acceptor loss (AL), donor gain (DG), and donor loss "
    "(DL). Format: ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL"
)
TSV_COLUMNS = ("DS_AG", "DS_AL", "DS_DG", "DS_DL", "DP_AG", "DP_AL", "DP_DG", "DP_DL")
#: TSV columns after TSV_COLUMNS, as SpliceAI-lookup shows them (README, "Per-transcript scores"): the raw
#: and the masked delta scores of the same outputs, and the REF and ALT probability at each DP position
LOOKUP_COLUMNS = (
    "DS_AG_RAW", "DS_AL_RAW", "DS_DG_RAW", "DS_DL_RAW", "DS_AG_MASKED", "DS_AL_MASKED", "DS_DG_MASKED", "DS_DL_MASKED",
    "DS_AG_REF", "DS_AG_ALT", "DS_AL_REF", "DS_AL_ALT", "DS_DG_REF", "DS_DG_ALT", "DS_DL_REF", "DS_DL_ALT",
)
#: --all-nonzero: every position with |ALT - REF| >= 0.01, as pos:delta (pos relative to POS, delta signed)
NONZERO_COLUMNS = ("ACCEPTOR_DELTAS", "DONOR_DELTAS")
NONZERO_MIN = 0.01
TX_INFO_KEY = "SpliceAI_TX"
TX_INFO_DESCRIPTION = (
    "SpliceAIv1.3.1 delta scores per transcript (computed by splicescore {version}; --transcripts {mode}): "
    "one entry per ALT and transcript, each scored with its own boundaries and exons. Priority: MS MANE Select, "
    "MP MANE Plus Clinical, C Ensembl canonical, N other. "
    "Format: ALLELE|SYMBOL|TRANSCRIPT|PRIORITY|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL"
)
TX_TSV_COLUMNS = ("transcript_id", "transcript_priority")


def gene_key(tx: Transcript) -> str:
    """What groups transcripts into one gene (one ``INFO/SpliceAI`` entry per gene)."""
    return tx.gene_id or tx.gene


def window_bounds(pos1: int, distance: int) -> tuple[int, int]:
    """0-based half-open ``[start0, end0)`` of the ``10000 + 2D + 1`` nt input window centred on POS."""
    wid = CONTEXT + 2 * distance + 1
    return pos1 - wid // 2 - 1, pos1 + wid // 2


def masked_windows(seq: str, ref: str, alt: str, pos1: int, tx: Transcript, distance: int) -> tuple[str, str]:
    """REF and ALT input windows (genomic orientation) with positions outside the transcript as N.

    Parameters
    ----------
    seq : str
        The ``wid`` nt reference window from :func:`window_bounds`.
    """
    wid = len(seq)
    half = wid // 2
    pad_left = max(half + (tx.tx_start1 - pos1), 0)
    pad_right = max(half - (tx.tx_end1 - pos1), 0)
    x_ref = "N" * pad_left + seq[pad_left : wid - pad_right] + "N" * pad_right
    x_alt = x_ref[:half] + alt + x_ref[half + len(ref) :]
    return x_ref, x_alt



def align_alt(y_alt: np.ndarray, ref_len: int, alt_len: int, cov: int) -> np.ndarray:
    """Bring ALT outputs ``(cov - ref_len + alt_len, 3)`` onto the ``cov`` REF positions."""
    if ref_len > 1 and alt_len == 1:
        del_len = ref_len - alt_len
        cut = cov // 2 + alt_len
        return np.concatenate([y_alt[:cut], np.zeros((del_len, y_alt.shape[1]), y_alt.dtype), y_alt[cut:]])
    if ref_len == 1 and alt_len > 1:
        mid = cov // 2
        return np.concatenate([y_alt[:mid], y_alt[mid : mid + alt_len].max(axis=0, keepdims=True), y_alt[mid + alt_len :]])
    return y_alt


@dataclass(frozen=True)
class DeltaScores:
    """Unrounded delta scores (float32, as SpliceAI holds them) and positions relative to POS."""

    ds: tuple[np.float32, np.float32, np.float32, np.float32]  # AG, AL, DG, DL
    dp: tuple[int, int, int, int]

    def format(self, alt: str, gene: str) -> str:
        ds = "|".join(f"{v:.2f}" for v in self.ds)
        dp = "|".join(str(v) for v in self.dp)
        return f"{alt}|{gene}|{ds}|{dp}"


def delta_scores(y_ref: np.ndarray, y_alt: np.ndarray, cov: int, boundary_offset: int, mask: bool) -> DeltaScores:
    """DS/DP from aligned outputs ``(cov, 3)`` in genomic orientation.

    ``boundary_offset`` is the signed distance from POS to the nearest annotated exon boundary.
    """
    gain_a = y_alt[:, 1] - y_ref[:, 1]
    loss_a = y_ref[:, 1] - y_alt[:, 1]
    gain_d = y_alt[:, 2] - y_ref[:, 2]
    loss_d = y_ref[:, 2] - y_alt[:, 2]
    idx = [int(np.argmax(v)) for v in (gain_a, loss_a, gain_d, loss_d)]
    rel = [i - cov // 2 for i in idx]
    at_site = [r == boundary_offset for r in rel]
    # gains are masked at the annotated site, losses everywhere else
    masked = [mask and at_site[0], mask and not at_site[1], mask and at_site[2], mask and not at_site[3]]
    ds = tuple(v[i] * np.float32(1 - int(m)) for v, i, m in zip((gain_a, loss_a, gain_d, loss_d), idx, masked))
    return DeltaScores(ds, tuple(rel))


def lookup_fields(y_ref: np.ndarray, y_alt: np.ndarray, cov: int, boundary_offset: int,
                  all_nonzero: bool = False) -> dict:
    """The TSV's SpliceAI-lookup columns from the aligned outputs ``(cov, 3)`` of :func:`delta_scores`:
    raw and masked delta scores (the mask applied to the same outputs), REF and ALT probabilities at
    each delta position and, with ``all_nonzero``, every position whose acceptor or donor
    probability changes by at least 0.01."""
    raw = delta_scores(y_ref, y_alt, cov, boundary_offset, False)
    masked = delta_scores(y_ref, y_alt, cov, boundary_offset, True)
    out = {}
    for name, r, m in zip(("AG", "AL", "DG", "DL"), raw.ds, masked.ds):
        out[f"DS_{name}_RAW"], out[f"DS_{name}_MASKED"] = float(r), float(m)
    for name, dp, channel in zip(("AG", "AL", "DG", "DL"), raw.dp, (1, 1, 2, 2)):
        i = dp + cov // 2
        out[f"DS_{name}_REF"], out[f"DS_{name}_ALT"] = float(y_ref[i, channel]), float(y_alt[i, channel])
    if all_nonzero:
        for column, channel in zip(NONZERO_COLUMNS, (1, 2)):
            delta = y_alt[:, channel] - y_ref[:, channel]
            hits = np.flatnonzero(np.abs(delta) >= np.float32(NONZERO_MIN))
            out[column] = ";".join(f"{i - cov // 2}:{delta[i]:.4f}" for i in hits) or "."
    return out


@dataclass
class _Unit:
    alt: str
    tx: Transcript
    alt_input: int | None  # None: complex allele (dots)
    ref_input: int = -1  # output holding this unit's REF track ...
    ref_offset: int = 0  # ... starting here (genomic orientation)
    same_as: "_Unit | None" = None  # a transcript of the same gene with the same windows: its outputs


class SpliceAIScorer:
    """Plans and finishes SpliceAI scores for VCF records (see module docstring)."""

    name = "spliceai"
    info_key = INFO_KEY
    tsv_columns = TSV_COLUMNS

    def __init__(
        self,
        reference: Reference,
        genes: GeneIndex,
        distance: int = 50,
        mask: bool = False,
        pad_ends: bool = False,
        version: str = "",
        incremental: bool = True,
        multi: bool = False,
        transcripts: str = "auto",
        all_nonzero: bool = False,
    ):
        if not 0 <= distance <= 4999:
            raise ValueError("distance must be in 0..4999")
        self.multi = multi  # several transcripts per gene: INFO/SpliceAI_TX and the TSV's transcript columns
        self.all_nonzero = all_nonzero
        self.tsv_columns = (TX_TSV_COLUMNS if multi else ()) + TSV_COLUMNS + LOOKUP_COLUMNS + (
            NONZERO_COLUMNS if all_nonzero else ())
        if multi:
            self.extra_info = {TX_INFO_KEY: TX_INFO_DESCRIPTION.format(version=version, mode=transcripts)}
        self.reference = reference
        self.genes = genes
        self.distance = distance
        self.mask = mask
        self.pad_ends = pad_ends
        self.incremental = incremental
        self.info_description = INFO_DESCRIPTION.format(version=version)

    @property
    def cov(self) -> int:
        return 2 * self.distance + 1

    def plan(self, variant: Variant) -> RecordPlan:
        """One record on its own: its REF windows are its own inputs."""
        plan = RecordPlan(state=[])

        def add(make) -> int:
            plan.inputs.append(make())
            return len(plan.inputs) - 1

        refs: dict[int, int] = {}

        def want_ref(unit: _Unit, seq: str) -> None:
            if id(unit.tx) not in refs:
                x_ref, _ = masked_windows(seq, variant.ref, variant.ref, variant.pos1, unit.tx, self.distance)
                refs[id(unit.tx)] = add(lambda: encode(x_ref, unit.tx.strand))
            unit.ref_input = refs[id(unit.tx)]

        self._plan(variant, plan, add, want_ref)
        return plan

    def plan_chunk(self, variants: list[Variant]) -> tuple[list[np.ndarray], list[RecordPlan]]:
        """Plan a chunk of records together: REF outputs of clustered variants (same gene) come from
        shared reference tracks. Returned plans index into the returned input list.

        With ``incremental`` the ALT window of an SNV or indel is a
        :class:`~splicescore.nn.tracks.TrackAlt` entry on its REF track (run the inputs with
        :meth:`compute`, not :func:`predict`)."""
        inputs: list = []

        def add(make) -> int:
            # an incremental ALT becomes a TrackAlt below: its full window is never built
            inputs.append(None if self.incremental else make())
            return len(inputs) - 1

        wanted: dict[tuple, list[tuple[Variant, _Unit]]] = {}
        txs: dict[tuple, tuple[Transcript, str]] = {}
        plans = []
        for v in variants:
            plan = RecordPlan(state=[])

            def want_ref(unit: _Unit, seq: str, v=v) -> None:
                # transcripts with the same strand and span have the same REF tracks
                contig = self.reference.resolve(v.chrom)
                key = (contig, unit.tx.strand, unit.tx.tx_start1, unit.tx.tx_end1)
                wanted.setdefault(key, []).append((v, unit))
                txs[key] = (unit.tx, contig)

            self._plan(v, plan, add, want_ref)
            plans.append(plan)
        d = self.distance
        for key, requests in wanted.items():
            tx, contig = txs[key]
            spans = [(p - d, p + d) for p in sorted({v.pos1 for v, _ in requests})]
            for first1, last1 in reference_tracks(spans, CONTEXT):
                idx = len(inputs)
                inputs.append(self._track_input(tx, contig, first1, last1))
                for v, unit in requests:
                    if first1 <= v.pos1 - d and v.pos1 + d <= last1:
                        unit.ref_input, unit.ref_offset = idx, v.pos1 - d - first1
                        if self.incremental:
                            inputs[unit.alt_input] = TrackAlt(idx, self._alt_edit(unit, len(v.ref), len(inputs[idx])))
        return inputs, plans

    def _alt_edit(self, unit: _Unit, ref_len: int, length: int) -> AltEdit:
        """The ALT window of ``unit`` as an edit of its REF track (model orientation)."""
        d = self.distance
        centre = unit.ref_offset + d + CONTEXT // 2  # track index of POS, genomic orientation
        q = centre
        if unit.tx.strand == "-":
            centre = length - 1 - centre
            q = centre - ref_len + 1
        alt = encode(unit.alt, unit.tx.strand)
        return AltEdit(q, ref_len, alt, centre - d, self.cov - ref_len + len(unit.alt))

    def compute(self, net, inputs: list, device, batch_size: int = 64, max_positions: int | None = None,
                run=predict, engine: str = "auto") -> list[np.ndarray]:
        """Outputs for the inputs of :meth:`plan_chunk` through :class:`splicescore.nn.engine.Engine`
        (``auto``: the CPU's per-(track, member) incremental jobs, the batched incremental path on a
        GPU; ``batched``; ``windows``: every entry as its full window through ``run``)."""
        from splicescore.nn.engine import Engine

        return Engine(engine, device, batch_size, max_positions, run=lambda n, xs, bs, dev, mp: run(n, xs, bs, dev, mp))(
            net, inputs)

    def _track_input(self, tx: Transcript, contig: str, first1: int, last1: int) -> np.ndarray:
        """One-hot REF input whose outputs are genomic positions ``first1..last1`` (N outside ``tx``)."""
        half = CONTEXT // 2
        start1, end1 = first1 - half, last1 + half
        seq = self.reference.fetch(contig, start1 - 1, end1)
        keep_lo = min(max(tx.tx_start1 - start1, 0), len(seq))
        keep_hi = max(min(tx.tx_end1 - start1 + 1, len(seq)), keep_lo)
        seq = "N" * keep_lo + seq[keep_lo:keep_hi] + "N" * (len(seq) - keep_hi)
        return encode(seq, tx.strand)

    def _plan(self, variant: Variant, plan: RecordPlan, add, want_ref) -> None:
        alts = scorable_alts(variant, plan)
        if not alts:
            return

        def skip_all(reason: str) -> None:
            plan.skip_all(alts, reason)

        txs = self.genes.at(variant.chrom, variant.pos1)
        if not txs:
            return skip_all("no_gene")
        contig = self.reference.resolve(variant.chrom)
        if contig is None:
            return skip_all("contig_not_in_fasta")
        start0, end0 = window_bounds(variant.pos1, self.distance)
        seq = self.reference.fetch(contig, start0, end0)
        half = len(seq) // 2
        if seq[half : half + len(variant.ref)].upper() != variant.ref.upper():
            return skip_all("ref_mismatch")
        if (start0 < 0 or end0 > self.reference.lengths[contig]) and not self.pad_ends:
            return skip_all("contig_end")
        if len(variant.ref) > 2 * self.distance:
            return skip_all("ref_too_long")
        if classify_alt(variant.ref) == "non_acgt":
            return skip_all("non_acgt")

        half = len(seq) // 2
        shared: dict[tuple, _Unit] = {}
        for alt in alts:
            for tx in txs:
                if len(variant.ref) > 1 and len(alt) > 1:
                    plan.state.append(_Unit(alt, tx, None))
                    continue
                if self.multi:
                    # transcripts of one gene whose windows are the same sequence (same strand, same
                    # N-padding here) share their REF and ALT outputs
                    key = (alt, gene_key(tx), tx.strand, max(half + (tx.tx_start1 - variant.pos1), 0),
                           max(half - (tx.tx_end1 - variant.pos1), 0))
                    first = shared.get(key)
                    if first is not None:
                        plan.state.append(_Unit(alt, tx, first.alt_input, same_as=first))
                        continue
                unit = _Unit(alt, tx, add(lambda alt=alt, tx=tx: encode(
                    masked_windows(seq, variant.ref, alt, variant.pos1, tx, self.distance)[1], tx.strand)))
                want_ref(unit, seq)
                plan.state.append(unit)
                if self.multi:
                    shared[key] = unit

    def finish(self, variant: Variant, plan: RecordPlan, outputs: list[np.ndarray]) -> RecordResult:
        """``outputs[i]`` is the mean probability ``(3, L_i - 10000)`` for input ``i`` (of ``plan.inputs``,
        or of the chunk's inputs when the plan came from :meth:`plan_chunk`)."""
        result = RecordResult(skips=list(plan.skips))
        entries = []
        tx_entries = []
        genes_done: set[tuple[str, str]] = set()  # (alt, gene): the gene's first transcript is its entry
        for unit in plan.state:
            top = True
            if self.multi:
                top = (unit.alt, gene_key(unit.tx)) not in genes_done
                genes_done.add((unit.alt, gene_key(unit.tx)))
            tx_tag = f"{unit.tx.transcript_id or '.'}|{unit.tx.priority or '.'}"
            if unit.alt_input is None:
                if top:
                    entries.append(f"{unit.alt}|{unit.tx.gene}|.|.|.|.|.|.|.|.")
                tx_entries.append(f"{unit.alt}|{unit.tx.gene}|{tx_tag}|.|.|.|.|.|.|.|.")
                result.skips.append((unit.alt, "complex_allele"))
                continue
            src = unit.same_as or unit
            y_ref = outputs[src.ref_input].T
            y_alt = outputs[src.alt_input].T
            if unit.tx.strand == "-":
                y_ref, y_alt = y_ref[::-1], y_alt[::-1]
            y_ref = y_ref[src.ref_offset : src.ref_offset + self.cov]
            y_alt = align_alt(y_alt, len(variant.ref), len(unit.alt), self.cov)
            scores = delta_scores(
                y_ref, y_alt, self.cov, unit.tx.nearest_boundary_offset(variant.pos1), self.mask
            )
            entry = scores.format(unit.alt, unit.tx.gene)
            if top:
                entries.append(entry)
            row = {"gene": unit.tx.gene, "strand": unit.tx.strand, "alt": unit.alt}
            if self.multi:
                alt_, rest = entry.split("|", 1)
                gene_, rest = rest.split("|", 1)
                tx_entries.append(f"{alt_}|{gene_}|{tx_tag}|{rest}")
                row.update(transcript_id=unit.tx.transcript_id or ".", transcript_priority=unit.tx.priority or ".")
            row.update({c: float(v) for c, v in zip(TSV_COLUMNS[:4], scores.ds)})
            row.update(dict(zip(TSV_COLUMNS[4:], scores.dp)))
            row.update(lookup_fields(y_ref, y_alt, self.cov, unit.tx.nearest_boundary_offset(variant.pos1),
                                     self.all_nonzero))
            result.rows.append(row)
        if self.multi and tx_entries:
            result.extra[TX_INFO_KEY] = ",".join(tx_entries)
        # the same ALT can be skipped for one reason only once
        result.skips = list(dict.fromkeys(result.skips))
        result.info = ",".join(entries) if entries else None
        return result
