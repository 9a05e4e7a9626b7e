#!/usr/bin/env bash
# LossViewer.app and a .dmg on macOS. NOT BUILT HERE (these machines run Linux): written
# from the Linux build, PyInstaller's BUNDLE step and hdiutil's documentation.
#
#   python3.11 -m venv .venv && .venv/bin/pip install -e . "pyinstaller>=6.10"
#   bash packaging/macos/build_macos.sh        # -> dist/LossViewer.app, dist/LossViewer-<v>.dmg
#
# Notes for whoever runs it first:
# - The default QSurfaceFormat is set before the QApplication exists
#   (lossviewer/app.py: create_application); macOS fixes the GL profile per context at
#   creation, so this order matters there more than anywhere. pyqtgraph.opengl draws with
#   the legacy (2.1 compatibility) profile macOS gives by default; do not request a core
#   profile.
# - Unsigned apps are quarantined by Gatekeeper: sign and notarize (codesign --deep
#   --options runtime, xcrun notarytool) before handing the .dmg out, or users must
#   right-click → Open the first time.
# - Apple silicon and Intel need separate builds (PyInstaller builds for the running
#   architecture); name the .dmg accordingly.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PY=${PYTHON:-.venv/bin/python}
version=$("$PY" -c "import lossviewer; print(lossviewer.__version__)")
"$PY" -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller \
    packaging/lossviewer.spec
test -d dist/LossViewer.app || { echo "build_macos: no dist/LossViewer.app" >&2; exit 1; }
dist/LossViewer.app/Contents/MacOS/lossviewer --smoke-test
rm -f "dist/LossViewer-$version.dmg"
hdiutil create -volname "LossViewer $version" -srcfolder dist/LossViewer.app -ov \
    -format UDZO "dist/LossViewer-$version-$(uname -m).dmg"
echo "build_macos: dist/LossViewer-$version-$(uname -m).dmg"
