#!/usr/bin/env python
"""LossViewer benchmarks: every row times our code against an alternative in the same run.

    python benchmarks/run.py [--quick] [--json PATH]

Prints a table (row, ours, alternative, ratio or figure, target, met?) and writes
JSON (default ``benchmarks/results.json``). Without a DISPLAY it re-executes itself
under ``xvfb-run``. The machine this runs on is usually shared and noisy, so every
row measures both sides in the same process, one right after the other, and the
ratio between them is the number to trust more than either absolute time.

Rows
  1a/1b  3D surface update + one rendered frame: SurfaceView.set_surface vs
         pyqtgraph's GLSurfacePlotItem (shaded, smooth, per-vertex Python normals)
  2      one orbit step + frame at 256²: SurfaceView vs matplotlib plot_surface (Agg)
  3      6 optimizer paths × 1000 steps after a hyperparameter change: simulate vs
         a per-step value()/grad() loop with a textbook numpy optimizer
  4      longest GUI-thread stall while a 1024² surface and 6 paths recompute vs the
         surface computed synchronously on the GUI thread
  5      cold start to the first rendered 3D frame vs ``import PySide6.QtWidgets``
  6      basin map, 256² starts × 500 steps of Adam on Himmelblau: basins() vs
         simulate() from each start one at a time (timed on 200 starts, extrapolated)
  7      value_and_grad on 1024² points: Rosenbrock typed as a formula (exact sympy
         derivatives, lambdified) vs the built-in hand-written Rosenbrock
  8a-11  network landscapes (see benchmarks/network_rows.py): batched slice evaluation
         vs the per-point loop (numpy; torch when installed), time to the first
         preview and the full 101² picture, peak memory of a 401² grid, and a
         user's torch CNN through vmap vs per point
  12     the digits MLP's 101² landscape on a local Dask cluster of 2 worker processes
         vs the single-process evaluator (see benchmarks/cluster_rows.py); cluster
         start-up and a one-worker cluster reported beside it

``--quick`` shrinks grids and repeats so the whole run takes well under a minute;
its numbers only show that every row works.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as _dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import cluster_rows  # noqa: E402 - next to this file
import network_rows  # noqa: E402 - next to this file

DEFAULT_JSON = ROOT / "benchmarks" / "results.json"
XVFB_SERVER_ARGS = "-screen 0 1600x1000x24 +extension GLX"
#: set in the re-executed process so a failing xvfb-run cannot loop
_REEXEC_ENV = "LOSSVIEWER_BENCH_UNDER_XVFB"
#: pixel size of the 3D views (and of the matplotlib figure) in rows 1 and 2
VIEW_SIZE = (800, 600)
WINDOW_SIZE = (1400, 850)

#: stable row ids and titles (tests/test_benchmarks.py checks these)
ROW_TITLES = {
    "1a": "3D surface update+render",
    "1b": "3D surface update+render",
    "2": "Interactive 3D frame (orbit)",
    "3": "Recompute 6 paths x 1000 steps",
    "4": "UI stall while recomputing",
    "4b": "GUI-thread stall from the computation alone",
    "5": "Cold start to first 3D frame",
    "6": "Basin map 256² × 500 steps (Adam, Himmelblau)",
    "7": "Formula vs built-in (1024² value+grad)",
}
ROW_TITLES.update(network_rows.TITLES)
ROW_TITLES.update(cluster_rows.TITLES)
#: rows that only run where an optional extra is installed (8c, 11: torch; 12: cluster)
OPTIONAL_ROWS = ("8c", "11", "12")


@dataclass
class Row:
    id: str
    name: str
    ours: float  # ms
    alternative: float  # ms
    ratio: float  # alternative / ours (or ours / floor for row 5)
    ratio_meaning: str
    target: str
    target_on: str  # "ratio" or "ours"
    target_value: float
    met: bool
    unit: str = "ms"
    details: dict[str, Any] = field(default_factory=dict)


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def _ms(seconds: float) -> float:
    return seconds * 1000.0


# -- display ---------------------------------------------------------------------------


def ensure_display(argv: list[str]) -> None:
    """Re-execute under xvfb-run when there is no X display (GL needs one)."""
    if os.environ.get("DISPLAY"):
        return
    if os.environ.get(_REEXEC_ENV):
        sys.exit("benchmarks/run.py: xvfb-run started but DISPLAY is still unset")
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        sys.exit("benchmarks/run.py: no DISPLAY and no xvfb-run; install xvfb or run under X")
    os.environ[_REEXEC_ENV] = "1"
    cmd = [xvfb, "-a", "-s", XVFB_SERVER_ARGS, sys.executable, str(Path(__file__).resolve()),
           *argv]
    os.execv(xvfb, cmd)


def _isolated_settings_env() -> str:
    """Point QSettings at a throw-away directory (benchmarks never touch user settings)."""
    home = tempfile.mkdtemp(prefix="lossviewer-bench-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CACHE_HOME", "cache")):
        os.environ[var] = os.path.join(home, sub)
    os.environ.pop("XDG_SESSION_TYPE", None)
    os.environ.setdefault("PYOPENGL_PLATFORM", "glx")
    return home


def _process_events(app, seconds: float = 0.05) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


# -- shared inputs -----------------------------------------------------------------------


def _surface_display(n: int, b: float = 100.0):
    from lossviewer.core.functions import make_landscape
    from lossviewer.core.grid import prepare_surface, sample_surface

    land = make_landscape("rosenbrock", b=b)
    (x0, x1), (y0, y1) = land.default_domain
    best = land.global_minimum()
    return prepare_surface(sample_surface(land, (x0, x1), (y0, y1), n),
                           best.value if best is not None else None)


def _camera(view) -> None:
    """The SurfaceView's default camera, for a plain GLViewWidget."""
    import pyqtgraph as pg

    from lossviewer.ui.views.surface_view import Z_HEIGHT

    view.setCameraPosition(pos=pg.Vector(0, 0, Z_HEIGHT * 0.35), distance=33,
                           elevation=30, azimuth=-62)


