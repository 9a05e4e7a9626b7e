"""Analysis jobs: critical points and curvature of a landscape, for the worker threads.

Like the jobs in :mod:`lossviewer.compute.jobs`, each is a generator: frozen
request in, :class:`~lossviewer.compute.jobs.Progress` out (often, so a runner
can cancel between yields), result returned. Requests describe the landscape by
a hashable :class:`~lossviewer.core.landscape_spec.LandscapeSpec`.
:class:`CurvatureResult` is defined in :mod:`lossviewer.core.curvature` (so that
the scene layer can name it without importing compute) and re-exported here.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from lossviewer.compute.jobs import Progress, progress_steps
from lossviewer.core.critical_points import CriticalPoint, iter_critical_points
from lossviewer.core.curvature import (
    CurvatureResult,
    curvature_steps,
    gradient_arrows,
    iter_curvature_field,
)
from lossviewer.core.grid import check_range
from lossviewer.core.landscape_spec import LandscapeSpec

__all__ = [
    "CriticalRequest",
    "CurvatureRequest",
    "CurvatureResult",
    "critical_job",
    "curvature_job",
]

#: share of a curvature job's progress bar spent on the field (the rest: arrows)
FIELD_SHARE = 0.9


@dataclass(frozen=True)
class CriticalRequest:
    """Find the critical points of ``landscape`` in xrange × yrange (seeds² start points)."""

    landscape: LandscapeSpec
    xrange: tuple[float, float]
    yrange: tuple[float, float]
    revision: int = 0
    seeds: int = 40

    @classmethod
    def create(cls, landscape: LandscapeSpec, xrange: tuple[float, float],
               yrange: tuple[float, float], revision: int = 0,
               seeds: int = 40) -> CriticalRequest:
        """A request with plain float ranges (equal requests hash equally)."""
        return cls(landscape, check_range(xrange[0], xrange[1], what="x range"),
                   check_range(yrange[0], yrange[1], what="y range"), int(revision), int(seeds))


def critical_job(req: CriticalRequest) -> Generator[Progress, None, list[CriticalPoint]]:
    """The critical points, as :func:`~lossviewer.core.critical_points.find_critical_points`
    returns them (sorted: minima first; at most 200)."""
    yield Progress(0.0, "Critical points … 0%")
    land = req.landscape.make()
    gen = iter_critical_points(land, req.xrange, req.yrange, seeds=req.seeds)
    return (yield from progress_steps(gen, 0.0, 1.0, "Critical points"))


@dataclass(frozen=True)
class CurvatureRequest:
    """Hessian eigenvalues on a resolution² grid and gradient arrows on an arrows² grid."""

    landscape: LandscapeSpec
    xrange: tuple[float, float]
    yrange: tuple[float, float]
    #: the side of the field's grid: exactly linspace(x0, x1, n) × linspace(y0, y1, n)
    resolution: int
    #: the side of the arrows' grid (cell centres)
    arrows: int = 24
    revision: int = 0

    @classmethod
    def create(cls, landscape: LandscapeSpec, xrange: tuple[float, float],
               yrange: tuple[float, float], resolution: int, arrows: int = 24,
               revision: int = 0) -> CurvatureRequest:
        """A request with plain float ranges (equal requests hash equally)."""
        return cls(landscape, check_range(xrange[0], xrange[1], what="x range"),
                   check_range(yrange[0], yrange[1], what="y range"), int(resolution),
                   int(arrows), int(revision))


def curvature_job(req: CurvatureRequest) -> Generator[Progress, None, CurvatureResult]:
    """The curvature field on linspace(x0, x1, n) × linspace(y0, y1, n) and the arrows."""
    n = int(req.resolution)
    if n < 2:
        raise ValueError(f"the curvature grid needs at least 2 points per side, got {n}")
    x0, x1 = check_range(req.xrange[0], req.xrange[1], what="x range")
    y0, y1 = check_range(req.yrange[0], req.yrange[1], what="y range")
    text = f"Curvature {n}²"
    yield Progress(0.0, f"{text} … 0%")
    land = req.landscape.make()
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    field = yield from progress_steps(iter_curvature_field(land, xs, ys), 0.0, FIELD_SHARE,
                                      text, curvature_steps(n, n))
    arrows = gradient_arrows(land, (x0, x1), (y0, y1), req.arrows)
    yield Progress(1.0, f"{text} … 100%")
    return CurvatureResult(field, arrows)
