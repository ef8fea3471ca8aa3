"""Numba kernel replaying LOBSTER messages on the matching engine, knowing which levels it does not know.

The book is the engine of :mod:`simlab.book._engine` (order-level, FIFO): a new limit order (type 1) is a real
engine order (``limit``); a cancel, delete or execution (types 2-4) takes its lots from the order it names when that
order rests at the message's price (``cancel`` / ``delete`` / ``execute``), else (an order resting before the
window, known only as part of a price level) from the level's *level order*
(:func:`simlab.book._engine_replay.reduce_at_level`). The start state (a book row) is one level order per level.

A level-N LOBSTER message file only carries the events that touch the N best levels of a side, so the kernel keeps,
per side, only the levels it knows *exactly*: every level whose key is at or better than the side's ``bound`` (keys
are ``price`` for asks and ``-price`` for bids, so a smaller key is better on both sides). Events beyond the bound
are not trusted and are ignored; after a message creates a level on a side then holding N or more, the side
forgets the levels beyond level N (their orders leave the engine: their later events are not reported) and moves
its bound to level N. ``bound`` is ``UNBOUNDED`` when the whole side is known (fewer than N levels were visible) and
``UNKNOWN`` when nothing is. Level k of a side is *determined* after a message when k <= the number of known
levels or the side is complete. In *reveal* mode the undetermined levels are then taken from the orderbook file's
row (the only source for a level that enters the window from beyond it) as level orders and tracked exactly from
there on. Every book cell is the engine's ``top_k``; the level totals follow the messages' sizes exactly, and lots
a message could not take from the order it names or from a level order are counted (``counts``).
"""

from __future__ import annotations

import numba
import numpy as np

from simlab.book import _engine as E
from simlab.book import _engine_replay as R

UNBOUNDED = np.iinfo(np.int64).max
UNKNOWN = np.iinfo(np.int64).min
OK, OVER_REMOVE, NO_LEVEL, CROSSED, REVEAL_CONFLICT, GROW = 0, 1, 2, 3, 4, 5
LEVEL_ORDER_REMOVALS, OTHER_ORDER_LOTS, DUPLICATE_ADDS = 0, 1, 2  # slots of ``counts``
N_COUNTS = 3
COUNT_NAMES = (
    "level_order_removals",  # removals naming an order the engine does not hold, served by the level order
    "unattributed_lots",  # lots a removal took from orders it does not name (an order-level inconsistency)
    "duplicate_id_adds",  # new orders whose id already rests: their lots join the level order
)


@numba.njit(cache=True)
def _add(state, out, eside, price, qty, oid, ts, counts):
    """A new order: a real engine order, resting without matching when it crosses (the caller reports it)."""
    meta = state[0]
    if eside == 1:
        crossing = meta[E.N_ASK] > 0 and price >= meta[E.ORIGIN] + meta[E.BEST_ASK]
    else:
        crossing = meta[E.N_BID] > 0 and price <= meta[E.ORIGIN] + meta[E.BEST_BID]
    status = E.DUPLICATE_ID if crossing else E.limit(state, eside, price, qty, oid, ts, out)
    if status == E.DUPLICATE_ID:  # crossing, or an id that already rests: the lots join the level order
        counts[DUPLICATE_ADDS] += not crossing
        return R.add_level_lots(state, eside, price, qty, ts)
    return status


@numba.njit(cache=True)
def _remove(state, out, typ, eside, price, qty, oid, ts, counts):
    """Take ``qty`` lots (<= the level's) from the named order, then from the level (level order first)."""
    orders = state[1]
    slot = E.order_slot(state, oid)
    if slot >= 0 and orders[slot, E.O_PRICE] == price and orders[slot, E.O_SIDE] == eside:
        remaining = orders[slot, E.O_QTY]
        own = min(qty, remaining)
        if typ == 4:
            E.execute(state, oid, own, -eside, ts, out)
            out[1][0] = 0  # the replay keeps no fills
        elif typ == 3 and own == remaining:
            E.delete(state, oid, out)
        else:
            E.cancel(state, oid, own, out)
        qty -= own
    if qty > 0:
        counts[LEVEL_ORDER_REMOVALS] += slot < 0
        counts[OTHER_ORDER_LOTS] += R.reduce_at_level(state, eside, price, qty)


