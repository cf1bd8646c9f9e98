"""The Python API: one :class:`Session` holds the reference, the annotation and the networks, and
scores variants through the very pipeline ``splicescore vcf`` runs.

>>> import splicescore
>>> s = splicescore.Session(reference="GRCh38.fa", annotation="grch38", models=["spliceai"])  # doctest: +SKIP
>>> r = s.score("chr17:43045795:C:T", distance=50)                                          # doctest: +SKIP
>>> r.info["spliceai"]          # exactly the INFO/SpliceAI value `splicescore vcf` writes     # doctest: +SKIP
'T|BRCA1|0.00|0.00|0.00|0.00|...'

* :meth:`Session.score` / :meth:`Session.score_many` plan, compute and finish records with the
  pipeline's own functions (``pipeline._plan``, ``pipeline._computer``, ``pipeline.finish_results``,
  ``pipeline.run_chunks``), so every INFO string is the one ``splicescore vcf`` writes for the same
  record and options (the golden tests check both).
* :meth:`Session.score_vcf` *is* ``splicescore vcf``: the same :func:`splicescore.pipeline.run_vcf`
  with the session's loaded reference and networks.
* :meth:`Session.tracks` gives the per-position REF/ALT outputs ``splicescore plot`` draws
  (:mod:`splicescore.plot`), :meth:`Session.score_sequences` what ``splicescore seqs`` writes
  (:mod:`splicescore.seqmode`).

Thread safety: a Session may be shared between threads. Every call holds the session's lock while it
reads the reference or runs the networks, so calls run one at a time (in call order as the lock grants
it); for throughput give :meth:`Session.score_many` many variants at once instead of calling
:meth:`Session.score` from many threads.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from splicescore.errors import UsageError
from splicescore.core.scorer import SKIP_REASONS, RecordResult, Variant

__all__ = ["Session", "VariantResult", "Score", "Skip", "Results", "VariantError", "parse_variant"]

#: the per-call run options that change a model's scorer (each set builds its scorers once; networks are
#: shared); the models' own options (:mod:`splicescore.model_options`) are per-call options too
RUN_SCORER_OPTIONS = ("distance", "mask", "pad_ends")


def _model_option_defaults() -> dict:
    """``{option: default}`` of every model's own options (flat: the names are unique)."""
    from splicescore.model_options import declared

    return {name: default for options in declared().values() for name, default in options.items()}
#: the TSV row field that names an INFO entry's locus, per model (the entry's second field)
_ENTRY_KEY = {"spliceai": "gene", "pangolin": "gene", "sptransformer": "gene", "aparent2": "PAS_POS",
              "hal": "DONOR_POS"}
_PLAIN = ("alt", "gene", "strand")


