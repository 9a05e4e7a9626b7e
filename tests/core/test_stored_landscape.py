"""Stored landscapes (a grid without its model): bilinear values, exact slopes, the slice."""

from __future__ import annotations

import numpy as np
import pytest

from lossviewer.core.iteration import run_to_end
from lossviewer.core.network_landscape import (
    LAYERS,
    NetworkLandscape,
    NetworkSurface,
    iter_network_surface,
)
from lossviewer.core.stored_landscape import GridEvaluator, stored_slice


def _surface(with_val: bool = True) -> NetworkSurface:
    xs = np.linspace(-1.0, 2.0, 9)
    ys = np.linspace(0.0, 1.0, 8)
    X, Y = np.meshgrid(xs, ys)
    layers = {"train_loss": 1 + X**2 + 3 * Y, "train_acc": 0.5 + 0.1 * X,
              "val_loss": 2 + X * Y if with_val else np.full(X.shape, np.nan),
              "val_acc": np.full(X.shape, 0.7 if with_val else np.nan)}
    return NetworkSurface(xs, ys, layers, {"axis_labels": ["PC 1", "PC 2"]})


def test_grid_points_are_exact_and_cells_bilinear():
    s = _surface()
    ev = GridEvaluator(s.xs, s.ys, s.layers["train_loss"], s.layers["train_acc"])
    A, B = np.meshgrid(s.xs, s.ys)
    loss, acc = ev.evaluate(A, B)
    np.testing.assert_allclose(loss, s.layers["train_loss"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(acc, s.layers["train_acc"], atol=1e-12)
    # the centre of a cell is the mean of its corners
    Z = s.layers["train_loss"]
    xm, ym = (s.xs[2] + s.xs[3]) / 2, (s.ys[1] + s.ys[2]) / 2
    want = (Z[1, 2] + Z[1, 3] + Z[2, 2] + Z[2, 3]) / 4
    assert ev.direct(xm, ym)[0] == pytest.approx(want, rel=1e-12)
    # outside the grid nothing is known
    assert np.isnan(ev.direct(2.5, 0.5)[0]) and np.isnan(ev.direct(0.0, -0.1)[0])


def test_gradient_is_the_slope_of_the_interpolant():
    s = _surface()
    ev = GridEvaluator(s.xs, s.ys, s.layers["train_loss"], s.layers["train_acc"])
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-0.95, 1.95, 20), rng.uniform(0.05, 0.95, 20)
    v, g = ev.value_and_grad(a, b)
    np.testing.assert_allclose(v, ev.evaluate(a, b)[0])
    h = 1e-6
    fx = (ev.evaluate(a + h, b)[0] - ev.evaluate(a - h, b)[0]) / (2 * h)
    fy = (ev.evaluate(a, b + h)[0] - ev.evaluate(a, b - h)[0]) / (2 * h)
    np.testing.assert_allclose(g[:, 0], fx, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(g[:, 1], fy, rtol=1e-6, atol=1e-6)


def test_stored_slice_recomputes_its_own_grid_and_is_a_landscape():
    s = _surface()
    sl = stored_slice(s, "/data/run.h5")
    assert sl.default_domain() == ((-1.0, 2.0), (0.0, 1.0))
    assert sl.directions.labels == ("PC 1", "PC 2")
    again = run_to_end(iter_network_surface(sl, (-1.0, 2.0), (0.0, 1.0), (9, 8), "float64"))
    for k in LAYERS:
        np.testing.assert_allclose(again.layers[k], s.layers[k], atol=1e-12)
    land = NetworkLandscape(sl)
    assert land.value([[0.5, 0.5]])[0] == pytest.approx(
        GridEvaluator(s.xs, s.ys, s.layers["train_loss"], s.layers["train_acc"])
        .direct(0.5, 0.5)[0])
    assert land.critical_seeds == 0  # no Newton search on an interpolated grid
    assert "run.h5" in sl.describe()


def test_a_file_without_validation_loss_has_no_validation_split():
    sl = stored_slice(_surface(with_val=False), "x.h5")
    assert sl.has_split("train") and not sl.has_split("val")
    with pytest.raises(ValueError, match="holds no validation loss"):
        sl.evaluator("val", "float64")
    surf = run_to_end(iter_network_surface(sl, (-1.0, 2.0), (0.0, 1.0), (9, 9)))
    assert np.isnan(surf.layers["val_loss"]).all() and surf.non_finite() == 0
    with pytest.raises(ValueError, match="no model"):
        sl.with_loss("mse", 0.0)
