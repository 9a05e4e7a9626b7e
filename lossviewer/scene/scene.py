"""The scene: everything the window shows, as plain observable data.

Docks edit it (validated: a bad value raises ValueError and changes nothing),
the job runners store results in it, and the views redraw from it. Results are
keyed by a revision so a late result for settings that changed since is
dropped instead of shown.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace
from typing import Any

from lossviewer.core.functions import LANDSCAPES, make_landscape
from lossviewer.core.grid import SurfaceDisplay, check_range, check_resolution
from lossviewer.core.landscape import Landscape
from lossviewer.core.landscape_spec import FORMULA, NETWORK, LandscapeSpec
from lossviewer.core.optimizers import OPTIMIZERS
from lossviewer.core.schedules import SCHEDULES
from lossviewer.core.trajectory import Trajectory
from lossviewer.scene.analysis import Analysis
from lossviewer.scene.network_settings import LIVE_FIELDS, NetworkSettings
from lossviewer.scene.observable import Event

#: path colours chosen to stand out on viridis/magma surfaces and on a projector
#: (white is taken by start rings and isolines, gold by the global minimum)
RUN_COLORS = ("#ff3b30", "#ff9500", "#ff2dd4", "#00e5ff", "#a3ff12", "#b388ff", "#ff8fa3")
COLORMAPS = ("viridis", "magma", "inferno", "plasma", "cividis", "turbo")
MAX_STEPS = 100_000
MAX_RUNS = 32
#: what the formula editor starts with: two valleys, a saddle between them, a tilt
DEFAULT_FORMULA = "(x^2 - 1)^2 + a*y^2 + b*x"
DEFAULT_DECLARATIONS = "a=1, b=0.3"
#: what a network landscape shows: the loss or accuracy of either split, or val − train
NETWORK_LAYERS = {
    "train_loss": "Training loss",
    "val_loss": "Validation loss",
    "loss_gap": "Validation − training loss",
    "train_acc": "Training accuracy",
    "val_acc": "Validation accuracy",
}
#: grid sides of a network landscape: each point is a full pass over the data
NETWORK_DEFAULT_RESOLUTION = 51
NETWORK_MAX_RESOLUTION = 401
ANALYTIC_DEFAULT_RESOLUTION = 256


@dataclass(frozen=True)
class LandscapeSettings:
    function: str = "rosenbrock"
    params: dict[str, float] = field(default_factory=dict)
    xrange: tuple[float, float] = (-2.0, 2.0)
    yrange: tuple[float, float] = (-1.0, 3.0)
    resolution: int = 256
    zscale: str = "log"
    colormap: str = "viridis"
    #: the typed formula and its parameter declarations (kept while a built-in is
    #: shown, so switching back to "formula" brings the user's text back)
    formula: str = DEFAULT_FORMULA
    declarations: str = DEFAULT_DECLARATIONS
    #: the network slice (core.network_landscape.NetworkSlice), kept while another
    #: landscape is shown so that switching back needs no retraining
    network: Any = None
    #: which layer of a network landscape is drawn (NETWORK_LAYERS)
    layer: str = "train_loss"

    @property
    def is_formula(self) -> bool:
        return self.function == FORMULA

    @property
    def is_network(self) -> bool:
        return self.function == NETWORK

    @property
    def split(self) -> str:
        """The data the network landscape's value (races, hover) is computed on."""
        return "val" if self.layer.startswith("val") else "train"

    @property
    def title(self) -> str:
        if self.is_network:
            name = self.network.dataset.title if self.network is not None else "none"
            return f"Neural network — {name}"
        return "Formula" if self.is_formula else LANDSCAPES[self.function].title

    def spec(self) -> LandscapeSpec:
        """What a job needs to rebuild this landscape on a worker thread."""
        net = self.network.with_split(self.split) if self.is_network else None
        return LandscapeSpec.create(self.function, self.params, self.formula,
                                    self.declarations, (self.xrange, self.yrange), net)

    def make(self) -> Landscape:
        if self.is_formula or self.is_network:
            return self.spec().make()
        return make_landscape(self.function, **self.params)


