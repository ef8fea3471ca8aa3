"""Numba kernels of the realism metrics. They trust their input (checked by the public wrappers)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def w1_on_grid(grid, counts_a, counts_b):
    """Wasserstein-1 of two count vectors on one sorted grid: sum_i |F_a(x_i) - F_b(x_i)| (x_{i+1} - x_i)."""
    total_a = 0.0
    total_b = 0.0
    for i in range(counts_a.shape[0]):
        total_a += counts_a[i]
        total_b += counts_b[i]
    cum_a = 0.0
    cum_b = 0.0
    distance = 0.0
    for i in range(grid.shape[0] - 1):
        cum_a += counts_a[i]
        cum_b += counts_b[i]
        distance += abs(cum_a / total_a - cum_b / total_b) * (grid[i + 1] - grid[i])
    return distance


@numba.njit(cache=True)
def w1_on_grid_rows(grid, counts_a, counts_b):
    """:func:`w1_on_grid` of each row pair of two (replicate, grid) count matrices."""
    out = np.empty(counts_a.shape[0])
    for r in range(counts_a.shape[0]):
        out[r] = w1_on_grid(grid, counts_a[r], counts_b[r])
    return out


@numba.njit(cache=True)
def response_block_sums(mid, sign, kind, n_kinds, max_lag, block):
    """Sums of sign_t (mid_{t+l} - mid_t) per block of ``block`` events, event kind and lag 1..max_lag.

    ``kind`` is -1 for events left out of the sums (they still count as steps of the clock). Returns the sums
    (n_blocks, n_kinds, max_lag) and the counts (n_blocks, n_kinds, max_lag) of terms with t + l inside the series.
    Eisler, Bouchaud and Kockelkoren (2012), eq. 3: R_pi(l) = E[eps_t (m_{t+l} - m_t) | pi_t = pi].
    """
    n = mid.shape[0]
    n_blocks = (n + block - 1) // block
    sums = np.zeros((n_blocks, n_kinds, max_lag))
    counts = np.zeros((n_blocks, n_kinds, max_lag))
    for t in range(n):
        k = kind[t]
        if k < 0:
            continue
        b = t // block
        top = min(max_lag, n - 1 - t)
        for lag in range(1, top + 1):
            sums[b, k, lag - 1] += sign[t] * (mid[t + lag] - mid[t])
            counts[b, k, lag - 1] += 1.0
    return sums, counts


@numba.njit(cache=True)
def level_index(price, side, bid_price, bid_qty, ask_price, ask_qty):
    """1-based level of each order's price in the book rows given (0 inside the spread, L + 1 beyond the book).

    ``side`` +1 bid, -1 ask; an empty side puts every price at level 1.
    """
    n, levels = bid_qty.shape
    out = np.empty(n, np.int64)
    for i in range(n):
        if side[i] > 0:
            qty, book = bid_qty, bid_price
            sign = 1
        else:
            qty, book = ask_qty, ask_price
            sign = -1
        level = 1
        for j in range(levels):
            if qty[i, j] <= 0:
                break
            better = sign * (book[i, j] - price[i])
            if better > 0:
                level = j + 2
            else:
                level = j + 1
                break
        if qty[i, 0] > 0 and sign * (price[i] - book[i, 0]) > 0:
            level = 0
        out[i] = level
    return out


@numba.njit(cache=True)
def lagged_block_sums(x, max_lag, n_blocks):
    """Sums of x_t x_{t+l} for l = 0..max_lag, attributed to the block of t (n_blocks consecutive blocks).

    Summed over blocks they are the numerator (l >= 1) and denominator (l = 0) of the sample autocorrelation of a
    centred series; weighted over blocks they give its block-bootstrap replicates.
    """
    n = x.shape[0]
    sums = np.zeros((n_blocks, max_lag + 1))
    for t in range(n):
        b = t * n_blocks // n
        top = min(max_lag, n - 1 - t)
        for lag in range(top + 1):
            sums[b, lag] += x[t] * x[t + lag]
    return sums
