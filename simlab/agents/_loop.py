"""The event loop of the agent market (numba; kernels trust their input): agents' wake-ups and rules, the per-class
paths, buffer room, and :func:`run`. Layouts and the exchange's operations are in :mod:`simlab.agents._kernel`, the
stress rules in :mod:`simlab.agents._stress`."""

from __future__ import annotations

import math

import numba
import numpy as np

from simlab.agents import _kernel as K
from simlab.agents import _rules as R
from simlab.agents import _stress as S
from simlab.book import _engine as eng
from simlab.book import _sim


@numba.njit(cache=True, inline="always")
def _wait(gen, mean_ns):
    return np.int64(np.rint(gen.standard_exponential() * mean_ns))


@numba.njit(cache=True, inline="always")
def _later(clock, ip, t, wait):
    """``t`` plus an agent's wait between wake-ups (ns): calendar ns, or with the market's activity on (``clock``
    with cells) business ns (:func:`simlab.agents._rules.calendar_ns`; ours)."""
    if clock.shape[1] == 0:
        return t + wait
    return R.calendar_ns(clock, ip[K.IP_OPEN], ip[K.IP_ACT_STEP], t, float(wait))


@numba.njit(cache=True)
def _wake(heap, ctr, agents, gens, ip, fp, clock, t, agent):
    """An agent wakes: it schedules its next wake-up (value agents), cancels (value, makers) and looks (all)."""
    cls, lat = agents[agent, K.A_CLASS], agents[agent, K.A_LATENCY]
    ctr[K.C_WAKES + cls] += 1
    if cls == K.VALUE:  # ABIDES ValueAgent.wakeup: next wake-up from now, cancel_all_orders, then the spread query
        K.push(heap, ctr, _later(clock, ip, t, _wait(gens[2], fp[K.FP_VALUE_WAIT])), K.WAKE, agent, 0, 0, 0)
        K.push(heap, ctr, t + lat, K.CANCEL_ALL, agent, 0, 0, 0)
        K.push(heap, ctr, t + lat, K.DECIDE, agent, 0, 0, 0)
    elif cls == K.MAKER:  # ABIDES AdaptiveMarketMakerAgent.wakeup: cancel_all_orders, delay, then the queries
        if fp[K.FP_MM_JITTER] > 0:
            _cancel_wave(heap, ctr, gens, ip, fp, t + lat, agent)
        else:
            K.push(heap, ctr, t + lat, K.CANCEL_ALL, agent, 0, 0, 0)
        K.push(heap, ctr, t + lat + ip[K.IP_MM_DELAY], K.DECIDE, agent, 0, 0, 0)
    elif cls == K.EXECUTION:  # a slice: cancel the resting child, look, and wake at the next slice before the end
        if t + ip[K.IP_EXEC_INTERVAL] < ip[K.IP_EXEC_END]:
            K.push(heap, ctr, t + ip[K.IP_EXEC_INTERVAL], K.WAKE, agent, 0, 0, 0)
        K.push(heap, ctr, t + lat, K.CANCEL_ALL, agent, 0, 0, 0)
        K.push(heap, ctr, t + lat, K.DECIDE, agent, 0, 0, 0)
    else:
        K.push(heap, ctr, t + lat, K.DECIDE, agent, 0, 0, 0)


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
def _window_size_volume(ev, ctr, agents, t, window, rule):
    """Lots traded in ``(t - window, t]`` that a maker's size counts under ``rule`` (ours, ``IP_MM_SIZE_VOLUME``):
    ``K.MM_VOLUME_OTHERS``, the trades in which no market maker was a party (aggressor or resting side);
    ``K.MM_VOLUME_NOT_BETWEEN``, every trade but those between two market makers. (``K.MM_VOLUME_ALL``, ABIDES'
    every trade, is :func:`_window_volume`'s sum.)"""
    total = 0
    row = ctr[_sim.C_EVENTS] - 1
    while row >= 0 and ev[row, _sim.EV_TS] > t - window:
        trade = ev[row, _sim.EV_KIND] == _sim.TRADE
        if trade and _counts(agents, ev[row, K.EV_AGENT], ev[row, K.EV_PASSIVE_AGENT], rule):
            total += ev[row, _sim.EV_QTY]
        row -= 1
    return total


@numba.njit(cache=True)
def _counts(agents, a, p, rule):
    """True when a trade between aggressor ``a`` and resting ``p`` (agent rows; < 0: none) counts toward a maker's
    size under ``rule`` (``IP_MM_SIZE_VOLUME``; see :func:`_window_size_volume`)."""
    maker_a = a >= 0 and agents[a, K.A_CLASS] == K.MAKER
    maker_p = p >= 0 and agents[p, K.A_CLASS] == K.MAKER
    if rule == K.MM_VOLUME_OTHERS:
        return not (maker_a or maker_p)
    if rule == K.MM_VOLUME_NOT_BETWEEN:
        return not (maker_a and maker_p)
    return True


@numba.njit(cache=True)
def _decayed_volume(ev, ctr, agents, own, t, open_ns, tau_ns, rule):
    """Ours (``volume_kernel = "exponential"``): the lots traded by buyers, by sellers and those a maker's size counts
    under ``rule``, each trade so far weighed by ``exp(-(t - its time) / tau_ns)``. The sums live in the maker's state
    ``own`` (``M_VOL_*``, as of ``M_VOL_T``, ns after ``open_ns``): they are decayed over the time since and the
    event rows recorded since ``M_VOL_ROW`` are added, so each look costs the rows since the last one, whatever the
    kernel's memory."""
    now = np.float64(t - open_ns)
    decay = math.exp(-(now - own[R.M_VOL_T]) / tau_ns)
    buys, sells, counted = own[R.M_VOL_BUY] * decay, own[R.M_VOL_SELL] * decay, own[R.M_VOL_COUNTED] * decay
    end = ctr[_sim.C_EVENTS]
    for row in range(np.int64(own[R.M_VOL_ROW]), end):
        if ev[row, _sim.EV_KIND] == _sim.TRADE:
            lots = ev[row, _sim.EV_QTY] * math.exp(-(t - ev[row, _sim.EV_TS]) / tau_ns)
            if ev[row, _sim.EV_SIDE] == 1:
                buys += lots
            else:
                sells += lots
            if _counts(agents, ev[row, K.EV_AGENT], ev[row, K.EV_PASSIVE_AGENT], rule):
                counted += lots
    own[R.M_VOL_BUY], own[R.M_VOL_SELL], own[R.M_VOL_COUNTED] = buys, sells, counted
    own[R.M_VOL_T], own[R.M_VOL_ROW] = now, np.float64(end)
    return buys, sells, counted


