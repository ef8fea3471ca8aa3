"""Forecasters in a crash: the benchmark's models trained on a normal day, scored on normal windows and on crashes.

Every regime is a plain simlab events dataset (books optional) with a window ``[start_ns, end_ns)`` in ns since the
epoch, UTC. Two families of models, each fitted once on the first ``train_fraction`` of the normal window:

* the OFI models (:data:`MODEL_NAMES`) forecast the benchmark's target, the order-flow imbalance OFI = (buy -
  sell) / (buy + sell) of the market orders in the next window of ``window_s`` seconds
  (:mod:`scenarios.forecast.data`); their loss is the squared error, their baseline the training mean. The normal
  test windows start ``1 + lags`` windows after the last training window (the benchmark's embargo); a crash's test
  windows are its whole windows inside ``[start_ns, end_ns)``, and their inputs read the crash dataset's earlier
  windows (known at the origin). The oracle forecasts from the true process where an events dataset carries it
  (:data:`TRUTH_ATTR`, written by :func:`scenarios.stress.forecast_worlds.hawkes_world`), so the ceiling is known
  in a Hawkes world's crash too;
* the direction models (:mod:`scenarios.stress.forecast_tasks`: the deep LOB forecasters and their baselines)
  forecast the mid-price direction k events ahead from the books; their loss is the Brier score, their baseline
  the training class frequencies.

**Protocol guard**: times are absolute, so a model whose training data end after a crash window's start has seen
the crash, or what followed it (leakage); :func:`forecaster_stress` refuses it with one sentence naming the model
and the times, before anything is fitted. A simulated world therefore has to be placed on a clock after the
training data.

**Scores** per model and regime, each with a 95 % interval (Newey-West standard errors over the windows):
``loss`` (mean squared error or Brier score), ``mae`` of the point forecast, ``directional_accuracy`` (sign of the
point forecast = sign of the target, over windows where the target is not 0) and ``skill`` (1 - loss / baseline
loss; for the OFI models the benchmark's out-of-sample R^2; interval by the delta method).

**Tests** (the normal and crash windows are different samples, so the crash is never compared with the normal day
window by window):

* ``dm_vs_baseline``: within each regime, Diebold-Mariano (HLN) of the model's loss against the baseline's;
  negative: the model is more accurate than the baseline in that regime;
* ``shift_loss``: a two-sample z-test of the mean loss in the crash against the normal test windows (independent
  samples, each mean with its Newey-West variance); positive: the error rises in the crash;
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
METRICS = ("loss", "mae", "directional_accuracy", "skill")
TESTS = ("dm_vs_baseline", "shift_loss", "shift_differential", "shift_direction")
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


def regime_series(
    regime: Regime, window_s: float, threshold: float, *, params: HawkesParams | None = None
) -> tuple[FlowSeries, int]:
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


@dataclass(frozen=True)
class Outcome:
    """One model's forecasts of one regime's test windows (or origins): the actual values, the point forecasts
    (OFI, or the expected direction P(up) - P(down)), the loss per window and the baseline's loss per window."""

    actual: np.ndarray
    point: np.ndarray
    loss: np.ndarray
    base_loss: np.ndarray
    is_baseline: bool = False

    @property
    def hits(self) -> np.ndarray:
        """Directional hits (sign of the point forecast = sign of the actual value) where the actual is not 0."""
        moving = self.actual != 0
        return (np.sign(self.point[moving]) == np.sign(self.actual[moving])).astype(float)


