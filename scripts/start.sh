#!/usr/bin/env bash
# Sets up LossViewer (first run only) and starts it with its default scene.
# Without a display (ssh, CI) it runs on a private Xvfb screen.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
VENV=${VENV:-.venv}
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "start: no display found; running on Xvfb (use --screenshot FILE.png to see it)"
  exec xvfb-run -a -s "-screen 0 1600x1000x24 +extension GLX" "$VENV/bin/lossviewer" "$@"
fi
exec "$VENV/bin/lossviewer" "$@"
