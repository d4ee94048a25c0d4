#!/usr/bin/env bash
# Run on a lent GPU machine from the repository root:  bash benchmarks/gpu_check.sh
# It installs the project and onnxruntime-gpu from wheels into /tmp/gpuvenv, then runs
# benchmarks/gpu_check.py, which writes $OUT/gpu_check.json.
# The lent machine reaches no network: prepare a wheel folder here first and carry it, e.g.
#   pip download -d wheelhouse --only-binary=:all: --python-version 3.12 \
#     --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
#     -e . "onnxruntime-gpu[cuda,cudnn]==1.32.0" scikit-learn
# and run with WHEELS=wheelhouse (PYTHON=python3.12 by default when present).
set -euo pipefail
PY=${PYTHON:-$(command -v python3.12 || command -v python3)}
PIP_SRC=()
[ -n "${WHEELS:-}" ] && PIP_SRC=(--no-index --find-links "$WHEELS")
$PY -m venv /tmp/gpuvenv
. /tmp/gpuvenv/bin/activate
pip install -q "${PIP_SRC[@]}" -e . scikit-learn
# onnxruntime-gpu replaces the CPU package (same module name); the [cuda,cudnn] extra brings
# the CUDA/cuDNN libraries as nvidia-* wheels
pip uninstall -y -q onnxruntime || true
pip install -q "${PIP_SRC[@]}" "onnxruntime-gpu[cuda,cudnn]==1.32.0"
python benchmarks/gpu_check.py
