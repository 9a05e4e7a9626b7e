"""PlaneEvaluator's batched pass against one plain forward pass per point, and its plane
gradient against full backprop and finite differences."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lossviewer.core import plane_eval
from lossviewer.core.datasets import make_dataset
from lossviewer.core.directions import DirectionSpec, make_directions
from lossviewer.core.network import ModelSpec, Network
from lossviewer.core.plane_eval import BLOCK_ELEMENTS, CHUNK_ELEMENTS, Plane, PlaneEvaluator


def _argmax_accuracy(net, f, y):
    if net.task == "regression":
        return np.nan
    if net.n_classes == 2:
        pred = np.argmax(np.concatenate([np.zeros_like(f), f], axis=1), axis=1)
    else:
        pred = np.argmax(f, axis=1)
    return float(np.mean(pred == y))


def _direct(net, plane, X, y, a, b):
    """Set θ = centre + a·d1 + b·d2 and run one float64 forward pass."""
    theta = plane.center + a * plane.d1 + b * plane.d2
    f = net.forward(theta, np.asarray(X, np.float64))
    return net.loss_value(theta, X, net.targets(y)), _argmax_accuracy(net, f, y)


@pytest.fixture(scope="module")
def digits():
    return make_dataset("digits", n_samples=300, seed=0)


def _plane(net, seed, scale=1.0):
    theta = net.init_params(seed) * scale
    d = make_directions(DirectionSpec("filter", seed=seed, bias="normalize"), net, theta)
    return Plane(theta, d.d1, d.d2)


def _synthetic(n, n_in, n_classes, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    if n_classes == 0:
        return X, np.sin(X[:, 0]) + 0.1 * rng.standard_normal(n)
    return X, rng.integers(0, n_classes, n)


def _models(digits):
    """(name, network, X, y, chunk_elements): wide inputs, deep, binary, regression, linear."""
    Xd, yd = digits.X_train, digits.y_train
    out = []
    net = Network(ModelSpec((32,), "relu", "cross_entropy", 1e-3), 64, "classification", 10)
    out.append(("digits-64-32-10", net, Xd, yd, CHUNK_ELEMENTS))
    net = Network(ModelSpec((), "relu", "hinge", 0.0), 64, "classification", 10)
    out.append(("digits-linear-hinge", net, Xd, yd, 5000))
    X, y = _synthetic(500, 784, 3, seed=1)
    net = Network(ModelSpec((32,), "tanh", "mse", 0.01), 784, "classification", 3)
    # 20 points per chunk: with 500 samples × 32 units a chunk is blocked by samples too
    out.append(("synthetic-784-32-3", net, X, y, 20 * 500 * 32))
    X, y = _synthetic(120, 2, 2, seed=2)
    net = Network(ModelSpec((8, 6), "gelu", "hinge", 0.05), 2, "classification", 2)
    out.append(("binary-8-6-gelu", net, X, y, 3 * 120 * 8))
    X, y = _synthetic(90, 1, 0, seed=3)
    net = Network(ModelSpec((6,), "sigmoid", "mse", 0.0), 1, "regression", 0)
    out.append(("regression-6", net, X, y, 1))
    return out


MODEL_NAMES = ["digits-64-32-10", "digits-linear-hinge", "synthetic-784-32-3",
               "binary-8-6-gelu", "regression-6"]


@pytest.fixture(scope="module")
def models(digits):
    return {m[0]: m[1:] for m in _models(digits)}


def _blocks_per_chunk(ev, k):
    """How many sample blocks a chunk of k points is cut into (the rule in plane_eval)."""
    block = min(ev.n, max(16, plane_eval.BLOCK_ELEMENTS // max(k * ev.widest, 1)))
    return -(-ev.n // block)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_batched_evaluate_equals_direct_per_point(models, name):
    net, X, y, chunk = models[name]
    plane = _plane(net, seed=4)
    rng = np.random.default_rng(5)
    a, b = rng.uniform(-1, 1, 24), rng.uniform(-1, 1, 24)
    want = np.array([_direct(net, plane, X, y, ai, bi) for ai, bi in zip(a, b, strict=True)])
    ev64 = PlaneEvaluator(net, X, y, plane, "float64", chunk_elements=chunk)
    loss, acc = ev64.evaluate(a, b)
    assert loss.shape == acc.shape == (24,)
    np.testing.assert_allclose(loss, want[:, 0], rtol=1e-10, atol=0)
    np.testing.assert_array_equal(acc, want[:, 1])
    ev32 = PlaneEvaluator(net, X, y, plane, "float32", chunk_elements=chunk)
    loss32, acc32 = ev32.evaluate(a, b)
    assert loss32.dtype == np.float64
    np.testing.assert_allclose(loss32, want[:, 0], rtol=1e-5, atol=0)
    np.testing.assert_array_equal(acc32, want[:, 1])
    # the evaluator's own per-point reference in its dtype agrees too
    for i in range(0, 24, 6):
        d_loss, d_acc = ev32.direct(a[i], b[i])
        assert d_loss == pytest.approx(want[i, 0], rel=1e-5)
        assert d_acc == acc32[i] or (np.isnan(d_acc) and np.isnan(acc32[i]))
    # the loss must vary over the plane, or the comparison proves little
    assert np.ptp(want[:, 0]) > 0.01 * np.abs(want[:, 0]).max()


def test_wide_synthetic_is_chunked_and_blocked(models):
    net, X, y, chunk = models["synthetic-784-32-3"]
    ev = PlaneEvaluator(net, X, y, _plane(net, 4), "float32", chunk_elements=chunk)
    k = ev.chunk_points()
    assert k == 20 < 24
    assert [s.stop - s.start for s in ev.chunks(24)] == [20, 4]
    # the full chunk is cut into several sample blocks, the short one is not
    assert _blocks_per_chunk(ev, 20) == 3
    assert _blocks_per_chunk(ev, 4) == 1
    assert CHUNK_ELEMENTS // (500 * 32) > 24 and BLOCK_ELEMENTS < 20 * 500 * 32


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_results_do_not_depend_on_chunks_or_blocks(models, monkeypatch, dtype):
    net, X, y, _ = models["binary-8-6-gelu"]
    plane = _plane(net, 6)
    a, b = np.meshgrid(np.linspace(-1, 1, 9), np.linspace(-0.5, 1.5, 7))
    ref_loss, ref_acc = PlaneEvaluator(net, X, y, plane, dtype).evaluate(a, b)
    assert ref_loss.shape == (7, 9)
    # one point per chunk, and blocks of 16 samples (120 = 7·16 + 8: a short last block)
    monkeypatch.setattr(plane_eval, "BLOCK_ELEMENTS", 1)
    ev = PlaneEvaluator(net, X, y, plane, dtype, chunk_elements=1)
    assert ev.chunk_points() == 1
    loss, acc = ev.evaluate(a, b)
    tol = 1e-12 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(loss, ref_loss, rtol=tol, atol=0)
    np.testing.assert_array_equal(acc, ref_acc)
    want = np.array([_direct(net, plane, X, y, ai, bi)[0] for ai, bi in zip(a.ravel(), b.ravel(),
                                                                          strict=True)])
    np.testing.assert_allclose(loss.ravel(), want, rtol=1e-10 if dtype == "float64" else 1e-5)


def test_evaluate_broadcasts_and_keeps_shape(models):
    net, X, y, _ = models["regression-6"]
    plane = _plane(net, 7)
    ev = PlaneEvaluator(net, X, y, plane, "float64")
    loss, acc = ev.evaluate(np.linspace(-1, 1, 5)[:, None], np.linspace(-1, 1, 4)[None, :])
    assert loss.shape == acc.shape == (5, 4)
    assert np.isnan(acc).all()
    assert loss[2, 1] == pytest.approx(
        _direct(net, plane, X, y, 0.0, np.linspace(-1, 1, 4)[1])[0], rel=1e-12)
    scalar, _ = ev.evaluate(0.25, -0.5)
    assert scalar.shape == ()


# -- the plane gradient -------------------------------------------------------------------


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_plane_gradient_is_projected_backprop(models, name):
    net, X, y, chunk = models[name]
    plane = _plane(net, seed=8)
    t = net.targets(y)
    rng = np.random.default_rng(9)
    a, b = rng.uniform(-1, 1, 7), rng.uniform(-1, 1, 7)
    ev = PlaneEvaluator(net, X, y, plane, "float64", chunk_elements=chunk)
    value, grad = ev.value_and_grad(a, b)
    assert value.shape == (7,) and grad.shape == (7, 2)
    for i in range(7):
        theta = plane.center + a[i] * plane.d1 + b[i] * plane.d2
        L, g = net.loss_and_grad(theta, X, t)
        assert value[i] == pytest.approx(L, rel=1e-10)
        want = np.array([g @ plane.d1, g @ plane.d2])
        np.testing.assert_allclose(grad[i], want, rtol=1e-9, atol=1e-12 * np.abs(want).max())
    np.testing.assert_allclose(value, ev.evaluate(a, b)[0], rtol=1e-12)


@pytest.mark.parametrize("name", ["synthetic-784-32-3", "binary-8-6-gelu", "regression-6"])
def test_plane_gradient_matches_differences_of_evaluate(models, name):
    # smooth activations (tanh, GELU, sigmoid): no kinks between the difference points
    net, X, y, chunk = models[name]
    plane = _plane(net, seed=10)
    ev = PlaneEvaluator(net, X, y, plane, "float64", chunk_elements=chunk)
    rng = np.random.default_rng(11)
    a, b = rng.uniform(-1, 1, 5), rng.uniform(-1, 1, 5)
    if name == "binary-8-6-gelu":
        # hinge has kinks; keep to points where none is within reach of the step
        a, b = a * 0.1, b * 0.1
    _, grad = ev.value_and_grad(a, b)
    h = 1e-5
    ga = (ev.evaluate(a + h, b)[0] - ev.evaluate(a - h, b)[0]) / (2 * h)
    gb = (ev.evaluate(a, b + h)[0] - ev.evaluate(a, b - h)[0]) / (2 * h)
    fd = np.stack([ga, gb], axis=-1)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7 * np.abs(grad).max())


def test_plane_gradient_of_regularisation_alone():
    # a network whose data term is constant along the plane: only l2/2|θ|² changes
    net = Network(ModelSpec((3,), "tanh", "mse", 0.4), 2, "regression", 0)
    rng = np.random.default_rng(12)
    c = rng.standard_normal(net.n_params)
    d1 = np.zeros(net.n_params)
    d2 = np.zeros(net.n_params)
    d1[net.layout.block("layers.0.weight").slice] = 1.0   # X = 0: first weights do nothing
    d2[net.layout.block("layers.0.weight").slice.start] = -2.0
    ev = PlaneEvaluator(net, np.zeros((4, 2)), np.ones(4), Plane(c, d1, d2), "float64")
    a, b = np.array([0.3, -1.0]), np.array([0.7, 0.2])
    value, grad = ev.value_and_grad(a, b)
    for i in range(2):
        th = c + a[i] * d1 + b[i] * d2
        np.testing.assert_allclose(grad[i], [0.4 * th @ d1, 0.4 * th @ d2], rtol=1e-12)
    diff = value - ev.evaluate(0.0, 0.0)[0]
    want = [0.2 * (np.sum((c + a[i] * d1 + b[i] * d2) ** 2) - np.sum(c**2)) for i in range(2)]
    np.testing.assert_allclose(diff, want, rtol=1e-10)


# -- projecting onto the plane -------------------------------------------------------------


def test_project_recovers_in_plane_coordinates_and_off_plane_distance():
    rng = np.random.default_rng(13)
    D = 60
    c = rng.standard_normal(D)
    d1 = rng.standard_normal(D)
    d2 = 0.6 * d1 + rng.standard_normal(D)          # far from orthogonal to d1
    plane = Plane(c, d1, d2)
    ab = rng.uniform(-3, 3, (10, 2))
    pts = plane.points(ab)
    np.testing.assert_allclose(pts[3], plane.point(*ab[3]), rtol=1e-15)
    coords, dist = plane.project(pts)
    np.testing.assert_allclose(coords, ab, rtol=1e-10, atol=1e-12)
    assert dist.shape == (10,) and np.all(dist < 1e-10 * np.linalg.norm(pts, axis=1))
    # off the plane: add a vector orthogonal to both directions
    B = np.stack([d1, d2], axis=1)
    r = rng.standard_normal((10, D))
    normal = r - (B @ np.linalg.solve(B.T @ B, B.T @ r.T)).T
    assert np.abs(normal @ B).max() < 1e-10
    coords, dist = plane.project(pts + normal)
    np.testing.assert_allclose(coords, ab, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dist, np.linalg.norm(normal, axis=1), rtol=1e-10)
    # arbitrary points: the normal equations and the residual norm
    q = rng.standard_normal((5, D)) * 3
    coords, dist = plane.project(q)
    want = np.linalg.solve(B.T @ B, B.T @ (q - c).T).T
    np.testing.assert_allclose(coords, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dist, np.linalg.norm(q - c - want @ B.T, axis=1), rtol=1e-10)
    # one point as a plain vector
    c1, d1_ = plane.project(pts[0])
    assert c1.shape == (1, 2) and d1_.shape == (1,)


# -- errors ------------------------------------------------------------------------------------


def test_plane_rejects_bad_directions():
    c = np.zeros(4)
    with pytest.raises(ValueError, match="the centre must be a parameter vector"):
        Plane(np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="direction d1 has 3 entries, the model has 4 parameters"):
        Plane(c, np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="direction d2 has 5 entries, the model has 4 parameters"):
        Plane(c, np.ones(4), np.ones(5))
    with pytest.raises(ValueError, match="direction d2 is not finite"):
        Plane(c, np.ones(4), np.array([1, 2, np.nan, 0]))
    p = Plane([1, 2, 3, 4], [0, 1, 0, 0], [0, 0, 1, 0])
    assert p.center.dtype == np.float64 and p.dim == 4


def test_evaluator_rejects_mismatched_model_data_and_dtype(models):
    net, X, y, _ = models["digits-64-32-10"]
    other = Network(ModelSpec((16,)), 64, "classification", 10)
    plane = _plane(other, 1)
    with pytest.raises(ValueError, match=re.escape(
            f"the plane has {other.n_params} parameters, the model {net.n_params}: "
            "the directions belong to another model")):
        PlaneEvaluator(net, X, y, plane)
    good = _plane(net, 1)
    with pytest.raises(ValueError, match="the model takes 64 input features, the data has 63"):
        PlaneEvaluator(net, X[:, :63], y, good)
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        PlaneEvaluator(net, X, y, good, "float16")


@pytest.mark.parametrize("n_labels", [1, 7])
def test_evaluator_rejects_labels_of_another_length(n_labels):
    # one label would otherwise broadcast silently over every sample
    net = Network(ModelSpec((4,), "tanh"), 2, "classification", 2)
    X, y = _synthetic(10, 2, 2, seed=0)
    with pytest.raises(ValueError, match=f"10 samples but {n_labels} labels"):
        PlaneEvaluator(net, X, y[:n_labels], _plane(net, 0))
