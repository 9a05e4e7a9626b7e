"""Optimizer paths on a landscape: run B starts for a number of steps.

:func:`simulate_iter` advances all B rows together, one batched gradient per
step, and yields after every chunk of steps so a worker thread can report
progress and be cancelled; :func:`simulate` runs it to the end.

Stopping rules, checked per row after every chunk (so the inner loop stays a
handful of numpy calls per step):

diverged
    the first point whose parameters, loss or gradient are not finite, whose
    ``|loss| > 1e30``, or whose ``|x|`` or ``|y|`` exceeds ``1e6 ×`` the size of
    the landscape's domain (its larger side). The row's last valid point is
    the one before; nothing after it is reported.
converged
    the first point with ``‖∇f‖ < 1e-8`` whose following step is shorter than
    ``1e-10 ×`` the domain size: a stationary point the optimizer has settled
    on (momentum passing through a flat spot is not "converged"). The row
    ends at that point.
finished
    ran all ``steps`` steps.

Entries after a row's ``stop`` index are NaN. All floating-point warnings are
suppressed while stepping (exploding paths are expected, not errors).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossviewer.core.iteration import run_to_end
from lossviewer.core.landscape import Landscape
from lossviewer.core.optimizers import make_optimizer
from lossviewer.core.schedules import lr_schedule

__all__ = ["Trajectory", "simulate", "simulate_iter"]

#: |loss| above this counts as divergence
LOSS_LIMIT = 1e30
#: |coordinate| above this × domain size counts as divergence
PARAM_LIMIT_FACTOR = 1e6
#: gradient norm below which a point may count as converged ...
GRAD_TOL = 1e-8
#: ... when the step taken from it is below this × domain size
STEP_TOL_FACTOR = 1e-10

STATUSES = ("finished", "converged", "diverged")

#: batches up to this many rows step on Python floats (see Optimizer.list_stepper)
LIST_PATH_MAX_ROWS = 8


@dataclass(frozen=True, eq=False)
class Trajectory:
    """B optimizer paths of ``steps`` steps.

    ``points`` (B, steps+1, D), ``loss`` and ``grad_norm`` (B, steps+1) hold
    the start and the point after every step (loss and gradient are the true
    ones, without noise); ``lr`` (steps,) the learning rate of each step;
    ``status`` one of 'finished', 'converged', 'diverged' per row; ``stop``
    (B,) the index of each row's last valid point. Entries after ``stop`` are
    NaN.
    """

    points: NDArray[np.float64]
    loss: NDArray[np.float64]
    grad_norm: NDArray[np.float64]
    lr: NDArray[np.float64]
    status: tuple[str, ...]
    stop: NDArray[np.int64]
    optimizer: str = ""
    hyper: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_paths(self) -> int:
        return self.points.shape[0]

    @property
    def steps(self) -> int:
        return self.points.shape[1] - 1

    def valid_points(self, i: int) -> NDArray[np.float64]:
        """Row ``i``'s points up to and including its last valid one, (stop+1, D)."""
        return self.points[i, : self.stop[i] + 1]

    def valid_loss(self, i: int) -> NDArray[np.float64]:
        return self.loss[i, : self.stop[i] + 1]

    def valid_grad_norm(self, i: int) -> NDArray[np.float64]:
        return self.grad_norm[i, : self.stop[i] + 1]

    @property
    def final_points(self) -> NDArray[np.float64]:
        """Each row's last valid point, (B, D)."""
        return self.points[np.arange(self.n_paths), self.stop]

    @property
    def final_loss(self) -> NDArray[np.float64]:
        """Each row's loss at its last valid point, (B,)."""
        return self.loss[np.arange(self.n_paths), self.stop]