@numba.njit(cache=True)
def _send(heap, ctr, agents, t, agent, side, price, qty):
    """Send one limit order, arriving two latencies later (the book's answer back, then the order)."""
    cls = agents[agent, K.A_CLASS]
    if qty <= 0:
        ctr[K.C_SIZE_ZERO + cls] += 1
        return
    ctr[K.C_ORDERS + cls] += 1
    K.push(heap, ctr, t + 2 * agents[agent, K.A_LATENCY], K.LIMIT, agent, side, price, qty)


@numba.njit(cache=True)
def _send_after(heap, ctr, agents, t, agent, side, price, qty, delay, kind):
    """Send one limit order of a market maker (message ``kind``: ``K.LIMIT``, or ``K.TOUCH`` for a best order it will
    keep; -1: its draws are made but it is not sent, as its kept order stands), arriving two latencies and ``delay``
    ns later (none when its size is 0: a withdrawal shock of size factor 0)."""
    cls = agents[agent, K.A_CLASS]
    if kind < 0:
        return
    if qty <= 0:
        ctr[K.C_SIZE_ZERO + cls] += 1
        return
    ctr[K.C_ORDERS + cls] += 1
    K.push(heap, ctr, t + 2 * agents[agent, K.A_LATENCY] + delay, kind, agent, side, price, qty)


@numba.njit(cache=True, inline="always")
def _jitter(gen, mean_ns):
    """A maker's per-message delay: an exponential of mean ``mean_ns`` (one draw), or 0 with no draw when off
    (ours; the source is in :func:`_cancel_wave`)."""
    return _wait(gen, mean_ns) if mean_ns > 0 else np.int64(0)


@numba.njit(cache=True, inline="always")
def _ladder_orders(ip):
    """Orders of one side of a maker's ladder: its levels, the best one as ``IP_MM_TOUCH`` orders when > 1."""
    return ip[K.IP_MM_LEVELS] + max(ip[K.IP_MM_TOUCH], 1) - 1


@numba.njit(cache=True)
def _touch_orders(heap, ctr, agents, gens, jitter, t, agent, side, price, size, parts, mparams, kind):
    """Post a maker's best level as ``parts`` orders (sizes ``size // parts``, the first ``size % parts`` one lot
    more, or with the touch size law each its own :func:`simlab.agents._rules.touch_size`, drawn before its jitter;
    a part of 0 lots is not sent), each with its own jitter draw, as messages ``kind`` (:func:`_send_after`; ours,
    the sources are on :class:`simlab.agents.config.MarketMakers`)."""
    for j in range(parts):
        qty = size // parts + (1 if j < size % parts else 0)
        if mparams[R.MP_TOUCH_SIZED] > 0:
            qty = R.touch_size(gens[3], mparams, side)
        _send_after(heap, ctr, agents, t, agent, side, price, qty, _jitter(gens[3], jitter), kind)


@numba.njit(cache=True, inline="always")
def _quote_offsets(gen, most):
    """The ticks a maker's bid and ask sides are moved away from the mid at one ladder: two uniform integers in
    ``[0, most]`` (two ``random()`` draws, the bid's first; ours, the source is on
    :class:`simlab.agents.config.MarketMakers`)."""
    away_bid = min(np.int64(gen.random() * (most + 1)), most)
    return away_bid, min(np.int64(gen.random() * (most + 1)), most)


@numba.njit(cache=True)
def _cancel_wave(heap, ctr, gens, ip, fp, at, agent):
    """A maker's cancel of its old ladder as one message per order (``2 levels``), each arriving at ``at`` plus an
    exponential jitter (one draw each, from the maker stream), each deleting its oldest order older than this wake;
    the message that arrives last (the first of the longest delay) sweeps every such order left, so nothing older
    than one wake-up stays. Ours, replacing ABIDES' ``cancel_all_orders`` burst when ``FP_MM_JITTER`` > 0: linked
    messages of one trader arrive as runs spread over milliseconds (Hasbrouck and Saar 2013, "Low-latency
    trading", J. Financial Markets 16)."""
    delays = np.empty(2 * _ladder_orders(ip), np.int64)
    for j in range(delays.shape[0]):
        delays[j] = _jitter(gens[3], fp[K.FP_MM_JITTER])
    first_kept, last = ctr[_sim.C_NEXT_ID], np.argmax(delays)
    for j in range(delays.shape[0]):
        K.push(heap, ctr, at + delays[j], K.CANCEL_OLD, agent, 0, first_kept, 1 if j == last else 0)


@numba.njit(cache=True)
def _noise_clock(heap, ctr, agents, gens, ip, fp, nstate, clock, t):
    """An event of the noise clock: one noise agent drawn uniformly wakes (it looks one latency later) and the next
    event is queued (:func:`simlab.agents._rules.hawkes_wait`; with the market's activity on, ``clock`` with cells,
    that wait is business time: :func:`simlab.agents._rules.calendar_ns`). Draws (noise stream): ``random()`` (the
    agent), then the clock's two."""
    n_noise = nstate.shape[0]
    agent = min(np.int64(gens[1].random() * n_noise), n_noise - 1)  # noise agents are ids 0 .. count - 1
    wait, fp[K.FP_NOISE_EXCESS] = R.hawkes_wait(
        gens[1], fp[K.FP_NOISE_EXCESS], fp[K.FP_NOISE_BASE], fp[K.FP_NOISE_JUMP], fp[K.FP_NOISE_DECAY]
    )
    if clock.shape[1] > 0:
        at = R.calendar_ns(clock, ip[K.IP_OPEN], ip[K.IP_ACT_STEP], t, wait)
    else:
        at = t + np.int64(np.rint(wait))
    K.push(heap, ctr, at, K.NOISE_CLOCK, agents.shape[0] - 1, 0, 0, 0)
    ctr[K.C_WAKES + K.NOISE] += 1
    K.push(heap, ctr, t + agents[agent, K.A_LATENCY], K.DECIDE, agent, 0, 0, 0)


