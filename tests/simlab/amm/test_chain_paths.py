"""Chain (block-time laws, EIP-1559) and reference paths (GBM, events)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simlab.amm.chain import BlockTimes, Gas, base_fee_path
from simlab.amm.paths import PricePath, gbm_paths, gbm_prices, path_from_events
from simlab.errors import DataError, ParameterError
from simlab.schema import EventKind, make_events


def test_base_fee_follows_the_eip1559_recursion():
    rng = np.random.default_rng(0)
    used = rng.uniform(0, 2, size=(3, 50))
    fees = base_fee_path(30.0, used)
    for row in range(3):
        expected = [30.0]
        for u in used[row, :-1]:
            expected.append(expected[-1] * (1 + (u - 1) / 8))
        assert np.allclose(fees[row], expected, rtol=1e-13)
    assert base_fee_path(10.0, np.full(9, 2.0))[-1] == pytest.approx(10.0 * 1.125**8, rel=1e-14)
    with pytest.raises(ParameterError, match=r"`used_over_target` of base_fee_path must be in \[0, 2\]"):
        base_fee_path(10.0, np.array([0.5, 2.5]))


def test_block_laws_have_their_mean_gaps():
    rng = np.random.default_rng(1)
    for law, expected in ((BlockTimes("fixed", 12.0), 12.0), (BlockTimes("poisson", 12.0), 12.0),
                          (BlockTimes("missed_slots", 12.0, 0.2), 15.0)):  # fmt: skip
        gaps = np.diff(law.sample(100, 2000, rng), axis=1)
        assert gaps.mean() == pytest.approx(expected, rel=0.01) and law.expected_gap_s == expected
        if law.law == "missed_slots":
            assert np.allclose(gaps % 12.0, 0.0) and (gaps >= 12.0).all()
    costs = Gas(gas_units=100_000, base_fee_gwei=20.0, priority_fee_gwei=1.0, native_price=3000.0).sample(4, 10, rng)
    assert costs[:, 0] == pytest.approx(100_000 * 21e-9 * 3000.0)
    assert Gas().sample(2, 3, rng).sum() == 0.0


def test_gbm_kernel_equals_numpy_cumulative_sums():
    times = np.random.default_rng(3).exponential(12.0, size=(5, 40)).cumsum(axis=1)
    prices, log_prices = gbm_paths(0.9, times, 2500.0, np.random.default_rng(4))
    normals = np.random.default_rng(4).standard_normal((5, 39))
    variance = 0.9**2 / (365 * 86400) * np.diff(times, axis=1)
    steps = np.sqrt(variance) * normals - variance / 2
    expected = math.log(2500.0) + np.concatenate((np.zeros((5, 1)), np.cumsum(steps, axis=1)), axis=1)
    assert np.allclose(log_prices, expected, rtol=0, atol=1e-13)
    assert np.allclose(prices, np.exp(expected), rtol=1e-13)


def test_gbm_prices_are_a_martingale_with_the_right_variance():
    times = np.broadcast_to(np.arange(101) * 12.0, (20000, 101))
    volatility = 0.8
    prices = gbm_prices(volatility, times, 100.0, np.random.default_rng(2))
    variance = volatility**2 * 1200.0 / (365 * 86400)
    log_return = np.log(prices[:, -1] / 100.0)
    assert prices[:, -1].mean() / 100.0 == pytest.approx(1.0, abs=3 * math.sqrt(math.expm1(variance) / 20000))
    assert log_return.var() == pytest.approx(variance, rel=0.03)


def test_a_path_from_events_takes_the_last_price_of_each_block():
    ts = np.array([0, 5, 11, 13, 30, 41]) * 10**9
    events = make_events(ts_ns=ts, kind=int(EventKind.TRADE), side=1, price_ticks=np.array([100, 101, 102, 99, 98, 97]),
                         qty_lots=1, tick_size=0.5, lot_size=1.0, instrument="TEST", venue="x")  # fmt: skip
    path = path_from_events(events, block_s=12.0)
    assert path.times.tolist() == [0.0, 12.0, 24.0, 36.0]
    assert path.prices.tolist() == [50.0, 51.0, 49.5, 49.0]
    with pytest.raises(DataError, match="PricePath p: block times must increase; block 1 is at 0.0 s"):
        PricePath(np.array([0.0, 0.0]), np.array([1.0, 1.0]), source="p")
    with pytest.raises(ParameterError, match="`block_s` of path_from_events must be a finite number > 0"):
        path_from_events(events, block_s=0.0)


def test_a_fee_free_pool_on_a_real_cex_path_loses_exactly_the_per_block_closed_form():
    """XRP/ETH aggTrades (2.5 days) on 12 s blocks: per block, the arbitrage profit of a fee-free pool over the pool
    value is (e^{r/2} - 1)^2 / (e^r + 1) for the block's log return r (about r^2 / 8), to rounding."""
    from simlab.amm.engine import Market, simulate_amm
    from simlab.amm.paths import path_from_file
    from tests.conftest import shared_path

    path = path_from_file(shared_path("binance_trades_xrpeth_2019-10/XRPETH-aggTrades-2019-10-11_to_13.csv.gz"))
    assert path.n_blocks == 17796 and path.source == "XRPETH"
    ds = simulate_amm([("static", {"fee": 0.0})], markets=Market(reference=path), n_paths=1, seed=0)
    r = np.diff(np.log(path.prices))
    expected = np.sum(np.expm1(r / 2) ** 2 / (np.exp(r) + 1)) / path.n_blocks
    got = float(ds["value"].sel(metric="arb_profit_rel").squeeze())
    assert got == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(np.mean(r**2) / 8, rel=0.01)
