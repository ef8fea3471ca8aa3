"""The walk-forward protocol: splits with an embargo, fit on the past, forecast the next windows, score.

Windows usable as targets are those with at least ``max_lag`` earlier windows in their segment. The first
``initial_fraction`` of them is the first training block; the rest is cut into ``n_folds`` consecutive test blocks.
Fold f trains on every usable window whose index is more than ``embargo`` windows before its test block (an
expanding window) and tests on the block. With embargo >= 1 + max_lag (the horizon, one window, plus the largest
lag) no training target window overlaps a test target window, nor any window a test forecast reads. Every fitted
quantity (scalers, VAR, networks, Hawkes parameters) is fitted inside ``fit`` on the training windows of the fold.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scenarios.forecast.data import FlowSeries
from scenarios.forecast.forecasters import Forecaster
from scenarios.forecast.metrics import classification_scores, diebold_mariano, regression_scores
from simlab.errors import DataError, ParameterError
from simlab.random import RandomLike, spawn

MIN_TEST = 10


@dataclass(frozen=True)
class Split:
    """One fold: training and test window indices (sorted)."""

    fold: int
    train: np.ndarray
    test: np.ndarray


def walk_forward(
    series: FlowSeries, *, n_folds: int = 5, max_lag: int = 1, embargo: int | None = None, initial_fraction: float = 0.5
) -> list[Split]:
    """Return ``n_folds`` walk-forward splits of the usable windows of ``series`` (see the module docstring).

    Raises
    ------
    ParameterError
        For fewer than 5 folds, a negative lag, an embargo below 1 + max_lag, or a fraction outside (0, 1).
    DataError
        When the series is too short for the folds and lags asked for.
    """
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 5:
        raise ParameterError(f"`n_folds` of walk_forward must be an int >= 5; got {n_folds!r}")
    if max_lag < 0:
        raise ParameterError(f"`max_lag` of walk_forward must be >= 0; got {max_lag!r}")
    embargo = 1 + max_lag if embargo is None else int(embargo)
    if embargo < 1 + max_lag:
        raise ParameterError(
            f"`embargo` of walk_forward must be >= horizon + largest lag = {1 + max_lag} windows; got {embargo}"
        )
    if not 0 < initial_fraction < 1:
        raise ParameterError(f"`initial_fraction` of walk_forward must be in (0, 1); got {initial_fraction!r}")
    usable = np.flatnonzero(series.first_in_segment(max_lag))
    first = int(usable.size * initial_fraction)
    block = (usable.size - first) // n_folds
    min_train = max(30, 10 * (max_lag + 1))
    if block < MIN_TEST or first - embargo < min_train:
        raise DataError(
            f"series {series.name!r}: {usable.size} usable windows (of {series.size}, lags {max_lag}) are too few for "
            f"{n_folds} test blocks of >= {MIN_TEST} and a first training block of >= {min_train} + embargo "
            f"{embargo}; need >= {int(np.ceil((min_train + embargo) / initial_fraction)) + n_folds * MIN_TEST}"
        )
    splits = []
    for f in range(n_folds):
        test = usable[first + f * block : first + (f + 1) * block]
        train = usable[usable < test[0] - embargo]
        splits.append(Split(f, train, test))
    return splits


@dataclass
class ProtocolResult:
    """Test-window forecasts of every model over all folds, and what is needed to score them."""

    series: dict[str, Any]
    threshold: float
    index: np.ndarray
    fold: np.ndarray
    actual: np.ndarray
    actual_signal: np.ndarray
    benchmark: np.ndarray
    forecasts: dict[str, np.ndarray] = field(default_factory=dict)
    signals: dict[str, np.ndarray] = field(default_factory=dict)
    honest: dict[str, bool] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    oracle_variance: np.ndarray | None = None
    oracle_noise: np.ndarray | None = None
    splits: list[Split] = field(default_factory=list)

    def scores(self, reference: str = "var") -> dict[str, dict[str, Any]]:
        """Return each model's metrics; Diebold-Mariano against ``reference``; with an oracle, the gap share closed
        (0 for the training mean, 1 at the oracle's MSE net of its Monte Carlo noise, :meth:`oracle_floor`)."""
        out: dict[str, dict[str, Any]] = {}
        for name, forecast in self.forecasts.items():
            row = regression_scores(self.actual, forecast, self.benchmark)
            row.update(classification_scores(self.actual_signal, self.signals[name]))
            if reference in self.forecasts and name != reference:
                dm = diebold_mariano(self.actual - forecast, self.actual - self.forecasts[reference])
                row.update({f"dm_vs_{reference}": dm["dm"], f"dm_p_vs_{reference}": dm["p_value"]})
            row["seconds"] = self.seconds[name]
            row["honest"] = self.honest[name]
            out[name] = row
        if "oracle" in out:
            floor = self.oracle_floor()
            ceiling = float(np.mean((self.actual - self.benchmark) ** 2))
            for row in out.values():
                row["gap_closed"] = (ceiling - row["mse"]) / (ceiling - floor) if ceiling > floor else np.nan
        return out

    def oracle_floor(self) -> float:
        """Return the oracle's test MSE minus the mean Monte Carlo variance of its forecasts (unbiased for the MSE
        of the exact conditional mean)."""
        if self.oracle_noise is None:
            raise DataError("the protocol ran without an oracle (synthetic data only)")
        return float(np.mean((self.actual - self.forecasts["oracle"]) ** 2) - np.mean(self.oracle_noise))


def streams(rng: RandomLike, n: int) -> list[np.random.Generator]:
    """Return ``n`` independent generators from a root seed (int or SeedSequence, split by SeedSequence) or from a
    Generator (which first draws the root from its stream)."""
    if isinstance(rng, np.random.Generator):
        rng = np.random.SeedSequence(int(rng.integers(2**63)))
    return spawn(rng, n)


def run_protocol(
    series: FlowSeries,
    models: list[Forecaster],
    *,
    rng: RandomLike,
    n_folds: int = 5,
    embargo: int | None = None,
    initial_fraction: float = 0.5,
    progress: Any = None,
) -> ProtocolResult:
    """Fit a fresh copy of every model on each fold's training windows and forecast its test windows.

    Parameters
    ----------
    series
        The windows to forecast.
    models
        Unfitted forecasters (copied per fold); names must be distinct.
    rng
        Root seed; model m of fold f uses its own child stream.
    n_folds, embargo, initial_fraction
        See :func:`walk_forward`; the largest lag is the models' largest ``lags``.
    progress
        Called as ``progress(model_name, fold)`` after each fit.
    """
    names = [m.name for m in models]
    if len(set(names)) != len(names) or not names:
        raise ParameterError(f"`models` of run_protocol must have distinct names; got {names}")
    splits = walk_forward(
        series, n_folds=n_folds, max_lag=max(m.lags for m in models), embargo=embargo, initial_fraction=initial_fraction
    )
    index = np.concatenate([s.test for s in splits])
    ofi = series.ofi
    result = ProtocolResult(
        series=series.summary(),
        threshold=series.threshold,
        index=index,
        fold=np.concatenate([np.full(s.test.size, s.fold) for s in splits]),
        actual=ofi[index],
        actual_signal=series.signal[index].astype(np.int8),
        benchmark=np.concatenate([np.full(s.test.size, ofi[s.train].mean()) for s in splits]),
        splits=splits,
    )
    generators = streams(rng, len(models) * len(splits))
    for m, template in enumerate(models):
        _run_model(result, series, template, splits, generators[m * len(splits) : (m + 1) * len(splits)], progress)
    return result


def _run_model(result: ProtocolResult, series, template: Forecaster, splits, generators, progress) -> None:
    started = time.perf_counter()
    forecasts, signals, variances, noise = [], [], [], []
    for split, generator in zip(splits, generators, strict=True):
        model = copy.deepcopy(template).fit(series, split.train, generator)
        prediction = model.predict(series, split.test)
        if not np.isfinite(prediction.ofi).all():
            raise DataError(f"model {template.name!r} forecast a non-finite OFI in fold {split.fold}")
        forecasts.append(prediction.ofi)
        signals.append(prediction.signal(series.threshold))
        if template.name == "oracle":
            variances.append(model.moments_.ofi_var)
            noise.append(model.moments_.estimate_var)
        if progress is not None:
            progress(template.name, split.fold)
    result.forecasts[template.name] = np.concatenate(forecasts)
    result.signals[template.name] = np.concatenate(signals)
    result.honest[template.name] = template.honest
    result.seconds[template.name] = round(time.perf_counter() - started, 3)
    if variances:
        result.oracle_variance, result.oracle_noise = np.concatenate(variances), np.concatenate(noise)
