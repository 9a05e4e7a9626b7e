"""FormulaEditor: type f(x, y) and its parameters, checked as you type.

The text is parsed a moment after each keystroke (a whitelist parse: safe, a
few ms) and the verdict shown under the fields: the formula as understood, or
what is wrong and at which column. A valid formula is applied after a short
pause or at once with Enter: its exact derivatives are worked out on a worker
thread (sympy takes 10 ms to about a second), and only then is it submitted,
already compiled and cached. An invalid one never replaces the formula shown,
so the user's last good landscape stays on screen while they type.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QWidget

from lossviewer.compute.jobs import FormulaRequest, FormulaResult, formula_job

# not lossviewer.core.formula: that imports sympy (0.5 s), which waits for first use
from lossviewer.core.formula_language import (
    KNOWN_CONSTANTS,
    KNOWN_FUNCTIONS,
    MAX_LENGTH,
    FormulaError,
)
from lossviewer.ui.job_runner import JobRunner

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
        self._pending: tuple[str, str] | None = None
        self.compiler = JobRunner("formula", self)
        self.compiler.finished.connect(self._on_compiled)
        self.compiler.failed.connect(self._on_failed)
        #: set once a formula has been derived on the worker (sympy is imported then)
        self._parser_loaded = False
        #: what the map shows while a formula is not applied ("" when it is the formula)
        self.shown_instead = ""
        for field in (self.expression, self.declarations):
            field.textEdited.connect(self._on_edited)
            field.returnPressed.connect(self.submit)

    def set_text(self, expression: str, declarations: str, check: bool = True) -> None:
        """Show the scene's formula (does not submit it); ``check`` shows the verdict."""
        if (expression, declarations) == self._applied:
            return  # keep what the user is typing
        self._apply_timer.stop()
        self._applied = (expression, declarations)
        if self.expression.text() != expression:
            self.expression.setText(expression)
            self.expression.setCursorPosition(0)  # show the start of a long formula
        if self.declarations.text() != declarations:
            self.declarations.setText(declarations)
        if check:
            self.check()

    def _on_edited(self, _text: str) -> None:
        self._check_timer.start()
        self._apply_timer.start()

    def check(self) -> bool:
        """Parse both fields and show the verdict; True if usable (or not known yet).

        Parsing needs sympy; until a first formula has been derived on the worker
        (which imports it) the verdict waits for that instead of freezing the GUI.
        """
        if not self._parser_loaded:
            return True
        from lossviewer.core.formula import parse_formula, parse_parameters

        expr, decl = self.expression.text(), self.declarations.text()
        where = self.expression
        try:
            where = self.declarations
            names = tuple(p.name for p in parse_parameters(decl))
            where = self.expression
            parsed = parse_formula(expr, names)
        except FormulaError as exc:
            self._show_error(where, str(exc))
            return False
        self._show_ok(str(parsed).replace("**", "^"))
        return True

    def _show_ok(self, pretty: str, note: str = "") -> None:
        for field in (self.expression, self.declarations):
            field.setStyleSheet("")
        self.verdict.setStyleSheet(OK_STYLE)
        self.verdict.setText(f"✓ f(x, y) = {pretty}{note}")
        self.verdict.setToolTip("")

    def _show_error(self, field: QLineEdit, message: str) -> None:
        other = self.declarations if field is self.expression else self.expression
        other.setStyleSheet("")
        field.setStyleSheet(FIELD_ERROR_STYLE)
        self.verdict.setStyleSheet(ERROR_STYLE)
        what = "Parameters" if field is self.declarations else "Formula"
        still = f" (the map still shows {self.shown_instead})" if self.shown_instead else ""
        self.verdict.setText(f"✗ {what}: {message}{still}")
        self.verdict.setToolTip(message)

    def submit(self, force: bool = False) -> None:
        """Apply the fields if they are valid and differ from what the scene shows
        (``force``: even if they do not, e.g. to switch from a built-in to them)."""
        self._apply_timer.stop()
        self._check_timer.stop()
        if not self.check():
            return
        text = (self.expression.text(), self.declarations.text())
        if not force and (text == self._applied or text == self._pending):
            return
        self._pending = text
        self.verdict.setText(self.verdict.text() + "   (deriving …)")
        self.compiler.submit(formula_job, FormulaRequest(*text))

    def parser_loaded(self) -> None:
        """The scene holds a formula, so its module is imported: checks are cheap now."""
        self._parser_loaded = True

    def cancel_pending(self) -> None:
        """Forget a formula on its way (the user chose a built-in meanwhile)."""
        self._apply_timer.stop()
        self._check_timer.stop()
        if self._pending is not None:
            self.compiler.cancel()
            self._pending = None

    def _on_failed(self, message: str) -> None:
        self._pending = None
        self._show_error(self.expression, message.split("\n", 1)[0])

    def _on_compiled(self, result: FormulaResult) -> None:
        self._parser_loaded = True
        text, self._pending = self._pending, None
        if text is None or text != (self.expression.text(), self.declarations.text()):
            return  # typed on meanwhile: the newer text is on its way
        if result.error:  # e.g. derivatives too large
            self._show_error(self.declarations if result.field == "declarations"
                             else self.expression, result.error)
            return
        self._show_ok(result.compiled.pretty)
        self._applied = text
        self.submitted.emit(*text)
