"""A price-time priority matching engine over order-level (L3) state held in plain arrays (private numba kernels).

Contract (for replay, the book simulators and the agents; every function is ``@numba.njit(cache=True)`` and is
callable from Python and from other kernels; nothing raises, nothing allocates on the hot path):

**State.** ``state = new_engine(price_low_ticks, n_ticks, capacity_orders)`` is the tuple ``(meta, orders, levels,
table)`` of int64 arrays covering prices ``[price_low_ticks, price_low_ticks + n_ticks)`` and holding at most
``capacity_orders`` resting orders:

* ``meta`` ``(META_SIZE,)``: ``ORIGIN`` (price of grid index 0), ``BEST_BID`` / ``BEST_ASK`` (grid index of the touch;
  -1 / ``n_ticks`` when that side is empty), ``N_BID`` / ``N_ASK`` (non-empty levels per side), ``N_ORDERS`` (resting
  orders), ``FREE`` (head of the free-slot list), ``HASH_SHIFT``; the running totals in lots ``SUBMITTED`` (limit and
  market quantity accepted), ``TRADED`` (volume executed, counted once per fill), ``CANCELLED`` (removed by cancel,
  delete and modify) and ``EXPIRED`` (market quantity left unfilled), so that always
  ``SUBMITTED == resting + 2 * TRADED + CANCELLED + EXPIRED``; and the last call's ``LAST_FILLED`` (lots traded),
  ``LAST_RESTED`` (lots left resting by limit / modify), ``LAST_REMOVED`` (lots taken out by cancel / delete / the
  old order of a modify) and ``LAST_UNFILLED`` (lots of a market order nobody took).
* ``orders`` ``(capacity, ORDER_FIELDS)``: one row per slot: ``O_ID``, ``O_QTY`` (remaining lots; 0 = free slot),
  ``O_PRICE`` (ticks), ``O_SIDE``, ``O_PREV`` / ``O_NEXT`` (slots in the level's FIFO queue, -1 at the ends; ``O_NEXT``
  also chains the free list), ``O_TS`` (ns of the order's time priority).
* ``levels`` ``(2, n_ticks, LEVEL_FIELDS)`` (row ``BID_ROW`` / ``ASK_ROW``): ``L_HEAD`` / ``L_TAIL`` (first and last
  slot of the queue, -1 when empty), ``L_QTY`` (lots resting), ``L_COUNT`` (orders resting).
* ``table`` ``(2 ** k, 2)``: an open-addressing hash map (linear probing, backward-shift deletion, load <= 1/2) from
  any int64 order id (column 0) to its slot (column 1; -1 = empty bucket).

**Fills.** ``out = new_fills(capacity)`` is the tuple ``(rows, count)``: ``rows`` int64 ``(capacity, FILL_FIELDS)``
with columns ``F_TS`` (ns), ``F_SIDE`` (aggressor: +1 buy, -1 sell), ``F_PRICE`` (ticks; the resting order's price),
``F_QTY`` (lots), ``F_PASSIVE`` and ``F_AGGRESSOR`` (order ids; -1 when unknown) and ``count[0]`` the rows written.
A call that could need more rows than are free returns ``FILL_CAPACITY`` before touching anything: grow with
``grow_fills(out, capacity)`` (or read and reset ``count[0] = 0``) and call again. Rows are never overwritten.

**Operations** (``side`` +1 bid / buy, -1 ask / sell; every one returns a status and changes nothing unless ``OK``):

* ``limit(state, side, price_ticks, qty_lots, order_id, ts_ns, out)``: match the crossing part against the other
  side in price-time priority (trades at the resting prices), then rest the remainder at the tail of its level.
* ``market(state, side, qty_lots, order_id, ts_ns, out)``: match against the other side; the unfilled rest expires
  (``meta[LAST_UNFILLED]``). ``order_id`` only labels the fills (it is not checked against resting ids).
* ``cancel(state, order_id, qty_lots, out)``: take ``qty_lots`` out of the order, keeping its priority; ``qty_lots >=``
  the remaining quantity removes the order (a cancel never removes more than rests: see ``meta[LAST_REMOVED]``).
* ``delete(state, order_id, out)``: remove the whole order.
* ``modify(state, order_id, price_ticks, qty_lots, ts_ns, out)``: the order now is ``qty_lots`` at ``price_ticks``
  (same side, same id). A pure size decrease at the same price keeps its priority (and its ``O_TS``); the same price
  and size changes nothing; any other modify loses priority: the order is removed and entered again as a limit
  order at ``ts_ns`` (it may trade, as the aggressor). ``cancel``, ``delete`` and ``modify`` take ``out`` so that
  every operation has one shape; only ``modify`` writes fills.
* ``execute(state, order_id, qty_lots, side, ts_ns, out)``: execute a named resting order (an ITCH / LOBSTER
  execution message) by ``min(qty_lots, remaining)`` lots at its price against an aggressor of side ``side``.
* Queries: ``best_bid(state)`` / ``best_ask(state)`` (ticks; ``NO_PRICE`` when that side is empty),
  ``level_qty(state, side, price_ticks)`` (0 off the grid), ``queue_qty_at(state, side, level_index)`` (lots at the
  ``level_index``-th non-empty level from the touch, level 1 = touch; 0 when missing), ``top_k(state, k, bid_price,
  bid_qty, ask_price, ask_qty, row)`` (the best ``k`` levels into row ``row`` of four ``(n_rows, k)`` arrays;
  missing levels ``NO_PRICE`` / 0; ``top_k_book(state, books, row)`` the same into a ``(4, rows, k)`` array),
  ``order_slot(state, order_id)`` (-1 when not resting; then ``state[1][slot, O_QTY]`` etc.),
  ``queue_ahead(state, order_id)`` (lots ahead of the order in its queue; -1 when unknown).
* ``grow_engine(state, price_low_ticks, n_ticks, capacity_orders)``: a copy covering at least the old grid and the
  new one with at least the old capacity (use it after ``OFF_GRID`` or ``CAPACITY``, then call again).

Statuses: ``OK``, ``UNKNOWN_ID`` (no resting order has that id), ``NON_POSITIVE_QTY``, ``OFF_GRID`` (price outside the
engine's grid), ``CAPACITY`` (no free order slot for a remainder that would rest), ``FILL_CAPACITY``, ``DUPLICATE_ID``
(a resting order already has that id), ``BAD_SIDE``. ``STATUS_TEXT`` words them for the public wrapper's error.
"""

