"""Stress rules of the agent market's exchange (numba; kernels trust their input): stop-loss triggers, the circuit
breaker, the liquidation engine of leveraged traders (entries, liquidation by market order, insurance fund,
auto-deleveraging), and the scheduled shocks the exchange runs (a halt, the edges of a mispriced-mark window).
Layouts and the exchange's operations are in :mod:`simlab.agents._kernel`."""

from __future__ import annotations

import numba
import numpy as np

from simlab.agents import _kernel as K
from simlab.book import _sim


@numba.njit(cache=True)
def stops(heap, ev, ctr, agents, ip, sstate, first_stop, t):
    """Fire every armed stop the last trade price reached (in ladder order): a market order one latency later."""
    row = ctr[_sim.C_EVENTS] - 1
    while ev[row, _sim.EV_KIND] != _sim.TRADE:
        row -= 1
    last, side = ev[row, _sim.EV_PRICE], ip[K.IP_STOP_SIDE]
    for k in range(sstate.shape[0]):
        if sstate[k, K.S_ARMED] == 1 and (last <= sstate[k, K.S_STOP] if side == -1 else last >= sstate[k, K.S_STOP]):
            sstate[k, K.S_ARMED] = 0
            agent = first_stop + k
            ctr[K.C_ORDERS + K.STOP] += 1
            K.push(heap, ctr, t + agents[agent, K.A_LATENCY], K.MARKET, agent, side, 0, ip[K.IP_STOP_QTY])


@numba.njit(cache=True)
def entered(agents, lstate, ip, fp, cash0, agent):
    """A leveraged trader's opening market order is done: its position, entry, liquidation and bankruptcy prices."""
    k = agent - ip[K.IP_FIRST_LEV]
    lots = agents[agent, K.A_INV]
    if lots == 0:
        lstate[k, K.L_STATUS] = K.UNFILLED
        return
    side, lev, mm = (1 if lots > 0 else -1), fp[K.FP_LEVERAGE], fp[K.FP_MM]
    entry = abs(agents[agent, K.A_CASH] - cash0) / abs(lots)
    lstate[k, K.L_POS], lstate[k, K.L_ENTRY], lstate[k, K.L_STATUS] = lots, entry, K.OPEN
    lstate[k, K.L_BANKRUPT] = entry * (1.0 - side / lev)
    lstate[k, K.L_LIQ] = entry * (1.0 - 1.0 / lev) / (1.0 - mm) if side == 1 else entry * (1.0 + 1.0 / lev) / (1.0 + mm)


@numba.njit(cache=True)
def move(agents, totals, seller, buyer, lots, value):
    """The seller delivers ``lots`` to the buyer for ``value`` ticks x lots (off the book: ADL, fund take-over)."""
    agents[buyer, K.A_CASH] -= value
    agents[buyer, K.A_INV] += lots
    agents[seller, K.A_CASH] += value
    agents[seller, K.A_INV] -= lots
    bc, sc = agents[buyer, K.A_CLASS], agents[seller, K.A_CLASS]
    totals[0, bc] -= value
    totals[1, bc] += lots
    totals[0, sc] += value
    totals[1, sc] -= lots


@numba.njit(cache=True)
def log(liq_i, liq_f, ctr, t, agent, kind, lots, other, price):
    row = ctr[K.C_LIQ_ROWS]
    liq_i[row, 0], liq_i[row, 1], liq_i[row, 2], liq_i[row, 3], liq_i[row, 4] = t, agent, kind, lots, other
    liq_f[row, 0], liq_f[row, 1] = price, ctr[K.C_FUND_TICKS]
    ctr[K.C_LIQ_ROWS] = row + 1


@numba.njit(cache=True)
def endangered(lstate, last):
    """The open trader whose liquidation price the last trade passed by the most (ties: the lowest index); -1."""
    pick, depth = -1, -1.0
    for k in range(lstate.shape[0]):
        if lstate[k, K.L_STATUS] == K.OPEN:
            beyond = (lstate[k, K.L_LIQ] - last) if lstate[k, K.L_POS] > 0 else (last - lstate[k, K.L_LIQ])
            if beyond >= 0 and beyond > depth:
                pick, depth = k, beyond
    return pick


@numba.njit(cache=True)
def adl_partner(lstate, last, sign):
    """The open trader holding the other side with the best profit x leverage (same leverage: profit per entry)."""
    pick, best = -1, -1e300
    for k in range(lstate.shape[0]):
        if lstate[k, K.L_STATUS] == K.OPEN and lstate[k, K.L_POS] * sign < 0:
            score = (last - lstate[k, K.L_ENTRY]) / lstate[k, K.L_ENTRY] * (1.0 if lstate[k, K.L_POS] > 0 else -1.0)
            if score > best:
                pick, best = k, score
    return pick


@numba.njit(cache=True)
def transfer(agents, totals, payer, payee, value):
    agents[payer, K.A_CASH] -= value
    agents[payee, K.A_CASH] += value
    totals[0, agents[payer, K.A_CLASS]] -= value
    totals[0, agents[payee, K.A_CLASS]] += value


@numba.njit(cache=True)
def last_trade(ev, ctr):
    """The row of the last TRADE record; -1 when nothing traded yet."""
    row = ctr[_sim.C_EVENTS] - 1
    while row >= 0 and ev[row, _sim.EV_KIND] != _sim.TRADE:
        row -= 1
    return row


