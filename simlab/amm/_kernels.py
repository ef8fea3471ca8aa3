"""Numba kernels of the AMM engine: fee rules, the arbitrageur, noise traders and the per-path accounting.

They trust their input (validated by ``simlab.amm.engine``). One job is one (design, path) pair; jobs run in
parallel. Reserves are virtual (real + offsets ``ox``, ``oy`` of a concentrated range); fee formulas mirror the
Python rules of ``simlab.amm.fees`` line by line.
"""

from __future__ import annotations

import math

import numba
import numpy as np

KIND_NAMES = (
    "static", "volatility_tiers", "volatility_linear", "liquidity_book", "curve_v2", "nezlobin_directional",
    "inventory_linear", "toxicity", "oracle_gap", "surge",
)  # fmt: skip
METRICS = (
    "lp_pnl", "hedged_lp_pnl", "lvr", "fees_arb", "fees_noise", "arb_profit", "arb_gas", "noise_cost", "noise_volume",
    "arb_block_share", "arb_profit_rel", "arb_fees_rel", "lvr_rel", "mispricing_bps", "max_mispricing_bps",
    "time_to_repeg_s", "markout_1block", "markout_1min", "markout_5min", "min_reserve_share", "mean_fee_bps",
    "sandwich_profit", "sandwich_share", "fees_sandwich",
)  # fmt: skip
SECONDS_PER_YEAR = 365.0 * 86400.0
# pool vector: x0, y0 (real reserves), ox, oy (virtual offsets), lower, upper, fees in reserves (0/1), repeg log gap,
# noise traders' fee elasticity (a noise trade goes ahead when its uniform draw is below exp(-elasticity * fee)),
# noise traders' slippage tolerance (> 0: a sandwich attacker preys on them)
POOL_SIZE = 10


@numba.njit(cache=True)
def _clip(value, low, high):
    return min(max(value, low), high)


@numba.njit(cache=True)
def _ewma_var(variance, log_return, dt, halflife):
    weight = 1.0 - 2.0 ** (-dt / halflife)
    return (1.0 - weight) * variance + weight * log_return * log_return / dt


@numba.njit(cache=True)
def _lb_index(price, bin_step):
    return math.floor(math.log(price) / math.log1p(bin_step))


@numba.njit(cache=True)
def init_state(kind, p, st, price, x, time):
    st[:] = 0.0
    if kind == 1 or kind == 2:
        st[0] = p[6 if kind == 1 else 4] ** 2 / SECONDS_PER_YEAR
    elif kind == 3:
        st[1] = _lb_index(price, p[2])
        st[2] = time
    elif kind == 4:
        st[0] = price
    elif kind == 6:
        st[0] = x
    elif kind == 7:
        st[1] = p[5] ** 2 / SECONDS_PER_YEAR


@numba.njit(cache=True, inline="always")
def on_block(kind, p, st, time, dt, price, pool_return, oracle_return, imbalance):
    if kind == 1:
        st[0] = _ewma_var(st[0], pool_return, dt, p[5])
    elif kind == 2:
        st[0] = _ewma_var(st[0], pool_return, dt, p[2])
    elif kind == 3:  # Liquidity Book volatility accumulator
        index = _lb_index(price, p[2])
        elapsed = time - st[2]
        if elapsed >= p[3]:
            st[1] = index
            st[2] = time
            st[0] = p[5] * st[3] if elapsed < p[4] else 0.0
        st[3] = min(st[0] + abs(st[1] - index), p[6])
    elif kind == 4:
        st[0] += (1.0 - 2.0 ** (-dt / p[3])) * (price - st[0])
    elif kind == 5:
        st[0] = pool_return
    elif kind == 7:
        st[0] += (1.0 - 2.0 ** (-dt / p[3])) * (imbalance - st[0])
        st[1] = _ewma_var(st[1], pool_return, dt, p[3])
    elif kind == 9:
        st[0] = p[1] if abs(oracle_return) > p[2] else st[0] * 2.0 ** (-dt / p[3])


