"""Jobs the worker threads run: frozen request in, progress out, result returned.

A job is a plain generator: it yields :class:`Progress` (and optional partial
results) often, so a runner can cancel it between yields, and returns its
result. Requests hold only plain numbers and tuples, so a job never shares
mutable state with the GUI thread.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossviewer.core.functions import make_landscape
from lossviewer.core.grid import SurfaceDisplay, iter_prepare_surface, iter_surface
from lossviewer.core.trajectory import Trajectory, simulate_iter

#: a coarse preview surface is yielded first when the grid is larger than this
PREVIEW_RESOLUTION = 128
#: progress messages are throttled to this interval (≤ 20 per second)
PROGRESS_INTERVAL_S = 0.05


@dataclass(frozen=True)
class Progress:
    fraction: float
    text: str


@dataclass(frozen=True)
class Partial:
    """An intermediate result the UI may show before the job finishes."""

    value: Any


def _items(d: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(d.items()))


@dataclass(frozen=True)
class SurfaceRequest:
    function: str
    params: tuple[tuple[str, float], ...]
    xrange: tuple[float, float]
    yrange: tuple[float, float]
    resolution: int
    revision: int = 0

    @classmethod
    def create(cls, function: str, params: dict[str, float], xrange: tuple[float, float],
               yrange: tuple[float, float], resolution: int, revision: int = 0
               ) -> SurfaceRequest:
        return cls(function, _items(params), tuple(map(float, xrange)),
                   tuple(map(float, yrange)), int(resolution), revision)


def surface_job(req: SurfaceRequest) -> Generator[Progress | Partial, None, SurfaceDisplay]:
    """Sample the landscape and prepare it for display (both z-scales, isolines).

    On big grids a coarse preview is yielded first so the views change at once.
    """
    landscape = make_landscape(req.function, **dict(req.params))
    best = landscape.global_minimum()
    floor = best.value if best is not None else None
    if req.resolution > 4 * PREVIEW_RESOLUTION:
        gen = iter_surface(landscape, req.xrange, req.yrange, PREVIEW_RESOLUTION)
        preview = yield from _drain(gen)
        yield Partial((yield from _drain(iter_prepare_surface(preview, floor))))
    gen = iter_surface(landscape, req.xrange, req.yrange, req.resolution)
    last = 0.0
    while True:
        try:
            done, total = next(gen)
        except StopIteration as stop:
            surface = stop.value
            break
        now = time.perf_counter()
        if now - last >= PROGRESS_INTERVAL_S:
            last = now
            yield Progress(done / total, f"Surface {req.resolution}² … {100 * done // total}%")
        else:
            yield Progress(done / total, "")
    yield Progress(1.0, "Contours …")
    return (yield from _drain(iter_prepare_surface(surface, floor)))


def _drain(gen: Generator[Any, None, Any]) -> Generator[Progress, None, Any]:
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
        yield Progress(0.0, "")


@dataclass(frozen=True)
class RunRequest:
    run_id: int
    revision: int
    optimizer: str
    hyper: tuple[tuple[str, Any], ...]
    start: tuple[float, float]
    steps: int
    schedule: str = "constant"
    schedule_params: tuple[tuple[str, Any], ...] = ()
    noise: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class PathsRequest:
    function: str
    params: tuple[tuple[str, float], ...]
    runs: tuple[RunRequest, ...]


@dataclass(frozen=True)
class PathResult:
    run_id: int
    revision: int
    trajectory: Trajectory


def paths_job(req: PathsRequest) -> Generator[Progress | Partial, None, list[PathResult]]:
    """Run each requested optimizer; each finished path is yielded as a Partial."""
    landscape = make_landscape(req.function, **dict(req.params))
    total = sum(r.steps for r in req.runs) or 1
    done_before = 0
    results = []
    for run in req.runs:
        gen = simulate_iter(
            landscape, run.optimizer, dict(run.hyper), np.asarray([run.start], float),
            run.steps, schedule=run.schedule, schedule_params=dict(run.schedule_params),
            noise=run.noise, seed=run.seed)
        while True:
            try:
                done = next(gen)
            except StopIteration as stop:
                traj = stop.value
                break
            yield Progress((done_before + done) / total, "Paths …")
        done_before += run.steps
        result = PathResult(run.run_id, run.revision, traj)
        results.append(result)
        yield Partial(result)
    return results
