"""The makers' touch queue (`market_maker.touch_orders`, docs/agents_realism_v3.md): the best level of each side is
posted as several orders splitting the level's size, deeper levels stay one order, and a marketable order meeting the
touch takes several fills at one instant, so the trade signs of consecutive fills are more persistent."""

from __future__ import annotations

import numpy as np

from simlab.agents import Fundamental, InitialBook, MarketConfig, MarketMakers, MomentumAgents, NoiseAgents
from simlab.agents import ValueAgents
from simlab.agents import _kernel as K
from simlab.agents.market import _Market, _root
from simlab.book import _sim


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
    market = _Market(_config(touch), _root(seed), 1800.0, 1, 0, 10**10)
    market.run()
    return market.ev[: int(market.ctr[_sim.C_EVENTS])]


def _maker_ladders(ev):
    """The maker's ADD events (agent id 4: four noise agents first), grouped by arrival instant (one per wake)."""
    adds = ev[(ev[:, _sim.EV_KIND] == _sim.ADD) & (ev[:, K.EV_AGENT] == 4)]
    return [adds[adds[:, _sim.EV_TS] == t] for t in np.unique(adds[:, _sim.EV_TS])]


def test_the_best_level_is_split_into_touch_orders():
    ladders = _maker_ladders(_events(3))
    assert len(ladders) > 100
    for ladder in ladders:
        for side, best in ((1, ladder[ladder[:, _sim.EV_SIDE] == 1, _sim.EV_PRICE].max()), (-1, ladder[ladder[:, _sim.EV_SIDE] == -1, _sim.EV_PRICE].min())):
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
