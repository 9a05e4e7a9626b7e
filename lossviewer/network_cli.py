"""The network commands of the command line: ``train`` and ``landscape``.

    lossviewer train --dataset NAME --model mlp:16,16[:relu] --optimizer NAME
                     [hyperparameters] --steps N --seed S --out RUN.npz
    lossviewer landscape --dataset NAME --model ... [--run RUN.npz | --seed S]
                     --directions random|filter|layer|pca|hessian|interp --grid N
                     [--xrange A,B --yrange C,D] [--dtype float32|float64] --out SURFACE.npz

Kept apart from lossviewer.cli (which is large already); it shares its error
conventions: one line on stderr naming the argument, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from lossviewer.cli import (
    PROG,
    CLIError,
    _add_optimizer_options,
    _axis_range,
    _check_writable,
    _integer,
    _lookup,
    _number,
    _one_line,
    _optimizer_setup,
)

NETWORK_COMMANDS = ("train", "landscape")
DEFAULT_GRID = 51
MAX_GRID_SIDE = 1001


def _add_data_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", metavar="NAME", default=None,
                   help="built-in dataset (default moons): moons, circles, spirals, blobs, "
                        "xor, checkerboard, sine, polynomial, digits")
    p.add_argument("--samples", metavar="N", help="number of samples (default: the dataset's)")
    p.add_argument("--data-noise", metavar="S", help="noise of the dataset (default: its own)")
    p.add_argument("--data-seed", metavar="S", default=None,
                   help="seed of the data and its train/validation split (default 0)")
    p.add_argument("--val-fraction", metavar="F", default=None,
                   help="share of the samples held out for validation (default 0.3)")
    p.add_argument("--model", metavar="SPEC", default=None,
                   help="'linear' (logistic/softmax regression) or 'mlp:W1,W2[:ACT]' with ACT "
                        "relu, tanh, sigmoid or gelu (default mlp:16,16:relu)")
    p.add_argument("--loss", metavar="NAME", default=None,
                   help="cross_entropy, mse or hinge (default: cross_entropy for "
                        "classification, mse for regression)")
    p.add_argument("--l2", metavar="LAMBDA", default=None,
                   help="L2 regularisation: adds LAMBDA/2·|θ|² to the loss (default 0)")


def _add_training_options(p: argparse.ArgumentParser, required: bool) -> None:
    need = " (required)" if required else " (default 500)"
    p.add_argument("--steps", metavar="N", help=f"training steps{need}")
    p.add_argument("--batch-size", metavar="B", default="0",
                   help="mini-batch size; 0 = full batch gradient descent (default 0)")
    p.add_argument("--checkpoint-every", metavar="K", default=None,
                   help="keep the parameters every K steps (default: about 200 checkpoints)")
    _add_optimizer_options(p)


def add_network_commands(sub: Any) -> None:
    """Add ``train`` and ``landscape`` to the command line's subparsers."""
    t = sub.add_parser(
        "train",
        usage=f"{PROG} train --dataset NAME --model SPEC --optimizer NAME --steps N "
              "--out RUN.npz [options]",
        help="train a small network on a built-in dataset; save curves and checkpoints",
        description=(
            "Train an MLP on a built-in dataset with any optimizer and schedule, and save\n"
            "the training/validation curves, checkpoints and final parameters (.npz).\n"
            "--seed seeds the initialisation and the mini-batch order."),
        epilog=(
            "examples:\n"
            "  lossviewer train --dataset moons --model mlp:16,16 --optimizer sgd --lr 0.5 \\\n"
            "      --steps 300 --out moons-run.npz\n"
            "  lossviewer train --dataset digits --model mlp:32 --optimizer adam --lr 0.003 \\\n"
            "      --steps 500 --batch-size 64 --out digits-run.npz"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_data_model_options(t)
    _add_training_options(t, required=True)
    t.add_argument("--out", metavar="RUN.npz", help="output file (required)")

    s = sub.add_parser(
        "landscape",
        usage=f"{PROG} landscape --dataset NAME --model SPEC [--run RUN.npz | --seed S] "
              "--directions METHOD --grid N --out SURFACE.npz [options]",
        help="a network's loss landscape on a 2D slice (Li et al. 2018), as .npz",
        description=(
            "Train (or load --run), pick two directions, and evaluate training and\n"
            "validation loss and accuracy on a grid of the plane θ* + a·δ + b·η.\n"
            "Directions: random, filter (filter-normalised, Li et al.), layer, pca (of the\n"
            "training path), hessian (top-2 eigenvectors), interp (the plane through the\n"
            "solution, a second solution and the initialisation). The file holds the\n"
            "coordinates, the four layers, the centre and both directions and the\n"
            "metadata to reproduce them; the window opens it\n"
            "(lossviewer --open FILE.npz, or File → Open network landscape)."),
        epilog=(
            "examples:\n"
            "  lossviewer landscape --dataset moons --model mlp:16,16 --optimizer sgd \\\n"
            "      --lr 0.5 --steps 300 --directions filter --grid 51 --out moons.npz\n"
            "  lossviewer landscape --run moons-run.npz --directions pca --grid 101 \\\n"
            "      --dtype float64 --out moons-pca.npz\n"
            "  lossviewer landscape --torch-script model.py --grid 101 \\\n"
            "      --scheduler tcp://10.0.0.5:8786 --out big.npz     (on a Dask cluster)"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_data_model_options(s)
    s.add_argument("--run", metavar="RUN.npz",
                   help="use this training run (from 'lossviewer train') instead of training")
    _add_training_options(s, required=False)
    s.add_argument("--directions", metavar="METHOD", default="filter",
                   help="random, filter, layer, pca, hessian or interp (default filter)")
    s.add_argument("--direction-seed", metavar="S", default="0",
                   help="seed of random directions (default 0)")
    s.add_argument("--bias", metavar="MODE", default="zero",
                   help="biases in filter/layer-normalised directions: zero (Li et al.), copy "
                        "or normalize (default zero)")
    s.add_argument("--orthogonalize", action="store_true",
                   help="make the second direction orthogonal to the first")
    s.add_argument("--grid", metavar="N", default=str(DEFAULT_GRID),
                   help=f"grid points per axis, or NX,NY (default {DEFAULT_GRID})")
    s.add_argument("--xrange", metavar="A,B", help="range of the first coordinate "
                   "(default -1,1; wider for pca/interp to hold the training path)")
    s.add_argument("--yrange", metavar="C,D", help="range of the second coordinate")
    s.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="evaluation precision (default float32)")
    s.add_argument("--out", metavar="SURFACE.npz", help="output file (required); an "
                   "interrupted run checkpoints into it and resumes when started again "
                   "with the same arguments")
    t = s.add_argument_group("your own PyTorch model (needs the torch extra)")
    t.add_argument("--torch-script", metavar="FILE.py",
                   help="a model file defining model(), data() and optionally loss() "
                        "(see resources/models/); replaces --dataset/--model/training")
    t.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where to evaluate the model (default cpu)")
    t.add_argument("--bn-mode", choices=("eval", "train"), default="eval",
                   help="batch norm: stored running statistics (eval, default) or "
                        "statistics recomputed at every grid point (train)")
    t.add_argument("--timeout", metavar="S", default="120",
                   help="seconds the model file may take to load (default 120)")
    t.add_argument("--traceback", action="store_true",
                   help="print the model file's traceback when it fails")
    c = s.add_argument_group(
        "on a Dask cluster (needs the cluster extra: pip install 'lossviewer[cluster]')")
    w = c.add_mutually_exclusive_group()
    w.add_argument("--scheduler", metavar="ADDRESS",
                   help="evaluate the grid on the Dask cluster whose scheduler listens at "
                        "ADDRESS (e.g. tcp://10.0.0.5:8786); see docs/cluster.md")
    w.add_argument("--workers", metavar="N",
                   help="evaluate the grid on a local cluster of N worker processes")
    c.add_argument("--tile", metavar="N",
                   help="grid points per side of a cluster task (default: about 64 tiles)")


# -- shared parsing ------------------------------------------------------------------


#: what the data and model flags mean when not given (and no --run says otherwise)
DATA_MODEL_DEFAULTS = {"dataset": "moons", "data_seed": "0", "val_fraction": "0.3",
                       "model": "mlp:16,16:relu", "l2": "0"}


def _defaults(ns: argparse.Namespace) -> None:
    for key, value in DATA_MODEL_DEFAULTS.items():
        if getattr(ns, key) is None:
            setattr(ns, key, value)


def _dataset(ns: argparse.Namespace) -> Any:
    from lossviewer.core.datasets import DATASETS, make_dataset

    _defaults(ns)
    name = _lookup(DATASETS, ns.dataset, "--dataset", "dataset")
    kw: dict[str, Any] = {"seed": _integer("--data-seed", ns.data_seed),
                          "val_fraction": _number("--val-fraction", ns.val_fraction)}
    if ns.samples is not None:
        kw["n_samples"] = _integer("--samples", ns.samples)
    if ns.data_noise is not None:
        kw["noise"] = _number("--data-noise", ns.data_noise)
    try:
        return make_dataset(name, **kw)
    except ValueError as exc:
        msg = _one_line(exc)
        flag = ("--samples" if "sample" in msg else "--data-noise" if "noise" in msg
                else "--val-fraction" if "fraction" in msg else "--data-seed"
                if "seed" in msg else "--dataset")
        raise CLIError(flag, msg) from None


def _model(ns: argparse.Namespace, dataset: Any) -> Any:
    from lossviewer.core.network import LOSSES, ModelSpec, Network

    loss = ns.loss or ("mse" if dataset.task == "regression" else "cross_entropy")
    loss = _lookup(LOSSES, loss, "--loss", "loss")
    l2 = _number("--l2", ns.l2)
    try:
        spec = ModelSpec.parse(ns.model, loss=loss, l2=l2)
    except ValueError as exc:
        msg = _one_line(exc)
        raise CLIError("--l2" if "L2" in msg else "--model", msg) from None
    try:
        return Network.for_dataset(spec, dataset)
    except ValueError as exc:
        msg = _one_line(exc)
        raise CLIError("--loss" if "needs" in msg else "--model",
                       f"{msg} (dataset '{dataset.name}' is {dataset.task})") from None


def _training(ns: argparse.Namespace, required: bool) -> Any:
    from lossviewer.core.training import MAX_STEPS, TrainingConfig

    if ns.optimizer is None:
        if required:
            raise CLIError("--optimizer", "this argument is required")
        ns.optimizer = "sgd"
        if ns.hp_lr is None:
            ns.hp_lr = "0.2"  # gradient descent that converges smoothly on the built-ins
    opt = _optimizer_setup(ns)
    if opt.noise:
        raise CLIError("--noise", "training takes no gradient noise; mini-batches "
                                  "(--batch-size) make the gradients stochastic")
    if ns.steps is None:
        if required:
            raise CLIError("--steps", "this argument is required")
        steps = 500
    else:
        steps = _integer("--steps", ns.steps)
    if not 1 <= steps <= MAX_STEPS:
        raise CLIError("--steps", f"must lie in [1, {MAX_STEPS}], got {steps}")
    batch = _integer("--batch-size", ns.batch_size)
    if batch < 0:
        raise CLIError("--batch-size", f"must be ≥ 0 (0: full batch), got {batch}")
    every = 0 if ns.checkpoint_every is None else _integer("--checkpoint-every",
                                                            ns.checkpoint_every)
    if ns.checkpoint_every is not None and every < 1:
        raise CLIError("--checkpoint-every", f"must be at least 1, got {every}")
    return TrainingConfig.create(opt.name, opt.full_hyper, opt.schedule,
                                 opt.full_schedule_params, steps=steps,
                                 batch_size=batch or None, checkpoint_every=every,
                                 seed=opt.seed)


def _run_job(gen: Any, flag: str) -> Any:
    """Drive a compute job to its end, showing its progress on a terminal."""
    tty = sys.stderr.isatty()
    last = ""
    try:
        while True:
            try:
                step = next(gen)
            except StopIteration as stop:
                return stop.value
            text = getattr(step, "text", "")
            if tty and text and text != last:
                print(f"\r{text[:78]:<78}", end="", file=sys.stderr, flush=True)
                last = text
    except ValueError as exc:
        raise CLIError(flag, _one_line(exc)) from None
    finally:
        if tty and last:
            print("\r" + " " * 78 + "\r", end="", file=sys.stderr, flush=True)


# -- commands -------------------------------------------------------------------------


def cmd_train(ns: argparse.Namespace) -> int:
    from lossviewer.compute.network_jobs import _train
    from lossviewer.io.network_files import save_run

    if ns.out is None:
        raise CLIError("--out", "this argument is required")
    _check_writable("--out", ns.out)
    dataset = _dataset(ns)
    network = _model(ns, dataset)
    config = _training(ns, required=True)
    if not config.checkpoint_every:
        from dataclasses import replace

        from lossviewer.core.training import checkpoint_interval

        config = replace(config, checkpoint_every=checkpoint_interval(config.steps,
                                                                      network.n_params))
    if config.batch_size and config.batch_size > dataset.X_train.shape[0]:
        raise CLIError("--batch-size", f"{config.batch_size} is more than the "
                                       f"{dataset.X_train.shape[0]} training samples")
    run = _run_job(_train(network, dataset, config, 0.0, 1.0, "Training"), "train")
    try:
        save_run(ns.out, run, dataset, network)
    except OSError as exc:
        raise CLIError("--out", f"cannot write {ns.out!r}: {exc.strerror or exc}") from None
    print(f"{network.describe()} on {dataset.describe()}\n{run.summary()}\nsaved {ns.out}")
    return 0


def _grid(text: str) -> tuple[int, int]:
    from lossviewer.core.network_landscape import check_grid

    parts = str(text).split(",")
    if len(parts) not in (1, 2):
        raise CLIError("--grid", f"expected N or NX,NY, got {text!r}")
    sizes = [_integer("--grid", p) for p in parts]
    try:
        return check_grid(sizes[0] if len(sizes) == 1 else (sizes[0], sizes[1]))
    except ValueError as exc:
        raise CLIError("--grid", _one_line(exc)) from None


def cmd_landscape(ns: argparse.Namespace) -> int:
    from lossviewer.compute.network_jobs import (
        NetworkRequest,
        network_job,
    )
    from lossviewer.core.directions import BIAS_MODES, METHODS, DirectionSpec
    from lossviewer.io.network_files import check_run_matches, load_run

    if ns.out is None:
        raise CLIError("--out", "this argument is required")
    _check_writable("--out", ns.out)
    _check_format(ns.out)
    grid = _grid(ns.grid)
    _check_cluster_options(ns)
    method = _lookup(METHODS, ns.directions, "--directions", "direction method")
    bias = _lookup(dict.fromkeys(BIAS_MODES), ns.bias, "--bias", "bias mode")
    dseed = _integer("--direction-seed", ns.direction_seed)
    if dseed < 0:
        raise CLIError("--direction-seed", f"must be ≥ 0, got {dseed}")
    if ns.torch_script is not None:
        return cmd_torch_landscape(ns, grid, method, bias, dseed)
    run = None
    if ns.run is not None:
        try:
            run_file = load_run(ns.run)
        except OSError as exc:
            raise CLIError("--run", f"cannot read {ns.run!r}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise CLIError("--run", _one_line(exc)) from None
        # the run file says which data and model it belongs to: flags not given take
        # its values, flags given must agree with it (checked below)
        taken = {"dataset": run_file.dataset_name, "model": run_file.model.text,
                 "loss": run_file.model.loss, "l2": repr(run_file.model.l2)}
        for key, value in run_file.dataset_params.items():
            flag = {"n_samples": "samples", "noise": "data_noise", "seed": "data_seed",
                    "val_fraction": "val_fraction"}.get(key)
            if flag:
                taken[flag] = repr(value)
        for key, value in taken.items():
            if getattr(ns, key) is None:
                setattr(ns, key, value)
        dataset = _dataset(ns)
        network = _model(ns, dataset)
        try:
            check_run_matches(run_file, network, dataset)
        except ValueError as exc:
            raise CLIError("--run", _one_line(exc)) from None
        run = run_file.run
        config = run.config
    else:
        dataset = _dataset(ns)
        network = _model(ns, dataset)
        config = _training(ns, required=False)
    try:
        dspec = DirectionSpec(method=method, seed=dseed, bias=bias,
                              orthogonalize=bool(ns.orthogonalize))
    except ValueError as exc:
        raise CLIError("--directions", _one_line(exc)) from None
    req = NetworkRequest.create(dataset.name, dataset.params, model=network.spec,
                                training=config, directions=dspec, dtype=ns.dtype, run=run)
    nslice = _run_job(network_job(req), "--directions")
    key = _run_key(ns, {"dataset": dataset.name, "dataset_params": dataset.params,
                        "model": network.spec.text, "loss": network.spec.loss,
                        "l2": network.spec.l2, "training": repr(config),
                        "run": None if run is None else _file_digest(ns.run)})
    return _compute_surface(ns, nslice, grid, key)


def _check_cluster_options(ns: argparse.Namespace) -> None:
    """--scheduler / --workers / --tile checked before any work (training can take minutes)."""
    from lossviewer.compute.cluster import MAX_LOCAL_WORKERS, cluster_available, cluster_hint

    if ns.tile is not None:
        from lossviewer.compute.cluster_grid import check_tile

        if ns.scheduler is None and ns.workers is None:
            raise CLIError("--tile", "applies only with --scheduler or --workers")
        try:
            ns.tile = check_tile(_integer("--tile", ns.tile))
        except ValueError as exc:
            raise CLIError("--tile", _one_line(exc)) from None
    if ns.workers is not None:
        n = _integer("--workers", ns.workers)
        if not 1 <= n <= MAX_LOCAL_WORKERS:
            raise CLIError("--workers", f"must lie in [1, {MAX_LOCAL_WORKERS}], got {n}")
        ns.workers = n
    flag = "--scheduler" if ns.scheduler is not None else "--workers"
    if (ns.scheduler is not None or ns.workers is not None) and not cluster_available():
        raise CLIError(flag, cluster_hint())


def _open_cluster(ns: argparse.Namespace) -> Any:
    """The cluster the options ask for (None: evaluate in this process)."""
    from lossviewer.compute.cluster import ClusterConnection, ClusterError

    if ns.scheduler is None and ns.workers is None:
        return None
    flag = "--scheduler" if ns.scheduler is not None else "--workers"
    import logging

    import distributed  # noqa: F401 - configures its loggers on import: set ours after

    # Dask logs its connection bookkeeping at INFO, with tracebacks; its warnings (a lost
    # worker, versions that differ) are worth seeing, the rest is ours to say
    logging.getLogger("distributed").setLevel(logging.WARNING)
    try:
        if ns.scheduler is not None:
            conn = ClusterConnection.connect(ns.scheduler)
            conn.wait_for_workers(1)
        else:
            conn = ClusterConnection.start_local(ns.workers)
        info = conn.info()
    except ClusterError as exc:
        raise CLIError(flag, _one_line(exc)) from None
    dash = f"; dashboard {info.dashboard}" if info.dashboard else ""
    print(f"{info.describe()}{dash}", file=sys.stderr)
    return conn


def _check_format(out: str) -> str:
    """The output's extension, checked before any work (training can take minutes)."""
    import os

    from lossviewer.io.landscape_export import EXPORT_FORMATS

    ext = os.path.splitext(out)[1].lower()
    if ext not in EXPORT_FORMATS:
        raise CLIError("--out", f"unknown extension {ext or '(none)'}; use one of "
                                f"{', '.join(EXPORT_FORMATS)}")
    if ext == ".h5":
        from lossviewer.io.h5_landscape import H5_HINT, h5_available

        if not h5_available():
            raise CLIError("--out", H5_HINT)
    return ext


def _file_digest(path: str) -> str:
    import hashlib

    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _run_key(ns: argparse.Namespace, what: dict[str, Any]) -> str:
    """A digest of everything that decides the result (a resumed run must match it)."""
    import hashlib
    import json

    what = {**what, "directions": ns.directions, "direction_seed": ns.direction_seed,
            "bias": ns.bias, "orthogonalize": bool(ns.orthogonalize), "grid": ns.grid,
            "xrange": ns.xrange, "yrange": ns.yrange, "dtype": ns.dtype}
    text = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


#: a running headless landscape saves its progress this often (seconds)
CHECKPOINT_S = 2.0


def _compute_surface(ns: argparse.Namespace, nslice: Any, grid: tuple[int, int],
                     key: str) -> int:
    """Evaluate the grid (here or on the cluster asked for), checkpointing into --out;
    resume what an earlier run with the same arguments left."""
    from lossviewer.core.network_landscape import GridState
    from lossviewer.io.network_files import read_progress

    (dx0, dx1), (dy0, dy1) = nslice.default_domain()
    xrange = _axis_range("--xrange", ns.xrange, (dx0, dx1), "x range")
    yrange = _axis_range("--yrange", ns.yrange, (dy0, dy1), "y range")
    ext = _check_format(ns.out)
    # progress goes into the output itself when it is our .npz, else into a side file
    progress_path = ns.out if ext == ".npz" else ns.out + ".partial.npz"
    complete, layers, done = read_progress(progress_path, key)
    if complete:
        print(f"{ns.out} is already complete for these arguments; nothing to do")
        return 0
    nx, ny = grid
    state = GridState.empty(nx, ny)
    if layers is not None and done.shape == (ny, nx):
        state = GridState(layers, done)
        print(f"resuming {ns.out}: {state.finished:,} of {nx * ny:,} grid points already done",
              file=sys.stderr)
    cluster = _open_cluster(ns)
    try:
        return _evaluate_surface(ns, nslice, grid, key, state, cluster,
                                 (xrange, yrange, ext, progress_path))
    finally:
        if cluster is not None:
            import logging

            # the command is ending: a lost scheduler's reconnect loop, cancelled by the
            # close, would otherwise print Dask's tracebacks after our one-line message
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
            logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
            cluster.close()


def _evaluate_surface(ns: argparse.Namespace, nslice: Any, grid: tuple[int, int], key: str,
                      state: Any, cluster: Any, where: tuple) -> int:
    import os
    import time

    from lossviewer.compute.cluster import ClusterError
    from lossviewer.core.network_landscape import NetworkSurface, iter_network_surface
    from lossviewer.io.landscape_export import export_landscape
    from lossviewer.io.network_files import save_network_landscape

    xrange, yrange, ext, progress_path = where
    nx, ny = grid
    stats = None
    if cluster is not None:
        from lossviewer.compute.cluster_grid import ClusterRunStats, iter_cluster_surface

        stats = ClusterRunStats()
        gen = iter_cluster_surface(cluster, nslice, xrange, yrange, grid, ns.dtype,
                                   state=state, tile=ns.tile, stats=stats,
                                   partial_every_s=CHECKPOINT_S,
                                   device=getattr(ns, "worker_device", None))
    else:
        gen = iter_network_surface(nslice, xrange, yrange, grid, ns.dtype, state=state)
    xs, ys = np.linspace(*xrange, nx), np.linspace(*yrange, ny)
    meta: dict[str, Any] = {}

    def checkpoint(final: bool = False) -> None:
        surface = NetworkSurface(xs, ys, state.layers, meta)
        try:
            if final and ext != ".npz":
                export_landscape(ns.out, surface, nslice)
                if os.path.exists(progress_path):
                    os.unlink(progress_path)
                return
            save_network_landscape(progress_path, surface, nslice,
                                   done=None if final else state.done, run_key=key)
        except OSError as exc:
            raise CLIError("--out", f"cannot write {ns.out!r}: {exc.strerror or exc}") from None
        except ImportError as exc:  # .h5 without h5py
            raise CLIError("--out", str(exc)) from None

    tty = sys.stderr.isatty()
    last = time.monotonic()
    told = False
    try:
        while True:
            try:
                step = next(gen)
            except StopIteration as stop:
                surface = stop.value
                break
            except ValueError as exc:
                flag = "--torch-script" if getattr(ns, "torch_script", None) else "landscape"
                raise CLIError(flag, _one_line(exc)) from None
            except ClusterError as exc:
                checkpoint()  # every tile that came back is kept; the same command resumes
                flag = "--scheduler" if ns.scheduler is not None else "--workers"
                raise CLIError(flag, f"{_one_line(exc)}; run the same command again to "
                                     "continue") from None
            if stats is not None and not told:
                told = True  # what was sent (a resumed run sends only what is missing)
                print(f"cluster: {stats.points:,} grid points in {stats.tasks:,} tasks "
                      f"(tiles of {stats.tile}×{stats.tile})", file=sys.stderr, flush=True)
            if isinstance(step, NetworkSurface):
                meta = dict(step.meta)
                checkpoint()
                last = time.monotonic()
                continue
            if time.monotonic() - last >= CHECKPOINT_S:
                checkpoint()
                last = time.monotonic()
            if tty:
                print(f"\rlandscape {step[0]:,}/{step[1]:,} points", end="", file=sys.stderr,
                      flush=True)
    except KeyboardInterrupt:
        checkpoint()  # keep every finished point; the same command resumes
        raise
    finally:
        if tty:
            print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)
    meta = dict(surface.meta)
    checkpoint(final=True)
    bad = surface.non_finite()
    note = f"; {bad} grid points with a non-finite loss" if bad else ""
    tl = surface.layers["train_loss"]
    finite = tl[np.isfinite(tl)]
    span = (f"training loss {float(finite.min()):.4g} … {float(finite.max()):.4g}"
            if finite.size else "no finite training loss")
    print(f"{nslice.describe()}\n{nx}×{ny} grid, {span}{note}\nsaved {ns.out}")
    return 0


def cmd_torch_landscape(ns: argparse.Namespace, grid: tuple[int, int], method: str, bias: str,
                        dseed: int) -> int:
    """landscape --torch-script: the user's model and data, the same file as built-ins."""
    from lossviewer.compute.model_file import ModelFileError, load_model_file
    from lossviewer.compute.torch_plane import ModelFileData, TorchNetwork
    from lossviewer.core.directions import DirectionSpec, make_directions
    from lossviewer.core.network_landscape import NetworkSlice

    given = [f for f, v in (("--dataset", ns.dataset), ("--model", ns.model), ("--run", ns.run),
                            ("--optimizer", ns.optimizer), ("--steps", ns.steps),
                            ("--samples", ns.samples), ("--loss", ns.loss)) if v is not None]
    if given:
        raise CLIError(given[0], "does not apply with --torch-script (the model file brings "
                                 "its model, weights, data and loss)")
    if method in ("pca", "interp"):
        raise CLIError("--directions", f"'{method}' needs a training run; with --torch-script "
                                       "use random, filter, layer or hessian")
    timeout = _number("--timeout", ns.timeout)
    if timeout <= 0:
        raise CLIError("--timeout", f"must be > 0, got {ns.timeout}")
    try:
        mf = load_model_file(ns.torch_script, timeout=timeout)
    except ModelFileError as exc:
        if ns.traceback and exc.details:
            print(exc.details, file=sys.stderr, end="")
        hint = "" if ns.traceback or not exc.details else " (--traceback shows where)"
        raise CLIError("--torch-script", f"{_one_line(exc)}{hint}") from None
    # on a cluster the workers evaluate on --device; this machine (a login node without
    # a GPU, say) only draws the directions, on the CPU
    on_cluster = ns.scheduler is not None or ns.workers is not None
    ns.worker_device = ns.device if on_cluster else None
    try:
        network = TorchNetwork(mf, device="cpu" if on_cluster else ns.device,
                               bn_mode=ns.bn_mode)
        theta = network.theta0()
        dspec = DirectionSpec(method=method, seed=dseed, bias=bias,
                              orthogonalize=bool(ns.orthogonalize))
        directions = make_directions(dspec, network, theta, X=(), targets=())
    except ValueError as exc:
        raise CLIError("--device" if "device" in str(exc) else "--directions",
                       _one_line(exc)) from None
    nslice = NetworkSlice(ModelFileData(mf), network, directions, None, dtype=ns.dtype)
    key = _run_key(ns, {"script": _file_digest(ns.torch_script), "device": ns.device,
                        "bn_mode": ns.bn_mode})
    return _compute_surface(ns, nslice, grid, key)
