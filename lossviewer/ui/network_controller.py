"""NetworkController: computes network landscapes and keeps their plots in step.

Compute turns the scene's NetworkSettings into a request for the worker (make
the data, train, choose the directions, project the training path); the slice
that comes back is shown as the landscape, and its grid is computed by the
window's ordinary surface runner (coarse preview first). Files: open a
landscape written by ``lossviewer landscape`` (or saved here) and save the one
shown.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from lossviewer.scene.scene import Scene
from lossviewer.ui.docks.network_dock import NetworkDock
from lossviewer.ui.file_errors import describe_file_error
from lossviewer.ui.job_runner import JobRunner
from lossviewer.ui.views.network_panel import NetworkPanel

#: the projected training path on the views
TRAINING_PATH_COLOR = "#f4f4f4"
TRAINING_PATH_ID = "training-run"


def request_from_settings(scene: Scene):
    """The compute request for the scene's NetworkSettings (a NetworkRequest)."""
    # the network stack is imported when first used, not at start-up
    from lossviewer.compute.network_jobs import NetworkRequest
    from lossviewer.core.directions import DirectionSpec
    from lossviewer.core.network import ModelSpec
    from lossviewer.core.training import TrainingConfig

    s = scene.network_settings
    return NetworkRequest.create(
        s.dataset, s.dataset_params(),
        model=ModelSpec(s.hidden, s.activation, s.loss, s.l2),
        training=TrainingConfig.create(s.optimizer, s.full_hyper(), s.schedule, steps=s.steps,
                                       batch_size=s.batch_size or None,
                                       checkpoint_every=s.checkpoint_every, seed=s.seed),
        directions=DirectionSpec(s.directions, s.direction_seed, s.bias, s.orthogonalize),
        dtype=s.dtype)


