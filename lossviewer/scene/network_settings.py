"""NetworkSettings: what network landscape the user asked for (data, model, training, plane).

Plain validated data: the Network dock edits it through Scene.set_network_settings,
the window turns it into a compute request when the user presses Compute. The
loss function and the L2 weight also apply live to the slice already shown (the
same plane re-evaluated under another objective, see NetworkSlice.with_loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from lossviewer.core.datasets import DATASETS
from lossviewer.core.directions import BIAS_MODES, METHODS
from lossviewer.core.network import ACTIVATIONS, LOSSES, MAX_LAYERS, MAX_WIDTH
from lossviewer.core.optimizers import OPTIMIZERS
from lossviewer.core.schedules import SCHEDULES
from lossviewer.core.training import MAX_STEPS

DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class NetworkSettings:
    dataset: str = "moons"
    #: 0: the dataset's default size; noise None: its default noise
    samples: int = 0
    noise: float | None = None
    data_seed: int = 0
    hidden: tuple[int, ...] = (16, 16)
    activation: str = "relu"
    loss: str = "cross_entropy"
    l2: float = 0.0
    optimizer: str = "sgd"
    lr: float = 0.2
    #: the training optimizer's other hyperparameters (torch names; missing: defaults)
    hyper: tuple[tuple[str, Any], ...] = ()
    #: learning-rate schedule (core.schedules; its parameters take their defaults,
    #: which follow the number of steps)
    schedule: str = "constant"
    steps: int = 500
    #: 0: full batch
    batch_size: int = 0
    seed: int = 0
    #: 0: automatic (about 200 checkpoints, see core.training.checkpoint_interval)
    checkpoint_every: int = 0
    directions: str = "filter"
    direction_seed: int = 0
    bias: str = "zero"
    orthogonalize: bool = False
    dtype: str = "float32"
    #: a user's torch model (File → Open model): where it runs and its batch-norm mode
    device: str = "cpu"
    bn_mode: str = "eval"

    @property
    def task(self) -> str:
        return DATASETS[self.dataset].task

    def dataset_params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seed": self.data_seed}
        if self.samples:
            out["n_samples"] = self.samples
        if self.noise is not None:
            out["noise"] = self.noise
        return out

    def validated(self) -> NetworkSettings:
        """A checked copy; ValueError (one line, naming the setting) on bad values."""
        s = self
        if s.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {s.dataset!r}; known: {', '.join(DATASETS)}")
        info = DATASETS[s.dataset]
        loss = s.loss
        if info.task == "regression" and loss != "mse":
            loss = "mse"  # the only loss a regression has: switch rather than refuse
        _choice(s.activation, ACTIVATIONS, "activation")
        _choice(loss, LOSSES, "loss")
        _choice(s.optimizer, OPTIMIZERS, "optimizer")
        _choice(s.schedule, SCHEDULES, "schedule")
        _choice(s.directions, METHODS, "direction method")
        _choice(s.bias, BIAS_MODES, "bias mode")
        _choice(s.dtype, DTYPES, "precision")
        _choice(s.device, ("cpu", "cuda"), "device")
        _choice(s.bn_mode, ("eval", "train"), "batch-norm mode")
        hidden = tuple(int(h) for h in s.hidden)
        if len(hidden) > MAX_LAYERS or any(not 1 <= h <= MAX_WIDTH for h in hidden):
            raise ValueError(f"hidden layers: at most {MAX_LAYERS}, each 1 to {MAX_WIDTH} wide")
        if s.samples and not 10 <= s.samples <= info.max_samples:
            raise ValueError(f"samples must lie in [10, {info.max_samples}] for "
                             f"{info.title}, got {s.samples}")
        if s.noise is not None and not (math.isfinite(s.noise)
                                        and 0 <= s.noise <= info.max_noise):
            raise ValueError(f"noise must lie in [0, {info.max_noise:g}] for {info.title}")
        if not (math.isfinite(s.l2) and 0 <= s.l2 <= 10):
            raise ValueError(f"L2 regularisation must lie in [0, 10], got {s.l2!r}")
        cls = OPTIMIZERS[s.optimizer]
        known = {h.name for h in cls.hyperparams}
        # hyperparameters of another optimizer (after a switch) are dropped, not refused
        hyper = {k: v for k, v in dict(s.hyper).items() if k in known and k != "lr"}
        hyper = {k: v for k, v in cls.clean_hyper({**hyper, "lr": s.lr}).items()
                 if k in hyper}
        for name, lo, hi in (("steps", 1, MAX_STEPS), ("batch_size", 0, 100_000),
                             ("checkpoint_every", 0, MAX_STEPS), ("seed", 0, 2**31 - 1),
                             ("data_seed", 0, 2**31 - 1), ("direction_seed", 0, 2**31 - 1)):
            v = getattr(s, name)
            if isinstance(v, bool) or int(v) != v or not lo <= v <= hi:
                raise ValueError(f"{name.replace('_', ' ')} must be a whole number in "
                                 f"[{lo}, {hi}], got {v!r}")
        return replace(s, hidden=hidden, loss=loss, l2=float(s.l2), lr=float(s.lr),
                       hyper=tuple(sorted(hyper.items())), orthogonalize=bool(s.orthogonalize))

    def full_hyper(self) -> dict[str, Any]:
        """Every hyperparameter of the training optimizer (defaults filled in)."""
        return OPTIMIZERS[self.optimizer].clean_hyper({**dict(self.hyper), "lr": self.lr})

    def changed_fields(self, other: NetworkSettings) -> set[str]:
        return {f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)}


def _choice(value: str, known: Any, what: str) -> None:
    if value not in known:
        raise ValueError(f"unknown {what} {value!r}; known: {', '.join(known)}")


#: settings that only re-evaluate the shown plane (no retraining)
LIVE_FIELDS = frozenset({"loss", "l2"})
