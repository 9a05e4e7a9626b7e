"""The network commands: ``lossviewer train`` and ``lossviewer landscape``."""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pytest

from lossviewer.cli import main
from lossviewer.core.grid import Surface
from lossviewer.core.plane_eval import Plane, PlaneEvaluator
from lossviewer.io.network_files import load_network_landscape, load_run
from lossviewer.io.surface_npz import save_surface

TRAIN = ("train", "--dataset", "moons", "--samples", "120", "--data-noise", "0.1",
         "--model", "mlp:8", "--optimizer", "sgd", "--lr", "0.5", "--steps", "30",
         "--checkpoint-every", "3")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def quiet(*argv: str) -> tuple[int, str]:
    """Run a command outside a test's capsys (module fixtures); (code, stdout)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(argv))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run file from ``lossviewer train`` and what the command printed."""
    path = tmp_path_factory.mktemp("train") / "run.npz"
    code, out = quiet(*TRAIN, "--out", str(path))
    assert code == 0, out
    return path, out


@pytest.fixture(scope="module")
def from_run(trained, tmp_path_factory):
    """``lossviewer landscape --run RUN.npz`` at float64, and its loaded file."""
    path = tmp_path_factory.mktemp("landscape") / "pca.npz"
    code, out = quiet("landscape", "--run", str(trained[0]), "--directions", "pca",
                      "--grid", "9", "--dtype", "float64", "--out", str(path))
    assert code == 0, out
    return load_network_landscape(path)


def expect_error(capsys, argv, flag: str, *snippets: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"lossviewer: error: {flag}: "), err
    assert "(see lossviewer " in err
    for s in snippets:
        assert s in err, err
    return err


# -- train -------------------------------------------------------------------------------


def test_train_writes_a_loadable_run(trained) -> None:
    path, out = trained
    rf = load_run(path)
    assert rf.dataset_name == "moons"
    assert rf.dataset_params["n_samples"] == 120 and rf.dataset_params["noise"] == 0.1
    assert rf.model.text == "mlp:8:relu" and rf.model.loss == "cross_entropy"
    assert rf.run.steps_done == 30 and rf.run.status == "finished"
    assert rf.run.config.optimizer == "sgd" and dict(rf.run.config.hyper)["lr"] == 0.5
    assert list(rf.run.checkpoint_steps) == list(range(0, 31, 3))
    assert rf.run.final.size == rf.network().n_params == 2 * 8 + 8 + 8 + 1
    assert f"saved {path}" in out


def test_train_prints_the_files_final_loss(trained) -> None:
    path, out = trained
    rf = load_run(path)
    m = re.search(r"30 steps: training loss (\S+), validation loss (\S+),", out)
    assert m, out
    train_loss, val_loss = float(rf.run.train_loss[-1]), float(rf.run.val_loss[-1])
    assert m.group(1) == f"{train_loss:.4g}" and m.group(2) == f"{val_loss:.4g}"
    # the loss it recorded is the loss of the final parameters on the rebuilt data
    ds, net = rf.dataset(), rf.network()
    assert net.loss_value(rf.run.final, ds.X_train, net.targets(ds.y_train)) == pytest.approx(
        train_loss, rel=1e-12)


def test_train_is_reproducible(trained, tmp_path) -> None:
    again = tmp_path / "again.npz"
    assert quiet(*TRAIN, "--out", str(again))[0] == 0
    np.testing.assert_array_equal(load_run(again).run.final, load_run(trained[0]).run.final)
    other = tmp_path / "other.npz"
    assert quiet(*TRAIN, "--seed", "1", "--out", str(other))[0] == 0
    assert not np.array_equal(load_run(other).run.init, load_run(trained[0]).run.init)


# -- landscape ------------------------------------------------------------------------------


def test_landscape_reuses_the_run(trained, from_run) -> None:
    rf = load_run(trained[0])
    sl = from_run.network_slice
    # the run's own data and model, read from the file (no --dataset/--model given)
    assert sl.dataset.params == rf.dataset_params
    assert sl.network.spec == rf.model
    np.testing.assert_array_equal(sl.directions.center, rf.run.final)
    np.testing.assert_array_equal(sl.run.checkpoints, rf.run.checkpoints)
    # the centre, plane point (0, 0), has the run's final training loss on the run's data
    ev = sl.evaluator("train", "float64")
    assert ev.evaluate(np.zeros(1), np.zeros(1))[0][0] == pytest.approx(
        float(rf.run.train_loss[-1]), rel=1e-12)


