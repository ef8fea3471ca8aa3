"""A dense price-grid L2 level book for numba kernels (private; shared by the Binance and LOBSTER readers).

The book is two arrays that kernels pass around (no Python objects, so any ``@numba.njit`` code can hold one):

* ``levels``: int64 ``(2, n_ticks)``; ``levels[BID_ROW, i]`` / ``levels[ASK_ROW, i]`` is the quantity (lots) resting
  at price ``origin + i`` ticks on the bid / ask side (0 = empty level).
* ``state``: int64 ``(STATE_SIZE,)``: ``state[ORIGIN]`` the price (ticks) of grid index 0, ``state[BEST_BID]`` the
  index of the best bid (-1 when the bid side is empty), ``state[BEST_ASK]`` the index of the best ask (``n_ticks``
  when empty), ``state[N_BID]`` / ``state[N_ASK]`` the number of non-empty levels per side.

API (every function is ``@numba.njit(cache=True)`` and callable from Python or from other kernels):

* ``new_book(low_ticks, n_ticks) -> (levels, state)``: an empty book covering prices
  ``[low_ticks, low_ticks + n_ticks)``. Size the grid from the prices you will see (min/max of the input).
* ``set_level(levels, state, side, price_ticks, qty_lots) -> status``: the level now holds ``qty_lots`` (0 removes).
* ``add_level(levels, state, side, price_ticks, delta_lots) -> status``: add a signed quantity to the level.
* ``level_qty(levels, state, side, price_ticks) -> qty`` (0 outside the grid), ``best_bid(levels, state)`` /
  ``best_ask(levels, state) -> price_ticks`` (``NO_PRICE`` when that side is empty), ``clear(levels, state)``.
* ``top_k(levels, state, k, bid_price, bid_qty, ask_price, ask_qty, row)``: write the best ``k`` levels of each side
  into row ``row`` of four ``(n_rows, k)`` int64 arrays; missing levels get price ``NO_PRICE`` and quantity 0.
* ``grow(levels, state, low_ticks, high_ticks) -> (levels, state)``: a copy whose grid also covers
  ``[low_ticks, high_ticks]`` (use it after an ``OUT_OF_GRID`` status, then retry the update).

``side`` is +1 for bids and -1 for asks (``simlab.schema.Side``). A status is ``OK`` (0), ``OUT_OF_GRID`` (the price is
outside the grid: nothing was written), ``NEGATIVE_QTY`` (the quantity would become < 0: nothing was written) or
``BAD_SIDE``. The kernels never raise and never write outside the grid; the public wrapper turns a status into a
``DataError`` naming the input row. A crossed book is allowed here (check ``best_bid >= best_ask`` yourself).
"""

from __future__ import annotations

import numba
import numpy as np

NO_PRICE = np.iinfo(np.int64).min  # equal to simlab.schema.NO_PRICE (kept literal so kernels see a constant)

BID_ROW, ASK_ROW = 0, 1
ORIGIN, BEST_BID, BEST_ASK, N_BID, N_ASK = 0, 1, 2, 3, 4
STATE_SIZE = 5

OK, OUT_OF_GRID, NEGATIVE_QTY, BAD_SIDE = 0, 1, 2, 3
STATUS_TEXT = {
    OK: "ok",
    OUT_OF_GRID: "the price lies outside the book's price grid",
    NEGATIVE_QTY: "the level's quantity would become negative",
    BAD_SIDE: "the side must be +1 (bid) or -1 (ask)",
}


@numba.njit(cache=True)
def new_book(low_ticks, n_ticks):
    levels = np.zeros((2, max(n_ticks, 1)), dtype=np.int64)
    state = np.zeros(STATE_SIZE, dtype=np.int64)
    state[ORIGIN] = low_ticks
    state[BEST_BID] = -1
    state[BEST_ASK] = levels.shape[1]
    return levels, state


@numba.njit(cache=True)
def clear(levels, state):
    levels[:, :] = 0
    state[BEST_BID] = -1
    state[BEST_ASK] = levels.shape[1]
    state[N_BID] = 0
    state[N_ASK] = 0


@numba.njit(cache=True)
def _index(levels, state, price_ticks):
    i = price_ticks - state[ORIGIN]
    if price_ticks == NO_PRICE or i < 0 or i >= levels.shape[1]:
        return -1
    return i


