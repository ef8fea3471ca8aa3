"""Numba kernels of the fee designs on a StableSwap pool: the fee hook, the arbitrageur's optimal trade with a fee
(safeguarded Newton on the marginal curve), and one path of arbitrage, a run and noise traders.

They trust their input (validated by :mod:`simlab.amm.stableswap_lab`). The designs' formulas are the AMM lab's own
(:func:`simlab.amm._kernels.init_state`, ``on_block``, ``fees``), called with the pool's real balances of the pair
(x: the coin whose price the design watches, y: the numeraire coin) and its marginal price; see
:func:`pair_fees`. Swaps are :func:`simlab.amm.stableswap.swap_in` (fee charged on the output, kept in the pool).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from simlab.amm._kernels import fees, init_state, on_block
from simlab.amm.stableswap import get_d, get_y, swap_in

METRICS = (
    "lp_pnl", "hedged_lp_pnl", "lvr", "fees_arb", "fees_noise", "fees_run", "arb_profit", "noise_volume",
    "run_volume", "arb_trades", "mean_fee_bps", "min_share", "max_mispricing_bps",
)  # fmt: skip
ROUNDS = 3
"""Rounds of arbitrage over every ordered pair of coins in a block (one suffices for two coins)."""
NEWTON_STEPS = 100
BAND_TOLERANCE = 1e-7
"""An arbitrageur trades when the pool's rate net of fee exceeds the outside ratio by more than this share (0.001
bps): below it the trade's profit, second order in the gap (about 1e-14 of the pool), is within rounding of the
pool's balances. Curve keeps the fee in the pool, so after a trade the rate net of fee sits a little above the
ratio again: the next round's trade is about ``fee`` times the last."""


@numba.njit(cache=True)
def d_product(xp, d):
    """Return ``D_P = D**(n + 1) / (n**n prod(x))``, the invariant's product term over ``D``."""
    n = xp.shape[0]
    d_p = d
    for x in xp:
        d_p = d_p * d / (x * n)
    return d_p


@numba.njit(cache=True)
def price(xp, amp, d, i, j):
    """Return the marginal price of coin ``i`` in coin ``j`` at invariant ``d``: ``(Ann + D_P / x_i) / (Ann + D_P /
    x_j)``."""
    ann, d_p = amp * xp.shape[0], d_product(xp, d)
    return (ann + d_p / xp[i]) / (ann + d_p / xp[j])


@numba.njit(cache=True)
def price_slope(xp, amp, d, i, j):
    """Return ``dp / dx_i`` along the invariant (coin ``i`` in, coin ``j`` out, the others fixed), ``p`` the price
    of i in j: ``-2 D_P (1 / x_i**2 - p / (x_i x_j) + p**2 / x_j**2) / (Ann + D_P / x_j)`` (< 0)."""
    ann, d_p = amp * xp.shape[0], d_product(xp, d)
    xi, xj = xp[i], xp[j]
    p = (ann + d_p / xi) / (ann + d_p / xj)
    return -2.0 * d_p * (1.0 / (xi * xi) - p / (xi * xj) + p * p / (xj * xj)) / (ann + d_p / xj)


@numba.njit(cache=True)
def _edge(xp, amp, d, fee, i, j, ratio, dx, trial):
    """Fill ``trial`` with the balances after selling ``dx`` of i along the invariant (no fee in the balances);
    return ``((1 - fee) p_ij - ratio, (1 - fee) dp_ij / dx)`` there."""
    trial[:] = xp
    trial[i] = xp[i] + dx
    trial[j] = get_y(i, j, xp[i] + dx, xp, amp, d)
    g = 1.0 - fee
    return g * price(trial, amp, d, i, j) - ratio, g * price_slope(trial, amp, d, i, j)


@numba.njit(cache=True)
def arbitrage_size(xp, amp, d, fee, i, j, ratio):
    """Return how much of coin ``i`` an arbitrageur sells for coin ``j`` when i is worth ``ratio`` coins j outside:
    the size where the pool's marginal rate net of fee, ``(1 - fee) p_ij``, falls to ``ratio`` (0 when it is
    already there or below). The rate falls monotonically with the size: Newton steps, each kept inside the bracket
    of sizes known to be short and long (bisection otherwise)."""
    trial = xp.copy()
    h, slope = _edge(xp, amp, d, fee, i, j, ratio, 0.0, trial)
    if not h > 0.0:
        return 0.0
    low, high = 0.0, xp[i]
    while _edge(xp, amp, d, fee, i, j, ratio, high, trial)[0] > 0.0:
        low, high = high, 2.0 * high
    if low > 0.0:
        h, slope = _edge(xp, amp, d, fee, i, j, ratio, low, trial)
    for _ in range(NEWTON_STEPS):
        guess = low - h / slope
        if not (low < guess < high):
            guess = 0.5 * (low + high)
        if guess <= low or guess >= high:
            break
        h_new, slope_new = _edge(xp, amp, d, fee, i, j, ratio, guess, trial)
        if h_new > 0.0:
            low, h, slope = guess, h_new, slope_new
        elif h_new == 0.0:
            return guess
        else:  # past the edge (or where the invariant has no solution: NaN)
            high = guess
        if high - low <= 1e-15 * high:
            break
    return low


