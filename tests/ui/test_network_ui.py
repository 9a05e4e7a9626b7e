"""Neural-network landscapes in the window (Xvfb): compute, layers, paths, plots, files."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from lossviewer.compute.network_jobs import cached_network_surface
from lossviewer.core.network_landscape import NetworkLandscape
from lossviewer.ui.network_controller import TRAINING_PATH_ID
from lossviewer.ui.offscreen import distinct_colors, image_to_array

pytestmark = pytest.mark.gl

SMALL = {"samples": 200, "steps": 60, "hidden": (8,)}


def _settle(window, qtbot, timeout: int = 60_000) -> None:
    qtbot.wait(200)  # debounce timers
    qtbot.waitUntil(lambda: window.ready, timeout=timeout)
    qtbot.wait(50)


def _computed(window, qtbot, **settings):
    window.scene.set_network_settings(**{**SMALL, **settings})
    window.network_dock.compute_button.click()
    qtbot.waitUntil(lambda: window.scene.landscape_settings.is_network, timeout=60_000)
    _settle(window, qtbot)
    return window.scene.landscape_settings.network


def test_compute_shows_the_landscape_with_its_training_path_and_plots(window, qtbot):
    sl = _computed(window, qtbot)
    s = window.scene.landscape_settings
    assert isinstance(window.scene.landscape, NetworkLandscape)
    assert s.resolution == 51 and s.zscale == "linear"
    assert window.windowTitle().endswith("Two moons")
    # the grid shown is the training-loss layer of the computed surface
    surf = cached_network_surface(sl, s.xrange, s.yrange, s.resolution)
    assert surf is not None
    np.testing.assert_allclose(window.scene.surface.surface.Z, surf.layers["train_loss"])
    # its values are the network's loss at those plane points (float32 grid)
    ev = sl.evaluator("train", "float64")
    j, i = 17, 33
    direct, _ = ev.direct(surf.xs[i], surf.ys[j])
    assert surf.layers["train_loss"][j, i] == pytest.approx(direct, rel=1e-5)
    # the training run, projected, is drawn dashed on the map and on the 3D view
    assert TRAINING_PATH_ID in window.contour_view._paths
    curve, _head = window.contour_view._paths[TRAINING_PATH_ID]
    assert curve.opts["pen"].style() == Qt.PenStyle.DashLine
    xs, _ys = curve.getData()
    assert len(xs) == len(sl.run.checkpoints)
    assert TRAINING_PATH_ID in window.surface_view._paths
    # plots: curves per step, faithfulness in per cent, the dock's summary
    assert window.network_plots.isVisible()
    items = window.network_panel.loss_curves.getPlotItem().listDataItems()
    assert len(items) == 2 and len(items[0].getData()[0]) == 61
    assert "%" in window.network_panel.faith_note.text()
    assert "parameters" in window.network_dock.info.text()
    frame = image_to_array(window.surface_view.grabFramebuffer())
    assert distinct_colors(frame) > 200


def test_layers_switch_without_recomputing_and_label_the_colour_bar(window, qtbot):
    sl = _computed(window, qtbot)
    s = window.scene.landscape_settings
    surf = cached_network_surface(sl, s.xrange, s.yrange, s.resolution)
    runs_before = dict(window.scene.run_revision)
    window.network_dock.toggle_split()  # V: training -> validation
    assert window.scene.landscape_settings.layer == "val_loss"
    _settle(window, qtbot)
    np.testing.assert_allclose(window.scene.surface.surface.Z, surf.layers["val_loss"])
    assert window.contour_view._colorbar.axis.labelText == "validation loss"
    # the races now run on the validation loss
    assert all(window.scene.run_revision[r] > runs_before[r] for r in runs_before)
    assert window.scene.landscape.slice.split == "val"
    window.scene.set_landscape(layer="loss_gap")
    _settle(window, qtbot)
    np.testing.assert_allclose(window.scene.surface.surface.Z,
                               surf.layers["val_loss"] - surf.layers["train_loss"])
    window.scene.set_landscape(layer="train_acc")
    _settle(window, qtbot)
    assert window.scene.surface.surface.finite_range()[1] <= 1.0
    assert window.network.training_path(None) is None  # no loss path on accuracy


def test_hover_reads_out_both_splits(window, qtbot):
    sl = _computed(window, qtbot)
    window._on_hover(0.1, -0.2)
    text = window.contour_view._readout.textItem.toPlainText()
    ev_t, ev_v = sl.evaluator("train", "float64"), sl.evaluator("val", "float64")
    lt, at = ev_t.direct(0.1, -0.2)
    lv, _av = ev_v.direct(0.1, -0.2)
    assert f"training: loss {lt:.4g}, acc. {100 * at:.1f} %" in text
    assert f"validation: loss {lv:.4g}" in text


def test_loss_choice_re_evaluates_the_same_plane_live(window, qtbot):
    sl = _computed(window, qtbot)
    rev = window.scene.landscape_revision
    window.network_dock.loss.setCurrentIndex(window.network_dock.loss.findData("mse"))
    new = window.scene.landscape_settings.network
    assert new is not sl and new.network.loss == "mse"
    assert new.directions is sl.directions  # same plane, nothing retrained
    assert not window.network.busy
    assert window.scene.landscape_revision > rev
    _settle(window, qtbot)
    s = window.scene.landscape_settings
    surf = cached_network_surface(new, s.xrange, s.yrange, s.resolution)
    ev = new.evaluator("train", "float64")
    assert surf.layers["train_loss"][25, 25] == pytest.approx(
        ev.direct(surf.xs[25], surf.ys[25])[0], rel=1e-5)


def test_open_and_export_landscape_files(window, qtbot, tmp_path, monkeypatch):
    from lossviewer.io import network_files

    sl = _computed(window, qtbot, directions="pca")
    path = tmp_path / "land.npz"
    monkeypatch.setattr("lossviewer.ui.network_controller.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(path), ""))
    window.network.save_file()
    stored = network_files.load_network_landscape(path)
    assert stored.network_slice.directions.spec.method == "pca"
    # back to an analytic function, then open the file: shown without recomputing
    window.scene.set_landscape(function="himmelblau")
    _settle(window, qtbot)
    calls = []
    monkeypatch.setattr("lossviewer.compute.network_jobs.iter_network_surface",
                        lambda *a, **k: calls.append(a) or iter(()))
    assert window.network.open_file(str(path))
    _settle(window, qtbot)
    assert not calls
    np.testing.assert_allclose(window.scene.surface.surface.Z,
                               stored.surface.layers["train_loss"])
    assert window.scene.landscape_settings.network is not sl


def test_bad_landscape_file_is_reported_and_changes_nothing(window, qtbot, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    before = window.scene.landscape_settings
    assert not window.network.open_file(str(bad))
    assert "not a LossViewer network landscape file" in window.status_label.text()
    assert window.scene.landscape_settings is before


def test_escape_cancels_training_and_keeps_the_landscape(window, qtbot):
    before = window.scene.landscape_settings
    window.scene.set_network_settings(steps=100_000, dataset="digits", hidden=(64,))
    window.network.compute()
    qtbot.waitUntil(lambda: window.network.busy, timeout=5_000)
    qtbot.wait(300)
    window.cancel_jobs()
    qtbot.waitUntil(lambda: not window.network.busy, timeout=10_000)
    qtbot.wait(300)
    assert window.scene.landscape_settings.function == before.function
    assert "cancelled" in window.status_label.text()


def test_choosing_neural_network_without_one_starts_computing(window, qtbot):
    window.scene.set_network_settings(**SMALL)
    combo = window.landscape_dock.function
    idx = combo.findData("network")
    assert "compute" in combo.itemText(idx)
    combo.setCurrentIndex(idx)
    assert window.network.busy or window.scene.landscape_settings.is_network
    qtbot.waitUntil(lambda: window.scene.landscape_settings.is_network, timeout=60_000)
    assert combo.itemText(idx) == "Neural network"


def test_data_tab_follows_the_cursor(window, qtbot):
    sl = _computed(window, qtbot)
    panel = window.network_panel
    panel.setCurrentIndex(2)
    window._on_hover(0.0, 0.0)
    at_centre = panel.data_note.text()
    window._on_hover(0.9, 0.9)
    far = panel.data_note.text()
    assert "(0, 0)" in at_centre and "(0.9, 0.9)" in far
    theta = sl.plane.point(0.9, 0.9)
    _, acc = sl.network.metrics(theta, sl.dataset.X_train, sl.network.targets(sl.dataset.y_train))
    assert f"training accuracy {100 * acc:.1f} %" in far
    img = panel._boundary.image
    assert img is not None and img.shape[:2] == (120, 120)


def test_gui_without_a_display_says_so_instead_of_aborting(monkeypatch, capsys):
    from lossviewer.cli import main

    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    assert main(["--network", "moons"]) == 1
    err = capsys.readouterr().err
    assert "no display" in err and "xvfb-run" in err


TINY_MODEL = """\
import torch
from lossviewer.core.datasets import make_dataset

