"""The VCF scoring pipeline: read records -> plan windows -> batched inference -> finish -> write.

Records stream through in chunks (enough records to fill a few batches), so memory does not grow with
the VCF and output order is input order. Every record is written exactly once, scored or not; ALTs a
model cannot score get ``SPLICESCORE_SKIP=model|ALT|reason`` entries.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from splicescore import __version__, models, signals, weights
from splicescore.io.annotation import load_annotation
from splicescore.errors import InputError, ResumeMismatch, SpliceScoreError, UsageError, WeightsError
from splicescore.io.genome import Reference
from splicescore.nn.predict import PRECISIONS, predict, resolve_device
from splicescore.core.scorer import SKIP_REASONS
from splicescore.io.tsv_output import TsvOutput
from splicescore.io.vcf_input import VcfInput
from splicescore.io.vcf_output import VcfOutput, output_type_for
from splicescore.chunks import ChunkJob, finish_results, run_chunks
from splicescore.chunks import make_computer, plan_job as _plan, split_chunks as _chunks
from splicescore.refcheck import LOCATION_REASONS, RefCheck
from splicescore.statistics import Statistics

log = logging.getLogger("splicescore")

SKIP_KEY = "SPLICESCORE_SKIP"


@dataclass
class RunConfig:
    input: str
    output: str
    reference: str
    annotation: str = "grch38"
    models: tuple[str, ...] = (models.DEFAULT,)  # the registry's default model (the CLI's -m default)
    distance: int = 50
    mask: bool = False
    batch_size: int = 64
    chunk_size: int = 128  # records planned together (shares reference tracks; never changes results)
    device: str = "auto"
    threads: int | None = None
    tsv: str | None = None
    output_type: str | None = None
    pad_ends: bool = False
    transcripts: str = "auto"
    transcript_types: tuple[str, ...] | None = None  # --transcript-types (default for `all`: protein_coding, lncRNA)
    resume: bool = False
    region: str | None = None
    shard: tuple[int, int] | None = None  # (i, n), 1-based
    write_index: bool = False
    progress: object = None  # callable(records_done, seconds, total or None, resumed) for a progress display
    #: each model's own options, ``{model: {option: value}}``, as its package declares them (``OPTIONS``;
    #: :mod:`splicescore.model_options`); a missing one has the model's default
    model_options: dict = field(default_factory=dict)
    weights_home: Path | None = None
    devices: tuple[str, ...] | None = None  # one worker per device (overrides ``device``)
    precision: str = "fp32"  # fp32 (exact), bf16 or fp16 (explicit casts, splicescore.nn.precision)
    cache: str | None = None  # score cache file (splicescore.cache): records scored before are not scored again
    engine: str = "auto"  # SpliceAI/Pangolin compute path (splicescore.nn.engine): auto, batched, windows

    def options_for(self, model: str):
        """``model``'s options: its declared defaults with this run's values."""
        from splicescore.model_options import merged

        return merged(self.model_options, model)


class _Annotation:
    """The run's gene annotation, loaded once on first use (shared by every model)."""

    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        self._genes = None

    def __call__(self):
        if self._genes is None:
            builtin = None
            provider = models.gene_table_provider(self.cfg.annotation)
            if provider is not None:  # a built-in gene table (-a grch37/grch38) that a model's weights bring
                name, label = provider.name, provider.gene_tables_label
                if not weights.is_installed(name, self.cfg.weights_home):
                    raise UsageError(
                        f"-a {self.cfg.annotation}: the built-in gene tables come with the {label} weights; "
                        f"run `splicescore weights fetch {name}` or give a GTF/GFF3"
                    )
                builtin = weights.extra_dir(name, self.cfg.weights_home)
                if not (builtin / f"{self.cfg.annotation}.txt").is_file():
                    raise WeightsError(
                        f"-a {self.cfg.annotation}: the cached {label} weights ({builtin.parent}) were imported "
                        f"without the package's gene tables ({self.cfg.annotation}.txt); {provider.gene_tables_hint}"
                        ", or give a GTF/GFF3 with -a"
                    )
            self._genes = load_annotation(self.cfg.annotation, self.cfg.transcripts, builtin,
                                          types=self.cfg.transcript_types, root=self.cfg.weights_home,
                                          log=log.warning)
        return self._genes


