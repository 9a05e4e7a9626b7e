"""Benchmark rows for network landscapes (imported by benchmarks/run.py).

8a/8b  a 51² slice, batched PlaneEvaluator vs the per-point loop in the same numpy
       (set θ, one forward pass per grid point, as published tools do), same data,
       model, directions and dtype (float32)
8c     the same 51² slice of the wide MLP vs a per-point loop in torch (when installed)
9      the moons MLP's 101² training + validation landscape: time to the first
       preview and to the full picture (vs the per-point loop for the whole grid)
10     peak memory (tracemalloc: numpy registers its buffers) of a 401² landscape
       of the digits MLP, vs the memory of evaluating the grid in one batch
11     a user's model file (resources/models/digits_cnn.py, a small CNN): the slice
       through torch.func.vmap vs one functional call per point (when torch is
       installed; the per-point side timed on a sample of points, extrapolated)
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import numpy as np

TITLES = {
    "8a": "NN slice 51², MLP 784→128→10, 2,000 samples: batched vs per-point",
    "8b": "NN slice 51², MLP 2→16→16→1, 500 samples: batched vs per-point",
    "8c": "NN slice 51², MLP 784→128→10: batched numpy vs per-point torch",
    "9": "Moons MLP landscape 101² (train+val): first preview / full",
    "10": "Peak memory of a 401² landscape (digits MLP)",
    "11": "User CNN on digits, 31² slice: vmap-batched vs per-point torch",
}


def _wide_problem(quick: bool) -> tuple[Any, Any, Any, Any]:
    """784→128→10 on 2,000 samples (synthetic 784-pixel images, 10 classes)."""
    from lossviewer.core.network import ModelSpec, Network
    from lossviewer.core.plane_eval import Plane

    rng = np.random.default_rng(0)
    n = 500 if quick else 2000
    X = rng.random((n, 784))
    y = rng.integers(0, 10, n)
    net = Network(ModelSpec((128,), "relu", "cross_entropy"), 784, "classification", 10)
    theta = net.init_params(0)
    d1, d2 = _filter_directions(net, theta, rng)
    return net, X, y, Plane(theta, d1, d2)


def _small_problem() -> tuple[Any, Any, Any, Any]:
    from lossviewer.core.datasets import make_dataset
    from lossviewer.core.network import ModelSpec, Network
    from lossviewer.core.plane_eval import Plane

    ds = make_dataset("moons", n_samples=715, seed=0, val_fraction=0.3)  # 500 training
    net = Network.for_dataset(ModelSpec((16, 16), "relu", "cross_entropy"), ds)
    theta = net.init_params(0)
    d1, d2 = _filter_directions(net, theta, np.random.default_rng(1))
    return net, ds.X_train, ds.y_train, Plane(theta, d1, d2)


def _filter_directions(net: Any, theta: Any, rng: Any) -> tuple[Any, Any]:
    from lossviewer.core.directions import filter_normalize

    return tuple(filter_normalize(rng.standard_normal(theta.size), theta, net.layout)
                 for _ in range(2))


def _per_point(ev: Any, A: Any, B: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    vals = np.array([ev.direct(a, b)[0] for a, b in zip(A.ravel(), B.ravel(), strict=True)])
    return time.perf_counter() - t0, vals


def _batched_vs_loop(row_id: str, problem: Any, n: int, target: float, quick: bool,
                     Row: Any) -> Any:
    from lossviewer.core.plane_eval import PlaneEvaluator

    net, X, y, plane = problem
    ev = PlaneEvaluator(net, X, y, plane, "float32")
    g = np.linspace(-1, 1, n)
    A, B = np.meshgrid(g, g)
    ev.evaluate(A[:2], B[:2])  # warm-up
    ours, alt = [], []
    ref = vals = None
    for _ in range(1 if quick else 3):  # interleaved: load drifts hit both sides alike
        t0 = time.perf_counter()
        vals, _ = ev.evaluate(A, B)
        ours.append(time.perf_counter() - t0)
        t_alt, ref = _per_point(ev, A, B)
        alt.append(t_alt)
    o, a = 1000 * float(np.median(ours)), 1000 * float(np.median(alt))
    dev = float(np.max(np.abs(vals.ravel() - ref) / np.abs(ref)))
    ratio = a / o
    name = TITLES[row_id] + (f" (quick: {n}²)" if quick else "")
    return Row(row_id, name, o, a, ratio, "speed-up: per-point / batched", f"≥ {target:g}×",
               "ratio", target, ratio >= target, details={
                   "grid": n, "points": n * n, "samples": int(X.shape[0]),
                   "model": net.describe(), "dtype": "float32",
                   "points_per_second_ours": n * n / (o / 1000),
                   "points_per_second_alternative": n * n / (a / 1000),
                   "max_relative_difference": dev,
                   "points_per_chunk": ev.chunk_points(),
                   "ours_runs_ms": [1000 * t for t in ours],
                   "alternative_runs_ms": [1000 * t for t in alt]})


def bench_batched_wide(quick: bool, Row: Any) -> Any:
    return _batched_vs_loop("8a", _wide_problem(quick), 21 if quick else 51, 10.0, quick, Row)


def bench_batched_small(quick: bool, Row: Any) -> Any:
    return _batched_vs_loop("8b", _small_problem(), 21 if quick else 51, 3.0, quick, Row)


def bench_torch_loop(quick: bool, Row: Any) -> Any | None:
    """Row 8c, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    from lossviewer.core.plane_eval import PlaneEvaluator

    net, X, y, plane = _wide_problem(quick)
    n = 21 if quick else 51
    g = np.linspace(-1, 1, n)
    A, B = np.meshgrid(g, g)
    ev = PlaneEvaluator(net, X, y, plane, "float32")
    ev.evaluate(A[:2], B[:2])
    t0 = time.perf_counter()
    vals, _ = ev.evaluate(A, B)
    ours = time.perf_counter() - t0

    # what published tools do: load the weights into the module, one forward per point
    torch.set_grad_enabled(False)
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    Xt = torch.from_numpy(X.astype(np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()
    params = list(model.parameters())
    c, d1, d2 = (torch.from_numpy(v.astype(np.float32)) for v in
                 (plane.center, plane.d1, plane.d2))
    ref = []
    t0 = time.perf_counter()
    for a, b in zip(A.ravel(), B.ravel(), strict=True):
        theta = c + float(a) * d1 + float(b) * d2
        off = 0
        for p in params:
            k = p.numel()
            p.copy_(theta[off:off + k].view_as(p))
            off += k
        ref.append(float(loss_fn(model(Xt), yt)))
    alt = time.perf_counter() - t0
    torch.set_grad_enabled(True)
    ref_arr = np.array(ref)
    dev = float(np.max(np.abs(vals.ravel() - ref_arr) / np.abs(ref_arr)))
    o, a_ms = 1000 * ours, 1000 * alt
    ratio = a_ms / o
    name = TITLES["8c"] + (f" (quick: {n}²)" if quick else "")
    return Row("8c", name, o, a_ms, ratio, "speed-up: torch per-point / batched", "≥ 5×",
               "ratio", 5.0, ratio >= 5.0, details={
                   "grid": n, "torch": torch.__version__, "threads": torch.get_num_threads(),
                   "max_relative_difference": dev})


def bench_first_preview(quick: bool, Row: Any) -> Any:
    from lossviewer.compute.network_jobs import NetworkRequest, network_job
    from lossviewer.core.iteration import run_to_end
    from lossviewer.core.network_landscape import NetworkSurface, iter_network_surface
    from lossviewer.core.training import TrainingConfig

    req = NetworkRequest.create("moons", {"seed": 0}, training=TrainingConfig.create(
        "sgd", {"lr": 0.2}, steps=100 if quick else 500))
    nslice = run_to_end(network_job(req))
    n = 41 if quick else 101
    first = full = None
    t0 = time.perf_counter()
    gen = iter_network_surface(nslice, (-1, 1), (-1, 1), n)
    while True:
        try:
            step = next(gen)
        except StopIteration as stop:
            surface = stop.value
            full = time.perf_counter() - t0
            break
        if isinstance(step, NetworkSurface) and first is None:
            first = time.perf_counter() - t0
            first_stride = step.stride
    # the alternative: the same two layers point by point
    g = np.linspace(-1, 1, n)
    A, B = np.meshgrid(g, g)
    sub = 200
    t0 = time.perf_counter()
    for split in ("train", "val"):
        ev = nslice.evaluator(split, "float32")
        for a, b in zip(A.ravel()[:sub], B.ravel()[:sub], strict=True):
            ev.direct(a, b)
    alt = (time.perf_counter() - t0) * (n * n) / sub
    o = 1000 * full
    met = first <= 0.3 and full <= 3.0
    name = TITLES["9"] + (f" (quick: {n}²)" if quick else "")
    return Row("9", name, o, 1000 * alt, alt / full, "speed-up: per-point / ours (full)",
               "first ≤ 0.3 s, full ≤ 3 s", "ours", 3000.0, met, details={
                   "first_preview_ms": 1000 * first, "first_preview_stride": first_stride,
                   "full_ms": o, "grid": n, "model": nslice.network.describe(),
                   "non_finite": surface.non_finite(),
                   "alternative": f"per-point loop timed on {sub} points per split, "
                                  "extrapolated"})


def bench_memory(quick: bool, Row: Any) -> Any:
    from lossviewer.compute.network_jobs import NetworkRequest, network_job
    from lossviewer.core.iteration import run_to_end
    from lossviewer.core.network import ModelSpec
    from lossviewer.core.network_landscape import iter_network_surface
    from lossviewer.core.training import TrainingConfig

    req = NetworkRequest.create("digits", {"seed": 0}, model=ModelSpec((64,), "relu"),
                                training=TrainingConfig.create("adam", {"lr": 0.003},
                                                               steps=20))
    nslice = run_to_end(network_job(req))
    n = 101 if quick else 401
    nslice.evaluator("train", "float32")
    nslice.evaluator("val", "float32")
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    t0 = time.perf_counter()
    run_to_end(iter_network_surface(nslice, (-1, 1), (-1, 1), n))
    took = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    mb = (peak - base) / 2**20
    samples = nslice.dataset.X_train.shape[0] + nslice.dataset.X_val.shape[0]
    one_batch = n * n * samples * max(nslice.network.sizes[1:]) * 4 / 2**20
    name = TITLES["10"] + (f" (quick: {n}²)" if quick else "")
    return Row("10", name, mb, one_batch, one_batch / max(mb, 1e-9),
               "memory: one-batch evaluation / ours", "≤ 200 MB over baseline", "ours", 200.0,
               mb <= 200.0, unit="MB", details={
                   "grid": n, "model": nslice.network.describe(), "seconds": took,
                   "alternative": "activations of the whole grid evaluated in one batch "
                                  "(estimate, float32)"})


def bench_torch_cnn(quick: bool, Row: Any) -> Any | None:
    """Row 11, or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    from pathlib import Path

    from lossviewer.compute.model_file import load_model_file
    from lossviewer.compute.torch_plane import TorchNetwork, TorchPlaneEvaluator
    from lossviewer.core.directions import DirectionSpec, make_directions
    from lossviewer.core.plane_eval import Plane

    path = Path(__file__).resolve().parents[1] / "resources" / "models" / "digits_cnn.py"
    mf = load_model_file(str(path))
    net = TorchNetwork(mf)
    d = make_directions(DirectionSpec("filter"), net, net.theta0())
    plane = Plane(d.center, d.d1, d.d2)
    n = 9 if quick else 31
    g = np.linspace(-1, 1, n)
    A, B = np.meshgrid(g, g)
    ev = TorchPlaneEvaluator(net, net.data("train"), plane, "float32")
    ev.evaluate(A[:1, :2], B[:1, :2])  # warm-up
    t0 = time.perf_counter()
    vals, _ = ev.evaluate(A, B)
    ours = time.perf_counter() - t0
    sub = 12 if quick else 60
    idx = np.linspace(0, n * n - 1, sub).round().astype(int)
    t0 = time.perf_counter()
    ref = np.array([ev.direct(A.ravel()[i], B.ravel()[i])[0] for i in idx])
    alt = (time.perf_counter() - t0) * (n * n) / sub
    dev = float(np.max(np.abs(vals.ravel()[idx] - ref) / np.abs(ref)))
    o, a_ms = 1000 * ours, 1000 * alt
    ratio = a_ms / o
    name = TITLES["11"] + (f" (quick: {n}²)" if quick else "")
    return Row("11", name, o, a_ms, ratio, "speed-up: per-point / vmap-batched", "≥ 5×",
               "ratio", 5.0, ratio >= 5.0, details={
                   "grid": n, "torch": torch.__version__, "threads": torch.get_num_threads(),
                   "device": "cpu", "vmap_error": ev.vmap_error,
                   "per_point_chosen": ev.per_point_faster,
                   "max_relative_difference": dev, "parameters": net.n_params,
                   "alternative": f"one functional call per point, timed on {sub} points and "
                                  "extrapolated"})
