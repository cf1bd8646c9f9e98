"""The VCF scoring pipeline: read records -> plan windows -> batched inference -> finish -> write.

Records stream through in chunks (enough records to fill a few batches), so memory does not grow with
the VCF and output order is input order. Every record is written exactly once, scored or not; ALTs a
model cannot score get ``SPLICESCORE_SKIP=model|ALT|reason`` entries.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from splicescore import __version__, signals, weights
from splicescore.io.annotation import load_annotation
from splicescore.errors import InputError, ResumeMismatch, SpliceScoreError, UsageError, WeightsError
from splicescore.io.genome import Reference
from splicescore.nn.predict import PRECISIONS, clear_stop, predict, request_stop, resolve_device
from splicescore.core.scorer import SKIP_REASONS, Variant
from splicescore.io.vcfio import TsvOutput, VcfInput, VcfOutput, output_type_for

log = logging.getLogger("splicescore")

SKIP_KEY = "SPLICESCORE_SKIP"


@dataclass
class RunConfig:
    input: str
    output: str
    reference: str
    annotation: str = "grch38"
    models: tuple[str, ...] = ("spliceai",)
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
    precision: str = "fp32"  # GPU autocast: fp32 (exact), bf16 or fp16
    cache: str | None = None  # score cache file (splicescore.cache): records scored before are not scored again
    engine: str = "auto"  # SpliceAI/Pangolin compute path (splicescore.nn.engine): auto, batched, windows

    def options_for(self, model: str):
        """``model``'s options: its declared defaults with this run's values."""
        from splicescore.model_options import merged

        return merged(self.model_options, model)


@dataclass
class Statistics:
    """What a run did (returned by :func:`run_vcf`, summarised on stderr by the CLI)."""

    records: int = 0
    resumed: int = 0  # records copied from a partial output (--resume), not scored again
    alleles: int = 0
    scored: Counter = field(default_factory=Counter)  # model -> ALTs scored
    skipped: Counter = field(default_factory=Counter)  # (model, reason) -> ALTs
    windows: int = 0
    seconds: float = 0.0
    cache: str | None = None  # the score cache file, when one was used
    cache_hits: int = 0  # model x record results taken from the cache ...
    cache_misses: int = 0  # ... and computed (then stored)
    ref_checked: int = 0  # records whose REF was compared with the FASTA (contig found)
    ref_mismatches: int = 0  # ... and differed from it (counted apart from the skip reasons)
    warnings: list = field(default_factory=list)  # run-level warnings, repeated in the summary

    def summary(self) -> str:
        lines = [f"splicescore: {self.records} records, {self.alleles} ALT alleles in {self.seconds:.1f} s"]
        if self.resumed:
            lines.append(f"  {self.resumed} records resumed from the partial output")
        for model, n in sorted(self.scored.items()):
            lines.append(f"  {model}: {n} ALTs scored")
        for (model, reason), n in sorted(self.skipped.items()):
            lines.append(f"  {model}: {n} ALTs not scored: {reason}")
        if self.cache:
            lines.append(f"  cache: {self.cache_hits} hits, {self.cache_misses} new ({self.cache})")
        if self.ref_mismatches:
            lines.append(f"  REF differs from the FASTA in {self.ref_mismatches} of {self.ref_checked} records checked")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _variant(rec, index: int) -> Variant:
    alts = tuple(a for a in rec.ALT if a not in (".", ""))
    return Variant(rec.CHROM, rec.POS, rec.REF, alts, index)


class _Annotation:
    """The run's gene annotation, loaded once on first use (shared by every model)."""

    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        self._genes = None

    def __call__(self):
        if self._genes is None:
            builtin = None
            if self.cfg.annotation in ("grch37", "grch38"):
                if not weights.is_installed("spliceai", self.cfg.weights_home):
                    raise UsageError(
                        f"-a {self.cfg.annotation}: the built-in gene tables come with the SpliceAI weights; "
                        "run `splicescore weights fetch spliceai` or give a GTF/GFF3"
                    )
                builtin = weights.extra_dir("spliceai", self.cfg.weights_home)
                if not (builtin / f"{self.cfg.annotation}.txt").is_file():
                    raise WeightsError(
                        f"-a {self.cfg.annotation}: the cached SpliceAI weights ({builtin.parent}) were imported "
                        f"without the package's gene tables ({self.cfg.annotation}.txt); run `splicescore weights "
                        "fetch spliceai`, or `splicescore weights import spliceai` with the spliceai-1.3.1 wheel "
                        "(or with grch37.txt/grch38.txt from its spliceai/annotations/), or give a GTF/GFF3 with -a"
                    )
            self._genes = load_annotation(self.cfg.annotation, self.cfg.transcripts, builtin,
                                          types=self.cfg.transcript_types, root=self.cfg.weights_home,
                                          log=log.warning)
        return self._genes


