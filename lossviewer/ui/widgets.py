"""Small editors shared by the docks: a number field that takes scientific
notation, and a slider + field pair (linear or log scale) that reports values
while the slider moves."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QSlider, QWidget

SLIDER_STEPS = 1000


class NumberBox(QDoubleSpinBox):
    """A spin box that shows and accepts %g text (1e-4, 0.9, 250).

    Text that is not a number in range is not accepted; the box keeps its last
    good value, so a typo never reaches the scene.
    """

    #: the user finished typing text that is not a number in range (with a message);
    #: the box has gone back to its last good value
    rejected = Signal(str)

    def __init__(self, minimum: float = -1e12, maximum: float = 1e12, value: float = 0.0,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(15)
        self.setRange(minimum, maximum)
        self.setKeyboardTracking(False)
        self.setAccelerated(True)
        self.setValue(value)
        self.setCorrectionMode(QDoubleSpinBox.CorrectionMode.CorrectToPreviousValue)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        try:
            return float(text.strip().replace(",", "."))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):  # Qt override
        t = text.strip().replace(",", ".")
        if t in ("", "-", "+", ".", "-.", "+.") or t.lower().endswith(("e", "e-", "e+")):
            return QValidator.State.Intermediate, text, pos
        try:
            v = float(t)
        except ValueError:
            return QValidator.State.Invalid, text, pos
        if not math.isfinite(v):
            return QValidator.State.Invalid, text, pos
        if self.minimum() <= v <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def _check_typed(self) -> None:
        text = self.lineEdit().text()
        state = self.validate(text, 0)[0]
        if state != QValidator.State.Acceptable and text.strip():
            message = (f"'{text.strip()}' is not a number in "
                       f"[{self.minimum():g}, {self.maximum():g}]; kept {self.value():g}")
            self.rejected.emit(message)
            # tell the user through the nearest dock (or window) that reports errors
            w = self.parentWidget()
            while w is not None and not callable(getattr(w, "report_error", None)):
                w = w.parentWidget()
            if w is not None:
                w.report_error(message)

    def focusOutEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._check_typed()
        super().focusOutEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._check_typed()
        super().keyPressEvent(event)

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt override
        # step by about a tenth of the magnitude, so 1e-4 steps to 1.1e-4, not 1.0001
        v = self.value()
        mag = 10 ** math.floor(math.log10(abs(v))) if v else 0.1
        self.setValue(min(max(v + steps * mag * 0.1, self.minimum()), self.maximum()))


class SliderField(QWidget):
    """A slider and a NumberBox editing one float; log scale for rates and epsilons."""

    #: emitted while the slider moves and when a typed value is committed
    valueChanged = Signal(float)  # noqa: N815 - Qt naming

    def __init__(self, minimum: float, maximum: float, value: float, log: bool = False,
                 parent: QWidget | None = None,
                 box_range: tuple[float, float] | None = None) -> None:
        """The slider spans [minimum, maximum]; the field takes any value in
        ``box_range`` (default: the slider's), e.g. lr up to 1000 typed by hand."""
        super().__init__(parent)
        if log and minimum <= 0:
            minimum = maximum * 1e-8 if maximum > 0 else 1e-12
        self._min, self._max, self._log = float(minimum), float(maximum), log
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        lo, hi = box_range if box_range is not None else (self._min, self._max)
        self.box = NumberBox(max(lo, -1e300), min(hi, 1e300), value)
        self.box.setMinimumWidth(92)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 3)
        layout.addWidget(self.box, 2)
        self._syncing = False
        self.set_value(value)
        self.slider.valueChanged.connect(self._on_slider)
        self.box.valueChanged.connect(self._on_box)

    def _to_slider(self, v: float) -> int:
        v = min(max(v, self._min), self._max)
        if self._log:
            t = (math.log10(v) - math.log10(self._min)) / (math.log10(self._max)
                                                          - math.log10(self._min))
        else:
            t = (v - self._min) / (self._max - self._min) if self._max > self._min else 0.0
        return round(t * SLIDER_STEPS)

    def _from_slider(self, i: int) -> float:
        t = i / SLIDER_STEPS
        if self._log:
            lo, hi = math.log10(self._min), math.log10(self._max)
            return float(f"{10 ** (lo + t * (hi - lo)):.3g}")
        return float(f"{self._min + t * (self._max - self._min):.4g}")

    def value(self) -> float:
        return self.box.value()

    def set_value(self, v: float) -> None:
        """Show a value without emitting valueChanged."""
        self._syncing = True
        try:
            self.box.setValue(v)
            self.slider.setValue(self._to_slider(v))
        finally:
            self._syncing = False

    def _on_slider(self, i: int) -> None:
        if self._syncing:
            return
        v = self._from_slider(i)
        self._syncing = True
        self.box.setValue(v)
        self._syncing = False
        self.valueChanged.emit(v)

    def _on_box(self, v: float) -> None:
        if self._syncing:
            return
        self._syncing = True
        self.slider.setValue(self._to_slider(v))
        self._syncing = False
        self.valueChanged.emit(v)


class ProgressStrip(QWidget):
    """A progress bar with text that repaints with update(), never repaint().

    QProgressBar.setValue repaints synchronously, and in a window that holds a
    QOpenGLWidget every synchronous repaint recomposes the whole window (and
    re-renders a dirty 3D view): 100-200 ms on a software renderer, per update.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fraction = 0.0
        self._text = ""
        self.setMinimumWidth(220)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(260, self.fontMetrics().height() + 6)

    def set_progress(self, fraction: float, text: str = "") -> None:
        self._fraction = min(max(float(fraction), 0.0), 1.0)
        self._text = text
        self.update()

    def fraction(self) -> float:
        return self._fraction

    def text(self) -> str:
        return self._text

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        r = QRectF(self.rect()).adjusted(0.5, 2.5, -0.5, -2.5)
        pal = self.palette()
        p.setPen(QColor(pal.mid().color()))
        p.setBrush(pal.base())
        p.drawRoundedRect(r, 3, 3)
        fill = QRectF(r.left(), r.top(), r.width() * self._fraction, r.height())
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(pal.highlight())
        p.drawRoundedRect(fill, 3, 3)
        p.setPen(pal.text().color())
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, self._text)
        p.end()
