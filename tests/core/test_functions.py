"""Checks of the analytic landscapes against independent references.

Gradients and Hessians are compared with central finite differences of the value
(and of the gradient); minima with literature values and with a dense-grid search
polished by Newton's method, so a wrong formula or a wrong minimum fails here.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from lossviewer.core.functions import LANDSCAPES, make_landscape
from lossviewer.core.landscape import Landscape

# every registered landscape with its defaults, plus non-default parameter settings
CASES: list[tuple[str, dict[str, float]]] = [(name, {}) for name in LANDSCAPES] + [
    ("rosenbrock", {"a": -0.5, "b": 10.0}),
    ("rastrigin", {"A": 3.0}),
    ("quadratic_bowl", {"condition_number": 1000.0, "angle": 30.0}),
    ("quadratic_bowl", {"condition_number": 1.0, "angle": -75.0}),
    ("candy_field", {"depth": 0.7, "bump": 0.0, "ridge": 3.0, "plateau": 4.0, "width": 1.2}),
    ("candy_field", {"depth": 1.5, "bump": 2.0, "ridge": 0.0, "plateau": 1.5, "width": 0.85}),
]
CASE_IDS = [name + "".join(f"-{k}={v:g}" for k, v in p.items()) for name, p in CASES]

# Settings across the candy field's parameter box (corners and interior) that must
# keep one global and at least three local minima.
CANDY_SETTINGS: list[dict[str, float]] = [
    {},
    {"depth": 0.7, "bump": 2.0, "ridge": 3.0, "plateau": 4.0, "width": 1.2},
    {"depth": 0.7, "bump": 0.0, "ridge": 0.0, "plateau": 1.5, "width": 0.85},
    {"depth": 1.5, "bump": 2.0, "ridge": 3.0, "plateau": 4.0, "width": 1.2},
    {"depth": 1.5, "bump": 0.0, "ridge": 3.0, "plateau": 1.5, "width": 1.2},
    {"depth": 0.7, "bump": 2.0, "ridge": 0.0, "plateau": 4.0, "width": 0.85},
    {"depth": 1.1, "bump": 0.5, "ridge": 1.0, "plateau": 3.0, "width": 1.05},
]

# Independent literature values of the global minima (to the digits usually quoted:
# Wikipedia "Test functions for optimization", Surjanovic & Bingham's library).
LITERATURE: dict[str, list[tuple[float, float, float]]] = {
    "rosenbrock": [(1.0, 1.0, 0.0)],
    "himmelblau": [
        (3.0, 2.0, 0.0),
        (-2.805118, 3.131312, 0.0),
        (-3.779310, -3.283186, 0.0),
        (3.584428, -1.848126, 0.0),
    ],
    "rastrigin": [(0.0, 0.0, 0.0)],
    "ackley": [(0.0, 0.0, 0.0)],
    "beale": [(3.0, 0.5, 0.0)],
    "booth": [(1.0, 3.0, 0.0)],
    "matyas": [(0.0, 0.0, 0.0)],
    "goldstein_price": [(0.0, -1.0, 3.0)],
    "six_hump_camel": [(0.0898, -0.7126, -1.0316), (-0.0898, 0.7126, -1.0316)],
    "three_hump_camel": [(0.0, 0.0, 0.0)],
    "styblinski_tang": [(-2.903534, -2.903534, -78.33233)],
    "levi_n13": [(1.0, 1.0, 0.0)],
    "mccormick": [(-0.54719, -1.54719, -1.9133)],
    "quadratic_bowl": [(0.0, 0.0, 0.0)],
}
# documented local minima (value only, to the digits usually quoted)
LITERATURE_LOCAL: dict[str, list[float]] = {
    "goldstein_price": [30.0, 84.0, 840.0],
    "six_hump_camel": [-0.2155, -0.2155, 2.1043, 2.1043],
    "three_hump_camel": [0.2986, 0.2986],
    "styblinski_tang": [-64.1956, -64.1956, -50.0589],
}


def _rng_points(land: Landscape, n: int, seed: int) -> np.ndarray:
    (x0, x1), (y0, y1) = land.domain
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)], axis=-1)


def _fd_grad(land: Landscape, P: np.ndarray) -> np.ndarray:
    h = 1e-6 * np.maximum(1.0, np.abs(P))
    out = np.empty_like(P)
    for j in range(2):
        e = np.zeros_like(P)
        e[..., j] = h[..., j]
        out[..., j] = (land.value(P + e) - land.value(P - e)) / (2.0 * h[..., j])
    return out


def _fd_hess(land: Landscape, P: np.ndarray) -> np.ndarray:
    h = 1e-6 * np.maximum(1.0, np.abs(P))
    out = np.empty(P.shape + (2,))
    for j in range(2):
        e = np.zeros_like(P)
        e[..., j] = h[..., j]
        out[..., :, j] = (land.grad(P + e) - land.grad(P - e)) / (2.0 * h[..., j, None])
    return out


def _grad_mismatch(land: Landscape, P: np.ndarray) -> np.ndarray:
    """Per point: error of grad against finite differences, over its allowance.

    The allowance is a relative 1e-5 plus a floor for the finite-difference
    round-off, which grows with |f| (about 1e-16·|f|/h).
    """
    g = land.grad(P)
    err = np.linalg.norm(g - _fd_grad(land, P), axis=-1)
    allow = 1e-5 * np.linalg.norm(g, axis=-1) + 1e-7 * (1.0 + np.abs(land.value(P)))
    return err / allow


def _hess_mismatch(land: Landscape, P: np.ndarray) -> np.ndarray:
    H = land.hess(P)
    err = np.linalg.norm(H - _fd_hess(land, P), axis=(-2, -1))
    floor = 1e-7 * (1.0 + np.linalg.norm(land.grad(P), axis=-1) + np.abs(land.value(P)))
    allow = 1e-5 * np.linalg.norm(H, axis=(-2, -1)) + floor
    return err / allow


def _newton_polish(land: Landscape, p: np.ndarray, steps: int = 50) -> np.ndarray:
    """Damped Newton from p (gradient steps where the Hessian is not positive)."""
    p = np.array(p, dtype=float)
    for _ in range(steps):
        g, H = land.grad(p), land.hess(p)
        if np.linalg.eigvalsh(H)[0] > 0:
            step = np.linalg.solve(H, g)
        else:
            step = 1e-3 * g
        n = np.linalg.norm(step)
        if n > 0.1:
            step *= 0.1 / n
        p = p - step
    return p


# -- derivatives ----------------------------------------------------------------
@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_grad_matches_finite_differences(name: str, params: dict[str, float]) -> None:
    land = make_landscape(name, **params)
    P = _rng_points(land, 50, seed=sum(map(ord, name)))
    ratio = _grad_mismatch(land, P)
    worst = int(np.argmax(ratio))
    assert ratio[worst] <= 1.0, f"{name}: grad off at {P[worst]} (ratio {ratio[worst]:.3g})"


@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_hess_matches_finite_differences(name: str, params: dict[str, float]) -> None:
    land = make_landscape(name, **params)
    P = _rng_points(land, 50, seed=1 + sum(map(ord, name)))
    ratio = _hess_mismatch(land, P)
    worst = int(np.argmax(ratio))
    assert ratio[worst] <= 1.0, f"{name}: hess off at {P[worst]} (ratio {ratio[worst]:.3g})"
    H = land.hess(P)
    np.testing.assert_array_equal(H, np.swapaxes(H, -1, -2))


def test_finite_difference_check_catches_a_wrong_gradient() -> None:
    # the checks above must be able to fail: a slightly wrong gradient or Hessian
    cls = LANDSCAPES["booth"]

    class WrongBooth(cls):  # type: ignore[misc, valid-type]
        def _g(self, x, y):
            gx, gy = super()._g(x, y)
            return gx * (1 + 1e-3), gy

        def _h(self, x, y):
            hxx, hxy, hyy = super()._h(x, y)
            return hxx, hxy * (1 + 1e-3), hyy

    land = WrongBooth()
    P = _rng_points(land, 50, seed=3)
    assert np.max(_grad_mismatch(land, P)) > 1.0
    assert np.max(_hess_mismatch(land, P)) > 1.0


# -- shapes ---------------------------------------------------------------------
@pytest.mark.parametrize("name", list(LANDSCAPES))
def test_shapes_and_grid(name: str) -> None:
    land = make_landscape(name)
    P = _rng_points(land, 35, seed=7).reshape(5, 7, 2)
    assert land.value(P).shape == (5, 7)
    assert land.grad(P).shape == (5, 7, 2)
    assert land.hess(P).shape == (5, 7, 2, 2)
    for out in (land.value(P), land.grad(P), land.hess(P)):
        assert out.dtype == np.float64
        assert out.flags.writeable  # callers mask and rescale results in place
    p = P[2, 3]
    assert land.value(p).shape == ()
    assert land.grad(p).shape == (2,)
    assert land.hess(p).shape == (2, 2)
    # vectorised results agree with point-by-point ones
    assert land.value(p) == pytest.approx(land.value(P)[2, 3], rel=1e-14, abs=1e-300)
    np.testing.assert_allclose(land.hess(p), land.hess(P)[2, 3], rtol=1e-14)

    (x0, x1), (y0, y1) = land.domain
    xs, ys = np.linspace(x0, x1, 13), np.linspace(y0, y1, 9)
    Z = land.grid_values(xs, ys)
    assert Z.shape == (len(ys), len(xs))
    assert Z.flags.writeable
    X, Y = np.meshgrid(xs, ys)
    np.testing.assert_allclose(Z, land.value(np.stack([X, Y], axis=-1)), rtol=1e-14)


@pytest.mark.parametrize("name", list(LANDSCAPES))
def test_no_floating_point_trouble_inside_the_domain(name: str) -> None:
    land = make_landscape(name)
    (x0, x1), (y0, y1) = land.domain
    X, Y = np.meshgrid(np.linspace(x0, x1, 101), np.linspace(y0, y1, 101))
    extra = [m.point for m in land.minima()] + [(0.0, 0.0), land.default_start, (1e-300, 0.0)]
    P = np.concatenate([np.stack([X, Y], axis=-1).reshape(-1, 2), np.array(extra)])
    with np.errstate(all="raise", under="ignore"):
        for out in (land.value(P), land.grad(P), land.hess(P)):
            assert np.all(np.isfinite(out))


@pytest.mark.parametrize("name", list(LANDSCAPES))
def test_far_outside_the_domain_never_raises(name: str) -> None:
    land = make_landscape(name)
    P = np.array([[1e200, -1e200], [-1e308, 3.0], [1e30, 1e30], [np.inf, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        land.value(P), land.grad(P), land.hess(P)


def test_ackley_origin_is_finite() -> None:
    land = make_landscape("ackley")
    # underflow next to the origin is harmless; overflow, 0/0 or inf would not be
    with np.errstate(all="raise", under="ignore"):
        np.testing.assert_array_equal(land.grad((0.0, 0.0)), [0.0, 0.0])
        assert np.all(np.isfinite(land.hess((0.0, 0.0))))
        assert land.value((0.0, 0.0)) == pytest.approx(0.0, abs=1e-14)
        # next to the origin the gradient tends to the cone's slope 2·√2·(x, y)/r
        for p in [(1e-310, 0.0), (0.0, -1e-300), (1e-200, 1e-200)]:
            g = land.grad(p)
            assert np.linalg.norm(g) == pytest.approx(2 * np.sqrt(2), rel=1e-9)


# -- minima -------------------------------------------------------------------
@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_listed_minima_are_minima(name: str, params: dict[str, float]) -> None:
    land = make_landscape(name, **params)
    mins = land.minima()
    if name in ("saddle", "monkey_saddle"):
        assert mins == []
        assert land.global_minimum() is None
        return
    assert mins, f"{name} lists no minima"
    assert mins[0].kind == "global", "global minimum first"
    (x0, x1), (y0, y1) = land.domain
    for m in mins:
        assert x0 <= m.x <= x1 and y0 <= m.y <= y1, f"{m} outside the domain"
        assert float(land.value(m.point)) == pytest.approx(m.value, rel=1e-12, abs=1e-12)
        H = land.hess(m.point)
        g = land.grad(m.point)
        assert np.linalg.norm(g) <= 1e-8 * max(1.0, np.linalg.norm(H)), f"grad {g} at {m}"
        assert np.linalg.eigvalsh(H)[0] >= -1e-9 * np.linalg.norm(H), f"not PSD at {m}"
    best = land.global_minimum()
    assert best is not None
    globals_ = [m for m in mins if m.kind == "global"]
    assert all(m.value == pytest.approx(best.value, abs=1e-9) for m in globals_)
    assert all(m.value > best.value for m in mins if m.kind == "local")


@pytest.mark.parametrize(("name", "params"), CASES, ids=CASE_IDS)
def test_nothing_lower_than_the_global_minimum(name: str, params: dict[str, float]) -> None:
    land = make_landscape(name, **params)
    best = land.global_minimum()
    if best is None:
        pytest.skip("no minimum")
    (x0, x1), (y0, y1) = land.domain
    xs, ys = np.linspace(x0, x1, 801), np.linspace(y0, y1, 801)
    Z = land.grid_values(xs, ys)
    tol = 1e-9 * max(1.0, abs(best.value))
    assert Z.min() >= best.value - tol
    # polish the lowest few grid points: a listed value a little too high shows up
    for k in np.argsort(Z, axis=None)[:5]:
        j, i = np.unravel_index(k, Z.shape)
        p = _newton_polish(land, np.array([xs[i], ys[j]]))
        assert float(land.value(p)) >= best.value - tol, f"{name}: lower point {p}"


@pytest.mark.parametrize("name", list(LITERATURE))
def test_global_minima_match_the_literature(name: str) -> None:
    land = make_landscape(name)
    listed = [m for m in land.minima() if m.kind == "global"]
    assert len(listed) == len(LITERATURE[name])
    for x, y, v in LITERATURE[name]:
        near = min(listed, key=lambda m: np.hypot(m.x - x, m.y - y))
        assert np.hypot(near.x - x, near.y - y) < 1e-4, f"{name}: no minimum near {(x, y)}"
        assert near.value == pytest.approx(v, abs=1e-4)


@pytest.mark.parametrize("name", list(LITERATURE_LOCAL))
def test_local_minima_match_the_literature(name: str) -> None:
    land = make_landscape(name)
    values = sorted(m.value for m in land.minima() if m.kind == "local")
    np.testing.assert_allclose(values, sorted(LITERATURE_LOCAL[name]), atol=1e-4)


def test_mccormick_local_minimum() -> None:
    land = make_landscape("mccormick")
    (local,) = [m for m in land.minima() if m.kind == "local"]
    # on the valley x − y = 1 at x + y = 4π/3
    assert local.x - local.y == pytest.approx(1.0)
    assert local.x + local.y == pytest.approx(4 * np.pi / 3)


# -- candy field --------------------------------------------------------------
def _all_minima_by_search(land: Landscape, n: int = 301) -> list[np.ndarray]:
    """Every strict local minimum of the grid, polished by Newton and deduplicated."""
    (x0, x1), (y0, y1) = land.domain
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    Z = land.grid_values(xs, ys)
    c = Z[1:-1, 1:-1]
    is_min = np.ones(c.shape, dtype=bool)
    for dj in (-1, 0, 1):
        for di in (-1, 0, 1):
            if dj or di:
                is_min &= c < Z[1 + dj : n - 1 + dj, 1 + di : n - 1 + di]
    found: list[np.ndarray] = []
    for j, i in zip(*np.nonzero(is_min), strict=True):
        p = _newton_polish(land, np.array([xs[i + 1], ys[j + 1]]))
        converged = np.linalg.norm(land.grad(p)) < 1e-9
        if converged and np.linalg.eigvalsh(land.hess(p))[0] > 0:
            if all(np.hypot(*(p - q)) > 1e-6 for q in found):
                found.append(p)
    return found


@pytest.mark.parametrize("params", CANDY_SETTINGS, ids=lambda p: repr(p) if p else "defaults")
def test_candy_field_minima(params: dict[str, float]) -> None:
    land = make_landscape("candy_field", **params)
    mins = land.minima()
    globals_ = [m for m in mins if m.kind == "global"]
    locals_ = [m for m in mins if m.kind == "local"]
    assert len(globals_) == 1
    assert len(locals_) >= 3
    # unique by a visible margin, not by rounding
    assert all(m.value > globals_[0].value + 0.05 for m in locals_)
    # the listed minima are exactly the minima an independent search finds
    found = _all_minima_by_search(land)
    assert len(found) == len(mins), f"search found {found}, listed {mins}"
    for m in mins:
        assert min(np.hypot(m.x - q[0], m.y - q[1]) for q in found) < 1e-6


def test_candy_field_has_plateau_and_ridge() -> None:
    land = make_landscape("candy_field")
    (x0, x1), (y0, y1) = land.domain
    # plateau: near the default start corner the surface is almost level at the plateau
    corner = np.array([[x0 + 0.2, y1 - 0.2], [x1 - 0.2, y1 - 0.2]])
    assert np.all(np.linalg.norm(land.grad(corner), axis=-1) < 1e-2)
    np.testing.assert_allclose(land.value(corner), land.params["plateau"], atol=0.05)
    # ridge: more ridge height gives a higher surface somewhere, and it rises above
    # its surroundings along a line
    low = make_landscape("candy_field", ridge=0.0)
    X, Y = np.meshgrid(np.linspace(x0, x1, 201), np.linspace(y0, y1, 201))
    diff = land.grid_values(X[0], Y[:, 0]) - low.grid_values(X[0], Y[:, 0])
    assert diff.max() >= 0.9 * land.params["ridge"]


# -- construction and registry ----------------------------------------------
def test_registry() -> None:
    names = list(LANDSCAPES)
    assert names[0] == "rosenbrock"
    assert set(names) == {
        "rosenbrock", "himmelblau", "rastrigin", "ackley", "beale", "booth", "matyas",
        "goldstein_price", "six_hump_camel", "three_hump_camel", "styblinski_tang",
        "levi_n13", "mccormick", "saddle", "monkey_saddle", "quadratic_bowl", "candy_field",
    }  # fmt: skip
    for key, cls in LANDSCAPES.items():
        assert cls.name == key
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key)


@pytest.mark.parametrize("name", list(LANDSCAPES))
def test_metadata(name: str) -> None:
    cls = LANDSCAPES[name]
    land = cls()
    assert cls.title and cls.formula
    assert cls.description.endswith(".") and len(cls.description) < 200
    assert cls.default_zscale in ("linear", "log")
    (x0, x1), (y0, y1) = cls.default_domain
    sx, sy = cls.default_start
    assert x0 < sx < x1 and y0 < sy < y1
    # a race needs somewhere to go: the start is not at a minimum
    assert np.linalg.norm(land.grad(cls.default_start)) > 1e-3
    if cls.default_zscale == "log":
        best = land.global_minimum()
        assert best is not None and best.value >= 0.0, "log scale needs f >= 0"
    for spec in cls.param_specs:
        assert spec.minimum <= spec.default <= spec.maximum


def test_make_landscape_names() -> None:
    assert type(make_landscape("Six-Hump-Camel")) is LANDSCAPES["six_hump_camel"]
    assert type(make_landscape("GOLDSTEIN_PRICE")) is LANDSCAPES["goldstein_price"]
    with pytest.raises(ValueError, match="unknown function 'foo'") as info:
        make_landscape("foo")
    message = str(info.value)
    assert "\n" not in message
    assert all(name in message for name in LANDSCAPES)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("rosenbrock", {"b": 1e6}),
        ("rosenbrock", {"a": -100.0}),
        ("rosenbrock", {"a": "one"}),
        ("rosenbrock", {"a": None}),
        ("rosenbrock", {"a": float("nan")}),
        ("rastrigin", {"A": -1.0}),
        ("quadratic_bowl", {"condition_number": 0.5}),
        ("quadratic_bowl", {"angle": 180.0}),
        ("candy_field", {"depth": 10.0}),
        ("candy_field", {"width": "wide"}),
        ("rosenbrock", {"c": 1.0}),
        ("saddle", {"a": 1.0}),
    ],
)
def test_bad_params(name: str, params: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        make_landscape(name, **params)


def test_params_take_effect() -> None:
    land = make_landscape("rosenbrock", a=0.5, b=10)
    assert land.params == {"a": 0.5, "b": 10.0}
    m = land.global_minimum()
    assert m is not None and (m.x, m.y) == (0.5, 0.25)
    # a rotated bowl has its flat direction along the angle
    bowl = make_landscape("quadratic_bowl", condition_number=100, angle=30)
    w, V = np.linalg.eigh(bowl.hess((0.0, 0.0)))
    np.testing.assert_allclose(w, [1.0, 100.0])
    t = np.radians(30.0)
    assert abs(V[:, 0] @ [np.cos(t), np.sin(t)]) == pytest.approx(1.0)
