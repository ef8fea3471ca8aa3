"""Benchmark of the forecasting benchmark (run by hand: ``python tests/benchmarks/bench_forecast.py [hours]``).

1. The full protocol (all 11 forecasters, 5 walk-forward folds) on a day of 1 s windows of the BTCUSDT preset;
   target: under 5 minutes on 2 CPU cores.
2. The oracle's Monte Carlo (E[OFI] and class probabilities from the intensity state): forecast origins per minute
   against the target of 1e5, and against the peer in simlab, the exact cluster simulator
   (``simulate_hawkes(..., initial_state=...)``) run path by path from the same states.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from calibration.presets import load_preset
from scenarios.forecast.data import simulate_series
from scenarios.forecast.protocol import run_protocol
from scenarios.forecast.runner import build_models
from scenarios.forecast.spec import ModelsSpec
from scenarios.forecast.state import forward_moments
from simlab.hawkes import simulate_hawkes


def protocol(hours: float) -> None:
    params = load_preset("binance-usdm-btcusdt").params
    started = time.perf_counter()
    series = simulate_series(params, hours * 3600.0, rng=1)
    result = run_protocol(series, build_models(ModelsSpec(), synthetic=True), rng=2, n_folds=5)
    seconds = time.perf_counter() - started
    print(
        f"protocol: {series.size} windows, {len(result.forecasts)} models x 5 folds in {seconds:.1f} s "
        f"(target 300 s: {300 / seconds:.2f}x under)"
    )
    for name, value in result.seconds.items():
        print(f"  {name:15s} {value:7.1f} s")
    scores = result.scores()
    print("  R^2: " + ", ".join(f"{n} {s['r2']:.4f}" for n, s in scores.items()))


def oracle_throughput(n_origins: int = 100_000) -> None:
    params = load_preset("binance-usdm-btcusdt").params
    series = simulate_series(params, float(n_origins), rng=3)
    states = series.states[:n_origins]
    forward_moments(params, states[:10], 1.0, rng=0, n_paths=20)  # compile
    for paths in (200, 400):
        started = time.perf_counter()
        forward_moments(params, states, 1.0, rng=4, n_paths=paths)
        rate = n_origins / (time.perf_counter() - started) * 60
        print(f"oracle MC, {paths} paths per origin: {rate:,.0f} origins/min (target 1e5: {rate / 1e5:.2f}x)")
    peer_n, paths = 100, 200
    started = time.perf_counter()
    for state in states[:peer_n]:
        simulate_hawkes(params, 1.0, rng=5, n_paths=paths, initial_state=state.reshape(2, 2, 4))
    peer = peer_n / (time.perf_counter() - started) * 60
    started = time.perf_counter()
    forward_moments(params, states[: peer_n * 20], 1.0, rng=4, n_paths=paths)
    ours = peer_n * 20 / (time.perf_counter() - started) * 60
    print(f"peer simulate_hawkes from the state, {paths} paths: {peer:,.0f} origins/min; ratio {ours / peer:.1f}x")


if __name__ == "__main__":
    hours = float(sys.argv[1]) if len(sys.argv) > 1 else 24.0
    oracle_throughput()
    protocol(hours)
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f} at the end; numpy", np.__version__)
