"""Small toy data sets for training tiny networks, generated with numpy alone.

Every set is built from ``np.random.default_rng(seed)``, so a (name, arguments) pair
always gives the same arrays; :attr:`Dataset.params` holds the resolved arguments
(flat: options sit next to ``n_samples`` etc.), so ``make_dataset(ds.name, **ds.params)``
rebuilds ``ds`` exactly.

Noise means, per set (all in the units of the coordinates unless said otherwise):

* moons, circles: std of Gaussian jitter added to both coordinates;
* spirals: std of the angular jitter in units of half the gap between arms
  (π/arms radians), plus a radial jitter of ``0.05 · noise``;
* blobs: std of each blob;
* xor, checkerboard: std of Gaussian jitter added *after* labelling, so points
  stray across the class borders;
* sine, polynomial: std of Gaussian noise added to the target;
* digits: ignored (real data; recorded as 0.0).

The train/validation split is a seeded permutation drawn from the same generator
after the data. For classification it is stratified (each class is split in about
the same proportion), so every class appears in the training set for the built-in
sizes even with few samples.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DATASETS",
    "MAX_SAMPLES",
    "MAX_VAL_FRACTION",
    "MIN_SAMPLES",
    "Dataset",
    "DatasetInfo",
    "DatasetOption",
    "checkerboard_labels",
    "dataset_names",
    "make_dataset",
    "polynomial_coefficients",
]

MIN_SAMPLES = 10
MAX_SAMPLES = 100_000
MAX_VAL_FRACTION = 0.9

CLASSIFICATION = "classification"
REGRESSION = "regression"

_DIGITS_COUNT = 1797


@dataclass(frozen=True, eq=False)
class Dataset:
    """A generated data set, already split into training and validation parts."""

    name: str
    title: str
    task: str
    X_train: NDArray[np.float64]
    y_train: NDArray
    X_val: NDArray[np.float64]
    y_val: NDArray
    n_classes: int
    params: dict
    image_shape: tuple[int, int] | None = None

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_outputs(self) -> int:
        """Width of a model's output layer: one logit per class, or a single value."""
        return self.n_classes if self.is_classification else 1

    @property
    def is_classification(self) -> bool:
        return self.task == CLASSIFICATION

    def describe(self) -> str:
        """One line for a status bar or tooltip."""
        n_tr, n_va = len(self.y_train), len(self.y_val)
        nf = self.n_features
        feats = f"{nf} feature" + ("" if nf == 1 else "s")
        if self.image_shape is not None:
            feats += f" ({self.image_shape[0]}×{self.image_shape[1]} images)"
        kind = f"{self.n_classes} classes" if self.is_classification else "regression"
        return f"{self.title}: {n_tr:,} train / {n_va:,} validation samples, {feats}, {kind}"


@dataclass(frozen=True)
class DatasetOption:
    """An extra numeric argument of one data set, with the range its widget offers."""

    name: str
    default: int | float
    minimum: int | float
    maximum: int | float
    description: str = ""
    integer: bool = True

    def validate(self, dataset: str, value: Any) -> int | float:
        """Return ``value`` as int/float, or raise ValueError naming the allowed range."""
        rng = f"[{self.minimum:g}, {self.maximum:g}]"
        where = f"option '{self.name}' of dataset '{dataset}'"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{where} must be a number in {rng}, got {value!r}")
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"{where} must be finite, got {value!r}")
        if self.integer and v != int(v):
            raise ValueError(f"{where} must be a whole number in {rng}, got {value!r}")
        if not (self.minimum <= v <= self.maximum):
            raise ValueError(f"{where} must lie in {rng}, got {v:g}")
        return int(v) if self.integer else v


@dataclass(frozen=True)
class DatasetInfo:
    """What a menu needs to offer a data set before building it."""

    name: str
    title: str
    description: str
    task: str
    default_samples: int
    default_noise: float
    options: tuple[DatasetOption, ...] = ()
    max_noise: float = 1.0
    max_samples: int = MAX_SAMPLES

    def option_defaults(self) -> dict[str, int | float]:
        return {o.name: o.default for o in self.options}


