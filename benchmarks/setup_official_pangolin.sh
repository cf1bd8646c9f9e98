#!/usr/bin/env bash
# Build a throwaway environment with the official Pangolin CLI (tkzeng/Pangolin 1.0.2 @5cf94b8),
# set up like the one that made shared/golden/pangolin (torch 2.13 CPU, PyVCF3, setuptools 80.9,
# one compatibility edit for PyVCF3's _Info). For benchmarks only: nothing here goes into the repo.
#
# usage: setup_official_pangolin.sh [REPO] [ENV_DIR] [SRC_DIR]
#   REPO     git URL or local clone/mirror of tkzeng/Pangolin (default https://github.com/tkzeng/Pangolin)
#   ENV_DIR  virtual environment to create              (default benchmarks/.envs/pangolin-official)
#   SRC_DIR  working copy to clone, patch and install   (default $TMPDIR/pangolin-src)
# environment:
#   PYTHON            interpreter for the venv           (default python3)
#   PANGOLIN_COMMIT   commit to install                  (default 5cf94b8)
#   PANGOLIN_WEIGHTS  folder with final.{1,2,3}.{0,2,4,6}.3.v2 (default ../shared/weights/pangolin beside the repo;
#                     used when the clone lacks them, holds LFS pointers, or holds different bytes)
# Both ENV_DIR and SRC_DIR are deleted and rebuilt from scratch.
set -euo pipefail

MIRROR=${1:-https://github.com/tkzeng/Pangolin}
ENV_DIR=${2:-$(cd "$(dirname "$0")" && pwd)/.envs/pangolin-official}
SRC_DIR=${3:-${TMPDIR:-/tmp}/pangolin-src}
PYTHON=${PYTHON:-python3}
COMMIT=${PANGOLIN_COMMIT:-5cf94b8}
WEIGHTS=${PANGOLIN_WEIGHTS:-$(cd "$(dirname "$0")" && pwd)/../../shared/weights/pangolin}

# Refuse to delete anything that is not what this script would have made.
if [ -e "$ENV_DIR" ]; then
    [ -f "$ENV_DIR/pyvenv.cfg" ] || { echo "refusing to delete $ENV_DIR: not a virtual environment" >&2; exit 1; }
    rm -rf "$ENV_DIR"
fi
if [ -e "$SRC_DIR" ]; then
    [ -f "$SRC_DIR/setup.py" ] && [ -f "$SRC_DIR/pangolin/pangolin.py" ] \
        || { echo "refusing to delete $SRC_DIR: not a Pangolin clone" >&2; exit 1; }
    rm -rf "$SRC_DIR"
fi

# 1. environment: torch first, as the local CPU build (a bare `torch` would pull the CUDA build)
"$PYTHON" -m venv "$ENV_DIR"
PIP=("$ENV_DIR/bin/pip" install -q)
TORCH_WHEEL=$(ls /opt/wheels/torch-2.13.0+cpu-*.whl 2>/dev/null | head -n1 || true)
"${PIP[@]}" "${TORCH_WHEEL:-torch==2.13.0}"
# setuptools 80.9: later releases no longer ship pkg_resources, which pangolin.py imports
"${PIP[@]}" setuptools==80.9.0 pyvcf3==1.0.4 gffutils==0.14 biopython==1.88 pandas==3.1.1 \
    pyfastx==2.3.1 numpy==2.4.6
"$ENV_DIR/bin/python" -c 'import torch, sys; v = torch.__version__; print("torch", v)
sys.exit(0 if torch.version.cuda is None else "torch is a CUDA build (%s); wanted the CPU one" % v)'

# 2. official source, pinned commit
git clone -q "$MIRROR" "$SRC_DIR"
git -C "$SRC_DIR" -c advice.detachedHead=false checkout -q "$COMMIT"

# the one compatibility edit: PyVCF3's _Info namedtuple has a 7th field, type_code
"$ENV_DIR/bin/python" - "$SRC_DIR/pangolin/pangolin.py" <<'EOF'
import sys
path = sys.argv[1]
src = open(path).read()
old = '''"Format: gene|pos:score_change|pos:score_change|warnings,...",'.','.')'''
new = '''"Format: gene|pos:score_change|pos:score_change|warnings,...",'.','.',vcf.parser._encode_type("String"))'''
assert src.count(old) == 1, "expected exactly one vcf.parser._Info(...) call to patch"
open(path, "w").write(src.replace(old, new))
EOF

# the 12 weight files the CLI loads (pkg_resources, pangolin/models/final.{rep}.{head}.3.v2)
for rep in 1 2 3; do
    for head in 0 2 4 6; do
        f="final.$rep.$head.3.v2"
        dst="$SRC_DIR/pangolin/models/$f"
        if [ -f "$WEIGHTS/$f" ]; then
            cmp -s "$WEIGHTS/$f" "$dst" 2>/dev/null || { echo "copying $f from $WEIGHTS"; cp "$WEIGHTS/$f" "$dst"; }
        fi
        [ -f "$dst" ] || { echo "missing $dst and no $WEIGHTS/$f" >&2; exit 1; }
        if head -c 40 "$dst" | grep -q "git-lfs"; then echo "$dst is an LFS pointer" >&2; exit 1; fi
    done
done
if [ -f "$WEIGHTS/../SHA256SUMS" ]; then
    (cd "$SRC_DIR/pangolin/models" && grep ' pangolin/final\.' "$WEIGHTS/../SHA256SUMS" \
        | sed 's# pangolin/# #' | sha256sum -c --quiet -)
fi

# install (no build isolation: build with the env's setuptools 80.9, nothing else downloaded)
(cd "$SRC_DIR" && "$ENV_DIR/bin/pip" install -q --no-build-isolation .)

"$ENV_DIR/bin/pangolin" -h >/dev/null 2>&1 || { echo "$ENV_DIR/bin/pangolin -h failed" >&2; exit 1; }
echo "official Pangolin ready: $ENV_DIR/bin/pangolin"
