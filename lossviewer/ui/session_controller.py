"""SessionController: File → New / Open / Open Recent / Save / Save As, and the
"unsaved changes" question on close.

A session is the scene's settings (scene.session_state), the camera, and the
network landscape when there is one (io.session_file: one .lvs zip). Opening
reads and checks everything before the scene changes, so a bad file leaves the
user's work as it was. A session whose landscape came from a model file shows the
stored grid and asks before running that file again: it is code.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from lossviewer.scene.scene import Scene
from lossviewer.ui.file_errors import describe_file_error

MAX_RECENT = 10
RECENT_KEY = "session/recent"
EMBED_KEY = "session/embed_results"
SESSION_FILTER = "LossViewer session (*.lvs)"


class SessionController(QObject):
    def __init__(self, window: QWidget, scene: Scene, interactive: bool) -> None:
        """``interactive``: a person is in front of the window (recent files are
        remembered, questions are asked); off for headless renders and tests."""
        super().__init__(window)
        self.window = window
        self.scene = scene
        self.interactive = interactive
        self.path: str | None = None
        self.dirty = False
        self._loading = False
        #: asks whether to run a session's model file (tests replace it)
        self.confirm_run_model: Callable[[str], bool] = self._ask_run_model
        #: asks Save / Discard / Cancel before unsaved work is dropped (tests replace it)
        self.confirm_discard: Callable[[], str] = self._ask_discard
        self.recent_menu: QMenu | None = None
        #: File → Embed computed results: paths, critical points and basin maps go into
        #: the session (a basin map can take minutes to compute again)
        self.embed_results = True
        if interactive:
            self.embed_results = QSettings().value(EMBED_KEY, True, type=bool)
        self.changed: list[Callable[[], None]] = []  # title updates
        s = scene
        for event in (s.landscape_changed, s.view_changed, s.runs_changed, s.run_changed,
                      s.network_settings_changed, s.analysis.settings_changed):
            event.connect(lambda *_a: self._touched())
        self._playback = s.playback
        s.playback_changed.connect(self._on_playback)

    # -- state ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return os.path.basename(self.path) if self.path else "Untitled"

    def _touched(self) -> None:
        if not self._loading and not self.dirty:
            self.dirty = True
            self._notify()

    def _on_playback(self, pb) -> None:
        # playing moves the frame many times a second: only the settings count as edits
        old, self._playback = self._playback, pb
        if (pb.speed, pb.loop, pb.trail) != (old.speed, old.loop, old.trail):
            self._touched()

    def _notify(self) -> None:
        for cb in self.changed:
            cb()

    def mark_saved(self, path: str | None) -> None:
        self.path = path
        self.dirty = False
        self._notify()

    # -- save ------------------------------------------------------------------------------
    def save(self) -> bool:
        return self.save_as(self.path) if self.path else self.save_as()

    def save_as(self, path: str | None = None) -> bool:
        if path is None:
            start = self.path or os.path.join(os.path.expanduser("~"), "session.lvs")
            path, _ = QFileDialog.getSaveFileName(self.window, "Save session", start,
                                                  SESSION_FILTER)
            if not path:
                return False
            if not path.lower().endswith(".lvs"):
                path += ".lvs"
        try:
            self.write(path)
        except (OSError, ValueError) as exc:
            msg = describe_file_error(exc, path, "write")
            self.window.report_error(msg)
            self._warn("Cannot save the session", msg)
            return False
        self.mark_saved(path)
        self._remember(path)
        self.window.show_status(f"Saved {os.path.basename(path)}")
        return True

    def write(self, path: str) -> None:
        """Write the session (ValueError: nothing to save yet; OSError: cannot write)."""
        from lossviewer.io.session_file import save_session
        from lossviewer.io.session_results import results_to_bytes
        from lossviewer.scene.session_state import scene_state

        network, source = self._network_bytes()
        results = results_to_bytes(self._results()) if self.embed_results else None
        view = {"camera": self.window.surface_view.camera_state(),
                "equal_aspect": bool(self.window.contour_view.aspect_locked),
                "bookmarks": {str(n): cam for n, cam in
                              sorted(self.window.presentation.bookmarks.items())}}
        save_session(path, scene_state(self.scene, view, source), network, results)

    def _results(self):
        """What is computed and current: paths, critical points, basin map."""
        from lossviewer.io.session_results import SessionResults

        sc, a = self.scene, self.scene.analysis
        paths = tuple(sc.trajectories.get(rid)
                      if sc.trajectory_revision.get(rid) == sc.run_revision.get(rid) else None
                      for rid in sc.runs)
        critical = (tuple(a.critical) if a.critical is not None
                    and a.critical_key == sc.critical_key() else None)
        basins = a.basins if a.basins is not None and a.basins_key == sc.basins_key() else None
        return SessionResults(paths, critical, basins)

    def _network_bytes(self) -> tuple[bytes | None, dict | None]:
        """The network landscape as our .npz, and where it came from."""
        sl = self.scene.landscape_settings.network
        if sl is None:
            return None, None
        from lossviewer.compute.network_jobs import kept_network_surface
        from lossviewer.io.network_files import save_network_landscape

        ls = self.scene.landscape_settings
        surface = (kept_network_surface(sl, ls.xrange, ls.yrange, ls.resolution)
                   if ls.is_network else kept_network_surface(sl))
        if surface is None:
            raise ValueError("the network landscape is still being computed; save the "
                             "session when it is done")
        kind = {"model-file": "model", "stored-file": "file"}.get(sl.dataset.name, "computed")
        source = ""
        if kind == "model":
            source = os.path.abspath(sl.dataset.model_file.path)
        elif kind == "file":
            source = sl.dataset.source
        with tempfile.TemporaryDirectory(prefix="lossviewer-") as tmp:
            npz = os.path.join(tmp, "network.npz")
            save_network_landscape(npz, surface, sl)
            with open(npz, "rb") as fh:
                return fh.read(), {"kind": kind, "source": source}

    # -- open ------------------------------------------------------------------------------
    def open(self, path: str | None = None) -> bool:
        """Open a session; a file that cannot be read leaves the scene untouched."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Open session", "",
                                                  f"{SESSION_FILTER};;All files (*)")
            if not path:
                return False
        if not self.maybe_save():
            return False
        try:
            state, network_slice, results = self._read(path)
            self._apply(state, network_slice, results)
        except (OSError, ValueError, ImportError) as exc:
            msg = describe_file_error(exc, path, "read")
            if path in self.recent() and not os.path.exists(path):
                self._forget(path)
            self.window.report_error(msg)
            self._warn("Cannot open the session", msg)
            return False
        self.mark_saved(path)
        self._remember(path)
        self.window.show_status(f"Opened {os.path.basename(path)}")
        self._offer_model(state)
        return True

    def set_embed_results(self, embed: bool) -> None:
        self.embed_results = bool(embed)
        if self.interactive:
            QSettings().setValue(EMBED_KEY, self.embed_results)

    def _read(self, path: str):
        """(SessionState, network slice or None, results bytes or None), all checked."""
        from lossviewer.io.session_file import read_session
        from lossviewer.scene.session_state import parse_state

        sf = read_session(path)
        try:
            state = parse_state(sf.state)
        except ValueError as exc:
            raise ValueError(f"{os.path.basename(path)} is damaged: {exc}") from None
        network_slice = None
        if sf.network is not None:
            network_slice = self._network_slice(sf.network, state.network or {}, path)
        return state, network_slice, sf.results

    def _network_slice(self, data: bytes, source: dict, path: str):
        from lossviewer.compute.network_jobs import keep_network_surface

        with tempfile.TemporaryDirectory(prefix="lossviewer-") as tmp:
            npz = os.path.join(tmp, "network.npz")
            with open(npz, "wb") as fh:
                fh.write(data)
            try:
                sl, surf = self.window.network.read_landscape(npz, source.get("source") or path)
            except ValueError as exc:
                msg = str(exc).replace(npz, "its network landscape")
                raise ValueError(f"{os.path.basename(path)}: {msg}") from None
        keep_network_surface(sl, surf)  # the stored grid: nothing is recomputed
        return sl

    def _apply(self, state, network_slice, results: bytes | None = None) -> None:
        from lossviewer.scene.session_state import apply_state

        self._loading = True
        try:
            self.window.network.cancel()  # a training that ends later must not replace it
            apply_state(self.scene, state, network_slice)
            self._inject_results(results)
        finally:
            self._loading = False
        view = state.view
        camera = view.get("camera")
        if isinstance(camera, dict):
            try:
                self.window.surface_view.set_camera_state(camera)
            except ValueError as exc:
                self.window.report_error(f"the session's camera was not restored: {exc}")
        if isinstance(view.get("equal_aspect"), bool):
            self.window.set_equal_aspect(view["equal_aspect"])
        self.window.presentation.bookmarks = _bookmarks(view.get("bookmarks"))

    def _inject_results(self, data: bytes | None) -> None:
        """Show the session's computed results (they were saved for these very settings);
        a damaged member is reported and everything is computed again instead."""
        if not data:
            return
        from lossviewer.io.session_results import results_from_bytes

        try:
            results = results_from_bytes(data)
        except ValueError as exc:
            self.window.report_error(f"the session's computed results were not used: {exc}")
            return
        sc = self.scene
        for rid, traj in zip(sc.runs, results.trajectories, strict=False):
            run = sc.runs[rid]
            if (traj is not None and traj.steps == run.steps
                    and tuple(traj.points[0, 0]) == tuple(run.start)):
                sc.set_trajectory(rid, sc.run_revision[rid], traj)
        if results.critical is not None:
            sc.analysis.set_critical(list(results.critical), sc.critical_key())
        key = sc.basins_key()
        if results.basins is not None and key is not None:
            sc.analysis.set_basins(results.basins, key)

    def _offer_model(self, state) -> None:
        net = state.network or {}
        script = net.get("source", "")
        if net.get("kind") != "model" or not script:
            return
        if not os.path.isfile(script):
            self.window.report_error(f"the model file {script} is gone: the stored grid is "
                                     "shown (interpolated between its points)")
            return
        if self.confirm_run_model(script):
            self.window.network.open_model(script)

    def _ask_run_model(self, script: str) -> bool:
        if not (self.interactive and self.window.isVisible()):
            return False
        answer = QMessageBox.question(
            self.window, "Run the session's model file?",
            f"This session's landscape was computed from the model file\n\n{script}\n\n"
            "Its stored grid is shown now. Run the model file to evaluate the model itself? "
            "A model file is Python code and runs with your permissions.")
        return answer == QMessageBox.StandardButton.Yes

    def new(self) -> bool:
        """File → New session: the default scene."""
        if not self.maybe_save():
            return False
        from lossviewer.scene.scene import default_scene
        from lossviewer.scene.session_state import parse_state, scene_state

        state = parse_state(scene_state(default_scene()))
        self._apply(state, None)
        self.window.surface_view.reset_camera()
        self.mark_saved(None)
        return True

    # -- unsaved changes ---------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """True when the current work may be replaced (saved, discarded, or unchanged)."""
        if not self.dirty:
            return True
        answer = self.confirm_discard()
        if answer == "save":
            return self.save()
        return answer == "discard"

    def _ask_discard(self) -> str:
        if not (self.interactive and self.window.isVisible()):
            return "discard"
        B = QMessageBox.StandardButton
        answer = QMessageBox.warning(
            self.window, "Unsaved changes",
            f"Save the changes to {self.name} first?", B.Save | B.Discard | B.Cancel, B.Save)
        return {B.Save: "save", B.Discard: "discard"}.get(answer, "cancel")

    # -- recent files --------------------------------------------------------------------------
    def recent(self) -> list[str]:
        if not self.interactive:
            return []
        value = QSettings().value(RECENT_KEY, [], type=list)
        return [str(p) for p in value if isinstance(p, str) and p][:MAX_RECENT]

    def _remember(self, path: str) -> None:
        if not self.interactive:
            return
        path = os.path.abspath(path)
        items = [path, *(p for p in self.recent() if p != path)][:MAX_RECENT]
        QSettings().setValue(RECENT_KEY, items)

    def _forget(self, path: str) -> None:
        QSettings().setValue(RECENT_KEY, [p for p in self.recent() if p != path])

    def fill_recent_menu(self, menu: QMenu) -> None:
        menu.clear()
        items = self.recent()
        for i, path in enumerate(items):
            label = f"&{i + 1} {os.path.basename(path)}" if i < 9 else os.path.basename(path)
            act = menu.addAction(label)
            act.setToolTip(path)
            act.setStatusTip(path)
            act.setEnabled(os.path.exists(path))
            act.triggered.connect(lambda _c=False, p=path: self.open(p))
        if not items:
            menu.addAction("No recent sessions").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list").triggered.connect(
                lambda: QSettings().setValue(RECENT_KEY, []))

    def _warn(self, title: str, text: str) -> None:
        if self.interactive and self.window.isVisible():
            QMessageBox.warning(self.window, title, text)


def _bookmarks(raw) -> dict[int, dict]:
    """Camera bookmarks 1–9 from a session; anything malformed is left out."""
    out: dict[int, dict] = {}
    if not isinstance(raw, dict):
        return out
    for key, cam in raw.items():
        if key in {str(n) for n in range(1, 10)} and isinstance(cam, dict):
            try:
                center = [float(v) for v in cam["center"]]
                values = {k: float(cam[k]) for k in ("distance", "elevation", "azimuth")}
            except (KeyError, TypeError, ValueError):
                continue
            if len(center) == 3:
                out[int(key)] = {"center": center, **values, "fov": float(cam.get("fov", 60))}
    return out
