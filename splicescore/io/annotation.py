"""Gene annotation: one transcript per gene, indexed by interval for point look-ups.

Sources:

* a SpliceAI gene table (the GENCODE V24 canonical tables ``grch37.txt``/``grch38.txt`` shipped in
  the ``spliceai`` 1.3.1 package, or any file in that format): tab-separated columns
  ``#NAME CHROM STRAND TX_START TX_END EXON_START EXON_END``, where ``TX_START`` and the
  comma-separated ``EXON_START`` values are 0-based and ``TX_END``/``EXON_END`` are 1-based inclusive
  ends (SpliceAI adds 1 to the starts when it loads them);
* a GTF or GFF3 file (optionally gzipped). One transcript is kept per gene: with ``auto`` the one
  tagged ``MANE_Select``, else ``Ensembl_canonical`` (GENCODE/Ensembl tags), else the longest
  (most exonic bases, then the widest span, then the first in the file). ``longest`` ignores tags;
  a file of transcript IDs keeps exactly those.

Coordinates are held 1-based inclusive (``tx_start1``..``tx_end1``). Genes keep the order of the
source (table row / first appearance), which is the order SpliceAI writes overlapping genes in.
"""

from __future__ import annotations

import gzip
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ncls import NCLS

from splicescore.errors import InputError
from splicescore.io.genome import ContigResolver


@dataclass(frozen=True)
class Transcript:
    """One gene's chosen transcript (1-based inclusive coordinates)."""

    gene: str
    chrom: str
    strand: str
    tx_start1: int
    tx_end1: int
    exon_starts1: tuple[int, ...]
    exon_ends1: tuple[int, ...]
    transcript_id: str = ""
    order: int = 0
    gene_id: str = ""  # the GTF/GFF3 gene_id (Pangolin prints it); "" for SpliceAI tables
    priority: str = ""  # MS (MANE Select), MP (MANE Plus Clinical), C (Ensembl canonical), N; "" for tables
    rank: int = 0  # place among the gene's kept transcripts (0: the gene's top-priority transcript)
    transcript_type: str = ""

    @property
    def exon_boundaries1(self) -> np.ndarray:
        """Sorted unique exon starts and ends (SpliceAI's "annotated splice sites", incl. the
        transcript's own first and last base)."""
        return np.union1d(np.asarray(self.exon_starts1), np.asarray(self.exon_ends1))

    def nearest_boundary_offset(self, pos1: int) -> int:
        """Signed distance from ``pos1`` to the closest exon boundary (SpliceAI's ``dist_exon_bdry``:
        ``min(boundaries - pos, key=abs)``, the first such on ties)."""
        d = self.exon_boundaries1 - pos1
        return int(d[np.argmin(np.abs(d))])


class GeneIndex:
    """Transcripts indexed per contig with a nested containment list (``ncls``)."""

    def __init__(self, transcripts, source: str, _arrays=None):
        self.source = source
        if _arrays is None:
            self.transcripts = sorted(transcripts, key=lambda t: t.order)
            chrom_of = [t.chrom for t in self.transcripts]
            starts_all = np.asarray([t.tx_start1 for t in self.transcripts], dtype=np.int64)
            ends_all = np.asarray([t.tx_end1 for t in self.transcripts], dtype=np.int64)
        else:  # a compiled index: Transcript objects are made on first look-up
            self.transcripts = transcripts
            codes, names, starts_all, ends_all = _arrays
            chrom_of = None
        if chrom_of is not None:
            names = list(dict.fromkeys(chrom_of))
            lookup = {c: i for i, c in enumerate(names)}
            codes = np.asarray([lookup[c] for c in chrom_of], dtype=np.int64)
        self._index = {}
        for code, chrom in enumerate(names):
            ids_arr = np.flatnonzero(codes == code).astype(np.int64)
            if len(ids_arr):
                self._index[chrom] = NCLS(starts_all[ids_arr], ends_all[ids_arr] + 1, ids_arr)
        self.resolve = ContigResolver(self._index)

    @property
    def contigs(self) -> list[str]:
        return list(self._index)

    def __len__(self) -> int:
        return len(self.transcripts)

    def at(self, chrom: str, pos1: int) -> list[Transcript]:
        """Transcripts with ``tx_start1 <= pos1 <= tx_end1`` on ``chrom`` (any naming), in source order."""
        return self.overlapping(chrom, pos1, pos1)

    def overlapping(self, chrom: str, start1: int, end1: int) -> list[Transcript]:
        """Transcripts overlapping ``[start1, end1]`` (1-based inclusive) on ``chrom``, in source order."""
        name = self.resolve(chrom)
        if name is None:
            return []
        hits = sorted(h[2] for h in self._index[name].find_overlap(start1, end1 + 1))
        return [self.transcripts[i] for i in hits]

    def by_name(self, gene: str) -> list[Transcript]:
        return [t for t in self.transcripts if t.gene == gene]


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path, "rt")


