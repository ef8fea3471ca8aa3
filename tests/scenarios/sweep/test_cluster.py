"""The runner's local cluster and task sizing: the workers' environment (one numeric thread, glibc's adaptive malloc
thresholds), tasks sized on the warm time per point (a fake clock, no timing), and the in-memory map."""

from __future__ import annotations

import functools
import itertools
import os
import resource
import subprocess
import sys
from collections import deque
from pathlib import Path

import numpy as np
import psutil
import pytest
import zarr

from scenarios.sweep.cluster import DASK_CONFIG, WORKER_ENV, ClusterMap, batch_size, connect
from scenarios.sweep.design import Design, point_seeds
from scenarios.sweep.runner import Plan, _import_job, _Run, run_points, warm_point_seconds
from simlab.errors import DataError
from tests.scenarios.sweep.conftest import JOB

TEMPORARY_BYTES = 1_600_000  # a numpy temporary above glibc's initial 128 KiB mmap threshold


def _worker_state(dask_worker) -> dict:
    """The worker's environment, numba's thread count, the page faults of a loop of large numpy temporaries, and its
    background callbacks (name: period in ms)."""
    import numba

    values = np.random.default_rng(0).random(TEMPORARY_BYTES // 8)
    for _ in range(5):  # settle the heap
        values = np.sqrt(values * 1.0001 + 0.1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        values = np.sqrt(values * 1.0001 + 0.1)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    return {"env": {name: os.environ.get(name) for name in WORKER_ENV}, "numba": numba.config.NUMBA_NUM_THREADS,
            "faults_per_loop": faults / 50, "callbacks": _periods(dask_worker)} | _start_state(dask_worker)  # fmt: skip


def _start_state(dask_worker) -> dict:
    """The worker's preloads, whether its quick exit waits for its close, and what it has imported."""
    from scenarios.sweep import worker

    return {"preloads": [preload.name for preload in dask_worker.preloads], "watchers": len(worker._WATCHERS),
            "pid": os.getpid(), **{name: name in sys.modules for name in ("dask.array", "scipy.stats")}}  # fmt: skip


def _periods(server) -> dict[str, float]:
    return {name: callback.callback_time for name, callback in server.periodic_callbacks.items()}


def _scheduler_periods(dask_scheduler) -> dict[str, float]:
    return _periods(dask_scheduler)


def _assert_quiet(periods: dict[str, float]) -> None:
    """The profiler is off (no ``profile`` callback sampling the job every 10 ms), the loop's health check runs every
    second (Dask: 20 ms), the system monitor every 5 s (Dask: 500 ms)."""
    assert "profile" not in periods and "profile-cycle" not in periods, periods
    assert periods["tick"] == 1000 and periods["monitor"] == 5000, periods


def test_the_local_workers_carry_the_numeric_environment_and_the_quiet_config(monkeypatch):
    """One thread per numeric library and glibc's malloc thresholds fixed high (Dask's default trim threshold of
    64 KiB leaves the mmap threshold at 128 KiB): a loop of 1.6 MB temporaries then reuses freed memory instead of
    mapping and faulting in ~390 fresh pages per temporary (~786 faults a step measured with Dask's default). The
    workers, the nanny and the scheduler run with ``DASK_CONFIG`` (no profiler, slower background polls)."""
    for name in WORKER_ENV:  # what the client's environment holds wins over the cluster's settings (Dask's rule)
        monkeypatch.delenv(name, raising=False)
    with connect(1, None) as (client, n):
        states = list(client.run(_worker_state).values())
        _assert_quiet(client.run_on_scheduler(_scheduler_periods))
        nannies = client.cluster.workers.values()
        memory_polls = [nanny.memory_manager.memory_monitor_interval for nanny in nannies]
        client.run(_import_job, "scenarios.amm.sweep:design_job")
        imported = list(client.run(_start_state).values())
    assert n == 1 and len(states) == 1 and memory_polls == [1.0]  # each nanny's memory poll: 1 s (Dask: 100 ms)
    # the worker's quick exit waits for its close; the job's import brings dask.array (xarray's first variable
    # imports it) and not scipy.stats (~1 s of CPU a worker, which neither the runner nor the AMM job needs)
    assert states[0]["preloads"] == ["scenarios.sweep.worker"] and states[0]["watchers"] == 1
    assert not states[0]["dask.array"] and imported[0]["dask.array"] and not imported[0]["scipy.stats"]
    assert not psutil.pid_exists(states[0]["pid"])  # the worker process has exited once the cluster closed
    assert DASK_CONFIG["distributed.worker.profile.enabled"] is False
    assert "NUMBA_NUM_THREADS" not in os.environ  # this process's numba keeps its threads (and can still compile)
    expected = dict(WORKER_ENV)
    for state in states:
        assert state["env"] == expected and expected["MALLOC_TRIM_THRESHOLD_"] == str(64 << 20)
        assert state["numba"] == 1
        _assert_quiet(state["callbacks"])
        assert state["faults_per_loop"] < TEMPORARY_BYTES / 4096, state


def test_a_closed_worker_exits_without_the_interpreters_teardown(tmp_path):
    """``exit_now``, registered last, runs first at exit: the streams are flushed, the status is 0, and the teardown
    registered before it (here a marker file; in a worker, clearing every module) does not run."""
    script = (
        "import atexit, sys\n"
        "from scenarios.sweep.worker import exit_now\n"
        "atexit.register(lambda: open(sys.argv[1], 'w').write('teardown'))\n"
        "atexit.register(exit_now)\n"
        "print('flushed', end='')\n"
    )
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "marker")], capture_output=True, text=True,
                          env=env, cwd=root, timeout=120)  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "flushed") and not (tmp_path / "marker").exists(), done.stderr


