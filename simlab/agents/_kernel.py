"""The discrete-event kernel of the agent-based market (numba; kernels trust their input, see simlab.agents.market).

Time is in ns. A binary heap holds the pending messages, ordered by (time, sequence number), so equal times keep
their sending order. Message types:

* ``WAKE`` (an agent wakes): a value agent or market maker sends a cancel of all its orders; every agent sends a
  look at the book that reaches the exchange one latency later (``DECIDE``; a market maker's after its
  ``cancel_delay_ns``, as ABIDES' ``cancel_limit_delay``);
* ``DECIDE``: the agent's rule reads the exchange's book at that instant and sends its orders, which arrive two
  latencies later (the book's answer travelling back, then the order: ABIDES' query / response / order);
* ``LIMIT`` and ``CANCEL_ALL`` reach the matching engine (:mod:`simlab.book._engine`).

Arrays (int64 unless said):

* ``heap`` ``(cap, H_FIELDS)`` and ``ctr`` (the :mod:`simlab.book._sim` counters, then ``C_HEAP`` .. below);
* ``agents`` ``(n + 1, A_FIELDS)``: ``A_CLASS``, ``A_INDEX`` (within its class), ``A_LATENCY`` (ns), ``A_CASH``
  (ticks x lots), ``A_INV`` (lots), ``A_HEAD`` (first of its resting order ids, -1 none); row ``n`` is the exchange
  (class ``EXCHANGE``, agent id -1 in the outputs), which posts the opening book;
* ``orders`` ``(cap_ids, O_FIELDS)`` indexed by order id: ``O_OWNER``, ``O_PREV``, ``O_NEXT`` (the owner's list);
* ``ev`` ``(cap, EV_FIELDS)``: the ``_sim`` event columns, then ``EV_AGENT`` (the sender; for a trade the
  aggressor), ``EV_PASSIVE_AGENT`` and ``EV_AGGRESSOR_ID`` (trades; -1 otherwise);
* ``totals`` ``(2, N_CLASSES)``: cash and inventory summed per class (updated at every fill); ``path_ts``,
  ``path_vals`` ``(rows, 2 N_CLASSES)`` (those sums) and ``path_mid`` (float; NaN with a side empty);
* fundamental records ``fund_ts``, ``fund_val`` (float), ``fund_shocks`` (megashocks applied just before).

The kernel returns ``NEED_ROOM`` (the caller grows the short buffers and calls again) or ``DONE``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from simlab.agents import _rules as R
from simlab.book import _engine as eng
from simlab.book import _sim

NOISE, VALUE, MAKER, MOMENTUM, EXECUTION, STOP, LEVERAGED, EXCHANGE = range(8)
N_CLASSES = 8
WAKE, DECIDE, LIMIT, CANCEL_ALL, RESUME, MARKET = range(6)
HALT = 8  # simlab.schema.EventKind.HALT: qty_lots 1 when matching stops, 0 when it resumes
H_TIME, H_SEQ, H_TYPE, H_AGENT, H_SIDE, H_PRICE, H_QTY = range(7)
H_FIELDS = 7
A_CLASS, A_INDEX, A_LATENCY, A_CASH, A_INV, A_HEAD = range(6)
A_FIELDS = 6
O_OWNER, O_PREV, O_NEXT = range(3)
O_FIELDS = 3
EV_AGENT, EV_PASSIVE_AGENT, EV_AGGRESSOR_ID = range(_sim.EV_FIELDS, _sim.EV_FIELDS + 3)
EV_FIELDS = _sim.EV_FIELDS + 3
C_HEAP, C_SEQ, C_PATHS, C_PATH_SAMPLE, C_FUND, C_SHOCKS = range(_sim.CTR_SIZE, _sim.CTR_SIZE + 6)
C_WAKES = _sim.CTR_SIZE + 6  # + class: wake-ups per class
C_ORDERS = C_WAKES + N_CLASSES  # + class: limit orders sent per class
C_SIZE_ZERO = C_ORDERS + N_CLASSES  # + class: orders skipped because the size draw rounded to 0
C_VOLUME = C_SIZE_ZERO + N_CLASSES  # lots traded so far
C_PAUSE_UNTIL, C_RESUMED, C_HALTS, C_WITHDRAWALS = range(C_VOLUME + 1, C_VOLUME + 5)  # circuit breaker, makers
C_FUND_TICKS, C_LIQ_ROWS = C_VOLUME + 5, C_VOLUME + 6  # insurance fund (ticks x lots), liquidation log rows
CTR_SIZE = C_VOLUME + 7
# integer parameters
IP_OPEN, IP_CLOSE, IP_END, IP_BOOK_SAMPLE, IP_PATH_SAMPLE, IP_MM_DELAY, IP_MM_WINDOW, IP_SHORT, IP_LONG = range(9)
IP_EXEC_POV, IP_EXEC_SIDE, IP_EXEC_QTY, IP_EXEC_END, IP_EXEC_INTERVAL = range(9, 14)  # execution agents
IP_CB_WINDOW, IP_CB_PAUSE = range(14, 16)  # circuit breaker: look-back and pause (ns)
IP_STOP_SIDE, IP_STOP_QTY, IP_STOP_FIRST, IP_STOP_SPACING = range(16, 20)  # stop-loss ladder
IP_LEV_SIDE, IP_LEV_QTY, IP_FIRST_STOP, IP_FIRST_LEV, IP_CASH0 = range(20, 25)  # leveraged; offsets; cash
IP_SIZE = 25
# float parameters: r_bar (ticks), the mean wait between wake-ups (ns) of value agents, makers, momentum agents,
# the execution agents' participation and the circuit breaker's move (a fraction; 0 = off)
FP_R_BAR, FP_VALUE_WAIT, FP_MAKER_WAIT, FP_MOMENTUM_WAIT, FP_PARTICIPATION, FP_CB_MOVE, FP_LEVERAGE, FP_MM = range(8)
# execution agent state: X_START_VOLUME (market lots traded at its first look; -1 before), X_ARRIVAL_BID,
# X_ARRIVAL_ASK (the touch at its first look; NO_PRICE when empty)
X_START_VOLUME, X_ARRIVAL_BID, X_ARRIVAL_ASK = range(3)
# stop-loss state: S_STOP (the stop price, ticks), S_ARMED (1 armed, 0 not yet or fired)
S_STOP, S_ARMED = range(2)
# leveraged trader state (float): position (lots, signed), entry, liquidation and bankruptcy prices (ticks), status
L_POS, L_ENTRY, L_LIQ, L_BANKRUPT, L_STATUS = range(5)
WAITING, OPEN, LIQUIDATED, UNFILLED, DELEVERAGED = range(5)
# liquidation log: int (ts, trader, kind, lots, counterparty) and float (price, fund after); kinds:
LOG_BOOK, LOG_ADL, LOG_FUND = 1, 2, 3
NEED_ROOM, DONE = 0, 1
MAX_PUSH = 64  # messages one event may send, beyond a market maker's ladder


# ---------------------------------------------------------------- the message heap


@numba.njit(cache=True, inline="always")
def _before(heap, i, j):
    return heap[i, H_TIME] < heap[j, H_TIME] or (heap[i, H_TIME] == heap[j, H_TIME] and heap[i, H_SEQ] < heap[j, H_SEQ])


@numba.njit(cache=True)
def _swap(heap, i, j):
    for f in range(H_FIELDS):
        heap[i, f], heap[j, f] = heap[j, f], heap[i, f]


@numba.njit(cache=True)
def push(heap, ctr, t, kind, agent, side, price, qty):
    """Send a message arriving at ``t`` (the heap has room: see ``_room``)."""
    i = ctr[C_HEAP]
    heap[i, H_TIME], heap[i, H_SEQ], heap[i, H_TYPE], heap[i, H_AGENT] = t, ctr[C_SEQ], kind, agent
    heap[i, H_SIDE], heap[i, H_PRICE], heap[i, H_QTY] = side, price, qty
    ctr[C_SEQ] += 1
    ctr[C_HEAP] = i + 1
    while i > 0 and _before(heap, i, (i - 1) // 2):
        _swap(heap, i, (i - 1) // 2)
        i = (i - 1) // 2


@numba.njit(cache=True)
def pop(heap, ctr):
    """Remove the first message into the last row of the heap's used part; return that row's index."""
    n = ctr[C_HEAP] - 1
    _swap(heap, 0, n)
    ctr[C_HEAP] = n
    i = 0
    while True:
        first, left, right = i, 2 * i + 1, 2 * i + 2
        if left < n and _before(heap, left, first):
            first = left
        if right < n and _before(heap, right, first):
            first = right
        if first == i:
            return n
        _swap(heap, i, first)
        i = first


# ---------------------------------------------------------------- records and accounts


@numba.njit(cache=True, inline="always")
def _record(ev, ctr, n_agents, ts, kind, side, price, qty, order_id, agent, passive, aggressor_id):
    _sim.record(ev, ctr, ts, kind, side, price, qty, order_id)
    row = ctr[_sim.C_EVENTS] - 1
    ev[row, EV_AGENT] = agent if agent < n_agents else -1
    ev[row, EV_PASSIVE_AGENT] = passive if passive < n_agents else -1
    ev[row, EV_AGGRESSOR_ID] = aggressor_id


@numba.njit(cache=True, inline="always")
def _link(agents, orders, agent, order_id):
    head = agents[agent, A_HEAD]
    orders[order_id, O_OWNER], orders[order_id, O_PREV], orders[order_id, O_NEXT] = agent, -1, head
    if head >= 0:
        orders[head, O_PREV] = order_id
    agents[agent, A_HEAD] = order_id


@numba.njit(cache=True, inline="always")
def _unlink(agents, orders, order_id):
    agent, prev, nxt = orders[order_id, O_OWNER], orders[order_id, O_PREV], orders[order_id, O_NEXT]
    if prev >= 0:
        orders[prev, O_NEXT] = nxt
    else:
        agents[agent, A_HEAD] = nxt
    if nxt >= 0:
        orders[nxt, O_PREV] = prev


@numba.njit(cache=True, inline="always")
def _settle(agents, totals, buyer, seller, price, qty):
    """The buyer pays ``price * qty`` ticks x lots to the seller and receives ``qty`` lots."""
    value = price * qty
    agents[buyer, A_CASH] -= value
    agents[buyer, A_INV] += qty
    agents[seller, A_CASH] += value
    agents[seller, A_INV] -= qty
    bc, sc = agents[buyer, A_CLASS], agents[seller, A_CLASS]
    totals[0, bc] -= value
    totals[1, bc] += qty
    totals[0, sc] += value
    totals[1, sc] -= qty


# ---------------------------------------------------------------- the exchange side


@numba.njit(cache=True)
def _limit(state, out, ev, ctr, agents, orders, totals, n_agents, t, agent, side, price, qty):
    """A limit order reaches the engine: trades (one record per fill), then the rest rests (an ADD)."""
    low, n_ticks = state[0][eng.ORIGIN], state[2].shape[1]
    if price < low or price >= low + n_ticks:
        state = _sim.fit_grid(state, price, 64)
        ctr[_sim.C_GROWS] += 1
    if state[0][eng.FREE] < 0:
        state = eng.grow_engine(state, state[0][eng.ORIGIN], state[2].shape[1], 2 * state[1].shape[0])
        ctr[_sim.C_GROWS] += 1
    order_id = ctr[_sim.C_NEXT_ID]
    ctr[_sim.C_NEXT_ID] = order_id + 1
    out[1][0] = 0
    eng.limit(state, side, price, qty, order_id, t, out)  # OK: on the grid, a free slot, room for every fill
    rows = out[0]
    for j in range(out[1][0]):
        passive_id, fill_price, fill_qty = rows[j, eng.F_PASSIVE], rows[j, eng.F_PRICE], rows[j, eng.F_QTY]
        passive = orders[passive_id, O_OWNER]
        ctr[C_VOLUME] += fill_qty
        if side == 1:
            _settle(agents, totals, agent, passive, fill_price, fill_qty)
        else:
            _settle(agents, totals, passive, agent, fill_price, fill_qty)
        if eng.order_slot(state, passive_id) < 0:
            _unlink(agents, orders, passive_id)
        _record(ev, ctr, n_agents, t, _sim.TRADE, side, fill_price, fill_qty, passive_id, agent, passive, order_id)
    rested = state[0][eng.LAST_RESTED]
    if rested > 0:
        _link(agents, orders, agent, order_id)
        _record(ev, ctr, n_agents, t, _sim.ADD, side, price, rested, order_id, agent, -1, -1)
    return state


@numba.njit(cache=True)
def _market(state, out, ev, ctr, agents, orders, totals, n_agents, t, agent, side, qty):
    """A market order (immediate or cancel) reaches the engine: one TRADE record per fill; the rest expires."""
    order_id = ctr[_sim.C_NEXT_ID]
    ctr[_sim.C_NEXT_ID] = order_id + 1
    out[1][0] = 0
    eng.market(state, side, qty, order_id, t, out)  # OK: room for every fill
    rows = out[0]
    for j in range(out[1][0]):
        passive_id, fill_price, fill_qty = rows[j, eng.F_PASSIVE], rows[j, eng.F_PRICE], rows[j, eng.F_QTY]
        passive = orders[passive_id, O_OWNER]
        ctr[C_VOLUME] += fill_qty
        if side == 1:
            _settle(agents, totals, agent, passive, fill_price, fill_qty)
        else:
            _settle(agents, totals, passive, agent, fill_price, fill_qty)
        if eng.order_slot(state, passive_id) < 0:
            _unlink(agents, orders, passive_id)
        _record(ev, ctr, n_agents, t, _sim.TRADE, side, fill_price, fill_qty, passive_id, agent, passive, order_id)


@numba.njit(cache=True)
def _stops(heap, ev, ctr, agents, ip, sstate, first_stop, t):
    """Fire every armed stop the last trade price reached (in ladder order): a market order one latency later."""
    row = ctr[_sim.C_EVENTS] - 1
    while ev[row, _sim.EV_KIND] != _sim.TRADE:
        row -= 1
    last, side = ev[row, _sim.EV_PRICE], ip[IP_STOP_SIDE]
    for k in range(sstate.shape[0]):
        if sstate[k, S_ARMED] == 1 and (last <= sstate[k, S_STOP] if side == -1 else last >= sstate[k, S_STOP]):
            sstate[k, S_ARMED] = 0
            agent = first_stop + k
            ctr[C_ORDERS + STOP] += 1
            push(heap, ctr, t + agents[agent, A_LATENCY], MARKET, agent, side, 0, ip[IP_STOP_QTY])


@numba.njit(cache=True)
def _entered(agents, lstate, ip, fp, cash0, agent):
    """A leveraged trader's opening market order is done: its position, entry, liquidation and bankruptcy prices."""
    k = agent - ip[IP_FIRST_LEV]
    lots = agents[agent, A_INV]
    if lots == 0:
        lstate[k, L_STATUS] = UNFILLED
        return
    side, lev, mm = (1 if lots > 0 else -1), fp[FP_LEVERAGE], fp[FP_MM]
    entry = abs(agents[agent, A_CASH] - cash0) / abs(lots)
    lstate[k, L_POS], lstate[k, L_ENTRY], lstate[k, L_STATUS] = lots, entry, OPEN
    lstate[k, L_BANKRUPT] = entry * (1.0 - side / lev)
    lstate[k, L_LIQ] = entry * (1.0 - 1.0 / lev) / (1.0 - mm) if side == 1 else entry * (1.0 + 1.0 / lev) / (1.0 + mm)


