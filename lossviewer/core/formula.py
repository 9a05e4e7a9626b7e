"""Typed formulas f(x, y): a whitelisted parse, exact derivatives, fast numpy callables.

A formula is checked and translated in three stages, none of which ever
evaluates the text:

1. A scan of the characters and tokens, left to right: only printable ASCII,
   only the tokens of the language below, balanced parentheses no deeper than
   :data:`MAX_DEPTH`, and operands and operators alternating. The first problem
   found is reported with its 1-based column (:class:`FormulaError`).
2. ``ast.parse(text, mode="eval")`` (with ``^`` rewritten to ``**``), then a
   walk of the tree that accepts only the node types of the language and
   builds the sympy expression directly from them (``sympy.Symbol``,
   ``sympy.Integer``/``Float``, ``sympy.sin``, …). ``sympify``/``parse_expr``,
   ``eval`` and ``exec`` are never applied to user text.
3. ``sympy.diff`` for the gradient and the Hessian, and ``sympy.lambdify``
   (numpy, common-subexpression elimination) for the callables.

Language
    ``x`` and ``y``; numbers (``3``, ``0.5``, ``.5``, ``1e-3``, ``2.5E+4``);
    ``+ - * /``, powers ``**`` or ``^`` (right-associative and binding tighter
    than unary minus, as in Python: ``-x^2 == -(x^2)``, ``2^3^2 == 512``);
    unary ``-``/``+``; parentheses; the constants ``pi`` and ``e``; the functions
    of :data:`KNOWN_FUNCTIONS` (``min`` and ``max`` take two arguments, the
    others one); and declared parameter names. Nothing is implicit: ``2x`` and
    ``x y`` are errors ("missing operator").

Limits, checked before anything is built
    at most :data:`MAX_LENGTH` characters, :data:`MAX_DEPTH` levels of nesting
    (parentheses, calls, powers and unary signs each count; a chain such as
    ``a + b - c`` or ``a * b / c`` counts once) and :data:`MAX_NODES` syntax
    nodes. Constant numbers (literals and constant sub-expressions) must stay
    within ±1e300 (:data:`MAX_MAGNITUDE_LOG10`): ``9**9**9`` is refused with
    "9**387420489 is too large to compute" before sympy computes anything.
    Powers of an expression in x, y or parameters may have a constant exponent
    of magnitude at most :data:`MAX_EXPONENT` (``x**100000`` is refused). A
    constant base raised to an exponent that depends on x, y or a parameter
    must be positive (``2**x`` is fine, ``(-2)**x`` is refused: its derivative
    is complex). Constant sub-expressions that are undefined (``1/0``,
    ``log(0)``) or not real (``sqrt(-1)``, ``arcsin(2)``) are refused;
    constants below about 1e-330 are 0, as in float64.

    Second derivatives of long products or deep nests grow much faster than
    the formula (a product of n distinct factors has a Hessian of about n³
    terms). A formula whose gradient has more than :data:`MAX_GRADIENT_SIZE`
    nodes, or whose Hessian more than :data:`MAX_HESSIAN_SIZE`, is refused as
    "too complex", which keeps the worst compile near a second; typical
    formulas compile in 10-50 ms, and each text is compiled once (cached).

Derivatives where the exact one does not exist (all finite, chosen so that a
minimum or a kink is a stationary point where that makes sense)
    * ``abs'(0) = sign(0) = 0`` (the smallest subgradient);
    * ``sign' = 0`` everywhere, also at 0 (the jump's delta is dropped);
    * ``min``/``max``: the derivative with respect to an argument is a step
      function with step(0) = 1/2, so on a tie (``max(x, y)`` at ``x == y``) the
      gradient is the average of both one-sided slopes: (1/2, 1/2);
    * ``sigmoid' = sigmoid·(1 − sigmoid)``, ``softplus' = sigmoid`` (both
      evaluated in a numerically stable way, also at ±800).

    Where the exact derivative is infinite it is not made up:
    ``sqrt'(0)`` is ``inf`` and e.g. the gradient of ``sqrt(x^2 + y^2)`` at the
    origin is NaN (0/0). Values outside a function's domain are NaN (``log(-1)``)
    and infinities are inf. Evaluation never raises and never warns (numpy
    errors are silenced); the optimizer code stops runs on non-finite values.

Parameters (:func:`parse_parameters`)
    ``a=1, b=100 in [0, 1000]``: comma, semicolon or newline separated
    ``name=value`` with an optional ``in [low, high]`` slider range. Without a
    range the slider spans ``value ± 5·s`` with ``s = max(|value|, 1)``, e.g.
    ``b=100`` → [-400, 600], ``a=0`` → [-5, 5].
"""

from __future__ import annotations

import ast
import functools
import keyword
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy
from numpy.typing import ArrayLike, NDArray
from sympy.printing.numpy import NumPyPrinter

from lossviewer.core.formula_language import (
    KNOWN_CONSTANTS,
    KNOWN_FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_GRADIENT_SIZE,
    MAX_HESSIAN_SIZE,
    MAX_LENGTH,
    MAX_MAGNITUDE_LOG10,
    MAX_NODES,
    MAX_PARAMETERS,
    VARIABLES,
    FormulaError,
)
from lossviewer.core.landscape import Domain, Landscape, ParamSpec

__all__ = [
    "KNOWN_CONSTANTS",
    "KNOWN_FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_GRADIENT_SIZE",
    "MAX_HESSIAN_SIZE",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_PARAMETERS",
    "CompiledFormula",
    "FormulaError",
    "FormulaLandscape",
    "compile_formula",
    "default_range",
    "parse_formula",
    "parse_parameters",
]

def _fail(message: str, column: int | None = None) -> FormulaError:
    """A FormulaError whose message ends with "at column N"."""
    if column is not None:
        message = f"{message} at column {column}"
    return FormulaError(message, column)


# -- special functions ------------------------------------------------------------


