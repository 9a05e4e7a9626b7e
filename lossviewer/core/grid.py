"""Surfaces: a landscape sampled on a regular grid, and how to show it."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lossviewer.core.contours import isolines, join_polylines
from lossviewer.core.iteration import run_to_end
from lossviewer.core.landscape import Landscape

#: bytes of float64 work arrays per grid point while sampling (x, y, z and temporaries)
_BYTES_PER_POINT = 8 * 8
#: refuse grids whose working set would exceed this (about 2 GiB)
MAX_GRID_BYTES = 2 * 1024**3
MIN_RESOLUTION = 8


@dataclass(frozen=True)
class Surface:
    """Loss sampled on xs × ys; ``Z[j, i] = f(xs[i], ys[j])``."""

    xs: NDArray[np.float64]
    ys: NDArray[np.float64]
    Z: NDArray[np.float64]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.Z.shape  # type: ignore[return-value]

    def finite_range(self) -> tuple[float, float]:
        """(min, max) over the finite values; (0, 1) when there are none."""
        finite = self.Z[np.isfinite(self.Z)]
        if finite.size == 0:
            return (0.0, 1.0)
        return float(finite.min()), float(finite.max())


def estimate_grid_bytes(resolution: int) -> int:
    return int(resolution) ** 2 * _BYTES_PER_POINT


def check_resolution(resolution: int) -> int:
    """Validate a grid resolution; the message names the memory it would take."""
    try:
        n = int(resolution)
    except (TypeError, ValueError):
        raise ValueError(f"resolution must be a whole number, got {resolution!r}") from None
    if n != resolution and not (isinstance(resolution, float) and resolution.is_integer()):
        raise ValueError(f"resolution must be a whole number, got {resolution!r}")
    if n < MIN_RESOLUTION:
        raise ValueError(f"resolution must be at least {MIN_RESOLUTION}, got {n}")
    need = estimate_grid_bytes(n)
    if need > MAX_GRID_BYTES:
        raise ValueError(
            f"resolution {n} needs about {need / 1024**3:.1f} GiB "
            f"(limit {MAX_GRID_BYTES / 1024**3:.0f} GiB); use at most "
            f"{int(np.sqrt(MAX_GRID_BYTES / _BYTES_PER_POINT))}"
        )
    return n


def check_range(lo: float, hi: float, what: str = "range") -> tuple[float, float]:
    """Validate an axis range (finite, min < max)."""
    try:
        a, b = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be two numbers, got {lo!r}, {hi!r}") from None
    if not (np.isfinite(a) and np.isfinite(b)):
        raise ValueError(f"{what} must be finite, got {a:g}, {b:g}")
    if a >= b:
        raise ValueError(f"{what} needs min < max, got {a:g} ≥ {b:g}")
    return a, b


def iter_surface(
    landscape: Landscape,
    xrange: tuple[float, float],
    yrange: tuple[float, float],
    resolution: int,
    rows_per_chunk: int | None = None,
) -> Generator[tuple[int, int], None, Surface]:
    """Sample a landscape row block by row block.

    Yields (rows done, rows total) after each block so that a worker can report
    progress and stop between blocks; returns the finished :class:`Surface`.
    Blocks hold about 2**16 points: large enough that numpy dominates the cost,
    small enough that one block takes a few milliseconds.
    """
    n = check_resolution(resolution)
    x0, x1 = check_range(*xrange, what="x range")
    y0, y1 = check_range(*yrange, what="y range")
    xs = np.linspace(x0, x1, n)
    ys = np.linspace(y0, y1, n)
    Z = np.empty((n, n), dtype=np.float64)
    step = rows_per_chunk or max(1, (1 << 16) // n)
    for j in range(0, n, step):
        # errstate must not span a yield: the generator may be resumed or closed
        # from another thread, where numpy's context variable cannot be reset
        with np.errstate(all="ignore"):
            Z[j : j + step] = landscape.grid_values(xs, ys[j : j + step])
        yield min(j + step, n), n
    meta = {
        "landscape": landscape.name,
        "params": dict(landscape.params),
        "xrange": (x0, x1),
        "yrange": (y0, y1),
        "resolution": n,
    }
    return Surface(xs, ys, Z, meta)


def sample_surface(
    landscape: Landscape,
    xrange: tuple[float, float],
    yrange: tuple[float, float],
    resolution: int,
) -> Surface:
    """Sample a landscape on a grid in one call (see :func:`iter_surface`)."""
    return run_to_end(iter_surface(landscape, xrange, yrange, resolution))


# -- display --------------------------------------------------------------------

#: the display range of a log-scaled surface spans at most this many decades
LOG_DECADES = 12.0
#: clip linear surfaces at this quantile so one huge corner does not flatten the rest
CLIP_QUANTILE = 0.995


@dataclass(frozen=True)
class DisplayZ:
    """Surface values mapped for drawing: finite, clipped, and how they were mapped."""

    Z: NDArray[np.float64]
    zscale: str
    offset: float  # for log: Zd = log10(Z - offset)
    lo: float
    hi: float
    clipped: int  # number of values clipped (or non-finite) for display

    def transform(self, values: NDArray) -> NDArray[np.float64]:
        """Map loss values (e.g. along a path) the same way as the surface."""
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(all="ignore"):
            if self.zscale == "log":
                v = np.log10(np.maximum(v - self.offset, 10.0 ** (self.lo)))
            return np.clip(np.nan_to_num(v, nan=self.hi, posinf=self.hi, neginf=self.lo),
                           self.lo, self.hi)

    def inverse(self, d: NDArray | float) -> NDArray[np.float64]:
        """From display value back to loss."""
        d = np.asarray(d, dtype=np.float64)
        return 10.0**d + self.offset if self.zscale == "log" else d


def display_values(Z: NDArray, zscale: str, floor: float | None = None) -> DisplayZ:
    """Map a loss grid for drawing; the renderer never sees NaN or inf.

    Log scale shows log10(Z − offset) where the offset puts the lowest value
    (``floor``: the known global minimum if given, else the grid minimum) a
    little below zero decades, so functions with negative minima still work.
    """
    Z = np.asarray(Z, dtype=np.float64)
    finite = np.isfinite(Z)
    nonfinite = int(Z.size - np.count_nonzero(finite))
    if not finite.any():
        return DisplayZ(np.zeros_like(Z), zscale, 0.0, 0.0, 1.0, Z.size)
    zmin = float(Z[finite].min())
    zmax = float(Z[finite].max())
    if zscale == "log":
        base = min(zmin, floor) if floor is not None and np.isfinite(floor) else zmin
        span = max(zmax - base, 1e-300)
        # the lowest point sits LOG_DECADES below the top, or 1e-6 of the span below
        # the floor, whichever is higher, so the minimum is a visible pit and not -inf
        eps = max(span * 1e-6, span * 10.0 ** (-LOG_DECADES))
        offset = base - eps
        with np.errstate(all="ignore"):
            D = np.log10(np.where(finite, Z, zmax) - offset)
        lo, hi = float(np.log10(eps)), float(np.log10(zmax - offset))
        clipped = nonfinite
    else:
        offset = 0.0
        hi = zmax
        if Z.size > 64:
            vals = Z[finite]
            # a strided sample is plenty to place a display clip, and keeps 4096² fast
            q = float(np.quantile(vals[:: max(1, vals.size // 1_000_000)], CLIP_QUANTILE))
            # clip only when the tail is far above the bulk (a few wild corners)
            if zmax - zmin > 0 and (zmax - q) > 4 * (q - zmin):
                hi = q
        lo = zmin
        D = np.where(finite, Z, hi)
        clipped = nonfinite + int(np.count_nonzero(D > hi))
    if hi <= lo:
        hi = lo + 1.0
    D = np.clip(D, lo, hi)
    return DisplayZ(D, zscale, offset, lo, hi, clipped)


def log_levels(lo: float, hi: float, count: int) -> NDArray[np.float64]:
    """Evenly spaced levels in display units (which are decades for log scale)."""
    count = max(2, int(count))
    return np.linspace(lo, hi, count + 2)[1:-1]


# -- everything the views need, prepared off the GUI thread ---------------------

#: the 3D mesh is decimated to at most this many vertices per side: a software
#: renderer (Mesa llvmpipe) draws 256² in ~50 ms and 512² in ~65-200 ms, and on a
#: 500-1000 px view 256² already shows every fold; the contour map keeps the full grid
MESH_MAX_SIDE = 256
CONTOUR_LEVELS = 14


@dataclass(frozen=True)
class ScaledSurface:
    """One z-scale's view of a surface: display values, mesh grid and isolines."""

    display: DisplayZ
    mesh_xs: NDArray[np.float64]
    mesh_ys: NDArray[np.float64]
    mesh_Z: NDArray[np.float64]  # display units, decimated
    levels: NDArray[np.float64]  # display units
    lines: NDArray[np.float64]  # (N, 2) isolines as one NaN-separated polyline


