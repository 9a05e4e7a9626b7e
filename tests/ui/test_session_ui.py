"""Sessions in the window (Xvfb): save and reopen the same picture, broken files, unsaved
changes, network and model-file sessions."""

from __future__ import annotations

import numpy as np
import pytest

from lossviewer.compute.network_jobs import cached_network_surface
from lossviewer.scene.session_state import scene_state
from lossviewer.ui.offscreen import image_to_array

pytestmark = pytest.mark.gl

CAMERA = {"center": [0.5, -1.0, 3.0], "distance": 38.0, "elevation": 42.0, "azimuth": 25.0,
          "fov": 60.0}


def _settle(window, qtbot, timeout: int = 60_000) -> None:
    qtbot.wait(200)  # debounce timers
    qtbot.waitUntil(lambda: window.ready, timeout=timeout)
    qtbot.wait(100)


def _state(window) -> dict:
    return scene_state(window.scene, view={"camera": window.surface_view.camera_state()})


def _frame(window) -> np.ndarray:
    # everything drawn from the scene now, not when the redraw throttles fire (a loaded
    # machine can leave one pending past the settle time)
    window._draw_surface()
    window._draw_runs()
    window._draw_frame()
    window.analysis.redraw()
    return image_to_array(window.surface_view.grabFramebuffer())


def test_save_then_open_gives_the_same_scene_and_the_same_pixels(window, qtbot, tmp_path):
    s = window.scene
    s.set_landscape(function="himmelblau")
    s.set_landscape(colormap="magma", resolution=128)
    s.update_run(next(iter(s.runs)), hyper={"lr": 0.003}, start=(-1.0, 1.5))
    s.set_playback(frame=150, playing=False)
    window.surface_view.set_camera_state(CAMERA)
    window.presentation.bookmarks = {2: {**CAMERA, "azimuth": 90.0}}
    _settle(window, qtbot)
    assert window.isWindowModified() and "Untitled" in window.windowTitle()
    saved, picture = _state(window), _frame(window)
    path = tmp_path / "talk.lvs"
    assert window.session.save_as(str(path))
    assert not window.isWindowModified() and window.windowTitle().startswith("talk.lvs")

    # change everything the session holds
    s.set_landscape(function="rastrigin")
    s.set_landscape(colormap="viridis")
    s.remove_run(next(iter(s.runs)))
    s.set_playback(frame=10)
    window.surface_view.reset_camera()
    window.presentation.bookmarks = {}
    _settle(window, qtbot)
    assert _state(window) != saved

    assert window.session.open(str(path))
    _settle(window, qtbot)
    assert _state(window) == saved
    assert window.presentation.bookmarks == {2: {**CAMERA, "azimuth": 90.0}}
    again = _frame(window)
    assert again.shape == picture.shape
    differing = np.any(again != picture, axis=-1).mean()
    assert differing < 1e-3, f"{differing:.2%} of the pixels differ"
    assert not window.isWindowModified()


@pytest.mark.parametrize("content, message", [
    (b"not a session at all", "not a zip archive"),
    (None, "saved by LossViewer 99.0"),
])
def test_a_broken_session_is_explained_and_the_scene_is_untouched(window, qtbot, tmp_path,
                                                                   content, message):
    import json
    import zipfile

    path = tmp_path / "bad.lvs"
    if content is None:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("session.json", json.dumps({"format": "lossviewer-session",
                                                    "version": 99, "app": "99.0"}))
    else:
        path.write_bytes(content)
    before = _state(window)
    assert not window.session.open(str(path))
    assert message in window.status_label.text()
    assert _state(window) == before
    assert window.session.path is None


def test_unsaved_changes_are_offered_for_saving_on_close(window, qtbot, tmp_path):
    answers = []
    window.session.confirm_discard = lambda: answers.pop(0)
    assert not window.session.dirty
    window.scene.set_landscape(colormap="inferno")
    assert window.session.dirty and window.isWindowModified()
    answers.append("cancel")
    window.close()
    assert window.isVisible()  # Cancel keeps the window and the work
    path = tmp_path / "kept.lvs"
    window.session.save_as(str(path))
    assert not window.session.dirty
    window.scene.set_playback(frame=3)  # moving the playhead is not an edit
    assert not window.session.dirty
    window.scene.set_playback(speed=60.0)
    assert window.session.dirty
    answers.append("discard")
    window.close()
    assert not window.isVisible() and answers == []


def test_dropping_a_session_opens_it(window, qtbot, tmp_path):
    window.scene.set_landscape(function="beale")
    path = tmp_path / "dropped.lvs"
    window.session.save_as(str(path))
    window.scene.set_landscape(function="booth")
    assert window.open_path(str(path))
    assert window.scene.landscape_settings.function == "beale"


