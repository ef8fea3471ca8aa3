"""The noise walk (``noise.walk_ticks``, docs/agents_sqrt2.md): a walking noise order takes the book up to its depth
beyond the touch it saw, and nothing beyond; off (0) every noise order trades at one price, the touch."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.agents import NoiseAgents
from simlab.agents import _kernel as K
from simlab.book import _sim
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import run_market, small_config


def _price_ranges(walk: float) -> np.ndarray:
    """Per noise order that traded (small market, seed 3), its highest fill price minus its lowest (ticks)."""
    config = small_config(noise=NoiseAgents(count=40, walk_ticks=walk))
    market, ev = run_market(config, 3)
    trades = ev[(ev[:, K.EV_AGENT] < 40) & (ev[:, K.EV_AGGRESSOR_ID] >= 0)]  # agent ids 0-39 are the noise agents
    ids = np.unique(trades[:, K.EV_AGGRESSOR_ID])
    return np.array([np.ptp(trades[trades[:, K.EV_AGGRESSOR_ID] == i, _sim.EV_PRICE]) for i in ids])


def test_a_walking_noise_order_takes_the_book_up_to_its_depth():
    still, walking = _price_ranges(0.0), _price_ranges(6.0)
    assert still.size >= 10 and (still == 0).all(), still  # ABIDES: a limit order at the touch, one price
    # measured: 18 orders traded, 9 of them at 2-7 prices, spanning up to 6 ticks
    assert walking.size >= 10 and (walking > 0).sum() >= 5 and walking.max() <= 6, walking


def test_a_negative_walk_is_refused_with_a_sentence():
    with pytest.raises(ParameterError, match=r"`walk_ticks` of NoiseAgents must be >= 0.0; got -1.0"):
        NoiseAgents(walk_ticks=-1.0)


def _minute_sd(walk: float, seed: int) -> float:
    from dataclasses import replace

    from simlab.agents import simulate_abm
    from tests.simlab.agents.test_latent import toy_market

    config = toy_market(latent_anchor="price")
    config = replace(config, noise=replace(config.noise, walk_ticks=walk))
    mid = simulate_abm(config, seed=seed, path_sample_ns=60 * 10**9)["paths"]["mid_ticks"].values[30:]
    return float(np.nanstd(np.diff(mid)))


def test_with_a_still_fundamental_the_walk_moves_the_price():
    # the price-anchored toy latent market (fundamental 0.2 ticks / sqrt s: 1.5 ticks a minute): the walk is the
    # volatility source the latent orders do not follow (measured 1-min sd of the mid, seeds 0 and 1: 6.5 and 6.4
    # ticks without it, 15.6 and 18.0 with 10 ticks)
    for seed in (0, 1):
        still, walking = _minute_sd(0.0, seed), _minute_sd(10.0, seed)
        assert walking > 2.0 * still and still > 3.0, (seed, still, walking)
