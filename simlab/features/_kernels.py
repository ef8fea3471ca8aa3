"""Numba kernels of the order-flow features. They trust their input: sorted times, int64 arrays, bin_ns > 0."""

from __future__ import annotations

import numba
import numpy as np

# columns of the count and volume tables returned by bin_trades
TOTAL, BUY, SELL, LARGE = 0, 1, 2, 3
# columns of the price table returned by bin_trades
VWAP, TWAP, CLOSE = 0, 1, 2


@numba.njit(cache=True)
def bin_trades(ts, side, price, qty, origin, bin_ns, n_bins, large_lots):
    """One pass over sorted trades into bins [origin + b bin_ns, origin + (b + 1) bin_ns).

    Returns counts (n_bins, 4) and volumes (n_bins, 4) int64 with columns TOTAL, BUY, SELL, LARGE (qty >
    large_lots), and prices (n_bins, 3) float64 with VWAP, TWAP, CLOSE (NaN where undefined). The TWAP holds each
    trade price until the next trade; trades before origin only set the price carried into the first bin.
    """
    counts = np.zeros((n_bins, 4), np.int64)
    volumes = np.zeros((n_bins, 4), np.int64)
    prices = np.full((n_bins, 3), np.nan)
    n = ts.shape[0]
    j = 0
    have = False
    last = 0.0
    while j < n and ts[j] < origin:
        last = float(price[j])
        have = True
        j += 1
    for b in range(n_bins):
        start = origin + b * bin_ns
        end = start + bin_ns
        t = start
        area = 0.0
        covered = 0
        notional = 0.0
        while j < n and ts[j] < end:
            if have:
                area += last * (ts[j] - t)
                covered += ts[j] - t
            t = ts[j]
            last = float(price[j])
            have = True
            q = qty[j]
            counts[b, TOTAL] += 1
            volumes[b, TOTAL] += q
            notional += last * q
            if side[j] > 0:
                counts[b, BUY] += 1
                volumes[b, BUY] += q
            elif side[j] < 0:
                counts[b, SELL] += 1
                volumes[b, SELL] += q
            if q > large_lots:
                counts[b, LARGE] += 1
                volumes[b, LARGE] += q
            j += 1
        if have:
            area += last * (end - t)
            covered += end - t
            prices[b, TWAP] = area / covered
        if volumes[b, TOTAL] > 0:
            prices[b, VWAP] = notional / volumes[b, TOTAL]
        if counts[b, TOTAL] > 0:
            prices[b, CLOSE] = last
    return counts, volumes, prices


@numba.njit(cache=True)
def rolling_flow(ts, side, qty, window_ns):
    """For each trade i: buy/sell counts and volumes of the trades j with ts[i] - window_ns < ts[j] <= ts[i].

    Returns counts (n, 2) and volumes (n, 2) int64, columns buy then sell. Two pointers, O(n).
    """
    n = ts.shape[0]
    counts = np.zeros((n, 2), np.int64)
    volumes = np.zeros((n, 2), np.int64)
    low = 0
    high = 0
    buy_count = sell_count = buy_volume = sell_volume = 0
    for i in range(n):
        while high < n and ts[high] <= ts[i]:
            if side[high] > 0:
                buy_count += 1
                buy_volume += qty[high]
            elif side[high] < 0:
                sell_count += 1
                sell_volume += qty[high]
            high += 1
        while ts[low] <= ts[i] - window_ns:
            if side[low] > 0:
                buy_count -= 1
                buy_volume -= qty[low]
            elif side[low] < 0:
                sell_count -= 1
                sell_volume -= qty[low]
            low += 1
        counts[i, 0] = buy_count
        counts[i, 1] = sell_count
        volumes[i, 0] = buy_volume
        volumes[i, 1] = sell_volume
    return counts, volumes


# rows of the int64 and float64 tables returned by trade_bar_table
INT_ROWS = ("trade_count", "buy_count", "sell_count", "volume_lots", "buy_volume_lots", "sell_volume_lots", "cvd_lots")
FLOAT_ROWS = (
    "trade_imbalance",
    "ofi",
    "vwap_ticks",
    "twap_ticks",
    "close_ticks",
    "vwap_deviation_bps",
    "large_trade_share",
    "large_volume_share",
)


@numba.njit(cache=True)
def _imbalance(a, b):
    # (a - b) / (a + b) as simlab.features.ofi.order_flow_imbalance computes it; NaN when a + b <= 0
    total = float(a + b)
    return float(a - b) / total if total > 0 else np.nan


@numba.njit(cache=True)
def _share(part, total):
    return float(part) / float(total) if total > 0 else np.nan