def build_models(cfg: RunConfig, reference: Reference, device: torch.device, annotation=None):
    """(scorer, network) per model, networks on ``device`` with their cached weights.

    ``annotation`` (a ``_Annotation`` of ``cfg``) lets a caller that builds scorers again for other
    options (:class:`splicescore.api.Session`) keep one loaded annotation."""
    from splicescore import models

    if not cfg.models:
        raise UsageError("no model given (--model)")
    annotation = annotation or _Annotation(cfg)
    built = []
    for name in dict.fromkeys(cfg.models):
        plugin = models.get(name)
        if not weights.is_installed(name, cfg.weights_home):
            if not hasattr(plugin, "download"):
                raise WeightsError(f"{name}: weights are not installed. {plugin.SPEC.fetch_hint}")
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
            for key, description in getattr(scorer, "extra_info", {}).items():
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
    if cfg.precision != "fp32" and devices[0].type == "cpu" and cfg.engine != "batched":
        raise UsageError(f"--precision {cfg.precision} needs a GPU or --engine batched; the CPU path runs exact fp32")
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

        def written(job: _Job) -> None:
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


def _chunks(stream, size: int):
    chunk: list = []
    for rec in stream:
        chunk.append(rec)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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
        genes = getattr(scorer, "genes", None)
        if genes is not None and not any(genes.resolve(n) for n in names):
            raise InputError(
                f"none of the VCF's contigs ({shown}) is in the annotation {genes.source} "
                f"(which has {', '.join(genes.contigs[:5])}...)",
                vin._name,
            )


def _max_positions(cfg: RunConfig, scorer) -> int:
    """Input positions per forward pass of ``scorer``'s network: ``batch_size`` of its windows."""
    return cfg.batch_size * scorer.input_length()


@dataclass
class _ModelWork:
    """One model's share of a chunk: cache keys and stored results, the records left to score, their
    plans and network inputs, and (once computed) the outputs."""

    keys: list
    stored: list
    todo: list
    plans: list
    inputs: list
    outputs: list | None = None


@dataclass
class _Job:
    """A chunk of records on its way: planned (main thread), computed (a device worker), then
    finished and written in input order (main thread)."""

    chunk: list
    variants: list
    work: list  # _ModelWork per model, in ``built`` order
    started: float = 0.0
    ref_mismatch: list | None = None  # per record: ref_mismatch, contig_not_in_fasta or None (RefCheck)


def _plan(chunk: list, first_index: int, built, cache=None, refcheck=None) -> _Job:
    """REF check, cache lookups and plans of every model for one chunk (reads the reference; main thread)."""
    job = _Job(chunk, [_variant(rec, first_index + i) for i, rec in enumerate(chunk)], [], time.perf_counter())
    if refcheck is not None:
        job.ref_mismatch = refcheck(job.variants)
    for scorer, _ in built:
        keys = [cache.key(scorer, v) for v in job.variants] if cache else [None] * len(chunk)
        stored = [cache.get(k) for k in keys] if cache else [None] * len(chunk)
        todo = [v for v, r in zip(job.variants, stored) if r is None]
        inputs, plans = scorer.plan_chunk(todo)  # plans may share inputs across records (reference tracks)
        job.work.append(_ModelWork(keys, stored, todo, plans, inputs))
    return job


