"""Figures from the views: PNG of the 3D view at any size, PNG/SVG/PDF of the 2D plots.

The 3D view is rendered off-screen into a multisampled framebuffer object in the
view's own GL context (so its meshes and buffers are reused), independent of the
widget's size. The framing contains everything the widget shows: an export with
another aspect ratio gets extra margin on one side, never a crop.

Pixel-sized things scale with the picture, so a big export looks like the view
enlarged, not like a tiny view in a big frame: in 3D the scatter markers (pxMode),
line widths and axis labels (``GLLabelsItem``); in 2D text, markers and the
cosmetic (pixel-wide) pens of curves, markers and axes. Other cosmetic pens in
the 2D plots (grid, view-box and colour-bar frames) keep their pixel width.

The 2D plots are scaled in the device (a high-DPI image, the SVG viewBox, the PDF
resolution), never with the painter: pyqtgraph draws pixel-sized markers after
resetTransform() and legends ignore transformations, so a scaled painter would
leave them at their on-screen size.

Everything here runs on the GUI thread only.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import (
    QCoreApplication,
    QMarginsF,
    QPointF,
    QRect,
    QRectF,
    QSize,
    QSizeF,
    Qt,
    QThread,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QMatrix4x4,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
    QVector3D,
)

if TYPE_CHECKING:
    from lossviewer.ui.views.surface_view import SurfaceView

#: what ``export_view`` writes: extension (with the dot) -> description for a file dialog
EXPORT_IMAGE_FORMATS: dict[str, str] = {
    ".png": "PNG image",
    ".svg": "SVG vector drawing (2D plots only)",
    ".pdf": "PDF document (2D plots only)",
}

MIN_SIZE = 16
MAX_WIDTH = 3840
MAX_HEIGHT = 2160
#: pixels per inch of the SVG and PDF page sizes (CSS pixels)
_CSS_DPI = 96.0
_DESCRIPTION = "LossViewer"


# -- checks ----------------------------------------------------------------------------
def _check_size(width: int, height: int) -> tuple[int, int]:
    try:
        w, h = int(width), int(height)
    except (TypeError, ValueError):
        w = h = None
    if w != width or h != height:
        raise ValueError(f"image size must be whole numbers of pixels, not {width!r}×{height!r} "
                         f"(width {MIN_SIZE}–{MAX_WIDTH}, height {MIN_SIZE}–{MAX_HEIGHT})")
    if not (MIN_SIZE <= w <= MAX_WIDTH and MIN_SIZE <= h <= MAX_HEIGHT):
        raise ValueError(f"image size {width}×{height} is out of range: the width must be "
                         f"{MIN_SIZE}–{MAX_WIDTH} and the height {MIN_SIZE}–{MAX_HEIGHT} pixels")
    return w, h


def _require_gui_thread() -> None:
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() != app.thread():
        raise RuntimeError("images are rendered on the GUI thread only")


def _is_3d(widget) -> bool:
    from pyqtgraph.opengl import GLViewWidget

    return isinstance(widget, GLViewWidget)


# -- 3D ----------------------------------------------------------------------------------
def render_3d(view: SurfaceView, width: int, height: int, samples: int = 4) -> QImage:
    """Render the 3D view off-screen at ``width``×``height`` pixels, antialiased.

    The camera is the view's own; the picture shows at least what the widget shows
    (an export with another aspect ratio widens the field of view on one side).
    ``samples`` is the MSAA sample count (0: no antialiasing); where multisampling is
    unavailable the picture is rendered at twice the size and scaled down. Pixel
    sizes (markers, line widths, labels) scale with the picture. GUI thread only.
    """
    from OpenGL import GL
    from PySide6.QtOpenGL import QOpenGLFramebufferObject

    width, height = _check_size(width, height)
    _require_gui_thread()
    if not view.isValid():
        raise RuntimeError("the 3D view has no OpenGL context yet: show it first")
    samples = max(0, int(samples))
    wl, hl = max(view.width(), 1), max(view.height(), 1)
    dpr = view.devicePixelRatioF()
    # width in export pixels of the widget's (horizontal-fov) frustum: fits in both ways
    fit_width = min(float(width), height * wl / hl)
    label_scale = fit_width / wl  # export pixels per widget logical pixel
    gl_scale = fit_width / (wl * dpr)  # export pixels per widget device pixel

    view.makeCurrent()
    try:
        max_size = int(GL.glGetIntegerv(GL.GL_MAX_RENDERBUFFER_SIZE))
        image = None
        if samples >= 2:
            image = _render_fbo(view, width, height, fit_width, gl_scale, samples)
        if image is None:  # no multisampling (or not asked for): 2× supersampling
            factor = 2 if samples >= 2 and 2 * max(width, height) <= max_size else 1
            image = _render_fbo(view, factor * width, factor * height, factor * fit_width,
                                factor * gl_scale, 0)
            if image is None:
                raise RuntimeError("cannot create an OpenGL framebuffer of "
                                   f"{factor * width}×{factor * height} pixels")
            if factor != 1:
                image = image.scaled(width, height, Qt.AspectRatioMode.IgnoreAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
        QOpenGLFramebufferObject.bindDefault()
        GL.glViewport(0, 0, view.deviceWidth(), view.deviceHeight())
    finally:
        view.doneCurrent()
    view.update()
    projection = view.projectionMatrix((0, 0, width, height),
                                       _fit_viewport(width, height, fit_width))
    _paint_labels(view, image, projection, label_scale)
    return image


def _fit_viewport(width: float, height: float, fit_width: float) -> tuple[float, ...]:
    """pyqtgraph's (x0, y0, w, h) 'viewport' whose frustum spans ``fit_width`` of the
    ``width``×``height`` picture, centred (its field of view spans the viewport width)."""
    return ((width - fit_width) / 2.0, 0.0, fit_width, float(height))


def _render_fbo(view, width: int, height: int, fit_width: float, gl_scale: float,
                samples: int) -> QImage | None:
    """One GL pass into an FBO (context current); None if the FBO cannot be made or
    multisampling was asked for and is unavailable."""
    from OpenGL import GL
    from PySide6.QtOpenGL import QOpenGLFramebufferObject, QOpenGLFramebufferObjectFormat

    fmt = QOpenGLFramebufferObjectFormat()
    fmt.setAttachment(QOpenGLFramebufferObject.Attachment.CombinedDepthStencil)
    fmt.setSamples(samples)
    size = QSize(width, height)
    fbo = QOpenGLFramebufferObject(size, fmt)
    resolved = None
    try:
        if not fbo.isValid() or (samples >= 2 and fbo.format().samples() < 2):
            return None
        if not fbo.bind():
            return None
        GL.glViewport(0, 0, width, height)
        with _scaled_pixel_items(view, gl_scale), _hidden_labels(view):
            view.paint(region=(0, 0, width, height),
                       viewport=_fit_viewport(width, height, fit_width))
        if samples >= 2:
            plain = QOpenGLFramebufferObjectFormat()
            resolved = QOpenGLFramebufferObject(size, plain)
            if not resolved.isValid():
                return None
            QOpenGLFramebufferObject.blitFramebuffer(
                resolved, QRect(0, 0, width, height), fbo, QRect(0, 0, width, height),
                GL.GL_COLOR_BUFFER_BIT, GL.GL_NEAREST)
            image = resolved.toImage()
        else:
            image = fbo.toImage()
        fbo.release()
    finally:
        # free the GL objects now, while the view's context is current
        del fbo, resolved
    return _opaque(image)


def _opaque(image: QImage) -> QImage:
    """The framebuffer's colours with alpha ignored, as on screen (blending leaves
    alpha below 1 where translucent items were drawn)."""
    image = image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied) \
        if image.format() != QImage.Format.Format_ARGB32_Premultiplied else image.copy()
    image.reinterpretAsFormat(QImage.Format.Format_RGB32)
    return image


def _gl_labels_items(view) -> list:
    from lossviewer.ui.views.gl_labels import GLLabelsItem

    return [it for it in view.items if isinstance(it, GLLabelsItem) and it.visible()]


@contextmanager
def _hidden_labels(view) -> Iterator[None]:
    """GLLabelsItem paints with a QPainter on the widget (its own framebuffer, not
    ours): it is left out of the GL pass and painted onto the picture afterwards."""
    items = _gl_labels_items(view)
    for it in items:
        it.setVisible(False)
    try:
        yield
    finally:
        for it in items:
            it.setVisible(True)


@contextmanager
def _scaled_pixel_items(view, scale: float) -> Iterator[None]:
    """Scatter sizes and line widths × scale for one pass (restored afterwards)."""
    import numpy as np
    from pyqtgraph.opengl import GLLinePlotItem, GLScatterPlotItem

    restore: list[Callable[[], None]] = []
    if abs(scale - 1.0) > 1e-6:
        for it in view.items:
            if isinstance(it, GLScatterPlotItem) and it.pxMode:
                size = it.size
                if isinstance(size, np.ndarray):
                    it.setData(size=size * scale)
                    restore.append(lambda it=it, size=size: it.setData(size=size))
                else:
                    it.size = size * scale
                    restore.append(lambda it=it, size=size: setattr(it, "size", size))
            elif isinstance(it, GLLinePlotItem):
                width = it.width
                it.width = width * scale
                restore.append(lambda it=it, width=width: setattr(it, "width", width))
    try:
        yield
    finally:
        for undo in restore:
            undo()


def _paint_labels(view, image: QImage, projection: QMatrix4x4, scale: float) -> None:
    """Draw the view's GLLabelsItems onto the picture, text scaled like the scene."""
    items = _gl_labels_items(view)
    if not items:
        return
    to_image = QMatrix4x4()
    to_image.viewport(0.0, float(image.height()), float(image.width()), -float(image.height()))
    # fonts are in points: the same pixel size per point as on the widget, × scale
    dpi_ratio = view.logicalDpiY() / max(image.logicalDpiY(), 1)
    painter = QPainter(image)
    try:
        painter.setRenderHints(QPainter.RenderHint.Antialiasing
                               | QPainter.RenderHint.TextAntialiasing)
        painter.scale(scale, scale)
        for it in items:
            project = to_image * projection * view.viewMatrix() * it.viewTransform()
            fonts = {False: QFont(it._font), True: QFont(it._bold)}
            for font in fonts.values():
                font.setPointSizeF(font.pointSizeF() * dpi_ratio)
            painter.setPen(QColor(it._color))
            for bold in (False, True):
                painter.setFont(fonts[bold])
                metrics = QFontMetricsF(fonts[bold], image)
                for lab in it._labels:
                    if lab.bold != bold:
                        continue
                    p = project.map(QVector3D(lab.x, lab.y, lab.z)).toPointF() / scale
                    box = metrics.tightBoundingRect(lab.text)
                    dx = box.width() / 2 if lab.align == "center" else 0.0
                    painter.drawText(QPointF(p.x() - dx, p.y() + box.height() / 2), lab.text)
    finally:
        painter.end()


