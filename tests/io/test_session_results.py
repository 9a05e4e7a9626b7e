"""Computed results inside a session: paths, critical points, basin maps, read back equal."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lossviewer.core.basins import basins
from lossviewer.core.critical_points import find_critical_points
from lossviewer.core.functions import make_landscape
from lossviewer.core.trajectory import simulate
from lossviewer.io.session_results import (
    SessionResults,
    results_from_bytes,
    results_to_bytes,
)


def test_results_round_trip_exactly():
    f = make_landscape("himmelblau")
    traj = simulate(f, "adam", {"lr": 0.05, "betas": (0.9, 0.99)}, np.array([[0.0, -1.0]]), 60)
    crit = tuple(find_critical_points(f, (-5, 5), (-5, 5), seeds=12))
    bmap = basins(f, "sgd", {"lr": 0.01}, (-5, 5), (-5, 5), grid=12, steps=60)
    back = results_from_bytes(results_to_bytes(SessionResults((traj, None), crit, bmap)))
    t = back.trajectories[0]
    assert back.trajectories[1] is None
    np.testing.assert_array_equal(t.points, traj.points)
    np.testing.assert_array_equal(t.lr, traj.lr)
    assert t.status == traj.status and t.hyper["betas"] == [0.9, 0.99]
    assert back.critical == crit
    b = back.basins
    np.testing.assert_array_equal(b.labels, bmap.labels)
    np.testing.assert_array_equal(b.ends, bmap.ends)
    assert b.attractor_kinds == bmap.attractor_kinds and b.shares.sum() == pytest.approx(
        1 - bmap.diverged_share - bmap.not_converged_share)


def test_damaged_results_are_refused_in_one_line():
    f = make_landscape("booth")
    traj = simulate(f, "sgd", {"lr": 0.01}, np.array([[1.0, 1.0]]), 10)
    data = results_to_bytes(SessionResults((traj,)))
    odd = results_to_bytes(SessionResults((replace(traj, status=("exploded",)),)))
    short = results_to_bytes(SessionResults((replace(traj, lr=traj.lr[:-2]),)))
    for bad in (data[:100], b"junk", odd, short):
        with pytest.raises(ValueError, match="damaged computed results") as info:
            results_from_bytes(bad)
        assert "\n" not in str(info.value)
