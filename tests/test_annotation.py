"""Gene tables, GTF/GFF3 loading, transcript choice, interval look-up and contig reconciliation."""

from __future__ import annotations

import gzip

import pytest

from splicescore.io.annotation import load_annotation, load_gtf, load_spliceai_table
from splicescore.errors import InputError
from splicescore.io.genome import Reference, contig_aliases


@pytest.fixture(scope="module")
def table(shared):
    return load_spliceai_table(shared / "data/annotation/spliceai_grch38.txt")


@pytest.fixture(scope="module")
def gtf(shared):
    return load_gtf(shared / "data/annotation/grch38_slices.gtf")


def test_table_and_gtf_agree_on_every_gtf_gene(table, gtf):
    """The GTF was built from the table's rows: both must describe every gene identically."""
    assert len(gtf) == 50
    for t in gtf.transcripts:
        (row,) = [x for x in table.by_name(t.gene) if "chr" + x.chrom == t.chrom]
        assert (row.strand, row.tx_start1, row.tx_end1, row.exon_starts1, row.exon_ends1) == (
            t.strand, t.tx_start1, t.tx_end1, t.exon_starts1, t.exon_ends1)


@pytest.mark.parametrize("chrom", ["17", "chr17"])
def test_lookup_any_contig_naming(table, gtf, chrom):
    # BRCA1 (minus strand) spans 43,044,295-43,125,483 in GENCODE V24 canonical (table: tx 0-based start + 1)
    assert [t.gene for t in table.at(chrom, 43_045_800)] == ["BRCA1"]
    assert [t.gene for t in gtf.at(chrom, 43_045_800)] == ["BRCA1"]
    brca1 = table.at(chrom, 43_045_800)[0]
    assert table.at(chrom, brca1.tx_start1) and table.at(chrom, brca1.tx_end1)
    assert not [t for t in table.at(chrom, brca1.tx_end1 + 1) if t.gene == "BRCA1"]


def test_overlapping_genes_keep_table_order(table, gtf):
    # MLX (+) and PSMC3IP (-) overlap at chr17:42,573,105 (golden dev_supp)
    genes = [t.gene for t in table.at("17", 42_573_105)]
    assert sorted(genes) == ["MLX", "PSMC3IP"]
    assert [t.gene for t in gtf.at("chr17", 42_573_105)] == genes


def test_nearest_boundary_offset(table):
    brca1 = table.by_name("BRCA1")[0]
    b = int(brca1.exon_boundaries1[3])
    assert brca1.nearest_boundary_offset(b - 2) == 2
    assert brca1.nearest_boundary_offset(b + 1) == -1


def _gtf_line(chrom, feature, start, end, strand, attrs):
    return f"{chrom}\tt\t{feature}\t{start}\t{end}\t.\t{strand}\t.\t{attrs}\n"


def test_gtf_transcript_choice(tmp_path):
    lines = [
        _gtf_line("chr1", "gene", 100, 900, "+", 'gene_id "G1"; gene_name "ONE";'),
        _gtf_line("chr1", "transcript", 100, 900, "+", 'gene_id "G1"; transcript_id "T_long"; gene_name "ONE";'),
        _gtf_line("chr1", "exon", 100, 500, "+", 'gene_id "G1"; transcript_id "T_long"; gene_name "ONE";'),
        _gtf_line("chr1", "exon", 600, 900, "+", 'gene_id "G1"; transcript_id "T_long"; gene_name "ONE";'),
        _gtf_line("chr1", "transcript", 100, 700, "+",
                  'gene_id "G1"; transcript_id "T_mane"; gene_name "ONE"; tag "basic"; tag "MANE_Select";'),
        _gtf_line("chr1", "exon", 100, 200, "+", 'gene_id "G1"; transcript_id "T_mane"; gene_name "ONE";'),
        _gtf_line("chr1", "exon", 600, 700, "+", 'gene_id "G1"; transcript_id "T_mane"; gene_name "ONE";'),
    ]
    path = tmp_path / "a.gtf.gz"
    with gzip.open(path, "wt") as fh:
        fh.writelines(lines)
    assert load_gtf(path).transcripts[0].transcript_id == "T_mane"
    assert load_gtf(path, "longest").transcripts[0].transcript_id == "T_long"
    ids = tmp_path / "ids.txt"
    ids.write_text("T_long\n")
    assert load_gtf(path, str(ids)).transcripts[0].transcript_id == "T_long"
    assert load_gtf(path).transcripts[0].gene == "ONE"


def test_gff3(tmp_path):
    path = tmp_path / "a.gff3"
    path.write_text(
        "##gff-version 3\n"
        + _gtf_line("1", "gene", 100, 900, "-", "ID=gene:G2;Name=TWO")
        + _gtf_line("1", "mRNA", 100, 900, "-", "ID=transcript:T1;Parent=gene:G2;tag=basic,Ensembl_canonical")
        + _gtf_line("1", "exon", 100, 300, "-", "Parent=transcript:T1")
        + _gtf_line("1", "exon", 800, 900, "-", "Parent=transcript:T1")
    )
    (t,) = load_annotation(str(path)).at("chr1", 500)
    assert (t.gene, t.strand, t.exon_starts1, t.exon_ends1) == ("TWO", "-", (100, 800), (300, 900))


@pytest.mark.parametrize("content, line", [
    ("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\nA\t1\t+\tx\t10\t0,\t10,\n", 2),
    ("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\nA\t1\t*\t0\t10\t0,\t10,\n", 2),
])
def test_malformed_table_names_file_and_line(tmp_path, content, line):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(InputError, match=rf"bad.txt:{line}:"):
        load_annotation(str(path))


def test_missing_annotation_file():
    with pytest.raises(InputError, match="not found"):
        load_annotation("/nonexistent/genes.gtf")


def test_contig_aliases():
    assert contig_aliases("chr17") == ["chr17", "17"]
    assert contig_aliases("17") == ["17", "chr17"]
    assert set(contig_aliases("MT")) >= {"chrM", "M"}


def test_reference_reads_regions_once(shared):
    """Windows of nearby records (and of every model of a run) come from one FASTA read."""
    with Reference(shared / "data/grch38/chr17_brca1_region.fa.gz") as ref:
        a = ref.fetch("chr17", 43_045_000, 43_055_101)
        b = ref.fetch("chr17", 43_100_000, 43_110_101)
        assert ref.reads == 1
        assert a == ref._fasta.fetch("chr17", 43_045_000, 43_055_101)
        assert b == ref._fasta.fetch("chr17", 43_100_000, 43_110_101)
        ref.fetch("chr17", 43_500_000, 43_510_000)
        assert ref.reads == 2


def test_reference_fetch_pads_outside_contig(shared):
    with Reference(shared / "data/hg19/chr10_tubb8.fa") as ref:
        assert ref.resolve("10") == "chr10"
        n = ref.lengths["chr10"]
        assert ref.fetch("chr10", -3, 2) == "NNN" + ref.fetch("chr10", 0, 2)
        assert ref.fetch("chr10", n - 2, n + 3).endswith("NNN")
        assert len(ref.fetch("chr10", n + 5, n + 9)) == 4
