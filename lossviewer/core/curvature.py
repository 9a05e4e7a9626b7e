"""Curvature of a landscape: Hessian eigenvalues on a grid, and gradient arrows.

Everything here is numpy only and vectorised over points. Landscapes may return
NaN or inf in places; those give NaN (or inf) entries in the results, never
warnings or exceptions.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossviewer.core.iteration import run_to_end
from lossviewer.core.landscape import Landscape

__all__ = [
    "LOG_CONDITION_MAX",
    "ArrowField",
    "CurvatureField",
    "CurvatureResult",
    "arrow_lengths",
    "arrow_segments",
    "condition_number",
    "curvature_field",
    "curvature_steps",
    "gradient_arrows",
    "hessian_eigenvalues",
    "iter_curvature_field",
]

#: ``log_condition`` is clipped to [0, LOG_CONDITION_MAX]: float64 cannot resolve a
#: condition number beyond about 1/eps ≈ 4.5e15, so 16 decades means "singular"
LOG_CONDITION_MAX = 16.0
#: Hessians evaluated per step of :func:`iter_curvature_field` (a few ms each)
CURVATURE_BLOCK_POINTS = 1 << 14
#: shortest and longest arrow shaft, as fractions of the cell size
ARROW_MIN, ARROW_MAX = 0.25, 0.9
#: half-angle of the arrow heads
ARROW_HEAD_ANGLE = np.deg2rad(25.0)

Layer = Literal["min_eig", "max_eig", "condition", "log_condition"]


# -- eigenvalues ---------------------------------------------------------------


def hessian_eigenvalues(H: ArrayLike) -> NDArray[np.float64]:
    """Eigenvalues of symmetric 2×2 matrices (..., 2, 2), ascending, shape (..., 2).

    Closed form: the eigenvalue of larger magnitude is m + sign(m)·r with
    m = (a + c)/2 and r = hypot((a − c)/2, b) (no cancellation), the other one is
    det/that (accurate even for diag(1e10, 1e-10), where m − r would cancel).
    Entries are scaled by their largest magnitude first, so nothing overflows.
    Only the upper off-diagonal entry H[..., 0, 1] is read. A NaN entry gives NaN
    eigenvalues; an infinite one gives ±inf or NaN.
    """
    H = np.asarray(H, dtype=np.float64)
    if H.shape[-2:] != (2, 2):
        raise ValueError(f"Hessians must have shape (..., 2, 2), got {H.shape}")
    a, b, c = H[..., 0, 0], H[..., 0, 1], H[..., 1, 1]
    with np.errstate(all="ignore"):
        s = np.maximum(np.maximum(np.abs(a), np.abs(b)), np.abs(c))
        finite = np.isfinite(s) & (s > 0)
        k = np.where(finite, s, 1.0)
        a1, b1, c1 = a / k, b / k, c / k
        m = 0.5 * (a1 + c1)
        r = np.hypot(0.5 * (a1 - c1), b1)
        big = m + np.copysign(r, m)
        det = a1 * c1 - b1 * b1
        small = np.where(big != 0, det / np.where(big != 0, big, 1.0), 0.0)
        lo = np.minimum(big, small) * k
        hi = np.maximum(big, small) * k
        # infinite entries: the plain formula (inf or NaN, as IEEE gives it)
        inf = ~np.isfinite(s)
        if inf.any():
            m0 = 0.5 * (a + c)
            r0 = np.hypot(0.5 * (a - c), b)
            lo = np.where(inf, m0 - r0, lo)
            hi = np.where(inf, m0 + r0, hi)
        nan = np.isnan(a) | np.isnan(b) | np.isnan(c)
        lo = np.where(nan, np.nan, lo)
        hi = np.where(nan, np.nan, hi)
    return np.stack([lo, hi], axis=-1)


# -- curvature on a grid -------------------------------------------------------


@dataclass(frozen=True)
class CurvatureField:
    """Hessian eigenvalues of a landscape on the grid xs × ys (arrays of shape (ny, nx)).

    ``condition`` is |λ|max / |λ|min: 1 for a round bowl, large in narrow valleys,
    ``inf`` where |λ|min = 0 (including H = 0), NaN where the Hessian is not finite.
    For colouring use ``log_condition``: log10 of it clipped to
    [0, LOG_CONDITION_MAX] (inf becomes LOG_CONDITION_MAX, NaN stays NaN).
    """

    xs: NDArray[np.float64]
    ys: NDArray[np.float64]
    min_eig: NDArray[np.float64]
    max_eig: NDArray[np.float64]
    condition: NDArray[np.float64]

    @property
    def shape(self) -> tuple[int, int]:
        return self.min_eig.shape  # type: ignore[return-value]

    @property
    def log_condition(self) -> NDArray[np.float64]:
        with np.errstate(all="ignore"):
            out = np.log10(self.condition)
        return np.clip(out, 0.0, LOG_CONDITION_MAX)  # clip keeps NaN, maps inf to the top

    def layer(self, name: Layer) -> NDArray[np.float64]:
        """One of "min_eig", "max_eig", "condition" or "log_condition" by name."""
        if name == "log_condition":
            return self.log_condition
        if name in ("min_eig", "max_eig", "condition"):
            return getattr(self, name)
        raise ValueError(
            f"unknown curvature layer {name!r}; known: min_eig, max_eig, condition, log_condition"
        )


def condition_number(eig: NDArray[np.float64]) -> NDArray[np.float64]:
    """|λ|max / |λ|min of eigenvalue pairs (..., 2): inf where |λ|min = 0, NaN for NaN."""
    with np.errstate(all="ignore"):
        e = np.abs(eig)
        lo, hi = np.minimum(e[..., 0], e[..., 1]), np.maximum(e[..., 0], e[..., 1])
        out = np.where(lo > 0, hi / np.where(lo > 0, lo, 1.0), np.inf)
        return np.where(np.isnan(lo) | np.isnan(hi), np.nan, out)


@dataclass(frozen=True)
class CurvatureResult:
    """What a curvature job returns: the field on the grid and the gradient arrows."""

    field: CurvatureField
    arrows: ArrowField


def iter_curvature_field(
    landscape: Landscape,
    xs: ArrayLike,
    ys: ArrayLike,
    rows_per_step: int | None = None,
) -> Generator[None, None, CurvatureField]:
    """Hessian eigenvalues on xs × ys, row block by row block.

    Yields after each block of ``rows_per_step`` rows (default: about
    CURVATURE_BLOCK_POINTS points, a few milliseconds), so a worker can stop
    between blocks; returns the :class:`CurvatureField`. ``curvature_steps``
    tells how many times it yields.
    """
    xs = np.asarray(xs, dtype=np.float64).ravel()
    ys = np.asarray(ys, dtype=np.float64).ravel()
    nx, ny = xs.size, ys.size
    step = curvature_rows_per_step(nx, rows_per_step)
    lo = np.full((ny, nx), np.nan)
    hi = np.full((ny, nx), np.nan)
    for j in range(0, ny, step):
        # errstate must not span a yield (the generator may be closed from another thread)
        with np.errstate(all="ignore"):
            X, Y = np.meshgrid(xs, ys[j : j + step])
            eig = hessian_eigenvalues(landscape.hess(np.stack([X, Y], axis=-1)))
            lo[j : j + step] = eig[..., 0]
            hi[j : j + step] = eig[..., 1]
        yield
    cond = condition_number(np.stack([lo, hi], axis=-1))
    return CurvatureField(xs, ys, lo, hi, cond)


def curvature_rows_per_step(nx: int, rows_per_step: int | None = None) -> int:
    return max(1, int(rows_per_step) if rows_per_step else CURVATURE_BLOCK_POINTS // max(nx, 1))


def curvature_steps(nx: int, ny: int, rows_per_step: int | None = None) -> int:
    """How many times :func:`iter_curvature_field` yields for an nx × ny grid."""
    step = curvature_rows_per_step(nx, rows_per_step)
    return -(-int(ny) // step)


def curvature_field(landscape: Landscape, xs: ArrayLike, ys: ArrayLike,
                    rows_per_step: int | None = None) -> CurvatureField:
    """:func:`iter_curvature_field` run to the end."""
    return run_to_end(iter_curvature_field(landscape, xs, ys, rows_per_step))


# -- gradient arrows -----------------------------------------------------------


@dataclass(frozen=True)
class ArrowField:
    """The descent direction on a regular grid of points.

    ``tails`` (N, 2) are the grid points (cell centres), ``directions`` (N, 2) unit
    vectors of −∇f, the way a gradient-descent step goes, and ``magnitude`` (N,)
    is |∇f| there. Points with a non-finite or zero gradient are left out.
    """

    tails: NDArray[np.float64]
    directions: NDArray[np.float64]
    magnitude: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.magnitude.size)


def gradient_arrows(
    landscape: Landscape,
    xrange: tuple[float, float],
    yrange: tuple[float, float],
    n: int = 24,
) -> ArrowField:
    """−∇f directions at the centres of an n × n grid of cells over xrange × yrange."""
    n = int(n)
    if n < 1:
        raise ValueError(f"the arrow grid needs at least 1 cell per side, got {n}")
    x0, x1 = float(xrange[0]), float(xrange[1])
    y0, y1 = float(yrange[0]), float(yrange[1])
    xs = x0 + (np.arange(n) + 0.5) * ((x1 - x0) / n)
    ys = y0 + (np.arange(n) + 0.5) * ((y1 - y0) / n)
    X, Y = np.meshgrid(xs, ys)
    P = np.stack([X.ravel(), Y.ravel()], axis=-1)
    with np.errstate(all="ignore"):
        g = landscape.grad(P)
        # normalise by the larger component first: no overflow, no underflow
        s = np.max(np.abs(g), axis=-1)
        keep = np.isfinite(s) & (s > 0)
        u = g[keep] / s[keep, None]
        norm = np.hypot(u[:, 0], u[:, 1])
        directions = -u / norm[:, None]
        magnitude = s[keep] * norm
    keep_idx = np.flatnonzero(keep)
    ok = np.isfinite(magnitude) & np.isfinite(directions).all(axis=-1)
    return ArrowField(P[keep_idx[ok]], directions[ok], magnitude[ok])


def arrow_lengths(magnitude: ArrayLike, cell: float) -> NDArray[np.float64]:
    """Shaft lengths in [ARROW_MIN, ARROW_MAX]·cell, growing with log10 |∇f|.

    log10|∇f| is mapped linearly from its 5th percentile (ARROW_MIN) to its 95th
    (ARROW_MAX) and clipped, so a few extreme points neither squash the rest nor
    overlap neighbours. The mapped range spans at least one decade: a field of
    nearly equal magnitudes gets nearly equal, long arrows rather than a stretched
    spread of tiny differences.
    """
    m = np.asarray(magnitude, dtype=np.float64)
    if m.size == 0:
        return np.zeros(0)
    with np.errstate(all="ignore"):
        lg = np.log10(m)
    ok = np.isfinite(lg)
    if not ok.any():
        return np.full(m.shape, ARROW_MAX * cell)
    lo, hi = np.percentile(lg[ok], [5.0, 95.0])
    span = max(hi - lo, 1.0)
    t = np.clip((np.where(ok, lg, hi) - (hi - span)) / span, 0.0, 1.0)
    return cell * (ARROW_MIN + (ARROW_MAX - ARROW_MIN) * t)


def arrow_segments(field: ArrowField, cell: float, head: float = 0.35,
                   centred: bool = True) -> NDArray[np.float64]:
    """Line segments drawing the arrows, as point pairs (6N, 2) for connect='pairs'.

    Per arrow three segments: the shaft, then the two strokes of the head, each
    ``head`` × the shaft length, at ±25° from the shaft. Shaft lengths follow
    :func:`arrow_lengths`. With ``centred`` (the default) each arrow's midpoint
    sits on its grid point, so an arrow never leaves its own cell (length ≤ 0.9
    cell); otherwise it starts at the grid point.
    """
    cell = float(cell)
    tails = np.asarray(field.tails, dtype=np.float64).reshape(-1, 2)
    d = np.asarray(field.directions, dtype=np.float64).reshape(-1, 2)
    L = arrow_lengths(field.magnitude, cell)[:, None]
    start = tails - 0.5 * L * d if centred else tails
    tip = start + L * d
    c, s = np.cos(ARROW_HEAD_ANGLE), np.sin(ARROW_HEAD_ANGLE)
    # the head strokes point back along the shaft, rotated by ±angle
    back = -d
    left = np.stack([c * back[:, 0] - s * back[:, 1], s * back[:, 0] + c * back[:, 1]], -1)
    right = np.stack([c * back[:, 0] + s * back[:, 1], -s * back[:, 0] + c * back[:, 1]], -1)
    h = float(head) * L
    out = np.stack([start, tip, tip, tip + h * left, tip, tip + h * right], axis=1)
    return out.reshape(-1, 2)
