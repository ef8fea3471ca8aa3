"""Benchmark: the AMM engine, constant product plus arbitrageur, against a plain numpy loop of the same model.

Run by hand (not in CI): ``python tests/benchmarks/bench_amm.py [--full]``. Targets (issue 6): >= 1e7 path-blocks
per second on 2 CPU cores, with the ratio to a numpy loop of the same model (vectorised over paths, one Python
iteration per block, computing the same 13 metrics) measured in the same run and checked equal; and a sweep of 100
designs x 1,000 paths x one day of 12 s blocks (7,200) in under a minute (``--full``; the default runs 10 designs
and scales the time).
Best of 3 after a warm-up that compiles the kernels. Rates: ``kernel`` is the numba engine on prepared paths,
``end to end`` is ``simulate_amm`` (GBM paths, gas, noise, metrics and summary included).
"""

from __future__ import annotations

import math
import sys
import time

import numba
import numpy as np

from simlab.amm import _kernels
from simlab.amm.engine import Market, PoolSpec, market_inputs, simulate_amm
from simlab.amm.fees import fee_names, make_fee
from simlab.random import as_generator

REPEATS = 3
FEE = 0.003
VOLATILITY = 0.001 / math.sqrt(12.0) * math.sqrt(365 * 86400.0)  # 10 bps per 12 s block


COMPARED = (
    "lp_pnl",
    "hedged_lp_pnl",
    "lvr",
    "fees_arb",
    "arb_profit",
    "arb_block_share",
    "arb_profit_rel",
    "arb_fees_rel",
    "lvr_rel",
    "mispricing_bps",
    "max_mispricing_bps",
    "markout_1block",
    "min_reserve_share",
)


def numpy_loop(price: np.ndarray, x0: float, y0: float, fee: float) -> dict[str, np.ndarray]:
    """The same model in plain numpy, vectorised over paths: arbitrage to the band edge every block (static fee,
    fees aside, no gas, no noise), with the engine's metrics for that case (``COMPARED``), per path."""
    n_paths, n = price.shape[0], price.shape[1] - 1
    x, y = np.full(n_paths, x0), np.full(n_paths, y0)
    m = {name: np.zeros(n_paths) for name in COMPARED}
    hedge, m["min_reserve_share"] = np.zeros(n_paths), np.ones(n_paths)
    g = 1.0 - fee
    for t in range(1, n + 1):
        s, s_prev = price[:, t], price[:, t - 1]
        v_pre, hedge_t = x * s + y, x * (s - s_prev)
        q = y / x
        buy, sell = s * g > q, s < q * g
        target = np.where(buy, s * g, np.where(sell, s / g, q))
        root_t, root_q = np.sqrt(target), np.sqrt(q)
        d = np.abs(target - q) / (root_t + root_q)
        profit = np.where(buy, x * d * d / g, np.where(sell, x * d * d, 0.0))
        gross = np.where(buy, x * root_q * d / g, np.where(sell, x * d / (g * root_t), 0.0))  # y in / x in
        fee_value = np.where(buy, gross * fee, price[:, t] * gross * fee)
        out = np.where(buy, x * d / root_t, x * root_q * d)  # x out / y out
        lp_dx, lp_dy = np.where(buy, -out, gross), np.where(buy, gross, -out)
        k = x * y
        x_new, y_new = np.sqrt(k / target), np.sqrt(k * target)
        m["arb_profit"] += profit
        m["fees_arb"] += fee_value
        m["arb_block_share"] += (buy | sell) / n
        m["arb_profit_rel"] += profit / v_pre / n
        m["arb_fees_rel"] += fee_value / v_pre / n
        m["lvr_rel"] += (hedge_t - (x_new * s + y_new - x * s_prev - y)) / v_pre / n
        hedge += hedge_t
        m["markout_1block"] += lp_dx * price[:, min(t + 1, n)] + lp_dy
        gap = np.abs(np.log(y_new / x_new / s))
        m["mispricing_bps"] += 1e4 * gap / n
        m["max_mispricing_bps"] = np.maximum(m["max_mispricing_bps"], 1e4 * gap)
        m["min_reserve_share"] = np.minimum(m["min_reserve_share"], np.minimum(x_new / x0, y_new / y0))
        x, y = x_new, y_new
    end = x * price[:, -1] + y + m["fees_arb"]
    m["lp_pnl"] = end - (x0 * price[:, -1] + y0)
    m["hedged_lp_pnl"] = end - (x0 * price[:, 0] + y0) - hedge
    m["lvr"] = m["fees_arb"] - m["hedged_lp_pnl"]
    return m


