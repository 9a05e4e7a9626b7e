"""simulate / simulate_iter: shapes, stopping rules, noise, batching, validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import lossviewer.core.trajectory as trajectory_module
from lossviewer.core.landscape import Landscape
from lossviewer.core.optimizers import make_optimizer
from lossviewer.core.schedules import lr_schedule
from lossviewer.core.trajectory import Trajectory, simulate, simulate_iter


class Quadratic(Landscape):
    """f = ½ [a (x−x0)² + 2b (x−x0)(y−y0) + c (y−y0)²]: Hessian [[a, b], [b, c]]."""

    name = "test_quadratic"
    title = "Quadratic"
    default_domain = ((-2.0, 2.0), (-2.0, 2.0))

    def __init__(self, a=1.0, b=0.0, c=1.0, x0=0.0, y0=0.0):
        self.k = (a, b, c, x0, y0)
        super().__init__()

    def _f(self, x, y):
        a, b, c, x0, y0 = self.k
        u, v = x - x0, y - y0
        return 0.5 * (a * u * u + 2 * b * u * v + c * v * v)

    def _g(self, x, y):
        a, b, c, x0, y0 = self.k
        u, v = x - x0, y - y0
        return a * u + b * v, b * u + c * v

    def _h(self, x, y):
        a, b, c, _, _ = self.k
        one = np.ones(np.shape(x))
        return a * one, b * one, c * one


class OverridingQuadratic(Quadratic):
    """Same numbers through overridden public methods (a 'network' style landscape)."""

    calls = 0

    def value_and_grad(self, P):
        self.calls += 1
        P = np.asarray(P, dtype=float)
        gx, gy = self._g(P[..., 0], P[..., 1])
        return self._f(P[..., 0], P[..., 1]), np.stack([gx, gy], axis=-1)


def rosenbrock():
    functions = pytest.importorskip("lossviewer.core.functions")
    return functions.make_landscape("rosenbrock")


@pytest.fixture(params=["lists", "arrays"])
def path(request, monkeypatch):
    """Run each test on the pure-Python small-batch path and on the numpy path."""
    if request.param == "arrays":
        monkeypatch.setattr(trajectory_module, "LIST_PATH_MAX_ROWS", 0)
    return request.param


def test_shapes_and_fields(path):
    L = Quadratic(a=2.0, c=0.5, x0=0.3)
    starts = np.array([[1.0, 1.0], [-1.5, 0.5], [0.2, -1.0]])
    tr = simulate(L, "adam", {"lr": 0.05}, starts, 40, schedule="cosine")
    assert isinstance(tr, Trajectory)
    assert tr.points.shape == (3, 41, 2) and tr.loss.shape == (3, 41)
    assert tr.grad_norm.shape == (3, 41) and tr.lr.shape == (40,)
    assert tr.status == ("finished",) * 3 and tr.stop.tolist() == [40] * 3
    assert tr.n_paths == 3 and tr.steps == 40 and tr.optimizer == "adam"
    assert tr.hyper["lr"] == 0.05 and tr.hyper["betas"] == (0.9, 0.999)
    np.testing.assert_array_equal(tr.points[:, 0], starts)
    np.testing.assert_allclose(tr.loss, L.value(tr.points), rtol=1e-14)
    np.testing.assert_allclose(tr.grad_norm, np.linalg.norm(L.grad(tr.points), axis=-1), rtol=1e-14)
    np.testing.assert_array_equal(tr.lr, lr_schedule("cosine", 0.05, 40))
    np.testing.assert_array_equal(tr.valid_points(1), tr.points[1])
    np.testing.assert_array_equal(tr.final_points, tr.points[:, -1])
    np.testing.assert_array_equal(tr.final_loss, tr.loss[:, -1])


def test_path_is_the_optimizer_applied_to_the_gradient(path):
    L = Quadratic(a=3.0, b=1.0, c=2.0, x0=0.5, y0=-0.5)
    start = np.array([[1.5, 1.0]])
    hyper = {"lr": 0.05, "momentum": 0.9, "nesterov": True}
    lrs = lr_schedule("step", 0.05, 30, step_size=10, gamma=0.5)
    tr = simulate(L, "sgd", hyper, start, 30, "step", {"step_size": 10, "gamma": 0.5})
    opt = make_optimizer("sgd", (1, 2), **hyper)
    p = start.copy()
    want = [p.copy()]
    for k in range(30):
        opt.step(p, L.grad(p), lrs[k])
        want.append(p.copy())
    np.testing.assert_allclose(tr.points[0], np.concatenate(want), rtol=1e-14, atol=1e-16)


def test_list_and_array_paths_agree(monkeypatch):
    L = rosenbrock()
    starts = np.array([[-1.5, 2.0], [0.5, -0.5]])
    for name, hyper in [("adam", {"lr": 1e-2}), ("rmsprop", {"centered": True}), ("newton", {})]:
        a = simulate(L, name, hyper, starts, 300, "onecycle", noise=0.1, seed=3)
        monkeypatch.setattr(trajectory_module, "LIST_PATH_MAX_ROWS", 0)
        b = simulate(L, name, hyper, starts, 300, "onecycle", noise=0.1, seed=3)
        monkeypatch.undo()
        assert a.status == b.status and a.stop.tolist() == b.stop.tolist()
        np.testing.assert_allclose(a.points, b.points, rtol=1e-9, atol=1e-12, equal_nan=True)


def _first_invalid_sgd(L, start, lr, steps):
    """Index of the first point of plain SGD that the divergence rule refuses."""
    limit = 1e6 * 4.0
    p = np.array(start, dtype=float)
    with np.errstate(all="ignore"):
        for k in range(steps + 1):
            f = float(L.value(p))
            g = L.grad(p)
            if not (
                np.isfinite(f)
                and abs(f) <= 1e30
                and np.all(np.abs(p) <= limit)
                and np.isfinite(g).all()
            ):
                return k
            p = p - lr * g
    return None


def test_divergence_is_caught_quietly(path):
    L = Quadratic(a=1.0, c=10.0)
    starts = np.array([[1.0, 1.0], [0.5, 0.0]])  # row 1 has no y-component: stable
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = simulate(L, "sgd", {"lr": 0.5}, starts, 200)
    assert tr.status == ("diverged", "converged")
    bad = _first_invalid_sgd(L, starts[0], 0.5, 200)  # |1 − 0.5·10| = 4 per step
    assert bad is not None and tr.stop[0] == bad - 1
    s = tr.stop[0]
    assert np.all(np.isfinite(tr.points[0, : s + 1])) and np.all(np.isfinite(tr.loss[0, : s + 1]))
    assert np.all(np.isnan(tr.points[0, s + 1 :])) and np.all(np.isnan(tr.loss[0, s + 1 :]))
    assert np.all(np.isnan(tr.grad_norm[0, s + 1 :]))
    assert np.abs(tr.points[0, s]).max() <= 4e6 and tr.valid_points(0).shape == (s + 1, 2)
    assert 20 < tr.stop[1] < 200


def test_rosenbrock_huge_lr_diverges_to_overflow(path):
    L = rosenbrock()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = simulate(L, "sgd", {"lr": 1.0}, [[-1.5, 2.0]], 1000)
    assert tr.status == ("diverged",)
    bad = _first_invalid_sgd(L, [-1.5, 2.0], 1.0, 1000)
    assert tr.stop[0] == bad - 1 and bad <= 3
    assert np.isnan(tr.points[0, -1]).all()


def test_start_beyond_the_limit_is_diverged_at_zero(path):
    tr = simulate(Quadratic(), "sgd", {}, [[1e7, 0.0], [0.1, 0.1]], 5)
    assert tr.status == ("diverged", "finished") and tr.stop.tolist() == [0, 5]
    np.testing.assert_array_equal(tr.points[0, 0], [1e7, 0.0])
    assert np.isnan(tr.points[0, 1:]).all()


def test_zero_denominator_in_python_floats_falls_back_to_numpy(path):
    # Adam with eps = 0 at a stationary point: 0/0, which Python floats refuse
    L = Quadratic()
    tr = simulate(L, "adam", {"eps": 0.0}, [[0.0, 0.0], [1.0, 1.0]], 20, chunk=5)
    assert tr.status[0] == "diverged" and tr.stop[0] == 0
    assert tr.status[1] == "finished"
    want = simulate(L, "adam", {"eps": 0.0}, [[1.0, 1.0]], 20)
    np.testing.assert_allclose(tr.points[1], want.points[0], rtol=1e-14)


def test_newton_converges_in_one_step(path):
    L = Quadratic(a=3.0, b=1.0, c=2.0, x0=0.5, y0=-0.25)
    tr = simulate(L, "newton", {"damping": 0.0}, [[1.5, 1.0], [-1.0, 0.3]], 100)
    assert tr.status == ("converged", "converged") and tr.stop.tolist() == [1, 1]
    np.testing.assert_allclose(tr.final_points, [[0.5, -0.25]] * 2, atol=1e-14)
    assert np.isnan(tr.points[:, 2:]).all()


def test_gradient_descent_converges_on_quadratic(path):
    L = Quadratic(a=1.0, c=2.0)
    tr = simulate(L, "sgd", {"lr": 0.4}, [[1.0, -1.0]], 1000)
    assert tr.status == ("converged",)
    s = tr.stop[0]
    assert 10 < s < 200 and tr.grad_norm[0, s] < 1e-8
    # the step from `stop` (0.4·‖g‖) is below 1e-10 × domain size 4; not so one earlier
    assert 0.4 * tr.grad_norm[0, s] <= 4e-10 < 0.4 * tr.grad_norm[0, s - 1]
    assert np.isnan(tr.points[0, s + 1 :]).all()


class FlatLeft(Landscape):
    """f = ½ max(x, 0)²: a bowl wall for x > 0, perfectly flat for x ≤ 0."""

    name = "test_flat_left"
    default_domain = ((-2.0, 2.0), (-2.0, 2.0))

    def _f(self, x, y):
        return 0.5 * np.maximum(x, 0.0) ** 2 + 0.0 * y

    def _g(self, x, y):
        return np.maximum(x, 0.0), 0.0 * y

    def _h(self, x, y):
        return (x > 0) * 1.0, 0.0 * y, 0.0 * y


def test_momentum_across_a_flat_region_converges_only_once_it_settles(path):
    tr = simulate(FlatLeft(), "sgd", {"lr": 0.5, "momentum": 0.9}, [[1.0, 0.0]], 1000)
    assert tr.status == ("converged",)
    s = tr.stop[0]
    first_flat = int(np.argmax(tr.points[0, :, 0] <= 0))
    assert 0 < first_flat < s  # zero gradient from first_flat on, but still rolling
    assert tr.grad_norm[0, first_flat] == 0
    assert np.abs(tr.points[0, first_flat + 1, 0] - tr.points[0, first_flat, 0]) > 1e-3
    # the heavy ball's steps shrink by 0.9 per step until below 4e-10
    assert np.abs(np.diff(tr.points[0, s - 1 : s + 1, 0]))[0] > 4e-10
    # starting at rest on the flat: converged at once
    tr = simulate(FlatLeft(), "sgd", {"lr": 0.1, "momentum": 0.9}, [[-1.0, 0.0]], 10)
    assert tr.status == ("converged",) and tr.stop[0] == 0


def test_noise_is_seeded(path):
    L = Quadratic(a=1.0, c=3.0)
    start = [[1.0, 1.0]]
    a = simulate(L, "sgd", {"lr": 0.05}, start, 100, noise=0.5, seed=1)
    b = simulate(L, "sgd", {"lr": 0.05}, start, 100, noise=0.5, seed=1, chunk=7)
    c = simulate(L, "sgd", {"lr": 0.05}, start, 100, noise=0.5, seed=2)
    clean = simulate(L, "sgd", {"lr": 0.05}, start, 100)
    np.testing.assert_array_equal(a.points, b.points)  # chunking does not change the draws
    assert not np.allclose(a.points, c.points)
    assert not np.allclose(a.points, clean.points)
    # the reported loss is the true loss at the (noisy) points
    np.testing.assert_allclose(a.loss, L.value(a.points), rtol=1e-14)
    # the noise is exactly N(0, noise²) from default_rng(seed), added to the gradient
    z = np.random.default_rng(1).standard_normal((100, 1, 2)) * 0.5
    p = np.array(start)
    for k in range(100):
        p = p - 0.05 * (L.grad(p) + z[k])
    np.testing.assert_allclose(a.points[0, -1], p[0], rtol=1e-12)


def test_batch_equals_separate_runs(path):
    L = rosenbrock()
    starts = np.array([[-1.5, 2.0], [0.0, 0.0], [1.2, -0.5]])
    for name, hyper in [("adam", {"lr": 0.01}), ("nadam", {}), ("newton", {})]:
        batch = simulate(L, name, hyper, starts, 500, "warmup_cosine")
        for i in range(3):
            one = simulate(L, name, hyper, starts[i : i + 1], 500, "warmup_cosine")
            assert batch.status[i] == one.status[0] and batch.stop[i] == one.stop[0]
            np.testing.assert_allclose(
                batch.points[i], one.points[0], rtol=1e-12, atol=1e-14, equal_nan=True
            )


def test_large_batch_uses_arrays_and_matches_small_batches():
    L = Quadratic(a=2.0, b=0.5, c=1.0)
    rng = np.random.default_rng(0)
    starts = rng.uniform(-2, 2, (40, 2))
    big = simulate(L, "rmsprop", {"momentum": 0.5}, starts, 100)
    small = simulate(L, "rmsprop", {"momentum": 0.5}, starts[:4], 100)
    np.testing.assert_allclose(big.points[:4], small.points, rtol=1e-12, atol=1e-15)


def test_generator_reports_progress_and_returns_trajectory(path):
    gen = simulate_iter(Quadratic(a=0.1, c=0.1), "sgd", {"lr": 0.01}, [[1.0, 1.0]], 1000, chunk=300)
    done = []
    with pytest.raises(StopIteration) as stop:
        while True:
            done.append(next(gen))
    assert done == [300, 600, 900, 1000]
    assert isinstance(stop.value.value, Trajectory)
    # cancelling between chunks is just dropping the generator
    gen = simulate_iter(Quadratic(), "sgd", {}, [[1.0, 1.0]], 1000, chunk=100)
    assert next(gen) == 100
    gen.close()


def test_generator_stops_early_when_every_row_is_done(path):
    gen = simulate_iter(Quadratic(), "newton", {}, [[1.0, 1.0]], 1000, chunk=100)
    done = list(gen)
    assert done == []  # converged inside the first chunk


def test_overridden_landscape_methods_are_used(path):
    starts = [[1.0, -1.0], [0.5, 0.5]]
    L = OverridingQuadratic(a=2.0)
    a = simulate(L, "adam", {"lr": 0.1}, starts, 50)
    assert L.calls == 51
    b = simulate(Quadratic(a=2.0), "adam", {"lr": 0.1}, starts, 50)
    np.testing.assert_allclose(a.points, b.points, rtol=1e-13)


def test_single_start_as_a_flat_pair():
    tr = simulate(Quadratic(), "sgd", {}, [0.5, 0.5], 3)
    assert tr.points.shape == (1, 4, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"starts": [[np.nan, 0.0]]}, r"start point 0 is not finite"),
        ({"starts": [[0.0, 0.0], [1.0, np.inf]]}, r"start point 1 is not finite"),
        ({"starts": [[0.0, 0.0, 0.0]]}, r"starts must have shape \(B, 2\)"),
        ({"starts": np.zeros((0, 2))}, r"starts must have shape \(B, 2\)"),
        ({"starts": "here"}, r"starts must be numbers"),
        ({"steps": 0}, "steps must be a whole number >= 1, got 0"),
        ({"steps": 10.5}, "steps must be a whole number >= 1"),
        ({"optimizer": "adamz"}, r"unknown optimizer 'adamz'; known: sgd"),
        ({"hyper": {"lr": -1}}, "lr must be > 0, got -1"),
        ({"hyper": {"gamma": 1}}, "SGD has no hyperparameter 'gamma'"),
        ({"schedule": "linear"}, "unknown schedule 'linear'"),
        ({"schedule": "step", "schedule_params": {"step_size": -1}}, "step_size must be >= 1"),
        ({"noise": -0.1}, "noise must be >= 0"),
        ({"noise": np.nan}, "noise must be >= 0"),
        ({"seed": -1}, "seed must be a whole number >= 0"),
        ({"chunk": 0}, "chunk must be a whole number >= 1"),
    ],
)
def test_bad_input_raises_at_call_time(kwargs, message):
    args = {"starts": [[0.0, 0.0]], "steps": 10, "optimizer": "sgd", "hyper": {}} | kwargs
    with pytest.raises(ValueError, match=message):
        simulate_iter(Quadratic(), **args)  # raises before the first next()


def test_small_batches_on_plain_landscapes_take_the_list_path(monkeypatch):
    calls = []
    original = trajectory_module._list_chunk_runner

    def spy(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(trajectory_module, "_list_chunk_runner", spy)
    simulate(Quadratic(), "adam", {}, [[1.0, 1.0]], 10)
    assert calls
    calls.clear()
    simulate(Quadratic(), "adam", {}, np.ones((trajectory_module.LIST_PATH_MAX_ROWS + 1, 2)), 10)
    simulate(OverridingQuadratic(), "adam", {}, [[1.0, 1.0]], 10)
    assert not calls
