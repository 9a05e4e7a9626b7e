"""Training runs and network landscapes as ``.npz`` files (arrays + JSON metadata, no pickle).

A run file holds the curves, checkpoints and final parameters of a training
run and what made it (dataset and its arguments, model, optimizer settings), so
``lossviewer landscape --run RUN.npz`` can rebuild the data and the model and
check that they match. A landscape file holds the grid coordinates, training
and validation loss and accuracy, the centre and both directions, and the
metadata to reproduce them; the GUI opens it as a network landscape.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lossviewer.core.datasets import Dataset, make_dataset
from lossviewer.core.directions import Directions, DirectionSpec
from lossviewer.core.network import ModelSpec, Network
from lossviewer.core.network_landscape import LAYERS, NetworkSlice, NetworkSurface
from lossviewer.core.training import TrainingConfig, TrainingRun
from lossviewer.io.surface_npz import StrPath, _json_default, atomic_open

RUN_FORMAT = "lossviewer-run"
LANDSCAPE_FORMAT = "lossviewer-network-landscape"
FORMAT_VERSION = 1

_RUN_ARRAYS = ("init", "final", "checkpoints", "checkpoint_steps", "train_loss", "train_acc",
               "val_loss", "val_acc", "lr")


def _items(pairs: Any) -> tuple[tuple[str, Any], ...]:
    """JSON's [[name, value], ...] back to hashable pairs (lists in values: tuples)."""
    return tuple((str(k), tuple(v) if isinstance(v, list) else v) for k, v in pairs or ())


def _config(raw: dict[str, Any]) -> TrainingConfig:
    cfg = dict(raw)
    cfg["hyper"] = _items(cfg.get("hyper"))
    cfg["schedule_params"] = _items(cfg.get("schedule_params"))
    return TrainingConfig(**cfg)


def _model_meta(network: Network) -> dict[str, Any]:
    s = network.spec
    return {"model": s.text, "loss": s.loss, "l2": s.l2, "n_params": network.n_params,
            "sizes": list(network.sizes)}


def _dataset_meta(dataset: Dataset) -> dict[str, Any]:
    return {"name": dataset.name, "params": dict(dataset.params)}


def _write(path: StrPath, fmt: str, meta: dict[str, Any], arrays: dict[str, NDArray]) -> None:
    header = json.dumps({"format": fmt, "version": FORMAT_VERSION, **meta},
                        default=_json_default)
    with atomic_open(path, "wb") as fh:
        np.savez_compressed(fh, meta=np.array(header), **arrays)


def _read(path: StrPath, fmt: str, what: str, names: tuple[str, ...]
          ) -> tuple[dict[str, Any], dict[str, NDArray]]:
    name = os.fspath(path)
    try:
        with np.load(name, allow_pickle=False) as data:
            if "meta" not in data.files:
                raise ValueError(f"{name}: not a LossViewer {what} file (no metadata)")
            raw = data["meta"]
            arrays = {k: np.array(data[k]) for k in data.files if k != "meta"}
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{name}: not a LossViewer {what} file ({exc})") from None
    except ValueError as exc:
        msg = str(exc)
        if msg.startswith(name + ":"):
            raise
        raise ValueError(f"{name}: not a LossViewer {what} file "
                         f"({msg.splitlines()[0] if msg else 'unreadable'})") from None
    if raw.shape != () or raw.dtype.kind != "U":
        raise ValueError(f"{name}: not a LossViewer {what} file (bad metadata)")
    try:
        header = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name}: metadata is not valid JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != fmt:
        found = header.get("format") if isinstance(header, dict) else None
        hint = f" (it is a {found!r} file)" if isinstance(found, str) else ""
        raise ValueError(f"{name}: not a LossViewer {what} file{hint}")
    version = header.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{name}: {what} file version {version!r} is newer than this "
                         f"LossViewer reads ({FORMAT_VERSION}); update LossViewer")
    missing = [k for k in names if k not in arrays]
    if missing:
        raise ValueError(f"{name}: {what} file lacks the array {missing[0]!r}")
    return header, arrays


# -- training runs ---------------------------------------------------------------------


def save_run(path: StrPath, run: TrainingRun, dataset: Dataset, network: Network) -> None:
    """Write a training run with what is needed to rebuild its data and model."""
    arrays = {k: np.asarray(getattr(run, k)) for k in _RUN_ARRAYS}
    meta = {"dataset": _dataset_meta(dataset), "model": _model_meta(network),
            "config": asdict(run.config), "status": run.status}
    _write(path, RUN_FORMAT, meta, arrays)


