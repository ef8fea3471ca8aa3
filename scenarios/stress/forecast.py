"""Forecasters in a crash: the benchmark's models trained on a normal day, scored on normal windows and on crashes.

Every regime is a plain simlab events dataset (books optional) with a window ``[start_ns, end_ns)`` in ns since the
epoch, UTC. The target is the forecasting benchmark's: the order-flow imbalance OFI = (buy - sell) / (buy + sell)
of the market orders in the next window of ``window_s`` seconds (:mod:`scenarios.forecast.data`). The models are
fitted once on the first ``train_fraction`` of the normal window's forecast windows; the normal test windows start
``1 + lags`` windows after the last training window (the benchmark's embargo); a crash's test windows are its
whole windows inside ``[start_ns, end_ns)``, and their inputs read the crash dataset's earlier windows (known at the
origin). The oracle forecasts from the true process where an events dataset carries it
(:data:`TRUTH_ATTR`, written by :func:`scenarios.stress.forecast_worlds.hawkes_world`), so the ceiling is known in
a Hawkes world's crash too.

**Protocol guard**: times are absolute, so a model whose training windows end after a crash window's start has
seen the crash, or what followed it (leakage); :func:`forecaster_stress` refuses it with one sentence naming the
model and the times. A simulated world therefore has to be placed on a clock after the training data.

**Scores** per model and regime, each with a 95 % interval (Newey-West standard errors over the windows):
``mse`` and ``mae`` of the OFI forecast, ``directional_accuracy`` (sign of the forecast = sign of the OFI, over
windows with a non-zero OFI) and ``skill`` (1 - MSE / MSE of the training mean, the benchmark's out-of-sample R^2;
interval by the delta method).

**Tests** (the normal and crash windows are different samples, so the crash is never compared with the normal day
window by window):

* ``dm_vs_baseline``: within each regime, Diebold-Mariano (HLN) of the model's squared error against the
  baseline's (the training mean); negative: the model is more accurate than the baseline in that regime;
* ``shift_mse``: a two-sample z-test of the mean squared error in the crash against the normal test windows
  (independent samples, each mean with its Newey-West variance); positive: the error rises in the crash;
* ``shift_differential``: the same two-sample test on the loss differential (model - baseline): does the model's
  edge over the baseline change in the crash (positive: it shrinks or turns into a loss);
* ``shift_direction``: the same two-sample test on the directional hits (negative: accuracy falls).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import stats

from calibration.hawkes_data import event_times
from scenarios.forecast.data import FlowSeries, series_from_events
from scenarios.forecast.forecasters import (
    EWMA,
    AutoRegressive,
    Forecaster,
    Logistic,
    Persistence,
    TrainingMean,
    VectorAutoRegressive,
)
from scenarios.forecast.hawkes_models import FittedHawkes, Oracle
from scenarios.forecast.metrics import diebold_mariano, hac_variance
from simlab.errors import DataError, ParameterError
from simlab.hawkes import HawkesParams
from simlab.provenance import provenance
from simlab.random import spawn

MODEL_NAMES = ("mean", "persistence", "ewma", "ar", "var", "logistic", "fnn", "hawkes", "oracle")
METRICS = ("mse", "mae", "directional_accuracy", "skill")
TESTS = ("dm_vs_baseline", "shift_mse", "shift_differential", "shift_direction")
NORMAL = "normal"
BASELINE = "mean"
TRUTH_ATTR = "hawkes_truth"
"""Events attribute with the true Hawkes process of a synthetic world: JSON list of pieces
``{"start_ns", "end_ns", "params"}`` (``params`` as :meth:`simlab.hawkes.HawkesParams.to_dict`)."""
Z95 = float(stats.norm.ppf(0.975))
NS = 1_000_000_000


@dataclass(frozen=True)
class Regime:
    """One regime: events (simlab schema), books (or None) and the window ``[start_ns, end_ns)`` (ns, UTC)."""

    name: str
    events: xr.Dataset
    books: xr.Dataset | None
    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class _Scored:
    """A regime's forecast windows: the series, the test window indices and their actual OFI."""

    regime: Regime
    series: FlowSeries
    index: np.ndarray

    @property
    def actual(self) -> np.ndarray:
        return self.series.ofi[self.index]