from __future__ import annotations

import numba
import numpy as np

NO_PRICE = np.iinfo(np.int64).min  # equal to simlab.schema.NO_PRICE (kept literal so kernels see a constant)

OK, UNKNOWN_ID, NON_POSITIVE_QTY, OFF_GRID, CAPACITY, FILL_CAPACITY, DUPLICATE_ID, BAD_SIDE = range(8)
STATUS_TEXT = {
    OK: "ok",
    UNKNOWN_ID: "no resting order has this order_id",
    NON_POSITIVE_QTY: "qty_lots must be > 0",
    OFF_GRID: "the price lies outside the engine's price grid",
    CAPACITY: "the order pool is full",
    FILL_CAPACITY: "the fill buffer is full",
    DUPLICATE_ID: "a resting order already has this order_id",
    BAD_SIDE: "side must be +1 (bid / buy) or -1 (ask / sell)",
}

BID_ROW, ASK_ROW = 0, 1
(ORIGIN, BEST_BID, BEST_ASK, N_BID, N_ASK, N_ORDERS, FREE, HASH_SHIFT) = range(8)
(SUBMITTED, TRADED, CANCELLED, EXPIRED, LAST_FILLED, LAST_RESTED, LAST_REMOVED, LAST_UNFILLED) = range(8, 16)
META_SIZE = 16
O_ID, O_QTY, O_PRICE, O_SIDE, O_PREV, O_NEXT, O_TS = range(7)
ORDER_FIELDS = 7
L_HEAD, L_TAIL, L_QTY, L_COUNT = range(4)
LEVEL_FIELDS = 4
F_TS, F_SIDE, F_PRICE, F_QTY, F_PASSIVE, F_AGGRESSOR = range(6)
FILL_FIELDS = 6
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing (Knuth, TAOCP 3, 6.4)