def _pyqtgraph_inputs(data, zscale: str = "log"):
    """Full-grid x, y, z (in the same normalised box as SurfaceView) and per-vertex colours."""
    from lossviewer.ui import theme
    from lossviewer.ui.views.surface_view import HALF, Z_HEIGHT

    s = data.scales[zscale]
    xs, ys = data.surface.xs, data.surface.ys
    disp = s.display
    x = ((xs - xs[0]) / (xs[-1] - xs[0]) * 2 * HALF - HALF).astype(np.float32)
    y = ((ys - ys[0]) / (ys[-1] - ys[0]) * 2 * HALF - HALF).astype(np.float32)
    zt = disp.Z.T  # GLSurfacePlotItem wants z[ix, iy]
    z = ((zt - disp.lo) / (disp.hi - disp.lo) * Z_HEIGHT).astype(np.float32)
    lut = theme.colormap_lut("viridis")
    idx = np.clip(((zt.ravel() - disp.lo) / (disp.hi - disp.lo) * (len(lut) - 1)).astype(int),
                  0, len(lut) - 1)
    return x, y, z, lut[idx]


def _gl_renderer(view) -> str:
    from OpenGL import GL

    view.makeCurrent()
    try:
        raw = GL.glGetString(GL.GL_RENDERER)
        return raw.decode() if isinstance(raw, bytes) else str(raw)
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"
    finally:
        view.doneCurrent()


# -- row 1: surface update + render ------------------------------------------------------


def _frame_only(view, reps: int = 3) -> float:
    """Median seconds of grabFramebuffer() with nothing changed (the render floor)."""
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        view.grabFramebuffer()
        ts.append(time.perf_counter() - t0)
    return _median(ts)


def bench_surface_update(app, row_id: str, n: int, reps_ours: int, reps_alt: int,
                         meta: dict) -> Row:
    import pyqtgraph.opengl as gl

    from lossviewer.ui import theme
    from lossviewer.ui.views.surface_view import SurfaceView

    # two surfaces, alternated, so every update really changes the data
    datas = [_surface_display(n, 100.0), _surface_display(n, 120.0)]
    mesh_side = datas[0].scales["log"].mesh_Z.shape

    view = SurfaceView()
    view.resize(*VIEW_SIZE)
    view.show()
    _process_events(app)
    meta.setdefault("gl_renderer", _gl_renderer(view))
    view.set_surface(datas[0], "log", "viridis")  # warm-up: shaders, buffers, face cache
    view.grabFramebuffer()
    ours = []
    for i in range(reps_ours):
        d = datas[(i + 1) % 2]
        t0 = time.perf_counter()
        view.set_surface(d, "log", "viridis")
        view.grabFramebuffer()
        ours.append(time.perf_counter() - t0)
    ours_frame = _frame_only(view)
    view.close()
    view.deleteLater()
    _process_events(app, 0.02)

    pview = gl.GLViewWidget()
    pview.setBackgroundColor(theme.BACKGROUND)
    pview.resize(*VIEW_SIZE)
    _camera(pview)
    pview.show()
    _process_events(app)
    x, y, z, colors = _pyqtgraph_inputs(datas[0])
    item = gl.GLSurfacePlotItem(x=x, y=y, z=z, colors=colors, shader="shaded", smooth=True)
    pview.addItem(item)
    # warm-up: shaders and pyqtgraph's vertex→faces table (kept while the shape stays)
    t0 = time.perf_counter()
    pview.grabFramebuffer()
    alt_first = time.perf_counter() - t0
    alt = []
    for i in range(reps_alt):
        d = datas[(i + 1) % 2]
        t0 = time.perf_counter()
        x, y, z, colors = _pyqtgraph_inputs(d)
        item.setData(x=x, y=y, z=z, colors=colors)
        pview.grabFramebuffer()
        alt.append(time.perf_counter() - t0)
    alt_frame = _frame_only(pview)
    pview.close()
    pview.deleteLater()
    _process_events(app, 0.02)

    o, a = _ms(_median(ours)), _ms(_median(alt))
    ratio = a / o
    mesh = f"{mesh_side[0]}²" if mesh_side[0] == mesh_side[1] else f"{mesh_side}"
    name = f"{ROW_TITLES[row_id]}, Rosenbrock log {n}²"
    if mesh_side[0] != n:
        name += f" (ours meshes {mesh})"
    return Row(row_id, name, o, a, ratio, "speed-up: alternative / ours", "≥ 10×", "ratio",
               10.0, ratio >= 10.0, details={
                   "grid": n, "ours_mesh_vertices": int(np.prod(mesh_side)),
                   "alternative_mesh_vertices": n * n, "ours_runs_ms": [_ms(t) for t in ours],
                   "alternative_runs_ms": [_ms(t) for t in alt],
                   "alternative_first_frame_ms": _ms(alt_first),
                   # a frame with nothing changed: the render cost both sides pay
                   "ours_frame_only_ms": _ms(ours_frame),
                   "alternative_frame_only_ms": _ms(alt_frame),
                   "view_px": list(VIEW_SIZE), "frame": "grabFramebuffer()",
                   "alternative": "GLSurfacePlotItem(shader='shaded', smooth=True).setData "
                                  "on the full grid"})