@numba.njit(cache=True)
def apply_message(state, out, bounds, typ, s, key, delta, oid, ts, counts):
    """Add ``delta`` lots at ``key`` on side ``s`` (0 bid, 1 ask); return (code, lots held before, level created)."""
    if delta == 0 or key > bounds[s]:
        return OK, 0, False
    eside = 1 - 2 * s
    price = -key if s == 0 else key
    held = E.level_qty(state, eside, price)
    if delta > 0:
        status = _add(state, out, eside, price, delta, oid, ts, counts)
        return (OK if status == E.OK else GROW), held, held == 0
    if held == 0:
        return NO_LEVEL, 0, False
    if held < -delta:
        return OVER_REMOVE, held, False
    _remove(state, out, typ, eside, price, -delta, oid, ts, counts)
    return OK, held, False


@numba.njit(cache=True)
def undo(state, bounds, s, key, delta):
    """Undo ``delta`` lots at ``key`` on side ``s`` from a start state of level orders: (code, lots held)."""
    if delta == 0 or key > bounds[s]:
        return OK, 0
    eside = 1 - 2 * s
    price = -key if s == 0 else key
    held = E.level_qty(state, eside, price)
    if delta < 0:
        R.add_level_lots(state, eside, price, -delta, 0)
        return OK, held
    if held == 0:
        return NO_LEVEL, 0
    if held < delta:
        return OVER_REMOVE, held
    R.reduce_at_level(state, eside, price, delta)
    return OK, held


@numba.njit(cache=True)
def replay_kernel(state, out, bounds, columns, start, levels, file_key, file_qty, books, known, counts, err):
    """Apply messages ``start, start + 1, ...``; write the N-level book and the determined level count after each.

    ``columns = (typ, side, key, delta, order_id, ts)``: LOBSTER type, side 0 (bid) or 1 (ask), signed key, signed
    lots added to the level, order id and time. ``books = (bid_price, bid_qty, ask_price, ask_qty)`` are (rows, N);
    ``known`` (rows, 2) gets the levels determined by the start state and the messages. When ``file_key`` /
    ``file_qty`` (rows, 2, N; signed keys) have rows, undetermined levels are *revealed*: taken from the file's row
    as level orders, then tracked like the others. Returns the row to resume from after ``GROW`` (the engine needs
    more order slots or a wider grid for that row, which is not applied yet), or, on failure, the row with ``err``
    set to (code, row, side, key, lots).
    """
    typ, side, key, delta, oid, ts = columns
    meta, capacity = state[0], state[1].shape[0]
    for i in range(start, key.shape[0]):
        if capacity - meta[E.N_ORDERS] < 2 * levels + 2:
            err[0] = GROW
            return i
        s = side[i]
        code, held, created = apply_message(state, out, bounds, typ[i], s, key[i], delta[i], oid[i], ts[i], counts)
        if code == GROW:
            err[0] = GROW
            return i
        if code != OK:
            return _fail(err, code, i, s, key[i], held)
        if created and (meta[E.N_BID] if s == 0 else meta[E.N_ASK]) >= levels:
            kept = R.clear_beyond(state, 1 - 2 * s, levels)
            bounds[s] = -kept if s == 0 else kept
        for b in range(2):
            n = meta[E.N_BID] if b == 0 else meta[E.N_ASK]
            known[i, b] = levels if (n >= levels or bounds[b] == UNBOUNDED) else n
            if file_key.shape[0] and known[i, b] < levels:
                bad = _reveal(state, bounds, b, n, levels, file_key[i, b], file_qty[i, b], ts[i])
                if bad >= 0:
                    return _fail(err, REVEAL_CONFLICT, i, b, file_key[i, b, bad], file_qty[i, b, bad])
        if meta[E.N_BID] > 0 and meta[E.N_ASK] > 0 and meta[E.BEST_BID] >= meta[E.BEST_ASK]:
            return _fail(err, CROSSED, i, s, key[i], meta[E.ORIGIN] + meta[E.BEST_BID])
        E.top_k(state, levels, books[0], books[1], books[2], books[3], i)
    err[0] = OK
    return key.shape[0]


@numba.njit(cache=True)
def _reveal(state, bounds, b, m, levels, row_key, row_qty, ts):
    """Adopt the file's levels ``m, m + 1, ...`` as level orders; return the level of a conflict, or -1."""
    eside = 1 - 2 * b
    for j in range(m, levels):
        if row_qty[j] == 0:
            bounds[b] = UNBOUNDED
            break
        if row_key[j] <= bounds[b]:
            return j
        R.add_level_lots(state, eside, -row_key[j] if b == 0 else row_key[j], row_qty[j], ts)
        m += 1
    if m == levels:
        bounds[b] = row_key[levels - 1]
    return -1


