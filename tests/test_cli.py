"""The command line: headless subcommands, numbers they print, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from lossviewer import __version__
from lossviewer.cli import MAX_STEPS, main
from lossviewer.core.functions import LANDSCAPES, make_landscape
from lossviewer.core.optimizers import OPTIMIZERS
from lossviewer.core.schedules import SCHEDULES, lr_schedule
from lossviewer.core.trajectory import simulate
from lossviewer.io.surface_npz import load_surface

REPO = Path(__file__).resolve().parents[1]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def column(rows: list[dict[str, str]], name: str) -> np.ndarray:
    return np.array([float(r[name]) if r[name] != "" else np.nan for r in rows])


def path_args(*extra: str, function: str = "rosenbrock", optimizer: str = "sgd") -> list[str]:
    return [
        "path", "--function", function, "--optimizer", optimizer,
        "--start", "-1.5,2", "--steps", "50", *extra,
    ]


# -- listing commands -------------------------------------------------------------


def test_version(capsys) -> None:
    code, out, err = run(capsys, "--version")
    assert code == 0
    assert __version__ in out


@pytest.mark.parametrize(
    "command",
    [[], ["path"], ["surface"], ["functions"], ["optimizers"], ["critical"], ["basins"]],
)
def test_help(capsys, command: list[str]) -> None:
    code, out, err = run(capsys, *command, "--help")
    assert code == 0
    assert out.startswith("usage: lossviewer")
    assert err == ""


def test_path_help_lists_every_hyperparameter_and_schedule_param(capsys) -> None:
    out = run(capsys, "path", "--help")[1]
    for flag in ("--momentum", "--nesterov", "--no-nesterov", "--betas", "--weight-decay",
                 "--amsgrad", "--lr-decay", "--initial-accumulator-value", "--centered",
                 "--dampening", "--step-size", "--gamma", "--t-max", "--eta-min",
                 "--warmup-steps", "--three-phase"):
        assert flag in out


def test_functions_lists_all(capsys) -> None:
    code, out, err = run(capsys, "functions")
    assert code == 0 and err == ""
    assert len(LANDSCAPES) == 17
    for name, cls in LANDSCAPES.items():
        assert name in out
        assert cls.title in out
        for spec in cls.param_specs:
            assert f"{spec.name} = {spec.default:g}" in out
    assert "(1, 1) = 0" in out  # Rosenbrock's minimum
    assert "-78.3323" in out  # Styblinski–Tang's


def test_optimizers_lists_all(capsys) -> None:
    code, out, err = run(capsys, "optimizers")
    assert code == 0 and err == ""
    assert len(OPTIMIZERS) == 11
    for name, cls in OPTIMIZERS.items():
        assert f"{name}: {cls.title}" in out
    for name in SCHEDULES:
        assert name in out
    assert "--betas" in out and "default 0.9,0.999" in out
    assert "--t-max" in out


# -- path: numbers -------------------------------------------------------------


def rosenbrock_gd(start, lr: float, steps: int, a: float = 1.0, b: float = 100.0):
    """Plain gradient descent with the closed-form gradient, written out independently."""
    x, y = start
    pts = [(x, y)]
    for _ in range(steps):
        gx = -2.0 * (a - x) - 4.0 * b * x * (y - x * x)
        gy = 2.0 * b * (y - x * x)
        x, y = x - lr * gx, y - lr * gy
        pts.append((x, y))
    pts = np.array(pts)
    loss = (a - pts[:, 0]) ** 2 + b * (pts[:, 1] - pts[:, 0] ** 2) ** 2
    return pts, loss


def test_path_sgd_matches_plain_gradient_descent(capsys) -> None:
    code, out, err = run(
        capsys, "path", "--function", "rosenbrock", "--optimizer", "sgd",
        "--start", "-1.5,2", "--steps", "200", "--lr", "0.0005",
    )
    assert code == 0 and err == ""
    assert out.splitlines()[0] == "step,x,y,loss,lr"
    rows = rows_of(out)
    assert [int(r["step"]) for r in rows] == list(range(201))
    pts, loss = rosenbrock_gd((-1.5, 2.0), 0.0005, 200)
    np.testing.assert_allclose(column(rows, "x"), pts[:, 0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(column(rows, "y"), pts[:, 1], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(column(rows, "loss"), loss, rtol=1e-10, atol=1e-15)
    assert all(r["lr"] == "0.0005" for r in rows[:-1])
    assert rows[-1]["lr"] == ""
    assert loss[-1] < loss[0]


def test_path_landscape_param(capsys) -> None:
    out = run(capsys, *path_args("--lr", "0.001", "--param", "b=10", "--param", "a=0.5"))[1]
    pts, _ = rosenbrock_gd((-1.5, 2.0), 0.001, 50, a=0.5, b=10.0)
    np.testing.assert_allclose(column(rows_of(out), "x"), pts[:, 0], rtol=1e-12)


def test_path_json(capsys) -> None:
    code, out, err = run(capsys, *path_args("--format", "json", "--momentum", "0.5"))
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["function"] == "rosenbrock"
    assert doc["optimizer"] == "sgd"
    assert doc["hyperparameters"]["momentum"] == 0.5
    assert doc["hyperparameters"]["lr"] == OPTIMIZERS["sgd"].defaults()["lr"]
    assert doc["schedule"]["name"] == "constant"
    assert doc["status"] in ("finished", "converged", "diverged")
    assert len(doc["steps"]) == 51
    csv_rows = rows_of(run(capsys, *path_args("--momentum", "0.5"))[1])
    assert [s["x"] for s in doc["steps"]] == [float(r["x"]) for r in csv_rows]


def test_path_out_file_format_from_extension(capsys, tmp_path) -> None:
    for name, check in (("p.json", json.loads), ("p.csv", rows_of), ("p.txt", rows_of)):
        code, out, err = run(capsys, *path_args("--out", str(tmp_path / name)))
        assert (code, out, err) == (0, "", "")
        assert check((tmp_path / name).read_text())
    code, out, err = run(capsys, *path_args("--out", str(tmp_path / "q.csv"), "--format", "json"))
    json.loads((tmp_path / "q.csv").read_text())


def test_path_that_diverges_or_converges(capsys) -> None:
    code, out, err = run(capsys, *path_args("--lr", "1"))
    assert code == 0
    assert err == "lossviewer: note: the path diverged after step 1 of 50\n"
    rows = rows_of(out)
    assert len(rows) == 2 and rows[-1]["lr"] == ""
    doc = json.loads(run(capsys, *path_args("--lr", "1", "--format", "json"))[1])
    assert doc["status"] == "diverged" and len(doc["steps"]) == 2
    code, out, err = run(capsys, *path_args(function="quadratic_bowl", optimizer="newton"))
    assert code == 0 and "converged at step" in err
    assert float(rows_of(out)[-1]["loss"]) < 1e-12


def direct_path(optimizer: str, hyper: dict, steps: int = 50, **kw) -> np.ndarray:
    traj = simulate(make_landscape("rosenbrock"), optimizer, hyper, np.array([[-1.5, 2.0]]),
                    steps, **kw)
    return traj.points[0, : int(traj.stop[0]) + 1]


def cli_path(capsys, *argv: str) -> np.ndarray:
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    rows = rows_of(out)
    return np.column_stack([column(rows, "x"), column(rows, "y")])


def test_adam_betas_honoured(capsys) -> None:
    default = cli_path(capsys, *path_args("--lr", "0.05", optimizer="adam"))
    tuned = cli_path(capsys, *path_args("--lr", "0.05", "--betas", "0.5,0.9", "--amsgrad",
                                        optimizer="adam"))
    assert not np.allclose(default, tuned)
    np.testing.assert_array_equal(
        tuned, direct_path("adam", {"lr": 0.05, "betas": (0.5, 0.9), "amsgrad": True})
    )
    np.testing.assert_array_equal(default, direct_path("adam", {"lr": 0.05}))


def test_sgd_momentum_nesterov_honoured(capsys) -> None:
    plain = cli_path(capsys, *path_args("--lr", "0.0005"))
    mom = cli_path(capsys, *path_args("--lr", "0.0005", "--momentum", "0.9"))
    nest = cli_path(capsys, *path_args("--lr", "0.0005", "--momentum", "0.9", "--nesterov"))
    assert not np.allclose(plain, mom) and not np.allclose(mom, nest)
    np.testing.assert_array_equal(
        nest, direct_path("sgd", {"lr": 0.0005, "momentum": 0.9, "nesterov": True})
    )
    no_nest = cli_path(capsys, *path_args("--lr", "0.0005", "--momentum", "0.9",
                                          "--no-nesterov"))
    np.testing.assert_array_equal(no_nest, mom)


def test_weight_decay_and_other_optimizers(capsys) -> None:
    got = cli_path(capsys, *path_args("--lr", "0.01", "--weight-decay", "0.1", "--centered",
                                      optimizer="rmsprop"))
    want = direct_path("rmsprop", {"lr": 0.01, "weight_decay": 0.1, "centered": True})
    np.testing.assert_array_equal(got, want)


def test_step_schedule_lr_column(capsys) -> None:
    out = run(capsys, *path_args("--lr", "0.0004", "--schedule", "step", "--step-size", "10",
                                 "--gamma", "0.5"))[1]
    lr = column(rows_of(out), "lr")[:-1]
    expected = 0.0004 * 0.5 ** (np.arange(50) // 10)  # StepLR, written out
    np.testing.assert_allclose(lr, expected, rtol=1e-15)
    np.testing.assert_array_equal(lr, lr_schedule("step", 0.0004, 50, step_size=10, gamma=0.5))


def test_cosine_and_warmup_schedule_lr_column(capsys) -> None:
    out = run(capsys, *path_args("--lr", "0.001", "--schedule", "cosine", "--t-max", "50",
                                 "--eta-min", "0.0001"))[1]
    lr = column(rows_of(out), "lr")[:-1]
    k = np.arange(50)
    expected = 0.0001 + (0.001 - 0.0001) * (1 + np.cos(np.pi * k / 50)) / 2
    np.testing.assert_allclose(lr, expected, rtol=1e-12)
    out = run(capsys, *path_args("--lr", "0.001", "--schedule", "warmup_cosine",
                                 "--warmup-steps", "10"))[1]
    lr = column(rows_of(out), "lr")[:-1]
    np.testing.assert_allclose(lr[:11], 0.001 * (0.1 + 0.9 * np.arange(11) / 10), rtol=1e-12)
    np.testing.assert_array_equal(lr, lr_schedule("warmup_cosine", 0.001, 50, warmup_steps=10))


def test_noise_and_seed(capsys) -> None:
    a = cli_path(capsys, *path_args("--noise", "1", "--seed", "1"))
    b = cli_path(capsys, *path_args("--noise", "1", "--seed", "1"))
    c = cli_path(capsys, *path_args("--noise", "1", "--seed", "2"))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(a, direct_path("sgd", {}, noise=1.0, seed=1))


# -- surface -------------------------------------------------------------------


def test_surface_round_trip(capsys, tmp_path) -> None:
    out_file = tmp_path / "s.npz"
    code, out, err = run(capsys, "surface", "--function", "rosenbrock", "--param", "b=20",
                         "--resolution", "33", "--xrange", "-1,1.5", "--out", str(out_file))
    assert (code, out, err) == (0, "", "")
    s = load_surface(out_file)
    np.testing.assert_array_equal(s.xs, np.linspace(-1.0, 1.5, 33))
    np.testing.assert_array_equal(s.ys, np.linspace(-1.0, 3.0, 33))  # the default domain
    np.testing.assert_array_equal(s.Z, make_landscape("rosenbrock", b=20).grid_values(s.xs, s.ys))
    assert s.meta["landscape"] == "rosenbrock"
    assert s.meta["params"] == {"a": 1.0, "b": 20.0}


def test_surface_default_domain(capsys, tmp_path) -> None:
    out_file = tmp_path / "h.npz"
    assert run(capsys, "surface", "--function", "himmelblau", "--resolution", "16",
               "--out", str(out_file))[0] == 0
    s = load_surface(out_file)
    (x0, x1), (y0, y1) = LANDSCAPES["himmelblau"].default_domain
    assert (s.xs[0], s.xs[-1], s.ys[0], s.ys[-1]) == (x0, x1, y0, y1)


# -- --formula -------------------------------------------------------------------


def test_path_formula_equals_builtin(capsys) -> None:
    want = cli_path(capsys, *path_args("--lr", "0.0005", "--steps", "200"))
    got = cli_path(capsys, *formula_path_args("--lr", "0.0005", "--steps", "200"))
    assert got.shape == want.shape == (201, 2)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # the same declarations as repeated --param; a momentum run as well
    again = cli_path(capsys, "path", "--formula", ROSENBROCK_TEXT, "--param", "a=1",
                     "--param", "b=100", "--optimizer", "sgd", "--start", "-1.5,2",
                     "--steps", "200", "--lr", "0.0005")
    np.testing.assert_array_equal(again, got)
    want = cli_path(capsys, *path_args("--lr", "0.0002", "--momentum", "0.9"))
    got = cli_path(capsys, *formula_path_args("--lr", "0.0002", "--momentum", "0.9"))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # and the loss column
    rows = rows_of(run(capsys, *formula_path_args("--lr", "0.0005"))[1])
    pts, loss = rosenbrock_gd((-1.5, 2.0), 0.0005, 50)
    np.testing.assert_allclose(column(rows, "loss"), loss, rtol=1e-9)


def test_path_formula_with_ranged_declaration_and_json(capsys) -> None:
    code, out, err = run(capsys, *formula_path_args("--format", "json", "--lr", "0.001",
                                                    params="a=0.5, b=10 in [0, 1000]"))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["function"] == "formula"
    assert doc["formula"] == ROSENBROCK_TEXT
    assert doc["function_params"] == {"a": 0.5, "b": 10.0}
    assert doc["domain"] == [[-2.0, 2.0], [-2.0, 2.0]]
    pts, _ = rosenbrock_gd((-1.5, 2.0), 0.001, 50, a=0.5, b=10.0)
    np.testing.assert_allclose([st["x"] for st in doc["steps"]], pts[:, 0], rtol=1e-9)


def test_path_formula_domain_sets_the_divergence_scale(capsys) -> None:
    # x ↦ 1.5x per step: leaves a small domain's bounds long before a large one's
    args = ["path", "--formula", "-x^2/4 + y^2", "--optimizer", "sgd", "--start", "1,0",
            "--steps", "60", "--lr", "1"]
    small = run(capsys, *args, "--xrange", "-1,1", "--yrange", "-1,1")
    large = run(capsys, *args, "--xrange", "-1e6,1e6", "--yrange", "-1e6,1e6")
    assert small[0] == large[0] == 0
    assert "diverged" in small[2]
    assert len(rows_of(small[1])) < len(rows_of(large[1]))


def test_surface_formula(capsys, tmp_path) -> None:
    out_file = tmp_path / "f.npz"
    code, out, err = run(capsys, "surface", "--formula", "a*x^2 - y", "--param", "a=3",
                         "--xrange", "-1,1", "--resolution", "9", "--out", str(out_file))
    assert (code, out, err) == (0, "", "")
    s = load_surface(out_file)
    np.testing.assert_array_equal(s.xs, np.linspace(-1, 1, 9))
    np.testing.assert_array_equal(s.ys, np.linspace(-2, 2, 9))  # the formula default
    X, Y = np.meshgrid(s.xs, s.ys)
    np.testing.assert_allclose(s.Z, 3 * X**2 - Y, atol=1e-12)
    assert s.meta["formula"] == "a*x^2 - y" and s.meta["params"] == {"a": 3.0}


def test_hostile_formula_runs_nothing(capsys, tmp_path) -> None:
    marker = tmp_path / "pwned"
    for formula in (f"__import__('os').system('touch {marker}')",
                    f"exec(\"open('{marker}', 'w')\")",
                    "x.__class__.__bases__"):
        for argv in (formula_path_args(formula=formula),
                     ["critical", "--formula", formula],
                     ["surface", "--formula", formula, "--resolution", "8",
                      "--out", str(tmp_path / "s.npz")]):
            code, out, err = run(capsys, *argv)
            assert code == 2 and out == ""
            assert err.startswith("lossviewer: error: --formula: "), err
            assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_formula_error_names_the_column(capsys) -> None:
    err = run(capsys, *formula_path_args(formula="x^2 + (y"))[2]
    assert err.startswith("lossviewer: error: --formula: ")
    assert "column" in err


# -- critical --------------------------------------------------------------------


def critical(capsys, *argv: str) -> list[dict]:
    code, out, err = run(capsys, "critical", *argv)
    assert code == 0, err
    assert err == ""
    return json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))


def test_critical_himmelblau(capsys) -> None:
    points = critical(capsys, "--function", "himmelblau")
    assert all(set(p) == {"x", "y", "value", "eigenvalues", "type", "global"} for p in points)
    kinds = [p["type"] for p in points]
    assert kinds.count("minimum") == 4
    assert kinds.count("saddle") == 4
    assert kinds.count("maximum") == 1
    found = np.array([(p["x"], p["y"]) for p in points if p["type"] == "minimum"])
    for m in make_landscape("himmelblau").minima():
        d = np.hypot(*(found - (m.x, m.y)).T)
        assert d.min() < 1e-6, (m, found)
    for p in points:
        lo, hi = p["eigenvalues"]
        assert lo <= hi
        want = {"minimum": lo > 0, "maximum": hi < 0, "saddle": lo < 0 < hi}[p["type"]]
        assert want, p
        assert p["global"] == (p["type"] == "minimum")  # four equally deep minima
    top = next(p for p in points if p["type"] == "maximum")
    assert abs(top["x"] + 0.270845) < 1e-5 and abs(top["y"] + 0.923039) < 1e-5


def test_critical_formula_saddle(capsys) -> None:
    points = critical(capsys, "--formula", "x^2 - y^2")
    assert len(points) == 1
    (p,) = points
    assert p["type"] == "saddle" and p["global"] is False
    assert abs(p["x"]) < 1e-9 and abs(p["y"]) < 1e-9 and abs(p["value"]) < 1e-12
    np.testing.assert_allclose(p["eigenvalues"], [-2.0, 2.0], rtol=1e-9)


def test_critical_matches_the_library_and_writes_a_file(capsys, tmp_path) -> None:
    from lossviewer.core.critical_points import find_critical_points
    from lossviewer.core.formula import FormulaLandscape

    land = FormulaLandscape("x^3 - 3*x + a*y^2", "a=2", domain=((-2, 2), (-1, 1)))
    want = [p.to_dict() for p in find_critical_points(land, (-2, 2), (-1, 1), seeds=12)]
    out_file = tmp_path / "c.json"
    code, out, err = run(capsys, "critical", "--formula", "x^3 - 3*x + a*y^2", "--param", "a=2",
                         "--yrange", "-1,1", "--seeds", "12", "--out", str(out_file))
    assert (code, out, err) == (0, "", "")
    assert json.loads(out_file.read_text()) == want
    assert sorted(p["type"] for p in want) == ["minimum", "saddle"]


def test_critical_non_finite_numbers_are_null(capsys, monkeypatch) -> None:
    import lossviewer.core.critical_points as cp

    fake = cp.CriticalPoint(0.0, 1.0, float("nan"), (float("-inf"), 1.0), "degenerate")
    monkeypatch.setattr(cp, "find_critical_points", lambda *a, **k: [fake])
    points = critical(capsys, "--function", "booth")
    assert points == [{"x": 0.0, "y": 1.0, "value": None, "eigenvalues": [None, 1.0],
                       "type": "degenerate", "global": False}]


# -- basins ----------------------------------------------------------------------


def test_basins_npz(capsys, tmp_path) -> None:
    from lossviewer.core.basins import basins
    from lossviewer.core.critical_points import find_critical_points

    out_file = tmp_path / "b.npz"
    code, out, err = run(capsys, *basins_args(out=str(out_file)))
    assert code == 0, err
    assert err == ""
    assert len(out.splitlines()) == 1 and out.startswith("4 basins: ")
    with np.load(out_file, allow_pickle=False) as data:
        d = {k: data[k] for k in data.files}
    for key in ("xs", "ys", "labels", "ends", "attractors", "attractor_values", "shares",
                "diverged_share", "not_converged_share", "meta"):
        assert key in d, key
    assert d["labels"].shape == (8, 8) and d["ends"].shape == (8, 8, 2)
    total = d["shares"].sum() + d["diverged_share"] + d["not_converged_share"]
    assert total == pytest.approx(1.0, abs=1e-12)

    land = make_landscape("himmelblau")
    (x0, x1), (y0, y1) = land.domain
    mins = [(p.x, p.y) for p in find_critical_points(land, (x0, x1), (y0, y1))
            if p.kind == "minimum"]
    direct = basins(land, "sgd", {"lr": 0.01}, (x0, x1), (y0, y1), 8, 20, minima=mins)
    np.testing.assert_array_equal(d["xs"], direct.xs)
    np.testing.assert_array_equal(d["labels"], direct.labels)
    np.testing.assert_array_equal(d["attractors"], direct.attractors)
    np.testing.assert_array_equal(d["shares"], direct.shares)
    np.testing.assert_array_equal(d["ends"], direct.ends)
    # the attractors are exactly the minima of 'critical'
    for a in d["attractors"]:
        assert min(np.hypot(a[0] - mx, a[1] - my) for mx, my in mins) == 0.0

    meta = json.loads(str(d["meta"]))
    assert meta["function"] == "himmelblau" and meta["optimizer"] == "sgd"
    assert meta["hyper"]["lr"] == 0.01 and meta["steps"] == 20 and meta["grid"] == 8
    assert str(d["function"]) == "himmelblau" and int(d["grid"]) == 8
    assert list(d["attractor_kinds"]) == ["minimum"] * 4
    assert meta["critical_minima"] == [list(m) for m in mins]


def test_basins_write_failure_leaves_nothing(capsys, tmp_path, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", boom)
    code, out, err = run(capsys, *basins_args(out=str(tmp_path / "b.npz")))
    assert code == 2 and out == ""
    assert err.startswith("lossviewer: error: --out: cannot write")
    assert len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_basins_formula_with_schedule_and_noise(capsys, tmp_path) -> None:
    from lossviewer.core.basins import basins
    from lossviewer.core.formula import FormulaLandscape

    out_file = tmp_path / "w.npz"
    formula = "(x^2 - 1)^2 + a*y^2"
    code, out, err = run(capsys, "basins", "--formula", formula, "--param", "a=2",
                         "--optimizer", "adam", "--lr", "0.05", "--betas", "0.8,0.99",
                         "--schedule", "step", "--step-size", "10", "--gamma", "0.5",
                         "--noise", "0.1", "--seed", "3", "--grid", "6", "--steps", "40",
                         "--no-minima-from-critical", "--quiet", "--out", str(out_file))
    assert (code, out, err) == (0, "", "")
    land = FormulaLandscape(formula, "a=2", domain=((-2, 2), (-2, 2)))
    direct = basins(land, "adam", {"lr": 0.05, "betas": (0.8, 0.99)}, (-2, 2), (-2, 2), 6, 40,
                    schedule="step", schedule_params={"step_size": 10, "gamma": 0.5},
                    noise=0.1, seed=3)
    with np.load(out_file, allow_pickle=False) as d:
        np.testing.assert_array_equal(d["labels"], direct.labels)
        np.testing.assert_array_equal(d["shares"], direct.shares)
        meta = json.loads(str(d["meta"]))
        assert str(d["formula"]) == formula
    assert meta["function"] == "formula" and meta["formula"] == formula
    assert meta["params"] == {"a": 2.0} and meta["declarations"] == "a=2"
    assert meta["hyper"]["betas"] == [0.8, 0.99] and meta["minima_from_critical"] is False
    assert meta["schedule"] == "step" and meta["noise"] == 0.1 and meta["seed"] == 3


# -- errors: one line, exit 2, nothing on stdout --------------------------------------


def surface_args(*extra: str, out: str = "OUT") -> list[str]:
    return ["surface", "--function", "rosenbrock", "--resolution", "16", "--out", out, *extra]


ROSENBROCK_TEXT = "(a - x)^2 + b*(y - x^2)^2"


def formula_path_args(*extra: str, formula: str = ROSENBROCK_TEXT, params: str = "a=1,b=100",
                      optimizer: str = "sgd") -> list[str]:
    return [
        "path", "--formula", formula, "--param", params, "--optimizer", optimizer,
        "--start", "-1.5,2", "--steps", "50", *extra,
    ]


def basins_args(*extra: str, out: str = "OUT", function: str = "himmelblau",
                formula: str | None = None, params: str | None = None) -> list[str]:
    which = ["--function", function] if formula is None else ["--formula", formula]
    if params is not None:
        which += ["--param", params]
    return ["basins", *which, "--optimizer", "sgd", "--lr", "0.01", "--grid", "8",
            "--steps", "20", *extra, "--out", out]


def _drop(args: list[str], flag: str) -> list[str]:
    i = args.index(flag)
    return args[:i] + args[i + 2:]


def _replace(args: list[str], flag: str, value: str) -> list[str]:
    args = list(args)
    args[args.index(flag) + 1] = value
    return args


BAD = {
    "unknown command": ["frobnicate"],
    "unknown option": path_args("--frobnicate", "1"),
    "unknown function": _replace(path_args(), "--function", "nope"),
    "unknown optimizer": _replace(path_args(), "--optimizer", "adamm"),
    "unknown schedule": path_args("--schedule", "linear"),
    "start text": _replace(path_args(), "--start", "a,b"),
    "start three": _replace(path_args(), "--start", "1,2,3"),
    "start one": _replace(path_args(), "--start", "1"),
    "start empty part": _replace(path_args(), "--start", "1,"),
    "start nan": _replace(path_args(), "--start", "nan,1"),
    "start inf": _replace(path_args(), "--start", "1,inf"),
    "steps zero": _replace(path_args(), "--steps", "0"),
    "steps negative": _replace(path_args(), "--steps", "-5"),
    "steps huge": _replace(path_args(), "--steps", str(MAX_STEPS + 1)),
    "steps fraction": _replace(path_args(), "--steps", "1.5"),
    "steps text": _replace(path_args(), "--steps", "many"),
    "steps missing": path_args()[:-2],
    "lr zero": path_args("--lr", "0"),
    "lr negative": path_args("--lr", "-0.1"),
    "lr text": path_args("--lr", "fast"),
    "lr nan": path_args("--lr", "nan"),
    "lr inf": path_args("--lr", "inf"),
    "lr no value": path_args("--lr"),
    "momentum for adam": path_args("--momentum", "0.9", optimizer="adam"),
    "amsgrad for sgd": path_args("--amsgrad"),
    "momentum out of range": path_args("--momentum", "1.5"),
    "nesterov without momentum": path_args("--nesterov"),
    "betas one number": path_args("--betas", "0.9", optimizer="adam"),
    "betas out of range": path_args("--betas", "1,0.999", optimizer="adam"),
    "bool with value": path_args("--momentum", "0.9", "--nesterov=yes"),
    "schedule param without schedule": path_args("--gamma", "0.5"),
    "schedule param of other schedule": path_args("--schedule", "step", "--t-max", "5"),
    "step size fraction": path_args("--schedule", "step", "--step-size", "2.5"),
    "step size text": path_args("--schedule", "step", "--step-size", "ten"),
    "param text": path_args("--param", "b=steep"),
    "param unknown": path_args("--param", "c=1"),
    "param no equals": path_args("--param", "b"),
    "param out of range": path_args("--param", "b=1e9"),
    "noise negative": path_args("--noise", "-1"),
    "noise text": path_args("--noise", "loud"),
    "seed text": path_args("--seed", "x"),
    "seed negative": path_args("--seed", "-1"),
    "format": path_args("--format", "xml"),
    "out missing folder": path_args("--out", "/nonexistent-folder/sub/p.csv"),
    "out is folder": path_args("--out", "TMPDIR"),
    "surface unknown function": _replace(surface_args(), "--function", "nope"),
    "surface xrange reversed": surface_args("--xrange", "1,0"),
    "surface xrange empty": surface_args("--xrange", "1,1"),
    "surface xrange text": surface_args("--xrange", "a,b"),
    "surface yrange one": surface_args("--yrange", "0"),
    "surface yrange inf": surface_args("--yrange", "0,inf"),
    "surface resolution huge": _replace(surface_args(), "--resolution", "100000"),
    "surface resolution small": _replace(surface_args(), "--resolution", "4"),
    "surface resolution text": _replace(surface_args(), "--resolution", "fine"),
    "surface out missing folder": surface_args(out="/nonexistent-folder/s.npz"),
    "surface missing out": surface_args()[:-2],
    "surface param": surface_args("--param", "A=1"),
    "window option before command": ["--size", "800x600", "functions"],
    "gui size": ["--size", "10x10"],
    "gui size text": ["--size", "big"],
    "gui function": ["--function", "nope"],
    # --formula wherever --function goes; critical and basins
    "formula syntax": formula_path_args(formula="(a - x)^2 + b*(y - x^2"),
    "formula unknown name": formula_path_args(formula="(a - x)^2 + c*y"),
    "formula and function": path_args("--formula", "x^2"),
    "neither function nor formula": ["path", "--optimizer", "sgd", "--start", "0,0",
                                     "--steps", "5"],
    "formula empty": formula_path_args(formula="  "),
    "formula param bad": formula_path_args(params="a=1,b=steep"),
    "formula param empty piece": formula_path_args(params="a=1,,b=100"),
    "formula param out of its range": formula_path_args(params="a=1,b=100 in [0, 10]"),
    "formula xrange reversed": formula_path_args("--xrange", "2,-2"),
    "function with path xrange": path_args("--xrange", "-3,3"),
    "formula attribute access": formula_path_args(formula="x.__class__"),
    "formula import": formula_path_args(formula="__import__('os').system('true')"),
    "surface formula syntax": ["surface", "--formula", "x^2 +", "--resolution", "16",
                               "--out", "OUT"],
    "surface formula and function": surface_args("--formula", "x^2"),
    "critical neither": ["critical"],
    "critical both": ["critical", "--function", "himmelblau", "--formula", "x^2"],
    "critical unknown function": ["critical", "--function", "nope"],
    "critical formula syntax": ["critical", "--formula", "x^2 +* y"],
    "critical seeds zero": ["critical", "--function", "himmelblau", "--seeds", "0"],
    "critical seeds huge": ["critical", "--function", "himmelblau", "--seeds", "100000"],
    "critical xrange text": ["critical", "--function", "himmelblau", "--xrange", "a,b"],
    "critical out missing folder": ["critical", "--function", "himmelblau",
                                    "--out", "/nonexistent-folder/c.json"],
    "basins grid zero": _replace(basins_args(), "--grid", "0"),
    "basins grid one": _replace(basins_args(), "--grid", "1"),
    "basins grid huge": _replace(basins_args(), "--grid", "5000"),
    "basins grid text": _replace(basins_args(), "--grid", "fine"),
    "basins steps zero": _replace(basins_args(), "--steps", "0"),
    "basins unknown optimizer": _replace(basins_args(), "--optimizer", "adamm"),
    "basins momentum for adam": _replace(basins_args("--momentum", "0.9"), "--optimizer", "adam"),
    "basins bad lr": basins_args("--lr", "-1"),
    "basins schedule param": basins_args("--gamma", "0.5"),
    "basins noise negative": basins_args("--noise", "-1"),
    "basins missing out": basins_args()[:-2],
    "basins missing grid": _drop(basins_args(), "--grid"),
    "basins neither": basins_args()[:1] + basins_args()[3:],
    "basins both": basins_args("--formula", "x^2 + y^2"),
    "basins formula syntax": basins_args(formula="x^2 + (y"),
    "basins formula param": basins_args(formula="a*x^2 + y^2", params="a=oops"),
    "basins out missing folder": basins_args(out="/nonexistent-folder/b.npz"),
    "gui formula syntax": ["--formula", "x^2 +"],
    "gui formula empty": ["--formula", ""],
    "gui formula and function": ["--formula", "x^2", "--function", "himmelblau"],
    "gui formula param": ["--formula", "a*x^2", "--param", "a"],
    "gui param without landscape": ["--param", "a=1"],
    "gui xrange": ["--formula", "x^2", "--xrange", "1,0"],
    "formula before command": ["--formula", "x^2", "critical"],
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, monkeypatch, case: str) -> None:
    calls = fake_app(monkeypatch)
    argv = [a.replace("OUT", str(tmp_path / "o.npz")).replace("TMPDIR", str(tmp_path))
            for a in BAD[case]]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lossviewer: error: ")
    assert "Traceback" not in err
    assert calls == []  # the window never opened
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("momentum for adam",
         "lossviewer: error: --momentum: adam has no hyperparameter 'momentum' "
         "(its hyperparameters: lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay)"),
        ("lr zero", "lossviewer: error: --lr: lr must be > 0, got 0"),
        ("start three", "lossviewer: error: --start: expected two numbers X,Y, got '1,2,3'"),
        ("unknown function", "lossviewer: error: --function: unknown function 'nope'"),
        ("steps huge", f"lossviewer: error: --steps: must be at most {MAX_STEPS}"),
        ("surface resolution huge", "lossviewer: error: --resolution: resolution 100000 needs "
         "about"),
        ("surface xrange reversed", "lossviewer: error: --xrange: x range needs min < max"),
        ("unknown option", "lossviewer: error: --frobnicate: unknown option"),
        ("schedule param without schedule",
         "lossviewer: error: --gamma: schedule 'constant' has no parameter 'gamma'"),
        ("nesterov without momentum", "lossviewer: error: --nesterov: nesterov requires"),
        ("out missing folder", "lossviewer: error: --out: cannot write"),
        ("formula and function",
         "lossviewer: error: --formula: use either --function NAME or --formula EXPR, not both"),
        ("neither function nor formula",
         "lossviewer: error: --function: this argument is required (or --formula EXPR)"),
        ("critical neither",
         "lossviewer: error: --function: this argument is required (or --formula EXPR)"),
        ("basins both", "lossviewer: error: --formula: use either"),
        ("formula syntax", "lossviewer: error: --formula: "),
        ("formula unknown name", "lossviewer: error: --formula: "),
        ("formula param bad", "lossviewer: error: --param: "),
        ("formula param empty piece", "lossviewer: error: --param: empty parameter"),
        ("basins formula param", "lossviewer: error: --param: "),
        ("function with path xrange", "lossviewer: error: --xrange: only goes with --formula"),
        ("basins grid zero", "lossviewer: error: --grid: must lie in [2, 1024], got 0"),
        ("basins grid huge", "lossviewer: error: --grid: must lie in [2, 1024], got 5000"),
        ("basins unknown optimizer", "lossviewer: error: --optimizer: unknown optimizer 'adamm'"),
        ("critical seeds zero", "lossviewer: error: --seeds: must lie in"),
        ("gui formula syntax", "lossviewer: error: --formula: "),
        ("formula before command",
         "lossviewer: error: --formula: goes after the command: lossviewer critical --formula"),
    ],
)
def test_error_messages(capsys, tmp_path, case: str, expected: str) -> None:
    argv = [a.replace("OUT", str(tmp_path / "o.npz")) for a in BAD[case]]
    err = run(capsys, *argv)[2]
    assert err.startswith(expected), err


def test_write_failure_after_checks_is_one_line(capsys, tmp_path, monkeypatch) -> None:
    import lossviewer.io.surface_npz as surface_npz

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(surface_npz.np, "savez", boom)
    code, out, err = run(capsys, *surface_args(out=str(tmp_path / "s.npz")))
    assert code == 2 and out == ""
    assert err.startswith("lossviewer: error: --out: cannot write")
    assert "No space left on device" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_negative_numbers_are_values(capsys) -> None:
    code, out, err = run(capsys, "path", "--function", "booth", "--optimizer", "sgd",
                         "--start", "-1.5,-2e0", "--steps", "3", "--lr", "1e-3")
    assert code == 0, err
    assert rows_of(out)[0]["x"] == "-1.5" and rows_of(out)[0]["y"] == "-2.0"


def test_names_are_forgiving(capsys) -> None:
    a = run(capsys, *path_args(function="Six-Hump-Camel", optimizer="AdamW"))
    b = run(capsys, *path_args(function="six_hump_camel", optimizer="adamw"))
    assert a[0] == 0 and a == b


# -- GUI arguments (the window itself is not opened in these tests) -------------------


def fake_app(monkeypatch) -> list[dict]:
    calls: list[dict] = []
    mod = types.ModuleType("lossviewer.app")

    def run_gui(**kwargs):
        calls.append(kwargs)
        return 0

    mod.run_gui = run_gui  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lossviewer.app", mod)
    return calls


def test_gui_arguments(capsys, monkeypatch, tmp_path) -> None:
    calls = fake_app(monkeypatch)
    shot = str(tmp_path / "shot.png")
    code = main(["--function", "Himmelblau", "--screenshot", shot, "--size", "800x600"])
    assert code == 0
    assert calls == [
        {"function": "himmelblau", "screenshot": shot, "smoke_test": False, "size": (800, 600)}
    ]
    calls.clear()
    assert main(["--smoke-test"]) == 0
    assert calls == [{"function": None, "screenshot": None, "smoke_test": True, "size": None}]
    calls.clear()
    assert main([]) == 0
    assert calls == [{"function": None, "screenshot": None, "smoke_test": False, "size": None}]


def test_gui_formula_arguments(capsys, monkeypatch, tmp_path) -> None:
    import lossviewer.cli as cli

    calls = fake_app(monkeypatch)
    opened: list[tuple] = []
    monkeypatch.setattr(cli, "_open_window_on", lambda *a: opened.append(a) or 0)
    shot = str(tmp_path / "shot.png")
    code = main(["--formula", ROSENBROCK_TEXT, "--param", "a=1,b=100 in [1, 1000]",
                 "--xrange", "-2,2", "--yrange", "-1,3", "--screenshot", shot])
    assert code == 0 and calls == []
    (changes, screenshot, smoke, size), = opened
    assert changes == {"function": "formula", "formula": ROSENBROCK_TEXT,
                       "declarations": "a=1, b=100 in [1, 1000]", "params": {"a": 1.0, "b": 100.0},
                       "xrange": (-2.0, 2.0), "yrange": (-1.0, 3.0), "zscale": "linear"}
    assert (screenshot, smoke, size) == (shot, False, None)
    # a built-in with parameters goes the same way
    opened.clear()
    assert main(["--function", "rosenbrock", "--param", "b=10", "--smoke-test"]) == 0
    (changes, _, smoke, _), = opened
    assert changes["function"] == "rosenbrock" and changes["params"] == {"a": 1.0, "b": 10.0}
    assert smoke is True and calls == []


def test_gui_formula_scene(monkeypatch) -> None:
    """What the window is given: the default scene switched to the formula (no Qt needed)."""
    import lossviewer.cli as cli
    import lossviewer.scene.scene as scene_mod

    made = []
    real = scene_mod.default_scene

    def spy():
        made.append(real())
        return made[-1]

    monkeypatch.setattr(scene_mod, "default_scene", spy)
    # stop before Qt: an app module without create_application
    fake_app(monkeypatch)
    assert cli._open_window_on({"function": "formula", "formula": "a*x^2 + y^2",
                                "declarations": "a=2", "params": {"a": 2.0},
                                "xrange": (-1.0, 1.0), "yrange": (-3.0, 3.0),
                                "zscale": "linear"}, None, False, None) == 1
    (scene,) = made
    s = scene.landscape_settings
    assert (s.function, s.formula, s.declarations, s.params) == (
        "formula", "a*x^2 + y^2", "a=2", {"a": 2.0})
    assert (s.xrange, s.yrange, s.zscale) == ((-1.0, 1.0), (-3.0, 3.0), "linear")
    assert scene.landscape.value(np.array([1.0, 1.0])) == pytest.approx(3.0)


@pytest.mark.gl
def test_gui_formula_screenshot(tmp_path) -> None:
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs a display (pytest-xvfb)")
    out = tmp_path / "formula.png"
    proc = subprocess.run(
        [sys.executable, "-m", "lossviewer", "--formula", "(x^2 - 1)^2 + a*y^2",
         "--param", "a=2", "--xrange", "-2,2", "--yrange", "-1.5,1.5",
         "--screenshot", str(out), "--size", "900x600"],
        capture_output=True, text=True, timeout=180, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 10_000


# -- the real entry point ---------------------------------------------------------


def run_module(*argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-m", "lossviewer", *argv],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )


def test_module_path_runs_headless_without_qt() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    code = (
        "import sys; from lossviewer.cli import main; "
        "rc = main(['functions']) or main(['optimizers']) or "
        "main(['path', '--function', 'rosenbrock', '--optimizer', 'adam', "
        "'--start', '0,0', '--steps', '5']) or "
        "main(['critical', '--formula', 'x^2 - y^2', '--seeds', '5']); "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'shiboken6', 'pyqtgraph', 'OpenGL', 'superqt')]; "
        "assert not bad, bad; sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_module_entry_path_csv() -> None:
    proc = run_module("path", "--function", "rosenbrock", "--optimizer", "sgd",
                      "--start", "-1.5,2", "--steps", "10", "--lr", "0.0005")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    rows = rows_of(proc.stdout)
    pts, _ = rosenbrock_gd((-1.5, 2.0), 0.0005, 10)
    np.testing.assert_allclose(column(rows, "x"), pts[:, 0], rtol=1e-12)


def test_module_entry_error_exit_status() -> None:
    proc = run_module("path", "--function", "rosenbrock", "--optimizer", "adam",
                      "--start", "0,0", "--steps", "10", "--momentum", "0.9")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("lossviewer: error: --momentum: adam has no hyperparameter")


def test_a_file_alone_opens_it_in_the_window(capsys, tmp_path) -> None:
    """`lossviewer talk.lvs` (the desktop entry's Exec line) means --open talk.lvs."""
    missing = tmp_path / "talk.lvs"
    assert main([str(missing)]) == 2
    err = capsys.readouterr().err
    assert "--open: no such file" in err and err.count("\n") == 1
    assert main([str(tmp_path / "notes.txt")]) == 2  # not a file the window opens
    assert "unknown command" in capsys.readouterr().err