# -- row 2: orbit frame ----------------------------------------------------------------


def bench_orbit(app, n: int, frames: int, reps_alt: int) -> Row:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lossviewer.ui.views.surface_view import SurfaceView

    data = _surface_display(n)
    view = SurfaceView()
    view.resize(*VIEW_SIZE)
    view.show()
    _process_events(app)
    view.set_surface(data, "log", "viridis")
    view.grabFramebuffer()
    view.grabFramebuffer()
    ours = []
    for _ in range(frames):
        t0 = time.perf_counter()
        view.orbit(2, 0)
        view.grabFramebuffer()
        ours.append(time.perf_counter() - t0)
    view.close()
    view.deleteLater()
    _process_events(app, 0.02)

    s = data.scales["log"]
    X, Y = np.meshgrid(data.surface.xs, data.surface.ys)
    dpi = 100
    fig = plt.figure(figsize=(VIEW_SIZE[0] / dpi, VIEW_SIZE[1] / dpi), dpi=dpi)
    ax = fig.add_subplot(projection="3d")
    ax.plot_surface(X, Y, s.display.Z, cmap="viridis", rstride=1, cstride=1, linewidth=0,
                    antialiased=False)
    azim, elev = -62.0, 30.0
    ax.view_init(elev=elev, azim=azim)
    fig.canvas.draw()  # warm-up
    alt = []
    for _ in range(reps_alt):
        azim += 2
        t0 = time.perf_counter()
        ax.view_init(elev=elev, azim=azim)
        fig.canvas.draw()
        alt.append(time.perf_counter() - t0)
    width, height = fig.canvas.get_width_height()
    plt.close(fig)

    o, a = _ms(_median(ours)), _ms(_median(alt))
    ratio = a / o
    return Row("2", f"{ROW_TITLES['2']}, {n}²", o, a, ratio, "speed-up: alternative / ours",
               "≥ 10×", "ratio", 10.0, ratio >= 10.0, details={
                   "grid": n, "ours_frames": frames, "alternative_frames": reps_alt,
                   "ours_p90_ms": _ms(float(np.percentile(ours, 90))),
                   "alternative_runs_ms": [_ms(t) for t in alt],
                   "view_px": list(VIEW_SIZE), "matplotlib_px": [width, height],
                   "alternative": "matplotlib plot_surface(rstride=1, cstride=1) on Agg, "
                                  "view_init(azim+=2) + canvas.draw()"})


# -- row 3: optimizer paths ------------------------------------------------------------

#: (optimizer, hyperparameters) of the six racing runs
PATH_RUNS = (
    ("sgd", {"lr": 1e-3}),
    ("sgd", {"lr": 2e-4, "momentum": 0.9}),
    ("rmsprop", {"lr": 1e-2}),
    ("adam", {"lr": 5e-2}),
    ("adagrad", {"lr": 0.5}),
    ("nadam", {"lr": 5e-2}),
)
PATH_STEPS = 1000
#: steps over which the naive paths must match ours to rounding
CHECK_STEPS = 50


