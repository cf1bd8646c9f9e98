"""What the Python API returns: :class:`VariantResult` (one record), :class:`Score` (one INFO
entry), :class:`Skip` (one ALT a model did not score) and :class:`Results` (many records), built from
the pipeline's per-model record results."""

from __future__ import annotations

from dataclasses import dataclass, field

from splicescore.core.scorer import SKIP_REASONS, RecordResult, Variant

#: the TSV row field that names an INFO entry's locus, per model (the entry's second field)
_ENTRY_KEY = {"spliceai": "gene", "pangolin": "gene", "sptransformer": "gene", "aparent2": "PAS_POS",
              "hal": "DONOR_POS"}
_PLAIN = ("alt", "gene", "strand")


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


def variant_result(v: Variant, per_model: list[tuple[str, RecordResult]]) -> VariantResult:
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