@numba.njit(cache=True)
def _metaorder_side(gen, state, coin_buy, fp, ip):
    """The side of a noise agent's next child order under order splitting: a new metaorder when the last is done
    (its side the look's coin, its length :func:`simlab.agents._rules.metaorder_length`), then one child less.
    Draws: one ``random()`` (the length), at every look, used or not."""
    w = gen.random()
    if state[R.N_LEFT] <= 0:
        state[R.N_SIDE] = 1 if coin_buy else -1
        state[R.N_LEFT] = R.metaorder_length(w, fp[K.FP_SPLIT_ALPHA], ip[K.IP_SPLIT_MAX])
    state[R.N_LEFT] -= 1
    return state[R.N_SIDE] == 1


@numba.njit(cache=True)
def _look_fundamental(gens, fvals, ftimes, fparams, ctr, fund_ts, fund_val, fund_shocks, t, clock, ip):
    """The fundamental at ``t`` (recorded when it moved on; in business time with the market's activity on)."""
    if t > ftimes[R.T_LAST]:
        shocks = R.advance_fundamental(gens[0], fvals, ftimes, fparams, t, clock, ip[K.IP_OPEN], ip[K.IP_ACT_STEP])
        row = ctr[K.C_FUND]
        fund_ts[row], fund_val[row], fund_shocks[row] = t, fvals[R.F_VALUE], shocks
        ctr[K.C_FUND] = row + 1
        ctr[K.C_SHOCKS] += shocks
    return fvals[R.F_VALUE]


@numba.njit(cache=True)
def _news(gens, params, ctr, ip, fp, t):
    """A news shock: the fundamental at ``t`` jumps by ``fp[K.FP_NEWS_JUMP]`` of its value (recorded at ``t``)."""
    fvals, ftimes, fparams = params[7], params[8], params[9]
    fund_ts, fund_val, fund_shocks = params[11], params[12], params[13]
    shocks = R.advance_fundamental(gens[0], fvals, ftimes, fparams, t, params[21], ip[K.IP_OPEN], ip[K.IP_ACT_STEP])
    fvals[R.F_NEWS_BEFORE] = fvals[R.F_VALUE]
    fvals[R.F_VALUE] = fvals[R.F_VALUE] * (1.0 + fp[K.FP_NEWS_JUMP])
    fvals[R.F_NEWS_AFTER] = fvals[R.F_VALUE]
    row = ctr[K.C_FUND]
    fund_ts[row], fund_val[row], fund_shocks[row] = t, fvals[R.F_VALUE], shocks
    ctr[K.C_FUND] = row + 1
    ctr[K.C_SHOCKS] += shocks


@numba.njit(cache=True)
def _noise(heap, ctr, agents, gens, ip, fp, nstate, cumulative, t, agent, bid, ask):
    """A noise agent's look (ABIDES NoiseAgent.placeOrder): a coin, a size, a limit order at the other side's touch."""
    k, lat = agents[agent, K.A_INDEX], agents[agent, K.A_LATENCY]
    has_bid, has_ask = bid != eng.NO_PRICE, ask != eng.NO_PRICE
    buy = gens[1].random() < 0.5
    if fp[K.FP_SPLIT_ALPHA] > 0:  # ours: a child order of the agent's metaorder (Lillo, Mike and Farmer 2005)
        buy = _metaorder_side(gens[1], nstate[k], buy, fp, ip)
    if fp[K.FP_NOISE_SIZED] > 0:  # ours: the class's own size law (two draws, as order_size)
        size = R.mixture_size(gens[1], fp[K.FP_NOISE_CDF :], fp[K.FP_NOISE_LOG_MEAN], fp[K.FP_NOISE_LOG_SD])
    else:
        size = R.order_size(gens[1], cumulative)
    walk = np.int64(np.rint(fp[K.FP_NOISE_WALK]))  # ours: the limit lies `walk` ticks through the touch (0: ABIDES)
    if nstate.shape[0] > 0:  # ours, with the noise clock: immediate or cancel at (or through) the touch seen
        if size > 0 and (has_ask if buy else has_bid):
            ctr[K.C_ORDERS + K.NOISE] += 1
            K.push(heap, ctr, t + 2 * lat, K.IOC, agent, 1 if buy else -1, ask + walk if buy else bid - walk, size)
        elif size <= 0:
            ctr[K.C_SIZE_ZERO + K.NOISE] += 1
    elif buy and has_ask:
        _send(heap, ctr, agents, t, agent, 1, ask + walk, size)
    elif not buy and has_bid:
        _send(heap, ctr, agents, t, agent, -1, bid - walk, size)


