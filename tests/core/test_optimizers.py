"""Optimizers against torch.optim (stored reference + live when torch imports)."""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path

import numpy as np
import pytest

from lossviewer.core.optimizers import OPTIMIZERS, HyperParam, Optimizer, make_optimizer
from lossviewer.core.schedules import lr_schedule
from tests.core.torch_reference import generator_module

HERE = Path(__file__).parent
REF_PATH = HERE / "data" / "torch_optim_reference.npz"
RTOL = 1e-12


def _load_ref() -> tuple[dict, dict]:
    with np.load(REF_PATH) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(str(arrays.pop("meta")))


REF, META = _load_ref()
OPTIM_CASES = META["optim_cases"]
CASE_IDS = [c[0] for c in OPTIM_CASES]


def _hyper(h: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in h.items()}


def _lrs(name: str, hyper: dict, sched: dict | None, steps: int) -> np.ndarray:
    opt = make_optimizer(name, (1, 1), **hyper)
    if sched is None:
        return np.full(steps, opt.hyper["lr"])
    params = {k: v for k, v in sched.items() if k != "name"}
    return lr_schedule(sched["name"], opt.hyper["lr"], steps, **params)


def run_numpy(name, hyper, lrs, start, grads) -> np.ndarray:
    opt = make_optimizer(name, start.shape, **hyper)
    p = start.copy()
    out = [p.copy()]
    for g, lr in zip(grads, lrs, strict=True):
        opt.step(p, g, float(lr))
        out.append(p.copy())
    return np.array(out)


def run_lists(name, hyper, lrs, start, grads) -> np.ndarray:
    step = make_optimizer(name, start.shape, **hyper).list_stepper()
    assert step is not None
    p = start.ravel().tolist()
    out = [list(p)]
    for g, lr in zip(grads, lrs, strict=True):
        step(p, g.ravel().tolist(), float(lr))
        out.append(list(p))
    return np.array(out).reshape(len(out), *start.shape)


def _case(cid: str):
    return next(c for c in OPTIM_CASES if c[0] == cid)


@pytest.mark.parametrize("runner", [run_numpy, run_lists], ids=["numpy", "lists"])
@pytest.mark.parametrize("cid", CASE_IDS)
def test_matches_torch_reference(cid, runner):
    _, name, hyper, sched = _case(cid)
    hyper = _hyper(hyper)
    start, grads = REF["start"], REF["grads"]
    lrs = _lrs(name, hyper, sched, len(grads))
    np.testing.assert_allclose(lrs, REF[f"optim_lr__{cid}"], rtol=RTOL, atol=0)
    got = runner(name, hyper, lrs, start, grads)
    want = REF[f"optim__{cid}"]
    assert np.all(np.isfinite(want))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-15)


def test_reference_covers_every_torch_optimizer_and_option():
    names = {c[1] for c in OPTIM_CASES}
    assert names == set(OPTIMIZERS) - {"lion", "newton"}
    used = {(c[1], k) for c in OPTIM_CASES for k in c[2]}
    for name in names:
        for h in OPTIMIZERS[name].hyperparams:
            assert (name, h.name) in used, (name, h.name)


def test_radam_reference_crosses_rectification_threshold():
    # rho_t > 5 from step 6 with beta2 = 0.999: the first steps are un-rectified
    b2 = 0.999
    rho_inf = 2 / (1 - b2) - 1
    rho = [rho_inf - 2 * t * b2**t / (1 - b2**t) for t in range(1, 51)]
    assert rho[0] <= 5 and rho[-1] > 5
    assert len(REF["grads"]) == 50


# -- live torch ------------------------------------------------------------------


@pytest.mark.parametrize("cid", CASE_IDS)
def test_matches_live_torch(cid):
    pytest.importorskip("torch")
    gen = generator_module()
    _, name, hyper, sched = _case(cid)
    rng = np.random.default_rng(7)
    start = rng.standard_normal((2, 3))
    grads = rng.standard_normal((60, 2, 3)) * np.array([[1.0], [30.0]])
    want, torch_lrs = gen.torch_trajectory(name, hyper, sched, start, grads)
    lrs = _lrs(name, _hyper(hyper), sched, len(grads))
    np.testing.assert_allclose(lrs, torch_lrs, rtol=RTOL, atol=0)
    for runner in (run_numpy, run_lists):
        got = runner(name, _hyper(hyper), lrs, start, grads)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-15)


