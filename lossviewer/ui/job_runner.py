"""JobRunner: runs one kind of compute job on a worker thread, latest request wins.

A job is a Qt-free generator (lossviewer.compute). The runner drives it on a
plain Python thread, checks for cancellation between its yields and closes it
on that thread. The worker never touches Qt: it puts what it has to say into a
queue, and the runner drains the queue on the GUI thread from a timer while a
job runs. (Cross-thread Qt signals carrying Python objects are where PySide
has deadlocked on the GIL; a queue cannot.) Each submit bumps a generation id
and anything an older job said afterwards is dropped, so the rest of the UI
only ever sees results of the newest request.

Why not superqt's GeneratorWorker: importing superqt.utils imports all of
superqt (100 ms of a 1.5 s start-up budget, measured), it emits a queued signal
for every yield (a flood that starves the GUI's timers), and it swallows a
RuntimeError raised by the job.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from lossviewer.compute.jobs import Partial, Progress

#: the most often a job's progress is passed to the GUI thread
FORWARD_INTERVAL_S = 0.05
#: how often the GUI thread looks for news from a running job
POLL_INTERVAL_MS = 15

_YIELDED, _RETURNED, _ERRORED = "yielded", "returned", "errored"


class _Job:
    """One run of a job generator on its own thread; talks only through ``outbox``."""

    def __init__(self, job: Callable[[Any], Generator], request: Any, generation: int,
                 outbox: queue.SimpleQueue, name: str) -> None:
        self._job, self._request, self.generation = job, request, generation
        self._outbox = outbox
        self.cancelled = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"lossviewer-{name}",
                                       daemon=False)

    def _run(self) -> None:
        put, gen = self._outbox.put, self.generation
        try:
            it = self._job(self._request)
            last = time.perf_counter()
            try:
                while not self.cancelled.is_set():
                    try:
                        value = next(it)
                    except StopIteration as stop:
                        put((gen, _RETURNED, stop.value))
                        return
                    now = time.perf_counter()
                    if isinstance(value, Partial) or now - last >= FORWARD_INTERVAL_S:
                        last = now
                        put((gen, _YIELDED, value))
            finally:
                it.close()  # on this thread: the job's `finally`/context managers run here
        except Exception as exc:  # noqa: BLE001 - reported to the user, never silent
            put((gen, _ERRORED, f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}"))


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
        self._threads: list[threading.Thread] = []
        self._busy = False
        self._last_progress = 0.0
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_INTERVAL_MS)
        self._poll.timeout.connect(self._drain)
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
        self._job = _Job(job, request, self.generation, self._outbox, self.name)
        self._threads = [t for t in self._threads if t.is_alive()] + [self._job.thread]
        self._set_busy(True)
        self._job.thread.start()
        self._poll.start()
        return self.generation

    def cancel(self, emit: bool = True) -> None:
        """Stop the running job at its next yield; what it still says is dropped."""
        if self._job is not None:
            self._job.cancelled.set()
            self._job = None
            self.generation += 1
        if emit:
            self._set_busy(False)

    def _drain(self) -> None:
        """On the GUI thread: hand on what the newest job said; drop the rest."""
        progress = None
        while True:
            try:
                gen, kind, value = self._outbox.get_nowait()
            except queue.Empty:
                break
            if gen != self.generation:
                continue
            if kind == _YIELDED and isinstance(value, Progress):
                progress = value  # only the newest counts
            elif kind == _YIELDED:
                self._on_yielded(value)
            elif kind == _RETURNED:
                self._on_returned(value)
            else:
                self._on_errored(value)
        if progress is not None and self._job is not None:
            self._on_yielded(progress)
        if self._job is None and not any(t.is_alive() for t in self._threads):
            self._poll.stop()

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    def _on_yielded(self, value: Any) -> None:
        if isinstance(value, Partial):
            self.partial.emit(value.value)
        elif isinstance(value, Progress):
            now = time.perf_counter()
            if now - self._last_progress >= self.PROGRESS_INTERVAL_S:
                self._last_progress = now
                self.progress.emit(value.fraction, value.text)

    def _on_returned(self, value: Any) -> None:
        self._job = None
        self._set_busy(False)
        self.finished.emit(value)

    def _on_errored(self, message: str) -> None:
        self._job = None
        self._set_busy(False)
        self.failed.emit(message)

    @classmethod
    def shutdown(cls, timeout_ms: int = 900) -> bool:
        """Cancel every runner and wait for their threads; True if all ended in time."""
        threads = []
        for runner in list(cls._instances):
            try:
                runner.cancel(emit=False)
                runner._poll.stop()
            except RuntimeError:  # its C++ side is already gone
                pass
            threads += runner._threads
        deadline = time.perf_counter() + timeout_ms / 1000
        for t in threads:
            t.join(max(0.0, deadline - time.perf_counter()))
        return not any(t.is_alive() for t in threads)