@numba.njit(cache=True)
def new_engine(price_low_ticks, n_ticks, capacity_orders):
    n_ticks, capacity = max(n_ticks, 1), max(capacity_orders, 1)
    bits = 1
    while (1 << bits) < 2 * capacity:
        bits += 1
    meta = np.zeros(META_SIZE, dtype=np.int64)
    meta[ORIGIN], meta[BEST_BID], meta[BEST_ASK], meta[HASH_SHIFT] = price_low_ticks, -1, n_ticks, 64 - bits
    orders = np.zeros((capacity, ORDER_FIELDS), dtype=np.int64)
    for slot in range(capacity):
        orders[slot, O_NEXT] = slot + 1 if slot + 1 < capacity else -1
    levels = np.zeros((2, n_ticks, LEVEL_FIELDS), dtype=np.int64)
    levels[:, :, L_HEAD] = -1
    levels[:, :, L_TAIL] = -1
    table = np.full((1 << bits, 2), -1, dtype=np.int64)
    return meta, orders, levels, table


@numba.njit(cache=True)
def new_fills(capacity):
    return np.zeros((max(capacity, 1), FILL_FIELDS), dtype=np.int64), np.zeros(1, dtype=np.int64)


@numba.njit(cache=True)
def grow_fills(out, capacity):
    rows, count = out
    grown = np.zeros((max(capacity, rows.shape[0]), FILL_FIELDS), dtype=np.int64)
    grown[: count[0]] = rows[: count[0]]
    return grown, count


# ---------------------------------------------------------------- hash map: order id -> slot


@numba.njit(cache=True, inline="always")
def _home(shift, order_id):
    return np.int64((np.uint64(order_id) * _GOLDEN) >> np.uint64(shift))


@numba.njit(cache=True)
def order_slot(state, order_id):
    meta, table = state[0], state[3]
    mask = table.shape[0] - 1
    i = _home(meta[HASH_SHIFT], order_id)
    while table[i, 1] >= 0:
        if table[i, 0] == order_id:
            return table[i, 1]
        i = (i + 1) & mask
    return -1


@numba.njit(cache=True, inline="always")
def _hash_insert(table, shift, order_id, slot):
    mask = table.shape[0] - 1
    i = _home(shift, order_id)
    while table[i, 1] >= 0:
        i = (i + 1) & mask
    table[i, 0], table[i, 1] = order_id, slot


@numba.njit(cache=True, inline="always")
def _hash_remove(table, shift, order_id):
    mask = table.shape[0] - 1
    i = _home(shift, order_id)
    while table[i, 0] != order_id or table[i, 1] < 0:
        i = (i + 1) & mask
    j = i
    while True:  # backward-shift deletion: move up each later entry whose home is not cyclically in (i, j]
        j = (j + 1) & mask
        if table[j, 1] < 0:
            break
        k = _home(shift, table[j, 0])
        inside = (i < k <= j) if i <= j else (k > i or k <= j)
        if not inside:
            table[i, 0], table[i, 1] = table[j, 0], table[j, 1]
            i = j
    table[i, 1] = -1


# ---------------------------------------------------------------- levels: FIFO queues and the touch


@numba.njit(cache=True, inline="always")
def _on_filled(meta, row, i):
    if row == BID_ROW:
        meta[N_BID] += 1
        if i > meta[BEST_BID]:
            meta[BEST_BID] = i
    else:
        meta[N_ASK] += 1
        if i < meta[BEST_ASK]:
            meta[BEST_ASK] = i


@numba.njit(cache=True, inline="always")
def _on_emptied(meta, levels, row, i):
    if row == BID_ROW:
        meta[N_BID] -= 1
        if i == meta[BEST_BID]:
            j = i - 1
            while meta[N_BID] > 0 and levels[BID_ROW, j, L_COUNT] == 0:
                j -= 1
            meta[BEST_BID] = j if meta[N_BID] > 0 else -1
    else:
        meta[N_ASK] -= 1
        if i == meta[BEST_ASK]:
            j = i + 1
            while meta[N_ASK] > 0 and levels[ASK_ROW, j, L_COUNT] == 0:
                j += 1
            meta[BEST_ASK] = j if meta[N_ASK] > 0 else levels.shape[1]


