"""Presentation mode and tours in the window (Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QDockWidget

from lossviewer.scene.tour import parse_tour_text
from lossviewer.ui.offscreen import grab_window, image_to_array

pytestmark = pytest.mark.gl

TOUR = '''
[[scenes]]
caption = "Bowl and descent"
note = "A second line"
landscape = { function = "quadratic_bowl" }
runs = [ { optimizer = "sgd", lr = 0.1, start = [1.5, 1.0], steps = 40 } ]
camera = { elevation = 60, azimuth = 10 }
[[scenes]]
caption = "Himmelblau"
landscape = { function = "himmelblau" }
runs = []
seconds = 1
[[scenes]]
caption = "Booth"
landscape = { function = "booth" }
'''


def _action(window, text):
    from PySide6.QtGui import QAction

    return next(a for a in window.findChildren(QAction) if a.text().replace("&", "") == text)


def test_presentation_fills_the_screen_and_comes_back(window, qtbot):
    docks_before = {d.objectName() for d in window.findChildren(QDockWidget) if not d.isHidden()}
    _action(window, "Presentation mode").trigger()
    qtbot.waitUntil(lambda: window.isFullScreen(), timeout=5000)
    qtbot.wait(200)
    assert window.presentation.active
    assert not window.menuBar().isVisible() and not window.statusBar().isVisible()
    assert all(d.isHidden() for d in window.findChildren(QDockWidget))
    # the views have the whole screen
    assert window.centralWidget().geometry() == window.rect()
    assert window.surface_view._scale > 1 and window.contour_view._scale > 1
    _action(window, "Cancel computation").trigger()  # Esc leaves
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=5000)
    assert not window.presentation.active and window.menuBar().isVisible()
    assert {d.objectName() for d in window.findChildren(QDockWidget)
            if not d.isHidden()} == docks_before
    assert window.surface_view._scale == 1.0


def test_a_tour_shows_captions_and_moves_with_the_keys(window, qtbot):
    tour = parse_tour_text(TOUR, "test tour")
    window.presentation.play_tour(tour)
    qtbot.waitUntil(lambda: window.isFullScreen(), timeout=5000)
    qtbot.wait(1200)  # the camera glides to the scene's viewpoint
    caption = window.presentation.caption
    assert caption.isVisible() and "Bowl and descent" in caption.text()
    assert "1 / 3" in caption.text() and "A second line" in caption.text()
    assert window.scene.landscape_settings.function == "quadratic_bowl"
    cam = window.surface_view.camera_state()
    assert cam["elevation"] == pytest.approx(60) and cam["azimuth"] == pytest.approx(10)
    # the caption is on screen, over the views: dark box, bright letters
    qtbot.waitUntil(lambda: window.ready, timeout=30_000)
    shot = image_to_array(grab_window(window).toImage())
    top_left = caption.mapTo(window, QPoint(0, 0))
    box = shot[top_left.y() + 5: top_left.y() + caption.height() - 5,
               top_left.x() + 5: top_left.x() + caption.width() - 5, :3].astype(int)
    assert np.median(box.sum(axis=-1)) < 120  # mostly the dark caption background
    assert (box.min(axis=-1) > 200).mean() > 0.01  # white text
    _action(window, "Next tour scene").trigger()
    assert window.scene.landscape_settings.function == "himmelblau"
    assert window.scene.runs == {} and not window.loss_plot.isVisible()
    assert "2 / 3" in caption.text()
    # scene 2 advances by itself after a second
    qtbot.waitUntil(lambda: window.presentation.index == 2, timeout=5000)
    assert window.scene.landscape_settings.function == "booth"
    _action(window, "Previous tour scene").trigger()
    assert window.presentation.index == 1
    window.presentation.leave()
    assert not caption.isVisible() and window.presentation.tour is None
    assert window.loss_plot.isVisible()


def test_camera_bookmarks_and_orbit(window, qtbot):
    view = window.surface_view
    view.set_camera_state({"center": [0, 0, 2], "distance": 30, "elevation": 20,
                           "azimuth": 40})
    _action(window, "Store bookmark 3").trigger()
    view.set_camera_state({"center": [1, 1, 1], "distance": 50, "elevation": 70,
                           "azimuth": -100})
    _action(window, "Go to bookmark 3").trigger()
    qtbot.wait(1200)
    cam = view.camera_state()
    assert cam["distance"] == pytest.approx(30) and cam["azimuth"] == pytest.approx(40)
    assert cam["center"] == pytest.approx([0, 0, 2])
    _action(window, "Orbit the camera").trigger()
    qtbot.wait(500)
    assert view.camera_state()["azimuth"] > 40.5
    _action(window, "Orbit the camera").trigger()
    assert not window.presentation.orbiting


def test_bad_tour_file_is_explained(window, tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[[scenes]]\ncaption = 'x'\nruns = [{optimizer = 'nope'}]\n")
    assert not window.open_tour(str(p))
    assert "scene 1" in window.status_label.text() and "nope" in window.status_label.text()
    assert not window.presentation.active
