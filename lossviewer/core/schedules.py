"""Learning-rate schedules with ``torch.optim.lr_scheduler`` semantics.

``lr_schedule(name, lr, steps, **params)[k]`` is the learning rate the
optimizer uses for step k (k = 0 … steps − 1): the group's lr after the
scheduler's constructor and k calls of ``scheduler.step()``, i.e. the usual
``optimizer.step(); scheduler.step()`` loop. Each schedule replays torch's own
(mostly recursive) update formulas in float64, so values agree with torch to
the last bit or two rather than merely to a closed form.

Schedules
---------
constant
    lr every step (no scheduler).
step
    ``StepLR(step_size, gamma)``: multiply by gamma every step_size steps.
exponential
    ``ExponentialLR(gamma)``: multiply by gamma every step.
cosine
    ``CosineAnnealingLR(T_max, eta_min)``; T_max = 0 means the whole run
    (T_max = steps). Past T_max it rises again, as torch's does.
warmup_cosine
    ``SequentialLR([LinearLR(start_factor, end_factor=1, total_iters=W),
    CosineAnnealingLR(T_max=max(1, steps − W), eta_min)], milestones=[W])``
    with W = warmup_steps: lr·start_factor at step 0 rising linearly to lr at
    step W, then a cosine to eta_min at the end of the run. W = 0 is plain
    cosine; W ≥ steps is warm-up only. start_factor defaults to 0.1 here
    (LinearLR's own default is 1/3).
onecycle
    ``OneCycleLR(max_lr=lr, total_steps=steps, pct_start, div_factor,
    final_div_factor, anneal_strategy='cos', three_phase)``. Only the learning
    rate is scheduled: OneCycleLR's momentum/beta₁ cycling (``cycle_momentum``)
    is not applied to the optimizer. Where torch would divide by a zero-length
    phase (pct_start·steps = 1) we take that phase as finished (pct = 1)
    instead of raising ZeroDivisionError.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lossviewer.core.optimizers import HyperParam

__all__ = ["SCHEDULES", "Schedule", "clean_schedule_params", "lr_schedule"]


@dataclass(frozen=True)
class Schedule:
    """A named schedule, its parameters' specs and the function that computes it."""

    name: str
    title: str
    description: str
    params: tuple[HyperParam, ...]
    #: (lr, steps, **cleaned params) -> list of `steps` learning rates
    compute: Callable[..., list[float]]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


def _gamma(default: float, help: str) -> HyperParam:
    return HyperParam(
        "gamma",
        default,
        minimum=0.0,
        maximum=10.0,
        min_open=True,
        slider=(0.5, 1.0),
        help=help,
    )


def _eta_min() -> HyperParam:
    return HyperParam(
        "eta_min",
        0.0,
        minimum=0.0,
        maximum=1e3,
        slider=(0.0, 1.0),
        help="Lowest learning rate, reached at the end of the cosine.",
    )


# -- the schedules, replaying torch's get_lr() step by step --------------------


def _constant(lr: float, steps: int) -> list[float]:
    return [lr] * steps


def _step(lr: float, steps: int, step_size: int, gamma: float) -> list[float]:
    out, cur = [], lr
    for k in range(steps):
        if k > 0 and k % step_size == 0:
            cur = cur * gamma
        out.append(cur)
    return out


def _exponential(lr: float, steps: int, gamma: float) -> list[float]:
    out, cur = [], lr
    for k in range(steps):
        if k > 0:
            cur = cur * gamma
        out.append(cur)
    return out


def _cosine_from(out: list[float], cur: float, base: float, n: int, T: int, eta_min: float) -> None:
    """Append CosineAnnealingLR's values for last_epoch 1 … n, starting from ``cur``."""
    for e in range(1, n + 1):
        if (e - 1 - T) % (2 * T) == 0:
            cur = cur + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
        else:
            cur = (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (
                cur - eta_min
            ) + eta_min
        out.append(cur)


def _cosine(lr: float, steps: int, T_max: int, eta_min: float) -> list[float]:
    T = T_max or steps
    out = [lr]
    _cosine_from(out, lr, lr, steps - 1, T, eta_min)
    return out


def _warmup_cosine(
    lr: float, steps: int, warmup_steps: int, start_factor: float, eta_min: float
) -> list[float]:
    W = warmup_steps
    if W == 0:
        return _cosine(lr, steps, steps, eta_min)
    # LinearLR's recursive form (end_factor = 1, total_iters = W)
    cur = lr * start_factor
    out = [cur]
    d = 1.0 - start_factor
    for e in range(1, min(W, steps)):
        cur = cur * (1.0 + d / (W * start_factor + (e - 1) * d))
        out.append(cur)
    if steps > W:
        # SequentialLR at the milestone: CosineAnnealingLR._get_closed_form_lr at epoch 0
        cur = eta_min + (lr - eta_min) * (1 + math.cos(0.0)) / 2
        out.append(cur)
        _cosine_from(out, cur, lr, steps - W - 1, max(1, steps - W), eta_min)
    return out


def _onecycle(
    lr: float,
    steps: int,
    pct_start: float,
    div_factor: float,
    final_div_factor: float,
    three_phase: bool,
) -> list[float]:
    initial = lr / div_factor
    min_lr = initial / final_div_factor
    N = steps
    if three_phase:
        phases = [
            (float(pct_start * N) - 1, initial, lr),
            (float(2 * pct_start * N) - 2, lr, initial),
            (N - 1, initial, min_lr),
        ]
    else:
        phases = [(float(pct_start * N) - 1, initial, lr), (N - 1, lr, min_lr)]
    out = []
    last = len(phases) - 1
    for k in range(N):
        start_step = 0.0
        for i, (end_step, a, b) in enumerate(phases):
            if k <= end_step or i == last:
                span = end_step - start_step
                pct = (k - start_step) / span if span != 0 else 1.0
                out.append(b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1))
                break
            start_step = end_step
    return out