@numba.njit(cache=True, inline="always")
def _rest(state, side, price_ticks, qty, order_id, ts_ns):
    meta, orders, levels, table = state
    slot = meta[FREE]
    meta[FREE] = orders[slot, O_NEXT]
    row, i = (BID_ROW if side == 1 else ASK_ROW), price_ticks - meta[ORIGIN]
    tail = levels[row, i, L_TAIL]
    orders[slot, O_ID], orders[slot, O_QTY], orders[slot, O_PRICE] = order_id, qty, price_ticks
    orders[slot, O_SIDE], orders[slot, O_PREV], orders[slot, O_NEXT], orders[slot, O_TS] = side, tail, -1, ts_ns
    if tail >= 0:
        orders[tail, O_NEXT] = slot
    else:
        levels[row, i, L_HEAD] = slot
    levels[row, i, L_TAIL] = slot
    levels[row, i, L_QTY] += qty
    levels[row, i, L_COUNT] += 1
    if levels[row, i, L_COUNT] == 1:
        _on_filled(meta, row, i)
    meta[N_ORDERS] += 1
    _hash_insert(table, meta[HASH_SHIFT], order_id, slot)


@numba.njit(cache=True, inline="always")
def _unlink(state, slot):
    """Take a resting order out of its queue, the hash map and the pool (its remaining lots leave the level)."""
    meta, orders, levels, table = state
    row, i = (BID_ROW if orders[slot, O_SIDE] == 1 else ASK_ROW), orders[slot, O_PRICE] - meta[ORIGIN]
    prev, nxt = orders[slot, O_PREV], orders[slot, O_NEXT]
    if prev >= 0:
        orders[prev, O_NEXT] = nxt
    else:
        levels[row, i, L_HEAD] = nxt
    if nxt >= 0:
        orders[nxt, O_PREV] = prev
    else:
        levels[row, i, L_TAIL] = prev
    levels[row, i, L_QTY] -= orders[slot, O_QTY]
    levels[row, i, L_COUNT] -= 1
    if levels[row, i, L_COUNT] == 0:
        _on_emptied(meta, levels, row, i)
    _hash_remove(table, meta[HASH_SHIFT], orders[slot, O_ID])
    orders[slot, O_QTY] = 0
    orders[slot, O_NEXT] = meta[FREE]
    meta[FREE] = slot
    meta[N_ORDERS] -= 1


# ---------------------------------------------------------------- matching


@numba.njit(cache=True)
def _crossable(state, side, limit_index, qty, need_rows):
    """Walk the other side like a match without changing it: (lots that would trade, fills it would write)."""
    meta, orders, levels = state[0], state[1], state[2]
    row, step = (ASK_ROW, 1) if side == 1 else (BID_ROW, -1)
    i = meta[BEST_ASK] if side == 1 else meta[BEST_BID]
    left, seen, rows = qty, 0, 0
    n_levels = meta[N_ASK] if side == 1 else meta[N_BID]
    while left > 0 and seen < n_levels and (i <= limit_index if side == 1 else i >= limit_index):
        if levels[row, i, L_COUNT] > 0:
            seen += 1
            if need_rows:
                slot = levels[row, i, L_HEAD]
                while left > 0 and slot >= 0:
                    left -= min(left, orders[slot, O_QTY])
                    rows += 1
                    slot = orders[slot, O_NEXT]
            else:
                left -= min(left, levels[row, i, L_QTY])
        i += step
    return qty - left, rows


@numba.njit(cache=True, inline="always")
def _room(state, side, limit_index, qty, out):
    """True when ``out`` surely has room for the fills of this order."""
    free = out[0].shape[0] - out[1][0]
    if free >= state[0][N_ORDERS]:
        return True
    return _crossable(state, side, limit_index, qty, True)[1] <= free


@numba.njit(cache=True, inline="always")
def _fill(out, ts_ns, side, price, qty, passive_id, aggressor_id):
    rows, count = out
    n = count[0]
    rows[n, F_TS], rows[n, F_SIDE], rows[n, F_PRICE] = ts_ns, side, price
    rows[n, F_QTY], rows[n, F_PASSIVE], rows[n, F_AGGRESSOR] = qty, passive_id, aggressor_id
    count[0] = n + 1


