"""Match an order-level (L3) event stream with the price-time priority engine: executions and L2 books.

The engine itself (state arrays and ``@numba.njit`` operations for simulators and agents) is documented in
:mod:`simlab.book._engine`; :func:`match_events` replays a whole events Dataset through it.

How a replay treats orders it has never seen (``unknown``): a stream that starts mid-day (a LOBSTER window) cancels,
deletes and executes orders that were resting before its first message. ``unknown="raise"`` (the default) rejects
such an event with an error naming its row; ``unknown="count"`` skips it and counts it, per kind, in the attributes
of both outputs (``unknown_cancel``, ``unknown_delete``, ``unknown_modify``, ``unknown_trade`` with
``first_unknown_*`` rows), so nothing is dropped silently. Events with no effect on a lit book (TRADE_HIDDEN,
AUCTION, HALT) are counted in ``skipped_no_book_effect``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr

from simlab.book import _engine as E
from simlab.book import _engine_replay as R
from simlab.errors import DataError, ParameterError
from simlab.schema import NO_PRICE, EventKind, make_books, make_events

_L3_KINDS = (EventKind.ADD, EventKind.CANCEL, EventKind.DELETE, EventKind.MODIFY, EventKind.TRADE)
_PASSIVE_KINDS = (EventKind.TRADE_HIDDEN, EventKind.AUCTION, EventKind.HALT)
_INITIAL_ORDERS = 1 << 16


def match_events(
    events: xr.Dataset,
    *,
    depth: int = 10,
    sample: Literal["event"] | int = "event",
    capacity: int | None = None,
    trades: Literal["market", "resting"] = "market",
    unknown: Literal["raise", "count"] = "raise",
) -> dict[str, xr.Dataset]:
    """Replay an order-level events Dataset through the matching engine.

    Parameters
    ----------
    events
        Events in the simlab schema: ADD (a limit order of ``qty_lots`` at ``price_ticks`` on ``side``; it trades
        first when it crosses), CANCEL (``qty_lots`` leave order ``order_id``), DELETE, MODIFY (the order now is
        ``qty_lots`` at ``price_ticks``: a pure size decrease keeps its priority, anything else loses it) and TRADE
        (see ``trades``). TRADE_HIDDEN, AUCTION and HALT are counted and leave the book alone.
    depth
        Levels per side in the books (>= 1).
    sample
        ``"event"``: a book after every event (``ts_ns`` the event's); an int > 0: a book every ``sample`` ns, at the
        multiples of ``sample`` from the first at or after the first event to the first at or after the last,
        each the state after every event with ``ts_ns <=`` that time.
    capacity
        Initial number of order slots (default: from the stream); the pool doubles when it fills.
    trades
        ``"market"``: a TRADE is a market order of ``qty_lots`` from the aggressor ``side`` with id ``order_id``
        (the simulators' convention); ``"resting"``: a TRADE executes the resting order ``order_id`` by
        ``qty_lots`` at its price (LOBSTER / ITCH execution messages; ``side`` is the aggressor's).
    unknown
        ``"raise"``: an event naming an order that does not rest is an error; ``"count"``: skip and count it (a
        stream starting mid-day; see the module docstring).

    Returns
    -------
    dict
        ``"events"``: the executions as TRADE events (``side`` the aggressor, ``price_ticks`` the resting order's,
        ``order_id`` the resting order's) with extras ``passive_order_id``, ``aggressor_order_id`` (-1 for a
        ``"resting"`` execution) and ``message`` (row of the input event that caused it); ``"books"``: L2 books of
        ``depth`` levels. Both carry the replay's counts as attributes.
    """
    sample_ns = _check_options(depth, sample, capacity, trades, unknown)
    columns = _columns(events)
    n = columns[0].shape[0]
    grid = _grid(columns[5], sample_ns)
    n_rows = n if sample_ns is None else grid.shape[0]
    books = tuple(np.zeros((n_rows, depth), dtype=np.int64) for _ in range(4))
    state, out, fill_event = _start_engine(columns, capacity)
    counts, first = np.zeros(R.N_COUNTS, np.int64), np.full(R.N_COUNTS, -1, np.int64)
    start, row = 0, 0
    while True:
        status, start, row = R.replay(
            state, out, fill_event, columns, start, trades == "resting", unknown == "count", grid, books, row,
            counts, first,
        )  # fmt: skip
        if status == E.OK:
            break
        state, out, fill_event = _grow(status, start, columns, state, out, fill_event)
    report = _report(counts, first, depth, sample, trades, unknown)
    return {
        "events": _fill_events(out, fill_event, events, report),
        "books": _books(books, columns[5] if sample_ns is None else grid, report),
    }


def _check_options(depth, sample, capacity, trades, unknown) -> int | None:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ParameterError(f"`depth` of match_events must be an int >= 1; got {depth!r}")
    if trades not in ("market", "resting"):
        raise ParameterError(f"`trades` of match_events must be 'market' or 'resting'; got {trades!r}")
    if unknown not in ("raise", "count"):
        raise ParameterError(f"`unknown` of match_events must be 'raise' or 'count'; got {unknown!r}")
    if capacity is not None and (not isinstance(capacity, (int, np.integer)) or capacity < 1):
        raise ParameterError(f"`capacity` of match_events must be None or an int >= 1; got {capacity!r}")
    if isinstance(sample, str) and sample == "event":
        return None
    if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or sample < 1:
        raise ParameterError(f"`sample` of match_events must be 'event' or an int number of ns >= 1; got {sample!r}")
    return int(sample)


def _columns(events: xr.Dataset) -> tuple[np.ndarray, ...]:
    names = ("kind", "side", "price_ticks", "qty_lots", "order_id", "ts_ns")
    missing = [name for name in names if name not in events]
    if missing:
        raise DataError(f"match_events: events lack the variables {missing}; expected {list(names)}")
    columns = tuple(np.ascontiguousarray(events[name].values, dtype=np.int64) for name in names)
    kind = columns[0]
    allowed = np.isin(kind, np.array(_L3_KINDS + _PASSIVE_KINDS, dtype=np.int64))
    if not allowed.all():
        row = int(np.flatnonzero(~allowed)[0])
        name = EventKind(int(kind[row])).name if kind[row] in EventKind._value2member_map_ else int(kind[row])
        raise DataError(
            f"match_events: events row {row}: kind must be an order-level kind (ADD, CANCEL, DELETE, MODIFY, TRADE, "
            f"or TRADE_HIDDEN / AUCTION / HALT which are skipped); got {name}"
        )
    if kind.shape[0] and (np.diff(columns[5]) < 0).any():
        row = int(np.flatnonzero(np.diff(columns[5]) < 0)[0]) + 1
        raise DataError(f"match_events: events row {row}: ts_ns must not decrease; got {int(columns[5][row])}")
    return columns


def _grid(ts: np.ndarray, sample_ns: int | None) -> np.ndarray:
    if sample_ns is None or ts.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    first = -(-int(ts[0]) // sample_ns) * sample_ns
    last = -(-int(ts[-1]) // sample_ns) * sample_ns
    return np.arange(first, last + 1, sample_ns, dtype=np.int64)


def _start_engine(columns, capacity):
    kind, price = columns[0], columns[2]
    priced = ((kind == EventKind.ADD) | (kind == EventKind.MODIFY)) & (price != NO_PRICE)
    low, high = (int(price[priced].min()), int(price[priced].max())) if priced.any() else (0, 0)
    n_adds = int(priced.sum())
    state = E.new_engine(low, high - low + 1, capacity or max(1, min(n_adds, _INITIAL_ORDERS)))
    out = E.new_fills(max(16, min(kind.shape[0], _INITIAL_ORDERS)))
    return state, out, np.zeros(out[0].shape[0], dtype=np.int64)


def _grow(status, row, columns, state, out, fill_event):
    kind, side, price, qty, order_id = (int(c[row]) for c in columns[:5])
    if status == E.CAPACITY:
        state = E.grow_engine(state, state[0][E.ORIGIN], 1, 2 * state[1].shape[0])
    elif status == E.FILL_CAPACITY:
        out = E.grow_fills(out, 2 * out[0].shape[0] + 16)
        fill_event = np.concatenate([fill_event, np.zeros(out[0].shape[0] - fill_event.shape[0], np.int64)])
    elif status == E.OFF_GRID and price != NO_PRICE:
        state = E.grow_engine(state, price, 1, state[1].shape[0])
    else:
        shown = "NO_PRICE" if price == NO_PRICE else price
        raise DataError(
            f"match_events: events row {row} ({EventKind(kind).name} of order_id {order_id}): "
            f"{E.STATUS_TEXT[status]}; got side {side}, price_ticks {shown}, qty_lots {qty}"
        )
    return state, out, fill_event


def _report(counts, first, depth, sample, trades, unknown) -> dict:
    report = {name: int(counts[i]) for i, name in enumerate(R.COUNT_NAMES)}
    report.update({f"first_{name}": int(first[i]) for i, name in enumerate(R.COUNT_NAMES)})
    report.update(depth=int(depth), sample=str(sample), trades=trades, unknown=unknown)
    return report


def _fill_events(out, fill_event, events: xr.Dataset, report: dict) -> xr.Dataset:
    rows = out[0][: out[1][0]]
    defaults = {"tick_size": 1.0, "lot_size": 1.0, "instrument": "unknown", "venue": "unknown"}
    attrs = {name: events.attrs.get(name, value) for name, value in defaults.items()}
    return make_events(
        ts_ns=rows[:, E.F_TS],
        kind=int(EventKind.TRADE),
        side=rows[:, E.F_SIDE],
        price_ticks=rows[:, E.F_PRICE],
        qty_lots=rows[:, E.F_QTY],
        order_id=rows[:, E.F_PASSIVE],
        extra={
            "passive_order_id": rows[:, E.F_PASSIVE].copy(),
            "aggressor_order_id": rows[:, E.F_AGGRESSOR].copy(),
            "message": fill_event[: rows.shape[0]].copy(),
        },
        attrs=dict(report, source="match_events"),
        source="match_events",
        **attrs,
    )


def _books(books, ts: np.ndarray, report: dict) -> xr.Dataset:
    bid_price, bid_qty, ask_price, ask_qty = books
    return make_books(
        ts_ns=ts, bid_price=bid_price, bid_qty=bid_qty, ask_price=ask_price, ask_qty=ask_qty, attrs=report
    )
