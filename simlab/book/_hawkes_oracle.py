"""Numba kernels of the Hawkes-driven book's continuations (private; :mod:`simlab.book.hawkes_oracle` wraps them).

Kernels trust their input. The intensity state is ``exc`` float64 ``(d, C)``: the excitation of target dimension
``i`` by all past events through the ``C`` distinct decays ``betas`` (1/s), so ``lambda_i = baseline_i + sum_c
exc[i, c]``; an event of dimension ``j`` adds ``jump[j]`` (``(d, C)``, events/s) and between events ``exc[:, c]``
decays as ``exp(-betas[c] dt)``.

* :func:`next_event`: the next event after time ``t`` from state ``exc`` by thinning: the total intensity never
  rises between events, so the intensity just after ``t`` bounds it. Each proposal draws two uniforms from
  ``gen``: the waiting time ``-log(1 - u1) / bound``, and ``u2 * bound`` which is accepted when below the total
  intensity at the proposal and then picks the dimension by cumulative intensity (exact, no discretisation).
* :func:`run_until`: the recorded simulation (``_hawkes_book.run`` one path event at a time) up to the first event
  after which more than ``stop_records`` records exist.
* :func:`continue_paths`: ``n_paths`` continuations of the book from one engine state, counters and intensity
  state, each event drawn by :func:`next_event` then applied by ``_hawkes_book._step`` (the simulator's own step,
  same draws in the same order), until ``need_rows`` more records (a horizon in events) or past ``limit_ns`` (a
  horizon in time).
"""

from __future__ import annotations

import numba
import numpy as np

from simlab.book import _engine as eng
from simlab.book import _hawkes_book, _sim

OUT_MID, OUT_HIGH, OUT_LOW, OUT_RV, OUT_VALID, OUT_EVENTS = range(6)
OUT_FIELDS = 6


@numba.njit(cache=True)
def next_event(exc, betas, baseline, t, gen):
    """Advance ``exc`` (in place) to the next event after ``t``; return (its time, its dimension)."""
    d, n_c = exc.shape
    base = baseline.sum()
    while True:
        bound = base + exc.sum()
        wait = -np.log(1.0 - gen.random()) / bound
        t += wait
        for c in range(n_c):
            factor = np.exp(-betas[c] * wait)
            for i in range(d):
                exc[i, c] *= factor
        u = gen.random() * bound
        acc = 0.0
        for i in range(d):
            acc += baseline[i]
            for c in range(n_c):
                acc += exc[i, c]
            if u < acc:
                return t, i


@numba.njit(cache=True)
def advance_excitation(exc, t_exc, times_s, dims, jump, betas, first, last):
    """Add path events ``first..last-1`` to ``exc`` (state just after time ``t_exc``); return the new time."""
    for j in range(first, last):
        wait = times_s[j] - t_exc
        for c in range(betas.shape[0]):
            factor = np.exp(-betas[c] * wait)
            for i in range(exc.shape[0]):
                exc[i, c] = exc[i, c] * factor + jump[dims[j], i, c]
        t_exc = times_s[j]
    return t_exc


@numba.njit(cache=True)
def run_until(
    state, out, gen, times_s, dims, first, last, offset_s, laws, law_values, hazard, depth_ref, depth_window,
    max_spread, from_opposite, band, start_ns, ev, books, book_ts, ctr, stop_records,
):  # fmt: skip
    """Apply path events from ``first`` (recorded, a book per record) until more than ``stop_records`` records
    exist; return (state, out, ev, books, book_ts, index of the next event)."""
    j = first
    while j < last and ctr[_sim.C_EVENTS] <= stop_records:
        state, out, ev, books, book_ts = _hawkes_book.run(
            state, out, gen, times_s, dims, j, j + 1, offset_s, laws, law_values, hazard, depth_ref, depth_window,
            max_spread, from_opposite, band, start_ns, 0, True, ev, books, book_ts, ctr,
        )  # fmt: skip
        j += 1
    return state, out, ev, books, book_ts, j


@numba.njit(cache=True)
def _mid2(state):
    bid, ask = eng.best_bid(state), eng.best_ask(state)
    if bid == eng.NO_PRICE or ask == eng.NO_PRICE:
        return eng.NO_PRICE
    return bid + ask


@numba.njit(cache=True)
def continue_paths(state, ctr, exc0, t0, jump, betas, baseline, gen, n_paths, need_rows, limit_ns, max_events,
                   offset_s, start_ns, laws, law_values, hazard, depth_ref, depth_window, max_spread, from_opposite,
                   band):  # fmt: skip
    """Return ``(n_paths, OUT_FIELDS)``: per continuation the doubled mid (ticks) at the target, its highest and
    lowest value from the origin to the target, the sum of squared log returns of the doubled mid, whether both
    touches stayed quoted, and the events drawn. ``need_rows > 0``: the target is the event that writes the
    ``need_rows``-th record; else the last event at or before ``limit_ns``."""
    result = np.zeros((n_paths, OUT_FIELDS))
    ev = np.zeros((1, _sim.EV_FIELDS), np.int64)
    mid0 = _mid2(state)
    for m in range(n_paths):
        st = (state[0].copy(), state[1].copy(), state[2].copy(), state[3].copy())
        c, exc, t = ctr.copy(), exc0.copy(), t0
        out = eng.new_fills(1024)
        rows, mid, high, low, rv, valid, n_events = 0, mid0, mid0, mid0, 0.0, mid0 != eng.NO_PRICE, 0
        while valid and n_events < max_events and (need_rows <= 0 or rows < need_rows):
            t, dim = next_event(exc, betas, baseline, t, gen)
            ts_ns = start_ns + np.int64(np.round((t - offset_s) * 1e9))
            if need_rows <= 0 and ts_ns > limit_ns:
                break
            for i in range(exc.shape[0]):
                for k in range(exc.shape[1]):
                    exc[i, k] += jump[dim, i, k]
            _sim.update_quotes(st, c)
            st, out, written = _hawkes_book._step(
                st, out, gen, dim, laws, law_values, hazard, depth_ref, depth_window, max_spread, from_opposite,
                band, ts_ns, ev, c, False,
            )  # fmt: skip
            n_events += 1
            if written > 0:
                rows += written
                new = _mid2(st)
                if new == eng.NO_PRICE:
                    valid = False
                    break
                rv += np.log(new / mid) ** 2
                mid, high, low = new, max(high, new), min(low, new)
        result[m, OUT_MID], result[m, OUT_HIGH], result[m, OUT_LOW], result[m, OUT_RV] = mid, high, low, rv
        result[m, OUT_VALID] = valid and (need_rows <= 0 or rows >= need_rows)
        result[m, OUT_EVENTS] = n_events
    return result
