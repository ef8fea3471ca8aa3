"""The value agents' size grown with their mispricing (`value.size_mispricing_scale_ticks`, ours): the rule against
its closed form on hand-made books, the default (0) left bit for bit, the sizes a market's value agents send, bad
values refused, the TOML keys. The kernel against the twin with the key on is in test_kernel_twin.py."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simlab.agents import MarketConfig, ValueAgents
from simlab.agents import _kernel as K
from simlab.agents import _rules as R
from simlab.book import _sim
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import run_market, small_config


def _vp(scale, cap=0.0, power=1.0):
    vp = np.zeros(13)
    vp[R.VP_SIZE_SCALE], vp[R.VP_SIZE_CAP], vp[R.VP_SIZE_POWER] = scale, cap, power
    return vp


def test_the_size_grows_linearly_with_the_mispricing_up_to_the_cap():
    bid, ask = 995, 1005  # mid 1000
    for d in (0, 5, 10, 37, 200):
        for forecast in (1000 + d, 1000 - d):  # a buyer above the mid, a seller below: the same factor
            assert R.mispricing_size(100, forecast, bid, ask, True, _vp(10.0)) == round(100 * (1 + d / 10))
    assert R.mispricing_size(100, 1030, bid, ask, True, _vp(10.0, 2.5)) == 250  # capped at 2.5 x (4 x uncapped)
    assert R.mispricing_size(100, 1010, bid, ask, True, _vp(10.0, 2.5)) == 200  # under the cap: the line
    assert R.mispricing_size(7, 1003, bid, ask, True, _vp(2.0)) == 18  # rint(7 x 2.5) = 18 lots (17.5, to even)
    assert R.mispricing_size(7, 1003, 996, 1005, True, _vp(2.0)) == 18  # mid (996 + 1005) // 2 = 1000
    sizes = [R.mispricing_size(100, 1000 + d, bid, ask, True, _vp(25.0)) for d in range(0, 300, 7)]
    assert np.all(np.diff(sizes) > 0)  # strictly growing with |forecast - mid|


def test_a_power_of_2_grows_the_size_with_the_square_of_the_mispricing():
    bid, ask = 995, 1005  # mid 1000
    for d in (0, 5, 10, 30):
        assert R.mispricing_size(100, 1000 - d, bid, ask, True, _vp(10.0, 0.0, 2.0)) == round(100 * (1 + (d / 10) ** 2))
    assert R.mispricing_size(100, 1030, bid, ask, True, _vp(10.0, 4.0, 2.0)) == 400  # 10 x capped at 4 x
    assert R.mispricing_size(100, 1030, bid, ask, True, _vp(10.0, 0.0, 1.0)) == 400  # power 1: the line


def test_off_one_sided_or_empty_the_drawn_size_is_kept():
    assert R.mispricing_size(100, 1300, 995, 1005, True, _vp(0.0)) == 100  # off
    assert R.mispricing_size(100, 1300, 995, 1005, True, _vp(0.0, 3.0)) == 100
    assert R.mispricing_size(100, 1300, 995, 1005, False, _vp(10.0)) == 100  # a side empty: no mid
    assert R.mispricing_size(0, 1300, 995, 1005, True, _vp(10.0)) == 0  # no order stays no order


def _value_adds(config, seed):
    market, ev = run_market(config, seed)
    values = np.flatnonzero(market.agents[:, K.A_CLASS] == K.VALUE)
    adds = ev[(ev[:, _sim.EV_KIND] == _sim.ADD) & np.isin(ev[:, K.EV_AGENT], values)]
    return ev, adds[:, _sim.EV_QTY]


def test_the_key_off_is_the_market_bit_for_bit_and_on_the_value_agents_send_more():
    config = small_config()
    assert config.value.size_mispricing_scale_ticks == 0.0  # the key off: the market of before, bit for bit, is
    ev, sizes = _value_adds(config, 3)  # what test_market's digest of a default day with value agents pins
    grown = replace(config, value=replace(config.value, size_mispricing_scale_ticks=5.0))
    ev_on, sizes_on = _value_adds(grown, 3)
    assert not np.array_equal(ev_on, ev)
    assert sizes_on.mean() > 1.5 * sizes.mean()  # the value agents' orders are larger


@pytest.mark.parametrize("value", [-1.0, 0.5, float("nan"), float("inf"), "4", None, True])
def test_bad_scales_are_refused(value):
    with pytest.raises(ParameterError, match="size_mispricing_scale_ticks"):
        ValueAgents(size_mispricing_scale_ticks=value)


@pytest.mark.parametrize("value", [0.5, 1.0, -2.0, float("inf")])
def test_bad_caps_are_refused(value):
    with pytest.raises(ParameterError, match="size_mispricing_max_factor"):
        ValueAgents(size_mispricing_scale_ticks=10.0, size_mispricing_max_factor=value)


def test_a_cap_without_a_scale_or_a_scale_with_the_latent_rule_is_refused_and_the_keys_are_read_from_toml():
    with pytest.raises(ParameterError, match="size_mispricing_max_factor.*size_mispricing_scale_ticks"):
        ValueAgents(size_mispricing_max_factor=3.0)
    with pytest.raises(ParameterError, match="size_mispricing_power.*size_mispricing_scale_ticks"):
        ValueAgents(size_mispricing_power=2.0)
    for bad in (0.0, -1.0, 2.5, float("nan")):
        with pytest.raises(ParameterError, match="size_mispricing_power"):
            ValueAgents(size_mispricing_scale_ticks=10.0, size_mispricing_power=bad)
    with pytest.raises(ParameterError, match="size_mispricing_scale_ticks.*latent_depth_ticks"):
        ValueAgents(size_mispricing_scale_ticks=10.0, latent_depth_ticks=40.0)
    assert ValueAgents().size_mispricing_scale_ticks == 0.0 and ValueAgents().size_mispricing_max_factor == 0.0
    data = {"agents": {"value": {"size_mispricing_scale_ticks": 60.0, "size_mispricing_max_factor": 8,
                                 "size_mispricing_power": 2}}}  # fmt: skip
    v = MarketConfig.from_dict(data).value
    assert (v.size_mispricing_scale_ticks, v.size_mispricing_max_factor, v.size_mispricing_power) == (60.0, 8.0, 2.0)
