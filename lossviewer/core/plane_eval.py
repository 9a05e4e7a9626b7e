"""Loss of a network on a 2D plane of parameter space, many plane points per pass.

θ(a, b) = θ₀ + a·δ + b·η. Published tools set θ and run one forward pass per
grid point. Here a chunk of K points goes through the network at once:
- the first layer's pre-activation is affine in (a, b):
  X·W(a,b)ᵀ + b(a,b) = P₀ + a·P_δ + b·P_η, the three products computed once,
  so each point costs only element-wise work however wide the input is;
- later layers multiply the chunk's activations (K·N, h) by the stacked
  [W₀ | W_δ | W_η]ᵀ in one GEMM and combine the three blocks with a and b;
- chunks hold about ``chunk_elements`` activations (cache-sized), buffers are
  reused, and memory is bounded by the chunk, not the grid.
The plane gradient (∂L/∂a, ∂L/∂b) comes out of the same pass by backprop: it is
Σ over layers ⟨δ_l, H_{l-1}·W_δᵀ + b_δ⟩, and the stacked GEMM already holds
H_{l-1}·W_δᵀ.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lossviewer.core.network import (
    Network,
    activate,
    activation_slope,
    correct_fraction,
    loss_slopes,
    loss_values,
)
from lossviewer.core.threads import worker_count

#: activations per chunk of plane points (outputs and per-point weights scale with it);
#: blocking keeps the actual working set at BLOCK_ELEMENTS (sizes swept on 2 cores)
CHUNK_ELEMENTS = 1 << 21
#: activations per block of samples inside a chunk: 512 KiB of float32, within L2
BLOCK_ELEMENTS = 1 << 17
DTYPES = {"float32": np.float32, "float64": np.float64}


@dataclass(frozen=True, eq=False)
class Plane:
    """θ(a, b) = center + a·d1 + b·d2 in a network's parameter space."""

    center: NDArray[np.float64]
    d1: NDArray[np.float64]
    d2: NDArray[np.float64]

    def __post_init__(self) -> None:
        c = np.asarray(self.center, np.float64)
        if c.ndim != 1:
            raise ValueError("the centre must be a parameter vector")
        if not np.all(np.isfinite(c)):
            raise ValueError("the centre is not finite")
        for name in ("d1", "d2"):
            d = np.asarray(getattr(self, name), np.float64)
            if d.shape != c.shape:
                raise ValueError(f"direction {name} has {d.size} entries, the model "
                                 f"has {c.size} parameters")
            if not np.all(np.isfinite(d)):
                raise ValueError(f"direction {name} is not finite")
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "d1", np.asarray(self.d1, np.float64))
        object.__setattr__(self, "d2", np.asarray(self.d2, np.float64))

    @property
    def dim(self) -> int:
        return int(self.center.size)

    def point(self, a: float, b: float) -> NDArray[np.float64]:
        return self.center + a * self.d1 + b * self.d2

    def points(self, ab: ArrayLike) -> NDArray[np.float64]:
        """θ at plane coordinates ``ab`` (K, 2): shape (K, D)."""
        ab = np.asarray(ab, np.float64).reshape(-1, 2)
        return self.center + ab[:, :1] * self.d1 + ab[:, 1:] * self.d2

    def project(self, thetas: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Least-squares plane coordinates (K, 2) of θs (K, D) and their distance from the plane."""
        T = np.atleast_2d(np.asarray(thetas, np.float64)) - self.center
        B = np.stack([self.d1, self.d2], axis=1)  # (D, 2)
        coords, *_ = np.linalg.lstsq(B, T.T, rcond=None)
        resid = T - (B @ coords).T
        return coords.T.copy(), np.linalg.norm(resid, axis=1)


class PlaneEvaluator:
    """Objective and accuracy of ``network`` on data (X, y) over points of a plane."""

    def __init__(self, network: Network, X: NDArray, y: NDArray, plane: Plane,
                 dtype: str | type = "float32", chunk_elements: int = CHUNK_ELEMENTS) -> None:
        self.network = network
        self.plane = plane
        X = np.asarray(X)
        network.check_data(X)
        if np.shape(y)[:1] != X.shape[:1]:
            raise ValueError(f"{X.shape[0]} samples but {np.shape(y)[0] if np.ndim(y) else 1} "
                             "labels")
        if plane.dim != network.n_params:
            raise ValueError(f"the plane has {plane.dim} parameters, the model "
                             f"{network.n_params}: the directions belong to another model")
        self.dtype = np.dtype(DTYPES.get(dtype, dtype) if isinstance(dtype, str) else dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        dt = self.dtype
        self.n = int(X.shape[0])
        self.targets = network.targets(y, dt)
        self.chunk_elements = max(1, int(chunk_elements))
        # per layer: W (3, out, in) and b (3, out) for centre, d1, d2
        layers = network.weights(np.stack([plane.center, plane.d1, plane.d2]))
        W, b = layers[0]
        Xd = np.ascontiguousarray(X, dtype=np.float64)
        #: the data in this dtype, for the per-point reference (:meth:`direct`)
        self.X = Xd.astype(dt, copy=False)
        # first layer: the three products (bias folded in), computed once in float64;
        # a chunk's pre-activations are then one GEMM: [1, a, b] (K, 3) @ P (3, N*h)
        P = np.einsum("ni,kji->knj", Xd, W) + b[:, None, :]
        self._P = np.ascontiguousarray(P.reshape(3, -1), dtype=dt)
        self._h1 = int(W.shape[1])
        # later layers: W^T (3, in*out) and b (3, out); a chunk's per-point weights
        # W(a, b)^T are again [1, a, b] @ these, then one batched GEMM per layer
        self._WT = [np.ascontiguousarray(np.swapaxes(Wl, 1, 2).reshape(3, -1), dtype=dt)
                    for Wl, _ in layers[1:]]
        self._Wshape = [(int(Wl.shape[2]), int(Wl.shape[1])) for Wl, _ in layers[1:]]
        self._B = [np.ascontiguousarray(bl, dtype=dt) for _, bl in layers[1:]]
        # the directions' own weights (for the plane gradient: <dL/dW, W_d>)
        self._Wd = [np.ascontiguousarray(Wl[1:], dtype=np.float64) for Wl, _ in layers[1:]]
        self._bd = [np.ascontiguousarray(bl[1:], dtype=np.float64) for _, bl in layers[1:]]
        # regularisation l2/2 |c + a d1 + b d2|^2 as a quadratic in (a, b)
        c, d1, d2 = plane.center, plane.d1, plane.d2
        self._gram = np.array([[c @ c, c @ d1, c @ d2], [0, d1 @ d1, d1 @ d2], [0, 0, d2 @ d2]])
        self.widest = max(network.sizes[1:])

    # -- sizes ----------------------------------------------------------------------
    def chunk_points(self) -> int:
        """Plane points per pass: a chunk's activations stay near ``chunk_elements``."""
        per_point = self.n * self.widest
        return max(1, self.chunk_elements // max(per_point, 1))

    def _reg(self, a: NDArray, b: NDArray) -> NDArray:
        l2 = self.network.spec.l2
        if not l2:
            return np.zeros_like(a)
        g = self._gram
        return 0.5 * l2 * (g[0, 0] + 2 * a * g[0, 1] + 2 * b * g[0, 2]
                           + a * a * g[1, 1] + 2 * a * b * g[1, 2] + b * b * g[2, 2])

    def _reg_grad(self, a: NDArray, b: NDArray) -> tuple[NDArray, NDArray]:
        l2 = self.network.spec.l2
        g = self._gram
        return (l2 * (g[0, 1] + a * g[1, 1] + b * g[1, 2]),
                l2 * (g[0, 2] + a * g[1, 2] + b * g[2, 2]))

    # -- forward --------------------------------------------------------------------
    def _coeffs(self, a: NDArray, b: NDArray) -> NDArray:
        c = np.empty((a.size, 3), self.dtype)
        c[:, 0] = 1.0
        c[:, 1] = a
        c[:, 2] = b
        return c

    def _forward(self, c: NDArray, keep: bool) -> tuple[NDArray, list]:
        """Outputs (K, N, n_out) for a chunk with coefficients [1, a, b] (K, 3).

        With ``keep``, also each hidden layer's (z, h, W(a,b)^T) for backprop.
        """
        act = self.network.spec.activation
        k, n = c.shape[0], self.n
        z = np.matmul(c, self._P).reshape(k, n, self._h1)
        saved: list = []
        for WT, shape, bias in zip(self._WT, self._Wshape, self._B, strict=True):
            h = activate(act, z) if keep else activate(act, z, out=z)
            Wk = np.matmul(c, WT).reshape(k, *shape)  # (K, in, out)
            if keep:
                saved.append((z, h, Wk))
            z = np.matmul(h, Wk)
            z += np.matmul(c, bias)[:, None, :]
        return z, saved

    def _forward_blocked(self, c: NDArray) -> NDArray:
        """Outputs for a chunk as a (K, N, n_out) view of a class-major (K, n_out, N) array.

        Samples go through in blocks whose activations (K · block · width) stay
        in the L2 cache, so the element-wise passes do not go to memory; the
        outputs are stored class-major so the loss's reductions over classes
        run along contiguous rows (5–10× faster than over a short last axis).
        """
        act = self.network.spec.activation
        k, n, h1 = c.shape[0], self.n, self._h1
        block = min(n, max(16, BLOCK_ELEMENTS // max(k * self.widest, 1)))
        Wks = [np.matmul(c, WT).reshape(k, *shape) for WT, shape in zip(self._WT, self._Wshape,
                                                                       strict=True)]
        bks = [np.matmul(c, bias)[:, None, :] for bias in self._B]
        n_out = self.network.sizes[-1]
        fT = np.empty((k, n_out, n), self.dtype)
        zbuf = np.empty((k, block * h1), self.dtype)
        last = len(Wks) - 1
        for s0 in range(0, n, block):
            s1 = min(s0 + block, n)
            z = np.matmul(c, self._P[:, s0 * h1:s1 * h1], out=zbuf[:, :(s1 - s0) * h1])
            z = z.reshape(k, s1 - s0, h1)
            for i, (Wk, bk) in enumerate(zip(Wks, bks, strict=True)):
                activate(act, z, out=z)
                z = np.matmul(z, Wk)
                z += bk
                if i == last:
                    fT[:, :, s0:s1] = np.swapaxes(z, 1, 2)
            if last < 0:
                fT[:, :, s0:s1] = np.swapaxes(z, 1, 2)
        return np.swapaxes(fT, 1, 2)

    def evaluate(self, a: ArrayLike, b: ArrayLike) -> tuple[NDArray[np.float64],
                                                           NDArray[np.float64]]:
        """(objective, accuracy) at plane points (a, b), any matching shapes."""
        a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
        shape = a.shape
        fa, fb = a.ravel(), b.ravel()
        loss = np.empty(fa.size)
        acc = np.empty(fa.size)
        chunks = list(self.chunks(fa.size))

        def run(s: slice) -> None:
            loss[s], acc[s] = self._evaluate_chunk(fa[s], fb[s])

        workers = min(worker_count(), len(chunks))
        if workers > 1:
            # numpy releases the GIL: chunks on several threads use every core
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, chunks))
        else:
            for s in chunks:
                run(s)
        return loss.reshape(shape), acc.reshape(shape)

    def chunks(self, total: int) -> Iterator[slice]:
        k = self.chunk_points()
        for i in range(0, total, k):
            yield slice(i, min(i + k, total))

    def _evaluate_chunk(self, a: NDArray, b: NDArray) -> tuple[NDArray, NDArray]:
        with np.errstate(all="ignore"):
            f = self._forward_blocked(self._coeffs(a, b))
            t = self.targets
            loss = loss_values(self.network.loss, f, t).astype(np.float64) + self._reg(a, b)
            return loss, correct_fraction(f, t)

    # -- gradient in the plane -------------------------------------------------------
    def value_and_grad(self, a: ArrayLike, b: ArrayLike
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Objective (...) and its plane gradient (..., 2) at points (a, b)."""
        a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
        shape = a.shape
        fa, fb = a.ravel(), b.ravel()
        loss = np.empty(fa.size)
        grad = np.empty((fa.size, 2))
        for s in self.chunks(fa.size):
            with np.errstate(all="ignore"):
                loss[s], grad[s] = self._value_and_grad_chunk(fa[s], fb[s])
        return loss.reshape(shape), grad.reshape(shape + (2,))

    def _value_and_grad_chunk(self, a: NDArray, b: NDArray) -> tuple[NDArray, NDArray]:
        act = self.network.spec.activation
        c = self._coeffs(a, b)
        f, saved = self._forward(c, keep=True)
        t = self.targets
        loss = loss_values(self.network.loss, f, t).astype(np.float64) + self._reg(a, b)
        delta = loss_slopes(self.network.loss, f, t)
        grad = np.zeros((a.size, 2))
        for i in range(len(saved) - 1, -1, -1):
            z_prev, h_prev, Wk = saved[i]
            # dL/dW(a,b)^T per point (K, in, out), then its components along W_d, W_e
            gW = np.matmul(np.swapaxes(h_prev, 1, 2), delta)
            gb = delta.sum(axis=1)
            Wd, bd = self._Wd[i], self._bd[i]  # (2, out, in), (2, out)
            grad += np.einsum("kio,doi->kd", gW, Wd) + gb @ bd.T
            delta = np.matmul(delta, np.swapaxes(Wk, 1, 2))
            delta *= activation_slope(act, z_prev, h_prev)
        # first layer: dz/da = P_d, dz/db = P_e
        Pd = self._P[1:].reshape(2, self.n, self._h1)
        grad += np.einsum("knj,dnj->kd", delta, Pd)
        ra, rb = self._reg_grad(a, b)
        grad[:, 0] += ra
        grad[:, 1] += rb
        return loss, grad

    # -- the reference: one forward pass per point ------------------------------------
    def direct(self, a: float, b: float) -> tuple[float, float]:
        """(objective, accuracy) with θ set and one forward pass, in this evaluator's dtype."""
        theta = self.plane.point(float(a), float(b))
        net = self.network
        dt = self.dtype
        f = net.forward(theta.astype(dt), self.X)
        loss = float(loss_values(net.loss, f, self.targets)) + float(net.regularisation(theta))
        return loss, float(correct_fraction(f, self.targets))
