"""Forecasters of the next window's OFI: one interface, and the baselines, linear models and the classifier.

Every forecaster predicts window k of a :class:`~scenarios.forecast.data.FlowSeries` from windows before k in its
segment (it declares how many, ``lags``); ``fit(series, train, rng)`` sees the targets of the ``train`` windows
only, ``predict(series, index)`` returns a :class:`Prediction`. A model with ``honest = False`` (the nowcast
hybrid) breaks that rule on purpose, to show where a too-good number comes from; the leakage audit flags it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.signal import lfilter

from scenarios.forecast.data import FlowSeries
from simlab.errors import ParameterError
from simlab.features.ofi import ofi_signal

CLASSES = np.array([-1, 0, 1])  # SELL, HOLD, BUY: the columns of Prediction.probs


@dataclass(frozen=True)
class Prediction:
    """Forecasts of m windows: OFI (m,), class probabilities (m, 3) for (SELL, HOLD, BUY) or None, counts (m, 2)
    (buy, sell) or None."""

    ofi: np.ndarray
    probs: np.ndarray | None = None
    counts: np.ndarray | None = None

    def signal(self, threshold: float) -> np.ndarray:
        """Return the predicted signal (m,): the most probable class, else the signal of the predicted OFI."""
        if self.probs is not None:
            return CLASSES[np.argmax(self.probs, axis=1)].astype(np.int8)
        return ofi_signal(self.ofi, threshold=threshold)


class Forecaster:
    """Base class: ``lags`` windows of history needed, ``honest`` (uses nothing at or after the origin)."""

    name = "forecaster"
    lags = 0
    honest = True

    def fit(self, series: FlowSeries, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        """Fit on the windows ``train`` (indices into ``series``); return self."""
        return self

    def predict(self, series: FlowSeries, index: np.ndarray) -> Prediction:
        """Forecast the windows ``index`` from the windows before each."""
        raise NotImplementedError


def lag_matrix(values: np.ndarray, index: np.ndarray, lags: int) -> np.ndarray:
    """Return the rows [v[k-1], v[k-2], ..., v[k-lags]] (m, lags * c) of a (n,) or (n, c) array for k in ``index``.

    Raises ParameterError for a window with fewer than ``lags`` windows before it (its lags would wrap around to
    the end of the series, i.e. read the future).
    """
    if len(index) and int(np.min(index)) < lags:
        raise ParameterError(
            f"`index` of lag_matrix must leave {lags} earlier windows before each row; got window {int(np.min(index))}"
        )
    v = values.reshape(values.shape[0], -1)
    return np.concatenate([v[index - lag] for lag in range(1, lags + 1)], axis=1)


def flow_features(series: FlowSeries) -> np.ndarray:
    """Return the per-window features (n, 3): buy count, sell count and OFI."""
    return np.column_stack([series.buy, series.sell, series.ofi])


def ofi_of_counts(counts: np.ndarray) -> np.ndarray:
    """Return (buy - sell) / (buy + sell) of predicted counts (m, 2), negative counts read as 0, 0 when both are."""
    c = np.maximum(counts, 0.0)
    total = c.sum(axis=1)
    return np.divide(c[:, 0] - c[:, 1], total, out=np.zeros(c.shape[0]), where=total > 0)


def least_squares(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Return OLS coefficients with an intercept first ((1 + p,) or (1 + p, c))."""
    x = np.column_stack([np.ones(design.shape[0]), design])
    return np.linalg.lstsq(x, target, rcond=None)[0]


