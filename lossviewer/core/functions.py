"""The classic analytic test functions, with closed-form gradients and Hessians.

Every class works on broadcast float64 coordinate arrays (no loops over points).
Minima are the literature values, refined with Newton's method on the closed-form
derivatives and hard-coded to at least 10 significant digits.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lossviewer.core.candy_field import CandyField
from lossviewer.core.landscape import Landscape, Minimum, ParamSpec

__all__ = ["LANDSCAPES", "make_landscape"]

_PI = math.pi
_E = math.e


def _zeros(x: NDArray) -> NDArray:
    return np.zeros(np.shape(x))


def _full(x: NDArray, v: float) -> NDArray:
    return np.full(np.shape(x), v)


class Rosenbrock(Landscape):
    name = "rosenbrock"
    title = "Rosenbrock"
    description = (
        "A long, curved, flat-bottomed banana valley that is easy to find but slow to follow."
    )
    formula = "f(x, y) = (a − x)² + b·(y − x²)²"
    default_domain = ((-2.0, 2.0), (-1.0, 3.0))
    default_zscale = "log"
    default_start = (-1.5, 2.0)
    param_specs = (
        ParamSpec("a", 1.0, -1.5, 1.5, "position of the minimum (a, a²)"),
        ParamSpec("b", 100.0, 1.0, 1000.0, "steepness of the valley walls"),
    )

    def _configure(self) -> None:
        self._a = self.params["a"]
        self._b = self.params["b"]

    def _f(self, x, y):
        return (self._a - x) ** 2 + self._b * (y - x * x) ** 2

    def _g(self, x, y):
        r = y - x * x
        return -2.0 * (self._a - x) - 4.0 * self._b * x * r, 2.0 * self._b * r

    def _h(self, x, y):
        b = self._b
        return 2.0 - 4.0 * b * y + 12.0 * b * x * x, -4.0 * b * x, _full(x, 2.0 * b)

    def minima(self) -> list[Minimum]:
        a = self._a
        return [Minimum(a, a * a, 0.0)]


class Himmelblau(Landscape):
    name = "himmelblau"
    title = "Himmelblau"
    description = (
        "Four equally deep minima around a central hill: where you end up depends on "
        "where you start."
    )
    formula = "f(x, y) = (x² + y − 11)² + (x + y² − 7)²"
    default_domain = ((-5.0, 5.0), (-5.0, 5.0))
    default_zscale = "log"
    default_start = (0.0, -1.0)

    def _f(self, x, y):
        return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2

    def _g(self, x, y):
        a = x * x + y - 11.0
        b = x + y * y - 7.0
        return 4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b

    def _h(self, x, y):
        return 12.0 * x * x + 4.0 * y - 42.0, 4.0 * (x + y), 4.0 * x + 12.0 * y * y - 26.0

    def minima(self) -> list[Minimum]:
        return [
            Minimum(3.0, 2.0, 0.0),
            Minimum(-2.805118086952745, 3.131312518250573, 0.0),
            Minimum(-3.779310253377747, -3.283185991286170, 0.0),
            Minimum(3.584428340330492, -1.848126526964404, 0.0),
        ]


class Rastrigin(Landscape):
    name = "rastrigin"
    title = "Rastrigin"
    description = (
        "A bowl covered in a regular egg-crate of local minima that trap plain gradient descent."
    )
    formula = "f(x, y) = 2A + x² − A·cos(2πx) + y² − A·cos(2πy)"
    default_domain = ((-5.12, 5.12), (-5.12, 5.12))
    default_start = (-4.3, 3.7)
    param_specs = (ParamSpec("A", 10.0, 0.0, 20.0, "amplitude of the ripples"),)

    def _configure(self) -> None:
        self._A = self.params["A"]

    def _f(self, x, y):
        A = self._A
        return 2.0 * A + x * x - A * np.cos(2 * _PI * x) + y * y - A * np.cos(2 * _PI * y)

    def _g(self, x, y):
        k = 2 * _PI * self._A
        return 2.0 * x + k * np.sin(2 * _PI * x), 2.0 * y + k * np.sin(2 * _PI * y)

    def _h(self, x, y):
        k = 4 * _PI * _PI * self._A
        return 2.0 + k * np.cos(2 * _PI * x), _zeros(x), 2.0 + k * np.cos(2 * _PI * y)

    def minima(self) -> list[Minimum]:
        return [Minimum(0.0, 0.0, 0.0)]


class Ackley(Landscape):
    name = "ackley"
    title = "Ackley"
    description = "A nearly flat, bumpy outer region around one deep, sharp funnel at the origin."
    formula = "f(x, y) = −20·exp(−0.2·√(0.5(x² + y²))) − exp(0.5(cos 2πx + cos 2πy)) + e + 20"
    default_domain = ((-5.0, 5.0), (-5.0, 5.0))
    default_start = (-1.6, 1.3)

    @staticmethod
    def _s(x, y):
        # hypot avoids the underflow of x² + y² for tiny coordinates
        return np.hypot(x, y) * math.sqrt(0.5)

    def _f(self, x, y):
        s = self._s(x, y)
        c = 0.5 * (np.cos(2 * _PI * x) + np.cos(2 * _PI * y))
        return -20.0 * np.exp(-0.2 * s) - np.exp(c) + _E + 20.0

    def _g(self, x, y):
        s = self._s(x, y)
        e1 = np.exp(-0.2 * s)
        e2 = np.exp(0.5 * (np.cos(2 * _PI * x) + np.cos(2 * _PI * y)))
        # The cone term's gradient 2·e1·(x, y)/s has no limit at the origin (its
        # direction depends on the approach); 0 is the subgradient that makes the
        # minimum stationary, so we return that instead of 0/0.
        # x/s and y/s stay bounded (|·| ≤ √2) even for subnormal s
        pos = s > 0
        s_safe = np.where(pos, s, 1.0)
        u, v = np.where(pos, x / s_safe, 0.0), np.where(pos, y / s_safe, 0.0)
        gx = 2.0 * e1 * u + _PI * np.sin(2 * _PI * x) * e2
        gy = 2.0 * e1 * v + _PI * np.sin(2 * _PI * y) * e2
        return gx, gy

    def _h(self, x, y):
        s = self._s(x, y)
        e1 = np.exp(-0.2 * s)
        e2 = np.exp(0.5 * (np.cos(2 * _PI * x) + np.cos(2 * _PI * y)))
        sx, sy = np.sin(2 * _PI * x), np.sin(2 * _PI * y)
        # Written with u = x/s and v = y/s (bounded) so nothing overflows before
        # the genuine 1/s blow-up of the cone's curvature; at the origin itself the
        # cone term is dropped (its curvature is infinite), leaving the finite rest.
        pos = s > 0
        s_safe = np.where(pos, s, 1.0)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            u, v = x / s_safe, y / s_safe
            inv = 1.0 / s_safe
            cxx = np.where(pos, 2.0 * e1 * (-0.1 * u * u + (1.0 - 0.5 * u * u) * inv), 0.0)
            cxy = np.where(pos, 2.0 * e1 * u * v * (-0.1 - 0.5 * inv), 0.0)
            cyy = np.where(pos, 2.0 * e1 * (-0.1 * v * v + (1.0 - 0.5 * v * v) * inv), 0.0)
        p2 = _PI * _PI * e2
        hxx = cxx + p2 * (2.0 * np.cos(2 * _PI * x) - sx * sx)
        hxy = cxy - p2 * sx * sy
        hyy = cyy + p2 * (2.0 * np.cos(2 * _PI * y) - sy * sy)
        return hxx, hxy, hyy

    def minima(self) -> list[Minimum]:
        return [Minimum(0.0, 0.0, 0.0)]


class Beale(Landscape):
    name = "beale"
    title = "Beale"
    description = "Sharp ridges and a flat valley floor that winds towards the minimum at (3, 0.5)."
    formula = "f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²"
    default_domain = ((-4.5, 4.5), (-4.5, 4.5))
    default_zscale = "log"
    default_start = (-1.0, 1.5)

    def _f(self, x, y):
        return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2

    @staticmethod
    def _terms(x, y):
        y2, y3 = y * y, y * y * y
        t = (1.5 - x + x * y, 2.25 - x + x * y2, 2.625 - x + x * y3)
        dx = (y - 1.0, y2 - 1.0, y3 - 1.0)  # ∂t/∂x
        dy = (x, 2.0 * x * y, 3.0 * x * y2)  # ∂t/∂y
        return t, dx, dy

    def _g(self, x, y):
        t, dx, dy = self._terms(x, y)
        gx = 2.0 * (t[0] * dx[0] + t[1] * dx[1] + t[2] * dx[2])
        gy = 2.0 * (t[0] * dy[0] + t[1] * dy[1] + t[2] * dy[2])
        return gx, gy

    def _h(self, x, y):
        t, dx, dy = self._terms(x, y)
        dxy = (1.0, 2.0 * y, 3.0 * y * y)  # ∂²t/∂x∂y (∂²t/∂x² = 0)
        dyy = (0.0, 2.0 * x, 6.0 * x * y)  # ∂²t/∂y²
        hxx = 2.0 * (dx[0] ** 2 + dx[1] ** 2 + dx[2] ** 2)
        hxy = 2.0 * sum(dx[i] * dy[i] + t[i] * dxy[i] for i in range(3))
        hyy = 2.0 * sum(dy[i] ** 2 + t[i] * dyy[i] for i in range(3))
        return hxx, hxy, hyy

    def minima(self) -> list[Minimum]:
        return [Minimum(3.0, 0.5, 0.0)]


class Booth(Landscape):
    name = "booth"
    title = "Booth"
    description = "A plain, tilted elliptical quadratic bowl with its minimum at (1, 3)."
    formula = "f(x, y) = (x + 2y − 7)² + (2x + y − 5)²"
    default_domain = ((-10.0, 10.0), (-10.0, 10.0))
    default_zscale = "log"
    default_start = (-8.0, -6.0)

    def _f(self, x, y):
        return (x + 2.0 * y - 7.0) ** 2 + (2.0 * x + y - 5.0) ** 2

    def _g(self, x, y):
        return 10.0 * x + 8.0 * y - 34.0, 8.0 * x + 10.0 * y - 38.0

    def _h(self, x, y):
        return _full(x, 10.0), _full(x, 8.0), _full(x, 10.0)

    def minima(self) -> list[Minimum]:
        return [Minimum(1.0, 3.0, 0.0)]


class Matyas(Landscape):
    name = "matyas"
    title = "Matyas"
    description = "A very flat, diagonally stretched quadratic bowl with its minimum at the origin."
    formula = "f(x, y) = 0.26(x² + y²) − 0.48xy"
    default_domain = ((-10.0, 10.0), (-10.0, 10.0))
    default_zscale = "log"
    default_start = (-8.0, -3.0)

    def _f(self, x, y):
        return 0.26 * (x * x + y * y) - 0.48 * x * y

    def _g(self, x, y):
        return 0.52 * x - 0.48 * y, 0.52 * y - 0.48 * x

    def _h(self, x, y):
        return _full(x, 0.52), _full(x, -0.48), _full(x, 0.52)

    def minima(self) -> list[Minimum]:
        return [Minimum(0.0, 0.0, 0.0)]


class GoldsteinPrice(Landscape):
    name = "goldstein_price"
    title = "Goldstein–Price"
    description = (
        "A polynomial whose values span six decades, with a global minimum of 3 and "
        "three local ones."
    )
    formula = (
        "f(x, y) = [1 + (x + y + 1)²(19 − 14x + 3x² − 14y + 6xy + 3y²)]"
        " · [30 + (2x − 3y)²(18 − 32x + 12x² + 48y − 36xy + 27y²)]"
    )
    default_domain = ((-2.0, 2.0), (-2.0, 2.0))
    default_zscale = "log"
    default_start = (-1.5, 1.5)

    @staticmethod
    def _parts(x, y):
        # f = A·B; each factor is 1 or 30 plus (linear)²·(quadratic)
        u = x + y + 1.0
        P = 19.0 - 14.0 * x + 3.0 * x * x - 14.0 * y + 6.0 * x * y + 3.0 * y * y
        Pd = -14.0 + 6.0 * x + 6.0 * y  # ∂P/∂x = ∂P/∂y
        v = 2.0 * x - 3.0 * y
        Q = 18.0 - 32.0 * x + 12.0 * x * x + 48.0 * y - 36.0 * x * y + 27.0 * y * y
        Qx = -32.0 + 24.0 * x - 36.0 * y
        Qy = 48.0 - 36.0 * x + 54.0 * y
        return u, P, Pd, v, Q, Qx, Qy

    def _f(self, x, y):
        u, P, _, v, Q, _, _ = self._parts(x, y)
        return (1.0 + u * u * P) * (30.0 + v * v * Q)

    def _ab(self, x, y):
        u, P, Pd, v, Q, Qx, Qy = self._parts(x, y)
        A = 1.0 + u * u * P
        Ax = Ay = 2.0 * u * P + u * u * Pd
        B = 30.0 + v * v * Q
        Bx = 4.0 * v * Q + v * v * Qx
        By = -6.0 * v * Q + v * v * Qy
        return (u, P, Pd, v, Q, Qx, Qy), (A, Ax, Ay), (B, Bx, By)

    def _g(self, x, y):
        _, (A, Ax, Ay), (B, Bx, By) = self._ab(x, y)
        return Ax * B + A * Bx, Ay * B + A * By

    def _h(self, x, y):
        (u, P, Pd, v, Q, Qx, Qy), (A, Ax, Ay), (B, Bx, By) = self._ab(x, y)
        # P has all second derivatives 6; Q has Qxx = 24, Qxy = −36, Qyy = 54
        Axx = Axy = Ayy = 2.0 * P + 4.0 * u * Pd + 6.0 * u * u
        Bxx = 8.0 * Q + 8.0 * v * Qx + 24.0 * v * v
        Bxy = -12.0 * Q + 4.0 * v * Qy - 6.0 * v * Qx - 36.0 * v * v
        Byy = 18.0 * Q - 12.0 * v * Qy + 54.0 * v * v
        hxx = Axx * B + 2.0 * Ax * Bx + A * Bxx
        hxy = Axy * B + Ax * By + Ay * Bx + A * Bxy
        hyy = Ayy * B + 2.0 * Ay * By + A * Byy
        return hxx, hxy, hyy

    def minima(self) -> list[Minimum]:
        return [
            Minimum(0.0, -1.0, 3.0),
            # the local minima sit exactly on these points (checked by Newton)
            Minimum(-0.6, -0.4, 30.0, "local"),
            Minimum(1.8, 0.2, 84.0, "local"),
            Minimum(1.2, 0.8, 840.0, "local"),
        ]


class SixHumpCamel(Landscape):
    name = "six_hump_camel"
    title = "Six-hump camel"
    description = "Two symmetric global minima and four local ones on a camel-back shaped surface."
    formula = "f(x, y) = (4 − 2.1x² + x⁴/3)x² + xy + (−4 + 4y²)y²"
    default_domain = ((-3.0, 3.0), (-2.0, 2.0))
    default_start = (-2.2, 1.5)

    def _f(self, x, y):
        x2, y2 = x * x, y * y
        return (4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + x * y + (-4.0 + 4.0 * y2) * y2

    def _g(self, x, y):
        x2 = x * x
        return 8.0 * x - 8.4 * x2 * x + 2.0 * x2 * x2 * x + y, x - 8.0 * y + 16.0 * y * y * y

    def _h(self, x, y):
        x2 = x * x
        return 8.0 - 25.2 * x2 + 10.0 * x2 * x2, _full(x, 1.0), -8.0 + 48.0 * y * y

    def minima(self) -> list[Minimum]:
        x0, y0, v0 = 0.08984201310031807, -0.7126564030207396, -1.0316284534898774
        x1, y1, v1 = 1.703606714969981, -0.7960835686726251, -0.21546382438371703
        x2, y2, v2 = 1.607104752920197, 0.5686514548841315, 2.104250310311258
        # the function is symmetric under (x, y) → (−x, −y)
        return [
            Minimum(x0, y0, v0),
            Minimum(-x0, -y0, v0),
            Minimum(x1, y1, v1, "local"),
            Minimum(-x1, -y1, v1, "local"),
            Minimum(x2, y2, v2, "local"),
            Minimum(-x2, -y2, v2, "local"),
        ]


class ThreeHumpCamel(Landscape):
    name = "three_hump_camel"
    title = "Three-hump camel"
    description = "A global minimum at the origin flanked by two shallow local minima."
    formula = "f(x, y) = 2x² − 1.05x⁴ + x⁶/6 + xy + y²"
    default_domain = ((-5.0, 5.0), (-5.0, 5.0))
    default_zscale = "log"
    default_start = (-4.0, 3.0)

    def _f(self, x, y):
        x2 = x * x
        return 2.0 * x2 - 1.05 * x2 * x2 + x2 * x2 * x2 / 6.0 + x * y + y * y

    def _g(self, x, y):
        x2 = x * x
        return 4.0 * x - 4.2 * x2 * x + x2 * x2 * x + y, x + 2.0 * y

    def _h(self, x, y):
        x2 = x * x
        return 4.0 - 12.6 * x2 + 5.0 * x2 * x2, _full(x, 1.0), _full(x, 2.0)

    def minima(self) -> list[Minimum]:
        # on y = −x/2 the gradient vanishes where x⁴ − 4.2x² + 3.5 = 0; the larger root is a minimum
        x1, y1, v1 = 1.747552345830289, -0.8737761729151445, 0.29863844223685965
        return [
            Minimum(0.0, 0.0, 0.0),
            Minimum(x1, y1, v1, "local"),
            Minimum(-x1, -y1, v1, "local"),
        ]


class StyblinskiTang(Landscape):
    name = "styblinski_tang"
    title = "Styblinski–Tang"
    description = (
        "A separable quartic with one global minimum and three local minima in the other quadrants."
    )
    formula = "f(x, y) = ½[(x⁴ − 16x² + 5x) + (y⁴ − 16y² + 5y)]"
    default_domain = ((-5.0, 5.0), (-5.0, 5.0))
    default_start = (0.5, 4.5)

    def _f(self, x, y):
        return 0.5 * (x**4 - 16.0 * x * x + 5.0 * x + y**4 - 16.0 * y * y + 5.0 * y)

    def _g(self, x, y):
        return 2.0 * x**3 - 16.0 * x + 2.5, 2.0 * y**3 - 16.0 * y + 2.5

    def _h(self, x, y):
        return 6.0 * x * x - 16.0, _zeros(x), 6.0 * y * y - 16.0

    def minima(self) -> list[Minimum]:
        # separable: each coordinate sits at a root of 2t³ − 16t + 2.5 with positive curvature
        lo, hi = -2.903534027771177, 2.746802770990837
        return [
            Minimum(lo, lo, -78.33233140754284),
            Minimum(lo, hi, -64.19561235905536, "local"),
            Minimum(hi, lo, -64.19561235905536, "local"),
            Minimum(hi, hi, -50.05889331056788, "local"),
        ]


class LeviN13(Landscape):
    name = "levi_n13"
    title = "Lévi N.13"
    description = (
        "Sinusoidal ripples on a skewed bowl, with many local minima around the global "
        "one at (1, 1)."
    )
    formula = "f(x, y) = sin²(3πx) + (x − 1)²(1 + sin²(3πy)) + (y − 1)²(1 + sin²(2πy))"
    default_domain = ((-10.0, 10.0), (-10.0, 10.0))
    default_start = (-6.0, 7.0)

    def _f(self, x, y):
        return (
            np.sin(3 * _PI * x) ** 2
            + (x - 1.0) ** 2 * (1.0 + np.sin(3 * _PI * y) ** 2)
            + (y - 1.0) ** 2 * (1.0 + np.sin(2 * _PI * y) ** 2)
        )

    def _g(self, x, y):
        dx, dy = x - 1.0, y - 1.0
        # d/dt sin²(kπt) = kπ·sin(2kπt)
        gx = 3 * _PI * np.sin(6 * _PI * x) + 2.0 * dx * (1.0 + np.sin(3 * _PI * y) ** 2)
        gy = (
            dx * dx * 3 * _PI * np.sin(6 * _PI * y)
            + 2.0 * dy * (1.0 + np.sin(2 * _PI * y) ** 2)
            + dy * dy * 2 * _PI * np.sin(4 * _PI * y)
        )
        return gx, gy

    def _h(self, x, y):
        dx, dy = x - 1.0, y - 1.0
        hxx = 18 * _PI**2 * np.cos(6 * _PI * x) + 2.0 * (1.0 + np.sin(3 * _PI * y) ** 2)
        hxy = 6 * _PI * dx * np.sin(6 * _PI * y)
        hyy = (
            18 * _PI**2 * dx * dx * np.cos(6 * _PI * y)
            + 2.0 * (1.0 + np.sin(2 * _PI * y) ** 2)
            + 8 * _PI * dy * np.sin(4 * _PI * y)
            + 8 * _PI**2 * dy * dy * np.cos(4 * _PI * y)
        )
        return hxx, hxy, hyy

    def minima(self) -> list[Minimum]:
        return [Minimum(1.0, 1.0, 0.0)]


class McCormick(Landscape):
    name = "mccormick"
    title = "McCormick"
    description = (
        "A tilted, sine-warped valley along x − y = 1 with one global and one local minimum."
    )
    formula = "f(x, y) = sin(x + y) + (x − y)² − 1.5x + 2.5y + 1"
    default_domain = ((-1.5, 4.0), (-3.0, 4.0))
    default_start = (3.5, -2.5)

    def _f(self, x, y):
        return np.sin(x + y) + (x - y) ** 2 - 1.5 * x + 2.5 * y + 1.0

    def _g(self, x, y):
        c = np.cos(x + y)
        d = 2.0 * (x - y)
        return c + d - 1.5, c - d + 2.5

    def _h(self, x, y):
        s = np.sin(x + y)
        return 2.0 - s, -2.0 - s, 2.0 - s

    def minima(self) -> list[Minimum]:
        # Stationary points lie on x − y = 1 with cos(x + y) = −½; they are minima
        # where sin(x + y) < 0, i.e. x + y = −2π/3 + 2πk, and there f = sin(x+y) + y + ½.
        out = []
        for k, kind in ((0, "global"), (1, "local")):
            y = (-2.0 * _PI / 3.0 + 2.0 * _PI * k - 1.0) / 2.0
            out.append(Minimum(y + 1.0, y, -math.sqrt(3.0) / 2.0 + y + 0.5, kind))
        return out


class Saddle(Landscape):
    name = "saddle"
    title = "Saddle"
    description = "The simplest saddle point: uphill along x, downhill along y, with no minimum."
    formula = "f(x, y) = x² − y²"
    default_domain = ((-2.0, 2.0), (-2.0, 2.0))
    default_start = (-1.8, 0.05)

    def _f(self, x, y):
        return x * x - y * y

    def _g(self, x, y):
        return 2.0 * x, -2.0 * y

    def _h(self, x, y):
        return _full(x, 2.0), _zeros(x), _full(x, -2.0)


class MonkeySaddle(Landscape):
    name = "monkey_saddle"
    title = "Monkey saddle"
    description = (
        "A degenerate saddle with three valleys meeting at a flat point, where the "
        "Hessian vanishes."
    )
    formula = "f(x, y) = x³ − 3xy²"
    default_domain = ((-2.0, 2.0), (-2.0, 2.0))
    default_start = (1.5, 0.1)

    def _f(self, x, y):
        return x**3 - 3.0 * x * y * y

    def _g(self, x, y):
        return 3.0 * (x * x - y * y), -6.0 * x * y

    def _h(self, x, y):
        return 6.0 * x, -6.0 * y, -6.0 * x


class QuadraticBowl(Landscape):
    name = "quadratic_bowl"
    title = "Ill-conditioned bowl"
    description = (
        "A quadratic bowl whose curvatures differ by the condition number: a narrow, steep valley."
    )
    formula = "f(x, y) = ½(u² + κ·v²),  (u, v) = (x, y) rotated by −θ"
    default_domain = ((-2.0, 2.0), (-2.0, 2.0))
    default_zscale = "log"
    default_start = (-1.8, 1.2)
    param_specs = (
        ParamSpec("condition_number", 10.0, 1.0, 1e4, "κ: steep curvature over flat curvature"),
        ParamSpec("angle", 0.0, -90.0, 90.0, "θ: rotation of the valley in degrees"),
    )

    def _configure(self) -> None:
        k = self.params["condition_number"]
        t = math.radians(self.params["angle"])
        c, s = math.cos(t), math.sin(t)
        # H = Rᵀ·diag(1, κ)·R with u = c·x + s·y, v = −s·x + c·y
        self._hxx = c * c + k * s * s
        self._hxy = c * s * (1.0 - k)
        self._hyy = s * s + k * c * c

    def _f(self, x, y):
        return 0.5 * (self._hxx * x * x + 2.0 * self._hxy * x * y + self._hyy * y * y)

    def _g(self, x, y):
        return self._hxx * x + self._hxy * y, self._hxy * x + self._hyy * y

    def _h(self, x, y):
        return _full(x, self._hxx), _full(x, self._hxy), _full(x, self._hyy)

    def minima(self) -> list[Minimum]:
        return [Minimum(0.0, 0.0, 0.0)]


#: every analytic landscape by registry name, in display order
LANDSCAPES: dict[str, type[Landscape]] = {
    cls.name: cls
    for cls in (
        Rosenbrock,
        Himmelblau,
        Rastrigin,
        Ackley,
        Beale,
        Booth,
        Matyas,
        GoldsteinPrice,
        SixHumpCamel,
        ThreeHumpCamel,
        StyblinskiTang,
        LeviN13,
        McCormick,
        Saddle,
        MonkeySaddle,
        QuadraticBowl,
        CandyField,
    )
}


def make_landscape(name: str, **params: Any) -> Landscape:
    """Build a registered landscape by name (case-insensitive, '-' or '_')."""
    key = str(name).strip().lower().replace("-", "_")
    cls = LANDSCAPES.get(key)
    if cls is None:
        raise ValueError(f"unknown function {name!r}; known: {', '.join(LANDSCAPES)}")
    return cls(**params)
