"""Safe order size from the agent-based market: the paired impact against a book nobody trades on (equal to the book
walk by hand), the realised safe-size label against a slow twin, and the task's inputs read nothing after the
origin."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from scenarios.forecast.safe_size import ImpactSetup, impact_curve, safe_size_summary
from scenarios.forecast.safe_size_task import origin_features, realised_safe, score_task, task_rows
from simlab.agents import InitialBook, MarketConfig, MarketMakers, MomentumAgents, NoiseAgents, ValueAgents
from simlab.errors import ParameterError
from simlab.schema import NO_PRICE, EventKind

EMPTY = replace(MarketConfig(), noise=NoiseAgents(count=0), value=ValueAgents(count=0),
                market_maker=MarketMakers(count=0), momentum=MomentumAgents(count=0),
                initial_book=InitialBook(levels=5, qty_lots=100, spread_ticks=2))  # fmt: skip
SMALL = replace(MarketConfig(), noise=NoiseAgents(count=60, wake_start_s=0.0), value=ValueAgents(count=12),
                momentum=MomentumAgents(count=2), initial_book=InitialBook(levels=5))  # fmt: skip


def test_an_order_into_a_book_nobody_trades_on_moves_it_as_walked_by_hand():
    # asks a, a+1, ..., a+4 with 100 lots each: 100 lots empty the touch (the mid moves half a tick), 250 lots
    # leave 50 at a+2 (one tick; they pay 0x100 + 1x100 + 2x50 = 200 tick-lots, 0.8 ticks per lot), 400 lots
    # leave a+4 (two ticks); nobody reacts, so the impact stays so at every horizon
    setup = ImpactSetup(EMPTY, duration_s=120.0, horizons_s=(0.0, 10.0, 60.0))
    curve = impact_curve(setup, 30.0, seed=3, markets=2, grid=(100, 250, 400))
    expected = np.array([0.5, 1.0, 2.0])
    assert np.array_equal(curve["walk_impact_ticks"].values, np.tile(expected, (2, 1)))
    assert np.array_equal(curve["impact_ticks"].values, np.tile(expected[None, :, None], (2, 1, 3)))
    assert np.array_equal(curve["slippage_ticks"].values[0], [0.0, 0.8, (100 + 200 + 300) / 400])
    assert np.array_equal(curve["slippage_ticks"].values, curve["walk_slippage_ticks"].values)
    summary = safe_size_summary(curve, 1.0, 10.0, rng=0, n_boot=50)
    assert summary["safe_abm_lots"] == summary["safe_walk_lots"] == 250
    assert summary["safe_abm_interval_lots"] == [250, 250]
    with pytest.raises(ParameterError, match="leveraged trader"):
        ImpactSetup(replace(EMPTY, leveraged=replace(EMPTY.leveraged, count=1)), duration_s=60.0)


def _slow_mid(books, t_ns):
    mid = np.nan
    for row in range(books.sizes["time"]):
        if books["ts_ns"].values[row] > t_ns:
            break
        bid, ask = books["bid_price"].values[row, 0], books["ask_price"].values[row, 0]
        if bid != NO_PRICE and ask != NO_PRICE:
            mid = (bid + ask) / 2
    return mid


def _slow_label(setup, baseline, market, at_s, bound, horizon, grid):
    """Every size run, the order's arrival and the mids found by plain loops, then the first size over the bound."""
    impacts = []
    for size in grid:
        run = setup.run(9, market, size, at_s)
        trader = int(run["liquidations"]["agent_id"].values[0])
        events = run["events"]
        arrival = None
        for i in range(events.sizes["event"]):
            if events["kind"].values[i] == EventKind.TRADE and events["agent_id"].values[i] == trader:
                arrival = int(events["ts_ns"].values[i])
                break
        end = arrival + int(horizon * 1e9)
        impacts.append(_slow_mid(run["books"], end) - _slow_mid(baseline["books"], end))
    for j, impact in enumerate(impacts):
        if not impact <= bound:
            return j
    return len(grid)


def test_the_realised_safe_size_matches_a_slow_twin():
    setup = ImpactSetup(SMALL, duration_s=400.0, horizons_s=(0.0, 5.0), depth=20)
    grid = (5, 20, 60, 200)
    labels = []
    for market in (0, 1):
        baseline = setup.run(9, market)
        for at_s, bound in ((120.0, 0.5), (250.0, 3.0)):
            fast = realised_safe(setup, baseline, 9, market, at_s, bound, 5.0, grid)
            assert fast == _slow_label(setup, baseline, market, at_s, bound, 5.0, grid)
            labels.append(fast)
    assert len(set(labels)) > 1  # the cases are not all alike


def test_the_inputs_read_nothing_after_the_origin():
    setup = ImpactSetup(SMALL, duration_s=300.0, horizons_s=(0.0, 5.0), depth=20)
    books = setup.run(4, 0)["books"]
    t_ns = SMALL.open_ns + 150 * 10**9
    first = origin_features(books, t_ns, SMALL.open_ns, 300.0, 2.0, 1)
    scrambled = books.copy(deep=True)
    after = scrambled["ts_ns"].values > t_ns
    assert after.sum() > 10
    for name in ("bid_price", "ask_price", "bid_qty", "ask_qty"):
        scrambled[name].values[after] = scrambled[name].values[after][::-1]
    assert np.array_equal(origin_features(scrambled, t_ns, SMALL.open_ns, 300.0, 2.0, 1), first)


def test_the_task_scores_its_forecasters_on_held_out_markets():
    setup = ImpactSetup(SMALL, duration_s=300.0, horizons_s=(5.0,), depth=20)
    rows = task_rows(setup, seed=2, markets=4, origins_s=np.array([100.0, 200.0]), lead_s=20.0, bound_ticks=2.0,
                     horizon_s=5.0, grid=(5, 20, 60))  # fmt: skip
    scores = score_task(rows, 2)
    assert scores["test_origins"] == 4 and sum(scores["label_counts"]) == 4
    assert rows["inputs"].values[..., 0].max() <= 3 and rows["label"].values.max() <= 3
    persistence = rows["inputs"].values[2:, :, 0].ravel()
    truth = rows["label"].values[2:].ravel()
    assert scores["persistence"]["mse"] == pytest.approx(np.mean((truth - persistence) ** 2))
    with pytest.raises(ParameterError, match="train_markets"):
        score_task(rows, 4)


def test_the_summary_leaves_out_markets_without_liquidity_and_stops_at_a_walk_the_book_cannot_hold():
    import xarray as xr

    impact = np.array([[0.0, 1.0, 9.0], [2.0, 3.0, 4.0], [np.nan, np.nan, np.nan]])  # market 2 found no asks
    walk = np.array([[0.0, 1.0, 2.0], [2.0, np.nan, 4.0], [np.nan, np.nan, np.nan]])  # market 1's book too thin
    filled = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    curve = xr.Dataset(
        {"impact_ticks": (("market", "size", "horizon"), impact[:, :, None]),
         "walk_impact_ticks": (("market", "size"), walk), "filled_lots": (("market", "size"), filled)},
        coords={"size": [10, 20, 50], "horizon_s": ("horizon", [10.0])},
    )  # fmt: skip
    summary = safe_size_summary(curve, 5.0, 10.0, rng=0, n_boot=20)
    assert summary["no_liquidity_markets"] == 1 and summary["markets"] == 2
    assert summary["abm_impact_ticks"] == [1.0, 2.0, 6.5] and summary["safe_abm_lots"] == 20
    assert summary["walk_held"] == [2, 1, 2] and summary["safe_walk_lots"] == 10
