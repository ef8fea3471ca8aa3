"""Benchmark: the book oracle's Monte Carlo continuations against the Hawkes-driven book simulator itself.

Run by hand (not in CI): ``python tests/benchmarks/bench_hawkes_oracle.py``. Best of 3 after a warm-up that compiles
the numba kernels. On 300 s of the ``hawkes-aapl`` preset (10 levels), it times:
- ``simulate_hawkes_book`` (the peer): path events applied per second, warm-up included;
- ``origin_states`` plus ``continue_from`` at 50 origins, 200 continuations of 50 events each: events drawn per
  second, and the seconds per origin.

The ratio of the two event rates says what a continuation costs per event against the uninterrupted run. A
continuation copies the engine state and draws its event times by thinning, where the run applies a path drawn
in advance. The brief's budget is a few hundred origins x 200 paths within a couple of minutes on 2 cores.
"""

from __future__ import annotations

import time

import numpy as np

from calibration.book_presets import load_book_preset
from simlab.book.hawkes_book import simulate_hawkes_book
from simlab.book.hawkes_oracle import OUT_EVENTS, continue_from, origin_states

REPEATS, DURATION_S, ORIGINS, PATHS, HORIZON = 3, 300.0, 50, 200, 50


def simulator_rate(params) -> float:
    """Path events applied per second by ``simulate_hawkes_book`` (best of :data:`REPEATS`)."""
    best = 0.0
    for _ in range(REPEATS):
        start = time.perf_counter()
        sim = simulate_hawkes_book(params, DURATION_S, rng=16, depth=10)
        elapsed = time.perf_counter() - start
        events = sum(sim["events"].attrs["hawkes_counts"]) + sim["events"].attrs["initial_orders"]
        best = max(best, events / elapsed)
    return best


def oracle_rate(params, rows: np.ndarray) -> tuple[float, float]:
    """(events drawn per second, seconds per origin) of the continuations (best of :data:`REPEATS`)."""
    best, per_origin = 0.0, np.inf
    for _ in range(REPEATS):
        start, drawn = time.perf_counter(), 0.0
        for origin in origin_states(params, DURATION_S, rows, rng=16, depth=10):
            out = continue_from(params, origin, rng=int(origin.row), n_paths=PATHS, horizon_events=HORIZON)
            drawn += out[:, OUT_EVENTS].sum()
        elapsed = time.perf_counter() - start
        best, per_origin = max(best, drawn / elapsed), min(per_origin, elapsed / rows.size)
    return best, per_origin


def main() -> None:
    params = load_book_preset("hawkes-aapl").params
    rows = np.linspace(3000, 6500, ORIGINS).astype(np.int64)
    simulate_hawkes_book(params, 5.0, rng=1, depth=10)  # compile
    oracle_rate(params, rows[:2])
    peer = simulator_rate(params)
    rate, per_origin = oracle_rate(params, rows)
    print(f"simulate_hawkes_book: {peer:,.0f} events/s (peer)")
    print(f"continuations: {rate:,.0f} events/s, {per_origin * 1e3:.1f} ms per origin ({PATHS} paths x {HORIZON} rows)")
    print(f"ratio continuation / simulator events per second: {rate / peer:.2f}")


if __name__ == "__main__":
    main()
