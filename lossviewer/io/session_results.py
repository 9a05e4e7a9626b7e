"""Computed results a session can carry (the ``results.npz`` member of a .lvs file):
every run's path, the critical points and the basin map, so a reopened session shows
them at once instead of computing them again (a basin map can take minutes).

Arrays are plain numpy (read with allow_pickle=False); the rest is one JSON string.
Everything is checked on reading: a damaged member raises ValueError and the session
opens without its results (they are then computed again).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from lossviewer.core.basins import BasinMap
from lossviewer.core.critical_points import CriticalPoint
from lossviewer.core.trajectory import STATUSES, Trajectory
from lossviewer.io.tables import jsonable

RESULTS_FORMAT = "lossviewer-session-results"
_TRAJ_ARRAYS = ("points", "loss", "grad_norm", "lr", "stop")
_BASIN_ARRAYS = ("xs", "ys", "labels", "ends", "end_values", "status", "stop", "attractors",
                 "attractor_values", "shares")


@dataclass(frozen=True)
class SessionResults:
    #: one entry per run, in the session's run order (None: not computed)
    trajectories: tuple[Trajectory | None, ...] = ()
    critical: tuple[CriticalPoint, ...] | None = None
    basins: BasinMap | None = None


def results_to_bytes(results: SessionResults) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"format": RESULTS_FORMAT, "version": 1, "runs": []}
    for i, traj in enumerate(results.trajectories):
        if traj is None:
            meta["runs"].append(None)
            continue
        for name in _TRAJ_ARRAYS:
            arrays[f"run{i}_{name}"] = np.asarray(getattr(traj, name))
        meta["runs"].append({"status": list(traj.status), "optimizer": traj.optimizer,
                             "hyper": jsonable(dict(traj.hyper))})
    if results.critical is not None:
        meta["critical"] = [jsonable({f.name: getattr(p, f.name) for f in fields(p)})
                            for p in results.critical]
    b = results.basins
    if b is not None:
        for name in _BASIN_ARRAYS:
            arrays[f"basins_{name}"] = np.asarray(getattr(b, name))
        meta["basins"] = jsonable({
            "attractor_kinds": list(b.attractor_kinds), "diverged_share": b.diverged_share,
            "not_converged_share": b.not_converged_share, "steps": b.steps, "tol": b.tol,
            "optimizer": b.optimizer, "hyper": dict(b.hyper), "schedule": b.schedule,
            "schedule_params": dict(b.schedule_params), "noise": b.noise, "seed": b.seed})
    arrays["meta"] = np.array(json.dumps(meta, allow_nan=False))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def results_from_bytes(data: bytes) -> SessionResults:
    """ValueError (one line) when the member is damaged."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays.pop("meta")))
        if not isinstance(meta, dict) or meta.get("format") != RESULTS_FORMAT:
            raise ValueError("not a results member")
        trajectories = []
        for i, run in enumerate(meta.get("runs") or []):
            if run is None:
                trajectories.append(None)
                continue
            t = {name: arrays[f"run{i}_{name}"] for name in _TRAJ_ARRAYS}
            status = tuple(str(s) for s in run["status"])
            if not set(status) <= set(STATUSES):
                raise ValueError(f"unknown path status in run {i}")
            traj = Trajectory(points=t["points"].astype(np.float64),
                              loss=t["loss"].astype(np.float64),
                              grad_norm=t["grad_norm"].astype(np.float64),
                              lr=t["lr"].astype(np.float64), status=status,
                              stop=t["stop"].astype(np.int64),
                              optimizer=str(run.get("optimizer", "")),
                              hyper=dict(run.get("hyper") or {}))
            _check_trajectory(traj, i)
            trajectories.append(traj)
        critical = None
        if meta.get("critical") is not None:
            critical = tuple(CriticalPoint(
                x=float(p["x"]), y=float(p["y"]), value=float(p["value"]),
                eigenvalues=(float(p["eigenvalues"][0]), float(p["eigenvalues"][1])),
                kind=str(p["kind"]), is_global=bool(p["is_global"]))
                for p in meta["critical"])
        basins = None
        if meta.get("basins") is not None:
            m = meta["basins"]
            a = {name: arrays[f"basins_{name}"] for name in _BASIN_ARRAYS}
            basins = BasinMap(
                xs=a["xs"].astype(np.float64), ys=a["ys"].astype(np.float64),
                labels=a["labels"].astype(np.int64), ends=a["ends"].astype(np.float64),
                end_values=a["end_values"].astype(np.float64),
                status=a["status"].astype(np.int8), stop=a["stop"].astype(np.int64),
                attractors=a["attractors"].astype(np.float64).reshape(-1, 2),
                attractor_values=a["attractor_values"].astype(np.float64),
                attractor_kinds=tuple(str(k) for k in m["attractor_kinds"]),
                shares=a["shares"].astype(np.float64),
                diverged_share=float(m["diverged_share"]),
                not_converged_share=float(m["not_converged_share"]), steps=int(m["steps"]),
                tol=float(m["tol"]), optimizer=str(m["optimizer"]), hyper=dict(m["hyper"]),
                schedule=str(m["schedule"]), schedule_params=dict(m["schedule_params"]),
                noise=float(m["noise"]), seed=int(m["seed"]))
            n = basins.xs.size
            if basins.labels.shape != (basins.ys.size, n) or basins.ends.shape[:2] != (
                    basins.ys.size, n):
                raise ValueError("basin map arrays do not match its grid")
    except (KeyError, TypeError, IndexError, AttributeError, ValueError, zipfile.BadZipFile,
            EOFError, OSError) as exc:  # numpy says "pickled data" for any junk: say what it is
        what = str(exc).splitlines()[0] if isinstance(exc, ValueError) and not isinstance(
            exc, json.JSONDecodeError) and "pickle" not in str(exc) else type(exc).__name__
        raise ValueError(f"damaged computed results ({what})") from None
    return SessionResults(tuple(trajectories), critical, basins)


def _check_trajectory(t: Trajectory, i: int) -> None:
    b, n, d = t.points.shape if t.points.ndim == 3 else (0, 0, 0)
    if (t.points.ndim != 3 or d != 2 or t.loss.shape != (b, n) or t.grad_norm.shape != (b, n)
            or t.stop.shape != (b,) or len(t.status) != b or t.lr.shape != (n - 1,)
            or not np.all((t.stop >= 0) & (t.stop < n))):
        raise ValueError(f"the path of run {i} has inconsistent arrays")