class FakeClock:
    """A clock that moves only between a point's start and end readings, by the next of ``costs`` (s)."""

    def __init__(self, costs: list[float]) -> None:
        self.now, self.readings, self.costs = 0.0, 0, iter(costs)

    def __call__(self) -> float:
        self.readings += 1
        if self.readings % 2 == 0:
            self.now += next(self.costs)
        return self.now


class FakeFuture:
    def __init__(self, value) -> None:
        self.value = value

    def result(self):
        return self.value

    def release(self) -> None:
        pass


class FakeClient:
    """Runs a submitted task at once, in process, timing its points with a clock per task: the first tasks'
    points cost ``costs_per_task``, every later point ``then`` (s)."""

    def __init__(self, costs_per_task: list[list[float]], then: float) -> None:
        self.costs, self.then = iter(costs_per_task), then

    def submit(self, function, *args, **options):
        return FakeFuture(function(*args, clock=FakeClock(next(self.costs, itertools.repeat(self.then)))))


class FakeCompleted:
    """``as_completed`` over futures that are done when submitted: each batch is the oldest one."""

    def __init__(self) -> None:
        self.futures: deque = deque()

    def add(self, future) -> None:
        self.futures.append(future)

    def batches(self):
        while self.futures:
            yield [self.futures.popleft()]


def _plan(n: int, task_seconds: float = 1.0) -> Plan:
    design = Design(("x",), {"x": np.arange(n)}, {}, [{"x": i} for i in range(n)])
    return Plan(name="sized", job=JOB, design=design, seeds=point_seeds(0, n), fixed={"y": "a"}, paths=2,
                metrics=None, retries=0, allowed_failures=3, task_seconds=task_seconds, seed=0,
                config="sizing test")  # fmt: skip


def test_tasks_are_sized_on_the_warm_time_per_point(tmp_path):
    """Each worker's first point costs 10 s (compiling), the next 0.25 s or 0.5 s, every later point 0.4 s: the
    tasks after the first pilot task carry 4 points (1 s at 0.25 s; the cold 10 s would have given 1), those after
    the second 2, then 3 (0.4 s), and an equal share of what is left per worker near the end."""
    plan = _plan(40)
    run = _Run(plan, FakeClient([[10.0, 0.25], [10.0, 0.5]], then=0.4), tmp_path / "s.zarr", None,
               np.zeros(40, np.int8), False)  # fmt: skip
    sizes = run.stream(list(range(40)), n_workers=2, completed=FakeCompleted())
    assert run.pilot_tasks == 2 and run.pilot_point_s == pytest.approx(0.25)
    assert sizes == [4, 4, 4, 2, 3, 3, 3, 3, 3, 3, 2, 1, 1] and sum(sizes) == 36
    assert batch_size(plan.task_seconds, 10.0, 36, 2) == 1
    assert (tmp_path / "s.zarr").is_dir() and int((run.statuses == 1).sum()) == 40


