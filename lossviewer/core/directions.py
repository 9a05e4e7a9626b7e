"""Directions in parameter space that span a 2D slice of a network's loss landscape.

A landscape view plots ``L(θ + a·d1 + b·d2)`` over a grid of (a, b). What the picture
means depends on the choice of d1 and d2; this module offers the standard ones:

* ``random``: raw N(0, 1) draws. In high dimensions two of them are nearly orthogonal,
  but their scale ignores the network's, so plots of different networks do not compare.
* ``filter``: Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets": every
  filter (a neuron's incoming weights, one row of a Linear weight) of the random draw is
  rescaled to the norm of the same filter of θ. ReLU networks are invariant to rescaling
  a neuron's weights, so without this a step of fixed length means very different things
  for layers of different scale; with it, sharpness comparisons become meaningful.
* ``layer``: the same with one norm per weight tensor (Li et al.'s layer normalisation).
* ``pca``: the top two principal directions of a training trajectory relative to its end
  point (Li et al. section 7): random directions almost never contain the path an
  optimizer took, these capture most of it.
* ``hessian``: the top two Hessian eigenvectors (Lanczos on Hessian-vector products),
  the directions of sharpest curvature at θ.
* ``interp``: the line or plane through θ and one or two other solutions
  (Goodfellow et al. 2015, "Qualitatively characterizing neural network optimization").

Everything is reproducible from (spec, θ, inputs): random draws come from
``np.random.default_rng(spec.seed)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BIAS_MODES",
    "METHODS",
    "DirectionSpec",
    "Directions",
    "filter_normalize",
    "finite_difference_hvp",
    "hessian_top_eigenpairs",
    "interpolation_directions",
    "layer_normalize",
    "make_directions",
    "orthogonalize",
    "pca_directions",
    "random_direction",
]

METHODS: dict[str, str] = {
    "random": "Two Gaussian random directions, unscaled",
    "filter": "Random directions with each neuron rescaled to θ's norm (Li et al. 2018)",
    "layer": "Random directions with each layer rescaled to θ's norm",
    "pca": "Top two principal directions of the training trajectory (Li et al. 2018, §7)",
    "hessian": "Top two Hessian eigenvectors at θ: the directions of sharpest curvature",
    "interp": "The line or plane through θ and one or two other solutions",
}
BIAS_MODES: tuple[str, ...] = ("zero", "copy", "normalize")
_BIAS_WORDS = {"zero": "biases zeroed", "copy": "biases copied from θ",
               "normalize": "biases normalised"}
#: relative size below which a vector counts as parallel to / coincident with another
_PARALLEL_RTOL = 1e-8
#: Lanczos: ‖residual‖ below this fraction of the operator's scale means the Krylov
#: space is exhausted (an invariant subspace was found)
_BREAKDOWN_RTOL = 1e-10


def _vector(x: ArrayLike, name: str, dim: int | None = None) -> NDArray[np.float64]:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1 or (dim is not None and a.shape[0] != dim):
        want = f"({dim},)" if dim is not None else "1-D"
        raise ValueError(f"{name} must have shape {want}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite entries")
    return a


# -- random draws and their normalisation -------------------------------------------


def random_direction(dim: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """A standard normal vector of length ``dim``."""
    return rng.standard_normal(int(dim))


def _rescale(d: NDArray, target_norm: NDArray, d_norm: NDArray) -> NDArray:
    # Li et al. divide by (‖d‖ + 1e-10) only to guard against zero; rescaling exactly
    # (and leaving all-zero parts at zero) differs by a relative 1e-10 and keeps the
    # norms exact
    safe = np.where(d_norm > 0, d_norm, 1.0)
    return d * np.where(d_norm > 0, target_norm / safe, 0.0)


def _normalize(d: ArrayLike, theta: ArrayLike, layout: Any, bias: str,
               per_filter: bool) -> NDArray[np.float64]:
    if bias not in BIAS_MODES:
        raise ValueError(f"unknown bias mode {bias!r}; choose one of {', '.join(BIAS_MODES)}")
    theta = _vector(theta, "theta", layout.size)
    d = _vector(d, "d", layout.size)
    out = d.copy()
    for block in layout.blocks:
        dv = block.view(d)
        tv = block.view(theta)
        ov = block.view(out)
        if block.role == "bias" or block.filter_axis is None:
            if bias == "zero":
                ov[...] = 0.0
            elif bias == "copy":
                ov[...] = tv
            else:
                ov[...] = _rescale(dv, np.linalg.norm(tv), np.linalg.norm(dv))
            continue
        if per_filter:
            other = tuple(i for i in range(dv.ndim) if i != block.filter_axis)
            dn = np.sqrt(np.sum(dv * dv, axis=other, keepdims=True))
            tn = np.sqrt(np.sum(tv * tv, axis=other, keepdims=True))
        else:
            dn = np.linalg.norm(dv)
            tn = np.linalg.norm(tv)
        ov[...] = _rescale(dv, tn, dn)
    return out


def filter_normalize(d: ArrayLike, theta: ArrayLike, layout: Any,
                     bias: str = "zero") -> NDArray[np.float64]:
    """Li et al. 2018 filter normalisation of ``d`` against ``theta``; a new array.

    Each filter of every weight block (slice along ``filter_axis``: a row, i.e. one
    neuron's incoming weights) is rescaled to the norm of the same filter of θ, as in
    their ``net_plotter.normalize_direction``. Biases: ``"zero"`` sets them to 0 (their
    ``--xignore biasbn``, the usual choice), ``"copy"`` copies θ's biases (what their code
    does without it), ``"normalize"`` rescales the bias vector as one filter.
    """
    return _normalize(d, theta, layout, bias, per_filter=True)


def layer_normalize(d: ArrayLike, theta: ArrayLike, layout: Any,
                    bias: str = "zero") -> NDArray[np.float64]:
    """Like :func:`filter_normalize`, with one norm per weight block (Li et al.'s "layer")."""
    return _normalize(d, theta, layout, bias, per_filter=False)


def orthogonalize(d1: ArrayLike, d2: ArrayLike) -> NDArray[np.float64]:
    """``d2`` minus its projection on ``d1`` (Gram–Schmidt), rescaled to ``d2``'s norm.

    Keeping the norm keeps the axis scale of a normalised direction (only roughly: the
    per-filter norms change). Raises ValueError when d2 is (numerically) parallel to d1.
    """
    a = _vector(d1, "d1")
    b = _vector(d2, "d2", a.shape[0])
    aa = float(a @ a)
    if aa == 0.0:
        raise ValueError("cannot orthogonalise against a zero direction")
    nb = float(np.linalg.norm(b))
    r = b - (float(a @ b) / aa) * a
    nr = float(np.linalg.norm(r))
    if nb == 0.0 or nr <= _PARALLEL_RTOL * nb:
        raise ValueError("the two directions are parallel (or the second is zero); "
                         "they do not span a plane")
    return r * (nb / nr)


# -- PCA of a trajectory -------------------------------------------------------------


def _fix_sign(v: NDArray) -> NDArray:
    """Flip ``v`` (k, D) row-wise so that each row's largest-magnitude entry is positive."""
    idx = np.argmax(np.abs(v), axis=-1)
    s = np.sign(np.take_along_axis(v, idx[..., None], axis=-1))
    s[s == 0] = 1.0
    return v * s


def pca_directions(checkpoints: ArrayLike, final: ArrayLike
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Top two principal directions of ``checkpoints - final`` (Li et al. 2018, §7).

    Li et al. form ``M = [θ_0 − θ_n; …; θ_{n−1} − θ_n]`` and take its principal directions,
    so the plane through the end point contains as much of the path as possible. We use
    the SVD of M itself (no further centring; their code's sklearn PCA also subtracts
    the mean of M). Returns unit vectors (d1, d2), each with its largest-magnitude entry
    positive, and ``explained`` = the two squared singular values over their total.
    """
    final = _vector(final, "final")
    m = np.asarray(checkpoints, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] != final.shape[0]:
        raise ValueError(f"checkpoints must have shape (K, {final.shape[0]}), got {m.shape}")
    if m.shape[0] < 3:
        raise ValueError(f"PCA directions need at least 3 checkpoints, got {m.shape[0]}")
    if not np.all(np.isfinite(m)):
        raise ValueError("checkpoints have non-finite entries")
    m = m - final
    _, s, vt = np.linalg.svd(m, full_matrices=False)
    s2 = s * s
    total = float(s2.sum())
    if s.size < 2 or total == 0.0 or s[1] <= 1e-10 * s[0]:
        raise ValueError("the trajectory spans fewer than 2 dimensions: "
                         "PCA needs a path that does not run along a single line")
    d = _fix_sign(vt[:2])
    return d[0].copy(), d[1].copy(), s2[:2] / total


# -- Hessian eigenvectors --------------------------------------------------------------


def finite_difference_hvp(grad: Callable[[NDArray], NDArray], theta: ArrayLike,
                          eps: float | None = None) -> Callable[[NDArray], NDArray]:
    """Hessian-vector products from central differences of the gradient.

    ``v ↦ (g(θ + h v) − g(θ − h v)) / 2h`` with ``h = eps`` or ``1e-4·max(1, ‖θ‖)/‖v‖``:
    the step along v is a fixed small fraction of θ's scale, where truncation (h²) and
    rounding (1/h) errors roughly balance. Two gradient calls per product.
    """
    theta = _vector(theta, "theta")
    scale = 1e-4 * max(1.0, float(np.linalg.norm(theta)))

    def hvp(v: NDArray) -> NDArray[np.float64]:
        v = np.asarray(v, dtype=np.float64)
        nv = float(np.linalg.norm(v))
        if nv == 0.0:
            return np.zeros_like(theta)
        h = float(eps) if eps is not None else scale / nv
        gp = np.asarray(grad(theta + h * v), dtype=np.float64)
        gm = np.asarray(grad(theta - h * v), dtype=np.float64)
        return (gp - gm) / (2.0 * h)

    return hvp


def hessian_top_eigenpairs(hvp: Callable[[NDArray], NDArray], dim: int, k: int = 2,
                           seed: int = 0, max_iter: int = 60, tol: float = 1e-6
                           ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The ``k`` algebraically largest eigenvalues (descending) and unit eigenvectors (k, dim).

    Lanczos with full reorthogonalisation from a seeded random start: only products
    ``hvp(v)`` are needed, never the D×D Hessian, and extreme eigenvalues converge in a
    few dozen products. Stops when the top-k Ritz pairs have residuals below
    ``tol·|λ|``, after ``max_iter`` products, or when the basis fills the space. When the
    Krylov space is exhausted early (an invariant subspace, e.g. a repeated eigenvalue
    or a low-rank operator) it restarts from a fresh random vector orthogonal to the
    basis and then runs to ``min(dim, max_iter)``, so repeated eigenvalues are found.
    Each eigenvector's largest-magnitude entry is positive. Memory: ``max_iter·dim`` floats.
    """
    dim = int(dim)
    k = int(k)
    if dim < 1:
        raise ValueError(f"dim must be positive, got {dim}")
    if not 1 <= k <= dim:
        raise ValueError(f"k must lie in [1, {dim}], got {k}")
    if int(max_iter) < k:
        raise ValueError(f"max_iter ({max_iter}) must be at least k ({k})")
    m_max = min(dim, int(max_iter))
    rng = np.random.default_rng(seed)
    basis = np.zeros((m_max, dim))
    alpha = np.zeros(m_max)
    beta = np.zeros(m_max)  # beta[j] couples basis vectors j and j + 1
    anorm = 0.0
    restarted = False
    m = 0

    def orth(w: NDArray, n: int) -> tuple[NDArray, NDArray]:
        # classical Gram-Schmidt against the first n basis vectors, twice ("twice is enough")
        q = basis[:n]
        c1 = q @ w
        w = w - c1 @ q
        c2 = q @ w
        return w - c2 @ q, c1 + c2

    q = rng.standard_normal(dim)
    q /= np.linalg.norm(q)
    for j in range(m_max):
        basis[j] = q
        w = np.asarray(hvp(q), dtype=np.float64)
        if w.shape != (dim,):
            raise ValueError(f"the Hessian-vector product returned shape {w.shape}, "
                             f"expected ({dim},)")
        if not np.all(np.isfinite(w)):
            raise ValueError("the Hessian-vector product returned non-finite values")
        w, c = orth(w, j + 1)
        alpha[j] = c[j]
        b = float(np.linalg.norm(w))
        anorm = max(anorm, abs(alpha[j]), b, beta[j - 1] if j else 0.0)
        m = j + 1
        if m == m_max:
            break
        if b <= _BREAKDOWN_RTOL * anorm or anorm == 0.0:
            # invariant subspace found: continue from a fresh direction outside it
            restarted = True
            beta[j] = 0.0
            q, _ = orth(rng.standard_normal(dim), m)
            q /= np.linalg.norm(q)
            continue
        beta[j] = b
        if m >= k and not restarted:
            vals, vecs = np.linalg.eigh(_tridiagonal(alpha[:m], beta[:m - 1]))
            top = slice(m - k, m)
            res = b * np.abs(vecs[-1, top])
            floor = np.finfo(float).eps * anorm
            if np.all(res < tol * np.maximum(np.abs(vals[top]), floor)):
                break
        q = w / b
    vals, vecs = np.linalg.eigh(_tridiagonal(alpha[:m], beta[:m - 1]))
    order = np.arange(m - 1, m - 1 - k, -1)
    v = vecs[:, order].T @ basis[:m]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return vals[order].copy(), _fix_sign(v)


def _tridiagonal(a: NDArray, b: NDArray) -> NDArray:
    return np.diag(a) + np.diag(b, 1) + np.diag(b, -1)


# -- interpolation -----------------------------------------------------------------------


def interpolation_directions(points: Sequence[ArrayLike]
                             ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None,
                                        NDArray[np.float64]]:
    """The line through two points or the plane through three, as (center, d1, d2).

    Two points (Goodfellow et al. 2015): center = p0, d1 = p1 − p0, d2 = None, so
    coordinate 1 is p1. Three points: d1 = p1 − p0, d2 = p2 − p0, so plane coordinates
    (1, 0) and (0, 1) are p1 and p2. Raises ValueError for coincident or collinear points.
    """
    pts = list(points)
    if len(pts) not in (2, 3):
        raise ValueError(f"interpolation needs 2 or 3 points, got {len(pts)}")
    p0 = _vector(pts[0], "point 0")
    ps = [_vector(p, f"point {i}", p0.shape[0]) for i, p in enumerate(pts[1:], 1)]
    scale = max(float(np.linalg.norm(p)) for p in (p0, *ps))
    ds = [p - p0 for p in ps]
    for i, d in enumerate(ds, 1):
        if float(np.linalg.norm(d)) <= 1e-12 * max(scale, 1e-300):
            raise ValueError(f"point {i} coincides with point 0")
    if len(ds) == 1:
        return p0.copy(), ds[0], None
    try:
        orthogonalize(ds[0], ds[1])
    except ValueError:
        raise ValueError("the three points are collinear: they do not span a plane") from None
    return p0.copy(), ds[0], ds[1]


# -- specification and construction ----------------------------------------------------------


@dataclass(frozen=True)
class DirectionSpec:
    """How to choose the two directions: method, seed, bias handling, orthogonalisation."""

    method: str = "filter"
    seed: int = 0
    #: what filter / layer normalisation does to biases (see :func:`filter_normalize`)
    bias: str = "zero"
    #: make d2 orthogonal to d1 (Gram–Schmidt, keeping d2's norm)
    orthogonalize: bool = False

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown direction method {self.method!r}; "
                             f"choose one of {', '.join(METHODS)}")
        if self.bias not in BIAS_MODES:
            raise ValueError(f"unknown bias mode {self.bias!r}; "
                             f"choose one of {', '.join(BIAS_MODES)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "orthogonalize", bool(self.orthogonalize))

    def describe(self) -> str:
        """A one-line human description, e.g. for a plot title or tooltip."""
        s = self.seed
        text = {
            "random": f"random Gaussian directions (seed {s})",
            "filter": f"filter-normalised random directions (seed {s}, "
                      f"{_BIAS_WORDS[self.bias]})",
            "layer": f"layer-normalised random directions (seed {s}, "
                     f"{_BIAS_WORDS[self.bias]})",
            "pca": "principal directions of the training trajectory",
            "hessian": f"top Hessian eigenvectors (Lanczos, seed {s})",
            "interp": "interpolation between solutions",
        }[self.method]
        return text + (", orthogonalised" if self.orthogonalize else "")


@dataclass(frozen=True, eq=False)
class Directions:
    """A plane (or line plus a second axis) through ``center``: θ(a, b) = center + a·d1 + b·d2."""

    d1: NDArray[np.float64]
    d2: NDArray[np.float64]
    center: NDArray[np.float64]
    spec: DirectionSpec
    #: axis labels for (d1, d2)
    labels: tuple[str, str]
    #: method-specific numbers; always "cosine", "norm_d1", "norm_d2", "norm_center"
    info: dict = field(default_factory=dict)

    def point(self, a: float, b: float) -> NDArray[np.float64]:
        """The parameter vector at plane coordinates (a, b)."""
        return self.center + a * self.d1 + b * self.d2

    def project(self, points: ArrayLike) -> NDArray[np.float64]:
        """Least-squares plane coordinates (..., 2) of parameter vectors (..., D).

        Exact for points in the plane; for others the closest point of the plane
        (d1 and d2 need not be orthogonal), as Li et al. project trajectories.
        """
        p = np.asarray(points, dtype=np.float64) - self.center
        basis = np.stack([self.d1, self.d2])
        return (p @ basis.T) @ np.linalg.inv(basis @ basis.T)


def _cosine(a: NDArray, b: NDArray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b) / (na * nb) if na > 0 and nb > 0 else math.nan


def make_directions(spec: DirectionSpec, network: Any, theta: ArrayLike, *,
                    checkpoints: ArrayLike | None = None, X: NDArray | None = None,
                    targets: Any = None, others: Sequence[ArrayLike] | None = None
                    ) -> Directions:
    """The two directions ``spec`` asks for at ``theta`` of ``network``; centre θ.

    * random: two independent N(0, 1) draws from ``default_rng(spec.seed)``, left
      unscaled (each has norm ≈ √D);
    * filter / layer: the same draws, normalised against θ with ``spec.bias``;
    * pca: ``checkpoints`` (K, D) of a training run ending at θ;
    * hessian: ``X`` and ``targets`` (``network.targets(y)``); Lanczos on finite-difference
      Hessian-vector products of the training objective, started from ``spec.seed``;
    * interp: ``others`` = [B] for the line θ→B, whose second axis is a filter-normalised
      random direction (seed, bias) orthogonalised to B − θ so the view stays 2D, or
      [B, C] for the plane through θ, B and C ((1, 0) is B, (0, 1) is C).

    With ``spec.orthogonalize`` d2 is then made orthogonal to d1.
    """
    theta = _vector(theta, "theta", network.n_params)
    dim = theta.shape[0]
    layout = network.layout
    info: dict[str, Any] = {}
    method = spec.method
    if method in ("random", "filter", "layer"):
        rng = np.random.default_rng(spec.seed)
        d1 = random_direction(dim, rng)
        d2 = random_direction(dim, rng)
        if method == "random":
            labels = ("δ (random)", "η (random)")
        else:
            norm = filter_normalize if method == "filter" else layer_normalize
            d1 = norm(d1, theta, layout, spec.bias)
            d2 = norm(d2, theta, layout, spec.bias)
            word = "filter-normalised" if method == "filter" else "layer-normalised"
            labels = (f"δ ({word})", f"η ({word})")
    elif method == "pca":
        if checkpoints is None:
            raise ValueError("PCA directions need a training run with checkpoints")
        d1, d2, explained = pca_directions(checkpoints, theta)
        info["explained"] = (float(explained[0]), float(explained[1]))
        info["n_checkpoints"] = int(np.shape(checkpoints)[0])
        labels = (f"PC 1 ({100 * explained[0]:.1f} %)", f"PC 2 ({100 * explained[1]:.1f} %)")
    elif method == "hessian":
        if X is None or targets is None:
            raise ValueError("Hessian directions need the training data (X and targets)")
        network.check_data(X)

        def grad(t: NDArray) -> NDArray:
            return network.loss_and_grad(t, X, targets)[1]

        vals, vecs = hessian_top_eigenpairs(finite_difference_hvp(grad, theta), dim, k=2,
                                            seed=spec.seed)
        d1, d2 = vecs[0], vecs[1]
        info["eigenvalues"] = (float(vals[0]), float(vals[1]))
        labels = (f"v₁ (λ = {vals[0]:.3g})", f"v₂ (λ = {vals[1]:.3g})")
    else:  # interp
        rest = [] if others is None else list(others)
        if len(rest) not in (1, 2):
            raise ValueError("interpolation needs one or two other solutions (B, or B and C)")
        _, d1, d2_or_none = interpolation_directions([theta, *rest])
        info["distances"] = tuple(float(np.linalg.norm(np.asarray(o) - theta)) for o in rest)
        if d2_or_none is None:
            rng = np.random.default_rng(spec.seed)
            r = filter_normalize(random_direction(dim, rng), theta, layout, spec.bias)
            d2 = orthogonalize(d1, r)
            labels = ("→ solution B", "η (filter-normalised, ⟂)")
        else:
            d2 = d2_or_none
            labels = ("→ solution B", "→ solution C")
    if spec.orthogonalize:
        d2 = orthogonalize(d1, d2)
    d1 = np.array(d1, dtype=np.float64)
    d2 = np.array(d2, dtype=np.float64)
    info.update(cosine=_cosine(d1, d2), norm_d1=float(np.linalg.norm(d1)),
                norm_d2=float(np.linalg.norm(d2)), norm_center=float(np.linalg.norm(theta)))
    return Directions(d1, d2, theta.copy(), spec, labels, info)
