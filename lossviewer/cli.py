"""Command line: the GUI by default, plus headless subcommands.

    lossviewer [--function NAME] [--screenshot FILE.png] [--smoke-test] [--size WxH]
    lossviewer functions
    lossviewer optimizers
    lossviewer path --function NAME --optimizer NAME --start X,Y --steps N [...]
    lossviewer surface --function NAME --resolution N --out FILE.npz [...]

Nothing here imports Qt at module level: the subcommands must start quickly and
run without a display. The GUI is imported only when it is asked for.

Every user error is one line on stderr, ``lossviewer: error: <argument>: <what
is wrong>``, and exit status 2; no usage dump, no traceback.
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn

from lossviewer import __version__

PROG = "lossviewer"
COMMANDS = ("functions", "optimizers", "path", "surface")
#: more steps than anyone can look at; also bounds the memory of one path
MAX_STEPS = 1_000_000
#: GUI window size limits (pixels)
MIN_SIZE, MAX_SIZE = 200, 16384

EXIT_USAGE = 2


class CLIError(Exception):
    """A user error: which argument, and what is wrong with it (one line)."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self.message = message


class _ArgparseError(Exception):
    """argparse's own complaint, raised instead of printing usage and exiting."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # --mom must not silently mean --momentum
        super().__init__(*args, **kwargs)
        # Let "-1.5,2" and "-1e-3" be values, not options: argparse's default only
        # recognises plain negative numbers such as "-1.5".
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message: str) -> NoReturn:
        raise _ArgparseError(message)


# -- registries (Qt-free) ---------------------------------------------------------


def _landscapes() -> dict[str, Any]:
    from lossviewer.core.functions import LANDSCAPES

    return LANDSCAPES


def _optimizers() -> dict[str, Any]:
    from lossviewer.core.optimizers import OPTIMIZERS

    return OPTIMIZERS


def _schedules() -> dict[str, Any]:
    from lossviewer.core.schedules import SCHEDULES

    return SCHEDULES


def _schedule_specs(schedule: Any) -> tuple[Any, ...]:
    """The parameter specs of a schedule registry entry."""
    for attr in ("params", "param_specs", "hyperparams"):
        specs = getattr(schedule, attr, None)
        if specs is not None and not callable(specs):
            return tuple(specs)
    return ()


def _flag(name: str) -> str:
    # lower case: the schedule parameter T_max is --t-max (--T-max is accepted too)
    return "--" + name.lower().replace("_", "-")


def _key(name: str) -> str:
    return str(name).strip().lower().replace("-", "_")


def _lookup(registry: Mapping[str, Any], name: str, argument: str, what: str) -> str:
    key = _key(name)
    if key in registry:
        return key
    close = difflib.get_close_matches(key, list(registry), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise CLIError(argument, f"unknown {what} {name!r} ({hint}known: {', '.join(registry)})")


# -- value parsing ---------------------------------------------------------------


def _number(argument: str, text: str, *, finite: bool = True) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise CLIError(argument, f"expected a number, got {text!r}") from None
    if finite and not math.isfinite(v):
        raise CLIError(argument, f"must be a finite number, got {text!r}")
    return v


def _integer(argument: str, text: str) -> int:
    try:
        return int(str(text).strip().replace("_", ""))
    except ValueError:
        raise CLIError(argument, f"expected a whole number, got {text!r}") from None


def _numbers(argument: str, text: str, count: int, what: str) -> tuple[float, ...]:
    """``count`` finite numbers separated by commas ("-1.5,2")."""
    values = []
    for part in str(text).split(","):
        try:
            values.append(float(part))
        except ValueError:
            raise CLIError(argument, f"expected {what}, got {text!r}") from None
    if len(values) != count:
        raise CLIError(argument, f"expected {what}, got {text!r}")
    if not all(math.isfinite(v) for v in values):
        raise CLIError(argument, f"must be finite numbers, got {text!r}")
    return tuple(values)


def _check_writable(argument: str, path: str) -> str:
    """Fail early (before minutes of work) when ``path`` cannot be written."""
    if not path:
        raise CLIError(argument, "empty file name")
    if os.path.isdir(path):
        raise CLIError(argument, f"{path!r} is a folder, not a file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(argument, f"cannot write {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise CLIError(argument, f"cannot write {path!r}: folder {folder!r} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise CLIError(argument, f"cannot write {path!r}: permission denied")
    return path


def _landscape_params(pairs: Sequence[str] | None) -> dict[str, float]:
    params: dict[str, float] = {}
    for item in pairs or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CLIError("--param", f"expected name=value, got {item!r}")
        params[name.strip()] = _number("--param", value)  # later ones override earlier ones
    return params


def _make_landscape(function: str, params: Mapping[str, float]) -> Any:
    from lossviewer.core.functions import make_landscape

    name = _lookup(_landscapes(), function, "--function", "function")
    try:
        return make_landscape(name, **params)
    except ValueError as exc:
        raise CLIError("--param", str(exc)) from None


# -- parser ----------------------------------------------------------------------


def _hyper_flags() -> dict[str, dict[str, Any]]:
    """Every hyperparameter name of every optimizer: kind, and which optimizers take it."""
    flags: dict[str, dict[str, Any]] = {}
    for opt_name, cls in _optimizers().items():
        for hp in cls.hyperparams:
            entry = flags.setdefault(hp.name, {"kinds": set(), "owners": [], "help": hp.help})
            entry["kinds"].add(hp.kind)
            entry["owners"].append(opt_name)
    return flags


def _schedule_flags() -> dict[str, dict[str, Any]]:
    flags: dict[str, dict[str, Any]] = {}
    for sched_name, sched in _schedules().items():
        for spec in _schedule_specs(sched):
            entry = flags.setdefault(
                spec.name, {"kinds": set(), "owners": [], "help": getattr(spec, "help", "")}
            )
            entry["kinds"].add(getattr(spec, "kind", "float"))
            entry["owners"].append(sched_name)
    return flags


def _add_dynamic(group: Any, name: str, entry: Mapping[str, Any], dest: str, note: str) -> None:
    owners = ", ".join(entry["owners"])
    text = (entry["help"] or "").rstrip(".")
    help_text = f"{text} [{note}: {owners}]" if text else f"[{note}: {owners}]"
    help_text = help_text.replace("%", "%%")
    if entry["kinds"] == {"bool"}:
        group.add_argument(
            _flag(name), dest=dest, action=argparse.BooleanOptionalAction, default=None,
            help=help_text,
        )
    else:
        metavar = "A,B" if "pair" in entry["kinds"] else ("N" if entry["kinds"] == {"int"} else "V")
        names = [_flag(name)]
        if "--" + name.replace("_", "-") not in names:
            names.append("--" + name.replace("_", "-"))
        group.add_argument(*names, dest=dest, metavar=metavar, default=None, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (exposed for tests and for generated docs)."""
    parser = _Parser(
        prog=PROG,
        usage=(
            f"{PROG} [--function NAME] [--screenshot FILE.png] [--smoke-test] [--size WxH]\n"
            f"       {PROG} COMMAND [options]    (COMMAND --help for its options)"
        ),
        description=(
            "Explore loss surfaces: 3D landscapes, contour maps and optimizers racing "
            "downhill. Without a command, opens the window; the commands run headless."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    gui = parser.add_argument_group("window options")
    # own dests: the subcommands' --function must not overwrite (or be mistaken for) these
    gui.add_argument(
        "--function", dest="gui_function", metavar="NAME", help="function to show first"
    )
    gui.add_argument(
        "--screenshot", dest="gui_screenshot", metavar="FILE.png",
        help="render the window to FILE.png and exit",
    )
    gui.add_argument(
        "--smoke-test", dest="gui_smoke_test", action="store_true",
        help="open the window, exercise it briefly and exit",
    )
    gui.add_argument(
        "--size", dest="gui_size", metavar="WxH", help="window size in pixels, e.g. 1600x1000"
    )

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    sub.add_parser(
        "functions",
        help="list the loss functions",
        description="List every loss function: name, domain, z-scale, minima and parameters.",
    )
    sub.add_parser(
        "optimizers",
        help="list the optimizers and lr schedules",
        description="List every optimizer with its hyperparameters (defaults and ranges) "
        "and every learning-rate schedule with its parameters.",
    )

    p = sub.add_parser(
        "path",
        usage=f"{PROG} path --function NAME --optimizer NAME --start X,Y --steps N [options]",
        help="run an optimizer and print its path",
        description=(
            "Run one optimizer from one start point and write the path, one row per\n"
            "step (columns step,x,y,loss,lr), to stdout or --out. The lr of a row is the\n"
            "learning rate of the step that leaves that point; the last row has none.\n"
            "The path ends early where it converged or diverged (see 'status' in JSON)."
        ),
        epilog=(
            "examples:\n"
            "  lossviewer path --function rosenbrock --optimizer adam --start -1.5,2 \\\n"
            "      --steps 500 --lr 0.05\n"
            "  lossviewer path --function himmelblau --optimizer sgd --start 0,0 --steps 200 \\\n"
            "      --momentum 0.9 --nesterov --schedule cosine --t-max 200 --out path.json\n\n"
            "Negative start points work as written (--start -1.5,2).\n"
            "See 'lossviewer optimizers' for which optimizer takes which hyperparameter."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # "required" is checked in _cmd_path, not by argparse, so that a mistyped option is
    # reported as such instead of as a missing one
    p.add_argument("--function", metavar="NAME", help="loss function (required)")
    p.add_argument("--optimizer", metavar="NAME", help="optimizer (required)")
    p.add_argument("--start", metavar="X,Y", help="start point (required)")
    p.add_argument("--steps", metavar="N", help=f"number of steps, 1 to {MAX_STEPS} (required)")
    p.add_argument(
        "--param", metavar="NAME=VALUE", action="append",
        help="function parameter, e.g. --param b=10 (repeatable)",
    )
    p.add_argument(
        "--noise", metavar="SIGMA", default="0",
        help="std. dev. of Gaussian noise added to each gradient (default 0)",
    )
    p.add_argument("--seed", metavar="S", default="0", help="noise seed (default 0)")
    p.add_argument(
        "--schedule", metavar="NAME", default="constant",
        help="learning-rate schedule (default constant)",
    )
    p.add_argument(
        "--format", choices=("csv", "json"),
        help="output format (default: from the --out extension, else csv)",
    )
    p.add_argument("--out", metavar="FILE", help="write here instead of to stdout")
    hyper = p.add_argument_group(
        "optimizer hyperparameters", "Unset ones keep the optimizer's default."
    )
    hyper_flags = _hyper_flags()
    for name, entry in hyper_flags.items():
        _add_dynamic(hyper, name, entry, f"hp_{name}", "used by")
    sched = p.add_argument_group("schedule parameters")
    for name, entry in _schedule_flags().items():
        if name in hyper_flags:
            continue  # one flag serves both (routed in _cmd_path)
        _add_dynamic(sched, name, entry, f"sp_{name}", "schedules")

    s = sub.add_parser(
        "surface",
        usage=f"{PROG} surface --function NAME --resolution N --out FILE.npz [options]",
        help="sample a function on a grid and save it as .npz",
        description=(
            "Sample a loss function on an N×N grid and save xs, ys, Z and the metadata "
            "(as JSON) to an .npz file; Z[j, i] = f(xs[i], ys[j])."
        ),
    )
    s.add_argument("--function", metavar="NAME", help="loss function (required)")
    s.add_argument(
        "--param", metavar="NAME=VALUE", action="append",
        help="function parameter (repeatable)",
    )
    s.add_argument("--xrange", metavar="A,B", help="x range (default: the function's domain)")
    s.add_argument("--yrange", metavar="C,D", help="y range (default: the function's domain)")
    s.add_argument(
        "--resolution", metavar="N", help="grid points per axis, at least 8 (required)"
    )
    s.add_argument("--out", metavar="FILE.npz", help="output file (required)")
    return parser


def _argparse_message(message: str) -> str:
    """argparse's messages as '<argument>: <what is wrong>' on one line."""
    message = " ".join(message.split())
    m = re.match(r"argument (\S+?): (.*)$", message)
    if m:
        arg, rest = m.groups()
        if arg == "COMMAND":
            bad = re.search(r"invalid choice: '([^']*)'", rest)
            name = bad.group(1) if bad else "COMMAND"
            return f"{name}: unknown command (commands: {', '.join(COMMANDS)})"
        arg = arg.split("/")[0]
        bad = re.match(r"ignored explicit argument '(.*)'$", rest)
        if bad:  # --nesterov=yes
            return f"{arg}: takes no value, got {bad.group(1)!r} (use {arg} or --no-{arg[2:]})"
        return f"{arg}: {rest}"
    m = re.match(r"the following arguments are required: (.*)$", message)
    if m:
        missing = [a.strip() for a in m.group(1).split(",")]
        more = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
        return f"{missing[0]}: this argument is required{more}"
    m = re.match(r"unrecognized arguments: (\S+)", message)
    if m:
        token = m.group(1)
        if token.startswith("-"):
            return f"{token.split('=')[0]}: unknown option"
        return f"{token}: unexpected argument"
    return f"arguments: {message}"


# -- commands --------------------------------------------------------------------


def _fmt(v: float) -> str:
    return f"{v:g}"


def _fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, (tuple, list)):
        return ",".join(_fmt_value(x) for x in v)
    if isinstance(v, float):
        return _fmt(v)
    return str(v)


def _range_text(spec: Any) -> str:
    """``(0, 1000]``-style range; round brackets mark bounds that are excluded."""
    if getattr(spec, "kind", "float") == "bool":
        return ""
    lo = float(getattr(spec, "minimum", -math.inf))
    hi = float(getattr(spec, "maximum", math.inf))
    left = "(" if getattr(spec, "min_open", False) or math.isinf(lo) else "["
    right = ")" if getattr(spec, "max_open", False) or math.isinf(hi) else "]"
    log = " log" if getattr(spec, "log", False) else ""
    return f"{left}{_fmt(lo)}, {_fmt(hi)}{right}{log}"


def _table(rows: Iterable[Sequence[str]], indent: str = "") -> list[str]:
    rows = [list(r) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]


def _cmd_functions() -> int:
    out: list[str] = []
    rows = [("NAME", "TITLE", "DOMAIN", "Z-SCALE", "LOCAL MINIMA", "GLOBAL MINIMA (x, y) = f")]
    details: dict[str, list[str]] = {}
    for name, cls in _landscapes().items():
        land = cls()
        (x0, x1), (y0, y1) = cls.default_domain
        mins = land.minima()
        glob = [m for m in mins if m.kind == "global"]
        local = [m for m in mins if m.kind != "global"]
        gtext = "; ".join(f"({_fmt(m.x)}, {_fmt(m.y)}) = {_fmt(m.value)}" for m in glob) or "-"
        rows.append(
            (
                name,
                cls.title,
                f"x [{_fmt(x0)}, {_fmt(x1)}]  y [{_fmt(y0)}, {_fmt(y1)}]",
                cls.default_zscale,
                str(len(local)),
                gtext,
            )
        )
        lines = [
            f"{name}: {spec.name} = {_fmt(spec.default)} in [{_fmt(spec.minimum)}, "
            f"{_fmt(spec.maximum)}]" + (f"  {spec.description}" if spec.description else "")
            for spec in cls.param_specs
        ]
        lines += [
            f"{name}: local minimum ({_fmt(m.x)}, {_fmt(m.y)}) = {_fmt(m.value)}" for m in local
        ]
        details[name] = lines
    out += _table(rows)
    out.append("")
    out.append("Parameters (set with --param NAME=VALUE) and local minima:")
    for name, lines in details.items():
        if not lines:
            out.append(f"  {name}: no parameters")
        out += ["  " + line for line in lines]
    print("\n".join(out))
    return 0


def _spec_rows(specs: Iterable[Any]) -> list[tuple[str, ...]]:
    """One table row per hyperparameter / schedule parameter: flag, kind, default, range, help."""
    rows = []
    for sp in specs:
        kind = getattr(sp, "kind", "float")
        flag = _flag(sp.name) + ("/" + _flag(f"no_{sp.name}") if kind == "bool" else "")
        help_text = getattr(sp, "help", "") or getattr(sp, "description", "") or ""
        rows.append((flag, kind, f"default {_fmt_value(sp.default)}", _range_text(sp), help_text))
    return rows


def _cmd_optimizers() -> int:
    out: list[str] = []
    for name, cls in _optimizers().items():
        extra = "  (uses the Hessian)" if getattr(cls, "needs_hessian", False) else ""
        out.append(f"{name}: {cls.title}{extra}")
        if cls.description:
            out.append(f"  {cls.description}")
        rows = _spec_rows(cls.hyperparams)
        if rows:
            out += _table(rows, indent="    ")
        out.append("")
    out.append("Learning-rate schedules (--schedule NAME; --lr is the base rate):")
    for name, sched in _schedules().items():
        title = getattr(sched, "title", "") or ""
        desc = getattr(sched, "description", "") or ""
        out.append(f"{name}: {title}" if title else name)
        if desc:
            out.append(f"  {desc}")
        rows = _spec_rows(_schedule_specs(sched))
        if rows:
            out += _table(rows, indent="    ")
    print("\n".join(out).rstrip())
    return 0


def _parse_hyper_value(argument: str, hp: Any, text: Any) -> Any:
    """Turn the flag's text into the kind the optimizer expects, then validate it."""
    if hp.kind == "bool":
        value: Any = bool(text)
    elif hp.kind == "pair":
        value = _numbers(argument, text, 2, "two numbers A,B")
    else:
        # ints too: validate() accepts 100.0 and 1e3 and rejects 1.5 with a clear message
        value = _number(argument, text)
    try:
        return hp.validate(value)
    except ValueError as exc:
        raise CLIError(argument, str(exc)) from None


def _combined(opt_cls: Any, hyper: dict[str, Any]) -> dict[str, Any]:
    """All hyperparameters (defaults filled in), with the cross-checks between them."""
    try:
        return dict(opt_cls.clean_hyper(hyper))
    except ValueError as exc:
        # e.g. "nesterov requires momentum > 0": blame the given flag the message names first
        msg = str(exc)
        named = sorted((msg.find(n), n) for n in hyper if msg.find(n) >= 0)
        raise CLIError(_flag(named[0][1]) if named else "--optimizer", msg) from None


def _kwargs_from_flags(
    ns: argparse.Namespace,
    names: Iterable[str],
    dest_for: Callable[[str], str],
) -> dict[str, Any]:
    """The flags among ``names`` that the user gave (raw text / bool)."""
    given = {}
    for name in names:
        value = getattr(ns, dest_for(name), None)
        if value is not None:
            given[name] = value
    return given


def _require(ns: argparse.Namespace, names: Sequence[str]) -> None:
    missing = [_flag(n) for n in names if getattr(ns, n) is None]
    if missing:
        more = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
        raise CLIError(missing[0], f"this argument is required{more}")


def _cmd_path(ns: argparse.Namespace) -> int:
    from lossviewer.core.trajectory import simulate
    from lossviewer.io import tables

    _require(ns, ("function", "optimizer", "start", "steps"))
    landscape = _make_landscape(ns.function, _landscape_params(ns.param))
    opt_name = _lookup(_optimizers(), ns.optimizer, "--optimizer", "optimizer")
    opt_cls = _optimizers()[opt_name]
    sched_name = _lookup(_schedules(), ns.schedule, "--schedule", "schedule")
    sched_specs = {sp.name: sp for sp in _schedule_specs(_schedules()[sched_name])}

    start = _numbers("--start", ns.start, 2, "two numbers X,Y")
    steps = _integer("--steps", ns.steps)
    if steps < 1:
        raise CLIError("--steps", f"must be at least 1, got {steps}")
    if steps > MAX_STEPS:
        raise CLIError("--steps", f"must be at most {MAX_STEPS}, got {steps}")
    noise = _number("--noise", ns.noise)
    if noise < 0:
        raise CLIError("--noise", f"must be ≥ 0, got {_fmt(noise)}")
    seed = _integer("--seed", ns.seed)
    if seed < 0:
        raise CLIError("--seed", f"must be ≥ 0, got {seed}")

    # Route every given flag: to the optimizer if it takes it, to the schedule if it
    # takes it; a flag neither takes is an error naming both.
    hyper_specs = {hp.name: hp for hp in opt_cls.hyperparams}
    hyper_names = list(_hyper_flags())
    sched_names = [n for n in _schedule_flags() if n not in hyper_names]
    given = _kwargs_from_flags(ns, hyper_names, lambda n: f"hp_{n}")
    given |= _kwargs_from_flags(ns, sched_names, lambda n: f"sp_{n}")
    hyper: dict[str, Any] = {}
    sched_params: dict[str, Any] = {}
    for name, raw in given.items():
        flag = _flag(name) if raw is not False else _flag(f"no_{name}")
        used = False
        if name in hyper_specs:
            hyper[name] = _parse_hyper_value(flag, hyper_specs[name], raw)
            used = True
        if name in sched_specs:
            sched_params[name] = _parse_hyper_value(flag, sched_specs[name], raw)
            used = True
        if not used:
            if name in hyper_names:
                takes = ", ".join(hyper_specs) or "none"
                raise CLIError(
                    flag,
                    f"{opt_name} has no hyperparameter {name!r} (its hyperparameters: {takes})",
                )
            takes = ", ".join(sched_specs) or "none"
            raise CLIError(
                flag,
                f"schedule {sched_name!r} has no parameter {name!r} (its parameters: {takes})",
            )
    full_hyper = _combined(opt_cls, hyper)

    fmt = ns.format or tables.format_for_path(ns.out)
    if ns.out is not None:
        _check_writable("--out", ns.out)

    try:
        traj = simulate(
            landscape,
            opt_name,
            hyper,
            [list(start)],
            steps,
            schedule=sched_name,
            schedule_params=sched_params,
            noise=noise,
            seed=seed,
        )
    except ValueError as exc:
        # anything the checks above missed is still the user's input, not a crash
        raise CLIError("path", str(exc)) from None

    full_sched = {sp.name: sp.default for sp in sched_specs.values()} | sched_params
    meta = dict(
        function=landscape.name,
        function_params=dict(landscape.params),
        optimizer=opt_name,
        hyperparameters=full_hyper,
        schedule=sched_name,
        schedule_params=full_sched,
        noise=noise,
        seed=seed,
    )
    text = tables.to_json(traj, **meta) if fmt == "json" else tables.to_csv(traj)
    status, stop = traj.status[0], int(traj.stop[0])
    if status != "finished":
        # CSV has no status column: say why the rows end before --steps
        where = "after" if status == "diverged" else "at"
        print(f"{PROG}: note: the path {status} {where} step {stop} of {steps}", file=sys.stderr)
    if ns.out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        _write_out("--out", ns.out, text)
    return 0


def _write_out(argument: str, path: str, text: str) -> None:
    from lossviewer.io.surface_npz import atomic_open

    try:
        with atomic_open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise CLIError(argument, f"cannot write {path!r}: {exc.strerror or exc}") from None


def _cmd_surface(ns: argparse.Namespace) -> int:
    from lossviewer.core.grid import check_range, check_resolution, sample_surface
    from lossviewer.io.surface_npz import save_surface

    _require(ns, ("function", "resolution", "out"))
    landscape = _make_landscape(ns.function, _landscape_params(ns.param))
    (dx0, dx1), (dy0, dy1) = landscape.domain
    ranges = []
    for flag, text, default, what in (
        ("--xrange", ns.xrange, (dx0, dx1), "x range"),
        ("--yrange", ns.yrange, (dy0, dy1), "y range"),
    ):
        lo, hi = default if text is None else _numbers(flag, text, 2, "two numbers MIN,MAX")
        try:
            ranges.append(check_range(lo, hi, what=what))
        except ValueError as exc:
            raise CLIError(flag, str(exc)) from None
    try:
        n = check_resolution(_integer("--resolution", ns.resolution))
    except ValueError as exc:
        raise CLIError("--resolution", str(exc)) from None
    _check_writable("--out", ns.out)
    surface = sample_surface(landscape, ranges[0], ranges[1], n)
    try:
        save_surface(ns.out, surface)
    except OSError as exc:
        raise CLIError("--out", f"cannot write {ns.out!r}: {exc.strerror or exc}") from None
    return 0


def _cmd_gui(ns: argparse.Namespace) -> int:
    function = None
    if ns.gui_function is not None:
        function = _lookup(_landscapes(), ns.gui_function, "--function", "function")
    size = None
    if ns.gui_size is not None:
        m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", ns.gui_size)
        if not m:
            raise CLIError(
                "--size", f"expected WIDTHxHEIGHT such as 1600x1000, got {ns.gui_size!r}"
            )
        w, h = int(m.group(1)), int(m.group(2))
        if not (MIN_SIZE <= w <= MAX_SIZE and MIN_SIZE <= h <= MAX_SIZE):
            raise CLIError("--size", f"width and height must lie in [{MIN_SIZE}, {MAX_SIZE}]")
        size = (w, h)
    if ns.gui_screenshot is not None:
        _check_writable("--screenshot", ns.gui_screenshot)
    # Qt is imported only now, so that the subcommands never need it (or a display)
    try:
        from lossviewer.app import run_gui
    except ImportError as exc:
        print(f"{PROG}: error: cannot start the window: {exc}", file=sys.stderr)
        return 1
    return int(
        run_gui(
            function=function,
            screenshot=ns.gui_screenshot,
            smoke_test=ns.gui_smoke_test,
            size=size,
        )
        or 0
    )


def _command_in(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if arg in COMMANDS:
            return arg
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for user errors)."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(args)
    hint = f"see {PROG} {command} --help" if command else f"see {PROG} --help"
    try:
        parser = build_parser()
        try:
            ns = parser.parse_args(args)
        except _ArgparseError as exc:
            raise CLIError(*_argparse_message(str(exc)).split(": ", 1)) from None
        if ns.command is not None:
            stray = [
                f
                for f, v in (
                    ("--function", ns.gui_function),
                    ("--screenshot", ns.gui_screenshot),
                    ("--size", ns.gui_size),
                    ("--smoke-test", ns.gui_smoke_test or None),
                )
                if v is not None
            ]
            if stray == ["--function"] and ns.command in ("path", "surface"):
                raise CLIError(
                    "--function", f"goes after the command: {PROG} {ns.command} --function NAME"
                )
            if stray:
                raise CLIError(stray[0], f"is a window option; '{ns.command}' does not take it")
        if ns.command == "functions":
            return _cmd_functions()
        if ns.command == "optimizers":
            return _cmd_optimizers()
        if ns.command == "path":
            return _cmd_path(ns)
        if ns.command == "surface":
            return _cmd_surface(ns)
        return _cmd_gui(ns)
    except CLIError as exc:
        line = " ".join(f"{PROG}: error: {exc} ({hint})".split())
        print(line, file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # "lossviewer path ... | head": the reader left; that is not an error
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
