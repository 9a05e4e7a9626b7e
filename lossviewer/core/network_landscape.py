"""A 2D slice of a network's loss as a Landscape, and its surfaces with validation layers.

:class:`NetworkSlice` bundles what defines a slice (data, model, centre and
directions, the training run they came from); :class:`NetworkLandscape` is
the slice as a :class:`~lossviewer.core.landscape.Landscape` in the plane
coordinates (a, b), so optimizer races, hover read-outs, critical points and
basins work on it as on any test function. Values and gradients for those run
in float64; grids in the slice's dtype (float32 by default).

The plane Hessian is central differences of the exact plane gradient
(step 1e-4 of the view's extent): second derivatives of a ReLU network are zero
almost everywhere and undefined on its kinks, so finite differences over a
small step are the meaningful curvature at the scale one looks at.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossviewer.core.grid import Surface, check_range, check_resolution
from lossviewer.core.landscape import Domain, Landscape, Minimum, as_points
from lossviewer.core.network import LOSS_TITLES, ModelSpec, Network
from lossviewer.core.plane_eval import Plane, PlaneEvaluator
from lossviewer.core.threads import worker_count

SPLITS = ("train", "val")
SPLIT_TITLES = {"train": "training", "val": "validation"}
#: the four layers a network surface holds
LAYERS = ("train_loss", "train_acc", "val_loss", "val_acc")
#: what each layer of a network surface shows (axis and colour-bar titles)
LAYER_TITLES = {"train_loss": "training loss", "val_loss": "validation loss",
                "loss_gap": "validation − training loss", "train_acc": "training accuracy",
                "val_acc": "validation accuracy"}
#: refuse grids beyond this many points (401² is the largest the UI offers)
MAX_GRID_POINTS = 1001 * 1001


@dataclass(frozen=True, eq=False)
class NetworkSlice:
    """Data, model and plane of a network landscape, and where the plane came from.

    ``directions`` is a core.directions.Directions (d1, d2, centre, labels,
    info, spec); ``run`` the TrainingRun whose final point is usually the
    centre (None for a slice around an untrained or loaded point).
    """

    dataset: Any
    network: Network
    directions: Any
    run: Any = None
    #: which split the landscape's value/grad use ("train" or "val")
    split: str = "train"
    dtype: str = "float32"
    _cache: dict = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")

    @property
    def plane(self) -> Plane:
        d = self.directions
        return Plane(d.center, d.d1, d.d2)

    def with_split(self, split: str) -> NetworkSlice:
        """The same slice seen on the other split (shares the evaluators).

        Always the same object for a split, so specs built from it compare equal.
        """
        if split == self.split:
            return self
        with self._lock:
            key = ("split", split)
            other = self._cache.get(key)
            if other is None:
                other = replace(self, split=split, _cache=self._cache, _lock=self._lock)
                self._cache[key] = other
                self._cache[("split", self.split)] = self
            return other

    def with_loss(self, loss: str, l2: float) -> NetworkSlice:
        """The same plane under another training objective (new evaluators)."""
        own = getattr(self.network, "with_loss", None)
        if own is not None:  # a user's model or a stored grid: ValueError says why not
            own(loss, l2)
        spec = ModelSpec(self.network.spec.hidden, self.network.spec.activation, loss, l2)
        net = Network(spec, self.network.sizes[0], self.network.task, self.network.n_classes)
        return replace(self, network=net, _cache={}, _lock=threading.Lock())

    def with_dtype(self, dtype: str) -> NetworkSlice:
        return replace(self, dtype=dtype, _cache=self._cache, _lock=self._lock)

    def data(self, split: str) -> tuple[NDArray, NDArray]:
        ds = self.dataset
        return (ds.X_train, ds.y_train) if split == "train" else (ds.X_val, ds.y_val)

    def has_split(self, split: str) -> bool:
        """Whether there is data for ``split`` (a model file may bring no validation set)."""
        has = getattr(self.network, "has_split", None)
        return True if has is None else bool(has(split))

    def evaluator(self, split: str, dtype: str) -> PlaneEvaluator:
        """The (read-only, thread-safe once built) evaluator for a split and dtype.

        A network that brings its own data and evaluation (a user's torch model)
        makes it; the built-in numpy MLPs get a PlaneEvaluator.
        """
        key = (split, dtype)
        with self._lock:
            ev = self._cache.get(key)
            if ev is None:
                make = getattr(self.network, "plane_evaluator", None)
                if make is not None:
                    ev = make(split, self.plane, dtype)
                else:
                    X, y = self.data(split)
                    ev = PlaneEvaluator(self.network, X, y, self.plane, dtype)
                self._cache[key] = ev
            return ev

    def default_domain(self) -> Domain:
        """[-1, 1]² (Li et al.'s plots), widened to hold the projected training path
        (a stored grid: its own extent)."""
        own = getattr(self.network, "domain", None)
        if own is not None:
            return own()
        lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
        method = getattr(self.directions.spec, "method", "")
        if method == "interp":
            lo, hi = np.array([-0.5, -0.5]), np.array([1.5, 1.5])
        if self.run is not None and method in ("pca", "interp"):
            coords, _ = self.plane.project(self.run.checkpoints)
            if np.all(np.isfinite(coords)):
                span = coords.max(axis=0) - coords.min(axis=0)
                lo = np.minimum(lo, coords.min(axis=0) - 0.15 * span)
                hi = np.maximum(hi, coords.max(axis=0) + 0.15 * span)
        return ((float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])))

    def describe(self) -> str:
        ds = self.dataset
        return f"{ds.title}: {self.network.describe()}, {self.directions.spec.describe()}"

    def project_run(self) -> PathProjection | None:
        """The training run's checkpoints on the plane, with how faithful the picture is.

        Computed once per slice and split (a forward pass per checkpoint) and kept.
        """
        if self.run is None:
            return None
        key = ("projection", self.split)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._project_run()
            self._cache[key] = cached
        return cached

    def _project_run(self) -> PathProjection:
        run = self.run
        coords, dist = self.plane.project(run.checkpoints)
        X, y = self.data(self.split)
        t = self.network.targets(y)
        true = np.array([self.network.loss_value(th, X, t) for th in run.checkpoints])
        ev = self.evaluator(self.split, "float64")
        surf, _ = ev.evaluate(coords[:, 0], coords[:, 1])
        norm = np.linalg.norm(run.checkpoints - self.directions.center, axis=1)
        return PathProjection(coords, dist, norm, true, surf, run.checkpoint_steps.copy())


@dataclass(frozen=True, eq=False)
class PathProjection:
    """A full-dimensional path drawn on a plane, and how far the drawing can be trusted.

    ``distance`` is each checkpoint's distance from the plane, ``offset`` its
    distance from the centre (for scale), ``true_loss`` its actual loss and
    ``surface_loss`` the slice's value under its projection.
    """

    coords: NDArray[np.float64]
    distance: NDArray[np.float64]
    offset: NDArray[np.float64]
    true_loss: NDArray[np.float64]
    surface_loss: NDArray[np.float64]
    steps: NDArray[np.int64]

    @property
    def relative_distance(self) -> NDArray[np.float64]:
        """Distance from the plane over distance from the centre (0: in the plane)."""
        with np.errstate(all="ignore"):
            r = self.distance / self.offset
        return np.where(self.offset > 0, r, 0.0)

    @property
    def loss_gap(self) -> NDArray[np.float64]:
        """|true − surface| / max(|true|, tiny): 0 where the drawing shows the true loss."""
        scale = np.maximum(np.abs(self.true_loss), 1e-12)
        return np.abs(self.true_loss - self.surface_loss) / scale

    def summary(self) -> str:
        rd = self.relative_distance
        gap = self.loss_gap
        return (f"path off the plane: median {100 * float(np.median(rd)):.0f} %, max "
                f"{100 * float(np.max(rd)):.0f} % of its distance from the centre; surface vs "
                f"true loss: median {100 * float(np.median(gap)):.1f} %, max "
                f"{100 * float(np.max(gap)):.0f} %")


class NetworkLandscape(Landscape):
    """The loss of a network on a plane of its parameter space, in plane coordinates."""

    name = "network"
    title = "Neural network"
    description = ("The loss of a real network on real data along two directions of its "
                   "parameter space (Li et al. 2018).")
    default_zscale = "linear"
    #: critical points closer than this share of the view's diagonal are one (ReLU
    #: kinks and finite-difference Hessians make Newton stop a little apart)
    critical_merge_radius = 1e-2
    #: fewer Newton seeds than the analytic views: a gradient is a pass over the data
    critical_seeds = 12

    def __init__(self, network_slice: NetworkSlice) -> None:
        self.slice = network_slice
        self.params = {}
        self._ev = network_slice.evaluator(network_slice.split, "float64")
        self._grid_ev = network_slice.evaluator(network_slice.split, network_slice.dtype)
        (x0, x1), (y0, y1) = network_slice.default_domain()
        self._fd_step = 1e-4 * max(x1 - x0, y1 - y0)
        self._minimum: Minimum | None = None
        net = network_slice.network
        loss_title = LOSS_TITLES.get(net.loss, "")
        self.formula = " ".join(w for w in (SPLIT_TITLES[network_slice.split], loss_title,
                                            "loss") if w)
        if hasattr(net, "plane_evaluator"):
            # a user's torch model: a gradient is a full autograd pass per point, too slow
            # for Newton from many seeds (critical points are not searched automatically),
            # and races yield every few steps so that a cancel is quick
            self.critical_seeds = 0
            self.path_chunk = 5
        self.default_start = self._start()

    def _start(self) -> tuple[float, float]:
        """Where the races start: the training run's initialisation as seen on the plane
        when it lies in view (the optimizers then replay training inside the slice), else
        a corner of the view."""
        (x0, x1), (y0, y1) = self.slice.default_domain()
        run = self.slice.run
        # random planes hardly see the initialisation (it projects near the centre)
        if run is not None and self.slice.directions.spec.method in ("pca", "interp"):
            (a, b), = self.slice.plane.project(run.init[None, :])[0]
            if x0 <= a <= x1 and y0 <= b <= y1 and np.hypot(a, b) > 1e-9:
                return (float(a), float(b))
        return (x0 + 0.8 * (x1 - x0), y0 + 0.8 * (y1 - y0))

    @property
    def domain(self) -> Domain:
        return self.slice.default_domain()

    def minima(self) -> list[Minimum]:
        """The centre, when it is the trained solution (its loss at plane point (0, 0))."""
        if self.slice.run is None:
            return []
        if self._minimum is None:
            v = float(self._ev.evaluate(np.zeros(1), np.zeros(1))[0][0])
            self._minimum = Minimum(0.0, 0.0, v, "global")
        return [self._minimum]

    def global_minimum(self) -> Minimum | None:
        # the centre is only the trained point, not a proven minimum of the slice
        return None

    # -- Landscape: the public vectorised API directly -------------------------------
    def value(self, P: ArrayLike) -> NDArray[np.float64]:
        p = as_points(P)
        return self._ev.evaluate(p[..., 0], p[..., 1])[0]

    def value_and_grad(self, P: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        p = as_points(P)
        return self._ev.value_and_grad(p[..., 0], p[..., 1])

    def grad(self, P: ArrayLike) -> NDArray[np.float64]:
        return self.value_and_grad(P)[1]

    def hess(self, P: ArrayLike) -> NDArray[np.float64]:
        p = as_points(P)
        h = self._fd_step
        shifts = np.array([[h, 0.0], [-h, 0.0], [0.0, h], [0.0, -h]])
        q = p[..., None, :] + shifts
        _, g = self._ev.value_and_grad(q[..., 0], q[..., 1])
        hx = (g[..., 0, :] - g[..., 1, :]) / (2 * h)
        hy = (g[..., 2, :] - g[..., 3, :]) / (2 * h)
        out = np.empty(p.shape + (2,))
        out[..., 0, :] = hx
        out[..., 1, :] = hy
        sym = 0.5 * (out[..., 0, 1] + out[..., 1, 0])
        out[..., 0, 1] = sym
        out[..., 1, 0] = sym
        return out

    def grid_values(self, xs: NDArray, ys: NDArray) -> NDArray[np.float64]:
        A, B = np.meshgrid(np.asarray(xs, float), np.asarray(ys, float))
        return self._grid_ev.evaluate(A, B)[0]

    def _f(self, x: NDArray, y: NDArray) -> NDArray:
        return self._ev.evaluate(x, y)[0]

    def _g(self, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray]:
        g = self._ev.value_and_grad(x, y)[1]
        return g[..., 0], g[..., 1]

    def _h(self, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        H = self.hess(np.stack(np.broadcast_arrays(x, y), axis=-1))
        return H[..., 0, 0], H[..., 0, 1], H[..., 1, 1]

    def __repr__(self) -> str:
        return f"NetworkLandscape({self.slice.describe()}, split={self.slice.split})"


# -- surfaces: four layers, coarse first ---------------------------------------------


@dataclass(frozen=True, eq=False)
class NetworkSurface:
    """Training and validation loss and accuracy on xs × ys (``layers[name][j, i]``)."""

    xs: NDArray[np.float64]
    ys: NDArray[np.float64]
    layers: dict[str, NDArray[np.float64]]
    meta: dict[str, Any] = field(default_factory=dict)
    #: the grid stride filled so far (1: complete)
    stride: int = 1
    #: a partial result filled in any order (tiles of a cluster run): which points are
    #: computed; the others show the nearest point of the ``preview_stride`` lattice
    done: NDArray[np.bool_] | None = None
    preview_stride: int = 1

    @property
    def pending(self) -> int:
        """Grid points not computed yet (0 for a complete surface or a stride pass)."""
        return 0 if self.done is None else int(self.done.size - np.count_nonzero(self.done))

    def surface(self, layer: str = "train_loss") -> Surface:
        """One layer as a plain Surface (what the views draw); "loss_gap" is val − train."""
        s = self.stride
        xs, ys = self.xs[::s], self.ys[::s]
        if layer == "loss_gap":
            Z = self.layers["val_loss"][::s, ::s] - self.layers["train_loss"][::s, ::s]
        else:
            Z = self.layers[layer][::s, ::s]
        if self.pending and Z.shape == self.done.shape:
            Z = _fill_from_lattice(Z, self.done, self.preview_stride)
        return Surface(xs, ys, np.ascontiguousarray(Z),
                       dict(self.meta, layer=layer, value_label=LAYER_TITLES[layer]))

    def non_finite(self) -> int:
        """Grid points whose training or validation loss is not finite (a split that
        was not computed at all, e.g. a model file without validation data, is skipped)."""
        s = self.stride
        bad = ~np.isfinite(self.layers["train_loss"][::s, ::s])
        val = self.layers["val_loss"][::s, ::s]
        if np.isfinite(val).any():
            bad |= ~np.isfinite(val)
        return int(bad.sum())


def _fill_from_lattice(Z: NDArray, done: NDArray, stride: int) -> NDArray[np.float64]:
    """A copy of Z whose uncomputed points take the value of the nearest computed point
    of the coarse lattice (every ``stride``-th point): a blocky preview that sharpens
    as the tiles arrive. Points whose lattice neighbour is not computed either stay NaN."""
    out = np.array(Z, dtype=np.float64)
    jj, ii = np.nonzero(~done)
    if jj.size == 0 or stride < 1:
        return out
    ny, nx = done.shape
    lj = np.minimum(np.rint(jj / stride).astype(np.intp) * stride, (ny - 1) // stride * stride)
    li = np.minimum(np.rint(ii / stride).astype(np.intp) * stride, (nx - 1) // stride * stride)
    ok = done[lj, li]
    out[jj, ii] = np.where(ok, Z[lj, li], np.nan)
    return out


def check_grid(resolution: int | tuple[int, int]) -> tuple[int, int]:
    """(nx, ny) of a grid; one number means a square grid."""
    nx, ny = (resolution, resolution) if np.ndim(resolution) == 0 else resolution
    nx, ny = check_resolution(nx), check_resolution(ny)
    if nx * ny > MAX_GRID_POINTS:
        mb = grid_memory_bytes(nx, ny) / 2**20
        raise ValueError(f"a {nx}×{ny} grid has {nx * ny:,} points (its four layers alone "
                         f"take {mb:,.0f} MiB, each point a pass over the data); at most "
                         f"{MAX_GRID_POINTS:,} points are supported")
    return nx, ny


def grid_memory_bytes(nx: int, ny: int) -> int:
    """Memory a network surface's result takes: four float64 layers (chunks are bounded)."""
    return 4 * 8 * nx * ny


def preview_strides(nx: int, ny: int, first_points: int = 400) -> list[int]:
    """Strides of the coarse-to-fine passes: the first has about ``first_points`` points."""
    s = 1
    while (nx // (2 * s)) * (ny // (2 * s)) >= first_points and 2 * s <= min(nx, ny) // 4:
        s *= 2
    out = []
    while s >= 1:
        out.append(s)
        s //= 2
    return out


@dataclass(eq=False)
class GridState:
    """The layers of a grid being computed and which points are finished.

    :func:`iter_network_surface` fills it in place, so a caller can save it at any
    time (a headless run checkpoints it into its output file) and pass it back in
    to continue where it stopped.
    """

    layers: dict[str, NDArray[np.float64]]
    done: NDArray[np.bool_]

    @classmethod
    def empty(cls, nx: int, ny: int) -> GridState:
        return cls({name: np.full((ny, nx), np.nan) for name in LAYERS},
                   np.zeros((ny, nx), bool))

    @property
    def finished(self) -> int:
        return int(self.done.sum())


@dataclass(frozen=True, eq=False)
class GridPlan:
    """A network grid's checked sizes and ranges, coordinates, progress and metadata
    (what every way of evaluating it, here or on a cluster, starts from)."""

    nx: int
    ny: int
    xs: NDArray[np.float64]
    ys: NDArray[np.float64]
    dtype: str
    state: GridState
    meta: dict[str, Any]

    @classmethod
    def create(cls, network_slice: NetworkSlice, xrange: tuple[float, float],
               yrange: tuple[float, float], resolution: int | tuple[int, int],
               dtype: str | None = None, state: GridState | None = None) -> GridPlan:
        nx, ny = check_grid(resolution)
        x0, x1 = check_range(*xrange, what="x range")
        y0, y1 = check_range(*yrange, what="y range")
        dt = dtype or network_slice.dtype
        if state is None:
            state = GridState.empty(nx, ny)
        elif state.done.shape != (ny, nx):
            raise ValueError(f"the saved progress is for a {state.done.shape[1]}×"
                             f"{state.done.shape[0]} grid, not {nx}×{ny}")
        meta = {"kind": "network", "xrange": (x0, x1), "yrange": (y0, y1),
                "resolution": (nx, ny), "dtype": dt, "slice": network_slice.describe(),
                "axis_labels": list(network_slice.directions.labels)}
        return cls(nx, ny, np.linspace(x0, x1, nx), np.linspace(y0, y1, ny), dt, state, meta)


def iter_network_surface(network_slice: NetworkSlice, xrange: tuple[float, float],
                         yrange: tuple[float, float], resolution: int | tuple[int, int],
                         dtype: str | None = None, state: GridState | None = None
                         ) -> Generator[tuple[int, int] | NetworkSurface, None, NetworkSurface]:
    """Evaluate all four layers on the grid, coarse to fine.

    Yields (points done, points total) often, and a :class:`NetworkSurface`
    after each pass (strides 2^k … 1): every pass fills only the grid points the
    previous ones left, so the preview costs nothing extra and the final grid
    is the same as a single pass's. Memory is the result plus one chunk.
    ``state`` (filled in place) lets a caller save progress and resume: points it
    marks done are not computed again.
    """
    plan = GridPlan.create(network_slice, xrange, yrange, resolution, dtype, state)
    nx, ny, xs, ys, dt, meta = plan.nx, plan.ny, plan.xs, plan.ys, plan.dtype, plan.meta
    layers, done = plan.state.layers, plan.state.done
    splits = [s for s in SPLITS if network_slice.has_split(s)]
    evs = {s: network_slice.evaluator(s, dt) for s in splits}
    total = nx * ny
    count = int(done.sum())
    # a few chunks per call: the evaluator spreads them over the cores
    step = max(ev.chunk_points() for ev in evs.values()) * 2 * worker_count()
    for stride in preview_strides(nx, ny):
        sel = np.zeros((ny, nx), bool)
        sel[::stride, ::stride] = True
        sel &= ~done
        jj, ii = np.nonzero(sel)
        a, b = xs[ii], ys[jj]
        for s in (slice(i, min(i + step, a.size)) for i in range(0, a.size, step)):
            for split in splits:
                loss, acc = evs[split].evaluate(a[s], b[s])
                layers[f"{split}_loss"][jj[s], ii[s]] = loss
                layers[f"{split}_acc"][jj[s], ii[s]] = acc
            done[jj[s], ii[s]] = True  # both splits of these points are finished
            count += s.stop - s.start
            yield count, total
        yield NetworkSurface(xs, ys, layers, meta, stride)
    return NetworkSurface(xs, ys, layers, meta, 1)
