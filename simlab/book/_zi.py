"""Numba kernels of the zero-intelligence book (exact Gillespie simulation on the matching engine).

Kernels trust their input (``simlab.book.zero_intelligence`` validates it). The engine state, the fill buffer and
the output buffers grow inside the kernels when full (doubling), so :func:`run` returns them all.

Work arrays:

* ``ev`` int64 ``(capacity, EV_FIELDS)``: event records ``EV_TS`` (ns), ``EV_KIND`` (schema EventKind),
  ``EV_SIDE``, ``EV_PRICE`` (ticks), ``EV_QTY`` (lots), ``EV_ID`` (order id; for a trade the resting order's);
* ``books`` int64 ``(4, capacity, depth)``: bid price, bid qty, ask price, ask qty; ``book_ts`` ``(capacity,)``;
* ``live`` ``(capacity,)``: ids of the resting orders (in no order) and ``pos`` (indexed by order id) their place
  in ``live``, for an O(1) uniform choice and removal;
* ``ctr`` int64 ``(CTR_SIZE,)``: counters and the last best quotes (see the ``C_*`` names).
"""

from __future__ import annotations

import numba
import numpy as np

from simlab.book import _engine as eng

EV_TS, EV_KIND, EV_SIDE, EV_PRICE, EV_QTY, EV_ID = range(6)
EV_FIELDS = 6
ADD, DELETE, TRADE = 1, 3, 5  # simlab.schema.EventKind values
(C_EVENTS, C_BOOKS, C_NEXT_ID, C_LIVE, C_LAST_BID, C_LAST_ASK, C_UNFILLED, C_SAMPLE) = range(8)
(C_LIMITS, C_MARKETS, C_CANCELS, C_GROWS) = range(8, 12)
CTR_SIZE = 12


@numba.njit(cache=True)
def _grow_rows(values, need):
    size = values.shape[0]
    while size < need:
        size *= 2
    if size == values.shape[0]:
        return values
    out = np.zeros((size,) + values.shape[1:], dtype=values.dtype)
    out[: values.shape[0]] = values
    return out


@numba.njit(cache=True)
def _grow_books(books, need):
    size = books.shape[1]
    while size < need:
        size *= 2
    if size == books.shape[1]:
        return books
    out = np.zeros((4, size, books.shape[2]), dtype=books.dtype)
    out[:, : books.shape[1]] = books
    return out


@numba.njit(cache=True)
def _snapshot(state, books, book_ts, ctr, ts_ns):
    row = ctr[C_BOOKS]
    eng.top_k(state, books.shape[2], books[0], books[1], books[2], books[3], row)
    book_ts[row] = ts_ns
    ctr[C_BOOKS] = row + 1


@numba.njit(cache=True, inline="always")
def _record(ev, ctr, ts_ns, kind, side, price, qty, order_id):
    n = ctr[C_EVENTS]
    ev[n, EV_TS], ev[n, EV_KIND], ev[n, EV_SIDE] = ts_ns, kind, side
    ev[n, EV_PRICE], ev[n, EV_QTY], ev[n, EV_ID] = price, qty, order_id
    ctr[C_EVENTS] = n + 1


@numba.njit(cache=True, inline="always")
def _live_remove(live, pos, ctr, order_id):
    n = ctr[C_LIVE] - 1
    at = pos[order_id]
    moved = live[n]
    live[at] = moved
    pos[moved] = at
    ctr[C_LIVE] = n


@numba.njit(cache=True, inline="always")
def _update_quotes(state, ctr):
    """Remember the best quotes; a side's last one stays the reference of the other side's orders while it is empty."""
    bid, ask = eng.best_bid(state), eng.best_ask(state)
    if bid != eng.NO_PRICE:
        ctr[C_LAST_BID] = bid
    if ask != eng.NO_PRICE:
        ctr[C_LAST_ASK] = ask


@numba.njit(cache=True)
def _fit_grid(state, price, band):
    """Grow the engine's grid (doubling, with a band of margin) until ``price`` is on it."""
    low, n = state[0][eng.ORIGIN], state[2].shape[1]
    while price - band < low or price + band >= low + n:
        low, n = low - n // 2, 2 * n
    return eng.grow_engine(state, low, n, state[1].shape[0])