@numba.njit(cache=True)
def _move(agents, totals, seller, buyer, lots, value):
    """The seller delivers ``lots`` to the buyer for ``value`` ticks x lots (off the book: ADL, fund take-over)."""
    agents[buyer, A_CASH] -= value
    agents[buyer, A_INV] += lots
    agents[seller, A_CASH] += value
    agents[seller, A_INV] -= lots
    bc, sc = agents[buyer, A_CLASS], agents[seller, A_CLASS]
    totals[0, bc] -= value
    totals[1, bc] += lots
    totals[0, sc] += value
    totals[1, sc] -= lots


@numba.njit(cache=True)
def _log(liq_i, liq_f, ctr, t, agent, kind, lots, other, price):
    row = ctr[C_LIQ_ROWS]
    liq_i[row, 0], liq_i[row, 1], liq_i[row, 2], liq_i[row, 3], liq_i[row, 4] = t, agent, kind, lots, other
    liq_f[row, 0], liq_f[row, 1] = price, ctr[C_FUND_TICKS]
    ctr[C_LIQ_ROWS] = row + 1


@numba.njit(cache=True)
def _endangered(lstate, last):
    """The open trader whose liquidation price the last trade passed by the most (ties: the lowest index); -1."""
    pick, depth = -1, -1.0
    for k in range(lstate.shape[0]):
        if lstate[k, L_STATUS] == OPEN:
            beyond = (lstate[k, L_LIQ] - last) if lstate[k, L_POS] > 0 else (last - lstate[k, L_LIQ])
            if beyond >= 0 and beyond > depth:
                pick, depth = k, beyond
    return pick


