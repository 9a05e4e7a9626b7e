"""Write tests/core/data/torch_optim_reference.npz from torch.optim itself.

Torch is not a dependency of LossViewer; run this in a separate environment:

    python3.11 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv/bin/python tests/core/make_torch_reference.py

The file holds a fixed gradient sequence, the torch parameter trajectories of
every optimizer case (float64, single-tensor code path) and the learning rates
of every schedule case; test_optimizers.py / test_schedules.py compare against
it always and, where torch imports, against live torch through the functions
below.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).parent / "data" / "torch_optim_reference.npz"

N_STEPS = 50
SEED = 20240611

# (id, optimizer, hyper, schedule or None); betas as lists for JSON
OPTIM_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any] | None]] = [
    ("sgd_default", "sgd", {}, None),
    (
        "sgd_nesterov_wd",
        "sgd",
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
        None,
    ),
    (
        "sgd_dampening",
        "sgd",
        {"lr": 0.02, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1},
        None,
    ),
    ("adagrad_default", "adagrad", {}, None),
    (
        "adagrad_decay",
        "adagrad",
        {
            "lr": 0.1,
            "lr_decay": 0.05,
            "weight_decay": 0.01,
            "initial_accumulator_value": 0.1,
            "eps": 1e-6,
        },
        None,
    ),
    ("rmsprop_default", "rmsprop", {}, None),
    (
        "rmsprop_centered_momentum",
        "rmsprop",
        {"lr": 0.01, "alpha": 0.9, "centered": True, "momentum": 0.9, "weight_decay": 0.01},
        None,
    ),
    (
        "rmsprop_alpha_small",
        "rmsprop",
        {"lr": 0.01, "alpha": 0.3, "centered": True, "eps": 1e-4},
        None,
    ),
    ("adadelta_default", "adadelta", {}, None),
    (
        "adadelta_options",
        "adadelta",
        {"lr": 0.5, "rho": 0.5, "weight_decay": 0.1, "eps": 1e-3},
        None,
    ),
    ("adam_default", "adam", {}, None),
    (
        "adam_amsgrad_wd",
        "adam",
        {"lr": 0.01, "betas": [0.8, 0.99], "amsgrad": True, "weight_decay": 0.05, "eps": 1e-6},
        None,
    ),
    (
        "adam_decoupled",
        "adam",
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
        None,
    ),
    ("adamw_default", "adamw", {}, None),
    (
        "adamw_amsgrad",
        "adamw",
        {"lr": 0.01, "betas": [0.3, 0.9], "amsgrad": True, "weight_decay": 0.1, "eps": 1e-5},
        None,
    ),
    ("adamax_default", "adamax", {}, None),
    (
        "adamax_options",
        "adamax",
        {"lr": 0.01, "betas": [0.5, 0.9], "weight_decay": 0.1, "eps": 1e-5},
        None,
    ),
    ("nadam_default", "nadam", {}, None),
    (
        "nadam_decoupled",
        "nadam",
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "momentum_decay": 0.01},
        None,
    ),
    (
        "nadam_l2",
        "nadam",
        {"lr": 0.01, "weight_decay": 0.05, "eps": 1e-6, "betas": [0.85, 0.95]},
        None,
    ),
    ("radam_default", "radam", {}, None),
    (
        "radam_decoupled",
        "radam",
        {"lr": 0.01, "betas": [0.9, 0.99], "weight_decay": 0.1, "decoupled_weight_decay": True},
        None,
    ),
    ("radam_l2", "radam", {"lr": 0.01, "weight_decay": 0.05, "eps": 1e-4}, None),
    # lr replaced every step by a scheduler
    ("adam_onecycle", "adam", {"lr": 0.01}, {"name": "onecycle"}),
    (
        "sgd_step",
        "sgd",
        {"lr": 0.1, "momentum": 0.9},
        {"name": "step", "step_size": 10, "gamma": 0.5},
    ),
    (
        "adagrad_cosine",
        "adagrad",
        {"lr": 0.1, "lr_decay": 0.01},
        {"name": "cosine", "eta_min": 0.01},
    ),
    (
        "nadam_exponential",
        "nadam",
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
        {"name": "exponential", "gamma": 0.95},
    ),
    (
        "radam_warmup",
        "radam",
        {"lr": 0.01, "weight_decay": 0.01},
        {"name": "warmup_cosine", "warmup_steps": 10, "start_factor": 0.2},
    ),
]

# (id, schedule, lr, steps, params)
SCHED_CASES: list[tuple[str, str, float, int, dict[str, Any]]] = [
    ("constant", "constant", 0.1, 20, {}),
    ("step_default", "step", 0.1, 300, {}),
    ("step_small", "step", 0.3, 50, {"step_size": 7, "gamma": 0.5}),
    ("exponential_default", "exponential", 0.01, 1000, {}),
    ("exponential_fast", "exponential", 1.0, 60, {"gamma": 0.9}),
    ("cosine_default", "cosine", 0.1, 100, {}),
    ("cosine_restart", "cosine", 0.05, 100, {"T_max": 30, "eta_min": 0.001}),
    ("cosine_long", "cosine", 0.002, 1000, {"eta_min": 1e-5}),
    ("warmup_cosine_default", "warmup_cosine", 0.01, 1000, {}),
    (
        "warmup_cosine_small",
        "warmup_cosine",
        0.1,
        100,
        {"warmup_steps": 10, "start_factor": 0.1, "eta_min": 1e-4},
    ),
    ("warmup_cosine_zero", "warmup_cosine", 0.1, 50, {"warmup_steps": 0}),
    ("warmup_cosine_all", "warmup_cosine", 0.1, 100, {"warmup_steps": 120, "start_factor": 0.5}),
    ("warmup_cosine_edge", "warmup_cosine", 0.1, 11, {"warmup_steps": 10}),
    ("onecycle_default", "onecycle", 0.1, 100, {}),
    ("onecycle_long", "onecycle", 0.003, 1000, {}),
    ("onecycle_odd", "onecycle", 1.0, 37, {}),
    (
        "onecycle_three_phase",
        "onecycle",
        0.05,
        200,
        {"pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0, "three_phase": True},
    ),
]



@contextlib.contextmanager
def _float64_default(torch):
    """float64 tensors by default inside, the previous default restored after (a float64
    default leaking into later tests changes what their torch code computes)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)

