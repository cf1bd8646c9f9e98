#!/usr/bin/env bash
# Score the bundled ClinVar BRCA1 variants with SpliceAI (GRCh38, -D 50).
#
# Reference: the bundled examples/grch38_chr17_brca1.fa.gz (GRCh38 chr17 at its real coordinates,
# real sequence over chr17:43,034,001-43,136,000, see examples/README.md), or $SPLICESCORE_FASTA.
# Weights: a local copy of the official files in ../shared beside the checkout is imported when there
# is one; otherwise `splicescore vcf` downloads the spliceai 1.3.1 wheel from PyPI once by itself.
# Output: examples/out/brca1_clinvar.spliceai.vcf.gz and .tsv
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
bin="$repo/.venv/bin"
[ -x "$bin/splicescore" ] || { echo "run 'bash scripts/setup.sh' first" >&2; exit 2; }

fasta="${SPLICESCORE_FASTA:-$here/grch38_chr17_brca1.fa.gz}"
[ -f "$fasta" ] || { echo "reference FASTA $fasta not found" >&2; exit 2; }

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
