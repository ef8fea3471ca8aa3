"""The makers' imbalance skew with a prior volume (`market_maker.skew_prior_lots`, docs/agents_skew_prior.md): the
ladder's centre moves by ``price_skew_ticks * (buy - sell) / (buy + sell + prior)`` whole ticks, ABIDES' ratio with
the prior at 0; bad values are refused with a sentence. The kernel against the twin with the prior on is in
test_kernel_twin.py."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.agents import MarketMakers
from simlab.agents import _rules as R
from simlab.errors import ParameterError

MID, WINDOW = 10_000, 6.0  # a centre and a smoothed spread (the ladder's best bid 3 below it, best ask 3 above)


def _mp(skew, prior):
    mp = np.zeros(R.MP_FIELDS)
    mp[[R.MP_LEVELS, R.MP_SPACING, R.MP_SKEW, R.MP_SKEW_PRIOR]] = 2, 0.5, skew, prior
    return mp


def _shift(buys, sells, skew=24.0, prior=0.0):
    """Ticks the ladder's best bid moved from the unskewed one (its best ask moves with it)."""
    low_bid, high_bid, low_ask, step = R.maker_ladder(WINDOW, MID, buys, sells, _mp(skew, prior), 0.0, 0)
    assert low_ask - high_bid == 6 and step == 3  # the skew moves the ladder, never its shape
    return high_bid - (MID - 3)


def test_abides_ratio_moves_the_ladder_by_the_whole_skew_for_one_lot():
    assert _shift(1, 0) == 24 and _shift(5000, 0) == 24  # one lot or 5,000: the same move
    assert _shift(0, 1) == -24 and _shift(3, 1) == 12  # (3 - 1) / 4 = 0.5
    assert _shift(0, 0) == 0


@pytest.mark.parametrize(
    ("buys", "sells", "ticks"),
    [(1, 0, 0),  # 24 / 100 = 0.24: under a tick (toward zero)
     (10, 0, 2),  # 24 * 10 / 109 = 2.20
     (50, 0, 8),  # 24 * 50 / 149 = 8.05
     (99, 0, 12),  # 24 * 99 / 198 = 12.0
     (1000, 0, 21),  # 24 * 1000 / 1099 = 21.8: saturating toward the skew
     (300, 200, 4),  # 24 * 100 / 599 = 4.0: the net volume against the whole window's
     (0, 50, -8),  # the move toward zero, as for buys
     (0, 1, 0),  # a lone sell moves nothing either
     (0, 1000, -21),
     (0, 0, 0)],
)  # fmt: skip
def test_the_prior_makes_the_skew_linear_in_small_net_volume_and_saturating(buys, sells, ticks):
    assert _shift(buys, sells, prior=99.0) == ticks


def test_abides_truncates_the_price_so_a_fraction_moves_sells_a_tick_and_the_prior_does_not():
    assert _shift(2, 1, skew=1.0) == 0 and _shift(1, 2, skew=1.0) == -1  # +-1/3 tick: ABIDES' quirk, kept at 0
    for net in (1, 10, 60):  # under the prior a sell moves the ladder as far down as the buy moves it up
        assert _shift(0, net, prior=99.0) == -_shift(net, 0, prior=99.0)


def test_the_move_grows_with_the_net_volume_under_the_prior_but_not_under_abides():
    nets = [1, 3, 10, 30, 100, 300, 1000]
    prior = [_shift(n, 0, skew=240.0, prior=100.0) for n in nets]
    assert prior == sorted(prior) and prior[0] == 2 and prior[-1] == 218  # 240 / 101 = 2.4; 240 * 1000 / 1100
    assert [_shift(n, 0, skew=240.0) for n in nets] == [240] * len(nets)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_a_bad_prior_is_refused_naming_the_key(bad):
    with pytest.raises(ParameterError, match="skew_prior_lots"):
        MarketMakers(skew_prior_lots=bad)


def _random_shift(buys, sells, u, skew=24.0, prior=99.0):
    mp = _mp(skew, prior)
    mp[R.MP_SKEW_RANDOM] = 1.0
    low_bid, high_bid, low_ask, step = R.maker_ladder(WINDOW, MID, buys, sells, mp, u, 0)
    assert low_ask - high_bid == 6 and step == 3
    return high_bid - (MID - 3)


@pytest.mark.parametrize(("buys", "sells"), [(1, 0), (10, 0), (0, 1), (0, 50), (300, 200), (1000, 0), (0, 0)])
def test_random_rounding_moves_the_ladder_by_the_skew_in_expectation(buys, sells):
    x = 24.0 * (buys - sells) / (buys + sells + 99.0)
    grid = (np.arange(10_000) + 0.5) / 10_000  # uniform draws, evenly spread: the mean move is x to 1e-4
    moves = [_random_shift(buys, sells, u) for u in grid]
    assert set(moves) <= {np.floor(x), np.floor(x) + 1}  # one of the two ticks around x, never further
    assert np.mean(moves) == pytest.approx(x, abs=1e-4)


def test_random_rounding_moves_a_tick_below_the_fraction_and_none_above_it():
    x = 24.0 / 100.0  # one buy lot: 0.24 tick, which toward zero never moves the ladder
    assert _shift(1, 0, prior=99.0) == 0
    assert _random_shift(1, 0, 0.239) == 1 and _random_shift(1, 0, x + 1e-9) == 0
    assert _random_shift(0, 1, 0.239) == -1 and _random_shift(0, 1, x + 1e-9) == 0  # a sell: the same draw, down
    assert _random_shift(10, 0, 0.19) == 3 and _random_shift(10, 0, 0.21) == 2  # 24 * 10 / 109 = 2.20


def test_random_rounding_moves_a_sell_down_as_far_as_the_buy_moves_up_under_the_same_draw():
    for u in (np.arange(200) + 0.5) / 200:
        for net in (1, 3, 10, 60, 1000):
            assert _random_shift(0, net, u) == -_random_shift(net, 0, u)


def test_random_rounding_is_a_name_and_needs_the_prior():
    assert MarketMakers(skew_prior_lots=50.0, skew_rounding="random").skew_rounding == "random"
    with pytest.raises(ParameterError, match="`skew_rounding` of MarketMakers must be one of .*'random'.*got 'up'"):
        MarketMakers(skew_prior_lots=50.0, skew_rounding="up")
    with pytest.raises(ParameterError, match="skew_rounding.*skew_prior_lots"):
        MarketMakers(skew_rounding="random")
