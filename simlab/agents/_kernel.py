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

This module holds these layouts, the heap and the exchange's operations (limit, market, cancel-all, records,
settlement); the event loop (``simlab.agents._loop.run``, which returns ``NEED_ROOM``: the caller grows the short
buffers and calls again, ``RUNAWAY``: a limit order's price left the allowed range, or ``DONE``) and the stress
rules (``simlab.agents._stress``) use them.
"""

from __future__ import annotations

import numba

from simlab.book import _engine as eng
from simlab.book import _sim

NOISE, VALUE, MAKER, MOMENTUM, EXECUTION, STOP, LEVERAGED, EXCHANGE = range(8)
N_CLASSES = 8
WAKE, DECIDE, LIMIT, CANCEL_ALL, RESUME, MARKET = range(6)
NEWS, PAUSE, MARK = 10, 11, 12  # scheduled shocks (messages of the exchange): news jump, halt, mark window edge
# the noise clock's event (a message of the exchange) and a maker's cancel of one old order (H_PRICE: the first order
# id it leaves alone; H_QTY 1: every older order, the last message of a cancel wave)
NOISE_CLOCK, CANCEL_OLD = 20, 21
IOC = 22  # an immediate-or-cancel limit order: it trades up to its price and the rest expires (no ADD)
# ours, a maker keeping its touch (IP_MM_KEEP >= 0): its best-level order (resting, it becomes the kept order of its
# side) and its cancel of one kept order (H_PRICE: the order id; nothing when it no longer rests)
TOUCH, CANCEL_ID = 23, 24
HALT = 8  # simlab.schema.EventKind.HALT (an event kind): qty_lots 1 when matching stops, 0 when it resumes
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
C_FORCED = C_VOLUME + 7  # ladders posted under a withdrawal shock
C_FLOW = C_VOLUME + 8  # net aggressor flow so far: buyer-initiated minus seller-initiated lots
C_FLOW_OTHERS = C_VOLUME + 9  # the same, less the fills whose aggressor is a value agent
CTR_SIZE = C_VOLUME + 10
# integer parameters
IP_OPEN, IP_CLOSE, IP_END, IP_BOOK_SAMPLE, IP_PATH_SAMPLE, IP_MM_DELAY, IP_MM_WINDOW, IP_SHORT, IP_LONG = range(9)
IP_EXEC_MODE, IP_EXEC_SIDE, IP_EXEC_QTY, IP_EXEC_END, IP_EXEC_INTERVAL = range(9, 14)  # execution agents
IP_CB_WINDOW, IP_CB_PAUSE = range(14, 16)  # circuit breaker: look-back and pause (ns)
IP_STOP_SIDE, IP_STOP_QTY, IP_STOP_FIRST, IP_STOP_SPACING = range(16, 20)  # stop-loss ladder
IP_LEV_SIDE, IP_LEV_QTY, IP_FIRST_STOP, IP_FIRST_LEV, IP_CASH0 = range(20, 25)  # leveraged; offsets; cash
IP_EXEC_START, IP_EXEC_WINDOW = 25, 26  # execution start; trailing volume window of a POV agent (ns)
# shocks (ns; -1 when off): withdrawal window [start, end), mark window [start, end), pause length
IP_WD_START, IP_WD_END, IP_MARK_START, IP_MARK_END, IP_PAUSE_LEN = range(27, 32)
IP_SPLIT_MAX, IP_MM_LEVELS = 32, 33  # order splitting's cap on a metaorder's children; the makers' levels
IP_MM_TOUCH = 34  # orders the makers post at their best level on each side (<= 1: one; ours)
IP_MM_OFFSET = 35  # the largest extra ticks a maker's side is moved away from the mid at a ladder (0: off; ours)
# the prices an order may have (ticks, inclusive): the fundamental's mean -+ max(PRICE_SPAN, the mean), so a market
# whose prices run away is stopped (``RUNAWAY``) before its grid outgrows memory (ours)
IP_PRICE_LOW, IP_PRICE_HIGH = 36, 37
IP_MM_KEEP = 38  # a maker keeps its resting best order within this many ticks of its new best price (-1: off; ours)
IP_MM_LAYER = 39  # maker k (0-based) quotes each side k times this many ticks further from the mid (0: off; ours)
IP_ACT_STEP = 40  # the market's activity (ours): the grid step of its log-OU (ns; 0 when off)
IP_MM_SIZE_VOLUME = 41  # the trades a maker's size counts (MM_VOLUME_*; ours)
IP_MM_CENTRE_HL = 42  # the half-life of a maker's ladder centre, an EMA of its mids (ns; 0: the mid itself; ours)
IP_MM_GAP = 43  # ticks a post-only clipped ladder keeps off the other side's touch (<= 1: one tick; ours)
IP_MM_SNAP = 44  # ticks beyond which a maker's slow centre is set to the mid (0: never; ours)
IP_MM_KERNEL = 45  # how the makers weigh the trades of their volume: 0 the box of IP_MM_WINDOW, 1 exponential (ours)
IP_SIZE = 46
# IP_MM_SIZE_VOLUME: every trade of the window (ABIDES), those without a maker party, those not between two makers
MM_VOLUME_ALL, MM_VOLUME_OTHERS, MM_VOLUME_NOT_BETWEEN = range(3)
PRICE_SPAN = 1 << 20
# IP_EXEC_MODE: an even TWAP schedule, participation since the start, a target schedule, participation in a window
EXEC_TWAP, EXEC_POV, EXEC_SCHEDULE, EXEC_POV_TRAILING = range(4)
# float parameters: r_bar (ticks), the mean wait between wake-ups (ns) of value agents, makers, momentum agents,
# the execution agents' participation and the circuit breaker's move (a fraction; 0 = off)
FP_R_BAR, FP_VALUE_WAIT, FP_MAKER_WAIT, FP_MOMENTUM_WAIT, FP_PARTICIPATION, FP_CB_MOVE, FP_LEVERAGE, FP_MM = range(8)
# shocks: news jump (a fraction), withdrawal size and spread factors, mark factor (1 when off)
FP_NEWS_JUMP, FP_WD_SIZE, FP_WD_SPREAD, FP_MARK = range(8, 12)
# the noise clock (per ns: baseline, jump and decay of the intensity; FP_NOISE_EXCESS is run state, the excess
# intensity just after the last clock event), order splitting's Pareto tail (0 off), the makers' mean jitter (ns)
FP_NOISE_BASE, FP_NOISE_JUMP, FP_NOISE_DECAY, FP_NOISE_EXCESS, FP_SPLIT_ALPHA, FP_MM_JITTER = range(12, 18)
FP_NOISE_WALK = 18  # ticks a noise order's limit lies beyond the touch it saw (0: at the touch, ABIDES; ours)
# the noise agents' size law (ours; FP_NOISE_SIZED 0: ABIDES' mixture): the log-normal's mean and sd, then the 11
# components' cumulative law from FP_NOISE_CDF (the last entries)
FP_NOISE_SIZED, FP_NOISE_LOG_MEAN, FP_NOISE_LOG_SD, FP_NOISE_CDF = 19, 20, 21, 22
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
NEED_ROOM, DONE, RUNAWAY = 0, 1, 2  # RUNAWAY: a limit price off [IP_PRICE_LOW, IP_PRICE_HIGH], left unpopped
MAX_PUSH = 64  # messages one event may send, beyond a market maker's ladder


# ---------------------------------------------------------------- the message heap


@numba.njit(cache=True)
def push(heap, ctr, t, kind, agent, side, price, qty):
    """Send a message arriving at ``t`` (the heap has room: see ``_room``). The sift-up moves parents down and writes
    the new row once; the comparisons are written out, with no call per step (a call taking the heap costs its
    reference counting, which in this loop was most of the kernel's time)."""
    i, seq = ctr[C_HEAP], ctr[C_SEQ]
    ctr[C_SEQ] = seq + 1
    ctr[C_HEAP] = i + 1
    while i > 0:
        up = (i - 1) // 2
        if not (t < heap[up, H_TIME] or (t == heap[up, H_TIME] and seq < heap[up, H_SEQ])):
            break
        for f in range(H_FIELDS):
            heap[i, f] = heap[up, f]
        i = up
    heap[i, H_TIME], heap[i, H_SEQ], heap[i, H_TYPE], heap[i, H_AGENT] = t, seq, kind, agent
    heap[i, H_SIDE], heap[i, H_PRICE], heap[i, H_QTY] = side, price, qty


@numba.njit(cache=True)
def pop(heap, ctr):
    """Remove the first message into the last row of the heap's used part; return that row's index."""
    n = ctr[C_HEAP] - 1
    for f in range(H_FIELDS):
        heap[0, f], heap[n, f] = heap[n, f], heap[0, f]
    ctr[C_HEAP] = n
    i = 0
    while True:
        first, left, right = i, 2 * i + 1, 2 * i + 2
        if left < n and (
            heap[left, H_TIME] < heap[first, H_TIME]
            or (heap[left, H_TIME] == heap[first, H_TIME] and heap[left, H_SEQ] < heap[first, H_SEQ])
        ):
            first = left
        if right < n and (
            heap[right, H_TIME] < heap[first, H_TIME]
            or (heap[right, H_TIME] == heap[first, H_TIME] and heap[right, H_SEQ] < heap[first, H_SEQ])
        ):
            first = right
        if first == i:
            return n
        for f in range(H_FIELDS):
            heap[i, f], heap[first, f] = heap[first, f], heap[i, f]
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
def _fills(state, out, ev, ctr, agents, orders, totals, n_agents, t, agent, side, order_id):
    """Settle the fills the engine reported in ``out`` for an incoming order of ``agent``: one TRADE record each."""
    rows = out[0]
    for j in range(out[1][0]):
        passive_id, fill_price, fill_qty = rows[j, eng.F_PASSIVE], rows[j, eng.F_PRICE], rows[j, eng.F_QTY]
        passive = orders[passive_id, O_OWNER]
        ctr[C_VOLUME] += fill_qty
        ctr[C_FLOW] += side * fill_qty
        if agents[agent, A_CLASS] != VALUE:
            ctr[C_FLOW_OTHERS] += side * fill_qty
        if side == 1:
            _settle(agents, totals, agent, passive, fill_price, fill_qty)
        else:
            _settle(agents, totals, passive, agent, fill_price, fill_qty)
        if eng.order_slot(state, passive_id) < 0:
            _unlink(agents, orders, passive_id)
        _record(ev, ctr, n_agents, t, _sim.TRADE, side, fill_price, fill_qty, passive_id, agent, passive, order_id)


@numba.njit(cache=True)
def _limit(state, out, ev, ctr, agents, orders, totals, n_agents, t, agent, side, price, qty, ioc):
    """A limit order reaches the engine (``price`` on the grid and a free slot: ``_sim.room_for``): it trades (one
    TRADE record per fill), then its rest rests (an ADD) or, ``ioc``, expires at once (deleted unrecorded, as it never
    rested: a marketable limit order with its protection price, which cannot walk the book through a hole)."""
    order_id = ctr[_sim.C_NEXT_ID]
    ctr[_sim.C_NEXT_ID] = order_id + 1
    out[1][0] = 0
    eng.limit(state, side, price, qty, order_id, t, out)  # OK: on the grid, a free slot, room for every fill
    _fills(state, out, ev, ctr, agents, orders, totals, n_agents, t, agent, side, order_id)
    rested = state[0][eng.LAST_RESTED]
    if rested > 0:
        if ioc:
            eng.delete(state, order_id, out)
        else:
            _link(agents, orders, agent, order_id)
            _record(ev, ctr, n_agents, t, _sim.ADD, side, price, rested, order_id, agent, -1, -1)


@numba.njit(cache=True)
def _market(state, out, ev, ctr, agents, orders, totals, n_agents, t, agent, side, qty):
    """A market order (immediate or cancel) reaches the engine: one TRADE record per fill; the rest expires."""
    order_id = ctr[_sim.C_NEXT_ID]
    ctr[_sim.C_NEXT_ID] = order_id + 1
    out[1][0] = 0
    eng.market(state, side, qty, order_id, t, out)  # OK: room for every fill
    _fills(state, out, ev, ctr, agents, orders, totals, n_agents, t, agent, side, order_id)


@numba.njit(cache=True, inline="always")
def _delete(state, out, ev, ctr, agents, orders, n_agents, t, agent, order_id):
    """Delete a resting order of ``agent`` from the book and its list (one DELETE record)."""
    slot = eng.order_slot(state, order_id)
    o = state[1]
    side, price, qty = o[slot, eng.O_SIDE], o[slot, eng.O_PRICE], o[slot, eng.O_QTY]
    eng.delete(state, order_id, out)
    _unlink(agents, orders, order_id)
    _record(ev, ctr, n_agents, t, _sim.DELETE, side, price, qty, order_id, agent, -1, -1)


@numba.njit(cache=True)
def _cancel_all(state, out, ev, ctr, agents, orders, n_agents, t, agent, keep_a, keep_b):
    """Delete every resting order of ``agent`` but the ids ``keep_a`` and ``keep_b`` (a maker's kept touch orders;
    -1: none), newest first (one DELETE record each)."""
    order_id = agents[agent, A_HEAD]
    while order_id >= 0:
        nxt = orders[order_id, O_NEXT]
        if order_id != keep_a and order_id != keep_b:
            _delete(state, out, ev, ctr, agents, orders, n_agents, t, agent, order_id)
        order_id = nxt


@numba.njit(cache=True)
def _cancel_old(state, out, ev, ctr, agents, orders, n_agents, t, agent, first_kept, sweep, keep_a, keep_b):
    """Delete the oldest resting order of ``agent`` whose id is below ``first_kept`` and is neither ``keep_a`` nor
    ``keep_b`` (with ``sweep``: every such order, newest first); one DELETE record each. The owner's list runs newest
    first, ids falling, so those orders are its tail."""
    order_id = agents[agent, A_HEAD]
    while order_id >= 0 and order_id >= first_kept:
        order_id = orders[order_id, O_NEXT]
    oldest = -1
    while order_id >= 0:
        nxt = orders[order_id, O_NEXT]
        if order_id != keep_a and order_id != keep_b:
            if sweep:
                _delete(state, out, ev, ctr, agents, orders, n_agents, t, agent, order_id)
            else:
                oldest = order_id
        order_id = nxt
    if oldest >= 0:
        _delete(state, out, ev, ctr, agents, orders, n_agents, t, agent, oldest)


@numba.njit(cache=True)
def _cancel_id(state, out, ev, ctr, agents, orders, n_agents, t, agent, order_id):
    """Delete the order ``order_id`` of ``agent`` if it still rests (one DELETE record)."""
    if eng.order_slot(state, order_id) >= 0:
        _delete(state, out, ev, ctr, agents, orders, n_agents, t, agent, order_id)