def build_models(cfg: RunConfig, reference: Reference, device: torch.device, annotation=None):
    """(scorer, network) per model, networks on ``device`` with their cached weights.

    ``annotation`` (a ``_Annotation`` of ``cfg``) lets a caller that builds scorers again for other
    options (:class:`splicescore.api.Session`) keep one loaded annotation."""
    if not cfg.models:
        raise UsageError("no model given (--model)")
    annotation = annotation or _Annotation(cfg)
    built = []
    for name in dict.fromkeys(cfg.models):
        plugin = models.get(name)
        if not weights.is_installed(name, cfg.weights_home):
            if plugin.download is None:
                raise WeightsError(f"{name}: weights are not installed. {plugin.spec.fetch_hint}")
            log.warning(f"splicescore: {name} weights are not cached yet; fetching them once")
            weights.fetch_weights(name, cfg.weights_home, log=log.warning)
        if not weights.is_verified(name, cfg.weights_home):
            log.warning(weights.UNVERIFIED_WARNING.format(name=name))
        net = weights.load_network(name, cfg.weights_home).to(device)
        built.append((plugin.make_scorer(cfg, reference, annotation), net))
    return built


@dataclass
class Loaded:
    """What :func:`run_vcf` otherwise loads itself: the open reference, the (scorer, network) pairs
    of :func:`build_models` for ``cfg``'s options and one computer (:func:`_computer`) per device.
    A :class:`splicescore.api.Session` keeps one and passes it to every run; it stays open."""

    reference: Reference
    built: list
    computers: list
    device: torch.device


def run_vcf(cfg: RunConfig, loaded: Loaded | None = None) -> Statistics:
    """Score every record of ``cfg.input`` and write ``cfg.output`` (and ``cfg.tsv``).

    ``loaded``: reference and networks loaded before (by a :class:`splicescore.api.Session`),
    used instead of loading them for this run; the caller closes them."""
    started = time.perf_counter()
    stats = Statistics()
    devices = _devices(cfg) if loaded is None else [loaded.device]
    device = devices[0]
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    # exact fp32 on GPUs too: predict and the engine turn TF32 off around every network call
    # (splicescore.nn.predict.exact_math), for every caller, not only this one

    reference = Reference(cfg.reference) if loaded is None else loaded.reference
    vin = cache = None
    try:
        if cfg.cache:
            from splicescore.cache import ScoreCache, scoring_settings

            cache = ScoreCache(cfg.cache, scoring_settings(cfg, device.type), cfg.weights_home)
            stats.cache = cfg.cache
        if loaded is not None:
            built, computers = loaded.built, loaded.computers
        else:
            built = build_models(cfg, reference, device)
            computers = [_computer(cfg, [sc for sc, _ in built], [net for _, net in built], device)]
        for extra in devices[1:]:  # the same networks on every further device
            nets = [weights.load_network(sc.name, cfg.weights_home).to(extra) for sc, _ in built]
            computers.append(_computer(cfg, [sc for sc, _ in built], nets, extra))
        vin = VcfInput(cfg.input)
        if cfg.region or cfg.shard:
            vin.select(cfg.region, cfg.shard)
        for scorer, _ in built:
            vin.add_info(scorer.info_key, scorer.info_description)
            for key, description in scorer.extra_info.items():
                vin.add_info(key, description)
        reasons = "; ".join(f"{k}: {v}" for k, v in SKIP_REASONS.items())
        vin.add_info(SKIP_KEY, f"Alleles splicescore {__version__} did not score, as MODEL|ALLELE|REASON. Reasons: {reasons}")
        header = vin.reader.raw_header  # before any record is read (htslib adds undeclared contigs then)
        records = iter(vin)
        first = _peek(records, cfg.chunk_size)
        _check_contigs(vin, [r.CHROM for r in first], reference, built)
        refcheck = RefCheck(reference, stats, built, vin._name)
        _write_all(cfg, vin, first, records, built, computers, stats, cache, header=header, refcheck=refcheck)
        refcheck.finish()
    finally:
        if cache is not None:
            cache.close()
        if vin is not None:
            vin.close()
        if loaded is None:
            reference.close()
    stats.seconds = time.perf_counter() - started
    return stats


