#!/usr/bin/env bash
# Score the bundled ClinVar BRCA1 variants with SpliceAI (GRCh38, -D 50).
#
# Needs the GRCh38 sequence of chr17. It is taken from, in order:
#   $SPLICESCORE_FASTA, or ../shared/data/grch38/chr17_brca1_region.fa.gz beside the checkout.
# Output: examples/out/brca1_clinvar.spliceai.vcf.gz and .tsv
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
bin="$repo/.venv/bin"
[ -x "$bin/splicescore" ] || { echo "run 'bash scripts/setup.sh' first" >&2; exit 2; }

fasta="${SPLICESCORE_FASTA:-$repo/../shared/data/grch38/chr17_brca1_region.fa.gz}"
if [ ! -f "$fasta" ]; then
  cat >&2 <<'MSG'
No GRCh38 FASTA found. Make one holding chr17 from any GRCh38 FASTA, e.g.:
  samtools faidx GRCh38.fa chr17 | bgzip > chr17.fa.gz && samtools faidx chr17.fa.gz
(GRCh38: https://ftp.ncbi.nlm.nih.gov/genomes/all/GCA/000/001/405/GCA_000001405.15_GRCh38/seqs_for_alignment_pipelines.ucsc_ids/)
then run:  SPLICESCORE_FASTA=chr17.fa.gz bash examples/run_example.sh
MSG
  exit 2
fi

# Weights: a local copy of the official files beside the checkout is imported; otherwise
# `splicescore vcf` downloads the spliceai 1.3.1 wheel from PyPI once by itself.
shared_weights="$repo/../shared/weights/spliceai"
if ! "$bin/python" -c "import sys; from splicescore import weights; sys.exit(not weights.is_installed('spliceai'))"; then
  if [ -d "$shared_weights" ]; then
    "$bin/splicescore" weights import spliceai "$shared_weights" "$repo/../shared/data/annotation"
  fi
fi

mkdir -p "$here/out"
"$bin/splicescore" vcf --model spliceai -i "$here/brca1_clinvar.vcf" -r "$fasta" -a grch38 \
  -o "$here/out/brca1_clinvar.spliceai.vcf.gz" --tsv "$here/out/brca1_clinvar.spliceai.tsv"
echo "wrote $here/out/brca1_clinvar.spliceai.vcf.gz and .tsv" >&2
zcat "$here/out/brca1_clinvar.spliceai.vcf.gz" | grep -v '^##' | cut -f1-5,8 | head -8
