"""Critical points of a landscape: where ∇f = 0, and what kind each one is.

Method (:func:`iter_critical_points`): Newton's method on ∇f = 0 from a
``seeds`` × ``seeds`` grid of start points (the cell centres of the domain) plus
the landscape's known minima, all paths at once as one numpy batch.

* Step: the pseudo-inverse Newton step −H⁺·∇f, from the closed-form eigen-
  decomposition of the 2×2 Hessian. Where H is regular this is Newton's step;
  an eigenvalue with |λ| ≤ PINV_TOL·|λ|max counts as zero, so a singular Hessian
  gives no move along its flat direction (a valley floor) instead of a blow-up.
  It heads for saddles and maxima as readily as for minima.
* Trust region: each path has a radius, at first STEP_CELLS seed spacings (so a
  path first looks for the critical point near its start), doubled after a step
  that the linear model ∇f + H·d predicted well (to within MODEL_TOL·|∇f|), up to
  STEP_FRACTION of the domain diagonal, and quartered after a refused step.
* A step is taken when |∇f| drops or when it passes Deuflhard's natural
  monotonicity test (the next Newton correction, computed with the current
  Hessian, is shorter): the second lets paths follow curved valleys.
* Degenerate points: Newton converges only linearly to them (x⁴: each step 2/3
  of the previous one). When the ratio of consecutive step lengths holds steady
  (within LINEAR_RATE_TOL), the path jumps to the limit of the geometric series.
* A path stops when its step is below STOP_STEP × the diagonal, at ∇f = 0, when
  |∇f| has not halved in STALL_STEPS steps (a non-zero local minimum of |∇f|),
  when it is FAR outside the domain, when it is outside by more than its first
  trust radius and steps further away (towards a critical point outside, or down
  a plateau that tilts off to infinity), or when the landscape gives NaN or inf.
* Converged: |∇f| ≤ GRAD_TOL × the median |∇f| on the seed grid, and the Newton
  step there ≤ ACCEPT_STEP × the domain diagonal; inside the domain (give or
  take DOMAIN_MARGIN of its width and height); finite gradient and Hessian.
* Duplicates: converged points closer than DUPLICATE_RADIUS × the domain
  diagonal are one point (single linkage; the one with the smallest |∇f| is
  kept). Each unique point gets POLISH_STEPS more Newton steps.
* Classification (:func:`classify`): degenerate when
  |λ|min ≤ DEGENERATE_TOL · max(scale, |λ|max), where scale is the Hessian scale
  of the landscape on this domain (the median |λ|max over the seed grid), or
  when the Hessian is not finite; otherwise by the signs of the eigenvalues.
* Continua: degenerate points closer than CONTINUUM_RADIUS × the seed spacing
  are one cluster (single linkage), reported as its lowest point (among those
  within GLOBAL_TIE_TOL of the lowest value: the one nearest the cluster's mean).
  A flat valley floor (x²), a ring of minima or a flat plateau thus gives one
  "degenerate" point per connected piece, not one per start point.
* Order: minima, then saddles, maxima and degenerate points, each kind by value
  (ascending, NaN last). At most ``max_points`` (MAX_POINTS) are returned: the
  list is cut in that order, so the lowest minima are always kept.
* Global: every minimum whose value is within GLOBAL_TIE_TOL × the spread of
  values on the seed grid of the lowest minimum's is ``is_global`` (the two
  global minima of the six-hump camel are both marked). Degenerate points are
  never marked (x⁴ + y⁴ has its minimum at a degenerate point).

With seeds = 40 (1600 paths) a built-in landscape takes about 10–70 ms.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossviewer.core.curvature import hessian_eigenvalues
from lossviewer.core.grid import check_range
from lossviewer.core.iteration import run_to_end
from lossviewer.core.landscape import Landscape
from lossviewer.core.stationary import cluster_points

__all__ = [
    "KINDS",
    "CriticalPoint",
    "classify",
    "find_critical_points",
    "iter_critical_points",
]

Kind = Literal["minimum", "maximum", "saddle", "degenerate"]
#: the order of kinds in the result
KINDS: tuple[Kind, ...] = ("minimum", "saddle", "maximum", "degenerate")

#: |λ|min ≤ DEGENERATE_TOL · max(scale, |λ|max) is a degenerate (singular) Hessian
DEGENERATE_TOL = 1e-6
#: converged when |∇f| ≤ GRAD_TOL × the median |∇f| on the seed grid …
GRAD_TOL = 1e-9
#: … and the Newton step there is at most ACCEPT_STEP × the domain diagonal
ACCEPT_STEP = 1e-6
#: a path stops once its Newton step is below STOP_STEP × the diagonal
STOP_STEP = 1e-10
#: the first trust radius, in seed spacings …
STEP_CELLS = 2.0
#: … and the largest, as a fraction of the domain diagonal
STEP_FRACTION = 0.25
#: the radius grows after a step whose gradient the linear model predicted this well
MODEL_TOL = 0.25
#: eigenvalues below this × |λ|max count as zero in the (pseudo-inverse) Newton step
PINV_TOL = 1e-13
#: step-length ratios this close on consecutive steps mean linear convergence
LINEAR_RATE_TOL = 0.01
#: a path whose |∇f| has not halved in this many steps has stalled
STALL_STEPS = 10
#: paths further than this × the domain's width (or height) outside it stop
FAR = 0.25
#: converged points outside the domain by more than this × its width (height) are dropped
DOMAIN_MARGIN = 1e-6
#: points closer than this × the domain diagonal are the same critical point
DUPLICATE_RADIUS = 1e-6
#: extra Newton steps for each unique point
POLISH_STEPS = 4
#: degenerate points closer than this × the seed spacing belong to one continuum
CONTINUUM_RADIUS = 1.5
#: minima within this × the spread of values on the seed grid of the lowest are global
GLOBAL_TIE_TOL = 1e-9
#: the most points returned
MAX_POINTS = 200


@dataclass(frozen=True)
class CriticalPoint:
    """A point where ∇f = 0: its value, its Hessian eigenvalues (ascending) and kind."""

    x: float
    y: float
    value: float
    eigenvalues: tuple[float, float]
    kind: Kind
    #: the lowest minimum found in the domain (ties included)
    is_global: bool = False

    @property
    def point(self) -> tuple[float, float]:
        return (self.x, self.y)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; non-finite numbers become None (JSON has no NaN)."""
        return {
            "x": _json_float(self.x),
            "y": _json_float(self.y),
            "value": _json_float(self.value),
            "eigenvalues": [_json_float(v) for v in self.eigenvalues],
            "type": self.kind,
            "global": bool(self.is_global),
        }


