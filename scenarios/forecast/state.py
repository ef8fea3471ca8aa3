"""The Hawkes intensity state as a forecaster sees it: record it, map it to expected counts, simulate from it.

The state at t is the excitation ``e_ijk(t-)`` of :func:`simlab.hawkes.closed_form.excitation_state`, flattened in
C order to P = d * d * K components (``(m, P)`` for m forecast origins). Expected counts over the next h seconds are
affine in the state (the mean obeys a linear ODE), so :func:`expected_counts_map` reads the affine map off
:func:`simlab.hawkes.closed_form.expected_counts` once and applies it to every origin in one product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenarios.forecast import _kernels
from simlab.errors import ParameterError
from simlab.hawkes import HawkesParams
from simlab.hawkes.closed_form import expected_counts
from simlab.random import RandomLike, as_generator


@dataclass(frozen=True)
class Components:
    """The P flattened kernel components of a process: target i, source j, decay b (1/s), jump a b (events/s)."""

    target: np.ndarray
    source: np.ndarray
    decay: np.ndarray
    jump: np.ndarray


def components(params: HawkesParams) -> Components:
    """Return the flattened (i, j, k) components of ``params`` in C order."""
    i, j, _ = np.indices(params.adjacency.shape)
    decay = np.ascontiguousarray(params.decays.reshape(-1))
    jump = np.ascontiguousarray((params.adjacency * params.decays).reshape(-1))
    return Components(i.reshape(-1).astype(np.int64), j.reshape(-1).astype(np.int64), decay, jump)


def states_at(params: HawkesParams, times_s: np.ndarray, dims: np.ndarray, at_s: np.ndarray) -> np.ndarray:
    """Return the excitation state (m, P) in events/s just before each sorted time in ``at_s`` (seconds).

    ``times_s`` (sorted) and ``dims`` are the events of the history; one pass over events and times.
    """
    times = np.ascontiguousarray(times_s, dtype=np.float64)
    at = np.ascontiguousarray(at_s, dtype=np.float64)
    if times.shape != np.shape(dims) or np.any(np.diff(times) < 0) or np.any(np.diff(at) < 0):
        raise ParameterError("`times_s` and `at_s` of states_at must be sorted, with one dimension per event")
    c = components(params)
    return _kernels.excitation_states(times, np.asarray(dims, dtype=np.int64), c.source, c.decay, c.jump, at)


def expected_counts_map(params: HawkesParams, horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (C (d, P), c0 (d,)) with E[N(t, t + h] | state x] = C x + c0 (closed form, exact)."""
    shape = params.adjacency.shape
    c0 = expected_counts(params, horizon_s, np.zeros(shape))
    columns = []
    for q in range(int(np.prod(shape))):
        unit = np.zeros(int(np.prod(shape)))
        unit[q] = 1.0
        columns.append(expected_counts(params, horizon_s, unit.reshape(shape)) - c0)
    return np.array(columns).T, c0


def closed_form_counts(params: HawkesParams, states: np.ndarray, horizon_s: float) -> np.ndarray:
    """Return the closed-form expected counts (m, d) over the next ``horizon_s`` seconds from each state (m, P)."""
    matrix, offset = expected_counts_map(params, horizon_s)
    return np.asarray(states) @ matrix.T + offset


@dataclass(frozen=True)
class ForwardMoments:
    """Monte Carlo moments of the next window from each of m states.

    Attributes
    ----------
    counts
        (m, 2) sample mean counts (buy, sell) of the simulated windows.
    ofi_mean
        (m,) E[OFI | state], the sample mean with the counts as control variates.
    ofi_var
        (m,) Var(OFI | state), sample variance.
    estimate_var
        (m,) the variance of ``ofi_mean`` as an estimate of E[OFI | state] (residual variance / n_paths).
    probs
        (m, 3) P(SELL, HOLD, BUY) of the signal.
    n_paths
        Simulated continuations per state.
    """

    counts: np.ndarray
    ofi_mean: np.ndarray
    ofi_var: np.ndarray
    estimate_var: np.ndarray
    probs: np.ndarray
    n_paths: int


def forward_moments(
    params: HawkesParams,
    states: np.ndarray,
    horizon_s: float,
    *,
    rng: RandomLike,
    n_paths: int = 200,
    threshold: float = 0.1,
) -> ForwardMoments:
    """Simulate ``n_paths`` continuations of ``horizon_s`` seconds from each state exactly (thinning) and average.

    The OFI of a path is (buy - sell) / (buy + sell) for a 2-D (buy, sell) process, 0 when no event falls in the
    window (the HOLD convention of :func:`simlab.features.ofi_signal`). Its mean uses the counts as control variates
    (their means are known in closed form, :func:`closed_form_counts`), which cuts the Monte Carlo variance.
    """
    values = np.ascontiguousarray(states, dtype=np.float64)
    p = int(np.prod(params.adjacency.shape))
    if values.ndim != 2 or values.shape[1] != p or not np.isfinite(values).all() or np.any(values < 0):
        raise ParameterError(
            f"`states` of forward_moments must be finite, >= 0 and of shape (m, {p}); got {values.shape}"
        )
    if params.dimension != 2:
        raise ParameterError(
            f"`params` of forward_moments must be a 2-D (buy, sell) process; got d = {params.dimension}"
        )
    if isinstance(n_paths, bool) or not isinstance(n_paths, (int, np.integer)) or n_paths < 10:
        raise ParameterError(f"`n_paths` of forward_moments must be an int >= 10; got {n_paths!r}")
    if not (np.isfinite(horizon_s) and horizon_s > 0):
        raise ParameterError(f"`horizon_s` of forward_moments must be finite and > 0; got {horizon_s!r}")
    c = components(params)
    expected = np.ascontiguousarray(closed_form_counts(params, values, horizon_s))
    baseline = np.ascontiguousarray(params.baseline)
    generator = as_generator(rng)
    rates, slot = np.unique(c.decay, return_inverse=True)
    counts, mean, var, residual, probs = _kernels.forward_moments(
        generator,
        values,
        expected,
        baseline,
        c.target,
        c.source,
        rates,
        slot.astype(np.int64),
        c.jump,
        float(horizon_s),
        int(n_paths),
        float(threshold),
    )
    return ForwardMoments(counts, mean, var, residual / n_paths, probs, int(n_paths))