_D = make_dataset("moons", n_samples=200, seed=0)


def data():
    t = lambda X, y: (torch.tensor(X, dtype=torch.float32), torch.tensor(y))
    return t(_D.X_train, _D.y_train), t(_D.X_val, _D.y_val)


def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(),
                               torch.nn.Linear(16, 16), torch.nn.ReLU(),
                               torch.nn.Linear(16, 2))
"""


def test_open_model_file_shows_its_landscape(window, qtbot, tmp_path):
    pytest.importorskip("torch", reason="model files need the torch extra")
    for rid in window.scene.runs:
        window.scene.update_run(rid, steps=20)
    window.scene.set_landscape(resolution=16)
    path = tmp_path / "tiny_model.py"
    path.write_text(TINY_MODEL)
    assert window.network.open_model(str(path))
    qtbot.waitUntil(lambda: window.scene.landscape_settings.is_network
                    or not window.network.busy, timeout=120_000)
    assert window.scene.landscape_settings.is_network, window.status_label.text()
    _settle(window, qtbot, timeout=180_000)
    sl = window.scene.landscape_settings.network
    assert hasattr(sl.network, "plane_evaluator") and sl.network.n_params == 354
    s = window.scene.landscape_settings
    surf = cached_network_surface(sl, s.xrange, s.yrange, s.resolution)
    j, i = 7, 9
    want, _ = sl.evaluator("train", "float64").direct(surf.xs[i], surf.ys[j])
    assert surf.layers["train_loss"][j, i] == pytest.approx(want, rel=1e-5)
    assert window.scene.analysis.critical is None  # no Newton search on user models
    window._on_hover(0.1, 0.1)
    assert "interpolated from the grid" in window.contour_view._readout.textItem.toPlainText()


def test_broken_model_file_is_explained_and_the_window_survives(window, qtbot, tmp_path):
    pytest.importorskip("torch", reason="model files need the torch extra")
    bad = tmp_path / "bad.py"
    bad.write_text("def model():\n    raise RuntimeError('no weights')\n")
    before = window.scene.landscape_settings
    assert window.network.open_model(str(bad))
    qtbot.waitUntil(lambda: not window.network.busy, timeout=60_000)
    qtbot.wait(100)
    assert "model() in bad.py raised RuntimeError: no weights" in window.status_label.text()
    box = window.network._last_box
    assert "Traceback" in box.detailedText()
    assert window.scene.landscape_settings is before


def test_export_formats_and_reopen_a_stored_h5(window, qtbot, tmp_path):
    pytest.importorskip("h5py", reason=".h5 needs h5py")
    sl = _computed(window, qtbot)
    s = window.scene.landscape_settings
    surf = cached_network_surface(sl, s.xrange, s.yrange, s.resolution)
    for ext in ("h5", "vtp", "ply", "obj", "csv", "npz"):
        assert window.network.save_file(str(tmp_path / f"l.{ext}")), ext
        assert (tmp_path / f"l.{ext}").stat().st_size > 0
    assert not window.network.save_file(str(tmp_path / "l.txt"))
    assert "unknown extension .txt" in window.status_label.text()
    window.scene.set_landscape(function="rosenbrock")
    _settle(window, qtbot)
    assert window.network.open_file(str(tmp_path / "l.h5"))
    _settle(window, qtbot)
    opened = window.scene.landscape_settings.network
    assert opened.dataset.name == "stored-file"
    np.testing.assert_allclose(window.scene.surface.surface.Z, surf.layers["train_loss"],
                               rtol=1e-12)


def test_dropping_files_opens_them_and_asks_before_running_code(window, qtbot, tmp_path,
                                                                 monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No)
    script = tmp_path / "model.py"
    script.write_text("raise SystemExit('must not run')\n")
    assert not window.open_path(str(script))
    assert asked and not window.network.busy
    bad = tmp_path / "x.npz"
    bad.write_bytes(b"junk")
    assert not window.open_path(str(bad))
    assert "not a LossViewer network landscape file" in window.status_label.text()
