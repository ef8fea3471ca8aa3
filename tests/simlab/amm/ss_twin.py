"""The slow, obvious twin of the StableSwap fee-design kernels: plain Python floats, the invariant solved by
Brent's method, the arbitrage size by Brent's method on the marginal rate, the Python fee rules of simlab.amm.fees."""

from __future__ import annotations

import math

from scipy.optimize import brentq

from simlab.amm.fees import BlockObservation, FeeRule

EPS = 1e-15


def gap(xp: list[float], amp: float, d: float) -> float:
    """The contracts' invariant, ``Ann sum(x) + D - Ann D - D**(n+1) / (n**n prod(x))``."""
    n = len(xp)
    return amp * n * sum(xp) + d - amp * n * d - d ** (n + 1) / (n**n * math.prod(xp))


def invariant(xp: list[float], amp: float) -> float:
    return brentq(lambda d: gap(xp, amp, d), 1e-6 * sum(xp), 1.5 * sum(xp), xtol=1e-300, rtol=EPS, maxiter=500)


def balance_after(xp: list[float], amp: float, d: float, i: int, x: float, j: int) -> float:
    def f(y: float) -> float:
        trial = list(xp)
        trial[i], trial[j] = x, y
        return gap(trial, amp, d)

    high = d
    while f(high) < 0:
        high *= 2.0
    return brentq(f, 1e-30 * d, high, xtol=1e-300, rtol=EPS, maxiter=500)


def marginal(xp: list[float], amp: float, d: float, i: int, j: int) -> float:
    """``-dx_j / dx_i`` on the invariant: the ratio of the invariant's partial derivatives."""
    n = len(xp)
    term = d ** (n + 1) / (n**n * math.prod(xp))
    return (amp * n + term / xp[i]) / (amp * n + term / xp[j])


def swap(xp: list[float], amp: float, fee: float, i: int, j: int, dx: float) -> tuple[float, float]:
    d = invariant(xp, amp)
    gross = xp[j] - balance_after(xp, amp, d, i, xp[i] + dx, j)
    xp[i] += dx
    xp[j] -= gross * (1.0 - fee)
    return gross * (1.0 - fee), gross * fee


def arb_size(xp: list[float], amp: float, fee: float, i: int, j: int, ratio: float) -> float:
    d = invariant(xp, amp)

    def edge(dx: float) -> float:
        trial = list(xp)
        trial[i], trial[j] = xp[i] + dx, balance_after(xp, amp, d, i, xp[i] + dx, j)
        return (1.0 - fee) * marginal(trial, amp, d, i, j) - ratio

    if edge(0.0) <= 0:
        return 0.0
    high = xp[i]
    while edge(high) > 0:
        high *= 2.0
    return brentq(edge, 0.0, high, xtol=1e-300, rtol=EPS, maxiter=500)


