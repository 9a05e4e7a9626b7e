"""Render the application icon (resources/icons/lossviewer.svg) to PNG sizes 16-512.

    python packaging/icons.py

Writes resources/icons/lossviewer-<N>.png (the .deb installs them into the hicolor
theme) and copies the sizes the window uses into lossviewer/ui/icons/ (package data,
so a pip install has its icon too). Run it after editing the SVG; the PNGs are
committed.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icons" / "lossviewer.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
WINDOW_SIZES = (16, 32, 48, 64, 128, 256)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication(sys.argv[:1])  # noqa: F841 - QImage painting needs one
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"icons: cannot read {SVG}", file=sys.stderr)
        return 1
    out = SVG.parent
    for n in SIZES:
        image = QImage(n, n, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = out / f"lossviewer-{n}.png"
        if not image.save(str(target)):
            print(f"icons: cannot write {target}", file=sys.stderr)
            return 1
    # Windows .ico and macOS .icns for the installers (Pillow writes both anywhere)
    from PIL import Image

    big = Image.open(out / "lossviewer-512.png")
    big.save(out / "lossviewer.ico", sizes=[(n, n) for n in (16, 24, 32, 48, 64, 128, 256)])
    big.save(out / "lossviewer.icns")
    package = ROOT / "lossviewer" / "ui" / "icons"
    package.mkdir(exist_ok=True)
    for n in WINDOW_SIZES:
        shutil.copyfile(out / f"lossviewer-{n}.png", package / f"lossviewer-{n}.png")
    print(f"icons: {len(SIZES)} sizes in {out}, {len(WINDOW_SIZES)} in {package}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
