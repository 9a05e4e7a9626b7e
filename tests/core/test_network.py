"""core.network against independent references: finite differences, per-sample loss
formulas written out here, np.argmax, and (when installed) torch autograd in float64."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from lossviewer.core.network import (
    ACTIVATIONS,
    LOSSES,
    MAX_LAYERS,
    MAX_WIDTH,
    ModelSpec,
    Network,
    Targets,
    activate,
    activation_slope,
    correct_fraction,
    loss_slopes,
    loss_values,
)

N_IN = 3
ARCHS = {"linear": (), "one_hidden": (5,), "two_hidden": (4, 3)}
# (task, number of classes); "regression" only takes MSE
TASKS = {"binary": ("classification", 2), "four_class": ("classification", 4),
         "regression": ("regression", 0)}
MARGIN = 1e-3  # distance kept from every kink (ReLU and hinge)


def _cases():
    out = []
    for arch, hidden in ARCHS.items():
        # a linear model has no activation: one case is enough
        acts = ["relu"] if not hidden else list(ACTIVATIONS)
        for act in acts:
            for task in TASKS:
                for loss in LOSSES:
                    if task == "regression" and loss != "mse":
                        continue
                    out.append(pytest.param(arch, act, task, loss,
                                            id=f"{arch}-{act}-{task}-{loss}"))
    return out


CASES = _cases()


# -- independent references ---------------------------------------------------------


def ref_act(name, z):
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "gelu":
        return 0.5 * z * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3)))
    raise AssertionError(name)


def ref_forward(theta, sizes, act, X):
    """Outputs and every hidden pre-activation, reading θ as torch's state_dict order."""
    h = X
    off = 0
    pre = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        W = theta[off:off + n_out * n_in].reshape(n_out, n_in)
        off += n_out * n_in
        b = theta[off:off + n_out]
        off += n_out
        z = h @ W.T + b
        if i < len(sizes) - 2:
            pre.append(z)
            h = ref_act(act, z)
        else:
            h = z
    assert off == theta.size
    return h, pre


def _sig(z):
    return 1.0 / (1.0 + math.exp(-z))


def ref_loss(loss, task, n_classes, f, y, theta, l2):
    """The documented objective, one sample at a time with the math module."""
    terms = []
    for fi, yi in zip(f, y, strict=True):
        if task == "regression":
            terms.append((fi[0] - yi) ** 2)
        elif n_classes == 2:
            z, t01 = fi[0], float(yi)
            if loss == "cross_entropy":   # BCEWithLogitsLoss
                p = _sig(z)
                terms.append(-(t01 * math.log(p) + (1 - t01) * math.log(1 - p)))
            elif loss == "hinge":
                terms.append(max(0.0, 1.0 - (2 * t01 - 1) * z))
            else:                          # MSELoss(sigmoid(z), y)
                terms.append((_sig(z) - t01) ** 2)
        else:
            c = n_classes
            yi = int(yi)
            if loss == "cross_entropy":   # CrossEntropyLoss
                terms.append(-math.log(math.exp(fi[yi]) / sum(math.exp(v) for v in fi)))
            elif loss == "hinge":          # MultiMarginLoss(margin=1), mean over classes
                terms.append(sum(max(0.0, 1.0 - fi[yi] + fi[j]) for j in range(c) if j != yi)
                             / c)
            else:                          # MSELoss(softmax(f), one-hot)
                s = sum(math.exp(v) for v in fi)
                terms.append(sum((math.exp(fi[j]) / s - (j == yi)) ** 2 for j in range(c)) / c)
    return sum(terms) / len(terms) + 0.5 * l2 * float(np.sum(theta * theta))


