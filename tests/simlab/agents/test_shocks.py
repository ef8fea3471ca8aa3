"""Shock primitives of issue 17, each alone on a toy market: a news jump moves the fundamental by exactly its size; a
withdrawal multiplies the makers' quoted depth by its factor (against the same market without it, common random
numbers); a mispriced mark liquidates exactly the positions whose liquidation price it crosses, in order (a
hand-computed ladder); a scheduled pause stops matching for its length; the trailing-volume POV seller follows its
closed form; a sell program moves the mid by what the impact law fitted on the same market predicts. Bad input:
one sentence naming the key. (The kernel against the twin with every shock: test_kernel_twin.py.)"""

from __future__ import annotations

import math
from dataclasses import replace

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
    MarkShock,
    MomentumAgents,
    NewsShock,
    NoiseAgents,
    PauseShock,
    Shocks,
    ValueAgents,
    WithdrawalShock,
    simulate_abm,
)
from simlab.agents import _kernel as K
from simlab.agents.impact import metaorder_impact, program_against_law
from simlab.agents.market import _Market, _root
from simlab.book import _sim
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import small_config

S = 10**9
COLUMNS = ("ts_ns", "kind", "side", "price_ticks", "qty_lots", "order_id", "agent_id")


def _same_until(a, b, t_ns):
    """The two runs' events agree up to ``t_ns`` (common random numbers)."""
    ka, kb = a["ts_ns"].values < t_ns, b["ts_ns"].values < t_ns
    assert ka.sum() == kb.sum() > 100
    for name in COLUMNS:
        np.testing.assert_array_equal(a[name].values[ka], b[name].values[kb])


def test_no_shock_in_the_run_changes_no_byte():
    late = Shocks(
        news=NewsShock(time_s=700.0, jump_bps=500.0),
        withdrawal=WithdrawalShock(start_s=650.0, duration_s=100.0, size_factor=0.0, spread_factor=5.0),
        mark=MarkShock(start_s=650.0, duration_s=100.0, factor=0.5),
        pause=PauseShock(start_s=620.0, duration_s=60.0),
    )
    leveraged = LeveragedTraders(count=6, side=0, position_lots=50, leverage=200.0, maintenance_margin=0.001)
    plain, shocked = small_config(leveraged=leveraged), small_config(leveraged=leveraged, shocks=late)
    a, b = (simulate_abm(c, seed=8, duration_s=600.0, path_sample_ns=10 * S) for c in (plain, shocked))
    for group in a:
        for name in a[group].variables:
            np.testing.assert_array_equal(a[group][name].values, b[group][name].values)
    assert np.isnan(b["fundamental"].attrs["news_before_ticks"])  # the jump never came


def test_a_news_jump_moves_the_fundamental_by_exactly_its_size():
    still = Fundamental(volatility_ticks_per_sqrt_s=0.0, megashock_rate_per_s=0.0, mean_reversion_per_s=1e-12)
    config = small_config(fundamental=still, shocks=Shocks(news=NewsShock(time_s=300.0, jump_bps=-200.0)))
    out = simulate_abm(config, seed=5, path_sample_ns=10 * S)
    f = out["fundamental"]
    t, value = f["ts_ns"].values - config.open_ns, f["value_ticks"].values
    np.testing.assert_array_equal(value[t < 300 * S], 100_000.0)  # no noise: the mean until the news
    assert value[t == 300 * S].tolist() == [100_000.0 * (1 - 0.02)]  # recorded at the news time
    np.testing.assert_allclose(value[t > 300 * S], 98_000.0, rtol=1e-8)  # value agents look at the new level
    assert f.attrs["news_before_ticks"] == 100_000.0 and f.attrs["news_after_ticks"] == 98_000.0
    mid = out["paths"]["mid_ticks"].values
    minutes = (out["paths"]["ts_ns"].values - config.open_ns) / 60e9
    assert abs(np.nanmean(mid[(minutes > 2) & (minutes <= 5)]) / 100_000 - 1) < 0.005
    assert abs(np.nanmean(mid[minutes > 15]) / 98_000 - 1) < 0.005  # the market followed the news
    noisy = simulate_abm(replace(small_config(), shocks=config.shocks), seed=5, path_sample_ns=10 * S)["fundamental"]
    before, after = noisy.attrs["news_before_ticks"], noisy.attrs["news_after_ticks"]
    assert after == before * (1 + -200.0 / 10_000) and before != 100_000.0


