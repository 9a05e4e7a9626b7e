"""``lossviewer landscape --workers N | --scheduler ADDRESS``: the grid on a Dask cluster.

Results are compared with the same command run in this process (float64); the
interrupt test sends Ctrl+C (SIGINT) to a subprocess and counts what the resumed
run sends to the cluster. Without the 'cluster' extra only the "what to install"
tests run.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from lossviewer.cli import main
from tests.test_torch_cli import _finished, _progress, read_npz

LAYER_NAMES = ("train_loss", "train_acc", "val_loss", "val_acc")
BASE = ("landscape", "--dataset", "digits", "--samples", "300", "--model", "mlp:16",
        "--steps", "20", "--dtype", "float64")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def needs_cluster():
    return pytest.importorskip("distributed", reason="needs the 'cluster' extra (Dask)")


def assert_same_file(a, b, rtol=1e-12) -> None:
    meta_a, arr_a = read_npz(a)
    meta_b, arr_b = read_npz(b)
    assert meta_a["complete"] and meta_b["complete"]
    assert meta_a["run_key"] == meta_b["run_key"]  # a cluster run resumes a local one
    for k in ("xs", "ys", "center", "d1", "d2"):
        np.testing.assert_array_equal(arr_a[k], arr_b[k], err_msg=k)
    for k in LAYER_NAMES:
        assert np.all(np.isfinite(arr_a[k])), k
        np.testing.assert_allclose(arr_a[k], arr_b[k], rtol=rtol, atol=0, err_msg=k)


# -- options, with or without Dask ---------------------------------------------------------


@pytest.mark.parametrize("extra, flag, snippet", [
    (("--tile", "8"), "--tile", "only with --scheduler or --workers"),
    (("--workers", "0"), "--workers", "[1, 64]"),
    (("--workers", "two"), "--workers", "whole number"),
    (("--workers", "2", "--tile", "0"), "--tile", "1 to 1024"),
    (("--workers", "2", "--scheduler", "h:1"), "--scheduler", "not allowed with"),
])
def test_bad_cluster_options(capsys, tmp_path, extra, flag, snippet) -> None:
    out = tmp_path / "o.npz"
    code, _, err = run(capsys, *BASE, "--grid", "9", *extra, "--out", str(out))
    assert code == 2
    assert flag in err and snippet in err, err
    assert not out.exists()


def test_without_the_extra_the_options_say_what_to_install(capsys, tmp_path,
                                                            monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    out = tmp_path / "o.npz"
    for flag, value in (("--workers", "2"), ("--scheduler", "tcp://127.0.0.1:8786")):
        code, _, err = run(capsys, *BASE, "--grid", "9", flag, value, "--out", str(out))
        assert code == 2
        assert f"{flag}: cluster computing needs the optional extra: pip install " \
               "'lossviewer[cluster]'" in err, err
        assert not out.exists()
    # and nothing else changed: the same command without the option runs here
    code, _, _ = run(capsys, *BASE, "--grid", "9", "--out", str(out))
    assert code == 0 and out.exists()


# -- on a cluster --------------------------------------------------------------------------


def test_workers_compute_the_same_file(capsys, tmp_path) -> None:
    needs_cluster()
    local, clustered = tmp_path / "local.npz", tmp_path / "cluster.npz"
    assert run(capsys, *BASE, "--grid", "33", "--out", str(local))[0] == 0
    code, out, err = run(capsys, *BASE, "--grid", "33", "--workers", "2", "--tile", "8",
                         "--out", str(clustered))
    assert code == 0, err
    assert "local cluster: 2 workers" in err
    assert "cluster: 1,089 grid points in" in err and "(tiles of 8×8)" in err
    assert f"saved {clustered}" in out
    assert_same_file(clustered, local)


def test_scheduler_address(capsys, tmp_path) -> None:
    needs_cluster()
    from lossviewer.compute.cluster import ClusterConnection

    local, clustered = tmp_path / "local.npz", tmp_path / "cluster.npz"
    assert run(capsys, *BASE, "--grid", "17", "--out", str(local))[0] == 0
    with ClusterConnection.start_local(2) as cluster:
        address = cluster.info().address
        code, _, err = run(capsys, *BASE, "--grid", "17", "--scheduler", address,
                           "--out", str(clustered))
        assert code == 0, err
        assert f"scheduler {address}: 2 workers" in err
        assert cluster.info().workers == 2  # the command leaves someone else's cluster up
    assert_same_file(clustered, local)


def test_no_scheduler_at_the_address(capsys, tmp_path) -> None:
    needs_cluster()
    out = tmp_path / "o.npz"
    code, _, err = run(capsys, *BASE, "--grid", "9", "--scheduler", "127.0.0.1:9",
                       "--out", str(out))
    assert code == 2
    assert "--scheduler: no Dask scheduler answers at tcp://127.0.0.1:9" in err
    assert not out.exists()


GRID = 81
# several seconds on two workers: checkpoints (every 2 s) catch it part-way
SLOW = ("landscape", "--dataset", "digits", "--samples", "1000", "--model", "mlp:64,64",
        "--steps", "10", "--dtype", "float64", "--grid", str(GRID))


def _cmd(*argv: str, out) -> list[str]:
    return [sys.executable, "-m", "lossviewer", *argv, "--out", str(out)]


def _done(path):
    return _progress(path, GRID)


@pytest.mark.slow
def test_interrupted_cluster_run_resumes_without_recomputing(tmp_path) -> None:
    needs_cluster()
    ref = tmp_path / "ref.npz"
    _finished(_cmd(*SLOW, out=ref), tmp_path)  # a process like the others (same BLAS set-up)
    total = GRID * GRID

    # Ctrl+C once a checkpoint holds part of the grid
    part = tmp_path / "part.npz"
    proc = subprocess.Popen(_cmd(*SLOW, "--workers", "2", "--tile", "4", out=part),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    seen = None
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            done = _done(part)
            if done is not None and 0 < done.sum() < total:
                seen = int(done.sum())
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert seen is not None, f"the run finished or never checkpointed before Ctrl+C:\n{err}"
    assert proc.returncode != 0
    done = _done(part)
    assert done is not None and seen <= done.sum() < total
    finished = int(done.sum())

    # the same command sends only the missing points, and ends with the uninterrupted file
    proc = subprocess.run(_cmd(*SLOW, "--workers", "2", "--tile", "4", out=part), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"resuming {part}: {finished:,} of {total:,} grid points already done" in proc.stderr
    sent = re.search(r"cluster: ([\d,]+) grid points in", proc.stderr)
    assert sent and int(sent.group(1).replace(",", "")) == total - finished, proc.stderr
    assert_same_file(part, ref)


# -- a user's model file on the workers ----------------------------------------------------

MODEL = """\
import os
import torch

