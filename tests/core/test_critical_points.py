"""Critical points against independent references.

References: the known minima of every built-in; critical points derived by hand
or from polynomial roots (numpy / sympy resultants); the Poincaré–Hopf index
sum (minima − saddles + maxima = 1 on a disc whose boundary ∇f crosses
outwards), which checks that none is missing or extra; and classification by
numpy's eigvalsh.
"""

from __future__ import annotations

import json
import math
import time
import warnings

import numpy as np
import pytest

from lossviewer.core.critical_points import (
    MAX_POINTS,
    CriticalPoint,
    classify,
    find_critical_points,
    iter_critical_points,
)
from lossviewer.core.functions import LANDSCAPES, make_landscape
from lossviewer.core.landscape import Landscape


def _diag(domain) -> float:
    (x0, x1), (y0, y1) = domain
    return math.hypot(x1 - x0, y1 - y0)


def _find(land: Landscape, **kw) -> list[CriticalPoint]:
    return find_critical_points(land, *land.default_domain, **kw)


def _nearest(points: list[CriticalPoint], x: float, y: float) -> tuple[CriticalPoint, float]:
    d = [math.hypot(p.x - x, p.y - y) for p in points]
    i = int(np.argmin(d))
    return points[i], d[i]


def _counts(points: list[CriticalPoint]) -> dict[str, int]:
    out = {"minimum": 0, "saddle": 0, "maximum": 0, "degenerate": 0}
    for p in points:
        out[p.kind] += 1
    return out


def _match(points: list[CriticalPoint], expected: list[tuple[float, float, str]], tol: float):
    """The points are exactly ``expected`` (position within tol, and kind)."""
    assert len(points) == len(expected), [(p.x, p.y, p.kind) for p in points]
    for x, y, kind in expected:
        p, d = _nearest(points, x, y)
        assert d <= tol, f"no critical point near ({x}, {y}): nearest {p} at {d:g}"
        assert p.kind == kind, f"({x}, {y}) should be a {kind}, found {p}"


class _Custom(Landscape):
    """A landscape from three functions of (x, y) (for the typed-formula-like cases)."""

    name = "custom"
    default_domain = ((-2.0, 2.0), (-2.0, 2.0))

    def __init__(self, f, g, h, domain=None):
        super().__init__()
        self.f, self.g, self.h = f, g, h
        if domain is not None:
            self.default_domain = domain

    def _f(self, x, y):
        return self.f(x, y)

    def _g(self, x, y):
        return self.g(x, y)

    def _h(self, x, y):
        return self.h(x, y)


def _z(x):
    return np.zeros(np.shape(x))


# -- the known minima of every built-in ------------------------------------------