SCHEDULES: dict[str, Schedule] = {
    s.name: s
    for s in (
        Schedule("constant", "Constant", "The same learning rate every step.", (), _constant),
        Schedule(
            "step",
            "Step decay",
            "Multiply the learning rate by gamma every step_size steps (StepLR).",
            (
                HyperParam(
                    "step_size",
                    100,
                    kind="int",
                    minimum=1,
                    maximum=10**9,
                    slider=(1, 1000),
                    help="Steps between two decays.",
                ),
                _gamma(0.1, "Factor applied at each decay."),
            ),
            _step,
        ),
        Schedule(
            "exponential",
            "Exponential decay",
            "Multiply the learning rate by gamma every step (ExponentialLR).",
            (_gamma(0.995, "Factor applied every step."),),
            _exponential,
        ),
        Schedule(
            "cosine",
            "Cosine annealing",
            "Half a cosine from lr down to eta_min over T_max steps (CosineAnnealingLR).",
            (
                HyperParam(
                    "T_max",
                    0,
                    kind="int",
                    minimum=0,
                    maximum=10**9,
                    slider=(0, 10000),
                    help="Steps from lr down to eta_min; 0 = the whole run.",
                ),
                _eta_min(),
            ),
            _cosine,
        ),
        Schedule(
            "warmup_cosine",
            "Warm-up + cosine",
            "Linear warm-up from lr·start_factor to lr, then cosine annealing to eta_min "
            "(SequentialLR of LinearLR and CosineAnnealingLR).",
            (
                HyperParam(
                    "warmup_steps",
                    100,
                    kind="int",
                    minimum=0,
                    maximum=10**9,
                    slider=(0, 1000),
                    help="Steps of linear warm-up before the cosine starts.",
                ),
                HyperParam(
                    "start_factor",
                    0.1,
                    minimum=0.0,
                    maximum=1.0,
                    min_open=True,
                    help="Fraction of lr used at step 0 of the warm-up.",
                ),
                _eta_min(),
            ),
            _warmup_cosine,
        ),
        Schedule(
            "onecycle",
            "One cycle",
            "Cosine up from lr/div_factor to lr over pct_start of the run, then down to "
            "lr/(div_factor·final_div_factor) (OneCycleLR; momentum is not cycled).",
            (
                HyperParam(
                    "pct_start",
                    0.3,
                    minimum=0.0,
                    maximum=1.0,
                    help="Fraction of the run spent increasing the learning rate.",
                ),
                HyperParam(
                    "div_factor",
                    25.0,
                    minimum=0.0,
                    maximum=1e9,
                    min_open=True,
                    log=True,
                    slider=(1.0, 1e3),
                    help="The cycle starts at lr / div_factor.",
                ),
                HyperParam(
                    "final_div_factor",
                    1e4,
                    minimum=0.0,
                    maximum=1e12,
                    min_open=True,
                    log=True,
                    slider=(1.0, 1e6),
                    help="The cycle ends at lr / (div_factor · final_div_factor).",
                ),
                HyperParam(
                    "three_phase",
                    False,
                    kind="bool",
                    help="Come back down to lr/div_factor symmetrically before the final "
                    "annealing (three phases instead of two).",
                ),
            ),
            _onecycle,
        ),
    )
}


def _get(name: str) -> Schedule:
    try:
        return SCHEDULES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown schedule {name!r}; known: {', '.join(SCHEDULES)}") from None


def clean_schedule_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validated parameters of schedule ``name`` (missing ones take their defaults)."""
    sched = _get(name)
    known = {p.name: p for p in sched.params}
    unknown = sorted(set(params) - set(known))
    if unknown:
        valid = ", ".join(known) or "none"
        raise ValueError(f"schedule '{name}' has no parameter '{unknown[0]}' (valid: {valid})")
    return {p.name: p.validate(params.get(p.name, p.default)) for p in sched.params}


_LR = HyperParam("lr", 1e-3, minimum=0.0, min_open=True)


def lr_schedule(name: str, lr: float, steps: int, **params: Any) -> NDArray[np.float64]:
    """The learning rate of each step 0 … steps − 1 as a float64 array of shape (steps,)."""
    sched = _get(name)
    cleaned = clean_schedule_params(name, params)
    base = _LR.validate(lr)
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    return np.array(sched.compute(base, int(steps), **cleaned), dtype=np.float64)
