"""crash_path_from_abm on a small seeded agent market with a sell program, stop-losses and leveraged traders,
checked against the same series recomputed with loops over the raw outputs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from simlab.agents import ExecutionAgents, LeveragedTraders, StopLossAgents, simulate_abm
from simlab.errors import DataError
from simlab.metrics.crash import STATISTICS, crash_path_from_abm, shape_statistics
from tests.simlab.agents.conftest import small_config

GRID_S = 5.0


@pytest.fixture(scope="module")
def crash_run():
    """Ten minutes; 10 leveraged traders (50x) from 100 s, a ladder of 5 sell stops from 200 s, a TWAP seller of
    3000 lots over 300-360 s (seed 36 liquidates 6 traders, with 9 ADL steps)."""
    config = small_config(
        session_s=600.0,
        execution=ExecutionAgents(count=1, side=-1, quantity_lots=3000, start_s=300.0, duration_s=60.0, interval_s=5.0),
        stop_loss=StopLossAgents(count=5, side=-1, quantity_lots=200, start_s=200.0, first_ticks=5, spacing_ticks=3),
        leveraged=LeveragedTraders(
            count=10, side=0, position_lots=100, leverage=50.0, maintenance_margin=0.01, start_s=100.0,
            insurance_fund_ticks=1000,
        ),
    )  # fmt: skip
    return simulate_abm(config, seed=36, path_sample_ns=None)


def by_hand(out) -> dict[str, list[float]]:
    """Every series of the grid, with loops over the books, the trades and the liquidation log."""
    books, events, log = out["books"], out["events"], out["liquidations"]
    config = json.loads(events.attrs["config"])
    open_ns = config["market"]["open_ns"]
    n = int(600.0 // GRID_S) + 1
    bts = books["ts_ns"].values.tolist()
    series = {name: [] for name in ("mid", "spread", "depth", "fund")}
    series.update({name: [0.0] * n for name in ("volume", "maker_gross", "maker_net", "liquidations", "adl")})
    for k in range(n):
        when = open_ns + int(k * GRID_S * 1e9)
        row = -1
        for i, ts in enumerate(bts):
            if ts <= when:
                row = i
        bid = books["bid_price"].values[row].tolist(), books["bid_qty"].values[row].tolist()
        ask = books["ask_price"].values[row].tolist(), books["ask_qty"].values[row].tolist()
        if row < 0 or bid[1][0] == 0 or ask[1][0] == 0:
            series["mid"].append(math.nan), series["spread"].append(math.nan), series["depth"].append(math.nan)
        else:
            mid = (bid[0][0] + ask[0][0]) / 2
            series["mid"].append(mid), series["spread"].append(ask[0][0] - bid[0][0])
            near = sum(q for p, q in zip(*bid, strict=True) if q > 0 and p >= mid - mid * 0.001)
            near += sum(q for p, q in zip(*ask, strict=True) if q > 0 and p <= mid + mid * 0.001)
            series["depth"].append(float(near))
        fund = config["agents"]["leveraged"]["insurance_fund_ticks"]
        steps = log["step_ts_ns"].values.tolist(), log["insurance_fund_ticks_lots"].values.tolist()
        for ts, value in zip(*steps, strict=True):
            if ts <= when:
                fund = value
        series["fund"].append(float(fund))
    counts = events.attrs["agent_counts"]
    makers = range(counts[0] + counts[1], counts[0] + counts[1] + counts[2])  # noise, value, then market makers
    for ts, kind, side, qty, agent, passive in zip(
        *(events[v].values.tolist() for v in ("ts_ns", "kind", "side", "qty_lots", "agent_id", "passive_agent_id")),
        strict=True,
    ):
        if kind not in (5, 6):
            continue
        k = (ts - open_ns) // int(GRID_S * 1e9)
        series["volume"][k] += qty
        for who, sign in ((agent, side), (passive, -side)):
            if who in makers:
                series["maker_gross"][k] += qty
                series["maker_net"][k] += sign * qty
    seen = set()
    steps = (log[v].values.tolist() for v in ("step_ts_ns", "step_agent_id", "step_kind"))
    for ts, agent, kind in zip(*steps, strict=True):
        k = (ts - open_ns) // int(GRID_S * 1e9)
        if agent not in seen:
            seen.add(agent)
            series["liquidations"][k] += 1
        if kind == "adl":
            series["adl"][k] += 1
    return series


def test_crash_path_from_abm_equals_the_series_recomputed_by_hand(crash_run):
    path = crash_path_from_abm(crash_run, GRID_S)
    np.testing.assert_array_equal(path.t_s, np.arange(121) * GRID_S)
    expected = by_hand(crash_run)
    for name, values in expected.items():
        np.testing.assert_array_equal(getattr(path, name), np.array(values, dtype=float), err_msg=name)
    statuses = crash_run["liquidations"]["status"].values.tolist()
    assert path.liquidations.sum() == statuses.count("liquidated") == 6
    assert path.adl.sum() == 9
    assert path.maker_gross.sum() > 0 and path.volume.sum() > 0


def test_the_sell_program_shows_as_a_crash(crash_run):
    path = crash_path_from_abm(crash_run, 1.0)
    got = shape_statistics(path, 300.0, -1, pre_s=120.0)
    assert list(got) == list(STATISTICS)
    assert got["drawdown"] > 0 and 0 < got["time_to_trough_s"] <= 300
    assert got["volume_ratio"] > 1  # the seller trades on top of the background
    assert got["max_spread_ratio"] >= 1
    assert all(not math.isnan(got[name]) for name in ("min_depth_ratio", "hot_potato_ratio", "fund_drawdown"))


def test_a_run_without_leveraged_traders_has_no_liquidation_series(crash_run):
    out = {k: v for k, v in crash_run.items() if k != "liquidations"}
    path = crash_path_from_abm(out, GRID_S)
    assert path.liquidations is None and path.fund is None and path.adl is None
    with pytest.raises(DataError, match="books"):
        crash_path_from_abm({"events": crash_run["events"]})