def as_regime(name: str, value: Regime | Sequence) -> Regime:
    """Return a :class:`Regime` from a tuple ``(events, books, (start_ns, end_ns))``; check the window."""
    if isinstance(value, Regime):
        return value
    if not isinstance(value, Sequence) or len(value) != 3:
        raise ParameterError(f"regime {name!r} must be (events, books, (start_ns, end_ns)); got {type(value).__name__}")
    events, books, window = value
    if not isinstance(events, xr.Dataset) or "ts_ns" not in events:
        raise DataError(f"regime {name!r}: `events` must be a simlab events Dataset with `ts_ns`")
    try:
        start, end = (int(t) for t in window)
    except (TypeError, ValueError):
        raise ParameterError(
            f"regime {name!r}: the window must be two ints (start_ns, end_ns); got {window!r}"
        ) from None
    if end <= start:
        raise ParameterError(f"regime {name!r}: the window must end after it starts; got [{start}, {end})")
    ts = events["ts_ns"].values
    if ts.size == 0 or start > ts[-1] or end <= ts[0]:
        first, last = (iso(ts[0]), iso(ts[-1])) if ts.size else ("none", "none")
        raise DataError(
            f"regime {name!r}: the window {iso(start)} to {iso(end)} must overlap its events ({first} to {last})"
        )
    return Regime(name, events, books, start, end)


