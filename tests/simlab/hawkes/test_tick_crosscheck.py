"""Cross-check against tick: the same parameters give the same stationary statistics (within Monte-Carlo error)."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.hawkes import HawkesParams, simulate_hawkes
from simlab.hawkes.closed_form import count_variance, integrated_covariance, stationary_intensity
from tests.conftest import optional_module

tick_hawkes = optional_module("tick.hawkes")


def tick_times(params: HawkesParams, duration: float, seed: int) -> list[np.ndarray]:
    """Event times per dimension from tick's simulator (exponential or sum-of-exponential kernels)."""
    baseline = np.array(params.baseline)
    if params.n_components == 1:
        simu = tick_hawkes.SimuHawkesExpKernels(
            adjacency=np.array(params.adjacency[:, :, 0]),
            decays=np.array(params.decays[:, :, 0]),
            baseline=baseline,
            end_time=duration,
            seed=seed,
            verbose=False,
        )
    else:
        simu = tick_hawkes.SimuHawkesSumExpKernels(
            adjacency=np.array(params.adjacency),
            decays=np.array(params.decays[0, 0]),
            baseline=baseline,
            end_time=duration,
            seed=seed,
            verbose=False,
        )
    simu.simulate()
    return [np.asarray(t) for t in simu.timestamps]


def our_times(params: HawkesParams, duration: float, seed: int) -> list[np.ndarray]:
    (path,) = simulate_hawkes(params, duration, rng=seed)
    return [path.times_s[path.dims == i] for i in range(params.dimension)]


@pytest.mark.parametrize(
    "params",
    [
        HawkesParams(baseline=[0.5, 1.0], adjacency=[[0.5, 0.3], [0.2, 0.6]], decays=[[3.0, 1.0], [2.0, 5.0]]),
        HawkesParams(  # sums of exponentials with decays shared by all pairs (tick's SimuHawkesSumExpKernels)
            baseline=[0.4, 0.7],
            adjacency=np.array([[[0.3, 0.1], [0.1, 0.2]], [[0.05, 0.25], [0.2, 0.1]]]),
            decays=np.broadcast_to(np.array([5.0, 0.5]), (2, 2, 2)),
        ),
    ],
    ids=["exp", "sumexp"],
)
def test_same_mean_intensity_as_tick(params):
    duration, burn_in = 2e5, 100.0
    se = np.sqrt(np.diag(integrated_covariance(params)) / (duration - burn_in))
    lam = stationary_intensity(params)
    for source in (tick_times, our_times):
        times = source(params, duration, seed=17)
        observed = np.array([np.sum(t >= burn_in) for t in times]) / (duration - burn_in)
        assert np.all(np.abs(observed - lam) < 4 * se), source.__name__
    ours = np.array([t.size for t in our_times(params, duration, 18)]) / duration
    theirs = np.array([t.size for t in tick_times(params, duration, 18)]) / duration
    assert np.all(np.abs(ours - theirs) < 4 * np.sqrt(2) * se)


def test_same_count_variance_as_tick():
    params = HawkesParams(baseline=[1.0], adjacency=[[0.6]], decays=[[2.0]])
    m, width, gap = 4000, 5.0, 30.0
    starts = 20.0 + np.arange(m) * (width + gap)
    duration = float(starts[-1] + width + 1)
    truth = count_variance(params, width)[0]
    variances = {}
    for source in (tick_times, our_times):
        (times,) = source(params, duration, seed=21)
        counts = (np.searchsorted(times, starts + width) - np.searchsorted(times, starts)).astype(float)
        var = counts.var(ddof=1)
        se = np.sqrt((np.mean((counts - counts.mean()) ** 4) - var**2) / m)
        assert abs(var - truth) < 4 * se, source.__name__
        variances[source.__name__] = (var, se)
    (a, sa), (b, sb) = variances.values()
    assert abs(a - b) < 4 * np.hypot(sa, sb)
