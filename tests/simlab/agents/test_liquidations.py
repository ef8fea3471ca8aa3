"""The liquidation engine against hand-computed ladders: liquidation and bankruptcy prices, the order of the
liquidations, the insurance fund's path and the auto-deleveraging ranking; cash and shares conserved."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.agents import (
    ExecutionAgents,
    Fundamental,
    InitialBook,
    Latency,
    LeveragedTraders,
    MarketConfig,
    MarketMakers,
    MomentumAgents,
    NoiseAgents,
    StopLossAgents,
    ValueAgents,
    simulate_abm,
)
from simlab.errors import ParameterError


def _ladder(levels: int, stop_lots: int, traders: LeveragedTraders) -> MarketConfig:
    """A book of ``levels`` x 100 lots a side around 1000 ticks (bids 999, 998, ...; asks 1001, ...); leveraged
    traders open at 1 s, 2 s, ...; a sell stop armed at 9 s 2 ticks under the mid; a seller of 100 lots at 10 s."""
    return MarketConfig(
        session_s=20.0, fundamental=Fundamental(mean_ticks=1000.0),
        noise=NoiseAgents(count=0), value=ValueAgents(count=0), market_maker=MarketMakers(count=0),
        momentum=MomentumAgents(count=0), latency=Latency(model="fixed", fixed_ns=1_000_000),
        initial_book=InitialBook(levels=levels, qty_lots=100, spread_ticks=2),
        execution=ExecutionAgents(count=1, side=-1, quantity_lots=100, start_s=10.0, duration_s=1.0, interval_s=1.0),
        stop_loss=StopLossAgents(count=1, side=-1, quantity_lots=stop_lots, start_s=9.0, first_ticks=2),
        leveraged=traders,
    )  # fmt: skip


def _steps(report):
    return list(
        zip(
            report["step_agent_id"].values.tolist(), report["step_kind"].values.tolist(),
            report["step_lots"].values.tolist(), report["step_counterparty"].values.tolist(),
            np.round(report["step_price_ticks"].values, 6).tolist(),
            report["insurance_fund_ticks_lots"].values.tolist(), strict=True,
        )
    )  # fmt: skip


def test_a_long_ladder_liquidated_in_the_book():
    longs = LeveragedTraders(count=3, side=1, position_lots=100, leverage=50.0, maintenance_margin=0.01, start_s=1.0)
    out = simulate_abm(_ladder(20, 700, longs), seed=1, sample_ns=10**9, path_sample_ns=None)
    report = out["liquidations"]
    # entries 1001, 1002, 1003 (each lifts one ask level); liquidation e (1 - 1/50) / (1 - 0.01), bankruptcy e 0.98
    np.testing.assert_allclose(report["entry_ticks"], [1001, 1002, 1003])
    np.testing.assert_allclose(report["liquidation_ticks"], np.array([1001, 1002, 1003]) * 0.98 / 0.99)
    np.testing.assert_allclose(report["bankruptcy_ticks"], np.array([1001, 1002, 1003]) * 0.98)
    # the stop (armed at mid 1001 - 2 = 999) fires on the seller's 100 lots at 999 and sells 700 lots down to 992,
    # past agent 4's 992.87 only: it sells at 991, which passes agent 3's 991.88 (sells at 990), then agent 2's
    # 990.89 (sells at 989). Fund: 99100 - 98294 = 806, + 99000 - 98196 = 804, + 98900 - 98098 = 802
    assert _steps(report) == [
        (4, "book", 100, -1, 991.0, 806), (3, "book", 100, -1, 990.0, 1610), (2, "book", 100, -1, 989.0, 2412),
    ]  # fmt: skip
    assert (report["status"].values == "liquidated").all()
    paths = out["paths"]
    np.testing.assert_array_equal(paths["inventory_lots"].sum("agent_class"), 0)
    np.testing.assert_array_equal(paths["cash_ticks_lots"].sum("agent_class"), 5 * 10_000_000)
    trader = paths["pnl_ticks_lots"].sel(agent_class=6).values[-1]  # each lost its margin: e x 100 / 50
    np.testing.assert_allclose(trader, -(1001 + 1002 + 1003) * 2, atol=2)


def test_what_the_book_cannot_take_is_deleveraged_against_the_best_ranked_short():
    both = LeveragedTraders(count=4, side=0, position_lots=100, leverage=50.0, maintenance_margin=0.01, start_s=1.0)
    out = simulate_abm(_ladder(12, 800, both), seed=1, sample_ns=10**9, path_sample_ns=None)
    report = out["liquidations"]
    # long 2 @1001, short 3 @999, long 4 @1002, short 5 @998; bids left 997..988. The stop's 800 lots take 996..989:
    # long 4 (liq 991.88) closes its 100 at 988 (fund 98800 - 98196 = 604), long 2 finds no bid: its 100 lots go
    # to the short with the best profit x leverage at 988: agent 3 ((999 - 988) / 999 > (998 - 988) / 998), at the
    # bankruptcy price 980.98; the fund is unchanged.
    np.testing.assert_allclose(report["entry_ticks"], [1001, 999, 1002, 998])
    assert _steps(report) == [(4, "book", 100, -1, 988.0, 604), (2, "adl", 100, 3, 980.98, 604)]
    assert report["status"].values.tolist() == ["liquidated", "deleveraged", "liquidated", "open"]
    assert report["position_lots"].values.tolist() == [0, 0, 0, -100]
    paths = out["paths"]
    np.testing.assert_array_equal(paths["inventory_lots"].sum("agent_class"), 0)
    np.testing.assert_array_equal(paths["cash_ticks_lots"].sum("agent_class"), 6 * 10_000_000)


def test_bad_leverage_parameters():
    with pytest.raises(ParameterError, match=r"`leverage` of LeveragedTraders must be > 0.0; got -2"):
        LeveragedTraders(leverage=-2)
    with pytest.raises(ParameterError, match=r"`maintenance_margin` of LeveragedTraders must be below the initial"):
        LeveragedTraders(leverage=20.0, maintenance_margin=0.05)
