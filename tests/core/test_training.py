"""Training against hand-written loops: plain gradient descent, the optimizers stepped
directly, the recorded curves and checkpoints, mini-batches, divergence and bad input."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

from lossviewer.core.datasets import make_dataset
from lossviewer.core.network import ModelSpec, Network
from lossviewer.core.optimizers import make_optimizer
from lossviewer.core.schedules import lr_schedule
from lossviewer.core.training import (
    MAX_CHECKPOINT_VALUES,
    MAX_STEPS,
    TrainingConfig,
    TrainingRun,
    train,
    train_iter,
)


@pytest.fixture(scope="module")
def moons():
    return make_dataset("moons", n_samples=120, noise=0.15, seed=1)


@pytest.fixture(scope="module")
def net():
    return Network(ModelSpec((6,), "tanh", "cross_entropy", 1e-3), 2, "classification", 2)


def _train(net, ds, config, init=None):
    return train(net, ds.X_train, ds.y_train, ds.X_val, ds.y_val, config, init)


def _accuracy(f, y):
    return float(np.mean((f[:, 0] > 0) == (y == 1)))


def test_full_batch_sgd_is_gradient_descent(net, moons):
    lr, steps = 0.3, 23
    run = _train(net, moons, TrainingConfig.create("sgd", {"lr": lr}, steps=steps,
                                                   checkpoint_every=5))
    t = net.targets(moons.y_train)
    theta = net.init_params(0)
    np.testing.assert_array_equal(run.init, theta)
    path, losses = [theta], []
    for _ in range(steps):
        L, g = net.loss_and_grad(theta, moons.X_train, t)
        losses.append(L)
        theta = theta - lr * g
        path.append(theta)
    losses.append(net.loss_value(theta, moons.X_train, t))
    np.testing.assert_allclose(run.final, theta, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(run.checkpoint_steps, [0, 5, 10, 15, 20, 23])
    np.testing.assert_allclose(run.checkpoints, np.array(path)[run.checkpoint_steps],
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(run.train_loss, losses, rtol=1e-12)
    np.testing.assert_array_equal(run.lr, np.full(steps, lr))
    assert run.status == "finished" and run.steps_done == steps
    # the loss went down: the loop trained something
    assert run.train_loss[-1] < 0.8 * run.train_loss[0]


def test_sgd_with_schedule_uses_each_steps_lr(net, moons):
    steps = 15
    cfg = TrainingConfig.create("sgd", {"lr": 0.5, "momentum": 0.9}, "cosine", steps=steps,
                                checkpoint_every=1)
    run = _train(net, moons, cfg)
    lrs = lr_schedule("cosine", 0.5, steps)
    np.testing.assert_array_equal(run.lr, lrs)
    assert lrs[0] == 0.5 and lrs[-1] < 0.05
    # momentum by hand: b ← μ·b + g (b = g at the first step), θ ← θ − lr·b
    t = net.targets(moons.y_train)
    theta = net.init_params(0)
    buf = None
    for k in range(steps):
        _, g = net.loss_and_grad(theta, moons.X_train, t)
        buf = g.copy() if buf is None else 0.9 * buf + g
        theta = theta - lrs[k] * buf
        np.testing.assert_allclose(run.checkpoints[k + 1], theta, rtol=0, atol=1e-12)


def test_full_batch_adam_equals_stepping_the_optimizer(net, moons):
    steps = 30
    hyper = {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.01}
    cfg = TrainingConfig.create("adam", hyper, "step", {"step_size": 10, "gamma": 0.5},
                                steps=steps, checkpoint_every=7, seed=3)
    init = net.init_params(42)
    run = _train(net, moons, cfg, init=init)
    np.testing.assert_array_equal(run.init, init)
    t = net.targets(moons.y_train)
    lrs = lr_schedule("step", 0.05, steps, step_size=10, gamma=0.5)
    opt = make_optimizer("adam", (1, net.n_params), **hyper)
    params = init[None, :].copy()
    path = [init.copy()]
    for k in range(steps):
        _, g = net.loss_and_grad(params[0], moons.X_train, t)
        opt.step(params, g[None, :], float(lrs[k]))
        path.append(params[0].copy())
    np.testing.assert_allclose(run.final, params[0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(run.checkpoint_steps, [0, 7, 14, 21, 28, 30])
    np.testing.assert_allclose(run.checkpoints, np.array(path)[run.checkpoint_steps],
                               rtol=0, atol=1e-12)
    np.testing.assert_array_equal(run.lr, lrs)


def test_curves_are_metrics_at_the_checkpoints(net, moons):
    for batch in (None, 16):
        run = _train(net, moons, TrainingConfig.create("adam", {"lr": 0.05}, steps=12,
                                                       checkpoint_every=1, batch_size=batch))
        assert run.checkpoints.shape == (13, net.n_params)
        assert run.train_loss.shape == run.val_acc.shape == (13,)
        t, tv = net.targets(moons.y_train), net.targets(moons.y_val)
        for k, theta in zip(run.checkpoint_steps, run.checkpoints, strict=True):
            assert run.train_loss[k] == pytest.approx(
                net.loss_value(theta, moons.X_train, t), rel=1e-12)
            assert run.val_loss[k] == pytest.approx(
                net.loss_value(theta, moons.X_val, tv), rel=1e-12)
            assert run.train_acc[k] == _accuracy(net.forward(theta, moons.X_train),
                                                 moons.y_train)
            assert run.val_acc[k] == _accuracy(net.forward(theta, moons.X_val), moons.y_val)
        # the validation curve is not the training curve
        assert not np.allclose(run.val_loss, run.train_loss)


@pytest.mark.parametrize(("steps", "every", "want"), [
    (20, 5, [0, 5, 10, 15, 20]),
    (23, 5, [0, 5, 10, 15, 20, 23]),
    (4, 1, [0, 1, 2, 3, 4]),
    (6, 50, [0, 6]),
    (1, 1, [0, 1]),
])
def test_checkpoint_steps(net, moons, steps, every, want):
    run = _train(net, moons, TrainingConfig(steps=steps, checkpoint_every=every))
    np.testing.assert_array_equal(run.checkpoint_steps, want)
    assert run.checkpoint_steps.dtype == np.int64
    np.testing.assert_array_equal(run.checkpoints[0], run.init)
    np.testing.assert_array_equal(run.checkpoints[-1], run.final)
    assert run.lr.shape == (steps,) and run.train_loss.shape == (steps + 1,)


def test_progress_is_reported(net, moons):
    gen = train_iter(net, moons.X_train, moons.y_train, moons.X_val, moons.y_val,
                     TrainingConfig(steps=250))
    seen = []
    while True:
        try:
            seen.append(next(gen))
        except StopIteration as stop:
            run = stop.value
            break
    assert isinstance(run, TrainingRun)
    done = [d for d, _ in seen]
    assert all(total == 250 for _, total in seen)
    assert done == sorted(done) and done[-1] == 250 and len(done) >= 50


def test_minibatch_runs_reproducible_per_seed(net, moons):
    def run(seed, init=None):
        return _train(net, moons, TrainingConfig.create("sgd", {"lr": 0.2}, steps=25,
                                                        batch_size=10, seed=seed), init)

    a, b = run(1), run(1)
    np.testing.assert_array_equal(a.final, b.final)
    np.testing.assert_array_equal(a.checkpoints, b.checkpoints)
    np.testing.assert_array_equal(a.train_loss, b.train_loss)
    c = run(2)
    assert not np.allclose(a.init, c.init)          # the seed picks the initialisation ...
    same_init = run(2, init=a.init)                   # ... and the batch order
    assert np.abs(same_init.final - a.final).max() > 1e-4
    # mini-batch steps are not full-batch steps
    full = _train(net, moons, TrainingConfig.create("sgd", {"lr": 0.2}, steps=25, seed=1))
    assert np.abs(full.final - a.final).max() > 1e-4


def test_one_batch_of_everything_is_full_batch(net, moons):
    n = moons.X_train.shape[0]
    cfg = dict(steps=15, seed=4)
    mini = _train(net, moons, TrainingConfig.create("sgd", {"lr": 0.3}, batch_size=n, **cfg))
    full = _train(net, moons, TrainingConfig.create("sgd", {"lr": 0.3}, **cfg))
    # the same samples in another order: equal up to summation rounding
    np.testing.assert_allclose(mini.final, full.final, rtol=1e-10, atol=1e-13)


def test_divergence_stops_quietly(moons):
    sine = make_dataset("sine", n_samples=60, seed=0)
    net = Network(ModelSpec((), loss="mse"), 1, "regression", 0)
    cfg = TrainingConfig.create("sgd", {"lr": 20.0}, steps=400, checkpoint_every=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = train(net, sine.X_train, sine.y_train, sine.X_val, sine.y_val, cfg)
    assert run.status == "diverged"
    last = run.steps_done
    assert 1 < last < 400
    assert np.all(np.isfinite(run.train_loss[:-1])) and np.all(np.isfinite(run.val_loss[:-1]))
    bad = run.final
    assert not (np.all(np.isfinite(bad)) and np.abs(bad).max() < 1e12
                and math.isfinite(run.train_loss[-1]))
    # the losses grew on the way
    assert run.train_loss[last - 1] > 1e6 * run.train_loss[0]
    assert run.checkpoint_steps[-1] == last
    np.testing.assert_array_equal(run.checkpoints[-1], run.final)
    assert run.lr.shape == (last,) and run.train_loss.shape == (last + 1,)
    assert np.isnan(run.train_acc).all()
    assert f"diverged at step {last}" in run.summary()


def test_summary(net, moons):
    run = _train(net, moons, TrainingConfig(steps=5))
    s = run.summary()
    assert s.startswith(f"5 steps: training loss {run.train_loss[5]:.4g}, validation loss")
    assert f"validation accuracy {100 * run.val_acc[5]:.1f} %" in s and "diverged" not in s
    assert run.meta == {"model": "mlp:6:tanh", "loss": "cross_entropy", "l2": 1e-3,
                        "n_params": net.n_params}
    assert TrainingConfig.create("adam", {"lr": 0.01}, steps=300, batch_size=32).describe() == (
        "adam lr 0.01, constant, 300 steps, batch 32")


@pytest.mark.parametrize(("change", "message"), [
    ({"steps": 0}, f"steps must be a whole number in [1, {MAX_STEPS}], got 0"),
    ({"steps": MAX_STEPS + 1}, "steps must be a whole number"),
    ({"steps": 2.5}, "steps must be a whole number in [1, 100000], got 2.5"),
    ({"steps": True}, "steps must be a whole number"),
    ({"checkpoint_every": 0}, "checkpoint interval must be a whole number"),
    ({"batch_size": -1}, "batch size must be a whole number in [1, 84], got -1"),
    ({"batch_size": 85}, "batch size must be a whole number in [1, 84], got 85"),
    ({"batch_size": 8.0}, "batch size must be a whole number"),
    ({"seed": -1}, "seed must be a whole number"),
    ({"optimizer": "lbfgs"}, "unknown optimizer 'lbfgs'"),
    ({"hyper": (("lr", -1.0),)}, "lr must be > 0"),
    ({"schedule": "warp"}, "warp"),
])
def test_bad_config_raises_from_the_call(net, moons, change, message):
    cfg = TrainingConfig(**{**TrainingConfig().__dict__, **change})
    assert moons.X_train.shape[0] == 84
    # the generator is never advanced: the call itself raises
    with pytest.raises(ValueError, match=re.escape(message)):
        train_iter(net, moons.X_train, moons.y_train, moons.X_val, moons.y_val, cfg)


def test_bad_data_or_init_raises_from_the_call(net, moons):
    X, y, Xv, yv = moons.X_train, moons.y_train, moons.X_val, moons.y_val
    cfg = TrainingConfig(steps=3)
    with pytest.raises(ValueError, match="takes 2 input features, the data has 3"):
        train_iter(net, np.hstack([X, X[:, :1]]), y, Xv, yv, cfg)
    with pytest.raises(ValueError, match="takes 2 input features, the data has 1"):
        train_iter(net, X, y, Xv[:, :1], yv, cfg)
    with pytest.raises(ValueError, match=f"the initial parameters have 5 entries, the model "
                                         f"{net.n_params}"):
        train_iter(net, X, y, Xv, yv, cfg, init=np.zeros(5))


def _wide_net():
    return Network(ModelSpec((1000, 1000)), 2, "classification", 2)


def test_checkpoint_memory_limit_message():
    big = _wide_net()
    n = big.n_params
    assert n == 2 * 1000 + 1000 + 1000 * 1000 + 1000 + 1000 + 1
    steps = 99
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    need = (steps + 2) * n * 8 / 2**20
    # 49 checkpoints fit (50M values); steps // every + 2 <= 49 first holds at every = 3
    budget = MAX_CHECKPOINT_VALUES // n
    every = math.ceil(steps / (budget - 1))
    assert (budget, every) == (49, 3)
    assert steps // every + 2 <= budget < steps // (every - 1) + 2
    msg = (f"{steps + 2} checkpoints of {n:,} parameters need {need:,.0f} MiB; "
           f"keep one every {every} steps or more")
    with pytest.raises(ValueError, match=re.escape(msg)):
        train_iter(big, X, y, X, y, TrainingConfig(steps=steps, checkpoint_every=1))
    # a sparse enough interval is accepted
    train_iter(big, X, y, X, y, TrainingConfig(steps=steps, checkpoint_every=10))


def test_suggested_checkpoint_interval_is_accepted():
    big = _wide_net()
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError) as info:
        train_iter(big, X, y, X, y, TrainingConfig(steps=99, checkpoint_every=1))
    every = int(re.search(r"keep one every (\d+) steps", str(info.value)).group(1))
    train_iter(big, X, y, X, y, TrainingConfig(steps=99, checkpoint_every=every))


def test_labels_of_another_length_are_refused(net, moons):
    X, y = moons.X_train, moons.y_train
    with pytest.raises(ValueError, match="label"):
        train(net, X, y[:1], moons.X_val, moons.y_val, TrainingConfig(steps=3))
