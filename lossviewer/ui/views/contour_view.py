"""ContourView: the map. Colormap image, isolines, colour bar, paths and markers.

Click sets the selected run's start point (shift-click: every run's); the
hover read-out shows x, y, loss and |∇loss| under the cursor.
"""

from __future__ import annotations

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
        self.setMinimumSize(320, 240)
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
        self._paths: dict[int, tuple[pg.PlotCurveItem, pg.ScatterPlotItem]] = {}
        self._starts = pg.ScatterPlotItem(symbol="o", size=10, pen=pg.mkPen("w", width=2),
                                          brush=pg.mkBrush(0, 0, 0, 0))
        self._starts.setZValue(20)
        self.addItem(self._starts)
        self._minima = pg.ScatterPlotItem(symbol="star", size=16,
                                          pen=pg.mkPen("#0b0d10", width=1),
                                          brush=pg.mkBrush(theme.MINIMUM_COLOR))
        self._minima.setZValue(19)
        self.addItem(self._minima)
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
        # pixel centres sit on the grid points: the image reaches half a pixel beyond
        dx = (x1 - x0) / max(img.shape[1] - 1, 1)
        dy = (y1 - y0) / max(img.shape[0] - 1, 1)
        self._image.setRect(QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy))
        self._lines.setData(s.lines[:, 0], s.lines[:, 1]) if len(s.lines) else self._lines.clear()
        self._colorbar.setLevels((s.display.lo, s.display.hi))
        self._colorbar.setColorMap(theme.colormap(colormap))
        label = "log₁₀(loss − f*)" if zscale == "log" else "loss"
        self._colorbar.axis.setLabel(label)
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
        self._colorbar.setColorMap(theme.colormap(colormap))

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
            width = 3.5 if p.get("selected") else 2.5
            curve.setPen(pg.mkPen(p["color"], width=width))
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

    def set_minima(self, points: list[tuple[float, float, float, bool]]) -> None:
        """points: (x, y, display z, is_global); the global minimum is a larger gold star."""
        spots = [{"pos": (x, y), "size": 20 if g else 14,
                  "brush": pg.mkBrush(theme.GLOBAL_MINIMUM_COLOR if g else theme.MINIMUM_COLOR)}
                 for x, y, _z, g in points]
        self._minima.setData(spots)

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
        # keep the label inside the plot: flip it left/down near the far edges
        ax = 1.0 if x > vx0 + 0.6 * (vx1 - vx0) else 0.0
        ay = 0.0 if y < vy0 + 0.7 * (vy1 - vy0) else 1.0
        self._readout.setAnchor((ax, 1.0 - ay))
        self._readout.setPos(x, y)
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
