"""Command line: a thin layer over :mod:`splicescore.pipeline` and :mod:`splicescore.weights`.

All errors become exit codes in one place, :func:`main` (see :mod:`splicescore.errors`).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

import click

from splicescore import __version__
from splicescore.errors import SpliceScoreError
from splicescore.messages import NOTICE, notice

log = logging.getLogger("splicescore")

EXAMPLES_VCF = """
\b
Examples:
  splicescore vcf --model spliceai -i in.vcf.gz -r GRCh38.fa -a grch38 -o out.vcf.gz
  bcftools view -r chr17 in.bcf | splicescore vcf -i - -r GRCh38.fa -a grch38 -o - | bgzip > out.vcf.gz
  splicescore vcf -i in.vcf -r GRCh38.fa -a gencode.gtf.gz -D 500 -M 1 -o out.bcf --tsv scores.tsv
  splicescore -v vcf -i new_batch.vcf.gz -r GRCh38.fa -o new_batch.out.vcf.gz --cache scores.sqlite
  splicescore vcf -i cohort.vcf.gz -r GRCh38.fa -o out.vcf.gz --devices cuda:0,cuda:1 --precision bf16
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="splicescore")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("-v", "--verbose", count=True,
              help="More on stderr: -v per-chunk timing and cache hits (INFO), -vv everything (DEBUG).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool, verbose: int) -> None:
    """Score variants with batched PyTorch ports of SpliceAI and other splicing models.

    Same numbers as the official implementations, many variants at a time, CPU or GPU.
    Model weights are converted once into a local cache ($SPLICESCORE_HOME,
    default the user cache folder); see `splicescore weights --help`.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if quiet and verbose:
        raise click.UsageError("-q/--quiet and -v/--verbose exclude each other")
    level = logging.ERROR if quiet else (NOTICE, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(format="%(message)s", level=level, stream=sys.stderr)


@cli.command("vcf", epilog=EXAMPLES_VCF)
@click.option("-i", "--input", "input_", required=True, help="Input VCF, VCF.gz or BCF; '-' for stdin.")
@click.option("-o", "--output", required=True, help="Output VCF/VCF.gz/BCF (by extension or --output-type); '-' for stdout.")
@click.option("-r", "--reference", required=True, type=click.Path(dir_okay=False),
              help="Reference FASTA (plain, or bgzipped with .fai/.gzi; a missing .fai is built).")
@click.option("-a", "--annotation", default="grch38", show_default=True,
              help="grch37 / grch38 (SpliceAI's GENCODE V24 tables), a SpliceAI-format gene table, or a GTF/GFF3(.gz).")
@click.option("-m", "--model", "models", default="spliceai", show_default=True,
              help="Model(s) to run, comma-separated: spliceai, pangolin, sptransformer, aparent2, hal (one input read, one output, one INFO key each).")
@click.option("-D", "--distance", default=50, show_default=True, type=click.IntRange(0, 4999),
              help="Maximum distance between the variant and a gained/lost splice site.")
@click.option("-M", "--mask", default=0, show_default=True, type=click.IntRange(0, 1),
              help="Mask scores of gains at annotated and losses at unannotated sites (SpliceAI -M).")
@click.option("--tsv", "tsv", default=None, help="Also write one TSV row per record x ALT x gene (unrounded scores).")
@click.option("-O", "--output-type", type=click.Choice(["v", "z", "b", "u"]), default=None,
              help="v: VCF, z: bgzipped VCF, b: BCF, u: uncompressed BCF [default: from the extension].")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1),
              help="Windows per forward pass on a GPU (on the CPU each of --threads workers runs one window at a time).")
@click.option("--chunk-size", default=128, show_default=True, type=click.IntRange(1),
              help="Records read and planned together (nearby variants share reference passes); "
                   "bounds memory, never changes the results.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--devices", default=None, metavar="DEV,DEV,...",
              help="One worker per device (e.g. cuda:0,cuda:1); chunks of records alternate between them, "
                   "output order is input order. Overrides --device.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True,
              help="fp32 is exact; bf16/fp16 run convolutions and matrix products in reduced precision with fp32 sums "
                   "(faster on GPUs, scores may differ in the second decimal), on any device.")
@click.option("--engine", type=click.Choice(["auto", "batched", "windows"]), default="auto", show_default=True,
              help="SpliceAI/Pangolin compute path: batched (incremental ALT passes batched per layer, any device), "
                   "windows (every ALT as a full window), auto (CPU in fp32: per-track incremental jobs, "
                   "byte-reproducible; otherwise batched). All are exact in fp32 (the same strings; values to float "
                   "rounding).")
@click.option("--threads", default=None, type=click.IntRange(1), help="CPU threads for inference [default: torch's].")
@click.option("--transcripts", default="auto", show_default=True,
              help="GTF/GFF3 only. One transcript per gene: auto (MANE_Select, else Ensembl_canonical, else longest), "
                   "longest, or a file of transcript IDs. Several per gene, each scored on its own (INFO/SpliceAI_TX, "
                   "INFO/Pangolin_TX, TSV transcript_id): mane (MANE Select + MANE Plus Clinical), canonical "
                   "(Ensembl_canonical), basic (tag basic), all.")
@click.option("--transcript-types", default=None, metavar="TYPES",
              help="GTF/GFF3: keep only transcripts of these comma-separated transcript_type values "
                   "[default: protein_coding,lncRNA for --transcripts all, any type otherwise].")
@click.option("--all-nonzero", is_flag=True,
              help="TSV, SpliceAI: add every position with |delta| >= 0.01 as pos:delta lists (as SpliceAI-lookup shows).")
@click.option("--pad-ends", is_flag=True, help="Score variants near contig ends with N padding instead of skipping them.")
@click.option("--pangolin-mask", default=1, show_default=True, type=click.IntRange(0, 1),
              help="Pangolin: mask gains at annotated and losses at unannotated splice sites (Pangolin -m).")
@click.option("--pangolin-cutoff", default=None, type=float,
              help="Pangolin: report every site with |delta| >= this instead of the largest gain/loss (Pangolin -s).")
@click.option("--pas", default=None, type=click.Path(exists=True, dir_okay=False),
              help="APARENT2: BED of PAS hexamer positions with strand, or a GTF with polyA_signal features.")
@click.option("--hal-ref-psi", default=None, type=click.FloatRange(0, 1),
              help="HAL: reference PSI of the exon, to report dPSI = expit(logit(P) + delta) - P.")
@click.option("--sptransformer-flags", is_flag=True,
              help="SpTransformer: write the official Y/N tissue-specificity flags (95% thresholds) instead of "
                   "the 15 tissue scores in INFO/SpTransformer.")
@click.option("--region", default=None, help="Only records in chr:start-end (or chr); the input must be bgzipped and indexed.")
@click.option("--shard", default=None, metavar="I/N",
              help="Only the I-th of N contiguous blocks of the records (1-based); the shards' outputs, "
                   "concatenated in order, are the unsharded output.")
@click.option("--write-index", is_flag=True, help="Index the output (.tbi for .vcf.gz, .csi for .bcf).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted or killed run from OUTPUT.partial (and TSV.partial): its complete "
                   "records are kept, not rescored, an incomplete tail is dropped.")
@click.option("--cache", default=None, type=click.Path(dir_okay=False),
              help="Score cache (an SQLite file, created when missing): records scored before with the same model, "
                   "weights, options, reference sequence and annotation are taken from it, new ones added. "
                   "Safe to share between concurrent runs (shards).")
def vcf_cmd(input_, output, reference, annotation, models, distance, mask, tsv, output_type, batch_size, chunk_size, device,
            devices, precision, engine, threads, transcripts, transcript_types, all_nonzero, pad_ends, pangolin_mask, pangolin_cutoff, pas, hal_ref_psi, sptransformer_flags,
            region, shard, write_index, resume, cache):
    """Annotate a VCF with splicing scores.

    Every input record is written, in order. SpliceAI scores go in INFO/SpliceAI exactly as
    SpliceAI 1.3.1 writes them (ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL);
    alleles that could not be scored are listed in INFO/SPLICESCORE_SKIP as MODEL|ALLELE|REASON.

    \b
    Crash-safe: the output goes to OUTPUT.partial, complete up to the last finished chunk at
    every moment; a run killed at any moment (kill -9, SIGTERM, Ctrl-C) and rerun with --resume
    writes the bytes of an uninterrupted run. SIGINT, SIGTERM and SIGHUP drop the chunk in flight,
    keep the partial output and exit with 128 + the signal (130, 143, 129); a second signal stops
    at once. Exit codes: 0 ok, 1 internal error, 2 usage, 3 input file, 4 weights, 5 output.
    """
    from splicescore.model_options import split_options
    from splicescore.pipeline import RunConfig, run_vcf

    cfg = RunConfig(
        input=input_, output=output, reference=reference, annotation=annotation,
        models=tuple(m.strip().lower() for m in models.split(",") if m.strip()),
        distance=distance, mask=bool(mask), batch_size=batch_size, chunk_size=chunk_size, device=device,
        devices=tuple(d for d in devices.split(",") if d.strip()) if devices else None, precision=precision,
        threads=threads, tsv=tsv,
        output_type=output_type, pad_ends=pad_ends, transcripts=transcripts, resume=resume,
        transcript_types=tuple(t.strip() for t in transcript_types.split(",") if t.strip()) if transcript_types else None,
        model_options=split_options(dict(
            all_nonzero=all_nonzero, pangolin_mask=bool(pangolin_mask), pangolin_cutoff=pangolin_cutoff, pas=pas,
            hal_ref_psi=hal_ref_psi, sptransformer_flags=sptransformer_flags)),
        region=region, shard=_parse_shard(shard), write_index=write_index,
        cache=cache, engine=engine, progress=_progress_printer() if sys.stderr.isatty() and log.isEnabledFor(NOTICE) else None,
    )
    stats = run_vcf(cfg)
    if cfg.progress:
        click.echo("", err=True)  # end the progress line
    notice(stats.summary())
    return stats


@cli.command("seqs", epilog="""
\b
Examples:
  splicescore seqs --model aparent2 -i pairs.tsv -o scores.tsv
  splicescore seqs --model hal -i donors.tsv -o - --hal-ref-psi 0.6
""")
@click.option("-m", "--model", required=True, help="The model to score with.")
@click.option("-i", "--input", "input_", required=True, help="TSV with columns id, ref, alt (+ model columns); '-' for stdin.")
@click.option("-o", "--output", required=True, help="Output TSV; '-' for stdout.")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1))
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--threads", default=None, type=click.IntRange(1))
@click.option("--hal-ref-psi", default=None, type=click.FloatRange(0, 1),
              help="HAL: reference PSI for every pair (a psi_ref column overrides it per row).")
def seqs_cmd(model, input_, output, batch_size, device, threads, hal_ref_psi):
    """Score designed ref/alt sequence pairs that are already the model's window.

    \b
    Windows: APARENT2 205 nt with the PAS hexamer at 0-based 70..75; HAL 160 nt with the
    last exon base at index 79; SpliceAI 10,000 + 2D + 1 nt, first REF base at the centre
    (unmasked DS_*/DP_*; optional column strand, '-' for reverse-complemented windows);
    Pangolin 10,000 nt of context + the scored positions (optional column d);
    SpTransformer 8,201 nt. Output: one row per pair, id first, then the model's scores.
    """
    from splicescore.seqmode import SeqsConfig, run_seqs

    cfg = SeqsConfig(input=input_, output=output, model=model.strip().lower(), batch_size=batch_size,
                     device=device, threads=threads, options={"hal_ref_psi": hal_ref_psi})
    stats = run_seqs(cfg)
    notice(stats.summary())


@cli.command("plot", epilog="""
\b
Examples:
  splicescore plot chr17:43045792:CTGCCCAAT:C -r GRCh38.fa -a grch38 -o brca1_del.png
  splicescore plot 17:43057136:C:T -r GRCh38.fa -m pangolin -D 100 -o v.pdf
  splicescore plot chr17:43047705:T:C -r GRCh38.fa -a gencode.gtf.gz -m sptransformer --gene BRCA1 -o v.svg
""")
@click.argument("variant")
@click.option("-r", "--reference", required=True, type=click.Path(dir_okay=False),
              help="Reference FASTA (plain, or bgzipped with .fai/.gzi).")
@click.option("-a", "--annotation", default="grch38", show_default=True,
              help="grch37 / grch38 (SpliceAI's GENCODE V24 tables), a SpliceAI-format gene table, or a GTF/GFF3(.gz).")
@click.option("-m", "--model", default="spliceai", show_default=True,
              type=click.Choice(["spliceai", "pangolin", "sptransformer"]), help="The model whose outputs to plot.")
@click.option("-D", "--distance", default=50, show_default=True, type=click.IntRange(0, 4999),
              help="Plot POS-D..POS+D (sptransformer: D <= 100, its scored span).")
@click.option("-o", "--output", required=True, help="Figure file: .png, .pdf or .svg.")
@click.option("--gene", default=None,
              help="Plot only this gene (symbol or gene_id) [default: every gene at the variant, one column each].")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto.")
def plot_cmd(variant, reference, annotation, model, distance, output, gene, device):
    """Plot REF and ALT per-position outputs of one variant, given as CHROM:POS:REF:ALT.

    \b
    One column per gene the model scores the variant in: a REF-vs-ALT panel per track
    (spliceai, sptransformer: acceptor, donor; pangolin: P(splice site) in heart, liver, brain,
    testis), a panel of the deltas (ALT - REF; their extremes are the model's scores, unmasked),
    for sptransformer also the deltas of its 15 tissue usages. Annotated exon boundaries are
    dotted lines, the variant is shaded. Indels are aligned onto the REF positions as the scorers do.
    """
    from splicescore.plot import check_distance, draw_figure, figure_format, parse_variant, summary, variant_tracks

    figure_format(output)
    check_distance(model, distance)
    genes = variant_tracks(parse_variant(variant), model, reference, annotation, distance, gene, device)
    draw_figure(genes, output)
    for gt in genes:
        notice(f"splicescore: {summary(gt)}")
    notice(f"splicescore: wrote {output}")


@cli.command("serve", epilog="""
\b
Examples:
  splicescore serve -r GRCh38.fa -a grch38 --models spliceai,pangolin --cache lookup.sqlite
  curl 'http://127.0.0.1:8080/spliceai/?hg=38&variant=chr17-43045795-C-T&distance=50&mask=0'
  curl 'http://127.0.0.1:8080/score/?variant=chr17:43045795:C:T&models=spliceai,pangolin'
""")
@click.option("-r", "--reference", required=True, type=click.Path(dir_okay=False),
              help="Reference FASTA (plain, or bgzipped with .fai/.gzi) of the build served.")
@click.option("-a", "--annotation", default="grch38", show_default=True,
              help="grch37 / grch38 (SpliceAI's GENCODE V24 tables), a SpliceAI-format gene table, or a GTF/GFF3(.gz).")
@click.option("--hg", default="38", show_default=True, type=click.Choice(["37", "38"]),
              help="The build of -r; requests for another hg are refused (400).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--cache", default=None, type=click.Path(dir_okay=False),
              help="Score cache (SQLite file, as `vcf --cache`): results survive restarts and are shared with `vcf` runs.")
@click.option("-m", "--models", default="auto", show_default=True,
              help="Models to load, comma-separated; auto: every model whose weights are installed (at least spliceai).")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--transcripts", default="auto", show_default=True,
              help="GTF/GFF3 only: auto, longest, or a file of transcript IDs (as `vcf`).")
@click.option("--queue-size", default=256, show_default=True, type=click.IntRange(1),
              help="Requests waiting for the scoring worker; more get 503 (retry later).")
@click.option("--threads", default=None, type=click.IntRange(1), help="CPU threads for inference [default: torch's].")
def serve_cmd(reference, annotation, hg, host, port, cache, models, device, transcripts, queue_size, threads):
    """A local lookup service: JSON API in SpliceAI-lookup's query shape and a web page.

    \b
    /spliceai/ and /pangolin/ take SpliceAI-lookup's parameters (variant, hg, distance,
    mask) and answer its JSON fields; /score/?models=... any loaded model with `vcf`'s
    options; /tracks/ the per-position outputs (SVG figure or JSON); / the web page.
    Models load once; requests never name files. Needs: pip install 'splicescore[serve]'.
    """
    from splicescore import weights
    from splicescore.api import Session
    from splicescore.models import available
    from splicescore.serve import serve

    if models == "auto":
        names = [m for m in available() if weights.is_installed(m)] or ["spliceai"]
    else:
        names = [m.strip().lower() for m in models.split(",") if m.strip()]
    session = Session(reference=reference, annotation=annotation, models=names, device=device, cache=cache,
                      transcripts=transcripts, threads=threads)
    notice(f"splicescore: serving hg{hg} with {', '.join(session.models)} on http://{host}:{port}/")
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning(f"splicescore: warning: --host {host} lets other machines query this server (no authentication)")
    try:
        serve(session, hg, host, port, queue_size)
    finally:
        session.close()


def _parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise click.BadParameter("expected I/N, e.g. 3/10", param_hint="--shard") from None
    if not 1 <= i <= n:
        raise click.BadParameter("I must be between 1 and N", param_hint="--shard")
    return i, n


def _progress_printer():
    """Records done, rate and (once the input's records are counted) ETA on one rewritten stderr
    line (only when stderr is a terminal)."""

    def show(records: int, seconds: float, total: int | None = None, resumed: int = 0) -> None:
        click.echo("\r" + progress_line(records, seconds, total, resumed), err=True, nl=False)

    return show


def progress_line(records: int, seconds: float, total: int | None = None, resumed: int = 0) -> str:
    """``splicescore: 1200/5000 records, 10.5 records/s, ETA 6:02`` (no total: no ETA). ``records``
    counts the ``resumed`` ones (taken from a partial output, not scored in these ``seconds``)."""
    rate = (records - resumed) / seconds if seconds > 0 else 0.0
    if total is None:
        return f"splicescore: {records} records, {rate:.1f} records/s"
    left = max(total - records, 0) / rate if rate > 0 else 0.0
    minutes, secs = divmod(int(left), 60)
    hours, minutes = divmod(minutes, 60)
    eta = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"splicescore: {records}/{total} records, {rate:.1f} records/s, ETA {eta}"


def _add_install_commands() -> None:
    from splicescore.cli_install import annotation_cmd, weights_cmd

    cli.add_command(annotation_cmd)
    cli.add_command(weights_cmd)


_add_install_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every error into one stderr line and an exit code.

    Returns normally (exit code 0) on success; ``run(argv)`` gives the run's statistics instead.
    """
    from splicescore import signals

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    signals.install()  # SIGTERM and SIGHUP stop like Ctrl-C (exit code 128 + signal)
    try:
        result = cli.main(args=argv, prog_name="splicescore", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        code = signals.exit_code_of(exc)
        name = {130: "", 143: " (SIGTERM)", 129: " (SIGHUP)"}.get(code, f" (signal {code - 128})")
        click.echo(f"splicescore: interrupted{name}", err=True)
        sys.exit(code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SpliceScoreError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"splicescore: error: {exc}{getattr(exc, 'note', '')}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # the reader went away (`| head`): end quietly
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        sys.exit(0)
    except Exception as exc:  # a bug
        if debug:
            traceback.print_exc()
        click.echo(f"splicescore: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
                   err=True)
        sys.exit(1)
    finally:
        signals.uninstall()
    if isinstance(result, int):
        sys.exit(result)
