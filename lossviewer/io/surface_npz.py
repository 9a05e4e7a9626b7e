"""Sampled surfaces as ``.npz`` files: xs, ys, Z and the metadata as JSON.

The metadata travels as a JSON string rather than a pickled dict so that
loading never needs ``allow_pickle=True`` (a pickle in a downloaded file can
run code). Saving is atomic: a crash or a full disk leaves any earlier file
at that path untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
import zipfile
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from lossviewer.core.grid import Surface

#: bumped when the layout changes incompatibly
FORMAT_VERSION = 1
_FORMAT_NAME = "lossviewer-surface"

StrPath = str | os.PathLike[str]


@contextlib.contextmanager
def atomic_open(path: StrPath, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success move it over ``path``.

    The temporary file lives in the same folder so that ``os.replace`` is a
    rename within one file system (atomic on POSIX and Windows). If the body
    raises, the temporary file is removed and ``path`` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open supports modes 'w' and 'wb', got {mode!r}")
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    tmp = os.path.join(folder, f".{os.path.basename(target)}.{uuid.uuid4().hex}.tmp")
    # os.open with 0o666 honours the umask like a normal open() would; mkstemp's 0o600
    # would leave the final file unreadable to others.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        # text mode: newline="" so CSV line endings are written exactly as given
        kwargs: dict[str, Any] = {"encoding": encoding, "newline": ""} if mode == "w" else {}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays show up in metadata built from numeric code
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"metadata value of type {type(obj).__name__} is not JSON-serialisable")


def save_surface(path: StrPath, surface: Surface) -> None:
    """Write ``surface`` to ``path`` (exactly that name: no ``.npz`` is appended)."""
    xs = np.asarray(surface.xs, dtype=np.float64)
    ys = np.asarray(surface.ys, dtype=np.float64)
    Z = np.asarray(surface.Z, dtype=np.float64)
    _check_shapes(xs, ys, Z)
    meta = json.dumps(
        {"format": _FORMAT_NAME, "version": FORMAT_VERSION, "meta": dict(surface.meta)},
        default=_json_default,
    )
    with atomic_open(path, "wb") as fh:
        # a file object, not a name: np.savez would otherwise append ".npz" to the name
        np.savez(fh, xs=xs, ys=ys, Z=Z, meta=np.array(meta))


def load_surface(path: StrPath) -> Surface:
    """Read a surface written by :func:`save_surface`.

    Raises ``OSError`` when the file cannot be read and ``ValueError`` (one line)
    when it is not a valid LossViewer surface file.
    """
    name = os.fspath(path)
    try:
        with np.load(name, allow_pickle=False) as data:
            missing = [k for k in ("xs", "ys", "Z", "meta") if k not in data.files]
            if missing:
                raise ValueError(f"{name}: not a LossViewer surface file (missing {missing[0]!r})")
            xs = np.array(data["xs"], dtype=np.float64)
            ys = np.array(data["ys"], dtype=np.float64)
            Z = np.array(data["Z"], dtype=np.float64)
            raw_meta = data["meta"]
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{name}: not a LossViewer surface file ({exc})") from None
    except ValueError as exc:
        # np.load raises ValueError for pickled arrays and for files that are not npz/npy
        msg = str(exc)
        if msg.startswith(name + ":"):
            raise
        raise ValueError(f"{name}: not a LossViewer surface file ({msg.splitlines()[0]})") from None
    if raw_meta.shape != () or raw_meta.dtype.kind != "U":
        raise ValueError(f"{name}: not a LossViewer surface file (bad metadata)")
    try:
        header = json.loads(str(raw_meta))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name}: metadata is not valid JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != _FORMAT_NAME:
        raise ValueError(f"{name}: not a LossViewer surface file (unknown metadata)")
    version = header.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{name}: unsupported surface format version {version!r}")
    try:
        _check_shapes(xs, ys, Z)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    meta = header.get("meta") or {}
    if not isinstance(meta, dict):
        raise ValueError(f"{name}: not a LossViewer surface file (bad metadata)")
    # JSON has no tuples; restore the ones Surface metadata is documented to hold
    for key in ("xrange", "yrange"):
        if isinstance(meta.get(key), list):
            meta[key] = tuple(meta[key])
    return Surface(xs, ys, Z, meta)


def _check_shapes(xs: np.ndarray, ys: np.ndarray, Z: np.ndarray) -> None:
    if xs.ndim != 1 or ys.ndim != 1:
        raise ValueError(f"xs and ys must be 1-D, got shapes {xs.shape} and {ys.shape}")
    if Z.shape != (ys.size, xs.size):
        raise ValueError(
            f"Z must have shape (len(ys), len(xs)) = {(ys.size, xs.size)}, got {Z.shape}"
        )