@numba.njit(cache=True)
def _design_fees(kind, p, st, x, y, oracle):
    """Return the lab's ``fees`` (one call site, so that its inlined body is compiled once)."""
    return fees(kind, p, st, x, y, oracle)


@numba.njit(cache=True)
def pair_fees(kind, p, st, xp, amp, d, cx, cy, oracle):
    """Return the design's ``(buy, sell)`` fees now: :func:`simlab.amm._kernels.fees` with the real balances ``x =
    xp[cx]``, ``y = xp[cy]`` and the oracle rescaled so that the design's gap ``log(oracle' x / y)`` is the gap of
    the oracle to the pool's marginal price of x in y."""
    x, y = xp[cx], xp[cy]
    return _design_fees(kind, p, st, x, y, oracle * (y / x) / price(xp, amp, d, cx, cy))


@numba.njit(cache=True)
def swap_fee(kind, p, st, xp, amp, d, cx, cy, oracle, side):
    """Return the fee of a swap of direction ``side`` (+1 takes an x-side coin out: the design's buy; -1 pays one in:
    its sell; 0 neither or both: the mean of the two)."""
    buy, sell = pair_fees(kind, p, st, xp, amp, d, cx, cy, oracle)
    if side > 0:
        return buy
    if side < 0:
        return sell
    return 0.5 * (buy + sell)


@numba.njit(cache=True)
def _arbitrage(kind, p, st, xp, amp, d, cx, cy, oracle, ext, pairs, sides, acc):
    """Trade every ordered pair to the edge of its no-trade band (``ROUNDS`` rounds); add fees (valued at ``ext``)
    and profits to ``acc``; return (the new invariant, fees valued)."""
    fee_t = 0.0
    before = xp.copy()
    for _ in range(ROUNDS):
        moved = False
        for m in range(pairs.shape[0]):
            i, j = pairs[m, 0], pairs[m, 1]
            fee = swap_fee(kind, p, st, xp, amp, d, cx, cy, oracle, sides[i, j])
            if not (1.0 - fee) * price(xp, amp, d, i, j) > (1.0 + BAND_TOLERANCE) * ext[i] / ext[j]:
                continue  # inside the no-trade band
            dx = arbitrage_size(xp, amp, d, fee, i, j, ext[i] / ext[j])
            if dx <= 0.0:
                continue
            before[:] = xp
            dy, charged = swap_in(xp, amp, fee, i, j, dx)
            profit = dy * ext[j] - dx * ext[i]
            if not profit > 0.0:  # rounding at the band's edge: no trade
                xp[:] = before
                continue
            d = get_d(xp, amp)
            acc[3] += charged * ext[j]
            acc[6] += profit
            acc[9] += 1.0
            fee_t += charged * ext[j]
            moved = True
        if not moved:
            break
    return d, fee_t


@numba.njit(cache=True)
def _trade(xp, amp, fee, i, j, dx, ext, side, fee_slot, volume_slot, acc, flow):
    """Sell ``dx`` of coin i for coin j (a run's or a noise trader's order) in place; add its fee and notional
    (valued at ``ext``) to ``acc[fee_slot]``, ``acc[volume_slot]`` and the block's buys/sells ``flow``; return (the
    new invariant, the fee's value)."""
    _, charged = swap_in(xp, amp, fee, i, j, dx)
    notional = dx * ext[i]
    acc[fee_slot] += charged * ext[j]
    acc[volume_slot] += notional
    if side != 0:
        flow[0 if side > 0 else 1] += notional
    return get_d(xp, amp), charged * ext[j]


