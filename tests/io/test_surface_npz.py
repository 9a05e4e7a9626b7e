"""Saving and loading sampled surfaces."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from lossviewer.core.grid import Surface
from lossviewer.io import surface_npz
from lossviewer.io.surface_npz import load_surface, save_surface


def make_surface(scale: float = 1.0) -> Surface:
    xs = np.linspace(-2.0, 2.0, 9)
    ys = np.linspace(-1.0, 3.0, 7)
    X, Y = np.meshgrid(xs, ys)
    Z = scale * ((1 - X) ** 2 + 100 * (Y - X**2) ** 2)
    Z[0, 0] = np.nan
    Z[1, 1] = np.inf
    meta = {
        "landscape": "rosenbrock",
        "params": {"a": np.float64(1.0), "b": 100.0},
        "xrange": (-2.0, 2.0),
        "yrange": (-1.0, 3.0),
        "resolution": np.int64(9),
    }
    return Surface(xs, ys, Z, meta)


def test_round_trip(tmp_path) -> None:
    s = make_surface()
    path = tmp_path / "s.npz"
    save_surface(path, s)
    t = load_surface(path)
    np.testing.assert_array_equal(t.xs, s.xs)
    np.testing.assert_array_equal(t.ys, s.ys)
    np.testing.assert_array_equal(t.Z, s.Z)  # NaN and inf survive
    assert t.meta == {
        "landscape": "rosenbrock",
        "params": {"a": 1.0, "b": 100.0},
        "xrange": (-2.0, 2.0),
        "yrange": (-1.0, 3.0),
        "resolution": 9,
    }


def test_exact_name_and_no_leftovers(tmp_path) -> None:
    path = tmp_path / "surface.bin"  # np.savez would append .npz to a plain name
    save_surface(str(path), make_surface())
    assert [p.name for p in tmp_path.iterdir()] == ["surface.bin"]
    load_surface(str(path))


def test_no_pickle_in_file(tmp_path) -> None:
    path = tmp_path / "s.npz"
    save_surface(path, make_surface())
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["Z", "meta", "xs", "ys"]
        assert all(data[k].dtype != object for k in data.files)


def test_failed_save_keeps_old_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "s.npz"
    save_surface(path, make_surface(1.0))
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(surface_npz.np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        save_surface(path, make_surface(2.0))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]  # temp file cleaned up
    monkeypatch.undo()
    np.testing.assert_array_equal(load_surface(path).Z, make_surface(1.0).Z)


def test_save_overwrites(tmp_path) -> None:
    path = tmp_path / "s.npz"
    save_surface(path, make_surface(1.0))
    save_surface(path, make_surface(3.0))
    np.testing.assert_array_equal(load_surface(path).Z, make_surface(3.0).Z)


def test_shape_mismatch_rejected_on_save(tmp_path) -> None:
    s = make_surface()
    bad = Surface(s.xs, s.ys, s.Z.T, {})
    with pytest.raises(ValueError, match="shape"):
        save_surface(tmp_path / "s.npz", bad)
    assert list(tmp_path.iterdir()) == []


def test_missing_file(tmp_path) -> None:
    with pytest.raises(OSError):
        load_surface(tmp_path / "nope.npz")


def test_not_an_npz(tmp_path) -> None:
    path = tmp_path / "junk.npz"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a LossViewer surface file"):
        load_surface(path)


def test_foreign_npz(tmp_path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, a=np.arange(3))
    with pytest.raises(ValueError, match="missing"):
        load_surface(path)


def test_pickled_meta_refused(tmp_path) -> None:
    path = tmp_path / "evil.npz"
    s = make_surface()
    np.savez(path, xs=s.xs, ys=s.ys, Z=s.Z, meta=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a LossViewer surface file"):
        load_surface(path)


def test_inconsistent_arrays(tmp_path) -> None:
    path = tmp_path / "s.npz"
    save_surface(path, make_surface())
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["Z"] = arrays["Z"][:-1]
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="Z must have shape"):
        load_surface(path)


def test_truncated_file(tmp_path) -> None:
    path = tmp_path / "s.npz"
    save_surface(path, make_surface())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises((ValueError, zipfile.BadZipFile)):
        load_surface(path)
