"""Score reductions on the device (``SpliceAIScorer.reduction``, ``PangolinScorer.reduction``) write the
same bytes as the host's numpy scoring of the same outputs.

``--engine batched`` keeps the outputs on the device, so the scorers' reductions run there and only
their rows come back (:meth:`splicescore.nn.engine.Engine.reduces_on_device`). Forcing the host path
(``reduces_on_device`` False) on the very same outputs must give byte-identical VCF and TSV: INFO
strings, the unrounded TSV values, ``-0.00`` signs, first-index ties, deletions' float64 (Pangolin).
Random-weight networks, the bundled BRCA1 example and a GTF written from the BRCA1 gene table with
a second transcript and a plus-strand gene (so both strands and the per-transcript entries are
reduced), in chunks of 3 records, with a record outside every gene, a complex allele and a
partly cached chunk; no ../shared.
"""

from __future__ import annotations

import pytest

from conftest import BRCA1_TABLE, BUNDLED_FASTA, BUNDLED_VCF, _as_home, install_random_weights, run_main
from helpers import vcf_subset

IDS = {"182075", "55504", "427250", "462649"}  # deletions (one spans PLUS1's exon end), an SNV, an insertion
EXTRA = (
    "17\t43045795\tmulti\tC\tA,T,CAG\t.\t.\t.\n"  # SNVs and an insertion on one record
    "17\t43126000\tnogene\tC\tT\t.\t.\t.\n"  # past both genes: no_gene, no unit in the reduction
    "17\t43045900\tcomplex\tAG\tTC,A\t.\t.\t.\n"  # SpliceAI: dots for AG>TC; Pangolin scores the MNV
)
#: every run in chunks of 3 records: the units of several chunks are numbered and finished apart
CHUNKS = ["--chunk-size", "3"]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("reduce_home")
    for name in ("spliceai", "pangolin"):
        install_random_weights(name, root, seed=3)
    return root


@pytest.fixture(scope="module")
def vcf(tmp_path_factory):
    return vcf_subset(BUNDLED_VCF, IDS, tmp_path_factory.mktemp("reduce_vcf") / "subset.vcf", EXTRA)


@pytest.fixture(scope="module")
def gtf(tmp_path_factory):
    """BRCA1 (minus strand) with its table's transcript (MANE Select) and one without two exons,
    plus a made-up plus-strand gene over the same region."""
    row = BRCA1_TABLE.splitlines()[1].split("\t")
    exons = list(zip((int(s) + 1 for s in row[5].rstrip(",").split(",")), (int(e) for e in row[6].rstrip(",").split(","))))
    lines = []

    def gene(name, strand, transcripts):
        lo, hi = min(e[0][0] for e, _ in transcripts), max(e[-1][1] for e, _ in transcripts)
        g = f'gene_id "{name}"; gene_type "protein_coding"; gene_name "{name}";'
        lines.append(f"chr17\tt\tgene\t{lo}\t{hi}\t.\t{strand}\t.\t{g}")
        for k, (ex, tags) in enumerate(transcripts):
            attrs = f'{g} transcript_id "{name}-T{k}"; transcript_type "protein_coding";' + "".join(
                f' tag "{t}";' for t in tags)
            lines.append(f"chr17\tt\ttranscript\t{ex[0][0]}\t{ex[-1][1]}\t.\t{strand}\t.\t{attrs}")
            lines.extend([f"chr17\tt\texon\t{s}\t{e}\t.\t{strand}\t.\t{attrs}" for s, e in ex])

    gene("BRCA1", "-", [(exons, ["basic", "Ensembl_canonical", "MANE_Select"]),
                        ([e for i, e in enumerate(exons) if i not in (3, 15)], ["basic"])])
    gene("PLUS1", "+", [([(43045000, 43045790), (43051000, 43063380), (43095800, 43125000)], ["basic", "MANE_Select"])])
    path = tmp_path_factory.mktemp("reduce_gtf") / "brca1.gtf"
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(home, vcf, gtf, out_dir, args, on_device: bool, monkeypatch) -> tuple[bytes, bytes, int]:
    from splicescore.nn import reduce as rd
    from splicescore.nn.engine import Engine

    calls = []
    for cls in (rd.SpliceAIDeltaRequest, rd.PangolinDeltaRequest):
        monkeypatch.setattr(cls, "__call__", lambda self, outputs, _f=cls.__call__: calls.append(1) or _f(self, outputs))
    if not on_device:
        monkeypatch.setattr(Engine, "reduces_on_device", lambda self, net, inputs: False)
    out, tsv = out_dir / "out.vcf", out_dir / "out.tsv"
    with _as_home(home):
        code = run_main(["vcf", "-i", vcf, "-o", out, "--tsv", tsv, "-r", BUNDLED_FASTA, "-a", gtf, "--device", "cpu",
                         "--engine", "batched", "--batch-size", 8, *CHUNKS, *args])
    monkeypatch.undo()
    assert code == 0
    return out.read_bytes(), tsv.read_bytes(), len(calls)


