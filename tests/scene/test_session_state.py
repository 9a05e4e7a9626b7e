"""Scenes to session JSON and back (Qt-free)."""

from __future__ import annotations

import json

import pytest

from lossviewer.scene.scene import Scene, default_scene
from lossviewer.scene.session_state import apply_state, build_scene, parse_state, scene_state


def _busy_scene() -> Scene:
    """A scene that uses every kind of setting a session holds."""
    s = default_scene()
    s.set_landscape(function="formula", formula="(x^2 - a)^2 + b*y^2",
                    declarations="a=1, b=3", xrange=(-3.0, 2.5), yrange=(-1.5, 1.5),
                    resolution=97, zscale="linear", colormap="magma")
    s.set_landscape(params={"a": 1.5, "b": 3.0})
    rid = s.add_run("adam", name="Adam, slow", hyper={"lr": 0.01, "betas": (0.8, 0.99)},
                    start=(1.25, -0.5), steps=321, schedule="step",
                    schedule_params={"step_size": 50, "gamma": 0.5}, noise=0.1, seed=7,
                    color="#00e5ff")
    s.update_run(rid, visible=False)
    s.select(rid)
    s.analysis.set(arrows=True, heatmap="condition", basin_grid=64, basin_opacity=0.3)
    s.set_playback(frame=123, playing=False, speed=30.0, loop=True, trail=40)
    s.set_network_settings(dataset="spirals", hidden=(32, 8), activation="tanh", lr=0.05,
                           optimizer="adam", hyper=(("weight_decay", 0.001),), steps=250,
                           directions="pca", noise=0.2, l2=0.01)
    return s


def _through_json(state: dict) -> dict:
    return json.loads(json.dumps(state, allow_nan=False))


def test_round_trip_rebuilds_an_equal_scene():
    s = _busy_scene()
    state = scene_state(s, view={"camera": {"distance": 12.0}})
    again = build_scene(parse_state(_through_json(state)))
    assert scene_state(again, view={"camera": {"distance": 12.0}}) == state
    assert again.landscape_settings == s.landscape_settings
    assert list(again.runs.values()) == [
        r.__class__(**{**r.__dict__, "run_id": i + 1}) for i, r in enumerate(s.runs.values())]
    assert again.playback == s.playback
    assert again.analysis.settings == s.analysis.settings
    assert again.network_settings == s.network_settings
    assert again.runs[again.selected].name == "Adam, slow"


def test_apply_replaces_the_open_scene_and_a_bad_session_changes_nothing():
    target = default_scene()
    good = parse_state(_through_json(scene_state(_busy_scene())))
    apply_state(target, good)
    assert target.landscape_settings.formula == "(x^2 - a)^2 + b*y^2"
    assert len(target.runs) == 5
    before = scene_state(target)
    bad = _through_json(scene_state(default_scene()))
    bad["runs"][2]["steps"] = 10**9  # passes the type check, fails the scene's range check
    with pytest.raises(ValueError, match=r"runs\[2\].*steps"):
        apply_state(target, parse_state(bad))
    assert scene_state(target) == before


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("landscape"), "landscape is missing"),
    (lambda d: d["landscape"].pop("function"), "landscape.function is missing"),
    (lambda d: d.update(runs={"a": 1}), "runs must be a list"),
    (lambda d: d["runs"][1].update(steps="many"), r"runs\[1\]\.steps must be a number"),
    (lambda d: d["runs"][0].update(start=[1.0]), r"runs\[0\]\.start must be a list of two"),
    (lambda d: d["runs"][0].update(color="red; drop"), r"runs\[0\]\.color must be a colour"),
    (lambda d: d["runs"][0]["hyper"].update(lr=float("inf")), "must be finite"),
    (lambda d: d["landscape"].update(xrange=[0, 1e400]), "must be finite"),
    (lambda d: d["landscape"].update(resolution=2.5), "must be a whole number"),
    (lambda d: d["landscape"].update(resolution=10**30), "too large"),
    (lambda d: d["playback"].update(loop="yes"), "playback.loop must be true or false"),
    (lambda d: d.update(view=[1, 2]), "view must be an object"),
    (lambda d: d.update(network={"kind": "remote"}), "network.kind"),
    (lambda d: d["network_settings"].update(hidden=[16, "x"]), r"hidden\[1\]"),
])
def test_wrong_types_are_named(edit, message):
    d = _through_json(scene_state(default_scene()))
    edit(d)
    with pytest.raises(ValueError, match=message):
        parse_state(d)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["landscape"].update(function="no_such"), "unknown function"),
    (lambda d: d["landscape"].update(resolution=10**6), "resolution"),
    (lambda d: d["landscape"].update(function="formula", formula="__import__('os')"),
     "not allowed"),
    (lambda d: d["runs"][0].update(optimizer="sgdd"), "unknown optimizer"),
    (lambda d: d["runs"][0]["hyper"].update(lr=-1.0), "lr"),
    (lambda d: d["analysis"].update(heatmap="rainbow"), "unknown heatmap"),
    (lambda d: d["network_settings"].update(dataset="mnist"), "unknown dataset"),
    (lambda d: d["landscape"].update(function="network"), "holds none"),
])
def test_bad_values_are_refused_by_the_scene_and_change_nothing(edit, message):
    target = default_scene()
    before = scene_state(target)
    d = _through_json(scene_state(default_scene()))
    edit(d)
    with pytest.raises(ValueError, match=message):
        apply_state(target, parse_state(d))
    assert scene_state(target) == before


def test_missing_optional_sections_take_defaults_and_unknown_entries_are_ignored():
    d = {"landscape": {"function": "himmelblau"}, "future_entry": {"x": 1}}
    scene = build_scene(parse_state(d))
    assert scene.landscape_settings.function == "himmelblau"
    assert scene.runs == {} and scene.playback == Scene().playback
