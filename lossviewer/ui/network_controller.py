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
        dock.compute_requested.connect(self.compute)
        self._shown_slice = None
        self._contour = contour_view
        scene.landscape_changed.connect(lambda _s: self._on_landscape())

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
        return self.runner.busy

    def cancel(self) -> bool:
        if self.runner.busy:
            self.runner.cancel()
            return True
        return False

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

    def show_plots(self) -> None:
        """Show the Network plots dock (first time: a modest height under the views)."""
        dock = self.panel.parentWidget()
        while dock is not None and not hasattr(dock, "toggleViewAction"):
            dock = dock.parentWidget()
        if dock is None or dock.isVisible():
            return
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
        """Loss and accuracy of both splits at a plane point (the map's read-out)."""
        s = self.scene.landscape_settings
        sl = s.network
        out = [f"a = {a:.4g}", f"b = {b:.4g}"]
        for split, name in (("train", "training"), ("val", "validation")):
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
        from lossviewer.io.network_files import load_network_landscape

        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self._window, "Open network landscape", "",
                "LossViewer landscape (*.npz);;All files (*)")
            if not path:
                return False
        try:
            lf = load_network_landscape(path)
        except (OSError, ValueError) as exc:
            msg = str(exc) if isinstance(exc, ValueError) else f"cannot read {path}: {exc}"
            self.report_error(msg)
            if self._window.isVisible():
                # not modal: the window stays usable (and a script driving it is not blocked)
                box = QMessageBox(QMessageBox.Icon.Warning, "Cannot open landscape", msg,
                                  QMessageBox.StandardButton.Ok, self._window)
                box.setModal(False)
                box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
                box.show()
            return False
        surf = lf.surface
        nx, ny = surf.xs.size, surf.ys.size
        xr = (float(surf.xs[0]), float(surf.xs[-1]))
        yr = (float(surf.ys[0]), float(surf.ys[-1]))
        sl = lf.network_slice
        keep_network_surface(sl, surf)  # the file's grid: nothing is recomputed
        try:
            self.scene.set_landscape(function="network", network=sl, xrange=xr, yrange=yr,
                                     resolution=nx if nx == ny else max(nx, ny))
        except ValueError as exc:
            self.report_error(str(exc))
            return False
        self.report_error(f"opened {os.path.basename(path)}: {sl.describe()}")
        return True

    def save_file(self) -> None:
        """Save the network landscape shown (all four layers) as .npz."""
        from lossviewer.compute.network_jobs import cached_network_surface
        from lossviewer.io.network_files import save_network_landscape

        s = self.scene.landscape_settings
        if not s.is_network or s.network is None:
            self.report_error("no network landscape to save: compute one first")
            return
        surface = cached_network_surface(s.network, s.xrange, s.yrange, s.resolution)
        if surface is None:
            self.report_error("the landscape is still being computed; save it when it is done")
            return
        path, _ = QFileDialog.getSaveFileName(self._window, "Save network landscape",
                                              "landscape.npz", "LossViewer landscape (*.npz)")
        if not path:
            return
        try:
            save_network_landscape(path, surface, s.network)
        except OSError as exc:
            self.report_error(f"cannot write {path}: {exc.strerror or exc}")
