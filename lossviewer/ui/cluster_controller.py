"""Compute → Cluster…: connect to a Dask scheduler or start a local cluster.

While a cluster is connected and "Evaluate landscapes on the cluster" is on, the
grids of network landscapes (built-in models and model files) are evaluated on
it tile by tile; training, directions, races and analysis stay in this process.
Connecting and closing run on a plain thread (starting worker processes takes
seconds; a scheduler that does not answer takes the connect timeout), so the
window never waits; the result comes back through a queued signal.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lossviewer.compute.cluster import (
    MAX_LOCAL_WORKERS,
    ClusterConnection,
    ClusterError,
    ClusterInfo,
    check_address,
    cluster_available,
    cluster_hint,
    local_worker_default,
)

DEFAULT_ADDRESS = "tcp://127.0.0.1:8786"


class ClusterController(QObject):
    """Owns the connection; the window asks :attr:`engine` for each network grid."""

    #: (connected, one line for the status: what it is, or what went wrong)
    state_changed = Signal(bool, str)
    _connected = Signal(object, str)  # from the connecting thread: (connection | None, error)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._window = parent
        self.connection: ClusterConnection | None = None
        self.info: ClusterInfo | None = None
        self.use_for_grids = True
        self.connecting = False
        self._attempt = 0
        self._connected.connect(self._on_connected, Qt.ConnectionType.QueuedConnection)
        self.dialog: ClusterDialog | None = None

    # -- what the window uses ------------------------------------------------------------
    @property
    def engine(self) -> ClusterConnection | None:
        """The connection to evaluate grids on (None: evaluate here)."""
        if self.use_for_grids and self.connection is not None and not self.connection.closed:
            return self.connection
        return None

    def set_use_for_grids(self, on: bool) -> None:
        self.use_for_grids = bool(on)
        self.state_changed.emit(self.connection is not None, self.describe())

    def describe(self) -> str:
        if self.connecting:
            return "connecting …"
        if self.connection is None or self.info is None:
            return "not connected"
        note = "" if self.use_for_grids else " (not used: landscapes are computed here)"
        return self.info.describe() + note

    # -- connecting ------------------------------------------------------------------------
    def start_local(self, workers: int) -> None:
        self._begin(lambda: ClusterConnection.start_local(workers))

    def connect_to(self, address: str) -> None:
        try:
            address = check_address(address)
        except ClusterError as exc:
            self.state_changed.emit(self.connection is not None, str(exc))
            return

        def connect() -> ClusterConnection:
            conn = ClusterConnection.connect(address)
            try:
                conn.wait_for_workers(1, timeout=15)
            except ClusterError:
                conn.close()
                raise
            return conn

        self._begin(connect)

    def _begin(self, make: Any) -> None:
        if not cluster_available():
            self.state_changed.emit(False, cluster_hint())
            return
        self.disconnect()
        self._attempt += 1
        attempt = self._attempt
        self.connecting = True
        self.state_changed.emit(False, self.describe())

        def run() -> None:
            try:
                conn = make()
                conn.info()  # fails here, not in the GUI thread, when it is unusable
            except ClusterError as exc:
                self._connected.emit((attempt, None), str(exc))
            except Exception as exc:  # noqa: BLE001 - shown to the user, never silent
                self._connected.emit((attempt, None), f"{type(exc).__name__}: {exc}")
            else:
                if attempt != self._attempt:  # given up meanwhile (or the app quits)
                    conn.close()
                    return
                self._connected.emit((attempt, conn), "")

        threading.Thread(target=run, name="lossviewer-cluster-connect", daemon=True).start()

    def _on_connected(self, result: tuple[int, ClusterConnection | None], error: str) -> None:
        attempt, conn = result
        if attempt != self._attempt:  # abandoned (disconnected or retried meanwhile)
            if conn is not None:
                _close_in_background(conn)
            return
        self.connecting = False
        if conn is None:
            self.state_changed.emit(False, error)
            return
        try:
            self.info = conn.info()
        except ClusterError as exc:
            _close_in_background(conn)
            self.state_changed.emit(False, str(exc))
            return
        self.connection = conn
        self.state_changed.emit(True, self.describe())

    def refresh(self) -> None:
        """Ask the scheduler again how many workers it has (workers come and go)."""
        if self.connection is None:
            return
        try:
            self.info = self.connection.info()
        except ClusterError as exc:
            self.state_changed.emit(True, str(exc))
            return
        self.state_changed.emit(True, self.describe())

    def lost(self) -> bool:
        """Whether the connected cluster's scheduler is gone."""
        return self.connection is not None and self.connection.lost()

    def disconnect(self) -> None:
        """Forget the cluster (a local one is shut down, in the background)."""
        self._attempt += 1
        self.connecting = False
        conn, self.connection, self.info = self.connection, None, None
        if conn is not None:
            _close_in_background(conn)
            self.state_changed.emit(False, "not connected")

    def shutdown(self) -> None:
        """On quit: close now (a local cluster's processes must not outlive the app)."""
        self._attempt += 1
        conn, self.connection = self.connection, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001, S110 - quitting: nothing left to tell
                pass

    # -- the dialog ------------------------------------------------------------------------
    def show_dialog(self) -> ClusterDialog:
        if self.dialog is None:
            self.dialog = ClusterDialog(self, self._window)
        self.refresh()  # workers come and go: show how many there are now
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        return self.dialog


