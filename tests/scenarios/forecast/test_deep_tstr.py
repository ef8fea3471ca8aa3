"""Book TSTR: on a queue-reactive "real" book the synthetic refit teaches what the real data does."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.forecast.book_tstr import book_datasets, collapse_rebuilds, train_synthetic_test_real_books
from scenarios.forecast.books import from_books
from scenarios.forecast.deep import PRESETS, EventTransformer
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import FlowLogistic, Prior
from scenarios.forecast.tasks import Task
from simlab.book.queue_reactive import QRParams, simulate_qr
from simlab.schema import NO_PRICE, EventKind


@pytest.fixture(scope="module")
def qr_book():
    n = np.arange(9)
    tables = [np.stack([t, t])[:, None, :] for t in (np.where(n < 8, 1.0, 0.0), 0.3 * n, np.where(n > 0, 0.4, 0.0))]
    sim = simulate_qr(QRParams(*tables, size_lots=[[10], [10]], theta=0.7), 900.0, rng=1)
    return collapse_rebuilds(from_books("qr", sim["books"], sim["events"])), sim


def test_rebuilds_collapse_to_the_rebuilt_book(qr_book):
    book, sim = qr_book
    kinds = sim["events"]["kind"].values
    rebuilds = np.isin(kinds, (EventKind.CLEAR, EventKind.SET_LEVEL))
    assert rebuilds.sum() > 100 and book.size < kinds.size
    # no kept row is followed, at its own time, by a rebuild row; every rebuild ends on a book with both touches
    follow = np.isin(book.kind[1:], (EventKind.CLEAR, EventKind.SET_LEVEL)) & (book.ts_ns[1:] == book.ts_ns[:-1])
    assert not follow.any()
    last = np.flatnonzero(book.kind == EventKind.SET_LEVEL)
    assert (book.bid_price[last, 0] != NO_PRICE).all() and (book.ask_price[last, 0] != NO_PRICE).all()
    events, books = book_datasets(book, 100)
    assert events.sizes["event"] == books.sizes["time"] == 100


def test_tstr_matches_trtr_when_the_real_book_is_the_model(qr_book):
    book, _ = qr_book
    tiny = PRESETS["tiny"]
    data = TaskData(book, Task("direction", horizon_events=20), window=tiny.window)
    out = train_synthetic_test_real_books(
        data, [FlowLogistic(), EventTransformer(tiny), Prior()], rng=2, synthetic_s=900.0, n_max=8
    )
    assert out["unmodelled_events"] == 0 and out["test_origins"] > 500
    for row in out["rows"]:
        gap = abs(row["tstr"] - row["trtr"])
        assert gap < 3 * np.hypot(row["tstr_se"], row["trtr_se"]), row
        assert 0.85 < row["ratio"] < 1.15, row
        # the mixed arm (half synthetic, half real) is the same world too
        assert abs(row["mixed"] - row["trtr"]) < 3 * np.hypot(row["mixed_se"], row["trtr_se"]), row
        assert row["mixed_synthetic"] == row["mixed_real"] > 100, row
