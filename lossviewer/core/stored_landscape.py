"""A network landscape read from a file without its model: the stored grid, interpolated.

Files from tomgoldstein/loss-landscape (.h5), or landscapes computed from a user's
model file, carry the loss and accuracy on a grid but not a model the app can
run. :func:`stored_slice` wraps such a grid as a NetworkSlice whose "network"
evaluates by bilinear interpolation of the stored layers, so the views, the
layer switch, the read-out and even optimizer races work on it; outside the
stored grid the loss is undefined (NaN: a race stops there as diverged).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossviewer.core.landscape import Domain
from lossviewer.core.network import ParamLayout
from lossviewer.core.network_landscape import NetworkSlice, NetworkSurface


@dataclass(frozen=True)
class StoredSpec:
    """Stands where a model's spec or a direction spec would (files, titles)."""

    text: str = "stored"
    loss: str = "stored"
    l2: float = 0.0
    method: str = "stored"
    hidden: tuple[int, ...] = ()
    activation: str = ""

    def describe(self) -> str:
        return "directions as stored in the file"


@dataclass(frozen=True, eq=False)
class StoredDirections:
    """The plane of a stored grid: its coordinates are all that is known."""

    labels: tuple[str, str] = ("a", "b")
    info: dict = field(default_factory=dict)
    spec: StoredSpec = StoredSpec()
    d1: NDArray[np.float64] = field(default_factory=lambda: np.zeros(1))
    d2: NDArray[np.float64] = field(default_factory=lambda: np.zeros(1))
    center: NDArray[np.float64] = field(default_factory=lambda: np.zeros(1))


@dataclass(frozen=True, eq=False)
class StoredData:
    source: str
    name: str = "stored-file"
    task: str = "classification"
    n_classes: int = 0
    image_shape: tuple[int, int] | None = None

    @property
    def title(self) -> str:
        return self.source.rsplit("/", 1)[-1]

    @property
    def params(self) -> dict[str, Any]:
        return {"file": self.source}

    def describe(self) -> str:
        return f"{self.title}: a stored landscape (no model to run)"


class GridEvaluator:
    """Loss and accuracy by bilinear interpolation of a stored grid (PlaneEvaluator's API)."""

    def __init__(self, xs: NDArray, ys: NDArray, loss: NDArray, acc: NDArray) -> None:
        self.xs, self.ys = np.asarray(xs, float), np.asarray(ys, float)
        self.loss, self.acc = np.asarray(loss, float), np.asarray(acc, float)
        self.vmap_error = ""

    def chunk_points(self) -> int:
        return 1 << 16

    def chunks(self, total: int) -> Iterator[slice]:
        k = self.chunk_points()
        for i in range(0, total, k):
            yield slice(i, min(i + k, total))

    def _cell(self, a: NDArray, b: NDArray) -> tuple[NDArray, ...]:
        xs, ys = self.xs, self.ys
        inside = (a >= xs[0]) & (a <= xs[-1]) & (b >= ys[0]) & (b <= ys[-1])
        fx = np.interp(a, xs, np.arange(xs.size))
        fy = np.interp(b, ys, np.arange(ys.size))
        i = np.clip(np.floor(fx).astype(int), 0, xs.size - 2)
        j = np.clip(np.floor(fy).astype(int), 0, ys.size - 2)
        return inside, i, j, fx - i, fy - j

    def _bilinear(self, Z: NDArray, a: NDArray, b: NDArray) -> NDArray:
        inside, i, j, tx, ty = self._cell(a, b)
        v = ((1 - ty) * ((1 - tx) * Z[j, i] + tx * Z[j, i + 1])
             + ty * ((1 - tx) * Z[j + 1, i] + tx * Z[j + 1, i + 1]))
        return np.where(inside, v, np.nan)

    def evaluate(self, a: ArrayLike, b: ArrayLike) -> tuple[NDArray[np.float64],
                                                           NDArray[np.float64]]:
        a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
        return self._bilinear(self.loss, a, b), self._bilinear(self.acc, a, b)

    def direct(self, a: float, b: float) -> tuple[float, float]:
        loss, acc = self.evaluate(np.array([a]), np.array([b]))
        return float(loss[0]), float(acc[0])

    def value_and_grad(self, a: ArrayLike, b: ArrayLike
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The interpolant and its exact gradient (constant slopes along each cell edge)."""
        a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
        Z = self.loss
        inside, i, j, tx, ty = self._cell(a, b)
        dx = self.xs[i + 1] - self.xs[i]
        dy = self.ys[j + 1] - self.ys[j]
        z00, z10, z01, z11 = Z[j, i], Z[j, i + 1], Z[j + 1, i], Z[j + 1, i + 1]
        v = (1 - ty) * ((1 - tx) * z00 + tx * z10) + ty * ((1 - tx) * z01 + tx * z11)
        gx = ((1 - ty) * (z10 - z00) + ty * (z11 - z01)) / dx
        gy = ((1 - tx) * (z01 - z00) + tx * (z11 - z10)) / dy
        g = np.stack([gx, gy], axis=-1)
        return np.where(inside, v, np.nan), np.where(inside[..., None], g, np.nan)


class StoredLayers:
    """The "network" of a stored slice: its layers, evaluated by interpolation."""

    task = "classification"
    n_classes = 0
    sizes: tuple[int, ...] = ()

    def __init__(self, surface: NetworkSurface, source: str) -> None:
        self.surface = surface
        self.source = source
        self.spec = StoredSpec()
        self.layout = ParamLayout(())

    @property
    def n_params(self) -> int:
        return 1

    @property
    def loss(self) -> str:
        return "stored"

    def describe(self) -> str:
        ny, nx = self.surface.layers["train_loss"].shape
        return f"a stored {nx}×{ny} grid (interpolated between its points)"

    def domain(self) -> Domain:
        xs, ys = self.surface.xs, self.surface.ys
        return ((float(xs[0]), float(xs[-1])), (float(ys[0]), float(ys[-1])))

    def has_split(self, split: str) -> bool:
        return bool(np.isfinite(self.surface.layers[f"{split}_loss"]).any())

    def plane_evaluator(self, split: str, _plane: Any, _dtype: str) -> GridEvaluator:
        if not self.has_split(split):
            raise ValueError(f"{self.source.rsplit('/', 1)[-1]} holds no "
                             f"{'validation' if split == 'val' else 'training'} loss")
        L = self.surface.layers
        return GridEvaluator(self.surface.xs, self.surface.ys, L[f"{split}_loss"],
                             L[f"{split}_acc"])

    def with_loss(self, *_args: Any) -> StoredLayers:
        raise ValueError("a stored landscape has no model to re-evaluate")

    def check_data(self, _X: Any) -> None:
        """Nothing to check: there is no model."""


def stored_slice(surface: NetworkSurface, source: str,
                 labels: tuple[str, str] = ("a", "b")) -> NetworkSlice:
    """A NetworkSlice over a stored grid (no model: values are interpolated)."""
    axis = tuple(surface.meta.get("axis_labels") or labels)
    return NetworkSlice(StoredData(source), StoredLayers(surface, source),
                        StoredDirections(labels=(str(axis[0]), str(axis[1]))), None,
                        dtype="float64")
