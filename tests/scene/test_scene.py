"""Scene: validation keeps the last good state, events fire, stale results are dropped."""

from __future__ import annotations

import numpy as np
import pytest

from lossviewer.core.grid import prepare_surface, sample_surface
from lossviewer.core.trajectory import simulate
from lossviewer.scene.scene import Scene, default_scene


class Recorder:
    def __init__(self, scene: Scene) -> None:
        self.events: list[tuple] = []
        for name in ("landscape_changed", "view_changed", "surface_changed", "runs_changed",
                     "run_changed", "trajectory_changed", "selection_changed",
                     "playback_changed"):
            getattr(scene, name).connect(lambda *a, n=name: self.events.append((n, *a)))

    def names(self) -> list[str]:
        return [e[0] for e in self.events]


def test_default_scene_is_the_race():
    s = default_scene()
    assert s.landscape_settings.function == "rosenbrock"
    assert s.landscape_settings.zscale == "log"
    assert [r.name for r in s.runs.values()] == ["SGD", "SGD + momentum", "RMSprop", "Adam"]
    assert len({r.start for r in s.runs.values()}) == 1
    assert s.playback.playing


@pytest.mark.parametrize("changes, message", [
    ({"xrange": (2.0, -2.0)}, "min < max"),
    ({"yrange": (1.0, 1.0)}, "min < max"),
    ({"xrange": (float("nan"), 1.0)}, "finite"),
    ({"resolution": 100_000}, "GiB"),
    ({"resolution": 2}, "at least"),
    ({"function": "nope"}, "unknown function 'nope'"),
    ({"zscale": "cubic"}, "z-scale"),
    ({"colormap": "rainbow"}, "unknown colormap"),
    ({"params": {"a": "abc"}}, "must be a number"),
])
def test_bad_landscape_input_changes_nothing(changes, message):
    s = default_scene()
    before = s.landscape_settings
    rec = Recorder(s)
    with pytest.raises(ValueError, match=message):
        s.set_landscape(**changes)
    assert s.landscape_settings == before
    assert rec.events == []


@pytest.mark.parametrize("changes, message", [
    ({"hyper": {"lr": -1}}, "lr"),
    ({"hyper": {"lr": 0}}, "lr"),
    ({"hyper": {"lr": float("nan")}}, "lr"),
    ({"start": (float("inf"), 0)}, "finite"),
    ({"start": ("a", 0)}, "two numbers"),
    ({"steps": 0}, "steps"),
    ({"steps": 10**9}, "steps"),
    ({"optimizer": "sgdx"}, "unknown optimizer"),
    ({"noise": -1.0}, "noise"),
    ({"schedule": "zigzag"}, "unknown schedule"),
])
def test_bad_run_input_changes_nothing(changes, message):
    s = default_scene()
    rid = s.selected
    before = s.runs[rid]
    rev = s.run_revision[rid]
    with pytest.raises(ValueError, match=message):
        s.update_run(rid, **changes)
    assert s.runs[rid] == before
    assert s.run_revision[rid] == rev


def test_hyper_change_invalidates_only_that_run():
    s = default_scene()
    revs = dict(s.run_revision)
    rec = Recorder(s)
    rid = list(s.runs)[2]
    s.update_run(rid, hyper={"lr": 0.02})
    assert rec.names() == ["run_changed", "trajectory_changed"]
    assert s.run_revision[rid] == revs[rid] + 1
    assert all(s.run_revision[k] == revs[k] for k in s.runs if k != rid)
    assert s.runs[rid].hyper["lr"] == 0.02


def test_cosmetic_change_does_not_recompute():
    s = default_scene()
    rid = s.selected
    rev = s.run_revision[rid]
    rec = Recorder(s)
    s.update_run(rid, name="fast one", color="#123456")
    assert rec.names() == ["runs_changed"]
    assert s.run_revision[rid] == rev