def test_points_wait_in_memory_until_written_and_count_done_only_once_on_disk(tmp_path):
    """The store's first points are written at once; later ones wait in memory (not done: neither on disk nor in
    the run's statuses, so the counts never run ahead of the disk) until the flush interval passes or the run
    ends."""
    plan = _plan(8)
    run = _Run(plan, None, tmp_path / "s.zarr", None, np.zeros(8, np.int8), False)
    items = [(i, plan.design.points[i], plan.seeds[i]) for i in range(8)]
    outcomes = run_points(JOB, plan.fixed, items, plan.paths, None, 0)

    def on_disk() -> list[int]:
        return [int(s) for s in zarr.open_group(tmp_path / "s.zarr", mode="r")["status"][...]]

    run.receive(outcomes[:2])  # the first success: the store is created with these points
    assert on_disk() == [1, 1] + [0] * 6 and run.writes == 1
    run.flush_s = float("inf")
    run.receive(outcomes[2:6])
    assert on_disk() == [1, 1] + [0] * 6 and list(run.statuses) == on_disk() and len(run.buffer) == 4
    run.flush_s = 0.0
    run.receive(outcomes[6:])  # the interval has passed: everything received is written in one write
    assert on_disk() == [1] * 8 and list(run.statuses) == on_disk() and run.writes == 2 and not run.buffer
    attrs = zarr.open_group(tmp_path / "s.zarr", mode="r").attrs
    assert attrs["pending"] == 8 - attrs["done"] and attrs["done"] <= 8  # the counts lag the disk, never lead it
    assert run.store.update_counts(run.statuses) == {"done": 8, "failed": 0, "pending": 0}
    # a chunk write a killed sweep left unfinished (zarr's temporary file) is removed on --resume, nothing else
    leftover = tmp_path / "s.zarr" / "status" / "c" / f"0.{'ab' * 16}.partial"
    leftover.write_bytes(b"half a chunk")
    before = sorted(p for p in (tmp_path / "s.zarr").rglob("*") if p != leftover)
    assert run.store.discard_partial_writes() == [leftover]
    assert sorted((tmp_path / "s.zarr").rglob("*")) == before


def test_run_points_times_each_point_with_the_clock_and_the_sizes_follow():
    items = [(i, {"x": i}, seed) for i, seed in enumerate(point_seeds(3, 4))]
    outcomes = run_points(JOB, {"y": "b"}, items, 3, None, 0, clock=FakeClock([4.0, 0.1, 0.1, 0.1]))
    assert [o[1] for o in outcomes] == ["done"] * 4
    assert [o[3] for o in outcomes] == pytest.approx([4.0, 0.1, 0.1, 0.1])
    assert warm_point_seconds([outcomes]) == pytest.approx(0.1)
    assert warm_point_seconds([outcomes[:1]]) == pytest.approx(4.0)  # no second point: the first one's time
    assert batch_size(1.0, 0.1, 1000, 2) == 10 and batch_size(1.0, 0.1, 12, 2) == 6  # an equal share near the end
    assert batch_size(2.5, 0.1, 1000, 2) == 25 and batch_size(1.0, 0.0, 5, 2) == 3


def _square(x: int, offset: int = 0) -> int:
    if x < 0:
        raise DataError(f"x must be >= 0; got {x}")
    return x * x + offset


def test_the_cluster_map_keeps_the_order_and_raises_an_items_error(scheduler):
    with connect(None, scheduler) as (client, n):
        mapper = ClusterMap(client, n, task_seconds=1.0)
        assert mapper(functools.partial(_square, offset=1), range(7)) == [x * x + 1 for x in range(7)]
        first_tasks = mapper.tasks
        assert first_tasks == 7  # the first call: one item a task (its time is not known yet)
        assert mapper(_square, range(20)) == [x * x for x in range(20)]
        assert mapper.tasks - first_tasks == 2  # the next call of the same function: the time per item is known
        with pytest.raises(DataError, match="x must be >= 0; got -1"):
            mapper(_square, [1, -1, 2])
