"""Command line: the GUI by default, plus headless subcommands.

    lossviewer [--function NAME | --formula EXPR [--param a=1,b=2]] [--xrange A,B]
               [--yrange C,D] [--screenshot FILE.png] [--smoke-test] [--size WxH]
    lossviewer --network DATASET[:DIRECTIONS] | --open LANDSCAPE.npz [window options]
    lossviewer functions
    lossviewer optimizers
    lossviewer path (--function NAME | --formula EXPR) --optimizer NAME --start X,Y
               --steps N [...]
    lossviewer surface (--function NAME | --formula EXPR) --resolution N --out FILE.npz
    lossviewer critical (--function NAME | --formula EXPR) [--xrange A,B] [--yrange C,D]
    lossviewer basins (--function NAME | --formula EXPR) --optimizer NAME --grid N
               --steps N --out FILE.npz [...]
    lossviewer train --dataset NAME --model mlp:16,16 --optimizer NAME --steps N --out RUN.npz
    lossviewer landscape --dataset NAME --model ... [--run RUN.npz] --directions METHOD
               --grid N --out SURFACE.npz [...]

Wherever ``--function NAME`` is accepted, ``--formula EXPR`` is too: a typed
f(x, y) such as ``"(a - x)^2 + b*(y - x^2)^2"`` whose parameters are declared
with ``--param a=1,b=100`` (or ``--param "b=100 in [0, 1000]"``, repeatable).
A formula's domain is --xrange/--yrange, by default [-2, 2] × [-2, 2].

Nothing here imports Qt at module level: the subcommands must start quickly and
run without a display. The GUI is imported only when it is asked for.

Every user error is one line on stderr, ``lossviewer: error: <argument>: <what
is wrong>``, and exit status 2; no usage dump, no traceback.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from lossviewer import __version__

PROG = "lossviewer"
COMMANDS = ("functions", "optimizers", "path", "surface", "critical", "basins", "train",
            "landscape", "render")
#: files "lossviewer FILE" opens in the window (as --open FILE)
OPENABLE = (".lvs", ".npz", ".h5")
#: the commands that take --function / --formula
_LANDSCAPE_COMMANDS = ("path", "surface", "critical", "basins")
#: more steps than anyone can look at; also bounds the memory of one path
MAX_STEPS = 1_000_000
#: GUI window size limits (pixels)
MIN_SIZE, MAX_SIZE = 200, 16384
#: a typed formula's domain when --xrange/--yrange are not given
FORMULA_DOMAIN = ((-2.0, 2.0), (-2.0, 2.0))
#: critical: seeds × seeds start points, at most MAX_SEEDS² of them
MIN_SEEDS, MAX_SEEDS, DEFAULT_SEEDS = 1, 500, 40
#: basins: grid × grid start points
MIN_GRID, MAX_GRID = 2, 1024

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


def _split_params(item: str) -> list[str]:
    """One --param value split on the commas that are not inside [ ]:
    ``"a=1,b=100 in [0, 1000]"`` is ``["a=1", "b=100 in [0, 1000]"]``."""
    parts, depth, cur = [], 0, []
    for ch in str(item):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    if any(not part for part in parts):
        raise CLIError("--param", f"empty parameter in {item!r} (expected name=value,...)")
    return parts


def _landscape_params(pairs: Sequence[str] | None) -> dict[str, float]:
    params: dict[str, float] = {}
    for item in pairs or ():
        for part in _split_params(item):
            name, sep, value = part.partition("=")
            if not sep or not name.strip():
                raise CLIError("--param", f"expected name=value, got {part!r}")
            params[name.strip()] = _number("--param", value)  # later ones override
    return params


def _declarations(pairs: Sequence[str] | None) -> str:
    """A formula's parameter declarations: every --param, joined as "a=1, b=100"."""
    return ", ".join(part for item in pairs or () for part in _split_params(item))


def _make_landscape(function: str, params: Mapping[str, float]) -> Any:
    from lossviewer.core.functions import make_landscape

    name = _lookup(_landscapes(), function, "--function", "function")
    try:
        return make_landscape(name, **params)
    except ValueError as exc:
        raise CLIError("--param", str(exc)) from None


def _make_formula(expression: str, declarations: str, domain: Any) -> Any:
    """A FormulaLandscape; a bad expression blames --formula, bad declarations --param."""
    from lossviewer.core.formula import FormulaLandscape, parse_parameters

    if not str(expression).strip():
        raise CLIError("--formula", "empty formula (expected an expression in x and y)")
    try:
        parse_parameters(declarations)
    except ValueError as exc:  # FormulaError is a ValueError
        # the column counts in the declarations as joined from every --param
        where = f" (in {declarations!r})" if getattr(exc, "column", None) else ""
        raise CLIError("--param", _one_line(exc) + where) from None
    try:
        return FormulaLandscape(expression, declarations, domain=domain)
    except ValueError as exc:
        raise CLIError("--formula", _one_line(exc)) from None
    except (ArithmeticError, TypeError, RecursionError, MemoryError) as exc:
        # sympy on a hostile text: still the user's input, not a crash
        raise CLIError("--formula", f"cannot use this formula ({_one_line(exc)})") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _axis_range(flag: str, text: str | None, default: Sequence[float], what: str
                ) -> tuple[float, float]:
    from lossviewer.core.grid import check_range

    lo, hi = default if text is None else _numbers(flag, text, 2, "two numbers MIN,MAX")
    try:
        return check_range(lo, hi, what=what)
    except ValueError as exc:
        raise CLIError(flag, str(exc)) from None


