"""A user's torch model on a plane: TorchPlaneEvaluator against the numpy PlaneEvaluator on
the same MLP, its vmap path against the per-point path, its gradient against finite
differences, batch-norm modes, the vmap fallback and the parameter layout."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from lossviewer.compute.model_file import ModelFile
from lossviewer.core.datasets import make_dataset
from lossviewer.core.directions import DirectionSpec, filter_normalize, make_directions
from lossviewer.core.network import ModelSpec, Network
from lossviewer.core.plane_eval import Plane, PlaneEvaluator

torch = pytest.importorskip("torch", reason="torch model files need PyTorch (the torch extra)")

from lossviewer.compute.torch_plane import (  # noqa: E402 - after the torch skip
    ModelFileData,
    TorchNetwork,
    TorchPlaneEvaluator,
)

F = torch.nn.functional
GRID = np.linspace(-1.0, 1.0, 9)


def model_file(module, train, val=None, loss=None) -> ModelFile:
    """A ModelFile as load_model_file would make it, without a file."""
    return ModelFile("/nowhere/model.py", module, list(train), None if val is None else
                     list(val), loss or F.cross_entropy, loss is not None)


def grid_ab():
    return np.meshgrid(GRID, GRID)


def relative(a, b) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


# -- equivalence with the numpy MLP ------------------------------------------------------


def _sequential_like(network: Network, theta) -> torch.nn.Module:
    """nn.Sequential(Linear, Tanh, Linear, …) holding θ (float64), in the numpy layout."""
    layers: list[torch.nn.Module] = []
    sizes = network.sizes
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.Tanh())
    module = torch.nn.Sequential(*layers).double()
    torch.nn.utils.vector_to_parameters(torch.tensor(theta, dtype=torch.float64),
                                        module.parameters())
    return module


@pytest.fixture(scope="module")
def blobs():
    """A 3-class numpy MLP, the same torch model, data, plane, and both evaluators."""
    ds = make_dataset("blobs", n_samples=120, seed=0)
    net = Network.for_dataset(ModelSpec((6,), "tanh", "cross_entropy"), ds)
    theta = net.init_params(3)
    module = _sequential_like(net, theta)
    X = torch.tensor(ds.X_train, dtype=torch.float64)
    y = torch.tensor(ds.y_train, dtype=torch.int64)
    tnet = TorchNetwork(model_file(module, [(X, y)]))
    dirs = make_directions(DirectionSpec("filter"), net, theta)
    plane = Plane(dirs.center, dirs.d1, dirs.d2)
    ref = PlaneEvaluator(net, ds.X_train, ds.y_train, plane, "float64")
    tev = TorchPlaneEvaluator(tnet, tnet.data("train"), plane, "float64")
    return ds, net, theta, tnet, plane, ref, tev


def test_torch_equals_numpy_multiclass(blobs) -> None:
    ds, net, theta, tnet, plane, ref, tev = blobs
    assert ds.n_classes == 3 and net.sizes == (2, 6, 3)
    np.testing.assert_array_equal(tnet.theta0(), theta)
    A, B = grid_ab()
    want_loss, want_acc = ref.evaluate(A, B)
    loss, acc = tev.evaluate(A, B)
    assert tev.vmap_error == ""
    assert tev.accuracy == "argmax"
    assert loss.shape == A.shape == acc.shape
    assert relative(loss, want_loss) < 1e-12  # the same float64 arithmetic, reordered
    np.testing.assert_array_equal(acc, want_acc)
    # the grid is not flat: a meaningful comparison
    assert np.ptp(want_loss) > 0.1 and np.ptp(want_acc) > 0


def test_torch_layout_gives_the_same_directions(blobs) -> None:
    _, net, theta, tnet, plane, _, _ = blobs
    assert [b.name for b in tnet.layout.blocks] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for mine, theirs in zip(tnet.layout.blocks, net.layout.blocks, strict=True):
        assert (mine.shape, mine.offset, mine.role, mine.filter_axis) == (
            theirs.shape, theirs.offset, theirs.role, theirs.filter_axis)
    dirs = make_directions(DirectionSpec("filter"), tnet, theta)
    np.testing.assert_array_equal(dirs.d1, plane.d1)
    np.testing.assert_array_equal(dirs.d2, plane.d2)


def test_torch_loss_and_grad_equals_backprop(blobs) -> None:
    ds, net, theta, tnet, _, _, _ = blobs
    th = theta + 0.1
    want_l, want_g = net.loss_and_grad(th, ds.X_train, net.targets(ds.y_train))
    loss, g = tnet.loss_and_grad(th)
    assert loss == pytest.approx(want_l, rel=1e-12)
    np.testing.assert_allclose(g, want_g, rtol=1e-9, atol=1e-12)


def test_torch_equals_numpy_binary_with_custom_loss() -> None:
    ds = make_dataset("moons", n_samples=100, seed=1)
    net = Network.for_dataset(ModelSpec((5,), "tanh", "cross_entropy"), ds)
    assert net.sizes[-1] == 1  # two classes: one logit
    theta = net.init_params(0)
    module = _sequential_like(net, theta)
    X = torch.tensor(ds.X_train, dtype=torch.float64)
    t = torch.tensor(ds.y_train, dtype=torch.float64)

    def bce(out, target):
        return F.binary_cross_entropy_with_logits(out[:, 0], target)

    tnet = TorchNetwork(model_file(module, [(X, t)], loss=bce))
    assert tnet.loss == "custom" and "custom loss" in tnet.describe()
    dirs = make_directions(DirectionSpec("filter", seed=2), net, theta)
    plane = Plane(dirs.center, dirs.d1, dirs.d2)
    A, B = grid_ab()
    want_loss, want_acc = PlaneEvaluator(net, ds.X_train, ds.y_train, plane,
                                         "float64").evaluate(A, B)
    tev = TorchPlaneEvaluator(tnet, tnet.data("train"), plane, "float64")
    loss, acc = tev.evaluate(A, B)
    assert tev.accuracy == "sign" and tev.vmap_error == ""
    assert relative(loss, want_loss) < 1e-12  # the same float64 arithmetic, reordered
    np.testing.assert_array_equal(acc, want_acc)
    assert np.ptp(want_acc) > 0


def test_batches_give_the_sample_weighted_mean(blobs) -> None:
    """Unequal batches (a DataLoader's last one is short) average like one batch."""
    _, _, _, tnet, plane, _, tev = blobs
    (X, y), = tnet.data("train")
    batches = [(X[:50], y[:50]), (X[50:70], y[50:70]), (X[70:], y[70:])]
    split = TorchPlaneEvaluator(tnet, batches, plane, "float64")
    A, B = grid_ab()
    loss, acc = split.evaluate(A, B)
    want_loss, want_acc = tev.evaluate(A, B)
    assert relative(loss, want_loss) < 1e-12
    np.testing.assert_allclose(acc, want_acc, rtol=0, atol=1e-15)


# -- vmap, per point, gradient ---------------------------------------------------------


def test_vmap_equals_per_point_and_direct(blobs) -> None:
    _, _, _, tnet, plane, _, tev = blobs
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, 37), rng.uniform(-1, 1, 37)  # not a multiple of the chunk
    loss, acc = tev.evaluate(a, b)
    slow = TorchPlaneEvaluator(tnet, tnet.data("train"), plane, "float64", use_vmap=False)
    assert slow.vmap_error == "turned off"
    sloss, sacc = slow.evaluate(a, b)
    np.testing.assert_allclose(loss, sloss, rtol=1e-10, atol=0)
    np.testing.assert_array_equal(acc, sacc)
    for k in (0, 17, 36):
        dl, da = tev.direct(a[k], b[k])
        assert dl == pytest.approx(loss[k], rel=1e-10) and da == acc[k]


