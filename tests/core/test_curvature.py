"""Curvature fields and gradient arrows against direct numpy references."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest

from lossviewer.core.curvature import (
    ARROW_MAX,
    ARROW_MIN,
    LOG_CONDITION_MAX,
    ArrowField,
    arrow_lengths,
    arrow_segments,
    curvature_field,
    curvature_steps,
    gradient_arrows,
    hessian_eigenvalues,
    iter_curvature_field,
)
from lossviewer.core.functions import LANDSCAPES, make_landscape
from lossviewer.core.landscape import Landscape


def _sym(a, b, c):
    return np.stack([np.stack([a, b], -1), np.stack([b, c], -1)], -2)


# -- eigenvalues ---------------------------------------------------------------------


def test_eigenvalues_match_eigvalsh():
    rng = np.random.default_rng(1)
    for scale in (1e-300, 1e-150, 1e-8, 1.0, 1e8, 1e150, 1e300):
        H = _sym(*(rng.standard_normal((3, 500)) * scale))
        ref = np.linalg.eigvalsh(H)
        got = hessian_eigenvalues(H)
        assert got.shape == (500, 2)
        assert np.all(got[:, 0] <= got[:, 1])
        err = np.abs(got - ref) / np.abs(ref).max(axis=-1, keepdims=True)
        assert err.max() < 1e-14


def test_eigenvalues_are_accurate_when_nearly_singular():
    # m − r would cancel for the small eigenvalue; det/λbig does not
    H = _sym(np.array([1e10, 1.0, 1.0 + 1e-12]), np.array([0.0, 1.0, 1.0]),
             np.array([1e-10, 1.0, 1.0]))
    got = hessian_eigenvalues(H)
    assert got[0] == pytest.approx([1e-10, 1e10], rel=1e-15)
    assert got[1] == pytest.approx([0.0, 2.0], abs=1e-15)
    # [[1+ε, 1], [1, 1]]: det = ε, eigenvalues ≈ ε/2 and 2 + ε/2
    assert got[2, 0] == pytest.approx(0.5e-12, rel=1e-3)


def test_eigenvalues_nan_and_inf_without_warnings():
    H = _sym(np.array([np.nan, 1.0, np.inf, 0.0]), np.array([0.0, np.nan, 0.0, 0.0]),
             np.array([1.0, 1.0, 1.0, 0.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = hessian_eigenvalues(H)
    assert np.isnan(got[0]).all() and np.isnan(got[1]).all()
    assert got[2, 1] == np.inf
    assert (got[3] == 0).all()
    # any leading shape; one matrix gives shape (2,)
    assert hessian_eigenvalues(np.eye(2)).tolist() == [1.0, 1.0]
    assert hessian_eigenvalues(np.zeros((3, 4, 2, 2))).shape == (3, 4, 2)
    with pytest.raises(ValueError):
        hessian_eigenvalues(np.zeros((3, 2)))


# -- the curvature field ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["rosenbrock", "himmelblau", "ackley", "candy_field",
                                  "saddle", "monkey_saddle"])
def test_curvature_field_equals_direct_hessians(name):
    land = make_landscape(name)
    (x0, x1), (y0, y1) = land.default_domain
    xs, ys = np.linspace(x0, x1, 57), np.linspace(y0, y1, 43)
    field = curvature_field(land, xs, ys)
    X, Y = np.meshgrid(xs, ys)
    ref = np.linalg.eigvalsh(land.hess(np.stack([X, Y], -1)))
    assert field.shape == (43, 57) and field.min_eig.shape == (43, 57)
    np.testing.assert_array_equal(field.xs, xs)
    np.testing.assert_array_equal(field.ys, ys)
    tol = 1e-13 * np.abs(ref).max(axis=-1)
    assert np.all(np.abs(field.min_eig - ref[..., 0]) <= tol)
    assert np.all(np.abs(field.max_eig - ref[..., 1]) <= tol)
    a = np.abs(ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = a.max(-1) / a.min(-1)
    zero = a.min(-1) == 0
    np.testing.assert_allclose(field.condition[~zero], cond[~zero], rtol=1e-9)
    assert np.all(field.condition[zero] == np.inf)
    assert np.all(field.condition >= 1.0)
    lc = field.layer("log_condition")
    assert np.all((lc >= 0) & (lc <= LOG_CONDITION_MAX))
    np.testing.assert_allclose(lc[~zero], np.minimum(np.log10(cond[~zero]), LOG_CONDITION_MAX),
                               rtol=1e-9, atol=1e-12)
    assert np.all(lc[zero] == LOG_CONDITION_MAX)
    assert field.layer("min_eig") is field.min_eig
    assert field.layer("condition") is field.condition
    with pytest.raises(ValueError):
        field.layer("gaussian")


def test_saddle_condition_and_signs():
    field = curvature_field(make_landscape("saddle"), np.linspace(-2, 2, 5),
                            np.linspace(-1, 1, 3))
    assert np.all(field.min_eig == -2.0) and np.all(field.max_eig == 2.0)
    assert np.all(field.condition == 1.0)
    # the monkey saddle's Hessian vanishes at the origin only: inf there, 1 elsewhere
    field = curvature_field(make_landscape("monkey_saddle"), np.linspace(-1, 1, 5),
                            np.linspace(-1, 1, 5))
    assert field.condition[2, 2] == np.inf
    assert np.sum(np.isinf(field.condition)) == 1
    np.testing.assert_allclose(np.delete(field.condition.ravel(), 12), 1.0)


def test_iter_curvature_field_steps_and_blocks():
    land = make_landscape("himmelblau")
    xs, ys = np.linspace(-5, 5, 300), np.linspace(-5, 5, 256)
    for rows in (None, 1, 7, 1000):
        gen = iter_curvature_field(land, xs, ys, rows_per_step=rows)
        n = 0
        while True:
            try:
                assert next(gen) is None
                n += 1
            except StopIteration as stop:
                field = stop.value
                break
        assert n == curvature_steps(len(xs), len(ys), rows)
        np.testing.assert_array_equal(field.min_eig, curvature_field(land, xs, ys).min_eig)
    assert curvature_steps(300, 256, 7) == 37


class _HalfNaN(Landscape):
    """A bowl that is NaN (value, gradient, Hessian) for x < 0."""

    name = "half_nan"

    def _f(self, x, y):
        return np.where(x < 0, np.nan, x * x + 4 * y * y)

    def _g(self, x, y):
        return np.where(x < 0, np.nan, 2 * x), np.where(x < 0, np.nan, 8 * y)

    def _h(self, x, y):
        nan = np.where(x < 0, np.nan, 0.0)
        return 2 + nan, nan, 8 + nan


def test_nan_landscape_fields_without_warnings():
    land = _HalfNaN()
    xs, ys = np.linspace(-1, 1, 21), np.linspace(-1, 1, 11)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        field = curvature_field(land, xs, ys)
        lc = field.log_condition
        arrows = gradient_arrows(land, (-1, 1), (-1, 1), n=10)
        segs = arrow_segments(arrows, 0.2)
    left = xs < 0
    assert np.isnan(field.min_eig[:, left]).all() and np.isnan(field.condition[:, left]).all()
    assert np.isnan(lc[:, left]).all()
    assert (field.min_eig[:, ~left] == 2).all() and (field.condition[:, ~left] == 4).all()
    assert len(arrows) == 50 and np.all(arrows.tails[:, 0] > 0)
    assert np.isfinite(segs).all() and segs.shape == (6 * 50, 2)


# -- gradient arrows -----------------------------------------------------------------


@pytest.mark.parametrize("name", list(LANDSCAPES))
def test_arrows_point_downhill(name):
    land = make_landscape(name)
    (x0, x1), (y0, y1) = land.default_domain
    arrows = gradient_arrows(land, (x0, x1), (y0, y1), n=24)
    cx = x0 + (np.arange(24) + 0.5) * (x1 - x0) / 24
    cy = y0 + (np.arange(24) + 0.5) * (y1 - y0) / 24
    X, Y = np.meshgrid(cx, cy)
    centres = np.stack([X.ravel(), Y.ravel()], -1)
    g = land.grad(centres)
    norm = np.linalg.norm(g, axis=-1)
    keep = np.isfinite(norm) & (norm > 0)
    np.testing.assert_allclose(arrows.tails, centres[keep], rtol=0, atol=1e-14 * (x1 - x0))
    g = land.grad(arrows.tails)
    norm = np.linalg.norm(g, axis=-1)
    np.testing.assert_allclose(arrows.magnitude, norm, rtol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(arrows.directions, axis=-1), 1.0, rtol=1e-14)
    # along −∇f: the dot product with the gradient is −|∇f|
    dot = np.sum(arrows.directions * g, axis=-1)
    assert np.all(dot < 0)
    np.testing.assert_allclose(dot, -norm, rtol=1e-12)


def test_arrows_drop_zero_gradients():
    # the saddle's gradient vanishes at the centre cell of an odd grid
    arrows = gradient_arrows(make_landscape("saddle"), (-2, 2), (-2, 2), n=5)
    assert len(arrows) == 24
    assert not np.any(np.all(arrows.tails == 0, axis=-1))
    # x·e1 − y·e2 is (2x, −2y): −∇f is (−x, y) normalised
    t = arrows.tails
    np.testing.assert_allclose(arrows.directions,
                               np.stack([-t[:, 0], t[:, 1]], -1)
                               / np.hypot(t[:, 0], t[:, 1])[:, None], rtol=1e-14)
    with pytest.raises(ValueError):
        gradient_arrows(make_landscape("saddle"), (-2, 2), (-2, 2), n=0)


def _shafts(segs):
    s = segs.reshape(-1, 6, 2)
    return s[:, 0], s[:, 1], s


def test_segments_shape_lengths_and_heads():
    land = make_landscape("rosenbrock")  # |∇f| spans five decades here
    arrows = gradient_arrows(land, (-2, 2), (-1, 3), n=24)
    cell = 4 / 24
    segs = arrow_segments(arrows, cell)
    assert segs.shape == (6 * len(arrows), 2)
    start, tip, s = _shafts(segs)
    L = np.linalg.norm(tip - start, axis=-1)
    assert np.all(L >= ARROW_MIN * cell - 1e-12) and np.all(L <= ARROW_MAX * cell + 1e-12)
    assert L.min() == pytest.approx(ARROW_MIN * cell) and L.max() == pytest.approx(
        ARROW_MAX * cell)
    # the shaft runs along −∇f, centred on its grid point
    np.testing.assert_allclose((tip - start) / L[:, None], arrows.directions, atol=1e-12)
    np.testing.assert_allclose(0.5 * (start + tip), arrows.tails, atol=1e-12)
    # longer for a larger gradient (never shorter)
    order = np.argsort(arrows.magnitude)
    assert np.all(np.diff(L[order]) >= -1e-12)
    # the head: two strokes from the tip, 0.35 × the shaft, ±25° off the backward shaft
    for k in (3, 5):
        np.testing.assert_array_equal(s[:, k - 1], tip)
        stroke = s[:, k] - tip
        np.testing.assert_allclose(np.linalg.norm(stroke, axis=-1), 0.35 * L, rtol=1e-12)
        cos = np.sum(stroke * -arrows.directions, axis=-1) / (0.35 * L)
        np.testing.assert_allclose(cos, math.cos(math.radians(25)), rtol=1e-12)
    # … one on each side of the shaft
    d = arrows.directions
    side = [d[:, 0] * (s[:, k, 1] - tip[:, 1]) - d[:, 1] * (s[:, k, 0] - tip[:, 0])
            for k in (3, 5)]
    assert np.all(side[0] * side[1] < 0)
    # every drawn point stays within 0.45 cell of its grid point: neighbours never touch
    r = np.linalg.norm(s - arrows.tails[:, None, :], axis=-1)
    assert r.max() <= 0.45 * cell + 1e-12
    # not centred: the arrow starts at its point
    start2, _, _ = _shafts(arrow_segments(arrows, cell, centred=False))
    np.testing.assert_allclose(start2, arrows.tails)


def test_lengths_rule():
    # equal magnitudes: all long; one decade or less of spread maps within one decade
    assert np.all(arrow_lengths(np.full(10, 3.0), 1.0) == ARROW_MAX)
    L = arrow_lengths(np.array([1.0, 10.0, 10.0, 10.0]), 1.0)
    assert L[1] == ARROW_MAX and ARROW_MIN <= L[0] < ARROW_MAX
    # tiny gradients are still visible, huge ones capped
    L = arrow_lengths(np.logspace(-30, 30, 61), 2.0)
    assert L.min() == ARROW_MIN * 2.0 and L.max() == ARROW_MAX * 2.0
    assert np.all(np.diff(L) >= 0)
    assert arrow_lengths(np.zeros(0), 1.0).shape == (0,)
    empty = ArrowField(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0))
    assert arrow_segments(empty, 1.0).shape == (0, 2)


def test_segments_are_vectorised():
    rng = np.random.default_rng(0)
    n = 200_000
    d = rng.standard_normal((n, 2))
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    field = ArrowField(rng.random((n, 2)), d, 10.0 ** rng.uniform(-5, 5, n))
    t0 = time.perf_counter()
    segs = arrow_segments(field, 0.01)
    assert time.perf_counter() - t0 < 1.0
    assert segs.shape == (6 * n, 2)
