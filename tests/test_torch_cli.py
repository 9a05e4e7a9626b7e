"""``lossviewer landscape --torch-script FILE.py``, and checkpoint/resume of headless landscapes.

The torch tests skip without PyTorch; the resume test uses a built-in model and runs
``python -m lossviewer`` in a subprocess that it kills with SIGKILL half-way.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from lossviewer.cli import main
from lossviewer.core.plane_eval import Plane
from lossviewer.io.network_files import load_network_landscape, read_progress

LAYER_NAMES = ("train_loss", "train_acc", "val_loss", "val_acc")

MODEL = """\
import torch

def _xy(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g), torch.randint(0, 3, (n,), generator=g)

def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))

"""
TRAIN_ONLY = MODEL + "def data():\n    return _xy(40, 0)\n"
WITH_VAL = MODEL + "def data():\n    return _xy(40, 0), _xy(15, 1)\n"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def needs_torch():
    return pytest.importorskip("torch", reason="--torch-script needs PyTorch (the torch extra)")


def script(tmp_path, text: str, name: str = "model.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def read_npz(path) -> tuple[dict, dict]:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        arrays = {k: np.array(data[k]) for k in data.files if k != "meta"}
    return meta, arrays


def expect_error(capsys, argv, flag: str, *snippets: str) -> str:
    """Exit status 2 and one line on stderr naming ``flag``; returns stderr."""
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"lossviewer: error: {flag}: "), err
    for s in snippets:
        assert s in err, err
    return err


# -- --torch-script ----------------------------------------------------------------------


def test_torch_landscape_equals_the_evaluator(tmp_path, capsys) -> None:
    needs_torch()
    from lossviewer.compute.model_file import load_model_file
    from lossviewer.compute.torch_plane import TorchNetwork, TorchPlaneEvaluator

    path = script(tmp_path, TRAIN_ONLY)
    out_path = tmp_path / "out.npz"
    argv = ("landscape", "--torch-script", str(path), "--grid", "9", "--out", str(out_path))
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert f"saved {out_path}" in out and "9×9 grid" in out
    meta, arrays = read_npz(out_path)
    assert meta["complete"] is True and "done" not in arrays
    assert meta["dataset"] == {"name": "model-file", "params": {"script": str(path)}}
    assert meta["model"]["model"] == "torch:model.py"
    assert meta["surface"]["dtype"] == "float32"
    for k in LAYER_NAMES:
        assert arrays[k].shape == (9, 9), k
    assert np.all(np.isfinite(arrays["train_loss"])) and np.all(np.isfinite(arrays["train_acc"]))
    # data() brought no validation set: those layers are NaN
    assert np.all(np.isnan(arrays["val_loss"])) and np.all(np.isnan(arrays["val_acc"]))
    np.testing.assert_array_equal(arrays["xs"], np.linspace(-1, 1, 9))
    np.testing.assert_array_equal(arrays["ys"], np.linspace(-1, 1, 9))

    net = TorchNetwork(load_model_file(path))
    np.testing.assert_array_equal(arrays["center"], net.theta0())
    ev = TorchPlaneEvaluator(net, net.data("train"),
                             Plane(arrays["center"], arrays["d1"], arrays["d2"]), "float32")
    for j, i in [(0, 0), (4, 4), (8, 2), (3, 7)]:
        loss, acc = ev.direct(arrays["xs"][i], arrays["ys"][j])
        assert arrays["train_loss"][j, i] == pytest.approx(loss, rel=1e-5)
        assert arrays["train_acc"][j, i] == pytest.approx(acc, abs=1e-12)

    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "already complete" in out


def test_no_validation_set_is_not_reported_as_non_finite(tmp_path, capsys) -> None:
    needs_torch()
    path = script(tmp_path, TRAIN_ONLY)
    code, out, err = run(capsys, "landscape", "--torch-script", str(path), "--grid", "9",
                         "--out", str(tmp_path / "out.npz"))
    assert code == 0, err
    assert "non-finite" not in out, out


def test_torch_landscape_with_validation_and_options(tmp_path, capsys) -> None:
    needs_torch()
    from lossviewer.compute.model_file import load_model_file
    from lossviewer.compute.torch_plane import TorchNetwork, TorchPlaneEvaluator

    path = script(tmp_path, WITH_VAL)
    out_path = tmp_path / "val.npz"
    code, out, err = run(capsys, "landscape", "--torch-script", str(path), "--grid", "8,10",
                         "--directions", "random", "--direction-seed", "3", "--xrange", "-2,1",
                         "--dtype", "float64", "--bn-mode", "train", "--device", "cpu",
                         "--out", str(out_path))
    assert code == 0, err
    assert "non-finite" not in out
    meta, arrays = read_npz(out_path)
    assert arrays["val_loss"].shape == (10, 8)
    for k in LAYER_NAMES:
        assert np.all(np.isfinite(arrays[k])), k
    assert meta["directions"]["spec"]["method"] == "random"
    assert meta["directions"]["spec"]["seed"] == 3
    np.testing.assert_array_equal(arrays["xs"], np.linspace(-2, 1, 8))
    net = TorchNetwork(load_model_file(path))
    ev = TorchPlaneEvaluator(net, net.data("val"),
                             Plane(arrays["center"], arrays["d1"], arrays["d2"]), "float64")
    loss, acc = ev.direct(arrays["xs"][5], arrays["ys"][2])
    assert arrays["val_loss"][2, 5] == pytest.approx(loss, rel=1e-12)
    assert arrays["val_acc"][2, 5] == pytest.approx(acc, abs=1e-12)


def test_changed_script_is_recomputed(tmp_path, capsys) -> None:
    """The run key holds the script's digest: an edited file is not "already complete"."""
    needs_torch()
    path = script(tmp_path, TRAIN_ONLY)
    argv = ("landscape", "--torch-script", str(path), "--grid", "8",
            "--out", str(tmp_path / "o.npz"))
    assert run(capsys, *argv)[0] == 0
    path.write_text(TRAIN_ONLY.replace("manual_seed(0)", "manual_seed(1)"))
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "already complete" not in out and "saved" in out


