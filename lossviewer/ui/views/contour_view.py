"""ContourView: the map. Colormap image, isolines, colour bar, paths and markers.

Click sets the selected run's start point (shift-click: every run's); the
hover read-out shows x, y, loss and |∇loss| under the cursor.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QLabel

from lossviewer.core.grid import ScaledSurface, SurfaceDisplay, clip_path
from lossviewer.ui import theme


class ContourView(pg.PlotWidget):
    """2D map of the landscape."""

    #: (x, y, all_runs) when the user clicks inside the plot
    start_requested = Signal(float, float, bool)
    #: (x, y) under the mouse, or NaNs when it leaves the plot
    hovered = Signal(float, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumSize(300, 240)
        item = self.getPlotItem()
        item.setLabel("bottom", "x")
        item.setLabel("left", "y")
        item.showGrid(x=False, y=False)
        # equal scales on x and y: gradients cross the isolines at right angles
        self.setAspectLocked(True)
        item.getViewBox().setDefaultPadding(0.0)
        self._image = pg.ImageItem()
        self._image.setZValue(-10)
        self.addItem(self._image)
        self._lines = pg.PlotCurveItem(pen=pg.mkPen(theme.ISOLINE_COLOR, width=1),
                                       connect="finite", antialias=True)
        self.addItem(self._lines)
        self._colorbar = pg.ColorBarItem(values=(0, 1), colorMap=theme.colormap("viridis"),
                                         interactive=False, width=16)
        self._colorbar.setImageItem(self._image, insert_in=item)
        # "loss (x0.001)" reads badly: the tick labels carry their own digits
        self._colorbar.axis.enableAutoSIPrefix(False)
        self._paths: dict[int, tuple[pg.PlotCurveItem, pg.ScatterPlotItem]] = {}
        self._starts = pg.ScatterPlotItem(symbol="o", size=10, pen=pg.mkPen("w", width=2),
                                          brush=pg.mkBrush(0, 0, 0, 0))
        self._starts.setZValue(20)
        self.addItem(self._starts)
        self._markers = pg.ScatterPlotItem(pen=pg.mkPen("#0b0d10", width=1))
        self._markers.setZValue(19)
        self.addItem(self._markers)
        # overlays, bottom to top: curvature heatmap, basins, (isolines), arrows
        self._heatmap = pg.ImageItem()
        self._heatmap.setZValue(-9)
        self._heatmap.setVisible(False)
        self.addItem(self._heatmap)
        self._basins = pg.ImageItem()
        self._basins.setZValue(-8)
        self._basins.setVisible(False)
        self.addItem(self._basins)
        self._arrows = pg.PlotCurveItem(pen=pg.mkPen(theme.ARROW_COLOR, width=1.4),
                                        connect="pairs", antialias=True)
        self._arrows.setZValue(5)
        self.addItem(self._arrows)
        # two small legends (drag to move): marker kinds top right, basins bottom right
        self._legend = self._make_legend(item.getViewBox(), (-10, 10))
        self._basin_legend_item = self._make_legend(item.getViewBox(), (-10, -10))
        self._legend_samples: list[pg.GraphicsObject] = []
        self._marker_kinds: list[str] = []
        self._basin_legend: list[tuple[str, str]] = []
        self._path_legend: list[tuple[str, str]] = []
        self._colorbar_target = "surface"
        self._surface_bar = ((0.0, 1.0), "viridis", "loss")
        self._readout = pg.TextItem(anchor=(0, 0), color=theme.TEXT,
                                    fill=pg.mkBrush(20, 22, 27, 210))
        self._readout.setZValue(50)
        self._readout.setVisible(False)
        self.addItem(self._readout, ignoreBounds=True)
        self._scaled: ScaledSurface | None = None
        self._xr: tuple[float, float] = (-np.inf, np.inf)
        self._yr: tuple[float, float] = (-np.inf, np.inf)
        # "out of date" / "computing…" over the map, in the top-left corner
        self._note = QLabel(self)
        self._note.setStyleSheet("background: rgba(20, 22, 27, 210); color: #ffb020;"
                                 "padding: 3px 8px; border-radius: 3px;")
        self._note.move(60, 8)
        self._note.hide()
        self._user_moved = False
        item.getViewBox().sigRangeChangedManually.connect(self._on_user_moved)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    # -- surface -----------------------------------------------------------------
    def set_surface(self, data: SurfaceDisplay, zscale: str, colormap: str) -> None:
        s = data.scales[zscale]
        self._scaled = s
        surf = data.surface
        x0, x1 = float(surf.xs[0]), float(surf.xs[-1])
        y0, y1 = float(surf.ys[0]), float(surf.ys[-1])
        self._xr, self._yr = (x0, x1), (y0, y1)
        img = s.image
        self._image.setImage(img, autoLevels=False, levels=(s.display.lo, s.display.hi))
        self._image.setRect(self._grid_rect(np.linspace(x0, x1, img.shape[1]),
                                            np.linspace(y0, y1, img.shape[0])))
        self._lines.setData(s.lines[:, 0], s.lines[:, 1]) if len(s.lines) else self._lines.clear()
        value = surf.meta.get("value_label", "loss")
        label = f"log₁₀({value} − min)" if zscale == "log" else value
        xl, yl = surf.meta.get("axis_labels") or ("x", "y")
        self.getPlotItem().setLabel("bottom", xl)
        self.getPlotItem().setLabel("left", yl)
        self._surface_bar = ((s.display.lo, s.display.hi), colormap, label)
        if self._colorbar_target == "surface":
            self._show_bar(*self._surface_bar)
        self._user_moved = False
        # room to pan around the domain; generous, because with equal scales a tall or
        # wide pane needs a much longer range on one axis to show the whole domain
        span = 5 * max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        self.getPlotItem().getViewBox().setLimits(
            xMin=cx - span, xMax=cx + span, yMin=cy - span, yMax=cy + span)
        self.fit_domain()

    def fit_domain(self) -> None:
        """Show the whole domain (with equal scales the other axis gets margins)."""
        (x0, x1), (y0, y1) = getattr(self, "_xr", (np.inf,) * 2), getattr(self, "_yr", (0, 0))
        if np.isfinite([x0, x1, y0, y1]).all():
            self.getPlotItem().getViewBox().setRange(xRange=(x0, x1), yRange=(y0, y1),
                                                     padding=0)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        # with equal scales a range set for another size would crop the domain
        if not getattr(self, "_user_moved", True):
            self.fit_domain()

    def apply_theme(self, colors: theme.ThemeColors) -> None:
        """Background, axes, colour bar, legends and read-out in the theme's colours."""
        theme.style_plot(self, colors)
        bar = self._colorbar.axis
        bar.setPen(pg.mkPen(colors.muted))
        bar.setTextPen(pg.mkPen(colors.text))
        bar.label.setDefaultTextColor(pg.mkColor(colors.text))
        for legend in (self._legend, self._basin_legend_item):
            legend.setBrush(pg.mkBrush(*colors.legend_brush))
            legend.setLabelTextColor(colors.text)
        self._rebuild_legend()  # rows keep the colour they were made with
        self._readout.setColor(pg.mkColor(colors.text))
        self._readout.fill = pg.mkBrush(*colors.legend_brush)

    def set_scale(self, scale: float) -> None:
        """Larger fonts and thicker paths (presentation mode: 1.0 is the normal look)."""
        self._scale = float(scale)
        theme.scale_plot_fonts(self.getPlotItem(), scale, extra_axes=(self._colorbar.axis,))

    @property
    def aspect_locked(self) -> bool:
        return bool(self.getPlotItem().getViewBox().state["aspectLocked"])

    def setAspectLocked(self, lock: bool = True, ratio: float = 1) -> None:  # noqa: N802
        super().setAspectLocked(lock, ratio)
        if not getattr(self, "_user_moved", True):
            self.fit_domain()

    def set_note(self, text: str) -> None:
        """A short note over the map ('' hides it)."""
        self._note.setText(text)
        self._note.adjustSize()
        self._note.setVisible(bool(text))

    def set_colormap(self, colormap: str) -> None:
        levels, _cmap, label = self._surface_bar
        self._surface_bar = (levels, colormap, label)
        if self._colorbar_target == "surface":
            self._colorbar.setColorMap(theme.colormap(colormap))

    def _show_bar(self, levels: tuple[float, float], colormap: str, label: str) -> None:
        self._colorbar.setLevels(levels)
        self._colorbar.setColorMap(theme.colormap(colormap))
        self._colorbar.axis.setLabel(label)

    def _grid_rect(self, xs: np.ndarray, ys: np.ndarray) -> QRectF:
        """Pixel centres on the grid points: the image reaches half a pixel beyond."""
        x0, x1, y0, y1 = float(xs[0]), float(xs[-1]), float(ys[0]), float(ys[-1])
        dx = (x1 - x0) / max(len(xs) - 1, 1)
        dy = (y1 - y0) / max(len(ys) - 1, 1)
        return QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy)

    # -- analysis overlays --------------------------------------------------------------
    def set_heatmap(self, values: np.ndarray | None, xs: np.ndarray | None = None,
                    ys: np.ndarray | None = None, levels: tuple[float, float] = (0.0, 1.0),
                    colormap: str = theme.CURVATURE_COLORMAP, label: str = "",
                    ticks: list[tuple[float, str]] | None = None) -> None:
        """A field over the grid xs × ys drawn instead of the loss colours (None: off).

        The colour bar follows it (``ticks``: (position, label) when the values are
        a transform of what the labels say); isolines, paths and markers stay on top.
        """
        if values is None and self._colorbar_target == "surface":
            return  # nothing shown: rebinding the bar would re-render the loss image
        self._colorbar.axis.setTicks([ticks] if ticks else None)
        if values is None:
            self._heatmap.setVisible(False)
            self._image.setVisible(True)
            self._colorbar_target = "surface"
            self._colorbar.setImageItem(self._image)
            self._show_bar(*self._surface_bar)
            return
        self._heatmap.setImage(np.ascontiguousarray(values, dtype=np.float32),
                               autoLevels=False, levels=levels)
        self._heatmap.setRect(self._grid_rect(xs, ys))
        self._heatmap.setVisible(True)
        self._image.setVisible(False)
        self._colorbar_target = "heatmap"
        self._colorbar.setImageItem(self._heatmap)
        self._show_bar(levels, colormap, label)

    def set_arrows(self, segments: np.ndarray | None) -> None:
        """Line segments as consecutive point pairs, shape (2k, 2); None hides them."""
        if segments is None or len(segments) == 0:
            if self._arrows.isVisible():
                self._arrows.clear()
                self._arrows.setVisible(False)
            return
        self._arrows.setData(segments[:, 0], segments[:, 1])
        self._arrows.setVisible(True)

    def set_basins(self, rgba: np.ndarray | None, xs: np.ndarray | None = None,
                   ys: np.ndarray | None = None, opacity: float = 0.55,
                   legend: list[tuple[str, str]] | None = None) -> None:
        """An (ny, nx, 4) uint8 image over the grid xs × ys; legend rows (colour, text)."""
        if rgba is None:
            if not self._basins.isVisible() and not self._basin_legend:
                return
            self._basins.setVisible(False)
            self._basin_legend = []
        else:
            self._basins.setImage(rgba, autoLevels=False)
            self._basins.setRect(self._grid_rect(xs, ys))
            self._basins.setOpacity(opacity)
            self._basins.setVisible(True)
            self._basin_legend = list(legend or [])
        self._rebuild_legend()

    @staticmethod
    def _make_legend(parent, offset: tuple[int, int]) -> pg.LegendItem:
        legend = pg.LegendItem(offset=offset, labelTextColor=theme.TEXT,
                               brush=pg.mkBrush(20, 22, 27, 190), labelTextSize="8pt",
                               verSpacing=-6, horSpacing=6)
        legend.setParentItem(parent)
        legend.setVisible(False)
        return legend

    def _rebuild_legend(self) -> None:
        self._legend.clear()
        self._basin_legend_item.clear()
        self._legend_samples = []
        for kind in self._marker_kinds:
            symbol, color, size = theme.MARKER_STYLES[kind]
            sample = pg.ScatterPlotItem(symbol=symbol, size=min(size, 14),
                                        pen=pg.mkPen("#0b0d10", width=1),
                                        brush=pg.mkBrush(color))
            self._legend_samples.append(sample)
            self._legend.addItem(sample, theme.MARKER_TITLES[kind])
        for color, text in self._path_legend:
            sample = pg.PlotDataItem(pen=pg.mkPen(color, width=2.5,
                                                  style=Qt.PenStyle.DashLine))
            self._legend_samples.append(sample)
            self._legend.addItem(sample, html.escape(text))
        for color, text in self._basin_legend:
            sample = pg.BarGraphItem(x=[0], height=[1], width=1, brush=pg.mkBrush(color),
                                     pen=pg.mkPen("#0b0d10"))
            self._legend_samples.append(sample)
            self._basin_legend_item.addItem(sample, html.escape(text))  # labels are HTML
        self._legend.setVisible(bool(self._marker_kinds or self._path_legend))
        self._basin_legend_item.setVisible(bool(self._basin_legend))

    # -- paths -----------------------------------------------------------------
    def set_paths(self, paths: list[dict]) -> None:
        alive = {p["run_id"] for p in paths}
        for rid in list(self._paths):
            if rid not in alive:
                for item in self._paths.pop(rid):
                    self.removeItem(item)
        starts = []
        for p in paths:
            rid = p["run_id"]
            if rid not in self._paths:
                curve = pg.PlotCurveItem(antialias=True)
                curve.setZValue(10)
                head = pg.ScatterPlotItem(symbol="o", size=13)
                head.setZValue(21)
                self.addItem(curve)
                self.addItem(head)
                self._paths[rid] = (curve, head)
            curve, head = self._paths[rid]
            width = (3.5 if p.get("selected") else 2.5) * getattr(self, "_scale", 1.0)
            style = Qt.PenStyle.DashLine if p.get("dash") else Qt.PenStyle.SolidLine
            curve.setPen(pg.mkPen(p["color"], width=width, style=style))
            # a run that leaves the domain is drawn to the edge, where it gets its marker
            xy, _ = clip_path(p["xy"], np.zeros(len(p["xy"])), self._xr, self._yr)
            if len(xy) >= 1:
                curve.setData(xy[:, 0], xy[:, 1])
            else:
                curve.clear()
            if p.get("head") is not None:
                hx, hy = p["head"][:2]
                if len(xy) and len(xy) < len(p["xy"]):
                    hx, hy = xy[-1]
                head.setData([hx], [hy], brush=pg.mkBrush(p["color"]),
                             pen=pg.mkPen("#0b0d10", width=1.5),
                             symbol="x" if p.get("diverged") else "o",
                             size=18 if p.get("diverged") else 13)
            else:
                head.clear()
            if p.get("start") is not None:
                starts.append(p["start"][:2])
        if starts:
            arr = np.array(starts)
            self._starts.setData(arr[:, 0], arr[:, 1])
        else:
            self._starts.clear()

    def set_path_legend(self, entries: list[tuple[str, str]]) -> None:
        """Legend lines for drawn paths that are not runs: (colour, text), dashed."""
        if entries != self._path_legend:
            self._path_legend = list(entries)
            self._rebuild_legend()

    def set_markers(self, points: list[tuple[float, float, float, str]]) -> None:
        """points: (x, y, display z, kind), kind one of theme.MARKER_STYLES; with a legend."""
        if points == getattr(self, "_marker_points", None):
            return
        self._marker_points = list(points)
        spots = []
        for x, y, _z, kind in points:
            symbol, color, size = theme.MARKER_STYLES[kind]
            spots.append({"pos": (x, y), "size": size, "symbol": symbol,
                          "brush": pg.mkBrush(color)})
        self._markers.setData(spots)
        kinds = {p[3] for p in points}
        self._marker_kinds = [k for k in theme.MARKER_STYLES if k in kinds]
        self._rebuild_legend()

    # -- mouse -------------------------------------------------------------------
    def _data_point(self, scene_pos: QPointF) -> tuple[float, float] | None:
        vb = self.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        return float(p.x()), float(p.y())

    def _on_user_moved(self, *_args) -> None:
        self._user_moved = True

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        pt = self._data_point(scene_pos)
        if pt is None:
            self._readout.setVisible(False)
            self.hovered.emit(float("nan"), float("nan"))
            return
        self.hovered.emit(*pt)

    def show_readout(self, x: float, y: float, text: str) -> None:
        if not text:
            self._readout.setVisible(False)
            return
        self._readout.setText(text)
        vb = self.getPlotItem().getViewBox()
        (vx0, vx1), (vy0, vy1) = vb.viewRange()
        # keep the label inside the plot: on the side of the cursor with room for it
        px, py = vb.viewPixelSize()
        rect = self._readout.textItem.boundingRect()
        w, h = rect.width() * px, rect.height() * py
        px_, py_ = x, y
        if x + w <= vx1:
            ax = 0.0
        elif x - w >= vx0:
            ax = 1.0
        else:  # wider than either side: keep the whole label in view
            ax, px_ = 0.0, max(vx0, vx1 - w)
        if y + h <= vy1:
            ay = 0.0
        elif y - h >= vy0:
            ay = 1.0
        else:
            ay, py_ = 0.0, max(vy0, vy1 - h)
        self._readout.setAnchor((ax, 1.0 - ay))
        self._readout.setPos(px_, py_)
        self._readout.setVisible(True)

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        pt = self._data_point(event.scenePos())
        if pt is None:
            return
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        event.accept()
        self.start_requested.emit(pt[0], pt[1], shift)
