"""The Landscape contract: a loss over two coordinates, vectorised over points.

Every kind of surface the app shows (analytic test functions, typed formulas,
neural-network slices) implements this, so the optimizers, views and analysis
work on all of them unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

ZScale = Literal["linear", "log"]
Domain = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class Minimum:
    """A known minimum: where it is, its loss, and whether it is the global one."""

    x: float
    y: float
    value: float
    kind: Literal["global", "local"] = "global"

    @property
    def point(self) -> tuple[float, float]:
        return (self.x, self.y)


@dataclass(frozen=True)
class ParamSpec:
    """A numeric parameter of a landscape, with the range its widget offers."""

    name: str
    default: float
    minimum: float
    maximum: float
    description: str = ""
    integer: bool = False

    def validate(self, value: Any) -> float:
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"parameter '{self.name}' must be a number, got {value!r}") from None
        if not np.isfinite(v):
            raise ValueError(f"parameter '{self.name}' must be finite, got {value!r}")
        if not (self.minimum <= v <= self.maximum):
            raise ValueError(
                f"parameter '{self.name}' must lie in [{self.minimum:g}, {self.maximum:g}], "
                f"got {v:g}"
            )
        if self.integer:
            if v != int(v):
                raise ValueError(f"parameter '{self.name}' must be a whole number, got {v:g}")
            return float(int(v))
        return v


def as_points(P: ArrayLike) -> NDArray[np.float64]:
    """Points as a float64 array whose last axis has length 2."""
    arr = np.asarray(P, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != 2:
        raise ValueError(f"points must have shape (..., 2), got {arr.shape}")
    return arr


class Landscape(ABC):
    """A loss f(x, y) with closed-form or exact derivatives.

    Subclasses implement :meth:`_f`, :meth:`_g` and :meth:`_h` on broadcast
    coordinate arrays ``x`` and ``y``; the public ``value``/``grad``/``hess``
    take points of shape (..., 2) and return (...), (..., 2) and (..., 2, 2).
    """

    #: registry key: lowercase ASCII with underscores (``six_hump_camel``)
    name: ClassVar[str] = ""
    #: human-readable name (``Six-hump camel``)
    title: ClassVar[str] = ""
    #: one or two sentences for tooltips and ``lossviewer functions``
    description: ClassVar[str] = ""
    #: the formula as text, for the UI
    formula: ClassVar[str] = ""
    default_domain: ClassVar[Domain] = ((-2.0, 2.0), (-2.0, 2.0))
    default_zscale: ClassVar[ZScale] = "linear"
    #: a start point that makes a good race on this function
    default_start: ClassVar[tuple[float, float]] = (-1.5, 1.5)
    param_specs: ClassVar[tuple[ParamSpec, ...]] = ()

    def __init__(self, **params: Any) -> None:
        known = {p.name: p for p in self.param_specs}
        unknown = sorted(set(params) - set(known))
        if unknown:
            names = ", ".join(known) or "none"
            raise ValueError(
                f"{self.title or self.name} has no parameter '{unknown[0]}' (parameters: {names})"
            )
        self.params: dict[str, float] = {
            p.name: p.validate(params.get(p.name, p.default)) for p in self.param_specs
        }
        self._configure()

    def _configure(self) -> None:  # noqa: B027 - optional hook
        """Hook for subclasses that derive constants from ``self.params``."""

    # -- subclass interface -------------------------------------------------
    @abstractmethod
    def _f(self, x: NDArray, y: NDArray) -> NDArray: ...

    @abstractmethod
    def _g(self, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray]: ...

    @abstractmethod
    def _h(self, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        """Return (f_xx, f_xy, f_yy)."""

    def minima(self) -> list[Minimum]:
        """Known minima (global first); empty when the function has none."""
        return []

    # -- public, vectorised -------------------------------------------------
    @property
    def domain(self) -> Domain:
        return self.default_domain

    def value(self, P: ArrayLike) -> NDArray[np.float64]:
        p = as_points(P)
        x, y = p[..., 0], p[..., 1]
        # a fresh, writable array: broadcast_to alone returns a read-only view
        return np.array(np.broadcast_to(self._f(x, y), x.shape), dtype=np.float64)

    def grad(self, P: ArrayLike) -> NDArray[np.float64]:
        p = as_points(P)
        x, y = p[..., 0], p[..., 1]
        gx, gy = self._g(x, y)
        out = np.empty(p.shape, dtype=np.float64)
        out[..., 0] = gx
        out[..., 1] = gy
        return out

    def value_and_grad(self, P: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Both at once; subclasses may override to share work."""
        return self.value(P), self.grad(P)

    def hess(self, P: ArrayLike) -> NDArray[np.float64]:
        p = as_points(P)
        x, y = p[..., 0], p[..., 1]
        hxx, hxy, hyy = self._h(x, y)
        out = np.empty(p.shape + (2,), dtype=np.float64)
        out[..., 0, 0] = hxx
        out[..., 0, 1] = hxy
        out[..., 1, 0] = hxy
        out[..., 1, 1] = hyy
        return out

    def grid_values(self, xs: NDArray, ys: NDArray) -> NDArray[np.float64]:
        """Loss on the grid xs × ys as an array of shape (len(ys), len(xs))."""
        X, Y = np.meshgrid(np.asarray(xs, float), np.asarray(ys, float))
        return np.array(np.broadcast_to(self._f(X, Y), X.shape), dtype=np.float64)

    def global_minimum(self) -> Minimum | None:
        mins = [m for m in self.minima() if m.kind == "global"]
        return min(mins, key=lambda m: m.value) if mins else None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"
