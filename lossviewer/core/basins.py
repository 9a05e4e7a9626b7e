"""Basins of attraction: run an optimizer from every point of an N × N grid at once.

:func:`iter_basins` starts the optimizer (with its hyperparameters, learning-rate
schedule and gradient noise) from each of the N² grid points as one batch and
labels every start by the attractor its run reaches, or :data:`DIVERGED` /
:data:`NOT_CONVERGED`; :func:`basins` runs it to the end.

Same runs as :func:`~lossviewer.core.trajectory.simulate`
    Every start gets exactly the run ``simulate`` gives from that start alone:
    the same optimizer code (``make_optimizer``), the same ``lr_schedule``,
    the same noise (``np.random.default_rng(seed)``, one (x, y) pair per step,
    so every start sees the noise sequence a single ``simulate`` run from it
    would see), and the same stopping rules and constants (trajectory's
    ``LOSS_LIMIT``, ``PARAM_LIMIT_FACTOR``, ``GRAD_TOL``, ``STEP_TOL_FACTOR``,
    relative to the landscape's domain size): a start *diverges* at the first
    point whose loss, parameters or gradient are out of bounds or not finite,
    and *converges* at the first point with ``‖∇f‖ < GRAD_TOL`` whose next step
    is shorter than ``STEP_TOL_FACTOR ×`` the domain size. ``status``, ``stop``
    and ``ends`` of the map equal ``Trajectory.status``, ``.stop`` and
    ``.final_points`` (NaN for diverged starts here).

Labelling (``tol`` = :data:`LABEL_TOL_FACTOR` × the larger side of the mapped
region, i.e. a quarter of a cell at 256²)
    1. Every end that did not diverge is *polished*: up to
       :data:`POLISH_ITERS` Newton steps on ∇f = 0. The polish succeeds when
       all iterates stay within ``tol`` of the end and the last step is below
       :data:`POLISH_STEP_FACTOR` × ``tol``; its result is the stationary point
       the end sits at, to rounding.
    2. An end *reached an attractor* when its run converged (the step rule
       fired: then the attractor is the polished point, or the end itself
       where the polish fails, e.g. on a flat plateau), or when the run used
       all its steps and the polish succeeded at a *minimum* (Hessian positive
       semi-definite and not zero). The second case covers optimizers that
       hover around a minimum without meeting the step rule (Adam, noise).
       Every other finished end is :data:`NOT_CONVERGED`.
    3. With ``minima`` given (e.g. from the critical point finder), each
       reached point goes to the nearest given minimum within ``tol``; the
       rest (and all of them without ``minima``) are clustered: points are
       binned in cells of size ``tol`` and neighbouring occupied cells (8
       neighbours) are joined, so points closer than ``tol`` always share a
       cluster. A cluster's attractor is its member with the lowest loss.
    4. Attractors are sorted by loss (lowest first; ties by x, then y) and
       numbered 0 … K−1; only attractors reached by at least one start exist.

Performance: the runs are split into tiles of at most :data:`TILE_ROWS` starts
(their working set stays in the CPU cache) that advance in lockstep, about 50 ms
of work between yields, on up to :data:`MAX_WORKERS` threads (numpy releases the
GIL inside its loops; no thread runs while the generator is suspended).
Element-wise optimizers (all but Newton) keep their state as (2, T) arrays, so
the landscape kernels see contiguous x and y rows. Per step the stopping rules
are screened with a few reductions (the loss is evaluated every step, as the
divergence rule needs it); the exact per-start rules run only on steps where a
screen fires, and starts that stopped are swapped out of their tile's working
prefix, so they cost nothing afterwards. No path is stored: memory is O(N²), not
O(N² × steps). At 256² × 500 steps of Adam on Himmelblau, the gradient kernel
takes about a third of the time, Adam's update a third, the loss and the
screens the rest.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lossviewer.core.grid import check_range
from lossviewer.core.iteration import run_to_end
from lossviewer.core.landscape import Landscape
from lossviewer.core.optimizers import make_optimizer
from lossviewer.core.schedules import clean_schedule_params, lr_schedule
from lossviewer.core.stationary import cluster_points
from lossviewer.core.threads import MAX_WORKERS
from lossviewer.core.threads import usable_cpus as _cpus
from lossviewer.core.trajectory import (
    GRAD_TOL,
    LOSS_LIMIT,
    PARAM_LIMIT_FACTOR,
    STATUSES,
    STEP_TOL_FACTOR,
    _check_int,
    _domain_size,
    _uses_base_evaluation,
)

__all__ = [
    "DIVERGED",
    "NOT_CONVERGED",
    "BasinMap",
    "basins",
    "iter_basins",
]

#: label of a start whose run diverged
DIVERGED = -1
#: label of a start that reached no attractor within its steps
NOT_CONVERGED = -2

#: status codes of BasinMap.status: indices into trajectory.STATUSES
FINISHED, CONVERGED, STOPPED_DIVERGED = (STATUSES.index(s)
                                         for s in ("finished", "converged", "diverged"))

GRID_MIN, GRID_MAX = 2, 1024
#: the labelling tolerance, as a fraction of the larger side of the mapped region
LABEL_TOL_FACTOR = 1e-3
#: Newton steps at most when polishing an end onto its stationary point
POLISH_ITERS = 40
#: a polish has converged when its last step is below this × tol
POLISH_STEP_FACTOR = 1e-6
#: starts per tile: its state arrays (a few × 2 × 8 × TILE_ROWS bytes) stay in cache
TILE_ROWS = 16384
#: tiles are not split below this many starts to give every worker one
MIN_TILE_ROWS = 4096
#: the default number of worker threads at most (see iter_basins)
#: work between two yields of iter_basins, in seconds
YIELD_SECONDS = 0.05
#: optimizers whose update treats every parameter on its own (so any layout works)
_ELEMENTWISE = frozenset(
    {"sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "adamax", "nadam", "radam",
     "lion"})
#: screen for ‖∇f‖ < GRAD_TOL on gx² + gy² (a superset: rounding cannot lose a point)
_SQ_SCREEN = GRAD_TOL * GRAD_TOL * (1.0 + 1e-6)
_FMAX = float(np.finfo(np.float64).max)


@dataclass(frozen=True, eq=False)
class BasinMap:
    """Where an optimizer goes from each start of a grid.

    ``labels[iy, ix]`` (like a surface's ``Z[iy, ix]``) is the attractor index
    reached from ``(xs[ix], ys[iy])``, or DIVERGED / NOT_CONVERGED.
    ``attractors`` (K, 2) are sorted by ``attractor_values`` (lowest first);
    ``attractor_kinds`` says what each is ("minimum", "saddle", "maximum" or
    "degenerate", from its Hessian). ``shares`` (K,), ``diverged_share`` and
    ``not_converged_share`` are fractions of the N² starts and sum to 1.

    Per start: ``ends`` (N, N, 2) the run's last valid point (NaN where it
    diverged), ``end_values`` the loss there, ``status`` the index into
    ``trajectory.STATUSES`` (0 finished, 1 converged, 2 diverged) and ``stop``
    the index of the last valid point, as ``Trajectory.stop`` (the step a
    converged run settled at). ``tol`` is the labelling tolerance used.
    """

    xs: NDArray[np.float64]
    ys: NDArray[np.float64]
    labels: NDArray[np.int64]
    ends: NDArray[np.float64]
    end_values: NDArray[np.float64]
    status: NDArray[np.int8]
    stop: NDArray[np.int64]
    attractors: NDArray[np.float64]
    attractor_values: NDArray[np.float64]
    attractor_kinds: tuple[str, ...]
    shares: NDArray[np.float64]
    diverged_share: float
    not_converged_share: float
    steps: int
    tol: float
    optimizer: str = ""
    hyper: Mapping[str, Any] = field(default_factory=dict)
    schedule: str = "constant"
    schedule_params: Mapping[str, Any] = field(default_factory=dict)
    noise: float = 0.0
    seed: int = 0

    @property
    def grid(self) -> int:
        return len(self.xs)

    @property
    def n_attractors(self) -> int:
        return len(self.attractors)

    @property
    def converged(self) -> NDArray[np.bool_]:
        """(N, N): the step rule fired (the run settled at a stationary point)."""
        return self.status == CONVERGED

    def legend(self) -> list[tuple[int, str, float]]:
        """Rows (label, description, share): each attractor, then diverged and
        not converged where any start ended so."""
        digits = min(8, max(2, math.ceil(-math.log10(self.tol)))) if self.tol > 0 else 2
        rows = []
        for k in range(self.n_attractors):
            x, y = self.attractors[k]
            rows.append((k, f"{self.attractor_kinds[k]} at ({x:.{digits}f}, {y:.{digits}f}), "
                            f"f = {self.attractor_values[k]:.4g}", float(self.shares[k])))
        if self.diverged_share > 0:
            rows.append((DIVERGED, "diverged", self.diverged_share))
        if self.not_converged_share > 0:
            rows.append((NOT_CONVERGED, f"not converged after {self.steps} steps",
                         self.not_converged_share))
        return rows


# -- arguments ------------------------------------------------------------------------


def _check_grid(grid: Any) -> int:
    if (isinstance(grid, bool) or not isinstance(grid, int | np.integer)
            or not GRID_MIN <= grid <= GRID_MAX):
        raise ValueError(f"grid must be a whole number from {GRID_MIN} to {GRID_MAX}, "
                         f"got {grid!r}")
    return int(grid)


def _check_range(r: Any, what: str) -> tuple[float, float]:
    try:
        lo, hi = r
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be two numbers (min, max), got {r!r}") from None
    return check_range(lo, hi, what=what)


def _check_minima(minima: Any) -> NDArray[np.float64] | None:
    if minima is None:
        return None
    try:
        arr = np.array([getattr(m, "point", m) for m in minima], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"minima must be (x, y) pairs of numbers, got {minima!r}") from None
    if arr.size == 0:
        return None
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"minima must be (x, y) pairs, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("minima must be finite")
    return arr


def iter_basins(
    landscape: Landscape,
    optimizer: str,
    hyper: Mapping[str, Any] | None,
    xrange: tuple[float, float],
    yrange: tuple[float, float],
    grid: int,
    steps: int,
    schedule: str = "constant",
    schedule_params: Mapping[str, Any] | None = None,
    noise: float = 0.0,
    seed: int = 0,
    minima: Sequence[tuple[float, float]] | None = None,
    chunk: int | None = None,
    workers: int | None = None,
) -> Generator[tuple[int, int], None, BasinMap]:
    """Run ``optimizer`` from every point of a ``grid`` × ``grid`` grid over
    ``xrange`` × ``yrange``; yields (steps done, steps total), returns the BasinMap.

    Arguments as :func:`~lossviewer.core.trajectory.simulate` (``hyper``,
    ``schedule``/``schedule_params``, ``noise``, ``seed``); ``minima`` are
    known minima to label against (see the module docstring); ``chunk`` fixes
    the steps between yields (default: about 50 ms of work); ``workers`` is the
    number of threads stepping tiles in parallel (default: up to
    :data:`MAX_WORKERS` CPUs for landscapes evaluated by their own kernels, 1 for
    others, whose evaluation may not be thread-safe). The result does not depend
    on ``chunk`` or ``workers``. Arguments are checked here, before the first
    step: bad ones raise ValueError.
    """
    n = _check_grid(grid)
    steps = _check_int(steps, "steps", 1)
    seed = _check_int(seed, "seed", 0)
    if chunk is not None:
        chunk = _check_int(chunk, "chunk", 1)
    if workers is None:
        workers = min(MAX_WORKERS, _cpus()) if _uses_base_evaluation(landscape) else 1
    workers = _check_int(workers, "workers", 1)
    x0, x1 = _check_range(xrange, "x range")
    y0, y1 = _check_range(yrange, "y range")
    try:
        noise = float(noise)
    except (TypeError, ValueError):
        raise ValueError(f"noise must be a number, got {noise!r}") from None
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    mins = _check_minima(minima)
    hyper = dict(hyper or {})
    probe = make_optimizer(optimizer, (1, 2), **hyper)  # ValueError on bad name/hyper
    lrs = lr_schedule(schedule, probe.hyper["lr"], steps, **dict(schedule_params or {}))
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    spec = _RunSpec(landscape, optimizer, dict(probe.hyper), probe.needs_hessian,
                    optimizer in _ELEMENTWISE, steps, lrs, noise, seed)
    tol = LABEL_TOL_FACTOR * max(x1 - x0, y1 - y0)
    return _basins_gen(spec, xs, ys, mins, tol, chunk, workers, schedule,
                       clean_schedule_params(schedule, dict(schedule_params or {})))


def basins(
    landscape: Landscape,
    optimizer: str,
    hyper: Mapping[str, Any] | None,
    xrange: tuple[float, float],
    yrange: tuple[float, float],
    grid: int,
    steps: int,
    schedule: str = "constant",
    schedule_params: Mapping[str, Any] | None = None,
    noise: float = 0.0,
    seed: int = 0,
    minima: Sequence[tuple[float, float]] | None = None,
    chunk: int | None = None,
    workers: int | None = None,
) -> BasinMap:
    """:func:`iter_basins` run to the end."""
    return run_to_end(iter_basins(landscape, optimizer, hyper, xrange, yrange, grid, steps,
                                  schedule, schedule_params, noise, seed, minima, chunk,
                                  workers))


# -- running -----------------------------------------------------------------------------


@dataclass
class _RunSpec:
    landscape: Any
    optimizer: str
    hyper: dict[str, Any]
    need_hess: bool
    elementwise: bool
    steps: int
    lrs: NDArray[np.float64]
    noise: float
    seed: int


class _Results:
    """Per-start outcome, written by the tiles (each owns its rows)."""

    def __init__(self, B: int, steps: int) -> None:
        self.status = np.full(B, FINISHED, dtype=np.int8)
        self.stop = np.full(B, steps, dtype=np.int64)
        self.ends = np.full((B, 2), np.nan)


class _Tile:
    """Up to TILE_ROWS starts stepping together.

    Every array (points, gradient, scratch, and the optimizer's per-start
    state) is allocated once at full size; the starts still running occupy
    its first ``n`` entries, and the optimizer works on views of that prefix.
    A start that stops is replaced by one from the end of the prefix (a few
    fancy-index copies), so stopped starts cost nothing afterwards.
    """

    def __init__(self, spec: _RunSpec, rows: NDArray[np.int64], starts: NDArray[np.float64],
                 res: _Results, nz: NDArray[np.float64] | None) -> None:
        self.spec, self.res = spec, res
        self.rows = rows.copy()
        self.cols = spec.elementwise  # storage (2, T), else (T, 2)
        land = spec.landscape
        self.base = _uses_base_evaluation(land)
        if self.base:
            self.f_, self.g_, self.h_ = land._f, land._g, land._h
        self.param_limit = PARAM_LIMIT_FACTOR * _domain_size(land)
        self.step_tol = STEP_TOL_FACTOR * _domain_size(land)
        self.lrs = spec.lrs.tolist()
        # the noise of step j in the storage layout, or None
        self.nz = None if nz is None else (nz[:, :, None] if self.cols else nz[:, None, :])
        T = len(rows)
        Pf = np.ascontiguousarray(starts.T if self.cols else starts)
        self.opt = make_optimizer(spec.optimizer, Pf.shape, **spec.hyper)
        # full-size buffers: ours, and the optimizer's state and scratch arrays
        self.full: dict[str, NDArray] = {"P": Pf, "G": np.empty_like(Pf)}
        if self.nz is not None:
            self.full["Gn"] = np.empty_like(Pf)
        self.opt_arrays = [name for name, v in vars(self.opt).items()
                           if isinstance(v, np.ndarray) and v.shape == Pf.shape]
        for name in self.opt_arrays:
            self.full["opt." + name] = getattr(self.opt, name)
        self.sq_full, self.tmp_full = np.empty(T), np.empty(T)
        self.H_full = np.zeros((T, 2, 2)) if spec.need_hess else None
        self.n = T
        self._views()

    def _views(self) -> None:
        """Point every working name at the first n entries of its buffer."""
        n = self.n
        sl = (slice(None), slice(0, n)) if self.cols else (slice(0, n),)
        f = self.full
        self.P, self.G = f["P"][sl], f["G"][sl]
        self.Gn = f["Gn"][sl] if "Gn" in f else None
        for name in self.opt_arrays:
            setattr(self.opt, name, f["opt." + name][sl])
        self.opt.shape = self.P.shape
        self.PT = self.P.T if self.cols else self.P
        self.GT = self.G.T if self.cols else self.G
        self.x, self.y = self.PT[:, 0], self.PT[:, 1]
        self.gx, self.gy = self.GT[:, 0], self.GT[:, 1]
        self.sq, self.tmp = self.sq_full[:n], self.tmp_full[:n]
        self.H = self.H_full[:n] if self.H_full is not None else None
        self.r = self.rows[:n]  # the grid index of each running start

    @property
    def done(self) -> bool:
        return self.n == 0

    def _drop(self, idx: NDArray[np.intp]) -> None:
        """Remove the starts at prefix positions ``idx`` (sorted, unique)."""
        n = self.n
        m = n - len(idx)
        gone = np.zeros(n, dtype=bool)
        gone[idx] = True
        holes = idx[idx < m]
        movers = np.flatnonzero(~gone[m:]) + m
        if len(holes):
            for A in self.full.values():
                if self.cols:
                    A[:, holes] = A[:, movers]
                else:
                    A[holes] = A[movers]
            self.rows[holes] = self.rows[movers]
        self.n = m
        self._views()

    def _evaluate(self) -> NDArray[np.float64]:
        """Loss (n,) at the current points; the gradient into G (and H)."""
        n = self.n
        if self.base:
            x, y = self.x, self.y
            L = self.f_(x, y)
            gx, gy = self.g_(x, y)
            self.gx[...] = gx
            self.gy[...] = gy
            if self.H is not None:
                hxx, hxy, hyy = self.h_(x, y)
                H = self.H
                H[:, 0, 0] = hxx
                H[:, 0, 1] = hxy
                H[:, 1, 0] = hxy
                H[:, 1, 1] = hyy
        else:
            land = self.spec.landscape
            L, g = land.value_and_grad(self.PT)
            self.GT[...] = g
            if self.H is not None:
                self.H[...] = land.hess(self.PT)
        if type(L) is not np.ndarray or L.shape != (n,):
            L = np.broadcast_to(np.asarray(L, dtype=np.float64), (n,))
        return L

    def _valid(self, L: NDArray[np.float64]) -> NDArray[np.bool_]:
        """trajectory's validity rule, per start."""
        return ((np.abs(L) <= LOSS_LIMIT)  # False for NaN too
                & (np.abs(self.PT) <= self.param_limit).all(axis=1)
                & np.isfinite(self.GT).all(axis=1))

    def advance(self, j0: int, j1: int) -> None:
        """Take steps j0 … j1-1 (stops early when every start has stopped)."""
        with np.errstate(all="ignore"):
            for j in range(j0, j1):
                self._one_step(j)
                if self.n == 0:
                    return

    def _one_step(self, j: int) -> None:
        L = self._evaluate()
        lim, plim = LOSS_LIMIT, self.param_limit
        sq, tmp = self.sq, self.tmp
        np.multiply(self.gx, self.gx, out=sq)
        np.multiply(self.gy, self.gy, out=tmp)
        sq += tmp
        P = self.P
        # screens: NaN makes every comparison False, so a NaN anywhere flags too
        suspect = not (-lim <= L.min() and L.max() <= lim and -plim <= P.min()
                       and P.max() <= plim and sq.max() <= _FMAX)
        res = self.res
        bad = None
        if suspect:
            bad = ~self._valid(L)
            if bad.any():
                rows = self.r[bad]
                res.status[rows] = STOPPED_DIVERGED
                res.stop[rows] = max(j - 1, 0)
            else:
                bad = None
        cand = None
        if sq.min() < _SQ_SCREEN:
            # np.hypot is slow (~20 ns a number): only on the screened few
            c = np.flatnonzero(sq < _SQ_SCREEN)
            if bad is not None:
                c = c[~bad[c]]
            c = c[np.hypot(self.gx[c], self.gy[c]) < GRAD_TOL]
            if len(c):
                cand = c
                before = self.PT[cand]  # a copy (fancy indexing)
        if self.Gn is not None:
            np.add(self.G, self.nz[j], out=self.Gn)
            self.opt.step(P, self.Gn, self.lrs[j], self.H)
        else:
            self.opt.step(P, self.G, self.lrs[j], self.H)
        stopped = bad
        if cand is not None:
            d = self.PT[cand] - before
            settled = np.hypot(d[:, 0], d[:, 1]) <= self.step_tol
            if settled.any():
                idx = cand[settled]
                rows = self.r[idx]
                res.status[rows] = CONVERGED
                res.stop[rows] = j
                res.ends[rows] = before[settled]
                if stopped is None:
                    stopped = np.zeros(self.n, dtype=bool)
                stopped[idx] = True
        if stopped is not None:
            self._drop(np.flatnonzero(stopped))

    def finish(self) -> None:
        """After the last step: the final points of the starts still running."""
        if self.n == 0:
            return
        with np.errstate(all="ignore"):
            ok = self._valid(self._evaluate())
        rows = self.r
        self.res.status[rows[~ok]] = STOPPED_DIVERGED
        self.res.stop[rows[~ok]] = self.spec.steps - 1
        self.res.ends[rows[ok]] = self.PT[ok]
        self.n = 0