def _naive_path(land, optimizer: str, hyper: dict, start, steps: int):
    """What a user script would write: value()+grad() per step, a numpy optimizer."""
    p = np.array(start, dtype=np.float64)
    lr = hyper["lr"]
    m = np.zeros(2)
    v = np.zeros(2)
    mu_product = 1.0
    points, losses = [p.copy()], []
    for t in range(1, steps + 1):
        loss = land.value(p)
        g = land.grad(p)
        losses.append(float(loss))
        if optimizer == "sgd":
            mom = hyper.get("momentum", 0.0)
            if mom:
                m = g.copy() if t == 1 else mom * m + g
                p = p - lr * m
            else:
                p = p - lr * g
        elif optimizer == "rmsprop":
            v = 0.99 * v + 0.01 * g * g
            p = p - lr * g / (np.sqrt(v) + 1e-8)
        elif optimizer == "adam":
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            mhat = m / (1 - 0.9**t)
            vhat = v / (1 - 0.999**t)
            p = p - lr * mhat / (np.sqrt(vhat) + 1e-8)
        elif optimizer == "adagrad":
            v = v + g * g
            p = p - lr * g / (np.sqrt(v) + 1e-10)
        elif optimizer == "nadam":
            mu = 0.9 * (1 - 0.5 * 0.96 ** (t * 4e-3))
            mu_next = 0.9 * (1 - 0.5 * 0.96 ** ((t + 1) * 4e-3))
            mu_product *= mu
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            denom = np.sqrt(v / (1 - 0.999**t)) + 1e-8
            p = p - lr * (1 - mu) / (1 - mu_product) * g / denom
            p = p - lr * mu_next / (1 - mu_product * mu_next) * m / denom
        else:
            raise ValueError(optimizer)
        points.append(p.copy())
    losses.append(float(land.value(p)))
    return np.array(points), np.array(losses)


def bench_paths(reps_ours: int, reps_alt: int) -> Row:
    from lossviewer.core.functions import make_landscape
    from lossviewer.core.trajectory import simulate

    land = make_landscape("rosenbrock")
    start = np.array([land.default_start])

    def ours_once(scale: float) -> tuple[list, list[float]]:
        trajs, ts = [], []
        for opt, h in PATH_RUNS:
            t0 = time.perf_counter()
            trajs.append(simulate(land, opt, {**h, "lr": h["lr"] * scale}, start, PATH_STEPS))
            ts.append(time.perf_counter() - t0)
        return trajs, ts

    ours_once(1.0)  # warm-up (imports, first-call checks)
    ours, per_opt = [], []
    for k in range(reps_ours):
        # "a hyperparameter changed": a slightly different lr every time
        _, ts = ours_once(1.0 + 0.001 * (k + 1))
        ours.append(sum(ts))
        per_opt.append(ts)
    trajs, _ = ours_once(1.0)

    alt = []
    naive = []
    for _ in range(reps_alt):
        t0 = time.perf_counter()
        naive = [_naive_path(land, opt, h, land.default_start, PATH_STEPS) for opt, h in PATH_RUNS]
        alt.append(time.perf_counter() - t0)
    # both sides must do the same work: the paths agree to rounding over the first
    # steps (later, rounding differences grow on this chaotic valley, e.g. RMSprop)
    dev = max(float(np.max(np.abs(tr.points[0, :CHECK_STEPS] - pts[:CHECK_STEPS])))
              for tr, (pts, _loss) in zip(trajs, naive, strict=True))

    o, a = _ms(_median(ours)), _ms(_median(alt))
    labels = [f"{opt} {h}" for opt, h in PATH_RUNS]
    return Row("3", f"{ROW_TITLES['3']} (Rosenbrock; target is ours in ms)", o, a, a / o,
               "speed-up: alternative / ours", "≤ 16 ms", "ours", 16.0, o <= 16.0, details={
                   "optimizers": labels,
                   "statuses": [t.status[0] for t in trajs],
                   "ours_per_optimizer_ms": {
                       lab: _ms(_median([ts[i] for ts in per_opt]))
                       for i, lab in enumerate(labels)},
                   "ours_runs_ms": [_ms(t) for t in ours],
                   "alternative_runs_ms": [_ms(t) for t in alt],
                   f"max_point_difference_first_{CHECK_STEPS}_steps": dev,
                   "alternative": "per step landscape.value(p) + landscape.grad(p) and a "
                                  "textbook numpy update"})


# -- row 4: UI stall ---------------------------------------------------------------------


def _longest_gap(app, trigger: Callable[[], None], done: Callable[[], bool],
                 tail_s: float = 0.25, timeout_s: float = 60.0) -> dict:
    """Run the event loop with a 5 ms heartbeat; fire trigger(); stop tail_s after done().

    Returns the longest gap between heartbeats from just before the trigger until
    the end (the tail catches the first repaint with the new data).
    """
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    beats: list[float] = []
    st: dict[str, Any] = {"t0": None, "done_at": None, "timed_out": False}
    loop = QEventLoop()

    def beat() -> None:
        now = time.perf_counter()
        beats.append(now)
        if st["t0"] is None:
            return
        if st["done_at"] is None:
            if done():
                st["done_at"] = now
            elif now - st["t0"] > timeout_s:
                st["timed_out"] = True
                loop.quit()
        elif now - st["done_at"] >= tail_s:
            loop.quit()

    def fire() -> None:
        st["t0"] = time.perf_counter()
        try:
            trigger()
        except BaseException as exc:  # noqa: BLE001 - re-raised after the loop
            st["error"] = exc
            loop.quit()

    hb = QTimer()
    hb.setTimerType(Qt.TimerType.PreciseTimer)
    hb.setInterval(5)
    hb.timeout.connect(beat)
    hb.start()
    QTimer.singleShot(100, fire)
    loop.exec()
    hb.stop()
    if st.get("error") is not None:
        raise RuntimeError(f"the trigger failed: {st['error']!r}") from st["error"]
    t0 = st["t0"]
    before = [b for b in beats if b < t0]
    after = [b for b in beats if b >= t0]
    series = ([before[-1]] if before else [t0]) + after
    gaps = np.diff(series)
    if os.environ.get("LV_BENCH_DEBUG"):
        for i in np.argsort(gaps)[-3:]:
            print(f"  gap {1000 * gaps[i]:.0f} ms from {1000 * (series[i] - t0):.0f} ms")
    return {
        "max_gap_ms": _ms(float(gaps.max())) if gaps.size else float("nan"),
        "p99_gap_ms": _ms(float(np.percentile(gaps, 99))) if gaps.size else float("nan"),
        "beats": len(after),
        "time_to_done_ms": _ms(st["done_at"] - t0) if st["done_at"] else float("nan"),
        "timed_out": st["timed_out"],
    }


