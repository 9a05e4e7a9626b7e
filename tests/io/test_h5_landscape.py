"""HDF5 landscapes: our round trip, the loss-landscape tool's layout both ways, bad files."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from lossviewer.core.network_landscape import LAYERS, NetworkSurface
from lossviewer.io import h5_landscape
from lossviewer.io.h5_landscape import (
    H5_HINT,
    h5_available,
    load_h5_landscape,
    save_h5_landscape,
    save_h5_line,
)

h5py = pytest.importorskip("h5py")

NX, NY = 7, 5  # not square: a transposed reading cannot pass


def loss_at(x, y):
    """Positive, like a loss, and not symmetric in x and y, so orientation mistakes show."""
    return 0.2 + (x - 0.3) ** 2 + 2.0 * (y + 0.1) ** 2 + 0.1 * x


def acc_at(x, y):
    """A fraction, like n_correct / n."""
    return np.round(0.5 + 0.2 * np.tanh(x - 2 * y), 3)


def make_surface() -> NetworkSurface:
    xs = np.linspace(-1.0, 2.0, NX)
    ys = np.linspace(-0.5, 1.5, NY)
    X, Y = np.meshgrid(xs, ys)
    layers = {"train_loss": loss_at(X, Y), "train_acc": acc_at(X, Y),
              "val_loss": 1.5 * loss_at(X, Y) + 0.1, "val_acc": acc_at(X, Y) * 0.9}
    layers["train_loss"][2, 3] = np.nan
    layers["val_loss"][0, 6] = np.inf
    meta = {"kind": "network", "xrange": (-1.0, 2.0), "yrange": (-0.5, 1.5),
            "resolution": (NX, NY), "dtype": "float64", "slice": "moons: 2-6-4-2",
            "axis_labels": ["d1 (filter)", "d2 (filter)"], "nested": {"a": [1, 2], "b": None}}
    return NetworkSurface(xs, ys, layers, meta)


def write_reference_2d(path, xs, ys, metrics, with_dir_file=True, undone=()):
    """A surface file as loss-landscape's plot_surface.py makes it.

    Mirrors setup_surface_file and crunch: datasets created with shape
    (len(x), len(y)) filled with -1, then ``losses.ravel()[ind] = value`` at the
    point (meshgrid(x, y).ravel()[ind]) -- scheduler.get_unplotted_indices.
    Accuracies in percent; ``undone`` flat indices stay at -1.
    """
    xmesh, ymesh = np.meshgrid(xs, ys)
    with h5py.File(path, "w") as f:
        if with_dir_file:
            f["dir_file"] = "model.t7_weights_xignore=biasbn_xnorm=filter.h5"
        f["xcoordinates"] = xs
        f["ycoordinates"] = ys
        for key, fn in metrics.items():
            vals = -np.ones((len(xs), len(ys)))
            for ind in range(vals.size):
                if ind not in undone:
                    vals.ravel()[ind] = fn(xmesh.ravel()[ind], ymesh.ravel()[ind])
            f[key] = vals


# -- our files -------------------------------------------------------------------------


def test_round_trip(tmp_path) -> None:
    s = make_surface()
    path = tmp_path / "land.h5"
    save_h5_landscape(path, s)
    got = load_h5_landscape(path)
    assert got.source == "lossviewer"
    np.testing.assert_array_equal(got.xs, s.xs)
    np.testing.assert_array_equal(got.ys, s.ys)
    assert set(got.layers) == set(LAYERS)
    for k in ("train_loss", "val_loss"):
        np.testing.assert_array_equal(got.layers[k], s.layers[k])  # NaN and inf too
    for k in ("train_acc", "val_acc"):
        # stored in percent for the tool: back within float rounding of x*100/100
        np.testing.assert_allclose(got.layers[k], s.layers[k], rtol=1e-15, atol=0)
        assert got.layers[k].shape == (NY, NX)
    assert got.meta == s.meta
    assert isinstance(got.meta["xrange"], tuple) and isinstance(got.meta["resolution"], tuple)
    surf = got.surface()
    assert isinstance(surf, NetworkSurface)
    np.testing.assert_array_equal(surf.layers["train_loss"], s.layers["train_loss"])
    assert surf.meta == s.meta
    assert os.listdir(tmp_path) == ["land.h5"]  # no temporary file left


def test_written_file_is_in_the_tools_layout(tmp_path) -> None:
    s = make_surface()
    path = tmp_path / "land.h5"
    save_h5_landscape(path, s)
    with h5py.File(path, "r") as f:
        assert set(f.keys()) == {"xcoordinates", "ycoordinates", "train_loss", "train_acc",
                                 "test_loss", "test_acc"}
        assert f["train_loss"].shape == (NX, NY)  # as crunch creates it
        # read the way scheduler.py pairs values with coordinates
        xmesh, ymesh = np.meshgrid(f["xcoordinates"][()], f["ycoordinates"][()])
        loss = f["train_loss"][()].ravel()
        acc = f["train_acc"][()].ravel()
        for k in range(NX * NY):
            x, y = xmesh.ravel()[k], ymesh.ravel()[k]
            if not np.isnan(loss[k]):
                assert loss[k] == loss_at(x, y)
            assert acc[k] == pytest.approx(100 * acc_at(x, y), rel=1e-15)
        assert np.nanmax(f["test_acc"][()]) > 1.0  # percent
        assert "lossviewer_meta" in f.attrs


def test_overwrite_is_atomic(tmp_path, monkeypatch) -> None:
    path = tmp_path / "land.h5"
    save_h5_landscape(path, make_surface())
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(h5py.Group, "create_dataset", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        save_h5_landscape(path, make_surface())
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["land.h5"]


def test_save_rejects_a_wrong_layer_shape(tmp_path) -> None:
    s = make_surface()
    bad = NetworkSurface(s.xs, s.ys, dict(s.layers, val_acc=s.layers["val_acc"].T), s.meta)
    with pytest.raises(ValueError, match="val_acc"):
        save_h5_landscape(tmp_path / "x.h5", bad)
    assert not os.listdir(tmp_path)


# -- the loss-landscape tool's files ---------------------------------------------------


def test_reference_file_orientation_and_percent(tmp_path) -> None:
    xs = np.linspace(-1.0, 1.0, NX)
    ys = np.linspace(-0.5, 0.5, NY)
    path = tmp_path / "resnet.h5_[-1.0,1.0,7]x[-0.5,0.5,5].h5"
    write_reference_2d(path, xs, ys, {
        "train_loss": loss_at, "train_acc": lambda x, y: 100 * acc_at(x, y),
        "test_loss": lambda x, y: 2 * loss_at(x, y), "test_acc": lambda x, y: 50.0 + x})
    got = load_h5_landscape(path)
    assert got.source == "loss-landscape"
    np.testing.assert_array_equal(got.xs, xs)
    np.testing.assert_array_equal(got.ys, ys)
    for k in LAYERS:
        assert got.layers[k].shape == (NY, NX)
    for j in range(NY):
        for i in range(NX):
            x, y = xs[i], ys[j]
            assert got.layers["train_loss"][j, i] == loss_at(x, y)
            assert got.layers["val_loss"][j, i] == 2 * loss_at(x, y)
            assert got.layers["train_acc"][j, i] == pytest.approx(acc_at(x, y), rel=1e-15)
            assert got.layers["val_acc"][j, i] == pytest.approx((50.0 + x) / 100, rel=1e-15)
    assert 0 <= np.min(got.layers["train_acc"]) and np.max(got.layers["train_acc"]) <= 1
    assert got.meta["xrange"] == (-1.0, 1.0) and got.meta["yrange"] == (-0.5, 0.5)
    assert got.meta["resolution"] == (NX, NY)
    assert got.meta["dir_file"].startswith("model.t7")
    surf = got.surface()
    np.testing.assert_array_equal(surf.layers["val_loss"], got.layers["val_loss"])


def test_reference_file_with_train_metrics_only_and_unfinished_points(tmp_path) -> None:
    """plot_surface.py computes only train_* by default; unfinished points hold -1."""
    xs = np.linspace(-1.0, 1.0, NX)
    ys = np.linspace(0.0, 2.0, NY)
    path = tmp_path / "partial.h5"
    undone = {NX * NY - 1, 8}  # flat index 8 is (x[1], y[1])
    write_reference_2d(path, xs, ys, {"train_loss": loss_at,
                                      "train_acc": lambda x, y: 100 * acc_at(x, y)},
                       with_dir_file=False, undone=undone)
    got = load_h5_landscape(path)
    assert set(got.layers) == {"train_loss", "train_acc"}
    assert np.isnan(got.layers["train_loss"][1, 1]) and np.isnan(got.layers["train_acc"][1, 1])
    assert np.isnan(got.layers["train_loss"][NY - 1, NX - 1])
    assert got.layers["train_loss"][1, 2] == loss_at(xs[2], ys[1])
    assert np.isfinite(got.layers["train_loss"]).sum() == NX * NY - 2
    assert "dir_file" not in got.meta
    surf = got.surface()
    assert np.isnan(surf.layers["val_loss"]).all() and np.isnan(surf.layers["val_acc"]).all()
    assert surf.layers["val_loss"].shape == (NY, NX)


def test_reference_file_stored_in_our_shape_also_reads(tmp_path) -> None:
    """A (ny, nx) array with the same flat order (other writers) reads the same."""
    xs = np.linspace(-1.0, 1.0, NX)
    ys = np.linspace(0.0, 2.0, NY)
    X, Y = np.meshgrid(xs, ys)
    path = tmp_path / "ours_shape.h5"
    with h5py.File(path, "w") as f:
        f["xcoordinates"] = xs
        f["ycoordinates"] = ys
        f["train_loss"] = loss_at(X, Y)
    got = load_h5_landscape(path)
    np.testing.assert_array_equal(got.layers["train_loss"], loss_at(X, Y))


def test_our_file_reads_in_the_tools_plot_code(tmp_path) -> None:
    """What plot_2D.plot_2d_contour does with a square file: contour(meshgrid(x, y), Z)."""
    n = 6
    xs = np.linspace(-1.0, 1.0, n)
    ys = np.linspace(0.0, 3.0, n)
    X, Y = np.meshgrid(xs, ys)
    layers = {k: np.full((n, n), 0.5) for k in LAYERS}
    layers["train_loss"] = loss_at(X, Y)
    path = tmp_path / "square.h5"
    save_h5_landscape(path, NetworkSurface(xs, ys, layers))
    with h5py.File(path, "r") as f:
        Xf, Yf = np.meshgrid(f["xcoordinates"][()], f["ycoordinates"][()])
        Z = f["train_loss"][()]
    np.testing.assert_array_equal(Z, loss_at(Xf, Yf))


# -- 1D --------------------------------------------------------------------------------


def test_line_round_trip(tmp_path) -> None:
    xs = np.linspace(-1.0, 1.5, 11)
    layers = {"train_loss": xs**2 + 0.1, "train_acc": np.linspace(0.2, 0.9, 11),
              "val_loss": xs**2 + 0.3}
    layers["train_loss"][4] = np.nan
    path = tmp_path / "line.h5"
    save_h5_line(path, xs, layers)
    with h5py.File(path, "r") as f:
        assert "ycoordinates" not in f
        assert f["test_loss"].shape == (11,)
        assert f["train_acc"][-1] == pytest.approx(90.0)
    got = load_h5_landscape(path)
    assert got.ys is None and got.source == "lossviewer"
    assert set(got.layers) == set(layers)
    np.testing.assert_array_equal(got.xs, xs)
    np.testing.assert_array_equal(got.layers["train_loss"], layers["train_loss"])
    np.testing.assert_array_equal(got.layers["val_loss"], layers["val_loss"])
    np.testing.assert_allclose(got.layers["train_acc"], layers["train_acc"], rtol=1e-15)
    with pytest.raises(ValueError, match="1D"):
        got.surface()


def test_reference_line(tmp_path) -> None:
    xs = np.linspace(-0.5, 1.5, 9)  # e.g. linear interpolation between two models
    path = tmp_path / "interp.h5"
    with h5py.File(path, "w") as f:
        f["dir_file"] = "dirs.h5"
        f["xcoordinates"] = xs
        f["train_loss"] = np.exp(xs)
        f["train_acc"] = np.linspace(10.0, 90.0, 9)
        f["test_loss"] = np.exp(xs) + 1
        f["test_acc"] = np.linspace(5.0, 85.0, 9)
    got = load_h5_landscape(path)
    assert got.source == "loss-landscape" and got.ys is None
    np.testing.assert_array_equal(got.layers["val_loss"], np.exp(xs) + 1)
    np.testing.assert_allclose(got.layers["train_acc"], np.linspace(0.1, 0.9, 9), rtol=1e-15)
    np.testing.assert_allclose(got.layers["val_acc"], np.linspace(0.05, 0.85, 9), rtol=1e-15)
    assert got.meta["xrange"] == (-0.5, 1.5) and got.meta["resolution"] == 9


def test_line_rejects_bad_input(tmp_path) -> None:
    xs = np.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="unknown layer 'loss'"):
        save_h5_line(tmp_path / "a.h5", xs, {"loss": xs})
    with pytest.raises(ValueError, match="train_loss or val_loss"):
        save_h5_line(tmp_path / "a.h5", xs, {"train_acc": xs})
    with pytest.raises(ValueError, match="shape"):
        save_h5_line(tmp_path / "a.h5", xs, {"train_loss": xs[:3]})
    assert not os.listdir(tmp_path)


# -- bad files -------------------------------------------------------------------------


def test_text_file(tmp_path) -> None:
    path = tmp_path / "notes.h5"
    path.write_text("x,y,loss\n0,0,1\n")
    with pytest.raises(ValueError, match="not an HDF5 file") as err:
        load_h5_landscape(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_no_xcoordinates(tmp_path) -> None:
    path = tmp_path / "dirs.h5"
    with h5py.File(path, "w") as f:
        f["train_loss"] = np.ones((3, 3))
    with pytest.raises(ValueError, match="no 'xcoordinates'") as err:
        load_h5_landscape(path)
    assert str(err.value).startswith(str(path) + ":")


@pytest.mark.parametrize("shape", [(NX, NY - 1), (NX * NY,), (NX, NY, 1)])
def test_mismatched_shape(tmp_path, shape) -> None:
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f["xcoordinates"] = np.linspace(0, 1, NX)
        f["ycoordinates"] = np.linspace(0, 1, NY)
        f["train_loss"] = np.ones((NX, NY))
        f["test_loss"] = np.ones(shape)
    with pytest.raises(ValueError, match=r"'test_loss' has shape .* expected \(7, 5\)") as err:
        load_h5_landscape(path)
    assert str(err.value).startswith(str(path) + ":") and "\n" not in str(err.value)


def test_mismatched_line_shape(tmp_path) -> None:
    path = tmp_path / "bad1d.h5"
    with h5py.File(path, "w") as f:
        f["xcoordinates"] = np.linspace(0, 1, 5)
        f["train_loss"] = np.ones(4)
    with pytest.raises(ValueError, match=r"'train_loss' has shape \(4,\), expected \(5,\)"):
        load_h5_landscape(path)


def test_no_loss_metric(tmp_path) -> None:
    path = tmp_path / "acc_only.h5"
    with h5py.File(path, "w") as f:
        f["xcoordinates"] = np.linspace(0, 1, 5)
        f["train_acc"] = np.ones(5)
    with pytest.raises(ValueError, match="no loss values") as err:
        load_h5_landscape(path)
    assert str(path) in str(err.value)


def test_bad_coordinates(tmp_path) -> None:
    path = tmp_path / "coords.h5"
    with h5py.File(path, "w") as f:
        f["xcoordinates"] = np.ones((2, 2))
        f["train_loss"] = np.ones((2, 2))
    with pytest.raises(ValueError, match="'xcoordinates' must be a non-empty 1-D array"):
        load_h5_landscape(path)


def test_bad_meta(tmp_path) -> None:
    path = tmp_path / "meta.h5"
    save_h5_landscape(path, make_surface())
    with h5py.File(path, "r+") as f:
        f.attrs["lossviewer_meta"] = "{not json"
    with pytest.raises(ValueError, match="not valid JSON"):
        load_h5_landscape(path)


def test_missing_file_is_an_oserror(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        load_h5_landscape(tmp_path / "nope.h5")


# -- without h5py ----------------------------------------------------------------------


def test_without_h5py_the_hint_appears(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    assert not h5_available()
    with pytest.raises(ImportError) as err:
        load_h5_landscape(tmp_path / "x.h5")
    assert str(err.value) == H5_HINT
    with pytest.raises(ImportError, match="pip install 'lossviewer\\[h5\\]'"):
        save_h5_landscape(tmp_path / "x.h5", make_surface())
    with pytest.raises(ImportError, match="needs h5py"):
        save_h5_line(tmp_path / "x.h5", [0.0, 1.0], {"train_loss": [1.0, 2.0]})
    assert not os.listdir(tmp_path)


def test_package_imports_without_h5py() -> None:
    code = ("import sys; sys.modules['h5py'] = None; "
            "import lossviewer.io.h5_landscape as m; print(m.h5_available())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_available_with_h5py() -> None:
    assert h5_available()
    assert h5_landscape.H5_HINT == ("reading and writing .h5 needs h5py: "
                                    "pip install 'lossviewer[h5]'")