@numba.njit(cache=True)
def _value(heap, ctr, agents, gens, ip, fp, value, fund, cumulative, t, agent, bid, ask):
    """A value agent's look (ABIDES ValueAgent.placeOrder). ``value`` = (vstate, vprev, vparams), ``fund`` = (fvals,
    ftimes, fparams, fund_ts, fund_val, fund_shocks, clock)."""
    vstate, vprev, vparams = value
    fvals, ftimes, fparams, fund_ts, fund_val, fund_shocks, clock = fund
    k = agents[agent, K.A_INDEX]
    has_bid, has_ask = bid != eng.NO_PRICE, ask != eng.NO_PRICE
    r_t = _look_fundamental(gens, fvals, ftimes, fparams, ctr, fund_ts, fund_val, fund_shocks, t, clock, ip)
    flow = ctr[K.C_FLOW_OTHERS] if vparams[R.VP_FLOW_OTHERS] > 0 else ctr[K.C_FLOW]
    r_t += vparams[R.VP_FLOW] * flow  # ours: the flow read as news of the value (0: off)
    obs = np.rint(r_t + math.sqrt(vparams[R.VP_OBS_VAR]) * gens[2].standard_normal())
    R.value_update(vstate[k], vprev[k], t, obs, fp[K.FP_R_BAR], vparams)
    dt = t - vprev[k]
    vprev[k] = t
    forecast = R.value_forecast(vstate[k, R.V_ESTIMATE], t, ip[K.IP_CLOSE], fp[K.FP_R_BAR], vparams[R.VP_KAPPA])
    if vparams[R.VP_LATENT_DEPTH] > 0:  # the latent-liquidity rule (LLOB): its order left, if any
        premium = 0  # ours, latent_anchor = "price": a new draw is centred on the mid, not on the forecast
        if vparams[R.VP_LATENT_ANCHOR] > 0 and has_bid and has_ask:
            premium = (bid + ask) // 2 - forecast
        side, price, left = R.latent_order_at(gens[2], vstate[k], forecast, agents[agent, K.A_INV], dt, cumulative,
                                              vparams, premium)  # fmt: skip
        if left > 0:
            _send(heap, ctr, agents, t, agent, side, price, left)
    else:
        side, price = R.value_order(gens[2], forecast, bid, ask, has_bid and has_ask, vparams)
        size = R.order_size(gens[2], cumulative)  # ours: grown with the mispricing (off: the size drawn)
        _send(heap, ctr, agents, t, agent, side, price,
              R.mispricing_size(size, forecast, bid, ask, has_bid and has_ask, vparams))  # fmt: skip


@numba.njit(cache=True)
def _momentum(heap, ctr, agents, gens, ip, fp, mhist, mseen, cumulative, clock, t, agent, bid, ask):
    """A momentum agent's look (ABIDES MomentumAgent.place_orders); the size is drawn at every look, even unused, so
    the draws (and the next wake-up) do not depend on the book (CRN)."""
    k, lat = agents[agent, K.A_INDEX], agents[agent, K.A_LATENCY]
    size = R.order_size(gens[4], cumulative)
    if bid != eng.NO_PRICE and ask != eng.NO_PRICE:
        mhist[k, mseen[k] % mhist.shape[1]] = 0.5 * (bid + ask)
        mseen[k] += 1
        signal = R.momentum_signal(mhist[k], mseen[k], ip[K.IP_SHORT], ip[K.IP_LONG])
        if signal != 0:
            _send(heap, ctr, agents, t, agent, signal, ask if signal == 1 else bid, size)
    K.push(heap, ctr, _later(clock, ip, t + lat, _wait(gens[4], fp[K.FP_MOMENTUM_WAIT])), K.WAKE, agent, 0, 0, 0)


@numba.njit(cache=True)
def _decide(ev, heap, ctr, agents, ip, fp, params, t, agent, bid, ask):
    """The look of an execution agent, a leveraged trader or a stop-loss agent (the rare classes; the loop calls the
    others' rules itself, each with the arrays it needs: a call costs the reference counting of every array it
    takes, and ``params`` has 22)."""
    xstate, sstate, xsched = params[14], params[15], params[19]
    cls, k, lat = agents[agent, K.A_CLASS], agents[agent, K.A_INDEX], agents[agent, K.A_LATENCY]
    if cls == K.EXECUTION:
        _execution(ev, heap, ctr, agents, ip, fp, xstate[k], xsched, t, agent, bid, ask)
    elif cls == K.LEVERAGED:  # open the position with a market order
        side = ip[K.IP_LEV_SIDE] if ip[K.IP_LEV_SIDE] != 0 else (1 if k % 2 == 0 else -1)
        ctr[K.C_ORDERS + K.LEVERAGED] += 1
        K.push(heap, ctr, t + 2 * lat, K.MARKET, agent, side, 0, ip[K.IP_LEV_QTY])
    elif cls == K.STOP:  # arm the stop away from the mid (not armed while a side is empty)
        if bid != eng.NO_PRICE and ask != eng.NO_PRICE:
            sstate[k, K.S_STOP] = (bid + ask) // 2 + ip[K.IP_STOP_SIDE] * (
                ip[K.IP_STOP_FIRST] + k * ip[K.IP_STOP_SPACING]
            )
            sstate[k, K.S_ARMED] = 1


@numba.njit(cache=True)
def _keep_or_cancel(state, heap, ctr, agents, mstate, ip, t, agent, side, best, delay):
    """A maker's kept best order of ``side`` at its decision (ours, ``IP_MM_KEEP`` >= 0): -1 (post no new best order)
    when it still rests within ``IP_MM_KEEP`` ticks of the new ``best`` price; otherwise its cancel is sent, arriving
    two latencies and ``delay`` ns later, the side has no kept order until the new one rests, and ``K.TOUCH`` (post
    the new best order as the one to keep) is returned."""
    k, column = agents[agent, K.A_INDEX], R.M_KEEP_BID if side == 1 else R.M_KEEP_ASK
    kept = np.int64(mstate[k, column])
    slot = eng.order_slot(state, kept) if kept >= 0 else -1
    if slot >= 0 and abs(state[1][slot, eng.O_PRICE] - best) <= ip[K.IP_MM_KEEP]:
        return -1
    if slot >= 0:
        K.push(heap, ctr, t + 2 * agents[agent, K.A_LATENCY] + delay, K.CANCEL_ID, agent, side, kept, 0)
    mstate[k, column] = -1.0
    return K.TOUCH


