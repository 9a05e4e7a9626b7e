"""CSV and JSON writers for optimizer paths."""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest

from lossviewer.io import tables


def fake_trajectory() -> SimpleNamespace:
    """Two paths of 4 steps: the first runs to the end, the second diverges after step 2."""
    steps = 4
    pts = np.full((2, steps + 1, 2), np.nan)
    pts[0] = [[0.1, 1 / 3], [0.2, 0.25], [np.pi, np.e], [1e-300, -1e300], [0.0, -0.0]]
    pts[1, :3] = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    loss = np.full((2, steps + 1), np.nan)
    loss[0] = [1.0, 0.5, 0.1 + 0.2, 2.0**-60, 0.0]
    loss[1, :3] = [1.0, 10.0, np.inf]
    return SimpleNamespace(
        points=pts,
        loss=loss,
        lr=np.array([0.1, 0.05, 1 / 3, 0.01]),
        status=("finished", "diverged"),
        stop=np.array([4, 2]),
    )


def test_csv_header_rows_and_exact_floats() -> None:
    traj = fake_trajectory()
    text = tables.to_csv(traj)
    lines = text.splitlines()
    assert lines[0] == "step,x,y,loss,lr"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["step"]) for r in rows] == [0, 1, 2, 3, 4]
    for k, r in enumerate(rows):
        assert float(r["x"]) == traj.points[0, k, 0]
        assert float(r["y"]) == traj.points[0, k, 1]
        assert float(r["loss"]) == traj.loss[0, k]
    # lr of row k is the lr of the update leaving point k; the last row has none
    assert [r["lr"] for r in rows[:-1]] == [repr(float(v)) for v in traj.lr]
    assert rows[-1]["lr"] == ""
    assert float(rows[2]["loss"]) == 0.1 + 0.2  # full precision, not 0.3


def test_csv_stops_at_last_valid_point() -> None:
    traj = fake_trajectory()
    rows = list(csv.DictReader(io.StringIO(tables.to_csv(traj, index=1))))
    assert len(rows) == 3
    assert rows[-1]["loss"] == "inf"
    assert rows[-1]["lr"] == ""
    assert [r["lr"] for r in rows[:-1]] == ["0.1", "0.05"]
    assert not any("nan" in v for r in rows for v in r.values())


def test_bad_index() -> None:
    with pytest.raises(IndexError):
        tables.to_csv(fake_trajectory(), index=2)


def test_json_document() -> None:
    traj = fake_trajectory()
    text = tables.to_json(
        traj,
        function="rosenbrock",
        function_params={"a": 1.0, "b": 100.0},
        optimizer="adam",
        hyperparameters={"lr": 0.01, "betas": (0.9, np.float64(0.999)), "amsgrad": True},
        schedule="step",
        schedule_params={"step_size": 100, "gamma": 0.5},
        index=1,
    )
    doc = json.loads(text)  # strict: to_json uses allow_nan=False
    assert doc["function"] == "rosenbrock"
    assert doc["function_params"] == {"a": 1.0, "b": 100.0}
    assert doc["optimizer"] == "adam"
    assert doc["hyperparameters"] == {"lr": 0.01, "betas": [0.9, 0.999], "amsgrad": True}
    assert doc["schedule"] == {"name": "step", "params": {"step_size": 100, "gamma": 0.5}}
    assert doc["status"] == "diverged"
    assert [s["step"] for s in doc["steps"]] == [0, 1, 2]
    assert doc["steps"][2]["loss"] is None  # inf is not valid JSON
    assert doc["steps"][2]["lr"] is None
    assert doc["steps"][1] == {"step": 1, "x": 3.0, "y": 4.0, "loss": 10.0, "lr": 0.05}


def test_json_floats_round_trip() -> None:
    traj = fake_trajectory()
    doc = json.loads(
        tables.to_json(traj, function="f", optimizer="sgd", hyperparameters={"lr": 0.1})
    )
    xs = [s["x"] for s in doc["steps"]]
    assert xs == list(traj.points[0, :, 0])


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.csv", "csv"), ("a.JSON", "json"), ("a.txt", "csv"), (None, "csv"), ("json", "csv")],
)
def test_format_for_path(name: str | None, expected: str) -> None:
    assert tables.format_for_path(name) == expected


def test_save_trajectory_by_extension(tmp_path) -> None:
    traj = fake_trajectory()
    meta = dict(function="f", optimizer="sgd", hyperparameters={"lr": 0.1})
    tables.save_trajectory(tmp_path / "p.json", traj, **meta)
    assert json.loads((tmp_path / "p.json").read_text())["optimizer"] == "sgd"
    tables.save_trajectory(tmp_path / "p.csv", traj, **meta)
    assert (tmp_path / "p.csv").read_text() == tables.to_csv(traj)
    tables.save_trajectory(tmp_path / "p.txt", traj, fmt="json", **meta)
    json.loads((tmp_path / "p.txt").read_text())
    with pytest.raises(ValueError, match="unknown format"):
        tables.save_trajectory(tmp_path / "p.x", traj, fmt="xml", **meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "p.json", "p.txt"]