def load_spliceai_table(path: str | Path) -> GeneIndex:
    """Load a SpliceAI-format gene table (see module docstring)."""
    path = Path(path)
    transcripts = []
    try:
        with _open_text(path) as fh:
            header = fh.readline().rstrip("\n").split("\t")
            expected = ["#NAME", "CHROM", "STRAND", "TX_START", "TX_END", "EXON_START", "EXON_END"]
            if header[:7] != expected:
                raise InputError(f"not a SpliceAI gene table: header must be {' '.join(expected)}", str(path), 1)
            for lineno, line in enumerate(fh, start=2):
                if not line.strip():
                    continue
                f = line.rstrip("\n").split("\t")
                try:
                    name, chrom, strand, tx_start0, tx_end, exon_starts0, exon_ends = f[:7]
                    starts = tuple(int(x) + 1 for x in exon_starts0.split(",") if x)
                    ends = tuple(int(x) for x in exon_ends.split(",") if x)
                    t = Transcript(name, chrom, strand, int(tx_start0) + 1, int(tx_end), starts, ends, "", lineno)
                except ValueError as exc:
                    raise InputError(f"malformed gene table row ({exc})", str(path), lineno) from exc
                if strand not in "+-" or len(strand) != 1 or len(starts) != len(ends) or not starts:
                    raise InputError("malformed gene table row (strand or exon lists)", str(path), lineno)
                transcripts.append(t)
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read gene table: {exc}", str(path)) from exc
    if not transcripts:
        raise InputError("gene table holds no genes", str(path))
    return GeneIndex(transcripts, str(path))


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
        with _open_text(path) as fh:
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
    from splicescore.io.gtfindex import TAG_BITS

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
        try:
            keep_ids = {line.split()[0] for line in Path(transcripts).read_text().splitlines() if line.strip()}
        except OSError as exc:
            raise InputError(f"cannot read transcript list: {exc}", transcripts) from exc

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


#: ``--transcripts`` modes that keep one transcript per gene (the SpliceAI convention) ...
SINGLE_MODES = ("auto", "longest")
#: ... and those that keep several (each scored with its own boundaries and exons)
MULTI_MODES = ("mane", "canonical", "basic", "all")
#: transcript types kept by ``--transcripts all`` unless ``--transcript-types`` says otherwise
DEFAULT_TYPES = ("protein_coding", "lncRNA")
PRIORITY_CODES = ("MS", "MP", "C", "N")  # as SpliceAI-lookup prints them


def is_multi(mode: str) -> bool:
    """Whether ``--transcripts mode`` keeps several transcripts per gene."""
    return mode in MULTI_MODES


