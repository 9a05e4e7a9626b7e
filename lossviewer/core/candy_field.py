"""The candy field: a hand-made landscape with every feature a loss-surface explainer needs.

A gentle bowl that levels off into a flat plateau towards the edges, four Gaussian
wells (one global minimum and three local ones), two round bumps and a long ridge.
Everything is a sum of (anisotropic) Gaussians, so value, gradient and Hessian are
closed-form; the minima are located by Newton's method from the well centres each
time the parameters change.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from lossviewer.core.landscape import Landscape, Minimum, ParamSpec

# Layout, in the default domain [-5, 5]². Wells: (x, y, depth, width). The first
# one sits at the bottom of the base bowl and is the deepest, so it is the global
# minimum for every parameter setting; the other three are local minima. The
# positions, widths and parameter ranges were chosen by scanning the whole parameter
# box (corners and random settings) for extra, missing or merged minima.
_WELLS = (
    (0.5, -0.5, 1.9, 0.8),
    (-1.9, -1.6, 1.3, 0.7),
    (-1.3, 1.7, 1.25, 0.7),
    (2.4, 1.3, 1.2, 0.65),
)
# Bumps: (x, y, relative height, width)
_BUMPS = (
    (-2.1, 0.2, 1.0, 0.55),
    (2.3, -1.7, 0.8, 0.55),
)
# Ridge: centre, direction of its long axis (degrees), long and short widths. It
# runs outwards from the centre between two wells, so it never dams up a trough
# (which would add a minimum).
_RIDGE = (0.5, 2.0, 80.0, 0.85, 0.28)
# Base bowl: centre, width s and power k of the super-Gaussian 1 − exp(−(r²/2s²)^k):
# its floor is nearly flat, its wall steep, and beyond r ≈ 1.7·s it levels off into
# the plateau (the corners of the domain).
_BASE = (0.5, -0.5, 2.9)
_BASE_POWER = 3


class CandyField(Landscape):
    name = "candy_field"
    title = "Candy field"
    description = (
        "Gaussian wells, bumps and a ridge in a bowl that flattens into a plateau: one "
        "global minimum, three local ones, and room for optimizers to get stuck."
    )
    formula = (
        "f = P·(1 − exp(−(r²/2s²)³)) − depth·Σ dᵢ·exp(−|p − wᵢ|²/2σᵢ²) "
        "+ bump·Σ hⱼ·exp(−|p − bⱼ|²/2σⱼ²) + ridge·exp(−½(u²/a² + v²/b²))"
    )
    default_domain = ((-5.0, 5.0), (-5.0, 5.0))
    default_zscale = "linear"
    # on the edge of the plateau: SGD crawls, adaptive methods race off
    default_start = (-3.2, 3.4)
    param_specs = (
        ParamSpec("depth", 1.0, 0.7, 1.5, "scale of the well depths"),
        ParamSpec("bump", 1.2, 0.0, 2.0, "height of the round bumps"),
        ParamSpec("ridge", 2.0, 0.0, 3.0, "height of the ridge"),
        ParamSpec("plateau", 2.0, 1.5, 4.0, "loss level of the flat plateau"),
        ParamSpec("width", 1.0, 0.85, 1.2, "scale of the widths of wells, bumps and ridge"),
    )

    def _configure(self) -> None:
        p = self.params
        w = p["width"]
        # rows: amplitude, centre x, centre y, precision Mxx, Mxy, Myy, super-Gaussian
        # power k; each term is amplitude·exp(−(q/2)^k) with q = (p − c)ᵀM(p − c)
        terms: list[tuple[float, ...]] = []
        bx, by, bs = _BASE
        # base bowl: P − P·exp(−(q/2)^k), the constant P is added in _f
        terms.append((-p["plateau"], bx, by, 1.0 / bs**2, 0.0, 1.0 / bs**2, _BASE_POWER))
        for x, y, d, s in _WELLS:
            k = 1.0 / (s * w) ** 2
            terms.append((-p["depth"] * d, x, y, k, 0.0, k, 1))
        for x, y, h, s in _BUMPS:
            k = 1.0 / (s * w) ** 2
            terms.append((p["bump"] * h, x, y, k, 0.0, k, 1))
        rx, ry, deg, a, b = _RIDGE
        c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
        ka, kb = 1.0 / (a * w) ** 2, 1.0 / (b * w) ** 2
        # precision R·diag(ka, kb)·Rᵀ puts the long axis along (c, s)
        mxx, mxy, myy = ka * c * c + kb * s * s, (ka - kb) * c * s, ka * s * s + kb * c * c
        terms.append((p["ridge"], rx, ry, mxx, mxy, myy, 1))
        # zero-amplitude terms (bump = 0 or ridge = 0) only cost time
        self._terms = [t for t in terms if t[0] != 0.0]
        self._const = p["plateau"]
        self._minima = self._find_minima()

    # -- evaluation: a sum over a handful of terms (a loop over terms, not points)
    def _each(self, x: NDArray, y: NDArray) -> list[tuple]:
        """Per term: e = a·exp(−ψ), Md, and the scalars of its derivatives.

        With t = q/2 and ψ = t^k: ∇ = −e·γ·Md and ∇² = e·(α·(Md)(Md)ᵀ − γ·M),
        where γ = k·t^(k−1) and α = γ² − k(k−1)·t^(k−2); k = 1 gives γ = α = 1.
        """
        out = []
        for a, cx, cy, mxx, mxy, myy, k in self._terms:
            # Every term is exactly 0 (underflowed) long before |d| = 1e100; the clip
            # keeps q, γ and α finite far outside the domain, so we never form 0·inf.
            dx = np.clip(x - cx, -1e100, 1e100)
            dy = np.clip(y - cy, -1e100, 1e100)
            mx = mxx * dx + mxy * dy
            my = mxy * dx + myy * dy
            t = 0.5 * (dx * mx + dy * my)
            if k == 1:
                out.append((a * np.exp(-t), mx, my, 1.0, 1.0, (mxx, mxy, myy)))
            else:
                t = np.minimum(t, 1e3)  # likewise: exp(−t^k) is 0 there
                tk2 = t ** (k - 2)
                gam = k * tk2 * t
                alpha = gam * gam - k * (k - 1) * tk2
                out.append((a * np.exp(-tk2 * t * t), mx, my, gam, alpha, (mxx, mxy, myy)))
        return out

    def _f(self, x, y):
        out = np.full(np.broadcast(x, y).shape, self._const)
        with np.errstate(under="ignore"):
            for e, *_ in self._each(x, y):
                out = out + e
        return out

    def _g(self, x, y):
        gx = np.zeros(np.broadcast(x, y).shape)
        gy = np.zeros_like(gx)
        with np.errstate(under="ignore"):
            for e, mx, my, gam, *_ in self._each(x, y):
                eg = e * gam
                gx = gx - eg * mx
                gy = gy - eg * my
        return gx, gy

    def _h(self, x, y):
        shape = np.broadcast(x, y).shape
        hxx, hxy, hyy = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        with np.errstate(under="ignore"):
            for e, mx, my, gam, alpha, (mxx, mxy, myy) in self._each(x, y):
                hxx = hxx + e * (alpha * mx * mx - gam * mxx)
                hxy = hxy + e * (alpha * mx * my - gam * mxy)
                hyy = hyy + e * (alpha * my * my - gam * myy)
        return hxx, hxy, hyy

    # -- minima --------------------------------------------------------------
    def _find_minima(self) -> list[Minimum]:
        """Newton's method from every well centre, all wells at once."""
        P = np.array([(x, y) for x, y, _, _ in _WELLS], dtype=np.float64)
        for _ in range(60):
            g = self.grad(P)
            H = self.hess(P)
            # Newton step where the Hessian is positive definite, a short gradient
            # step elsewhere; steps are capped so no start can jump to another well.
            det = H[:, 0, 0] * H[:, 1, 1] - H[:, 0, 1] ** 2
            pd = (H[:, 0, 0] > 0) & (det > 1e-12)
            safe_det = np.where(pd, det, 1.0)
            nx = (H[:, 1, 1] * g[:, 0] - H[:, 0, 1] * g[:, 1]) / safe_det
            ny = (H[:, 0, 0] * g[:, 1] - H[:, 0, 1] * g[:, 0]) / safe_det
            step = np.where(pd[:, None], np.stack([nx, ny], axis=-1), 0.1 * g)
            norm = np.linalg.norm(step, axis=-1, keepdims=True)
            step = step * np.minimum(1.0, 0.25 / np.maximum(norm, 1e-300))
            P = P - step
            if np.all(norm < 1e-15):
                break
        # keep converged, distinct minima only: a well that a parameter setting
        # washed out would otherwise show up as a copy of its neighbour
        g_ok = np.linalg.norm(self.grad(P), axis=-1) < 1e-8
        H = self.hess(P)
        pd = (H[:, 0, 0] > 0) & (H[:, 0, 0] * H[:, 1, 1] - H[:, 0, 1] ** 2 > 0)
        values = self.value(P)
        kept: list[int] = []
        for i in np.argsort(values, kind="stable"):
            if g_ok[i] and pd[i] and all(np.hypot(*(P[i] - P[j])) > 1e-6 for j in kept):
                kept.append(int(i))
        return [
            Minimum(
                float(P[i, 0]), float(P[i, 1]), float(values[i]), "global" if rank == 0 else "local"
            )
            for rank, i in enumerate(kept)
        ]

    def minima(self) -> list[Minimum]:
        return list(self._minima)
