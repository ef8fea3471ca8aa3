"""Walk-forward for book tasks: purged splits of forecast origins, the baselines, and scores with intervals.

Origins are every ``stride``-th row with a defined label and ``window - 1`` earlier rows whose books hold the levels
the models need. The first ``initial_fraction`` of them is the first training block; the rest is cut into
``n_folds`` consecutive test blocks. Fold f trains on the earlier origins whose *target row* lies before the first
row any test input of the block reads (a purge: no training label overlaps a test input, and no normaliser sees one)
and tests on the block. A horizon reaching further than a test block is refused.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

from scenarios.forecast.forecasters import Forecaster, Prediction, Standardizer, least_squares
from scenarios.forecast.metrics import classification_scores, diebold_mariano, hac_variance
from scenarios.forecast.protocol import Split, streams
from scenarios.forecast.task_data import TaskData, prediction
from scenarios.forecast.tasks import walk_book_rows
from simlab.errors import DataError, ParameterError
from simlab.random import RandomLike


def origins(data: TaskData, levels: int, stride: int) -> np.ndarray:
    """Return the usable origin rows (see the module docstring)."""
    if stride < 1:
        raise ParameterError(f"`stride` of the task protocol must be >= 1 row; got {stride}")
    full = data.book.full_rows(levels)
    gaps = np.cumsum(~full)
    w = data.window
    whole = np.zeros(data.book.size, bool)
    whole[w - 1 :] = gaps[w - 1 :] - np.r_[0, gaps[:-w]] == 0
    return np.flatnonzero(whole & data.valid)[::stride]


def task_splits(data: TaskData, usable: np.ndarray, *, n_folds: int = 5, initial_fraction: float = 0.5) -> list[Split]:
    """Return the purged walk-forward splits of ``usable`` origins (see the module docstring)."""
    if n_folds < 2 or not 0 < initial_fraction < 1:
        raise ParameterError(
            f"task splits need n_folds >= 2 and initial_fraction in (0, 1); got {n_folds}, {initial_fraction}"
        )
    first = int(usable.size * initial_fraction)
    block = (usable.size - first) // n_folds
    if block < 10 or first < 50:
        raise DataError(f"series {data.name!r}: {usable.size} origins are too few for {n_folds} test blocks of >= 10")
    splits = []
    for f in range(n_folds):
        test = usable[first + f * block : first + (f + 1) * block]
        span = int(test[-1] - test[0])
        reach = int(np.max(data.end[test] - test))
        if reach > span:
            raise ParameterError(
                f"the horizon of task {data.task.name!r} reaches {reach} rows ahead, longer than the test span of "
                f"fold {f} ({span} rows of series {data.name!r}); shorten the horizon or use fewer folds"
            )
        start = test[0] - data.window + 1
        train = usable[(usable < test[0]) & (data.end[usable] < start)]
        splits.append(Split(f, train, test))
    return splits


class Prior(Forecaster):
    """The training block's class frequencies (classification) or mean (regression): the chance level."""

    name = "prior"

    def fit(self, series: TaskData, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        y, classes = series.y[train], series.task.classes
        self.value_ = y.mean() if classes is None else np.array([np.mean(y == c) for c in classes])
        return self

    def predict(self, series: TaskData, index: np.ndarray) -> Prediction:
        shape = (len(index),) if series.task.classes is None else (len(index), len(self.value_))
        return prediction(series.task, np.broadcast_to(self.value_, shape).copy())


class LastLabel(Forecaster):
    """Persistence: the last label known at the origin (one-hot for a class), the prior when none is known yet."""

    name = "last_label"

    def fit(self, series: TaskData, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        self.prior_ = Prior().fit(series, train, rng)
        return self

    def predict(self, series: TaskData, index: np.ndarray) -> Prediction:
        known = series.known_label(np.asarray(index))
        base = self.prior_.predict(series, index)
        if series.task.classes is None:
            return prediction(series.task, np.where(np.isnan(known), base.ofi, known))
        onehot = (known[:, None] == np.asarray(series.task.classes)[None, :]).astype(float)
        return prediction(series.task, np.where(np.isnan(known)[:, None], base.probs, onehot))


class FlowLogistic(Forecaster):
    """Multinomial logistic regression (classification) or least squares (regression) on the CKS OFI over the
    window and the level-1 book imbalance at the origin, standardised on the training origins, L2 ``penalty``."""

    name = "flow_logistic"

    def __init__(self, penalty: float = 1e-3) -> None:
        self.penalty = penalty

    def fit(self, series: TaskData, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        rows = series.flow[train]
        self.scale_ = Standardizer(rows)
        x = np.column_stack([np.ones(len(train)), self.scale_(rows)])
        if series.task.classes is None:
            self.weights_ = least_squares(x[:, 1:], series.y[train])
            return self
        onehot = (series.y[train][:, None] == np.asarray(series.task.classes)[None, :]).astype(float)
        k = onehot.shape[1]

        def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
            w = flat.reshape(x.shape[1], k)
            logits = x @ w
            logp = logits - logits.max(axis=1, keepdims=True)
            logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
            grad = x.T @ (np.exp(logp) - onehot) / len(x)
            grad[1:] += self.penalty * w[1:]
            return float(
                -np.mean(np.sum(onehot * logp, axis=1)) + 0.5 * self.penalty * np.sum(w[1:] ** 2)
            ), grad.ravel()

        self.weights_ = minimize(loss, np.zeros(x.shape[1] * k), jac=True, method="L-BFGS-B").x.reshape(x.shape[1], k)
        return self

    def predict(self, series: TaskData, index: np.ndarray) -> Prediction:
        x = self.scale_(series.flow[index])
        if series.task.classes is None:
            return prediction(series.task, self.weights_[0] + x @ self.weights_[1:])
        logits = self.weights_[0] + x @ self.weights_[1:]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return prediction(series.task, p / p.sum(axis=1, keepdims=True))


class BookNow(Forecaster):
    """Persistence for ``slippage``: the slippage of the order walked through the book at the origin itself (the
    label walks the book at the target row). Where the origin's visible book cannot hold the order, the training
    mean is forecast instead; ``unfilled_`` counts those origins of the last prediction."""

    name = "book_now"

    def fit(self, series: TaskData, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        if series.task.name != "slippage":
            raise ParameterError(f"model 'book_now' forecasts task 'slippage' only; got task {series.task.name!r}")
        self.mean_ = float(series.y[train].mean())
        return self

    def predict(self, series: TaskData, index: np.ndarray) -> Prediction:
        task = series.task
        excess, filled = walk_book_rows(series.book, task.size, task.side)
        index = np.asarray(index)
        self.unfilled_ = int(np.sum(~filled[index]))
        return prediction(task, np.where(filled[index], excess[index] / task.size, self.mean_))


class HAR(Forecaster):
    """HAR-RV (Corsi 2009) for ``realised_vol``: least squares of the next window's realised volatility on the
    realised volatility over the last 1, 5 and 22 horizons before the origin."""

    name = "har"
    scales = (1, 5, 22)

    def _features(self, series: TaskData, index: np.ndarray) -> np.ndarray:
        if series.task.name != "realised_vol":
            raise ParameterError(f"model 'har' forecasts task 'realised_vol' only; got task {series.task.name!r}")
        mid2 = series.book.mid2().astype(float)
        r2 = np.r_[0.0, np.diff(np.log(np.where(mid2 > 0, mid2, 1.0))) ** 2]
        c, ts, task = np.cumsum(r2), series.book.ts_ns, series.task
        cols = []
        for m in self.scales:
            if task.horizon_events is not None:
                start = np.maximum(index - m * task.horizon_events, 0)
            else:
                start = np.searchsorted(ts, ts[index] - int(m * task.horizon_s * 1e9), side="left")
            cols.append(1e4 * np.sqrt(np.maximum(c[index] - c[start], 0.0) / m))
        return np.column_stack(cols)

    def fit(self, series: TaskData, train: np.ndarray, rng: np.random.Generator) -> Forecaster:
        self.coef_ = least_squares(self._features(series, train), series.y[train])
        return self

    def predict(self, series: TaskData, index: np.ndarray) -> Prediction:
        x = self._features(series, np.asarray(index))
        return prediction(series.task, self.coef_[0] + x @ self.coef_[1:])


@dataclass
class TaskResult:
    """Test forecasts of every model over the folds of one task run."""

    series: str
    task: dict[str, Any]
    index: np.ndarray
    fold: np.ndarray
    actual: np.ndarray
    predictions: dict[str, Prediction] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    splits: list[Split] = field(default_factory=list)
    overlap: int = 0

    @property
    def bandwidth(self) -> int:
        """Newey-West lags of the standard errors and DM tests: the default floor(4 (n/100)^(2/9)), or ``overlap``
        (how many later test origins a test label overlaps, 90th percentile) when that is larger."""
        return newey_west_lags(self.actual.size, self.overlap)

    def scores(self, classes: tuple[int, ...] | None, reference: str) -> dict[str, dict[str, Any]]:
        """Return each model's scores with standard errors, and Diebold-Mariano tests against ``reference``
        (0-1 loss and Brier score for a classification task, squared error for a regression task), all with the
        Newey-West lags of :attr:`bandwidth`, so overlapping labels widen the intervals."""
        out, losses = {}, {}
        for name, pred in self.predictions.items():
            row, losses[name] = _scores(self.actual, pred, classes, self.bandwidth)
            row["seconds"] = self.seconds[name]
            out[name] = row
        for name in out:
            if name == reference or reference not in out:
                continue
            for key, loss in losses[name].items():
                dm = diebold_mariano(np.sqrt(loss), np.sqrt(losses[reference][key]), bandwidth=self.bandwidth)
                out[name][f"dm_{key}_vs_{reference}"], out[name][f"dm_p_{key}_vs_{reference}"] = dm["dm"], dm["p_value"]
        return out


def _scores(actual: np.ndarray, pred: Prediction, classes, lags: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if classes is None:
        error = actual - pred.ofi
        se = float(np.sqrt(hac_variance(error**2, lags) / error.size))
        row = {"mse": float(np.mean(error**2)), "mse_se": se, "mae": float(np.mean(np.abs(error)))}
        return row, {"se": error**2}
    hit = (predicted_class_of(pred, classes) == actual).astype(float)
    onehot = (actual[:, None] == np.asarray(classes)[None, :]).astype(float)
    brier = np.sum((pred.probs - onehot) ** 2, axis=1)
    predicted = predicted_class_of(pred, classes)
    row = classification_scores(actual, predicted)
    if tuple(classes) != (-1, 0, 1):  # a binary task: macro-F1 over its own classes, no SELL / HOLD / BUY keys
        row = {k: v for k, v in row.items() if not k.startswith(("precision_", "recall_"))}
        row["macro_f1"] = macro_f1(actual, predicted, classes)
    row["accuracy_se"] = float(np.sqrt(hac_variance(hit, lags) / hit.size))
    row["brier"], row["brier_se"] = float(brier.mean()), float(np.sqrt(hac_variance(brier, lags) / brier.size))
    return row, {"zero_one": 1.0 - hit, "brier": brier}


def macro_f1(actual: np.ndarray, predicted: np.ndarray, classes) -> float:
    """Return the mean F1 over ``classes`` (0 for a class never predicted or never present)."""
    scores = []
    for c in classes:
        tp = np.sum((actual == c) & (predicted == c))
        denominator = np.sum(actual == c) + np.sum(predicted == c)
        scores.append(2 * tp / denominator if denominator else 0.0)
    return float(np.mean(scores))


def predicted_class_of(pred: Prediction, classes) -> np.ndarray:
    """Return the most probable class of each forecast."""
    return np.asarray(classes)[np.argmax(pred.probs, axis=1)]


def newey_west_lags(n: int, overlap: int) -> int:
    """Return the Newey-West lags for ``n`` test origins whose labels overlap ``overlap`` later ones: the larger of
    floor(4 (n/100)^(2/9)) and ``overlap``."""
    return max(int(np.floor(4 * (n / 100) ** (2 / 9))), int(overlap))


def label_overlap(data: TaskData, index: np.ndarray) -> int:
    """Return the 90th percentile over the test origins ``index`` of how many later test origins lie at or before
    the origin's target row (their labels share rows with its label, so their losses are dependent)."""
    later = np.searchsorted(index, data.end[index], side="right") - np.arange(1, index.size + 1)
    return int(np.ceil(np.percentile(np.maximum(later, 0), 90))) if index.size else 0


def run_task_protocol(
    data: TaskData,
    models: list[Forecaster],
    *,
    rng: RandomLike,
    n_folds: int = 5,
    initial_fraction: float = 0.5,
    stride: int = 1,
    progress: Any = None,
) -> TaskResult:
    """Fit a fresh copy of every model on each fold's training origins and forecast its test origins; the fold's
    data carry ``fit_limit`` (the first row a test input reads) so no normaliser can read the test span."""
    names = [m.name for m in models]
    if len(set(names)) != len(names) or not names:
        raise ParameterError(f"`models` of the task protocol must have distinct names; got {names}")
    for model in models:
        data.book.need_levels(getattr(model, "levels", 1), f"model {model.name!r}")
        if model.lags > data.window:
            raise ParameterError(
                f"model {model.name!r} reads {model.lags} rows before each origin; the task data's `window` is "
                f"{data.window}, which the purge uses: build the data with window >= {model.lags}"
            )
    usable = origins(data, max(getattr(m, "levels", 1) for m in models), stride)
    splits = task_splits(data, usable, n_folds=n_folds, initial_fraction=initial_fraction)
    index = np.concatenate([s.test for s in splits])
    result = TaskResult(
        data.name, {"name": data.task.name, **{k: v for k, v in vars(data.task).items() if k != "name"}}, index,
        np.concatenate([np.full(s.test.size, s.fold) for s in splits]), data.y[index], splits=splits,
        overlap=label_overlap(data, index),
    )  # fmt: skip
    generators = streams(rng, len(models) * len(splits))
    for m, template in enumerate(models):
        started, parts = time.perf_counter(), []
        for split, generator in zip(splits, generators[m * len(splits) : (m + 1) * len(splits)], strict=True):
            fold_data = copy.copy(data)  # shares the labels and cached inputs
            fold_data.fit_limit = int(split.test[0] - data.window + 1)
            model = copy.deepcopy(template).fit(fold_data, split.train, generator)
            parts.append(model.predict(fold_data, split.test))
            if progress is not None:
                progress(template.name, split.fold)
        probs = None if parts[0].probs is None else np.concatenate([p.probs for p in parts])
        counts = None if parts[0].counts is None else np.concatenate([p.counts for p in parts])
        result.predictions[template.name] = Prediction(np.concatenate([p.ofi for p in parts]), probs, counts)
        result.seconds[template.name] = round(time.perf_counter() - started, 3)
    return result
