"""Stress rules: the circuit breaker stops matching for its pause after a large move (no trade inside a halt, every
halt resumed after exactly its pause); the market makers' withdrawal rule."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.agents import CircuitBreaker, MarketMakers, simulate_abm
from simlab.agents import _rules as R
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import small_config


def test_no_trade_inside_a_halt_and_each_halt_lasts_its_pause():
    breaker = CircuitBreaker(move_pct=0.02, window_s=30.0, pause_s=5.0)
    events = simulate_abm(small_config(circuit_breaker=breaker), seed=41, path_sample_ns=10**10)["events"]
    kind, ts, qty = events["kind"].values, events["ts_ns"].values, events["qty_lots"].values
    halts, resumes = ts[(kind == 8) & (qty == 1)], ts[(kind == 8) & (qty == 0)]
    assert halts.size == events.attrs["halts"] >= 3
    np.testing.assert_array_equal(resumes, halts[: resumes.size] + 5 * 10**9)
    trade_ts = ts[kind == 5]
    for start, end in zip(halts, resumes, strict=False):
        assert not ((trade_ts > start) & (trade_ts < end)).any()
    calm = simulate_abm(small_config(), seed=41, path_sample_ns=10**10)["events"]
    assert (calm["kind"].values == 8).sum() == 0


def test_maker_withdraws_on_inventory_or_a_move():
    mp = np.zeros(10)
    mp[R.MP_WITHDRAW_INV], mp[R.MP_WITHDRAW_MOVE] = 100, 5.0
    assert R.maker_withdraws(-100, 10_000, 10_000, mp) and not R.maker_withdraws(99, 10_000, 10_000, mp)
    assert R.maker_withdraws(0, 10_005, 10_000, mp) and not R.maker_withdraws(0, 10_004, 10_000, mp)
    assert not R.maker_withdraws(0, 10_005, -1.0, mp)  # no previous look
    mp[:] = 0.0
    assert not R.maker_withdraws(10**6, 20_000, 10_000, mp)  # both triggers off


def test_withdrawn_makers_quote_less():
    makers = dict(count=2, wake_interval_s=20.0, levels=4, volume_window_s=20.0)
    pulled = MarketMakers(**makers, withdraw_inventory_lots=1, withdraw_size_factor=0.2, withdraw_spread_factor=3.0)
    sizes = []
    for market_maker in (MarketMakers(**makers), pulled):
        out = simulate_abm(small_config(market_maker=market_maker), seed=42, path_sample_ns=10**10)
        events = out["events"]
        maker = np.isin(events["agent_id"].values, [52, 53]) & (events["kind"].values == 1)
        sizes.append(events["qty_lots"].values[maker].mean())
    assert out["events"].attrs["maker_withdrawals"] > 0
    assert sizes[1] < 0.5 * sizes[0]


def test_bad_stress_parameters():
    with pytest.raises(ParameterError, match=r"`withdraw_size_factor` of MarketMakers must be in \(0, 1\]"):
        MarketMakers(withdraw_spread_factor=0.5)
    with pytest.raises(ParameterError, match=r"`pause_s` of CircuitBreaker must be > 0.0; got 0"):
        CircuitBreaker(pause_s=0)


def test_stop_loss_ladder_cascades_as_computed_by_hand():
    from simlab.agents import (
        ExecutionAgents,
        InitialBook,
        Latency,
        MarketConfig,
        MarketMakers,
        MomentumAgents,
        NoiseAgents,
        StopLossAgents,
        ValueAgents,
    )

    config = MarketConfig(
        session_s=10.0,
        noise=NoiseAgents(count=0), value=ValueAgents(count=0), market_maker=MarketMakers(count=0),
        momentum=MomentumAgents(count=0), latency=Latency(model="fixed", fixed_ns=1_000_000),
        initial_book=InitialBook(levels=20, qty_lots=100, spread_ticks=2),  # bids 99999, 99998, ...; asks 100001, ...
        execution=ExecutionAgents(count=1, side=-1, quantity_lots=100, start_s=2.0, duration_s=1.0, interval_s=1.0),
        stop_loss=StopLossAgents(count=3, side=-1, quantity_lots=150, start_s=1.0, first_ticks=1, spacing_ticks=1),
    )  # fmt: skip
    events = simulate_abm(config, seed=1, sample_ns=10**9, path_sample_ns=10**9)["events"]
    trades = events.isel(event=events["kind"].values == 5)
    t0 = config.open_ns + 2_003_000_000  # the seller wakes at 2 s, looks 1 ms later, its child arrives 2 ms after
    ms = 1_000_000
    # stops armed at 1.001 s around the mid 100000: 99999, 99998, 99997. The seller's 100 lots at 99999 fire the
    # first stop, whose 150 lots (1 ms later) take 99998 and half of 99997 and fire the other two, whose orders
    # arrive together 1 ms later and go in ladder order.
    expected = [
        (t0, 99999, 100, 0),
        (t0 + ms, 99998, 100, 1), (t0 + ms, 99997, 50, 1),
        (t0 + 2 * ms, 99997, 50, 2), (t0 + 2 * ms, 99996, 100, 2),
        (t0 + 2 * ms, 99995, 100, 3), (t0 + 2 * ms, 99994, 50, 3),
    ]  # fmt: skip
    got = list(
        zip(
            trades["ts_ns"].values.tolist(), trades["price_ticks"].values.tolist(),
            trades["qty_lots"].values.tolist(), trades["agent_id"].values.tolist(), strict=True,
        )
    )  # fmt: skip
    assert got == expected
    assert (trades["side"].values == -1).all() and (trades["passive_agent_id"].values == -1).all()