@dataclass(frozen=True, eq=False)
class RunFile:
    run: TrainingRun
    dataset_name: str
    dataset_params: dict[str, Any]
    model: ModelSpec

    def dataset(self) -> Dataset:
        return make_dataset(self.dataset_name, **self.dataset_params)

    def network(self, dataset: Dataset | None = None) -> Network:
        return Network.for_dataset(self.model, dataset or self.dataset())


def load_run(path: StrPath) -> RunFile:
    """Read a run file; ValueError (one line) when it is not one or is inconsistent."""
    name = os.fspath(path)
    header, arrays = _read(path, RUN_FORMAT, "run", _RUN_ARRAYS)
    try:
        ds = header["dataset"]
        model = header["model"]
        config = _config(header["config"])
        spec = ModelSpec.parse(model["model"], loss=model["loss"], l2=model["l2"])
        run = TrainingRun(config=config, status=str(header.get("status", "finished")),
                          meta={k: model[k] for k in ("model", "loss", "l2", "n_params")},
                          **{k: arrays[k] for k in _RUN_ARRAYS})
        if run.final.shape != (int(model["n_params"]),) or run.checkpoints.ndim != 2:
            raise ValueError("its parameter arrays do not match its model")
        return RunFile(run, str(ds["name"]), dict(ds["params"]), spec)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{name}: damaged run file ({exc})") from None


def check_run_matches(run_file: RunFile, network: Network, dataset: Dataset) -> None:
    """ValueError when a run was made with another model or data than the ones given."""
    n = run_file.run.final.size
    if n != network.n_params or run_file.model.text != network.spec.text:
        raise ValueError(
            f"the run was trained with another model: {run_file.model.text} ({n:,} parameters); "
            f"the model given is {network.spec.text} ({network.n_params:,} parameters)")
    if run_file.dataset_name != dataset.name:
        raise ValueError(f"the run was trained on '{run_file.dataset_name}', not "
                         f"'{dataset.name}'")
    ran = {k: v for k, v in run_file.dataset_params.items()}
    differs = sorted(k for k, v in dataset.params.items() if k in ran and ran[k] != v)
    if differs:
        k = differs[0]
        raise ValueError(f"the run was trained on other data: {k} = {ran[k]!r}, here "
                         f"{dataset.params[k]!r}")


# -- network landscapes ------------------------------------------------------------------


def save_network_landscape(path: StrPath, surface: NetworkSurface,
                           network_slice: NetworkSlice, done: NDArray | None = None,
                           run_key: str = "") -> None:
    """Write the four layers, the plane and the metadata to reproduce them.

    ``done`` (a grid-shaped bool mask) marks a partial result: a headless run
    checkpoints into its output file so that an interrupted run can resume;
    ``run_key`` identifies the arguments it was started with.
    """
    d = network_slice.directions
    arrays: dict[str, NDArray] = {"xs": surface.xs, "ys": surface.ys,
                                  "center": d.center, "d1": d.d1, "d2": d.d2}
    arrays.update({k: surface.layers[k] for k in LAYERS})
    if network_slice.run is not None:
        arrays["checkpoints"] = network_slice.run.checkpoints
        arrays["checkpoint_steps"] = network_slice.run.checkpoint_steps
    meta = {
        "dataset": _dataset_meta(network_slice.dataset),
        "model": _model_meta(network_slice.network),
        "directions": {"spec": asdict(d.spec), "labels": list(d.labels),
                       "info": dict(d.info)},
        "surface": dict(surface.meta),
        "training": (asdict(network_slice.run.config) if network_slice.run is not None
                     else None),
        "complete": done is None or bool(np.all(done)),
        "run_key": run_key,
    }
    if done is not None:
        arrays["done"] = np.asarray(done, bool)
    _write(path, LANDSCAPE_FORMAT, meta, arrays)


def read_progress(path: StrPath, run_key: str) -> tuple[bool, dict[str, NDArray] | None,
                                                        NDArray | None]:
    """What an earlier run with the same arguments left in ``path``.

    (complete, layers, done): complete is True when that run finished; layers
    and done are its partial grid (None when there is nothing to resume: no file,
    another kind of file, or another run's).
    """
    if not os.path.exists(path):
        return False, None, None
    try:
        header, arrays = _read(path, LANDSCAPE_FORMAT, "network landscape",
                               ("xs", "ys", *LAYERS))
    except ValueError:
        return False, None, None
    if not run_key or header.get("run_key") != run_key:
        return False, None, None
    if header.get("complete", True):
        return True, None, None
    done = arrays.get("done")
    if done is None or done.shape != arrays["train_loss"].shape:
        return False, None, None
    return False, {k: arrays[k].astype(np.float64) for k in LAYERS}, done.astype(bool)


