"""``splicescore plot``: one variant's per-position REF and ALT outputs, their deltas, the exon boundaries.

Tracks come from the very windows the VCF scorers build: :func:`compute_tracks` asks the model's scorer
for its plan (``scorer.plan``: windows, strand handling, skip reasons), runs those windows through
:func:`splicescore.nn.predict.predict` and hands the outputs to the pure track functions
(:func:`spliceai_tracks`, :func:`pangolin_tracks`, :func:`sptransformer_tracks`), which orient and
align them exactly as the scorers do before scoring. So the extreme of a plotted delta is the score
``splicescore vcf`` writes for the allele:

* SpliceAI: ``max(Δacceptor) = DS_AG``, ``-min(Δacceptor) = DS_AL`` (donor likewise), positions
  POS-D..POS+D.
* Pangolin: per tissue (heart, liver, brain, testis) P(splice site), the mean over the 3 replicate
  networks; ``Δ`` is the official per-tissue mean of ``alt - ref``; ``max`` over tissues and positions
  is the unmasked gain (``--pangolin-mask 0``), ``min`` the unmasked loss. Positions POS-D ..
  POS+D+len(REF)-1.
* SpTransformer: acceptor and donor probabilities, and the 15 tissue usages with each side's usage set
  to 0 where its max(acceptor, donor) < 0.09 (as its tissue scores count them). Its scores cover
  POS-100..POS+100, so ``D <= 100``; with ``D = 100`` ``max|Δ max(acceptor, donor)|`` is its SCORE
  and ``max|Δ usage|`` its tissue scores.

Indels are aligned onto the REF positions the way each scorer does (deleted positions get ALT 0, an
insertion's positions their maximum). Everything is in genomic orientation (minus-strand genes were
reverse-complemented for the network and flipped back). :func:`draw_figure` writes the figure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from splicescore.io.annotation import Transcript
from splicescore.errors import InputError, OutputError, UsageError
from splicescore.core.scorer import SKIP_REASONS, Variant, read_and_check

#: models ``splicescore plot`` draws (sliding-window splicing models)
PLOT_MODELS = ("spliceai", "pangolin", "sptransformer")
#: figure formats by ``-o`` extension
FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
#: skip reasons that are about the input files rather than the variant as written
_INPUT_REASONS = ("ref_mismatch", "contig_not_in_fasta", "contig_end", "no_gene")


@dataclass(frozen=True)
class Track:
    """One model output over the plotted positions.

    ``ref``, ``alt`` and ``delta`` are ``(L,)`` arrays over :attr:`GeneTracks.positions1`; ``alt`` is
    already aligned onto the REF positions. ``kind`` ``"site"``: a splice-site probability (drawn REF
    vs ALT, and its delta); ``"usage"``: drawn as its delta only (SpTransformer tissue usages).
    """

    name: str
    ref: np.ndarray
    alt: np.ndarray
    delta: np.ndarray
    kind: str = "site"


def make_track(name: str, ref: np.ndarray, alt: np.ndarray, kind: str = "site") -> Track:
    """A :class:`Track` with ``delta = alt - ref`` (in the arrays' own dtype, as the scorers subtract)."""
    ref, alt = np.ascontiguousarray(ref), np.ascontiguousarray(alt)
    return Track(name, ref, alt, alt - ref, kind)


@dataclass(frozen=True)
class GeneTracks:
    """One model's tracks for one allele and one gene (everything 1-based, genomic orientation).

    Attributes
    ----------
    positions1 : np.ndarray
        ``(L,)`` int64, ``pos1 - D .. pos1 - D + L - 1``.
    tracks : tuple of Track
        Each with ``(L,)`` arrays.
    boundaries1 : tuple of int
        The gene's annotated exon starts and ends (first and last exonic base) inside
        ``positions1``.
    """

    model: str
    chrom: str
    pos1: int
    ref: str
    alt: str
    gene: str
    strand: str
    positions1: np.ndarray
    tracks: tuple[Track, ...]
    boundaries1: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"{self.chrom}:{self.pos1}:{self.ref}:{self.alt}"

    def site_tracks(self) -> list[Track]:
        return [t for t in self.tracks if t.kind == "site"]

    def usage_tracks(self) -> list[Track]:
        return [t for t in self.tracks if t.kind == "usage"]


# --------------------------------------------------------------------------- parsing and checks (pure)


def parse_variant(text: str) -> Variant:
    """``CHROM:POS:REF:ALT`` (POS 1-based, one ALT) -> :class:`Variant` with upper-case alleles.

    Raises
    ------
    UsageError
        When the text is not of that form.
    """
    parts = text.strip().split(":")
    if len(parts) != 4 or not all(parts):
        raise UsageError(f"variant {text!r}: expected CHROM:POS:REF:ALT, e.g. chr17:43045792:C:T")
    chrom, pos, ref, alt = parts
    if not pos.isdigit() or int(pos) < 1:
        raise UsageError(f"variant {text!r}: POS must be a positive integer (1-based), not {pos!r}")
    if "," in alt:
        raise UsageError(f"variant {text!r}: give one ALT allele (plot one at a time)")
    return Variant(chrom, int(pos), ref.upper(), (alt.upper(),))


def figure_format(path: str) -> str:
    """Matplotlib format name for an output path, from its extension (``.png``, ``.pdf``, ``.svg``)."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UsageError(f"-o {path}: the figure format comes from the extension: .png, .pdf or .svg")
    return fmt


def check_distance(model: str, distance: int) -> None:
    """SpTransformer scores POS-100..POS+100 only; the others take SpliceAI's 0..4999."""
    limit = 100 if model == "sptransformer" else 4999
    if not 0 <= distance <= limit:
        raise UsageError(f"-D {distance}: {model} plots positions within {limit} nt of the variant (0..{limit})")


def _unknown_model(model: str) -> UsageError:
    return UsageError(f"splicescore plot draws {', '.join(PLOT_MODELS)}; not {model!r}")


def skip_error(model: str, variant: Variant, reason: str, detail: str = "") -> Exception:
    """The error for a variant the model's scorer would skip (:data:`SKIP_REASONS`)."""
    label = f"{variant.chrom}:{variant.pos1}:{variant.ref}:{variant.alts[0]}"
    cls = InputError if reason in _INPUT_REASONS else UsageError
    return cls(f"{model} cannot score {label}: {SKIP_REASONS.get(reason, reason)}{detail}")


# --------------------------------------------------------------------------- tracks from outputs (pure)


def spliceai_tracks(ref_out: np.ndarray, alt_out: np.ndarray, strand: str, ref_len: int, alt_len: int,
                    distance: int) -> list[Track]:
    """Acceptor and donor tracks of SpliceAI, positions POS-D..POS+D.

    Parameters
    ----------
    ref_out : np.ndarray
        ``(3, 2D + 1)`` mean softmax of the REF window (model orientation; channels neither,
        acceptor, donor).
    alt_out : np.ndarray
        ``(3, 2D + 1 - ref_len + alt_len)`` for the ALT window.
    strand : str
        The gene's strand (``-``: outputs are reversed back to genomic order).
    ref_len, alt_len : int
    distance : int

    Returns
    -------
    list of Track
        ``acceptor``, ``donor``, each ``(2D + 1,)`` float32.
    """
    from splicescore.models.spliceai.official import align_alt

    genomic = [np.asarray(y).T[::-1] if strand == "-" else np.asarray(y).T for y in (ref_out, alt_out)]
    y_alt = align_alt(genomic[1], ref_len, alt_len, 2 * distance + 1)
    return [make_track(name, genomic[0][:, ch], y_alt[:, ch]) for ch, name in ((1, "acceptor"), (2, "donor"))]


def pangolin_tracks(ref_out: np.ndarray, alt_out: np.ndarray, strand: str, distance: int) -> list[Track]:
    """Per-tissue P(splice site) tracks of Pangolin, positions POS-d..POS+d+len(REF)-1.

    Parameters
    ----------
    ref_out, alt_out : np.ndarray
        ``(3 replicates, 4 tissues, L)`` network outputs in model orientation
        (``L = 2d + len(REF)`` resp. ``2d + len(ALT)``).
    strand : str
    distance : int
        Pangolin's ``d``.

    Returns
    -------
    list of Track
        One per tissue (heart, liver, brain, testis), ``(2d + len(REF),)``: REF and aligned ALT
        averaged over the replicates; ``delta`` is the official per-tissue mean of ``alt - ref``
        (:func:`~splicescore.models.pangolin.official.per_tissue_delta`).
    """
    from splicescore.models.pangolin.network import TISSUES
    from splicescore.models.pangolin import official as ps

    ref, alt = ps.to_genomic(np.asarray(ref_out), strand), ps.to_genomic(np.asarray(alt_out), strand)
    delta = ps.per_tissue_delta(ref, alt, distance)
    alt_mean = ps.align_alt_to_ref(alt, ref.shape[-1], distance).mean(axis=0)
    ref_mean = ref.mean(axis=0)
    return [Track(name, ref_mean[t], alt_mean[t], delta[t]) for t, name in enumerate(TISSUES)]


def sptransformer_tracks(ref_out: np.ndarray, alt_out: np.ndarray, strand: str, ref_len: int, alt_len: int,
                         distance: int) -> list[Track]:
    """SpTransformer tracks over POS-D..POS+D (``D <= 100``).

    Parameters
    ----------
    ref_out, alt_out : np.ndarray
        ``(18, T)`` network outputs in model orientation for the scorer's REF and ALT windows.
    strand : str
    ref_len, alt_len : int
    distance : int

    Returns
    -------
    list of Track
        ``acceptor`` and ``donor`` (kind ``site``), then the 15 tissue usages (kind ``usage``), each
        side's usage zeroed where its max(acceptor, donor) is below 0.09, as the tissue scores use them.
    """
    from splicescore.models.sptransformer.scorer import FLANK, aligned_outputs
    from splicescore.models.sptransformer.official import SPLICE_MASK_THRESHOLD, TISSUE_NAMES, splice_probability

    y_ref, y_alt = aligned_outputs(np.asarray(ref_out), np.asarray(alt_out), strand, ref_len, alt_len)
    keep = slice(FLANK - distance, FLANK + distance + 1)
    out = [make_track(name, y_ref[ch, keep], y_alt[ch, keep]) for ch, name in ((1, "acceptor"), (2, "donor"))]
    usage = [y[3:] * (splice_probability(y) >= SPLICE_MASK_THRESHOLD)[None, :] for y in (y_ref, y_alt)]
    out += [make_track(name, usage[0][t, keep], usage[1][t, keep], "usage") for t, name in enumerate(TISSUE_NAMES)]
    return out


def exon_boundaries_in(tx: Transcript, first1: int, last1: int) -> tuple[int, ...]:
    """The transcript's exon starts and ends (1-based) within ``[first1, last1]``, ascending."""
    b = tx.exon_boundaries1
    return tuple(int(x) for x in b[(b >= first1) & (b <= last1)])


@dataclass(frozen=True)
class _Job:
    """One gene to plot: its transcript and the plan's REF and ALT input indices."""

    tx: Transcript
    ref_input: int
    alt_input: int


def plan_jobs(model: str, variant: Variant, state) -> list[_Job]:
    """The genes of a scorer's plan (``plan.state`` of :meth:`scorer.plan` for one ALT), in the order
    the scorer writes them."""
    if model == "pangolin":
        _, strands = state
        alt = variant.alts[0]
        return [_Job(tx, unit.ref_input, unit.alt_inputs[alt]) for unit in strands for tx in unit.genes]
    jobs = []
    for unit in state:
        if unit.alt_input is None:  # SpliceAI: REF and ALT both longer than 1 nt
            raise skip_error(model, variant, "complex_allele")
        jobs.append(_Job(unit.tx, unit.ref_input, unit.alt_input))
    return jobs


def select_genes(jobs: list[_Job], gene: str | None) -> list[_Job]:
    """``jobs`` of the gene named ``gene`` (its symbol or gene_id), or all of them for ``None``."""
    if gene is None:
        return jobs
    chosen = [j for j in jobs if gene in (j.tx.gene, j.tx.gene_id)]
    if not chosen:
        names = ", ".join(dict.fromkeys(j.tx.gene for j in jobs))
        raise UsageError(f"--gene {gene}: not a gene at the variant (genes there: {names})")
    return chosen


def gene_tracks(model: str, variant: Variant, job: _Job, outputs: dict[int, np.ndarray],
                distance: int) -> GeneTracks:
    """Tracks of one gene from the network outputs of its plan inputs (``outputs[input index]``)."""
    ref_out, alt_out = outputs[job.ref_input], outputs[job.alt_input]
    ref, alt, strand = variant.ref, variant.alts[0], job.tx.strand
    if model == "spliceai":
        tracks = spliceai_tracks(ref_out, alt_out, strand, len(ref), len(alt), distance)
    elif model == "pangolin":
        tracks = pangolin_tracks(ref_out, alt_out, strand, distance)
    elif model == "sptransformer":
        tracks = sptransformer_tracks(ref_out, alt_out, strand, len(ref), len(alt), distance)
    else:
        raise _unknown_model(model)
    positions = variant.pos1 - distance + np.arange(len(tracks[0].ref), dtype=np.int64)
    return GeneTracks(
        model=model, chrom=variant.chrom, pos1=variant.pos1, ref=ref, alt=alt, gene=job.tx.gene,
        strand=strand, positions1=positions, tracks=tuple(tracks),
        boundaries1=exon_boundaries_in(job.tx, int(positions[0]), int(positions[-1])),
    )


def extremes(gt: GeneTracks, track: Track) -> tuple[float, int, float, int]:
    """``(max delta, its offset from POS, min delta, its offset)``, first position on ties."""
    hi, lo = int(np.argmax(track.delta)), int(np.argmin(track.delta))
    return (float(track.delta[hi]), int(gt.positions1[hi]) - gt.pos1,
            float(track.delta[lo]), int(gt.positions1[lo]) - gt.pos1)


def summary(gt: GeneTracks) -> str:
    """One line: the largest gain and loss of every site track, with offsets from POS."""
    parts = []
    for t in gt.site_tracks():
        hi, hi_at, lo, lo_at = extremes(gt, t)
        parts.append(f"{t.name} {hi:+.2f} at {hi_at:+d}, {lo:+.2f} at {lo_at:+d}")
    return f"{gt.gene} ({gt.strand}): " + "; ".join(parts)


# --------------------------------------------------------------------------- reading, network (I/O)


def compute_tracks(variant: Variant, model: str, reference: str, annotation: str = "grch38", distance: int = 50,
                   gene: str | None = None, device: str = "auto", weights_home: Path | None = None
                   ) -> list[GeneTracks]:
    """Per-position tracks of ``variant`` (one ALT) for every gene the model's scorer scores it in.

    Parameters
    ----------
    variant : Variant
        ``alts`` holds the one ALT to plot.
    model : str
        One of :data:`PLOT_MODELS`.
    reference : str
        FASTA path.
    annotation : str
        As ``splicescore vcf -a``: ``grch37``/``grch38``, a SpliceAI gene table or a GTF/GFF3.
    distance : int
        ``D``: positions POS-D..POS+D (Pangolin: to POS+D+len(REF)-1).
    gene : str, optional
        Only this gene (symbol or gene_id); default every gene at the variant.
    device : str
    weights_home : Path, optional
        Weight cache (default ``$SPLICESCORE_HOME``).

    Returns
    -------
    list of GeneTracks
        One per gene, in the order the scorer writes them.

    Raises
    ------
    UsageError, InputError, WeightsError
        Variant or options the model cannot score, a contig missing from the FASTA, REF differing
        from the FASTA, no gene at the variant, weights missing.
    """

    from splicescore.io.genome import Reference
    from splicescore.pipeline import RunConfig, build_models
    from splicescore.nn.predict import resolve_device

    if model not in PLOT_MODELS:
        raise _unknown_model(model)
    check_distance(model, distance)
    dev = resolve_device(device)
    ref = Reference(reference)
    try:
        check_variant(ref, variant, model)
        cfg = RunConfig(input="-", output="-", reference=reference, annotation=annotation, models=(model,),
                        distance=distance, device=device, weights_home=weights_home)
        [(scorer, net)] = build_models(cfg, ref, dev)
        return tracks_from(scorer, net, variant, model, distance, gene, dev)
    finally:
        ref.close()


def check_variant(ref, variant: Variant, model: str) -> None:
    """Raise the :func:`skip_error` for a contig missing from the open FASTA ``ref`` or a REF that
    differs from it."""
    contig = ref.resolve(variant.chrom)
    if contig is None:
        shown = ", ".join(list(ref.lengths)[:5]) + ("..." if len(ref.lengths) > 5 else "")
        raise skip_error(model, variant, "contig_not_in_fasta", f" ({ref.path} has {shown})")
    end1 = variant.pos1 + len(variant.ref) - 1
    seq, reason = read_and_check(ref, contig, variant, variant.pos1, end1, len(variant.ref), True)
    if reason is not None:
        raise skip_error(model, variant, reason, f" (the FASTA has {seq} at {contig}:{variant.pos1})")


def tracks_from(scorer, net, variant: Variant, model: str, distance: int, gene: str | None, device
                ) -> list[GeneTracks]:
    """:func:`compute_tracks` with the model's scorer (built for ``distance``) and network already
    loaded (:class:`splicescore.api.Session` keeps them); the variant was checked (:func:`check_variant`)."""
    from splicescore.nn.predict import predict

    plan = scorer.plan(variant)
    for _, reason in plan.skips:
        detail = f" (annotation {scorer.genes.source})" if reason == "no_gene" else ""
        raise skip_error(model, variant, reason, detail)
    jobs = select_genes(plan_jobs(model, variant, plan.state), gene)
    wanted = sorted({i for j in jobs for i in (j.ref_input, j.alt_input)})
    outputs = dict(zip(wanted, predict(net, [plan.inputs[i] for i in wanted], device=device)))
    return [gene_tracks(model, variant, j, outputs, distance) for j in jobs]


# --------------------------------------------------------------------------- figure


_REF_STYLE = dict(color="0.25", lw=1.2, label="REF")
_ALT_STYLE = dict(color="tab:red", lw=1.2, label="ALT")
#: delta line colours (no grey or red: those are REF and ALT)
_DELTA_COLOURS = ("tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:olive", "tab:cyan", "tab:pink",
                  "tab:orange")


#: smallest half-height of a delta panel, so that noise of 1e-6 is not drawn as a change
_MIN_DELTA_SPAN = 0.1


def _delta_limits(ax, tracks: Sequence[Track]) -> None:
    span = max([_MIN_DELTA_SPAN] + [float(np.abs(t.delta).max()) * 1.1 for t in tracks])
    ax.set_ylim(-span, span)


def _panel_rows(gt: GeneTracks) -> int:
    return len(gt.site_tracks()) + 1 + (1 if gt.usage_tracks() else 0)


def _mark(ax, gt: GeneTracks, legend: bool) -> None:
    """Exon boundaries (dotted) and the REF span of the variant (shaded) on one panel."""
    for i, b in enumerate(gt.boundaries1):
        ax.axvline(b, color="tab:blue", ls=":", lw=1, label="exon boundary" if legend and i == 0 else None)
    ax.axvspan(gt.pos1 - 0.5, gt.pos1 + len(gt.ref) - 0.5, color="tab:orange", alpha=0.25,
               label="variant" if legend else None)


def _draw_gene(fig, grid, column: int, gt: GeneTracks) -> None:
    axes = []
    x = gt.positions1
    for row, t in enumerate(gt.site_tracks()):
        ax = fig.add_subplot(grid[row, column], sharex=axes[0] if axes else None)
        ax.plot(x, t.ref, **_REF_STYLE)
        ax.plot(x, t.alt, **_ALT_STYLE)
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel(f"P({t.name})" if gt.model != "pangolin" else f"P(splice)\n{t.name}", fontsize=8)
        axes.append(ax)
    ax = fig.add_subplot(grid[len(axes), column], sharex=axes[0])
    ax.axhline(0, color="0.6", lw=0.8)
    for t, colour in zip(gt.site_tracks(), _DELTA_COLOURS):
        hi, hi_at, lo, lo_at = extremes(gt, t)
        ax.plot(x, t.delta, lw=1.2, color=colour, label=f"{t.name}: max {hi:+.2f} at {hi_at:+d}, min {lo:+.2f} at {lo_at:+d}")
    _delta_limits(ax, gt.site_tracks())
    ax.set_ylabel("Δ (ALT − REF)", fontsize=8)
    ax.legend(fontsize=6, loc="lower left", frameon=False)
    axes.append(ax)
    if gt.usage_tracks():
        ax = fig.add_subplot(grid[len(axes), column], sharex=axes[0])
        ax.axhline(0, color="0.6", lw=0.8)
        for t in gt.usage_tracks():
            ax.plot(x, t.delta, lw=0.9, label=t.name)
        _delta_limits(ax, gt.usage_tracks())
        ax.set_ylabel("Δ tissue usage\n(splice P ≥ 0.09)", fontsize=8)
        ax.legend(fontsize=5, ncol=3, loc="lower left", frameon=False)
        axes.append(ax)
    for i, ax in enumerate(axes):
        _mark(ax, gt, legend=i == 0)
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(axis="x", useOffset=False, style="plain")
        if i < len(axes) - 1:
            ax.tick_params(labelbottom=False)
    axes[0].legend(fontsize=6, loc="upper left", ncol=4, frameon=False)
    direction = "5'→3' left to right" if gt.strand == "+" else "5'→3' right to left"
    axes[0].set_title(f"{gt.gene} ({gt.strand} strand, {direction})", fontsize=9)
    axes[-1].set_xlabel(f"{gt.chrom} position (1-based)", fontsize=8)
    axes[-1].set_xlim(x[0] - 0.5, x[-1] + 0.5)


def draw_figure(genes: Sequence[GeneTracks], path: str, dpi: int = 150) -> None:
    """Write one figure: a column per gene, a REF-vs-ALT panel per site track, a delta panel (and, for
    SpTransformer, a tissue-usage delta panel), exon boundaries and the variant marked on each.

    Parameters
    ----------
    genes : sequence of GeneTracks
        At least one; all of one variant and model.
    path : str
        ``.png``, ``.pdf`` or ``.svg`` (:func:`figure_format`). Written through a temporary file in
        the same folder, so a failure leaves no partial figure.

    Raises
    ------
    UsageError
        Unknown extension; OutputError: the file cannot be written.
    """
    fmt = figure_format(path)
    fig = _figure(genes)
    tmp = f"{path}.partial"
    try:
        fig.savefig(tmp, format=fmt, dpi=dpi)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(f"{path}: cannot write the figure ({exc.strerror or exc})") from exc


def _figure(genes: Sequence[GeneTracks]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not genes:
        raise UsageError("nothing to plot")
    rows = max(_panel_rows(g) for g in genes)
    fig = Figure(figsize=(6.5 * len(genes), 1.7 * rows + 0.9), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(rows, len(genes))
    for column, gt in enumerate(genes):
        _draw_gene(fig, grid, column, gt)
    first = genes[0]
    fig.suptitle(f"{first.model}  {first.label}", fontsize=10)
    return fig


def figure_bytes(genes: Sequence[GeneTracks], fmt: str = "svg", dpi: int = 150) -> bytes:
    """The :func:`draw_figure` figure as bytes (``svg``, ``png`` or ``pdf``), written nowhere."""
    import io

    if fmt not in FORMATS.values():
        raise UsageError(f"figure format {fmt!r}: one of {', '.join(FORMATS.values())}")
    buf = io.BytesIO()
    _figure(genes).savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()
