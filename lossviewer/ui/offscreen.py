"""Headless uses of the window: --screenshot and --smoke-test."""

from __future__ import annotations

import sys
import time

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from lossviewer.ui.main_window import MainWindow

READY_TIMEOUT_S = 60.0
#: a real 3D frame (shaded colormap surface, paths, labels) has far more colours
MIN_DISTINCT_COLORS = 50


def wait_until_ready(app: QApplication, window: MainWindow,
                     timeout: float = READY_TIMEOUT_S) -> bool:
    """Process events until the surface and all paths are computed."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        app.processEvents()
        if window.ready:
            app.processEvents()
            return True
        time.sleep(0.01)
    return False


def image_to_array(img: QImage) -> np.ndarray:
    """QImage to an (h, w, 4) uint8 RGBA array (a copy)."""
    img = img.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w = img.height(), img.width()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes())
    return buf.reshape(h, img.bytesPerLine())[:, : w * 4].reshape(h, w, 4).copy()


def distinct_colors(arr: np.ndarray) -> int:
    rgb = arr[..., :3].reshape(-1, 3).astype(np.uint32)
    return int(np.unique((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]).size)


def grab_window(window: MainWindow):
    """The window as a QPixmap with the 3D view's own frame painted in.

    QWidget.grab() leaves out what GL items draw with QPainter (the axis labels),
    so the 3D view is copied from its framebuffer instead.
    """
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QPainter

    pixmap = window.grab()
    view = window.surface_view
    frame = view.grabFramebuffer()
    frame.setDevicePixelRatio(view.devicePixelRatioF())
    painter = QPainter(pixmap)
    painter.drawImage(view.mapTo(window, QPoint(0, 0)), frame)
    # widgets floating over the 3D view (the presentation caption) go back on top
    caption = getattr(getattr(window, "presentation", None), "caption", None)
    if caption is not None and caption.isVisible():
        painter.drawPixmap(caption.mapTo(window, QPoint(0, 0)), caption.grab())
    painter.end()
    return pixmap


def show_finished(app: QApplication, window: MainWindow) -> bool:
    """Show the window with the computed scene at its last step."""
    window.show()
    ok = wait_until_ready(app, window)
    window.scene.set_playback(frame=window.scene.max_steps, playing=False)
    for _ in range(5):
        app.processEvents()
        time.sleep(0.02)
    return ok


def run_screenshot(app: QApplication, window: MainWindow, path: str) -> int:
    if not show_finished(app, window):
        print("lossviewer: error: the scene did not finish computing in "
              f"{READY_TIMEOUT_S:.0f} s", file=sys.stderr)
        return 1
    image = grab_window(window)
    if not image.save(path):
        print(f"lossviewer: error: --screenshot: cannot write {path}", file=sys.stderr)
        return 1
    print(f"screenshot saved to {path} ({image.width()}×{image.height()})")
    window.close()
    return 0


def run_smoke_test(app: QApplication, window: MainWindow) -> int:
    """Open the window, render each view once, check the 3D frame has content."""
    ok = show_finished(app, window)
    problems = []
    if not ok:
        problems.append(f"scene not computed within {READY_TIMEOUT_S:.0f} s")
    frame3d = image_to_array(window.surface_view.grabFramebuffer())
    n3d = distinct_colors(frame3d)
    if n3d <= MIN_DISTINCT_COLORS:
        problems.append(f"3D view shows only {n3d} distinct colours (need > "
                        f"{MIN_DISTINCT_COLORS}): nothing was drawn")
    frame2d = image_to_array(window.contour_view.grab().toImage())
    n2d = distinct_colors(frame2d)
    if n2d <= MIN_DISTINCT_COLORS:
        problems.append(f"contour view shows only {n2d} distinct colours")
    window.close()
    if problems:
        for p in problems:
            print(f"smoke test FAILED: {p}", file=sys.stderr)
        return 1
    print(f"smoke test passed: 3D view {n3d} colours, contour view {n2d} colours")
    return 0


def _seconds_since_process_start() -> float | None:
    """Wall time since this process started (Linux /proc; None elsewhere): a frozen
    app's own bootloader and imports count."""
    import os

    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def run_startup_probe(app: QApplication, window: MainWindow) -> int:
    """--startup-probe: show the window, wait for the first 3D frame drawn with the
    computed scene (surface and paths), print the seconds since the process started
    (JSON on one line) and exit."""
    import json

    view = window.surface_view
    painted: list[float] = []
    original = view.paintGL

    def paint(*args, **kwargs):
        original(*args, **kwargs)
        if window.scene_ready and not painted:
            painted.append(_seconds_since_process_start() or float("nan"))

    view.paintGL = paint
    window.show()
    deadline = time.perf_counter() + READY_TIMEOUT_S
    while not painted and time.perf_counter() < deadline:
        app.processEvents()
        if window.scene_ready:
            view.update()
        time.sleep(0.002)
    colors = distinct_colors(image_to_array(view.grabFramebuffer())) if painted else 0
    print(json.dumps({"first_frame_s": painted[0] if painted else None, "colors": colors}))
    window.close()
    return 0 if painted and colors > MIN_DISTINCT_COLORS else 1