def _close_in_background(conn: ClusterConnection) -> None:
    threading.Thread(target=conn.close, name="lossviewer-cluster-close", daemon=True).start()


class ClusterDialog(QDialog):
    """Local cluster or scheduler address; status, dashboard link; not modal."""

    def __init__(self, controller: ClusterController, parent: QWidget) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("Cluster")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        intro = QLabel("Evaluate network landscape grids on a Dask cluster: tile by tile, "
                       "with the same progress, cancel and result as on this machine. "
                       "Training, races and analysis stay here.")
        intro.setWordWrap(True)
        layout.addWidget(intro)

        grid = QGridLayout()
        self.local_choice = QRadioButton("Start a local cluster with")
        self.local_choice.setToolTip("Worker processes on this machine (loopback only); "
                                     "closed when you disconnect or quit")
        self.workers = QSpinBox()
        self.workers.setRange(1, MAX_LOCAL_WORKERS)
        self.workers.setValue(local_worker_default())
        self.workers.setSuffix(" worker processes")
        self.workers.setToolTip("One per core is a good start; they share the cores")
        self.remote_choice = QRadioButton("Connect to a scheduler at")
        self.remote_choice.setToolTip("A running 'dask scheduler' with workers on other "
                                      "machines (see docs/cluster.md)")
        self.address = QLineEdit(DEFAULT_ADDRESS)
        self.address.setToolTip("tcp://HOST:PORT of the scheduler (port 8786 by default)")
        self.address.textEdited.connect(lambda _t: self.remote_choice.setChecked(True))
        self.workers.valueChanged.connect(lambda _v: self.local_choice.setChecked(True))
        group = QButtonGroup(self)
        group.addButton(self.local_choice)
        group.addButton(self.remote_choice)
        self.local_choice.setChecked(True)
        grid.addWidget(self.local_choice, 0, 0)
        grid.addWidget(self.workers, 0, 1)
        grid.addWidget(self.remote_choice, 1, 0)
        grid.addWidget(self.address, 1, 1)
        layout.addLayout(grid)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self.dashboard = QLabel()
        self.dashboard.setOpenExternalLinks(True)
        self.dashboard.setToolTip("Dask's dashboard: tasks, workers, memory (in a browser)")
        layout.addWidget(self.dashboard)

        buttons = QDialogButtonBox()
        self.connect_button = QPushButton("Connect")
        self.connect_button.setDefault(True)
        self.connect_button.setToolTip("Start the local cluster or connect to the scheduler")
        self.disconnect_button = QPushButton("Disconnect")
        self.disconnect_button.setToolTip("Compute landscapes on this machine again "
                                          "(a local cluster is shut down)")
        buttons.addButton(self.connect_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.disconnect_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        self.connect_button.clicked.connect(self._connect)
        self.disconnect_button.clicked.connect(controller.disconnect)
        layout.addWidget(buttons)
        controller.state_changed.connect(self._show_state)
        self._show_state(controller.connection is not None, controller.describe())

    def _connect(self) -> None:
        if self.local_choice.isChecked():
            self.controller.start_local(self.workers.value())
        else:
            self.controller.connect_to(self.address.text())

    def _show_state(self, connected: bool, text: str) -> None:
        available = cluster_available()
        if not available:
            text = cluster_hint()
        self.status.setText(f"<b>Status:</b> {_escape(text)}")
        link = ""
        if connected and self.controller.info is not None:
            link = self.controller.info.dashboard
        self.dashboard.setText(f'Dashboard: <a href="{_escape(link)}">{_escape(link)}</a>'
                               if link else "")
        self.dashboard.setVisible(bool(link))
        busy = self.controller.connecting
        self.connect_button.setEnabled(available and not busy)
        self.disconnect_button.setEnabled(connected or busy)
        for w in (self.local_choice, self.workers, self.remote_choice, self.address):
            w.setEnabled(available and not busy)


def _escape(text: str) -> str:
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))
