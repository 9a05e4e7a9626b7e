"""Test helper: start generator jobs on one thread and close them from another."""

from __future__ import annotations

import threading
from collections.abc import Generator


def start_then_close_elsewhere(gens: list[Generator], steps: int = 3) -> list[BaseException]:
    """Advance each job a few steps on one thread, close it on another (as a runner
    cancelling a job does); returns what closing raised (nothing, if all is well)."""
    errors: list[BaseException] = []

    def start() -> None:
        for g in gens:
            for _ in range(steps):
                next(g)

    def close() -> None:
        for g in gens:
            try:
                g.close()
            except Exception as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)

    for target in (start, close):
        t = threading.Thread(target=target)
        t.start()
        t.join()
    return errors
