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
echo "test: $("$VENV/bin/python" --version) with $("$VENV/bin/python" -c 'import PySide6; print("PySide6", PySide6.__version__)')"
"$VENV/bin/ruff" check lossviewer tests benchmarks
"$VENV/bin/lint-imports"
exec "$VENV/bin/python" -m pytest "$@"
