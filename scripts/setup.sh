#!/usr/bin/env bash
# Create .venv and install splicescore with its test dependencies.
# torch is pinned to 2.13.0 first: on the project machines that is a local CPU wheel, while a bare
# `torch` requirement would pull the multi-GB CUDA build. Elsewhere any torch>=2.3 works.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}" 2>&1 | grep -v "^WARNING: Location" || true
# the build backend's informational notes (editable install) are shown only when the install fails
log=$(.venv/bin/python -m pip install -q -e ".[test]" 2>&1) || { echo "$log" >&2; exit 1; }
.venv/bin/python -c "import splicescore, torch; print(f'splicescore {splicescore.__version__}, torch {torch.__version__}')"