@numba.njit(cache=True, inline="always")
def fees(kind, p, st, x, y, oracle):
    if kind == 0:
        return p[0], p[0]
    if kind == 1:
        vol = math.sqrt(st[0] * SECONDS_PER_YEAR)
        fee = p[0] if vol < p[3] else (p[1] if vol < p[4] else p[2])
        return fee, fee
    if kind == 2:
        fee = min(p[0] + p[1] * math.sqrt(st[0] * SECONDS_PER_YEAR), p[3])
        return fee, fee
    if kind == 3:
        fee = min(p[0] + p[1] * (st[3] * p[2]) ** 2, p[7])
        return fee, fee
    if kind == 4:
        a = x * st[0]
        balance = 4.0 * a * y / ((a + y) * (a + y))
        g = p[2] / (p[2] + 1.0 - balance)
        fee = g * p[0] + (1.0 - g) * p[1]
        return fee, fee
    if kind == 5:
        shift = p[1] * st[0]
        return _clip(p[0] + shift, p[2], p[3]), _clip(p[0] - shift, p[2], p[3])
    if kind == 6:
        q = x / st[0] - 1.0
        return _clip(p[0] - p[1] * q, p[2], p[3]), _clip(p[0] + p[1] * q, p[2], p[3])
    if kind == 7:
        common = p[0] + p[2] * math.sqrt(st[1] * SECONDS_PER_YEAR)
        return min(common + p[1] * max(st[0], 0.0), p[4]), min(common + p[1] * max(-st[0], 0.0), p[4])
    if kind == 8:
        gap = math.log(oracle * x / y)
        return min(p[0] + p[1] * max(gap, 0.0), p[2]), min(p[0] + p[1] * max(-gap, 0.0), p[2])
    return p[0] + st[0], p[0] + st[0]


@numba.njit(cache=True, inline="always")
def arbitrage(x, y, price, fee_buy, fee_sell, lower, upper, in_reserves):
    """Return (x', y', lp_dx, lp_dy, fee value, profit): the trade to the edge of the no-trade band, or none.

    Amounts and profit come from cancellation-free forms (the profit is second order in the gap, so ``S * out -
    gross`` would lose it to rounding near the band's edge): e.g. fees aside, buying x to the target price T,
    ``profit = x d (d + (S g - T) / sqrt(T)) / g`` with ``d = sqrt(T) - sqrt(q) = (T - q) / (sqrt(T) + sqrt(q))``.
    """
    q = y / x
    k = x * y
    if price * (1.0 - fee_buy) > q and q < upper:  # buy x with y
        g = 1.0 - fee_buy
        if in_reserves:  # v2: y_eff = y + g dy = sqrt(g k S); profit = (y_eff - y)**2 / (g y)
            y_eff = math.sqrt(g * k * price)
            diff = y * (g * price * x - y) / (y_eff + y)
            gross, out, profit = diff / g, x * diff / y_eff, diff * diff / (g * y)
            x_new, y_new = x - out, y + gross
        else:
            target = min(price * g, upper)
            root_t, root_q = math.sqrt(target), math.sqrt(q)
            d = (target - q) / (root_t + root_q)
            gross, out = x * root_q * d / g, x * d / root_t
            profit = x * d * (d + (price * g - target) / root_t) / g
            x_new, y_new = math.sqrt(k / target), math.sqrt(k * target)
        return x_new, y_new, -out, gross, gross * fee_buy, profit
    if price < q * (1.0 - fee_sell) and q > lower:  # sell x for y
        g = 1.0 - fee_sell
        if in_reserves:  # v2: x_eff = x + g dx = sqrt(g k / S); profit = y (x_eff - x)**2 / x_eff**2
            x_eff = math.sqrt(g * k / price)
            diff = x * (g * y / price - x) / (x_eff + x)
            gross, out, profit = diff / g, y * diff / x_eff, y * diff * diff / (x_eff * x_eff)
            x_new, y_new = x + gross, y - out
        else:
            target = max(price / g, lower)
            root_t, root_q = math.sqrt(target), math.sqrt(q)
            d = (q - target) / (root_q + root_t)
            gross, out = x * d / (g * root_t), x * root_q * d
            profit = x * d * (d - (price / g - target) / root_t)
            x_new, y_new = math.sqrt(k / target), math.sqrt(k * target)
        return x_new, y_new, gross, -out, price * gross * fee_sell, profit
    return x, y, 0.0, 0.0, 0.0, 0.0


