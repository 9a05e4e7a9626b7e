"""LossPlot: loss (above the best known value) against step, log y, one curve per run."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from lossviewer.ui import theme

#: the plotted gap to the best value is floored here so log y stays finite
GAP_FLOOR = 1e-12


class LossPlot(pg.PlotWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        item = self.getPlotItem()
        item.setLogMode(x=False, y=True)
        item.setLabel("bottom", "step")
        item.setLabel("left", "loss − f*")
        item.showGrid(x=True, y=True, alpha=0.15)
        self.setMinimumHeight(140)
        item.getAxis("left").enableAutoSIPrefix(False)
        self._legend = item.addLegend(offset=(-10, 8), labelTextColor=theme.TEXT,
                                      brush=pg.mkBrush(20, 22, 27, 200))
        self._curves: dict[int, pg.PlotDataItem] = {}
        self._legend_key: tuple = ()
        self._log = True
        dash = pg.QtCore.Qt.PenStyle.DashLine
        self._frame = pg.InfiniteLine(angle=90, movable=False,
                                      pen=pg.mkPen(theme.MUTED, width=1, style=dash))
        self.addItem(self._frame, ignoreBounds=True)

    def set_curves(self, curves: list[dict], floor: float | None,
                   clip: tuple[float, float] | None = None) -> None:
        """curves: dicts with run_id, name, color, loss (N,), stop (last valid index).

        With a ``floor`` (the best known loss) the plot shows loss − floor on a log
        scale; without one (a function unbounded below) the raw loss, linearly.
        Values are clipped to ``clip`` so a diverging run does not squash every
        other curve into a line. Curves are updated in place and the legend is
        rebuilt only when names or colours change (a rebuild costs ~100 ms).
        """
        log = floor is not None
        if log != self._log:
            self._log = log
            self.getPlotItem().setLogMode(x=False, y=log)
            self.getPlotItem().setLabel("left", "loss − f*" if log else "loss")
        alive = {c["run_id"] for c in curves}
        for rid in list(self._curves):
            if rid not in alive:
                self.removeItem(self._curves.pop(rid))
        for c in curves:
            rid = c["run_id"]
            if rid not in self._curves:
                self._curves[rid] = self.plot([], [])
            n = int(c.get("stop", len(c["loss"]) - 1)) + 1
            y = np.asarray(c["loss"], float)[:n]
            if log:
                y = np.maximum(y - floor, GAP_FLOOR)
            if clip is not None:
                y = np.clip(y, *clip)
            curve = self._curves[rid]
            if curve.opts["pen"] is None or curve.property("lv_color") != c["color"]:
                curve.setPen(pg.mkPen(c["color"], width=2 * getattr(self, "_scale", 1.0)))
                curve.setProperty("lv_color", c["color"])
            curve.setData(np.arange(len(y)), y)
        key = tuple((c["run_id"], c["name"], c["color"]) for c in curves)
        if key != self._legend_key:
            self._legend_key = key
            self._legend.clear()
            for c in curves:
                self._legend.addItem(self._curves[c["run_id"]], c["name"])

    def apply_theme(self, colors: theme.ThemeColors) -> None:
        theme.style_plot(self, colors)
        self._frame.setPen(pg.mkPen(colors.muted, width=1,
                                    style=pg.QtCore.Qt.PenStyle.DashLine))
        self._legend_key = ()  # rebuilt with the new text colour on the next update

    def set_scale(self, scale: float) -> None:
        """Larger fonts and thicker curves (presentation mode: 1.0 is the normal look)."""
        self._scale = float(scale)
        theme.scale_plot_fonts(self.getPlotItem(), scale)
        for curve in self._curves.values():
            curve.setPen(pg.mkPen(curve.property("lv_color"), width=2 * scale))

    def set_frame(self, frame: int) -> None:
        self._frame.setValue(frame)
