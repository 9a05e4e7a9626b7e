"""NetworkPanel: the plots that belong to a network landscape, as tabs.

- Training: training and validation loss and accuracy per step;
- Faithfulness: how well the drawn training path represents the real one (its
  distance from the plane, its true loss against the surface under it);
- Data: the dataset and the model's decision boundary (or fit, or digit
  predictions) at the plane point under the cursor;
- 1D slice: training and validation loss along the first direction.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from lossviewer.ui import theme

TRAIN_COLOR = "#4ea1ff"
VAL_COLOR = "#ff9f43"
CLASS_COLORS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
                "#b07aa1", "#9c755f", "#bab0ac", "#d37295")
BOUNDARY_SIDE = 120
DIGITS_SHOWN = 60
SLICE_POINTS = 101


def _plot(left: str, bottom: str, log_y: bool = False) -> pg.PlotWidget:
    w = pg.PlotWidget()
    item = w.getPlotItem()
    item.setLabel("left", left)
    item.setLabel("bottom", bottom)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.getAxis("left").enableAutoSIPrefix(False)
    if log_y:
        item.setLogMode(x=False, y=True)
    item.addLegend(offset=(-10, 8), labelTextColor=theme.TEXT,
                   brush=pg.mkBrush(20, 22, 27, 200))
    w.setMinimumHeight(90)
    return w


def _note() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {theme.MUTED};")
    return label


class NetworkPanel(QTabWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._slice = None
        self._point: tuple[float, float] | None = None

        # -- training curves
        self.loss_curves = _plot("loss", "step", log_y=True)
        self.acc_curves = _plot("accuracy", "step")
        self.train_note = self._two_plot_tab("Training", self.loss_curves, self.acc_curves)

        # -- faithfulness of the projected path
        self.faith_loss = _plot("loss at checkpoint", "training step", log_y=True)
        self.faith_dist = _plot("off the plane (%)", "training step")
        self.faith_note = self._two_plot_tab("Path faithfulness", self.faith_loss,
                                             self.faith_dist)

        # -- the data and the model on it
        self.data_plot = pg.PlotWidget()
        self.data_plot.getPlotItem().showGrid(x=True, y=True, alpha=0.1)
        self.data_plot.setAspectLocked(False)
        self._boundary = pg.ImageItem()
        self._boundary.setOpacity(0.45)
        self.data_plot.addItem(self._boundary)
        self._fit = pg.PlotCurveItem(pen=pg.mkPen("#ffffff", width=2.5))
        self.data_plot.addItem(self._fit)
        self._train_pts = pg.ScatterPlotItem(size=6, pen=pg.mkPen("#0b0d10", width=0.5))
        self._val_pts = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(0, 0, 0, 0))
        self.data_plot.addItem(self._train_pts)
        self.data_plot.addItem(self._val_pts)
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.data_plot)
        self.data_note = _note()
        lay.addWidget(self.data_note)
        self.addTab(page, "Data && model")

        # -- 1D slice along the first direction
        self.line_plot = _plot("loss", "a (first direction), b = 0")
        self._line_marker = pg.InfiniteLine(angle=90, movable=False,
                                            pen=pg.mkPen(theme.MUTED, width=1,
                                                         style=Qt.PenStyle.DashLine))
        self.line_plot.addItem(self._line_marker, ignoreBounds=True)
        self.addTab(self.line_plot, "1D slice")
        self.setToolTip("Plots of the network landscape; the Data tab follows the cursor on "
                        "the map")

    def apply_theme(self, colors: theme.ThemeColors) -> None:
        for plot in (self.loss_curves, self.acc_curves, self.faith_loss, self.faith_dist,
                     self.data_plot, self.line_plot):
            theme.style_plot(plot, colors)

    def _two_plot_tab(self, title: str, left: pg.PlotWidget, right: pg.PlotWidget) -> QLabel:
        """A tab with two plots side by side (3:2) over a note; returns the note."""
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        row = pg.QtWidgets.QHBoxLayout()
        row.addWidget(left, 3)
        row.addWidget(right, 2)
        lay.addLayout(row)
        note = _note()
        lay.addWidget(note)
        self.addTab(page, title)
        return note

    # -- slice ------------------------------------------------------------------------
    def set_slice(self, network_slice, xrange: tuple[float, float]) -> None:
        """Show a new slice (None clears every tab)."""
        self._slice = network_slice
        self._point = None
        self._draw_training()
        self._draw_faithfulness()
        self._draw_line(xrange)
        self._draw_data()

    def set_grid(self, surface) -> None:
        """For a user's torch model: the 1D slice is the computed grid's row at b = 0."""
        if self._slice is None or not hasattr(self._slice.network, "plane_evaluator"):
            return
        self.line_plot.getPlotItem().clear()
        self.line_plot.addItem(self._line_marker, ignoreBounds=True)
        j = int(np.argmin(np.abs(surface.ys)))
        for split, color, name in (("train", TRAIN_COLOR, "training"),
                                   ("val", VAL_COLOR, "validation")):
            row = surface.layers[f"{split}_loss"][j]
            if np.isfinite(row).any():
                self.line_plot.plot(surface.xs, row, pen=pg.mkPen(color, width=2), name=name)
        label = self._slice.directions.labels[0]
        self.line_plot.getPlotItem().setLabel("bottom", f"a along {label}, "
                                                        f"b = {surface.ys[j]:.3g} (grid row)")

    def set_point(self, a: float, b: float) -> None:
        """The plane point the Data tab shows the model at (the cursor on the map)."""
        if self._slice is None:
            return
        self._point = (float(a), float(b)) if np.isfinite(a) and np.isfinite(b) else None
        self._line_marker.setValue(self._point[0] if self._point else 0.0)
        if self.currentIndex() == 2:
            self._draw_data()

    def _draw_training(self) -> None:
        for w in (self.loss_curves, self.acc_curves):
            w.getPlotItem().clear()
        run = getattr(self._slice, "run", None)
        if run is None or run.train_loss.size < 2:
            self.train_note.setText("No training curves (a slice loaded without its run)."
                                    if self._slice is not None else "")
            return
        steps = np.arange(run.train_loss.size)
        for y, color, name in ((run.train_loss, TRAIN_COLOR, "training"),
                               (run.val_loss, VAL_COLOR, "validation")):
            ok = np.isfinite(y) & (y > 0)
            self.loss_curves.plot(steps[ok], y[ok], pen=pg.mkPen(color, width=2), name=name)
        if np.isfinite(run.train_acc).any():
            for y, color, name in ((run.train_acc, TRAIN_COLOR, "training"),
                                   (run.val_acc, VAL_COLOR, "validation")):
                self.acc_curves.plot(steps, y, pen=pg.mkPen(color, width=2), name=name)
        self.train_note.setText(run.summary())

    def _draw_faithfulness(self) -> None:
        for w in (self.faith_loss, self.faith_dist):
            w.getPlotItem().clear()
        proj = self._slice.project_run() if self._slice is not None else None
        if proj is None:
            self.faith_note.setText("")
            return
        s = proj.steps
        for y, color, name in ((proj.true_loss, "#ffffff", "true loss"),
                               (proj.surface_loss, TRAIN_COLOR, "surface under the path")):
            ok = np.isfinite(y) & (y > 0)
            self.faith_loss.plot(s[ok], y[ok], pen=pg.mkPen(color, width=2), name=name,
                                 symbol="o", symbolSize=4, symbolBrush=color)
        self.faith_dist.plot(s, 100 * proj.relative_distance, pen=pg.mkPen("#ff6b6b", width=2),
                             name="distance / distance from centre")
        summary = proj.summary()
        self.faith_note.setText("The dashed path is the training run projected on the plane; "
                                f"{summary}. Off the plane: distance over distance from the "
                                "centre.")

    def _draw_line(self, xrange: tuple[float, float]) -> None:
        self.line_plot.getPlotItem().clear()
        self.line_plot.addItem(self._line_marker, ignoreBounds=True)
        if self._slice is None:
            return
        if hasattr(self._slice.network, "plane_evaluator"):
            return  # a torch model: drawn from the grid's b = 0 row (set_grid), no freeze
        a = np.linspace(xrange[0], xrange[1], SLICE_POINTS)
        b = np.zeros_like(a)
        for split, color, name in (("train", TRAIN_COLOR, "training"),
                                   ("val", VAL_COLOR, "validation")):
            if not self._slice.has_split(split):
                continue
            ev = self._slice.evaluator(split, "float64")
            loss, _ = ev.evaluate(a, b)
            self.line_plot.plot(a, loss, pen=pg.mkPen(color, width=2), name=name)
        label = self._slice.directions.labels[0]
        self.line_plot.getPlotItem().setLabel("bottom", f"a along {label}, b = 0")

    # -- data tab --------------------------------------------------------------------
    def _theta(self):
        sl = self._slice
        a, b = self._point or (0.0, 0.0)
        return sl.plane.point(a, b), (a, b)

    def _draw_data(self) -> None:
        sl = self._slice
        self._boundary.clear()
        self._fit.clear()
        self._train_pts.clear()
        self._val_pts.clear()
        if sl is None:
            self.data_note.setText("")
            return
        ds = sl.dataset
        if not hasattr(ds, "X_train"):
            self.data_note.setText(f"{ds.describe()}: the data view covers the built-in "
                                   "datasets; the map and its read-out show this model's loss "
                                   "and accuracy")
            return
        theta, (a, b) = self._theta()
        net = sl.network
        where = f"at plane point ({a:.3g}, {b:.3g})" + ("" if self._point else " (the centre)")
        if ds.image_shape is not None:
            self._draw_digits(ds, net, theta, where)
        elif ds.task == "regression":
            self._draw_fit(ds, net, theta, where)
        else:
            self._draw_boundary(ds, net, theta, where)

    def _draw_boundary(self, ds, net, theta, where: str) -> None:
        X = np.vstack([ds.X_train, ds.X_val])
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = 0.1 * (hi - lo)
        lo, hi = lo - pad, hi + pad
        gx = np.linspace(lo[0], hi[0], BOUNDARY_SIDE)
        gy = np.linspace(lo[1], hi[1], BOUNDARY_SIDE)
        G = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
        with np.errstate(all="ignore"):
            f = net.forward(theta, G)
        pred = (f[:, 0] > 0).astype(int) if f.shape[1] == 1 else np.argmax(f, axis=1)
        rgb = np.array([pg.mkColor(c).getRgb()[:3] for c in CLASS_COLORS], dtype=np.ubyte)
        img = rgb[pred % len(CLASS_COLORS)].reshape(BOUNDARY_SIDE, BOUNDARY_SIDE, 3)
        self._boundary.setImage(img, autoLevels=False)
        self._boundary.setOpacity(0.45)
        self._boundary.setRect(pg.QtCore.QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]))
        brushes = [pg.mkBrush(CLASS_COLORS[int(c) % len(CLASS_COLORS)]) for c in ds.y_train]
        self._train_pts.setData(ds.X_train[:, 0], ds.X_train[:, 1], brush=brushes)
        pens = [pg.mkPen(CLASS_COLORS[int(c) % len(CLASS_COLORS)], width=1.5) for c in ds.y_val]
        self._val_pts.setData(ds.X_val[:, 0], ds.X_val[:, 1], pen=pens)
        t_tr, t_va = net.targets(ds.y_train), net.targets(ds.y_val)
        _, acc_tr = net.metrics(theta, ds.X_train, t_tr)
        _, acc_va = net.metrics(theta, ds.X_val, t_va)
        self.data_plot.getPlotItem().setLabel("bottom", "x₁")
        self.data_plot.getPlotItem().setLabel("left", "x₂")
        self.data_note.setText(f"Decision regions {where}: training accuracy "
                               f"{100 * acc_tr:.1f} %, validation {100 * acc_va:.1f} % "
                               "(filled: training points, rings: validation)")

    def _draw_fit(self, ds, net, theta, where: str) -> None:
        x = np.vstack([ds.X_train, ds.X_val])[:, 0]
        gx = np.linspace(x.min(), x.max(), 300)[:, None]
        with np.errstate(all="ignore"):
            fit = net.forward(theta, gx)[:, 0]
        self._fit.setData(gx[:, 0], fit)
        self._train_pts.setData(ds.X_train[:, 0], ds.y_train, brush=pg.mkBrush(TRAIN_COLOR))
        self._val_pts.setData(ds.X_val[:, 0], ds.y_val, pen=pg.mkPen(VAL_COLOR, width=1.5))
        t_tr, t_va = net.targets(ds.y_train), net.targets(ds.y_val)
        mse_tr = net.loss_value(theta, ds.X_train, t_tr)
        mse_va = net.loss_value(theta, ds.X_val, t_va)
        self.data_plot.getPlotItem().setLabel("bottom", "x")
        self.data_plot.getPlotItem().setLabel("left", "y")
        self.data_note.setText(f"Fit {where}: training loss {mse_tr:.4g}, validation "
                               f"{mse_va:.4g} (filled: training, rings: validation)")

    def _draw_digits(self, ds, net, theta, where: str) -> None:
        """A montage of validation digits, each cell tinted green (right) or red (wrong)."""
        n = min(DIGITS_SHOWN, len(ds.y_val))
        X, y = ds.X_val[:n], ds.y_val[:n]
        with np.errstate(all="ignore"):
            pred = np.argmax(net.forward(theta, X), axis=1)
        h, w = ds.image_shape
        cols = 12
        rows = -(-n // cols)
        pad = 1
        img = np.zeros(((h + pad) * rows, (w + pad) * cols, 3), np.float32)
        for k in range(n):
            r, c = divmod(k, cols)
            tint = np.array([0.35, 1.0, 0.45]) if pred[k] == y[k] else np.array([1.0, 0.3, 0.3])
            cell = X[k].reshape(h, w)[::-1, :, None] * tint
            rr = (rows - 1 - r) * (h + pad)
            img[rr:rr + h, c * (w + pad):c * (w + pad) + w] = cell
        self._boundary.setImage((255 * np.clip(img, 0, 1)).astype(np.ubyte), autoLevels=False)
        self._boundary.setOpacity(1.0)
        self._boundary.setRect(pg.QtCore.QRectF(0, 0, img.shape[1], img.shape[0]))
        t_va = net.targets(ds.y_val)
        _, acc = net.metrics(theta, ds.X_val, t_va)
        wrong = ", ".join(f"{int(y[k])}→{int(pred[k])}" for k in range(n) if pred[k] != y[k])
        self.data_plot.getPlotItem().setLabel("bottom", "")
        self.data_plot.getPlotItem().setLabel("left", "")
        self.data_note.setText(f"First {n} validation digits {where} (green: right, red: "
                               f"wrong); validation accuracy {100 * acc:.1f} %"
                               + (f"; mistakes (true→predicted): {wrong}" if wrong else ""))
