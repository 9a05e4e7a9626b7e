#!/usr/bin/env bash
# Creates the virtual environment and installs LossViewer into it.
# Sourced by scripts/start.sh and scripts/test.sh; usable on its own:
#   bash scripts/setup.sh [extras]        e.g. bash scripts/setup.sh test
# Environment: PYTHON (default python3), VENV (default .venv, or .venv-<version>
# when PYTHON names another interpreter).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
EXTRAS=${1:-}
VENV=${VENV:-.venv}

# Debian packages Qt's xcb platform plugin and Mesa's OpenGL need (DESIGN.md),
# plus Xvfb for the GL tests and screenshots on machines without a display.
QT_DEBS="xvfb xauth libgl1 libegl1 libopengl0 libgl1-mesa-dri libxkbcommon-x11-0 \
libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libfontconfig1 \
libdbus-1-3 fonts-dejavu-core"

missing_debs() {
  local pkgs="$QT_DEBS"
  # Debian's own python3 needs python3-venv for `python3 -m venv`
  if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then pkgs="$pkgs python3-venv"; fi
  local missing=""
  for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || missing="$missing $p"
  done
  echo "$missing"
}

if command -v dpkg-query >/dev/null 2>&1; then
  missing=$(missing_debs)
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "setup: installing Debian packages:$missing"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      # shellcheck disable=SC2086
      apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
      echo "setup: these Debian packages are missing; install them with:"
      echo "  sudo apt-get install -y$missing"
      exit 1
    fi
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
spec="."
[ -n "$EXTRAS" ] && spec=".[$EXTRAS]"
echo "setup: pip install -e '$spec'"
"$VENV/bin/python" -m pip install -q -e "$spec"
