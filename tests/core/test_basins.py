"""Basin maps: every start runs exactly as simulate() would run it; labels are right."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lossviewer.core import basins as basins_mod
from lossviewer.core.basins import (
    DIVERGED,
    NOT_CONVERGED,
    BasinMap,
    basins,
    iter_basins,
)
from lossviewer.core.functions import make_landscape
from lossviewer.core.landscape import Landscape
from lossviewer.core.trajectory import STATUSES, simulate

HIMMELBLAU = make_landscape("himmelblau")
BOX = ((-5.0, 5.0), (-5.0, 5.0))


def _check_against_simulate(land, bm: BasinMap, optimizer, hyper, every=1, **kw):
    """Each (every-th) start's status, stop index and end point equal simulate()'s."""
    n = bm.grid
    checked = 0
    for i in range(0, n * n, every):
        iy, ix = divmod(i, n)
        tr = simulate(land, optimizer, hyper, [(bm.xs[ix], bm.ys[iy])], bm.steps, **kw)
        assert STATUSES[bm.status[iy, ix]] == tr.status[0], (i, tr.status[0])
        assert bm.stop[iy, ix] == tr.stop[0], i
        if tr.status[0] == "diverged":
            assert np.isnan(bm.ends[iy, ix]).all()
            assert bm.labels[iy, ix] == DIVERGED
        else:
            np.testing.assert_allclose(bm.ends[iy, ix], tr.final_points[0], rtol=0, atol=1e-9)
        checked += 1
    return checked


CASES = [
    ("sgd", {"lr": 0.01, "momentum": 0.9}, {}),
    ("sgd", {"lr": 0.015, "momentum": 0.5}, {}),  # some diverge, the others converge
    ("sgd", {"lr": 0.02}, {}),  # diverged, converged and finished starts
    ("adam", {"lr": 0.05}, {}),
    ("adam", {"lr": 0.05, "amsgrad": True}, {"schedule": "cosine"}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.5}, {"schedule": "step",
                                                 "schedule_params": {"step_size": 30}}),
    ("adam", {"lr": 0.05}, {"noise": 0.5, "seed": 7}),
    ("newton", {"lr": 0.5}, {}),
    ("nadam", {"lr": 0.1}, {}),
    ("lion", {"lr": 0.02}, {}),
]


@pytest.mark.parametrize(("optimizer", "hyper", "kw"), CASES)
def test_every_start_runs_as_simulate_does(optimizer, hyper, kw):
    bm = basins(HIMMELBLAU, optimizer, hyper, (-6, 6), (-6, 6), 12, 150, **kw)
    assert _check_against_simulate(HIMMELBLAU, bm, optimizer, hyper, every=3, **kw) == 48


def test_loss_limit_divergence_matches_simulate():
    # Goldstein-Price (degree 8) passes |loss| > 1e30 long before |x| > 1e6 × its domain
    land = make_landscape("goldstein_price")
    bm = basins(land, "sgd", {"lr": 1e-4}, (-2, 2), (-2, 2), 9, 60)
    assert (bm.labels == DIVERGED).any() and (bm.labels != DIVERGED).any()
    _check_against_simulate(land, bm, "sgd", {"lr": 1e-4})


def test_small_tiles_give_the_same_map(monkeypatch):
    args = (HIMMELBLAU, "sgd", {"lr": 0.02}, (-6, 6), (-6, 6), 20, 120)
    ref = basins(*args)
    monkeypatch.setattr(basins_mod, "TILE_ROWS", 37)  # 11 tiles; starts move within each
    small = basins(*args, chunk=7)
    for name in ("labels", "status", "stop"):
        np.testing.assert_array_equal(getattr(small, name), getattr(ref, name))
    np.testing.assert_array_equal(small.ends, ref.ends)


def test_worker_threads_give_the_same_map(monkeypatch):
    monkeypatch.setattr(basins_mod, "TILE_ROWS", 50)
    args = (HIMMELBLAU, "adam", {"lr": 0.05}, (-6, 6), (-6, 6), 24, 200)
    one = basins(*args, workers=1)
    three = basins(*args, workers=3, noise=0.0)
    for name in ("labels", "status", "stop", "ends", "attractors"):
        np.testing.assert_array_equal(getattr(three, name), getattr(one, name))


def test_clusters_join_chains_closer_than_tol_and_keep_gaps():
    tol = 1e-3
    chain = np.stack([np.arange(300) * 0.9 * tol, np.zeros(300)], axis=1)
    assert len(np.unique(basins_mod._clusters(chain, tol))) == 1
    apart = np.stack([np.arange(50) * 3.5 * tol, np.arange(50) * 3.5 * tol], axis=1)
    assert len(np.unique(basins_mod._clusters(apart, tol))) == 50


class _OwnEvaluation(Landscape):
    """Himmelblau through overridden value/grad/hess (not Landscape's kernel path)."""

    name = "own"
    default_domain = ((-5.0, 5.0), (-5.0, 5.0))

    def _f(self, x, y):
        return HIMMELBLAU._f(x, y)

    def _g(self, x, y):
        return HIMMELBLAU._g(x, y)

    def _h(self, x, y):
        return HIMMELBLAU._h(x, y)

    def value_and_grad(self, P):
        return HIMMELBLAU.value(P), HIMMELBLAU.grad(P)

    def hess(self, P):
        return HIMMELBLAU.hess(P)


@pytest.mark.parametrize(("optimizer", "hyper"), [("adam", {"lr": 0.05}), ("newton", {})])
def test_landscapes_with_their_own_evaluation(optimizer, hyper):
    land = _OwnEvaluation()
    bm = basins(land, optimizer, hyper, (-5, 5), (-5, 5), 8, 80)
    _check_against_simulate(land, bm, optimizer, hyper, every=5)
    ref = basins(HIMMELBLAU, optimizer, hyper, (-5, 5), (-5, 5), 8, 80)
    np.testing.assert_array_equal(bm.labels, ref.labels)


# -- labelling ---------------------------------------------------------------------------


def _gd_himmelblau(grid=41, **kw) -> BasinMap:
    return basins(HIMMELBLAU, "sgd", {"lr": 0.005}, *BOX, grid, 1000, **kw)


def test_gradient_descent_on_himmelblau_finds_its_four_basins():
    bm = _gd_himmelblau()
    known = np.array([m.point for m in HIMMELBLAU.minima()])
    assert bm.n_attractors == 4
    assert bm.attractor_kinds == ("minimum",) * 4
    for a in bm.attractors:  # each attractor is a known minimum (polished to rounding)
        assert np.min(np.hypot(*(known - a).T)) < 1e-9
    assert np.all(np.abs(bm.attractor_values) < 1e-20)
    assert np.all(bm.shares > 0.1)
    assert bm.shares.sum() + bm.diverged_share + bm.not_converged_share == pytest.approx(1.0)
    assert bm.diverged_share == 0 and bm.not_converged_share == 0
    assert bm.labels.shape == (41, 41) and bm.ends.shape == (41, 41, 2)
    assert (bm.status == 1).all()  # plain GD settles: the step rule fires everywhere
    # legend: one row per attractor, shares as in the map
    legend = bm.legend()
    assert [r[0] for r in legend] == [0, 1, 2, 3]
    assert sum(r[2] for r in legend) == pytest.approx(1.0)
    assert "minimum at (3.00, 2.00), f = 0" in [r[1] for r in legend]


def test_a_start_at_or_next_to_a_minimum_belongs_to_it():
    # the 11 × 11 grid over [-5, 5]² contains (3, 2) exactly
    bm = basins(HIMMELBLAU, "sgd", {"lr": 0.005}, *BOX, 11, 1000)
    ix, iy = int(np.flatnonzero(bm.xs == 3.0)[0]), int(np.flatnonzero(bm.ys == 2.0)[0])
    k = bm.labels[iy, ix]
    np.testing.assert_array_equal(bm.attractors[k], (3.0, 2.0))
    assert bm.stop[iy, ix] == 0  # the gradient is exactly 0 there: it settles at once
    # a small map around each minimum: every start belongs to that minimum
    for m in HIMMELBLAU.minima():
        r = 0.05
        near = basins(HIMMELBLAU, "sgd", {"lr": 0.005}, (m.x - r, m.x + r), (m.y - r, m.y + r),
                      5, 1000)
        assert near.n_attractors == 1
        assert (near.labels == 0).all()
        np.testing.assert_allclose(near.attractors[0], m.point, atol=1e-9)


def test_labels_are_rows_of_y_and_columns_of_x():
    # a double well in y: the basin depends on the sign of y only
    class DoubleWell(Landscape):
        name = "double_well"
        default_domain = ((-2.0, 2.0), (-2.0, 2.0))

        def _f(self, x, y):
            return (y * y - 1) ** 2 + x * x

        def _g(self, x, y):
            return 2 * x, 4 * y * (y * y - 1)

        def _h(self, x, y):
            return 2 + 0 * x, 0 * x, 12 * y * y - 4

    bm = basins(DoubleWell(), "sgd", {"lr": 0.05}, (-2, 2), (-1.9, 2.1), 20, 500)
    assert bm.n_attractors == 2
    np.testing.assert_allclose(bm.attractors[np.argsort(bm.attractors[:, 1])],
                               [(0, -1), (0, 1)], atol=1e-9)
    low = int(np.argmin(bm.attractors[:, 1]))
    for iy, y in enumerate(bm.ys):
        assert (bm.labels[iy] == (low if y < 0 else 1 - low)).all(), y


def test_given_minima_give_the_same_partition_as_clustering():
    free = _gd_himmelblau(grid=25)
    mins = [m.point for m in HIMMELBLAU.minima()]
    given = _gd_himmelblau(grid=25, minima=mins)
    assert given.n_attractors == free.n_attractors == 4
    pairs = set(zip(free.labels.ravel().tolist(), given.labels.ravel().tolist(), strict=True))
    assert len(pairs) == 4  # a one-to-one correspondence of labels
    assert len({a for a, _ in pairs}) == len({b for _, b in pairs}) == 4
    for a, b in pairs:
        np.testing.assert_allclose(free.attractors[a], given.attractors[b], atol=1e-9)
    # the given minima are used as they are
    for a in given.attractors:
        assert tuple(a) in {tuple(m) for m in mins}
    np.testing.assert_allclose(np.sort(given.shares), np.sort(free.shares))


def test_unlisted_minimum_is_still_found_by_clustering():
    mins = [m.point for m in HIMMELBLAU.minima()[:2]]
    bm = _gd_himmelblau(grid=15, minima=mins)
    assert bm.n_attractors == 4 and bm.not_converged_share == 0


def test_adam_hovering_at_a_minimum_counts_as_reaching_it():
    bm = basins(HIMMELBLAU, "adam", {"lr": 0.05}, *BOX, 24, 500)
    hovering = (bm.status == 0) & (bm.labels >= 0)
    assert hovering.any()  # the step rule never fired, yet the end sits at a minimum
    ends = bm.ends[hovering]
    at = bm.attractors[bm.labels[hovering]]
    assert np.all(np.hypot(*(ends - at).T) <= bm.tol)
    assert bm.n_attractors == 4 and bm.not_converged_share < 0.05


def test_large_learning_rate_diverges():
    bm = basins(HIMMELBLAU, "sgd", {"lr": 0.05}, *BOX, 16, 100)
    assert (bm.labels == DIVERGED).all()
    assert bm.diverged_share == 1.0 and bm.n_attractors == 0 and bm.shares.shape == (0,)
    assert np.isnan(bm.ends).all() and np.isnan(bm.end_values).all()
    assert bm.legend() == [(DIVERGED, "diverged", 1.0)]


def test_too_few_steps_is_not_converged():
    bm = basins(HIMMELBLAU, "sgd", {"lr": 1e-3}, *BOX, 10, 5)
    assert (bm.labels == NOT_CONVERGED).all()
    assert bm.not_converged_share == 1.0 and bm.n_attractors == 0
    assert (bm.status == 0).all() and (bm.stop == 5).all()
    assert np.isfinite(bm.ends).all()
    assert bm.legend()[-1] == (NOT_CONVERGED, "not converged after 5 steps", 1.0)


class _HalfNaN(Landscape):
    """A bowl around (-2, 0) for x < 0; NaN for x ≥ 0 (log of a non-positive number)."""

    name = "half_nan"
    default_domain = ((-4.0, 4.0), (-4.0, 4.0))

    def _f(self, x, y):
        return (x + 2) ** 2 + y * y + 0 * np.log(-x)

    def _g(self, x, y):
        nan = 0 * np.log(-x)
        return 2 * (x + 2) + nan, 2 * y + nan

    def _h(self, x, y):
        nan = 0 * np.log(-x)
        return 2 + nan, nan, 2 + nan


def test_nan_region_diverges_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bm = basins(_HalfNaN(), "adam", {"lr": 0.1}, (-4, 4), (-4, 4), 16, 300)
    right = bm.xs >= 0
    assert (bm.labels[:, right] == DIVERGED).all()
    assert (bm.stop[:, right] == 0).all()  # the start itself is invalid
    assert (bm.labels[:, ~right] == 0).all()
    np.testing.assert_allclose(bm.attractors, [(-2.0, 0.0)], atol=1e-9)
    assert bm.diverged_share == pytest.approx(0.5)


# -- arguments and progress --------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"grid": 1}, "grid must be a whole number from 2 to 1024, got 1"),
    ({"grid": 2000}, "grid must be a whole number from 2 to 1024"),
    ({"grid": 16.0}, "grid must be a whole number"),
    ({"grid": True}, "grid must be a whole number"),
    ({"steps": 0}, "steps must be a whole number >= 1"),
    ({"optimizer": "nope"}, "unknown optimizer 'nope'"),
    ({"hyper": {"lr": -1}}, "lr must be > 0"),
    ({"hyper": {"bogus": 1}}, "has no hyperparameter 'bogus'"),
    ({"xrange": (1, 1)}, "x range needs min < max"),
    ({"xrange": 5}, "x range must be two numbers"),
    ({"yrange": (0, float("nan"))}, "y range must be finite"),
    ({"noise": -1}, "noise must be >= 0"),
    ({"seed": -1}, "seed must be a whole number >= 0"),
    ({"schedule": "nope"}, "unknown schedule 'nope'"),
    ({"minima": [(1.0,)]}, "minima must be"),
    ({"minima": [(1.0, float("inf"))]}, "minima must be finite"),
    ({"chunk": 0}, "chunk must be a whole number >= 1"),
    ({"workers": 0}, "workers must be a whole number >= 1"),
])
def test_bad_arguments_raise_before_the_first_step(kwargs, message):
    args = {"landscape": HIMMELBLAU, "optimizer": "sgd", "hyper": {"lr": 0.01},
            "xrange": (-5, 5), "yrange": (-5, 5), "grid": 16, "steps": 10, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        iter_basins(**args)  # no next(): the call itself checks


def test_progress_counts_steps_up_to_the_total():
    gen = iter_basins(HIMMELBLAU, "adam", {"lr": 0.05}, *BOX, 16, 100, chunk=30)
    seen = []
    while True:
        try:
            seen.append(next(gen))
        except StopIteration as stop:
            bm = stop.value
            break
    assert seen == [(30, 100), (60, 100), (90, 100), (100, 100)]
    assert isinstance(bm, BasinMap)
    # the default yields about every 50 ms: a few times for a small map, each step count rising
    seen = list(iter_basins(HIMMELBLAU, "adam", {"lr": 0.05}, *BOX, 16, 300))
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == 300 and all(t == 300 for _, t in seen)


def test_all_starts_stopping_early_ends_progress_at_the_total():
    seen = list(iter_basins(HIMMELBLAU, "sgd", {"lr": 0.05}, *BOX, 8, 1000, chunk=10))
    assert seen[-1] == (1000, 1000) and len(seen) < 10
