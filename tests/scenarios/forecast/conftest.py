"""Shared small series for the forecast tests."""

from __future__ import annotations

import pytest

from calibration.presets import load_preset
from scenarios.forecast.data import simulate_series


@pytest.fixture(scope="session")
def btc_params():
    """The BTCUSDT USD-M preset's parameters (2-D buy/sell, 4 exponentials)."""
    return load_preset("binance-usdm-btcusdt").params


@pytest.fixture(scope="session")
def small_series(btc_params):
    """Ten minutes of the preset in 1 s windows, with its true state."""
    return simulate_series(btc_params, 600.0, rng=11)


TINY_FORECAST_SPEC = """
[run]
name = "tiny"
seed = 3

[[data]]
name = "synthetic"
source = "preset"
preset = "binance-usdm-btcusdt"
duration_s = 900.0

[models]
include = ["mean", "var", "hybrid_nowcast", "oracle"]
lags = 2
oracle_paths = 100

[models.network]
max_epochs = 4
max_train = 300

"""
"""A forecast spec small enough for a CLI or report test: 15 min of the BTCUSDT preset, four models."""
