"""Small neural networks in numpy: MLPs with one flat parameter vector and exact backprop.

A network's parameters live in one flat float vector θ (what the optimizers
step, what directions are drawn in); :class:`ParamLayout` maps it to layers:
names, shapes, which entries are weights (whose rows are the neurons, the
"filters" of Li et al. 2018) and which are biases. The order is that of a torch
``nn.Sequential`` of ``nn.Linear`` layers' ``state_dict`` (weight (out, in),
then bias, per layer), so parameter vectors carry over to torch unchanged.

Losses follow torch's definitions (mean over samples):
- cross-entropy: ``BCEWithLogitsLoss`` for two classes (one output),
  ``CrossEntropyLoss`` for more;
- hinge: ``max(0, 1 − t·f)`` with t = ±1 for two classes, ``MultiMarginLoss``
  (margin 1, divided by the number of classes) for more;
- MSE: of the predicted probabilities (sigmoid / softmax) against the 0/1
  targets for classification (``MSELoss``, mean over samples and outputs), of
  the output against the target for regression.
L2 regularisation adds ``l2/2 · ‖θ‖²`` (torch's ``weight_decay=l2`` on SGD).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

ACTIVATIONS: dict[str, str] = {
    "relu": "ReLU: max(0, z)",
    "tanh": "tanh(z)",
    "sigmoid": "logistic sigmoid 1/(1 + e^−z)",
    "gelu": "GELU, tanh approximation (torch.nn.GELU(approximate='tanh'))",
}
LOSSES: dict[str, str] = {
    "cross_entropy": "Cross-entropy: −log of the probability given to the true class",
    "mse": "Mean squared error (of the predicted probabilities for classification)",
    "hinge": "Hinge: penalises outputs within a margin of 1 of the wrong side",
}
LOSS_TITLES = {"cross_entropy": "cross-entropy", "mse": "MSE", "hinge": "hinge"}
MAX_WIDTH = 4096
MAX_LAYERS = 8
MAX_PARAMETERS = 20_000_000
_GELU_C = math.sqrt(2.0 / math.pi)


@dataclass(frozen=True)
class ModelSpec:
    """An MLP architecture and its training loss: hidden widths, activation, loss, L2."""

    hidden: tuple[int, ...] = (16, 16)
    activation: str = "relu"
    loss: str = "cross_entropy"
    l2: float = 0.0

    def __post_init__(self) -> None:
        hidden = tuple(int(h) for h in self.hidden)
        if len(hidden) > MAX_LAYERS:
            raise ValueError(f"at most {MAX_LAYERS} hidden layers, got {len(hidden)}")
        for h in hidden:
            if not 1 <= h <= MAX_WIDTH:
                raise ValueError(f"hidden widths must lie in [1, {MAX_WIDTH}], got {h}")
        object.__setattr__(self, "hidden", hidden)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; "
                             f"known: {', '.join(ACTIVATIONS)}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; known: {', '.join(LOSSES)}")
        l2 = float(self.l2)
        if not (math.isfinite(l2) and 0.0 <= l2 <= 10.0):
            raise ValueError(f"L2 regularisation must lie in [0, 10], got {self.l2!r}")
        object.__setattr__(self, "l2", l2)

    @classmethod
    def parse(cls, text: str, loss: str = "cross_entropy", l2: float = 0.0) -> ModelSpec:
        """``mlp:16,16[:relu]``, ``mlp:32:tanh``, ``linear`` (alias ``logistic``/``softmax``)."""
        t = str(text).strip().lower()
        if t in ("linear", "logistic", "softmax"):
            return cls((), "relu", loss, l2)
        m = re.fullmatch(r"mlp:([0-9 ,]+)(?::([a-z]+))?", t)
        if not m:
            raise ValueError(
                f"cannot read model {text!r}: write 'linear' (logistic/softmax regression) or "
                "'mlp:WIDTH,WIDTH[:ACTIVATION]', e.g. 'mlp:16,16:relu'")
        try:
            widths = tuple(int(w) for w in m.group(1).split(",") if w.strip())
        except ValueError:
            raise ValueError(f"cannot read the widths in {text!r}") from None
        if not widths:
            raise ValueError(f"no hidden widths in {text!r}")
        return cls(widths, m.group(2) or "relu", loss, l2)

    @property
    def text(self) -> str:
        """The spec as ``parse`` reads it."""
        if not self.hidden:
            return "linear"
        return f"mlp:{','.join(map(str, self.hidden))}:{self.activation}"

    def describe(self, n_in: int, n_out: int) -> str:
        sizes = "→".join(str(s) for s in (n_in, *self.hidden, n_out))
        act = f", {self.activation}" if self.hidden else ""
        reg = f", L2 {self.l2:g}" if self.l2 else ""
        return f"MLP {sizes}{act}, {LOSS_TITLES[self.loss]}{reg}"


@dataclass(frozen=True)
class ParamBlock:
    """One tensor inside the flat parameter vector."""

    name: str
    shape: tuple[int, ...]
    offset: int
    #: "weight" or "bias"
    role: str
    layer: int
    #: the axis whose slices are filters / neurons (0 for a weight's rows), None for biases
    filter_axis: int | None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def slice(self) -> slice:
        return slice(self.offset, self.offset + self.size)

    def view(self, theta: NDArray) -> NDArray:
        """This block of θ (..., D) as an array (..., *shape); a view, not a copy."""
        return theta[..., self.slice].reshape(theta.shape[:-1] + self.shape)


@dataclass(frozen=True)
class ParamLayout:
    blocks: tuple[ParamBlock, ...]

    @property
    def size(self) -> int:
        last = self.blocks[-1]
        return last.offset + last.size

    def block(self, name: str) -> ParamBlock:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(name)

    def describe(self) -> list[str]:
        return [f"{b.name} {'×'.join(map(str, b.shape))}" for b in self.blocks]


def _layout(sizes: tuple[int, ...]) -> ParamLayout:
    blocks = []
    off = 0
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        blocks.append(ParamBlock(f"layers.{i}.weight", (n_out, n_in), off, "weight", i, 0))
        off += n_out * n_in
        blocks.append(ParamBlock(f"layers.{i}.bias", (n_out,), off, "bias", i, None))
        off += n_out
    return ParamLayout(tuple(blocks))


# -- activations (in place where it saves memory) -----------------------------


def activate(name: str, z: NDArray, out: NDArray | None = None) -> NDArray:
    """The activation of ``z``; ``out`` may be ``z`` itself."""
    if name == "relu":
        return np.maximum(z, 0, out=out)
    if name == "tanh":
        return np.tanh(z, out=out)
    if name == "sigmoid":
        return _sigmoid(z, out)
    if name == "gelu":
        u = z * z
        u *= 0.044715 * _GELU_C
        u += _GELU_C
        u *= z
        np.tanh(u, out=u)
        u += 1.0
        u *= 0.5
        return np.multiply(z, u, out=out)
    raise ValueError(f"unknown activation {name!r}")


def activation_slope(name: str, z: NDArray, h: NDArray) -> NDArray:
    """d act / dz at pre-activation ``z`` (``h`` = act(z), reused where it helps)."""
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "tanh":
        return 1.0 - h * h
    if name == "sigmoid":
        return h * (1.0 - h)
    if name == "gelu":
        z2 = z * z
        t = np.tanh(_GELU_C * (z + 0.044715 * z2 * z))
        return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * z2)
    raise ValueError(f"unknown activation {name!r}")


def _sigmoid(z: NDArray, out: NDArray | None = None) -> NDArray:
    # 1/(1+e^-z) written so that neither branch overflows
    e = np.exp(-np.abs(z))
    pos = z >= 0
    res = np.where(pos, 1.0 / (1.0 + e), e / (1.0 + e))
    if out is None:
        return res.astype(z.dtype, copy=False)
    out[...] = res
    return out


def _log_softmax(f: NDArray) -> NDArray:
    m = f.max(axis=-1, keepdims=True)
    s = f - m
    s -= np.log(np.exp(s).sum(axis=-1, keepdims=True))
    return s


def _softplus(f: NDArray) -> NDArray:
    return np.maximum(f, 0) + np.log1p(np.exp(-np.abs(f)))


# -- losses over a leading batch of parameter points ---------------------------


@dataclass(frozen=True)
class Targets:
    """What a loss head needs about the labels, prepared once per dataset."""

    task: str
    n_classes: int
    #: classification: int labels (N,); regression: float targets (N,)
    y: NDArray
    #: classification with n_out > 1: one-hot (N, C); binary: 0/1 floats (N, 1)
    onehot: NDArray | None = field(default=None, repr=False)

    @classmethod
    def create(cls, task: str, n_classes: int, y: NDArray, dtype: Any = np.float64) -> Targets:
        if task == "regression":
            return cls(task, 0, np.asarray(y, dtype).reshape(-1))
        labels = np.asarray(y, dtype=np.int64).reshape(-1)
        if n_classes == 2:
            onehot = labels.astype(dtype)[:, None]
        else:
            onehot = np.zeros((labels.size, n_classes), dtype)
            onehot[np.arange(labels.size), labels] = 1.0
        return cls(task, n_classes, labels, onehot)

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


def loss_values(loss: str, f: NDArray, t: Targets) -> NDArray:
    """Mean loss over samples for outputs ``f`` (..., N, n_out): shape (...)."""
    if t.task == "regression":
        d = f[..., 0] - t.y
        return np.mean(d * d, axis=-1)
    oh = t.onehot
    if t.n_classes == 2:
        z = f[..., 0]
        y01 = oh[:, 0]
        if loss == "cross_entropy":
            return np.mean(_softplus(z) - y01 * z, axis=-1)
        if loss == "hinge":
            return np.mean(np.maximum(0.0, 1.0 - (2.0 * y01 - 1.0) * z), axis=-1)
        p = _sigmoid(z)
        p -= y01
        return np.mean(p * p, axis=-1)
    if loss == "cross_entropy":
        # log-sum-exp minus the true class's output, with one temporary
        m = f.max(axis=-1, keepdims=True)
        e = np.subtract(f, m)
        np.exp(e, out=e)
        lse = np.log(e.sum(axis=-1)) + m[..., 0]
        fy = np.take_along_axis(f, np.broadcast_to(t.y[:, None], f.shape[:-1] + (1,)), axis=-1)
        lse -= fy[..., 0]
        return np.mean(lse, axis=-1)
    if loss == "hinge":
        fy = np.take_along_axis(f, np.broadcast_to(t.y[:, None], f.shape[:-1] + (1,)), axis=-1)
        m = np.maximum(0.0, 1.0 - fy + f)
        # the true class's own term is max(0, 1) = 1: take it out
        return np.mean((m.sum(axis=-1) - 1.0) / t.n_classes, axis=-1)
    p = np.exp(_log_softmax(f))
    p -= oh
    return np.mean(np.mean(p * p, axis=-1), axis=-1)


def loss_slopes(loss: str, f: NDArray, t: Targets) -> NDArray:
    """d(mean loss)/d f for outputs ``f`` (..., N, n_out), same shape."""
    n = t.n
    if t.task == "regression":
        g = np.empty_like(f)
        g[..., 0] = (f[..., 0] - t.y) * (2.0 / n)
        return g
    oh = t.onehot
    if t.n_classes == 2:
        z = f[..., 0]
        y01 = oh[:, 0]
        if loss == "cross_entropy":
            g0 = (_sigmoid(z) - y01) / n
        elif loss == "hinge":
            s = 2.0 * y01 - 1.0
            g0 = np.where(1.0 - s * z > 0, -s, 0.0) / n
        else:
            p = _sigmoid(z)
            g0 = 2.0 * (p - y01) * p * (1.0 - p) / n
        return g0[..., None].astype(f.dtype, copy=False)
    if loss == "cross_entropy":
        return (np.exp(_log_softmax(f)) - oh) / n
    c = t.n_classes
    if loss == "hinge":
        fy = np.take_along_axis(f, np.broadcast_to(t.y[:, None], f.shape[:-1] + (1,)), axis=-1)
        active = (1.0 - fy + f > 0).astype(f.dtype)
        active -= oh  # the true class's own term is constant
        g = active
        g -= oh * active.sum(axis=-1, keepdims=True)
        return g / (c * n)
    p = np.exp(_log_softmax(f))
    dp = (p - oh) * (2.0 / (n * c))
    return p * (dp - np.sum(p * dp, axis=-1, keepdims=True))


def correct_fraction(f: NDArray, t: Targets) -> NDArray:
    """Accuracy of outputs ``f`` (..., N, n_out): shape (...); NaN for regression.

    The predicted class is the first with the largest output (argmax's rule),
    found one class at a time: on short class axes this is several times
    faster than np.argmax.
    """
    if t.task == "regression":
        return np.full(f.shape[:-2], np.nan)
    if t.n_classes == 2:
        z = f[..., 0]
        # a NaN output predicts nothing: wrong for either label
        return np.mean(((z > 0) == (t.y == 1)) & ~np.isnan(z), axis=-1)
    m = f.max(axis=-1)
    pred = np.full(m.shape, -1, dtype=np.int64)
    for j in range(f.shape[-1] - 1, -1, -1):
        pred[f[..., j] == m] = j
    return np.mean(pred == t.y, axis=-1)


# -- the network ----------------------------------------------------------------


class Network:
    """An MLP for a task: ``sizes`` = (inputs, *hidden, outputs), with its loss.

    Two classes use one output (logistic), more use one output per class.
    """

    def __init__(self, spec: ModelSpec, n_in: int, task: str, n_classes: int) -> None:
        if task not in ("classification", "regression"):
            raise ValueError(f"unknown task {task!r}")
        if task == "regression" and spec.loss != "mse":
            raise ValueError(
                f"{LOSS_TITLES[spec.loss]} needs a classification dataset; "
                "use MSE for regression")
        if task == "classification" and n_classes < 2:
            raise ValueError(f"classification needs at least 2 classes, got {n_classes}")
        self.spec = spec
        self.task = task
        self.n_classes = int(n_classes) if task == "classification" else 0
        n_out = 1 if task == "regression" or n_classes == 2 else int(n_classes)
        self.sizes: tuple[int, ...] = (int(n_in), *spec.hidden, n_out)
        self.layout = _layout(self.sizes)
        if self.layout.size > MAX_PARAMETERS:
            raise ValueError(f"the model has {self.layout.size:,} parameters; "
                             f"at most {MAX_PARAMETERS:,} are supported")

    @classmethod
    def for_dataset(cls, spec: ModelSpec, dataset: Any) -> Network:
        """The network ``spec`` sized for ``dataset`` (a core.datasets.Dataset)."""
        return cls(spec, dataset.n_features, dataset.task, dataset.n_classes)

    @property
    def n_params(self) -> int:
        return self.layout.size

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def loss(self) -> str:
        return self.spec.loss

    def describe(self) -> str:
        return self.spec.describe(self.sizes[0], self.sizes[-1])

    def targets(self, y: NDArray, dtype: Any = np.float64) -> Targets:
        return Targets.create(self.task, self.n_classes, y, dtype)

    def check_data(self, X: NDArray) -> None:
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"the model takes {self.sizes[0]} input features, the data has "
                             f"{X.shape[1] if X.ndim == 2 else X.shape}")

    def init_params(self, seed: int = 0) -> NDArray[np.float64]:
        """torch.nn.Linear's default initialisation: U(±1/√fan_in) for weights and biases."""
        rng = np.random.default_rng(seed)
        theta = np.empty(self.n_params)
        for b in self.layout.blocks:
            fan_in = self.sizes[b.layer]
            bound = 1.0 / math.sqrt(fan_in)
            theta[b.slice] = rng.uniform(-bound, bound, b.size)
        return theta

    def weights(self, theta: NDArray) -> list[tuple[NDArray, NDArray]]:
        """(W, b) per layer as views of θ (..., D)."""
        bl = self.layout.blocks
        return [(bl[2 * i].view(theta), bl[2 * i + 1].view(theta)) for i in range(self.n_layers)]

    # -- one parameter vector -------------------------------------------------
    def forward(self, theta: NDArray, X: NDArray) -> NDArray:
        """Outputs (N, n_out) at parameters θ (D,)."""
        h = X
        layers = self.weights(np.asarray(theta))
        for i, (W, b) in enumerate(layers):
            h = h @ W.T + b
            if i < len(layers) - 1:
                activate(self.spec.activation, h, out=h)
        return h

    def regularisation(self, theta: NDArray) -> NDArray:
        """``l2/2 · ‖θ‖²`` over the last axis."""
        if not self.spec.l2:
            return np.zeros(np.shape(theta)[:-1])
        return 0.5 * self.spec.l2 * np.einsum("...i,...i->...", theta, theta)

    def loss_value(self, theta: NDArray, X: NDArray, t: Targets) -> float:
        """The training objective at θ (D,): mean loss plus regularisation."""
        return float(loss_values(self.loss, self.forward(theta, X), t)
                     + self.regularisation(np.asarray(theta)))

    def metrics(self, theta: NDArray, X: NDArray, t: Targets) -> tuple[float, float]:
        """(objective, accuracy) at θ (D,); accuracy is NaN for regression."""
        f = self.forward(theta, X)
        loss = float(loss_values(self.loss, f, t) + self.regularisation(np.asarray(theta)))
        return loss, float(correct_fraction(f, t))

    def accuracy(self, f: NDArray, t: Targets) -> float:
        """Accuracy of outputs ``f`` (N, n_out); NaN for regression."""
        return float(correct_fraction(f, t))

    def loss_and_grad(self, theta: NDArray, X: NDArray, t: Targets, outputs: bool = False
                      ) -> Any:
        """Objective and its exact gradient (backpropagation) at θ (D,).

        With ``outputs``, also the network's outputs (N, n_out) from the same pass.
        """
        theta = np.asarray(theta)
        layers = self.weights(theta)
        act = self.spec.activation
        zs: list[NDArray] = []
        hs: list[NDArray] = [X]
        h = X
        for i, (W, b) in enumerate(layers):
            z = h @ W.T + b
            if i < len(layers) - 1:
                zs.append(z)
                h = activate(act, z)
            else:
                h = z
            hs.append(h)
        f = hs[-1]
        loss = float(loss_values(self.loss, f, t) + self.regularisation(theta))
        grad = np.empty_like(theta)
        gw = self.weights(grad)
        delta = loss_slopes(self.loss, f, t)
        for i in range(len(layers) - 1, -1, -1):
            gW, gb = gw[i]
            np.matmul(delta.T, hs[i], out=gW)
            np.sum(delta, axis=0, out=gb)
            if i:
                delta = delta @ layers[i][0]
                delta *= activation_slope(act, zs[i - 1], hs[i])
        if self.spec.l2:
            grad += self.spec.l2 * theta
        return (loss, grad, f) if outputs else (loss, grad)