class NoModelError(ValueError):
    """A landscape file whose model cannot be rebuilt from it (computed from a user's
    model file, or a stored grid saved again): only its grid can be read."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(message)
        self.source = source


@dataclass(frozen=True, eq=False)
class LandscapeFile:
    surface: NetworkSurface
    network_slice: NetworkSlice
    meta: dict[str, Any]


def load_network_landscape(path: StrPath) -> LandscapeFile:
    """Read a landscape file and rebuild its slice (data regenerated from its arguments)."""
    name = os.fspath(path)
    header, arrays = _read(path, LANDSCAPE_FORMAT, "network landscape",
                           ("xs", "ys", "center", "d1", "d2", *LAYERS))
    if not header.get("complete", True):
        raise ValueError(f"{name}: an unfinished landscape (its run was interrupted); run the "
                         "same 'lossviewer landscape' command again to complete it")
    ds_name = (header.get("dataset") or {}).get("name")
    if ds_name in ("model-file", "stored-file"):
        params = header["dataset"].get("params") or {}
        source = str(params.get("script") or params.get("file") or "another file")
        raise NoModelError(f"{name}: its values come from {source}; the model cannot be "
                           "rebuilt from the file alone (its grid can be shown)", source)
    try:
        ds_meta, model = header["dataset"], header["model"]
        dataset = make_dataset(ds_meta["name"], **ds_meta["params"])
        spec = ModelSpec.parse(model["model"], loss=model["loss"], l2=model["l2"])
        network = Network.for_dataset(spec, dataset)
        dmeta = header["directions"]
        dspec = DirectionSpec(**dmeta["spec"])
        directions = Directions(d1=arrays["d1"], d2=arrays["d2"], center=arrays["center"],
                                spec=dspec, labels=tuple(dmeta["labels"]),
                                info=dict(dmeta.get("info") or {}))
        if arrays["center"].size != network.n_params:
            raise ValueError(f"its plane has {arrays['center'].size} parameters, its model "
                             f"{network.n_params}")
        xs, ys, layers = _grid(arrays)
        smeta = dict(header.get("surface") or {})
        for key in ("xrange", "yrange", "resolution"):
            if isinstance(smeta.get(key), list):
                smeta[key] = tuple(smeta[key])
        run = None
        if "checkpoints" in arrays and header.get("training"):
            run = _run_from_checkpoints(header["training"], arrays)
        nslice = NetworkSlice(dataset, network, directions, run,
                              dtype=str(smeta.get("dtype", "float32")))
        return LandscapeFile(NetworkSurface(xs, ys, layers, smeta), nslice, header)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{name}: damaged network landscape file ({exc})") from None


def _grid(arrays: dict[str, NDArray]) -> tuple[NDArray, NDArray, dict[str, NDArray]]:
    """Coordinates and the four layers as float64, their shapes checked."""
    xs, ys = arrays["xs"].astype(np.float64), arrays["ys"].astype(np.float64)
    layers = {k: arrays[k].astype(np.float64) for k in LAYERS}
    for k, v in layers.items():
        if v.shape != (ys.size, xs.size):
            raise ValueError(f"layer {k} has shape {v.shape}, the grid is {ys.size}×{xs.size}")
    return xs, ys, layers


def _run_from_checkpoints(training: dict[str, Any], arrays: dict[str, NDArray]) -> TrainingRun:
    """A run holding only the checkpoints (what drawing its path needs)."""
    ck = arrays["checkpoints"].astype(np.float64)
    nan = np.full(1, np.nan)
    return TrainingRun(config=_config(training), init=ck[0], final=ck[-1], checkpoints=ck,
                       checkpoint_steps=arrays["checkpoint_steps"].astype(np.int64),
                       train_loss=nan, train_acc=nan, val_loss=nan, val_acc=nan,
                       lr=np.zeros(0), meta={"from_file": True})


def load_landscape_surface(path: StrPath) -> NetworkSurface:
    """Only the grid of a landscape file (its coordinates and four layers), for files whose
    model cannot be rebuilt here (computed from a user's model file)."""
    name = os.fspath(path)
    header, arrays = _read(path, LANDSCAPE_FORMAT, "network landscape", ("xs", "ys", *LAYERS))
    try:
        xs, ys, layers = _grid(arrays)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    meta = dict(header.get("surface") or {})
    labels = (header.get("directions") or {}).get("labels")
    if labels:
        meta["axis_labels"] = list(labels)
    return NetworkSurface(xs, ys, layers, meta)
