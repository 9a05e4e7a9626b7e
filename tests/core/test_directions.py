"""Landscape directions against independent numpy references (norms, eigh, dense Hessians)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lossviewer.core.datasets import make_dataset
from lossviewer.core.directions import (
    BIAS_MODES,
    METHODS,
    Directions,
    DirectionSpec,
    filter_normalize,
    finite_difference_hvp,
    hessian_top_eigenpairs,
    interpolation_directions,
    layer_normalize,
    make_directions,
    orthogonalize,
    pca_directions,
    random_direction,
)
from lossviewer.core.network import ModelSpec, Network


@pytest.fixture(scope="module")
def moons():
    return make_dataset("moons", seed=0)


@pytest.fixture(scope="module")
def net(moons):
    return Network.for_dataset(ModelSpec((8, 6), "tanh"), moons)


@pytest.fixture(scope="module")
def theta(net):
    return net.init_params(3)


@pytest.fixture(scope="module")
def run(net, moons, theta):
    """Plain gradient descent from θ: (checkpoints before the end, final point)."""
    t = net.targets(moons.y_train)
    path = [theta.copy()]
    for _ in range(40):
        path.append(path[-1] - 0.5 * net.loss_and_grad(path[-1], moons.X_train, t)[1])
    return np.array(path[:-1]), path[-1]


def _rows(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return a.reshape(shape).reshape(shape[0], -1)


def _same_up_to_sign(a: np.ndarray, b: np.ndarray, atol: float) -> None:
    s = np.sign(a @ b)
    np.testing.assert_allclose(s * a, b, rtol=0, atol=atol)


def test_registries():
    assert list(METHODS) == ["random", "filter", "layer", "pca", "hessian", "interp"]
    assert all(isinstance(v, str) and v for v in METHODS.values())
    assert BIAS_MODES == ("zero", "copy", "normalize")


def test_random_direction_is_seeded_standard_normal():
    a = random_direction(200_000, np.random.default_rng(5))
    b = random_direction(200_000, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (200_000,)
    assert abs(a.mean()) < 0.01 and abs(a.std() - 1.0) < 0.01


# -- normalisation --------------------------------------------------------------------


@pytest.mark.parametrize("bias", BIAS_MODES)
def test_filter_normalize_row_norms_and_biases(net, theta, bias):
    d = np.random.default_rng(1).standard_normal(net.n_params)
    d_in = d.copy()
    out = filter_normalize(d, theta, net.layout, bias)
    np.testing.assert_array_equal(d, d_in)  # a new array; the input is untouched
    for b in net.layout.blocks:
        o, t, di = out[b.slice], theta[b.slice], d[b.slice]
        if b.role == "weight":
            ro, rt, rd = _rows(o, b.shape), _rows(t, b.shape), _rows(di, b.shape)
            np.testing.assert_allclose(np.linalg.norm(ro, axis=1), np.linalg.norm(rt, axis=1),
                                       rtol=0, atol=1e-12)
            # each row is a positive multiple of the same row of d
            scale = np.linalg.norm(rt, axis=1) / np.linalg.norm(rd, axis=1)
            np.testing.assert_allclose(ro, rd * scale[:, None], rtol=1e-13, atol=0)
        elif bias == "zero":
            np.testing.assert_array_equal(o, 0.0)
        elif bias == "copy":
            np.testing.assert_array_equal(o, t)
        else:
            assert np.linalg.norm(o) == pytest.approx(np.linalg.norm(t), abs=1e-12)
            np.testing.assert_allclose(o, di * np.linalg.norm(t) / np.linalg.norm(di),
                                       rtol=1e-13)


def test_filter_normalize_zero_rows_stay_zero(net, theta):
    w0 = net.layout.blocks[0]
    t = theta.copy()
    w0.view(t)[2] = 0.0  # a dead neuron in θ
    d = np.random.default_rng(2).standard_normal(net.n_params)
    w0.view(d)[4] = 0.0  # a zero row in d
    out = filter_normalize(d, t, net.layout)
    np.testing.assert_array_equal(w0.view(out)[2], 0.0)
    np.testing.assert_array_equal(w0.view(out)[4], 0.0)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("bias", BIAS_MODES)
def test_layer_normalize_block_norms(net, theta, bias):
    d = np.random.default_rng(3).standard_normal(net.n_params)
    out = layer_normalize(d, theta, net.layout, bias)
    for b in net.layout.blocks:
        o, t, di = out[b.slice], theta[b.slice], d[b.slice]
        if b.role == "weight" or bias == "normalize":
            assert np.linalg.norm(o) == pytest.approx(np.linalg.norm(t), abs=1e-12)
            np.testing.assert_allclose(o, di * np.linalg.norm(t) / np.linalg.norm(di),
                                       rtol=1e-13)
        elif bias == "zero":
            np.testing.assert_array_equal(o, 0.0)
        else:
            np.testing.assert_array_equal(o, t)


def test_normalize_rejects_bad_input(net, theta):
    d = np.ones(net.n_params)
    with pytest.raises(ValueError, match="zero, copy, normalize"):
        filter_normalize(d, theta, net.layout, "drop")
    with pytest.raises(ValueError, match="shape"):
        filter_normalize(d[:-1], theta, net.layout)


# -- orthogonalisation ------------------------------------------------------------------


def test_orthogonalize():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal(50), rng.standard_normal(50) + 0.7 * np.ones(50)
    a_in = a.copy()
    c = orthogonalize(a, b)
    np.testing.assert_array_equal(a, a_in)
    assert abs(a @ c) < 1e-12 * np.linalg.norm(a) * np.linalg.norm(c)
    assert np.linalg.norm(c) == pytest.approx(np.linalg.norm(b), rel=1e-14)
    # c lies in span(a, b): the least-squares residual vanishes
    coef, *_ = np.linalg.lstsq(np.stack([a, b], 1), c, rcond=None)
    np.testing.assert_allclose(np.stack([a, b], 1) @ coef, c, atol=1e-12)
    # and points to the same side as b
    assert c @ b > 0


def test_orthogonalize_rejects_parallel_and_zero():
    a = np.random.default_rng(5).standard_normal(30)
    with pytest.raises(ValueError, match="parallel"):
        orthogonalize(a, -3.0 * a + 1e-14)
    with pytest.raises(ValueError, match="parallel"):
        orthogonalize(a, np.zeros(30))
    with pytest.raises(ValueError, match="zero"):
        orthogonalize(np.zeros(30), a)


# -- PCA ----------------------------------------------------------------------------------


def _trajectory(k: int = 40, dim: int = 30, sd=(3.0, 1.0), noise: float = 1e-6):
    rng = np.random.default_rng(6)
    axes = np.linalg.qr(rng.standard_normal((dim, 2)))[0].T  # two orthonormal rows
    final = rng.standard_normal(dim)
    # orthogonal coordinate columns: the singular vectors are exactly the axes
    coords = np.linalg.qr(rng.standard_normal((k, 2)))[0] * np.array(sd)
    pts = final + coords @ axes + noise * rng.standard_normal((k, dim))
    return pts, final, axes


def test_pca_against_eigh():
    pts, final, axes = _trajectory()
    d1, d2, explained = pca_directions(pts, final)
    m = pts - final
    w, v = np.linalg.eigh(m.T @ m)  # ascending
    np.testing.assert_allclose(explained, w[::-1][:2] / w.sum(), rtol=1e-10)
    _same_up_to_sign(d1, v[:, -1], 1e-8)
    _same_up_to_sign(d2, v[:, -2], 1e-8)
    # the known axes are recovered (up to sign, to within the noise)
    _same_up_to_sign(d1, axes[0], 1e-4)
    _same_up_to_sign(d2, axes[1], 1e-4)
    assert explained.sum() == pytest.approx(1.0, abs=1e-9)
    for d in (d1, d2):
        assert np.linalg.norm(d) == pytest.approx(1.0, abs=1e-14)
        assert d[np.argmax(np.abs(d))] > 0  # the sign convention
    assert abs(d1 @ d2) < 1e-12


def test_pca_explained_fractions_with_a_spread_tail():
    rng = np.random.default_rng(7)
    final = rng.standard_normal(12)
    pts = final + rng.standard_normal((9, 12)) * np.linspace(3, 0.5, 12)
    _, _, explained = pca_directions(pts, final)
    s = np.linalg.svd(pts - final, compute_uv=False)
    np.testing.assert_allclose(explained, s[:2] ** 2 / np.sum(s**2), rtol=1e-12)
    assert explained[0] >= explained[1] > 0


def test_pca_errors():
    pts, final, axes = _trajectory()
    with pytest.raises(ValueError, match="at least 3 checkpoints"):
        pca_directions(pts[:2], final)
    line = final + np.arange(1.0, 6.0)[:, None] * axes[0]
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        pca_directions(line, final)
    with pytest.raises(ValueError, match="shape"):
        pca_directions(pts[:, :-1], final)


# -- Lanczos and Hessian-vector products ---------------------------------------------------


def _sym_matrix(eigenvalues, seed: int) -> np.ndarray:
    lam = np.asarray(eigenvalues, dtype=float)
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal((lam.size, lam.size)))[0]
    return (q * lam) @ q.T


def _check_top2(vals, vecs, a, atol=1e-8, vec_atol=1e-8):
    w, v = np.linalg.eigh(a)
    np.testing.assert_allclose(vals, w[::-1][:2], rtol=0, atol=atol * max(1, abs(w).max()))
    for i in range(2):
        _same_up_to_sign(vecs[i], v[:, -1 - i], vec_atol)
        assert np.linalg.norm(vecs[i]) == pytest.approx(1.0, abs=1e-12)


def test_lanczos_small_matrix_with_negative_spectrum():
    # dim < max_iter; the largest |λ| is negative but the algebraic top-2 are wanted
    lam = np.concatenate([[-30.0, -12.5], np.linspace(-4, 2, 16), [4.5, 7.0]])
    a = _sym_matrix(lam, 8)
    calls = []

    def hvp(v):
        calls.append(1)
        return a @ v

    # a tolerance below rounding: runs until the Krylov space is the whole space
    vals, vecs = hessian_top_eigenpairs(hvp, 20, max_iter=60, tol=1e-14)
    assert len(calls) == 20
    _check_top2(vals, vecs, a)
    assert vals[0] > vals[1]
    # the default tolerance (residual < 1e-6 |λ|): eigenvalues still to 1e-8 (their error
    # is quadratic in the residual), vectors to about residual / gap
    vals, vecs = hessian_top_eigenpairs(lambda v: a @ v, 20)
    _check_top2(vals, vecs, a, vec_atol=1e-5)


def test_lanczos_large_matrix_converges_early():
    rng = np.random.default_rng(9)
    lam = np.concatenate([[10.0, 8.0], rng.uniform(-5, 3, 298)])
    a = _sym_matrix(lam, 10)
    calls = []

    def hvp(v):
        calls.append(1)
        return a @ v

    vals, vecs = hessian_top_eigenpairs(hvp, 300, tol=1e-10)
    _check_top2(vals, vecs, a)
    assert len(calls) < 60  # stopped on convergence, not on max_iter
    # looser tolerance stops sooner
    n_tight = len(calls)
    calls.clear()
    hessian_top_eigenpairs(hvp, 300, tol=1e-4)
    assert len(calls) < n_tight


def test_lanczos_repeated_eigenvalue_and_k():
    lam = [5.0, 5.0, 3.0, 1.0, -2.0, -7.0]
    a = _sym_matrix(lam, 11)
    vals, vecs = hessian_top_eigenpairs(lambda v: a @ v, 6, k=2)
    np.testing.assert_allclose(vals, [5.0, 5.0], atol=1e-10)
    # both vectors lie in the λ = 5 eigenspace and are orthonormal
    np.testing.assert_allclose(vecs @ a, 5.0 * vecs, atol=1e-9)
    np.testing.assert_allclose(vecs @ vecs.T, np.eye(2), atol=1e-10)
    vals3, _ = hessian_top_eigenpairs(lambda v: a @ v, 6, k=3)
    np.testing.assert_allclose(vals3, [5.0, 5.0, 3.0], atol=1e-10)
    vals1, _ = hessian_top_eigenpairs(lambda v: a @ v, 6, k=1)
    np.testing.assert_allclose(vals1, [5.0], atol=1e-10)
    with pytest.raises(ValueError, match="k must"):
        hessian_top_eigenpairs(lambda v: a @ v, 6, k=7)
    with pytest.raises(ValueError, match="k must"):
        hessian_top_eigenpairs(lambda v: a @ v, 6, k=0)
    with pytest.raises(ValueError, match="shape"):
        hessian_top_eigenpairs(lambda v: v[:-1], 6)


def test_lanczos_is_seeded():
    a = _sym_matrix(np.linspace(-3, 3, 80), 12)
    r1 = hessian_top_eigenpairs(lambda v: a @ v, 80, seed=4, max_iter=10)
    r2 = hessian_top_eigenpairs(lambda v: a @ v, 80, seed=4, max_iter=10)
    r3 = hessian_top_eigenpairs(lambda v: a @ v, 80, seed=5, max_iter=10)
    np.testing.assert_array_equal(r1[0], r2[0])
    np.testing.assert_array_equal(r1[1], r2[1])
    assert not np.array_equal(r1[0], r3[0])


def test_finite_difference_hvp_on_a_quadratic():
    a = _sym_matrix(np.linspace(-2, 5, 15), 13)
    b = np.arange(15.0)
    theta = np.random.default_rng(14).standard_normal(15)
    hvp = finite_difference_hvp(lambda t: a @ t + b, theta)
    v = np.random.default_rng(15).standard_normal(15)
    np.testing.assert_allclose(hvp(v), a @ v, rtol=0, atol=1e-9)
    np.testing.assert_allclose(hvp(1e-6 * v), 1e-6 * (a @ v), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(hvp(np.zeros(15)), 0.0)
    # a fixed step: v ↦ (g(θ + εv) − g(θ − εv)) / 2ε, still exact for a quadratic
    hvp_eps = finite_difference_hvp(lambda t: a @ t + b, theta, eps=1e-3)
    np.testing.assert_allclose(hvp_eps(v), a @ v, rtol=0, atol=1e-9)


def test_hessian_of_a_tiny_network_matches_dense_reference():
    ds = make_dataset("moons", n_samples=40, seed=0)
    net = Network.for_dataset(ModelSpec((4,), "tanh"), ds)
    t = net.targets(ds.y_train)
    theta = net.init_params(1)
    dim = net.n_params
    assert dim == 17

    def grad(x):
        return net.loss_and_grad(x, ds.X_train, t)[1]

    # dense Hessian, one column per central difference along a coordinate axis
    h = 1e-5
    eye = np.eye(dim)
    cols = [(grad(theta + h * e) - grad(theta - h * e)) / (2 * h) for e in eye]
    hess = np.array(cols).T
    assert np.abs(hess - hess.T).max() < 1e-7 * np.abs(hess).max()
    hess = 0.5 * (hess + hess.T)
    w, v = np.linalg.eigh(hess)
    assert (w[-2] - w[-3]) > 0.05 * abs(w[-1])  # gaps large enough to compare vectors

    hvp = finite_difference_hvp(grad, theta)
    x = np.random.default_rng(16).standard_normal(dim)
    np.testing.assert_allclose(hvp(x), hess @ x, rtol=0, atol=1e-6 * np.abs(hess @ x).max())
    vals, vecs = hessian_top_eigenpairs(hvp, dim, k=2)
    np.testing.assert_allclose(vals, w[::-1][:2], rtol=1e-5)
    for i in range(2):
        assert abs(vecs[i] @ v[:, -1 - i]) > 1 - 1e-6


# -- interpolation ---------------------------------------------------------------------------


def test_interpolation_line_and_plane():
    rng = np.random.default_rng(17)
    a, b, c = rng.standard_normal((3, 25))
    center, d1, d2 = interpolation_directions([a, b])
    assert d2 is None
    np.testing.assert_array_equal(center, a)
    np.testing.assert_allclose(center + d1, b, rtol=0, atol=1e-15)
    center, d1, d2 = interpolation_directions([a, b, c])
    np.testing.assert_allclose(center + 1 * d1 + 0 * d2, b, rtol=0, atol=1e-15)
    np.testing.assert_allclose(center + 0 * d1 + 1 * d2, c, rtol=0, atol=1e-15)
    np.testing.assert_allclose(center + 0.5 * d1 + 0.5 * d2, (b + c) / 2, atol=1e-15)


def test_interpolation_errors():
    rng = np.random.default_rng(18)
    a, b = rng.standard_normal((2, 10))
    with pytest.raises(ValueError, match="coincides"):
        interpolation_directions([a, a.copy()])
    with pytest.raises(ValueError, match="coincides"):
        interpolation_directions([a, b, a.copy()])
    with pytest.raises(ValueError, match="collinear"):
        interpolation_directions([a, b, 2 * b - a])
    with pytest.raises(ValueError, match="shape"):
        interpolation_directions([a, b[:-1]])
    with pytest.raises(ValueError, match="2 or 3 points"):
        interpolation_directions([a])


# -- specs and make_directions -----------------------------------------------------------------


def test_direction_spec_validation_and_describe():
    assert DirectionSpec().describe() == \
        "filter-normalised random directions (seed 0, biases zeroed)"
    assert DirectionSpec("layer", 3, "copy", True).describe() == \
        "layer-normalised random directions (seed 3, biases copied from θ), orthogonalised"
    for m in METHODS:
        assert DirectionSpec(m).describe()
    with pytest.raises(ValueError, match="random, filter, layer, pca, hessian, interp"):
        DirectionSpec("sideways")
    with pytest.raises(ValueError, match="zero, copy, normalize"):
        DirectionSpec(bias="keep")
    with pytest.raises(ValueError, match="seed"):
        DirectionSpec(seed=-1)
    with pytest.raises(ValueError, match="seed"):
        DirectionSpec(seed=1.5)


def _inputs(method, net, moons, theta, run):
    if method == "pca":
        return {"checkpoints": run[0]}, run[1]
    if method == "hessian":
        return {"X": moons.X_train, "targets": net.targets(moons.y_train)}, theta
    if method == "interp":
        rng = np.random.default_rng(19)
        return {"others": [theta + rng.standard_normal(theta.size)]}, theta
    return {}, theta


@pytest.mark.parametrize("method", list(METHODS))
def test_make_directions_every_method(method, net, moons, theta, run):
    kw, center = _inputs(method, net, moons, theta, run)
    dirs = make_directions(DirectionSpec(method, seed=2), net, center, **kw)
    assert isinstance(dirs, Directions)
    for d in (dirs.d1, dirs.d2, dirs.center):
        assert d.shape == (net.n_params,) and d.dtype == np.float64
        assert np.all(np.isfinite(d))
    np.testing.assert_array_equal(dirs.center, center)
    assert len(dirs.labels) == 2 and all(isinstance(s, str) and s for s in dirs.labels)
    cos = dirs.d1 @ dirs.d2 / np.linalg.norm(dirs.d1) / np.linalg.norm(dirs.d2)
    assert dirs.info["cosine"] == pytest.approx(cos, abs=1e-12)
    assert dirs.info["norm_d1"] == pytest.approx(np.linalg.norm(dirs.d1), rel=1e-14)
    assert dirs.info["norm_d2"] == pytest.approx(np.linalg.norm(dirs.d2), rel=1e-14)
    # reproducible from (spec, θ, inputs)
    again = make_directions(DirectionSpec(method, seed=2), net, center, **kw)
    np.testing.assert_array_equal(again.d1, dirs.d1)
    np.testing.assert_array_equal(again.d2, dirs.d2)
    if method in ("random", "filter", "layer"):
        other = make_directions(DirectionSpec(method, seed=3), net, center, **kw)
        assert not np.allclose(other.d1, dirs.d1)


def test_make_directions_method_details(net, moons, theta, run):
    raw = np.random.default_rng(2)
    r1, r2 = raw.standard_normal(net.n_params), raw.standard_normal(net.n_params)
    rnd = make_directions(DirectionSpec("random", seed=2), net, theta)
    np.testing.assert_array_equal(rnd.d1, r1)
    np.testing.assert_array_equal(rnd.d2, r2)
    flt = make_directions(DirectionSpec("filter", seed=2, bias="copy"), net, theta)
    np.testing.assert_array_equal(flt.d1, filter_normalize(r1, theta, net.layout, "copy"))
    assert flt.labels == ("δ (filter-normalised)", "η (filter-normalised)")
    lay = make_directions(DirectionSpec("layer", seed=2), net, theta)
    np.testing.assert_array_equal(lay.d2, layer_normalize(r2, theta, net.layout))

    pca = make_directions(DirectionSpec("pca"), net, run[1], checkpoints=run[0])
    e1, e2 = pca.info["explained"]
    assert 0 < e2 <= e1 and e1 + e2 <= 1 + 1e-12
    assert re.fullmatch(r"PC 1 \(\d+\.\d %\)", pca.labels[0])
    assert pca.labels[0] == f"PC 1 ({100 * e1:.1f} %)"
    assert abs(pca.info["cosine"]) < 1e-12

    hes = make_directions(DirectionSpec("hessian"), net, theta, X=moons.X_train,
                          targets=net.targets(moons.y_train))
    l1, l2 = hes.info["eigenvalues"]
    assert l1 >= l2
    assert hes.labels[0] == f"v₁ (λ = {l1:.3g})"
    # d1 is an eigenvector: H d1 ≈ λ1 d1 (finite differences of exact gradients)
    t = net.targets(moons.y_train)
    hvp = finite_difference_hvp(lambda x: net.loss_and_grad(x, moons.X_train, t)[1], theta)
    hv = hvp(hes.d1)
    assert np.linalg.norm(hv - l1 * hes.d1) < 1e-4 * abs(l1)


def test_make_directions_interp(net, theta):
    rng = np.random.default_rng(20)
    b, c = theta + rng.standard_normal((2, net.n_params))
    line = make_directions(DirectionSpec("interp", seed=1), net, theta, others=[b])
    np.testing.assert_allclose(line.point(1.0, 0.0), b, atol=1e-14)
    assert abs(line.info["cosine"]) < 1e-12
    assert line.labels[0] == "→ solution B"
    assert line.info["distances"] == pytest.approx((np.linalg.norm(b - theta),))
    plane = make_directions(DirectionSpec("interp"), net, theta, others=[b, c])
    np.testing.assert_allclose(plane.point(1.0, 0.0), b, atol=1e-14)
    np.testing.assert_allclose(plane.point(0.0, 1.0), c, atol=1e-14)
    assert plane.labels == ("→ solution B", "→ solution C")
    np.testing.assert_allclose(plane.project(np.stack([b, c, theta])),
                               [[1, 0], [0, 1], [0, 0]], atol=1e-12)


def test_make_directions_orthogonalize(net, theta):
    plain = make_directions(DirectionSpec("filter", seed=4), net, theta)
    orth = make_directions(DirectionSpec("filter", seed=4, orthogonalize=True), net, theta)
    np.testing.assert_array_equal(orth.d1, plain.d1)
    assert abs(orth.info["cosine"]) < 1e-12
    assert orth.info["norm_d2"] == pytest.approx(plain.info["norm_d2"], rel=1e-13)
    np.testing.assert_allclose(orth.d2, orthogonalize(plain.d1, plain.d2), atol=0)


def test_directions_project_round_trip(net, theta):
    dirs = make_directions(DirectionSpec("random", seed=6), net, theta)
    ab = np.array([[0.3, -1.2], [2.0, 0.5], [0.0, 0.0]])
    pts = np.stack([dirs.point(a, b) for a, b in ab])
    np.testing.assert_allclose(dirs.project(pts), ab, atol=1e-12)


def test_make_directions_missing_inputs(net, theta):
    with pytest.raises(ValueError, match="PCA directions need a training run with checkpoints"):
        make_directions(DirectionSpec("pca"), net, theta)
    with pytest.raises(ValueError, match="Hessian directions need the training data"):
        make_directions(DirectionSpec("hessian"), net, theta)
    with pytest.raises(ValueError, match="one or two other solutions"):
        make_directions(DirectionSpec("interp"), net, theta)
    with pytest.raises(ValueError, match="shape"):
        make_directions(DirectionSpec("random"), net, theta[:-1])