@dataclass(frozen=True)
class _Chosen:
    """The landscape a command works on and the domain it works in."""

    landscape: Any
    xrange: tuple[float, float]
    yrange: tuple[float, float]
    #: the registry name, or "formula"
    function: str
    formula: str = ""
    declarations: str = ""

    @property
    def is_formula(self) -> bool:
        return self.function == "formula"

    def meta(self) -> dict[str, Any]:
        """function (and formula, declarations), params: for output metadata."""
        out: dict[str, Any] = {"function": self.function}
        if self.is_formula:
            out |= {"formula": self.formula, "declarations": self.declarations}
        out["params"] = {str(k): float(v) for k, v in dict(self.landscape.params).items()}
        return out


def _choose_landscape(
    function: str | None,
    formula: str | None,
    params: Sequence[str] | None,
    xrange: str | None = None,
    yrange: str | None = None,
    *,
    required: bool = True,
    builtin_ranges: bool = True,
) -> _Chosen | None:
    """--function NAME or --formula EXPR (exactly one), with --param and the ranges.

    ``builtin_ranges``: whether --xrange/--yrange may go with a built-in function
    (path: no, a built-in's domain is fixed). None when neither is given and
    ``required`` is false.
    """
    if function is not None and formula is not None:
        raise CLIError("--formula", "use either --function NAME or --formula EXPR, not both")
    if function is None and formula is None:
        if required:
            raise CLIError("--function", "this argument is required (or --formula EXPR)")
        if params:
            raise CLIError("--param", "needs --function NAME or --formula EXPR")
        for flag, text in (("--xrange", xrange), ("--yrange", yrange)):
            if text is not None:
                raise CLIError(flag, "needs --function NAME or --formula EXPR")
        return None
    if formula is not None:
        (dx0, dx1), (dy0, dy1) = FORMULA_DOMAIN
        xr = _axis_range("--xrange", xrange, (dx0, dx1), "x range")
        yr = _axis_range("--yrange", yrange, (dy0, dy1), "y range")
        decls = _declarations(params)
        land = _make_formula(formula, decls, (xr, yr))
        return _Chosen(land, xr, yr, "formula", str(formula), decls)
    land = _make_landscape(function, _landscape_params(params))
    if not builtin_ranges:
        for flag, text in (("--xrange", xrange), ("--yrange", yrange)):
            if text is not None:
                raise CLIError(flag, f"only goes with --formula ({land.name}'s domain is fixed)")
    (dx0, dx1), (dy0, dy1) = land.domain
    xr = _axis_range("--xrange", xrange, (dx0, dx1), "x range")
    yr = _axis_range("--yrange", yrange, (dy0, dy1), "y range")
    return _Chosen(land, xr, yr, land.name)


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


_FORMULA_HELP = (
    "typed function f(x, y) instead of --function, e.g. \"(a - x)^2 + b*(y - x^2)^2\" "
    "(declare its parameters with --param)"
)
_PARAM_HELP = (
    "function parameter NAME=VALUE, or a formula's declaration such as a=1,b=100 or "
    "\"b=100 in [0, 1000]\" (repeatable; commas outside [ ] separate several)"
)


def _add_landscape_options(p: argparse.ArgumentParser, ranges: str | None) -> None:
    """--function / --formula / --param, and --xrange / --yrange when ``ranges`` says
    what they are for. "Exactly one of --function, --formula" is checked by the
    command, not argparse, so that the message is ours."""
    p.add_argument("--function", metavar="NAME", help="loss function (this or --formula)")
    p.add_argument("--formula", metavar="EXPR", help=_FORMULA_HELP)
    p.add_argument("--param", metavar="NAME=VALUE", action="append", help=_PARAM_HELP)
    if ranges is not None:
        p.add_argument("--xrange", metavar="A,B", help=f"x range ({ranges})")
        p.add_argument("--yrange", metavar="C,D", help=f"y range ({ranges})")


