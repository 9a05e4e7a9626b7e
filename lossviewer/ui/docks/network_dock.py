"""NetworkDock: data, model, training and the plane of a neural-network landscape.

Editing a field changes the scene's NetworkSettings; nothing is trained until
Compute (Ctrl+Return) is pressed, except the loss function and L2 weight, which
re-evaluate the plane already shown at once. The layer selector (train /
validation loss or accuracy, or their gap) switches what the views draw
without recomputing.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lossviewer.core.datasets import DATASETS
from lossviewer.core.directions import BIAS_MODES, METHODS
from lossviewer.core.network import ACTIVATIONS, LOSSES
from lossviewer.core.optimizers import OPTIMIZERS
from lossviewer.core.schedules import SCHEDULES
from lossviewer.scene.scene import NETWORK_LAYERS, Scene
from lossviewer.ui.docks.optimizer_dock import param_editor
from lossviewer.ui.docks.scene_dock import SceneDock
from lossviewer.ui.widgets import SliderField

_LOSS_TITLES = {"cross_entropy": "Cross-entropy", "mse": "Mean squared error", "hinge": "Hinge"}
_METHOD_TITLES = {"random": "Random (Gaussian)", "filter": "Filter-normalised (Li et al.)",
                  "layer": "Layer-normalised", "pca": "PCA of the training path",
                  "hessian": "Top Hessian eigenvectors", "interp": "Interpolation A → B, init"}
_BIAS_TITLES = {"zero": "zeroed (Li et al.)", "copy": "copied from the weights",
                "normalize": "normalised as one filter"}


def _combo(items: dict[str, str], tips: dict[str, str] | None = None) -> QComboBox:
    box = QComboBox()
    # long titles must not widen the dock column
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(12)
    for key, title in items.items():
        box.addItem(title, key)
        if tips and key in tips:
            box.setItemData(box.count() - 1, tips[key], 3)  # ToolTipRole
    return box


def _spin(lo: int, hi: int, tip: str, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setKeyboardTracking(False)
    box.setToolTip(tip)
    return box


class NetworkDock(SceneDock):
    #: the user asked for a new landscape (Compute)
    compute_requested = Signal()

    def __init__(self, scene: Scene, report_error: Callable[[str], None],
                 parent: QWidget | None = None) -> None:
        super().__init__("Network", scene, report_error, parent)
        body = QWidget()
        outer = QVBoxLayout(body)

        data = QGroupBox("Data")
        f = QFormLayout(data)
        self.dataset = _combo({k: v.title for k, v in DATASETS.items()},
                              {k: v.description for k, v in DATASETS.items()})
        self.dataset.setToolTip("Built-in dataset; a seeded part is held out for validation")
        f.addRow("Dataset", self.dataset)
        self.samples = _spin(0, 100_000, "Number of samples (0: the dataset's default)", 50)
        self.samples.setSpecialValueText("default")
        f.addRow("Samples", self.samples)
        self.noise = SliderField(0.0, 1.0, 0.2)
        self.noise.setToolTip("Noise of the generated data (label noise makes overfitting "
                              "visible)")
        f.addRow("Noise", self.noise)
        self.data_seed = _spin(0, 2**31 - 1, "Seed of the data and of its train/validation split")
        f.addRow("Data seed", self.data_seed)
        outer.addWidget(data)

        model = QGroupBox("Model")
        f = QFormLayout(model)
        self.hidden = QLineEdit()
        self.hidden.setPlaceholderText("e.g. 16,16 (empty: linear model)")
        self.hidden.setToolTip("Hidden layer widths, comma-separated; empty gives logistic / "
                               "softmax regression. Enter applies.")
        f.addRow("Hidden layers", self.hidden)
        self.activation = _combo({k: k for k in ACTIVATIONS}, ACTIVATIONS)
        self.activation.setToolTip("Nonlinearity between layers")
        f.addRow("Activation", self.activation)
        self.loss = _combo(_LOSS_TITLES, LOSSES)
        self.loss.setToolTip("Training objective; changing it re-evaluates the shown plane "
                             "at once (retrain with Compute to move the centre)")
        f.addRow("Loss", self.loss)
        self.l2 = SliderField(1e-5, 1.0, 0.0, log=True, box_range=(0.0, 10.0))
        self.l2.setToolTip("L2 regularisation λ (adds λ/2·|θ|²): 0 is off. Re-evaluates "
                           "the shown plane at once")
        f.addRow("L2", self.l2)
        outer.addWidget(model)

        train = QGroupBox("Training")
        f = QFormLayout(train)
        self.optimizer = _combo({k: c.title for k, c in OPTIMIZERS.items()},
                                {k: c.description for k, c in OPTIMIZERS.items()})
        self.optimizer.setToolTip("Optimizer that trains the full network (all parameters)")
        f.addRow("Optimizer", self.optimizer)
        self.lr = SliderField(1e-4, 5.0, 0.5, log=True, box_range=(1e-8, 1000.0))
        self.lr.setToolTip("Learning rate of the training run")
        f.addRow("lr", self.lr)
        self.hyper_box = QWidget()
        self.hyper_form = QFormLayout(self.hyper_box)
        self.hyper_form.setContentsMargins(0, 0, 0, 0)
        f.addRow(self.hyper_box)
        self._hyper_for: str | None = None
        self.schedule = _combo({k: k.replace("_", " ") for k in SCHEDULES},
                               {k: v.description for k, v in SCHEDULES.items()})
        self.schedule.setToolTip("Learning-rate schedule of the training run (its parameters "
                                 "take their defaults, which follow the number of steps)")
        f.addRow("Schedule", self.schedule)
        self.steps = _spin(1, 100_000, "Training steps", 50)
        f.addRow("Steps", self.steps)
        self.batch = _spin(0, 100_000, "Mini-batch size (0: full batch gradient descent)", 8)
        self.batch.setSpecialValueText("full batch")
        f.addRow("Batch", self.batch)
        self.seed = _spin(0, 2**31 - 1, "Seed of the initialisation and of the batch order")
        f.addRow("Seed", self.seed)
        outer.addWidget(train)

        plane = QGroupBox("Plane")
        f = QFormLayout(plane)
        self.method = _combo(_METHOD_TITLES, METHODS)
        self.method.setToolTip("The two directions the landscape is drawn along")
        f.addRow("Directions", self.method)
        self.bias = _combo({k: _BIAS_TITLES[k] for k in BIAS_MODES})
        self.bias.setToolTip("What filter/layer normalisation does with biases")
        f.addRow("Biases", self.bias)
        self.orthogonalize = QCheckBox("orthogonal directions")
        self.orthogonalize.setToolTip("Make the second direction orthogonal to the first")
        f.addRow(self.orthogonalize)
        self.direction_seed = _spin(0, 2**31 - 1, "Seed of the random directions")
        f.addRow("Direction seed", self.direction_seed)
        self.dtype = _combo({"float32": "float32 (fast)", "float64": "float64 (exact)"})
        self.dtype.setToolTip("Precision of the grid evaluation")
        f.addRow("Precision", self.dtype)
        outer.addWidget(plane)

        own = QGroupBox("Your PyTorch model (File → Open model…)")
        f = QFormLayout(own)
        self.device = _combo({"cpu": "CPU", "cuda": "CUDA GPU"})
        self.device.setToolTip("Where a model file's network is evaluated")
        f.addRow("Device", self.device)
        self.bn_mode = _combo({"eval": "running statistics", "train": "recomputed per point"})
        self.bn_mode.setToolTip("Batch norm: the stored running statistics (model.eval()), or "
                                "statistics recomputed from the data at every grid point "
                                "(Garipov et al.)")
        f.addRow("Batch norm", self.bn_mode)
        outer.addWidget(own)

        row = QHBoxLayout()
        self.compute_button = QPushButton("Compute landscape")
        self.compute_button.setToolTip("Train, choose the directions and evaluate the grid "
                                       "(Ctrl+Return); Esc cancels")
        row.addWidget(self.compute_button)
        outer.addLayout(row)

        show = QFormLayout()
        self.layer = _combo(NETWORK_LAYERS)
        self.layer.setToolTip("What the views draw: training or validation loss or accuracy, "
                              "or the generalisation gap (V toggles training/validation)")
        show.addRow("Show", self.layer)
        outer.addLayout(show)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setStyleSheet("color: #8a93a3;")
        outer.addWidget(self.info)
        outer.addStretch(1)
        # a tall form: scroll rather than make the window taller than the screen
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        self.setWidget(scroll)

        self.refresh()
        ns = self._set
        self.dataset.currentIndexChanged.connect(
            lambda _i: ns(dataset=self.dataset.currentData(), samples=0, noise=None))
        self.samples.valueChanged.connect(lambda v: ns(samples=int(v)))
        self.noise.valueChanged.connect(lambda v: ns(noise=float(v)))
        self.data_seed.valueChanged.connect(lambda v: ns(data_seed=int(v)))
        self.hidden.editingFinished.connect(self._on_hidden)
        self.activation.currentIndexChanged.connect(
            lambda _i: ns(activation=self.activation.currentData()))
        self.loss.currentIndexChanged.connect(lambda _i: ns(loss=self.loss.currentData()))
        self.l2.valueChanged.connect(lambda v: ns(l2=float(v)))
        self.optimizer.currentIndexChanged.connect(
            lambda _i: ns(optimizer=self.optimizer.currentData()))
        self.lr.valueChanged.connect(lambda v: ns(lr=float(v)))
        self.schedule.currentIndexChanged.connect(
            lambda _i: ns(schedule=self.schedule.currentData()))
        self.steps.valueChanged.connect(lambda v: ns(steps=int(v)))
        self.batch.valueChanged.connect(lambda v: ns(batch_size=int(v)))
        self.seed.valueChanged.connect(lambda v: ns(seed=int(v)))
        self.method.currentIndexChanged.connect(
            lambda _i: ns(directions=self.method.currentData()))
        self.bias.currentIndexChanged.connect(lambda _i: ns(bias=self.bias.currentData()))
        self.orthogonalize.toggled.connect(lambda b: ns(orthogonalize=bool(b)))
        self.direction_seed.valueChanged.connect(lambda v: ns(direction_seed=int(v)))
        self.dtype.currentIndexChanged.connect(lambda _i: ns(dtype=self.dtype.currentData()))
        self.device.currentIndexChanged.connect(lambda _i: ns(device=self.device.currentData()))
        self.bn_mode.currentIndexChanged.connect(
            lambda _i: ns(bn_mode=self.bn_mode.currentData()))
        self.layer.currentIndexChanged.connect(self._on_layer)
        self.compute_button.clicked.connect(self.compute_requested)
        scene.network_settings_changed.connect(lambda _s: self.refresh())
        scene.landscape_changed.connect(lambda _s: self.refresh())

    def _set(self, **changes) -> None:
        self.apply(lambda: self.scene.set_network_settings(**changes))

    def _on_hidden(self) -> None:
        text = self.hidden.text().strip()
        try:
            widths = tuple(int(w) for w in text.replace(" ", "").split(",") if w)
        except ValueError:
            self.report_error(f"hidden layers: expected widths like 16,16, got {text!r}")
            self.refresh()
            return
        self._set(hidden=widths)

    def _on_layer(self, _i: int) -> None:
        layer = self.layer.currentData()
        s = self.scene.landscape_settings
        if s.network is None:
            return
        self.apply(lambda: self.scene.set_landscape(layer=layer))

    def _rebuild_hyper(self, s) -> None:
        """One editor per hyperparameter of the training optimizer except lr."""
        if self._hyper_for == s.optimizer:
            return
        self._hyper_for = s.optimizer
        while self.hyper_form.rowCount():
            self.hyper_form.removeRow(0)
        values = s.full_hyper()
        for spec in OPTIMIZERS[s.optimizer].hyperparams:
            if spec.name == "lr":
                continue
            editor = param_editor(spec, values[spec.name],
                                  lambda v, n=spec.name: self._set_hyper(n, v))
            self.hyper_form.addRow(spec.name.replace("_", " "), editor)

    def _set_hyper(self, name: str, value) -> None:
        hyper = {**dict(self.scene.network_settings.hyper), name: value}
        self._set(hyper=tuple(sorted(hyper.items())))

    def toggle_split(self) -> None:
        """Training ↔ validation loss (V)."""
        layer = self.scene.landscape_settings.layer
        other = {"train_loss": "val_loss", "val_loss": "train_loss", "train_acc": "val_acc",
                 "val_acc": "train_acc"}.get(layer, "train_loss")
        self.apply(lambda: self.scene.set_landscape(layer=other))

    def set_info(self, text: str) -> None:
        self.info.setText(text)

    def refresh(self) -> None:
        with self.refreshing():
            s = self.scene.network_settings
            info = DATASETS[s.dataset]
            self.dataset.setCurrentIndex(self.dataset.findData(s.dataset))
            self.samples.setRange(0, info.max_samples)
            self.samples.setValue(s.samples)
            self.noise.setEnabled(s.dataset != "digits")
            self.noise.set_value(info.default_noise if s.noise is None else s.noise)
            self.data_seed.setValue(s.data_seed)
            if not self.hidden.hasFocus():
                self.hidden.setText(",".join(map(str, s.hidden)))
            self.activation.setCurrentIndex(self.activation.findData(s.activation))
            self.loss.setCurrentIndex(self.loss.findData(s.loss))
            self.loss.setEnabled(info.task == "classification")
            self.l2.set_value(s.l2)
            self.optimizer.setCurrentIndex(self.optimizer.findData(s.optimizer))
            self.lr.set_value(s.lr)
            self._rebuild_hyper(s)
            self.schedule.setCurrentIndex(self.schedule.findData(s.schedule))
            self.steps.setValue(s.steps)
            self.batch.setValue(s.batch_size)
            self.seed.setValue(s.seed)
            self.method.setCurrentIndex(self.method.findData(s.directions))
            self.bias.setEnabled(s.directions in ("filter", "layer", "interp"))
            self.bias.setCurrentIndex(self.bias.findData(s.bias))
            self.orthogonalize.setChecked(s.orthogonalize)
            self.direction_seed.setValue(s.direction_seed)
            self.dtype.setCurrentIndex(self.dtype.findData(s.dtype))
            self.device.setCurrentIndex(self.device.findData(s.device))
            self.bn_mode.setCurrentIndex(self.bn_mode.findData(s.bn_mode))
            ls = self.scene.landscape_settings
            self.layer.setCurrentIndex(self.layer.findData(ls.layer))
            self.layer.setEnabled(ls.network is not None)
