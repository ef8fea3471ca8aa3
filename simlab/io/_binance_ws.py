"""Numba kernels of the Binance WebSocket reader: exact decimals from JSON strings, and the L2 book rebuild.

The rebuild runs on the matching engine (``simlab.book._engine``), the book of the LOBSTER replay and the simulators:
each price level is one level order (``simlab.book._engine_replay``), and an L2 "set level to qty" update changes it
with ``set_level_lots``. Prices are keys (ranks in the sorted distinct prices), so the engine's grid is dense.
"""

from __future__ import annotations

import numba
import numpy as np

from simlab.book import _engine as E
from simlab.book import _engine_replay as R
from simlab.io._csv import _parse_decimal

# status codes of _rebuild
OK, FIRST_DIFF, GAP, LEVEL, CROSSED = 0, 1, 2, 3, 4


@numba.njit(cache=True)
def parse_decimals(flat, width, count, scale, out):
    """Parse ``count`` NUL-padded strings of ``width`` bytes into ``out`` (int64 scaled by 10**scale).

    Return the index of the first string that is not a decimal number, or -1.
    """
    holder = np.zeros((1, 1), dtype=np.int64)
    for r in range(count):
        lo = r * width
        hi = lo
        while hi < lo + width and flat[hi] != 0:
            hi += 1
        if hi == lo or _parse_decimal(flat, lo, hi, scale, True, 0, 0, holder) != 0:
            return r
        out[r] = holder[0, 0]
    return -1


@numba.njit(cache=True)
def determined_levels(state, known, contiguous, bid_low, ask_high, depth):
    """Return how many of the best bid and ask levels the known prices fix exactly, as ``(bids, asks)``.

    ``known[s, key]``: the level of side ``s`` (0 bid, 1 ask) at ``key`` was set by a diff. The gap between keys
    ``j`` and ``j + 1`` holds no tick price when ``contiguous[j]``. Every bid tick price from key ``bid_low`` up and
    every ask tick price up to key ``ask_high`` is known too: the snapshot listed them, or they were at or beyond
    the other side's best known level at some time (the book is uncrossed), and any change since came in a diff.
    A bid level is determined when every tick price from it up to the best known ask (or, with none, every tick
    price above it) is known; asks mirror this.
    """
    n_keys = known.shape[1]
    counts = np.zeros(2, dtype=np.int64)
    ask, bid = E.best_ask(state), E.best_bid(state)
    j = ask - 1 if ask != E.NO_PRICE else (n_keys - 1 if bid_low < n_keys else -1)
    while j >= 0 and counts[0] < depth and (contiguous[j] or j >= bid_low) and (known[0, j] or j >= bid_low):
        counts[0] += E.level_qty(state, 1, j) > 0
        j -= 1
    j = bid + 1 if bid != E.NO_PRICE else (0 if ask_high >= 0 else n_keys)
    while j < n_keys and counts[1] < depth and (j == 0 or contiguous[j - 1] or j <= ask_high):
        if not (known[1, j] or j <= ask_high):
            break
        counts[1] += E.level_qty(state, -1, j) > 0
        j += 1
    return counts[0], counts[1]


@numba.njit(cache=True)
def rebuild(
    first_ids,
    last_ids,
    prev_ids,
    offsets,
    sides,
    keys,
    qtys,
    snap_sides,
    snap_keys,
    snap_qtys,
    ts_ns,
    snap_ts_ns,
    last_update_id,
    futures,
    n_keys,
    depth,
    contiguous,
):
    """Apply the depth diffs on the snapshot by Binance's procedure; record the top-``depth`` book after each.

    Prices are keys (ranks in the sorted distinct prices; ``contiguous[j]`` when keys ``j`` and ``j + 1`` are
    adjacent tick prices); ``ts_ns`` (per diff) and ``snap_ts_ns`` stamp the level orders the diffs and the snapshot
    create. ``last_update_id < 0`` means no snapshot: the book starts empty and unknown at the first diff, and only
    the chain of the diffs is checked. After each diff, the bid ticks at and above the best known ask and the ask ticks
    at and below the best known bid join the known ones (they were empty then).
    Return ``(status, message, level, applied, rows, books, determined)``: ``status`` OK or the failure (then
    ``message`` / ``level`` name the diff and its level), ``applied`` a bool per diff, ``rows`` the diff index of
    each book row, ``books`` int64 ``(4, n_rows, depth)`` and ``determined`` int64 ``(n_rows, 2)``, the number of
    best bid and ask levels fixed exactly (:func:`determined_levels`).
    """
    n = first_ids.shape[0]
    state = E.new_engine(0, n_keys, 2 * n_keys)  # at most one level order per (side, key)
    applied = np.zeros(n, dtype=np.bool_)
    rows = np.empty(n, dtype=np.int64)
    books = np.empty((4, n, depth), dtype=np.int64)
    determined = np.zeros((n, 2), dtype=np.int64)
    known = np.zeros((2, n_keys), dtype=np.bool_)
    bid_low, ask_high = n_keys, -1  # known without a diff: bid ticks from bid_low up, ask ticks up to ask_high
    for j in range(snap_keys.shape[0]):
        if R.set_level_lots(state, snap_sides[j], snap_keys[j], snap_qtys[j], snap_ts_ns) != E.OK:
            return LEVEL, -1, j, applied, rows[:0], books[:, :0], determined[:0]
        if snap_sides[j] == 1:
            bid_low = min(bid_low, snap_keys[j])
        else:
            ask_high = max(ask_high, snap_keys[j])
    started = False
    previous = -1
    count = 0
    for m in range(n):
        if last_ids[m] <= last_update_id:
            continue
        if not started:
            target = last_update_id if futures else last_update_id + 1
            chained = futures and prev_ids[m] == last_update_id
            if last_update_id >= 0 and not (first_ids[m] <= target <= last_ids[m] or chained):
                return FIRST_DIFF, m, -1, applied, rows[:0], books[:, :0], determined[:0]
            started = True
        elif (futures and prev_ids[m] != previous) or (not futures and first_ids[m] != previous + 1):
            return GAP, m, -1, applied, rows[:0], books[:, :0], determined[:0]
        for k in range(offsets[m], offsets[m + 1]):
            if R.set_level_lots(state, sides[k], keys[k], qtys[k], ts_ns[m]) != E.OK:
                return LEVEL, m, k, applied, rows[:0], books[:, :0], determined[:0]
            known[0 if sides[k] == 1 else 1, keys[k]] = True
        bid, ask = E.best_bid(state), E.best_ask(state)
        if bid != E.NO_PRICE and ask != E.NO_PRICE and bid >= ask:
            return CROSSED, m, -1, applied, rows[:0], books[:, :0], determined[:0]
        E.top_k(state, depth, books[0], books[1], books[2], books[3], count)
        bid_low = ask if ask != E.NO_PRICE and ask < bid_low else bid_low
        ask_high = bid if bid != E.NO_PRICE and bid > ask_high else ask_high
        determined[count, 0], determined[count, 1] = determined_levels(state, known, contiguous, bid_low, ask_high,
                                                                       depth)  # fmt: skip
        applied[m] = True
        rows[count] = m
        count += 1
        previous = last_ids[m]
    return OK, -1, -1, applied, rows[:count], books[:, :count], determined[:count]
