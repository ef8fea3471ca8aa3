"""Forecasters in a crash: the leakage guard, determinism, the Hawkes crash world and its oracle ceiling."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.forecast.state import forward_moments
from scenarios.stress.forecast import (
    METRICS,
    TESTS,
    Outcome,
    as_regime,
    check_training,
    forecaster_stress,
    hawkes_truth,
    regime_scores,
    regime_series,
    two_sample,
)
from scenarios.stress.forecast_worlds import hawkes_world, shocked
from simlab.errors import DataError, ParameterError
from simlab.hawkes import HawkesParams
from simlab.hawkes.closed_form import count_variance, stationary_intensity

S = 1_000_000_000
DAY = 1_600_000_000 * S  # 2020-09-13 12:26:40 UTC
PARAMS = HawkesParams(
    baseline=np.array([0.8, 0.8]),
    adjacency=np.array([[0.3, 0.1], [0.1, 0.3]]),
    decays=np.array([[2.0, 2.0], [2.0, 2.0]]),
    names=("buy", "sell"),
)
CHEAP = ["mean", "persistence", "ar", "logistic", "hawkes", "oracle"]
OPTIONS = {"hawkes_paths": 50, "oracle_paths": 100}


@pytest.fixture(scope="module")
def worlds():
    normal = hawkes_world(PARAMS, 600.0, seed=1, start_ns=DAY)
    crash = hawkes_world(PARAMS, 400.0, seed=2, start_ns=DAY + 3600 * S, crash_s=(200.0, 300.0), sell_factor=4.0)
    return normal, crash


@pytest.fixture(scope="module")
def table(worlds):
    normal, crash = worlds
    return forecaster_stress(normal, {"sell_x4": crash}, CHEAP, 11, **OPTIONS)


def test_table_shape_and_oracle_ceiling(table):
    assert table["score"].dims == ("model", "regime", "metric", "bound")
    assert list(table.regime.values) == ["normal", "sell_x4"] and list(table.metric.values) == list(METRICS)
    assert list(table.test.values) == list(TESTS)
    assert int(table.n_scored.sel(model="ar", regime="sell_x4")) == 100
    value = table["score"].sel(bound="value")
    lo, hi = table["score"].sel(bound="lo"), table["score"].sel(bound="hi")
    assert bool(((lo <= value) & (value <= hi)).all())
    # four times the sell baseline: the OFI turns negative, the oracle (which knows the shock) is the most skilful
    skill = value.sel(regime="sell_x4", metric="skill")
    assert float(skill.sel(model="oracle")) == float(skill.max())
    assert float(table["tests"].sel(model="oracle", regime="sell_x4", test="dm_vs_baseline", stat="p_value")) < 0.01
    # the baseline (training mean) scores skill 0 and has no test against itself
    assert float(value.sel(model="mean", metric="skill", regime="sell_x4")) == 0.0
    assert np.isnan(float(table["tests"].sel(model="mean", test="dm_vs_baseline", regime="normal", stat="statistic")))


def test_oracle_mse_matches_its_conditional_variance_in_the_crash(worlds, table):
    """The oracle's crash MSE is the mean Var(OFI | state) of the shocked process (within its interval), which holds
    only when the oracle forecasts from the shocked intensity."""
    _, crash = worlds
    regime = as_regime("sell_x4", crash)
    truth = hawkes_truth(regime.events, regime.start_ns, regime.end_ns)
    assert truth == shocked(PARAMS, 4.0)
    series, first = regime_series(regime, 1.0, 0.1, params=truth)
    index = np.arange(first, series.size)
    moments = forward_moments(truth, series.states[index], 1.0, rng=5, n_paths=400)
    expected = float(np.mean(moments.ofi_var))
    mse, lo, hi = table["score"].sel(model="oracle", regime="sell_x4", metric="loss").values
    assert lo <= expected <= hi
    wrong = forward_moments(PARAMS, series.states[index], 1.0, rng=5, n_paths=400)
    assert float(np.mean((series.ofi[index] - wrong.ofi_mean) ** 2)) > hi  # the unshocked truth is no ceiling


def test_same_seed_same_bytes(worlds, table):
    normal, crash = worlds
    again = forecaster_stress(normal, {"sell_x4": crash}, CHEAP, 11, **OPTIONS)
    for name in ("score", "tests", "n_scored", "n_moving", "start_ns", "end_ns", "train_end_ns"):
        assert table[name].values.tobytes() == again[name].values.tobytes()
    assert table.attrs == again.attrs
    other = forecaster_stress(normal, {"sell_x4": crash}, ["hawkes", "oracle"], 12, **OPTIONS)
    assert other["score"].values.tobytes() != table["score"].sel(model=["hawkes", "oracle"]).values.tobytes()


def test_training_past_the_crash_start_is_refused(worlds):
    normal, _ = worlds
    # a crash on the normal day's own clock, 5 minutes in: the first 70 % of the day trains past its start
    inside = hawkes_world(PARAMS, 600.0, seed=3, start_ns=DAY, crash_s=(300.0, 400.0), sell_factor=4.0)
    with pytest.raises(DataError, match=r"model 'persistence' is refused: its training data \(2020-09-13T12:26:") as e:
        forecaster_stress(normal, {"early": inside}, ["persistence", "ar"], 0)
    assert "crash window 'early' (2020-09-13T12:31:40.000000Z to 2020-09-13T12:33:20.000000Z)" in str(e.value)
    # a model trained on data after the crash window is refused as well
    before = hawkes_world(PARAMS, 400.0, seed=4, start_ns=DAY - 3600 * S, crash_s=(200.0, 300.0), sell_factor=4.0)
    with pytest.raises(DataError, match="model 'logistic' is refused"):
        forecaster_stress(normal, {"earlier": before}, ["logistic"], 0)


def test_check_training_boundary():
    check_training("ar", 0, 10 * S, "c", (10 * S, 20 * S))  # ends exactly at the crash start: allowed
    with pytest.raises(DataError, match="model 'ar' is refused"):
        check_training("ar", 0, 10 * S + 1, "c", (10 * S, 20 * S))


def test_bad_input(worlds):
    normal, crash = worlds
    with pytest.raises(ParameterError, match=r"distinct names from \['mean', 'persistence'"):
        forecaster_stress(normal, {"c": crash}, ["deep_magic"], 0)
    with pytest.raises(ParameterError, match="`lags` of forecaster_stress must be an int >= 1"):
        forecaster_stress(normal, {"c": crash}, ["ar"], 0, lags=0)
    with pytest.raises(ParameterError, match="at least one crash"):
        forecaster_stress(normal, {}, ["ar"], 0)
    events, books, (start, _) = crash
    with pytest.raises(ParameterError, match="must end after it starts"):
        forecaster_stress(normal, {"c": (events, books, (start, start))}, ["ar"], 0)
    with pytest.raises(
        DataError, match="models read 5 earlier windows"
    ):  # no history before the crash window for the lags
        forecaster_stress(normal, {"c": (events, books, (int(events.ts_ns[0]), start))}, ["ar"], 0)


def test_hawkes_world_rates_follow_the_shock():
    """Sell market orders arrive at the shocked process's stationary rate inside the window, the normal one outside
    (within 4 standard deviations of the closed-form count variance)."""
    events, _, (start, end) = hawkes_world(
        PARAMS, 3000.0, seed=8, start_ns=DAY, crash_s=(1000.0, 2000.0), sell_factor=3.0
    )
    ts, side = events.ts_ns.values, events.side.values
    for params, lo, hi in ((shocked(PARAMS, 3.0), start + 20 * S, end), (PARAMS, DAY + 20 * S, start)):
        span = (hi - lo) / S
        count = np.count_nonzero((ts >= lo) & (ts < hi) & (side == -1))
        rate, var = stationary_intensity(params)[1], count_variance(params, span)
        assert abs(count - rate * span) < 4 * np.sqrt(var[1])


def test_regime_scores_by_hand():
    actual = np.array([0.5, -0.5, 0.0, 1.0])
    forecast = np.array([0.25, 0.5, 0.1, 0.5])
    baseline = np.zeros(4)
    rows = regime_scores(Outcome(actual, forecast, (actual - forecast) ** 2, (actual - baseline) ** 2))
    assert rows["loss"][0] == pytest.approx((0.0625 + 1.0 + 0.01 + 0.25) / 4)
    assert rows["mae"][0] == pytest.approx((0.25 + 1.0 + 0.1 + 0.5) / 4)
    assert rows["directional_accuracy"][0] == pytest.approx(2 / 3)  # the window with OFI 0 is not counted
    assert rows["skill"][0] == pytest.approx(1 - 1.3225 / 1.5)
    z, p = two_sample(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert z == 0.0 and p == 1.0


@pytest.fixture(scope="module")
def markets():
    """A normal agent market (abm-amzn) and, a day later, the same market with its stress rules on at 450-750 s."""
    from dataclasses import replace

    from calibration.abm import load_abm_preset
    from calibration.presets import PRESET_DIR
    from scenarios.stress.forecast_worlds import stressed_market
    from simlab.agents import simulate_abm

    config, _ = load_abm_preset(PRESET_DIR / "abm-amzn.toml")
    normal = simulate_abm(config, seed=1, duration_s=1200.0)
    stressed = replace(stressed_market(config, start_s=450.0, duration_s=300.0), open_ns=config.open_ns + 86400 * S)
    crash = simulate_abm(stressed, seed=2, duration_s=900.0)
    return (
        (normal["events"], normal["books"], (config.open_ns + 60 * S, config.open_ns + 1200 * S)),
        (crash["events"], crash["books"], (stressed.open_ns + 450 * S, stressed.open_ns + 750 * S)),
    )


def test_direction_models_on_the_agent_market(markets):
    from scenarios.stress.forecast_tasks import DirectionSettings

    normal, crash = markets
    models = ["mean", "persistence", "prior", "last_label", "flow_logistic"]
    settings = DirectionSettings(horizon_events=10, preset="tiny")
    table = forecaster_stress(normal, {"pov": crash}, models, 4, window_s=10.0, direction=settings)
    assert list(table.target.values) == ["ofi_next_window"] * 2 + ["mid_direction_10_events"] * 3
    assert list(table.loss_name.values) == ["squared error"] * 2 + ["brier score"] * 3
    # every origin scored in the crash lies in its window: 300 s of windows of 10 s, and > 100 direction origins
    assert int(table.n_scored.sel(model="mean", regime="pov")) == 30
    assert int(table.n_scored.sel(model="prior", regime="pov")) > 100
    assert float(table["score"].sel(model="prior", metric="skill", bound="value", regime="pov")) == 0.0
    assert int(table.train_end_ns.sel(model="flow_logistic")) <= int(table.start_ns.sel(regime="normal")) + 1200 * S
    again = forecaster_stress(normal, {"pov": crash}, models, 4, window_s=10.0, direction=settings)
    assert table["score"].values.tobytes() == again["score"].values.tobytes()
    assert table["tests"].values.tobytes() == again["tests"].values.tobytes()


def test_direction_training_past_the_crash_is_refused(markets):
    from scenarios.stress.forecast_tasks import DirectionSettings

    normal, crash = markets
    events, books, (start, _) = normal
    inside = (events, books, (start + 600 * S, start + 700 * S))  # a crash window inside the normal day's training
    settings = DirectionSettings(horizon_events=10, preset="tiny")
    with pytest.raises(DataError, match="model 'flow_logistic' is refused: its training data"):
        forecaster_stress(normal, {"inside": inside}, ["flow_logistic"], 0, direction=settings)
    with pytest.raises(DataError, match="regime 'pov' has no books"):
        forecaster_stress(normal, {"pov": (crash[0], None, crash[2])}, ["prior"], 0, direction=settings)


def test_most_extreme_window_finds_a_planted_move():
    """A mid flat at 10,000 ticks that falls 50 ticks between 600 s and 700 s: the largest 300 s move is -50 bps
    (log), over a window that covers the fall."""
    import xarray as xr

    from scenarios.stress.forecast_runs import most_extreme_window

    t = np.arange(0, 1800, 0.5)
    mid = np.where(t < 600, 10_000, np.where(t < 700, 10_000 - np.floor((t - 600) / 2), 9_950)).astype(np.int64)
    books = xr.Dataset(
        {
            "bid_price": (("time", "level"), (mid - 1)[:, None]),
            "ask_price": (("time", "level"), (mid + 1)[:, None]),
        },
        coords={"ts_ns": ("time", DAY + (t * S).astype(np.int64))},
    )
    start, end, move = most_extreme_window(books, 300.0)
    assert move == pytest.approx(1e4 * np.log(9_950 / 10_000))
    assert start <= DAY + 600 * S and end >= DAY + 700 * S and end - start == 300 * S


def test_markdown_table_lists_every_scored_cell(table):
    from scenarios.stress.forecast_runs import stress_markdown

    text = stress_markdown(table)
    rows = [line for line in text.splitlines()[2:]]
    assert len(rows) == table.sizes["model"] * table.sizes["regime"]
    assert any(r.startswith("| oracle | sell_x4 | 100 |") for r in rows)


def test_oracle_only_where_the_truth_is_known(worlds):
    """Normal data without a true process (as real data): the oracle scores the crash only, with no shift tests."""
    from scenarios.stress.forecast import TRUTH_ATTR

    (events, books, window), crash = worlds
    unknown = events.copy()
    del unknown.attrs[TRUTH_ATTR]
    table = forecaster_stress((unknown, books, window), {"sell_x4": crash}, ["mean", "oracle"], 1, **OPTIONS)
    oracle = table["score"].sel(model="oracle", bound="value", metric="loss")
    assert np.isnan(float(oracle.sel(regime="normal"))) and np.isfinite(float(oracle.sel(regime="sell_x4")))
    assert int(table.n_scored.sel(model="oracle", regime="normal")) == 0
    assert np.isnan(table["tests"].sel(model="oracle", regime="sell_x4", test="shift_loss").values).all()
    assert np.isfinite(float(table["tests"].sel(model="oracle", regime="sell_x4", test="dm_vs_baseline")[0]))
