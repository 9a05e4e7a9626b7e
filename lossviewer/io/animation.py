"""Animated GIF and MP4 export of rendered frames (the optimizer race), Qt-free.

Frames are (H, W, 3) or (H, W, 4) uint8 arrays (alpha is dropped). Writing is
atomic: frames are encoded into a hidden temporary file next to the target
(``.NAME.<uuid>.tmp``), which replaces the target only when the writer closes
successfully; an abort, an exception or a cancel removes it and leaves any
earlier file at that path untouched. A writer keeps no global state, so
several can run at once on worker threads (one thread per writer).

GIF (Pillow): frames are streamed to disk as they arrive, so memory stays at
about two frames whatever the length, and the time goes into ``add`` (where a
progress bar sees it) rather than into ``close``. All frames share one global
palette of up to 255 colours: 192 come from the first frame (median cut, no
dithering: smooth colormaps band cleanly instead of shimmering), and the rest
are added as later frames show colours the palette represents poorly (a path
drawn in a new colour). An entry never changes once assigned and pixels that
stay the same keep their index, so the still surface does not flicker between
frames. Each frame stores only the rectangle that changed since the previous
one; identical frames are kept (as a one-pixel update), so a GIF has exactly
as many frames as were added. Frame delays are in 10 ms
units: delays are spread so that the total duration matches ``n / fps``
(30 fps gives 30, 40, 30, ... ms), and since browsers slow delays under 20 ms
down to 100 ms, every delay is at least 20 ms: above 50 fps a GIF plays at
50 fps.

MP4 (H.264, yuv420p, BT.709, ``+faststart``) goes through imageio-ffmpeg, an
optional dependency (``pip install "lossviewer[video]"``). yuv420p needs even
dimensions: an odd width or height is padded by one pixel by repeating the
last column or row, so such a video is one pixel wider or taller than asked.
"""

from __future__ import annotations

import contextlib
import io
import math
import numbers
import os
import sys
import uuid
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lossviewer.io.surface_npz import StrPath

ANIMATION_FORMATS = {".gif": "Animated GIF", ".mp4": "MP4 video (H.264)"}
MP4_HINT = ('MP4 export needs imageio-ffmpeg: pip install "lossviewer[video]" '
            '(or export an animated GIF).')
if getattr(sys, "frozen", False):  # an installed bundle: pip cannot add to it
    MP4_HINT = ("MP4 export is not part of this installer (it would add ffmpeg, ~70 MB): "
                'export an animated GIF, or install LossViewer with pip and its "video" '
                "extra.")

FPS_RANGE = (1, 60)
MAX_DURATION_S = 600.0
SIZE_RANGE = (16, 3840)
MAX_FRAMES = 10_000

_GIF_COLOURS = 255  # index 255 stays free (room for a transparent index later)
_GIF_BASE_COLOURS = 192  # median cut of the first frame
_GIF_RESERVE = 32  # entries kept for colours that show up after the first frame
_GIF_TOLERANCE = 24  # a pixel further than this (max channel error) asks for a colour
_GIF_MIN_PIXELS_PER_COLOUR = 16  # a new colour must serve at least this many pixels
_GIF_MAX_NEW_PER_ROUND = 16
_GIF_MAX_SAMPLE = 65536  # poor pixels looked at per round
_MP4_CRF = 18  # x264 constant rate factor: visually lossless for plots, small files


# -- which step each frame shows ----------------------------------------------------------


def frame_steps(max_steps: int, n_frames: int) -> NDArray[np.int64]:
    """The optimizer step each of ``n_frames`` frames shows: evenly spaced in [0, max_steps].

    The first frame shows step 0 and the last ``max_steps`` (rounded half up in
    between, so the result is non-decreasing); with more frames than steps,
    steps repeat. A single frame shows the finished race (``max_steps``).
    """
    max_steps, n_frames = int(max_steps), int(n_frames)
    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}")
    if max_steps < 0:
        raise ValueError(f"max_steps must be at least 0, got {max_steps}")
    if n_frames == 1:
        return np.array([max_steps], dtype=np.int64)
    i = np.arange(n_frames, dtype=np.int64)
    d = n_frames - 1
    # exact integer round-half-up of i * max_steps / d
    return (2 * i * max_steps + d) // (2 * d)


