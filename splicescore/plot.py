"""``splicescore plot``: one variant's per-position REF and ALT outputs, their deltas, the exon boundaries.

Tracks come from the very windows the VCF scorers build: :func:`variant_tracks` asks the model's scorer
for its plan (``scorer.plan``: windows, strand handling, skip reasons), runs those windows through the
engine (:class:`splicescore.nn.engine.Engine`, plain windows) and takes the scorer's
``aligned_outputs`` (REF and ALT outputs oriented and aligned on the REF positions exactly as it scores
them); the track functions only pick channels. So the extreme of a plotted delta is the score
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

Indels are aligned onto the REF positions by the scorers (deleted positions get ALT 0, an insertion's
positions their maximum). Everything is in genomic orientation. :mod:`splicescore.figure` draws the figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from splicescore.io.annotation import Transcript
from splicescore.errors import InputError, UsageError
from splicescore.core.outputs import AlignedOutputs, Track
from splicescore.core.scorer import SKIP_REASONS, Variant, read_and_check

def _plot_models() -> tuple[str, ...]:
    from splicescore import models

    return tuple(n for n in models.available() if models.get(n).plot_max_distance is not None)


#: models ``splicescore plot`` draws: those whose registry entry has a ``plot_max_distance`` (the sliding
#: splicing models; their scorers give ``aligned_outputs`` and ``plot_tracks``)
PLOT_MODELS = _plot_models()
#: figure formats by ``-o`` extension
FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
#: skip reasons that are about the input files rather than the variant as written
_INPUT_REASONS = ("ref_mismatch", "contig_not_in_fasta", "contig_end", "no_gene")


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
    """``-D`` within the model's ``plot_max_distance`` (SpTransformer scores POS-100..POS+100 only)."""
    from splicescore import models

    if model not in PLOT_MODELS:
        raise _unknown_model(model)
    limit = models.get(model).plot_max_distance
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


def exon_boundaries_in(tx: Transcript, first1: int, last1: int) -> tuple[int, ...]:
    """The transcript's exon starts and ends (1-based) within ``[first1, last1]``, ascending."""
    b = tx.exon_boundaries1
    return tuple(int(x) for x in b[(b >= first1) & (b <= last1)])


def select_genes(aligned: list[AlignedOutputs], gene: str | None) -> list[AlignedOutputs]:
    """The aligned outputs of the gene named ``gene`` (its symbol or gene_id), or all of them for ``None``."""
    if gene is None:
        return aligned
    chosen = [a for a in aligned if gene in (a.transcript.gene, a.transcript.gene_id)]
    if not chosen:
        names = ", ".join(dict.fromkeys(a.transcript.gene for a in aligned))
        raise UsageError(f"--gene {gene}: not a gene at the variant (genes there: {names})")
    return chosen


def gene_tracks(scorer, variant: Variant, aligned: AlignedOutputs, distance: int) -> GeneTracks:
    """Tracks of one gene from the scorer's aligned outputs of the allele in it."""
    tracks = scorer.plot_tracks(aligned, distance)
    model = scorer.name
    positions = variant.pos1 - distance + np.arange(len(tracks[0].ref), dtype=np.int64)
    tx = aligned.transcript
    return GeneTracks(
        model=model, chrom=variant.chrom, pos1=variant.pos1, ref=variant.ref, alt=aligned.alt, gene=tx.gene,
        strand=aligned.strand, positions1=positions, tracks=tuple(tracks),
        boundaries1=exon_boundaries_in(tx, int(positions[0]), int(positions[-1])),
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


def variant_tracks(variant: Variant, model: str, reference: str, annotation: str = "grch38", distance: int = 50,
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
    """:func:`variant_tracks` with the model's scorer (built for ``distance``) and network already
    loaded (:class:`splicescore.api.Session` keeps them); the variant was checked (:func:`check_variant`)."""
    from splicescore.nn import predict
    from splicescore.nn.engine import Engine

    plan = scorer.plan(variant)
    for _, reason in plan.skips:
        detail = f" (annotation {scorer.genes.source})" if reason == "no_gene" else ""
        raise skip_error(model, variant, reason, detail)
    engine = Engine("windows", device, run=lambda net, xs, bs, dev, mp: predict.predict(net, xs, device=dev))
    outputs = engine(net, plan.inputs) if plan.inputs else []
    aligned = scorer.aligned_outputs(variant, plan, outputs)
    if not aligned:  # SpliceAI: REF and ALT both longer than 1 nt
        raise skip_error(model, variant, "complex_allele")
    return [gene_tracks(scorer, variant, a, distance) for a in select_genes(aligned, gene)]




def draw_figure(genes, path: str, dpi: int = 150) -> None:
    """:func:`splicescore.figure.draw_figure` (matplotlib is imported only when drawing)."""
    from splicescore import figure

    figure.draw_figure(genes, path, dpi)


def figure_bytes(genes, fmt: str = "svg", dpi: int = 150) -> bytes:
    """:func:`splicescore.figure.figure_bytes`."""
    from splicescore import figure

    return figure.figure_bytes(genes, fmt, dpi)