# -- 2D ----------------------------------------------------------------------------------
def _source_rect(widget: pg.PlotWidget) -> QRectF:
    """The part of the scene the widget shows."""
    return widget.mapToScene(widget.viewport().rect()).boundingRect()


def _background(widget: pg.PlotWidget) -> QColor | None:
    brush = widget.backgroundBrush()
    return None if brush.style() == Qt.BrushStyle.NoBrush else QColor(brush.color())


def _fitted(source: QRectF, width: float, height: float) -> tuple[QRectF, float]:
    """The source's aspect inside width×height, centred; and the scale factor."""
    scale = min(width / source.width(), height / source.height())
    w, h = source.width() * scale, source.height() * scale
    return QRectF((width - w) / 2, (height - h) / 2, w, h), scale


@contextmanager
def _export_mode(widget: pg.PlotWidget) -> Iterator[None]:
    """pyqtgraph's export mode: markers drawn as shapes (not cached pixmaps), no
    auto-range button; what pyqtgraph's own exporters do."""
    items = [it for it in widget.scene().items() if hasattr(it, "setExportMode")]
    opts = {"antialias": True, "resolutionScale": 1.0}
    for it in items:
        it.setExportMode(True, opts)
    try:
        yield
    finally:
        for it in items:
            it.setExportMode(False)