@numba.njit(cache=True)
def _match(state, side, limit_index, qty, order_id, ts_ns, out):
    """Execute up to ``qty`` lots of an aggressor against the other side down to ``limit_index``; return the rest."""
    meta, orders, levels = state[0], state[1], state[2]
    row = ASK_ROW if side == 1 else BID_ROW
    origin, left = meta[ORIGIN], qty
    while left > 0:
        if side == 1:
            i = meta[BEST_ASK]
            if meta[N_ASK] == 0 or i > limit_index:
                break
        else:
            i = meta[BEST_BID]
            if meta[N_BID] == 0 or i < limit_index:
                break
        while left > 0 and levels[row, i, L_COUNT] > 0:
            slot = levels[row, i, L_HEAD]
            take = min(left, orders[slot, O_QTY])
            _fill(out, ts_ns, side, origin + i, take, orders[slot, O_ID], order_id)
            left -= take
            if take == orders[slot, O_QTY]:
                _unlink(state, slot)
            else:
                orders[slot, O_QTY] -= take
                levels[row, i, L_QTY] -= take
    traded = qty - left
    meta[TRADED] += traded
    meta[LAST_FILLED] = traded
    return left


@numba.njit(cache=True, inline="always")
def _start(meta):
    meta[LAST_FILLED], meta[LAST_RESTED], meta[LAST_REMOVED], meta[LAST_UNFILLED] = 0, 0, 0, 0


@numba.njit(cache=True, inline="always")
def _check_limit(state, side, price_ticks, qty_lots, order_id, out):
    meta = state[0]
    if side != 1 and side != -1:
        return BAD_SIDE
    if qty_lots <= 0:
        return NON_POSITIVE_QTY
    i = price_ticks - meta[ORIGIN]
    if price_ticks == NO_PRICE or i < 0 or i >= state[2].shape[1]:
        return OFF_GRID
    if order_slot(state, order_id) >= 0:
        return DUPLICATE_ID
    if meta[FREE] < 0 and _crossable(state, side, i, qty_lots, False)[0] < qty_lots:
        return CAPACITY
    if not _room(state, side, i, qty_lots, out):
        return FILL_CAPACITY
    return OK


@numba.njit(cache=True)
def limit(state, side, price_ticks, qty_lots, order_id, ts_ns, out):
    meta = state[0]
    _start(meta)
    status = _check_limit(state, side, price_ticks, qty_lots, order_id, out)
    if status != OK:
        return status
    meta[SUBMITTED] += qty_lots
    left = _match(state, side, price_ticks - meta[ORIGIN], qty_lots, order_id, ts_ns, out)
    if left > 0:
        _rest(state, side, price_ticks, left, order_id, ts_ns)
    meta[LAST_RESTED] = left
    return OK


@numba.njit(cache=True)
def market(state, side, qty_lots, order_id, ts_ns, out):
    meta = state[0]
    _start(meta)
    if side != 1 and side != -1:
        return BAD_SIDE
    if qty_lots <= 0:
        return NON_POSITIVE_QTY
    bound = state[2].shape[1] if side == 1 else -1
    if not _room(state, side, bound, qty_lots, out):
        return FILL_CAPACITY
    meta[SUBMITTED] += qty_lots
    left = _match(state, side, bound, qty_lots, order_id, ts_ns, out)
    meta[EXPIRED] += left
    meta[LAST_UNFILLED] = left
    return OK


@numba.njit(cache=True)
def _reduce(state, slot, qty_lots):
    """Take ``min(qty_lots, remaining)`` lots out of a resting order, keeping its priority; return the lots."""
    meta, orders, levels = state[0], state[1], state[2]
    remaining = orders[slot, O_QTY]
    if qty_lots >= remaining:
        _unlink(state, slot)
        return remaining
    row = BID_ROW if orders[slot, O_SIDE] == 1 else ASK_ROW
    orders[slot, O_QTY] = remaining - qty_lots
    levels[row, orders[slot, O_PRICE] - meta[ORIGIN], L_QTY] -= qty_lots
    return qty_lots