def test_float32_is_close_to_float64(blobs) -> None:
    _, _, _, tnet, plane, _, tev = blobs
    A, B = grid_ab()
    loss32, acc32 = TorchPlaneEvaluator(tnet, tnet.data("train"), plane).evaluate(A, B)
    loss64, _ = tev.evaluate(A, B)
    assert relative(loss32, loss64) < 1e-4


def test_value_and_grad_equals_central_differences(blobs) -> None:
    _, _, _, _, _, ref, tev = blobs
    a = np.array([0.0, 0.3, -0.7])
    b = np.array([0.0, -0.5, 0.8])
    v, g = tev.value_and_grad(a, b)
    assert v.shape == (3,) and g.shape == (3, 2)
    np.testing.assert_allclose(v, tev.evaluate(a, b)[0], rtol=1e-12)
    h = 1e-5
    ga = (tev.evaluate(a + h, b)[0] - tev.evaluate(a - h, b)[0]) / (2 * h)
    gb = (tev.evaluate(a, b + h)[0] - tev.evaluate(a, b - h)[0]) / (2 * h)
    np.testing.assert_allclose(g[:, 0], ga, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g[:, 1], gb, rtol=1e-6, atol=1e-9)
    # and the numpy evaluator's exact plane gradient
    np.testing.assert_allclose(g, ref.value_and_grad(a, b)[1], rtol=1e-9, atol=1e-12)
    # grid-shaped input keeps its shape
    v2, g2 = tev.value_and_grad(a.reshape(3, 1), b.reshape(3, 1))
    assert v2.shape == (3, 1) and g2.shape == (3, 1, 2)


