"""match_events: the engine's replay against the list twin, sampling, growth, bad input and the AAPL L50 hour."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.book import _engine as E
from simlab.book import _engine_replay as R
from simlab.book import match_events
from simlab.errors import DataError, ParameterError
from simlab.schema import NO_PRICE, EventKind, make_events
from tests.conftest import shared_path
from tests.simlab.book.test_engine_twin import ListBook

AAPL_L50 = "lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages/AAPL_2012-06-21_34200000_37800000_message_50.csv"
KINDS = [EventKind.ADD] * 5 + [EventKind.CANCEL, EventKind.DELETE, EventKind.MODIFY, EventKind.TRADE]


def _stream(seed: int, n: int) -> dict[str, np.ndarray]:
    """A random valid order stream: ids of cancels, deletes and modifies name resting orders of the twin."""
    rng = np.random.default_rng(seed)
    twin = ListBook(-(10**6), 2 * 10**6, 10**9)
    rows, next_id = [], 10**12
    for ts in range(n):
        kind = int(rng.choice(KINDS)) if twin.where else int(EventKind.ADD)
        side, price, qty = int(rng.choice([1, -1])), 500 + int(rng.integers(-6, 7)), int(rng.integers(1, 25))
        oid = int(rng.choice(list(twin.where))) if kind in (2, 3, 4) else next_id
        next_id += int(rng.integers(1, 1000))
        if kind == EventKind.ADD:
            twin.limit(side, price, qty, oid, ts * 10, 10**9)
        elif kind == EventKind.CANCEL:
            twin.cancel(oid, qty)
        elif kind == EventKind.DELETE:
            twin.delete(oid)
        elif kind == EventKind.MODIFY:
            twin.modify(oid, price, qty, ts * 10, 10**9)
        else:
            twin.market(side, qty, oid, ts * 10, 10**9)
        rows.append((ts * 10, kind, side, price, qty, oid, twin.top(1, 4), twin.top(-1, 4)))
    return {"rows": rows, "fills": twin.fills}


def _events(rows) -> object:
    ts, kind, side, price, qty, oid = (np.array([r[i] for r in rows], dtype=np.int64) for i in range(6))
    return make_events(ts_ns=ts, kind=kind, side=side, price_ticks=price, qty_lots=qty, order_id=oid,
                       tick_size=0.01, lot_size=1.0, instrument="TEST", venue="test")  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_match_events_equals_twin(seed):
    stream = _stream(seed, 3000)
    result = match_events(_events(stream["rows"]), depth=4, capacity=4 if seed % 2 else None)
    trades, books = result["events"], result["books"]
    names = ("ts_ns", "side", "price_ticks", "qty_lots", "passive_order_id", "aggressor_order_id")
    got = list(zip(*(trades[k].values.tolist() for k in names), strict=True))
    assert got == stream["fills"] and len(got) > 100
    assert (trades["kind"].values == EventKind.TRADE).all()
    for i, row in enumerate(stream["rows"]):
        assert books["bid_price"].values[i].tolist() == [p for p, _ in row[6]]
        assert books["bid_qty"].values[i].tolist() == [q for _, q in row[6]]
        assert books["ask_price"].values[i].tolist() == [p for p, _ in row[7]]
        assert books["ask_qty"].values[i].tolist() == [q for _, q in row[7]]
    assert np.array_equal(trades["message"].values, np.sort(trades["message"].values))


def test_sampling_on_a_time_grid_takes_the_book_after_every_earlier_event():
    rows = _stream(7, 1500)["rows"]
    events = _events(rows)
    every = match_events(events, depth=3)["books"]
    grid = match_events(events, depth=3, sample=250)["books"]
    ts = events["ts_ns"].values
    assert grid["ts_ns"].values[0] == 0 and grid["ts_ns"].values[-1] >= ts[-1]
    for j, t in enumerate(grid["ts_ns"].values):
        i = np.searchsorted(ts, t, side="right") - 1
        assert grid["bid_price"].values[j].tolist() == every["bid_price"].values[i].tolist()
        assert grid["ask_qty"].values[j].tolist() == every["ask_qty"].values[i].tolist()


def _one(kind, side, price, qty, oid):
    n = len(kind)
    return make_events(ts_ns=np.arange(n), kind=kind, side=side, price_ticks=price, qty_lots=qty, order_id=oid,
                       tick_size=0.01, lot_size=1.0, instrument="T", venue="t")  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "price", "qty", "oid", "words"),
    [
        ([1, 1], [10, 11], [5, 0], [1, 2], "row 1 (ADD of order_id 2): qty_lots must be > 0"),
        ([1, 1], [10, NO_PRICE], [5, 3], [1, 2], "row 1 (ADD of order_id 2): the price lies outside"),
        ([1, 2], [10, 10], [5, 3], [1, 9], "row 1 (CANCEL of order_id 9): no resting order has this order_id"),
        ([1, 3], [10, 10], [5, 3], [1, 9], "row 1 (DELETE of order_id 9): no resting order"),
        ([1, 1], [10, 11], [5, 3], [1, 1], "row 1 (ADD of order_id 1): a resting order already has this order_id"),
        ([1, 4], [10, 11], [5, -0], [1, 1], "row 1 (MODIFY of order_id 1): qty_lots must be > 0"),
    ],
)
def test_bad_input_names_the_row(kind, price, qty, oid, words):
    with pytest.raises(DataError, match=words.replace("(", r"\(").replace(")", r"\)")):
        match_events(_one(kind, [1, 1], price, qty, oid))


def test_bad_kinds_and_options():
    with pytest.raises(DataError, match="row 1: kind must be an order-level kind.*SET_LEVEL"):
        match_events(_one([1, 9], [1, 1], [10, 10], [5, 5], [1, 2]))
    events = _one([1], [1], [10], [5], [1])
    for bad in (dict(depth=0), dict(sample=0), dict(sample="bar"), dict(trades="x"), dict(unknown="skip")):
        with pytest.raises(ParameterError):
            match_events(events, **bad)


def test_unknown_ids_are_counted_never_dropped_silently():
    events = _one([1, 2, 3, 5, 6, 2], [1, 1, 1, -1, -1, 1], [10, 10, 10, 10, 10, 10], [5, 1, 1, 2, 1, 1],
                  [1, 7, 8, 9, 0, 1])  # fmt: skip
    with pytest.raises(DataError, match="row 1"):
        match_events(events, trades="resting")
    result = match_events(events, trades="resting", unknown="count")
    attrs = result["books"].attrs
    assert (attrs["unknown_cancel"], attrs["unknown_delete"], attrs["unknown_trade"]) == (1, 1, 1)
    assert (attrs["first_unknown_cancel"], attrs["first_unknown_trade"], attrs["skipped_no_book_effect"]) == (1, 3, 1)
    assert result["books"]["bid_qty"].values[:, 0].tolist() == [5, 5, 5, 5, 5, 4]
    assert result["events"].sizes["event"] == 0


def test_resting_executions_take_the_named_order():
    events = _one([1, 1, 5, 5], [1, 1, -1, -1], [10, 10, 10, 10], [5, 4, 3, 9], [1, 2, 2, 1])
    result = match_events(events, trades="resting")
    trades = result["events"]
    assert trades["passive_order_id"].values.tolist() == [2, 1]
    assert trades["qty_lots"].values.tolist() == [3, 5]  # the second asks 9, 5 rest: capped and counted
    assert trades["aggressor_order_id"].values.tolist() == [-1, -1]
    attrs = trades.attrs
    assert (attrs["executed_out_of_priority"], attrs["capped_to_resting"], attrs["first_capped_to_resting"]) == (
        1,
        1,
        3,
    )


def test_kernel_capacity_statuses_never_overwrite():
    state, out = E.new_engine(0, 10, 1), E.new_fills(1)
    assert E.limit(state, 1, 5, 3, 1, 0, out) == E.OK
    assert E.limit(state, 1, 4, 3, 2, 0, out) == E.CAPACITY
    assert E.limit(state, -1, 6, 3, 3, 0, out) == E.CAPACITY
    assert E.limit(state, -1, 5, 2, 4, 0, out) == E.OK  # fully filled: needs no slot
    assert E.market(state, -1, 5, 5, 0, out) == E.FILL_CAPACITY  # the one row is taken
    assert out[1][0] == 1 and E.level_qty(state, 1, 5) == 1
    out = E.grow_fills(out, 4)
    assert E.market(state, -1, 5, 5, 0, out) == E.OK and state[0][E.LAST_UNFILLED] == 4
    assert out[0][:2, E.F_PASSIVE].tolist() == [1, 1] and out[0][:2, E.F_AGGRESSOR].tolist() == [4, 5]


def test_modify_priority_rules():
    state, out = E.new_engine(0, 10, 8), E.new_fills(8)
    for oid in (1, 2, 3):
        E.limit(state, 1, 5, 10, oid, oid, out)
    E.modify(state, 1, 5, 4, 9, out)  # size decrease: keeps priority
    assert E.queue_ahead(state, 1) == 0 and E.queue_ahead(state, 2) == 4
    E.modify(state, 2, 5, 12, 10, out)  # size increase: to the back
    assert E.queue_ahead(state, 2) == 14 and E.queue_ahead(state, 3) == 4
    E.modify(state, 3, 9, 10, 11, out)  # price change: a new level
    assert E.best_bid(state) == 9 and E.queue_qty_at(state, 1, 2) == 16


@pytest.mark.realdata
def test_aapl_level50_hour_replays_as_an_l3_stream():
    from simlab.io.lobster import read_lobster

    events = read_lobster(shared_path(AAPL_L50))["events"]
    result = match_events(events, depth=5, trades="resting", unknown="count")
    books, attrs = result["books"], result["books"].attrs
    assert books.sizes["time"] == events.sizes["event"] == 91_997
    # orders resting before 09:30 are unknown: their deletes and executions are counted, not applied
    assert 0 < attrs["unknown_delete"] + attrs["unknown_trade"] < 200
    assert attrs["unknown_cancel"] + attrs["unknown_modify"] < 50 and attrs["add_traded_on_arrival"] == 0
    assert attrs["skipped_no_book_effect"] == int(np.isin(events["lobster_type"].values, (5, 6, 7)).sum())
    assert attrs["executed_out_of_priority"] < 0.01 * int((events["lobster_type"].values == 4).sum())
    trades = result["events"]
    executions = events["lobster_type"].values == 4
    assert trades.sizes["event"] == int(executions.sum()) - attrs["unknown_trade"]
    assert (trades["side"].values == -events["direction"].values[trades["message"].values]).all()
    bid, ask = books["bid_price"].values[:, 0], books["ask_price"].values[:, 0]
    both = (bid != NO_PRICE) & (ask != NO_PRICE)
    assert (bid[both] < ask[both]).all() and both[1000:].all()


# ---------------------------------------------------------------- level orders (replay from a book of price levels)


def _twin_add_level(twin: ListBook, side: int, price: int, qty: int, ts: int) -> None:
    oid = R.level_order_id(side, price)
    order = twin._find(oid)
    if order is None:
        twin._rest(side, price, qty, oid, ts)
    else:
        order[1] += qty
    twin.totals["submitted"] += qty


def _twin_take(twin: ListBook, order: list[int], qty: int) -> int:
    take = min(qty, order[1])
    order[1] -= take
    if order[1] == 0:
        twin._remove(order[0])
    return take


def _twin_reduce_at_level(twin: ListBook, side: int, price: int, qty: int) -> int:
    """Level order first, then the queue's head; returns the lots taken from other orders."""
    queue = twin.sides[side].get(price, [])
    done = min(qty, sum(o[1] for o in queue))
    order = twin._find(R.level_order_id(side, price))
    left = done - (_twin_take(twin, order, done) if order is not None else 0)
    others = left
    while left:
        left -= _twin_take(twin, twin.sides[side][price][0], left)
    twin.totals["cancelled"] += done
    return others