@dataclass(frozen=True)
class RunSettings:
    run_id: int
    name: str
    optimizer: str
    hyper: dict[str, Any]
    start: tuple[float, float]
    color: str
    steps: int = 1000
    schedule: str = "constant"
    schedule_params: dict[str, Any] = field(default_factory=dict)
    noise: float = 0.0
    seed: int = 0
    visible: bool = True


@dataclass(frozen=True)
class PlaybackSettings:
    frame: int = 0
    playing: bool = True
    speed: float = 120.0  # optimizer steps per second
    loop: bool = False
    trail: int = 0  # steps of trail shown behind the marker; 0 = the whole path


def default_hyper(optimizer: str) -> dict[str, Any]:
    cls = OPTIMIZERS[optimizer]
    return {h.name: h.default for h in cls.hyperparams}


def _check_optimizer(name: str) -> str:
    key = str(name).strip().lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer '{name}'; known: {', '.join(OPTIMIZERS)}")
    return key


def validate_hyper(optimizer: str, hyper: dict[str, Any]) -> dict[str, Any]:
    """Clean hyperparameters for an optimizer; unknown names and bad values raise."""
    cls = OPTIMIZERS[_check_optimizer(optimizer)]
    specs = {h.name: h for h in cls.hyperparams}
    out = {}
    for k, v in hyper.items():
        if k not in specs:
            continue  # carried over from another optimizer: ignored, not an error
        out[k] = specs[k].validate(v)
    for name, spec in specs.items():
        out.setdefault(name, spec.default)
    # cross-checks (nesterov needs momentum, ...) live in the optimizer itself
    cls((1, 2), **out)
    return out


