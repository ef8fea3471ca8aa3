"""Numba kernel replaying LOBSTER messages through a price-level book that knows what it does not know.

A level-N LOBSTER message file only carries the events that touch the N best levels of a side. The kernel keeps,
per side, the levels it knows *exactly*: every level whose key is at or better than the side's ``bound`` (keys
are ``price`` for asks and ``-price`` for bids, so a smaller key is better on both sides). Events beyond the
bound are not trusted and are ignored; after every message a side holding more than N known levels forgets the
ones beyond level N (their later events are not reported) and moves its bound to level N. ``bound`` is
``UNBOUNDED`` when the whole side is known (fewer than N levels were visible) and ``UNKNOWN`` when nothing is.
Level k of a side is *determined* after a message when k <= the number of known levels or the side is complete.
In *reveal* mode the undetermined levels are then taken from the orderbook file's row (the only source for a level
that enters the window from beyond it) and tracked exactly from there on.
"""

from __future__ import annotations

import numba
import numpy as np

UNBOUNDED = np.iinfo(np.int64).max
UNKNOWN = np.iinfo(np.int64).min
NO_PRICE = np.iinfo(np.int64).min
OK, OVER_REMOVE, NO_LEVEL, CROSSED, REVEAL_CONFLICT = 0, 1, 2, 3, 4


@numba.njit(cache=True)
def apply_delta(keys, qtys, counts, bounds, side, key, delta):
    """Add ``delta`` lots at ``key`` on ``side``; return an error code (0 when fine) and the lots held before."""
    if delta == 0 or key > bounds[side]:
        return OK, 0
    n = counts[side]
    j = 0
    while j < n and keys[side, j] < key:
        j += 1
    if j < n and keys[side, j] == key:
        held = qtys[side, j]
        q = held + delta
        if q < 0:
            return OVER_REMOVE, held
        if q == 0:
            for m in range(j, n - 1):
                keys[side, m] = keys[side, m + 1]
                qtys[side, m] = qtys[side, m + 1]
            counts[side] = n - 1
        else:
            qtys[side, j] = q
        return OK, held
    if delta < 0:
        return NO_LEVEL, 0
    for m in range(n, j, -1):
        keys[side, m] = keys[side, m - 1]
        qtys[side, m] = qtys[side, m - 1]
    keys[side, j] = key
    qtys[side, j] = delta
    counts[side] = n + 1
    return OK, 0


@numba.njit(cache=True)
def replay_kernel(side, key, delta, keys, qtys, counts, bounds, levels, file_key, file_qty, out, out_known, err):
    """Apply every message; write the N-level book and the determined level count per side after each one.

    ``side`` is 0 (bid) or 1 (ask), ``key`` the signed price, ``delta`` the signed lots added to the level.
    ``keys``/``qtys`` (2, N + 2) hold the start state (modified in place). ``out`` is (2, rows, 2, N): prices
    then quantities; ``out_known`` (rows, 2) the levels determined by the start state and the messages. When
    ``file_key``/``file_qty`` (rows, 2, N; signed keys) have rows, undetermined levels are *revealed*: taken from
    the file's row, then tracked like the others. On failure ``err`` gets (code, row, side, key, lots) and the
    kernel stops.
    """
    for i in range(key.shape[0]):
        s = side[i]
        code, held = apply_delta(keys, qtys, counts, bounds, s, key[i], delta[i])
        if code != OK:
            _fail(err, code, i, s, key[i], held)
            return
        if counts[s] >= levels:
            counts[s] = levels
            bounds[s] = keys[s, levels - 1]
        for b in range(2):
            n = counts[b]
            out_known[i, b] = levels if (n >= levels or bounds[b] == UNBOUNDED) else n
            if file_key.shape[0] and out_known[i, b] < levels:
                bad = _reveal(keys, qtys, counts, bounds, b, levels, file_key[i, b], file_qty[i, b])
                if bad >= 0:
                    _fail(err, REVEAL_CONFLICT, i, b, file_key[i, b, bad], file_qty[i, b, bad])
                    return
        if counts[0] > 0 and counts[1] > 0 and -keys[0, 0] >= keys[1, 0]:
            _fail(err, CROSSED, i, s, key[i], -keys[0, 0])
            return
        _emit(keys, qtys, counts, levels, out, i)


@numba.njit(cache=True)
def _reveal(keys, qtys, counts, bounds, b, levels, row_key, row_qty):
    """Adopt the file's levels beyond the known ones; return the level of a conflict, or -1."""
    m = counts[b]
    for j in range(m, levels):
        if row_qty[j] == 0:
            bounds[b] = UNBOUNDED
            break
        if row_key[j] <= bounds[b]:
            return j
        keys[b, m] = row_key[j]
        qtys[b, m] = row_qty[j]
        m += 1
    counts[b] = m
    if m == levels:
        bounds[b] = keys[b, levels - 1]
    return -1


@numba.njit(cache=True)
def _emit(keys, qtys, counts, levels, out, i):
    for b in range(2):
        sign = -1 if b == 0 else 1
        n = counts[b]
        for j in range(levels):
            if j < n:
                out[0, i, b, j] = sign * keys[b, j]
                out[1, i, b, j] = qtys[b, j]
            else:
                out[0, i, b, j] = NO_PRICE
                out[1, i, b, j] = 0


@numba.njit(cache=True)
def _fail(err, code, row, side, key, held):
    err[0] = code
    err[1] = row
    err[2] = side
    err[3] = key
    err[4] = held