def _wider(pen: QPen, factor: float) -> QPen:
    wider = QPen(pen)
    wider.setWidthF(max(pen.widthF(), 1.0) * factor)
    return wider


@contextmanager
def _thick_pens(widget: pg.PlotWidget, factor: float) -> Iterator[None]:
    """Cosmetic pens (device-pixel widths) of curves, markers and axes × factor for
    one render, so lines keep their on-screen weight in a bigger picture."""
    restore: list[Callable[[], None]] = []
    if factor > 1.0 + 1e-6:
        for it in widget.scene().items():
            if isinstance(it, (pg.PlotCurveItem, pg.ScatterPlotItem)):
                for key in ("pen", "shadowPen"):
                    pen = it.opts.get(key)
                    if isinstance(pen, QPen) and pen.isCosmetic():
                        it.opts[key] = _wider(pen, factor)
                        restore.append(lambda o=it.opts, k=key, v=pen: o.__setitem__(k, v))
            elif isinstance(it, pg.AxisItem) and hasattr(it, "_pen") and hasattr(
                    it, "_tickPen"):
                # the axis caches its drawing in a QPicture: redraw it with wider pens
                pen, tick_pen = it._pen, it._tickPen
                if it.pen().isCosmetic():
                    it._pen = _wider(it.pen(), factor)
                if tick_pen is not None and it.tickPen().isCosmetic():
                    it._tickPen = _wider(it.tickPen(), factor)
                it.picture = None
                restore.append(lambda it=it, pen=pen, tick_pen=tick_pen: (
                    setattr(it, "_pen", pen), setattr(it, "_tickPen", tick_pen),
                    setattr(it, "picture", None)))
    try:
        yield
    finally:
        for undo in restore:
            undo()