def best(function, repeats: int = REPEATS) -> float:
    """Return the fastest of ``repeats`` calls of ``function`` (s)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def engine_vs_numpy(n_paths: int = 2000, n_blocks: int = 5000) -> None:
    """Print the kernel's rate on all numba threads and on one, end to end, and against :func:`numpy_loop`."""
    pool = PoolSpec(value=1e7)
    data = market_inputs(Market(volatility=VOLATILITY), pool, n_paths, n_blocks, as_generator(0))
    rule = make_fee("static", fee=FEE)
    kinds, params = np.array([rule.kind]), rule.vector()[None, :]
    out = np.empty((1, n_paths, len(_kernels.METRICS)))
    args = (kinds, params, data["price"], data["log_price"], data["times"], data["gas"], data["starts"],
            data["noise_value"], data["noise_side"], data["noise_u"], pool.vector(50.0), out)  # fmt: skip
    _kernels.simulate(*args)  # compile
    kernel_s = best(lambda: _kernels.simulate(*args))
    threads = numba.get_num_threads()
    numba.set_num_threads(1)  # the same jobs on one thread: the parallel speed-up over paths
    single_s = best(lambda: _kernels.simulate(*args))
    numba.set_num_threads(threads)
    x0, y0 = pool.vector(50.0)[:2]
    reference = numpy_loop(data["price"], x0, y0, FEE)
    numpy_s = best(lambda: numpy_loop(data["price"], x0, y0, FEE), repeats=1)
    error = max(
        float(
            np.max(
                np.abs(out[0, :, _kernels.METRICS.index(name)] - reference[name]) / (np.abs(reference[name]) + 1e-300)
            )
        )
        for name in COMPARED
        if name not in ("max_mispricing_bps", "arb_block_share")
    )
    end_s = best(lambda: simulate_amm([rule], markets=Market(volatility=VOLATILITY), pool=pool, n_paths=n_paths,
                                      n_blocks=n_blocks, seed=1))  # fmt: skip
    blocks = n_paths * n_blocks
    print(f"constant product + arbitrageur, {n_paths} paths x {n_blocks} blocks ({blocks:.1e} path-blocks)")
    print(f"  numba kernel : {kernel_s:7.3f} s  {blocks / kernel_s / 1e6:7.1f} M path-blocks/s ({threads} threads; "
          f"{blocks / single_s / 1e6:.1f} M on 1 thread, speed-up {single_s / kernel_s:.2f}x)")  # fmt: skip
    print(f"  end to end   : {end_s:7.3f} s  {blocks / end_s / 1e6:7.1f} M path-blocks/s (GBM, metrics, summary)")
    print(f"  numpy loop   : {numpy_s:7.3f} s  {blocks / numpy_s / 1e6:7.1f} M path-blocks/s")
    print(f"  ratio kernel / numpy: {numpy_s / kernel_s:.1f}x; end to end / numpy: {numpy_s / end_s:.1f}x; "
          f"max relative difference over {len(COMPARED)} metrics {error:.1e}")  # fmt: skip


def sweep(n_designs: int, n_paths: int = 1000, n_blocks: int = 7200) -> None:
    """Print the time of ``simulate_amm`` over ``n_designs`` designs (the registry in turn) and its 100-design
    equivalent."""
    names = fee_names()
    designs = [make_fee(names[i % len(names)]) for i in range(n_designs)]
    simulate_amm(designs[:2], markets=Market(volatility=VOLATILITY), n_paths=10, n_blocks=10, seed=0)  # warm
    seconds = best(lambda: simulate_amm(designs, markets=Market(volatility=VOLATILITY), n_paths=n_paths,
                                        n_blocks=n_blocks, seed=2), repeats=1)  # fmt: skip
    total = n_designs * n_paths * n_blocks
    rate, hundred = total / seconds / 1e6, seconds * 100 / n_designs
    print(f"sweep {n_designs} designs (all 10 rules in turn) x {n_paths} paths x {n_blocks} blocks: {seconds:.1f} s, "
          f"{rate:.1f} M design-path-blocks/s; 100 designs at this rate: {hundred:.1f} s")  # fmt: skip


if __name__ == "__main__":
    engine_vs_numpy()
    sweep(100 if "--full" in sys.argv else 10)
