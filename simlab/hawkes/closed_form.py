"""Closed forms of linear Hawkes processes with (sums of) exponential kernels.

The excitation state is ``e_ijk(t) = sum_{t_m < t, dim j} a_ijk b_ijk exp(-b_ijk (t - t_m))`` (events per second), so
``lambda_i(t) = mu_i + sum_jk e_ijk(t)``. Stacking the P components with a_ijk > 0 in a vector x, its dynamics is
linear: ``dx = -B x dt + A dN`` with ``B = diag(b_ijk)`` and ``A[(ijk), j] = a_ijk b_ijk``, and
``lambda = mu + S x`` with ``S[i, (ijk)] = 1``. Hence the mean obeys ``dm/dt = M m + A mu`` with ``M = -B + A S``
(expected counts from a given state), and the stationary covariance V of x solves the Lyapunov equation
``M V + V M^T + A diag(Lambda) A^T = 0`` (count covariances over a window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm, solve_continuous_lyapunov

from simlab.errors import ParameterError
from simlab.hawkes.params import HawkesParams


def stationary_intensity(params: HawkesParams) -> np.ndarray:
    """Return the stationary mean intensity Lambda = (I - K)^-1 mu (d,) in events per second.

    Raises
    ------
    ParameterError
        When the branching ratio (spectral radius of K) is >= 1.
    """
    _require_stationary(params, "stationary_intensity")
    return np.linalg.solve(np.eye(params.dimension) - params.branching_matrix, params.baseline)


def integrated_covariance(params: HawkesParams) -> np.ndarray:
    """Return the integrated covariance R diag(Lambda) R^T (d, d), R = (I - K)^-1 (Bacry et al. 2016).

    It is the limit of Cov(N(T)) / T as T grows (events^2 per second).
    """
    lam = stationary_intensity(params)
    r = np.linalg.inv(np.eye(params.dimension) - params.branching_matrix)
    return r @ np.diag(lam) @ r.T


def expected_counts(params: HawkesParams, horizon_s: float | np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
    """Return the expected number of events per dimension in (t, t + h] given the excitation state at t.

    Parameters
    ----------
    params
        The process.
    horizon_s
        The horizon h in seconds (>= 0), a scalar or a 1-D array of horizons.
    state
        The excitation state e_ijk(t) (d, d, K) (or (d, d) when K = 1) in events per second, e.g. from
        :func:`excitation_state`. None means the stationary regime (requires a stationary process): Lambda h.

    Returns
    -------
    numpy.ndarray
        (d,) for a scalar horizon, (len(h), d) for an array of horizons.
    """
    horizons = np.asarray(horizon_s, dtype=np.float64)
    if horizons.ndim > 1 or not np.isfinite(horizons).all() or np.any(horizons < 0):
        raise ParameterError(
            f"`horizon_s` of expected_counts must be finite and >= 0 (scalar or 1-D); got {horizon_s!r}"
        )
    if state is None:
        return np.multiply.outer(horizons, stationary_intensity(params))
    system = _linear_system(params)
    x0 = _state_vector(params, state, system)
    d, p = params.dimension, system.drift.shape[0]
    # augmented linear ODE z = (x, N, 1): dx = (M x + A mu) dt, dN = (mu + S x) dt
    generator = np.zeros((p + d + 1, p + d + 1))
    generator[:p, :p] = system.drift
    generator[:p, -1] = system.jumps @ params.baseline
    generator[p : p + d, :p] = system.select
    generator[p : p + d, -1] = params.baseline
    z0 = np.concatenate([x0, np.zeros(d), [1.0]])
    counts = [(expm(generator * h) @ z0)[p : p + d] for h in horizons.reshape(-1)]
    return np.array(counts).reshape(horizons.shape + (d,))


def count_covariance(params: HawkesParams, window_s: float) -> np.ndarray:
    """Return Cov(N(t, t + T]) (d, d) of the stationary process's counts over a window of T seconds.

    Exact for any dimension and number of exponential components (see the module docstring); for d = 1, K = 1 it
    equals Hawkes' (1971) formula ``Lambda T / (1 - n)^2 - 2 C (1 - exp(-g T)) / g^2 + ...``
    (:func:`count_variance`).
    """
    window = float(window_s)
    if not (np.isfinite(window) and window > 0):
        raise ParameterError(f"`window_s` of count_covariance must be finite and > 0; got {window_s!r}")
    lam = stationary_intensity(params)
    system = _linear_system(params)
    m, a, s = system.drift, system.jumps, system.select
    if m.shape[0] == 0:
        return np.diag(lam) * window
    noise = a @ np.diag(lam) @ a.T
    v = solve_continuous_lyapunov(m, -noise)
    m_inv = np.linalg.inv(m)
    # W = int_0^T (T - u) exp(M u) du
    w = m_inv @ m_inv @ (expm(m * window) - np.eye(m.shape[0])) - window * m_inv
    cross = s @ w @ a @ np.diag(lam)
    cov = np.diag(lam) * window + s @ (w @ v + v @ w.T) @ s.T + cross + cross.T
    return 0.5 * (cov + cov.T)


def count_variance(params: HawkesParams, window_s: float) -> np.ndarray:
    """Return Var N_i(t, t + T] (d,) of the stationary process over a window of T seconds.

    For d = 1 with one exponential (mu, alpha = n, beta) this is Hawkes' (1971) closed form
    ``Var N(T) = Lambda T + 2 C (T / g - (1 - exp(-g T)) / g^2)`` with ``Lambda = mu / (1 - n)``,
    ``g = beta (1 - n)`` and ``C = Lambda beta n (2 - n) / (2 (1 - n))``; other cases use :func:`count_covariance`.
    """
    if params.dimension == 1 and params.n_components == 1:
        window = float(window_s)
        if not (np.isfinite(window) and window > 0):
            raise ParameterError(f"`window_s` of count_variance must be finite and > 0; got {window_s!r}")
        lam = float(stationary_intensity(params)[0])
        n, beta = float(params.adjacency[0, 0, 0]), float(params.decays[0, 0, 0])
        g = beta * (1.0 - n)
        c = lam * beta * n * (2.0 - n) / (2.0 * (1.0 - n))
        return np.array([lam * window + 2.0 * c * (window / g - (1.0 - np.exp(-g * window)) / g**2)])
    return np.diag(count_covariance(params, window_s)).copy()


def excitation_state(times_s: np.ndarray, dims: np.ndarray, params: HawkesParams, at_s: float) -> np.ndarray:
    """Return the excitation state e_ijk(t-) (d, d, K) in events/s at time ``at_s`` from the events before it."""
    times = np.asarray(times_s, dtype=np.float64)
    dims = np.asarray(dims)
    if times.shape != dims.shape or times.ndim != 1:
        raise ParameterError(f"`times_s` and `dims` must be 1-D of one length; got {times.shape} and {dims.shape}")
    d = params.dimension
    state = np.zeros(params.adjacency.shape)
    before = times < at_s
    for j in range(d):
        ages = at_s - times[before & (dims == j)]
        b = params.decays[:, j, :]
        state[:, j, :] = params.adjacency[:, j, :] * b * np.exp(-np.multiply.outer(b, ages)).sum(axis=-1)
    return state


@dataclass(frozen=True)
class _System:
    drift: np.ndarray  # M (P, P)
    jumps: np.ndarray  # A (P, d)
    select: np.ndarray  # S (d, P)
    index: tuple[np.ndarray, np.ndarray, np.ndarray]  # (i, j, k) of the P components


def _linear_system(params: HawkesParams) -> _System:
    d = params.dimension
    i, j, k = np.nonzero(params.adjacency > 0)
    p = i.shape[0]
    b = params.decays[i, j, k]
    jumps = np.zeros((p, d))
    jumps[np.arange(p), j] = params.adjacency[i, j, k] * b
    select = np.zeros((d, p))
    select[i, np.arange(p)] = 1.0
    return _System(-np.diag(b) + jumps @ select, jumps, select, (i, j, k))


def _state_vector(params: HawkesParams, state: np.ndarray, system: _System) -> np.ndarray:
    return params.excitation(state, "`state` of expected_counts")[system.index]


def _require_stationary(params: HawkesParams, where: str) -> None:
    if not isinstance(params, HawkesParams):
        raise ParameterError(f"`params` of {where} must be HawkesParams; got {type(params).__name__}")
    if not params.is_stationary:
        raise ParameterError(
            f"`params` of {where} must be stationary (branching ratio < 1); got {params.branching_ratio:.6g}"
        )