def _basins_gen(spec: _RunSpec, xs: NDArray, ys: NDArray, mins: NDArray | None, tol: float,
                chunk: int | None, workers: int, schedule: str,
                schedule_params: dict[str, Any]) -> Generator[tuple[int, int], None, BasinMap]:
    n, steps = len(xs), spec.steps
    X, Y = np.meshgrid(xs, ys)
    starts = np.stack([X.ravel(), Y.ravel()], axis=1)
    B = n * n
    res = _Results(B, steps)
    nz = None
    if spec.noise > 0:
        # simulate() draws (chunk, B=1, 2) blocks from this generator: the same stream
        nz = np.random.default_rng(spec.seed).standard_normal((steps, 2))
        nz *= spec.noise
    # equal tiles of at most TILE_ROWS starts (so none is tiny), at least one per worker
    n_tiles = max(-(-B // TILE_ROWS), min(workers, B // MIN_TILE_ROWS))
    bounds = np.linspace(0, B, n_tiles + 1).round().astype(int)
    tiles = [_Tile(spec, np.arange(a, b), starts[a:b], res, nz)
             for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    j = 0
    per_step = None
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    try:
        while j < steps:
            live = [t for t in tiles if not t.done]
            if not live:
                break
            if chunk is not None:
                k = chunk
            elif per_step is None:
                k = 1
            else:
                k = max(1, int(YIELD_SECONDS / max(per_step, 1e-9)))
            j1 = min(j + k, steps)
            t0 = time.perf_counter()
            if pool is not None and len(live) > 1:
                for _ in pool.map(lambda t: t.advance(j, j1), live):  # noqa: B023
                    pass
            else:
                for t in live:
                    t.advance(j, j1)
            per_step = (time.perf_counter() - t0) / (j1 - j)
            j = j1
            yield j, steps
    finally:
        if pool is not None:
            pool.shutdown()
    for t in tiles:
        t.finish()
    if j < steps:
        yield steps, steps

    with np.errstate(all="ignore"):
        lab = _label(spec.landscape, res.ends, res.status, mins, tol)
    labels, attractors, values, kinds, end_values = lab
    counts = np.bincount(labels[labels >= 0], minlength=len(attractors))
    return BasinMap(
        xs=xs, ys=ys,
        labels=labels.reshape(n, n),
        ends=res.ends.reshape(n, n, 2),
        end_values=end_values.reshape(n, n),
        status=res.status.reshape(n, n),
        stop=res.stop.reshape(n, n),
        attractors=attractors,
        attractor_values=values,
        attractor_kinds=kinds,
        shares=counts / B,
        diverged_share=float(np.count_nonzero(labels == DIVERGED)) / B,
        not_converged_share=float(np.count_nonzero(labels == NOT_CONVERGED)) / B,
        steps=steps,
        tol=tol,
        optimizer=spec.optimizer,
        hyper=spec.hyper,
        schedule=schedule,
        schedule_params=schedule_params,
        noise=spec.noise,
        seed=spec.seed,
    )


# -- labelling ---------------------------------------------------------------------------


def _values(land: Any, P: NDArray[np.float64]) -> NDArray[np.float64]:
    if len(P) == 0:
        return np.empty(0)
    return np.asarray(land.value(P), dtype=np.float64).reshape(len(P))


def _grad_hess(land: Any, P: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    return (np.asarray(land.grad(P), dtype=np.float64).reshape(len(P), 2),
            np.asarray(land.hess(P), dtype=np.float64).reshape(len(P), 2, 2))


def _polish(land: Any, ends: NDArray[np.float64],
            tol: float) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Newton on ∇f = 0 from each end; (points, converged within tol of the end)."""
    q = ends.copy()
    ok = np.zeros(len(q), dtype=bool)
    active = np.arange(len(q))
    stop_step = POLISH_STEP_FACTOR * tol
    for _ in range(POLISH_ITERS):
        if len(active) == 0:
            break
        p = q[active]
        g, H = _grad_hess(land, p)
        hxx, hxy, hyy = H[:, 0, 0], H[:, 0, 1], H[:, 1, 1]
        det = hxx * hyy - hxy * hxy
        dx = (hyy * g[:, 0] - hxy * g[:, 1]) / det
        dy = (hxx * g[:, 1] - hxy * g[:, 0]) / det
        zero = (g[:, 0] == 0) & (g[:, 1] == 0)  # exactly stationary, even if H is singular
        dx[zero] = 0.0
        dy[zero] = 0.0
        p[:, 0] -= dx
        p[:, 1] -= dy
        step = np.hypot(dx, dy)
        e = p - ends[active]
        fail = ~(np.hypot(e[:, 0], e[:, 1]) <= tol) | ~np.isfinite(step)
        done = ~fail & (step <= stop_step)
        q[active] = p
        ok[active[done]] = True
        active = active[~(fail | done)]
    return q, ok


def _kinds(land: Any, P: NDArray[np.float64]) -> NDArray[np.int8]:
    """0 minimum, 1 saddle, 2 maximum, 3 degenerate (flat or not finite), by the Hessian."""
    if len(P) == 0:
        return np.empty(0, dtype=np.int8)
    H = np.asarray(land.hess(P), dtype=np.float64).reshape(len(P), 2, 2)
    a, b, c = H[:, 0, 0], H[:, 0, 1], H[:, 1, 1]
    det, tr = a * c - b * b, a + c
    kind = np.full(len(P), 3, dtype=np.int8)
    fin = np.isfinite(det) & np.isfinite(tr)
    kind[fin & (det < 0)] = 1
    kind[fin & (det >= 0) & (tr > 0)] = 0
    kind[fin & (det >= 0) & (tr < 0)] = 2
    return kind


_KIND_NAMES = ("minimum", "saddle", "maximum", "degenerate")


def _clusters(P: NDArray[np.float64], tol: float) -> NDArray[np.intp]:
    """Cluster index per point: cells of size tol, neighbouring occupied cells joined."""
    return cluster_points(P, tol, linkage="cells")


def _label(land: Any, ends: NDArray[np.float64], status: NDArray[np.int8],
           mins: NDArray[np.float64] | None, tol: float):
    """(labels (B,), attractors (K, 2), values (K,), kinds, end values (B,))."""
    B = len(ends)
    labels = np.full(B, NOT_CONVERGED, dtype=np.int64)
    labels[status == STOPPED_DIVERGED] = DIVERGED
    end_values = np.full(B, np.nan)
    live = np.flatnonzero(status != STOPPED_DIVERGED)
    end_values[live] = _values(land, ends[live])
    q, pok = _polish(land, ends[live], tol)
    conv = status[live] == CONVERGED
    kind = np.full(len(live), 3, dtype=np.int8)
    kind[pok] = _kinds(land, q[pok])
    reached = conv | (pok & (kind == 0))
    pts = np.where(pok[:, None], q, ends[live])[reached]
    who = live[reached]

    # (location, value) of every attractor, and which one each reached point goes to
    locs: list[NDArray] = []
    which = np.full(len(pts), -1, dtype=np.int64)
    if mins is not None and len(pts):
        best = np.full(len(pts), np.inf)
        for m, (mx, my) in enumerate(mins):
            d = np.hypot(pts[:, 0] - mx, pts[:, 1] - my)
            closer = (d <= tol) & (d < best)
            best[closer] = d[closer]
            which[closer] = m
        used = np.unique(which[which >= 0])
        remap = np.full(len(mins), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        which = np.where(which >= 0, remap[np.maximum(which, 0)], -1)
        locs.append(mins[used])
    rest = np.flatnonzero(which < 0)
    if len(rest):
        cl = _clusters(pts[rest], tol)
        vals = _values(land, pts[rest])
        # each cluster's representative: its member with the lowest loss (NaN last)
        order = np.lexsort((np.nan_to_num(vals, nan=np.inf), cl))
        first = order[np.r_[True, cl[order][1:] != cl[order][:-1]]]
        offset = sum(len(a) for a in locs)
        which[rest] = offset + cl
        locs.append(pts[rest][first])
    A = np.concatenate(locs) if locs else np.empty((0, 2))
    values = _values(land, A)
    order = np.lexsort((A[:, 1], A[:, 0], np.nan_to_num(values, nan=np.inf)))
    rank = np.empty(len(A), dtype=np.int64)
    rank[order] = np.arange(len(A))
    labels[who] = rank[which]
    A, values = A[order], values[order]
    kinds = tuple(_KIND_NAMES[k] for k in _kinds(land, A))
    return labels, A, values, kinds, end_values