def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))

def data():
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(60, 2, generator=g), torch.randint(0, 3, (60,), generator=g)
    return (X[:40], y[:40]), (X[40:], y[40:])
"""


def test_model_file_on_the_workers(capsys, tmp_path) -> None:
    needs_cluster()
    pytest.importorskip("torch", reason="--torch-script needs PyTorch (the torch extra)")
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    args = ("landscape", "--torch-script", str(path), "--grid", "15", "--dtype", "float64")
    local, clustered = tmp_path / "local.npz", tmp_path / "cluster.npz"
    assert run(capsys, *args, "--out", str(local))[0] == 0
    code, _, err = run(capsys, *args, "--workers", "2", "--out", str(clustered))
    assert code == 0, err
    assert_same_file(clustered, local)


def test_model_file_failing_on_the_workers(capsys, tmp_path) -> None:
    needs_cluster()
    pytest.importorskip("torch", reason="--torch-script needs PyTorch (the torch extra)")
    # fine here, broken on the workers (they run with LOSSVIEWER_THREADS set)
    path = tmp_path / "model.py"
    path.write_text(MODEL + textwrap.dedent("""
        if os.environ.get("LOSSVIEWER_THREADS"):
            raise RuntimeError("no GPU driver on this node")
        """))
    out = tmp_path / "o.npz"
    code, _, err = run(capsys, "landscape", "--torch-script", str(path), "--grid", "9",
                       "--workers", "2", "--out", str(out))
    assert code == 2
    line = [ln for ln in err.splitlines() if "error" in ln][-1]
    assert "--workers: a worker failed: running model.py raised RuntimeError: no GPU driver " \
           "on this node; run the same command again to continue" in line, err


def test_cuda_is_asked_of_the_workers_not_of_this_machine(capsys, tmp_path) -> None:
    needs_cluster()
    torch = pytest.importorskip("torch", reason="--torch-script needs PyTorch (the torch extra)")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the workers would use it")
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    out = tmp_path / "o.npz"
    # this machine draws the directions on its CPU; the workers are asked for CUDA
    code, _, err = run(capsys, "landscape", "--torch-script", str(path), "--grid", "9",
                       "--device", "cuda", "--workers", "1", "--out", str(out))
    assert code == 2
    assert "--workers: a worker failed: device 'cuda' asked for, but torch sees no CUDA " \
           "device" in err, err
    # without a cluster the same request fails here, before any work
    code, _, err = run(capsys, "landscape", "--torch-script", str(path), "--grid", "9",
                       "--device", "cuda", "--out", str(out))
    assert code == 2 and "--device: device 'cuda' asked for" in err, err


@pytest.mark.slow
def test_lost_scheduler_keeps_the_tiles_and_another_cluster_finishes(tmp_path) -> None:
    needs_cluster()
    from tests.dask_processes import scheduler_and_worker

    part = tmp_path / "part.npz"
    with scheduler_and_worker() as (address, sched):
        proc = subprocess.Popen(_cmd(*SLOW, "--scheduler", address, "--tile", "4", out=part),
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            done = _done(part)
            if done is not None and 0 < done.sum() < GRID * GRID:
                break
            time.sleep(0.05)
        sched.kill()  # the scheduler's machine goes away
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert err.strip().splitlines()[-1].startswith(
        "lossviewer: error: --scheduler: lost the connection to the scheduler; the finished "
        "tiles are kept; run the same command again to continue"), err
    assert "Traceback" not in err, err
    done = _done(part)
    assert done is not None and 0 < done.sum() < GRID * GRID
    finished = int(done.sum())
    # finished on a local cluster instead (the run key ignores where it runs)
    proc = subprocess.run(_cmd(*SLOW, "--workers", "2", out=part), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"{finished:,} of {GRID * GRID:,} grid points already done" in proc.stderr
    ref = tmp_path / "ref.npz"
    _finished(_cmd(*SLOW, out=ref), tmp_path)  # a process like the others (same BLAS set-up)
    assert_same_file(part, ref)


def test_an_unseeded_model_file_is_refused_by_the_workers(capsys, tmp_path) -> None:
    needs_cluster()
    pytest.importorskip("torch", reason="--torch-script needs PyTorch (the torch extra)")
    # data drawn without a seed: every process that runs the file gets other data, so a
    # worker's grid would silently belong to another dataset
    path = tmp_path / "model.py"
    path.write_text(MODEL.replace("g = torch.Generator().manual_seed(1)",
                                  "g = torch.Generator()\n    g.seed()"))
    out = tmp_path / "o.npz"
    code, _, err = run(capsys, "landscape", "--torch-script", str(path), "--grid", "9",
                       "--workers", "1", "--out", str(out))
    assert code == 2
    assert "--workers: a worker failed: running model.py on this worker gives other data or " \
           "model buffers" in err and "seed its random numbers" in err, err


def test_the_packaged_app_says_to_use_a_pip_install(monkeypatch) -> None:
    from lossviewer.compute.cluster import cluster_hint

    assert "pip install 'lossviewer[cluster]'" in cluster_hint()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert cluster_hint().startswith("the packaged LossViewer does not include Dask")