def apply_linear(coef: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Return intercept + design @ slopes for coefficients from :func:`least_squares`."""
    return coef[0] + design @ coef[1:]


class TrainingMean(Forecaster):
    """The mean OFI of the training windows."""

    name = "mean"

    def fit(self, series: FlowSeries, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        self.mean_ = float(series.ofi[train].mean())
        return self

    def predict(self, series: FlowSeries, index: np.ndarray) -> Prediction:
        return Prediction(np.full(len(index), self.mean_))


class Persistence(Forecaster):
    """The OFI of the previous window."""

    name = "persistence"
    lags = 1

    def predict(self, series: FlowSeries, index: np.ndarray) -> Prediction:
        return Prediction(series.ofi[index - 1].copy())


class EWMA(Forecaster):
    """Exponentially weighted mean of past OFI within the segment, smoothing picked on the training windows."""

    name = "ewma"
    lags = 1
    alphas = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)

    def fit(self, series: FlowSeries, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        errors = [np.mean((self._smooth(series, a)[train] - series.ofi[train]) ** 2) for a in self.alphas]
        self.alpha_ = self.alphas[int(np.argmin(errors))]
        return self

    def predict(self, series: FlowSeries, index: np.ndarray) -> Prediction:
        return Prediction(self._smooth(series, self.alpha_)[index])

    @staticmethod
    def _smooth(series: FlowSeries, alpha: float) -> np.ndarray:
        """EWMA of OFI strictly before each window, restarted at 0 at every segment start."""
        out = np.zeros(series.size)
        starts = np.flatnonzero(np.r_[True, series.segment[1:] != series.segment[:-1]])
        for lo, hi in zip(starts, np.r_[starts[1:], series.size], strict=True):
            # level_k = (1 - alpha) level_{k-1} + alpha ofi_{k-1}, level_lo = 0
            out[lo + 1 : hi] = lfilter([alpha], [1.0, alpha - 1.0], series.ofi[lo : hi - 1])
        return out


class AutoRegressive(Forecaster):
    """AR(p) on OFI, least squares with an intercept; the forecast is kept in OFI's range [-1, 1]."""

    name = "ar"

    def __init__(self, lags: int = 5) -> None:
        self.lags = lags

    def fit(self, series: FlowSeries, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        self.coef_ = least_squares(lag_matrix(series.ofi, train, self.lags), series.ofi[train])
        return self

    def predict(self, series: FlowSeries, index: np.ndarray) -> Prediction:
        return Prediction(np.clip(apply_linear(self.coef_, lag_matrix(series.ofi, index, self.lags)), -1, 1))


class VectorAutoRegressive(Forecaster):
    """VAR(p) on the (buy, sell) counts, least squares; its OFI forecast is the OFI of the forecast counts."""

    name = "var"

    def __init__(self, lags: int = 5) -> None:
        self.lags = lags

    def fit(self, series: FlowSeries, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        counts = np.column_stack([series.buy, series.sell])
        self.coef_ = least_squares(lag_matrix(counts, train, self.lags), counts[train])
        return self

    def counts(self, series: FlowSeries, index: np.ndarray) -> np.ndarray:
        """Return the VAR's count forecasts (m, 2) of the windows ``index``."""
        counts = np.column_stack([series.buy, series.sell])
        return apply_linear(self.coef_, lag_matrix(counts, index, self.lags))

    def predict(self, series: FlowSeries, index: np.ndarray) -> Prediction:
        counts = self.counts(series, index)
        return Prediction(ofi_of_counts(counts), counts=counts)


class Standardizer:
    """Column means and standard deviations of training rows (a zero deviation reads as 1)."""

    def __init__(self, rows: np.ndarray) -> None:
        self.mean = rows.mean(axis=0)
        std = rows.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return (rows - self.mean) / self.std


class Logistic(Forecaster):
    """Multinomial logistic regression of the signal on lagged (buy, sell, OFI), L2 penalty ``penalty``.

    Its OFI forecast is the probability-weighted mean training OFI of each class.
    """

    name = "logistic"

    def __init__(self, lags: int = 5, penalty: float = 1e-3) -> None:
        self.lags = lags
        self.penalty = penalty

    def fit(self, series: FlowSeries, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        rows = lag_matrix(flow_features(series), train, self.lags)
        self.scale_ = Standardizer(rows)
        x = np.column_stack([np.ones(len(train)), self.scale_(rows)])
        y = np.searchsorted(CLASSES, series.signal[train])
        onehot = np.eye(3)[y]
        ofi = series.ofi[train]
        self.class_ofi_ = np.array([ofi[y == c].mean() if np.any(y == c) else 0.0 for c in range(3)])

        def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
            w = flat.reshape(x.shape[1], 3)
            logits = x @ w
            logits -= logits.max(axis=1, keepdims=True)
            logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            value = -np.mean(np.sum(onehot * logp, axis=1)) + 0.5 * self.penalty * np.sum(w[1:] ** 2)
            grad = x.T @ (np.exp(logp) - onehot) / len(y)
            grad[1:] += self.penalty * w[1:]
            return float(value), grad.reshape(-1)

        result = minimize(loss, np.zeros(x.shape[1] * 3), jac=True, method="L-BFGS-B")
        self.weights_ = result.x.reshape(x.shape[1], 3)
        return self

    def probabilities(self, series: FlowSeries, index: np.ndarray) -> np.ndarray:
        """Return P(SELL, HOLD, BUY) (m, 3) for the windows ``index``."""
        x = self.scale_(lag_matrix(flow_features(series), index, self.lags))
        logits = self.weights_[0] + x @ self.weights_[1:]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, series: FlowSeries, index: np.ndarray) -> Prediction:
        probs = self.probabilities(series, index)
        return Prediction(probs @ self.class_ofi_, probs=probs)
