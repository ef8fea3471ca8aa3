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
have changed unseen): :func:`replay_lobster` marks such cells as *undetermined* and is exact on every other cell
(see :mod:`simlab.io._lobster_replay`); with ``reveal=True`` it takes exactly those cells from the orderbook file.
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
    """Replay LOBSTER messages through a price-level book and return the book after each message.

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
        the file's values). Without ``books`` or ``initial_book`` nothing is known at the start.
    """
    levels = int(levels or events.attrs.get("levels") or 0)
    if levels < 1:
        raise ParameterError(f"replay_lobster needs the file's level count `levels` >= 1; got {levels}")
    if reveal and books is None:
        raise ParameterError("replay_lobster(reveal=True) needs the orderbook file's `books`")
    side, key, delta = _replay_inputs(events)
    if books is not None and books.sizes["time"] != key.shape[0]:
        raise DataError(f"replay_lobster: {key.shape[0]} messages but {books.sizes['time']} book rows")
    keys, qtys = np.zeros((2, levels + 2), np.int64), np.zeros((2, levels + 2), np.int64)
    counts, bounds = np.zeros(2, np.int64), np.full(2, _rp.UNKNOWN, np.int64)
    start = books if books is not None else initial_book
    if start is not None:
        _load_state(start, levels, keys, qtys, counts, bounds)
    if books is not None and key.shape[0]:
        code, held = _rp.apply_delta(keys, qtys, counts, bounds, side[0], key[0], -delta[0])
        if code != _rp.OK:
            raise _replay_error(events, np.array([code, 0, side[0], key[0], held]), "undoing it from book row 1")
    n = key.shape[0]
    file_key, file_qty = _file_keys(books, levels) if reveal else (np.zeros((0, 2, levels), np.int64),) * 2
    out, known, err = np.zeros((2, n, 2, levels), np.int64), np.zeros((n, 2), np.int64), np.zeros(5, np.int64)
    _rp.replay_kernel(side, key, delta, keys, qtys, counts, bounds, levels, file_key, file_qty, out, known, err)
    if err[0]:
        raise _replay_error(events, err, "replaying it")
    return _replay_books(events, out, known, levels, reveal)


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
    _check_messages(table, step)
    sub_ns = table["time"] % 1000
    table.columns["time"] = (table["time"] + 500) // 1000
    attrs = dict(attrs, time_rounded_to_ns_rows=int((sub_ns != 0).sum()))
    seconds_ns = table["time"]
    order = None
    if sort:
        order = np.argsort(seconds_ns, kind="stable")
        attrs = dict(attrs, sorted=True, rows_moved_by_sort=int((order != np.arange(order.shape[0])).sum()))
        table.columns = {name: values[order] for name, values in table.columns.items()}
    else:
        _check_sorted(table)
        attrs = dict(attrs, sorted=False)
    typ, direction, price = table["type"], table["direction"], table["price"]
    halt = typ == 7
    lines = (order if order is not None else np.arange(len(table))) + table.first_line
    attrs["sub_tick_price_rows"] = int((~halt & (price % step != 0)).sum())
    events = make_events(
        ts_ns=_utc_ns(table["time"], day),
        kind=_KIND[typ],
        side=direction * _SIDE_SIGN[typ],
        price_ticks=np.where(halt, NO_PRICE, price // step),
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


def _check_messages(table: Table, step: int) -> None:
    typ, size, price = table["type"], table["size"], table["price"]
    table.require((typ >= 1) & (typ <= 7), "unknown LOBSTER event type: expected 1 to 7", "type")
    table.require(np.isin(table["direction"], (-1, 1)), "expected direction 1 (buy) or -1 (sell)", "direction")
    seconds = table["time"]
    in_day = (seconds >= 0) & (seconds < 86_400 * 10**12)
    table.require(in_day, "seconds after midnight must be in [0, 86400)", "time")
    order = typ <= 5
    table.require(~order | (size > 0), "an order event needs size > 0", "size")
    table.require(size >= 0, "size must be >= 0", "size")
    table.require(~order | (table["order_id"] >= 0), "an order event needs order_id >= 0", "order_id")
    halt = typ == 7
    table.require(~halt | np.isin(price, (-1, 0, 1)), "a halt (type 7) needs price -1, 0 or 1", "price")
    table.require(halt | (price > 0), "price must be > 0", "price")
    rule = f"an order's price must be a whole multiple of the tick ({step} in USD x 10000)"
    table.require(~order | (typ == 5) | (price % step == 0), rule, "price")


def _check_sorted(table: Table) -> None:
    seconds = table["time"]
    bad = np.flatnonzero(np.diff(seconds) < 0)
    if bad.size:
        row = int(bad[0]) + 1
        prev = f"line {table.line(row - 1)} ({seconds[row - 1] / 1e9:.9f})"
        rule = f"time must not decrease: earlier than {prev}; pass sort=True to sort"
        raise table.error(row, rule, "time", f"{seconds[row] / 1e9:.9f}")


def _utc_ns(seconds_ns: np.ndarray, day: dt.date) -> np.ndarray:
    """Convert ns after local midnight (America/New_York wall clock) on ``day`` into ns since the epoch, UTC."""
    zone = ZoneInfo(TIME_ZONE)
    hours = seconds_ns // 3_600_000_000_000
    offsets = np.zeros(25, dtype=np.int64)
    for hour in range(25):
        local = dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=hour)
        offsets[hour] = int(local.replace(tzinfo=zone).utcoffset().total_seconds()) * 10**9
    midnight_ns = calendar.timegm(day.timetuple()) * 10**9
    return midnight_ns + seconds_ns - offsets[hours]


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
    arrays = {name: _book_side(table, name, levels, step) for name in ("ask", "bid")}
    _check_book(table, arrays)
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


def _book_side(table: Table, name: str, levels: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    price = np.stack([table[f"{name}_price_{k}"] for k in range(1, levels + 1)], axis=1)
    size = np.stack([table[f"{name}_size_{k}"] for k in range(1, levels + 1)], axis=1)
    empty = price == (EMPTY_ASK if name == "ask" else EMPTY_BID)
    _require_cells(table, ~empty | (size == 0), f"an empty {name} level needs size 0", f"{name}_size")
    _require_cells(table, empty | (size > 0), "a level needs size > 0 (or LOBSTER's empty-level price)",
                   f"{name}_size")  # fmt: skip
    _require_cells(table, empty | (price > 0), "price must be > 0 (or LOBSTER's empty-level price)", f"{name}_price")
    rule = f"price must be a whole multiple of the tick ({step} in USD x 10000)"
    _require_cells(table, empty | (price % step == 0), rule, f"{name}_price")
    if levels > 1:
        gap = empty[:, :-1] & ~empty[:, 1:]
        _require_cells(table, ~np.pad(gap, ((0, 0), (1, 0))), "a level follows an empty level", f"{name}_price")
        step_ok = (np.diff(price, axis=1) > 0) if name == "ask" else (np.diff(price, axis=1) < 0)
        ordered = step_ok | empty[:, 1:]
        rule = "levels must be strictly ordered away from the touch"
        _require_cells(table, np.pad(ordered, ((0, 0), (1, 0)), constant_values=True), rule, f"{name}_price")
    return np.where(empty, NO_PRICE, price // step), size


def _require_cells(table: Table, ok: np.ndarray, rule: str, prefix: str) -> None:
    if ok.all():
        return
    bad = np.argwhere(~ok)
    if bad.size:
        row, level = (int(v) for v in bad[0])
        column = f"{prefix}_{level + 1}"
        raise table.error(row, rule, column, int(table[column][row]))


def _check_book(table: Table, arrays: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    (ask, ask_qty), (bid, bid_qty) = arrays["ask"], arrays["bid"]
    crossed = (ask_qty[:, 0] > 0) & (bid_qty[:, 0] > 0) & (bid[:, 0] >= ask[:, 0])
    table.require(~crossed, "the book is crossed: bid_price_1 must be < ask_price_1", "bid_price_1")


def _replay_inputs(events: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for name in ("lobster_type", "direction"):
        if name not in events:
            raise ParameterError(f"replay_lobster needs LOBSTER events with {name!r} (from read_lobster)")
    typ = events["lobster_type"].values.astype(np.int64)
    direction = events["direction"].values
    side = np.where(direction == 1, 0, 1).astype(np.int8)
    delta = events["qty_lots"].values * _DELTA_SIGN[typ]
    price = events["price_ticks"].values
    key = np.where(delta == 0, 0, np.where(side == 0, -price, price))
    return side, key.astype(np.int64), delta.astype(np.int64)


def _load_state(start: xr.Dataset, levels: int, keys, qtys, counts, bounds) -> None:
    """Fill the replay state from the first row of a books Dataset.

    A side is known up to its last determined level (all levels unless the row carries ``{side}_determined``, as a
    replay's rows do); a side whose determined levels include an empty one is known whole.
    """
    for index, name in enumerate(("bid", "ask")):
        width = min(levels, start[f"{name}_price"].shape[-1])
        price = start[f"{name}_price"].values.reshape(-1, start[f"{name}_price"].shape[-1])[0][:width]
        qty = start[f"{name}_qty"].values.reshape(-1, start[f"{name}_qty"].shape[-1])[0][:width]
        mask = f"{name}_determined"
        known = int(start[mask].values.reshape(-1, width)[0].sum()) if mask in start else width
        n = min(int((qty > 0).sum()), known)
        keys[index, :n] = -price[:n] if name == "bid" else price[:n]
        qtys[index, :n] = qty[:n]
        counts[index] = n
        if n < known:
            bounds[index] = _rp.UNBOUNDED
        else:
            bounds[index] = keys[index, n - 1] if n else _rp.UNKNOWN


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
    if code == _rp.CROSSED:
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


def _replay_books(events: xr.Dataset, out: np.ndarray, known: np.ndarray, levels: int, reveal: bool) -> xr.Dataset:
    price, qty = out
    attrs = {k: v for k, v in events.attrs.items() if k not in ("sorted", "rows_moved_by_sort")}
    attrs.update(replay="lobster messages through a price-level book", levels=levels, time_axis="utc_ns")
    attrs["reveal"] = bool(reveal)
    books = make_books(ts_ns=events["ts_ns"].values, bid_price=price[:, 0], bid_qty=qty[:, 0],
                       ask_price=price[:, 1], ask_qty=qty[:, 1], attrs=attrs, source="replay")  # fmt: skip
    depth = np.arange(levels)[None, :]
    books["bid_determined"] = (("time", "level"), depth < known[:, 0:1])
    books["ask_determined"] = (("time", "level"), depth < known[:, 1:2])
    return books