# -- options ------------------------------------------------------------------------------


def mp4_available() -> bool:
    """Whether imageio-ffmpeg is installed and finds an ffmpeg executable."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return False
    try:
        imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # RuntimeError when no binary is bundled or found
        return False
    return True


def _ext(path: StrPath) -> str:
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in ANIMATION_FORMATS:
        allowed = ", ".join(f"{e} ({name})" for e, name in ANIMATION_FORMATS.items())
        raise ValueError(f"unknown animation format {ext or '(no extension)'!r}; use {allowed}")
    return ext


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_fps(fps: float) -> float:
    lo, hi = FPS_RANGE
    if not _is_real(fps) or not math.isfinite(fps) or not lo <= fps <= hi:
        raise ValueError(f"fps must be between {lo} and {hi} frames per second, got {fps!r}")
    return float(fps)


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    lo, hi = SIZE_RANGE
    try:
        w, h = size
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height) in pixels, got {size!r}") from None
    for name, v in (("width", w), ("height", h)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or not lo <= v <= hi:
            raise ValueError(f"size: {name} must be a whole number of pixels between {lo} "
                             f"and {hi}, got {v!r}")
    return int(w), int(h)


def _require_mp4() -> None:
    if not mp4_available():
        raise ImportError(MP4_HINT)


def check_animation_options(path: StrPath, fps: float, duration_s: float,
                            size: tuple[int, int]) -> int:
    """Validate export options and return the number of frames, ``round(fps * duration_s)``.

    ValueError names the offending option and its allowed range; ImportError
    (with MP4_HINT) when an .mp4 is asked for and imageio-ffmpeg is missing.
    """
    ext = _ext(path)
    fps = _check_fps(fps)
    if not _is_real(duration_s) or not math.isfinite(duration_s) \
            or not 0 < duration_s <= MAX_DURATION_S:
        raise ValueError(f"duration must be more than 0 and at most {MAX_DURATION_S:g} "
                         f"seconds, got {duration_s!r}")
    _check_size(size)
    n = max(1, math.floor(fps * duration_s + 0.5))
    if n > MAX_FRAMES:
        raise ValueError(f"too many frames: fps x duration = {n}, at most {MAX_FRAMES}; "
                         "lower the fps or the duration")
    if ext == ".mp4":
        _require_mp4()
    return n


# -- the writer ---------------------------------------------------------------------------


class AnimationWriter:
    """Encode frames one by one into an animated GIF or an MP4 (format from the extension).

    Use as a context manager: a clean exit closes (and publishes) the file, an
    exception aborts. ``size`` is (width, height); every frame must be (H, W, 3)
    or (H, W, 4) uint8 of that size. One writer belongs to one thread.
    """

    def __init__(self, path: StrPath, fps: float, size: tuple[int, int]) -> None:
        ext = _ext(path)
        self.fps = _check_fps(fps)
        self.size = _check_size(size)
        if ext == ".mp4":
            _require_mp4()
        self.path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(self.path))
        self._tmp = os.path.join(folder,
                                 f".{os.path.basename(self.path)}.{uuid.uuid4().hex}.tmp")
        self._n = 0
        self._done = False
        # created here (O_EXCL, umask-honouring 0o666) so a bad folder fails now, not later
        fd = os.open(self._tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL
                     | getattr(os, "O_BINARY", 0), 0o666)
        try:
            if ext == ".gif":
                fh = os.fdopen(fd, "w+b")
                try:
                    self._enc: _GifEncoder | _Mp4Encoder = _GifEncoder(fh, self.size, self.fps)
                except BaseException:
                    fh.close()
                    raise
            else:
                os.close(fd)
                self._enc = _Mp4Encoder(self._tmp, self.size, self.fps)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            raise

    @property
    def frames_written(self) -> int:
        """How many frames ``add`` has accepted so far."""
        return self._n

    @property
    def closed(self) -> bool:
        """True after close() or abort() (or a failed close)."""
        return self._done

    def add(self, frame: NDArray[np.uint8]) -> None:
        """Append one frame: (H, W, 3) RGB or (H, W, 4) RGBA uint8, with (W, H) == size."""
        if self._done:
            raise ValueError("the animation writer is already closed")
        a = np.asarray(frame)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] not in (3, 4):
            raise ValueError("frame must be an (H, W, 3) or (H, W, 4) uint8 array, got "
                             f"{a.dtype} array of shape {a.shape}")
        if (a.shape[1], a.shape[0]) != self.size:
            raise ValueError(f"frame is {a.shape[1]}x{a.shape[0]} pixels, but the animation "
                             f"is {self.size[0]}x{self.size[1]}")
        self._enc.add(np.ascontiguousarray(a[:, :, :3]))
        self._n += 1

    def close(self) -> None:
        """Finish the file and move it onto ``path``; a second call does nothing.

        Closing a writer that got no frames raises ValueError and writes nothing.
        """
        if self._done:
            return
        if self._n == 0:
            self.abort()
            raise ValueError("no frames were added; nothing was written")
        try:
            self._enc.finish()
            with open(self._tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(self._tmp, self.path)
        except BaseException:
            self._discard()
            raise
        self._done = True

    def abort(self) -> None:
        """Discard what was written; any earlier file at ``path`` stays as it was."""
        if not self._done:
            self._discard()

    def _discard(self) -> None:
        self._done = True
        try:
            self._enc.discard()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)

    def __del__(self) -> None:
        # a writer dropped without close() or abort() leaves no hidden temporary behind
        if not getattr(self, "_done", True) and hasattr(self, "_enc"):
            with contextlib.suppress(Exception):
                self._discard()

    def __enter__(self) -> AnimationWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def encode_frames(path: StrPath, frames: Iterable[NDArray[np.uint8]], fps: float,
                  size: tuple[int, int], progress: Callable[[int], None] | None = None,
                  cancelled: Callable[[], bool] | None = None) -> bool:
    """Write all ``frames`` to ``path``; True when written, False when cancelled.

    ``progress(k)`` is called after each frame with the number of frames done so
    far (1, 2, ...). ``cancelled()`` is polled before each frame and before the
    file is published; once it returns True nothing is written and any earlier
    file at ``path`` is left untouched.
    """
    with AnimationWriter(path, fps, size) as writer:
        for frame in frames:
            if cancelled is not None and cancelled():
                writer.abort()
                return False
            writer.add(frame)
            if progress is not None:
                progress(writer.frames_written)
        if cancelled is not None and cancelled():
            writer.abort()
            return False
    return True


# -- GIF ----------------------------------------------------------------------------------


class _GifEncoder:
    """A streaming GIF89a writer with one global palette that only ever grows.

    The 256-entry global colour table is written as a placeholder and filled in
    by ``finish`` (the file is a seekable temporary). Only the rectangle whose
    pixels changed since the previous frame is mapped to the palette and
    written, and pixels that did not change keep their palette index, so still
    parts of the picture never flicker. Pillow does the LZW coding.
    """

    def __init__(self, fh: io.BufferedRandom, size: tuple[int, int], fps: float) -> None:
        self._fh = fh
        self._w, self._h = size
        self._fps = fps
        self._palette = np.zeros((0, 3), np.uint8)
        self._prev_rgb: NDArray[np.uint8] | None = None
        self._prev_index: NDArray[np.uint8] | None = None
        self._n = 0
        fh.write(b"GIF89a" + _u16(self._w) + _u16(self._h)
                 + bytes([0xF7, 0, 0])  # global table of 256 colours, 8-bit, bg 0, aspect 0
                 + bytes(768)  # the global colour table, filled in by finish()
                 + b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + _u16(0) + b"\x00")  # loop forever

    def add(self, rgb: NDArray[np.uint8]) -> None:
        if self._prev_rgb is None or self._prev_index is None:
            self._start_palette(rgb)
            index = self._map(rgb)
            x0, y0, x1, y1 = 0, 0, self._w, self._h
            self._prev_index = index
            block = index
        else:
            box = _changed_box(rgb, self._prev_rgb)
            if box is None:  # identical frame: redraw one pixel so the frame and its delay stay
                x0, y0, x1, y1 = 0, 0, 1, 1
                block = self._prev_index[:1, :1]
            else:
                x0, y0, x1, y1 = box
                crop = rgb[y0:y1, x0:x1]
                self._grow_palette(crop, _GIF_COLOURS)
                block = self._map(crop)
                old = self._prev_index[y0:y1, x0:x1]
                same = (crop == self._prev_rgb[y0:y1, x0:x1]).all(axis=2)
                block[same] = old[same]
                old[...] = block  # the running picture, as palette indices
        self._fh.write(b"\x21\xf9\x04" + bytes([1 << 2])  # disposal 1: leave the frame in place
                       + _u16(self._delay_cs(self._n)) + b"\x00\x00"
                       + b"\x2c" + _u16(x0) + _u16(y0) + _u16(x1 - x0) + _u16(y1 - y0) + b"\x00"
                       + _lzw_image_data(block))
        self._prev_rgb = rgb.copy()
        self._n += 1

    def finish(self) -> None:
        table = np.zeros((256, 3), np.uint8)
        table[: len(self._palette)] = self._palette
        self._fh.write(b"\x3b")  # trailer
        self._fh.seek(13)
        self._fh.write(table.tobytes())
        self._fh.flush()
        self._fh.close()

    def discard(self) -> None:
        self._fh.close()

    def _delay_cs(self, i: int) -> int:
        # centiseconds, spread so that frame i ends at round(100 * (i + 1) / fps); never under 2
        end = math.floor(100 * (i + 1) / self._fps + 0.5)
        start = math.floor(100 * i / self._fps + 0.5)
        return max(2, end - start)

    def _start_palette(self, rgb: NDArray[np.uint8]) -> None:
        from PIL import Image

        base = Image.fromarray(rgb).quantize(colors=_GIF_BASE_COLOURS,
                                             method=Image.Quantize.MEDIANCUT,
                                             dither=Image.Dither.NONE)
        self._palette = _used_colours(base)
        for _ in range(_GIF_COLOURS):  # refine; stops long before, when nothing is added
            if not self._grow_palette(rgb, _GIF_COLOURS - _GIF_RESERVE):
                break

    def _grow_palette(self, rgb: NDArray[np.uint8], limit: int) -> bool:
        """Add colours for pixels the palette represents poorly, up to ``limit`` in all.

        Candidates are a median cut of the poor pixels; a candidate is kept only
        if it brings enough of them within tolerance (a thin path in a new colour
        does; a scatter of anti-aliased edge blends does not). False when nothing
        was added.
        """
        from PIL import Image, ImageChops

        spare = limit - len(self._palette)
        if spare <= 0:
            return False
        img = Image.fromarray(np.ascontiguousarray(rgb))
        diff = ImageChops.difference(img, self._quantize(img).convert("RGB"))
        if max(hi for _, hi in diff.getextrema()) <= _GIF_TOLERANCE:
            return False
        d = np.asarray(diff)
        poor = (d[..., 0] > _GIF_TOLERANCE) | (d[..., 1] > _GIF_TOLERANCE) \
            | (d[..., 2] > _GIF_TOLERANCE)
        pts = rgb[poor]
        if len(pts) > _GIF_MAX_SAMPLE:
            pts = pts[:: -(-len(pts) // _GIF_MAX_SAMPLE)]
        k = min(spare, _GIF_MAX_NEW_PER_ROUND, max(1, len(pts) // _GIF_MIN_PIXELS_PER_COLOUR))
        cand = _used_colours(Image.fromarray(pts.reshape(1, -1, 3)).quantize(
            colors=k, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
        near = np.abs(pts[:, None, :].astype(np.int16) - cand[None]).max(axis=2) \
            <= _GIF_TOLERANCE
        cand = cand[near.sum(axis=0) >= _GIF_MIN_PIXELS_PER_COLOUR]
        if len(cand) == 0:
            return False
        self._palette = np.concatenate([self._palette, cand])
        return True

    def _quantize(self, img: Any) -> Any:
        """``img`` as a 'P' image: nearest palette entry per pixel, no dithering."""
        from PIL import Image

        holder = Image.new("P", (1, 1))
        holder.putpalette(self._palette.tobytes())  # exactly len(palette) entries
        return img.quantize(palette=holder, dither=Image.Dither.NONE)

    def _map(self, rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Palette indices for an RGB array."""
        from PIL import Image

        return np.array(self._quantize(Image.fromarray(np.ascontiguousarray(rgb))))