@numba.njit(cache=True)
def cancel(state, order_id, qty_lots, out):
    meta = state[0]
    _start(meta)
    if qty_lots <= 0:
        return NON_POSITIVE_QTY
    slot = order_slot(state, order_id)
    if slot < 0:
        return UNKNOWN_ID
    removed = _reduce(state, slot, qty_lots)
    meta[CANCELLED] += removed
    meta[LAST_REMOVED] = removed
    return OK


@numba.njit(cache=True)
def delete(state, order_id, out):
    meta = state[0]
    _start(meta)
    slot = order_slot(state, order_id)
    if slot < 0:
        return UNKNOWN_ID
    removed = state[1][slot, O_QTY]
    _unlink(state, slot)
    meta[CANCELLED] += removed
    meta[LAST_REMOVED] = removed
    return OK


@numba.njit(cache=True)
def modify(state, order_id, price_ticks, qty_lots, ts_ns, out):
    meta, orders = state[0], state[1]
    _start(meta)
    if qty_lots <= 0:
        return NON_POSITIVE_QTY
    slot = order_slot(state, order_id)
    if slot < 0:
        return UNKNOWN_ID
    i = price_ticks - meta[ORIGIN]
    if price_ticks == NO_PRICE or i < 0 or i >= state[2].shape[1]:
        return OFF_GRID
    remaining, side = orders[slot, O_QTY], orders[slot, O_SIDE]
    if price_ticks == orders[slot, O_PRICE] and qty_lots <= remaining:
        removed = _reduce(state, slot, remaining - qty_lots) if qty_lots < remaining else 0
        meta[CANCELLED] += removed
        meta[LAST_REMOVED], meta[LAST_RESTED] = removed, qty_lots
        return OK
    if not _room(state, side, i, qty_lots, out):
        return FILL_CAPACITY
    _unlink(state, slot)
    meta[CANCELLED] += remaining
    status = limit(state, side, price_ticks, qty_lots, order_id, ts_ns, out)
    meta[LAST_REMOVED] = remaining
    return status


@numba.njit(cache=True)
def execute(state, order_id, qty_lots, side, ts_ns, out):
    meta, orders = state[0], state[1]
    _start(meta)
    if qty_lots <= 0:
        return NON_POSITIVE_QTY
    slot = order_slot(state, order_id)
    if slot < 0:
        return UNKNOWN_ID
    if out[1][0] >= out[0].shape[0]:
        return FILL_CAPACITY
    price = orders[slot, O_PRICE]
    done = _reduce(state, slot, qty_lots)
    _fill(out, ts_ns, side, price, done, order_id, -1)
    meta[SUBMITTED] += done  # the unseen aggressor's lots, so that the volume identity holds
    meta[TRADED] += done
    meta[LAST_FILLED] = done
    return OK


# ---------------------------------------------------------------- queries


@numba.njit(cache=True)
def best_bid(state):
    meta = state[0]
    return NO_PRICE if meta[N_BID] == 0 else meta[ORIGIN] + meta[BEST_BID]


@numba.njit(cache=True)
def best_ask(state):
    meta = state[0]
    return NO_PRICE if meta[N_ASK] == 0 else meta[ORIGIN] + meta[BEST_ASK]


@numba.njit(cache=True)
def level_qty(state, side, price_ticks):
    meta, levels = state[0], state[2]
    i = price_ticks - meta[ORIGIN]
    if price_ticks == NO_PRICE or i < 0 or i >= levels.shape[1] or (side != 1 and side != -1):
        return 0
    return levels[BID_ROW if side == 1 else ASK_ROW, i, L_QTY]


@numba.njit(cache=True)
def _level_index(state, side, level_index):
    """Grid index of the ``level_index``-th non-empty level of a side from the touch (1 = touch); -1 if none."""
    meta, levels = state[0], state[2]
    row, step = (BID_ROW, -1) if side == 1 else (ASK_ROW, 1)
    n_levels = meta[N_BID] if side == 1 else meta[N_ASK]
    if level_index < 1 or level_index > n_levels or (side != 1 and side != -1):
        return -1
    i, seen = (meta[BEST_BID] if side == 1 else meta[BEST_ASK]), 0
    while True:
        if levels[row, i, L_COUNT] > 0:
            seen += 1
            if seen == level_index:
                return i
        i += step