def twin_path(rule: FeeRule, xp0, amp, ext, times, run, trades, cx, cy, into, x_side, elasticity) -> dict[str, float]:
    """One path: ``ext[t][k]`` outside prices, ``run[t][k]`` sold into ``into``, ``trades[t]`` the block's noise
    trades ``(value, i, j, uniform)``. Returns the metrics by name."""
    n = len(xp0)
    xp = list(map(float, xp0))

    def side(i: int, j: int) -> int:
        return (1 if x_side[j] and not x_side[i] else 0) - (1 if x_side[i] and not x_side[j] else 0)

    def fee_of(state, i, j, oracle):
        d = invariant(xp, amp)
        scaled = oracle / marginal(xp, amp, d, cx, cy) * xp[cy] / xp[cx]
        buy, sell = rule.fees(state, xp[cx], xp[cy], scaled)
        return {1: buy, -1: sell, 0: 0.5 * (buy + sell)}[side(i, j)]

    pool_price = marginal(xp, amp, invariant(xp, amp), cx, cy)
    state = rule.initial_state(pool_price, xp[cx], times[0])
    out = dict.fromkeys(("fees_arb", "fees_noise", "fees_run", "arb_profit", "noise_volume", "run_volume",
                         "arb_trades"), 0.0)  # fmt: skip
    value = lambda t: sum(xp[k] * ext[t][k] for k in range(n))  # noqa: E731
    v0 = v_prev = value(0)
    log_prev = log_now = math.log(pool_price)
    hedge = fee_total = fee_sum = imbalance = mis_max = 0.0
    min_share = 1.0
    for t in range(1, len(times)):
        oracle = ext[t][cx] / ext[t][cy]
        obs = BlockObservation(times[t], times[t] - times[t - 1], marginal(xp, amp, invariant(xp, amp), cx, cy),
                               log_now - log_prev, math.log(oracle) - math.log(ext[t - 1][cx] / ext[t - 1][cy]),
                               imbalance)  # fmt: skip
        state = rule.on_block(state, obs)
        log_prev = log_now
        hedge += sum(xp[k] * (ext[t][k] - ext[t - 1][k]) for k in range(n))
        scaled = oracle / marginal(xp, amp, invariant(xp, amp), cx, cy) * xp[cy] / xp[cx]
        fee_sum += sum(rule.fees(state, xp[cx], xp[cy], scaled))
        for _ in range(3):
            moved = False
            for i in range(n):
                for j in range(n):
                    if i == j:
                        continue
                    fee = fee_of(state, i, j, oracle)
                    d = invariant(xp, amp)
                    if (1.0 - fee) * marginal(xp, amp, d, i, j) <= (1.0 + 1e-7) * ext[t][i] / ext[t][j]:
                        continue  # inside the band (the kernel's tolerance)
                    dx = arb_size(xp, amp, fee, i, j, ext[t][i] / ext[t][j])
                    if dx <= 0:
                        continue
                    saved = list(xp)
                    dy, charged = swap(xp, amp, fee, i, j, dx)
                    if dy * ext[t][j] - dx * ext[t][i] <= 0:
                        xp[:] = saved
                        continue
                    out["fees_arb"] += charged * ext[t][j]
                    out["arb_profit"] += dy * ext[t][j] - dx * ext[t][i]
                    out["arb_trades"] += 1
                    fee_total += charged * ext[t][j]
                    moved = True
            if not moved:
                break
        buy = sell = 0.0
        for k in range(n):
            if run[t][k] > 0:
                _, charged = swap(xp, amp, fee_of(state, k, into, oracle), k, into, run[t][k])
                out["fees_run"] += charged * ext[t][into]
                out["run_volume"] += run[t][k] * ext[t][k]
                fee_total += charged * ext[t][into]
                buy += run[t][k] * ext[t][k] if side(k, into) > 0 else 0.0
                sell += run[t][k] * ext[t][k] if side(k, into) < 0 else 0.0
        for amount, i, j, uniform in trades[t]:
            fee = fee_of(state, i, j, oracle)
            if uniform >= math.exp(-elasticity * fee):
                continue
            _, charged = swap(xp, amp, fee, i, j, amount / ext[t][i])
            out["fees_noise"] += charged * ext[t][j]
            out["noise_volume"] += amount
            fee_total += charged * ext[t][j]
            buy += amount if side(i, j) > 0 else 0.0
            sell += amount if side(i, j) < 0 else 0.0
        imbalance = (buy - sell) / (buy + sell) if buy + sell > 0 else 0.0
        v_prev = value(t)
        log_now = math.log(marginal(xp, amp, invariant(xp, amp), cx, cy))
        min_share = min(min_share, xp[cy] / sum(xp))
        mis_max = max(mis_max, abs(log_now - math.log(oracle)))
    end = len(times) - 1
    out["lp_pnl"] = v_prev - sum(xp0[k] * ext[end][k] for k in range(n))
    out["hedged_lp_pnl"] = v_prev - v0 - hedge
    out["lvr"] = fee_total - out["hedged_lp_pnl"]
    out["mean_fee_bps"] = 1e4 * 0.5 * fee_sum / end
    out["min_share"] = min_share
    out["max_mispricing_bps"] = 1e4 * mis_max
    return out
