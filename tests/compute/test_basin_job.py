"""The basin-map job: same map as basins(), progress from 0 to 1, hashable requests."""

from __future__ import annotations

import numpy as np
import pytest

from lossviewer.compute.basin_job import BasinRequest, basin_job
from lossviewer.compute.jobs import Progress
from lossviewer.core.basins import basins
from lossviewer.core.functions import make_landscape
from lossviewer.core.landscape_spec import LandscapeSpec


def run(gen):
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


def test_basin_job_matches_basins_and_reports_progress():
    req = BasinRequest.create("himmelblau", "adam", {"lr": 0.05, "betas": [0.9, 0.99]},
                              (-5, 5), (-4, 4), 48, 300, schedule="cosine",
                              schedule_params={"eta_min": 0.001}, revision=2)
    items, bm = run(basin_job(req))
    land = make_landscape("himmelblau")
    ref = basins(land, "adam", {"lr": 0.05, "betas": (0.9, 0.99)}, (-5, 5), (-4, 4), 48, 300,
                 schedule="cosine", schedule_params={"eta_min": 0.001})
    np.testing.assert_array_equal(bm.labels, ref.labels)
    np.testing.assert_array_equal(bm.ends, ref.ends)
    np.testing.assert_array_equal(bm.attractors, ref.attractors)
    assert bm.hyper["betas"] == (0.9, 0.99) and bm.schedule == "cosine"
    assert all(isinstance(i, Progress) for i in items)
    fr = [i.fraction for i in items]
    assert fr == sorted(fr) and fr[0] == 0.0 and fr[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in fr)
    assert all(i.text.startswith("Basins 48² … ") and i.text.endswith("%") for i in items)
    assert items[-1].text == "Basins 48² … 100%"


def test_requests_are_hashable_and_equal_by_value():
    a = BasinRequest.create("himmelblau", "adam", {"lr": 0.1, "betas": [0.9, 0.99]},
                            (-5, 5), (-5, 5), 64, 100, minima=[(3, 2)])
    b = BasinRequest.create(LandscapeSpec.create("himmelblau"), "adam",
                            {"betas": (0.9, 0.99), "lr": 0.1}, (-5.0, 5.0), (-5, 5), 64, 100,
                            minima=[(3.0, 2.0)])
    assert a == b and hash(a) == hash(b)
    assert a.hyper == (("betas", (0.9, 0.99)), ("lr", 0.1))
    assert a.minima == ((3.0, 2.0),) and a.xrange == (-5.0, 5.0)
    with pytest.raises(AttributeError):
        a.grid = 3  # type: ignore[misc]


def test_function_parameters_reach_the_landscape():
    req = BasinRequest.create("rastrigin", "sgd", {"lr": 0.1}, (-1, 1), (-1, 1), 8, 200,
                              params={"A": 0.0})
    assert req.landscape == LandscapeSpec.create("rastrigin", {"A": 0.0})
    _, bm = run(basin_job(req))
    # A = 0 leaves the bowl x² + y²: a single basin at the origin
    assert bm.n_attractors == 1 and bm.shares[0] == 1.0
    np.testing.assert_allclose(bm.attractors[0], (0, 0), atol=1e-9)


def test_given_minima_reach_the_map():
    mins = [m.point for m in make_landscape("himmelblau").minima()]
    req = BasinRequest.create("himmelblau", "sgd", {"lr": 0.005}, (-5, 5), (-5, 5), 16, 800,
                              minima=mins)
    _, bm = run(basin_job(req))
    assert bm.n_attractors == 4
    assert {tuple(a) for a in bm.attractors} <= set(mins)


@pytest.mark.parametrize(("change", "message"), [
    ({"optimizer": "nope"}, "unknown optimizer"),
    ({"grid": 0}, "grid must be"),
    ({"hyper": {"lr": 0}}, "lr must be > 0"),
])
def test_bad_requests_raise_on_the_first_step(change, message):
    args = {"landscape": "himmelblau", "optimizer": "sgd", "hyper": {"lr": 0.01},
            "xrange": (-5, 5), "yrange": (-5, 5), "grid": 16, "steps": 10, **change}
    gen = basin_job(BasinRequest.create(**args))
    with pytest.raises(ValueError, match=message):
        next(gen)