def _problem(arch, act, task, loss, l2=0.03, n=40, seed=0):
    """A network, parameters and data with every sample kept off the kinks."""
    kind, n_classes = TASKS[task]
    net = Network(ModelSpec(ARCHS[arch], act, loss, l2), N_IN, kind, n_classes)
    rng = np.random.default_rng(seed)
    theta = 1.5 * net.init_params(seed) + 0.1 * rng.standard_normal(net.n_params)
    X = rng.standard_normal((n, N_IN))
    y = rng.standard_normal(n) if kind == "regression" else rng.integers(0, n_classes, n)
    f, pre = ref_forward(theta, net.sizes, act, X)
    far = np.ones(n, bool)
    if act == "relu":
        for z in pre:
            far &= np.abs(z).min(axis=1) > MARGIN
    if loss == "hinge":
        if n_classes == 2:
            far &= np.abs(1 - (2 * y - 1) * f[:, 0]) > MARGIN
        else:
            fy = f[np.arange(n), y]
            m = np.abs(1 - fy[:, None] + f)
            m[np.arange(n), y] = np.inf
            far &= m.min(axis=1) > MARGIN
    assert far.sum() >= n // 2, "too many samples near a kink; pick another seed"
    return net, theta, X[far], y[far]


def _central_diff(fun, theta, h=1e-5):
    g = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (fun(theta + e) - fun(theta - e)) / (2 * h)
    return g


# -- gradients ----------------------------------------------------------------------


@pytest.mark.parametrize(("arch", "act", "task", "loss"), CASES)
def test_backprop_matches_central_differences(arch, act, task, loss):
    net, theta, X, y = _problem(arch, act, task, loss)
    t = net.targets(y)
    value, grad = net.loss_and_grad(theta, X, t)
    assert value == pytest.approx(net.loss_value(theta, X, t), rel=1e-14)
    fd = _central_diff(lambda th: net.loss_value(th, X, t), theta)
    scale = np.abs(grad).max()
    assert scale > 1e-3
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * scale)


@pytest.mark.parametrize(("arch", "act", "task", "loss"), CASES)
def test_loss_matches_written_out_formula(arch, act, task, loss):
    net, theta, X, y = _problem(arch, act, task, loss, seed=3)
    kind, n_classes = TASKS[task]
    f_ref, _ = ref_forward(theta, net.sizes, act, X)
    np.testing.assert_allclose(net.forward(theta, X), f_ref, rtol=1e-13, atol=1e-14)
    want = ref_loss(loss, kind, n_classes, f_ref, y, theta, net.spec.l2)
    assert net.loss_value(theta, X, net.targets(y)) == pytest.approx(want, rel=1e-12)
    # the loss head alone, over a leading batch of 3 parameter points
    t = net.targets(y)
    fb = np.stack([f_ref, 2 * f_ref, f_ref - 0.3])
    got = loss_values(loss, fb, t)
    assert got.shape == (3,)
    for k in range(3):
        assert got[k] == pytest.approx(
            ref_loss(loss, kind, n_classes, fb[k], y, theta, 0.0), rel=1e-12)


@pytest.mark.parametrize(("arch", "act", "task", "loss"), CASES[::5])
def test_loss_slopes_match_differences_of_loss_values(arch, act, task, loss):
    net, theta, X, y = _problem(arch, act, task, loss, seed=5)
    t = net.targets(y)
    f = net.forward(theta, X)
    g = loss_slopes(loss, f, t)
    assert g.shape == f.shape
    fd = _central_diff(lambda v: float(loss_values(loss, v.reshape(f.shape), t)), f.ravel())
    np.testing.assert_allclose(g.ravel(), fd, rtol=1e-6, atol=1e-7 * np.abs(g).max())


