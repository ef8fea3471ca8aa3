"""Stylized facts against closed forms: Hill on Pareto, ACF of an AR(1), power laws, kurtosis, square-root impact."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.book.stats import autocorrelation
from simlab.errors import ParameterError
from simlab.metrics.stylized import (
    aggregate,
    autocorrelation_curve,
    block_bootstrap,
    decay_exponent,
    excess_kurtosis,
    exponential_ks,
    hill_tail_index,
    impact_exponent,
    signature_variance,
)


@pytest.mark.parametrize("alpha", [1.5, 3.0, 4.0])
def test_hill_recovers_the_pareto_index(alpha):
    rng = np.random.default_rng(int(alpha * 10))
    x = (rng.pareto(alpha, 200_000) + 1.0) * rng.choice([-1, 1], 200_000)
    estimate = hill_tail_index(x, 0.05)
    assert estimate == pytest.approx(alpha, rel=0.04)  # standard error alpha / sqrt(k) = 1 %
    low, high = block_bootstrap(x, lambda v: hill_tail_index(v, 0.05), rng=rng, n_boot=50, block=100)
    assert low < alpha < high


def test_hill_matches_a_slow_twin():
    x = np.random.default_rng(0).standard_t(3, 500)
    top = sorted(np.abs(x), reverse=True)
    k = 25
    slow = k / sum(np.log(top[i]) - np.log(top[k]) for i in range(k))
    assert hill_tail_index(x, 0.05) == pytest.approx(slow, rel=1e-12)
    with pytest.raises(ParameterError, match="tail_fraction"):
        hill_tail_index(x, 1.5)


def test_acf_of_an_ar1_is_phi_to_the_lag():
    rng = np.random.default_rng(1)
    phi, n = 0.6, 200_000
    noise = rng.normal(size=n)
    x = np.empty(n)
    x[0] = noise[0]
    for t in range(1, n):
        x[t] = phi * x[t - 1] + noise[t]
    curve = autocorrelation_curve(x, 5)
    np.testing.assert_allclose(curve, phi ** np.arange(1, 6), atol=0.01)
    np.testing.assert_allclose(curve, autocorrelation(x, tuple(range(1, 6))), rtol=1e-9)  # the dot-product twin


def test_decay_exponent_of_a_power_law():
    lags = np.arange(1, 101)
    assert decay_exponent(lags, 0.3 * lags**-0.55) == pytest.approx(0.55, abs=1e-9)
    assert np.isnan(decay_exponent(lags[:2], lags[:2] ** -1.0))
    noisy = 0.3 * lags**-0.55
    noisy[10] = -0.01  # noise beyond lag 10: the fit keeps lags 1-10
    noisy[11:] = 5.0
    assert decay_exponent(lags, noisy) == pytest.approx(0.55, abs=1e-9)


def test_aggregational_gaussianity_of_iid_laplace_returns():
    x = np.random.default_rng(2).laplace(size=400_000)
    assert excess_kurtosis(x) == pytest.approx(3.0, abs=0.15)  # Laplace: 3
    assert excess_kurtosis(aggregate(x, 30)) == pytest.approx(0.1, abs=0.1)  # iid sums: 3 / 30
    assert aggregate(np.arange(7.0), 3).tolist() == [3.0, 12.0]


def test_signature_plot_of_a_random_walk_is_flat_and_noise_raises_the_short_scales():
    rng = np.random.default_rng(3)
    returns = rng.normal(size=600_000)
    flat = signature_variance(returns, (1, 10, 60))
    np.testing.assert_allclose(flat, 1.0, atol=0.03)
    noise = rng.normal(size=600_001)
    noisy = signature_variance(returns + np.diff(noise), (1, 60))  # microstructure noise: +2 var at scale 1
    assert noisy[0] == pytest.approx(3.0, abs=0.05) and noisy[1] == pytest.approx(1.0 + 2 / 60, abs=0.05)


def test_impact_exponent_recovers_a_square_root_law():
    rng = np.random.default_rng(4)
    q = rng.lognormal(3, 1.5, 20_000) * rng.choice([-1, 1], 20_000)
    dp = np.sign(q) * 0.1 * np.abs(q) ** 0.5 + rng.normal(0, 0.5, q.size)
    assert impact_exponent(q, dp) == pytest.approx(0.5, abs=0.05)


def test_exponential_ks_tells_poisson_from_clustered_intervals():
    rng = np.random.default_rng(5)
    assert exponential_ks(rng.exponential(2.0, 20_000)) < 1.63 / np.sqrt(20_000)  # 1 % KS critical value
    assert exponential_ks(rng.gamma(0.2, 1.0, 20_000)) > 0.2


def test_lagged_block_sums_match_a_slow_twin_and_give_the_acf():
    from simlab.metrics import _kernels

    x = np.random.default_rng(6).normal(size=203)
    x -= x.mean()
    sums = _kernels.lagged_block_sums(x, 4, 7)
    for lag in range(5):
        for b in range(7):
            slow = sum(x[t] * x[t + lag] for t in range(203 - lag) if t * 7 // 203 == b)
            assert sums[b, lag] == pytest.approx(slow, abs=1e-12)
    total = sums.sum(axis=0)
    np.testing.assert_allclose(total[1:] / total[0], autocorrelation_curve(x, 4), rtol=1e-10)


def test_stylized_facts_of_a_book_have_intervals_around_their_values(zi_pair):
    from simlab.metrics._market import Market
    from simlab.metrics.stylized import Fact, stylized_facts

    m = Market(zi_pair[0]["events"], zi_pair[0]["books"], levels=None, source="zi")
    facts = stylized_facts(m, rng=np.random.default_rng(0), n_boot=50)
    # ZI flow is Poisson given the book; the cancel rate follows the number of resting orders, hence a little more
    assert facts["interarrival_cv"].value == pytest.approx(1.0, abs=0.05)
    assert facts["interarrival_ks_exponential"].value < 0.05
    assert facts["log_interarrival_acf_lag1"].value > 0.1  # a market order's fills share a timestamp: runs of 0 s
    for name in ("interarrival_cv", "mean_spread_ticks", "sign_acf_exponent", "return_acf_lag1"):
        fact = facts[name]
        assert isinstance(fact, Fact) and fact.low <= fact.value <= fact.high, name
    assert str(facts["intraday_activity_cv"]).startswith("missing at least 2 whole bins")  # 10 min of data