def _twin_clear_beyond(twin: ListBook, side: int, keep: int) -> int:
    prices = sorted(twin.sides[side], reverse=side == 1)
    for price in prices[keep:]:
        for order in list(twin.sides[side][price]):
            twin.totals["cancelled"] += twin._remove(order[0])
    return prices[keep - 1] if 1 <= keep <= len(prices) else NO_PRICE


@pytest.mark.parametrize("seed", range(6))
def test_level_orders_equal_twin(seed):
    """add_level_lots, reduce_at_level and clear_beyond mixed with limit orders and cancels: same queues as the twin."""
    rng = np.random.default_rng(seed)
    state, out, twin = E.new_engine(0, 40, 512), E.new_fills(1 << 12), ListBook(0, 40, 512)
    next_id, seen = 0, {"others": 0, "cleared": 0}
    for ts in range(3000):
        side, what = int(rng.choice([1, -1])), int(rng.integers(0, 6))
        bid, ask = twin.top(1, 1)[0][0], twin.top(-1, 1)[0][0]
        price = (ask if side == 1 else bid) if (bid != NO_PRICE and ask != NO_PRICE) else 20
        price = int(np.clip(price - side * int(rng.integers(1, 8)), 0, 39))
        qty = int(rng.integers(1, 40))
        if what == 0:
            free = out[0].shape[0] - int(out[1][0])
            assert E.limit(state, side, price, qty, next_id, ts, out) == twin.limit(side, price, qty, next_id, ts, free)
            next_id += 1
        elif what == 1 and twin.where:
            oid = int(rng.choice([o for o in twin.where if o >= 0] or [-1]))
            assert E.cancel(state, oid, qty, out) == twin.cancel(oid, qty)
        elif what == 2:
            assert R.add_level_lots(state, side, price, qty, ts) == E.OK
            _twin_add_level(twin, side, price, qty, ts)
        elif what in (3, 4) and twin.sides[side]:
            price = int(rng.choice(sorted(twin.sides[side])))
            qty = qty if what == 3 else 10 * qty  # often more than the level order: the queue's head pays
            others = R.reduce_at_level(state, side, price, qty)
            assert others == _twin_reduce_at_level(twin, side, price, qty)
            seen["others"] += others > 0
        elif what == 5 and rng.random() < 0.2:
            keep = int(rng.integers(1, 6))
            cleared = twin.n_orders()
            assert R.clear_beyond(state, side, keep) == _twin_clear_beyond(twin, side, keep)
            seen["cleared"] += twin.n_orders() < cleared
        _compare_level_orders(state, twin)
    assert twin.fills and out[1][0] == len(twin.fills) and seen["others"] > 10 and seen["cleared"] > 5
    assert any(fill[4] < 0 for fill in twin.fills)  # level orders trade like any resting order