@numba.njit(cache=True)
def _fail(err, code, row, side, key, held):
    err[0] = code
    err[1] = row
    err[2] = side
    err[3] = key
    err[4] = held
    return row


# ---------------------------------------------------------------- the driver (Python): engine, start state, growth

MAX_TICKS = 1 << 25  # the engine's dense price grid (64 bytes a tick): wider replays are refused
_INITIAL_ORDERS = 1 << 16


def replay(columns, levels, start, file_key, file_qty):
    """Run the kernel on a new engine; return ``(books, known, counts, err, phase)``.

    ``start`` is None or per side (bid, ask) ``(prices, qtys, bound)``: the known levels of the start state as
    level orders (with ``undo`` the first message is undone from it first: ``phase`` 0 when that fails, else 1).
    ``err[0]`` is ``OK`` or the failing code (``GROW`` with ``err[1]`` the row when the grid would exceed
    ``MAX_TICKS``).
    """
    typ, side, key, delta = columns[:4]
    n = key.shape[0]
    state = _new_state(columns, levels, start, file_key)
    if state is None:  # the start book or the file's rows alone span more than MAX_TICKS
        return None, None, None, np.array([GROW, 0, 0, 0, 0]), 1
    bounds = np.full(2, UNKNOWN, np.int64)
    out, err, counts = E.new_fills(1), np.zeros(5, np.int64), np.zeros(N_COUNTS, np.int64)
    books = tuple(np.zeros((n, levels), np.int64) for _ in range(4))
    known = np.zeros((n, 2), np.int64)
    if start is not None:
        _load(state, bounds, start, columns)
        if start[2] and n:
            code, held = undo(state, bounds, side[0], key[0], delta[0])
            if code != OK:
                err[:] = code, 0, side[0], key[0], held
                return books, known, counts, err, 0
    row = 0
    while True:
        row = replay_kernel(state, out, bounds, columns, row, levels, file_key, file_qty, books, known, counts, err)
        if err[0] != GROW:
            return books, known, counts, err, 1
        state = _grow(state, columns, row, levels)
        if state is None:
            err[1] = row
            return books, known, counts, err, 1


def _new_state(columns, levels, start, file_key):
    key = columns[2]
    near = [np.abs(file_key[file_key != 0]), np.abs(key[:1][key[:1] != 0])]
    if start is not None:
        near += [start[0][0], start[1][0]]
    near = np.concatenate(near)
    found = np.concatenate([near, np.abs(key[key != 0])])
    if found.size and int(found.max()) - int(found.min()) >= MAX_TICKS:
        found = near  # the book's neighbourhood: the grid grows when a price needs it
    low, high = (int(found.min()), int(found.max())) if found.size else (0, 0)
    if high - low >= MAX_TICKS:
        return None
    n_adds = int((columns[0] == 1).sum())
    return E.new_engine(low, high - low + 1, min(n_adds, _INITIAL_ORDERS) + 2 * levels + 2)


def _load(state, bounds, start, columns):
    for b in range(2):
        prices, qtys, bound = start[b]
        for price, qty in zip(prices.tolist(), qtys.tolist(), strict=True):
            R.add_level_lots(state, 1 - 2 * b, price, qty, int(columns[5][0]) if columns[5].shape[0] else 0)
        bounds[b] = bound


def _grow(state, columns, row, levels):
    meta, orders, grid = state[0], state[1], state[2]
    capacity = orders.shape[0]
    if capacity - meta[E.N_ORDERS] < 2 * levels + 2:
        capacity *= 2
    low, high = int(meta[E.ORIGIN]), int(meta[E.ORIGIN]) + grid.shape[1] - 1
    price = abs(int(columns[2][row]))
    if columns[3][row] > 0 and not low <= price <= high:
        span = high - low + 1
        low, high = min(low, price - span), max(high, price + span)  # at least double: amortized growth
        if max(high, price) - min(low, price) >= MAX_TICKS:
            low, high = min(int(meta[E.ORIGIN]), price), max(int(meta[E.ORIGIN]) + grid.shape[1] - 1, price)
            if high - low >= MAX_TICKS:
                return None
    return E.grow_engine(state, low, high - low + 1, capacity)
