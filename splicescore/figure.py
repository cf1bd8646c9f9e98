"""The figure of ``splicescore plot``: a column per gene of :class:`~splicescore.plot.GeneTracks`.

REF-vs-ALT panels per site track, a delta panel (and for tissue usages a usage-delta panel), exon
boundaries and the variant marked on each (matplotlib, imported only here).
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from splicescore.errors import OutputError, UsageError
from splicescore.plot import FORMATS, GeneTracks, Track, extremes, figure_format

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