def test_l2_term_is_half_l2_times_squared_norm():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 2))
    y = rng.integers(0, 2, 20)
    plain = Network(ModelSpec((4,), "tanh", "cross_entropy", 0.0), 2, "classification", 2)
    reg = Network(ModelSpec((4,), "tanh", "cross_entropy", 0.7), 2, "classification", 2)
    theta = plain.init_params(2)
    t = plain.targets(y)
    sq = float(np.sum(theta**2))
    assert reg.loss_value(theta, X, t) - plain.loss_value(theta, X, t) == pytest.approx(
        0.35 * sq, rel=1e-12)
    _, g0 = plain.loss_and_grad(theta, X, t)
    _, g1 = reg.loss_and_grad(theta, X, t)
    np.testing.assert_allclose(g1 - g0, 0.7 * theta, rtol=1e-12, atol=1e-15)
    # batched regularisation over leading axes
    thetas = np.stack([theta, 2 * theta])
    np.testing.assert_allclose(reg.regularisation(thetas), [0.35 * sq, 1.4 * sq], rtol=1e-13)
    assert plain.regularisation(thetas).shape == (2,)
    assert not plain.regularisation(thetas).any()


# -- activations ----------------------------------------------------------------------


@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_activation_values_slopes_and_in_place(act):
    z = np.concatenate([np.linspace(-8, 8, 161), [-40.0, 40.0, -700.0, 700.0]])
    z = z[np.abs(z) > 1e-3]  # off ReLU's kink
    want = ref_act(act, z)
    np.testing.assert_allclose(activate(act, z), want, rtol=1e-13, atol=1e-300)
    buf = z.copy()
    out = activate(act, buf, out=buf)
    assert out is buf
    np.testing.assert_allclose(buf, want, rtol=1e-13, atol=1e-300)
    mid = z[np.abs(z) < 9]
    h = 1e-6
    fd = (ref_act(act, mid + h) - ref_act(act, mid - h)) / (2 * h)
    slope = activation_slope(act, mid, activate(act, mid))
    np.testing.assert_allclose(slope, fd, rtol=1e-7, atol=1e-9)


def test_gelu_is_the_tanh_approximation():
    z = np.linspace(-5, 5, 101)
    c = math.sqrt(2 / math.pi)
    want = [0.5 * v * (1 + math.tanh(c * (v + 0.044715 * v**3))) for v in z]
    # 1 + tanh(…) cancels for negative z: absolute error at rounding level there
    np.testing.assert_allclose(activate("gelu", z), want, rtol=1e-14, atol=1e-15)
    # known values of the tanh approximation (not erf's 0.8413447 at 1)
    assert activate("gelu", np.array([1.0]))[0] == pytest.approx(0.8411919906082768, abs=1e-15)
    assert activate("gelu", np.array([-1.0]))[0] == pytest.approx(-0.15880800939172324,
                                                                  abs=1e-15)


