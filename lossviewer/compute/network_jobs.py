"""Jobs for network landscapes: data + model + training + directions -> slice; slice -> grid.

Both are plain generators (see compute.jobs): the GUI's runner drives them on
a worker thread with progress and cancel, the command line runs them to the
end. Requests are frozen; a TrainingRun or slice they carry is never mutated.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any

from lossviewer.compute.jobs import Partial, Progress, progress_steps
from lossviewer.core.datasets import make_dataset
from lossviewer.core.directions import DirectionSpec, make_directions
from lossviewer.core.grid import SurfaceDisplay, iter_prepare_surface
from lossviewer.core.network import ModelSpec, Network
from lossviewer.core.network_landscape import (
    NetworkSlice,
    NetworkSurface,
    check_grid,
    iter_network_surface,
)
from lossviewer.core.training import (
    TrainingConfig,
    TrainingRun,
    checkpoint_interval,
    train_iter,
)


@dataclass(frozen=True)
class NetworkRequest:
    """Everything that defines a network slice."""

    dataset: str = "moons"
    dataset_params: tuple[tuple[str, Any], ...] = ()
    model: ModelSpec = ModelSpec()
    training: TrainingConfig = TrainingConfig()
    directions: DirectionSpec = DirectionSpec()
    dtype: str = "float32"
    #: a finished run to use instead of training (from a run file); must fit the model
    run: Any = None

    @classmethod
    def create(cls, dataset: str = "moons", dataset_params: dict[str, Any] | None = None,
               **kw: Any) -> NetworkRequest:
        return cls(dataset, tuple(sorted((dataset_params or {}).items())), **kw)


def _train(network: Network, ds: Any, config: TrainingConfig, lo: float, hi: float, text: str
           ) -> Generator[Progress, None, TrainingRun]:
    gen = train_iter(network, ds.X_train, ds.y_train, ds.X_val, ds.y_val, config)
    while True:
        try:
            done, total = next(gen)
        except StopIteration as stop:
            return stop.value
        f = lo + (hi - lo) * done / max(total, 1)
        yield Progress(f, f"{text} … step {done}/{total}")


def network_job(req: NetworkRequest) -> Generator[Progress, None, NetworkSlice]:
    """Make the data and the model, train (unless a run is given), draw the directions."""
    yield Progress(0.0, "Data …")
    ds = make_dataset(req.dataset, **dict(req.dataset_params))
    network = Network.for_dataset(req.model, ds)
    method = req.directions.method
    if not req.training.checkpoint_every:  # 0: automatic
        every = checkpoint_interval(req.training.steps, network.n_params)
        req = replace(req, training=replace(req.training, checkpoint_every=every))
    run = req.run
    if run is not None:
        if run.final.shape != (network.n_params,):
            raise ValueError(f"the run has {run.final.size:,} parameters, the model "
                             f"{network.describe()} has {network.n_params:,}: it was trained "
                             "with another model")
    else:
        hi = 0.45 if method == "interp" else 0.85
        run = yield from _train(network, ds, req.training, 0.02, hi, "Training")
    others = None
    if method == "interp":
        # a second solution from another initialisation; the plane also holds the first
        # run's initialisation, so both ends of its path lie in the plane
        cfg = replace(req.training, seed=req.training.seed + 1)
        second = yield from _train(network, ds, cfg, 0.45, 0.85, "Training a second solution")
        others = [second.final, run.init]
    yield Progress(0.87, "Directions …")
    t = network.targets(ds.y_train)
    directions = make_directions(req.directions, network, run.final,
                                 checkpoints=run.checkpoints, X=ds.X_train, targets=t,
                                 others=others)
    nslice = NetworkSlice(ds, network, directions, run, dtype=req.dtype)
    yield Progress(0.95, "Projecting the training path …")
    nslice.project_run()  # kept with the slice: the GUI draws it at once
    yield Progress(1.0, "Directions ready")
    return nslice


@dataclass(frozen=True)
class NetworkSurfaceRequest:
    network_slice: NetworkSlice
    xrange: tuple[float, float]
    yrange: tuple[float, float]
    resolution: tuple[int, int]
    dtype: str = "float32"
    revision: int = 0
    #: a compute.cluster.ClusterConnection to spread the grid over (None: this process)
    cluster: Any = None

    @classmethod
    def create(cls, network_slice: NetworkSlice, xrange: tuple[float, float],
               yrange: tuple[float, float], resolution: int | tuple[int, int],
               dtype: str | None = None, revision: int = 0,
               cluster: Any = None) -> NetworkSurfaceRequest:
        return cls(network_slice, tuple(map(float, xrange)), tuple(map(float, yrange)),
                   check_grid(resolution), dtype or network_slice.dtype, revision, cluster)


def _eta(seconds: float) -> str:
    if seconds < 1:
        return "under a second left"
    if seconds < 90:
        return f"{seconds:.0f} s left"
    return f"{seconds / 60:.0f} min left"


def network_surface_job(req: NetworkSurfaceRequest
                        ) -> Generator[Progress | Partial, None, NetworkSurface]:
    """The four layers on the grid, coarse passes first (each yielded as a Partial)."""
    nx, ny = req.resolution
    label = f"Landscape {nx}²" if nx == ny else f"Landscape {nx}×{ny}"
    if req.cluster is not None:
        from lossviewer.compute.cluster_grid import iter_cluster_surface

        gen = iter_cluster_surface(req.cluster, req.network_slice, req.xrange, req.yrange,
                                   (nx, ny), req.dtype)
    else:
        gen = iter_network_surface(req.network_slice, req.xrange, req.yrange, (nx, ny),
                                   req.dtype)
    t0 = time.perf_counter()
    while True:
        try:
            step = next(gen)
        except StopIteration as stop:
            return stop.value
        if isinstance(step, NetworkSurface):
            yield Partial(step)
            continue
        done, total = step
        f = done / max(total, 1)
        elapsed = time.perf_counter() - t0
        eta = f" · {_eta(elapsed * (1 - f) / f)}" if f > 0.02 and elapsed > 0.3 else ""
        yield Progress(f, f"{label} … {100 * f:.0f}%{eta}")


#: network surfaces kept per slice (layer switches and returning to a view reuse them)
KEPT_SURFACES = 3


def layer_display_job(network_slice: NetworkSlice, xrange: tuple[float, float],
                      yrange: tuple[float, float], resolution: int, layer: str,
                      dtype: str | None = None, cluster: Any = None
                      ) -> Generator[Progress | Partial, None, SurfaceDisplay]:
    """One layer of a network landscape, prepared for the views.

    The four layers are computed together (coarse previews, or the tiles a
    ``cluster`` has finished, yielded as Partials) and kept with the slice, so
    showing another layer of the same grid only prepares the display.
    """
    dt = dtype or network_slice.dtype
    n = int(resolution)
    key = _surface_key(xrange, yrange, (n, n), dt)
    cache = network_slice._cache
    with network_slice._lock:
        surface = cache.get(key)
    if surface is None:
        surface = _kept_surface(network_slice, xrange, yrange, n, dt)
    if surface is None:
        req = NetworkSurfaceRequest.create(network_slice, xrange, yrange, n, dt,
                                           cluster=cluster)
        gen = network_surface_job(req)
        done = 0.0
        while True:
            try:
                step = next(gen)
            except StopIteration as stop:
                surface = stop.value
                break
            if isinstance(step, Partial):
                if step.value.stride > 1 or step.value.pending:
                    coarse = step.value.surface(layer)
                    prepared = yield from progress_steps(iter_prepare_surface(coarse), done,
                                                         done, "Preview …")
                    yield Partial(prepared)
                continue
            done = 0.9 * step.fraction
            yield Progress(done, step.text)
        with network_slice._lock:
            kept = [k for k in cache if isinstance(k, tuple) and k and k[0] == "surface"]
            for old in kept[:max(0, len(kept) - KEPT_SURFACES + 1)]:
                del cache[old]
            cache[key] = surface
    return (yield from progress_steps(iter_prepare_surface(surface.surface(layer)), 0.9, 1.0,
                                      f"Contours {n}²", 32))


def _surface_key(xrange: tuple[float, float], yrange: tuple[float, float],
                 shape: tuple[int, int], dtype: str) -> tuple:
    return ("surface", tuple(map(float, xrange)), tuple(map(float, yrange)),
            (int(shape[0]), int(shape[1])), dtype)


def _kept_surface(network_slice: NetworkSlice, xrange: tuple[float, float],
                  yrange: tuple[float, float], n: int, dtype: str) -> NetworkSurface | None:
    """A kept surface over these ranges whose longer side is ``n`` (a rectangular grid
    opened from a file is shown at the resolution of its longer side)."""
    xr, yr = tuple(map(float, xrange)), tuple(map(float, yrange))
    with network_slice._lock:
        for key, value in network_slice._cache.items():
            if (isinstance(key, tuple) and key[:3] == ("surface", xr, yr) and key[4] == dtype
                    and max(key[3]) == n):
                return value
    return None


def cached_network_surface(network_slice: NetworkSlice, xrange: tuple[float, float],
                           yrange: tuple[float, float], resolution: int,
                           dtype: str | None = None) -> NetworkSurface | None:
    """The computed four-layer surface for these settings, if it is kept."""
    dt = dtype or network_slice.dtype
    key = _surface_key(xrange, yrange, (resolution, resolution), dt)
    with network_slice._lock:
        found = network_slice._cache.get(key)
    return found if found is not None else _kept_surface(network_slice, xrange, yrange,
                                                         int(resolution), dt)


def kept_network_surface(network_slice: NetworkSlice, xrange: tuple[float, float] | None = None,
                         yrange: tuple[float, float] | None = None,
                         resolution: int | None = None) -> NetworkSurface | None:
    """The kept surface for these settings if there is one, else the largest complete
    one kept with the slice (None while none is computed)."""
    if xrange is not None and yrange is not None and resolution is not None:
        found = cached_network_surface(network_slice, xrange, yrange, resolution)
        if found is not None:
            return found
    with network_slice._lock:
        surfaces = [v for k, v in network_slice._cache.items()
                    if isinstance(k, tuple) and k[:1] == ("surface",)]
    return max(surfaces, key=lambda v: v.xs.size * v.ys.size, default=None)


def keep_network_surface(network_slice: NetworkSlice, surface: NetworkSurface) -> None:
    """Keep a computed (or loaded) surface with its slice so it is not computed again."""
    xs, ys = surface.xs, surface.ys
    key = _surface_key((xs[0], xs[-1]), (ys[0], ys[-1]), (xs.size, ys.size),
                       str(surface.meta.get("dtype", network_slice.dtype)))
    with network_slice._lock:
        network_slice._cache[key] = surface


@dataclass(frozen=True)
class ModelFileRequest:
    """Open a user's model file and put it on a plane (the window's File → Open model)."""

    path: str
    directions: DirectionSpec = DirectionSpec()
    device: str = "cpu"
    bn_mode: str = "eval"
    dtype: str = "float32"


@dataclass(frozen=True)
class ModelFileResult:
    """The slice, or what went wrong (message for people, details: the traceback)."""

    network_slice: Any = None
    error: str = ""
    details: str = ""
    note: str = ""


def model_file_job(req: ModelFileRequest) -> Generator[Progress, None, ModelFileResult]:
    """Run the model file (its own code: it may train or load weights), then the plane."""
    from lossviewer.compute.model_file import ModelFileError, load_model_file
    from lossviewer.compute.torch_plane import ModelFileData, TorchNetwork

    yield Progress(0.0, f"Running {req.path.rsplit('/', 1)[-1]} …")
    try:
        mf = load_model_file(req.path)
    except ModelFileError as exc:
        return ModelFileResult(error=str(exc), details=exc.details)
    yield Progress(0.6, "Directions …")
    spec, note = req.directions, ""
    if spec.method in ("pca", "interp"):
        # these need a training run; a model file brings only its trained weights
        note = (f"{spec.method} directions need a training run; a model file brings its "
                "weights only, so filter-normalised directions are used")
        spec = replace(spec, method="filter")
    try:
        network = TorchNetwork(mf, device=req.device, bn_mode=req.bn_mode)
        directions = make_directions(spec, network, network.theta0(), X=(), targets=())
    except ValueError as exc:
        return ModelFileResult(error=str(exc))
    yield Progress(1.0, "Model ready")
    return ModelFileResult(NetworkSlice(ModelFileData(mf), network, directions, None,
                                        dtype=req.dtype), note=note)
