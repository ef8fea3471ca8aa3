"""The latent-liquidity (LLOB) rule of the value agents: its offset law, its spent orders and its refresh; on a toy
market, a standing book whose depth grows linearly with the distance to the mid, and a concave metaorder impact."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simlab.agents import Fundamental, MarketConfig, MarketMakers, MomentumAgents, NoiseAgents, ValueAgents
from simlab.agents import _rules as R
from simlab.agents.impact import metaorder_impact
from simlab.agents.latent import standing_depth
from simlab.errors import ParameterError

DEPTH, RATE_NS = 300.0, 1e-4 * 1e-9


def _params(size: float = 0.0) -> np.ndarray:
    vp = np.zeros(9)
    vp[R.VP_LATENT_DEPTH], vp[R.VP_LATENT_RATE], vp[R.VP_LATENT_SIZE] = DEPTH, RATE_NS, size
    return vp


def test_first_draw_offsets_have_a_density_linear_in_the_distance():
    gen, vp = np.random.default_rng(3), _params()
    offsets, sides, prices = [], [], []
    for _ in range(20_000):
        state = np.zeros(R.V_FIELDS)
        side, price, lots = R.latent_order(gen, state, 10_000, 0, 0, R.SIZE_CUMULATIVE, vp)
        offsets.append(state[R.V_OFFSET])
        sides.append(side)
        prices.append(price)
        assert lots == state[R.V_QTY] >= 0
    offsets, sides, prices = np.array(offsets), np.array(sides), np.array(prices)
    # P(offset <= x) = (x / D)^2 (density 2x / D^2), up to the rounding to whole ticks
    assert stats.kstest(offsets, lambda x: np.clip((x + 0.5) / DEPTH, 0, 1) ** 2).statistic < 0.015
    assert abs(sides.mean()) < 0.03
    np.testing.assert_array_equal(prices, 10_000 - sides * offsets)  # buyers below the forecast, sellers above


def test_a_fill_spends_the_order_until_a_refresh():
    gen, vp = np.random.default_rng(5), _params(size=50.0)
    state = np.zeros(R.V_FIELDS)
    side, price, lots = R.latent_order(gen, state, 10_000, 7, 0, R.SIZE_CUMULATIVE, vp)
    assert lots == 50 and state[R.V_INV0] == 7
    filled = 7 + side * 30  # 30 lots of it traded
    side2, price2, left = R.latent_order(gen, state.copy(), 10_010, filled, 1, R.SIZE_CUMULATIVE, vp)
    assert (side2, price2, left) == (side, price + 10, 20)  # the rest, moved with the forecast
    _, _, left = R.latent_order(gen, state.copy(), 10_000, 7 + side * 50, 1, R.SIZE_CUMULATIVE, vp)
    assert left == 0  # spent


def test_refresh_probability_is_poisson_in_the_time_since_the_last_look():
    gen, vp, dt = np.random.default_rng(11), _params(), 2_000 * 10**9  # 2000 s at 1e-4 /s: p = 1 - e^-0.2
    redrawn = 0
    for _ in range(20_000):
        state = np.zeros(R.V_FIELDS)
        R.latent_order(gen, state, 0, 0, 0, R.SIZE_CUMULATIVE, vp)
        before = state.copy()
        R.latent_order(gen, state, 0, 0, dt, R.SIZE_CUMULATIVE, vp)
        redrawn += not np.array_equal(before, state)
    p = -math.expm1(-0.2)
    assert abs(redrawn / 20_000 - p) < 4 * math.sqrt(p * (1 - p) / 20_000) + 0.005  # + draws equal by chance


def test_a_price_anchored_order_keeps_the_premium_of_its_draw():
    gen, vp = np.random.default_rng(5), _params(size=50.0)
    state = np.zeros(R.V_FIELDS)
    side, price, lots = R.latent_order_at(gen, state, 10_000, 0, 0, R.SIZE_CUMULATIVE, vp, -120)
    assert state[R.V_REF] == -120 and price == 10_000 - 120 - side * state[R.V_OFFSET] and lots == 50
    # the next look, not redrawn: the premium of the draw is kept (not the one passed now), the order moves with the
    # forecast
    _, price2, _ = R.latent_order_at(gen, state, 10_030, 0, 1, R.SIZE_CUMULATIVE, vp, 75)
    assert state[R.V_REF] == -120 and price2 == price + 30
    # a redraw (spent, then the refresh certain) takes the premium of its look
    vp[R.VP_LATENT_RATE] = 1.0
    R.latent_order_at(gen, state, 10_030, 0, 10**9, R.SIZE_CUMULATIVE, vp, 75)
    assert state[R.V_REF] == 75
    # premium 0 is the forecast-anchored rule, draw for draw
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    sa, sb = np.zeros(R.V_FIELDS), np.zeros(R.V_FIELDS)
    for t in range(50):
        got = R.latent_order_at(a, sa, 10_000 + t, t % 3, 10**11, R.SIZE_CUMULATIVE, _params(), 0)
        assert got == R.latent_order(b, sb, 10_000 + t, t % 3, 10**11, R.SIZE_CUMULATIVE, _params())


def toy_market(**value) -> MarketConfig:
    """Two hours of 2000 latent value agents (a look every 500 s, offsets up to 300 ticks, refreshed at 1e-4 /s), a
    nearly still fundamental, 300 noise agents; no maker, no momentum agent."""
    table = dict(count=2000, arrival_rate_per_s=0.002, observation_variance_ticks2=1.0, latent_depth_ticks=DEPTH,
                 latent_refresh_per_s=1e-4)  # fmt: skip
    table.update(value)
    return MarketConfig(
        name="latent-toy",
        session_s=7200.0,
        fundamental=Fundamental(volatility_ticks_per_sqrt_s=0.2, megashock_rate_per_s=1e-12),
        noise=NoiseAgents(count=300),
        value=ValueAgents(**table),
        market_maker=MarketMakers(count=0),
        momentum=MomentumAgents(count=0),
    )


def test_standing_depth_grows_linearly_with_the_distance_to_the_mid():
    edges = np.array([0, 10, 20, 40, 80, 160, 240, 300.0])
    depth = standing_depth(toy_market(), [0, 1], [1800.0, 3600.0, 5400.0, 7200.0], edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    slope = np.polyfit(np.log(centres[1:-1]), np.log(depth[1:-1]), 1)[0]
    assert 0.8 < slope < 1.25, depth  # measured 1.05: lots per tick proportional to the distance
    assert depth[0] < depth[-2] / 10  # thin at the mid: the price sits at the vertex of the V


def test_standing_depth_rejects_bad_input():
    with pytest.raises(ParameterError, match=r"`edges` of standing_depth must be >= 2 increasing"):
        standing_depth(toy_market(), [0], [100.0], np.array([5.0, 1.0]))
    with pytest.raises(ParameterError, match=r"`times_s` of standing_depth must increase within"):
        standing_depth(toy_market(), [0], [9000.0], np.array([0.0, 1.0]))


def test_metaorder_impact_is_concave_in_the_latent_book():
    result = metaorder_impact(toy_market(), np.array([0.04, 0.13, 0.4]), seeds=list(range(8)), start_s=1800.0,
                              duration_s=1800.0, after_s=600.0)  # fmt: skip
    peak = result["peak_bps"].values.mean(axis=0)
    assert (np.diff(peak) > 0).all() and peak[-1] > 3.0, peak
    # the fitted exponent of log(mean peak) on log(Q/V) and its 95 % bootstrap interval over seeds are below 1; the
    # point falls in the square-root band of the issue, [0.4, 0.65] (measured 0.59 [0.40, 0.87])
    assert result.attrs["exponent_high"] < 1.0 and 0.4 <= result.attrs["exponent"] <= 0.65, result.attrs


def test_a_price_anchored_book_keeps_a_permanent_part_of_the_impact():
    # the toy market, TWAP buys of 30 min (Q/V 0.1 and 0.4, seeds 0-3), read 30 min after the end: the book centred
    # on the fundamental pulls the price back (measured: -0.63 and -0.66 bps after peaks of 2.44 and 4.25), the book
    # anchored on the price keeps a part (0.22 and 2.19 after 1.81 and 3.93: 56 % at 0.4; docs/agents_sqrt.md)
    kept = {}
    for anchor in ("fundamental", "price"):
        result = metaorder_impact(toy_market(latent_anchor=anchor), np.array([0.1, 0.4]), seeds=[0, 1, 2, 3],
                                  start_s=1800.0, duration_s=1800.0, after_s=1800.0)  # fmt: skip
        peak, after = result["peak_bps"].values.mean(axis=0), result["after_bps"].values.mean(axis=0)
        assert peak[1] > 3.0, (anchor, peak)
        kept[anchor] = after[1] / peak[1]
    assert kept["fundamental"] < 0.15 and kept["price"] > 0.35, kept
