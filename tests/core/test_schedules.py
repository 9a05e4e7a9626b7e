"""Learning-rate schedules against torch.optim.lr_scheduler."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from lossviewer.core.optimizers import HyperParam
from lossviewer.core.schedules import SCHEDULES, Schedule, clean_schedule_params, lr_schedule
from tests.core.torch_reference import generator_module

HERE = Path(__file__).parent

with np.load(HERE / "data" / "torch_optim_reference.npz") as _z:
    REF = {k: _z[k] for k in _z.files}
SCHED_CASES = json.loads(str(REF["meta"]))["sched_cases"]
CASE_IDS = [c[0] for c in SCHED_CASES]


def _case(cid):
    return next(c for c in SCHED_CASES if c[0] == cid)


@pytest.mark.parametrize("cid", CASE_IDS)
def test_matches_torch_reference(cid):
    _, name, lr, steps, params = _case(cid)
    got = lr_schedule(name, lr, steps, **params)
    assert got.shape == (steps,) and got.dtype == np.float64
    np.testing.assert_allclose(got, REF[f"sched__{cid}"], rtol=1e-13, atol=0)


def test_reference_covers_every_schedule_and_parameter():
    assert {c[1] for c in SCHED_CASES} == set(SCHEDULES)
    used = {(c[1], k) for c in SCHED_CASES for k in c[4]}
    for s in SCHEDULES.values():
        for p in s.params:
            assert (s.name, p.name) in used, (s.name, p.name)


LIVE_CASES = [
    ("step", 0.2, 77, {"step_size": 13, "gamma": 0.3}),
    ("exponential", 0.5, 200, {"gamma": 0.97}),
    ("cosine", 0.1, 250, {}),
    ("cosine", 0.1, 250, {"T_max": 40, "eta_min": 0.02}),
    ("warmup_cosine", 0.3, 250, {"warmup_steps": 25, "start_factor": 0.01, "eta_min": 1e-3}),
    ("warmup_cosine", 0.3, 30, {"warmup_steps": 29}),
    ("onecycle", 0.7, 250, {}),
    ("onecycle", 0.7, 250, {"pct_start": 0.45, "three_phase": True}),
    ("onecycle", 0.7, 3, {}),
]


@pytest.mark.parametrize(("name", "lr", "steps", "params"), LIVE_CASES)
def test_matches_live_torch(name, lr, steps, params):
    pytest.importorskip("torch")
    want = generator_module().torch_schedule(name, lr, steps, params)
    np.testing.assert_allclose(lr_schedule(name, lr, steps, **params), want, rtol=1e-13, atol=0)


def test_closed_forms():
    k = np.arange(100)
    np.testing.assert_allclose(
        lr_schedule("cosine", 0.1, 100), 0.05 * (1 + np.cos(np.pi * k / 100)), rtol=1e-10
    )
    np.testing.assert_allclose(
        lr_schedule("step", 1.0, 100, step_size=30, gamma=0.5), 0.5 ** (k // 30), rtol=1e-15
    )
    np.testing.assert_allclose(
        lr_schedule("exponential", 2.0, 100, gamma=0.9), 2.0 * 0.9**k, rtol=1e-13
    )
    w = lr_schedule("warmup_cosine", 1.0, 100, warmup_steps=10, start_factor=0.1)
    np.testing.assert_allclose(w[:11], np.linspace(0.1, 1.0, 11), rtol=1e-13)
    np.testing.assert_allclose(w[10:], 0.5 * (1 + np.cos(np.pi * np.arange(90) / 90)), rtol=1e-10)
    oc = lr_schedule("onecycle", 1.0, 100)
    assert oc[0] == pytest.approx(1 / 25) and oc.max() == pytest.approx(1.0)
    assert oc[-1] == pytest.approx(1 / 25 / 1e4)
    assert int(np.argmax(oc)) == 29


def test_constant_and_defaults():
    np.testing.assert_array_equal(lr_schedule("constant", 0.3, 5), [0.3] * 5)
    assert list(SCHEDULES) == [
        "constant",
        "step",
        "exponential",
        "cosine",
        "warmup_cosine",
        "onecycle",
    ]
    for s in SCHEDULES.values():
        assert isinstance(s, Schedule) and s.title and s.description
        for p in s.params:
            assert isinstance(p, HyperParam) and p.help
            assert p.validate(p.default) == p.default
        assert clean_schedule_params(s.name, {}) == s.defaults()
        out = lr_schedule(s.name, 0.01, 1000)
        assert out.shape == (1000,) and np.all(np.isfinite(out)) and np.all(out >= 0)


def test_single_step_and_degenerate_onecycle():
    for name in SCHEDULES:
        assert lr_schedule(name, 0.1, 1).shape == (1,)
    # pct_start·steps = 1 makes torch divide by zero; we take the phase as finished
    out = lr_schedule("onecycle", 1.0, 10, pct_start=0.1)
    assert np.all(np.isfinite(out)) and out[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("name", "lr", "steps", "params", "message"),
    [
        ("cyclic", 0.1, 10, {}, r"unknown schedule 'cyclic'; known: constant, step, .*onecycle"),
        (
            "step",
            0.1,
            10,
            {"gama": 0.5},
            r"schedule 'step' has no parameter 'gama' \(valid: step_size, gamma\)",
        ),
        (
            "constant",
            0.1,
            10,
            {"gamma": 0.5},
            r"schedule 'constant' has no parameter 'gamma' \(valid: none\)",
        ),
        ("step", 0.1, 10, {"step_size": 0}, "step_size must be >= 1, got 0"),
        ("step", 0.1, 10, {"step_size": 2.5}, "step_size must be a whole number, got 2.5"),
        ("step", 0.1, 10, {"gamma": 0}, "gamma must be > 0, got 0"),
        ("exponential", 0.1, 10, {"gamma": math.nan}, "gamma must be finite"),
        ("warmup_cosine", 0.1, 10, {"start_factor": 0}, "start_factor must be > 0"),
        ("warmup_cosine", 0.1, 10, {"start_factor": 1.5}, "start_factor must be <= 1"),
        ("onecycle", 0.1, 10, {"pct_start": 1.2}, "pct_start must be <= 1"),
        ("onecycle", 0.1, 10, {"div_factor": 0}, "div_factor must be > 0"),
        ("cosine", 0.1, 10, {"eta_min": -1}, "eta_min must be >= 0"),
        ("cosine", 0.0, 10, {}, "lr must be > 0, got 0"),
        ("cosine", math.inf, 10, {}, "lr must be finite"),
        ("cosine", 0.1, 0, {}, "steps must be a whole number >= 1, got 0"),
        ("cosine", 0.1, 2.0, {}, "steps must be a whole number >= 1"),
    ],
)
def test_bad_input(name, lr, steps, params, message):
    with pytest.raises(ValueError, match=message):
        lr_schedule(name, lr, steps, **params)
