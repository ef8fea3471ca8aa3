"""Readers of real market-data formats into the simlab schema, and one entry point, :func:`read`.

Every reader returns a ``dict`` of Datasets: ``"events"`` (order flow in the event schema), ``"books"`` (L2 books
over ``(time, level)``), and format-specific extras. :data:`FORMATS` maps a format name to its reader and to the
rule that binds input paths to the reader's arguments; ``format="auto"`` picks the format from the files' first
bytes (each format's content sniffer), falling back to the file names for formats without one or files no sniffer
recognises.
"""

from __future__ import annotations

import difflib
import gzip
import importlib
import inspect
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from simlab.errors import DataError, ParameterError

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"
"""The real-data folder beside the repository (``../shared/data``), where commands look by default."""


@dataclass(frozen=True)
class FormatSpec:
    """An input format: its reader, how paths bind to the reader's arguments, and how to recognise its files."""

    description: str
    function: str  # "module:function" under simlab.io
    pattern: str  # regex matched against each file name by format="auto" when no content sniffer decides
    bind: Callable[[list[Path]], tuple[tuple, dict[str, Any]]]
    sniff: Callable[[bytes], bool] | None = None  # True when a file's first (decompressed) bytes are this format

    def reader(self) -> Callable[..., dict[str, xr.Dataset]]:
        """Import and return the reader function."""
        module, function = self.function.split(":")
        return getattr(importlib.import_module(f"simlab.io.{module}"), function)


def _one(paths: list[Path]) -> tuple[tuple, dict[str, Any]]:
    if len(paths) != 1:
        raise ParameterError(f"this format reads one file; got {len(paths)}: {[p.name for p in paths]}")
    return (paths[0],), {}


def _many(paths: list[Path]) -> tuple[tuple, dict[str, Any]]:
    return (list(paths),), {}