def test_sigmoid_saturates_without_overflow():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = activate("sigmoid", np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(s, [0.0, 0.5, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        v = loss_values("cross_entropy", np.array([[[1000.0], [-1000.0]]]),
                        Targets.create("classification", 2, np.array([0, 1])))
    assert v[0] == pytest.approx(1000.0)


# -- parameter layout and initialisation ---------------------------------------------


def test_layout_is_torch_state_dict_order():
    net = Network(ModelSpec((6, 5)), 4, "classification", 3)
    assert net.sizes == (4, 6, 5, 3)
    names = [b.name for b in net.layout.blocks]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
                     "layers.2.weight", "layers.2.bias"]
    shapes = [b.shape for b in net.layout.blocks]
    assert shapes == [(6, 4), (6,), (5, 6), (5,), (3, 5), (3,)]
    offsets = np.cumsum([0] + [int(np.prod(s)) for s in shapes])
    assert [b.offset for b in net.layout.blocks] == offsets[:-1].tolist()
    assert net.n_params == net.layout.size == offsets[-1] == 6 * 4 + 6 + 5 * 6 + 5 + 3 * 5 + 3
    assert [b.role for b in net.layout.blocks] == ["weight", "bias"] * 3
    assert [b.filter_axis for b in net.layout.blocks] == [0, None] * 3
    assert net.n_layers == 3
    theta = np.arange(net.n_params, dtype=float)
    (W0, b0), (W1, _), (W2, b2) = net.weights(theta)
    np.testing.assert_array_equal(W0, np.arange(24.0).reshape(6, 4))
    np.testing.assert_array_equal(b0, np.arange(24.0, 30.0))
    assert W1[0, 0] == 30.0 and W2.shape == (3, 5) and b2[-1] == net.n_params - 1
    assert np.shares_memory(W1, theta)
    # views over a leading batch of parameter vectors
    W0b = net.layout.block("layers.0.weight").view(np.stack([theta, -theta]))
    assert W0b.shape == (2, 6, 4)
    np.testing.assert_array_equal(W0b[1], -W0)
    with pytest.raises(KeyError):
        net.layout.block("layers.9.weight")
    assert net.layout.describe()[0] == "layers.0.weight 6×4"


@pytest.mark.parametrize(("task", "n_classes", "n_out"),
                         [("classification", 2, 1), ("classification", 7, 7),
                          ("regression", 0, 1)])
def test_output_width(task, n_classes, n_out):
    loss = "mse" if task == "regression" else "cross_entropy"
    net = Network(ModelSpec((3,), loss=loss), 2, task, n_classes)
    assert net.sizes == (2, 3, n_out)
    assert net.forward(net.init_params(), np.zeros((5, 2))).shape == (5, n_out)


def test_init_is_torch_linear_default_uniform():
    net = Network(ModelSpec((200, 50)), 9, "classification", 3)
    theta = net.init_params(seed=4)
    for b in net.layout.blocks:
        bound = 1.0 / math.sqrt(net.sizes[b.layer])
        v = b.view(theta)
        assert np.abs(v).max() <= bound
        if b.size >= 150:   # enough draws to fill the interval
            assert v.max() > 0.95 * bound and v.min() < -0.95 * bound
            assert abs(v.mean()) < 0.1 * bound
            # U(-c, c) has standard deviation c/√3
            assert v.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)
    np.testing.assert_array_equal(theta, net.init_params(seed=4))
    assert not np.array_equal(theta, net.init_params(seed=5))


# -- specs and networks: input checking -------------------------------------------------


@pytest.mark.parametrize(("text", "hidden", "act"), [
    ("linear", (), "relu"),
    (" Logistic ", (), "relu"),
    ("softmax", (), "relu"),
    ("mlp:16,16", (16, 16), "relu"),
    ("mlp:32:tanh", (32,), "tanh"),
    ("MLP:8, 4:GELU", (8, 4), "gelu"),
    ("mlp:3,:sigmoid", (3,), "sigmoid"),
])
def test_parse_good(text, hidden, act):
    spec = ModelSpec.parse(text, loss="hinge", l2=0.5)
    assert spec.hidden == hidden
    assert spec.activation == act
    assert (spec.loss, spec.l2) == ("hinge", 0.5)
    # the text form parses back to the same spec
    assert ModelSpec.parse(spec.text, "hinge", 0.5) == spec


@pytest.mark.parametrize(("text", "message"), [
    ("conv:3", "cannot read model 'conv:3'"),
    ("mlp:", "cannot read model"),
    ("mlp:16:relu:x", "cannot read model"),
    ("mlp:1 2", "cannot read the widths in 'mlp:1 2'"),
    ("mlp:,", "no hidden widths in 'mlp:,'"),
    ("mlp:0", f"hidden widths must lie in [1, {MAX_WIDTH}], got 0"),
    (f"mlp:{MAX_WIDTH + 1}", f"got {MAX_WIDTH + 1}"),
    ("mlp:" + ",".join(["2"] * (MAX_LAYERS + 1)), f"at most {MAX_LAYERS} hidden layers, got 9"),
    ("mlp:4:swish", "unknown activation 'swish'; known: relu, tanh, sigmoid, gelu"),
])
def test_parse_bad(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ModelSpec.parse(text)


@pytest.mark.parametrize(("kw", "message"), [
    ({"loss": "l1"}, "unknown loss 'l1'; known: cross_entropy, mse, hinge"),
    ({"l2": -0.1}, "L2 regularisation must lie in [0, 10], got -0.1"),
    ({"l2": math.nan}, "L2 regularisation must lie in [0, 10]"),
    ({"l2": 11}, "got 11"),
])
def test_spec_bad_loss_or_l2(kw, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ModelSpec((4,), **kw)


def test_spec_text_and_describe():
    spec = ModelSpec((16, 8), "tanh", "mse", 0.01)
    assert spec.text == "mlp:16,8:tanh"
    assert ModelSpec(()).text == "linear"
    assert spec.describe(2, 1) == "MLP 2→16→8→1, tanh, MSE, L2 0.01"
    assert ModelSpec(()).describe(64, 10) == "MLP 64→10, cross-entropy"


@pytest.mark.parametrize("loss", ["hinge", "cross_entropy"])
def test_regression_needs_mse(loss):
    with pytest.raises(ValueError, match=r"needs a classification dataset; use MSE"):
        Network(ModelSpec((4,), loss=loss), 1, "regression", 0)


def test_network_bad_task_classes_and_data():
    with pytest.raises(ValueError, match="unknown task 'ranking'"):
        Network(ModelSpec(), 2, "ranking", 2)
    with pytest.raises(ValueError, match="at least 2 classes, got 1"):
        Network(ModelSpec(), 2, "classification", 1)
    with pytest.raises(ValueError, match="parameters; at most"):
        Network(ModelSpec((4096, 4096)), 4096, "classification", 2)
    net = Network(ModelSpec((4,)), 3, "classification", 2)
    net.check_data(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="takes 3 input features, the data has 2"):
        net.check_data(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"takes 3 input features, the data has \(3,\)"):
        net.check_data(np.zeros(3))


# -- accuracy ---------------------------------------------------------------------------


def test_correct_fraction_is_argmax_with_ties():
    rng = np.random.default_rng(7)
    # small integers: many exact ties, where the first largest output must win
    f = rng.integers(0, 3, (4, 5, 60, 4)).astype(float)
    y = rng.integers(0, 4, 60)
    t = Targets.create("classification", 4, y)
    got = correct_fraction(f, t)
    assert got.shape == (4, 5)
    np.testing.assert_array_equal(got, np.mean(np.argmax(f, axis=-1) == y, axis=-1))
    ties = (f == f.max(axis=-1, keepdims=True)).sum(axis=-1) > 1
    assert ties.mean() > 0.3


def test_correct_fraction_binary_is_argmax_over_zero_and_logit():
    rng = np.random.default_rng(8)
    z = rng.integers(-1, 2, (3, 50, 1)).astype(float)   # exact zeros: ties go to class 0
    y = rng.integers(0, 2, 50)
    t = Targets.create("classification", 2, y)
    logits = np.concatenate([np.zeros_like(z), z], axis=-1)
    np.testing.assert_array_equal(correct_fraction(z, t),
                                  np.mean(np.argmax(logits, axis=-1) == y, axis=-1))
    assert (z == 0).any()


def test_correct_fraction_regression_is_nan():
    t = Targets.create("regression", 0, np.zeros(6))
    out = correct_fraction(np.zeros((2, 3, 6, 1)), t)
    assert out.shape == (2, 3) and np.isnan(out).all()
    net = Network(ModelSpec((2,), loss="mse"), 1, "regression", 0)
    loss, acc = net.metrics(net.init_params(), np.zeros((6, 1)), net.targets(np.zeros(6)))
    assert math.isfinite(loss) and math.isnan(acc)


def test_correct_fraction_multiclass_nan_outputs_never_correct():
    # a sample whose outputs hold a NaN is never counted correct, whichever class is NaN
    y = np.array([0, 1, 2, 0])
    t = Targets.create("classification", 3, y)
    f = np.array([[np.nan, 0.0, 0.0], [0.0, np.nan, 0.0], [5.0, 0.0, np.nan], [3.0, 1.0, 2.0]])
    assert correct_fraction(f, t) == pytest.approx(0.25)


def test_correct_fraction_binary_nan_outputs_never_correct():
    # as in the multi-class case: a NaN logit is wrong for either label
    t = Targets.create("classification", 2, np.array([0, 1, 0, 1]))
    assert correct_fraction(np.full((4, 1), np.nan), t) == 0.0
    z = np.array([[np.nan], [2.0], [-1.0], [np.nan]])
    assert correct_fraction(z, t) == pytest.approx(0.5)


def test_targets():
    t = Targets.create("classification", 3, np.array([2, 0, 1]), np.float32)
    assert t.onehot.dtype == np.float32
    np.testing.assert_array_equal(t.onehot, np.eye(3)[[2, 0, 1]])
    assert t.n == 3
    b = Targets.create("classification", 2, [1, 0])
    np.testing.assert_array_equal(b.onehot, [[1.0], [0.0]])
    r = Targets.create("regression", 0, [[0.5], [1.5]])
    assert r.onehot is None and r.y.shape == (2,)


# -- torch autograd (float64) ------------------------------------------------------------


def _torch_objective(torch, net, theta, X, y):
    nn = torch.nn
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
            "gelu": lambda: nn.GELU(approximate="tanh")}
    mods = []
    for i, (a, b) in enumerate(zip(net.sizes[:-1], net.sizes[1:], strict=True)):
        mods.append(nn.Linear(a, b, dtype=torch.float64))
        if i < net.n_layers - 1:
            mods.append(acts[net.spec.activation]())
    model = nn.Sequential(*mods)
    # fill the state_dict in its own order from consecutive slices of θ
    sd = model.state_dict()
    off = 0
    new = {}
    for k, v in sd.items():
        new[k] = torch.tensor(theta[off:off + v.numel()].reshape(tuple(v.shape)))
        off += v.numel()
    assert off == theta.size
    model.load_state_dict(new)
    f = model(torch.tensor(X))
    if net.task == "regression":
        loss = nn.MSELoss()(f[:, 0], torch.tensor(y, dtype=torch.float64))
    elif net.n_classes == 2:
        z, t01 = f[:, 0], torch.tensor(y, dtype=torch.float64)
        if net.loss == "cross_entropy":
            loss = nn.BCEWithLogitsLoss()(z, t01)
        elif net.loss == "hinge":
            loss = torch.clamp(1 - (2 * t01 - 1) * z, min=0).mean()
        else:
            loss = nn.MSELoss()(torch.sigmoid(z), t01)
    else:
        yt = torch.tensor(y, dtype=torch.int64)
        if net.loss == "cross_entropy":
            loss = nn.CrossEntropyLoss()(f, yt)
        elif net.loss == "hinge":
            loss = nn.MultiMarginLoss(p=1, margin=1.0)(f, yt)
        else:
            onehot = nn.functional.one_hot(yt, net.n_classes).to(torch.float64)
            loss = nn.MSELoss()(torch.softmax(f, dim=1), onehot)
    params = list(model.parameters())
    loss = loss + 0.5 * net.spec.l2 * sum((p * p).sum() for p in params)
    loss.backward()
    grad = np.concatenate([p.grad.numpy().ravel() for p in params])
    return float(loss.detach()), grad, list(sd), f.detach().numpy()


@pytest.mark.parametrize(("arch", "act", "task", "loss"), CASES)
def test_matches_torch_autograd(arch, act, task, loss):
    torch = pytest.importorskip("torch", reason="torch not installed: autograd cross-check")
    net, theta, X, y = _problem(arch, act, task, loss, seed=11)
    value, grad = net.loss_and_grad(theta, X, net.targets(y))
    t_value, t_grad, keys, t_out = _torch_objective(torch, net, theta, X, y)
    n = net.n_layers
    assert keys == [f"{2 * i}.{w}" for i in range(n) for w in ("weight", "bias")]
    np.testing.assert_allclose(net.forward(theta, X), t_out, rtol=1e-13, atol=1e-14)
    assert value == pytest.approx(t_value, rel=1e-13)
    np.testing.assert_allclose(grad, t_grad, rtol=1e-10, atol=1e-13 * np.abs(t_grad).max())