def _add_optimizer_options(p: argparse.ArgumentParser) -> None:
    """The optimizer, its hyperparameters, the lr schedule, noise and seed (path, basins)."""
    p.add_argument("--optimizer", metavar="NAME", help="optimizer (required)")
    p.add_argument(
        "--noise", metavar="SIGMA", default="0",
        help="std. dev. of Gaussian noise added to each gradient (default 0)",
    )
    p.add_argument("--seed", metavar="S", default="0", help="noise seed (default 0)")
    p.add_argument(
        "--schedule", metavar="NAME", default="constant",
        help="learning-rate schedule (default constant)",
    )
    hyper = p.add_argument_group(
        "optimizer hyperparameters", "Unset ones keep the optimizer's default."
    )
    hyper_flags = _hyper_flags()
    for name, entry in hyper_flags.items():
        _add_dynamic(hyper, name, entry, f"hp_{name}", "used by")
    sched = p.add_argument_group("schedule parameters")
    for name, entry in _schedule_flags().items():
        if name in hyper_flags:
            continue  # one flag serves both (routed in _optimizer_setup)
        _add_dynamic(sched, name, entry, f"sp_{name}", "schedules")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (exposed for tests and for generated docs)."""
    parser = _Parser(
        prog=PROG,
        usage=(
            f"{PROG} [--function NAME | --formula EXPR [--param a=1,b=2]] "
            "[--xrange A,B] [--yrange C,D]\n"
            f"       {' ' * len(PROG)} [--screenshot FILE.png] [--smoke-test] [--size WxH]\n"
            f"       {PROG} COMMAND [options]    (COMMAND --help for its options)"
        ),
        description=(
            "Explore loss surfaces: 3D landscapes, contour maps and optimizers racing\n"
            "downhill. Without a command, opens the window; the commands run headless.\n"
            "--formula EXPR (a typed f(x, y)) goes wherever --function NAME does."
        ),
        epilog=(
            "examples:\n"
            "  lossviewer --function himmelblau\n"
            "  lossviewer --formula \"(x^2 - 1)^2 + a*y^2\" --param a=2 --xrange -2,2\n"
            "  lossviewer critical --function himmelblau\n"
            "  lossviewer path --formula \"x^2 + 10*y^2\" --optimizer adam --start 1,1 "
            "--steps 100"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    gui = parser.add_argument_group("window options")
    # own dests: the subcommands' --function must not overwrite (or be mistaken for) these
    gui.add_argument(
        "--function", dest="gui_function", metavar="NAME", help="function to show first"
    )
    gui.add_argument(
        "--formula", dest="gui_formula", metavar="EXPR",
        help="show this typed formula f(x, y) first (instead of --function)",
    )
    gui.add_argument(
        "--param", dest="gui_param", metavar="NAME=VALUE", action="append",
        help="parameter of the function, or a formula's declaration (repeatable)",
    )
    gui.add_argument(
        "--xrange", dest="gui_xrange", metavar="A,B",
        help="x range shown (default: the function's domain; -2,2 for a formula)",
    )
    gui.add_argument(
        "--yrange", dest="gui_yrange", metavar="C,D",
        help="y range shown (default: the function's domain; -2,2 for a formula)",
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
    gui.add_argument(
        "--startup-probe", dest="gui_startup_probe", action="store_true",
        help="open the window, print the seconds from process start to the first 3D frame "
             "of the computed scene (JSON) and exit (the installers' start-up budget)",
    )
    gui.add_argument(
        "--open", dest="gui_open", metavar="FILE",
        help="open a session (.lvs) or a network landscape (.npz from 'lossviewer "
             "landscape' or Export, .h5 from loss-landscape)",
    )
    gui.add_argument(
        "--tour", dest="gui_tour", nargs="?", const="", metavar="FILE",
        help="play a tour in presentation mode: the built-in loss-surface story, or FILE "
             "(.toml / .json); PageDown/N next scene, Esc leaves",
    )
    gui.add_argument(
        "--software-gl", dest="gui_software_gl", action="store_true",
        help="draw the 3D view with software OpenGL (slower; for laptops whose graphics "
             "driver fails)",
    )
    gui.add_argument(
        "--torch-script", dest="gui_torch", metavar="FILE.py",
        help="run your PyTorch model file (model(), data(), loss()) and show its landscape",
    )
    gui.add_argument(
        "--network", dest="gui_network", metavar="DATASET[:DIRECTIONS]",
        help="train the default MLP on a built-in dataset and show its landscape, e.g. "
             "moons or digits:pca",
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
        usage=(
            f"{PROG} path (--function NAME | --formula EXPR) --optimizer NAME --start X,Y "
            "--steps N [options]"
        ),
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
            "      --momentum 0.9 --nesterov --schedule cosine --t-max 200 --out path.json\n"
            "  lossviewer path --formula \"(a - x)^2 + b*(y - x^2)^2\" --param a=1,b=100 \\\n"
            "      --optimizer adam --start -1.5,2 --steps 500 --lr 0.05\n\n"
            "Negative start points work as written (--start -1.5,2).\n"
            "A formula's --xrange/--yrange set the scale of the divergence test\n"
            "(a path diverges when it gets far outside the domain; default -2,2).\n"
            "See 'lossviewer optimizers' for which optimizer takes which hyperparameter."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # "required" is checked in _cmd_path, not by argparse, so that a mistyped option is
    # reported as such instead of as a missing one
    _add_landscape_options(p, "--formula only: its domain, default -2,2")
    p.add_argument("--start", metavar="X,Y", help="start point (required)")
    p.add_argument("--steps", metavar="N", help=f"number of steps, 1 to {MAX_STEPS} (required)")
    p.add_argument(
        "--format", choices=("csv", "json"),
        help="output format (default: from the --out extension, else csv)",
    )
    p.add_argument("--out", metavar="FILE", help="write here instead of to stdout")
    _add_optimizer_options(p)

    s = sub.add_parser(
        "surface",
        usage=(
            f"{PROG} surface (--function NAME | --formula EXPR) --resolution N "
            "--out FILE.npz [options]"
        ),
        help="sample a function on a grid and save it as .npz",
        description=(
            "Sample a loss function on an N×N grid and save xs, ys, Z and the metadata "
            "(as JSON) to an .npz file; Z[j, i] = f(xs[i], ys[j])."
        ),
        epilog=(
            "examples:\n"
            "  lossviewer surface --function rastrigin --resolution 512 --out rastrigin.npz\n"
            "  lossviewer surface --formula \"sin(a*x)*cos(y)\" --param a=3 \\\n"
            "      --xrange -3,3 --yrange -3,3 --resolution 256 --out waves.npz"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_landscape_options(s, "default: the function's domain; -2,2 for a formula")
    s.add_argument(
        "--resolution", metavar="N", help="grid points per axis, at least 8 (required)"
    )
    s.add_argument("--out", metavar="FILE.npz", help="output file (required)")

    c = sub.add_parser(
        "critical",
        usage=(
            f"{PROG} critical (--function NAME | --formula EXPR) [--xrange A,B] "
            "[--yrange C,D] [options]"
        ),
        help="find the critical points (minima, saddles, maxima) as JSON",
        description=(
            "Find the points where the gradient vanishes in the domain and print them\n"
            "as a JSON list, minima first (then saddles, maxima, degenerate points), each\n"
            "kind by value: {\"x\", \"y\", \"value\", \"eigenvalues\": [l1, l2] (of the\n"
            "Hessian, ascending), \"type\": minimum|maximum|saddle|degenerate, \"global\"}.\n"
            "Numbers that are not finite are null. Newton's method from a seeds × seeds\n"
            "grid of start points (and the function's known minima)."
        ),
        epilog=(
            "examples:\n"
            "  lossviewer critical --function himmelblau\n"
            "  lossviewer critical --formula \"x^3 - 3*x + a*y^2\" --param a=1 \\\n"
            "      --xrange -2,2 --yrange -1,1 --out points.json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_landscape_options(c, "where to search; default: the function's domain, -2,2 "
                              "for a formula")
    c.add_argument(
        "--seeds", metavar="N", default=str(DEFAULT_SEEDS),
        help=f"N × N start points, {MIN_SEEDS} to {MAX_SEEDS} (default {DEFAULT_SEEDS})",
    )
    c.add_argument("--out", metavar="FILE.json", help="write here instead of to stdout")

    b = sub.add_parser(
        "basins",
        usage=(
            f"{PROG} basins (--function NAME | --formula EXPR) --optimizer NAME --grid N "
            "--steps N --out FILE.npz [options]"
        ),
        help="map where an optimizer ends from every start point, as .npz",
        description=(
            "Run the optimizer from every point of a grid × grid lattice over the domain\n"
            "and label each start point with the attractor (minimum) it ends in. Saves\n"
            "xs, ys, labels[j, i] (start (xs[i], ys[j]); -1 diverged, -2 not converged),\n"
            "ends, attractors, attractor_values, shares, diverged_share,\n"
            "not_converged_share and the metadata (JSON string 'meta') to an .npz file\n"
            "that loads without pickle. Prints a one-line summary unless --quiet.\n\n"
            "Attractors are sorted by value (lowest first); only those reached from some\n"
            "start are listed. With --minima-from-critical (the default) the minima that\n"
            "'lossviewer critical' finds in the same ranges are the candidates: an end\n"
            "that reaches one of them gets it as its attractor, at exactly the point\n"
            "'critical' prints; ends near none of them are clustered into further\n"
            "attractors. --no-minima-from-critical: attractors from clustering the ends."
        ),
        epilog=(
            "examples:\n"
            "  lossviewer basins --function himmelblau --optimizer sgd --lr 0.01 \\\n"
            "      --grid 128 --steps 500 --out himmelblau-basins.npz\n"
            "  lossviewer basins --formula \"(x^2 - 1)^2 + y^2\" --optimizer adam --lr 0.05 \\\n"
            "      --grid 64 --steps 300 --out wells.npz"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_landscape_options(b, "start points; default: the function's domain, -2,2 for "
                              "a formula")
    b.add_argument(
        "--grid", metavar="N", help=f"start points per axis, {MIN_GRID} to {MAX_GRID} (required)"
    )
    b.add_argument("--steps", metavar="N", help=f"steps per start, 1 to {MAX_STEPS} (required)")
    b.add_argument("--out", metavar="FILE.npz", help="output file (required)")
    b.add_argument(
        "--minima-from-critical", action=argparse.BooleanOptionalAction, default=True,
        help="use the minima of 'critical' as the attractors (default: on)",
    )
    b.add_argument("--quiet", action="store_true", help="print no summary")
    _add_optimizer_options(b)
    from lossviewer.network_cli import add_network_commands  # train, landscape
    from lossviewer.render_cli import add_render_command

    add_network_commands(sub)
    add_render_command(sub)
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


def _steps(ns: argparse.Namespace) -> int:
    steps = _integer("--steps", ns.steps)
    if steps < 1:
        raise CLIError("--steps", f"must be at least 1, got {steps}")
    if steps > MAX_STEPS:
        raise CLIError("--steps", f"must be at most {MAX_STEPS}, got {steps}")
    return steps


@dataclass(frozen=True)
class _OptimizerSetup:
    name: str
    #: the hyperparameters given (validated); full_hyper has the defaults filled in
    hyper: dict[str, Any]
    full_hyper: dict[str, Any]
    schedule: str
    schedule_params: dict[str, Any]
    full_schedule_params: dict[str, Any]
    noise: float
    seed: int


def _optimizer_setup(ns: argparse.Namespace) -> _OptimizerSetup:
    """--optimizer, its hyperparameter flags, --schedule and its flags, --noise, --seed."""
    opt_name = _lookup(_optimizers(), ns.optimizer, "--optimizer", "optimizer")
    opt_cls = _optimizers()[opt_name]
    sched_name = _lookup(_schedules(), ns.schedule, "--schedule", "schedule")
    sched_specs = {sp.name: sp for sp in _schedule_specs(_schedules()[sched_name])}
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
    full_sched = {sp.name: sp.default for sp in sched_specs.values()} | sched_params
    return _OptimizerSetup(opt_name, hyper, full_hyper, sched_name, sched_params, full_sched,
                           noise, seed)


def _cmd_path(ns: argparse.Namespace) -> int:
    from lossviewer.core.trajectory import simulate
    from lossviewer.io import tables

    chosen = _choose_landscape(ns.function, ns.formula, ns.param, ns.xrange, ns.yrange,
                               builtin_ranges=False)
    assert chosen is not None
    _require(ns, ("optimizer", "start", "steps"))
    opt = _optimizer_setup(ns)
    start = _numbers("--start", ns.start, 2, "two numbers X,Y")
    steps = _steps(ns)

    fmt = ns.format or tables.format_for_path(ns.out)
    if ns.out is not None:
        _check_writable("--out", ns.out)

    try:
        traj = simulate(
            chosen.landscape,
            opt.name,
            opt.hyper,
            [list(start)],
            steps,
            schedule=opt.schedule,
            schedule_params=opt.schedule_params,
            noise=opt.noise,
            seed=opt.seed,
        )
    except ValueError as exc:
        # anything the checks above missed is still the user's input, not a crash
        raise CLIError("path", str(exc)) from None

    if fmt == "json":
        doc = tables.to_json_obj(
            traj,
            function=chosen.function,
            function_params=chosen.meta()["params"],
            optimizer=opt.name,
            hyperparameters=opt.full_hyper,
            schedule=opt.schedule,
            schedule_params=opt.full_schedule_params,
            noise=opt.noise,
            seed=opt.seed,
        )
        if chosen.is_formula:
            # the formula right after "function" (which says "formula")
            head = {"function": doc.pop("function"), "formula": chosen.formula,
                    "declarations": chosen.declarations,
                    "domain": [list(chosen.xrange), list(chosen.yrange)]}
            doc = head | doc
        text = json.dumps(doc, indent=2, allow_nan=False) + "\n"
    else:
        text = tables.to_csv(traj)
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
    from lossviewer.core.grid import check_resolution, sample_surface
    from lossviewer.io.surface_npz import save_surface

    chosen = _choose_landscape(ns.function, ns.formula, ns.param, ns.xrange, ns.yrange)
    assert chosen is not None
    _require(ns, ("resolution", "out"))
    try:
        n = check_resolution(_integer("--resolution", ns.resolution))
    except ValueError as exc:
        raise CLIError("--resolution", str(exc)) from None
    _check_writable("--out", ns.out)
    surface = sample_surface(chosen.landscape, chosen.xrange, chosen.yrange, n)
    if chosen.is_formula:
        surface.meta.update(formula=chosen.formula, declarations=chosen.declarations)
    try:
        save_surface(ns.out, surface)
    except OSError as exc:
        raise CLIError("--out", f"cannot write {ns.out!r}: {exc.strerror or exc}") from None
    return 0


def _seeds(ns: argparse.Namespace) -> int:
    seeds = _integer("--seeds", ns.seeds)
    if not MIN_SEEDS <= seeds <= MAX_SEEDS:
        raise CLIError("--seeds", f"must lie in [{MIN_SEEDS}, {MAX_SEEDS}], got {seeds}")
    return seeds


def _critical_points(chosen: _Chosen, seeds: int, command: str = "critical") -> list[Any]:
    from lossviewer.core.critical_points import find_critical_points

    try:
        return find_critical_points(chosen.landscape, chosen.xrange, chosen.yrange, seeds=seeds)
    except ValueError as exc:
        raise CLIError(command, _one_line(exc)) from None


def _cmd_critical(ns: argparse.Namespace) -> int:
    chosen = _choose_landscape(ns.function, ns.formula, ns.param, ns.xrange, ns.yrange)
    assert chosen is not None
    seeds = _seeds(ns)
    if ns.out is not None:
        _check_writable("--out", ns.out)
    points = _critical_points(chosen, seeds)
    # to_dict turns NaN and inf into None: the output is strict JSON
    text = json.dumps([p.to_dict() for p in points], indent=2, allow_nan=False) + "\n"
    if ns.out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        _write_out("--out", ns.out, text)
    return 0


def _grid(ns: argparse.Namespace) -> int:
    grid = _integer("--grid", ns.grid)
    if not MIN_GRID <= grid <= MAX_GRID:
        raise CLIError("--grid", f"must lie in [{MIN_GRID}, {MAX_GRID}], got {grid}")
    return grid


def _percent(share: float) -> str:
    return f"{100.0 * float(share):.1f}%"


def _basins_summary(bmap: Any) -> str:
    """One line: how many basins, their shares (largest first), diverged, not converged."""
    import numpy as np

    shares = sorted((float(v) for v in np.asarray(bmap.shares).ravel()), reverse=True)
    k = len(shares)
    shown = ", ".join(_percent(v) for v in shares[:8]) + (f", … ({k - 8} more)" if k > 8 else "")
    text = f"{k} basin{'s' if k != 1 else ''}" + (f": {shown}" if k else "")
    text += f"; diverged {_percent(bmap.diverged_share)}"
    text += f"; not converged {_percent(bmap.not_converged_share)}"
    return text


def _cmd_basins(ns: argparse.Namespace) -> int:
    from lossviewer.core.basins import basins

    chosen = _choose_landscape(ns.function, ns.formula, ns.param, ns.xrange, ns.yrange)
    assert chosen is not None
    _require(ns, ("optimizer", "grid", "steps", "out"))
    opt = _optimizer_setup(ns)
    grid = _grid(ns)
    steps = _steps(ns)
    _check_writable("--out", ns.out)

    minima = None
    if ns.minima_from_critical:
        # as 'lossviewer critical' with its default --seeds, so that the attractors
        # are the very points it prints
        points = _critical_points(chosen, DEFAULT_SEEDS, "basins")
        minima = [(p.x, p.y) for p in points if p.kind == "minimum"]
    try:
        bmap = basins(
            chosen.landscape,
            opt.name,
            opt.hyper,
            chosen.xrange,
            chosen.yrange,
            grid,
            steps,
            schedule=opt.schedule,
            schedule_params=opt.schedule_params,
            noise=opt.noise,
            seed=opt.seed,
            minima=minima,
        )
    except ValueError as exc:
        raise CLIError("basins", _one_line(exc)) from None

    meta = chosen.meta() | {
        "xrange": list(chosen.xrange),
        "yrange": list(chosen.yrange),
        "optimizer": opt.name,
        "hyper": opt.full_hyper,
        "schedule": opt.schedule,
        "schedule_params": opt.full_schedule_params,
        "noise": opt.noise,
        "seed": opt.seed,
        "steps": steps,
        "grid": grid,
        "minima_from_critical": bool(ns.minima_from_critical),
        "critical_minima": [list(m) for m in minima or ()],
        "labels": {"diverged": -1, "not_converged": -2},
    }
    _save_basins(ns.out, bmap, meta)
    if not ns.quiet:
        print(_basins_summary(bmap))
    return 0


def _save_basins(path: str, bmap: Any, meta: Mapping[str, Any]) -> None:
    """np.savez with plain arrays and strings only: loads with allow_pickle=False."""
    import numpy as np

    from lossviewer.io.surface_npz import atomic_open

    arrays = {
        "xs": np.asarray(bmap.xs, dtype=np.float64),
        "ys": np.asarray(bmap.ys, dtype=np.float64),
        "labels": np.asarray(bmap.labels, dtype=np.int64),
        "ends": np.asarray(bmap.ends, dtype=np.float64),
        "attractors": np.asarray(bmap.attractors, dtype=np.float64).reshape(-1, 2),
        "attractor_values": np.asarray(bmap.attractor_values, dtype=np.float64).reshape(-1),
        "shares": np.asarray(bmap.shares, dtype=np.float64).reshape(-1),
        "attractor_kinds": np.array([str(k) for k in bmap.attractor_kinds], dtype=np.str_),
        "end_values": np.asarray(bmap.end_values, dtype=np.float64),
        "status": np.asarray(bmap.status, dtype=np.int8),
        "stop": np.asarray(bmap.stop, dtype=np.int64),
        "diverged_share": np.float64(bmap.diverged_share),
        "not_converged_share": np.float64(bmap.not_converged_share),
        # the text fields also on their own, for readers that skip the JSON
        "function": np.str_(meta["function"]),
        "formula": np.str_(meta.get("formula", "")),
        "optimizer": np.str_(meta["optimizer"]),
        "steps": np.int64(meta["steps"]),
        "grid": np.int64(meta["grid"]),
        "meta": np.str_(json.dumps(_jsonable(meta), allow_nan=False)),
    }
    try:
        with atomic_open(path, "wb") as fh:
            # a file object: np.savez would otherwise append ".npz" to the name
            np.savez(fh, **arrays)
    except OSError as exc:
        raise CLIError("--out", f"cannot write {path!r}: {exc.strerror or exc}") from None


def _jsonable(obj: Any) -> Any:
    """Metadata as strict JSON data: tuples as lists, numpy scalars as numbers, NaN as None."""
    import numpy as np

    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not m:
        raise CLIError("--size", f"expected WIDTHxHEIGHT such as 1600x1000, got {text!r}")
    w, h = int(m.group(1)), int(m.group(2))
    if not (MIN_SIZE <= w <= MAX_SIZE and MIN_SIZE <= h <= MAX_SIZE):
        raise CLIError("--size", f"width and height must lie in [{MIN_SIZE}, {MAX_SIZE}]")
    return (w, h)


def _network_option(text: str) -> dict[str, Any]:
    """--network DATASET[:DIRECTIONS] as NetworkSettings changes."""
    from lossviewer.core.datasets import DATASETS
    from lossviewer.core.directions import METHODS

    name, _, method = str(text).partition(":")
    changes: dict[str, Any] = {"dataset": _lookup(DATASETS, name, "--network", "dataset")}
    if method:
        changes["directions"] = _lookup(METHODS, method, "--network", "direction method")
    if DATASETS[changes["dataset"]].task == "regression":
        changes["loss"] = "mse"
    if changes["dataset"] == "digits":  # a sensible start: smaller steps, more of them
        changes |= {"optimizer": "adam", "lr": 0.003, "steps": 400, "hidden": (32,)}
    return changes


def use_software_gl() -> None:
    """Software OpenGL for drivers that fail: Mesa's llvmpipe on Linux, the opengl32sw
    that Qt ships on Windows. Must run before the QApplication exists."""
    os.environ["LIBGL_ALWAYS_SOFTWARE"] = "1"
    os.environ["GALLIUM_DRIVER"] = "llvmpipe"
    os.environ["QT_OPENGL"] = "software"


def _cmd_gui(ns: argparse.Namespace) -> int:
    if ns.gui_software_gl:
        use_software_gl()
    if ns.gui_startup_probe:
        if not _display_available():
            return _no_display()
        from lossviewer.app import create_application

        app = create_application()
        from lossviewer.ui.main_window import MainWindow
        from lossviewer.ui.offscreen import run_startup_probe

        window = MainWindow(persist_layout=False)
        window.resize(*(_size(ns.gui_size) if ns.gui_size else (1500, 900)))
        return run_startup_probe(app, window)
    tour = None
    if ns.gui_tour is not None:
        from lossviewer.scene.tour import builtin_tour, load_tour

        if ns.gui_tour and not os.path.isfile(ns.gui_tour):
            raise CLIError("--tour", f"no such file: {ns.gui_tour!r}")
        try:
            tour = load_tour(ns.gui_tour) if ns.gui_tour else builtin_tour()
        except OSError as exc:
            raise CLIError("--tour", f"cannot read {ns.gui_tour}: {exc.strerror}") from None
        except ValueError as exc:
            raise CLIError("--tour", _one_line(exc)) from None
    if (ns.gui_open is not None or ns.gui_network is not None or ns.gui_torch is not None
            or tour is not None):
        given = [f for f, v in (("--open", ns.gui_open), ("--network", ns.gui_network),
                                ("--torch-script", ns.gui_torch), ("--tour", tour))
                 if v is not None]
        if len(given) > 1:
            raise CLIError(given[1], f"give one of --open, --network, --torch-script, --tour, "
                                     f"not {given[0]} too")
        for flag, path in (("--open", ns.gui_open), ("--torch-script", ns.gui_torch)):
            if path is not None and not os.path.isfile(path):
                raise CLIError(flag, f"no such file: {path!r}")
        network = None if ns.gui_network is None else _network_option(ns.gui_network)
        size = None if ns.gui_size is None else _size(ns.gui_size)
        if ns.gui_screenshot is not None:
            _check_writable("--screenshot", ns.gui_screenshot)
        return _open_window_on({}, ns.gui_screenshot, ns.gui_smoke_test, size,
                               open_file=ns.gui_open, network=network, model_file=ns.gui_torch,
                               tour=tour)
    plain = all(v is None for v in (ns.gui_formula, ns.gui_param, ns.gui_xrange, ns.gui_yrange))
    function = chosen = None
    if plain and ns.gui_function is not None:
        function = _lookup(_landscapes(), ns.gui_function, "--function", "function")
    elif not plain:
        # validated here, before Qt starts: a bad formula is one line, and no window
        chosen = _choose_landscape(ns.gui_function, ns.gui_formula, ns.gui_param,
                                   ns.gui_xrange, ns.gui_yrange, required=False)
    size = None if ns.gui_size is None else _size(ns.gui_size)
    if ns.gui_screenshot is not None:
        _check_writable("--screenshot", ns.gui_screenshot)
    if chosen is not None:
        changes: dict[str, Any] = {
            "function": "formula" if chosen.is_formula else chosen.function,
            "params": dict(chosen.landscape.params),
            "xrange": chosen.xrange,
            "yrange": chosen.yrange,
        }
        if chosen.is_formula:
            # a typed formula may be negative or zero: a log scale would hide it
            changes |= {"formula": chosen.formula, "declarations": chosen.declarations,
                        "zscale": "linear"}
        return _open_window_on(changes, ns.gui_screenshot, ns.gui_smoke_test, size)
    # Qt is imported only now, so that the subcommands never need it (or a display)
    if not _display_available():
        return _no_display()
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


def _display_available() -> bool:
    """On Linux, Qt aborts the process when there is no display to connect to."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _no_display() -> int:
    print(f"{PROG}: error: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are "
          f"unset); on a headless machine run it under Xvfb: xvfb-run -s '+extension GLX' "
          f"{PROG} …", file=sys.stderr)
    return 1