def test_defaults_match_live_torch():
    torch = pytest.importorskip("torch")
    classes = {
        "sgd": torch.optim.SGD,
        "adagrad": torch.optim.Adagrad,
        "rmsprop": torch.optim.RMSprop,
        "adadelta": torch.optim.Adadelta,
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "adamax": torch.optim.Adamax,
        "nadam": torch.optim.NAdam,
        "radam": torch.optim.RAdam,
    }
    for name, tcls in classes.items():
        sig = inspect.signature(tcls.__init__).parameters
        for h in OPTIMIZERS[name].hyperparams:
            assert h.name in sig, (name, h.name)
            d = sig[h.name].default
            assert (tuple(d) if isinstance(d, tuple) else d) == h.default, (name, h.name)


# -- Lion: an independent transcription of the paper's Algorithm 2 ------------------


def lion_reference(start, grads, lr, beta1, beta2, wd):
    x = start.copy()
    m = np.zeros_like(x)
    out = [x.copy()]
    for g in grads:
        c = beta1 * m + (1 - beta1) * g
        x = x - lr * (np.sign(c) + wd * x)
        m = beta2 * m + (1 - beta2) * g
        out.append(x.copy())
    return np.array(out)


@pytest.mark.parametrize("runner", [run_numpy, run_lists], ids=["numpy", "lists"])
@pytest.mark.parametrize(
    "hyper",
    [{}, {"lr": 0.01, "betas": (0.95, 0.98), "weight_decay": 0.1}],
    ids=["default", "options"],
)
def test_lion_matches_paper(hyper, runner):
    start, grads = REF["start"], REF["grads"]
    h = {"lr": 1e-4, "betas": (0.9, 0.99), "weight_decay": 0.0} | hyper
    lrs = np.full(len(grads), h["lr"])
    got = runner("lion", hyper, lrs, start, grads)
    want = lion_reference(start, grads, h["lr"], *h["betas"], h["weight_decay"])
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-15)
    # every coordinate moves by exactly lr (no weight decay)
    if h["weight_decay"] == 0:
        steps = np.abs(np.diff(got, axis=0))
        moved = np.array([g != 0 for g in grads])  # a zero gradient at step 0 gives sign 0
        np.testing.assert_allclose(steps[moved], h["lr"], rtol=1e-9)


def test_lion_defaults_follow_lion_pytorch():
    assert OPTIMIZERS["lion"].defaults() == {"lr": 1e-4, "betas": (0.9, 0.99), "weight_decay": 0.0}


# -- Newton ----------------------------------------------------------------------


def _newton_step(p, g, H, lr=1.0, damping=0.0, lists=False):
    opt = make_optimizer("newton", p.shape, lr=lr, damping=damping)
    p = p.copy()
    if lists:
        step = opt.list_stepper()
        flat = p.ravel().tolist()
        step(flat, g.ravel().tolist(), lr, [(h[0, 0], h[0, 1], h[1, 1]) for h in H])
        return np.array(flat).reshape(p.shape)
    opt.step(p, g, lr, H)
    return p


@pytest.mark.parametrize("lists", [False, True], ids=["numpy", "lists"])
def test_newton_lands_on_minimum_of_positive_definite_quadratic(lists):
    # f(x) = ½ (x − x*)ᵀ A (x − x*) with A positive definite, three different rows
    A = np.array([[[3.0, 1.0], [1.0, 2.0]], [[10.0, -4.0], [-4.0, 2.0]], [[1e-2, 0.0], [0.0, 5.0]]])
    xstar = np.array([[1.0, -2.0], [0.3, 0.7], [-5.0, 4.0]])
    p = np.array([[4.0, 4.0], [-1.0, 2.0], [0.0, 0.0]])
    g = np.einsum("bij,bj->bi", A, p - xstar)
    np.testing.assert_allclose(_newton_step(p, g, A, lists=lists), xstar, rtol=0, atol=1e-12)


@pytest.mark.parametrize("lists", [False, True], ids=["numpy", "lists"])
def test_newton_is_repelled_by_saddle(lists):
    # f = ½(x² − y²): saddle at 0; plain Newton would jump onto it
    H = np.array([[[1.0, 0.0], [0.0, -1.0]]])
    p = np.array([[0.5, 0.2]])
    g = np.array([[0.5, -0.2]])
    new = _newton_step(p, g, H, lists=lists)
    np.testing.assert_allclose(new, [[0.0, 0.4]], atol=1e-15)  # x to the valley, y away
    assert np.hypot(*new[0]) > 0  # not at the saddle
    f = lambda q: 0.5 * (q[0, 0] ** 2 - q[0, 1] ** 2)  # noqa: E731
    assert f(new) < f(p)


