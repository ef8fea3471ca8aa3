"""Ground truth: simulated statistics against the closed forms (fixed seeds, tolerances about 4 standard errors)."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import ParameterError
from simlab.hawkes import HawkesParams, simulate_hawkes
from simlab.hawkes.closed_form import (
    count_covariance,
    count_variance,
    excitation_state,
    expected_counts,
    integrated_covariance,
    stationary_intensity,
)

PARAMS_1D = HawkesParams(baseline=[1.0], adjacency=[[0.6]], decays=[[2.0]])
PARAMS_2D = HawkesParams(
    baseline=[0.6, 0.3],
    adjacency=np.array([[[0.2, 0.1], [0.15, 0.0]], [[0.05, 0.1], [0.3, 0.2]]]),
    decays=np.array([[[2.0, 0.3], [5.0, 1.0]], [[1.0, 8.0], [3.0, 0.5]]]),
)


def scaled(d: int, ratio: float, seed: int) -> HawkesParams:
    """A d-D process with a decay per pair and branching ratio ``ratio``."""
    rng = np.random.default_rng(seed)
    adjacency = rng.uniform(0.0, 1.0, (d, d))
    adjacency *= ratio / np.max(np.abs(np.linalg.eigvals(adjacency)))
    return HawkesParams(baseline=rng.uniform(0.5, 1.5, d), adjacency=adjacency, decays=rng.uniform(1.0, 10.0, (d, d)))


def window_counts(times: np.ndarray, starts: np.ndarray, width: float) -> np.ndarray:
    """Events in [start, start + width) for each start."""
    return np.searchsorted(times, starts + width) - np.searchsorted(times, starts)


# ---------------------------------------------------------------- stationary intensity
@pytest.mark.parametrize(
    "params",
    [
        HawkesParams(baseline=[1.0], adjacency=[[0.9]], decays=[[2.0]]),
        HawkesParams(baseline=[0.5, 1.0], adjacency=[[0.5, 0.3], [0.2, 0.6]], decays=[[3.0, 1.0], [2.0, 5.0]]),
        scaled(10, 0.9, seed=1),
    ],
    ids=["d1", "d2", "d10"],
)
def test_stationary_intensity(params):
    duration, burn_in = 1e5, 100.0
    (path,) = simulate_hawkes(params, duration, rng=2024)
    keep = path.times_s >= burn_in
    n_total = int(keep.sum())
    ratio = params.branching_ratio
    lam = stationary_intensity(params)
    observed = np.bincount(path.dims[keep], minlength=params.dimension) / (duration - burn_in)
    assert n_total > 5e5
    assert abs(observed.sum() / lam.sum() - 1) < 4 / ((1 - ratio) * np.sqrt(n_total))
    # per dimension, with the standard error from the integrated covariance
    se = np.sqrt(np.diag(integrated_covariance(params)) / (duration - burn_in))
    assert np.all(np.abs(observed - lam) < 4 * se)


# ---------------------------------------------------------------- count variance and covariance
@pytest.mark.parametrize("width", [0.5, 5.0, 50.0])
def test_count_variance_1d(width):
    m, gap = 4000, 30.0  # windows separated by 24 relaxation times 1 / (beta (1 - n)): independent
    starts = 20.0 + np.arange(m) * (width + gap)
    (path,) = simulate_hawkes(PARAMS_1D, float(starts[-1] + width + 1), rng=7)
    counts = window_counts(path.times_s, starts, width).astype(float)
    var = counts.var(ddof=1)
    se = np.sqrt((np.mean((counts - counts.mean()) ** 4) - var**2) / m)
    truth = count_variance(PARAMS_1D, width)[0]
    assert abs(var - truth) < 4 * se
    assert abs(counts.mean() - stationary_intensity(PARAMS_1D)[0] * width) < 4 * np.sqrt(truth / m)


def test_count_variance_1d_formula_equals_general_linear_system():
    for params in (PARAMS_1D, HawkesParams(baseline=[0.3], adjacency=[[0.95]], decays=[[40.0]])):
        for width in (1e-3, 0.7, 30.0, 1e5):
            general = count_covariance(params, width)[0, 0]
            np.testing.assert_allclose(count_variance(params, width)[0], general, rtol=1e-8)
    long = 1e7
    np.testing.assert_allclose(count_covariance(PARAMS_2D, long) / long, integrated_covariance(PARAMS_2D), rtol=1e-4)


def test_count_covariance_2d_sum_of_exponentials():
    m, width, gap = 6000, 4.0, 40.0
    starts = 50.0 + np.arange(m) * (width + gap)
    (path,) = simulate_hawkes(PARAMS_2D, float(starts[-1] + width + 1), rng=8)
    counts = np.stack([window_counts(path.times_s[path.dims == i], starts, width) for i in range(2)], axis=1)
    truth = count_covariance(PARAMS_2D, width)
    sample = np.cov(counts.T.astype(float))
    centred = counts - counts.mean(axis=0)
    for i in range(2):
        for j in range(2):
            products = centred[:, i] * centred[:, j]
            assert abs(sample[i, j] - truth[i, j]) < 4 * products.std() / np.sqrt(m)


@pytest.mark.slow
def test_integrated_covariance_4d_within_5_percent():
    params = scaled(4, 0.7, seed=3)
    relaxation = 1.0 / (params.decays.min() * (1 - params.branching_ratio))
    width, m = 100 * relaxation, 12800
    (path,) = simulate_hawkes(params, width * m, rng=9)
    edges = np.arange(m + 1) * width
    counts = np.stack([np.histogram(path.times_s[path.dims == i], edges)[0] for i in range(4)], axis=1)
    estimate = np.cov(counts.T.astype(float)) / width
    truth = integrated_covariance(params)
    scale = np.sqrt(np.outer(np.diag(truth), np.diag(truth)))
    assert np.max(np.abs(estimate - truth) / scale) < 0.05


# ---------------------------------------------------------------- expected counts (the forecasting oracle)
def test_expected_counts_from_empty_start_matches_monte_carlo():
    horizons = np.array([0.5, 2.0, 10.0])
    paths = simulate_hawkes(PARAMS_2D, 10.0, rng=10, n_paths=20000)
    counts = np.array([[np.bincount(p.dims[p.times_s < h], minlength=2) for h in horizons] for p in paths])
    empty = np.zeros(PARAMS_2D.adjacency.shape)
    truth = expected_counts(PARAMS_2D, horizons, empty)
    se = counts.std(axis=0) / np.sqrt(len(paths))
    assert np.all(np.abs(counts.mean(axis=0) - truth) < 4 * se)
    assert np.all(truth < stationary_intensity(PARAMS_2D) * horizons[:, None])  # the empty start is below stationarity


def test_expected_counts_from_a_given_state_matches_monte_carlo():
    state = excitation_state(np.array([-0.3, -0.2, -0.01]), np.array([0, 1, 1]), PARAMS_2D, 0.0)
    horizons = np.array([0.1, 1.0, 5.0])
    paths = simulate_hawkes(PARAMS_2D, 5.0, rng=12, n_paths=20000, initial_state=state)
    counts = np.array([[np.bincount(p.dims[p.times_s <= h], minlength=2) for h in horizons] for p in paths])
    truth = expected_counts(PARAMS_2D, horizons, state)
    se = counts.std(axis=0) / np.sqrt(len(paths))
    assert np.all(np.abs(counts.mean(axis=0) - truth) < 4 * se)
    np.testing.assert_allclose(expected_counts(PARAMS_2D, 0.0, state), 0.0)
    np.testing.assert_allclose(expected_counts(PARAMS_2D, 3.0), stationary_intensity(PARAMS_2D) * 3.0)


def test_expected_counts_derivative_is_the_intensity():
    state = excitation_state(np.array([-1.0, -0.5]), np.array([0, 1]), PARAMS_2D, 0.0)
    h = 1e-6
    np.testing.assert_allclose(
        expected_counts(PARAMS_2D, h, state) / h, PARAMS_2D.baseline + state.sum(axis=(1, 2)), rtol=1e-4
    )


# ---------------------------------------------------------------- bad input
def test_closed_form_bad_input():
    explosive = HawkesParams(baseline=[1.0], adjacency=[[1.0]], decays=[[1.0]])
    with pytest.raises(ParameterError, match="`params` of stationary_intensity must be stationary .* got 1"):
        stationary_intensity(explosive)
    with pytest.raises(ParameterError, match="must be stationary"):
        integrated_covariance(explosive)
    with pytest.raises(ParameterError, match="`horizon_s` of expected_counts must be finite and >= 0"):
        expected_counts(PARAMS_2D, -1.0)
    with pytest.raises(ParameterError, match="`state` of expected_counts must be finite, >= 0 and of shape"):
        expected_counts(PARAMS_2D, 1.0, np.ones((2, 2)))
    with pytest.raises(ParameterError, match="`window_s` of count_variance must be finite and > 0"):
        count_variance(PARAMS_1D, 0.0)
    with pytest.raises(ParameterError, match="`params` of stationary_intensity must be HawkesParams"):
        stationary_intensity(None)
