"""The slow, obvious twin of the agent kernel: a Python loop over a heapq of messages, agents as plain lists, on the
list-based book twin of tests/simlab/book/test_engine_twin.py. It shares no code with simlab.agents._kernel or
_rules; it takes the set-up (latencies, first wake-ups, the opening book, the streams' states) from an unrun market
so that it checks the event loop, the rules and the accounting, not the set-up; the market's activity it draws
itself, from a fresh copy of the activity stream."""

from __future__ import annotations

import copy
import heapq
import math

import numpy as np

from simlab.agents import _kernel as K
from simlab.agents.market import _Market
from simlab.errors import ParameterError
from simlab.schema import NO_PRICE
from tests.simlab.book.test_engine_twin import ListBook

SIZE_WEIGHTS = [0.2, 0.7, 0.06, 0.004, 0.0329, 0.001, 0.0006, 0.0004, 0.0005, 0.0003, 0.0003]
ADD, DELETE, TRADE = 1, 3, 5


def twin_size(gen) -> int:
    u, total, k = gen.random(), 0.0, 0
    cumulative = np.cumsum(SIZE_WEIGHTS) / sum(SIZE_WEIGHTS)
    while k < len(SIZE_WEIGHTS) - 1 and u >= cumulative[k]:
        k += 1
    z = gen.standard_normal()
    total = math.exp(2.9 + 1.2 * z) if k == 0 else 100.0 * k + 0.15 * z
    return int(np.rint(total))


def twin_touch_size(gen, weights, log_mean, log_sd) -> int:
    """A size under a fitted mixture (makers' touch orders, noise orders): a component by its weight, then its
    size."""
    u, total = gen.random(), sum(weights)
    k, edge = 0, weights[0] / total
    while k < len(weights) - 1 and u >= edge:
        k += 1
        edge += weights[k] / total
    z = gen.standard_normal()
    return int(np.rint(math.exp(log_mean + log_sd * z) if k == 0 else 100.0 * k + 0.15 * z))


def twin_activity(market: _Market) -> list[float]:
    """The log-activity per grid cell, drawn anew from the market's activity stream (the 8th child of its root
    SeedSequence): for each mean-reversion time in turn, a log-OU of variance ``sd^2 / K`` from its stationary law,
    then ``x <- a x + sd_k sqrt(1 - a^2) z`` per cell; the components added cell by cell."""
    f, (entropy, key) = market.config.fundamental, market.root_entropy
    gen = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=key).spawn(8)[7])
    times = list(f.activity_time_s) if isinstance(f.activity_time_s, tuple) else [f.activity_time_s]
    cells = (market.end_ns - market.config.open_ns) // int(round(f.activity_step_s * 1e9)) + 1
    part, logs = f.activity_sd / math.sqrt(len(times)), [0.0] * cells
    for time in times:
        a = math.exp(-f.activity_step_s / time)
        x = part * gen.standard_normal()
        for j in range(cells):
            if j > 0:
                x = a * x + part * math.sqrt(1.0 - a * a) * gen.standard_normal()
            logs[j] += x
    return logs


