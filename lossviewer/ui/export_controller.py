"""ExportController: File → Export: images of the views, the race as GIF / MP4, the
paths and the surface as CSV / NPZ, and Copy image.

Each export asks with one small dialog (remembering its last answers for the
session), writes atomically and reports in the status bar; a failure is explained
and the scene is never touched.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QWidget,
)

from lossviewer.ui.animation_export import VIEWS, AnimationExport, AnimationOptions, render_view
from lossviewer.ui.file_errors import describe_file_error

IMAGE_VIEWS = {**VIEWS, "loss": "Loss plot"}


class ExportDialog(QDialog):
    """View, size, file (and for animations frame rate and duration)."""

    def __init__(self, parent: QWidget, animation: bool, defaults: dict) -> None:
        super().__init__(parent)
        self.animation = animation
        self.setWindowTitle("Export animation" if animation else "Export image")
        self.setMinimumWidth(480)  # room for a real path
        form = QFormLayout(self)
        self.view = QComboBox()
        views = VIEWS if animation else IMAGE_VIEWS
        for key, title in views.items():
            self.view.addItem(title, key)
        self.view.setCurrentIndex(max(0, self.view.findData(defaults.get("view", "both"))))
        self.view.setToolTip("Which part of the window to export")
        form.addRow("View", self.view)
        size = QHBoxLayout()
        self.width_box, self.height_box = QSpinBox(), QSpinBox()
        for box, value, hi in ((self.width_box, defaults.get("width", 1920), 3840),
                               (self.height_box, defaults.get("height", 1080), 2160)):
            box.setRange(16, hi)
            box.setValue(value)
            box.setSuffix(" px")
            box.setToolTip("Pixels; the 3D view is rendered off-screen at this size, "
                           "up to 3840 × 2160")
        size.addWidget(self.width_box)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_box)
        form.addRow("Size", size)
        if animation:
            self.fps = QSpinBox()
            self.fps.setRange(1, 60)
            self.fps.setValue(defaults.get("fps", 30))
            self.fps.setSuffix(" frames/s")
            self.fps.setToolTip("Frame rate (GIF players round to 10 ms per frame)")
            self.duration = QDoubleSpinBox()
            self.duration.setRange(0.5, 600)
            self.duration.setDecimals(1)
            self.duration.setValue(defaults.get("duration_s", 6.0))
            self.duration.setSuffix(" s")
            self.duration.setToolTip("Length of the video; the whole race is spread over it")
            form.addRow("Frame rate", self.fps)
            form.addRow("Duration", self.duration)
        file_row = QHBoxLayout()
        self.path = QLineEdit(defaults.get("path", ""))
        self.path.setToolTip("The format follows the extension")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        file_row.addWidget(self.path, 1)
        file_row.addWidget(browse)
        form.addRow("File", file_row)
        self.note = QLabel()
        self.note.setWordWrap(True)
        form.addRow(self.note)
        if animation:
            from lossviewer.io.animation import MP4_HINT, mp4_available

            if not mp4_available():
                self.note.setText(f"GIF only: {MP4_HINT}")
        else:
            self.note.setText("PNG for any view; SVG and PDF (vector) for the contour map "
                              "and the loss plot.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _filters(self) -> str:
        if self.animation:
            from lossviewer.io.animation import ANIMATION_FORMATS

            formats = ANIMATION_FORMATS
        else:
            from lossviewer.ui.image_export import EXPORT_IMAGE_FORMATS

            formats = EXPORT_IMAGE_FORMATS
        return ";;".join(f"{title} (*{ext})" for ext, title in formats.items())

    def _browse(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, self.windowTitle(),
                                                   self.path.text(), self._filters())
        if path:
            if not os.path.splitext(path)[1] and "(*" in chosen:
                path += chosen.split("(*", 1)[1].rstrip(")")
            self.path.setText(path)

    def _accept(self) -> None:
        if not self.path.text().strip():
            self._browse()
        if self.path.text().strip():
            self.accept()

    def values(self) -> dict:
        out = {"view": self.view.currentData(), "width": self.width_box.value(),
               "height": self.height_box.value(), "path": self.path.text().strip()}
        if self.animation:
            out |= {"fps": self.fps.value(), "duration_s": self.duration.value()}
        return out


class ExportController(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self._image_defaults: dict = {"view": "both", "width": 1920, "height": 1080,
                                      "path": os.path.join(os.path.expanduser("~"),
                                                           "lossviewer.png")}
        self._animation_defaults: dict = {"view": "both", "width": 1280, "height": 720,
                                          "fps": 30, "duration_s": 6.0,
                                          "path": os.path.join(os.path.expanduser("~"),
                                                               "race.gif")}
        self.exporter: AnimationExport | None = None
        #: (ok, path or reason) of the last animation export
        self.last_result: tuple[bool, str] | None = None
        self._progress: QProgressDialog | None = None

    # -- images ---------------------------------------------------------------------------
    def export_image_dialog(self) -> bool:
        dialog = ExportDialog(self.window, False, self._image_defaults)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        self._image_defaults = v = dialog.values()
        return self.export_image(v["path"], v["view"], v["width"], v["height"])

    def export_image(self, path: str, view: str, width: int, height: int) -> bool:
        from lossviewer.ui.image_export import export_view, save_png

        widgets = {"3d": self.window.surface_view, "contour": self.window.contour_view,
                   "loss": self.window.loss_plot}
        try:
            if view == "both":
                if not path.lower().endswith(".png"):
                    raise ValueError("both views together export as PNG; SVG and PDF are for "
                                     "the contour map or the loss plot")
                save_png(render_view(self.window, view, width, height), path)
            else:
                export_view(widgets[view], path, width, height)
        except (OSError, ValueError, RuntimeError) as exc:
            return self._failed("Cannot export the image", path, exc)
        self.window.show_status(f"Saved {os.path.basename(path)}")
        return True

    def copy_image(self) -> None:
        """Both views, at their size on screen, to the clipboard."""
        from lossviewer.ui.image_export import copy_to_clipboard

        sv, cv = self.window.surface_view, self.window.contour_view
        width = max(sv.width() + cv.width(), 32)
        height = max(sv.height(), cv.height(), 16)
        copy_to_clipboard(render_view(self.window, "both", min(width, 3840),
                                      min(height, 2160)))
        self.window.show_status("Copied both views to the clipboard")

    # -- animation --------------------------------------------------------------------------
    def export_animation_dialog(self) -> bool:
        dialog = ExportDialog(self.window, True, self._animation_defaults)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        self._animation_defaults = v = dialog.values()
        return self.export_animation(AnimationOptions(**v))

    def export_animation(self, options: AnimationOptions, show_progress: bool = True) -> bool:
        """Start an export (False when the options are refused or one already runs)."""
        if self.exporter is not None and not self.exporter.done:
            self.window.report_error("an animation is already being exported")
            return False
        try:
            self.exporter = AnimationExport(self.window, options)
        except (ValueError, ImportError) as exc:
            return self._failed("Cannot export the animation", options.path, exc)
        if show_progress:
            dlg = QProgressDialog("Rendering and encoding frames…", "Cancel", 0,
                                  len(self.exporter.steps), self.window)
            dlg.setWindowTitle("Export animation")
            dlg.setWindowModality(Qt.WindowModality.WindowModal)
            dlg.setMinimumDuration(300)
            dlg.canceled.connect(self.exporter.cancel)
            self.exporter.progress.connect(lambda done, _total: dlg.setValue(done))
            self._progress = dlg
        self.exporter.finished.connect(self._animation_finished)
        self.exporter.start()
        return True

    def _animation_finished(self, ok: bool, message: str) -> None:
        self.last_result = (ok, message)
        if self._progress is not None:
            self._progress.reset()
            self._progress.deleteLater()
            self._progress = None
        if ok:
            self.window.show_status(f"Saved {os.path.basename(message)}")
        else:
            self.window.report_error(message)

    # -- data -------------------------------------------------------------------------------
    def export_paths(self, path: str | None = None) -> bool:
        from lossviewer.io.scene_export import PATH_FORMATS, save_paths

        path = path or self._ask_path("Export paths", "paths.csv", PATH_FORMATS)
        if not path:
            return False
        scene = self.window.scene
        runs = [({"name": r.name, "optimizer": r.optimizer, "hyper": dict(r.hyper),
                  "schedule": r.schedule, "schedule_params": dict(r.schedule_params),
                  "noise": r.noise, "seed": r.seed, "start": list(r.start)},
                 scene.trajectories[rid])
                for rid, r in scene.runs.items() if rid in scene.trajectories]
        try:
            save_paths(path, runs)
        except (OSError, ValueError) as exc:
            return self._failed("Cannot export the paths", path, exc)
        self.window.show_status(f"Saved {len(runs)} paths to {os.path.basename(path)}")
        return True

    def export_surface(self, path: str | None = None) -> bool:
        from lossviewer.io.scene_export import SURFACE_FORMATS, save_surface_as

        if self.window.scene.surface is None:
            self.window.report_error("the surface is still being computed")
            return False
        path = path or self._ask_path("Export surface", "surface.npz", SURFACE_FORMATS)
        if not path:
            return False
        try:
            save_surface_as(path, self.window.scene.surface.surface)
        except (OSError, ValueError) as exc:
            return self._failed("Cannot export the surface", path, exc)
        self.window.show_status(f"Saved {os.path.basename(path)}")
        return True

    def _ask_path(self, title: str, name: str, formats: dict) -> str:
        filters = ";;".join(f"{t} (*{ext})" for ext, t in formats.items())
        path, chosen = QFileDialog.getSaveFileName(self.window, title, name, filters)
        if path and not os.path.splitext(path)[1] and "(*" in chosen:
            path += chosen.split("(*", 1)[1].rstrip(")")
        return path

    def _failed(self, title: str, path: str, exc: BaseException) -> bool:
        msg = describe_file_error(exc, path, "write")
        self.window.report_error(msg)
        if self.window.session.interactive and self.window.isVisible():
            QMessageBox.warning(self.window, title, msg)
        return False

