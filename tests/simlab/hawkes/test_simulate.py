"""The simulation kernel against slow O(n^2) twins, reproducibility, caps, initial states and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simlab.errors import ParameterError
from simlab.hawkes import CapReachedError, HawkesParams, path_intensity, simulate_hawkes
from simlab.hawkes.closed_form import excitation_state

PARAMS_2D = HawkesParams(
    baseline=[0.6, 0.3],
    adjacency=np.array([[[0.2, 0.1], [0.15, 0.0]], [[0.05, 0.1], [0.3, 0.2]]]),
    decays=np.array([[[2.0, 0.3], [5.0, 1.0]], [[1.0, 8.0], [3.0, 0.5]]]),
)


# ---------------------------------------------------------------- slow twins
def slow_intensity(times, dims, params, t):
    """lambda(t-) from the full history: mu_i + sum_{t_m < t} sum_k a b exp(-b (t - t_m)) (O(n) per call)."""
    lam = params.baseline.copy()
    for tm, j in zip(times, dims, strict=True):
        if tm < t:
            a, b = params.adjacency[:, j, :], params.decays[:, j, :]
            lam += (a * b * np.exp(-b * (t - tm))).sum(axis=1)
    return lam


def slow_compensator(times, dims, params, at):
    """Lambda_i(t) = int_0^t lambda_i(s) ds (m, d) at times ``at`` from the full history (an O(n m) matrix)."""
    age = np.asarray(at)[:, None] - times[None, :]  # (m, n)
    a, b = params.adjacency[:, dims, :], params.decays[:, dims, :]  # (d, n, K)
    pos = np.clip(age, 0.0, None)[None, :, :, None]
    excited = (a[:, None] * (1.0 - np.exp(-b[:, None] * pos))).sum(axis=(2, 3))  # (d, m)
    return params.baseline * np.asarray(at)[:, None] + excited.T


def slow_ogata(params, duration, rng, history_times=(), history_dims=()):
    """Ogata thinning from the O(n) intensity (an independent exact simulator); the history lies before 0."""
    times, dims = list(history_times), list(history_dims)
    n_history, t = len(times), 0.0
    while True:
        # the intensity just after t (events at t included) bounds it until the next event
        bound = slow_intensity(times, dims, params, np.nextafter(t, np.inf)).sum()
        t += rng.exponential(1.0 / bound)
        if t >= duration:
            return np.array(times[n_history:]), np.array(dims[n_history:], dtype=int)
        lam = slow_intensity(times, dims, params, t)
        if rng.uniform() * bound <= lam.sum():
            times.append(t)
            dims.append(int(rng.choice(len(lam), p=lam / lam.sum())))


# ---------------------------------------------------------------- the kernel against the twins
def test_intensity_kernel_matches_slow_twin():
    (path,) = simulate_hawkes(PARAMS_2D, 200.0, rng=11, state_times_s=np.linspace(0, 200, 57))
    assert path.times_s.shape[0] > 100
    for q, t in enumerate(path.state_times_s):
        np.testing.assert_allclose(path.intensity[q], slow_intensity(path.times_s, path.dims, PARAMS_2D, t), rtol=1e-10)
    # at the events themselves: left limits exclude the event
    at = path.times_s[:50]
    fast = path_intensity(path.times_s, path.dims, PARAMS_2D, at)
    slow = np.array([slow_intensity(path.times_s, path.dims, PARAMS_2D, t) for t in at])
    np.testing.assert_allclose(fast, slow, rtol=1e-10)


def test_compensator_increments_are_exponential_and_dimensions_follow_intensity():
    (path,) = simulate_hawkes(PARAMS_2D, 1500.0, rng=5)
    times, dims = path.times_s, path.dims
    compensator = slow_compensator(times, dims, PARAMS_2D, times)
    pooled = np.diff(compensator.sum(axis=1), prepend=0.0)
    assert times.shape[0] > 1000
    assert stats.kstest(pooled, "expon").pvalue > 1e-3
    # dimension choice: P(dim = i | event at t) = lambda_i(t-) / sum(lambda(t-))
    lam = path_intensity(times, dims, PARAMS_2D, times)
    prob = lam[:, 0] / lam.sum(axis=1)
    z = ((dims == 0).sum() - prob.sum()) / np.sqrt((prob * (1 - prob)).sum())
    assert abs(z) < 4
    # per-dimension time rescaling
    for i in range(2):
        incr = np.diff(compensator[dims == i, i], prepend=0.0)
        assert stats.kstest(incr, "expon").pvalue > 1e-3


def test_matches_slow_ogata_twin_in_distribution():
    rng = np.random.default_rng(3)
    duration, n_paths = 20.0, 300
    slow = [slow_ogata(PARAMS_2D, duration, rng) for _ in range(n_paths)]
    fast = simulate_hawkes(PARAMS_2D, duration, rng=4, n_paths=2000)
    for statistic in (
        lambda times, dims: times.shape[0],
        lambda times, dims: (dims == 1).sum(),
        lambda times, dims: times[0] if times.shape[0] else duration,
        lambda times, dims: np.mean(times) if times.shape[0] else duration / 2,
    ):
        a = [statistic(t, d) for t, d in slow]
        b = [statistic(p.times_s, p.dims) for p in fast]
        assert stats.ks_2samp(a, b).pvalue > 1e-3


def test_initial_state_continuation_matches_slow_twin_with_history():
    history_t, history_d = [-0.5, -0.2, -0.1, -0.05], [0, 1, 1, 0]
    state = excitation_state(np.array(history_t), np.array(history_d), PARAMS_2D, 0.0)
    rng = np.random.default_rng(8)
    slow = [slow_ogata(PARAMS_2D, 3.0, rng, history_t, history_d) for _ in range(400)]
    fast = simulate_hawkes(PARAMS_2D, 3.0, rng=9, n_paths=4000, initial_state=state)
    for i in range(2):
        a = [(d == i).sum() for _, d in slow]
        b = [(p.dims == i).sum() for p in fast]
        assert stats.ks_2samp(a, b).pvalue > 1e-3
    np.testing.assert_allclose(
        PARAMS_2D.baseline + state.sum(axis=(1, 2)), slow_intensity(history_t, history_d, PARAMS_2D, 0.0)
    )


# ---------------------------------------------------------------- seeds
def test_same_seed_same_bytes_and_path_k_independent_of_n_paths():
    a = simulate_hawkes(PARAMS_2D, 100.0, rng=42, n_paths=3)
    b = simulate_hawkes(PARAMS_2D, 100.0, rng=42, n_paths=5)
    c = simulate_hawkes(PARAMS_2D, 100.0, rng=np.random.SeedSequence(42), n_paths=3)
    for x, y, z in zip(a, b, c, strict=False):
        assert x.times_s.tobytes() == y.times_s.tobytes() == z.times_s.tobytes()
        assert x.dims.tobytes() == y.dims.tobytes()
    assert a[0].times_s.shape != a[1].times_s.shape or not np.array_equal(a[0].times_s, a[1].times_s)
    d = simulate_hawkes(PARAMS_2D, 100.0, rng=43)
    assert not np.array_equal(a[0].times_s[:10], d[0].times_s[:10])
    g1 = simulate_hawkes(PARAMS_2D, 100.0, rng=np.random.default_rng(1))
    g2 = simulate_hawkes(PARAMS_2D, 100.0, rng=np.random.default_rng(1))
    assert g1[0].times_s.tobytes() == g2[0].times_s.tobytes()


def test_output_types_and_sorted():
    (path,) = simulate_hawkes(PARAMS_2D, 300.0, rng=1, state_times_s=[0.0, 1.0, 300.0])
    assert path.times_s.dtype == np.float64 and path.dims.dtype == np.int32 and path.marks is None
    assert np.all(np.diff(path.times_s) > 0) and path.times_s[0] > 0 and path.times_s[-1] < 300.0
    assert path.intensity.shape == (3, 2)
    np.testing.assert_allclose(path.intensity[0], PARAMS_2D.baseline)


# ---------------------------------------------------------------- caps and non-stationary processes
def test_non_stationary_needs_cap_and_cap_is_never_silent():
    explosive = HawkesParams(baseline=[1.0], adjacency=[[1.2]], decays=[[1.0]])
    with pytest.raises(ParameterError, match="stationary .* unless `max_events`"):
        simulate_hawkes(explosive, 10.0, rng=0)
    (short,) = simulate_hawkes(explosive, 20.0, rng=0, max_events=10**6)
    assert short.times_s.shape[0] > 0
    with pytest.raises(CapReachedError, match="reached `max_events` = 50"):
        simulate_hawkes(explosive, 1000.0, rng=0, max_events=50)
    with pytest.raises(CapReachedError):
        simulate_hawkes(PARAMS_2D, 1000.0, rng=0, max_events=10)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"duration_s": -1.0}, "`duration_s` of simulate_hawkes must be finite and > 0; got -1.0"),
        ({"duration_s": float("nan")}, "`duration_s` of simulate_hawkes must be finite and > 0"),
        ({"n_paths": 0}, "`n_paths` of simulate_hawkes must be an int >= 1; got 0"),
        ({"max_events": -3}, "`max_events` of simulate_hawkes must be an int >= 0; got -3"),
        ({"state_times_s": [5.0, 1.0]}, "`state_times_s` of simulate_hawkes must be sorted times in"),
        ({"state_times_s": [1.0, 500.0]}, "`state_times_s` of simulate_hawkes must be sorted times in"),
        ({"rng": -1}, "`rng` must be a non-negative int seed"),
        ({"marks": [None]}, "`marks` of simulate_hawkes must hold one law per dimension \\(2\\); got 1"),
        ({"initial_state": np.ones((3, 3))}, "`initial_state` of simulate_hawkes must be finite, >= 0 and of shape"),
    ],
)
def test_bad_simulation_input(kwargs, match):
    call = {"params": PARAMS_2D, "duration_s": 100.0, "rng": 0} | kwargs
    with pytest.raises(ParameterError, match=match):
        simulate_hawkes(**call)


def test_bad_params_are_refused_with_our_sentence():
    with pytest.raises(ParameterError, match="`baseline` of HawkesParams must be finite and > 0"):
        HawkesParams(baseline=[float("nan")], adjacency=[[0.1]], decays=[[1.0]])
    with pytest.raises(ParameterError, match="`adjacency` of HawkesParams must be finite and >= 0"):
        HawkesParams(baseline=[1.0], adjacency=[[-0.1]], decays=[[1.0]])
    with pytest.raises(ParameterError, match="must have shape \\(2, 2\\)"):
        HawkesParams(baseline=[1.0, 1.0], adjacency=[[0.1]], decays=[[1.0]])
    with pytest.raises(ParameterError, match="`params` of simulate_hawkes must be HawkesParams"):
        simulate_hawkes({"baseline": [1.0]}, 1.0, rng=0)
    with pytest.raises(ParameterError, match="`dims` must lie in"):
        path_intensity(np.array([0.5]), np.array([3]), PARAMS_2D, np.array([1.0]))