@numba.njit(cache=True)
def _adl_partner(lstate, last, sign):
    """The open trader holding the other side with the best profit x leverage (same leverage: profit per entry)."""
    pick, best = -1, -1e300
    for k in range(lstate.shape[0]):
        if lstate[k, L_STATUS] == OPEN and lstate[k, L_POS] * sign < 0:
            score = (last - lstate[k, L_ENTRY]) / lstate[k, L_ENTRY] * (1.0 if lstate[k, L_POS] > 0 else -1.0)
            if score > best:
                pick, best = k, score
    return pick


@numba.njit(cache=True)
def _transfer(agents, totals, payer, payee, value):
    agents[payer, A_CASH] -= value
    agents[payee, A_CASH] += value
    totals[0, agents[payer, A_CLASS]] -= value
    totals[0, agents[payee, A_CLASS]] += value


@numba.njit(cache=True)
def _liquidations(state, out, ev, ctr, agents, orders, totals, n_agents, t, lstate, liq_i, liq_f, ip):
    """Liquidate, the most endangered first, every open trader whose liquidation price the last trade reached: a
    market order on its account, the surplus over bankruptcy to the insurance fund (a deficit paid by it), the rest
    auto-deleveraged against the best-ranked opposite traders at the bankruptcy price, then taken by the fund."""
    while True:
        row = ctr[_sim.C_EVENTS] - 1
        while ev[row, _sim.EV_KIND] != _sim.TRADE:
            row -= 1
        last = ev[row, _sim.EV_PRICE]
        k = _endangered(lstate, last)
        if k < 0:
            return
        agent, bankrupt = ip[IP_FIRST_LEV] + k, lstate[k, L_BANKRUPT]
        sign = 1 if lstate[k, L_POS] > 0 else -1
        lots = np.int64(abs(lstate[k, L_POS]))
        cash, inv = agents[agent, A_CASH], agents[agent, A_INV]
        _market(state, out, ev, ctr, agents, orders, totals, n_agents, t, agent, -sign, lots)
        filled, received = abs(agents[agent, A_INV] - inv), agents[agent, A_CASH] - cash
        surplus = received - sign * np.int64(np.rint(bankrupt * filled))
        _transfer(agents, totals, agent, n_agents, surplus)
        ctr[C_FUND_TICKS] += surplus
        lstate[k, L_POS], lstate[k, L_STATUS] = 0.0, LIQUIDATED
        if filled > 0:
            _log(liq_i, liq_f, ctr, t, agent, LOG_BOOK, filled, -1, abs(received) / filled)
        left = lots - filled
        while left > 0:
            j = _adl_partner(lstate, last, sign)
            if j < 0:
                break
            partner = ip[IP_FIRST_LEV] + j
            x = min(left, np.int64(abs(lstate[j, L_POS])))
            value = np.int64(np.rint(bankrupt * x))
            if sign == 1:
                _move(agents, totals, agent, partner, x, value)
            else:
                _move(agents, totals, partner, agent, x, value)
            lstate[j, L_POS] += sign * x
            if lstate[j, L_POS] == 0:
                lstate[j, L_STATUS] = DELEVERAGED
            _log(liq_i, liq_f, ctr, t, agent, LOG_ADL, x, partner, bankrupt)
            left -= x
        if left > 0:  # nobody left to deleverage: the fund takes the position at the bankruptcy price
            value = np.int64(np.rint(bankrupt * left))
            if sign == 1:
                _move(agents, totals, agent, n_agents, left, value)
            else:
                _move(agents, totals, n_agents, agent, left, value)
            ctr[C_FUND_TICKS] -= sign * value
            _log(liq_i, liq_f, ctr, t, agent, LOG_FUND, left, -1, bankrupt)


