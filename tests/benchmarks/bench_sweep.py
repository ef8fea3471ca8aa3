"""Benchmark: the Dask sweep runner against the same work done in process, in the same run.

Run by hand (not in CI): ``PYTHONPATH=. python tests/benchmarks/bench_sweep.py [--designs N] [--full] [--amm-only]``.
Goals (issue 13):

1. scheduling overhead <= 5 % of wall time for tasks of about 1 s: a fixed CPU-bound job (``busy_job``, one
   thread, a few ms a point) run by the runner on one worker in tasks of ~1 s, against the same points in a plain
   loop in this process;
2. speed-up from 1 to 2 workers >= 1.8x on the same sweep;
3. the 100-design x 1,000-path x 7,200-block AMM sweep through the runner (2 workers, market outer, tasks of ~5 s)
   at most 10 % slower than the current in-process run (``simulate_amm`` with numba on every core, then
   ``write_store``); ``--designs N`` scales the number of
   designs (default 10, ``--full`` 100), the registry's designs in turn, as in ``bench_amm.py``.

Times: ``run`` is from the connected client (every worker has imported the job) to the last point written (pilot
included), ``wall`` adds starting and closing the local cluster. The ratios are of numbers measured in this run,
never typed in.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

BUSY_ITERATIONS = 10
BUSY_SIZE = 200_000
VOLATILITY = 0.001 / math.sqrt(12.0) * math.sqrt(365 * 86400.0)  # 10 bps per 12 s block


def busy_job(seed: np.random.SeedSequence, paths: int, *, x: int = 0) -> xr.Dataset:
    """Spend a fixed amount of single-threaded CPU (a few ms) and return one number per path."""
    values = np.random.default_rng(seed).random(BUSY_SIZE)
    for _ in range(BUSY_ITERATIONS):
        values = np.sqrt(values * 1.0001 + 0.1)
    return xr.Dataset({"level": ("path", values[:paths])})


def busy_plan(n_points: int, task_seconds: float):
    """Return a plan of ``n_points`` busy points in tasks of ``task_seconds``."""
    from scenarios.sweep.design import Design, point_seeds
    from scenarios.sweep.runner import Plan

    design = Design(("x",), {"x": np.arange(n_points)}, {}, [{"x": i} for i in range(n_points)])
    return Plan(name="busy", job="tests.benchmarks.bench_sweep:busy_job", design=design,
                seeds=point_seeds(0, n_points), fixed={}, paths=4, metrics=None, retries=0, allowed_failures=3,
                task_seconds=task_seconds, seed=0, config="busy benchmark")  # fmt: skip


def overhead_and_scaling(folder: Path, n_points: int = 400) -> None:
    """Print the runner's overhead for ~1 s tasks on one worker and its speed-up from 1 to 2 workers."""
    from scenarios.sweep.runner import run_plan

    plan = busy_plan(n_points, task_seconds=1.0)
    busy_job(plan.seeds[0], 4)  # warm
    started = time.perf_counter()
    for point, seed in zip(plan.design.points, plan.seeds, strict=True):
        busy_job(seed, 4, **point)
    serial_s = time.perf_counter() - started
    one = run_plan(plan, folder / "busy1.zarr", workers=1)
    two = run_plan(plan, folder / "busy2.zarr", workers=2)
    print(f"busy sweep: {n_points} points of {serial_s / n_points * 1e3:.1f} ms, in process {serial_s:.2f} s")
    for result in (one, two):
        print(f"  {result.workers} worker(s): {result.tasks} tasks of ~{result.batch_points} points "
              f"(~{result.batch_points * serial_s / n_points:.2f} s each); run {result.run_s:.2f} s, "
              f"start {result.connect_s:.2f} s, wall {result.wall_s:.2f} s; the client wrote a point in "
              f"{result.write_s / n_points * 1e3:.2f} ms")  # fmt: skip
    overhead = 1.0 - serial_s / one.run_s
    print(f"  scheduling overhead, 1 worker: {overhead * 100:.1f} % of the run time against the loop in process "
          f"(goal <= 5 %); with the cluster's start and close: {(1 - serial_s / one.wall_s) * 100:.1f} %")  # fmt: skip
    for result in (one, two):
        idle = 1.0 - result.points_s / (result.workers * result.run_s)
        print(f"  {result.workers} worker(s): share of the workers' run time not spent in the job (scheduling, "
              f"transfers, the pilot's wait, the last tasks' tail): {idle * 100:.1f} %")  # fmt: skip
    print(f"  speed-up 1 -> 2 workers: {one.run_s / two.run_s:.2f}x on the run time (goal >= 1.8x); "
          f"{one.wall_s / two.wall_s:.2f}x on the wall time")  # fmt: skip


def amm(folder: Path, n_designs: int, n_paths: int = 1000, n_blocks: int = 7200) -> None:
    """Print the AMM sweep through the runner against ``simulate_amm`` in process (same numbers, checked)."""
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
    started = time.perf_counter()  # the current in-process run: simulate every design, then write the store
    engine = simulate_amm(rules, markets=Market(volatility=VOLATILITY), n_paths=n_paths, n_blocks=n_blocks, seed=2)
    write_store(engine, folder / "in_process.zarr")
    in_process_s = time.perf_counter() - started
    result = run_plan(sweep_plan(spec, text), folder / "amm.zarr", workers=2)
    stored = xr.open_zarr(folder / "amm.zarr", consolidated=False)[list(METRICS)].to_array("metric")
    same = np.array_equal(stored.transpose("design", "parameter", "path", "metric").values, engine["value"].values)
    print(f"AMM sweep {n_designs} designs x {n_paths} paths x {n_blocks} blocks: in process {in_process_s:.1f} s; "
          f"runner (2 workers, {result.tasks} tasks of ~{result.batch_points} designs) run {result.run_s:.1f} s, "
          f"wall {result.wall_s:.1f} s; results bit-equal: {same}")  # fmt: skip
    print(f"  runner / in process: {result.run_s / in_process_s:.2f}x on the run time, "
          f"{result.wall_s / in_process_s:.2f}x with the cluster's start and close (goal <= 1.10x)")  # fmt: skip
    print(f"  per design-point: {result.points_s / n_designs:.3f} worker-seconds in the job, "
          f"{result.write_s / n_designs * 1e3:.1f} ms of the client writing it ({len(METRICS)} variables x "
          f"{n_paths} paths); in process {in_process_s / n_designs:.3f} s on every core")  # fmt: skip


def main() -> None:
    designs = 100 if "--full" in sys.argv else 10
    if "--designs" in sys.argv:
        designs = int(sys.argv[sys.argv.index("--designs") + 1])
    folder = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    try:
        if "--amm-only" not in sys.argv:
            overhead_and_scaling(folder)
        amm(folder, designs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