def regime_scores(outcome: Outcome) -> dict[str, tuple[float, float, float]]:
    """Return each of :data:`METRICS` as (value, lo, hi) with a 95 % Newey-West interval; ``skill`` is
    1 - mean loss / mean baseline loss, its interval by the delta method."""
    loss, base = outcome.loss, outcome.base_loss
    scale = float(base.mean()) if base.size else 0.0
    skill = (np.nan, np.nan, np.nan)
    if scale > 0:
        ratio = float(loss.mean()) / scale
        half = Z95 * np.sqrt(hac_variance((loss - ratio * base) / scale) / loss.size)
        skill = (1 - ratio, 1 - ratio - half, 1 - ratio + half)
    return {
        "loss": _mean_interval(loss),
        "mae": _mean_interval(np.abs(outcome.actual - outcome.point)),
        "directional_accuracy": _mean_interval(outcome.hits),
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


def regime_tests(outcome: Outcome, normal: Outcome | None) -> dict[str, tuple[float, float]]:
    """Return each of :data:`TESTS` as (statistic, p-value); ``normal`` is the same model's outcome on the normal
    test windows (None on the normal regime itself, whose shift tests are NaN). The baseline has no test against
    itself."""
    nan = (np.nan, np.nan)
    out = {name: nan for name in TESTS}
    if not outcome.is_baseline:
        dm = diebold_mariano(np.sqrt(outcome.loss), np.sqrt(outcome.base_loss))  # d = loss - baseline loss
        out["dm_vs_baseline"] = (dm["dm"], dm["p_value"])
    if normal is None:
        return out
    out["shift_loss"] = two_sample(outcome.loss, normal.loss)
    if not outcome.is_baseline:
        out["shift_differential"] = two_sample(outcome.loss - outcome.base_loss, normal.loss - normal.base_loss)
    out["shift_direction"] = two_sample(outcome.hits, normal.hits)
    return out


@dataclass
class Plan:
    """One family of models prepared on the regimes: its target, loss, the training span (ns) and the runner
    ``run(name, generator) -> {regime: Outcome}``."""

    target: str
    loss: str
    names: list[str]
    span: tuple[int, int]
    train_size: int
    run: Callable[[str, np.random.Generator], dict[str, Outcome]]
    untrained: tuple[str, ...] = ()


def flow_plan(
    base: Regime,
    regimes: Mapping[str, Regime],
    names: list[str],
    *,
    window_s: float,
    train_fraction: float,
    lags: int,
    threshold: float,
    hawkes_paths: int,
    oracle_paths: int,
    network: object | None,
) -> Plan:
    """Prepare the OFI models (:data:`MODEL_NAMES`): the normal split and every regime's forecast windows."""
    normal_series, first = regime_series(base, window_s, threshold, params=_truth(base))
    train, test = _normal_split(normal_series, first, train_fraction, lags)
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

    def outcome(s: _Scored, point: np.ndarray, name: str) -> Outcome:
        actual = s.actual
        return Outcome(actual, point, (actual - point) ** 2, (actual - mean) ** 2, name == BASELINE)

    def run(name: str, generator: np.random.Generator) -> dict[str, Outcome]:
        if name == "oracle":
            points = _oracle(scored, oracle_paths, generator)
        else:
            model = factories[name]().fit(normal_series, train, generator)
            points = {r: model.predict(s.series, s.index).ofi for r, s in scored.items()}
        return {r: outcome(scored[r], points[r], name) for r in scored if points[r] is not None}

    span = _train_span(base, normal_series, train, lags)
    return Plan("ofi_next_window", "squared error", names, span, int(train.size), run, ("oracle",))


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
    direction: object | None = None,
) -> xr.Dataset:
    """Train the models on the normal window and score them on its test windows and on every crash window.

    Parameters
    ----------
    normal
        ``(events, books, (start_ns, end_ns))``: the normal data; the first ``train_fraction`` of its forecast
        windows (origins) train the models, the rest after an embargo (a purge) is the normal test.
    crashes
        Name -> ``(events, books, (start_ns, end_ns))``: each crash's data and its window (ns since the epoch).
    models
        Names from :data:`MODEL_NAMES` (OFI of the next window; ``"oracle"`` scores only where the events carry
        their true process) and from :data:`scenarios.stress.forecast_tasks.TASK_MODEL_NAMES` (mid-price direction
        k events ahead, from the books: every regime needs books with one row per event).
    seed
        Root seed, split by SeedSequence into one stream per model.
    window_s, train_fraction, lags, threshold
        Forecast window (s), training share, lags of the lagged models, OFI signal threshold.
    hawkes_paths, oracle_paths, network
        Monte Carlo paths of the fitted Hawkes model and the oracle; the network's
        :class:`~scenarios.forecast.neural.NetworkSettings` (None: the benchmark's).
    direction
        The direction task's settings (:class:`scenarios.stress.forecast_tasks.DirectionSettings`; None: defaults).

    Returns
    -------
    xarray.Dataset
        ``score`` (model, regime, metric, bound) with bound (value, lo, hi) of :data:`METRICS`; ``tests`` (model,
        regime, test, stat) with stat (statistic, p_value) of :data:`TESTS`; ``n_scored`` (model, regime) and
        ``n_moving`` (model, regime: the windows or origins with a non-zero target that directional accuracy
        counts); coordinates ``target``, ``loss_name``, ``train_start_ns``, ``train_end_ns`` per model and
        ``start_ns`` / ``end_ns`` per regime; provenance in the attributes.

    Raises
    ------
    DataError
        When a model's training data reach past a crash window's start (see :func:`check_training`), or a regime
        is too short.
    ParameterError
        For an unknown model, a window that does not fit its events, or settings out of range.
    """
    from scenarios.stress.forecast_tasks import TASK_MODEL_NAMES, DirectionSettings, direction_plan

    names = _checked_models(models, TASK_MODEL_NAMES)
    if isinstance(lags, bool) or not isinstance(lags, (int, np.integer)) or lags < 1:
        raise ParameterError(f"`lags` of forecaster_stress must be an int >= 1 window; got {lags!r}")
    if not crashes:
        raise ParameterError("`crashes` of forecaster_stress must name at least one crash window")
    base = as_regime(NORMAL, normal)
    regimes = {n: as_regime(n, c) for n, c in crashes.items()}
    if NORMAL in regimes:
        raise ParameterError(f"`crashes` of forecaster_stress may not use the name {NORMAL!r} (the normal regime)")
    plans = []
    flow = [n for n in names if n in MODEL_NAMES]
    if flow:
        options = {"window_s": window_s, "train_fraction": train_fraction, "lags": lags, "threshold": threshold}
        paths = {"hawkes_paths": hawkes_paths, "oracle_paths": oracle_paths, "network": network}
        plans.append(flow_plan(base, regimes, flow, **options, **paths))
    task = [n for n in names if n in TASK_MODEL_NAMES]
    direction = direction or DirectionSettings()
    if task:
        plans.append(direction_plan(base, regimes, task, direction, train_fraction=train_fraction))
    _guard(plans, base, regimes)
    generators = dict(zip(names, spawn(seed, len(names)), strict=True))
    outcomes, family = {}, {}
    for plan in plans:
        for name in plan.names:
            outcomes[name], family[name] = plan.run(name, generators[name]), plan
    config = {
        "models": names, "window_s": window_s, "train_fraction": train_fraction, "lags": lags,
        "threshold": threshold, "hawkes_paths": hawkes_paths, "oracle_paths": oracle_paths,
        "network": None if network is None else repr(network), "direction": repr(direction),
        "regimes": {r.name: [r.start_ns, r.end_ns] for r in (base, *regimes.values())},
    }  # fmt: skip
    ds = _dataset([base, *regimes.values()], {n: outcomes[n] for n in names}, {n: family[n] for n in names})
    ds.attrs.update(provenance(seed=seed, config=config))
    return ds


