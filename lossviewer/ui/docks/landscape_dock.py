"""LandscapeDock: which function, its parameters, domain, resolution and look."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lossviewer.core.functions import LANDSCAPES
from lossviewer.core.grid import MESH_MAX_SIDE, MIN_RESOLUTION, estimate_grid_bytes
from lossviewer.core.landscape_spec import FORMULA, NETWORK
from lossviewer.scene.scene import COLORMAPS, Scene
from lossviewer.ui.docks.scene_dock import SceneDock
from lossviewer.ui.formula_editor import FormulaEditor
from lossviewer.ui.widgets import NumberBox, SliderField


class LandscapeDock(SceneDock):
    #: "Neural network" chosen while no network landscape exists yet
    network_requested = Signal()

    def __init__(self, scene: Scene, report_error: Callable[[str], None],
                 parent: QWidget | None = None) -> None:
        super().__init__("Landscape", scene, report_error, parent)
        body = QWidget()
        outer = QVBoxLayout(body)
        form = QFormLayout()
        outer.addLayout(form)

        self.function = QComboBox()
        for name, cls in LANDSCAPES.items():
            self.function.addItem(cls.title, name)
            self.function.setItemData(self.function.count() - 1,
                                      f"{cls.formula}\n{cls.description}", 3)  # ToolTipRole
        self.function.insertSeparator(self.function.count())
        self.function.addItem("Formula (type your own)", FORMULA)
        self.function.setItemData(self.function.count() - 1,
                                  "Type any f(x, y); derivatives are exact", 3)
        self.function.addItem("Neural network (Network dock)", NETWORK)
        self.function.setItemData(self.function.count() - 1,
                                  "A real network's loss along two directions of its "
                                  "parameters; set it up in the Network dock", 3)
        self.function.setToolTip("The loss function f(x, y) (Ctrl+PgUp / Ctrl+PgDn)")
        # long entries must not widen the dock (and with it the window's minimum width)
        self.function.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.function.setMinimumContentsLength(14)
        form.addRow("Function", self.function)
        self.formula = QLabel()
        self.formula.setWordWrap(True)
        self.formula.setStyleSheet("color: #8a93a3;")
        form.addRow(self.formula)
        self.formula_editor = FormulaEditor()
        form.addRow(self.formula_editor)

        self.params_box = QWidget()
        self.params_form = QFormLayout(self.params_box)
        self.params_form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.params_box)
        self._param_fields: dict[str, SliderField] = {}

        self.x0, self.x1 = NumberBox(value=-2), NumberBox(value=2)
        self.y0, self.y1 = NumberBox(value=-1), NumberBox(value=3)
        for box in (self.x0, self.x1, self.y0, self.y1):
            box.setToolTip("Domain shown; min must be below max")
        form.addRow("x range", _pair(self.x0, self.x1))
        form.addRow("y range", _pair(self.y0, self.y1))

        self.resolution = QSpinBox()
        # the upper bound is the scene's memory check, which says why (with the estimate)
        self.resolution.setRange(MIN_RESOLUTION, 100_000)
        self.resolution.setSingleStep(64)
        self.resolution.setKeyboardTracking(False)
        self.resolution.setToolTip("Grid points per side for the contour map; "
                                   f"the 3D mesh is decimated to at most {MESH_MAX_SIDE}²")
        form.addRow("Resolution", self.resolution)

        self.zscale = QComboBox()
        self.zscale.addItem("Logarithmic", "log")
        self.zscale.addItem("Linear", "linear")
        self.zscale.setToolTip("Log scale shows log₁₀(loss − f*): valleys that span decades (L)")
        form.addRow("Z scale", self.zscale)
        self.colormap = QComboBox()
        for name in COLORMAPS:
            self.colormap.addItem(name.capitalize(), name)
        self.colormap.setToolTip("Colours from low to high loss; viridis, cividis and magma "
                                 "stay readable in grey and for colour-blind viewers")
        form.addRow("Colormap", self.colormap)
        outer.addStretch(1)
        self.setWidget(body)

        self.refresh()
        self.function.currentIndexChanged.connect(lambda _i: self._on_function_chosen())
        self.formula_editor.submitted.connect(
            lambda expr, decl: self._apply(function=FORMULA, formula=expr, declarations=decl))
        for box in (self.x0, self.x1):
            box.valueChanged.connect(
                lambda _v: self._apply(xrange=(self.x0.value(), self.x1.value())))
        for box in (self.y0, self.y1):
            box.valueChanged.connect(
                lambda _v: self._apply(yrange=(self.y0.value(), self.y1.value())))
        self.resolution.valueChanged.connect(lambda v: self._apply(resolution=v))
        self.zscale.currentIndexChanged.connect(
            lambda _i: self._apply(zscale=self.zscale.currentData()))
        self.colormap.currentIndexChanged.connect(
            lambda _i: self._apply(colormap=self.colormap.currentData()))
        scene.landscape_changed.connect(lambda _s: self.refresh())

    def _on_function_chosen(self) -> None:
        if self._refreshing:
            return
        if self.function.currentData() == FORMULA:
            self.choose_formula()
        elif (self.function.currentData() == NETWORK
              and self.scene.landscape_settings.network is None):
            self.network_requested.emit()
            self.refresh()  # shows the current function until the network arrives
        else:
            self._apply(function=self.function.currentData())

    def choose_formula(self) -> None:
        """Switch to the typed formula once it is derived (on a worker: no freeze)."""
        self.formula.setVisible(False)
        self.formula_editor.setVisible(True)
        self.formula_editor.submit(force=True)

    def _apply(self, **changes) -> None:
        self.apply(lambda: self.scene.set_landscape(**changes))

    def refresh(self) -> None:
        with self.refreshing():
            s = self.scene.landscape_settings
            land = self.scene.landscape
            self.function.setCurrentIndex(self.function.findData(s.function))
            self.function.setToolTip(land.description or "A formula you type")
            net_item = self.function.findData(NETWORK)
            self.function.setItemText(net_item, "Neural network" if s.network is not None
                                      else "Neural network (compute…)")
            self.formula.setText("" if s.is_formula else land.formula)
            self.formula.setVisible(not s.is_formula)
            self.formula_editor.setVisible(s.is_formula)
            if s.is_formula:
                self.formula_editor.parser_loaded()
            else:
                self.formula_editor.cancel_pending()  # a built-in was chosen meanwhile
            self.formula_editor.shown_instead = "" if s.is_formula else s.title
            # checked only when shown: checking needs sympy (0.5 s to import, once)
            self.formula_editor.set_text(s.formula, s.declarations, check=s.is_formula)
            self._rebuild_params(land.param_specs, s.params)
            self.x0.setValue(s.xrange[0])
            self.x1.setValue(s.xrange[1])
            self.y0.setValue(s.yrange[0])
            self.y1.setValue(s.yrange[1])
            self.resolution.setValue(s.resolution)
            mb = estimate_grid_bytes(s.resolution) / 1024**2
            self.resolution.setToolTip(f"Grid points per side ({s.resolution}² ≈ {mb:.0f} MB); "
                                       f"the 3D mesh is decimated to at most {MESH_MAX_SIDE}²")
            self.zscale.setCurrentIndex(self.zscale.findData(s.zscale))
            self.colormap.setCurrentIndex(self.colormap.findData(s.colormap))

    def _rebuild_params(self, specs, values: dict[str, float]) -> None:
        if tuple(specs) == getattr(self, "_param_specs", None):
            for p in specs:
                self._param_fields[p.name].set_value(values.get(p.name, p.default))
            return
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        self._param_fields = {}
        self._param_specs = tuple(specs)
        for p in specs:
            log = p.minimum > 0 and p.maximum / p.minimum >= 100
            field = SliderField(p.minimum, p.maximum, values.get(p.name, p.default), log=log)
            field.setToolTip(p.description or p.name)
            field.valueChanged.connect(
                lambda v, name=p.name: self._apply(params={**self.scene.landscape_settings.params,
                                                           name: v}))
            self.params_form.addRow(p.name, field)
            self._param_fields[p.name] = field
        self.params_box.setVisible(bool(specs))


def _pair(a: QWidget, b: QWidget) -> QWidget:
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(a)
    lay.addWidget(QLabel("…"))
    lay.addWidget(b)
    return w
