"""MainWindow: the views, the docks, the runners, and the wiring between them.

Data flow: a dock edits the scene → a debounced handler snapshots what a job
needs into a frozen request → the runner for that job cancels the previous one
and starts the new one on a worker thread → results come back on the GUI
thread, are stored in the scene (dropped if stale) → views redraw.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QWidget,
)

from lossviewer import __version__
from lossviewer.compute.jobs import (
    PathResult,
    PathsRequest,
    RunRequest,
    SurfaceRequest,
    paths_job,
    surface_job,
)
from lossviewer.core.functions import LANDSCAPES
from lossviewer.core.grid import SurfaceDisplay
from lossviewer.core.landscape_spec import FORMULA, NETWORK
from lossviewer.scene.analysis import HEATMAPS
from lossviewer.scene.scene import COLORMAPS, Scene, default_scene
from lossviewer.ui import theme
from lossviewer.ui.analysis_controller import AnalysisController
from lossviewer.ui.cluster_controller import ClusterController
from lossviewer.ui.docks.analysis_dock import AnalysisDock
from lossviewer.ui.docks.landscape_dock import LandscapeDock
from lossviewer.ui.docks.network_dock import NetworkDock
from lossviewer.ui.docks.optimizer_dock import OptimizerDock
from lossviewer.ui.docks.playback_dock import PlaybackDock
from lossviewer.ui.export_controller import ExportController
from lossviewer.ui.file_errors import describe_file_error
from lossviewer.ui.job_runner import JobRunner
from lossviewer.ui.network_controller import NetworkController
from lossviewer.ui.presentation import PresentationMode
from lossviewer.ui.session_controller import SessionController
from lossviewer.ui.views.contour_view import ContourView
from lossviewer.ui.views.loss_plot import LossPlot
from lossviewer.ui.views.network_panel import NetworkPanel
from lossviewer.ui.views.surface_view import SurfaceView
from lossviewer.ui.widgets import ProgressStrip

SURFACE_DEBOUNCE_MS = 120
#: paths are cheap (a few ms): recompute nearly live while a slider is dragged
PATHS_DEBOUNCE_MS = 15
FRAME_INTERVAL_MS = 33
ERROR_SHOWN_MS = 6000
REDRAW_THROTTLE_MS = 40


class MainWindow(QMainWindow):
    def __init__(self, scene: Scene | None = None, function: str | None = None,
                 persist_layout: bool = True) -> None:
        """``persist_layout``: restore and save window geometry and docks (QSettings);
        off for headless renders, which must neither depend on nor change them."""
        super().__init__()
        self._persist_layout = persist_layout
        theme.configure_pyqtgraph()
        self.setWindowTitle("LossViewer")
        self.scene = scene or default_scene()
        if function:
            self.scene.set_landscape(function=function)

        self.surface_view = SurfaceView()
        self.contour_view = ContourView()
        self.loss_plot = LossPlot()
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.surface_view)
        top.addWidget(self.contour_view)
        top.setSizes([600, 500])
        central = QSplitter(Qt.Orientation.Vertical)
        central.addWidget(top)
        central.addWidget(self.loss_plot)
        central.setSizes([640, 200])
        central.setChildrenCollapsible(False)
        self.setCentralWidget(central)

        self.landscape_dock = LandscapeDock(self.scene, self.report_error, self)
        self.optimizer_dock = OptimizerDock(self.scene, self.report_error, self)
        self.playback_dock = PlaybackDock(self.scene, self.report_error, self)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.landscape_dock)
        # neural-network settings: a tab beside the landscape (tabified before the
        # playback dock joins the column, or Qt draws the tab bar twice)
        self.network_dock = NetworkDock(self.scene, self.report_error, self)
        self.tabifyDockWidget(self.landscape_dock, self.network_dock)
        self.landscape_dock.raise_()
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.playback_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.optimizer_dock)

        # -- status bar: message, progress, cancel
        self.status_label = QLabel()
        self.progress = ProgressStrip()
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running computation (Esc)")
        self.cancel_button.setVisible(False)
        # hidden but still laid out: showing them must not resize the status bar,
        # which would resize (and fully repaint) every view while a job runs
        for w in (self.progress, self.cancel_button):
            policy = w.sizePolicy()
            policy.setRetainSizeWhenHidden(True)
            w.setSizePolicy(policy)
        self.statusBar().addWidget(self.status_label, 1)
        # shown while a cluster evaluates network landscapes (Compute → Cluster…)
        self.cluster_label = QLabel()
        self.cluster_label.setToolTip("Network landscape grids are evaluated on this cluster "
                                      "(Compute → Cluster…)")
        self.cluster_label.setVisible(False)
        self.statusBar().addPermanentWidget(self.cluster_label)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)

        # -- runners
        self._runners: list[JobRunner] = []
        self.surface_runner = JobRunner("surface", self)
        self.paths_runner = JobRunner("paths", self)
        for r in (self.surface_runner, self.paths_runner):
            self._attach_runner(r)
        self.analysis = AnalysisController(self.scene, self.surface_view, self.contour_view,
                                           self._attach_runner, self,
                                           busy_elsewhere=lambda: self.surface_runner.busy)
        self.analysis_dock = AnalysisDock(self.scene, self.report_error,
                                          self.analysis.basin_legend, self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.analysis_dock)
        self.tabifyDockWidget(self.optimizer_dock, self.analysis_dock)
        self.optimizer_dock.raise_()
        # the analysis tab's wide table must not widen the right column by default
        self.resizeDocks([self.optimizer_dock], [300], Qt.Orientation.Horizontal)
        # -- neural-network landscapes: settings beside the landscape, plots below
        self.network_panel = NetworkPanel()
        self.network_plots = QDockWidget("Network plots", self)
        self.network_plots.setObjectName("NetworkPlotsDock")
        self.network_plots.setWidget(self.network_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.network_plots)
        self.network_plots.hide()  # shown with the first network landscape
        self.network = NetworkController(self.scene, self.network_dock, self.network_panel,
                                         self._attach_runner, self.report_error, self,
                                         self.contour_view)
        self.session = SessionController(self, self.scene, interactive=persist_layout)
        self.exports = ExportController(self)
        self.cluster = ClusterController(self)
        self._grid_engine = None  # the cluster the last network grid was sent to
        self.cluster.state_changed.connect(self._on_cluster_state)
        self.presentation = PresentationMode(self)
        self.session.changed.append(self._update_title)
        self.landscape_dock.network_requested.connect(self._show_network_dock)
        self.analysis_dock.start_requested.connect(
            lambda x, y: self._on_start_requested(x, y, False))
        self.surface_runner.partial.connect(lambda d: self._on_surface(d, preview=True))
        self.surface_runner.finished.connect(self._on_surface)
        self.paths_runner.partial.connect(self._on_path)
        self.cancel_button.clicked.connect(self.cancel_jobs)
        self._surface_revision_requested = -1
        self._failure_box: QMessageBox | None = None
        self._error_timer = _single_shot(self, ERROR_SHOWN_MS, self._clear_error)
        self._shown_zscale = self.scene.landscape_settings.zscale

        self._surface_timer = _single_shot(self, SURFACE_DEBOUNCE_MS, self._request_surface)
        self._paths_timer = _single_shot(self, PATHS_DEBOUNCE_MS, self._request_paths)
        # redraws are throttled, not debounced: a burst of results (six paths
        # finishing together) costs one redraw, and a steady stream still shows
        self._paths_redraw = _throttle(self, REDRAW_THROTTLE_MS, self._draw_runs)
        self._frame_redraw = _throttle(self, 0, self._draw_frame)

        # -- playback clock
        self._clock = QTimer(self)
        self._clock.setInterval(FRAME_INTERVAL_MS)
        self._clock.timeout.connect(self._tick)
        self._last_tick = time.perf_counter()
        self._frame_pos = 0.0

        # -- scene subscriptions
        s = self.scene
        s.landscape_changed.connect(self._on_landscape_changed)
        s.view_changed.connect(self._on_view_changed)
        s.surface_changed.connect(lambda _d: self._draw_surface())
        s.trajectory_changed.connect(self._on_trajectory_changed)
        s.runs_changed.connect(self._paths_redraw.start)
        s.selection_changed.connect(lambda _r: self._paths_redraw.start())
        s.playback_changed.connect(self._on_playback_changed)
        # a typed formula's f* is the global minimum found: the loss plot follows it
        s.analysis.critical_changed.connect(self._paths_redraw.start)
        self.contour_view.start_requested.connect(self._on_start_requested)
        self.contour_view.hovered.connect(self._on_hover)

        # the theme: the user's choice (remembered), by default the system's colour scheme
        self.theme_choice = "system"
        self._shown_theme = theme.DARK  # what the views are built with
        if persist_layout:
            saved = QSettings().value("view/theme", "system", type=str)
            self.theme_choice = saved if saved in theme.THEME_CHOICES else "system"
        hints = QApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(
                lambda _scheme: self._apply_theme() if self.theme_choice == "system" else None)
        self._build_menus()
        self.setAcceptDrops(True)  # drop a landscape (.npz) or a model file (.py)
        self._restore_layout()
        self._apply_theme()
        self._update_title()
        self._request_surface()
        self._request_paths()
        self.analysis.request()
        self._clock.start()
        self.surface_view.setFocus()
        app = QApplication.instance()
        if app is not None:  # also on quit paths that skip closeEvent (Ctrl+C, app.quit())
            app.aboutToQuit.connect(JobRunner.shutdown)

    # -- menus ---------------------------------------------------------------------
    def _build_menus(self) -> None:
        mb = self.menuBar()
        file = mb.addMenu("&File")
        ses = self.session
        self._action(file, "&New session", "Ctrl+Shift+N", ses.new,
                     "Start again from the default scene")
        self._action(file, "&Open…", QKeySequence.StandardKey.Open, self.open_dialog,
                     "Open a session (.lvs), a network landscape (.npz, .h5) or a model "
                     "file (.py)")
        recent = file.addMenu("Open &recent")
        recent.aboutToShow.connect(lambda: ses.fill_recent_menu(recent))
        self._action(file, "&Save session", QKeySequence.StandardKey.Save, ses.save,
                     "Save the scene: landscape, runs, views, camera and any network "
                     "landscape")
        self._action(file, "Save session &as…", "Ctrl+Shift+S", lambda: ses.save_as(),
                     "Save the scene under another name")
        embed = self._action(file, "&Embed computed results in sessions", None,
                             lambda: ses.set_embed_results(embed.isChecked()),
                             "Paths, critical points and basin maps are saved too, so a "
                             "session reopens without computing them again")
        embed.setCheckable(True)
        embed.setChecked(ses.embed_results)
        file.addSeparator()
        self._action(file, "Open network &landscape…", None, lambda: self.network.open_file(),
                     "Open a landscape saved by 'lossviewer landscape' or Export")
        self._action(file, "Open &model…", "Ctrl+Shift+O", lambda: self.network.open_model(),
                     "Run a PyTorch model file (model(), data(), loss()) and show its landscape")
        export = file.addMenu("&Export")
        ex = self.exports
        self._action(export, "&Image…", "Ctrl+E", ex.export_image_dialog,
                     "PNG of a view at any size (the 3D view up to 3840 × 2160); SVG or PDF "
                     "of the map and the loss plot")
        self._action(export, "&Animation…", "Ctrl+Shift+A", ex.export_animation_dialog,
                     "The race as an animated GIF or an MP4 video")
        self._action(export, "&Paths…", None, ex.export_paths,
                     "Every run's path as a CSV table or NPZ arrays")
        self._action(export, "&Surface…", None, ex.export_surface,
                     "The surface's grid as NPZ or CSV")
        self._action(export, "&Network landscape…", "Ctrl+Shift+E", self.network.save_file,
                     "Save the shown network landscape (training and validation layers): "
                     ".npz, loss-landscape .h5, ParaView .vtp, .ply, .obj, .csv")
        self._action(export, "Window s&creenshot…", "Ctrl+Alt+S", self.save_screenshot,
                     "A PNG of the whole window as it is on screen")
        file.addSeparator()
        self._action(file, "&Quit", QKeySequence.StandardKey.Quit, self.close)

        edit = mb.addMenu("&Edit")
        self._action(edit, "&Copy image", "Ctrl+Shift+C", self.exports.copy_image,
                     "Both views, side by side, to the clipboard")

        view = mb.addMenu("&View")
        pres = self.presentation
        self._action(view, "&Presentation mode", "F11", pres.toggle,
                     "Fullscreen, docks hidden, large type; Esc leaves")
        self._action(view, "&Orbit the camera", "O", pres.toggle_orbit,
                     "Turn the 3D view slowly (again to stop)")
        bookmarks = view.addMenu("Camera &bookmarks")
        for n in range(1, 10):
            self._action(bookmarks, f"Go to bookmark {n}", str(n),
                         lambda n=n: pres.recall_bookmark(n))
        bookmarks.addSeparator()
        for n in range(1, 10):
            self._action(bookmarks, f"Store bookmark {n}", f"Ctrl+{n}",
                         lambda n=n: pres.store_bookmark(n))
        themes = view.addMenu("&Theme")
        self._choice_menu(themes, list(theme.THEME_CHOICES.items()),
                          lambda: self.theme_choice, self.set_theme)
        self._action(view, "&Reset camera", "R", self.surface_view.reset_camera,
                     "Back to the default 3D viewpoint")
        self._action(view, "Toggle &log z-scale", "L", self._toggle_zscale)
        self._action(view, "&Next function", "Ctrl+PgDown", lambda: self._cycle_function(1))
        self._action(view, "&Previous function", "Ctrl+PgUp", lambda: self._cycle_function(-1))
        equal = self._action(view, "&Equal x and y scales on the map", None,
                             lambda: self.set_equal_aspect(equal.isChecked()),
                             "Gradients cross isolines at right angles only with equal scales")
        equal.setCheckable(True)
        equal.setChecked(True)
        self._equal_action = equal
        functions = view.addMenu("&Function")
        colormaps = view.addMenu("&Colormap")
        self._choice_menu(functions, [*((n, c.title) for n, c in LANDSCAPES.items()),
                                      (FORMULA, "Formula (type your own)"),
                                      (NETWORK, "Neural network")],
                          lambda: self.scene.landscape_settings.function,
                          lambda n: self._apply_landscape(function=n))
        self._choice_menu(colormaps, [(n, n.capitalize()) for n in COLORMAPS],
                          lambda: self.scene.landscape_settings.colormap,
                          lambda n: self._apply_landscape(colormap=n))
        view.addSeparator()
        view.addSeparator()
        a = self.scene.analysis
        self._action(view, "Show &critical points", "C",
                     lambda: self._set_analysis(show_critical=not a.settings.show_critical),
                     "Mark minima, maxima and saddle points found by Newton's method")
        self._action(view, "Show &gradient arrows", "G",
                     lambda: self._set_analysis(arrows=not a.settings.arrows),
                     "Arrows along −∇f on the map")
        self._action(view, "Cycle curvature &heatmap", "H", self._cycle_heatmap,
                     "Map colours: loss → λmin → condition number")
        self._action(view, "Show &basins of attraction", "B",
                     lambda: self._set_analysis(basins=not a.settings.basins),
                     "Which minimum the selected run reaches from every start")
        self._action(view, "Training / &validation surface", "V", self.network_dock.toggle_split,
                     "Network landscapes: switch between training and validation loss")
        view.addSeparator()
        for dock in (self.landscape_dock, self.network_dock, self.optimizer_dock,
                     self.analysis_dock, self.playback_dock, self.network_plots):
            view.addAction(dock.toggleViewAction())

        run = mb.addMenu("&Run")
        pb = self.playback_dock
        self._action(run, "&Play / pause", "Space", pb.toggle_play)
        self._action(run, "Step &forward", "Right", lambda: pb.step(1))
        self._action(run, "Step &back", "Left", lambda: pb.step(-1))
        self._action(run, "&Rewind", "Home", lambda: pb._set(frame=0))
        self._action(run, "&End", "End", lambda: pb._set(frame=self.scene.max_steps,
                                                         playing=False))
        run.addSeparator()
        od = self.optimizer_dock
        self._action(run, "&Add run", "Ctrl+N", lambda: od.add_run("sgd"))
        self._action(run, "&Duplicate run", "Ctrl+D", od.duplicate_selected)
        self._action(run, "Re&move run", QKeySequence.StandardKey.Delete, od.remove_selected,
                     also_in=(od.runs,))
        run.addSeparator()
        self._action(run, "Next tour scene", ("PgDown", "N"), pres.next,
                     "Presenter remotes send Page Down")
        self._action(run, "Previous tour scene", ("PgUp", "P"), pres.previous)

        compute = mb.addMenu("&Compute")
        self._action(compute, "Compute &network landscape", "Ctrl+Return", self.network.compute,
                     "Train the network, choose the directions and evaluate the grid")
        self._action(compute, "Re&compute", "F5", self.recompute,
                     "Compute what is out of date (after a cancel or a failure)")
        self._action(compute, "&Cancel computation", "Esc", self._escape,
                     "Stop the running computation; in presentation mode: leave it")
        compute.addSeparator()
        self._action(compute, "C&luster…", "Ctrl+Shift+K", self.cluster.show_dialog,
                     "Evaluate network landscape grids on a Dask cluster (a local one, or "
                     "a scheduler on other machines)")
        self._cluster_use = self._action(
            compute, "&Evaluate landscapes on the cluster", None,
            lambda: self.cluster.set_use_for_grids(self._cluster_use.isChecked()),
            "While a cluster is connected: on, network grids are computed there; off, here")
        self._cluster_use.setCheckable(True)
        self._cluster_use.setChecked(True)
        self._cluster_use.setEnabled(False)
        self._cluster_off = self._action(compute, "&Disconnect cluster", None,
                                         self.cluster.disconnect,
                                         "Compute on this machine again (a local cluster is "
                                         "shut down)")
        self._cluster_off.setEnabled(False)

        help_ = mb.addMenu("&Help")
        self._action(help_, "Play the loss-surface &tour", None, self.play_builtin_tour,
                     "Ten scenes, from valleys and hills to overfitting, in presentation mode")
        self._action(help_, "Play a tour &file…", None, self.open_tour,
                     "A tour you wrote (TOML or JSON: captions, landscapes, runs, camera)")
        self._action(help_, "&Keyboard shortcuts", "F1", self._show_shortcuts)
        self._action(help_, "3D view &blank or crashing?", None, self._show_gl_help,
                     "How to start with software OpenGL")
        self._action(help_, "&About LossViewer", None, self._show_about)

    def _choice_menu(self, menu: QMenu, choices: list[tuple[str, str]], current, choose) -> None:
        """A menu of exclusive, checkable choices kept in step with the scene."""
        group = QActionGroup(menu)
        acts = {}
        for key, text in choices:
            act = menu.addAction(text)
            act.setCheckable(True)
            group.addAction(act)
            act.triggered.connect(lambda _c=False, k=key: choose(k))
            acts[key] = act
        menu.aboutToShow.connect(lambda: acts[current()].setChecked(True))

    def _show_network_dock(self) -> None:
        """"Neural network" chosen before any was computed: compute the dock's settings."""
        self.network_dock.show()
        self.network_dock.raise_()
        self.network.compute()

    def _apply_landscape(self, **changes) -> None:
        if changes.get("function") == NETWORK and self.scene.landscape_settings.network is None:
            self._show_network_dock()
            return
        if changes.get("function") == FORMULA and not self.scene.landscape_settings.is_formula:
            self.landscape_dock.choose_formula()  # derived on a worker first
            return
        try:
            self.scene.set_landscape(**changes)
        except ValueError as exc:
            self.report_error(str(exc))
            return
        if "function" in changes:
            self.scene.set_playback(frame=0, playing=True)

    def _action(self, menu, text, shortcut, slot, tip: str = "",
                also_in: tuple[QWidget, ...] = ()) -> QAction:
        """A menu action. Shortcuts with a modifier work anywhere in the window; bare
        keys (Space, arrows, R, L, Delete) only while the views, the playback dock or
        ``also_in`` have focus, so they never steal a key a slider or field needs."""
        act = QAction(text, self)
        owners: tuple[QWidget, ...] = (self,)
        if shortcut is not None:
            seqs = [QKeySequence(k) for k in (shortcut if isinstance(shortcut, tuple)
                                              else (shortcut,))]
            act.setShortcuts(seqs)
            seq = seqs[0]
            bare = seq.count() == 1 and not (seq[0].keyboardModifiers()
                                             & ~Qt.KeyboardModifier.KeypadModifier)
            if bare and seq[0].key() not in (Qt.Key.Key_Escape, Qt.Key.Key_F1, Qt.Key.Key_F5,
                                             Qt.Key.Key_F11):
                act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                owners = (self.centralWidget(), self.playback_dock, *also_in)
            else:
                act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(lambda _checked=False: slot())
        menu.addAction(act)
        for owner in owners:
            owner.addAction(act)
        return act

    # -- errors and progress ---------------------------------------------------------
    def report_error(self, message: str) -> None:
        """A bad value from a widget: say so in the status bar, keep the last good value."""
        self.status_label.setText(f"⚠ {message}")
        self.status_label.setStyleSheet("color: #ffb020;")
        self._error_timer.start()  # restarts: an older message's timer cannot wipe this one

    def show_status(self, message: str) -> None:
        """A plain note (a file saved or opened) in the same place as errors, so the two
        never overlap; it goes after a few seconds like an error does."""
        self.status_label.setText(message)
        self.status_label.setStyleSheet("")
        self._error_timer.start()

    def _on_cluster_state(self, connected: bool, text: str) -> None:
        if (self._grid_engine is not None and self.cluster.engine is None
                and self.surface_runner.busy):
            self._request_surface()  # the cluster went away under a grid: go on here
        self._cluster_use.setEnabled(connected)
        self._cluster_off.setEnabled(connected or self.cluster.connecting)
        engine = self.cluster.engine is not None
        self.cluster_label.setVisible(engine or self.cluster.connecting)
        self.cluster_label.setText(text[:1].upper() + text[1:] if engine else "Cluster: " + text)
        if not connected and not self.cluster.connecting and text != "not connected":
            self.report_error(f"Cluster: {text}")

    def _clear_error(self) -> None:
        self.status_label.setStyleSheet("")
        self.status_label.setText("")

    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.set_progress(fraction, text)

    def _attach_runner(self, runner: JobRunner) -> None:
        """Every runner reports progress, failures and busy state to the status bar."""
        runner.progress.connect(self._on_progress)
        runner.failed.connect(self._on_failed)
        runner.busy_changed.connect(self._on_busy)
        self._runners.append(runner)

    def _on_busy(self, _busy: bool) -> None:
        busy = any(r.busy for r in self._runners)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if not busy:
            self.progress.set_progress(0.0)

    def _on_failed(self, message: str) -> None:
        first = message.split("\n", 1)[0]
        if first.startswith("ClusterError: "):
            first = "Cluster: " + first[len("ClusterError: "):]
            if self.cluster.lost():  # compute here again, say why; F5 recomputes
                self.cluster.disconnect()
                first += ". Landscapes are computed on this machine again (F5 recomputes)"
        self.report_error(f"Computation failed: {first}")
        if self._failure_box is None:  # one box, updated, instead of a stack of them
            self._failure_box = QMessageBox(QMessageBox.Icon.Warning, "Computation failed", "",
                                            QMessageBox.StandardButton.Ok, self)
            self._failure_box.setModal(False)
        self._failure_box.setText(first)
        self._failure_box.setDetailedText(message)
        self._failure_box.show()

    def cancel_jobs(self) -> None:
        """Stop the surface and analysis computations (paths take milliseconds and go on)."""
        if self.network.cancel():
            self.report_error("Network training cancelled; the landscape shown is unchanged")
        analysing = any(r.busy for r in self.analysis.runners)
        if analysing:
            self.analysis.cancel()
        if self.surface_runner.busy:
            self.surface_runner.cancel()
            self._surface_revision_requested = -1
            self.report_error("Surface cancelled: the map shown is out of date (F5 computes it)")
            self._update_stale_note()
        elif analysing:
            self.report_error("Analysis cancelled (F5 computes it)")

    def recompute(self) -> None:
        """Compute whatever is out of date (after a cancel or a failure)."""
        if not self.scene.surface_up_to_date and not self.surface_runner.busy:
            self._request_surface()
        if self.scene.stale_runs() and not self.paths_runner.busy:
            self._request_paths()
        self.analysis.recompute()

    # -- jobs ----------------------------------------------------------------------
    # -- theme ---------------------------------------------------------------------------
    def set_theme(self, choice: str) -> None:
        """View → Theme: "system" (follow the desktop), "dark" or "light"; remembered."""
        if choice not in theme.THEME_CHOICES:
            raise ValueError(f"unknown theme {choice!r}; known: {', '.join(theme.THEME_CHOICES)}")
        self.theme_choice = choice
        if self._persist_layout:
            QSettings().setValue("view/theme", choice)
        self._apply_theme()

    def _apply_theme(self) -> None:
        choice = self.theme_choice
        if choice == "system":
            hints = QApplication.styleHints()
            light = (hasattr(hints, "colorScheme")
                     and hints.colorScheme() == Qt.ColorScheme.Light)
            colors = theme.LIGHT if light else theme.DARK
        else:
            colors = theme.THEMES[choice]
        theme.active = colors
        app = QApplication.instance()
        # a palette change repolishes every widget (~50 ms): only when it changes
        if app is not None and app.palette().color(
                app.palette().ColorRole.Window).name() != colors.window:
            app.setPalette(theme.qt_palette(colors))
        if colors is self._shown_theme:
            return  # the views are drawn in these colours already (dark when built)
        self._shown_theme = colors
        for view in (self.surface_view, self.contour_view, self.loss_plot, self.network_panel):
            view.apply_theme(colors)
        self._paths_redraw.start()

    def _escape(self) -> None:
        if self.presentation.active:
            self.presentation.leave()
        else:
            self.cancel_jobs()

    def play_builtin_tour(self) -> None:
        from lossviewer.scene.tour import builtin_tour

        self.presentation.play_tour(builtin_tour())

    def open_tour(self, path: str | None = None) -> bool:
        from lossviewer.scene.tour import load_tour

        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Play a tour", "",
                                                  "Tour (*.toml *.json);;All files (*)")
            if not path:
                return False
        try:
            tour = load_tour(path)
        except (OSError, ValueError) as exc:
            msg = describe_file_error(exc, path, "read")
            self.report_error(msg)
            if self.session.interactive and self.isVisible():
                QMessageBox.warning(self, "Cannot play the tour", msg)
            return False
        self.presentation.play_tour(tour)
        return True

    def _show_gl_help(self) -> None:
        from lossviewer.ui.gl_info import gl_renderer_name

        QMessageBox.information(
            self, "3D view blank or crashing?",
            f"<p>OpenGL renderer: <b>{gl_renderer_name() or 'none found'}</b></p>"
            "<p>If the 3D view stays black, flickers or the app crashes when it opens, the "
            "graphics driver's OpenGL is at fault. Start LossViewer with software OpenGL:</p>"
            "<pre>lossviewer --software-gl</pre>"
            "<p>It is slower (the CPU draws every frame) but works everywhere.</p>")

    def set_equal_aspect(self, equal: bool) -> None:
        self._equal_action.setChecked(equal)
        if equal != self.contour_view.aspect_locked:
            self.contour_view.setAspectLocked(equal)
            self.session._touched()

    def _update_title(self) -> None:
        session = getattr(self, "session", None)
        name = session.name if session is not None else "Untitled"
        self.setWindowTitle(f"{name}[*] — LossViewer — {self.scene.landscape_settings.title}")
        self.setWindowModified(session is not None and session.dirty)

    def _on_landscape_changed(self, _settings) -> None:
        self._update_title()
        if self.scene.landscape_revision != self._surface_revision_requested:
            self._surface_timer.start()

    def _request_surface(self) -> None:
        s = self.scene.landscape_settings
        rev = self.scene.landscape_revision
        self._surface_revision_requested = rev
        self._grid_engine = self.cluster.engine if s.is_network else None
        req = SurfaceRequest.create(s.spec(), None, s.xrange, s.yrange, s.resolution, rev,
                                    s.layer, cluster=self._grid_engine)
        self.surface_runner.submit(surface_job, req)
        self._update_stale_note()

    def _on_surface(self, data: SurfaceDisplay, preview: bool = False) -> None:
        # the runner drops results of older jobs; the scene drops results for
        # settings that changed while this job ran
        self.scene.set_surface(data, self._surface_revision_requested, preview)

    def _on_trajectory_changed(self, run_id: int) -> None:
        if run_id in self.scene.stale_runs():
            self._paths_timer.start()
        self._paths_redraw.start()

    def _request_paths(self) -> None:
        stale = self.scene.stale_runs()
        if not stale:
            return
        s = self.scene.landscape_settings
        runs = []
        for rid in stale:
            r = self.scene.runs[rid]
            runs.append(RunRequest(
                run_id=rid, revision=self.scene.run_revision[rid], optimizer=r.optimizer,
                hyper=tuple(sorted(r.hyper.items())), start=tuple(r.start), steps=r.steps,
                schedule=r.schedule, schedule_params=tuple(sorted(r.schedule_params.items())),
                noise=r.noise, seed=r.seed))
        req = PathsRequest(s.spec(), tuple(runs))
        self.paths_runner.submit(paths_job, req)

    def _on_path(self, result: PathResult) -> None:
        self.scene.set_trajectory(result.run_id, result.revision, result.trajectory)
        if self.scene.playback.frame > self.scene.max_steps:
            self.scene.set_playback(frame=self.scene.max_steps)

    # -- drawing ---------------------------------------------------------------------
    def _draw_surface(self) -> None:
        data = self.scene.surface
        if data is None:
            return
        s = self.scene.landscape_settings
        self.surface_view.set_surface(data, s.zscale, s.colormap)
        self.contour_view.set_surface(data, s.zscale, s.colormap)
        self._shown_zscale = s.zscale
        disp = data.scales[s.zscale].display
        bad = int(np.count_nonzero(~np.isfinite(data.surface.Z))) if s.is_network else 0
        if bad and not self._error_timer.isActive():
            self.status_label.setText(
                f"{bad} grid points have a non-finite loss (the network's outputs "
                "overflow there); shown clipped at the top of the scale")
        elif disp.clipped and not self._error_timer.isActive():
            self.status_label.setText(
                f"{disp.clipped} surface values were clipped for display "
                f"(overflowing or far above the rest)")
        elif not self._error_timer.isActive():
            self.status_label.setText("")
        self._update_stale_note()
        self._draw_runs()

    def _on_view_changed(self, settings) -> None:
        if settings.zscale != self._shown_zscale or self.scene.surface is None:
            self._draw_surface()
        else:  # only the colormap: recolour, nothing to rebuild
            self.surface_view.set_colormap(settings.colormap)
            self.contour_view.set_colormap(settings.colormap)

    def _update_stale_note(self) -> None:
        sc = self.scene
        if sc.surface is None or sc.surface_up_to_date:
            note = ""
        elif self.surface_runner.busy:
            note = "computing…" if sc.surface_is_preview else "updating…"
        else:
            note = "out of date — F5 computes it"
        self.contour_view.set_note(note)

    def _draw_runs(self) -> None:
        """Everything that depends on the runs' paths: loss curves, then the frame."""
        curves = []
        for rid, run in self.scene.runs.items():
            if not run.visible:
                continue
            traj = self.scene.trajectories.get(rid)
            # a run still computing keeps its (empty) curve, so the legend stays put
            loss = traj.loss[0] if traj is not None else np.empty(0)
            stop = int(traj.stop[0]) if traj is not None else -1
            name = run.name
            if traj is not None and traj.status[0] == "diverged":
                name += f"  ✕ diverged at step {stop + 1}"
            curves.append({"run_id": rid, "name": name, "color": run.color, "loss": loss,
                           "stop": stop})
        floor, clip = self._loss_scale(curves)
        self.loss_plot.set_curves(curves, floor, clip)
        self._draw_frame()

    def _draw_frame(self) -> None:
        """Paths up to the current step (and trail) with their markers; cheap per frame."""
        data = self.scene.surface
        frame = self.scene.playback.frame
        trail = self.scene.playback.trail
        disp = data.scales[self.scene.landscape_settings.zscale].display if data else None
        paths = []
        for rid, run in self.scene.runs.items():
            if not run.visible:
                continue
            traj = self.scene.trajectories.get(rid)
            if traj is None:
                paths.append({"run_id": rid, "xy": np.zeros((0, 2)), "zd": np.zeros(0),
                              "color": run.color, "head": None, "start": (*run.start, 0.0)})
                continue
            stop = int(traj.stop[0])
            end = min(frame, stop)
            first = max(0, end - trail) if trail else 0
            loss = traj.loss[0, first : end + 1]
            zd = disp.transform(loss) if disp is not None else loss
            ends = disp.transform(traj.loss[0, [0, end]]) if disp is not None else (0.0, 0.0)
            paths.append({
                "run_id": rid, "xy": traj.points[0, first : end + 1, :2], "zd": zd,
                "color": run.color, "head": (*traj.points[0, end, :2], float(ends[1])),
                "start": (*run.start, float(ends[0])), "selected": rid == self.scene.selected,
                "diverged": traj.status[0] == "diverged" and end >= stop})
        training = self.network.training_path(disp)
        if training is not None:
            paths.append(training)
        if disp is not None:
            self.surface_view.set_paths(paths)
        self.contour_view.set_paths(paths)
        self.loss_plot.set_frame(frame)

    def _found_minimum(self) -> float | None:
        """The lowest minimum the critical-point analysis found for the current landscape."""
        a = self.scene.analysis
        if a.critical is None or a.critical_key != self.scene.critical_key():
            return None
        values = [p.value for p in a.critical if p.is_global and np.isfinite(p.value)]
        return min(values) if values else None

    def _loss_scale(self, curves: list[dict]) -> tuple[float | None, tuple[float, float] | None]:
        """(floor, clip) for the loss plot: log of loss − f* when the function has a
        known minimum (or, for a typed formula, a global minimum found in the domain),
        else the raw loss; clipped a decade past the surface's range."""
        best = self.scene.landscape.global_minimum()
        best_value = best.value if best is not None else self._found_minimum()
        data = self.scene.surface
        lo, hi = data.surface.finite_range() if data is not None else (np.nan, np.nan)
        if best_value is None:
            span = hi - lo if np.isfinite(hi - lo) and hi > lo else None
            return None, ((lo - span, hi + span) if span else None)
        lows = [float(np.nanmin(c["loss"][: c["stop"] + 1])) for c in curves if c["stop"] >= 0]
        floor = min([best_value, *lows, *([lo] if np.isfinite(lo) else [])])
        ceiling = 10 * (hi - floor) if np.isfinite(hi) and hi > floor else None
        return floor, ((0.0, ceiling) if ceiling else None)

    # -- playback ------------------------------------------------------------------
    def _on_playback_changed(self, pb) -> None:
        if abs(self._frame_pos - pb.frame) >= 1:
            self._frame_pos = float(pb.frame)
        self._frame_redraw.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        dt = min(now - self._last_tick, 0.25)
        self._last_tick = now
        pb = self.scene.playback
        total = self.scene.max_steps
        if not pb.playing or total == 0 or len(self.scene.trajectories) < len(self.scene.runs):
            return
        self._frame_pos += pb.speed * dt
        frame = int(self._frame_pos)
        if frame >= total:
            if pb.loop:
                self._frame_pos = 0.0
                frame = 0
            else:
                self.scene.set_playback(frame=total, playing=False)
                return
        if frame != pb.frame:
            self.scene.set_playback(frame=frame)

    # -- interaction -------------------------------------------------------------------
    def _on_start_requested(self, x: float, y: float, all_runs: bool) -> None:
        try:
            self.scene.set_start((x, y), -1 if all_runs else None)
        except ValueError as exc:
            self.report_error(str(exc))
            return
        self.scene.set_playback(frame=0, playing=True)

    def _on_hover(self, x: float, y: float) -> None:
        if not np.isfinite(x):
            self.contour_view.show_readout(x, y, "")
            return
        if self.scene.landscape_settings.is_network:
            self.contour_view.show_readout(x, y, self.network.hover_text(x, y))
            return
        from lossviewer.core.curvature import hessian_eigenvalues

        land = self.scene.landscape
        with np.errstate(all="ignore"):
            f = float(land.value(np.array([x, y])))
            g = float(np.linalg.norm(land.grad(np.array([x, y]))))
            lam = hessian_eigenvalues(land.hess(np.array([x, y])))
        eig = (f"λ = {lam[0]:.4g}, {lam[1]:.4g}" if np.isfinite(lam).all()
               else "λ = undefined here")
        text = f"x = {x:.4g}\ny = {y:.4g}\nloss = {f:.6g}\n|∇loss| = {g:.4g}\n{eig}"
        self.contour_view.show_readout(x, y, text)

    def _set_analysis(self, **changes) -> None:
        try:
            self.scene.analysis.set(**changes)
        except ValueError as exc:
            self.report_error(str(exc))

    def _cycle_heatmap(self) -> None:
        order = list(HEATMAPS)
        i = order.index(self.scene.analysis.settings.heatmap)
        self._set_analysis(heatmap=order[(i + 1) % len(order)])

    def _toggle_zscale(self) -> None:
        z = self.scene.landscape_settings.zscale
        self._apply_landscape(zscale="linear" if z == "log" else "log")

    def _cycle_function(self, delta: int) -> None:
        names = [*LANDSCAPES, FORMULA]
        if self.scene.landscape_settings.network is not None:
            names.append(NETWORK)
        i = names.index(self.scene.landscape_settings.function)
        self._apply_landscape(function=names[(i + delta) % len(names)])

    # -- drag and drop --------------------------------------------------------------------
    DROP_SUFFIXES = (".lvs", ".npz", ".h5", ".py")

    def _dropped_path(self, event) -> str | None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        paths = [u.toLocalFile() for u in urls if u.isLocalFile()]
        if len(paths) == 1 and paths[0].lower().endswith(self.DROP_SUFFIXES):
            return paths[0]
        return None

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._dropped_path(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        path = self._dropped_path(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_path(path)

    def open_dialog(self) -> bool:
        """File → Open…: any file the window opens, by extension."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Open", "", "Everything LossViewer opens (*.lvs *.npz *.h5 *.py);;"
            "Session (*.lvs);;Network landscape (*.npz *.h5);;PyTorch model file (*.py);;"
            "All files (*)")
        return bool(path) and self.open_path(path)

    def open_path(self, path: str) -> bool:
        """Open a session, a landscape, or (after asking: it is code) a model file."""
        if path.lower().endswith(".lvs"):
            return self.session.open(path)
        if path.lower().endswith(".py"):
            answer = QMessageBox.question(
                self, "Run model file?",
                f"{path}\n\nA model file is Python code and runs with your permissions. "
                "Run it to show its model's landscape?")
            if answer != QMessageBox.StandardButton.Yes:
                return False
            return self.network.open_model(path)
        return self.network.open_file(path)

    def save_screenshot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "lossviewer.png",
                                              "PNG image (*.png)")
        if path:
            if not self.grab().save(path):
                self.report_error(f"could not write {path}")

    def _show_shortcuts(self) -> None:
        rows = "".join(
            f"<tr><td><b>{', '.join(k.toString() for k in a.shortcuts())}</b></td>"
            f"<td>{a.text().replace('&', '')}</td></tr>"
            for menu in self.menuBar().findChildren(QMenu) for a in menu.actions()
            if not a.shortcut().isEmpty())
        QMessageBox.information(self, "Keyboard shortcuts",
                                f"<table cellspacing=6>{rows}</table>"
                                "<p>Click the contour map to move the selected run's start; "
                                "Shift-click moves every run's start.</p>")

    def _show_about(self) -> None:
        import numpy
        import pyqtgraph
        import PySide6
        from PySide6.QtCore import qVersion

        from lossviewer.ui.gl_info import gl_renderer_name

        rows = [("LossViewer", __version__), ("Qt", qVersion()),
                ("PySide6", PySide6.__version__), ("pyqtgraph", pyqtgraph.__version__),
                ("NumPy", numpy.__version__),
                ("OpenGL renderer", gl_renderer_name() or "none found")]
        table = "".join(f"<tr><td>{k}</td><td><b>{v}</b></td></tr>" for k, v in rows)
        QMessageBox.about(self, "About LossViewer",
                          f"<h3>LossViewer {__version__}</h3>"
                          "<p>A bird's-eye view of loss surfaces and the optimizers "
                          f"that walk on them.</p><table cellspacing=4>{table}</table>")

    # -- persistence and shutdown ----------------------------------------------------
    def _restore_layout(self) -> None:
        if not self._persist_layout:
            return
        settings = QSettings()
        geom = settings.value("window/geometry", type=bytes)
        state = settings.value("window/state", type=bytes)
        if geom:
            self.restoreGeometry(geom)
        if state:
            self.restoreState(state)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self.session.maybe_save():
            event.ignore()
            return
        for timer in (self._clock, self._surface_timer, self._paths_timer, self._paths_redraw,
                      self._frame_redraw, self._error_timer):
            timer.stop()
        self.analysis.stop_timers()
        if self._persist_layout:
            settings = QSettings()
            settings.setValue("window/geometry", self.saveGeometry())
            settings.setValue("window/state", self.saveState())
        JobRunner.shutdown()
        self.cluster.shutdown()
        super().closeEvent(event)

    @property
    def scene_ready(self) -> bool:
        """The surface and every run's path are computed (the analysis may still run)."""
        return (self.scene.surface_up_to_date and not self.scene.stale_runs()
                and not self.surface_runner.busy and not self.paths_runner.busy
                and not self.network.busy)

    @property
    def ready(self) -> bool:
        """True once everything shown is computed (analysis included) and nothing runs."""
        return self.scene_ready and self.analysis.up_to_date


class _Throttle(QTimer):
    """A single-shot timer whose start() does nothing while it is pending."""

    def start(self) -> None:  # type: ignore[override]
        if not self.isActive():
            super().start()


def _single_shot(parent: QWidget, ms: int, slot, kind: type[QTimer] = QTimer) -> QTimer:
    t = kind(parent)
    t.setSingleShot(True)
    t.setInterval(ms)
    t.timeout.connect(slot)
    return t


def _throttle(parent: QWidget, ms: int, slot) -> QTimer:
    return _single_shot(parent, ms, slot, _Throttle)