def test_hessian_directions_with_a_model_file(tmp_path, capsys) -> None:
    needs_torch()
    path = script(tmp_path, TRAIN_ONLY)
    code, out, err = run(capsys, "landscape", "--torch-script", str(path), "--grid", "8",
                         "--directions", "hessian", "--out", str(tmp_path / "h.npz"))
    assert code == 0, err


def test_raising_model_names_the_script(tmp_path, capsys) -> None:
    needs_torch()
    path = script(tmp_path, """\
        def model():
            raise RuntimeError("no weights here")

        def data():
            return None
        """, name="broken.py")
    err = expect_error(capsys, ("landscape", "--torch-script", str(path), "--grid", "9",
                                "--out", str(tmp_path / "o.npz")), "--torch-script",
                       "model() in broken.py raised RuntimeError: no weights here",
                       "(--traceback shows where)")
    assert "Traceback" not in err
    assert not (tmp_path / "o.npz").exists()


def test_syntax_error_with_traceback(tmp_path, capsys) -> None:
    needs_torch()
    path = script(tmp_path, "def model(:\n    pass\n", name="typo.py")
    argv = ("landscape", "--torch-script", str(path), "--grid", "9",
            "--out", str(tmp_path / "o.npz"))
    expect_error(capsys, argv, "--torch-script", "typo.py has a syntax error at line 1",
                 "--traceback")
    code, out, err = run(capsys, *argv, "--traceback")
    assert code == 2 and out == ""
    lines = err.rstrip("\n").split("\n")
    assert len(lines) > 2
    assert lines[-1].startswith("lossviewer: error: --torch-script: typo.py has a syntax error "
                                "at line 1"), err
    assert "(--traceback shows where)" not in lines[-1]
    head = "\n".join(lines[:-1])
    assert "Traceback" in head and "SyntaxError" in head and "typo.py" in head


