"""One schema for order flow: events, L2 books and bars (DESIGN.md section 2).

* **Events** are an xarray Dataset over the dimension ``event`` with the variables ``ts_ns`` (int64, ns since the
  epoch, UTC), ``kind`` (int8, :class:`EventKind`), ``side`` (int8: +1 bid/buy, -1 ask/sell, 0 none; for a trade,
  the aggressor), ``price_ticks`` and ``qty_lots`` (int64), ``order_id`` (int64, -1 none) and ``agent_id`` (int32,
  -1 exogenous). Readers may add further variables along ``event`` (a trade id, an exchange code). Tick size, lot
  size, instrument, venue and schema version are attributes.
* **Books** are L2 snapshots over ``(time, level)`` with ``bid_price``, ``bid_qty``, ``ask_price``, ``ask_qty``
  (int64 ticks and lots) and the coordinate ``ts_ns`` along ``time``. An empty level has quantity 0 and price
  :data:`NO_PRICE`.
* **Bars** are time-binned features over ``time`` with the coordinate ``ts_ns`` holding each bin's end.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import numba
import numpy as np
import xarray as xr

from simlab.errors import DataError
from simlab.provenance import SCHEMA_VERSION

NO_PRICE = np.iinfo(np.int64).min
"""Price of an empty book level (its quantity is 0)."""


class EventKind(IntEnum):
    """What an event record does."""

    ADD = 1  # a new limit order rests at price_ticks with qty_lots
    CANCEL = 2  # partial cancellation: qty_lots leave the order
    DELETE = 3  # the whole remaining order leaves the book
    MODIFY = 4  # the order order_id now rests at price_ticks with qty_lots
    TRADE = 5  # an execution of visible liquidity; side is the aggressor's
    TRADE_HIDDEN = 6  # an execution against hidden liquidity; side is the aggressor's
    AUCTION = 7  # a cross / auction trade
    HALT = 8  # trading status change (halt, resume)
    SET_LEVEL = 9  # L2 update: the level at price_ticks on side now holds qty_lots (0 removes it)
    CLEAR = 10  # the book is reset (an L2 snapshot's SET_LEVEL events follow)
    SWAP = 11  # an AMM swap; side +1 when the trader buys the base token; price_ticks is the pool price after


class Side(IntEnum):
    """Order or aggressor side."""

    BID = 1
    ASK = -1
    NONE = 0


BUY = Side.BID
SELL = Side.ASK

EVENT_FIELDS: dict[str, np.dtype] = {
    "ts_ns": np.dtype(np.int64),
    "kind": np.dtype(np.int8),
    "side": np.dtype(np.int8),
    "price_ticks": np.dtype(np.int64),
    "qty_lots": np.dtype(np.int64),
    "order_id": np.dtype(np.int64),
    "agent_id": np.dtype(np.int32),
}
_KINDS = [kind.value for kind in EventKind]
_KNOWN_KIND = np.zeros(256, dtype=np.bool_)  # indexed by the int8 kind + 128
_KNOWN_KIND[np.array(_KINDS) + 128] = True
BOOK_FIELDS = ("bid_price", "bid_qty", "ask_price", "ask_qty")
REQUIRED_EVENT_ATTRS = ("tick_size", "lot_size", "instrument", "venue", "schema_version")


def make_events(
    *,
    ts_ns: np.ndarray,
    kind: np.ndarray | int,
    side: np.ndarray | int,
    price_ticks: np.ndarray | int,
    qty_lots: np.ndarray | int,
    tick_size: float,
    lot_size: float,
    instrument: str,
    venue: str,
    order_id: np.ndarray | int = -1,
    agent_id: np.ndarray | int = -1,
    extra: dict[str, np.ndarray] | None = None,
    attrs: dict[str, Any] | None = None,
    source: str = "events",
) -> xr.Dataset:
    """Build and validate an events Dataset.

    Scalars broadcast to the length of ``ts_ns``. ``extra`` holds further per-event variables; ``attrs`` further
    dataset attributes (provenance, time zone, ...). ``source`` names the data in error messages.
    """
    ts = np.asarray(ts_ns)
    n = ts.shape[0] if ts.ndim == 1 else -1
    if n < 0:
        raise DataError(f"{source}: `ts_ns` must be a 1-D array; got shape {ts.shape}")
    columns = dict(ts_ns=ts, kind=kind, side=side, price_ticks=price_ticks, qty_lots=qty_lots)
    columns.update(order_id=order_id, agent_id=agent_id)
    data_vars = {}
    for name, dtype in EVENT_FIELDS.items():
        values = np.asarray(columns[name])
        values = np.full(n, values, dtype=dtype) if values.ndim == 0 else values
        data_vars[name] = ("event", _cast(values, dtype, name, n, source))
    for name, values in (extra or {}).items():
        values = np.asarray(values)
        if values.shape[:1] != (n,):
            raise DataError(f"{source}: extra variable {name!r} must have length {n}; got shape {values.shape}")
        data_vars[name] = (("event",) + tuple(f"{name}_dim{i}" for i in range(1, values.ndim)), values)
    all_attrs = {"tick_size": float(tick_size), "lot_size": float(lot_size)}
    all_attrs.update(instrument=str(instrument), venue=str(venue), schema_version=SCHEMA_VERSION)
    all_attrs.update(attrs or {})
    events = xr.Dataset(data_vars, attrs=all_attrs)
    validate_events(events, source=source)
    return events


def validate_events(events: xr.Dataset, *, source: str = "events") -> xr.Dataset:
    """Check an events Dataset against the schema; raise :class:`DataError` naming the first bad row."""
    for name, dtype in EVENT_FIELDS.items():
        if name not in events:
            raise DataError(f"{source}: events lack the variable {name!r}; expected {list(EVENT_FIELDS)}")
        if events[name].dims != ("event",) or events[name].dtype != dtype:
            found = f"dims {events[name].dims} and dtype {events[name].dtype}"
            raise DataError(f"{source}: variable {name!r} must be ('event',) of {dtype}; got {found}")
    for name in REQUIRED_EVENT_ATTRS:
        if name not in events.attrs:
            raise DataError(f"{source}: events lack the attribute {name!r}; expected {REQUIRED_EVENT_ATTRS}")
    for name in ("tick_size", "lot_size"):
        value = events.attrs[name]
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise DataError(f"{source}: attribute {name!r} must be a finite number > 0; got {value!r}")
    columns = [events[name].values for name in ("ts_ns", "kind", "side", "qty_lots")]
    bad = _scan_events(*columns, _KNOWN_KIND)
    rules = ("ts_ns must not decrease", f"kind must be one of {_KINDS}", "side must be -1, 0 or +1")
    for rule, row, values in zip(rules + ("qty_lots must be >= 0",), bad, columns, strict=True):
        if row >= 0:
            _raise_at(int(row), source, rule, values)
    return events


def make_books(
    *,
    ts_ns: np.ndarray,
    bid_price: np.ndarray,
    bid_qty: np.ndarray,
    ask_price: np.ndarray,
    ask_qty: np.ndarray,
    attrs: dict[str, Any] | None = None,
    source: str = "books",
    allow_crossed: bool = False,
) -> xr.Dataset:
    """Build and validate an L2 books Dataset from ``(time, level)`` arrays (level 1 is the best)."""
    ts = np.asarray(ts_ns, dtype=np.int64)
    arrays = {}
    for name, values in zip(BOOK_FIELDS, (bid_price, bid_qty, ask_price, ask_qty), strict=True):
        values = np.asarray(values)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or values.shape[0] != ts.shape[0]:
            raise DataError(f"{source}: {name} must have shape (time={ts.shape[0]}, level); got {values.shape}")
        arrays[name] = (("time", "level"), _cast(values, np.dtype(np.int64), name, None, source))
    n_levels = arrays["bid_price"][1].shape[1]
    coords = {"ts_ns": ("time", ts), "level": ("level", np.arange(1, n_levels + 1, dtype=np.int16))}
    all_attrs = {"schema_version": SCHEMA_VERSION}
    all_attrs.update(attrs or {})
    books = xr.Dataset(arrays, coords=coords, attrs=all_attrs)
    validate_books(books, source=source, allow_crossed=allow_crossed)
    return books


def validate_books(books: xr.Dataset, *, source: str = "books", allow_crossed: bool = False) -> xr.Dataset:
    """Check an L2 books Dataset: shapes, non-negative sizes, empty levels, ordered levels, no crossed touch."""
    for name in BOOK_FIELDS:
        if name not in books or books[name].dims != ("time", "level"):
            raise DataError(f"{source}: books need {name!r} over ('time', 'level'); got {list(books.data_vars)}")
    ts = books["ts_ns"].values
    arrays = [books[name].values for name in BOOK_FIELDS]
    if all(a.dtype == np.int64 for a in arrays) and ts.dtype == np.int64:  # one pass (numba), the first bad row of
        # each rule; any other dtype (a reader's book before its cast) by the same rules in numpy
        bad = _scan_books(ts, *arrays, not allow_crossed)
    else:
        bad = _scan_books_numpy(ts, *arrays, not allow_crossed)
    rules = [("ts_ns must not decrease", ts)]
    for side, (price, qty) in (("bid", arrays[:2]), ("ask", arrays[2:])):
        rules += [(f"{side}_qty must be >= 0", qty), (f"an empty {side} level must carry NO_PRICE", price),
                  (f"{side} levels must be strictly ordered from the touch", price)]  # fmt: skip
    rules.append(("the book must not be crossed (best bid < best ask)", arrays[0]))
    for row, (rule, values) in zip(bad, rules, strict=True):
        if row >= 0:
            _raise_at(int(row), source, rule, values)
    return books


def _scan_books_numpy(ts, bid_price, bid_qty, ask_price, ask_qty, check_crossed) -> np.ndarray:
    """:func:`_scan_books` in numpy, for books of other dtypes."""

    def first(bad: np.ndarray, offset: int = 0) -> int:
        return int(np.flatnonzero(bad)[0]) + offset if bad.any() else -1

    out = [first(np.diff(ts) < 0, 1)]
    for side, price, qty in (("bid", bid_price, bid_qty), ("ask", ask_price, ask_qty)):
        step = np.diff(price, axis=1) if price.shape[1] > 1 else np.zeros((price.shape[0], 0), np.int64)
        both = (qty[:, 1:] > 0) & (qty[:, :-1] > 0)
        wrong = (step >= 0) if side == "bid" else (step <= 0)
        out += [first((qty < 0).any(axis=1)), first(~((qty > 0) | (price == NO_PRICE)).all(axis=1)),
                first((wrong & both).any(axis=1))]  # fmt: skip
    touch = (bid_qty[:, 0] > 0) & (ask_qty[:, 0] > 0) if bid_qty.shape[1] else np.zeros(ts.shape[0], bool)
    out.append(first(touch & (bid_price[:, 0] >= ask_price[:, 0])) if check_crossed and bid_qty.shape[1] else -1)
    return np.array(out, dtype=np.int64)


def make_bars(ts_ns: np.ndarray, variables: dict[str, np.ndarray], attrs: dict[str, Any] | None = None) -> xr.Dataset:
    """Build a bars Dataset over ``time`` whose coordinate ``ts_ns`` is each bin's end (ns since the epoch)."""
    ts = np.asarray(ts_ns, dtype=np.int64)
    data_vars = {}
    for name, values in variables.items():
        values = np.asarray(values)
        dims = ("time",) + tuple(f"{name}_dim{i}" for i in range(1, values.ndim))
        data_vars[name] = (dims, values)
    all_attrs = {"schema_version": SCHEMA_VERSION}
    all_attrs.update(attrs or {})
    return xr.Dataset(data_vars, coords={"ts_ns": ("time", ts)}, attrs=all_attrs)