def gradient_sequence() -> tuple[np.ndarray, np.ndarray]:
    """(start (3, 2), grads (N_STEPS, 3, 2)): rows of very different scales, some zeros."""
    rng = np.random.default_rng(SEED)
    start = rng.standard_normal((3, 2)) + np.array([[1.0, -2.0], [0.5, 0.5], [-3.0, 1.0]])
    grads = rng.standard_normal((N_STEPS, 3, 2)) * np.array([1.0, 1e-3, 50.0])[None, :, None]
    grads += 0.3 * np.sign(grads)  # a drift, so momentum-type states build up
    grads[7, 0, 0] = 0.0
    grads[20:23, 1, 1] = 0.0
    return start, grads


def _torch_scheduler(torch: Any, opt: Any, lr: float, steps: int, spec: dict[str, Any]) -> Any:
    S = torch.optim.lr_scheduler
    name = spec["name"]
    p = {k: v for k, v in spec.items() if k != "name"}
    if name == "constant":
        return None
    if name == "step":
        return S.StepLR(opt, step_size=p.get("step_size", 100), gamma=p.get("gamma", 0.1))
    if name == "exponential":
        return S.ExponentialLR(opt, gamma=p.get("gamma", 0.995))
    if name == "cosine":
        return S.CosineAnnealingLR(
            opt, T_max=p.get("T_max", 0) or steps, eta_min=p.get("eta_min", 0.0)
        )
    if name == "warmup_cosine":
        W = p.get("warmup_steps", 100)
        lin = S.LinearLR(
            opt, start_factor=p.get("start_factor", 0.1), end_factor=1.0, total_iters=W
        )
        cos = S.CosineAnnealingLR(opt, T_max=max(1, steps - W), eta_min=p.get("eta_min", 0.0))
        return S.SequentialLR(opt, [lin, cos], milestones=[W])
    if name == "onecycle":
        return S.OneCycleLR(
            opt,
            max_lr=lr,
            total_steps=steps,
            pct_start=float(p.get("pct_start", 0.3)),
            anneal_strategy="cos",
            cycle_momentum=False,
            div_factor=p.get("div_factor", 25.0),
            final_div_factor=p.get("final_div_factor", 1e4),
            three_phase=p.get("three_phase", False),
        )
    raise ValueError(name)


def torch_schedule(name: str, lr: float, steps: int, params: dict[str, Any]) -> np.ndarray:
    """The lr torch uses at steps 0 … steps-1."""
    import torch

    with _float64_default(torch):
        return _torch_schedule(torch, name, lr, steps, params)


def _torch_schedule(torch: Any, name: str, lr: float, steps: int,
                    params: dict[str, Any]) -> np.ndarray:
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    sched = _torch_scheduler(torch, opt, lr, steps, {"name": name, **params})
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        w.grad = torch.zeros(1)
        opt.step()
        if sched is not None:
            sched.step()
    return np.array(out, dtype=np.float64)


_TORCH_CLASS = {
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adadelta": "Adadelta",
    "adam": "Adam",
    "adamw": "AdamW",
    "adamax": "Adamax",
    "nadam": "NAdam",
    "radam": "RAdam",
}


def torch_trajectory(
    optimizer: str,
    hyper: dict[str, Any],
    schedule: dict[str, Any] | None,
    start: np.ndarray,
    grads: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(params after each step (N+1, B, D) including the start, lr of each step (N,))."""
    import torch

    with _float64_default(torch):
        return _torch_trajectory(torch, optimizer, hyper, schedule, start, grads)


def _torch_trajectory(torch: Any, optimizer: str, hyper: dict[str, Any],
                      schedule: dict[str, Any] | None, start: np.ndarray,
                      grads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cls = getattr(torch.optim, _TORCH_CLASS[optimizer])
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in hyper.items()}
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = cls([p], foreach=False, **kw)  # the single-tensor code path
    lr0 = opt.param_groups[0]["lr"]
    sched = None
    if schedule is not None:
        sched = _torch_scheduler(torch, opt, lr0, len(grads), schedule)
    traj = [start.copy()]
    lrs = []
    for g in grads:
        lrs.append(opt.param_groups[0]["lr"])
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        if sched is not None:
            sched.step()
        traj.append(p.detach().numpy().copy())
    return np.array(traj), np.array(lrs)


def main() -> None:
    import torch

    start, grads = gradient_sequence()
    arrays: dict[str, np.ndarray] = {"start": start, "grads": grads}
    for cid, opt, hyper, sched in OPTIM_CASES:
        traj, lrs = torch_trajectory(opt, hyper, sched, start, grads)
        arrays[f"optim__{cid}"] = traj
        arrays[f"optim_lr__{cid}"] = lrs
    for cid, name, lr, steps, params in SCHED_CASES:
        arrays[f"sched__{cid}"] = torch_schedule(name, lr, steps, params)
    meta = {
        "torch": torch.__version__,
        "optim_cases": [list(c) for c in OPTIM_CASES],
        "sched_cases": [list(c) for c in SCHED_CASES],
    }
    arrays["meta"] = np.array(json.dumps(meta))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, torch {torch.__version__})")


if __name__ == "__main__":
    main()
