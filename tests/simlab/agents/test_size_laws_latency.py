"""The v4 rules (docs/agents_realism_v4.md): the makers' touch size law (`market_maker.touch_size_weights`: each order
of the best level gets its own size from the ABIDES mixture with the given weights and log-normal, deeper levels keep
the pov size) and co-located makers (`market_maker.latency_us`). The kernel's twin checks both event for event
(tests/simlab/agents/test_kernel_twin.py, "touch size law", "size laws")."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.agents import (
    Fundamental,
    InitialBook,
    Latency,
    MarketConfig,
    MarketMakers,
    MomentumAgents,
    NoiseAgents,
    ValueAgents,
)
from simlab.agents import _kernel as K
from simlab.agents._rules import SIZE_LOG_MEAN, SIZE_LOG_SD
from simlab.agents.config import ABIDES_SIZE_LOG
from simlab.agents.market import latencies_ns
from simlab.book import _sim
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import run_market

WEIGHTS = (0.3, 0.5, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # log-normal 30 %, 100 lots 50 %, 200 lots 20 %


def _ladders(touch, weights, ask=None, by_side=False):
    """One maker alone over a fixed opening book: its ladders' best-level and deeper adds (lots); with ``ask``
    (weights, log mean, log sd) the ask's own touch law; ``by_side``: the best level's adds as (bid, ask)."""
    ask_law = {} if ask is None else dict(zip(("touch_ask_size_weights", "touch_ask_size_log_mean",
                                               "touch_ask_size_log_sd"), ask, strict=True))  # fmt: skip
    config = MarketConfig(
        name="sizes",
        session_s=3000.0,
        fundamental=Fundamental(megashock_rate_per_s=0.0),
        noise=NoiseAgents(count=0),
        value=ValueAgents(count=0),
        market_maker=MarketMakers(count=1, wake_interval_s=5.0, levels=3, min_order_size=7, pov=0.0,
                                  initial_spread_ticks=2.0, min_half_spread_ticks=3, touch_orders=touch,
                                  touch_size_weights=weights, touch_size_log_mean=3.0 if weights else 2.9,
                                  touch_size_log_sd=0.5 if weights else 1.2, **ask_law),
        momentum=MomentumAgents(count=0),
        initial_book=InitialBook(levels=3, qty_lots=10, spread_ticks=2),
    )  # fmt: skip
    market, ev = run_market(config, 3, 3000.0)
    adds = ev[(ev[:, _sim.EV_KIND] == _sim.ADD) & (ev[:, K.EV_AGENT] == 0)]
    best = np.isin(adds[:, _sim.EV_PRICE], [99997, 100003])  # mid 100000 -+ the floor of 3 ticks
    if by_side:
        side = adds[best, _sim.EV_SIDE]
        return adds[best, _sim.EV_QTY][side == 1], adds[best, _sim.EV_QTY][side == -1]
    return adds[best, _sim.EV_QTY], adds[~best, _sim.EV_QTY], np.unique(adds[:, _sim.EV_TS]).size


def test_touch_orders_draw_their_sizes_from_the_mixture_and_deeper_levels_keep_the_pov_size():
    touch, deeper, ladders = _ladders(2, WEIGHTS)
    assert ladders > 500 and touch.size == 4 * ladders  # two orders on each side's best level
    assert set(deeper.tolist()) == {7}  # the pov size (min_order_size 7 with pov 0)
    shares = [np.mean(touch == 100), np.mean(touch == 200), np.mean(touch < 100)]
    assert np.allclose(shares, [0.5, 0.2, 0.3], atol=0.03), shares
    odd = np.log(touch[touch < 100])  # the log-normal of mean 3 and sd 0.5 (median 20 lots)
    assert abs(np.median(odd) - 3.0) < 0.06 and abs(odd.std() - 0.5) < 0.05, (np.median(odd), odd.std())
    plain, _, _ = _ladders(2, ())
    assert set(plain.tolist()) == {3, 4}  # off: the pov size split in two (7 = 4 + 3)


def test_one_touch_order_is_drawn_too():
    touch, deeper, ladders = _ladders(0, WEIGHTS)
    assert touch.size == 2 * ladders and set(deeper.tolist()) == {7}
    assert abs(np.mean(touch == 100) - 0.5) < 0.05


ASK = ((0.1, 0.2, 0.0, 0.7) + (0.0,) * 7, 1.0, 0.3)  # the ask's law: 300 lots 70 %, 100 lots 20 %, ~3 lots 10 %


def test_the_ask_touch_orders_draw_from_their_own_law_and_the_bid_keeps_the_touch_law():
    bid, ask = _ladders(2, WEIGHTS, ask=ASK, by_side=True)
    assert bid.size == ask.size > 1000
    assert np.allclose([np.mean(bid == 100), np.mean(bid == 200), np.mean(bid < 100)], [0.5, 0.2, 0.3], atol=0.04)
    assert np.allclose([np.mean(ask == 300), np.mean(ask == 100), np.mean(ask < 100)], [0.7, 0.2, 0.1], atol=0.04)
    assert not np.any(ask == 200) and abs(np.median(np.log(ask[ask < 100])) - 1.0) < 0.15
    # each draw takes the same two numbers whatever its law: the bid's sizes are those of the market without the
    # ask's law, draw for draw
    same_bid, plain_ask = _ladders(2, WEIGHTS, by_side=True)
    assert np.array_equal(bid, same_bid) and not np.array_equal(ask, plain_ask)


def test_an_ask_law_equal_to_the_touch_law_gives_the_same_market():
    plain = _ladders(2, WEIGHTS, by_side=True)
    copied = _ladders(2, WEIGHTS, ask=(WEIGHTS, 3.0, 0.5), by_side=True)
    assert all(np.array_equal(a, b) for a, b in zip(plain, copied, strict=True))


def test_an_ask_law_without_the_touch_law_or_a_bad_one_is_refused_with_a_sentence():
    with pytest.raises(ParameterError, match="needs `touch_size_weights`"):
        MarketMakers(touch_ask_size_weights=WEIGHTS)
    with pytest.raises(ParameterError, match="touch_ask_size_weights"):
        MarketMakers(touch_size_weights=WEIGHTS, touch_ask_size_weights=(1.0,) * 10)
    with pytest.raises(ParameterError, match="touch_ask_size_log_sd"):
        MarketMakers(touch_size_weights=WEIGHTS, touch_ask_size_weights=WEIGHTS, touch_ask_size_log_sd=0.0)
    with pytest.raises(ParameterError, match="touch_ask_size_log_mean"):  # a log-normal that would be ignored
        MarketMakers(touch_size_weights=WEIGHTS, touch_ask_size_log_mean=2.0)


@pytest.mark.parametrize("weights", [(1.0,) * 10, (0.5, -0.1) + (0.0,) * 9, (0.0,) * 11, (True,) + (0.0,) * 10])
def test_bad_touch_size_weights_are_refused_with_a_sentence(weights):
    with pytest.raises(ParameterError, match="touch_size_weights"):
        MarketMakers(touch_size_weights=weights)
    with pytest.raises(ParameterError, match="touch_size_log_sd"):
        MarketMakers(touch_size_log_sd=0.0)


def test_a_size_log_normal_that_would_be_ignored_is_refused():
    # without weights the kernel draws ABIDES' mixture with its own log-normal (noise) or no mixture at all (makers),
    # so a changed log-normal would be dropped silently (session 19: a noise size_log_mean of 3.9 gave a day equal
    # to 2.9's); with weights it is read
    assert (SIZE_LOG_MEAN, SIZE_LOG_SD) == ABIDES_SIZE_LOG == (NoiseAgents().size_log_mean, NoiseAgents().size_log_sd)
    for bad in ({"size_log_mean": 3.9}, {"size_log_sd": 1.0}):
        with pytest.raises(ParameterError, match=r"`size_log_mean` and `size_log_sd` of NoiseAgents are read only"):
            NoiseAgents(**bad)
        assert NoiseAgents(size_weights=WEIGHTS, **bad).size_weights == WEIGHTS
    with pytest.raises(ParameterError, match=r"`touch_size_log_mean` and `touch_size_log_sd` of MarketMakers .* 3.0"):
        MarketMakers(touch_size_log_mean=3.0)
    assert MarketMakers(touch_size_weights=WEIGHTS, touch_size_log_mean=3.0).touch_size_log_mean == 3.0


@pytest.mark.parametrize("latency", [Latency(), Latency(model="fixed", fixed_ns=3_000_000)])
def test_colocated_makers_get_their_latency_and_everyone_else_keeps_theirs(latency):
    def latencies(makers):
        config = MarketConfig(name="lat", noise=NoiseAgents(count=4), value=ValueAgents(count=5), latency=latency,
                              market_maker=makers)  # fmt: skip
        return latencies_ns(config, np.random.default_rng(1), np.random.default_rng(2))

    plain, colocated = latencies(MarketMakers(count=3)), latencies(MarketMakers(count=3, latency_us=20.0))
    assert plain.size == colocated.size == 4 + 5 + 3 + 12
    first = 4 + 5  # noise, then value agents, then the makers
    assert colocated[first : first + 3].tolist() == [20_000] * 3
    keep = np.r_[0:first, first + 3 : plain.size]
    np.testing.assert_array_equal(colocated[keep], plain[keep])  # the others' latencies (and draws) unchanged
    assert plain[first : first + 3].min() > 20_000  # the line model's (or the fixed 3 ms) were slower


def test_a_walking_noise_order_takes_several_levels_at_one_instant():
    from dataclasses import replace

    from tests.simlab.agents.test_touch_orders import _config

    def fills(sweep):
        config = _config(0)
        config = replace(config, noise=replace(config.noise, walk_ticks=sweep, size_weights=(0.0, 1.0) + (0.0,) * 9))
        market, ev = run_market(config, 2, 1800.0)
        trades = ev[(ev[:, _sim.EV_KIND] == _sim.TRADE) & (ev[:, K.EV_AGENT] < 4)]
        ids, counts = np.unique(trades[:, K.EV_AGGRESSOR_ID], return_counts=True)
        prices = [np.unique(trades[trades[:, K.EV_AGGRESSOR_ID] == i, _sim.EV_PRICE]).size for i in ids]
        return counts, np.array(prices)

    # 100-lot noise orders against one maker's 10-lot orders, levels 1 tick apart (spacing 0.5 x the 2-tick window)
    at_touch, through = fills(0), fills(3)
    assert at_touch[0].size > 300 and through[0].size > 300
    assert at_touch[0].max() == 1 and at_touch[1].max() == 1  # at the touch only: one 10-lot order, one price
    assert through[0].mean() > 1.5 and (through[1] > 1).mean() > 0.3, (through[0].mean(), (through[1] > 1).mean())
