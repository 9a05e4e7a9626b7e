"""A scene as plain JSON data and back: what a session file holds (io.session_file
writes the container).

``scene_state`` turns a Scene into a dict of JSON types; ``parse_state`` checks a
dict read from a file (types, shapes; every message names the entry, e.g.
"runs[2].steps"); ``apply_state`` first builds a scratch Scene from it, so a bad
value anywhere raises ValueError before the open scene is touched, then replays
the same settings on the open scene.

The network landscape itself (its grid, plane and checkpoints) is not part of the
state: it travels as its own file inside the session and is passed in as a slice.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from lossviewer.core.landscape_spec import NETWORK
from lossviewer.scene.analysis import AnalysisSettings
from lossviewer.scene.network_settings import NetworkSettings
from lossviewer.scene.scene import PlaybackSettings, Scene

_LANDSCAPE_FIELDS = ("function", "params", "xrange", "yrange", "resolution", "zscale",
                     "colormap", "formula", "declarations", "layer")
_RUN_FIELDS = ("name", "optimizer", "hyper", "start", "color", "steps", "schedule",
               "schedule_params", "noise", "seed", "visible")
#: playback entries a session restores (playing is restored too: a paused scene reopens
#: paused at its frame)
_PLAYBACK_FIELDS = tuple(f.name for f in fields(PlaybackSettings))
_ANALYSIS_FIELDS = tuple(f.name for f in fields(AnalysisSettings))
_NETWORK_FIELDS = tuple(f.name for f in fields(NetworkSettings))


@dataclass(frozen=True)
class SessionState:
    """A checked session: keyword arguments for the scene's own (validating) setters."""

    landscape: dict[str, Any]
    runs: tuple[dict[str, Any], ...]
    selected: int | None
    playback: dict[str, Any]
    analysis: dict[str, Any]
    network_settings: dict[str, Any]
    #: where the scene's network landscape came from: None (there is none), or a dict
    #: with "kind" ("computed", "file" or "model") and "source" (a path or "")
    network: dict[str, Any] | None
    #: what the window keeps about its views (camera, map range): checked by the window
    view: dict[str, Any]

    @property
    def shows_network(self) -> bool:
        return self.landscape.get("function") == NETWORK


# -- scene -> dict ------------------------------------------------------------------------


def scene_state(scene: Scene, view: dict[str, Any] | None = None,
                network_source: dict[str, Any] | None = None) -> dict[str, Any]:
    """The scene's settings as JSON types (no results, no network grid)."""
    ls = scene.landscape_settings
    runs = list(scene.runs.values())
    selected = next((i for i, r in enumerate(runs) if r.run_id == scene.selected), None)
    ns = scene.network_settings
    network_settings = {k: _plain(getattr(ns, k)) for k in _NETWORK_FIELDS}
    network_settings["hyper"] = {k: _plain(v) for k, v in ns.hyper}
    return {
        "landscape": {k: _plain(getattr(ls, k)) for k in _LANDSCAPE_FIELDS},
        "runs": [{k: _plain(getattr(r, k)) for k in _RUN_FIELDS} for r in runs],
        "selected": selected,
        "playback": {k: _plain(v) for k, v in asdict(scene.playback).items()},
        "analysis": {k: _plain(v) for k, v in asdict(scene.analysis.settings).items()},
        "network_settings": network_settings,
        "network": (dict(network_source or {"kind": "computed", "source": ""})
                    if ls.network is not None else None),
        "view": dict(view or {}),
    }


