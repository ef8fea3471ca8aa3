"""Benchmark: the Dask sweep runner against the same work done in process, in the same run.

Run by hand (not in CI): ``PYTHONPATH=. python tests/benchmarks/bench_sweep.py [--designs N] [--full] [--repeats R]
[--amm-repeats A] [--amm-only | --busy-only]``; it ends with a ``SUMMARY`` of the goals' numbers (each busy
measurement repeated ``--repeats`` times, default 3, the AMM sweep ``--amm-repeats`` times, default 1: the median
and range over the repeats). Everything the goals need, in one command on an idle machine:
``PYTHONPATH=. python tests/benchmarks/bench_sweep.py --full --repeats 3 --amm-repeats 2``.
Goals (issue 13):

1. scheduling overhead <= 5 % of wall time for tasks of about 1 s: a fixed CPU-bound job (``busy_job``, one
   thread, ~30 ms a point; once computing in place, once allocating a 1.6 MB numpy temporary a step) run by the
   runner on one worker in tasks of ~1 s, against the same points in a plain loop in this process;
2. speed-up from 1 to 2 workers >= 1.8x on the same sweep;
3. the 100-design x 1,000-path x 7,200-block AMM sweep through the runner (2 workers, market outer, tasks of ~5 s)
   at most 10 % slower than the current in-process run (``simulate_amm`` with numba on every core, then
   ``write_store``); ``--designs N`` scales the number of
   designs (default 10, ``--full`` 100), the registry's designs in turn, as in ``bench_amm.py``.

Times: ``run`` is from the connected client (every worker has imported the job) to the last point written (pilot
included), ``wall`` adds starting and closing the local cluster. CPU seconds are printed beside the wall times (the
machine may be shared, and CPU seconds do not depend on what else runs): the loop's ``process_time``, the job's own
CPU inside the workers (``busy_job`` returns its thread's CPU: a worker's event loop running meanwhile counts as the
runner's); over the run, the worker processes' CPU and this process's (the client, the scheduler and the nannies:
the coordinator), as the runner records them (``client_cpu_s``, ``workers_cpu_s``), each per second of the job's
CPU; and every worker process's CPU from start to exit
(``RUSAGE_CHILDREN`` of this process once the local cluster has closed and reaped them); with the load average
before and after. On 2 cores, two workers and the coordinator share the cores, so the runner lets 1 -> 2 workers
reach at most 2 x (the 2-worker run's job CPU) / (its workers' + coordinator's CPU) (printed as the runner's CPU
bound); beside it, the job's own CPU on 2 workers over 1 (two jobs at once contend for caches and memory bandwidth,
whatever runs them). The ratios are of numbers measured in this run, never typed in.
"""

from __future__ import annotations

import math
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import xarray as xr

BUSY_ITERATIONS = 100
BUSY_SIZE = 200_000
VOLATILITY = 0.001 / math.sqrt(12.0) * math.sqrt(365 * 86400.0)  # 10 bps per 12 s block


def busy_job(seed: np.random.SeedSequence, paths: int, *, x: int = 0, in_place: bool = False) -> xr.Dataset:
    """Spend a fixed amount of single-threaded CPU (~30 ms) and return one number per path and the CPU seconds the
    point took in its thread (``cpu_s``: a worker's other threads, its event loop, are not the job); ``in_place``
    computes without numpy temporaries (no 1.6 MB allocation a step), so that the allocator's settings do not change
    its cost."""
    started = time.thread_time()
    values = np.random.default_rng(seed).random(BUSY_SIZE)
    for _ in range(BUSY_ITERATIONS):
        if in_place:
            np.sqrt(np.add(np.multiply(values, 1.0001, out=values), 0.1, out=values), out=values)
        else:
            values = np.sqrt(values * 1.0001 + 0.1)
    return xr.Dataset({"level": ("path", values[:paths]), "cpu_s": ((), time.thread_time() - started)})