def _devices(cfg: RunConfig) -> list[torch.device]:
    """The devices of the run (``--devices`` or ``--device``), checked against ``--precision``."""
    names = cfg.devices or (cfg.device,)
    try:
        devices = [resolve_device(n.strip()) for n in names]
    except RuntimeError as exc:
        raise UsageError(f"--devices {','.join(names)}: {exc}") from exc
    if len({d.type for d in devices}) > 1:
        raise UsageError(f"--devices {','.join(names)}: mixes device types (their numbers round differently)")
    for d in devices:
        if d.type == "cuda" and not torch.cuda.is_available():
            raise UsageError(f"device {d} requested but CUDA is not available")
        if d.type == "cuda" and (d.index or 0) >= torch.cuda.device_count():
            raise UsageError(f"device {d} requested but this machine has {torch.cuda.device_count()} CUDA device(s)")
    gpus = [torch.device(d.type, d.index or 0) for d in devices if d.type == "cuda"]
    if len(set(gpus)) < len(gpus):
        raise UsageError(f"--devices {','.join(names)}: a GPU is listed twice (one worker per device)")
    if cfg.precision not in PRECISIONS:
        raise UsageError(f"--precision {cfg.precision}: one of {', '.join(PRECISIONS)}")
    return devices


def _peek(records, n: int) -> list:
    out = []
    for rec in records:
        out.append(rec)
        if len(out) >= n:
            break
    return out


def _write_all(cfg: RunConfig, vin: VcfInput, first: list, records, built, computers, stats: Statistics,
               cache=None, header: str | None = None, refcheck=None) -> None:
    started = time.perf_counter()
    if cfg.write_index and (cfg.output == "-" or output_type_for(cfg.output, cfg.output_type) not in ("z", "b")):
        raise UsageError("--write-index needs a bgzipped VCF or BCF output file")
    vout = VcfOutput(cfg.output, vin, cfg.output_type, resume=cfg.resume, header=header)
    tsv = None
    try:
        done = vout.resumed_records
        if cfg.tsv:
            tsv = TsvOutput(cfg.tsv, [c for s, _ in built for c in s.tsv_columns], resume_records=len(done))
        stream = _chain(first, records)
        if done:
            log.info(f"splicescore: resuming after {len(done)} records already in {cfg.output}.partial")
            _skip_done(stream, done, vin)
            stats.records = stats.resumed = len(done)
        # the partial output matches: only now drop its incomplete tail and continue it
        vout.begin()
        if tsv:
            tsv.begin()
        first_index = stats.records

        total = _background_count(vin) if cfg.progress else {}

        def written(job: ChunkJob) -> None:
            _finish(job, built, vout, tsv, stats, cache)
            with signals.deferred():  # the chunk goes on disk whole: TSV rows first, then the records
                if tsv:
                    tsv.end_chunk()
                vout.end_chunk()
            vout.check_reader_alive()
            if cfg.progress:
                cfg.progress(stats.records, time.perf_counter() - started, total.get("records"), stats.resumed)

        plan = lambda chunk, index: _plan(chunk, index, built, cache, refcheck)  # noqa: E731
        run_chunks(_chunks(stream, cfg.chunk_size), first_index, plan, computers, written)
        with signals.deferred():  # the VCF first: a kill between the two leaves a TSV.partial, rewritten by a rerun
            vout.commit(write_index=cfg.write_index)
            if tsv:
                tsv.commit()
    except BaseException as exc:
        # a usage error stops before anything is written, except a partial output that does not fit
        # this input: that one may be what the user wanted to resume, so it stays
        keep = cfg.output != "-" and (not isinstance(exc, UsageError) or isinstance(exc, ResumeMismatch))
        vout.discard(keep_partial=keep)
        if tsv:
            tsv.discard(keep_partial=keep)
        kept = f"partial output kept in {cfg.output}.partial (rerun with --resume to continue)"
        if isinstance(exc, ResumeMismatch):
            exc.note = f"; {cfg.output}.partial left as it was"
        elif keep and os.path.exists(cfg.output + ".partial"):
            if isinstance(exc, SpliceScoreError):
                exc.note = f"; {kept}"  # the error stays one line
            else:
                log.error(f"splicescore: {kept}")
        raise


