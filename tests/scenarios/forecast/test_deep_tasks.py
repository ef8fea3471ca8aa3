"""Task labels against slow twins, no look-ahead in the inputs, exact slippage and safe sizes on known books."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from scenarios.forecast.books import (
    BookSeries,
    Normaliser,
    book_tensor,
    event_tokens,
    flow_features,
    lobster_series,
    windows,
)
from scenarios.forecast.planted import planted_book
from scenarios.forecast.tasks import Task, safe_size, walk_book
from simlab.errors import DataError, ParameterError
from simlab.schema import NO_PRICE


@pytest.fixture(scope="module")
def book():
    series, _ = planted_book(400, levels=5, signal=0.5, rng=np.random.default_rng(3))
    gaps = np.random.default_rng(4).exponential(2e8, size=series.size).astype(np.int64)
    return replace(series, ts_ns=np.cumsum(gaps) + 10**9)


def _slow_labels(series: BookSeries, task: Task):
    """A row-by-row twin of Task.labels written from the definitions, sharing no code with it."""
    n = series.size
    mids = [(series.bid_price[t, 0] + series.ask_price[t, 0]) / 2 for t in range(n)]
    out, valid = np.zeros(n), np.zeros(n, bool)
    for t in range(n):
        if task.horizon_events is not None:
            e = t + task.horizon_events
            if e >= n:
                continue
        else:
            limit = series.ts_ns[t] + task.horizon_s * 1e9
            if limit > series.ts_ns[-1]:
                continue
            e = max(s for s in range(t, n) if series.ts_ns[s] <= limit)
        valid[t] = True
        path = mids[t : e + 1]
        if task.name == "direction":
            d = mids[e] - mids[t]
            out[t] = 1 if d > task.threshold_ticks else (-1 if d < -task.threshold_ticks else 0)
        elif task.name == "big_move":
            out[t] = float(any(abs(m - mids[t]) > task.move_ticks for m in path))
        elif task.name == "realised_vol":
            out[t] = 1e4 * np.sqrt(sum(np.log(b / a) ** 2 for a, b in zip(path[:-1], path[1:], strict=True)))
        else:
            prices, sizes = series.ask_price[e], series.ask_qty[e]
            left, cost = task.size, 0
            for p, q in zip(prices, sizes, strict=True):
                take = min(left, q)
                cost += take * (p - prices[0])
                left -= take
            valid[t] = left == 0
            out[t] = cost / task.size
    return out, valid


@pytest.mark.parametrize(
    "task",
    [
        Task("direction", horizon_events=5, threshold_ticks=1.0),
        Task("direction", horizon_s=2.0, threshold_ticks=0.0),
        Task("big_move", horizon_s=3.0, move_ticks=2.0),
        Task("big_move", horizon_events=7, move_ticks=1.0),
        Task("realised_vol", horizon_s=2.5),
        Task("slippage", horizon_events=3, size=60),
    ],
)
def test_labels_match_the_slow_twin(book, task):
    y, end, ok = task.labels(book)
    slow_y, slow_ok = _slow_labels(book, task)
    np.testing.assert_array_equal(ok, slow_ok)
    assert ok.sum() > 300 or task.name == "slippage" and 0 < ok.sum() < book.size
    np.testing.assert_allclose(y[ok], slow_y[ok], rtol=1e-8, atol=1e-12)  # RV: a difference of cumsums
    assert (end[ok] >= np.arange(book.size)[ok]).all()


def test_scrambling_the_future_changes_no_input(book):
    """Every input at origin t reads rows <= t: scrambling all rows after t leaves them bit for bit."""
    t, window = 250, 20
    rng = np.random.default_rng(9)
    perm = np.r_[np.arange(t + 1), t + 1 + rng.permutation(book.size - t - 1)]
    fields = ("ts_ns", "bid_price", "bid_qty", "ask_price", "ask_qty", "kind", "side", "price", "qty")
    scrambled = replace(book, **{f: getattr(book, f)[perm] for f in fields})
    later = book.ts_ns[t] + np.cumsum(rng.integers(1, 10**9, size=book.size - t - 1))  # new, still sorted times
    scrambled = replace(
        scrambled,
        ts_ns=np.r_[book.ts_ns[: t + 1], later],
        bid_qty=np.where(np.arange(book.size)[:, None] > t, 999, scrambled.bid_qty),
    )
    origin = np.array([t - 7, t])
    for make in (lambda s: book_tensor(s, 5), event_tokens, lambda s: flow_features(s, window)):
        np.testing.assert_array_equal(windows(make(book), origin, window), windows(make(scrambled), origin, window))
    assert not np.array_equal(book_tensor(book, 5)[t + 1 :], book_tensor(scrambled, 5)[t + 1 :])


def test_walk_book_by_hand():
    prices, sizes = np.array([10_000, 10_001, 10_003]), np.array([5, 3, 10])
    # 10 lots: 5 at the touch, 3 one tick up, 2 three ticks up: excess 3 + 6 = 9 tick-lots, 0.9 ticks per lot
    assert walk_book(prices, sizes, 10) == (10, 9)
    assert walk_book(prices, sizes, 10)[1] / 10 == 0.9
    bids = np.array([9_999, 9_997, 9_996])  # a sell walks down: 5 at the touch, 3 two ticks, 1 three ticks below
    assert walk_book(bids, sizes, 9, side=-1) == (9, 9)
    with pytest.raises(DataError, match="holds 18 lots; the order needs 19"):
        walk_book(prices, sizes, 19)
    # bound 0.5: all of level 2 fits (3/8), then (3 * 8 - 3) / (3 - 0.5) = 8.4 -> 8 lots
    assert safe_size(prices, sizes, 0.5) == (8, True)
    assert safe_size(prices, sizes, 0.0) == (5, True)
    assert safe_size(prices, sizes, 5.0) == (18, False)


def test_safe_size_is_the_brute_force_largest():
    rng = np.random.default_rng(5)
    for _ in range(50):
        prices = 1000 + np.cumsum(rng.integers(1, 4, size=6)) - 1
        sizes = rng.integers(1, 30, size=6)
        bound = float(rng.uniform(0, 4))
        fits = [q for q in range(1, sizes.sum() + 1) if walk_book(prices, sizes, q)[1] / q <= bound]
        size, exact = safe_size(prices, sizes, bound)
        assert size == max(fits) and exact == (max(fits) < sizes.sum())


def test_normaliser_refuses_the_test_span():
    values = np.arange(40.0)[:, None]
    scale = Normaliser(values, np.arange(20), first_test_row=25)
    assert scale.mean[0] == 9.5
    with pytest.raises(ParameterError, match="fitted on the training block only .rows < 25"):
        Normaliser(values, np.arange(30), first_test_row=25)


def test_tasks_refuse_bad_definitions_and_shallow_books(book):
    with pytest.raises(ParameterError, match="task must be one of \\['direction', 'big_move'"):
        Task("drift", horizon_events=1)
    with pytest.raises(ParameterError, match="exactly one of `horizon_events` and `horizon_s`"):
        Task("direction", horizon_events=1, horizon_s=1.0)
    shallow = replace(book, bid_price=book.bid_price[:, :1], ask_price=book.ask_price[:, :1])
    with pytest.raises(ParameterError, match="needs books of >= 5 levels; series 'planted' has 1"):
        book_tensor(shallow, 5)


def test_slippage_marks_books_too_thin():
    series, _ = planted_book(30, levels=2, signal=0.5, rng=np.random.default_rng(1))
    ask = series.ask_price.copy()
    ask[10, 1] = NO_PRICE
    thin = replace(series, ask_price=ask)
    y, end, ok = Task("slippage", horizon_events=1, size=int(thin.ask_qty[10, 0]) + 1).labels(thin)
    assert not ok[9] and ok.sum() > 0


@pytest.mark.realdata
def test_real_aapl_level10_book_tasks(shared_data):
    """On the AAPL level-10 sample (message + orderbook files): every slippage label is the book walk at the
    arrival row, and a 10-level DeepLOB tensor is full where the file's book is."""
    folder = shared_data / "lobster_samples/AAPL_2012-06-21_level10_first1000"
    book = lobster_series("AAPL", sorted(folder.glob("*.csv")))
    assert (book.size, book.levels) == (999, 10)
    y, end, ok = Task("slippage", horizon_events=3, size=500).labels(book)
    deep_enough = book.ask_qty[3:].sum(axis=1) >= 500  # the ten visible ask levels hold the order
    np.testing.assert_array_equal(ok[:-3], deep_enough)
    assert not ok[-3:].any() and deep_enough.mean() > 0.5
    for t in np.flatnonzero(ok)[::37]:
        filled, excess = walk_book(book.ask_price[t + 3], book.ask_qty[t + 3], 500)
        assert filled == 500 and y[t] == excess / 500
    tensor = book_tensor(book, 10)
    assert np.isfinite(tensor[book.full_rows(10)]).all() and book.full_rows(10).mean() > 0.99
    direction = Task("direction", horizon_s=1.0, threshold_ticks=0.5).labels(book)[0]
    assert set(np.unique(direction)) == {-1.0, 0.0, 1.0}
