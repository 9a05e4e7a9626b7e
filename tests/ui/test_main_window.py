"""The window end to end under Xvfb: frames checked by pixels, edits, errors."""

from __future__ import annotations

import numpy as np
import pytest

from lossviewer.ui import theme
from lossviewer.ui.offscreen import distinct_colors, image_to_array

pytestmark = pytest.mark.gl


def _hex_rgb(color: str) -> np.ndarray:
    c = color.lstrip("#")
    return np.array([int(c[i : i + 2], 16) for i in (0, 2, 4)], float)


def _count_near(img: np.ndarray, rgb: np.ndarray, tol: float = 40.0) -> int:
    d = np.linalg.norm(img[..., :3].astype(float) - rgb, axis=-1)
    return int(np.count_nonzero(d < tol))


def _is_shaded_colormap_pixel(pixel: np.ndarray, cmap: str) -> bool:
    """True if pixel ≈ k·c for some colormap colour c and a shading factor k in the
    range the hillshade shader produces (0.58..1)."""
    lut = theme.colormap_lut(cmap)[:, :3].astype(float) * 255
    p = pixel[:3].astype(float)
    k = np.clip((lut @ p) / np.maximum((lut * lut).sum(1), 1e-9), 0.55, 1.02)
    resid = np.linalg.norm(lut * k[:, None] - p, axis=1)
    return bool(resid.min() < 14)


@pytest.fixture
def window(finished_window):
    return finished_window


def test_default_scene(window):
    scene = window.scene
    assert scene.landscape_settings.function == "rosenbrock"
    assert scene.landscape_settings.zscale == "log"
    assert [r.optimizer for r in scene.runs.values()] == ["sgd", "sgd", "rmsprop", "adam"]
    starts = {r.start for r in scene.runs.values()}
    assert len(starts) == 1, "all runs start from the same point"
    assert len(scene.trajectories) == 4


def _hide_markers(window) -> None:
    """Path colours must come from the paths, not from the markers at their ends."""
    sv = window.surface_view
    for item in (sv._heads, sv._starts, sv._minima):
        item.setVisible(False)
    window.contour_view._markers.setVisible(False)
    for _curve, head in window.contour_view._paths.values():
        head.setVisible(False)
    window.contour_view._starts.setVisible(False)


def test_3d_frame_shows_surface_and_paths(window):
    _hide_markers(window)
    img = image_to_array(window.surface_view.grabFramebuffer())
    h, w = img.shape[:2]
    assert distinct_colors(img) > 200
    # the surface at the view centre is drawn in the colormap, not the background
    centre = img[h // 2, w // 2]
    assert np.linalg.norm(centre[:3] - _hex_rgb(theme.BACKGROUND)) > 30
    assert _is_shaded_colormap_pixel(centre, "viridis"), centre



def test_views_draw_each_path(window, qtbot):
    """Paths overlap in the valley, so each is checked alone: its colour is in the
    frame with it shown, and gone with it hidden (the markers are hidden too)."""
    _hide_markers(window)
    scene = window.scene
    ids = list(scene.runs)
    for rid in ids:
        for other in ids:
            scene.update_run(other, visible=other == rid)
        qtbot.wait(20)
        _hide_markers(window)
        color = _hex_rgb(scene.runs[rid].color)
        img = image_to_array(window.surface_view.grabFramebuffer())
        assert _count_near(img, color, 30) > 15, f"3D: {scene.runs[rid].name}"
        img = image_to_array(window.contour_view.grab().toImage())
        assert _count_near(img, color, 30) > 15, f"map: {scene.runs[rid].name}"
    scene.update_run(ids[-1], visible=False)
    qtbot.wait(20)
    img = image_to_array(window.surface_view.grabFramebuffer())
    assert _count_near(img, _hex_rgb(scene.runs[ids[-1]].color), 30) < 5


def test_contour_view_colorbar_and_paths(window):
    _hide_markers(window)
    img = image_to_array(window.contour_view.grab().toImage())
    lut = theme.colormap_lut("viridis")[:, :3] * 255
    # the colour bar spans the whole colormap: both ends are on screen
    assert _count_near(img, lut[0], 12) > 30
    assert _count_near(img, lut[-1], 12) > 30


def test_colormap_change_recolours_3d_view(window, qtbot):
    window.scene.set_landscape(colormap="magma")
    qtbot.wait(100)
    img = image_to_array(window.surface_view.grabFramebuffer())
    h, w = img.shape[:2]
    assert _is_shaded_colormap_pixel(img[h // 2, w // 2], "magma")


def test_bad_domain_is_refused_and_kept(window, qtbot):
    dock = window.landscape_dock
    before = window.scene.landscape_settings.xrange
    dock.x0.setValue(5.0)  # min above max
    assert window.scene.landscape_settings.xrange == before
    assert "min < max" in window.status_label.text()
    assert dock.x0.value() == before[0], "the widget shows the last good value again"


def test_bad_learning_rate_is_refused(window):
    rid = window.scene.selected
    old = window.scene.runs[rid].hyper["lr"]
    with pytest.raises(ValueError, match="lr"):
        window.scene.update_run(rid, hyper={"lr": -1.0})
    assert window.scene.runs[rid].hyper["lr"] == old


def test_hyperparameter_slider_updates_path(window, qtbot):
    scene = window.scene
    rid = scene.selected
    before = scene.trajectories[rid].points.copy()
    field = window.optimizer_dock._hyper_fields["lr"]
    field.slider.setValue(field.slider.value() - 60)  # a drag step
    qtbot.waitUntil(lambda: rid in scene.trajectories and window.ready, timeout=10_000)
    after = scene.trajectories[rid].points
    assert scene.runs[rid].hyper["lr"] != pytest.approx(1e-3)
    assert not np.array_equal(before, after)


def test_click_on_map_moves_start(window, qtbot):
    from PySide6.QtCore import QPoint, Qt

    view = window.contour_view
    vb = view.getPlotItem().getViewBox()
    target = vb.mapViewToScene(pg_point(0.5, 1.5))
    pos = view.mapFromScene(target)
    rid = window.scene.selected
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))
    qtbot.waitUntil(lambda: window.ready, timeout=10_000)
    x, y = window.scene.runs[rid].start
    assert x == pytest.approx(0.5, abs=0.05) and y == pytest.approx(1.5, abs=0.05)
    others = [r.start for k, r in window.scene.runs.items() if k != rid]
    assert all(s != (x, y) for s in others), "plain click moves only the selected run"


def pg_point(x, y):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def test_diverging_run_is_marked_and_drawn(window, qtbot):
    scene = window.scene
    rid = scene.add_run("sgd", name="too fast", hyper={"lr": 0.05})
    qtbot.waitUntil(lambda: rid in scene.trajectories and window.ready, timeout=10_000)
    traj = scene.trajectories[rid]
    assert traj.status[0] == "diverged"
    scene.set_playback(frame=scene.max_steps)
    qtbot.wait(50)
    img = image_to_array(window.surface_view.grabFramebuffer())
    assert distinct_colors(img) > 200  # still renders; no NaN reached the GL items


def test_switching_function_recomputes_everything(window, qtbot):
    scene = window.scene
    scene.set_landscape(function="himmelblau")
    qtbot.waitUntil(lambda: window.ready, timeout=20_000)
    assert scene.surface.surface.meta["landscape"] == "himmelblau"
    assert all(t.points[0, 0, 0] == scene.landscape.default_start[0]
               for t in scene.trajectories.values())


def test_too_large_resolution_is_refused_with_estimate(window):
    dock = window.landscape_dock
    dock.resolution.setValue(50_000)
    assert window.scene.landscape_settings.resolution == 256
    assert "GiB" in window.status_label.text()
    assert dock.resolution.value() == 256


def test_window_title_names_the_function(window, qtbot):
    # "[*]" is where Qt shows the unsaved-changes mark
    assert window.windowTitle() == "Untitled[*] — LossViewer — Rosenbrock"
    assert not window.isWindowModified()
    window.scene.set_landscape(function="beale")
    assert window.windowTitle() == "Untitled[*] — LossViewer — Beale"
    assert window.isWindowModified()


def test_typed_nonsense_is_refused_with_a_message(window, qtbot):
    from PySide6.QtCore import Qt

    field = window.optimizer_dock._hyper_fields["lr"]
    rid = window.scene.selected
    old = window.scene.runs[rid].hyper["lr"]
    box = field.box
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "-5")
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert window.scene.runs[rid].hyper["lr"] == old
    assert "is not a number in" in window.status_label.text()
    assert box.value() == old