def _json_float(v: float) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def classify(eigenvalues: ArrayLike, tol: float = DEGENERATE_TOL,
             scale: float = 1.0) -> Any:
    """The kind of a critical point from its Hessian eigenvalues (..., 2).

    Degenerate when |λ|min ≤ tol · max(scale, |λ|max), i.e. the Hessian is
    singular relative to its own size or to ``scale`` (the typical curvature of
    the landscape; 1 by default), or when an eigenvalue is NaN or infinite;
    otherwise a minimum (both > 0), a maximum (both < 0) or a saddle. Returns a
    str for one pair, an array of str of shape (...) for many.
    """
    e = np.asarray(eigenvalues, dtype=np.float64)
    if e.shape[-1:] != (2,):
        raise ValueError(f"eigenvalues must have shape (..., 2), got {e.shape}")
    with np.errstate(all="ignore"):
        lo = np.minimum(e[..., 0], e[..., 1])
        hi = np.maximum(e[..., 0], e[..., 1])
        small = np.minimum(np.abs(lo), np.abs(hi))
        big = np.maximum(np.abs(lo), np.abs(hi))
        degenerate = ~(np.isfinite(lo) & np.isfinite(hi)) | (
            small <= tol * np.maximum(scale, big))
    out = np.where(degenerate, "degenerate",
                   np.where(lo > 0, "minimum", np.where(hi < 0, "maximum", "saddle")))
    return str(out) if out.ndim == 0 else out


# -- the search ------------------------------------------------------------------


