"""The typed-formula language's names and limits, and its error type (no sympy).

Kept apart from :mod:`lossviewer.core.formula` so the UI can show them (tooltips,
field lengths) and catch :class:`FormulaError` without importing sympy, which
costs about half a second of start-up.
"""

from __future__ import annotations

#: longest formula (and longest parameter declaration text), in characters
MAX_LENGTH = 1000
#: deepest nesting of parentheses, calls, powers and unary signs
MAX_DEPTH = 50
#: most syntax nodes (numbers, names, operators, calls) in one formula
MAX_NODES = 500
#: most declared parameters
MAX_PARAMETERS = 20
#: largest |constant exponent| of a power whose base depends on x, y or a parameter
MAX_EXPONENT = 1000
#: constant numbers must satisfy |v| <= 10**MAX_MAGNITUDE_LOG10
MAX_MAGNITUDE_LOG10 = 300
#: largest gradient (nodes of gx and gy written out as trees): the Hessian of a
#: formula near this limit takes about a second to derive and compile
MAX_GRADIENT_SIZE = 1500
#: largest Hessian (nodes of its three entries written out as trees)
MAX_HESSIAN_SIZE = 50000

KNOWN_CONSTANTS: tuple[str, ...] = ("pi", "e")
VARIABLES: tuple[str, ...] = ("x", "y")


class FormulaError(ValueError):
    """A formula or parameter declaration that cannot be used.

    ``column`` is the 1-based character position the message is about (None
    when the problem is not at one place).
    """

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


#: the functions a formula may call (min and max take two arguments, the others one)
KNOWN_FUNCTIONS: tuple[str, ...] = (
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "asin", "acos", "atan",
    "sinh", "cosh", "tanh", "exp", "log", "log2", "log10", "sqrt", "abs", "sign",
    "sigmoid", "softplus", "min", "max",
)
