"""The line-by-line GTF/GFF3 reader, kept as the reference for the vectorised one
(:mod:`splicescore.io.gtf_reader`, which falls back to it for files it does not take): the tests
compare both on every test annotation.

A transcript is made by its ``transcript``/``mRNA`` line (GFF3: any ``*_transcript`` feature) or, in a
GTF, by its first exon line; its gene name comes from the transcript's attributes or its gene line.
Transcripts without exons or without a strand are dropped.
"""

from __future__ import annotations

import gzip
import re
from collections import defaultdict
from pathlib import Path

from splicescore.errors import InputError
from splicescore.io.gene_index import GeneIndex, Transcript
from splicescore.io.gtf_reader import TAG_BITS
from splicescore.io.textfile import open_text
from splicescore.io.transcript_selection import read_transcript_ids


_GTF_ATTR = re.compile(r'\s*([^\s;]+)\s+"?([^";]*)"?\s*;?')


def _gtf_attributes(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for key, value in _GTF_ATTR.findall(text):
        out[key].append(value)
    return out


def _gff3_attributes(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for item in text.strip().strip(";").split(";"):
        if "=" in item:
            key, value = item.split("=", 1)
            out[key.strip()].extend(v for v in value.split(","))
    return out


def _ttype(attrs) -> str:
    return (attrs.get("transcript_type") or attrs.get("transcript_biotype") or attrs.get("biotype") or [""])[0]


def _scan_gtf(path: Path):
    """The line-by-line reading of a GTF/GFF3: (transcript infos, exons per transcript, gene names)."""
    tx_info: dict[str, dict] = {}
    exons: dict[str, list[tuple[int, int]]] = defaultdict(list)
    gene_names: dict[str, str] = {}
    order = 0
    try:
        with open_text(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip() or line.startswith("#"):
                    continue
                f = line.rstrip("\n").split("\t")
                if len(f) != 9:
                    raise InputError(f"expected 9 tab-separated columns, found {len(f)}", str(path), lineno)
                chrom, _, feature, start, end, _, strand, _, attr_text = f
                gff3 = "=" in attr_text.split(";")[0] and '"' not in attr_text.split(";")[0]
                attrs = _gff3_attributes(attr_text) if gff3 else _gtf_attributes(attr_text)
                try:
                    start1, end1 = int(start), int(end)
                except ValueError as exc:
                    raise InputError("non-numeric start/end", str(path), lineno) from exc
                if feature == "gene":
                    gid = (attrs.get("gene_id") or attrs.get("ID") or [""])[0]
                    name = (attrs.get("gene_name") or attrs.get("Name") or attrs.get("gene") or [gid])[0]
                    gene_names[gid] = name
                    continue
                if feature in ("transcript", "mRNA") or (gff3 and feature.endswith("_transcript")):
                    tid = (attrs.get("transcript_id") or attrs.get("ID") or [""])[0]
                    gid = (attrs.get("gene_id") or attrs.get("Parent") or [""])[0]
                    name = (attrs.get("gene_name") or [gene_names.get(gid, gid)])[0]
                    order += 1
                    tx_info[tid] = dict(
                        chrom=chrom, strand=strand, start1=start1, end1=end1, gene_id=gid, gene=name,
                        tags=set(attrs.get("tag", [])), order=order, ttype=_ttype(attrs),
                    )
                elif feature == "exon":
                    parents = attrs.get("transcript_id") or attrs.get("Parent") or []
                    for tid in parents:
                        exons[tid].append((start1, end1))
                        if tid not in tx_info and not gff3:
                            gid = (attrs.get("gene_id") or [""])[0]
                            order += 1
                            tx_info[tid] = dict(
                                chrom=chrom, strand=strand, start1=None, end1=None, gene_id=gid,
                                gene=(attrs.get("gene_name") or [gid])[0], tags=set(attrs.get("tag", [])),
                                order=order, ttype=_ttype(attrs),
                            )
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read annotation: {exc}", str(path)) from exc

    return tx_info, exons, gene_names


def _valid_transcripts(path: Path):
    """(transcript ID, info, sorted exons, Transcript) of every transcript with exons and a strand,
    in the reference loader's rules."""
    tx_info, exons, gene_names = _scan_gtf(path)
    for tid, info in tx_info.items():
        ex = sorted(exons.get(tid, []))
        if not ex or info["strand"] not in ("+", "-"):
            continue
        gene = gene_names.get(info["gene_id"], info["gene"]) if info["gene"] == info["gene_id"] else info["gene"]
        t = Transcript(
            gene=gene.split(":")[-1] if gene.startswith("gene:") else gene,
            chrom=info["chrom"],
            strand=info["strand"],
            tx_start1=info["start1"] if info["start1"] is not None else ex[0][0],
            tx_end1=info["end1"] if info["end1"] is not None else max(e for _, e in ex),
            exon_starts1=tuple(s for s, _ in ex),
            exon_ends1=tuple(e for _, e in ex),
            transcript_id=tid,
            order=info["order"],
            gene_id=info["gene_id"].split(":", 1)[-1] if info["gene_id"].startswith("gene:") else info["gene_id"],
        )
        yield tid, info, ex, t


def read_gtf_lines(path: str | Path) -> list[dict]:
    """Every valid transcript as the compiled index holds it (fields of :mod:`splicescore.io.gtfindex`),
    read line by line: the fallback for files the vectorised reader does not take."""
    out = []
    for tid, info, ex, t in _valid_transcripts(Path(path)):
        flags = sum(bit for tag, bit in TAG_BITS.items() if tag in info["tags"])
        out.append(dict(tid=tid, gene=t.gene, gene_id=t.gene_id, chrom=t.chrom, strand=t.strand,
                        start=t.tx_start1, end=t.tx_end1, order=t.order, group=info["gene_id"] or t.gene,
                        flags=flags, ttype=info["ttype"], exons=ex))
    out.sort(key=lambda d: d["order"])
    return out


def load_gtf_lines(path: str | Path, transcripts: str = "auto") -> GeneIndex:
    """Load a GTF or GFF3 (optionally gzipped) line by line and keep one transcript per gene (the
    reference loader: :func:`load_gtf` reads the same through the compiled index).

    Parameters
    ----------
    path : str or Path
    transcripts : str
        ``auto`` (MANE_Select, else Ensembl_canonical, else longest), ``longest``, or the path of a
        file with one transcript ID per line (only those are kept).
    """
    path = Path(path)
    keep_ids: set[str] | None = None
    if transcripts not in ("auto", "longest"):
        keep_ids = read_transcript_ids(transcripts)

    by_gene: dict[str, list[Transcript]] = defaultdict(list)
    tags: dict[str, set[str]] = {}
    for tid, info, _, t in _valid_transcripts(path):
        if keep_ids is not None and tid not in keep_ids and tid.split(":")[-1] not in keep_ids:
            continue
        by_gene[info["gene_id"] or t.gene].append(t)
        tags[tid] = info["tags"]

    chosen = []
    for candidates in by_gene.values():
        chosen.append(min(candidates, key=lambda t: _rank(t, tags[t.transcript_id], transcripts)))
    if not chosen:
        raise InputError("annotation holds no transcripts with exons", str(path))
    # Keep the gene's position in the file (its first transcript), whichever transcript is chosen.
    first = {id(c): min(t.order for t in by_gene[k]) for k, c in zip(by_gene, chosen)}
    chosen = [
        Transcript(c.gene, c.chrom, c.strand, c.tx_start1, c.tx_end1, c.exon_starts1, c.exon_ends1,
                   c.transcript_id, first[id(c)], c.gene_id)
        for c in chosen
    ]
    return GeneIndex(chosen, str(path))


def _rank(t: Transcript, tags: set[str], mode: str):
    exonic = sum(e - s + 1 for s, e in zip(t.exon_starts1, t.exon_ends1))
    tagged = 0
    if mode == "auto":
        tagged = 0 if "MANE_Select" in tags else 1 if "Ensembl_canonical" in tags else 2
    return (tagged, -exonic, -(t.tx_end1 - t.tx_start1), t.order)

