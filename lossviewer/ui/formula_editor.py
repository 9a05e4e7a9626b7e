"""FormulaEditor: type f(x, y) and its parameters, checked as you type.

The text is checked a moment after each keystroke (parsing is a whitelist, so
checking is safe and fast; a valid formula is compiled once and cached) and
the verdict shown under the fields: the formula as understood, or what is wrong
and at which column. A valid formula is submitted after a short pause or at
once with Enter; an invalid one never replaces the formula shown, so the
user's last good landscape stays on screen while they type.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QWidget

from lossviewer.core.formula import (
    KNOWN_CONSTANTS,
    KNOWN_FUNCTIONS,
    MAX_LENGTH,
    FormulaError,
    compile_formula,
    parse_parameters,
)

#: pause after the last keystroke before a valid formula is applied
APPLY_AFTER_MS = 450
CHECK_AFTER_MS = 120
OK_STYLE = "color: #7ee787;"
ERROR_STYLE = "color: #ff7b72;"
FIELD_ERROR_STYLE = "QLineEdit { border: 1px solid #ff7b72; }"


class FormulaEditor(QWidget):
    """Two fields (formula, parameters) and a verdict line."""

    #: (expression, declarations) of a formula that parsed and compiled
    submitted = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.expression = QLineEdit()
        self.expression.setMaxLength(MAX_LENGTH)
        self.expression.setPlaceholderText("e.g. (a - x)^2 + b*(y - x^2)^2")
        self.expression.setClearButtonEnabled(True)
        self.expression.setToolTip(
            "f(x, y): numbers, x, y, + − * / ^ (or **), parentheses,\n"
            f"constants {', '.join(KNOWN_CONSTANTS)}; functions "
            f"{', '.join(KNOWN_FUNCTIONS)}\n"
            "and the parameters declared below. Derivatives are exact (symbolic).\n"
            "Applied when you pause typing, or with Enter.")
        self.declarations = QLineEdit()
        self.declarations.setPlaceholderText("e.g. a=1, b=100 in [0, 1000]")
        self.declarations.setToolTip(
            "Parameters become sliders: name=value, optionally 'in [low, high]';\n"
            "without a range the slider spans value ± 5·max(|value|, 1).")
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("f(x, y) =", self.expression)
        form.addRow("Parameters", self.declarations)
        form.addRow(self.verdict)

        self._check_timer = QTimer(self, singleShot=True, interval=CHECK_AFTER_MS)
        self._check_timer.timeout.connect(self.check)
        self._apply_timer = QTimer(self, singleShot=True, interval=APPLY_AFTER_MS)
        self._apply_timer.timeout.connect(self.submit)
        self._applied: tuple[str, str] | None = None
        for field in (self.expression, self.declarations):
            field.textEdited.connect(self._on_edited)
            field.returnPressed.connect(self.submit)

    def set_text(self, expression: str, declarations: str) -> None:
        """Show the scene's formula (does not submit it)."""
        self._apply_timer.stop()
        self._applied = (expression, declarations)
        if self.expression.text() != expression:
            self.expression.setText(expression)
        if self.declarations.text() != declarations:
            self.declarations.setText(declarations)
        self.check()

    def _on_edited(self, _text: str) -> None:
        self._check_timer.start()
        self._apply_timer.start()

    def check(self) -> bool:
        """Validate both fields; show the verdict; True when the formula is usable."""
        expr, decl = self.expression.text(), self.declarations.text()
        where = self.expression
        try:
            where = self.declarations
            names = [p.name for p in parse_parameters(decl)]
            where = self.expression
            compiled = compile_formula(expr, names)
        except FormulaError as exc:
            self._show_error(where, str(exc))
            return False
        for field in (self.expression, self.declarations):
            field.setStyleSheet("")
        self.verdict.setStyleSheet(OK_STYLE)
        self.verdict.setText(f"✓ f(x, y) = {compiled.pretty}")
        self.verdict.setToolTip("")
        return True

    def _show_error(self, field: QLineEdit, message: str) -> None:
        other = self.declarations if field is self.expression else self.expression
        other.setStyleSheet("")
        field.setStyleSheet(FIELD_ERROR_STYLE)
        self.verdict.setStyleSheet(ERROR_STYLE)
        what = "Parameters" if field is self.declarations else "Formula"
        self.verdict.setText(f"✗ {what}: {message}")
        self.verdict.setToolTip(message)

    def submit(self) -> None:
        """Apply the fields if they are valid and differ from what the scene shows."""
        self._apply_timer.stop()
        self._check_timer.stop()
        if not self.check():
            return
        text = (self.expression.text(), self.declarations.text())
        if text != self._applied:
            self._applied = text
            self.submitted.emit(*text)
