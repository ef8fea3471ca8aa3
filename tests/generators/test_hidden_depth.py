"""Books seen through a narrow window (a level-N LOBSTER file): constant book columns, the reveal law, hidden depth."""

from __future__ import annotations

import numpy as np
import pytest

from generators import encoding as enc
from generators.hidden_depth import HIDDEN_LEVELS, reveal_law, window_levels, with_hidden_depth
from simlab.schema import NO_PRICE, EventKind, make_books, make_events

ATTRS = {"tick_size": 0.01, "lot_size": 1.0, "instrument": "TEST", "venue": "TEST"}


def _level1_flow(fmt: str = "lobster", levels: int = 1):
    # best bid 100 x 5, ask 110 x 7; row 1 deletes the whole best bid and shows 97 x 40 behind it (a reveal, gap
    # 3); row 2 adds a bid at 99 (an improvement, not a reveal); row 3 trades the whole best ask and shows
    # 114 x 9 (a reveal, gap 4); row 4 deletes the bid at 99 and shows 97 x 40 again (a reveal, gap 2)
    kind = [EventKind.ADD, EventKind.DELETE, EventKind.ADD, EventKind.TRADE, EventKind.DELETE]
    side = [1, 1, 1, 1, 1]
    price = [100, 100, 99, 110, 99]
    qty = [5, 5, 3, 7, 3]
    bid = [(100, 5), (97, 40), (99, 3), (99, 3), (97, 40)]
    ask = [(110, 7), (110, 7), (110, 7), (114, 9), (114, 9)]
    ts = np.arange(5, dtype=np.int64) * 10**9
    events = make_events(ts_ns=ts, kind=np.array(kind), side=np.array(side), price_ticks=np.array(price),
                         qty_lots=np.array(qty), attrs={"format": fmt, "levels": levels}, **ATTRS)  # fmt: skip
    books = make_books(
        ts_ns=ts, bid_price=np.array([[p] for p, _ in bid]), bid_qty=np.array([[q] for _, q in bid]),
        ask_price=np.array([[p] for p, _ in ask]), ask_qty=np.array([[q] for _, q in ask]),
    )  # fmt: skip
    return events, books


def _encoding(book_std: np.ndarray) -> enc.Encoding:
    zeros, ones = (0.0,) * enc.MESSAGE_WIDTH, (1.0,) * enc.MESSAGE_WIDTH
    edges = ((1.0, 2.0, 3.0, 4.0),) * len(enc.REGIMES)
    return enc.Encoding(zeros, ones, (0.5,) * enc.BOOK_WIDTH, tuple(book_std), edges, zeros, ones, history=4)


def test_a_book_column_constant_in_training_normalises_to_zero_whatever_the_rollout_puts_there():
    std = np.full(enc.BOOK_WIDTH, 2.0)
    std[1 : enc.DEPTH_LEVELS] = enc.STD_FLOOR  # bid levels 2-10 of a level-1 file: never any depth in training
    encoding = _encoding(std)
    features = np.full((3, enc.BOOK_WIDTH), 4.5)  # log depth about 90 lots at every level
    out = encoding.book(features)
    assert out.dtype == np.float32 and np.all(out[:, 1 : enc.DEPTH_LEVELS] == 0.0)  # not (4.5 - 0.5) / 1e-6 = 4e6
    assert np.allclose(out[:, 0], 2.0) and np.allclose(out[:, enc.DEPTH_LEVELS :], 2.0)  # (4.5 - 0.5) / 2


def test_an_encoding_fitted_on_a_level1_file_floors_its_deeper_levels_and_the_quoted_flag():
    events, books = _level1_flow()
    encoding = enc.fit_encoding(events, books, history=1)
    std = np.asarray(encoding.book_std)
    assert np.all(std[1 : enc.DEPTH_LEVELS] == enc.STD_FLOOR) and std[2 * enc.DEPTH_LEVELS + 1] == enc.STD_FLOOR
    assert std[0] > enc.STD_FLOOR  # the best's depth varied


def test_the_reveal_law_holds_every_level_that_moved_into_the_window_without_a_message():
    events, books = _level1_flow()
    law = reveal_law(events, books)
    assert law == {"window_levels": 1, "bid": [[3, 40], [2, 40]], "ask": [[4, 9]]}
    assert window_levels(events) == 1
    assert reveal_law(*_level1_flow(fmt="simlab")) is None  # not a LOBSTER window
    assert reveal_law(*_level1_flow(levels=enc.DEPTH_LEVELS)) is None  # as deep as the encoding's book: none hidden


def test_hidden_depth_extends_only_the_start_book_behind_the_visible_levels_with_draws_from_the_law():
    law = {"window_levels": 1, "bid": [[3, 40], [2, 10]], "ask": [[4, 9]]}
    rows = np.zeros((3, 4, enc.DEPTH_LEVELS), np.int64)
    rows[:, [0, 2]] = NO_PRICE
    rows[:, :, 0] = [100, 5, 110, 7]
    context = {"books": rows, "table": np.zeros((2, 6), np.int64), "ts_ns": 0, "attrs": {}}
    a, b = (with_hidden_depth(context, law, np.random.default_rng(4)) for _ in range(2))
    np.testing.assert_array_equal(a["books"], b["books"])  # seeded
    start = a["books"][-1]
    assert a["books"].shape == (3, 4, 1 + HIDDEN_LEVELS) and np.all(a["books"][:-1, :, 1:] == rows[:-1, :, 1:2])
    np.testing.assert_array_equal(start[:, 0], [100, 5, 110, 7])  # the visible level is the context's
    bid_gaps = -np.diff(start[0])
    assert set(zip(bid_gaps.tolist(), start[1, 1:].tolist(), strict=True)) <= {(3, 40), (2, 10)}
    np.testing.assert_array_equal(np.diff(start[2]), 4)  # every ask gap drawn from the one ask reveal
    assert np.all(start[3, 1:] == 9) and a["table"] is context["table"]
    other = with_hidden_depth(context, law, np.random.default_rng(5))["books"][-1]
    assert not np.array_equal(other[0], start[0])


@pytest.mark.parametrize("levels", [1, 3])
def test_the_hidden_levels_start_behind_the_last_visible_level(levels):
    law = {"window_levels": levels, "bid": [[1, 2]], "ask": [[1, 2]]}
    rows = np.zeros((2, 4, levels), np.int64)
    rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3] = 100 - np.arange(levels), 5, 101 + np.arange(levels), 5
    start = with_hidden_depth({"books": rows}, law, np.random.default_rng(0))["books"][-1]
    np.testing.assert_array_equal(start[0], 100 - np.arange(levels + HIDDEN_LEVELS))
    np.testing.assert_array_equal(start[2], 101 + np.arange(levels + HIDDEN_LEVELS))
