"""AnalysisController: keeps critical points, curvature and basins computed and drawn.

It watches the scene, asks its three runners for whatever is out of date
(debounced, latest request wins), stores results in ``scene.analysis`` and
draws them on both views: critical-point markers with a legend, the gradient
arrows, the curvature heatmap, the surface coloured by curvature, and the
basin map with each basin's share of the domain. Results for the previous
settings stay drawn until the new ones land, except after a switch of
function, when they go at once (the scene clears them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer

# The analysis jobs and their core modules (~60 ms of imports) load on first use,
# after the first frame: start-up is measured (benchmarks row 5).
from lossviewer.scene.analysis import ARROWS_PER_SIDE, CURVATURE_RESOLUTION, HEATMAP_TITLES
from lossviewer.scene.scene import Scene
from lossviewer.ui import theme
from lossviewer.ui.job_runner import JobRunner
from lossviewer.ui.views.contour_view import ContourView
from lossviewer.ui.views.surface_view import SurfaceView

ANALYSIS_DEBOUNCE_MS = 150
#: basins cost up to a few seconds: wait a little longer for a slider to settle
BASINS_DEBOUNCE_MS = 250
KINDS = ("critical", "curvature", "basins")
#: basins named in the dock's table and on the map before the rest are summed up
BASIN_LEGEND_ROWS = 12
BASIN_MAP_LEGEND_ROWS = 6


def coord_text(v: float, size: float, digits: int = 3) -> str:
    """A coordinate for a legend: a few significant digits, rounding noise shown as 0."""
    return f"{0.0 if abs(v) < 1e-9 * size else v:.{digits}g}"


def percent(share: float) -> str:
    """A share as a percentage; a few starts out of many are "<0.1%", not "0.0%"."""
    return "<0.1%" if 0 < share < 0.0005 else f"{100 * share:.1f}%"


@dataclass(frozen=True)
class SignedLogScale:
    """Signed curvature mapped by asinh(v / s): the sign structure (ridges, valleys,
    saddles) stays visible next to the steep walls that would wash out a linear scale.

    ``s`` is the median |v| (a typical curvature); the levels cover 99% of |t|.
    """

    s: float
    limit: float

    @classmethod
    def fit(cls, values: np.ndarray) -> SignedLogScale:
        finite = np.abs(values[np.isfinite(values)])
        positive = finite[finite > 0]
        s = float(np.median(positive)) if positive.size else 1.0
        t = np.arcsinh(finite / s)
        limit = float(np.percentile(t, 99.0)) if t.size else 1.0
        return cls(s, limit if limit > 0 else 1.0)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.arcsinh(np.asarray(values, dtype=np.float64) / self.s)

    @property
    def levels(self) -> tuple[float, float]:
        return (-self.limit, self.limit)

    def ticks(self) -> list[tuple[float, str]]:
        """Colour-bar ticks at round curvature values: 0, ±1·10^k, ±2·10^k, ±5·10^k ..."""
        top = self.s * np.sinh(self.limit)
        if not np.isfinite(top) or top <= 0:
            return [(0.0, "0")]
        k_hi = int(np.floor(np.log10(top)))
        cands = [m * 10.0**k for k in range(k_hi - 6, k_hi + 1) for m in (1, 2, 5)]
        cands = [v for v in cands if v <= top]
        # keep ticks at least a tenth of the bar apart
        out: list[float] = []
        for v in sorted(cands, reverse=True):
            t = float(np.arcsinh(v / self.s))
            if t >= 0.12 * self.limit and all(abs(t - np.arcsinh(u / self.s)) >= 0.1
                                                * self.limit for u in out):
                out.append(v)
        ticks = [(0.0, "0")]
        for v in out:
            t = float(np.arcsinh(v / self.s))
            ticks += [(t, f"{v:g}"), (-t, f"{-v:g}")]
        return ticks


def robust_levels(values: np.ndarray, q: float = 98.0) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return (0.0, 1.0)
    lo, hi = float(np.percentile(finite, 100 - q)), float(np.percentile(finite, q))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def condition_ticks(levels: tuple[float, float]) -> list[tuple[float, str]]:
    """log10(condition) positions labelled with the condition number itself."""
    lo, hi = levels
    return [(float(k), f"{10.0**k:g}") for k in range(int(np.ceil(lo)), int(np.floor(hi)) + 1)]


def nearest_indices(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Index into the evenly spaced ``src`` nearest to each of ``dst``."""
    n = len(src)
    t = (np.asarray(dst, float) - src[0]) / (src[-1] - src[0]) * (n - 1)
    return np.clip(np.rint(t), 0, n - 1).astype(int)