def _cast(values: np.ndarray, dtype: np.dtype, name: str, n: int | None, source: str) -> np.ndarray:
    if n is not None and values.shape != (n,):
        raise DataError(f"{source}: {name} must have length {n} like ts_ns; got shape {values.shape}")
    if values.dtype == dtype:
        return values
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values).reshape(values.shape[0], -1).all(axis=1))[0])
        raise DataError(
            f"{source}: {name} must be finite; row {row} holds {values.reshape(values.shape[0], -1)[row].tolist()}"
        )
    cast = values.astype(dtype)
    if values.dtype.kind in "fiub" and not np.array_equal(cast, values):
        bad = np.flatnonzero((cast != values).reshape(values.shape[0], -1).any(axis=1))[0]
        raise DataError(f"{source}: {name} must hold whole numbers fitting {dtype}; row {bad} does not")
    return cast


def _raise_at(row: int, source: str, rule: str, values: np.ndarray) -> None:
    found = values[row].tolist() if hasattr(values[row], "tolist") else values[row]
    raise DataError(f"{source}: row {row}: {rule}; found {found!r}")


@numba.njit(cache=True)
def _scan_books(ts, bid_price, bid_qty, ask_price, ask_qty, check_crossed):
    # the first row breaking each rule of validate_books (-1 none), in its order: ts decreases; per side (bid, then
    # ask) a size < 0, an empty level without NO_PRICE, two filled neighbouring levels out of order; a crossed touch
    bad = np.full(8, -1, dtype=np.int64)
    n, levels = bid_price.shape
    for i in range(n):
        if i > 0 and ts[i] < ts[i - 1] and bad[0] < 0:
            bad[0] = i
        for k in range(2):
            price, qty, base = (bid_price, bid_qty, 1) if k == 0 else (ask_price, ask_qty, 4)
            for j in range(levels):
                q = qty[i, j]
                if q < 0 and bad[base] < 0:
                    bad[base] = i
                if q <= 0 and price[i, j] != NO_PRICE and bad[base + 1] < 0:
                    bad[base + 1] = i
                if j > 0 and q > 0 and qty[i, j - 1] > 0 and bad[base + 2] < 0:
                    step = price[i, j] - price[i, j - 1]
                    if (k == 0 and step >= 0) or (k == 1 and step <= 0):
                        bad[base + 2] = i
        if check_crossed and levels > 0 and bad[7] < 0 and bid_qty[i, 0] > 0 and ask_qty[i, 0] > 0:
            if bid_price[i, 0] >= ask_price[i, 0]:
                bad[7] = i
    return bad


@numba.njit(cache=True)
def _scan_events(ts, kind, side, qty, known_kind):
    # the first row breaking each rule of validate_events (-1 none): ts decreases, unknown kind, side, qty < 0
    bad = np.full(4, -1, dtype=np.int64)
    for i in range(ts.shape[0]):
        if i > 0 and ts[i] < ts[i - 1] and bad[0] < 0:
            bad[0] = i
        if not known_kind[np.int64(kind[i]) + 128] and bad[1] < 0:
            bad[1] = i
        if (side[i] < -1 or side[i] > 1) and bad[2] < 0:
            bad[2] = i
        if qty[i] < 0 and bad[3] < 0:
            bad[3] = i
    return bad
