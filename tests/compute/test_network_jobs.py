"""Network jobs: the slice job's progress, layer displays, the per-slice surface cache,
and cancelling from another thread."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from lossviewer.compute import network_jobs
from lossviewer.compute.jobs import Partial, Progress
from lossviewer.compute.network_jobs import (
    KEPT_SURFACES,
    NetworkRequest,
    NetworkSurfaceRequest,
    cached_network_surface,
    keep_network_surface,
    layer_display_job,
    network_job,
    network_surface_job,
)
from lossviewer.core.directions import DirectionSpec
from lossviewer.core.grid import SurfaceDisplay
from lossviewer.core.network import ModelSpec
from lossviewer.core.network_landscape import NetworkSlice, NetworkSurface, preview_strides
from lossviewer.core.training import TrainingConfig
from tests.compute.threads import start_then_close_elsewhere

XR, YR = (-1.0, 1.0), (-0.75, 1.25)


def run(gen):
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


def _request(method: str = "filter") -> NetworkRequest:
    return NetworkRequest.create(
        "moons", {"n_samples": 60, "noise": 0.1},
        model=ModelSpec((6,), "tanh", "cross_entropy", 0.0),
        training=TrainingConfig.create("sgd", {"lr": 0.5}, steps=24, checkpoint_every=4),
        directions=DirectionSpec(method, seed=2))


@pytest.fixture(scope="module")
def trained() -> tuple[list, NetworkSlice]:
    return run(network_job(_request()))


@pytest.fixture
def nslice(trained) -> NetworkSlice:
    """The trained slice with an empty cache of its own (each test computes afresh)."""
    return replace(trained[1], _cache={}, _lock=threading.Lock())


def _forbid_computing(monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("the surface was computed again instead of taken from the cache")

    monkeypatch.setattr(network_jobs, "iter_network_surface", fail)


# -- network_job ---------------------------------------------------------------------------


def _check_progress(items: list) -> None:
    assert items and all(isinstance(i, Progress) for i in items)
    fr = [i.fraction for i in items]
    assert fr == sorted(fr), fr
    assert fr[0] == 0.0 and fr[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in fr)
    assert all(i.text for i in items)


def test_network_job_progress_ends_at_one(trained) -> None:
    items, sl = trained
    _check_progress(items)
    assert any("Training" in i.text for i in items)
    assert isinstance(sl, NetworkSlice) and sl.run.steps_done == 24
    np.testing.assert_array_equal(sl.directions.center, sl.run.final)


def test_interp_job_progress_ends_at_one() -> None:
    items, sl = run(network_job(_request("interp")))
    _check_progress(items)
    assert any("second solution" in i.text for i in items)
    assert sl.directions.spec.method == "interp"


def test_network_job_with_a_run_does_not_train(trained) -> None:
    run_ = trained[1].run
    items, sl = run(network_job(replace(_request(), run=run_)))
    _check_progress(items)
    assert not any("Training" in i.text for i in items)
    assert sl.run is run_
    np.testing.assert_array_equal(sl.directions.center, run_.final)


def test_network_job_refuses_a_run_of_another_model(trained) -> None:
    req = replace(_request(), model=ModelSpec((5,), "tanh"), run=trained[1].run)
    with pytest.raises(ValueError, match="another model"):
        run(network_job(req))


def test_surface_job_progress_and_result(nslice) -> None:
    req = NetworkSurfaceRequest.create(nslice, XR, YR, (41, 33))
    items, surf = run(network_surface_job(req))
    fr = [i.fraction for i in items if isinstance(i, Progress)]
    assert fr == sorted(fr) and fr[-1] == 1.0
    partials = [i.value for i in items if isinstance(i, Partial)]
    assert partials and partials[-1].stride == 1
    assert isinstance(surf, NetworkSurface) and surf.layers["train_loss"].shape == (33, 41)
    assert np.isfinite(surf.layers["val_acc"]).all()


# -- layer_display_job ----------------------------------------------------------------------


def test_no_preview_pass_on_a_33_grid() -> None:
    # the first pass has ~400 points: a 33² grid (1089) is computed in a single pass
    assert preview_strides(33, 33) == [1]
    assert preview_strides(41, 41) == [2, 1]


@pytest.mark.parametrize("n", [33, 41])
def test_layer_display_final_is_the_layer(nslice, n) -> None:
    items, disp = run(layer_display_job(nslice, XR, YR, n, "train_loss"))
    assert isinstance(disp, SurfaceDisplay)
    surf = cached_network_surface(nslice, XR, YR, n)
    assert surf is not None and surf.stride == 1
    np.testing.assert_array_equal(disp.surface.Z, surf.layers["train_loss"])
    np.testing.assert_array_equal(disp.surface.xs, np.linspace(*XR, n))
    np.testing.assert_array_equal(disp.surface.ys, np.linspace(*YR, n))
    assert disp.surface.meta["layer"] == "train_loss"
    assert set(disp.scales) == {"linear", "log"}
    fr = [i.fraction for i in items
          if isinstance(i, Progress) and not i.text.startswith("Preview")]
    assert fr == sorted(fr) and fr[-1] == pytest.approx(1.0)
    # the values are the network's training loss at those plane points
    ev = nslice.evaluator("train", "float64")
    for j, i in ((0, 0), (n // 2, n // 3), (n - 1, n - 2)):
        ref = ev.direct(surf.xs[i], surf.ys[j])[0]
        assert disp.surface.Z[j, i] == pytest.approx(ref, rel=1e-5)


def test_layer_display_previews_before_the_final_display(nslice) -> None:
    items, disp = run(layer_display_job(nslice, XR, YR, 41, "val_loss"))
    kinds = [type(i) for i in items]
    assert Partial in kinds
    first = kinds.index(Partial)
    assert any(k is Progress for k in kinds[first:])  # the full pass comes after it
    preview = items[first].value
    assert isinstance(preview, SurfaceDisplay)
    assert preview.surface.Z.shape == (21, 21)  # every second point of 41
    np.testing.assert_array_equal(preview.surface.Z, disp.surface.Z[::2, ::2])


def test_layer_display_progress_never_goes_back(nslice) -> None:
    items, _ = run(layer_display_job(nslice, XR, YR, 41, "val_loss"))
    fr = [i.fraction for i in items if isinstance(i, Progress)]
    assert fr == sorted(fr)


def test_another_layer_comes_from_the_cache(nslice, monkeypatch) -> None:
    first, _ = run(layer_display_job(nslice, XR, YR, 41, "train_loss"))
    surf = cached_network_surface(nslice, XR, YR, 41)
    _forbid_computing(monkeypatch)
    items, disp = run(layer_display_job(nslice, XR, YR, 41, "val_acc"))
    np.testing.assert_array_equal(disp.surface.Z, surf.layers["val_acc"])
    assert not any(isinstance(i, Partial) for i in items)  # nothing to preview
    assert len(items) < len(first)
    assert cached_network_surface(nslice, XR, YR, 41) is surf


def test_loss_gap_is_validation_minus_training(nslice) -> None:
    run(layer_display_job(nslice, XR, YR, 33, "train_loss"))
    surf = cached_network_surface(nslice, XR, YR, 33)
    _, disp = run(layer_display_job(nslice, XR, YR, 33, "loss_gap"))
    gap = surf.layers["val_loss"] - surf.layers["train_loss"]
    np.testing.assert_array_equal(disp.surface.Z, gap)
    assert np.any(gap != 0)
    assert disp.surface.meta["layer"] == "loss_gap"


def test_other_grids_dtypes_are_other_cache_entries(nslice) -> None:
    run(layer_display_job(nslice, XR, YR, 33, "train_loss"))
    assert cached_network_surface(nslice, XR, YR, 33) is not None
    assert cached_network_surface(nslice, XR, YR, 41) is None
    assert cached_network_surface(nslice, XR, (-1.0, 1.0), 33) is None
    assert cached_network_surface(nslice, XR, YR, 33, "float64") is None
    _, disp = run(layer_display_job(nslice, XR, YR, 33, "train_loss", "float64"))
    surf64 = cached_network_surface(nslice, XR, YR, 33, "float64")
    assert surf64 is not None and surf64.meta["dtype"] == "float64"
    surf32 = cached_network_surface(nslice, XR, YR, 33)
    np.testing.assert_allclose(surf64.layers["train_loss"], surf32.layers["train_loss"],
                               rtol=1e-5)


def test_only_a_few_surfaces_are_kept(nslice) -> None:
    sides = [8 + k for k in range(KEPT_SURFACES + 2)]
    for n in sides:
        run(layer_display_job(nslice, XR, YR, n, "train_loss"))
    kept = [n for n in sides if cached_network_surface(nslice, XR, YR, n) is not None]
    assert kept == sides[-KEPT_SURFACES:]


def test_kept_surface_is_used(nslice, trained, monkeypatch) -> None:
    other = replace(trained[1], _cache={}, _lock=threading.Lock())
    _, surf = run(network_surface_job(NetworkSurfaceRequest.create(other, XR, YR, 17)))
    keep_network_surface(nslice, surf)  # as opening a landscape file does
    assert cached_network_surface(nslice, XR, YR, 17) is surf
    _forbid_computing(monkeypatch)
    _, disp = run(layer_display_job(nslice, XR, YR, 17, "train_acc"))
    np.testing.assert_array_equal(disp.surface.Z, surf.layers["train_acc"])


# -- cancelling ------------------------------------------------------------------------------


def test_cancelling_from_another_thread(nslice) -> None:
    gens = [layer_display_job(nslice, XR, YR, 41, "train_loss"),
            network_job(_request()),
            network_surface_job(NetworkSurfaceRequest.create(nslice, XR, YR, 41))]
    assert start_then_close_elsewhere(gens, steps=3) == []
    # a cancelled display keeps no half-filled surface
    assert cached_network_surface(nslice, XR, YR, 41) is None
    # and the slice still computes afterwards
    _, disp = run(layer_display_job(nslice, XR, YR, 41, "train_loss"))
    assert np.isfinite(disp.surface.Z).all()
