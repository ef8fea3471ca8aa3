"""Numba kernels of the Hawkes-driven book: a given Hawkes path of event types applied to the matching engine.

Kernels trust their input (``simlab.book.hawkes_book`` validates it). Every random draw is one ``gen.random()``
(uniform on [0, 1)), in this order per event: a limit order draws its placement then its size, a cancel draws
the order to remove, a market order draws its size; so a slow twin fed by the same generator reproduces a run.

Work arrays (the event and book buffers and the first counters are those of :mod:`simlab.book._sim`):

* ``laws`` float64 ``(N_LAWS, n)``: cumulative probabilities (each row non-decreasing, 1.0 from its last value
  on) of ``law_values`` int64 ``(N_LAWS, n)``: rows ``PLACE_BID``, ``PLACE_ASK`` (ticks from the same-side best,
  negative inside the spread), ``SIZE_LIMIT_BID``, ``SIZE_LIMIT_ASK``, ``SIZE_MARKET_BUY``, ``SIZE_MARKET_SELL``
  (lots);
* ``hazard`` float64 ``(2, H)``: relative cancellation weight per resting lot at ``0..H-1`` ticks from the
  same-side best (row 0 bid, 1 ask; ``H-1`` and beyond share the last value);
* ``ctr``: the ``_sim`` counters, then ``C_DONE + dim`` (events of each Hawkes dimension applied), ``C_SKIPPED``
  (cancels that found no order to remove), ``C_CAPPED`` (limit orders moved inside the spread so as not to cross).
"""

from __future__ import annotations

import numba
import numpy as np

from simlab.book import _engine as eng
from simlab.book import _sim

LIMIT_BID, LIMIT_ASK, CANCEL_BID, CANCEL_ASK, MARKET_BUY, MARKET_SELL = range(6)
PLACE_BID, PLACE_ASK, SIZE_LIMIT_BID, SIZE_LIMIT_ASK, SIZE_MARKET_BUY, SIZE_MARKET_SELL = range(6)
N_LAWS = 6
C_DONE = _sim.CTR_SIZE
C_SKIPPED, C_CAPPED = C_DONE + 6, C_DONE + 7
CTR_SIZE = C_DONE + 8
C_GROWS = _sim.C_GROWS
ADD, DELETE, TRADE = _sim.ADD, _sim.DELETE, _sim.TRADE


@numba.njit(cache=True)
def draw(cdf, values, u):
    """The value whose cumulative probability is the first one above ``u`` (inverse CDF by bisection)."""
    low, high = 0, cdf.shape[0] - 1
    while low < high:
        mid = (low + high) // 2
        if cdf[mid] > u:
            high = mid
        else:
            low = mid + 1
    return values[low]


@numba.njit(cache=True)
def limit_price(ctr, state, side, distance):
    """Price ``distance`` ticks behind the same-side best (its last value when empty), capped inside the spread.

    A price at or through the opposite best becomes one tick inside it (joining the best at a one-tick spread).
    Returns (price, capped).
    """
    same = ctr[_sim.C_LAST_BID] if side == 1 else ctr[_sim.C_LAST_ASK]
    price = same - side * distance
    opposite = eng.best_ask(state) if side == 1 else eng.best_bid(state)
    if opposite != eng.NO_PRICE and side * (price - opposite) >= 0:
        return opposite - side, True
    return price, False


@numba.njit(cache=True)
def pick_cancel(state, side, hazard_row, u):
    """Slot of the order to cancel: level by weight ``hazard(d) * lots``, then a lot uniformly in it; -1 if none."""
    meta, orders, levels = state[0], state[1], state[2]
    row, step = (eng.BID_ROW, -1) if side == 1 else (eng.ASK_ROW, 1)
    n_levels = meta[eng.N_BID] if side == 1 else meta[eng.N_ASK]
    best = meta[eng.BEST_BID] if side == 1 else meta[eng.BEST_ASK]
    last = hazard_row.shape[0] - 1
    total, i, seen = 0.0, best, 0
    while seen < n_levels:
        if levels[row, i, eng.L_COUNT] > 0:
            seen += 1
            total += hazard_row[min(abs(i - best), last)] * levels[row, i, eng.L_QTY]
        i += step
    if total <= 0.0:
        return -1
    target, i, seen, acc = u * total, best, 0, 0.0
    while seen < n_levels:
        if levels[row, i, eng.L_COUNT] > 0:
            seen += 1
            weight = hazard_row[min(abs(i - best), last)]
            mass = weight * levels[row, i, eng.L_QTY]
            if acc + mass > target or seen == n_levels:
                if mass <= 0.0:  # only reachable by rounding at the last level: take its first order
                    return levels[row, i, eng.L_HEAD]
                lots = (target - acc) / weight
                slot, below = levels[row, i, eng.L_HEAD], 0
                while orders[slot, eng.O_NEXT] >= 0 and below + orders[slot, eng.O_QTY] <= lots:
                    below += orders[slot, eng.O_QTY]
                    slot = orders[slot, eng.O_NEXT]
                return slot
            acc += mass
        i += step
    return -1


