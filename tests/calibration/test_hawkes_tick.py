"""Cross-check against tick: our MLE and tick's least-squares and ADM4 learners agree on tick-simulated data."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.hawkes import HawkesMLE
from tests.conftest import optional_module

tick_hawkes = optional_module("tick.hawkes")

ADJACENCY = np.array([[0.3, 0.2], [0.1, 0.4]])
BASELINE = np.array([0.8, 0.5])
DECAY = 5.0  # one decay for all pairs (ADM4 takes a single decay)


@pytest.fixture(scope="module")
def tick_data():
    sim = tick_hawkes.SimuHawkesExpKernels(
        ADJACENCY, np.full((2, 2), DECAY), BASELINE, end_time=40_000.0, seed=7, verbose=False
    )
    sim.simulate()
    return [np.asarray(t, dtype=np.float64) for t in sim.timestamps], 40_000.0


def test_ours_agrees_with_tick_learners(tick_data):
    times, end = tick_data
    ours = HawkesMLE(DECAY).fit(times, end)
    least_squares = tick_hawkes.HawkesExpKern(DECAY, gofit="least-squares", max_iter=1000, tol=1e-10)
    least_squares.fit(times, end)
    adm4 = tick_hawkes.HawkesADM4(DECAY, C=1e6, max_iter=500, tol=1e-10, verbose=False)
    adm4.fit(times, end)
    mine = ours.adjacency_[:, :, 0]
    print(
        f"\nmax |ours - truth| {np.abs(mine - ADJACENCY).max():.4f}, |ours - tick LS| "
        f"{np.abs(mine - least_squares.adjacency).max():.4f}, |ours - ADM4| {np.abs(mine - adm4.adjacency).max():.4f}"
    )
    np.testing.assert_allclose(mine, least_squares.adjacency, atol=0.03)
    np.testing.assert_allclose(mine, adm4.adjacency, atol=0.03)
    np.testing.assert_allclose(ours.baseline_, adm4.baseline, rtol=0.05)
    assert np.abs(mine - ADJACENCY).max() <= 4 * ours.stderr_["adjacency"].max()
