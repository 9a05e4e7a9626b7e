"""Network slices as landscapes, their coarse-to-fine surfaces, projected training paths,
and the network job that builds them, against per-point forward passes and least squares."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lossviewer.compute.jobs import Partial, Progress
from lossviewer.compute.network_jobs import (
    NetworkRequest,
    NetworkSurfaceRequest,
    network_job,
    network_surface_job,
)
from lossviewer.core.directions import METHODS, DirectionSpec
from lossviewer.core.iteration import run_to_end
from lossviewer.core.network import ModelSpec
from lossviewer.core.network_landscape import (
    MAX_GRID_POINTS,
    NetworkLandscape,
    NetworkSurface,
    check_grid,
    iter_network_surface,
)
from lossviewer.core.training import TrainingConfig, TrainingRun
from lossviewer.core.trajectory import simulate

MOONS = {"n_samples": 80, "noise": 0.15}


def _request(method="filter", dtype="float64", model=None, run=None, steps=60):
    return NetworkRequest.create(
        "moons", MOONS, model=model or ModelSpec((8,), "tanh", "cross_entropy", 1e-3),
        training=TrainingConfig.create("adam", {"lr": 0.05}, steps=steps, checkpoint_every=3),
        directions=DirectionSpec(method), dtype=dtype, run=run)


def _slice(**kw):
    return run_to_end(network_job(_request(**kw)))


@pytest.fixture(scope="module")
def trained():
    return _slice()


@pytest.fixture(scope="module")
def pca():
    return _slice(method="pca")


@pytest.fixture(scope="module")
def interp():
    return _slice(method="interp")


def _direct_loss(sl, a, b, split="train"):
    X, y = sl.data(split)
    theta = sl.plane.center + a * sl.plane.d1 + b * sl.plane.d2
    net = sl.network
    f = net.forward(theta, X)
    return net.loss_value(theta, X, net.targets(y)), float(np.mean((f[:, 0] > 0) == (y == 1)))


# -- the slice as a landscape ---------------------------------------------------------------


def test_landscape_value_and_grad_agree_with_evaluator_and_backprop(trained):
    land = NetworkLandscape(trained)
    rng = np.random.default_rng(0)
    P = rng.uniform(-1, 1, (4, 3, 2))
    v = land.value(P)
    assert v.shape == (4, 3)
    ev = trained.evaluator("train", "float64")
    np.testing.assert_allclose(v, ev.evaluate(P[..., 0], P[..., 1])[0], rtol=1e-13)
    vg, g = land.value_and_grad(P)
    np.testing.assert_allclose(vg, v, rtol=1e-12)
    np.testing.assert_array_equal(land.grad(P), g)
    assert g.shape == (4, 3, 2)
    net = trained.network
    X, y = trained.data("train")
    t = net.targets(y)
    for p, val, gr in zip(P.reshape(-1, 2), v.ravel(), g.reshape(-1, 2), strict=True):
        theta = trained.plane.point(*p)
        L, full = net.loss_and_grad(theta, X, t)
        assert val == pytest.approx(L, rel=1e-10)
        np.testing.assert_allclose(gr, [full @ trained.plane.d1, full @ trained.plane.d2],
                                   rtol=1e-9, atol=1e-12)


def test_landscape_hessian_symmetric_and_matches_differences_of_grad(trained):
    land = NetworkLandscape(trained)
    rng = np.random.default_rng(1)
    P = rng.uniform(-0.8, 0.8, (5, 2))
    H = land.hess(P)
    assert H.shape == (5, 2, 2)
    np.testing.assert_array_equal(H[:, 0, 1], H[:, 1, 0])
    h = 1e-3
    ref = np.empty_like(H)
    for k in range(2):
        e = np.zeros(2)
        e[k] = h
        ref[:, k, :] = (land.grad(P + e) - land.grad(P - e)) / (2 * h)
    # the reference is not symmetrised: symmetry is a property of the true Hessian
    np.testing.assert_allclose(ref[:, 0, 1], ref[:, 1, 0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(H, ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())
    assert np.abs(H).max() > 1e-3
    # the scalar kernels give the same numbers
    hxx, hxy, hyy = land._h(P[:, 0], P[:, 1])
    np.testing.assert_allclose(np.stack([hxx, hxy, hyy], -1),
                               np.stack([H[:, 0, 0], H[:, 0, 1], H[:, 1, 1]], -1))


def test_landscape_minimum_domain_and_grid_values(trained):
    land = NetworkLandscape(trained)
    assert land.domain == ((-1.0, 1.0), (-1.0, 1.0))
    (m,) = land.minima()
    assert (m.x, m.y, m.kind) == (0.0, 0.0, "global")
    net = trained.network
    X, y = trained.data("train")
    assert m.value == pytest.approx(net.loss_value(trained.run.final, X, net.targets(y)),
                                    rel=1e-12)
    assert land.global_minimum() is None
    xs, ys = np.linspace(-1, 1, 5), np.linspace(-0.5, 0.5, 3)
    Z = land.grid_values(xs, ys)
    assert Z.shape == (3, 5)
    assert Z[2, 1] == pytest.approx(_direct_loss(trained, xs[1], ys[2])[0], rel=1e-12)
    assert "training cross-entropy loss" in land.formula
    val = NetworkLandscape(trained.with_split("val"))
    assert val.value(np.array([0.3, -0.2])) == pytest.approx(
        _direct_loss(trained, 0.3, -0.2, "val")[0], rel=1e-12)
    assert "validation" in val.formula


def test_optimizer_race_on_a_slice_goes_downhill(trained):
    land = NetworkLandscape(trained)
    start = np.array([[0.8, 0.8], [-0.7, 0.6]])
    for opt, hyper in [("sgd", {"lr": 0.1}), ("sgd", {"lr": 0.05, "momentum": 0.9}),
                       ("adam", {"lr": 0.05}), ("rmsprop", {"lr": 0.01})]:
        traj = simulate(land, opt, hyper, start, steps=40)
        assert traj.points.shape == (2, 41, 2)
        assert "diverged" not in traj.status
        assert np.all(traj.final_loss < traj.loss[:, 0]), (opt, hyper)
        # the recorded losses are the slice's values at the recorded points
        for i in range(2):
            np.testing.assert_allclose(traj.valid_loss(i), land.value(traj.valid_points(i)),
                                       rtol=1e-12)


# -- surfaces --------------------------------------------------------------------------------


def _run_surface(sl, xr, yr, res, dtype=None):
    gen = iter_network_surface(sl, xr, yr, res, dtype)
    progress, previews = [], []
    while True:
        try:
            step = next(gen)
        except StopIteration as stop:
            return stop.value, progress, previews
        if isinstance(step, NetworkSurface):
            previews.append((step.stride, {k: v.copy() for k, v in step.layers.items()},
                             step))
        else:
            progress.append(step)


@pytest.fixture(scope="module")
def square_surface(trained):
    return _run_surface(trained, (-1.0, 1.0), (-1.5, 0.5), 81)


def test_surface_previews_get_finer_and_keep_their_points(square_surface):
    final, progress, previews = square_surface
    strides = [s for s, _, _ in previews]
    assert strides == [4, 2, 1]
    assert final.stride == 1
    done = [d for d, _ in progress]
    assert done == sorted(done) and progress[-1] == (81 * 81, 81 * 81)  # grid points
    for stride, layers, surf in previews:
        assert surf.stride == stride
        for name, Z in layers.items():
            filled = np.isfinite(Z)
            want = np.zeros_like(filled)
            want[::stride, ::stride] = True
            np.testing.assert_array_equal(filled, want, err_msg=f"{name} at stride {stride}")
            # a point once computed is never computed again: previews hold final values
            np.testing.assert_array_equal(Z[want], final.layers[name][want])
        # what the views draw of a preview is the filled sub-grid
        s = surf.surface("train_loss")
        assert s.Z.shape == (len(range(0, 81, stride)),) * 2
        np.testing.assert_array_equal(s.xs, final.xs[::stride])


def _grid_reference(sl, xs, ys, split):
    """Loss and accuracy at every grid point: θ(a, b) set per point, one forward pass each
    (all points at once with einsum), binary cross-entropy written out."""
    X, y = sl.data(split)
    net = sl.network
    A, B = np.meshgrid(xs, ys)
    thetas = (sl.plane.center + A[..., None] * sl.plane.d1
              + B[..., None] * sl.plane.d2).reshape(-1, net.n_params)
    h = np.broadcast_to(X, (thetas.shape[0],) + X.shape)
    off = 0
    for i, (n_in, n_out) in enumerate(zip(net.sizes[:-1], net.sizes[1:], strict=True)):
        W = thetas[:, off:off + n_in * n_out].reshape(-1, n_out, n_in)
        off += n_in * n_out
        bias = thetas[:, off:off + n_out]
        off += n_out
        h = np.einsum("kni,kji->knj", h, W) + bias[:, None, :]
        if i < net.n_layers - 1:
            h = np.tanh(h)
    f = h[..., 0]
    loss = np.mean(np.logaddexp(0.0, f) - y * f, axis=1)
    loss += 0.5 * net.spec.l2 * np.sum(thetas * thetas, axis=1)
    acc = np.mean((f > 0) == (y == 1), axis=1)
    return loss.reshape(A.shape), acc.reshape(A.shape)


def test_surface_equals_direct_evaluation_of_every_point(trained, square_surface):
    final, _, _ = square_surface
    xs, ys = final.xs, final.ys
    np.testing.assert_array_equal(xs, np.linspace(-1, 1, 81))
    np.testing.assert_array_equal(ys, np.linspace(-1.5, 0.5, 81))
    assert final.meta["dtype"] == "float64" and final.meta["resolution"] == (81, 81)
    assert trained.network.spec.activation == "tanh" and trained.network.loss == "cross_entropy"
    for split in ("train", "val"):
        loss, acc = _grid_reference(trained, xs, ys, split)
        np.testing.assert_allclose(final.layers[f"{split}_loss"], loss, rtol=1e-10, atol=0)
        np.testing.assert_array_equal(final.layers[f"{split}_acc"], acc)
        # and a few points through the library's own per-point forward pass
        for j, i in [(0, 0), (80, 80), (40, 13), (7, 66)]:
            want, want_acc = _direct_loss(trained, xs[i], ys[j], split)
            assert final.layers[f"{split}_loss"][j, i] == pytest.approx(want, rel=1e-10)
            assert final.layers[f"{split}_acc"][j, i] == want_acc
    # validation layers come from the validation data
    assert np.abs(final.layers["val_loss"] - final.layers["train_loss"]).max() > 1e-3
    gap = final.surface("loss_gap")
    np.testing.assert_allclose(gap.Z, final.layers["val_loss"] - final.layers["train_loss"])
    assert gap.meta["layer"] == "loss_gap"
    assert final.non_finite() == 0


def test_rectangular_grid(trained):
    final, _, previews = _run_surface(trained, (-0.5, 1.5), (-1.0, 1.0), (30, 17), "float32")
    assert [p[0] for p in previews] == [1]
    for Z in final.layers.values():
        assert Z.shape == (17, 30)
    assert final.xs.shape == (30,) and final.ys.shape == (17,)
    for j, i in [(0, 0), (16, 29), (3, 20), (12, 5)]:
        for split in ("train", "val"):
            want, acc = _direct_loss(trained, final.xs[i], final.ys[j], split)
            assert final.layers[f"{split}_loss"][j, i] == pytest.approx(want, rel=1e-5)
            assert final.layers[f"{split}_acc"][j, i] == acc
    assert final.surface("val_acc").Z.shape == (17, 30)


def test_check_grid_refuses_too_large_grids(trained):
    assert check_grid(401) == (401, 401)
    assert check_grid((1001, 1001)) == (1001, 1001)
    assert MAX_GRID_POINTS == 1001 * 1001
    with pytest.raises(ValueError, match=re.escape(
            "a 1002×1002 grid has 1,004,004 points (its four layers alone take 31 MiB, "
            "each point a pass over the data); at most 1,002,001 points are supported")):
        check_grid(1002)
    with pytest.raises(ValueError, match=re.escape("a 2000×600 grid has 1,200,000 points")):
        check_grid((2000, 600))
    with pytest.raises(ValueError, match="resolution must be at least"):
        check_grid((4, 100))
    with pytest.raises(ValueError, match="1,004,004 points"):
        next(iter_network_surface(trained, (-1, 1), (-1, 1), 1002))
    with pytest.raises(ValueError, match="1,004,004 points"):
        NetworkSurfaceRequest.create(trained, (-1, 1), (-1, 1), 1002)
    with pytest.raises(ValueError, match="x range"):
        next(iter_network_surface(trained, (1, -1), (-1, 1), 10))


def test_surface_job_yields_partials_then_the_surface(trained):
    req = NetworkSurfaceRequest.create(trained, (-1, 1), (-1, 1), (80, 64))
    assert req.resolution == (80, 64) and req.dtype == "float64"
    gen = network_surface_job(req)
    partial_strides, fractions = [], []
    while True:
        try:
            step = next(gen)
        except StopIteration as stop:
            result = stop.value
            break
        if isinstance(step, Partial):
            partial_strides.append(step.value.stride)
        else:
            assert isinstance(step, Progress) and "Landscape 80×64" in step.text
            fractions.append(step.fraction)
    assert partial_strides == [2, 1]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert result.layers["train_loss"].shape == (64, 80)
    assert result.layers["train_loss"][10, 7] == pytest.approx(
        _direct_loss(trained, result.xs[7], result.ys[10])[0], rel=1e-10)


# -- projected training paths ------------------------------------------------------------------


def test_pca_path_projection_is_least_squares(pca):
    proj = pca.project_run()
    run = pca.run
    c, d1, d2 = pca.plane.center, pca.plane.d1, pca.plane.d2
    np.testing.assert_array_equal(c, run.final)
    B = np.stack([d1, d2], axis=1)
    T = run.checkpoints - c
    coords, *_ = np.linalg.lstsq(B, T.T, rcond=None)
    np.testing.assert_allclose(proj.coords, coords.T, rtol=1e-10, atol=1e-12)
    resid = np.linalg.norm(T - (B @ coords).T, axis=1)
    np.testing.assert_allclose(proj.distance, resid, rtol=1e-8, atol=1e-12)
    np.testing.assert_array_equal(proj.coords[-1], [0.0, 0.0])
    assert proj.distance[-1] == 0.0
    np.testing.assert_allclose(proj.offset, np.linalg.norm(T, axis=1), rtol=1e-14)
    np.testing.assert_array_equal(proj.steps, run.checkpoint_steps)
    # PCA directions are orthonormal and capture the explained share of the path:
    # Σ distance² = (1 − e1 − e2) · Σ offset²
    np.testing.assert_allclose(B.T @ B, np.eye(2), atol=1e-12)
    e1, e2 = pca.directions.info["explained"]
    assert np.sum(proj.distance**2) == pytest.approx((1 - e1 - e2) * np.sum(proj.offset**2),
                                                     rel=1e-8)
    assert np.all(proj.relative_distance <= 1 + 1e-12) and proj.relative_distance[-1] == 0
    # true loss at the checkpoints, the slice's loss under their projections
    X, y = pca.data("train")
    net = pca.network
    t = net.targets(y)
    np.testing.assert_allclose(proj.true_loss, [net.loss_value(th, X, t)
                                                for th in run.checkpoints], rtol=1e-12)
    np.testing.assert_allclose(proj.surface_loss, [_direct_loss(pca, a, b)[0]
                                                   for a, b in proj.coords], rtol=1e-10)
    np.testing.assert_allclose(
        proj.loss_gap, np.abs(proj.true_loss - proj.surface_loss) / np.abs(proj.true_loss))
    s = proj.summary()
    m = re.fullmatch(r"path off the plane: median (\d+) %, max (\d+) % of its distance from "
                     r"the centre; surface vs true loss: median ([\d.]+) %, max (\d+) %", s)
    assert m, s
    rd = proj.relative_distance
    assert int(m.group(1)) == round(100 * float(np.median(rd)))
    assert int(m.group(2)) == round(100 * float(rd.max()))
    assert float(m.group(3)) == pytest.approx(100 * np.median(proj.loss_gap), abs=0.05)
    # the domain widens to hold the whole projected path
    (x0, x1), (y0, y1) = pca.default_domain()
    assert x0 <= coords[0].min() and x1 >= coords[0].max()
    assert y0 <= coords[1].min() and y1 >= coords[1].max()


def test_interp_plane_holds_centre_init_and_second_solution(interp):
    proj = interp.project_run()
    run = interp.run
    np.testing.assert_array_equal(interp.plane.center, run.final)
    # the checkpoints run from the initialisation (step 0) to the centre (last)
    assert proj.steps[0] == 0 and proj.steps[-1] == run.steps_done
    np.testing.assert_allclose(proj.coords[-1], [0.0, 0.0], atol=1e-12)
    assert proj.distance[-1] < 1e-12
    np.testing.assert_allclose(proj.coords[0], [0.0, 1.0], atol=1e-10)
    assert proj.distance[0] < 1e-10 * np.linalg.norm(run.init)
    np.testing.assert_allclose(interp.plane.point(0, 1), run.init, rtol=1e-12, atol=1e-15)
    # (1, 0) is a second solution trained from another seed
    second = interp.plane.point(1, 0)
    assert np.linalg.norm(second - run.final) > 0.1
    X, y = interp.data("train")
    t = interp.network.targets(y)
    assert interp.network.loss_value(second, X, t) < 0.9 * run.train_loss[0]
    assert interp.default_domain() == ((-0.5, 1.5), (-0.5, 1.5))
    assert "%" in proj.summary()


# -- the network job ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(METHODS))
def test_network_job_each_direction_method(method):
    gen = network_job(_request(method=method, steps=20, dtype="float32"))
    fractions = []
    while True:
        try:
            fractions.append(next(gen).fraction)
        except StopIteration as stop:
            sl = stop.value
            break
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    net = sl.network
    assert net.sizes == (2, 8, 1)
    assert sl.plane.dim == net.n_params == 2 * 8 + 8 + 8 + 1
    for d in (sl.plane.d1, sl.plane.d2):
        assert d.shape == (net.n_params,) and np.all(np.isfinite(d)) and np.any(d)
    assert isinstance(sl.run, TrainingRun) and sl.run.steps_done == 20
    np.testing.assert_array_equal(sl.plane.center, sl.run.final)
    assert sl.directions.spec.method == method and sl.dtype == "float32"
    assert sl.dataset.name == "moons" and sl.dataset.params["n_samples"] == 80
    # the slice evaluates in its dtype
    land = NetworkLandscape(sl)
    assert land.grid_values(np.array([0.0, 0.5]), np.array([0.0])).shape == (1, 2)


def test_network_job_uses_a_given_run_and_refuses_another_models(trained):
    run = trained.run
    sl = _slice(method="random", run=run)
    assert sl.run is run
    np.testing.assert_array_equal(sl.plane.center, run.final)
    with pytest.raises(ValueError, match=re.escape(
            "the run has 33 parameters, the model MLP 2→4→1, relu, cross-entropy has 17: "
            "it was trained with another model")):
        _slice(model=ModelSpec((4,)), run=run)