# --- generators -------------------------------------------------------------------------
# Each takes (rng, n, noise, **options) and returns (X float64 (n, d), y). Classification
# labels come grouped by class; the split's permutation shuffles them.


def _class_sizes(n: int, k: int) -> NDArray[np.int64]:
    """Balanced class sizes summing to n (the first n % k classes get one more)."""
    return np.full(k, n // k, dtype=np.int64) + (np.arange(k) < n % k)


def _labels(n: int, k: int) -> NDArray[np.int64]:
    return np.repeat(np.arange(k, dtype=np.int64), _class_sizes(n, k))


def _moons(rng: np.random.Generator, n: int, noise: float) -> tuple[NDArray, NDArray]:
    y = _labels(n, 2)
    t = rng.uniform(0.0, math.pi, n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    X = np.where((y == 0)[:, None], upper, lower)
    return X + rng.normal(0.0, noise, X.shape), y


def _circles(
    rng: np.random.Generator, n: int, noise: float, factor: float
) -> tuple[NDArray, NDArray]:
    y = _labels(n, 2)
    t = rng.uniform(0.0, 2.0 * math.pi, n)
    r = np.where(y == 0, 1.0, factor)
    X = r[:, None] * np.stack([np.cos(t), np.sin(t)], axis=1)
    return X + rng.normal(0.0, noise, X.shape), y


# Radius of a spiral point runs over [_SPIRAL_R0, 1]; each arm makes _SPIRAL_TURNS turns.
_SPIRAL_R0 = 0.1
_SPIRAL_TURNS = 1.0


def _spirals(rng: np.random.Generator, n: int, noise: float, arms: int) -> tuple[NDArray, NDArray]:
    y = _labels(n, arms)
    u = rng.uniform(0.0, 1.0, n)
    r = _SPIRAL_R0 + (1.0 - _SPIRAL_R0) * u
    theta = 2.0 * math.pi * (y / arms + _SPIRAL_TURNS * u)
    # Angular jitter relative to the gap between arms keeps the difficulty the same
    # whatever the arm count.
    theta = theta + rng.normal(0.0, noise * math.pi / arms, n)
    r = r + rng.normal(0.0, 0.05 * noise, n)
    return r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1), y


_BLOB_BOX = 3.5  # centres in [-3.5, 3.5]², so blobs sit well inside [-4, 4]²
_BLOB_CANDIDATES = 512


def _blob_centres(rng: np.random.Generator, k: int) -> NDArray[np.float64]:
    """Random centres, the best spread of a few candidate layouts (no blob on top of another)."""
    cand = rng.uniform(-_BLOB_BOX, _BLOB_BOX, (_BLOB_CANDIDATES, k, 2))
    d = np.linalg.norm(cand[:, :, None, :] - cand[:, None, :, :], axis=-1)
    d[:, np.arange(k), np.arange(k)] = np.inf
    return cand[int(np.argmax(d.min(axis=(1, 2))))]


def _blobs(rng: np.random.Generator, n: int, noise: float, centers: int) -> tuple[NDArray, NDArray]:
    centres = _blob_centres(rng, centers)
    y = _labels(n, centers)
    return centres[y] + rng.normal(0.0, noise, (n, 2)), y


def _xor(rng: np.random.Generator, n: int, noise: float) -> tuple[NDArray, NDArray]:
    # Balanced classes: class 1 is quadrants I and III (same signs), class 0 II and IV.
    y = _labels(n, 2)
    sx = rng.choice([-1.0, 1.0], n)
    sy = np.where(y == 1, sx, -sx)
    X = rng.uniform(0.0, 1.0, (n, 2)) * np.stack([sx, sy], axis=1)
    return X + rng.normal(0.0, noise, X.shape), y


def checkerboard_labels(X: NDArray[np.float64], tiles: int) -> NDArray[np.int64]:
    """Tile parity of points in [-1, 1]²: ``(ix + iy) % 2`` with tile indices from 0."""
    idx = np.clip(np.floor((X + 1.0) * (tiles / 2.0)), 0, tiles - 1).astype(np.int64)
    return (idx[:, 0] + idx[:, 1]) % 2


def _checkerboard(
    rng: np.random.Generator, n: int, noise: float, tiles: int
) -> tuple[NDArray, NDArray]:
    # Balanced classes: each point picks a random tile of its class's parity, then a
    # uniform position inside it.
    y = _labels(n, 2)
    ix, iy = np.divmod(np.arange(tiles * tiles), tiles)
    parity = (ix + iy) % 2
    by_parity = np.argsort(parity, kind="stable")  # parity-0 tiles, then parity-1 tiles
    counts = np.bincount(parity, minlength=2)
    offset = np.array([0, counts[0]])
    k = np.minimum((rng.uniform(0.0, 1.0, n) * counts[y]).astype(np.int64), counts[y] - 1)
    tile = by_parity[offset[y] + k]
    corner = np.stack([ix[tile], iy[tile]], axis=1).astype(np.float64)
    X = (corner + rng.uniform(0.0, 1.0, (n, 2))) * (2.0 / tiles) - 1.0
    return X + rng.normal(0.0, noise, X.shape), y


def _sine(rng: np.random.Generator, n: int, noise: float) -> tuple[NDArray, NDArray]:
    x = rng.uniform(-3.0, 3.0, n)
    return x[:, None], np.sin(x) + rng.normal(0.0, noise, n)


def polynomial_coefficients(seed: int, degree: int) -> NDArray[np.float64]:
    """The clean target of ``polynomial`` (increasing powers), rescaled to span [-1, 1].

    Equals the curve behind ``make_dataset("polynomial", seed=seed, degree=degree)``
    (drawn first from the same generator), so a view can draw the truth under the fit.

    Its roots sit near Chebyshev points with seeded jitter, so every degree shows
    as visible wiggles inside [-1, 1] rather than a curve that just looks steep.
    """
    return _polynomial_coefficients(np.random.default_rng(seed), degree)


def _polynomial_coefficients(rng: np.random.Generator, degree: int) -> NDArray[np.float64]:
    P = np.polynomial.polynomial
    j = np.arange(degree) + 0.5 + rng.uniform(-0.35, 0.35, degree)
    coef = P.polyfromroots(np.cos(math.pi * j / degree))
    if rng.uniform() < 0.5:
        coef = -coef
    v = P.polyval(np.linspace(-1.0, 1.0, 2001), coef)
    lo, hi = v.min(), v.max()
    coef = coef * (2.0 / (hi - lo))
    coef[0] -= (hi + lo) / (hi - lo)
    return coef


def _polynomial(
    rng: np.random.Generator, n: int, noise: float, degree: int
) -> tuple[NDArray, NDArray]:
    coef = _polynomial_coefficients(rng, degree)
    x = rng.uniform(-1.0, 1.0, n)
    y = np.polynomial.polynomial.polyval(x, coef)
    return x[:, None], y + rng.normal(0.0, noise, n)


@functools.lru_cache(maxsize=1)
def _digits_raw() -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Read the shipped digits once; the cached arrays are read-only, callers copy."""
    with (resources.files("lossviewer.core") / "data" / "digits.npz").open("rb") as fh:
        with np.load(fh, allow_pickle=False) as z:
            images, labels = z["images"], z["labels"]
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _digits(rng: np.random.Generator, n: int, noise: float) -> tuple[NDArray, NDArray]:
    images, labels = _digits_raw()
    idx = (
        np.arange(_DIGITS_COUNT)
        if n == _DIGITS_COUNT
        else np.sort(rng.choice(_DIGITS_COUNT, n, replace=False))
    )
    return images[idx].astype(np.float64) / 16.0, labels[idx].astype(np.int64)


# --- registry ---------------------------------------------------------------------------


def _info(
    gen: Callable[..., tuple[NDArray, NDArray]], n_classes: Callable[[dict], int], **kw: Any
) -> DatasetInfo:
    info = DatasetInfo(**kw)
    _GENERATORS[info.name] = (gen, n_classes)
    return info


_GENERATORS: dict[str, tuple[Callable[..., tuple[NDArray, NDArray]], Callable[[dict], int]]] = {}

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        _info(
            _moons,
            lambda o: 2,
            name="moons",
            title="Two moons",
            description="Two interleaving half circles: the classic first non-linear boundary.",
            task=CLASSIFICATION,
            default_samples=500,
            default_noise=0.2,
            max_noise=1.0,
        ),
        _info(
            _circles,
            lambda o: 2,
            name="circles",
            title="Concentric circles",
            description="A ring around a disc: no straight line separates them, one bend does.",
            task=CLASSIFICATION,
            default_samples=500,
            default_noise=0.1,
            max_noise=1.0,
            options=(
                DatasetOption(
                    "factor", 0.5, 0.1, 0.9, "radius of the inner circle (outer is 1)", False
                ),
            ),
        ),
        _info(
            _spirals,
            lambda o: int(o["arms"]),
            name="spirals",
            title="Spirals",
            description="Interleaved spiral arms, one class each: hard for small networks.",
            task=CLASSIFICATION,
            default_samples=600,
            default_noise=0.2,
            max_noise=1.0,
            options=(DatasetOption("arms", 3, 2, 8, "number of arms (= classes)"),),
        ),
        _info(
            _blobs,
            lambda o: int(o["centers"]),
            name="blobs",
            title="Gaussian blobs",
            description="Round Gaussian clusters, one class each; noise is their spread.",
            task=CLASSIFICATION,
            default_samples=600,
            default_noise=1.0,
            max_noise=4.0,
            options=(DatasetOption("centers", 3, 2, 8, "number of blobs (= classes)"),),
        ),
        _info(
            _xor,
            lambda o: 2,
            name="xor",
            title="XOR",
            description="Opposite quadrants share a class: the problem a single neuron can't do.",
            task=CLASSIFICATION,
            default_samples=500,
            default_noise=0.1,
            max_noise=1.0,
        ),
        _info(
            _checkerboard,
            lambda o: 2,
            name="checkerboard",
            title="Checkerboard",
            description="Alternating square tiles of two classes: many small regions to carve.",
            task=CLASSIFICATION,
            default_samples=800,
            default_noise=0.0,
            max_noise=0.5,
            options=(DatasetOption("tiles", 4, 2, 8, "tiles per side"),),
        ),
        _info(
            _sine,
            lambda o: 0,
            name="sine",
            title="Sine wave",
            description="Fit y = sin(x) on [-3, 3] from noisy samples.",
            task=REGRESSION,
            default_samples=200,
            default_noise=0.1,
            max_noise=2.0,
        ),
        _info(
            _polynomial,
            lambda o: 0,
            name="polynomial",
            title="Polynomial",
            description="Fit a fixed random polynomial on [-1, 1] (range ±1) from noisy samples.",
            task=REGRESSION,
            default_samples=200,
            default_noise=0.1,
            max_noise=2.0,
            options=(DatasetOption("degree", 3, 1, 9, "degree of the target polynomial"),),
        ),
        _info(
            _digits,
            lambda o: 10,
            name="digits",
            title="Handwritten digits",
            description="1,797 real 8×8 images of handwritten digits, 64 pixels each, 10 classes.",
            task=CLASSIFICATION,
            default_samples=_DIGITS_COUNT,
            default_noise=0.0,
            max_noise=0.0,
            max_samples=_DIGITS_COUNT,
        ),
    )
}

_IMAGE_SHAPES: dict[str, tuple[int, int]] = {"digits": (8, 8)}


def dataset_names() -> list[str]:
    """Registered names in menu order."""
    return list(DATASETS)


# --- building ---------------------------------------------------------------------------


def _check_int(what: str, value: Any, lo: int, hi: int | None) -> int:
    rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok and isinstance(value, float) and value.is_integer():
        ok = True
    if not ok:
        raise ValueError(f"{what} must be a whole number {rng}, got {value!r}")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        raise ValueError(f"{what} must lie in {rng}, got {v}")
    return v


def _check_float(what: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a number in [{lo:g}, {hi:g}], got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ValueError(f"{what} must lie in [{lo:g}, {hi:g}], got {value!r}")
    return v


def _split(
    rng: np.random.Generator, y: NDArray, n_val: int, stratify: bool
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Seeded train/validation indices, both in random order.

    Stratified: within each class (randomly ordered) the r-th of c samples gets the key
    (r + ½)/c and the n_val smallest keys go to validation, so every class is split in
    nearly the requested proportion while the total is exact.
    """
    n = len(y)
    perm = rng.permutation(n)
    if stratify:
        yp = y[perm]
        order = np.argsort(yp, kind="stable")
        counts = np.bincount(yp)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        lab = yp[order]
        key = np.empty(n)
        key[order] = (np.arange(n) - starts[lab] + 0.5) / counts[lab]
        chosen = np.argsort(key, kind="stable")[:n_val]
    else:
        chosen = np.arange(n_val)
    is_val = np.zeros(n, dtype=bool)
    is_val[chosen] = True
    return perm[~is_val], perm[is_val]


def make_dataset(
    name: str,
    n_samples: int | None = None,
    noise: float | None = None,
    seed: int = 0,
    val_fraction: float = 0.3,
    **options: Any,
) -> Dataset:
    """Generate a registered data set, deterministic for (name, arguments).

    ``None`` picks the set's default sample count / noise; missing options take their
    defaults. Invalid input raises ValueError naming the valid choices or range. For
    ``digits``, ``n_samples`` takes a seeded random subset of the 1,797 images and
    ``noise`` is ignored (the real images are used as they are; params record 0.0).
    """
    key = str(name).strip().lower()
    info = DATASETS.get(key)
    if info is None:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    specs = {o.name: o for o in info.options}
    unknown = sorted(set(options) - set(specs))
    if unknown:
        valid = ", ".join(specs) if specs else "none"
        raise ValueError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"for dataset '{key}'; valid options: {valid}"
        )
    opts = {o.name: o.validate(key, options.get(o.name, o.default)) for o in info.options}

    n = info.default_samples if n_samples is None else n_samples
    n = _check_int("n_samples", n, MIN_SAMPLES, info.max_samples)
    if info.max_noise == 0.0:
        nz = 0.0  # real data: noise has no meaning here
    else:
        nz = info.default_noise if noise is None else noise
        nz = _check_float("noise", nz, 0.0, info.max_noise)
    seed = _check_int("seed", seed, 0, None)
    vf = _check_float("val_fraction", val_fraction, 0.0, MAX_VAL_FRACTION)

    gen, n_classes_of = _GENERATORS[key]
    rng = np.random.default_rng(seed)
    X, y = gen(rng, n, nz, **opts)
    classify = info.task == CLASSIFICATION
    n_val = int(round(n * vf))
    tr, va = _split(rng, y, n_val, stratify=classify)
    y_dtype = np.int64 if classify else np.float64
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=y_dtype)
    return Dataset(
        name=key,
        title=info.title,
        task=info.task,
        X_train=np.ascontiguousarray(X[tr]),
        y_train=np.ascontiguousarray(y[tr]),
        X_val=np.ascontiguousarray(X[va]),
        y_val=np.ascontiguousarray(y[va]),
        n_classes=n_classes_of(opts),
        params={"n_samples": n, "noise": nz, "seed": seed, "val_fraction": vf, **opts},
        image_shape=_IMAGE_SHAPES.get(key),
    )
