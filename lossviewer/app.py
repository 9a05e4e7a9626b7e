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


def _apply_dark_theme(app) -> None:
    """Fusion with the dark palette until the window applies the chosen theme (dark is
    what the views are drawn in first, and what projectors like)."""
    from lossviewer.ui.theme import DARK, qt_palette

    app.setStyle("Fusion")
    app.setPalette(qt_palette(DARK))


def _set_icon(app) -> None:
    """The application icon from the package's PNG sizes (resources/icons is the source)."""
    from importlib import resources

    from PySide6.QtGui import QIcon, QPixmap

    icon = QIcon()
    folder = resources.files("lossviewer.ui").joinpath("icons")
    for n in (16, 32, 48, 64, 128, 256):
        data = folder.joinpath(f"lossviewer-{n}.png")
        if data.is_file():
            pixmap = QPixmap()
            pixmap.loadFromData(data.read_bytes(), "PNG")
            icon.addPixmap(pixmap)
    if not icon.isNull():
        app.setWindowIcon(icon)


def create_application(argv: list[str] | None = None):  # -> QApplication
    """Create (or return) the QApplication with the GL defaults set first."""
    # PySide6 first: pyqtgraph prefers PyQt6 when both are installed
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QSurfaceFormat
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        fmt = QSurfaceFormat()
        fmt.setRenderableType(QSurfaceFormat.RenderableType.OpenGL)
        fmt.setDepthBufferSize(24)
        fmt.setSamples(4)
        QSurfaceFormat.setDefaultFormat(fmt)
        # pyqtgraph caches compiled shader programs per class, not per context:
        # every GL view must share one context group or a second view fails
        QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName("LossViewer")
        app.setOrganizationName("LossViewer")
        app.setApplicationDisplayName("LossViewer")
        # Wayland takes the icon from the desktop file of this name; X11 from the window
        app.setDesktopFileName("lossviewer")
        _set_icon(app)
        _apply_dark_theme(app)
        _adapt_to_renderer(fmt)
        from lossviewer.ui.gui_thread_gc import GuiThreadGarbageCollector

        # cycles are collected on the GUI thread only (a worker destroying Qt objects hangs)
        app._lossviewer_gc = GuiThreadGarbageCollector(app)
    _choose_pyopengl_platform(app.platformName())
    return app


#: MSAA samples; LOSSVIEWER_MSAA overrides the automatic choice
MSAA_ENV = "LOSSVIEWER_MSAA"
_SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software rasterizer")


def _adapt_to_renderer(fmt) -> None:
    """4× MSAA costs 2.5× per frame on a software renderer (Mesa llvmpipe, measured:
    73 ms vs 185 ms for the default scene), so it is only used on a real GPU."""
    from PySide6.QtGui import QSurfaceFormat

    samples = os.environ.get(MSAA_ENV)
    if samples is None:
        from lossviewer.ui.gl_info import gl_renderer_name

        renderer = gl_renderer_name().lower()
        samples = "0" if any(s in renderer for s in _SOFTWARE_RENDERERS) else "4"
    try:
        n = max(0, min(16, int(samples)))
    except ValueError:
        n = 4
    if n != fmt.samples():
        fmt.setSamples(n)
        QSurfaceFormat.setDefaultFormat(fmt)


def run_gui(function: str | None = None, screenshot: str | None = None,
            smoke_test: bool = False, size: tuple[int, int] | None = None) -> int:
    """Open the main window; or render a screenshot / run the smoke test and exit."""
    app = create_application()
    from lossviewer.ui.main_window import MainWindow

    # headless renders neither read nor overwrite the user's window layout
    window = MainWindow(function=function, persist_layout=not (screenshot or smoke_test))
    window.resize(*(size or (1500, 900)))
    if screenshot or smoke_test:
        from lossviewer.ui.offscreen import run_screenshot, run_smoke_test

        if smoke_test:
            return run_smoke_test(app, window)
        return run_screenshot(app, window, screenshot)
    window.show()
    return app.exec()
