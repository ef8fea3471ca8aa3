"""The numba kernels of the rollout: apply a generated block of messages to every running path's book at once.

One call of :func:`apply_blocks` does, for every active path, what :meth:`generators.rollout.BookPath.apply_block`
(its slow Python twin, which shares no code with this module) does for one: decode each message against the path's
last quoted bests, execute it on the path's :mod:`simlab.book._engine` state, pick the resting order a cancel or a
delete removes (a delete: the order of its level whose size is nearest the message's; a level beyond the
encoding's ``book_levels``: the non-empty level there nearest the message's price; an encoding with
``cancel_position = "volume"``: the level whose share of the first ``book_levels`` levels' lots holds the message's
volume position, :func:`_volume_level`), turn a trade's share of the best
opposite queue into lots against the queue it meets with the path's own
``numpy.random.Generator`` (the same draw, ``integers(0, candidates)``, in the same order, so the same seed gives
the same bytes), count rejections and discards, write the events and the book after each, and push the applied
message and the book into the path's feature windows (ring buffers the next block's network inputs are read from,
:func:`generators.rollout_fast.window_features`).

Per-path state lives in arrays indexed by path (``ts``, ``last``, ``next_id``, ``done``, ``idle``, ``counts``,
``seen``, the rate guard's interval, the windows) and in typed lists (the engine states, which grow, and the
generators).
"""

from __future__ import annotations

import numba
import numpy as np

from simlab.book import _engine as E

NO_PRICE = E.NO_PRICE
# counts columns: applied, the rejection reasons in generators.rollout.REASONS order, discarded, chains, unfilled,
# stuck, runaway, trades held to the front order (trade_fill "front"), orders thinned behind the best
C_APPLIED = 0
R_BAD_VALUE, R_CROSSING_ADD, R_NO_LEVEL, R_NO_ORDER, R_EMPTY_SIDE, R_TRADE_BEYOND_BEST = 1, 2, 3, 4, 5, 6
C_DISCARDED, C_CHAINS, C_UNFILLED, C_STUCK, C_RUNAWAY, C_FRONT_HELD, C_THINNED = 7, 8, 9, 10, 11, 12, 13
N_COUNTS = 14
MESSAGE_THINNED = -2  # the message field of a removal behind the best that thinning made (generators.rollout)
# event record columns
EV_PATH, EV_TS, EV_KIND, EV_SIDE, EV_PRICE, EV_QTY, EV_ID, EV_MESSAGE = range(8)
EV_WIDTH = 8
# message types (generators.encoding.TYPE_*) and the event kinds (simlab.schema.EventKind) they record as
T_ADD, T_CANCEL, T_DELETE, T_TRADE, T_HIDDEN = 0, 1, 2, 3, 4
K_ADD, K_CANCEL, K_DELETE, K_TRADE, K_HIDDEN = 1, 2, 3, 5, 6
# kernel outcomes
STATUS_OK, STATUS_STUCK, STATUS_ENGINE = 0, 1, 2
GRID_TICKS = 4096
SHARE_ONE = 1 << 30  # a TRADE's size is its share of the best opposite queue in these units (generators.shares)
VOLUME_GRID = 10**9  # generators.encoding.VOLUME_GRID: a removal's volume position inside the counted levels
VOLUME_BEYOND = 2 * VOLUME_GRID  # generators.encoding.VOLUME_BEYOND: the position of a removal beyond them
ADD_SHARE_ONE = 1_000_000  # generators.encoding.ADD_SHARE_ONE: an inside ADD's share of the spread ("share")
_FLOW_SIGN = np.array([1, -1, -1, 1, 1], dtype=np.int64)  # the order sign of a message = side * this, per type


@numba.njit(cache=True, inline="always")
def _grow(ev, bk, need):
    """Return the record buffers with room for ``need`` rows (doubled when short)."""
    if need <= ev.shape[0]:
        return ev, bk
    size = max(need, 2 * ev.shape[0])
    ev2 = np.zeros((size, EV_WIDTH), dtype=np.int64)
    bk2 = np.zeros((size, 4, bk.shape[2]), dtype=np.int64)
    for i in range(ev.shape[0]):  # loops, not slice assignments: those compile a shape-error message, slowly
        for j in range(EV_WIDTH):
            ev2[i, j] = ev[i, j]
        for j in range(4):
            for k in range(bk.shape[2]):
                bk2[i, j, k] = bk[i, j, k]
    return ev2, bk2


