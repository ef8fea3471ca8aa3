"""Targets, splits, metrics and the bad-input sentences of the forecasting benchmark."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenarios.forecast.data import real_series, series_from_counts, series_from_events
from scenarios.forecast.metrics import classification_scores, diebold_mariano, hac_variance, regression_scores
from scenarios.forecast.protocol import walk_forward
from scenarios.forecast.spec import parse_spec
from simlab.errors import DataError, ParameterError
from simlab.hawkes.closed_form import excitation_state
from tests.conftest import shared_path


def test_the_spec_example_in_the_docs_parses():
    import tomllib

    from scenarios.forecast import spec

    example = spec.__doc__.split("```toml")[1].split("```")[0]
    parsed = parse_spec(tomllib.loads(example))
    assert [d.name for d in parsed.data] == ["synthetic", "BTCUSDT"] and parsed.tstr.enabled
    assert parsed.models.include[-1] == "oracle" and parsed.paper.sensitivity == "lhs"
    with pytest.raises(ParameterError, match="distinct names"):
        parse_spec({"data": [{"name": "a", "source": "preset", "preset": "p"}] * 2})


def test_counts_sum_into_windows_and_empty_windows_are_hold():
    series = series_from_counts([1, 2, 0, 0, 5, 0, 3], [0, 1, 0, 0, 1, 4, 9], bin_s=0.5, horizon_s=1.0)
    np.testing.assert_array_equal(series.buy, [3, 0, 5])  # the last bin is not a whole window
    np.testing.assert_array_equal(series.sell, [1, 0, 5])
    np.testing.assert_allclose(series.ofi, [0.5, 0.0, 0.0])
    np.testing.assert_array_equal(series.signal, [1, 0, 0])
    assert series.n_empty == 1 and series.window_s == 1.0


def test_bad_input_gets_our_sentence():
    with pytest.raises(DataError, match="`buy` counts, bin 2: .* got nan"):
        series_from_counts([1, 2, np.nan], [0, 0, 0], bin_s=1.0, horizon_s=1.0)
    with pytest.raises(ParameterError, match="whole multiple .* of the bin 1.0 s; got 1.5"):
        series_from_counts([1, 2], [0, 0], bin_s=1.0, horizon_s=1.5)
    with pytest.raises(ParameterError, match="`spec`|`data.0.durtion_s`"):
        parse_spec({"data": [{"name": "a", "source": "preset", "preset": "p", "durtion_s": 3}]})
    with pytest.raises(DataError, match="event 2 of the forecast series: .* got time nan after 0.5 and dimension 1"):
        series_from_events([0.2, 0.5, np.nan], [0, 1, 1], [(0.0, 2.0)], bin_s=1.0, horizon_s=1.0)
    with pytest.raises(DataError, match="event 1 .* got time 0.1 after 0.5 and dimension 0"):
        series_from_events([0.5, 0.1], [0, 0], [(0.0, 2.0)], bin_s=1.0, horizon_s=1.0)
    counts = series_from_counts(np.ones(100), np.ones(100), bin_s=1.0, horizon_s=1.0)
    with pytest.raises(DataError, match="too few for 5 test blocks"):
        walk_forward(counts, n_folds=5, max_lag=10)
    with pytest.raises(ParameterError, match="embargo.* >= horizon \\+ largest lag = 4"):
        walk_forward(counts, max_lag=3, embargo=3)
    with pytest.raises(ParameterError, match="n_folds"):
        walk_forward(counts, n_folds=4)


def test_event_windows_count_events_and_record_the_true_state(small_series):
    s = small_series
    edges = np.r_[s.start_s, s.start_s[-1] + s.window_s]
    np.testing.assert_array_equal(s.buy, np.histogram(s.times_s[s.dims == 0], edges)[0])
    np.testing.assert_array_equal(s.sell, np.histogram(s.times_s[s.dims == 1], edges)[0])
    for k in (0, 17, 599):  # the state includes the burn-in before 0
        slow = excitation_state(s.times_s, s.dims, s.params, s.start_s[k]).reshape(-1)
        np.testing.assert_allclose(s.states[k], slow, rtol=1e-10, atol=1e-12)


def test_segments_restart_the_state():
    times = np.array([0.2, 0.5, 1.2, 3.1, 3.2, 4.5])
    dims = np.array([0, 1, 0, 0, 1, 1])
    from simlab.hawkes import HawkesParams

    params = HawkesParams([1.0, 1.0], np.full((2, 2), 0.3), np.full((2, 2), 2.0))
    s = series_from_events(times, dims, [(0.0, 2.0), (3.0, 5.0)], bin_s=1.0, horizon_s=1.0, params=params)
    np.testing.assert_array_equal(s.segment, [0, 0, 1, 1])
    np.testing.assert_array_equal(s.buy + s.sell, [2, 1, 2, 1])
    assert np.all(s.states[2] == 0)  # nothing of segment 0 leaks into segment 1's state
    np.testing.assert_array_equal(s.first_in_segment(1), [False, True, False, True])


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(300, 3000),
    lags=st.integers(0, 12),
    folds=st.integers(5, 8),
    extra=st.integers(0, 3),
    fraction=st.floats(0.3, 0.7),
)
def test_no_test_target_window_overlaps_a_training_window(n, lags, folds, extra, fraction):
    series = series_from_counts(np.ones(2 * n), np.zeros(2 * n), bin_s=0.5, horizon_s=1.0)
    try:
        splits = walk_forward(series, n_folds=folds, max_lag=lags, embargo=1 + lags + extra, initial_fraction=fraction)
    except DataError:
        return
    h = series.window_s
    assert len(splits) == folds
    for split in splits:
        train = np.column_stack([series.start_s[split.train], series.start_s[split.train] + h])
        # a test window and every window its forecast reads
        test = np.column_stack([series.start_s[split.test] - lags * h, series.start_s[split.test] + h])
        assert train[:, 1].max() <= test[:, 0].min() + 1e-9  # all training windows end before any test input
        # more than `embargo` windows between the last training target and the first test target, and no more
        # (the expanding window uses all the rest of the past)
        assert split.test.min() - split.train.max() == 1 + lags + extra + 1
        assert split.train.min() == lags and np.all(np.diff(split.train) == 1)
        assert len(np.intersect1d(split.train, split.test)) == 0


def test_classification_scores_by_hand():
    actual = np.array([1, 1, 0, -1, -1, 0, 1, -1])
    predicted = np.array([1, 0, 0, -1, 1, 0, 1, 1])
    scores = classification_scores(actual, predicted)
    assert scores["accuracy"] == pytest.approx(5 / 8)
    assert scores["precision_BUY"] == pytest.approx(2 / 4) and scores["recall_BUY"] == pytest.approx(2 / 3)
    assert scores["precision_SELL"] == pytest.approx(1.0) and scores["recall_SELL"] == pytest.approx(1 / 3)
    f1 = [2 * 0.5 * (2 / 3) / (0.5 + 2 / 3), 2 * (2 / 3) / (1 + 2 / 3) * 1.0 * 1 / 1, 0.5]
    f1[1] = 2 * 1.0 * (1 / 3) / (1 + 1 / 3)  # SELL
    f1[2] = 2 * (2 / 3) * 1.0 / (2 / 3 + 1.0)  # HOLD: precision 2/3, recall 1
    assert scores["macro_f1"] == pytest.approx(np.mean(f1))
    binary = classification_scores(np.array([1, 1, -1, -1, 1]), np.array([1, -1, -1, -1, 1]))
    tp, tn, fp, fn = 2, 2, 0, 1  # BUY as positive; the 3-class MCC reduces to the phi coefficient
    phi = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert binary["mcc"] == pytest.approx(phi)


def test_regression_scores_and_diebold_mariano_by_hand():
    actual = np.array([0.5, -0.2, 0.1, 0.0, -0.6])
    forecast = np.array([0.4, 0.1, 0.1, 0.3, -0.2])
    scores = regression_scores(actual, forecast, np.full(5, -0.1))
    assert scores["mse"] == pytest.approx(np.mean((actual - forecast) ** 2))
    assert scores["r2"] == pytest.approx(1 - np.sum((actual - forecast) ** 2) / np.sum((actual + 0.1) ** 2))
    assert scores["directional_accuracy"] == pytest.approx(3 / 4)  # the window with OFI 0 is left out
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=400), rng.normal(size=400) * 1.2
    d = a**2 - b**2
    assert hac_variance(d, 0) == pytest.approx(d.var())
    weights = 1 - np.arange(1, 4) / 4
    auto = [np.sum((d[k:] - d.mean()) * (d[:-k] - d.mean())) / d.size for k in (1, 2, 3)]
    assert hac_variance(d, 3) == pytest.approx(d.var() + 2 * np.dot(weights, auto))
    test = diebold_mariano(a, b)
    bandwidth = int(np.floor(4 * (400 / 100) ** (2 / 9)))
    expected = d.mean() / np.sqrt(hac_variance(d, bandwidth) / 400) * np.sqrt((400 + 1 - 2) / 400)
    assert test["dm"] == pytest.approx(expected) and test["dm"] < 0 and test["p_value"] < 0.05


def test_real_binance_windows_make_one_series_of_segments():
    usdm = shared_path("binance_ws_l2_trades_hftbacktest/usdm")
    segments = [
        [usdm / "btcusdt_20240718.trades.csv.gz", usdm / "btcusdt_20240719.trades.csv.gz"],
        [usdm / "btcusdt_20240808.trades.csv.gz"],
    ]
    series = real_series(segments, name="BTCUSDT")
    assert series.spans_s.shape == (2, 2) and series.size == 479 + 343
    np.testing.assert_allclose(series.spans_s[:, 1] - series.spans_s[:, 0], [479.327, 343.322], atol=2e-3)
    inside = series.times_s[np.searchsorted(series.start_s, series.times_s, "right") > 0]
    ends = series.start_s + series.window_s
    counted = sum(np.any((t >= series.start_s) & (t < ends)) for t in inside)
    assert series.total.sum() == counted
    assert series.params is None and series.states is None


def _slow_dm(errors_a, errors_b, horizon, bandwidth):
    """DM-HLN written from the papers with plain loops: Bartlett-weighted autocovariances, HLN factor, t(n - 1)."""
    from scipy import stats

    d = [a * a - b * b for a, b in zip(errors_a, errors_b, strict=True)]
    n = len(d)
    mean = sum(d) / n
    gamma = [sum((d[t] - mean) * (d[t - k] - mean) for t in range(k, n)) / n for k in range(bandwidth + 1)]
    long_run = gamma[0] + 2 * sum((1 - k / (bandwidth + 1)) * gamma[k] for k in range(1, bandwidth + 1))
    statistic = mean / (long_run / n) ** 0.5 * ((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n) ** 0.5
    return statistic, 2 * stats.t.sf(abs(statistic), n - 1)


def test_diebold_mariano_matches_a_published_example_and_a_slow_twin():
    # the example of the `dieboldmariano` package's README (h = 1, no HAC lags, HLN): one-sided DM -2.2229922805746782,
    # p 0.04515565862099125; our p-value is two-sided
    actual = np.array([10, 20, 30, 40, 50.0])
    test = diebold_mariano(actual - [11, 21, 29, 42, 53], actual - [13, 26, 24, 40, 59], bandwidth=0)
    assert test["dm"] == pytest.approx(-2.2229922805746782, rel=1e-12)
    assert test["p_value"] / 2 == pytest.approx(0.04515565862099125, rel=1e-9)
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(2, 150)).cumsum(axis=1) * 0.1 + rng.normal(size=(2, 150))
    for horizon, bandwidth in ((3, None), (4, 7), (1, 0)):
        fast = diebold_mariano(a, b, horizon, bandwidth=bandwidth)
        lags = max(horizon - 1, int(np.floor(4 * 1.5 ** (2 / 9)))) if bandwidth is None else bandwidth
        slow = _slow_dm(a, b, horizon, lags)
        assert fast["dm"] == pytest.approx(slow[0], rel=1e-10) and fast["p_value"] == pytest.approx(slow[1], rel=1e-8)
    with pytest.raises(ParameterError, match="bandwidth.* got 1 and -1"):
        diebold_mariano(a, b, bandwidth=-1)


@pytest.mark.parametrize(("horizon", "n"), [(1, 300), (3, 1000)])
def test_diebold_mariano_holds_its_size_under_equal_accuracy(horizon, n):
    """Equally accurate h-step forecasts (MA(h - 1) errors, as an efficient forecast's): about 5 % rejections."""
    rng = np.random.default_rng(11)
    reps = 1500
    shocks = rng.normal(size=(reps, 2, n + horizon - 1))
    errors = sum(shocks[:, :, j : j + n] for j in range(horizon))
    rejected = np.mean([diebold_mariano(e[0], e[1], horizon)["p_value"] < 0.05 for e in errors])
    assert abs(rejected - 0.05) < 3 * np.sqrt(0.05 * 0.95 / reps)  # binomial error of the rejection rate


def test_the_library_specs_parse_and_name_files_that_exist():
    from scenarios.forecast.spec import load_spec

    smoke, table4 = load_spec("forecast_smoke"), load_spec("forecast_table4")
    assert smoke.data[0].source == "preset" and smoke.models.lags == 3
    assert [d.name for d in table4.data] == ["BTCUSDT", "ETHUSDT", "synthetic-btcusdt"] and table4.tstr.enabled
    data = shared_path("binance_ws_l2_trades_hftbacktest")
    for files in (f for d in table4.data for window in d.files for f in window):
        assert (data.parent / files).is_file(), files


def test_real_trades_count_fills_or_market_orders():
    from scenarios.forecast.runner import build_series
    from scenarios.forecast.spec import DataSpec, TargetSpec

    data = shared_path("binance_ws_l2_trades_hftbacktest")
    spec = {"name": "BTCUSDT", "source": "real", "files": [["usdm/btcusdt_20240808.trades.csv.gz"]]}
    orders = build_series(DataSpec(**spec), TargetSpec(), data, np.random.default_rng(0))
    fills = build_series(DataSpec(**spec, aggregate=False), TargetSpec(), data, np.random.default_rng(0))
    assert fills.size == orders.size == 343
    # every market order is at least one fill, and some sweep several price levels
    assert np.all(fills.total >= orders.total) and fills.total.sum() > 1.1 * orders.total.sum()
