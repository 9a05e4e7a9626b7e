"""Tours: the file format, its checks, and what a scene of a tour does to the Scene."""

from __future__ import annotations

import json

import pytest

from lossviewer.scene.scene import Scene
from lossviewer.scene.tour import apply_step, builtin_tour, load_tour, parse_tour_text

SMALL = '''
title = "Two scenes"
[[scenes]]
caption = "Bowl"
landscape = { function = "quadratic_bowl", params = { condition_number = 20.0 } }
runs = [ { optimizer = "sgd", lr = 0.05, momentum = 0.5, start = [1, 1], steps = 50 } ]
speed = 40
[[scenes]]
caption = "Himmelblau"
note = "four valleys"
landscape = { function = "himmelblau" }
overlays = { show_critical = false, arrows = true }
seconds = 3
'''


def test_the_builtin_tour_tells_the_whole_story():
    tour = builtin_tour()
    captions = " | ".join(s.caption.lower() for s in tour.steps)
    for topic in ("valleys", "downhill", "plateau", "momentum", "learning rate", "schedule",
                  "global minimum", "stochastic", "network", "validation"):
        assert topic in captions, topic
    assert len(tour.steps) == 10
    assert sum(s.network is not None for s in tour.steps) == 2


def test_a_step_sets_landscape_runs_overlays_and_restarts_the_race():
    tour = parse_tour_text(SMALL)
    scene = Scene()
    scene.set_playback(frame=0, playing=False)
    apply_step(scene, tour.steps[0])
    s = scene.landscape_settings
    assert s.function == "quadratic_bowl" and s.params["condition_number"] == 20.0
    (run,) = scene.runs.values()
    assert run.optimizer == "sgd" and run.hyper["momentum"] == 0.5 and run.start == (1, 1)
    assert scene.playback.playing and scene.playback.speed == 40
    apply_step(scene, tour.steps[1])
    assert len(scene.runs) == 1  # no runs given: kept
    assert not scene.analysis.settings.show_critical and scene.analysis.settings.arrows
    apply_step(scene, tour.steps[0])  # overlays not named go back to their defaults
    assert scene.analysis.settings.show_critical and not scene.analysis.settings.arrows


def test_json_tours_and_files(tmp_path):
    doc = {"title": "J", "scenes": [{"caption": "Booth", "landscape": {"function": "booth"}}]}
    p = tmp_path / "t.json"
    p.write_text(json.dumps(doc))
    assert load_tour(str(p)).steps[0].caption == "Booth"
    p2 = tmp_path / "t.toml"
    p2.write_text(SMALL)
    assert len(load_tour(str(p2)).steps) == 2


@pytest.mark.parametrize("text, message", [
    ("title = 'x'", "no scenes"),
    ("[[scenes]]\nnote = 'no caption'", "scene 1: needs a caption"),
    ("[[scenes]]\ncaption = 'a'\nzoom = 2", "scene 1: unknown key 'zoom'"),
    ("[[scenes]]\ncaption = 'a'\n[[scenes]]\ncaption = 'b'\nruns = [{optimizer = 'sgdd'}]",
     r"scene 2 \(b\): unknown optimizer 'sgdd'"),
    ("[[scenes]]\ncaption = 'a'\nlandscape = { function = 'rosenbrock', resolution = 9999 }",
     "scene 1 .*resolution"),
    ("[[scenes]]\ncaption = 'a'\ncamera = { elevation = 'high' }", "camera takes numbers"),
    ("[[scenes]]\ncaption = 'a'\nseconds = 0", "seconds must be a number"),
    ("[[scenes]]\ncaption = 'a'\nlayer = 'test_loss'", "unknown layer"),
    ("[[scenes]]\ncaption = 'a'\nnetwork = { dataset = 'mnist' }", "unknown dataset"),
    ("[[scenes]\ncaption =", "not a valid tour file"),
    ("{\"scenes\": [" * 3000, "not a valid tour file"),
])
def test_mistakes_are_found_when_the_tour_is_loaded(text, message):
    with pytest.raises(ValueError, match=message):
        parse_tour_text(text, "my.toml")
