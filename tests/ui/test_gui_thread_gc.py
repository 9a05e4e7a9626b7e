"""Reference cycles are collected on the GUI thread, never on a worker thread."""

from __future__ import annotations

import gc
import threading


class _Sentinel:
    finalized_on: list[str] = []

    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector frees it

    def __del__(self) -> None:
        _Sentinel.finalized_on.append(threading.current_thread().name)


def test_cycles_are_collected_on_the_gui_thread_only(qapp, qtbot):
    assert not gc.isenabled()  # create_application switched automatic collection off
    _Sentinel.finalized_on.clear()
    _Sentinel()  # garbage now, in a cycle

    def allocate() -> None:  # a worker allocating plenty (what triggers a collection)
        junk = []
        for _ in range(50_000):
            a: list = []
            a.append(a)
            junk.append(a)
        junk.clear()

    worker = threading.Thread(target=allocate, name="worker")
    worker.start()
    worker.join()
    assert _Sentinel.finalized_on == []  # the worker did not collect it
    qtbot.waitUntil(lambda: bool(_Sentinel.finalized_on), timeout=5_000)
    assert _Sentinel.finalized_on == [threading.main_thread().name]