def _float_of(arg: sympy.Expr, prec: int) -> float | None:
    v = arg.evalf(max(prec, 53) // 3 + 2)
    if not v.is_Number:
        return None
    return float(v)


class sigmoid(sympy.Function):  # noqa: N801 - printed under this name
    """1 / (1 + exp(-z)), evaluated stably (no overflow at ±800)."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_evalf(self, prec: int) -> sympy.Float | None:
        z = _float_of(self.args[0], prec)
        return None if z is None else sympy.Float(_sigmoid_float(z))

    def _eval_is_extended_real(self) -> bool | None:
        return self.args[0].is_extended_real


class softplus(sympy.Function):  # noqa: N801 - printed under this name
    """log(1 + exp(z)), evaluated stably (no overflow at ±800)."""

    nargs = 1

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sigmoid(self.args[0])

    def _eval_evalf(self, prec: int) -> sympy.Float | None:
        z = _float_of(self.args[0], prec)
        if z is None:
            return None
        return sympy.Float(max(z, 0.0) + math.log1p(math.exp(-abs(z))))

    def _eval_is_extended_real(self) -> bool | None:
        return self.args[0].is_extended_real


def _sigmoid_float(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


class _Named(sympy.Function):
    """A function shown as ``_show(args)`` but lambdified under its class name."""

    _show = ""

    def _sympystr(self, printer: Any) -> str:
        return f"{self._show}({', '.join(printer._print(a) for a in self.args)})"


class lv_step(_Named):  # noqa: N801 - lambdify looks the class name up
    """Heaviside step with step(0) = 1/2; only appears in derivatives of min/max."""

    nargs = 1
    _show = "step"

    @classmethod
    def eval(cls, z: sympy.Expr) -> sympy.Expr | None:
        if z.is_number:
            v = _float_of(z, 53)
            if v is not None:
                return sympy.S.Half if v == 0 else (sympy.S.One if v > 0 else sympy.S.Zero)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


class lv_sign(_Named):  # noqa: N801
    """sign(z) with sign(0) = 0 and sign' = 0 everywhere."""

    nargs = 1
    _show = "sign"

    @classmethod
    def eval(cls, z: sympy.Expr) -> sympy.Expr | None:
        return sympy.sign(z) if z.is_number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


class lv_abs(_Named):  # noqa: N801
    """|z| with abs' = sign (so abs'(0) = 0)."""

    nargs = 1
    _show = "abs"

    @classmethod
    def eval(cls, z: sympy.Expr) -> sympy.Expr | None:
        return sympy.Abs(z) if z.is_number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return lv_sign(self.args[0])


class _MinMax(_Named):
    nargs = 2
    _pick_first: Callable[[float, float], bool]

    @classmethod
    def eval(cls, a: sympy.Expr, b: sympy.Expr) -> sympy.Expr | None:
        if a.is_number and b.is_number:
            fa, fb = _float_of(a, 53), _float_of(b, 53)
            if fa is not None and fb is not None:
                return a if cls._pick_first(fa, fb) else b
        if a == b:
            return a
        return None


class lv_min(_MinMax):  # noqa: N801
    """min(a, b); on a tie each argument gets half the derivative."""

    _show = "min"
    _pick_first = staticmethod(lambda fa, fb: fa <= fb)

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        a, b = self.args
        return lv_step(b - a) if argindex == 1 else lv_step(a - b)


class lv_max(_MinMax):  # noqa: N801
    """max(a, b); on a tie each argument gets half the derivative."""

    _show = "max"
    _pick_first = staticmethod(lambda fa, fb: fa >= fb)

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        a, b = self.args
        return lv_step(a - b) if argindex == 1 else lv_step(b - a)


def _np_sigmoid(z: Any) -> Any:
    # exp(-log(1 + exp(-z))): no overflow for any z, accurate in both tails
    return np.exp(-np.logaddexp(0.0, np.negative(z)))


def _np_softplus(z: Any) -> Any:
    return np.logaddexp(0.0, z)


def _np_step(z: Any) -> Any:
    return np.heaviside(z, 0.5)


#: names the lambdified code looks up (besides numpy's)
_NAMESPACE: dict[str, Any] = {
    "sigmoid": _np_sigmoid,
    "softplus": _np_softplus,
    "lv_step": _np_step,
    "lv_sign": np.sign,
    "lv_abs": np.abs,
    "lv_min": np.minimum,
    "lv_max": np.maximum,
}


def _log_base(base: int) -> Callable[[sympy.Expr], sympy.Expr]:
    return lambda z: sympy.log(z) / sympy.log(base)


#: name -> (number of arguments, builder)
_FUNCTIONS: dict[str, tuple[int, Callable[..., sympy.Expr]]] = {
    "sin": (1, sympy.sin),
    "cos": (1, sympy.cos),
    "tan": (1, sympy.tan),
    "arcsin": (1, sympy.asin),
    "arccos": (1, sympy.acos),
    "arctan": (1, sympy.atan),
    "asin": (1, sympy.asin),
    "acos": (1, sympy.acos),
    "atan": (1, sympy.atan),
    "sinh": (1, sympy.sinh),
    "cosh": (1, sympy.cosh),
    "tanh": (1, sympy.tanh),
    "exp": (1, sympy.exp),
    "log": (1, sympy.log),
    "log2": (1, _log_base(2)),
    "log10": (1, _log_base(10)),
    "sqrt": (1, sympy.sqrt),
    "abs": (1, lv_abs),
    "sign": (1, lv_sign),
    "sigmoid": (1, sigmoid),
    "softplus": (1, softplus),
    "min": (2, lv_min),
    "max": (2, lv_max),
}
#: functions whose constant argument must stay below this (exp(1000) is about 1e434);
#: checked before sympy evaluates anything
_EXP_LIKE = {"exp": 1000.0, "sinh": 1000.0, "cosh": 1000.0}


def _known_names(parameters: Sequence[str]) -> str:
    return ", ".join([*VARIABLES, *KNOWN_CONSTANTS, *parameters, *KNOWN_FUNCTIONS])


# -- name rules ------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SIGNED_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


#: names FormulaLandscape's own arguments use (a parameter of that name would clash)
_RESERVED = frozenset({"self", "expression", "declarations", "domain"})


def _name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a parameter, or None."""
    if not _IDENT.fullmatch(name):
        return f"'{name}' is not a valid name (use ASCII letters, digits and '_')"
    if name.startswith("_"):
        return f"names starting with '_' are not allowed ('{name}')"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"'{name}' is a Python keyword and cannot be a parameter name"
    if name in VARIABLES:
        return f"'{name}' is a coordinate and cannot be a parameter name"
    if name in KNOWN_CONSTANTS:
        return f"'{name}' is a constant and cannot be a parameter name"
    if name in _FUNCTIONS:
        return f"'{name}' is a function and cannot be a parameter name"
    if name in _RESERVED:
        return f"'{name}' is reserved; choose another parameter name"
    return None


def _check_parameter_names(parameters: Sequence[str]) -> tuple[str, ...]:
    names = tuple(parameters)
    if len(names) > MAX_PARAMETERS:
        raise FormulaError(f"at most {MAX_PARAMETERS} parameters are allowed, got {len(names)}")
    seen: set[str] = set()
    for n in names:
        if not isinstance(n, str):
            raise FormulaError(f"parameter names must be text, got {n!r}")
        problem = _name_problem(n)
        if problem:
            raise FormulaError(problem)
        if n in seen:
            raise FormulaError(f"parameter '{n}' is declared twice")
        seen.add(n)
    return names


def _check_characters(text: str, what: str) -> None:
    """ASCII printable text (plus tab/newline/CR) of at most MAX_LENGTH characters."""
    if len(text) > MAX_LENGTH:
        raise FormulaError(
            f"{what} is too long: {len(text)} characters (the limit is {MAX_LENGTH})",
            MAX_LENGTH + 1)
    for i, ch in enumerate(text):
        o = ord(ch)
        if 32 <= o < 127 or ch in "\t\n\r":
            continue
        col = i + 1
        if o == 0:
            raise _fail("a NUL character is not allowed", col)
        if o < 32 or o == 127:
            raise _fail(f"control character U+{o:04X} is not allowed", col)
        try:
            uname = unicodedata.name(ch)
        except ValueError:
            uname = "unnamed"
        raise _fail(
            f"character '{ch}' (U+{o:04X} {uname}) is not allowed: write formulas in plain "
            "ASCII (letters a-z, digits, + - * / ^ ( ) , .)", col)


# -- stage 1: tokens and shape ---------------------------------------------------

_NUM, _NAME, _OP, _LP, _RP, _COMMA = "number", "name", "op", "(", ")", ","
_STRING_PREFIXES = {"b", "r", "u", "f", "br", "rb", "fr", "rf"}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int  # 0-based

    @property
    def col(self) -> int:
        return self.pos + 1

    @property
    def end(self) -> int:
        return self.pos + len(self.text)


def _char_problem(text: str, i: int, prev: _Tok | None, in_call: bool) -> FormulaError:
    ch = text[i]
    nxt = text[i + 1] if i + 1 < len(text) else ""
    col = i + 1
    if ch in "'\"":
        return _fail("strings are not allowed: found a quote", col)
    if ch == ".":
        if prev is not None and prev.end == i and prev.kind in (_NAME, _RP, _NUM):
            return _fail("attribute access ('.') is not allowed", col)
        return _fail("unexpected '.'", col)
    if ch in "[]":
        return _fail(f"square brackets ('{ch}') are not allowed: no lists or subscripts "
                     "(use parentheses for grouping)", col)
    if ch in "{}":
        return _fail(f"braces ('{ch}') are not allowed: no sets or dicts", col)
    if ch == "=":
        if nxt == "=":
            return _fail("comparisons ('==') are not supported", col)
        if in_call and prev is not None and prev.kind == _NAME:
            return _fail("keyword arguments are not allowed: write sin(x), not sin(x=...)", col)
        return _fail("'=' is not allowed: a formula is an expression, not an assignment", col)
    if ch == ":":
        if nxt == "=":
            return _fail("assignment (':=') is not allowed", col)
        return _fail("':' is not allowed", col)
    if ch in "<>!":
        op = ch + ("=" if nxt == "=" else "")
        return _fail(f"comparisons ('{op}') are not supported", col)
    if ch == "/" and nxt == "/":
        return _fail("integer division '//' is not supported; use '/'", col)
    if ch in "%@&|~":
        return _fail(f"operator '{ch}' is not supported (use + - * / and ^ or **)", col)
    if ch == ";":
        return _fail("';' is not allowed: a formula is one expression", col)
    if ch == "#":
        return _fail("comments ('#') are not allowed", col)
    return _fail(f"character '{ch}' is not allowed", col)


def _tokens(text: str, state: dict[str, Any]) -> Iterator[_Tok]:
    """The tokens of ``text``; raises at the first character that starts none.

    ``state`` is the parser's: the previous token and whether it is inside a
    call (for the messages about '.' and '=').
    """
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            m = _NUMBER.match(text, i)
            assert m is not None
            tok = m.group()
            j = m.end()
            after = text[j] if j < n else ""
            if after == "_":
                raise _fail("'_' in numbers is not supported (write 1000, not 1_000)", i + 1)
            if tok == "0" and after in ("x", "X", "o", "O", "b", "B") and j + 1 < n and (
                    text[j + 1].isalnum()):
                raise _fail("hexadecimal, octal and binary numbers are not supported", i + 1)
            if after in ("j", "J") and not (j + 1 < n and (text[j + 1].isalnum()
                                                           or text[j + 1] == "_")):
                raise _fail(f"complex numbers ('{tok}{after}') are not supported", i + 1)
            if after == ".":
                k = j
                while k < n and (text[k].isalnum() or text[k] == "."):
                    k += 1
                raise _fail(f"invalid number '{text[i:k]}'", i + 1)
            if re.fullmatch(r"0+[0-9]+", tok) and not re.fullmatch(r"0+", tok):
                raise _fail(f"numbers cannot start with 0 ('{tok}')", i + 1)
            yield _Tok(_NUM, tok, i)
            i = j
            continue
        if ch.isalpha() or ch == "_":
            m = _IDENT.match(text, i)
            assert m is not None
            word = m.group()
            j = m.end()
            if j < n and text[j] in "'\"" and word.lower() in _STRING_PREFIXES:
                kind = "f-strings" if "f" in word.lower() else "strings"
                raise _fail(f"{kind} are not allowed", i + 1)
            yield _Tok(_NAME, word, i)
            i = j
            continue
        if text.startswith("**", i):
            yield _Tok(_OP, "**", i)
            i += 2
            continue
        if ch in "*+-^" or (ch == "/" and not text.startswith("//", i)):
            yield _Tok(_OP, ch, i)
            i += 1
            continue
        if ch in "(),":
            yield _Tok(ch, ch, i)
            i += 1
            continue
        raise _char_problem(text, i, state["prev"], state["in_call"])


def _keyword_problem(word: str) -> str:
    if word == "lambda":
        return "'lambda' is not allowed: a formula cannot define functions"
    if word in ("if", "else"):
        return (f"conditional expressions ('{word}') are not supported; "
                "use min, max, abs or sign")
    if word in ("and", "or", "not", "is", "in"):
        return f"boolean and comparison operators ('{word}') are not supported"
    if word in ("for", "async"):
        return f"comprehensions ('{word}') are not allowed"
    if word in ("True", "False", "None"):
        return f"'{word}' is not allowed: use numbers"
    return f"'{word}' is not allowed: a formula is one expression in x and y"


def _describe(tok: _Tok) -> str:
    return f"'{tok.text}'"


def _scan(text: str, parameters: tuple[str, ...]) -> None:
    """Stage 1: check tokens, names and the shape left to right; raise the first problem."""
    params = set(parameters)
    values = {*VARIABLES, *KNOWN_CONSTANTS, *params}
    state: dict[str, Any] = {"prev": None, "in_call": False}
    stack: list[tuple[str, _Tok, str]] = []  # (kind "call"/"group", '(' token, function)
    expect = "operand"  # or "operator" or "call" (after a function name)
    prev: _Tok | None = None
    for tok in _tokens(text, state):
        if tok.kind == _NAME:
            w = tok.text
            if keyword.iskeyword(w):
                raise _fail(_keyword_problem(w), tok.col)
            if w.startswith("_"):
                raise _fail(f"names starting with '_' are not allowed ('{w}')", tok.col)
        if expect == "call":
            assert prev is not None
            if tok.kind != _LP:
                raise _fail(f"'{prev.text}' is a function: write {prev.text}(...)", prev.col)
            if len(stack) >= MAX_DEPTH:
                raise _fail(f"too deeply nested: more than {MAX_DEPTH} levels of parentheses",
                            tok.col)
            stack.append(("call", tok, prev.text))
            expect = "operand"
        elif expect == "operand":
            if tok.kind == _NUM:
                expect = "operator"
            elif tok.kind == _NAME:
                if tok.text in _FUNCTIONS:
                    expect = "call"
                elif tok.text in values:
                    expect = "operator"
                else:
                    raise FormulaError(
                        f"unknown name '{tok.text}' at column {tok.col}; known names: "
                        f"{_known_names(parameters)}", tok.col)
            elif tok.kind == _LP:
                if len(stack) >= MAX_DEPTH:
                    raise _fail(
                        f"too deeply nested: more than {MAX_DEPTH} levels of parentheses",
                        tok.col)
                stack.append(("group", tok, ""))
            elif tok.kind == _OP:
                if tok.text not in "+-":
                    raise _fail(f"unexpected {_describe(tok)}: expected a number, a name or "
                                "'(' here", tok.col)
            elif tok.kind == _RP:
                if not stack:
                    raise _fail("unexpected ')'", tok.col)
                if prev is not None and prev.kind == _LP:
                    kind, _, fname = stack[-1]
                    if kind == "call":
                        raise _fail(f"{fname}() needs an argument", tok.col)
                    raise _fail("empty parentheses '()'", tok.col)
                if prev is not None and prev.kind == _COMMA:
                    raise _fail("expected an argument after ','", tok.col)
                raise _fail(f"expected a number, a name or '(' before ')' "
                            f"(after {_describe(prev) if prev else 'nothing'})", tok.col)
            else:  # comma
                if not stack or stack[-1][0] != "call":
                    raise _fail("unexpected ',': tuples are not allowed", tok.col)
                raise _fail("expected an argument before ','", tok.col)
        else:  # operator expected
            assert prev is not None
            if tok.kind == _OP:
                expect = "operand"
            elif tok.kind == _RP:
                if not stack:
                    raise _fail("unexpected ')'", tok.col)
                stack.pop()
            elif tok.kind == _COMMA:
                if not stack or stack[-1][0] != "call":
                    raise _fail("unexpected ',': tuples are not allowed", tok.col)
                expect = "operand"
            elif tok.kind == _LP and prev.kind == _NAME:
                raise _fail(f"'{prev.text}' is not a function: write {prev.text}*(...) to "
                            "multiply", prev.col)
            else:
                raise _fail(f"missing operator between {_describe(prev)} and {_describe(tok)}",
                            tok.col)
        prev = tok
        state["prev"] = tok
        state["in_call"] = bool(stack) and stack[-1][0] == "call"
    if prev is None:
        raise FormulaError("empty formula", None)
    end_col = prev.end + 1
    if expect == "call":
        raise _fail(f"'{prev.text}' is a function: write {prev.text}(...)", prev.col)
    if expect == "operand":
        raise _fail(f"the formula ends after {_describe(prev)}: expected a number, a name or "
                    "'('", end_col)
    if stack:
        _, lp, _ = stack[-1]
        raise FormulaError(f"expected ')' at column {end_col} to close the '(' at column "
                           f"{lp.col}", end_col)


# -- stage 2: the whitelisted tree walk --------------------------------------------

_ADDITIVE = (ast.Add, ast.Sub)
_MULTIPLICATIVE = (ast.Mult, ast.Div)
_OP_TEXT = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_REFUSED_NODES: dict[type, str] = {
    ast.Attribute: "attribute access ('.') is not allowed",
    ast.Subscript: "subscripts ('[...]') are not allowed",
    ast.Lambda: "'lambda' is not allowed: a formula cannot define functions",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.NamedExpr: "assignment (':=') is not allowed",
    ast.Starred: "starred expressions ('*') are not allowed",
    ast.Compare: "comparisons are not supported",
    ast.BoolOp: "boolean operators ('and', 'or') are not supported",
    ast.IfExp: "conditional expressions ('if') are not supported; use min, max, abs or sign",
    ast.Tuple: "tuples are not allowed",
    ast.List: "lists are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
    ast.Slice: "slices are not allowed",
}


def _shape_limits(tree: ast.Expression, col_of: Callable[[int], int]) -> None:
    """Node count and nesting depth, computed without recursion."""
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise FormulaError(
                f"formula is too long: more than {MAX_NODES} parts (numbers, names, "
                "operators and calls)", None)
        if depth > MAX_DEPTH:
            col = col_of(getattr(node, "col_offset", 0))
            raise _fail(f"too deeply nested: more than {MAX_DEPTH} levels", col)
        if isinstance(node, ast.BinOp):
            for child in (node.left, node.right):
                same = isinstance(child, ast.BinOp) and (
                    (isinstance(node.op, _ADDITIVE) and isinstance(child.op, _ADDITIVE))
                    or (isinstance(node.op, _MULTIPLICATIVE)
                        and isinstance(child.op, _MULTIPLICATIVE)))
                stack.append((child, depth if same else depth + 1))
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr_context | ast.operator | ast.unaryop):
                    continue
                stack.append((child, depth + 1))


def _magnitude_log10(v: sympy.Number) -> float:
    """log10 |v| for a sympy number (-inf for 0), without converting big ints to float."""
    if v.is_zero:
        return -math.inf
    if isinstance(v, sympy.Rational):
        p, q = abs(int(v.p)), int(v.q)
        return _int_log10(p) - _int_log10(q)
    f = sympy.Float(v)
    sign, man, exp, bc = f._mpf_
    if not man:  # inf / nan have man == 0 and special exp
        return math.inf
    return (math.log10(man) + exp * math.log10(2))


def _int_log10(n: int) -> float:
    bits = n.bit_length()
    if bits < 1000:
        return math.log10(n)
    shift = bits - 64
    return math.log10(n >> shift) + shift * math.log10(2)


#: constants smaller than 10**_FLUSH_LOG10 in magnitude are 0 (as they are in float64)
_FLUSH_LOG10 = -330
_SPECIAL = (sympy.zoo, sympy.oo, sympy.S.NegativeInfinity, sympy.nan)


def _symbol(name: str) -> sympy.Symbol:
    """The symbol of a variable or parameter.

    Symbols carry no assumptions (not even real=True): sympy then never
    rewrites what was typed (``sqrt(x^2)`` stays, it does not become
    ``Abs(x)``), and differentiating is 2-3 times faster.
    """
    return sympy.Symbol(name)


class _Builder:
    """Builds the sympy expression from a checked ``ast`` tree (whitelist only)."""

    def __init__(self, pytext: str, cols: list[int], parameters: tuple[str, ...]) -> None:
        self.pytext = pytext
        self.cols = cols
        self.parameters = parameters
        self.symbols: dict[str, sympy.Symbol] = {n: _symbol(n) for n in (*VARIABLES, *parameters)}

    def col(self, offset: int) -> int:
        return self.cols[min(max(offset, 0), len(self.cols) - 1)] + 1

    def op_col(self, node: ast.BinOp) -> int:
        """Column of the operator of a BinOp (not of its left operand)."""
        i = getattr(node.left, "end_col_offset", None)
        if i is None:
            return self.col(node.col_offset)
        t = self.pytext
        while i < len(t) and t[i] in " )":
            i += 1
        return self.col(i)

    # -- numbers --------------------------------------------------------------
    def checked(self, v: sympy.Expr, col: int, shown: Callable[[], str]) -> sympy.Expr:
        """Refuse undefined, non-real or too large constants; shrink huge exact fractions."""
        if v.has(*_SPECIAL):
            raise _fail(f"{shown()} is undefined (division by zero or a pole)", col)
        if v.has(sympy.I):
            raise _fail(f"{shown()} is not a real number", col)
        reps: dict[sympy.Basic, sympy.Basic] = {}
        for a in v.atoms(sympy.Number):
            mag = _magnitude_log10(a)
            if mag > MAX_MAGNITUDE_LOG10:
                raise _fail(f"{shown()} is too large (the limit is 1e{MAX_MAGNITUDE_LOG10})",
                            col)
            if -math.inf < mag < _FLUSH_LOG10:
                reps[a] = sympy.S.Zero  # below float64's smallest subnormal: it is 0 there
            elif isinstance(a, sympy.Rational) and max(int(a.p).bit_length(),
                                                       int(a.q).bit_length()) > 2000:
                reps[a] = sympy.Float(a)  # a huge exact fraction: float64 is what it becomes
        if reps:
            v = v.xreplace(reps)
        if v.is_number and not v.is_Number:
            try:
                val = v.evalf(17)
            except Exception:  # noqa: BLE001 - anything odd: refuse, never crash
                raise _fail(f"{shown()} cannot be evaluated", col) from None
            if val.has(*_SPECIAL):
                raise _fail(f"{shown()} is undefined", col)
            if not val.is_Number:
                re_, im_ = val.as_real_imag()
                if im_.is_Number and not im_.is_zero:
                    raise _fail(f"{shown()} is not a real number", col)
                if not re_.is_Number:
                    raise _fail(f"{shown()} cannot be evaluated", col)
                val = re_
            if _magnitude_log10(val) > MAX_MAGNITUDE_LOG10:
                raise _fail(f"{shown()} is too large (the limit is 1e{MAX_MAGNITUDE_LOG10})",
                            col)
        return v

    def power(self, base: sympy.Expr, ex: sympy.Expr, col: int) -> sympy.Expr:
        def shown() -> str:
            return f"{_show(base, True)}**{_show(ex, True)}"

        if base.is_number and ex.is_number:
            b = abs(float(base.evalf(17)))
            e = float(ex.evalf(17))
            if b == 0.0:
                if e < 0:
                    raise _fail(f"{shown()} divides by zero", col)
                return self.checked(sympy.Pow(base, ex), col, shown)
            m = e * math.log10(b)
            if m > MAX_MAGNITUDE_LOG10:
                raise _fail(f"{shown()} is too large to compute (about 10^{m:.4g})", col)
            exact_bits = 0.0
            if isinstance(base, sympy.Rational) and isinstance(ex, sympy.Rational):
                exact_bits = abs(float(ex)) * max(int(base.p).bit_length(),
                                                  int(base.q).bit_length())
            if m < -MAX_MAGNITUDE_LOG10 or exact_bits > 20000:
                # the exact value would be huge to write down; float64 is what it becomes
                r = sympy.Pow(base.evalf(30), ex.evalf(30))
                return self.checked(sympy.Float(r, 17) if r.is_Number else r, col, shown)
            return self.checked(sympy.Pow(base, ex), col, shown)
        if ex.is_number:
            e = float(ex.evalf(17))
            if abs(e) > MAX_EXPONENT:
                raise _fail(f"{shown()}: constant exponents are limited to ±{MAX_EXPONENT}",
                            col)
            c, _ = base.as_coeff_Mul()
            if c.is_Number and not c.is_zero and abs(e * _magnitude_log10(c)) > (
                    MAX_MAGNITUDE_LOG10):
                raise _fail(f"{shown()} is too large to compute", col)
            return self.checked(sympy.Pow(base, ex), col, shown)
        if base.is_number:
            b = float(base.evalf(17))
            if not b > 0:
                raise _fail(f"the base of {shown()} must be positive when the exponent "
                            "depends on x, y or a parameter", col)
        return self.checked(sympy.Pow(base, ex), col, shown)

    # -- the walk ------------------------------------------------------------
    def build(self, node: ast.AST) -> sympy.Expr:
        if isinstance(node, ast.Expression):
            return self.build(node.body)
        col = self.col(getattr(node, "col_offset", 0))
        if isinstance(node, ast.Constant):
            v = node.value
            if type(v) is int:
                if v.bit_length() > 1000:
                    raise _fail("number is too large (the limit is "
                                f"1e{MAX_MAGNITUDE_LOG10})", col)
                return self.checked(sympy.Integer(v), col, lambda: "the number")
            if type(v) is float:
                if not math.isfinite(v):
                    raise _fail(f"number is too large (the limit is 1e{MAX_MAGNITUDE_LOG10})",
                                col)
                return self.checked(sympy.Float(v), col, lambda: "the number")
            if isinstance(v, complex):
                raise _fail("complex numbers are not supported", col)
            if isinstance(v, str | bytes):
                raise _fail("strings are not allowed", col)
            raise _fail(f"{v!r} is not allowed: use numbers", col)
        if isinstance(node, ast.Name):
            if node.id in self.symbols:
                return self.symbols[node.id]
            if node.id == "pi":
                return sympy.pi
            if node.id == "e":
                return sympy.E
            if node.id in _FUNCTIONS:
                raise _fail(f"'{node.id}' is a function: write {node.id}(...)", col)
            raise FormulaError(f"unknown name '{node.id}' at column {col}; known names: "
                               f"{_known_names(self.parameters)}", col)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                v = self.build(node.operand)
                return self.checked(-v, col, lambda: f"-{_show(v, True)}")
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand)
            raise _fail("operator '~' or 'not' is not supported", col)
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.Call):
            return self.call(node, col)
        msg = _REFUSED_NODES.get(type(node), f"'{type(node).__name__}' is not allowed")
        raise _fail(msg, col)

    def binop(self, node: ast.BinOp) -> sympy.Expr:
        col = self.op_col(node)
        op = type(node.op)
        if op not in _OP_TEXT:
            sym = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.BitXor: "^",
                   ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>"}
            raise _fail(f"operator '{sym.get(op, op.__name__)}' is not supported", col)
        a = self.build(node.left)
        b = self.build(node.right)

        def shown() -> str:
            return f"{_show(a, True)} {_OP_TEXT[op]} {_show(b, True)}"

        if op is ast.Add:
            return self.checked(a + b, col, shown)
        if op is ast.Sub:
            return self.checked(a - b, col, shown)
        if op is ast.Mult:
            return self.checked(a * b, col, shown)
        if op is ast.Div:
            if b.is_zero:
                raise _fail("division by zero", col)
            return self.checked(a / b, col, shown)
        return self.power(a, b, col)

    def call(self, node: ast.Call, col: int) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            raise _fail("only the known functions can be called", col)
        name = node.func.id
        if name not in _FUNCTIONS:
            if name.startswith("_"):
                raise _fail(f"names starting with '_' are not allowed ('{name}')", col)
            raise FormulaError(f"unknown function '{name}' at column {col}; functions: "
                               f"{', '.join(KNOWN_FUNCTIONS)}", col)
        if node.keywords:
            raise _fail("keyword arguments are not allowed: write sin(x), not sin(x=...)", col)
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise _fail("starred arguments ('*') are not allowed",
                            self.col(a.col_offset))
        arity, make = _FUNCTIONS[name]
        if len(node.args) != arity:
            want = "1 argument" if arity == 1 else f"{arity} arguments"
            raise _fail(f"{name} takes {want}, got {len(node.args)}", col)
        args = [self.build(a) for a in node.args]
        limit = _EXP_LIKE.get(name)
        if limit is not None and args[0].is_number:
            v = float(args[0].evalf(17))
            if (v if name == "exp" else abs(v)) > limit:
                raise _fail(f"{name}({_show(args[0])}) is too large to compute", col)
        out = make(*args)
        return self.checked(out, col, lambda: f"{name}({', '.join(_show(a) for a in args)})")


def _show(v: sympy.Expr, paren: bool = False) -> str:
    """Short text of a (sub)expression for messages; parenthesised unless atomic."""
    s = sympy.sstr(v, full_prec=False)
    if len(s) > 60:
        s = s[:57] + "..."
    if paren and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|[0-9.]+(e[+-]?[0-9]+)?", s):
        s = f"({s})"
    return s


def _python_text(text: str) -> tuple[str, list[int]]:
    """``^`` -> ``**`` and whitespace -> spaces; and each output char's input index."""
    out: list[str] = []
    cols: list[int] = []
    start = len(text) - len(text.lstrip(" \t\r\n"))  # eval mode refuses leading blanks
    for i, ch in enumerate(text):
        if i < start:
            continue
        if ch == "^":
            out.append("**")
            cols.extend((i, i))
        else:
            out.append(" " if ch in "\t\r\n" else ch)
            cols.append(i)
    cols.append(len(text))  # one past the end
    return "".join(out), cols


def parse_formula(text: str, parameters: Sequence[str] = ()) -> sympy.Expr:
    """The sympy expression of ``text`` (stages 1 and 2 only; nothing is evaluated).

    Raises :class:`FormulaError` with the column of the first problem.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, got {type(text).__name__}")
    params = _check_parameter_names(parameters)
    _check_characters(text, "formula")
    if not text.strip():
        raise FormulaError("empty formula", None)
    _scan(text, params)
    pytext, cols = _python_text(text)
    try:
        tree = ast.parse(pytext, mode="eval")
    except SyntaxError as exc:
        off = (exc.offset or 1) - 1
        raise _fail(f"syntax error ({exc.msg})", cols[min(max(off, 0), len(cols) - 1)] + 1
                    ) from None
    except (RecursionError, MemoryError):
        raise FormulaError("formula is too deeply nested", None) from None
    builder = _Builder(pytext, cols, params)
    _shape_limits(tree, builder.col)
    try:
        expr = builder.build(tree)
    except RecursionError:
        raise FormulaError("formula is too deeply nested", None) from None
    return expr


# -- stage 3: derivatives and numpy ------------------------------------------------


class _Printer(NumPyPrinter):
    """numpy code with exact float literals and cheaper operand order."""

    def _print_Float(self, e: sympy.Float) -> str:
        return repr(float(e))

    def _print_Integer(self, e: sympy.Integer) -> str:
        return str(int(e)) if abs(int(e)) < 2**53 else repr(float(e))

    def _print_Rational(self, e: sympy.Rational) -> str:
        return repr(float(e))

    def _print_Half(self, e: sympy.Rational) -> str:
        return "0.5"

    def _as_ordered_terms(self, expr: sympy.Expr, order: Any = None) -> list[sympy.Expr]:
        # positive terms first: ``y - x`` is one numpy pass, ``-x + y`` two
        terms = super()._as_ordered_terms(expr, order=order)
        return ([t for t in terms if not t.could_extract_minus_sign()]
                + [t for t in terms if t.could_extract_minus_sign()])


def _printer() -> _Printer:
    return _Printer({"fully_qualified_modules": False, "inline": True,
                     "allow_unknown_functions": True,
                     "user_functions": {k: k for k in _NAMESPACE}})


_SINGULAR = (sympy.I, sympy.zoo, sympy.oo, sympy.S.NegativeInfinity, sympy.nan)


def _finish(expr: sympy.Expr) -> sympy.Expr:
    """Apply the documented conventions to a derivative; refuse what cannot be evaluated.

    DiracDelta -> 0, Heaviside -> step (step(0) = 1/2), sympy's sign -> ours
    (sign' = 0). Walks the expression as a DAG (each distinct node once):
    derivatives share subexpressions heavily and a walk of the written-out
    tree can take exponentially longer.
    """
    memo: dict[sympy.Basic, sympy.Basic] = {}
    stack: list[tuple[sympy.Basic, bool]] = [(expr, False)]
    while stack:
        e, done = stack.pop()
        if e in memo:
            continue
        if not done:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if a not in memo)
            continue
        if any(e is s for s in _SINGULAR) or isinstance(e, sympy.Derivative | sympy.Subs):
            raise FormulaError("the derivatives of this formula cannot be computed as real "
                               "numbers", None)
        args = [memo[a] for a in e.args]
        if isinstance(e, sympy.DiracDelta):
            r: sympy.Basic = sympy.S.Zero
        elif isinstance(e, sympy.Heaviside):
            r = lv_step(args[0])
        elif isinstance(e, sympy.sign):
            r = lv_sign(args[0])
        elif any(a is not b for a, b in zip(args, e.args, strict=True)):
            r = e.func(*args)
        else:
            r = e
        memo[e] = r
    return memo[expr]


def _tree_size(exprs: Sequence[sympy.Expr]) -> int:
    """Number of nodes of the expressions written out as trees (shared parts counted again)."""
    memo: dict[sympy.Basic, int] = {}
    total = 0
    for root in exprs:
        stack: list[tuple[sympy.Basic, bool]] = [(root, False)]
        while stack:
            e, done = stack.pop()
            if e in memo:
                continue
            if done:
                memo[e] = 1 + sum(memo[a] for a in e.args)
            else:
                stack.append((e, True))
                stack.extend((a, False) for a in e.args if a not in memo)
        total += memo[root]
    return total


def _lambdify(args: Sequence[sympy.Symbol], exprs: Any) -> Callable[..., Any]:
    return sympy.lambdify(args, exprs, modules=[_NAMESPACE, "numpy"], printer=_printer(),
                          cse=True, docstring_limit=0)


def _fit(v: Any, shape: tuple[int, ...]) -> NDArray[np.float64]:
    a = np.asarray(v, dtype=np.float64)
    if a.shape != shape:
        a = np.array(np.broadcast_to(a, shape), dtype=np.float64)
    return a


@dataclass(frozen=True, eq=False)
class CompiledFormula:
    """A checked formula: its sympy form, exact derivatives and numpy callables.

    The callables take ``(x, y, *params)`` (array-likes that broadcast; the
    parameter values in the order of :attr:`parameters`) and return float64
    arrays of the broadcast shape, computed with numpy errors silenced.
    """

    text: str
    parameters: tuple[str, ...]
    expr: sympy.Expr
    grad_exprs: tuple[sympy.Expr, sympy.Expr]
    hess_exprs: tuple[sympy.Expr, sympy.Expr, sympy.Expr]
    #: the formula as understood, normalised (``**`` for powers)
    pretty: str
    #: declared parameters the formula actually uses, in declaration order
    uses_parameters: tuple[str, ...]
    # raw lambdified kernels: (x, y, *params) -> scalar/array (not broadcast), no errstate
    raw_f: Callable[..., Any] = field(repr=False)
    raw_grad: Callable[..., Any] = field(repr=False)
    raw_value_and_grad: Callable[..., Any] = field(repr=False)
    raw_hess: Callable[..., Any] = field(repr=False)

    def _prepare(self, x: ArrayLike, y: ArrayLike,
                 params: tuple[Any, ...]) -> tuple[NDArray, NDArray, tuple[int, ...]]:
        if len(params) != len(self.parameters):
            raise TypeError(f"the formula takes {len(self.parameters)} parameter values "
                            f"({', '.join(self.parameters) or 'none'}), got {len(params)}")
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        return xa, ya, np.broadcast_shapes(xa.shape, ya.shape)

    @staticmethod
    def _values(params: tuple[Any, ...]) -> tuple[np.float64, ...]:
        # numpy scalars: a part that depends on parameters only then follows IEEE
        # (NaN/inf) where Python floats would raise or turn complex ((-1.0)**0.5)
        return tuple(np.float64(p) for p in params)

    def f(self, x: ArrayLike, y: ArrayLike, *params: float) -> NDArray[np.float64]:
        xa, ya, shape = self._prepare(x, y, params)
        with np.errstate(all="ignore"):
            return _fit(self.raw_f(xa, ya, *self._values(params)), shape)

    def grad(self, x: ArrayLike, y: ArrayLike,
             *params: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        xa, ya, shape = self._prepare(x, y, params)
        with np.errstate(all="ignore"):
            gx, gy = self.raw_grad(xa, ya, *self._values(params))
            return _fit(gx, shape), _fit(gy, shape)

    def value_and_grad(self, x: ArrayLike, y: ArrayLike, *params: float) -> tuple[
            NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        xa, ya, shape = self._prepare(x, y, params)
        with np.errstate(all="ignore"):
            v, gx, gy = self.raw_value_and_grad(xa, ya, *self._values(params))
            return _fit(v, shape), _fit(gx, shape), _fit(gy, shape)

    def hess(self, x: ArrayLike, y: ArrayLike, *params: float) -> tuple[
            NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(f_xx, f_xy, f_yy)."""
        xa, ya, shape = self._prepare(x, y, params)
        with np.errstate(all="ignore"):
            hxx, hxy, hyy = self.raw_hess(xa, ya, *self._values(params))
            return _fit(hxx, shape), _fit(hxy, shape), _fit(hyy, shape)


def _compile(text: str, parameters: tuple[str, ...]) -> CompiledFormula:
    expr = parse_formula(text, parameters)
    sym = {n: _symbol(n) for n in (*VARIABLES, *parameters)}
    x, y = sym["x"], sym["y"]
    f = _finish(expr)
    gx, gy = (_finish(sympy.diff(expr, v)) for v in (x, y))
    size = _tree_size((gx, gy))
    if size > MAX_GRADIENT_SIZE:
        raise FormulaError(
            f"this formula is too complex for exact second derivatives: its gradient has "
            f"{size} terms (the limit is {MAX_GRADIENT_SIZE}); try fewer distinct factors in "
            "a product or less nesting")
    hess = []
    hsize = 0
    for g, v in ((gx, x), (gx, y), (gy, y)):
        hess.append(_finish(sympy.diff(g, v)))
        hsize += _tree_size(hess[-1:])
        if hsize > MAX_HESSIAN_SIZE:
            raise FormulaError(
                f"this formula is too complex for exact second derivatives: its Hessian has "
                f"more than {MAX_HESSIAN_SIZE} terms; try less nesting or fewer distinct "
                "factors in a product")
    hxx, hxy, hyy = hess
    # Plain internal names: no clash with cse's x0, x1, … nor with numpy's names.
    # Parameters sort before the coordinates, so products print scalars first
    # (``4*b*x*r``: one scalar product, then two array passes).
    plain = {sym["x"]: sympy.Symbol("_x"), sym["y"]: sympy.Symbol("_y")}
    plain.update({sym[n]: sympy.Symbol(f"_p{i}") for i, n in enumerate(parameters)})
    args = [plain[sym[n]] for n in (*VARIABLES, *parameters)]

    def lam(e: Any) -> Callable[..., Any]:
        return _lambdify(args, e.xreplace(plain) if isinstance(e, sympy.Basic)
                         else [t.xreplace(plain) for t in e])

    raw_f = lam(f)
    raw_g = lam((gx, gy))
    raw_vg = lam((f, gx, gy))
    raw_h = lam((hxx, hxy, hyy))
    used = tuple(n for n in parameters if sym[n] in expr.free_symbols)
    return CompiledFormula(
        text=text, parameters=parameters, expr=f, grad_exprs=(gx, gy),
        hess_exprs=(hxx, hxy, hyy), pretty=sympy.sstr(f, full_prec=False).replace("**", "^"),
        uses_parameters=used, raw_f=raw_f, raw_grad=raw_g, raw_value_and_grad=raw_vg,
        raw_hess=raw_h)


@functools.lru_cache(maxsize=256)
def _compile_cached(text: str, parameters: tuple[str, ...]) -> CompiledFormula:
    try:
        return _compile(text, parameters)
    except FormulaError:
        raise
    except RecursionError:
        raise FormulaError("formula is too deeply nested") from None
    except MemoryError:
        raise FormulaError("formula is too large to compile") from None
    except Exception as exc:  # noqa: BLE001 - a safety net: callers only expect FormulaError
        raise FormulaError(f"this formula cannot be compiled ({type(exc).__name__}: "
                           f"{str(exc)[:200]})") from exc


def compile_formula(text: str, parameters: Sequence[str] = ()) -> CompiledFormula:
    """Parse, check, differentiate and lambdify ``text`` (cached per text and names).

    ``parameters`` are the declared parameter names (see :func:`parse_parameters`).
    Raises :class:`FormulaError`; its ``column`` is 1-based.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, got {type(text).__name__}")
    if isinstance(parameters, str):
        raise FormulaError("parameters must be a sequence of names, not one string")
    names = tuple(parameters)
    for n in names:
        if not isinstance(n, str):
            raise FormulaError(f"parameter names must be text, got {n!r}")
    if len(text) > MAX_LENGTH:  # cheap refusal before the cache hashes a huge string
        _check_characters(text, "formula")
    return _compile_cached(text, names)


compile_formula.cache_info = _compile_cached.cache_info  # type: ignore[attr-defined]
compile_formula.cache_clear = _compile_cached.cache_clear  # type: ignore[attr-defined]


# -- parameter declarations ----------------------------------------------------------


def default_range(value: float) -> tuple[float, float]:
    """The slider range of a parameter declared without one: value ± 5·max(|value|, 1)."""
    s = max(abs(value), 1.0)
    return (value - 5.0 * s, value + 5.0 * s)


_WS = re.compile(r"[ \t\r]*")


def parse_parameters(text: str) -> tuple[ParamSpec, ...]:
    """Parameter declarations: ``a=1, b=100 in [0, 1000]`` (see the module docstring).

    Entries are separated by ',', ';' or newlines; each is ``name=value`` with an
    optional ``in [low, high]``. Numbers are plain decimals (sign, fraction,
    exponent). Raises :class:`FormulaError` with the column of the problem.
    """
    if not isinstance(text, str):
        raise FormulaError(f"parameter declarations must be text, got {type(text).__name__}")
    _check_characters(text, "parameter declarations")
    n = len(text)
    i = 0
    specs: list[ParamSpec] = []
    where: dict[str, int] = {}

    def skip(j: int) -> int:
        m = _WS.match(text, j)
        return m.end() if m else j

    def number(j: int, what: str) -> tuple[float, int]:
        m = _SIGNED_NUMBER.match(text, j)
        if not m:
            found = text[j] if j < n else "the end"
            found = f"'{found}'" if j < n else found
            raise _fail(f"expected a number for {what}, found {found}", j + 1)
        k = m.end()
        if k < n and (text[k].isalnum() or text[k] in "._"):
            e = k
            while e < n and (text[e].isalnum() or text[e] in "._+-"):
                e += 1
            raise _fail(f"invalid number '{text[j:e]}' for {what}", j + 1)
        v = float(m.group())
        if not math.isfinite(v) or abs(v) > 1e300:
            raise _fail(f"the number for {what} is too large", j + 1)
        return v, k

    while True:
        # skip separators and blank space between entries
        while i < n and text[i] in " \t\r\n,;":
            i += 1
        if i >= n:
            break
        if len(specs) >= MAX_PARAMETERS:
            raise _fail(f"at most {MAX_PARAMETERS} parameters are allowed", i + 1)
        m = _IDENT.match(text, i)
        if not m:
            raise _fail(f"expected a parameter name, found '{text[i]}'", i + 1)
        name, name_col = m.group(), i + 1
        problem = _name_problem(name)
        if problem:
            raise _fail(problem, name_col)
        if name in where:
            raise _fail(f"parameter '{name}' is declared twice (first at column {where[name]})",
                        name_col)
        i = skip(m.end())
        if i >= n or text[i] != "=":
            found = f"'{text[i]}'" if i < n else "the end"
            raise _fail(f"expected '=' after '{name}', found {found}", i + 1)
        i = skip(i + 1)
        value_col = i + 1
        value, i = number(i, f"'{name}'")
        i = skip(i)
        lo, hi = default_range(value)
        if text.startswith("in", i) and not (i + 2 < n and (text[i + 2].isalnum()
                                                            or text[i + 2] == "_")):
            range_col = i + 1
            i = skip(i + 2)
            if i >= n or text[i] != "[":
                raise _fail(f"expected '[' after 'in' for '{name}'", i + 1)
            i = skip(i + 1)
            lo, i = number(i, f"the low end of '{name}'")
            i = skip(i)
            if i >= n or text[i] != ",":
                raise _fail(f"expected ',' between the ends of the range of '{name}'", i + 1)
            i = skip(i + 1)
            hi, i = number(i, f"the high end of '{name}'")
            i = skip(i)
            if i >= n or text[i] != "]":
                raise _fail(f"expected ']' to close the range of '{name}'", i + 1)
            i += 1
            if not lo < hi:
                raise _fail(f"the range of '{name}' needs low < high, got [{lo:g}, {hi:g}]",
                            range_col)
            if not lo <= value <= hi:
                raise _fail(f"the value {value:g} of '{name}' lies outside its range "
                            f"[{lo:g}, {hi:g}]", value_col)
        i = skip(i)
        if i < n and text[i] not in ",;\n":
            raise _fail(f"expected ',' before '{text[i]}' (one declaration per name=value)",
                        i + 1)
        where[name] = name_col
        specs.append(ParamSpec(name, value, lo, hi, "declared parameter"))
    return tuple(specs)


# -- the landscape ------------------------------------------------------------------

DEFAULT_DOMAIN: Domain = ((-2.0, 2.0), (-2.0, 2.0))


def _check_domain(domain: Any) -> Domain:
    if domain is None:
        return DEFAULT_DOMAIN
    try:
        (x0, x1), (y0, y1) = domain
        x0, x1, y0, y1 = (float(v) for v in (x0, x1, y0, y1))
    except (TypeError, ValueError):
        raise ValueError(f"a domain is ((xmin, xmax), (ymin, ymax)), got {domain!r}") from None
    if not all(math.isfinite(v) for v in (x0, x1, y0, y1)) or not (x0 < x1 and y0 < y1):
        raise ValueError(f"a domain needs finite min < max on both axes, got {domain!r}")
    return ((x0, x1), (y0, y1))


class FormulaLandscape(Landscape):
    """The landscape of a typed formula, with exact (symbolic) derivatives.

    ``declarations`` is the parameter text (see :func:`parse_parameters`) or
    ParamSpecs; ``values`` are parameter values (missing ones take their
    declared value). Bad formulas raise :class:`FormulaError` (a ValueError).
    """

    name = "formula"
    title = "Formula"

    def __init__(self, expression: str, declarations: str | Sequence[ParamSpec] = "",
                 domain: Domain | None = None, **values: Any) -> None:
        if isinstance(declarations, str):
            specs = parse_parameters(declarations)
        else:
            specs = tuple(declarations)
            for s in specs:
                if not isinstance(s, ParamSpec):
                    raise TypeError(f"declarations must be text or ParamSpecs, got {s!r}")
        self.param_specs = specs
        self.compiled = compile_formula(expression, [p.name for p in specs])
        self.expression = expression
        self.formula = self.compiled.pretty
        self.description = f"A typed formula: f(x, y) = {self.compiled.pretty}"
        dom = _check_domain(domain)
        self.default_domain = dom
        self.default_zscale = "linear"
        (x0, x1), (y0, y1) = dom
        self.default_start = (x0 + 0.2 * (x1 - x0), y1 - 0.2 * (y1 - y0))
        super().__init__(**values)

    def _configure(self) -> None:
        # Python floats for the trajectory's per-point path (fast; where they raise
        # or turn complex it falls back to numpy scalars), numpy scalars otherwise
        self._pv = tuple(float(self.params[n]) for n in self.compiled.parameters)
        self._pv64 = tuple(np.float64(v) for v in self._pv)
        c = self.compiled
        self._raw_f, self._raw_g, self._raw_h = c.raw_f, c.raw_grad, c.raw_hess

    # Python floats come only from the trajectory's per-point path, which runs
    # inside np.errstate already; skipping our own there halves the cost of a step.
    def _f(self, x: NDArray, y: NDArray) -> NDArray:
        if type(x) is float:
            return self._raw_f(x, y, *self._pv)
        with np.errstate(all="ignore"):
            return self._raw_f(x, y, *self._pv64)

    def _g(self, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray]:
        if type(x) is float:
            return self._raw_g(x, y, *self._pv)
        with np.errstate(all="ignore"):
            return self._raw_g(x, y, *self._pv64)

    def _h(self, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        if type(x) is float:
            return self._raw_h(x, y, *self._pv)
        with np.errstate(all="ignore"):
            return self._raw_h(x, y, *self._pv64)

    def minima(self) -> list:
        return []

    def __repr__(self) -> str:
        args = "".join(f", {k}={v:g}" for k, v in self.params.items())
        return f"FormulaLandscape({self.expression!r}{args})"
