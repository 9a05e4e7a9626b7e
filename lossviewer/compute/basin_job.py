"""The basin-map job: a frozen request in, progress out, a BasinMap returned.

Like the jobs in :mod:`lossviewer.compute.jobs`, :func:`basin_job` is a plain
generator a worker thread runs: it yields :class:`~lossviewer.compute.jobs.Progress`
about every 50 ms (so a runner can cancel it between yields) and returns the
:class:`~lossviewer.core.basins.BasinMap`. The request holds only plain numbers,
strings and tuples, so it is hashable and shares nothing mutable with the GUI.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossviewer.compute.jobs import Progress, progress_steps
from lossviewer.core.basins import BasinMap, iter_basins
from lossviewer.core.landscape_spec import LandscapeSpec

__all__ = ["BasinRequest", "basin_job"]


def _freeze(value: Any) -> Any:
    """Lists and arrays (e.g. Adam's betas) as tuples, so a request stays hashable."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple | np.ndarray):
        return tuple(_freeze(v) for v in value)
    return value


def _frozen_items(d: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((str(k), _freeze(v)) for k, v in (d or {}).items()))


@dataclass(frozen=True)
class BasinRequest:
    """Everything a basin map depends on (``revision`` lets the UI drop stale results)."""

    landscape: LandscapeSpec
    optimizer: str
    hyper: tuple[tuple[str, Any], ...]
    xrange: tuple[float, float]
    yrange: tuple[float, float]
    grid: int
    steps: int
    schedule: str = "constant"
    schedule_params: tuple[tuple[str, Any], ...] = ()
    noise: float = 0.0
    seed: int = 0
    minima: tuple[tuple[float, float], ...] = ()
    revision: int = 0

    @classmethod
    def create(cls, landscape: LandscapeSpec | str, optimizer: str,
               hyper: Mapping[str, Any] | None, xrange: tuple[float, float],
               yrange: tuple[float, float], grid: int, steps: int, schedule: str = "constant",
               schedule_params: Mapping[str, Any] | None = None, noise: float = 0.0,
               seed: int = 0, minima: Sequence[tuple[float, float]] | None = None,
               revision: int = 0, params: dict[str, float] | None = None) -> BasinRequest:
        """``landscape`` is a spec, or a built-in function's name (with its ``params``);
        ``hyper`` and ``schedule_params`` are dicts (lists in them become tuples).
        Values are checked by the job, not here."""
        spec = (landscape if isinstance(landscape, LandscapeSpec)
                else LandscapeSpec.create(landscape, params))
        mins = tuple((float(x), float(y)) for x, y in (minima or ()))
        return cls(spec, str(optimizer), _frozen_items(hyper), tuple(map(float, xrange)),
                   tuple(map(float, yrange)), grid, steps, str(schedule),
                   _frozen_items(schedule_params), noise, seed, mins, revision)


def basin_job(req: BasinRequest) -> Generator[Progress, None, BasinMap]:
    """Compute the basin map of ``req``; Progress texts read "Basins 256² … 40%".

    Bad requests (unknown function or optimizer, bad hyperparameters, grid or
    ranges) raise ValueError on the first ``next()``, before any step.
    """
    landscape = req.landscape.make()
    gen = iter_basins(
        landscape, req.optimizer, dict(req.hyper), req.xrange, req.yrange, req.grid, req.steps,
        schedule=req.schedule, schedule_params=dict(req.schedule_params), noise=req.noise,
        seed=req.seed, minima=req.minima or None)
    text = f"Basins {req.grid}²"
    yield Progress(0.0, f"{text} … 0%")
    return (yield from progress_steps(gen, 0.0, 1.0, text))
