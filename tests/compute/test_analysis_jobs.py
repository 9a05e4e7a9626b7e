"""Analysis jobs: the same results as the core functions, with rising progress; no Qt."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lossviewer.compute.analysis_jobs import (
    CriticalRequest,
    CurvatureRequest,
    CurvatureResult,
    critical_job,
    curvature_job,
)
from lossviewer.compute.jobs import Progress
from lossviewer.core.critical_points import find_critical_points
from lossviewer.core.curvature import curvature_field, gradient_arrows
from lossviewer.core.functions import make_landscape
from lossviewer.core.landscape import Landscape
from lossviewer.core.landscape_spec import LandscapeSpec
from tests.compute.threads import start_then_close_elsewhere


def run(gen):
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


def _check_progress(items, prefix, along=True):
    assert items and all(isinstance(i, Progress) for i in items)
    fr = [i.fraction for i in items]
    assert fr == sorted(fr)
    assert fr[0] == 0.0 and fr[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in fr)
    assert all(i.text.startswith(prefix) and i.text.endswith("%") for i in items)
    if along:  # it reports along the way, not only at the ends
        assert len(set(fr)) > 3


def test_critical_job_equals_find_critical_points():
    spec = LandscapeSpec.create("six_hump_camel")
    req = CriticalRequest(spec, (-3.0, 3.0), (-2.0, 2.0), revision=4)
    items, points = run(critical_job(req))
    _check_progress(items, "Critical points … ")
    assert points == find_critical_points(make_landscape("six_hump_camel"), (-3, 3), (-2, 2))
    assert len(points) == 15 and sum(p.is_global for p in points) == 2
    # requests are hashable and plain
    assert hash(req) == hash(CriticalRequest.create(spec, (-3, 3), (-2, 2), revision=4))
    assert CriticalRequest.create(spec, (-3, 3), (-2, 2), revision=4) == req


def test_critical_job_parameters_and_seeds():
    spec = LandscapeSpec.create("rosenbrock", {"a": -0.5, "b": 10.0})
    _, points = run(critical_job(CriticalRequest(spec, (-2, 2), (-1, 3), seeds=12)))
    assert len(points) == 1
    assert (points[0].x, points[0].y) == pytest.approx((-0.5, 0.25), abs=1e-12)
    with pytest.raises(ValueError):
        run(critical_job(CriticalRequest(spec, (2, -2), (-1, 3))))


@pytest.mark.parametrize("resolution", [2, 50, 256])
def test_curvature_job_grid_and_values(resolution):
    spec = LandscapeSpec.create("himmelblau")
    req = CurvatureRequest(spec, (-5.0, 4.0), (-3.0, 5.0), resolution, arrows=16, revision=2)
    items, result = run(curvature_job(req))
    assert isinstance(result, CurvatureResult)
    # 256² points take two blocks of the field
    _check_progress(items, f"Curvature {resolution}² … ", along=resolution == 256)
    f = result.field
    # exactly the grid the contour map and the 3D mesh use
    np.testing.assert_array_equal(f.xs, np.linspace(-5.0, 4.0, resolution))
    np.testing.assert_array_equal(f.ys, np.linspace(-3.0, 5.0, resolution))
    assert f.min_eig.shape == (resolution, resolution)
    land = make_landscape("himmelblau")
    ref = curvature_field(land, f.xs, f.ys)
    np.testing.assert_array_equal(f.min_eig, ref.min_eig)
    np.testing.assert_array_equal(f.max_eig, ref.max_eig)
    np.testing.assert_array_equal(f.condition, ref.condition)
    X, Y = np.meshgrid(f.xs, f.ys)
    direct = np.linalg.eigvalsh(land.hess(np.stack([X, Y], -1)))
    np.testing.assert_allclose(f.min_eig, direct[..., 0], rtol=1e-12, atol=1e-10)
    arrows = gradient_arrows(land, (-5.0, 4.0), (-3.0, 5.0), 16)
    np.testing.assert_array_equal(result.arrows.tails, arrows.tails)
    np.testing.assert_array_equal(result.arrows.directions, arrows.directions)
    assert len(result.arrows) == 16 * 16


def test_curvature_job_validates():
    spec = LandscapeSpec.create("saddle")
    for bad in [CurvatureRequest(spec, (-1, 1), (-1, 1), 1),
                CurvatureRequest(spec, (1, 1), (-1, 1), 32),
                CurvatureRequest(spec, (-1, 1), (-1, float("nan")), 32)]:
        with pytest.raises(ValueError):
            run(curvature_job(bad))
    req = CurvatureRequest.create(spec, (-1, 1), (-1, 1), 32.0)
    assert req.resolution == 32 and isinstance(req.xrange[0], float)
    assert hash(req) == hash(CurvatureRequest(spec, (-1.0, 1.0), (-1.0, 1.0), 32))


def test_jobs_on_a_nan_landscape_raise_and_warn_nothing():
    # Rosenbrock far outside its domain overflows (inf, then inf − inf = NaN)
    spec = LandscapeSpec.create("rosenbrock")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, result = run(curvature_job(CurvatureRequest(spec, (-1e160, 1e160),
                                                       (-1e160, 1e160), 33)))
        _, points = run(critical_job(CriticalRequest(spec, (-1e160, 1e160),
                                                     (-1e160, 1e160), seeds=10)))
    assert not np.isfinite(result.field.min_eig).all()
    assert isinstance(points, list)


class _HalfNaN(Landscape):
    """(x − 1)² + 2y², NaN (value, gradient, Hessian) wherever x < 0."""

    name = "half_nan"

    def _f(self, x, y):
        return np.where(x < 0, np.nan, (x - 1) ** 2 + 2 * y * y)

    def _g(self, x, y):
        return np.where(x < 0, np.nan, 2 * (x - 1)), np.where(x < 0, np.nan, 4 * y)

    def _h(self, x, y):
        nan = np.where(x < 0, np.nan, 0.0)
        return 2 + nan, nan, 4 + nan


def test_jobs_on_a_half_nan_landscape(monkeypatch):
    monkeypatch.setattr(LandscapeSpec, "make", lambda self: _HalfNaN())
    spec = LandscapeSpec.create("formula", formula="stand-in")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        items, points = run(critical_job(CriticalRequest(spec, (-2, 2), (-2, 2))))
        _check_progress(items, "Critical points … ")
        items, result = run(curvature_job(CurvatureRequest(spec, (-2, 2), (-2, 2), 64)))
        _check_progress(items, "Curvature 64² … ", along=False)
    assert [(p.x, p.y, p.kind) for p in points] == [(1.0, 0.0, "minimum")]
    left = result.field.xs < 0
    assert np.isnan(result.field.min_eig[:, left]).all()
    assert (result.field.min_eig[:, ~left] == 2).all()
    assert len(result.arrows) == 12 * 24 and np.all(result.arrows.tails[:, 0] > 0)


def test_jobs_can_be_closed_from_another_thread():
    """A cancelled job is closed from whichever thread; nothing may raise then."""
    spec = LandscapeSpec.create("ackley")
    gens = [critical_job(CriticalRequest(spec, (-5, 5), (-5, 5))),
            curvature_job(CurvatureRequest(spec, (-5, 5), (-5, 5), 256))]
    assert start_then_close_elsewhere(gens) == []