@dataclass(frozen=True)
class SurfaceDisplay:
    """A surface with both z-scales prepared, so switching scale is instant."""

    surface: Surface
    scales: dict[str, ScaledSurface]


def decimation_step(n: int, max_side: int = MESH_MAX_SIDE) -> int:
    return max(1, -(-n // max_side))


def iter_prepare_surface(surface: Surface, floor: float | None = None,
                         levels: int = CONTOUR_LEVELS) -> Generator[None, None, SurfaceDisplay]:
    """Display values, decimated mesh and isolines for linear and log scale.

    Yields between the heavy steps (each is well under 100 ms at 1024²) so a
    worker can be cancelled mid-way; returns the :class:`SurfaceDisplay`.
    """
    scales = {}
    ny, nx = surface.Z.shape
    sx, sy = decimation_step(nx), decimation_step(ny)
    # keep the last row/column so the mesh covers the whole domain
    ix = np.unique(np.r_[np.arange(0, nx, sx), nx - 1])
    iy = np.unique(np.r_[np.arange(0, ny, sy), ny - 1])
    for zscale in ("linear", "log"):
        disp = display_values(surface.Z, zscale, floor)
        yield
        lv = log_levels(disp.lo, disp.hi, levels)
        parts = []
        for level in lv:
            parts.append(isolines(surface.xs, surface.ys, disp.Z, [level]))
            yield
        lines = join_polylines(parts)
        scales[zscale] = ScaledSurface(disp, surface.xs[ix], surface.ys[iy],
                                       disp.Z[np.ix_(iy, ix)], lv, lines)
    return SurfaceDisplay(surface, scales)


def prepare_surface(surface: Surface, floor: float | None = None,
                    levels: int = CONTOUR_LEVELS) -> SurfaceDisplay:
    """Everything the views need, in one call (see :func:`iter_prepare_surface`)."""
    return run_to_end(iter_prepare_surface(surface, floor, levels))
