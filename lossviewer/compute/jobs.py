"""Jobs the worker threads run: frozen request in, progress out, result returned.

A job is a plain generator: it yields :class:`Progress` (and optional partial
results) often, so a runner can cancel it between yields, and returns its
result. Requests hold only plain numbers and tuples, so a job never shares
mutable state with the GUI thread.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossviewer.core.grid import (
    CONTOUR_LEVELS,
    DISPLAY_ROWS_PER_STEP_POINTS,
    SurfaceDisplay,
    iter_prepare_surface,
    iter_surface,
)
from lossviewer.core.landscape_spec import LandscapeSpec
from lossviewer.core.trajectory import Trajectory, simulate_iter

#: a coarse preview surface is yielded first when the grid is larger than this
PREVIEW_RESOLUTION = 128


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
    landscape: LandscapeSpec
    xrange: tuple[float, float]
    yrange: tuple[float, float]
    resolution: int
    revision: int = 0
    #: for a network landscape: which layer (scene.NETWORK_LAYERS)
    layer: str = "train_loss"
    #: for a network landscape: a compute.cluster.ClusterConnection to evaluate its grid
    #: on (thread-safe; None: this process)
    cluster: Any = None

    @classmethod
    def create(cls, landscape: LandscapeSpec | str, params: dict[str, float] | None,
               xrange: tuple[float, float], yrange: tuple[float, float], resolution: int,
               revision: int = 0, layer: str = "train_loss",
               cluster: Any = None) -> SurfaceRequest:
        """``landscape`` is a spec, or a built-in function's name with ``params``."""
        spec = (landscape if isinstance(landscape, LandscapeSpec)
                else LandscapeSpec.create(landscape, params))
        return cls(spec, tuple(map(float, xrange)), tuple(map(float, yrange)),
                   int(resolution), revision, layer, cluster)


#: share of a surface job's progress bar spent sampling (the rest: display + isolines)
SAMPLING_SHARE = 0.7


def surface_job(req: SurfaceRequest) -> Generator[Progress | Partial, None, SurfaceDisplay]:
    """Sample the landscape and prepare it for display (both z-scales, isolines).

    On big grids a coarse preview is yielded first so the views change at once.
    Every yield carries a Progress with text; the runner decides how often the
    user sees one.
    """
    if req.landscape.is_network:
        from lossviewer.compute.network_jobs import layer_display_job

        return (yield from layer_display_job(req.landscape.network, req.xrange, req.yrange,
                                             req.resolution, req.layer, cluster=req.cluster))
    landscape = req.landscape.make()
    best = landscape.global_minimum()
    floor = best.value if best is not None else None
    n = req.resolution
    if n > 4 * PREVIEW_RESOLUTION:
        preview = yield from progress_steps(
            iter_surface(landscape, req.xrange, req.yrange, PREVIEW_RESOLUTION),
            0.0, 0.0, "Preview …")
        prepared = yield from progress_steps(iter_prepare_surface(preview, floor), 0.0, 0.0,
                                        "Preview …")
        yield Partial(prepared)
    surface = yield from progress_steps(iter_surface(landscape, req.xrange, req.yrange, n),
                                   0.0, SAMPLING_SHARE, f"Surface {n}²")
    # steps of iter_prepare_surface: 1 + per scale (2 + row blocks + levels)
    blocks = -(-n // max(1, DISPLAY_ROWS_PER_STEP_POINTS // n))
    expected = 1 + 2 * (2 + blocks + CONTOUR_LEVELS)
    return (yield from progress_steps(iter_prepare_surface(surface, floor), SAMPLING_SHARE, 1.0,
                                 f"Contours {n}²", expected))


def progress_steps(gen: Generator[Any, None, Any], lo: float, hi: float, text: str,
              expected: int | None = None) -> Generator[Progress, None, Any]:
    """Run a step generator, yielding Progress from ``lo`` to ``hi``.

    A generator that yields (done, total) sets the fraction itself; others count
    their steps against ``expected``.
    """
    k = 0
    while True:
        try:
            step = next(gen)
        except StopIteration as stop:
            return stop.value
        k += 1
        if isinstance(step, tuple) and len(step) == 2:
            f = step[0] / max(step[1], 1)
        else:
            f = min(k / expected, 1.0) if expected else 0.0
        frac = lo + (hi - lo) * min(max(f, 0.0), 1.0)
        yield Progress(frac, f"{text} … {100 * frac:.0f}%")


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
    landscape: LandscapeSpec
    runs: tuple[RunRequest, ...]


@dataclass(frozen=True)
class PathResult:
    run_id: int
    revision: int
    trajectory: Trajectory


def paths_job(req: PathsRequest) -> Generator[Progress | Partial, None, list[PathResult]]:
    """Run each requested optimizer; each finished path is yielded as a Partial."""
    landscape = req.landscape.make()
    total = sum(r.steps for r in req.runs) or 1
    done_before = 0
    results = []
    for run in req.runs:
        gen = simulate_iter(
            landscape, run.optimizer, dict(run.hyper), np.asarray([run.start], float),
            run.steps, schedule=run.schedule, schedule_params=dict(run.schedule_params),
            noise=run.noise, seed=run.seed,
            # slow landscapes (a user's torch model) yield often, so cancel stays quick
            chunk=getattr(landscape, "path_chunk", 250))
        while True:
            try:
                done = next(gen)
            except StopIteration as stop:
                traj = stop.value
                break
            frac = (done_before + done) / total
            yield Progress(frac, f"Paths … {100 * frac:.0f}%")
        done_before += run.steps
        result = PathResult(run.run_id, run.revision, traj)
        results.append(result)
        yield Partial(result)
    return results


@dataclass(frozen=True)
class FormulaRequest:
    expression: str
    declarations: str = ""


@dataclass(frozen=True)
class FormulaResult:
    """A compiled formula, or what is wrong and in which field ("expression" or
    "declarations")."""

    compiled: Any = None
    error: str = ""
    field: str = ""


def formula_job(req: FormulaRequest) -> Generator[Progress, None, FormulaResult]:
    """Parse, derive and compile a typed formula off the GUI thread (10 ms to ~1 s,
    plus sympy's import, ~0.5 s, the first time). The compiled formula is cached,
    so building its landscape on the GUI thread afterwards is instant."""
    yield Progress(0.0, "Deriving the formula …")
    from lossviewer.core.formula import (  # sympy: only when a formula is used
        FormulaError,
        compile_formula,
        parse_parameters,
    )

    try:
        names = tuple(p.name for p in parse_parameters(req.declarations))
    except FormulaError as exc:
        return FormulaResult(error=str(exc), field="declarations")
    try:
        return FormulaResult(compiled=compile_formula(req.expression, names))
    except FormulaError as exc:
        return FormulaResult(error=str(exc), field="expression")