def bench_stall(app, resolution: int) -> Row:
    from lossviewer.core.grid import prepare_surface, sample_surface
    from lossviewer.ui.job_runner import JobRunner
    from lossviewer.ui.main_window import MainWindow
    from lossviewer.ui.offscreen import wait_until_ready

    window = MainWindow(persist_layout=False)  # no settings, no "save changes?" on close
    window.scene.add_run("adagrad", name="Adagrad", hyper={"lr": 0.5}, steps=PATH_STEPS)
    window.scene.add_run("nadam", name="NAdam", hyper={"lr": 5e-2}, steps=PATH_STEPS)
    window.resize(*WINDOW_SIZE)
    window.show()
    if not wait_until_ready(app, window, 60):
        raise RuntimeError("the main window did not become ready")
    n_runs = len(window.scene.runs)
    window.scene.set_playback(frame=window.scene.max_steps, playing=False)
    _process_events(app, 0.3)

    # ours: one change that invalidates the surface (at 1024²) and every path
    ours = _longest_gap(
        app, lambda: window.scene.set_landscape(function="himmelblau", resolution=resolution),
        lambda: window.ready)
    if ours["timed_out"]:
        raise RuntimeError("the window did not become ready after the change")
    window.scene.set_playback(frame=window.scene.max_steps, playing=False)
    _process_events(app, 0.3)

    # alternative: the same surface sampled and prepared on the GUI thread, then drawn
    state = {"done": False}

    def blocking() -> None:
        sc = window.scene
        s = sc.landscape_settings
        best = sc.landscape.global_minimum()
        surf = sample_surface(sc.landscape, s.xrange, s.yrange, s.resolution)
        data = prepare_surface(surf, best.value if best is not None else None)
        sc.set_surface(data, sc.landscape_revision)
        state["done"] = True

    alt = _longest_gap(app, blocking, lambda: state["done"])
    if alt["timed_out"]:
        raise RuntimeError("the blocking recompute did not finish")
    window.close()
    JobRunner.shutdown(3000)
    window.deleteLater()
    _process_events(app, 0.05)

    o, a = ours["max_gap_ms"], alt["max_gap_ms"]
    return Row("4", f"{ROW_TITLES['4']} ({resolution}² surface + {n_runs} paths, "
               "5 ms heartbeat, longest gap)", o, a, a / o,
               "blocking gap / our gap", "≤ 50 ms", "ours", 50.0, o <= 50.0, details={
                   "resolution": resolution, "runs": n_runs,
                   "ours": ours, "alternative": alt,
                   "alternative_how": "sample_surface + prepare_surface in a timer callback "
                                      "on the GUI thread, then scene.set_surface",
                   "tail_after_ready_ms": 250})


def bench_compute_stall(app, resolution: int) -> Row:
    """Row 4b: the jobs of row 4 through JobRunner, with nothing drawn.

    Separates what the worker threads cost the GUI thread (GIL hand-offs and
    queued signals) from the price of drawing the results, which on a software
    GL renderer is dominated by recomposing the window.
    """
    from lossviewer.compute.jobs import (
        PathsRequest,
        RunRequest,
        SurfaceRequest,
        paths_job,
        surface_job,
    )
    from lossviewer.core.functions import make_landscape
    from lossviewer.core.grid import prepare_surface, sample_surface
    from lossviewer.core.landscape_spec import LandscapeSpec
    from lossviewer.ui.job_runner import JobRunner

    land = make_landscape("himmelblau")
    (x0, x1), (y0, y1) = land.default_domain
    sreq = SurfaceRequest.create("himmelblau", {}, (x0, x1), (y0, y1), resolution)
    runs = tuple(RunRequest(i, 0, opt, (("lr", lr),), land.default_start, PATH_STEPS)
                 for i, (opt, lr) in enumerate([("sgd", 1e-3), ("sgd", 2e-4), ("rmsprop", 1e-2),
                                                ("adam", 5e-2), ("adagrad", 0.5),
                                                ("nadam", 5e-2)]))
    preq = PathsRequest(LandscapeSpec.create("himmelblau"), runs)
    surf_runner, path_runner = JobRunner("bench-surface"), JobRunner("bench-paths")

    def trigger() -> None:
        surf_runner.submit(surface_job, sreq)
        path_runner.submit(paths_job, preq)

    ours = _longest_gap(app, trigger, lambda: not (surf_runner.busy or path_runner.busy),
                        tail_s=0.05)
    state = {"done": False}

    def blocking() -> None:
        prepare_surface(sample_surface(land, (x0, x1), (y0, y1), resolution))
        for r in runs:
            from lossviewer.core.trajectory import simulate

            simulate(land, r.optimizer, dict(r.hyper), np.array([r.start]), r.steps)
        state["done"] = True

    alt = _longest_gap(app, blocking, lambda: state["done"], tail_s=0.05)
    o, a = ours["max_gap_ms"], alt["max_gap_ms"]
    return Row("4b", f"{ROW_TITLES['4b']} ({resolution}² surface + 6 paths, nothing drawn)",
               o, a, a / o, "blocking gap / our gap", "≤ 50 ms", "ours", 50.0, o <= 50.0,
               details={"resolution": resolution, "ours": ours, "alternative": alt})