@numba.njit(cache=True)
def _cancel_all(state, out, ev, ctr, agents, orders, n_agents, t, agent):
    """Delete every resting order of ``agent`` (one DELETE record each)."""
    order_id = agents[agent, A_HEAD]
    while order_id >= 0:
        nxt = orders[order_id, O_NEXT]
        slot = eng.order_slot(state, order_id)
        o = state[1]
        side, price, qty = o[slot, eng.O_SIDE], o[slot, eng.O_PRICE], o[slot, eng.O_QTY]
        eng.delete(state, order_id, out)
        _record(ev, ctr, n_agents, t, _sim.DELETE, side, price, qty, order_id, agent, -1, -1)
        order_id = nxt
    agents[agent, A_HEAD] = -1


@numba.njit(cache=True)
def _breaker(heap, ev, ctr, ip, fp, n_agents, t):
    """After a trade: halt matching for ``pause`` when the last trade price is ``>= move`` (a fraction) away from a
    trade price of the last ``window`` (since the last resume), as CME's stop logic; record HALT (qty 1), send the
    RESUME."""
    row = ctr[_sim.C_EVENTS] - 1
    while ev[row, _sim.EV_KIND] != _sim.TRADE:
        row -= 1
    last = ev[row, _sim.EV_PRICE]
    since = max(t - ip[IP_CB_WINDOW], ctr[C_RESUMED])
    while row >= 0 and ev[row, _sim.EV_TS] >= since:
        price = ev[row, _sim.EV_PRICE]
        if ev[row, _sim.EV_KIND] == _sim.TRADE and abs(last - price) >= fp[FP_CB_MOVE] * price:
            ctr[C_PAUSE_UNTIL] = t + ip[IP_CB_PAUSE]
            ctr[C_HALTS] += 1
            _record(ev, ctr, n_agents, t, HALT, 0, last, 1, -1, -1, -1, -1)
            push(heap, ctr, ctr[C_PAUSE_UNTIL], RESUME, n_agents, 0, 0, 0)
            return
        row -= 1