# -- batch norm ------------------------------------------------------------------------


def _bn_model():
    torch.manual_seed(0)
    X = torch.randn(40, 3, dtype=torch.float64) * 2 + 1
    y = torch.randint(0, 3, (40,))
    module = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.BatchNorm1d(6),
                                 torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
    module.train()
    with torch.no_grad():
        for _ in range(3):  # running statistics away from their initial 0 and 1
            module(X[:20])
    module.eval()
    return module, X, y


def _bn_plane(tnet, seed=0) -> Plane:
    d = make_directions(DirectionSpec("filter", seed=seed), tnet, tnet.theta0())
    return Plane(d.center, d.d1, d.d2)


def test_batch_norm_eval_uses_running_statistics() -> None:
    module, X, y = _bn_model()
    before = module[1].running_mean.clone()
    tnet = TorchNetwork(model_file(module, [(X, y)]), bn_mode="eval")
    assert tnet.has_batch_norm() and "batch norm: eval" in tnet.describe()
    ev = TorchPlaneEvaluator(tnet, tnet.data("train"), _bn_plane(tnet), "float64")
    with torch.no_grad():
        want = float(F.cross_entropy(module.eval()(X), y))
        batch_stats = float(F.cross_entropy(copy.deepcopy(module).train()(X), y))
    assert abs(want - batch_stats) > 1e-3  # the two modes differ on this model
    A, B = grid_ab()
    loss, _ = ev.evaluate(A, B)
    assert ev.vmap_error == ""  # running statistics: batched
    assert loss[4, 4] == pytest.approx(want, rel=1e-12)
    assert ev.direct(0.0, 0.0)[0] == pytest.approx(want, rel=1e-12)
    slow = TorchPlaneEvaluator(tnet, tnet.data("train"), ev.plane, "float64", use_vmap=False)
    np.testing.assert_allclose(slow.evaluate(A, B)[0], loss, rtol=1e-10)
    assert torch.equal(module[1].running_mean, before)


