"""Interaction: progress with cancel, errors shown to the user, hover read-out, keys."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gl


@pytest.fixture
def window(qtbot):
    from lossviewer.ui.main_window import MainWindow

    w = MainWindow()
    w.resize(1400, 850)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.ready, timeout=30_000)
    return w


def test_big_surface_shows_progress_and_can_be_cancelled(window, qtbot):
    old = window.scene.surface
    window.scene.set_landscape(resolution=3000)
    qtbot.waitUntil(lambda: window.surface_runner.busy, timeout=5000)
    assert window.progress.isVisible() and window.cancel_button.isVisible()
    qtbot.mouseClick(window.cancel_button, pg_left())
    assert not window.surface_runner.busy
    assert not window.cancel_button.isVisible()
    assert "cancelled" in window.status_label.text()
    qtbot.wait(300)
    # the old surface (or the coarse preview) is still shown; the app is usable
    assert window.scene.surface is not None
    assert window.scene.surface is old or window.scene.surface.surface.Z.shape[0] < 3000
    window.scene.set_landscape(resolution=128)
    qtbot.waitUntil(lambda: window.ready, timeout=20_000)
    assert window.scene.surface.surface.Z.shape == (128, 128)


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