def _computer(cfg: RunConfig, scorers: list, nets: list, device: torch.device):
    """``job -> None``: runs every model's network inputs of a job on ``device`` (a device worker;
    ``nets[k]`` is model ``k``'s network on that device) through the one engine
    (:class:`splicescore.nn.engine.Engine`), which picks the path per network and device."""
    from splicescore.nn.engine import Engine

    # the CPU's plain windows are exact fp32 only (reduced precision there: the batched engine's convolutions)
    run = functools.partial(predict, precision=cfg.precision if device.type != "cpu" else "fp32")
    engines = [Engine(getattr(cfg, "engine", "auto"), device, cfg.batch_size, _max_positions(cfg, scorer), cfg.precision,
                      run=lambda net, xs, bs, dev, mp: run(net, xs, bs, dev, mp)) for scorer in scorers]

    def compute(job: _Job) -> None:
        for engine, net, w in zip(engines, nets, job.work):
            w.outputs = engine(net, w.inputs)

    return compute


def run_chunks(chunks, first_index: int, plan, computers: list, written) -> None:
    """Plan, compute and write chunks in input order with one worker per device.

    ``plan(chunk, first_index) -> job`` and ``written(job)`` run in the calling thread (they read
    the reference and write the output); ``computers[k](job)`` in device ``k``'s worker, chunk
    ``i`` on device ``i % len(computers)``. Up to one chunk per device is computed while the next
    one is planned, so window preparation overlaps the device's work; output order never changes.
    """
    workers = [ThreadPoolExecutor(1, thread_name_prefix=f"splicescore-device{k}") for k in range(len(computers))]
    pending: deque = deque()
    clear_stop()
    try:
        for i, chunk in enumerate(chunks):
            job = plan(chunk, first_index)
            first_index += len(chunk)
            pending.append((job, workers[i % len(workers)].submit(computers[i % len(workers)], job)))
            while len(pending) > len(workers):
                job, done = pending.popleft()
                done.result()
                written(job)
        while pending:
            job, done = pending.popleft()
            done.result()
            written(job)
    except BaseException:
        request_stop()  # Ctrl-C or an error: the device workers stop at their next window or job
        raise
    finally:
        for w in workers:
            w.shutdown(wait=True, cancel_futures=True)
        clear_stop()


def _finish(job: _Job, built, vout: VcfOutput, tsv, stats: Statistics, cache=None) -> None:
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


def finish_results(job: _Job, built, stats: Statistics, cache=None) -> tuple[list, list]:
    """Every model's :class:`~splicescore.core.scorer.RecordResult` for the records of one computed
    chunk: ``([(scorer, results in record order)] per model, [(cache key, result)] computed here)``.
    Writes nothing (:func:`_finish` writes the records; :mod:`splicescore.api` returns them)."""
    per_model = []
    fresh = []  # (key, result) of the results computed here, for the cache
    for (scorer, _), w in zip(built, job.work):
        computed = scorer.finish_chunk(w.todo, w.plans, w.outputs)
        stats.windows += len(w.inputs)
        new = iter(computed)
        results = [r if r is not None else next(new) for r in w.stored]
        if cache:
            fresh += [(key, r) for key, r, old in zip(w.keys, results, w.stored) if old is None]
            stats.cache_hits += len(job.variants) - len(w.todo)
            stats.cache_misses += len(w.todo)
            log.debug(f"splicescore: {scorer.name}: {len(job.variants) - len(w.todo)} cached, {len(w.todo)} scored "
                      f"({len(w.inputs)} windows)")
        per_model.append((scorer, results))
    return per_model, fresh


def _write_records(job: _Job, per_model, vout: VcfOutput, tsv, stats: Statistics) -> None:
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


