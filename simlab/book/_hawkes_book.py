"""Numba kernels of the Hawkes-driven book: a given Hawkes path of event types applied to the matching engine.

Kernels trust their input (``simlab.book.hawkes_book`` validates it). Every random draw is one ``gen.random()``
(uniform on [0, 1)), in this order per event: a limit order draws its placement then its size, a cancel draws
whether it applies (with depth feedback only) then the order to remove, a market order draws its size; so a slow
twin fed by the same generator reproduces a run.

Work arrays (the event and book buffers and the first counters are those of :mod:`simlab.book._sim`):

* ``laws`` float64 ``(N_LAWS, n)``: cumulative probabilities (each row non-decreasing, 1.0 from its last value
  on) of ``law_values`` int64 ``(N_LAWS, n)``: rows ``PLACE_BID``, ``PLACE_ASK`` (ticks from the same-side best,
  negative inside the spread), ``SIZE_LIMIT_BID``, ``SIZE_LIMIT_ASK``, ``SIZE_MARKET_BUY``, ``SIZE_MARKET_SELL``
  (lots);
* ``hazard`` float64 ``(2, H)``: relative cancellation weight per resting lot at ``0..H-1`` ticks from the
  same-side best (row 0 bid, 1 ask; ``H-1`` and beyond share the last value);
* ``depth_ref`` float64 ``(2,)`` and ``depth_window`` int: a cancel of side s is applied with probability
  min(1, lots resting at 0..depth_window-1 ticks from the same-side best / ``depth_ref[s]``) (one extra uniform,
  drawn before the order's), else skipped (``C_SKIPPED``); ``depth_ref[s] <= 0``: always applied, no extra draw;
* ``from_opposite`` bool: the placement laws are distances from the opposite best (its last value when empty),
  1 = one tick behind it, and a draw is conditioned on not reaching it; ``max_spread`` is then unused;
* ``max_spread`` int > 0 turns the placement feedback on: a limit order's reference quote is no farther than
  ``max_spread`` ticks from the opposite best, and its distance is drawn from the placement law conditioned on
  not reaching the opposite best (the same uniform mapped above the crossing mass; the old cap remains for a law
  with no feasible value); <= 0: the reference is the same-side best and the draw unconditioned;
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
def reference(ctr, state, side, max_spread, from_opposite):
    """(reference quote, opposite best) of a limit order of ``side``.

    The reference is the opposite best (its last value when empty) when ``from_opposite``; else the same-side best
    (its last value when empty), but no farther than ``max_spread`` ticks from the opposite best when
    ``max_spread > 0``.
    """
    opposite = eng.best_ask(state) if side == 1 else eng.best_bid(state)
    if from_opposite:
        return (ctr[_sim.C_LAST_ASK] if side == 1 else ctr[_sim.C_LAST_BID]), opposite
    same = ctr[_sim.C_LAST_BID] if side == 1 else ctr[_sim.C_LAST_ASK]
    if max_spread > 0 and opposite != eng.NO_PRICE and side * (opposite - same) > max_spread:
        same = opposite - side * max_spread
    return same, opposite


@numba.njit(cache=True)
def feasible_uniform(cdf, values, ref, opposite, side, u):
    """``u`` mapped into the law's mass of distances that do not reach the opposite best (unchanged if none do)."""
    if opposite == eng.NO_PRICE:
        return u
    gap = side * (opposite - ref)  # a distance d crosses when d <= -gap
    low, high = 0, values.shape[0]
    while low < high:  # first index with values > -gap
        mid = (low + high) // 2
        if values[mid] > -gap:
            high = mid
        else:
            low = mid + 1
    if low == 0:
        return u
    below = cdf[low - 1]
    if below >= 1.0:
        return u
    return below + u * (1.0 - below)


@numba.njit(cache=True)
def limit_price(ctr, state, side, distance, max_spread, from_opposite):
    """Price ``distance`` ticks behind the reference quote (:func:`reference`), capped inside the spread.

    A price at or through the opposite best becomes one tick inside it (joining the best at a one-tick spread).
    Returns (price, capped).
    """
    same, opposite = reference(ctr, state, side, max_spread, from_opposite)
    price = same - side * distance
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
def window_lots(state, side, width):
    """Lots resting at 0..width-1 ticks from the same-side best (0 when the side is empty)."""
    meta, levels = state[0], state[2]
    n_levels = meta[eng.N_BID] if side == 1 else meta[eng.N_ASK]
    if n_levels == 0:
        return 0
    row, step = (eng.BID_ROW, -1) if side == 1 else (eng.ASK_ROW, 1)
    best = meta[eng.BEST_BID] if side == 1 else meta[eng.BEST_ASK]
    total, i = 0, best
    for _ in range(width):
        if i < 0 or i >= levels.shape[1]:
            break
        total += levels[row, i, eng.L_QTY]
        i += step
    return total


@numba.njit(cache=True)
def _cancel(state, out, ctr, side, hazard_row, depth_ref, depth_window, gen, ts_ns, ev, record):
    """A cancel of ``side``, applied with probability min(1, lots within ``depth_window`` / ``depth_ref``)."""
    if depth_ref > 0.0 and gen.random() * depth_ref >= window_lots(state, side, depth_window):
        ctr[C_SKIPPED] += 1
        return 0
    slot = pick_cancel(state, side, hazard_row, gen.random())
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
def _step(
    state, out, gen, dim, laws, law_values, hazard, depth_ref, depth_window, max_spread, from_opposite, band, ts_ns, ev,
    ctr, record,
):  # fmt: skip
    """Apply one Hawkes event of dimension ``dim``; return (state, out, records written)."""
    if dim <= LIMIT_ASK:
        side = 1 if dim == LIMIT_BID else -1
        u = gen.random()
        if max_spread > 0 or from_opposite:
            ref, opposite = reference(ctr, state, side, max_spread, from_opposite)
            u = feasible_uniform(laws[dim], law_values[dim], ref, opposite, side, u)
        distance = draw(laws[dim], law_values[dim], u)
        qty = draw(laws[SIZE_LIMIT_BID + dim], law_values[SIZE_LIMIT_BID + dim], gen.random())
        price, capped = limit_price(ctr, state, side, distance, max_spread, from_opposite)
        ctr[C_CAPPED] += capped
        state = _sim.rest_limit(state, out, ctr, side, price, qty, ts_ns, band)
        if record:
            _sim.record(ev, ctr, ts_ns, ADD, side, price, qty, ctr[_sim.C_NEXT_ID] - 1)
        return state, out, 1
    if dim <= CANCEL_ASK:
        side = 1 if dim == CANCEL_BID else -1
        row = dim - CANCEL_BID
        applied = _cancel(state, out, ctr, side, hazard[row], depth_ref[row], depth_window, gen, ts_ns, ev, record)
        return state, out, applied
    law = SIZE_MARKET_BUY + dim - MARKET_BUY
    qty = draw(laws[law], law_values[law], gen.random())
    out, n_fills = _market(state, out, ctr, 1 if dim == MARKET_BUY else -1, qty, ts_ns, ev, record)
    return state, out, n_fills


@numba.njit(cache=True)
def run(state, out, gen, times_s, dims, first, last, offset_s, laws, law_values, hazard, depth_ref, depth_window,
        max_spread, from_opposite, band, start_ns, sample_ns, record, ev, books, book_ts, ctr):  # fmt: skip
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
        state, out, rows = _step(state, out, gen, dim, laws, law_values, hazard, depth_ref, depth_window, max_spread,
                                 from_opposite, band, ts_ns, ev, ctr, record)  # fmt: skip
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
