"""Reader of Tardis.dev CSV downloads: trades, incremental L2 book updates, quotes and book snapshots.

Every Tardis CSV starts with ``exchange,symbol,timestamp,local_timestamp`` (times in µs since the epoch, UTC:
``timestamp`` is the exchange's, ``local_timestamp`` Tardis's arrival time). The layouts are told apart by the
rest of the header:

* ``trades``: ``id,side,price,amount`` with ``side`` the aggressor (``buy``/``sell``/``unknown``);
* ``incremental_book_L2``: ``is_snapshot,side,price,amount`` (``side`` bid/ask; amount 0 removes the level);
* ``quotes``: ``ask_amount,ask_price,bid_price,bid_amount``;
* ``book_snapshot_N``: ``asks[i].price,asks[i].amount,bids[i].price,bids[i].amount`` for i = 0..N-1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numba
import numpy as np
import xarray as xr

from simlab.errors import DataError
from simlab.io._csv import Column, Table, parse_csv
from simlab.io._source import read_bytes
from simlab.io.binance import TIME_BANDS
from simlab.provenance import provenance
from simlab.schema import NO_PRICE, EventKind, make_books, make_events

SCALE = 8
"""Decimals kept when parsing Tardis prices and amounts."""

_PREFIX = ["exchange", "symbol", "timestamp", "local_timestamp"]
_TAILS = {
    "trades": ["id", "side", "price", "amount"],
    "incremental_book_L2": ["is_snapshot", "side", "price", "amount"],
    "quotes": ["ask_amount", "ask_price", "bid_price", "bid_amount"],
}
KINDS = ("auto", "trades", "incremental_book_L2", "quotes", "book_snapshot")
_EMPTY = NO_PRICE  # what an empty optional decimal field parses to (no file value can be int64's minimum)


def read_tardis(
    path: str | Path,
    *,
    kind: str = "auto",
    tick_size: float | None = None,
    lot_size: float | None = None,
    sort: bool = False,
    allow_crossed: bool = False,
) -> dict[str, xr.Dataset]:
    """Read a Tardis.dev CSV (.csv or .csv.gz), detecting its layout from the header.

    Parameters
    ----------
    path
        The Tardis file.
    kind
        ``"auto"`` or the expected layout: ``"trades"``, ``"incremental_book_L2"``, ``"quotes"``, ``"book_snapshot"``.
    tick_size, lot_size
        Price tick and amount lot in the file's units; None infers each as the gcd of the values.
    sort
        Sort rows stably by exchange timestamp instead of rejecting a decreasing one.
    allow_crossed
        Accept books whose best bid >= best ask (quotes, snapshots).

    Returns
    -------
    dict
        ``{"events": Dataset}`` for trades (TRADE, side = aggressor, 0 for ``unknown``; numeric ids kept as
        ``trade_id``, other ids such as BitMEX UUIDs dropped with the attribute ``trade_id_dropped``) and for
        incremental_book_L2 (SET_LEVEL events, each snapshot run preceded by a CLEAR); ``{"books": Dataset}`` with
        1 level for quotes and N levels for book_snapshot_N (an empty level has NO_PRICE and quantity 0). Times are
        ``timestamp`` µs -> ns; ``local_ts_ns`` holds ``local_timestamp`` in ns.
    """
    path = Path(path)
    if kind not in KINDS:
        raise DataError(f"read_tardis: `kind` must be one of {list(KINDS)}; got {kind!r}")
    buf = read_bytes(path)
    layout, columns = _detect_layout(buf, path.name, kind)
    table = parse_csv(buf, columns, source=path.name, header=True)
    if len(table) == 0:
        raise DataError(f"{path.name}: expected at least one data row after the {layout} header; found none")
    config = dict(kind=kind, tick_size=tick_size, lot_size=lot_size, sort=sort, allow_crossed=allow_crossed)
    attrs = provenance(seed=None, config=config, sources=[path])
    attrs.update(format=f"tardis_{layout}", layout=layout, price_scale=SCALE, source_time_unit="us")
    attrs.update(_identity(table, buf))
    _sort_rows(table, sort)
    attrs["sorted"] = bool(sort)
    attrs.update(tick_size_inferred=tick_size is None, lot_size_inferred=lot_size is None)
    units = (tick_size, lot_size)
    if layout == "trades":
        return {"events": _trades(table, buf, units, attrs)}
    if layout == "incremental_book_L2":
        return {"events": _incremental(table, buf, units, attrs)}
    return {"books": _books(table, layout, units, attrs, allow_crossed)}


def known_layouts() -> dict[str, str]:
    """Return the known Tardis headers by layout name (book_snapshot_N shown by its first level)."""
    layouts = {name: ",".join(_PREFIX + tail) for name, tail in _TAILS.items()}
    layouts["book_snapshot_N"] = ",".join(_PREFIX + _snapshot_names(1)) + ",... (levels 0..N-1)"
    return layouts


def _snapshot_names(levels: int) -> list[str]:
    names = []
    for i in range(levels):
        names += [f"asks[{i}].price", f"asks[{i}].amount", f"bids[{i}].price", f"bids[{i}].amount"]
    return names


def _detect_layout(buf: np.ndarray, name: str, kind: str) -> tuple[str, list[Column]]:
    newline = np.flatnonzero(buf[: 1 << 16] == 10)
    end = int(newline[0]) if newline.size else min(buf.shape[0], 1 << 16)
    fields = bytes(buf[:end]).decode("utf-8", "replace").rstrip("\r").split(",")
    head = [Column("exchange", "str"), Column("symbol", "str"), Column("timestamp"), Column("local_timestamp")]
    tail, levels = fields[4:], (len(fields) - 4) // 4
    layout = None
    if fields[:4] == _PREFIX:
        layout = next((lay for lay, names in _TAILS.items() if tail == names), None)
        if layout is None and levels > 0 and tail == _snapshot_names(levels):
            layout = f"book_snapshot_{levels}"
    if layout is None or (kind != "auto" and not layout.startswith(kind)):
        known = "; ".join(f"{lay}: {header}" for lay, header in known_layouts().items())
        wanted = "a known Tardis header" if kind == "auto" else f"the Tardis {kind} header"
        raise DataError(f"{name} line 1: expected {wanted} ({known}); found {','.join(fields)[:300]!r}")
    if layout == "trades":
        return layout, head + [Column("id", "str"), Column("side", "str"), _dec("price"), _dec("amount")]
    if layout == "incremental_book_L2":
        return layout, head + [Column("is_snapshot", "bool"), Column("side", "str"), _dec("price"), _dec("amount")]
    return layout, head + [_dec(field, optional=True) for field in tail]


def _dec(name: str, optional: bool = False) -> Column:
    return Column(name, "decimal", SCALE, optional=optional, fill=_EMPTY)


def _identity(table: Table, buf: np.ndarray) -> dict[str, Any]:
    out = {}
    for column, attr in (("exchange", "venue"), ("symbol", "instrument")):
        first = table.field(column, 0)
        bad = np.flatnonzero(table.codes(column, [first]) < 0)
        if bad.size:
            rule = f"expected the same {column} on every row (line {table.line(0)} holds {first!r})"
            raise table.error(int(bad[0]), rule, column, table.field(column, int(bad[0])))
        out[attr] = first
    for column in ("timestamp", "local_timestamp"):
        lo, hi, _ = TIME_BANDS["us"]
        values = table[column]
        table.require((values >= lo) & (values < hi), f"expected epoch µs in [{lo:.0e}, {hi:.0e})", column)
    return out


def _sort_rows(table: Table, sort: bool) -> None:
    ts = table["timestamp"]
    down = np.flatnonzero(ts[1:] < ts[:-1])
    if not down.size:
        return
    row = int(down[0]) + 1
    if not sort:
        rule = f"timestamps must not decrease (line {table.line(row - 1)} holds {ts[row - 1]}); pass sort=True to sort"
        raise table.error(row, rule, "timestamp", int(ts[row]))
    table.reorder(np.argsort(ts, kind="stable"))


def _units(table: Table, values: np.ndarray, unit: float | None, column: str) -> tuple[np.ndarray, float]:
    """Return ticks or lots of scaled decimals (empty cells, holding NO_PRICE, ignored) and the unit size."""
    filled = values[values != _EMPTY]
    if unit is None:
        step = max(int(np.gcd.reduce(filled)) if filled.size else 1, 1)
    else:
        step = round(unit * 10**SCALE)
        if step <= 0 or abs(step - unit * 10**SCALE) > 1e-9 * step:
            raise DataError(f"{table.source}: unit {unit} of {column!r} is not a positive multiple of 1e-{SCALE}")
        off = (values % step != 0) & (values != _EMPTY)
        if off.any():
            row = int(np.flatnonzero(off.reshape(off.shape[0], -1).any(axis=1))[0])
            raise table.error(row, f"must be a whole multiple of the unit {unit}", column)
    return np.where(values == _EMPTY, _EMPTY, values // step), step / 10**SCALE


def _positive(table: Table, column: str, allow_zero: bool = False) -> None:
    values = table[column]
    ok = values >= 0 if allow_zero else values > 0
    rule = "expected a number >= 0" if allow_zero else "expected a number > 0"
    table.require(ok, rule, column)


def _trades(table: Table, buf: np.ndarray, units: tuple, attrs: dict[str, Any]) -> xr.Dataset:
    _positive(table, "price")
    _positive(table, "amount")
    codes = table.codes("side", ["buy", "sell", "unknown"])
    _require(table, buf, codes, "side", "expected buy, sell or unknown")
    side = np.array([1, -1, 0], dtype=np.int8)[codes]
    price, tick = _units(table, table["price"], units[0], "price")
    qty, lot = _units(table, table["amount"], units[1], "amount")
    extra = {"local_ts_ns": table["local_timestamp"] * 1000}
    ids, bad = _parse_ids(buf, table.offsets("id"))
    if bad < 0:
        extra["trade_id"] = ids
    else:
        shown = table.field("id", bad)
        attrs["trade_id_dropped"] = f"ids are not integers (line {table.line(bad)} holds {shown!r}); not kept"
    attrs["unknown_side_trades"] = int((codes == 2).sum())
    attrs["side_convention"] = "aggressor: buy -> +1, sell -> -1, unknown -> 0"
    return make_events(
        ts_ns=table["timestamp"] * 1000, kind=int(EventKind.TRADE), side=side, price_ticks=price, qty_lots=qty,
        tick_size=tick, lot_size=lot, instrument=attrs.pop("instrument"), venue=attrs.pop("venue"),
        extra=extra, attrs=attrs, source=table.source,
    )  # fmt: skip


def _incremental(table: Table, buf: np.ndarray, units: tuple, attrs: dict[str, Any]) -> xr.Dataset:
    _positive(table, "price")
    _positive(table, "amount", allow_zero=True)
    codes = table.codes("side", ["bid", "ask"])
    _require(table, buf, codes, "side", "expected bid or ask")
    price, tick = _units(table, table["price"], units[0], "price")
    qty, lot = _units(table, table["amount"], units[1], "amount")
    snap = table["is_snapshot"]
    starts = snap & ~np.concatenate(([False], snap[:-1]))  # a snapshot run begins: reset the book first
    where = np.arange(snap.shape[0]) + np.cumsum(starts)
    n = snap.shape[0] + int(starts.sum())
    clear = np.ones(n, dtype=bool)
    clear[where] = False
    out = {
        "kind": (EventKind.SET_LEVEL, EventKind.CLEAR, np.int8), "side": (np.int8(1) - 2 * codes, 0, np.int8),
        "price_ticks": (price, NO_PRICE, np.int64), "qty_lots": (qty, 0, np.int64),
        "ts_ns": (table["timestamp"] * 1000, None, np.int64),
        "local_ts_ns": (table["local_timestamp"] * 1000, None, np.int64),
        "is_snapshot": (snap, True, np.bool_),
    }  # fmt: skip
    arrays = {name: _spread(values, fill, dtype, where, clear, n) for name, (values, fill, dtype) in out.items()}
    attrs.update(snapshots=int(starts.sum()), side_convention="book side: bid -> +1, ask -> -1")
    return make_events(
        ts_ns=arrays["ts_ns"], kind=arrays["kind"], side=arrays["side"], price_ticks=arrays["price_ticks"],
        qty_lots=arrays["qty_lots"], tick_size=tick, lot_size=lot, instrument=attrs.pop("instrument"),
        venue=attrs.pop("venue"), extra={"local_ts_ns": arrays["local_ts_ns"], "is_snapshot": arrays["is_snapshot"]},
        attrs=attrs, source=table.source,
    )  # fmt: skip


def _spread(values: Any, fill: Any, dtype: type, where: np.ndarray, clear: np.ndarray, n: int) -> np.ndarray:
    """Place the per-row ``values`` at ``where`` in an array of length ``n``; CLEAR slots get ``fill``."""
    out = np.empty(n, dtype=dtype)
    out[where] = values
    if fill is None:  # a CLEAR takes the time of the row that follows it
        out[clear] = out[np.flatnonzero(clear) + 1]
    else:
        out[clear] = fill
    return out


def _books(table: Table, layout: str, units: tuple, attrs: dict[str, Any], allow_crossed: bool) -> xr.Dataset:
    if layout == "quotes":
        names = {"bid": (["bid_price"], ["bid_amount"]), "ask": (["ask_price"], ["ask_amount"])}
    else:
        levels = int(layout.rsplit("_", 1)[1])
        names = {
            side: ([f"{side}s[{i}].price" for i in range(levels)], [f"{side}s[{i}].amount" for i in range(levels)])
            for side in ("bid", "ask")
        }
    cells = {}
    for side, (price_names, qty_names) in names.items():
        price = np.stack([table[name] for name in price_names], axis=1)
        qty = np.stack([table[name] for name in qty_names], axis=1)
        _check_levels(table, price, qty, price_names, qty_names)
        cells[side] = (price, qty)
    all_prices = np.concatenate((cells["bid"][0], cells["ask"][0]), axis=1)
    all_qty = np.concatenate((cells["bid"][1], cells["ask"][1]), axis=1)
    ticks, tick = _units(table, all_prices, units[0], "price")
    lots, lot = _units(table, all_qty, units[1], "amount")
    lots = np.where(lots == _EMPTY, 0, lots)
    width = cells["bid"][0].shape[1]
    attrs.update(tick_size=tick, lot_size=lot, levels=width)
    books = make_books(
        ts_ns=table["timestamp"] * 1000, bid_price=ticks[:, :width], bid_qty=lots[:, :width],
        ask_price=ticks[:, width:], ask_qty=lots[:, width:], attrs=attrs, source=table.source,
        allow_crossed=allow_crossed,
    )  # fmt: skip
    books["local_ts_ns"] = ("time", table["local_timestamp"] * 1000)
    return books


def _check_levels(table: Table, price: np.ndarray, qty: np.ndarray, price_names: list, qty_names: list) -> None:
    """Reject half-empty levels and non-positive prices or amounts, naming the line and the column."""
    empty_price, empty_qty = price == _EMPTY, qty == _EMPTY
    checks = (
        (empty_price != empty_qty, "a level needs both its price and amount, or neither", qty_names),
        (~empty_price & (price <= 0), "expected a price > 0", price_names),
        (~empty_qty & (qty <= 0), "expected an amount > 0", qty_names),
    )
    for bad, rule, names in checks:
        if bad.any():
            row, level = (int(i) for i in np.argwhere(bad)[0])
            raise table.error(row, rule, names[level])


def _require(table: Table, buf: np.ndarray, codes: np.ndarray, column: str, rule: str) -> None:
    bad = np.flatnonzero(codes < 0)
    if bad.size:
        raise table.error(int(bad[0]), rule, column, table.field(column, int(bad[0])))


@numba.njit(cache=True)
def _parse_ids(buf, offsets):
    # non-negative decimal integers of at most 18 digits; returns (ids, first bad row or -1)
    n = offsets.shape[0]
    ids = np.empty(n, dtype=np.int64)
    for r in range(n):
        lo = offsets[r, 0]
        hi = offsets[r, 1]
        if hi <= lo or hi - lo > 18:
            return ids, r
        value = 0
        for i in range(lo, hi):
            digit = np.int64(buf[i]) - 48
            if digit < 0 or digit > 9:
                return ids, r
            value = value * 10 + digit
        ids[r] = value
    return ids, -1
