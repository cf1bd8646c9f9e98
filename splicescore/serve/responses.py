"""Response bodies of ``splicescore serve``: SpliceAI-lookup's shape for ``/spliceai/`` and
``/pangolin/``, and splicescore's own for ``/score/`` and ``/tracks/``."""

from __future__ import annotations

INFO_KEYS = {"spliceai": "SpliceAI", "pangolin": "Pangolin", "sptransformer": "SpTransformer", "aparent2": "APARENT2",
             "hal": "HAL"}
ECHO = ("variant", "hg", "bc", "distance", "mask", "raw", "variant_consequence")


def _two(value: float) -> float:
    """A score as INFO prints it (``%.2f``), as a number."""
    return float(f"{value:.2f}")


def _spliceai_entry(s) -> dict:
    v = s.values
    out = {"DS_AG": None, "DS_AL": None, "DS_DG": None, "DS_DL": None, "DP_AG": None, "DP_AL": None, "DP_DG": None,
           "DP_DL": None}
    if v:
        out.update({k: _two(v[k]) for k in ("DS_AG", "DS_AL", "DS_DG", "DS_DL")})
        out.update({k: int(v[k]) for k in ("DP_AG", "DP_AL", "DP_DG", "DP_DL")})
    out.update(_gene_fields(s))
    return out


def _pangolin_entry(s) -> dict:
    v = s.values
    out = {"DS_SG": None, "DS_SL": None, "DP_SG": None, "DP_SL": None}
    if v:
        out.update(DS_SG=_two(v["gain"]), DS_SL=_two(v["loss"]), DP_SG=int(v["gain_pos"]), DP_SL=int(v["loss_pos"]),
                   warnings=v.get("warnings"))
    out.update(_gene_fields(s))
    return out


def _gene_fields(s) -> dict:
    gene_key = "g_id" if s.model == "pangolin" else "g_name"
    return {gene_key: s.gene, "t_strand": s.strand, "t_id": s.values.get("transcript"), "ALLELE": s.alt,
            INFO_KEYS[s.model]: s.info, "raw": {k: v for k, v in s.values.items() if k != "transcript"}}


def lookup_response(tool: str, result, params: dict, hg: str, distance: int, mask: int) -> dict:
    """SpliceAI-lookup's response for one variant and tool (``spliceai`` or ``pangolin``)."""
    out = {k: params[k] for k in ECHO if k in params and isinstance(params[k], (str, int, float))}
    entries = [s for s in result.scores if s.model == tool]
    out.update({
        "variant": out.get("variant", result.variant), "genomeVersion": hg, "chrom": result.chrom, "pos": result.pos,
        "ref": result.ref, "alt": result.alts[0], "distance": distance, "mask": mask,
        "scores": [(_spliceai_entry if tool == "spliceai" else _pangolin_entry)(s) for s in entries],
        "source": f"{tool}:model",
        "allNonZeroScores": None, "allNonZeroScoresStrand": None, "allNonZeroScoresTranscriptId": None,
        "info": {INFO_KEYS[tool]: result.info.get(tool)},
        "skips": [{"alt": k.alt, "reason": k.reason, "description": k.description} for k in result.skips
                  if k.model == tool],
    })
    if not entries:
        reasons = "; ".join(f"{k.reason}: {k.description}" for k in result.skips if k.model == tool) or "no entries"
        name = "SpliceAI" if tool == "spliceai" else "Pangolin"
        out["error"] = f"The {name} model did not return any scores for {out['variant']} ({reasons})."
    return out


def score_response(result, params: dict, hg: str, distance: int, mask: int, pangolin_mask: int, models) -> dict:
    return {
        "variant": result.variant, "genomeVersion": hg, "chrom": result.chrom, "pos": result.pos, "ref": result.ref,
        "alt": result.alts[0], "distance": distance, "mask": mask, "pangolin_mask": pangolin_mask,
        "models": list(models),
        "info": {INFO_KEYS[m]: result.info.get(m) for m in models},
        "SPLICESCORE_SKIP": result.skip_info,
        "scores": [{"model": s.model, "alt": s.alt, "gene": s.gene, "strand": s.strand, "info": s.info,
                    "values": s.values} for s in result.scores],
        "skips": [{"model": k.model, "alt": k.alt, "reason": k.reason, "description": k.description}
                  for k in result.skips],
    }


def tracks_response(genes) -> dict:
    return {"genes": [{
        "model": g.model, "gene": g.gene, "strand": g.strand, "variant": g.label,
        "positions": g.positions1.tolist(), "exon_boundaries": list(g.boundaries1),
        "tracks": [{"name": t.name, "kind": t.kind, "ref": t.ref.tolist(), "alt": t.alt.tolist(),
                    "delta": t.delta.tolist()} for t in g.tracks],
    } for g in genes]}
