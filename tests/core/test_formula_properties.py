"""Property-based checks of typed formulas (hypothesis).

1. Any text at all (arbitrary unicode, printable ASCII, soups of the
   language's own tokens) is either compiled or refused with a FormulaError,
   quickly; nothing else ever escapes.
   Valid syntax with hostile numbers is compiled or refused the same way.
2. Random valid expression trees, rendered to text, evaluate like an
   independent evaluation of the same tree with Python's math module, and
   their exact gradient matches complex-step and central finite differences.
"""

from __future__ import annotations

import cmath
import math
import string
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lossviewer.core.formula import (
    KNOWN_FUNCTIONS,
    FormulaError,
    compile_formula,
    parse_parameters,
)

FAST = settings(max_examples=200, deadline=2000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TREES = settings(max_examples=120, deadline=3000,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

TOKENS = [
    "x", "y", "a", "pi", "e", "1", "2", "0", "9", "0.5", "1e3", "1e-3", ".5", "(", ")", "(",
    ")", ",", "+", "-", "*", "/", "**", "^", " ", "sin(", "exp(", "log(", "max(", "min(",
    "sqrt(", "abs(", "sigmoid(", "softplus(", "9^9^9", "__", "_", ".", "[", "]", "'", '"',
    "=", ":=", "lambda", "import", "for", "if", "1j", "0x", "\u0445", "\x00", "\n", "\t",
    "%", "//", "foo", "x.y", "{", "}", "<", ";", "#", "@", "1_0", "007", "1.2.3", "True",
]


def _refuses_or_compiles(text: str, params: tuple[str, ...] = ()) -> None:
    try:
        c = compile_formula(text, params)
    except FormulaError as exc:
        assert str(exc)
        assert exc.column is None or 1 <= exc.column <= len(text) + 1
        return
    # a compiled formula evaluates without raising on a few points, NaN included
    pts = np.array([0.0, 1.0, -1.5, np.nan, 1e300])
    with np.errstate(all="raise"):  # our callables must silence numpy themselves
        for v in (1.0, 0.0, -2.5):  # parameter values that hit poles and branch cuts
            f, gx, gy = c.value_and_grad(pts, pts[::-1], *([v] * len(params)))
            c.hess(pts, pts, *([v] * len(params)))
            assert f.dtype == gx.dtype == gy.dtype == np.float64


@FAST
@given(st.text(max_size=200))
def test_any_unicode_text_is_compiled_or_refused(text):
    _refuses_or_compiles(text)


@FAST
@given(st.text(alphabet=string.printable, max_size=200))
def test_any_printable_ascii_is_compiled_or_refused(text):
    _refuses_or_compiles(text, ("a",))


@FAST
@given(st.lists(st.sampled_from(TOKENS), max_size=60))
def test_token_soup_is_compiled_or_refused(tokens):
    _refuses_or_compiles("".join(tokens), ("a",))


@FAST
@given(st.one_of(st.text(max_size=120),
                 st.lists(st.sampled_from(["a", "b", "=", "1", "-2.5e1", " in ", "[", "]",
                                           ",", ";", "\n", " ", "x", "_", "0", "lambda"]),
                          max_size=30).map("".join)))
def test_any_declaration_text_is_parsed_or_refused(text):
    try:
        specs = parse_parameters(text)
    except FormulaError as exc:
        assert exc.column is None or 1 <= exc.column <= len(text) + 1
        return
    for s in specs:
        assert s.minimum < s.maximum and s.minimum <= s.default <= s.maximum


# numbers chosen to stress the constant checks (huge, tiny, exact ints)
NASTY_NUMBERS = ["0", "1", "2", "9", "10", "0.5", "1e3", "1e-3", "1e308", "1e-308", "1e300",
                 "123456789", "2.5E+4", ".5", "1e-320", "99999999999999999999999"]
LANGUAGE_LEAF = st.sampled_from([*NASTY_NUMBERS, "x", "y", "a", "pi", "e"])
OPS = ["+", "-", "*", "/", "^", "**"]


def _grow(children):
    one = [f for f in KNOWN_FUNCTIONS if f not in ("min", "max")]
    return st.one_of(
        st.tuples(children, st.sampled_from(OPS), children).map(
            lambda t: f"({t[0]}){t[1]}({t[2]})"),
        st.tuples(children, st.sampled_from(OPS), children).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
        children.map(lambda c: f"-{c}"),
        st.tuples(st.sampled_from(one), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["min", "max"]), children, children).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"),
    )


@FAST
@given(st.recursive(LANGUAGE_LEAF, _grow, max_leaves=25))
def test_any_text_of_the_language_is_compiled_or_refused(text):
    """Valid syntax with hostile numbers: a FormulaError or a formula that evaluates."""
    _refuses_or_compiles(text, ("a",))


# -- random valid trees -------------------------------------------------------------------

UNARY = ("sin", "cos", "tanh", "sigmoid", "softplus", "exp", "atan")


@dataclass(frozen=True)
class Node:
    op: str
    args: tuple = ()
    value: float = 0.0


def numbers():
    ints = st.integers(0, 12).map(float)
    decimals = st.integers(0, 9999).map(lambda k: k / 1000)
    return st.one_of(ints, decimals).map(lambda v: Node("num", value=v))


LEAVES = st.one_of(numbers(), st.just(Node("x")), st.just(Node("y")))


def _extend(children):
    return st.one_of(
        st.tuples(st.sampled_from(["add", "sub", "mul", "div"]), children, children).map(
            lambda t: Node(t[0], (t[1], t[2]))),
        children.map(lambda c: Node("neg", (c,))),
        st.tuples(children, st.sampled_from([2, 3])).map(
            lambda t: Node("pow", (t[0],), value=float(t[1]))),
        st.tuples(st.sampled_from(UNARY), children).map(lambda t: Node(t[0], (t[1],))),
    )


TREE = st.recursive(LEAVES, _extend, max_leaves=10)


def render(n: Node, draw_bool) -> str:
    sp = " " if draw_bool() else ""
    if n.op == "num":
        v = n.value
        if draw_bool() and v != 0:
            return f"{v:e}"  # scientific notation, e.g. 1.250000e+00
        return repr(v) if not v.is_integer() else str(int(v))
    if n.op in ("x", "y"):
        return n.op
    if n.op == "neg":
        return f"-({render(n.args[0], draw_bool)})"
    if n.op == "pow":
        op = "^" if draw_bool() else "**"
        return f"({render(n.args[0], draw_bool)}){sp}{op}{sp}{int(n.value)}"
    if n.op in ("add", "sub", "mul", "div"):
        sym = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[n.op]
        a, b = (render(c, draw_bool) for c in n.args)
        return f"({a}){sp}{sym}{sp}({b})"
    return f"{n.op}({render(n.args[0], draw_bool)})"


class Skip(Exception):
    pass


def evaluate(n: Node, x, y, lib, track: list[float]):
    """The tree at (x, y) with ``lib`` (math or cmath); track[0] = max |intermediate|."""
    if n.op == "num":
        v = n.value
    elif n.op == "x":
        v = x
    elif n.op == "y":
        v = y
    else:
        a = [evaluate(c, x, y, lib, track) for c in n.args]
        if n.op == "add":
            v = a[0] + a[1]
        elif n.op == "sub":
            v = a[0] - a[1]
        elif n.op == "mul":
            v = a[0] * a[1]
        elif n.op == "div":
            if abs(a[1]) < 1e-3:
                raise Skip
            v = a[0] / a[1]
        elif n.op == "neg":
            v = -a[0]
        elif n.op == "pow":
            v = a[0] ** int(n.value)
        else:
            z = a[0]
            if abs(z.real if isinstance(z, complex) else z) > 50:
                raise Skip  # keep exp & co. far from overflow and from flat tails
            if n.op == "sigmoid":
                v = 1.0 / (1.0 + lib.exp(-z))
            elif n.op == "softplus":
                v = lib.log(1.0 + lib.exp(z))
            else:
                v = getattr(lib, n.op)(z)
    m = abs(v)
    if not m < 1e6:
        raise Skip
    track[0] = max(track[0], m)
    return v


@TREES
@given(TREE, st.floats(-2, 2), st.floats(-2, 2), st.data())
def test_random_trees_match_an_independent_evaluation(tree, px, py, data):
    text = render(tree, lambda: data.draw(st.booleans()))
    try:
        track = [1.0]
        want = evaluate(tree, px, py, math, track)
        # derivatives by complex step: exact to rounding, no cancellation
        h = 1e-30
        dtrack = [1.0]
        dx = evaluate(tree, complex(px, h), py, cmath, dtrack).imag / h
        dy = evaluate(tree, px, complex(py, h), cmath, dtrack).imag / h
    except (Skip, OverflowError, ZeroDivisionError, ValueError):
        assume(False)
        return
    c = compile_formula(text)
    got = float(c.f(px, py))
    assert math.isfinite(got), text
    assert abs(got - want) <= 1e-9 * track[0], (text, got, want)
    gx, gy = (float(v) for v in c.grad(px, py))
    gscale = max(1.0, abs(dx), abs(dy), track[0])
    assert abs(gx - dx) <= 1e-8 * gscale, (text, gx, dx)
    assert abs(gy - dy) <= 1e-8 * gscale, (text, gy, dy)
    # and the exact gradient against central differences of the compiled value
    hh = 1e-5
    fdx = (float(c.f(px + hh, py)) - float(c.f(px - hh, py))) / (2 * hh)
    fdy = (float(c.f(px, py + hh)) - float(c.f(px, py - hh))) / (2 * hh)
    assume(max(abs(fdx), abs(fdy)) < 1e4)
    tol = 1e-4 * gscale
    assert abs(gx - fdx) <= tol, (text, gx, fdx)
    assert abs(gy - fdy) <= tol, (text, gy, fdy)
    # value_and_grad agrees with f and grad
    v, gx2, gy2 = (float(t) for t in c.value_and_grad(px, py))
    assert v == pytest.approx(got, rel=1e-13, abs=1e-13 * track[0])
    assert gx2 == pytest.approx(gx, rel=1e-12, abs=1e-12 * gscale)
    assert gy2 == pytest.approx(gy, rel=1e-12, abs=1e-12 * gscale)
