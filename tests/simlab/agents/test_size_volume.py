"""The makers' size rule (`market_maker.size_volume`): which trades of the last window set a maker's size
(``pov`` x their lots): "all" (ABIDES), "others" (no market maker a party) or "not_between_makers". The window's sum
on crafted records, the default and a market without maker-to-maker trades left bit for bit, bad values refused.
The kernel against the twin with the rule on is in test_kernel_twin.py."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simlab.agents import MarketConfig, MarketMakers
from simlab.agents import _kernel as K
from simlab.agents import _loop as L
from simlab.agents.config import SIZE_VOLUMES
from simlab.book import _sim
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import run_market, small_config

T = 10**12  # the decision's time (ns); the window is 10 s


def _records():
    """Agents 0 noise, 1 value, 2 and 3 makers, 4 the exchange; trades (aggressor, resting, lots, ns before T)."""
    agents = np.zeros((5, K.A_FIELDS), np.int64)
    agents[:, K.A_CLASS] = K.NOISE, K.VALUE, K.MAKER, K.MAKER, K.EXCHANGE
    rows = [
        (0, 1, 10, 9e9),
        (0, 2, 20, 8e9),
        (3, 2, 40, 7e9),
        (2, 1, 80, 6e9),
        (0, -1, 160, 5e9),
        (0, 1, 1000, 11e9),
    ]  # fmt: skip  (the last is older than the window; -1: the opening book)
    ev = np.zeros((len(rows) + 1, K.EV_FIELDS), np.int64)
    for row, (a, p, qty, before) in enumerate(sorted(rows, key=lambda r: -r[3])):
        ev[row, [_sim.EV_TS, _sim.EV_KIND, _sim.EV_SIDE, _sim.EV_QTY]] = T - int(before), _sim.TRADE, 1, qty
        ev[row, [K.EV_AGENT, K.EV_PASSIVE_AGENT]] = a, p
    ev[-1, [_sim.EV_TS, _sim.EV_KIND, _sim.EV_QTY, K.EV_AGENT]] = T, _sim.ADD, 5000, 2  # an add is not a trade
    ctr = np.zeros(K.CTR_SIZE, np.int64)
    ctr[_sim.C_EVENTS] = ev.shape[0]
    return ev, ctr, agents


@pytest.mark.parametrize(
    ("rule", "lots"),
    [(K.MM_VOLUME_OTHERS, 10 + 160), (K.MM_VOLUME_NOT_BETWEEN, 10 + 20 + 80 + 160)],
)
def test_the_window_counts_the_rules_trades(rule, lots):
    ev, ctr, agents = _records()
    assert L._window_size_volume(ev, ctr, agents, T, 10**10, rule) == lots
    buys, sells = L._window_volume(ev, ctr, T, 10**10)  # "all": every trade of the window, ABIDES' sum
    assert buys + sells == 10 + 20 + 40 + 80 + 160


def test_the_names_are_the_kernels_codes():
    codes = (K.MM_VOLUME_ALL, K.MM_VOLUME_OTHERS, K.MM_VOLUME_NOT_BETWEEN)
    assert SIZE_VOLUMES == ("all", "others", "not_between_makers") and codes == (0, 1, 2)


def _with(config, rule):
    return replace(config, market_maker=replace(config.market_maker, size_volume=rule))


@pytest.mark.parametrize("seed", [3])
def test_without_trades_between_makers_not_between_equals_all_and_others_differs(seed):
    config = small_config(  # a spread floor above the imbalance skew: the makers never cross each other
        market_maker=MarketMakers(
            count=2, wake_interval_s=20.0, levels=4, volume_window_s=20.0, min_half_spread_ticks=6
        )
    )
    market, ev = run_market(config, seed)
    makers = np.flatnonzero(market.agents[:, K.A_CLASS] == K.MAKER)
    trades = ev[ev[:, _sim.EV_KIND] == _sim.TRADE]
    assert not (np.isin(trades[:, K.EV_AGENT], makers) & np.isin(trades[:, K.EV_PASSIVE_AGENT], makers)).any()
    assert np.isin(trades[:, K.EV_PASSIVE_AGENT], makers).sum() > 20  # the makers did trade
    np.testing.assert_array_equal(run_market(_with(config, "all"), seed)[1], ev)  # "all" is the default
    np.testing.assert_array_equal(run_market(_with(config, "not_between_makers"), seed)[1], ev)
    others = run_market(_with(config, "others"), seed)[1]
    adds = others[(others[:, _sim.EV_KIND] == _sim.ADD) & np.isin(others[:, K.EV_AGENT], makers), _sim.EV_QTY]
    plain = ev[(ev[:, _sim.EV_KIND] == _sim.ADD) & np.isin(ev[:, K.EV_AGENT], makers), _sim.EV_QTY]
    assert adds.mean() < plain.mean()  # the same pov on fewer lots: smaller ladders


@pytest.mark.parametrize("value", ["All", "other", "", 1, None, True])
def test_bad_size_volume_values_are_refused(value):
    with pytest.raises(ParameterError, match=r"`size_volume` of MarketMakers must be one of \('all', 'others', "):
        MarketMakers(size_volume=value)


def test_the_key_is_read_from_the_toml_layout():
    data = {"agents": {"market_maker": {"size_volume": "others"}}}
    assert MarketConfig.from_dict(data).market_maker.size_volume == "others"
    assert MarketMakers().size_volume == "all"
    with pytest.raises(ParameterError, match="`size_volume` of MarketMakers must be one of"):
        MarketConfig.from_dict({"agents": {"market_maker": {"size_volume": "mine"}}})
