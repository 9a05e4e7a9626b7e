"""Interaction: progress with cancel, errors shown to the user, hover read-out, keys."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gl


def test_big_surface_shows_progress_and_can_be_cancelled(window, qtbot):
    fractions = []
    window.surface_runner.progress.connect(lambda f, _t: fractions.append(f))
    window.scene.set_landscape(function="rastrigin", resolution=3000)
    qtbot.waitUntil(lambda: window.surface_runner.busy, timeout=5000)
    assert window.progress.isVisible() and window.cancel_button.isVisible()
    qtbot.waitUntil(lambda: any(0 < f < 1 for f in fractions), timeout=10_000)
    assert 0 < window.progress.fraction() < 1
    qtbot.mouseClick(window.cancel_button, pg_left())
    assert not window.surface_runner.busy
    assert not window.cancel_button.isVisible()
    assert "cancelled" in window.status_label.text()
    # what is shown is marked out of date, and the window does not claim to be ready
    assert not window.scene.surface_up_to_date
    assert "out of date" in window.contour_view._note.text()
    assert not window.ready
    qtbot.wait(300)
    # F5 computes what is missing (at a size this test can wait for)
    window.scene.set_landscape(resolution=128)
    window.recompute()
    qtbot.waitUntil(lambda: window.ready, timeout=20_000)
    assert window.scene.surface.surface.meta["landscape"] == "rastrigin"
    assert window.scene.surface.surface.Z.shape == (128, 128)
    assert not window.contour_view._note.isVisible()


def test_latest_function_wins(window, qtbot):
    window.scene.set_landscape(function="beale", resolution=600)
    qtbot.wait(30)
    window.scene.set_landscape(function="booth")
    qtbot.waitUntil(lambda: window.ready, timeout=30_000)
    assert window.scene.surface.surface.meta["landscape"] == "booth"
    qtbot.wait(300)  # nothing late from the beale job replaces it
    assert window.scene.surface.surface.meta["landscape"] == "booth"


def test_dragged_path_stays_drawn_while_recomputing(window, qtbot):
    scene = window.scene
    scene.set_playback(frame=scene.max_steps, playing=False)
    rid = scene.selected
    field = window.optimizer_dock._hyper_fields["lr"]
    lengths = []
    for _ in range(15):
        field.slider.setValue(field.slider.value() - 3)
        qtbot.wait(5)
        curve = window.contour_view._paths[rid][0]
        lengths.append(len(curve.getData()[0]))
    assert min(lengths) > 1, f"the edited path vanished during the drag: {lengths}"
    qtbot.waitUntil(lambda: window.ready, timeout=10_000)


def test_switching_function_updates_the_dock_start(window, qtbot):
    window.scene.set_landscape(function="himmelblau")
    dock = window.optimizer_dock
    start = window.scene.runs[window.scene.selected].start
    assert (dock.start_x.value(), dock.start_y.value()) == start


def pg_left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_job_error_is_shown_and_app_keeps_working(window, qtbot, monkeypatch):
    import lossviewer.ui.main_window as mw

    def broken_job(request):
        yield from ()
        raise ArithmeticError("the landscape exploded")

    monkeypatch.setattr(mw, "surface_job", broken_job)
    old = window.scene.surface
    window.scene.set_landscape(resolution=200)
    qtbot.waitUntil(lambda: "failed" in window.status_label.text(), timeout=5000)
    assert "the landscape exploded" in window.status_label.text()
    assert window.scene.surface is old, "the last good surface stays"
    monkeypatch.undo()
    window.scene.set_landscape(resolution=160)
    qtbot.waitUntil(lambda: window.ready, timeout=20_000)
    assert window.scene.surface.surface.Z.shape == (160, 160)


def test_hover_readout_shows_loss_and_gradient(window):
    window.contour_view.hovered.emit(1.0, 1.0)
    text = window.contour_view._readout.toPlainText()
    assert "loss = 0" in text and "|∇loss| = 0" in text  # Rosenbrock's minimum
    window.contour_view.hovered.emit(0.0, 0.0)
    text = window.contour_view._readout.toPlainText()
    assert "loss = 1\n" in text and "|∇loss| = 2" in text  # f(0,0)=1, ∇f=(-2, 0)
    window.contour_view.hovered.emit(float("nan"), float("nan"))
    assert not window.contour_view._readout.isVisible()


def test_space_toggles_playback_and_arrows_step(window, qtbot):
    from PySide6.QtCore import Qt

    window.scene.set_playback(frame=10, playing=False)
    with qtbot.waitActive(window):
        window.activateWindow()
    window.surface_view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.scene.playback.playing
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.scene.playback.playing
    frame = window.scene.playback.frame
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.scene.playback.frame == frame + 1
    qtbot.keyClick(window, Qt.Key.Key_Home)
    assert window.scene.playback.frame == 0


def test_playback_advances_and_moves_the_markers(window, qtbot):
    scene = window.scene
    scene.set_playback(frame=0, playing=True, speed=2000)
    qtbot.waitUntil(lambda: scene.playback.frame > 200, timeout=5000)
    scene.set_playback(playing=False)
    qtbot.wait(50)
    f = scene.playback.frame
    rid = next(iter(scene.runs))
    curve, head = window.contour_view._paths[rid]
    x, _y = curve.getData()
    assert len(x) == f + 1
    hx, hy = head.getData()
    np.testing.assert_allclose([hx[0], hy[0]], scene.trajectories[rid].points[0, f])


def test_trail_limits_drawn_path(window, qtbot):
    scene = window.scene
    scene.set_playback(frame=500, playing=False, trail=50)
    qtbot.wait(50)
    rid = next(iter(scene.runs))
    x, _y = window.contour_view._paths[rid][0].getData()
    assert len(x) == 51


def test_adding_and_removing_runs_from_the_dock(window, qtbot):
    dock = window.optimizer_dock
    n = len(window.scene.runs)
    dock.add_run("nadam")
    assert len(window.scene.runs) == n + 1
    assert window.scene.runs[window.scene.selected].optimizer == "nadam"
    assert dock.optimizer.currentData() == "nadam"
    assert set(dock._hyper_fields) >= {"lr", "betas", "momentum_decay"}
    qtbot.waitUntil(lambda: window.ready, timeout=10_000)
    dock.remove_selected()
    assert len(window.scene.runs) == n


def test_function_menu_switches_and_shows_the_current_one(window, qtbot):
    from PySide6.QtWidgets import QMenu

    menus = {m.title().replace("&", ""): m for m in window.menuBar().findChildren(QMenu)}
    functions = menus["Function"]
    functions.aboutToShow.emit()
    checked = [a.text() for a in functions.actions() if a.isChecked()]
    assert checked == ["Rosenbrock"]
    next(a for a in functions.actions() if a.text() == "Himmelblau").trigger()
    assert window.scene.landscape_settings.function == "himmelblau"
    qtbot.waitUntil(lambda: window.ready, timeout=20_000)