@numba.njit(cache=True)
def _cancel(state, out, ctr, side, hazard_row, u, ts_ns, ev, record):
    slot = pick_cancel(state, side, hazard_row, u)
    if slot < 0:
        ctr[C_SKIPPED] += 1
        return 0
    orders = state[1]
    order_id, price, qty = orders[slot, eng.O_ID], orders[slot, eng.O_PRICE], orders[slot, eng.O_QTY]
    eng.delete(state, order_id, out)
    if record:
        _sim.record(ev, ctr, ts_ns, DELETE, side, price, qty, order_id)
    return 1


@numba.njit(cache=True)
def _market(state, out, ctr, side, qty, ts_ns, ev, record):
    out, n_fills = _sim.match_market(state, out, ctr, side, qty, ts_ns)
    rows = out[0]
    if record:
        for j in range(n_fills):
            _sim.record(ev, ctr, ts_ns, TRADE, side, rows[j, eng.F_PRICE], rows[j, eng.F_QTY], rows[j, eng.F_PASSIVE])
    return out, n_fills


@numba.njit(cache=True)
def _step(state, out, gen, dim, laws, law_values, hazard, band, ts_ns, ev, ctr, record):
    """Apply one Hawkes event of dimension ``dim``; return (state, out, records written)."""
    if dim <= LIMIT_ASK:
        side = 1 if dim == LIMIT_BID else -1
        distance = draw(laws[dim], law_values[dim], gen.random())
        qty = draw(laws[SIZE_LIMIT_BID + dim], law_values[SIZE_LIMIT_BID + dim], gen.random())
        price, capped = limit_price(ctr, state, side, distance)
        ctr[C_CAPPED] += capped
        state = _sim.rest_limit(state, out, ctr, side, price, qty, ts_ns, band)
        if record:
            _sim.record(ev, ctr, ts_ns, ADD, side, price, qty, ctr[_sim.C_NEXT_ID] - 1)
        return state, out, 1
    if dim <= CANCEL_ASK:
        side = 1 if dim == CANCEL_BID else -1
        return state, out, _cancel(state, out, ctr, side, hazard[dim - CANCEL_BID], gen.random(), ts_ns, ev, record)
    law = SIZE_MARKET_BUY + dim - MARKET_BUY
    qty = draw(laws[law], law_values[law], gen.random())
    out, n_fills = _market(state, out, ctr, 1 if dim == MARKET_BUY else -1, qty, ts_ns, ev, record)
    return state, out, n_fills


@numba.njit(cache=True)
def run(state, out, gen, times_s, dims, first, last, offset_s, laws, law_values, hazard, band, start_ns,
        sample_ns, record, ev, books, book_ts, ctr):  # fmt: skip
    """Apply the Hawkes events ``first..last-1`` (time ``times_s - offset_s`` from ``start_ns``).

    ``record`` writes events (and books: after every event record when ``sample_ns <= 0``, else at every multiple
    of ``sample_ns`` from ``start_ns``); the buffers grow when short, so they are returned with the state.
    """
    per_event = sample_ns <= 0
    for j in range(first, last):
        ts_ns = start_ns + np.int64(np.round((times_s[j] - offset_s) * 1e9))
        need = ctr[_sim.C_EVENTS] + state[0][eng.N_ORDERS] + 2  # a market order writes at most one row per order
        ev = _sim.grow_rows(ev, need)
        if record and per_event:
            books, book_ts = _sim.grow_books(books, need), _sim.grow_rows(book_ts, need)
        if record and not per_event:
            _sim.samples(state, books, book_ts, ctr, start_ns, sample_ns, ts_ns - 1)
        _sim.update_quotes(state, ctr)
        dim = dims[j]
        state, out, rows = _step(state, out, gen, dim, laws, law_values, hazard, band, ts_ns, ev, ctr, record)
        ctr[C_DONE + dim] += 1
        if record and per_event:
            for _ in range(rows):
                _sim.snapshot(state, books, book_ts, ctr, ts_ns)
    return state, out, ev, books, book_ts


@numba.njit(cache=True)
def place_initial(state, ctr, prices, qtys, side, band):
    """Rest one order per level of an initial book side (levels with qty > 0); return the state."""
    out = eng.new_fills(1)
    for k in range(prices.shape[0]):
        if qtys[k] > 0:
            state = _sim.rest_limit(state, out, ctr, side, prices[k], qtys[k], 0, band)
    return state


@numba.njit(cache=True)
def emit_resting(state, ev, books, book_ts, ctr, ts_ns, per_event):
    """Record every resting order as an ADD at ``ts_ns`` in id order (their arrival order, so FIFO is kept)."""
    orders = state[1]
    slots = np.flatnonzero(orders[:, eng.O_QTY] > 0)
    slots = slots[np.argsort(orders[slots, eng.O_ID])]
    return _sim.emit_slots(state, ev, books, book_ts, ctr, slots, ts_ns, per_event)