# -- row 5: cold start -------------------------------------------------------------------

_CHILD_APP = r"""
import time
t_start = time.time()
import os, sys
from lossviewer.app import create_application
app = create_application(["lossviewer-bench"])
from lossviewer.ui.main_window import MainWindow
from lossviewer.ui.offscreen import distinct_colors, image_to_array
from lossviewer.ui.views.surface_view import SurfaceView
t_imported = time.time()
painted = []
_paint = SurfaceView.paintGL
def paintGL(self):
    _paint(self)
    # the first frame drawn once the surface and every path are in the scene (the
    # critical-point analysis starts after the surface and lands a moment later)
    if not painted and w.scene_ready:
        painted.append(time.time())
SurfaceView.paintGL = paintGL
w = MainWindow(persist_layout=False)
w.resize(@SIZE@)
w.show()
t_shown = time.time()
deadline = time.perf_counter() + 60
while not painted and time.perf_counter() < deadline:
    app.processEvents()
    time.sleep(0.001)
t_ready = time.time()
t_frame = painted[0] if painted else time.time()
img = w.surface_view.grabFramebuffer()  # checks that the frame has content
colors = distinct_colors(image_to_array(img))
phases = ",".join(repr(t) for t in (t_imported, t_shown, t_ready))
print("BENCH", repr(t_start), repr(t_frame), int(w.scene_ready), colors, phases, flush=True)
os._exit(0)
""".replace("@SIZE@", f"{WINDOW_SIZE[0]}, {WINDOW_SIZE[1]}")

_CHILD_FLOOR = r"""
import time
t_start = time.time()
import PySide6.QtWidgets
t_frame = time.time()
print("BENCH", repr(t_start), repr(t_frame), 1, 0, "", flush=True)
"""


def _launch(code: str, env: dict[str, str]) -> dict:
    t_launch = time.time()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, cwd=str(ROOT))
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"child failed (rc {proc.returncode}): {proc.stderr[-2000:]}")
    _, t_start, t_frame, ready, colors, *rest = line.split()
    out = {"total_s": float(t_frame) - t_launch, "interpreter_s": float(t_start) - t_launch,
           "ready": bool(int(ready)), "colors": int(colors)}
    if rest:  # the app child: when imports finished, the window showed, the scene was ready
        for key, t in zip(("imported_s", "shown_s", "ready_s"), rest[0].split(","), strict=True):
            out[key] = float(t) - t_launch
    return out