@numba.njit(cache=True)
def liquidations(state, out, ev, ctr, agents, orders, totals, n_agents, t, lstate, liq_i, liq_f, ip, fp):
    """Liquidate, the most endangered first, every open trader whose liquidation price the mark reached: a market
    order on its account, the surplus over bankruptcy to the insurance fund (a deficit paid by it), the rest
    auto-deleveraged against the best-ranked opposite traders at the bankruptcy price, then taken by the fund. The
    mark is the last trade price, x ``fp[K.FP_MARK]`` inside a mark shock's window."""
    factor = fp[K.FP_MARK] if ip[K.IP_MARK_START] <= t < ip[K.IP_MARK_END] else 1.0
    while True:
        last = ev[last_trade(ev, ctr), _sim.EV_PRICE] * factor
        k = endangered(lstate, last)
        if k < 0:
            return
        agent, bankrupt = ip[K.IP_FIRST_LEV] + k, lstate[k, K.L_BANKRUPT]
        sign = 1 if lstate[k, K.L_POS] > 0 else -1
        lots = np.int64(abs(lstate[k, K.L_POS]))
        cash, inv = agents[agent, K.A_CASH], agents[agent, K.A_INV]
        K._market(state, out, ev, ctr, agents, orders, totals, n_agents, t, agent, -sign, lots)
        filled, received = abs(agents[agent, K.A_INV] - inv), agents[agent, K.A_CASH] - cash
        surplus = received - sign * np.int64(np.rint(bankrupt * filled))
        transfer(agents, totals, agent, n_agents, surplus)
        ctr[K.C_FUND_TICKS] += surplus
        lstate[k, K.L_POS], lstate[k, K.L_STATUS] = 0.0, K.LIQUIDATED
        if filled > 0:
            log(liq_i, liq_f, ctr, t, agent, K.LOG_BOOK, filled, -1, abs(received) / filled)
        left = lots - filled
        while left > 0:
            j = adl_partner(lstate, last, sign)
            if j < 0:
                break
            partner = ip[K.IP_FIRST_LEV] + j
            x = min(left, np.int64(abs(lstate[j, K.L_POS])))
            value = np.int64(np.rint(bankrupt * x))
            if sign == 1:
                move(agents, totals, agent, partner, x, value)
            else:
                move(agents, totals, partner, agent, x, value)
            lstate[j, K.L_POS] += sign * x
            if lstate[j, K.L_POS] == 0:
                lstate[j, K.L_STATUS] = K.DELEVERAGED
            log(liq_i, liq_f, ctr, t, agent, K.LOG_ADL, x, partner, bankrupt)
            left -= x
        if left > 0:  # nobody left to deleverage: the fund takes the position at the bankruptcy price
            value = np.int64(np.rint(bankrupt * left))
            if sign == 1:
                move(agents, totals, agent, n_agents, left, value)
            else:
                move(agents, totals, n_agents, agent, left, value)
            ctr[K.C_FUND_TICKS] -= sign * value
            log(liq_i, liq_f, ctr, t, agent, K.LOG_FUND, left, -1, bankrupt)


@numba.njit(cache=True)
def breaker(heap, ev, ctr, ip, fp, n_agents, t):
    """After a trade: halt matching for ``pause`` when the last trade price is ``>= move`` (a fraction) away from a
    trade price of the last ``window`` (since the last resume), as CME's stop logic; record K.HALT (qty 1), send the
    K.RESUME."""
    row = ctr[_sim.C_EVENTS] - 1
    while ev[row, _sim.EV_KIND] != _sim.TRADE:
        row -= 1
    last = ev[row, _sim.EV_PRICE]
    since = max(t - ip[K.IP_CB_WINDOW], ctr[K.C_RESUMED])
    while row >= 0 and ev[row, _sim.EV_TS] >= since:
        price = ev[row, _sim.EV_PRICE]
        if ev[row, _sim.EV_KIND] == _sim.TRADE and abs(last - price) >= fp[K.FP_CB_MOVE] * price:
            ctr[K.C_PAUSE_UNTIL] = t + ip[K.IP_CB_PAUSE]
            ctr[K.C_HALTS] += 1
            K._record(ev, ctr, n_agents, t, K.HALT, 0, last, 1, -1, -1, -1, -1)
            K.push(heap, ctr, ctr[K.C_PAUSE_UNTIL], K.RESUME, n_agents, 0, 0, 0)
            return
        row -= 1


@numba.njit(cache=True)
def pause(heap, ev, ctr, ip, n_agents, t):
    """A scheduled halt: matching stops for ``ip[K.IP_PAUSE_LEN]`` (the circuit breaker's machinery: K.HALT record
    with qty 1 and price 0, orders wait for the K.RESUME)."""
    until = t + ip[K.IP_PAUSE_LEN]
    ctr[K.C_PAUSE_UNTIL] = max(ctr[K.C_PAUSE_UNTIL], until)
    ctr[K.C_HALTS] += 1
    K._record(ev, ctr, n_agents, t, K.HALT, 0, 0, 1, -1, -1, -1, -1)
    K.push(heap, ctr, until, K.RESUME, n_agents, 0, 0, 0)