def _pinv(H: NDArray) -> tuple[NDArray, ...]:
    """The pseudo-inverse of symmetric 2×2 matrices (N, 2, 2), as (cos θ, sin θ, 1/λ_lo, 1/λ_hi).

    Closed-form eigen-decomposition; eigenvalues with |λ| ≤ PINV_TOL·|λ|max count
    as zero (their inverse is 0: no move along a flat direction).
    """
    a, b, c = H[:, 0, 0], H[:, 0, 1], H[:, 1, 1]
    lam = hessian_eigenvalues(H)
    floor = PINV_TOL * np.max(np.abs(lam), axis=-1)
    # eigenvector of the larger eigenvalue: (cos θ, sin θ) with tan 2θ = 2b/(a − c)
    th = 0.5 * np.arctan2(2.0 * b, a - c)
    big = np.abs(lam) > floor[:, None]
    inv = np.where(big, 1.0 / np.where(big, lam, 1.0), 0.0)
    return np.cos(th), np.sin(th), inv[:, 0], inv[:, 1]


def _apply(pinv: tuple[NDArray, ...], g: NDArray) -> NDArray:
    """−H⁺·g for each point."""
    ct, st, i_lo, i_hi = pinv
    k_hi = (ct * g[:, 0] + st * g[:, 1]) * i_hi
    k_lo = (-st * g[:, 0] + ct * g[:, 1]) * i_lo
    return -np.stack([k_hi * ct - k_lo * st, k_hi * st + k_lo * ct], axis=-1)


def _newton_step(g: NDArray, H: NDArray) -> NDArray:
    """The pseudo-inverse Newton step −H⁺·g (Newton's step where H is regular)."""
    return _apply(_pinv(H), g)


def _limit(d: NDArray, radius: NDArray | float) -> tuple[NDArray, NDArray]:
    """Steps shortened to at most ``radius``; also their full lengths."""
    n = np.hypot(d[:, 0], d[:, 1])
    f = np.where(n > radius, radius / np.where(n > 0, n, 1.0), 1.0)
    return d * f[:, None], n


def _outside(P: NDArray, box: tuple[float, float, float, float]) -> tuple[NDArray, NDArray]:
    """How far each point lies outside the box x0..x1 × y0..y1 along x and y (0 inside)."""
    x0, x1, y0, y1 = box
    dx = np.maximum(np.maximum(x0 - P[:, 0], P[:, 0] - x1), 0.0)
    dy = np.maximum(np.maximum(y0 - P[:, 1], P[:, 1] - y1), 0.0)
    return dx, dy


