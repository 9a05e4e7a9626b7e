"""Tours: a list of scenes with captions, played in presentation mode.

A tour file is TOML (or the same structure as JSON)::

    title = "The loss-surface story"

    [[scenes]]
    caption = "Valleys and hills"              # the big line on screen (required)
    note = "Low is good: the model fits."      # a smaller second line
    landscape = { function = "himmelblau" }    # Scene.set_landscape keywords
    runs = [                                   # replaces the runs (omit: keep them)
      { optimizer = "sgd", lr = 0.01, start = [0, -1], steps = 400, name = "SGD" },
    ]
    camera = { elevation = 40, azimuth = -60, distance = 34 }   # optional
    orbit = false              # turn the 3D camera slowly
    play = true                # start the race from step 0 (default: when runs are given)
    speed = 120                # optimizer steps per second
    seconds = 15               # advance by itself after this long (omit: wait for a key)
    network = { dataset = "moons", hidden = [16, 16], directions = "filter" }
    layer = "val_loss"         # which layer of a network landscape to show
    plots = true               # show the network's learning curves below the views
    overlays = { show_critical = false }    # Analysis settings (critical points, ...)

In a run, keys other than name, optimizer, start, steps, schedule,
schedule_params, noise, seed and color are the optimizer's hyperparameters. A
tour is checked as a whole when it is loaded (every scene is tried on a scratch
Scene, networks aside), so a typo is reported with its scene number before the
talk, not in the middle of it.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from lossviewer.scene.analysis import AnalysisSettings
from lossviewer.scene.scene import NETWORK_LAYERS, Scene

RUN_KEYS = {"name", "optimizer", "start", "steps", "schedule", "schedule_params", "noise",
            "seed", "color"}
STEP_KEYS = {"caption", "note", "landscape", "runs", "camera", "orbit", "play", "speed",
             "seconds", "network", "layer", "overlays", "plots"}
MAX_SCENES = 200
BUILTIN_TOUR = "loss_surface_story.toml"
_DEFAULT_OVERLAYS = {"show_critical": AnalysisSettings.show_critical,
                     "arrows": AnalysisSettings.arrows, "heatmap": AnalysisSettings.heatmap,
                     "basins": AnalysisSettings.basins}


@dataclass(frozen=True)
class TourStep:
    caption: str
    note: str = ""
    landscape: dict[str, Any] = field(default_factory=dict)
    runs: tuple[dict[str, Any], ...] | None = None
    camera: dict[str, float] | None = None
    orbit: bool = False
    play: bool = False
    speed: float | None = None
    seconds: float | None = None
    network: dict[str, Any] | None = None
    layer: str | None = None
    overlays: dict[str, Any] | None = None
    plots: bool = False


@dataclass(frozen=True)
class Tour:
    title: str
    steps: tuple[TourStep, ...]
    source: str = ""


def parse_tour_text(text: str, source: str = "tour") -> Tour:
    """A tour from TOML (or JSON, when the text starts with '{'); ValueError says where."""
    try:
        raw = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{source}: not a valid tour file ({_first_line(exc)})") from None
    return parse_tour(raw, source)


MAX_TOUR_BYTES = 1_000_000


def load_tour(path: str) -> Tour:
    """A tour file (.toml or .json); OSError when unreadable, ValueError when wrong."""
    import os

    name = os.path.basename(path)
    if os.path.getsize(path) > MAX_TOUR_BYTES:
        raise ValueError(f"{name}: larger than a tour file can be (1 MB)")
    with open(path, encoding="utf-8") as fh:
        try:
            text = fh.read()
        except UnicodeDecodeError:
            raise ValueError(f"{name}: not a text file (UTF-8)") from None
    return parse_tour_text(text, name)


def builtin_tour() -> Tour:
    """The loss-surface story that ships with the app (Help → Tour, lossviewer --tour)."""
    text = resources.files("lossviewer.scene").joinpath("tours", BUILTIN_TOUR).read_text(
        encoding="utf-8")
    return parse_tour_text(text, "the built-in tour")


def parse_tour(raw: Any, source: str = "tour") -> Tour:
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: a tour is a table with a list of scenes")
    scenes = raw.get("scenes")
    if not isinstance(scenes, list) or not scenes:
        raise ValueError(f"{source}: no scenes (write [[scenes]] tables, each with a caption)")
    if len(scenes) > MAX_SCENES:
        raise ValueError(f"{source}: {len(scenes)} scenes; a tour has at most {MAX_SCENES}")
    steps = tuple(_step(s, f"{source}, scene {i + 1}") for i, s in enumerate(scenes))
    title = raw.get("title", "Tour")
    if not isinstance(title, str):
        raise ValueError(f"{source}: title must be text")
    tour = Tour(title, steps, source)
    check_tour(tour)
    return tour


def _step(raw: Any, where: str) -> TourStep:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be a table")
    unknown = sorted(set(raw) - STEP_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; known: "
                         f"{', '.join(sorted(STEP_KEYS))}")
    caption = raw.get("caption")
    if not isinstance(caption, str) or not caption.strip():
        raise ValueError(f"{where}: needs a caption (text)")
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise ValueError(f"{where}: note must be text")
    landscape = raw.get("landscape", {})
    if not isinstance(landscape, dict):
        raise ValueError(f"{where}: landscape must be a table of settings")
    runs = raw.get("runs")
    if runs is not None:
        if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
            raise ValueError(f"{where}: runs must be a list of tables")
        runs = tuple(dict(r) for r in runs)
    camera = raw.get("camera")
    if camera is not None:
        if not isinstance(camera, dict) or not all(
                k in ("elevation", "azimuth", "distance") and _finite(v)
                for k, v in camera.items()):
            raise ValueError(f"{where}: camera takes numbers elevation, azimuth, distance")
        camera = {k: float(v) for k, v in camera.items()}
    for key in ("orbit", "play"):
        if key in raw and not isinstance(raw[key], bool):
            raise ValueError(f"{where}: {key} must be true or false")
    speed, seconds = raw.get("speed"), raw.get("seconds")
    for key, v, lo, hi in (("speed", speed, 1, 100_000), ("seconds", seconds, 1, 3600)):
        if v is not None and not (_finite(v) and lo <= v <= hi):
            raise ValueError(f"{where}: {key} must be a number in [{lo}, {hi}]")
    network = raw.get("network")
    if network is not None and not isinstance(network, dict):
        raise ValueError(f"{where}: network must be a table of network settings")
    layer = raw.get("layer")
    if layer is not None and layer not in NETWORK_LAYERS:
        raise ValueError(f"{where}: unknown layer {layer!r}; known: {', '.join(NETWORK_LAYERS)}")
    overlays = raw.get("overlays")
    if overlays is not None and not isinstance(overlays, dict):
        raise ValueError(f"{where}: overlays must be a table of analysis settings")
    if "plots" in raw and not isinstance(raw["plots"], bool):
        raise ValueError(f"{where}: plots must be true or false")
    return TourStep(caption.strip(), note.strip(), dict(landscape), runs, camera,
                    bool(raw.get("orbit", False)), bool(raw.get("play", runs is not None)),
                    None if speed is None else float(speed),
                    None if seconds is None else float(seconds),
                    None if network is None else dict(network), layer,
                    None if overlays is None else dict(overlays), bool(raw.get("plots", False)))


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_tour(tour: Tour) -> None:
    """Try every scene on a scratch Scene: ValueError names the first bad one."""
    scratch = Scene()
    for i, step in enumerate(tour.steps):
        try:
            if step.network is not None:
                scratch.set_network_settings(**_network_settings(step.network))
                continue  # its landscape exists only once computed
            apply_step(scratch, step)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{tour.source}, scene {i + 1} ({step.caption}): "
                             f"{_first_line(exc)}") from None


def _network_settings(raw: dict[str, Any]) -> dict[str, Any]:
    out = dict(raw)
    if "hidden" in out:
        out["hidden"] = tuple(out["hidden"])
    if "hyper" in out and isinstance(out["hyper"], dict):
        out["hyper"] = tuple(sorted(out["hyper"].items()))
    return out


def network_settings(step: TourStep) -> dict[str, Any]:
    """The step's network settings as Scene.set_network_settings keywords."""
    return _network_settings(step.network or {})


