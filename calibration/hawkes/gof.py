"""Goodness of fit of Hawkes models: time-rescaling residuals, KS tests, bootstrap p-values, QQ data, Poisson gain.

Time rescaling (Brown et al. 2002; Ogata 1988): under the model, the compensator increments
``Lambda_i(t_n) - Lambda_i(t_{n-1})`` between consecutive events of dimension i are i.i.d. Exp(1). With fitted
parameters the plain KS p-value is too lenient (the fit adapts to the data); :func:`bootstrap_ks_pvalue` calibrates
it by refitting on paths simulated from the fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from calibration.hawkes import _likelihood as lik
from calibration.hawkes.mle import Events, HawkesMLE, log_likelihood, prepare_events
from simlab.errors import DataError, ParameterError
from simlab.hawkes import HawkesParams
from simlab.random import as_generator, spawn


@dataclass(frozen=True)
class KSResult:
    """Kolmogorov-Smirnov statistics and p-values per dimension, against Exp(1)."""

    statistic: np.ndarray  # (d,)
    pvalue: np.ndarray  # (d,)


def _events(times: Any, end_time_s: Any, tie_policy: str, tie_jitter_s: float, rng: Any, who: str) -> Events:
    return prepare_events(times, end_time_s, tie_policy=tie_policy, tie_jitter_s=tie_jitter_s, rng=rng, who=who)


def _residuals(params: HawkesParams, events: Events) -> list[np.ndarray]:
    if params.dimension != events.dimension:
        raise DataError(f"`times` has {events.dimension} dimensions; the parameters have {params.dimension}")
    inc = lik.rescaled_increments(
        events.times, events.dims, events.bounds, params.baseline, params.adjacency, params.decays
    )
    return [inc[events.dims == i] for i in range(events.dimension)]


def time_rescaling(
    params: HawkesParams,
    times: Any,
    end_time_s: Any = None,
    *,
    tie_policy: str = "jitter",
    tie_jitter_s: float = 1e-6,
    rng: Any = 0,
) -> list[np.ndarray]:
    """Return the time-rescaling residuals of each dimension (Exp(1) under the model).

    Parameters
    ----------
    params : HawkesParams
        The model (baseline in events/s, adjacency, decays in 1/s).
    times : list of d arrays, or list of such lists
        Sorted event times in seconds (one or several realizations, each starting at 0).
    end_time_s : float or list of float, optional
        End of each realization, seconds; default its last event.
    tie_policy, tie_jitter_s, rng
        Tied timestamps, as in :class:`~calibration.hawkes.HawkesMLE`.

    Returns
    -------
    list of d arrays
        The compensator increments between consecutive events of each dimension (the first from time 0),
        realizations concatenated.
    """
    return _residuals(params, _events(times, end_time_s, tie_policy, tie_jitter_s, rng, "time_rescaling"))


def ks_test(residuals: list[np.ndarray]) -> KSResult:
    """Test each dimension's residuals against Exp(1) (Kolmogorov-Smirnov); return statistics and p-values."""
    statistic, pvalue = [], []
    for j, r in enumerate(residuals):
        r = np.asarray(r, dtype=np.float64)
        if r.ndim != 1 or r.size == 0 or not np.isfinite(r).all():
            raise DataError(
                f"`residuals` of ks_test: dimension {j} must be a non-empty finite 1-D array; got {r!r:.80}"
            )
        result = stats.kstest(r, "expon")
        statistic.append(result.statistic)
        pvalue.append(result.pvalue)
    return KSResult(np.asarray(statistic), np.asarray(pvalue))


def qq_data(residuals: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (theoretical Exp(1) quantiles, sorted residuals) per dimension, at plotting positions (i - 0.5) / n."""
    out = []
    for r in residuals:
        empirical = np.sort(np.asarray(r, dtype=np.float64))
        n = empirical.shape[0]
        theoretical = -np.log1p(-(np.arange(1, n + 1) - 0.5) / n)
        out.append((theoretical, empirical))
    return out


def poisson_gain(
    params: HawkesParams,
    times: Any,
    end_time_s: Any = None,
    *,
    tie_policy: str = "jitter",
    tie_jitter_s: float = 1e-6,
    rng: Any = 0,
) -> float:
    """Return the log-likelihood of ``params`` minus that of the best homogeneous Poisson fit (nats, >= 0 is better).

    The Poisson MLE puts rate ``N_i / T`` on each dimension: its log-likelihood is ``sum_i N_i (log(N_i / T) - 1)``.
    """
    events = _events(times, end_time_s, tie_policy, tie_jitter_s, rng, "poisson_gain")
    counts = events.counts[events.counts > 0].astype(np.float64)
    poisson = float(np.sum(counts * (np.log(counts / events.total_time) - 1.0)))
    return float(log_likelihood(params, events).sum()) - poisson


def bootstrap_ks_pvalue(
    estimator: HawkesMLE, times: Any, end_time_s: Any = None, *, n_boot: int = 99, rng: Any
) -> np.ndarray:
    """Return per-dimension KS p-values calibrated by parametric bootstrap (the parameters were fitted).

    The estimator (a copy, with its settings) is fitted to the data; ``n_boot`` paths with the data's end times are
    simulated from the fit and refitted the same way; the p-value of dimension i is
    ``(1 + #{boot KS statistic >= observed}) / (1 + n_boot)``.

    Parameters
    ----------
    estimator : HawkesMLE
        Its settings (decays, fit_decays, ...) define the fit; it is not modified.
    times, end_time_s
        The data, as in :meth:`HawkesMLE.fit`.
    n_boot : int
        Bootstrap replications.
    rng : int, SeedSequence or Generator
        Root seed of the simulations (one child per replication).
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ParameterError(f"`n_boot` of bootstrap_ks_pvalue must be an int >= 1; got {n_boot!r}")
    from simlab.hawkes import simulate_hawkes

    settings = estimator.get_params()
    fitted = HawkesMLE(**settings).fit(times, end_time_s)
    residuals = time_rescaling(
        fitted.params_,
        times,
        end_time_s,
        tie_policy=fitted.tie_policy,
        tie_jitter_s=fitted.tie_jitter_s,
        rng=fitted.rng,
    )
    observed = ks_test(residuals).statistic
    exceed = np.zeros(observed.shape[0])
    d = fitted.params_.dimension
    root = as_generator(rng).integers(0, 2**63)
    for gen in spawn(int(root), int(n_boot)):
        sample = []
        for end in fitted.end_times_:
            path = simulate_hawkes(fitted.params_, float(end), rng=gen)[0]
            sample.append([path.times_s[path.dims == j] for j in range(d)])
        refit = HawkesMLE(**settings).fit(sample, list(fitted.end_times_))
        boot = ks_test(_residuals(refit.params_, prepare_events(sample, list(fitted.end_times_)))).statistic
        exceed += boot >= observed
    return (1.0 + exceed) / (1.0 + n_boot)