@numba.njit(cache=True, inline="always")
def _kept(agents, ip, mstate, agent):
    """The ids of a maker's kept best orders (bid, ask; -1 none), or (-1, -1) for other agents or with the rule off."""
    if ip[K.IP_MM_KEEP] < 0 or agents[agent, K.A_CLASS] != K.MAKER:
        return np.int64(-1), np.int64(-1)
    k = agents[agent, K.A_INDEX]
    return np.int64(mstate[k, R.M_KEEP_BID]), np.int64(mstate[k, R.M_KEEP_ASK])


@numba.njit(cache=True)
def _maker(state, ev, heap, ctr, agents, gens, ip, fp, mstate, mparams, clock, t, agent, bid, ask, two_sided):
    """ABIDES AdaptiveMarketMakerAgent: smoothed spread, size from the last window's volume, the skewed ladder."""
    own = mstate[agents[agent, K.A_INDEX]]
    previous, sized = own[R.M_MID], mparams[R.MP_TOUCH_SIZED] > 0
    has_mid, mid = R.maker_observe(own, bid, ask, two_sided, mparams)
    if has_mid:  # (a flag, not a sign: a mid below 0 is quoted around as any other, as the twin does)
        rule = ip[K.IP_MM_SIZE_VOLUME]
        if ip[K.IP_MM_KERNEL] == 1:  # ours: every trade so far, weighed by its age
            buys, sells, counted = _decayed_volume(ev, ctr, agents, own, t, ip[K.IP_OPEN], ip[K.IP_MM_WINDOW], rule)
        else:  # ABIDES: the trades of the window, whole
            whole_buys, whole_sells = _window_volume(ev, ctr, t, ip[K.IP_MM_WINDOW])
            buys, sells, counted = np.float64(whole_buys), np.float64(whole_sells), 0.0
            if rule != K.MM_VOLUME_ALL:
                counted = np.float64(_window_size_volume(ev, ctr, agents, t, ip[K.IP_MM_WINDOW], rule))
        size, window = R.maker_size(buys, sells, mparams), own[R.M_SPREAD]
        if rule != K.MM_VOLUME_ALL:  # ours: the size from a part of the window's trades only
            size = R.maker_size(counted, 0.0, mparams)
        if ip[K.IP_WD_START] <= t < ip[K.IP_WD_END]:  # a withdrawal shock: forced, instead of the threshold rule
            ctr[K.C_FORCED] += 1
            cut = np.int64(math.floor(size * fp[K.FP_WD_SIZE]))
            size = max(np.int64(1), cut) if fp[K.FP_WD_SIZE] > 0 else cut
            window = window * fp[K.FP_WD_SPREAD]
        elif R.maker_withdraws(agents[agent, K.A_INV], mid, previous, mparams):
            ctr[K.C_WITHDRAWALS] += 1
            size = max(np.int64(1), np.int64(math.floor(size * mparams[R.MP_WITHDRAW_SIZE])))
            window = window * mparams[R.MP_WITHDRAW_SPREAD]
        centre = R.maker_centre(own, mid, t, ip[K.IP_MM_CENTRE_HL], ip[K.IP_MM_SNAP])  # ours: the mid with hl 0
        centre = centre - R.inventory_shift(agents[agent, K.A_INV], mparams)  # ours: 0 with the inventory skew off
        u = gens[3].random() if mparams[R.MP_SKEW_RANDOM] > 0 else 0.0  # ours: the skew's random rounding
        low_bid, high_bid, low_ask, step = R.maker_ladder(
            window, centre, buys, sells, mparams, u, R.maker_floor(mparams, t, ip[K.IP_OPEN])
        )
        if ip[K.IP_MM_OFFSET] > 0:
            away_bid, away_ask = _quote_offsets(gens[3], ip[K.IP_MM_OFFSET])
            low_bid, high_bid, low_ask = low_bid - away_bid, high_bid - away_bid, low_ask + away_ask
        if ip[K.IP_MM_LAYER] > 0:  # ours: maker k's quotes k layers further out (a floor per maker, no draw)
            layer = agents[agent, K.A_INDEX] * ip[K.IP_MM_LAYER]
            low_bid, high_bid, low_ask = low_bid - layer, high_bid - layer, low_ask + layer
        if mparams[R.MP_INV_SKEW] > 0 or ip[K.IP_MM_CENTRE_HL] > 0:  # ours: a skewed or slow-centred ladder is
            # posted only (kept off the touch it saw)
            low_bid, high_bid, low_ask = R.post_only(low_bid, high_bid, low_ask, bid, ask, ip[K.IP_MM_GAP])
        jitter = fp[K.FP_MM_JITTER]
        best_bid, best_ask = K.LIMIT, K.LIMIT  # the message kinds of the two best orders
        if ip[K.IP_MM_KEEP] >= 0:  # ours: keep a resting best order near the new best price (two draws, always)
            d_bid, d_ask = _jitter(gens[3], jitter), _jitter(gens[3], jitter)
            best_bid = _keep_or_cancel(state, heap, ctr, agents, mstate, ip, t, agent, 1, high_bid, d_bid)
            best_ask = _keep_or_cancel(state, heap, ctr, agents, mstate, ip, t, agent, -1, low_ask, d_ask)
        touch, split = max(ip[K.IP_MM_TOUCH], 1), ip[K.IP_MM_TOUCH] > 1 or sized
        for price in range(low_bid, high_bid + 1, step):
            if split and price == high_bid:
                _touch_orders(heap, ctr, agents, gens, jitter, t, agent, 1, price, size, touch, mparams, best_bid)
            else:
                kind = best_bid if price == high_bid else K.LIMIT
                _send_after(heap, ctr, agents, t, agent, 1, price, size, _jitter(gens[3], jitter), kind)
        for level in range(np.int64(mparams[R.MP_LEVELS])):
            if split and level == 0:
                _touch_orders(heap, ctr, agents, gens, jitter, t, agent, -1, low_ask, size, touch, mparams, best_ask)
            else:
                kind = best_ask if level == 0 else K.LIMIT
                _send_after(heap, ctr, agents, t, agent, -1, low_ask + level * step, size, _jitter(gens[3], jitter),
                            kind)  # fmt: skip
    elif ip[K.IP_MM_OFFSET] > 0 or fp[K.FP_MM_JITTER] > 0 or sized or mparams[R.MP_SKEW_RANDOM] > 0:  # no ladder
        # (no mid yet): the same draws (CRN)
        if mparams[R.MP_SKEW_RANDOM] > 0:
            gens[3].random()
        if ip[K.IP_MM_OFFSET] > 0:
            _quote_offsets(gens[3], ip[K.IP_MM_OFFSET])
        for _ in range(2 if ip[K.IP_MM_KEEP] >= 0 else 0):
            _jitter(gens[3], fp[K.FP_MM_JITTER])
        for _ in range(2 * _ladder_orders(ip)):
            _jitter(gens[3], fp[K.FP_MM_JITTER])
        for _ in range(2 * max(ip[K.IP_MM_TOUCH], 1) if sized else 0):
            R.touch_size(gens[3], mparams, 1)  # two draws, the same for either side's law
    lat = agents[agent, K.A_LATENCY]
    K.push(heap, ctr, _later(clock, ip, t + lat, _wait(gens[3], fp[K.FP_MAKER_WAIT])), K.WAKE, agent, 0, 0, 0)