@numba.njit(cache=True)
def noise_trade(x, y, price, fee_buy, fee_sell, value, side, lower, upper, in_reserves):
    """Return (x', y', lp_dx, lp_dy, fee value, cost, notional) of a noise trade of ``value`` numeraire."""
    k = x * y
    if side > 0:  # buy x paying value of y
        g = 1.0 - fee_buy
        eff = value * g
        if not in_reserves:
            eff = min(eff, math.sqrt(k * upper) - y)
        gross = eff / g
        out = x * eff / (y + eff)
        x_new = x - out
        y_new = y + (gross if in_reserves else eff)
        return x_new, y_new, -out, gross, gross * fee_buy, gross - price * out, gross
    g = 1.0 - fee_sell
    eff = value / price * g
    if not in_reserves:
        eff = min(eff, math.sqrt(k / lower) - x) if lower > 0.0 else eff
    gross = eff / g
    out = y * eff / (x + eff)
    y_new = y - out
    x_new = x + (gross if in_reserves else eff)
    return x_new, y_new, gross, -out, price * gross * fee_sell, price * gross - out, price * gross


@numba.njit(cache=True)
def _sandwich_eval(r_in, r_out, g1, g2, u, a, in_reserves):
    """Return (attacker gain - a, its derivative in a, victim's output) of front-run a, victim u, back-run; r_in is
    the reserve of the token the victim pays (forward-mode derivative, step by step)."""
    e = r_in + g1 * a
    bought, d_bought = r_out * g1 * a / e, r_out * g1 * r_in / (e * e)
    in1, d_in1 = r_in + (a if in_reserves else g1 * a), 1.0 if in_reserves else g1
    out1, d_out1 = r_out - bought, -d_bought
    f = in1 + g1 * u
    victim = out1 * g1 * u / f
    d_victim = g1 * u * (d_out1 * f - out1 * d_in1) / (f * f)
    in2, out2, d_out2 = in1 + (u if in_reserves else g1 * u), out1 - victim, d_out1 - d_victim
    h, d_h = out2 + g2 * bought, d_out2 + g2 * d_bought
    gain = in2 * g2 * bought / h
    d_gain = g2 * ((d_in1 * bought + in2 * d_bought) * h - in2 * bought * d_h) / (h * h)
    return gain - a, d_gain - 1.0, victim


@numba.njit(cache=True)
def _max_front_run(r_in, r_out, g, in_reserves, u, min_out):
    """Return the largest front-run after which the victim still gets min_out (simlab.amm.sandwich's quadratic)."""
    ug = g * u
    if in_reserves:
        a2, a1 = min_out * g, min_out * (g * (r_in + ug) + r_in)
        a0 = min_out * r_in * (r_in + ug) - r_out * r_in * ug
        return 2.0 * -a0 / (a1 + math.sqrt(a1 * a1 - 4.0 * a2 * a0))
    k = r_in * r_out
    in1 = 2.0 * k * ug / (min_out * ug + math.sqrt((min_out * ug) ** 2 + 4.0 * min_out * k * ug))
    return max(in1 - r_in, 0.0) / g


@numba.njit(cache=True)
def sandwich_front_run(r_in, r_out, fee_front, fee_back, u, slippage, in_reserves):
    """Return the attacker's optimal front-run (0: none): the tolerance bound, or where the gain's slope vanishes
    (bisection on the exact derivative)."""
    g1, g2 = 1.0 - fee_front, 1.0 - fee_back
    quote = r_out * g1 * u / (r_in + g1 * u)
    upper = _max_front_run(r_in, r_out, g1, in_reserves, u, (1.0 - slippage) * quote)
    if upper <= 0.0 or _sandwich_eval(r_in, r_out, g1, g2, u, 0.0, in_reserves)[1] <= 0.0:
        return 0.0
    if _sandwich_eval(r_in, r_out, g1, g2, u, upper, in_reserves)[1] >= 0.0:
        return upper
    low, high = 0.0, upper
    for _ in range(200):
        middle = 0.5 * (low + high)
        if middle <= low or middle >= high:
            break
        if _sandwich_eval(r_in, r_out, g1, g2, u, middle, in_reserves)[1] > 0.0:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


@numba.njit(cache=True)
def _plan_sandwich(x, y, price, fee_buy, fee_sell, value, side, slippage, in_reserves):
    """Return (front-run in the victim's input token, attacker's gain before gas in numeraire) against a noise trade."""
    if side > 0:
        front = sandwich_front_run(y, x, fee_buy, fee_sell, value, slippage, in_reserves)
        return front, _sandwich_eval(y, x, 1.0 - fee_buy, 1.0 - fee_sell, value, front, in_reserves)[0]
    u = value / price
    front = sandwich_front_run(x, y, fee_sell, fee_buy, u, slippage, in_reserves)
    return front, price * _sandwich_eval(x, y, 1.0 - fee_sell, 1.0 - fee_buy, u, front, in_reserves)[0]


