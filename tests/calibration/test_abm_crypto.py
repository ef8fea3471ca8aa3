"""The crypto-perpetual calibration (calibration/abm_crypto.py): moments of an L2 + trades capture by hand,
parameter recovery with the crypto moments, and the real USD-M capture they are fitted to."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from calibration.abm import AgentMarketEstimator, cut_window, with_parameters
from calibration.abm_crypto import CRYPTO_MOMENTS, CRYPTO_NAMES, crypto_blocks, crypto_moments
from simlab.agents import MarketConfig, simulate_abm

S = 1_000_000_000
WARMUP_S, WINDOW_S = 300.0, 600.0


def test_crypto_moments_by_hand():
    """Books on the 0.1 s grid (the last one at or before each point), ms trade gaps, signs, 5-s returns."""
    bts = np.array([0, 2 * S, 6 * S, 10 * S], np.int64)
    books = xr.Dataset({
        "ts_ns": ("time", bts),
        "bid_price": (("time", "level"), np.array([[100], [100], [101], [101]])),
        "ask_price": (("time", "level"), np.array([[101], [103], [102], [102]])),
        "bid_qty": (("time", "level"), np.array([[10], [20], [0], [10]])),
        "ask_qty": (("time", "level"), np.array([[10], [40], [5], [10]])),
    })  # fmt: skip
    tts = np.array([1 * S, 1 * S + 400_000, 1 * S + 2_000_000, 3 * S], np.int64)  # the first two share a ms
    events = xr.Dataset({"ts_ns": ("event", tts), "kind": ("event", np.array([5, 5, 5, 5], np.int8)),
                         "side": ("event", np.array([1, 1, -1, 1], np.int8))})  # fmt: skip
    m = dict(zip(CRYPTO_NAMES, crypto_moments(crypto_blocks({"events": events, "books": books}, 60.0)), strict=True))
    # grid 0.0 .. 9.9 s: 20 points at spread 1 (depth 10), 40 at spread 3 (depth 30), 40 one-sided
    assert m["spread_mean_ticks"] == pytest.approx((20 * 1 + 40 * 3) / 60)
    assert m["spread_one_tick_share"] == pytest.approx(20 / 60)
    assert m["log_depth_l1"] == pytest.approx((20 * np.log(10) + 40 * np.log(30)) / 60)
    positive = np.log10([0.002, 1.998])  # gaps 0, 2 ms and 1998 ms
    assert m["log10_trade_gap_mean"] == pytest.approx(positive.mean())
    assert m["log10_trade_gap_std"] == pytest.approx(positive.std())
    assert m["zero_trade_gap_share"] == pytest.approx(1 / 3)
    assert m["buy_share"] == pytest.approx(0.75)
    assert m["acf_trade_sign"] == pytest.approx(np.mean([0.5 * 0.5, 0.5 * -1.5, -1.5 * 0.5]) / 0.75)
    # mids at 0 s and 5 s: 100.5 and 102 (the last two-sided book before 5 s is at 2 s: 101.5) -> one return
    assert np.isnan(m["return_kurtosis_5s"])  # a single return has no kurtosis


def small_config() -> MarketConfig:
    return MarketConfig.from_dict({
        "market": {"session_s": 1800.0, "tick_size": 0.1, "lot_size": 0.001},
        "fundamental": {"volatility_ticks_per_sqrt_s": 5.0},
        "agents": {"noise": {"count": 50, "wake_start_s": 0.0}, "value": {"count": 20, "arrival_rate_per_s": 0.05},
                   "market_maker": {"count": 1, "wake_interval_s": 10.0, "volume_window_s": 10.0, "pov": 0.05}},
    })  # fmt: skip


def test_recovers_the_value_agents_rate_from_the_crypto_moments():
    """Simulate at a known arrival rate, fit it from 0.08 with the crypto moments: within 3 standard errors."""
    truth = with_parameters(small_config(), {"value.arrival_rate_per_s": 0.05})
    start_ns = truth.open_ns + int(WARMUP_S * S)
    data = cut_window(simulate_abm(truth, seed=2024, duration_s=WARMUP_S + WINDOW_S), start_ns,
                      start_ns + int(WINDOW_S * S))  # fmt: skip
    begin = with_parameters(truth, {"value.arrival_rate_per_s": 0.08})
    est = AgentMarketEstimator(begin, parameters=("value.arrival_rate_per_s",), warmup_s=WARMUP_S, window_s=WINDOW_S,
                               block_s=30.0, n_paths=4, seed=3, n_boot=100, n_lhs=8, lhs_span=0.8, maxfev=20,
                               n_sigma_paths=8, moments=CRYPTO_MOMENTS).fit(data)  # fmt: skip
    estimate, se = est.estimates_["value.arrival_rate_per_s"], est.std_errors_["value.arrival_rate_per_s"]
    assert 0 < se < 0.025 and abs(estimate - 0.05) < 3 * se, (estimate, se)
    assert set(est.moment_table()) == set(CRYPTO_NAMES)
    assert est.used_moments_[:2] == ("spread_mean_ticks", "spread_one_tick_share")  # kept by their variance floor


def test_real_usdm_capture_and_the_fitted_preset(shared_data):
    """The BTCUSDT USD-M capture of 2024-07-18/19: a one-tick book, fills sharing a ms, persistent signs; the preset
    fitted to it loads, names its source and lists every moment with the real value computed here."""
    from calibration.abm import load_abm_preset
    from calibration.abm_crypto import FIT_FILES, describe, read_capture

    data = read_capture(shared_data, FIT_FILES)
    info = describe(data)
    assert info["trades"] > 10_000 and 470 < info["duration_s"] < 490
    m = dict(zip(CRYPTO_NAMES, crypto_moments(crypto_blocks(data, 30.0)), strict=True))
    assert 1.0 <= m["spread_mean_ticks"] < 1.05 and m["spread_one_tick_share"] > 0.99
    assert m["zero_trade_gap_share"] > 0.5 and m["acf_trade_sign"] > 0.5
    config, calibration = load_abm_preset("calibration/presets/abm-btcusdt-perp.toml")
    assert config.instrument == "BTCUSDT" and config.tick_size == 0.1 and config.leveraged.count == 0
    assert calibration["source"]["trades"] == info["trades"]
    for name, value in m.items():
        assert calibration["moments"][name]["real"] == pytest.approx(value)


def test_scoring_view_pairs_each_trade_with_the_last_book():
    from calibration.abm_crypto import scoring_view

    books = xr.Dataset({
        "ts_ns": ("time", np.array([0, 5 * S], np.int64)),
        "bid_price": (("time", "level"), np.array([[100], [101]])), "ask_price": (("time", "level"), [[101], [102]]),
        "bid_qty": (("time", "level"), np.array([[1], [2]])), "ask_qty": (("time", "level"), np.array([[3], [4]])),
    })  # fmt: skip
    events = xr.Dataset({name: ("event", np.array(v)) for name, v in {
        "ts_ns": [1_500_000, 2 * S, 5 * S + 999_999], "kind": [5, 1, 5], "side": [1, -1, -1],
        "price_ticks": [101, 101, 101], "qty_lots": [1, 1, 1], "order_id": [1, 2, 3], "agent_id": [0, 0, 0],
    }.items()})  # fmt: skip
    view = scoring_view({"events": events, "books": books})
    np.testing.assert_array_equal(view["events"]["ts_ns"].values, [1_000_000, 5 * S])  # the trades, on the ms
    np.testing.assert_array_equal(view["books"]["bid_price"].values[:, 0], [100, 101])
    np.testing.assert_array_equal(view["books"]["ts_ns"].values, view["events"]["ts_ns"].values)


def test_the_calibrated_crypto_perpetual_variant():
    """The library's calibrated perpetual market is the preset's background with abm_crypto_perp.toml's stress
    agents (regenerated by `python -m calibration.abm_crypto variant`)."""
    from calibration.abm import load_abm_preset
    from calibration.abm_crypto import VARIANT, calibrated_variant

    variant, _ = load_abm_preset(VARIANT)
    assert variant == calibrated_variant("calibration/presets/abm-btcusdt-perp.toml",
                                         "scenarios/library/abm_crypto_perp.toml")  # fmt: skip
    fitted, _ = load_abm_preset("calibration/presets/abm-btcusdt-perp.toml")
    assert variant.value == fitted.value and variant.market_maker == fitted.market_maker
    assert variant.leveraged.count == 400 and variant.stop_loss.count == 50
