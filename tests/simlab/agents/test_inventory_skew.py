"""The makers' inventory skew (`market_maker.inventory_skew_ticks_per_lot`, capped by `inventory_skew_max_ticks`):
a maker's ladder centre moves against its inventory by the stated whole ticks, both sides with it; bad values are
refused with a sentence. The kernel against the twin with the skew on is in test_kernel_twin.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simlab.agents import Fundamental, InitialBook, MarketConfig, MarketMakers, MomentumAgents, NoiseAgents, ValueAgents
from simlab.agents import _kernel as K
from simlab.agents import _rules as R
from simlab.agents.market import _Market, _root
from simlab.book import _sim
from simlab.errors import ParameterError


def _mp(skew, cap):
    mp = np.zeros(R.MP_TOUCH_SIZED)
    mp[[R.MP_LEVELS, R.MP_SPACING, R.MP_INV_SKEW, R.MP_INV_SKEW_MAX]] = 3, 0.5, skew, cap
    return mp


@pytest.mark.parametrize(
    ("inventory", "skew", "cap", "ticks"),
    [(0, 0.02, 0, 0), (500, 0.0, 0, 0), (500, 0.02, 0, 10), (-500, 0.02, 0, -10), (549, 0.02, 0, 10),
     (-549, 0.02, 0, -10), (5000, 0.02, 6, 6), (-5000, 0.02, 6, -6), (200, 0.02, 6, 4)],
)  # fmt: skip
def test_the_shift_is_the_skew_times_the_inventory_toward_zero_and_capped(inventory, skew, cap, ticks):
    assert R.inventory_shift(inventory, _mp(skew, cap)) == ticks


def test_a_long_makers_ladder_moves_down_by_the_shift():
    mp = _mp(0.02, 0)
    flat = R.maker_ladder(3.0, 1000, 0, 0, mp, 0.0, int(mp[R.MP_MIN_HALF]))
    assert flat == (995, 999, 1002, 2)
    long = R.maker_ladder(3.0, 1000 - R.inventory_shift(500, mp), 0, 0, mp, 0.0, int(mp[R.MP_MIN_HALF]))
    assert long == (985, 989, 992, 2)  # both sides 10 ticks lower, the step unchanged


def _config(skew, cap=0):
    return MarketConfig(
        name="skew",
        session_s=120.0,
        fundamental=Fundamental(megashock_rate_per_s=0.0),
        noise=NoiseAgents(count=4, arrival_rate_per_s=0.5),
        value=ValueAgents(count=0),
        market_maker=MarketMakers(count=1, pov=0.0, min_order_size=10, wake_interval_s=10.0, levels=3,
                                  level_spacing=0.5, min_half_spread_ticks=12, inventory_skew_ticks_per_lot=skew,
                                  inventory_skew_max_ticks=cap),
        momentum=MomentumAgents(count=0),
        initial_book=InitialBook(levels=3, qty_lots=300),
    )  # fmt: skip


def _first_ladder(config, inventory, seed=2):
    """The prices (side, price) of the maker's first ladder, the maker (agent 4) starting with ``inventory`` lots."""
    market = _Market(config, _root(seed), config.session_s, 1, 0, 10**10)
    market.agents[4, K.A_INV] = inventory
    market.run()
    ev = market.ev[: int(market.ctr[_sim.C_EVENTS])]
    adds = ev[(ev[:, _sim.EV_KIND] == _sim.ADD) & (ev[:, K.EV_AGENT] == 4)]
    first = adds[adds[:, _sim.EV_TS] == adds[0, _sim.EV_TS]]  # its first ladder arrives at one instant
    return first[:, [_sim.EV_SIDE, _sim.EV_PRICE]]


@pytest.mark.parametrize(("inventory", "skew", "cap", "ticks"), [(500, 0.02, 0, 10), (-300, 0.02, 0, -6),
                                                                 (5000, 0.02, 7, 7)])  # fmt: skip