def _compare_level_orders(state, twin: ListBook) -> None:
    for side in (1, -1):
        for price, queue in twin.sides[side].items():
            assert E.level_qty(state, side, price) == sum(o[1] for o in queue)
            assert R.level_order_qty(state, side, price) == next(
                (o[1] for o in queue if o[0] == R.level_order_id(side, price)), 0
            )
    for oid in twin.where:
        assert E.queue_ahead(state, oid) == twin.queue_ahead(oid)
    meta = state[0]
    assert meta[E.N_ORDERS] == twin.n_orders() and E.best_bid(state) == twin.top(1, 1)[0][0]
    assert [meta[E.SUBMITTED], meta[E.TRADED], meta[E.CANCELLED], meta[E.EXPIRED]] == list(twin.totals.values())


def test_level_order_ids_are_reserved_and_distinct():
    ids = {R.level_order_id(side, price) for side in (1, -1) for price in (-5, 0, 1, 10**9)}
    assert len(ids) == 8 and max(ids) < 0


def _twin_set_level(twin: ListBook, side: int, price: int, qty: int, ts: int) -> None:
    """The slow twin of set_level_lots: add the difference to the level order, or reduce the level by it."""
    now = sum(o[1] for o in twin.sides[side].get(price, []))
    if qty > now:
        _twin_add_level(twin, side, price, qty - now, ts)
    elif qty < now:
        _twin_reduce_at_level(twin, side, price, now - qty)


