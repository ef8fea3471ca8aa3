"""Schema validation: every rule names the row and the value."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.errors import DataError, ParameterError
from simlab.random import as_generator, spawn
from simlab.schema import NO_PRICE, EventKind, make_bars, make_books, make_events, validate_events

BASE = dict(kind=EventKind.TRADE, side=1, price_ticks=100, tick_size=0.01, lot_size=1.0, instrument="X", venue="V")


def test_make_events_broadcasts_and_types():
    events = make_events(ts_ns=np.arange(3), qty_lots=[1, 2, 3], **BASE)
    assert events["kind"].dtype == np.int8 and events["agent_id"].dtype == np.int32
    assert events["order_id"].values.tolist() == [-1, -1, -1]
    assert events.attrs["schema_version"] == "1.0"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(ts_ns=[3, 2, 4]), r"row 1: ts_ns must not decrease; found 2"),
        (dict(qty_lots=[1, -1, 1]), r"row 1: qty_lots must be >= 0"),
        (dict(side=[1, 2, 1]), r"row 1: side must be -1, 0 or \+1"),
        (dict(kind=[5, 5, 99]), r"row 2: kind must be one of"),
        (dict(price_ticks=[1.0, 1.5, 2.0]), r"price_ticks must hold whole numbers"),
        (dict(price_ticks=[1.0, np.nan, 2.0]), r"price_ticks must be finite; row 1 holds \[nan\]"),
        (dict(tick_size=-1.0), r"attribute 'tick_size' must be a finite number > 0; got -1.0"),
    ],
)
def test_bad_events_name_the_row(change, message):
    args = {**BASE, "ts_ns": [1, 2, 3], "qty_lots": [1, 1, 1], **change}
    with pytest.raises(DataError, match=message):
        make_events(**args)


def test_validate_events_needs_the_fields():
    events = make_events(ts_ns=[1], qty_lots=[1], **BASE).drop_vars("side")
    with pytest.raises(DataError, match="lack the variable 'side'"):
        validate_events(events)


def test_books_validation():
    ok = dict(ts_ns=[1], bid_price=[[99, NO_PRICE]], bid_qty=[[5, 0]], ask_price=[[100, 101]], ask_qty=[[1, 2]])
    books = make_books(**ok)
    assert books.sizes == {"time": 1, "level": 2} and books["level"].values.tolist() == [1, 2]
    with pytest.raises(DataError, match="must not be crossed"):
        make_books(**{**ok, "bid_price": [[100, 99]], "bid_qty": [[5, 1]]})
    with pytest.raises(DataError, match="empty bid level must carry NO_PRICE"):
        make_books(**{**ok, "bid_price": [[99, 98]]})
    with pytest.raises(DataError, match="ask levels must be strictly ordered"):
        make_books(**{**ok, "ask_price": [[101, 100]]})
    assert make_books(**{**ok, "bid_price": [[100, 99]], "bid_qty": [[5, 1]]}, allow_crossed=True).sizes["time"] == 1


def test_bars_are_indexed_by_bin_end():
    bars = make_bars(np.array([10, 20]), {"count": np.array([1, 2])})
    assert bars["ts_ns"].values.tolist() == [10, 20] and bars["count"].dims == ("time",)


def test_seeds_are_explicit_and_split():
    assert as_generator(3).integers(1 << 30) == np.random.default_rng(3).integers(1 << 30)
    first = [g.integers(1 << 30) for g in spawn(11, 3)]
    assert first == [g.integers(1 << 30) for g in spawn(11, 3)] and len(set(first)) == 3
    for bad in (None, -1, 1.5, True):
        with pytest.raises(ParameterError):
            as_generator(bad)


def test_event_scan_matches_twin():
    from simlab.schema import _KNOWN_KIND, _scan_events

    rng = np.random.default_rng(7)
    for n in (0, 1, 5, 50):
        for _ in range(40):
            ts = np.cumsum(rng.choice([-1, 0, 1, 2, 3, 4, 5, 6], n)).astype(np.int64)
            kind = rng.choice(np.array([-128, 0, 1, 5, 11, 12, 127] + [3] * 20, dtype=np.int8), n)
            side = rng.choice(np.array([-2, -1, 0, 1, 2] + [1] * 10, dtype=np.int8), n)
            qty = rng.choice(np.array([-1] + [3] * 10, dtype=np.int64), n)
            rules = [
                np.concatenate(([False], np.diff(ts) < 0))[:n],
                ~np.isin(kind, [k.value for k in EventKind]),
                ~np.isin(side, (-1, 0, 1)),
                qty < 0,
            ]
            twin = [int(np.argmax(rule)) if rule.any() else -1 for rule in rules]
            assert _scan_events(ts, kind, side, qty, _KNOWN_KIND).tolist() == twin


@pytest.mark.parametrize("seed", range(6))
def test_the_book_scan_finds_the_first_bad_row_of_each_rule_as_the_numpy_rules_do(seed):
    """The one-pass numba scan of validate_books against the same rules written in numpy (the path books of other
    dtypes take), on books with violations planted at random rows: the same first row per rule, -1 where none."""
    from simlab.schema import _scan_books, _scan_books_numpy

    rng = np.random.default_rng(seed)
    n, levels = 400, 5
    ts = np.sort(rng.integers(0, 10**9, n))
    bid_price = 1000 - np.cumsum(rng.integers(1, 3, (n, levels)), axis=1)
    ask_price = 1000 + np.cumsum(rng.integers(1, 3, (n, levels)), axis=1)
    bid_qty, ask_qty = rng.integers(1, 50, (n, levels)), rng.integers(1, 50, (n, levels))
    empty = rng.random((n, levels)) < 0.1  # empty levels, properly marked
    bid_qty[empty], bid_price[empty] = 0, NO_PRICE
    clean = [a.copy() for a in (ts, bid_price, bid_qty, ask_price, ask_qty)]
    assert _scan_books(*clean, True).tolist() == [-1] * 8 == _scan_books_numpy(*clean, True).tolist()
    ts[rng.integers(1, n)] = -1  # a decreasing time
    bid_qty[rng.integers(n), rng.integers(levels)] = -3  # a negative size
    row = rng.integers(n)
    ask_qty[row, 2], ask_price[row, 2] = 0, 1005  # an empty level with a price
    row = rng.integers(n)
    bid_qty[row, :2], bid_price[row, 1] = 5, bid_price[row, 0] + 1  # out of order
    row = rng.integers(n)
    bid_qty[row, 0], ask_qty[row, 0], bid_price[row, 0] = 5, 5, ask_price[row, 0]  # crossed
    for crossed in (True, False):
        fast, slow = _scan_books(ts, bid_price, bid_qty, ask_price, ask_qty, crossed), _scan_books_numpy(
            ts, bid_price, bid_qty, ask_price, ask_qty, crossed)  # fmt: skip
        assert fast.tolist() == slow.tolist() and (fast[[0, 1, 5]] >= 0).all(), (fast, slow)
        assert bool(fast[7] >= 0) is crossed