def _guard(plans: list[Plan], base: Regime, regimes: Mapping[str, Regime]) -> None:
    """Refuse leakage (training past a crash start) and a normal window that overlaps a crash, before any fit."""
    for plan in plans:
        for name in plan.names:
            for crash in regimes.values():
                if name not in plan.untrained:  # the oracle is not trained: it is the true process
                    check_training(name, *plan.span, crash.name, (crash.start_ns, crash.end_ns))
    for crash in regimes.values():
        if crash.start_ns < base.end_ns and base.start_ns < crash.end_ns:
            raise ParameterError(
                f"crash window {crash.name!r} ({iso(crash.start_ns)} to {iso(crash.end_ns)}) overlaps the normal "
                f"window ({iso(base.start_ns)} to {iso(base.end_ns)}) on the one clock; end the normal window "
                "before the crash"
            )


def _checked_models(models: Sequence[str], task_names: Sequence[str]) -> list[str]:
    names = list(models)
    valid = [*MODEL_NAMES, *task_names]
    unknown = [m for m in names if m not in valid]
    if not names or unknown or len(set(names)) != len(names):
        raise ParameterError(f"`models` of forecaster_stress must be distinct names from {valid}; got {names}")
    return names


def _truth(regime: Regime) -> HawkesParams | None:
    return hawkes_truth(regime.events, regime.start_ns, regime.end_ns)


