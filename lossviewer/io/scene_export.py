"""The scene's numbers for other tools: every run's path, and the surface shown.

Paths: ``.csv`` is one long table (run, name, optimizer, step, x, y, loss, lr; the
``lr`` of a row is the learning rate of the update that leaves it, empty on the
last row, as in io.tables) and ``.npz`` holds per run ``run<i>_points`` (n, 2),
``run<i>_loss``, ``run<i>_lr`` and a JSON ``meta`` (names, optimizers,
hyperparameters, schedules, status). Surfaces: ``.npz`` (io.surface_npz) or
``.csv`` (x, y, z, one row per grid point, x fastest). Floats round-trip exactly
(%.17g / float64); NaN and inf are written as nan / inf. Writes are atomic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lossviewer.core.grid import Surface
from lossviewer.io.surface_npz import StrPath, atomic_open, save_surface
from lossviewer.io.tables import jsonable

PATH_FORMATS = {".csv": "CSV table (one row per step)", ".npz": "NumPy arrays (.npz)"}
SURFACE_FORMATS = {".npz": "NumPy arrays (.npz)", ".csv": "CSV grid (x, y, z)"}
PATH_COLUMNS = ("run", "name", "optimizer", "step", "x", "y", "loss", "lr")


def _ext(path: StrPath, known: Mapping[str, str], what: str) -> str:
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in known:
        raise ValueError(f"cannot write {what} as {ext or '(no extension)'}; use "
                         f"{' or '.join(known)}")
    return ext


def save_paths(path: StrPath, runs: Sequence[tuple[Mapping[str, Any], Any]]) -> None:
    """Write ``runs`` — (settings, trajectory) pairs; settings hold name, optimizer, hyper,
    schedule, schedule_params, noise, seed, start — as CSV or NPZ by extension."""
    ext = _ext(path, PATH_FORMATS, "paths")
    if not runs:
        raise ValueError("there are no computed paths to export")
    tables = []
    for settings, traj in runs:
        n = int(traj.stop[0]) + 1
        pts = np.asarray(traj.points[0, :n, :2], np.float64)
        loss = np.asarray(traj.loss[0, :n], np.float64)
        lr = np.full(n, np.nan)
        k = min(n - 1, len(traj.lr))
        lr[:k] = np.asarray(traj.lr[:k], np.float64)
        tables.append((settings, pts, loss, lr, str(traj.status[0])))
    if ext == ".csv":
        with atomic_open(path, "w", encoding="utf-8") as fh:
            fh.write(",".join(PATH_COLUMNS) + "\n")
            for i, (settings, pts, loss, lr, _status) in enumerate(tables):
                name = _csv_text(str(settings.get("name", "")))
                opt = _csv_text(str(settings.get("optimizer", "")))
                for step in range(len(loss)):
                    last = step == len(loss) - 1
                    fh.write(f"{i},{name},{opt},{step},{_g(pts[step, 0])},{_g(pts[step, 1])},"
                             f"{_g(loss[step])},{'' if last else _g(lr[step])}\n")
        return
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for i, (settings, pts, loss, lr, status) in enumerate(tables):
        arrays[f"run{i}_points"] = pts
        arrays[f"run{i}_loss"] = loss
        arrays[f"run{i}_lr"] = lr[:-1]
        meta.append({**jsonable(dict(settings)), "status": status})
    arrays["meta"] = np.array(json.dumps({"format": "lossviewer-paths", "version": 1,
                                          "runs": meta}, allow_nan=False))
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)


def save_surface_as(path: StrPath, surface: Surface) -> None:
    """The surface's grid as .npz (io.surface_npz) or .csv (x, y, z), by extension."""
    ext = _ext(path, SURFACE_FORMATS, "a surface")
    if ext == ".npz":
        save_surface(path, surface)
        return
    X, Y = np.meshgrid(np.asarray(surface.xs, float), np.asarray(surface.ys, float))
    table = np.column_stack([X.ravel(), Y.ravel(), np.asarray(surface.Z, float).ravel()])
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write("x,y,z\n")
        np.savetxt(fh, table, fmt="%.17g", delimiter=",", newline="\n")


def _g(v: float) -> str:
    return f"{v:.17g}"


def _csv_text(s: str) -> str:
    """A CSV field: quoted when it holds a comma, a quote or a line break."""
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s
