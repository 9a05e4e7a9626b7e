"""Export the optimizer race as an animated GIF or an MP4 video.

Frames are rendered on the GUI thread (GL and QPainter live there), one per timer
tick so the window stays responsive and Cancel works; a worker thread encodes them
(io.animation) as they come, through a small bounded queue that keeps memory flat
however long the video is. The playback position is restored afterwards.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from PySide6.QtCore import QObject, QPoint, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter

from lossviewer.ui import theme
from lossviewer.ui.file_errors import describe_file_error

VIEWS = {"3d": "3D view", "contour": "Contour map", "both": "Both, side by side"}
#: frames waiting for the encoder at most (each a few MB at 1080p)
QUEUE_FRAMES = 6


@dataclass(frozen=True)
class AnimationOptions:
    path: str
    view: str = "both"
    fps: int = 30
    duration_s: float = 6.0
    width: int = 1280
    height: int = 720


def render_view(window, view: str, width: int, height: int) -> QImage:
    """One view of the window (or both side by side) as an image of exactly that size."""
    from lossviewer.ui.image_export import render_2d, render_3d

    if view == "3d":
        return render_3d(window.surface_view, width, height)
    if view == "contour":
        return render_2d(window.contour_view, width, height)
    if view != "both":
        raise ValueError(f"unknown view {view!r}; known: {', '.join(VIEWS)}")
    left = width // 2
    image = QImage(width, height, QImage.Format.Format_RGB888)
    image.fill(QColor(theme.active.background))
    painter = QPainter(image)
    painter.drawImage(QPoint(0, 0), render_3d(window.surface_view, left, height))
    painter.drawImage(QPoint(left, 0), render_2d(window.contour_view, width - left, height))
    painter.end()
    return image


def image_rgb(image: QImage):
    """(h, w, 3) uint8 copy of a QImage."""
    from lossviewer.ui.offscreen import image_to_array

    return image_to_array(image)[..., :3].copy()


class AnimationExport(QObject):
    """One export run: ``start()``, then ``progress(done, total)`` and one ``finished``."""

    progress = Signal(int, int)
    finished = Signal(bool, str)  # ok, message (the path written, or why not)

    def __init__(self, window, options: AnimationOptions) -> None:
        super().__init__(window)
        from lossviewer.io.animation import check_animation_options, frame_steps

        self.window = window
        self.options = o = options
        if o.view not in VIEWS:
            raise ValueError(f"unknown view {o.view!r}; known: {', '.join(VIEWS)}")
        n = check_animation_options(o.path, o.fps, o.duration_s, (o.width, o.height))
        max_steps = window.scene.max_steps
        if max_steps <= 0:
            raise ValueError("there is no race to animate: add a run first")
        self.steps = frame_steps(max_steps, n)
        self._next = 0
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self._cancel = threading.Event()
        self._error: BaseException | None = None
        self._encoded = 0
        self._thread = threading.Thread(target=self._encode, name="animation-encoder",
                                        daemon=True)
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._tick)
        self._playback = window.scene.playback
        self.done = False

    # -- GUI thread: frames ----------------------------------------------------------------
    def start(self) -> None:
        self.window.scene.set_playback(playing=False)
        self._thread.start()
        self._timer.start()

    def cancel(self) -> None:
        self._cancel.set()

    def _tick(self) -> None:
        if self._cancel.is_set() or self._error is not None:
            self._finish()
            return
        if self._next < len(self.steps):
            if self._queue.full():
                return  # the encoder is behind: try again next tick
            scene = self.window.scene
            scene.set_playback(frame=int(self.steps[self._next]), playing=False)
            self.window._draw_frame()  # now, not on the redraw throttle
            o = self.options
            try:
                frame = image_rgb(render_view(self.window, o.view, o.width, o.height))
            except Exception as exc:  # noqa: BLE001 - reported, never raised into Qt
                self._error = exc
                self._finish()
                return
            self._queue.put(frame)
            self._next += 1
            if self._next == len(self.steps):
                self._queue.put(None)  # end of the video
        self.progress.emit(self._encoded, len(self.steps))
        if not self._thread.is_alive():
            self._finish()

    def _finish(self) -> None:
        if self.done:
            return
        self._timer.stop()
        if self._thread.is_alive():
            if self._error is not None:
                self._cancel.set()  # a frame failed: the encoder drops the file
            # unblock a writer waiting for frames, then wait for it to clean up
            while self._thread.is_alive():
                try:
                    self._queue.put_nowait(None)
                except queue.Full:
                    pass
                self._thread.join(0.05)
        self.done = True
        pb = self._playback
        self.window.scene.set_playback(frame=pb.frame, playing=pb.playing)
        if self._error is not None:
            self.finished.emit(False, _message(self._error, self.options.path))
        elif self._cancel.is_set():
            self.finished.emit(False, "Animation export cancelled; no file was written")
        else:
            self.finished.emit(True, self.options.path)

    # -- worker thread: encoding -------------------------------------------------------------
    def _encode(self) -> None:
        from lossviewer.io.animation import AnimationWriter

        o = self.options
        try:
            with AnimationWriter(o.path, o.fps, (o.width, o.height)) as writer:
                while True:
                    frame = self._queue.get()
                    if self._cancel.is_set():
                        writer.abort()
                        return
                    if frame is None:
                        break
                    writer.add(frame)
                    self._encoded += 1
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread
            self._error = exc


def _message(exc: BaseException, path: str) -> str:
    text = describe_file_error(exc, path, "write")
    return text.splitlines()[0] if text else type(exc).__name__

