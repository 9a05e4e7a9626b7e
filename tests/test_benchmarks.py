"""benchmarks/run.py --quick runs end to end and reports every row (no timing checks)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "benchmarks" / "run.py"

#: row id -> the stable part of its printed name (benchmarks/run.py ROW_TITLES)
ROWS = {
    "1a": "3D surface update+render",
    "1b": "3D surface update+render",
    "2": "Interactive 3D frame (orbit)",
    "3": "Recompute 6 paths x 1000 steps",
    "4": "UI stall while recomputing",
    "4b": "GUI-thread stall from the computation alone",
    "5": "Cold start to first 3D frame",
    "6": "Basin map 256² × 500 steps (Adam, Himmelblau)",
    "7": "Formula vs built-in (1024² value+grad)",
    "8a": "NN slice 51², MLP 784→128→10, 2,000 samples: batched vs per-point",
    "8b": "NN slice 51², MLP 2→16→16→1, 500 samples: batched vs per-point",
    "8c": "NN slice 51², MLP 784→128→10: batched numpy vs per-point torch",
    "9": "Moons MLP landscape 101² (train+val): first preview / full",
    "10": "Peak memory of a 401² landscape (digits MLP)",
    "11": "User CNN on digits, 31² slice: vmap-batched vs per-point torch",
    "12": "Digits MLP landscape 101² on 2 local Dask workers vs one process",
}
#: rows that run only with an optional extra installed (8c, 11: torch; 12: cluster)
OPTIONAL = {"8c", "11"}
CLUSTER_ROWS = {"12"}
NUMERIC = ("ours", "alternative", "ratio", "target_value")


@pytest.mark.slow
@pytest.mark.gl
def test_quick_benchmark_runs_every_row(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(RUNNER), "--quick", "--json", str(out)],
        capture_output=True, text=True, env=dict(os.environ), cwd=str(ROOT), timeout=600,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    try:
        import torch  # noqa: F401
        optional_missing: set[str] = set()
    except ImportError:
        optional_missing = set(OPTIONAL)
    try:
        import distributed  # noqa: F401
    except ImportError:
        optional_missing |= CLUSTER_ROWS
    expected = set(ROWS) - optional_missing
    for rid in expected:
        assert f"{rid} {ROWS[rid]}" in proc.stdout, f"row {rid} missing from the table"
    assert "targets missed:" in proc.stdout

    data = json.loads(out.read_text())
    assert data["meta"]["quick"] is True
    rows = {r["id"]: r for r in data["rows"]}
    assert set(rows) == expected
    for rid, row in rows.items():
        assert row["name"].startswith(ROWS[rid])
        for key in NUMERIC:
            value = row[key]
            assert isinstance(value, int | float) and not isinstance(value, bool), (rid, key)
            assert math.isfinite(value) and value > 0, (rid, key, value)
        assert isinstance(row["met"], bool)
        assert row["target_on"] in ("ratio", "ours")