@numba.njit(cache=True, inline="always")
def _write(state, ev, bk, n, path, ts, kind, side, price, qty, order_id, message):
    """Write one event and the book after it at row ``n``."""
    ev[n, EV_PATH], ev[n, EV_TS], ev[n, EV_KIND], ev[n, EV_SIDE] = path, ts, kind, side
    ev[n, EV_PRICE], ev[n, EV_QTY], ev[n, EV_ID], ev[n, EV_MESSAGE] = price, qty, order_id, message
    rows = bk[n]
    E.top_k(state, rows.shape[1], rows[0:1], rows[1:2], rows[2:3], rows[3:4], 0)


@numba.njit(cache=True, inline="always")
def _rest(state, side, price, size, order_id, ts, out):
    """Rest a limit order, growing the engine when it is off the grid or full; return (state, engine status)."""
    while True:
        status = E.limit(state, side, price, size, order_id, ts, out)
        if status == E.OK:
            return state, status
        if status == E.OFF_GRID:
            state = E.grow_engine(state, price - GRID_TICKS // 2, GRID_TICKS, 1)
        elif status == E.CAPACITY:
            state = E.grow_engine(state, state[0][E.ORIGIN], 1, 2 * state[1].shape[0])
        else:
            return state, status


@numba.njit(cache=True)
def start_engine(orders, depth, ts, centre):
    """Return the engine state, its grid centred on ``centre`` (ticks), with the start orders resting (int64
    ``(n, 3)``: side, price, lots, placed in that order, so in time priority within a level:
    :func:`generators.rollout.start_orders`), the ADD records that placed them (path 0, message -1), the book after
    each, the next order id and the engine status (``E.OK`` unless an order was refused)."""
    state = E.new_engine(centre - GRID_TICKS // 2, GRID_TICKS, 1024)
    out = E.new_fills(16)
    n_orders = orders.shape[0]
    ev = np.zeros((n_orders, EV_WIDTH), dtype=np.int64)
    bk = np.zeros((n_orders, 4, depth), dtype=np.int64)
    order_id = np.int64(1)
    for n in range(n_orders):
        side, price, qty = orders[n, 0], orders[n, 1], orders[n, 2]
        state, status = _rest(state, side, price, qty, order_id, ts, out)
        if status != E.OK:
            return state, ev[:n], bk[:n], order_id, status
        _write(state, ev, bk, n, 0, ts, K_ADD, side, price, qty, order_id, -1)
        order_id += 1
    return state, ev, bk, order_id, E.OK


@numba.njit(cache=True, inline="always")
def _level_grid(state, side, level, target, book_levels):
    """Grid index of the level a removal takes: its ``level``-th non-empty one, or beyond ``book_levels`` the
    non-empty level nearest the price ``target`` (the inner one on a tie); -1 when the side has no such level."""
    grid = E._level_index(state, side, min(level, book_levels + 1))
    if grid < 0 or level <= book_levels:
        return grid
    meta, levels = state[0], state[2]
    row, step = (E.BID_ROW, -1) if side == 1 else (E.ASK_ROW, 1)
    remaining = (meta[E.N_BID] if side == 1 else meta[E.N_ASK]) - book_levels - 1  # non-empty levels past `grid`
    best, gap, i = grid, abs(meta[E.ORIGIN] + grid - target), grid + step
    while remaining > 0:
        if levels[row, i, E.L_COUNT] > 0:
            remaining -= 1
            distance = abs(meta[E.ORIGIN] + i - target)
            if distance >= gap:  # the distance to the target only grows from here on
                break
            best, gap = i, distance
        i += step
    return best


@numba.njit(cache=True, inline="always")
def _volume_level(state, side, position, book_levels, beyond):
    """Return (level, the position the history keeps) of a removal's volume position in the book now (an encoding
    with ``cancel_position = "volume"``: ``encoding.position_level`` on the lots of the side's first ``book_levels``
    non-empty levels, then ``encoding.volume_position`` of that level; level 0 when none). ``beyond`` > 0 (an
    encoding with ``cancel_position = "depth"``): the pseudo-depth of the side behind those levels, whose share of
    the total is a removal beyond them (kept as that share's middle)."""
    shown, total = np.int64(0), np.int64(0)
    for k in range(1, book_levels + 1):
        lots = E.queue_qty_at(state, side, k)
        if lots <= 0:
            break
        shown += 1
        total += lots
    shown_lots = total
    total += beyond
    outside = VOLUME_BEYOND if beyond == 0 else (2 * shown_lots + beyond) * VOLUME_GRID // (2 * total)
    if position >= VOLUME_GRID:
        return shown + 1, outside
    if position < 0 or (shown == 0 and beyond == 0):
        return np.int64(0), np.int64(0)
    cum = np.int64(0)
    for k in range(1, shown + 1):
        lots = E.queue_qty_at(state, side, k)
        if position * total < (cum + lots) * VOLUME_GRID:
            return k, (2 * cum + lots) * VOLUME_GRID // (2 * total)
        cum += lots
    return shown + 1, outside  # in the pseudo-depth's share (without one, not reached: position < VOLUME_GRID)


@numba.njit(cache=True, inline="always")
def _spread_kept(state, side, level, price, book_levels, beyond, scale, kept):
    """The position the history keeps for a removal at ``price`` (an encoding with ``cancel_position = "spread"``):
    ``encoding.spread_position`` of its ticks behind the last of the side's first ``book_levels`` non-empty levels
    when it lay beyond them (``level`` past them; those levels are the same before and after it), else ``kept``."""
    shown, depth, last = np.int64(0), np.int64(0), np.int64(0)
    for k in range(1, book_levels + 1):
        i = E._level_index(state, side, k)
        if i < 0:
            break
        shown += 1
        depth += state[2][E.BID_ROW if side == 1 else E.ASK_ROW, i, E.L_QTY]
        last = state[0][E.ORIGIN] + i
    if level <= shown:
        return kept
    ticks = max(side * (last - price), np.int64(1)) if shown > 0 else scale
    total = depth + beyond
    fraction = np.float64(ticks) / (np.float64(ticks) + np.float64(scale))
    raw = np.int64(np.floor(VOLUME_GRID * ((depth + beyond * fraction) / total)))
    low = (depth * VOLUME_GRID + total - 1) // total
    return min(max(raw, low), VOLUME_GRID - 1)


@numba.njit(cache=True, inline="always")
def _remove(state, rng, kind, side, size, level, target, book_levels):
    """Pick the order a CANCEL / DELETE removes; return (reason or 0, order id, price, qty).

    A CANCEL picks uniformly among the orders of its level that hold more than ``size``, a DELETE among those whose
    size is nearest ``size``."""
    grid = _level_grid(state, side, level, target, book_levels)
    if level < 1 or grid < 0:
        return R_NO_LEVEL, 0, 0, 0
    orders, head = state[1], state[2][E.BID_ROW if side == 1 else E.ASK_ROW, grid, E.L_HEAD]
    nearest, slot = np.int64(-1), head
    while slot >= 0:
        gap = abs(orders[slot, E.O_QTY] - size)
        if kind == T_DELETE and (nearest < 0 or gap < nearest):
            nearest = gap
        slot = orders[slot, E.O_NEXT]
    k, slot = 0, head
    while slot >= 0:
        if _candidate(orders[slot, E.O_QTY], kind, size, nearest):
            k += 1
        slot = orders[slot, E.O_NEXT]
    if k == 0:
        return R_NO_ORDER, 0, 0, 0
    pick, slot = rng.integers(0, k), head
    while True:
        if _candidate(orders[slot, E.O_QTY], kind, size, nearest):
            if pick == 0:
                return 0, orders[slot, E.O_ID], orders[slot, E.O_PRICE], orders[slot, E.O_QTY]
            pick -= 1
        slot = orders[slot, E.O_NEXT]


@numba.njit(cache=True, inline="always")
def _candidate(qty, kind, size, nearest):
    """Whether an order of ``qty`` lots can be the one a removal of ``size`` lots takes."""
    return abs(qty - size) == nearest if kind == T_DELETE else qty > size


@numba.njit(cache=True, inline="always")
def _market(state, out, side, share, ts, front):
    """Execute a market order for ``share`` (units of 1 / SHARE_ONE) of the best opposite level's lots (with
    ``front``: at most the lots of that level's front order, so one fill); return (reason or 0, fills buffer, the
    share of the lots it took as the encoding stores it: 1 for the whole queue, else the middle of their bin, and 1
    when ``front`` held it to the front order, else 0)."""
    best = E.best_ask(state) if side == 1 else E.best_bid(state)
    if best == NO_PRICE:
        return R_EMPTY_SIDE, out, 0, 0
    if share > SHARE_ONE:
        return R_TRADE_BEYOND_BEST, out, 0, 0
    queue = E.level_qty(state, -side, best)
    size = (share * queue + SHARE_ONE - 1) // SHARE_ONE  # ceil: 1 to `queue` lots for a share in (0, 1]
    held = 0
    if front:
        row = E.ASK_ROW if side == 1 else E.BID_ROW
        head = state[2][row, best - state[0][E.ORIGIN], E.L_HEAD]
        if size > state[1][head, E.O_QTY]:
            size, held = state[1][head, E.O_QTY], 1
    out[1][0] = 0
    status = E.market(state, side, size, -1, ts, out)
    while status == E.FILL_CAPACITY:
        out = E.grow_fills(out, 2 * out[0].shape[0])
        status = E.market(state, side, size, -1, ts, out)
    return 0, out, SHARE_ONE if size == queue else (2 * size - 1) * SHARE_ONE // (2 * queue), held


@numba.njit(cache=True, inline="always")
def _share_ticks(code, spread):
    """generators.encoding.share_ticks of one ADD's code (add_price "share") before a spread (ticks)."""
    spread = max(spread, 1)
    if code < 0:
        return code
    if code >= ADD_SHARE_ONE:
        return spread + code - ADD_SHARE_ONE
    return min((2 * code * spread + ADD_SHARE_ONE) // (2 * ADD_SHARE_ONE), spread - 1)


@numba.njit(cache=True, inline="always")
def _share_code(ticks, spread):
    """generators.encoding.share_code of one ADD ``ticks`` inside its own best before a spread (ticks)."""
    spread = max(spread, 1)
    if ticks <= 0:
        return ticks
    if ticks >= spread:
        return ADD_SHARE_ONE + ticks - spread
    return (2 * ticks * ADD_SHARE_ONE + spread) // (2 * spread)


@numba.njit(cache=True, inline="always")
def _execute(p, row, rel, state, rng, out, t, ref, next_id, counts, ev, bk, n, book_levels, volume, beyond, position,
             signs, front):  # fmt: skip
    """Execute one checked message of path ``p`` at time ``t`` (``rel``: its price field, an ADD's share of the
    spread already read as ticks); return (reason or 0, engine status, price, applied size (a TRADE: its share of
    the queue), state, out, ev, bk, rows written); a removal writes the level field the history keeps into
    ``position[0]``."""
    kind, side, size, level = row[1], row[2], row[4], row[5]
    message = counts[p, C_APPLIED]
    direction = -1 if signs[2, kind] == 1 and rel <= 0 else signs[1, kind]  # "touch": <= 0 from the own best
    price = ref - side * direction * rel
    ev, bk = _grow(ev, bk, n + 1)
    if kind == T_ADD:
        opposite = E.best_ask(state) if side == 1 else E.best_bid(state)
        if opposite != NO_PRICE and side * (price - opposite) >= 0:
            return R_CROSSING_ADD, E.OK, 0, 0, state, out, ev, bk, n
        state, status = _rest(state, side, price, size, next_id[p], t, out)
        if status != E.OK:
            return 0, status, 0, 0, state, out, ev, bk, n
        _write(state, ev, bk, n, p, t, K_ADD, side, price, size, next_id[p], message)
        next_id[p] += 1
        return 0, E.OK, price, size, state, out, ev, bk, n + 1
    if kind == T_CANCEL or kind == T_DELETE:
        if volume:
            level, kept = _volume_level(state, side, level, book_levels, beyond[0] if side == 1 else beyond[1])
            position[0] = kept
        else:
            position[0] = min(level, book_levels + 1)
        reason, order_id, price, qty = _remove(state, rng, kind, side, size, level, price, book_levels)
        if reason != 0:
            return reason, E.OK, 0, 0, state, out, ev, bk, n
        scale = beyond[2] if side == 1 else beyond[3]
        if volume and scale > 0:  # "spread": a removal beyond the levels keeps its place in the pseudo-depth's share
            position[0] = _spread_kept(state, side, level, price, book_levels, beyond[0] if side == 1 else beyond[1],
                                       scale, position[0])  # fmt: skip
        if kind == T_DELETE:
            E.delete(state, order_id, out)
            _write(state, ev, bk, n, p, t, K_DELETE, side, price, qty, order_id, message)
            return 0, E.OK, price, qty, state, out, ev, bk, n + 1
        E.cancel(state, order_id, size, out)
        _write(state, ev, bk, n, p, t, K_CANCEL, side, price, size, order_id, message)
        return 0, E.OK, price, size, state, out, ev, bk, n + 1
    if kind == T_TRADE:
        reason, out, share, held = _market(state, out, side, size, t, front)
        if reason != 0:
            return reason, E.OK, 0, 0, state, out, ev, bk, n
        counts[p, C_FRONT_HELD] += held
        fills, n_fills = out[0], out[1][0]
        ev, bk = _grow(ev, bk, n + n_fills)
        for f in range(n_fills):
            _write(state, ev, bk, n + f, p, t, K_TRADE, side, fills[f, E.F_PRICE], fills[f, E.F_QTY],
                   fills[f, E.F_PASSIVE], message)  # fmt: skip
        counts[p, C_UNFILLED] += state[0][E.LAST_UNFILLED]
        return 0, E.OK, fills[0, E.F_PRICE], share, state, out, ev, bk, n + n_fills
    if (E.best_ask(state) if side == 1 else E.best_bid(state)) == NO_PRICE:
        return R_EMPTY_SIDE, E.OK, 0, 0, state, out, ev, bk, n
    _write(state, ev, bk, n, p, t, K_HIDDEN, side, price, size, -1, message)
    return 0, E.OK, price, size, state, out, ev, bk, n + 1


@numba.njit(cache=True, inline="always")
def _thin(p, state, rng, out, t, dt, rate, first_id, counts, ev, bk, n):
    """Thin the orders resting behind their side's best over ``dt`` ns (``rate`` per order per second): every
    order of the flow (id >= ``first_id``) at a level behind the best, bids then asks, each level from the best
    outwards, each queue from its head, is deleted when ``rng.random()`` < 1 - exp(-rate dt), recorded as a DELETE
    at ``t`` with message :data:`MESSAGE_THINNED`; return (ev, bk, the rows written so far)."""
    prob = 1.0 - np.exp(-rate * (dt * 1e-9))  # the caller thins only a positive gap at a positive rate
    meta, orders, levels = state[0], state[1], state[2]
    for side in (1, -1):
        best = E.best_bid(state) if side == 1 else E.best_ask(state)
        if best == NO_PRICE:
            continue
        row, step = (E.BID_ROW, -1) if side == 1 else (E.ASK_ROW, 1)
        remaining = (meta[E.N_BID] if side == 1 else meta[E.N_ASK]) - 1  # non-empty levels behind the best
        i = best - meta[E.ORIGIN] + step
        while remaining > 0:
            if levels[row, i, E.L_COUNT] > 0:
                remaining -= 1
                slot = levels[row, i, E.L_HEAD]
                while slot >= 0:
                    following = orders[slot, E.O_NEXT]
                    order_id = orders[slot, E.O_ID]
                    if order_id >= first_id and rng.random() < prob:
                        price, qty = orders[slot, E.O_PRICE], orders[slot, E.O_QTY]
                        E.delete(state, order_id, out)
                        ev, bk = _grow(ev, bk, n + 1)
                        _write(state, ev, bk, n, p, t, K_DELETE, side, price, qty, order_id, MESSAGE_THINNED)
                        n += 1
                        counts[p, C_THINNED] += 1
                    slot = following
            i += step
    return ev, bk, n


@numba.njit(cache=True, inline="always")
def _push(p, row, price, size, ref, state, paths, table_win, book_win, bk_row, position, signs):
    """Record an applied message: the table and book windows, the time, the count and the last quoted bests."""
    ts, last, counts, seen = paths[0], paths[1], paths[3], paths[4]
    kind, side = row[1], row[2]
    slot = seen[p] % table_win.shape[1]
    table_win[p, slot, 0], table_win[p, slot, 1], table_win[p, slot, 2] = row[0], kind, side
    rel = (ref - price) * side * signs[1, kind]
    if signs[2, kind] == 1:  # "touch": the value is the ticks inside the opposite best, or minus those behind its own
        rel = last[p, 1] - price if side == 1 else price - last[p, 0]
        spread = last[p, 1] - last[p, 0]
        rel = spread - rel if rel >= spread else rel
    elif signs[2, kind] == 2:  # "share": the ticks inside the own best as a share of the spread before the message
        rel = _share_code(rel, last[p, 1] - last[p, 0])
    table_win[p, slot, 3] = rel
    table_win[p, slot, 4] = size
    table_win[p, slot, 5] = position if kind == T_CANCEL or kind == T_DELETE else 0
    row_slot = seen[p] % book_win.shape[1]
    for j in range(4):
        for k in range(book_win.shape[3]):
            book_win[p, row_slot, j, k] = bk_row[j, k]
    seen[p] += 1
    ts[p] += row[0]
    counts[p, C_APPLIED] += 1
    bid, ask = E.best_bid(state), E.best_ask(state)
    if bid != NO_PRICE:
        last[p, 0] = bid
    if ask != NO_PRICE:
        last[p, 1] = ask


@numba.njit(cache=True, inline="always")
def _apply(p, row, state, rng, out, paths, windows, end_ns, ev, bk, n, book_levels, volume, beyond, position, signs,
           front, thin_rate):  # fmt: skip
    """Apply one generated message of path ``p``; return (outcome, engine status, state, out, ev, bk, n): outcome 0
    applied, a rejection column of ``counts``, or -1 when it lies past ``end_ns`` (the path is then done)."""
    ts, last, next_id, counts, done = paths[0], paths[1], paths[2], paths[3], paths[5]
    dt, kind, side, size = row[0], row[1], row[2], row[4]
    if dt < 0 or size < 1 or (side != 1 and side != -1):
        return R_BAD_VALUE, E.OK, state, out, ev, bk, n
    if ts[p] + dt > end_ns:
        done[p] = True
        return -1, E.OK, state, out, ev, bk, n
    if last[p, 0] == NO_PRICE or last[p, 1] == NO_PRICE:
        return R_EMPTY_SIDE, E.OK, state, out, ev, bk, n
    clock = paths[10]  # the time thinning has covered: a rejected message's gap is not thinned twice
    if thin_rate > 0.0 and ts[p] + dt > clock[p]:
        ev, bk, n = _thin(p, state, rng, out, ts[p], ts[p] + dt - clock[p], thin_rate, paths[9][p], counts, ev, bk, n)
        clock[p] = ts[p] + dt
    ref = last[p, 0] if side * signs[0, kind] == 1 else last[p, 1]
    if signs[2, kind] == 1 and row[3] <= 0:  # "touch": a value <= 0 is measured from the own best
        ref = last[p, 0] if side == 1 else last[p, 1]
    rel = row[3]
    if signs[2, kind] == 2:  # "share": the code read against the spread of the book it meets (the last quotes)
        rel = _share_ticks(rel, last[p, 1] - last[p, 0])
    reason, status, price, size, state, out, ev, bk, m = _execute(
        p,
        row,
        rel,
        state,
        rng,
        out,
        ts[p] + dt,
        ref,
        next_id,
        counts,
        ev,
        bk,
        n,
        book_levels,
        volume,
        beyond,
        position,
        signs,
        front,
    )
    if reason == 0 and status == E.OK:
        _push(p, row, price, size, ref, state, paths, windows[0], windows[1], bk[m - 1], position[0], signs)
    return reason, status, state, out, ev, bk, m


@numba.njit(cache=True)
def apply_blocks(
    blocks,
    active,
    engines,
    rngs,
    out,
    paths,
    windows,
    end_ns,
    final,
    stop_when_stuck,
    max_idle,
    guard_messages,
    guard_ns,
    ev,
    bk,
    book_levels,
    volume,
    beyond,
    signs,
    front,
    thin_rate,
):
    """Apply one generated block (int64 ``(len(active), block, 6)``) to each active path, in path order.

    Parameters
    ----------
    blocks
        The decoded messages ``(dt_ns, type, side, price_rel_ticks, size_lots, level)``, one block per active path.
    active
        Path indices (increasing) the blocks belong to.
    engines, rngs
        Typed lists, per path: the engine state (replaced when it grows) and the generator of the order picks.
    out
        The engine's fills buffer (shared; returned, grown when a market order needs more rows).
    paths
        ``(ts, last, next_id, counts, seen, done, idle, interval_start, interval_count, first_id, thin_clock)``
        arrays indexed by path (see :mod:`generators.rollout_fast`; then the rate guard's interval, its start (ns)
        and the messages applied in it, the id of the path's first order placed by the flow, after its initial
        orders, and the time (ns) up to which its book has been thinned).
    windows
        ``(table_win (paths, W, 6), book_win (paths, W + 1, 4, 10))`` ring buffers, slot ``seen % size`` next.
    end_ns, final, stop_when_stuck, max_idle
        The horizon of this piece, whether it is the path's end, what to do after ``max_idle`` idle blocks.
    guard_messages, guard_ns
        The rate guard (:class:`generators.rollout.RateGuard`): a path on which more than ``guard_messages``
        messages apply within one ``guard_ns``-long interval of its clock is ended (``runaway``; the rest of its
        block discarded); ``guard_messages`` 0: no guard.
    ev, bk
        Record buffers (returned, grown when short): events ``(rows, EV_WIDTH)`` and the book after each.
    book_levels
        The encoding's ``book_levels``: a removal at a higher level takes the level beyond them nearest its price.
    volume
        The encoding's ``cancel_position`` is ``"volume"``: a removal's level field is its volume position, mapped to
        the level whose share of the first ``book_levels`` levels' lots holds it in the book it meets (also with
        ``"depth"``).
    beyond
        int64 ``(2,)``: the pseudo-depth (lots, bid then ask) behind those levels of an encoding with
        ``cancel_position = "depth"`` (its ``beyond_lots``); 0, 0 otherwise.
    signs
        int64 ``(3, 5)``: :func:`generators.encoding.price_signs` of the encoding's ``add_price`` (per message type,
        the sign naming the best its price is from, the direction sign, and 1 where a value <= 0 is from the own
        best, 2 where a value >= 0 is a share of the spread, :func:`generators.encoding.share_ticks`).
    front
        ``trade_fill`` is ``"front"``: a TRADE executes against the front order of the best opposite level only (its
        lots at most that order's; one fill), counted in ``C_FRONT_HELD`` when that held it below its share.
    thin_rate
        Per order per second: before a message at time ``t`` applies (past the horizon and empty-side checks),
        each order of the flow resting behind its side's best is deleted with probability 1 - exp(-thin_rate g),
        ``g`` the time from ``thin_clock`` (the latest such ``t`` so far) to ``t``, which then becomes
        ``thin_clock`` (:func:`_thin`; counted in ``C_THINNED``); 0: no thinning.

    Returns
    -------
    tuple
        ``(out, ev, bk, rows written, outcome, path, engine status)``: outcome ``STATUS_OK``, ``STATUS_STUCK`` (that
        path idled ``max_idle`` blocks and ``stop_when_stuck`` is False) or ``STATUS_ENGINE`` (the engine refused an
        ADD with that status); the paths after the failing one are left as they were.
    """
    ts, counts, done, idle, interval_start, interval_count = paths[0], paths[3], paths[5], paths[6], paths[7], paths[8]
    n, width = np.int64(0), blocks.shape[1]
    position = np.zeros(1, np.int64)
    for a in range(active.shape[0]):
        p = active[a]
        state, rng = engines[p], rngs[p]
        counts[p, C_CHAINS] += 1
        before = counts[p, C_APPLIED]
        for index in range(width):
            outcome, status, state, out, ev, bk, n = _apply(p, blocks[a, index], state, rng, out, paths, windows,
                                                            end_ns, ev, bk, n, book_levels, volume, beyond,
                                                            position, signs, front, thin_rate)  # fmt: skip
            if status != E.OK:
                engines[p] = state
                return out, ev, bk, n, STATUS_ENGINE, p, status
            if done[p]:
                if not final:
                    counts[p, C_DISCARDED] += width - index
                break
            if outcome > 0:
                counts[p, outcome] += 1
                counts[p, C_DISCARDED] += width - index - 1
                break
            if guard_messages > 0:  # the message applied: count it in the guard's interval
                if ts[p] - interval_start[p] >= guard_ns:
                    interval_start[p] += (ts[p] - interval_start[p]) // guard_ns * guard_ns
                    interval_count[p] = 0
                interval_count[p] += 1
                if interval_count[p] > guard_messages:
                    done[p], counts[p, C_RUNAWAY] = True, 1
                    counts[p, C_DISCARDED] += width - index - 1
                    break
        engines[p] = state
        idle[p] = 0 if counts[p, C_APPLIED] > before else idle[p] + 1
        if idle[p] >= max_idle and stop_when_stuck:
            done[p], counts[p, C_STUCK] = True, 1
        elif idle[p] >= max_idle:
            return out, ev, bk, n, STATUS_STUCK, p, E.OK
    return out, ev, bk, n, STATUS_OK, -1, E.OK


@numba.njit(cache=True, inline="always")
def _carried_mid(top_bid, top_bid_qty, top_ask, top_ask_qty, at, first):
    """The mid (ticks) of the last book row at or before ``at`` quoted on both sides, else of the ``first`` quoted
    row, else 0 (``encoding.mid_ticks``); the rows are given oldest first."""
    for i in range(at, -1, -1):
        if top_bid_qty[i] > 0 and top_ask_qty[i] > 0:
            return (top_bid[i] + top_ask[i]) / 2.0
    if first < 0:
        return 0.0
    return (top_bid[first] + top_ask[first]) / 2.0


@numba.njit(cache=True)
def gather_inputs(vectors, tables, books, seen, active, flow_window, short_window, history_out, raw_out):
    """Write the active paths' ordered message vectors into ``history_out`` (float32 ``(active, history, width)``)
    and the raw book state of their newest book into ``raw_out`` (float64 ``(active, 25)``: bid and ask depth of
    levels 1-10 (lots), spread (ticks, 0 unless both sides are quoted), the both-quoted flag, the mean order sign
    of the last ``flow_window`` messages, the mid changes (ticks) over the last ``flow_window`` and
    ``short_window`` books; with 18 more columns (an encoding with ``level_prices``), the ticks of levels 2-10 from
    their side's best, bid then ask, 0 where the level or the best is empty); the logarithms are left to numpy, as
    in ``encoding.book_features``."""
    history, window = vectors.shape[1], tables.shape[1]
    rows = window + 1
    top = np.empty((4, rows), dtype=np.int64)
    for a in range(active.shape[0]):
        p, s = active[a], seen[active[a]]
        for i in range(history):
            slot = (s + i) % history
            for j in range(vectors.shape[2]):
                history_out[a, i, j] = vectors[p, slot, j]
        signs = 0
        for i in range(window - flow_window, window):
            slot = (s + i) % window
            signs += tables[p, slot, 2] * _FLOW_SIGN[tables[p, slot, 1]]
        first = -1
        for i in range(rows):
            slot = (s + i) % rows
            for j in range(4):
                top[j, i] = books[p, slot, j, 0]
            if first < 0 and top[1, i] > 0 and top[3, i] > 0:
                first = i
        newest = (s + window) % rows
        depth = books.shape[3]
        for k in range(depth):
            raw_out[a, k] = books[p, newest, 1, k]
            raw_out[a, depth + k] = books[p, newest, 3, k]
        quoted = books[p, newest, 1, 0] > 0 and books[p, newest, 3, 0] > 0
        spread = books[p, newest, 2, 0] - books[p, newest, 0, 0] if quoted else 0
        raw_out[a, 2 * depth] = max(spread, 0)
        raw_out[a, 2 * depth + 1] = 1.0 if quoted else 0.0
        raw_out[a, 2 * depth + 2] = signs / flow_window
        now = _carried_mid(top[0], top[1], top[2], top[3], rows - 1, first)
        for column, lag in ((3, flow_window), (4, short_window)):
            then = _carried_mid(top[0], top[1], top[2], top[3], max(rows - 1 - lag, 0), first)
            raw_out[a, 2 * depth + column] = now - then
        if raw_out.shape[1] > 2 * depth + 5:  # the level positions
            for side, offset, direction in ((0, 2 * depth + 5, 1), (2, 3 * depth + 4, -1)):
                best = books[p, newest, side, 0]
                for k in range(1, depth):
                    present = books[p, newest, side + 1, k] > 0 and books[p, newest, side + 1, 0] > 0
                    ticks = max(direction * (best - books[p, newest, side, k]), 0)
                    raw_out[a, offset + k - 1] = ticks if present else 0
