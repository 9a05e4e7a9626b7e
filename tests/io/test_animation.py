"""Animated GIF / MP4 export: frames, timing, colours, atomic writes, options."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from PIL import Image

from lossviewer.io import animation
from lossviewer.io.animation import (
    ANIMATION_FORMATS,
    MP4_HINT,
    AnimationWriter,
    check_animation_options,
    encode_frames,
    frame_steps,
)

W, H = 64, 48
BG = (30, 60, 120)
COLOURS = [(230, 40, 40), (255, 255, 255), (255, 140, 0), (0, 200, 90)]


def square_frame(i: int, w: int = W, h: int = H, alpha: bool = False) -> np.ndarray:
    """A background with a coloured 8x8 square whose position and colour depend on i."""
    f = np.empty((h, w, 4 if alpha else 3), np.uint8)
    f[..., :3] = BG
    if alpha:
        f[..., 3] = 255 - 10 * i  # alpha must be ignored
    x, y = 4 * i % (w - 8), 3 * i % (h - 8)
    f[y:y + 8, x:x + 8, :3] = COLOURS[i % len(COLOURS)]
    return f


def gradient_frame(i: int) -> np.ndarray:
    """A smooth two-colour ramp (like a colormap) with a thin red line at row 2 + 3i."""
    t = np.linspace(0.0, 1.0, W)[None, :, None]
    ramp = (1 - t) * np.array([68, 1, 84]) + t * np.array([253, 231, 37])
    f = np.broadcast_to(ramp, (H, W, 3)).astype(np.uint8)
    f[2 + 3 * i, :] = (255, 0, 0)
    return f


def read_gif(path) -> tuple[list[np.ndarray], list[int]]:
    frames, durations = [], []
    with Image.open(path) as im:
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
            frames.append(np.asarray(im.convert("RGB")).astype(int))
    return frames, durations


def leftovers(folder) -> list[str]:
    return [n for n in os.listdir(folder) if n.endswith(".tmp") or n.startswith(".")]


# -- frame_steps --------------------------------------------------------------------------


@pytest.mark.parametrize(("max_steps", "n"), [(200, 60), (10, 11), (7, 30), (0, 5), (1000, 2),
                                              (3, 4), (999_999, 10_000)])
def test_frame_steps_span_and_order(max_steps: int, n: int) -> None:
    s = frame_steps(max_steps, n)
    assert s.dtype.kind == "i" and s.shape == (n,)
    assert s[0] == 0 and s[-1] == max_steps
    assert np.all(np.diff(s) >= 0)
    # evenly spaced: within half a step of the exact position
    exact = np.linspace(0, max_steps, n)
    assert np.all(np.abs(s - exact) <= 0.5)


def test_frame_steps_exact_cases() -> None:
    np.testing.assert_array_equal(frame_steps(10, 11), np.arange(11))
    np.testing.assert_array_equal(frame_steps(4, 3), [0, 2, 4])
    np.testing.assert_array_equal(frame_steps(2, 5), [0, 1, 1, 2, 2])  # repeats, half up
    np.testing.assert_array_equal(frame_steps(50, 1), [50])  # one frame: the finished race


@pytest.mark.parametrize(("max_steps", "n", "word"), [(10, 0, "n_frames"), (10, -3, "n_frames"),
                                                      (-1, 5, "max_steps")])
def test_frame_steps_rejects(max_steps: int, n: int, word: str) -> None:
    with pytest.raises(ValueError, match=word) as e:
        frame_steps(max_steps, n)
    assert "\n" not in str(e.value)


# -- GIF ----------------------------------------------------------------------------------


def test_gif_frames_in_order_with_colours_and_timing(tmp_path) -> None:
    path = tmp_path / "race.gif"
    written = [square_frame(i) for i in range(12)]
    with AnimationWriter(path, 10, (W, H)) as w:
        for f in written:
            w.add(f)
    assert w.frames_written == 12 and w.closed
    frames, durations = read_gif(path)
    assert len(frames) == 12
    assert durations == [100] * 12
    with Image.open(path) as im:
        assert im.size == (W, H) and im.info.get("loop") == 0
    for got, want in zip(frames, written, strict=True):
        assert np.abs(got - want).max() <= 4  # flat colours: exact up to the palette
    assert leftovers(tmp_path) == []


def test_gif_rgba_input_drops_alpha(tmp_path) -> None:
    path = tmp_path / "rgba.gif"
    with AnimationWriter(path, 5, (W, H)) as w:
        for i in range(6):
            w.add(square_frame(i, alpha=True))
    frames, durations = read_gif(path)
    assert len(frames) == 6 and durations == [200] * 6
    for i, got in enumerate(frames):
        assert np.abs(got - square_frame(i)).max() <= 4


def test_gif_smooth_ramp_and_thin_line(tmp_path) -> None:
    path = tmp_path / "ramp.gif"
    written = [gradient_frame(i) for i in range(10)]
    with AnimationWriter(path, 20, (W, H)) as w:
        for f in written:
            w.add(f)
    frames, _ = read_gif(path)
    assert len(frames) == 10
    for i, (got, want) in enumerate(zip(frames, written, strict=True)):
        assert np.abs(got - want).max() <= 12  # the ramp, within palette tolerance
        np.testing.assert_array_equal(got[2 + 3 * i], np.tile([255, 0, 0], (W, 1)))


def test_gif_identical_frames_keep_count_and_duration(tmp_path) -> None:
    path = tmp_path / "still.gif"
    f = square_frame(3)
    with AnimationWriter(path, 25, (W, H)) as w:
        for _ in range(5):
            w.add(f)
    frames, durations = read_gif(path)
    assert len(frames) == 5 and durations == [40] * 5
    assert all(np.abs(g - f).max() <= 4 for g in frames)


def test_gif_delays_add_up_to_the_duration(tmp_path) -> None:
    path = tmp_path / "t.gif"
    encode_frames(path, (square_frame(i) for i in range(30)), 30, (W, H))
    _, durations = read_gif(path)
    assert len(durations) == 30
    assert all(abs(d - 1000 / 30) <= 10 for d in durations)  # GIF delays are in 10 ms units
    assert sum(durations) == 1000  # 30 frames at 30 fps: exactly one second


def test_gif_above_50_fps_plays_at_50(tmp_path) -> None:
    path = tmp_path / "fast.gif"
    encode_frames(path, (square_frame(i) for i in range(4)), 60, (W, H))
    _, durations = read_gif(path)
    assert durations == [20] * 4  # browsers slow delays under 20 ms down to 100 ms


def test_gif_many_colours_stay_close(tmp_path) -> None:
    """Noisy frames with far more than 255 colours still come back close on average."""
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.gif"
    written = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(3)]
    with AnimationWriter(path, 10, (W, H)) as w:
        for f in written:
            w.add(f)
    frames, _ = read_gif(path)
    assert len(frames) == 3
    for got, want in zip(frames, written, strict=True):
        assert np.abs(got - want).mean() < 20


# -- errors and atomic writes -------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.zeros((H, W + 1, 3), np.uint8),
                                 np.zeros((H + 1, W, 3), np.uint8),
                                 np.zeros((W, H, 3), np.uint8)])
def test_size_mismatch(tmp_path, bad: np.ndarray) -> None:
    with AnimationWriter(tmp_path / "x.gif", 10, (W, H)) as w:
        with pytest.raises(ValueError, match=f"animation is {W}x{H}"):
            w.add(bad)
        w.add(square_frame(0))
    assert (tmp_path / "x.gif").exists()


@pytest.mark.parametrize("bad", [np.zeros((H, W, 3), np.float32), np.zeros((H, W), np.uint8),
                                 np.zeros((H, W, 2), np.uint8)])
def test_bad_frame_type(tmp_path, bad: np.ndarray) -> None:
    with AnimationWriter(tmp_path / "x.gif", 10, (W, H)) as w:
        with pytest.raises(ValueError, match="uint8"):
            w.add(bad)
        w.abort()
    assert os.listdir(tmp_path) == []


def test_abort_leaves_existing_file(tmp_path) -> None:
    path = tmp_path / "keep.gif"
    path.write_bytes(b"earlier contents")
    w = AnimationWriter(path, 10, (W, H))
    for i in range(4):
        w.add(square_frame(i))
    w.abort()
    w.abort()  # a second abort is harmless
    assert path.read_bytes() == b"earlier contents"
    assert leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="closed"):
        w.add(square_frame(0))


def test_exception_in_with_block_leaves_existing_file(tmp_path) -> None:
    path = tmp_path / "keep.gif"
    path.write_bytes(b"earlier contents")
    with pytest.raises(RuntimeError, match="boom"):
        with AnimationWriter(path, 10, (W, H)) as w:
            w.add(square_frame(0))
            raise RuntimeError("boom")
    assert path.read_bytes() == b"earlier contents"
    assert leftovers(tmp_path) == []


def test_temp_file_is_hidden_next_to_target_until_close(tmp_path) -> None:
    path = tmp_path / "out.gif"
    path.write_bytes(b"old")
    w = AnimationWriter(path, 10, (W, H))
    w.add(square_frame(0))
    hidden = [n for n in os.listdir(tmp_path) if n != "out.gif"]
    assert len(hidden) == 1 and hidden[0].startswith(".out.gif.") and hidden[0].endswith(".tmp")
    assert path.read_bytes() == b"old"
    w.close()
    w.close()  # idempotent
    assert os.listdir(tmp_path) == ["out.gif"]
    with Image.open(path) as im:
        assert im.format == "GIF"


def test_close_without_frames(tmp_path) -> None:
    path = tmp_path / "empty.gif"
    with pytest.raises(ValueError, match="no frames"):
        with AnimationWriter(path, 10, (W, H)):
            pass
    assert os.listdir(tmp_path) == []


def test_missing_folder_fails_at_once(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        AnimationWriter(tmp_path / "nope" / "a.gif", 10, (W, H))


# -- encode_frames ------------------------------------------------------------------------


def test_encode_frames_progress(tmp_path) -> None:
    seen: list[int] = []
    assert encode_frames(tmp_path / "p.gif", (square_frame(i) for i in range(7)), 12, (W, H),
                         progress=seen.append, cancelled=lambda: False)
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    assert len(read_gif(tmp_path / "p.gif")[0]) == 7


def test_encode_frames_cancel(tmp_path) -> None:
    path = tmp_path / "c.gif"
    path.write_bytes(b"earlier contents")
    made: list[int] = []

    def frames():
        for i in range(20):
            made.append(i)
            yield square_frame(i)

    seen: list[int] = []
    ok = encode_frames(path, frames(), 10, (W, H), progress=seen.append,
                       cancelled=lambda: len(seen) >= 5)
    assert ok is False
    assert seen == [1, 2, 3, 4, 5] and len(made) == 6  # stops at the next poll
    assert path.read_bytes() == b"earlier contents"
    assert leftovers(tmp_path) == []


def test_encode_frames_cancel_after_last_frame(tmp_path) -> None:
    seen: list[int] = []
    ok = encode_frames(tmp_path / "c.gif", (square_frame(i) for i in range(3)), 10, (W, H),
                       progress=seen.append, cancelled=lambda: len(seen) == 3)
    assert ok is False and os.listdir(tmp_path) == []


def test_encode_frames_error_in_source(tmp_path) -> None:
    def frames():
        yield square_frame(0)
        raise OSError("render failed")

    with pytest.raises(OSError, match="render failed"):
        encode_frames(tmp_path / "e.gif", frames(), 10, (W, H))
    assert os.listdir(tmp_path) == []


# -- options ------------------------------------------------------------------------------


def test_formats() -> None:
    assert set(ANIMATION_FORMATS) == {".gif", ".mp4"}
    assert "pip install" in MP4_HINT and "lossviewer[video]" in MP4_HINT and "\n" not in MP4_HINT


def test_check_options_frame_count() -> None:
    assert check_animation_options("a.gif", 30, 10, (1280, 720)) == 300
    assert check_animation_options("a.GIF", 1, 0.2, (16, 16)) == 1  # at least one frame
    assert check_animation_options("a.gif", 24, 2.5, (3840, 3840)) == 60
    assert check_animation_options("a.gif", 50, 200, (640, 480)) == 10_000


@pytest.mark.parametrize(("args", "words"), [
    (("a.png", 30, 10, (640, 480)), [".png", ".gif", ".mp4"]),
    (("a", 30, 10, (640, 480)), ["no extension", ".gif"]),
    (("a.gif", 0, 10, (640, 480)), ["fps", "1", "60"]),
    (("a.gif", 61, 10, (640, 480)), ["fps", "1", "60"]),
    (("a.gif", float("nan"), 10, (640, 480)), ["fps"]),
    (("a.gif", 30, 0, (640, 480)), ["duration", "0", "600"]),
    (("a.gif", 30, 601, (640, 480)), ["duration", "600"]),
    (("a.gif", 30, -1, (640, 480)), ["duration"]),
    (("a.gif", 30, 10, (15, 480)), ["width", "16", "3840"]),
    (("a.gif", 30, 10, (640, 3841)), ["height", "16", "3840"]),
    (("a.gif", 30, 10, (640.5, 480)), ["width"]),
    (("a.gif", 30, 10, (640,)), ["size", "width, height"]),
    (("a.gif", 60, 200, (640, 480)), ["frames", "12000", "10000"]),
])
def test_check_options_messages(args, words: list[str]) -> None:
    with pytest.raises(ValueError) as e:
        check_animation_options(*args)
    msg = str(e.value)
    assert "\n" not in msg
    for word in words:
        assert word in msg


def test_writer_validates_too(tmp_path) -> None:
    with pytest.raises(ValueError, match="fps"):
        AnimationWriter(tmp_path / "a.gif", 0, (W, H))
    with pytest.raises(ValueError, match="width"):
        AnimationWriter(tmp_path / "a.gif", 10, (8, H))
    with pytest.raises(ValueError, match=".webm"):
        AnimationWriter(tmp_path / "a.webm", 10, (W, H))
    assert os.listdir(tmp_path) == []


def test_mp4_without_imageio_ffmpeg(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import now raises ImportError
    assert animation.mp4_available() is False
    with pytest.raises(ImportError) as e:
        check_animation_options(tmp_path / "a.mp4", 30, 10, (640, 480))
    assert str(e.value) == MP4_HINT
    with pytest.raises(ImportError, match="lossviewer\\[video\\]"):
        AnimationWriter(tmp_path / "a.mp4", 30, (640, 480))
    assert check_animation_options(tmp_path / "a.gif", 30, 10, (640, 480)) == 300
    assert os.listdir(tmp_path) == []


# -- MP4 ----------------------------------------------------------------------------------


def _ffmpeg():
    iio = pytest.importorskip("imageio_ffmpeg",
                              reason="MP4 export needs imageio-ffmpeg (the 'video' extra)")
    if not animation.mp4_available():
        pytest.skip("imageio-ffmpeg finds no ffmpeg executable")
    return iio


def solid_frames(n: int, w: int, h: int) -> list[np.ndarray]:
    """Solid frames cycling through clearly different colours (video codecs blur edges)."""
    palette = [(200, 40, 40), (40, 180, 60), (40, 60, 200), (230, 230, 230), (20, 20, 20)]
    return [np.full((h, w, 3), palette[i % len(palette)], np.uint8) for i in range(n)]


def test_mp4_odd_size_is_padded(tmp_path) -> None:
    iio = _ffmpeg()
    assert animation.mp4_available()
    w, h = 101, 75
    path = tmp_path / "race.mp4"
    written = solid_frames(10, w, h)
    assert check_animation_options(path, 10, 1.0, (w, h)) == 10
    with AnimationWriter(path, 10, (w, h)) as writer:
        for f in written:
            writer.add(f)
    assert leftovers(tmp_path) == []
    data = path.read_bytes()
    assert data[4:8] == b"ftyp"
    gen = iio.read_frames(str(path))
    meta = next(gen)
    assert tuple(meta["size"]) == (102, 76)  # padded to even dimensions
    got = [np.frombuffer(b, np.uint8).reshape(76, 102, 3).astype(int) for b in gen]
    assert len(got) == 10
    for g, want in zip(got, written, strict=True):
        assert np.abs(g.reshape(-1, 3).mean(axis=0) - want[0, 0]).max() < 8
        assert np.abs(g - want[0, 0]).max() < 24  # the padding repeats the edge colour


def test_mp4_rgba_and_moving_square(tmp_path) -> None:
    iio = _ffmpeg()
    w, h = 96, 64
    path = tmp_path / "sq.mp4"
    with AnimationWriter(path, 12, (w, h)) as writer:
        for i in range(8):
            writer.add(square_frame(i, w, h, alpha=True))
    gen = iio.read_frames(str(path))
    meta = next(gen)
    assert tuple(meta["size"]) == (w, h)
    got = [np.frombuffer(b, np.uint8).reshape(h, w, 3).astype(int) for b in gen]
    assert len(got) == 8
    for i, g in enumerate(got):
        x, y = 4 * i % (w - 8), 3 * i % (h - 8)
        centre = g[y + 2:y + 6, x + 2:x + 6].reshape(-1, 3).mean(axis=0)
        assert np.abs(centre - COLOURS[i % len(COLOURS)]).max() < 30  # the square is there
        assert np.abs(g[h - 4, w - 4] - BG).max() < 16  # and the background elsewhere


def test_mp4_abort_and_exception_leave_existing_file(tmp_path) -> None:
    _ffmpeg()
    path = tmp_path / "keep.mp4"
    path.write_bytes(b"earlier contents")
    w = AnimationWriter(path, 10, (W, H))
    for f in solid_frames(5, W, H):
        w.add(f)
    w.abort()
    assert path.read_bytes() == b"earlier contents"
    assert leftovers(tmp_path) == []
    with pytest.raises(RuntimeError, match="boom"):
        with AnimationWriter(path, 10, (W, H)) as w2:
            w2.add(solid_frames(1, W, H)[0])
            raise RuntimeError("boom")
    assert path.read_bytes() == b"earlier contents"
    assert leftovers(tmp_path) == []


def test_mp4_encode_frames_cancel(tmp_path) -> None:
    _ffmpeg()
    seen: list[int] = []
    ok = encode_frames(tmp_path / "c.mp4", iter(solid_frames(10, W, H)), 10, (W, H),
                       progress=seen.append, cancelled=lambda: len(seen) >= 3)
    assert ok is False and seen == [1, 2, 3]
    assert os.listdir(tmp_path) == []


def test_dropped_writer_cleans_up(tmp_path) -> None:
    w = AnimationWriter(tmp_path / "d.gif", 10, (W, H))
    w.add(square_frame(0))
    del w
    assert os.listdir(tmp_path) == []
