"""Presentation mode: fullscreen, docks hidden, large type, a caption, camera
bookmarks, a slow orbit, and tours (scene.tour) played scene by scene.

Keys (while presenting): Space play/pause, ←/→ step, R reset the camera, 1–9
recall a camera bookmark (Ctrl+1–9 store one), O orbit, PageDown/N next scene,
PageUp/P previous scene, Esc leaves. Presenter remotes send PageDown/PageUp.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QLabel, QWidget

from lossviewer.scene.tour import Tour, TourStep, apply_step, network_settings

#: fonts and lines in presentation mode, relative to the normal look
PRESENTATION_SCALE = 1.7
#: degrees per second of the automatic orbit
ORBIT_DEG_PER_S = 8.0
ORBIT_TICK_MS = 33
CAMERA_MOVE_MS = 900


class CaptionOverlay(QLabel):
    """The caption over the views: one large line and a smaller note, top left (the 3D
    view's sky is empty there)."""

    def __init__(self, window: QWidget, over: QWidget) -> None:
        # a child of the window, not of the views' splitter: a QSplitter makes every
        # child widget one of its panes
        super().__init__(window)
        self._over = over
        self.setObjectName("PresentationCaption")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setStyleSheet("#PresentationCaption { background: rgba(12, 14, 18, 215); "
                           "color: #f2f4f8; border-radius: 10px; padding: 14px 22px; }")
        self.hide()
        over.installEventFilter(self)

    def set_caption(self, caption: str, note: str = "", counter: str = "") -> None:
        if not caption:
            self.hide()
            return
        count = (f"<span style='color:#8a93a3; font-size:18px'>&nbsp;&nbsp;{counter}</span>"
                 if counter else "")
        body = (f"<div style='font-size:34px; font-weight:600'>{_escape(caption)}{count}</div>")
        if note:
            body += f"<div style='font-size:22px; color:#c9ced8'>{_escape(note)}</div>"
        self.setText(body)
        self._place()
        self.show()
        self.raise_()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Move) and self.isVisible():
            self._place()
        return False

    def _place(self) -> None:
        area = self._over.geometry()  # in the window's coordinates
        self.setFixedWidth(max(min(int(area.width() * 0.62), 1400), 300))
        self.adjustSize()
        self.move(area.left() + 24, area.top() + 20)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class PresentationMode(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.active = False
        self.caption = CaptionOverlay(window, window.centralWidget())
        self.bookmarks: dict[int, dict] = {}
        self.tour: Tour | None = None
        self.index = -1
        self._saved_state = None
        self._was_maximized = False
        self._orbit = QTimer(self)
        self._orbit.setInterval(ORBIT_TICK_MS)
        self._orbit.timeout.connect(self._orbit_tick)
        self._advance = QTimer(self)
        self._advance.setSingleShot(True)
        self._advance.timeout.connect(self.next)
        self._move = QTimer(self)
        self._move.setInterval(16)
        self._move.timeout.connect(self._move_tick)
        self._move_from: dict | None = None
        self._move_to: dict | None = None
        self._move_t0 = 0.0
        self._pending: TourStep | None = None
        self._slices: dict[tuple, object] = {}  # network slices computed during the tour
        window.scene.landscape_changed.connect(lambda _s: self._on_landscape())

    # -- enter / leave ------------------------------------------------------------------------
    def toggle(self) -> None:
        self.leave() if self.active else self.enter()

    def enter(self) -> None:
        if self.active:
            return
        w = self.window
        self.active = True
        self._saved_state = w.saveState()
        self._was_maximized = w.isMaximized()
        # tabbed docks behind the raised one are not "visible" but still hold their space
        self._docks_shown = [d for d in w.findChildren(QDockWidget) if not d.isHidden()]
        for dock in self._docks_shown:
            dock.hide()
        w.menuBar().hide()
        w.statusBar().hide()
        self._set_scale(PRESENTATION_SCALE)
        w.showFullScreen()
        w.surface_view.setFocus()

    def leave(self) -> None:
        if not self.active:
            return
        w = self.window
        self.active = False
        self.stop_tour()
        self._orbit.stop()
        w.loss_plot.setVisible(True)
        self._set_scale(1.0)
        w.menuBar().show()
        w.statusBar().show()
        if self._was_maximized:
            w.showMaximized()
        else:
            w.showNormal()
        for dock in self._docks_shown:
            dock.show()
        if self._saved_state is not None:
            w.restoreState(self._saved_state)

    def _set_scale(self, scale: float) -> None:
        w = self.window
        for view in (w.surface_view, w.contour_view, w.loss_plot):
            view.set_scale(scale)
        w._paths_redraw.start()  # path widths follow the scale

    # -- camera ---------------------------------------------------------------------------------
    def toggle_orbit(self) -> None:
        if self._orbit.isActive():
            self._orbit.stop()
        else:
            self._orbit_last = time.perf_counter()
            self._orbit.start()

    @property
    def orbiting(self) -> bool:
        return self._orbit.isActive()

    def _orbit_tick(self) -> None:
        now = time.perf_counter()
        dt = min(now - self._orbit_last, 0.2)  # after a stall, no sudden jump
        self._orbit_last = now
        self.window.surface_view.orbit(ORBIT_DEG_PER_S * dt, 0)

    def store_bookmark(self, n: int) -> None:
        self.bookmarks[n] = self.window.surface_view.camera_state()
        self.window.show_status(f"Camera bookmark {n} stored (press {n} to return to it)")
        self.window.session._touched()

    def recall_bookmark(self, n: int) -> None:
        state = self.bookmarks.get(n)
        if state is None:
            self.window.show_status(f"No camera bookmark {n} yet: Ctrl+{n} stores one")
            return
        self.move_camera(state)

    def move_camera(self, target: dict, animate: bool = True) -> None:
        """Glide to a camera state (centre, distance, elevation, azimuth)."""
        view = self.window.surface_view
        start = view.camera_state()
        target = {**start, **target}
        if not animate:
            view.set_camera_state(target)
            return
        self._move_from, self._move_to = start, target
        self._move_t0 = time.perf_counter()
        self._move.start()

    def _move_tick(self) -> None:
        # wall-clock time: a slow renderer drops frames but the move takes as long
        t = min(1.0, (time.perf_counter() - self._move_t0) * 1000.0 / CAMERA_MOVE_MS)
        s = t * t * (3 - 2 * t)  # ease in and out
        a, b = self._move_from, self._move_to
        turn = (b["azimuth"] - a["azimuth"] + 180.0) % 360.0 - 180.0  # the short way round
        state = {
            "center": [a["center"][i] + s * (b["center"][i] - a["center"][i]) for i in range(3)],
            "distance": math.exp(math.log(a["distance"]) * (1 - s)
                                 + math.log(b["distance"]) * s),
            "elevation": a["elevation"] + s * (b["elevation"] - a["elevation"]),
            "azimuth": a["azimuth"] + s * turn,
            "fov": b.get("fov", a.get("fov", 60.0)),
        }
        self.window.surface_view.set_camera_state(state)
        if t >= 1.0:
            self._move.stop()

    # -- tours ------------------------------------------------------------------------------
    def play_tour(self, tour: Tour) -> None:
        self.tour = tour
        self.enter()
        self.go(0)

    def stop_tour(self) -> None:
        self._advance.stop()
        self._pending = None
        self.tour = None
        self.index = -1
        self.caption.set_caption("")

    def next(self) -> None:
        if self.tour is not None and self.index + 1 < len(self.tour.steps):
            self.go(self.index + 1)

    def previous(self) -> None:
        if self.tour is not None and self.index > 0:
            self.go(self.index - 1)

    def go(self, index: int) -> None:
        """Show scene ``index`` of the tour (its network is computed first if needed)."""
        if self.tour is None:
            return
        self._advance.stop()
        self.index = index
        step = self.tour.steps[index]
        w = self.window
        self.caption.set_caption(step.caption, step.note, f"{index + 1} / {len(self.tour.steps)}")
        self._pending = None
        try:
            if step.network is not None:
                key = tuple(sorted(network_settings(step).items()))
                w.scene.set_network_settings(**network_settings(step))
                for rid in list(w.scene.runs):
                    w.scene.remove_run(rid)
                cached = self._slices.get(key)
                if cached is not None:
                    w.scene.set_landscape(function="network", network=cached)
                    self._finish_step(step)
                else:
                    self._pending = step
                    w.network.compute()
            else:
                apply_step(w.scene, step)
                self._finish_step(step)
        except ValueError as exc:  # checked at load: only a changed app gets here
            w.report_error(f"tour scene {index + 1}: {exc}")

    def _on_landscape(self) -> None:
        step = self._pending
        s = self.window.scene.landscape_settings
        if step is None or not s.is_network:
            return
        self._pending = None
        key = tuple(sorted(network_settings(step).items()))
        self._slices[key] = s.network
        self._finish_step(step)

    def _finish_step(self, step: TourStep) -> None:
        w = self.window
        if step.network is not None:
            rest = TourStep(step.caption, runs=step.runs, play=step.play, speed=step.speed,
                            layer=step.layer, overlays=step.overlays)
            apply_step(w.scene, rest)
        w.network_plots.setVisible(step.plots)
        # the loss plot shows the runs: a scene without runs gives its room to the views
        w.loss_plot.setVisible(bool(w.scene.runs))
        if step.camera is not None:
            self.move_camera(step.camera)
        if step.orbit != self._orbit.isActive():
            self.toggle_orbit()
        if step.seconds is not None:
            self._advance.start(int(step.seconds * 1000))
