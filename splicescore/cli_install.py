"""The ``splicescore annotation`` and ``splicescore weights`` commands (installing things, not scoring)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from splicescore.messages import notice

log = logging.getLogger("splicescore")


@click.group("annotation")
def annotation_cmd() -> None:
    """Compiled GTF/GFF3 annotation indexes (loaded in a second instead of parsing the GTF)."""


@annotation_cmd.command("build", epilog="""
\b
Examples:
  splicescore annotation build gencode.v44.annotation.gtf.gz
  splicescore annotation build gencode.v44.annotation.gtf.gz -o /shared/gencode.v44.ssidx.npz
  splicescore vcf -i in.vcf.gz -r GRCh38.fa -a /shared/gencode.v44.ssidx.npz -o out.vcf.gz
""")
@click.argument("gtf", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Write the index here (give it to -a) [default: the cache folder, where -a GTF finds it].")
def annotation_build_cmd(gtf, output):
    """Parse GTF (or GFF3, plain or gzipped) once into a compiled index.

    The index holds every transcript with its exons, tags and type (numpy arrays, no code), its format
    version and the GTF's sha256. `-a GTF` builds it into the cache on first use anyway; this command is
    for a read-only cache or a folder shared by a cluster.
    """
    import time

    from splicescore.io import gtfindex

    started = time.perf_counter()
    path = gtfindex.build(gtf, output)
    notice(f"splicescore: {gtf}: index {path} built in {time.perf_counter() - started:.1f} s")


@click.group("weights", epilog="""
\b
Examples:
  splicescore weights fetch spliceai
  splicescore weights import pangolin Pangolin/pangolin/models/
  splicescore weights list
""")
def weights_cmd():
    """Install and list model weights (converted once into the local cache)."""


@weights_cmd.command("fetch", epilog="""
\b
Example:
  splicescore weights fetch spliceai     # the spliceai==1.3.1 wheel from PyPI, checked and converted once
""")
@click.argument("model")
def weights_fetch(model):
    """Download the official weights and convert them (SpliceAI: the spliceai==1.3.1 wheel from PyPI)."""
    from splicescore import weights

    path = weights.fetch_weights(model, log=notice)
    notice(f"splicescore: {model} weights installed in {path}")


@weights_cmd.command("import", epilog="""
\b
Examples:
  splicescore weights import spliceai spliceai-1.3.1-py2.py3-none-any.whl
  splicescore weights import aparent2 aparent_all_libs_resnet_no_clinvar_wt_ep_5_var_batch_size_inference_mode_no_drop.h5
  splicescore weights import hal HAL_mer_scores.npz
  splicescore weights import sptransformer SpTransformer_pytorch.ckpt
""")
@click.argument("model")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--unverified", is_flag=True,
              help="Also accept files in the official format that are not the published ones (test or "
                   "self-trained weights): taken by file name, or as the model's single file. Marked "
                   "unverified in the cache.")
def weights_import(model, paths, unverified):
    """Convert local copies of the official files (files, folders or the wheel).

    \b
    spliceai: spliceai1.h5 ... spliceai5.h5 (+ grch37.txt, grch38.txt for -a grch37/grch38),
              or the spliceai-1.3.1 wheel itself. Files are recognised by their sha256.
    pangolin: final.{1,2,3}.{0,2,4,6}.3.v2 (12 files, pangolin/models/ of github.com/tkzeng/Pangolin),
              or a folder holding them.
    sptransformer: SpTransformer_pytorch.ckpt (Google Drive link in the official README).
    """
    from splicescore import weights

    path = weights.import_weights(model, [Path(p) for p in paths], unverified=unverified)
    if (weights.read_manifest(model) or {}).get("verified") is False:
        log.warning(f"splicescore: warning: {model} weights installed from files that are NOT the published "
                    "ones (sha256 differs); scores will not be the official model's")
    notice(f"splicescore: {model} weights installed in {path}")


@weights_cmd.command("list", epilog="""
\b
Example:
  SPLICESCORE_HOME=/shared/splicescore splicescore weights list
""")
def weights_list():
    """Show the models and whether their weights are installed."""
    from splicescore import weights

    click.echo(f"cache: {weights.home()}")
    from splicescore import models

    for name in models.available():
        spec = models.get(name).spec
        manifest = weights.read_manifest(name)
        state = "installed" if weights.is_installed(name) else "not installed"
        if manifest and manifest.get("verified") is False and weights.is_installed(name):
            state = "installed (unverified: not the published files)"
        click.echo(f"{name}\t{state}\t{spec.licence}")
        if manifest:
            click.echo(f"\tsource: {manifest.get('source')}\n\tconverted by: {manifest.get('converted_by')}")
