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
    """Best of ``repeats`` days: the kernel alone and the whole call (outputs built), with the day's counts."""
    simulate_abm(CONFIG, seed=0, duration_s=600.0)  # compile (or load the cache)
    kernel, total = [], []
    for seed in range(repeats):
        market = _Market(CONFIG, _root(seed), CONFIG.session_s, 10, 0, 60_000_000_000)
        started = time.perf_counter()
        market.run()
        kernel.append(time.perf_counter() - started)
        started = time.perf_counter()
        out = simulate_abm(CONFIG, seed=seed)
        total.append(time.perf_counter() - started)
    attrs = out["events"].attrs
    return {"kernel_s": min(kernel), "total_s": min(total), "book_events": attrs["book_events"],
            "wakeups": attrs["agent_wakeups"], "messages": attrs["messages"]}  # fmt: skip


def parallel(n_markets: int = 4) -> float:
    """Wall time of ``n_markets`` days on 1 thread over that on 2 (the event loop releases the GIL)."""
    times = []
    for workers in (1, 2):
        started = time.perf_counter()
        simulate_markets(CONFIG, n_markets, seed=1, workers=workers, sample_ns=1_000_000_000)
        times.append(time.perf_counter() - started)
    return times[0] / times[1]


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
    print(f"simlab RMSC04-equivalent day (one core): kernel {kernel:.3f} s, with outputs {total:.3f} s")
    print(f"  {mine['book_events']} book events ({mine['book_events'] / kernel:,.0f}/s), {mine['wakeups']} agent "
          f"wake-ups ({mine['wakeups'] / kernel:,.0f}/s), {mine['messages']} messages")  # fmt: skip
    print(f"4 markets on 2 threads: speed-up x{parallel():.2f} over 1 thread")
    peer = abides()
    if peer is None:
        return
    print(f"ABIDES rmsc04 day: {peer['wall_s']:.1f} s, {peer['book_events']} book events "
          f"({peer['book_events'] / peer['wall_s']:,.0f}/s), {peer['wakeups']} agent wake-ups "
          f"({peer['wakeups'] / peer['wall_s']:,.0f}/s)")  # fmt: skip
    print(f"ratio ABIDES / simlab, whole day: x{peer['wall_s'] / mine['total_s']:.0f} (kernel only "
          f"x{peer['wall_s'] / mine['kernel_s']:.0f}); book events/s x"
          f"{(mine['book_events'] / mine['kernel_s']) / (peer['book_events'] / peer['wall_s']):.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
