"""The vectorised GTF/GFF3 reader: every transcript of a file with its exons, as the arrays of the
compiled annotation index (:mod:`splicescore.io.gtfindex`).

A GTF or GFF3 (plain or gzipped) is read once in blocks of whole lines: numpy finds the lines,
their columns and comment lines; polars (Rust) parses each block's columns and extracts the few
attributes splicescore reads with regular expressions over the whole column. Files the fast reader
does not take are read by the line-by-line reference loader (:mod:`splicescore.io.gtf_reference`),
whose rules it follows: the tests compare both on every test annotation.

Arrays (one entry per transcript unless said): ``chrom_names``, ``type_names`` (bytes); ``tx_id``,
``tx_gene``, ``tx_gene_id`` (bytes); ``tx_chrom``, ``tx_type`` (codes into the name arrays);
``tx_strand`` (1: minus); ``tx_start``, ``tx_end`` (1-based inclusive); ``tx_order`` (file order);
``tx_group`` (gene code); ``tx_flags`` (:data:`TAG_BITS`); ``tx_exonic`` (exonic bases); ``ex_off``
``(n + 1,)`` offsets into ``ex_start``, ``ex_end`` (the exons, sorted).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from splicescore.errors import InputError
from splicescore.io.textfile import is_gzip

#: version of the reader's output rules (a compiled index of another version is rebuilt)
PARSER_VERSION = 1
BLOCK = 16 << 20  # bytes of text parsed at a time (bounds the parser's memory)

# tag bits
MANE_SELECT, MANE_PLUS_CLINICAL, CANONICAL, BASIC = 1, 2, 4, 8
TAG_BITS = {"MANE_Select": MANE_SELECT, "MANE_Plus_Clinical": MANE_PLUS_CLINICAL,
            "Ensembl_canonical": CANONICAL, "basic": BASIC}


def _gtf(key: str) -> str:
    # first value of ``key`` in a GTF attribute column (the reference loader's ``key "value";``)
    return rf'(?:^|;)\s*{key}\s+"?([^";]*)'


def _gff(key: str, first: bool = True) -> str:
    # first value (or the whole comma list) of ``key`` in a GFF3 attribute column
    return rf'(?:^|;)\s*{key}\s*=([^;{"," if first else ""}]*)'


def _tag(tag: str, gff3: bool) -> str:
    if gff3:
        return rf'(?:^|;)\s*tag\s*=(?:[^;]*,)?{tag}(?:,|;|$)'
    return rf'(?:^|;)\s*tag\s+"?{tag}(?:"|;|$)'


def _blocks(path: Path):
    """(text block of whole lines, number of lines before it) for the file."""
    opener = open
    if is_gzip(path):
        try:  # ISA-L's gzip is 2-3 times faster than zlib's
            from isal import igzip

            opener = igzip.open
        except ImportError:
            opener = gzip.open
    lines_before = 0
    rest = b""
    with opener(path, "rb") as fh:
        while True:
            data = fh.read(BLOCK)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            lines_before += yield block, lines_before
    if rest:
        yield rest + b"\n", lines_before


def _data_lines(block: bytes, lines_before: int, path: Path):
    """The block's data lines (neither blank nor ``#``) that can hold a gene, transcript or exon,
    as (their 1-based line numbers, the block cut down to them). Every data line is checked here,
    vectorised: 9 tab-separated columns and numeric start/end, else one error naming the line."""
    buf = np.frombuffer(block, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], nl[:-1] + 1]).astype(np.int64)
    length = nl - starts
    first = buf[np.minimum(starts, len(buf) - 1)]
    data = (length > 0) & (first != ord("#"))
    tabs = np.flatnonzero(buf == 9)
    tab0 = np.searchsorted(tabs, starts)  # index (in tabs) of each line's first tab
    per_line = np.searchsorted(tabs, nl) - tab0
    bad = np.flatnonzero(data & (per_line != 8))
    blank = []
    for i in bad:  # a whitespace-only line is skipped like a blank one; anything else is an error
        if block[starts[i] : nl[i]].strip():
            raise InputError(f"expected 9 tab-separated columns, found {per_line[i] + 1}", str(path),
                             lines_before + int(i) + 1)
        blank.append(int(i))
    data[blank] = False
    rows = np.flatnonzero(data)
    if not len(rows):
        return len(nl), rows, b""
    t = tabs[tab0[rows][:, None] + np.arange(8)]  # the 8 tabs of every data line
    # start and end (columns 4, 5) must be digits: count non-digit bytes per field
    lo = np.stack([t[:, 2] + 1, t[:, 3] + 1], axis=1).ravel()
    hi = np.stack([t[:, 3], t[:, 4]], axis=1).ravel()
    width = int((hi - lo).max()) if len(lo) else 0
    at = lo[:, None] + np.arange(max(width, 1))
    inside = at < hi[:, None]
    byte = buf[np.minimum(at, len(buf) - 1)]
    nondigit = (((byte < 48) | (byte > 57)) & inside).any(axis=1)
    bad_num = nondigit | (hi <= lo)
    if bad_num.any():
        i = int(np.flatnonzero(bad_num)[0]) // 2
        line = block[starts[rows[i]] : nl[rows[i]]].split(b"\t")
        try:
            int(line[3]), int(line[4])
        except ValueError:
            raise InputError("non-numeric start/end", str(path), lines_before + int(rows[i]) + 1) from None
        # int() takes what the digit test does not ("+5", " 5"): let the slow path decide
        raise _Fallback()
    # a superset of the features read: 4 letters (gene, exon, mRNA) or ending in "t" (*transcript)
    flen = t[:, 2] - t[:, 1] - 1
    keep = (flen == 4) | (buf[t[:, 2] - 1] == ord("t"))
    rows = rows[keep]
    mask = np.zeros(len(nl), bool)
    mask[rows] = True
    byte_mask = np.repeat(mask, length + 1)
    return len(nl), rows + lines_before + 1, buf[byte_mask].tobytes()


def _parse_block(block: bytes, lines_before: int, path: Path):
    import polars as pl

    n_lines, line_no, block = _data_lines(block, lines_before, path)
    if not len(line_no):
        return None
    df = pl.read_csv(
        block, has_header=False, separator="\t", quote_char=None, infer_schema=False,
        columns=[0, 2, 3, 4, 6, 8],
    )
    df.columns = ["chrom", "feature", "start", "end", "strand", "attr"]
    if df.height != len(line_no):
        raise _Fallback()
    df = df.with_columns(line=pl.Series(line_no, dtype=pl.Int64), start=pl.col("start").cast(pl.Int64),
                         end=pl.col("end").cast(pl.Int64))
    feature = pl.col("feature")
    first_item = pl.col("attr").str.extract(r"^([^;]*)")
    df = df.with_columns(gff3=first_item.str.contains("=", literal=True) & ~first_item.str.contains('"', literal=True))
    is_tx = feature.is_in(["transcript", "mRNA"]) | (pl.col("gff3") & feature.str.ends_with("_transcript"))
    df = df.filter((feature == "gene") | (feature == "exon") | is_tx)
    df = df.with_columns(kind=pl.when(feature == "gene").then(0).when(feature == "exon").then(2).otherwise(1))
    out = [[], [], [], []]
    for gff3, part in df.partition_by("gff3", as_dict=True).items():
        got = _attributes(part, bool(gff3[0]))
        for acc, frame in zip(out, got):
            acc.append(frame)
    return (n_lines, *(pl.concat(x) for x in out))


def _attributes(df, gff3: bool):
    """(genes, transcripts, exons, first exons) of a block's rows of one kind (GTF or GFF3)."""
    import polars as pl

    a = pl.col("attr")

    def attr(key: str, first: bool = True):
        return a.str.extract(_gff(key, first) if gff3 else _gtf(key))

    def flags():
        out = pl.lit(0, dtype=pl.UInt8)
        for tag, bit in TAG_BITS.items():
            hit = a.str.contains(_tag(tag, gff3))
            out = out | pl.when(hit).then(pl.lit(bit, dtype=pl.UInt8)).otherwise(pl.lit(0, dtype=pl.UInt8))
        return out

    ttype = pl.coalesce(attr("transcript_type"), attr("transcript_biotype"), attr("biotype"))
    genes = df.filter(pl.col("kind") == 0).select(
        "line",
        gid=pl.coalesce(attr("gene_id"), attr("ID")),
        name=pl.coalesce(attr("gene_name"), attr("Name"), attr("gene")),
    )
    txs = df.filter(pl.col("kind") == 1).select(
        "line", "chrom", "strand", "start", "end",
        tid=pl.coalesce(attr("transcript_id"), attr("ID")).fill_null(""),
        gid=pl.coalesce(attr("gene_id"), attr("Parent")).fill_null(""),
        gname=attr("gene_name"), flags=flags(), ttype=ttype,
    )
    exons = df.filter(pl.col("kind") == 2).with_columns(
        tid=pl.coalesce(attr("transcript_id", first=False), attr("Parent", first=False))
    ).filter(pl.col("tid").is_not_null())
    if gff3:  # GFF3 lists several parents with commas (GTF: one transcript_id); never creates a transcript
        exons = exons.with_columns(tid=pl.col("tid").str.split(",")).explode("tid")
        firsts = exons.head(0).select(
            "line", "chrom", "strand", "tid", gid=pl.lit(""), gname=pl.lit(None, dtype=pl.String),
            flags=pl.lit(0, dtype=pl.UInt8), ttype=pl.lit(None, dtype=pl.String))
    else:
        # the first GTF exon line of a transcript may create it (reference loader: no transcript line yet)
        firsts = exons.unique("tid", keep="first", maintain_order=True).select(
            "line", "chrom", "strand", "tid", gid=attr("gene_id").fill_null(""), gname=attr("gene_name"),
            flags=flags(), ttype=ttype)
    exons = exons.select(pl.col("tid").cast(pl.Categorical), pl.col("start").cast(pl.Int32),
                         pl.col("end").cast(pl.Int32))
    return genes, txs, exons, firsts