# ---------------------------------------------------------------- the agents' side


@numba.njit(cache=True, inline="always")
def _wait(gen, mean_ns):
    return np.int64(np.rint(gen.standard_exponential() * mean_ns))


@numba.njit(cache=True)
def _wake(heap, ctr, agents, gens, ip, fp, t, agent):
    """An agent wakes: it schedules its next wake-up (value agents), cancels (value, makers) and looks (all)."""
    cls, lat = agents[agent, A_CLASS], agents[agent, A_LATENCY]
    ctr[C_WAKES + cls] += 1
    if cls == VALUE:  # ABIDES ValueAgent.wakeup: next wake-up from now, cancel_all_orders, then the spread query
        push(heap, ctr, t + _wait(gens[2], fp[FP_VALUE_WAIT]), WAKE, agent, 0, 0, 0)
        push(heap, ctr, t + lat, CANCEL_ALL, agent, 0, 0, 0)
        push(heap, ctr, t + lat, DECIDE, agent, 0, 0, 0)
    elif cls == MAKER:  # ABIDES AdaptiveMarketMakerAgent.wakeup: cancel_all_orders, delay, then the queries
        push(heap, ctr, t + lat, CANCEL_ALL, agent, 0, 0, 0)
        push(heap, ctr, t + lat + ip[IP_MM_DELAY], DECIDE, agent, 0, 0, 0)
    elif cls == EXECUTION:  # a slice: cancel the resting child, look, and wake at the next slice before the end
        if t + ip[IP_EXEC_INTERVAL] < ip[IP_EXEC_END]:
            push(heap, ctr, t + ip[IP_EXEC_INTERVAL], WAKE, agent, 0, 0, 0)
        push(heap, ctr, t + lat, CANCEL_ALL, agent, 0, 0, 0)
        push(heap, ctr, t + lat, DECIDE, agent, 0, 0, 0)
    else:
        push(heap, ctr, t + lat, DECIDE, agent, 0, 0, 0)