def basin_colors(n: int) -> list[str]:
    return [theme.BASIN_COLORS[k % len(theme.BASIN_COLORS)] for k in range(n)]


def basin_image(labels: np.ndarray, n_attractors: int) -> np.ndarray:
    """Labels (ny, nx) as an RGBA uint8 image: a colour per basin, dark = diverged."""
    from lossviewer.core.basins import DIVERGED, NOT_CONVERGED

    palette = [theme.rgba(c) for c in basin_colors(n_attractors)]
    lut = np.array([*palette, theme.rgba(theme.BASIN_DIVERGED_COLOR),
                    theme.rgba(theme.BASIN_NOT_CONVERGED_COLOR)], dtype=np.float64)
    idx = np.where(labels == DIVERGED, n_attractors,
                   np.where(labels == NOT_CONVERGED, n_attractors + 1, labels))
    return np.ascontiguousarray((lut[idx] * 255).round().astype(np.uint8))


def _keyed(job: Callable[[Any], Generator], key: Any, request: Any) -> Generator:
    """Run ``job`` and return (key, result): a result says what it was computed for."""
    result = yield from job(request)
    return key, result


class AnalysisController(QObject):
    """Keeps each analysis (critical points, curvature, basins) computed for the scene.

    Each kind has a key: the values its result depends on (Scene.critical_key,
    Scene.basins_key). A job carries the key it was asked for; its result is stored
    only if that key is still the wanted one, and a running job whose key went out
    of date is cancelled. A job that failed is not retried for the same key (F5
    does), so the window does not wait for it forever.
    """

    def __init__(self, scene: Scene, surface_view: SurfaceView, contour_view: ContourView,
                 attach_runner: Callable[[JobRunner], None], parent: QObject | None = None,
                 busy_elsewhere: Callable[[], bool] = lambda: False) -> None:
        """``busy_elsewhere``: True while work the user is waiting for (the surface)
        runs; analysis waits for it instead of competing for the two cores."""
        super().__init__(parent)
        self._busy_elsewhere = busy_elsewhere
        self.scene = scene
        self.surface_view = surface_view
        self.contour_view = contour_view
        self.critical_runner = JobRunner("critical", self)
        self.curvature_runner = JobRunner("curvature", self)
        self.basin_runner = JobRunner("basins", self)
        self.runners = (self.critical_runner, self.curvature_runner, self.basin_runner)
        self._runner = dict(zip(KINDS, self.runners, strict=True))
        #: kind -> the key its running job computes; kind -> the key whose job failed
        self._inflight: dict[str, Any] = {}
        self._failed: dict[str, Any] = {}
        for kind, r in self._runner.items():
            attach_runner(r)
            r.finished.connect(lambda value, k=kind: self._on_finished(k, value))
            r.failed.connect(lambda _msg, k=kind: self._on_failed(k))

        self._timer = QTimer(self, singleShot=True, interval=ANALYSIS_DEBOUNCE_MS)
        self._timer.timeout.connect(self.request)
        self._basin_timer = QTimer(self, singleShot=True, interval=BASINS_DEBOUNCE_MS)
        self._basin_timer.timeout.connect(self.request_basins)

        a = scene.analysis
        scene.landscape_changed.connect(lambda _s: self._schedule())
        scene.run_changed.connect(lambda _r: self._schedule_basins())
        scene.selection_changed.connect(lambda _r: self._schedule_basins())
        scene.runs_changed.connect(self._schedule_basins)
        scene.surface_changed.connect(lambda _d: self.redraw())
        scene.view_changed.connect(lambda _s: self.redraw())
        a.settings_changed.connect(self._on_settings_changed)
        a.critical_changed.connect(self.draw_markers)
        a.curvature_changed.connect(self.draw_curvature)
        a.basins_changed.connect(self.draw_basins)

    # -- what is wanted, what is stored ---------------------------------------------------
    def wanted(self) -> dict[str, Any]:
        """The key each kind should be computed for now (None: not shown, not needed)."""
        sc, a = self.scene, self.scene.analysis
        key = sc.critical_key()
        # a landscape whose gradients are too slow for Newton from many seeds says so
        searched = getattr(sc.landscape, "critical_seeds", 40) > 0
        return {"critical": key if searched else None,
                "curvature": key if a.wants_curvature else None,
                "basins": sc.basins_key() if a.settings.basins else None}

    def _stored(self, kind: str) -> Any:
        a = self.scene.analysis
        return {"critical": a.critical_key, "curvature": a.curvature_key,
                "basins": a.basins_key}[kind]

    def _needs(self, kind: str, key: Any) -> bool:
        return (key is not None and key != self._stored(kind) and key != self._failed.get(kind)
                and key != self._inflight.get(kind))

    def _on_finished(self, kind: str, value: tuple[Any, Any]) -> None:
        key, result = value
        if self._inflight.get(kind) == key:
            del self._inflight[kind]
        if key != self.wanted()[kind]:
            return  # computed for settings that changed since: dropped
        a = self.scene.analysis
        {"critical": a.set_critical, "curvature": a.set_curvature,
         "basins": a.set_basins}[kind](result, key)

    def _on_failed(self, kind: str) -> None:
        self._failed[kind] = self._inflight.pop(kind, None)

    def _cancel_stale(self) -> None:
        wanted = self.wanted()
        for kind, key in list(self._inflight.items()):
            if key != wanted[kind]:
                self._runner[kind].cancel()
                del self._inflight[kind]

    def _submit(self, kind: str, key: Any, job: Callable, request: Any) -> None:
        self._inflight[kind] = key
        self._runner[kind].submit(functools.partial(_keyed, job, key), request)

    def _schedule(self) -> None:
        self._cancel_stale()
        self._timer.start()
        self._schedule_basins()

    def _schedule_basins(self) -> None:
        self._cancel_stale()
        if self.scene.analysis.settings.basins:
            self._basin_timer.start()
        else:
            self.draw_basins()  # e.g. the last run was removed

    def _on_settings_changed(self, _settings) -> None:
        self._cancel_stale()
        self._timer.start()
        self._schedule_basins()
        self.redraw()

    @property
    def up_to_date(self) -> bool:
        """Every wanted result is stored (or its job failed) and nothing runs."""
        return (all(key is None or key in (self._stored(kind), self._failed.get(kind))
                    for kind, key in self.wanted().items())
                and not any(r.busy for r in self.runners))

    # -- requests ---------------------------------------------------------------------------
    def request(self) -> None:
        """Ask for critical points and (when shown) curvature if they are out of date."""
        if self._busy_elsewhere():
            self._timer.start()  # after the surface
            return
        from lossviewer.compute.analysis_jobs import (
            CriticalRequest,
            CurvatureRequest,
            critical_job,
            curvature_job,
        )

        wanted = self.wanted()
        s = self.scene.landscape_settings
        spec = s.spec()
        if self._needs("critical", wanted["critical"]):
            self._submit("critical", wanted["critical"], critical_job,
                         CriticalRequest.create(spec, s.xrange, s.yrange,
                                                seeds=getattr(self.scene.landscape,
                                                              "critical_seeds", 40)))
        if self._needs("curvature", wanted["curvature"]):
            self._submit("curvature", wanted["curvature"], curvature_job,
                         CurvatureRequest.create(spec, s.xrange, s.yrange,
                                                 CURVATURE_RESOLUTION if not spec.is_network
                                                 else min(s.resolution, 64),
                                                 ARROWS_PER_SIDE))
        self._schedule_basins()

    def request_basins(self) -> None:
        if self._busy_elsewhere():
            self._basin_timer.start()
            return
        key = self.wanted()["basins"]
        if not self._needs("basins", key):
            return
        from lossviewer.compute.basin_job import BasinRequest, basin_job

        sc, a = self.scene, self.scene.analysis
        run = sc.runs[sc.selected]
        s = sc.landscape_settings
        minima = ()
        if a.critical is not None and a.critical_key == sc.critical_key():
            minima = tuple((p.x, p.y) for p in a.critical if p.kind == "minimum")
        req = BasinRequest.create(
            s.spec(), run.optimizer, run.hyper, s.xrange, s.yrange, a.settings.basin_grid,
            a.settings.basin_steps, schedule=run.schedule, schedule_params=run.schedule_params,
            noise=run.noise, seed=run.seed, minima=minima)
        self._submit("basins", key, basin_job, req)

    def recompute(self) -> None:
        """After a cancel or failure: ask again for whatever is out of date."""
        self._failed.clear()
        self.request()
        self.request_basins()

    def stop_timers(self) -> None:
        self._timer.stop()
        self._basin_timer.stop()

    def cancel(self) -> None:
        for r in self.runners:
            if r.busy:
                r.cancel()
        # what was cancelled counts as failed until F5: the window does not wait for it
        for kind, key in self._inflight.items():
            self._failed[kind] = key
        self._inflight.clear()

    # -- drawing ----------------------------------------------------------------------
    def redraw(self) -> None:
        self.draw_markers()
        self.draw_curvature()
        self.draw_basins()

    def _display(self):
        data = self.scene.surface
        return None if data is None else data.scales[self.scene.landscape_settings.zscale]

    def draw_markers(self) -> None:
        scaled = self._display()
        if scaled is None:
            return
        a = self.scene.analysis
        disp = scaled.display
        if a.settings.show_critical and a.critical is not None:
            pts = [(p.x, p.y, p.value, "global" if p.is_global else p.kind) for p in a.critical]
        else:  # the function's known minima (literature values)
            pts = [(m.x, m.y, m.value, "global" if m.kind == "global" else "minimum")
                   for m in self.scene.landscape.minima()]
        if pts:
            z = disp.transform(np.array([p[2] for p in pts], dtype=float))
            pts = [(x, y, float(zz), kind) for (x, y, _v, kind), zz in zip(pts, z, strict=True)]
        self.surface_view.set_markers(pts)
        self.contour_view.set_markers(pts)

    def draw_curvature(self) -> None:
        a = self.scene.analysis
        s = a.settings
        res = a.curvature
        if res is None:
            self.contour_view.set_arrows(None)
            self.contour_view.set_heatmap(None)
            self.surface_view.set_vertex_values(None)
            return
        from lossviewer.core.curvature import arrow_segments

        field = res.field
        if s.arrows:
            xs, ys = field.xs, field.ys
            cell = min(xs[-1] - xs[0], ys[-1] - ys[0]) / ARROWS_PER_SIDE
            self.contour_view.set_arrows(arrow_segments(res.arrows, cell))
        else:
            self.contour_view.set_arrows(None)
        scale = SignedLogScale.fit(field.min_eig)
        if s.heatmap == "min_eig":
            self.contour_view.set_heatmap(scale(field.min_eig), field.xs, field.ys, scale.levels,
                                          theme.CURVATURE_COLORMAP, "λmin of the Hessian",
                                          scale.ticks())
        elif s.heatmap == "condition":
            values = field.layer("log_condition")
            levels = robust_levels(values)
            self.contour_view.set_heatmap(values, field.xs, field.ys, levels,
                                          theme.CONDITION_COLORMAP, HEATMAP_TITLES["condition"],
                                          condition_ticks(levels))
        else:
            self.contour_view.set_heatmap(None)
        scaled = self._display()
        if s.surface_coloring == "curvature" and scaled is not None:
            iy = nearest_indices(field.ys, scaled.mesh_ys)
            ix = nearest_indices(field.xs, scaled.mesh_xs)
            values = scale(field.min_eig[np.ix_(iy, ix)])
            self.surface_view.set_vertex_values(values, scale.levels, theme.CURVATURE_COLORMAP)
        else:
            self.surface_view.set_vertex_values(None)

    def basin_legend(self, compact: bool = False) -> list[tuple[str, str]]:
        """(colour, text) rows: each basin's share and minimum, then diverged / not
        converged; ``compact`` (the map's legend) names fewer basins, more briefly."""
        bm = self.scene.analysis.basins
        if bm is None:
            return []
        k = len(bm.attractors)
        colors = basin_colors(k)
        most = BASIN_MAP_LEGEND_ROWS if compact else BASIN_LEGEND_ROWS
        order = list(np.argsort(-np.asarray(bm.shares), kind="stable")[:most]) if k else []
        (x0, x1), (y0, y1) = (bm.xs[0], bm.xs[-1]), (bm.ys[0], bm.ys[-1])
        size = max(x1 - x0, y1 - y0)
        rows = []
        for i in order:
            (x, y), f = bm.attractors[i], bm.attractor_values[i]
            where = f"({coord_text(x, size)}, {coord_text(y, size)})"
            text = (f"{percent(bm.shares[i])}  {where}" if compact
                    else f"{percent(bm.shares[i])}  → {where}, f = {f:.4g}")
            rows.append((colors[i], text))
        if k > len(order):
            rest = float(np.sum(bm.shares) - np.sum(np.asarray(bm.shares)[order]))
            rows.append(("#444444", f"{percent(rest)}  {k - len(order)} other basins"))
        if bm.diverged_share > 0:
            rows.append((theme.BASIN_DIVERGED_COLOR, f"{percent(bm.diverged_share)}  diverged"))
        if bm.not_converged_share > 0:
            rows.append((theme.BASIN_NOT_CONVERGED_COLOR,
                         f"{percent(bm.not_converged_share)}  not converged"))
        return rows

    def draw_basins(self) -> None:
        a = self.scene.analysis
        bm = a.basins
        if not a.settings.basins or bm is None or self.scene.basins_key() is None:
            self.contour_view.set_basins(None)
            return
        self.contour_view.set_basins(basin_image(bm.labels, len(bm.attractors)), bm.xs, bm.ys,
                                     a.settings.basin_opacity, self.basin_legend(compact=True))