@pytest.mark.parametrize("method", ["random", "filter", "layer", "pca", "hessian", "interp"])
def test_landscape_each_direction_method(capsys, trained, tmp_path, method) -> None:
    path = tmp_path / f"{method}.npz"
    code, out, err = run(capsys, "landscape", "--run", str(trained[0]), "--directions", method,
                         "--grid", "9", "--out", str(path))
    assert code == 0, err
    assert "9×9 grid, training loss" in out and f"saved {path}" in out
    lf = load_network_landscape(path)
    s = lf.surface
    assert s.xs.shape == (9,) and s.ys.shape == (9,)
    for k in ("train_loss", "train_acc", "val_loss", "val_acc"):
        assert s.layers[k].shape == (9, 9)
        assert np.isfinite(s.layers[k]).all()
    assert ((s.layers["train_acc"] >= 0) & (s.layers["train_acc"] <= 1)).all()
    assert lf.network_slice.directions.spec.method == method
    assert s.meta["dtype"] == "float32"
    d = lf.network_slice.directions
    assert np.linalg.norm(d.d1) > 0 and np.linalg.norm(d.d2) > 0
    # the loss varies over the plane (the directions are not degenerate)
    assert np.ptp(s.layers["train_loss"]) > 1e-4


def test_landscape_rectangular_grid_and_ranges(capsys, trained, tmp_path) -> None:
    path = tmp_path / "rect.npz"
    code, out, err = run(capsys, "landscape", "--run", str(trained[0]), "--grid", "9,8",
                         "--xrange", "-0.5,0.25", "--yrange", "0,2", "--out", str(path))
    assert code == 0, err
    assert "9×8 grid" in out
    s = load_network_landscape(path).surface
    assert s.layers["train_loss"].shape == (8, 9)
    np.testing.assert_allclose(s.xs, np.linspace(-0.5, 0.25, 9), rtol=0, atol=0)
    np.testing.assert_allclose(s.ys, np.linspace(0.0, 2.0, 8), rtol=0, atol=0)
    assert s.meta["resolution"] == (9, 8)
    assert s.meta["xrange"] == (-0.5, 0.25) and s.meta["yrange"] == (0.0, 2.0)


def test_landscape_float64_equals_per_point_evaluation(trained, from_run) -> None:
    # an evaluator built from the run file and the plane stored in the landscape file
    rf = load_run(trained[0])
    ds, net = rf.dataset(), rf.network()
    d = from_run.network_slice.directions
    plane = Plane(d.center, d.d1, d.d2)
    s = from_run.surface
    assert s.meta["dtype"] == "float64"
    evs = {"train": PlaneEvaluator(net, ds.X_train, ds.y_train, plane, "float64"),
           "val": PlaneEvaluator(net, ds.X_val, ds.y_val, plane, "float64")}
    for j, i in ((0, 0), (4, 4), (8, 2), (3, 7)):
        for split, ev in evs.items():
            loss, acc = ev.direct(s.xs[i], s.ys[j])
            assert abs(loss - s.layers[f"{split}_loss"][j, i]) < 1e-10
            assert abs(acc - s.layers[f"{split}_acc"][j, i]) < 1e-10


def test_landscape_trains_without_a_run(capsys, tmp_path) -> None:
    path = tmp_path / "fresh.npz"
    code, out, err = run(capsys, "landscape", "--dataset", "xor", "--samples", "60",
                         "--model", "mlp:4:tanh", "--optimizer", "adam", "--lr", "0.05",
                         "--steps", "20", "--directions", "random", "--grid", "8",
                         "--out", str(path))
    assert code == 0, err
    lf = load_network_landscape(path)
    assert lf.network_slice.dataset.name == "xor"
    assert lf.network_slice.network.spec.text == "mlp:4:tanh"
    assert lf.network_slice.run.checkpoint_steps[-1] == 20
    assert lf.surface.layers["val_loss"].shape == (8, 8)


# -- errors: exit 2, one line, the flag named -------------------------------------------


def _out(tmp_path) -> list[str]:
    return ["--out", str(tmp_path / "never.npz")]


@pytest.mark.parametrize("argv, flag, snippets", [
    (["train", "--dataset", "moon", "--optimizer", "sgd", "--steps", "5"], "--dataset",
     ("unknown dataset 'moon'", "did you mean 'moons'?")),
    (["train", "--model", "mlp:abc", "--optimizer", "sgd", "--steps", "5"], "--model",
     ("cannot read model 'mlp:abc'",)),
    (["train", "--model", "cnn", "--optimizer", "sgd", "--steps", "5"], "--model",
     ("cannot read model 'cnn'",)),
    (["train", "--dataset", "sine", "--loss", "hinge", "--optimizer", "sgd", "--steps", "5"],
     "--loss", ("hinge", "regression")),
    (["train", "--optimizer", "sgd", "--steps", "5", "--noise", "0.1"], "--noise",
     ("no gradient noise",)),
    (["train", "--samples", "50", "--optimizer", "sgd", "--steps", "5", "--batch-size", "100"],
     "--batch-size", ("100 is more than the 35 training samples",)),
    (["train", "--optimizer", "sgd"], "--steps", ("required",)),
    (["train", "--steps", "5"], "--optimizer", ("required",)),
    (["landscape", "--grid", "5"], "--grid", ("at least 8", "5")),
    (["landscape", "--grid", "9,7"], "--grid", ("at least 8", "7")),
    (["landscape", "--grid", "2000"], "--grid", ("4,000,000 points",)),
    (["landscape", "--grid", "9,9,9"], "--grid", ("NX,NY",)),
    (["landscape", "--directions", "filtr"], "--directions", ("did you mean 'filter'?",)),
])
def test_errors(capsys, tmp_path, argv, flag, snippets) -> None:
    expect_error(capsys, [*argv, *_out(tmp_path)], flag, *snippets)
    assert not (tmp_path / "never.npz").exists()


