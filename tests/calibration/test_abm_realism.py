"""The abm-amzn-v2 preset (docs/agents_realism.md): its realism rules are on, its calibration table matches its
config, and its spread floor is what keeps its book wide (the same market without the floor halves the spread)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from calibration.abm import get_parameter, load_abm_preset
from simlab.agents import simulate_abm

PRESET = Path(__file__).parents[2] / "calibration" / "presets" / "abm-amzn-v2.toml"


def test_the_preset_holds_its_estimates_and_the_rules():
    config, calibration = load_abm_preset(PRESET)
    for name, value in calibration["estimates"].items():
        assert get_parameter(config, name) == value
    assert config.noise.arrival_rate_per_s > 0 and config.noise.split_exponent > 1
    assert config.market_maker.min_half_spread_ticks > 0 and config.market_maker.level_jitter_s > 0
    assert config.fundamental.volatility_ticks_per_sqrt_s == 2.1  # AMZN's realised volatility, held fixed


def _third_hour_spread(config):
    books = simulate_abm(config, seed=1, duration_s=10_800.0, sample_ns=10**9)["books"]
    quoted = (books["bid_qty"].values[7200:, 0] > 0) & (books["ask_qty"].values[7200:, 0] > 0)
    return np.median((books["ask_price"].values[7200:, 0] - books["bid_price"].values[7200:, 0])[quoted])


def test_the_floor_keeps_the_calibrated_book_wide():
    config, _ = load_abm_preset(PRESET)
    floored = _third_hour_spread(config)
    without = _third_hour_spread(replace(config, market_maker=replace(config.market_maker, min_half_spread_ticks=0)))
    assert floored >= without + 3, (floored, without)  # measured: 9 and 5 ticks (AMZN: 15)