@numba.njit(cache=True, inline="always")
def _limit(state, out, ctr, live, pos, side, price, qty, ts_ns, band):
    order_id = ctr[C_NEXT_ID]
    status = eng.limit(state, side, price, qty, order_id, ts_ns, out)
    while status != eng.OK:  # OFF_GRID or CAPACITY: grow and retry (a ZI limit order never crosses)
        if status == eng.OFF_GRID:
            state = _fit_grid(state, price, band)
        else:
            state = eng.grow_engine(state, state[0][eng.ORIGIN], state[2].shape[1], 2 * state[1].shape[0])
        ctr[C_GROWS] += 1
        status = eng.limit(state, side, price, qty, order_id, ts_ns, out)
    ctr[C_NEXT_ID] = order_id + 1
    n = ctr[C_LIVE]
    live[n] = order_id
    pos[order_id] = n
    ctr[C_LIVE] = n + 1
    return state


@numba.njit(cache=True, inline="always")
def _market(state, out, ctr, live, pos, side, qty, ts_ns, ev, record):
    """Run a market order; drop the resting orders it fills from ``live``; record one trade per fill."""
    out[1][0] = 0
    status = eng.market(state, side, qty, -1, ts_ns, out)
    while status == eng.FILL_CAPACITY:
        out = eng.grow_fills(out, 2 * out[0].shape[0])
        status = eng.market(state, side, qty, -1, ts_ns, out)
    rows, n_fills = out[0], out[1][0]
    for j in range(n_fills):
        passive = rows[j, eng.F_PASSIVE]
        if j < n_fills - 1 or eng.order_slot(state, passive) < 0:
            _live_remove(live, pos, ctr, passive)
        if record:
            _record(ev, ctr, ts_ns, TRADE, side, rows[j, eng.F_PRICE], rows[j, eng.F_QTY], passive)
    ctr[C_UNFILLED] += state[0][eng.LAST_UNFILLED]
    return out, n_fills


@numba.njit(cache=True, inline="always")
def _cancel(state, out, ctr, live, pos, at, ts_ns, ev, record):
    order_id = live[at]
    slot = eng.order_slot(state, order_id)
    orders = state[1]
    side, price, qty = orders[slot, eng.O_SIDE], orders[slot, eng.O_PRICE], orders[slot, eng.O_QTY]
    eng.delete(state, order_id, out)
    _live_remove(live, pos, ctr, order_id)
    if record:
        _record(ev, ctr, ts_ns, DELETE, side, price, qty, order_id)


@numba.njit(cache=True, inline="always")
def _size(gen, sigma, geometric):
    if geometric:
        return np.int64(gen.geometric(1.0 / sigma)) if sigma > 1.0 else np.int64(1)
    return np.int64(sigma)


@numba.njit(cache=True)
def _room(ev, books, book_ts, live, pos, ctr, per_event):
    """Grow the buffers so that one more model event fits (a market order writes at most one row per live order)."""
    need = ctr[C_EVENTS] + ctr[C_LIVE] + 2
    ev = _grow_rows(ev, need)
    if per_event:
        books = _grow_books(books, need)
        book_ts = _grow_rows(book_ts, need)
    live = _grow_rows(live, ctr[C_LIVE] + 2)
    pos = _grow_rows(pos, ctr[C_NEXT_ID] + 2)
    return ev, books, book_ts, live, pos


@numba.njit(cache=True, inline="always")
def _short(ev, books, live, pos, ctr, per_event):
    need = ctr[C_EVENTS] + ctr[C_LIVE] + 2
    full = need > ev.shape[0] or (per_event and need > books.shape[1])
    return full or ctr[C_LIVE] + 2 > live.shape[0] or ctr[C_NEXT_ID] + 2 > pos.shape[0]