class TwinMarket:
    """Run the market of an unrun ``_Market`` with lists and a heapq."""

    def __init__(self, market: _Market):
        c = self.config = market.config
        a = market.agents
        self.n = a.shape[0] - 1
        self.cls, self.idx, self.lat = a[:, 0].tolist(), a[:, 1].tolist(), a[:, 2].tolist()
        self.cash, self.inv = a[:, 3].tolist(), [0] * (self.n + 1)
        self.resting: dict[int, list[int]] = {agent: [] for agent in range(self.n + 1)}
        self.owner: dict[int, int] = {}
        used = int(market.ctr[K.C_HEAP])
        self.queue = [tuple(int(x) for x in row) for row in market.heap[:used]]
        heapq.heapify(self.queue)
        self.seq = int(market.ctr[K.C_SEQ])
        self.gens = [copy.deepcopy(g) for g in market.streams[1:6]]
        self.book = ListBook(-(10**9), 2 * 10**9, 10**9)
        self.next_id, self.end = 1, market.end_ns
        self.fund_value, self.fund_last = float(market.fvals[0]), int(market.ftimes[0])
        self.shock_at, self.shock_size = int(market.ftimes[1]), float(market.fvals[1])
        self.events: list[tuple[int, ...]] = []
        self.books: list[tuple] = []
        self.paths: list[tuple] = []
        self.fundamental: list[tuple] = []
        self.estimate = [c.fundamental.mean_ticks] * c.value.count
        self.variance = [0.0] * c.value.count
        self.prev = [c.open_ns] * c.value.count
        self.latent: list[dict | None] = [None] * c.value.count  # the latent rule's order: side, offset, lots, inv0
        self.spread = [c.market_maker.initial_spread_ticks] * c.market_maker.count
        self.last_mid = [None] * c.market_maker.count
        self.snaps = [0] * c.market_maker.count  # per maker, decisions at which its slow centre snapped to the mid
        self.rounded_away = [0] * c.market_maker.count  # per maker, random roundings that left the move toward zero
        self.no_mid_draws = [0] * c.market_maker.count  # per maker, rounding draws made before it saw a mid
        self.centre = [None] * c.market_maker.count  # the slow ladder centre: (EMA of the mids, its time ns) or None
        self.kept = [{1: None, -1: None} for _ in range(c.market_maker.count)]  # kept best order ids by side
        self.mids: list[list[float]] = [[] for _ in range(c.momentum.count)]
        self.depth = market.books.shape[2]
        self.volume, self.exec_start = 0, [None] * c.execution.count
        self.flow = 0  # net aggressor flow: buyer- minus seller-initiated lots
        self.flow_others = 0  # the same, less the fills whose aggressor is a value agent
        self.exec_end = c.open_ns + int(round((c.execution.start_s + c.execution.duration_s) * 1e9))
        self.exec_interval = int(round(c.execution.interval_s * 1e9))
        self.exec_start_ns, self.schedule = c.open_ns + int(round(c.execution.start_s * 1e9)), market.xsched.tolist()
        mean = c.fundamental.mean_ticks  # the prices a limit order may have: the mean -+ max(2^20, the mean)
        self.price_low, self.price_high = round(mean) - max(2**20, int(mean)), round(mean) + max(2**20, int(mean))
        self.paused_until, self.resumed, self.trades = 0, 0, []  # circuit breaker; trades: (ts, price)
        self.stops: list[int | None] = [None] * c.stop_loss.count  # armed stop prices (None: not armed or fired)
        self.first_stop = self.n - c.stop_loss.count - c.leveraged.count
        self.first_lev = self.n - c.leveraged.count
        self.lev: list[dict] = [dict(pos=0, status="waiting") for _ in range(c.leveraged.count)]
        self.fund, self.liq_log = c.leveraged.insurance_fund_ticks, []
        self.cash[self.n] = self.fund
        self.news_values: list[float] = []  # the fundamental just before and after a news jump
        n = c.noise  # the noise clock (excess intensity after its last event, per ns) and the metaorders
        self.clock = n.arrival_rate_per_s > 0
        self.excess = float(market.fp[K.FP_NOISE_EXCESS])
        self.meta_side, self.meta_left = [0] * c.noise.count, [0] * c.noise.count
        # the market's activity: the log-activity per grid cell (cell j is [open + j step, open + (j + 1) step)),
        # its rates and the business time at each cell's start, all the twin's own (twin_activity)
        f = c.fundamental
        self.act_step = int(round(f.activity_step_s * 1e9))
        self.act_log = twin_activity(market) if f.activity_sd > 0 or f.activity_profile else []
        self.act_rate = [math.exp(x - 0.5 * f.activity_sd**2) for x in self.act_log]
        if f.activity_profile:  # the intraday profile: cell j's rate times the weight of the part its start is in,
            # over the weights' mean
            weights, session = f.activity_profile, round(c.session_s * 1e9)
            mean = sum(weights) / len(weights)
            for j in range(len(self.act_rate)):
                self.act_rate[j] *= weights[min(j * self.act_step * len(weights) // session, len(weights) - 1)] / mean
        self.act_start, total = [], 0.0
        for rate in self.act_rate:
            self.act_start.append(total)
            total = total + rate * float(self.act_step)

    def window(self, name, t):
        """True when ``t`` (ns) is inside the window of the shock ``name`` (False when there is no such shock)."""
        shock = getattr(self.config.shocks, name)
        if shock is None:
            return False
        start = self.config.open_ns + int(round(shock.start_s * 1e9))
        return start <= t < self.config.open_ns + int(round((shock.start_s + shock.duration_s) * 1e9))

    def send(self, t, kind, agent, side=0, price=0, qty=0):
        heapq.heappush(self.queue, (t, self.seq, kind, agent, side, price, qty))
        self.seq += 1

    def run(self) -> None:
        while self.queue and self.queue[0][0] <= self.end:
            t, _, kind, agent, side, price, qty = heapq.heappop(self.queue)
            before = len(self.events)
            if kind == K.WAKE:
                self.wake(t, agent)
            elif kind == K.DECIDE:
                self.decide(t, agent)
            elif kind == K.NEWS:
                self.news(t)
            elif kind == K.PAUSE:
                self.paused_until = max(self.paused_until, t + int(round(self.config.shocks.pause.duration_s * 1e9)))
                self.record(t, K.HALT, 0, 0, 1, -1, self.n)
                self.send(t + int(round(self.config.shocks.pause.duration_s * 1e9)), K.RESUME, self.n)
            elif kind in (K.LIMIT, K.MARKET, K.MARK, K.IOC, K.TOUCH) and t < self.paused_until:
                self.send(self.paused_until, kind, agent, side, price, qty)
            elif kind == K.MARK:
                volume = self.volume
                if self.lev and self.trades:
                    self.liquidate(t)
                if self.volume > volume:
                    self.after_trades(t)
            elif kind in (K.LIMIT, K.MARKET, K.IOC, K.TOUCH):
                if kind != K.MARKET and not self.price_low <= price <= self.price_high:
                    raise ParameterError(f"twin: agent {agent}'s limit order at {t} ns is priced {price}: off range")
                volume = self.volume
                oid = self.next_id
                self.limit(t, agent, side, price, qty, market=kind == K.MARKET, ioc=kind == K.IOC)
                if kind == K.TOUCH:  # a maker's best order: kept while it rests
                    self.kept[self.idx[agent]][side] = oid if oid in self.book.where else None
                if kind == K.MARKET and self.cls[agent] == K.LEVERAGED:
                    self.entered(agent)
                if self.volume > volume and self.lev:
                    self.liquidate(t)
                if self.volume > volume:
                    self.after_trades(t)
            elif kind == K.RESUME and t >= self.paused_until:
                self.resumed = t
                self.record(t, K.HALT, 0, 0, 0, -1, self.n)
            elif kind == K.RESUME:
                pass  # the end of a halt inside a longer one
            elif kind == K.NOISE_CLOCK:
                self.noise_clock(t)
            elif kind == K.CANCEL_OLD:
                self.cancel_old(t, agent, price, qty == 1)
            elif kind == K.CANCEL_ID:
                if price in self.book.where:
                    self.delete(t, agent, price)
            else:
                self.cancel_all(t, agent)
            for _ in range(len(self.events) - before):
                self.books.append((t, self.book.top(1, self.depth), self.book.top(-1, self.depth)))
            if len(self.events) > before:
                self.paths.append((t, self.class_sums()))

    def class_sums(self):
        cash, inv = [0] * K.N_CLASSES, [0] * K.N_CLASSES
        for agent in range(self.n + 1):
            cash[self.cls[agent]] += self.cash[agent]
            inv[self.cls[agent]] += self.inv[agent]
        return tuple(cash + inv)

    # ------------------------------------------------------------ exchange
    def record(self, t, kind, side, price, qty, oid, agent, passive=-1, aggressor=-1):
        shown = [agent if agent < self.n else -1, passive if passive < self.n else -1]
        self.events.append((t, kind, side, price, qty, oid, shown[0], shown[1], aggressor))

    def limit(self, t, agent, side, price, qty, market=False, ioc=False):
        oid = self.next_id
        self.next_id += 1
        self.book.fills.clear()
        if market:
            self.book.market(side, qty, oid, t, 10**9)
        else:
            self.book.limit(side, price, qty, oid, t, 10**9)
        for _, _, fill_price, fill_qty, passive_id, _ in list(self.book.fills):
            passive = self.owner[passive_id]
            self.volume += fill_qty
            self.flow += side * fill_qty
            if self.cls[agent] != K.VALUE:
                self.flow_others += side * fill_qty
            buyer, seller = (agent, passive) if side == 1 else (passive, agent)
            self.cash[buyer] -= fill_price * fill_qty
            self.cash[seller] += fill_price * fill_qty
            self.inv[buyer] += fill_qty
            self.inv[seller] -= fill_qty
            if passive_id not in self.book.where:
                self.resting[passive].remove(passive_id)
            self.record(t, TRADE, side, fill_price, fill_qty, passive_id, agent, passive, oid)
        traded = bool(self.book.fills)
        if ioc and oid in self.book.where:  # immediate or cancel: the rest expires unrecorded
            self.book.delete(oid)
        if oid in self.book.where:
            self.owner[oid] = agent
            self.resting[agent].append(oid)
            self.record(t, ADD, side, price, self.book._find(oid)[1], oid, agent)
        if traded:
            self.trades.extend((t, fill[2]) for fill in self.book.fills)

    def after_trades(self, t):
        self.fire_stops(t)
        cb = self.config.circuit_breaker
        if cb.move_pct > 0:
            last = self.trades[-1][1]
            since = max(t - int(round(cb.window_s * 1e9)), self.resumed)
            if any(abs(last - p) >= cb.move_pct / 100.0 * p for ts, p in self.trades if ts >= since):
                self.paused_until = t + int(round(cb.pause_s * 1e9))
                self.record(t, K.HALT, 0, last, 1, -1, self.n)
                self.send(self.paused_until, K.RESUME, self.n)

    def entered(self, agent):
        lv, state = self.config.leveraged, self.lev[agent - self.first_lev]
        lots = self.inv[agent]
        if lots == 0:
            state["status"] = "unfilled"
            return
        e = abs(self.cash[agent] - self.config.starting_cash_ticks) / abs(lots)
        side, lev, mm = (1 if lots > 0 else -1), lv.leverage, lv.maintenance_margin
        state.update(pos=lots, entry=e, status="open", bankrupt=e * (1.0 - side / lev))
        state["liq"] = e * (1.0 - 1.0 / lev) / (1.0 - mm) if side == 1 else e * (1.0 + 1.0 / lev) / (1.0 + mm)

    def deliver(self, seller, buyer, lots, value):
        self.inv[seller] -= lots
        self.inv[buyer] += lots
        self.cash[seller] += value
        self.cash[buyer] -= value

    def liquidate(self, t):
        factor = self.config.shocks.mark.factor if self.window("mark", t) else 1.0
        while True:
            last = self.trades[-1][1] * factor
            crossed = [
                ((s["liq"] - last) if s["pos"] > 0 else (last - s["liq"]), -k)
                for k, s in enumerate(self.lev)
                if s["status"] == "open"
                and ((s["pos"] > 0 and last <= s["liq"]) or (s["pos"] < 0 and last >= s["liq"]))
            ]
            if not crossed:
                return
            k = -max(crossed)[1]
            agent, state = self.first_lev + k, self.lev[k]
            sign, lots = (1 if state["pos"] > 0 else -1), abs(state["pos"])
            cash, inv = self.cash[agent], self.inv[agent]
            self.limit(t, agent, -sign, 0, lots, market=True)
            filled, received = abs(self.inv[agent] - inv), self.cash[agent] - cash
            surplus = received - sign * int(np.rint(state["bankrupt"] * filled))
            self.cash[agent] -= surplus
            self.cash[self.n] += surplus
            self.fund += surplus
            state.update(pos=0, status="liquidated")
            if filled:
                self.liq_log.append((t, agent, 1, filled, -1, abs(received) / filled, self.fund))
            left = lots - filled
            while left > 0:
                partners = [
                    ((last - s["entry"]) / s["entry"] * (1.0 if s["pos"] > 0 else -1.0), -j)
                    for j, s in enumerate(self.lev)
                    if s["status"] == "open" and s["pos"] * sign < 0
                ]
                if not partners:
                    break
                j = -max(partners)[1]
                partner, other = self.first_lev + j, self.lev[j]
                x = min(left, abs(other["pos"]))
                value = int(np.rint(state["bankrupt"] * x))
                if sign == 1:
                    self.deliver(agent, partner, x, value)
                else:
                    self.deliver(partner, agent, x, value)
                other["pos"] += sign * x
                if other["pos"] == 0:
                    other["status"] = "deleveraged"
                self.liq_log.append((t, agent, 2, x, partner, state["bankrupt"], self.fund))
                left -= x
            if left > 0:
                value = int(np.rint(state["bankrupt"] * left))
                if sign == 1:
                    self.deliver(agent, self.n, left, value)
                else:
                    self.deliver(self.n, agent, left, value)
                self.fund -= sign * value
                self.liq_log.append((t, agent, 3, left, -1, state["bankrupt"], self.fund))

    def fire_stops(self, t):
        sl, last = self.config.stop_loss, self.trades[-1][1]
        for k, stop in enumerate(self.stops):
            if stop is not None and (last <= stop if sl.side == -1 else last >= stop):
                self.stops[k] = None
                agent = self.first_stop + k
                self.send(t + self.lat[agent], K.MARKET, agent, sl.side, 0, sl.quantity_lots)

    def keeps(self, agent):
        """The order ids a cancel of ``agent`` leaves alone: a maker's kept best orders when it keeps its touch."""
        if self.cls[agent] != K.MAKER or self.config.market_maker.keep_touch_ticks < 0:
            return set()
        return set(self.kept[self.idx[agent]].values()) - {None}

    def delete(self, t, agent, oid):
        side, price = self.book.where[oid]
        qty = self.book._find(oid)[1]
        self.book.delete(oid)
        self.record(t, DELETE, side, price, qty, oid, agent)
        self.resting[agent].remove(oid)

    def cancel_all(self, t, agent):
        keep = self.keeps(agent)
        for oid in reversed(self.resting[agent]):  # newest first
            if oid not in keep:
                self.delete(t, agent, oid)

    def cancel_old(self, t, agent, first_kept, sweep):
        """Delete the agent's oldest order with an id below ``first_kept`` (``sweep``: all of them, newest first),
        leaving its kept best orders alone."""
        keep = self.keeps(agent)
        old = [oid for oid in self.resting[agent] if oid < first_kept and oid not in keep]
        for oid in reversed(old) if sweep else old[:1]:
            self.delete(t, agent, oid)

    # ------------------------------------------------------------ agents
    def noise_clock(self, t):
        """A Hawkes event: a uniform noise agent looks one latency later; the next event by Dassios-Zhao."""
        n, gen = self.config.noise, self.gens[1]
        agent = min(int(gen.random() * n.count), n.count - 1)
        base, decay = n.arrival_rate_per_s * 1e-9, n.decay_per_s * 1e-9
        first = gen.standard_exponential() / base
        u = gen.random()
        second = math.inf
        if self.excess > 0 and 1.0 + decay * math.log1p(-u) / self.excess > 0:
            second = -math.log(1.0 + decay * math.log1p(-u) / self.excess) / decay
        wait = min(first, second)
        self.excess = self.excess * math.exp(-decay * wait) + n.excitation * decay
        self.send(self.calendar(t, wait) if self.act_rate else t + int(np.rint(wait)), K.NOISE_CLOCK, self.n)
        self.send(t + self.lat[agent], K.DECIDE, agent)

    def act_cell(self, t):
        """The activity's grid cell of calendar ``t`` (the last one past the grid)."""
        return min(max((t - self.config.open_ns) // self.act_step, 0), len(self.act_rate) - 1)

    def business(self, t):
        """Business ns from the open to ``t``: the cells before, then ``t``'s cell at its rate."""
        j = self.act_cell(t)
        return self.act_start[j] + self.act_rate[j] * float(t - (self.config.open_ns + j * self.act_step))

    def calendar(self, t, wait):
        """The calendar ns at which ``wait`` business ns have passed after ``t`` (rounded, not before ``t``)."""
        target, j = self.business(t) + wait, self.act_cell(t)
        while j + 1 < len(self.act_rate) and self.act_start[j + 1] <= target:
            j += 1
        start = self.config.open_ns + j * self.act_step
        return max(t, start + int(np.rint((target - self.act_start[j]) / self.act_rate[j])))

    def later(self, t, wait):
        """``t`` plus an agent's wait between wake-ups: business ns with the market's activity on."""
        return self.calendar(t, float(wait)) if self.act_rate else t + wait

    def noise(self, t, agent, bid, ask):
        """A noise agent: ABIDES' limit order at the touch, or with the clock a market order, its side from the
        agent's metaorder when orders are split."""
        n, k, gen = self.config.noise, self.idx[agent], self.gens[1]
        buy = gen.random() < 0.5
        if n.split_exponent > 0:
            w = gen.random()
            if self.meta_left[k] <= 0:
                self.meta_side[k] = 1 if buy else -1
                self.meta_left[k] = int(min(n.split_max_children, math.floor((1.0 - w) ** (-1.0 / n.split_exponent))))
            self.meta_left[k] -= 1
            buy = self.meta_side[k] == 1
        if n.size_weights:  # its own size law (the same two draws)
            size = twin_touch_size(gen, n.size_weights, n.size_log_mean, n.size_log_sd)
        else:
            size = twin_size(gen)
        touch = ask if buy else bid
        walk = int(round(n.walk_ticks))  # the noise walk (ticks through the touch)
        limit = None if touch is None else touch + (walk if buy else -walk)
        if self.clock and touch is not None and size > 0:
            self.send(t + 2 * self.lat[agent], K.IOC, agent, 1 if buy else -1, limit, size)
        elif not self.clock and touch is not None:
            self.order(t, agent, 1 if buy else -1, limit, size)

    def wait(self, gen, mean_ns):
        return int(np.rint(gen.standard_exponential() * mean_ns))

    def wake(self, t, agent):
        cls, lat = self.cls[agent], self.lat[agent]
        if cls == K.VALUE:
            self.send(self.later(t, self.wait(self.gens[2], 1e9 / self.config.value.arrival_rate_per_s)), K.WAKE, agent)
            self.send(t + lat, K.CANCEL_ALL, agent)
            self.send(t + lat, K.DECIDE, agent)
        elif cls == K.EXECUTION:
            if t + self.exec_interval < self.exec_end:
                self.send(t + self.exec_interval, K.WAKE, agent)
            self.send(t + lat, K.CANCEL_ALL, agent)
            self.send(t + lat, K.DECIDE, agent)
        elif cls == K.MAKER:
            m = self.config.market_maker
            if m.level_jitter_s > 0:  # one cancel per ladder order, each with its own delay; the latest sweeps
                per_side = m.levels + max(m.touch_orders, 1) - 1  # the best level is touch_orders orders
                delays = [self.wait(self.gens[3], m.level_jitter_s * 1e9) for _ in range(2 * per_side)]
                latest = delays.index(max(delays))
                for j, delay in enumerate(delays):
                    self.send(t + lat + delay, K.CANCEL_OLD, agent, 0, self.next_id, int(j == latest))
            else:
                self.send(t + lat, K.CANCEL_ALL, agent)
            self.send(t + lat + m.cancel_delay_ns, K.DECIDE, agent)
        else:
            self.send(t + lat, K.DECIDE, agent)

    def order(self, t, agent, side, price, qty, delay=0, kind=K.LIMIT):
        if qty > 0:
            self.send(t + 2 * self.lat[agent] + delay, kind, agent, side, price, qty)

    def keep_or_cancel(self, t, agent, side, price, delay):
        """A maker keeping its touch: None (no new best order) when its kept order of ``side`` rests within
        keep_touch_ticks of ``price``; else that order's cancel (if it rests) and K.TOUCH for the new one."""
        kept = self.kept[self.idx[agent]]
        oid = kept[side]
        if oid in self.book.where and abs(self.book.where[oid][1] - price) <= self.config.market_maker.keep_touch_ticks:
            return None
        if oid in self.book.where:
            self.send(t + 2 * self.lat[agent] + delay, K.CANCEL_ID, agent, side, oid)
        kept[side] = None
        return K.TOUCH

    def touch_size(self, side=1):
        """A maker's touch order size under its side's size law (two draws from the maker stream)."""
        m = self.config.market_maker
        if side == -1 and m.touch_ask_size_weights:
            return twin_touch_size(
                self.gens[3], m.touch_ask_size_weights, m.touch_ask_size_log_mean, m.touch_ask_size_log_sd
            )
        return twin_touch_size(self.gens[3], m.touch_size_weights, m.touch_size_log_mean, m.touch_size_log_sd)

    def jitter(self):
        """A maker's per-order delay (ns): exponential, one draw, or 0 without a draw when off."""
        mean = self.config.market_maker.level_jitter_s * 1e9
        return self.wait(self.gens[3], mean) if mean > 0 else 0

    def decide(self, t, agent):
        bids, asks = self.book.top(1, 1), self.book.top(-1, 1)
        bid = bids[0][0] if bids[0][1] > 0 else None
        ask = asks[0][0] if asks[0][1] > 0 else None
        cls = self.cls[agent]
        if cls == K.NOISE:
            self.noise(t, agent, bid, ask)
        elif cls == K.VALUE:
            self.value(t, agent, bid, ask)
        elif cls == K.MAKER:
            self.maker(t, agent, bid, ask)
        elif cls == K.EXECUTION:
            self.execution(t, agent, bid, ask)
        elif cls == K.LEVERAGED:
            lv, k = self.config.leveraged, self.idx[agent]
            side = lv.side if lv.side != 0 else (1 if k % 2 == 0 else -1)
            self.send(t + 2 * self.lat[agent], K.MARKET, agent, side, 0, lv.position_lots)
        elif cls == K.STOP:
            sl, k = self.config.stop_loss, self.idx[agent]
            if bid is not None and ask is not None:
                self.stops[k] = (bid + ask) // 2 + sl.side * (sl.first_ticks + k * sl.spacing_ticks)
        else:
            self.momentum(t, agent, bid, ask)

    def fundamental_at(self, t):
        f = self.config.fundamental
        kappa, var_rate = f.mean_reversion_per_s * 1e-9, f.volatility_ticks_per_sqrt_s**2 * 1e-9
        gen = self.gens[0]

        def step(value, dt):
            mean = f.mean_ticks + (value - f.mean_ticks) * math.exp(-kappa * dt)
            sd = math.sqrt(var_rate * -math.expm1(-2.0 * kappa * dt) / (2.0 * kappa))
            return mean + sd * gen.standard_normal()

        if t <= self.fund_last:
            return self.fund_value
        shocks = 0

        def span(a, b):  # calendar ns, or business ns with the market's activity on
            return self.business(b) - self.business(a) if self.act_rate else b - a

        while self.shock_at < t:
            self.fund_value = step(self.fund_value, span(self.fund_last, self.shock_at)) + self.shock_size
            self.fund_last = self.shock_at
            rate = f.megashock_rate_per_s * 1e-9
            self.shock_at += int(min(gen.standard_exponential() / rate if rate > 0 else 9e18, 9e18 - self.shock_at))
            size = f.megashock_mean_ticks + math.sqrt(f.megashock_variance_ticks2) * gen.standard_normal()
            self.shock_size = size if gen.random() < 0.5 else -size
            shocks += 1
        self.fund_value = step(self.fund_value, span(self.fund_last, t))
        self.fund_last = t
        self.fundamental.append((t, self.fund_value, shocks))
        return self.fund_value

    def news(self, t):
        """The news jump: the fundamental at ``t``, times (1 + jump), recorded at ``t``."""
        looks = len(self.fundamental)
        value = self.fundamental_at(t)
        shocks = self.fundamental.pop()[2] if len(self.fundamental) > looks else 0
        self.fund_value = value * (1.0 + self.config.shocks.news.jump_bps / 10_000.0)
        self.news_values = [value, self.fund_value]
        self.fundamental.append((t, self.fund_value, shocks))

    def value(self, t, agent, bid, ask):
        v, k, gen = self.config.value, self.idx[agent], self.gens[2]
        r_bar, kappa = self.config.fundamental.mean_ticks, v.mean_reversion_per_s * 1e-9
        flow = self.flow_others if v.flow_learning_source == "others" else self.flow
        looked = self.fundamental_at(t) + v.flow_learning_ticks_per_lot * flow
        obs = float(np.rint(looked + math.sqrt(v.observation_variance_ticks2) * gen.standard_normal()))
        d = float(t - self.prev[k])
        a = math.exp(-kappa * d)
        prior = r_bar + (self.estimate[k] - r_bar) * a
        prior_var = a * a * self.variance[k] + v.shock_variance_ticks2_per_s * 1e-9 * -math.expm1(-2 * kappa * d) / (
            2 * kappa
        )
        s_n = v.observation_variance_ticks2
        self.estimate[k] = (s_n * prior + prior_var * obs) / (s_n + prior_var)
        old = self.variance[k] if v.variance_update == "abides" else prior_var
        self.variance[k] = s_n * old / (s_n + old)
        self.prev[k] = t
        horizon = float(max(0, self.end - t))
        forecast = int(np.rint(r_bar + (self.estimate[k] - r_bar) * math.exp(-kappa * horizon)))
        if v.latent_depth_ticks > 0:
            two_sided = bid is not None and ask is not None
            premium = (bid + ask) // 2 - forecast if v.latent_anchor == "price" and two_sided else 0
            self.latent_look(t, agent, forecast, d, premium)
            return
        coin, move = gen.random(), gen.random()  # both drawn at every look (common random numbers)
        if bid is None or ask is None:
            side, price = (1 if coin < 0.5 else -1), forecast
        else:
            mid, spread, adjust = (ask + bid) // 2, ask - bid, 0
            if coin >= v.aggressive_share:
                adjust = int(move * max(1, int(v.depth_spread * spread)))
            side, price = (-1, bid + adjust) if forecast < mid else (1, ask - adjust)
        size = twin_size(gen)
        if v.size_mispricing_scale_ticks > 0 and bid is not None and ask is not None and size > 0:  # ours: the size
            # grown with |forecast - mid|, at most the cap
            x = abs(forecast - (ask + bid) // 2) / v.size_mispricing_scale_ticks
            factor = 1.0 + (x if v.size_mispricing_power == 1.0 else x**v.size_mispricing_power)
            if v.size_mispricing_max_factor > 0:
                factor = min(factor, v.size_mispricing_max_factor)
            size = int(np.rint(size * factor))
        self.order(t, agent, side, price, size)

    def latent_look(self, t, agent, forecast, since_ns, premium):
        """The latent-liquidity rule: redraw the order at the first look or at a Poisson refresh (keeping the mid's
        premium over the forecast then, 0 unless anchored on the price), post what is left at the forecast plus
        that premium -/+ the private offset."""
        v, k, gen = self.config.value, self.idx[agent], self.gens[2]
        refresh, w, coin = gen.random(), gen.random(), gen.random()
        size = twin_size(gen)
        p_refresh = 1.0 - math.exp(-v.latent_refresh_per_s * since_ns / 1e9)
        if self.latent[k] is None or refresh < p_refresh:
            side = 1 if coin < 0.5 else -1
            offset = int(np.rint(v.latent_depth_ticks * math.sqrt(w)))
            lots = v.latent_size_lots if v.latent_size_lots > 0 else size
            self.latent[k] = dict(side=side, offset=offset, lots=lots, inv0=self.inv[agent], premium=premium)
        order = self.latent[k]
        left = order["lots"] - order["side"] * (self.inv[agent] - order["inv0"])
        if left > 0:
            self.order(t, agent, order["side"], forecast + order["premium"] - order["side"] * order["offset"], left)

    def maker(self, t, agent, bid, ask):
        m, k = self.config.market_maker, self.idx[agent]
        previous_mid = self.last_mid[k]
        if bid is not None and ask is not None:
            self.last_mid[k] = (ask + bid) // 2
            self.spread[k] = m.spread_alpha * (ask - bid) + (1 - m.spread_alpha) * self.spread[k]
        mid = self.last_mid[k]
        if mid is not None:
            window_ns = int(round(m.volume_window_s * 1e9))
            if m.volume_kernel == "exponential":  # every trade so far, weighed by exp(-age / window)
                trades = [e for e in self.events if e[1] == TRADE]
                weight = [math.exp(-(t - e[0]) / window_ns) for e in trades]
            else:  # the box: the trades of the window, whole
                trades = [e for e in self.events if e[1] == TRADE and e[0] > t - window_ns]
                weight = [1] * len(trades)
            buys = sum(e[4] * w for e, w in zip(trades, weight, strict=True) if e[2] == 1)
            sells = sum(e[4] * w for e, w in zip(trades, weight, strict=True) if e[2] == -1)
            size = max(m.min_order_size, int(np.rint(m.pov * (buys + sells))))
            if m.size_volume != "all":  # the size from a part of the window's trades: e[6] aggressor, e[7] resting
                makers = [[e[j] >= 0 and self.cls[e[j]] == K.MAKER for j in (6, 7)] for e in trades]
                keep = (not any(x) if m.size_volume == "others" else not all(x) for x in makers)
                counted = sum(e[4] * w for e, w, kept in zip(trades, weight, keep, strict=True) if kept)
                size = max(m.min_order_size, int(np.rint(m.pov * counted)))
            w = self.spread[k]
            inventory_trigger = m.withdraw_inventory_lots > 0 and abs(self.inv[agent]) >= m.withdraw_inventory_lots
            move = previous_mid is not None and previous_mid > 0 and abs(mid - previous_mid) / previous_mid * 1e4
            if self.window("withdrawal", t):
                shock = self.config.shocks.withdrawal
                size = math.floor(size * shock.size_factor)
                size = max(1, size) if shock.size_factor > 0 else size
                w = w * shock.spread_factor
            elif inventory_trigger or (m.withdraw_move_bps > 0 and move is not False and move >= m.withdraw_move_bps):
                size = max(1, math.floor(size * m.withdraw_size_factor))
                w = w * m.withdraw_spread_factor
            step = max(1, int(np.rint(m.level_spacing * w)))
            shift = int(m.inventory_skew_ticks_per_lot * self.inv[agent])  # the inventory skew: toward zero, capped
            if m.inventory_skew_max_ticks > 0:
                shift = min(max(shift, -m.inventory_skew_max_ticks), m.inventory_skew_max_ticks)
            centre = mid
            if m.center_halflife_s > 0:  # the slow centre: an EMA of the mids at the decisions, half-life in ns
                hl = int(round(m.center_halflife_s * 1e9))
                if self.centre[k] is None:
                    self.centre[k] = (float(mid), float(t))
                else:
                    c, ct = self.centre[k]
                    decay = math.exp(-0.6931471805599453 * (t - ct) / hl)  # (w is the spread here)
                    self.centre[k] = (decay * c + (1.0 - decay) * mid, float(t))
                    if m.center_snap_ticks > 0 and abs(mid - self.centre[k][0]) > m.center_snap_ticks:  # the snap
                        self.centre[k] = (float(mid), float(t))
                        self.snaps[k] += 1
                centre = int(np.rint(self.centre[k][0]))
            centre = centre - shift
            u = self.gens[3].random() if m.skew_rounding == "random" else None  # drawn at every decision
            if m.skew_prior_lots > 0:  # the imbalance shrunk toward 0 by a prior volume; whole ticks toward zero,
                # or at random: the size one tick above its floor with its fraction's probability, the sign kept
                x = (buys - sells) / (buys + sells + m.skew_prior_lots) * m.price_skew_ticks
                ticks = int(x)
                if u is not None:
                    ticks = (1 if x >= 0 else -1) * (math.floor(abs(x)) + (1 if u < abs(x) - math.floor(abs(x)) else 0))
                    self.rounded_away[k] += ticks != int(x)
                point = centre + ticks
            else:
                imbalance = 0.0 if buys + sells == 0 else 2.0 * buys / (buys + sells) - 1.0
                point = centre if buys + sells == 0 else int(centre + imbalance * m.price_skew_ticks)
            half = m.min_half_spread_ticks
            if m.half_spread_profile:  # the floor of the part of the session t is in (first before the open, last
                # after the last part)
                part_ns = math.floor(self.config.session_s * 1e9 / len(m.half_spread_profile))
                part = min(max((t - self.config.open_ns) // part_ns, 0), len(m.half_spread_profile) - 1)
                half = int(np.rint(m.min_half_spread_ticks * m.half_spread_profile[part]))
            high_bid, low_ask = point - max(math.floor(w / 2), half), point + max(math.ceil(w / 2), half)
            if m.quote_offset_ticks > 0:  # each side moved away from the mid by 0 .. quote_offset_ticks ticks
                high_bid -= min(int(self.gens[3].random() * (m.quote_offset_ticks + 1)), m.quote_offset_ticks)
                low_ask += min(int(self.gens[3].random() * (m.quote_offset_ticks + 1)), m.quote_offset_ticks)
            high_bid, low_ask = high_bid - k * m.layer_ticks, low_ask + k * m.layer_ticks  # maker k's layer
            if m.inventory_skew_ticks_per_lot > 0 or m.center_halflife_s > 0:  # post only: the best bid below the
                # ask seen, the best ask above, by at least the gap (0 or 1: one tick)
                gap = max(1, m.post_only_gap_ticks)
                high_bid = high_bid if ask is None else min(high_bid, ask - gap)
                low_ask = low_ask if bid is None else max(low_ask, bid + gap)
            best = {1: K.LIMIT, -1: K.LIMIT}  # the best orders' message kinds (None: not sent, the kept one stays)
            if m.keep_touch_ticks >= 0:
                delays = {1: self.jitter(), -1: self.jitter()}
                for side, price in ((1, high_bid), (-1, low_ask)):
                    best[side] = self.keep_or_cancel(t, agent, side, price, delays[side])
            parts = max(m.touch_orders, 1)
            touch = [size // parts + (1 if j < size % parts else 0) for j in range(parts)]
            for level in reversed(range(m.levels)):
                for qty in touch if level == 0 else [size]:
                    qty = self.touch_size() if level == 0 and m.touch_size_weights else qty
                    delay = self.jitter()
                    if level > 0 or best[1] is not None:
                        self.order(t, agent, 1, high_bid - level * step, qty, delay, best[1] if level == 0 else K.LIMIT)
            for level in range(m.levels):
                for qty in touch if level == 0 else [size]:
                    qty = self.touch_size(-1) if level == 0 and m.touch_size_weights else qty
                    delay = self.jitter()
                    if level > 0 or best[-1] is not None:
                        self.order(
                            t, agent, -1, low_ask + level * step, qty, delay, best[-1] if level == 0 else K.LIMIT
                        )
        else:
            for _ in range(1 if m.skew_rounding == "random" else 0):
                self.gens[3].random()
                self.no_mid_draws[k] += 1
            for _ in range(2 if m.quote_offset_ticks > 0 else 0):
                self.gens[3].random()
            for _ in range(2 if m.keep_touch_ticks >= 0 else 0):
                self.jitter()
            for _ in range(2 * (m.levels + max(m.touch_orders, 1) - 1)):
                self.jitter()
            for _ in range(2 * max(m.touch_orders, 1) if m.touch_size_weights else 0):
                self.touch_size()
        self.send(self.later(t + self.lat[agent], self.wait(self.gens[3], m.wake_interval_s * 1e9)), K.WAKE, agent)

    def execution(self, t, agent, bid, ask):
        x, k = self.config.execution, self.idx[agent]
        if self.exec_start[k] is None:
            self.exec_start[k] = self.volume
        done = x.side * self.inv[agent]
        remaining = x.quantity_lots - done
        if x.strategy in ("vwap", "almgren_chriss"):
            j = min((t - self.exec_start_ns) // self.exec_interval, len(self.schedule) - 1)
            child = min(remaining, self.schedule[j] - done)
        elif x.strategy == "pov" and x.volume_window_s > 0:
            since = t - int(round(x.volume_window_s * 1e9))
            recent = [e for e in self.events if e[1] == TRADE and e[0] > since]
            total = sum(e[4] for e in recent)
            own = sum(e[4] for e in recent if agent in (e[6], e[7]))
            child = min(remaining, math.floor(x.participation / (1.0 - x.participation) * (total - own)) - own)
        elif x.strategy == "pov":
            others = self.volume - self.exec_start[k] - done
            child = min(remaining, math.floor(x.participation / (1.0 - x.participation) * others) - done)
        else:  # slice j of n: ceil(Q (j + 1) / n) lots due by its end
            n = max(1, math.ceil((self.exec_end - self.exec_start_ns) / self.exec_interval))
            j = min(max(n - max(1, math.ceil((self.exec_end - t) / self.exec_interval)), 0), n - 1)
            child = min(remaining, -(-x.quantity_lots * (j + 1) // n) - done)
        touch = ask if x.side == 1 else bid
        if child > 0 and touch is not None:
            self.send(t + 2 * self.lat[agent], K.LIMIT, agent, x.side, touch, child)

    def momentum(self, t, agent, bid, ask):
        mo, k = self.config.momentum, self.idx[agent]
        size = twin_size(self.gens[4])  # drawn at every look, used or not
        if bid is not None and ask is not None:
            mids = self.mids[k]
            mids.append(0.5 * (bid + ask))
            if len(mids) > mo.long_window and len(mids) > mo.short_window:
                short = sum(mids[-mo.short_window :]) / mo.short_window
                long = sum(mids[-mo.long_window :]) / mo.long_window
                side = 1 if short >= long else -1
                self.order(t, agent, side, ask if side == 1 else bid, size)
        self.send(self.later(t + self.lat[agent], self.wait(self.gens[4], mo.wake_interval_s * 1e9)), K.WAKE, agent)


def twin_books(twin: TwinMarket) -> tuple[np.ndarray, ...]:
    """The twin's per-event books as four (rows, depth) arrays, like the kernel's."""
    bp = np.array([[p for p, _ in b] for _, b, _ in twin.books], np.int64).reshape(-1, twin.depth)
    bq = np.array([[q for _, q in b] for _, b, _ in twin.books], np.int64).reshape(-1, twin.depth)
    ap = np.array([[p for p, _ in a] for _, _, a in twin.books], np.int64).reshape(-1, twin.depth)
    aq = np.array([[q for _, q in a] for _, _, a in twin.books], np.int64).reshape(-1, twin.depth)
    bp[bq == 0], ap[aq == 0] = NO_PRICE, NO_PRICE
    return bp, bq, ap, aq
