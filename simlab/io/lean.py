"""Read LEAN/AlgoSeek US-equity tick files: trades, per-exchange quotes, the consolidated NBBO, signed trades.

LEAN stores one day of one ticker as ``{YYYYMMDD}_trade.zip`` and ``{YYYYMMDD}_quote.zip``, each holding one CSV
without a header (see ``LEAN_equity_data_format_readme.md``):

* trades: ``time_ms, price, size, exchange, sale_condition, suspicious``;
* quotes: ``time_ms, bid_price, bid_size, ask_price, ask_size, exchange, condition, suspicious``.

``time_ms`` is milliseconds after local midnight in America/New_York (decimals allowed, kept to the microsecond);
prices are USD x 10,000 ("deci-cents"); conditions are hexadecimal flag sets; ``suspicious`` is AlgoSeek's flag.
Each quote row carries ONE side (the other side's fields are 0) and the letter of the exchange quoting it. Two
layouts are read (``quote_layout``):

* ``"nbbo"`` (the default; what the 2013 BAC files hold): the rows are the two halves of the consolidated best quote,
  a bid row then an ask row at the same time, each naming the exchange at the national best (the rows alternate
  strictly, and reading them per exchange would leave the NBBO crossed on ~99% of rows). The NBBO is the last bid
  row and the last ask row; its size is the size the row reports (not summed over exchanges).
* ``"per_exchange"``: each row updates one exchange's own quote. The NBBO is the highest bid and lowest ask over
  the exchanges' last quotes, the size the sum over the exchanges quoting that best price.

Every trade is signed with Lee-Ready against the NBBO (the tick rule alone without quotes).
"""

from __future__ import annotations

import re
from datetime import date as Date
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.features.classify import lee_ready, tick_rule
from simlab.io._csv import Column, Table, parse_csv
from simlab.io._nbbo import carry_kernel, nbbo_kernel
from simlab.io._source import read_bytes
from simlab.provenance import provenance
from simlab.schema import NO_PRICE, EventKind, make_books, make_events

TIME_ZONE = "America/New_York"
TICK_SIZE_USD = 1e-4
"""Prices stay in the file's unit, USD 0.0001 (deci-cents), so that every day of every ticker shares one tick."""
EXCHANGES = {
    "A": "NYSE MKT", "B": "NASDAQ OMX BX", "C": "National Stock Exchange", "D": "FINRA", "I": "ISE",
    "J": "Direct Edge A", "K": "Direct Edge X", "M": "Chicago Stock Exchange", "N": "NYSE", "P": "NYSE Arca",
    "Q": "NASDAQ", "S": "Consolidated Tape System", "T": "NASDAQ OMX", "W": "CBOE", "X": "NASDAQ OMX PSX",
    "Y": "BATS Y", "Z": "BATS",
}  # fmt: skip
TRADE_COLUMNS = (
    Column("time_ms", "decimal", scale=3),
    Column("price", "int"),
    Column("size", "int"),
    Column("exchange", "char"),
    Column("sale_condition", "str"),
    Column("suspicious", "bool"),
)
QUOTE_COLUMNS = (
    Column("time_ms", "decimal", scale=3),
    Column("bid_price", "int"),
    Column("bid_size", "int"),
    Column("ask_price", "int"),
    Column("ask_size", "int"),
    Column("exchange", "char"),
    Column("condition", "str"),
    Column("suspicious", "bool"),
)
_DAY_US = 86_400_000_000
_HEX = re.compile(r"[0-9A-Fa-f]{1,16}")
_LAYOUTS = {
    "nbbo": "rows are the halves of the national best quote: the NBBO is the last bid row and the last ask row, "
    "with the size each row reports",
    "per_exchange": "rows update one exchange's quote: best bid = max over exchanges of each exchange's last bid "
    "(size > 0), best ask = min; the size is summed over the exchanges quoting the best price",
}


