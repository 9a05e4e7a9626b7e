"""Scene with a typed formula, and the analysis settings and result keys."""

from __future__ import annotations

import numpy as np
import pytest

from lossviewer.core.functions import make_landscape
from lossviewer.core.landscape_spec import LandscapeSpec
from lossviewer.scene.scene import DEFAULT_DECLARATIONS, DEFAULT_FORMULA, default_scene

ROSENBROCK = "(a - x)^2 + b*(y - x^2)^2"


def test_switching_to_formula_keeps_the_domain_and_uses_the_stored_text():
    s = default_scene()
    xr, yr = s.landscape_settings.xrange, s.landscape_settings.yrange
    rev = s.landscape_revision
    s.set_landscape(function="formula")
    ls = s.landscape_settings
    assert ls.is_formula and ls.title == "Formula"
    assert (ls.xrange, ls.yrange) == (xr, yr)
    assert (ls.formula, ls.declarations) == (DEFAULT_FORMULA, DEFAULT_DECLARATIONS)
    assert ls.params == {"a": 1.0, "b": 0.3}
    assert s.landscape_revision == rev + 1
    # every run lost its path and starts inside the domain
    assert set(s.stale_runs()) == set(s.runs)
    for run in s.runs.values():
        assert xr[0] <= run.start[0] <= xr[1] and yr[0] <= run.start[1] <= yr[1]


def test_formula_landscape_equals_the_builtin():
    s = default_scene()
    s.set_landscape(function="formula", formula=ROSENBROCK, declarations="a=1, b=100")
    ref = make_landscape("rosenbrock")
    pts = np.random.default_rng(0).uniform(-2, 2, (50, 2))
    np.testing.assert_allclose(s.landscape.value(pts), ref.value(pts), rtol=1e-12)
    np.testing.assert_allclose(s.landscape.grad(pts), ref.grad(pts), rtol=1e-12)
    # the spec a job gets rebuilds the same landscape on its own
    spec = s.landscape_settings.spec()
    assert isinstance(spec, LandscapeSpec) and spec.is_formula
    np.testing.assert_allclose(spec.make().value(pts), ref.value(pts), rtol=1e-12)


def test_a_bad_formula_changes_nothing():
    s = default_scene()
    s.set_landscape(function="formula", formula=ROSENBROCK, declarations="a=1, b=100")
    before, rev = s.landscape_settings, s.landscape_revision
    for bad in ("x + foo", "sin(x", "__import__('os')", "9**9**9"):
        with pytest.raises(ValueError):
            s.set_landscape(formula=bad)
        assert s.landscape_settings == before and s.landscape_revision == rev
    with pytest.raises(ValueError):
        s.set_landscape(declarations="a=1, a=2")
    assert s.landscape_settings == before


def test_parameter_values_survive_new_declarations_where_they_still_fit():
    s = default_scene()
    s.set_landscape(function="formula", formula=ROSENBROCK, declarations="a=1, b=100")
    s.set_landscape(params={"a": 1.5, "b": 50.0})
    assert s.landscape_settings.params == {"a": 1.5, "b": 50.0}
    # b's new range excludes 50: it takes its declared default; a keeps 1.5
    s.set_landscape(declarations="a=1, b=100 in [90, 110]")
    assert s.landscape_settings.params == {"a": 1.5, "b": 100.0}
    # only the formula changes: values stay
    s.set_landscape(formula="(a - x)^2 + b*(y - x^2)^2 + 0*y")
    assert s.landscape_settings.params == {"a": 1.5, "b": 100.0}


def test_formula_text_is_kept_while_a_builtin_is_shown():
    s = default_scene()
    s.set_landscape(function="formula", formula="x^2 + 3*y^2", declarations="")
    s.set_landscape(function="himmelblau")
    assert s.landscape_settings.formula == "x^2 + 3*y^2"
    # built-in specs carry no formula text (so equal built-ins give equal specs)
    assert s.landscape_settings.spec() == LandscapeSpec.create("himmelblau")
    s.set_landscape(function="formula")
    np.testing.assert_allclose(s.landscape.value(np.array([1.0, 1.0])), 4.0)


def test_function_switch_clears_analysis_but_a_parameter_change_keeps_it_shown():
    s = default_scene()
    s.analysis.set_critical([], s.critical_key())
    s.set_landscape(params={"a": 1.2})
    assert s.analysis.critical == [] and s.analysis.critical_key != s.critical_key()
    s.set_landscape(function="himmelblau")
    assert s.analysis.critical is None


@pytest.mark.parametrize("changes, message", [
    ({"heatmap": "rainbow"}, "unknown heatmap"),
    ({"surface_coloring": "slope"}, "unknown surface colouring"),
    ({"basin_grid": 8}, "between 16 and 512"),
    ({"basin_grid": 1000}, "between 16 and 512"),
    ({"basin_grid": 64.5}, "whole number"),
    ({"basin_steps": 0}, "between 10 and 5000"),
    ({"basin_opacity": 1.5}, "[0, 1]"),
    ({"basin_opacity": float("nan")}, "[0, 1]"),
])
def test_analysis_settings_are_validated(changes, message):
    s = default_scene()
    before = s.analysis.settings
    seen = []
    s.analysis.settings_changed.connect(seen.append)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        s.analysis.set(**changes)
    assert s.analysis.settings == before and not seen


def test_analysis_keys_follow_what_the_results_depend_on():
    s = default_scene()
    c0, k0 = s.critical_key(), s.basins_key()
    rid = s.selected
    # the start point, the steps, the resolution and the look change no analysis
    s.update_run(rid, start=(0.5, 0.5), steps=50)
    s.set_landscape(resolution=128, zscale="linear", colormap="magma")
    assert (s.critical_key(), s.basins_key()) == (c0, k0)
    s.update_run(rid, hyper={"lr": 5e-4})
    k1 = s.basins_key()
    assert k1 != k0 and s.critical_key() == c0
    s.analysis.set(basin_grid=64)
    assert s.basins_key() not in (k0, k1)
    s.set_landscape(xrange=(-3.0, 3.0))
    assert s.critical_key() != c0
    other = [r for r in s.runs if r != rid][0]
    s.select(other)  # another optimizer: another map
    assert s.basins_key() != k1
    for r in list(s.runs):
        s.remove_run(r)
    assert s.basins_key() is None


def test_a_formula_domain_change_recomputes_the_paths():
    s = default_scene()
    s.set_landscape(function="formula", formula="x^2 + y^2", declarations="")
    for rid in s.runs:
        s.set_trajectory(rid, s.run_revision[rid], s.trajectories.get(rid))
    assert not s.stale_runs()
    s.set_landscape(xrange=(-50.0, 50.0))
    assert set(s.stale_runs()) == set(s.runs)
