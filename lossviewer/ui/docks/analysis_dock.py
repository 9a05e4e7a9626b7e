"""AnalysisDock: critical points (table), curvature overlays and basins of attraction."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lossviewer.scene.analysis import BASIN_GRID_RANGE, BASIN_STEPS_RANGE, HEATMAP_TITLES
from lossviewer.scene.scene import Scene
from lossviewer.ui import theme
from lossviewer.ui.analysis_controller import coord_text
from lossviewer.ui.docks.scene_dock import SceneDock
from lossviewer.ui.widgets import SliderField

KIND_ORDER = {"minimum": 0, "saddle": 1, "maximum": 2, "degenerate": 3}


class AnalysisDock(SceneDock):
    #: (x, y): the user asked to start the selected run at a critical point
    start_requested = Signal(float, float)

    def __init__(self, scene: Scene, report_error: Callable[[str], None],
                 basin_legend: Callable[[], list[tuple[str, str]]],
                 parent: QWidget | None = None) -> None:
        super().__init__("Analysis", scene, report_error, parent)
        self._basin_legend = basin_legend
        body = QWidget()
        outer = QVBoxLayout(body)

        # -- critical points
        crit = QGroupBox("Critical points")
        cl = QVBoxLayout(crit)
        self.show_critical = QCheckBox("Mark on both views (C)")
        self.show_critical.setToolTip(
            "Stationary points found by Newton's method on ∇f = 0 from a grid of seeds,\n"
            "classified by the Hessian's eigenvalues. Off: only the known minima.")
        cl.addWidget(self.show_critical)
        self.summary = QLabel()
        self.summary.setStyleSheet(f"color: {theme.MUTED};")
        cl.addWidget(self.summary)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["Type", "x", "y", "f", "λ₁", "λ₂"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip("Double-click a row to start the selected run there")
        self.table.setMinimumHeight(120)
        cl.addWidget(self.table)
        outer.addWidget(crit)

        # -- curvature
        curv = QGroupBox("Curvature")
        form = QFormLayout(curv)
        self.arrows = QCheckBox("Gradient arrows (G)")
        self.arrows.setToolTip("Arrows along −∇f, the direction gradient descent steps;\n"
                               "longer where the slope is steeper (log scale)")
        form.addRow(self.arrows)
        self.heatmap = QComboBox()
        for key, title in HEATMAP_TITLES.items():
            self.heatmap.addItem(title, key)
        self.heatmap.setToolTip(
            "Colour the map by the Hessian instead of the loss: λmin < 0 (blue) marks\n"
            "where the surface curves down (ridges, saddles); a large condition number\n"
            "marks narrow valleys where gradient descent zig-zags (H)")
        form.addRow("Map colours", self.heatmap)
        self.coloring = QComboBox()
        self.coloring.addItem("Height (loss)", "height")
        self.coloring.addItem("Curvature (λmin)", "curvature")
        self.coloring.setToolTip("What colours the 3D surface")
        form.addRow("3D colours", self.coloring)
        outer.addWidget(curv)

        # -- basins
        bas = QGroupBox("Basins of attraction")
        bl = QFormLayout(bas)
        self.basins = QCheckBox("Show for the selected run (B)")
        self.basins.setToolTip(
            "Run the selected run's optimizer (same hyperparameters, schedule, noise)\n"
            "from every point of a grid at once and colour each start by the minimum\n"
            "it reaches; dark: diverged, grey: not converged in the given steps")
        bl.addRow(self.basins)
        self.basin_run = QLabel()
        self.basin_run.setStyleSheet(f"color: {theme.MUTED};")
        bl.addRow(self.basin_run)
        self.grid = QSpinBox()
        self.grid.setRange(*BASIN_GRID_RANGE)
        self.grid.setSingleStep(32)
        self.grid.setKeyboardTracking(False)
        self.grid.setToolTip("Start points per side (grid² optimizer runs)")
        bl.addRow("Grid", self.grid)
        self.steps = QSpinBox()
        self.steps.setRange(*BASIN_STEPS_RANGE)
        self.steps.setSingleStep(100)
        self.steps.setKeyboardTracking(False)
        self.steps.setToolTip("Optimizer steps from each start")
        bl.addRow("Steps", self.steps)
        self.opacity = SliderField(0.0, 1.0, 0.55)
        self.opacity.setToolTip("How strongly the basin colours cover the map")
        bl.addRow("Opacity", self.opacity)
        self.basin_table = QTableWidget(0, 1)
        self.basin_table.horizontalHeader().setVisible(False)
        self.basin_table.verticalHeader().setVisible(False)
        self.basin_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Stretch)
        self.basin_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.basin_table.setMinimumHeight(90)
        self.basin_table.setToolTip("Each basin's share of the domain")
        bl.addRow(self.basin_table)
        outer.addWidget(bas)
        outer.addStretch(1)
        # scrolls instead of forcing its height and width onto the window
        scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(260)
        self.setWidget(scroll)

        self.refresh()
        self.show_critical.toggled.connect(lambda v: self._set(show_critical=v))
        self.arrows.toggled.connect(lambda v: self._set(arrows=v))
        self.heatmap.currentIndexChanged.connect(
            lambda _i: self._set(heatmap=self.heatmap.currentData()))
        self.coloring.currentIndexChanged.connect(
            lambda _i: self._set(surface_coloring=self.coloring.currentData()))
        self.basins.toggled.connect(lambda v: self._set(basins=v))
        self.grid.valueChanged.connect(lambda v: self._set(basin_grid=v))
        self.steps.valueChanged.connect(lambda v: self._set(basin_steps=v))
        self.opacity.valueChanged.connect(lambda v: self._set(basin_opacity=v))
        self.table.cellDoubleClicked.connect(self._on_double_click)
        a = scene.analysis
        a.settings_changed.connect(lambda _s: self.refresh())
        a.critical_changed.connect(self._fill_critical)
        a.basins_changed.connect(self._fill_basins)
        scene.selection_changed.connect(lambda _r: self._show_run())
        scene.run_changed.connect(lambda _r: self._show_run())
        scene.runs_changed.connect(self._show_run)

    def _set(self, **changes) -> None:
        self.apply(lambda: self.scene.analysis.set(**changes))

    def refresh(self) -> None:
        with self.refreshing():
            s = self.scene.analysis.settings
            self.show_critical.setChecked(s.show_critical)
            self.arrows.setChecked(s.arrows)
            self.heatmap.setCurrentIndex(self.heatmap.findData(s.heatmap))
            self.coloring.setCurrentIndex(self.coloring.findData(s.surface_coloring))
            self.basins.setChecked(s.basins)
            self.grid.setValue(s.basin_grid)
            self.steps.setValue(s.basin_steps)
            self.opacity.set_value(s.basin_opacity)
            for w in (self.grid, self.steps, self.opacity):
                w.setEnabled(s.basins)
        self._fill_critical()
        self._fill_basins()
        self._show_run()

    def _show_run(self) -> None:
        sc = self.scene
        run = sc.runs.get(sc.selected) if sc.selected is not None else None
        if run is None:
            self.basin_run.setText("No run selected")
            return
        lr = run.hyper.get("lr")
        lr_text = f", lr {lr:g}" if isinstance(lr, float | int) else ""
        self.basin_run.setText(f"{run.name}{lr_text}, {run.schedule} schedule")

    def _fill_critical(self) -> None:
        pts = self.scene.analysis.critical or []
        (x0, x1), (y0, y1) = self.scene.landscape_settings.xrange, \
            self.scene.landscape_settings.yrange
        size = max(x1 - x0, y1 - y0)
        self.table.setRowCount(len(pts))
        counts: dict[str, int] = {}
        for r, p in enumerate(pts):
            counts[p.kind] = counts.get(p.kind, 0) + 1
            kind = "global minimum" if p.is_global else p.kind
            cells = [kind, coord_text(p.x, size, 4), coord_text(p.y, size, 4), f"{p.value:.4g}",
                     f"{p.eigenvalues[0]:.3g}", f"{p.eigenvalues[1]:.3g}"]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                else:
                    style = theme.MARKER_STYLES["global" if p.is_global else p.kind]
                    item.setForeground(QColor(style[1]))
                self.table.setItem(r, c, item)
        if self.scene.analysis.critical is None:
            self.summary.setText("Computing …")
        elif not pts:
            self.summary.setText("None found in the domain")
        else:
            plural = {"minimum": "minima", "maximum": "maxima", "saddle": "saddle points",
                      "degenerate": "degenerate"}
            self.summary.setText(", ".join(
                f"{n} {plural[k] if n > 1 else k}" for k, n in
                sorted(counts.items(), key=lambda kv: KIND_ORDER.get(kv[0], 9))))

    def _fill_basins(self) -> None:
        rows = self._basin_legend() if self.scene.analysis.settings.basins else []
        self.basin_table.setRowCount(len(rows))
        for r, (color, text) in enumerate(rows):
            item = QTableWidgetItem(f"■  {text}")
            item.setForeground(QColor(color if color != theme.BASIN_DIVERGED_COLOR
                                      else "#8a8a8a"))
            self.basin_table.setItem(r, 0, item)

    def _on_double_click(self, row: int, _col: int) -> None:
        pts = self.scene.analysis.critical or []
        if 0 <= row < len(pts):
            self.start_requested.emit(pts[row].x, pts[row].y)