class VariantError(ValueError):
    """A variant that cannot be scored as written: malformed text, a contig missing from the FASTA,
    a position past the contig's end, or a REF that differs from the FASTA. The message is one line."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Skip:
    """One ALT a model did not score, with the reason ``splicescore vcf`` writes in
    ``INFO/SPLICESCORE_SKIP`` (see :data:`splicescore.core.scorer.SKIP_REASONS`)."""

    model: str
    alt: str
    reason: str

    @property
    def description(self) -> str:
        return SKIP_REASONS.get(self.reason, self.reason)


@dataclass(frozen=True)
class Score:
    """One model's result for one ALT and one gene (SpliceAI, Pangolin, SpTransformer), PAS
    (APARENT2) or donor (HAL).

    Attributes
    ----------
    model, alt : str
    gene : str or None
        The entry's gene as the INFO entry names it (Pangolin: the gene_id).
    strand : str or None
    info : str
        The INFO entry exactly as ``splicescore vcf`` writes it, e.g.
        ``T|BRCA1|0.00|0.01|0.00|0.00|-2|9|-2|9`` for SpliceAI.
    values : dict
        The unrounded scores of ``splicescore vcf --tsv`` (SpliceAI: ``DS_AG`` ... ``DP_DL``; empty
        for an entry without scores, e.g. SpliceAI's ``.`` entry of a complex allele).
    """

    model: str
    alt: str
    gene: str | None
    strand: str | None
    info: str
    values: dict = field(default_factory=dict)


@dataclass
class VariantResult:
    """Every model's result for one variant (one VCF record).

    Attributes
    ----------
    chrom : str
    pos : int
        1-based POS.
    ref : str
    alts : tuple of str
    info : dict
        Model name -> the record's INFO value exactly as ``splicescore vcf`` writes it
        (``INFO/SpliceAI`` etc.), ``None`` where the model wrote none.
    skip_info : str or None
        The ``INFO/SPLICESCORE_SKIP`` value (``MODEL|ALT|REASON,...``).
    scores : list of Score
        Per model x ALT x gene (or site), in INFO order.
    skips : list of Skip
    """

    chrom: str
    pos: int
    ref: str
    alts: tuple[str, ...]
    info: dict
    skip_info: str | None
    scores: list[Score]
    skips: list[Skip]

    @property
    def variant(self) -> str:
        return f"{self.chrom}:{self.pos}:{self.ref}:{','.join(self.alts)}"

    def records(self) -> list[dict]:
        """One flat dict per score (``chrom, pos, ref, alt, model, gene, strand, info`` and the
        values) and per skip (``reason`` instead of values), for tables."""
        base = {"chrom": self.chrom, "pos": self.pos, "ref": self.ref}
        rows = [{**base, "alt": s.alt, "model": s.model, "gene": s.gene, "strand": s.strand, "info": s.info,
                 "reason": None, **s.values} for s in self.scores]
        rows += [{**base, "alt": k.alt, "model": k.model, "gene": None, "strand": None, "info": None,
                  "reason": k.reason} for k in self.skips]
        return rows

    def to_frame(self):
        """A pandas DataFrame of :meth:`records` (needs pandas: ``pip install pandas``)."""
        return _frame(self.records())


@dataclass
class Results:
    """The :class:`VariantResult` of every variant given to :meth:`Session.score_many`, in input order."""

    variants: list[VariantResult]

    def __iter__(self):
        return iter(self.variants)

    def __len__(self) -> int:
        return len(self.variants)

    def __getitem__(self, i):
        return self.variants[i]

    def to_frame(self):
        """One pandas DataFrame row per variant x score / skip (needs pandas)."""
        return _frame([r for v in self.variants for r in v.records()])


def _frame(rows: list[dict]):
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_frame() needs pandas, an optional dependency of splicescore: pip install pandas") from None
    return pd.DataFrame(rows)


def _variant_result(v: Variant, per_model: list[tuple[str, RecordResult]]) -> VariantResult:
    """A :class:`VariantResult` from the pipeline's per-model record results (what ``_write_records``
    puts in the record)."""
    info, scores, skips, skip_text = {}, [], [], []
    for model, res in per_model:
        info[model] = res.info
        rows = list(res.rows)
        key = _ENTRY_KEY.get(model, "gene")
        k = 0
        for entry in (res.info.split(",") if res.info else []):
            fields = entry.split("|")
            row = rows[k] if k < len(rows) else None
            if row is not None and str(row.get("alt")) == fields[0] and len(fields) > 1 and str(row.get(key)) == fields[1]:
                k += 1
            else:
                row = None  # an entry without scores (SpliceAI's complex allele, HAL's '.')
            gene = (row or {}).get("gene") if model in ("aparent2", "hal") else (fields[1] if len(fields) > 1 else None)
            values = {c: x for c, x in (row or {}).items() if c not in _PLAIN}
            scores.append(Score(model, fields[0], gene, (row or {}).get("strand"), entry, values))
        for alt, reason in res.skips:
            skips.append(Skip(model, alt, reason))
            skip_text.append(f"{model}|{alt}|{reason}")
    return VariantResult(v.chrom, v.pos1, v.ref, tuple(v.alts), info, ",".join(skip_text) or None, scores, skips)


# --------------------------------------------------------------------------- variants

_SEPARATORS = re.compile(r"[\s:>]+|-(?=[0-9A-Za-z])")


def parse_variant(text) -> Variant:
    """A variant as ``CHROM:POS:REF:ALT[,ALT...]`` (also ``CHROM-POS-REF-ALT`` as SpliceAI-lookup
    writes it, ``chr17 43045795 C T`` or ``chr17:43045795:C>T``), a :class:`Variant`, or a tuple
    ``(chrom, pos, ref, alt or alts)``. POS is 1-based.

    Raises
    ------
    VariantError
        Malformed text (the message says what is wrong).
    """
    if isinstance(text, Variant):
        return text
    if isinstance(text, (tuple, list)):
        if len(text) != 4:
            raise VariantError(f"variant {text!r}: expected (chrom, pos, ref, alt)")
        chrom, pos, ref, alts = text
        alts = (alts,) if isinstance(alts, str) else tuple(alts)
        return _checked(str(chrom), str(pos), str(ref), ",".join(alts), repr(text))
    if not isinstance(text, str):
        raise VariantError(f"variant must be a string such as chr17:43045795:C:T, not {type(text).__name__}")
    raw = text.strip()
    if len(raw) > 10_000:
        raise VariantError("variant text longer than 10,000 characters")
    parts = raw.split(":") if ":" in raw and ">" not in raw else [p for p in _SEPARATORS.split(raw) if p]
    if len(parts) != 4 or not all(parts):
        raise VariantError(f"variant {_short(raw)!r}: expected CHROM:POS:REF:ALT, e.g. chr17:43045795:C:T")
    return _checked(*parts, _short(raw))


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _checked(chrom: str, pos: str, ref: str, alts: str, shown: str) -> Variant:
    if not re.fullmatch(r"[A-Za-z0-9_.]{1,100}", chrom):
        raise VariantError(f"variant {shown!r}: contig name {_short(chrom)!r} has characters other than letters, "
                           "digits, '_' and '.'")
    if not pos.isdigit() or int(pos) < 1 or len(pos) > 10:
        raise VariantError(f"variant {shown!r}: POS must be a positive integer (1-based), not {_short(pos)!r}")
    if not re.fullmatch(r"[ACGTNacgtn]+", ref):
        raise VariantError(f"variant {shown!r}: REF must be A/C/G/T/N bases, not {_short(ref)!r}")
    alt_list = tuple(a if a.startswith("<") else a.upper() for a in alts.split(","))
    for a in alt_list:
        if not re.fullmatch(r"[A-Za-z]+|\*|<[A-Za-z0-9_.]+>", a):
            raise VariantError(f"variant {shown!r}: ALT {_short(a)!r} is not a sequence of bases, '*' or <ID>")
    return Variant(chrom, int(pos), ref.upper(), alt_list)


class _Record:
    """The fields of a cyvcf2 record the pipeline's planning reads (``pipeline._variant``)."""

    __slots__ = ("CHROM", "POS", "REF", "ALT")

    def __init__(self, v: Variant):
        self.CHROM, self.POS, self.REF, self.ALT = v.chrom, v.pos1, v.ref, list(v.alts)