def children_cpu_s() -> float:
    """Return the CPU seconds (user + system) of this process's reaped child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load() -> str:
    """Return the 1-minute load average as text."""
    return f"{os.getloadavg()[0]:.2f}"


def job_cost(n_points: int = 50) -> dict[str, float]:
    """Run the allocating busy job ``n_points`` times (after one warm run); return its wall, CPU and system
    milliseconds and minor page faults per point, in this process."""
    seeds = np.random.SeedSequence(0).spawn(n_points + 1)
    busy_job(seeds[0], 4)
    before, wall, cpu = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter(), time.process_time()
    for seed in seeds[1:]:
        busy_job(seed, 4)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {"wall_ms": (time.perf_counter() - wall) / n_points * 1e3, "cpu_ms": (time.process_time() - cpu) /
            n_points * 1e3, "system_ms": (after.ru_stime - before.ru_stime) / n_points * 1e3,
            "page_faults": (after.ru_minflt - before.ru_minflt) / n_points}  # fmt: skip


def allocator() -> None:
    """Print the allocating job's cost per point in this process, in a worker of the runner's local cluster
    (``WORKER_ENV``) and in a worker of Dask's default ``LocalCluster`` (``MALLOC_TRIM_THRESHOLD_=65536``)."""
    import logging

    from distributed import Client, LocalCluster

    from scenarios.sweep.cluster import WORKER_ENV, local_cluster

    rows = {"in process": job_cost()}
    with own_environment(WORKER_ENV), local_cluster(1) as cluster, Client(cluster) as client:
        rows["runner's worker"] = client.submit(job_cost, pure=False).result()
    with (
        own_environment(WORKER_ENV),
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0", silence_logs=logging.ERROR) as cluster,
        Client(cluster) as client,
    ):
        rows["Dask default worker"] = client.submit(job_cost, pure=False).result()
    print(f"allocating busy job, per point (load average {load()}):")
    for name, row in rows.items():
        print(f"  {name:>20}: wall {row['wall_ms']:.1f} ms, CPU {row['cpu_ms']:.1f} ms (system {row['system_ms']:.1f} "
              f"ms), {row['page_faults']:.0f} page faults")  # fmt: skip
    ratios = {name: row["cpu_ms"] / rows["in process"]["cpu_ms"] for name, row in rows.items()}
    print("  CPU per point / in process: " + ", ".join(f"{name} {ratio:.2f}x" for name, ratio in ratios.items()))


