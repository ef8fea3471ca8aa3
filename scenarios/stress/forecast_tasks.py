"""The book-task side of the forecaster stress test: mid-price direction k events ahead, from the books.

The deep LOB forecasters of the benchmark (:mod:`scenarios.forecast.deep`: DeepLOB-style, the event transformer)
and the task baselines (:mod:`scenarios.forecast.task_protocol`: order-flow logistic regression, the last known
label, the training class frequencies) are fitted once on the normal window's first ``train_fraction`` of origins,
purged of origins whose label reaches the first row a normal test input reads (the normaliser is refused beyond
it), and scored on the normal test origins and on every crash window's origins (an origin in the window whose
target row is in it too; its input rows may precede the window). The loss is the Brier score of the three-class
forecast (down / flat / up); the point forecast is P(up) - P(down), so directional accuracy is the share of origins
with a mid move whose sign it gets right; the baseline is ``prior``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scenarios.forecast.books import BookSeries, from_books
from scenarios.forecast.deep import PRESETS, DeepLOB, EventTransformer
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import FlowLogistic, LastLabel, Prior, origins
from scenarios.forecast.tasks import Task
from scenarios.stress.forecast import NORMAL, Outcome, Plan, Regime
from simlab.errors import DataError, ParameterError

TASK_MODEL_NAMES = ("prior", "last_label", "flow_logistic", "deeplob", "event_transformer")
TASK_BASELINE = "prior"


@dataclass(frozen=True)
class DirectionSettings:
    """The direction task: ``horizon_events`` ahead, a move beyond ``threshold_ticks`` is up or down; the deep
    models' size ``preset`` (``tiny``, ``cpu``, ``full``), their input rows ``window`` (None: the preset's),
    DeepLOB's book ``levels`` and every ``stride``-th origin."""

    horizon_events: int = 50
    threshold_ticks: float = 0.5
    preset: str = "cpu"
    window: int | None = None
    levels: int = 10
    stride: int = 1

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ParameterError(f"`preset` of DirectionSettings must be one of {list(PRESETS)}; got {self.preset!r}")
        if self.stride < 1 or self.levels < 1 or (self.window is not None and self.window < 1):
            raise ParameterError(
                f"`stride`, `levels` and `window` of DirectionSettings must be >= 1; got {self.stride}, "
                f"{self.levels}, {self.window}"
            )


def _deep(settings: DirectionSettings):
    deep = PRESETS[settings.preset]
    return deep if settings.window is None else dataclasses.replace(deep, window=settings.window)


def _factories(settings: DirectionSettings) -> dict:
    deep = _deep(settings)
    return {
        "prior": Prior,
        "last_label": LastLabel,
        "flow_logistic": FlowLogistic,
        "deeplob": lambda: DeepLOB(deep, levels=settings.levels),
        "event_transformer": lambda: EventTransformer(deep),
    }


def _book(regime: Regime, names: list[str]) -> BookSeries:
    if regime.books is None:
        raise DataError(f"regime {regime.name!r} has no books; models {names} forecast from the books")
    return from_books(regime.name, regime.books, regime.events)


def _window_origins(data: TaskData, regime: Regime, levels: int, stride: int) -> np.ndarray:
    """Origins at or after the regime's start whose target row lies before its end."""
    usable = origins(data, levels, stride)
    ts = data.book.ts_ns
    return usable[(ts[usable] >= regime.start_ns) & (ts[data.end[usable]] < regime.end_ns)]


def direction_plan(
    base: Regime, regimes: Mapping[str, Regime], names: list[str], settings: DirectionSettings, *, train_fraction: float
) -> Plan:
    """Prepare the direction models: the normal window's purged split and every regime's origins."""
    task = Task("direction", horizon_events=settings.horizon_events, threshold_ticks=settings.threshold_ticks)
    factories = _factories(settings)
    templates = {name: factories[name]() for name in names}
    window = max(_deep(settings).window, *(m.lags for m in templates.values()))  # rows an input reads
    levels = max(getattr(m, "levels", 1) for m in templates.values())
    normal = TaskData(_book(base, names), task, window)
    candidates = _window_origins(normal, base, levels, settings.stride)
    cut = int(candidates.size * train_fraction)
    test = candidates[cut:]
    if cut < 50 or test.size < 10:
        raise DataError(
            f"the normal window has {candidates.size} direction origins: too few for >= 50 training and >= 10 test "
            "origins; give it a longer window or a smaller stride"
        )
    normal.fit_limit = int(test[0] - window + 1)  # the first row a test input reads
    train = candidates[:cut][normal.end[candidates[:cut]] < normal.fit_limit]
    data = {NORMAL: (normal, test)}
    for name, crash in regimes.items():
        crash_data = TaskData(_book(crash, names), task, window)
        index = _window_origins(crash_data, crash, levels, settings.stride)
        if index.size < 2:
            raise DataError(f"crash {name!r} has {index.size} direction origins in its window; it needs >= 2")
        data[name] = (crash_data, index)
    classes = np.asarray(task.classes)
    prior = np.array([np.mean(normal.y[train] == c) for c in classes])

    def run(name: str, generator: np.random.Generator) -> dict[str, Outcome]:
        model = factories[name]().fit(normal, train, generator)
        out = {}
        for regime, (series, index) in data.items():
            forecast = model.predict(series, index)
            actual = series.y[index]
            onehot = (actual[:, None] == classes[None, :]).astype(float)
            brier = np.sum((forecast.probs - onehot) ** 2, axis=1)
            base_brier = np.sum((prior[None, :] - onehot) ** 2, axis=1)
            out[regime] = Outcome(actual, forecast.ofi, brier, base_brier, name == TASK_BASELINE)
        return out

    ts = normal.book.ts_ns
    span = (int(ts[train[0] - window + 1]), int(ts[normal.end[train[-1]]]) + 1)
    target = f"mid_direction_{settings.horizon_events}_events"
    return Plan(target, "brier score", names, span, int(train.size), run)