@numba.njit(cache=True)
def _advance(pointer, t, times, horizon):
    pointer = max(pointer, t)
    n = times.shape[0] - 1
    while pointer < n and times[pointer] < times[t] + horizon:
        pointer += 1
    return pointer


@numba.njit(cache=True)
def run_path(kind, p, price, log_price, times, gas, starts, base, noise_value, noise_side, noise_u, pool, out):
    """Simulate one design on one path; write the METRICS into ``out``. One log per block: the pool's log price
    after trading; block returns come from differences of logs."""
    n = price.shape[0] - 1
    x0, y0, ox, oy, lower, upper = pool[0], pool[1], pool[2], pool[3], pool[4], pool[5]
    in_reserves, repeg, elasticity, slippage = pool[6] > 0.0, pool[7], pool[8], pool[9]
    x, y = x0 + ox, y0 + oy
    st = np.zeros(4)
    init_state(kind, p, st, y / x, x, times[0])
    acc = np.zeros(len(METRICS))
    xr_prev, yr_prev, imbalance = x0, y0, 0.0
    log_q = log_q_prev = math.log(y / x)
    hedge = fee_total = mis_sum = mis_max = episodes = episode_time = 0.0
    fee_sum = lvr_rel = mark_1 = mark_60 = mark_300 = 0.0
    episode_start = -1.0
    j60 = j300 = 0
    min_share, inv_x0, inv_y0, n_noise = 1.0, 1.0 / x0, 1.0 / y0, 0.0
    for t in range(1, n + 1):
        s, s_prev, dt = price[t], price[t - 1], times[t] - times[t - 1]
        if kind != 0 and kind != 6 and kind != 8:  # static, inventory_linear and oracle_gap keep no block state
            on_block(kind, p, st, times[t], dt, y / x, log_q - log_q_prev, log_price[t] - log_price[t - 1], imbalance)
        log_q_prev = log_q
        v_pre = xr_prev * s + yr_prev
        inv_v = 1.0 / v_pre
        hedge_t = xr_prev * (s - s_prev)
        fee_buy, fee_sell = fees(kind, p, st, x, y, s)
        fee_sum += fee_buy + fee_sell
        xa, ya, lp_dx, lp_dy, fee_v, profit = arbitrage(x, y, s, fee_buy, fee_sell, lower, upper, in_reserves)
        fee_t = 0.0
        if profit > gas[t - 1]:
            x, y = xa, ya
            acc[3] += fee_v
            acc[5] += profit - gas[t - 1]
            acc[6] += gas[t - 1]
            acc[9] += 1.0
            acc[10] += profit * inv_v
            acc[11] += fee_v * inv_v
            fee_t = fee_v
        else:
            lp_dx = lp_dy = 0.0
        buy = sell = 0.0
        for i in range(starts[base + t - 1], starts[base + t]):
            fee_buy, fee_sell = fees(kind, p, st, x, y, s)
            side = noise_side[i]
            if noise_u[i] >= math.exp(-elasticity * (fee_buy if side > 0 else fee_sell)):
                continue  # this trader finds the fee too high
            n_noise += 1.0
            front = bought = 0.0
            if slippage > 0.0:  # the attacker front-runs if the sandwich pays its two transactions
                front, gain = _plan_sandwich(x, y, s, fee_buy, fee_sell, noise_value[i], side, slippage, in_reserves)
                front = front if gain > 2.0 * gas[t - 1] else 0.0
            if front > 0.0:
                value = front if side > 0 else front * s
                x, y, dx, dy, fee_v, _, _ = noise_trade(
                    x, y, s, fee_buy, fee_sell, value, side, lower, upper, in_reserves
                )
                bought = -dx if side > 0 else -dy
                lp_dx, lp_dy, fee_t, acc[23] = lp_dx + dx, lp_dy + dy, fee_t + fee_v, acc[23] + fee_v
            x, y, dx, dy, fee_v, cost, notional = noise_trade(
                x, y, s, fee_buy, fee_sell, noise_value[i], side, lower, upper, in_reserves
            )
            lp_dx += dx
            lp_dy += dy
            acc[4] += fee_v
            acc[7] += cost
            acc[8] += notional
            fee_t += fee_v
            if side > 0:
                buy += notional
            else:
                sell += notional
            if front > 0.0:
                value = bought * s if side > 0 else bought
                x, y, dx, dy, fee_v, _, _ = noise_trade(
                    x, y, s, fee_buy, fee_sell, value, -side, lower, upper, in_reserves
                )
                proceeds = -dy if side > 0 else -dx * s
                lp_dx, lp_dy, fee_t, acc[23] = lp_dx + dx, lp_dy + dy, fee_t + fee_v, acc[23] + fee_v
                acc[21] += proceeds - (front if side > 0 else front * s) - 2.0 * gas[t - 1]
                acc[22] += 1.0
        imbalance = (buy - sell) / (buy + sell) if buy + sell > 0.0 else 0.0
        xr, yr = x - ox, y - oy
        lvr_t = hedge_t - (xr * s + yr - xr_prev * s_prev - yr_prev) + (fee_t if in_reserves else 0.0)
        hedge += hedge_t
        fee_total += fee_t
        lvr_rel += lvr_t * inv_v
        if lp_dx != 0.0:
            j60 = _advance(j60, t, times, 60.0)
            j300 = _advance(j300, t, times, 300.0)
            mark_1 += lp_dx * price[min(t + 1, n)] + lp_dy
            mark_60 += lp_dx * price[j60] + lp_dy
            mark_300 += lp_dx * price[j300] + lp_dy
        signed_gap = math.log(y / x / s)
        log_q = log_price[t] + signed_gap
        gap = abs(signed_gap)
        mis_sum += gap
        mis_max = max(mis_max, gap)
        if gap > repeg and episode_start < 0.0:
            episode_start = times[t]
        elif gap <= repeg and episode_start >= 0.0:
            episodes += 1.0
            episode_time += times[t] - episode_start
            episode_start = -1.0
        min_share = min(min_share, xr * inv_x0, yr * inv_y0)
        xr_prev, yr_prev = xr, yr
    if episode_start >= 0.0:
        episodes += 1.0
        episode_time += times[n] - episode_start
    s_end = price[n]
    v_end = xr_prev * s_end + yr_prev
    extra = 0.0 if in_reserves else fee_total
    out[:] = acc
    out[0] = v_end + extra - (x0 * s_end + y0)
    out[1] = v_end + extra - (x0 * price[0] + y0) - hedge
    out[2] = fee_total - out[1]
    for m in (9, 10, 11):
        out[m] = acc[m] / n
    out[12] = lvr_rel / n
    out[13] = 1e4 * mis_sum / n
    out[14] = 1e4 * mis_max
    out[15] = episode_time / episodes if episodes > 0 else 0.0
    out[16], out[17], out[18] = mark_1, mark_60, mark_300
    out[19] = min_share
    out[20] = 1e4 * 0.5 * fee_sum / n
    out[22] = acc[22] / n_noise if n_noise > 0 else 0.0


