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

**Level orders** (for a replay that starts mid-stream, e.g. a LOBSTER window whose earlier orders are known only as
price levels): ``add_level_lots(state, side, price_ticks, qty_lots, ts_ns)`` adds lots to the level's one *level
order* (id ``level_order_id(side, price_ticks)``, a reserved negative id; created at the tail of the queue when
absent; it never matches: the caller keeps the book uncrossed); ``reduce_at_level(state, side, price_ticks,
qty_lots)`` removes ``min(qty_lots, level lots)`` from the level, from its level order first, then from the head of
the queue, and returns the lots it took from other orders than the level order; ``level_order_qty`` reads a level
order's lots; ``clear_beyond(state, side, keep)`` removes every order of the levels beyond the ``keep`` best and
returns the price of the ``keep``-th (NO_PRICE when the side has fewer); ``set_level_lots(state, side, price_ticks,
qty_lots, ts_ns)`` is an L2 "the level now holds ``qty_lots``" update (0 empties it): it adds the difference with
``add_level_lots`` or removes it with ``reduce_at_level`` (the Binance diff-depth rebuild). Removed lots count as
``CANCELLED``, added ones as ``SUBMITTED``.
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


@numba.njit(cache=True, inline="always")
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


@numba.njit(cache=True, inline="always")
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
        for f in range(before, out[1][0]):
            fill_event[f] = e
        if n_grid == 0:
            E.top_k(state, depth, bid_price, bid_qty, ask_price, ask_qty, e)
            g = e + 1
    while g < n_grid:
        E.top_k(state, depth, bid_price, bid_qty, ask_price, ask_qty, g)
        g += 1
    return E.OK, kind.shape[0], g


# ---------------------------------------------------------------- level orders: lots known only as a price level

LEVEL_ID_BASE = -(
    1 << 62
)  # level_order_id(side, price) = LEVEL_ID_BASE + 2 * price + (side == -1): < 0 for |price| < 2**60


@numba.njit(cache=True)
def level_order_id(side, price_ticks):
    return LEVEL_ID_BASE + 2 * price_ticks + (1 if side == -1 else 0)


@numba.njit(cache=True)
def level_order_qty(state, side, price_ticks):
    slot = E.order_slot(state, level_order_id(side, price_ticks))
    return 0 if slot < 0 else state[1][slot, E.O_QTY]


@numba.njit(cache=True)
def _grid_index(state, side, price_ticks):
    i = price_ticks - state[0][E.ORIGIN]
    if (side != 1 and side != -1) or price_ticks == E.NO_PRICE or i < 0 or i >= state[2].shape[1]:
        return -1
    return i


@numba.njit(cache=True)
def add_level_lots(state, side, price_ticks, qty_lots, ts_ns):
    """Add ``qty_lots`` to the level order at ``price_ticks``; return a status (``OK``, ``CAPACITY``, ...)."""
    meta, orders, levels = state[0], state[1], state[2]
    if side != 1 and side != -1:
        return E.BAD_SIDE
    if qty_lots <= 0:
        return E.NON_POSITIVE_QTY
    i = _grid_index(state, side, price_ticks)
    if i < 0:
        return E.OFF_GRID
    oid = level_order_id(side, price_ticks)
    slot = E.order_slot(state, oid)
    if slot >= 0:
        orders[slot, E.O_QTY] += qty_lots
        levels[E.BID_ROW if side == 1 else E.ASK_ROW, i, E.L_QTY] += qty_lots
    elif meta[E.FREE] < 0:
        return E.CAPACITY
    else:
        E._rest(state, side, price_ticks, qty_lots, oid, ts_ns)
    meta[E.SUBMITTED] += qty_lots
    return E.OK


