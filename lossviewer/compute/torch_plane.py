"""A user's PyTorch model on a plane of its parameter space: the torch side of network slices.

:class:`TorchNetwork` adapts a loaded model file to what a NetworkSlice needs
(a parameter layout for filter normalisation, a description, an evaluator, a
gradient for Hessian directions); :class:`TorchPlaneEvaluator` evaluates the
loss and accuracy at plane points θ(a, b) = θ₀ + a·δ + b·η:

- batched: ``torch.func.functional_call`` under ``torch.func.vmap`` over a chunk
  of grid points, each point's parameters built as c + a·d1 + b·d2 per tensor;
- per point (the fallback, and the reference): one functional call per point.
  Models that vmap cannot handle (data-dependent control flow, in-place ops,
  batch-norm recomputing its statistics) use it automatically; ``vmap_error``
  says why.

Batch-norm: "eval" uses the stored running statistics (module.eval()); "train"
recomputes them from the data at every grid point (Garipov et al. 2018), on a
copy of the buffers so the model is never changed. The loss over several
batches is the sample-weighted mean of the per-batch (mean-reduced) losses.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossviewer.compute.model_file import ModelFile
from lossviewer.core.network import ParamBlock, ParamLayout
from lossviewer.core.plane_eval import Plane

BN_MODES = {"eval": "stored running statistics (model.eval())",
            "train": "statistics recomputed at every point (Garipov et al.)"}
DEVICES = ("cpu", "cuda")
#: grid points per vmapped call (activations scale with it; 32 measured best on 2 cores)
VMAP_CHUNK = 32


def _torch() -> Any:
    import torch

    return torch


def available_devices() -> list[str]:
    torch = _torch()
    return ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@dataclass(frozen=True)
class TorchSpec:
    """The model's description where a ModelSpec would be (files, titles)."""

    text: str
    loss: str
    l2: float = 0.0
    hidden: tuple[int, ...] = ()
    activation: str = ""


class TorchNetwork:
    """A model file as a network of a NetworkSlice (parameters in named_parameters order)."""

    task = "classification"

    def __init__(self, model_file: ModelFile, device: str = "cpu", bn_mode: str = "eval") -> None:
        torch = _torch()
        if device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
        if device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for, but torch sees no CUDA device")
        if bn_mode not in BN_MODES:
            raise ValueError(f"batch-norm mode must be one of {', '.join(BN_MODES)}")
        self.model_file = model_file
        self.device = device
        self.bn_mode = bn_mode
        blocks, off = [], 0
        self.names: list[str] = []
        self.shapes: list[tuple[int, ...]] = []
        for i, (name, p) in enumerate(model_file.module.named_parameters()):
            shape = tuple(int(s) for s in p.shape)
            weight = len(shape) > 1
            blocks.append(ParamBlock(name, shape, off, "weight" if weight else "bias", i,
                                     0 if weight else None))
            off += int(np.prod(shape)) if shape else 1
            self.names.append(name)
            self.shapes.append(shape)
        self.layout = ParamLayout(tuple(blocks))
        loss = "custom" if model_file.custom_loss else "cross_entropy"
        self.spec = TorchSpec(f"torch:{model_file.name}", loss)
        self.sizes: tuple[int, ...] = ()
        self.n_classes = 0

    @property
    def n_params(self) -> int:
        return self.layout.size

    @property
    def loss(self) -> str:
        return self.spec.loss

    def describe(self) -> str:
        bn = " (batch norm: " + self.bn_mode + ")" if self.has_batch_norm() else ""
        return (f"{type(self.model_file.module).__name__} ({self.n_params:,} parameters), "
                f"{'custom loss' if self.model_file.custom_loss else 'cross-entropy'}{bn}")

    def check_data(self, _X: Any) -> None:
        """The model file brings its own data (nothing to check against a size)."""

    def has_batch_norm(self) -> bool:
        torch = _torch()
        return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                   for m in self.model_file.module.modules())

    def theta0(self) -> NDArray[np.float64]:
        """The model's own parameters as one float64 vector."""
        return np.concatenate([p.detach().cpu().double().reshape(-1).numpy()
                               for p in self.model_file.module.parameters()])

    def data(self, split: str) -> list[tuple[Any, Any]]:
        mf = self.model_file
        if split == "val":
            if mf.val is None:
                raise ValueError(f"{mf.name} has no validation data (data() returned only "
                                 "the training set)")
            return mf.val
        return mf.train

    def has_split(self, split: str) -> bool:
        return split == "train" or self.model_file.val is not None

    def plane_evaluator(self, split: str, plane: Plane, dtype: str) -> TorchPlaneEvaluator:
        return TorchPlaneEvaluator(self, self.data(split), plane, dtype)

    def with_loss(self, *_args: Any) -> TorchNetwork:
        raise ValueError("a model file's loss is its own loss() (edit the file)")

    def loss_and_grad(self, theta: NDArray, _X: Any = None, _t: Any = None
                      ) -> tuple[float, NDArray[np.float64]]:
        """Loss on the training data and its gradient by autograd (float64, for HVPs)."""
        torch = _torch()
        ev = TorchPlaneEvaluator(self, self.data("train"), Plane(theta, theta * 0, theta * 0),
                                 "float64")
        flat = torch.tensor(np.asarray(theta, np.float64), dtype=torch.float64,
                            device=ev.device, requires_grad=True)
        loss, _ = ev._loss_and_correct(ev._unflatten(flat), batched=False)
        (g,) = torch.autograd.grad(loss, flat)
        return float(loss.detach()), g.detach().cpu().numpy()