def _domain_size(landscape: Any) -> float:
    try:
        (x0, x1), (y0, y1) = landscape.domain
        size = max(float(x1) - float(x0), float(y1) - float(y0))
    except (AttributeError, TypeError, ValueError):
        return 1.0
    return size if math.isfinite(size) and size > 0 else 1.0


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def _check_starts(starts: ArrayLike) -> NDArray[np.float64]:
    try:
        arr = np.array(starts, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"starts must be numbers of shape (B, 2), got {starts!r}") from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
        raise ValueError(f"starts must have shape (B, 2), got {np.shape(starts)}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"start point {i} is not finite: {arr[i].tolist()}")
    return arr


def _uses_base_evaluation(landscape: Any) -> bool:
    """True when value/grad/hess are Landscape's own, which only call _f/_g/_h."""
    if not isinstance(landscape, Landscape):
        return False
    cls = type(landscape)
    names = ("value", "grad", "value_and_grad", "hess")
    return all(getattr(cls, n) is getattr(Landscape, n) for n in names)


def simulate_iter(
    landscape: Landscape,
    optimizer: str,
    hyper: Mapping[str, Any] | None,
    starts: ArrayLike,
    steps: int,
    schedule: str = "constant",
    schedule_params: Mapping[str, Any] | None = None,
    noise: float = 0.0,
    seed: int = 0,
    chunk: int = 250,
) -> Generator[int, None, Trajectory]:
    """Run ``optimizer`` from every start; a generator of steps done, returning the Trajectory.

    ``hyper`` are the optimizer's hyperparameters (torch names; missing ones
    take torch's defaults), ``schedule``/``schedule_params`` pick the
    learning-rate schedule (its base lr is ``hyper['lr']``). ``noise`` > 0 adds
    Gaussian noise of that standard deviation, drawn from
    ``np.random.default_rng(seed)``, to the gradient the optimizer sees.

    Arguments are checked before the first step: bad ones raise ValueError
    from this call, not from the first ``next()``.

    Batches of up to :data:`LIST_PATH_MAX_ROWS` rows on a plain Landscape run
    on Python floats (``Optimizer.list_stepper`` and the landscape's kernels
    on single numbers), about 10× faster than numpy for so few numbers. If
    that path raises (Python floats refuse 0/0 where numpy gives NaN), the
    run restarts on arrays, so the progress count starts again from 0.
    """
    pts0 = _check_starts(starts)
    steps = _check_int(steps, "steps", 1)
    chunk = _check_int(chunk, "chunk", 1)
    seed = _check_int(seed, "seed", 0)
    try:
        noise = float(noise)
    except (TypeError, ValueError):
        raise ValueError(f"noise must be a number, got {noise!r}") from None
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    opt = make_optimizer(optimizer, pts0.shape, **dict(hyper or {}))
    lrs = lr_schedule(schedule, opt.hyper["lr"], steps, **dict(schedule_params or {}))
    return _run(landscape, opt, pts0, steps, lrs, noise, seed, chunk)


def simulate(
    landscape: Landscape,
    optimizer: str,
    hyper: Mapping[str, Any] | None,
    starts: ArrayLike,
    steps: int,
    schedule: str = "constant",
    schedule_params: Mapping[str, Any] | None = None,
    noise: float = 0.0,
    seed: int = 0,
    chunk: int = 250,
) -> Trajectory:
    """:func:`simulate_iter` run to completion."""
    return run_to_end(simulate_iter(
        landscape, optimizer, hyper, starts, steps, schedule, schedule_params, noise, seed, chunk
    ))


class _ListPathFailed(Exception):
    """The Python-float path raised (e.g. 0/0, which numpy turns into NaN)."""


def _scalar_kernels(landscape: Any, pts0: NDArray[np.float64], need_hess: bool) -> tuple | None:
    """(_f, _g, _h, plain) when the kernels work on single numbers, else None.

    Kernels are written for arrays; most also accept scalars, ~10× faster for
    a handful of points. Checked once at the start points against the array
    results; anything odd (an exception, an array result, another value)
    means the array path. ``plain`` is True when every result on Python
    floats is a Python float, i.e. the kernel is bare arithmetic: those run on
    Python floats (fastest); the others on np.float64 scalars.
    """
    if not _uses_base_evaluation(landscape):
        return None
    f_, g_, h_ = landscape._f, landscape._g, landscape._h
    X, Y = pts0[:, 0], pts0[:, 1]

    def results(x: Any, y: Any) -> list[Any]:
        out = [f_(x, y), *g_(x, y)]
        return out + list(h_(x, y)) if need_hess else out

    try:
        with np.errstate(all="ignore"):
            ref = [np.broadcast_to(v, X.shape) for v in results(X, Y)]
            plain = True
            for r in range(len(X)):
                want = [float(v[r]) for v in ref]
                for x, y in ((np.float64(X[r]), np.float64(Y[r])), (float(X[r]), float(Y[r]))):
                    got = results(x, y)
                    if len(got) != len(want) or any(np.ndim(v) != 0 for v in got):
                        return None
                    # math.isclose on a handful of floats: np.allclose costs 0.1 ms a call,
                    # a tenth of setting up a whole path
                    same = all(
                        math.isclose(float(a), b, rel_tol=1e-10, abs_tol=0.0)
                        or (math.isnan(float(a)) and math.isnan(b))
                        for a, b in zip(got, want, strict=True)
                    )
                    if type(x) is float:
                        plain = plain and same and all(type(v) is float for v in got)
                    elif not same:
                        return None
    except Exception:  # noqa: BLE001 - any failure just means "use arrays"
        return None
    return f_, g_, h_, plain


def _run(
    landscape: Any,
    opt: Any,
    pts0: NDArray[np.float64],
    steps: int,
    lr_arr: NDArray[np.float64],
    noise: float,
    seed: int,
    chunk: int,
) -> Generator[int, None, Trajectory]:
    B = pts0.shape[0]
    if B <= LIST_PATH_MAX_ROWS:
        kernels = _scalar_kernels(landscape, pts0, opt.needs_hessian)
        lstep = opt.list_stepper() if kernels is not None else None
        if lstep is not None:
            try:
                return (
                    yield from _run_impl(
                        landscape, opt, pts0, steps, lr_arr, noise, seed, chunk, (kernels, lstep)
                    )
                )
            except _ListPathFailed:
                opt.reset()  # start again on arrays (progress restarts from 0)
    return (yield from _run_impl(landscape, opt, pts0, steps, lr_arr, noise, seed, chunk, None))


def _run_impl(
    landscape: Any,
    opt: Any,
    pts0: NDArray[np.float64],
    steps: int,
    lr_arr: NDArray[np.float64],
    noise: float,
    seed: int,
    chunk: int,
    scalar: tuple | None,
) -> Generator[int, None, Trajectory]:
    B, D = pts0.shape
    size = _domain_size(landscape)
    param_limit = PARAM_LIMIT_FACTOR * size
    step_tol = STEP_TOL_FACTOR * size

    # step-major storage: each step writes one contiguous (B, D) block
    pts = np.full((steps + 1, B, D), np.nan)
    loss = np.full((steps + 1, B), np.nan)
    gnorm = np.full((steps + 1, B), np.nan)
    n_chunk = min(chunk, steps)
    gbuf = np.empty((n_chunk, B, D))
    pts[0] = pts0
    lrs = lr_arr.tolist()
    rng = np.random.default_rng(seed) if noise > 0 else None
    need_hess = opt.needs_hessian

    if scalar is not None:
        run_chunk = _list_chunk_runner(scalar, pts0, lrs, need_hess, loss, gbuf, pts)
    else:
        run_chunk = _array_chunk_runner(landscape, opt, pts0, lrs, loss, gbuf, pts)

    active = np.ones(B, dtype=bool)
    stop = np.full(B, steps, dtype=np.int64)
    status = ["finished"] * B

    def validity(P: NDArray, L: NDArray, G: NDArray) -> NDArray[np.bool_]:
        return (
            np.isfinite(L)
            & (np.abs(L) <= LOSS_LIMIT)
            & (np.abs(P) <= param_limit).all(axis=-1)  # False for NaN too
            & np.isfinite(G).all(axis=-1)
        )

    def check(k0: int, k1: int) -> None:
        """Classify points k0 … k1-1 (loss and gradient known) of the active rows."""
        G = gbuf[: k1 - k0]
        gn = np.hypot(G[..., 0], G[..., 1])
        gnorm[k0:k1] = gn
        P = pts[k0:k1]
        ok = validity(P, loss[k0:k1], G)
        dx = pts[k0 + 1 : k1 + 1] - P
        conv = ok & (gn < GRAD_TOL) & (np.hypot(dx[..., 0], dx[..., 1]) <= step_tol)
        bad = ~ok
        bad_any, conv_any = bad.any(axis=0), conv.any(axis=0)
        for b in np.flatnonzero(active & (bad_any | conv_any)):
            jb = k0 + int(np.argmax(bad[:, b])) if bad_any[b] else steps + 1
            jc = k0 + int(np.argmax(conv[:, b])) if conv_any[b] else steps + 1
            if jc < jb:
                stop[b], status[b] = jc, "converged"
            else:
                stop[b], status[b] = max(jb - 1, 0), "diverged"
            active[b] = False

    k = 0
    while k < steps:
        k1 = min(k + n_chunk, steps)
        with np.errstate(all="ignore"):
            if rng is not None:
                nz = rng.standard_normal((k1 - k, B, D))
                nz *= noise
            else:
                nz = None
            run_chunk(k, k1, nz)
            check(k, k1)
        k = k1
        if not active.any():
            break
        yield k

    if active.any():
        # the final point: its loss and gradient, and whether it is still valid
        with np.errstate(all="ignore"):
            run_chunk(steps, steps, None)
            G = gbuf[0]
            gnorm[steps] = np.hypot(G[:, 0], G[:, 1])
            ok = validity(pts[steps], loss[steps], G)
        for b in np.flatnonzero(active & ~ok):
            stop[b], status[b] = steps - 1, "diverged"

    after = np.arange(steps + 1)[:, None] > stop[None, :]
    pts[after] = np.nan
    loss[after] = np.nan
    gnorm[after] = np.nan
    return Trajectory(
        points=np.ascontiguousarray(pts.transpose(1, 0, 2)),
        loss=np.ascontiguousarray(loss.T),
        grad_norm=np.ascontiguousarray(gnorm.T),
        lr=lr_arr,
        status=tuple(status),
        stop=stop,
        optimizer=opt.name,
        hyper=dict(opt.hyper),
    )


# A chunk runner run_chunk(k0, k1, noise) takes steps k0 … k1-1: for each, it
# evaluates loss and gradient at point j into loss[j] and gbuf[j - k0], steps,
# and stores the new point in pts[j + 1]. With k0 == k1 it only evaluates the
# current point into loss[k0] and gbuf[0] (the final point).


def _array_chunk_runner(landscape, opt, pts0, lrs, loss, gbuf, pts):
    B, D = pts0.shape
    params = pts0.copy()
    gnoisy = np.empty((B, D))
    hbuf = np.zeros((B, D, D)) if opt.needs_hessian else None
    step = opt.step

    # Landscape's own value/grad/hess only wrap _f/_g/_h with shape checks and
    # copies; calling the kernels on column views saves much of the per-step cost.
    if _uses_base_evaluation(landscape):
        x, y = params[:, 0], params[:, 1]
        f_, g_, h_ = landscape._f, landscape._g, landscape._h

        def evaluate(j: int, gk: NDArray) -> None:
            loss[j] = f_(x, y)
            gk[:, 0], gk[:, 1] = g_(x, y)
            if hbuf is not None:
                hxx, hxy, hyy = h_(x, y)
                hbuf[:, 0, 0] = hxx
                hbuf[:, 0, 1] = hxy
                hbuf[:, 1, 0] = hxy
                hbuf[:, 1, 1] = hyy

    else:

        def evaluate(j: int, gk: NDArray) -> None:
            v, g = landscape.value_and_grad(params)
            loss[j] = v
            gk[...] = g
            if hbuf is not None:
                hbuf[...] = landscape.hess(params)

    def run_chunk(k0: int, k1: int, nz: NDArray | None) -> None:
        if k0 == k1:
            evaluate(k0, gbuf[0])
            return
        for j in range(k0, k1):
            gk = gbuf[j - k0]
            evaluate(j, gk)
            if nz is not None:
                np.add(gk, nz[j - k0], out=gnoisy)
                step(params, gnoisy, lrs[j], hbuf)
            else:
                step(params, gk, lrs[j], hbuf)
            pts[j + 1] = params

    return run_chunk


def _list_chunk_runner(scalar, pts0, lrs, need_hess, loss, gbuf, pts):
    (f_, g_, h_, plain), lstep = scalar
    B, D = pts0.shape
    p = pts0.ravel().tolist()
    g = [0.0] * (B * D)
    hl: list[Any] | None = [None] * B if need_hess else None
    f64 = np.float64
    rows = range(B)
    # Python floats raise (OverflowError from **, ZeroDivisionError) or turn
    # complex (float() then raises TypeError) where numpy gives inf/NaN: such a
    # point is evaluated again on np.float64 scalars, which follow IEEE.
    numpy_like = (ArithmeticError, TypeError, ValueError)

    def point(x: float, y: float) -> tuple[float, float, float]:
        if plain:
            try:
                gx, gy = g_(x, y)
                return float(f_(x, y)), float(gx), float(gy)
            except numpy_like:
                pass
        x, y = f64(x), f64(y)
        gx, gy = g_(x, y)
        return float(f_(x, y)), float(gx), float(gy)

    def hessian(x: float, y: float) -> tuple[float, float, float]:
        if plain:
            try:
                hxx, hxy, hyy = h_(x, y)
                return float(hxx), float(hxy), float(hyy)
            except numpy_like:
                pass
        hxx, hxy, hyy = h_(f64(x), f64(y))
        return float(hxx), float(hxy), float(hyy)

    def evaluate(cl: list[float], cg: list[float]) -> None:
        for r in rows:
            x, y = p[2 * r], p[2 * r + 1]
            fv, gx, gy = point(x, y)
            cl.append(fv)
            g[2 * r] = gx
            g[2 * r + 1] = gy
            cg.append(gx)
            cg.append(gy)
            if hl is not None:
                hl[r] = hessian(x, y)

    if B == 1 and hl is None and plain:

        def evaluate(cl: list[float], cg: list[float]) -> None:  # the common race case, inlined
            x, y = p[0], p[1]
            try:
                gx, gy = g_(x, y)
                fv, gx, gy = float(f_(x, y)), float(gx), float(gy)
            except numpy_like:
                fv, gx, gy = point(f64(x), f64(y))
            cl.append(fv)
            g[0] = gx
            g[1] = gy
            cg.append(gx)
            cg.append(gy)

    def run_chunk(k0: int, k1: int, nz: NDArray | None) -> None:
        cl: list[float] = []
        cg: list[float] = []
        cp: list[float] = []
        n = k1 - k0
        try:
            if n == 0:
                evaluate(cl, cg)
            elif nz is not None:
                nzl = nz.reshape(n, B * D).tolist()
                for j in range(k0, k1):
                    evaluate(cl, cg)
                    lstep(p, [a + b for a, b in zip(g, nzl[j - k0], strict=True)], lrs[j], hl)
                    cp.extend(p)
            else:
                for j in range(k0, k1):
                    evaluate(cl, cg)
                    lstep(p, g, lrs[j], hl)
                    cp.extend(p)
        except Exception as exc:  # noqa: BLE001 - the array path redoes it (or raises properly)
            raise _ListPathFailed from exc
        if n == 0:
            loss[k0] = cl
            gbuf[0] = np.array(cg).reshape(B, D)
            return
        loss[k0:k1] = np.array(cl).reshape(n, B)
        gbuf[:n] = np.array(cg).reshape(n, B, D)
        pts[k0 + 1 : k1 + 1] = np.array(cp).reshape(n, B, D)

    return run_chunk