def test_mesh_uses_our_normals_not_pyqtgraphs_python_loop(window, qtbot, monkeypatch):
    """pyqtgraph computes per-vertex normals in a Python loop (1 s at 512²) unless
    the MeshData already has them; if a pyqtgraph release stops honouring the
    preset normals, this fails instead of the app silently slowing down."""
    import pyqtgraph.opengl as gl

    def forbidden(*_a, **_k):
        raise AssertionError("pyqtgraph computed normals itself")

    monkeypatch.setattr(gl.MeshData, "faceNormals", forbidden)
    window.scene.set_landscape(resolution=200)
    qtbot.waitUntil(lambda: window.ready, timeout=20_000)
    window.surface_view.grabFramebuffer()  # parse and upload the mesh
    mesh = window.surface_view._mesh
    assert mesh.normals is not None and mesh.normals.shape == (200 * 200, 3)
    assert np.allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-5)


def test_every_function_computes_and_draws(window, qtbot):
    """All landscapes, each with the four default runs (some of which diverge on
    some functions): nothing raises in a slot, every frame has real content."""
    from lossviewer.core.functions import LANDSCAPES

    scene = window.scene
    scene.set_landscape(resolution=96)
    for name in LANDSCAPES:
        for zscale in ("log", "linear"):
            scene.set_landscape(function=name, zscale=zscale)
            qtbot.waitUntil(lambda: window.ready, timeout=20_000)
            scene.set_playback(frame=scene.max_steps, playing=False)
            qtbot.wait(10)
            img = image_to_array(window.surface_view.grabFramebuffer())
            assert distinct_colors(img) > 100, (name, zscale)
            for data in scene.surface.scales.values():
                assert np.isfinite(data.mesh_Z).all() and np.isfinite(data.image).all()


def test_map_shows_the_whole_domain_with_equal_scales(window, qtbot):
    """A wide domain (x over 6, y over 4) in a tall pane: nothing of it is cropped."""
    window.scene.set_landscape(function="six_hump_camel")
    qtbot.waitUntil(lambda: window.ready, timeout=20_000)
    (vx0, vx1), (vy0, vy1) = window.contour_view.getPlotItem().getViewBox().viewRange()
    assert vx0 <= -3 + 1e-6 and vx1 >= 3 - 1e-6 and vy0 <= -2 + 1e-6 and vy1 >= 2 - 1e-6
    vb = window.contour_view.getPlotItem().getViewBox()
    w, h = vb.width(), vb.height()
    assert (vx1 - vx0) / w == pytest.approx((vy1 - vy0) / h, rel=0.02)