def test_time_limit(tmp_path, capsys) -> None:
    needs_torch()
    path = script(tmp_path, "import time\ntime.sleep(10)\n", name="sleepy.py")
    start = time.monotonic()
    expect_error(capsys, ("landscape", "--torch-script", str(path), "--timeout", "1",
                          "--grid", "9", "--out", str(tmp_path / "o.npz")),
                 "--torch-script", "sleepy.py did not finish within 1 s")
    assert time.monotonic() - start < 6


def test_without_torch(tmp_path, capsys, monkeypatch) -> None:
    path = script(tmp_path, TRAIN_ONLY)
    real = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    expect_error(capsys, ("landscape", "--torch-script", str(path), "--grid", "9",
                          "--out", str(tmp_path / "o.npz")),
                 "--torch-script", "pip install")


@pytest.mark.parametrize(("extra", "flag"), [
    (("--dataset", "moons"), "--dataset"),
    (("--model", "mlp:8"), "--model"),
    (("--steps", "10"), "--steps"),
    (("--optimizer", "adam"), "--optimizer"),
    (("--samples", "100"), "--samples"),
    (("--loss", "mse"), "--loss"),
])
def test_training_and_data_flags_are_refused(tmp_path, capsys, extra, flag) -> None:
    path = script(tmp_path, TRAIN_ONLY)
    expect_error(capsys, ("landscape", "--torch-script", str(path), *extra, "--grid", "9",
                          "--out", str(tmp_path / "o.npz")),
                 flag, "does not apply with --torch-script")


@pytest.mark.parametrize("method", ["pca", "interp"])
def test_directions_needing_a_run_are_refused(tmp_path, capsys, method) -> None:
    path = script(tmp_path, TRAIN_ONLY)
    expect_error(capsys, ("landscape", "--torch-script", str(path), "--directions", method,
                          "--grid", "9", "--out", str(tmp_path / "o.npz")),
                 "--directions", f"'{method}' needs a training run")


@pytest.mark.parametrize("value", ["0", "-3", "abc"])
def test_bad_timeout(tmp_path, capsys, value) -> None:
    path = script(tmp_path, TRAIN_ONLY)
    expect_error(capsys, ("landscape", "--torch-script", str(path), "--timeout", value,
                          "--grid", "9", "--out", str(tmp_path / "o.npz")), "--timeout")


def test_cuda_without_cuda(tmp_path, capsys) -> None:
    torch = needs_torch()
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    path = script(tmp_path, TRAIN_ONLY)
    expect_error(capsys, ("landscape", "--torch-script", str(path), "--device", "cuda",
                          "--grid", "9", "--out", str(tmp_path / "o.npz")),
                 "--device", "no CUDA device")


def test_missing_script(tmp_path, capsys) -> None:
    needs_torch()
    expect_error(capsys, ("landscape", "--torch-script", str(tmp_path / "nope.py"),
                          "--grid", "9", "--out", str(tmp_path / "o.npz")),
                 "--torch-script", "no such file")


# -- checkpoint and resume (built-in model, in a subprocess) ------------------------------

RESUME_GRID = 121
RESUME = ("landscape", "--dataset", "digits", "--samples", "400", "--model", "mlp:16",
          "--steps", "20", "--grid", str(RESUME_GRID), "--dtype", "float64")


def _lossviewer(*argv: str, out) -> list[str]:
    return [sys.executable, "-m", "lossviewer", *argv, "--out", str(out)]


def _progress(path, grid: int = RESUME_GRID):
    """The done mask of a partial file (None: no file, or not readable as one yet)."""
    if not os.path.exists(path):
        return None
    try:
        meta, _ = read_npz(path)
    except (OSError, ValueError, KeyError):
        return None
    complete, _, done = read_progress(path, meta.get("run_key", ""))
    return np.ones((grid, grid), bool) if complete else done


