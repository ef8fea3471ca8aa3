"""Queue-reactive order book kernel (private; Huang, Lehalle and Rosenbaum 2015, JASA 110(509)).

State passed between calls (plain arrays, so a run can be cut into chunks without changing its random stream):

* ``queues``: int64 ``(2K,)``, queue sizes in size units; index ``j = s * K + i`` with ``s`` 0 bid / 1 ask and
  ``i`` the level (0 = the queue next to the reference price).
* ``grid``: int64 ``(2,)``: the price (ticks) of bid queue 0 and the spread (ticks) between bid and ask queue 0;
  bid queue ``i`` rests at ``grid[0] - i``, ask queue ``i`` at ``grid[0] + grid[1] + i``.
* ``clock``: float64 ``(1,)``, the time (s) of the last event.

``rates``: float64 ``(2K, n_max + 1, 3)``, the limit, cancel and market intensities (1/s) of each queue by its size.
``redraw_cdf``: float64 ``(2K, n_max + 1)``, the cumulative stationary law of each queue conditioned on n >= 1.
``spread_cdf``: float64 ``(S,)``, the cumulative law of the spread (ticks 1..S) drawn after each price move.

The kernel draws only ``gen.random()`` (uniforms on [0, 1)), so a pure-Python twin with the same Generator follows
the same path. Records go to preallocated output arrays; the kernel stops before a record could overflow them and
returns how many it wrote (the caller allocates the next chunk: capacity grows, never overwrites).
"""

from __future__ import annotations

import numba
import numpy as np

NO_PRICE = np.iinfo(np.int64).min  # equal to simlab.schema.NO_PRICE
ADD, CANCEL, TRADE, SET_LEVEL, CLEAR = 1, 2, 5, 9, 10  # simlab.schema.EventKind values
LIMIT, CANCEL_ORDER, MARKET = 0, 1, 2  # columns of ``rates``
KIND_OF = (ADD, CANCEL, TRADE)


@numba.njit(cache=True)
def draw_index(cdf, u):
    # first index whose cumulative probability exceeds u (the inverse-CDF draw)
    last = cdf.shape[0] - 1
    k = 0
    while k < last and cdf[k] <= u:
        k += 1
    return k


@numba.njit(cache=True)
def price_of(grid, levels, j):
    if j < levels:
        return grid[0] - j
    return grid[0] + grid[1] + (j - levels)


@numba.njit(cache=True)
def write_book(queues, grid, size_lots, row, books):
    # the L2 snapshot: level 1 is the best non-empty queue of each side (empty queues are skipped)
    levels = queues.shape[0] // 2
    for s in range(2):
        price_col, qty_col = books[2 * s], books[2 * s + 1]
        m = 0
        for i in range(levels):
            j = s * levels + i
            if queues[j] > 0:
                price_col[row, m] = price_of(grid, levels, j)
                qty_col[row, m] = queues[j] * size_lots[j]
                m += 1
        for k in range(m, levels):
            price_col[row, k] = NO_PRICE
            qty_col[row, k] = 0


@numba.njit(cache=True)
def emit(out, n, t, kind, side, price, qty):
    out_t, out_kind, out_side, out_price, out_qty = out
    out_t[n] = t
    out_kind[n] = kind
    out_side[n] = side
    out_price[n] = price
    out_qty[n] = qty


@numba.njit(cache=True)
def emit_snapshot(queues, grid, size_lots, t, n, with_books, out, books):
    # CLEAR, then one SET_LEVEL per non-empty queue (the event stream alone rebuilds the book); each record's book
    # row shows the queues set so far
    levels = queues.shape[0] // 2
    shown = np.zeros_like(queues)
    emit(out, n, t, CLEAR, 0, NO_PRICE, 0)
    if with_books:
        write_book(shown, grid, size_lots, n, books)
    n += 1
    for j in range(2 * levels):
        if queues[j] > 0:
            side = 1 if j < levels else -1
            emit(out, n, t, SET_LEVEL, side, price_of(grid, levels, j), queues[j] * size_lots[j])
            shown[j] = queues[j]
            if with_books:
                write_book(shown, grid, size_lots, n, books)
            n += 1
    return n


@numba.njit(cache=True)
def begin(gen, start_cdf, spread_cdf, size_lots, queues, grid, with_books, out, books):
    """Draw the initial state (each queue from its stationary law, then the spread) and write its snapshot."""
    for j in range(queues.shape[0]):
        queues[j] = draw_index(start_cdf[j], gen.random())
    grid[1] = 1 + draw_index(spread_cdf, gen.random()) if spread_cdf.shape[0] > 1 else 1
    return emit_snapshot(queues, grid, size_lots, 0.0, 0, with_books, out, books)


@numba.njit(cache=True)
def move_price(gen, direction, redraw_cdf, spread_cdf, queues, grid):
    # HLR model III: the mid moves one tick towards the depleted side (floored to the grid the new spread allows),
    # a new spread is drawn, and every queue is redrawn from its stationary law conditioned on n >= 1
    mid2 = 2 * grid[0] + grid[1] + 2 * direction
    spread = 1
    if spread_cdf.shape[0] > 1:
        spread = 1 + draw_index(spread_cdf, gen.random())
    grid[0] = (mid2 - spread) // 2
    grid[1] = spread
    for j in range(queues.shape[0]):
        queues[j] = draw_index(redraw_cdf[j], gen.random())


@numba.njit(cache=True)
def pick(rates, queues, u):
    # the queue j and event type x whose intensity interval holds u (u uniform on [0, total))
    acc = 0.0
    last_j, last_x = -1, -1
    for j in range(queues.shape[0]):
        for x in range(3):
            r = rates[j, queues[j], x]
            if r > 0.0:
                acc += r
                last_j, last_x = j, x
                if u < acc:
                    return j, x
    return last_j, last_x


@numba.njit(cache=True)
def simulate_chunk(
    gen, rates, theta, redraw_cdf, spread_cdf, size_lots, queues, grid, clock, duration, n, with_books, out, books
):
    """Simulate from ``clock[0]`` until ``duration`` or until the outputs are nearly full, writing records from
    index ``n``; return (records written in all, whether the horizon was reached)."""
    levels = queues.shape[0] // 2
    capacity = out[0].shape[0]
    while n + 2 * levels + 2 <= capacity:
        total = 0.0
        for j in range(queues.shape[0]):
            q = queues[j]
            total += rates[j, q, 0] + rates[j, q, 1] + rates[j, q, 2]
        if total <= 0.0:
            clock[0] = duration
            return n, True
        t = clock[0] - np.log(1.0 - gen.random()) / total  # exact (Gillespie): exponential waiting time
        if t >= duration:
            clock[0] = duration
            return n, True
        clock[0] = t
        j, x = pick(rates, queues, gen.random() * total)
        resting = 1 if j < levels else -1
        queues[j] += 1 if x == LIMIT else -1
        side = -resting if x == MARKET else resting
        emit(out, n, t, KIND_OF[x], side, price_of(grid, levels, j), size_lots[j])
        if with_books:
            write_book(queues, grid, size_lots, n, books)
        n += 1
        if x != LIMIT and queues[j] == 0 and j % levels == 0 and theta > 0.0 and gen.random() < theta:
            move_price(gen, -resting, redraw_cdf, spread_cdf, queues, grid)
            n = emit_snapshot(queues, grid, size_lots, t, n, with_books, out, books)
    return n, False
