"""Roll generated messages out on the matching engine, one book per path, batched over paths.

Every message a model generates is executed on :mod:`simlab.book._engine`, so a path's books are always those of
the engine: an ADD rests at its price (ticks inside the opposite best), a CANCEL takes its size out of a resting
order chosen uniformly among those at its level that hold more than that size, a DELETE removes the order of its
level whose size is nearest the message's (uniformly among ties: the removed order's size is what the data
record), a TRADE is a market order of the aggressor side (one TRADE event per fill, as the book
simulators record them) for its share of the best opposite level's lots (encoding version 3,
:mod:`generators.shares`: a share in ``(0, 1]`` takes 1 to all of them), so it stays within that level, as a
LOBSTER execution message does (with ``trade_fill = "front"``, :data:`TRADE_FILLS`, it executes against the
level's front order only, at most that order's lots, as one LOBSTER execution row executes one order; the
trades so held below their share are counted, ``front_held``), and a hidden trade
prints at its price without touching the book. The level of a CANCEL or DELETE counts the non-empty levels from the
best; a level above the encoding's ``book_levels`` means "beyond the levels the model sees", and the removal takes
the non-empty level beyond them whose price is nearest the message's (ticks behind the same-side best; the inner
one on a tie). With an encoding of ``cancel_position = "volume"`` the level field of a removal is its volume
position (:func:`generators.encoding.volume_position`): it takes the level whose share of the cumulative lots of
the side's first ``book_levels`` non-empty levels holds it in the engine's book before it
(:func:`generators.encoding.position_level`; at or above :data:`generators.encoding.VOLUME_GRID`: beyond them,
placed by its price as above), and the history keeps the position of that level as the encoding writes it (the
middle of its share). A message that cannot apply (:data:`REASONS`: a negative time or a
size below 1, an ADD at or through the opposite best, a removal at a level the side does not have or where no order
is large enough, a trade against an empty side or whose share is above 1) is **rejected**: it
is counted by reason, the rest of its block is counted as **discarded** (it was generated after a message that did
not happen) and a new block is generated from the path's state. Nothing is dropped uncounted. A path on which
:data:`MAX_IDLE_CHAINS` blocks in a row give no message that applies is **stuck**: the rollout raises, or, when
asked, ends that path there and records it. A path whose messages keep applying at a rate far above any the data
show is a **runaway** (a model that feeds on its own output can speed its flow up without bound): with a
:class:`RateGuard` of ``messages`` per ``seconds``, a path on which more than ``messages`` messages apply within one
``seconds``-long interval of its clock (the intervals counted from its start) is ended after that message and
recorded (``runaway`` = 1; the rest of its block counts as discarded). A level-N file records no removal behind
its N levels, so a model trained on one generates none, and the orders its flow left behind the best come back
with their level when the best empties; with a ``thin_rate`` (:class:`BookPath`; estimated from the data by
:func:`generators.thinning.behind_hazard`), those orders are thinned while they wait behind the best, as the data's
unrecorded removals thin them.

This is the slow Python twin of the numba rollout (:mod:`generators.rollout_fast`, :mod:`generators.rollout_kernel`)
that :meth:`generators.base.BookGenerator.sample` runs unless asked for the twin: both give the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from generators import encoding as enc
from generators.shares import SHARE_ONE, trade_lots, trade_share
from simlab.book import _engine as E
from simlab.errors import DataError, ParameterError, SimlabError
from simlab.schema import NO_PRICE, EventKind, make_books, make_events

REASONS = ("bad_value", "crossing_add", "no_level", "no_order", "empty_side", "trade_beyond_best")
# what a generated TRADE fills: its share of the best opposite queue, as many resting orders as that takes
# ("queue"), or at most the queue's front order ("front": one fill, as one execution row of the data)
TRADE_FILLS = ("queue", "front")
MAX_IDLE_CHAINS = 200
MESSAGE_THINNED = -2  # the ``message`` of a DELETE that thinning behind the best made (BookPath's ``thin_rate``)
_GRID_TICKS = 4096
_GUARD_LIMIT = 2**62  # a rate guard's messages and nanoseconds stay below this (int64 in the numba kernel)


@dataclass(frozen=True)
class RateGuard:
    """The runaway bound of a rollout: a path is ended once more than ``messages`` messages apply within one
    ``seconds``-long interval of its clock (intervals from the path's start; see the module docstring)."""

    messages: int
    seconds: float

    def __post_init__(self) -> None:
        messages, seconds = self.messages, self.seconds
        whole = not isinstance(messages, (bool, np.bool_)) and isinstance(messages, (int, np.integer))
        if not whole or not 1 <= messages < _GUARD_LIMIT:
            raise ParameterError(
                f"`messages` of the rollout's rate guard must be an int in 1-{_GUARD_LIMIT - 1}; got {messages!r}"
            )
        real = (int, float, np.integer, np.floating)
        number = not isinstance(seconds, (bool, np.bool_)) and isinstance(seconds, real)
        if not number or not np.isfinite(seconds) or not 1 <= round(float(seconds) * 1e9) < _GUARD_LIMIT:
            raise ParameterError(
                f"`seconds` of the rollout's rate guard must be a number > 0 s and below {_GUARD_LIMIT / 1e9:.3g} s; "
                f"got {seconds!r}"
            )

    @property
    def window_ns(self) -> int:
        """The interval in nanoseconds."""
        return int(round(float(self.seconds) * 1e9))

    @classmethod
    def parse(cls, text: str, flag: str = "--runaway") -> RateGuard:
        """Read ``MESSAGES/SECONDS`` (e.g. ``1328/60``) as a command line gives it."""
        messages, slash, seconds = str(text).partition("/")
        try:
            if not (slash and messages.isascii() and messages.isdigit()):
                raise ValueError(text)
            return cls(int(messages), float(seconds))
        except (ValueError, ParameterError):
            raise ParameterError(
                f"`{flag}` must be MESSAGES/SECONDS, an int >= 1 and a number of seconds > 0 (e.g. 1328/60); "
                f"got {text!r}"
            ) from None


@dataclass
class RolloutCounts:
    """What happened to the generated messages of one path."""

    applied: int = 0
    rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    discarded: int = 0
    chains: int = 0
    unfilled_lots: int = 0
    stuck: int = 0  # 1 when the path was ended early because no generated message applied any more
    runaway: int = 0  # 1 when the path was ended early by the rate guard (RateGuard)
    front_held: int = 0  # TRADEs held to the front order's lots, below their share (trade_fill "front")
    thinned: int = 0  # orders of the flow deleted behind the best by thinning (thin_rate)

    def to_dict(self) -> dict[str, Any]:
        """Return the counts as a flat JSON-serialisable mapping."""
        out = {"applied": self.applied, "discarded": self.discarded, "chains": self.chains, "stuck": self.stuck}
        out.update(runaway=self.runaway, front_held=self.front_held, thinned=self.thinned)
        out.update(unfilled_lots=self.unfilled_lots, rejected=sum(self.rejected.values()))
        out.update({f"rejected_{name}": value for name, value in self.rejected.items()})
        return out


class BookPath:
    """One path: the engine state started from a context book, the messages applied and the records written.

    Parameters
    ----------
    context
        The start state (see :meth:`generators.diffusion.DiffusionGenerator.context`): ``books`` int64
        ``(rows, 4, levels)`` (the last row starts the engine, one order per level), ``table`` the messages that
        led to the rows, ``ts_ns`` the start time.
    depth
        Levels of the recorded books.
    rng
        Picks the orders that cancels and deletes remove.
    end_ns
        Messages after this time are not applied (the path is done).
    stop_when_stuck
        After :data:`MAX_IDLE_CHAINS` generated blocks in a row with no message that applies, end the path there
        (``stuck`` = 1 in its counts) instead of raising.
    book_levels
        The encoding's :attr:`~generators.encoding.Encoding.book_levels`: removals at a higher level are placed by
        their price.
    cancel_position
        The encoding's :attr:`~generators.encoding.Encoding.cancel_position`: ``"level"`` (a removal's level field is
        its level) or ``"volume"`` (its volume position, see the module docstring) or ``"depth"`` (the same with
        the pseudo-depth ``beyond_lots``, bid then ask, behind the counted levels: a position in its share is a
        removal beyond them, placed by its price).
    beyond_lots
        The encoding's :attr:`~generators.encoding.Encoding.beyond_lots` (``"depth"`` and ``"spread"``).
    beyond_ticks
        The encoding's :attr:`~generators.encoding.Encoding.beyond_ticks` (``"spread"`` only): a removal beyond the
        levels is kept as its :func:`generators.encoding.spread_position` by the price it took.
    add_price
        The encoding's :attr:`~generators.encoding.Encoding.add_price`: what an ADD's relative price is measured
        from (``"opposite"``: the opposite best; ``"own"``: its own side's best; ``"touch"``: its own best for a
        price at or behind it, the opposite best for one inside the spread).
    guard
        The :class:`RateGuard` that ends a runaway path (None: no bound on its rate).
    trade_fill
        What a TRADE fills (:data:`TRADE_FILLS`): ``"queue"``, its share of the best opposite level's lots, or
        ``"front"``, at most that level's front order (one fill).
    thin_rate
        Per order per second (>= 0; 0: none): the removals a level-1 file does not record (behind the best).
        Before a message applies (once it passed the horizon and empty-side checks), every order the flow placed
        (not the initial ones: the start book and the hidden levels, whose sizes are already the data's revealed
        depth) that rests behind its side's best is deleted with probability 1 - exp(-thin_rate g), bids then asks,
        each level from the best outwards, each queue from its head, one ``rng.random()`` per order, recorded as a
        DELETE at the path's time with message :data:`MESSAGE_THINNED` (counted, ``thinned``). ``g`` is the time
        from the latest message time thinning reached to this message's: a message then rejected leaves its
        thinning in place, and the next one thins only past it (its gap is never thinned twice).
    """

    def __init__(
        self,
        context: dict[str, Any],
        depth: int,
        rng: np.random.Generator,
        end_ns: int,
        stop_when_stuck: bool = False,
        book_levels: int = enc.DEPTH_LEVELS,
        cancel_position: str = "level",
        beyond_lots: tuple[int, ...] = (),
        beyond_ticks: tuple[int, ...] = (),
        add_price: str = "opposite",
        guard: RateGuard | None = None,
        trade_fill: str = "queue",
        thin_rate: float = 0.0,
    ) -> None:
        self.add_price = enc.check_add_price(add_price, source="BookPath")
        self.thin_rate = check_thin_rate(thin_rate, "BookPath")
        self.front = check_trade_fill(trade_fill, "BookPath") == "front"
        self.depth, self.rng, self.end_ns, self.book_levels = depth, rng, int(end_ns), int(book_levels)
        self.volume = enc.check_cancel_position(cancel_position, source="BookPath") != "level"
        self.beyond = enc._beyond(cancel_position, beyond_lots, "BookPath", beyond_ticks)  # pseudo-depth, scale
        self.stop_when_stuck = bool(stop_when_stuck)
        self.ts = int(context["ts_ns"])
        self.counts = RolloutCounts()
        self.done = False
        self.final = True  # False while ``end_ns`` is a regime switch, not the path's end
        self.idle = 0
        self.guard = guard
        self.interval = [self.ts, 0]  # the rate guard's interval: its start (ns) and the messages applied in it
        self.table = [row for row in np.asarray(context["table"], np.int64)]
        self.feature_books = [row[:, : enc.DEPTH_LEVELS] for row in np.asarray(context["books"], np.int64)]
        self.feature_books = self.feature_books[-len(self.table) - 1 :]
        self.events: list[tuple[int, ...]] = []
        self.books: list[np.ndarray] = []
        self.next_id = 1
        self._start_engine(np.asarray(context["books"], np.int64)[-1], start_orders(context))
        self.first_flow_id = self.next_id  # the orders the flow places from here on are the ones thinning removes
        self.thin_clock = self.ts  # the time up to which the book has been thinned

    def _start_engine(self, book: np.ndarray, orders: np.ndarray) -> None:
        priced = book[[0, 2]][book[[1, 3]] > 0]
        centre = int(np.median(priced)) if priced.size else 0
        self.state = E.new_engine(centre - _GRID_TICKS // 2, _GRID_TICKS, 1024)
        self.out = E.new_fills(256)
        self.last = [NO_PRICE, NO_PRICE]  # last quoted bid, ask
        for side, price, qty in orders.tolist():
            self._limit(side, price, qty)
            self._record(EventKind.ADD, side, price, qty, self.next_id - 1)
        self.initial_orders = len(self.events)
        self._quotes()

    def resume(self, end_ns: int, final: bool) -> None:
        """Go on to ``end_ns`` (the next switch, or the path's end when ``final``) from where the path stopped.

        A stuck or runaway path stays ended.
        """
        self.end_ns, self.final = int(end_ns), bool(final)
        self.done = bool(self.counts.stuck or self.counts.runaway)

    def features(self, encoding: enc.Encoding) -> tuple[np.ndarray, np.ndarray]:
        """Return the normalised history ``(history, MESSAGE_WIDTH)`` and book state ``(encoding.book_width,)``."""
        table = np.asarray(self.table[-max(encoding.history, enc.FLOW_WINDOW) :])
        rows = np.asarray(self.feature_books[-table.shape[0] - 1 :])
        signs = np.concatenate([[0], enc.flow_signs(table[:, enc.TYPE], table[:, enc.SIDE])])[-rows.shape[0] :]
        books = tuple(np.ascontiguousarray(rows[:, j]) for j in range(4))
        book = enc.book_features(books, signs, encoding.level_prices)[-1]
        return encoding.messages(table[-encoding.history :]), encoding.book(book[None, :])[0]

    def apply_block(self, rows: np.ndarray) -> None:
        """Apply generated messages in order until one is rejected or passes the horizon."""
        self.counts.chains += 1
        applied_before = self.counts.applied
        for index, row in enumerate(rows):
            reason = self.apply(row)
            if self.done:
                if not self.final:  # generated under the old regime past the switch: regenerated after it
                    self.counts.discarded += len(rows) - index
                break
            if reason is not None:
                self.counts.rejected[reason] += 1
                self.counts.discarded += len(rows) - index - 1
                break
            if self.guard is not None and self._over_rate():
                self.done, self.counts.runaway = True, 1
                self.counts.discarded += len(rows) - index - 1
                break
        self.idle = 0 if self.counts.applied > applied_before else self.idle + 1
        if self.idle >= MAX_IDLE_CHAINS and self.stop_when_stuck:
            self.done, self.counts.stuck = True, 1
        elif self.idle >= MAX_IDLE_CHAINS:
            raise SimlabError(
                f"generator rollout: {MAX_IDLE_CHAINS} generated blocks in a row (denoising chains or GAN passes) "
                f"gave no message that applies to the book; rejections so far {self.counts.rejected}"
            )

    def _over_rate(self) -> bool:
        # count the message just applied in the guard's interval (a new one once the clock passed its end)
        start, width = self.interval[0], self.guard.window_ns
        if self.ts - start >= width:
            self.interval = [start + (self.ts - start) // width * width, 0]
        self.interval[1] += 1
        return self.interval[1] > self.guard.messages

    def apply(self, row: np.ndarray) -> str | None:
        """Apply one message ``(dt_ns, type, side, price_rel_ticks, size_lots, level)``; return why not, or None."""
        dt, kind, side, rel, size, level = (int(v) for v in row)
        if dt < 0 or size < 1 or side not in (1, -1):
            return "bad_value"
        if self.ts + dt > self.end_ns:
            self.done = True
            return None
        if NO_PRICE in self.last:
            return "empty_side"  # a side never quoted yet: no reference for prices
        if self.thin_rate > 0.0 and self.ts + dt > self.thin_clock:  # a rejected message's gap is not thinned twice
            self._thin(self.ts + dt - self.thin_clock)
            self.thin_clock = self.ts + dt
        reference = np.array(self.last, np.int64)
        ts = self.ts + dt
        if kind == enc.TYPE_ADD:
            result = self._add(side, int(enc.absolute_price(kind, side, rel, reference, self.add_price)[0]), size, ts)
        elif kind in (enc.TYPE_CANCEL, enc.TYPE_DELETE):
            target = int(enc.absolute_price(kind, side, rel, reference)[0])
            level, position = self._level(side, level)
            result = self._remove(kind, side, size, level, target, ts)
            scale = self.beyond[2 if side == 1 else 3]
            if scale > 0 and not isinstance(result, str) and level > self._shown[0]:  # "spread": its place in the share
                shown, depth, prices, lots = self._shown
                ticks = enc.behind_last(prices[None, :], lots[None, :], np.array([result[0]]), side, scale)
                beyond = self.beyond[0 if side == 1 else 1]
                position = int(enc.spread_position(np.array([depth]), beyond, ticks, scale)[0])
        elif kind == enc.TYPE_TRADE:
            result = self._trade(side, size, ts)
        else:
            if (E.best_ask(self.state) if side == 1 else E.best_bid(self.state)) == NO_PRICE:
                return "empty_side"
            result = (int(enc.absolute_price(kind, side, rel, reference)[0]), size)
            self._record(EventKind.TRADE_HIDDEN, side, result[0], size, -1, ts)
        if isinstance(result, str):
            return result
        price, applied_size = result
        applied_level = position if kind in (enc.TYPE_CANCEL, enc.TYPE_DELETE) else 0
        applied_rel = int(enc.relative_price(kind, side, price, reference, self.add_price)[0])
        self.table.append(np.array([dt, kind, side, applied_rel, applied_size, applied_level]))
        self.ts = ts
        self.counts.applied += 1
        self._quotes()
        self.feature_books.append(self.books[-1][:, : enc.DEPTH_LEVELS])
        return None

    def _thin(self, dt: int) -> None:
        """Delete each flow order behind its side's best with probability 1 - exp(-thin_rate dt) (see the class)."""
        prob = 1.0 - math.exp(-self.thin_rate * (dt * 1e-9))
        for side in (1, -1):
            best = E.best_bid(self.state) if side == 1 else E.best_ask(self.state)
            if best == NO_PRICE:
                continue
            row = E.BID_ROW if side == 1 else E.ASK_ROW
            orders, levels, origin = self.state[1], self.state[2], int(self.state[0][E.ORIGIN])
            prices = origin + np.flatnonzero(levels[row, :, E.L_COUNT] > 0)
            for price in sorted((int(q) for q in prices if side * (q - best) < 0), key=lambda q: -side * q):
                queue, slot = [], levels[row, price - origin, E.L_HEAD]
                while slot >= 0:
                    queue.append((int(orders[slot, E.O_ID]), int(orders[slot, E.O_QTY])))
                    slot = orders[slot, E.O_NEXT]
                for order_id, qty in queue:
                    if order_id >= self.first_flow_id and self.rng.random() < prob:
                        E.delete(self.state, order_id, self.out)
                        self._record(EventKind.DELETE, side, price, qty, order_id, self.ts, MESSAGE_THINNED)
                        self.counts.thinned += 1

    def _add(self, side: int, price: int, size: int, ts: int) -> tuple[int, int] | str:
        opposite = E.best_ask(self.state) if side == 1 else E.best_bid(self.state)
        if opposite != NO_PRICE and side * (price - opposite) >= 0:
            return "crossing_add"
        self._limit(side, price, size, ts)
        self._record(EventKind.ADD, side, price, size, self.next_id - 1, ts)
        return price, size

    def _level(self, side: int, field: int) -> tuple[int, int]:
        """Return the level a removal's level field names in the book now, and the field the history keeps."""
        if not self.volume:
            return field, min(field, self.book_levels + 1)
        lots = np.array([[E.queue_qty_at(self.state, side, k) for k in range(1, self.book_levels + 1)]], np.int64)
        rows = np.zeros((4, 1, self.book_levels), np.int64)
        E.top_k(self.state, self.book_levels, rows[0], rows[1], rows[2], rows[3], 0)
        prices, shown_qty = (rows[0, 0], rows[1, 0]) if side == 1 else (rows[2, 0], rows[3, 0])
        self._shown = (int((lots > 0).sum()), int(lots.sum()), prices, shown_qty)
        beyond = self.beyond[0 if side == 1 else 1]
        level = int(enc.position_level(np.array([field], np.int64), lots, beyond)[0])
        if level == 0:
            return 0, 0
        return level, int(enc.volume_position(np.array([level], np.int64), lots, beyond)[0])

    def _remove(self, kind: int, side: int, size: int, level: int, target: int, ts: int) -> tuple[int, int] | str:
        row = E.BID_ROW if side == 1 else E.ASK_ROW
        orders, levels, origin = self.state[1], self.state[2], int(self.state[0][E.ORIGIN])
        grids = np.flatnonzero(levels[row, :, E.L_COUNT] > 0)[:: -1 if side == 1 else 1]  # from the best outwards
        if level < 1 or min(level, self.book_levels + 1) > grids.shape[0]:
            return "no_level"
        if level > self.book_levels:  # beyond the levels the model sees: the nearest price among those
            deep = grids[self.book_levels :]
            grid = int(deep[np.argmin(np.abs(origin + deep - target))])
        else:
            grid = int(grids[level - 1])
        slots, slot = [], levels[row, grid, E.L_HEAD]
        while slot >= 0:
            slots.append(int(slot))
            slot = orders[slot, E.O_NEXT]
        if kind == enc.TYPE_DELETE:
            gaps = [abs(int(orders[s, E.O_QTY]) - size) for s in slots]
            candidates = [s for s, gap in zip(slots, gaps, strict=True) if gap == min(gaps)]
        else:
            candidates = [s for s in slots if orders[s, E.O_QTY] > size]
        if not candidates:
            return "no_order"
        slot = candidates[int(self.rng.integers(len(candidates)))]
        order_id, price, qty = (int(orders[slot, f]) for f in (E.O_ID, E.O_PRICE, E.O_QTY))
        if kind == enc.TYPE_DELETE:
            E.delete(self.state, order_id, self.out)
            self._record(EventKind.DELETE, side, price, qty, order_id, ts)
            return price, qty
        E.cancel(self.state, order_id, size, self.out)
        self._record(EventKind.CANCEL, side, price, size, order_id, ts)
        return price, size

    def _trade(self, side: int, share: int, ts: int) -> tuple[int, int] | str:
        # the message's size is its share of the best opposite queue (encoding version 3): the lots it takes are
        # decoded against the queue it meets, and the history keeps the share of those lots (the training layout)
        best = E.best_ask(self.state) if side == 1 else E.best_bid(self.state)
        if best == NO_PRICE:
            return "empty_side"
        if share > SHARE_ONE:
            return "trade_beyond_best"
        queue = int(E.level_qty(self.state, -side, best))
        size = int(trade_lots(share, queue))
        if self.front:  # at most the front order of the level (the head of its time-priority queue)
            row = E.ASK_ROW if side == 1 else E.BID_ROW
            head = self.state[2][row, best - int(self.state[0][E.ORIGIN]), E.L_HEAD]
            front = int(self.state[1][head, E.O_QTY])
            if size > front:
                size, self.counts.front_held = front, self.counts.front_held + 1
        self.out[1][0] = 0
        status = E.market(self.state, side, size, -1, ts, self.out)
        while status == E.FILL_CAPACITY:
            self.out = E.grow_fills(self.out, 2 * self.out[0].shape[0])
            status = E.market(self.state, side, size, -1, ts, self.out)
        fills = self.out[0][: self.out[1][0]]
        for fill in fills:
            self._record(EventKind.TRADE, side, int(fill[E.F_PRICE]), int(fill[E.F_QTY]), int(fill[E.F_PASSIVE]), ts)
        self.counts.unfilled_lots += int(self.state[0][E.LAST_UNFILLED])
        return int(fills[0, E.F_PRICE]), int(trade_share(size, queue))

    def _limit(self, side: int, price: int, size: int, ts: int | None = None) -> None:
        ts = self.ts if ts is None else ts
        while True:
            status = E.limit(self.state, side, price, size, self.next_id, ts, self.out)
            if status == E.OK:
                break
            if status == E.OFF_GRID:
                self.state = E.grow_engine(self.state, price - _GRID_TICKS // 2, _GRID_TICKS, 1)
            elif status == E.CAPACITY:
                self.state = E.grow_engine(self.state, self.state[0][E.ORIGIN], 1, 2 * self.state[1].shape[0])
            else:
                raise SimlabError(f"generator rollout: the engine refused an ADD: {E.STATUS_TEXT[status]}")
        self.next_id += 1

    def _record(
        self,
        kind: int,
        side: int,
        price: int,
        qty: int,
        order_id: int,
        ts: int | None = None,
        message: int | None = None,
    ) -> None:
        if message is None:  # the index of the message being applied, or -1 for an initial order
            message = self.counts.applied if ts is not None else -1
        self.events.append((self.ts if ts is None else ts, int(kind), side, price, qty, order_id, message))
        rows = np.zeros((4, 1, self.depth), np.int64)
        E.top_k(self.state, self.depth, rows[0], rows[1], rows[2], rows[3], 0)
        self.books.append(rows[:, 0])

    def _quotes(self) -> None:
        bid, ask = E.best_bid(self.state), E.best_ask(self.state)
        self.last = [bid if bid != NO_PRICE else self.last[0], ask if ask != NO_PRICE else self.last[1]]

    def datasets(self, attrs: dict[str, Any], source: str) -> dict[str, xr.Dataset]:
        """Return the path's ``events`` and ``books`` (the initial orders first, as ADDs at the start time).

        The events' extra ``message`` is the index of the generated message each record comes from (-1 for the
        initial orders, :data:`MESSAGE_THINNED` for a removal thinning made): a market order's fills share one,
        and all carry the book after the whole order.
        """
        ev = np.asarray(self.events, dtype=np.int64).reshape(-1, 7)
        books = np.asarray(self.books, dtype=np.int64).reshape(-1, 4, self.depth)
        return path_datasets(ev, books, self.initial_orders, self.counts, attrs, source)


def check_thin_rate(value: Any, source: str = "thin_rate") -> float:
    """Return ``value`` as a thinning rate (per order per second, finite, >= 0) or raise our sentence."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not (np.isfinite(value) and value >= 0)
    ):
        raise ParameterError(f"{source}: `thin_rate` must be a finite number of removals per order per second >= 0; "
                             f"got {value!r}")  # fmt: skip
    return float(value)


def check_trade_fill(value: Any, source: str = "trade_fill") -> str:
    """Return ``value`` if it is one of :data:`TRADE_FILLS`, else raise our error naming ``source``."""
    if value not in TRADE_FILLS:
        raise ParameterError(f"{source}: `trade_fill` must be one of {list(TRADE_FILLS)}; got {value!r}")
    return value


def path_datasets(
    ev: np.ndarray, books: np.ndarray, initial_orders: int, counts: RolloutCounts, attrs: dict[str, Any], source: str
) -> dict[str, xr.Dataset]:
    """Return a path's ``events`` and ``books`` Datasets from its records.

    Parameters
    ----------
    ev
        int64 ``(n, 7)``: ts_ns, kind, side, price_ticks, qty_lots, order_id, message.
    books
        int64 ``(n, 4, depth)``: bid price, bid qty, ask price, ask qty after each record.
    initial_orders, counts
        Written to the attributes with ``attrs``.
    attrs, source
        The run's attributes (tick and lot size, instrument and venue among them) and the producer's name.
    """
    run = {**attrs, "initial_orders": int(initial_orders), **counts.to_dict()}
    keys = {name: attrs[name] for name in ("tick_size", "lot_size", "instrument", "venue")}
    events = make_events(
        ts_ns=ev[:, 0], kind=ev[:, 1], side=ev[:, 2], price_ticks=ev[:, 3], qty_lots=ev[:, 4], order_id=ev[:, 5],
        extra={"message": ev[:, 6]}, attrs={k: v for k, v in run.items() if k not in keys}, source=source, **keys,
    )  # fmt: skip
    books = make_books(
        ts_ns=ev[:, 0], bid_price=books[:, 0], bid_qty=books[:, 1], ask_price=books[:, 2], ask_qty=books[:, 3],
        attrs={k: v for k, v in run.items() if k not in keys}, source=source,
    )  # fmt: skip
    return {"events": events, "books": books}


def start_orders(context: dict[str, Any]) -> np.ndarray:
    """Return the orders a path's engine starts with: int64 ``(n, 3)`` rows of side, price (ticks) and lots, placed
    in that order (so in time priority within a price level).

    A context with ``orders`` (the real queues, e.g. :func:`generators.starts.queue_context`) starts with them; the
    lots at each price must add up to the context's last book on its levels (checked). Otherwise every quoted level
    of the last book is one order of the level's lots, the bids (best first) before the asks.
    """
    book = np.asarray(context["books"], np.int64)[-1]
    if context.get("orders") is None:
        rows = [
            (side, int(price), int(qty))
            for side, (prices, qtys) in ((1, (book[0], book[1])), (-1, (book[2], book[3])))
            for price, qty in zip(prices, qtys, strict=True)
            if qty > 0
        ]
        return np.asarray(rows, np.int64).reshape(-1, 3)
    orders = np.asarray(context["orders"], np.int64)
    if orders.ndim != 2 or orders.shape[1] != 3 or (orders[:, 2] < 1).any() or ~np.isin(orders[:, 0], (1, -1)).all():
        raise DataError(
            f"sampling context: `orders` must be (n, 3) rows of side +-1, price, lots >= 1; got {orders!r:.80}"
        )
    for side, prices, qtys in ((1, book[0], book[1]), (-1, book[2], book[3])):
        own = orders[orders[:, 0] == side]
        if int(own[:, 2].sum()) != int(qtys[qtys > 0].sum()):
            raise DataError(
                f"sampling context: the start orders of side {side} hold {int(own[:, 2].sum())} lots; the context's "
                f"last book holds {int(qtys[qtys > 0].sum())}"
            )
        for price, qty in zip(prices[qtys > 0], qtys[qtys > 0], strict=True):
            lots = int(own[own[:, 1] == price, 2].sum())
            if lots != qty:
                raise DataError(
                    f"sampling context: the start orders at price {int(price)} (side {side}) hold {lots} lots; "
                    f"the context's last book holds {int(qty)}"
                )
    return orders


def path_contexts(context: dict[str, Any] | list[dict[str, Any]], n_paths: int) -> list[dict[str, Any]]:
    """Return one context per path: ``context`` repeated, or the list itself (one per path, one clock)."""
    if isinstance(context, dict):
        return [context] * n_paths
    contexts = list(context)
    if len(contexts) != n_paths:
        raise DataError(f"sampling contexts: expected one per path ({n_paths}); got {len(contexts)}")
    times = sorted({int(c["ts_ns"]) for c in contexts})
    if len(times) != 1:
        raise DataError(f"sampling contexts: every path's context must start at the same ts_ns; got {times[:3]}")
    return contexts


def rollout(
    generate: Callable[[np.ndarray, np.ndarray], np.ndarray],
    encoding: enc.Encoding,
    context: dict[str, Any] | list[dict[str, Any]],
    *,
    n_paths: int,
    duration_ns: int,
    depth: int,
    rngs: list[np.random.Generator],
    progress: Callable[[int, int], None] | None = None,
    stop_when_stuck: bool = False,
    switches: list[tuple[int, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = (),
    guard: RateGuard | None = None,
    trade_fill: str = "queue",
    thin_rate: float = 0.0,
) -> list[BookPath]:
    """Run ``n_paths`` independent books for ``duration_ns`` from the context, one generated block at a time.

    Parameters
    ----------
    generate
        Maps a batch of histories ``(b, history, MESSAGE_WIDTH)`` and book states ``(b, encoding.book_width)``
        (normalised float32) to integer blocks ``(b, block, 6)`` (the model's denoising chains, already decoded).
    encoding
        The model's encoding.
    context
        The start state (see :class:`BookPath`), or a list of one per path sharing ``ts_ns``
        (:func:`path_contexts`).
    n_paths, duration_ns, depth
        Paths, their length (ns) and the levels recorded.
    rngs
        One numpy generator per path (the orders cancels pick).
    progress
        Called with (paths done, paths) after every batch of chains.
    stop_when_stuck
        End a stuck path (counted as ``stuck``) and go on with the others, instead of raising (see :class:`BookPath`).
    switches
        ``(offset_ns, generate)`` pairs, offsets increasing in ``(0, duration_ns)``: from ``offset_ns`` after the
        start, ``generate`` makes the blocks (a regime switch). Every path runs to the switch first; a message
        generated before it that would land after it is not applied, and it and the rest of its block are counted
        as discarded. The paths then go on from their state (history, book, time) under the new ``generate``.
    guard
        End a runaway path (counted as ``runaway``) by this :class:`RateGuard`; None: no bound.
    trade_fill
        What a generated TRADE fills (:data:`TRADE_FILLS`; see :class:`BookPath`).
    thin_rate
        Removals per order per second of the flow's orders behind the best (see :class:`BookPath`; 0: none).
    """
    contexts = path_contexts(context, n_paths)
    start = int(contexts[0]["ts_ns"])
    ends = [start + int(offset) for offset, _ in switches] + [start + int(duration_ns)]
    makers = [generate] + [maker for _, maker in switches]
    levels, position, beyond = encoding.book_levels, encoding.cancel_position, encoding.beyond_lots
    paths = [
        BookPath(
            c,
            depth,
            rngs[p],
            ends[0],
            stop_when_stuck,
            levels,
            position,
            beyond,
            encoding.beyond_ticks,
            encoding.add_price,
            guard,
            trade_fill,
            thin_rate,
        )
        for p, c in enumerate(contexts)
    ]
    for piece, (end_ns, maker) in enumerate(zip(ends, makers, strict=True)):
        for path in paths:
            path.resume(end_ns, final=piece == len(ends) - 1)
        _run_piece(paths, maker, encoding, n_paths, progress)
    return paths


def select_paths(paths: list[BookPath], index: np.ndarray, fresh: list[np.random.Generator | None]) -> list[BookPath]:
    """Return the paths ``index[j]`` copied whole (sequential Monte Carlo resampling; the twin of
    :meth:`generators.rollout_fast.PathBatch.select`).

    Each copy has its own engine, lists, counts and records (a deep copy of its ancestor's); ``fresh[j]`` is its
    generator of order picks, None to keep the ancestor's own (one copy of each ancestor at most).
    """
    kept = [int(a) for a, rng in zip(index, fresh, strict=True) if rng is None]
    if len(kept) != len(set(kept)):
        raise SimlabError("select_paths: an ancestor's generator can be kept by one of its copies only")
    out = []
    for a, rng in zip(index, fresh, strict=True):
        ancestor = paths[int(a)]
        copy = deepcopy(ancestor, memo={id(ancestor.rng): ancestor.rng})  # the generator is not copied
        copy.rng = ancestor.rng if rng is None else rng
        out.append(copy)
    return out


def run_piece(paths: list[BookPath], generate: Callable, encoding: enc.Encoding, n_paths: int, progress) -> None:
    """Run every path that is not done to its current end, one generated block per running path at a time."""
    _run_piece(paths, generate, encoding, n_paths, progress)


def _run_piece(paths: list[BookPath], generate: Callable, encoding: enc.Encoding, n_paths: int, progress) -> None:
    while True:
        active = [path for path in paths if not path.done]
        if not active:
            return
        features = [path.features(encoding) for path in active]
        blocks = generate(np.stack([f[0] for f in features]), np.stack([f[1] for f in features]))
        for path, rows in zip(active, blocks, strict=True):
            path.apply_block(rows)
        if progress is not None:
            progress(sum(path.done for path in paths), n_paths)
