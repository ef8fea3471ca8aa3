"""Exact Hawkes likelihood: numba kernels against slow O(n^2) twins, gradients, ties, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

from calibration.hawkes import HawkesMLE, NonStationaryFitError, NonStationaryFitWarning, time_rescaling
from calibration.hawkes import _likelihood as lik
from calibration.hawkes.mle import _target_derivatives, log_likelihood, prepare_events
from simlab.errors import DataError, ParameterError
from simlab.hawkes import HawkesParams, simulate_hawkes


def _random_params(d: int, k: int, seed: int) -> HawkesParams:
    rng = np.random.default_rng(seed)
    adjacency = rng.uniform(0.0, 1.0, (d, d, k))
    adjacency *= 0.6 / np.max(np.abs(np.linalg.eigvals(adjacency.sum(axis=2))))
    return HawkesParams(rng.uniform(0.5, 2.0, d), adjacency, rng.uniform(0.5, 8.0, (d, d, k)))


def _split(path, d: int) -> list[np.ndarray]:
    return [path.times_s[path.dims == j] for j in range(d)]


def _twin_loglik(params: HawkesParams, times: list[np.ndarray], end: float) -> float:
    """Slow, obvious O(n^2) log-likelihood: intensity at each event by direct sums, compensator in closed form."""
    mu, a, b = params.baseline, params.adjacency, params.decays
    total = 0.0
    for i, ti in enumerate(times):
        for t in ti:
            lam = mu[i]
            for j, tj in enumerate(times):
                past = tj[tj < t]
                lam += sum(a[i, j, k] * b[i, j, k] * np.exp(-b[i, j, k] * (t - past)).sum() for k in range(a.shape[2]))
            total += np.log(lam)
        total -= mu[i] * end
        for j, tj in enumerate(times):
            total -= sum(a[i, j, k] * (1.0 - np.exp(-b[i, j, k] * (end - tj))).sum() for k in range(a.shape[2]))
    return total


def _twin_compensator(params: HawkesParams, times: list[np.ndarray], i: int, t: float) -> float:
    mu, a, b = params.baseline, params.adjacency, params.decays
    value = mu[i] * t
    for j, tj in enumerate(times):
        past = tj[tj < t]
        value += sum(a[i, j, k] * (1.0 - np.exp(-b[i, j, k] * (t - past))).sum() for k in range(a.shape[2]))
    return value


@pytest.mark.parametrize(("d", "k", "seed"), [(1, 1, 0), (2, 1, 1), (3, 2, 2)])
def test_loglik_matches_slow_twin(d, k, seed):
    params = _random_params(d, k, seed)
    times = _split(simulate_hawkes(params, 60.0, rng=seed)[0], d)
    events = prepare_events(times, 60.0, tie_policy="error")
    assert log_likelihood(params, events).sum() == pytest.approx(_twin_loglik(params, times, 60.0), rel=1e-10)


def test_loglik_of_several_realizations_is_the_sum():
    params = _random_params(2, 1, 3)
    paths = [_split(p, 2) for p in simulate_hawkes(params, 40.0, rng=4, n_paths=3)]
    est = HawkesMLE(params.decays)
    whole = est.loglik(params, paths, [40.0, 40.0, 40.0])
    assert whole == pytest.approx(sum(est.loglik(params, p, 40.0) for p in paths), rel=1e-12)


def test_merge_streams_matches_argsort():
    rng = np.random.default_rng(5)
    arrays = [np.sort(rng.uniform(0, 10, n)) for n in (0, 7, 30, 1)]
    offsets = np.cumsum([0] + [a.size for a in arrays]).astype(np.int64)
    times, dims = lik.merge_streams(np.concatenate(arrays), offsets)
    flat = np.concatenate(arrays)
    order = np.argsort(flat, kind="stable")
    np.testing.assert_array_equal(times, flat[order])
    np.testing.assert_array_equal(dims, np.repeat(np.arange(4), [a.size for a in arrays])[order])


@pytest.mark.parametrize(("d", "k"), [(1, 1), (2, 2)])
def test_gradient_matches_finite_differences(d, k):
    params = _random_params(d, k, 7)
    times = _split(simulate_hawkes(params, 80.0, rng=8)[0], d)
    events = prepare_events(times, 80.0)
    for i in range(d):
        theta = np.concatenate([[params.baseline[i]], params.adjacency[i].ravel()])
        b = np.ascontiguousarray(params.decays[i])
        grad = _target_derivatives(events, i, theta, b)[0]
        x0 = np.concatenate([theta, b.ravel()])
        p = b.size

        def value(x, i=i, p=p):
            a = params.adjacency.copy()
            dec = params.decays.copy()
            mu = params.baseline.copy()
            mu[i], a[i], dec[i] = x[0], x[1 : 1 + p].reshape(d, k), x[1 + p :].reshape(d, k)
            return log_likelihood(HawkesParams(mu, a, dec), events)[i]

        numeric = np.empty_like(x0)
        for c in range(x0.size):
            h = 1e-6 * max(abs(x0[c]), 1e-3)
            up, down = x0.copy(), x0.copy()
            up[c] += h
            down[c] -= h
            numeric[c] = (value(up) - value(down)) / (2 * h)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(("d", "k"), [(1, 1), (2, 2), (3, 1)])
def test_joint_hessian_matches_finite_differences_of_the_gradient(d, k):
    params = _random_params(d, k, 11)
    times = _split(simulate_hawkes(params, 80.0, rng=12)[0], d)
    events = prepare_events(times, 80.0)
    for i in range(d):
        theta = np.concatenate([[params.baseline[i]], params.adjacency[i].ravel()])
        b = np.ascontiguousarray(params.decays[i])
        _, info = _target_derivatives(events, i, theta, b)
        x0 = np.concatenate([theta, b.ravel()])
        numeric = np.empty((x0.size, x0.size))
        for c in range(x0.size):
            h = 1e-6 * abs(x0[c])
            up, down = x0.copy(), x0.copy()
            up[c] += h
            down[c] -= h
            grad_up = _target_derivatives(events, i, up[: theta.size], up[theta.size :].reshape(b.shape))[0]
            grad_down = _target_derivatives(events, i, down[: theta.size], down[theta.size :].reshape(b.shape))[0]
            numeric[:, c] = -(grad_up - grad_down) / (2 * h)
        np.testing.assert_allclose(info, info.T, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(info, numeric, rtol=1e-5, atol=1e-5 * np.abs(info).max())


def test_second_moment_features_match_a_direct_sum():
    params = _random_params(2, 2, 13)
    times = _split(simulate_hawkes(params, 30.0, rng=14)[0], 2)
    events = prepare_events(times, 30.0)
    b = np.ascontiguousarray(params.decays[1])
    x, h, g = (np.empty((events.counts[1], 4)) for _ in range(3))
    comp, dcomp, d2comp = lik.target_features(
        events.times, events.dims, events.bounds, events.end_times, 1, b, 2, x, h, g
    )
    for m, t in enumerate(times[1]):
        for j in range(2):
            lag = t - times[j][times[j] < t]
            for c in range(2):
                e = np.exp(-b[j, c] * lag)
                col = j * 2 + c
                assert x[m, col] == pytest.approx(b[j, c] * e.sum(), rel=1e-10, abs=1e-12)
                assert h[m, col] == pytest.approx(e.sum() - b[j, c] * (lag * e).sum(), rel=1e-9, abs=1e-12)
                assert g[m, col] == pytest.approx(
                    b[j, c] * (lag**2 * e).sum() - 2 * (lag * e).sum(), rel=1e-9, abs=1e-12
                )
    tail = 30.0 - times[0]
    np.testing.assert_allclose(d2comp[0], [-(tail**2 * np.exp(-b[0, c] * tail)).sum() for c in range(2)], rtol=1e-10)
    np.testing.assert_allclose(dcomp[0], [(tail * np.exp(-b[0, c] * tail)).sum() for c in range(2)], rtol=1e-10)
    np.testing.assert_allclose(comp[0], [(1 - np.exp(-b[0, c] * tail)).sum() for c in range(2)], rtol=1e-10)


def test_newton_matches_scipy_on_the_twin():
    params = _random_params(2, 1, 9)
    times = _split(simulate_hawkes(params, 150.0, rng=10)[0], 2)
    est = HawkesMLE(params.decays).fit(times, 150.0)

    def negative(x):
        trial = HawkesParams(x[:2], x[2:].reshape(2, 2), params.decays)
        return -_twin_loglik(trial, times, 150.0)

    x0 = np.concatenate([params.baseline, params.adjacency.ravel()])
    ref = minimize(negative, x0, method="L-BFGS-B", bounds=[(1e-6, None)] * 2 + [(0, None)] * 4)
    assert est.loglik_ >= -ref.fun - 1e-6
    np.testing.assert_allclose(est.adjacency_.ravel(), ref.x[2:], atol=2e-3)


def test_rescaled_increments_match_compensator_twin():
    params = _random_params(2, 2, 11)
    times = _split(simulate_hawkes(params, 30.0, rng=12)[0], 2)
    residuals = time_rescaling(params, times, 30.0)
    for i in range(2):
        comp = np.array([_twin_compensator(params, times, i, t) for t in times[i]])
        np.testing.assert_allclose(residuals[i], np.diff(comp, prepend=0.0), rtol=1e-9, atol=1e-12)


def test_ties_policies():
    times = [np.array([0.1, 0.2, 0.2, 0.5]), np.array([0.2, 0.7])]
    with pytest.raises(DataError, match="tied timestamps"):
        prepare_events(times, 1.0, tie_policy="error")
    first = prepare_events(times, 1.0, tie_policy="jitter", tie_jitter_s=1e-3, rng=1)
    again = prepare_events(times, 1.0, tie_policy="jitter", tie_jitter_s=1e-3, rng=1)
    np.testing.assert_array_equal(first.times, again.times)
    assert first.n_ties == 3 and (np.diff(first.times) > 0).all()
    assert (np.abs(first.times[first.times > 0.199][:3] - 0.2) < 1e-3).all()
    est = HawkesMLE(2.0, tie_jitter_s=1e-3).fit(times, 1.0)
    assert est.tie_policy_ == "jitter" and est.n_ties_ == 3


@pytest.mark.parametrize(
    ("times", "end", "match"),
    [
        ([], 1.0, "non-empty list"),
        ([np.array([]), np.array([])], 1.0, "at least one event"),
        ([np.array([0.3, 0.1])], 1.0, "must be sorted"),
        ([np.array([0.1, np.nan])], 1.0, "must be finite"),
        ([np.array([0.1, 2.0])], 1.0, r"must lie in \[0"),
        ([[np.array([0.1])], [np.array([0.1]), np.array([0.2])]], [1.0, 1.0], "dimensions"),
        ([[np.array([0.1])], [np.array([0.2])]], [1.0, 1.0, 1.0], "one end time per realization"),
        ([np.array([0.1]), np.array([])], 1.0, "have no events"),
    ],
)
def test_bad_input_gets_our_sentence(times, end, match):
    with pytest.raises(DataError, match=match):
        HawkesMLE(1.0).fit(times, end)


def test_bad_settings_get_our_sentence():
    times = [np.array([0.1, 0.4])]
    with pytest.raises(ParameterError, match="`decays` of HawkesMLE must be given"):
        HawkesMLE().fit(times, 1.0)
    with pytest.raises(ParameterError, match="`decays` of HawkesMLE must be finite and > 0"):
        HawkesMLE(-1.0).fit(times, 1.0)
    with pytest.raises(DataError, match=r"shape \(K,\), \(1, 1\)"):
        HawkesMLE(np.ones((2, 2))).fit(times, 1.0)
    with pytest.raises(ParameterError, match="`tie_policy`"):
        HawkesMLE(1.0, tie_policy="merge").fit(times, 1.0)
    with pytest.raises(ParameterError, match="not fitted"):
        HawkesMLE(1.0).simulator()


def test_sklearn_contract_and_simulator_round_trip():
    params = _random_params(2, 1, 13)
    est = HawkesMLE(params.decays, rng=3)
    assert est.get_params()["decays"] is params.decays
    times = _split(simulate_hawkes(params, 500.0, rng=14)[0], 2)
    assert est.fit(times, 500.0, names=["buy", "sell"]) is est
    assert est.params_.names == ("buy", "sell") and est.stationary_ and est.converged_
    assert est.adjacency_.shape == (2, 2, 1) and est.stderr_["adjacency"].shape == (2, 2, 1)
    paths = est.simulator()(100.0, rng=1, n_paths=2)
    assert len(paths) == 2 and paths[0].times_s.size > 0


def test_nonstationary_fit_is_reported():
    explosive = HawkesParams([1.0], [[1.3]], [[5.0]])
    times = _split(simulate_hawkes(explosive, 8.0, rng=0, max_events=200_000)[0], 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = HawkesMLE(5.0).fit(times, 8.0)
    assert est.branching_ratio_ > 1.1 and not est.stationary_
    assert any(issubclass(w.category, NonStationaryFitWarning) for w in caught)
    with pytest.raises(NonStationaryFitError, match="non-stationary"):
        HawkesMLE(5.0, on_nonstationary="raise").fit(times, 8.0)