def validate_schedule(name: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    key = str(name).strip().lower()
    if key not in SCHEDULES:
        raise ValueError(f"unknown schedule '{name}'; known: {', '.join(SCHEDULES)}")
    specs = {p.name: p for p in SCHEDULES[key].params}
    out = {k: specs[k].validate(v) for k, v in params.items() if k in specs}
    return key, out


def _carried_params(declarations: str, old_declarations: str,
                    old: dict[str, float]) -> dict[str, float]:
    """Slider values for new declarations: a parameter whose declared value is unchanged
    keeps the value its slider was moved to (if it fits the new range); one declared
    with another value takes that value."""
    from lossviewer.core.formula import FormulaError, parse_parameters

    try:
        before = {p.name: p.default for p in parse_parameters(old_declarations)}
    except FormulaError:
        before = {}
    out = {}
    for spec in parse_parameters(declarations):
        if spec.name in old and before.get(spec.name) == spec.default:
            try:
                out[spec.name] = spec.validate(old[spec.name])
            except ValueError:
                pass
    return out


def _check_point(p: Any) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in p)
    except (TypeError, ValueError):
        raise ValueError(f"a start point needs two numbers, got {p!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"a start point must be finite, got ({x:g}, {y:g})")
    return (x, y)


class Scene:
    """The app state. Change it only through its methods, on the GUI thread."""

    def __init__(self) -> None:
        self.landscape_changed = Event("landscape_changed")  # (LandscapeSettings)
        self.view_changed = Event("view_changed")  # z-scale / colormap only
        self.surface_changed = Event("surface_changed")  # (SurfaceDisplay)
        self.runs_changed = Event("runs_changed")  # () list, order, names, colours
        self.run_changed = Event("run_changed")  # (run_id) settings of one run
        self.trajectory_changed = Event("trajectory_changed")  # (run_id)
        self.selection_changed = Event("selection_changed")  # (run_id | None)
        self.playback_changed = Event("playback_changed")  # (PlaybackSettings)
        self.network_settings_changed = Event("network_settings_changed")  # (NetworkSettings)

        self.landscape_settings = LandscapeSettings()
        self.landscape: Landscape = self.landscape_settings.make()
        self.surface: SurfaceDisplay | None = None
        #: the landscape revision the shown surface was computed for, and whether it
        #: is only the coarse preview; shown != current means "out of date"
        self.surface_revision = -1
        self.surface_is_preview = False
        self.runs: dict[int, RunSettings] = {}
        self.trajectories: dict[int, Trajectory] = {}
        #: bumped on every change that invalidates a run's trajectory
        self.run_revision: dict[int, int] = {}
        #: the run revision each stored trajectory was computed for
        self.trajectory_revision: dict[int, int] = {}
        self.landscape_revision = 0
        self.selected: int | None = None
        self.playback = PlaybackSettings()
        #: critical points, curvature and basins: overlay settings and results
        self.analysis = Analysis()
        #: the network landscape the Network dock describes (computed on request)
        self.network_settings = NetworkSettings()
        self._next_id = 1

    # -- landscape -----------------------------------------------------------
    def set_landscape(self, **changes: Any) -> None:
        """Change the function, its parameters, domain, resolution or look.

        Choosing another function resets parameters, domain and z-scale to its
        defaults and moves the start points to its default start.
        """
        old = self.landscape_settings
        new = replace(old, **changes)
        if "layer" in changes and changes["layer"] not in NETWORK_LAYERS:
            raise ValueError(f"unknown layer {changes['layer']!r}; known: "
                             f"{', '.join(NETWORK_LAYERS)}")
        new_slice = "network" in changes and changes["network"] is not old.network
        if "function" in changes and changes["function"] != old.function or (
                new_slice and new.is_network):
            key = str(changes.get("function", old.function)).strip().lower().replace("-", "_")
            if key == NETWORK:
                if new.network is None:
                    raise ValueError("no network landscape yet: compute one in the "
                                     "Network dock first")
                (x0, x1), (y0, y1) = new.network.default_domain()
                new = replace(new, function=key, params={},
                              xrange=changes.get("xrange", (x0, x1)),
                              yrange=changes.get("yrange", (y0, y1)),
                              zscale=changes.get("zscale", "linear"),
                              resolution=changes.get(
                                  "resolution", old.resolution if old.is_network
                                  else NETWORK_DEFAULT_RESOLUTION))
            elif old.is_network and "resolution" not in changes:
                new = replace(new, resolution=ANALYTIC_DEFAULT_RESOLUTION)
        if "function" in changes and changes["function"] != old.function:
            key = str(changes["function"]).strip().lower().replace("-", "_")
            if key == NETWORK:
                pass
            elif key == FORMULA:
                # a typed formula has no domain of its own: keep the one shown
                new = replace(new, function=key, params=dict(changes.get("params", {})))
            elif key not in LANDSCAPES:
                raise ValueError(f"unknown function '{changes['function']}'; "
                                 f"known: {', '.join(LANDSCAPES)}, formula")
            else:
                cls = LANDSCAPES[key]
                (x0, x1), (y0, y1) = cls.default_domain
                new = replace(new, function=key, params=dict(changes.get("params", {})),
                              xrange=changes.get("xrange", (x0, x1)),
                              yrange=changes.get("yrange", (y0, y1)),
                              zscale=changes.get("zscale", cls.default_zscale))
        if new.is_formula and "params" not in changes and (
                new.declarations != old.declarations or not old.is_formula):
            # new declarations: keep the values of names still declared (when valid)
            new = replace(new, params=_carried_params(
                new.declarations, old.declarations if old.is_formula else "", old.params))
        xr = check_range(*new.xrange, what="x range")
        yr = check_range(*new.yrange, what="y range")
        res = check_resolution(new.resolution)
        if new.is_network and res > NETWORK_MAX_RESOLUTION:
            raise ValueError(f"a network landscape is at most {NETWORK_MAX_RESOLUTION}² "
                             f"points (each is a pass over the data), got {res}")
        if new.zscale not in ("linear", "log"):
            raise ValueError(f"z-scale must be 'linear' or 'log', got {new.zscale!r}")
        if new.colormap not in COLORMAPS:
            raise ValueError(f"unknown colormap '{new.colormap}'; known: {', '.join(COLORMAPS)}")
        new = replace(new, xrange=xr, yrange=yr, resolution=res)
        landscape = new.make()  # validates parameters (and a typed formula)
        new = replace(new, params=dict(landscape.params))
        if new == old:
            return
        function_changed = new.function != old.function
        formula_changed = new.is_formula and (new.formula != old.formula
                                              or new.declarations != old.declarations)
        # another slice is another function; another split another landscape for runs
        network_changed = new.is_network and new.network is not old.network
        split_changed = new.is_network and new.split != old.split
        formula_changed = formula_changed or network_changed
        surface_changed = (function_changed or formula_changed or new.params != old.params
                           or new.xrange != old.xrange or new.yrange != old.yrange
                           or new.resolution != old.resolution
                           or (new.is_network and new.layer != old.layer))
        self.landscape_settings = new
        self.landscape = landscape
        if surface_changed:
            self.landscape_revision += 1
        if function_changed or formula_changed:
            self.analysis.clear()  # results for another function mean nothing here
        if function_changed or network_changed:
            start = landscape.default_start
            for rid, run in self.runs.items():
                self.runs[rid] = replace(run, start=start)
        self.landscape_changed.emit(new)
        if not surface_changed:
            self.view_changed.emit(new)
        if function_changed or network_changed:
            for rid in self.runs:
                self.run_changed.emit(rid)  # the start moved
        if function_changed or formula_changed or new.params != old.params or split_changed:
            for rid in self.runs:
                self._invalidate(rid)
        elif new.is_formula and (new.xrange, new.yrange) != (old.xrange, old.yrange):
            # a formula's domain is its landscape's: the stop rules scale with it
            for rid in self.runs:
                self._invalidate(rid, keep_shown=True)

    def set_network_settings(self, **changes: Any) -> None:
        """Edit the network settings; the loss and L2 re-evaluate the shown plane at once."""
        old = self.network_settings
        new = replace(old, **changes).validated()
        if new == old:
            return
        new_slice = None
        current = self.landscape_settings.network
        live = new.changed_fields(old) & LIVE_FIELDS
        if live and current is not None:
            try:
                new_slice = current.with_loss(new.loss, new.l2)
            except ValueError:
                new_slice = None  # e.g. cross-entropy chosen for a regression slice
        self.network_settings = new
        self.network_settings_changed.emit(new)
        if new_slice is not None:
            self.set_landscape(network=new_slice)

    def set_surface(self, surface: SurfaceDisplay, revision: int, preview: bool = False) -> bool:
        """Store a computed surface; dropped (False) if the settings changed since."""
        if revision != self.landscape_revision:
            return False
        self.surface = surface
        self.surface_revision = revision
        self.surface_is_preview = preview
        self.surface_changed.emit(surface)
        return True

    # -- runs ------------------------------------------------------------------
    def add_run(self, optimizer: str = "sgd", name: str | None = None,
                hyper: dict[str, Any] | None = None, **settings: Any) -> int:
        if len(self.runs) >= MAX_RUNS:
            raise ValueError(f"at most {MAX_RUNS} runs; remove one first")
        optimizer = _check_optimizer(optimizer)
        rid = self._next_id
        self._next_id += 1
        cls = OPTIMIZERS[optimizer]
        used = {r.color for r in self.runs.values()}
        color = settings.pop("color", None) or next(
            (c for c in RUN_COLORS if c not in used), RUN_COLORS[rid % len(RUN_COLORS)])
        run = RunSettings(
            run_id=rid, name=name or cls.title, optimizer=optimizer,
            hyper=validate_hyper(optimizer, hyper or {}),
            start=_check_point(settings.pop("start", self.landscape.default_start)),
            color=color, **settings)
        run = self._validated(run)
        self.runs[rid] = run
        self.run_revision[rid] = 0
        self.runs_changed.emit()
        self._invalidate(rid)
        if self.selected is None:
            self.select(rid)
        return rid

    def remove_run(self, run_id: int) -> None:
        if run_id not in self.runs:
            return
        del self.runs[run_id]
        self.trajectories.pop(run_id, None)
        self.run_revision.pop(run_id, None)
        self.trajectory_revision.pop(run_id, None)
        if self.selected == run_id:
            self.selected = next(iter(self.runs), None)
            self.selection_changed.emit(self.selected)
        self.runs_changed.emit()

    def duplicate_run(self, run_id: int) -> int:
        run = self.runs[run_id]
        return self.add_run(run.optimizer, name=f"{run.name} copy", hyper=dict(run.hyper),
                            start=run.start, steps=run.steps, schedule=run.schedule,
                            schedule_params=dict(run.schedule_params), noise=run.noise,
                            seed=run.seed)

    def update_run(self, run_id: int, **changes: Any) -> None:
        """Change one run's settings; raises ValueError and keeps the old ones on bad input."""
        old = self.runs[run_id]
        if "optimizer" in changes:
            changes["optimizer"] = _check_optimizer(changes["optimizer"])
            if changes["optimizer"] != old.optimizer and "hyper" not in changes:
                # keep the learning rate when switching optimizer
                changes["hyper"] = {**default_hyper(changes["optimizer"]),
                                    **{k: v for k, v in old.hyper.items() if k == "lr"}}
            if (changes["optimizer"] != old.optimizer and "name" not in changes
                    and old.name == OPTIMIZERS[old.optimizer].title):
                changes["name"] = OPTIMIZERS[changes["optimizer"]].title  # not "SGD" running Adam
        if "hyper" in changes:
            merged = {**old.hyper, **changes["hyper"]}
            changes["hyper"] = validate_hyper(changes.get("optimizer", old.optimizer), merged)
        if "start" in changes:
            changes["start"] = _check_point(changes["start"])
        new = self._validated(replace(old, **changes))
        if new == old:
            return
        self.runs[run_id] = new
        cosmetic = {"name", "color", "visible"}
        if set(changes) <= cosmetic:
            self.runs_changed.emit()
            return
        self.run_changed.emit(run_id)
        self._invalidate(run_id, keep_shown=True)

    def _validated(self, run: RunSettings) -> RunSettings:
        steps = run.steps
        if not isinstance(steps, int) or isinstance(steps, bool):
            if isinstance(steps, float) and steps.is_integer():
                steps = int(steps)
            else:
                raise ValueError(f"steps must be a whole number, got {steps!r}")
        if not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be between 1 and {MAX_STEPS}, got {steps}")
        noise = float(run.noise)
        if not (math.isfinite(noise) and noise >= 0):
            raise ValueError(f"gradient noise must be ≥ 0, got {run.noise!r}")
        schedule, sparams = validate_schedule(run.schedule, run.schedule_params)
        name = str(run.name).strip() or OPTIMIZERS[run.optimizer].title
        return replace(run, steps=steps, noise=noise, schedule=schedule,
                       schedule_params=sparams, seed=int(run.seed), name=name)

    def set_start(self, point: tuple[float, float], run_id: int | None = None) -> None:
        """Move one run's start point (the selected one by default), or all with run_id=-1."""
        point = _check_point(point)
        ids = list(self.runs) if run_id == -1 else [run_id or self.selected]
        for rid in ids:
            if rid in self.runs:
                self.update_run(rid, start=point)

    def select(self, run_id: int | None) -> None:
        if run_id is not None and run_id not in self.runs:
            return
        if run_id != self.selected:
            self.selected = run_id
            self.selection_changed.emit(run_id)

    def _invalidate(self, run_id: int, keep_shown: bool = False) -> None:
        """The run's path must be recomputed.

        ``keep_shown`` leaves the old path on screen until the new one arrives (a
        hyperparameter being dragged); on another landscape the old path is wrong,
        so it goes at once.
        """
        self.run_revision[run_id] = self.run_revision.get(run_id, 0) + 1
        if not keep_shown:
            self.trajectories.pop(run_id, None)
            self.trajectory_revision.pop(run_id, None)
        self.trajectory_changed.emit(run_id)

    def stale_runs(self) -> list[int]:
        """Runs whose shown path (if any) is not for their current settings."""
        return [rid for rid in self.runs
                if self.trajectory_revision.get(rid) != self.run_revision.get(rid)]

    def set_trajectory(self, run_id: int, revision: int, trajectory: Trajectory) -> bool:
        """Store a computed path; dropped (False) if that run changed since."""
        if self.run_revision.get(run_id) != revision:
            return False
        self.trajectories[run_id] = trajectory
        self.trajectory_revision[run_id] = revision
        self.trajectory_changed.emit(run_id)
        return True

    # -- analysis keys: the values a stored result must have been computed for -------------
    def critical_key(self) -> tuple:
        """What critical points and curvature depend on: the landscape and the domain
        (not the resolution, z-scale or colours)."""
        s = self.landscape_settings
        return (s.spec(), s.xrange, s.yrange)

    def basins_key(self) -> tuple | None:
        """The selected run's optimizer settings (not its start or steps) and the basin
        grid, on the current landscape (None: no run to analyse)."""
        rid = self.selected
        if rid is None or rid not in self.runs:
            return None
        run, a = self.runs[rid], self.analysis.settings
        return (self.critical_key(), run.optimizer, tuple(sorted(run.hyper.items())),
                run.schedule, tuple(sorted(run.schedule_params.items())), run.noise, run.seed,
                a.basin_grid, a.basin_steps)

    # -- playback ------------------------------------------------------------
    @property
    def surface_up_to_date(self) -> bool:
        """The shown surface is the full one for the current settings."""
        return (self.surface is not None and not self.surface_is_preview
                and self.surface_revision == self.landscape_revision)

    @property
    def max_steps(self) -> int:
        return max((r.steps for r in self.runs.values()), default=0)

    def set_playback(self, **changes: Any) -> None:
        new = replace(self.playback, **changes)
        frame = int(min(max(new.frame, 0), self.max_steps))
        speed = float(new.speed)
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be > 0 steps per second, got {new.speed!r}")
        trail = int(new.trail)
        if trail < 0:
            raise ValueError(f"trail length must be ≥ 0, got {trail}")
        new = replace(new, frame=frame, speed=speed, trail=trail)
        if new != self.playback:
            self.playback = new
            self.playback_changed.emit(new)

    def snapshot_runs(self) -> dict[int, RunSettings]:
        """A copy safe to hand to a job (settings are frozen; dicts are copied)."""
        return {rid: copy.deepcopy(run) for rid, run in self.runs.items()}


def default_scene() -> Scene:
    """Rosenbrock on a log scale with SGD, momentum, RMSprop and Adam racing from one start."""
    scene = Scene()
    scene.set_landscape(function="rosenbrock")
    scene.set_landscape(zscale="log")
    for opt, name, hyper in (
        ("sgd", "SGD", {"lr": 1e-3}),
        ("sgd", "SGD + momentum", {"lr": 2e-4, "momentum": 0.9}),
        ("rmsprop", "RMSprop", {"lr": 1e-2}),
        ("adam", "Adam", {"lr": 5e-2}),
    ):
        scene.add_run(opt, name=name, hyper=hyper, steps=1000)
    scene.select(next(iter(scene.runs)))
    return scene