@numba.njit(cache=True)
def queue_qty_at(state, side, level_index):
    i = _level_index(state, side, level_index)
    return 0 if i < 0 else state[2][BID_ROW if side == 1 else ASK_ROW, i, L_QTY]


@numba.njit(cache=True)
def queue_ahead(state, order_id):
    orders = state[1]
    slot = order_slot(state, order_id)
    if slot < 0:
        return -1
    ahead = 0
    slot = orders[slot, O_PREV]
    while slot >= 0:
        ahead += orders[slot, O_QTY]
        slot = orders[slot, O_PREV]
    return ahead


@numba.njit(cache=True)
def top_k(state, k, bid_price, bid_qty, ask_price, ask_qty, row):
    """The best ``k`` levels of each side into row ``row`` of the four arrays (missing levels ``NO_PRICE`` / 0). One
    flat loop, no inner call: a call taking arrays costs their reference counting, more than this walk."""
    meta, levels = state[0], state[2]
    for side in range(2):
        if side == BID_ROW:
            step, want, i = -1, min(k, meta[N_BID]), meta[BEST_BID]
        else:
            step, want, i = 1, min(k, meta[N_ASK]), meta[BEST_ASK]
        price, qty = (bid_price, bid_qty) if side == BID_ROW else (ask_price, ask_qty)
        found = 0
        while found < want:
            if levels[side, i, L_COUNT] > 0:
                price[row, found] = meta[ORIGIN] + i
                qty[row, found] = levels[side, i, L_QTY]
                found += 1
            i += step
        for m in range(found, k):
            price[row, m] = NO_PRICE
            qty[row, m] = 0


@numba.njit(cache=True)
def top_k_book(state, books, row):
    """``top_k`` into row ``row`` of ``books`` ``(4, rows, k)`` (bid price, bid qty, ask price, ask qty), in one
    call: no views of ``books`` and no inner calls, whose reference counting costs more than the walk itself."""
    meta, levels = state[0], state[2]
    k = books.shape[2]
    for side in range(2):
        if side == BID_ROW:
            step, want, i = -1, min(k, meta[N_BID]), meta[BEST_BID]
        else:
            step, want, i = 1, min(k, meta[N_ASK]), meta[BEST_ASK]
        found = 0
        while found < want:
            if levels[side, i, L_COUNT] > 0:
                books[2 * side, row, found] = meta[ORIGIN] + i
                books[2 * side + 1, row, found] = levels[side, i, L_QTY]
                found += 1
            i += step
        for m in range(found, k):
            books[2 * side, row, m] = NO_PRICE
            books[2 * side + 1, row, m] = 0


# ---------------------------------------------------------------- growth


@numba.njit(cache=True)
def grow_engine(state, price_low_ticks, n_ticks, capacity_orders):
    meta, orders, levels = state[0], state[1], state[2]
    old_low, old_n, old_cap = meta[ORIGIN], levels.shape[1], orders.shape[0]
    low = min(old_low, price_low_ticks)
    high = max(old_low + old_n, price_low_ticks + n_ticks)
    grown = new_engine(low, high - low, max(capacity_orders, old_cap))
    g_meta, g_orders, g_levels, g_table = grown
    shift = old_low - low
    g_levels[:, shift : shift + old_n] = levels
    g_meta[SUBMITTED:] = meta[SUBMITTED:]
    g_meta[N_BID], g_meta[N_ASK], g_meta[N_ORDERS] = meta[N_BID], meta[N_ASK], meta[N_ORDERS]
    g_meta[BEST_BID] = meta[BEST_BID] + shift if meta[N_BID] > 0 else -1
    g_meta[BEST_ASK] = meta[BEST_ASK] + shift if meta[N_ASK] > 0 else g_levels.shape[1]
    g_orders[:old_cap] = orders
    free = meta[FREE]
    for slot in range(g_orders.shape[0] - 1, old_cap - 1, -1):  # new slots first, then the old free list
        g_orders[slot, O_NEXT] = free
        free = slot
    g_meta[FREE] = free
    for slot in range(old_cap):
        if orders[slot, O_QTY] > 0:
            _hash_insert(g_table, g_meta[HASH_SHIFT], orders[slot, O_ID], slot)
    return grown
