"""Readers of Binance trade data: data.binance.vision dumps, hftbacktest trade CSVs, ccxt JSON and parquet.

The data.binance.vision public dumps come without a header (spot) or with one (USD-M futures) in four layouts:

* spot trades ``id,price,qty,quote_qty,time,is_buyer_maker,is_best_match``;
* futures trades ``id,price,qty,quote_qty,time,is_buyer_maker``;
* spot aggTrades ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,
  is_best_match``; futures aggTrades the same without ``is_best_match``;

and the hftbacktest-derived ``*.trades.csv.gz`` has the header ``local_ts_ns,event_time_ms,trade_time_ms,symbol,
trade_id,price,qty,is_buyer_maker,order_type_X``. ``is_buyer_maker = true`` means the buyer rested, so the
aggressor sold: side -1. Prices and sizes are parsed exactly at 8 decimals and turned into ticks and lots.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numba
import numpy as np
import xarray as xr

from simlab.errors import DataError
from simlab.io._csv import Column, Table, parse_csv
from simlab.io._source import read_bytes
from simlab.io._units import to_units
from simlab.provenance import provenance
from simlab.schema import NO_PRICE, EventKind, make_books, make_events

PRICE_SCALE = 8
"""Decimals kept when parsing Binance prices and sizes (the exchange's own precision)."""

_PRICE = Column("price", "decimal", PRICE_SCALE)
_BOOL = "bool"
LAYOUTS: dict[str, tuple[Column, ...]] = {
    "spot_trades": (
        Column("id"), _PRICE, Column("qty", "decimal", PRICE_SCALE), Column("quote_qty", "float"),
        Column("time"), Column("is_buyer_maker", _BOOL), Column("is_best_match", _BOOL),
    ),
    "futures_trades": (
        Column("id"), _PRICE, Column("qty", "decimal", PRICE_SCALE), Column("quote_qty", "float"),
        Column("time"), Column("is_buyer_maker", _BOOL),
    ),
    "spot_aggTrades": (
        Column("agg_trade_id"), _PRICE, Column("quantity", "decimal", PRICE_SCALE), Column("first_trade_id"),
        Column("last_trade_id"), Column("transact_time"), Column("is_buyer_maker", _BOOL),
        Column("is_best_match", _BOOL),
    ),
    "futures_aggTrades": (
        Column("agg_trade_id"), _PRICE, Column("quantity", "decimal", PRICE_SCALE), Column("first_trade_id"),
        Column("last_trade_id"), Column("transact_time"), Column("is_buyer_maker", _BOOL),
    ),
    "hftbacktest": (
        Column("local_ts_ns"), Column("event_time_ms"), Column("trade_time_ms"), Column("symbol", "str"),
        Column("trade_id"), _PRICE, Column("qty", "decimal", PRICE_SCALE), Column("is_buyer_maker", _BOOL),
        Column("order_type_X", "str"),
    ),
}  # fmt: skip
# per layout: (id, time, quantity) column names
_ROLES = {
    "spot_trades": ("id", "time", "qty"),
    "futures_trades": ("id", "time", "qty"),
    "spot_aggTrades": ("agg_trade_id", "transact_time", "quantity"),
    "futures_aggTrades": ("agg_trade_id", "transact_time", "quantity"),
    "hftbacktest": ("trade_id", "trade_time_ms", "qty"),
}
_ID_VARIABLE = {"id": "trade_id"}  # the events variable holding a layout's id column, where it is renamed
_KIND_LAYOUTS = {
    "auto": tuple(LAYOUTS),
    "trades": ("spot_trades", "futures_trades"),
    "aggTrades": ("spot_aggTrades", "futures_aggTrades"),
    "hftbacktest": ("hftbacktest",),
}
ORDER_TYPES = ("", "MARKET", "INSURANCE_FUND", "LIQUIDATION", "ADL", "LIMIT")
"""Codes of the hftbacktest ``order_type_X`` field (the extra variable ``order_type``): 0 none (spot), 1 MARKET..."""
# Epoch-time bands that tell milliseconds from microseconds (1973 to about 2255); anything else is rejected.
TIME_BANDS = {"ms": (10**11, 9 * 10**12, 10**6), "us": (10**14, 9 * 10**15, 10**3)}


def read_binance_trades(
    path: str | Path,
    *,
    kind: str = "auto",
    header: bool | None = None,
    tick_size: float | None = None,
    lot_size: float | None = None,
    sort: bool = False,
    symbol: str | None = None,
) -> dict[str, xr.Dataset]:
    """Read a Binance trades or aggTrades dump (.csv, .csv.gz or .zip) into TRADE events.

    Parameters
    ----------
    path
        A data.binance.vision dump or an hftbacktest ``*.trades.csv.gz``.
    kind
        ``"auto"`` (detect from the header or the field count), ``"trades"``, ``"aggTrades"`` or ``"hftbacktest"``.
    header
        True/False when the file has/lacks a header line; None to detect it.
    tick_size, lot_size
        Price tick and size lot in the file's units; None infers each as the gcd of the values.
    sort
        Sort the rows stably by (time, id) instead of rejecting a decreasing timestamp.
    symbol
        The instrument; by default the file name's prefix (``BTCUSDT-trades-...``) or the ``symbol`` column.

    Returns
    -------
    dict
        ``{"events": Dataset}``: TRADE events (side = aggressor; ts_ns from the trade time, ms or, in the spot dumps
        since 2025, µs told apart by magnitude) with the extra variables ``trade_id`` (trades), ``agg_trade_id``,
        ``first_trade_id``, ``last_trade_id``, ``n_trades`` (aggTrades) or ``trade_id``, ``local_ts_ns``,
        ``event_ts_ns``, ``order_type`` (hftbacktest). Id gaps are reported in the attributes ``id_gaps`` and
        ``first_id_gap``; a repeated or decreasing id is a :class:`DataError`.
    """
    path = Path(path)
    if kind not in _KIND_LAYOUTS:
        raise DataError(f"read_binance_trades: `kind` must be one of {list(_KIND_LAYOUTS)}; got {kind!r}")
    buf = read_bytes(path)
    layout, has_header = _detect_layout(buf, path.name, kind, header)
    table = parse_csv(buf, LAYOUTS[layout], source=path.name, header=has_header)
    config = dict(kind=kind, header=header, tick_size=tick_size, lot_size=lot_size, sort=sort, symbol=symbol)
    return {"events": _trade_events(table, buf, layout, path, config)}


def _detect_layout(buf: np.ndarray, name: str, kind: str, header: bool | None) -> tuple[str, bool]:
    newline = np.flatnonzero(buf[: 1 << 16] == 10)
    end = int(newline[0]) if newline.size else min(buf.shape[0], 1 << 16)
    first = bytes(buf[:end]).decode("utf-8", "replace").rstrip("\r")
    if not first:
        raise DataError(f"{name} line 1: expected a Binance trades header or data row; found an empty line")
    fields = first.split(",")
    allowed = _KIND_LAYOUTS[kind]
    for layout in allowed:
        if fields == [c.name for c in LAYOUTS[layout]]:
            if header is False:
                raise DataError(f"{name} line 1: header=False but the line is the {layout} header; found {first!r}")
            return layout, True
    if header or not fields[0].strip().lstrip("-").isdigit():
        known = "; ".join(f"{lay}: {','.join(c.name for c in LAYOUTS[lay])}" for lay in allowed)
        raise DataError(f"{name} line 1: expected one of the Binance headers ({known}); found {first!r}")
    by_count = [lay for lay in allowed if len(LAYOUTS[lay]) == len(fields) and lay != "hftbacktest"]
    if len(by_count) > 1:  # 7 fields: spot trades end with two booleans, futures aggTrades with time and one
        is_bool = fields[5].strip().lower() in ("true", "false")
        by_count = [lay for lay in by_count if (lay == "spot_trades") == is_bool]
    if not by_count:
        raise DataError(
            f"{name} line 1: expected {sorted({len(LAYOUTS[lay]) for lay in allowed})} fields for kind={kind!r} "
            f"({', '.join(allowed)}); found {len(fields)} fields in {first[:200]!r}"
        )
    return by_count[0], False


def _trade_events(table: Table, buf: np.ndarray, layout: str, path: Path, config: dict) -> xr.Dataset:
    id_col, time_col, qty_col = _ROLES[layout]
    ids, raw_ts = table[id_col], table[time_col]
    if len(table) == 0:
        raise DataError(f"{table.source}: expected at least one trade row; found none")
    stats = _scan_trades(ids, raw_ts, table["price"], table[qty_col])  # value checks in file order
    for slot, column in ((4, "price"), (5, qty_col)):
        if stats[slot] >= 0:
            value = table[column][stats[slot]] / 10**PRICE_SCALE
            raise table.error(int(stats[slot]), "expected a number > 0", column, f"{value:.{PRICE_SCALE}f}")
    unit = _time_unit(table, int(stats[6]), int(stats[7]), time_col, "ms" if layout == "hftbacktest" else None)
    price, tick = to_units(table, "price", PRICE_SCALE, config["tick_size"])
    qty, lot = to_units(table, qty_col, PRICE_SCALE, config["lot_size"])
    extra, attrs = _layout_extras(table, buf, layout)
    columns = dict(ts=raw_ts, price=price, qty=qty, side=1 - 2 * table["is_buyer_maker"].view(np.int8), **extra)
    order = _time_order(table, raw_ts, ids, config["sort"], time_col, int(stats[0]))
    if order is not None:
        columns = {name: values[order] for name, values in columns.items()}
        stats = _scan_trades(columns[_ID_VARIABLE.get(id_col, id_col)], columns["ts"], columns["price"], columns["qty"])
    attrs.update(_id_checks(table, columns, stats, id_col, order))
    attrs.update(_common_attrs(layout, unit, config, path, order is not None))
    in_file = attrs.pop("instrument", None)
    instrument = config["symbol"] or in_file or path.name.split("-")[0].split(".")[0]
    venue = "binance-spot" if layout.startswith("spot") or attrs.get("market") == "spot" else "binance-futures"
    return make_events(
        ts_ns=columns.pop("ts") * TIME_BANDS[unit][2], kind=int(EventKind.TRADE), side=columns.pop("side"),
        price_ticks=columns.pop("price"), qty_lots=columns.pop("qty"), tick_size=tick, lot_size=lot,
        instrument=instrument, venue=venue, extra=columns, attrs=attrs, source=table.source,
    )  # fmt: skip


def _time_order(table: Table, ts: np.ndarray, ids: np.ndarray, sort: bool, column: str, row: int) -> np.ndarray | None:
    if row < 0:
        return None
    if not sort:
        rule = f"timestamps must not decrease (line {table.line(row - 1)} holds {ts[row - 1]}); pass sort=True to sort"
        raise table.error(row, rule, column, int(ts[row]))
    return np.lexsort((ids, ts))


def _id_checks(table: Table, columns: dict, stats: np.ndarray, id_col: str, order: np.ndarray | None) -> dict:
    """Reject repeated or decreasing ids (in time order); report id gaps; check aggTrades' trade-id chains."""
    lines = (lambda row: table.line(row)) if order is None else (lambda row: table.line(int(order[row])))
    ids = columns[_ID_VARIABLE.get(id_col, id_col)]
    if stats[1] >= 0:
        row = int(stats[1])
        rule = "ids must increase strictly in time order (a repeated or decreasing id; "
        rule += f"line {lines(row - 1)} holds {ids[row - 1]})"
        raise DataError(f"{table.source} line {lines(row)}, column {id_col!r}: {rule}; found {ids[row]}")
    attrs = {"id_gaps": int(stats[2]), "first_id_gap": _gap_text(lines, ids, ids, int(stats[3]), id_col)}
    if "first_trade_id" not in columns:
        return attrs
    first, last = columns["first_trade_id"], columns["last_trade_id"]
    chain = _scan_chain(first, last)
    for slot, column, rule in (
        (0, "last_trade_id", "last_trade_id must be >= first_trade_id"),
        (3, "first_trade_id", "trade ids must not overlap the previous aggTrade's"),
    ):
        if chain[slot] >= 0:
            row = int(chain[slot])
            found = f"{first[row]}..{last[row]} after {last[row - 1] if row else '-'}"
            raise DataError(f"{table.source} line {lines(row)}, column {column!r}: {rule}; found {found}")
    attrs.update(trade_id_gaps=int(chain[1]), n_trades_total=int(columns["n_trades"].sum()))
    attrs["first_trade_id_gap"] = _gap_text(lines, first, last, int(chain[2]), "first_trade_id")
    return attrs


def _time_unit(table: Table, low: int, high: int, column: str, forced: str | None) -> str:
    """Tell ms from µs epoch times by magnitude: every value must fall in one of :data:`TIME_BANDS`."""
    for unit, (lo, hi, _) in TIME_BANDS.items():
        if (forced is None or unit == forced) and lo <= low and high < hi:
            return unit
    ts = table[column]
    bands = {unit: TIME_BANDS[unit] for unit in ([forced] if forced else TIME_BANDS)}
    lo_all = min(lo for lo, _, _ in bands.values())
    unit = next((u for u, (lo, hi, _) in bands.items() if lo <= ts[0] < hi), None)
    lo, hi, _ = bands[unit] if unit else (lo_all, lo_all, 0)
    row = int(np.flatnonzero((ts < lo) | (ts >= hi))[0])
    shown = ", ".join(f"{u} in [{a:.0e}, {b:.0e})" for u, (a, b, _) in bands.items())
    rule = f"expected epoch times all in one unit ({shown}; line {table.line(0)} holds {ts[0]})"
    raise table.error(row, rule, column, int(ts[row]))


def _layout_extras(table: Table, buf: np.ndarray, layout: str) -> tuple[dict, dict[str, Any]]:
    if layout.endswith("_trades"):
        return {"trade_id": table["id"]}, {}
    if layout.endswith("aggTrades"):
        first, last = table["first_trade_id"], table["last_trade_id"]
        extra = dict(agg_trade_id=table["agg_trade_id"], first_trade_id=first, last_trade_id=last)
        return extra | {"n_trades": last - first + 1}, {}
    symbols = table.codes("symbol", [table.field("symbol", 0)])
    _require_codes(table, symbols, "symbol", "expected the same symbol on every row (one instrument per file)")
    order_type = table.codes("order_type_X", list(ORDER_TYPES))
    _require_codes(table, order_type, "order_type_X", f"expected an order type among {ORDER_TYPES}")
    for column, (lo, hi) in (("event_time_ms", TIME_BANDS["ms"][:2]), ("local_ts_ns", (10**17, 2**63 - 1))):
        values = table[column]
        table.require((values >= lo) & (values < hi), f"expected epoch times in [{lo:.0e}, {hi:.1e})", column)
    extra = dict(trade_id=table["trade_id"], local_ts_ns=table["local_ts_ns"])
    extra.update(event_ts_ns=table["event_time_ms"] * 10**6, order_type=order_type.astype(np.int8))
    attrs = {"instrument": table.field("symbol", 0), "order_type_codes": json.dumps(ORDER_TYPES)}
    attrs["market"] = "spot" if not order_type.any() else "futures"
    return extra, attrs


def _gap_text(lines: Any, first: np.ndarray, last: np.ndarray, row: int, column: str) -> str:
    if row < 0:
        return ""
    missing = int(first[row]) - int(last[row - 1]) - 1
    return f"line {lines(row)}: {column} {first[row]} follows {last[row - 1]} ({missing} missing)"


def _common_attrs(layout: str, unit: str, config: dict, path: Path, sorted_now: bool) -> dict[str, Any]:
    attrs = provenance(seed=None, config=config, sources=[path])
    attrs.update(format=f"binance_{layout}", layout=layout, source_time_unit=unit, price_scale=PRICE_SCALE)
    attrs["sorted"] = bool(sorted_now)
    attrs.update(tick_size_inferred=config["tick_size"] is None, lot_size_inferred=config["lot_size"] is None)
    attrs["side_convention"] = "aggressor: is_buyer_maker=true -> -1 (sell), false -> +1 (buy)"
    return attrs


def _require_codes(table: Table, codes: np.ndarray, column: str, rule: str) -> None:
    bad = np.flatnonzero(codes < 0)
    if bad.size:
        row = int(bad[0])
        raise table.error(row, rule, column)


@numba.njit(cache=True)
def _scan_trades(ids, ts, price, qty):
    # one pass: [ts-decrease row, id-not-increasing row, id gaps, first gap row, price<=0 row, qty<=0 row, min, max]
    out = np.full(8, -1, dtype=np.int64)
    out[2] = 0
    n = ids.shape[0]
    if n == 0:
        return out
    out[6] = ts[0]
    out[7] = ts[0]
    for i in range(n):
        if i > 0:
            if ts[i] < ts[i - 1] and out[0] < 0:
                out[0] = i
            step = ids[i] - ids[i - 1]
            if step <= 0 and out[1] < 0:
                out[1] = i
            elif step > 1:
                out[2] += 1
                if out[3] < 0:
                    out[3] = i
        if price[i] <= 0 and out[4] < 0:
            out[4] = i
        if qty[i] <= 0 and out[5] < 0:
            out[5] = i
        out[6] = min(out[6], ts[i])
        out[7] = max(out[7], ts[i])
    return out


@numba.njit(cache=True)
def _scan_chain(first, last):
    # [row with last < first, trade-id gaps between rows, first gap row, first overlapping row]
    out = np.full(4, -1, dtype=np.int64)
    out[1] = 0
    for i in range(first.shape[0]):
        if last[i] < first[i] and out[0] < 0:
            out[0] = i
        if i > 0:
            step = first[i] - last[i - 1]
            if step <= 0 and out[3] < 0:
                out[3] = i
            elif step > 1:
                out[1] += 1
                if out[2] < 0:
                    out[2] = i
    return out


def read_ccxt_trades_json(path: str | Path, *, symbol: str | None = None) -> dict[str, xr.Dataset]:
    """Read a JSON list of ccxt Binance trade dicts (raw aggTrade in ``info``) into TRADE events.

    The raw fields ``a, p, q, f, l, T, m, M`` are read exactly (the same events as the aggTrades CSV of the same
    trades); ccxt's own ``side``, ``timestamp`` and ``id`` must agree with them. ``.json`` or ``.json.gz``.

    Returns
    -------
    dict
        ``{"events": Dataset}`` as :func:`read_binance_trades` returns for a spot aggTrades file.
    """
    path = Path(path)
    try:
        trades = json.loads(read_bytes(path).tobytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path.name}: expected a JSON list of ccxt trades; the JSON does not parse ({exc})") from exc
    if not isinstance(trades, list):
        raise DataError(f"{path.name}: expected a JSON list of ccxt trades; found a {type(trades).__name__}")
    lines = [_ccxt_line(path.name, index, trade) for index, trade in enumerate(trades)]
    buf = np.frombuffer("\n".join(lines).encode(), dtype=np.uint8)
    source = f"{path.name} (element n-1 as line n)"
    table = parse_csv(buf, LAYOUTS["spot_aggTrades"], source=source, header=False)
    stem = symbol or (trades[0].get("symbol", "") if trades else "").replace("/", "")
    config = dict(kind="ccxt_json", header=None, tick_size=None, lot_size=None, sort=False, symbol=stem or None)
    events = _trade_events(table, buf, "spot_aggTrades", path, config)
    events.attrs["format"] = "ccxt_binance_aggTrades_json"
    return {"events": events}


def _ccxt_line(name: str, index: int, trade: Any) -> str:
    info = trade.get("info") if isinstance(trade, dict) else None
    if not isinstance(info, dict) or any(key not in info for key in "apqflTmM"):
        raise DataError(
            f"{name} element {index}: expected a ccxt trade with info fields a,p,q,f,l,T,m,M; found {trade!r}"
        )
    if trade.get("side") != ("sell" if info["m"] is True else "buy"):
        raise DataError(f"{name} element {index}: ccxt side must be the taker side (sell iff m); found {trade!r}")
    if trade.get("timestamp") != info["T"] or str(trade.get("id")) != str(info["a"]):
        raise DataError(f"{name} element {index}: ccxt timestamp/id must equal info T/a; found {trade!r}")
    return ",".join(str(info[key]) for key in "apqflTmM")


def read_binance_parquet(
    path: str | Path,
    *,
    kind: str = "auto",
    tick_size: float | None = None,
    lot_size: float | None = None,
    symbol: str | None = None,
) -> dict[str, xr.Dataset]:
    """Read a Binance trades or best-bid-offer parquet file (float prices rounded to 8 decimals).

    Parameters
    ----------
    kind
        ``"trades"`` (columns ``timestamp, trade_id, price, quantity, buyer_maker``), ``"quotes"`` (``timestamp,
        bid, bid_size, ask, ask_size``, optional ``symbol``) or ``"auto"`` (quotes when ``bid`` is a column).
    tick_size, lot_size
        Price tick and size lot; None infers each as the gcd of the values.
    symbol
        The instrument; by default the ``symbol`` column (``/`` removed) or the file name.

    Returns
    -------
    dict
        ``{"events": Dataset}`` of TRADE events with ``trade_id`` for trades; ``{"books": Dataset}`` with one level
        for quotes (a zero size is an empty level).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    wanted = {"trades": ("timestamp", "trade_id", "price", "quantity", "buyer_maker"),
              "quotes": ("timestamp", "bid", "bid_size", "ask", "ask_size")}  # fmt: skip
    if kind not in ("auto", *wanted):
        raise DataError(f"read_binance_parquet: `kind` must be 'auto', 'trades' or 'quotes'; got {kind!r}")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path.name}: expected a readable parquet file ({exc})") from exc
    if kind == "auto":
        kind = "quotes" if "bid" in table.column_names else "trades"
    if not table.num_rows:
        raise DataError(f"{path.name}: expected at least one {kind} row; found none")
    missing = [c for c in wanted[kind] if c not in table.column_names]
    if missing:
        raise DataError(f"{path.name}: a {kind} parquet needs columns {wanted[kind]}; missing {missing}")
    cols = {name: _parquet_column(table, name, path.name) for name in wanted[kind]}
    if symbol is None and "symbol" in table.column_names:
        symbol = _parquet_symbol(table, path.name)
    config = dict(kind=kind, tick_size=tick_size, lot_size=lot_size, symbol=symbol)
    attrs = provenance(seed=None, config=config, sources=[path])
    attrs.update(format=f"binance_parquet_{kind}", price_scale=PRICE_SCALE, instrument=symbol or path.stem)
    attrs["float_conversion"] = f"prices and sizes rounded to {PRICE_SCALE} decimals"
    if kind == "trades":
        return {"events": _parquet_trades(cols, path.name, tick_size, lot_size, attrs)}
    return {"books": _parquet_quotes(cols, path.name, tick_size, lot_size, attrs)}


def _parquet_symbol(table: Any, source: str) -> str:
    import pyarrow.compute as pc

    values = table.column("symbol")
    first = values[0].as_py()
    same = pc.fill_null(pc.equal(values, first), False).to_numpy(zero_copy_only=False)
    if not same.all():
        row = int(np.flatnonzero(~same)[0])
        raise DataError(f"{source} row {row}, column 'symbol': expected {first!r} on every row; found {values[row]}")
    return str(first).replace("/", "")


def _parquet_column(table: Any, name: str, source: str) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table.column(name)
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError(f"{source} row {row}, column {name!r}: expected a value; found null")
    if pa.types.is_timestamp(column.type):
        return pc.cast(column, pa.timestamp("ns", tz=column.type.tz)).cast(pa.int64()).to_numpy()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        text = pc.utf8_lower(column).to_numpy(zero_copy_only=False)
        values = np.isin(text, ["true", "false"])
        if not values.all():
            row = int(np.flatnonzero(~values)[0])
            raise DataError(f"{source} row {row}, column {name!r}: expected True or False; found {text[row]!r}")
        return text == "true"
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_boolean(column.type)):
        raise DataError(f"{source} column {name!r}: expected numbers, booleans or timestamps; found {column.type}")
    return column.to_numpy()


def _float_units(values: np.ndarray, unit: float | None, name: str, source: str) -> tuple[np.ndarray, float]:
    scaled = values * 10.0**PRICE_SCALE
    exact = np.rint(scaled)
    ok = np.isfinite(scaled) & (np.abs(scaled - exact) <= 1e-6 + 4e-16 * np.abs(scaled)) & (scaled >= 0)
    if not ok.all():
        row = int(np.flatnonzero(~ok)[0])
        rule = f"expected a finite number >= 0 with at most {PRICE_SCALE} decimals"
        raise DataError(f"{source} row {row}, column {name!r}: {rule}; found {values[row]!r}")
    exact = exact.astype(np.int64)
    if unit is None:
        step = max(int(np.gcd.reduce(exact.ravel())), 1)
    else:
        step = round(unit * 10**PRICE_SCALE)
    units = exact // step
    if unit is not None and (step <= 0 or (units * step != exact).any()):
        raise DataError(f"{source} column {name!r}: every value must be a whole multiple of the unit {unit}")
    return units, step / 10**PRICE_SCALE


def _parquet_trades(cols: dict, source: str, tick: float | None, lot: float | None, attrs: dict) -> xr.Dataset:
    ids, ts = cols["trade_id"].astype(np.int64), cols["timestamp"]
    price, tick = _float_units(cols["price"], tick, "price", source)
    qty, lot = _float_units(cols["quantity"], lot, "quantity", source)
    stats = _scan_trades(ids, ts, price, qty)
    rules = {0: "timestamps must not decrease", 1: "trade ids must increase strictly", 4: "price must be > 0"}
    rules[5] = "quantity must be > 0"
    for slot, rule in rules.items():
        if stats[slot] >= 0:
            found = [ts, ids, None, None, cols["price"], cols["quantity"]][slot][stats[slot]]
            raise DataError(f"{source} row {stats[slot]}: {rule}; found {found!r}")
    attrs.update(id_gaps=int(stats[2]), side_convention="aggressor: buyer_maker=True -> -1 (sell)")
    return make_events(
        ts_ns=ts, kind=int(EventKind.TRADE), side=1 - 2 * cols["buyer_maker"].astype(np.int8), price_ticks=price,
        qty_lots=qty, tick_size=tick, lot_size=lot, instrument=attrs.pop("instrument"), venue="binance-spot",
        extra={"trade_id": ids}, attrs=attrs, source=source,
    )  # fmt: skip


def _parquet_quotes(cols: dict, source: str, tick: float | None, lot: float | None, attrs: dict) -> xr.Dataset:
    prices, tick = _float_units(np.stack((cols["bid"], cols["ask"]), axis=1), tick, "bid/ask", source)
    sizes, lot = _float_units(np.stack((cols["bid_size"], cols["ask_size"]), axis=1), lot, "bid/ask size", source)
    prices = np.where(sizes > 0, prices, NO_PRICE)
    attrs.update(tick_size=tick, lot_size=lot)
    return make_books(
        ts_ns=cols["timestamp"], bid_price=prices[:, 0], bid_qty=sizes[:, 0], ask_price=prices[:, 1],
        ask_qty=sizes[:, 1], attrs=attrs, source=source,
    )  # fmt: skip
