"""The makers' touch queue (`market_maker.touch_orders`, docs/agents_realism_v3.md): the best level of each side is
posted as several orders splitting the level's size, deeper levels stay one order, and a marketable order meeting the
touch takes several fills at one instant, so the trade signs of consecutive fills are more persistent."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.agents import Fundamental, InitialBook, MarketConfig, MarketMakers, MomentumAgents, NoiseAgents, ValueAgents
from simlab.agents import _kernel as K
from simlab.book import _sim
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import run_market


def _config(touch):
    return MarketConfig(
        name="touch",
        session_s=1800.0,
        fundamental=Fundamental(megashock_rate_per_s=0.0),
        noise=NoiseAgents(count=4, arrival_rate_per_s=0.5),
        value=ValueAgents(count=0),
        market_maker=MarketMakers(count=1, pov=0.0, min_order_size=10, wake_interval_s=10.0, levels=3,
                                  level_spacing=0.5, min_half_spread_ticks=2, touch_orders=touch),
        momentum=MomentumAgents(count=0),
        initial_book=InitialBook(levels=3, qty_lots=300),
    )  # fmt: skip


def _events(touch, seed=2):
    return run_market(_config(touch), seed, 1800.0)[1]


def _maker_ladders(ev):
    """The maker's ADD events (agent id 4: four noise agents first), grouped by arrival instant (one per wake)."""
    adds = ev[(ev[:, _sim.EV_KIND] == _sim.ADD) & (ev[:, K.EV_AGENT] == 4)]
    return [adds[adds[:, _sim.EV_TS] == t] for t in np.unique(adds[:, _sim.EV_TS])]


def test_the_best_level_is_split_into_touch_orders():
    ladders = _maker_ladders(_events(3))
    assert len(ladders) > 100
    for ladder in ladders:
        sides, prices = ladder[:, _sim.EV_SIDE], ladder[:, _sim.EV_PRICE]
        for side, best in ((1, prices[sides == 1].max()), (-1, prices[sides == -1].min())):
            rows = ladder[ladder[:, _sim.EV_SIDE] == side]
            at_best = rows[rows[:, _sim.EV_PRICE] == best, _sim.EV_QTY]
            assert sorted(at_best.tolist()) == [3, 3, 4]  # 10 lots in 3 orders: the first one lot more
            deeper = rows[rows[:, _sim.EV_PRICE] != best, _sim.EV_QTY]
            assert deeper.tolist() == [10, 10]  # two deeper levels, one order each
    off = _maker_ladders(_events(0))
    assert all(ladder.shape[0] == 6 for ladder in off)  # ABIDES: one order per level, 3 levels a side


def _fills_per_order(ev):
    trades = ev[(ev[:, _sim.EV_KIND] == _sim.TRADE) & (ev[:, K.EV_AGENT] < 4)]
    _, counts = np.unique(trades[:, K.EV_AGGRESSOR_ID], return_counts=True)
    return counts


def test_a_market_order_takes_several_fills_at_the_touch():
    one, three = _fills_per_order(_events(0)), _fills_per_order(_events(3))
    assert one.size > 300 and three.size > 300
    # the noise orders are IOC limits at the touch seen, so they fill at one price only: against one 10-lot order
    # without the rule (one fill), against up to three orders of 4, 3 and 3 lots with it
    assert one.mean() < 1.05 and three.mean() > 1.5, (one.mean(), three.mean())


def _quiet_ladders(offset):
    """One maker alone over a fixed opening book (mid 100000, spread 2): every ladder is the same but for the offsets;
    returns each ladder's best bid and best ask."""
    config = MarketConfig(
        name="offsets",
        session_s=3000.0,
        fundamental=Fundamental(megashock_rate_per_s=0.0),
        noise=NoiseAgents(count=0),
        value=ValueAgents(count=0),
        market_maker=MarketMakers(count=1, wake_interval_s=5.0, levels=2, initial_spread_ticks=2.0,
                                  min_half_spread_ticks=3, quote_offset_ticks=offset),
        momentum=MomentumAgents(count=0),
        initial_book=InitialBook(levels=3, qty_lots=10, spread_ticks=2),
    )  # fmt: skip
    market, ev = run_market(config, 5, 3000.0)
    adds = ev[(ev[:, _sim.EV_KIND] == _sim.ADD) & (ev[:, K.EV_AGENT] == 0)]
    times = np.unique(adds[:, _sim.EV_TS])
    best = [(a[a[:, _sim.EV_SIDE] == 1, _sim.EV_PRICE].max(), a[a[:, _sim.EV_SIDE] == -1, _sim.EV_PRICE].min())
            for a in (adds[adds[:, _sim.EV_TS] == t] for t in times)]  # fmt: skip
    return np.array(best)


def test_quote_offsets_move_each_side_away_by_a_uniform_number_of_ticks():
    plain = _quiet_ladders(0)
    assert plain.shape[0] > 400 and set(plain[:, 0]) == {99997} and set(plain[:, 1]) == {100003}  # mid -+ floor 3
    moved = _quiet_ladders(3)
    for column, sign, start in ((0, -1, 99997), (1, 1, 100003)):
        away = sign * (moved[:, column] - start)
        counts = np.bincount(away, minlength=4)
        assert counts.size == 4 and np.all(np.abs(counts / away.size - 0.25) < 0.05), counts  # uniform on 0..3
    assert np.corrcoef(moved[:, 0], moved[:, 1])[0, 1] ** 2 < 0.02  # the two sides' draws are independent


def test_negative_touch_keys_are_refused_with_a_sentence():
    for key in ("touch_orders", "quote_offset_ticks"):
        with pytest.raises(ParameterError, match=key):
            MarketMakers(**{key: -1})
