"""How many worker threads a batched numpy computation may use.

numpy releases the GIL inside its loops and BLAS calls, so splitting a batch
over a few threads uses the machine's cores; more than a handful only adds
contention with BLAS's own threads.
"""

from __future__ import annotations

import os

#: at most this many threads per computation
MAX_WORKERS = 4


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


#: environment variable that caps the threads (a cluster worker sets it so that its
#: processes share the machine's cores instead of each taking all of them)
THREADS_ENV = "LOSSVIEWER_THREADS"


def worker_count() -> int:
    n = min(MAX_WORKERS, usable_cpus())
    cap = os.environ.get(THREADS_ENV, "")
    if cap.isdigit() and int(cap) > 0:
        n = min(n, int(cap))
    return n
