"""The slow, obvious twin of the numba engine: the pool classes of simlab.amm.pools and the Python fee rules."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from simlab.amm.engine import METRICS, PoolSpec
from simlab.amm.fees import BlockObservation, FeeRule
from simlab.amm.pools import ConcentratedPosition, ConstantProductPool
from simlab.amm.sandwich import optimal_sandwich


def _start(spec: PoolSpec):
    x0, y0, ox, oy, lower, upper = spec.vector(0.0)[:6]
    if spec.lower is None:
        return ConstantProductPool(x0, y0, 0.0, spec.accounting)
    liquidity = oy / math.sqrt(lower)
    return ConcentratedPosition(liquidity, lower, upper, spec.price, 0.0)


def _reserves(pool) -> tuple[float, float]:
    return (pool.x, pool.y) if isinstance(pool, ConstantProductPool) else pool.reserves


def _virtual(pool) -> tuple[float, float]:
    if isinstance(pool, ConstantProductPool):
        return pool.x, pool.y
    return pool.liquidity / math.sqrt(pool.price), pool.liquidity * math.sqrt(pool.price)


def _lp_side(result, token_in: str, price: float) -> tuple[float, float, float]:
    """The LP's (x, y) change of a swap (fee included) and the fee's value at ``price``."""
    if token_in == "y":
        return -result.amount_out, result.amount_in, result.fee_paid
    return result.amount_in, -result.amount_out, result.fee_paid * price


def _sandwich(pool, victim_in, slippage, side, victim_fee, back_fee, price, gas) -> float | None:
    """The front-run of a sandwich worth its gas, by the solver of simlab.amm.sandwich, or None."""
    if slippage <= 0:
        return None
    side_name, token, other = ("buy", "y", "x") if side > 0 else ("sell", "x", "y")
    plan = optimal_sandwich(replace(pool, fee=victim_fee), victim_in, slippage, side=side_name, back_fee=back_fee)
    if plan.front_run <= 0:
        return None
    front = pool.swap(plan.front_run, token, fee=victim_fee)
    victim = front.pool.swap(victim_in, token, fee=victim_fee)
    back = victim.pool.swap(front.amount_out, other, fee=back_fee)
    gain = (back.amount_out - plan.front_run) * (1.0 if side > 0 else price)
    return plan.front_run if gain > gas else None


def twin_path(
    rule: FeeRule,
    spec: PoolSpec,
    price,
    times,
    gas,
    trades,
    repeg_bps: float,
    elasticity: float = 0.0,
    slippage: float = 0.0,
) -> dict[str, float]:
    """Run one design on one path; ``trades[t - 1]`` lists block t's noise trades as (value, side, uniform)."""
    pool, n = _start(spec), len(price) - 1
    in_reserves = spec.accounting == "reserves"
    x0, y0 = _reserves(pool)
    state = rule.initial_state(pool.price, _virtual(pool)[0], times[0])
    m = dict.fromkeys(METRICS, 0.0) | {"min_reserve_share": 1.0}
    fee_total = hedge = 0.0
    mispricing, spells, prev_start, imbalance, spell_start, n_noise = [], [], pool.price, 0.0, None, 0
    for t in range(1, n + 1):
        s, s_prev = price[t], price[t - 1]
        xr_prev, yr_prev = _reserves(pool)
        obs = BlockObservation(
            times[t],
            times[t] - times[t - 1],
            pool.price,
            math.log(pool.price / prev_start) if t > 1 else 0.0,
            math.log(s / s_prev),
            imbalance,
        )
        prev_start = pool.price
        state = rule.on_block(state, obs)
        v_pre = xr_prev * s + yr_prev
        buy_fee, sell_fee = rule.fees(state, *_virtual(pool), s)
        m["mean_fee_bps"] += 1e4 * (buy_fee + sell_fee) / 2 / n
        lp_dx = lp_dy = fee_t = 0.0
        trade = None
        if s * (1 - buy_fee) > pool.price:
            trade = replace(pool, fee=buy_fee).arbitrage(s)
        elif s < pool.price * (1 - sell_fee):
            trade = replace(pool, fee=sell_fee).arbitrage(s)
        if trade is not None:
            buys = trade.pool.price > pool.price
            profit = trade.amount_out * s - trade.amount_in if buys else trade.amount_out - trade.amount_in * s
            fee_value = trade.fee_paid if buys else trade.fee_paid * s
            if profit > gas[t - 1]:
                pool = trade.pool
                m["fees_arb"] += fee_value
                m["arb_profit"] += profit - gas[t - 1]
                m["arb_gas"] += gas[t - 1]
                m["arb_block_share"] += 1 / n
                m["arb_profit_rel"] += profit / v_pre / n
                m["arb_fees_rel"] += fee_value / v_pre / n
                fee_t += fee_value
                lp_dx, lp_dy = (-trade.amount_out, trade.amount_in) if buys else (trade.amount_in, -trade.amount_out)
        flow = [0.0, 0.0]
        for value, side, uniform in trades[t - 1]:
            buy_fee, sell_fee = rule.fees(state, *_virtual(pool), s)
            if uniform >= math.exp(-elasticity * (buy_fee if side > 0 else sell_fee)):
                continue
            n_noise += 1
            token, other = ("y", "x") if side > 0 else ("x", "y")
            victim_fee, back_fee = (buy_fee, sell_fee) if side > 0 else (sell_fee, buy_fee)
            victim_in = value if side > 0 else value / s
            plan = _sandwich(pool, victim_in, slippage, side, victim_fee, back_fee, s, 2 * gas[t - 1])
            if plan is not None:
                front = pool.swap(plan, token, fee=victim_fee)
                pool = front.pool
                dx, dy, fee_value = _lp_side(front, token, s)
                lp_dx, lp_dy, fee_t = lp_dx + dx, lp_dy + dy, fee_t + fee_value
                m["fees_sandwich"] += fee_value
            result = pool.swap(victim_in, token, fee=victim_fee)
            dx, dy, fee_value = _lp_side(result, token, s)
            if side > 0:
                cost, notional = result.amount_in - s * result.amount_out, result.amount_in
            else:
                cost, notional = s * result.amount_in - result.amount_out, s * result.amount_in
            pool = result.pool
            lp_dx, lp_dy, fee_t = lp_dx + dx, lp_dy + dy, fee_t + fee_value
            if plan is not None:
                back = pool.swap(front.amount_out, other, fee=back_fee)
                pool = back.pool
                bdx, bdy, back_fee_value = _lp_side(back, other, s)
                lp_dx, lp_dy, fee_t = lp_dx + bdx, lp_dy + bdy, fee_t + back_fee_value
                m["fees_sandwich"] += back_fee_value
                m["sandwich_profit"] += (back.amount_out - front.amount_in) * (1.0 if side > 0 else s) - 2 * gas[t - 1]
                m["sandwich_share"] += 1
            m["fees_noise"] += fee_value
            m["noise_cost"] += cost
            m["noise_volume"] += notional
            flow[int(side < 0)] += notional
        imbalance = (flow[0] - flow[1]) / (flow[0] + flow[1]) if flow[0] + flow[1] > 0 else 0.0
        xr, yr = _reserves(pool)
        lvr_t = xr_prev * (s - s_prev) - (xr * s + yr - xr_prev * s_prev - yr_prev) + (fee_t if in_reserves else 0.0)
        hedge += xr_prev * (s - s_prev)
        fee_total += fee_t
        m["lvr_rel"] += lvr_t / v_pre / n
        for name, horizon in (("markout_1block", None), ("markout_1min", 60.0), ("markout_5min", 300.0)):
            if horizon is None:
                j = min(t + 1, n)
            else:
                later = [j for j in range(t, n + 1) if times[j] >= times[t] + horizon]
                j = later[0] if later else n
            m[name] += lp_dx * price[j] + lp_dy
        gap = abs(math.log(pool.price / s))
        mispricing.append(gap)
        if gap > repeg_bps * 1e-4 and spell_start is None:
            spell_start = times[t]
        elif gap <= repeg_bps * 1e-4 and spell_start is not None:
            spells.append(times[t] - spell_start)
            spell_start = None
        m["min_reserve_share"] = min(m["min_reserve_share"], xr / x0, yr / y0)
    if spell_start is not None:
        spells.append(times[n] - spell_start)
    m["sandwich_share"] = m["sandwich_share"] / n_noise if n_noise else 0.0
    xr, yr = _reserves(pool)
    extra = 0.0 if in_reserves else fee_total
    m["lp_pnl"] = xr * price[n] + yr + extra - (x0 * price[n] + y0)
    m["hedged_lp_pnl"] = xr * price[n] + yr + extra - (x0 * price[0] + y0) - hedge
    m["lvr"] = fee_total - m["hedged_lp_pnl"]
    m["mispricing_bps"] = 1e4 * float(np.mean(mispricing))
    m["max_mispricing_bps"] = 1e4 * max(mispricing)
    m["time_to_repeg_s"] = float(np.mean(spells)) if spells else 0.0
    return m
