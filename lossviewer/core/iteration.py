"""Running the step-by-step generators of core and compute to their end."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

R = TypeVar("R")


def run_to_end(gen: Generator[Any, Any, R]) -> R:
    """Exhaust a generator and return its return value (what ``yield from`` gives)."""
    while True:
        try:
            next(gen)
        except StopIteration as done:
            return done.value
