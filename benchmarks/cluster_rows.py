"""Benchmark row 12: a network landscape on a local Dask cluster (imported by run.py).

12  the digits MLP's 101² training + validation landscape on a LocalCluster of two
    worker processes (one thread each) vs the single-process evaluator (which uses
    both cores through its own threads), both warm (evaluators built). Reported
    separately: the cluster's start-up (processes, scheduler, client) and the first
    grid's extra cost (each worker builds the slice once), and a one-worker cluster
    for the scaling shape (1 → 2 workers on this 2-core machine). Cluster workers
    evaluate with one numpy thread each, as one core of a many-machine cluster would.
"""

from __future__ import annotations

import time
from typing import Any

TITLES = {"12": "Digits MLP landscape 101² on 2 local Dask workers vs one process"}


def _slice(quick: bool) -> Any:
    from lossviewer.compute.network_jobs import NetworkRequest, network_job
    from lossviewer.core.iteration import run_to_end
    from lossviewer.core.network import ModelSpec
    from lossviewer.core.training import TrainingConfig

    req = NetworkRequest.create("digits", {"seed": 0}, model=ModelSpec((64,), "relu"),
                                training=TrainingConfig.create("adam", {"lr": 0.003},
                                                               steps=20 if quick else 50))
    return run_to_end(network_job(req))


def _timed(gen: Any) -> tuple[float, Any]:
    from lossviewer.core.iteration import run_to_end

    t0 = time.perf_counter()
    out = run_to_end(gen)
    return time.perf_counter() - t0, out


def _on_cluster(nslice: Any, workers: int, n: int) -> dict[str, float]:
    import numpy as np

    from lossviewer.compute.cluster import ClusterConnection
    from lossviewer.compute.cluster_grid import iter_cluster_surface

    rng = ((-1.0, 1.0), (-1.0, 1.0))
    t0 = time.perf_counter()
    conn = ClusterConnection.start_local(workers, dashboard=False, numpy_threads=1)
    try:
        startup = time.perf_counter() - t0
        first, _ = _timed(iter_cluster_surface(conn, nslice, *rng, 9))  # builds the slices
        took, surface = _timed(iter_cluster_surface(conn, nslice, *rng, n))
    finally:
        conn.close()
    return {"startup": startup, "first_small_grid": first, "grid": took,
            "layers": {k: np.array(v) for k, v in surface.layers.items()}}


def bench_cluster(quick: bool, Row: Any) -> Any | None:
    """Row 12, or None without the cluster extra."""
    from lossviewer.compute.cluster import cluster_available

    if not cluster_available():
        return None
    import numpy as np

    from lossviewer.core.network_landscape import iter_network_surface

    nslice = _slice(quick)
    n = 41 if quick else 101
    rng = ((-1.0, 1.0), (-1.0, 1.0))
    _timed(iter_network_surface(nslice, *rng, 9))  # evaluators built, as on the cluster
    local, ref = _timed(iter_network_surface(nslice, *rng, n))
    two = _on_cluster(nslice, 2, n)
    one = _on_cluster(nslice, 1, n)
    dev = max(float(np.max(np.abs(two["layers"][k] - ref.layers[k])
                        / np.maximum(np.abs(ref.layers[k]), 1e-6))) for k in ref.layers)
    ratio = local / two["grid"]
    name = TITLES["12"] + (f" (quick: {n}²)" if quick else "")
    return Row("12", name, 1000 * two["grid"], 1000 * local, ratio,
               "speed-up: one process / 2 local workers", "≥ 0.8× (2 cores: parity)",
               "ratio", 0.8, ratio >= 0.8, details={
                   "grid": n, "model": nslice.network.describe(),
                   "cluster_startup_ms": 1000 * two["startup"],
                   "first_grid_9x9_ms (workers build the slice)": 1000 * two["first_small_grid"],
                   "one_worker_ms": 1000 * one["grid"],
                   "scaling_1_to_2_workers": one["grid"] / two["grid"],
                   "max_relative_difference": dev})
