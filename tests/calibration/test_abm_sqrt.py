"""The price-anchored latent AMZN market (docs/agents_sqrt.md): its start and its preset."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from calibration.abm import load_abm_preset, with_parameters
from calibration.abm_sqrt import BASE, PARAMETERS, PRESET, START_VOLATILITY, start_config

ROOT = Path(__file__).parents[2]


def test_start_is_the_slow_latent_market_anchored_on_the_price():
    base, _ = load_abm_preset(ROOT / BASE)
    start = start_config(ROOT / BASE)
    assert start.value.latent_anchor == "price" and base.value.latent_anchor == "fundamental"
    assert start.fundamental.volatility_ticks_per_sqrt_s == START_VOLATILITY
    held = replace(start, value=base.value, fundamental=base.fundamental)
    assert held == base  # nothing else changed: makers and momentum agents off, refresh 1e-4 /s, 10,000 noise agents


def test_preset_is_its_start_with_the_fitted_parameters():
    config, calibration = load_abm_preset(ROOT / PRESET)
    assert set(calibration["estimates"]) == set(PARAMETERS) and calibration["moments_without_jacobian"] == []
    start = replace(start_config(ROOT / BASE), name=config.name, open_ns=config.open_ns, instrument=config.instrument,
                    fundamental=replace(start_config(ROOT / BASE).fundamental,
                                        mean_ticks=config.fundamental.mean_ticks))  # fmt: skip
    assert with_parameters(start, calibration["estimates"]) == config
    assert config.value.latent_anchor == "price" and config.value.latent_refresh_per_s == 1e-4
    assert config.market_maker.count == 0 and config.momentum.count == 0
