"""A real ``dask scheduler`` and ``dask worker`` as separate processes, for tests that
take the scheduler away mid-run (as when its machine goes down)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def scheduler_and_worker() -> Iterator[tuple[str, subprocess.Popen]]:
    """(address, scheduler process); both processes are killed on leaving."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    sched = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                              "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                               "--nthreads", "1", "--no-dashboard"], **quiet)
    try:
        yield address, sched
    finally:
        for p in (sched, worker):
            p.kill()
            p.wait(timeout=30)
