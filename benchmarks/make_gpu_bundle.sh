#!/usr/bin/env bash
# Copy what benchmarks/gpu_check.py reads (official weights and golden arrays, ~53 MB) from ../shared
# (or $SPLICESCORE_SHARED) into benchmarks/.gpu_bundle/ (git-ignored; never commit it), laid out as
# ../shared is. Then on a GPU machine: python benchmarks/gpu_check.py --data benchmarks/.gpu_bundle
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shared="${SPLICESCORE_SHARED:-$here/../../shared}"
dst="$here/.gpu_bundle"
mkdir -p "$dst/weights/spliceai" "$dst/weights/pangolin" "$dst/golden/spliceai" "$dst/golden/pangolin"
cp "$shared"/weights/spliceai/spliceai{1,2,3,4,5}.h5 "$shared/weights/spliceai/LICENSE" "$dst/weights/spliceai/"
cp "$shared"/weights/pangolin/final.*.3.v2 "$shared/weights/pangolin/LICENSE" "$dst/weights/pangolin/"
cp "$shared/golden/spliceai/dev_raw.npz" "$dst/golden/spliceai/"
cp "$shared/golden/pangolin/dev_raw.npz" "$dst/golden/pangolin/"
du -sh "$dst"
