"""Compute → Cluster… in the window (Xvfb): connect, fill tile by tile, cancel, disconnect."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from lossviewer.compute.network_jobs import cached_network_surface
from lossviewer.core.network_landscape import iter_network_surface

pytestmark = pytest.mark.gl

SMALL = {"samples": 300, "steps": 40, "hidden": (16, 16)}


def _settle(window, qtbot, timeout: int = 120_000) -> None:
    qtbot.wait(200)  # debounce timers
    qtbot.waitUntil(lambda: window.ready, timeout=timeout)
    qtbot.wait(50)


def _connect_local(window, qtbot, workers: int = 2):
    dialog = window.cluster.show_dialog()
    dialog.local_choice.setChecked(True)
    dialog.workers.setValue(workers)
    dialog.connect_button.click()
    assert not dialog.connect_button.isEnabled()  # while it starts: no second click
    qtbot.waitUntil(lambda: window.cluster.connection is not None, timeout=60_000)
    return dialog


def _start_a_finer_grid(window, qtbot, resolution: int) -> None:
    """A network landscape computed, then a finer grid of it started (it takes seconds)."""
    window.scene.set_network_settings(**{**SMALL, "hidden": (32, 32), "samples": 600})
    window.network_dock.compute_button.click()
    qtbot.waitUntil(lambda: window.scene.landscape_settings.is_network, timeout=60_000)
    _settle(window, qtbot)
    window.scene.set_landscape(resolution=resolution)
    qtbot.waitUntil(lambda: window.surface_runner.busy, timeout=30_000)


def test_without_the_extra_the_dialog_says_what_to_install(window, qtbot, monkeypatch):
    import lossviewer.ui.cluster_controller as cc

    monkeypatch.setattr(cc, "cluster_available", lambda: False)
    dialog = window.cluster.show_dialog()
    dialog._show_state(False, "not connected")
    assert "pip install 'lossviewer[cluster]'" in dialog.status.text()
    assert not dialog.connect_button.isEnabled()
    window.cluster.start_local(2)  # a call that slips through changes nothing
    assert window.cluster.connection is None and not window.cluster.connecting
    assert "lossviewer[cluster]" in window.status_label.text()
    # the rest of the window works as before: a network landscape is computed here
    window.scene.set_network_settings(samples=120, steps=20, hidden=(4,))
    window.network_dock.compute_button.click()
    qtbot.waitUntil(lambda: window.scene.landscape_settings.is_network, timeout=60_000)
    _settle(window, qtbot)
    assert window.scene.surface is not None


def test_local_cluster_fills_the_landscape_tile_by_tile(window, qtbot):
    pytest.importorskip("distributed", reason="needs the 'cluster' extra (Dask)")
    dialog = _connect_local(window, qtbot)
    conn = window.cluster.connection
    assert conn.local and window.cluster.info.workers == 2
    assert "local cluster: 2 workers" in dialog.status.text()
    assert dialog.dashboard.isVisible() and "http://127.0.0.1:" in dialog.dashboard.text()
    assert window.cluster_label.isVisible()
    assert window.cluster_label.text() == "Local cluster: 2 workers, 2 threads"
    assert window._cluster_use.isEnabled() and window._cluster_off.isEnabled()

    window.scene.set_network_settings(**SMALL)
    window.network_dock.compute_button.click()
    qtbot.waitUntil(lambda: window.scene.landscape_settings.is_network, timeout=60_000)
    _settle(window, qtbot)
    previews = []
    window.surface_runner.partial.connect(lambda d: previews.append(d))
    window.scene.set_landscape(resolution=101)  # a finer grid: computed on the cluster
    _settle(window, qtbot)
    s = window.scene.landscape_settings
    sl = s.network
    surf = cached_network_surface(sl, s.xrange, s.yrange, s.resolution)
    assert surf is not None and surf.xs.size == 101
    # the grid the cluster computed is the local evaluator's (float32: to rounding)
    ref = iter_network_surface(sl, s.xrange, s.yrange, 101)
    while True:
        try:
            next(ref)
        except StopIteration as stop:
            ref = stop.value
            break
    for k in ("train_loss", "val_loss", "train_acc"):
        np.testing.assert_allclose(surf.layers[k], ref.layers[k], rtol=1e-5, atol=1e-6,
                                   err_msg=k)
    np.testing.assert_allclose(window.scene.surface.surface.Z, ref.layers["train_loss"],
                               rtol=1e-5, atol=1e-6)
    # the views were shown partial pictures as tiles came in (full-size grids)
    tiles = [d for d in previews if d.surface.Z.shape == (101, 101)]
    assert tiles, f"no tile-by-tile preview among {len(previews)} previews"
    assert not np.allclose(tiles[0].surface.Z, ref.layers["train_loss"], rtol=1e-4)

    # workers come and go: reopening the dialog shows how many there are now
    conn._cluster.scale(3)
    conn.client.wait_for_workers(3, timeout=60)

    def three() -> bool:
        window.cluster.show_dialog()
        return "local cluster: 3 workers" in dialog.status.text()

    qtbot.waitUntil(three, timeout=30_000)

    # disconnect: a local cluster is shut down, and grids are computed here again
    window._cluster_off.trigger()
    assert window.cluster.connection is None and window.cluster.engine is None
    qtbot.waitUntil(lambda: conn.closed and conn.client.status in ("closed", "closing"),
                    timeout=30_000)
    assert not window.cluster_label.isVisible()


def test_cancel_stops_the_cluster_work(window, qtbot):
    pytest.importorskip("distributed", reason="needs the 'cluster' extra (Dask)")
    _connect_local(window, qtbot)
    conn = window.cluster.connection
    _start_a_finer_grid(window, qtbot, 201)
    qtbot.waitUntil(lambda: bool(conn.client.processing() and
                                 any(conn.client.processing().values())), timeout=30_000)
    window._escape()  # Esc: cancel
    assert not window.surface_runner.busy
    # the queued tiles are cancelled on the scheduler, not left to run
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = sum(len(v) for v in conn.client.processing().values())
        if left == 0:
            break
        qtbot.wait(100)
    assert left == 0
    # the window stays responsive and the cluster usable: compute again, to the end
    window.scene.set_landscape(resolution=31)
    _settle(window, qtbot)
    assert window.scene.surface.surface.Z.shape == (31, 31)
    assert np.all(np.isfinite(window.scene.surface.surface.Z))


def test_quitting_shuts_a_local_cluster_down(qtbot):
    pytest.importorskip("distributed", reason="needs the 'cluster' extra (Dask)")
    from lossviewer.ui.main_window import MainWindow

    w = MainWindow(persist_layout=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.ready, timeout=30_000)
    w.cluster.start_local(1)
    qtbot.waitUntil(lambda: w.cluster.connection is not None, timeout=60_000)
    pids = list(w.cluster.connection.client.run(os.getpid).values())
    w.close()
    for pid in pids:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        assert not _alive(pid), f"worker process {pid} outlived the window"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) is gone for our purpose
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def test_a_lost_scheduler_is_explained_and_the_window_computes_here_again(window, qtbot):
    pytest.importorskip("distributed", reason="needs the 'cluster' extra (Dask)")
    from tests.dask_processes import scheduler_and_worker

    with scheduler_and_worker() as (address, sched):
        dialog = window.cluster.show_dialog()
        dialog.remote_choice.setChecked(True)
        dialog.address.setText(address)
        dialog.connect_button.click()
        qtbot.waitUntil(lambda: window.cluster.connection is not None, timeout=60_000)
        assert not window.cluster.connection.local
        assert f"scheduler {address}: 1 worker" in dialog.status.text()
        _start_a_finer_grid(window, qtbot, 201)
        qtbot.wait(1500)
        sched.kill()  # the scheduler's machine goes away mid-grid
        qtbot.waitUntil(lambda: "lost the connection" in window.status_label.text(),
                        timeout=60_000)
    assert "computed on this machine again" in window.status_label.text()
    assert window.cluster.connection is None and window.cluster.engine is None
    assert window._failure_box is not None and window._failure_box.isVisible()
    window._failure_box.close()
    # F5: the same grid, computed here
    window.recompute()
    _settle(window, qtbot)
    Z = window.scene.surface.surface.Z
    assert Z.shape == (201, 201) and np.all(np.isfinite(Z))


def test_disconnecting_mid_grid_finishes_it_here(window, qtbot):
    pytest.importorskip("distributed", reason="needs the 'cluster' extra (Dask)")
    _connect_local(window, qtbot)
    _start_a_finer_grid(window, qtbot, 151)
    qtbot.wait(500)
    window._cluster_off.trigger()
    assert window.surface_runner.busy  # started again, here
    _settle(window, qtbot)
    Z = window.scene.surface.surface.Z
    assert Z.shape == (151, 151) and np.all(np.isfinite(Z))
    assert window._failure_box is None or not window._failure_box.isVisible()
    assert "failed" not in window.status_label.text()