def test_recent_sessions_are_remembered(window, qtbot, tmp_path):
    from PySide6.QtWidgets import QMenu

    window.session.interactive = True  # remembers in QSettings (a test folder)
    try:
        for name in ("one.lvs", "two.lvs"):
            assert window.session.save_as(str(tmp_path / name))
        recent = window.session.recent()
        assert recent[:2] == [str(tmp_path / "two.lvs"), str(tmp_path / "one.lvs")]
        menu = QMenu()
        window.session.fill_recent_menu(menu)
        assert [a.text() for a in menu.actions()][:2] == ["&1 two.lvs", "&2 one.lvs"]
    finally:
        window.session.interactive = False


SMALL = {"samples": 200, "steps": 60, "hidden": (8,)}


def test_a_network_session_reopens_without_training_again(window, qtbot, tmp_path):
    window.scene.set_network_settings(**SMALL)
    window.network_dock.compute_button.click()
    qtbot.waitUntil(lambda: window.scene.landscape_settings.is_network, timeout=60_000)
    _settle(window, qtbot)
    window.scene.set_playback(playing=False, frame=25)
    s = window.scene.landscape_settings
    values = window.scene.surface.surface.Z.copy()
    ck = s.network.run.checkpoints.copy()
    saved = _state(window)
    path = tmp_path / "net.lvs"
    assert window.session.save_as(str(path))
    window.scene.set_landscape(function="himmelblau")
    _settle(window, qtbot)

    from lossviewer.compute import network_jobs

    calls = []
    real = network_jobs.network_job
    network_jobs.network_job = lambda *a, **k: calls.append(a) or real(*a, **k)
    try:
        assert window.session.open(str(path))
        _settle(window, qtbot)
    finally:
        network_jobs.network_job = real
    assert calls == []  # nothing was trained
    s = window.scene.landscape_settings
    assert s.is_network and _state(window) == saved
    np.testing.assert_array_equal(window.scene.surface.surface.Z, values)
    np.testing.assert_array_equal(s.network.run.checkpoints, ck)
    assert cached_network_surface(s.network, s.xrange, s.yrange, s.resolution) is not None


TINY_MODEL = '''
import torch
def data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 2, generator=g)
    return X, (X[:, 0] > 0).long()
def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
'''


def test_a_model_file_session_asks_before_running_the_file(window, qtbot, tmp_path):
    pytest.importorskip("torch", reason="model files need the torch extra")
    for rid in window.scene.runs:
        window.scene.update_run(rid, steps=20)
    window.scene.set_landscape(resolution=12)
    script = tmp_path / "tiny_model.py"
    script.write_text(TINY_MODEL)
    assert window.network.open_model(str(script))
    qtbot.waitUntil(lambda: window.scene.landscape_settings.is_network, timeout=120_000)
    _settle(window, qtbot, timeout=180_000)
    values = window.scene.surface.surface.Z.copy()
    path = tmp_path / "model.lvs"
    assert window.session.save_as(str(path))
    window.scene.set_landscape(function="himmelblau")
    _settle(window, qtbot)

    asked = []
    window.session.confirm_run_model = lambda p: asked.append(p) or False
    assert window.session.open(str(path))
    _settle(window, qtbot)
    assert asked == [str(script)]
    sl = window.scene.landscape_settings.network
    assert sl.dataset.name == "stored-file"  # the stored grid, no code ran
    np.testing.assert_allclose(window.scene.surface.surface.Z, values)

    window.session.confirm_run_model = lambda p: asked.append(p) or True
    assert window.session.open(str(path))
    assert window.network.model_runner.busy or window.network.busy
    window.cancel_jobs()


def test_computed_results_come_back_without_computing_again(window, qtbot, tmp_path):
    s = window.scene
    s.set_landscape(function="himmelblau")
    s.analysis.set(basins=True, basin_grid=24, basin_steps=80)
    _settle(window, qtbot)
    basins = s.analysis.basins
    assert basins is not None and s.analysis.critical is not None
    paths = {rid: t.points.copy() for rid, t in s.trajectories.items()}
    path = tmp_path / "with-results.lvs"
    assert window.session.save_as(str(path))
    s.set_landscape(function="booth")
    _settle(window, qtbot)

    submitted = []
    for runner in (window.paths_runner, *window.analysis.runners):
        runner.submit = lambda *a, _r=runner, **k: submitted.append(_r.name)
    assert window.session.open(str(path))
    # right after opening, before any job could run: everything is there
    assert s.stale_runs() == []
    np.testing.assert_array_equal(
        [t.points for t in s.trajectories.values()], list(paths.values()))
    assert s.analysis.basins_key == s.basins_key()
    np.testing.assert_array_equal(s.analysis.basins.labels, basins.labels)
    assert s.analysis.critical_key == s.critical_key()
    qtbot.wait(600)  # the debounced requests fire: nothing is computed again
    assert "paths" not in submitted and not any(n.startswith("basin") for n in submitted)

    window.session.set_embed_results(False)
    assert window.session.save_as(str(tmp_path / "without.lvs"))
    from lossviewer.io.session_file import read_session

    assert read_session(tmp_path / "without.lvs").results is None
    assert read_session(path).results is not None
