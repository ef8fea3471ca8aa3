"""Real stress windows: the most extreme 1-, 5- and 15-minute moves in our real tapes, with their shape statistics.

This is the real-data baseline of the crash library (issue 17, point 3). Each tape of :data:`TAPES` is read with the
simlab readers, put on a 1 s grid (:func:`simlab.metrics.crash.crash_path_from_book`), and for each window length
the window with the largest absolute mid return is measured with :func:`simlab.metrics.crash.shape_statistics`
(event at the window's start, direction the sign of its move, trough searched within the window).

Run ``python -m scenarios.stress.real_windows [DATA_DIR]`` to print the table (markdown) that
``docs/stress_shapes.md`` shows.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import xarray as xr

from simlab.errors import ParameterError
from simlab.io import DEFAULT_DATA_DIR
from simlab.io.binance import read_binance_trades
from simlab.io.binance_ws import read_binance_ws
from simlab.io.lean import read_lean_equity
from simlab.io.lobster import read_lobster
from simlab.metrics.crash import STATISTICS, CrashPath, crash_path_from_book, extreme_move, shape_statistics
from simlab.provenance import provenance

WINDOWS_S = (60.0, 300.0, 900.0)
"""Window lengths searched (s): 1, 5 and 15 minutes."""

BINANCE_DEPTH_LEVELS = 1000
"""Book levels kept per side from a Binance capture: enough to hold the 10 bps band of BTC and ETH (at most 561
levels were inside it in the captures; 200 were not enough)."""

LEAN_NOT_LAST_SALE = (
    0x2 | 0x4 | 0x8  # cash, next-day and seller's-option settlement
    | 0x200  # price not based on the quote at execution (derivatively priced)
    | 0x400 | 0x2000 | 0x4000  # Form T and extended-hours trades
    | 0x40000  # stock-option trade
    | 0x100000  # average-price trade
    | 0x400000  # price significantly away from the prevailing value
    | 0x2000000  # priced at a prior reference time (more than 90 s before the report)
)  # fmt: skip
"""AlgoSeek sale-condition flags of trades whose price is not the market's at their time stamp: they count in the
volume but do not set the mid of a trade tape (SPY 2013-10-10 19:19:52 UTC: an average-price print at 165.59 while
the market traded at 169.02 made a fake 2 % minute)."""

NEW_YORK = ZoneInfo("America/New_York")
_WS = "binance_ws_l2_trades_hftbacktest"
_LEAN = "equity_ticks_lean_algoseek_2013-10"
_LEAN_DAYS = ("20131007", "20131008", "20131009", "20131010", "20131011")


@dataclass(frozen=True)
class Tape:
    """One real tape: how to read it and what its mid is.

    ``segments`` are groups of files under the data folder; the files of one segment form one continuous path
    (consecutive capture files), different segments are separate paths (trading days). ``reader`` is one of
    ``binance_ws``, ``binance_trades``, ``lobster``, ``lean``.
    """

    name: str
    reader: str
    segments: tuple[tuple[str, ...], ...]
    mid_source: str
    note: str = ""


TAPES: tuple[Tape, ...] = (
    *(
        Tape(f"Binance {market} {symbol} {day}", "binance_ws", (files,), "book", note)
        for market, symbol, day, files, note in (
            ("spot", "BTCUSDT", "2024-08-08", (f"{_WS}/spot/btcusdt_20240808.gz",), ""),
            ("spot", "ETHUSDT", "2024-08-08", (f"{_WS}/spot/ethusdt_20240808.gz",), ""),
            ("spot", "BTCUSDT", "2023-04-05", (f"{_WS}/spot/btcusdt_20230405.dat.gz",),
             "no REST snapshot: levels the diffs never touched are missing from the depth"),
            ("USD-M", "BTCUSDT", "2024-08-08", (f"{_WS}/usdm/btcusdt_20240808.gz",), ""),
            ("USD-M", "ETHUSDT", "2024-08-08", (f"{_WS}/usdm/ethusdt_20240808.gz",), ""),
            ("USD-M", "BTCUSDT", "2024-07-19",
             (f"{_WS}/usdm/btcusdt_20240718.gz", f"{_WS}/usdm/btcusdt_20240719.gz"), ""),
            ("USD-M", "ETHUSDT", "2024-07-19",
             (f"{_WS}/usdm/ethusdt_20240718.gz", f"{_WS}/usdm/ethusdt_20240719.gz"), ""),
            ("USD-M", "BTCUSDT", "2023-04-05",
             (f"{_WS}/usdm/btcusdt_20230404.dat.gz", f"{_WS}/usdm/btcusdt_20230405.dat.gz"), ""),
        )
    ),
    Tape("Binance spot XRPETH 2019-10-11..13", "binance_trades",
         (("binance_trades_xrpeth_2019-10/XRPETH-aggTrades-2019-10-11_to_13.csv.gz",),), "trades",
         "aggTrades only: mid = last trade price (bid-ask bounce included)"),
    Tape("LOBSTER AMZN 2012-06-21", "lobster",
         (("lobster_samples/AMZN_2012-06-21_level1_fullday/AMZN_2012-06-21_34200000_57600000_message_1.csv",
           "lobster_samples/AMZN_2012-06-21_level1_fullday/AMZN_2012-06-21_34200000_57600000_orderbook_1.csv"),),
         "book", "level-1 book: depth is the best levels' lots when within 10 bps"),
    Tape("LOBSTER AAPL 2012-06-21 09:30-10:30", "lobster",
         (("lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages/"
           "AAPL_2012-06-21_34200000_37800000_message_50.csv",),),
         "trades", "message file without its book: mid = last execution price"),
    Tape("LEAN BAC 2013-10-07..11", "lean",
         tuple((f"{_LEAN}/bac/{d}_trade.zip", f"{_LEAN}/bac/{d}_quote.zip") for d in _LEAN_DAYS), "book",
         "NBBO built from per-exchange quotes (level 1); 09:30-16:00 ET"),
    Tape("LEAN SPY 2013-10-07..11", "lean", tuple((f"{_LEAN}/spy/{d}_trade.zip",) for d in _LEAN_DAYS), "trades",
         "no quote files: mid = last eligible trade price (see LEAN_NOT_LAST_SALE); 09:30-16:00 ET"),
)  # fmt: skip
"""Every real tape with a price path: Binance spot and USD-M captures, the XRP/ETH tape, the LOBSTER AMZN and AAPL
files and the LEAN BAC and SPY days."""


def tape_paths(tape: Tape, data_dir: Path, grid_s: float = 1.0) -> list[CrashPath]:
    """Read every segment of ``tape`` from ``data_dir`` onto a ``grid_s`` grid (one CrashPath per segment)."""
    if tape.reader not in _READERS:
        raise ParameterError(f"`reader` of Tape {tape.name!r} must be one of {sorted(_READERS)}; got {tape.reader!r}")
    return [_READERS[tape.reader]([Path(data_dir) / f for f in files], grid_s) for files in tape.segments]


def _binance_ws(files: list[Path], grid_s: float) -> CrashPath:
    with warnings.catch_warnings():  # a capture without a snapshot warns; the tape's note says so
        warnings.simplefilter("ignore")
        data = read_binance_ws(files, depth=BINANCE_DEPTH_LEVELS)
    return crash_path_from_book(data["events"], data["books"], grid_s)


def _binance_trades(files: list[Path], grid_s: float) -> CrashPath:
    return crash_path_from_book(read_binance_trades(files[0])["events"], None, grid_s)


def _lobster(files: list[Path], grid_s: float) -> CrashPath:
    data = read_lobster(*files)
    return crash_path_from_book(data["events"], data.get("books"), grid_s)


def _lean(files: list[Path], grid_s: float) -> CrashPath:
    data = read_lean_equity(*files)
    events = data["events"]
    span = regular_session_ns(events.attrs["date"])
    return crash_path_from_book(events, data.get("books"), grid_s, span_ns=span, last_sale=lean_last_sale(events))


def lean_last_sale(events: xr.Dataset) -> np.ndarray:
    """True for the LEAN/AlgoSeek trades that may set the last price: not flagged suspicious and carrying none of
    the sale conditions of :data:`LEAN_NOT_LAST_SALE` (AlgoSeek's flags, listed in LEAN's data readme)."""
    flags = events["sale_condition"].values.astype(np.int64)
    return ~events["suspicious"].values.astype(bool) & ((flags & LEAN_NOT_LAST_SALE) == 0)


_READERS = {"binance_ws": _binance_ws, "binance_trades": _binance_trades, "lobster": _lobster, "lean": _lean}


def regular_session_ns(date: str) -> tuple[int, int]:
    """09:30 and 16:00 New York time of ``date`` (YYYY-MM-DD) in UTC ns."""
    day = datetime.fromisoformat(date)
    start, end = (day.replace(hour=h, minute=m, tzinfo=NEW_YORK) for h, m in ((9, 30), (16, 0)))
    return int(start.timestamp()) * 10**9, int(end.timestamp()) * 10**9


def tape_windows(
    name: str, paths: Sequence[CrashPath], windows_s: Sequence[float] = WINDOWS_S, pre_s: float = 600.0
) -> list[dict[str, Any]]:
    """Measure the most extreme window of each length over the segments ``paths`` of one tape.

    Returns
    -------
    list of dict
        One row per window length: ``tape``, ``window_s``, ``start_utc`` (ISO time of the window's start),
        ``event_s`` (s after the segment's first grid time), ``direction``, ``move`` (the window's return, a
        fraction), ``note`` and every statistic of :data:`STATISTICS`. A window longer than every segment (less
        one grid step for the pre-event sample) gives a row of NaN with the note saying so.
    """
    rows = []
    for window_s in windows_s:
        found = [(p, extreme_move(p, window_s)) for p in paths if _span_s(p) - p.dt_s >= window_s]
        row: dict[str, Any] = dict(tape=name, window_s=float(window_s))
        if not found:
            longest = max(_span_s(p) for p in paths)
            row.update(start_utc="", event_s=math.nan, direction=0, move=math.nan)
            row.update(dict.fromkeys(STATISTICS, math.nan))
            row["note"] = f"not measured: the tape spans {longest:.0f} s, shorter than the window plus one step"
            rows.append(row)
            continue
        path, (event_s, direction, move) = max(found, key=lambda item: abs(item[1][2]))
        start_ns = path.origin_ns + int(round(event_s * 1e9))
        row.update(start_utc=datetime.fromtimestamp(start_ns / 1e9, UTC).isoformat(timespec="seconds"))
        row.update(event_s=event_s - float(path.t_s[0]), direction=direction, move=move, note="")
        row.update(shape_statistics(path, event_s, direction, pre_s=pre_s, horizon_s=window_s))
        rows.append(row)
    return rows


def _span_s(path: CrashPath) -> float:
    return float(path.t_s[-1] - path.t_s[0])


def real_windows(
    data_dir: Path | str = DEFAULT_DATA_DIR,
    tapes: Sequence[Tape] = TAPES,
    windows_s: Sequence[float] = WINDOWS_S,
    grid_s: float = 1.0,
    pre_s: float = 600.0,
) -> list[dict[str, Any]]:
    """Find and measure the most extreme windows of every tape: the real-data baseline of the shape statistics.

    Parameters
    ----------
    data_dir
        The real-data folder (``../shared/data`` beside the repository by default).
    tapes
        The tapes to read (default: all of :data:`TAPES`).
    windows_s
        Window lengths (s).
    grid_s
        Grid step (s).
    pre_s
        Pre-event window (s) of the reference levels; shorter where the tape starts later.

    Returns
    -------
    list of dict
        The rows of :func:`tape_windows` for every tape, each with ``mid_source`` (``book`` or ``trades``) and the
        tape's note appended to ``note``.
    """
    rows = []
    for tape in tapes:
        for row in tape_windows(tape.name, tape_paths(tape, Path(data_dir), grid_s), windows_s, pre_s):
            row["mid_source"] = tape.mid_source
            row["note"] = "; ".join(x for x in (row["note"], tape.note) if x)
            rows.append(row)
    return rows


def windows_dataset(rows: Sequence[dict[str, Any]], config: dict[str, Any] | None = None) -> xr.Dataset:
    """Put the rows of :func:`real_windows` in a Dataset over ``window`` (one per row), with the provenance of the
    run (no seed: nothing is random; ``config`` the arguments it ran with)."""
    names = list(rows[0]) if rows else []
    attrs = provenance(seed=None, config=dict(config or {}, tapes=sorted({row["tape"] for row in rows})))
    return xr.Dataset({name: ("window", [row[name] for row in rows]) for name in names}, attrs=attrs)


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """Format the rows as a markdown table (moves and fractions in %, times in s, ratios to 2 decimals)."""
    head = ["tape", "window", "start (UTC)", "move %", "drawdown %", "to trough s", "half-life s", "rec. 1 min %",
            "min depth x", "max spread x", "volume x", "mid"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["tape"], f"{r['window_s'] / 60:.0f} min", r["start_utc"] or "n/a", _num(100 * r["move"], 3),
                 _num(100 * r["drawdown"], 3), _num(r["time_to_trough_s"], 0), _num(r["half_life_s"], 0),
                 _num(100 * r["recovered_1min"], 1), _num(r["min_depth_ratio"], 2), _num(r["max_spread_ratio"], 2),
                 _num(r["volume_ratio"], 2), r["mid_source"]]  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def _num(value: float, digits: int) -> str:
    if math.isnan(value):
        return "n/a"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


if __name__ == "__main__":
    found = real_windows(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DATA_DIR)
    print(markdown_table(found))
    for r in found:
        if r["note"]:
            print(f"- {r['tape']} ({r['window_s'] / 60:.0f} min): {r['note']}")
