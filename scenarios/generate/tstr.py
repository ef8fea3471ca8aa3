"""Usefulness of generated flow: train a mid-price-direction predictor on it, test it on the real held-out span (TSTR).

The same forecaster (:class:`scenarios.forecast.task_protocol.FlowLogistic`: multinomial logistic regression on the
windowed order-flow imbalance and the level-1 book imbalance, the forecasting benchmark's reference) is fitted twice:
on every usable origin of the real training span (TRTR) and on every usable origin of a generated path (TSTR). Both
fits predict the direction of the mid over the next ``horizon_events`` events (up, flat within ``threshold_ticks``,
down; :class:`scenarios.forecast.tasks.Task`) at every usable origin of the real held-out span, and the ratio of the
accuracies TSTR / TRTR is the predictive score of TimeGAN and TRADES (the issue's goal: >= 0.9). The class
frequencies of the real training span (the prior) give the chance level. The training and test series are separate,
so no label reads across them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from scenarios.forecast.books import BookSeries, from_books
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import FlowLogistic, Prior, _scores, label_overlap, newey_west_lags, origins
from scenarios.forecast.tasks import Task
from simlab.book.stats import visible_events
from simlab.errors import DataError

MIN_ORIGINS = 50


def series_of(name: str, flow: dict[str, xr.Dataset], *, window_levels: int | None = None) -> BookSeries:
    """Return the book series of a flow (``events`` and ``books``), without a sampled path's initial orders.

    With ``window_levels`` (the real data are a level-N LOBSTER file, which records only the events that touch its
    first N levels), only the events such a file would record are kept, with their book rows
    (:func:`simlab.book.stats.visible_events`, as the scorecard filters synthetic flow), so that "50 events ahead"
    counts the same events in generated and real flow.
    """
    skip = max(int(flow["events"].attrs.get("initial_orders", 0)) - 1, 0)
    events, books = flow["events"].isel(event=slice(skip, None)), flow["books"].isel(time=slice(skip, None))
    if window_levels is not None:
        columns = (events[field].values for field in ("kind", "side", "price_ticks"))
        keep = np.flatnonzero(visible_events(*columns, books, int(window_levels)))
        events, books = events.isel(event=keep), books.isel(time=keep)
    return from_books(name, books, events)


def tstr_direction(
    real_train: BookSeries,
    real_test: BookSeries,
    generated: BookSeries,
    *,
    horizon_events: int = 50,
    threshold_ticks: float = 0.5,
    window: int = 20,
) -> dict[str, Any]:
    """Return the TRTR and TSTR accuracies of the direction forecaster on the real test series, and their ratio.

    Parameters
    ----------
    real_train, real_test, generated
        Book series (:func:`series_of`): the real training span, the real held-out span, a generated path.
    horizon_events, threshold_ticks
        The direction task (the forecasting library's AAPL settings by default).
    window
        Rows of order-flow imbalance summed at each origin.
    """
    task = Task("direction", horizon_events=horizon_events, threshold_ticks=threshold_ticks)
    data = {name: TaskData(s, task, window=window) for name, s in
            (("train", real_train), ("test", real_test), ("generated", generated))}  # fmt: skip
    rows = {name: origins(frame, 1, 1) for name, frame in data.items()}
    few = {name: int(r.size) for name, r in rows.items() if r.size < MIN_ORIGINS}
    if few:
        raise DataError(f"TSTR direction: usable origins {few}; need >= {MIN_ORIGINS} in each series")
    rng = np.random.default_rng(0)  # the forecasters draw nothing; the interface asks for a generator
    test_y = data["test"].y[rows["test"]]
    lags = newey_west_lags(test_y.size, label_overlap(data["test"], rows["test"]))  # overlapping labels widen the s.e.

    def accuracy(model, source: str) -> dict[str, float]:
        fitted = model.fit(data[source], rows[source], rng)
        row = _scores(test_y, fitted.predict(data["test"], rows["test"]), task.classes, lags)[0]
        return {"accuracy": row["accuracy"], "accuracy_se": row["accuracy_se"]}

    trtr, tstr = accuracy(FlowLogistic(), "train"), accuracy(FlowLogistic(), "generated")
    classes = {int(c): float(np.mean(data["generated"].y[rows["generated"]] == c)) for c in task.classes}
    return {
        "trtr": trtr, "tstr": tstr, "ratio": tstr["accuracy"] / trtr["accuracy"],
        "prior": accuracy(Prior(), "train"),
        "origins": {name: int(r.size) for name, r in rows.items()},
        "generated_class_shares": classes,
        "real_test_class_shares": {int(c): float(np.mean(test_y == c)) for c in task.classes},
    }  # fmt: skip
