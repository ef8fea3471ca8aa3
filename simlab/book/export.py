"""Write events and books as a LOBSTER message file and orderbook file, so that other tools read our books.

The format is the one :func:`simlab.io.lobster.read_lobster` reads (see its module docstring): a message file of
``time, type, order_id, size, price, direction`` rows and an orderbook file whose row *i* is the book after message
*i* (``ask_price_1, ask_size_1, bid_price_1, bid_size_1, ...``, empty levels at +-9999999999 with size 0). Files
are named ``{TICKER}_{YYYY-MM-DD}_{start_ms}_{end_ms}_{message|orderbook}_{LEVELS}.csv`` and have no header.

How the schema maps to LOBSTER:

* ``kind``: ADD 1, CANCEL 2, DELETE 3, TRADE 4, TRADE_HIDDEN 5, AUCTION 6, HALT 7. L2 records (a book written
  by levels, such as the queue-reactive simulator's) become the order messages that make the same change, each
  with its own book row: a lone ``SET_LEVEL`` is an add (the level grows), a partial cancel (it shrinks) or a
  delete (it empties) of the difference, and one that changes nothing writes no row. A price move (a ``CLEAR``
  and the ``SET_LEVEL`` records after it at its time, with the cancel or trade just before that emptied the
  queue) is written as the messages that produce it without ever showing an empty side, as real data never does:
  on the side the price moves towards, the new levels are added, then the emptying event, then the old levels
  are deleted and common ones resized; then the same on the other side. The opening snapshot (a ``CLEAR`` of an
  empty book) is written as a LOBSTER file opens: its last order with the whole opening book as its row (the
  orders resting before it are the file's start state); an empty one writes nothing. MODIFY and SWAP have no
  LOBSTER message and are refused with the row named (LOBSTER writes a replace as a delete and an add: split
  them first);
* ``direction``: the events' ``direction`` variable when present (LOBSTER events), else ``side`` for types 1-3,
  ``-side`` for executions (LOBSTER gives the resting order's side) and -1 for types 6-7, as LOBSTER does;
* ``price``: ``price_ticks x tick_size x 10000`` (checked whole); a halt's price, and the raw price of rows read
  from LOBSTER (a hidden execution may print inside the tick), come from the variable ``lobster_price`` when
  present; a halt without it writes -1 (halt);
* ``size``: ``qty_lots x lot_size`` shares (checked whole); ``order_id`` -1 (none) is written as 0;
* ``time``: seconds after local midnight of the trading day in the time zone (America/New_York unless the
  events' ``time_zone`` attribute says otherwise), with 9 decimals (ns).

Both files are written to hidden temporary names in the target folder and renamed into place only when both are
complete.
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numba
import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.io.lobster import EMPTY_ASK, EMPTY_BID, PRICE_SCALE, TIME_ZONE
from simlab.schema import NO_PRICE, EventKind

NS_PER_DAY = 86_400 * 10**9
# EventKind -> LOBSTER type (0: no LOBSTER message; L2 kinds are expanded before the lookup)
_TYPE = np.zeros(256, dtype=np.int64)
for _kind, _type in ((EventKind.ADD, 1), (EventKind.CANCEL, 2), (EventKind.DELETE, 3), (EventKind.TRADE, 4)):
    _TYPE[_kind] = _type
for _kind, _type in ((EventKind.TRADE_HIDDEN, 5), (EventKind.AUCTION, 6), (EventKind.HALT, 7)):
    _TYPE[_kind] = _type
_L2_KINDS = (EventKind.SET_LEVEL, EventKind.CLEAR)


def export_lobster(
    events: xr.Dataset,
    books: xr.Dataset,
    directory: str | Path,
    *,
    ticker: str | None = None,
    date: str | dt.date | None = None,
    levels: int | None = None,
) -> tuple[Path, Path]:
    """Write ``events`` and ``books`` as a LOBSTER message file and orderbook file in ``directory``.

    Parameters
    ----------
    events
        Events in the simlab schema (simulated, replayed or read from LOBSTER); see the module docstring for the
        mapping.
    books
        L2 books with one row per event (row *i* is the book after event *i*, at the event's ``ts_ns``), as
        ``simulate_zi(sample_ns=None)``, ``simulate_qr``, ``match_events(sample="event")`` and
        ``read_lobster`` give them.
    directory
        Folder of the two files (created when missing); existing files of the same names are replaced.
    ticker
        Instrument in the file names (default: the events' ``instrument`` attribute).
    date
        Trading day ``YYYY-MM-DD`` whose local midnight the times count from (default: the events' ``date``
        attribute, else the local day of the first event). Every event must fall on that day.
    levels
        Levels per side in the orderbook file (default: the books'); missing levels are written empty.

    Returns
    -------
    tuple of Path
        The message file and the orderbook file.
    """
    table = lobster_table(events, books, date=date, levels=levels)
    n_levels = table.book.shape[1] // 4
    name = _base_name(events, ticker, table.day, table.seconds_ns)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    message_path = directory / f"{name}_message_{n_levels}.csv"
    orderbook_path = directory / f"{name}_orderbook_{n_levels}.csv"
    fields = (table.event_type, table.order_id, table.size, table.price, table.direction)
    message = _format_rows(table.seconds_ns, np.stack(fields, axis=1), True).tobytes()
    orderbook = _format_rows(np.zeros(table.book.shape[0], np.int64), table.book, False).tobytes()
    _write_atomically({message_path: message, orderbook_path: orderbook})
    return message_path, orderbook_path


@dataclass(frozen=True)
class LobsterTable:
    """The rows of a LOBSTER message file and orderbook file, as int64 arrays (what :func:`export_lobster` writes).

    ``seconds_ns``: ns after local midnight of ``day``; ``event_type``, ``order_id`` (0 for none), ``size``
    (shares), ``price`` (USD x 10,000), ``direction``: the message columns; ``book``: the orderbook file
    ``(n, 4 x levels)``, empty levels at +-9999999999 with size 0.
    """

    day: dt.date
    seconds_ns: np.ndarray
    event_type: np.ndarray
    order_id: np.ndarray
    size: np.ndarray
    price: np.ndarray
    direction: np.ndarray
    book: np.ndarray


def lobster_table(
    events: xr.Dataset, books: xr.Dataset, *, date: str | dt.date | None = None, levels: int | None = None
) -> LobsterTable:
    """Return the LOBSTER rows of ``events`` and ``books`` in memory (see :func:`export_lobster` for the mapping)."""
    step, lot = _units(events)
    n_levels = _levels(books, levels)
    _check_alignment(events, books)
    rows, columns, book = _expand(events, books, n_levels)
    lobster_type, direction, price, size, order_id, ts_ns = columns
    zone = str(events.attrs.get("time_zone") or TIME_ZONE)
    day = _day(events, date, zone)
    seconds_ns = _seconds_after_midnight(ts_ns, day, zone, rows).astype(np.int64)
    raw = _raw_prices(events, rows, lobster_type)
    price = np.where(raw != NO_PRICE, raw, _scaled(price, step, "price_ticks", rows, lobster_type != 7))
    size = _scaled(size, lot, "qty_lots", rows, np.ones(size.shape, bool))
    columns = (lobster_type, np.maximum(order_id, 0), size, price, direction)
    lobster_type, order_id, size, price, direction = (np.ascontiguousarray(c, dtype=np.int64) for c in columns)
    return LobsterTable(day, seconds_ns, lobster_type, order_id, size, price, direction, _orderbook_cells(book, step))


def _units(events: xr.Dataset) -> tuple[int, int]:
    tick, lot = float(events.attrs.get("tick_size", 0)), float(events.attrs.get("lot_size", 0))
    step = tick * 10**PRICE_SCALE
    if not (np.isfinite(step) and step >= 1 and abs(step - round(step)) < 1e-6):
        raise ParameterError(f"export_lobster: `tick_size` must be a whole multiple of 0.0001 USD; got {tick!r}")
    if not (np.isfinite(lot) and lot >= 1 and abs(lot - round(lot)) < 1e-9):
        raise ParameterError(f"export_lobster: `lot_size` must be a whole number of shares >= 1; got {lot!r}")
    return round(step), round(lot)


def _levels(books: xr.Dataset, levels: int | None) -> int:
    if levels is None:
        levels = int(books.sizes.get("level", 0))
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 1:
        raise ParameterError(f"`levels` of export_lobster must be an int >= 1; got {levels!r}")
    return int(levels)


def _check_alignment(events: xr.Dataset, books: xr.Dataset) -> None:
    n, m = events.sizes.get("event", 0), books.sizes.get("time", 0)
    if n != m:
        raise DataError(
            f"export_lobster: the books must have one row per event (LOBSTER's orderbook row i follows message i); "
            f"got {m} book rows for {n} events (simulate with the book after every event)"
        )
    if n == 0:
        raise DataError("export_lobster: no events to write")
    differ = np.flatnonzero(events["ts_ns"].values != books["ts_ns"].values)
    if differ.size:
        row = int(differ[0])
        found = f"{int(books['ts_ns'].values[row])} for event ts_ns {int(events['ts_ns'].values[row])}"
        raise DataError(f"export_lobster: book row {row} must follow event {row} at its time; got ts_ns {found}")


def _expand(events: xr.Dataset, books: xr.Dataset, levels: int) -> tuple[np.ndarray, tuple, np.ndarray]:
    """Return the source row of each message, its (type, direction, price, size, id, ts) and its book rows."""
    kind, side = events["kind"].values.astype(np.int64), events["side"].values.astype(np.int64)
    price, qty, ts = events["price_ticks"].values, events["qty_lots"].values, events["ts_ns"].values
    full = _book_matrix(books, max(levels, books.sizes["level"]))  # (n, 4, levels): ask/bid price and qty
    lobster_type = _TYPE[kind & 0xFF]
    unmapped = np.flatnonzero((lobster_type == 0) & ~np.isin(kind, _L2_KINDS))
    if unmapped.size:
        row = int(unmapped[0])
        raise DataError(
            f"export_lobster: event {row} has kind {EventKind(kind[row]).name}, which has no LOBSTER message type "
            f"(LOBSTER writes a replace as a delete and an add: split MODIFY events first)"
        )
    if "direction" in events:
        direction = events["direction"].values.astype(np.int64)
    else:
        direction = np.where(lobster_type >= 6, -1, np.where((lobster_type == 4) | (lobster_type == 5), -side, side))
    order_id = events["order_id"].values.astype(np.int64)
    columns = (lobster_type, direction, price.astype(np.int64), qty.astype(np.int64), order_id, ts)
    rows = np.arange(kind.shape[0])
    if not np.isin(kind, _L2_KINDS).any():
        return rows, columns, full[:, :, :levels]
    return _expand_l2(kind, side, columns, full, levels)


def _expand_l2(kind, side, columns, book, levels):
    """Replace CLEAR and SET_LEVEL records by the order messages that make the same change (module docstring)."""
    out_rows, out_cols, out_book = [], [], []
    l2 = np.isin(kind, _L2_KINDS)
    blocks = _snapshot_blocks(kind, columns[5])
    folded = np.zeros(kind.shape[0], bool)
    for start, stop, trigger in blocks:
        folded[start:stop] = True
        if trigger >= 0:
            folded[trigger] = True
    keep = np.flatnonzero(~l2 & ~folded)
    out_rows.append(keep)
    out_cols.append(np.stack([c[keep] for c in columns], axis=1))
    out_book.append(book[keep, :, :levels])
    for row in np.flatnonzero(l2 & ~folded).tolist():  # SET_LEVEL records outside a snapshot
        before = book[row - 1] if row > 0 else _empty_book(book.shape[-1])
        messages, states = _set_level_message(before, book[row], side[row], columns, row)
        _append(out_rows, out_cols, out_book, row, messages, states, levels)
    for start, stop, trigger in blocks:
        first = trigger if trigger >= 0 else start
        messages, states = _price_move_messages(book, kind, side, columns, first, trigger, stop - 1)
        _append(out_rows, out_cols, out_book, first, messages, states, levels)
    rows = np.concatenate(out_rows)
    sub = np.concatenate([np.zeros(keep.size, np.int64)] + [np.arange(r.size) for r in out_rows[1:]])
    order = np.lexsort((sub, rows))
    table = np.concatenate(out_cols)[order]
    return rows[order], tuple(table[:, k] for k in range(6)), np.concatenate(out_book)[order]


def _append(out_rows, out_cols, out_book, row, messages, states, levels) -> None:
    if messages:
        out_rows.append(np.full(len(messages), row))
        out_cols.append(np.array(messages, dtype=np.int64))
        out_book.append(np.array(states, dtype=np.int64)[:, :, :levels])


def _snapshot_blocks(kind: np.ndarray, ts: np.ndarray) -> list[tuple[int, int, int]]:
    """(first, end, trigger) of each CLEAR and the SET_LEVEL records after it at its time; the trigger is the order
    event at the same time just before the CLEAR (the cancel or trade that emptied the queue), else -1."""
    blocks = []
    for start in np.flatnonzero(kind == EventKind.CLEAR).tolist():
        stop = start + 1
        while stop < kind.shape[0] and kind[stop] == EventKind.SET_LEVEL and ts[stop] == ts[start]:
            stop += 1
        before = start - 1
        plain = before >= 0 and kind[before] not in _L2_KINDS and ts[before] == ts[start]
        blocks.append((start, stop, before if plain and kind[before] != EventKind.ADD else -1))
    return blocks


def _price_move_messages(book, kind, side, columns, first, trigger, last) -> tuple[list, list]:
    """The messages of a price move: on the side the price moves towards, the new levels (and the trigger's level,
    when it is refilled) are added, then the triggering event applies, then the old levels are deleted and common
    ones resized; then the same on the other side."""
    after = book[last]
    if first == 0 or not (book[first - 1][1] > 0).any() and not (book[first - 1][3] > 0).any():
        return _opening_message(after, side, columns, last) if kind[last] == EventKind.SET_LEVEL else ([], [])
    before = book[first - 1]
    state = {0: _levels_of(before, 0), 2: _levels_of(before, 2)}
    target = {0: _levels_of(after, 0), 2: _levels_of(after, 2)}
    if trigger >= 0:
        resting = -side[trigger] if kind[trigger] in (EventKind.TRADE, EventKind.TRADE_HIDDEN) else side[trigger]
        moving = 2 if resting == 1 else 0
    else:
        moving = 0 if _mid2(after) >= _mid2(before) else 2
    ts = int(columns[5][last])
    messages, states = [], []

    def emit(lobster_type, block, price, qty, message=None):
        held = state[block].get(price, 0) + (qty if lobster_type == 1 else -qty)
        if held > 0:
            state[block][price] = held
        else:
            state[block].pop(price, None)
        direction = 1 if block == 2 else -1
        messages.append(message or (lobster_type, direction, price, qty, 0, ts))
        states.append(_render(state, after.shape[-1]))

    for block in (moving, 2 - moving):
        added = set(target[block]) - set(state[block])
        if block == moving and trigger >= 0 and int(columns[2][trigger]) in target[block]:
            added.add(int(columns[2][trigger]))  # refilled after the trigger empties it: added before, not after
        for price in sorted(added, reverse=block == 2):
            emit(1, block, price, target[block][price])
        if block == moving and trigger >= 0:
            lobster_type = int(columns[0][trigger])
            emit(lobster_type, block, int(columns[2][trigger]), int(columns[3][trigger]),
                 tuple(int(c[trigger]) for c in columns))  # fmt: skip
        for price in sorted(state[block], reverse=block == 2):
            change = target[block].get(price, 0) - state[block][price]
            if change:
                emit(1 if change > 0 else (3 if price not in target[block] else 2), block, price, abs(change))
    if not np.array_equal(states[-1] if states else before, after):
        raise DataError(f"export_lobster: the book after record {last} does not follow from the records before it")
    return messages, states


def _opening_message(after, side, columns, last) -> tuple[list, list]:
    """The opening snapshot, as a LOBSTER file opens: its last order with the whole opening book as its row (the
    orders resting before it are the file's start state, which replay_lobster takes from the first row)."""
    message = (1, int(side[last]), int(columns[2][last]), int(columns[3][last]), 0, int(columns[5][last]))
    return [message], [after]


def _levels_of(book: np.ndarray, block: int) -> dict[int, int]:
    quoted = book[block + 1] > 0
    return dict(zip(book[block][quoted].tolist(), book[block + 1][quoted].tolist(), strict=True))


def _render(state: dict[int, dict[int, int]], levels: int) -> np.ndarray:
    out = _empty_book(levels)
    for block in (0, 2):
        prices = sorted(state[block], reverse=block == 2)[:levels]
        out[block, : len(prices)] = prices
        out[block + 1, : len(prices)] = [state[block][p] for p in prices]
    return out


def _mid2(book: np.ndarray) -> float:
    ask = book[0][book[1] > 0]
    bid = book[2][book[3] > 0]
    return float((ask.min() if ask.size else np.inf) + (bid.max() if bid.size else -np.inf))


def _set_level_message(before, after, side, columns, row) -> tuple[list, list]:
    if side not in (1, -1):
        raise DataError(f"export_lobster: SET_LEVEL event {row} needs side +1 or -1; got {side}")
    block = 2 if side == 1 else 0
    price, qty = int(columns[2][row]), int(columns[3][row])
    held = before[block + 1][before[block] == price]
    old = int(held[0]) if held.size else 0
    if qty == old:
        return [], []
    lobster_type = 1 if qty > old else (3 if qty == 0 else 2)
    return [(lobster_type, int(side), price, abs(qty - old), 0, int(columns[5][row]))], [after]


def _empty_book(levels: int) -> np.ndarray:
    book = np.zeros((4, levels), np.int64)
    book[0] = book[2] = NO_PRICE
    return book


def _book_matrix(books: xr.Dataset, levels: int) -> np.ndarray:
    n, have = books.sizes["time"], min(levels, books.sizes["level"])
    book = np.broadcast_to(_empty_book(levels), (n, 4, levels)).copy()
    for block, name in enumerate(("ask_price", "ask_qty", "bid_price", "bid_qty")):
        book[:, block, :have] = books[name].values[:, :have]
    for block in (0, 2):
        book[:, block][book[:, block + 1] <= 0] = NO_PRICE
    return book


def _day(events: xr.Dataset, date: str | dt.date | None, zone: str) -> dt.date:
    value = date if date is not None else events.attrs.get("date")
    if value is None:
        first = int(events["ts_ns"].values[0])
        return dt.datetime.fromtimestamp(first // 10**9, ZoneInfo(zone)).date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ParameterError(f"`date` of export_lobster must be YYYY-MM-DD; got {value!r}") from exc


def _seconds_after_midnight(ts_ns: np.ndarray, day: dt.date, zone: str, rows: np.ndarray) -> np.ndarray:
    """ns after local midnight of ``day``: UTC time + the zone's UTC offset at that time - UTC midnight."""
    hours, inverse = np.unique(ts_ns // (3600 * 10**9), return_inverse=True)
    tz = ZoneInfo(zone)
    offsets = np.array([dt.datetime.fromtimestamp(int(h) * 3600, tz).utcoffset().total_seconds() for h in hours])
    local = ts_ns + (offsets * 10**9).astype(np.int64)[inverse] - calendar.timegm(day.timetuple()) * 10**9
    outside = np.flatnonzero((local < 0) | (local >= NS_PER_DAY))
    if outside.size:
        i = int(outside[0])
        raise DataError(
            f"export_lobster: event {int(rows[i])} at ts_ns {int(ts_ns[i])} is not on the trading day {day} "
            f"({zone}); pass the day of the events as `date` (one file pair holds one day)"
        )
    return local


def _raw_prices(events: xr.Dataset, rows: np.ndarray, lobster_type: np.ndarray) -> np.ndarray:
    """LOBSTER prices to write as they are (NO_PRICE: compute from the ticks)."""
    raw = np.full(rows.shape[0], NO_PRICE, np.int64)
    raw[lobster_type == 7] = -1
    if "lobster_price" in events and "lobster_type" in events:
        source = events["lobster_price"].values[rows].astype(np.int64)
        same = events["lobster_type"].values[rows] == lobster_type
        raw = np.where(same & (lobster_type >= 5), source, raw)
    return raw


def _scaled(values: np.ndarray, unit: int, name: str, rows: np.ndarray, check: np.ndarray) -> np.ndarray:
    limit = np.iinfo(np.int64).max // unit
    bad = np.flatnonzero(check & ((values < 0) | (values > limit)))
    if bad.size:
        i = int(bad[0])
        raise DataError(f"export_lobster: event {int(rows[i])} has {name} {int(values[i])}, outside 0..{limit}")
    return values * unit


def _base_name(events: xr.Dataset, ticker: str | None, day: dt.date, seconds_ns: np.ndarray) -> str:
    ticker = str(ticker or events.attrs.get("instrument") or "UNKNOWN")
    if not ticker or any(c in ticker for c in "_/\\") or ticker != ticker.strip():
        raise ParameterError(f"`ticker` of export_lobster must be a name without '_', '/' or spaces; got {ticker!r}")
    start, end = events.attrs.get("start_ms"), events.attrs.get("end_ms")
    first_ms, last_ms = int(seconds_ns[0] // 10**6), int(seconds_ns[-1] // 10**6) + 1
    if not (isinstance(start, int) and isinstance(end, int) and start <= first_ms and last_ms <= end):
        start, end = first_ms, last_ms
    return f"{ticker}_{day.isoformat()}_{start}_{end}"


def _orderbook_cells(book: np.ndarray, step: int) -> np.ndarray:
    n, _, levels = book.shape
    cells = np.empty((n, levels, 4), np.int64)
    cells[..., 0] = np.where(book[:, 0] == NO_PRICE, EMPTY_ASK, book[:, 0] * step)
    cells[..., 1] = book[:, 1]
    cells[..., 2] = np.where(book[:, 2] == NO_PRICE, EMPTY_BID, book[:, 2] * step)
    cells[..., 3] = book[:, 3]
    return cells.reshape(n, 4 * levels)


@numba.njit(cache=True)
def _put_int(buf, pos, value):
    if value < 0:
        buf[pos] = 45  # '-'
        pos += 1
        value = -value
    start = pos
    while True:
        buf[pos] = 48 + value % 10
        pos += 1
        value //= 10
        if value == 0:
            break
    buf[start:pos] = buf[start:pos][::-1].copy()
    return pos


@numba.njit(cache=True)
def _format_rows(seconds_ns, fields, with_time):
    # CSV text of the rows: [seconds.nanoseconds,] then the int fields, comma separated
    n, m = fields.shape
    buf = np.empty(n * (m * 21 + 32), np.uint8)
    pos = 0
    for i in range(n):
        if with_time:
            pos = _put_int(buf, pos, seconds_ns[i] // 1_000_000_000)
            buf[pos] = 46  # '.'
            fraction = seconds_ns[i] % 1_000_000_000
            for k in range(9):
                buf[pos + 9 - k] = 48 + fraction % 10
                fraction //= 10
            pos += 10
        for j in range(m):
            if j > 0 or with_time:
                buf[pos] = 44  # ','
                pos += 1
            pos = _put_int(buf, pos, fields[i, j])
        buf[pos] = 10
        pos += 1
    return buf[:pos]


def _write_atomically(contents: dict[Path, bytes]) -> None:
    temporary = {path: path.with_name(f".{path.name}.partial-{uuid.uuid4().hex[:12]}") for path in contents}
    try:
        for path, data in contents.items():
            temporary[path].write_bytes(data)
        for path, tmp in temporary.items():
            os.replace(tmp, path)
    finally:
        for tmp in temporary.values():
            tmp.unlink(missing_ok=True)