def _background_count(vin: VcfInput) -> dict:
    """Count the input's records in a daemon thread (for the progress line's ETA); the returned
    dict gets ``records`` once known (never for stdin; a failed count just leaves no ETA)."""
    out: dict = {}

    def count() -> None:
        try:
            out["records"] = vin.count_selected()
        except Exception:  # the scoring pass reports real input errors
            pass

    threading.Thread(target=count, name="splicescore-count", daemon=True).start()
    return out


def _chain(first: list, rest):
    yield from first
    yield from rest


def _skip_done(stream, done: list, vin: VcfInput) -> None:
    """Consume the input records already in the resumed output, checking they are the same."""
    for i, expected in enumerate(done):
        rec = next(stream, None)
        got = None if rec is None else (rec.CHROM, rec.POS, rec.REF, tuple(rec.ALT))
        if got != expected:
            raise ResumeMismatch(
                f"{vin._name}: record {i + 1} differs from the partial output being resumed; "
                "run without --resume to start again"
            )


def _computer(cfg: RunConfig, scorers: list, nets: list, device: torch.device):
    """:func:`splicescore.chunks.make_computer` with this module's ``predict`` for plain windows."""
    return make_computer(cfg, scorers, nets, device, predict)


def _check_contigs(vin: VcfInput, first_chroms: list[str], reference: Reference, built) -> None:
    """Stop before scoring when no contig of the VCF exists in the FASTA or in the annotation."""
    names = list(vin.reader.seqnames or []) or list(dict.fromkeys(first_chroms))
    if not names:
        return
    shown = ", ".join(names[:5]) + ("..." if len(names) > 5 else "")
    if not any(reference.resolve(n) for n in names):
        raise InputError(
            f"none of the VCF's contigs ({shown}) is in the reference FASTA {reference.path} "
            f"(which has {', '.join(list(reference.lengths)[:5])}...)",
            vin._name,
        )
    for scorer, _ in built:
        genes = scorer.genes
        if genes is not None and not any(genes.resolve(n) for n in names):
            raise InputError(
                f"none of the VCF's contigs ({shown}) is in the annotation {genes.source} "
                f"(which has {', '.join(genes.contigs[:5])}...)",
                vin._name,
            )


def _finish(job: ChunkJob, built, vout: VcfOutput, tsv, stats: Statistics, cache=None) -> None:
    """Finish every model's results for one computed chunk, write its records, store new results."""
    per_model, fresh = finish_results(job, built, stats, cache)
    _write_records(job, per_model, vout, tsv, stats)
    if cache:
        for key, result in fresh:
            cache.put(key, result)
        cache.commit()
    hits = f" (cache: {len(job.chunk) * len(built) - len(fresh)} hits, {len(fresh)} new)" if cache else ""
    log.info(f"splicescore: records {job.variants[0].index + 1}-{job.variants[-1].index + 1} in "
             f"{time.perf_counter() - job.started:.2f} s{hits}")


def _write_records(job: ChunkJob, per_model, vout: VcfOutput, tsv, stats: Statistics) -> None:
    for i, rec in enumerate(job.chunk):
        v = job.variants[i]
        stats.records += 1
        stats.alleles += len(v.alts)
        skips = []
        for scorer, results in per_model:
            res = results[i]
            if res.info is not None:
                rec.INFO[scorer.info_key] = res.info
            for key, value in res.extra.items():  # e.g. INFO/SpliceAI_TX (--transcripts with several per gene)
                rec.INFO[key] = value
            skipped_alts = set()
            for alt, reason in res.skips:
                if reason in LOCATION_REASONS and job.ref_mismatch and job.ref_mismatch[i]:
                    reason = job.ref_mismatch[i]  # a REF the FASTA does not have says so, wherever it lies
                skips.append(f"{scorer.name}|{alt}|{reason}")
                stats.skipped[(scorer.name, reason)] += 1
                skipped_alts.add(alt)
            stats.scored[scorer.name] += sum(1 for a in v.alts if a not in skipped_alts)
            if tsv:
                for row in res.rows:
                    tsv.write({"record": v.index + 1, "chrom": v.chrom, "pos": v.pos1, "ref": v.ref, "model": scorer.name,
                               **row})
        if skips:
            rec.INFO[SKIP_KEY] = ",".join(skips)
        vout.write(rec)


