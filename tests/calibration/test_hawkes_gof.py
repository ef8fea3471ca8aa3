"""Goodness of fit: time-rescaling size, power against a Poisson fit, QQ data, Poisson gain, bootstrap p-value."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.hawkes import HawkesMLE, bootstrap_ks_pvalue, ks_test, poisson_gain, qq_data, time_rescaling
from simlab.hawkes import HawkesParams, simulate_hawkes
from simlab.random import spawn

TRUE_2D = HawkesParams([0.6, 0.4], [[0.3, 0.2], [0.25, 0.35]], [[4.0, 6.0], [3.0, 8.0]])  # n ~ 0.57


def _split(path, d):
    return [path.times_s[path.dims == j] for j in range(d)]


@pytest.mark.slow
def test_time_rescaling_with_true_params_has_the_right_size():
    rejections = 0
    for gen in spawn(21, 200):
        path = simulate_hawkes(TRUE_2D, 200.0, rng=gen)[0]
        pvalues = ks_test(time_rescaling(TRUE_2D, _split(path, 2), 200.0)).pvalue
        rejections += pvalues[0] < 0.05
    rate = rejections / 200
    print(f"\ntrue-parameter KS rejection at 5% (dimension 0): {rate:.3f} over 200 runs")
    assert 0.02 <= rate <= 0.09


@pytest.mark.slow
def test_poisson_fit_to_hawkes_data_is_rejected():
    rejected = 0
    for gen in spawn(22, 200):
        path = simulate_hawkes(TRUE_2D, 1000.0, rng=gen)[0]
        times = _split(path, 2)
        rates = [t.size / 1000.0 for t in times]
        poisson = HawkesParams(rates, np.zeros((2, 2)), np.ones((2, 2)))
        rejected += ks_test(time_rescaling(poisson, times, 1000.0)).pvalue.min() < 0.05
    print(f"\nPoisson fit rejected in {rejected}/200 runs")
    assert rejected >= 198


def test_qq_data_and_poisson_gain():
    path = simulate_hawkes(TRUE_2D, 500.0, rng=3)[0]
    times = _split(path, 2)
    residuals = time_rescaling(TRUE_2D, times, 500.0)
    (theory, empirical), _ = qq_data(residuals)
    assert theory.shape == empirical.shape == residuals[0].shape
    assert (np.diff(theory) > 0).all() and (np.diff(empirical) >= 0).all()
    assert abs(np.mean(residuals[0]) - 1.0) < 0.1
    assert poisson_gain(TRUE_2D, times, 500.0) > 50.0
    rates = [t.size / 500.0 for t in times]
    flat = HawkesParams(rates, np.zeros((2, 2)), np.ones((2, 2)))
    assert poisson_gain(flat, times, 500.0) == pytest.approx(0.0, abs=1e-8)


def test_bootstrap_pvalue_accepts_the_right_model():
    path = simulate_hawkes(TRUE_2D, 300.0, rng=4)[0]
    pvalue = bootstrap_ks_pvalue(HawkesMLE(TRUE_2D.decays), _split(path, 2), 300.0, n_boot=19, rng=5)
    print(f"\nbootstrap KS p-values (19 replications): {pvalue}")
    assert pvalue.shape == (2,) and ((pvalue > 0.05) & (pvalue <= 1.0)).all()