@contextmanager
def own_environment(names) -> Iterator[None]:
    """Clear the variables ``names`` from this process's environment for the block, then restore them: a nanny
    writes its workers' variables into its parent's environment, where the next cluster would inherit them."""
    saved = {name: os.environ.pop(name, None) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def run_measured(plan, store: Path, workers: int):
    """Run ``plan`` on a local cluster of ``workers``; return its result, the workers' CPU seconds (start to exit)
    and the job's own CPU seconds summed over the points."""
    from scenarios.sweep.runner import run_plan

    before = children_cpu_s()
    result = run_plan(plan, store, workers=workers)
    job_cpu = float(xr.open_zarr(store, consolidated=False)["cpu_s"].sum())
    return result, children_cpu_s() - before, job_cpu


def busy_plan(n_points: int, task_seconds: float, in_place: bool = False):
    """Return a plan of ``n_points`` busy points in tasks of ``task_seconds``."""
    from scenarios.sweep.design import Design, point_seeds
    from scenarios.sweep.runner import Plan

    design = Design(("x",), {"x": np.arange(n_points)}, {}, [{"x": i} for i in range(n_points)])
    return Plan(name="busy", job="tests.benchmarks.bench_sweep:busy_job", design=design,
                seeds=point_seeds(0, n_points), fixed={"in_place": in_place}, paths=4, metrics=None, retries=0,
                allowed_failures=3, task_seconds=task_seconds, seed=0, config="busy benchmark")  # fmt: skip


def overhead_and_scaling(folder: Path, n_points: int = 400, in_place: bool = False) -> dict[str, float]:
    """Print the runner's overhead for ~1 s tasks on one worker and its speed-up from 1 to 2 workers; return the
    goals' numbers."""
    plan = busy_plan(n_points, task_seconds=1.0, in_place=in_place)
    loads = [load()]
    print(f"{'in-place' if in_place else 'allocating'} busy job; load average before: {loads[0]}")
    busy_job(plan.seeds[0], 4, in_place=in_place)  # warm
    started, cpu = time.perf_counter(), time.process_time()
    for point, seed in zip(plan.design.points, plan.seeds, strict=True):
        busy_job(seed, 4, **point, **plan.fixed)
    serial_s, serial_cpu = time.perf_counter() - started, time.process_time() - cpu
    one, one_cpu, one_job = run_measured(plan, folder / f"busy1_{in_place}.zarr", 1)
    two, two_cpu, two_job = run_measured(plan, folder / f"busy2_{in_place}.zarr", 2)
    print(f"busy sweep: {n_points} points of {serial_s / n_points * 1e3:.1f} ms, in process {serial_s:.2f} s wall, "
          f"{serial_cpu:.2f} s CPU")  # fmt: skip
    for result, cpu_s, job_s in ((one, one_cpu, one_job), (two, two_cpu, two_job)):
        print(
            f"  {result.workers} worker(s): {result.tasks} tasks of ~{result.batch_points} points "
            f"(~{result.batch_points * result.points_s / n_points:.2f} s each in the worker; pilot point "
            f"{result.pilot_point_s * 1e3:.1f} ms warm); run {result.run_s:.2f} s, start {result.connect_s:.2f} s, "
            f"close {closing(result):.2f} s, wall {result.wall_s:.2f} s; the client wrote a point in "
            f"{result.write_s / n_points * 1e3:.2f} ms (wall, {getattr(result, 'writes', 'n/a')} writes)"
        )
        print(f"    CPU over the run: the job {job_s:.2f} s; the workers {result.workers_cpu_s:.2f} s "
              f"(+{(result.workers_cpu_s / job_s - 1) * 100:.1f} % of the job); the coordinator (client, scheduler, "
              f"nannies) {result.client_cpu_s:.2f} s = {result.client_cpu_s / job_s:.3f} s per job-second; the "
              f"worker processes start to exit {cpu_s:.2f} s")  # fmt: skip
    numbers = {"overhead_pct": (1 - serial_s / one.run_s) * 100, "speedup": one.run_s / two.run_s,
               "speedup_wall": one.wall_s / two.wall_s, "coordinator_1": one.client_cpu_s / one_job,
               "coordinator_2": two.client_cpu_s / two_job,
               "cpu_bound": 2 * two_job / (two.workers_cpu_s + two.client_cpu_s), "job_2_over_1": two_job / one_job,
               "job_ratio": one_job / serial_cpu, "workers_1": one.workers_cpu_s / one_job - 1,
               "workers_2": two.workers_cpu_s / two_job - 1, "start_1": one.connect_s, "start_2": two.connect_s,
               "close_1": closing(one), "close_2": closing(two)}  # fmt: skip
    print(f"  scheduling overhead, 1 worker: {numbers['overhead_pct']:.1f} % of the run time against the loop in "
          f"process (goal <= 5 %); with the cluster's start and close: {(1 - serial_s / one.wall_s) * 100:.1f} %; "
          f"the job's CPU in the worker / in process: {numbers['job_ratio']:.2f}x")  # fmt: skip
    for result in (one, two):
        idle = 1.0 - result.points_s / (result.workers * result.run_s)
        print(f"  {result.workers} worker(s): share of the workers' run time not spent in the job (scheduling, "
              f"transfers, the pilot's wait, the last tasks' tail): {idle * 100:.1f} %")  # fmt: skip
    loads.append(load())
    print(f"  speed-up 1 -> 2 workers: {numbers['speedup']:.2f}x on the run time (goal >= 1.8x); "
          f"{numbers['speedup_wall']:.2f}x on the wall time; the runner's CPU bound on 2 cores "
          f"{numbers['cpu_bound']:.2f}x; the job's CPU on 2 workers / on 1: {numbers['job_2_over_1']:.2f}x; "
          f"load average after: {loads[-1]}")  # fmt: skip
    numbers["load"] = max(float(v) for v in loads)
    return numbers


def closing(result) -> float:
    """Return the seconds a run spent after its last point was written: closing the local cluster."""
    return result.wall_s - result.connect_s - result.run_s


def amm(folder: Path, n_designs: int, n_paths: int = 1000, n_blocks: int = 7200) -> dict[str, float]:
    """Print the AMM sweep through the runner against ``simulate_amm`` in process (same numbers, checked); return
    the ratios."""
    from scenarios.amm.sweep import load_sweep, sweep_plan
    from scenarios.sweep.runner import run_plan
    from simlab.amm.engine import METRICS, Market, simulate_amm
    from simlab.amm.fees import fee_names
    from simlab.store import write_store

    names = fee_names()
    designs = "\n".join(f'[[designs]]\nname = "{names[i % len(names)]}"\n' for i in range(n_designs))
    text = (f'[sweep]\nname = "bench"\nseed = 2\npaths = {n_paths}\nblocks = {n_blocks}\n\n{designs}\n'
            f"[[markets]]\nvolatility = {VOLATILITY!r}\n")  # fmt: skip
    (folder / "amm.toml").write_text(text)
    spec, _ = load_sweep(folder / "amm.toml")
    rules = [r for t in spec.designs for r in t.rules()]
    simulate_amm(rules[:2], markets=Market(volatility=VOLATILITY), n_paths=10, n_blocks=10, seed=0)  # warm
    print(f"load average before: {load()}")
    started, cpu = time.perf_counter(), time.process_time()  # the in-process run: simulate every design, then write
    engine = simulate_amm(rules, markets=Market(volatility=VOLATILITY), n_paths=n_paths, n_blocks=n_blocks, seed=2)
    write_store(engine, folder / "in_process.zarr")
    in_process_s, in_process_cpu = time.perf_counter() - started, time.process_time() - cpu
    before, cpu = children_cpu_s(), time.process_time()
    result = run_plan(sweep_plan(spec, text), folder / "amm.zarr", workers=2)
    workers_cpu, client_cpu = children_cpu_s() - before, time.process_time() - cpu
    stored = xr.open_zarr(folder / "amm.zarr", consolidated=False)[list(METRICS)].to_array("metric")
    same = np.array_equal(stored.transpose("design", "parameter", "path", "metric").values, engine["value"].values)
    print(f"AMM sweep {n_designs} designs x {n_paths} paths x {n_blocks} blocks: in process {in_process_s:.1f} s; "
          f"runner (2 workers, {result.tasks} tasks of ~{result.batch_points} designs) run {result.run_s:.1f} s, "
          f"wall {result.wall_s:.1f} s; results bit-equal: {same}")  # fmt: skip
    print(f"  runner / in process: {result.run_s / in_process_s:.2f}x on the run time, "
          f"{result.wall_s / in_process_s:.2f}x with the cluster's start and close (goal <= 1.10x)")  # fmt: skip
    print(f"  CPU: in process {in_process_cpu:.1f} s (numba on every core); runner: the worker processes "
          f"{workers_cpu:.1f} s (start to exit), the client {client_cpu:.1f} s; load after: {load()}")  # fmt: skip
    print(f"  per design-point: {result.points_s / n_designs:.3f} worker-seconds in the job, "
          f"{result.write_s / n_designs * 1e3:.1f} ms of the client writing it ({len(METRICS)} variables x "
          f"{n_paths} paths, {getattr(result, 'writes', 'n/a')} writes); in process {in_process_s / n_designs:.3f} s "
          f"on every core; the cluster's start {result.connect_s:.2f} s, close {closing(result):.2f} s; over the run "
          f"the coordinator used {result.client_cpu_s:.2f} s of CPU, the workers "
          f"{result.workers_cpu_s:.2f} s")  # fmt: skip
    return {"run": result.run_s / in_process_s, "wall": result.wall_s / in_process_s, "same": float(same),
            "designs": n_designs, "load": float(load()), "start": result.connect_s, "close": closing(result),
            "coordinator": result.client_cpu_s}  # fmt: skip


def summary(busy: dict[str, list[dict[str, float]]], amm_runs: list[dict[str, float]]) -> None:
    """Print the goals' numbers: each as its range over the repeats, with the highest load average seen."""

    def span(rows: list[dict[str, float]], key: str, form: str) -> str:
        values = [row[key] for row in rows]
        low, mid, high = min(values), statistics.median(values), max(values)
        return f"{mid:{form}} (range {low:{form}}-{high:{form}}, {len(values)} runs)"

    print(f"\nSUMMARY (load average now {load()})")
    for name, rows in busy.items():
        print(f"  {name} busy job, 400 points, tasks of ~1 s (highest load average seen "
              f"{max(r['load'] for r in rows):.2f}):")  # fmt: skip
        print(f"    scheduling overhead, 1 worker vs the loop in process: {span(rows, 'overhead_pct', '.1f')} % "
              f"(goal <= 5 %)")  # fmt: skip
        print(f"    speed-up 1 -> 2 workers: {span(rows, 'speedup', '.2f')}x on the run time (goal >= 1.8x); "
              f"{span(rows, 'speedup_wall', '.2f')}x with the cluster's start and close")  # fmt: skip
        print(
            f"    coordinator CPU s per job CPU s: 1 worker {span(rows, 'coordinator_1', '.3f')}, 2 workers "
            f"{span(rows, 'coordinator_2', '.3f')}; the runner's CPU bound on the 2-worker speed-up "
            f"{span(rows, 'cpu_bound', '.2f')}x; the job's CPU on 2 workers / on 1 {span(rows, 'job_2_over_1', '.2f')}x"
        )
        print(f"    the workers' CPU beyond the job's: 1 worker {span(rows, 'workers_1', '.3f')}, 2 workers "
              f"{span(rows, 'workers_2', '.3f')} (fraction of the job's CPU)")  # fmt: skip
        print(f"    the cluster's start, 1 / 2 workers: {span(rows, 'start_1', '.2f')} s / "
              f"{span(rows, 'start_2', '.2f')} s; its close: {span(rows, 'close_1', '.2f')} s / "
              f"{span(rows, 'close_2', '.2f')} s")  # fmt: skip
    if amm_runs:
        designs = amm_runs[0]["designs"]
        print(
            f"  AMM {designs:.0f} designs x 1000 paths x 7200 blocks, runner (2 workers) / in process: "
            f"{span(amm_runs, 'run', '.2f')}x on the run time, {span(amm_runs, 'wall', '.2f')}x with the cluster's "
            f"start and close (goal <= 1.10x); bit-equal in every run: {all(r['same'] for r in amm_runs)}; start "
            f"{span(amm_runs, 'start', '.2f')} s, close {span(amm_runs, 'close', '.2f')} s, the coordinator's CPU "
            f"{span(amm_runs, 'coordinator', '.2f')} s; highest load average {max(r['load'] for r in amm_runs):.2f}"
        )


def main() -> None:
    designs = 100 if "--full" in sys.argv else 10
    if "--designs" in sys.argv:
        designs = int(sys.argv[sys.argv.index("--designs") + 1])
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 3
    amm_repeats = int(sys.argv[sys.argv.index("--amm-repeats") + 1]) if "--amm-repeats" in sys.argv else 1
    folder = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    busy: dict[str, list[dict[str, float]]] = {"in-place": [], "allocating": []}
    amm_runs: list[dict[str, float]] = []
    try:
        if "--amm-only" not in sys.argv:
            allocator()
            for repeat in range(repeats):
                for in_place in (True, False):
                    run_folder = folder / f"repeat{repeat}"
                    run_folder.mkdir(exist_ok=True)
                    busy["in-place" if in_place else "allocating"].append(
                        overhead_and_scaling(run_folder, in_place=in_place)
                    )
        if "--busy-only" not in sys.argv:
            for repeat in range(amm_repeats):
                run_folder = folder / f"amm{repeat}"
                run_folder.mkdir()
                amm_runs.append(amm(run_folder, designs))
        summary({k: v for k, v in busy.items() if v}, amm_runs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