def test_batch_norm_train_recomputes_statistics_without_changing_the_model() -> None:
    module, X, y = _bn_model()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    with torch.no_grad():
        want = float(F.cross_entropy(copy.deepcopy(module).train()(X), y))
    tnet = TorchNetwork(model_file(module, [(X, y)]), bn_mode="train")
    assert "batch norm: train" in tnet.describe()
    ev = TorchPlaneEvaluator(tnet, tnet.data("train"), _bn_plane(tnet), "float64")
    assert "batch norm" in ev.vmap_error  # point by point, by design
    A, B = np.meshgrid(np.linspace(-1, 1, 3), np.linspace(-1, 1, 3))  # point by point: small
    loss, acc = ev.evaluate(A, B)
    assert loss[1, 1] == pytest.approx(want, rel=1e-12)
    assert ev.direct(0.0, 0.0)[0] == pytest.approx(want, rel=1e-12)
    # evaluating again gives the same values: no statistics carried from point to point
    loss2, acc2 = ev.evaluate(A, B)
    np.testing.assert_array_equal(loss2, loss)
    np.testing.assert_array_equal(acc2, acc)
    for k, v in module.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not module.training  # the user's module keeps its mode
    # value_and_grad in train mode: also the batch statistics
    v, _ = ev.value_and_grad(np.zeros(1), np.zeros(1))
    assert v[0] == pytest.approx(want, rel=1e-12)
    assert torch.equal(module[1].running_mean, before["1.running_mean"])


def test_bad_bn_mode_and_device() -> None:
    module, X, y = _bn_model()
    mf = model_file(module, [(X, y)])
    with pytest.raises(ValueError, match="batch-norm mode must be one of eval, train"):
        TorchNetwork(mf, bn_mode="frozen")
    with pytest.raises(ValueError, match="device must be one of cpu, cuda"):
        TorchNetwork(mf, device="tpu")


# -- the vmap fallback ---------------------------------------------------------------