@numba.njit(cache=True)
def set_level(levels, state, side, price_ticks, qty_lots):
    if side != 1 and side != -1:
        return BAD_SIDE
    if qty_lots < 0:
        return NEGATIVE_QTY
    i = _index(levels, state, price_ticks)
    if i < 0:
        return OUT_OF_GRID
    row = BID_ROW if side == 1 else ASK_ROW
    old = levels[row, i]
    levels[row, i] = qty_lots
    if old == 0 and qty_lots > 0:
        _on_fill(levels, state, row, i)
    elif old > 0 and qty_lots == 0:
        _on_empty(levels, state, row, i)
    return OK


@numba.njit(cache=True)
def add_level(levels, state, side, price_ticks, delta_lots):
    if side != 1 and side != -1:
        return BAD_SIDE
    i = _index(levels, state, price_ticks)
    if i < 0:
        return OUT_OF_GRID
    row = BID_ROW if side == 1 else ASK_ROW
    if levels[row, i] + delta_lots < 0:
        return NEGATIVE_QTY
    return set_level(levels, state, side, price_ticks, levels[row, i] + delta_lots)


@numba.njit(cache=True)
def _on_fill(levels, state, row, i):
    if row == BID_ROW:
        state[N_BID] += 1
        if i > state[BEST_BID]:
            state[BEST_BID] = i
    else:
        state[N_ASK] += 1
        if i < state[BEST_ASK]:
            state[BEST_ASK] = i


@numba.njit(cache=True)
def _on_empty(levels, state, row, i):
    if row == BID_ROW:
        state[N_BID] -= 1
        if i == state[BEST_BID]:
            j = i - 1
            while j >= 0 and state[N_BID] > 0 and levels[BID_ROW, j] == 0:
                j -= 1
            state[BEST_BID] = j if state[N_BID] > 0 else -1
    else:
        state[N_ASK] -= 1
        if i == state[BEST_ASK]:
            n = levels.shape[1]
            j = i + 1
            while j < n and state[N_ASK] > 0 and levels[ASK_ROW, j] == 0:
                j += 1
            state[BEST_ASK] = j if state[N_ASK] > 0 else n


@numba.njit(cache=True)
def level_qty(levels, state, side, price_ticks):
    i = _index(levels, state, price_ticks)
    if i < 0 or (side != 1 and side != -1):
        return 0
    return levels[BID_ROW if side == 1 else ASK_ROW, i]


@numba.njit(cache=True)
def best_bid(levels, state):
    return NO_PRICE if state[N_BID] == 0 else state[ORIGIN] + state[BEST_BID]


@numba.njit(cache=True)
def best_ask(levels, state):
    return NO_PRICE if state[N_ASK] == 0 else state[ORIGIN] + state[BEST_ASK]


@numba.njit(cache=True)
def top_k(levels, state, k, bid_price, bid_qty, ask_price, ask_qty, row):
    origin = state[ORIGIN]
    found = 0
    j = state[BEST_BID]
    want = min(k, state[N_BID])
    while found < want:
        if levels[BID_ROW, j] > 0:
            bid_price[row, found] = origin + j
            bid_qty[row, found] = levels[BID_ROW, j]
            found += 1
        j -= 1
    for m in range(found, k):
        bid_price[row, m] = NO_PRICE
        bid_qty[row, m] = 0
    found = 0
    j = state[BEST_ASK]
    want = min(k, state[N_ASK])
    while found < want:
        if levels[ASK_ROW, j] > 0:
            ask_price[row, found] = origin + j
            ask_qty[row, found] = levels[ASK_ROW, j]
            found += 1
        j += 1
    for m in range(found, k):
        ask_price[row, m] = NO_PRICE
        ask_qty[row, m] = 0


@numba.njit(cache=True)
def grow(levels, state, low_ticks, high_ticks):
    origin = state[ORIGIN]
    n = levels.shape[1]
    new_low = min(origin, low_ticks)
    new_high = max(origin + n - 1, high_ticks)
    grown, new_state = new_book(new_low, new_high - new_low + 1)
    shift = origin - new_low
    grown[:, shift : shift + n] = levels
    new_state[N_BID] = state[N_BID]
    new_state[N_ASK] = state[N_ASK]
    if state[N_BID] > 0:
        new_state[BEST_BID] = state[BEST_BID] + shift
    if state[N_ASK] > 0:
        new_state[BEST_ASK] = state[BEST_ASK] + shift
    return grown, new_state