@pytest.mark.parametrize("lists", [False, True], ids=["numpy", "lists"])
def test_newton_damping_and_singular_hessian(lists):
    g = np.array([[1.0, 2.0]])
    p = np.zeros((1, 2))
    # damping d with H = 0 is gradient descent with step lr/d
    got = _newton_step(p, g, np.zeros((1, 2, 2)), lr=0.5, damping=4.0, lists=lists)
    np.testing.assert_allclose(got, -0.5 * g / 4.0, rtol=1e-15)
    # singular Hessian and no damping: finite (floored), not NaN
    got = _newton_step(p, g, np.zeros((1, 2, 2)), damping=0.0, lists=lists)
    assert np.all(np.isfinite(got))


def test_newton_numpy_and_lists_agree_on_random_hessians():
    rng = np.random.default_rng(3)
    M = rng.standard_normal((50, 2, 2))
    H = M + M.transpose(0, 2, 1)
    H[5] = [[2.0, 0.0], [0.0, 2.0]]  # isotropic: eigenvectors arbitrary
    H[6] = [[-1.0, 0.0], [0.0, 3.0]]
    p = rng.standard_normal((50, 2))
    g = rng.standard_normal((50, 2))
    a = _newton_step(p, g, H, lr=0.7, damping=1e-3)
    b = _newton_step(p, g, H, lr=0.7, damping=1e-3, lists=True)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_newton_needs_hessian_and_survives_nan_hessian():
    opt = make_optimizer("newton", (2, 2))
    p = np.zeros((2, 2))
    with pytest.raises(ValueError, match="Hessian"):
        opt.step(p, np.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match="Hessian"):
        opt.list_stepper()([0.0] * 4, [1.0] * 4, 1.0)
    H = np.array([[[np.nan, 0.0], [0.0, 1.0]], [[2.0, 0.0], [0.0, 2.0]]])
    opt.step(p, np.ones((2, 2)), 1.0, H)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p[1], -1 / (2 + 1e-3))
    assert OPTIMIZERS["newton"].needs_hessian
    assert not any(c.needs_hessian for n, c in OPTIMIZERS.items() if n != "newton")


