"""A market whose prices run away is refused with a sentence (it used to stop with MemoryError as its price grid
grew): the ABIDES ladder (level_spacing 5) under a bursty noise clock with order splitting compounds the makers'
spread estimate; the same market with a tighter ladder runs to its end inside the allowed prices."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.agents import MarketMakers, NoiseAgents, ValueAgents
from simlab.agents import _kernel as K
from simlab.agents import _rules as R
from simlab.agents.market import _Market, _root
from simlab.book import _sim
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import small_config

CLOCK = NoiseAgents(count=8, arrival_rate_per_s=0.3, split_exponent=1.5, split_max_children=40)
LATENT = ValueAgents(count=60, arrival_rate_per_s=0.03, latent_depth_ticks=40.0, latent_anchor="price")


def _market(level_spacing):
    makers = MarketMakers(count=2, wake_interval_s=20.0, levels=4, volume_window_s=20.0, level_spacing=level_spacing)
    config = small_config(noise=CLOCK, value=LATENT, market_maker=makers)
    return config, _Market(config, _root(4), config.session_s, 5, 0, 0)


def test_a_runaway_market_is_refused_with_a_sentence():
    _, market = _market(5.0)  # ABIDES' level_spacing; the market of docs/agents_sqrt2.md's MemoryError, seed 4
    with pytest.raises(ParameterError, match=r"ran away at .* market_maker agent's limit order .*level_spacing"):
        market.run()


def test_the_runaway_is_the_makers_compounding_spread_estimate():
    config, wide = _market(5.0)
    wide.ip[K.IP_PRICE_LOW], wide.ip[K.IP_PRICE_HIGH] = -(1 << 40), 1 << 40  # no guard: watch it grow
    wide.ip[K.IP_END] = config.open_ns + 200 * 10**9
    wide.run()
    config, tight = _market(0.5)
    tight.run()  # the whole session: nothing refused
    assert wide.mstate[:, R.M_SPREAD].max() > 1000  # ticks (the real spread of this market: tens of ticks)
    assert tight.mstate[:, R.M_SPREAD].max() < 200
    ev = tight.ev[: int(tight.ctr[_sim.C_EVENTS])]
    assert ev[-1, _sim.EV_TS] > config.open_ns + 1100 * 10**9
    prices = ev[np.isin(ev[:, _sim.EV_KIND], (_sim.ADD, _sim.TRADE)), _sim.EV_PRICE]
    assert (np.abs(prices - config.fundamental.mean_ticks) < 2000).all()


def test_the_allowed_prices_are_the_mean_plus_minus_the_larger_of_the_span_and_the_mean():
    config, market = _market(0.5)
    mean = int(config.fundamental.mean_ticks)
    assert market.ip[[K.IP_PRICE_LOW, K.IP_PRICE_HIGH]].tolist() == [mean - K.PRICE_SPAN, mean + K.PRICE_SPAN]
    big = small_config(fundamental=type(config.fundamental)(mean_ticks=3e6))
    market = _Market(big, _root(4), big.session_s, 5, 0, 0)
    assert market.ip[[K.IP_PRICE_LOW, K.IP_PRICE_HIGH]].tolist() == [0, 6_000_000]
