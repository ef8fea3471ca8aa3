"""Numba kernels of the LEAN/AlgoSeek reader: the NBBO from one-sided quote rows (per exchange, or national)."""

from __future__ import annotations

import numba
import numpy as np

from simlab.schema import NO_PRICE


@numba.njit(cache=True)
def _best(prices, sizes, sign):
    # best price over exchanges with a positive size (sign +1: max for bids, -1: min for asks), sizes summed there
    best = NO_PRICE
    total = 0
    for e in range(prices.shape[0]):
        if sizes[e] <= 0:
            continue
        if total == 0 or (prices[e] - best) * sign > 0:
            best = prices[e]
            total = sizes[e]
        elif prices[e] == best:
            total += sizes[e]
    return best, total


@numba.njit(cache=True)
def nbbo_kernel(exchange, n_exchanges, bid_price, bid_size, ask_price, ask_size, use):
    """Return (bid, bid_qty, ask, ask_qty) of the NBBO after every quote row.

    Row i updates the bid of exchange ``exchange[i]`` when its bid price or size is non-zero, its ask likewise;
    a side with price > 0 and size 0 is withdrawn. Rows with ``use[i]`` False leave the state unchanged. An empty
    NBBO side has price NO_PRICE and size 0.
    """
    n = exchange.shape[0]
    ex_bid = np.zeros(n_exchanges, np.int64)
    ex_bid_qty = np.zeros(n_exchanges, np.int64)
    ex_ask = np.zeros(n_exchanges, np.int64)
    ex_ask_qty = np.zeros(n_exchanges, np.int64)
    out_bid = np.empty(n, np.int64)
    out_bid_qty = np.empty(n, np.int64)
    out_ask = np.empty(n, np.int64)
    out_ask_qty = np.empty(n, np.int64)
    best_bid, best_bid_qty, best_ask, best_ask_qty = NO_PRICE, 0, NO_PRICE, 0
    for i in range(n):
        e = exchange[i]
        if use[i] and (bid_price[i] != 0 or bid_size[i] != 0):
            ex_bid[e] = bid_price[i]
            ex_bid_qty[e] = bid_size[i]
            best_bid, best_bid_qty = _best(ex_bid, ex_bid_qty, 1)
        if use[i] and (ask_price[i] != 0 or ask_size[i] != 0):
            ex_ask[e] = ask_price[i]
            ex_ask_qty[e] = ask_size[i]
            best_ask, best_ask_qty = _best(ex_ask, ex_ask_qty, -1)
        out_bid[i] = best_bid
        out_bid_qty[i] = best_bid_qty
        out_ask[i] = best_ask
        out_ask_qty[i] = best_ask_qty
    return out_bid, out_bid_qty, out_ask, out_ask_qty


@numba.njit(cache=True)
def carry_kernel(bid_price, bid_size, ask_price, ask_size, use):
    """Return (bid, bid_qty, ask, ask_qty) carrying the last bid row and the last ask row forward.

    For quote files whose rows are the two halves of the consolidated best quote: each row sets the national bid
    (or ask) to its price and size; a size of 0 empties that side. Rows with ``use[i]`` False change nothing.
    """
    n = bid_price.shape[0]
    out_bid = np.empty(n, np.int64)
    out_bid_qty = np.empty(n, np.int64)
    out_ask = np.empty(n, np.int64)
    out_ask_qty = np.empty(n, np.int64)
    best_bid, best_bid_qty, best_ask, best_ask_qty = NO_PRICE, 0, NO_PRICE, 0
    for i in range(n):
        if use[i] and (bid_price[i] != 0 or bid_size[i] != 0):
            best_bid, best_bid_qty = (bid_price[i], bid_size[i]) if bid_size[i] > 0 else (NO_PRICE, 0)
        if use[i] and (ask_price[i] != 0 or ask_size[i] != 0):
            best_ask, best_ask_qty = (ask_price[i], ask_size[i]) if ask_size[i] > 0 else (NO_PRICE, 0)
        out_bid[i] = best_bid
        out_bid_qty[i] = best_bid_qty
        out_ask[i] = best_ask
        out_ask_qty[i] = best_ask_qty
    return out_bid, out_bid_qty, out_ask, out_ask_qty
