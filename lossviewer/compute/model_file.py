"""A user's PyTorch model file: ``model()``, ``data()`` and optionally ``loss()``.

The file is code, and is run only when the user asks for it (File → Open model,
``lossviewer landscape --torch-script FILE.py``). It must define

- ``model()``: a ``torch.nn.Module`` with its weights loaded;
- ``data()``: the training data as ``(X, y)`` tensors or a DataLoader, or
  ``(train, validation)`` with each of those, or ``{"train": ..., "val": ...}``;
- optionally ``loss(outputs, targets)``: the objective (default cross-entropy).

Everything that can go wrong in it (a syntax error, an exception, a wrong return
type, a file that never finishes) becomes a :class:`ModelFileError` with a
message a person can act on and, where there is one, the traceback.
"""

from __future__ import annotations

import os
import runpy
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

TORCH_HINT = ("PyTorch models need the optional extra: pip install 'lossviewer[torch]' "
              "(or pip install torch)")
#: how long a model file may take to load in headless runs (seconds)
DEFAULT_TIMEOUT_S = 120.0


class ModelFileError(Exception):
    """What is wrong with a model file; ``details`` holds the traceback, if any."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True, eq=False)
class ModelFile:
    """A loaded model file: the module, its data as lists of batches, the loss."""

    path: str
    module: Any
    train: list[tuple[Any, Any]]
    val: list[tuple[Any, Any]] | None
    loss: Callable[[Any, Any], Any]
    custom_loss: bool

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def describe(self) -> str:
        n = sum(int(x.shape[0]) for x, _ in self.train)
        nv = sum(int(x.shape[0]) for x, _ in self.val) if self.val else 0
        params = sum(p.numel() for p in self.module.parameters())
        val = f" / {nv:,} validation" if self.val else ", no validation set"
        return (f"{self.name}: {type(self.module).__name__} with {params:,} parameters, "
                f"{n:,} training samples{val}")


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise TimeoutError after ``seconds`` (main thread on POSIX only; else no limit)."""
    usable = (seconds is not None and hasattr(signal, "SIGALRM")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expire(_sig: int, _frame: Any) -> None:
        raise TimeoutError(f"did not finish within {seconds:g} s")

    import time

    old = signal.signal(signal.SIGALRM, expire)
    started = time.monotonic()
    previous, _interval = signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, old)
        if previous > 0:  # someone else's timer (a test harness'): give back what is left
            left = previous - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))


def _user_frames(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _call(ns: dict[str, Any], name: str, path: str, *args: Any) -> Any:
    fn = ns.get(name)
    if not callable(fn):
        raise ModelFileError(f"{os.path.basename(path)} does not define {name}()")
    try:
        return fn(*args)
    except TimeoutError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure in user code is reported
        raise ModelFileError(f"{name}() in {os.path.basename(path)} raised "
                             f"{type(exc).__name__}: {exc}", _user_frames(exc)) from None


def _batches(value: Any, what: str, torch: Any) -> list[tuple[Any, Any]]:
    """(X, y) tensors or an iterable of (X, y) batches, as a list of tensor pairs."""
    if isinstance(value, tuple | list) and len(value) == 2 and all(
            isinstance(v, torch.Tensor) for v in value):
        X, y = value
        if X.shape[0] != y.shape[0]:
            raise ModelFileError(f"{what}: {X.shape[0]} inputs but {y.shape[0]} targets")
        return [(X, y)]
    if isinstance(value, torch.utils.data.DataLoader) or hasattr(value, "__iter__"):
        out = []
        for item in value:
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise ModelFileError(f"{what}: batches must be (inputs, targets) pairs")
            out.append((torch.as_tensor(item[0]), torch.as_tensor(item[1])))
        if not out:
            raise ModelFileError(f"{what}: no batches")
        return out
    raise ModelFileError(f"{what} must be (X, y) tensors or a DataLoader, got "
                         f"{type(value).__name__}")


def _split_data(value: Any, torch: Any) -> tuple[list, list | None]:
    if isinstance(value, dict):
        if "train" not in value:
            raise ModelFileError("data() returned a dict without a 'train' entry")
        val = value.get("val", value.get("validation"))
        return (_batches(value["train"], "data()['train']", torch),
                None if val is None else _batches(val, "data()['val']", torch))
    if isinstance(value, tuple | list) and len(value) == 2 and not all(
            isinstance(v, torch.Tensor) for v in value):
        return _batches(value[0], "data()[0]", torch), _batches(value[1], "data()[1]", torch)
    return _batches(value, "data()", torch), None


def load_model_file(path: str, timeout: float | None = None) -> ModelFile:
    """Run a model file and check what it returns (ModelFileError on any problem)."""
    try:
        import torch
    except ImportError:
        raise ModelFileError(TORCH_HINT) from None
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"no such file: {path}")
    name = os.path.basename(path)
    try:
        with _time_limit(timeout):
            try:
                ns = runpy.run_path(path, run_name="lossviewer_model")
            except SyntaxError as exc:
                raise ModelFileError(f"{name} has a syntax error at line {exc.lineno}: "
                                     f"{exc.msg}", _user_frames(exc)) from None
            except TimeoutError:
                raise
            except Exception as exc:  # noqa: BLE001 - the file is user code
                raise ModelFileError(f"running {name} raised {type(exc).__name__}: {exc}",
                                     _user_frames(exc)) from None
            module = _call(ns, "model", path)
            if not isinstance(module, torch.nn.Module):
                raise ModelFileError(f"model() in {name} must return a torch.nn.Module, got "
                                     f"{type(module).__name__}")
            if not any(True for _ in module.parameters()):
                raise ModelFileError(f"the model from {name} has no parameters")
            train, val = _split_data(_call(ns, "data", path), torch)
            custom = callable(ns.get("loss"))
            loss = ns["loss"] if custom else torch.nn.functional.cross_entropy
    except TimeoutError as exc:
        raise ModelFileError(f"{name} {exc} (a model file must define model() and data() "
                             "and return quickly)") from None
    return ModelFile(path, module, train, val, loss, custom)
