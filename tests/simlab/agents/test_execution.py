"""Execution agents: a TWAP works its whole metaorder in equal slices, a POV agent trades its share of the others'
volume; the report's arrival price, fills, slippage and impact path agree with the events."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simlab.agents import ExecutionAgents, simulate_abm
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import small_config


def test_twap_executes_the_metaorder_in_equal_slices():
    x = ExecutionAgents(count=1, side=-1, quantity_lots=1200, start_s=100, duration_s=600, interval_s=40)
    out = simulate_abm(small_config(execution=x), seed=21, path_sample_ns=10**10)
    report, events = out["execution"], out["events"]
    assert int(report["executed_lots"][0]) == 1200
    assert events.attrs["orders_execution"] == math.ceil(600 / 40)  # one child per slice
    agent = int(report["agent_id"][0])
    adds = events["qty_lots"].values[(events["agent_id"].values == agent) & (events["kind"].values == 1)]
    trades = events["kind"].values == 5
    mine = trades & ((events["agent_id"].values == agent) | (events["passive_agent_id"].values == agent))
    sizes = events["qty_lots"].values[mine]
    prices = events["price_ticks"].values[mine]
    np.testing.assert_allclose(float(report["average_price_ticks"][0]), (prices * sizes).sum() / sizes.sum())
    assert adds.sum() <= 1200  # what rests is the part of a child not yet filled
    arrival = float(report["arrival_mid_ticks"][0])
    slip = -(float(report["average_price_ticks"][0]) - arrival) / arrival * 1e4
    np.testing.assert_allclose(float(report["slippage_bps"][0]), slip)


def test_a_twap_of_fewer_lots_than_slices_spreads_them_over_its_whole_duration():
    """5 lots over 15 slices of 40 s: one lot due at slices 0, 3, 6, 9 and 12 (ceil(5 (j + 1) / 15) rises there), so
    the last is bought 480 s after the start. The rule before session 16 (the rest over the slices left) sent one lot
    a slice and was done after 5 slices (160 s), leaving the rest of the window without the metaorder."""
    x = ExecutionAgents(count=1, side=1, quantity_lots=5, start_s=100, duration_s=600, interval_s=40)
    config = small_config(execution=x)
    out = simulate_abm(config, seed=23, path_sample_ns=10**10)
    report, events = out["execution"], out["events"]
    assert int(report["executed_lots"][0]) == 5
    agent = int(report["agent_id"][0])
    kind, t = events["kind"].values, events["ts_ns"].values
    mine = (kind == 5) & ((events["agent_id"].values == agent) | (events["passive_agent_id"].values == agent))
    slices = (t[mine] - config.open_ns - 100 * 10**9) // (40 * 10**9)
    assert sorted(set(slices.tolist())) == [0, 3, 6, 9, 12]
    assert events["qty_lots"].values[mine].sum() == 5


def test_pov_trades_its_share_of_the_others_volume():
    p = 0.15
    x = ExecutionAgents(count=1, strategy="pov", quantity_lots=10**7, start_s=60, duration_s=1000, participation=p)
    out = simulate_abm(small_config(execution=x), seed=22, path_sample_ns=10**10)
    events, report = out["events"], out["execution"]
    agent = int(report["agent_id"][0])
    t = events["ts_ns"].values
    trades = (events["kind"].values == 5) & (t >= events.attrs["end_ns"] - 1140 * 10**9)
    mine = trades & ((events["agent_id"].values == agent) | (events["passive_agent_id"].values == agent))
    own, total = events["qty_lots"].values[mine].sum(), events["qty_lots"].values[trades].sum()
    assert own == int(report["executed_lots"][0]) > 0
    assert 0.6 * p < own / total <= p + 0.01


def test_bad_execution_parameters():
    with pytest.raises(ParameterError, match=r"`strategy` of ExecutionAgents must be one of \('twap', 'pov', 'vwap'"):
        ExecutionAgents(strategy="is")
    with pytest.raises(ParameterError, match=r"`side` of ExecutionAgents must be \+1 \(buy\) or -1 \(sell\); got 0"):
        ExecutionAgents(side=0)
    with pytest.raises(ParameterError, match=r"`participation` of ExecutionAgents must be in \(0, 1\); got 1.0"):
        ExecutionAgents(participation=1.0)


def test_an_idle_execution_agent_changes_nothing_common_random_numbers():
    base = small_config(session_s=600.0)
    idle = small_config(session_s=600.0, execution=ExecutionAgents(count=1, start_s=700.0))
    active = small_config(session_s=600.0, execution=ExecutionAgents(count=1, start_s=300.0, duration_s=200.0))
    a, b, c = (simulate_abm(config, seed=30, path_sample_ns=10**10)["events"] for config in (base, idle, active))
    for name in ("ts_ns", "kind", "side", "price_ticks", "qty_lots", "agent_id"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    first = np.argmax(c["agent_id"].values == sum(active.counts) - 1)
    assert first > 0
    for name in ("ts_ns", "kind", "side", "price_ticks", "qty_lots", "agent_id"):  # the same market until its order
        np.testing.assert_array_equal(a[name].values[:first], c[name].values[:first])


def test_vwap_and_almgren_chriss_schedules_follow_their_closed_forms():
    from simlab.agents.execution import execution_schedule

    ac = ExecutionAgents(
        strategy="almgren_chriss", quantity_lots=10_000, duration_s=600, interval_s=60, urgency_per_s=0.01
    )
    tau = np.arange(1, 11) / 10
    np.testing.assert_array_equal(
        execution_schedule(ac), np.rint(10_000 * (1 - np.sinh(6 * (1 - tau)) / np.sinh(6))).astype(np.int64)
    )
    slow = ExecutionAgents(
        strategy="almgren_chriss", quantity_lots=10_000, duration_s=600, interval_s=60, urgency_per_s=1e-6
    )
    np.testing.assert_allclose(execution_schedule(slow), 10_000 * tau, atol=1)  # no urgency: TWAP
    vwap = ExecutionAgents(strategy="vwap", quantity_lots=1000, duration_s=400, interval_s=100, profile=(3, 1, 0, 1))
    np.testing.assert_array_equal(execution_schedule(vwap), [600, 800, 800, 1000])


def test_an_almgren_chriss_agent_front_loads_its_metaorder():
    x = ExecutionAgents(count=1, strategy="almgren_chriss", quantity_lots=1000, start_s=100, duration_s=600,
                        interval_s=30, urgency_per_s=0.01)  # fmt: skip
    out = simulate_abm(small_config(execution=x), seed=23, path_sample_ns=10**10)
    events, agent = out["events"], int(out["execution"]["agent_id"][0])
    mine = (events["kind"].values == 5) & (
        (events["agent_id"].values == agent) | (events["passive_agent_id"].values == agent)
    )
    t = (events["ts_ns"].values[mine] - events.attrs["end_ns"] + 1100 * 10**9) / 1e9  # seconds after its start
    lots = events["qty_lots"].values[mine]
    assert lots.sum() == 1000
    assert lots[t < 300].sum() > 0.7 * 1000  # k T = 6: 1 - sinh(3) / sinh(6) = 95 % due by half time
    with pytest.raises(ParameterError, match=r"`profile` of ExecutionAgents must be weights >= 0 with a positive sum"):
        ExecutionAgents(strategy="vwap", profile=(0, 0))
