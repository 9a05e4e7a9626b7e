"""Toy data sets: shapes, determinism, splits, the geometry of each set, the real digits."""

from __future__ import annotations

import math
from importlib import resources

import numpy as np
import pytest

from lossviewer.core import datasets as ds_mod
from lossviewer.core.datasets import (
    DATASETS,
    MAX_SAMPLES,
    Dataset,
    DatasetInfo,
    checkerboard_labels,
    dataset_names,
    make_dataset,
    polynomial_coefficients,
)

NAMES = dataset_names()
SYNTHETIC_CLASSIFIERS = [n for n in NAMES if DATASETS[n].task == "classification" and n != "digits"]
DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def _all(d: Dataset) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([d.X_train, d.X_val]), np.concatenate([d.y_train, d.y_val])


def _sorted_rows(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rows (features + target) in a canonical order, to compare sets of samples."""
    rows = np.column_stack([X, y.astype(np.float64)])
    return rows[np.lexsort(rows.T[::-1])]


def _best_linear_accuracy(X: np.ndarray, y: np.ndarray, n_angles: int = 1440) -> float:
    """Best accuracy of any straight line (dense sweep of directions, optimal threshold)."""
    ang = np.linspace(0.0, math.pi, n_angles, endpoint=False)
    proj = np.cos(ang)[:, None] * X[:, 0] + np.sin(ang)[:, None] * X[:, 1]
    ys = y[np.argsort(proj, axis=1)]
    n = len(y)
    ones_left = np.concatenate([np.zeros((n_angles, 1)), np.cumsum(ys, axis=1)], axis=1)
    k = np.arange(n + 1)
    # cut after k points: left predicted 0, right predicted 1 (or the flip)
    correct = (k - ones_left) + (ones_left[:, -1:] - ones_left)
    acc = np.maximum(correct, n - correct) / n
    return float(acc.max())


# --- registry ---------------------------------------------------------------------------


def test_registry_order_and_infos():
    assert NAMES == [
        "moons",
        "circles",
        "spirals",
        "blobs",
        "xor",
        "checkerboard",
        "sine",
        "polynomial",
        "digits",
    ]
    assert NAMES == list(DATASETS)
    for name, info in DATASETS.items():
        assert isinstance(info, DatasetInfo)
        assert info.name == name
        assert info.task in ("classification", "regression")
        assert info.title and info.description.endswith(".")
        assert 0.0 <= info.default_noise <= info.max_noise
        assert 10 <= info.default_samples <= info.max_samples <= MAX_SAMPLES
        for o in info.options:
            assert o.minimum <= o.default <= o.maximum
            assert isinstance(o.default, int) == o.integer


def test_documented_options():
    opts = {
        n: {o.name: (o.default, o.minimum, o.maximum) for o in DATASETS[n].options} for n in NAMES
    }
    assert opts["spirals"] == {"arms": (3, 2, 8)}
    assert opts["blobs"] == {"centers": (3, 2, 8)}
    assert opts["checkerboard"] == {"tiles": (4, 2, 8)}
    assert opts["polynomial"] == {"degree": (3, 1, 9)}
    assert opts["circles"] == {"factor": (0.5, 0.1, 0.9)}
    assert DATASETS["spirals"].option_defaults() == {"arms": 3}


def test_documented_defaults():
    expected = {
        "moons": (500, 0.2),
        "circles": (500, 0.1),
        "spirals": (600, 0.2),
        "blobs": (600, 1.0),
        "xor": (500, 0.1),
        "checkerboard": (800, 0.0),
        "sine": (200, 0.1),
        "polynomial": (200, 0.1),
        "digits": (1797, 0.0),
    }
    for name, (n, noise) in expected.items():
        info = DATASETS[name]
        assert (info.default_samples, info.default_noise) == (n, noise)
        d = make_dataset(name)
        assert len(d.y_train) + len(d.y_val) == n
        assert d.params["n_samples"] == n and d.params["noise"] == noise


# --- shapes, dtypes, determinism ----------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_dtypes(name):
    d = make_dataset(name, seed=3)
    info = DATASETS[name]
    n = info.default_samples
    assert d.name == name and d.title == info.title and d.task == info.task
    assert len(d.y_train) == n - round(0.3 * n) and len(d.y_val) == round(0.3 * n)
    for X, y in ((d.X_train, d.y_train), (d.X_val, d.y_val)):
        assert X.dtype == np.float64 and X.flags.c_contiguous and X.ndim == 2
        assert X.shape == (len(y), d.n_features)
        assert y.ndim == 1 and y.flags.c_contiguous
        assert np.isfinite(X).all()
        if d.is_classification:
            assert y.dtype == np.int64
            assert y.min() >= 0 and y.max() < d.n_classes
        else:
            assert y.dtype == np.float64 and np.isfinite(y).all()
    if d.is_classification:
        assert d.n_outputs == d.n_classes >= 2
        # every class is in the training part at the built-in sizes
        assert set(np.unique(d.y_train)) == set(range(d.n_classes))
        assert set(np.unique(d.y_val)) == set(range(d.n_classes))
    else:
        assert d.n_classes == 0 and d.n_outputs == 1
    expected_features = {"digits": 64, "sine": 1, "polynomial": 1}.get(name, 2)
    assert d.n_features == expected_features
    assert d.image_shape == ((8, 8) if name == "digits" else None)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_for_a_seed_and_different_across_seeds(name):
    a, b, c = make_dataset(name, seed=7), make_dataset(name, seed=7), make_dataset(name, seed=8)
    for field in ("X_train", "y_train", "X_val", "y_val"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.X_train.shape == c.X_train.shape
    assert not np.array_equal(a.X_train, c.X_train)


@pytest.mark.parametrize("name", NAMES)
def test_params_reproduce_the_dataset(name):
    opts = {o.name: o.maximum for o in DATASETS[name].options}
    noise = DATASETS[name].max_noise / 2
    a = make_dataset(name, n_samples=123, noise=noise, seed=5, val_fraction=0.25, **opts)
    assert a.params == {
        "n_samples": 123,
        "noise": noise,
        "seed": 5,
        "val_fraction": 0.25,
        **opts,
    }
    b = make_dataset(a.name, **a.params)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_val, b.y_val)


def test_options_default_into_params():
    d = make_dataset("spirals")
    assert d.params["arms"] == 3 and d.n_classes == 3
    assert make_dataset("checkerboard").params["tiles"] == 4


def test_describe():
    assert make_dataset("moons").describe() == (
        "Two moons: 350 train / 150 validation samples, 2 features, 2 classes"
    )
    assert make_dataset("sine").describe() == (
        "Sine wave: 140 train / 60 validation samples, 1 feature, regression"
    )
    assert make_dataset("digits").describe() == (
        "Handwritten digits: 1,258 train / 539 validation samples, 64 features "
        "(8×8 images), 10 classes"
    )


def test_name_is_case_insensitive():
    d = make_dataset(" Moons ")
    assert d.name == "moons"
    np.testing.assert_array_equal(d.X_train, make_dataset("moons").X_train)


# --- split --------------------------------------------------------------------------------


@pytest.mark.parametrize(("vf", "n_val"), [(0.0, 0), (0.3, 150), (0.5, 250), (0.9, 450)])
def test_split_sizes(vf, n_val):
    d = make_dataset("moons", val_fraction=vf)
    assert len(d.y_val) == n_val and len(d.y_train) == 500 - n_val
    assert d.X_val.shape == (n_val, 2) and d.X_val.dtype == np.float64


@pytest.mark.parametrize("name", ["moons", "sine", "digits"])
def test_split_partitions_the_same_samples(name):
    """The data do not depend on val_fraction; the split only divides them, no overlap."""
    whole = make_dataset(name, seed=2, val_fraction=0.0)
    split = make_dataset(name, seed=2, val_fraction=0.4)
    np.testing.assert_array_equal(_sorted_rows(*_all(split)), _sorted_rows(*_all(whole)))
    if name != "digits":  # generated points are all distinct
        rows = _sorted_rows(*_all(split))
        assert len(np.unique(rows, axis=0)) == len(rows)


def test_split_order_is_shuffled():
    d = make_dataset("spirals")
    # generators emit classes grouped; the split must not hand them over in that order
    assert (np.diff(d.y_train) != 0).sum() > len(d.y_train) / 3


def test_split_is_stratified():
    d = make_dataset("spirals", n_samples=16, arms=8, val_fraction=0.5)
    np.testing.assert_array_equal(np.bincount(d.y_train, minlength=8), np.ones(8))
    np.testing.assert_array_equal(np.bincount(d.y_val, minlength=8), np.ones(8))
    d = make_dataset("blobs", n_samples=1000, centers=4, val_fraction=0.3)
    assert np.abs(np.bincount(d.y_val) - 75).max() <= 1


@pytest.mark.parametrize("name", SYNTHETIC_CLASSIFIERS)
def test_classes_are_balanced(name):
    for seed in range(3):
        d = make_dataset(name, n_samples=1001, seed=seed)
        counts = np.bincount(_all(d)[1], minlength=d.n_classes)
        assert counts.max() - counts.min() <= 1
        frac = np.bincount(d.y_train, minlength=d.n_classes) / len(d.y_train)
        np.testing.assert_allclose(frac, 1.0 / d.n_classes, atol=0.01)


# --- geometry of each set -------------------------------------------------------------------


def test_moons_lie_on_two_half_circles():
    X, y = _all(make_dataset("moons", noise=0.0, n_samples=400))
    up, lo = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(*up.T), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(lo[:, 0] - 1.0, lo[:, 1] - 0.5), 1.0, atol=1e-12)
    assert (up[:, 1] >= 0).all() and (lo[:, 1] <= 0.5).all()

    noise = 0.05
    X, y = _all(make_dataset("moons", noise=noise, n_samples=2000, seed=1))
    d_up = np.abs(np.hypot(*X[y == 0].T) - 1.0)
    d_lo = np.abs(np.hypot(X[y == 1, 0] - 1.0, X[y == 1, 1] - 0.5) - 1.0)
    for dist in (d_up, d_lo):
        assert dist.max() < 5 * noise
        # |N(0, σ)| has median 0.674 σ; the radial part of 2-D jitter is about that
        assert 0.5 * noise < np.median(dist) < 0.85 * noise


def test_moons_are_not_linearly_separable():
    for noise in (0.0, 0.1):
        X, y = _all(make_dataset("moons", noise=noise, n_samples=600))
        assert _best_linear_accuracy(X, y) < 0.93
    # the checker itself finds a separating line where there is one
    X, y = _all(make_dataset("blobs", centers=2, noise=0.05, n_samples=200))
    assert _best_linear_accuracy(X, y) == 1.0


@pytest.mark.parametrize("factor", [0.5, 0.2, 0.8])
def test_circles_radii(factor):
    X, y = _all(make_dataset("circles", noise=0.0, factor=factor, n_samples=300))
    r = np.hypot(*X.T)
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-12)
    np.testing.assert_allclose(r[y == 1], factor, atol=1e-12)
    X, y = _all(make_dataset("circles", noise=0.05, factor=factor, n_samples=4000))
    r = np.hypot(*X.T)
    assert abs(np.mean(r[y == 0]) - 1.0) < 0.01
    assert abs(np.mean(r[y == 1]) - factor) < 0.01
    assert 0.04 < np.std(r[y == 0]) < 0.06


def test_circles_default_factor_is_half():
    X, y = _all(make_dataset("circles", noise=0.0))
    np.testing.assert_allclose(np.hypot(*X[y == 1].T), 0.5, atol=1e-12)


@pytest.mark.parametrize("arms", [2, 3, 5, 8])
def test_spirals_arm_count_is_class_count(arms):
    d = make_dataset("spirals", arms=arms, noise=0.0, n_samples=40 * arms)
    assert d.n_classes == d.n_outputs == arms
    X, y = _all(d)
    np.testing.assert_array_equal(np.bincount(y), np.full(arms, 40))
    # noise-free: each point sits on its arm, r = r0 + (1 - r0) u, θ = 2π (class / arms + u)
    r = np.hypot(*X.T)
    assert r.min() >= 0.1 - 1e-12 and r.max() <= 1.0 + 1e-12
    u = (r - 0.1) / 0.9
    offset = (np.arctan2(X[:, 1], X[:, 0]) / (2 * math.pi) - u) % 1.0
    arm = np.round(offset * arms) % arms
    np.testing.assert_array_equal(arm, y)
    np.testing.assert_allclose(((offset * arms + 0.5) % 1.0) - 0.5, 0.0, atol=1e-9)


def test_spirals_noise_blurs_the_arms():
    clean = _all(make_dataset("spirals", noise=0.0, n_samples=900))
    noisy = _all(make_dataset("spirals", noise=0.5, n_samples=900))
    dev = []
    for X, _y in (clean, noisy):
        u = (np.hypot(*X.T) - 0.1) / 0.9
        off = (np.arctan2(X[:, 1], X[:, 0]) / (2 * math.pi) - u) * 3
        dev.append(np.abs(((off + 0.5) % 1.0) - 0.5).mean())
    assert dev[0] < 1e-9 < 0.05 < dev[1]


@pytest.mark.parametrize("centers", [2, 3, 5, 8])
def test_blobs(centers):
    noise = 0.3
    X, y = _all(make_dataset("blobs", centers=centers, noise=noise, n_samples=500 * centers))
    assert set(np.unique(y)) == set(range(centers))
    means = np.array([X[y == c].mean(axis=0) for c in range(centers)])
    assert (np.abs(means) <= 4.0).all()
    gaps = np.linalg.norm(means[:, None] - means[None], axis=-1)[np.triu_indices(centers, 1)]
    assert gaps.min() > 1.0
    for c in range(centers):
        np.testing.assert_allclose(X[y == c].std(axis=0), noise, rtol=0.15)
    # centres come from the seed
    X2, y2 = _all(make_dataset("blobs", centers=centers, noise=noise, seed=1))
    means2 = np.array([X2[y2 == c].mean(axis=0) for c in range(centers)])
    assert np.abs(means2 - means).max() > 0.5


def test_xor_labels():
    X, y = _all(make_dataset("xor", noise=0.0, n_samples=1000))
    assert (np.abs(X) <= 1.0).all()
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] > 0).astype(np.int64))
    # all four quadrants are used
    quad = (X[:, 0] > 0).astype(int) * 2 + (X[:, 1] > 0)
    assert np.bincount(quad, minlength=4).min() > 200
    # jitter is added after labelling, so some points stray into the other class
    X, y = _all(make_dataset("xor", noise=0.2, n_samples=1000))
    wrong = (y != (X[:, 0] * X[:, 1] > 0)).mean()
    assert 0.02 < wrong < 0.3


@pytest.mark.parametrize("tiles", [2, 3, 4, 7, 8])
def test_checkerboard_parity(tiles):
    X, y = _all(make_dataset("checkerboard", tiles=tiles, noise=0.0, n_samples=200 * tiles))
    assert (np.abs(X) <= 1.0).all()
    ix = np.floor((X[:, 0] + 1.0) / (2.0 / tiles)).astype(int)
    iy = np.floor((X[:, 1] + 1.0) / (2.0 / tiles)).astype(int)
    np.testing.assert_array_equal(y, (ix + iy) % 2)
    np.testing.assert_array_equal(checkerboard_labels(X, tiles), y)
    # every tile holds points
    assert np.bincount(ix * tiles + iy, minlength=tiles * tiles).min() > 0
    X, y = _all(make_dataset("checkerboard", tiles=tiles, noise=0.1, n_samples=200 * tiles))
    assert (checkerboard_labels(X, tiles) != y).any()


def test_checkerboard_labels_on_corners():
    X = np.array([[-1.0, -1.0], [1.0, 1.0], [-0.9, 0.9], [0.1, -0.1]])
    np.testing.assert_array_equal(checkerboard_labels(X, 2), [0, 0, 1, 1])


def test_sine_residuals():
    X, y = _all(make_dataset("sine", noise=0.0))
    assert X.min() >= -3.0 and X.max() <= 3.0
    np.testing.assert_allclose(y, np.sin(X[:, 0]), atol=1e-15)
    for noise in (0.1, 0.5):
        X, y = _all(make_dataset("sine", noise=noise, n_samples=5000, seed=4))
        res = y - np.sin(X[:, 0])
        assert abs(res.std() - noise) < 0.05 * noise
        assert abs(res.mean()) < 4 * noise / math.sqrt(5000)
    X, _ = _all(make_dataset("sine", n_samples=5000))
    assert X.min() < -2.99 and X.max() > 2.99


@pytest.mark.parametrize("degree", range(1, 10))
def test_polynomial_target(degree):
    coef = polynomial_coefficients(11, degree)
    assert len(coef) == degree + 1 and coef[-1] != 0
    X, y = _all(make_dataset("polynomial", degree=degree, noise=0.0, seed=11, n_samples=400))
    x = X[:, 0]
    assert x.min() >= -1.0 and x.max() <= 1.0
    np.testing.assert_allclose(y, np.polynomial.polynomial.polyval(x, coef), atol=1e-12)
    # order-1 range: the curve spans [-1, 1] on the interval
    grid = np.polynomial.polynomial.polyval(np.linspace(-1, 1, 2001), coef)
    assert grid.min() == pytest.approx(-1.0, abs=1e-9)
    assert grid.max() == pytest.approx(1.0, abs=1e-9)
    # truly of this degree: a fit of one degree lower misses
    if degree > 1:
        low = np.polynomial.polynomial.polyfit(x, y, degree - 1)
        assert np.abs(np.polynomial.polynomial.polyval(x, low) - y).max() > 1e-3
    # noise is added to the target with the requested std
    X, y = _all(make_dataset("polynomial", degree=degree, noise=0.2, seed=11, n_samples=5000))
    res = y - np.polynomial.polynomial.polyval(X[:, 0], coef)
    assert abs(res.std() - 0.2) < 0.01


def test_polynomial_differs_across_seeds():
    assert not np.allclose(polynomial_coefficients(0, 3), polynomial_coefficients(1, 3))


# --- digits -----------------------------------------------------------------------------------

FIRST_IMAGE = [
    [0, 0, 5, 13, 9, 1, 0, 0],
    [0, 0, 13, 15, 10, 15, 5, 0],
    [0, 3, 15, 2, 0, 11, 8, 0],
    [0, 4, 12, 0, 0, 8, 8, 0],
    [0, 5, 8, 0, 0, 9, 8, 0],
    [0, 4, 11, 0, 1, 12, 7, 0],
    [0, 2, 14, 5, 10, 12, 0, 0],
    [0, 0, 6, 13, 10, 0, 0, 0],
]


def test_digits_data_file():
    path = resources.files("lossviewer.core") / "data" / "digits.npz"
    assert path.is_file()
    with path.open("rb") as fh, np.load(fh, allow_pickle=False) as z:
        assert sorted(z.files) == ["images", "labels"]
        images, labels = z["images"], z["labels"]
    assert images.dtype == np.uint8 and images.shape == (1797, 64)
    assert labels.dtype == np.uint8 and labels.shape == (1797,)
    assert images.max() == 16 and int(images.sum(dtype=np.int64)) == 561718
    np.testing.assert_array_equal(images[0].reshape(8, 8), FIRST_IMAGE)
    np.testing.assert_array_equal(labels[:20], np.tile(np.arange(10), 2))
    attribution = resources.files("lossviewer.core") / "data" / "DIGITS-ATTRIBUTION.txt"
    text = attribution.read_text(encoding="utf-8")
    assert "CC BY 4.0" in text and "Alpaydin" in text and "archive.ics.uci.edu" in text


def test_digits_dataset():
    d = make_dataset("digits", val_fraction=0.0)
    X, y = d.X_train, d.y_train
    assert X.shape == (1797, 64) and d.n_classes == 10 and d.image_shape == (8, 8)
    np.testing.assert_array_equal(np.bincount(y), DIGIT_COUNTS)
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(X * 16, np.round(X * 16))  # pixel / 16 exactly
    images = X.reshape(-1, *d.image_shape)
    # the first image of the file is a 0 and is somewhere in the shuffled set
    hit = (images == np.array(FIRST_IMAGE) / 16.0).all(axis=(1, 2))
    assert hit.sum() == 1 and y[hit][0] == 0
    assert abs(X.sum() * 16 - 561718) < 1e-6


def test_digits_split_keeps_class_proportions():
    d = make_dataset("digits")
    frac = np.bincount(d.y_val, minlength=10) / np.array(DIGIT_COUNTS)
    np.testing.assert_allclose(frac, 0.3, atol=0.01)


def test_digits_subset():
    full_X, full_y = _all(make_dataset("digits"))
    d = make_dataset("digits", n_samples=100, seed=3)
    X, y = _all(d)
    assert X.shape == (100, 64) and d.params["n_samples"] == 100
    # every sample is a real image with its own label
    match = (X[:, None, :] == full_X[None, :, :]).all(axis=2)
    assert match.any(axis=1).all()
    for i in range(len(X)):
        assert y[i] in set(full_y[match[i]])
    other = make_dataset("digits", n_samples=100, seed=4)
    assert not np.array_equal(_sorted_rows(*_all(other)), _sorted_rows(X, y))


def test_digits_ignores_noise():
    a = make_dataset("digits", noise=0.5, seed=1)
    b = make_dataset("digits", seed=1)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert a.params["noise"] == 0.0


def test_digits_arrays_are_fresh_copies():
    a = make_dataset("digits")
    a.X_train[:] = -1.0
    b = make_dataset("digits")
    assert b.X_train.min() == 0.0
    images, labels = ds_mod._digits_raw()
    assert not images.flags.writeable and not labels.flags.writeable


def test_digits_match_sklearn():
    sk = pytest.importorskip("sklearn.datasets")
    ref = sk.load_digits()
    images, labels = ds_mod._digits_raw()
    np.testing.assert_array_equal(images.astype(np.float64), ref.data)
    np.testing.assert_array_equal(labels, ref.target)
    d = make_dataset("digits", val_fraction=0.0)
    np.testing.assert_array_equal(
        _sorted_rows(d.X_train, d.y_train), _sorted_rows(ref.data / 16.0, ref.target)
    )


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "pieces"),
    [
        ({"name": "mons"}, ["unknown dataset 'mons'", "known: moons, circles, spirals", "digits"]),
        ({"name": "spirals", "arm": 3}, ["unknown option 'arm'", "spirals", "valid options: arms"]),
        ({"name": "moons", "arms": 3}, ["unknown option 'arms'", "valid options: none"]),
        ({"name": "spirals", "arms": 9}, ["'arms'", "[2, 8]", "got 9"]),
        ({"name": "spirals", "arms": 1}, ["'arms'", "[2, 8]"]),
        ({"name": "spirals", "arms": 2.5}, ["'arms'", "whole number"]),
        ({"name": "spirals", "arms": "3"}, ["'arms'", "must be a number"]),
        ({"name": "blobs", "centers": 0}, ["'centers'", "[2, 8]"]),
        ({"name": "checkerboard", "tiles": 9}, ["'tiles'", "[2, 8]"]),
        ({"name": "polynomial", "degree": 0}, ["'degree'", "[1, 9]"]),
        ({"name": "circles", "factor": 1.0}, ["'factor'", "[0.1, 0.9]"]),
        ({"name": "circles", "factor": math.nan}, ["'factor'", "finite"]),
        ({"name": "moons", "n_samples": 9}, ["n_samples", "[10, 100000]", "got 9"]),
        ({"name": "moons", "n_samples": 100_001}, ["n_samples", "[10, 100000]"]),
        ({"name": "moons", "n_samples": 50.5}, ["n_samples", "whole number"]),
        ({"name": "moons", "n_samples": True}, ["n_samples", "whole number"]),
        ({"name": "digits", "n_samples": 1798}, ["n_samples", "[10, 1797]"]),
        ({"name": "moons", "noise": -0.1}, ["noise", "[0, 1]"]),
        ({"name": "moons", "noise": math.inf}, ["noise", "[0, 1]"]),
        ({"name": "blobs", "noise": 5.0}, ["noise", "[0, 4]"]),
        ({"name": "moons", "noise": "0.1"}, ["noise", "must be a number"]),
        ({"name": "moons", "val_fraction": 0.95}, ["val_fraction", "[0, 0.9]"]),
        ({"name": "moons", "val_fraction": -0.1}, ["val_fraction", "[0, 0.9]"]),
        ({"name": "moons", "seed": -1}, ["seed", ">= 0"]),
        ({"name": "moons", "seed": 1.5}, ["seed", "whole number"]),
    ],
)
def test_bad_input_raises(kwargs, pieces):
    kwargs = dict(kwargs)
    name = kwargs.pop("name")
    with pytest.raises(ValueError) as err:
        make_dataset(name, **kwargs)
    for piece in pieces:
        assert piece in str(err.value)


def test_unknown_options_are_listed_together():
    with pytest.raises(ValueError, match=r"unknown options 'a', 'b' for dataset 'blobs'"):
        make_dataset("blobs", b=1, a=2)


def test_boundary_values_are_accepted():
    assert len(make_dataset("moons", n_samples=10, val_fraction=0.9).y_train) == 1
    assert make_dataset("sine", n_samples=MAX_SAMPLES).X_train.shape[0] == 70_000
    assert make_dataset("spirals", arms=8.0).params["arms"] == 8  # integral float is fine
    assert make_dataset("moons", n_samples=np.int64(20)).params["n_samples"] == 20
    assert make_dataset("digits", n_samples=10).X_train.shape == (7, 64)
