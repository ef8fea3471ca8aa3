"""Value agents that read the day's net aggressor flow as news of the value (`value.flow_learning_ticks_per_lot`,
ours): each look against its closed form recomputed from the trade records, the default (0) left bit for bit, bad
values refused, the TOML key. The kernel against the twin with the key on is in test_kernel_twin.py."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.agents import ExecutionAgents, MarketConfig, ValueAgents
from simlab.agents import _kernel as K
from simlab.agents import _rules as R
from simlab.book import _sim
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import run_market, small_config

LAMBDA = 0.05  # ticks per lot


def _config(flow: float, source: str = "all"):
    """Value agents that see the fundamental exactly (observation variance 0: the estimate is the look itself), a
    TWAP buyer that moves the net flow."""
    return small_config(
        execution=ExecutionAgents(count=1, quantity_lots=900, start_s=100, duration_s=600, interval_s=20),
        value=ValueAgents(count=12, arrival_rate_per_s=0.05, observation_variance_ticks2=0.0,
                          flow_learning_ticks_per_lot=flow, flow_learning_source=source),
    )  # fmt: skip


def _net_flow_before(market, ev, t_ns, source):
    """Buyer- minus seller-initiated lots in the trade records strictly before ``t_ns``, and up to ``t_ns`` (with
    ``source`` "others", only the trades whose aggressor is not a value agent)."""
    trades = ev[ev[:, _sim.EV_KIND] == _sim.TRADE]
    if source == "others":
        trades = trades[market.agents[trades[:, K.EV_AGENT], K.A_CLASS] != K.VALUE]
    signed = trades[:, _sim.EV_SIDE] * trades[:, _sim.EV_QTY]
    before = trades[:, _sim.EV_TS] < t_ns
    return int(signed[before].sum()), int(signed[trades[:, _sim.EV_TS] <= t_ns].sum())


@pytest.mark.parametrize("source", ["all", "others"])
@pytest.mark.parametrize("seed", [3, 11])
def test_each_agents_last_look_is_the_fundamental_plus_lambda_times_the_net_flow_of_the_trades_recorded(seed, source):
    market, ev = run_market(_config(LAMBDA, source), seed)
    flow = int(market.ctr[K.C_FLOW if source == "all" else K.C_FLOW_OTHERS])
    assert market.counts()["net_flow_lots" if source == "all" else "net_flow_others_lots"] == flow
    before, upto = _net_flow_before(market, ev, 1 << 62, source)  # past every record: both are the total
    assert flow == before == upto and abs(flow) > 100
    assert market.ctr[K.C_FLOW_OTHERS] != market.ctr[K.C_FLOW]  # the value agents traded aggressively
    fund_ts = market.fund_ts[: int(market.ctr[K.C_FUND])]
    fund_val = market.fund_val[: int(market.ctr[K.C_FUND])]
    checked = told_apart = 0
    other = "others" if source == "all" else "all"
    for k in range(market.vstate.shape[0]):
        t = int(market.vprev[k])  # the agent's last look: with no observation noise its estimate is that look
        if t == market.config.open_ns:
            continue
        fundamental = fund_val[np.flatnonzero(fund_ts <= t)[-1]]
        looks = {float(np.rint(fundamental + LAMBDA * f)) for f in _net_flow_before(market, ev, t, source)}
        estimate = market.vstate[k, R.V_ESTIMATE]
        assert min(abs(estimate - x) for x in looks) < 1e-6, (k, estimate, looks)
        wrong = {float(np.rint(fundamental + LAMBDA * f)) for f in _net_flow_before(market, ev, t, other)}
        told_apart += min(abs(estimate - x) for x in wrong) > 0.5  # the other source's looks would not match
        checked += 1
    assert checked >= 8 and told_apart >= 1
    shift = [market.vstate[k, R.V_ESTIMATE] - fund_val[np.flatnonzero(fund_ts <= market.vprev[k])[-1]]
             for k in range(market.vstate.shape[0])]  # fmt: skip
    assert max(abs(s) for s in shift) >= 1.0  # the flow moved the looks by ticks: the check is not vacuous


def test_the_key_off_is_the_default_and_on_it_changes_the_market():
    assert ValueAgents().flow_learning_ticks_per_lot == 0.0  # off: the market of before, bit for bit, is what
    _, ev_off = run_market(_config(0.0), 3)  # test_market's digest of a default day with value agents pins
    _, ev_on = run_market(_config(LAMBDA), 3)
    assert not np.array_equal(ev_on, ev_off)


@pytest.mark.parametrize("value", [-0.01, float("nan"), float("inf"), "0.1", None, True])
def test_bad_values_are_refused_with_the_key_named(value):
    with pytest.raises(ParameterError, match="flow_learning_ticks_per_lot"):
        ValueAgents(flow_learning_ticks_per_lot=value)


def test_a_bad_source_or_a_source_without_the_rule_is_refused():
    for bad in ("value", "", None, 1):
        with pytest.raises(ParameterError, match="flow_learning_source.*one of"):
            ValueAgents(flow_learning_ticks_per_lot=0.02, flow_learning_source=bad)
    with pytest.raises(ParameterError, match="flow_learning_source.*flow_learning_ticks_per_lot"):
        ValueAgents(flow_learning_source="others")
    assert ValueAgents().flow_learning_source == "all"


def test_the_keys_are_read_from_toml():
    data = {"agents": {"value": {"flow_learning_ticks_per_lot": 0.02, "flow_learning_source": "others"}}}
    v = MarketConfig.from_dict(data).value
    assert (v.flow_learning_ticks_per_lot, v.flow_learning_source) == (0.02, "others")