@numba.njit(cache=True, parallel=True)
def gbm_paths(normals, times, variance_rate, log_initial, log_price, price):
    """Fill martingale GBM log prices and prices at ``times`` (rows are paths) from standard normal draws."""
    for path in numba.prange(times.shape[0]):
        level = log_initial
        log_price[path, 0], price[path, 0] = level, math.exp(level)
        for t in range(1, times.shape[1]):
            variance = variance_rate * (times[path, t] - times[path, t - 1])
            level += math.sqrt(variance) * normals[path, t - 1] - 0.5 * variance
            log_price[path, t], price[path, t] = level, math.exp(level)


@numba.njit(cache=True, parallel=True)
def simulate(kinds, params, price, log_price, times, gas, starts, noise_value, noise_side, noise_u, pool, out):
    """Run every (design, path) pair: ``out[d, path, metric]``.

    Jobs are independent (each reads its path's precomputed inputs and writes its own row), so the thread count
    changes no byte. They run path-major: each thread's contiguous share of the range holds every design, so
    designs of unequal cost do not leave a thread idle, and consecutive jobs reuse one path's rows.
    """
    n_designs, n_paths = kinds.shape[0], price.shape[0]
    n_blocks = price.shape[1] - 1
    for job in numba.prange(n_designs * n_paths):
        path, d = job // n_designs, job % n_designs
        run_path(
            kinds[d], params[d], price[path], log_price[path], times[path], gas[path], starts, path * n_blocks,
            noise_value, noise_side, noise_u, pool, out[d, path],
        )  # fmt: skip
