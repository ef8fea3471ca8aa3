"""Ground truth: parameter recovery of the exact MLE and calibration of its Fisher standard errors."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.hawkes import HawkesMLE
from simlab.hawkes import HawkesParams, simulate_hawkes
from simlab.random import spawn

TRUE_1D = HawkesParams([1.0], [[0.6]], [[10.0]])  # 2.5 events/s, branching ratio 0.6


def _fits(n_events: int, n_fits: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit (mu, alpha, beta) on ``n_fits`` independent paths of about ``n_events``; return estimates and stderrs."""
    duration = n_events / 2.5
    estimates, errors = [], []
    for gen in spawn(seed, n_fits):
        path = simulate_hawkes(TRUE_1D, duration, rng=gen)[0]
        est = HawkesMLE(fit_decays=True, n_starts=2, rng=1).fit([path.times_s], duration)
        assert est.converged_
        estimates.append([est.baseline_[0], est.adjacency_.item(), est.decays_.item()])
        se = est.stderr_
        errors.append([se["baseline"][0], se["adjacency"].item(), se["decays"].item()])
    return np.array(estimates), np.array(errors)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("n_events", "n_fits", "spread_limit", "z_band"),
    # 200 fits at 1e4 and 100 at 1e5: the standard deviation of the z-scores is known to about 5% and 7%
    [(10_000, 200, 0.02, (0.85, 1.15)), (100_000, 100, 0.007, (0.85, 1.15))],
)
def test_1d_full_mle_recovers_branching_ratio_with_calibrated_errors(n_events, n_fits, spread_limit, z_band):
    estimates, errors = _fits(n_events, n_fits, seed=n_events)
    ratio = estimates[:, 1]
    bias = ratio.mean() / 0.6 - 1.0
    spread = ratio.std(ddof=1) / 0.6
    z = (estimates - np.array([1.0, 0.6, 10.0])) / errors
    print(
        f"\n{n_events} events, {n_fits} fits: branching bias {bias:+.4%}, spread {spread:.4%}, "
        f"z std (mu, alpha, beta) {np.round(z.std(axis=0, ddof=1), 3)}, z mean {np.round(z.mean(axis=0), 3)}"
    )
    assert abs(bias) <= 0.01
    assert spread <= spread_limit
    assert ((z.std(axis=0, ddof=1) >= z_band[0]) & (z.std(axis=0, ddof=1) <= z_band[1])).all()


@pytest.mark.slow
def test_10d_known_decays_on_a_million_events():
    rng = np.random.default_rng(3)
    d = 10
    adjacency = rng.uniform(0, 1, (d, d)) * (rng.uniform(size=(d, d)) < 0.4)
    adjacency *= 0.7 / np.max(np.abs(np.linalg.eigvals(adjacency)))
    decays = rng.uniform(2, 20, (d, d))
    params = HawkesParams(rng.uniform(0.5, 1.5, d), adjacency, decays)
    duration = 1e6 / np.linalg.solve(np.eye(d) - adjacency, params.baseline).sum()
    path = simulate_hawkes(params, duration, rng=1)[0]
    est = HawkesMLE(decays).fit([path.times_s[path.dims == j] for j in range(d)], duration)
    error = np.abs(est.adjacency_[:, :, 0] - adjacency).max()
    print(
        f"\n10-D, {path.times_s.size} events: max abs adjacency error {error:.4f}, "
        f"branching ratio {est.branching_ratio_:.4f} (true 0.7)"
    )
    assert path.times_s.size > 950_000
    assert error <= 0.02
    assert abs(est.branching_ratio_ / 0.7 - 1.0) <= 0.01


def test_3d_full_mle_recovers_decays_and_ties_the_unidentified_ones():
    """Decays estimated in 3-D: strong pairs recovered within 4 standard errors, pairs without excitation tied."""
    adjacency = np.array([[0.3, 0.0, 0.2], [0.25, 0.2, 0.0], [0.0, 0.3, 0.25]])
    decays = np.array([[20.0, 5.0, 3.0], [8.0, 40.0, 5.0], [5.0, 2.0, 12.0]])
    truth = HawkesParams([0.6, 0.4, 0.5], adjacency, decays)
    duration = 150_000 / np.linalg.solve(np.eye(3) - adjacency, truth.baseline).sum()
    path = simulate_hawkes(truth, duration, rng=21)[0]
    est = HawkesMLE(5.0, fit_decays=True, n_starts=3, rng=2).fit(
        [path.times_s[path.dims == j] for j in range(3)], duration
    )
    assert est.converged_ and est.stationary_
    strong = adjacency > 0
    np.testing.assert_array_equal(est.decays_estimated_[:, :, 0], strong)
    se = est.stderr_
    z_a = (est.adjacency_[:, :, 0] - adjacency)[strong] / se["adjacency"][:, :, 0][strong]
    z_b = (est.decays_[:, :, 0] - decays)[strong] / se["decays"][:, :, 0][strong]
    print(f"\n3-D, {path.times_s.size} events: z adjacency {np.round(z_a, 2)}, z decays {np.round(z_b, 2)}")
    assert np.all(np.abs(z_a) < 4) and np.all(np.abs(z_b) < 4)
    assert np.abs(est.adjacency_[:, :, 0] - adjacency).max() < 0.02
    assert np.isnan(se["decays"][:, :, 0][~strong]).all()
    # a tied decay sits near its target's mean log decay of the estimated ones (taken before the final polish)
    for i, j in zip(*np.nonzero(~strong), strict=True):
        row = np.log(est.decays_[i, strong[i], 0])
        assert est.decays_[i, j, 0] == pytest.approx(np.exp(row.mean()), rel=0.02)
    refit = HawkesMLE(est.decays_).fit([path.times_s[path.dims == j] for j in range(3)], duration)
    assert refit.loglik_ == pytest.approx(est.loglik_, abs=1e-4)