def _open_window_on(landscape: Mapping[str, Any], screenshot: str | None, smoke_test: bool,
                    size: tuple[int, int] | None, open_file: str | None = None,
                    network: Mapping[str, Any] | None = None,
                    model_file: str | None = None, tour: Any = None) -> int:
    """As lossviewer.app.run_gui, on the default scene switched to ``landscape``
    (Scene.set_landscape keywords): a formula, or a function with parameters/ranges;
    or with a network landscape file opened / a network landscape computed."""
    from lossviewer.scene.scene import default_scene

    scene = default_scene()  # Qt-free
    try:
        if landscape:
            scene.set_landscape(**landscape)
        if network:
            scene.set_network_settings(**network)
    except ValueError as exc:  # checked before, so unlikely: still one line
        flag = ("--network" if network else "--formula" if "formula" in landscape
                else "--function")
        raise CLIError(flag, _one_line(exc)) from None
    if not _display_available():
        return _no_display()
    try:
        from lossviewer.app import create_application
    except ImportError as exc:
        print(f"{PROG}: error: cannot start the window: {exc}", file=sys.stderr)
        return 1
    app = create_application()
    from lossviewer.ui.main_window import MainWindow

    # headless renders neither read nor overwrite the user's window layout
    window = MainWindow(scene=scene, persist_layout=not (screenshot or smoke_test))
    window.resize(*(size or (1500, 900)))
    opened = (window.session.open(open_file) if open_file.lower().endswith(".lvs")
              else window.network.open_file(open_file)) if open_file is not None else True
    if not opened:
        print(f"{PROG}: error: --open: {window.status_label.text().lstrip('⚠ ')}",
              file=sys.stderr)
        window.close()
        return EXIT_USAGE
    if network:
        window.network.compute()
    if tour is not None:
        window.presentation.play_tour(tour)
    if model_file is not None and not window.network.open_model(model_file):
        from lossviewer.compute.model_file import TORCH_HINT

        print(f"{PROG}: error: --torch-script: {TORCH_HINT}", file=sys.stderr)
        window.close()
        return EXIT_USAGE
    if screenshot or smoke_test:
        from lossviewer.ui.offscreen import run_screenshot, run_smoke_test

        if smoke_test:
            return int(run_smoke_test(app, window) or 0)
        return int(run_screenshot(app, window, screenshot) or 0)
    window.show()
    return int(app.exec() or 0)