class _Fallback(Exception):
    """The block is not what the fast reader expects: parse the file line by line instead."""


def parse(path: str | Path) -> dict[str, np.ndarray]:
    """Every transcript of a GTF/GFF3 with its exons, as the index's arrays (``meta`` excluded)."""
    import polars as pl

    path = Path(path)
    parts: list[tuple] = []
    try:
        blocks = _blocks(path)
        item = next(blocks, None)
        while item is not None:
            block, before = item
            try:
                got = _parse_block(block, before, path)
            except _Fallback:
                return _from_reference(path)
            except pl.exceptions.PolarsError:
                return _from_reference(path)
            if got is not None:
                parts.append(got[1:])
            try:
                item = blocks.send(got[0] if got is not None else block.count(b"\n"))
            except StopIteration:
                item = None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read annotation: {exc}", str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read annotation: {exc}", str(path)) from exc
    if not parts:
        raise InputError("annotation holds no transcripts with exons", str(path))
    genes = pl.concat([p[0] for p in parts]).sort("line")
    txs = pl.concat([p[1] for p in parts]).sort("line")
    exons = pl.concat([p[2] for p in parts])
    firsts = pl.concat([p[3] for p in parts]).sort("line").unique("tid", keep="first", maintain_order=True)
    del parts

    gene_names = genes.with_columns(name=pl.coalesce("name", "gid")).filter(pl.col("gid").is_not_null()) \
        .unique("gid", keep="last", maintain_order=True).select("gid", gene_name="name")
    tx_first = txs.group_by("tid").agg(first_tx=pl.col("line").min())
    created = firsts.join(tx_first, on="tid", how="left").filter(
        pl.col("first_tx").is_null() | (pl.col("line") < pl.col("first_tx")))
    events = np.sort(np.concatenate([txs["line"].to_numpy(), created["line"].to_numpy()]))
    last_tx = txs.unique("tid", keep="last", maintain_order=True)
    from_exon = created.join(last_tx.select("tid"), on="tid", how="anti").select(
        "line", "chrom", "strand", "tid", "gid", "gname", "flags", "ttype",
        start=pl.lit(None, dtype=pl.Int64), end=pl.lit(None, dtype=pl.Int64))
    info = pl.concat([last_tx.select(from_exon.columns), from_exon])
    info = info.with_columns(order=pl.Series(np.searchsorted(events, info["line"].to_numpy()) + 1, dtype=pl.Int64))
    info = info.sort("order").with_row_index("k0")
    # exons per transcript, sorted (start, end), by integer keys
    key = info.select(pl.col("tid").cast(pl.Categorical), k0=pl.col("k0").cast(pl.Int64))
    ex = exons.join(key, on="tid", how="inner").select("k0", "start", "end").sort(["k0", "start", "end"])
    del exons, key
    k0 = ex["k0"].to_numpy()
    ex_start = ex["start"].to_numpy().astype(np.int64)
    ex_end = ex["end"].to_numpy().astype(np.int64)
    del ex
    counts = np.bincount(k0, minlength=info.height)
    keep = (counts > 0) & info["strand"].is_in(["+", "-"]).to_numpy()
    offs = np.concatenate([[0], np.cumsum(counts)])
    has = np.flatnonzero(counts > 0)
    first_start = np.zeros(info.height, np.int64)
    max_end = np.zeros(info.height, np.int64)
    exonic = np.zeros(info.height, np.int64)
    if len(has):
        first_start[has] = ex_start[offs[has]]
        max_end[has] = np.maximum.reduceat(ex_end, offs[has])
        exonic[has] = np.add.reduceat(ex_end - ex_start + 1, offs[has])
    ex_keep = np.repeat(keep, counts)
    ex_start, ex_end = ex_start[ex_keep], ex_end[ex_keep]
    info = info.with_columns(n=pl.Series(counts), first_start=pl.Series(first_start), max_end=pl.Series(max_end),
                             exonic=pl.Series(exonic)).filter(pl.Series(keep))
    info = info.join(gene_names, left_on="gid", right_on="gid", how="left", maintain_order="left")
    gene = pl.coalesce("gname", "gid")
    gene = pl.when(gene == pl.col("gid")).then(pl.coalesce("gene_name", gene)).otherwise(gene)
    info = info.with_columns(gene=gene).with_columns(
        gene=pl.when(pl.col("gene").str.starts_with("gene:"))
        .then(pl.col("gene").str.split(":").list.last()).otherwise(pl.col("gene")),
        gene_id=pl.when(pl.col("gid").str.starts_with("gene:"))
        .then(pl.col("gid").str.slice(5)).otherwise(pl.col("gid")),
        tx_start=pl.coalesce("start", "first_start"), tx_end=pl.coalesce("end", "max_end"),
    ).with_columns(group_key=pl.when(pl.col("gid") != "").then(pl.col("gid")).otherwise(pl.col("gene")))
    if info.height == 0:
        raise InputError("annotation holds no transcripts with exons", str(path))
    ex_off = np.concatenate([[0], np.cumsum(info["n"].to_numpy())]).astype(np.int64)
    chroms = info["chrom"].unique(maintain_order=True)
    types = info["ttype"].fill_null("").unique(maintain_order=True)
    groups = info["group_key"].unique(maintain_order=True)
    code = lambda col, names: info[col].fill_null("").replace_strict(names, range(len(names)), return_dtype=pl.Int32).to_numpy()  # noqa: E731
    return {
        "chrom_names": _bytes(chroms),
        "type_names": _bytes(types),
        "tx_id": _bytes(info["tid"]),
        "tx_gene": _bytes(info["gene"]),
        "tx_gene_id": _bytes(info["gene_id"]),
        "tx_chrom": code("chrom", chroms),
        "tx_strand": (info["strand"] == "-").to_numpy().astype(np.int8),
        "tx_start": info["tx_start"].to_numpy().astype(np.int64),
        "tx_end": info["tx_end"].to_numpy().astype(np.int64),
        "tx_order": info["order"].to_numpy().astype(np.int64),
        "tx_group": code("group_key", groups),
        "tx_flags": info["flags"].to_numpy().astype(np.uint8),
        "tx_type": code("ttype", types),
        "tx_exonic": info["exonic"].to_numpy().astype(np.int64),
        "ex_off": ex_off,
        "ex_start": ex_start,
        "ex_end": ex_end,
    }