def _train_span(regime: Regime, series: FlowSeries, train: np.ndarray, lags: int) -> tuple[int, int]:
    """The training data: from the first training input window's start to the last training window's end (ns)."""
    start = regime.start_ns + int(round((series.start_s[train[0]] - lags * series.window_s) * NS))
    end = regime.start_ns + int(round((series.start_s[train[-1]] + series.window_s) * NS))
    return start, end


def _oracle(scored: dict[str, _Scored], paths: int, generator: np.random.Generator) -> dict[str, np.ndarray | None]:
    out: dict[str, np.ndarray | None] = {}
    for (name, s), child in zip(scored.items(), spawn(int(generator.integers(2**62)), len(scored)), strict=True):
        if s.series.params is None:
            out[name] = None
        else:
            out[name] = Oracle(paths).fit(s.series, s.index, child).predict(s.series, s.index).ofi
    return out


def _dataset(regimes: list[Regime], outcomes: dict[str, dict[str, Outcome]], family: dict[str, Plan]) -> xr.Dataset:
    models, names = list(outcomes), [r.name for r in regimes]
    score = np.full((len(models), len(names), len(METRICS), 3), np.nan)
    test = np.full((len(models), len(names), len(TESTS), 2), np.nan)
    counts = np.zeros((2, len(models), len(names)), np.int64)
    for i, model in enumerate(models):
        normal = outcomes[model].get(NORMAL)
        for j, regime in enumerate(names):
            outcome = outcomes[model].get(regime)
            if outcome is None:
                continue
            rows = regime_scores(outcome)
            score[i, j] = [rows[m] for m in METRICS]
            rows = regime_tests(outcome, None if regime == NORMAL else normal)
            test[i, j] = [rows[t] for t in TESTS]
            counts[:, i, j] = outcome.actual.size, np.count_nonzero(outcome.actual)
    per_model = {
        "target": [family[m].target for m in models], "loss_name": [family[m].loss for m in models],
        "train_start_ns": [family[m].span[0] for m in models], "train_end_ns": [family[m].span[1] for m in models],
        "train_size": [family[m].train_size for m in models],
    }  # fmt: skip
    return xr.Dataset(
        {
            "score": (("model", "regime", "metric", "bound"), score),
            "tests": (("model", "regime", "test", "stat"), test),
            "n_scored": (("model", "regime"), counts[0]),
            "n_moving": (("model", "regime"), counts[1]),
        },
        coords={
            "model": models, "regime": names, "metric": list(METRICS), "bound": ["value", "lo", "hi"],
            "test": list(TESTS), "stat": ["statistic", "p_value"],
            **{k: ("model", np.asarray(v)) for k, v in per_model.items()},
            "start_ns": ("regime", np.array([r.start_ns for r in regimes], np.int64)),
            "end_ns": ("regime", np.array([r.end_ns for r in regimes], np.int64)),
        },
    )  # fmt: skip