def iso(ns: int) -> str:
    """Return ns since the epoch as an ISO UTC time with microseconds."""
    return dt.datetime.fromtimestamp(int(ns) // 1000 / 1e6, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_training(model: str, train_start_ns: int, train_end_ns: int, crash: str, window: tuple[int, int]) -> None:
    """Refuse a model whose training data ``[train_start_ns, train_end_ns)`` reach past a crash window's start.

    Raises
    ------
    DataError
        When ``train_end_ns`` is after the crash window's start (the model saw the crash or what followed it).
    """
    if train_end_ns > window[0]:
        raise DataError(
            f"model {model!r} is refused: its training data ({iso(train_start_ns)} to {iso(train_end_ns)}) reach "
            f"past the start of crash window {crash!r} ({iso(window[0])} to {iso(window[1])}), which leaks the "
            "crash into training; train on data that end before the crash starts"
        )


def hawkes_truth(events: xr.Dataset, start_ns: int, end_ns: int) -> HawkesParams | None:
    """Return the true Hawkes process of ``events`` over ``[start_ns, end_ns)``, None when the events carry none
    or no one piece of it covers the whole span."""
    text = events.attrs.get(TRUTH_ATTR)
    if text is None:
        return None
    for piece in json.loads(text):
        if piece["start_ns"] <= start_ns and end_ns <= piece["end_ns"]:
            return HawkesParams.from_dict(piece["params"])
    return None


def regime_series(regime: Regime, window_s: float, threshold: float, *, params: HawkesParams | None = None):
    """Return the flow series of a regime on its own clock (seconds from ``start_ns``) and the index of the first
    window at or after the start: windows tile the span from the earliest whole window after the first event up to
    ``end_ns``, so windows before the start are the inputs' history."""
    window_ns = int(round(window_s * NS))
    ts = regime.events["ts_ns"].values
    history = max(int((regime.start_ns - int(ts[0])) // window_ns), 0)
    first_ns = regime.start_ns - history * window_ns
    n = int((regime.end_ns - regime.start_ns) // window_ns)
    if n < 1:
        raise DataError(
            f"regime {regime.name!r}: its window ({iso(regime.start_ns)} to {iso(regime.end_ns)}) holds no whole "
            f"forecast window of {window_s} s"
        )
    end_ns = regime.start_ns + n * window_ns
    trades = event_times(regime.events, "trades", start_ns=min(int(ts[0]), first_ns), end_ns=end_ns)
    shift = (regime.start_ns - trades.start_ns) / NS
    times = np.concatenate(trades.times_s) - shift
    dims = np.concatenate([np.full(t.size, j, np.int64) for j, t in enumerate(trades.times_s)])
    order = np.argsort(times, kind="stable")
    span = [((first_ns - regime.start_ns) / NS, n * window_s)]
    series = series_from_events(
        times[order], dims[order], span, bin_s=window_s, horizon_s=window_s, threshold=threshold, params=params,
        name=regime.name,
    )  # fmt: skip
    return series, history


def model_factories(lags: int, *, hawkes_paths: int = 200, network: object | None = None) -> dict[str, Callable]:
    """Return a factory of a fresh forecaster for every name in :data:`MODEL_NAMES` (the oracle is built per
    regime by :func:`forecaster_stress`)."""

    def fnn() -> Forecaster:
        from scenarios.forecast.neural import FeedForward  # torch only when the network is asked for

        return FeedForward(lags, network)

    return {
        "mean": TrainingMean,
        "persistence": Persistence,
        "ewma": EWMA,
        "ar": lambda: AutoRegressive(lags),
        "var": lambda: VectorAutoRegressive(lags),
        "logistic": lambda: Logistic(lags),
        "fnn": fnn,
        "hawkes": lambda: FittedHawkes(n_paths=hawkes_paths),
    }


def _checked_models(models: Sequence[str]) -> list[str]:
    names = list(models)
    unknown = [m for m in names if m not in MODEL_NAMES]
    if not names or unknown or len(set(names)) != len(names):
        raise ParameterError(
            f"`models` of forecaster_stress must be distinct names from {list(MODEL_NAMES)}; got {names}"
        )
    return names


def _normal_split(series: FlowSeries, first: int, train_fraction: float, lags: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0 < train_fraction < 1:
        raise ParameterError(f"`train_fraction` of forecaster_stress must be in (0, 1); got {train_fraction!r}")
    usable = np.flatnonzero(series.first_in_segment(lags) & (np.arange(series.size) >= first))
    train = usable[: int(usable.size * train_fraction)]
    test = usable[usable > (train[-1] if train.size else usable.size) + 1 + lags]
    if train.size < 30 or test.size < 10:
        raise DataError(
            f"the normal window has {usable.size} usable forecast windows of {series.window_s} s: too few for >= 30 "
            f"training and >= 10 test windows after an embargo of {1 + lags}; give it a longer window"
        )
    return train, test


def _mean_interval(values: np.ndarray) -> tuple[float, float, float]:
    if values.size == 0:
        return np.nan, np.nan, np.nan
    mean = float(values.mean())
    half = Z95 * np.sqrt(hac_variance(values) / values.size)
    return mean, mean - half, mean + half


def _hits(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    moving = actual != 0
    return (np.sign(forecast[moving]) == np.sign(actual[moving])).astype(float)


def regime_scores(actual: np.ndarray, forecast: np.ndarray, baseline: np.ndarray) -> dict[str, tuple[float, ...]]:
    """Return each of :data:`METRICS` as (value, lo, hi) with a 95 % Newey-West interval (see the module docstring;
    ``baseline`` is the training-mean forecast the skill is measured against)."""
    error2 = (actual - forecast) ** 2
    base2 = (actual - baseline) ** 2
    scale = float(base2.mean())
    if scale > 0:
        ratio = float(error2.mean()) / scale
        half = Z95 * np.sqrt(hac_variance((error2 - ratio * base2) / scale) / error2.size)
        skill = (1 - ratio, 1 - ratio - half, 1 - ratio + half)
    else:
        skill = (np.nan, np.nan, np.nan)
    return {
        "mse": _mean_interval(error2),
        "mae": _mean_interval(np.abs(actual - forecast)),
        "directional_accuracy": _mean_interval(_hits(actual, forecast)),
        "skill": skill,
    }


def two_sample(crash: np.ndarray, normal: np.ndarray) -> tuple[float, float]:
    """Return the z-statistic and two-sided p-value of mean(crash) - mean(normal) for two independent samples,
    each mean with its Newey-West variance."""
    if crash.size < 2 or normal.size < 2:
        return np.nan, np.nan
    variance = hac_variance(crash) / crash.size + hac_variance(normal) / normal.size
    if variance == 0:
        return 0.0, 1.0
    z = float((crash.mean() - normal.mean()) / np.sqrt(variance))
    return z, float(2 * stats.norm.sf(abs(z)))


def regime_tests(
    actual: np.ndarray, forecast: np.ndarray, baseline: np.ndarray, normal: tuple[np.ndarray, ...] | None
) -> dict[str, tuple[float, float]]:
    """Return each of :data:`TESTS` as (statistic, p-value); ``normal`` holds the normal regime's (actual,
    forecast, baseline) for the shift tests (None on the normal regime itself: NaN)."""
    out = {"dm_vs_baseline": (np.nan, np.nan)}
    if not np.array_equal(forecast, baseline):
        dm = diebold_mariano(actual - forecast, actual - baseline)
        out["dm_vs_baseline"] = (dm["dm"], dm["p_value"])
    if normal is None:
        return {**out, **{name: (np.nan, np.nan) for name in TESTS[1:]}}
    a, f, b = normal
    out["shift_mse"] = two_sample((actual - forecast) ** 2, (a - f) ** 2)
    differential = (actual - forecast) ** 2 - (actual - baseline) ** 2
    same = np.array_equal(forecast, baseline)  # the baseline itself has no differential
    out["shift_differential"] = (np.nan, np.nan) if same else two_sample(differential, (a - f) ** 2 - (a - b) ** 2)
    out["shift_direction"] = two_sample(_hits(actual, forecast), _hits(a, f))
    return out


def forecaster_stress(
    normal: Regime | Sequence,
    crashes: Mapping[str, Regime | Sequence],
    models: Sequence[str],
    seed: int,
    *,
    window_s: float = 1.0,
    train_fraction: float = 0.7,
    lags: int = 5,
    threshold: float = 0.1,
    hawkes_paths: int = 200,
    oracle_paths: int = 400,
    network: object | None = None,
) -> xr.Dataset:
    """Train the models on the normal window and score them on its test windows and on every crash window.

    Parameters
    ----------
    normal
        ``(events, books, (start_ns, end_ns))``: the normal data; the first ``train_fraction`` of its forecast
        windows train the models, the rest after an embargo of ``1 + lags`` windows is the normal test.
    crashes
        Name -> ``(events, books, (start_ns, end_ns))``: each crash's data and its window (ns since the epoch).
    models
        Names from :data:`MODEL_NAMES`; ``"oracle"`` scores only where the events carry their true process.
    seed
        Root seed, split by SeedSequence into one stream per model.
    window_s, train_fraction, lags, threshold
        Forecast window (s), training share, lags of the lagged models, OFI signal threshold.
    hawkes_paths, oracle_paths, network
        Monte Carlo paths of the fitted Hawkes model and the oracle; the network's
        :class:`~scenarios.forecast.neural.NetworkSettings` (None: the benchmark's).

    Returns
    -------
    xarray.Dataset
        ``score`` (model, regime, metric, bound) with bound (value, lo, hi) of :data:`METRICS`; ``tests`` (model,
        regime, test, stat) with stat (statistic, p_value) of :data:`TESTS`; ``n_windows`` (regime) and
        ``n_moving`` (regime, the windows with a non-zero OFI that directional accuracy counts); ``start_ns`` /
        ``end_ns`` per regime; the training span and provenance in the attributes.

    Raises
    ------
    DataError
        When a model's training data reach past a crash window's start (see :func:`check_training`), or a regime
        is too short.
    ParameterError
        For an unknown model, a window that does not fit its events, or settings out of range.
    """
    names = _checked_models(models)
    if not crashes:
        raise ParameterError("`crashes` of forecaster_stress must name at least one crash window")
    base = as_regime(NORMAL, normal)
    regimes = {n: as_regime(n, c) for n, c in crashes.items()}
    if NORMAL in regimes:
        raise ParameterError(f"`crashes` of forecaster_stress may not use the name {NORMAL!r} (the normal regime)")
    normal_series, first = regime_series(base, window_s, threshold, params=_truth(base))
    train, test = _normal_split(normal_series, first, train_fraction, lags)
    span = _train_span(base, normal_series, train, lags)
    for crash in regimes.values():
        for name in names:
            if name != "oracle":  # the oracle is not trained: it is the true process
                check_training(name, *span, crash.name, (crash.start_ns, crash.end_ns))
    scored = {NORMAL: _Scored(base, normal_series, test)}
    for name, crash in regimes.items():
        series, first = regime_series(crash, window_s, threshold, params=_truth(crash))
        if first < lags:
            raise DataError(
                f"crash {name!r}: its events start {first} forecast windows of {window_s} s before its window; the "
                f"models read {lags} earlier windows, so give events from >= {lags * window_s} s before the start"
            )
        scored[name] = _Scored(crash, series, np.arange(first, series.size))
    mean = float(normal_series.ofi[train].mean())
    factories = model_factories(lags, hawkes_paths=hawkes_paths, network=network)
    forecasts = {}
    for name, generator in zip(names, spawn(seed, len(names)), strict=True):
        if name == "oracle":
            forecasts[name] = _oracle(scored, oracle_paths, generator)
        else:
            model = factories[name]().fit(normal_series, train, generator)
            forecasts[name] = {r: model.predict(s.series, s.index).ofi for r, s in scored.items()}
    config = {
        "models": names, "window_s": window_s, "train_fraction": train_fraction, "lags": lags,
        "threshold": threshold, "hawkes_paths": hawkes_paths, "oracle_paths": oracle_paths,
        "network": None if network is None else repr(network),
        "regimes": {r: [s.regime.start_ns, s.regime.end_ns] for r, s in scored.items()},
    }  # fmt: skip
    ds = _dataset(scored, forecasts, mean)
    ds.attrs.update(provenance(seed=seed, config=config))
    ds.attrs.update(
        train_start_ns=span[0], train_end_ns=span[1], train_windows=int(train.size), baseline=BASELINE,
        training_mean_ofi=mean, window_s=float(window_s),
    )  # fmt: skip
    return ds


def _truth(regime: Regime) -> HawkesParams | None:
    return hawkes_truth(regime.events, regime.start_ns, regime.end_ns)


def _train_span(regime: Regime, series: FlowSeries, train: np.ndarray, lags: int) -> tuple[int, int]:
    """The training data: from the first training input window's start to the last training window's end (ns)."""
    start = regime.start_ns + int(round((series.start_s[train[0]] - lags * series.window_s) * NS))
    end = regime.start_ns + int(round((series.start_s[train[-1]] + series.window_s) * NS))
    return start, end


def _oracle(scored: dict[str, _Scored], paths: int, generator: np.random.Generator) -> dict[str, np.ndarray]:
    out = {}
    for (name, s), child in zip(scored.items(), spawn(int(generator.integers(2**62)), len(scored)), strict=True):
        if s.series.params is None:
            out[name] = np.full(s.index.size, np.nan)
        else:
            out[name] = Oracle(paths).fit(s.series, s.index, child).predict(s.series, s.index).ofi
    return out


def _dataset(scored: dict[str, _Scored], forecasts: dict[str, dict[str, np.ndarray]], mean: float) -> xr.Dataset:
    models, regimes = list(forecasts), list(scored)
    score = np.full((len(models), len(regimes), len(METRICS), 3), np.nan)
    test = np.full((len(models), len(regimes), len(TESTS), 2), np.nan)
    normal = scored[NORMAL].actual
    for i, model in enumerate(models):
        for j, regime in enumerate(regimes):
            actual, forecast = scored[regime].actual, forecasts[model][regime]
            if np.isnan(forecast).any():
                continue
            baseline = np.full(actual.size, mean)
            rows = regime_scores(actual, forecast, baseline)
            score[i, j] = [rows[m] for m in METRICS]
            reference = None
            if regime != NORMAL and not np.isnan(forecasts[model][NORMAL]).any():
                reference = (normal, forecasts[model][NORMAL], np.full(normal.size, mean))
            rows = regime_tests(actual, forecast, baseline, reference)
            test[i, j] = [rows[t] for t in TESTS]
    return xr.Dataset(
        {
            "score": (("model", "regime", "metric", "bound"), score),
            "tests": (("model", "regime", "test", "stat"), test),
            "n_windows": ("regime", np.array([scored[r].index.size for r in regimes], np.int64)),
            "n_moving": ("regime", np.array([np.count_nonzero(scored[r].actual) for r in regimes], np.int64)),
            "start_ns": ("regime", np.array([scored[r].regime.start_ns for r in regimes], np.int64)),
            "end_ns": ("regime", np.array([scored[r].regime.end_ns for r in regimes], np.int64)),
        },
        coords={
            "model": models, "regime": regimes, "metric": list(METRICS), "bound": ["value", "lo", "hi"],
            "test": list(TESTS), "stat": ["statistic", "p_value"],
        },
    )  # fmt: skip