def bench_cold_start(reps: int) -> Row:
    env = dict(os.environ)
    home = tempfile.mkdtemp(prefix="lossviewer-bench-child-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    env["XDG_CONFIG_HOME"] = os.path.join(home, "config")
    ours, floor = [], []
    for _ in range(reps):
        ours.append(_launch(_CHILD_APP, env))
        floor.append(_launch(_CHILD_FLOOR, env))
    if not all(r["ready"] and r["colors"] > 50 for r in ours):
        raise RuntimeError(f"the child did not paint a surface: {ours}")
    o = _ms(_median([r["total_s"] for r in ours]))
    f = _ms(_median([r["total_s"] for r in floor]))
    return Row("5", f"{ROW_TITLES['5']} (alternative: import PySide6.QtWidgets = floor)",
               o, f, o / f, "ours / floor", "≤ 1.5 s", "ours", 1500.0, o <= 1500.0, details={
                   "runs": reps, "ours_runs_ms": [_ms(r["total_s"]) for r in ours],
                   "floor_runs_ms": [_ms(r["total_s"]) for r in floor],
                   "interpreter_start_ms": _ms(_median([r["interpreter_s"] for r in ours])),
                   # medians from launch: imports done, window built+shown, scene ready
                   **{f"{k[:-2]}_at_ms": _ms(_median([r[k] for r in ours]))
                      for k in ("imported_s", "shown_s", "ready_s")},
                   "frame_colors": [r["colors"] for r in ours],
                   "measured": "parent time.time() at launch → the end of the first 3D "
                               "paintGL after window.ready (surface and all paths computed); "
                               "a grabFramebuffer afterwards checks the frame's colours"})


# -- row 6: basin map ------------------------------------------------------------------

#: starts the alternative (one simulate() per start) is timed on, then extrapolated
BASIN_ALT_STARTS = 200


def bench_basins(quick: bool) -> Row:
    from lossviewer.core.basins import MAX_WORKERS, _cpus, basins
    from lossviewer.core.functions import make_landscape
    from lossviewer.core.trajectory import STATUSES, simulate

    land = make_landscape("himmelblau")
    n, steps, reps = (64, 100, 2) if quick else (256, 500, 5)
    hyper = {"lr": 0.05}
    box = ((-5.0, 5.0), (-5.0, 5.0))
    basins(land, "adam", hyper, *box, 16, 20)  # warm-up (imports, first calls)
    ours, bm = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        bm = basins(land, "adam", hyper, *box, n, steps)
        ours.append(time.perf_counter() - t0)

    # the alternative: what a user without basins() writes, one simulate() per start
    idx = np.linspace(0, n * n - 1, BASIN_ALT_STARTS).round().astype(int)
    iy, ix = np.divmod(idx, n)
    t0 = time.perf_counter()
    trajs = [simulate(land, "adam", hyper, [(bm.xs[i], bm.ys[j])], steps)
             for i, j in zip(ix, iy, strict=True)]
    alt_sub = time.perf_counter() - t0
    alt = alt_sub * (n * n) / len(idx)
    same_status = all(STATUSES[bm.status[j, i]] == t.status[0]
                      for i, j, t in zip(ix, iy, trajs, strict=True))
    dev = max(float(np.max(np.abs(bm.ends[j, i] - t.final_points[0])))
              for i, j, t in zip(ix, iy, trajs, strict=True) if t.status[0] != "diverged")

    o, a = _ms(_median(ours)), _ms(alt)
    name = ROW_TITLES["6"] + (f" (quick: {n}² × {steps} steps)" if quick else "")
    return Row("6", name, o, a, a / o, "speed-up: alternative / ours", "≤ 2 s", "ours",
               2000.0, o <= 2000.0, details={
                   "grid": n, "steps": steps, "optimizer": "adam", "hyper": hyper,
                   "ours_runs_ms": [_ms(t) for t in ours],
                   "alternative": f"simulate() from each start one at a time, timed on "
                                  f"{len(idx)} starts spread over the grid "
                                  f"({_ms(alt_sub):.0f} ms) and extrapolated to {n}² starts",
                   "same_status_on_timed_starts": same_status,
                   "max_end_point_difference_on_timed_starts": dev,
                   "shares": [float(s) for s in bm.shares],
                   "not_converged_share": bm.not_converged_share,
                   "diverged_share": bm.diverged_share,
                   "worker_threads": min(MAX_WORKERS, _cpus()), "cpus": os.cpu_count()})


# -- row 7: typed formula vs built-in ---------------------------------------------------

FORMULA_ROSENBROCK = "(a - x)^2 + b*(y - x^2)^2"


def bench_formula(quick: bool) -> Row:
    from lossviewer.core.formula import FormulaLandscape, compile_formula
    from lossviewer.core.functions import make_landscape

    n, reps = (256, 3) if quick else (1024, 9)
    builtin = make_landscape("rosenbrock")
    compile_formula.cache_clear()
    t0 = time.perf_counter()
    formula = FormulaLandscape(FORMULA_ROSENBROCK, "a=1, b=100", domain=builtin.domain)
    compile_s = time.perf_counter() - t0
    (x0, x1), (y0, y1) = builtin.domain
    X, Y = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    P = np.stack([X, Y], axis=-1).reshape(-1, 2)
    fv, fg = formula.value_and_grad(P)  # warm-up, and both sides must agree
    bv, bg = builtin.value_and_grad(P)
    dev_v = float(np.max(np.abs(fv - bv) / np.maximum(1.0, np.abs(bv))))
    dev_g = float(np.max(np.abs(fg - bg) / np.maximum(1.0, np.abs(bg))))
    ours, alt = [], []
    for _ in range(reps):  # interleaved, so drifting machine load hits both sides alike
        t0 = time.perf_counter()
        formula.value_and_grad(P)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        builtin.value_and_grad(P)
        alt.append(time.perf_counter() - t0)
    o, a = _ms(_median(ours)), _ms(_median(alt))
    ratio = o / a
    name = f"{ROW_TITLES['7']}, Rosenbrock" + (f" (quick: {n}²)" if quick else "")
    return Row("7", name, o, a, ratio, "slowdown: ours / alternative", "≤ 1.5× slower",
               "ratio", 1.5, ratio <= 1.5, details={
                   "grid": n, "points": n * n, "reps": reps, "formula": FORMULA_ROSENBROCK,
                   "params": {"a": 1.0, "b": 100.0},
                   "ours_runs_ms": [_ms(t) for t in ours],
                   "alternative_runs_ms": [_ms(t) for t in alt],
                   "compile_ms_first_in_process": _ms(compile_s),
                   "max_rel_dev_value": dev_v, "max_rel_dev_grad": dev_g})


# -- table and main ----------------------------------------------------------------------


def _fmt_ms(v: float, unit: str = "ms") -> str:
    if not math.isfinite(v):
        return "n/a"
    if unit == "MB":
        return f"{v:.0f} MB" if v >= 10 else f"{v:.1f} MB"
    if v >= 1000:
        return f"{v / 1000:.2f} s"
    if v >= 100:
        return f"{v:.0f} ms"
    if v >= 10:
        return f"{v:.1f} ms"
    return f"{v:.2f} ms"


def _fmt_ratio(row: Row) -> str:
    if not math.isfinite(row.ratio):
        return "n/a"
    return f"{row.ratio:.1f}×" if row.ratio >= 10 else f"{row.ratio:.2f}×"


def print_table(rows: list[Row], quick: bool) -> None:
    headers = ("row", "ours", "alternative", "ratio/figure", "target", "met?")
    body = []
    for r in rows:
        figure = _fmt_ratio(r) if r.target_on == "ratio" else _fmt_ms(r.ours, r.unit)
        ctx = "" if r.target_on == "ratio" else f" (ratio {_fmt_ratio(r)})"
        body.append((f"{r.id} {r.name}", _fmt_ms(r.ours, r.unit), _fmt_ms(r.alternative, r.unit),
                     figure + ctx, r.target, "yes" if r.met else "NO"))
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-" * len(line))
    for b in body:
        print("  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)))
    if quick:
        print("(--quick: smaller grids and fewer repeats; the numbers are not representative)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small grids, few repeats (< 1 min)")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    ap.add_argument("--rows", default="", help="comma-separated row ids to run (default: all)")
    args = ap.parse_args(argv)
    ensure_display(argv)
    _isolated_settings_env()

    sys.path.insert(0, str(ROOT))
    from lossviewer.app import create_application

    app = create_application(["lossviewer-bench"])
    import matplotlib
    import pyqtgraph
    import PySide6

    import lossviewer

    q = args.quick
    meta: dict[str, Any] = {
        "quick": q, "started": _dt.datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(), "platform": platform.platform(),
        "cpus": os.cpu_count(), "lossviewer": lossviewer.__version__,
        "pyside6": PySide6.__version__, "pyqtgraph": pyqtgraph.__version__,
        "matplotlib": matplotlib.__version__, "numpy": np.__version__,
        "qt_platform": app.platformName(),
    }
    plan: list[tuple[str, Callable[[], Row]]] = [
        ("1a", lambda: bench_surface_update(app, "1a", 128 if q else 256, 3 if q else 9,
                                            1 if q else 3, meta)),
        ("1b", lambda: bench_surface_update(app, "1b", 192 if q else 512, 3 if q else 7,
                                            1 if q else 2, meta)),
        ("2", lambda: bench_orbit(app, 128 if q else 256, 10 if q else 30, 1 if q else 4)),
        ("3", lambda: bench_paths(3 if q else 21, 1 if q else 3)),
        ("4", lambda: bench_stall(app, 512 if q else 1024)),
        ("4b", lambda: bench_compute_stall(app, 512 if q else 1024)),
        ("5", lambda: bench_cold_start(1 if q else 3)),
        ("6", lambda: bench_basins(q)),
        ("7", lambda: bench_formula(q)),
        ("8a", lambda: network_rows.bench_batched_wide(q, Row)),
        ("8b", lambda: network_rows.bench_batched_small(q, Row)),
        ("8c", lambda: network_rows.bench_torch_loop(q, Row)),
        ("9", lambda: network_rows.bench_first_preview(q, Row)),
        ("10", lambda: network_rows.bench_memory(q, Row)),
        ("11", lambda: network_rows.bench_torch_cnn(q, Row)),
        ("12", lambda: cluster_rows.bench_cluster(q, Row)),
    ]
    if args.rows:
        wanted = {r.strip() for r in args.rows.split(",")}
        plan = [(rid, fn) for rid, fn in plan if rid in wanted]
    rows: list[Row] = []
    failed = []
    for rid, fn in plan:
        print(f"[{time.strftime('%H:%M:%S')}] row {rid}: {ROW_TITLES[rid]} …", flush=True)
        t0 = time.perf_counter()
        try:
            row = fn()
        except Exception as exc:  # noqa: BLE001 - report the row as failed and go on
            traceback.print_exc()
            failed.append(rid)
            nan = float("nan")
            row = Row(rid, f"{ROW_TITLES[rid]} (FAILED: {exc})", nan, nan, nan, "", "", "ours",
                      nan, False)
        if row is None:  # an optional row whose extra is not installed
            print(f"    row {rid} skipped: its optional dependency is not installed")
            continue
        row.details["bench_wall_s"] = round(time.perf_counter() - t0, 2)
        rows.append(row)
    print()
    print_table(rows, q)
    missed = [r.id for r in rows if not r.met]
    print(f"targets missed: {', '.join(missed) if missed else 'none'}")

    out = {"meta": meta, "rows": [asdict(r) for r in rows]}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(f"results written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
