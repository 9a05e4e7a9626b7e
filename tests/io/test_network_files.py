"""Run files and network landscape files: round trips, atomic writes, one-line errors."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import numpy as np
import pytest

from lossviewer.compute.network_jobs import (
    NetworkRequest,
    NetworkSurfaceRequest,
    network_job,
    network_surface_job,
)
from lossviewer.core.directions import DirectionSpec
from lossviewer.core.grid import Surface
from lossviewer.core.iteration import run_to_end
from lossviewer.core.network import ModelSpec
from lossviewer.core.network_landscape import LAYERS, NetworkSlice
from lossviewer.core.training import TrainingConfig
from lossviewer.io.network_files import (
    FORMAT_VERSION,
    LANDSCAPE_FORMAT,
    RUN_FORMAT,
    load_network_landscape,
    load_run,
    save_network_landscape,
    save_run,
)
from lossviewer.io.surface_npz import save_surface

RUN_ARRAYS = ("init", "final", "checkpoints", "checkpoint_steps", "train_loss", "train_acc",
              "val_loss", "val_acc", "lr")
MOONS = {"n_samples": 80, "noise": 0.15, "seed": 3}
MODEL = ModelSpec((6, 4), "tanh", "cross_entropy", 1e-3)
TRAINING = TrainingConfig.create("adam", {"lr": 0.05, "betas": (0.9, 0.99)}, steps=30,
                                 checkpoint_every=4, seed=2)


@pytest.fixture(scope="module")
def nslice() -> NetworkSlice:
    req = NetworkRequest.create("moons", MOONS, model=MODEL, training=TRAINING,
                                directions=DirectionSpec("filter", seed=5), dtype="float64")
    return run_to_end(network_job(req))


@pytest.fixture(scope="module")
def surface(nslice):
    req = NetworkSurfaceRequest.create(nslice, (-1.0, 1.0), (-0.5, 1.5), (9, 8), "float64")
    return run_to_end(network_surface_job(req))


@pytest.fixture
def run_path(tmp_path, nslice):
    path = tmp_path / "run.npz"
    save_run(path, nslice.run, nslice.dataset, nslice.network)
    return path


@pytest.fixture
def landscape_path(tmp_path, nslice, surface):
    path = tmp_path / "landscape.npz"
    save_network_landscape(path, surface, nslice)
    return path


def _rewrite(src, dst, meta: dict | None = None, drop: tuple[str, ...] = (),
             **arrays: np.ndarray) -> None:
    """Copy a saved file, changing its metadata or arrays (a damaged or newer file)."""
    with np.load(src, allow_pickle=False) as data:
        items = {k: np.array(data[k]) for k in data.files}
    header = json.loads(str(items["meta"]))
    header.update(meta or {})
    items["meta"] = np.array(json.dumps(header))
    for k in drop:
        del items[k]
    items.update(arrays)
    with open(dst, "wb") as fh:
        np.savez(fh, **items)


def _same_values(config: TrainingConfig) -> TrainingConfig:
    """The config with list-valued hyperparameters as tuples (JSON stores lists)."""
    hyper = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in config.hyper)
    return replace(config, hyper=hyper)


def _error(load, path) -> str:
    with pytest.raises(ValueError) as info:
        load(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(os.fspath(path) + ":"), msg
    return msg


# -- run files --------------------------------------------------------------------------


def test_run_round_trip(run_path, nslice) -> None:
    run, ds = nslice.run, nslice.dataset
    rf = load_run(run_path)
    for k in RUN_ARRAYS:
        a, b = getattr(rf.run, k), getattr(run, k)
        assert a.shape == b.shape and a.dtype == b.dtype, k
        np.testing.assert_array_equal(a, b, err_msg=k)
    assert _same_values(rf.run.config) == run.config
    assert dict(rf.run.config.hyper)["lr"] == 0.05 and rf.run.config.steps == 30
    assert rf.run.status == run.status == "finished"
    assert rf.model == MODEL
    assert rf.dataset_name == "moons"
    assert rf.dataset_params == ds.params
    assert rf.dataset_params["n_samples"] == 80 and rf.dataset_params["seed"] == 3


def test_run_file_rebuilds_identical_data_and_model(run_path, nslice) -> None:
    rf = load_run(run_path)
    ds, net = nslice.dataset, nslice.network
    again = rf.dataset()
    for k in ("X_train", "y_train", "X_val", "y_val"):
        np.testing.assert_array_equal(getattr(again, k), getattr(ds, k), err_msg=k)
    rebuilt = rf.network()
    assert rebuilt.sizes == net.sizes == (2, 6, 4, 1)
    assert rebuilt.n_params == net.n_params == rf.run.final.size
    assert rebuilt.spec == net.spec
    # the final parameters give the loss the run recorded for its last step
    t = rebuilt.targets(again.y_train)
    assert rebuilt.loss_value(rf.run.final, again.X_train, t) == pytest.approx(
        float(rf.run.train_loss[-1]), rel=1e-12)


def test_run_file_is_not_pickled(run_path) -> None:
    with np.load(run_path, allow_pickle=False) as data:
        assert sorted(data.files) == sorted(("meta", *RUN_ARRAYS))
        header = json.loads(str(data["meta"]))
    assert header["format"] == RUN_FORMAT and header["version"] == FORMAT_VERSION


# -- landscape files --------------------------------------------------------------------


def test_landscape_round_trip(landscape_path, nslice, surface) -> None:
    lf = load_network_landscape(landscape_path)
    s, d = lf.surface, nslice.directions
    np.testing.assert_array_equal(s.xs, surface.xs)
    np.testing.assert_array_equal(s.ys, surface.ys)
    assert set(s.layers) == set(LAYERS)
    for k in LAYERS:
        assert s.layers[k].shape == (8, 9)
        np.testing.assert_array_equal(s.layers[k], surface.layers[k], err_msg=k)
    ld = lf.network_slice.directions
    np.testing.assert_array_equal(ld.d1, d.d1)
    np.testing.assert_array_equal(ld.d2, d.d2)
    np.testing.assert_array_equal(ld.center, d.center)
    assert ld.spec == d.spec and ld.labels == d.labels
    assert s.meta["resolution"] == (9, 8) and s.meta["xrange"] == (-1.0, 1.0)
    assert s.meta["dtype"] == "float64" and lf.network_slice.dtype == "float64"
    assert lf.network_slice.network.spec == MODEL
    assert lf.network_slice.dataset.params == nslice.dataset.params
    assert lf.meta["format"] == LANDSCAPE_FORMAT


def test_slice_from_file_evaluates_the_stored_layers(landscape_path) -> None:
    lf = load_network_landscape(landscape_path)
    s, sl = lf.surface, lf.network_slice
    for split in ("train", "val"):
        ev = sl.evaluator(split, "float64")
        for j, i in ((0, 0), (3, 4), (7, 8), (5, 1)):
            loss, acc = ev.evaluate(np.array([s.xs[i]]), np.array([s.ys[j]]))
            assert abs(loss[0] - s.layers[f"{split}_loss"][j, i]) < 1e-10
            assert abs(acc[0] - s.layers[f"{split}_acc"][j, i]) < 1e-10
            # and a plain forward pass at θ(a, b) agrees
            ref, ref_acc = ev.direct(s.xs[i], s.ys[j])
            assert abs(ref - s.layers[f"{split}_loss"][j, i]) < 1e-10
            assert ref_acc == pytest.approx(s.layers[f"{split}_acc"][j, i], abs=1e-12)


def test_landscape_keeps_the_checkpoints(landscape_path, nslice) -> None:
    run = load_network_landscape(landscape_path).network_slice.run
    assert run is not None
    np.testing.assert_array_equal(run.checkpoints, nslice.run.checkpoints)
    np.testing.assert_array_equal(run.checkpoint_steps, nslice.run.checkpoint_steps)
    assert run.checkpoint_steps[0] == 0 and run.checkpoint_steps[-1] == TRAINING.steps
    np.testing.assert_array_equal(run.final, nslice.run.final)
    assert _same_values(run.config) == nslice.run.config


@pytest.mark.parametrize("what", ["run", "landscape"])
def test_tuple_hyperparameters_come_back_as_tuples(run_path, landscape_path, nslice,
                                                   what) -> None:
    if what == "run":
        config = load_run(run_path).run.config
    else:
        config = load_network_landscape(landscape_path).network_slice.run.config
    assert dict(config.hyper)["betas"] == (0.9, 0.99)
    assert config == nslice.run.config
    hash(config)  # frozen requests holding it must stay hashable


def test_landscape_without_a_run(tmp_path, nslice, surface) -> None:
    bare = NetworkSlice(nslice.dataset, nslice.network, nslice.directions, None,
                        dtype="float64")
    path = tmp_path / "bare.npz"
    save_network_landscape(path, surface, bare)
    with np.load(path, allow_pickle=False) as data:
        assert "checkpoints" not in data.files
    lf = load_network_landscape(path)
    assert lf.network_slice.run is None
    np.testing.assert_array_equal(lf.surface.layers["val_loss"], surface.layers["val_loss"])


# -- atomic writes ------------------------------------------------------------------------


def test_writes_leave_no_temporary_files(tmp_path, nslice, surface) -> None:
    save_run(tmp_path / "r.bin", nslice.run, nslice.dataset, nslice.network)
    save_network_landscape(tmp_path / "l.bin", surface, nslice)
    # exactly the names given (np.savez would append .npz to a plain name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.bin", "r.bin"]
    load_run(tmp_path / "r.bin")
    load_network_landscape(tmp_path / "l.bin")


@pytest.mark.parametrize("what", ["run", "landscape"])
def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch, nslice, surface, what) -> None:
    path = tmp_path / "out.npz"

    def save() -> None:
        if what == "run":
            save_run(path, nslice.run, nslice.dataset, nslice.network)
        else:
            save_network_landscape(path, surface, nslice)

    save()
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OSError, match="No space"):
        save()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]


# -- bad inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize("load, what", [(load_run, "run"),
                                        (load_network_landscape, "network landscape")])
def test_not_an_npz(tmp_path, load, what) -> None:
    path = tmp_path / "notes.npz"
    path.write_text("these are not the arrays you are looking for\n" * 3)
    msg = _error(load, path)
    assert f"not a LossViewer {what} file" in msg


@pytest.mark.parametrize("load", [load_run, load_network_landscape])
def test_truncated_npz(tmp_path, run_path, load) -> None:
    path = tmp_path / "cut.npz"
    path.write_bytes(run_path.read_bytes()[:200])
    assert "not a LossViewer" in _error(load, path)


@pytest.mark.parametrize("load", [load_run, load_network_landscape])
def test_surface_file_of_another_format(tmp_path, load) -> None:
    path = tmp_path / "surface.npz"
    xs, ys = np.linspace(0, 1, 9), np.linspace(0, 1, 8)
    save_surface(path, Surface(xs, ys, np.zeros((8, 9)), {"landscape": "rosenbrock"}))
    msg = _error(load, path)
    assert "not a LossViewer" in msg and "'lossviewer-surface'" in msg


@pytest.mark.parametrize("load", [load_run, load_network_landscape])
def test_pickled_object_array_is_refused(tmp_path, load) -> None:
    npy = tmp_path / "objects.npy"
    np.save(npy, np.array([{"format": RUN_FORMAT}, None], dtype=object), allow_pickle=True)
    msg = _error(load, npy)
    assert "not a LossViewer" in msg and "pickle" in msg.lower()
    # an npz whose metadata is a pickled object: its arrays are never unpickled either
    npz = tmp_path / "objects.npz"
    with open(npz, "wb") as fh:
        np.savez(fh, meta=np.array([{"format": RUN_FORMAT}], dtype=object))
    msg = _error(load, npz)
    assert "not a LossViewer" in msg


def test_npz_without_metadata(tmp_path) -> None:
    path = tmp_path / "plain.npz"
    with open(path, "wb") as fh:
        np.savez(fh, final=np.zeros(3))
    assert "no metadata" in _error(load_run, path)


def test_metadata_not_json(tmp_path, run_path) -> None:
    path = tmp_path / "bad.npz"
    with np.load(run_path, allow_pickle=False) as data:
        items = {k: np.array(data[k]) for k in data.files}
    items["meta"] = np.array("{not json")
    with open(path, "wb") as fh:
        np.savez(fh, **items)
    assert "not valid JSON" in _error(load_run, path)


def test_newer_version_is_refused(tmp_path, run_path, landscape_path) -> None:
    newer = FORMAT_VERSION + 1
    for src, load, what in ((run_path, load_run, "run"),
                            (landscape_path, load_network_landscape, "network landscape")):
        path = tmp_path / f"newer-{what[:3]}.npz"
        _rewrite(src, path, meta={"version": newer})
        msg = _error(load, path)
        assert f"{what} file version {newer}" in msg and "newer" in msg
        assert "update LossViewer" in msg


def test_missing_array(tmp_path, run_path, landscape_path) -> None:
    path = tmp_path / "no-final.npz"
    _rewrite(run_path, path, drop=("final",))
    assert "lacks the array 'final'" in _error(load_run, path)
    path = tmp_path / "no-val-acc.npz"
    _rewrite(landscape_path, path, drop=("val_acc",))
    assert "lacks the array 'val_acc'" in _error(load_network_landscape, path)


def test_run_parameters_of_another_size(tmp_path, run_path) -> None:
    path = tmp_path / "short.npz"
    with np.load(run_path, allow_pickle=False) as data:
        final = np.array(data["final"])
    _rewrite(run_path, path, final=final[:-1])
    msg = _error(load_run, path)
    assert "damaged run file" in msg and "do not match its model" in msg


def test_layer_shape_mismatch(tmp_path, landscape_path) -> None:
    path = tmp_path / "bad-layer.npz"
    _rewrite(landscape_path, path, train_acc=np.zeros((9, 8)))
    msg = _error(load_network_landscape, path)
    assert "damaged network landscape file" in msg
    assert "layer train_acc has shape (9, 8)" in msg and "8×9" in msg


def test_plane_of_another_model_size(tmp_path, landscape_path, nslice) -> None:
    path = tmp_path / "bad-plane.npz"
    n = nslice.network.n_params
    _rewrite(landscape_path, path, center=np.zeros(n + 3), d1=np.ones(n + 3),
             d2=np.ones(n + 3))
    msg = _error(load_network_landscape, path)
    assert "damaged network landscape file" in msg
    assert f"its plane has {n + 3} parameters, its model {n}" in msg


def test_run_file_opened_as_landscape_says_what_it_is(run_path, landscape_path) -> None:
    msg = _error(load_network_landscape, run_path)
    assert "not a LossViewer network landscape file" in msg and f"'{RUN_FORMAT}'" in msg
    msg = _error(load_run, landscape_path)
    assert "not a LossViewer run file" in msg and f"'{LANDSCAPE_FORMAT}'" in msg


def test_missing_file_is_an_os_error(tmp_path) -> None:
    # the command line reports it as "cannot read"; it is not a format error
    for load in (load_run, load_network_landscape):
        with pytest.raises(OSError):
            load(tmp_path / "nope.npz")
