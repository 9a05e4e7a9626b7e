"""Surfaces: a landscape sampled on a regular grid, and how to show it."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lossviewer.core.contours import iter_isolines
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
        """(min, max) over the finite values; (0, 1) when there are none.

        Computed once (0.2 s at 4096²) and kept: the worker asks first, so the
        GUI thread never pays for it.
        """
        return self._finite_range

    @cached_property
    def _finite_range(self) -> tuple[float, float]:
        lo, hi = _finite_range(self.Z)
        return (0.0, 1.0) if not np.isfinite(lo) else (lo, hi)


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


#: rows of the grid mapped per step of iter_display_values (a few ms each)
DISPLAY_ROWS_PER_STEP_POINTS = 1 << 18


def iter_display_values(Z: NDArray, zscale: str, floor: float | None = None,
                        zrange: tuple[float, float] | None = None
                        ) -> Generator[None, None, DisplayZ]:
    """Map a loss grid for drawing; the renderer never sees NaN or inf.

    Log scale shows log10(Z − offset) where the offset puts the lowest value
    (``floor``: the known global minimum if given, else the grid minimum) a
    little below zero decades, so functions with negative minima still work.
    Linear scale clips a far-out tail (a few wild corners) at a high quantile.
    Works block by block and yields between blocks, so a 4096² grid never holds
    a worker for long; ``zrange`` is the finite (min, max) when already known.
    """
    Z = np.asarray(Z, dtype=np.float64)
    zmin, zmax = zrange if zrange is not None else _finite_range(Z)
    if not (np.isfinite(zmin) and np.isfinite(zmax)):
        return DisplayZ(np.zeros_like(Z), zscale, 0.0, 0.0, 1.0, Z.size)
    yield
    if zscale == "log":
        base = min(zmin, floor) if floor is not None and np.isfinite(floor) else zmin
        span = max(zmax - base, 1e-300)
        # the lowest point sits LOG_DECADES below the top, or 1e-6 of the span below
        # the floor, whichever is higher, so the minimum is a visible pit and not -inf
        eps = max(span * 1e-6, span * 10.0 ** (-LOG_DECADES))
        offset = base - eps
        lo, hi = float(np.log10(eps)), float(np.log10(zmax - offset))
    else:
        offset, lo, hi = 0.0, zmin, zmax
        if Z.size > 64:
            flat = Z.ravel()
            # a strided sample is plenty to place a display clip, and keeps 4096² fast
            sample = flat[:: max(1, flat.size // 1_000_000)]
            sample = sample[np.isfinite(sample)]
            if sample.size == 0:  # the stride missed the few finite values
                sample = flat[np.isfinite(flat)]
            q = float(np.quantile(sample, CLIP_QUANTILE)) if sample.size else zmax
            # clip only when the tail is far above the bulk (a few wild corners)
            if zmax - zmin > 0 and (zmax - q) > 4 * (q - zmin):
                hi = q
        yield
    if hi <= lo:
        hi = lo + 1.0
    D = np.empty_like(Z)
    clipped = 0
    rows = max(1, DISPLAY_ROWS_PER_STEP_POINTS // max(1, Z.shape[-1])) if Z.ndim == 2 else len(Z)
    for j in range(0, len(Z), rows):
        block = Z[j : j + rows]
        finite = np.isfinite(block)
        clipped += int(block.size - np.count_nonzero(finite))
        with np.errstate(all="ignore"):
            if zscale == "log":
                d = np.log10(np.where(finite, block, zmax) - offset)
            else:
                d = np.where(finite, block, hi)
                clipped += int(np.count_nonzero(d > hi))
        np.clip(d, lo, hi, out=D[j : j + rows])
        yield
    return DisplayZ(D, zscale, offset, lo, hi, clipped)


def display_values(Z: NDArray, zscale: str, floor: float | None = None) -> DisplayZ:
    """:func:`iter_display_values` in one call."""
    return run_to_end(iter_display_values(Z, zscale, floor))


def _finite_range(Z: NDArray) -> tuple[float, float]:
    finite = Z[np.isfinite(Z)]
    if finite.size == 0:
        return (np.nan, np.nan)
    return float(finite.min()), float(finite.max())


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
    """One z-scale's view of a surface: display values, mesh, image and isolines."""

    display: DisplayZ
    mesh_xs: NDArray[np.float64]
    mesh_ys: NDArray[np.float64]
    mesh_Z: NDArray[np.float64]  # display units, decimated to MESH_MAX_SIDE
    image: NDArray[np.float64]  # display units, decimated to IMAGE_MAX_SIDE, same domain
    levels: NDArray[np.float64]  # display units
    lines: NDArray[np.float64]  # (N, 2) isolines from the full grid, one NaN-separated polyline


