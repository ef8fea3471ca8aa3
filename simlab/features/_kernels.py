"""Numba kernels of the order-flow features. They trust their input: sorted times, int64 arrays, bin_ns > 0."""

from __future__ import annotations

import numba
import numpy as np

# rows of the int64 and float64 tables returned by bin_trades
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


@numba.njit(cache=True, error_model="numpy")
def _imbalance(a, b):
    # (a - b) / (a + b) as simlab.features.ofi.order_flow_imbalance computes it; NaN when a + b <= 0
    total = float(a + b)
    return float(a - b) / total if total > 0 else np.nan


@numba.njit(cache=True, error_model="numpy")
def _share(part, total):
    return float(part) / float(total) if total > 0 else np.nan


@numba.njit(cache=True, error_model="numpy")
def bin_trades(ts, side, price, qty, origin, bin_ns, n_bins, large_lots, threshold):
    """One pass over sorted trades into bins [origin + b bin_ns, origin + (b + 1) bin_ns), and their bar variables.

    Returns ints (7, n_bins) int64 in INT_ROWS order, floats (8, n_bins) float64 in FLOAT_ROWS order (NaN where
    undefined) and the OFI signal (n_bins,) int8 (+1 if ofi > threshold, -1 if ofi < -threshold, else 0). Large
    trades have qty > large_lots. The TWAP holds each trade price until the next trade; trades before origin only
    set the price carried into the first bin.
    """
    ints = np.zeros((7, n_bins), np.int64)
    floats = np.full((8, n_bins), np.nan)
    signal = np.zeros(n_bins, np.int8)
    n = ts.shape[0]
    j = 0
    have = False
    last = 0.0
    cvd = 0
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
        count = buys = sells = large = volume = buy_volume = sell_volume = large_volume = 0
        while j < n and ts[j] < end:
            if have:
                area += last * (ts[j] - t)
                covered += ts[j] - t
            t = ts[j]
            last = float(price[j])
            have = True
            q = qty[j]
            is_buy, is_sell, is_large = side[j] > 0, side[j] < 0, q > large_lots  # branch-free counting
            count += 1
            volume += q
            notional += last * q
            buys += is_buy
            buy_volume += is_buy * q
            sells += is_sell
            sell_volume += is_sell * q
            large += is_large
            large_volume += is_large * q
            j += 1
        cvd += buy_volume - sell_volume
        ints[0, b], ints[1, b], ints[2, b], ints[3, b] = count, buys, sells, volume
        ints[4, b], ints[5, b], ints[6, b] = buy_volume, sell_volume, cvd
        ofi = _imbalance(buys, sells)
        floats[0, b], floats[1, b] = _imbalance(buy_volume, sell_volume), ofi
        signal[b] = (ofi > threshold) - (ofi < -threshold)
        if have:
            area += last * (end - t)
            covered += end - t
            floats[3, b] = area / covered
        if volume > 0:
            floats[2, b] = notional / volume
        if count > 0:
            floats[4, b] = last
        floats[5, b] = 1e4 * (floats[4, b] - floats[2, b]) / floats[2, b]
        floats[6, b], floats[7, b] = _share(large, count), _share(large_volume, volume)
    return ints, floats, signal


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


# rows of the float64 table returned by book_bins
BOOK_ROWS = ("mid_ticks", "spread_ticks", "bid_depth_lots", "ask_depth_lots", "imbalance_l1", "imbalance_depth")
_EMPTY_BID, _EMPTY_ASK = np.iinfo(np.int64).min, np.iinfo(np.int64).max


@numba.njit(cache=True, inline="always")
def cks_step(bid_price, bid_qty, ask_price, ask_qty, n):
    """Cont, Kukanov and Stoikov (2014) eq. 2: e_n of snapshot n >= 1 from the touches (level 0) of n - 1 and n.

    An empty bid is priced -inf (int64 min) and an empty ask +inf (int64 max), both with size 0. Branch-free:
    the comparisons are unpredictable on real books.
    """
    bid = bid_price[n, 0] if bid_qty[n, 0] > 0 else _EMPTY_BID
    bid_before = bid_price[n - 1, 0] if bid_qty[n - 1, 0] > 0 else _EMPTY_BID
    ask = ask_price[n, 0] if ask_qty[n, 0] > 0 else _EMPTY_ASK
    ask_before = ask_price[n - 1, 0] if ask_qty[n - 1, 0] > 0 else _EMPTY_ASK
    return (
        (bid >= bid_before) * bid_qty[n, 0]
        - (bid <= bid_before) * bid_qty[n - 1, 0]
        - (ask <= ask_before) * ask_qty[n, 0]
        + (ask >= ask_before) * ask_qty[n - 1, 0]
    )


@numba.njit(cache=True)
def cks_increments(bid_price, bid_qty, ask_price, ask_qty):
    """e_n (int64) of every snapshot; e_0 = 0."""
    e = np.zeros(bid_qty.shape[0], np.int64)
    for n in range(1, e.shape[0]):
        e[n] = cks_step(bid_price, bid_qty, ask_price, ask_qty, n)
    return e


@numba.njit(cache=True)
def _seek(ts, p, target):
    # move p to the first snapshot with ts[p] >= target (searchsorted left on sorted ts) from where it stands
    n = ts.shape[0]
    while p < n and ts[p] < target:
        p += 1
    while p > 0 and ts[p - 1] >= target:
        p -= 1
    return p


@numba.njit(cache=True, error_model="numpy")
def book_bins(ts, bid_price, bid_qty, ask_price, ask_qty, ends, bin_ns, levels):
    """One pass over sorted snapshots into the bins [end - bin_ns, end) of ``ends``.

    Returns the state (6, n_bins) float64 in BOOK_ROWS order of the last snapshot stamped before each end (NaN
    before the first; depths over the first ``levels`` levels), as simlab.features.book computes it per snapshot,
    and the sum (n_bins,) int64 of the CKS e_n of the snapshots stamped in the bin. Linear in snapshots + bins
    when ``ends`` increase (any order is correct).
    """
    n, n_bins = ts.shape[0], ends.shape[0]
    flow_before = np.zeros(n + 1, np.int64)  # flow_before[i]: the sum of e_n over n < i (two loops vectorise)
    for i in range(1, n):
        flow_before[i + 1] = cks_step(bid_price, bid_qty, ask_price, ask_qty, i)
    for i in range(1, n):
        flow_before[i + 1] += flow_before[i]
    state = np.full((6, n_bins), np.nan)
    flow = np.empty(n_bins, np.int64)
    low = high = 0
    for b in range(n_bins):
        start = ends[b] - bin_ns
        # on a contiguous grid this bin starts where the last one ended
        low = high if b > 0 and start == ends[b - 1] else _seek(ts, low, start)
        high = _seek(ts, high, ends[b])
        flow[b] = flow_before[high] - flow_before[low]
        if high == 0:
            continue
        row = high - 1  # sampled inline: a helper taking the arrays costs refcounts per bin
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
