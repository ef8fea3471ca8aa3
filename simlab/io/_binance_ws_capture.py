"""Parse Binance WebSocket capture lines (``<local ts> <json>``) into per-stream columns, validating every field."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simlab.errors import DataError
from simlab.io import _binance_ws as kernels
from simlab.io._csv import Column, Table, parse_csv
from simlab.io._source import read_bytes

SCALE = 8
LOCAL_UNITS = {16: ("us", 1_000), 19: ("ns", 1)}  # digits of the local timestamp -> unit, factor to ns
MS = 1_000_000
COINM_SYMBOL = re.compile(r"[A-Z0-9]+USD_(PERP|\d{6})")
"""COIN-M futures symbols: a perpetual ``<BASE>USD_PERP`` or a delivery contract ``<BASE>USD_<YYMMDD>``."""
_loads = json.loads  # the standard library: orjson was < 1.3x faster end to end (tests/benchmarks/bench_ws_json.py)
_PARSE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError)


@dataclass
class Stream:
    """Columns of one message stream; ``lines`` are global line indices, levels are flattened with ``offsets``."""

    name: str
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ts_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    local_ts_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return int(self.lines.shape[0])

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["columns"][name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class Capture:
    """A parsed capture window: the four streams, the symbol, the market and where every line came from."""

    file_names: list[str]
    line_file: np.ndarray
    line_number: np.ndarray
    trades: Stream
    depth: Stream
    ticker: Stream
    snapshots: Stream
    symbol: str
    futures: bool
    local_units: list[str]
    skipped: dict[str, int]
    moved_lines: int

    @property
    def market(self) -> str:
        """``"coinm"`` for a COIN-M symbol (``BTCUSD_PERP``, ``ETHUSD_240628``), else ``"usdm"`` or ``"spot"``."""
        if COINM_SYMBOL.fullmatch(self.symbol):
            return "coinm"
        return "usdm" if self.futures else "spot"

    def where_text(self, stream: str, index: int) -> str:
        """Return ``"<file> line <n>"`` for message ``index`` of ``stream``."""
        k = int(self._stream(stream).lines[index])
        return f"{self.file_names[self.line_file[k]]} line {self.line_number[k]}"

    def error(self, stream: str, index: int, rule: str, found: object) -> DataError:
        """Return a DataError naming the file and line of message ``index`` of ``stream``."""
        return self.error_at(int(self._stream(stream).lines[index]), rule, found)

    def error_at(self, k: int, rule: str, found: object) -> DataError:
        """Return a DataError naming the file and line of global line index ``k``."""
        return DataError(f"{self.file_names[self.line_file[k]]} line {self.line_number[k]}: {rule}; found {found}")

    def all_decimals(self, kind: str) -> list[tuple[np.ndarray, np.ndarray, str, str]]:
        """Return ``(values, message index per value, field, stream)`` for every price or quantity column."""
        names = {
            "price": [("trades", "price", "p"), ("ticker", "bid_price", "b"), ("ticker", "ask_price", "a")],
            "qty": [("trades", "qty", "q"), ("ticker", "bid_qty", "B"), ("ticker", "ask_qty", "A")],
        }[kind]
        out = [(getattr(self, s).columns[c], np.arange(getattr(self, s).count), f, s) for s, c, f in names]
        for stream in ("depth", "snapshots"):
            s = self._stream(stream)
            owner = np.repeat(np.arange(s.count), np.diff(s.offsets))
            out.append((s.columns[f"level_{kind}"], owner, f"level {kind}", stream))
        return out

    def _stream(self, name: str) -> Stream:
        return {"snapshot": self.snapshots}.get(name) or getattr(self, name)


class _Collector:
    """Python lists filled line by line; the hot loop appends tuples only."""

    def __init__(self) -> None:
        self.trades, self.trade_text, self.trade_maker = [], [], []
        self.depth, self.depth_levels = [], []
        self.ticker, self.ticker_text = [], []
        self.snaps, self.snap_levels = [], []
        self.symbols: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()

    def add(self, message: dict, k: int) -> None:
        stream = message.get("stream")
        if stream is None:
            bids, asks = message["bids"], message["asks"]
            self.snaps.append((message["lastUpdateId"], message.get("E", -1), k, len(bids), len(asks)))
            self.snap_levels += bids
            self.snap_levels += asks
            return
        data = message["data"]
        symbol, _, kind = stream.partition("@")
        self.symbols[symbol] += 1
        if kind == "trade":
            self.trades.append((data["t"], data["T"], k))
            self.trade_text.append((data["p"], data["q"]))
            self.trade_maker.append(data["m"])
        elif kind.startswith("depth"):
            bids, asks = data["b"], data["a"]
            self.depth.append((data["U"], data["u"], data.get("pu", -1), data["E"], k, len(bids), len(asks)))
            self.depth_levels += bids
            self.depth_levels += asks
        elif kind == "bookTicker":
            self.ticker.append((data["u"], data.get("E", -1), k))
            self.ticker_text.append((data["b"], data["B"], data["a"], data["A"]))
        else:
            self.skipped[kind] += 1


def parse_capture(paths: list[Path], *, sort: bool) -> Capture:
    """Read and parse the capture files of one window (in order) into a :class:`Capture`."""
    payloads, line_file, line_number, local_ns, units = [], [], [], [], []
    for index, path in enumerate(paths):
        lines = read_bytes(path).tobytes().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        stamps, unit = _local_stamps(lines, path)
        units.append(unit)
        payloads += lines
        line_file.append(np.full(len(lines), index, np.int64))
        line_number.append(np.arange(1, len(lines) + 1, dtype=np.int64))
        local_ns.append(stamps)
    line_file, line_number, local_ns = (np.concatenate(a) for a in (line_file, line_number, local_ns))
    names = [p.name for p in paths]
    order, moved = _line_order(local_ns, line_file, line_number, names, sort)
    collector = _Collector()
    for k in order:
        line = payloads[k]
        try:
            collector.add(_loads(line[line.find(b" ") + 1 :]), int(k))
        except _PARSE_ERRORS as exc:
            where = f"{names[line_file[k]]} line {line_number[k]}"
            raise DataError(
                f"{where}: expected '<local_ts> <json>' with a Binance combined-stream message or a REST depth "
                f"snapshot; {type(exc).__name__}: {exc}; found {line[:80]!r}"
            ) from None
    return _finish(collector, names, line_file, line_number, local_ns, units, moved)


def _local_stamps(lines: list[bytes], path: Path) -> tuple[np.ndarray, str]:
    stamps = np.empty(len(lines), np.int64)
    digits = None
    for i, line in enumerate(lines):
        head = line[: line.find(b" ")] if b" " in line else b""
        bad = not head.isdigit() or (digits is not None and len(head) != digits) or len(head) not in LOCAL_UNITS
        if bad or int(head) >= 2**63:
            expected = f"{digits} digits like line 1" if digits else "16 (us) or 19 (ns) digits"
            raise DataError(
                f"{path.name} line {i + 1}: expected a local timestamp of {expected} and a space; found {line[:40]!r}"
            )
        digits = len(head)
        stamps[i] = int(head)
    unit, factor = LOCAL_UNITS.get(digits, ("ns", 1))
    return stamps * factor, unit


def _line_order(local_ns, line_file, line_number, names, sort) -> tuple[np.ndarray, int]:
    back = np.flatnonzero(np.diff(local_ns) < 0)
    if back.size == 0:
        return np.arange(local_ns.size), 0
    if not sort:
        k = back[0] + 1
        raise DataError(
            f"{names[line_file[k]]} line {line_number[k]}: the local timestamp {local_ns[k]} ns is earlier than "
            f"the previous line's {local_ns[k - 1]} ns; pass sort=True to order the lines by local time"
        )
    order = np.argsort(local_ns, kind="stable")
    return order, int((order != np.arange(order.size)).sum())


def _finish(c: _Collector, names, line_file, line_number, local_ns, units, moved) -> Capture:
    capture = Capture(
        file_names=names,
        line_file=line_file,
        line_number=line_number,
        trades=Stream("trades"),
        depth=Stream("depth"),
        ticker=Stream("ticker"),
        snapshots=Stream("snapshots"),
        symbol="",
        futures=bool(c.depth) and any(row[2] != -1 for row in c.depth[:1]),
        local_units=units,
        skipped=dict(c.skipped),
        moved_lines=moved,
    )
    if len(c.symbols) > 1:
        raise DataError(f"{'+'.join(names)}: one symbol per capture window is supported; found {dict(c.symbols)}")
    capture.symbol = next(iter(c.symbols), "unknown").upper()
    capture.futures = capture.futures or capture.market == "coinm"
    _fill_trades(capture, c, local_ns)
    _fill_depth(capture, capture.depth, c.depth, c.depth_levels, local_ns, ("U", "u", "pu", "E"))
    _fill_depth(capture, capture.snapshots, c.snaps, c.snap_levels, local_ns, ("lastUpdateId", "E"))
    _fill_ticker(capture, c, local_ns)
    return capture


def _ints(capture: Capture, rows: list[tuple], fields: tuple[str, ...], stream: str) -> np.ndarray:
    """Return the integer fields of ``rows`` (the global line index follows the fields) as an int64 array."""
    width = len(fields) + 1
    try:
        array = np.array(rows) if rows else np.zeros((0, width), np.int64)
    except _PARSE_ERRORS:
        array = np.zeros(0, object)
    if array.dtype == np.int64 and array.ndim == 2 and array.shape[1] >= width:
        return array
    for row in rows:
        for name, value in zip(fields, row, strict=False):
            if type(value) is not int or not -(2**63) <= value < 2**63:
                raise capture.error_at(row[len(fields)], f"{stream} field {name!r} must be an integer", repr(value))
    raise DataError(f"{'+'.join(capture.file_names)}: malformed integer fields in the {stream} stream")


def _decimals(capture: Capture, texts: list, owner_lines: np.ndarray, fields: tuple[str, ...]) -> np.ndarray:
    """Parse rows of decimal strings (one column per field) exactly into int64 scaled by 10**SCALE."""
    width = len(fields)
    try:
        array = np.array(texts, dtype="S") if texts else np.zeros((0, width), "S1")
        ok = array.ndim == 2 and array.shape[1] == width and all(type(t) is str for t in (texts[0] if texts else ()))
    except (*_PARSE_ERRORS, UnicodeError):
        ok = False
    if not ok:
        for i, row in enumerate(texts):
            good = isinstance(row, (list, tuple)) and len(row) == width
            if not (good and all(isinstance(t, str) and t.isascii() for t in row)):
                rule = f"expected {width} decimal strings {list(fields)}"
                raise capture.error_at(owner_lines[i], rule, repr(row)[:80])
    flat = np.ascontiguousarray(array.reshape(-1))
    out = np.empty(flat.shape[0], np.int64)
    bad = kernels.parse_decimals(flat.view(np.uint8), flat.dtype.itemsize, flat.shape[0], SCALE, out)
    if bad < 0 and out.size and out.min() < 0:
        bad = int(np.argmax(out < 0))
    if bad >= 0:
        row, col = divmod(bad, width)
        rule = f"field {fields[col]!r} must be a non-negative decimal number with at most {SCALE} decimals"
        raise capture.error_at(owner_lines[row], rule, repr(texts[row][col]))
    return out.reshape(-1, width)


def _fill_trades(capture: Capture, c: _Collector, local_ns: np.ndarray) -> None:
    ints = _ints(capture, c.trades, ("t", "T"), "trade")
    stream = capture.trades
    stream.lines, stream.ids, stream.ts_ns = ints[:, 2], ints[:, 0], ints[:, 1] * MS
    stream.local_ts_ns = local_ns[stream.lines]
    values = _decimals(capture, c.trade_text, stream.lines, ("p", "q"))
    maker = np.array(c.trade_maker)
    if maker.size and maker.dtype != np.bool_:
        bad = next(i for i, m in enumerate(c.trade_maker) if type(m) is not bool)
        raise capture.error_at(stream.lines[bad], "trade field 'm' must be true or false", repr(c.trade_maker[bad]))
    stream.columns.update(price=values[:, 0], qty=values[:, 1], buyer_maker=maker.astype(bool))
    _require(capture, stream, stream.columns["price"] > 0, "trade price must be > 0", stream.columns["price"])
    _require(capture, stream, stream.columns["qty"] > 0, "trade quantity must be > 0", stream.columns["qty"])
    _monotone(capture, stream, stream.ts_ns, "trade time T")


def _fill_depth(capture: Capture, stream: Stream, rows: list, levels: list, local_ns, fields) -> None:
    ints = _ints(capture, rows, fields, stream.name)
    n = len(fields)
    stream.lines = ints[:, n]
    counts = ints[:, n + 1 : n + 3]
    stream.offsets = np.concatenate([[0], np.cumsum(counts.sum(axis=1))]).astype(np.int64)
    sides = np.tile(np.array([1, -1], np.int8), ints.shape[0])
    level_side = np.repeat(sides, counts.reshape(-1))
    owner = np.repeat(stream.lines, np.diff(stream.offsets))
    values = _decimals(capture, levels, owner, ("price", "qty"))
    stream.columns.update(level_side=level_side, level_price=values[:, 0], level_qty=values[:, 1])
    _require_at(capture, values[:, 0] > 0, owner, f"every {stream.name} level price must be > 0", values[:, 0])
    if stream.name == "snapshots":
        stream.ids, stream.ts_ns = ints[:, 0], np.where(ints[:, 1] >= 0, ints[:, 1] * MS, local_ns[stream.lines])
        _require_at(capture, values[:, 1] > 0, owner, "every snapshot level quantity must be > 0", values[:, 1])
    else:
        stream.columns.update(first_ids=ints[:, 0], last_ids=ints[:, 1], prev_ids=ints[:, 2])
        stream.ids, stream.ts_ns = ints[:, 1], ints[:, 3] * MS
        _require(capture, stream, ints[:, 0] <= ints[:, 1], "a diff's first update id U must be <= u", ints[:, 0])
        _monotone(capture, stream, stream.ts_ns, "depth event time E")
    stream.local_ts_ns = local_ns[stream.lines]


def _fill_ticker(capture: Capture, c: _Collector, local_ns: np.ndarray) -> None:
    ints = _ints(capture, c.ticker, ("u", "E"), "bookTicker")
    stream = capture.ticker
    stream.lines, stream.ids = ints[:, 2], ints[:, 0]
    stream.local_ts_ns = local_ns[stream.lines]
    stream.ts_ns = np.where(ints[:, 1] >= 0, ints[:, 1] * MS, stream.local_ts_ns)
    values = _decimals(capture, c.ticker_text, stream.lines, ("b", "B", "a", "A"))
    names = ("bid_price", "bid_qty", "ask_price", "ask_qty")
    stream.columns.update({name: values[:, j] for j, name in enumerate(names)})
    _require(capture, stream, (values[:, 0] > 0) & (values[:, 2] > 0), "bookTicker prices must be > 0", values[:, 0])
    _monotone(capture, stream, stream.ts_ns, "bookTicker time")


def _require(capture: Capture, stream: Stream, ok: np.ndarray, rule: str, values: np.ndarray) -> None:
    if not ok.all():
        bad = int(np.argmin(ok))
        raise capture.error(
            stream.name, bad, rule, values[bad] / 10**SCALE if values.dtype == np.int64 else values[bad]
        )


def _require_at(capture: Capture, ok: np.ndarray, lines: np.ndarray, rule: str, values: np.ndarray) -> None:
    if not ok.all():
        bad = int(np.argmin(ok))
        raise capture.error_at(int(lines[bad]), rule, values[bad] / 10**SCALE)


def _monotone(capture: Capture, stream: Stream, ts_ns: np.ndarray, name: str) -> None:
    back = np.flatnonzero(np.diff(ts_ns) < 0)
    if back.size:
        k = int(back[0]) + 1
        rule = f"the {name} must not decrease along the stream (previous message: {ts_ns[k - 1]} ns)"
        raise capture.error(stream.name, k, rule, f"{ts_ns[k]} ns")


DEPTH_CSV_COLUMNS = (
    Column("symbol", "str"),
    Column("timestamp", "int"),
    Column("first_update_id", "int"),
    Column("last_update_id", "int"),
    Column("side", "char"),
    Column("update_type", "str"),
    Column("price", "decimal", scale=SCALE),
    Column("qty", "decimal", scale=SCALE),
    Column("pu", "int"),
)


def depth_csv_capture(snapshot_path: Path, update_path: Path) -> Capture:
    """Build a :class:`Capture` (snapshot + depth streams) from Binance depth snapshot and update CSV files."""
    tables = [_depth_table(snapshot_path, "snap"), _depth_table(update_path, "set")]
    sizes = [len(t) for t in tables]
    capture = Capture(
        file_names=[t.source for t in tables],
        line_file=np.repeat(np.arange(2), sizes),
        line_number=np.concatenate([np.arange(n) + t.first_line for n, t in zip(sizes, tables, strict=True)]),
        trades=_empty("trades", ("price", "qty", "buyer_maker")),
        depth=_csv_stream("depth", tables[1], sizes[0]),
        ticker=_empty("ticker", ("bid_price", "bid_qty", "ask_price", "ask_qty")),
        snapshots=_csv_stream("snapshots", tables[0], 0),
        symbol=str(tables[0]["symbol"][0]) if sizes[0] else "unknown",
        futures=bool((tables[1]["pu"] != -1).any()),
        local_units=[],
        skipped={},
        moved_lines=0,
    )
    if capture.snapshots.count != 1:
        found = f"{capture.snapshots.count} (distinct timestamp / lastUpdateId)"
        raise DataError(f"{capture.file_names[0]}: expected exactly one depth snapshot; found {found}")
    symbols = set(tables[0]["symbol"].tolist()) | set(tables[1]["symbol"].tolist())
    if len(symbols) > 1:
        raise DataError(f"{'+'.join(capture.file_names)}: one symbol is supported; found {sorted(symbols)}")
    return capture


def _depth_table(path: Path, update_type: str) -> Table:
    table = parse_csv(read_bytes(path), DEPTH_CSV_COLUMNS, source=Path(path).name, header=True)
    names = [c.name for c in DEPTH_CSV_COLUMNS]
    if table.header != names:
        raise DataError(f"{table.source} line 1: expected the header {','.join(names)}; found {table.header}")
    table.require(table["update_type"] == update_type, f"update_type must be {update_type!r}", "update_type")
    table.require(np.isin(table["side"], (ord("a"), ord("b"))), "side must be 'b' (bid) or 'a' (ask)", "side")
    table.require(table["price"] > 0, "price must be > 0", "price")
    table.require(table["qty"] >= 0, "qty must be >= 0", "qty")
    table.require(
        np.diff(table["timestamp"], prepend=table["timestamp"][:1]) >= 0, "timestamp must not decrease", "timestamp"
    )
    return table


def _csv_stream(name: str, table: Table, first_k: int) -> Stream:
    keys = np.stack([table["timestamp"], table["first_update_id"], table["last_update_id"], table["pu"]], axis=1)
    change = np.ones(len(table), bool)
    change[1:] = (keys[1:] != keys[:-1]).any(axis=1)
    starts = np.flatnonzero(change)
    stream = Stream(name, lines=starts + first_k, ts_ns=table["timestamp"][starts] * MS)
    stream.local_ts_ns = np.full(starts.size, -1, np.int64)
    stream.offsets = np.append(starts, len(table)).astype(np.int64)
    stream.columns.update(
        first_ids=table["first_update_id"][starts],
        last_ids=table["last_update_id"][starts],
        prev_ids=table["pu"][starts],
        level_side=np.where(table["side"] == ord("b"), 1, -1).astype(np.int8),
        level_price=table["price"],
        level_qty=table["qty"],
    )
    stream.ids = stream.columns["last_ids"]
    if name == "snapshots":
        table.require(table["qty"] > 0, "a snapshot level's qty must be > 0", "qty")
    return stream


def _empty(name: str, columns: tuple[str, ...]) -> Stream:
    stream = Stream(name)
    stream.columns.update({c: np.zeros(0, np.int64) for c in columns})
    return stream