def _finished(cmd: list[str], cwd) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    return proc


def _assert_same(a: dict, b: dict) -> None:
    for k in ("xs", "ys", "center", "d1", "d2"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    for k in LAYER_NAMES:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=0, err_msg=k)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(tmp_path) -> None:
    # the reference: the same command, never interrupted
    ref_path = tmp_path / "ref.npz"
    _finished(_lossviewer(*RESUME, out=ref_path), tmp_path)
    ref_meta, ref = read_npz(ref_path)
    assert ref_meta["complete"] is True and "done" not in ref
    total = RESUME_GRID * RESUME_GRID

    # start it again into another file; kill it once a checkpoint holds part of the grid
    part = tmp_path / "part.npz"
    proc = subprocess.Popen(_lossviewer(*RESUME, out=part), cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            done = _progress(part)
            if done is not None and 0 < done.sum() < total:
                seen = int(done.sum())
                break
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert seen is not None, "the run finished (or never checkpointed) before it was killed"
    print(f"killed after a checkpoint with {seen} of {total} points")
    assert proc.returncode == -signal.SIGKILL

    # the partial file keeps every finished point, and only those
    meta, partial = read_npz(part)
    assert meta["complete"] is False
    assert meta["run_key"] == ref_meta["run_key"]
    done = partial["done"]
    assert done.shape == (RESUME_GRID, RESUME_GRID) and done.dtype == bool
    assert seen <= done.sum() < total
    for k in LAYER_NAMES:
        assert np.all(np.isfinite(partial[k][done])), k
        assert np.all(np.isnan(partial[k][~done])), k
        np.testing.assert_allclose(partial[k][done], ref[k][done], rtol=1e-12, atol=0,
                                   err_msg=k)
    with pytest.raises(ValueError, match="unfinished"):
        load_network_landscape(part)
    other = tmp_path / "other.npz"
    shutil.copyfile(part, other)

    # the same command completes it, from where it stopped
    proc = _finished(_lossviewer(*RESUME, out=part), tmp_path)
    assert f"resuming {part}: {int(done.sum()):,} of {total:,} grid points already done" \
        in proc.stderr, proc.stderr
    meta, resumed = read_npz(part)
    assert meta["complete"] is True and "done" not in resumed
    _assert_same(resumed, ref)
    proc = _finished(_lossviewer(*RESUME, out=part), tmp_path)
    assert "already complete" in proc.stdout

    # other arguments into a partial file: computed from scratch, nothing reused
    proc = _finished(_lossviewer(*RESUME, "--direction-seed", "1", out=other), tmp_path)
    assert "resuming" not in proc.stderr, proc.stderr
    meta, fresh = read_npz(other)
    assert meta["complete"] is True and meta["run_key"] != ref_meta["run_key"]
    assert np.all(np.isfinite(fresh["train_loss"])) and np.all(np.isfinite(fresh["val_loss"]))
    np.testing.assert_array_equal(fresh["center"], ref["center"])
    assert not np.array_equal(fresh["d1"], ref["d1"])
    nslice = load_network_landscape(other).network_slice
    jj, ii = np.nonzero(done)
    pick = [k for k in np.linspace(0, jj.size - 1, 6).astype(int)
            if (jj[k], ii[k]) != (RESUME_GRID // 2, RESUME_GRID // 2)]
    for split in ("train", "val"):
        ev = nslice.evaluator(split, "float64")
        want, _ = ev.evaluate(fresh["xs"][ii[pick]], fresh["ys"][jj[pick]])
        got = fresh[f"{split}_loss"][jj[pick], ii[pick]]
        np.testing.assert_allclose(got, want, rtol=1e-10, err_msg=split)
        assert not np.allclose(got, partial[f"{split}_loss"][jj[pick], ii[pick]], rtol=1e-6)
