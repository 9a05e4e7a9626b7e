"""Paths and surfaces of the scene as CSV / NPZ, read back with independent readers."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from lossviewer.core.functions import make_landscape
from lossviewer.core.grid import Surface
from lossviewer.core.trajectory import simulate
from lossviewer.io.scene_export import save_paths, save_surface_as
from lossviewer.io.surface_npz import load_surface


def _runs():
    f = make_landscape("rosenbrock")
    a = simulate(f, "adam", {"lr": 0.05}, np.array([[-1.0, 2.0]]), steps=40)
    b = simulate(f, "sgd", {"lr": 1e-3}, np.array([[0.5, 0.5]]), steps=25)
    return [({"name": 'Adam, "fast"', "optimizer": "adam", "hyper": {"lr": 0.05,
                                                                      "betas": (0.9, 0.999)}},
             a),
            ({"name": "SGD", "optimizer": "sgd", "hyper": {"lr": 1e-3}}, b)]


def test_paths_csv_is_one_long_table_that_reads_back_exactly(tmp_path):
    runs = _runs()
    p = tmp_path / "paths.csv"
    save_paths(p, runs)
    with open(p, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == sum(int(t.stop[0]) + 1 for _, t in runs)
    first = [r for r in rows if r["run"] == "0"]
    traj = runs[0][1]
    assert first[0]["name"] == 'Adam, "fast"' and first[0]["optimizer"] == "adam"
    np.testing.assert_array_equal([float(r["x"]) for r in first], traj.points[0, :len(first), 0])
    np.testing.assert_array_equal([float(r["loss"]) for r in first], traj.loss[0, :len(first)])
    assert float(first[3]["lr"]) == traj.lr[3] and first[-1]["lr"] == ""


def test_paths_npz_holds_arrays_and_settings(tmp_path):
    runs = _runs()
    p = tmp_path / "paths.npz"
    save_paths(p, runs)
    with np.load(p, allow_pickle=False) as d:
        pts, lr = d["run1_points"], d["run1_lr"]
        meta = json.loads(str(d["meta"]))
    t = runs[1][1]
    np.testing.assert_array_equal(pts, t.points[0, : int(t.stop[0]) + 1])
    assert lr.shape == (int(t.stop[0]),)
    assert meta["runs"][0]["hyper"]["betas"] == [0.9, 0.999]
    assert meta["runs"][1]["status"] == t.status[0]


def test_surface_as_npz_and_csv(tmp_path):
    xs, ys = np.linspace(-1, 1, 4), np.linspace(0, 2, 3)
    Z = np.add.outer(ys, xs**2)
    Z[1, 2] = np.nan
    s = Surface(xs, ys, Z, {"function": "demo"})
    save_surface_as(tmp_path / "s.npz", s)
    back = load_surface(tmp_path / "s.npz")
    np.testing.assert_array_equal(back.Z, Z)
    save_surface_as(tmp_path / "s.csv", s)
    table = np.genfromtxt(tmp_path / "s.csv", delimiter=",", names=True)
    np.testing.assert_array_equal(table["z"], Z.ravel())
    np.testing.assert_array_equal(table["x"][:4], xs)


def test_bad_requests_are_refused(tmp_path):
    with pytest.raises(ValueError, match="use .csv or .npz"):
        save_paths(tmp_path / "p.xlsx", _runs())
    with pytest.raises(ValueError, match="no computed paths"):
        save_paths(tmp_path / "p.csv", [])
    with pytest.raises(OSError):
        save_paths(tmp_path / "missing" / "p.csv", _runs())
