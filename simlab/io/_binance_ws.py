"""Numba kernels of the Binance WebSocket reader: exact decimals from JSON strings, and the L2 book rebuild."""

from __future__ import annotations

import numba
import numpy as np

from simlab.book import _levels
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
    last_update_id,
    futures,
    n_keys,
    depth,
):
    """Apply the depth diffs on the snapshot by Binance's procedure; record the top-``depth`` book after each.

    Prices are keys (ranks in the sorted distinct prices). Return ``(status, message, level, applied, rows, books)``:
    ``status`` OK or the failure (then ``message`` / ``level`` name the diff and its level), ``applied`` a bool per
    diff, ``rows`` the diff index of each book row, and ``books`` int64 ``(4, n_rows, depth)``.
    """
    n = first_ids.shape[0]
    levels, state = _levels.new_book(0, n_keys)
    applied = np.zeros(n, dtype=np.bool_)
    rows = np.empty(n, dtype=np.int64)
    books = np.empty((4, n, depth), dtype=np.int64)
    for j in range(snap_keys.shape[0]):
        if _levels.set_level(levels, state, snap_sides[j], snap_keys[j], snap_qtys[j]) != _levels.OK:
            return LEVEL, -1, j, applied, rows[:0], books[:, :0]
    started = False
    previous = -1
    count = 0
    for m in range(n):
        if last_ids[m] <= last_update_id:
            continue
        if not started:
            target = last_update_id if futures else last_update_id + 1
            chained = futures and prev_ids[m] == last_update_id
            if not (first_ids[m] <= target <= last_ids[m] or chained):
                return FIRST_DIFF, m, -1, applied, rows[:0], books[:, :0]
            started = True
        elif (futures and prev_ids[m] != previous) or (not futures and first_ids[m] != previous + 1):
            return GAP, m, -1, applied, rows[:0], books[:, :0]
        for k in range(offsets[m], offsets[m + 1]):
            if _levels.set_level(levels, state, sides[k], keys[k], qtys[k]) != _levels.OK:
                return LEVEL, m, k, applied, rows[:0], books[:, :0]
        bid, ask = _levels.best_bid(levels, state), _levels.best_ask(levels, state)
        if bid != _levels.NO_PRICE and ask != _levels.NO_PRICE and bid >= ask:
            return CROSSED, m, -1, applied, rows[:0], books[:, :0]
        _levels.top_k(levels, state, depth, books[0], books[1], books[2], books[3], count)
        applied[m] = True
        rows[count] = m
        count += 1
        previous = last_ids[m]
    return OK, -1, -1, applied, rows[:count], books[:, :count]
