"""The makers' slow ladder centre (`market_maker.center_halflife_s`): an exponential moving average of the mids a
maker saw at its decisions, in calendar time. Its arithmetic against the closed form on a hand-made mid path, the
default (0) left bit for bit, bad values refused, the TOML key. The post-only clip's gap (`post_only_gap_ticks`):
the clip distance on hand-built ladders, 0 and 1 the one-tick clip bit for bit, bad values refused. The centre's
snap (`center_snap_ticks`): the rule on a hand-made mid path, 0 (and a threshold never reached) the slow centre bit
for bit, bad values refused. The kernel against the twin with the keys on is in test_kernel_twin.py."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simlab.agents import MarketConfig, MarketMakers
from simlab.agents import _kernel as K
from simlab.agents import _rules as R
from simlab.book import _sim
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import run_market, small_config


def _state():
    state = np.full(R.M_FIELDS, -1.0)
    state[R.M_HAS_MID] = 0.0
    state[R.M_SNAPS] = 0.0
    return state


def test_the_centre_is_the_closed_form_ema_of_a_hand_made_mid_path():
    hl = 30 * 10**9  # 30 s
    path = [(10**12, 1000), (10**12 + 30 * 10**9, 1100), (10**12 + 90 * 10**9, 901), (10**12 + 91 * 10**9, 901)]
    state, got = _state(), []
    for t, mid in path:
        got.append(R.maker_centre(state, np.int64(mid), np.int64(t), np.int64(hl), np.int64(0)))
    # by hand: starts at 1000; one half-life later halfway to 1100; two half-lives later 3/4 of the way to 900
    c1 = 1000.0
    c2 = 0.5 * c1 + 0.5 * 1100  # 1050
    c3 = 0.25 * c2 + 0.75 * 901  # 938.25
    c4 = 2 ** (-1 / 30) * c3 + (1 - 2 ** (-1 / 30)) * 901
    assert state[R.M_CENTRE] == pytest.approx(c4, rel=1e-12) and state[R.M_CENTRE_T] == path[-1][0]
    assert got == [1000, 1050, int(np.rint(c3)), int(np.rint(c4))]
    assert got[2:] == [938, 937]  # 938.25, then 937.40...


def test_a_half_life_of_zero_is_the_mid_and_leaves_the_state_alone():
    state = _state()
    before = state.copy()
    assert R.maker_centre(state, np.int64(1234), np.int64(10**12), np.int64(0), np.int64(5)) == 1234
    np.testing.assert_array_equal(state, before)


@pytest.mark.parametrize("seed", [3])
def test_the_default_is_bit_for_bit_and_a_slow_centre_changes_the_market(seed):
    config = small_config(market_maker=MarketMakers(count=2, wake_interval_s=20.0, levels=4, volume_window_s=20.0))
    market, ev = run_market(config, seed)
    zero = replace(config, market_maker=replace(config.market_maker, center_halflife_s=0.0))
    np.testing.assert_array_equal(run_market(zero, seed)[1], ev)
    slow = replace(config, market_maker=replace(config.market_maker, center_halflife_s=120.0))
    other, ev_slow = run_market(slow, seed)
    assert not np.array_equal(ev_slow, ev)
    makers = np.flatnonzero(other.agents[:, K.A_CLASS] == K.MAKER)
    assert (other.mstate[:, R.M_CENTRE_T] > 0).all()  # every maker's centre was started and kept
    adds = (ev_slow[:, _sim.EV_KIND] == _sim.ADD) & np.isin(ev_slow[:, K.EV_AGENT], makers)
    assert adds.sum() > 20  # the makers quoted


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf"), "30", None, 1e-10])  # 1e-10 s: 0 ns
def test_bad_center_halflife_values_are_refused(value):
    with pytest.raises(ParameterError, match="center_halflife_s"):
        MarketMakers(center_halflife_s=value)


def test_the_key_is_read_from_the_toml_layout():
    data = {"agents": {"market_maker": {"center_halflife_s": 300.0}}}
    assert MarketConfig.from_dict(data).market_maker.center_halflife_s == 300.0
    assert MarketMakers().center_halflife_s == 0.0
    with pytest.raises(ParameterError, match="center_halflife_s"):
        MarketConfig.from_dict({"agents": {"market_maker": {"center_halflife_s": -5}}})


def test_the_clipped_side_keeps_the_gap_off_the_touch_it_saw():
    no = np.iinfo(np.int64).min  # an empty side
    # a ladder left below the price (bid 995, ask 997 seen): its asks from 992 go to bid + 6 = 1001, not 996
    assert R.post_only(985, 989, 992, 995, 997, 6) == (985, 989, 1001)
    # left above (bid 995, ask 1000 seen): the bids move down whole, the best to ask - 6 = 994, the step kept
    assert R.post_only(1005, 1009, 1012, 995, 1000, 6) == (990, 994, 1012)
    # within the gap but not crossing: still moved to the gap (best bid 994 <= 1000 - 6)
    assert R.post_only(990, 997, 1003, 993, 1000, 6) == (987, 994, 1003)
    assert R.post_only(985, 989, 992, no, no, 6) == (985, 989, 992)  # an empty side: no clip
    for args in [(985, 989, 992, 995, 997), (1005, 1009, 1012, 995, 1000), (990, 997, 1003, 993, 1000)]:
        assert R.post_only(*args, 0) == R.post_only(*args, 1)  # 0 is the one-tick clip
    assert R.post_only(985, 989, 992, 995, 997, 0) == (985, 989, 996)


@pytest.mark.parametrize("seed", [3])
def test_a_gap_of_0_or_1_is_the_one_tick_clip_bit_for_bit_and_a_wider_gap_changes_the_market(seed):
    maker = MarketMakers(count=2, wake_interval_s=20.0, levels=4, volume_window_s=20.0, center_halflife_s=120.0)
    config = small_config(market_maker=maker)
    _, ev = run_market(config, seed)
    one = replace(config, market_maker=replace(maker, post_only_gap_ticks=1))
    np.testing.assert_array_equal(run_market(one, seed)[1], ev)
    wide = replace(config, market_maker=replace(maker, post_only_gap_ticks=8))
    assert not np.array_equal(run_market(wide, seed)[1], ev)


@pytest.mark.parametrize("value", [-1, 2.5, 4.0, "4", None, True])
def test_bad_post_only_gap_values_are_refused(value):
    with pytest.raises(ParameterError, match="post_only_gap_ticks"):
        MarketMakers(center_halflife_s=30.0, post_only_gap_ticks=value)


def test_a_gap_without_a_clip_is_refused_and_the_key_is_read_from_toml():
    with pytest.raises(ParameterError, match="post_only_gap_ticks.*center_halflife_s"):
        MarketMakers(post_only_gap_ticks=4)
    MarketMakers(inventory_skew_ticks_per_lot=0.05, post_only_gap_ticks=4)  # the inventory skew's clip: fine
    assert MarketMakers().post_only_gap_ticks == 0
    data = {"agents": {"market_maker": {"center_halflife_s": 10.0, "post_only_gap_ticks": 6}}}
    assert MarketConfig.from_dict(data).market_maker.post_only_gap_ticks == 6


def test_the_snap_sets_the_centre_to_the_mid_beyond_its_threshold_only():
    hl, t0 = 30 * 10**9, 10**12
    path = [(t0, 1000), (t0 + 30 * 10**9, 1020), (t0 + 60 * 10**9, 1100), (t0 + 90 * 10**9, 1090)]
    state, got = _state(), []
    for t, mid in path:
        got.append(R.maker_centre(state, np.int64(mid), np.int64(t), np.int64(hl), np.int64(40)))
    # by hand: 1000; halfway to 1020 (10 ticks off: kept); halfway to 1100 from 1010 is 1055, 45 > 40 ticks off:
    # snapped to 1100; then halfway to 1090, 5 ticks off: kept
    assert got == [1000, 1010, 1100, 1095] and state[R.M_CENTRE] == 1095.0 and state[R.M_CENTRE_T] == path[-1][0]
    assert state[R.M_SNAPS] == 1
    at_40 = _state()  # a gap of exactly the threshold is kept (strictly beyond it snaps)
    R.maker_centre(at_40, np.int64(1000), np.int64(t0), np.int64(hl), np.int64(40))
    assert R.maker_centre(at_40, np.int64(1080), np.int64(t0 + hl), np.int64(hl), np.int64(40)) == 1040
    assert at_40[R.M_SNAPS] == 0
    unrounded = _state()  # the gap is read on the unrounded centre: 1039.72 is 40.28 ticks off 1080 and snaps,
    R.maker_centre(unrounded, np.int64(1000), np.int64(t0), np.int64(hl), np.int64(40))  # where 1040 would not
    assert R.maker_centre(unrounded, np.int64(1080), np.int64(t0 + 29_700_000_000), np.int64(hl), np.int64(40)) == 1080
    assert unrounded[R.M_SNAPS] == 1


@pytest.mark.parametrize("seed", [3])
def test_a_snap_of_zero_or_never_reached_is_the_slow_centre_bit_for_bit(seed):
    maker = MarketMakers(count=2, wake_interval_s=20.0, levels=4, volume_window_s=20.0, center_halflife_s=120.0)
    config = small_config(market_maker=maker)
    ev = run_market(config, seed)[1]
    for snap in (0, 10**9):
        market, got = run_market(replace(config, market_maker=replace(maker, center_snap_ticks=snap)), seed)
        np.testing.assert_array_equal(got, ev)
        assert not market.mstate[:, R.M_SNAPS].any()  # and no maker counted a snap
    assert not np.array_equal(
        run_market(replace(config, market_maker=replace(maker, center_snap_ticks=2)), seed)[1], ev
    )


@pytest.mark.parametrize("value", [-1, 2.5, "4", None, True, 2**62])  # 2**62: no int64 room left, refused
def test_bad_snap_values_are_refused(value):
    with pytest.raises(ParameterError, match="center_snap_ticks"):
        MarketMakers(center_halflife_s=30.0, center_snap_ticks=value)


def test_a_snap_without_the_slow_centre_is_refused_and_the_key_is_read_from_toml():
    with pytest.raises(ParameterError, match="center_snap_ticks.*center_halflife_s"):
        MarketMakers(center_snap_ticks=30)
    MarketMakers(inventory_skew_ticks_per_lot=0.05, center_snap_ticks=0)  # off: fine without the centre
    assert MarketMakers().center_snap_ticks == 0
    data = {"agents": {"market_maker": {"center_halflife_s": 30.0, "center_snap_ticks": 60}}}
    assert MarketConfig.from_dict(data).market_maker.center_snap_ticks == 60
