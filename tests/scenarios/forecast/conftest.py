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
