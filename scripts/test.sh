#!/usr/bin/env bash
# Sets up LossViewer with its test and benchmark extras and runs the whole test suite
# (headless: pytest-xvfb starts Xvfb for the GL tests).
#   bash scripts/test.sh [pytest args]
# PYTHON=python3.12 bash scripts/test.sh runs it on another interpreter
# (in its own virtual environment, .venv-3.12).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ -z "${VENV:-}" ]; then
  ver=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  if [ "$PYTHON" = python3 ]; then VENV=.venv; else VENV=.venv-$ver; fi
fi
export PYTHON VENV
bash scripts/setup.sh test,bench
# torch (optional) cross-checks backprop against autograd and times a torch per-point
# loop in the benchmarks. Installed where its CPU build is on local disk (Python 3.11
# here, see DESIGN.md) or when LOSSVIEWER_TEST_TORCH=1; elsewhere those tests skip.
torch_wheel=$(ls "${PIP_FIND_LINKS:-/opt/wheels}"/torch-2.13.0*-cp311-* 2>/dev/null | head -1 || true)
if [ "${LOSSVIEWER_TEST_TORCH:-}" != 0 ] && ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  pyver=$("$VENV/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  if [ "${LOSSVIEWER_TEST_TORCH:-}" = 1 ] || { [ "$pyver" = 3.11 ] && [ -n "$torch_wheel" ]; }; then
    echo "test: pip install torch==2.13.0 (CPU build)"
    "$VENV/bin/python" -m pip install -q torch==2.13.0
  else
    echo "test: torch not installed; its cross-checks will be skipped"
  fi
fi
# Dask distributed (optional extra 'cluster') for the cluster tests: installed on Python
# 3.11 or when LOSSVIEWER_TEST_CLUSTER=1; elsewhere those tests skip and the suite checks
# that the cluster options explain what to install
if [ "${LOSSVIEWER_TEST_CLUSTER:-}" != 0 ] && ! "$VENV/bin/python" -c "import distributed" 2>/dev/null; then
  pyver=$("$VENV/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  if [ "${LOSSVIEWER_TEST_CLUSTER:-}" = 1 ] || [ "$pyver" = 3.11 ]; then
    echo "test: pip install -e '.[cluster]'"
    "$VENV/bin/python" -m pip install -q -e ".[cluster]"
  else
    echo "test: Dask not installed; the cluster tests will be skipped"
  fi
fi
echo "test: $("$VENV/bin/python" --version) with $("$VENV/bin/python" -c 'import PySide6; print("PySide6", PySide6.__version__)')"
"$VENV/bin/ruff" check lossviewer tests benchmarks
"$VENV/bin/lint-imports"
exec "$VENV/bin/python" -m pytest "$@"
