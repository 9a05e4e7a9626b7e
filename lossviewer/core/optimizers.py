"""Optimizers over a batch of parameter vectors, following ``torch.optim`` exactly.

Every optimizer keeps its state in arrays of shape (B, D): B independent rows
(racing paths, the pixels of a basin map, or one network) of D parameters each.
``step`` updates ``params`` in place from ``grad`` and the learning rate of this
step, so one class serves a 2-D race and a 65 536-pixel basin map alike.

The update rules, options and default hyperparameters are those of the
single-tensor code paths of ``torch.optim`` (torch 2.x), evaluated in float64
in the same order of operations, so a path agrees with torch to rounding. The
``lr`` passed to :meth:`Optimizer.step` replaces the group's learning rate for
that step, exactly as a ``torch.optim.lr_scheduler`` does.

Two optimizers are not in torch: Lion (Chen et al. 2023, "Symbolic Discovery
of Optimization Algorithms", as in lucidrains' ``lion-pytorch``) and a damped
saddle-free Newton method that uses the Hessian.

Deliberate deviation from torch: centered RMSprop clamps its variance estimate
``E[g²] − E[g]²`` at 0 before the square root. It is never negative in exact
arithmetic; torch can round it below 0 and return NaN, we return 0 instead.

Hot-path notes: all state and scratch arrays are allocated once; ``step`` uses
in-place ufuncs with ``out=`` and scalar bias corrections computed with Python
floats, because for B·D = 2 the cost is the number of numpy calls (~1 µs
each), not flops. ``step`` never modifies ``grad``. For a handful of elements
(a race path) :meth:`Optimizer.list_stepper` gives the same update on plain
Python floats, about 10× cheaper per step; the trajectory code uses it for
small batches and the torch-reference tests check both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "OPTIMIZERS",
    "ListStep",
    "HyperParam",
    "Optimizer",
    "make_optimizer",
]

HyperKind = Literal["float", "int", "bool", "pair"]

#: ``step(p, g, lr, h=None)`` on flat Python lists, see Optimizer.list_stepper
ListStep = Callable[[list[float], list[float], float, Any], None]


_sqrt = math.sqrt


def _fmt(v: float) -> str:
    return f"{v:g}"


@dataclass(frozen=True)
class HyperParam:
    """One hyperparameter: its torch name, default, allowed range and UI hints.

    ``minimum``/``maximum`` bound floats, ints and each element of a pair; they
    are inclusive unless ``min_open``/``max_open`` says the bound itself is
    refused (``lr > 0``, ``beta < 1``). ``log`` asks for a log-scaled slider;
    ``slider`` is the range a slider should offer when it differs from the
    valid range (a log slider cannot start at 0).
    """

    name: str
    default: Any
    kind: HyperKind = "float"
    minimum: float = -math.inf
    maximum: float = math.inf
    log: bool = False
    help: str = ""
    min_open: bool = False
    max_open: bool = False
    slider: tuple[float, float] | None = None

    @property
    def slider_range(self) -> tuple[float, float]:
        """(low, high) for a slider; positive at both ends when ``log``."""
        if self.slider is not None:
            return self.slider
        return (self.minimum, self.maximum)

    def validate(self, value: Any) -> Any:
        """The cleaned value (float, int, bool or a tuple of two floats).

        Raises ValueError with a one-line message naming the hyperparameter.
        """
        if self.kind == "bool":
            if isinstance(value, bool | np.bool_):
                return bool(value)
            if isinstance(value, int | np.integer) and value in (0, 1):
                return bool(value)
            raise ValueError(f"{self.name} must be true or false, got {value!r}")
        if self.kind == "pair":
            if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
                raise ValueError(f"{self.name} must be a pair of numbers, got {value!r}")
            items = list(value)
            if len(items) != 2:
                raise ValueError(f"{self.name} must be a pair of numbers, got {value!r}")
            return tuple(self._check_number(v, f"{self.name}[{i}]") for i, v in enumerate(items))
        v = self._check_number(value, self.name)
        if self.kind == "int":
            if v != int(v):
                raise ValueError(f"{self.name} must be a whole number, got {_fmt(v)}")
            return int(v)
        return v

    def _check_number(self, value: Any, label: str) -> float:
        if isinstance(value, bool | np.bool_) or isinstance(value, str | bytes):
            raise ValueError(f"{label} must be a number, got {value!r}")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{label} must be a number, got {value!r}") from None
        if not math.isfinite(v):
            raise ValueError(f"{label} must be finite, got {value!r}")
        lo, hi = self.minimum, self.maximum
        if self.min_open and not v > lo:
            raise ValueError(f"{label} must be > {_fmt(lo)}, got {_fmt(v)}")
        if not v >= lo:
            raise ValueError(f"{label} must be >= {_fmt(lo)}, got {_fmt(v)}")
        if self.max_open and not v < hi:
            raise ValueError(f"{label} must be < {_fmt(hi)}, got {_fmt(v)}")
        if not v <= hi:
            raise ValueError(f"{label} must be <= {_fmt(hi)}, got {_fmt(v)}")
        return v


# -- shared hyperparameter specs ----------------------------------------------


def _lr(default: float) -> HyperParam:
    return HyperParam(
        "lr",
        default,
        minimum=0.0,
        maximum=1e3,
        min_open=True,
        log=True,
        slider=(1e-6, 10.0),
        help="Learning rate: the size of each step (replaced per step by the schedule).",
    )


def _weight_decay(default: float = 0.0, decoupled: bool = False) -> HyperParam:
    how = (
        "shrinks the parameters by lr·weight_decay each step"
        if decoupled
        else "adds weight_decay·params to the gradient (L2 penalty)"
    )
    return HyperParam(
        "weight_decay",
        default,
        minimum=0.0,
        maximum=100.0,
        slider=(0.0, 1.0),
        help=f"Weight decay: {how}, pulling towards the origin.",
    )


def _eps(default: float) -> HyperParam:
    return HyperParam(
        "eps",
        default,
        minimum=0.0,
        maximum=10.0,
        log=True,
        slider=(1e-12, 1.0),
        help="Term added to the denominator for numerical stability.",
    )


def _betas(default: tuple[float, float]) -> HyperParam:
    return HyperParam(
        "betas",
        default,
        kind="pair",
        minimum=0.0,
        maximum=1.0,
        max_open=True,
        help="Decay rates of the running averages of the gradient and of its square.",
    )


_AMSGRAD = HyperParam(
    "amsgrad",
    False,
    kind="bool",
    help="Use the running maximum of the squared-gradient average (AMSGrad).",
)
_DECOUPLED = HyperParam(
    "decoupled_weight_decay",
    False,
    kind="bool",
    help="Apply weight decay directly to the parameters (AdamW-style) instead of the gradient.",
)


def _lerp_(a: NDArray, b: NDArray, w: float, tmp: NDArray) -> None:
    """``a ← torch.lerp(a, b, w)`` in place, with torch's two formulas."""
    np.subtract(b, a, out=tmp)
    if abs(w) < 0.5:
        tmp *= w
        a += tmp
    else:
        tmp *= 1.0 - w
        np.subtract(b, tmp, out=a)