@pytest.mark.parametrize("seed", range(4))
def test_set_level_lots_equals_twin(seed):
    """L2 "level now holds qty" updates (pure level books, and mixed with limit orders): same queues as the twin."""
    rng = np.random.default_rng(seed)
    state, out, twin = E.new_engine(0, 40, 512), E.new_fills(1 << 12), ListBook(0, 40, 512)
    next_id, seen = 0, {"zero": 0, "same": 0, "mixed": 0}
    for ts in range(3000):
        side = int(rng.choice([1, -1]))
        bid, ask = twin.top(1, 1)[0][0], twin.top(-1, 1)[0][0]
        price = (ask if side == 1 else bid) if (bid != NO_PRICE and ask != NO_PRICE) else 20
        price = int(np.clip(price - side * int(rng.integers(1, 8)), 0, 39))
        if seed >= 2 and rng.random() < 0.15:  # seeds 2, 3: limit orders join the level orders' queues
            free = out[0].shape[0] - int(out[1][0])
            qty = int(rng.integers(1, 40))
            assert E.limit(state, side, price, qty, next_id, ts, out) == twin.limit(side, price, qty, next_id, ts, free)
            next_id += 1
            continue
        if twin.sides[side] and rng.random() < 0.5:
            price = int(rng.choice(sorted(twin.sides[side])))
        now = E.level_qty(state, side, price)
        qty = int(rng.choice([0, now, int(rng.integers(1, 60))]))
        seen["zero"] += qty == 0 < now
        seen["same"] += qty == now
        seen["mixed"] += len(twin.sides[side].get(price, [])) > 1
        assert R.set_level_lots(state, side, price, qty, ts) == E.OK
        _twin_set_level(twin, side, price, qty, ts)
        assert E.level_qty(state, side, price) == qty
        _compare_level_orders(state, twin)
    assert seen["zero"] > 10 and seen["same"] > 10 and (seen["mixed"] > 10) == (seed >= 2)


def test_set_level_lots_statuses_change_nothing():
    state = E.new_engine(100, 10, 1)
    assert R.set_level_lots(state, 1, 105, 7, 0) == E.OK and E.best_bid(state) == 105
    before = [a.copy() for a in state]
    for side, price, qty, status in [
        (0, 105, 3, E.BAD_SIDE),
        (1, 105, -1, E.NON_POSITIVE_QTY),
        (1, 99, 3, E.OFF_GRID),
        (1, 110, 3, E.OFF_GRID),
        (1, NO_PRICE, 3, E.OFF_GRID),
        (-1, 106, 3, E.CAPACITY),  # a second level order, one slot
    ]:
        assert R.set_level_lots(state, side, price, qty, 0) == status
        assert all((a == b).all() for a, b in zip(state, before, strict=True))
    assert R.set_level_lots(state, 1, 105, 0, 0) == E.OK and E.best_bid(state) == NO_PRICE
    assert state[0][E.N_ORDERS] == 0 and state[0][E.SUBMITTED] == state[0][E.CANCELLED] == 7
