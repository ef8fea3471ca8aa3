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
