"""A Dask distributed cluster to evaluate landscape grids on (the optional ``cluster`` extra).

:class:`ClusterConnection` either connects to a running scheduler
(``tcp://host:8786``: started with ``dask scheduler`` / ``dask worker`` on
several machines, or by a deployment such as dask-jobqueue) or starts a local
cluster of worker processes on this machine, and closes what it started.
Dask is imported only here and in :mod:`lossviewer.compute.cluster_grid`, and
only when a cluster is asked for, so the app starts and runs without it.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any

from lossviewer.core.threads import THREADS_ENV, usable_cpus

CLUSTER_HINT = ("cluster computing needs the optional extra: pip install "
                "'lossviewer[cluster]' (Dask distributed)")
#: the packaged app cannot take extras
FROZEN_HINT = ("the packaged LossViewer does not include Dask; for cluster computing install "
               "LossViewer with pip: pip install 'lossviewer[cluster]'")
#: seconds to wait for a scheduler to answer before giving up
CONNECT_TIMEOUT_S = 10.0
MAX_LOCAL_WORKERS = 64


class ClusterError(Exception):
    """A cluster that cannot be reached or used; the message says what to do."""


def cluster_available() -> bool:
    """Whether Dask distributed is installed (looked up, not imported: that takes ~0.5 s)."""
    import importlib.util

    try:
        return importlib.util.find_spec("distributed") is not None
    except (ImportError, ValueError):  # ValueError: a None placeholder in sys.modules
        return False


def cluster_hint() -> str:
    """What to install for cluster computing (the packaged app says how to get it)."""
    return FROZEN_HINT if getattr(sys, "frozen", False) else CLUSTER_HINT


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError(cluster_hint()) from None
    return distributed


def check_address(address: str) -> str:
    """A scheduler address as Dask expects it (``tcp://`` added when no protocol)."""
    text = str(address).strip()
    if not text:
        raise ClusterError("the scheduler address is empty (e.g. tcp://10.0.0.5:8786)")
    if any(c.isspace() for c in text):
        raise ClusterError(f"the scheduler address {text!r} contains spaces")
    if "://" not in text:
        text = "tcp://" + text
    rest = text.split("://", 1)[1]
    if not rest or rest.startswith(":"):
        raise ClusterError(f"the scheduler address {address!r} names no host "
                           "(e.g. tcp://10.0.0.5:8786)")
    return text


def check_workers(n: int) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_LOCAL_WORKERS:
        raise ClusterError(f"a local cluster has 1 to {MAX_LOCAL_WORKERS} worker processes, "
                           f"got {n!r}")
    return n


@dataclass(frozen=True)
class ClusterInfo:
    """What the cluster is, for a status line."""

    address: str
    workers: int
    threads: int
    dashboard: str
    local: bool

    def describe(self) -> str:
        where = "local cluster" if self.local else f"scheduler {self.address}"
        w = "worker" if self.workers == 1 else "workers"
        t = "thread" if self.threads == 1 else "threads"
        return f"{where}: {self.workers} {w}, {self.threads} {t}"


class ClusterConnection:
    """A Dask client, and the local cluster behind it when this process started one.

    Thread-safe in the way Dask's client is: a worker thread may submit tiles
    through it while the GUI thread asks for :meth:`info`.
    """

    def __init__(self, client: Any, cluster: Any = None) -> None:
        self.client = client
        self._cluster = cluster
        self._closed = False
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, address: str, timeout: float = CONNECT_TIMEOUT_S) -> ClusterConnection:
        """Connect to a running scheduler (ClusterError when it does not answer)."""
        address = check_address(address)
        distributed = _distributed()
        try:
            client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"no Dask scheduler answers at {address} within {timeout:g} s "
                               f"({type(exc).__name__}); start one with 'dask scheduler' "
                               "and check the address and firewall") from None
        except ValueError as exc:
            raise ClusterError(f"cannot connect to {address}: {exc}") from None
        return cls(client)

    @classmethod
    def start_local(cls, workers: int, threads_per_worker: int = 1, dashboard: bool = True,
                    numpy_threads: int | None = None) -> ClusterConnection:
        """Start ``workers`` worker processes on this machine (loopback only).

        Each evaluates with ``numpy_threads`` threads (default: the processes share
        the cores between them)."""
        workers = check_workers(workers)
        distributed = _distributed()
        per = numpy_threads or max(1, usable_cpus() // workers)
        env = {THREADS_ENV: str(per), "OMP_NUM_THREADS": str(per)}
        try:
            cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=threads_per_worker, processes=True,
                host="127.0.0.1", dashboard_address="127.0.0.1:0" if dashboard else None,
                env=env, silence_logs=40)  # errors only: a Dask warning is not ours to show
        except (OSError, RuntimeError, TimeoutError) as exc:
            raise ClusterError(f"could not start a local cluster of {workers} workers: "
                               f"{exc}") from None
        try:
            client = distributed.Client(cluster, set_as_default=False)
        except Exception:
            cluster.close()
            raise
        return cls(client, cluster)

    @property
    def local(self) -> bool:
        return self._cluster is not None

    @property
    def closed(self) -> bool:
        return self._closed

    def info(self) -> ClusterInfo:
        try:
            sched = self.client.scheduler_info(n_workers=-1)
        except TypeError:  # older distributed: no n_workers argument
            sched = self.client.scheduler_info()
        except Exception as exc:  # noqa: BLE001 - a lost scheduler is reported, not raised
            raise ClusterError(f"the scheduler does not answer ({type(exc).__name__})") from None
        workers = sched.get("workers", {})
        threads = sum(int(w.get("nthreads", 0)) for w in workers.values())
        return ClusterInfo(str(sched.get("address", "")), len(workers), threads,
                           self.dashboard_link(), self.local)

    def dashboard_link(self) -> str:
        """The Dask dashboard's URL ("" when the scheduler serves none)."""
        try:
            services = self.client.scheduler_info().get("services", {})
        except Exception:  # noqa: BLE001
            return ""
        if "dashboard" not in services:
            return ""
        try:
            return str(self.client.dashboard_link)
        except Exception:  # noqa: BLE001
            return ""

    def wait_for_workers(self, n: int = 1, timeout: float = 30.0) -> None:
        try:
            self.client.wait_for_workers(n, timeout=timeout)
        except (TimeoutError, OSError) as exc:
            raise ClusterError(f"no worker joined the scheduler within {timeout:g} s "
                               f"({type(exc).__name__}); start workers with "
                               "'dask worker SCHEDULER_ADDRESS'") from None

    def close(self) -> None:
        """Close the client, and the local cluster if this process started it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()

    def lost(self) -> bool:
        """Whether the client has lost its scheduler (it is reconnecting or closed)."""
        return self._closed or self.client.status not in ("running", "newly-created")

    def __enter__(self) -> ClusterConnection:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


def local_worker_default() -> int:
    """Worker processes a local cluster gets by default: one per core (at least 2)."""
    return max(2, min(usable_cpus(), MAX_LOCAL_WORKERS))

