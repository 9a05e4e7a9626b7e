"""What a cluster worker needs to evaluate a network slice, and its per-process cache.

A :class:`~lossviewer.core.network_landscape.NetworkSlice` holds locks, caches
and (for a user's model) torch modules, none of which should travel. A
:class:`SliceRecipe` holds only what rebuilds the slice's evaluators: the plane
(centre and both directions), and either the built-in data and model or the
path and SHA-256 of the user's model file, which each worker process runs once
(:func:`worker_slice` keeps what it built, keyed by the recipe's digest).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossviewer.core.network import Network
from lossviewer.core.network_landscape import NetworkSlice

BUILTIN, MODEL_FILE = "builtin", "model-file"


@dataclass(frozen=True, eq=False)
class SliceRecipe:
    """A picklable description of a slice's evaluators (no run, no caches)."""

    kind: str
    directions: Any
    dtype: str
    #: built-in: the dataset (its arrays) and the numpy network
    dataset: Any = None
    network: Any = None
    #: model file: where it is on the workers, its SHA-256, and how to evaluate it
    script: str = ""
    script_sha256: str = ""
    #: SHA-256 of what running the file gave here (its data and the model's buffers):
    #: a worker whose run of it differs (an unseeded split, other weights) refuses
    outcome_sha256: str = ""
    device: str = "cpu"
    bn_mode: str = "eval"
    digest: str = field(default="", compare=False)


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _digest(recipe: SliceRecipe) -> str:
    h = hashlib.sha256()
    d = recipe.directions
    for arr in (d.center, d.d1, d.d2):
        h.update(np.ascontiguousarray(arr, np.float64).tobytes())
    h.update(repr((recipe.kind, recipe.dtype, recipe.script, recipe.script_sha256,
                   recipe.outcome_sha256, recipe.device, recipe.bn_mode)).encode())
    if recipe.kind == BUILTIN:
        ds = recipe.dataset
        h.update(repr((ds.name, sorted(ds.params.items()), recipe.network.spec,
                       recipe.network.sizes)).encode())
        for arr in (ds.X_train, ds.y_train, ds.X_val, ds.y_val):
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:32]


def recipe_for(network_slice: NetworkSlice, device: str | None = None) -> SliceRecipe:
    """The recipe of a slice; ValueError for one that cannot be evaluated elsewhere.

    ``device`` overrides where the workers evaluate a user's torch model (the
    machine that draws the directions may have no GPU while the workers do)."""
    net = network_slice.network
    d = network_slice.directions
    if isinstance(net, Network):
        recipe = SliceRecipe(BUILTIN, d, network_slice.dtype, dataset=network_slice.dataset,
                             network=net)
    elif hasattr(net, "model_file") and hasattr(net, "bn_mode"):
        path = os.path.abspath(net.model_file.path)
        try:
            sha = file_sha256(path)
        except OSError as exc:
            raise ValueError(f"cannot read the model file {path}: "
                             f"{exc.strerror or exc}") from None
        recipe = SliceRecipe(MODEL_FILE, d, network_slice.dtype, script=path,
                             script_sha256=sha, outcome_sha256=model_file_outcome(
                                 net.model_file), device=device or net.device,
                             bn_mode=net.bn_mode)
    else:
        raise ValueError("this landscape is a stored grid (read from a file): there is no "
                         "model to evaluate on a cluster")
    object.__setattr__(recipe, "digest", _digest(recipe))
    return recipe


def build_slice(recipe: SliceRecipe) -> NetworkSlice:
    """The slice a recipe describes (on a worker: runs the model file for a user's model)."""
    if recipe.kind == BUILTIN:
        return NetworkSlice(recipe.dataset, recipe.network, recipe.directions, None,
                            dtype=recipe.dtype)
    from lossviewer.compute.model_file import ModelFileError, load_model_file
    from lossviewer.compute.torch_plane import ModelFileData, TorchNetwork

    path = recipe.script
    if not os.path.isfile(path):
        raise ModelFileError(f"the model file {path} is not on this worker; workers need it "
                             "(and whatever it reads) at the same path, e.g. on a shared "
                             "folder")
    if file_sha256(path) != recipe.script_sha256:
        raise ModelFileError(f"the model file {path} on this worker differs from the one "
                             "the landscape was started with; copy the same file to every "
                             "worker")
    mf = load_model_file(path)
    if recipe.outcome_sha256 and model_file_outcome(mf) != recipe.outcome_sha256:
        raise ModelFileError(f"running {os.path.basename(path)} on this worker gives other "
                             "data or model buffers (batch-norm statistics) than where the "
                             "landscape was started; make the file deterministic (seed its "
                             "random numbers, load fixed weights and data)")
    network = TorchNetwork(mf, device=recipe.device, bn_mode=recipe.bn_mode)
    if network.n_params != recipe.directions.center.size:
        raise ModelFileError(f"the model from {os.path.basename(path)} has "
                             f"{network.n_params:,} parameters on this worker, the plane "
                             f"{recipe.directions.center.size:,}")
    return NetworkSlice(ModelFileData(mf), network, recipe.directions, None, dtype=recipe.dtype)


def model_file_outcome(model_file: Any) -> str:
    """SHA-256 of a loaded model file's data batches and its module's buffers.

    The plane (weights) travels with the recipe, but each worker runs the file for
    its data and buffers; this says whether it got the same ones.
    """
    h = hashlib.sha256()

    def add(tensor: Any) -> None:
        t = tensor.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        try:
            h.update(t.numpy().tobytes())
        except TypeError:  # bfloat16 and friends have no numpy dtype
            h.update(t.float().numpy().tobytes())

    for split, batches in (("train", model_file.train), ("val", model_file.val or ())):
        h.update(split.encode())
        for X, y in batches:
            add(X)
            add(y)
    for name, buf in model_file.module.named_buffers():
        h.update(name.encode())
        add(buf)
    return h.hexdigest()[:32]


#: slices a worker process keeps (a few: a cluster may serve several landscapes)
KEPT_SLICES = 2
_slices: OrderedDict[str, NetworkSlice] = OrderedDict()
_slices_lock = threading.Lock()
#: how many slices this process has built (tests check: once per process, not per tile)
builds = 0


#: glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_malloc_tuned = False


def _tune_malloc() -> None:
    """Undo, in this worker process, Dask's MALLOC_TRIM_THRESHOLD_=65536.

    Setting that variable also fixes glibc's mmap threshold at 128 KiB, so every
    chunk's activation buffers are fresh mmap'd pages, faulted in and unmapped
    again: the same evaluation ran 35-45 % slower in a Dask worker than in the app
    (measured on the digits MLP). Larger thresholds keep those buffers in the heap.
    """
    global _malloc_tuned
    if _malloc_tuned:
        return
    _malloc_tuned = True
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to undo
        pass


def worker_slice(recipe: SliceRecipe) -> NetworkSlice:
    """The slice of a recipe, built once per process and kept (loading a model file is
    costly: it is user code that may read weights and a dataset)."""
    global builds
    with _slices_lock:  # one build at a time: a worker's threads share it
        found = _slices.get(recipe.digest)
        if found is not None:
            _slices.move_to_end(recipe.digest)
            return found
        _tune_malloc()
        built = build_slice(recipe)
        builds += 1
        _slices[recipe.digest] = built
        while len(_slices) > KEPT_SLICES:
            _slices.popitem(last=False)
        return built
