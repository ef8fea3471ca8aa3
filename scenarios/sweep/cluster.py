"""Where a sweep runs: a local cluster of worker processes set up for numeric jobs, or any Dask scheduler; and a
``map`` over it for callers that want results in memory (the agent-market calibration, the forecast grid).

The local cluster's workers get an explicit environment (:data:`WORKER_ENV`): the C libraries' variables set before
each worker process is spawned (``distributed.nanny.pre-spawn-environ``, read at the process's start; the nanny also
writes them into the client's environment, as Dask does with its own defaults), ``NUMBA_NUM_THREADS`` in the worker
only (the nanny's ``env``: in the client it would make numba refuse to compile once its threads run):

- one thread per numeric library (``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS`` = 1): the worker processes are the parallelism, and a worker's threads would only fight
  the other workers for the cores;
- glibc's malloc thresholds fixed: ``MALLOC_MMAP_THRESHOLD_`` = 32 MiB (allocations below it come from the heap
  and are reused) and ``MALLOC_TRIM_THRESHOLD_`` = 64 MiB (freed memory at the top of the heap is returned to the
  system only beyond it). Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_`` to 64 KiB by default, which turns glibc's
  adaptive thresholds off and leaves the mmap threshold at 128 KiB, so every numpy temporary above 128 KiB is
  mmap'ed, page-faulted in and unmapped again; and glibc's adaptive defaults (the variable unset) depend on the
  process's history (measured: 0 to 37,500 page faults a point in the same worker set-up). Measured on the
  benchmark's allocating job (100 steps, a 1.6 MB temporary each): a worker with Dask's setting 179-193 ms of CPU
  a point, 132-142 ms of it in the kernel, 78,600 page faults; with these settings 29-34 ms, 0 faults after the
  first point (``docs/sweeps.md``). The cost: a worker keeps up to 64 MiB of freed memory instead of returning it.

A variable already set in the client's environment wins over these (Dask's rule), so that a user can still choose.

The local cluster also runs with :data:`DASK_CONFIG`, Dask settings that cut the background CPU of every server
(scheduler, nannies, workers): on a 2-core machine the process holding the client, the scheduler and the nannies
shares the cores with the workers, so every periodic callback is taken from the jobs (``docs/sweeps.md``).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from simlab.errors import ParameterError

WORKER_ENV: dict[str, str] = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),  # glibc's largest allowed value; Dask's default leaves it at 128 KiB
    "MALLOC_TRIM_THRESHOLD_": str(64 << 20),  # Dask's default: 64 KiB
}
IN_WORKER_ONLY = ("NUMBA_NUM_THREADS",)
WORKER_PRELOAD = "scenarios.sweep.worker"
DASK_CONFIG: dict[str, Any] = {
    # the statistical profiler: every 10 ms, each worker's event loop grabs the GIL to walk the running job's stack
    "distributed.worker.profile.enabled": False,
    # the event-loop health check: 20 ms wakes every server's loop 50 times a second (it only warns of a blocked loop)
    "distributed.admin.tick.interval": "1s",
    # psutil's CPU, memory, network and disk counters of every server: 500 ms (they feed the dashboard)
    "distributed.admin.system-monitor.interval": "5s",
    # each nanny's poll of its worker's memory (to pause, spill or restart it near the limits): 100 ms
    "distributed.worker.memory.monitor-interval": "1s",
}


def batch_size(task_seconds: float, point_s: float, remaining: int, n_workers: int) -> int:
    """Return the points of the next task: enough for ``task_seconds`` of work at ``point_s`` seconds a point, at
    most an equal share of the ``remaining`` points per worker (so every worker has work near the end), at least 1."""
    size = math.ceil(task_seconds / max(point_s, 1e-9))
    return max(1, min(size, math.ceil(remaining / max(n_workers, 1))))


@contextmanager
def local_cluster(n_workers: int, **options: Any) -> Iterator[Any]:
    """Start a ``LocalCluster`` of ``n_workers`` single-threaded worker processes with :data:`WORKER_ENV` and
    :data:`DASK_CONFIG` (the scheduler reads it when created, each nanny passes it to the worker it spawns and
    respawns)."""
    import dask
    from distributed import LocalCluster

    pre_spawn = {f"distributed.nanny.pre-spawn-environ.{name}": value for name, value in WORKER_ENV.items()
                 if name not in IN_WORKER_ONLY}  # fmt: skip
    settings = {
        "n_workers": n_workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": ":0",
        "silence_logs": logging.ERROR,
        "env": {name: WORKER_ENV[name] for name in IN_WORKER_ONLY},
        "preload": [WORKER_PRELOAD],  # each worker process exits without the interpreter's teardown once closed
    }
    settings |= options
    with dask.config.set(pre_spawn | DASK_CONFIG):  # read when the servers are created; each nanny keeps a copy
        cluster = LocalCluster(**settings)
    with cluster:
        yield cluster


@contextmanager
def connect(workers: int | None, scheduler: str | None, timeout_s: float = 10.0) -> Iterator[tuple[Any, int]]:
    """Yield a client and its number of workers: of the running scheduler at ``scheduler``, or of a local cluster
    of ``workers`` processes (default: one per core) started here and closed on exit."""
    from distributed import Client

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ParameterError(f"--scheduler {scheduler}: no Dask scheduler answered within {timeout_s:g} s "
                                 f"({sentence(exc)})") from None  # fmt: skip
        with client:
            try:
                client.wait_for_workers(1, timeout=timeout_s)
            except TimeoutError:
                raise ParameterError(f"--scheduler {scheduler}: the scheduler answered but had no worker within "
                                     f"{timeout_s:g} s") from None  # fmt: skip
            yield client, len(client.scheduler_info()["workers"])
        return
    n = (os.cpu_count() or 1) if workers is None else workers
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ParameterError(f"--workers must be an int >= 1; got {workers!r}")
    with local_cluster(n) as cluster, Client(cluster, set_as_default=False) as client:
        yield client, n


@contextmanager
def cluster_map(workers: int | None, scheduler: str | None, task_seconds: float = 1.0) -> Iterator[ClusterMap | None]:
    """Yield a :class:`ClusterMap` on a local cluster of ``workers`` processes or on the scheduler at
    ``scheduler``; ``None`` (run in this process) when neither is given; the two exclude each other."""
    if workers is not None and scheduler is not None:
        raise ParameterError(f"--workers and --scheduler exclude each other (a scheduler has its own workers); "
                             f"got --workers {workers} and --scheduler {scheduler}")  # fmt: skip
    if workers is None and scheduler is None:
        yield None
        return
    with connect(workers, scheduler) as (client, n):
        yield ClusterMap(client, n, task_seconds)


def sentence(exc: BaseException) -> str:
    """Return an exception as one line: ``Type: message``."""
    text = str(exc).strip().replace("\n", " ")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ClusterMap:
    """``map(function, items) -> list`` on a Dask cluster, in batches of about ``task_seconds`` of work.

    The results come back in the items' order, in memory (for small results: moments, scores). ``function`` must
    be picklable (a module-level function, or a ``functools.partial`` of one). The time per item measured on each
    call sizes the batches of the next call of the same function (the first call runs one item per task). An item
    that raises makes the call raise that exception (as the builtin ``map`` does), after every task has finished.

    Parameters
    ----------
    client
        A connected ``distributed.Client`` (see :func:`connect`).
    n_workers
        Workers to spread the items over.
    task_seconds
        Work per task (s).
    """

    def __init__(self, client: Any, n_workers: int, task_seconds: float = 1.0) -> None:
        self.client, self.n_workers, self.task_seconds = client, n_workers, task_seconds
        self.item_s: dict[str, float] = {}
        self.tasks = 0

    def __call__(self, function: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """Return ``[function(item) for item in items]``, computed on the cluster."""
        items = list(items)
        name = _name(function)
        size = batch_size(self.task_seconds, self.item_s.get(name, math.inf), len(items), self.n_workers)
        batches = [items[i : i + size] for i in range(0, len(items), size)]
        futures = [self.client.submit(apply_batch, function, batch, pure=False) for batch in batches]
        self.tasks += len(futures)
        try:
            done = [future.result() for future in futures]  # every task finishes before an item's error is raised
        finally:
            for future in futures:
                future.release()
        results = [r for batch, _ in done for r in batch]
        if items:
            self.item_s[name] = sum(seconds for _, seconds in done) / len(items)
        errors = [r for r in results if isinstance(r, _Raised)]
        if errors:
            raise errors[0].exc
        return results


class _Raised:
    """An item's exception, carried back to the caller."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def apply_batch(function: Callable[[Any], Any], batch: list[Any]) -> tuple[list[Any], float]:
    """Apply ``function`` to each item of a batch (in a worker); return the results and the seconds it took."""
    started = time.perf_counter()
    out: list[Any] = []
    for item in batch:
        try:
            out.append(function(item))
        except Exception as exc:  # raised in the caller once the whole call has finished
            out.append(_Raised(exc))
    return out, time.perf_counter() - started


def _name(function: Callable[..., Any]) -> str:
    inner = getattr(function, "func", function)  # a functools.partial is sized as its function
    return f"{getattr(inner, '__module__', '')}.{getattr(inner, '__qualname__', repr(inner))}"