def _bytes(series) -> np.ndarray:
    return _byte_strings(series.fill_null("").to_list())


def _byte_strings(strings) -> np.ndarray:
    """``strings`` as a numpy bytes array (UTF-8, as wide as the longest, at least 1)."""
    values = [s.encode("utf-8") for s in strings]
    return np.array(values, dtype=f"S{max([len(v) for v in values] + [1])}")


def _from_reference(path: Path) -> dict[str, np.ndarray]:
    """The arrays from the line-by-line reference loader (files the fast reader does not take)."""
    from splicescore.io.gtf_reference import read_gtf_lines

    txs = read_gtf_lines(path)  # every valid transcript, in order, with flags/type
    if not txs:
        raise InputError("annotation holds no transcripts with exons", str(path))
    chroms = list(dict.fromkeys(t["chrom"] for t in txs))
    types = list(dict.fromkeys(t["ttype"] for t in txs))
    groups = list(dict.fromkeys(t["group"] for t in txs))
    ci, ti, gi = ({n: i for i, n in enumerate(x)} for x in (chroms, types, groups))

    b = _byte_strings
    ex = [e for t in txs for e in t["exons"]]
    return {
        "chrom_names": b(chroms), "type_names": b(types),
        "tx_id": b(t["tid"] for t in txs), "tx_gene": b(t["gene"] for t in txs),
        "tx_gene_id": b(t["gene_id"] for t in txs),
        "tx_chrom": np.array([ci[t["chrom"]] for t in txs], np.int32),
        "tx_strand": np.array([t["strand"] == "-" for t in txs], np.int8),
        "tx_start": np.array([t["start"] for t in txs], np.int64),
        "tx_end": np.array([t["end"] for t in txs], np.int64),
        "tx_order": np.array([t["order"] for t in txs], np.int64),
        "tx_group": np.array([gi[t["group"]] for t in txs], np.int32),
        "tx_flags": np.array([t["flags"] for t in txs], np.uint8),
        "tx_type": np.array([ti[t["ttype"]] for t in txs], np.int32),
        "tx_exonic": np.array([sum(e - s + 1 for s, e in t["exons"]) for t in txs], np.int64),
        "ex_off": np.concatenate([[0], np.cumsum([len(t["exons"]) for t in txs])]).astype(np.int64),
        "ex_start": np.array([s for s, _ in ex], np.int64),
        "ex_end": np.array([e for _, e in ex], np.int64),
    }