def _plain(v: Any) -> Any:
    """Tuples to lists, numpy scalars to Python numbers (JSON has neither)."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        return v.item()
    return v


# -- dict -> checked state ------------------------------------------------------------------


def parse_state(raw: Any) -> SessionState:
    """Check the shape and types of a session's JSON; ValueError names the bad entry.

    Values are range-checked later by the scene's own setters (apply_state).
    Unknown entries are ignored: a later version may add some.
    """
    top = _mapping(raw, "the session")
    landscape = _mapping(_get(top, "landscape"), "landscape")
    ls = _pick(landscape, "landscape", {
        "function": _string, "params": _number_map, "xrange": _pair, "yrange": _pair,
        "resolution": _whole, "zscale": _string, "colormap": _string, "formula": _string,
        "declarations": _string, "layer": _string})
    if "function" not in ls:
        raise ValueError("landscape.function is missing")
    runs_raw = top.get("runs", [])
    if not isinstance(runs_raw, list):
        raise ValueError(f"runs must be a list, got {_kind(runs_raw)}")
    runs = []
    for i, r in enumerate(runs_raw):
        where = f"runs[{i}]"
        run = _pick(_mapping(r, where), where, {
            "name": _string, "optimizer": _string, "hyper": _scalar_map, "start": _pair,
            "color": _color, "steps": _whole, "schedule": _string,
            "schedule_params": _scalar_map, "noise": _number, "seed": _whole,
            "visible": _bool})
        if "optimizer" not in run:
            raise ValueError(f"{where}.optimizer is missing")
        runs.append(run)
    selected = top.get("selected")
    if selected is not None:
        selected = _whole(selected, "selected")
        if not 0 <= selected < max(len(runs), 1):
            selected = None
    playback = _pick(_mapping(top.get("playback", {}), "playback"), "playback", {
        "frame": _whole, "playing": _bool, "speed": _number, "loop": _bool,
        "trail": _whole})
    analysis = _pick(_mapping(top.get("analysis", {}), "analysis"), "analysis", {
        "show_critical": _bool, "arrows": _bool, "heatmap": _string,
        "surface_coloring": _string, "basins": _bool, "basin_grid": _whole,
        "basin_steps": _whole, "basin_opacity": _number})
    network_settings = _network_settings(top.get("network_settings", {}))
    network = top.get("network")
    if network is not None:
        network = _pick(_mapping(network, "network"), "network",
                        {"kind": _string, "source": _string})
        if network.get("kind", "computed") not in ("computed", "file", "model"):
            raise ValueError(f"network.kind must be computed, file or model, got "
                             f"{network.get('kind')!r}")
        network.setdefault("kind", "computed")
        network.setdefault("source", "")
    view = _mapping(top.get("view", {}), "view")
    return SessionState(ls, tuple(runs), selected, playback, analysis, network_settings,
                        network, dict(view))


def _network_settings(raw: Any) -> dict[str, Any]:
    where = "network_settings"
    m = _mapping(raw, where)
    checks = {name: _string for name in ("dataset", "activation", "loss", "optimizer",
                                         "schedule", "directions", "bias", "dtype", "device",
                                         "bn_mode")}
    checks.update({name: _whole for name in ("samples", "data_seed", "steps", "batch_size",
                                             "seed", "checkpoint_every", "direction_seed")})
    checks.update({"l2": _number, "lr": _number, "orthogonalize": _bool,
                   "hidden": _whole_list, "hyper": _scalar_map})
    out = _pick(m, where, checks)
    if "noise" in m:
        out["noise"] = None if m["noise"] is None else _number(m["noise"], f"{where}.noise")
    if "hyper" in out:
        out["hyper"] = tuple(sorted(out["hyper"].items()))
    if "hidden" in out:
        out["hidden"] = tuple(out["hidden"])
    return out


# -- state -> scene -------------------------------------------------------------------------


def build_scene(state: SessionState, network_slice: Any = None) -> Scene:
    """A new Scene holding the session (ValueError on any bad value)."""
    scene = Scene()
    _apply(scene, state, network_slice)
    return scene


def apply_state(scene: Scene, state: SessionState, network_slice: Any = None) -> None:
    """Replace the scene's settings with the session's; on a bad value the scene is
    left as it was (everything is tried on a scratch scene first)."""
    build_scene(state, network_slice)
    _apply(scene, state, network_slice)


def _apply(scene: Scene, state: SessionState, network_slice: Any) -> None:
    try:
        scene.set_network_settings(**state.network_settings)
        changes = dict(state.landscape)
        function = changes.pop("function")
        if function == NETWORK and network_slice is None:
            raise ValueError("the session shows a network landscape but holds none")
        if network_slice is not None:
            changes["network"] = network_slice
        scene.set_landscape(function=function, **changes)
        for rid in list(scene.runs):
            scene.remove_run(rid)
        ids = []
        for i, run in enumerate(state.runs):
            settings = dict(run)
            optimizer = settings.pop("optimizer")
            name, hyper = settings.pop("name", None), settings.pop("hyper", None)
            try:
                ids.append(scene.add_run(optimizer, name=name, hyper=hyper, **settings))
            except ValueError as exc:
                raise ValueError(f"runs[{i}]: {exc}") from None
        if state.selected is not None and ids:
            scene.select(ids[state.selected])
        scene.analysis.set(**state.analysis)
        scene.set_playback(**state.playback)
    except TypeError as exc:  # an entry of the wrong type that slipped past parse_state
        raise ValueError(f"damaged session: {exc}") from None


# -- small typed readers ----------------------------------------------------------------------


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false",
            type(None): "null"}.get(type(v), "a number" if isinstance(v, (int, float))
                                    else type(v).__name__)


def _get(m: dict[str, Any], key: str) -> Any:
    if key not in m:
        raise ValueError(f"{key} is missing")
    return m[key]


def _mapping(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ValueError(f"{where} must be an object, got {_kind(v)}")
    return v


def _pick(m: dict[str, Any], where: str, checks: dict[str, Any]) -> dict[str, Any]:
    """The known entries of ``m``, each checked; missing ones take the scene's defaults."""
    return {k: check(m[k], f"{where}.{k}") for k, check in checks.items() if k in m}


