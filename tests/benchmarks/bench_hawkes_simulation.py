"""Benchmark: Hawkes simulation throughput (events/s) of simlab against tick, side by side in one run.

Run by hand (not in CI): ``python tests/benchmarks/bench_hawkes_simulation.py``. For d = 1, 2 and 10 it simulates the
same exponential-kernel process with ``simlab.hawkes.simulate_hawkes`` and tick's ``SimuHawkesExpKernels`` (one
path each, about 10^7 events for simlab and a horizon sized for tick to take ~1 s), best of 3 after a warm-up that
compiles the numba kernels, and prints events/s and the ratio. Targets (issue 3): d = 1, 2 >= 10 M/s and >= 1.5x
tick; d = 10 >= 5 M/s and >= 5x tick.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from simlab.hawkes import HawkesParams, simulate_hawkes
from simlab.hawkes.closed_form import stationary_intensity

REPEATS = 3
SIMLAB_EVENTS = 10_000_000
TICK_EVENTS = {1: 2_000_000, 2: 2_000_000, 10: 600_000}


def cases() -> dict[int, HawkesParams]:
    """Processes with branching ratio 0.7 and a decay per pair."""
    rng = np.random.default_rng(7)
    out = {}
    for d in (1, 2, 10):
        adjacency = rng.uniform(0.2, 1.0, (d, d))
        adjacency *= 0.7 / np.max(np.abs(np.linalg.eigvals(adjacency)))
        out[d] = HawkesParams(baseline=np.full(d, 1.0), adjacency=adjacency, decays=rng.uniform(1.0, 10.0, (d, d)))
    return out


def best_rate(run, repeats: int = REPEATS) -> float:
    """Best events/s over ``repeats`` calls of ``run() -> n_events``."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        n = run()
        best = max(best, n / (time.perf_counter() - start))
    return best


def simlab_rate(params: HawkesParams, n_events: int) -> float:
    """Events/s of simulate_hawkes on one path of about ``n_events`` events."""
    duration = n_events / stationary_intensity(params).sum()
    simulate_hawkes(params, 10.0, rng=0)  # compile
    seeds = iter(range(1, 100))
    return best_rate(lambda: simulate_hawkes(params, duration, rng=next(seeds))[0].times_s.shape[0])


def tick_rate(params: HawkesParams, n_events: int) -> float:
    """Events/s of tick's SimuHawkesExpKernels on one path of about ``n_events`` events."""
    from tick.hawkes import SimuHawkesExpKernels

    duration = n_events / stationary_intensity(params).sum()
    seeds = iter(range(1, 100))

    def run() -> int:
        simu = SimuHawkesExpKernels(
            adjacency=np.array(params.adjacency[:, :, 0]),
            decays=np.array(params.decays[:, :, 0]),
            baseline=np.array(params.baseline),
            end_time=duration,
            seed=next(seeds),
            verbose=False,
        )
        simu.simulate()
        return int(sum(len(t) for t in simu.timestamps))

    return best_rate(run)


def main() -> int:
    """Print events/s of simlab and tick and their ratio for d = 1, 2, 10."""
    print(f"{'d':>3} {'simlab M ev/s':>14} {'tick M ev/s':>12} {'ratio':>7}")
    for d, params in cases().items():
        ours = simlab_rate(params, SIMLAB_EVENTS)
        theirs = tick_rate(params, TICK_EVENTS[d])
        print(f"{d:>3} {ours / 1e6:>14.2f} {theirs / 1e6:>12.2f} {ours / theirs:>7.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