# --------------------------------------------------------------------------- session


class Session:
    """Reference, annotation and networks loaded once; variants scored through the CLI's pipeline.

    Parameters
    ----------
    reference : str or Path
        FASTA (plain or bgzipped with ``.fai``/``.gzi``), as ``splicescore vcf -r``.
    annotation : str
        ``grch37``/``grch38`` (SpliceAI's tables), a SpliceAI-format table or a GTF/GFF3, as ``-a``.
    models : sequence of str
        Any of ``spliceai``, ``pangolin``, ``sptransformer``, ``aparent2``, ``hal``. Their weights must
        be installed (``splicescore weights``); SpliceAI's are fetched from PyPI when missing.
    device : str
        ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
    distance : int
        Default ``-D`` (0..4999) of every call.
    mask : bool
        Default ``-M`` (SpliceAI masking).
    weights_home : Path, optional
        Weight cache (default ``$SPLICESCORE_HOME`` or the user cache folder).
    cache : str or Path, optional
        Score cache file (SQLite, ``splicescore vcf --cache``): results of records scored before with
        the same options, weights, sequence and annotation are taken from it, new ones stored.
    **options
        Further :class:`~splicescore.pipeline.RunConfig` fields: ``transcripts``, ``pad_ends``,
        ``threads``, ``batch_size``, ``chunk_size``, ``precision``, ``pangolin_mask``,
        ``pangolin_cutoff``, ``pas``, ``hal_ref_psi``, ``sptransformer_flags``.

    Notes
    -----
    Thread-safe: calls hold one lock while they use the reference and the networks (see the module
    docstring). Use as a context manager or call :meth:`close` to close the FASTA and the cache.
    """

    def __init__(self, reference, annotation: str = "grch38", models: Sequence[str] = ("spliceai",),
                 device: str = "auto", distance: int = 50, mask: bool = False, weights_home=None, cache=None,
                 **options):
        import torch

        from splicescore import pipeline
        from splicescore.io.genome import Reference

        if isinstance(models, str):
            models = [m for m in models.split(",")]
        names = tuple(dict.fromkeys(m.strip().lower() for m in models if m.strip()))
        from splicescore.model_options import split_options

        model_flat = {k: options.pop(k) for k in list(options) if k in _model_option_defaults()}
        unknown = set(options) - {f.name for f in dataclasses.fields(pipeline.RunConfig)}
        if unknown or {"input", "output", "reference", "models", "model_options"} & set(options):
            raise TypeError(f"Session() got unexpected option(s): {', '.join(sorted(unknown or options))}")
        _check_distance(distance)
        self.config = pipeline.RunConfig(
            input="-", output="-", reference=str(reference), annotation=str(annotation), models=names,
            distance=distance, mask=bool(mask), device=device,
            weights_home=Path(weights_home) if weights_home else None, cache=str(cache) if cache else None,
            model_options=split_options(model_flat), **options)
        self.models = names
        self._lock = threading.RLock()
        self._pipeline = pipeline
        [self.device] = pipeline._devices(dataclasses.replace(self.config, devices=None))
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        self.reference = Reference(self.config.reference)
        self._caches: dict = {}
        self._seq_nets: dict = {}
        try:
            self._annotation = pipeline._Annotation(self.config)
            built = pipeline.build_models(self.config, self.reference, self.device, self._annotation)
            self._nets = {sc.name: net for sc, net in built}
            self._built = {self._options_key(self.config): built}
        except BaseException:
            self.reference.close()
            raise
        #: what the last :meth:`score_many` did (windows, cache hits), a :class:`~splicescore.pipeline.Statistics`
        self.last_statistics = pipeline.Statistics()

    # ---------------------------------------------------------------- context
    def close(self) -> None:
        """Close the FASTA and the score cache (the networks are freed with the session)."""
        with self._lock:
            for c in self._caches.values():
                c.close()
            self._caches.clear()
            self.reference.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Session(reference={self.config.reference!r}, annotation={self.config.annotation!r}, "
                f"models={list(self.models)!r}, device={str(self.device)!r})")

    # ---------------------------------------------------------------- options
    @staticmethod
    def _options_key(cfg) -> tuple:
        from splicescore.model_options import declared

        models = tuple((m, tuple(sorted(cfg.options_for(m).items()))) for m in declared())
        return tuple(getattr(cfg, name) for name in RUN_SCORER_OPTIONS) + (models,)

    def _config(self, distance=None, mask=None, **options):
        """The session's RunConfig with this call's options."""
        from splicescore.model_options import split_options

        defaults = _model_option_defaults()
        known = RUN_SCORER_OPTIONS + tuple(defaults)
        bad = set(options) - set(known)
        if bad:
            raise TypeError(f"unknown option(s): {', '.join(sorted(bad))} (known: {', '.join(known)})")
        changes = {k: v for k, v in options.items() if v is not None}
        for flag in [k for k in changes if k == "pad_ends" or isinstance(defaults.get(k), bool)]:
            changes[flag] = bool(changes[flag])  # 1 and True: one cache key
        if distance is not None:
            _check_distance(distance)
            changes["distance"] = int(distance)
        if mask is not None:
            changes["mask"] = bool(mask)
        model_options = {m: dict(o) for m, o in self.config.model_options.items()}
        for model, values in split_options({k: changes.pop(k) for k in list(changes) if k in defaults}).items():
            model_options.setdefault(model, {}).update(values)
        return dataclasses.replace(self.config, model_options=model_options, **changes)

    def _models(self, models) -> tuple[str, ...]:
        if models is None:
            return self.models
        if isinstance(models, str):
            models = models.split(",")
        names = tuple(dict.fromkeys(m.strip().lower() for m in models if m.strip()))
        missing = [m for m in names if m not in self.models]
        if missing or not names:
            raise UsageError(f"model(s) {', '.join(missing) or '(none)'} not loaded in this session "
                             f"(loaded: {', '.join(self.models)})")
        return names

    def _built_for(self, cfg) -> list:
        """(scorer, network) per session model for ``cfg``'s scorer options (networks shared)."""
        from splicescore import models as plugins

        key = self._options_key(cfg)
        if key not in self._built:
            self._built[key] = [(plugins.get(name).make_scorer(cfg, self.reference, self._annotation), self._nets[name])
                                for name in self.models]
        return self._built[key]

    def _cache_for(self, cfg):
        if not cfg.cache:
            return None
        from splicescore.cache import ScoreCache, scoring_settings

        settings = scoring_settings(cfg, self.device.type)
        key = repr(sorted(settings.items()))
        if key not in self._caches:
            self._caches[key] = ScoreCache(cfg.cache, settings, cfg.weights_home, check_same_thread=False)
        return self._caches[key]

    # ---------------------------------------------------------------- checks
    def check_variant(self, variant) -> Variant:
        """Parse ``variant`` and check it against the FASTA (contig, position, REF).

        Returns
        -------
        Variant

        Raises
        ------
        VariantError
            Malformed, unknown contig, position past the contig end, or REF differing from the FASTA
            (one-line message).
        """
        v = parse_variant(variant)
        with self._lock:
            contig = self.reference.resolve(v.chrom)
            if contig is None:
                shown = ", ".join(list(self.reference.lengths)[:5]) + ("..." if len(self.reference.lengths) > 5 else "")
                raise VariantError(f"contig {v.chrom!r} is not in the reference FASTA (it has {shown})")
            length = self.reference.lengths[contig]
            if v.pos1 + len(v.ref) - 1 > length:
                raise VariantError(f"{v.chrom}:{v.pos1}: past the end of {contig} ({length:,} nt)")
            seq = self.reference.fetch(contig, v.pos1 - 1, v.pos1 - 1 + len(v.ref))
        if seq.upper() != v.ref.upper():
            raise VariantError(f"REF {_short(v.ref)} does not match the reference FASTA, which has "
                               f"{_short(seq.upper())} at {contig}:{v.pos1}")
        return v

    # ---------------------------------------------------------------- scoring
    def score(self, variant, distance: int | None = None, mask: bool | None = None, models=None,
              **options) -> VariantResult:
        """Score one variant with the session's models (or ``models``, a subset).

        Parameters
        ----------
        variant : str, tuple or Variant
            See :func:`parse_variant`; several ALTs as ``chr17:43045795:C:T,G``.
        distance, mask : optional
            ``-D`` and ``-M`` for this call (default: the session's).
        models : sequence of str, optional
        **options
            Other scorer options of this call (``pangolin_mask``, ``pangolin_cutoff``, ``hal_ref_psi``,
            ``pad_ends``, ``sptransformer_flags``, ``pas``).

        Returns
        -------
        VariantResult
            Its ``info`` holds the INFO values ``splicescore vcf`` writes for this record.
        """
        return self.score_many([variant], distance, mask, models, **options)[0]

    def score_many(self, variants: Iterable, distance: int | None = None, mask: bool | None = None,
                   models=None, **options) -> Results:
        """Score many variants at once, in chunks of ``chunk_size`` records, exactly as
        ``splicescore vcf`` does (nearby variants share reference tracks; the score cache is used).

        Parameters
        ----------
        variants : iterable of str, tuple or Variant
            Each one record (see :func:`parse_variant`); nothing is dropped or reordered.
        distance, mask, models, **options
            As :meth:`score`.

        Returns
        -------
        Results
            One :class:`VariantResult` per variant, in input order.
        """
        pipeline = self._pipeline
        parsed = [parse_variant(v) for v in variants]
        cfg = self._config(distance, mask, **options)
        names = self._models(models)
        out: list[VariantResult] = []
        with self._lock:
            built = sorted(((sc, net) for sc, net in self._built_for(cfg) if sc.name in names),
                           key=lambda b: names.index(b[0].name))  # the order asked for, as `--model a,b`
            cache = self._cache_for(cfg)
            stats = pipeline.Statistics(cache=cfg.cache)
            computer = pipeline._computer(cfg, [sc for sc, _ in built], [net for _, net in built], self.device)

            def written(job) -> None:
                per_model, fresh = pipeline.finish_results(job, built, stats, cache)
                if cache:
                    for key, result in fresh:
                        cache.put(key, result)
                    cache.commit()
                for i, v in enumerate(job.variants):
                    out.append(_variant_result(v, [(sc.name, results[i]) for sc, results in per_model]))

            records = [_Record(v) for v in parsed]
            plan = lambda chunk, index: pipeline._plan(chunk, index, built, cache)  # noqa: E731
            pipeline.run_chunks(pipeline._chunks(iter(records), cfg.chunk_size), 0, plan, [computer], written)
            self.last_statistics = stats
        return Results(out)

    def score_vcf(self, input, output, **options):
        """Annotate a VCF exactly as ``splicescore vcf`` (the same :func:`~splicescore.pipeline.run_vcf`),
        with the session's reference and networks.

        Parameters
        ----------
        input, output : str or Path
            As ``-i`` and ``-o`` (``-`` for stdin/stdout).
        **options
            Any :class:`~splicescore.pipeline.RunConfig` field of ``splicescore vcf`` except the
            reference, annotation, models and devices: ``distance``, ``mask``, ``tsv``, ``output_type``,
            ``region``, ``shard``, ``write_index``, ``resume``, ``cache``, ``chunk_size``, the model options.

        Returns
        -------
        splicescore.pipeline.Statistics
        """
        pipeline = self._pipeline
        fixed = {"reference", "annotation", "models", "device", "devices", "weights_home", "transcripts", "threads"}
        bad = set(options) & fixed
        if bad:
            raise TypeError(f"score_vcf: {', '.join(sorted(bad))} are the session's (make another Session)")
        cfg = dataclasses.replace(self.config, input=str(input), output=str(output), **options)
        if cfg.distance != self.config.distance:
            _check_distance(cfg.distance)
        with self._lock:
            built = self._built_for(cfg)
            computer = pipeline._computer(cfg, [sc for sc, _ in built], [net for _, net in built], self.device)
            loaded = pipeline.Loaded(self.reference, built, [computer], self.device)
            return pipeline.run_vcf(cfg, loaded)

    # ---------------------------------------------------------------- tracks, sequences
    def tracks(self, variant, model: str | None = None, distance: int | None = None, gene: str | None = None):
        """Per-position REF and ALT outputs of one variant (one ALT), what ``splicescore plot`` draws.

        Parameters
        ----------
        variant : str, tuple or Variant
            One ALT.
        model : str, optional
            ``spliceai``, ``pangolin`` or ``sptransformer`` (default: the first of these the session has).
        distance : int, optional
            Positions POS-D..POS+D (SpTransformer: D <= 100).
        gene : str, optional
            Only this gene (symbol or gene_id).

        Returns
        -------
        list of splicescore.plot.GeneTracks
            One per gene: ``positions1`` ``(L,)`` and tracks whose ``ref``, ``alt``, ``delta`` are
            ``(L,)`` arrays (SpliceAI: ``L = 2D + 1``, acceptor and donor).
        """
        from splicescore import plot

        v = parse_variant(variant)
        if len(v.alts) != 1:
            raise VariantError(f"tracks: give one ALT allele, not {','.join(v.alts)}")
        if model is None:
            model = next((m for m in self.models if m in plot.PLOT_MODELS), None)
            if model is None:
                raise UsageError(f"tracks need one of {', '.join(plot.PLOT_MODELS)}; this session has "
                                 f"{', '.join(self.models)}")
        names = self._models([model])
        if names[0] not in plot.PLOT_MODELS:
            raise UsageError(f"tracks are drawn for {', '.join(plot.PLOT_MODELS)}, not {model!r}")
        cfg = self._config(distance)
        plot.check_distance(model, cfg.distance)
        with self._lock:
            plot.check_variant(self.reference, v, model)
            [(scorer, net)] = [(sc, n) for sc, n in self._built_for(cfg) if sc.name == model]
            return plot.tracks_from(scorer, net, v, model, cfg.distance, gene, self.device)

    def figure(self, variant, model: str | None = None, distance: int | None = None, gene: str | None = None,
               format: str = "svg") -> bytes:
        """The ``splicescore plot`` figure of :meth:`tracks` as bytes (``svg``, ``png`` or ``pdf``)."""
        from splicescore.plot import figure_bytes

        return figure_bytes(self.tracks(variant, model, distance, gene), format)

    def score_sequences(self, ref_seqs: Sequence[str], alt_seqs: Sequence[str], model: str = "aparent2",
                        ids: Sequence[str] | None = None, **columns) -> list[dict]:
        """Score designed REF/ALT windows, as ``splicescore seqs`` (each already the model's window,
        in its orientation: APARENT2 205 nt, HAL 160 nt, SpTransformer 8,201 nt, Pangolin > 10,000 nt).

        Parameters
        ----------
        ref_seqs, alt_seqs : sequence of str
            ``N`` pairs.
        model : str
            Loaded on first use when the session does not have it.
        ids : sequence of str, optional
            Default ``"1".."N"``.
        **columns
            Per-pair model columns, each a sequence of ``N`` values (HAL: ``psi_ref``), or ``hal_ref_psi``
            for all pairs.

        Returns
        -------
        list of dict
            ``{"id": ..., **scores}`` per pair, the columns ``splicescore seqs`` writes.
        """
        from splicescore import models as plugins, weights
        from splicescore.seqmode import SeqsConfig, score_rows

        ref_seqs, alt_seqs = list(ref_seqs), list(alt_seqs)
        if len(ref_seqs) != len(alt_seqs):
            raise ValueError(f"{len(ref_seqs)} REF but {len(alt_seqs)} ALT sequences")
        ids = [str(i + 1) for i in range(len(ref_seqs))] if ids is None else [str(i) for i in ids]
        if len(ids) != len(ref_seqs):
            raise ValueError(f"{len(ids)} ids for {len(ref_seqs)} pairs")
        hal_ref_psi = columns.pop("hal_ref_psi", None)
        for name, values in columns.items():
            if len(values) != len(ref_seqs):
                raise ValueError(f"column {name}: {len(values)} values for {len(ref_seqs)} pairs")
        name = model.strip().lower()
        plugin = plugins.get(name)
        if not hasattr(plugin, "score_sequences"):
            raise UsageError(f"model {name!r} has no sequence mode")
        rows = [{"id": ids[i], "ref": ref_seqs[i], "alt": alt_seqs[i], "_line": i + 1,
                 **{c: str(v[i]) for c, v in columns.items()}} for i in range(len(ref_seqs))]
        cfg = SeqsConfig(input="<sequences>", output="-", model=name, batch_size=self.config.batch_size,
                         device=str(self.device), options={"hal_ref_psi": hal_ref_psi},
                         weights_home=self.config.weights_home)
        with self._lock:
            net = self._nets.get(name) or self._seq_nets.get(name)
            if net is None:
                if not weights.is_installed(name, cfg.weights_home) and hasattr(plugin, "download"):
                    weights.fetch_weights(name, cfg.weights_home)
                net = self._seq_nets[name] = weights.load_network(name, cfg.weights_home).to(self.device)
            return score_rows(plugin, net, rows, cfg, self.device)


def _check_distance(distance) -> None:
    if isinstance(distance, bool) or not isinstance(distance, int) or not 0 <= distance <= 4999:
        raise UsageError(f"distance {distance!r}: an integer in 0..4999 (SpliceAI's -D)")