def _string(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise ValueError(f"{where} must be text, got {_kind(v)}")
    if len(v) > 100_000:
        raise ValueError(f"{where} is too long ({len(v):,} characters)")
    return v


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"{where} must be true or false, got {_kind(v)}")
    return v


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{where} must be a number, got {_kind(v)}")
    try:
        f = float(v)
    except OverflowError:
        raise ValueError(f"{where} is too large") from None
    if not math.isfinite(f):
        raise ValueError(f"{where} must be finite, got {v!r}")
    return f


def _whole(v: Any, where: str) -> int:
    f = _number(v, where)
    if f != int(f):
        raise ValueError(f"{where} must be a whole number, got {v!r}")
    if abs(f) > 2**53:
        raise ValueError(f"{where} is too large ({f:g})")
    return int(f)


def _pair(v: Any, where: str) -> tuple[float, float]:
    if not isinstance(v, list) or len(v) != 2:
        raise ValueError(f"{where} must be a list of two numbers, got {_kind(v)}")
    return (_number(v[0], f"{where}[0]"), _number(v[1], f"{where}[1]"))


def _whole_list(v: Any, where: str) -> list[int]:
    if not isinstance(v, list) or len(v) > 64:
        raise ValueError(f"{where} must be a short list of whole numbers")
    return [_whole(x, f"{where}[{i}]") for i, x in enumerate(v)]


def _number_map(v: Any, where: str) -> dict[str, float]:
    m = _mapping(v, where)
    if len(m) > 1000:
        raise ValueError(f"{where} has too many entries ({len(m):,})")
    return {str(k): _number(x, f"{where}.{k}") for k, x in m.items()}


def _scalar_map(v: Any, where: str) -> dict[str, Any]:
    """Hyperparameters: numbers, true/false, text (a schedule's mode) or short lists of
    numbers (Adam's betas)."""
    m = _mapping(v, where)
    if len(m) > 1000:
        raise ValueError(f"{where} has too many entries ({len(m):,})")
    out: dict[str, Any] = {}
    for k, x in m.items():
        if isinstance(x, bool):
            out[str(k)] = x
        elif isinstance(x, str):
            out[str(k)] = _string(x, f"{where}.{k}")
        elif isinstance(x, list) and len(x) <= 16:  # Adam's betas
            out[str(k)] = tuple(_number(e, f"{where}.{k}[{i}]") for i, e in enumerate(x))
        else:
            out[str(k)] = _number(x, f"{where}.{k}")
            if isinstance(x, int):
                out[str(k)] = int(x)
    return out


def _color(v: Any, where: str) -> str:
    s = _string(v, where)
    if not (len(s) in (4, 7, 9) and s[0] == "#"
            and all(c in "0123456789abcdefABCDEF" for c in s[1:])):
        raise ValueError(f"{where} must be a colour like #ff3b30, got {s[:20]!r}")
    return s

