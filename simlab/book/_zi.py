"""Numba kernels of the zero-intelligence book (exact Gillespie simulation on the matching engine).

Kernels trust their input (``simlab.book.zero_intelligence`` validates it). The engine state, the fill buffer and
the output buffers grow inside the kernels when full (doubling), so :func:`run` returns them all.

Work arrays (the event and book buffers and the first counters are those of :mod:`simlab.book._sim`):

* ``live`` ``(capacity,)``: ids of the resting orders (in no order) and ``pos`` (indexed by order id) their place
  in ``live``, for an O(1) uniform choice and removal;
* ``ctr`` int64 ``(CTR_SIZE,)``: the ``_sim`` counters, then ``C_LIMITS``, ``C_MARKETS``, ``C_CANCELS`` (events
  of each type applied).
"""

from __future__ import annotations

import numba
import numpy as np

from simlab.book import _engine as eng
from simlab.book import _sim
from simlab.book._sim import ADD, C_EVENTS, C_LAST_ASK, C_LAST_BID, C_LIVE, C_NEXT_ID, DELETE, TRADE

C_GROWS = _sim.C_GROWS  # the shared counters keep their _zi names
C_LIMITS, C_MARKETS, C_CANCELS = range(_sim.CTR_SIZE, _sim.CTR_SIZE + 3)
CTR_SIZE = _sim.CTR_SIZE + 3


@numba.njit(cache=True, inline="always")
def _live_remove(live, pos, ctr, order_id):
    n = ctr[C_LIVE] - 1
    at = pos[order_id]
    moved = live[n]
    live[at] = moved
    pos[moved] = at
    ctr[C_LIVE] = n


@numba.njit(cache=True, inline="always")
def _limit(state, out, ctr, live, pos, side, price, qty, ts_ns):
    """Rest a limit order, id ``C_NEXT_ID``. The status is ``OK`` by construction, so it is not read: the price is on
    the grid with a free slot (the loop called ``_sim.room_for``), the size >= 1 (``ZIParams`` checks it), the id new,
    and a ZI limit order never crosses (it is priced from the other side's last touch)."""
    order_id = ctr[C_NEXT_ID]
    eng.limit(state, side, price, qty, order_id, ts_ns, out)
    ctr[C_NEXT_ID] = order_id + 1
    n = ctr[C_LIVE]
    live[n] = order_id
    pos[order_id] = n
    ctr[C_LIVE] = n + 1


@numba.njit(cache=True, inline="always")
def _market(state, out, ctr, live, pos, side, qty, ts_ns, ev, record):
    """Run a market order (the fill buffer holds every resting order: the loop grew it); drop the resting orders it
    fills from ``live``; record one trade per fill; return the fills."""
    out[1][0] = 0
    eng.market(state, side, qty, -1, ts_ns, out)
    ctr[_sim.C_UNFILLED] += state[0][eng.LAST_UNFILLED]
    n_fills = out[1][0]
    rows = out[0]
    for j in range(n_fills):
        passive = rows[j, eng.F_PASSIVE]
        if j < n_fills - 1 or eng.order_slot(state, passive) < 0:
            _live_remove(live, pos, ctr, passive)
        if record:
            _sim.record(ev, ctr, ts_ns, TRADE, side, rows[j, eng.F_PRICE], rows[j, eng.F_QTY], passive)
    return n_fills


@numba.njit(cache=True, inline="always")
def _cancel(state, out, ctr, live, pos, at, ts_ns, ev, record):
    order_id = live[at]
    slot = eng.order_slot(state, order_id)
    orders = state[1]
    side, price, qty = orders[slot, eng.O_SIDE], orders[slot, eng.O_PRICE], orders[slot, eng.O_QTY]
    eng.delete(state, order_id, out)
    _live_remove(live, pos, ctr, order_id)
    if record:
        _sim.record(ev, ctr, ts_ns, DELETE, side, price, qty, order_id)


@numba.njit(cache=True, inline="always")
def _size(gen, sigma, geometric):
    if geometric:
        return np.int64(gen.geometric(1.0 / sigma)) if sigma > 1.0 else np.int64(1)
    return np.int64(sigma)


@numba.njit(cache=True)
def _room(ev, books, book_ts, live, pos, ctr, per_event):
    """Grow the buffers so that one more model event fits (a market order writes at most one row per live order)."""
    need = ctr[C_EVENTS] + ctr[C_LIVE] + 2
    ev = _sim.grow_rows(ev, need)
    if per_event:
        books = _sim.grow_books(books, need)
        book_ts = _sim.grow_rows(book_ts, need)
    live = _sim.grow_rows(live, ctr[C_LIVE] + 2)
    pos = _sim.grow_rows(pos, ctr[C_NEXT_ID] + 2)
    return ev, books, book_ts, live, pos