@pytest.mark.parametrize("command", ["train", "landscape"])
def test_missing_out(capsys, command) -> None:
    expect_error(capsys, [command, "--optimizer", "sgd", "--steps", "5"], "--out", "required")


def test_run_of_another_model(capsys, trained, tmp_path) -> None:
    err = expect_error(capsys, ["landscape", "--run", str(trained[0]), "--model", "mlp:4",
                                *_out(tmp_path)], "--run")
    assert "trained with another model: mlp:8:relu (33 parameters)" in err
    assert "the model given is mlp:4:relu (17 parameters)" in err


def test_run_of_another_depth_is_refused(capsys, trained, tmp_path) -> None:
    err = expect_error(capsys, ["landscape", "--run", str(trained[0]), "--model", "mlp:4,4",
                                *_out(tmp_path)], "--run")
    assert "trained with another model: mlp:8:relu" in err


def test_run_of_another_dataset(capsys, trained, tmp_path) -> None:
    err = expect_error(capsys, ["landscape", "--run", str(trained[0]), "--dataset", "circles",
                                "--model", "mlp:8", *_out(tmp_path)], "--run")
    assert "trained on 'moons', not 'circles'" in err


def test_run_missing_file(capsys, tmp_path) -> None:
    missing = tmp_path / "missing.npz"
    err = expect_error(capsys, ["landscape", "--run", str(missing), *_out(tmp_path)], "--run")
    assert "cannot read" in err and "missing.npz" in err


def test_run_not_a_run_file(capsys, tmp_path, from_run, trained) -> None:
    # a network landscape file
    land = tmp_path / "land.npz"
    assert quiet("landscape", "--run", str(trained[0]), "--grid", "8", "--out",
                 str(land))[0] == 0
    err = expect_error(capsys, ["landscape", "--run", str(land), *_out(tmp_path)], "--run")
    assert "not a LossViewer run file" in err and "lossviewer-network-landscape" in err
    # a plain surface file and a text file
    surf = tmp_path / "surf.npz"
    save_surface(surf, Surface(np.arange(8.0), np.arange(8.0), np.zeros((8, 8)), {}))
    err = expect_error(capsys, ["landscape", "--run", str(surf), *_out(tmp_path)], "--run")
    assert "not a LossViewer run file" in err and "lossviewer-surface" in err
    text = tmp_path / "notes.npz"
    text.write_text("hello\n")
    err = expect_error(capsys, ["landscape", "--run", str(text), *_out(tmp_path)], "--run")
    assert "not a LossViewer run file" in err


def test_out_folder_missing_is_reported_before_training(capsys, tmp_path) -> None:
    err = expect_error(capsys, [*TRAIN, "--out", str(tmp_path / "no" / "run.npz")], "--out")
    assert "does not exist" in err


def test_run_of_another_activation_is_refused(capsys, trained, tmp_path) -> None:
    expect_error(capsys, ["landscape", "--run", str(trained[0]), "--model", "mlp:8:tanh",
                          "--grid", "8", *_out(tmp_path)], "--run", "tanh")


def test_run_with_model_given_keeps_the_runs_data(capsys, trained, tmp_path) -> None:
    path = tmp_path / "same-model.npz"
    code, out, err = run(capsys, "landscape", "--run", str(trained[0]), "--model", "mlp:8",
                         "--grid", "8", "--out", str(path))
    if code == 2:  # refusing is acceptable too, if it says why
        assert err.startswith("lossviewer: error: --run: ")
        return
    assert code == 0, err
    rf = load_run(trained[0])
    assert load_network_landscape(path).network_slice.dataset.params == rf.dataset_params


# -- help -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command, example", [
    ("train", "lossviewer train --dataset moons --model mlp:16,16"),
    ("landscape", "lossviewer landscape --run moons-run.npz --directions pca"),
])
def test_help(capsys, command, example) -> None:
    code, out, err = run(capsys, command, "--help")
    assert code == 0 and err == ""
    assert out.startswith(f"usage: lossviewer {command}")
    assert "examples:" in out and example in out
    for flag in ("--dataset", "--model", "--steps", "--out", "--batch-size"):
        assert flag in out