@numba.njit(cache=True)
def _window_volume(ev, ctr, t, window):
    """Lots traded by buyers and by sellers (aggressor sides) in ``(t - window, t]``, from the event records."""
    buys, sells = 0, 0
    row = ctr[_sim.C_EVENTS] - 1
    while row >= 0 and ev[row, _sim.EV_TS] > t - window:
        if ev[row, _sim.EV_KIND] == _sim.TRADE:
            if ev[row, _sim.EV_SIDE] == 1:
                buys += ev[row, _sim.EV_QTY]
            else:
                sells += ev[row, _sim.EV_QTY]
        row -= 1
    return buys, sells


@numba.njit(cache=True)
def _send(heap, ctr, agents, t, agent, side, price, qty):
    """Send one limit order, arriving two latencies later (the book's answer back, then the order)."""
    cls = agents[agent, A_CLASS]
    if qty <= 0:
        ctr[C_SIZE_ZERO + cls] += 1
        return
    ctr[C_ORDERS + cls] += 1
    push(heap, ctr, t + 2 * agents[agent, A_LATENCY], LIMIT, agent, side, price, qty)


@numba.njit(cache=True)
def _look_fundamental(gens, fvals, ftimes, fparams, ctr, fund_ts, fund_val, fund_shocks, t):
    """The fundamental at ``t`` (recorded when it moved on)."""
    if t > ftimes[R.T_LAST]:
        shocks = R.advance_fundamental(gens[0], fvals, ftimes, fparams, t)
        row = ctr[C_FUND]
        fund_ts[row], fund_val[row], fund_shocks[row] = t, fvals[R.F_VALUE], shocks
        ctr[C_FUND] = row + 1
        ctr[C_SHOCKS] += shocks
    return fvals[R.F_VALUE]


@numba.njit(cache=True)
def _decide(state, ev, heap, ctr, agents, gens, ip, fp, params, t, agent):
    """Run the agent's rule on the book as it is at the exchange now; send its orders and its next wake-up."""
    (vstate, vprev, vparams, mstate, mparams, mhist, mseen, fvals, ftimes, fparams, cumulative, fund_ts, fund_val,
     fund_shocks, xstate, sstate, lstate, liq_i, liq_f) = params  # fmt: skip
    cls, k, lat = agents[agent, A_CLASS], agents[agent, A_INDEX], agents[agent, A_LATENCY]
    bid, ask = eng.best_bid(state), eng.best_ask(state)
    has_bid, has_ask = bid != eng.NO_PRICE, ask != eng.NO_PRICE
    if cls == NOISE:  # ABIDES NoiseAgent.placeOrder: a coin, a size, a limit order at the other side's touch
        buy = gens[1].random() < 0.5
        size = R.order_size(gens[1], cumulative)
        if buy and has_ask:
            _send(heap, ctr, agents, t, agent, 1, ask, size)
        elif not buy and has_bid:
            _send(heap, ctr, agents, t, agent, -1, bid, size)
    elif cls == VALUE:  # ABIDES ValueAgent.placeOrder
        r_t = _look_fundamental(gens, fvals, ftimes, fparams, ctr, fund_ts, fund_val, fund_shocks, t)
        obs = np.rint(r_t + math.sqrt(vparams[R.VP_OBS_VAR]) * gens[2].standard_normal())
        R.value_update(vstate[k], vprev[k], t, obs, fp[FP_R_BAR], vparams)
        vprev[k] = t
        forecast = R.value_forecast(vstate[k, R.V_ESTIMATE], t, ip[IP_CLOSE], fp[FP_R_BAR], vparams[R.VP_KAPPA])
        side, price = R.value_order(gens[2], forecast, bid, ask, has_bid and has_ask, vparams)
        _send(heap, ctr, agents, t, agent, side, price, R.order_size(gens[2], cumulative))
    elif cls == EXECUTION:
        _execution(heap, ctr, agents, ip, fp, xstate[k], t, agent, bid, ask)
    elif cls == LEVERAGED:  # open the position with a market order
        side = ip[IP_LEV_SIDE] if ip[IP_LEV_SIDE] != 0 else (1 if k % 2 == 0 else -1)
        ctr[C_ORDERS + LEVERAGED] += 1
        push(heap, ctr, t + 2 * lat, MARKET, agent, side, 0, ip[IP_LEV_QTY])
    elif cls == STOP:  # arm the stop away from the mid (not armed while a side is empty)
        if has_bid and has_ask:
            sstate[k, S_STOP] = (bid + ask) // 2 + ip[IP_STOP_SIDE] * (ip[IP_STOP_FIRST] + k * ip[IP_STOP_SPACING])
            sstate[k, S_ARMED] = 1
    elif cls == MAKER:
        _maker(ev, heap, ctr, agents, gens, ip, fp, mstate[k], mparams, t, agent, bid, ask, has_bid and has_ask)
    elif cls == MOMENTUM:  # ABIDES MomentumAgent.place_orders
        if has_bid and has_ask:
            mhist[k, mseen[k] % mhist.shape[1]] = 0.5 * (bid + ask)
            mseen[k] += 1
            signal = R.momentum_signal(mhist[k], mseen[k], ip[IP_SHORT], ip[IP_LONG])
            if signal != 0:
                _send(
                    heap, ctr, agents, t, agent, signal, ask if signal == 1 else bid, R.order_size(gens[4], cumulative)
                )
        push(heap, ctr, t + lat + _wait(gens[4], fp[FP_MOMENTUM_WAIT]), WAKE, agent, 0, 0, 0)