#: Skip reasons about where a variant lies; a record whose REF differs from the FASTA gets
#: ``ref_mismatch`` instead, one whose contig is not in the FASTA ``contig_not_in_fasta`` (its position
#: is probably not what the VCF meant).
LOCATION_REASONS = ("no_gene", "no_pas", "no_donor")


class RefCheck:
    """REF against the FASTA for every record, before any model's checks (one place, cheap: the
    reference is read in large cached regions). Mismatches are counted apart from the skip reasons;
    when they are more than a small fraction (>= MIN_MISMATCHES of the first WINDOW records checked,
    or, in a run that checks fewer, >= 10 % and at least 2), one warning names the fraction, the first
    mismatching record and the likely cause. :meth:`finish` also warns when no record's contig is in
    the FASTA or in the annotation."""

    WINDOW = 200
    MIN_MISMATCHES = 20

    def __init__(self, reference: Reference, stats: Statistics, built=(), source: str = "input"):
        self.reference = reference
        self.stats = stats
        self.source = source
        self.gene_indexes = [(sc.name, sc.genes) for sc, _ in built if getattr(sc, "genes", None) is not None]
        self.first: str | None = None
        self.window_mismatches = 0
        self.warned = False
        self.records = 0
        self.in_fasta = 0
        self.in_annotation = {name: 0 for name, _ in self.gene_indexes}
        self.contigs: dict[str, None] = {}

    def __call__(self, variants) -> list[str | None]:
        out = []
        for v in variants:
            self.records += 1
            if len(self.contigs) < 5:
                self.contigs.setdefault(v.chrom)
            for name, genes in self.gene_indexes:
                if genes.resolve(v.chrom):
                    self.in_annotation[name] += 1
            contig = self.reference.resolve(v.chrom)
            if contig is None or not v.ref:
                out.append("contig_not_in_fasta" if contig is None else None)
                continue
            self.in_fasta += 1
            seq = self.reference.fetch(contig, v.pos1 - 1, v.pos1 - 1 + len(v.ref))
            bad = seq.upper() != v.ref.upper()
            out.append("ref_mismatch" if bad else None)
            self.stats.ref_checked += 1
            if bad:
                self.stats.ref_mismatches += 1
                if self.first is None:
                    self.first = (f"record {v.index + 1} ({v.chrom}:{v.pos1} REF {_short(v.ref)}, "
                                  f"FASTA {_short(seq)})")
            if self.stats.ref_checked <= self.WINDOW:
                self.window_mismatches += bad
                if self.window_mismatches >= self.MIN_MISMATCHES:
                    self._warn()
        return out

    def _warn(self) -> None:
        if self.warned:
            return
        self.warned = True
        n, checked = self.window_mismatches, min(self.stats.ref_checked, self.WINDOW)
        msg = (f"REF differs from the FASTA {self.reference.path} in {n} of the first {checked} records checked "
               f"({100 * n / checked:.0f} %), first at {self.first} in {self.source}: the VCF and the FASTA are "
               "probably different builds or contig namings")
        log.warning(f"splicescore: warning: {msg}")
        self.stats.warnings.append(msg)

    def finish(self) -> None:
        checked = self.stats.ref_checked
        if not self.warned and 0 < checked < self.WINDOW and self.window_mismatches >= max(2, checked / 10):
            self._warn()
        if not self.records:
            return
        shown = ", ".join(self.contigs)
        problems = []
        if not self.in_fasta:
            problems.append(f"no record's contig ({shown}) is in the FASTA {self.reference.path} "
                            f"(which has {', '.join(list(self.reference.lengths)[:5])}...)")
        for name, genes in self.gene_indexes:
            if self.in_fasta and not self.in_annotation[name]:
                problems.append(f"no record's contig ({shown}) is in the annotation {genes.source}")
        for msg in dict.fromkeys(problems):
            msg += ": the VCF, the FASTA and the annotation probably use different builds or contig namings"
            log.warning(f"splicescore: warning: {msg}")
            self.stats.warnings.append(msg)


def _short(seq: str, n: int = 12) -> str:
    return seq if len(seq) <= n else seq[:n] + "..."
