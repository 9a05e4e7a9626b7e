"""Network landscape grids on a Dask cluster (compute.cluster, cluster_grid, slice_recipe).

Clusters here are LocalClusters of worker processes on loopback, as on one machine of
a real deployment; references are the local evaluator in float64 (the same batched
code, so the grids agree to rounding). Skipped without the 'cluster' extra.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from lossviewer.compute.network_jobs import NetworkRequest, network_job
from lossviewer.core.directions import DirectionSpec
from lossviewer.core.network_landscape import (
    LAYERS,
    GridState,
    NetworkSurface,
    iter_network_surface,
)
from lossviewer.core.training import TrainingConfig

distributed = pytest.importorskip("distributed", reason="needs the 'cluster' extra (Dask)")

from lossviewer.compute import slice_recipe  # noqa: E402
from lossviewer.compute.cluster import (  # noqa: E402
    ClusterConnection,
    ClusterError,
    check_address,
)
from lossviewer.compute.cluster_grid import (  # noqa: E402
    ClusterRunStats,
    default_tile,
    iter_cluster_surface,
    plan_tiles,
)
from lossviewer.compute.slice_recipe import build_slice, recipe_for  # noqa: E402

pytestmark = pytest.mark.timeout(300)
RANGE = ((-1.0, 1.0), (-1.0, 1.0))


def drive(gen):
    """Run a step generator to its end: (result, steps)."""
    steps = []
    while True:
        try:
            steps.append(next(gen))
        except StopIteration as stop:
            return stop.value, steps


@pytest.fixture(scope="module")
def cluster():
    conn = ClusterConnection.start_local(2)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def digits_slice():
    """A digits MLP slice in float64 (about 1,200 parameters, 300 samples)."""
    req = NetworkRequest.create("digits", {"n_samples": 300}, training=TrainingConfig(steps=20),
                                directions=DirectionSpec("filter", seed=3), dtype="float64")
    return drive(network_job(req))[0]


def local_reference(nslice, n):
    return drive(iter_network_surface(nslice, *RANGE, n, "float64"))[0]


def assert_same_layers(got: NetworkSurface, want: NetworkSurface, rtol=1e-12) -> None:
    np.testing.assert_array_equal(got.xs, want.xs)
    np.testing.assert_array_equal(got.ys, want.ys)
    for k in LAYERS:
        assert np.all(np.isfinite(got.layers[k])), k
        np.testing.assert_allclose(got.layers[k], want.layers[k], rtol=rtol, atol=0, err_msg=k)


# -- plumbing that needs no cluster -------------------------------------------------------


def test_tiles_cover_every_point_once_centre_first() -> None:
    for nx, ny, tile in [(51, 51, 7), (10, 3, 4), (1001, 1001, 64), (5, 5, 16)]:
        count = np.zeros((ny, nx), int)
        blocks = plan_tiles(nx, ny, tile)
        for j0, j1, i0, i1 in blocks:
            assert 0 < j1 - j0 <= tile and 0 < i1 - i0 <= tile
            count[j0:j1, i0:i1] += 1
        assert np.all(count == 1)
        j0, j1, i0, i1 = blocks[0]
        assert j0 <= ny // 2 < j1 and i0 <= nx // 2 < i1  # the centre (the solution) first
    assert default_tile(51, 51) == 7 and default_tile(5, 5) == 4 and default_tile(1001, 1001) == 64


def test_addresses() -> None:
    assert check_address("10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert check_address(" tls://host:1 ") == "tls://host:1"
    for bad in ("", "  ", "tcp://", "host name:1", ":8786"):
        with pytest.raises(ClusterError):
            check_address(bad)


def test_partial_surface_fills_pending_points_from_the_lattice() -> None:
    xs = ys = np.linspace(0, 1, 9)
    truth = np.add.outer(ys, 10 * xs)
    done = np.zeros((9, 9), bool)
    done[::4, ::4] = True          # the coarse lattice
    done[0:3, 0:3] = True          # one finished tile
    layers = {k: np.where(done, truth, np.nan) for k in LAYERS}
    s = NetworkSurface(xs, ys, layers, {}, 1, done=done, preview_stride=4)
    assert s.pending == 81 - int(done.sum())
    Z = s.surface("train_loss").Z
    assert np.all(np.isfinite(Z))
    np.testing.assert_array_equal(Z[done], truth[done])      # computed points untouched
    assert Z[1, 5] == truth[0, 4] and Z[7, 7] == truth[8, 8]  # nearest lattice point
    assert np.isnan(layers["train_loss"][1, 5])              # the stored layers untouched


def test_recipe_rebuilds_the_same_evaluator(digits_slice) -> None:
    recipe = recipe_for(digits_slice)
    assert recipe.kind == "builtin" and len(recipe.digest) == 32
    rebuilt = build_slice(recipe)
    a, b = np.linspace(-1, 1, 7), np.linspace(1, -1, 7)
    for split in ("train", "val"):
        np.testing.assert_array_equal(rebuilt.evaluator(split, "float64").evaluate(a, b)[0],
                                      digits_slice.evaluator(split, "float64").evaluate(a, b)[0])
    assert recipe_for(digits_slice.with_dtype("float32")).digest != recipe.digest


def test_a_stored_grid_has_no_recipe(tmp_path) -> None:
    from lossviewer.core.stored_landscape import stored_slice

    xs = ys = np.linspace(-1, 1, 5)
    layers = {k: np.zeros((5, 5)) for k in LAYERS}
    nslice = stored_slice(NetworkSurface(xs, ys, layers, {}), "file.h5")
    with pytest.raises(ValueError, match="stored grid"):
        recipe_for(nslice)


# -- on a local cluster of two processes -------------------------------------------------


def test_cluster_equals_the_local_evaluator(cluster, digits_slice) -> None:
    info = cluster.info()
    assert info.workers == 2 and info.local and info.address.startswith("tcp://127.0.0.1")
    ref = local_reference(digits_slice, 37)
    stats = ClusterRunStats()
    got, steps = drive(iter_cluster_surface(cluster, digits_slice, *RANGE, 37, "float64",
                                            stats=stats, tile=6))
    assert_same_layers(got, ref)
    assert stats.points == 37 * 37 and stats.tasks > 36  # the lattice batches + 7×7 tiles
    # progress counts up to the total, never back
    counts = [s[0] for s in steps if isinstance(s, tuple)]
    assert counts == sorted(counts) and counts[-1] == 37 * 37
    # both workers took part, and each built the slice once however many tiles it ran:
    # another grid of the same slice builds nothing more
    assert len(stats.builds) == 2 and all(n >= 1 for n in stats.builds.values())
    before = dict(stats.builds)
    drive(iter_cluster_surface(cluster, digits_slice, *RANGE, 21, "float64", stats=stats))
    assert all(stats.builds[pid] == before[pid] for pid in stats.builds if pid in before)


def test_float32_grid_matches_within_float_tolerance(cluster, digits_slice) -> None:
    s32 = digits_slice.with_dtype("float32")
    ref = drive(iter_network_surface(s32, *RANGE, 25, "float32"))[0]
    got = drive(iter_cluster_surface(cluster, s32, *RANGE, 25, "float32"))[0]
    for k in LAYERS:
        np.testing.assert_allclose(got.layers[k], ref.layers[k], rtol=1e-5, atol=1e-6,
                                   err_msg=k)


def test_partials_show_the_picture_filling_in(cluster, digits_slice) -> None:
    gen = iter_cluster_surface(cluster, digits_slice, *RANGE, 61, "float64", tile=4,
                               partial_every_s=0.0)
    final, steps = drive(gen)
    partials = [s for s in steps if isinstance(s, NetworkSurface)]
    assert partials, "no partial surface was yielded"
    pending = [p.pending for p in partials]
    assert pending == sorted(pending, reverse=True) and 0 < pending[0] < 61 * 61
    for p in partials:
        Z = p.surface("train_loss").Z
        computed = p.done
        np.testing.assert_array_equal(Z[computed], final.layers["train_loss"][computed])


def test_interrupted_run_resumes_without_recomputing(cluster, digits_slice) -> None:
    n = 41
    ref = local_reference(digits_slice, n)
    state = GridState.empty(n, n)
    first = ClusterRunStats()
    gen = iter_cluster_surface(cluster, digits_slice, *RANGE, n, "float64", state=state,
                               stats=first, tile=5)
    for step in gen:
        if isinstance(step, tuple) and step[0] >= n * n // 3:
            break
    gen.close()  # what a cancel or Ctrl+C does: queued tiles are dropped
    finished = state.finished
    assert n * n // 3 <= finished < n * n
    for k in LAYERS:  # finished points hold their values, the others nothing yet
        assert np.all(np.isfinite(state.layers[k][state.done]))
        assert np.all(np.isnan(state.layers[k][~state.done]))

    second = ClusterRunStats()
    got, _ = drive(iter_cluster_surface(cluster, digits_slice, *RANGE, n, "float64",
                                        state=state, stats=second, tile=5))
    assert second.points == n * n - finished  # no finished point is sent again
    assert_same_layers(got, ref)
    # a finished grid sends nothing at all
    third = ClusterRunStats()
    drive(iter_cluster_surface(cluster, digits_slice, *RANGE, n, "float64", state=state,
                               stats=third))
    assert third.tasks == 0


def test_a_killed_worker_costs_only_its_tiles(digits_slice) -> None:
    n = 61
    ref = local_reference(digits_slice, n)
    with ClusterConnection.start_local(2) as conn:
        pids = list(conn.client.run(os.getpid).values())
        stats = ClusterRunStats()
        gen = iter_cluster_surface(conn, digits_slice, *RANGE, n, "float64", stats=stats, tile=3)
        killed_at = None
        while True:
            try:
                step = next(gen)
            except StopIteration as stop:
                got = stop.value
                break
            if killed_at is None and isinstance(step, tuple) and step[0] > n * n // 10:
                killed_at = step[0]
                os.kill(pids[0], signal.SIGKILL)  # the process, as an OOM killer would
        assert killed_at is not None and killed_at < n * n
        assert_same_layers(got, ref)
        # the nanny started a new worker process, which built the slice for itself
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(conn.client.run(os.getpid)) < 2:
            time.sleep(0.2)
        assert pids[0] not in conn.client.run(os.getpid).values()


def test_a_failing_task_is_one_clear_error(cluster, digits_slice, monkeypatch) -> None:
    # the workers rebuild built-in slices from the recipe; one whose plane does not fit
    # its network fails there, and the error names what went wrong
    from lossviewer.core.directions import Directions

    d = digits_slice.directions
    bad = Directions(d1=d.d1[:10], d2=d.d2[:10], center=d.center[:10], spec=d.spec,
                     labels=d.labels, info=d.info)
    from dataclasses import replace

    broken = replace(digits_slice, directions=bad, _cache={})
    state = GridState.empty(9, 9)
    with pytest.raises(ClusterError, match="a worker failed"):
        drive(iter_cluster_surface(cluster, broken, *RANGE, 9, "float64", state=state))
    assert state.finished == 0


def test_connect_to_a_running_scheduler(cluster, digits_slice) -> None:
    address = cluster.info().address
    with ClusterConnection.connect(address) as other:
        assert not other.local and other.info().workers == 2
        got = drive(iter_cluster_surface(other, digits_slice, *RANGE, 15, "float64"))[0]
    assert_same_layers(got, local_reference(digits_slice, 15))
    assert cluster.info().workers == 2  # closing a connection leaves the cluster running


def test_nobody_at_the_address() -> None:
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match="no Dask scheduler answers at tcp://127.0.0.1:9"):
        ClusterConnection.connect("127.0.0.1:9", timeout=2)
    assert time.monotonic() - t0 < 30


def test_worker_processes_share_the_cores(cluster) -> None:
    from lossviewer.core.threads import MAX_WORKERS, usable_cpus, worker_count

    counts = set(cluster.client.run(worker_count).values())
    assert counts == {min(MAX_WORKERS, max(1, usable_cpus() // 2))}


def test_a_worker_keeps_few_slices(digits_slice) -> None:
    slice_recipe._slices.clear()
    builds = slice_recipe.builds
    recipes = [recipe_for(digits_slice.with_dtype(dt)) for dt in ("float64", "float32")]
    recipes.append(recipe_for(digits_slice.with_split("val")))  # same plane and data as [0]
    first = slice_recipe.worker_slice(recipes[0])
    assert slice_recipe.worker_slice(recipes[0]) is first
    slice_recipe.worker_slice(recipes[1])
    assert slice_recipe.builds == builds + 2
    assert recipes[2].digest == recipes[0].digest
    assert slice_recipe.worker_slice(recipes[2]) is first
    assert len(slice_recipe._slices) <= slice_recipe.KEPT_SLICES
    slice_recipe._slices.clear()


def test_model_file_recipe_checks_the_file_on_the_worker(tmp_path) -> None:
    pytest.importorskip("torch", reason="model files need PyTorch (the torch extra)")
    from lossviewer.compute.model_file import ModelFileError
    from lossviewer.compute.network_jobs import ModelFileRequest, model_file_job

    path = tmp_path / "model.py"
    path.write_text(
        "import torch\n"
        "def model():\n"
        "    torch.manual_seed(0)\n"
        "    return torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(),"
        " torch.nn.Linear(4, 2))\n"
        "def data():\n"
        "    g = torch.Generator().manual_seed(0)\n"
        "    return torch.randn(30, 2, generator=g), torch.randint(0, 2, (30,), generator=g)\n")
    result = drive(model_file_job(ModelFileRequest(str(path), dtype="float64")))[0]
    recipe = recipe_for(result.network_slice)
    assert recipe.kind == "model-file" and recipe.script == str(path)
    rebuilt = build_slice(recipe)  # what a worker does: runs the file, checks it
    a, b = np.array([0.1, -0.3]), np.array([0.2, 0.5])
    np.testing.assert_allclose(rebuilt.evaluator("train", "float64").evaluate(a, b)[0],
                               result.network_slice.evaluator("train", "float64")
                               .evaluate(a, b)[0], rtol=1e-12)
    path.write_text(path.read_text() + "# edited\n")
    with pytest.raises(ModelFileError, match="differs from the one the landscape was started"):
        build_slice(recipe)
    path.unlink()
    with pytest.raises(ModelFileError, match="is not on this worker"):
        build_slice(recipe)
