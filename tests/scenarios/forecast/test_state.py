"""The intensity state: the one-pass kernel against the closed form, and the forward Monte Carlo against the
closed-form expected counts and against simlab's exact cluster simulator started from the same state."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.forecast import _kernels
from scenarios.forecast.state import (
    closed_form_counts,
    components,
    expected_counts_map,
    forward_moments,
    states_at,
)
from simlab.errors import ParameterError
from simlab.hawkes import HawkesParams, simulate_hawkes
from simlab.hawkes.closed_form import excitation_state, expected_counts


def test_states_match_the_closed_form_state_at_every_time():
    params = HawkesParams([0.5, 0.8], np.full((2, 2, 2), 0.2), np.array([[[1.0, 7.0]] * 2] * 2))
    (path,) = simulate_hawkes(params, 200.0, rng=3)
    times = path.times_s - 50.0  # a history before 0, as after a burn-in
    # an event exactly at a query time is excluded (left limit)
    at = np.sort(np.r_[np.random.default_rng(1).uniform(-40, 150, 25), times[10]])
    fast = states_at(params, times, path.dims, at)
    slow = np.array([excitation_state(times, path.dims, params, t).reshape(-1) for t in at])
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12)


def test_expected_counts_map_is_the_closed_form(btc_params):
    state = np.random.default_rng(2).uniform(0, 3, (5, 16))
    direct = np.array([expected_counts(btc_params, 2.5, s.reshape(2, 2, 4)) for s in state])
    np.testing.assert_allclose(closed_form_counts(btc_params, state, 2.5), direct, rtol=1e-10)
    matrix, offset = expected_counts_map(btc_params, 2.5)
    assert matrix.shape == (2, 16) and np.all(offset > 0)


@pytest.mark.slow
def test_monte_carlo_from_a_state_matches_closed_form_and_the_cluster_simulator(btc_params):
    (path,) = simulate_hawkes(btc_params, 400.0, rng=5)
    states = states_at(btc_params, path.times_s, path.dims, np.array([120.0, 250.0, 399.0]))
    n = 4000
    moments = forward_moments(btc_params, states, 1.0, rng=9, n_paths=n)
    exact = closed_form_counts(btc_params, states, 1.0)
    for r, state in enumerate(states):
        twin = simulate_hawkes(btc_params, 1.0, rng=100 + r, n_paths=n, initial_state=state.reshape(2, 2, 4))
        counts = np.array([np.bincount(p.dims, minlength=2) for p in twin], dtype=float)
        total = counts.sum(axis=1)
        ofi = np.divide(counts[:, 0] - counts[:, 1], total, out=np.zeros(n), where=total > 0)
        se_counts = counts.std(axis=0) / np.sqrt(n)
        # closed form == Monte Carlo mean from the same state, and both simulators agree
        assert np.all(np.abs(moments.counts[r] - exact[r]) < 4 * se_counts)
        assert np.all(np.abs(counts.mean(axis=0) - exact[r]) < 4 * se_counts)
        assert abs(moments.ofi_mean[r] - ofi.mean()) < 4 * np.sqrt(2 * ofi.var() / n)
        assert moments.ofi_var[r] == pytest.approx(ofi.var(), rel=0.1)
        probs = np.array([np.mean(ofi < -0.1), np.mean(np.abs(ofi) <= 0.1), np.mean(ofi > 0.1)])
        assert np.all(np.abs(moments.probs[r] - probs) < 4 * np.sqrt(2 * probs * (1 - probs) / n) + 1e-9)
    # the control variates shrink the Monte Carlo variance of E[OFI] below the plain sample mean's
    assert np.all(moments.estimate_var < moments.ofi_var / n)


def test_forward_moments_is_seeded_and_validates(btc_params):
    state = np.full((2, 16), 0.1)
    first = forward_moments(btc_params, state, 1.0, rng=4, n_paths=50)
    again = forward_moments(btc_params, state, 1.0, rng=4, n_paths=50)
    np.testing.assert_array_equal(first.ofi_mean, again.ofi_mean)
    with pytest.raises(ParameterError, match="shape"):
        forward_moments(btc_params, np.full((2, 15), 0.1), 1.0, rng=4)
    with pytest.raises(ParameterError, match="n_paths"):
        forward_moments(btc_params, state, 1.0, rng=4, n_paths=1)


def _slow_path(gen, state, params, horizon):
    """Ogata thinning written plainly: the same draws as the kernel, one numpy array operation per step."""
    c = components(params)
    x, counts, s = state.copy(), np.zeros(2), 0.0
    while True:
        bound = (params.baseline + np.bincount(c.target, weights=x, minlength=2)).sum()
        wait = gen.exponential(1.0 / bound)
        s += wait
        if s >= horizon:
            return counts
        x = x * np.exp(-c.decay * wait)
        lam = params.baseline + np.bincount(c.target, weights=x, minlength=2)
        u = gen.random() * bound
        if u < lam.sum():
            i = int(u >= lam[0])
            counts[i] += 1
            x = x + np.where(c.source == i, c.jump, 0.0)


def test_forward_kernel_equals_its_slow_twin(btc_params):
    (path,) = simulate_hawkes(btc_params, 300.0, rng=5)
    states = states_at(btc_params, path.times_s, path.dims, np.array([100.0, 180.0, 299.5]))
    expected = closed_form_counts(btc_params, states, 2.0)
    c = components(btc_params)
    rates, slot = np.unique(c.decay, return_inverse=True)
    n = 60
    fast = _kernels.forward_moments(
        np.random.default_rng(3), states, expected, np.array(btc_params.baseline), c.target, c.source, rates,
        slot.astype(np.int64), c.jump, 2.0, n, 0.1,
    )  # fmt: skip
    generator = np.random.default_rng(3)  # numba's Generator draws the same stream as numpy's
    for r, state in enumerate(states):
        counts = np.array([_slow_path(generator, state, btc_params, 2.0) for _ in range(n)])
        total = counts.sum(axis=1)
        y = np.divide(counts[:, 0] - counts[:, 1], total, out=np.zeros(n), where=total > 0)
        z = counts - expected[r]
        cov = np.cov(z.T, bias=True)
        cross = ((y - y.mean())[:, None] * (z - z.mean(axis=0))).mean(axis=0)
        beta = np.linalg.solve(cov, cross)
        np.testing.assert_allclose(fast[0][r], counts.mean(axis=0), rtol=1e-12)
        assert fast[1][r] == pytest.approx(y.mean() - beta @ z.mean(axis=0), rel=1e-9, abs=1e-12)
        assert fast[2][r] == pytest.approx(y.var(ddof=1), rel=1e-9)
        assert fast[3][r] == pytest.approx((y.var() - beta @ cross) * n / (n - 3), rel=1e-7, abs=1e-12)
        probs = [np.mean(y < -0.1), np.mean(np.abs(y) <= 0.1), np.mean(y > 0.1)]
        np.testing.assert_allclose(fast[4][r], probs, rtol=1e-12)


def test_expected_counts_equal_the_textbook_formula_of_exponential_hawkes():
    """Two uncoupled exponential Hawkes processes: E[lambda(t) | x] relaxes to mu / (1 - a) at rate b (1 - a), so
    E[N(0, h] | x] = lambda_inf h + (mu + x - lambda_inf) (1 - exp(-kappa h)) / kappa, kappa = b (1 - a)."""
    mu, a, b = np.array([0.7, 1.3]), np.array([0.4, 0.6]), np.array([2.0, 5.0])
    params = HawkesParams(mu, np.diag(a), np.column_stack([b, b]))
    states = np.zeros((3, 4))
    states[:, 0], states[:, 3] = [0.0, 1.5, 4.0], [0.0, 2.0, 0.5]  # components (buy <- buy), (sell <- sell)
    kappa, limit = b * (1 - a), mu / (1 - a)
    for h in (0.3, 1.7, 20.0):
        textbook = limit * h + (mu + states[:, [0, 3]] - limit) * (1 - np.exp(-kappa * h)) / kappa
        np.testing.assert_allclose(closed_form_counts(params, states, h), textbook, rtol=1e-10)
