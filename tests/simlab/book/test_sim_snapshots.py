"""``simlab.book._sim.snapshots`` (the book after one message, once per record it wrote) against ``snapshot`` called
once per record, on a book with both sides, one side and none."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.book import _engine as E
from simlab.book import _sim


def _book(bids: list[tuple[int, int]], asks: list[tuple[int, int]]):
    state, out = E.new_engine(90, 40, 64), E.new_fills(8)
    for order_id, (price, qty) in enumerate(bids):
        assert E.limit(state, 1, price, qty, order_id, order_id, out) == E.OK
    for order_id, (price, qty) in enumerate(asks, start=100):
        assert E.limit(state, -1, price, qty, order_id, order_id, out) == E.OK
    return state


@pytest.mark.parametrize(
    "bids, asks",
    [([(100, 5), (98, 2), (100, 1)], [(103, 4), (110, 9)]), ([(100, 5)], []), ([], [])],
)
@pytest.mark.parametrize("n", [1, 3])
def test_snapshots_equal_one_snapshot_per_record(bids, asks, n):
    state = _book(bids, asks)
    depth, start = 4, 2  # two rows already written, left alone
    want_books, got_books = np.full((4, 8, depth), -5, np.int64), np.full((4, 8, depth), -5, np.int64)
    want_ts, got_ts = np.full(8, -5, np.int64), np.full(8, -5, np.int64)
    want_ctr, got_ctr = np.zeros(_sim.CTR_SIZE, np.int64), np.zeros(_sim.CTR_SIZE, np.int64)
    want_ctr[_sim.C_BOOKS] = got_ctr[_sim.C_BOOKS] = start
    for _ in range(n):
        _sim.snapshot(state, want_books, want_ts, want_ctr, 1234)
    _sim.snapshots(state, got_books, got_ts, got_ctr, 1234, n)
    np.testing.assert_array_equal(got_books, want_books)
    np.testing.assert_array_equal(got_ts, want_ts)
    assert got_ctr[_sim.C_BOOKS] == want_ctr[_sim.C_BOOKS] == start + n
    assert (got_ts[start : start + n] == 1234).all() and (got_books[:, :start] == -5).all()
    if bids and asks:
        assert got_books[0, start].tolist() == [100, 98, E.NO_PRICE, E.NO_PRICE]
        assert got_books[1, start].tolist() == [6, 2, 0, 0]
        assert got_books[2, start + n - 1].tolist() == [103, 110, E.NO_PRICE, E.NO_PRICE]