@dataclass(frozen=True)
class SurfaceDisplay:
    """A surface with both z-scales prepared, so switching scale is instant."""

    surface: Surface
    scales: dict[str, ScaledSurface]


#: the contour map's colour image is decimated to at most this many pixels per side
#: (a screen shows fewer; colouring 4096² on the GUI thread costs ~200 ms)
IMAGE_MAX_SIDE = 1024


def decimated_indices(n: int, max_side: int) -> NDArray[np.intp]:
    """At most ``max_side`` nearly even indices into range(n), first and last included."""
    if n <= max_side:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_side).round().astype(np.intp))


def iter_prepare_surface(surface: Surface, floor: float | None = None,
                         levels: int = CONTOUR_LEVELS) -> Generator[None, None, SurfaceDisplay]:
    """Display values, decimated mesh and image, and isolines for linear and log scale.

    Yields between steps of a few to a few tens of milliseconds (at 4096²), so a
    worker can be cancelled mid-way; returns the :class:`SurfaceDisplay`.
    """
    zrange = surface.finite_range()  # cached on the surface, off the GUI thread
    yield
    ny, nx = surface.Z.shape
    mx, my = decimated_indices(nx, MESH_MAX_SIDE), decimated_indices(ny, MESH_MAX_SIDE)
    ix, iy = decimated_indices(nx, IMAGE_MAX_SIDE), decimated_indices(ny, IMAGE_MAX_SIDE)
    scales = {}
    for zscale in ("linear", "log"):
        disp = yield from iter_display_values(surface.Z, zscale, floor, zrange)
        lv = log_levels(disp.lo, disp.hi, levels)
        lines = yield from iter_isolines(surface.xs, surface.ys, disp.Z, lv)
        scales[zscale] = ScaledSurface(disp, surface.xs[mx], surface.ys[my],
                                       disp.Z[np.ix_(my, mx)], disp.Z[np.ix_(iy, ix)], lv, lines)
    return SurfaceDisplay(surface, scales)


def prepare_surface(surface: Surface, floor: float | None = None,
                    levels: int = CONTOUR_LEVELS) -> SurfaceDisplay:
    """Everything the views need, in one call (see :func:`iter_prepare_surface`)."""
    return run_to_end(iter_prepare_surface(surface, floor, levels))


def clip_path(xy: NDArray, values: NDArray, xrange: tuple[float, float],
              yrange: tuple[float, float]) -> tuple[NDArray, NDArray]:
    """A path up to where it first leaves the rectangle, ending on its edge.

    ``values`` (one per point, e.g. the loss) are cut the same way; the edge
    point takes the value of the last point inside. A diverging run would
    otherwise be drawn far outside the domain.
    """
    xy = np.asarray(xy, dtype=np.float64)
    values = np.asarray(values)
    if len(xy) == 0:
        return xy, values
    (x0, x1), (y0, y1) = xrange, yrange
    with np.errstate(invalid="ignore"):
        inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    if inside.all():
        return xy, values
    k = int(np.argmin(inside))
    if k == 0:
        return xy[:0], values[:0]
    a, b = xy[k - 1], xy[k]
    d = b - a
    ts = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for lo, hi, p0, dp in ((x0, x1, a[0], d[0]), (y0, y1, a[1], d[1])):
            if dp > 0:
                ts.append((hi - p0) / dp)
            elif dp < 0:
                ts.append((lo - p0) / dp)
    t = float(np.clip(np.nan_to_num(min(ts) if ts else 0.0, nan=0.0), 0.0, 1.0))
    edge = a + t * np.nan_to_num(d)
    return np.vstack([xy[:k], edge]), np.append(values[:k], values[k - 1])
