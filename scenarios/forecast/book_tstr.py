"""Train on synthetic books, test on real ones (TSTR) against train real, test real (TRTR), for the book tasks.

The real series is cut at row ``cut`` (``train_fraction`` of its rows). A queue-reactive model
(:class:`calibration.queue_reactive.QREstimator`, ``levels`` queues per side) is fitted on the rows before the cut
only, and ``synthetic_s`` seconds of it are simulated from a child seed (its book rebuilds collapsed to the
rebuilt book, :func:`collapse_rebuilds`). Every model is then fitted twice: on the
real origins whose label ends before the first test input (TRTR), and on every usable synthetic origin (TSTR).
Both fits are scored on the same real test origins after the cut. The ratio TSTR / TRTR of the accuracies (classes)
or of the MSEs (regression) near 1 means that the synthetic book teaches what the real one does.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import xarray as xr

from scenarios.forecast.books import BookSeries, from_books
from scenarios.forecast.forecasters import Forecaster
from scenarios.forecast.protocol import streams
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import _scores, origins
from simlab.errors import DataError
from simlab.random import RandomLike
from simlab.schema import EventKind

_REBUILD = (EventKind.CLEAR, EventKind.SET_LEVEL)


def collapse_rebuilds(book: BookSeries) -> BookSeries:
    """Return the series without the transient rows of a book rebuild: a simulated price move empties a first
    queue, then writes CLEAR and one SET_LEVEL per queue, all at one time; every row followed by a rebuild row at
    the same time is dropped, so only the rebuilt book is kept (the emptying event's token goes with it)."""
    nxt = np.r_[np.arange(1, book.size), book.size - 1]
    transient = np.isin(book.kind[nxt], _REBUILD) & (book.ts_ns[nxt] == book.ts_ns)
    transient[-1] = False
    keep = np.flatnonzero(~transient)
    fields = ("ts_ns", "bid_price", "bid_qty", "ask_price", "ask_qty", "kind", "side", "price", "qty")
    return BookSeries(book.name, *(getattr(book, f)[keep] for f in fields))


def book_datasets(book: BookSeries, stop: int, tick_size: float = 0.01) -> tuple[xr.Dataset, xr.Dataset]:
    """Return the events and books Datasets of rows ``0 .. stop - 1`` of a book series (for the QR estimator)."""
    rows = slice(0, stop)
    coords = {"ts_ns": ("event", book.ts_ns[rows])}
    attrs = {"tick_size": tick_size, "lot_size": 1.0, "instrument": book.name, "venue": "book-series"}
    fields = {"kind": book.kind, "side": book.side, "price_ticks": book.price, "qty_lots": book.qty}
    events = xr.Dataset({k: ("event", v[rows]) for k, v in fields.items()}, coords=coords, attrs=attrs)
    names = ("bid_price", "bid_qty", "ask_price", "ask_qty")
    books = xr.Dataset(
        {k: (("time", "level"), getattr(book, k)[rows]) for k in names}, coords={"ts_ns": ("time", book.ts_ns[rows])}
    )
    return events, books


def train_synthetic_test_real_books(
    data: TaskData,
    models: list[Forecaster],
    *,
    rng: RandomLike,
    train_fraction: float = 0.6,
    synthetic_s: float = 1800.0,
    levels: int = 1,
    n_max: int = 30,
) -> dict[str, Any]:
    """Return ``rows`` (per model: TRTR and TSTR scores and their ratio), ``test_origins``, the QR fit's
    ``unmodelled_events`` and ``synthetic_rows`` (see the module docstring)."""
    from calibration.queue_reactive import QREstimator
    from simlab.book.queue_reactive import simulate_qr

    cut = int(data.book.size * train_fraction)
    estimator = QREstimator(levels=levels, n_max=n_max).fit(*book_datasets(data.book, cut))
    fit_stream, *model_streams = streams(rng, 1 + 2 * len(models))
    bid = data.book.bid_price[cut - 1, 0]
    sim = simulate_qr(estimator.params_, synthetic_s, rng=fit_stream, initial_bid_ticks=int(bid))
    simulated = collapse_rebuilds(from_books("synthetic", sim["books"], sim["events"]))
    synthetic = TaskData(simulated, data.task, window=data.window)
    need = max(getattr(m, "levels", 1) for m in models)
    usable = origins(data, need, 1)
    test = usable[usable >= cut]
    train = usable[(usable < cut) & (data.end[usable] < cut - data.window + 1)]
    fake = origins(synthetic, need, 1)
    if min(test.size, train.size, fake.size) < 50:
        raise DataError(f"book TSTR on {data.name!r}: {train.size} real training, {test.size} test and {fake.size} "
                        "synthetic origins; need >= 50 each")  # fmt: skip
    real = copy.copy(data)
    real.fit_limit = int(cut - data.window + 1)
    rows = []
    for k, template in enumerate(models):
        scores = {}
        for mode, source, origins_, stream in (
            ("trtr", real, train, model_streams[2 * k]),
            ("tstr", synthetic, fake, model_streams[2 * k + 1]),
        ):
            model = copy.deepcopy(template).fit(source, origins_, stream)
            scores[mode] = _scores(data.y[test], model.predict(real, test), data.task.classes)[0]
        key = "accuracy" if data.task.classes is not None else "mse"
        rows.append({"model": template.name, "metric": key, "trtr": scores["trtr"][key], "tstr": scores["tstr"][key],
                     "trtr_se": scores["trtr"][f"{key}_se"], "tstr_se": scores["tstr"][f"{key}_se"],
                     "ratio": scores["tstr"][key] / scores["trtr"][key]})  # fmt: skip
    return {"rows": rows, "test_origins": int(test.size), "unmodelled_events": estimator.unmodelled_events_,
            "synthetic_rows": synthetic.book.size}  # fmt: skip