def read_lean_equity(
    trade_path: str | Path | None = None,
    quote_path: str | Path | None = None,
    *,
    ticker: str | None = None,
    date: str | None = None,
    sort: bool = False,
    quote_lag_ns: int = 0,
    quote_layout: str = "nbbo",
) -> dict[str, xr.Dataset]:
    """Read one day of LEAN/AlgoSeek equity ticks: signed trades, the consolidated NBBO and the raw quotes.

    Parameters
    ----------
    trade_path, quote_path
        ``{YYYYMMDD}_trade.zip`` and/or ``{YYYYMMDD}_quote.zip`` of the same day (at least one).
    ticker
        The instrument; by default the name of the files' folder (``.../bac/20131007_trade.zip`` -> ``BAC``).
    date
        The trading day (``YYYYMMDD`` or ``YYYY-MM-DD``); by default the file name's leading 8 digits.
    sort
        Sort rows stably by time instead of rejecting a file whose times decrease (recorded in attrs).
    quote_lag_ns
        Lee-Ready's quote lag (ns): a trade is compared with the last NBBO at least this old.
    quote_layout
        ``"nbbo"`` (rows are halves of the national best quote) or ``"per_exchange"`` (rows update one
        exchange's quote); see the module notes.

    Returns
    -------
    dict
        ``"events"`` (with a trade file): one TRADE per row, ``side`` the Lee-Ready sign against the NBBO (tick
        rule alone without quotes; 0 when undecided), price in USD 0.0001 ticks, size in shares, and the extra
        variables ``exchange`` (ASCII code), ``sale_condition`` (flags), ``suspicious`` (bool; suspicious trades
        are kept and flagged). ``"books"`` (with a quote file): the NBBO at level 1 after every quote row (locked
        and crossed NBBOs are kept and counted in attrs). ``"quotes"``: the raw per-exchange quote rows.
    """
    if trade_path is None and quote_path is None:
        raise ParameterError("read_lean_equity needs `trade_path`, `quote_path` or both; got neither")
    if quote_layout not in _LAYOUTS:
        raise ParameterError(
            f"`quote_layout` of read_lean_equity must be one of {list(_LAYOUTS)}; got {quote_layout!r}"
        )
    paths = [Path(p) for p in (trade_path, quote_path) if p is not None]
    day = _trading_day(paths, date)
    instrument = (ticker or paths[0].resolve().parent.name).upper()
    config = dict(ticker=instrument, date=day.isoformat(), sort=sort, quote_lag_ns=quote_lag_ns)
    config["quote_layout"] = quote_layout
    base = provenance(seed=None, config=config, sources=paths)
    base.update(format="lean_algoseek_equity_tick", time_zone=TIME_ZONE, date=day.isoformat())
    out: dict[str, xr.Dataset] = {}
    nbbo = None
    if quote_path is not None:
        quotes = _read_quotes(Path(quote_path), day, sort)
        out["quotes"] = _quotes_dataset(quotes, base | {"instrument": instrument})
        out["books"], nbbo = _nbbo_books(quotes, base | {"instrument": instrument}, quote_layout)
    if trade_path is not None:
        trades = _read_trades(Path(trade_path), day, sort)
        out["events"] = _trade_events(trades, nbbo, base, instrument, quote_lag_ns)
    return out


def _trading_day(paths: list[Path], date: str | None) -> Date:
    if date is not None:
        text = str(date)
        try:
            return Date.fromisoformat(text if "-" in text else f"{text[:4]}-{text[4:6]}-{text[6:8]}")
        except ValueError as exc:
            raise ParameterError(f"`date` of read_lean_equity must be YYYYMMDD or YYYY-MM-DD; got {date!r}") from exc
    days = set()
    for path in paths:
        match = re.match(r"(\d{8})_", path.name)
        if not match:
            raise ParameterError(f"{path.name}: cannot read the date from the file name; pass date='YYYYMMDD'")
        days.add(match.group(1))
    if len(days) != 1:
        raise ParameterError(f"trade and quote files must be of the same day; got {sorted(days)}")
    return _trading_day([], days.pop())