class Branchy(torch.nn.Module):
    """A forward pass vmap cannot batch: a Python branch on the data."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(2, 3)

    def forward(self, x):
        out = self.fc(x)
        if out.sum() > 0:
            return out * 2.0
        return out - 1.0


def test_vmap_failure_falls_back_per_point() -> None:
    torch.manual_seed(1)
    module = Branchy().double()
    X = torch.randn(30, 2, dtype=torch.float64)
    y = torch.randint(0, 3, (30,))
    tnet = TorchNetwork(model_file(module, [(X, y)]))
    d = make_directions(DirectionSpec("random", seed=4), tnet, tnet.theta0())
    ev = TorchPlaneEvaluator(tnet, tnet.data("train"), Plane(d.center, d.d1, d.d2), "float64")
    assert ev.vmap_error == ""
    A, B = grid_ab()
    loss, acc = ev.evaluate(A, B)
    assert ev.vmap_error != "" and "\n" not in ev.vmap_error
    for j, i in [(0, 0), (4, 4), (8, 3), (2, 7)]:
        dl, da = ev.direct(A[j, i], B[j, i])
        assert loss[j, i] == dl and acc[j, i] == da
    assert np.all(np.isfinite(loss))
    # both branches occur on this plane, so the fallback really follows the data
    signs = set()
    with torch.no_grad():
        for a, b in [(-1.0, -1.0), (1.0, 1.0), (-1.0, 1.0), (1.0, -1.0), (0.0, 0.0)]:
            p = ev._unflatten(ev._points(np.array([a]), np.array([b]))[0])
            signs.add(bool(torch.func.functional_call(module.fc, {
                "weight": p["fc.weight"], "bias": p["fc.bias"]}, (X,)).sum() > 0))
    assert signs == {True, False}


# -- layout and filter normalisation -------------------------------------------------


def _conv_model():
    torch.manual_seed(2)
    module = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(4 * 3 * 3, 3))
    X = torch.randn(8, 1, 5, 5)
    y = torch.randint(0, 3, (8,))
    return module, X, y


def test_layout_follows_named_parameters() -> None:
    module, X, y = _conv_model()
    tnet = TorchNetwork(model_file(module, [(X, y)]))
    blocks = tnet.layout.blocks
    names = [n for n, _ in module.named_parameters()]
    assert [b.name for b in blocks] == names == tnet.names
    assert [b.shape for b in blocks] == [tuple(p.shape) for p in module.parameters()]
    offsets = np.cumsum([0] + [p.numel() for p in module.parameters()])
    assert [b.offset for b in blocks] == list(offsets[:-1])
    assert tnet.n_params == tnet.layout.size == offsets[-1] == 4 * 9 + 4 + 4 + 4 + 36 * 3 + 3
    roles = {b.name: (b.role, b.filter_axis) for b in blocks}
    assert roles == {"0.weight": ("weight", 0), "0.bias": ("bias", None),
                     "1.weight": ("bias", None), "1.bias": ("bias", None),
                     "4.weight": ("weight", 0), "4.bias": ("bias", None)}
    want = torch.nn.utils.parameters_to_vector(module.parameters()).detach().double().numpy()
    np.testing.assert_array_equal(tnet.theta0(), want)
    assert tnet.task == "classification" and tnet.spec.text == "torch:model.py"


def test_filter_normalize_on_conv_filters() -> None:
    module, X, y = _conv_model()
    tnet = TorchNetwork(model_file(module, [(X, y)]))
    theta = tnet.theta0()
    d = filter_normalize(np.random.default_rng(0).standard_normal(theta.size), theta,
                         tnet.layout)
    conv = tnet.layout.block("0.weight")
    dv, tv = conv.view(d), conv.view(theta)
    assert dv.shape == (4, 1, 3, 3)
    for k in range(4):  # each output channel is a filter
        assert np.linalg.norm(dv[k]) == pytest.approx(np.linalg.norm(tv[k]), rel=1e-12)
    lin = tnet.layout.block("4.weight")
    np.testing.assert_allclose(np.linalg.norm(lin.view(d), axis=1),
                               np.linalg.norm(lin.view(theta), axis=1), rtol=1e-12)
    for name in ("0.bias", "1.weight", "1.bias", "4.bias"):
        assert not np.any(tnet.layout.block(name).view(d)), name  # bias="zero"
    # and the conv model evaluates on such a plane (BN in eval mode batches)
    ev = TorchPlaneEvaluator(tnet, tnet.data("train"), Plane(theta, d, d[::-1].copy()))
    loss, acc = ev.evaluate(np.array([0.0, 0.5]), np.array([0.0, -0.5]))
    assert np.all(np.isfinite(loss)) and ev.vmap_error == ""
    with torch.no_grad():
        want = float(F.cross_entropy(module.eval()(X), y))
    assert loss[0] == pytest.approx(want, rel=1e-5)


# -- errors and small parts ------------------------------------------------------------


def test_plane_of_another_model_is_refused(blobs) -> None:
    _, _, _, tnet, plane, _, _ = blobs
    small = Plane(plane.center[:-1], plane.d1[:-1], plane.d2[:-1])
    with pytest.raises(ValueError, match=r"the plane has 38 parameters, the model 39"):
        TorchPlaneEvaluator(tnet, tnet.data("train"), small)
    with pytest.raises(ValueError, match="another model"):
        tnet.plane_evaluator("train", small, "float32")


def test_cuda_without_cuda_is_refused() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    module, X, y = _conv_model()
    with pytest.raises(ValueError, match="device 'cuda' asked for, but torch sees no CUDA"):
        TorchNetwork(model_file(module, [(X, y)]), device="cuda")


def test_splits_and_model_file_data(blobs) -> None:
    _, _, _, tnet, _, _, _ = blobs
    assert tnet.has_split("train") and not tnet.has_split("val")
    with pytest.raises(ValueError, match="no validation data"):
        tnet.data("val")
    with pytest.raises(ValueError, match="loss"):
        tnet.with_loss("mse", 0.0)
    mfd = ModelFileData(tnet.model_file)
    assert mfd.name == "model-file" and mfd.title == "model.py"
    assert mfd.params == {"script": "/nowhere/model.py"}
    with_val = TorchNetwork(model_file(tnet.model_file.module, tnet.data("train"),
                                       val=tnet.data("train")))
    assert with_val.has_split("val") and with_val.data("val") is with_val.model_file.val
