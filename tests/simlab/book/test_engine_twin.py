"""The slow, obvious twin of the matching engine: per side a dict price -> list of orders, scanned by sorting."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.book import _engine as E
from simlab.schema import NO_PRICE


class ListBook:
    """Price-time priority with Python lists; the same statuses and fills as ``simlab.book._engine``."""

    def __init__(self, low: int, n_ticks: int, capacity: int):
        self.low, self.high, self.capacity = low, low + n_ticks - 1, capacity
        self.sides: dict[int, dict[int, list[list[int]]]] = {1: {}, -1: {}}  # price -> [[id, qty, ts], ...]
        self.where: dict[int, tuple[int, int]] = {}  # id -> (side, price)
        self.fills: list[tuple[int, ...]] = []
        self.totals = {"submitted": 0, "traded": 0, "cancelled": 0, "expired": 0}

    # ------------------------------------------------------------ helpers
    def _crossing_queues(self, side: int, limit: int | None):
        book = self.sides[-side]
        prices = sorted(book, reverse=side == -1)
        return [(p, book[p]) for p in prices if limit is None or (p <= limit if side == 1 else p >= limit)]

    def _needs(self, side: int, limit: int | None, qty: int) -> tuple[int, int]:
        left, rows = qty, 0
        for _, queue in self._crossing_queues(side, limit):
            for _, q, _ in queue:
                if left == 0:
                    return qty - left, rows
                left -= min(left, q)
                rows += 1
        return qty - left, rows

    def _match(self, side: int, limit: int | None, qty: int, order_id: int, ts: int) -> int:
        left = qty
        for price, queue in self._crossing_queues(side, limit):
            while left and queue:
                head = queue[0]
                take = min(left, head[1])
                self.fills.append((ts, side, price, take, head[0], order_id))
                left -= take
                head[1] -= take
                if head[1] == 0:
                    queue.pop(0)
                    del self.where[head[0]]
            if not queue:
                del self.sides[-side][price]
            if not left:
                break
        self.totals["traded"] += qty - left
        return left

    def _rest(self, side: int, price: int, qty: int, order_id: int, ts: int) -> None:
        self.sides[side].setdefault(price, []).append([order_id, qty, ts])
        self.where[order_id] = (side, price)

    def _find(self, order_id: int) -> list[int] | None:
        if order_id not in self.where:
            return None
        side, price = self.where[order_id]
        return next(o for o in self.sides[side][price] if o[0] == order_id)

    def _remove(self, order_id: int) -> int:
        side, price = self.where.pop(order_id)
        queue = self.sides[side][price]
        order = next(o for o in queue if o[0] == order_id)
        queue.remove(order)
        if not queue:
            del self.sides[side][price]
        return order[1]

    def n_orders(self) -> int:
        return len(self.where)

    # ------------------------------------------------------------ operations
    def limit(self, side, price, qty, order_id, ts, free_rows):
        if side not in (1, -1):
            return E.BAD_SIDE
        if qty <= 0:
            return E.NON_POSITIVE_QTY
        if not self.low <= price <= self.high:
            return E.OFF_GRID
        if order_id in self.where:
            return E.DUPLICATE_ID
        if self.n_orders() >= self.capacity and self._needs(side, price, qty)[0] < qty:
            return E.CAPACITY
        if self._needs(side, price, qty)[1] > free_rows:
            return E.FILL_CAPACITY
        self.totals["submitted"] += qty
        left = self._match(side, price, qty, order_id, ts)
        if left:
            self._rest(side, price, left, order_id, ts)
        return E.OK

    def market(self, side, qty, order_id, ts, free_rows):
        if side not in (1, -1):
            return E.BAD_SIDE
        if qty <= 0:
            return E.NON_POSITIVE_QTY
        if self._needs(side, None, qty)[1] > free_rows:
            return E.FILL_CAPACITY
        self.totals["submitted"] += qty
        self.totals["expired"] += self._match(side, None, qty, order_id, ts)
        return E.OK

    def cancel(self, order_id, qty):
        if qty <= 0:
            return E.NON_POSITIVE_QTY
        order = self._find(order_id)
        if order is None:
            return E.UNKNOWN_ID
        if qty >= order[1]:
            self.totals["cancelled"] += self._remove(order_id)
        else:
            order[1] -= qty
            self.totals["cancelled"] += qty
        return E.OK

    def delete(self, order_id):
        if order_id not in self.where:
            return E.UNKNOWN_ID
        self.totals["cancelled"] += self._remove(order_id)
        return E.OK

    def modify(self, order_id, price, qty, ts, free_rows):
        if qty <= 0:
            return E.NON_POSITIVE_QTY
        order = self._find(order_id)
        if order is None:
            return E.UNKNOWN_ID
        if not self.low <= price <= self.high:
            return E.OFF_GRID
        side, old_price = self.where[order_id]
        if price == old_price and qty <= order[1]:
            self.totals["cancelled"] += order[1] - qty
            order[1] = qty
            return E.OK
        if self._needs(side, price, qty)[1] > free_rows:
            return E.FILL_CAPACITY
        self.totals["cancelled"] += self._remove(order_id)
        return self.limit(side, price, qty, order_id, ts, free_rows)

    def execute(self, order_id, qty, side, ts, free_rows):
        if qty <= 0:
            return E.NON_POSITIVE_QTY
        order = self._find(order_id)
        if order is None:
            return E.UNKNOWN_ID
        if free_rows < 1:
            return E.FILL_CAPACITY
        price = self.where[order_id][1]
        done = min(qty, order[1])
        if done == order[1]:
            self._remove(order_id)
        else:
            order[1] -= done
        self.fills.append((ts, side, price, done, order_id, -1))
        self.totals["submitted"] += done
        self.totals["traded"] += done
        return E.OK

    # ------------------------------------------------------------ queries
    def top(self, side: int, k: int) -> list[tuple[int, int]]:
        prices = sorted(self.sides[side], reverse=side == 1)[:k]
        rows = [(p, sum(o[1] for o in self.sides[side][p])) for p in prices]
        return rows + [(NO_PRICE, 0)] * (k - len(rows))

    def queue_ahead(self, order_id: int) -> int:
        if order_id not in self.where:
            return -1
        side, price = self.where[order_id]
        ahead = 0
        for o in self.sides[side][price]:
            if o[0] == order_id:
                return ahead
            ahead += o[1]
        raise AssertionError("unreachable")

    def resting(self) -> int:
        return sum(o[1] for side in self.sides.values() for queue in side.values() for o in queue)


# ---------------------------------------------------------------- the engine against the twin


def _random_op(rng: np.random.Generator, low: int, n_ticks: int, ids: int) -> tuple:
    kind = int(rng.choice(7, p=[0.42, 0.12, 0.12, 0.1, 0.1, 0.1, 0.04]))
    side = int(rng.choice([1, -1])) if rng.random() > 0.01 else 0
    mid = low + n_ticks // 2 + int(rng.integers(-3, 4))
    price = int(np.clip(mid + side * int(rng.geometric(0.3)) - side * 2, low - 2, low + n_ticks + 1))
    qty = int(rng.integers(1, 30)) if rng.random() > 0.02 else int(rng.integers(-2, 1))
    return kind, side, price, qty, int(rng.integers(ids)) * 7919 - 50_000  # ids spread over negatives too


def _apply_both(engine, out, twin: ListBook, op: tuple, ts: int) -> tuple[int, int]:
    kind, side, price, qty, oid = op
    free = out[0].shape[0] - int(out[1][0])
    if kind == 0:
        return E.limit(engine, side, price, qty, oid, ts, out), twin.limit(side, price, qty, oid, ts, free)
    if kind == 1:
        return E.market(engine, side, qty, oid, ts, out), twin.market(side, qty, oid, ts, free)
    if kind == 2:
        return E.cancel(engine, oid, qty, out), twin.cancel(oid, qty)
    if kind == 3:
        return E.delete(engine, oid, out), twin.delete(oid)
    if kind == 4:
        return E.modify(engine, oid, price, qty, ts, out), twin.modify(oid, price, qty, ts, free)
    if kind == 5:
        return E.execute(engine, oid, qty, side, ts, out), twin.execute(oid, qty, side, ts, free)
    k = int(abs(qty)) % 4 + 1
    return _compare_queries(engine, twin, k), E.OK


def _compare_queries(engine, twin: ListBook, k: int) -> int:
    for side in (1, -1):
        top = twin.top(side, k + 1)
        for level in range(1, k + 2):
            assert E.queue_qty_at(engine, side, level) == top[level - 1][1]
        for price, qty in top:
            if price != NO_PRICE:
                assert E.level_qty(engine, side, price) == qty
    for oid in list(twin.where)[:5]:
        assert E.queue_ahead(engine, oid) == twin.queue_ahead(oid)
    return E.OK


def _compare_books(engine, twin: ListBook, depth: int) -> None:
    arrays = [np.zeros((1, depth), np.int64) for _ in range(4)]
    E.top_k(engine, depth, *arrays, 0)
    bids, asks = twin.top(1, depth), twin.top(-1, depth)
    assert arrays[0][0].tolist() == [p for p, _ in bids] and arrays[1][0].tolist() == [q for _, q in bids]
    assert arrays[2][0].tolist() == [p for p, _ in asks] and arrays[3][0].tolist() == [q for _, q in asks]
    assert E.best_bid(engine) == bids[0][0] and E.best_ask(engine) == asks[0][0]
    books = np.full((4, 3, depth), 7, np.int64)  # top_k_book: the same levels, into row 1 of a (4, rows, k) array
    E.top_k_book(engine, books, 1)
    assert books[:, 1].tolist() == [a[0].tolist() for a in arrays]
    assert (books[:, [0, 2]] == 7).all()


def _run_stream(seed: int, n_ops: int, capacity: int, fill_rows: int, depth: int = 6) -> dict:
    rng = np.random.default_rng(seed)
    low, n_ticks = int(rng.integers(-50, 1000)), int(rng.integers(8, 40))
    engine, twin = E.new_engine(low, n_ticks, capacity), ListBook(low, n_ticks, capacity)
    out = E.new_fills(fill_rows)
    seen: dict[int, int] = {}
    for ts in range(n_ops):
        op = _random_op(rng, low, n_ticks, ids=2 * capacity)
        got, want = _apply_both(engine, out, twin, op, ts)
        assert got == want, (seed, ts, op, E.STATUS_TEXT[got], E.STATUS_TEXT[want])
        seen[got] = seen.get(got, 0) + 1
        if rng.random() < 0.1 or int(out[1][0]) == out[0].shape[0]:
            n = int(out[1][0])
            assert [tuple(r) for r in out[0][:n].tolist()] == twin.fills, (seed, ts, op)
            twin.fills.clear()
            out[1][0] = 0
        _compare_books(engine, twin, depth)
        meta = engine[0]
        assert meta[E.N_ORDERS] == twin.n_orders()
        assert [meta[E.SUBMITTED], meta[E.TRADED], meta[E.CANCELLED], meta[E.EXPIRED]] == list(twin.totals.values())
    return seen


@pytest.mark.parametrize("seed", range(8))
def test_engine_equals_list_twin_on_random_streams(seed):
    seen = _run_stream(seed, n_ops=4000, capacity=64, fill_rows=2 + seed % 3)
    assert seen[E.OK] > 1500 and seen.get(E.FILL_CAPACITY, 0) > 0 and seen.get(E.UNKNOWN_ID, 0) > 0


@pytest.mark.parametrize("seed", range(3))
def test_engine_equals_list_twin_at_capacity(seed):
    """A tiny pool: CAPACITY is returned exactly when a remainder would need a slot and none is free."""
    seen = _run_stream(100 + seed, n_ops=3000, capacity=6, fill_rows=64)
    assert seen.get(E.CAPACITY, 0) > 0 and seen.get(E.DUPLICATE_ID, 0) > 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_engine_equals_list_twin_long_streams(seed):
    seen = _run_stream(200 + seed, n_ops=25_000, capacity=256, fill_rows=1 << 12)
    assert sum(seen.values()) == 25_000


def test_grow_engine_keeps_the_book():
    rng = np.random.default_rng(5)
    engine, twin = E.new_engine(100, 20, 8), ListBook(100, 20, 8)
    out = E.new_fills(1 << 12)
    for ts in range(3000):
        op = _random_op(rng, 100, 20, ids=40)
        got, want = _apply_both(engine, out, twin, op, ts)
        if got == E.CAPACITY or got == E.OFF_GRID:
            engine = E.grow_engine(engine, min(twin.low, op[2]), abs(op[2] - twin.low) + 20, 2 * twin.capacity)
            twin.capacity = engine[1].shape[0]
            twin.low = min(twin.low, engine[0][E.ORIGIN])
            twin.high = int(engine[0][E.ORIGIN]) + engine[2].shape[1] - 1
            got, want = _apply_both(engine, out, twin, op, ts)
        assert got == want
        _compare_books(engine, twin, 5)
    assert engine[1].shape[0] > 8 and engine[2].shape[1] > 20
    assert [tuple(r) for r in out[0][: out[1][0]].tolist()] == twin.fills