@numba.njit(cache=True, inline="always")
def _short(ev, books, live, pos, ctr, per_event):
    need = ctr[C_EVENTS] + ctr[C_LIVE] + 2
    full = need > ev.shape[0] or (per_event and need > books.shape[1])
    return full or ctr[C_LIVE] + 2 > live.shape[0] or ctr[C_NEXT_ID] + 2 > pos.shape[0]


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
    alpha, mu, delta, sigma = rates[0], rates[1], rates[2], rates[3]
    per_event = sample_ns <= 0
    band_rate = band * alpha
    arrivals = 2.0 * (band_rate + mu)
    t = t_start
    # The state and the fill buffer are replaced only when they grow, checked before each order: a call or an
    # assignment that takes them costs the reference counting of their arrays, which was most of this loop's time.
    while True:
        t += gen.standard_exponential() / (arrivals + delta * ctr[C_LIVE])
        if t > t_end:
            break
        ts_ns = start_ns + np.int64(np.round(t * 1e9))
        if _short(ev, books, live, pos, ctr, per_event):
            ev, books, book_ts, live, pos = _room(ev, books, book_ts, live, pos, ctr, per_event)
        if record and not per_event and start_ns + ctr[_sim.C_SAMPLE] * sample_ns <= ts_ns - 1:
            _sim.samples(state, books, book_ts, ctr, start_ns, sample_ns, ts_ns - 1)
        _sim.update_quotes(state, ctr)
        u = gen.random() * (arrivals + delta * ctr[C_LIVE])  # the event: u uniform on [0, total rate)
        if u < 2.0 * band_rate:  # limit order: side, then k uniform on 1..band (Smith et al. 2003, sec. I.C)
            side = 1 if u < band_rate else -1
            k = 1 + min(np.int64((u - (0.0 if side == 1 else band_rate)) / alpha), band - 1)
            price = (ctr[C_LAST_ASK] if side == 1 else ctr[C_LAST_BID]) - side * k
            qty = _size(gen, sigma, geometric)
            if not 0 <= price - state[0][eng.ORIGIN] < state[2].shape[1] or state[0][eng.FREE] < 0:
                state = _sim.room_for(state, ctr, price, band)
            _limit(state, out, ctr, live, pos, side, price, qty, ts_ns)
            ctr[C_LIMITS] += 1
            if record:
                _sim.record(ev, ctr, ts_ns, ADD, side, price, qty, ctr[C_NEXT_ID] - 1)
            rows = 1
        elif u - 2.0 * band_rate < 2.0 * mu:  # market order
            side = 1 if u - 2.0 * band_rate < mu else -1
            if out[0].shape[0] < state[0][eng.N_ORDERS]:  # room for a fill of every resting order (the buffer may
                # grow larger than the old grow-when-short loop made it: memory of the order pool's order, same fills)
                out = eng.grow_fills(out, 2 * state[0][eng.N_ORDERS])
            rows = _market(state, out, ctr, live, pos, side, _size(gen, sigma, geometric), ts_ns, ev, record)
            ctr[C_MARKETS] += 1
        else:  # cancel a uniformly chosen resting order
            at = min(np.int64((u - 2.0 * band_rate - 2.0 * mu) / delta), ctr[C_LIVE] - 1)
            _cancel(state, out, ctr, live, pos, at, ts_ns, ev, record)
            ctr[C_CANCELS] += 1
            rows = 1
        if record and per_event and rows > 0:
            _sim.snapshots(state, books, book_ts, ctr, ts_ns, rows)
    if record and not per_event:
        _sim.samples(state, books, book_ts, ctr, start_ns, sample_ns, start_ns + np.int64(np.round(t_end * 1e9)))
    return state, out, ev, books, book_ts, live, pos


@numba.njit(cache=True)
def emit_resting(state, ev, books, book_ts, live, ctr, ts_ns, per_event):
    """Record every resting order as an ADD at ``ts_ns`` in id order (their arrival order, so FIFO is kept)."""
    ids = np.sort(live[: ctr[C_LIVE]])
    slots = np.empty(ids.shape[0], np.int64)
    for k in range(ids.shape[0]):
        slots[k] = eng.order_slot(state, ids[k])
    return _sim.emit_slots(state, ev, books, book_ts, ctr, slots, ts_ns, per_event)
