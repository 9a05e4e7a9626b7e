"""Compute jobs: the results equal direct computation; progress is reported; no Qt."""

from __future__ import annotations

import numpy as np

from lossviewer.compute.jobs import (
    Partial,
    PathsRequest,
    Progress,
    RunRequest,
    SurfaceRequest,
    paths_job,
    surface_job,
)
from lossviewer.core.functions import make_landscape
from lossviewer.core.grid import MESH_MAX_SIDE
from lossviewer.core.landscape_spec import LandscapeSpec
from lossviewer.core.trajectory import simulate
from tests.compute.threads import start_then_close_elsewhere


def run(gen):
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


def test_surface_job_matches_direct_evaluation():
    req = SurfaceRequest.create("himmelblau", {}, (-5, 5), (-4, 4), 600, revision=3)
    items, data = run(surface_job(req))
    land = make_landscape("himmelblau")
    xs, ys = np.linspace(-5, 5, 600), np.linspace(-4, 4, 600)
    X, Y = np.meshgrid(xs, ys)
    expected = land.value(np.stack([X, Y], -1))
    np.testing.assert_allclose(data.surface.Z, expected, rtol=1e-13, atol=1e-12)
    # a coarse preview first, progress in between, fractions increasing to 1
    assert isinstance(items[0], Progress)
    assert any(isinstance(i, Partial) for i in items)
    fr = [i.fraction for i in items if isinstance(i, Progress) and i.fraction > 0]
    assert fr == sorted(fr) and 0.95 <= fr[-1] <= 1.0
    # both z-scales prepared; display values are finite and within their range
    for scale in ("linear", "log"):
        d = data.scales[scale].display
        assert np.isfinite(d.Z).all()
        assert d.Z.min() >= d.lo and d.Z.max() <= d.hi
        assert data.scales[scale].mesh_Z.shape[0] <= MESH_MAX_SIDE


def test_surface_job_clips_overflow_and_never_shows_nan():
    # Rosenbrock far outside its domain overflows to inf in places
    req = SurfaceRequest.create("rosenbrock", {}, (-1e80, 1e80), (-1e80, 1e80), 64)
    _, data = run(surface_job(req))
    for scale in ("linear", "log"):
        d = data.scales[scale].display
        assert np.isfinite(d.Z).all()
        assert np.isfinite(data.scales[scale].image).all()
        assert d.lo < d.hi
    assert data.scales["linear"].display.clipped > 0


def test_paths_job_equals_simulate_and_yields_each_path():
    runs = (
        RunRequest(1, 5, "sgd", (("lr", 1e-3),), (-1.5, 2.0), 300),
        RunRequest(2, 7, "adam", (("lr", 0.05),), (-1.5, 2.0), 200, noise=0.5, seed=3),
    )
    items, results = run(paths_job(PathsRequest(LandscapeSpec.create("rosenbrock"), runs)))
    partials = [i.value for i in items if isinstance(i, Partial)]
    assert [(p.run_id, p.revision) for p in partials] == [(1, 5), (2, 7)]
    land = make_landscape("rosenbrock")
    ref = simulate(land, "adam", {"lr": 0.05}, np.array([[-1.5, 2.0]]), 200, noise=0.5, seed=3)
    np.testing.assert_array_equal(results[1].trajectory.points, ref.points)


def test_surface_jobs_can_be_closed_from_another_thread():
    """A cancelled job is closed from whichever thread; nothing may raise then
    (numpy's errstate held across a yield would: its context token is per thread)."""

    from lossviewer.core.grid import iter_surface

    land = make_landscape("ackley")
    gens = [iter_surface(land, (-5, 5), (-5, 5), 1024),
            surface_job(SurfaceRequest.create("ackley", {}, (-5, 5), (-5, 5), 1024))]
    assert start_then_close_elsewhere(gens) == []