@numba.njit(cache=True)
def run_path(kind, p, ext, times, run, starts, base, noise_value, noise_pair, noise_u, pairs, sides, xp0, amp, cx,
             cy, into, elasticity, out):  # fmt: skip
    """Simulate one design on one path of a StableSwap pool; write the METRICS into ``out``.

    Per block: the design sees the block (``on_block``: pool marginal price of x in y, its log change, the oracle's
    log change, the previous block's flow imbalance); the arbitrageur trades every pair to its band against
    ``ext[t]``; the run sells ``run[t, k]`` of each coin k into coin ``into``; the noise traders trade. Every swap
    pays the design's fee of its direction at that moment."""
    n_blocks, n = times.shape[0] - 1, xp0.shape[0]
    xp = xp0.copy()
    d = get_d(xp, amp)
    st = np.zeros(4)
    init_state(kind, p, st, price(xp, amp, d, cx, cy), xp[cx], times[0])
    acc, flow = np.zeros(len(METRICS)), np.zeros(2)
    log_q = log_q_prev = math.log(price(xp, amp, d, cx, cy))
    v_prev = 0.0
    for k in range(n):
        v_prev += xp[k] * ext[0, k]
    v_0, hedge, fee_total, fee_sum, imbalance, min_share, mis_max = v_prev, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0
    for t in range(1, n_blocks + 1):
        oracle = ext[t, cx] / ext[t, cy]
        oracle_return = math.log(oracle) - math.log(ext[t - 1, cx] / ext[t - 1, cy])
        if kind != 0 and kind != 6 and kind != 8:  # static, inventory_linear and oracle_gap keep no block state
            on_block(kind, p, st, times[t], times[t] - times[t - 1], price(xp, amp, d, cx, cy), log_q - log_q_prev,
                     oracle_return, imbalance)  # fmt: skip
        log_q_prev = log_q
        hedge_t = 0.0
        for k in range(n):
            hedge_t += xp[k] * (ext[t, k] - ext[t - 1, k])
        buy, sell = pair_fees(kind, p, st, xp, amp, d, cx, cy, oracle)
        fee_sum += buy + sell
        d, fee_t = _arbitrage(kind, p, st, xp, amp, d, cx, cy, oracle, ext[t], pairs, sides, acc)
        flow[:] = 0.0
        for k in range(n):
            if run[t, k] > 0.0:
                fee = swap_fee(kind, p, st, xp, amp, d, cx, cy, oracle, sides[k, into])
                d, fee_v = _trade(xp, amp, fee, k, into, run[t, k], ext[t], sides[k, into], 5, 8, acc, flow)
                fee_t += fee_v
        for m in range(starts[base + t - 1], starts[base + t]):
            i, j = pairs[noise_pair[m], 0], pairs[noise_pair[m], 1]
            fee = swap_fee(kind, p, st, xp, amp, d, cx, cy, oracle, sides[i, j])
            if noise_u[m] >= math.exp(-elasticity * fee):
                continue  # this trader finds the fee too high
            d, fee_v = _trade(xp, amp, fee, i, j, noise_value[m] / ext[t, i], ext[t], sides[i, j], 4, 7, acc, flow)
            fee_t += fee_v
        imbalance = (flow[0] - flow[1]) / (flow[0] + flow[1]) if flow[0] + flow[1] > 0.0 else 0.0
        v_t = total = 0.0
        for k in range(n):
            v_t += xp[k] * ext[t, k]
            total += xp[k]
        hedge += hedge_t
        fee_total += fee_t
        v_prev = v_t
        log_q = math.log(price(xp, amp, d, cx, cy))
        min_share = min(min_share, xp[cy] / total)
        mis_max = max(mis_max, abs(log_q - math.log(oracle)))
    v_end_hold = 0.0
    for k in range(n):
        v_end_hold += xp0[k] * ext[n_blocks, k]
    out[:] = acc
    out[0] = v_prev - v_end_hold
    out[1] = v_prev - v_0 - hedge
    out[2] = fee_total - out[1]
    out[10] = 1e4 * 0.5 * fee_sum / n_blocks
    out[11] = min_share
    out[12] = 1e4 * mis_max


@numba.njit(cache=True, parallel=True)
def simulate(kinds, params, ext, times, run, starts, noise_value, noise_pair, noise_u, pairs, sides, xp0, amp, cx, cy,
             into, elasticity, out):  # fmt: skip
    """Run every (design, path) pair into ``out[d, path, metric]`` (independent jobs: the thread count changes no
    byte)."""
    n_designs, n_paths = kinds.shape[0], ext.shape[0]
    n_blocks = times.shape[0] - 1
    for job in numba.prange(n_designs * n_paths):
        path, k = job // n_designs, job % n_designs
        run_path(kinds[k], params[k], ext[path], times, run[path], starts, path * n_blocks, noise_value, noise_pair,
                 noise_u, pairs, sides, xp0, amp, cx, cy, into, elasticity, out[k, path])  # fmt: skip
