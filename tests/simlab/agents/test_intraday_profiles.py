"""Intraday profiles (docs/agents_intraday.md): the makers' half-spread floor by part of the session and the
activity's rate by part of the session. The floor of each part is ``rint(min_half_spread_ticks x weight)``, read at
the decision's time; the activity clock's rate of each cell is the profile's weight over the weights' mean; the
makers' quotes and the flow follow them; a market without them is the market before they existed; bad settings are
refused with a sentence. (The kernel against its twin with both on: tests/simlab/agents/test_kernel_twin.py.)"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from simlab.agents import Fundamental, MarketMakers, NoiseAgents
from simlab.agents import _kernel as K
from simlab.agents import _rules as R
from simlab.agents.market import _Market, _root, half_spread_floors
from simlab.book import _sim
from simlab.errors import ParameterError
from simlab.schema import EventKind
from tests.simlab.agents.conftest import run_market, small_config

MAKERS = dict(count=2, wake_interval_s=5.0, levels=3, volume_window_s=20.0, level_spacing=0.5, spread_alpha=0.2)


def test_the_floors_are_the_rounded_weights_times_the_floor_and_each_part_is_read_at_its_time():
    makers = MarketMakers(min_half_spread_ticks=6, half_spread_profile=(2.05, 1.0, 0.51, 0.0))
    tail = half_spread_floors(makers, 1200.0)
    np.testing.assert_array_equal(tail, [4, 300e9, 12, 6, 3, 0])  # rint(12.3), 6, rint(3.06), 0
    halves = MarketMakers(min_half_spread_ticks=6, half_spread_profile=(0.75, 1.25, 0.25))  # 4.5, 7.5, 1.5
    np.testing.assert_array_equal(half_spread_floors(halves, 1000.0), [3, 333_333_333_333, 4, 8, 2])  # half to even
    np.testing.assert_array_equal(half_spread_floors(MarketMakers(min_half_spread_ticks=6), 1200.0), [0, 0])
    mp = np.concatenate([np.zeros(R.MP_FIELDS), tail])
    mp[R.MP_MIN_HALF] = 6
    open_ns = 10**12
    expected = {open_ns - 1: 12, open_ns: 12, open_ns + 299_999_999_999: 12, open_ns + 300 * 10**9: 6,
                open_ns + 899_999_999_999: 3, open_ns + 900 * 10**9: 0, open_ns + 5000 * 10**9: 0}  # fmt: skip
    for t, floor in expected.items():
        assert R.maker_floor(mp, t, open_ns) == floor, t
    # parts that do not divide the session: the remainder [3 x part, session) is the last part's
    thirds = np.concatenate([np.zeros(R.MP_FIELDS), half_spread_floors(halves, 1000.0)])
    for t, floor in {open_ns + 333_333_333_332: 4, open_ns + 333_333_333_333: 8, open_ns + 999_999_999_998: 2,
                     open_ns + 999_999_999_999: 2, open_ns + 1000 * 10**9: 2}.items():  # fmt: skip
        assert R.maker_floor(thirds, t, open_ns) == floor, t
    off = np.concatenate([np.zeros(R.MP_FIELDS), [0, 0]])
    off[R.MP_MIN_HALF] = 6
    assert R.maker_floor(off, open_ns + 10**12, open_ns) == 6
    # the ladder takes the floor it is given: a wide one sets both half-spreads, a small one leaves the window's
    ladder = np.zeros(R.MP_FIELDS)
    ladder[[R.MP_LEVELS, R.MP_SPACING]] = 2, 0.5
    assert R.maker_ladder(6.0, 1000, 0.0, 0.0, ladder, 0.0, 12)[1:3] == (988, 1012)
    assert R.maker_ladder(6.0, 1000, 0.0, 0.0, ladder, 0.0, 1)[1:3] == (997, 1003)


def _maker_spreads(config, seed):
    """The makers' own quoted spread (lowest ask minus highest bid of one decision's adds) and the time its orders
    reached the book, after the open (s), read from the events (a decision's time is that less the maker's latency,
    under a millisecond here)."""
    market, events = run_market(config, seed)
    makers = market.agents[:-1, K.A_CLASS] == K.MAKER
    adds = events[(events[:, _sim.EV_KIND] == EventKind.ADD) & makers[events[:, K.EV_AGENT]]]
    out = []
    for agent in np.unique(adds[:, K.EV_AGENT]):
        own = adds[adds[:, K.EV_AGENT] == agent]
        for t in np.unique(own[:, _sim.EV_TS]):  # one ladder is sent at one instant (no jitter)
            at = own[own[:, _sim.EV_TS] == t]
            bids, asks = at[at[:, _sim.EV_SIDE] == 1, _sim.EV_PRICE], at[at[:, _sim.EV_SIDE] == -1, _sim.EV_PRICE]
            if bids.size and asks.size:
                out.append(((t - config.open_ns) / 1e9, asks.min() - bids.max()))
    return np.array(out)


def test_the_makers_quotes_are_at_least_twice_the_floor_of_their_part():
    makers = MarketMakers(**MAKERS, min_half_spread_ticks=3, half_spread_profile=(4.0, 1.0, 2.0))  # 12, 3, 6 ticks
    config = small_config(market_maker=makers)
    spreads = _maker_spreads(config, 3)
    part = np.minimum((spreads[:, 0] // 400).astype(int), 2)
    clear = spreads[:, 0] % 400 >= 0.01  # a ladder decided just before an edge may reach the book just after it
    assert np.bincount(part[clear], minlength=3).min() > 20  # every part has many ladders
    for p, floor in enumerate((12, 3, 6)):
        quoted = spreads[(part == p) & clear, 1]
        assert quoted.min() >= 2 * floor, (p, quoted.min())  # best bid floor below the centre, best ask above
        assert p != 0 or quoted.min() == 2 * floor  # and the floor binds: the first part quotes at it
    # the first part's floor holds the whole part, not after it: the last third quotes tighter than the first
    assert np.median(spreads[part == 0, 1]) > np.median(spreads[part == 1, 1]) + 10


def test_the_activity_profile_sets_each_cell_s_rate_and_the_flow_follows_it():
    profile = (1.0, 3.0, 0.5, 1.5)  # mean 1.5: rates 2/3, 2, 1/3, 1
    calm = small_config(fundamental=replace(small_config().fundamental, activity_profile=profile, activity_step_s=2.0))
    market = _Market(calm, _root(1), calm.session_s, 1, 0, 10**10)
    rate = market.clock[R.AC_RATE]
    cells = np.arange(rate.size) * 2.0  # each cell's start, s after the open
    weights = np.array(profile)[np.minimum(cells // 300, 3).astype(int)] / 1.5
    np.testing.assert_allclose(rate, weights, rtol=1e-12)  # no random activity: the rate is the profile's weight
    np.testing.assert_allclose(market.clock[R.AC_START], np.concatenate([[0.0], np.cumsum(rate[:-1] * 2e9)]))
    # the noise clock's orders in each part follow the weights (a Poisson clock in business time, many orders)
    noise = NoiseAgents(
        count=20, arrival_rate_per_s=2.0, size_weights=(1.0,) + (0.0,) * 10, size_log_mean=2.0, size_log_sd=0.5
    )  # small orders (a log-normal of median 7 lots), so the book holds
    fast = replace(calm, noise=noise, market_maker=MarketMakers(**MAKERS, min_half_spread_ticks=2))
    m, events = run_market(fast, 2)
    noise_rows = m.agents[events[:, K.EV_AGENT], K.A_CLASS] == K.NOISE
    t = (np.unique(events[noise_rows, _sim.EV_TS]) - fast.open_ns) / 1e9  # one order, one instant (fills share it)
    counts = np.bincount(np.minimum(t // 300, 3).astype(int), minlength=4)
    expected = counts.sum() * np.array(profile) / sum(profile)
    assert counts.sum() > 2000
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected) + 0.05 * expected), (counts, expected)


def test_markets_without_the_profiles_are_the_markets_before_them_and_with_them_differ():
    base = small_config(market_maker=MarketMakers(**MAKERS, min_half_spread_ticks=3))
    flat = replace(base, market_maker=replace(base.market_maker, half_spread_profile=(1.0,)))  # one part of weight 1
    shaped = replace(base, market_maker=replace(base.market_maker, half_spread_profile=(3.0, 1.0)))
    timed = replace(base, fundamental=replace(base.fundamental, activity_profile=(2.0, 1.0)))
    events = [run_market(config, 5)[1] for config in (base, flat, shaped, timed)]
    np.testing.assert_array_equal(events[0], events[1])
    for other in events[2:]:
        assert other.shape != events[0].shape or (other != events[0]).any()


PROFILE = "(one number per equal part of the session) must be a list of at most 1440 finite numbers >= 0 with a "
POSITIVE = "(one number per equal part of the session) must be a list of at most 1440 finite numbers > 0"


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (lambda: MarketMakers(min_half_spread_ticks=3, half_spread_profile=(1.0, -0.5)),
         f"`half_spread_profile` of MarketMakers {PROFILE}positive sum, or empty (off); got (1.0, -0.5)"),
        (lambda: MarketMakers(min_half_spread_ticks=3, half_spread_profile=(0.0, 0.0)),
         f"`half_spread_profile` of MarketMakers {PROFILE}"),
        (lambda: MarketMakers(min_half_spread_ticks=3, half_spread_profile="wide"),
         f"`half_spread_profile` of MarketMakers {PROFILE}positive sum, or empty (off); got 'wide'"),
        (lambda: MarketMakers(min_half_spread_ticks=3, half_spread_profile=(1.0, True)),
         f"`half_spread_profile` of MarketMakers {PROFILE}"),
        (lambda: MarketMakers(half_spread_profile=(2.0, 1.0)),
         "`half_spread_profile` of MarketMakers scales `min_half_spread_ticks` through the session, so it needs "
         "`min_half_spread_ticks` > 0; got a profile of 2 parts with min_half_spread_ticks 0"),
        (lambda: Fundamental(activity_profile=[1.0, float("nan")]), f"`activity_profile` of Fundamental {POSITIVE}"),
        (lambda: Fundamental(activity_profile=[1.0] * 1441), f"`activity_profile` of Fundamental {POSITIVE}"),
        (lambda: Fundamental(activity_profile=(1.0, 0.0)),  # business time would stop in the last part
         f"`activity_profile` of Fundamental {POSITIVE}, or empty (off); got (1.0, 0.0)"),
    ],
)  # fmt: skip
def test_bad_profiles_are_refused_with_a_sentence(build, says):
    with pytest.raises(ParameterError, match="^" + re.escape(says)):
        build()