@numba.njit(cache=True)
def trade_bar_table(counts, volumes, prices, threshold):
    """The bar variables from the tables of bin_trades: ints (7, n_bins) in INT_ROWS order, floats (8, n_bins) in
    FLOAT_ROWS order and the OFI signal (n_bins,) int8 (+1 if ofi > threshold, -1 if ofi < -threshold, else 0).
    """
    n_bins = counts.shape[0]
    ints = np.empty((7, n_bins), np.int64)
    floats = np.empty((8, n_bins), np.float64)
    signal = np.zeros(n_bins, np.int8)
    cvd = 0
    for b in range(n_bins):
        buy_volume, sell_volume = volumes[b, BUY], volumes[b, SELL]
        cvd += buy_volume - sell_volume
        ints[0, b], ints[1, b], ints[2, b] = counts[b, TOTAL], counts[b, BUY], counts[b, SELL]
        ints[3, b], ints[4, b], ints[5, b], ints[6, b] = volumes[b, TOTAL], buy_volume, sell_volume, cvd
        ofi = _imbalance(counts[b, BUY], counts[b, SELL])
        vwap, close = prices[b, VWAP], prices[b, CLOSE]
        floats[0, b] = _imbalance(buy_volume, sell_volume)
        floats[1, b] = ofi
        floats[2, b], floats[3, b], floats[4, b] = vwap, prices[b, TWAP], close
        floats[5, b] = 1e4 * (close - vwap) / vwap
        floats[6, b] = _share(counts[b, LARGE], counts[b, TOTAL])
        floats[7, b] = _share(volumes[b, LARGE], volumes[b, TOTAL])
        if ofi > threshold:
            signal[b] = 1
        elif ofi < -threshold:
            signal[b] = -1
    return ints, floats, signal


# rows of the float64 table returned by book_bins
BOOK_ROWS = ("mid_ticks", "spread_ticks", "bid_depth_lots", "ask_depth_lots", "imbalance_l1", "imbalance_depth")
_EMPTY_BID, _EMPTY_ASK = np.iinfo(np.int64).min, np.iinfo(np.int64).max


@numba.njit(cache=True)
def cks_step(bid_price, bid_qty, ask_price, ask_qty, n):
    """Cont, Kukanov and Stoikov (2014) eq. 2: e_n of snapshot n >= 1 from the touches (level 0) of n - 1 and n.

    An empty bid is priced -inf (int64 min) and an empty ask +inf (int64 max), both with size 0.
    """
    bid = bid_price[n, 0] if bid_qty[n, 0] > 0 else _EMPTY_BID
    bid_before = bid_price[n - 1, 0] if bid_qty[n - 1, 0] > 0 else _EMPTY_BID
    ask = ask_price[n, 0] if ask_qty[n, 0] > 0 else _EMPTY_ASK
    ask_before = ask_price[n - 1, 0] if ask_qty[n - 1, 0] > 0 else _EMPTY_ASK
    e = 0
    if bid >= bid_before:
        e += bid_qty[n, 0]
    if bid <= bid_before:
        e -= bid_qty[n - 1, 0]
    if ask <= ask_before:
        e -= ask_qty[n, 0]
    if ask >= ask_before:
        e += ask_qty[n - 1, 0]
    return e


@numba.njit(cache=True)
def cks_increments(bid_price, bid_qty, ask_price, ask_qty):
    """e_n (int64) of every snapshot; e_0 = 0."""
    e = np.zeros(bid_qty.shape[0], np.int64)
    for n in range(1, e.shape[0]):
        e[n] = cks_step(bid_price, bid_qty, ask_price, ask_qty, n)
    return e


@numba.njit(cache=True)
def _seek(ts, p, target):
    # move p to the first index with ts[p] >= target (searchsorted left on sorted ts), from where it stands
    n = ts.shape[0]
    while p < n and ts[p] < target:
        p += 1
    while p > 0 and ts[p - 1] >= target:
        p -= 1
    return p


@numba.njit(cache=True)
def book_bins(ts, bid_price, bid_qty, ask_price, ask_qty, ends, bin_ns, levels):
    """One pass over sorted snapshots into the bins [end - bin_ns, end) of ``ends``.

    Returns the state (6, n_bins) float64 in BOOK_ROWS order of the last snapshot stamped before each end (NaN
    before the first; depths over the first ``levels`` levels) and the sum (n_bins,) int64 of the CKS e_n of the
    snapshots stamped in the bin. Linear in snapshots + bins when ``ends`` increase (any order is correct).
    """
    n_bins = ends.shape[0]
    state = np.full((6, n_bins), np.nan)
    flow = np.zeros(n_bins, np.int64)
    low = high = 0
    for b in range(n_bins):
        low = _seek(ts, low, ends[b] - bin_ns)
        high = _seek(ts, high, ends[b])
        total = 0
        for n in range(max(low, 1), high):
            total += cks_step(bid_price, bid_qty, ask_price, ask_qty, n)
        flow[b] = total
        if high == 0:
            continue
        row = high - 1
        bid_depth = ask_depth = 0
        for level in range(levels):
            bid_depth += bid_qty[row, level]
            ask_depth += ask_qty[row, level]
        bid_top, ask_top = bid_qty[row, 0], ask_qty[row, 0]
        if bid_top > 0 and ask_top > 0:
            bid, ask = float(bid_price[row, 0]), float(ask_price[row, 0])
            state[0, b] = (bid + ask) / 2.0
            state[1, b] = ask - bid
            state[4, b] = _imbalance(bid_top, ask_top)
        state[2, b], state[3, b] = bid_depth, ask_depth
        if bid_depth > 0 and ask_depth > 0:
            state[5, b] = _imbalance(bid_depth, ask_depth)
    return state, flow
