"""The score cache (`vcf --cache FILE`) on real data: a hit writes the same bytes as a fresh score, the
key changes with everything that can change a score (options, reference sequence, model), bad cache
files are one-line input errors, and concurrent writers share one file.

The SpliceAI golden DEV records (BRCA1, chr17) with the real network; 12 records score in seconds.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pysam
import pytest

from splicescore import cache as sc
from splicescore import models, weights
from splicescore.pipeline import RunConfig
from splicescore.core.scorer import RecordResult, Variant

from conftest import REPO, run_main

FASTA = "data/grch38/chr17_brca1_region.fa.gz"
SUMMARY = re.compile(r"^  cache: (\d+) hits, (\d+) new \(", re.MULTILINE)


@pytest.fixture(scope="module")
def dev(shared) -> tuple[list[str], list[str]]:
    """(header lines, record lines) of the DEV input (records 1-8 at chr17:43,045,788-820, 9-12 at
    43,047,635-642, ...)."""
    lines = (shared / "golden/spliceai/dev.input.vcf").read_text().splitlines(keepends=True)
    return [l for l in lines if l.startswith("#")], [l for l in lines if not l.startswith("#")]


@pytest.fixture
def vcf(dev, tmp_path):
    """``vcf(first, last)``: a VCF of DEV records ``first..last - 1`` (0-based)."""

    def make(first: int, last: int) -> Path:
        path = tmp_path / f"dev_{first}_{last}.vcf"
        path.write_text("".join(dev[0] + dev[1][first:last]))
        return path

    return make


@dataclasses.dataclass
class Run:
    vcf: bytes
    tsv: bytes
    hits: int | None  # None: no cache line in the summary
    new: int | None


@pytest.fixture
def score(shared, weights_home, tmp_path, caplog):
    """``score(vcf, *args, fasta=...)``: one in-process CLI run in a fresh folder; its output bytes and
    the cache line of its stderr summary."""
    caplog.set_level(logging.INFO, logger="splicescore")
    runs = itertools.count()

    def run(vcf_path: Path, *args, fasta: Path | None = None) -> Run:
        out = tmp_path / f"run{next(runs)}"
        out.mkdir()
        caplog.clear()
        code = run_main(["vcf", "-i", vcf_path, "-o", out / "out.vcf", "--tsv", out / "out.tsv", "-r",
                         fasta or shared / FASTA, "-a", "grch38", "--chunk-size", "5",
                         "--device", "cpu", *args])  # byte equality is a CPU claim (GPU: same strings)
        assert code == 0
        found = SUMMARY.findall(caplog.text)
        assert len(found) <= 1
        hits, new = (int(x) for x in found[0]) if found else (None, None)
        return Run((out / "out.vcf").read_bytes(), (out / "out.tsv").read_bytes(), hits, new)

    return run


def same_bytes(a: Run, b: Run) -> bool:
    return a.vcf == b.vcf and a.tsv == b.tsv


# -- end to end ---------------------------------------------------------------------------------------

def test_rerun_takes_every_record_from_the_cache(score, vcf, tmp_path):
    path, db = vcf(0, 12), tmp_path / "scores.sqlite"
    plain = score(path)
    first = score(path, "--cache", db)
    second = score(path, "--cache", db)
    assert (plain.hits, first.hits, first.new, second.hits, second.new) == (None, 0, 12, 12, 0)
    assert same_bytes(first, plain) and same_bytes(second, plain)
    assert plain.vcf.count(b"SpliceAI=") >= 10 and plain.tsv.count(b"\n") > 10
    assert same_bytes(score(path, "--cache", db, "--chunk-size", "3"), plain)


def test_overlapping_records_hit_only_the_shared_ones(score, vcf, tmp_path):
    db = tmp_path / "scores.sqlite"
    assert score(vcf(0, 10), "--cache", db).new == 10
    later = score(vcf(5, 15), "--cache", db)
    assert (later.hits, later.new) == (5, 5)
    assert same_bytes(later, score(vcf(5, 15)))


def test_options_are_part_of_the_key(score, vcf, tmp_path):
    path, db = vcf(0, 5), tmp_path / "scores.sqlite"
    assert score(path, "--cache", db).new == 5
    for args in (["-D", "100"], ["-M", "1"], ["--pad-ends"]):
        run = score(path, "--cache", db, *args)
        assert (run.hits, run.new) == (0, 5), args
    assert same_bytes(run, score(path, "--pad-ends"))
    again = score(path, "--cache", db, "-M", "1")
    assert (again.hits, again.new) == (5, 0)


def write_fasta(path: Path, seq: str) -> Path:
    with open(path, "w") as fh:
        fh.write(">chr17\n")
        for i in range(0, len(seq), 100_000):
            fh.write(seq[i : i + 100_000] + "\n")
    return path


def test_changed_reference_misses_where_a_window_sees_it(shared, score, vcf, tmp_path):
    """A one-base change 4,788 nt left of record 1 is inside the windows (POS +- 5,050) of records 1-8,
    not of records 9-12 (from 43,047,635): those 8 are scored again, the other 4 hit."""
    length, changed = 43_060_000, 43_041_000  # a shorter chr17 holding every window of records 1-12
    with pysam.FastaFile(str(shared / FASTA)) as fa:
        seq = fa.fetch("chr17", 0, length)
    old = seq[changed - 1]
    assert old.upper() in "ACGT"
    new = "A" if old.upper() != "A" else "C"
    before = write_fasta(tmp_path / "before.fa", seq)
    after = write_fasta(tmp_path / "after.fa", seq[: changed - 1] + new + seq[changed:])
    path, db = vcf(0, 12), tmp_path / "scores.sqlite"
    assert score(path, "--cache", db, fasta=before).new == 12
    run = score(path, "--cache", db, fasta=after)
    assert (run.hits, run.new) == (4, 8)
    assert same_bytes(run, score(path, fasta=after))


@pytest.fixture(scope="module")
def hal_home(shared, weights_home):
    if not weights.is_installed("hal", weights_home):
        weights.import_weights("hal", [shared / "weights" / "hal"], weights_home)
    return weights_home


def test_each_model_has_its_own_entries(score, vcf, tmp_path, hal_home):
    path, db = vcf(0, 5), tmp_path / "scores.sqlite"
    assert score(path, "--cache", db).new == 5
    hal = score(path, "--cache", db, "-m", "hal")
    assert (hal.hits, hal.new) == (0, 5)
    both = score(path, "--cache", db, "-m", "spliceai,hal")
    assert (both.hits, both.new) == (10, 0)
    assert same_bytes(both, score(path, "-m", "spliceai,hal"))
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM scores").fetchone()[0] == 10


def test_a_failed_chunk_stores_nothing(shared, score, vcf, tmp_path, monkeypatch):
    """Writing fails in the second chunk: the first chunk's 5 results are stored, none of the second;
    a rerun reuses exactly those 5 and writes what an uncached run writes."""
    from splicescore.io.vcf_output import VcfOutput

    path, db = vcf(0, 9), tmp_path / "scores.sqlite"
    written = []
    real_write = VcfOutput.write

    def failing_write(self, rec):
        written.append(rec.POS)
        if len(written) == 7:
            raise OSError("disk full (simulated)")
        real_write(self, rec)

    monkeypatch.setattr(VcfOutput, "write", failing_write)
    code = run_main(["vcf", "-i", path, "-o", tmp_path / "o.vcf", "-r", shared / FASTA, "--chunk-size", "5",
                     "--cache", db])
    assert code != 0 and len(written) == 7
    monkeypatch.setattr(VcfOutput, "write", real_write)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM scores").fetchone()[0] == 5
    rerun = score(path, "--cache", db)
    assert (rerun.hits, rerun.new) == (5, 4)
    assert same_bytes(rerun, score(path))


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE samples (name TEXT)")


def _other_schema(path: Path) -> None:
    sc.ScoreCache(str(path)).close()
    with sqlite3.connect(path) as con:
        con.execute("UPDATE meta SET value = '999' WHERE name = 'schema'")


def _garbage(path: Path) -> None:
    path.write_bytes(b"chrom\tpos\tscore\n" * 100)


@pytest.mark.parametrize("make, words", [(_garbage, "not a splicescore score cache"),
                                         (_foreign, "not a splicescore score cache"),
                                         (_other_schema, "another splicescore version")],
                         ids=["not-sqlite", "foreign-sqlite", "other-schema"])
def test_bad_cache_file_is_one_line_input_error(shared, weights_home, vcf, tmp_path, capsys, make, words):
    db = tmp_path / "scores.sqlite"
    make(db)
    before = db.read_bytes()
    code = run_main(["vcf", "-i", vcf(0, 2), "-o", tmp_path / "o.vcf", "-r", shared / FASTA, "--cache", db])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert len(err) == 1 and err[0].startswith(f"splicescore: error: {db}: ") and words in err[0], err
    assert db.read_bytes() == before and not (tmp_path / "o.vcf").exists()


def test_verbose_shows_chunks_and_quiet_excludes_it(shared, weights_home, vcf, tmp_path):
    """Real stderr (a subprocess: in-process runs keep pytest's logging): -v adds a line per chunk, the
    default shows the summary with the cache line, -q with -v is a usage error."""
    path, db = vcf(0, 3), tmp_path / "scores.sqlite"
    base = ["vcf", "-i", path, "-o", tmp_path / "o.vcf", "-r", shared / FASTA, "--cache", db]

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "splicescore", *map(str, args)], capture_output=True, text=True,
                              cwd=REPO, env={**os.environ, "SPLICESCORE_HOME": str(weights_home)})

    verbose = cli("-v", *base)
    assert verbose.returncode == 0, verbose.stderr
    assert "splicescore: records 1-3 in " in verbose.stderr and "(cache: 0 hits, 3 new)" in verbose.stderr
    assert f"  cache: 0 hits, 3 new ({db})" in verbose.stderr
    default = cli(*base)
    assert default.returncode == 0, default.stderr
    assert "records 1-3 in" not in default.stderr and f"  cache: 3 hits, 0 new ({db})" in default.stderr
    both = cli("-q", "-v", *base)
    assert both.returncode == 2 and "exclude each other" in both.stderr


# -- the key --------------------------------------------------------------------------------------------

BASE_KEY = dict(
    model="spliceai",
    weights_sha256="0" * 64,
    settings={"distance": 50, "mask": False, "pad_ends": False, "transcripts": "auto", "pangolin_mask": True,
              "pangolin_cutoff": None, "hal_ref_psi": None, "sptransformer_flags": False, "pas_sha256": None,
              "device": "cpu", "scorer": {"distance": 50}},
    variant=Variant("17", 43045793, "T", ("A", "G"), 3),
    context={"sequence": "ACGTTGCAnnAC", "contig_length": 83_257_441, "pas_sites": None,
             "annotation": [{"gene": "BRCA1", "chrom": "17", "strand": "-", "tx_start1": 43044295,
                             "tx_end1": 43125483, "exon_starts1": (43044295, 43047643),
                             "exon_ends1": (43045802, 43049194), "transcript_id": "", "gene_id": ""}]},
)


def _changed(field: str, value) -> dict:
    """BASE_KEY with one (possibly nested, ``a.b``) field replaced."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE_KEY.items()}
    top, _, sub = field.partition(".")
    if sub:
        out[top][sub] = value
    else:
        out[top] = value
    return out


VARIATIONS = [
    ("model", "pangolin"),
    ("weights_sha256", "1" + "0" * 63),
    *[(f"settings.{k}", v) for k, v in [("distance", 51), ("mask", True), ("pad_ends", True), ("transcripts", "longest"),
                                        ("pangolin_mask", False), ("pangolin_cutoff", 0.5), ("hal_ref_psi", 0.6),
                                        ("sptransformer_flags", True), ("pas_sha256", "ab" * 32), ("device", "cuda"),
                                        ("scorer", {"distance": 51})]],
    ("variant", Variant("chr17", 43045793, "T", ("A", "G"), 3)),
    ("variant", Variant("17", 43045794, "T", ("A", "G"), 3)),
    ("variant", Variant("17", 43045793, "TA", ("A", "G"), 3)),
    ("variant", Variant("17", 43045793, "T", ("G", "A"), 3)),
    ("variant", Variant("17", 43045793, "T", ("A",), 3)),
    ("context.sequence", "ACGTTGCAnnAG"),
    ("context.sequence", "ACGTTGCANNAC"),  # case counts (soft-masking is kept as fetched)
    ("context.sequence", None),
    ("context.contig_length", 83_257_440),
    ("context.annotation", []),
    ("context.annotation", [{**BASE_KEY["context"]["annotation"][0], "exon_ends1": (43045802, 43049195)}]),
    ("context.pas_sites", [(43045700, "+")]),
]


def test_key_is_stable():
    assert sc.record_key(**BASE_KEY) == sc.record_key(**_changed("variant", BASE_KEY["variant"]))
    assert re.fullmatch(r"[0-9a-f]{64}", sc.record_key(**BASE_KEY))
    # the record number is not part of the key
    assert sc.record_key(**BASE_KEY) == sc.record_key(**_changed("variant", Variant("17", 43045793, "T", ("A", "G"), 9)))


def _id(field: str, value) -> str:
    if isinstance(value, Variant):
        return f"variant={value.chrom}:{value.pos1}:{value.ref}:{','.join(value.alts)}"
    return f"{field}={value!r}"[:40]


@pytest.mark.parametrize("field, value", VARIATIONS, ids=[_id(f, v) for f, v in VARIATIONS])
def test_key_changes_with_every_field(field, value):
    assert sc.record_key(**_changed(field, value)) != sc.record_key(**BASE_KEY)


def _with_option(cfg, name: str, value):
    """``cfg`` with one run option, or one model's own option (RunConfig.model_options), changed."""
    from splicescore.model_options import owner, split_options

    if owner(name):
        return dataclasses.replace(cfg, model_options=split_options({name: value}))
    return dataclasses.replace(cfg, **{name: value})


def test_settings_cover_every_scoring_option(tmp_path):
    pas = tmp_path / "pas.bed"
    pas.write_text("chr17\t100\t106\tpas\t0\t+\n")
    base = RunConfig(input="in.vcf", output="out.vcf", reference="ref.fa")
    changes = dict(distance=500, mask=True, pad_ends=True, transcripts="longest", pangolin_mask=False,
                   pangolin_cutoff=0.2, hal_ref_psi=0.5, sptransformer_flags=True, pas=str(pas),
                   precision="bf16", transcript_types=("lncRNA",), all_nonzero=True)
    settings = sc.scoring_settings(base, "cpu")
    for name, value in changes.items():
        assert sc.scoring_settings(_with_option(base, name, value), "cpu") != settings, name
    assert sc.scoring_settings(base, "cuda") != settings
    # on a GPU the batching changes the last bits, so it is part of the key there
    gpu = sc.scoring_settings(base, "cuda")
    assert sc.scoring_settings(dataclasses.replace(base, batch_size=7), "cuda") != gpu
    assert sc.scoring_settings(dataclasses.replace(base, chunk_size=3), "cuda") != gpu
    with_pas = sc.scoring_settings(_with_option(base, "pas", str(pas)), "cpu")
    pas.write_text("chr17\t200\t206\tpas\t0\t+\n")
    assert sc.scoring_settings(_with_option(base, "pas", str(pas)), "cpu") != with_pas
    # options that never change a score are not in it
    quiet = dataclasses.replace(base, batch_size=7, chunk_size=3, threads=1, devices=("cpu", "cpu"), output="x.vcf", tsv="x.tsv")
    assert sc.scoring_settings(quiet, "cpu") == settings


def test_context_covers_what_the_model_reads(shared, weights_home):
    """Every model has a reach; SpliceAI's span holds its whole window (POS +- (5000 + D)) and the
    BRCA1 transcript."""
    from splicescore.io.annotation import load_spliceai_table
    from splicescore.io.genome import Reference
    from splicescore.models.spliceai.official import input_span0
    from splicescore.models.spliceai.scorer import SpliceAIScorer

    import importlib

    from splicescore.core.scorer import Scorer

    for name in models.NAMES:  # every model's scorer declares its reach (Scorer.reach is abstract)
        importlib.import_module(f"splicescore.models.{name}.scorer")
    classes, todo = [], [Scorer]
    while todo:
        todo += todo[0].__subclasses__()
        classes.append(todo.pop(0))
    assert {c.name for c in classes if not c.__abstractmethods__} >= set(models.NAMES)
    with Reference(shared / FASTA) as ref:
        genes = load_spliceai_table(shared / "data/annotation/spliceai_grch38.txt")
        for d in (0, 50, 4999):
            scorer = SpliceAIScorer(ref, genes, distance=d)
            v = Variant("17", 43045788, "ACATCTGCC", ("A",))
            r = sc.reach(scorer, v)
            start0, end0 = input_span0(v.pos1, d)
            assert v.pos1 - r <= start0 + 1 and end0 <= v.pos1 + len(v.ref) - 1 + r
            ctx = sc.record_context(scorer, v)
            assert ctx["sequence"] == ref.fetch("chr17", v.pos1 - r - 1, v.pos1 + len(v.ref) - 1 + r)
            assert "BRCA1" in [t["gene"] for t in ctx["annotation"]] and ctx["contig_length"] == 83_257_441
            assert ctx["sites"] is None
        assert sc.record_context(scorer, Variant("chrUn", 100, "A", ("G",)))["sequence"] is None


# -- the store -------------------------------------------------------------------------------------------

def test_results_round_trip_exactly(tmp_path):
    result = RecordResult("A|BRCA1|0.01|0.00", [{"alt": "A", "DS_AG": 0.1 + 0.2, "DS_AL": 1e-300, "DP_AG": -3,
                                                 "DLO": float("nan"), "x": float("-inf")}],
                          [("G", "ref_mismatch")])
    db = sc.ScoreCache(str(tmp_path / "c.sqlite"))
    db.put("k", result)
    db.close()
    db = sc.ScoreCache(str(tmp_path / "c.sqlite"))
    got = db.get("k")
    assert db.get("other") is None
    db.close()
    assert repr(got.rows) == repr(result.rows) and got.info == result.info and got.skips == result.skips


def test_concurrent_writers_share_one_file(tmp_path):
    """Four writers (one connection each, as four shards), committing batches in parallel: nothing
    lost, no error."""
    path = str(tmp_path / "shared.sqlite")
    errors = []

    def shard(i: int) -> None:
        try:
            db = sc.ScoreCache(path)
            for batch in range(20):
                for j in range(25):
                    db.put(f"{i}-{batch}-{j}", RecordResult(f"{i}|{batch}|{j}", [{"v": j / 7}], []))
                db.commit()
                assert db.get(f"{i}-{batch}-0").info == f"{i}|{batch}|0"
            db.close()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=shard, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    db = sc.ScoreCache(path)
    assert all(db.get(f"{i}-19-24").rows == [{"v": 24 / 7}] for i in range(4))
    db.close()
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM scores").fetchone()[0] == 4 * 20 * 25