CASES = {
    "spliceai": ["--model", "spliceai"],
    "spliceai-masked-transcripts": ["--model", "spliceai", "-M", "1", "--transcripts", "all"],
    "pangolin-transcripts": ["--model", "pangolin", "-D", "20", "--transcripts", "all"],
    "pangolin-unmasked-cutoff": ["--model", "pangolin", "-D", "20", "--pangolin-mask", "0", "--pangolin-cutoff", "0.0001"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_device_reduction_writes_the_host_bytes(home, vcf, gtf, tmp_path, monkeypatch, case):
    args = CASES[case]
    (tmp_path / "dev").mkdir()
    (tmp_path / "host").mkdir()
    dev_vcf, dev_tsv, dev_calls = _run(home, vcf, gtf, tmp_path / "dev", args, True, monkeypatch)
    host_vcf, host_tsv, host_calls = _run(home, vcf, gtf, tmp_path / "host", args, False, monkeypatch)
    assert dev_calls > 0 and host_calls == 0  # the reduction ran on one side only
    assert dev_vcf == host_vcf
    assert dev_tsv == host_tsv
    body = [line for line in dev_vcf.decode().splitlines() if not line.startswith("#")]
    key = "SpliceAI=" if "spliceai" in case else "Pangolin="
    assert len(body) == len(IDS) + 3 and sum(key in line for line in body) == len(IDS) + 2
    assert "no_gene" in next(line for line in body if "\tnogene\t" in line)
    if "transcripts" in case:
        assert "BRCA1-T1" in dev_tsv.decode() and "PLUS1" in dev_tsv.decode()


def test_all_nonzero_keeps_the_host_scoring(home, vcf, gtf, tmp_path, monkeypatch):
    """``--all-nonzero`` lists need every position: SpliceAI gives no reduction, the outputs come back."""
    _, tsv, calls = _run(home, vcf, gtf, tmp_path, ["--model", "spliceai", "--all-nonzero"], True, monkeypatch)
    assert calls == 0 and b"ACCEPTOR_DELTAS" in tsv


def test_partly_cached_chunks(home, vcf, gtf, tmp_path, monkeypatch):
    """With some records of a chunk already in the score cache, only the others are planned and
    reduced: the same bytes as the host path from the same cache (SpliceAI, several transcripts)."""
    import shutil

    args = ["--model", "spliceai", "--transcripts", "all"]
    first = vcf_subset(vcf, {"182075", "427250", "nogene"}, tmp_path / "first.vcf")
    (tmp_path / "seed").mkdir()
    _run(home, first, gtf, tmp_path / "seed", [*args, "--cache", tmp_path / "seed.sqlite"], True, monkeypatch)
    runs = {}
    for side in ("dev", "host"):
        (tmp_path / side).mkdir()
        shutil.copy(tmp_path / "seed.sqlite", tmp_path / f"{side}.sqlite")
        runs[side] = _run(home, vcf, gtf, tmp_path / side, [*args, "--cache", tmp_path / f"{side}.sqlite"],
                          side == "dev", monkeypatch)
    assert runs["dev"][2] > 0 and runs["host"][2] == 0
    assert runs["dev"][:2] == runs["host"][:2]