def test_view_change_does_not_resample():
    s = default_scene()
    rev = s.landscape_revision
    rec = Recorder(s)
    s.set_landscape(colormap="magma")
    assert s.landscape_revision == rev
    assert rec.names() == ["landscape_changed", "view_changed"]


def test_function_change_moves_starts_and_invalidates_paths():
    s = default_scene()
    s.set_landscape(function="himmelblau")
    assert s.landscape_settings.xrange == (-5.0, 5.0)
    assert all(r.start == s.landscape.default_start for r in s.runs.values())
    assert sorted(s.stale_runs()) == sorted(s.runs)


def test_stale_results_are_dropped():
    s = default_scene()
    rid = s.selected
    old_rev = s.run_revision[rid]
    run = s.runs[rid]
    traj = simulate(s.landscape, run.optimizer, run.hyper, np.array([run.start]), 10)
    s.update_run(rid, hyper={"lr": 5e-4})
    assert not s.set_trajectory(rid, old_rev, traj)
    assert rid not in s.trajectories
    assert s.set_trajectory(rid, s.run_revision[rid], traj)

    land_rev = s.landscape_revision
    data = prepare_surface(sample_surface(s.landscape, (-2, 2), (-1, 3), 16))
    s.set_landscape(resolution=128)
    assert not s.set_surface(data, land_rev)
    assert s.surface is None
    assert s.set_surface(data, s.landscape_revision)


def test_add_duplicate_remove_select():
    s = default_scene()
    n = len(s.runs)
    rid = s.add_run("adam", name="Adam 2", hyper={"lr": 0.1})
    dup = s.duplicate_run(rid)
    assert s.runs[dup].hyper == s.runs[rid].hyper and s.runs[dup].name == "Adam 2 copy"
    assert len({r.color for r in s.runs.values()}) == len(s.runs), "distinct colours"
    s.select(dup)
    s.remove_run(dup)
    assert s.selected in s.runs and len(s.runs) == n + 1


def test_switching_optimizer_keeps_lr_and_drops_foreign_options():
    s = default_scene()
    rid = list(s.runs)[1]  # SGD + momentum
    s.update_run(rid, optimizer="adam")
    run = s.runs[rid]
    assert run.hyper["lr"] == 2e-4
    assert "momentum" not in run.hyper and "betas" in run.hyper


def test_shift_click_moves_every_start():
    s = default_scene()
    s.set_start((0.5, 0.5), -1)
    assert {r.start for r in s.runs.values()} == {(0.5, 0.5)}


def test_playback_is_clamped_and_validated():
    s = default_scene()
    s.set_playback(frame=10**9)
    assert s.playback.frame == s.max_steps
    with pytest.raises(ValueError, match="speed"):
        s.set_playback(speed=0)
    with pytest.raises(ValueError, match="trail"):
        s.set_playback(trail=-1)


def test_switching_optimizer_renames_a_default_named_run():
    s = default_scene()
    rid = list(s.runs)[0]  # "SGD"
    s.update_run(rid, optimizer="adam")
    assert s.runs[rid].name == "Adam"
    custom = list(s.runs)[1]  # "SGD + momentum" is the user's own name
    s.update_run(custom, optimizer="rmsprop")
    assert s.runs[custom].name == "SGD + momentum"


def test_edited_run_keeps_its_old_path_until_the_new_one_lands():
    s = default_scene()
    rid = s.selected
    run = s.runs[rid]
    traj = simulate(s.landscape, run.optimizer, run.hyper, np.array([run.start]), 10)
    s.set_trajectory(rid, s.run_revision[rid], traj)
    s.update_run(rid, hyper={"lr": 5e-4})
    assert s.trajectories[rid] is traj, "still drawn"
    assert rid in s.stale_runs(), "but due for recomputation"
    s.set_landscape(function="booth")
    assert rid not in s.trajectories, "a path on another function is dropped at once"