def _maker_depth(events, makers, grid_ns):
    """Lots the makers have resting at each time of ``grid_ns``, replayed from the events."""
    kind, agent = events["kind"].values, events["agent_id"].values
    mine, passive = np.isin(agent, makers), np.isin(events["passive_agent_id"].values, makers)
    sign = np.where(mine & (kind == 1), 1, 0) - np.where(mine & (kind == 3), 1, 0) - np.where(passive, 1, 0)
    depth = np.cumsum(sign * events["qty_lots"].values)
    return depth[np.searchsorted(events["ts_ns"].values, grid_ns, side="right") - 1]


def test_a_withdrawal_multiplies_the_makers_quoted_depth_by_its_factor():
    makers = MarketMakers(count=2, wake_interval_s=10.0, levels=4, volume_window_s=20.0, pov=0.0, min_order_size=100)
    shock = WithdrawalShock(start_s=400.0, duration_s=400.0, size_factor=0.25, spread_factor=1.0)  # depth alone
    plain = small_config(market_maker=makers)
    a, b = (
        simulate_abm(c, seed=13, path_sample_ns=10 * S)["events"]
        for c in (plain, replace(plain, shocks=Shocks(withdrawal=shock)))
    )
    _same_until(a, b, plain.open_ns + 400 * S)
    ids = [52, 53]  # the two makers (after 40 noise and 12 value agents)
    ts, adds = b["ts_ns"].values - plain.open_ns, (b["kind"].values == 1) & np.isin(b["agent_id"].values, ids)
    inside = adds & (ts > 400 * S) & (ts < 800 * S)
    sizes, counts = np.unique(b["qty_lots"].values[inside], return_counts=True)
    assert sizes[np.argmax(counts)] == 25 and b["qty_lots"].values[inside].max() <= 25  # 100 lots x 0.25
    assert np.bincount(b["qty_lots"].values[adds & (ts > 820 * S)]).argmax() == 100  # and back after the window
    assert b.attrs["forced_withdrawals"] > 50
    grid = plain.open_ns + np.arange(430, 800) * S  # after every maker's first look in the window
    ratio = _maker_depth(b, ids, grid).mean() / _maker_depth(a, ids, grid).mean()
    assert 0.25 * 0.92 < ratio < 0.25 * 1.08, ratio  # measured 0.257 (resting: the quotes less what was hit)


def _mark_market(levels: int, factor: float | None) -> MarketConfig:
    """Bids 999, 998, ... and asks 1001, ... (``levels`` of 100 lots); a long opens at 1 s (buys 1001), a buyer
    takes 1002 at 1.5 s, a short sells 999 at 2 s, a long buys 1003 at 3 s, a short sells 998 at 4 s; a mark shock
    from 5 s to 10 s."""
    shocks = Shocks() if factor is None else Shocks(mark=MarkShock(start_s=5.0, duration_s=5.0, factor=factor))
    return MarketConfig(
        session_s=20.0, fundamental=Fundamental(mean_ticks=1000.0),
        noise=NoiseAgents(count=0), value=ValueAgents(count=0), market_maker=MarketMakers(count=0),
        momentum=MomentumAgents(count=0), latency=Latency(model="fixed", fixed_ns=1_000_000),
        initial_book=InitialBook(levels=levels, qty_lots=100, spread_ticks=2),
        execution=ExecutionAgents(count=1, side=1, quantity_lots=100, start_s=1.5, duration_s=1.0, interval_s=1.0),
        leveraged=LeveragedTraders(count=4, side=0, position_lots=100, leverage=50.0, maintenance_margin=0.01,
                                   start_s=1.0),
        shocks=shocks,
    )  # fmt: skip


def _steps(report):
    return list(
        zip(
            ((report["step_ts_ns"].values - 1_612_535_400 * S) / 1e9).tolist(),
            report["step_agent_id"].values.tolist(), report["step_kind"].values.tolist(),
            report["step_lots"].values.tolist(), report["step_counterparty"].values.tolist(),
            np.round(report["step_price_ticks"].values, 6).tolist(),
            report["insurance_fund_ticks_lots"].values.tolist(), strict=True,
        )
    )  # fmt: skip


