"""Fee designs on a StableSwap pool: the kernels against a slow twin, the arbitrage size against brute force, the
constant-product limit against the constant-product lab, and the LVR closed form against realised arbitrage loss."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simlab.amm import _stableswap_kernels as kernels
from simlab.amm.engine import Market, NoiseTraders, PoolSpec, simulate_amm
from simlab.amm.fees import fee_names, make_fee
from simlab.amm.paths import PricePath
from simlab.amm.stableswap import arbitrage_size as bisection_size
from simlab.amm.stableswap import get_d, get_y, swap_in
from simlab.amm.stableswap_lab import METRICS, lvr_rate, pair_table, simulate_stableswap
from simlab.errors import ParameterError
from simlab.random import as_generator
from tests.simlab.amm import ss_twin

NOISE = NoiseTraders(rate_per_s=0.25, mean_value=3_000.0, dispersion=1.0, fee_elasticity=150.0)


def _inputs(n: int, n_paths: int, n_blocks: int, seed: int):
    """Outside prices (coin 0 falls by 5 % over the window, with noise), a run of coin 0 into the last coin."""
    rng = np.random.default_rng(seed)
    times = np.arange(n_blocks + 1) * 12.0
    trend = np.linspace(0.0, math.log(0.95), n_blocks + 1)
    ext = np.ones((n_paths, n_blocks + 1, n))
    ext[:, :, 0] = np.exp(trend + np.cumsum(rng.normal(0.0, 0.002, (n_paths, n_blocks + 1)), axis=1))
    run = np.zeros_like(ext)
    run[:, n_blocks // 3 : 2 * n_blocks // 3, 0] = 4_000.0
    return times, ext, run


def _twin_noise(times, n_paths, n, seed):
    """The noise trades simulate_stableswap draws, per path and block: (value, i, j, uniform)."""
    rng = as_generator(seed)
    starts, values, _, uniforms = NOISE.sample(np.broadcast_to(times, (n_paths, times.size)), rng)
    pairs = pair_table(n)[rng.integers(0, n * (n - 1), size=values.size)]
    n_blocks = times.size - 1
    return [[[]] + [[(values[m], int(pairs[m, 0]), int(pairs[m, 1]), uniforms[m])
                     for m in range(starts[p * n_blocks + t - 1], starts[p * n_blocks + t])]
                    for t in range(1, n_blocks + 1)] for p in range(n_paths)]  # fmt: skip


@pytest.mark.parametrize(("n", "designs", "amp"), [(2, fee_names(), 50.0), (3, ["static", "inventory_linear",
                         "oracle_gap", "toxicity", "curve_v2"], 200.0)])  # fmt: skip
def test_every_design_on_the_pool_matches_the_slow_twin(n, designs, amp):
    times, ext, run = _inputs(n, 2, 24, seed=n)
    balances = [100_000.0 * (1 + 0.1 * k) for k in range(n)]
    x_side = [k < n - 1 and k in (0, 1) for k in range(n)]
    ds = simulate_stableswap(designs, balances=balances, amplification=amp, external=ext, times=times, seed=9,
                             x_coin=0, y_coin=n - 1, x_side=x_side, run=run, into=n - 1, noise=NOISE)  # fmt: skip
    trades = _twin_noise(times, 2, n, 9)
    for k, name in enumerate(designs):
        for path in range(2):
            twin = ss_twin.twin_path(make_fee(name), balances, amp, ext[path].tolist(), times.tolist(),
                                     run[path].tolist(), trades[path], 0, n - 1, n - 1, x_side,
                                     NOISE.fee_elasticity)  # fmt: skip
            got = ds["value"].isel(design=k, parameter=0, path=path)
            assert twin["arb_trades"] > 10 and twin["noise_volume"] > 0
            for metric in METRICS:
                assert float(got.sel(metric=metric)) == pytest.approx(twin[metric], rel=1e-7, abs=1e-6), (name, metric)


def test_the_arbitrage_size_is_the_profit_maximum_found_by_brute_force():
    rng = np.random.default_rng(5)
    for _ in range(40):
        n = int(rng.integers(2, 5))
        xp = rng.lognormal(math.log(1e4), 0.6, size=n)
        amp, fee = float(rng.choice([1.0, 50.0, 2000.0])), float(rng.choice([0.0, 1e-4, 3e-3, 2e-2]))
        d = get_d(xp, amp)
        ratio = kernels.price(xp, amp, d, 0, 1) * (1.0 - fee) * math.exp(-rng.uniform(0.001, 0.2))
        size = kernels.arbitrage_size(xp, amp, d, fee, 0, 1, ratio)
        assert size == pytest.approx(bisection_size(xp, amp, fee, 0, 1, ratio, math.inf), rel=1e-9)

        def profit(dx: float, xp=xp, amp=amp, fee=fee, ratio=ratio) -> float:
            dy, _ = swap_in(xp.copy(), amp, fee, 0, 1, dx)
            return dy - dx * ratio  # coin 1 is the numeraire

        grid = np.linspace(0.0, 3.0 * size, 3001)
        profits = np.array([profit(dx) for dx in grid])
        profits = profits[np.isfinite(profits)]  # Curve's get_y may not converge far past the optimum
        grid = grid[: profits.size]
        assert grid[-1] > 1.5 * size
        best = profit(size)
        assert best >= profits.max() - 1e-9 * xp.sum() and best > 0
        away = np.abs(grid - size) > 0.2 * size
        assert np.all(profits[away] < best)  # no size far from it does as well
        edges = [(1 - fee) * kernels.price(_after(xp, amp, d, dx), amp, d, 0, 1) for dx in grid[::100]]
        assert np.all(np.diff(edges) < 0)  # the marginal rate falls monotonically with the size
        inside = (1.0 - fee) * kernels.price(xp, amp, d, 0, 1) * (1.0 + 1e-9)
        assert kernels.arbitrage_size(xp, amp, d, fee, 0, 1, inside) == 0.0  # inside the band: no trade


def _after(xp, amp, d, dx):
    trial = xp.copy()
    trial[0], trial[1] = xp[0] + dx, get_y(0, 1, xp[0] + dx, xp, amp, d)
    return trial


def test_the_price_slope_is_the_derivative_along_the_invariant():
    for amp in (1.0, 30.0, 2000.0):
        xp = np.array([1.3e4, 0.8e4, 1.1e4])
        d = get_d(xp, amp)
        h = 1e-3
        numeric = (kernels.price(_after(xp, amp, d, h), amp, d, 0, 1)
                   - kernels.price(_after(xp, amp, d, -h), amp, d, 0, 1)) / (2 * h)  # fmt: skip
        assert kernels.price_slope(xp, amp, d, 0, 1) == pytest.approx(numeric, rel=1e-5)


def test_a_vanishing_amplification_is_the_constant_product_lab():
    """A -> 0 with no fee: the arbitrage, the LP P&L and the LVR equal the constant-product engine's on the same
    prices, and the LVR rate equals sigma**2 V / 8."""
    times, ext, _ = _inputs(2, 3, 200, seed=7)
    ext[:, :, 0] *= 1.2 / ext[:, :1, 0]  # every path starts at the pool's price (the constant-product lab rescales)
    price = ext[:, :, 0] / ext[:, :, 1]
    value = 2e6
    ss = simulate_stableswap([("static", {"fee": 0.0})], balances=[value / 2 / 1.2, value / 2], amplification=1e-9,
                             external=ext, times=times, seed=1)  # fmt: skip
    cp = simulate_amm([("static", {"fee": 0.0})], markets=Market(reference=PricePath(times, price)),
                      pool=PoolSpec(value=value, price=1.2, accounting="reserves"), n_paths=3, seed=1)  # fmt: skip
    for metric in ("lp_pnl", "lvr", "arb_profit", "hedged_lp_pnl"):
        got = ss["value"].isel(design=0, parameter=0).sel(metric=metric).values
        want = cp["value"].isel(design=0, parameter=0).sel(metric=metric).values
        assert np.allclose(got, want, rtol=1e-6, atol=1e-7 * value), metric
    assert lvr_rate([10.0, 30.0], 1e-9, 0.02) == pytest.approx(0.02**2 * 60.0 / 8.0, rel=1e-6)
    xp = np.array([1e4, 3e4])  # the trade itself: (1 - f) y'/x' = S on x' y' = x y, so x' = sqrt(k (1 - f) / S)
    for fee in (0.0, 0.003):
        size = kernels.arbitrage_size(xp, 1e-9, get_d(xp, 1e-9), fee, 0, 1, 2.5)
        assert size == pytest.approx(math.sqrt(3e8 * (1 - fee) / 2.5) - 1e4, rel=1e-6)


def test_the_lvr_rate_matches_the_realised_loss_of_fee_free_arbitrage():
    """On fine blocks (sigma 5 bps a block) the realised LVR of fee-free arbitrage is the integral of
    0.5 sigma**2 p**2 |dx/dp| along the path, on average and path by path, at two amplifications."""
    n_paths, n_blocks, sigma = 40, 2000, 5e-4
    rng = np.random.default_rng(11)
    times = np.arange(n_blocks + 1, dtype=np.float64)
    steps = rng.normal(-0.5 * sigma**2, sigma, (n_paths, n_blocks))
    log_p = np.cumsum(np.concatenate([np.zeros((n_paths, 1)), steps], axis=1), axis=1)
    ext = np.ones((n_paths, n_blocks + 1, 2))
    ext[:, :, 0] = np.exp(log_p)
    for amp in (5.0, 100.0):
        ds = simulate_stableswap([("static", {"fee": 0.0})], balances=[1e6, 1e6], amplification=amp, external=ext,
                                 times=times, seed=1)  # fmt: skip
        realised = ds["value"].isel(design=0, parameter=0).sel(metric="lvr").values
        predicted = np.array([sum(_rate_at(p, amp, sigma) for p in ext[k, :-1, 0]) for k in range(n_paths)])
        gap = realised - predicted
        assert abs(gap.mean()) < 3 * gap.std(ddof=1) / math.sqrt(n_paths)  # no bias: realised = closed form
        assert realised.mean() == pytest.approx(predicted.mean(), rel=0.02)
        assert np.median(np.abs(realised / predicted - 1)) < 0.05  # and path by path, up to the squared moves' noise
    assert np.corrcoef(realised, predicted)[0, 1] > 0.95  # at A = 100 the rate differs a lot between paths


def _rate_at(p: float, amp: float, sigma: float) -> float:
    """LVR rate (coin 1 per block) of the fee-free pool arbitraged to marginal price ``p`` (D of [1e6, 1e6])."""
    xp = np.array([1e6, 1e6])
    d = get_d(xp, amp)
    if p < 1.0:
        dx = kernels.arbitrage_size(xp, amp, d, 0.0, 0, 1, p)
        xp = _after(xp, amp, d, dx)
    elif p > 1.0:
        dy = kernels.arbitrage_size(xp[::-1].copy(), amp, d, 0.0, 0, 1, 1.0 / p)
        xp = _after(xp[::-1].copy(), amp, d, dy)[::-1].copy()
    return lvr_rate(xp, amp, sigma)


def test_bad_input_is_one_sentence():
    times, ext, run = _inputs(2, 1, 5, seed=1)
    common = dict(balances=[1.0, 1.0], amplification=10.0, times=times, seed=0)
    with pytest.raises(ParameterError, match=r"`external` of simulate_stableswap must be finite prices > 0"):
        simulate_stableswap(["static"], external=ext[:, :3], **common)
    with pytest.raises(ParameterError, match=r"`run` of simulate_stableswap .* 0 for the coin bought \(1\)"):
        simulate_stableswap(["static"], external=ext, run=run[..., ::-1], **common)
    with pytest.raises(ParameterError, match=r"`x_coin` and `y_coin` of simulate_stableswap must differ"):
        simulate_stableswap(["static"], external=ext, x_coin=1, y_coin=1, into=0, **common)
    with pytest.raises(ParameterError, match=r"`balances` of lvr_rate must be two finite balances"):
        lvr_rate([1.0, 2.0, 3.0], 10.0, 0.1)
