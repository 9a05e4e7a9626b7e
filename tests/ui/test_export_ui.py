"""Export from the window (Xvfb): the race as a GIF, images, data, and `lossviewer render`."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from lossviewer.ui.animation_export import AnimationOptions

pytestmark = pytest.mark.gl


def _wait_export(window, qtbot) -> tuple[bool, str]:
    qtbot.waitUntil(lambda: window.exports.exporter.done, timeout=60_000)
    return window.exports.last_result


def test_gif_of_the_race_has_every_frame_in_order(finished_window, qtbot, tmp_path):
    w = finished_window
    before = w.scene.playback
    path = tmp_path / "race.gif"
    assert w.exports.export_animation(AnimationOptions(str(path), "contour", 10, 1.2, 240, 160),
                                      show_progress=False)
    ok, message = _wait_export(w, qtbot)
    assert ok, message
    assert w.scene.playback == before  # the playhead is back where it was
    with Image.open(path) as im:
        assert im.n_frames == 12 and im.size == (240, 160)
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB"), dtype=np.int16))
    # consecutive frames differ (the markers move) and the first and last are far apart
    changes = [np.abs(b - a).sum(axis=-1).astype(bool).mean()
               for a, b in zip(frames[:-1], frames[1:], strict=True)]
    assert min(changes) > 0
    assert np.abs(frames[-1] - frames[0]).sum(axis=-1).astype(bool).mean() > max(changes[:1])
    # the last frame is the finished race: the map as the window draws it at the end
    from lossviewer.ui.image_export import render_2d
    from lossviewer.ui.offscreen import image_to_array

    end = image_to_array(render_2d(w.contour_view, 240, 160))[..., :3].astype(np.int16)
    assert np.abs(frames[-1] - end).mean() < 6


def test_cancel_leaves_no_file(window, qtbot, tmp_path):
    path = tmp_path / "cancelled.gif"
    path.write_bytes(b"old")
    assert window.exports.export_animation(
        AnimationOptions(str(path), "both", 30, 20.0, 320, 180), show_progress=False)
    qtbot.waitUntil(lambda: window.exports.exporter._next >= 3, timeout=30_000)
    window.exports.exporter.cancel()
    ok, message = _wait_export(window, qtbot)
    assert not ok and "cancelled" in message
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["cancelled.gif"]


def test_refused_options_are_explained(window, tmp_path):
    ex = window.exports
    assert not ex.export_animation(AnimationOptions(str(tmp_path / "a.avi")),
                                   show_progress=False)
    assert ".avi" in window.status_label.text()
    assert not ex.export_image(str(tmp_path / "v.svg"), "3d", 400, 300)
    assert "PNG" in window.status_label.text()
    assert not ex.export_image(str(tmp_path / "none" / "v.png"), "contour", 400, 300)


def test_images_and_data_from_the_window(finished_window, tmp_path):
    w = finished_window
    assert w.exports.export_image(str(tmp_path / "both.png"), "both", 800, 400)
    with Image.open(tmp_path / "both.png") as im:
        assert im.size == (800, 400)
        rgb = np.asarray(im.convert("RGB"))
    # both halves hold a picture (many colours), not an empty background
    for half in (rgb[:, :400], rgb[:, 400:]):
        assert len(np.unique(half.reshape(-1, 3), axis=0)) > 200
    assert w.exports.export_image(str(tmp_path / "map.pdf"), "contour", 600, 400)
    assert (tmp_path / "map.pdf").read_bytes().startswith(b"%PDF")
    assert w.exports.export_paths(str(tmp_path / "paths.npz"))
    with np.load(tmp_path / "paths.npz") as d:
        assert sum(k.endswith("_points") for k in d.files) == len(w.scene.runs)
    assert w.exports.export_surface(str(tmp_path / "surface.npz"))


def _render(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lossviewer", "render", *args],
                          capture_output=True, text=True, timeout=240, cwd=cwd)


def test_render_command_writes_images_and_videos(window, qtbot, tmp_path):
    window.scene.set_landscape(function="himmelblau")
    for rid in list(window.scene.runs)[1:]:
        window.scene.remove_run(rid)
    session = tmp_path / "s.lvs"
    assert window.session.save_as(str(session))
    out = _render(str(session), "--view", "3d", "--out", str(tmp_path / "s.png"),
                  "--size", "640x360", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    with Image.open(tmp_path / "s.png") as im:
        assert im.size == (640, 360)
        assert len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0)) > 500
    out = _render(str(session), "--out", str(tmp_path / "s.gif"), "--size", "200x120",
                  "--fps", "5", "--duration", "2", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "10 frames" in out.stdout
    with Image.open(tmp_path / "s.gif") as im:
        assert im.n_frames == 10


@pytest.mark.parametrize("args, message", [
    (["--out", "x.png", "--view", "sideways"], "--view: unknown view 'sideways'"),
    (["--out", "x.svg"], "--view: .svg is vector output"),
    (["--out", "x.gif", "--fps", "90"], "--fps: fps must be between 1 and 60"),
    (["--out", "x.png", "--size", "99999x2"], "--size: width must lie in"),
    (["--out", "x.bmp"], "--out: unknown extension .bmp"),
    (["--out", "x.png", "--duration", "3"], "--duration: is for videos"),
])
def test_render_command_refuses_bad_arguments_in_one_line(tmp_path, args, message):
    from lossviewer.io.session_file import save_session

    save_session(tmp_path / "s.lvs", {"landscape": {"function": "booth"}, "network": None})
    out = _render(str(tmp_path / "s.lvs"), *args, cwd=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr and out.stderr.count("\n") == 1, out.stderr