@numba.njit(cache=True, inline="always")
def _step(state, out, gen, rates, band, geometric, u, ts_ns, ev, live, pos, ctr, record):
    """Apply the event chosen by ``u`` uniform on [0, total rate); return (state, out, rows written)."""
    alpha, mu, delta, sigma = rates[0], rates[1], rates[2], rates[3]
    band_rate = band * alpha
    if u < 2.0 * band_rate:  # limit order: side, then k uniform on 1..band (Smith et al. 2003, sec. I.C)
        side = 1 if u < band_rate else -1
        k = 1 + min(np.int64((u - (0.0 if side == 1 else band_rate)) / alpha), band - 1)
        price = (ctr[C_LAST_ASK] if side == 1 else ctr[C_LAST_BID]) - side * k
        qty = _size(gen, sigma, geometric)
        state = _limit(state, out, ctr, live, pos, side, price, qty, ts_ns, band)
        ctr[C_LIMITS] += 1
        if record:
            _record(ev, ctr, ts_ns, ADD, side, price, qty, ctr[C_NEXT_ID] - 1)
        return state, out, 1
    u -= 2.0 * band_rate
    if u < 2.0 * mu:  # market order
        side = 1 if u < mu else -1
        out, n_fills = _market(state, out, ctr, live, pos, side, _size(gen, sigma, geometric), ts_ns, ev, record)
        ctr[C_MARKETS] += 1
        return state, out, n_fills
    at = min(np.int64((u - 2.0 * mu) / delta), ctr[C_LIVE] - 1)  # cancel a uniformly chosen resting order
    _cancel(state, out, ctr, live, pos, at, ts_ns, ev, record)
    ctr[C_CANCELS] += 1
    return state, out, 1


@numba.njit(cache=True)
def run(
    state,
    out,
    gen,
    rates,
    band,
    geometric,
    t_start,
    t_end,
    start_ns,
    sample_ns,
    record,
    ev,
    books,
    book_ts,
    live,
    pos,
    ctr,
):
    """Simulate from ``t_start`` to ``t_end`` (s); record events (and books) only when ``record``.

    ``sample_ns <= 0`` writes the book after every event record (a sweep's trades all get the book after the whole
    market order); otherwise the book at every multiple of ``sample_ns`` from ``start_ns``.
    """
    alpha, mu, delta = rates[0], rates[1], rates[2]
    per_event = sample_ns <= 0
    arrivals = 2.0 * (band * alpha + mu)
    t = t_start
    while True:
        t += gen.standard_exponential() / (arrivals + delta * ctr[C_LIVE])
        if t > t_end:
            break
        ts_ns = start_ns + np.int64(np.round(t * 1e9))
        if _short(ev, books, live, pos, ctr, per_event):
            ev, books, book_ts, live, pos = _room(ev, books, book_ts, live, pos, ctr, per_event)
        if record and not per_event:
            _samples(state, books, book_ts, ctr, start_ns, sample_ns, ts_ns - 1)
        _update_quotes(state, ctr)
        u = gen.random() * (arrivals + delta * ctr[C_LIVE])
        state, out, rows = _step(state, out, gen, rates, band, geometric, u, ts_ns, ev, live, pos, ctr, record)
        if record and per_event:
            for _ in range(rows):
                _snapshot(state, books, book_ts, ctr, ts_ns)
    if record and not per_event:
        _samples(state, books, book_ts, ctr, start_ns, sample_ns, start_ns + np.int64(np.round(t_end * 1e9)))
    return state, out, ev, books, book_ts, live, pos


@numba.njit(cache=True)
def _samples(state, books, book_ts, ctr, start_ns, sample_ns, until_ns):
    """Write the book at every sampling time up to ``until_ns`` not yet written (the buffer is sized for all)."""
    while start_ns + ctr[C_SAMPLE] * sample_ns <= until_ns and ctr[C_BOOKS] < books.shape[1]:
        _snapshot(state, books, book_ts, ctr, start_ns + ctr[C_SAMPLE] * sample_ns)
        ctr[C_SAMPLE] += 1


@numba.njit(cache=True)
def emit_resting(state, ev, books, book_ts, live, ctr, ts_ns, per_event):
    """Record every resting order as an ADD at ``ts_ns`` in id order (their arrival order, so FIFO is kept)."""
    n = ctr[C_LIVE]
    ids = np.sort(live[:n])
    ev = _grow_rows(ev, ctr[C_EVENTS] + n + 1)
    if per_event:
        books = _grow_books(books, ctr[C_BOOKS] + n + 1)
        book_ts = _grow_rows(book_ts, ctr[C_BOOKS] + n + 1)
    orders = state[1]
    for order_id in ids:
        slot = eng.order_slot(state, order_id)
        side, price, qty = orders[slot, eng.O_SIDE], orders[slot, eng.O_PRICE], orders[slot, eng.O_QTY]
        _record(ev, ctr, ts_ns, ADD, side, price, qty, order_id)
        if per_event:
            _snapshot(state, books, book_ts, ctr, ts_ns)
    return ev, books, book_ts
