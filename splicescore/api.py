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
import threading
from pathlib import Path
from typing import Iterable, Sequence

from splicescore.errors import UsageError
from splicescore.api_results import Results, Score, Skip, VariantResult
from splicescore.api_results import variant_result as _variant_result  # the names score_many's body uses
from splicescore.api_variants import VariantError, check_against_reference, parse_variant
from splicescore.api_variants import VariantRecord as _Record
from splicescore.core.scorer import Variant

__all__ = ["Session", "VariantResult", "Score", "Skip", "Results", "VariantError", "parse_variant"]

#: the per-call run options that change a model's scorer (each set builds its scorers once; networks are
#: shared); the models' own options (:mod:`splicescore.model_options`) are per-call options too
RUN_SCORER_OPTIONS = ("distance", "mask", "pad_ends")


def _model_option_defaults() -> dict:
    """``{option: default}`` of every model's own options (flat: the names are unique)."""
    from splicescore.model_options import declared

    return {name: default for options in declared().values() for name, default in options.items()}


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
            check_against_reference(self.reference, v)
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
        if plugin.score_sequences is None:
            raise UsageError(f"model {name!r} has no sequence mode")
        rows = [{"id": ids[i], "ref": ref_seqs[i], "alt": alt_seqs[i], "_line": i + 1,
                 **{c: str(v[i]) for c, v in columns.items()}} for i in range(len(ref_seqs))]
        cfg = SeqsConfig(input="<sequences>", output="-", model=name, batch_size=self.config.batch_size,
                         device=str(self.device), options={"hal_ref_psi": hal_ref_psi},
                         weights_home=self.config.weights_home)
        with self._lock:
            net = self._nets.get(name) or self._seq_nets.get(name)
            if net is None:
                if not weights.is_installed(name, cfg.weights_home) and plugin.download is not None:
                    weights.fetch_weights(name, cfg.weights_home)
                net = self._seq_nets[name] = weights.load_network(name, cfg.weights_home).to(self.device)
            return score_rows(plugin, net, rows, cfg, self.device)


def _check_distance(distance) -> None:
    if isinstance(distance, bool) or not isinstance(distance, int) or not 0 <= distance <= 4999:
        raise UsageError(f"distance {distance!r}: an integer in 0..4999 (SpliceAI's -D)")