class NetworkController(QObject):
    def __init__(self, scene: Scene, dock: NetworkDock, panel: NetworkPanel,
                 attach_runner: Callable[[JobRunner], None], report_error: Callable[[str], None],
                 parent: QWidget, contour_view=None) -> None:
        super().__init__(parent)
        self.scene = scene
        self.dock = dock
        self.panel = panel
        self.report_error = report_error
        self._window = parent
        self.runner = JobRunner("network", self)
        attach_runner(self.runner)
        self.runner.finished.connect(self._on_slice)
        self.model_runner = JobRunner("model-file", self)
        attach_runner(self.model_runner)
        self.model_runner.finished.connect(self._on_model_file)
        dock.compute_requested.connect(self.compute)
        self._shown_slice = None
        self._contour = contour_view
        scene.landscape_changed.connect(lambda _s: self._on_landscape())
        scene.surface_changed.connect(lambda _d: self._on_surface())

    # -- compute ---------------------------------------------------------------------
    def compute(self) -> None:
        """Train and choose the plane on the worker; the grid follows as a surface job."""
        from lossviewer.compute.network_jobs import network_job

        try:
            req = request_from_settings(self.scene)
        except ValueError as exc:
            self.report_error(str(exc))
            return
        self.runner.submit(network_job, req)

    @property
    def busy(self) -> bool:
        return self.runner.busy or self.model_runner.busy

    def cancel(self) -> bool:
        busy = False
        for r in (self.runner, self.model_runner):
            if r.busy:
                r.cancel()
                busy = True
        return busy

    # -- the user's own model ---------------------------------------------------------------
    def open_model(self, path: str | None = None) -> bool:
        """File → Open model…: run a model file (it is code: only on this explicit action)."""
        from lossviewer.compute.model_file import TORCH_HINT, torch_available

        if not torch_available():
            self._message("PyTorch is not installed", TORCH_HINT, QMessageBox.Icon.Information)
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self._window, "Open model file (Python: model(), data(), loss())", "",
                "Model file (*.py);;All files (*)")
            if not path:
                return False
        from lossviewer.compute.network_jobs import ModelFileRequest, model_file_job
        from lossviewer.core.directions import DirectionSpec

        s = self.scene.network_settings
        req = ModelFileRequest(path, DirectionSpec(s.directions, s.direction_seed, s.bias,
                                                   s.orthogonalize),
                               device=s.device, bn_mode=s.bn_mode, dtype=s.dtype)
        self.model_runner.submit(model_file_job, req)
        return True

    def _on_model_file(self, result) -> None:
        if result.error:
            self.report_error(result.error.splitlines()[0])
            self._message("The model file failed", result.error, QMessageBox.Icon.Warning,
                          result.details)
            return
        if result.note:
            self.report_error(result.note)
        self._on_slice(result.network_slice)

    def _message(self, title: str, text: str, icon, details: str = "") -> None:
        """A non-modal message box (the window stays usable)."""
        if not self._window.isVisible():
            return
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self._window)
        if details:
            box.setDetailedText(details)
        box.setModal(False)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()
        self._last_box = box

    def _on_slice(self, network_slice) -> None:
        try:
            self.scene.set_landscape(function="network", network=network_slice)
        except ValueError as exc:
            self.report_error(str(exc))
            return
        self.scene.set_playback(frame=0, playing=True)

    # -- panel and info ----------------------------------------------------------------
    def _on_landscape(self) -> None:
        s = self.scene.landscape_settings
        sl = s.network if s.is_network else None
        if sl is not self._shown_slice:
            self._shown_slice = sl
            self.panel.set_slice(sl, s.xrange)
            if sl is not None:
                self.show_plots()
        self.dock.set_info(self._info_text(sl))
        if self._contour is not None:
            self._contour.set_path_legend(self._legend_entries())

    def _legend_entries(self) -> list[tuple[str, str]]:
        """The projected training run's line in the map's legend, with its faithfulness."""
        s = self.scene.landscape_settings
        if not s.is_network or s.network is None or not s.layer.endswith("loss"):
            return []
        proj = s.network.with_split(s.split).project_run()
        if proj is None or len(proj.coords) < 2:
            return []
        off = 100 * float(np.median(proj.relative_distance))
        return [(TRAINING_PATH_COLOR, f"training run ({off:.0f} % off plane)")]

    def _on_surface(self) -> None:
        s = self.scene.landscape_settings
        if not s.is_network or s.network is None or self.scene.surface_is_preview:
            return
        if hasattr(s.network.network, "plane_evaluator"):
            from lossviewer.compute.network_jobs import cached_network_surface

            surf = cached_network_surface(s.network, s.xrange, s.yrange, s.resolution)
            if surf is not None:
                self.panel.set_grid(surf)

    def show_plots(self) -> None:
        """Show the Network plots dock (first time: a modest height under the views)."""
        dock = self.panel.parentWidget()
        while dock is not None and not hasattr(dock, "toggleViewAction"):
            dock = dock.parentWidget()
        presenting = getattr(self._window, "presentation", None)
        if dock is None or dock.isVisible() or (presenting is not None and presenting.active):
            return  # a presentation shows the plots only where its tour asks for them
        dock.show()
        window = self._window
        window.resizeDocks([dock], [max(200, window.height() // 4)],
                           Qt.Orientation.Vertical)

    def _info_text(self, sl) -> str:
        if sl is None:
            return ("Press Compute to train the network and draw its loss landscape "
                    "(Ctrl+Return).")
        d = sl.directions
        lines = [sl.dataset.describe(), f"{sl.network.describe()}, "
                 f"{sl.network.n_params:,} parameters", d.spec.describe() + "."]
        info = d.info
        if "explained" in info:
            e = info["explained"]
            lines.append(f"PCA explains {100 * e[0]:.1f} % and {100 * e[1]:.1f} % of the "
                         "path's variance.")
        if "eigenvalues" in info:
            ev = info["eigenvalues"]
            lines.append(f"Hessian eigenvalues λ₁ = {ev[0]:.4g}, λ₂ = {ev[1]:.4g}.")
        lines.append(f"cos(δ, η) = {info.get('cosine', float('nan')):.3f}")
        if sl.run is not None and sl.run.train_loss.size > 1:
            lines.append(sl.run.summary())
        proj = sl.project_run()
        if proj is not None:
            lines.append(proj.summary())
        return "\n".join(lines)

    def training_path(self, disp) -> dict | None:
        """The projected training run as a path for the views (None when there is none)."""
        s = self.scene.landscape_settings
        if not s.is_network or s.network is None:
            return None
        proj = s.network.with_split(s.split).project_run()
        if proj is None or len(proj.coords) < 2 or not s.layer.endswith("loss"):
            return None
        zd = disp.transform(proj.surface_loss) if disp is not None else proj.surface_loss
        if s.layer == "loss_gap" and disp is not None:
            zd = np.full(len(proj.coords), disp.lo)
        head = (*proj.coords[-1], float(zd[-1]))
        return {"run_id": TRAINING_PATH_ID, "xy": proj.coords, "zd": zd,
                "color": TRAINING_PATH_COLOR, "head": head, "start": None, "dash": True}

    def hover_text(self, a: float, b: float) -> str:
        """Loss and accuracy of both splits at a plane point (the map's read-out).

        Built-in models are evaluated at the point (a millisecond); a user's torch
        model would take a full pass per move, so its read-out interpolates the grid.
        """
        s = self.scene.landscape_settings
        sl = s.network
        out = [f"a = {a:.4g}", f"b = {b:.4g}"]
        if hasattr(sl.network, "plane_evaluator"):
            from lossviewer.compute.network_jobs import cached_network_surface

            surf = cached_network_surface(sl, s.xrange, s.yrange, s.resolution)
            if surf is None:
                return "\n".join([*out, "(computing the grid …)"])
            from lossviewer.core.stored_landscape import GridEvaluator

            for split, name in (("train", "training"), ("val", "validation")):
                loss, acc = GridEvaluator(surf.xs, surf.ys, surf.layers[f"{split}_loss"],
                                          surf.layers[f"{split}_acc"]).direct(a, b)
                if np.isfinite(loss):
                    text = f"{name}: loss ≈ {loss:.4g}"
                    if np.isfinite(acc):
                        text += f", acc. ≈ {100 * acc:.1f} %"
                    out.append(text)
            out.append("(interpolated from the grid)")
            return "\n".join(out)
        for split, name in (("train", "training"), ("val", "validation")):
            if not sl.has_split(split):
                continue
            ev = sl.evaluator(split, "float64")
            with np.errstate(all="ignore"):
                loss, acc = ev.evaluate(np.array([a]), np.array([b]))
            text = f"{name}: loss {loss[0]:.4g}"
            if np.isfinite(acc[0]):
                text += f", acc. {100 * acc[0]:.1f} %"
            out.append(text)
        self.panel.set_point(a, b)
        return "\n".join(out)

    # -- files ----------------------------------------------------------------------------
    def open_file(self, path: str | None = None) -> bool:
        """Open a network landscape file (File → Open landscape, --open)."""
        from lossviewer.compute.network_jobs import keep_network_surface

        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self._window, "Open network landscape", "",
                "Landscapes (*.npz *.h5);;LossViewer landscape (*.npz);;"
                "loss-landscape HDF5 (*.h5);;All files (*)")
            if not path:
                return False
        try:
            sl, surf = self.read_landscape(path)
        except (OSError, ValueError, ImportError) as exc:
            msg = describe_file_error(exc, path, "read")
            self.report_error(msg)
            self._message("Cannot open landscape", msg, QMessageBox.Icon.Warning)
            return False
        nx, ny = surf.xs.size, surf.ys.size
        xr = (float(surf.xs[0]), float(surf.xs[-1]))
        yr = (float(surf.ys[0]), float(surf.ys[-1]))
        keep_network_surface(sl, surf)  # the file's grid: nothing is recomputed
        try:
            self.scene.set_landscape(function="network", network=sl, xrange=xr, yrange=yr,
                                     resolution=nx if nx == ny else max(nx, ny))
        except ValueError as exc:
            self.report_error(str(exc))
            return False
        self._window.show_status(f"Opened {os.path.basename(path)}: {sl.describe()}")
        return True

    @staticmethod
    def read_landscape(path: str, source: str | None = None):
        """(slice, surface) from a file: ours with its model rebuilt, or (a .h5 of
        loss-landscape, or ours computed from a model file) the stored grid alone."""
        from lossviewer.core.stored_landscape import stored_slice

        if path.lower().endswith(".h5"):
            from lossviewer.io.h5_landscape import load_h5_landscape

            surf = load_h5_landscape(path).surface()
            return stored_slice(surf, path), surf
        from lossviewer.io.network_files import (
            NoModelError,
            load_landscape_surface,
            load_network_landscape,
        )

        try:
            lf = load_network_landscape(path)
        except NoModelError:
            surf = load_landscape_surface(path)
            return stored_slice(surf, source or path), surf
        return lf.network_slice, lf.surface

    def save_file(self, path: str | None = None) -> bool:
        """Export the network landscape shown: .npz (ours), .h5 (loss-landscape), .vtp,
        .ply, .obj (the shown loss layer as a mesh) or .csv, chosen by extension."""
        from lossviewer.compute.network_jobs import cached_network_surface
        from lossviewer.io.landscape_export import EXPORT_FORMATS, export_landscape

        s = self.scene.landscape_settings
        if not s.is_network or s.network is None:
            self.report_error("no network landscape to save: compute one first")
            return False
        surface = cached_network_surface(s.network, s.xrange, s.yrange, s.resolution)
        if surface is None:
            self.report_error("the landscape is still being computed; save it when it is done")
            return False
        if path is None:
            filters = ";;".join(f"{title} (*{ext})" for ext, title in EXPORT_FORMATS.items())
            path, chosen = QFileDialog.getSaveFileName(self._window, "Export network landscape",
                                                       "landscape.npz", filters)
            if not path:
                return False
            if not os.path.splitext(path)[1] and "(*" in chosen:
                path += chosen.split("(*", 1)[1].rstrip(")")
        layer = s.layer if s.layer.endswith("loss") else "train_loss"
        try:
            export_landscape(path, surface, s.network, layer)
        except (OSError, ValueError, ImportError) as exc:
            msg = describe_file_error(exc, path, "write")
            self.report_error(msg)
            return False
        self._window.show_status(f"Saved {os.path.basename(path)}")
        return True
