"""A network landscape's grid evaluated tile by tile on a Dask cluster.

:func:`iter_cluster_surface` is :func:`~lossviewer.core.network_landscape.iter_network_surface`
with the evaluation spread over a cluster: the same progress steps, the same
:class:`~lossviewer.core.network_landscape.GridState` filled in place (so a
headless run checkpoints and resumes exactly as a local one), and partial
surfaces as results arrive. Each task runs the same batched evaluator as a
local run, on a slice its worker process builds once from a
:class:`~lossviewer.compute.slice_recipe.SliceRecipe`.

The work comes in two parts: a coarse lattice first (about 400 points, so the
picture has a shape within seconds), then square tiles, nearest the centre
(the trained solution) first. Each grid point is computed once; a point a
resumed run finds done is not sent again. When a worker dies, Dask computes
its unfinished tasks elsewhere; results already gathered here are kept.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lossviewer.compute import slice_recipe
from lossviewer.compute.cluster import ClusterConnection, ClusterError, cluster_hint
from lossviewer.compute.slice_recipe import SliceRecipe, recipe_for, worker_slice
from lossviewer.core.network_landscape import (
    SPLITS,
    GridPlan,
    GridState,
    NetworkSlice,
    NetworkSurface,
    preview_strides,
)

#: tiles per grid a default tiling aims for (enough to balance and to watch it fill)
TARGET_TILES = 64
MIN_TILE, MAX_TILE = 4, 64
#: how often the loop looks at finished tasks (and yields, so a cancel is quick)
POLL_S = 0.1


@dataclass
class ClusterRunStats:
    """What a cluster run sent and got back (the resume tests count these)."""

    tasks: int = 0
    points: int = 0
    #: worker process id -> slices it had built when its last task finished
    builds: dict[int, int] = field(default_factory=dict)
    tile: int = 0


def default_tile(nx: int, ny: int) -> int:
    """A tile side giving about TARGET_TILES tiles, within [MIN_TILE, MAX_TILE]."""
    side = math.ceil(math.sqrt(nx * ny / TARGET_TILES))
    return int(min(MAX_TILE, max(MIN_TILE, side)))


def check_tile(tile: int) -> int:
    if not isinstance(tile, int) or isinstance(tile, bool) or not 1 <= tile <= 1024:
        raise ValueError(f"a tile is 1 to 1024 grid points on a side, got {tile!r}")
    return tile


def plan_tiles(nx: int, ny: int, tile: int) -> list[tuple[int, int, int, int]]:
    """(j0, j1, i0, i1) blocks covering the grid, those nearest its centre first."""
    blocks = [(j, min(j + tile, ny), i, min(i + tile, nx))
              for j in range(0, ny, tile) for i in range(0, nx, tile)]
    cy, cx = (ny - 1) / 2, (nx - 1) / 2

    def distance(b: tuple[int, int, int, int]) -> float:
        j0, j1, i0, i1 = b
        return math.hypot((j0 + j1 - 1) / 2 - cy, (i0 + i1 - 1) / 2 - cx)

    return sorted(blocks, key=distance)


def evaluate_points(recipe: SliceRecipe, splits: tuple[str, ...], a: NDArray, b: NDArray
                    ) -> dict[str, Any]:
    """The task: loss and accuracy of every split at plane points (a, b), on a worker."""
    ns = worker_slice(recipe)
    out: dict[str, Any] = {"pid": os.getpid(), "builds": slice_recipe.builds}
    for split in splits:
        loss, acc = ns.evaluator(split, recipe.dtype).evaluate(a, b)
        out[f"{split}_loss"], out[f"{split}_acc"] = loss, acc
    return out


def _connection_lost(connection: ClusterConnection, exc: BaseException) -> bool:
    """Whether a failed fetch means the scheduler is gone (a closed stream to it, or the
    client noticing within a moment)."""
    if type(exc).__name__ in ("CommClosedError", "StreamClosedError") or isinstance(exc, OSError):
        return True
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        if connection.lost():
            return True
        time.sleep(0.1)
    return False


def _identity(value: Any) -> Any:
    return value


def _task_error(future: Any) -> ClusterError:
    """A failed task as one line a person can act on."""
    try:
        exc = future.exception(timeout=5)
    except Exception as lost:  # noqa: BLE001 - the scheduler is gone
        return ClusterError(f"lost the cluster while a tile was computed ({type(lost).__name__})")
    name = type(exc).__name__
    if name == "KilledWorker":
        return ClusterError("a tile killed every worker that ran it (out of memory?); the "
                            "finished tiles are kept")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    prefix = "" if name in ("ModelFileError", "ValueError") else f"{name}: "
    return ClusterError(f"a worker failed: {prefix}{text}")


def iter_cluster_surface(connection: ClusterConnection, network_slice: NetworkSlice,
                         xrange: tuple[float, float], yrange: tuple[float, float],
                         resolution: int | tuple[int, int], dtype: str | None = None,
                         state: GridState | None = None, tile: int | None = None,
                         stats: ClusterRunStats | None = None, partial_every_s: float = 0.5,
                         device: str | None = None
                         ) -> Generator[tuple[int, int] | NetworkSurface, None, NetworkSurface]:
    """Evaluate the four layers on the grid on a cluster; yields like iter_network_surface.

    Yields (points done, points total) about every POLL_S seconds and a partial
    NetworkSurface at most every ``partial_every_s`` when new results came in
    (its ``done`` mask says which points are computed). Closing the generator
    cancels what is still queued. ClusterError when a task fails or the cluster
    is lost; ``state`` then holds every point finished before. ``device``: where
    the workers evaluate a user's torch model (default: where this slice does).
    """
    try:
        from distributed import as_completed
    except ImportError:
        raise ClusterError(cluster_hint()) from None
    plan = GridPlan.create(network_slice, xrange, yrange, resolution, dtype, state)
    nx, ny, xs, ys, dt, meta = plan.nx, plan.ny, plan.xs, plan.ys, plan.dtype, plan.meta
    state = plan.state
    stats = stats if stats is not None else ClusterRunStats()
    tile = check_tile(tile) if tile is not None else default_tile(nx, ny)
    stats.tile = tile
    layers, done = state.layers, state.done
    splits = tuple(s for s in SPLITS if network_slice.has_split(s))
    recipe = recipe_for(network_slice.with_dtype(dt), device=device)
    total = nx * ny
    preview = preview_strides(nx, ny)[0]

    # what to send: the coarse lattice in a few batches, then tiles (only undone points)
    coarse = np.zeros((ny, nx), bool)
    if preview > 1:
        coarse[::preview, ::preview] = True
    work: list[tuple[NDArray, NDArray]] = []
    jj, ii = np.nonzero(coarse & ~done)
    if jj.size:
        batches = max(1, min(jj.size // 16, 8))
        work += [(j, i) for j, i in zip(np.array_split(jj, batches),
                                        np.array_split(ii, batches), strict=True)]
    for j0, j1, i0, i1 in plan_tiles(nx, ny, tile):
        block = ~done[j0:j1, i0:i1] & ~coarse[j0:j1, i0:i1]
        bj, bi = np.nonzero(block)
        if bj.size:
            work.append((bj + j0, bi + i0))

    count = int(done.sum())
    if not work:
        return NetworkSurface(xs, ys, layers, meta, 1)
    client = connection.client
    run = uuid.uuid4().hex[:8]
    try:
        recipe_future = client.submit(_identity, recipe, key=f"lossviewer-slice-{run}",
                                      pure=False)
    except Exception as exc:  # noqa: BLE001 - a closed or lost client
        raise ClusterError(f"cannot send work to the cluster ({type(exc).__name__}: {exc})"
                           ) from None
    where: dict[Any, tuple[NDArray, NDArray]] = {}
    futures = []
    n = len(work)
    for k, (j, i) in enumerate(work):
        f = client.submit(evaluate_points, recipe_future, splits, xs[i], ys[j],
                          key=f"lossviewer-tile-{run}-{k}", priority=n - k, pure=False)
        where[f] = (j, i)
        futures.append(f)
        stats.tasks += 1
        stats.points += int(j.size)
    queue = as_completed(futures, loop=client.loop)
    del futures
    last_partial = time.monotonic()
    fresh = False
    try:
        while where:
            finished = queue.next_batch(block=False)
            for f in finished:
                if f.status == "cancelled":
                    why = ("lost the connection to the scheduler" if connection.lost()
                           else "the cluster cancelled the work (was it restarted?)")
                    raise ClusterError(f"{why}; the finished tiles are kept")
                if f.status == "error":
                    raise _task_error(f)
                if f.status != "finished":
                    # its result was on a worker that died before it came here: Dask
                    # computes it again elsewhere, and the queue hears of it again
                    queue.add(f)
                    continue
                try:
                    res = f.result(timeout=30)
                except Exception as exc:  # noqa: BLE001 - lost while fetching
                    if _connection_lost(connection, exc):
                        raise ClusterError("lost the connection to the scheduler; the "
                                           "finished tiles are kept") from None
                    raise ClusterError(f"lost a finished tile's result ({type(exc).__name__}: "
                                       f"{exc}); the finished tiles are kept") from None
                j, i = where.pop(f)
                for split in splits:
                    layers[f"{split}_loss"][j, i] = res[f"{split}_loss"]
                    layers[f"{split}_acc"][j, i] = res[f"{split}_acc"]
                done[j, i] = True
                count += int(j.size)
                stats.builds[int(res["pid"])] = int(res["builds"])
                fresh = True
            if not finished:
                time.sleep(POLL_S)
            yield count, total
            now = time.monotonic()
            if fresh and where and now - last_partial >= partial_every_s:
                last_partial, fresh = now, False
                yield NetworkSurface(xs, ys, layers, meta, 1, done=done.copy(),
                                     preview_stride=preview)
    finally:
        if where:  # cancelled or failed: stop what is queued (finished points are kept)
            try:
                client.cancel(list(where) + [recipe_future])
            except Exception:  # noqa: BLE001, S110 - the cluster may be gone already
                pass
    return NetworkSurface(xs, ys, layers, meta, 1)
