"""Start-up in the order that works on every platform we verified (DESIGN.md).

1. default QSurfaceFormat (desktop OpenGL, depth 24, 4× MSAA) before any widget;
2. QApplication (not pg.mkQApp, which forces its own style and icon);
3. PYOPENGL_PLATFORM: egl on Wayland, glx otherwise, unless the user set it —
   PyOpenGL picks EGL whenever XDG_SESSION_TYPE=wayland, even under X11;
4. only then import pyqtgraph.opengl (through lossviewer.ui).
"""

from __future__ import annotations

import os
import sys


def _choose_pyopengl_platform(qt_platform: str) -> None:
    if "PYOPENGL_PLATFORM" in os.environ:
        return
    os.environ["PYOPENGL_PLATFORM"] = "egl" if qt_platform.startswith("wayland") else "glx"


def create_application(argv: list[str] | None = None):  # -> QApplication
    """Create (or return) the QApplication with the GL defaults set first."""
    # PySide6 first: pyqtgraph prefers PyQt6 when both are installed
    from PySide6.QtGui import QSurfaceFormat
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        fmt = QSurfaceFormat()
        fmt.setRenderableType(QSurfaceFormat.RenderableType.OpenGL)
        fmt.setDepthBufferSize(24)
        fmt.setSamples(4)
        QSurfaceFormat.setDefaultFormat(fmt)
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName("LossViewer")
        app.setOrganizationName("LossViewer")
        app.setApplicationDisplayName("LossViewer")
        app.setDesktopFileName("lossviewer")
    _choose_pyopengl_platform(app.platformName())
    return app


def run_gui(function: str | None = None, screenshot: str | None = None,
            smoke_test: bool = False, size: tuple[int, int] | None = None) -> int:
    """Open the main window; or render a screenshot / run the smoke test and exit."""
    app = create_application()
    from lossviewer.ui.main_window import MainWindow

    window = MainWindow(function=function)
    window.resize(*(size or (1500, 900)))
    if screenshot or smoke_test:
        from lossviewer.ui.offscreen import run_screenshot, run_smoke_test

        if smoke_test:
            return run_smoke_test(app, window)
        return run_screenshot(app, window, screenshot)
    window.show()
    return app.exec()