def apply_step(scene: Scene, step: TourStep) -> None:
    """Show one scene of a tour (not its network, which the window computes first)."""
    if step.landscape:
        changes = dict(step.landscape)
        for key in ("xrange", "yrange"):
            if key in changes:
                changes[key] = tuple(changes[key])
        scene.set_landscape(**changes)
    if step.layer is not None and scene.landscape_settings.is_network:
        scene.set_landscape(layer=step.layer)
    if step.runs is not None:
        for rid in list(scene.runs):
            scene.remove_run(rid)
        for i, raw in enumerate(step.runs):
            run = dict(raw)
            if "optimizer" not in run:
                raise ValueError(f"run {i + 1} needs an optimizer")
            hyper = {k: (tuple(v) if isinstance(v, list) else v)
                     for k, v in run.items() if k not in RUN_KEYS}
            settings = {k: v for k, v in run.items() if k in RUN_KEYS and k != "optimizer"}
            if "start" in settings:
                settings["start"] = tuple(settings["start"])
            scene.add_run(run["optimizer"], hyper=hyper, **settings)
    # every scene states its overlays: defaults unless it says otherwise
    scene.analysis.set(**{**_DEFAULT_OVERLAYS, **(step.overlays or {})})
    playback: dict[str, Any] = {}
    if step.speed is not None:
        playback["speed"] = step.speed
    if step.play:
        playback.update(frame=0, playing=True)
    if playback:
        scene.set_playback(**playback)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
