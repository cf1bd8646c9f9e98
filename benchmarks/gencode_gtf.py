"""Write a GENCODE-comprehensive-sized synthetic GTF (none is downloadable on the project machines).

Default: 62,500 genes x 4 transcripts = 250,000 transcripts, each with 7 exons, 5 CDS, 4 UTR,
start_codon and stop_codon lines (about 4.56 million lines), GENCODE-style attributes (gene_id,
gene_type, gene_name, transcript_type, transcript_name, level, tags ``basic``, ``Ensembl_canonical``,
``MANE_Select``, ``CCDS``, exon_number, exon_id, ...). The first transcript of every protein-coding
gene is tagged MANE_Select and Ensembl_canonical; a few genes also have a MANE_Plus_Clinical one.

    python benchmarks/gencode_gtf.py /tmp/gencode_like.gtf.gz [--genes 62500] [--tx-per-gene 4]
"""

from __future__ import annotations

import argparse
import gzip
import random

CHROMS = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY"]


def write(path: str, genes: int = 62_500, tx_per_gene: int = 4, seed: int = 1) -> int:
    rnd = random.Random(seed)
    lines = 0
    per_chrom = -(-genes // len(CHROMS))
    with gzip.open(path, "wt", compresslevel=3) as fh:
        fh.write("##description: synthetic GENCODE-like annotation (splicescore benchmark)\n")
        fh.write("##provider: splicescore\n##format: gtf\n")
        g = 0
        for chrom in CHROMS:
            pos = 10_000
            for _ in range(per_chrom):
                if g >= genes:
                    break
                g += 1
                strand = "+" if rnd.random() < 0.5 else "-"
                gtype = "protein_coding" if g % 3 else ("lncRNA" if g % 2 else "processed_pseudogene")
                gid = f"ENSG{g:011d}.{1 + g % 7}"
                gname = f"GENE{g}"
                n_ex = 7
                ex_len = [rnd.randint(80, 400) for _ in range(n_ex)]
                intr = [rnd.randint(500, 6000) for _ in range(n_ex - 1)]
                starts, p = [], pos
                for i in range(n_ex):
                    starts.append(p)
                    p += ex_len[i] + (intr[i] if i < n_ex - 1 else 0)
                gstart, gend = pos, p - 1
                common = f'gene_id "{gid}"; gene_type "{gtype}"; gene_name "{gname}"; level 2; hgnc_id "HGNC:{g}"; havana_gene "OTTHUMG{g:011d}.1";'
                fh.write(f"{chrom}\tHAVANA\tgene\t{gstart}\t{gend}\t.\t{strand}\t.\t{common}\n")
                lines += 1
                for t in range(tx_per_gene):
                    tno = (g - 1) * tx_per_gene + t + 1
                    tid = f"ENST{tno:011d}.{1 + t}"
                    # transcripts drop an exon or trim the ends, so their boundaries differ
                    ex = [(s, s + ln - 1) for s, ln in zip(starts, ex_len)]
                    if t == 1:
                        ex = ex[:3] + ex[4:]
                    elif t == 2:
                        ex = [(ex[0][0] + 30, ex[0][1])] + ex[1:-1] + [(ex[-1][0], ex[-1][1] - 25)]
                    elif t >= 3:
                        ex = ex[1:]
                    ttype = gtype if t != 3 else ("retained_intron" if gtype == "protein_coding" else gtype)
                    tags = ['tag "basic"'] if t < 3 else []
                    if t == 0 and gtype == "protein_coding":
                        tags += ['tag "Ensembl_canonical"', 'tag "MANE_Select"', 'tag "CCDS"']
                    elif t == 0:
                        tags += ['tag "Ensembl_canonical"']
                    if t == 1 and gtype == "protein_coding" and g % 50 == 0:
                        tags += ['tag "MANE_Plus_Clinical"']
                    tattr = (f'{common[:-1]}; transcript_id "{tid}"; transcript_type "{ttype}"; '
                             f'transcript_name "{gname}-{201 + t}"; level 2; protein_id "ENSP{tno:011d}.1"; '
                             f'transcript_support_level "1"; {" ".join(t_ + ";" for t_ in tags)} '
                             f'havana_transcript "OTTHUMT{tno:011d}.1";')
                    fh.write(f"{chrom}\tHAVANA\ttranscript\t{ex[0][0]}\t{ex[-1][1]}\t.\t{strand}\t.\t{tattr}\n")
                    lines += 1
                    order = ex if strand == "+" else ex[::-1]
                    for k, (s, e) in enumerate(order, start=1):
                        fh.write(f"{chrom}\tHAVANA\texon\t{s}\t{e}\t.\t{strand}\t.\t{tattr} exon_number {k}; exon_id \"ENSE{tno:09d}{k:02d}.1\";\n")
                        lines += 1
                    # CDS on the inner exons, UTRs on the outer ones, codons at the CDS ends
                    inner = order[1:-1][:5]
                    for k, (s, e) in enumerate(inner, start=2):
                        fh.write(f"{chrom}\tHAVANA\tCDS\t{s}\t{e}\t.\t{strand}\t{k % 3}\t{tattr} exon_number {k}; exon_id \"ENSE{tno:09d}{k:02d}.1\";\n")
                        lines += 1
                    for s, e in (order[0], order[0], order[-1], order[-1]):
                        fh.write(f"{chrom}\tHAVANA\tUTR\t{s}\t{e}\t.\t{strand}\t.\t{tattr} exon_number 1;\n")
                        lines += 1
                    s0 = inner[0][0] if inner else ex[0][0]
                    fh.write(f"{chrom}\tHAVANA\tstart_codon\t{s0}\t{s0 + 2}\t.\t{strand}\t0\t{tattr} exon_number 2;\n")
                    fh.write(f"{chrom}\tHAVANA\tstop_codon\t{s0 + 3}\t{s0 + 5}\t.\t{strand}\t0\t{tattr} exon_number 2;\n")
                    lines += 2
                pos = gend + rnd.randint(2_000, 20_000)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("output")
    ap.add_argument("--genes", type=int, default=62_500)
    ap.add_argument("--tx-per-gene", type=int, default=4)
    args = ap.parse_args()
    n = write(args.output, args.genes, args.tx_per_gene)
    print(f"{args.output}: {n} lines")


if __name__ == "__main__":
    main()