def _fit_scale(widget: pg.PlotWidget, width: float, height: float) -> float:
    """Output pixels per widget pixel when the visible scene fits width×height."""
    source = _source_rect(widget)
    if source.width() <= 0 or source.height() <= 0:
        raise RuntimeError("the plot has no visible area to export")
    return _fitted(source, width, height)[1]


def _paint_scene(widget: pg.PlotWidget, painter: QPainter, width: float, height: float,
                 pen_factor: float) -> None:
    """Paint the widget's visible scene into (0, 0, width, height) of the painter,
    centred and (about) 1:1, on the widget's background colour.

    The callers scale in the device (a high-DPI image, an SVG viewBox, a PDF
    resolution), not with the painter: pyqtgraph draws pixel-sized markers after
    resetTransform() and the legend ignores transformations, so a scaled painter
    would leave them at their on-screen size. Cosmetic pens are × ``pen_factor``.
    """
    source = _source_rect(widget)
    target, _scale = _fitted(source, width, height)
    bg = _background(widget)
    if bg is not None:
        painter.fillRect(QRectF(0, 0, width, height), bg)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing
                           | QPainter.RenderHint.TextAntialiasing)
    with _export_mode(widget), _thick_pens(widget, pen_factor):
        widget.scene().render(painter, target, source)


def render_2d(widget: pg.PlotWidget, width: int, height: int) -> QImage:
    """Render the plot as shown (its visible scene rect) into a ``width``×``height``
    image: scaled to fit with its aspect kept, centred on the widget's background
    colour. Text, markers and line widths scale with the picture, like on a high-DPI
    screen. The widget is not resized. GUI thread only."""
    width, height = _check_size(width, height)
    _require_gui_thread()
    scale = _fit_scale(widget, width, height)
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor(0, 0, 0, 0))
    # a high-DPI image: the scene is laid out at its own size, then scaled by the device
    image.setDevicePixelRatio(scale)
    painter = QPainter(image)
    try:
        _paint_scene(widget, painter, width / scale, height / scale, pen_factor=scale)
    finally:
        painter.end()
    image.setDevicePixelRatio(1.0)
    return image


def _write_svg(widget: pg.PlotWidget, path: str, width: int, height: int) -> bool:
    """SVG of width×height px; the viewBox is in widget pixels (the SVG scales)."""
    from PySide6.QtSvg import QSvgGenerator

    scale = _fit_scale(widget, width, height)
    gen = QSvgGenerator()
    gen.setFileName(path)
    gen.setSize(QSize(width, height))
    gen.setResolution(round(_CSS_DPI))  # the size in mm then means `width` px at 96 dpi
    gen.setViewBox(QRectF(0, 0, width / scale, height / scale))
    gen.setTitle(_DESCRIPTION)
    gen.setDescription(_DESCRIPTION)
    painter = QPainter()
    if not painter.begin(gen):
        return False
    try:
        # cosmetic pens are written as non-scaling strokes: widen them with the picture
        _paint_scene(widget, painter, width / scale, height / scale, pen_factor=scale)
    finally:
        painter.end()
    return True