@pytest.mark.parametrize("name", list(LANDSCAPES))
def test_every_known_minimum_is_found_and_classified(name):
    land = make_landscape(name)
    domain = land.default_domain
    (x0, x1), (y0, y1) = domain
    diag = _diag(domain)
    points = _find(land)
    assert 0 < len(points) <= MAX_POINTS
    known = [m for m in land.minima() if x0 <= m.x <= x1 and y0 <= m.y <= y1]
    for m in known:
        p, d = _nearest(points, m.x, m.y)
        assert d <= 1e-5 * diag, f"{name}: minimum {m.point} not found (nearest {p}, {d:g})"
        # none of the built-ins has a singular Hessian at a known minimum
        assert p.kind == "minimum", f"{name}: {m.point} classified {p.kind}: {p}"
        assert p.value == pytest.approx(m.value, abs=1e-9 * max(1.0, abs(m.value)))
    best = land.global_minimum()
    if best is not None:
        p, _ = _nearest(points, best.x, best.y)
        assert p.is_global
        glob = [q for q in points if q.is_global]
        assert all(q.kind == "minimum" for q in glob)
        assert all(q.value == pytest.approx(best.value, abs=1e-9 * max(1.0, abs(best.value)))
                   for q in glob)
    # every reported point is critical, its eigenvalues are eigvalsh's, its kind their signs
    P = np.array([p.point for p in points])
    g = land.grad(P)
    scale = np.median(np.hypot(*land.grad(np.stack(np.meshgrid(
        np.linspace(x0, x1, 40), np.linspace(y0, y1, 40)), -1).reshape(-1, 2)).T))
    assert np.all(np.hypot(*g.T) <= 1e-8 * scale)
    ref = np.linalg.eigvalsh(land.hess(P))
    eig = np.array([p.eigenvalues for p in points])
    np.testing.assert_allclose(eig, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
    for p in points:
        if p.kind == "minimum":
            assert p.eigenvalues[0] > 0
        elif p.kind == "maximum":
            assert p.eigenvalues[1] < 0
        elif p.kind == "saddle":
            assert p.eigenvalues[0] < 0 < p.eigenvalues[1]
        assert x0 <= p.x <= x1 and y0 <= p.y <= y1


# Where the grid search alone (without the known minima as extra start points)
# misses a known minimum, and why.
GRID_ALONE_EXCEPTIONS = {
    # The cone tip of Ackley at the origin is not differentiable: ∇f jumps by about
    # 2.8 across it (the landscape returns the subgradient 0 exactly there), so
    # Newton's method oscillates around it and never converges from a grid point.
    "ackley": [(0.0, 0.0)],
    # Lévi N.13 has about 1100 minima in [-10, 10]²: its ripples (period 1/3) are
    # finer than the 40-seed spacing (0.5) and the list is capped at 200 points.
    # With 160 seeds the grid alone finds it (test below).
    "levi_n13": [(1.0, 1.0)],
}


@pytest.mark.parametrize("name", list(LANDSCAPES))
def test_the_seed_grid_alone_finds_the_known_minima(name):
    land = make_landscape(name)
    (x0, x1), (y0, y1) = land.default_domain
    diag = _diag(land.default_domain)
    points = _find(land, known=False)
    missed = []
    for m in land.minima():
        if not (x0 <= m.x <= x1 and y0 <= m.y <= y1):
            continue
        p, d = _nearest(points, m.x, m.y) if points else (None, math.inf)
        if d > 1e-5 * diag or p.kind != "minimum":
            missed.append(m.point)
    assert missed == GRID_ALONE_EXCEPTIONS.get(name, [])


def test_levi_global_minimum_with_a_finer_seed_grid():
    land = make_landscape("levi_n13")
    points = find_critical_points(land, (-10, 10), (-10, 10), seeds=160, known=False,
                                  max_points=100_000)
    p, d = _nearest(points, 1.0, 1.0)
    assert d <= 1e-9 and p.kind == "minimum" and p.is_global
    # the dense grid count of this function (3×3 neighbourhood minima on 4001²) is 1134
    assert 1000 <= _counts(points)["minimum"] <= 1300


# -- complete sets of critical points from independent derivations -----------------


def test_himmelblau_four_minima_one_maximum_four_saddles():
    sympy = pytest.importorskip("sympy")
    x, y = sympy.symbols("x y")
    f = (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2
    fx, fy = sympy.diff(f, x), sympy.diff(f, y)
    # the y of every common root is a root of the resultant (degree 9)
    res = sympy.Poly(sympy.resultant(fx, fy, x), y)
    expected = []
    for yr in np.roots([float(c) for c in res.all_coeffs()]):
        if abs(yr.imag) > 1e-9:
            continue
        yr = yr.real
        for xr in np.roots([float(c) for c in sympy.Poly(fx.subs(y, yr), x).all_coeffs()]):
            if abs(xr.imag) < 1e-7 and abs(float(fy.subs({x: xr.real, y: yr}))) < 1e-6:
                H = np.array(sympy.hessian(f, (x, y)).subs({x: xr.real, y: yr}), dtype=float)
                lo, hi = np.linalg.eigvalsh(H)
                kind = "minimum" if lo > 0 else "maximum" if hi < 0 else "saddle"
                expected.append((xr.real, yr, kind))
    kinds = sorted(k for *_, k in expected)
    assert kinds == ["maximum"] + ["minimum"] * 4 + ["saddle"] * 4
    points = find_critical_points(make_landscape("himmelblau"), (-5, 5), (-5, 5))
    _match(points, expected, 1e-6)
    # the literature's local maximum (Wikipedia: f(−0.270845, −0.923039) = 181.617)
    top = [p for p in points if p.kind == "maximum"][0]
    assert (top.x, top.y, top.value) == pytest.approx((-0.270845, -0.923039, 181.617),
                                                      abs=1e-3)
    assert sum(p.is_global for p in points) == 4


def test_six_hump_camel_fifteen_critical_points_from_polynomial_roots():
    # ∂f/∂x = 0 gives y = −(8x − 8.4x³ + 2x⁵); then ∂f/∂y = x − 8y + 16y³ = 0 is a
    # polynomial of degree 15 in x: all of its 15 roots are real and in the domain
    X = np.polynomial.Polynomial([0, 1])
    Y = -(8 * X - 8.4 * X**3 + 2 * X**5)
    roots = (X - 8 * Y + 16 * Y**3).roots()
    xs = np.sort(roots[np.abs(roots.imag) < 1e-9].real)
    ys = Y(xs)
    assert len(xs) == 15
    hxx = 8 - 25.2 * xs**2 + 10 * xs**4
    hyy = -8 + 48 * ys**2
    H = np.stack([np.stack([hxx, np.ones_like(xs)], -1), np.stack([np.ones_like(xs), hyy], -1)],
                 -2)
    lo, hi = np.linalg.eigvalsh(H).T
    kinds = np.where(lo > 0, "minimum", np.where(hi < 0, "maximum", "saddle"))
    expected = list(zip(xs, ys, kinds, strict=True))
    points = find_critical_points(make_landscape("six_hump_camel"), (-3, 3), (-2, 2))
    _match(points, expected, 1e-6)
    assert _counts(points) == {"minimum": 6, "saddle": 7, "maximum": 2, "degenerate": 0}
    glob = [p for p in points if p.is_global]
    assert len(glob) == 2  # the two symmetric global minima
    assert all(p.value == pytest.approx(-1.0316284534898774, abs=1e-12) for p in glob)
    assert [p.kind for p in points] == ["minimum"] * 6 + ["saddle"] * 7 + ["maximum"] * 2
    mins = [p.value for p in points if p.kind == "minimum"]
    assert mins == sorted(mins)


def test_three_hump_camel_by_hand():
    # ∂f/∂y = x + 2y = 0 → y = −x/2; then x(x⁴ − 4.2x² + 3.5) = 0
    r = math.sqrt(4.2**2 - 4 * 3.5)
    big, small = math.sqrt((4.2 + r) / 2), math.sqrt((4.2 - r) / 2)
    expected = [(0.0, 0.0, "minimum"), (big, -big / 2, "minimum"), (-big, big / 2, "minimum"),
                (small, -small / 2, "saddle"), (-small, small / 2, "saddle")]
    points = _find(make_landscape("three_hump_camel"))
    _match(points, expected, 1e-6)


def test_styblinski_tang_nine_points_from_the_cubic():
    # separable: each coordinate is a root of 2t³ − 16t + 2.5; curvature 6t² − 16
    t = np.sort(np.roots([2.0, 0.0, -16.0, 2.5]).real)
    sign = np.sign(6 * t**2 - 16)
    expected = []
    for i in range(3):
        for j in range(3):
            s = (sign[i], sign[j])
            kind = "minimum" if s == (1, 1) else "maximum" if s == (-1, -1) else "saddle"
            expected.append((t[i], t[j], kind))
    points = _find(make_landscape("styblinski_tang"))
    _match(points, expected, 1e-6)
    assert _counts(points) == {"minimum": 4, "saddle": 4, "maximum": 1, "degenerate": 0}


def test_mccormick_two_minima_and_a_saddle():
    # ∇f = 0 ⇔ x − y = 1 and cos(x + y) = −½; the Hessian's eigenvalues are 4 and
    # −2·sin(x + y): minima where x + y = −2π/3 + 2πk, saddles where 2π/3 + 2πk.
    # In x ∈ [−1.5, 4], x + y = 2x − 1 ∈ [−4, 7].
    expected = []
    for s, kind in ((-2 * math.pi / 3, "minimum"), (2 * math.pi / 3, "saddle"),
                    (-2 * math.pi / 3 + 2 * math.pi, "minimum")):
        expected.append(((s + 1) / 2, (s - 1) / 2, kind))
    points = _find(make_landscape("mccormick"))
    _match(points, expected, 1e-6)


def test_rastrigin_all_441_critical_points():
    # separable: per axis the roots of 2t + 2πA·sin(2πt) in [−5.12, 5.12], bracketed
    # on a fine grid and bisected; a 2-D point is a minimum/maximum where both axes are
    A = 10.0
    t = np.linspace(-5.12, 5.12, 200_000)  # 0 is not a node: no zero sign
    g = 2 * t + 2 * np.pi * A * np.sin(2 * np.pi * t)
    k = np.flatnonzero(np.sign(g[:-1]) != np.sign(g[1:]))
    lo, hi = t[k], t[k + 1]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        gm = 2 * mid + 2 * np.pi * A * np.sin(2 * np.pi * mid)
        left = np.sign(gm) == np.sign(2 * lo + 2 * np.pi * A * np.sin(2 * np.pi * lo))
        lo, hi = np.where(left, mid, lo), np.where(left, hi, mid)
    roots = 0.5 * (lo + hi)
    curv = np.sign(2 + 4 * np.pi**2 * A * np.cos(2 * np.pi * roots))
    assert len(roots) == 21
    expected = []
    for i, a in enumerate(roots):
        for j, b in enumerate(roots):
            s = (curv[i], curv[j])
            kind = "minimum" if s == (1, 1) else "maximum" if s == (-1, -1) else "saddle"
            expected.append((a, b, kind))
    land = make_landscape("rastrigin")
    points = _find(land, max_points=10_000)
    _match(points, expected, 1e-6)
    assert _counts(points) == {"minimum": 121, "saddle": 220, "maximum": 100, "degenerate": 0}
    # the default cap keeps the 121 minima and the 79 lowest saddles, in that order
    capped = _find(land)
    assert len(capped) == MAX_POINTS
    assert [p.kind for p in capped] == ["minimum"] * 121 + ["saddle"] * 79
    saddles = sorted(p.value for p in points if p.kind == "saddle")
    assert [p.value for p in capped[121:]] == pytest.approx(saddles[:79], abs=1e-9)
    assert capped[0].is_global and (capped[0].x, capped[0].y) == pytest.approx((0, 0), abs=1e-12)


@pytest.mark.parametrize("name", ["rosenbrock", "booth", "matyas", "quadratic_bowl"])
def test_single_minimum_functions(name):
    # Rosenbrock: ∂f/∂y = 0 ⇔ y = x², then ∂f/∂x = −2(a − x) = 0; the others are
    # positive definite quadratics
    land = make_landscape(name)
    (m,) = land.minima()
    points = _find(land)
    assert len(points) == 1
    assert points[0].kind == "minimum" and points[0].is_global
    assert (points[0].x, points[0].y) == pytest.approx(m.point, abs=1e-9)


def test_saddle_and_monkey_saddle():
    points = _find(make_landscape("saddle"))
    assert len(points) == 1
    p = points[0]
    assert p.kind == "saddle" and not p.is_global
    assert (p.x, p.y) == pytest.approx((0, 0), abs=1e-12)
    assert p.eigenvalues == pytest.approx((-2.0, 2.0))
    # ∇(x³ − 3xy²) = (3(x² − y²), −6xy) vanishes only at the origin, where H = 0
    points = _find(make_landscape("monkey_saddle"))
    assert len(points) == 1
    assert points[0].kind == "degenerate"
    assert (points[0].x, points[0].y) == pytest.approx((0, 0), abs=1e-9)


def _boundary_outwards(land: Landscape) -> bool:
    """∇f points out of the domain all along its boundary (sampled densely)."""
    (x0, x1), (y0, y1) = land.default_domain
    t = np.linspace(0.0, 1.0, 4001)
    sides = [
        (np.stack([x0 + (x1 - x0) * t, np.full_like(t, y0)], -1), (0.0, -1.0)),
        (np.stack([x0 + (x1 - x0) * t, np.full_like(t, y1)], -1), (0.0, 1.0)),
        (np.stack([np.full_like(t, x0), y0 + (y1 - y0) * t], -1), (-1.0, 0.0)),
        (np.stack([np.full_like(t, x1), y0 + (y1 - y0) * t], -1), (1.0, 0.0)),
    ]
    return all(bool(np.all(land.grad(P) @ np.array(n) > 0)) for P, n in sides)


#: the built-ins whose gradient crosses the whole boundary of the default domain
#: outwards (the others: Rosenbrock, Beale, Booth, Goldstein–Price, McCormick and the
#: two saddles have places where it points inwards)
OUTWARD = ["himmelblau", "rastrigin", "ackley", "matyas", "six_hump_camel",
           "three_hump_camel", "styblinski_tang", "levi_n13", "quadratic_bowl", "candy_field"]


@pytest.mark.parametrize("name", OUTWARD)
def test_poincare_hopf_index_sum(name):
    """Where ∇f crosses the whole boundary outwards, the indices of its zeros add up
    to the Euler characteristic of the square: #minima − #saddles + #maxima = 1.
    A missed or an invented critical point breaks the sum (unless two cancel)."""
    land = make_landscape(name)
    assert _boundary_outwards(land)
    # Lévi N.13 has 3653 critical points here, its ripples finer than 40 seeds resolve
    seeds = 240 if name == "levi_n13" else 40
    c = _counts(_find(land, seeds=seeds, max_points=100_000))
    assert c["degenerate"] == 0
    assert c["minimum"] - c["saddle"] + c["maximum"] == 1, c


def test_the_other_builtins_have_inward_boundary_gradients():
    others = [n for n in LANDSCAPES if n not in OUTWARD]
    assert len(others) == 7
    assert not any(_boundary_outwards(make_landscape(n)) for n in others)


# -- degenerate points, continua, NaN ------------------------------------------------


def test_quartic_bowl_has_one_degenerate_point():
    land = _Custom(lambda x, y: x**4 + y**4, lambda x, y: (4 * x**3, 4 * y**3),
                   lambda x, y: (12 * x**2, _z(x), 12 * y**2))
    points = _find(land)
    assert len(points) == 1
    p = points[0]
    assert p.kind == "degenerate" and not p.is_global
    assert math.hypot(p.x, p.y) <= 1e-6
    assert max(map(abs, p.eigenvalues)) <= 1e-9


def test_flat_valley_floor_and_ring_give_one_point_each():
    valley = _Custom(lambda x, y: x * x + 0 * y, lambda x, y: (2 * x, _z(y)),
                     lambda x, y: (2 + _z(x), _z(x), _z(x)))
    points = _find(valley)
    assert len(points) == 1 and points[0].kind == "degenerate"
    assert abs(points[0].x) <= 1e-12 and abs(points[0].y) <= 0.2  # the middle of the line

    def ring_h(x, y):
        r = x * x + y * y - 1
        return 4 * r + 8 * x * x, 8 * x * y, 4 * r + 8 * y * y

    ring = _Custom(lambda x, y: (x * x + y * y - 1) ** 2,
                   lambda x, y: (4 * x * (x * x + y * y - 1), 4 * y * (x * x + y * y - 1)),
                   ring_h)
    points = _find(ring)
    assert [p.kind for p in points] == ["maximum", "degenerate"]
    assert (points[0].x, points[0].y) == pytest.approx((0, 0), abs=1e-12)
    assert math.hypot(points[1].x, points[1].y) == pytest.approx(1.0, abs=1e-9)
    # a constant: one point for the whole (flat) domain
    const = _Custom(lambda x, y: 1 + _z(x), lambda x, y: (_z(x), _z(x)),
                    lambda x, y: (_z(x), _z(x), _z(x)))
    assert [p.kind for p in _find(const)] == ["degenerate"]


def test_no_critical_points():
    linear = _Custom(lambda x, y: x + 2 * y, lambda x, y: (1 + _z(x), 2 + _z(x)),
                     lambda x, y: (_z(x), _z(x), _z(x)))
    assert _find(linear) == []


class _HalfNaN(Landscape):
    """(x − 1)² + y², but NaN (value, gradient and Hessian) wherever x < 0."""

    name = "half_nan"
    default_domain = ((-2.0, 2.0), (-2.0, 2.0))

    def _f(self, x, y):
        return np.where(x < 0, np.nan, (x - 1) ** 2 + y * y)

    def _g(self, x, y):
        return np.where(x < 0, np.nan, 2 * (x - 1)), np.where(x < 0, np.nan, 2 * y)

    def _h(self, x, y):
        nan = np.where(x < 0, np.nan, 0.0)
        return 2 + nan, nan, 2 + nan


def test_nan_landscapes_give_no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        points = _find(_HalfNaN())
        assert len(points) == 1 and points[0].kind == "minimum"
        assert (points[0].x, points[0].y) == pytest.approx((1, 0), abs=1e-12)
        # log of negatives and 1/x: like a typed formula (no critical point: 2x² − 2x + 1 > 0)
        typed = _Custom(lambda x, y: np.log(x) + (x - 1) ** 2 + y * y,
                        lambda x, y: (1 / x + 2 * (x - 1), 2 * y),
                        lambda x, y: (-1 / x**2 + 2, _z(x), 2 + _z(x)))
        assert _find(typed) == []
        # a cone: 0/0 at the tip, inf curvature near it
        cone = _Custom(lambda x, y: np.sqrt(x * x + y * y),
                       lambda x, y: (x / np.sqrt(x * x + y * y), y / np.sqrt(x * x + y * y)),
                       lambda x, y: (y * y / (x * x + y * y) ** 1.5,
                                     -x * y / (x * x + y * y) ** 1.5,
                                     x * x / (x * x + y * y) ** 1.5))
        assert _find(cone) == []
        nowhere = _Custom(lambda x, y: np.nan + _z(x), lambda x, y: (np.nan + _z(x),) * 2,
                          lambda x, y: (np.inf + _z(x),) * 3)
        assert _find(nowhere) == []


# -- classify, the record, progress, arguments -------------------------------------------


def test_classify_rule():
    e = np.array([[1.0, 2.0], [-2.0, -1.0], [-1.0, 3.0], [0.0, 5.0], [1e-7, 1.0],
                  [2e-6, 1.0], [-1e-3, 1e4], [-2e-2, 1e4], [np.nan, 1.0], [1.0, np.inf],
                  [0.0, 0.0], [3.0, 1.0]])
    expected = ["minimum", "maximum", "saddle", "degenerate", "degenerate", "minimum",
                "degenerate", "saddle", "degenerate", "degenerate", "degenerate", "minimum"]
    assert list(classify(e)) == expected
    assert list(classify(e.reshape(3, 4, 2)).ravel()) == expected
    assert classify([1.0, 2.0]) == "minimum"
    # relative to a larger landscape scale, small curvatures are degenerate
    assert classify([1e-3, 2e-3]) == "minimum"
    assert classify([1e-3, 2e-3], scale=1e4) == "degenerate"
    assert classify([1e-3, 2e-3], tol=1e-2) == "degenerate"


def test_to_dict_is_json():
    p = CriticalPoint(1.0, 2.0, 3.0, (-1.0, 4.0), "saddle")
    d = p.to_dict()
    assert d == {"x": 1.0, "y": 2.0, "value": 3.0, "eigenvalues": [-1.0, 4.0],
                 "type": "saddle", "global": False}
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    q = CriticalPoint(0.0, 0.0, float("nan"), (float("-inf"), 1.0), "degenerate")
    assert json.loads(json.dumps(q.to_dict(), allow_nan=False))["eigenvalues"] == [None, 1.0]


def test_progress_and_result_equal_find():
    land = make_landscape("himmelblau")
    gen = iter_critical_points(land, (-5, 5), (-5, 5), seeds=30, max_iter=40)
    steps = []
    while True:
        try:
            steps.append(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    assert all(t == 42 for _, t in steps)
    done = [d for d, _ in steps]
    assert done == sorted(done) and done[0] >= 1 and done[-1] == 42
    assert result == find_critical_points(land, (-5, 5), (-5, 5), seeds=30, max_iter=40)
    # fewer seeds and iterations still find Himmelblau's nine points
    assert len(result) == 9


def test_zoomed_domain_and_arguments():
    land = make_landscape("himmelblau")
    points = find_critical_points(land, (2.9, 3.1), (1.9, 2.1), seeds=8)
    assert len(points) == 1 and points[0].is_global
    assert (points[0].x, points[0].y) == pytest.approx((3.0, 2.0), abs=1e-12)
    assert find_critical_points(land, (-5, 5), (-5, 5), max_points=3)[2].kind == "minimum"
    for bad in [((1, 0), (0, 1)), ((0, np.inf), (0, 1)), ((0, 1), (2, 2))]:
        with pytest.raises(ValueError):
            find_critical_points(land, *bad)
    with pytest.raises(ValueError):
        find_critical_points(land, (0, 1), (0, 1), seeds=0)


def test_fast_enough_on_every_builtin():
    """40² seeds: the spec asks for well under 0.2 s; 1 s here keeps loaded CI machines
    from failing while catching an accidental per-point Python loop."""
    worst = 0.0
    for name in LANDSCAPES:
        land = make_landscape(name)
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            _find(land)
            best = min(best, time.perf_counter() - t0)
        worst = max(worst, best)
    assert worst < 1.0
