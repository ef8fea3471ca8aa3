"""The makers' volume kernel (`market_maker.volume_kernel`): ABIDES' box counts every trade of the last
``volume_window_s`` whole; the exponential weighs each trade by ``exp(-age / volume_window_s)``. The kernel's running
sums against the direct sum on crafted records, looked at once or in steps; the box's echo (a trade moves the skew
again, the other way, when it leaves the window) and the exponential without it; bad values refused. The kernel
against the twin with the exponential is in test_kernel_twin.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simlab.agents import MarketConfig, MarketMakers
from simlab.agents import _kernel as K
from simlab.agents import _loop as L
from simlab.agents import _rules as R
from simlab.agents.config import VOLUME_KERNELS
from simlab.book import _sim
from simlab.errors import ParameterError

OPEN = 10**12  # the market's open (ns)
TAU = 10**10  # the kernel's time (ns): 10 s
# agents 0 noise, 1 value, 2 and 3 makers, 4 the exchange; trades (aggressor, resting, side, lots, s after the open)
TRADES = [(0, 1, 1, 10, 1.0), (0, 2, -1, 20, 2.5), (3, 2, 1, 40, 4.0), (2, 1, -1, 80, 7.25), (0, -1, 1, 160, 9.0)]


def _records():
    agents = np.zeros((5, K.A_FIELDS), np.int64)
    agents[:, K.A_CLASS] = K.NOISE, K.VALUE, K.MAKER, K.MAKER, K.EXCHANGE
    ev = np.zeros((len(TRADES) + 1, K.EV_FIELDS), np.int64)
    for row, (a, p, side, lots, at) in enumerate(TRADES):
        ev[row, [_sim.EV_TS, _sim.EV_KIND, _sim.EV_SIDE, _sim.EV_QTY]] = OPEN + int(at * 1e9), _sim.TRADE, side, lots
        ev[row, [K.EV_AGENT, K.EV_PASSIVE_AGENT]] = a, p
    ev[-1, [_sim.EV_TS, _sim.EV_KIND, _sim.EV_QTY, K.EV_AGENT]] = OPEN + 9 * 10**9, _sim.ADD, 5000, 2  # not a trade
    return ev, agents


def _fresh_state():
    own = np.full(R.M_FIELDS, -1.0)
    own[[R.M_VOL_BUY, R.M_VOL_SELL, R.M_VOL_COUNTED, R.M_VOL_ROW]] = 0.0
    return own


def _direct(t_s, rule):
    """The sums by hand: every trade at or before ``t_s`` weighed by exp(-age / 10 s)."""
    buys = sells = counted = 0.0
    for a, p, side, lots, at in TRADES:
        if at <= t_s:
            lots = lots * math.exp(-(t_s - at) / 10.0)
            buys, sells = (buys + lots, sells) if side == 1 else (buys, sells + lots)
            makers = (a in (2, 3), p in (2, 3))
            if (
                rule == K.MM_VOLUME_ALL
                or (rule == K.MM_VOLUME_OTHERS and not any(makers))
                or (rule == K.MM_VOLUME_NOT_BETWEEN and not all(makers))
            ):
                counted += lots
    return buys, sells, counted


@pytest.mark.parametrize("rule", [K.MM_VOLUME_ALL, K.MM_VOLUME_OTHERS, K.MM_VOLUME_NOT_BETWEEN])
def test_the_running_sums_equal_the_direct_sum_whether_looked_at_once_or_in_steps(rule):
    ev, agents = _records()
    ctr = np.zeros(K.CTR_SIZE, np.int64)
    once = _fresh_state()
    ctr[_sim.C_EVENTS] = ev.shape[0]
    at_12 = L._decayed_volume(ev, ctr, agents, once, OPEN + 12 * 10**9, OPEN, TAU, rule)
    np.testing.assert_allclose(at_12, _direct(12.0, rule), rtol=1e-13)
    assert once[R.M_VOL_ROW] == ev.shape[0] and once[R.M_VOL_T] == 12e9
    steps = _fresh_state()  # looks as the rows are recorded: each row folded in once, the sums decayed between
    for rows, t_s in ((0, 0.5), (2, 3.0), (2, 3.5), (4, 8.0), (6, 9.0), (6, 12.0)):
        ctr[_sim.C_EVENTS] = rows
        got = L._decayed_volume(ev, ctr, agents, steps, OPEN + int(t_s * 1e9), OPEN, TAU, rule)
        np.testing.assert_allclose(got, _direct(t_s if rows else -1.0, rule), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(got, at_12, rtol=1e-13)
    assert L._counts(agents, 0, -1, K.MM_VOLUME_OTHERS) and not L._counts(agents, 3, 2, K.MM_VOLUME_NOT_BETWEEN)


def _skew_points(kernel_exponential):
    """The ladder centre a maker (mid 1000, skew 12 ticks, prior 10 lots, toward zero) sets at each second 0-30 after
    one 30-lot buy at second 0.5, under the box of 10 s or the exponential of 10 s."""
    ev = np.zeros((1, K.EV_FIELDS), np.int64)
    ev[0, [_sim.EV_TS, _sim.EV_KIND, _sim.EV_SIDE, _sim.EV_QTY]] = OPEN + 5 * 10**8, _sim.TRADE, 1, 30
    agents = np.zeros((2, K.A_FIELDS), np.int64)
    ctr = np.zeros(K.CTR_SIZE, np.int64)
    ctr[_sim.C_EVENTS] = 1
    mp = np.zeros(R.MP_FIELDS)
    mp[[R.MP_SPACING, R.MP_LEVELS, R.MP_SKEW, R.MP_SKEW_PRIOR]] = 0.1, 1, 12.0, 10.0
    own, points = _fresh_state(), []
    for second in range(1, 31):
        t = OPEN + second * 10**9
        if kernel_exponential:
            buys, sells, _ = L._decayed_volume(ev, ctr, agents, own, t, OPEN, TAU, K.MM_VOLUME_ALL)
        else:
            buys, sells = L._window_volume(ev, ctr, t, TAU)
        low_bid, high_bid, low_ask, _ = R.maker_ladder(
            2.0, np.int64(1000), buys, sells, mp, 0.0, int(mp[R.MP_MIN_HALF])
        )
        points.append(int(high_bid + low_ask) // 2)
    return np.array(points)


def test_the_box_moves_the_skew_back_when_the_trade_leaves_it_and_the_exponential_fades_it():
    box, exponential = _skew_points(False), _skew_points(True)
    # box: 30 / (30 + 10) x 12 = 9 ticks for 10 s, then all 9 back at once when the trade leaves (the echo)
    assert box[:10].tolist() == [1009] * 10 and box[10:].tolist() == [1000] * 20
    expected = [1000 + int(12 * 30 * w / (30 * w + 10)) for w in np.exp(-(np.arange(1, 31) - 0.5) / 10)]
    assert exponential.tolist() == expected
    steps = np.diff(exponential)
    assert steps.min() == -1 and steps.max() == 0  # a tick at a time, never back up
    assert exponential[-1] > 1000  # a trade 30 s old still weighs exp(-3)


@pytest.mark.parametrize("value", ["Box", "ewma", "", 1, None, True])
def test_bad_volume_kernel_values_are_refused(value):
    expected = r"`volume_kernel` of MarketMakers must be one of \('box', 'exponential'\)"
    with pytest.raises(ParameterError, match=expected):
        MarketMakers(volume_kernel=value)


def test_the_key_is_read_from_the_toml_layout_and_the_box_is_the_default():
    data = {"agents": {"market_maker": {"volume_kernel": "exponential"}}}
    assert MarketConfig.from_dict(data).market_maker.volume_kernel == "exponential"
    assert MarketMakers().volume_kernel == "box" and VOLUME_KERNELS == ("box", "exponential")
    with pytest.raises(ParameterError, match="`volume_kernel` of MarketMakers must be one of"):
        MarketConfig.from_dict({"agents": {"market_maker": {"volume_kernel": "gaussian"}}})
