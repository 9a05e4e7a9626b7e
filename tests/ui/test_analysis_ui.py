"""Typed formulas, critical points, curvature overlays and basins in the window (Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from lossviewer.core.basins import DIVERGED, NOT_CONVERGED
from lossviewer.ui import theme
from lossviewer.ui.analysis_controller import (
    SignedLogScale,
    basin_image,
    coord_text,
    percent,
)
from lossviewer.ui.offscreen import image_to_array

pytestmark = pytest.mark.gl


def _hex_rgb(color: str) -> np.ndarray:
    c = color.lstrip("#")
    return np.array([int(c[i : i + 2], 16) for i in (0, 2, 4)], float)


def _count_near(img: np.ndarray, rgb, tol: float = 30.0) -> int:
    d = np.linalg.norm(img[..., :3].astype(float) - np.asarray(rgb, float), axis=-1)
    return int(np.count_nonzero(d < tol))


def _map(window) -> np.ndarray:
    return image_to_array(window.contour_view.grab().toImage())


def _settle(window, qtbot, timeout: int = 30_000) -> None:
    qtbot.wait(200)  # debounce timers
    qtbot.waitUntil(lambda: window.ready, timeout=timeout)
    qtbot.wait(50)


def test_formula_typed_in_the_dock_becomes_the_landscape(window, qtbot):
    dock = window.landscape_dock
    dock.function.setCurrentIndex(dock.function.findData("formula"))
    assert dock.formula_editor.isVisible()
    ed = dock.formula_editor
    ed.declarations.clear()
    qtbot.keyClicks(ed.declarations, "a=1, b=100")
    ed.expression.clear()
    qtbot.keyClicks(ed.expression, "(a - x)^2 + b*(y - x^2)^2")
    qtbot.keyClick(ed.expression, Qt.Key.Key_Return)
    # derived on a worker, then applied
    qtbot.waitUntil(lambda: window.scene.landscape_settings.is_formula, timeout=10_000)
    s = window.scene.landscape_settings
    assert s.formula == "(a - x)^2 + b*(y - x^2)^2"
    assert s.params == {"a": 1.0, "b": 100.0}
    assert ed.verdict.text().startswith("✓")
    # one slider per declared parameter, and it drives the landscape
    assert set(dock._param_fields) == {"a", "b"}
    _settle(window, qtbot)
    assert window.windowTitle().endswith("Formula")
    rev = window.scene.landscape_revision
    dock._param_fields["b"].valueChanged.emit(10.0)
    assert window.scene.landscape_settings.params["b"] == 10.0
    assert window.scene.landscape_revision == rev + 1
    _settle(window, qtbot)
    # the global minimum found is Rosenbrock's (1, 1) whatever b is
    crit = window.scene.analysis.critical
    best = [p for p in crit if p.is_global]
    assert len(best) == 1 and np.allclose(best[0].point, (1.0, 1.0), atol=1e-6)


@pytest.mark.parametrize("text, fragment", [
    ("x + foo", "unknown name 'foo' at column 5"),
    ("sin(x + 1", "expected ')'"),
    ("__import__('os').system('true')", ""),
    ("9**9**9", "too large"),
    # parses, but its derivatives are refused on the worker
    ("*".join(f"(x+{k}*y+{k})" for k in range(1, 40)), "too complex"),
])
def test_a_bad_formula_is_explained_and_the_landscape_kept(window, qtbot, text, fragment):
    window.scene.set_landscape(function="formula", formula="x^2 + y^2", declarations="")
    before = window.scene.landscape_settings
    ed = window.landscape_dock.formula_editor
    ed.expression.clear()
    qtbot.keyClicks(ed.expression, text)
    qtbot.keyClick(ed.expression, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not ed.compiler.busy, timeout=10_000)
    qtbot.wait(30)
    assert ed.verdict.text().startswith("✗"), ed.verdict.text()
    assert fragment in ed.verdict.text()
    assert window.scene.landscape_settings == before
    # and the pause-to-apply timer does not apply it either
    qtbot.wait(600)
    assert window.scene.landscape_settings == before


def test_critical_points_are_listed_and_marked(window, qtbot):
    window.scene.set_landscape(function="himmelblau")
    _settle(window, qtbot)
    crit = window.scene.analysis.critical
    kinds = sorted(p.kind for p in crit)
    assert kinds == ["maximum"] + ["minimum"] * 4 + ["saddle"] * 4
    table = window.analysis_dock.table
    assert table.rowCount() == 9
    assert "4 minima" in window.analysis_dock.summary.text()
    # every known minimum is among those found
    for m in window.scene.landscape.minima():
        assert min(np.hypot(p.x - m.x, p.y - m.y) for p in crit) < 1e-6
    # markers: gold stars (global) and the saddle colour are on the map
    img = _map(window)
    assert _count_near(img, _hex_rgb(theme.MARKER_STYLES["saddle"][1]), 25) > 20
    window.scene.analysis.set(show_critical=False)
    qtbot.wait(50)
    assert _count_near(_map(window), _hex_rgb(theme.MARKER_STYLES["saddle"][1]), 25) < 5


def test_gradient_arrows_and_heatmap_overlays(window, qtbot):
    window.scene.set_landscape(function="himmelblau")
    _settle(window, qtbot)
    before = _map(window)
    window.scene.analysis.set(arrows=True)
    _settle(window, qtbot)
    arrows = window.contour_view._arrows
    assert arrows.isVisible()
    xs, _ys = arrows.getData()
    assert len(xs) > 6 * 100  # most of 24² arrows, three segments each
    img = _map(window)
    assert np.count_nonzero(np.any(img != before, axis=-1)) > 2000

    window.scene.analysis.set(arrows=False, heatmap="min_eig")
    _settle(window, qtbot)
    img = _map(window)
    lut = theme.colormap_lut(theme.CURVATURE_COLORMAP)[:, :3] * 255
    # both ends of the diverging map show: Himmelblau curves down between its minima
    assert _count_near(img, lut[20], 25) > 200
    assert _count_near(img, lut[-20], 25) > 200
    bar = window.contour_view._colorbar
    assert "λmin" in bar.axis.labelText
    window.scene.analysis.set(heatmap="none")
    qtbot.wait(50)
    assert window.contour_view._image.isVisible()
    assert not window.contour_view._heatmap.isVisible()


def test_surface_coloured_by_curvature(window, qtbot):
    window.scene.set_landscape(function="himmelblau")
    _settle(window, qtbot)
    window.scene.analysis.set(surface_coloring="curvature")
    _settle(window, qtbot)
    img = image_to_array(window.surface_view.grabFramebuffer())
    lut = theme.colormap_lut(theme.CURVATURE_COLORMAP)[:, :3] * 255
    red = lut[-1]
    # red (strongly convex) regions now on the 3D surface, shaded
    shaded = sum(_count_near(img, red * k, 30) for k in (0.7, 0.85, 1.0))
    assert shaded > 200


def test_basin_map_for_the_selected_run(window, qtbot):
    sc = window.scene
    sc.set_landscape(function="himmelblau")
    rid = sc.selected
    sc.update_run(rid, optimizer="adam", hyper={"lr": 0.05})
    sc.analysis.set(basins=True, basin_grid=64, basin_steps=300)
    _settle(window, qtbot)
    bm = sc.analysis.basins
    assert bm is not None and bm.labels.shape == (64, 64)
    assert len(bm.attractors) == 4
    assert abs(sum(bm.shares) + bm.diverged_share + bm.not_converged_share - 1) < 1e-12
    for m in sc.landscape.minima():
        assert np.min(np.hypot(bm.attractors[:, 0] - m.x, bm.attractors[:, 1] - m.y)) < 1e-3
    assert window.analysis_dock.basin_table.rowCount() >= 4
    assert "%" in window.analysis_dock.basin_table.item(0, 0).text()
    assert window.contour_view._basins.isVisible()
    # another learning rate: the map is recomputed for it
    key = sc.analysis.basins_key
    sc.update_run(rid, hyper={"lr": 0.02})
    _settle(window, qtbot)
    assert sc.analysis.basins_key != key and sc.analysis.basins_key == sc.basins_key()
    sc.analysis.set(basins=False)
    qtbot.wait(50)
    assert not window.contour_view._basins.isVisible()


def test_basins_can_be_cancelled_and_recomputed(window, qtbot):
    sc = window.scene
    sc.set_landscape(function="himmelblau")
    _settle(window, qtbot)
    sc.analysis.set(basins=True, basin_grid=512, basin_steps=5000)
    runner = window.analysis.basin_runner
    qtbot.waitUntil(lambda: runner.busy, timeout=5_000)
    window.cancel_jobs()
    qtbot.waitUntil(lambda: not runner.busy, timeout=5_000)
    assert "cancelled" in window.status_label.text().lower()
    assert sc.analysis.basins is None
    sc.analysis.set(basin_grid=32, basin_steps=100)
    _settle(window, qtbot)
    assert sc.analysis.basins is not None and sc.analysis.basins.labels.shape == (32, 32)


def test_hover_readout_adds_hessian_eigenvalues(window):
    window.scene.set_landscape(function="saddle")
    window._on_hover(0.0, 0.0)
    text = window.contour_view._readout.textItem.toPlainText()
    assert "λ = -2, 2" in text


def test_basin_image_colours_and_signed_log_scale():
    labels = np.array([[0, 1], [DIVERGED, NOT_CONVERGED]])
    img = basin_image(labels, 2)
    assert img.shape == (2, 2, 4) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[0, 0, :3], _hex_rgb(theme.BASIN_COLORS[0]))
    np.testing.assert_array_equal(img[1, 0, :3], _hex_rgb(theme.BASIN_DIVERGED_COLOR))
    np.testing.assert_array_equal(img[1, 1, :3], _hex_rgb(theme.BASIN_NOT_CONVERGED_COLOR))
    values = np.array([-100.0, -1.0, 0.0, 1.0, 2.0, 1000.0, np.nan])
    scale = SignedLogScale.fit(values)
    t = scale(values)
    assert t[2] == 0 and np.all(np.diff(t[:6]) > 0)  # monotone, sign kept
    for pos, label in scale.ticks():
        assert abs(np.arcsinh(float(label) / scale.s) - pos) < 1e-12


def test_choosing_formula_derives_it_off_the_gui_thread(window, qtbot):
    from lossviewer.core.formula import compile_formula

    compile_formula.cache_clear()  # nothing cached: the derivation has to run
    window._apply_landscape(function="formula")  # as the View menu does
    # the scene switches only once the worker has derived the formula
    assert not window.scene.landscape_settings.is_formula
    assert window.landscape_dock.formula_editor.compiler.busy
    qtbot.waitUntil(lambda: window.scene.landscape_settings.is_formula, timeout=10_000)
    assert window.landscape_dock.function.currentData() == "formula"
    _settle(window, qtbot)
    assert window.scene.surface_up_to_date


def test_legend_numbers_are_readable():
    assert percent(0.0) == "0.0%" and percent(0.0001) == "<0.1%" and percent(0.2345) == "23.4%"
    assert coord_text(1.2326e-32, 12.0) == "0"  # rounding noise of a symmetric minimum
    assert coord_text(-2.84931, 12.0) == "-2.85" and coord_text(-2.84931, 12.0, 4) == "-2.849"
    assert coord_text(1e-6, 1e-3) == "1e-06"  # small, but not noise, on a small domain


def test_results_for_a_previous_function_are_never_shown(window, qtbot):
    """A basin job still running when the function changes is cancelled (or its
    result dropped): the new function never shows the old function's map."""
    sc = window.scene
    sc.set_landscape(function="himmelblau")
    _settle(window, qtbot)
    sc.analysis.set(basins=True, basin_grid=256, basin_steps=2000)
    runner = window.analysis.basin_runner
    qtbot.waitUntil(lambda: runner.busy, timeout=5_000)
    sc.set_landscape(function="six_hump_camel")
    shown = []
    sc.analysis.basins_changed.connect(lambda: shown.append(sc.analysis.basins_key))
    sc.analysis.set(basin_grid=32, basin_steps=100)
    _settle(window, qtbot)
    assert shown and all(k is None or k == sc.basins_key() for k in shown)
    bm = sc.analysis.basins
    minima = [(m.x, m.y) for m in sc.landscape.minima()]
    for x, y in bm.attractors:  # six-hump camel's minima, not Himmelblau's
        assert min(np.hypot(x - mx, y - my) for mx, my in minima) < 1e-3


