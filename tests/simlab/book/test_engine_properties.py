"""Hypothesis properties of the matching engine over random operation streams (10^5+ operations in total).

Never crossed after matching; volume conserved (submitted = resting + 2 * traded + cancelled + expired, counted
from the inputs and fills, not from the engine's own totals); FIFO inside a price level (time priority strictly
increasing from head to tail, and the fills of one order walk each level head first); a cancel never removes more
than rests.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.book import _engine as E

LOW, N_TICKS = 1000, 24
KINDS = ("limit", "limit", "limit", "market", "cancel", "delete", "modify")
FIELDS = (len(KINDS), 2, N_TICKS, 40, 61)  # kind, side, price, qty - 1, order id


def _decode(code: int) -> tuple[str, int, int, int, int]:
    """One operation from one integer (mixed radix over FIELDS): a single draw per operation keeps generating 10^5
    operations cheap, and shrinking the integer towards 0 still shrinks towards a buy limit of 1 lot at LOW, id 0."""
    digits = []
    for radix in FIELDS:
        code, digit = divmod(code, radix)
        digits.append(digit)
    kind, side, price, qty, oid = digits
    return KINDS[kind], 1 - 2 * side, LOW + price, qty + 1, oid


operation = st.integers(0, int(np.prod(FIELDS)) - 1).map(_decode)


def _resting_and_fifo(state) -> int:
    meta, orders, levels = state[0], state[1], state[2]
    total = 0
    for row in (E.BID_ROW, E.ASK_ROW):
        for i in range(levels.shape[1]):
            slot, last_ts, qty, count = levels[row, i, E.L_HEAD], -1, 0, 0
            while slot >= 0:
                assert orders[slot, E.O_TS] > last_ts  # FIFO: strictly later priority towards the tail
                last_ts, qty, count = orders[slot, E.O_TS], qty + orders[slot, E.O_QTY], count + 1
                assert orders[slot, E.O_QTY] > 0 and orders[slot, E.O_PRICE] == meta[E.ORIGIN] + i
                slot = orders[slot, E.O_NEXT]
            assert qty == levels[row, i, E.L_QTY] and count == levels[row, i, E.L_COUNT]
            total += qty
    return total


def _check_fills(rows: np.ndarray, side: int, priority: dict[int, int]) -> None:
    prices = rows[:, E.F_PRICE]
    assert np.all(np.diff(prices) >= 0) if side == 1 else np.all(np.diff(prices) <= 0)
    for price in np.unique(prices):
        ts = [priority[int(p)] for p in rows[prices == price, E.F_PASSIVE]]
        assert ts == sorted(ts)


@pytest.mark.slow
@settings(max_examples=250, deadline=None)
@given(st.lists(operation, min_size=300, max_size=1000))
def test_matching_properties(ops):
    state, out = E.new_engine(LOW, N_TICKS, 256), E.new_fills(1 << 12)
    submitted = cancelled = traded = expired = 0
    priority: dict[int, int] = {}  # order id -> ts of its current priority
    for ts, (kind, side, price, qty, oid) in enumerate(ops):
        out[1][0] = 0
        slot = E.order_slot(state, oid)
        before = int(state[1][slot, E.O_QTY]) if slot >= 0 else 0
        before_price = int(state[1][slot, E.O_PRICE]) if slot >= 0 else E.NO_PRICE
        if kind == "limit":
            status = E.limit(state, side, price, qty, oid, ts, out)
            submitted += qty if status == E.OK else 0
        elif kind == "market":
            status = E.market(state, side, qty, -1, ts, out)
            submitted += qty if status == E.OK else 0
            expired += int(state[0][E.LAST_UNFILLED]) if status == E.OK else 0
        elif kind in ("cancel", "delete"):
            status = E.cancel(state, oid, qty, out) if kind == "cancel" else E.delete(state, oid, out)
            removed = int(state[0][E.LAST_REMOVED])
            assert removed <= before and removed == (min(qty, before) if kind == "cancel" else before)
            assert status == (E.OK if slot >= 0 else E.UNKNOWN_ID)
            cancelled += removed
        else:
            status = E.modify(state, oid, price, qty, ts, out)
            assert status == (E.OK if slot >= 0 else E.UNKNOWN_ID)
            if status == E.OK:
                same = price == before_price and qty <= before
                cancelled += before - qty if same else before
                submitted += 0 if same else qty
        assert status in (E.OK, E.UNKNOWN_ID, E.DUPLICATE_ID)
        n = int(out[1][0])
        if n:
            _check_fills(out[0][:n], int(out[0][0, E.F_SIDE]), priority)
        traded += int(out[0][:n, E.F_QTY].sum())
        if status == E.OK and E.order_slot(state, oid) >= 0:
            priority[oid] = int(state[1][E.order_slot(state, oid), E.O_TS])
        bid, ask = E.best_bid(state), E.best_ask(state)
        assert bid == E.NO_PRICE or ask == E.NO_PRICE or bid < ask  # never crossed after matching
        assert submitted == _resting_and_fifo(state) + 2 * traded + cancelled + expired