def _apply_weight_decay(
    params: NDArray, grad: NDArray, lr: float, wd: float, decoupled: bool, out: NDArray
) -> NDArray:
    """torch's weight-decay prologue; returns the gradient the update goes on with.

    Decoupled (AdamW-style) decay shrinks ``params`` in place by ``1 − lr·wd``
    and returns ``grad``; otherwise the L2 gradient ``params·wd + grad`` is
    written to ``out`` and returned. ``grad`` itself is never modified. The
    list steppers inline the same arithmetic per element: a helper call (or an
    extra pass) there would cost more than the update itself.
    """
    if wd == 0:
        return grad
    if decoupled:
        params *= 1 - lr * wd
        return grad
    np.multiply(params, wd, out=out)
    out += grad
    return out


def _adam_moments_(m: NDArray, v: NDArray, g: NDArray, b1: float, b2: float, tmp: NDArray) -> None:
    """Adam's moment estimates in place: ``m ← lerp(m, g, 1 − β₁)``, ``v ← β₂·v + (1 − β₂)·g²``.

    Shared by Adam, NAdam and RAdam; their list steppers inline it per element
    for the reason given in :func:`_apply_weight_decay`.
    """
    _lerp_(m, g, 1 - b1, tmp)
    np.multiply(g, 1 - b2, out=tmp)
    tmp *= g
    v *= b2
    v += tmp


def _check_shape(shape: Any) -> tuple[int, int]:
    try:
        b, d = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"optimizer shape must be (B, D), got {shape!r}") from None
    if b < 1 or d < 1:
        raise ValueError(f"optimizer shape must be (B, D) with B, D >= 1, got {shape!r}")
    return (b, d)