def test_choosing_a_builtin_while_a_formula_is_derived_keeps_the_builtin(window, qtbot):
    from lossviewer.core.formula import compile_formula

    compile_formula.cache_clear()
    window._apply_landscape(function="formula")
    assert window.landscape_dock.formula_editor.compiler.busy
    window._apply_landscape(function="himmelblau")
    qtbot.wait(1500)  # long enough for the derivation to have finished
    assert window.scene.landscape_settings.function == "himmelblau"
    assert not window.landscape_dock.formula_editor.isVisible()


def test_a_failed_formula_switch_says_what_the_map_still_shows(window, qtbot):
    ed = window.landscape_dock.formula_editor
    ed.expression.setText("x + foo")
    window._apply_landscape(function="formula")
    qtbot.waitUntil(lambda: not ed.compiler.busy, timeout=10_000)
    qtbot.wait(30)
    assert "unknown name 'foo'" in ed.verdict.text()
    assert "still shows Rosenbrock" in ed.verdict.text()
    assert window.scene.landscape_settings.function == "rosenbrock"


def test_loss_plot_of_a_formula_uses_the_global_minimum_found(window, qtbot):
    sc = window.scene
    sc.set_landscape(function="formula", formula="(x - 1)^2 + (y + 0.5)^2 + 3",
                     declarations="")
    _settle(window, qtbot)
    qtbot.wait(100)  # the throttled redraw after the critical points landed
    plot = window.loss_plot
    assert plot._log  # log of loss − f*, with f* = 3 found at (1, -0.5)
    assert "f*" in plot.getPlotItem().getAxis("left").labelText
    sc.set_landscape(formula="x^2 - y^2")  # a saddle only: raw loss
    _settle(window, qtbot)
    qtbot.wait(100)
    assert not plot._log