def _local_to_utc_ns(day: Date, time_us: np.ndarray) -> np.ndarray:
    """Convert microseconds after local midnight to UTC ns, with the zone's offset of each local hour."""
    zone = ZoneInfo(TIME_ZONE)
    midnight = datetime(day.year, day.month, day.day)
    naive_ns = int((midnight - datetime(1970, 1, 1)).total_seconds()) * 10**9
    offsets = np.array(
        [int((midnight + timedelta(hours=h)).replace(tzinfo=zone).utcoffset().total_seconds()) for h in range(24)],
        dtype=np.int64,
    )
    hour = np.minimum(time_us // 3_600_000_000, 23)
    return naive_ns + time_us * 1000 - offsets[hour] * 10**9


def _parse(path: Path, columns: tuple[Column, ...], sort: bool) -> tuple[Table, np.ndarray, bool]:
    table = parse_csv(read_bytes(path), columns, source=path.name, header=False)
    if len(table) == 0:
        raise DataError(f"{path.name}: expected at least one row; found an empty file")
    time_us = table["time_ms"]
    table.require(
        (time_us >= 0) & (time_us < _DAY_US), "the time must be in [0, 86400000) ms after midnight", "time_ms"
    )
    exchange = table["exchange"]
    table.require((exchange >= ord("A")) & (exchange <= ord("Z")), "expected an exchange letter A-Z", "exchange")
    order = np.arange(len(table))
    back = np.flatnonzero(np.diff(time_us) < 0)
    if back.size and not sort:
        row = int(back[0]) + 1
        rule = (
            f"the time is earlier than line {table.line(row - 1)} ({int(time_us[row - 1]) / 1000} ms); pass sort=True"
        )
        raise table.error(row, rule, "time_ms", int(time_us[row]) / 1000)
    if back.size:
        order = np.argsort(time_us, kind="stable")
    return table, order, bool(back.size)


def _hex_flags(table: Table, column: str) -> np.ndarray:
    """Decode a hexadecimal flag column (few distinct values) into int64."""
    texts = table[column]
    lookup: dict[str, int] = {}
    for text in set(texts.tolist()):
        if not _HEX.fullmatch(text) or int(text, 16) >= 2**63:
            row = int(np.flatnonzero(texts == text)[0])
            raise table.error(row, "expected hexadecimal condition flags (at most 63 bits)", column, text)
        lookup[text] = int(text, 16)
    return np.fromiter((lookup[t] for t in texts.tolist()), dtype=np.int64, count=texts.shape[0])


def _read_trades(path: Path, day: Date, sort: bool) -> dict[str, Any]:
    table, order, resorted = _parse(path, TRADE_COLUMNS, sort)
    table.require(table["price"] > 0, "a trade price must be > 0", "price")
    table.require(table["size"] > 0, "a trade size must be > 0 shares", "size")
    cols = {name: table[name][order] for name in ("time_ms", "price", "size", "exchange", "suspicious")}
    cols["sale_condition"] = _hex_flags(table, "sale_condition")[order]
    cols["ts_ns"] = _local_to_utc_ns(day, cols.pop("time_ms"))
    cols["resorted"] = resorted
    return cols


def _read_quotes(path: Path, day: Date, sort: bool) -> dict[str, Any]:
    table, order, resorted = _parse(path, QUOTE_COLUMNS, sort)
    for side in ("bid", "ask"):
        price, size = table[f"{side}_price"], table[f"{side}_size"]
        table.require(
            price >= 0, f"a {side} price must be >= 0 (0 when the row quotes the other side)", f"{side}_price"
        )
        table.require(size >= 0, f"a {side} size must be >= 0", f"{side}_size")
        table.require((size == 0) | (price > 0), f"a {side} size needs a {side} price > 0", f"{side}_price")
    names = ("time_ms", "bid_price", "bid_size", "ask_price", "ask_size", "exchange", "suspicious")
    cols = {name: table[name][order] for name in names}
    cols["condition"] = _hex_flags(table, "condition")[order]
    cols["ts_ns"] = _local_to_utc_ns(day, cols.pop("time_ms"))
    cols["resorted"] = resorted
    return cols


def _quotes_dataset(quotes: dict[str, Any], attrs: dict[str, Any]) -> xr.Dataset:
    names = ("bid_price", "bid_size", "ask_price", "ask_size", "exchange", "condition", "suspicious")
    data = {name: ("quote", quotes[name]) for name in names}
    data["exchange"] = ("quote", quotes["exchange"].astype(np.uint8))
    info = dict(
        tick_size=TICK_SIZE_USD,
        lot_size=1.0,
        sorted=quotes["resorted"],
        description="raw per-exchange quote rows: one side per row, the other side's price and size are 0",
        exchange_codes=_exchange_note(),
    )
    return xr.Dataset(data, coords={"ts_ns": ("quote", quotes["ts_ns"])}, attrs=attrs | info)


def _nbbo_books(quotes: dict[str, Any], attrs: dict[str, Any], layout: str) -> tuple[xr.Dataset, tuple]:
    use = ~quotes["suspicious"].astype(bool)
    bid, bid_qty, ask, ask_qty = _nbbo(quotes, use, layout)
    other = "per_exchange" if layout == "nbbo" else "nbbo"
    is_bid = quotes["bid_price"] > 0
    info = dict(
        tick_size=TICK_SIZE_USD,
        lot_size=1.0,
        venue="US consolidated (AlgoSeek quotes)",
        sorted=quotes["resorted"],
        quote_layout=layout,
        nbbo_rule=_LAYOUTS[layout] + "; one books row after every quote row",
        nbbo_exchanges="".join(chr(c) for c in np.unique(quotes["exchange"])),
        suspicious_quotes_excluded=int((~use).sum()),
        empty_quote_rows_ignored=int(((quotes["bid_price"] == 0) & (quotes["ask_price"] == 0)).sum()),
        bid_ask_rows_alternate=float(np.mean(is_bid[1:] != is_bid[:-1])) if is_bid.shape[0] > 1 else 1.0,
        **_crossing_counts("nbbo", bid, bid_qty, ask, ask_qty),
        **_crossing_counts(f"if_{other}", *_nbbo(quotes, use, other)),
    )
    books = make_books(
        ts_ns=quotes["ts_ns"], bid_price=bid, bid_qty=bid_qty, ask_price=ask, ask_qty=ask_qty,
        attrs=attrs | info, source="LEAN NBBO", allow_crossed=True,
    )  # fmt: skip
    return books, (quotes["ts_ns"], bid, ask)


def _nbbo(quotes: dict[str, Any], use: np.ndarray, layout: str) -> tuple[np.ndarray, ...]:
    sides = tuple(quotes[f] for f in ("bid_price", "bid_size", "ask_price", "ask_size"))
    if layout == "nbbo":
        return carry_kernel(*sides, use)
    codes, exchange = np.unique(quotes["exchange"], return_inverse=True)
    return nbbo_kernel(exchange.astype(np.int64), codes.shape[0], *sides, use)


def _crossing_counts(prefix: str, bid, bid_qty, ask, ask_qty) -> dict[str, int]:
    both = (bid_qty > 0) & (ask_qty > 0)
    return {
        f"{prefix}_locked_rows": int((both & (bid == ask)).sum()),
        f"{prefix}_crossed_rows": int((both & (bid > ask)).sum()),
        f"{prefix}_one_sided_rows": int((~both).sum()),
    }


def _trade_events(trades: dict[str, Any], nbbo, attrs: dict[str, Any], instrument: str, lag_ns: int) -> xr.Dataset:
    price = trades["price"]
    if nbbo is None:
        side = tick_rule(price)
        method = "tick rule (no quote file): +1 after an uptick, -1 after a downtick, the last sign on a zero tick"
    else:
        quote_ts, bid, ask = nbbo
        bid_f = np.where(bid == NO_PRICE, np.nan, bid.astype(np.float64))
        ask_f = np.where(ask == NO_PRICE, np.nan, ask.astype(np.float64))
        side = lee_ready(trades["ts_ns"], price, quote_ts, bid_f, ask_f, quote_lag_ns=lag_ns)
        method = f"Lee-Ready against the consolidated NBBO (quote lag {lag_ns} ns), tick rule at the mid"
    steps = np.gcd.reduce(price)
    info = dict(
        format="lean_algoseek_equity_tick",
        side_method=method,
        side_undecided=int((side == 0).sum()),
        side_buys=int((side > 0).sum()),
        side_sells=int((side < 0).sum()),
        suspicious_trades=int(trades["suspicious"].sum()),
        suspicious_policy="kept and flagged in the extra variable `suspicious` (LEAN bars exclude them)",
        price_grid_usd=float(steps) * TICK_SIZE_USD,
        sorted=trades["resorted"],
        exchange_codes=_exchange_note(),
    )
    extra = dict(exchange=trades["exchange"].astype(np.uint8), sale_condition=trades["sale_condition"])
    extra["suspicious"] = trades["suspicious"].astype(bool)
    return make_events(
        ts_ns=trades["ts_ns"], kind=int(EventKind.TRADE), side=side, price_ticks=price, qty_lots=trades["size"],
        tick_size=TICK_SIZE_USD, lot_size=1.0, instrument=instrument, venue="US consolidated tape (AlgoSeek)",
        extra=extra, attrs=attrs | info, source="LEAN trades",
    )  # fmt: skip


def _exchange_note() -> str:
    return "ASCII code of the exchange letter: " + ", ".join(f"{k} {v}" for k, v in EXCHANGES.items())