def test_the_kernels_maker_quotes_lower_when_long(inventory, skew, cap, ticks):
    """Same seed, same book when the maker first looks (it has not traded yet): its whole ladder is ``ticks`` lower
    with the skew on than off (higher when short)."""
    off, on = _first_ladder(_config(0.0), inventory), _first_ladder(_config(skew, cap), inventory)
    assert off.shape == on.shape == (6, 2)
    np.testing.assert_array_equal(on[:, 0], off[:, 0])
    np.testing.assert_array_equal(on[:, 1], off[:, 1] - ticks)


def test_post_only_keeps_a_ladder_off_the_touch_it_saw():
    no = np.iinfo(np.int64).min  # an empty side
    assert R.post_only(985, 989, 992, 995, 997, 0) == (985, 989, 996)  # the asks moved up to 1 above the bid
    assert R.post_only(1005, 1009, 1012, 995, 1000, 0) == (995, 999, 1012)  # the bids moved down, the step kept
    assert R.post_only(985, 989, 992, no, no, 0) == (985, 989, 992)
    assert R.post_only(990, 994, 1001, 993, 1000, 0) == (990, 994, 1001)  # nothing crosses: unchanged


def test_a_very_long_maker_offers_just_above_the_bid_and_takes_nothing():
    """5000 lots at 0.02 ticks a lot: its centre 100 ticks down, so its asks would cross the book; posted only, its
    best ask is 1 tick above the best bid (nothing moved the bid between its decision and its orders' arrival at
    this seed) and its first ladder trades nothing."""
    config = _config(0.02)
    market = _Market(config, _root(2), config.session_s, 5, 0, 0)
    market.agents[4, K.A_INV] = 5000
    market.run()
    ev = market.ev[: int(market.ctr[_sim.C_EVENTS])]
    adds = np.flatnonzero((ev[:, _sim.EV_KIND] == _sim.ADD) & (ev[:, K.EV_AGENT] == 4))
    at = ev[adds[0], _sim.EV_TS]
    first = ev[ev[:, _sim.EV_TS] == at]
    assert not ((first[:, _sim.EV_KIND] == _sim.TRADE) & (first[:, K.EV_AGENT] == 4)).any()
    asks = first[(first[:, _sim.EV_KIND] == _sim.ADD) & (first[:, _sim.EV_SIDE] == -1), _sim.EV_PRICE]
    bids = first[(first[:, _sim.EV_KIND] == _sim.ADD) & (first[:, _sim.EV_SIDE] == 1), _sim.EV_PRICE]
    best_bid = market.books[0][adds[0] - 1, 0]  # the book just before the ladder
    assert asks.size == bids.size == 3 and asks.min() == best_bid + 1 and bids.max() < best_bid - 50


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [("inventory_skew_ticks_per_lot", -0.01, ">= 0.0"), ("inventory_skew_ticks_per_lot", math.nan, "finite"),
     ("inventory_skew_ticks_per_lot", math.inf, "finite"), ("inventory_skew_ticks_per_lot", True, "finite"),
     ("inventory_skew_max_ticks", -1, "int >= 0"), ("inventory_skew_max_ticks", 2.5, "int >= 0")],
)  # fmt: skip
def test_bad_skew_values_are_refused(key, value, says):
    with pytest.raises(ParameterError, match=f"`{key}` of MarketMakers must be .*{says}.*; got"):
        MarketMakers(**{key: value})


def test_the_skew_keys_are_read_from_the_toml_layout():
    data = {"agents": {"market_maker": {"inventory_skew_ticks_per_lot": 0.01, "inventory_skew_max_ticks": 20}}}
    m = MarketConfig.from_dict(data).market_maker
    assert (m.inventory_skew_ticks_per_lot, m.inventory_skew_max_ticks) == (0.01, 20)
    assert (MarketMakers().inventory_skew_ticks_per_lot, MarketMakers().inventory_skew_max_ticks) == (0.0, 0)