def _command_in(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if arg in COMMANDS:
            return arg
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for user errors)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if (args and not args[0].startswith("-") and args[0] not in COMMANDS
            and os.path.splitext(args[0])[1].lower() in OPENABLE):
        args = ["--open", *args]  # "lossviewer talk.lvs": the desktop file's Exec line
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
                    ("--formula", ns.gui_formula),
                    ("--param", ns.gui_param),
                    ("--xrange", ns.gui_xrange),
                    ("--yrange", ns.gui_yrange),
                    ("--screenshot", ns.gui_screenshot),
                    ("--size", ns.gui_size),
                    ("--smoke-test", ns.gui_smoke_test or None),
                    ("--startup-probe", ns.gui_startup_probe or None),
                    ("--open", ns.gui_open),
                    ("--network", ns.gui_network),
                    ("--torch-script", ns.gui_torch),
                    ("--tour", ns.gui_tour),
                    ("--software-gl", ns.gui_software_gl or None),
                )
                if v is not None
            ]
            landscape_flags = {"--function", "--formula", "--param", "--xrange", "--yrange"}
            if stray and set(stray) <= landscape_flags and ns.command in _LANDSCAPE_COMMANDS:
                metavar = {"--function": "NAME", "--formula": "EXPR", "--param": "NAME=VALUE",
                           "--xrange": "A,B", "--yrange": "C,D"}[stray[0]]
                raise CLIError(
                    stray[0], f"goes after the command: {PROG} {ns.command} {stray[0]} {metavar}"
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
        if ns.command == "critical":
            return _cmd_critical(ns)
        if ns.command == "basins":
            return _cmd_basins(ns)
        if ns.command == "train":
            from lossviewer.network_cli import cmd_train

            return cmd_train(ns)
        if ns.command == "landscape":
            from lossviewer.network_cli import cmd_landscape

            return cmd_landscape(ns)
        if ns.command == "render":
            from lossviewer.render_cli import cmd_render

            return cmd_render(ns)
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
