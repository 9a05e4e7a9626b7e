"""JobRunner: runs one kind of compute job on a worker thread, latest request wins.

Built on superqt's GeneratorWorker (a QRunnable in the global QThreadPool).
Each submit bumps a generation id; anything an older job emits afterwards
(already-queued signals arrive even after a cancel) is dropped here, so the
rest of the UI only ever sees results of the newest request.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal
from superqt.utils import GeneratorWorker

from lossviewer.compute.jobs import Partial, Progress


class JobFailed(Exception):
    """A job raised; carries a message for the user and the traceback for the log."""


def _guarded(job: Callable[[Any], Generator], request: Any) -> Generator:
    # superqt treats a RuntimeError escaping the generator as "worker deleted"
    # and swallows it; re-raise every error as JobFailed so the user hears of it.
    try:
        return (yield from job(request))
    except Exception as exc:  # noqa: BLE001 - reported to the user, never silent
        raise JobFailed(f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}") from exc


class JobRunner(QObject):
    """One runner per kind of job (surface, paths, ...)."""

    #: (fraction 0..1, text), at most once per PROGRESS_INTERVAL_S
    progress = Signal(float, str)
    #: a Partial's value, in order
    partial = Signal(object)
    #: the job's return value
    finished = Signal(object)
    #: a message for the user
    failed = Signal(str)
    #: True while a job of this runner is running
    busy_changed = Signal(bool)

    #: each progress repaint recomposes the window (30-100 ms on a software GL
    #: renderer), so the UI hears of progress at most 5 times a second
    PROGRESS_INTERVAL_S = 0.2
    #: every runner ever made, so shutdown can cancel them all
    _instances: list[JobRunner] = []

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.generation = 0
        self._worker: GeneratorWorker | None = None
        self._busy = False
        self._last_progress = 0.0
        JobRunner._instances.append(self)
        self.destroyed.connect(lambda *_: self._forget())

    def _forget(self) -> None:
        if self in JobRunner._instances:
            JobRunner._instances.remove(self)

    @property
    def busy(self) -> bool:
        return self._busy

    def submit(self, job: Callable[[Any], Generator], request: Any) -> int:
        """Cancel whatever runs and start ``job(request)``; returns its generation."""
        self.cancel(emit=False)
        self.generation += 1
        gen = self.generation
        worker = GeneratorWorker(_guarded, job, request)
        # connected here, on the GUI thread: the slots run on the GUI thread
        worker.yielded.connect(lambda value, g=gen: self._on_yielded(g, value))
        worker.returned.connect(lambda value, g=gen: self._on_returned(g, value))
        worker.errored.connect(lambda exc, g=gen: self._on_errored(g, exc))
        self._worker = worker
        self._set_busy(True)
        QThreadPool.globalInstance().start(worker)
        return gen

    def cancel(self, emit: bool = True) -> None:
        """Ask the running job to stop at its next yield; its late signals are dropped."""
        if self._worker is not None:
            self._worker.quit()
            self._worker = None
            self.generation += 1
        if emit:
            self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    def _on_yielded(self, gen: int, value: Any) -> None:
        if gen != self.generation:
            return
        if isinstance(value, Partial):
            self.partial.emit(value.value)
        elif isinstance(value, Progress):
            now = time.perf_counter()
            if value.text and now - self._last_progress >= self.PROGRESS_INTERVAL_S:
                self._last_progress = now
                self.progress.emit(value.fraction, value.text)

    def _on_returned(self, gen: int, value: Any) -> None:
        if gen != self.generation:
            return
        self._worker = None
        self._set_busy(False)
        self.finished.emit(value)

    def _on_errored(self, gen: int, exc: BaseException) -> None:
        if gen != self.generation:
            return
        self._worker = None
        self._set_busy(False)
        self.failed.emit(str(exc))

    @classmethod
    def shutdown(cls, timeout_ms: int = 900) -> bool:
        """Cancel every runner and wait for the pool; True if all threads ended."""
        for runner in list(cls._instances):
            try:
                runner.cancel(emit=False)
            except RuntimeError:  # its C++ side is already gone
                pass
        return QThreadPool.globalInstance().waitForDone(timeout_ms)
