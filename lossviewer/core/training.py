"""Training a network with the same optimizers and schedules as the analytic views.

The optimizer steps the flat parameter vector as a batch of one, shape (1, D):
the same code that races six points on a test function trains the network.
Every step records the loss and accuracy on the whole training and validation
sets at the parameters *before* that step's update (so curves start at the
initialisation), and every ``checkpoint_every`` steps the parameters are kept
for PCA directions and for drawing the path on a slice.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lossviewer.core.iteration import run_to_end
from lossviewer.core.network import Network, Targets
from lossviewer.core.optimizers import make_optimizer
from lossviewer.core.schedules import lr_schedule

MAX_STEPS = 100_000
#: checkpoints are (K, D) floats: refuse runs that would keep more than this many
MAX_CHECKPOINT_VALUES = 50_000_000
#: parameters beyond this norm mean the run diverged
DIVERGED_NORM = 1e12


@dataclass(frozen=True)
class TrainingConfig:
    """How to train: optimizer (torch names), schedule, steps, batches, checkpoints, seed."""

    optimizer: str = "sgd"
    hyper: tuple[tuple[str, Any], ...] = (("lr", 0.2),)
    schedule: str = "constant"
    schedule_params: tuple[tuple[str, Any], ...] = ()
    steps: int = 500
    #: None or 0: full batch (gradient descent); else mini-batches of this size
    batch_size: int | None = None
    checkpoint_every: int = 5
    #: seeds the initialisation and the mini-batch order
    seed: int = 0

    @classmethod
    def create(cls, optimizer: str = "sgd", hyper: Mapping[str, Any] | None = None,
               schedule: str = "constant", schedule_params: Mapping[str, Any] | None = None,
               **kw: Any) -> TrainingConfig:
        return cls(optimizer, tuple(sorted((hyper or {"lr": 0.2}).items())), schedule,
                   tuple(sorted((schedule_params or {}).items())), **kw)

    def describe(self) -> str:
        hyper = dict(self.hyper)
        lr = hyper.get("lr", "")
        batch = f"batch {self.batch_size}" if self.batch_size else "full batch"
        return f"{self.optimizer} lr {lr:g}, {self.schedule}, {self.steps} steps, {batch}"


@dataclass(frozen=True, eq=False)
class TrainingRun:
    """A finished (or diverged) training run: curves, checkpoints, final parameters."""

    config: TrainingConfig
    init: NDArray[np.float64]
    final: NDArray[np.float64]
    #: (K, D) parameters at ``checkpoint_steps`` (always including step 0 and the last)
    checkpoints: NDArray[np.float64]
    checkpoint_steps: NDArray[np.int64]
    #: per step 0 … steps: metrics at the parameters before that step's update
    train_loss: NDArray[np.float64]
    train_acc: NDArray[np.float64]
    val_loss: NDArray[np.float64]
    val_acc: NDArray[np.float64]
    lr: NDArray[np.float64]
    #: "finished" or "diverged"
    status: str = "finished"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def steps_done(self) -> int:
        return int(self.train_loss.size - 1)

    def summary(self) -> str:
        last = self.steps_done
        acc = self.val_acc[last]
        acc_text = "" if math.isnan(acc) else f", validation accuracy {100 * acc:.1f} %"
        state = "" if self.status == "finished" else f" — diverged at step {last}"
        return (f"{last} steps: training loss {self.train_loss[last]:.4g}, validation loss "
                f"{self.val_loss[last]:.4g}{acc_text}{state}")


#: checkpoints an automatic interval aims at (PCA and the drawn path need no more)
AUTO_CHECKPOINTS = 200


def checkpoint_interval(steps: int, n_params: int, at_most: int = AUTO_CHECKPOINTS) -> int:
    """A checkpoint interval that keeps about ``at_most`` checkpoints within the memory cap."""
    budget = max(3, MAX_CHECKPOINT_VALUES // max(int(n_params), 1))
    keep = max(2, min(int(at_most), budget) - 2)
    return max(1, math.ceil(int(steps) / keep))


def _check_int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a whole number in [{lo}, {hi}], got {value!r}")
    return int(value)


def train_iter(network: Network, X: NDArray, y: NDArray, X_val: NDArray, y_val: NDArray,
               config: TrainingConfig, init: NDArray | None = None
               ) -> Generator[tuple[int, int], None, TrainingRun]:
    """Train from ``init`` (default: torch's initialisation from ``config.seed``).

    A generator of (steps done, steps): arguments are checked before the first
    step, so bad ones raise ValueError from this call.
    """
    steps = _check_int(config.steps, "steps", 1, MAX_STEPS)
    every = _check_int(config.checkpoint_every, "checkpoint interval", 1, MAX_STEPS)
    seed = _check_int(config.seed, "seed", 0, 2**32 - 1)
    n = int(X.shape[0])
    batch = config.batch_size or 0
    if batch:
        batch = _check_int(batch, "batch size", 1, max(n, 1))
    network.check_data(X)
    network.check_data(X_val)
    for data, labels, what in ((X, y, "training"), (X_val, y_val, "validation")):
        if np.shape(labels)[:1] != data.shape[:1]:
            raise ValueError(f"{data.shape[0]} {what} samples but "
                             f"{np.shape(labels)[0] if np.ndim(labels) else 1} labels")
    n_ckpt = steps // every + 2
    budget = MAX_CHECKPOINT_VALUES // network.n_params  # checkpoints that fit
    if n_ckpt > budget:
        need = n_ckpt * network.n_params * 8 / 2**20
        if budget < 3:
            raise ValueError(f"the model's {network.n_params:,} parameters are too many to "
                             "keep checkpoints of (at least 3 are kept)")
        # steps // every + 2 <= budget  <=>  every >= steps / (budget - 1)
        fits = math.ceil(steps / (budget - 1))
        raise ValueError(
            f"{n_ckpt} checkpoints of {network.n_params:,} parameters need {need:,.0f} MiB; "
            f"keep one every {fits} steps or more")
    theta0 = network.init_params(seed) if init is None else np.array(init, np.float64)
    if theta0.shape != (network.n_params,):
        raise ValueError(f"the initial parameters have {theta0.size} entries, the model "
                         f"{network.n_params}")
    opt = make_optimizer(config.optimizer, (1, network.n_params), **dict(config.hyper))
    lrs = lr_schedule(config.schedule, opt.hyper["lr"], steps, **dict(config.schedule_params))
    t_train = network.targets(y)
    t_val = network.targets(y_val)
    return _train(network, X, t_train, X_val, t_val, config, opt, lrs, theta0, steps, every,
                  batch, seed)


def _train(network: Network, X: NDArray, t: Targets, X_val: NDArray, t_val: Targets,
           config: TrainingConfig, opt: Any, lrs: NDArray, theta0: NDArray, steps: int,
           every: int, batch: int, seed: int) -> Generator[tuple[int, int], None, TrainingRun]:
    rng = np.random.default_rng(seed)
    n = int(X.shape[0])
    params = theta0[None, :].copy()
    curves = np.full((4, steps + 1), np.nan)
    ckpts: list[NDArray] = []
    ckpt_steps: list[int] = []
    order = np.arange(n)
    pos = n
    status = "finished"
    last = steps
    report = max(1, steps // 100)
    for k in range(steps + 1):
        theta = params[0]
        with np.errstate(all="ignore"):
            if batch:
                curves[0, k], curves[1, k] = network.metrics(theta, X, t)
            else:
                curves[0, k], grad, f = network.loss_and_grad(theta, X, t, outputs=True)
                curves[1, k] = network.accuracy(f, t)
            curves[2, k], curves[3, k] = network.metrics(theta, X_val, t_val)
        if k % every == 0 or k == steps:
            ckpts.append(theta.copy())
            ckpt_steps.append(k)
        bad = not (math.isfinite(curves[0, k]) and np.all(np.isfinite(theta))
                   and float(np.abs(theta).max()) < DIVERGED_NORM)
        if bad:
            status, last = "diverged", k
            if ckpt_steps[-1] != k:
                ckpts.append(theta.copy())
                ckpt_steps.append(k)
            break
        if k == steps:
            break
        if batch:
            if pos + batch > n:
                order = rng.permutation(n)
                pos = 0
            idx = order[pos:pos + batch]
            pos += batch
            sub = Targets(t.task, t.n_classes, t.y[idx],
                          None if t.onehot is None else t.onehot[idx])
            with np.errstate(all="ignore"):
                _, grad = network.loss_and_grad(theta, X[idx], sub)
        opt.step(params, grad[None, :], float(lrs[k]))
        if (k + 1) % report == 0:
            yield k + 1, steps
    return TrainingRun(
        config=config, init=theta0, final=params[0].copy(),
        checkpoints=np.array(ckpts), checkpoint_steps=np.array(ckpt_steps, dtype=np.int64),
        train_loss=curves[0, :last + 1], train_acc=curves[1, :last + 1],
        val_loss=curves[2, :last + 1], val_acc=curves[3, :last + 1], lr=lrs[:last].copy(),
        status=status, meta={"model": network.spec.text, "loss": network.loss,
                             "l2": network.spec.l2, "n_params": network.n_params},
    )


def train(network: Network, X: NDArray, y: NDArray, X_val: NDArray, y_val: NDArray,
          config: TrainingConfig, init: NDArray | None = None) -> TrainingRun:
    """:func:`train_iter` run to completion."""
    return run_to_end(train_iter(network, X, y, X_val, y_val, config, init))
