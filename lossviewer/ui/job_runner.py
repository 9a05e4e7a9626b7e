"""JobRunner: runs one kind of compute job on a worker thread, latest request wins.

A job is a Qt-free generator (lossviewer.compute). The runner drives it on a
QThreadPool thread, checks for cancellation between its yields, closes it on
the worker thread, and forwards progress and partial results as queued signals
at a rate the GUI can take. Each submit bumps a generation id; anything an older
job emits afterwards (queued signals still arrive after a cancel) is dropped
here, so the rest of the UI only ever sees results of the newest request.

Why not superqt's GeneratorWorker: importing superqt.utils imports all of
superqt (100 ms of a 1.5 s start-up budget, measured), it emits a queued signal
for every yield (a flood that starves the GUI's timers), and it swallows a
RuntimeError raised by the job.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from lossviewer.compute.jobs import Partial, Progress

#: the most often a job's progress reaches the GUI thread
FORWARD_INTERVAL_S = 0.05


class _Signals(QObject):
    # (generation, value); emitted from the worker, delivered queued on the GUI thread
    yielded = Signal(int, object)
    returned = Signal(int, object)
    errored = Signal(int, str)


class _Job(QRunnable):
    def __init__(self, job: Callable[[Any], Generator], request: Any, generation: int,
                 signals: _Signals) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._job, self._request, self._gen = job, request, generation
        self._signals = signals
        self.cancelled = threading.Event()

    def run(self) -> None:
        sig, gen = self._signals, self._gen
        try:
            it = self._job(self._request)
            last = time.perf_counter()
            try:
                while not self.cancelled.is_set():
                    try:
                        value = next(it)
                    except StopIteration as stop:
                        sig.returned.emit(gen, stop.value)
                        return
                    now = time.perf_counter()
                    if isinstance(value, Partial) or now - last >= FORWARD_INTERVAL_S:
                        last = now
                        sig.yielded.emit(gen, value)
            finally:
                it.close()  # on this thread: the job's `finally`/context managers run here
        except Exception as exc:  # noqa: BLE001 - reported to the user, never silent
            sig.errored.emit(gen, f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")


class JobRunner(QObject):
    """One runner per kind of job (surface, paths, ...)."""

    #: (fraction 0..1, text), at most once per PROGRESS_INTERVAL_S
    progress = Signal(float, str)
    #: a Partial's value, in order
    partial = Signal(object)
    #: the job's return value
    finished = Signal(object)
    #: a message for the user (first line) with the traceback after a blank line
    failed = Signal(str)
    #: True while a job of this runner is running
    busy_changed = Signal(bool)

    #: each progress repaint recomposes the window (30-100 ms on a software GL
    #: renderer), so the UI hears of progress at most 5 times a second
    PROGRESS_INTERVAL_S = 0.2
    #: every live runner, so shutdown can cancel them all
    _instances: list[JobRunner] = []

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.generation = 0
        self._job: _Job | None = None
        self._busy = False
        self._last_progress = 0.0
        # the signals object lives on the GUI thread: its queued deliveries run here
        self._signals = _Signals(self)
        self._signals.yielded.connect(self._on_yielded)
        self._signals.returned.connect(self._on_returned)
        self._signals.errored.connect(self._on_errored)
        JobRunner._instances.append(self)
        self.destroyed.connect(self._forget)

    def _forget(self, *_args: Any) -> None:
        if self in JobRunner._instances:
            JobRunner._instances.remove(self)

    @property
    def busy(self) -> bool:
        return self._busy

    def submit(self, job: Callable[[Any], Generator], request: Any) -> int:
        """Cancel whatever runs and start ``job(request)``; returns its generation."""
        self.cancel(emit=False)
        self.generation += 1
        self._job = _Job(job, request, self.generation, self._signals)
        self._set_busy(True)
        QThreadPool.globalInstance().start(self._job)
        return self.generation

    def cancel(self, emit: bool = True) -> None:
        """Stop the running job at its next yield; its late signals are dropped."""
        if self._job is not None:
            self._job.cancelled.set()
            self._job = None
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
        self._job = None
        self._set_busy(False)
        self.finished.emit(value)

    def _on_errored(self, gen: int, message: str) -> None:
        if gen != self.generation:
            return
        self._job = None
        self._set_busy(False)
        self.failed.emit(message)

    @classmethod
    def shutdown(cls, timeout_ms: int = 900) -> bool:
        """Cancel every runner and wait for the pool; True if all threads ended."""
        for runner in list(cls._instances):
            try:
                runner.cancel(emit=False)
            except RuntimeError:  # its C++ side is already gone
                pass
        return QThreadPool.globalInstance().waitForDone(timeout_ms)