class TorchPlaneEvaluator:
    """Loss and accuracy of a torch model at plane points (the PlaneEvaluator interface)."""

    def __init__(self, network: TorchNetwork, batches: list[tuple[Any, Any]], plane: Plane,
                 dtype: str = "float32", use_vmap: bool = True) -> None:
        torch = _torch()
        if plane.dim != network.n_params:
            raise ValueError(f"the plane has {plane.dim} parameters, the model "
                             f"{network.n_params}: the directions belong to another model")
        self.network = network
        self.plane = plane
        self.tdtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
        self.dtype = np.dtype(dtype)
        self.device = torch.device(network.device)
        module = copy.deepcopy(network.model_file.module).to(self.device, self.tdtype)
        module.train(network.bn_mode == "train")
        self.module = module
        self.buffers = {k: v for k, v in module.named_buffers()}
        self.batches = [(X.to(self.device, self.tdtype if X.is_floating_point() else X.dtype),
                         y.to(self.device)) for X, y in batches]
        self.n = sum(int(X.shape[0]) for X, _ in self.batches)
        self.loss_fn = network.model_file.loss
        as_t = lambda v: torch.as_tensor(v, dtype=self.tdtype, device=self.device)  # noqa: E731
        self._c, self._d1, self._d2 = as_t(plane.center), as_t(plane.d1), as_t(plane.d2)
        self.vmap_error = "" if use_vmap else "turned off"
        if network.bn_mode == "train" and network.has_batch_norm():
            self.vmap_error = "batch norm recomputing its statistics runs point by point"
        self.accuracy = self._accuracy_kind()
        #: why the per-point path is used although vmap works ("" while vmap is used)
        self.per_point_faster = ""
        self._vmap_calls = 0

    def _accuracy_kind(self) -> str:
        """How predictions are scored, decided once outside vmap (no data-dependent
        branches inside it): "argmax" for class scores and integer labels, "sign" for one
        logit and 0/1 targets, "" when the task has no accuracy (regression)."""
        torch = _torch()
        X, y = self.batches[0]
        training = self.module.training
        self.module.eval()  # a probe: batch norm must neither update nor need a batch
        try:
            with torch.no_grad():
                out = self.module(X[:2])
        finally:
            self.module.train(training)
        if not y.is_floating_point() and out.ndim == 2 and out.shape[1] > 1:
            return "argmax"
        if y.is_floating_point() and out.numel() == min(2, X.shape[0]) * (
                y[0].numel() if y.ndim > 1 else 1) and bool(torch.all((y == 0) | (y == 1))):
            return "sign"
        return ""

    # -- parameters ---------------------------------------------------------------------
    def _unflatten(self, flat: Any) -> dict[str, Any]:
        """Parameter dict from a flat vector (..., D) (leading axes kept: vmap batches)."""
        out, off = {}, 0
        lead = flat.shape[:-1]
        for name, shape in zip(self.network.names, self.network.shapes, strict=True):
            k = int(np.prod(shape)) if shape else 1
            out[name] = flat[..., off:off + k].reshape(*lead, *shape)
            off += k
        return out

    def _points(self, a: NDArray, b: NDArray) -> Any:
        torch = _torch()
        A = torch.as_tensor(a, dtype=self.tdtype, device=self.device)[:, None]
        B = torch.as_tensor(b, dtype=self.tdtype, device=self.device)[:, None]
        return self._c + A * self._d1 + B * self._d2

    # -- loss --------------------------------------------------------------------------
    def _loss_and_correct(self, params: dict[str, Any], batched: bool) -> tuple[Any, Any]:
        """Mean loss over all batches and the number of correct predictions (NaN: none)."""
        from torch.func import functional_call

        total, correct = 0.0, 0.0
        for X, y in self.batches:
            buffers = ({k: v.clone() for k, v in self.buffers.items()}
                       if self.module.training and not batched else self.buffers)
            out = functional_call(self.module, (params, buffers), (X,))
            total = total + self.loss_fn(out, y) * (X.shape[0] / self.n)
            if self.accuracy == "argmax":
                correct = correct + (out.argmax(dim=-1) == y).sum()
            elif self.accuracy == "sign":
                correct = correct + ((out.reshape(y.shape) > 0).to(y.dtype) == y).sum()
            else:
                correct = math.nan
        return total, correct

    def chunk_points(self) -> int:
        return VMAP_CHUNK

    def chunks(self, total: int) -> Iterator[slice]:
        k = self.chunk_points()
        for i in range(0, total, k):
            yield slice(i, min(i + k, total))

    def evaluate(self, a: ArrayLike, b: ArrayLike) -> tuple[NDArray[np.float64],
                                                           NDArray[np.float64]]:
        """(loss, accuracy) at plane points (a, b), batched with vmap where it works."""
        a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
        shape = a.shape
        fa, fb = a.ravel(), b.ravel()
        loss = np.empty(fa.size)
        acc = np.empty(fa.size)
        for s in self.chunks(fa.size):
            loss[s], acc[s] = self._evaluate_chunk(fa[s], fb[s])
        return loss.reshape(shape), acc.reshape(shape)

    def _evaluate_chunk(self, a: NDArray, b: NDArray) -> tuple[NDArray, NDArray]:
        torch = _torch()
        with torch.no_grad():
            flat = self._points(a, b)
            if not self.vmap_error and not self.per_point_faster:
                try:
                    t0 = time.perf_counter()
                    fn = torch.func.vmap(
                        lambda f: self._loss_and_correct(self._unflatten(f), batched=True))
                    loss, correct = fn(flat)
                    acc = (_numpy(correct) / self.n if self.accuracy
                           else np.full(len(a), np.nan))
                    self._vmap_calls += 1
                    # the second call: the first pays one-time costs
                    if self._vmap_calls == 2 and len(a) >= 4:
                        self._choose_mode(flat, (time.perf_counter() - t0) / len(a))
                    return _numpy(loss), acc
                except Exception as exc:  # noqa: BLE001 - any vmap failure: per point
                    self.vmap_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            return self._per_point(flat)

    def _per_point(self, flat: Any) -> tuple[NDArray, NDArray]:
        out = [self._loss_and_correct(self._unflatten(f), batched=False) for f in flat]
        loss = np.array([float(v) for v, _ in out])
        correct = np.array([float(c) for _, c in out])
        return loss, correct / self.n

    def _choose_mode(self, flat: Any, vmap_per_point: float) -> None:
        """vmap turns convolutions into grouped ones, which torch's CPU kernels can run
        slower than one call per point (measured 0.8× on the digits CNN): time both once
        and keep the faster."""
        t0 = time.perf_counter()
        self._per_point(flat[:2])
        per_point = (time.perf_counter() - t0) / 2
        if per_point < vmap_per_point:
            self.per_point_faster = (f"one call per point is faster here ({1e3 * per_point:.1f}"
                                     f" vs {1e3 * vmap_per_point:.1f} ms per point with vmap)")

    def direct(self, a: float, b: float) -> tuple[float, float]:
        """One point, one functional call per batch (the per-point reference)."""
        torch = _torch()
        with torch.no_grad():
            flat = self._points(np.array([a], float), np.array([b], float))[0]
            loss, correct = self._loss_and_correct(self._unflatten(flat), batched=False)
        return float(loss), float(correct) / self.n

    def value_and_grad(self, a: ArrayLike, b: ArrayLike
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Loss and its gradient in the plane coordinates (autograd, point by point)."""
        torch = _torch()
        a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
        shape = a.shape
        vals, grads = [], []
        for ai, bi in zip(a.ravel(), b.ravel(), strict=True):
            ab = torch.tensor([ai, bi], dtype=self.tdtype, device=self.device,
                              requires_grad=True)
            flat = self._c + ab[0] * self._d1 + ab[1] * self._d2
            loss, _ = self._loss_and_correct(self._unflatten(flat), batched=False)
            (g,) = torch.autograd.grad(loss, ab)
            vals.append(float(loss.detach()))
            grads.append(g.detach().cpu().double().numpy())
        return (np.array(vals).reshape(shape), np.array(grads).reshape(shape + (2,)))


def _numpy(t: Any) -> NDArray[np.float64]:
    return t.detach().cpu().double().numpy()


@dataclass(frozen=True, eq=False)
class ModelFileData:
    """Where a NetworkSlice keeps its dataset: a model file's data (not regenerable)."""

    model_file: ModelFile
    name: str = "model-file"
    task: str = "classification"
    n_classes: int = 0
    image_shape: tuple[int, int] | None = None

    @property
    def title(self) -> str:
        return self.model_file.name

    @property
    def params(self) -> dict[str, Any]:
        return {"script": self.model_file.path}

    def describe(self) -> str:
        return self.model_file.describe()
