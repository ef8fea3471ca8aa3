"""Read LOBSTER message and orderbook files, and replay the messages to reproduce the orderbook file.

LOBSTER (lobsterdata.com) reconstructs NASDAQ TotalView-ITCH into two CSV files per day and ticker, named
``{TICKER}_{YYYY-MM-DD}_{start_ms}_{end_ms}_{message|orderbook}_{LEVEL}.csv``:

* **message**: ``time`` (seconds after midnight America/New_York, up to 9 decimals), ``type`` (1 new limit order,
  2 partial cancel, 3 delete, 4 execution of a visible order, 5 execution of a hidden order, 6 cross/auction trade,
  7 trading halt), ``order_id``, ``size`` (shares), ``price`` (USD x 10,000), ``direction`` (1 buy limit order,
  -1 sell limit order; an execution of a sell order is a buyer-initiated trade);
* **orderbook**: row *i* is the book after message *i*: ``ask_price_1, ask_size_1, bid_price_1, bid_size_1,
  ask_price_2, ...``; empty levels hold the prices +-9999999999 with size 0.

Either file may carry a header line (detected). A level-N file only shows the events that touch the N best levels
of a side, so a replay cannot know a level that enters the window from beyond it (its size, even its price, may
have changed unseen): :func:`replay_lobster` replays the messages on the order-level matching engine
(:mod:`simlab.book._engine`; orders resting before the window are one *level order* per price level), marks such cells
as *undetermined* and is exact on every other cell (see :mod:`simlab.io._lobster_replay`); with ``reveal=True`` it
takes exactly those cells from the orderbook file.
A deeper message file (level 50) started from a shallower book (a level-10 row) fixes the shallow book whole.
:func:`compare_books` counts determined, undetermined and mismatched cells.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numba
import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.io import _lobster_replay as _rp
from simlab.io._csv import Column, Table, parse_csv
from simlab.io._source import read_bytes
from simlab.provenance import provenance
from simlab.schema import NO_PRICE, EventKind, make_books, make_events

TIME_ZONE = "America/New_York"
PRICE_SCALE = 4
"""LOBSTER prices are USD x 10**4."""
EMPTY_ASK, EMPTY_BID = 9_999_999_999, -9_999_999_999
MESSAGE_COLUMNS = (
    Column("time", "decimal", 12),
    Column("type"),
    Column("order_id"),
    Column("size"),
    Column("price"),
    Column("direction"),
)
_NAME = re.compile(
    r"^(?P<ticker>[^_]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_(?P<role>message|orderbook)_"
    r"(?P<levels>\d+)"
)
# LOBSTER type -> EventKind (index 0 unused)
_KIND = np.array(
    [0, EventKind.ADD, EventKind.CANCEL, EventKind.DELETE, EventKind.TRADE, EventKind.TRADE_HIDDEN]
    + [EventKind.AUCTION, EventKind.HALT],
    dtype=np.int8,
)
# event side = direction * _SIDE_SIGN[type]: the resting side for 1-3, the aggressor for 4-5, none for 6-7
_SIDE_SIGN = np.array([0, 1, 1, 1, -1, -1, 0, 0], dtype=np.int8)
# replay: lots added to the resting side's level = size * _DELTA_SIGN[type]
_DELTA_SIGN = np.array([0, 1, -1, -1, -1, 0, 0, 0], dtype=np.int64)


def parse_lobster_name(path: str | Path) -> dict[str, Any]:
    """Return ``ticker``, ``date``, ``start_ms``, ``end_ms``, ``role`` and ``levels`` from a LOBSTER file name.

    An empty dict when the name does not follow LOBSTER's pattern.
    """
    match = _NAME.match(Path(path).name)
    if not match:
        return {}
    info: dict[str, Any] = match.groupdict()
    for name in ("start", "end"):
        info[f"{name}_ms"] = int(info.pop(name))
    info["levels"] = int(info["levels"])
    return info


def read_lobster(
    message_path: str | Path | None = None,
    orderbook_path: str | Path | None = None,
    *,
    levels: int | None = None,
    date: str | dt.date | None = None,
    ticker: str | None = None,
    tick_size: float = 0.01,
    sort: bool = False,
) -> dict[str, xr.Dataset]:
    """Read a LOBSTER message file and/or orderbook file into the simlab schema.

    Parameters
    ----------
    message_path, orderbook_path
        The message and orderbook CSV files (plain, .gz or .zip); at least one. When both are given they must
        have the same number of rows (row *i* of the book follows message *i*).
    levels
        Number of book levels (default: from the file name, else the orderbook's field count / 4).
    date
        Trading day ``YYYY-MM-DD`` (default: from the file name); needed to date the messages.
    ticker
        Instrument name (default: from the file name).
    tick_size
        Price tick in USD; every price must be a whole multiple of it.
    sort
        Sort the messages (and book rows with them) stably by time instead of rejecting decreasing times.

    Returns
    -------
    dict
        ``"events"`` (from the message file): ``kind`` from the LOBSTER type (1 ADD, 2 CANCEL, 3 DELETE, 4 TRADE,
        5 TRADE_HIDDEN, 6 AUCTION, 7 HALT), ``side`` the resting side for 1-3 and the aggressor (-direction) for
        4-5, 0 for 6-7; extras ``direction``, ``lobster_type``, ``lobster_price`` (the file's raw price, which
        for a halt is -1 halt, 0 quoting, 1 resume; halts get ``price_ticks`` NO_PRICE) and ``line`` (file line).
        Hidden executions (type 5) may print inside the tick (AMZN: 63 rows, AAPL: 19): their ``price_ticks`` is
        floored and the attribute ``sub_tick_price_rows`` counts them. Times with more than 9 decimals (a float
        artefact in one AAPL row) are rounded to the ns and counted in ``time_rounded_to_ns_rows``.
        ``"books"`` (from the orderbook file): ``(time, level)`` with NO_PRICE/0 for empty levels; its ``ts_ns``
        are the messages' times, or, without a message file, the row index 0, 1, ... with the attribute
        ``time_axis="event_index"`` (``"utc_ns"`` otherwise).
    """
    if message_path is None and orderbook_path is None:
        raise ParameterError("read_lobster needs message_path, orderbook_path or both; got neither")
    named = parse_lobster_name(message_path or orderbook_path)
    levels = levels if levels is not None else named.get("levels")
    ticker = ticker or named.get("ticker") or "unknown"
    config = dict(levels=levels, date=str(date or named.get("date")), ticker=ticker, tick_size=tick_size, sort=sort)
    paths = [Path(p) for p in (message_path, orderbook_path) if p is not None]
    attrs = provenance(seed=None, config=config, sources=paths)
    attrs.update(format="lobster", instrument=ticker, venue="NASDAQ", tick_size=float(tick_size), lot_size=1.0)
    attrs.update({k: named[k] for k in ("start_ms", "end_ms") if k in named}, levels=int(levels or 0))
    step = _tick_step(tick_size)
    out: dict[str, xr.Dataset] = {}
    order = None
    if message_path is not None:
        day = _parse_date(date or named.get("date"), Path(message_path).name)
        attrs.update(date=day.isoformat(), time_zone=TIME_ZONE)
        out["events"], order = _read_messages(Path(message_path), day, step, sort, attrs)
    if orderbook_path is not None:
        out["books"] = _read_orderbook(Path(orderbook_path), levels, step, out.get("events"), order, attrs)
    return out


def replay_lobster(
    events: xr.Dataset,
    books: xr.Dataset | None = None,
    *,
    initial_book: xr.Dataset | None = None,
    levels: int | None = None,
    reveal: bool = False,
) -> xr.Dataset:
    """Replay LOBSTER messages on the matching engine and return the book after each message.

    New orders (type 1) are engine orders; cancels, deletes and executions (types 2-4) take their lots from the order
    they name, or, for an order resting before the window (known only as part of a level of the start state or of a
    revealed level), from that price level's *level order*. Level totals follow the messages' sizes exactly.

    Parameters
    ----------
    events
        Events from :func:`read_lobster` (they need the extras ``lobster_type`` and ``direction``).
    books
        The orderbook file's books: the start state is its first row with the first message undone.
    initial_book
        Alternatively, a one-row books Dataset holding the state *before* the first message, e.g. a row of an
        earlier replay (its ``{side}_determined`` masks say how far it is known; without them every level is).
    levels
        The file's level count N (default: ``events.attrs["levels"]``): only events on the N best levels are in a
        level-N message file, which decides what the replay can know.
    reveal
        Take each undetermined level from ``books`` (a level entering the window from beyond it, whose size the
        messages never showed) and track it exactly from there on; needs ``books``.

    Returns
    -------
    xarray.Dataset
        Books over ``(time, level)`` plus ``bid_determined`` / ``ask_determined`` (bool): True where the cell is
        fixed by the start state and the messages alone. Undetermined cells hold NO_PRICE/0 (or, with ``reveal``,
        the file's values). Without ``books`` or ``initial_book`` nothing is known at the start. Attributes count
        ``level_order_removals`` (removals naming an order the engine does not hold), ``unattributed_lots`` (lots a
        removal had to take from orders it does not name: an order-level inconsistency the L2 file cannot show) and
        ``duplicate_id_adds`` (new orders whose id already rests; their lots join the level order).
    """
    levels = int(levels or events.attrs.get("levels") or 0)
    if levels < 1:
        raise ParameterError(f"replay_lobster needs the file's level count `levels` >= 1; got {levels}")
    if reveal and books is None:
        raise ParameterError("replay_lobster(reveal=True) needs the orderbook file's `books`")
    columns = _replay_inputs(events)
    n = columns[0].shape[0]
    if books is not None and books.sizes["time"] != n:
        raise DataError(f"replay_lobster: {n} messages but {books.sizes['time']} book rows")
    start = books if books is not None else initial_book
    state = None if start is None else (*_start_levels(start, levels), books is not None)
    file_key, file_qty = _file_keys(books, levels) if reveal else (np.zeros((0, 2, levels), np.int64),) * 2
    out, known, counts, err, phase = _rp.replay(columns, levels, state, file_key, file_qty)
    if err[0]:
        raise _replay_error(events, err, "replaying it" if phase else "undoing it from book row 1")
    return _replay_books(events, out, known, counts, levels, reveal)


def compare_books(replayed: xr.Dataset, books: xr.Dataset) -> dict[str, int]:
    """Compare a replay with the orderbook file on the determined cells.

    Returns
    -------
    dict
        ``rows``; ``determined_rows`` (every level of both sides determined); ``determined_cells`` and
        ``undetermined_cells`` (a cell is one side's level in one row, price and size together);
        ``mismatched_cells`` among the determined ones; ``first_mismatch_row`` (-1 when none);
        ``equal_rows`` (rows whose determined cells all match and that are fully determined).
    """
    ok = np.zeros(replayed["bid_determined"].shape + (2,), dtype=bool)
    det = np.stack([replayed["bid_determined"].values, replayed["ask_determined"].values], axis=-1)
    for index, name in enumerate(("bid", "ask")):
        same_price = replayed[f"{name}_price"].values == books[f"{name}_price"].values
        ok[..., index] = same_price & (replayed[f"{name}_qty"].values == books[f"{name}_qty"].values)
    bad = det & ~ok
    rows_bad = bad.any(axis=(1, 2))
    full = det.all(axis=(1, 2))
    return {
        "rows": int(det.shape[0]),
        "determined_rows": int(full.sum()),
        "determined_cells": int(det.sum()),
        "undetermined_cells": int((~det).sum()),
        "mismatched_cells": int(bad.sum()),
        "first_mismatch_row": int(np.flatnonzero(rows_bad)[0]) if rows_bad.any() else -1,
        "equal_rows": int((full & ~rows_bad).sum()),
    }


def _tick_step(tick_size: float) -> int:
    step = round(tick_size * 10**PRICE_SCALE)
    if not (np.isfinite(tick_size) and step >= 1 and abs(step - tick_size * 10**PRICE_SCALE) < 1e-6):
        raise ParameterError(f"`tick_size` of read_lobster must be a multiple of 0.0001 USD; got {tick_size!r}")
    return int(step)


def _parse_date(value: str | dt.date | None, name: str) -> dt.date:
    if value is None:
        raise ParameterError(f"{name}: cannot tell the trading day from the file name; pass date='YYYY-MM-DD'")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ParameterError(f"`date` of read_lobster must be YYYY-MM-DD; got {value!r}") from exc


def _read_messages(
    path: Path, day: dt.date, step: int, sort: bool, attrs: dict[str, Any]
) -> tuple[xr.Dataset, np.ndarray | None]:
    table = parse_csv(read_bytes(path), MESSAGE_COLUMNS, source=path.name)
    typ, direction, price = table["type"], table["direction"], table["price"]
    offsets, midnight_ns = _utc_offsets(day)
    columns, bad, counts = _scan_messages(table["time"], typ, table["order_id"], table["size"], price, direction,
                                          step, offsets, midnight_ns)  # fmt: skip
    _check_messages(table, step, bad)
    seconds_ns, ts_ns, kind, side, price_ticks = columns
    table.columns["time"] = seconds_ns
    attrs = dict(attrs, time_rounded_to_ns_rows=int(counts[0]))
    order = None
    if sort:
        order = np.argsort(seconds_ns, kind="stable")
        attrs = dict(attrs, sorted=True, rows_moved_by_sort=int((order != np.arange(order.shape[0])).sum()))
        ts_ns, kind, side, price_ticks = ts_ns[order], kind[order], side[order], price_ticks[order]
        table.columns = {name: values[order] for name, values in table.columns.items()}
        typ, direction, price = table["type"], table["direction"], table["price"]
    else:
        _check_sorted(table, int(bad[-1]))
        attrs = dict(attrs, sorted=False)
    attrs["sub_tick_price_rows"] = int(counts[1])
    lines = (order if order is not None else np.arange(len(table))) + table.first_line
    events = make_events(
        ts_ns=ts_ns,
        kind=kind,
        side=side,
        price_ticks=price_ticks,
        qty_lots=table["size"],
        order_id=table["order_id"],
        tick_size=attrs["tick_size"],
        lot_size=1.0,
        instrument=attrs["instrument"],
        venue="NASDAQ",
        extra={
            "direction": direction.astype(np.int8),
            "lobster_type": typ.astype(np.int8),
            "lobster_price": price,
            "line": lines.astype(np.int64),
        },
        attrs=dict(attrs, message_file=path.name, side_convention="trades: aggressor = -direction"),
        source=path.name,
    )
    return events, order


# the message rules, in the order they are checked: (column, rule); slot i of _scan_messages' `bad` is rule i
_MESSAGE_RULES = (
    ("type", "unknown LOBSTER event type: expected 1 to 7"),
    ("direction", "expected direction 1 (buy) or -1 (sell)"),
    ("time", "seconds after midnight must be in [0, 86400)"),
    ("size", "an order event needs size > 0"),
    ("size", "size must be >= 0"),
    ("order_id", "an order event needs order_id >= 0"),
    ("price", "a halt (type 7) needs price -1, 0 or 1"),
    ("price", "price must be > 0"),
    ("price", "an order's price must be a whole multiple of the tick ({step} in USD x 10000)"),
)


def _check_messages(table: Table, step: int, bad: np.ndarray) -> None:
    for index, (column, rule) in enumerate(_MESSAGE_RULES):
        if bad[index] >= 0:
            row = int(bad[index])
            raise table.error(row, rule.format(step=step), column, table.columns[column][row].item())


def _check_sorted(table: Table, row: int) -> None:
    seconds = table["time"]
    if row >= 0:
        prev = f"line {table.line(row - 1)} ({seconds[row - 1] / 1e9:.9f})"
        rule = f"time must not decrease: earlier than {prev}; pass sort=True to sort"
        raise table.error(row, rule, "time", f"{seconds[row] / 1e9:.9f}")


def _utc_offsets(day: dt.date) -> tuple[np.ndarray, int]:
    """Return the UTC offset (ns) of each hour 0..24 after local midnight (America/New_York) on ``day``, and the
    UTC midnight of ``day`` in ns since the epoch: ns after local midnight ``t`` is ``midnight + t - offset``."""
    zone = ZoneInfo(TIME_ZONE)
    offsets = np.zeros(25, dtype=np.int64)
    for hour in range(25):
        local = dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=hour)
        offsets[hour] = int(local.replace(tzinfo=zone).utcoffset().total_seconds()) * 10**9
    return offsets, calendar.timegm(day.timetuple()) * 10**9


@numba.njit(cache=True)
def _scan_messages(time_ps, typ, order_id, size, price, direction, step, offsets, midnight_ns):
    # one pass: the first row breaking each of _MESSAGE_RULES (-1 none) and, last, the first row whose rounded
    # time decreases; the rounded times (ns after midnight), UTC times, kinds, sides and price ticks; and the
    # counts of rows rounded to the ns and of sub-tick prices
    n = typ.shape[0]
    bad = np.full(10, -1, dtype=np.int64)
    counts = np.zeros(2, dtype=np.int64)
    seconds_ns, ts_ns = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    kind, side, ticks = np.empty(n, dtype=np.int8), np.empty(n, dtype=np.int8), np.empty(n, dtype=np.int64)
    for i in range(n):
        t, p, q = typ[i], price[i], size[i]
        ticks_floor = p // step  # one division: the remainder follows
        off_tick = p - ticks_floor * step != 0
        known = 1 <= t <= 7
        order, halt = t <= 5, t == 7
        in_day = 0 <= time_ps[i] < 86_400 * 10**12
        _first(bad, 0, i, not known)
        _first(bad, 1, i, direction[i] != 1 and direction[i] != -1)
        _first(bad, 2, i, not in_day)
        _first(bad, 3, i, order and q <= 0)
        _first(bad, 4, i, q < 0)
        _first(bad, 5, i, order and order_id[i] < 0)
        _first(bad, 6, i, halt and not (-1 <= p <= 1))
        _first(bad, 7, i, not halt and p <= 0)
        _first(bad, 8, i, order and t != 5 and off_tick)
        counts[0] += time_ps[i] % 1000 != 0
        counts[1] += not halt and off_tick
        seconds_ns[i] = (time_ps[i] + 500) // 1000
        _first(bad, 9, i, i > 0 and seconds_ns[i] < seconds_ns[i - 1])
        hour = seconds_ns[i] // 3_600_000_000_000 if in_day else 0
        ts_ns[i] = midnight_ns + seconds_ns[i] - offsets[hour]
        kind[i] = _KIND[t] if known else 0
        side[i] = direction[i] * _SIDE_SIGN[t] if known else 0
        ticks[i] = NO_PRICE if halt else ticks_floor
    return (seconds_ns, ts_ns, kind, side, ticks), bad, counts


@numba.njit(cache=True, inline="always")
def _first(bad, slot, row, broken):
    if broken and bad[slot] < 0:
        bad[slot] = row


def _book_columns(levels: int) -> list[Column]:
    return [
        Column(f"{name}_{level}")
        for level in range(1, levels + 1)
        for name in ("ask_price", "ask_size", "bid_price", "bid_size")
    ]


def _read_orderbook(
    path: Path,
    levels: int | None,
    step: int,
    events: xr.Dataset | None,
    order: np.ndarray | None,
    attrs: dict[str, Any],
) -> xr.Dataset:
    buf = read_bytes(path)
    if levels is None:
        first = bytes(buf[: int(np.argmax(buf == 10)) or buf.shape[0]]).decode("utf-8", "replace")
        levels = max(1, (first.count(",") + 1) // 4)
    table = parse_csv(buf, _book_columns(levels), source=path.name)
    arrays = _book_arrays(table, levels, step)
    attrs = dict(attrs, orderbook_file=path.name, levels=int(levels))
    if events is None:
        ts, attrs["time_axis"] = np.arange(len(table), dtype=np.int64), "event_index"
    elif events.sizes["event"] != len(table):
        found = f"{len(table)} rows against {events.sizes['event']} messages"
        raise DataError(f"{path.name}: the orderbook must have one row per message (truncated file?); found {found}")
    else:
        ts, attrs["time_axis"] = events["ts_ns"].values, "utc_ns"
    if order is not None:
        arrays = {name: (price[order], qty[order]) for name, (price, qty) in arrays.items()}
    (ask_price, ask_qty), (bid_price, bid_qty) = arrays["ask"], arrays["bid"]
    books = make_books(ts_ns=ts, bid_price=bid_price, bid_qty=bid_qty, ask_price=ask_price, ask_qty=ask_qty,
                       attrs=attrs, source=path.name)  # fmt: skip
    return books


# the book rules, checked for the asks and then the bids: (column prefix, rule); a rule's first bad cell in row-major
# order is slot (side, rule) of _scan_book's `bad`
_BOOK_RULES = (
    ("size", "an empty {name} level needs size 0"),
    ("size", "a level needs size > 0 (or LOBSTER's empty-level price)"),
    ("price", "price must be > 0 (or LOBSTER's empty-level price)"),
    ("price", "price must be a whole multiple of the tick ({step} in USD x 10000)"),
    ("price", "a level follows an empty level"),
    ("price", "levels must be strictly ordered away from the touch"),
)


def _book_arrays(table: Table, levels: int, step: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    cells = table.matrix([column.name for column in _book_columns(levels)])
    ask_price, ask_qty, bid_price, bid_qty, bad = _scan_book(cells, levels, step)
    for side, name in enumerate(("ask", "bid")):
        for index, (prefix, rule) in enumerate(_BOOK_RULES):
            row, level = (int(v) for v in bad[side, index])
            if row >= 0:
                column = f"{name}_{prefix}_{level + 1}"
                raise table.error(row, rule.format(name=name, step=step), column, int(table[column][row]))
    if bad[2, 0, 0] >= 0:
        row = int(bad[2, 0, 0])
        rule = "the book is crossed: bid_price_1 must be < ask_price_1"
        raise table.error(row, rule, "bid_price_1", table.columns["bid_price_1"][row].item())
    return {"ask": (ask_price, ask_qty), "bid": (bid_price, bid_qty)}


@numba.njit(cache=True)
def _scan_book(cells, levels, step):
    # cells: the orderbook file's columns as rows (ask_price_1, ask_size_1, bid_price_1, bid_size_1, ask_price_2...);
    # returns per side the (rows, levels) price ticks (NO_PRICE when empty) and sizes, and the first bad
    # (row, level) of each of _BOOK_RULES per side, then the first crossed row at [2, 0, 0] (-1 none)
    n = cells.shape[1]
    bad = np.full((3, 6, 2), -1, dtype=np.int64)
    out = np.empty((4, n, levels), dtype=np.int64)
    for i in range(n):
        for side in range(2):
            empty_price = EMPTY_ASK if side == 0 else EMPTY_BID
            for k in range(levels):
                price, size = cells[4 * k + 2 * side, i], cells[4 * k + 2 * side + 1, i]
                empty = price == empty_price
                ticks = price // step  # one division: the remainder follows
                _first_cell(bad, side, 0, i, k, empty and size != 0)
                _first_cell(bad, side, 1, i, k, not empty and size <= 0)
                _first_cell(bad, side, 2, i, k, not empty and price <= 0)
                _first_cell(bad, side, 3, i, k, not empty and price - ticks * step != 0)
                if k > 0:
                    before = cells[4 * k + 2 * side - 4, i]
                    _first_cell(bad, side, 4, i, k, before == empty_price and not empty)
                    ordered = price - before > 0 if side == 0 else price - before < 0
                    _first_cell(bad, side, 5, i, k, not (ordered or empty))
                out[2 * side, i, k] = NO_PRICE if empty else ticks
                out[2 * side + 1, i, k] = size
        if out[1, i, 0] > 0 and out[3, i, 0] > 0 and out[2, i, 0] >= out[0, i, 0] and bad[2, 0, 0] < 0:
            bad[2, 0, 0] = i
    return out[0], out[1], out[2], out[3], bad


@numba.njit(cache=True, inline="always")
def _first_cell(bad, side, rule, row, level, broken):
    if broken and bad[side, rule, 0] < 0:
        bad[side, rule, 0] = row
        bad[side, rule, 1] = level


def _replay_inputs(events: xr.Dataset) -> tuple[np.ndarray, ...]:
    """Return the kernel's columns: LOBSTER type, side (0 bid, 1 ask), signed key, signed lots, order id, time."""
    for name in ("lobster_type", "direction"):
        if name not in events:
            raise ParameterError(f"replay_lobster needs LOBSTER events with {name!r} (from read_lobster)")
    typ = events["lobster_type"].values.astype(np.int64)
    side = np.where(events["direction"].values == 1, 0, 1).astype(np.int64)
    delta = (events["qty_lots"].values * _DELTA_SIGN[typ]).astype(np.int64)
    price = events["price_ticks"].values
    key = np.where(delta == 0, 0, np.where(side == 0, -price, price)).astype(np.int64)
    order_id = np.ascontiguousarray(events["order_id"].values, dtype=np.int64)
    return typ, side, key, delta, order_id, np.ascontiguousarray(events["ts_ns"].values, dtype=np.int64)


def _start_levels(start: xr.Dataset, levels: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Per side (bid, ask) the known levels of a books Dataset's first row: prices, sizes and the side's bound.

    A side is known up to its last determined level (all levels unless the row carries ``{side}_determined``, as a
    replay's rows do); a side whose determined levels include an empty one is known whole (bound ``UNBOUNDED``).
    """
    sides = []
    for name in ("bid", "ask"):
        width = min(levels, start[f"{name}_price"].shape[-1])
        price = start[f"{name}_price"].values.reshape(-1, start[f"{name}_price"].shape[-1])[0][:width]
        qty = start[f"{name}_qty"].values.reshape(-1, start[f"{name}_qty"].shape[-1])[0][:width]
        mask = f"{name}_determined"
        known = int(start[mask].values.reshape(-1, width)[0].sum()) if mask in start else width
        n = min(int((qty > 0).sum()), known)
        bound = int(-price[n - 1] if name == "bid" else price[n - 1]) if n else _rp.UNKNOWN
        sides.append((price[:n].astype(np.int64), qty[:n].astype(np.int64), _rp.UNBOUNDED if n < known else bound))
    return sides


def _replay_error(events: xr.Dataset, err: np.ndarray, doing: str) -> DataError:
    code, row, side, key, held = (int(v) for v in err)
    source = events.attrs.get("message_file", "messages")
    line = int(events["line"].values[row]) if "line" in events else row + 1
    name = "bid" if side == 0 else "ask"
    price = -key if side == 0 else key
    size = int(events["qty_lots"].values[row])
    if code == _rp.REVEAL_CONFLICT:
        where = f"the orderbook row of this message shows the {name} level at {price} ticks ({held} lots)"
        return DataError(f"{source} line {line}: {where} inside the range the replay knows, where it has no level")
    if code == _rp.GROW:
        rule = f"{doing} needs a price grid wider than the engine's {_rp.MAX_TICKS} ticks"
    elif code == _rp.CROSSED:
        rule = f"the replayed book is crossed after {doing}: best bid {held} >= best ask"
    elif code == _rp.OVER_REMOVE:
        rule = f"{doing} removes {size} lots from the {name} level at {price} ticks, which holds only {held}"
    else:
        rule = f"{doing} removes {size} lots at {price} ticks, where the replayed {name} side has no level"
    return DataError(f"{source} line {line}: {rule}; found message {_message_text(events, row)}")


def _message_text(events: xr.Dataset, row: int) -> str:
    names = ("lobster_type", "order_id", "qty_lots", "lobster_price", "direction")
    return ",".join(str(int(events[name].values[row])) for name in names if name in events)


def _file_keys(books: xr.Dataset, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the file's (rows, 2, N) signed keys (-price for bids) and quantities for reveal mode."""
    bid, ask = books["bid_price"].values[:, :levels], books["ask_price"].values[:, :levels]
    key = np.stack([np.where(bid == NO_PRICE, 0, -bid), np.where(ask == NO_PRICE, 0, ask)], axis=1)
    qty = np.stack([books["bid_qty"].values[:, :levels], books["ask_qty"].values[:, :levels]], axis=1)
    return np.ascontiguousarray(key), np.ascontiguousarray(qty)


def _replay_books(events: xr.Dataset, out: tuple, known: np.ndarray, counts: np.ndarray, levels: int,
                  reveal: bool) -> xr.Dataset:  # fmt: skip
    bid_price, bid_qty, ask_price, ask_qty = out
    attrs = {k: v for k, v in events.attrs.items() if k not in ("sorted", "rows_moved_by_sort")}
    attrs.update(replay="lobster messages on the matching engine", levels=levels, time_axis="utc_ns")
    attrs["reveal"] = bool(reveal)
    attrs.update({name: int(counts[i]) for i, name in enumerate(_rp.COUNT_NAMES)})
    books = make_books(ts_ns=events["ts_ns"].values, bid_price=bid_price, bid_qty=bid_qty, ask_price=ask_price,
                       ask_qty=ask_qty, attrs=attrs, source="replay")  # fmt: skip
    depth = np.arange(levels)[None, :]
    books["bid_determined"] = (("time", "level"), depth < known[:, 0:1])
    books["ask_determined"] = (("time", "level"), depth < known[:, 1:2])
    return books
