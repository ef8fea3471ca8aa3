"""Benchmark: sampling throughput of a learned generator, diffusion or GAN (messages applied per second), batched
over books.

Run by hand (not in CI): ``python tests/benchmarks/bench_generators.py [MODEL]``. MODEL is a model folder written by
``simlab generate train`` (default: a tiny model trained here for 50 steps on a zero-intelligence flow: the
throughput depends on the network's size and the rollout, not on its quality). Every generated message goes
through the matching engine. Peers run in the same script: the same model with one path (the ratio is the gain of
batching the denoising chains over books) and the zero-intelligence simulator of :mod:`simlab.book` (a parametric
book on the same engine, the cheapest order flow the project has). Best of 2 runs after a warm-up.
"""

from __future__ import annotations

import sys
import time

from generators.config import preset
from generators.data import split_by_time
from generators.diffusion import DiffusionGenerator
from generators.evaluation import throughput
from generators.gan import GANGenerator
from generators.spec import load_generator
from simlab.book.zero_intelligence import ZIParams, simulate_zi

PATHS = (1, 8, 32)
DURATION_S = 5.0
ZI = ZIParams(limit_rate=0.2, market_rate=0.5, cancel_rate=0.05, band_ticks=20, size_law="geometric", order_size=3.0)


def model(path: str | None) -> DiffusionGenerator | GANGenerator:
    """Load MODEL (either family), or train the tiny preset for 50 steps on a zero-intelligence flow."""
    if path:
        return load_generator(path)
    flow = simulate_zi(ZI, 600.0, rng=1, depth=10)
    skip = int(flow["events"].attrs["initial_orders"]) - 1
    spans = split_by_time(flow["events"].isel(event=slice(skip, None)), flow["books"].isel(time=slice(skip, None)))
    config = preset("tiny", max_steps=50, eval_every=25, validation_blocks=256)
    return DiffusionGenerator(config, device="cpu").fit(spans, seed=1)


def zi_rate() -> float:
    """Best of 2: events per second of simulate_zi (a book after every event, depth 10)."""
    simulate_zi(ZI, 10.0, rng=0, depth=10)
    best = 0.0
    for seed in range(2):
        start = time.perf_counter()
        events = simulate_zi(ZI, 3600.0, rng=seed, depth=10)["events"].sizes["event"]
        best = max(best, events / (time.perf_counter() - start))
    return best


def main(argv: list[str]) -> int:
    """Print messages/s per batch size and the ratios against one path and against the ZI simulator."""
    generator = model(argv[0] if argv else None)
    throughput(generator, n_paths=2, duration=2.0, seed=0)  # warm-up (numba, torch)
    rates = {}
    for n in PATHS:
        runs = [throughput(generator, n_paths=n, duration=DURATION_S, seed=s) for s in range(2)]
        best = max(runs, key=lambda run: run["messages_per_second"])
        rates[n] = best["messages_per_second"]
        print(f"{n:3d} paths: {best['messages']} messages in {best['seconds']:.2f} s, {rates[n]:,.0f} messages/s, "
              f"{best['rejected']} rejected and resampled")  # fmt: skip
    zi = zi_rate()
    print(f"zero-intelligence simulator: {zi:,.0f} events/s")
    for n in PATHS:
        print(f"ratio, {n} paths: {rates[n] / rates[1]:.2f} x one path, {rates[n] / zi:.2e} x the ZI simulator")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