def _eval(land: Landscape, P: NDArray) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Gradient, its norm, Hessian, and whether all of them are finite."""
    g = land.grad(P)
    H = land.hess(P)
    gn = np.hypot(g[:, 0], g[:, 1])
    ok = np.isfinite(gn) & np.isfinite(H).all(axis=(-2, -1)) & np.isfinite(P).all(axis=-1)
    return g, gn, H, ok


class _Search:
    """Newton paths from all start points at once.

    The full arrays (P, g, gn, H: one row per start point) hold where each path
    ended; the working set (arrays prefixed ``w``) holds the paths still moving,
    so each step touches only those.
    """

    def __init__(self, land: Landscape, P: NDArray, n_grid: int, radius: float,
                 max_radius: float, stop_step: float,
                 box: tuple[float, float, float, float]) -> None:
        self.land = land
        self.max_radius, self.stop_step, self.box = max_radius, stop_step, box
        self.margin = float(radius)
        with np.errstate(all="ignore"):
            g, gn, H, ok = _eval(land, P)
            hmax = np.max(np.abs(hessian_eigenvalues(H)), axis=-1)
            grid = slice(0, n_grid)
            gs = gn[grid][ok[grid] & (gn[grid] > 0)]
            hs = hmax[grid][ok[grid] & (hmax[grid] > 0)]
            v = land.value(P[grid])
            v = v[np.isfinite(v)]
        #: the typical |∇f|, |λ|max and value range on the seed grid
        self.gscale = float(np.median(gs)) if gs.size else 1.0
        self.hscale = float(np.median(hs)) if hs.size else 1.0
        self.spread = float(v.max() - v.min()) if v.size else 0.0
        self.P, self.g, self.gn, self.H = P.copy(), g, gn, H
        # the working set: paths that can still move
        w = np.flatnonzero(ok & (gn > 0))
        self.w = w
        self.wP, self.wg, self.wgn, self.wH = P[w], g[w], gn[w], H[w]
        self.radius = np.full(w.size, float(radius))
        self.mark = gn[w].copy()  # |∇f| when it last halved …
        self.since = np.zeros(w.size, dtype=np.intp)  # … and the steps since then
        self.prev = np.full(w.size, np.nan)  # the previous Newton step's length …
        self.rho = np.full(w.size, np.nan)  # … and the ratio of the two before

    @property
    def moving(self) -> int:
        return int(self.w.size)

    def step(self) -> None:
        """One trust-region Newton step for every moving path."""
        if self.w.size == 0:
            return
        with np.errstate(all="ignore"):
            self._step()

    def _step(self) -> None:
        pinv = _pinv(self.wH)
        full = _apply(pinv, self.wg)
        fn = np.hypot(full[:, 0], full[:, 1])
        # Newton converges only linearly to a degenerate point (x⁴: each step 2/3
        # of the last); when the ratio of step lengths holds steady, jump to the
        # limit of the geometric series instead (exact for x⁴, x³ − 3xy², …)
        ratio = fn / self.prev
        steady = (np.abs(ratio - self.rho) <= LINEAR_RATE_TOL) & (ratio > 0.2) & (ratio < 0.95)
        step = np.where(steady[:, None], full / (1.0 - np.where(steady, ratio, 0.0))[:, None],
                        full)
        d, dn = _limit(step, self.radius)
        T = self.wP + d
        g, gn, H, ok = _eval(self.land, T)
        # take the step if |∇f| drops, or if it passes Deuflhard's natural monotonicity
        # test (the next Newton correction, with the current Hessian, is shorter): the
        # latter lets paths follow curved valleys (Rosenbrock) where |∇f| first grows
        nat = _apply(pinv, g)
        taken = ok & np.isfinite(fn) & (
            (np.hypot(nat[:, 0], nat[:, 1]) < fn) | (gn < self.wgn) | (gn == 0))
        # a step the linear model g + H·d predicted well widens the trust region
        pred = self.wg + np.einsum("nij,nj->ni", self.wH, d)
        good = taken & (np.hypot(*(g - pred).T) <= MODEL_TOL * self.wgn)
        old = self.wP.copy()
        np.copyto(self.wP, T, where=taken[:, None])
        np.copyto(self.wg, g, where=taken[:, None])
        np.copyto(self.wgn, gn, where=taken)
        np.copyto(self.wH, H, where=taken[:, None, None])
        self.radius = np.where(good, np.minimum(2.0 * self.radius, self.max_radius),
                               np.where(taken, self.radius,
                                        0.25 * np.minimum(self.radius, dn)))
        self.prev = np.where(taken, fn, np.nan)
        self.rho = np.where(taken & ~steady, ratio, np.nan)
        # progress: |∇f| halves every few steps on the way to a critical point
        halved = self.wgn <= 0.5 * self.mark
        self.mark = np.where(halved, self.wgn, self.mark)
        self.since = np.where(halved, 0, self.since + 1)
        x0, x1, y0, y1 = self.box
        dx, dy = _outside(self.wP, self.box)
        far = (dx > FAR * (x1 - x0)) | (dy > FAR * (y1 - y0))
        # outside the domain and moving away from it: heading for a critical point
        # outside (or drifting down a plateau that tilts off to infinity)
        dist = np.hypot(dx, dy)
        away = (dist > self.margin) & taken & (dist > np.hypot(*_outside(old, self.box)))
        # finished: at a zero gradient, converged, far away or leaving, stalled, or
        # refused down to nothing
        done = (self.wgn == 0) | (taken & (fn <= self.stop_step)) | far | away
        done |= self.since >= STALL_STEPS
        done |= ~taken & ((self.radius <= self.stop_step) | ~np.isfinite(fn))
        if done.any():
            self._retire(done)

    def _retire(self, done: NDArray) -> None:
        """Write finished paths back to the full arrays and drop them from the working set."""
        i = self.w[done]
        self.P[i], self.g[i], self.gn[i], self.H[i] = (
            self.wP[done], self.wg[done], self.wgn[done], self.wH[done])
        keep = ~done
        self.w = self.w[keep]
        self.wP, self.wg, self.wgn, self.wH = (
            self.wP[keep], self.wg[keep], self.wgn[keep], self.wH[keep])
        self.radius, self.mark, self.since = self.radius[keep], self.mark[keep], self.since[keep]
        self.prev, self.rho = self.prev[keep], self.rho[keep]

    def stop(self) -> None:
        """End every path where it is."""
        self._retire(np.ones(self.w.size, dtype=bool))


def _polish(land: Landscape, P: NDArray, cap: float, steps: int) -> NDArray:
    """A few plain Newton (pseudo-inverse) steps, each kept only if |∇f| does not grow."""
    P = P.copy()
    with np.errstate(all="ignore"):
        g, gn, H, ok = _eval(land, P)
        for _ in range(steps):
            if not ok.any():
                break
            d, _ = _limit(_newton_step(g, H), cap)
            T = P + d
            g2, gn2, H2, ok2 = _eval(land, T)
            keep = ok & ok2 & (gn2 <= gn)
            P[keep], g[keep], gn[keep], H[keep] = T[keep], g2[keep], gn2[keep], H2[keep]
    return P


def _representatives(labels: NDArray, score: NDArray, P: NDArray | None = None,
                     tie: float = 0.0) -> NDArray[np.intp]:
    """Per cluster, the index of the lowest score (NaN counts as highest).

    With ``P``: among the members within ``tie`` of the lowest score, the one
    nearest the cluster's mean.
    """
    if labels.size == 0:
        return np.zeros(0, dtype=np.intp)
    k = int(labels.max()) + 1
    s = np.where(np.isnan(score), np.inf, score)
    if P is None:
        order = np.lexsort((s, labels))
    else:
        best = np.full(k, np.inf)
        np.minimum.at(best, labels, s)
        cand = s <= best[labels] + tie
        count = np.bincount(labels, minlength=k)
        cx = np.bincount(labels, P[:, 0], minlength=k) / count
        cy = np.bincount(labels, P[:, 1], minlength=k) / count
        dist = np.hypot(P[:, 0] - cx[labels], P[:, 1] - cy[labels])
        order = np.lexsort((dist, ~cand, labels))
    sorted_labels = labels[order]
    firsts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    return order[firsts]


def iter_critical_points(
    landscape: Landscape,
    xrange: tuple[float, float],
    yrange: tuple[float, float],
    seeds: int = 40,
    max_iter: int = 60,
    *,
    known: bool = True,
    max_points: int = MAX_POINTS,
) -> Generator[tuple[int, int], None, list[CriticalPoint]]:
    """Find the critical points in xrange × yrange (see the module doc for the method).

    ``seeds``: start points per side; ``max_iter``: Newton steps at most;
    ``known``: also start from the landscape's known minima (so a non-smooth
    minimum such as Ackley's cone tip, which Newton's method cannot converge to,
    is still found); ``max_points``: the longest list returned. Yields
    (steps done, steps total) as it goes, and returns the sorted list of
    :class:`CriticalPoint`. Bad ranges or seeds raise ValueError.
    """
    x0, x1 = check_range(xrange[0], xrange[1], what="x range")
    y0, y1 = check_range(yrange[0], yrange[1], what="y range")
    n = int(seeds)
    if n < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds!r}")
    max_iter = max(0, int(max_iter))
    total = max_iter + 2
    wx, wy = x1 - x0, y1 - y0
    diag = float(np.hypot(wx, wy))
    xs = x0 + (np.arange(n) + 0.5) * (wx / n)
    ys = y0 + (np.arange(n) + 0.5) * (wy / n)
    X, Y = np.meshgrid(xs, ys)
    P = np.stack([X.ravel(), Y.ravel()], axis=-1)
    mx, my = DOMAIN_MARGIN * wx, DOMAIN_MARGIN * wy
    if known:
        K = np.array([m.point for m in landscape.minima()], dtype=np.float64).reshape(-1, 2)
        inside = ((K[:, 0] >= x0 - mx) & (K[:, 0] <= x1 + mx)
                  & (K[:, 1] >= y0 - my) & (K[:, 1] <= y1 + my))
        P = np.concatenate([P, K[inside]])
    cap = STEP_CELLS * max(wx, wy) / n
    box = (x0, x1, y0, y1)
    search = _Search(landscape, P, n * n, cap, STEP_FRACTION * diag, STOP_STEP * diag, box)
    yield 1, total
    for it in range(max_iter):
        if not search.moving:
            break
        search.step()
        yield 2 + it, total
    search.stop()
    points = _finish(landscape, search, box, cap, diag, CONTINUUM_RADIUS * max(wx, wy) / n,
                     max_points)
    yield total, total
    return points


def _finish(land: Landscape, st: _Search, box: tuple[float, float, float, float], cap: float,
            diag: float, continuum: float, max_points: int) -> list[CriticalPoint]:
    """Converged, unique, polished, classified, sorted and capped critical points."""
    gscale, hscale, spread = st.gscale, st.hscale, st.spread
    x0, x1, y0, y1 = box
    # landscapes whose derivatives are approximate (a network slice: finite-difference
    # Hessians, ReLU kinks) say how close two points must be to count as one
    merge = getattr(land, "critical_merge_radius", DUPLICATE_RADIUS) * diag
    mx, my = DOMAIN_MARGIN * (x1 - x0), DOMAIN_MARGIN * (y1 - y0)
    gtol = GRAD_TOL * gscale

    def keep(P: NDArray, g: NDArray, gn: NDArray, H: NDArray, ok: NDArray) -> NDArray:
        """Converged (tiny gradient, tiny Newton step), finite and inside the domain."""
        dn = np.hypot(*_newton_step(g, H).T)
        inside = ((P[:, 0] >= x0 - mx) & (P[:, 0] <= x1 + mx)
                  & (P[:, 1] >= y0 - my) & (P[:, 1] <= y1 + my))
        return ok & inside & (gn <= gtol) & (dn <= ACCEPT_STEP * diag)

    with np.errstate(all="ignore"):
        ok = np.isfinite(st.gn) & np.isfinite(st.H).all(axis=(-2, -1))
        good = keep(st.P, st.g, st.gn, st.H, ok)
        P, gn = st.P[good], st.gn[good]
        if len(P):
            # one point per critical point (the best converged start), then polished
            labels = cluster_points(P, merge)
            P = P[_representatives(labels, gn)]
            P = _polish(land, P, cap, POLISH_STEPS)
            g, gn, H, ok = _eval(land, P)
            good = keep(P, g, gn, H, ok)
            P, gn, H = P[good], gn[good], H[good]
        if len(P):
            labels = cluster_points(P, merge)
            rep = _representatives(labels, gn)
            P, H = P[rep], H[rep]
        values = land.value(P) if len(P) else np.zeros(0)
        eig = hessian_eigenvalues(H) if len(P) else np.zeros((0, 2))
        kinds = np.asarray(classify(eig, DEGENERATE_TOL, hscale)).reshape(-1)
        # continua of degenerate points: one point per connected piece
        deg = np.flatnonzero(kinds == "degenerate")
        if deg.size > 1:
            labels = cluster_points(P[deg], continuum)
            tie = GLOBAL_TIE_TOL * spread
            rep = deg[_representatives(labels, values[deg], P[deg], tie)]
            drop = np.setdiff1d(deg, rep)
            keep_idx = np.setdiff1d(np.arange(len(P)), drop)
            P, values, eig, kinds = P[keep_idx], values[keep_idx], eig[keep_idx], kinds[keep_idx]
        rank = np.zeros(len(kinds), dtype=np.intp)
        for r, kind in enumerate(KINDS):
            rank[kinds == kind] = r
        sort_v = np.where(np.isnan(values), np.inf, values)
        order = np.lexsort((np.isnan(values), sort_v, rank))[: max(0, int(max_points))]
        P, values, eig, kinds = P[order], values[order], eig[order], kinds[order]
        is_min = (kinds == "minimum") & np.isfinite(values)
        is_global = np.zeros(len(P), dtype=bool)
        if is_min.any():
            vmin = np.min(values[is_min])
            tie = max(GLOBAL_TIE_TOL * spread, 4 * np.spacing(abs(vmin)))
            is_global = is_min & (values <= vmin + tie)
    return [
        CriticalPoint(float(p[0]), float(p[1]), float(v), (float(e[0]), float(e[1])),
                      str(k), bool(gl))  # type: ignore[arg-type]
        for p, v, e, k, gl in zip(P, values, eig, kinds, is_global, strict=True)
    ]


def find_critical_points(
    landscape: Landscape,
    xrange: tuple[float, float],
    yrange: tuple[float, float],
    seeds: int = 40,
    max_iter: int = 60,
    *,
    known: bool = True,
    max_points: int = MAX_POINTS,
) -> list[CriticalPoint]:
    """:func:`iter_critical_points` run to the end."""
    return run_to_end(iter_critical_points(landscape, xrange, yrange, seeds, max_iter,
                                           known=known, max_points=max_points))
