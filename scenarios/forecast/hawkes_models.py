"""Hawkes forecasters: a Hawkes process fitted on the training windows, and the oracle that knows the true one.

Both forecast from an intensity state: the expected counts of the next window in closed form
(:func:`~scenarios.forecast.state.closed_form_counts`), and E[OFI] and the signal's class probabilities by Monte
Carlo from that state (:func:`~scenarios.forecast.state.forward_moments`). The oracle uses the true parameters and
the true state recorded with a synthetic series: no forecaster that sees only the past can beat it in expectation
(it is the conditional mean given everything the past holds), so its error is the ceiling of the benchmark.
"""

from __future__ import annotations

import warnings

import numpy as np

from calibration.hawkes import HawkesMLE
from scenarios.forecast.data import FlowSeries
from scenarios.forecast.forecasters import Forecaster, Prediction
from scenarios.forecast.state import closed_form_counts, forward_moments, states_at
from simlab.errors import DataError
from simlab.hawkes import HawkesParams

DEFAULT_DECAYS = (0.3, 3.0, 30.0, 300.0)


def _moments(params: HawkesParams, states: np.ndarray, series: FlowSeries, n_paths: int, seed: int):
    moments = forward_moments(
        params, states, series.window_s, rng=np.random.default_rng(seed), n_paths=n_paths, threshold=series.threshold
    )
    counts = closed_form_counts(params, states, series.window_s)
    return Prediction(moments.ofi_mean, probs=moments.probs, counts=counts), moments


class Oracle(Forecaster):
    """The Bayes forecast from the true process and its true state (synthetic series only).

    After ``predict``, ``moments_`` holds the Monte Carlo moments of the windows predicted: Var(OFI | state)
    (``ofi_var``) and the variance of the forecast as an estimate of E[OFI | state] (``estimate_var``), by which
    Monte Carlo noise inflates the oracle's expected squared error.
    """

    name = "oracle"

    def __init__(self, n_paths: int = 400) -> None:
        self.n_paths = n_paths

    def fit(self, series: FlowSeries, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        if series.params is None or series.states is None:
            raise DataError(f"series {series.name!r}: the oracle needs a synthetic series with its true state")
        self.seed_ = int(rng.integers(2**62))
        return self

    def predict(self, series: FlowSeries, index: np.ndarray) -> Prediction:
        prediction, self.moments_ = _moments(series.params, series.states[index], series, self.n_paths, self.seed_)
        return prediction


class FittedHawkes(Forecaster):
    """A 2-D Hawkes process fitted by maximum likelihood (fixed decays) on the events of the training windows."""

    name = "hawkes"

    def __init__(self, decays: tuple[float, ...] = DEFAULT_DECAYS, n_paths: int = 200) -> None:
        self.decays = decays
        self.n_paths = n_paths

    def fit(self, series: FlowSeries, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        if series.times_s is None:
            raise DataError(f"series {series.name!r}: the Hawkes forecaster needs the events, not only counts")
        realizations, ends = _training_realizations(series, np.sort(train))
        estimator = HawkesMLE(decays=list(self.decays), fit_decays=False, rng=int(rng.integers(2**62)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.params_ = estimator.fit(realizations, ends, names=("buy", "sell")).params_
        self.seed_ = int(rng.integers(2**62))
        return self

    def predict(self, series: FlowSeries, index: np.ndarray) -> Prediction:
        states = _series_states(self.params_, series)[index]
        return _moments(self.params_, states, series, self.n_paths, self.seed_)[0]


def _training_realizations(series: FlowSeries, train: np.ndarray) -> tuple[list, list]:
    """Return the events of each run of consecutive training windows (times from the run's start) and its length."""
    breaks = np.flatnonzero((np.diff(train) != 1) | (np.diff(series.segment[train]) != 0)) + 1
    realizations, ends = [], []
    for run in np.split(train, breaks):
        start, end = series.start_s[run[0]], series.start_s[run[-1]] + series.window_s
        lo, hi = np.searchsorted(series.times_s, [start, end], side="left")
        times, dims = series.times_s[lo:hi] - start, series.dims[lo:hi]
        if all(np.any(dims == j) for j in (0, 1)):
            realizations.append([times[dims == j] for j in (0, 1)])
            ends.append(float(end - start))
    if not realizations:
        raise DataError(
            f"series {series.name!r}: the training windows hold no buy and sell events to fit a Hawkes model"
        )
    return realizations, ends


def _series_states(params: HawkesParams, series: FlowSeries) -> np.ndarray:
    """The state of ``params`` before every window start, from the events of the window's own segment."""
    out = []
    for g, (low, _) in enumerate(series.spans_s):
        at = series.start_s[series.segment == g]
        keep = series.times_s >= (low if g > 0 else -np.inf)
        out.append(states_at(params, series.times_s[keep], series.dims[keep], at))
    return np.concatenate(out)