class _LazyTranscripts(Sequence):
    """The selected transcripts of a compiled index, made into :class:`Transcript` on first use."""

    def __init__(self, a: dict, idx: np.ndarray, order: np.ndarray, rank: np.ndarray, prio: np.ndarray):
        self._a, self._idx, self._order, self._rank, self._prio = a, idx, order, rank, prio
        self._made: dict[int, Transcript] = {}
        self._chroms = [c.decode("utf-8", "replace") for c in a["chrom_names"].tolist()]
        self._types = [c.decode("utf-8", "replace") for c in a["type_names"].tolist()]

    def __len__(self) -> int:
        return len(self._idx)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        t = self._made.get(i)
        if t is None:
            a, k = self._a, int(self._idx[i])
            lo, hi = int(a["ex_off"][k]), int(a["ex_off"][k + 1])
            t = Transcript(
                gene=a["tx_gene"][k].decode("utf-8", "replace"), chrom=self._chroms[a["tx_chrom"][k]],
                strand="-" if a["tx_strand"][k] else "+",
                tx_start1=int(a["tx_start"][k]), tx_end1=int(a["tx_end"][k]),
                exon_starts1=tuple(a["ex_start"][lo:hi].tolist()), exon_ends1=tuple(a["ex_end"][lo:hi].tolist()),
                transcript_id=a["tx_id"][k].decode("utf-8", "replace"), order=int(self._order[i]),
                gene_id=a["tx_gene_id"][k].decode("utf-8", "replace"),
                priority=PRIORITY_CODES[int(self._prio[i])], rank=int(self._rank[i]),
                transcript_type=self._types[a["tx_type"][k]],
            )
            self._made[i] = t
        return t

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def _read_ids(transcripts: str) -> set[str]:
    try:
        return {line.split()[0] for line in Path(transcripts).read_text().splitlines() if line.strip()}
    except OSError as exc:
        raise InputError(f"cannot read transcript list: {exc}", transcripts) from exc


