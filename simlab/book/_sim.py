"""Numba plumbing shared by the book simulators (:mod:`simlab.book._zi`, :mod:`simlab.book._hawkes_book`).

Kernels trust their input. The buffers a simulator records into, and this module's counter layout:

* ``ev`` int64 ``(capacity, EV_FIELDS)``: event records ``EV_TS`` (ns), ``EV_KIND`` (schema EventKind),
  ``EV_SIDE``, ``EV_PRICE`` (ticks), ``EV_QTY`` (lots), ``EV_ID`` (order id; for a trade the resting order's);
* ``books`` int64 ``(4, capacity, depth)``: bid price, bid qty, ask price, ask qty; ``book_ts`` ``(capacity,)``;
* ``ctr`` int64: the first ``CTR_SIZE`` counters are ``C_EVENTS`` and ``C_BOOKS`` (rows written), ``C_NEXT_ID``
  (the next order id), ``C_LIVE`` (resting orders, where a model tracks them), ``C_LAST_BID`` and
  ``C_LAST_ASK`` (the last best quotes), ``C_UNFILLED`` (market lots an empty side could not fill),
  ``C_SAMPLE`` (the next sampling time's index) and ``C_GROWS`` (engine grid or pool growths); a model's own
  counters follow from ``CTR_SIZE`` on.

Buffers grow by doubling when short (:func:`grow_rows`, :func:`grow_books`), never overwrite.
"""

from __future__ import annotations

import numba
import numpy as np

from simlab.book import _engine as eng

EV_TS, EV_KIND, EV_SIDE, EV_PRICE, EV_QTY, EV_ID = range(6)
EV_FIELDS = 6
ADD, DELETE, TRADE = 1, 3, 5  # simlab.schema.EventKind values
(C_EVENTS, C_BOOKS, C_NEXT_ID, C_LIVE, C_LAST_BID, C_LAST_ASK, C_UNFILLED, C_SAMPLE, C_GROWS) = range(9)
CTR_SIZE = 9


@numba.njit(cache=True)
def grow_rows(values, need):
    """``values`` with at least ``need`` rows (the same array when it has them; else doubled, zero-filled)."""
    size = values.shape[0]
    while size < need:
        size *= 2
    if size == values.shape[0]:
        return values
    out = np.zeros((size,) + values.shape[1:], dtype=values.dtype)
    out[: values.shape[0]] = values
    return out


@numba.njit(cache=True)
def grow_books(books, need):
    """``books`` ``(4, rows, depth)`` with at least ``need`` rows (doubling)."""
    size = books.shape[1]
    while size < need:
        size *= 2
    if size == books.shape[1]:
        return books
    out = np.zeros((4, size, books.shape[2]), dtype=books.dtype)
    out[:, : books.shape[1]] = books
    return out


@numba.njit(cache=True)
def snapshot(state, books, book_ts, ctr, ts_ns):
    """Write the engine's top levels as the next book row, at ``ts_ns``."""
    row = ctr[C_BOOKS]
    eng.top_k_book(state, books, row)
    book_ts[row] = ts_ns
    ctr[C_BOOKS] = row + 1


@numba.njit(cache=True)
def snapshots(state, books, book_ts, ctr, ts_ns, n):
    """Write the engine's top levels as the next ``n`` book rows (the same book), at ``ts_ns``: one call for the
    records of one message, read after all of them."""
    row = ctr[C_BOOKS]
    eng.top_k_book(state, books, row)
    for r in range(row, row + n):
        book_ts[r] = ts_ns
        if r > row:
            for f in range(4):
                for m in range(books.shape[2]):
                    books[f, r, m] = books[f, row, m]
    ctr[C_BOOKS] = row + n


@numba.njit(cache=True)
def samples(state, books, book_ts, ctr, start_ns, sample_ns, until_ns):
    """Write the book at every sampling time up to ``until_ns`` not yet written (the buffer is sized for all)."""
    while start_ns + ctr[C_SAMPLE] * sample_ns <= until_ns and ctr[C_BOOKS] < books.shape[1]:
        snapshot(state, books, book_ts, ctr, start_ns + ctr[C_SAMPLE] * sample_ns)
        ctr[C_SAMPLE] += 1


