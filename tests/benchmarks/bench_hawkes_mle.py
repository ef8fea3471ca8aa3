"""Benchmark: Hawkes MLE on 10^6 events against tick's least-squares and ADM4 learners, same data, same run.

Run by hand (not in CI): ``python tests/benchmarks/bench_hawkes_mle.py``. For d = 2 and d = 10 (one decay for all
pairs, as ADM4 requires) it simulates about 10^6 events with simlab, fits them with fixed decays by our MLE and by
tick's least-squares (``HawkesExpKern(gofit="least-squares")``) and ADM4, best of 3 after a warm-up (numba
compiled), and prints seconds, ratios and max abs adjacency errors; then our fit with the decays estimated (d = 10).
"""

from __future__ import annotations

import time

import numpy as np
from tick.hawkes import HawkesADM4, HawkesExpKern

from calibration.hawkes import HawkesMLE
from simlab.hawkes import HawkesParams, simulate_hawkes

DECAY = 5.0


def _best(fn, repeats: int = 3) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _problem(d: int, seed: int) -> tuple[HawkesParams, list[np.ndarray], float]:
    rng = np.random.default_rng(seed)
    adjacency = rng.uniform(0, 1, (d, d)) * (rng.uniform(size=(d, d)) < max(0.4, 2 / d))
    adjacency *= 0.7 / np.max(np.abs(np.linalg.eigvals(adjacency)))
    params = HawkesParams(rng.uniform(0.5, 1.5, d), adjacency, np.full((d, d), DECAY))
    duration = 1e6 / np.linalg.solve(np.eye(d) - adjacency, params.baseline).sum()
    path = simulate_hawkes(params, duration, rng=seed)[0]
    return params, [path.times_s[path.dims == j] for j in range(d)], duration


def main() -> None:
    HawkesMLE(DECAY).fit([np.array([0.1, 0.5, 0.9])], 1.0)  # compile
    for d in (2, 10):
        params, times, end = _problem(d, seed=d)
        truth = params.adjacency[:, :, 0]
        n = sum(t.size for t in times)
        t_ours, ours = _best(lambda times=times, end=end: HawkesMLE(DECAY).fit(times, end))
        t_ls, ls = _best(lambda times=times, end=end: HawkesExpKern(DECAY, gofit="least-squares").fit(times, end))
        t_adm4, adm4 = _best(lambda times=times, end=end: HawkesADM4(DECAY, C=1e6, verbose=False).fit(times, end), 1)
        err = {
            "ours": np.abs(ours.adjacency_[:, :, 0] - truth).max(),
            "tick LS": np.abs(ls.adjacency - truth).max(),
            "tick ADM4": np.abs(adm4.adjacency - truth).max(),
        }
        print(
            f"d={d:2d}, {n} events, fixed decays: ours {t_ours:.3f} s, tick LS {t_ls:.3f} s "
            f"(ratio {t_ls / t_ours:.1f}x), tick ADM4 {t_adm4:.3f} s (ratio {t_adm4 / t_ours:.1f}x)"
        )
        print("      max abs adjacency error: " + ", ".join(f"{k} {v:.4f}" for k, v in err.items()))
    start = time.perf_counter()
    fitted = HawkesMLE(DECAY, fit_decays=True).fit(times, end)
    elapsed = time.perf_counter() - start
    print(
        f"d=10, decays estimated (4 starts): {elapsed:.2f} s, max abs adjacency error "
        f"{np.abs(fitted.adjacency_[:, :, 0] - truth).max():.4f}, max abs decay error "
        f"{np.abs(fitted.decays_ - DECAY)[params.adjacency > 0.05].max():.3f} "
        f"({fitted.decays_estimated_.sum()} decays estimated, the others tied: no significant excitation)"
    )


if __name__ == "__main__":
    main()