@numba.njit(cache=True)
def _window_trades(ev, ctr, t, window, agent):
    """Lots traded in ``(t - window, t]`` by everyone and by ``agent`` (as aggressor or passive side)."""
    total, own = 0, 0
    row = ctr[_sim.C_EVENTS] - 1
    while row >= 0 and ev[row, _sim.EV_TS] > t - window:
        if ev[row, _sim.EV_KIND] == _sim.TRADE:
            total += ev[row, _sim.EV_QTY]
            if ev[row, K.EV_AGENT] == agent or ev[row, K.EV_PASSIVE_AGENT] == agent:
                own += ev[row, _sim.EV_QTY]
        row -= 1
    return total, own


@numba.njit(cache=True)
def _execution(ev, heap, ctr, agents, ip, fp, xstate, xsched, t, agent, bid, ask):
    """One child order of a metaorder at the other side's touch (nothing when that side is empty): TWAP (the lots
    due by the end of this slice on an even schedule over the whole duration, less those done, so a metaorder of
    fewer lots than slices still ends at its end), POV (a share of the others' volume since the start, or in a
    trailing window) or a schedule (VWAP, Almgren-Chriss: the target lots done by the end of this slice, ``xsched``)."""
    side, quantity = ip[K.IP_EXEC_SIDE], ip[K.IP_EXEC_QTY]
    if xstate[K.X_START_VOLUME] < 0:
        xstate[K.X_START_VOLUME], xstate[K.X_ARRIVAL_BID], xstate[K.X_ARRIVAL_ASK] = ctr[K.C_VOLUME], bid, ask
    done = side * agents[agent, K.A_INV]
    remaining = quantity - done
    if ip[K.IP_EXEC_MODE] == K.EXEC_SCHEDULE:
        j = min((t - ip[K.IP_EXEC_START]) // ip[K.IP_EXEC_INTERVAL], xsched.shape[0] - 1)
        child = min(remaining, xsched[j] - done)
    elif ip[K.IP_EXEC_MODE] == K.EXEC_POV:  # own = p / (1 - p) x the others' volume since the start
        others = ctr[K.C_VOLUME] - xstate[K.X_START_VOLUME] - done
        p = fp[K.FP_PARTICIPATION]
        child = min(remaining, np.int64(math.floor(p / (1.0 - p) * others)) - done)
    elif ip[K.IP_EXEC_MODE] == K.EXEC_POV_TRAILING:  # own = p / (1 - p) x the others' volume in the window
        total, own = _window_trades(ev, ctr, t, ip[K.IP_EXEC_WINDOW], agent)
        p = fp[K.FP_PARTICIPATION]
        child = min(remaining, np.int64(math.floor(p / (1.0 - p) * (total - own))) - own)
    else:  # an even schedule: ceil(Q (j + 1) / N) lots due by the end of slice j of N, less those done
        interval = ip[K.IP_EXEC_INTERVAL]
        n = max(np.int64(1), (ip[K.IP_EXEC_END] - ip[K.IP_EXEC_START] + interval - 1) // interval)
        left = max(np.int64(1), (ip[K.IP_EXEC_END] - t + interval - 1) // interval)  # this slice included
        j = min(max(n - left, np.int64(0)), n - 1)
        child = min(remaining, -(-quantity * (j + 1) // n) - done)
    touch = ask if side == 1 else bid
    if child > 0 and touch != eng.NO_PRICE:
        ctr[K.C_ORDERS + K.EXECUTION] += 1
        K.push(heap, ctr, t + 2 * agents[agent, K.A_LATENCY], K.LIMIT, agent, side, touch, child)


@numba.njit(cache=True)
def _exchange(state, out, ev, heap, ctr, agents, orders, totals, ip, fp, stress, t, kind, agent, side, qty):
    """A market order reaches the engine, or a mark window opens or closes (``K.MARK``: the liquidation engine checks
    the new mark at once); then, after trades, :func:`_after_trades`. (Limit orders the loop sends to
    :func:`simlab.agents._kernel._limit` itself.) ``stress``: the stop-loss and leveraged traders' states and the
    liquidation log (``params[15]`` .. ``[18]``), not all of ``params``: a call costs the reference counting of every
    array it takes."""
    lstate, liq_i, liq_f = stress[1], stress[2], stress[3]
    n_agents, volume = agents.shape[0] - 1, ctr[K.C_VOLUME]
    if kind == K.MARKET:
        K._market(state, out, ev, ctr, agents, orders, totals, n_agents, t, agent, side, qty)
        if agents[agent, K.A_CLASS] == K.LEVERAGED:
            S.entered(agents, lstate, ip, fp, ip[K.IP_CASH0], agent)
    elif lstate.shape[0] > 0 and S.last_trade(ev, ctr) >= 0:
        S.liquidations(state, out, ev, ctr, agents, orders, totals, n_agents, t, lstate, liq_i, liq_f, ip, fp)
    if ctr[K.C_VOLUME] > volume:
        _after_trades(state, out, ev, heap, ctr, agents, orders, totals, ip, fp, stress, t, kind)


@numba.njit(cache=True)
def _after_trades(state, out, ev, heap, ctr, agents, orders, totals, ip, fp, stress, t, kind):
    """After a message that traded: liquidations (not after a mark window's edge, which ran them already), then the
    stop-loss triggers and the circuit breaker."""
    sstate, lstate, liq_i, liq_f = stress
    n_agents = agents.shape[0] - 1
    if lstate.shape[0] > 0 and kind != K.MARK:
        S.liquidations(state, out, ev, ctr, agents, orders, totals, n_agents, t, lstate, liq_i, liq_f, ip, fp)
    if sstate.shape[0] > 0:
        S.stops(heap, ev, ctr, agents, ip, sstate, ip[K.IP_FIRST_STOP], t)
    if fp[K.FP_CB_MOVE] > 0:
        S.breaker(heap, ev, ctr, ip, fp, n_agents, t)


# ---------------------------------------------------------------- paths and room


@numba.njit(cache=True)
def _path_row(state, ctr, path_ts, path_vals, path_mid, totals, ts):
    row = ctr[K.C_PATHS]
    path_ts[row] = ts
    path_vals[row, : K.N_CLASSES] = totals[0]
    path_vals[row, K.N_CLASSES :] = totals[1]
    bid, ask = eng.best_bid(state), eng.best_ask(state)
    path_mid[row] = 0.5 * (bid + ask) if bid != eng.NO_PRICE and ask != eng.NO_PRICE else np.nan
    ctr[K.C_PATHS] = row + 1


@numba.njit(cache=True)
def _path_samples(state, ctr, path_ts, path_vals, path_mid, totals, start_ns, sample_ns, until_ns):
    while start_ns + ctr[K.C_PATH_SAMPLE] * sample_ns <= until_ns and ctr[K.C_PATHS] < path_ts.shape[0]:
        _path_row(state, ctr, path_ts, path_vals, path_mid, totals, start_ns + ctr[K.C_PATH_SAMPLE] * sample_ns)
        ctr[K.C_PATH_SAMPLE] += 1


@numba.njit(cache=True)
def needs(state, ctr, levels):
    """Rows each buffer needs before the next message: events (and per-event books), paths, order ids, heap,
    fills, fundamental records."""
    resting = state[0][eng.N_ORDERS]
    return np.array(
        [ctr[_sim.C_EVENTS] + resting + 2 + levels, ctr[K.C_PATHS] + 2, ctr[_sim.C_NEXT_ID] + 2,
         ctr[K.C_HEAP] + 2 * levels + K.MAX_PUSH, resting + 2, ctr[K.C_FUND] + 2],
        dtype=np.int64,
    )  # fmt: skip


@numba.njit(cache=True)
def _short(resting, ctr, levels, ev_rows, path_rows, order_rows, heap_rows, fill_rows, fund_rows):
    """True when a buffer has less room than :func:`needs` asks (``resting``: the orders resting now)."""
    return (
        ctr[_sim.C_EVENTS] + resting + 2 + levels > ev_rows or ctr[K.C_PATHS] + 2 > path_rows
        or ctr[_sim.C_NEXT_ID] + 2 > order_rows or ctr[K.C_HEAP] + 2 * levels + K.MAX_PUSH > heap_rows
        or resting + 2 > fill_rows or ctr[K.C_FUND] + 2 > fund_rows
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def run(state, out, gens, heap, ctr, agents, orders, totals, ip, fp, params, rec):
    """Process messages up to ``ip[K.IP_END]``; return (``K.NEED_ROOM``, ``K.RUNAWAY`` or ``K.DONE``, the state).

    ``rec`` = (ev, books, book_ts, path_ts, path_vals, path_mid); ``params`` = (vstate, vprev, vparams, mstate,
    mparams, mhist, mseen, fvals, ftimes, fparams, cumulative, fund_ts, fund_val, fund_shocks, xstate, sstate, lstate,
    liq_i, liq_f, xsched, nstate, clock), unpacked here once: the rules are called with the arrays each needs.
    """
    ev, books, book_ts, path_ts, path_vals, path_mid = rec
    fund_ts, sstate, lstate = params[11], params[15], params[16]
    mstate, nstate, clock = params[3], params[20], params[21]
    stress = (sstate, lstate, params[17], params[18])
    stressed = lstate.shape[0] > 0 or sstate.shape[0] > 0 or fp[K.FP_CB_MOVE] > 0  # rules that follow trades
    value, mparams, mhist, mseen, cumulative = params[:3], params[4], params[5], params[6], params[10]
    fund = (params[7], params[8], params[9], fund_ts, params[12], params[13], clock)
    n_agents = agents.shape[0] - 1
    levels = _ladder_orders(ip) + sstate.shape[0] + 2 * lstate.shape[0]  # room for one message
    books_each, paths_each = ip[K.IP_BOOK_SAMPLE] <= 0, ip[K.IP_PATH_SAMPLE] <= 0
    while ctr[K.C_HEAP] > 0 and heap[0, K.H_TIME] <= ip[K.IP_END]:
        ev_rows = min(ev.shape[0], books.shape[1]) if books_each else ev.shape[0]
        path_rows = path_ts.shape[0] if paths_each else 1 << 62
        resting = state[0][eng.N_ORDERS]
        if _short(resting, ctr, levels, ev_rows, path_rows, orders.shape[0], heap.shape[0], out[0].shape[0],
                  fund_ts.shape[0]):  # fmt: skip
            return K.NEED_ROOM, state
        t = heap[0, K.H_TIME]
        # the sampling calls only when a sample is due (a call that takes arrays costs their reference counting)
        if not books_each and ip[K.IP_OPEN] + ctr[_sim.C_SAMPLE] * ip[K.IP_BOOK_SAMPLE] <= t - 1:
            _sim.samples(state, books, book_ts, ctr, ip[K.IP_OPEN], ip[K.IP_BOOK_SAMPLE], t - 1)
        if not paths_each and ip[K.IP_OPEN] + ctr[K.C_PATH_SAMPLE] * ip[K.IP_PATH_SAMPLE] <= t - 1:
            _path_samples(state, ctr, path_ts, path_vals, path_mid, totals, ip[K.IP_OPEN], ip[K.IP_PATH_SAMPLE], t - 1)
        row = K.pop(heap, ctr)
        kind, agent = heap[row, K.H_TYPE], heap[row, K.H_AGENT]
        written = ctr[_sim.C_EVENTS]
        if kind == K.WAKE:
            _wake(heap, ctr, agents, gens, ip, fp, clock, t, agent)
        elif kind == K.DECIDE:  # the agent's rule reads the book as it is at the exchange now and sends its orders
            cls, bid, ask = agents[agent, K.A_CLASS], eng.best_bid(state), eng.best_ask(state)
            if cls == K.NOISE:
                _noise(heap, ctr, agents, gens, ip, fp, nstate, cumulative, t, agent, bid, ask)
            elif cls == K.VALUE:
                _value(heap, ctr, agents, gens, ip, fp, value, fund, cumulative, t, agent, bid, ask)
            elif cls == K.MAKER:
                two_sided = bid != eng.NO_PRICE and ask != eng.NO_PRICE
                _maker(state, ev, heap, ctr, agents, gens, ip, fp, mstate, mparams, clock, t, agent, bid, ask,
                       two_sided)  # fmt: skip
            elif cls == K.MOMENTUM:
                _momentum(heap, ctr, agents, gens, ip, fp, mhist, mseen, cumulative, clock, t, agent, bid, ask)
            else:
                _decide(ev, heap, ctr, agents, ip, fp, params, t, agent, bid, ask)
        elif kind == K.NEWS:
            _news(gens, params, ctr, ip, fp, t)
        elif kind == K.PAUSE:
            S.pause(heap, ev, ctr, ip, n_agents, t)
        elif kind == K.RESUME:
            if t >= ctr[K.C_PAUSE_UNTIL]:  # (the end of a halt nested in a longer one resumes nothing)
                ctr[K.C_RESUMED] = t
                K._record(ev, ctr, n_agents, t, K.HALT, 0, 0, 0, -1, -1, -1, -1)
        elif kind == K.CANCEL_ALL:
            keep_a, keep_b = _kept(agents, ip, mstate, agent)
            K._cancel_all(state, out, ev, ctr, agents, orders, n_agents, t, agent, keep_a, keep_b)
        elif kind == K.CANCEL_ID:
            K._cancel_id(state, out, ev, ctr, agents, orders, n_agents, t, agent, heap[row, K.H_PRICE])
        elif kind == K.NOISE_CLOCK:
            _noise_clock(heap, ctr, agents, gens, ip, fp, nstate, clock, t)
        elif kind == K.CANCEL_OLD:
            keep_a, keep_b = _kept(agents, ip, mstate, agent)
            K._cancel_old(state, out, ev, ctr, agents, orders, n_agents, t, agent, heap[row, K.H_PRICE],
                          heap[row, K.H_QTY] == 1, keep_a, keep_b)  # fmt: skip
        elif t < ctr[K.C_PAUSE_UNTIL]:  # an order or a mark check while halted: wait for the resume, in order
            side, price, qty = heap[row, K.H_SIDE], heap[row, K.H_PRICE], heap[row, K.H_QTY]
            K.push(heap, ctr, ctr[K.C_PAUSE_UNTIL], kind, agent, side, price, qty)
        else:
            side, price, qty = heap[row, K.H_SIDE], heap[row, K.H_PRICE], heap[row, K.H_QTY]
            if (kind == K.LIMIT or kind == K.IOC or kind == K.TOUCH) and not ip[K.IP_PRICE_LOW] <= price <= ip[
                K.IP_PRICE_HIGH
            ]:
                return K.RUNAWAY, state  # the order stays in the heap's row ctr[C_HEAP] for the caller's sentence
            if kind == K.LIMIT or kind == K.IOC or kind == K.TOUCH:  # a limit order reaches the engine
                if not 0 <= price - state[0][eng.ORIGIN] < state[2].shape[1] or state[0][eng.FREE] < 0:
                    state = _sim.room_for(state, ctr, price, 64)
                volume = ctr[K.C_VOLUME]
                K._limit(state, out, ev, ctr, agents, orders, totals, n_agents, t, agent, side, price, qty,
                         kind == K.IOC)  # fmt: skip
                if kind == K.TOUCH:  # a maker's best order, kept while it rests (ours)
                    rested = state[0][eng.LAST_RESTED] > 0
                    column = R.M_KEEP_BID if side == 1 else R.M_KEEP_ASK
                    mstate[agents[agent, K.A_INDEX], column] = ctr[_sim.C_NEXT_ID] - 1 if rested else -1
                if stressed and ctr[K.C_VOLUME] > volume:
                    _after_trades(state, out, ev, heap, ctr, agents, orders, totals, ip, fp, stress, t, kind)
            else:  # a market order, a mark window's edge
                _exchange(state, out, ev, heap, ctr, agents, orders, totals, ip, fp, stress, t, kind, agent, side, qty)
        written = ctr[_sim.C_EVENTS] - written
        if books_each and written > 0:  # the book after the message, for each of its records
            _sim.snapshots(state, books, book_ts, ctr, t, written)
        if paths_each and written > 0:
            _path_row(state, ctr, path_ts, path_vals, path_mid, totals, t)
    if not books_each:
        _sim.samples(state, books, book_ts, ctr, ip[K.IP_OPEN], ip[K.IP_BOOK_SAMPLE], ip[K.IP_END])
    if not paths_each:
        _path_samples(
            state, ctr, path_ts, path_vals, path_mid, totals, ip[K.IP_OPEN], ip[K.IP_PATH_SAMPLE], ip[K.IP_END]
        )
    return K.DONE, state