@numba.njit(cache=True, inline="always")
def record(ev, ctr, ts_ns, kind, side, price, qty, order_id):
    """Append one event record."""
    n = ctr[C_EVENTS]
    ev[n, EV_TS], ev[n, EV_KIND], ev[n, EV_SIDE] = ts_ns, kind, side
    ev[n, EV_PRICE], ev[n, EV_QTY], ev[n, EV_ID] = price, qty, order_id
    ctr[C_EVENTS] = n + 1


@numba.njit(cache=True, inline="always")
def update_quotes(state, ctr):
    """Remember the best quotes; a side's last one stays the reference of the other side's orders while it is empty."""
    bid, ask = eng.best_bid(state), eng.best_ask(state)
    if bid != eng.NO_PRICE:
        ctr[C_LAST_BID] = bid
    if ask != eng.NO_PRICE:
        ctr[C_LAST_ASK] = ask


@numba.njit(cache=True)
def fit_grid(state, price, band):
    """Grow the engine's grid (doubling, with a band of margin) until ``price`` is on it."""
    low, n = state[0][eng.ORIGIN], state[2].shape[1]
    while price - band < low or price + band >= low + n:
        low, n = low - n // 2, 2 * n
    return eng.grow_engine(state, low, n, state[1].shape[0])


@numba.njit(cache=True)
def room_for(state, ctr, price, band):
    """The state with ``price`` on its grid (``band`` ticks of margin) and a free order slot: the grid, then the pool,
    grown when needed, one ``C_GROWS`` each (the order :func:`rest_limit`'s retries grow them in). A caller that checks
    first (two comparisons) replaces its state only in this rare call."""
    if not 0 <= price - state[0][eng.ORIGIN] < state[2].shape[1]:
        state = fit_grid(state, price, band)
        ctr[C_GROWS] += 1
    if state[0][eng.FREE] < 0:
        state = eng.grow_engine(state, state[0][eng.ORIGIN], state[2].shape[1], 2 * state[1].shape[0])
        ctr[C_GROWS] += 1
    return state


@numba.njit(cache=True, inline="always")
def rest_limit(state, out, ctr, side, price, qty, ts_ns, band):
    """Rest a limit order that does not cross, id ``C_NEXT_ID``; grow the grid or pool as needed; return the state."""
    order_id = ctr[C_NEXT_ID]
    status = eng.limit(state, side, price, qty, order_id, ts_ns, out)
    while status != eng.OK:  # OFF_GRID or CAPACITY: grow and retry
        if status == eng.OFF_GRID:
            state = fit_grid(state, price, band)
        else:
            state = eng.grow_engine(state, state[0][eng.ORIGIN], state[2].shape[1], 2 * state[1].shape[0])
        ctr[C_GROWS] += 1
        status = eng.limit(state, side, price, qty, order_id, ts_ns, out)
    ctr[C_NEXT_ID] = order_id + 1
    return state


@numba.njit(cache=True, inline="always")
def match_market(state, out, ctr, side, qty, ts_ns):
    """Run a market order (the fill buffer grows when short); count its unfilled lots; return (out, fills)."""
    out[1][0] = 0
    status = eng.market(state, side, qty, -1, ts_ns, out)
    while status == eng.FILL_CAPACITY:
        out = eng.grow_fills(out, 2 * out[0].shape[0])
        status = eng.market(state, side, qty, -1, ts_ns, out)
    ctr[C_UNFILLED] += state[0][eng.LAST_UNFILLED]
    return out, out[1][0]


@numba.njit(cache=True)
def emit_slots(state, ev, books, book_ts, ctr, slots, ts_ns, per_event):
    """Record the resting orders in ``slots`` as ADDs at ``ts_ns`` (each followed by the book when ``per_event``)."""
    n = slots.shape[0]
    ev = grow_rows(ev, ctr[C_EVENTS] + n + 1)
    if per_event:
        books = grow_books(books, ctr[C_BOOKS] + n + 1)
        book_ts = grow_rows(book_ts, ctr[C_BOOKS] + n + 1)
    orders = state[1]
    for slot in slots:
        side, price, qty = orders[slot, eng.O_SIDE], orders[slot, eng.O_PRICE], orders[slot, eng.O_QTY]
        record(ev, ctr, ts_ns, ADD, side, price, qty, orders[slot, eng.O_ID])
        if per_event:
            snapshot(state, books, book_ts, ctr, ts_ns)
    return ev, books, book_ts