def select_transcripts(a: dict, mode: str = "auto", types: tuple[str, ...] | None = None, source: str = "") -> GeneIndex:
    """The run's :class:`GeneIndex` from a compiled index's arrays (:mod:`splicescore.io.gtfindex`).

    One transcript per gene (``auto``, ``longest``, a file of IDs: the rules of
    :func:`load_gtf_lines`), or several (``mane``: MANE Select and MANE Plus Clinical;
    ``canonical``: Ensembl_canonical; ``basic``: tag basic; ``all``), filtered by transcript type
    (``types``; default for ``all``: protein_coding and lncRNA; transcripts without a type are kept).
    Within a gene, transcripts are ranked MANE Select > MANE Plus Clinical > canonical > the others,
    then by exonic length, span and file order; every transcript of a gene takes the gene's place
    in the file (its first kept transcript), so genes keep the order of today's one-per-gene output.
    """
    from splicescore.io.gtfindex import BASIC, CANONICAL, MANE_PLUS_CLINICAL, MANE_SELECT

    n = len(a["tx_id"])
    flags = a["tx_flags"]
    keep = np.ones(n, bool)
    multi = is_multi(mode)
    if mode not in SINGLE_MODES and not multi:  # a file of transcript IDs
        ids = _read_ids(mode)
        tids = [t.decode("utf-8", "replace") for t in a["tx_id"].tolist()]
        keep = np.array([t in ids or t.split(":")[-1] in ids for t in tids], bool)
    if mode == "mane":
        keep &= (flags & (MANE_SELECT | MANE_PLUS_CLINICAL)) > 0
    elif mode == "canonical":
        keep &= (flags & CANONICAL) > 0
    elif mode == "basic":
        keep &= (flags & BASIC) > 0
    if types is None and mode == "all":
        types = DEFAULT_TYPES
    if types is not None:
        names = [t.decode("utf-8", "replace") for t in a["type_names"].tolist()]
        ok = np.array([t == "" or t in types for t in names], bool)
        keep &= ok[a["tx_type"]]
    idx = np.flatnonzero(keep)
    if not len(idx):
        raise InputError(f"no transcript of the annotation is kept by --transcripts {mode}"
                         + (f" --transcript-types {','.join(types)}" if types else ""), source)
    f = flags[idx]
    prio = np.where(f & MANE_SELECT, 0, np.where(f & MANE_PLUS_CLINICAL, 1, np.where(f & CANONICAL, 2, 3)))
    if mode == "auto":
        cls = np.where(f & MANE_SELECT, 0, np.where(f & CANONICAL, 1, 2))
    elif multi:
        cls = prio
    else:
        cls = np.zeros(len(idx), np.int64)
    group = a["tx_group"][idx]
    order = a["tx_order"][idx]
    span = a["tx_end"][idx] - a["tx_start"][idx]
    srt = np.lexsort((order, -span, -a["tx_exonic"][idx], cls, group))
    g_sorted = group[srt]
    first_of_group = np.concatenate([[True], g_sorted[1:] != g_sorted[:-1]])
    group_start = np.flatnonzero(first_of_group)
    rank = np.arange(len(srt)) - np.repeat(group_start, np.diff(np.concatenate([group_start, [len(srt)]])))
    gmin = np.full(int(group.max()) + 1, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(gmin, group, order)
    if not multi:
        srt = srt[first_of_group]
        rank = rank[first_of_group]
    sel = srt
    out_order = gmin[group[sel]]
    final = np.lexsort((rank, out_order))
    sel, rank, out_order = sel[final], rank[final], out_order[final]
    k = idx[sel]
    txs = _LazyTranscripts(a, k, out_order, rank, prio[sel])
    chroms = [c.decode("utf-8", "replace") for c in a["chrom_names"].tolist()]
    return GeneIndex(txs, source, _arrays=(a["tx_chrom"][k], chroms, a["tx_start"][k], a["tx_end"][k]))


def load_gtf(path: str | Path, transcripts: str = "auto", types: tuple[str, ...] | None = None,
             root: Path | None = None, cache: bool = False, log=None) -> GeneIndex:
    """Load a GTF or GFF3 (optionally gzipped) through the vectorised reader
    (:mod:`splicescore.io.gtfindex`); with ``cache`` its compiled index is taken from (or written to)
    the cache folder under ``root``. Same genes and transcripts as :func:`load_gtf_lines`."""
    from splicescore.io import gtfindex

    path = Path(path)
    if cache:
        _, arrays = gtfindex.load_source(path, root, log)
    else:
        arrays = gtfindex.parse(path)
    return select_transcripts(arrays, transcripts, types, str(path))


def load_annotation(spec: str, transcripts: str = "auto", builtin_dir: Path | None = None,
                    types: tuple[str, ...] | None = None, root: Path | None = None, cache: bool = True,
                    log=None) -> GeneIndex:
    """``grch37``/``grch38`` (the SpliceAI tables from the weights cache), a SpliceAI-format table,
    a compiled index (``splicescore annotation build``), or a GTF/GFF3 path (its compiled index is
    cached under ``root``, default ``$SPLICESCORE_HOME``, when ``cache``)."""
    if spec in ("grch37", "grch38"):
        if builtin_dir is None:
            raise InputError(f"built-in annotation {spec} needs the SpliceAI package files")
        return load_spliceai_table(builtin_dir / f"{spec}.txt")
    path = Path(spec)
    if not path.is_file():
        raise InputError("annotation file not found (use grch37, grch38, a SpliceAI gene table or a GTF/GFF3)", spec)
    from splicescore.io import gtfindex

    if gtfindex.is_index_file(path):
        _, arrays = gtfindex.read_index(path)
        return select_transcripts(arrays, transcripts, types, spec)
    try:
        with _open_text(path) as fh:
            first = fh.readline()
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read annotation: {exc}", spec) from exc
    if first.startswith("#NAME"):
        return load_spliceai_table(path)
    return load_gtf(path, transcripts, types, root, cache, log)
