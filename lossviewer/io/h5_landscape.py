"""Landscapes as HDF5 files in the layout of Li et al.'s ``loss-landscape`` tool.

The layout is that of https://github.com/tomgoldstein/loss-landscape (checked
against plot_surface.py @fb7b1f6, scheduler.py @56961d6, plot_2D.py @56961d6,
plot_1D.py, evaluation.py and h52vtp.py), so files move both ways between
LossViewer and that tool:

* ``xcoordinates`` (nx,) and, for a 2D surface, ``ycoordinates`` (ny,) are
  float64 datasets on the root (plot_surface.py ``setup_surface_file``, L58-67);
  a ``dir_file`` string dataset names the direction file (L59).
* each metric is a root dataset ``train_loss``, ``train_acc``, ``test_loss``,
  ``test_acc`` (the keys plot_surface.py's ``__main__`` passes to ``crunch``;
  plot_1D.py ``plot_1d_loss_err`` reads them). Our "val" is their "test".
* 2D metric datasets are *created* with shape (nx, ny) (plot_surface.py
  ``crunch`` L84-90: ``(len(xcoordinates), len(ycoordinates))``) but *filled*
  in the flat order of ``np.meshgrid(x, y)``, whose shape is (ny, nx): flat
  index ``k`` holds the point (x[k % nx], y[k // nx]) (scheduler.py L27-32
  builds the coordinates from ``meshgrid(x, y).ravel()``; plot_surface.py
  L125-126 stores ``losses.ravel()[ind] = loss``). The data is thus in our
  ``Z[j, i]`` order, *not* its transpose: for the square grids the tool
  normally makes its arrays read exactly like ours, which is why plot_2D.py
  L18-24 and L46 hand ``meshgrid(x, y)`` and the raw array together to
  ``plt.contour``, and h52vtp.py pairs ``meshgrid(x, y).ravel()`` with
  ``vals.ravel()``. Reading therefore reshapes the flat data to (ny, nx) --
  never transposes -- and writing stores our (ny, nx) data under the declared
  shape (nx, ny), byte for byte what ``crunch`` produces.
* 1D metrics have shape (nx,).
* accuracy is in percent: evaluation.py ``eval_loss`` returns
  ``100.*correct/total``, and plot_1D.py plots ``100 - train_acc`` as the error
  on a 0..100 axis. We keep fractions (0..1) in memory and convert at the file
  boundary.
* points not computed yet hold -1 (plot_surface.py L86-87 ``-np.ones``;
  scheduler.py L24 picks values <= 0 as unfinished); in the tool's files an
  exact -1 is read as NaN.

Files we write carry our metadata as a JSON string attribute
``lossviewer_meta`` on the root (JSON, not pickle, as in surface_npz). Since
accuracies are stored in percent, they come back within an ulp or two of what
was saved, not bit for bit (x * 100 / 100 is not always x in floating point).
h5py is an optional dependency, imported only inside the functions.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossviewer.core.network_landscape import LAYERS, NetworkSurface
from lossviewer.io.surface_npz import StrPath, _json_default

H5_HINT = "reading and writing .h5 needs h5py: pip install 'lossviewer[h5]'"
#: root attribute holding our metadata (JSON)
META_ATTR = "lossviewer_meta"
#: our layer name -> the loss-landscape tool's dataset name
H5_NAMES = {"train_loss": "train_loss", "train_acc": "train_acc",
            "val_loss": "test_loss", "val_acc": "test_acc"}
_ACC = ("train_acc", "val_acc")
#: metadata keys that are tuples in memory (JSON turns them into lists)
_TUPLE_KEYS = ("xrange", "yrange", "resolution")


def _h5py() -> Any:
    """The h5py module, or ImportError with the install hint."""
    try:
        import h5py
    except ImportError:
        raise ImportError(H5_HINT) from None
    return h5py


def h5_available() -> bool:
    """Whether .h5 files can be read and written here."""
    try:
        _h5py()
    except ImportError:
        return False
    return True


@dataclass(frozen=True, eq=False)
class H5Landscape:
    """A landscape read from an .h5 file, in our orientation, names and units.

    ``layers`` are (ny, nx) for a 2D file and (nx,) for a 1D one (``ys`` None);
    accuracies are fractions; metrics the file lacks are absent.
    ``source`` is "lossviewer" for files we wrote, else "loss-landscape".
    """

    xs: NDArray[np.float64]
    ys: NDArray[np.float64] | None
    layers: dict[str, NDArray[np.float64]]
    meta: dict[str, Any]
    source: str

    def surface(self) -> NetworkSurface:
        """The 2D landscape as a NetworkSurface (missing layers all NaN)."""
        if self.ys is None:
            raise ValueError("a 1D landscape (no y coordinates) is not a surface")
        shape = (self.ys.size, self.xs.size)
        layers = {k: self.layers[k] if k in self.layers else np.full(shape, np.nan)
                  for k in LAYERS}
        return NetworkSurface(self.xs, self.ys, layers, dict(self.meta))


# -- writing ---------------------------------------------------------------------------


@contextlib.contextmanager
def _atomic_h5(path: StrPath) -> Iterator[Any]:
    """An h5py.File on a temporary file next to ``path``, moved over it on success.

    HDF5 writes through its own file driver, so atomic_open's file object does
    not fit; the same temp-and-rename scheme is done here by name.
    """
    h5py = _h5py()
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    tmp = os.path.join(folder, f".{os.path.basename(target)}.{uuid.uuid4().hex}.tmp")
    try:
        with h5py.File(tmp, "w") as f:
            yield f
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _to_file(name: str, values: NDArray) -> NDArray[np.float64]:
    v = np.asarray(values, dtype=np.float64)
    return v * 100.0 if name in _ACC else v


def save_h5_landscape(path: StrPath, surface: NetworkSurface) -> None:
    """Write a surface in the loss-landscape layout (the tool can plot it), plus our meta."""
    xs = np.asarray(surface.xs, dtype=np.float64)
    ys = np.asarray(surface.ys, dtype=np.float64)
    if xs.ndim != 1 or ys.ndim != 1:
        raise ValueError(f"xs and ys must be 1-D, got shapes {xs.shape} and {ys.shape}")
    nx, ny = xs.size, ys.size
    data = {}
    for name in LAYERS:
        if name not in surface.layers:
            continue
        Z = _to_file(name, surface.layers[name])
        if Z.shape != (ny, nx):
            raise ValueError(f"layer {name} has shape {Z.shape}, the grid is {ny}×{nx}")
        # same flat (meshgrid) order, declared (nx, ny) as the tool creates it
        data[H5_NAMES[name]] = Z.reshape(nx, ny)
    meta = json.dumps(dict(surface.meta), default=_json_default)
    with _atomic_h5(path) as f:
        f.create_dataset("xcoordinates", data=xs)
        f.create_dataset("ycoordinates", data=ys)
        for key, arr in data.items():
            f.create_dataset(key, data=arr)
        f.attrs[META_ATTR] = meta


def save_h5_line(path: StrPath, xs: ArrayLike, layers: Mapping[str, ArrayLike]) -> None:
    """Write a 1D landscape (values along one direction) in the loss-landscape layout."""
    x = np.asarray(xs, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"xs must be 1-D, got shape {x.shape}")
    unknown = sorted(set(layers) - set(LAYERS))
    if unknown:
        raise ValueError(f"unknown layer {unknown[0]!r}; layers are {', '.join(LAYERS)}")
    if "train_loss" not in layers and "val_loss" not in layers:
        raise ValueError("a line needs train_loss or val_loss")
    data = {}
    for name in LAYERS:
        if name in layers:
            v = _to_file(name, layers[name])
            if v.shape != x.shape:
                raise ValueError(f"layer {name} has shape {v.shape}, xs has {x.shape}")
            data[H5_NAMES[name]] = v
    with _atomic_h5(path) as f:
        f.create_dataset("xcoordinates", data=x)
        for key, arr in data.items():
            f.create_dataset(key, data=arr)
        f.attrs[META_ATTR] = "{}"


# -- reading ---------------------------------------------------------------------------


def load_h5_landscape(path: StrPath) -> H5Landscape:
    """Read an .h5 landscape written by LossViewer or by the loss-landscape tool.

    OSError when the file cannot be read; ValueError (one line, naming the
    file) when it is not a landscape this layout describes.
    """
    h5py = _h5py()
    name = os.fspath(path)
    with open(name, "rb"):
        pass  # a missing or unreadable file is an OSError, not a format problem
    if not h5py.is_hdf5(name):
        raise ValueError(f"{name}: not an HDF5 file")
    try:
        f = h5py.File(name, "r")
    except OSError as exc:
        raise ValueError(f"{name}: damaged HDF5 file ({_first_line(exc)})") from None
    with f:
        return _read(f, name, h5py)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _coordinates(f: Any, key: str, name: str, h5py: Any) -> NDArray[np.float64]:
    ds = f[key]
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.shape[0] == 0:
        shape = getattr(ds, "shape", "a group")
        raise ValueError(f"{name}: '{key}' must be a non-empty 1-D array, got {shape}")
    try:
        return np.asarray(ds[()], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: '{key}' is not numeric ({_first_line(exc)})") from None


def _read(f: Any, name: str, h5py: Any) -> H5Landscape:
    if "xcoordinates" not in f:
        raise ValueError(f"{name}: not a loss-landscape file (no 'xcoordinates')")
    xs = _coordinates(f, "xcoordinates", name, h5py)
    ys = _coordinates(f, "ycoordinates", name, h5py) if "ycoordinates" in f else None
    nx = xs.size
    ny = None if ys is None else ys.size
    ours = META_ATTR in f.attrs
    if not any(H5_NAMES[k] in f for k in ("train_loss", "val_loss")):
        raise ValueError(f"{name}: no loss values (neither 'train_loss' nor 'test_loss')")
    layers: dict[str, NDArray[np.float64]] = {}
    for ours_name, key in H5_NAMES.items():
        if key not in f:
            continue
        ds = f[key]
        shape = getattr(ds, "shape", None)
        if ny is None:
            ok, want = shape == (nx,), f"({nx},) for {nx} x-coordinates"
        else:
            ok = shape in ((nx, ny), (ny, nx))
            want = f"({nx}, {ny}) for {nx} x- and {ny} y-coordinates"
        if not isinstance(ds, h5py.Dataset) or not ok:
            raise ValueError(f"{name}: '{key}' has shape {shape}, expected {want}")
        try:
            v = np.array(ds[()], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: '{key}' is not numeric ({_first_line(exc)})") from None
        if ny is not None:
            v = v.reshape(ny, nx)  # the flat data is in meshgrid (ny, nx) order
        if not ours:
            v[v == -1.0] = np.nan  # the tool's "not computed yet" marker
        if ours_name in _ACC:
            v /= 100.0
        layers[ours_name] = v
    if ours:
        meta = _our_meta(f.attrs[META_ATTR], name)
    else:
        meta = _tool_meta(f, xs, ys)
    return H5Landscape(xs, ys, layers, meta, "lossviewer" if ours else "loss-landscape")


def _our_meta(raw: Any, name: str) -> dict[str, Any]:
    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name}: '{META_ATTR}' is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{name}: '{META_ATTR}' is not a JSON object")
    for key in _TUPLE_KEYS:
        if isinstance(meta.get(key), list):
            meta[key] = tuple(meta[key])
    return meta


def _tool_meta(f: Any, xs: NDArray, ys: NDArray | None) -> dict[str, Any]:
    """What the views want to know about a file the tool wrote (it records little)."""
    meta: dict[str, Any] = {"kind": "network", "format": "loss-landscape",
                            "xrange": (float(xs[0]), float(xs[-1]))}
    if ys is None:
        meta["resolution"] = xs.size
    else:
        meta["yrange"] = (float(ys[0]), float(ys[-1]))
        meta["resolution"] = (xs.size, ys.size)
    if "dir_file" in f:
        with contextlib.suppress(Exception):
            raw = f["dir_file"][()]
            meta["dir_file"] = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    return meta
