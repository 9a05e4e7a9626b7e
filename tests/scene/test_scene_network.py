"""The scene's network landscape: settings validation, showing a slice, layers, live loss."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lossviewer.compute.network_jobs import NetworkRequest, network_job
from lossviewer.core.directions import DirectionSpec
from lossviewer.core.iteration import run_to_end
from lossviewer.core.landscape_spec import NETWORK
from lossviewer.core.network import ModelSpec
from lossviewer.core.network_landscape import NetworkLandscape, NetworkSlice
from lossviewer.core.training import TrainingConfig
from lossviewer.core.trajectory import simulate
from lossviewer.scene.network_settings import NetworkSettings
from lossviewer.scene.scene import (
    ANALYTIC_DEFAULT_RESOLUTION,
    NETWORK_DEFAULT_RESOLUTION,
    NETWORK_LAYERS,
    NETWORK_MAX_RESOLUTION,
    LandscapeSettings,
    Scene,
)


@pytest.fixture(scope="module")
def nslice() -> NetworkSlice:
    req = NetworkRequest.create(
        "moons", {"n_samples": 60, "noise": 0.1},
        model=ModelSpec((6,), "tanh", "cross_entropy", 0.0),
        training=TrainingConfig.create("sgd", {"lr": 0.5}, steps=20, checkpoint_every=5),
        directions=DirectionSpec("filter", seed=1))
    return run_to_end(network_job(req))


class Recorder:
    def __init__(self, scene: Scene) -> None:
        self.events: list[tuple] = []
        for name in ("landscape_changed", "view_changed", "run_changed", "trajectory_changed",
                     "network_settings_changed"):
            getattr(scene, name).connect(lambda *a, n=name: self.events.append((n, *a)))

    def names(self) -> list[str]:
        return [e[0] for e in self.events]


def racing_scene(nslice: NetworkSlice | None = None) -> Scene:
    """Rosenbrock with two runs, one with a computed path; the slice shown if given."""
    s = Scene()
    for opt in ("sgd", "adam"):
        rid = s.add_run(opt, hyper={"lr": 1e-3}, steps=20)
        run = s.runs[rid]
        traj = simulate(s.landscape, run.optimizer, run.hyper, np.array([run.start]), run.steps)
        assert s.set_trajectory(rid, s.run_revision[rid], traj)
    if nslice is not None:
        s.set_landscape(function="network", network=nslice)
    return s


# -- NetworkSettings --------------------------------------------------------------------


def test_defaults_are_valid() -> None:
    s = NetworkSettings()
    v = s.validated()
    assert v == s
    assert v.task == "classification" and v.dataset_params() == {"seed": 0}


def test_validated_normalises_types() -> None:
    v = NetworkSettings(hidden=[8, 4], lr=1, l2=0, samples=50, noise=0.2).validated()
    assert v.hidden == (8, 4) and isinstance(v.lr, float) and isinstance(v.l2, float)
    assert v.dataset_params() == {"seed": 0, "n_samples": 50, "noise": 0.2}


@pytest.mark.parametrize("changes, message", [
    ({"dataset": "moon"}, "unknown dataset 'moon'"),
    ({"activation": "swish"}, "unknown activation 'swish'"),
    ({"optimizer": "sgdx"}, "unknown optimizer 'sgdx'"),
    ({"loss": "huber"}, "unknown loss 'huber'"),
    ({"directions": "diagonal"}, "unknown direction method 'diagonal'"),
    ({"dtype": "float16"}, "unknown precision 'float16'"),
    ({"hidden": (0,)}, "hidden layers: at most 8, each 1 to 4096 wide"),
    ({"hidden": (16, 5000)}, "each 1 to 4096 wide"),
    ({"hidden": (4,) * 9}, "hidden layers: at most 8"),
    ({"samples": 5}, r"samples must lie in \[10, 100000\] for Two moons, got 5"),
    ({"dataset": "digits", "samples": 1798}, r"samples must lie in \[10, 1797\]"),
    ({"dataset": "checkerboard", "noise": 0.6}, r"noise must lie in \[0, 0.5\]"),
    ({"dataset": "digits", "noise": 0.1}, r"noise must lie in \[0, 0\]"),
    ({"noise": float("nan")}, "noise must lie in"),
    ({"noise": -0.1}, "noise must lie in"),
    ({"l2": 11.0}, "L2 regularisation"),
    ({"lr": -1.0}, "lr"),
    ({"seed": -1}, r"seed must be a whole number in \[0, 2147483647\], got -1"),
    ({"data_seed": -3}, "data seed must be a whole number"),
    ({"steps": 0}, "steps must be a whole number"),
    ({"steps": 2.5}, "steps must be a whole number"),
    ({"batch_size": True}, "batch size must be a whole number"),
])
def test_bad_settings_are_refused(changes, message) -> None:
    with pytest.raises(ValueError, match=message) as info:
        replace(NetworkSettings(), **changes).validated()
    assert "\n" not in str(info.value)


def test_digits_at_its_size_is_accepted() -> None:
    assert NetworkSettings(dataset="digits", samples=1797).validated().samples == 1797


@pytest.mark.parametrize("dataset", ["sine", "polynomial"])
@pytest.mark.parametrize("loss", ["cross_entropy", "hinge", "mse"])
def test_regression_switches_the_loss_to_mse(dataset, loss) -> None:
    v = NetworkSettings(dataset=dataset, loss=loss).validated()
    assert v.task == "regression" and v.loss == "mse"


def test_classification_keeps_its_loss() -> None:
    assert NetworkSettings(loss="hinge").validated().loss == "hinge"


# -- showing a slice ----------------------------------------------------------------------


def test_network_without_a_slice_raises_and_changes_nothing() -> None:
    s = racing_scene()
    before, rev = s.landscape_settings, s.landscape_revision
    rec = Recorder(s)
    with pytest.raises(ValueError, match="compute one"):
        s.set_landscape(function="network")
    assert s.landscape_settings == before and s.landscape_revision == rev
    assert rec.events == []


def test_showing_a_slice(nslice) -> None:
    s = racing_scene()
    revs, rev = dict(s.run_revision), s.landscape_revision
    assert not s.stale_runs()
    rec = Recorder(s)
    s.set_landscape(function="network", network=nslice)
    ls = s.landscape_settings
    assert ls.function == NETWORK and ls.is_network and ls.network is nslice
    assert ls.resolution == NETWORK_DEFAULT_RESOLUTION == 51
    assert ls.zscale == "linear" and ls.params == {} and ls.layer == "train_loss"
    (x0, x1), (y0, y1) = nslice.default_domain()
    assert ls.xrange == (x0, x1) and ls.yrange == (y0, y1)
    assert isinstance(s.landscape, NetworkLandscape) and s.landscape.slice is nslice
    assert s.landscape_revision == rev + 1
    start = s.landscape.default_start
    assert x0 <= start[0] <= x1 and y0 <= start[1] <= y1
    assert all(r.start == start for r in s.runs.values())
    assert all(s.run_revision[k] == revs[k] + 1 for k in s.runs)
    assert s.trajectories == {} and sorted(s.stale_runs()) == sorted(s.runs)
    assert "landscape_changed" in rec.names() and "run_changed" in rec.names()
    assert ls.title == "Neural network — Two moons"


def test_layer_changes(nslice) -> None:
    s = racing_scene(nslice)
    for layer in ("val_loss", "loss_gap", "train_acc", "val_acc", "train_loss"):
        rev, revs = s.landscape_revision, dict(s.run_revision)
        old_split = s.landscape_settings.split
        s.set_landscape(layer=layer)
        assert s.landscape_settings.layer == layer
        assert s.landscape_revision == rev + 1, layer
        split = "val" if layer.startswith("val") else "train"
        assert s.landscape_settings.split == split
        assert s.landscape.slice.split == split
        bump = 1 if split != old_split else 0
        assert all(s.run_revision[k] == revs[k] + bump for k in s.runs), layer


def test_train_to_validation_invalidates_runs_but_loss_to_accuracy_does_not(nslice) -> None:
    s = racing_scene(nslice)
    rid = next(iter(s.runs))
    run = s.runs[rid]
    traj = simulate(s.landscape, run.optimizer, run.hyper, np.array([run.start]), run.steps)
    assert s.set_trajectory(rid, s.run_revision[rid], traj)
    rev = s.run_revision[rid]
    s.set_landscape(layer="train_acc")  # same split: the races' landscape is unchanged
    assert s.run_revision[rid] == rev and s.trajectories[rid] is traj
    s.set_landscape(layer="val_loss")  # another split: another landscape for the races
    assert s.run_revision[rid] == rev + 1 and rid not in s.trajectories
    assert s.runs[rid].start == run.start  # the same slice: starts stay where they were


def test_unknown_layer_raises(nslice) -> None:
    s = racing_scene(nslice)
    before = s.landscape_settings
    with pytest.raises(ValueError, match="unknown layer 'test_loss'; known: train_loss"):
        s.set_landscape(layer="test_loss")
    assert s.landscape_settings == before
    assert set(NETWORK_LAYERS) == {"train_loss", "val_loss", "loss_gap", "train_acc",
                                   "val_acc"}


def test_resolution_limit_is_for_networks_only(nslice) -> None:
    s = racing_scene(nslice)
    s.set_landscape(resolution=NETWORK_MAX_RESOLUTION)
    assert s.landscape_settings.resolution == 401
    with pytest.raises(ValueError, match="at most 401"):
        s.set_landscape(resolution=NETWORK_MAX_RESOLUTION + 1)
    assert s.landscape_settings.resolution == 401
    with pytest.raises(ValueError, match="at most 401"):
        Scene().set_landscape(function="network", network=nslice, resolution=402)
    a = Scene()
    a.set_landscape(resolution=NETWORK_MAX_RESOLUTION + 1)
    assert a.landscape_settings.resolution == 402


def test_back_to_a_builtin_restores_its_resolution(nslice) -> None:
    s = racing_scene(nslice)
    s.set_landscape(resolution=75)
    s.set_landscape(function="himmelblau")
    ls = s.landscape_settings
    assert ls.resolution == ANALYTIC_DEFAULT_RESOLUTION == 256
    assert ls.function == "himmelblau" and ls.xrange == (-5.0, 5.0)
    assert ls.network is nslice  # kept: switching back needs no retraining
    # and back again: the network's default resolution, its domain
    s.set_landscape(function="network")
    assert s.landscape_settings.resolution == 51
    assert s.landscape_settings.xrange == nslice.default_domain()[0]


def test_another_slice_while_shown_keeps_the_resolution(nslice) -> None:
    s = racing_scene(nslice)
    s.set_landscape(resolution=65)
    other = replace(nslice, _cache={})  # another object: another landscape
    rev = s.landscape_revision
    s.set_landscape(network=other)
    assert s.landscape_settings.network is other and s.landscape_settings.resolution == 65
    assert s.landscape_revision == rev + 1 and sorted(s.stale_runs()) == sorted(s.runs)


# -- live loss and L2 ----------------------------------------------------------------------


@pytest.mark.parametrize("changes", [{"loss": "mse"}, {"l2": 0.01},
                                     {"loss": "hinge", "l2": 0.5}])
def test_loss_and_l2_replace_the_shown_slice(nslice, changes) -> None:
    s = racing_scene(nslice)
    rev, revs = s.landscape_revision, dict(s.run_revision)
    rec = Recorder(s)
    s.set_network_settings(**changes)
    new = s.landscape_settings.network
    assert new is not nslice
    assert new.directions is nslice.directions and new.dataset is nslice.dataset
    spec = new.network.spec
    assert spec.loss == changes.get("loss", "cross_entropy")
    assert spec.l2 == changes.get("l2", 0.0)
    assert spec.hidden == (6,) and spec.activation == "tanh"
    assert s.landscape_revision == rev + 1
    assert s.landscape.slice is new
    assert all(s.run_revision[k] > revs[k] for k in s.runs)
    assert rec.names()[0] == "network_settings_changed"
    # the new objective at the centre: the old one plus the L2 term (or another loss)
    c = nslice.directions.center
    X, y = nslice.data("train")
    expected = new.network.loss_value(c, X, new.network.targets(y))
    assert float(s.landscape.value(np.zeros(2))) == pytest.approx(expected, rel=1e-12)
    if "loss" not in changes:
        old = float(racing_scene(nslice).landscape.value(np.zeros(2)))
        assert expected == pytest.approx(old + 0.5 * changes["l2"] * float(c @ c), rel=1e-10)


@pytest.mark.parametrize("changes", [{"steps": 100}, {"optimizer": "adam"}, {"seed": 4},
                                     {"directions": "pca"}, {"hidden": (3, 3)}])
def test_other_settings_leave_the_shown_slice(nslice, changes) -> None:
    s = racing_scene(nslice)
    rev, revs = s.landscape_revision, dict(s.run_revision)
    rec = Recorder(s)
    s.set_network_settings(**changes)
    for k, v in changes.items():
        assert getattr(s.network_settings, k) == v
    assert s.landscape_settings.network is nslice
    assert s.landscape_revision == rev and s.run_revision == revs
    assert rec.names() == ["network_settings_changed"]


def test_bad_network_settings_change_nothing(nslice) -> None:
    s = racing_scene(nslice)
    before = s.network_settings
    with pytest.raises(ValueError, match="hidden layers"):
        s.set_network_settings(hidden=(0,))
    assert s.network_settings == before and s.landscape_settings.network is nslice


def test_unchanged_settings_emit_nothing(nslice) -> None:
    s = racing_scene(nslice)
    rec = Recorder(s)
    s.set_network_settings(loss="cross_entropy", steps=500)
    assert rec.events == []


# -- specs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layer, split", [("train_loss", "train"), ("train_acc", "train"),
                                          ("loss_gap", "train"), ("val_loss", "val"),
                                          ("val_acc", "val")])
def test_spec_is_stable_and_follows_the_layer(nslice, layer, split) -> None:
    ls = LandscapeSettings(function=NETWORK, network=nslice, layer=layer)
    assert ls.split == split
    a, b = ls.spec(), ls.spec()
    assert a == b and hash(a) == hash(b)
    assert a.is_network and a.network.split == split
    land = a.make()
    assert isinstance(land, NetworkLandscape) and land.slice.split == split
    X, y = nslice.data(split)
    c = nslice.directions.center
    expected = nslice.network.loss_value(c, X, nslice.network.targets(y))
    assert float(land.value(np.zeros(2))) == pytest.approx(expected, rel=1e-12)


def test_analysis_keys_are_stable_in_the_scene(nslice) -> None:
    s = racing_scene(nslice)
    key = s.critical_key()
    assert s.critical_key() == key
    s.set_landscape(layer="train_acc")  # same split: same landscape to analyse
    assert s.critical_key() == key
    s.set_landscape(layer="val_loss")
    assert s.critical_key() != key
    s.set_landscape(layer="train_loss")
    assert s.critical_key() == key
