"""The value agents' forecast blended with the mid (`value.price_weight`, ours): the rule against its closed form on
hand-made books, the key at 0 left bit for bit, the forecast a market's value agents act on, bad values refused, the
TOML key. The kernel against the twin with the key on is in test_kernel_twin.py."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simlab.agents import MarketConfig, ValueAgents
from simlab.agents import _rules as R
from simlab.errors import ParameterError
from tests.simlab.agents.conftest import run_market, small_config


def _vp(weight, scale=0.0, power=1.0):
    vp = np.zeros(14)
    vp[R.VP_PRICE_WEIGHT], vp[R.VP_SIZE_SCALE], vp[R.VP_SIZE_POWER] = weight, scale, power
    return vp


def test_the_forecast_moves_toward_the_mid_by_the_weight():
    bid, ask = 995, 1006  # mid (995 + 1006) // 2 = 1000
    for forecast in (1000, 1040, 960, 1001, 1237):
        for w in (0.25, 0.5, 0.9):
            assert R.price_forecast(forecast, bid, ask, True, _vp(w)) == round((1 - w) * forecast + w * 1000)
    assert R.price_forecast(1040, bid, ask, True, _vp(0.25)) == 1030  # a quarter of the way to the mid
    assert R.price_forecast(1001, bid, ask, True, _vp(0.5)) == 1000  # 1000.5, to even
    assert R.price_forecast(1003, bid, ask, True, _vp(0.5)) == 1002  # 1001.5, to even
    assert R.price_forecast(1040, bid, ask, True, _vp(0.0)) == 1040  # off
    assert R.price_forecast(1040, bid, ask, False, _vp(0.5)) == 1040  # a side empty: no mid, the forecast kept


def test_the_size_grown_with_the_mispricing_reads_the_blended_forecast():
    bid, ask = 995, 1005  # mid 1000; forecast 1040 blended at 0.5 is 1020: 1 + (20 / 10)^2 = 5 drawn sizes
    vp = _vp(0.5, scale=10.0, power=2.0)
    blended = R.price_forecast(1040, bid, ask, True, vp)
    assert R.mispricing_size(100, blended, bid, ask, True, vp) == 500
    assert R.value_order(np.random.default_rng(0), blended, bid, ask, True, vp)[0] == 1  # still a buyer


def test_the_key_at_0_is_the_market_bit_for_bit_and_on_it_changes_the_value_agents_orders():
    config = small_config(value=ValueAgents(count=12, arrival_rate_per_s=0.05, size_mispricing_scale_ticks=5.0))
    assert ValueAgents().price_weight == 0.0  # the default off: test_market's digest pins that day
    _, ev = run_market(config, 3)
    _, ev_zero = run_market(replace(config, value=replace(config.value, price_weight=0.0)), 3)
    assert np.array_equal(ev_zero, ev)
    _, ev_on = run_market(replace(config, value=replace(config.value, price_weight=0.5)), 3)
    assert not np.array_equal(ev_on, ev)


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, float("nan"), float("inf"), "0.5", None, True, False])
def test_bad_weights_are_refused(value):
    with pytest.raises(ParameterError, match="price_weight"):
        ValueAgents(price_weight=value)


def test_the_weight_with_the_latent_rule_is_refused_and_the_key_is_read_from_toml():
    with pytest.raises(ParameterError, match="price_weight.*latent_depth_ticks"):
        ValueAgents(price_weight=0.5, latent_depth_ticks=40.0)
    assert MarketConfig.from_dict({"agents": {"value": {"price_weight": 0.25}}}).value.price_weight == 0.25
    assert MarketConfig.from_dict({"agents": {"value": {"price_weight": 0}}}).value.price_weight == 0.0
