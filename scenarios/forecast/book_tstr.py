"""Train on synthetic books, test on real ones (TSTR) against train real, test real (TRTR), and both mixed.

The real series is cut at row ``cut`` (``train_fraction`` of its rows); the test origins are the usable rows at or
after it (every ``stride``-th). :func:`compare_training_sources` fits every model three times and scores each fit
on the same real test origins:

* **TRTR**: the real origins whose label ends before the first test input (row ``cut - window + 1``);
* **TSTR**: every usable origin of the synthetic series (one or several paths, from any source:
  :mod:`scenarios.forecast.book_sources`);
* **mixed**: real and synthetic origins, a share ``mix_share`` of them synthetic: the most recent real origins and
  evenly spaced synthetic ones, as many as the model trains on (a deep model's ``max_train``) and the two pools
  allow at that share.

Several series are trained on as one :func:`joined` series whose origins never read, nor label, across a seam.
The ratio TSTR / TRTR of the accuracies (classes) or of the MSEs (regression) near 1 means that the synthetic book
teaches what the real one does; a Diebold-Mariano test (0-1 loss or squared error) compares each arm with TRTR.
:func:`train_synthetic_test_real_books` is the queue-reactive source: a ``QREstimator`` fitted on the rows before
the cut only, ``synthetic_s`` seconds simulated from a child seed (rebuild rows collapsed, :func:`collapse_rebuilds`).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import xarray as xr

from scenarios.forecast.books import BookSeries, from_books
from scenarios.forecast.forecasters import Forecaster
from scenarios.forecast.metrics import diebold_mariano
from scenarios.forecast.protocol import streams
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import _scores, label_overlap, newey_west_lags, origins
from scenarios.forecast.tasks import Task
from simlab.errors import DataError, ParameterError
from simlab.random import RandomLike
from simlab.schema import EventKind

_REBUILD = (EventKind.CLEAR, EventKind.SET_LEVEL)
_FIELDS = ("ts_ns", "bid_price", "bid_qty", "ask_price", "ask_qty", "kind", "side", "price", "qty")


def collapse_rebuilds(book: BookSeries) -> BookSeries:
    """Return the series without the transient rows of a book rebuild: a simulated price move empties a first
    queue, then writes CLEAR and one SET_LEVEL per queue, all at one time; every row followed by a rebuild row at
    the same time is dropped, so only the rebuilt book is kept (the emptying event's token goes with it)."""
    nxt = np.r_[np.arange(1, book.size), book.size - 1]
    transient = np.isin(book.kind[nxt], _REBUILD) & (book.ts_ns[nxt] == book.ts_ns)
    transient[-1] = False
    keep = np.flatnonzero(~transient)
    return BookSeries(book.name, *(getattr(book, f)[keep] for f in _FIELDS))


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


def joined(parts: list[BookSeries], task: Task, window: int, name: str = "joined") -> TaskData:
    """Return the task data of ``parts`` laid end to end (each part's clock shifted to start 1 s after the previous
    part's last row; books cut to the shallowest part's levels); an origin is valid only when its whole input
    window, the row before it (whose book the OFI differences) and its target row lie in its own part."""
    fields = ("bid_price", "bid_qty", "ask_price", "ask_qty", "kind", "side", "price", "qty")
    shifted, clock = [], 0
    for part in parts:
        shifted.append(part.ts_ns - part.ts_ns[0] + clock)
        clock = int(shifted[-1][-1]) + 10**9
    depth = min(p.levels for p in parts)  # e.g. a generator's 50-level sample beside a 10-level replay
    columns = [np.concatenate([getattr(p, f)[:, :depth] for p in parts]) for f in fields[:4]]
    columns += [np.concatenate([getattr(p, f) for p in parts]) for f in fields[4:]]
    series = BookSeries(name, np.concatenate(shifted), *columns)
    data = TaskData(series, task, window=window)
    stops = np.cumsum([p.size for p in parts])
    starts = stops - np.array([p.size for p in parts])
    part = np.searchsorted(stops, np.arange(series.size), side="right")
    rows = np.arange(series.size)
    data.valid = data.valid & (rows >= starts[part] + window) & (data.end < stops[part])
    return data


def _mixed_origins(real: np.ndarray, fake: np.ndarray, share: float, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (real, synthetic) training origins, a share ``share`` synthetic, at most ``budget`` in all."""
    n_real = min(real.size, int(fake.size * (1 - share) / share))
    total = min(int(round(n_real / (1 - share))), budget)
    n_fake = int(round(total * share))
    n_real = total - n_fake
    pick = np.unique(np.linspace(0, fake.size - 1, n_fake).round().astype(int)) if n_fake else np.zeros(0, int)
    return real[real.size - n_real :], fake[pick]


def compare_training_sources(
    data: TaskData,
    synthetic: list[BookSeries],
    models: list[Forecaster],
    *,
    rng: RandomLike,
    train_fraction: float = 0.6,
    mix_share: float = 0.5,
    stride: int = 1,
) -> dict[str, Any]:
    """Return ``rows`` (per model: each arm's score and standard error, the TSTR / TRTR ratio, DM tests of TSTR and
    mixed against TRTR, the mixed arm's origins), ``test_origins`` and ``synthetic_rows`` (module docstring)."""
    if not 0 < mix_share < 1 or not 0 < train_fraction < 1 or not synthetic:
        raise ParameterError(
            f"book TSTR needs train_fraction and mix_share in (0, 1) and >= 1 synthetic series; got {train_fraction}, "
            f"{mix_share}, {len(synthetic)} series"
        )
    cut, w = int(data.book.size * train_fraction), data.window
    need = max(getattr(m, "levels", 1) for m in models)
    test = origins(data, need, 1)
    test = test[test >= cut][::stride]
    real_part = BookSeries(data.name, *(getattr(data.book, f)[: cut - w + 1] for f in _FIELDS))
    arms = {"trtr": joined([real_part], data.task, w, f"{data.name}:train"),
            "tstr": joined(synthetic, data.task, w, "synthetic"),
            "mixed": joined([*synthetic, real_part], data.task, w, "mixed")}  # fmt: skip
    train = {arm: origins(arms[arm], need, 1) for arm in ("trtr", "tstr")}
    if min(test.size, train["trtr"].size, train["tstr"].size) < 50:
        raise DataError(f"book TSTR on {data.name!r}: {train['trtr'].size} real training, {test.size} test and "
                        f"{train['tstr'].size} synthetic origins; need >= 50 each")  # fmt: skip
    key = "accuracy" if data.task.classes is not None else "mse"
    lags = newey_west_lags(test.size, label_overlap(data, test))
    streams_ = streams(rng, 3 * len(models))
    rows = []
    for k, template in enumerate(models):
        budget = getattr(getattr(template, "settings", None), "max_train", None) or 10**12
        mixed_real, mixed_fake = _mixed_origins(train["trtr"], train["tstr"], mix_share, budget)
        train["mixed"] = np.r_[mixed_fake, mixed_real + sum(p.size for p in synthetic)]
        row: dict[str, Any] = {"model": template.name, "metric": key, "mixed_real": int(mixed_real.size),
                               "mixed_synthetic": int(mixed_fake.size)}  # fmt: skip
        losses = {}
        for a, arm in enumerate(("trtr", "tstr", "mixed")):
            model = copy.deepcopy(template).fit(arms[arm], train[arm], streams_[3 * k + a])
            scores, loss = _scores(data.y[test], model.predict(data, test), data.task.classes, lags)
            row[arm], row[f"{arm}_se"] = scores[key], scores[f"{key}_se"]
            losses[arm] = loss["zero_one" if key == "accuracy" else "se"]
        for arm in ("tstr", "mixed"):
            dm = diebold_mariano(np.sqrt(losses[arm]), np.sqrt(losses["trtr"]), bandwidth=lags)
            row[f"dm_{arm}_vs_trtr"], row[f"dm_p_{arm}_vs_trtr"] = dm["dm"], dm["p_value"]
        row["ratio"] = row["tstr"] / row["trtr"]
        rows.append(row)
    return {"rows": rows, "test_origins": int(test.size), "synthetic_rows": int(sum(p.size for p in synthetic))}


def train_synthetic_test_real_books(
    data: TaskData,
    models: list[Forecaster],
    *,
    rng: RandomLike,
    train_fraction: float = 0.6,
    synthetic_s: float = 1800.0,
    levels: int = 1,
    n_max: int = 30,
    mix_share: float = 0.5,
    stride: int = 1,
) -> dict[str, Any]:
    """Return :func:`compare_training_sources` with a queue-reactive book fitted on the rows before the cut as the
    synthetic source, and the QR fit's ``unmodelled_events``."""
    from calibration.queue_reactive import QREstimator
    from simlab.book.queue_reactive import simulate_qr

    cut = int(data.book.size * train_fraction)
    estimator = QREstimator(levels=levels, n_max=n_max).fit(*book_datasets(data.book, cut))
    fit_stream, compare_stream = streams(rng, 2)
    bid = data.book.bid_price[cut - 1, 0]
    sim = simulate_qr(estimator.params_, synthetic_s, rng=fit_stream, initial_bid_ticks=int(bid))
    simulated = collapse_rebuilds(from_books("synthetic", sim["books"], sim["events"]))
    out = compare_training_sources(
        data, [simulated], models, rng=compare_stream, train_fraction=train_fraction, mix_share=mix_share,
        stride=stride,
    )  # fmt: skip
    return {**out, "unmodelled_events": estimator.unmodelled_events_}