def _by_role(roles: dict[str, str], required: int = 1) -> Callable[[list[Path]], tuple[tuple, dict[str, Any]]]:
    """Bind each path to the keyword argument whose name pattern it matches (e.g. message / orderbook)."""

    def bind(paths: list[Path]) -> tuple[tuple, dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        for path in paths:
            matches = [arg for arg, pattern in roles.items() if re.search(pattern, path.name)]
            if len(matches) != 1 or matches[0] in kwargs:
                raise ParameterError(
                    f"cannot tell the role of {path.name}: expected names matching {roles} (one file per role)"
                )
            kwargs[matches[0]] = path
        if len(kwargs) < required:
            raise ParameterError(f"expected {required} file(s) with names matching {roles}; got {len(paths)}")
        return (), kwargs

    return bind


def _first_line(head: bytes) -> bytes:
    return head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")


def _header(*prefixes: bytes) -> Callable[[bytes], bool]:
    """Sniff a CSV whose first line starts with one of ``prefixes``."""
    return lambda head: _first_line(head).startswith(prefixes)


def _matches(*patterns: bytes) -> Callable[[bytes], bool]:
    """Sniff a file whose first line matches one of the regular expressions ``patterns``."""
    compiled = [re.compile(p) for p in patterns]
    return lambda head: any(p.fullmatch(_first_line(head)) for p in compiled)


_BOOL = rb"(?:[Tt]rue|[Ff]alse|TRUE|FALSE)"
_sniff_binance_trades = _matches(
    rb"local_ts_ns,event_time_ms,trade_time_ms,symbol,trade_id,price,qty,is_buyer_maker,order_type_X",
    rb"(agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker(,is_best_match)?"
    rb"|id,price,qty,quote_qty,time,is_buyer_maker(,is_best_match)?)",
    rb"\d+,[\d.]+,[\d.]+,[\d.]+,\d+(,\d+)?," + _BOOL + rb"(," + _BOOL + rb")?",  # a data.binance.vision row
)
_sniff_binance_ws = _matches(rb'\d{16}(\d{3})? \{.*"(stream|lastUpdateId)".*')
_sniff_lobster = _matches(
    rb"Time,Type,OrderId,Size,Price,Direction|BestAsk,BestAskVolume,BestBid,BestBidVolume",  # a header
    rb"\d+(\.\d+)?,[1-7],\d+,\d+,-?\d+,-?1",  # a message row
    rb"-?\d+,\d+,-?\d+,\d+(,-?\d+,\d+,-?\d+,\d+)*",  # an orderbook row (ask, bid per level)
)


FORMATS: dict[str, FormatSpec] = {
    "binance-trades": FormatSpec(
        "Binance trades / aggTrades dumps (.csv/.csv.gz/.zip, with or without header), hftbacktest *.trades.csv.gz",
        "binance:read_binance_trades",
        r"(-(agg)?[Tt]rades-.*|\.trades)\.(csv|csv\.gz|zip)$",
        _one,
        _sniff_binance_trades,
    ),
    "binance-ws": FormatSpec(
        "Binance WebSocket captures (<ts> <json> lines: trade, depth diffs + REST snapshot, bookTicker)",
        "binance_ws:read_binance_ws",
        r"^[a-z0-9]+_\d{8}(\.dat)?\.gz$",
        _many,
        _sniff_binance_ws,
    ),
    "binance-depth-csv": FormatSpec(
        "Binance depth snapshot + update CSV pair (first/last update id, side, snap/set, price, qty, pu)",
        "binance_ws:read_binance_depth_csv",
        r"depth-(snap|update)\.csv$",
        _by_role({"snapshot_path": r"depth-snap", "update_path": r"depth-update"}, required=2),
        _header(b"symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty"),
    ),
    "ccxt-json": FormatSpec(
        "ccxt trade lists as JSON (.json/.json.gz) with raw Binance aggTrades in `info`",
        "binance:read_ccxt_trades_json",
        r"\.json(\.gz)?$",
        _one,
        _matches(rb'\s*\[\s*\{"info":.*'),
    ),
    "binance-parquet": FormatSpec(
        "Binance spot trades or quotes in parquet (nautilus fixture layout)",
        "binance:read_binance_parquet",
        r"\.parquet$",
        _one,
        lambda head: head[:4] == b"PAR1",
    ),
    "tardis": FormatSpec(
        "Tardis.dev CSV: book_snapshot_N, trades, incremental_book_L2, quotes",
        "tardis:read_tardis",
        r"_(book_snapshot_\d+|trades|incremental_book_L2|quotes)_.*\.csv(\.gz)?$",
        _one,
        _header(b"exchange,symbol,timestamp,local_timestamp,"),
    ),
    "lobster": FormatSpec(
        "LOBSTER message and/or orderbook files (any level, with or without header)",
        "lobster:read_lobster",
        r"_(message|orderbook)_\d+",
        _by_role({"message_path": r"_message_", "orderbook_path": r"_orderbook_"}),
        _sniff_lobster,
    ),
    "lean-equity": FormatSpec(
        "LEAN/AlgoSeek equity tick zips: {date}_trade.zip and/or {date}_quote.zip (NBBO, Lee-Ready signs)",
        "lean:read_lean_equity",
        r"^\d{8}_(trade|quote)\.zip$",
        _by_role({"trade_path": r"_trade\.", "quote_path": r"_quote\."}),
    ),
    "uniswap-v2": FormatSpec(
        "Uniswap v2 swaps CSV from The Graph (amount0In/Out, amount1In/Out, reserves at query time)",
        "uniswap:read_uniswap_v2_swaps",
        r"univ2|uniswap_v2",
        _one,
        lambda head: b",amount0In,amount0Out,amount1In,amount1Out," in b"," + _first_line(head) + b",",
    ),
    "uniswap-v3": FormatSpec(
        "Uniswap v3 swaps CSV from The Graph (amount0, amount1, tick, timestamp)",
        "uniswap:read_uniswap_v3_swaps",
        r"univ3|uniswap_v3",
        _one,
        _matches(rb"amount0,amount1,.*,tick,.*timestamp.*"),
    ),
}


def detect_format(paths: Sequence[Path]) -> str:
    """Return the one format of all ``paths``, from their first bytes, else from their names; raise if not one.

    A file's candidates are the formats whose content sniffer recognises its first (decompressed) bytes; when none
    does, the formats whose file-name pattern it matches. The format must be a candidate of every file; when several
    are, the file names decide between them.
    """
    paths = [Path(p) for p in paths]
    names = [p.name for p in paths]
    found = set(FORMATS)
    for path in paths:
        head = _head(path)
        sniffed = {name for name, spec in FORMATS.items() if spec.sniff is not None and spec.sniff(head)}
        found &= sniffed or {name for name, spec in FORMATS.items() if re.search(spec.pattern, path.name)}
    if len(found) > 1:
        found = {name for name in found if all(re.search(FORMATS[name].pattern, n) for n in names)} or found
    if len(found) != 1:
        problem = f"several match {sorted(found)}" if found else "neither their first lines nor their names match one"
        raise ParameterError(f"cannot detect the format of {names}: {problem}; pass --format, one of {sorted(FORMATS)}")
    return found.pop()


def _head(path: Path, size: int = 1 << 16) -> bytes:
    """Return up to ``size`` first bytes of ``path``, decompressed when it is gzip or a one-file zip (by magic)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(size)
            if raw[:2] == b"\x1f\x8b":
                handle.seek(0)
                with gzip.GzipFile(fileobj=handle) as unzipped:
                    return unzipped.read(size)
        if raw[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(path) as archive:
                members = [info for info in archive.infolist() if not info.is_dir()]
                if len(members) == 1:
                    with archive.open(members[0]) as member:
                        return member.read(size)
        return raw
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile):
        return b""  # unreadable here: the reader will say why; the file name decides the format


def _existing(paths: Path | str | Sequence[Path | str]) -> list[Path]:
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise ParameterError("`paths` must name at least one file")
    for path in paths:
        if not path.is_file():
            raise DataError(f"{path}: no such file")
    return paths


def read(paths: Path | str | Sequence[Path | str], format: str = "auto", **options: Any) -> dict[str, xr.Dataset]:
    """Read files of one format into ``{"events": ..., "books": ..., ...}`` Datasets.

    Parameters
    ----------
    paths
        One file, or the files the format pairs (LOBSTER message + orderbook, LEAN trade + quote, consecutive
        WebSocket captures).
    format
        A key of :data:`FORMATS`, or ``"auto"`` to detect it from the file names.
    **options
        Keyword options passed to the format's reader.
    """
    paths = _existing(paths)
    name = detect_format(paths) if format == "auto" else format
    if name not in FORMATS:
        raise ParameterError(f"`format` must be one of {sorted(FORMATS)} or 'auto'; got {format!r}")
    _check_options(name, options)
    args, kwargs = FORMATS[name].bind(paths)
    return FORMATS[name].reader()(*args, **kwargs, **options)


def reader_options(format: str) -> list[str]:
    """Return the option names the reader of ``format`` accepts (its keyword-only parameters), in signature order."""
    if format not in FORMATS:
        raise ParameterError(f"`format` must be one of {sorted(FORMATS)}; got {format!r}")
    parameters = inspect.signature(FORMATS[format].reader()).parameters.values()
    return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]


def _check_options(format: str, options: dict[str, Any]) -> None:
    valid = reader_options(format)
    unknown = [key for key in options if key not in valid]
    if unknown:
        close = difflib.get_close_matches(unknown[0], valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParameterError(
            f"the {format} reader has no option {', '.join(map(repr, unknown))}{hint}; its options are "
            f"{', '.join(valid) or 'none'}"
        )


def ingest(
    paths: Path | str | Sequence[Path | str],
    output: Path | str,
    *,
    format: str = "auto",
    overwrite: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Read files with :func:`read` and write them to the store ``output``; return a summary.

    The store's root attributes record the format, the reader options and each source file's size and SHA-256;
    they take precedence over a group's own attributes when the store is opened.
    """
    from simlab.provenance import provenance
    from simlab.store import write_store

    paths = _existing(paths)
    name = detect_format(paths) if format == "auto" else format
    started = time.perf_counter()
    groups = read(paths, name, **options)
    elapsed = time.perf_counter() - started
    config = {"format": name, "options": options, "paths": [p.name for p in paths]}
    write_store(
        groups, output, attrs=provenance(seed=None, config=config, sources=paths, digests=True), overwrite=overwrite
    )
    rows = {group: int(next(iter(ds.sizes.values()), 0)) for group, ds in groups.items()}
    total = sum(rows.values())
    return {
        "format": name,
        **{f"rows[{g}]": n for g, n in rows.items()},
        "read_seconds": round(elapsed, 3),
        "rows_per_second": round(total / elapsed) if elapsed > 0 else None,
    }
