"""OptimizerDock: the list of runs and an editor for the selected one."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from lossviewer.core.optimizers import OPTIMIZERS
from lossviewer.core.schedules import SCHEDULES
from lossviewer.scene.scene import MAX_STEPS, Scene
from lossviewer.ui.docks.scene_dock import SceneDock
from lossviewer.ui.widgets import NumberBox, SliderField


def _swatch(color: str) -> QIcon:
    pm = QPixmap(14, 14)
    pm.fill(QColor(color))
    return QIcon(pm)


def _title(name: str) -> str:
    return name.replace("_", " ")


def param_editor(spec: Any, value: Any, on_change: Callable[[Any], None]) -> QWidget:
    """A widget for one HyperParam-like spec: checkbox, slider+field, or a pair."""
    kind = getattr(spec, "kind", "float")
    tip = getattr(spec, "help", "") or getattr(spec, "description", "")
    if kind == "bool":
        w = QCheckBox()
        w.setChecked(bool(value))
        w.toggled.connect(lambda b: on_change(bool(b)))
    elif kind == "pair":
        w = QWidget()
        lay = QHBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        lo, hi = getattr(spec, "minimum", 0.0), getattr(spec, "maximum", 1.0)
        a, b = NumberBox(lo, hi, value[0]), NumberBox(lo, hi, value[1])
        a.valueChanged.connect(lambda _v: on_change((a.value(), b.value())))
        b.valueChanged.connect(lambda _v: on_change((a.value(), b.value())))
        lay.addWidget(a)
        lay.addWidget(b)
    elif kind == "int" or getattr(spec, "integer", False):
        w = QSpinBox()
        w.setRange(int(spec.minimum), int(min(spec.maximum, 2**31 - 1)))
        w.setValue(int(value))
        w.setKeyboardTracking(False)
        w.valueChanged.connect(lambda v: on_change(int(v)))
    else:
        lo, hi = getattr(spec, "slider_range", (spec.minimum, spec.maximum))
        if not math.isfinite(lo):
            lo = 0.0
        if not math.isfinite(hi):
            hi = max(10.0, 10 * abs(float(value)))
        w = SliderField(lo, hi, float(value), log=getattr(spec, "log", False),
                        box_range=(spec.minimum, spec.maximum))
        w.valueChanged.connect(on_change)
    w.setToolTip(tip)
    return w


class OptimizerDock(SceneDock):
    def __init__(self, scene: Scene, report_error: Callable[[str], None],
                 parent: QWidget | None = None) -> None:
        super().__init__("Optimizers", scene, report_error, parent)
        body = QWidget()
        outer = QVBoxLayout(body)

        self.runs = QListWidget()
        self.runs.setToolTip("Runs racing on the surface. Double-click to rename; "
                             "untick to hide.")
        self.runs.setMaximumHeight(150)
        outer.addWidget(self.runs)
        buttons = QHBoxLayout()
        self.add_button = QToolButton()
        self.add_button.setText("Add")
        self.add_button.setToolTip("Add a run (Ctrl+N adds SGD)")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_button)
        for name, cls in OPTIMIZERS.items():
            menu.addAction(cls.title, lambda n=name: self.add_run(n))
        self.add_button.setMenu(menu)
        self.duplicate_button = QPushButton("Duplicate")
        self.duplicate_button.setToolTip("Copy the selected run (Ctrl+D)")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected run (Delete)")
        for b in (self.add_button, self.duplicate_button, self.remove_button):
            buttons.addWidget(b)
        outer.addLayout(buttons)

        self.editor = QGroupBox("Selected run")
        form = QFormLayout(self.editor)
        self.optimizer = QComboBox()
        for name, cls in OPTIMIZERS.items():
            self.optimizer.addItem(cls.title, name)
            self.optimizer.setItemData(self.optimizer.count() - 1, cls.description, 3)
        self.optimizer.setToolTip("The update rule (torch.optim's definitions); hover a "
                                  "choice in the list for what it does")
        form.addRow("Optimizer", self.optimizer)
        self.hyper_box = QWidget()
        self.hyper_form = QFormLayout(self.hyper_box)
        # long names ("decoupled weight decay") go above their widget, not beside it
        self.hyper_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.hyper_form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.hyper_box)
        self.schedule = QComboBox()
        for name in SCHEDULES:
            self.schedule.addItem(_title(name).capitalize(), name)
        self.schedule.setToolTip("Learning-rate schedule (torch.optim.lr_scheduler semantics)")
        form.addRow("LR schedule", self.schedule)
        self.schedule_box = QWidget()
        self.schedule_form = QFormLayout(self.schedule_box)
        self.schedule_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.schedule_form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.schedule_box)
        self.steps = QSpinBox()
        self.steps.setRange(1, MAX_STEPS)
        self.steps.setSingleStep(100)
        self.steps.setKeyboardTracking(False)
        self.steps.setToolTip("Number of optimizer steps")
        form.addRow("Steps", self.steps)
        self.start_x, self.start_y = NumberBox(), NumberBox()
        for b in (self.start_x, self.start_y):
            b.setToolTip("Start point; or click the contour map (Shift-click: all runs)")
        start = QWidget()
        sl = QHBoxLayout(start)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.start_x)
        sl.addWidget(self.start_y)
        form.addRow("Start x, y", start)
        self.noise = SliderField(0.0, 100.0, 0.0)
        self.noise.setToolTip("Standard deviation of Gaussian noise added to the gradient "
                              "(a stand-in for mini-batch noise)")
        form.addRow("Gradient noise", self.noise)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setKeyboardTracking(False)
        self.seed.setToolTip("Random seed of the gradient noise")
        form.addRow("Seed", self.seed)
        self.color = QPushButton()
        self.color.setToolTip("Path colour")
        form.addRow("Colour", self.color)
        outer.addWidget(self.editor)
        outer.addStretch(1)
        self.setWidget(body)

        self._hyper_fields: dict[str, QWidget] = {}
        self._hyper_for: tuple[int, str] | None = None
        self._schedule_for: tuple[int, str] | None = None

        self.runs.currentItemChanged.connect(self._on_current_item)
        self.runs.itemChanged.connect(self._on_item_changed)
        self.duplicate_button.clicked.connect(self.duplicate_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.optimizer.currentIndexChanged.connect(
            lambda _i: self._update(optimizer=self.optimizer.currentData()))
        self.schedule.currentIndexChanged.connect(
            lambda _i: self._update(schedule=self.schedule.currentData(), schedule_params={}))
        self.steps.valueChanged.connect(lambda v: self._update(steps=int(v)))
        self.start_x.valueChanged.connect(
            lambda _v: self._update(start=(self.start_x.value(), self.start_y.value())))
        self.start_y.valueChanged.connect(
            lambda _v: self._update(start=(self.start_x.value(), self.start_y.value())))
        self.noise.valueChanged.connect(lambda v: self._update(noise=v))
        self.seed.valueChanged.connect(lambda v: self._update(seed=int(v)))
        self.color.clicked.connect(self._pick_color)

        scene.runs_changed.connect(self.refresh)
        # a finished path may change a run's status (diverged) in the list
        scene.trajectory_changed.connect(lambda _rid: self._refresh_statuses())
        scene.run_changed.connect(lambda rid: self.refresh() if rid == scene.selected else None)
        scene.selection_changed.connect(lambda _rid: self.refresh())
        self.refresh()

    # -- actions -----------------------------------------------------------------
    def add_run(self, optimizer: str = "sgd") -> None:
        try:
            rid = self.scene.add_run(optimizer)
        except ValueError as exc:
            self.report_error(str(exc))
            return
        self.scene.select(rid)

    def duplicate_selected(self) -> None:
        if self.scene.selected is None:
            return
        try:
            rid = self.scene.duplicate_run(self.scene.selected)
        except ValueError as exc:
            self.report_error(str(exc))
            return
        self.scene.select(rid)

    def remove_selected(self) -> None:
        if self.scene.selected is not None:
            self.scene.remove_run(self.scene.selected)

    def _update(self, **changes: Any) -> None:
        rid = self.scene.selected
        if rid is not None:
            self.apply(lambda: self.scene.update_run(rid, **changes))

    def _pick_color(self) -> None:
        rid = self.scene.selected
        if rid is None:
            return
        c = QColorDialog.getColor(QColor(self.scene.runs[rid].color), self, "Path colour")
        if c.isValid():
            self._update(color=c.name())

    # -- list --------------------------------------------------------------------
    def _on_current_item(self, item: QListWidgetItem | None, _prev) -> None:
        if self._refreshing or item is None:
            return
        self.scene.select(item.data(Qt.ItemDataRole.UserRole))

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._refreshing:
            return
        rid = item.data(Qt.ItemDataRole.UserRole)
        if rid not in self.scene.runs:
            return
        visible = item.checkState() == Qt.CheckState.Checked
        name = item.text().split("  ✕ diverged", 1)[0]
        self.apply(lambda: self.scene.update_run(rid, name=name, visible=visible))

    # -- refresh from the scene ------------------------------------------------------
    def refresh(self) -> None:
        with self.refreshing():
            self._refresh_list()
            self._refresh_editor()

    def _refresh_list(self) -> None:
        self.runs.clear()
        for rid, run in self.scene.runs.items():
            traj = self.scene.trajectories.get(rid)
            label = run.name
            if traj is not None and traj.status[0] == "diverged":
                label += f"  ✕ diverged at step {int(traj.stop[0]) + 1}"
            item = QListWidgetItem(_swatch(run.color), label)
            item.setData(Qt.ItemDataRole.UserRole, rid)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable
                          | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if run.visible else Qt.CheckState.Unchecked)
            item.setToolTip(f"{run.name}: {run.optimizer}, lr={run.hyper.get('lr', '')}")
            self.runs.addItem(item)
            if rid == self.scene.selected:
                self.runs.setCurrentItem(item)
        has = self.scene.selected is not None
        self.duplicate_button.setEnabled(has)
        self.remove_button.setEnabled(has)

    def _refresh_statuses(self) -> None:
        statuses = tuple(
            (rid, t.status[0] if (t := self.scene.trajectories.get(rid)) is not None else "")
            for rid in self.scene.runs)
        if statuses != getattr(self, "_statuses", None):
            self._statuses = statuses
            with self.refreshing():
                self._refresh_list()

    def _refresh_editor(self) -> None:
        rid = self.scene.selected
        self.editor.setEnabled(rid is not None)
        if rid is None:
            return
        run = self.scene.runs[rid]
        self.editor.setTitle(f"Selected run: {run.name}")
        self.optimizer.setCurrentIndex(self.optimizer.findData(run.optimizer))
        self._rebuild_hyper(rid, run)
        self.schedule.setCurrentIndex(self.schedule.findData(run.schedule))
        self._rebuild_schedule(rid, run)
        self.steps.setValue(run.steps)
        self.start_x.setValue(run.start[0])
        self.start_y.setValue(run.start[1])
        self.noise.set_value(run.noise)
        self.seed.setValue(run.seed)
        self.color.setIcon(_swatch(run.color))
        self.color.setText(run.color)

    def _rebuild_hyper(self, rid: int, run) -> None:
        key = (rid, run.optimizer)
        if key == self._hyper_for:
            # same form: update values in place so a dragged slider keeps its grip
            for name, w in self._hyper_fields.items():
                _set_widget_value(w, run.hyper.get(name))
            return
        self._hyper_for = key
        while self.hyper_form.rowCount():
            self.hyper_form.removeRow(0)
        self._hyper_fields = {}
        for spec in OPTIMIZERS[run.optimizer].hyperparams:
            w = param_editor(spec, run.hyper.get(spec.name, spec.default),
                             lambda v, n=spec.name: self._update(hyper={n: v}))
            self.hyper_form.addRow(_title(spec.name), w)
            self._hyper_fields[spec.name] = w

    def _rebuild_schedule(self, rid: int, run) -> None:
        key = (rid, run.schedule)
        specs = SCHEDULES[run.schedule].params
        if key == self._schedule_for:
            for spec in specs:
                w = self._schedule_fields.get(spec.name)
                if w is not None:
                    _set_widget_value(w, run.schedule_params.get(spec.name, spec.default))
            return
        self._schedule_for = key
        while self.schedule_form.rowCount():
            self.schedule_form.removeRow(0)
        self._schedule_fields: dict[str, QWidget] = {}
        for spec in specs:
            w = param_editor(spec, run.schedule_params.get(spec.name, spec.default),
                             lambda v, n=spec.name: self._update(
                                 schedule_params={**self.scene.runs[self.scene.selected]
                                                  .schedule_params, n: v}))
            self.schedule_form.addRow(_title(spec.name), w)
            self._schedule_fields[spec.name] = w
        self.schedule_box.setVisible(bool(specs))


def _set_widget_value(w: QWidget, value: Any) -> None:
    if value is None:
        return
    w.blockSignals(True)
    try:
        if isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, SliderField):
            w.set_value(float(value))
        elif isinstance(w, QSpinBox):
            w.setValue(int(value))
        else:
            boxes = w.findChildren(NumberBox)
            for box, v in zip(boxes, value, strict=False):
                box.blockSignals(True)
                box.setValue(float(v))
                box.blockSignals(False)
    finally:
        w.blockSignals(False)
