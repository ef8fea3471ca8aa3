"""Replay an order-level event stream through the matching engine (private numba kernel behind ``match_events``).

``replay(state, out, fill_event, columns, start, resting_trades, lenient, grid_ts, books, book_row, counts, first)``
applies events ``start, start + 1, ...`` of ``columns = (kind, side, price_ticks, qty_lots, order_id, ts_ns)``:
ADD -> ``limit``, CANCEL -> ``cancel``, DELETE -> ``delete``, MODIFY -> ``modify``, TRADE -> ``market`` (or, with
``resting_trades``, ``execute`` of the resting order ``order_id``: an ITCH / LOBSTER execution message); TRADE_HIDDEN,
AUCTION and HALT leave the book alone (counted in ``counts[SKIPPED]``). Every fill row gets its event index in
``fill_event``. Books ``(bid_price, bid_qty, ask_price, ask_qty)`` of shape ``(n_rows, depth)`` get a row after each
event (``grid_ts`` empty) or, for each grid time ``t`` in ``grid_ts``, the book after every event with ``ts_ns <= t``.

It stops at the first event whose status is not ``OK`` and returns ``(status, event_index, book_row)`` with that event
not applied (the engine's operations are atomic), so the caller can grow the engine or the fill buffer and resume
with ``start = event_index, book_row = book_row``; ``(OK, n_events, n_rows)`` when done. With ``lenient`` an unknown
order id (an order resting before the stream starts) is not an error: the event is skipped and counted in
``counts[UNKNOWN_CANCEL + ...]``. ``counts`` also holds cancels and executions asking more than rests (``CAPPED``:
the engine removes what rests), executions of an order that is not first in the best queue (``OUT_OF_PRIORITY``)
and ADDs that traded on arrival (``ADD_TRADED``); ``first`` holds each counter's first event index (-1 when none).
"""

from __future__ import annotations

import numba

from simlab.book import _engine as E

ADD, CANCEL, DELETE, MODIFY, TRADE = 1, 2, 3, 4, 5  # simlab.schema.EventKind
(UNKNOWN_CANCEL, UNKNOWN_DELETE, UNKNOWN_MODIFY, UNKNOWN_TRADE, SKIPPED, CAPPED, OUT_OF_PRIORITY, ADD_TRADED) = range(8)
N_COUNTS = 8
COUNT_NAMES = (
    "unknown_cancel",
    "unknown_delete",
    "unknown_modify",
    "unknown_trade",
    "skipped_no_book_effect",
    "capped_to_resting",
    "executed_out_of_priority",
    "add_traded_on_arrival",
)


@numba.njit(cache=True)
def _count(counts, first, which, event):
    if counts[which] == 0:
        first[which] = event
    counts[which] += 1


@numba.njit(cache=True)
def _out_of_priority(state, order_id):
    slot = E.order_slot(state, order_id)
    if slot < 0:
        return False
    orders = state[1]
    best = E.best_bid(state) if orders[slot, E.O_SIDE] == 1 else E.best_ask(state)
    return orders[slot, E.O_PREV] >= 0 or orders[slot, E.O_PRICE] != best


@numba.njit(cache=True)
def _apply(state, out, k, s, p, q, oid, t, resting_trades, counts, first, e):
    if k == ADD:
        return E.limit(state, s, p, q, oid, t, out)
    if k == CANCEL:
        return E.cancel(state, oid, q, out)
    if k == DELETE:
        return E.delete(state, oid, out)
    if k == MODIFY:
        return E.modify(state, oid, p, q, t, out)
    if k == TRADE:
        if not resting_trades:
            return E.market(state, s, q, oid, t, out)
        if _out_of_priority(state, oid):
            _count(counts, first, OUT_OF_PRIORITY, e)
        return E.execute(state, oid, q, s, t, out)
    _count(counts, first, SKIPPED, e)
    return E.OK


@numba.njit(cache=True)
def _after(state, k, q, counts, first, e):
    meta = state[0]
    if k == CANCEL and meta[E.LAST_REMOVED] < q:
        _count(counts, first, CAPPED, e)
    elif k == TRADE and meta[E.LAST_UNFILLED] == 0 and meta[E.LAST_FILLED] < q:
        _count(counts, first, CAPPED, e)
    elif k == ADD and meta[E.LAST_FILLED] > 0:
        _count(counts, first, ADD_TRADED, e)


@numba.njit(cache=True)
def replay(state, out, fill_event, columns, start, resting_trades, lenient, grid_ts, books, book_row, counts, first):
    kind, side, price, qty, oid, ts = columns
    bid_price, bid_qty, ask_price, ask_qty = books
    depth, n_grid, g = bid_price.shape[1], grid_ts.shape[0], book_row
    for e in range(start, kind.shape[0]):
        while g < n_grid and grid_ts[g] < ts[e]:
            E.top_k(state, depth, bid_price, bid_qty, ask_price, ask_qty, g)
            g += 1
        k = kind[e]
        before = out[1][0]
        status = _apply(state, out, k, side[e], price[e], qty[e], oid[e], ts[e], resting_trades, counts, first, e)
        if status == E.UNKNOWN_ID and lenient and CANCEL <= k <= TRADE:
            _count(counts, first, UNKNOWN_CANCEL + k - CANCEL, e)
            status = E.OK
        elif status == E.OK:
            _after(state, k, qty[e], counts, first, e)
        if status != E.OK:
            return status, e, g
        fill_event[before : out[1][0]] = e
        if n_grid == 0:
            E.top_k(state, depth, bid_price, bid_qty, ask_price, ask_qty, e)
            g = e + 1
    while g < n_grid:
        E.top_k(state, depth, bid_price, bid_qty, ask_price, ask_qty, g)
        g += 1
    return E.OK, kind.shape[0], g