@pytest.mark.parametrize(
    ("levels", "factor", "expected"),
    [
        # entries: longs 1001 (agent 1) and 1003 (agent 3), shorts 999 (agent 2) and 998 (agent 4); last trade 998.
        # Long liquidation prices e 0.98 / 0.99: 990.89 and 992.87; bankruptcy e 0.98: 980.98 and 982.94.
        (6, None, []),  # the true mark 998 crosses nobody
        # 998 x 0.9943 = 992.31 crosses agent 3 only; it sells 100 at 997 (fund 99700 - 98294 = 1406); then the mark
        # 997 x 0.9943 = 991.32 stays above agent 1's 990.89: the cascade stops.
        (6, 0.9943, [(5.0, 3, "book", 100, -1, 997.0, 1406)]),
        # 998 x 0.99 = 988.02 crosses both: agent 3 first (passed by 4.85 against 2.87), then at the mark
        # 997 x 0.99 agent 1 sells at 996 (fund 1406 + 99600 - 98098 = 2908).
        (6, 0.99, [(5.0, 3, "book", 100, -1, 997.0, 1406), (5.0, 1, "book", 100, -1, 996.0, 2908)]),
        # no bid left for agent 1: deleveraged against the short ranked first at the mark 987.03, agent 2
        # ((999 - 987.03) / 999 > (998 - 987.03) / 998), at agent 1's bankruptcy price; the fund does not move.
        (3, 0.99, [(5.0, 3, "book", 100, -1, 997.0, 1406), (5.0, 1, "adl", 100, 2, 980.98, 1406)]),
    ],
)
def test_a_mispriced_mark_liquidates_exactly_the_positions_it_crosses_in_order(levels, factor, expected):
    out = simulate_abm(_mark_market(levels, factor), seed=1, sample_ns=S, path_sample_ns=None)
    report = out["liquidations"]
    np.testing.assert_allclose(report["entry_ticks"], [1001, 999, 1003, 998])
    np.testing.assert_allclose(report["liquidation_ticks"][[0, 2]], np.array([1001, 1003]) * 0.98 / 0.99)
    assert _steps(report) == expected
    paths = out["paths"]
    np.testing.assert_array_equal(paths["inventory_lots"].sum("agent_class"), 0)
    np.testing.assert_array_equal(paths["cash_ticks_lots"].sum("agent_class"), 5 * 10_000_000)


def test_a_scheduled_pause_halts_matching_for_its_length():
    plain = small_config()
    paused = replace(plain, shocks=Shocks(pause=PauseShock(start_s=300.0, duration_s=30.0)))
    a, b = (simulate_abm(c, seed=17, path_sample_ns=10 * S)["events"] for c in (plain, paused))
    _same_until(a, b, plain.open_ns + 300 * S)
    ts, kind = b["ts_ns"].values - plain.open_ns, b["kind"].values
    halts = b["qty_lots"].values[kind == 8], ts[kind == 8]
    assert list(zip(*halts, strict=True)) == [(1, 300 * S), (0, 330 * S)]
    assert not ((kind == 5) & (ts >= 300 * S) & (ts < 330 * S)).any()
    assert ((kind == 3) & (ts > 300 * S) & (ts < 330 * S)).any()  # cancels go through
    assert ((kind == 5) & (ts == 330 * S)).sum() > 0  # orders that waited meet at the resume
    assert b.attrs["halts"] == 1


def test_the_trailing_volume_seller_follows_its_closed_form():
    p, window, interval = 0.1, 60 * S, 10 * S
    x = ExecutionAgents(count=1, strategy="pov", side=-1, quantity_lots=10**7, start_s=100.0, duration_s=900.0,
                        interval_s=10.0, participation=p, volume_window_s=60.0)  # fmt: skip
    config = small_config(execution=x)
    market = _Market(config, _root(19), config.session_s, 3, S, 10 * S)
    market.run()
    ev = market.ev[: int(market.ctr[_sim.C_EVENTS])]
    agent = int(np.flatnonzero(market.agents[:, K.A_CLASS] == K.EXECUTION)[0])
    lat = int(market.agents[agent, K.A_LATENCY])
    ts, kind, qty = ev[:, _sim.EV_TS], ev[:, _sim.EV_KIND], ev[:, _sim.EV_QTY]
    trade = kind == _sim.TRADE
    own = trade & ((ev[:, K.EV_AGENT] == agent) | (ev[:, K.EV_PASSIVE_AGENT] == agent))
    sent = ((kind == _sim.ADD) & (ev[:, K.EV_AGENT] == agent)) | (trade & (ev[:, K.EV_AGENT] == agent))
    observed = {}
    for row in np.flatnonzero(sent):  # a child's size: what traded on arrival plus what rested
        decided = int(ts[row]) - 2 * lat
        observed[decided] = observed.get(decided, 0) + int(qty[row])
    expected = {}
    for decided in config.open_ns + 100 * S + np.arange(90) * interval + lat:
        recent = (ts > decided - window) & (ts <= decided)
        total, mine = qty[recent & trade].sum(), qty[recent & own].sum()
        child = math.floor(p / (1 - p) * (total - mine)) - mine
        if child > 0:
            expected[int(decided)] = int(child)
    assert len(expected) > 40 and observed == expected


