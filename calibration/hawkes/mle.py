"""Exact maximum-likelihood estimation of multivariate Hawkes processes with exponential kernels.

The log-likelihood splits into one term per target dimension i, each depending only on (mu_i, a_i.., b_i..), so
targets are fitted independently (in parallel):

* decays fixed: the target's log-likelihood is concave in (mu_i, a_i..) and linear in precomputed features, so
  a projected Newton method on the bounds mu_i >= tiny > 0, a_ijk >= 0 finds the unique optimum (one start suffices;
  ``n_starts`` is not used);
* decays estimated: the profile log-likelihood ``max_{mu, a} l_i(mu, a, b)`` is maximised over ``log b`` by
  Newton's method with its exact gradient and Hessian (:mod:`calibration.hawkes._decays`), ``n_starts`` seeded
  starts screened on a prefix of the events; decays of pairs without significant excitation are tied to a default
  and reported as not estimated (``decays_estimated_``).

Standard errors come from the observed Fisher information: the analytic Hessian in (mu, a), or in (mu, a, b) when
the decays are estimated. Parameters on their bound (a_ijk = 0) and tied decays get NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from calibration.hawkes import _decays
from calibration.hawkes import _likelihood as lik
from simlab.errors import DataError, ParameterError, SimlabError
from simlab.hawkes import HawkesParams
from simlab.random import as_generator

TIE_POLICIES = ("jitter", "error")


class NonStationaryFitWarning(UserWarning):
    """A Hawkes fit landed at a branching ratio >= 1: the fitted process explodes and cannot be simulated."""


class NonStationaryFitError(SimlabError, RuntimeError):
    """Raised instead of the warning when ``HawkesMLE(on_nonstationary="raise")``."""


@dataclass(frozen=True)
class Events:
    """Validated events: one merged, strictly sorted stream per realization (all start at 0)."""

    times: np.ndarray  # (n,) seconds
    dims: np.ndarray  # (n,) int32
    bounds: np.ndarray  # (R + 1,) offsets of the realizations
    end_times: np.ndarray  # (R,) seconds
    counts: np.ndarray  # (d,) events per dimension, all realizations
    n_ties: int  # events moved by the tie policy

    @property
    def dimension(self) -> int:
        """Number of dimensions d."""
        return int(self.counts.shape[0])

    @property
    def total_time(self) -> float:
        """Observed time summed over realizations, seconds."""
        return float(self.end_times.sum())


def prepare_events(
    times: Any,
    end_time_s: Any = None,
    *,
    tie_policy: str = "jitter",
    tie_jitter_s: float = 1e-6,
    rng: Any = 0,
    who: str = "HawkesMLE.fit",
) -> Events:
    """Validate event times (a list of d arrays, or a list of such lists) and merge them into one stream each.

    Tied timestamps (equal times, in any dimensions) follow ``tie_policy``: ``"jitter"`` moves every event of a
    tie to ``t + U[0, tie_jitter_s)`` (seeded by ``rng``) and re-sorts (an end time below the moved events is
    raised to the last one); ``"error"`` raises a DataError.
    """
    if tie_policy not in TIE_POLICIES:
        raise ParameterError(f"`tie_policy` of {who} must be one of {TIE_POLICIES}; got {tie_policy!r}")
    if not (np.isfinite(tie_jitter_s) and tie_jitter_s > 0):
        raise ParameterError(f"`tie_jitter_s` of {who} must be a finite number > 0 seconds; got {tie_jitter_s!r}")
    realizations = _as_realizations(times, who)
    ends = _end_times(end_time_s, realizations, who)
    d = len(realizations[0])
    generator = as_generator(rng)
    all_t, all_d, bounds, n_ties = [], [], [0], 0
    for r, (real, end) in enumerate(zip(realizations, ends, strict=True)):
        if len(real) != d:
            raise DataError(f"`times` of {who}: realization {r} has {len(real)} dimensions; realization 0 has {d}")
        arrays = [_checked_times(x, r, j, end, who) for j, x in enumerate(real)]
        offsets = np.cumsum([0] + [a.shape[0] for a in arrays]).astype(np.int64)
        t, dm = lik.merge_streams(np.concatenate(arrays), offsets)
        t, dm, moved = _resolve_ties(t, dm, r, tie_policy, tie_jitter_s, generator, who)
        n_ties += moved
        if t.shape[0] and t[-1] > end:
            ends[r] = t[-1]
        all_t.append(t)
        all_d.append(dm)
        bounds.append(bounds[-1] + t.shape[0])
    dims = np.concatenate(all_d)
    counts = np.bincount(dims, minlength=d).astype(np.int64)
    if counts.sum() == 0:
        raise DataError(f"`times` of {who} must hold at least one event; got none in {d} dimension(s)")
    return Events(np.concatenate(all_t), dims, np.asarray(bounds, np.int64), ends, counts, n_ties)


def _as_realizations(times: Any, who: str) -> list[list[Any]]:
    if not isinstance(times, (list, tuple)) or len(times) == 0:
        raise DataError(f"`times` of {who} must be a non-empty list of d arrays of event times; got {times!r:.80}")
    first = times[0]
    nested = isinstance(first, (list, tuple)) and len(first) > 0 and all(np.ndim(e) == 1 for e in first)
    realizations = [list(x) for x in times] if nested else [list(times)]
    for r, real in enumerate(realizations):
        if len(real) == 0:
            raise DataError(f"`times` of {who}: realization {r} has no dimensions")
    return realizations


def _end_times(end_time_s: Any, realizations: list, who: str) -> np.ndarray:
    n_real = len(realizations)
    if end_time_s is None:
        last = [max((float(np.max(x)) for x in real if np.size(x)), default=0.0) for real in realizations]
        return np.asarray(last, np.float64)
    ends = np.atleast_1d(np.asarray(end_time_s, dtype=np.float64)).copy()
    if ends.shape == (1,) and n_real > 1:
        ends = np.full(n_real, ends[0])
    if ends.shape != (n_real,):
        raise DataError(f"`end_time_s` of {who} must give one end time per realization ({n_real}); got {end_time_s!r}")
    if not (np.isfinite(ends).all() and (ends > 0).all()):
        raise DataError(f"`end_time_s` of {who} must be finite and > 0 seconds; got {end_time_s!r}")
    return ends


def _checked_times(values: Any, r: int, j: int, end: float, who: str) -> np.ndarray:
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"`times` of {who}: realization {r}, dimension {j} must be numeric; got {values!r:.80}"
        ) from exc
    where = f"`times` of {who}: realization {r}, dimension {j}"
    if arr.ndim != 1:
        raise DataError(f"{where} must be a 1-D array; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise DataError(f"{where} must be finite; event {bad} is {arr[bad]}")
    if arr.size and (arr[0] < 0 or arr[-1] > end):
        raise DataError(f"{where} must lie in [0, end_time_s = {end}] seconds; got [{arr.min()}, {arr.max()}]")
    steps = np.diff(arr)
    if (steps < 0).any():
        bad = int(np.flatnonzero(steps < 0)[0]) + 1
        raise DataError(
            f"{where} must be sorted; event {bad} ({arr[bad]}) is earlier than event {bad - 1} ({arr[bad - 1]})"
        )
    return arr


def _resolve_ties(t, dm, r, policy, jitter, generator, who):
    tied = np.zeros(t.shape[0], bool)
    same = np.diff(t) == 0
    tied[1:] |= same
    tied[:-1] |= same
    n_tied = int(tied.sum())
    if n_tied == 0:
        return t, dm, 0
    if policy == "error":
        m = int(np.flatnonzero(same)[0])
        raise DataError(
            f"`times` of {who}: realization {r} has {n_tied} events on tied timestamps, the first at {t[m]} s "
            f"(dimensions {dm[m]} and {dm[m + 1]}); tie_policy='error' forbids ties; pass tie_policy='jitter'"
        )
    t = t.copy()
    t[tied] += generator.uniform(0.0, jitter, n_tied)
    order = np.argsort(t, kind="stable")
    return t[order], dm[order], n_tied


def log_likelihood(params: HawkesParams, events: Events) -> np.ndarray:
    """Return the exact log-likelihood of ``events`` under ``params``, one term per target dimension (nats)."""
    d = events.dimension
    if params.dimension != d:
        raise DataError(f"`times` has {d} dimensions; the parameters have {params.dimension}")
    p = d * params.n_components
    out = np.empty(d)
    for i in range(d):
        x = np.empty((events.counts[i], p))
        comp, _, _ = lik.target_features(*_stream(events), i, np.ascontiguousarray(params.decays[i]), 0, x, x, x)
        theta = np.concatenate([[params.baseline[i]], params.adjacency[i].ravel()])
        out[i] = lik.target_loglik(x, comp.ravel(), events.total_time, theta)
    return out


def _stream(events: Events) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return events.times, events.dims, events.bounds, events.end_times


class HawkesMLE:
    """Fit a d-dimensional Hawkes process with (sums of) exponential kernels by exact maximum likelihood.

    Parameters
    ----------
    decays : float, array (K,), (d, d) or (d, d, K), optional
        Decays b in 1/s: the fixed decays, or the first start when ``fit_decays``. Required unless ``fit_decays``.
    fit_decays : bool
        Estimate the decays too (profile likelihood over log b, Newton's method, ``n_starts`` seeded starts).
    n_components : int
        K, the exponentials per kernel, when ``decays`` is None or a scalar (an array's own K wins).
    n_starts : int
        Starts of the decay search per target (the first at ``decays`` or the heuristic 10 x mean rate).
    tie_policy : {"jitter", "error"}
        Tied timestamps: spread by ``U[0, tie_jitter_s)`` seeded by ``rng``, or raise. Recorded in ``tie_policy_``.
    tie_jitter_s : float
        Width of the tie jitter, seconds (set it to the timestamp resolution, e.g. 1e-3 for ms stamps).
    max_iter, tol : int, float
        Iteration cap and tolerance (nats) of the optimisers.
    decay_min_z : float
        With ``fit_decays``, the decay of a pair is estimated only where its adjacency is at least this many standard
        errors above 0; other decays (not identified) are tied to the target's mean log decay, NaN stderr, and
        ``decays_estimated_`` is False there. 0 estimates every decay with a nonzero adjacency.
    rng : int, SeedSequence or Generator
        Seed of the tie jitter and of the extra starts.
    on_nonstationary : {"warn", "raise"}
        A fit at branching ratio >= 1 warns (NonStationaryFitWarning) or raises (NonStationaryFitError).

    Attributes
    ----------
    baseline_ (d,), adjacency_ (d, d, K), decays_ (d, d, K), params_ (HawkesParams), stderr_ (dict name -> array),
    loglik_ (nats), n_events_ (d,), branching_ratio_, converged_, stationary_, tie_policy_, n_ties_, end_times_,
    decays_estimated_ (d, d, K) bool: decays fitted (False where fixed, tied or without excitation).
    """

    def __init__(
        self,
        decays: Any = None,
        *,
        fit_decays: bool = False,
        n_components: int = 1,
        n_starts: int = 4,
        tie_policy: str = "jitter",
        tie_jitter_s: float = 1e-6,
        max_iter: int = 500,
        tol: float = 1e-8,
        decay_min_z: float = 3.0,
        rng: Any = 0,
        on_nonstationary: str = "warn",
    ) -> None:
        self.decays = decays
        self.fit_decays = fit_decays
        self.n_components = n_components
        self.n_starts = n_starts
        self.tie_policy = tie_policy
        self.tie_jitter_s = tie_jitter_s
        self.max_iter = max_iter
        self.tol = tol
        self.decay_min_z = decay_min_z
        self.rng = rng
        self.on_nonstationary = on_nonstationary

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the constructor's keyword arguments (scikit-learn contract)."""
        names = ("decays", "fit_decays", "n_components", "n_starts", "tie_policy", "tie_jitter_s", "max_iter", "tol")
        return {n: getattr(self, n) for n in (*names, "decay_min_z", "rng", "on_nonstationary")}

    def set_params(self, **params: Any) -> HawkesMLE:
        """Set constructor arguments (scikit-learn contract); return self."""
        for name, value in params.items():
            if name not in self.get_params():
                raise ParameterError(f"HawkesMLE has no parameter {name!r}; valid: {sorted(self.get_params())}")
            setattr(self, name, value)
        return self

    def fit(self, times: Any, end_time_s: Any = None, *, names: Sequence[str] | None = None) -> HawkesMLE:
        """Fit the model to event times and return self.

        Parameters
        ----------
        times : list of d arrays, or list of such lists
            Sorted event times in seconds of one realization per dimension, or several realizations (days,
            windows), each observed on [0, its end time].
        end_time_s : float or list of float, optional
            End of each observation window, seconds; default the last event of each realization.
        names : sequence of str, optional
            Labels of the dimensions, carried into ``params_``.
        """
        self._check_settings()
        rng = as_generator(self.rng)
        events = prepare_events(times, end_time_s, tie_policy=self.tie_policy, tie_jitter_s=self.tie_jitter_s, rng=rng)
        d = events.dimension
        if (events.counts == 0).any():
            empty = [int(j) for j in np.flatnonzero(events.counts == 0)]
            raise DataError(f"`times` of HawkesMLE.fit: dimension(s) {empty} have no events; every one needs some")
        rate = events.counts.sum() / events.total_time
        decays0 = _initial_decays(self.decays, self.fit_decays, self.n_components, d, rate)
        theta0, lower = _start(events, decays0.shape[2])
        if self.fit_decays:
            prefix = _prefix(events, _decays.SCREEN_EVENTS)
            settings = (self.n_starts, self.max_iter, self.tol, self.decay_min_z)
            theta, decays, loglik, converged, infos, estimated = _decays.fit_with_decays(
                events, decays0, rate, theta0, lower, prefix, settings, rng
            )
        else:
            theta, loglik, converged, infos = lik.fit_fixed_decays(
                *_stream(events), decays0, events.counts, theta0, lower, self.max_iter, self.tol
            )
            decays, estimated = decays0, np.zeros(decays0.shape, bool)
        self._store(events, theta, decays, loglik, converged, names, infos, estimated)
        return self

    def _check_settings(self) -> None:
        if self.on_nonstationary not in ("warn", "raise"):
            raise ParameterError(
                f"`on_nonstationary` of HawkesMLE must be 'warn' or 'raise'; got {self.on_nonstationary!r}"
            )
        for name in ("n_components", "n_starts", "max_iter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"`{name}` of HawkesMLE must be an int >= 1; got {value!r}")
        if not (np.isfinite(self.tol) and self.tol > 0):
            raise ParameterError(f"`tol` of HawkesMLE must be a finite number > 0; got {self.tol!r}")
        if not (np.isfinite(self.decay_min_z) and self.decay_min_z >= 0):
            raise ParameterError(f"`decay_min_z` of HawkesMLE must be a finite number >= 0; got {self.decay_min_z!r}")

    def _store(self, events, theta, decays, loglik, converged, names, infos, estimated) -> None:
        d, k = decays.shape[0], decays.shape[2]
        self.baseline_ = theta[:, 0].copy()
        self.adjacency_ = theta[:, 1:].reshape(d, d, k).copy()
        self.decays_ = np.array(decays, dtype=np.float64)
        self.decays_estimated_ = estimated
        self.params_ = HawkesParams(self.baseline_, self.adjacency_, self.decays_, names=tuple(names or ()))
        self.loglik_ = float(np.sum(loglik))
        self.n_events_ = events.counts.copy()
        self.end_times_ = events.end_times.copy()
        self.tie_policy_ = self.tie_policy
        self.n_ties_ = events.n_ties
        self.converged_ = bool(np.all(converged))
        self.branching_ratio_ = self.params_.branching_ratio
        self.stationary_ = self.branching_ratio_ < 1.0
        self.stderr_ = _standard_errors(self.params_, self.fit_decays, infos, estimated)
        if not self.converged_:
            warnings.warn("HawkesMLE.fit did not converge within max_iter; the estimate may be off", stacklevel=3)
        if not self.stationary_:
            message = (
                f"HawkesMLE.fit landed at branching ratio {self.branching_ratio_:.4f} >= 1: the fitted process is "
                "non-stationary (explosive); do not simulate it without a horizon cap"
            )
            if self.on_nonstationary == "raise":
                raise NonStationaryFitError(message)
            warnings.warn(message, NonStationaryFitWarning, stacklevel=3)

    def simulator(self) -> Callable[..., Any]:
        """Return ``simulate(duration_s, rng, n_paths=1)`` that simulates the fitted process (simlab's engine)."""
        params = self._fitted_params()
        from simlab.hawkes.simulate import simulate_hawkes

        def simulate(duration_s: float, rng: Any, n_paths: int = 1) -> Any:
            return simulate_hawkes(params, duration_s, rng=rng, n_paths=n_paths)

        return simulate

    def loglik(self, params: HawkesParams, times: Any, end_time_s: Any = None) -> float:
        """Return the exact log-likelihood (nats) of ``times`` under ``params`` (ties by this estimator's policy)."""
        events = prepare_events(
            times,
            end_time_s,
            tie_policy=self.tie_policy,
            tie_jitter_s=self.tie_jitter_s,
            rng=self.rng,
            who="HawkesMLE.loglik",
        )
        return float(log_likelihood(params, events).sum())

    def _fitted_params(self) -> HawkesParams:
        if not hasattr(self, "params_"):
            raise ParameterError("HawkesMLE is not fitted yet; call fit(times, end_time_s) first")
        return self.params_


def _initial_decays(decays: Any, fit_decays: bool, n_components: int, d: int, rate: float) -> np.ndarray:
    if decays is None:
        if not fit_decays:
            raise ParameterError("`decays` of HawkesMLE must be given when fit_decays=False; got None")
        decays = 10.0 * rate
    arr = np.asarray(decays, dtype=np.float64)
    if arr.ndim == 0:
        if n_components > 1 and not fit_decays:
            raise ParameterError(f"`decays` of HawkesMLE must give {n_components} decays (n_components); got {decays}")
        arr = arr * 10.0 ** np.linspace(-1.0, 1.0, n_components) if n_components > 1 else arr[None]
    if arr.ndim == 1:
        arr = np.broadcast_to(arr, (d, d, arr.shape[0]))
    elif arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[:2] != (d, d):
        raise DataError(
            f"`decays` of HawkesMLE must have shape (K,), ({d}, {d}) or ({d}, {d}, K) for {d}-D data; "
            f"got {np.shape(decays)}"
        )
    if not (np.isfinite(arr).all() and (arr > 0).all()):
        raise ParameterError(f"`decays` of HawkesMLE must be finite and > 0 (1/s); got {decays!r}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _start(events: Events, n_comp: int) -> tuple[np.ndarray, np.ndarray]:
    d = events.dimension
    theta0 = np.full((d, 1 + d * n_comp), 0.5 / (d * n_comp))
    theta0[:, 0] = 0.5 * events.counts / events.total_time
    lower = np.zeros_like(theta0)
    lower[:, 0] = np.maximum(1e-10 * events.counts / events.total_time, 1e-300)
    return theta0, lower


def _prefix(events: Events, max_events: int) -> Events:
    """The first ``max_events`` / n share of every realization (for screening starts); all of it when small."""
    n = events.times.shape[0]
    if n <= max_events:
        return events
    share = max_events / n
    ends = events.end_times * share
    keep = np.zeros(n, bool)
    for r in range(ends.shape[0]):
        lo, hi = events.bounds[r], events.bounds[r + 1]
        keep[lo:hi] = events.times[lo:hi] <= ends[r]
    counts = np.bincount(events.dims[keep], minlength=events.dimension)
    if (counts == 0).any():
        return events
    sizes = [int(keep[events.bounds[r] : events.bounds[r + 1]].sum()) for r in range(ends.shape[0])]
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return Events(events.times[keep], events.dims[keep], bounds, ends, counts, events.n_ties)


def _target_derivatives(events: Events, i: int, theta: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and negative Hessian of target i's log-likelihood in (mu, a (d K), b (d K))."""
    x, h, g = (np.empty((events.counts[i], b.size)) for _ in range(3))
    comps = lik.target_features(*_stream(events), i, b, 2, x, h, g)
    return lik.joint_derivatives(x, h, g, *(c.ravel() for c in comps), events.total_time, theta)


def _standard_errors(params: HawkesParams, with_decays: bool, infos: Any, estimated: np.ndarray) -> dict[str, Any]:
    d, k = params.dimension, params.n_components
    p = d * k
    se_mu, se_a, se_b = np.full(d, np.nan), np.full((d, p), np.nan), np.full((d, p), np.nan)
    var_rho = 0.0
    drho = _spectral_radius_gradient(params.branching_matrix)
    for i in range(d):
        info, a = infos[i], params.adjacency[i].ravel()
        free = np.concatenate([[True], a > 0, estimated[i].ravel()] if with_decays else [[True], a > 0])
        try:
            cov = np.linalg.inv(info[np.ix_(free, free)])
        except np.linalg.LinAlgError:
            continue
        se = np.full(free.shape[0], np.nan)
        se[free] = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        se_mu[i], se_a[i] = se[0], se[1 : 1 + p]
        if with_decays:
            se_b[i] = se[1 + p :]
        g = np.zeros(free.shape[0])
        g[1 : 1 + p] = np.repeat(drho[i], k)
        var_rho += float(g[free] @ cov @ g[free])
    out = {"baseline": se_mu, "adjacency": se_a.reshape(d, d, k), "branching_ratio": np.sqrt(var_rho)}
    if with_decays:
        out["decays"] = se_b.reshape(d, d, k)
    return out


def _spectral_radius_gradient(matrix: np.ndarray) -> np.ndarray:
    """d rho / d M_ij = v_i u_j / (v . u) for the Perron root (u right, v left eigenvector)."""
    values, right = np.linalg.eig(matrix)
    top = int(np.argmax(np.abs(values)))
    values_t, left = np.linalg.eig(matrix.T)
    top_t = int(np.argmin(np.abs(values_t - values[top])))
    u, v = np.real(right[:, top]), np.real(left[:, top_t])
    denom = v @ u
    return np.outer(v, u) / denom if denom != 0 else np.zeros_like(matrix)