def _used_colours(img: Any) -> NDArray[np.uint8]:
    """The palette entries a 'P' image uses, in index order."""
    used = np.flatnonzero(np.bincount(np.asarray(img).ravel(), minlength=256))
    pal = np.frombuffer(bytes(img.getpalette() or b""), np.uint8).reshape(-1, 3)
    return pal[used].copy()


def _changed_box(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the pixels where RGB frames a and b differ; None when equal."""
    h, w, _ = a.shape
    rows = np.flatnonzero((a != b).reshape(h, w * 3).any(axis=1))
    if rows.size == 0:
        return None
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    band = (a[y0:y1] != b[y0:y1]).any(axis=0).reshape(w, 3).any(axis=1)
    cols = np.flatnonzero(band)
    return int(cols[0]), y0, int(cols[-1]) + 1, y1


def _u16(v: int) -> bytes:
    return int(v).to_bytes(2, "little")


def _lzw_image_data(index: NDArray[np.uint8]) -> bytes:
    """The LZW image data (code size byte, sub-blocks, terminator) for palette indices.

    Pillow codes it: save the indices as a one-frame greyscale GIF (no palette
    optimisation, no interlace, so the values stay as given) and cut the image
    data out of that file, following the GIF89a block layout.
    """
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(index)).save(buf, format="GIF", optimize=False,
                                                      interlace=False)
    data = buf.getvalue()
    pos = 13
    if data[10] & 0x80:  # global colour table
        pos += 3 << ((data[10] & 7) + 1)
    while data[pos] == 0x21:  # extensions: label, then sub-blocks
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    if data[pos] != 0x2C:
        raise RuntimeError("unexpected GIF layout from Pillow")
    flags = data[pos + 9]
    if flags & 0x40:
        raise RuntimeError("Pillow wrote an interlaced frame")
    pos += 10
    if flags & 0x80:  # local colour table
        pos += 3 << ((flags & 7) + 1)
    start = pos
    pos += 1  # LZW minimum code size
    while data[pos]:
        pos += data[pos] + 1
    return data[start : pos + 1]


# -- MP4 ----------------------------------------------------------------------------------


class _Mp4Encoder:
    """H.264 through imageio-ffmpeg's write_frames (an ffmpeg child process per writer)."""

    def __init__(self, tmp: str, size: tuple[int, int], fps: float) -> None:
        import imageio_ffmpeg

        self._tmp = tmp
        w, h = size
        self._pad = (h % 2, w % 2)
        self._gen = imageio_ffmpeg.write_frames(
            tmp, (w + w % 2, h + h % 2), pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
            fps=fps, quality=None, codec="libx264", macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=["-crf", str(_MP4_CRF), "-preset", "medium",
                           "-vf", "scale=out_color_matrix=bt709:out_range=tv,setparams=range=tv"
                                 ":color_primaries=bt709:color_trc=bt709:colorspace=bt709",
                           "-colorspace", "bt709", "-color_primaries", "bt709",
                           "-color_trc", "bt709", "-color_range", "tv",
                           "-movflags", "+faststart", "-f", "mp4"])
        self._gen.send(None)  # starts ffmpeg

    def add(self, rgb: NDArray[np.uint8]) -> None:
        ph, pw = self._pad
        if ph or pw:
            rgb = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="edge")
        self._gen.send(rgb.tobytes())

    def finish(self) -> None:
        self._gen.close()  # waits for ffmpeg to finish the file
        if not _looks_like_mp4(self._tmp):
            raise OSError("ffmpeg did not produce a complete MP4 file (see its messages above)")

    def discard(self) -> None:
        self._gen.close()


def _looks_like_mp4(path: str) -> bool:
    """True when the file's top-level boxes start with 'ftyp' and include 'moov' and 'mdat'."""
    seen = []
    try:
        with open(path, "rb") as fh:
            end = os.fstat(fh.fileno()).st_size
            pos = 0
            while pos + 8 <= end:
                fh.seek(pos)
                head = fh.read(16)
                size, kind = int.from_bytes(head[:4], "big"), head[4:8]
                if size == 1:
                    size = int.from_bytes(head[8:16], "big")
                elif size == 0:
                    size = end - pos
                if size < 8:
                    return False
                seen.append(kind)
                pos += size
    except OSError:
        return False
    return bool(seen) and seen[0] == b"ftyp" and b"moov" in seen and b"mdat" in seen