class Optimizer:
    """Base class: validated hyperparameters, (B, D) state and an in-place step.

    Subclasses set the class attributes, allocate state in :meth:`_configure`,
    clear it in :meth:`reset` and implement :meth:`step`.
    """

    #: registry key: the lowercase torch class name (``adamw``)
    name: ClassVar[str] = ""
    #: display name (``AdamW``)
    title: ClassVar[str] = ""
    #: one or two sentences for tooltips
    description: ClassVar[str] = ""
    hyperparams: ClassVar[tuple[HyperParam, ...]] = ()
    #: step() needs the Hessian (B, D, D)
    needs_hessian: ClassVar[bool] = False

    def __init__(self, shape: tuple[int, int], **hyper: Any) -> None:
        self.shape = _check_shape(shape)
        self.hyper: dict[str, Any] = self.clean_hyper(hyper)
        self.t = 0
        shp = self.shape
        # scratch buffers; subclasses use them instead of allocating per step
        self._a = np.zeros(shp)
        self._b = np.zeros(shp)
        self._configure()
        self.reset()

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {h.name: h.default for h in cls.hyperparams}

    @classmethod
    def clean_hyper(cls, hyper: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``hyper`` (missing names take their defaults); ValueError on bad input."""
        known = {h.name: h for h in cls.hyperparams}
        unknown = sorted(set(hyper) - set(known))
        if unknown:
            raise ValueError(
                f"{cls.title} has no hyperparameter '{unknown[0]}' (valid: {', '.join(known)})"
            )
        cleaned = {h.name: h.validate(hyper.get(h.name, h.default)) for h in cls.hyperparams}
        cls._check_combination(cleaned)
        return cleaned

    @classmethod
    def _check_combination(cls, hyper: dict[str, Any]) -> None:
        """Cross-checks between hyperparameters (as torch makes them)."""

    def _configure(self) -> None:
        """Derive constants from ``self.hyper`` and allocate state arrays."""

    def reset(self) -> None:
        """Forget all state, as a freshly constructed torch optimizer."""
        self.t = 0

    def step(
        self,
        params: NDArray[np.float64],
        grad: NDArray[np.float64],
        lr: float,
        hess: NDArray[np.float64] | None = None,
    ) -> None:
        """Update ``params`` (B, D) in place from ``grad`` (B, D) with learning rate ``lr``."""
        raise NotImplementedError

    def list_stepper(self) -> ListStep | None:
        """A pure-Python twin of :meth:`step` for small batches, or None.

        The returned ``step(p, g, lr, h=None)`` updates the flat list ``p``
        (B·D floats, row-major) in place from the flat list ``g``; ``h`` is a
        list of per-row Hessians ``(hxx, hxy, hyy)`` (Newton, D = 2 only). It
        applies the same formulas in the same order as :meth:`step`, with its
        own fresh state (independent of this object's arrays). For a handful
        of elements it is about 10× faster than numpy, whose per-call overhead
        dominates there. Python floats raise (ZeroDivisionError, ...) where
        numpy returns inf/NaN, so a caller must fall back to :meth:`step` on
        ArithmeticError/ValueError. None where no twin exists.
        """
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyper.items())
        return f"{type(self).__name__}({self.shape}, {args})"


class SGD(Optimizer):
    name = "sgd"
    title = "SGD"
    description = (
        "Plain gradient descent, optionally with (Nesterov) momentum: steps along the "
        "negative gradient, scaled by the learning rate."
    )
    hyperparams = (
        _lr(1e-3),
        HyperParam(
            "momentum",
            0.0,
            minimum=0.0,
            maximum=1.0,
            help="Momentum factor: how much of the previous step is carried over.",
        ),
        HyperParam(
            "dampening",
            0.0,
            minimum=0.0,
            maximum=1.0,
            help="Dampening for momentum: the new gradient enters with weight 1 − dampening.",
        ),
        _weight_decay(),
        HyperParam(
            "nesterov",
            False,
            kind="bool",
            help="Nesterov momentum: look ahead along the momentum before stepping.",
        ),
    )

    @classmethod
    def _check_combination(cls, hyper: dict[str, Any]) -> None:
        if hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
            raise ValueError("nesterov requires momentum > 0 and dampening = 0")

    def _configure(self) -> None:
        h = self.hyper
        self._wd = h["weight_decay"]
        self._mom = h["momentum"]
        self._damp1 = 1.0 - h["dampening"]
        self._nesterov = h["nesterov"]
        self._buf = np.zeros(self.shape)

    def reset(self) -> None:
        super().reset()
        self._buf.fill(0.0)

    def step(self, params, grad, lr, hess=None):  # noqa: D102
        self.t += 1
        b = self._b
        g = _apply_weight_decay(params, grad, lr, self._wd, False, self._a)
        mom = self._mom
        if mom != 0:
            buf = self._buf
            if self.t == 1:
                np.copyto(buf, g)
            else:
                buf *= mom
                if self._damp1 != 1.0:
                    np.multiply(g, self._damp1, out=b)
                    buf += b
                else:
                    buf += g
            if self._nesterov:
                np.multiply(buf, mom, out=b)
                b += g
                g = b
            else:
                g = buf
        np.multiply(g, lr, out=b)
        params -= b

    def list_stepper(self) -> ListStep | None:
        wd, mom, damp1, nesterov = self._wd, self._mom, self._damp1, self._nesterov
        n = self.shape[0] * self.shape[1]
        buf = [0.0] * n
        idx = range(n)
        t = 0

        def step(p: list[float], g: list[float], lr: float, h: Any = None) -> None:
            nonlocal t
            t += 1
            first = t == 1
            for i in idx:
                gi = g[i]
                if wd != 0:
                    gi = p[i] * wd + gi
                if mom != 0:
                    bi = gi if first else buf[i] * mom + gi * damp1
                    buf[i] = bi
                    gi = bi * mom + gi if nesterov else bi
                p[i] -= gi * lr

        return step


class Adagrad(Optimizer):
    name = "adagrad"
    title = "Adagrad"
    description = (
        "Divides each coordinate's step by the root of its summed squared gradients, so "
        "steep directions slow down for good."
    )
    hyperparams = (
        _lr(1e-2),
        HyperParam(
            "lr_decay",
            0.0,
            minimum=0.0,
            maximum=10.0,
            help="Learning-rate decay: step t uses lr / (1 + (t − 1)·lr_decay).",
        ),
        _weight_decay(),
        HyperParam(
            "initial_accumulator_value",
            0.0,
            minimum=0.0,
            maximum=1e3,
            help="Starting value of the sum of squared gradients.",
        ),
        _eps(1e-10),
    )

    def _configure(self) -> None:
        h = self.hyper
        self._wd = h["weight_decay"]
        self._lr_decay = h["lr_decay"]
        self._eps = h["eps"]
        self._sum = np.zeros(self.shape)

    def reset(self) -> None:
        super().reset()
        self._sum.fill(self.hyper["initial_accumulator_value"])

    def step(self, params, grad, lr, hess=None):  # noqa: D102
        self.t += 1
        b = self._b
        g = _apply_weight_decay(params, grad, lr, self._wd, False, self._a)
        clr = lr / (1 + (self.t - 1) * self._lr_decay)
        np.multiply(g, g, out=b)
        s = self._sum
        s += b
        np.sqrt(s, out=b)
        b += self._eps
        np.divide(g, b, out=b)
        b *= clr
        params -= b

    def list_stepper(self) -> ListStep | None:
        wd, lr_decay, eps = self._wd, self._lr_decay, self._eps
        n = self.shape[0] * self.shape[1]
        s = [float(self.hyper["initial_accumulator_value"])] * n
        idx = range(n)
        t = 0

        def step(p: list[float], g: list[float], lr: float, h: Any = None) -> None:
            nonlocal t
            t += 1
            clr = lr / (1 + (t - 1) * lr_decay)
            for i in idx:
                gi = g[i]
                if wd != 0:
                    gi = p[i] * wd + gi
                si = s[i] + gi * gi
                s[i] = si
                p[i] -= gi / (_sqrt(si) + eps) * clr

        return step


class RMSprop(Optimizer):
    name = "rmsprop"
    title = "RMSprop"
    description = (
        "Divides the step by a running root-mean-square of recent gradients, so each "
        "coordinate gets its own effective step size."
    )
    hyperparams = (
        _lr(1e-2),
        HyperParam(
            "alpha",
            0.99,
            minimum=0.0,
            maximum=1.0,
            help="Smoothing constant of the running average of squared gradients.",
        ),
        _eps(1e-8),
        _weight_decay(),
        HyperParam(
            "momentum",
            0.0,
            minimum=0.0,
            maximum=1.0,
            help="Momentum factor applied to the normalised step.",
        ),
        HyperParam(
            "centered",
            False,
            kind="bool",
            help="Normalise by the gradient's estimated variance, not its raw second moment.",
        ),
    )

    def _configure(self) -> None:
        h = self.hyper
        self._wd = h["weight_decay"]
        self._alpha = h["alpha"]
        self._c = 1.0 - h["alpha"]
        self._eps = h["eps"]
        self._mom = h["momentum"]
        self._centered = h["centered"]
        self._sq = np.zeros(self.shape)
        self._gavg = np.zeros(self.shape)
        self._buf = np.zeros(self.shape)

    def reset(self) -> None:
        super().reset()
        self._sq.fill(0.0)
        self._gavg.fill(0.0)
        self._buf.fill(0.0)

    def step(self, params, grad, lr, hess=None):  # noqa: D102
        self.t += 1
        b = self._b
        g = _apply_weight_decay(params, grad, lr, self._wd, False, self._a)
        sq = self._sq
        np.multiply(g, self._c, out=b)
        b *= g
        sq *= self._alpha
        sq += b
        if self._centered:
            gavg = self._gavg
            _lerp_(gavg, g, self._c, b)
            np.multiply(gavg, gavg, out=b)
            np.subtract(sq, b, out=b)
            np.maximum(b, 0.0, out=b)  # deliberate: never sqrt of a rounded negative
            np.sqrt(b, out=b)
        else:
            np.sqrt(sq, out=b)
        b += self._eps
        if self._mom > 0:
            buf = self._buf
            np.divide(g, b, out=b)
            buf *= self._mom
            buf += b
            np.multiply(buf, lr, out=b)
        else:
            np.divide(g, b, out=b)
            b *= lr
        params -= b

    def list_stepper(self) -> ListStep | None:
        wd, alpha, c, eps = self._wd, self._alpha, self._c, self._eps
        mom, centered = self._mom, self._centered
        small = abs(c) < 0.5
        n = self.shape[0] * self.shape[1]
        sq, gavg, buf = [0.0] * n, [0.0] * n, [0.0] * n
        idx = range(n)

        def step(p: list[float], g: list[float], lr: float, h: Any = None) -> None:
            for i in idx:
                gi = g[i]
                if wd != 0:
                    gi = p[i] * wd + gi
                si = sq[i] * alpha + gi * c * gi
                sq[i] = si
                if centered:
                    ga = gavg[i]
                    ga = ga + (gi - ga) * c if small else gi - (gi - ga) * (1.0 - c)
                    gavg[i] = ga
                    avg = _sqrt(max(si - ga * ga, 0.0)) + eps
                else:
                    avg = _sqrt(si) + eps
                if mom > 0:
                    bi = buf[i] * mom + gi / avg
                    buf[i] = bi
                    p[i] -= bi * lr
                else:
                    p[i] -= gi / avg * lr

        return step


class Adadelta(Optimizer):
    name = "adadelta"
    title = "Adadelta"
    description = (
        "Scales steps by the ratio of running RMS of past updates to running RMS of "
        "gradients, so it needs almost no learning-rate tuning."
    )
    hyperparams = (
        _lr(1.0),
        HyperParam(
            "rho",
            0.9,
            minimum=0.0,
            maximum=1.0,
            help="Decay rate of the running averages of squared gradients and squared updates.",
        ),
        _eps(1e-6),
        _weight_decay(),
    )

    def _configure(self) -> None:
        h = self.hyper
        self._wd = h["weight_decay"]
        self._rho = h["rho"]
        self._c = 1.0 - h["rho"]
        self._eps = h["eps"]
        self._sq = np.zeros(self.shape)
        self._acc = np.zeros(self.shape)
        self._d = np.zeros(self.shape)

    def reset(self) -> None:
        super().reset()
        self._sq.fill(0.0)
        self._acc.fill(0.0)

    def step(self, params, grad, lr, hess=None):  # noqa: D102
        self.t += 1
        b, d = self._b, self._d
        g = _apply_weight_decay(params, grad, lr, self._wd, False, self._a)
        sq, acc, rho, c, eps = self._sq, self._acc, self._rho, self._c, self._eps
        np.multiply(g, c, out=b)
        b *= g
        sq *= rho
        sq += b
        np.add(sq, eps, out=b)
        np.sqrt(b, out=b)  # std
        np.add(acc, eps, out=d)
        np.sqrt(d, out=d)
        d /= b
        d *= g  # delta
        np.multiply(d, c, out=b)
        b *= d
        acc *= rho
        acc += b
        d *= lr
        params -= d

    def list_stepper(self) -> ListStep | None:
        wd, rho, c, eps = self._wd, self._rho, self._c, self._eps
        n = self.shape[0] * self.shape[1]
        sq, acc = [0.0] * n, [0.0] * n
        idx = range(n)

        def step(p: list[float], g: list[float], lr: float, h: Any = None) -> None:
            for i in idx:
                gi = g[i]
                if wd != 0:
                    gi = p[i] * wd + gi
                si = sq[i] * rho + gi * c * gi
                sq[i] = si
                d = _sqrt(acc[i] + eps) / _sqrt(si + eps) * gi
                acc[i] = acc[i] * rho + d * c * d
                p[i] -= d * lr

        return step


class _AdamFamily(Optimizer):
    """State shared by Adam, NAdam and RAdam: weight decay (on the gradient or
    decoupled), betas, eps and the moment estimates ``m`` and ``v``."""

    _decoupled: bool

    def _configure(self) -> None:
        h = self.hyper
        self._wd = h["weight_decay"]
        # AdamW has no such hyperparameter: its decay is always decoupled
        self._decoupled = h.get("decoupled_weight_decay", True)
        self._b1, self._b2 = h["betas"]
        self._eps = h["eps"]
        self._m = np.zeros(self.shape)
        self._v = np.zeros(self.shape)

    def reset(self) -> None:
        super().reset()
        self._m.fill(0.0)
        self._v.fill(0.0)


class Adam(_AdamFamily):
    name = "adam"
    title = "Adam"
    description = (
        "Momentum on the gradient divided by the root of a running average of its square, "
        "with bias correction: the default choice for deep learning."
    )
    hyperparams = (
        _lr(1e-3),
        _betas((0.9, 0.999)),
        _eps(1e-8),
        _weight_decay(),
        _AMSGRAD,
        _DECOUPLED,
    )

    def _configure(self) -> None:
        super()._configure()
        self._amsgrad = self.hyper["amsgrad"]
        self._vmax = np.zeros(self.shape)

    def reset(self) -> None:
        super().reset()
        self._vmax.fill(0.0)

    def step(self, params, grad, lr, hess=None):  # noqa: D102
        t = self.t = self.t + 1
        b = self._b
        b1, b2 = self._b1, self._b2
        g = _apply_weight_decay(params, grad, lr, self._wd, self._decoupled, self._a)
        m, v = self._m, self._v
        _adam_moments_(m, v, g, b1, b2, b)
        step_size = lr / (1 - b1**t)
        bc2_sqrt = (1 - b2**t) ** 0.5
        if self._amsgrad:
            np.maximum(self._vmax, v, out=self._vmax)
            np.sqrt(self._vmax, out=b)
        else:
            np.sqrt(v, out=b)
        b /= bc2_sqrt
        b += self._eps
        np.divide(m, b, out=b)
        b *= step_size
        params -= b

    def list_stepper(self) -> ListStep | None:
        wd, decoupled, eps, amsgrad = self._wd, self._decoupled, self._eps, self._amsgrad
        b1, b2 = self._b1, self._b2
        w1, c2 = 1 - b1, 1 - b2
        small = abs(w1) < 0.5
        n = self.shape[0] * self.shape[1]
        m, v, vmax = [0.0] * n, [0.0] * n, [0.0] * n
        idx = range(n)
        t = 0

        def step(p: list[float], g: list[float], lr: float, h: Any = None) -> None:
            nonlocal t
            t += 1
            step_size = lr / (1 - b1**t)
            bc2_sqrt = (1 - b2**t) ** 0.5
            shrink = 1 - lr * wd
            for i in idx:
                gi = g[i]
                if wd != 0:
                    if decoupled:
                        p[i] *= shrink
                    else:
                        gi = p[i] * wd + gi
                mi = m[i]
                mi = mi + (gi - mi) * w1 if small else gi - (gi - mi) * (1 - w1)
                m[i] = mi
                vi = v[i] * b2 + gi * c2 * gi
                v[i] = vi
                if amsgrad:
                    vi = vmax[i] = max(vmax[i], vi)
                p[i] -= mi / (_sqrt(vi) / bc2_sqrt + eps) * step_size

        return step


class AdamW(Adam):
    name = "adamw"
    title = "AdamW"
    description = (
        "Adam with decoupled weight decay: the parameters shrink directly by lr·weight_decay "
        "instead of the decay passing through the adaptive scaling."
    )
    hyperparams = (
        _lr(1e-3),
        _betas((0.9, 0.999)),
        _eps(1e-8),
        _weight_decay(1e-2, decoupled=True),
        _AMSGRAD,
    )


class Adamax(Optimizer):
    name = "adamax"
    title = "Adamax"
    description = (
        "Adam with the infinity norm: divides the momentum by a decaying maximum of "
        "absolute gradients instead of a root-mean-square."
    )
    hyperparams = (
        _lr(2e-3),
        _betas((0.9, 0.999)),
        _eps(1e-8),
        _weight_decay(),
    )

    def _configure(self) -> None:
        h = self.hyper
        self._wd = h["weight_decay"]
        self._b1, self._b2 = h["betas"]
        self._eps = h["eps"]
        self._m = np.zeros(self.shape)
        self._u = np.zeros(self.shape)

    def reset(self) -> None:
        super().reset()
        self._m.fill(0.0)
        self._u.fill(0.0)

    def step(self, params, grad, lr, hess=None):  # noqa: D102
        t = self.t = self.t + 1
        b = self._b
        g = _apply_weight_decay(params, grad, lr, self._wd, False, self._a)
        m, u = self._m, self._u
        _lerp_(m, g, 1 - self._b1, b)
        u *= self._b2
        np.abs(g, out=b)
        b += self._eps
        np.maximum(u, b, out=u)
        clr = lr / (1 - self._b1**t)
        np.divide(m, u, out=b)
        b *= clr
        params -= b

    def list_stepper(self) -> ListStep | None:
        wd, eps, b1, b2 = self._wd, self._eps, self._b1, self._b2
        w1 = 1 - b1
        small = abs(w1) < 0.5
        n = self.shape[0] * self.shape[1]
        m, u = [0.0] * n, [0.0] * n
        idx = range(n)
        t = 0

        def step(p: list[float], g: list[float], lr: float, h: Any = None) -> None:
            nonlocal t
            t += 1
            clr = lr / (1 - b1**t)
            for i in idx:
                gi = g[i]
                if wd != 0:
                    gi = p[i] * wd + gi
                mi = m[i]
                mi = mi + (gi - mi) * w1 if small else gi - (gi - mi) * (1 - w1)
                m[i] = mi
                ui = u[i] = max(u[i] * b2, abs(gi) + eps)
                p[i] -= mi / ui * clr

        return step


class NAdam(_AdamFamily):
    name = "nadam"
    title = "NAdam"
    description = (
        "Adam with Nesterov momentum: the step looks ahead along the momentum, with a "
        "momentum schedule that warms up over the first steps."
    )
    hyperparams = (
        _lr(2e-3),
        _betas((0.9, 0.999)),
        _eps(1e-8),
        _weight_decay(),
        HyperParam(
            "momentum_decay",
            4e-3,
            minimum=0.0,
            maximum=1.0,
            log=True,
            slider=(1e-5, 1e-1),
            help="How fast the momentum schedule μ_t = β₁(1 − ½·0.96^(t·ψ)) approaches β₁.",
        ),
        _DECOUPLED,
    )

    def _configure(self) -> None:
        super()._configure()
        self._psi = self.hyper["momentum_decay"]
        self._c = np.zeros(self.shape)

    def reset(self) -> None:
        super().reset()
        self._mu_product = 1.0

    def step(self, params, grad, lr, hess=None):  # noqa: D102
        t = self.t = self.t + 1
        b, c = self._b, self._c
        b1, b2, psi = self._b1, self._b2, self._psi
        g = _apply_weight_decay(params, grad, lr, self._wd, self._decoupled, self._a)
        bc2 = 1 - b2**t
        mu = b1 * (1.0 - 0.5 * (0.96 ** (t * psi)))
        mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * psi)))
        self._mu_product *= mu
        mu_product = self._mu_product
        m, v = self._m, self._v
        _adam_moments_(m, v, g, b1, b2, b)
        np.divide(v, bc2, out=b)
        np.sqrt(b, out=b)
        b += self._eps  # denom
        np.divide(g, b, out=c)
        c *= -lr * (1.0 - mu) / (1.0 - mu_product)
        params += c
        np.divide(m, b, out=c)
        c *= (-lr * mu_next) / (1.0 - mu_product * mu_next)
        params += c

    def list_stepper(self) -> ListStep | None:
        wd, decoupled, eps, psi = self._wd, self._decoupled, self._eps, self._psi
        b1, b2 = self._b1, self._b2
        w1, c2 = 1 - b1, 1 - b2
        small = abs(w1) < 0.5
        n = self.shape[0] * self.shape[1]
        m, v = [0.0] * n, [0.0] * n
        idx = range(n)
        t = 0
        mu_product = 1.0

        def step(p: list[float], g: list[float], lr: float, h: Any = None) -> None:
            nonlocal t, mu_product
            t += 1
            bc2 = 1 - b2**t
            mu = b1 * (1.0 - 0.5 * (0.96 ** (t * psi)))
            mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * psi)))
            mu_product *= mu
            coef_g = -lr * (1.0 - mu) / (1.0 - mu_product)
            coef_m = (-lr * mu_next) / (1.0 - mu_product * mu_next)
            shrink = 1 - lr * wd
            for i in idx:
                gi = g[i]
                if wd != 0:
                    if decoupled:
                        p[i] *= shrink
                    else:
                        gi = p[i] * wd + gi
                mi = m[i]
                mi = mi + (gi - mi) * w1 if small else gi - (gi - mi) * (1 - w1)
                m[i] = mi
                vi = v[i] * b2 + gi * c2 * gi
                v[i] = vi
                denom = _sqrt(vi / bc2) + eps
                p[i] += gi / denom * coef_g
                p[i] += mi / denom * coef_m

        return step


class RAdam(_AdamFamily):
    name = "radam"
    title = "RAdam"
    description = (
        "Rectified Adam: plain momentum SGD for the first few steps, then Adam with its "
        "adaptive step scaled by a factor that undoes the early variance of the estimate."
    )
    hyperparams = (
        _lr(1e-3),
        _betas((0.9, 0.999)),
        _eps(1e-8),
        _weight_decay(),
        _DECOUPLED,
    )

    def _configure(self) -> None:
        super()._configure()
        self._rho_inf = 2 / (1 - self._b2) - 1
        self._c = np.zeros(self.shape)

    def step(self, params, grad, lr, hess=None):  # noqa: D102
        t = self.t = self.t + 1
        b, c = self._b, self._c
        b1, b2 = self._b1, self._b2
        g = _apply_weight_decay(params, grad, lr, self._wd, self._decoupled, self._a)
        m, v = self._m, self._v
        _adam_moments_(m, v, g, b1, b2, b)
        bc1 = 1 - b1**t
        bc2 = 1 - b2**t
        np.divide(m, bc1, out=c)
        c *= lr
        rho_inf = self._rho_inf
        rho_t = rho_inf - 2 * t * (b2**t) / bc2
        # torch's threshold: the variance of the adaptive lr is tractable only for rho_t > 5
        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
            np.sqrt(v, out=b)
            b += self._eps
            np.divide(bc2**0.5, b, out=b)
            c *= b
            c *= rect
        params -= c

    def list_stepper(self) -> ListStep | None:
        wd, decoupled, eps, rho_inf = self._wd, self._decoupled, self._eps, self._rho_inf
        b1, b2 = self._b1, self._b2
        w1, c2 = 1 - b1, 1 - b2
        small = abs(w1) < 0.5
        n = self.shape[0] * self.shape[1]
        m, v = [0.0] * n, [0.0] * n
        idx = range(n)
        t = 0

        def step(p: list[float], g: list[float], lr: float, h: Any = None) -> None:
            nonlocal t
            t += 1
            bc1 = 1 - b1**t
            bc2 = 1 - b2**t
            rho_t = rho_inf - 2 * t * (b2**t) / bc2
            rectify = rho_t > 5.0
            if rectify:
                rect = (
                    (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                ) ** 0.5
                bc2_sqrt = bc2**0.5
            shrink = 1 - lr * wd
            for i in idx:
                gi = g[i]
                if wd != 0:
                    if decoupled:
                        p[i] *= shrink
                    else:
                        gi = p[i] * wd + gi
                mi = m[i]
                mi = mi + (gi - mi) * w1 if small else gi - (gi - mi) * (1 - w1)
                m[i] = mi
                vi = v[i] * b2 + gi * c2 * gi
                v[i] = vi
                ci = mi / bc1 * lr
                if rectify:
                    ci = ci * (bc2_sqrt / (_sqrt(vi) + eps)) * rect
                p[i] -= ci

        return step


class Lion(Optimizer):
    name = "lion"
    title = "Lion"
    description = (
        "EvoLved Sign Momentum (Chen et al. 2023): every coordinate moves by exactly ±lr, "
        "in the sign of an interpolation between momentum and gradient."
    )
    hyperparams = (
        _lr(1e-4),
        HyperParam(
            "betas",
            (0.9, 0.99),
            kind="pair",
            minimum=0.0,
            maximum=1.0,
            max_open=True,
            help="β₁ mixes momentum and gradient for the sign; β₂ is the momentum's decay.",
        ),
        _weight_decay(decoupled=True),
    )

    def _configure(self) -> None:
        h = self.hyper
        self._wd = h["weight_decay"]
        self._b1, self._b2 = h["betas"]
        self._m = np.zeros(self.shape)

    def reset(self) -> None:
        super().reset()
        self._m.fill(0.0)

    def step(self, params, grad, lr, hess=None):  # noqa: D102
        self.t += 1
        a, b = self._a, self._b
        b1, b2 = self._b1, self._b2
        m = self._m
        _apply_weight_decay(params, grad, lr, self._wd, True, a)
        np.multiply(m, b1, out=a)
        np.multiply(grad, 1.0 - b1, out=b)
        a += b
        np.sign(a, out=a)
        a *= lr
        params -= a
        m *= b2
        np.multiply(grad, 1.0 - b2, out=b)
        m += b

    def list_stepper(self) -> ListStep | None:
        wd, b1, b2 = self._wd, self._b1, self._b2
        c1, c2 = 1.0 - b1, 1.0 - b2
        n = self.shape[0] * self.shape[1]
        m = [0.0] * n
        idx = range(n)

        def step(p: list[float], g: list[float], lr: float, h: Any = None) -> None:
            shrink = 1.0 - lr * wd
            for i in idx:
                gi = g[i]
                if wd != 0:
                    p[i] *= shrink
                mi = m[i]
                u = mi * b1 + gi * c1
                # sign(u)·lr, keeping NaN as NaN like np.sign
                p[i] -= lr if u > 0 else (-lr if u < 0 else u * lr)
                m[i] = mi * b2 + gi * c2

        return step


#: |eigenvalue| + damping is floored here so a flat direction with damping 0
#: gives a long but finite step rather than inf/NaN
_NEWTON_FLOOR = 1e-12


class Newton(Optimizer):
    """Damped saddle-free Newton: ``x ← x − lr · (|H| + damping·I)⁻¹ g``.

    ``|H|`` replaces each eigenvalue of the Hessian by its absolute value
    (Dauphin et al. 2014, "Identifying and attacking the saddle point
    problem"): on a convex region this is Newton's method, at a saddle or on a
    ridge it still moves downhill, away from the stationary point, where plain
    Newton would jump to it. The damping (Levenberg–Marquardt style) bounds the
    step along flat directions; the default 1e-3 is far below the curvature of
    the test functions near their minima (so convergence there stays
    quadratic) yet keeps the step finite on inflection lines where an
    eigenvalue passes through 0. A denominator below 1e-12 is raised to
    1e-12. Computed batched with ``np.linalg.eigh`` over (B, D, D); rows whose
    Hessian is not finite (a path that has already diverged) take the identity.
    """

    name = "newton"
    title = "Newton"
    description = (
        "Damped saddle-free Newton: divides the gradient by the absolute curvature, so it "
        "jumps to the bottom of a bowl in one step and is repelled by saddles."
    )
    needs_hessian = True
    hyperparams = (
        HyperParam(
            "lr",
            1.0,
            minimum=0.0,
            maximum=1e3,
            min_open=True,
            log=True,
            slider=(1e-3, 2.0),
            help="Fraction of the Newton step taken (1 = the full step).",
        ),
        HyperParam(
            "damping",
            1e-3,
            minimum=0.0,
            maximum=1e6,
            log=True,
            slider=(1e-8, 1e3),
            help=(
                "Added to the absolute eigenvalues of the Hessian; large values turn "
                "the step into gradient descent with step size lr/damping."
            ),
        ),
    )

    def _configure(self) -> None:
        self._damping = self.hyper["damping"]
        self._eye = np.eye(self.shape[1])

    def step(self, params, grad, lr, hess=None):  # noqa: D102
        if hess is None:
            raise ValueError("newton needs the Hessian: pass hess with shape (B, D, D)")
        self.t += 1
        H = np.asarray(hess, dtype=np.float64)
        ok = np.isfinite(H)
        if not ok.all():
            H = np.where(ok.all(axis=(-2, -1))[:, None, None], H, self._eye)
        w, V = np.linalg.eigh(H)
        np.abs(w, out=w)
        w += self._damping
        np.maximum(w, _NEWTON_FLOOR, out=w)
        # step = V · diag(1/w) · Vᵀ · g, one small matmul per row
        c = np.matmul(grad[:, None, :], V)[:, 0, :]  # (Vᵀ g)ᵀ
        c /= w
        s = np.matmul(V, c[:, :, None])[:, :, 0]
        s *= lr
        params -= s

    def list_stepper(self) -> ListStep | None:
        if self.shape[1] != 2:
            return None
        damping = self._damping
        rows = range(self.shape[0])
        hypot, isfinite = math.hypot, math.isfinite

        def step(p: list[float], g: list[float], lr: float, h: Any = None) -> None:
            if h is None:
                raise ValueError("newton needs the Hessian: pass h as [(hxx, hxy, hyy), ...]")
            for r in rows:
                a, b, c = h[r]
                if not (isfinite(a) and isfinite(b) and isfinite(c)):
                    a, b, c = 1.0, 0.0, 1.0
                # closed-form eigen-decomposition of [[a, b], [b, c]]
                mid, d = (a + c) * 0.5, (a - c) * 0.5
                rad = hypot(d, b)
                if rad == 0:
                    ux, uy = 1.0, 0.0
                else:
                    # eigenvector of mid + rad; the branch avoids cancellation
                    ux, uy = (d + rad, b) if d >= 0 else (b, rad - d)
                    nrm = hypot(ux, uy)
                    ux, uy = ux / nrm, uy / nrm
                w1 = max(abs(mid + rad) + damping, _NEWTON_FLOOR)
                w2 = max(abs(mid - rad) + damping, _NEWTON_FLOOR)
                gx, gy = g[2 * r], g[2 * r + 1]
                c1 = (ux * gx + uy * gy) / w1
                c2 = (ux * gy - uy * gx) / w2
                p[2 * r] -= (ux * c1 - uy * c2) * lr
                p[2 * r + 1] -= (uy * c1 + ux * c2) * lr

        return step


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls
    for cls in (SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW, Adamax, NAdam, RAdam, Lion, Newton)
}


def make_optimizer(name: str, shape: tuple[int, int], **hyper: Any) -> Optimizer:
    """A new optimizer ``name`` for state of shape (B, D); ValueError on bad input."""
    try:
        cls = OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}") from None
    return cls(shape, **hyper)