# -- general behaviour ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_step_leaves_grad_alone_and_rows_are_independent(name):
    rng = np.random.default_rng(11)
    start = rng.standard_normal((3, 2))
    grads = rng.standard_normal((20, 3, 2))
    H = np.tile(np.array([[2.0, 0.5], [0.5, 1.0]]), (3, 1, 1))
    hyper = {"weight_decay": 0.01} if name not in ("newton",) else {}
    batch = make_optimizer(name, (3, 2), **hyper)
    singles = [make_optimizer(name, (1, 2), **hyper) for _ in range(3)]
    p = start.copy()
    ps = [start[i : i + 1].copy() for i in range(3)]
    for g in grads:
        g0 = g.copy()
        batch.step(p, g, 0.01, H)
        np.testing.assert_array_equal(g, g0)
        for i, o in enumerate(singles):
            o.step(ps[i], g[i : i + 1].copy(), 0.01, H[i : i + 1])
    np.testing.assert_allclose(p, np.concatenate(ps), rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_reset_restarts_from_scratch(name):
    rng = np.random.default_rng(5)
    grads = rng.standard_normal((10, 2, 2))
    H = np.tile(np.eye(2), (2, 1, 1))
    opt = make_optimizer(name, (2, 2))

    def run():
        p = np.ones((2, 2))
        for g in grads:
            opt.step(p, g, 0.05, H)
        return p

    a = run()
    opt.reset()
    np.testing.assert_array_equal(run(), a)


def test_registry_order_and_metadata():
    assert list(OPTIMIZERS) == [
        "sgd",
        "adagrad",
        "rmsprop",
        "adadelta",
        "adam",
        "adamw",
        "adamax",
        "nadam",
        "radam",
        "lion",
        "newton",
    ]
    for name, cls in OPTIMIZERS.items():
        assert issubclass(cls, Optimizer)
        assert cls.name == name and cls.title and cls.description
        assert cls.hyperparams[0].name == "lr"
        for h in cls.hyperparams:
            assert isinstance(h, HyperParam) and h.help
            assert h.validate(h.default) == h.default
            lo, hi = h.slider_range
            if h.log:
                assert 0 < lo < hi


def test_torch_default_hyperparameters():
    d = {n: c.defaults() for n, c in OPTIMIZERS.items()}
    assert d["sgd"] == {
        "lr": 1e-3,
        "momentum": 0.0,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
    }
    assert d["adagrad"]["lr"] == 1e-2 and d["adagrad"]["eps"] == 1e-10
    assert d["rmsprop"] | {} == {
        "lr": 1e-2,
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "centered": False,
    }
    assert d["adadelta"] == {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0}
    assert d["adam"]["betas"] == (0.9, 0.999) and d["adam"]["weight_decay"] == 0.0
    assert d["adamw"]["weight_decay"] == 1e-2 and "decoupled_weight_decay" not in d["adamw"]
    assert d["adamax"]["lr"] == 2e-3
    assert d["nadam"]["lr"] == 2e-3 and d["nadam"]["momentum_decay"] == 4e-3
    assert d["radam"]["lr"] == 1e-3 and d["radam"]["decoupled_weight_decay"] is False
    assert d["newton"] == {"lr": 1.0, "damping": 1e-3}


# -- validation ------------------------------------------------------------------------


def test_unknown_optimizer():
    with pytest.raises(ValueError, match=r"unknown optimizer 'foo'; known: sgd, adagrad, .*newton"):
        make_optimizer("foo", (1, 2))


def test_unknown_hyperparameter_lists_valid_ones():
    with pytest.raises(
        ValueError, match=r"Adam has no hyperparameter 'momentum' \(valid: lr, betas"
    ):
        make_optimizer("adam", (1, 2), momentum=0.9)


@pytest.mark.parametrize(
    ("name", "hyper", "message"),
    [
        ("sgd", {"lr": -1}, "lr must be > 0, got -1"),
        ("sgd", {"lr": 0}, "lr must be > 0, got 0"),
        ("adam", {"lr": float("nan")}, "lr must be finite"),
        ("adam", {"lr": math.inf}, "lr must be finite"),
        ("adam", {"lr": "fast"}, "lr must be a number"),
        ("adam", {"betas": (0.9, 1.0)}, r"betas\[1\] must be < 1, got 1"),
        ("adam", {"betas": (-0.1, 0.9)}, r"betas\[0\] must be >= 0, got -0.1"),
        ("adam", {"betas": 0.9}, "betas must be a pair"),
        ("adam", {"betas": (0.9, 0.99, 0.999)}, "betas must be a pair"),
        ("adam", {"amsgrad": "yes"}, "amsgrad must be true or false"),
        ("sgd", {"momentum": -0.5}, "momentum must be >= 0, got -0.5"),
        ("rmsprop", {"alpha": 1.5}, "alpha must be <= 1, got 1.5"),
        ("adam", {"eps": -1e-8}, "eps must be >= 0"),
        ("sgd", {"nesterov": True}, "nesterov requires momentum > 0 and dampening = 0"),
        (
            "sgd",
            {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
            "nesterov requires momentum > 0 and dampening = 0",
        ),
        ("newton", {"damping": -1}, "damping must be >= 0"),
    ],
)
def test_bad_hyperparameters(name, hyper, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer(name, (1, 2), **hyper)


def test_validation_cleans_values():
    opt = make_optimizer("adam", (2, 3), lr=np.float32(0.5), betas=np.array([0.5, 0.6]), amsgrad=1)
    assert opt.hyper["lr"] == 0.5 and type(opt.hyper["lr"]) is float
    assert opt.hyper["betas"] == (0.5, 0.6)
    assert opt.hyper["amsgrad"] is True
    assert opt.shape == (2, 3)


@pytest.mark.parametrize("shape", [(0, 2), (2,), "ab", (1, -1)])
def test_bad_shape(shape):
    with pytest.raises(ValueError, match="shape"):
        make_optimizer("sgd", shape)


def test_hyperparam_int_kind():
    h = HyperParam("n", 3, kind="int", minimum=1, maximum=10)
    assert h.validate(4.0) == 4 and type(h.validate(4.0)) is int
    with pytest.raises(ValueError, match="n must be a whole number, got 2.5"):
        h.validate(2.5)
    with pytest.raises(ValueError, match="n must be <= 10, got 11"):
        h.validate(11)
    with pytest.raises(ValueError, match="n must be a number"):
        h.validate(True)