@numba.njit(cache=True)
def _maker(ev, heap, ctr, agents, gens, ip, fp, mstate, mparams, t, agent, bid, ask, two_sided):
    """ABIDES AdaptiveMarketMakerAgent: smoothed spread, size from the last window's volume, the skewed ladder."""
    previous = mstate[R.M_MID]
    mid = R.maker_observe(mstate, bid, ask, two_sided, mparams)
    if mid >= 0:
        buys, sells = _window_volume(ev, ctr, t, ip[IP_MM_WINDOW])
        size, window = R.maker_size(buys, sells, mparams), mstate[R.M_SPREAD]
        if R.maker_withdraws(agents[agent, A_INV], mid, previous, mparams):
            ctr[C_WITHDRAWALS] += 1
            size = max(np.int64(1), np.int64(math.floor(size * mparams[R.MP_WITHDRAW_SIZE])))
            window = window * mparams[R.MP_WITHDRAW_SPREAD]
        low_bid, high_bid, low_ask, step = R.maker_ladder(window, mid, buys, sells, mparams)
        for price in range(low_bid, high_bid + 1, step):
            _send(heap, ctr, agents, t, agent, 1, price, size)
        for level in range(np.int64(mparams[R.MP_LEVELS])):
            _send(heap, ctr, agents, t, agent, -1, low_ask + level * step, size)
    lat = agents[agent, A_LATENCY]
    push(heap, ctr, t + lat + _wait(gens[3], fp[FP_MAKER_WAIT]), WAKE, agent, 0, 0, 0)


