"""Optimizer paths as tables: CSV and JSON, one record per step.

Both formats hold one path (one start point) of a simulated trajectory, from
step 0 (the start) up to its last valid point (``stop``). Each record is

    step, x, y, loss, lr

where ``lr`` is the learning rate of the update that *leaves* this point, so
that ``point[k+1]`` came from ``point[k]`` with ``lr[k]``. The last record has
no update after it, so its ``lr`` is empty in CSV and ``null`` in JSON. (That
is also true for paths that stopped early because they converged or diverged:
no further update was taken.)

Floats are written with ``repr`` so that reading them back gives exactly the
same float64. Non-finite values are written as ``inf``/``-inf``/``nan`` in CSV
(Python's ``float()`` reads them) and as ``null`` in JSON (strict JSON has no
NaN or infinity).
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Mapping
from typing import Any, Protocol, TextIO

import numpy as np
from numpy.typing import NDArray

from lossviewer.io.surface_npz import atomic_open

CSV_HEADER = ("step", "x", "y", "loss", "lr")
FORMATS = ("csv", "json")


class TrajectoryLike(Protocol):
    """What the writers need from ``lossviewer.core.trajectory.Trajectory``."""

    points: NDArray[np.float64]  # (B, steps+1, 2)
    loss: NDArray[np.float64]  # (B, steps+1)
    lr: NDArray[np.float64]  # (steps,)
    status: Any  # sequence of str, length B
    stop: NDArray[np.int_]  # (B,)


def _check_index(traj: TrajectoryLike, index: int) -> int:
    pts = np.asarray(traj.points)
    if pts.ndim != 3 or pts.shape[-1] != 2:
        raise ValueError(f"trajectory points must have shape (B, steps+1, 2), got {pts.shape}")
    n = pts.shape[0]
    if not -n <= index < n:
        raise IndexError(f"path index {index} out of range for {n} path(s)")
    return index % n


def trajectory_rows(traj: TrajectoryLike, index: int = 0) -> list[dict[str, Any]]:
    """The records of path ``index``: dicts with step, x, y, loss, lr (lr None at the end)."""
    b = _check_index(traj, index)
    pts = np.asarray(traj.points)[b]
    loss = np.asarray(traj.loss)[b]
    lr = np.asarray(traj.lr).reshape(-1)
    stop = int(np.asarray(traj.stop)[b])
    rows = []
    for k in range(stop + 1):
        rows.append(
            {
                "step": k,
                "x": float(pts[k, 0]),
                "y": float(pts[k, 1]),
                "loss": float(loss[k]),
                # the update leaving the last point was never taken
                "lr": float(lr[k]) if k < stop and k < lr.size else None,
            }
        )
    return rows


def _csv_float(v: float | None) -> str:
    # repr round-trips float64 exactly; the csv module's str() would too, but say so explicitly
    return "" if v is None else repr(float(v))


def write_csv(file: TextIO, traj: TrajectoryLike, index: int = 0) -> None:
    """Write path ``index`` as CSV (header ``step,x,y,loss,lr``) to an open text file."""
    file.write(",".join(CSV_HEADER) + "\n")
    for r in trajectory_rows(traj, index):
        file.write(
            f"{r['step']},{_csv_float(r['x'])},{_csv_float(r['y'])},"
            f"{_csv_float(r['loss'])},{_csv_float(r['lr'])}\n"
        )


def to_csv(traj: TrajectoryLike, index: int = 0) -> str:
    buf = io.StringIO()
    write_csv(buf, traj, index)
    return buf.getvalue()


def jsonable(v: Any) -> Any:
    """Plain JSON values: numpy → Python, tuples → lists, non-finite floats → None."""
    if isinstance(v, np.ndarray):
        return [jsonable(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, Mapping):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return str(v)


def to_json_obj(
    traj: TrajectoryLike,
    *,
    function: str,
    optimizer: str,
    hyperparameters: Mapping[str, Any],
    schedule: str = "constant",
    schedule_params: Mapping[str, Any] | None = None,
    function_params: Mapping[str, Any] | None = None,
    noise: float = 0.0,
    seed: int = 0,
    index: int = 0,
) -> dict[str, Any]:
    """The JSON document for path ``index`` as a dict (see the module docstring)."""
    b = _check_index(traj, index)
    status = list(traj.status)[b]
    doc = {
        "function": function,
        "function_params": dict(function_params or {}),
        "optimizer": optimizer,
        "hyperparameters": dict(hyperparameters),
        "schedule": {"name": schedule, "params": dict(schedule_params or {})},
        "noise": noise,
        "seed": seed,
        "status": str(status),
        "steps": trajectory_rows(traj, b),
    }
    return jsonable(doc)


def to_json(traj: TrajectoryLike, **kwargs: Any) -> str:
    """:func:`to_json_obj` as strict JSON text (no NaN), indented, ending in a newline."""
    return json.dumps(to_json_obj(traj, **kwargs), indent=2, allow_nan=False) + "\n"


def format_for_path(path: str | os.PathLike[str] | None, default: str = "csv") -> str:
    """``"json"`` for a ``.json`` name, ``"csv"`` for ``.csv``, else ``default``."""
    if path is not None:
        ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
        if ext in FORMATS:
            return ext
    return default


def save_trajectory(
    path: str | os.PathLike[str],
    traj: TrajectoryLike,
    fmt: str | None = None,
    **json_meta: Any,
) -> None:
    """Write path ``index`` (in ``json_meta``, default 0) atomically as CSV or JSON.

    ``fmt`` defaults to the extension of ``path`` (CSV when it is neither).
    ``json_meta`` are the keyword arguments of :func:`to_json_obj`; CSV uses
    only ``index``.
    """
    fmt = fmt or format_for_path(path)
    if fmt == "csv":
        text = to_csv(traj, json_meta.get("index", 0))
    elif fmt == "json":
        text = to_json(traj, **json_meta)
    else:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
