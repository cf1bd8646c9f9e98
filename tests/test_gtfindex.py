"""The compiled GTF/GFF3 index: same genes and transcripts as the line-by-line loader, a data-only
cache file keyed by the source's sha256, refused or rebuilt when stale, foreign or corrupt."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from splicescore.io import gtf_reader, gtfindex
from splicescore.io.annotation import load_annotation, load_gtf, load_gtf_lines
from splicescore.errors import InputError

REPO = Path(__file__).resolve().parents[1]
OLD_FIELDS = [f.name for f in dataclasses.fields(load_gtf_lines.__globals__["Transcript"])][:10]


def _content(index):
    """Every field the reference loader sets, transcript by transcript, in index order."""
    return [tuple(getattr(t, f) for f in OLD_FIELDS) for t in index.transcripts]


def _same(path, mode="auto"):
    old, new = load_gtf_lines(path, mode), load_gtf(path, mode)
    assert _content(new) == _content(old)
    # the interval look-ups agree too
    for t in old.transcripts[:: max(1, len(old) // 20)]:
        for pos in (t.tx_start1, (t.tx_start1 + t.tx_end1) // 2, t.tx_end1):
            assert _content_of(new.at(t.chrom, pos)) == _content_of(old.at(t.chrom, pos))


def _content_of(txs):
    return [tuple(getattr(t, f) for f in OLD_FIELDS) for t in txs]


def _line(chrom, feature, start, end, strand, attrs):
    return f"{chrom}\tt\t{feature}\t{start}\t{end}\t.\t{strand}\t.\t{attrs}\n"


@pytest.fixture(scope="module")
def gencode_like(tmp_path_factory):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gencode_gtf
    finally:
        sys.path.pop(0)
    path = tmp_path_factory.mktemp("gtf") / "gencode_like.gtf.gz"
    gencode_gtf.write(str(path), genes=60, tx_per_gene=4)
    return path


@pytest.mark.parametrize("mode", ["auto", "longest", "ids"])
def test_same_as_reference_loader_on_the_shared_gtf(shared, tmp_path, mode):
    path = shared / "data/annotation/grch38_slices.gtf"
    if mode == "ids":
        ids = tmp_path / "ids.txt"
        ids.write_text("BRCA1.1\nMLX.1\n")
        mode = str(ids)
    _same(path, mode)
    assert len(load_gtf(path)) == 50


@pytest.mark.parametrize("mode", ["auto", "longest", "ids"])
def test_same_as_reference_loader_on_gencode_style(gencode_like, tmp_path, mode):
    if mode == "ids":
        ids = tmp_path / "ids.txt"
        ids.write_text("ENST00000000002.2\nENST00000000007.3 extra words\n\nENST00000000100.4\n")
        mode = str(ids)
    _same(gencode_like, mode)


EDGE_GTF = "".join([
    "#!genome-build test\n",
    _line("chr1", "gene", 100, 900, "+", 'gene_id "G1"; gene_name "ONE";'),
    # exons before their transcript line (the transcript takes the exon's place, then its own line's)
    _line("chr1", "exon", 600, 900, "+", 'gene_id "G1"; transcript_id "T2"; gene_name "ONE";'),
    _line("chr1", "exon", 100, 200, "+", 'gene_id "G1"; transcript_id "T2"; gene_name "ONE";'),
    "\n",
    _line("chr1", "transcript", 100, 900, "+", 'gene_id "G1"; transcript_id "T2"; tag "Ensembl_canonical";'),
    _line("chr1", "CDS", 150, 200, "+", 'gene_id "G1"; transcript_id "T2";'),
    # a transcript with no transcript line: span from its exons; gene name from the gene line
    _line("chr1", "exon", 300, 400, "+", 'gene_id "G1"; transcript_id "T3"; exon_number 1;'),
    _line("chr1", "exon", 350, 700, "+", 'gene_id "G1"; transcript_id "T3"; exon_number 2;'),
    "   \n",
    # a gene whose gene line comes after its transcripts; a duplicated transcript line
    _line("chr2", "transcript", 1000, 2000, "-", 'gene_id "G2"; transcript_id "T4";'),
    _line("chr2", "exon", 1000, 1100, "-", 'gene_id "G2"; transcript_id "T4";'),
    _line("chr2", "exon", 1900, 2000, "-", 'gene_id "G2"; transcript_id "T4";'),
    _line("chr2", "transcript", 1000, 2100, "-", 'gene_id "G2"; transcript_id "T5"; tag "MANE_Select";'),
    _line("chr2", "exon", 1000, 1100, "-", 'gene_id "G2"; transcript_id "T5";'),
    _line("chr2", "transcript", 1000, 2050, "-", 'gene_id "G2"; transcript_id "T5"; tag "basic";'),
    _line("chr2", "exon", 2000, 2050, "-", 'gene_id "G2"; transcript_id "T5";'),
    _line("chr2", "gene", 1000, 2100, "-", 'gene_id "G2"; gene_name "TWO";'),
    # no strand: dropped; no exons: dropped; unquoted values
    _line("chr3", "transcript", 10, 20, ".", 'gene_id "G3"; transcript_id "T6";'),
    _line("chr3", "exon", 10, 20, ".", 'gene_id "G3"; transcript_id "T6";'),
    _line("chr3", "transcript", 10, 90, "+", 'gene_id G4; transcript_id T7; gene_name FOUR;'),
    _line("chr3", "transcript", 10, 90, "+", 'gene_id G4; transcript_id T8; gene_name FOUR;'),
    _line("chr3", "exon", 10, 90, "+", 'gene_id G4; transcript_id T8; gene_name FOUR;'),
])

EDGE_GFF3 = "".join([
    "##gff-version 3\n",
    _line("1", "gene", 100, 900, "-", "ID=gene:G2;Name=TWO;biotype=protein_coding"),
    _line("1", "mRNA", 100, 900, "-", "ID=transcript:T1;Parent=gene:G2;tag=basic,Ensembl_canonical;biotype=protein_coding"),
    _line("1", "lnc_RNA", 100, 900, "-", "ID=transcript:T9;Parent=gene:G2"),
    _line("1", "exon", 100, 300, "-", "Parent=transcript:T1,transcript:T2"),
    _line("1", "exon", 800, 900, "-", "Parent=transcript:T1"),
    _line("1", "NMD_transcript", 150, 950, "-", "ID=transcript:T2;Parent=gene:G2;tag=MANE_Select"),
    _line("1", "exon", 940, 950, "-", "Parent=transcript:T2"),
    _line("1", "exon", 150, 160, "-", "Parent=transcript:T9"),
    _line("1", "gene", 2000, 3000, "+", "ID=gene:G3"),
    _line("1", "transcript", 2000, 3000, "+", "ID=transcript:T3;Parent=gene:G3"),
    _line("1", "exon", 2000, 3000, "+", "Parent=transcript:T3"),
    "###\n",
])


@pytest.mark.parametrize("name, text", [("edge.gtf", EDGE_GTF), ("edge.gtf.gz", EDGE_GTF), ("edge.gff3", EDGE_GFF3)])
@pytest.mark.parametrize("mode", ["auto", "longest"])
def test_same_as_reference_loader_on_edge_cases(tmp_path, name, text, mode):
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    _same(path, mode)
    assert len(load_gtf(path, mode)) == len(load_gtf_lines(path, mode)) > 0


def test_test_annotation_files_agree(tmp_path):
    """The GTF/GFF3 snippets of tests/test_annotation.py."""
    import test_annotation as ta

    lines = [
        ta._gtf_line("chr1", "gene", 100, 900, "+", 'gene_id "G1"; gene_name "ONE";'),
        ta._gtf_line("chr1", "transcript", 100, 900, "+", 'gene_id "G1"; transcript_id "T_long"; gene_name "ONE";'),
        ta._gtf_line("chr1", "exon", 100, 500, "+", 'gene_id "G1"; transcript_id "T_long"; gene_name "ONE";'),
        ta._gtf_line("chr1", "transcript", 100, 700, "+",
                     'gene_id "G1"; transcript_id "T_mane"; gene_name "ONE"; tag "basic"; tag "MANE_Select";'),
        ta._gtf_line("chr1", "exon", 100, 200, "+", 'gene_id "G1"; transcript_id "T_mane"; gene_name "ONE";'),
    ]
    path = tmp_path / "a.gtf"
    path.write_text("".join(lines))
    for mode in ("auto", "longest"):
        _same(path, mode)
    assert load_gtf(path).transcripts[0].transcript_id == "T_mane"


@pytest.mark.parametrize("text, message, line", [
    ("#c\n" + _line("1", "exon", 1, 2, "+", 'transcript_id "T";') + "1\tt\texon\t1\t2\t.\t+\n", "expected 9", 3),
    ("\n" + _line("1", "exon", 1, 2, "+", 'transcript_id "T";') + _line("1", "CDS", "x", 2, "+", "a"), "non-numeric", 3),
])
def test_bad_lines_name_file_and_line(tmp_path, text, message, line):
    path = tmp_path / "bad.gtf"
    path.write_text(text)
    for loader in (load_gtf_lines, load_gtf):
        with pytest.raises(InputError, match=rf"bad.gtf:{line}: {message}"):
            loader(path)


def test_blocks_split_lines_anywhere(tmp_path, gencode_like, monkeypatch):
    """Blocks of any size give the same index (lines cut at block ends are carried over)."""
    whole = gtf_reader.parse(gencode_like)
    monkeypatch.setattr(gtf_reader, "BLOCK", 4093)
    pieces = gtf_reader.parse(gencode_like)
    assert whole.keys() == pieces.keys()
    for k in whole:
        assert np.array_equal(whole[k], pieces[k]), k


# -- the cached index -------------------------------------------------------------------------------

def test_cache_built_once_then_loaded(tmp_path, gencode_like, monkeypatch):
    first = load_annotation(str(gencode_like), root=tmp_path)
    (cached,) = (tmp_path / "annotation").iterdir()
    assert cached.name == f"{gtfindex.sha256_file(gencode_like)}.p{gtfindex.PARSER_VERSION}{gtfindex.SUFFIX}"
    assert not [p for p in cached.parent.iterdir() if p.suffix == ".tmp"]

    def no_parse(*a, **k):
        raise AssertionError("parsed again")

    monkeypatch.setattr(gtfindex, "parse", no_parse)
    again = load_annotation(str(gencode_like), root=tmp_path)
    assert _content(again) == _content(first)
    # the index holds data only: it loads without pickle
    with np.load(cached, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes())
    assert meta["source_sha256"] == gtfindex.sha256_file(gencode_like)
    assert (meta["format_version"], meta["parser_version"]) == (gtfindex.FORMAT_VERSION, gtfindex.PARSER_VERSION)


def _rewrite(path: Path, **changes):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays.pop("meta").tobytes())
    for k, v in changes.items():
        if k in meta:
            meta[k] = v
        else:
            arrays[k] = v
    np.savez(path, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other_source", "old_parser", "inconsistent", "pickle"])
def test_bad_cached_index_is_rebuilt(tmp_path, gencode_like, damage, caplog):
    good = _content(load_annotation(str(gencode_like), root=tmp_path))
    (cached,) = (tmp_path / "annotation").iterdir()
    if damage == "garbage":
        cached.write_bytes(b"PK\x03\x04 not a zip")
    elif damage == "truncated":
        cached.write_bytes(cached.read_bytes()[:1000])
    elif damage == "other_source":
        _rewrite(cached, source_sha256="0" * 64)
    elif damage == "old_parser":
        _rewrite(cached, parser_version=0)
    elif damage == "inconsistent":
        _rewrite(cached, ex_off=np.zeros(3, np.int64))
    else:
        _rewrite(cached, tx_id=np.array([object()] * 3, dtype=object))
    messages = []
    again = load_annotation(str(gencode_like), root=tmp_path, log=messages.append)
    assert _content(again) == good
    assert len(messages) == 1 and "rebuilding" in messages[0]
    gtfindex.read_index(cached, gtfindex.sha256_file(gencode_like))  # a good one again


@pytest.mark.parametrize("damage, message", [
    ("garbage", "unreadable annotation index"),
    ("old_parser", "rebuild it with `splicescore annotation build`"),
    ("inconsistent", "corrupt annotation index"),
    ("pickle", "unreadable annotation index"),
])
def test_bad_explicit_index_is_refused_in_one_line(tmp_path, gencode_like, damage, message):
    out = gtfindex.build(gencode_like, tmp_path / "x.ssidx.npz")
    if damage == "garbage":
        out.write_bytes(b"PK\x03\x04 not a zip")
    elif damage == "old_parser":
        _rewrite(out, parser_version=99)
    elif damage == "inconsistent":
        _rewrite(out, tx_chrom=np.full(3, 7, np.int32))
    else:
        _rewrite(out, tx_id=np.array([object()] * 3, dtype=object))
    with pytest.raises(InputError, match=message) as exc:
        load_annotation(str(out))
    assert "\n" not in str(exc.value) and str(out) in str(exc.value)


def test_unwritable_cache_still_loads(tmp_path, gencode_like):
    root = tmp_path / "ro"
    root.mkdir()
    (root / "annotation").write_text("a file where the folder should be")
    messages = []
    genes = load_annotation(str(gencode_like), root=root, log=messages.append)
    assert len(genes) == 60 and "cannot cache" in messages[0]


def test_build_command_and_a_built_index(tmp_path, gencode_like, shared):
    out = tmp_path / "gencode.ssidx.npz"
    env = {**os.environ, "SPLICESCORE_HOME": str(tmp_path / "home")}
    r = subprocess.run([sys.executable, "-m", "splicescore", "annotation", "build", str(gencode_like), "-o", str(out)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "built in" in r.stderr and out.is_file()
    assert not (tmp_path / "home").exists()  # -o: nothing in the cache
    assert _content(load_annotation(str(out))) == _content(load_gtf_lines(gencode_like))
    assert _content(load_annotation(str(out), "longest")) == _content(load_gtf_lines(gencode_like, "longest"))
    r = subprocess.run([sys.executable, "-m", "splicescore", "annotation", "build", str(gencode_like), "-o",
                        str(tmp_path / "missing" / "x.npz")], capture_output=True, text=True, env=env)
    assert r.returncode == 5 and r.stderr.count("\n") == 1 and "cannot write the annotation index" in r.stderr


def test_concurrent_builds_leave_one_good_index(tmp_path, gencode_like):
    """Shards starting together all build; each writes a temporary file and renames it."""
    code = ("import sys; from pathlib import Path; from splicescore.io.annotation import load_annotation; "
            "print(len(load_annotation(sys.argv[1], root=Path(sys.argv[2]))))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(gencode_like), str(tmp_path)], stdout=subprocess.PIPE,
                              text=True) for _ in range(3)]
    assert [p.communicate()[0].strip() for p in procs] == ["60"] * 3
    files = list((tmp_path / "annotation").iterdir())
    assert len(files) == 1 and files[0].name.endswith(gtfindex.SUFFIX)
    gtfindex.read_index(files[0], gtfindex.sha256_file(gencode_like))


@pytest.mark.parametrize("name, text", [("edge.gtf", EDGE_GTF), ("edge.gff3", EDGE_GFF3)])
def test_line_by_line_fallback_builds_the_same_arrays(tmp_path, gencode_like, name, text):
    """Files the vectorised reader hands over (``_Fallback``) get the same index from the reference loop."""
    path = tmp_path / name
    path.write_text(text)
    for p in (path, gencode_like):
        fast, slow = gtfindex.parse(p), gtf_reader._from_reference(Path(p))
        assert fast.keys() == slow.keys()
        for k in fast:
            assert np.array_equal(fast[k], slow[k]), (p, k)


# -- --transcripts modes ------------------------------------------------------------------------------

def _by_gene(index):
    out = {}
    for t in index.transcripts:
        out.setdefault(t.gene, []).append(t)
    return out


def test_transcript_modes(gencode_like):
    from splicescore.io.annotation import read_gtf_lines

    rows = read_gtf_lines(gencode_like)
    tags = {r["tid"]: r["flags"] for r in rows}
    ttype = {r["tid"]: r["ttype"] for r in rows}
    auto = {t.gene: t for t in load_gtf(gencode_like).transcripts}
    mane = load_gtf(gencode_like, "mane")
    assert {t.transcript_id for t in mane.transcripts} == {
        r["tid"] for r in rows if r["flags"] & (gtf_reader.MANE_SELECT | gtf_reader.MANE_PLUS_CLINICAL)}
    assert {t.priority for t in mane.transcripts} == {"MS", "MP"}
    canonical = load_gtf(gencode_like, "canonical")
    assert {t.transcript_id for t in canonical.transcripts} == {r["tid"] for r in rows if r["flags"] & gtf_reader.CANONICAL}
    basic = load_gtf(gencode_like, "basic")
    assert {t.transcript_id for t in basic.transcripts} == {r["tid"] for r in rows if r["flags"] & gtf_reader.BASIC}
    every = load_gtf(gencode_like, "all")
    assert {t.transcript_id for t in every.transcripts} == {
        r["tid"] for r in rows if r["ttype"] in ("protein_coding", "lncRNA")}
    assert {t.transcript_type for t in every.transcripts} == {"protein_coding", "lncRNA"}
    anytype = load_gtf(gencode_like, "all", ("processed_pseudogene", "retained_intron"))
    assert {t.transcript_type for t in anytype.transcripts} == {"processed_pseudogene", "retained_intron"}
    with pytest.raises(InputError, match="no transcript of the annotation is kept"):
        load_gtf(gencode_like, "all", ("no_such_type",))
    for gene, txs in _by_gene(every).items():
        # rank 0 first, then 1, 2...; the top one is what auto picks (MANE Select / canonical / longest)
        assert [t.rank for t in txs] == list(range(len(txs)))
        assert txs[0].transcript_id == auto[gene].transcript_id
        assert len({t.order for t in txs}) == 1 and txs[0].order == auto[gene].order
        codes = ["MS" if tags[t.transcript_id] & 1 else "MP" if tags[t.transcript_id] & 2 else
                 "C" if tags[t.transcript_id] & 4 else "N" for t in txs]
        assert [t.priority for t in txs] == codes
        assert all(ttype[t.transcript_id] == t.transcript_type for t in txs)
    # genes keep the order of the one-per-gene output
    assert list(dict.fromkeys(t.gene for t in every.transcripts)) == [g for g in auto if g in _by_gene(every)]