@numba.njit(cache=True)
def _execution(heap, ctr, agents, ip, fp, xstate, t, agent, bid, ask):
    """One child order of a TWAP or POV metaorder at the other side's touch (nothing when that side is empty)."""
    side, quantity = ip[IP_EXEC_SIDE], ip[IP_EXEC_QTY]
    if xstate[X_START_VOLUME] < 0:
        xstate[X_START_VOLUME], xstate[X_ARRIVAL_BID], xstate[X_ARRIVAL_ASK] = ctr[C_VOLUME], bid, ask
    done = side * agents[agent, A_INV]
    remaining = quantity - done
    if ip[IP_EXEC_POV] > 0:  # own = p / (1 - p) x the others' volume since the start
        others = ctr[C_VOLUME] - xstate[X_START_VOLUME] - done
        p = fp[FP_PARTICIPATION]
        child = min(remaining, np.int64(math.floor(p / (1.0 - p) * others)) - done)
    else:  # the remaining lots over the slices left (this one included)
        slices = max(np.int64(1), (ip[IP_EXEC_END] - t + ip[IP_EXEC_INTERVAL] - 1) // ip[IP_EXEC_INTERVAL])
        child = -(-remaining // slices)
    touch = ask if side == 1 else bid
    if child > 0 and touch != eng.NO_PRICE:
        ctr[C_ORDERS + EXECUTION] += 1
        push(heap, ctr, t + 2 * agents[agent, A_LATENCY], LIMIT, agent, side, touch, child)


# ---------------------------------------------------------------- paths and room


@numba.njit(cache=True)
def _path_row(state, ctr, path_ts, path_vals, path_mid, totals, ts):
    row = ctr[C_PATHS]
    path_ts[row] = ts
    path_vals[row, :N_CLASSES] = totals[0]
    path_vals[row, N_CLASSES:] = totals[1]
    bid, ask = eng.best_bid(state), eng.best_ask(state)
    path_mid[row] = 0.5 * (bid + ask) if bid != eng.NO_PRICE and ask != eng.NO_PRICE else np.nan
    ctr[C_PATHS] = row + 1


@numba.njit(cache=True)
def _path_samples(state, ctr, path_ts, path_vals, path_mid, totals, start_ns, sample_ns, until_ns):
    while start_ns + ctr[C_PATH_SAMPLE] * sample_ns <= until_ns and ctr[C_PATHS] < path_ts.shape[0]:
        _path_row(state, ctr, path_ts, path_vals, path_mid, totals, start_ns + ctr[C_PATH_SAMPLE] * sample_ns)
        ctr[C_PATH_SAMPLE] += 1


@numba.njit(cache=True)
def needs(state, ctr, levels):
    """Rows each buffer needs before the next message: events (and per-event books), paths, order ids, heap,
    fills, fundamental records."""
    resting = state[0][eng.N_ORDERS]
    return np.array(
        [ctr[_sim.C_EVENTS] + resting + 2 + levels, ctr[C_PATHS] + 2, ctr[_sim.C_NEXT_ID] + 2,
         ctr[C_HEAP] + 2 * levels + MAX_PUSH, resting + 2, ctr[C_FUND] + 2],
        dtype=np.int64,
    )  # fmt: skip


@numba.njit(cache=True)
def _short(state, ctr, levels, ev_rows, path_rows, order_rows, heap_rows, fill_rows, fund_rows):
    resting = state[0][eng.N_ORDERS]
    return (
        ctr[_sim.C_EVENTS] + resting + 2 + levels > ev_rows or ctr[C_PATHS] + 2 > path_rows
        or ctr[_sim.C_NEXT_ID] + 2 > order_rows or ctr[C_HEAP] + 2 * levels + MAX_PUSH > heap_rows
        or resting + 2 > fill_rows or ctr[C_FUND] + 2 > fund_rows
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def run(state, out, gens, heap, ctr, agents, orders, totals, ip, fp, params, rec):
    """Process messages up to ``ip[IP_END]``; return (``NEED_ROOM`` or ``DONE``, the engine state).

    ``rec`` = (ev, books, book_ts, path_ts, path_vals, path_mid); ``params`` as unpacked in ``_decide``.
    """
    ev, books, book_ts, path_ts, path_vals, path_mid = rec
    fund_ts, sstate, lstate, liq_i, liq_f = params[11], params[15], params[16], params[17], params[18]
    n_agents, first_stop = agents.shape[0] - 1, ip[IP_FIRST_STOP]
    levels = np.int64(params[4][R.MP_LEVELS]) + sstate.shape[0] + 2 * lstate.shape[0]  # room for one message
    books_each, paths_each = ip[IP_BOOK_SAMPLE] <= 0, ip[IP_PATH_SAMPLE] <= 0
    while ctr[C_HEAP] > 0 and heap[0, H_TIME] <= ip[IP_END]:
        ev_rows = min(ev.shape[0], books.shape[1]) if books_each else ev.shape[0]
        path_rows = path_ts.shape[0] if paths_each else 1 << 62
        if _short(state, ctr, levels, ev_rows, path_rows, orders.shape[0], heap.shape[0], out[0].shape[0],
                  fund_ts.shape[0]):  # fmt: skip
            return NEED_ROOM, state
        t = heap[0, H_TIME]
        if not books_each:
            _sim.samples(state, books, book_ts, ctr, ip[IP_OPEN], ip[IP_BOOK_SAMPLE], t - 1)
        if not paths_each:
            _path_samples(state, ctr, path_ts, path_vals, path_mid, totals, ip[IP_OPEN], ip[IP_PATH_SAMPLE], t - 1)
        row = pop(heap, ctr)
        kind, agent = heap[row, H_TYPE], heap[row, H_AGENT]
        written = ctr[_sim.C_EVENTS]
        if kind == WAKE:
            _wake(heap, ctr, agents, gens, ip, fp, t, agent)
        elif kind == DECIDE:
            _decide(state, ev, heap, ctr, agents, gens, ip, fp, params, t, agent)
        elif (kind == LIMIT or kind == MARKET) and t < ctr[C_PAUSE_UNTIL]:  # halted: wait for the resume, in order
            push(heap, ctr, ctr[C_PAUSE_UNTIL], kind, agent, heap[row, H_SIDE], heap[row, H_PRICE], heap[row, H_QTY])
        elif kind == LIMIT or kind == MARKET:
            side, price, qty = heap[row, H_SIDE], heap[row, H_PRICE], heap[row, H_QTY]
            volume = ctr[C_VOLUME]
            if kind == LIMIT:
                state = _limit(state, out, ev, ctr, agents, orders, totals, n_agents, t, agent, side, price, qty)
            else:
                _market(state, out, ev, ctr, agents, orders, totals, n_agents, t, agent, side, qty)
                if agents[agent, A_CLASS] == LEVERAGED:
                    _entered(agents, lstate, ip, fp, ip[IP_CASH0], agent)
            if ctr[C_VOLUME] > volume and lstate.shape[0] > 0:
                _liquidations(state, out, ev, ctr, agents, orders, totals, n_agents, t, lstate, liq_i, liq_f, ip)
            if ctr[C_VOLUME] > volume:
                if sstate.shape[0] > 0:
                    _stops(heap, ev, ctr, agents, ip, sstate, first_stop, t)
                if fp[FP_CB_MOVE] > 0:
                    _breaker(heap, ev, ctr, ip, fp, n_agents, t)
        elif kind == RESUME:
            ctr[C_RESUMED] = t
            _record(ev, ctr, n_agents, t, HALT, 0, 0, 0, -1, -1, -1, -1)
        else:
            _cancel_all(state, out, ev, ctr, agents, orders, n_agents, t, agent)
        written = ctr[_sim.C_EVENTS] - written
        if books_each:
            for _ in range(written):
                _sim.snapshot(state, books, book_ts, ctr, t)
        if paths_each and written > 0:
            _path_row(state, ctr, path_ts, path_vals, path_mid, totals, t)
    if not books_each:
        _sim.samples(state, books, book_ts, ctr, ip[IP_OPEN], ip[IP_BOOK_SAMPLE], ip[IP_END])
    if not paths_each:
        _path_samples(state, ctr, path_ts, path_vals, path_mid, totals, ip[IP_OPEN], ip[IP_PATH_SAMPLE], ip[IP_END])
    return DONE, state