@numba.njit(cache=True)
def reduce_at_level(state, side, price_ticks, qty_lots):
    """Remove ``min(qty_lots, lots at the level)``: the level order's first, then from the queue's head.

    Returns the lots taken from other orders than the level order (0 when the level order held enough).
    """
    i = _grid_index(state, side, price_ticks)
    if i < 0 or qty_lots <= 0:
        return 0
    meta, levels = state[0], state[2]
    row = E.BID_ROW if side == 1 else E.ASK_ROW
    done = min(qty_lots, levels[row, i, E.L_QTY])
    left = done
    slot = E.order_slot(state, level_order_id(side, price_ticks))
    if slot >= 0:
        left -= E._reduce(state, slot, left)
    others = left
    while left > 0:
        left -= E._reduce(state, levels[row, i, E.L_HEAD], left)
    meta[E.CANCELLED] += done
    return others


@numba.njit(cache=True, inline="always")
def set_level_lots(state, side, price_ticks, qty_lots, ts_ns):
    """An L2 update: the level at ``price_ticks`` now holds ``qty_lots`` (0 empties it); return a status.

    The same as adding the difference with ``add_level_lots`` (the level order, created at ``ts_ns``) or removing it
    with ``reduce_at_level`` (the level order first, then the queue's head). An empty level, or one whose only order
    is its level order (a pure L2 book), is changed directly (no hash look-up). ``OK``, ``BAD_SIDE``, ``OFF_GRID``,
    ``NON_POSITIVE_QTY`` (``qty_lots < 0``) or ``CAPACITY`` (a new level order and no free slot); nothing changes
    unless ``OK``.
    """
    meta, orders, levels = state[0], state[1], state[2]
    if side != 1 and side != -1:
        return E.BAD_SIDE
    if qty_lots < 0:
        return E.NON_POSITIVE_QTY
    i = price_ticks - meta[E.ORIGIN]
    if price_ticks == E.NO_PRICE or i < 0 or i >= levels.shape[1]:
        return E.OFF_GRID
    row = E.BID_ROW if side == 1 else E.ASK_ROW
    now, head = levels[row, i, E.L_QTY], levels[row, i, E.L_HEAD]
    if qty_lots == now:
        return E.OK
    if now == 0:  # an empty level: a new level order is its whole queue
        if meta[E.FREE] < 0:
            return E.CAPACITY
        E._rest(state, side, price_ticks, qty_lots, level_order_id(side, price_ticks), ts_ns)
        meta[E.SUBMITTED] += qty_lots
        return E.OK
    if levels[row, i, E.L_COUNT] != 1 or orders[head, E.O_ID] != level_order_id(side, price_ticks):
        if qty_lots > now:  # a mixed queue: the general path
            return add_level_lots(state, side, price_ticks, qty_lots - now, ts_ns)
        reduce_at_level(state, side, price_ticks, now - qty_lots)
    elif qty_lots == 0:
        E._unlink(state, head)
        meta[E.CANCELLED] += now
    else:
        orders[head, E.O_QTY] = qty_lots
        levels[row, i, E.L_QTY] = qty_lots
        meta[E.SUBMITTED if qty_lots > now else E.CANCELLED] += abs(qty_lots - now)
    return E.OK


@numba.njit(cache=True)
def clear_beyond(state, side, keep):
    """Remove every order of the levels beyond the ``keep`` best; return the ``keep``-th level's price."""
    meta, levels = state[0], state[2]
    row, step = (E.BID_ROW, -1) if side == 1 else (E.ASK_ROW, 1)
    n_levels = meta[E.N_BID] if side == 1 else meta[E.N_ASK]
    i = meta[E.BEST_BID] if side == 1 else meta[E.BEST_ASK]
    seen, kept = 0, E.NO_PRICE
    while seen < n_levels:
        if levels[row, i, E.L_COUNT] > 0:
            seen += 1
            if seen == keep:
                kept = meta[E.ORIGIN] + i
            elif seen > keep:
                meta[E.CANCELLED] += levels[row, i, E.L_QTY]
                while levels[row, i, E.L_HEAD] >= 0:
                    E._unlink(state, levels[row, i, E.L_HEAD])
        i += step
    return kept
