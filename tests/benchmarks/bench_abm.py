"""Benchmark the agent-based market: an RMSC04-equivalent day (scenarios/library/abm_rmsc04.toml) on one core, its
book events/s and agent wake-ups/s, the speed-up of many markets on 2 threads, and ABIDES' rmsc04 as the peer.

The peer: ABIDES (jpmorganchase/abides-jpmc-public). Get it with
``git clone https://github.com/jpmorganchase/abides-jpmc-public /tmp/abides`` and a venv with its needs that still
install on Python 3.11: ``python -m venv /tmp/abides-venv && /tmp/abides-venv/bin/pip install numpy==1.26.4
pandas==2.1.4 scipy==1.11.4 coloredlogs tqdm psutil``; then ``ABIDES_DIR=/tmp/abides
ABIDES_PYTHON=/tmp/abides-venv/bin/python python tests/benchmarks/bench_abm.py``. Its pomegranate order-size
model is replaced by the same mixture sampled with numpy (tests/benchmarks/abides_rmsc04_runner.py). Without
ABIDES_DIR no ratio is printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from simlab.agents import read_market_config, simulate_abm, simulate_markets
from simlab.agents.market import _Market, _root

ROOT = Path(__file__).resolve().parents[2]
CONFIG, _ = read_market_config(ROOT / "scenarios/library/abm_rmsc04.toml")


def ours(repeats: int = 5) -> dict:
    """Best of ``repeats`` days, in CPU seconds of this thread (one core, whatever else runs on the machine): the
    kernel alone and the whole call (outputs built), with the day's counts and the kernel's wall time."""
    simulate_abm(CONFIG, seed=0, duration_s=600.0)  # compile (or load the cache)
    kernel, total, wall = [], [], []
    for seed in range(repeats):
        market = _Market(CONFIG, _root(seed), CONFIG.session_s, 10, 0, 60_000_000_000)
        started, clock = time.thread_time(), time.perf_counter()
        market.run()
        kernel.append(time.thread_time() - started)
        wall.append(time.perf_counter() - clock)
        started = time.thread_time()
        out = simulate_abm(CONFIG, seed=seed)
        total.append(time.thread_time() - started)
    attrs = out["events"].attrs
    return {"kernel_s": min(kernel), "total_s": min(total), "wall_s": min(wall), "book_events": attrs["book_events"],
            "wakeups": attrs["agent_wakeups"], "messages": attrs["messages"]}  # fmt: skip


def parallel(n_markets: int = 4) -> tuple[float, float]:
    """Wall time of ``n_markets`` days on 1 thread over that on 2 (the event loop releases the GIL), and the CPU
    seconds used per wall second on 2 threads (2.0 when both cores are free: on a busy machine the speed-up is
    capped by this number)."""
    times, load = [], 0.0
    for workers in (1, 2):
        started, cpu = time.perf_counter(), time.process_time()
        simulate_markets(CONFIG, n_markets, seed=1, workers=workers, sample_ns=1_000_000_000)
        times.append(time.perf_counter() - started)
        load = (time.process_time() - cpu) / times[-1]
    return times[0] / times[1], load


def abides(end_time: str = "16:00:00", seed: int = 0) -> dict | None:
    """ABIDES' rmsc04 day through its runner, or None (and why) without ABIDES_DIR."""
    folder = os.environ.get("ABIDES_DIR")
    if not folder:
        print("ABIDES_DIR is not set: no peer run, no ratio (see this file's docstring to get ABIDES)")
        return None
    path = os.pathsep.join(str(Path(folder) / p) for p in ("abides-core", "abides-markets"))
    python = os.environ.get("ABIDES_PYTHON", sys.executable)
    runner = Path(__file__).with_name("abides_rmsc04_runner.py")
    done = subprocess.run(
        [python, str(runner), end_time, str(seed)], env=dict(os.environ, PYTHONPATH=path), cwd="/tmp",
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        print(f"ABIDES did not run (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}; no ratio")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    mine = ours()
    kernel, total = mine["kernel_s"], mine["total_s"]
    print(f"simlab RMSC04-equivalent day (CPU s, one core): kernel {kernel:.3f} s, with outputs {total:.3f} s "
          f"(kernel wall {mine['wall_s']:.3f} s)")  # fmt: skip
    print(f"  {mine['book_events']} book events ({mine['book_events'] / kernel:,.0f}/s), {mine['wakeups']} agent "
          f"wake-ups ({mine['wakeups'] / kernel:,.0f}/s), {mine['messages']} messages")  # fmt: skip
    speedup, cores = parallel()
    print(f"4 markets on 2 threads: speed-up x{speedup:.2f} over 1 thread ({cores:.2f} cores' CPU per wall second)")
    peer = abides()
    if peer is None:
        return
    cpu = peer["cpu_s"]
    events, wakeups = peer["book_events"], peer["wakeups"]
    print(f"ABIDES rmsc04 day (CPU s): {cpu:.1f} s (wall {peer['wall_s']:.1f} s), {events} book events "
          f"({events / cpu:,.0f}/s), {wakeups} agent wake-ups ({wakeups / cpu:,.0f}/s)")  # fmt: skip
    print(f"ratio ABIDES / simlab in CPU s, whole day: x{cpu / mine['total_s']:.0f} (kernel only "
          f"x{cpu / mine['kernel_s']:.0f}); book events/s x"
          f"{(mine['book_events'] / mine['kernel_s']) / (peer['book_events'] / cpu):.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
