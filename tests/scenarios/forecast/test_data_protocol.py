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
        assert split.test.min() - split.train.max() > 1 + lags + extra - 1
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