def test_a_sell_program_moves_the_mid_by_what_the_fitted_impact_law_predicts():
    config = small_config(session_s=1500.0, fundamental=Fundamental())
    timing = dict(seeds=list(range(1, 13)), start_s=300.0, duration_s=600.0, after_s=60.0, interval_s=20.0, side=-1)
    law = metaorder_impact(config, np.array([0.05, 0.1, 0.2, 0.4]), **timing)
    program = metaorder_impact(config, np.array([0.15, 0.3]), **timing)
    target = np.rint(program["fraction"].values * program["volume_lots"].values[:, None])
    executed = program["executed_lots"].values
    assert (executed <= target).all() and executed.sum() > 0.8 * target.sum()  # the last child may rest unfilled
    check = program_against_law(law, program)
    assert (check["ratio_low"] <= 1).all() and (check["ratio_high"] >= 1).all(), check
    assert ((check["ratio"] > 0.5) & (check["ratio"] < 2)).all() and (check["measured_bps"] > 1).all()


@pytest.mark.parametrize(
    ("shocks", "message"),
    [
        ({"flash": {}}, r"\[shocks\]: unknown shock primitive 'flash'; valid ones are \['mark', 'news', 'pause'"),
        ({"news": {"time_s": 5.0}}, r"\[shocks.news\]: missing key 'jump_bps'; a news shock needs"),
        ({"pause": {"start_s": 5.0, "duration_s": 1.0, "size": 1}}, r"\[shocks.pause\]: unknown parameter 'size'"),
        (
            {"pause": {"start_s": 1190.0, "duration_s": 20.0}},
            r"`shocks.pause` .* a shock outside the session; got 1190",
        ),
        ({"news": {"time_s": 1200.0, "jump_bps": 10}}, r"`shocks.news` .* a shock outside the session"),
        ({"mark": {"start_s": -1.0, "duration_s": 1.0, "factor": 0.9}}, r"`start_s` of MarkShock must be >= 0.0"),
        ({"mark": {"start_s": 1.0, "duration_s": 1.0, "factor": 0.0}}, r"`factor` of MarkShock must be > 0.0; got 0"),
        ({"news": {"time_s": 1.0, "jump_bps": -10_000}}, r"`jump_bps` of NewsShock must be > -10000"),
        (
            {"mark": {"start_s": 1.0, "duration_s": 1.0, "factor": 0.9}},
            r"`shocks.mark` .* has no agents to act on: it "
            r"needs \[agents.leveraged\] with count > 0; got count 0",
        ),
        (
            {"withdrawal": {"start_s": 1.0, "duration_s": 1.0, "size_factor": 1.5, "spread_factor": 2.0}},
            r"`size_factor` of WithdrawalShock must be in \[0, 1\] and `spread_factor` >= 1; got 1.5 and 2.0",
        ),
    ],
)
def test_bad_shocks(shocks, message):
    data = {"market": {"session_s": 1200.0}, "agents": {"value": {}}, "shocks": shocks}
    with pytest.raises(ParameterError, match=message):
        MarketConfig.from_dict(data, source="abm config crash.toml")


def test_shocks_round_trip_and_a_window_only_for_pov():
    config = small_config(
        leveraged=LeveragedTraders(count=2),
        shocks=Shocks(news=NewsShock(time_s=10.0, jump_bps=-50.0), mark=MarkShock(start_s=1, duration_s=2, factor=0.9)),
    )
    layout = config.to_dict()
    assert layout["shocks"] == {
        "news": {"time_s": 10.0, "jump_bps": -50.0},
        "mark": {"start_s": 1.0, "duration_s": 2.0, "factor": 0.9},
    }
    assert MarketConfig.from_dict(layout) == config and "shocks" not in small_config().to_dict()
    with pytest.raises(ParameterError, match=r"`volume_window_s` of ExecutionAgents applies to strategy 'pov' only"):
        ExecutionAgents(strategy="twap", volume_window_s=60.0)


def test_the_shock_example_of_the_library():
    from simlab.agents import read_market_config

    config, _ = read_market_config("scenarios/library/abm_shock_example.toml")
    assert set(config.shocks.present()) == {"news", "withdrawal", "mark", "pause"}
    assert config.execution.volume_window_s == 60.0 and config.execution.participation == 0.09
    out = simulate_abm(config, seed=2, path_sample_ns=10 * S)
    events, open_ns = out["events"], config.open_ns
    assert events.attrs["forced_withdrawals"] > 0 and int(out["execution"]["executed_lots"][0]) > 0
    halts = events["ts_ns"].values[(events["kind"].values == 8)] - open_ns
    assert halts.tolist() == [1020 * S, 1080 * S]
    steps = out["liquidations"]["step_ts_ns"].values - open_ns
    assert ((steps >= 900 * S) & (steps < 960 * S)).sum() > 10  # the mispriced mark's liquidations