def _write_pdf(widget: pg.PlotWidget, path: str, width: int, height: int) -> bool:
    """PDF page of width×height px at 96 px per inch, vector; one device unit is one
    widget pixel (the resolution is chosen for that: 96 dpi at the widget's size)."""
    scale = _fit_scale(widget, width, height)
    resolution = max(1, round(_CSS_DPI / scale))
    canvas_w, canvas_h = width / scale, height / scale
    writer = QPdfWriter(path)
    writer.setCreator(_DESCRIPTION)
    writer.setTitle(_DESCRIPTION)
    writer.setResolution(resolution)
    page = QPageSize(QSizeF(canvas_w * 72.0 / resolution, canvas_h * 72.0 / resolution),
                     QPageSize.Unit.Point, _DESCRIPTION, QPageSize.SizeMatchPolicy.ExactMatch)
    writer.setPageLayout(QPageLayout(page, QPageLayout.Orientation.Portrait,
                                     QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point))
    painter = QPainter()
    if not painter.begin(writer):
        return False
    try:
        _paint_scene(widget, painter, writer.width(), writer.height(), pen_factor=1.0)
    finally:
        painter.end()
    return True


# -- files -------------------------------------------------------------------------------
def _default_size(widget, width: int | None, height: int | None,
                  device_pixels: bool) -> tuple[int, int]:
    dpr = widget.devicePixelRatioF() if device_pixels else 1.0
    ww, wh = max(widget.width(), 1) * dpr, max(widget.height(), 1) * dpr
    if width is None and height is None:
        # the widget's size, shrunk (aspect kept) to fit the limits
        f = min(1.0, MAX_WIDTH / ww, MAX_HEIGHT / wh)
        return max(MIN_SIZE, round(ww * f)), max(MIN_SIZE, round(wh * f))
    if width is None:
        return max(MIN_SIZE, min(MAX_WIDTH, round(height * ww / wh))), height
    if height is None:
        return width, max(MIN_SIZE, min(MAX_HEIGHT, round(width * wh / ww)))
    return width, height


def _new_file_mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _save_atomically(path: str, write: Callable[[str], bool]) -> None:
    """write(tmp) into a temporary file beside ``path``, then replace ``path`` with it.
    A failure leaves an existing file as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save {path}: the folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot save {path}: the folder {folder} is not writable "
                      f"({exc.strerror})") from exc
    os.close(fd)
    try:
        if not write(tmp) or os.path.getsize(tmp) == 0:
            raise OSError(f"cannot save {path}: writing the image failed")
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def export_view(widget, path: str, width: int | None = None,
                height: int | None = None) -> None:
    """Save a view as an image chosen by the extension of ``path``.

    ``.png``: the 3D view (``SurfaceView``) or a 2D plot, by default at the widget's
    size in device pixels (shrunk to fit 3840×2160). ``.svg`` / ``.pdf``: 2D plots
    only, vector output, by default at the widget's size. Give one of width/height
    and the other follows the widget's aspect. The file is written atomically.
    ValueError: unknown extension, vector output of the 3D view, size out of range;
    OSError: the folder is missing or not writable, or writing failed.
    """
    ext = os.path.splitext(path)[1].lower()
    if ext not in EXPORT_IMAGE_FORMATS:
        known = ", ".join(EXPORT_IMAGE_FORMATS)
        raise ValueError(f"cannot export to {ext or 'a file without extension'!r}: "
                         f"choose one of {known}")
    is_3d = _is_3d(widget)
    if is_3d and ext != ".png":
        raise ValueError(f"the 3D view exports as PNG only, not {ext}; use the contour "
                         "map for vector output (SVG or PDF)")
    if not is_3d and not isinstance(widget, pg.GraphicsView):
        raise ValueError(f"cannot export a {type(widget).__name__}: not a plot or the 3D view")
    w, h = _default_size(widget, width, height, device_pixels=ext == ".png")
    w, h = _check_size(w, h)
    _require_gui_thread()

    if ext == ".png":
        image = render_3d(widget, w, h) if is_3d else render_2d(widget, w, h)
        _save_atomically(path, lambda tmp: image.save(tmp, "PNG"))
    elif ext == ".svg":
        _save_atomically(path, lambda tmp: _write_svg(widget, tmp, w, h))
    else:
        _save_atomically(path, lambda tmp: _write_pdf(widget, tmp, w, h))


def save_png(image: QImage, path: str) -> None:
    """An image (e.g. both views side by side) written atomically as PNG."""
    _save_atomically(path, lambda tmp: image.save(tmp, "PNG"))


def copy_to_clipboard(image: QImage) -> None:
    """Put the image on the system clipboard."""
    QGuiApplication.clipboard().setImage(image)
