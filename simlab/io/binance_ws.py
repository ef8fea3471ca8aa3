"""Read raw Binance WebSocket captures (trades, diff-depth, bookTicker, REST snapshot) and rebuild the L2 book.

A capture line is ``<local receive timestamp> <json>``; the JSON is Binance's combined-stream format
``{"stream": "<symbol>@<kind>", "data": {...}}``, and a line without ``"stream"`` is a REST depth snapshot
``{"lastUpdateId": ..., "bids": [...], "asks": [...]}``. The local timestamp is in nanoseconds (19 digits, the 2024
hftbacktest files) or microseconds (16 digits, the 2023 ``*.dat.gz`` files). Exchange times (``E``, ``T``, ms) give
``ts_ns``; the local time is kept as ``local_ts_ns``.

The book is rebuilt with Binance's documented procedure: diffs with ``u <= lastUpdateId`` are dropped; the first
applied diff must straddle the snapshot (spot: ``U <= lastUpdateId + 1 <= u``; futures: ``U <= lastUpdateId <= u``);
afterwards spot diffs must chain by ``U == previous u + 1`` and futures diffs by ``pu == previous u``. Any break
raises :class:`~simlab.errors.DataError` naming the file, the line and the ids.

A capture started mid-stream has no REST snapshot. By default its book is then rebuilt from the diffs alone, and
every cell says whether it is *determined* (``bid_determined`` / ``ask_determined``, as in the LOBSTER replay of
:func:`simlab.io.lobster.replay_lobster`): a diff sets a level's quantity absolutely, so a level is known once a diff
(or the snapshot) has set it, or once the other side's best known level lay beyond it (the book is uncrossed, so no
bid rests at or above an ask known to hold lots; any later change there comes in a diff); the k-th best bid is
determined when every tick price from it up to the best known ask is known, and asks mirror this.
Undetermined cells hold NO_PRICE / 0. A warning says what is missing; ``require_snapshot=True`` refuses such a
capture instead. Determination counts tick prices, so it relies on the tick being the exchange's (inferred as the
greatest common divisor of all prices unless ``tick_size`` is given).

The market follows the symbol and the streams: spot (no ``pu``), USD-M futures (``pu``; quantities in the base
asset) and COIN-M futures (symbols ``<BASE>USD_PERP`` or ``<BASE>USD_<YYMMDD>``; quantities in contracts of
100 USD for BTC and 10 USD for the other bases, as Binance documents them, recorded in the attributes).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simlab.errors import DataError
from simlab.io import _binance_ws as kernels
from simlab.io._binance_ws_capture import Capture, depth_csv_capture, parse_capture
from simlab.provenance import provenance
from simlab.schema import NO_PRICE, EventKind, make_books, make_events

SCALE = 8  # Binance decimal strings carry at most 8 decimals
VENUES = {"spot": "binance-spot", "usdm": "binance-usdm", "coinm": "binance-coinm"}
COINM_CONTRACT_USD = {"BTC": 100}
"""USD face value of one COIN-M contract by base asset (Binance: 100 USD for BTC, 10 USD for every other base)."""


def read_binance_ws(
    paths: str | Path | Sequence[str | Path],
    *,
    depth: int = 20,
    rebuild_book: bool = True,
    require_snapshot: bool = False,
    sort: bool = False,
    tick_size: float | None = None,
    lot_size: float | None = None,
) -> dict[str, xr.Dataset]:
    """Read one continuous Binance WebSocket capture window into events, rebuilt L2 books and the BBO stream.

    Parameters
    ----------
    paths
        One capture file, or consecutive files of one continuous window in time order (``*.gz``, ``*.dat.gz`` or
        plain text, any file name).
    depth
        Number of book levels per side kept in ``"books"``.
    rebuild_book
        Rebuild the book from the REST snapshot (if any) and the diffs and return ``"books"``. When False,
        ``"events"`` holds the trades and the diffs only (no snapshot events) and the attribute ``book_rebuilt`` is
        False.
    require_snapshot
        Refuse a window without a REST snapshot (a DataError) instead of rebuilding its book from the diffs alone
        with undetermined levels and a warning.
    sort
        Order the lines of the window by their local timestamp (stable) instead of rejecting a decrease.
    tick_size, lot_size
        Price tick and quantity lot in quote / base units; inferred as the greatest common divisor when None.

    Returns
    -------
    dict
        ``"events"``: trades (TRADE, side = aggressor, ``ts_ns`` = trade time ``T``) and depth levels (SET_LEVEL,
        ``ts_ns`` = event time ``E``; with a rebuild, a CLEAR and the snapshot's SET_LEVEL events stamped with the
        first applied diff's time), extra variables ``trade_id``, ``first_update_id``, ``last_update_id``,
        ``local_ts_ns`` and ``applied`` (the event changed the rebuilt book); ``"books"`` (with a rebuild): the
        top-``depth`` book after every applied diff, with ``first_update_id``, ``last_update_id``, ``local_ts_ns``;
        ``"bbo"``: the bookTicker stream as a level-1 books Dataset with ``update_id`` and ``local_ts_ns``.
    """
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not paths:
        raise DataError("read_binance_ws: `paths` must name at least one capture file")
    if not (isinstance(depth, int) and depth >= 1):
        raise DataError(f"`depth` of read_binance_ws must be an int >= 1; got {depth!r}")
    capture = parse_capture(paths, sort=sort)
    config = dict(depth=depth, rebuild_book=rebuild_book, require_snapshot=require_snapshot, sort=sort)
    config.update(tick_size=tick_size, lot_size=lot_size)
    attrs = _window_attrs(capture, paths, config, "binance-ws")
    if rebuild_book and require_snapshot and capture.snapshots.count == 0:
        raise DataError(
            f'{"+".join(capture.file_names)}: no REST depth snapshot (a line without "stream") in the window, and '
            "require_snapshot=True; expected a capture that starts with a snapshot (drop require_snapshot to rebuild "
            "the book from the diffs alone, with undetermined levels)"
        )
    return _assemble(capture, attrs, depth, rebuild_book, tick_size, lot_size)


def read_binance_depth_csv(
    snapshot_path: str | Path,
    update_path: str | Path,
    *,
    depth: int = 20,
    rebuild_book: bool = True,
    tick_size: float | None = None,
    lot_size: float | None = None,
) -> dict[str, xr.Dataset]:
    """Read a Binance depth snapshot CSV and a depth update CSV and rebuild the L2 book from them.

    Both files have the header ``symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu``
    (timestamp in ms, side ``b``/``a``, update_type ``snap`` / ``set``). Consecutive update rows sharing
    (timestamp, first/last update id, pu) form one diff; the rebuild follows the same procedure as
    :func:`read_binance_ws`, so updates that do not chain onto the snapshot raise a DataError saying so.

    Parameters
    ----------
    snapshot_path, update_path
        The snapshot CSV (one snapshot) and the update CSV (plain, .gz or .zip).
    depth
        Number of book levels per side kept in ``"books"``.
    rebuild_book
        Rebuild the book; when False, return the events (snapshot and updates) without checking the chain.
    tick_size, lot_size
        Price tick and quantity lot; inferred as the greatest common divisor when None.

    Returns
    -------
    dict
        ``"events"`` (CLEAR + snapshot SET_LEVEL events, then the updates' SET_LEVEL events, with
        ``first_update_id``, ``last_update_id``, ``applied``) and, with a rebuild, ``"books"`` as in
        :func:`read_binance_ws`.
    """
    paths = [Path(snapshot_path), Path(update_path)]
    if not (isinstance(depth, int) and depth >= 1):
        raise DataError(f"`depth` of read_binance_depth_csv must be an int >= 1; got {depth!r}")
    capture = depth_csv_capture(*paths)
    config = dict(depth=depth, rebuild_book=rebuild_book, tick_size=tick_size, lot_size=lot_size)
    attrs = _window_attrs(capture, paths, config, "binance-depth-csv")
    result = _assemble(capture, attrs, depth, rebuild_book, tick_size, lot_size, snapshot_events=True)
    del result["bbo"]
    return result


def _assemble(capture, attrs, depth, rebuild_book, tick_size, lot_size, snapshot_events=False) -> dict[str, xr.Dataset]:
    units = _Units(capture, tick_size, lot_size)
    attrs.update(tick_size=units.tick_size, lot_size=units.lot_size)
    book = _rebuild(capture, units, depth) if rebuild_book else None
    attrs["book_rebuilt"] = book is not None
    if book is not None:
        attrs.update(book.attrs)
        if capture.snapshots.count == 0:
            warnings.warn(_no_snapshot_warning(capture, book), UserWarning, stacklevel=3)
    events = _events(capture, units, book, attrs, snapshot_events)
    result = {"events": events, "bbo": _bbo(capture, units, attrs)}
    if book is not None:
        result["books"] = book.books(capture, attrs)
    return result


def _window_attrs(capture: Capture, paths: list[Path], config: dict[str, Any], name: str) -> dict[str, Any]:
    attrs = provenance(seed=None, config=config, sources=paths)
    attrs.update(
        instrument=capture.symbol,
        venue=VENUES[capture.market],
        market=capture.market,
        **_quantity_attrs(capture),
        format=name,
        files=[p.name for p in paths],
        local_ts_units=capture.local_units,
        messages_trade=capture.trades.count,
        messages_depth=capture.depth.count,
        messages_book_ticker=capture.ticker.count,
        rest_snapshots=capture.snapshots.count,
        skipped_streams=str(capture.skipped),
        sorted_lines=capture.moved_lines,
    )
    return attrs


def _quantity_attrs(capture: Capture) -> dict[str, Any]:
    """Say what a quantity counts: the base asset, or COIN-M contracts and their USD face value."""
    if capture.market != "coinm":
        return {"qty_unit": "base asset"}
    base = capture.symbol.partition("USD_")[0]
    return {"qty_unit": "contracts", "contract_base": base, "contract_multiplier_usd": COINM_CONTRACT_USD.get(base, 10)}


class _Units:
    """Tick and lot of a window, and every price / quantity of the capture in ticks / lots."""

    def __init__(self, capture: Capture, tick_size: float | None, lot_size: float | None):
        prices = capture.all_decimals("price")
        quantities = capture.all_decimals("qty")
        self.tick = _unit(prices, tick_size, "tick_size", capture)
        self.lot = _unit(quantities, lot_size, "lot_size", capture)
        self.tick_size = self.tick / 10**SCALE
        self.lot_size = self.lot / 10**SCALE


def _unit(
    values: list[tuple[np.ndarray, np.ndarray, str, Any]], given: float | None, name: str, capture: Capture
) -> int:
    if given is None:
        step = 0
        for array, *_ in values:
            step = int(np.gcd(step, np.gcd.reduce(array))) if array.size else step
        return max(step, 1)
    step = round(given * 10**SCALE)
    if step <= 0 or abs(step - given * 10**SCALE) > 1e-6:
        raise DataError(f"`{name}` of read_binance_ws must be a positive multiple of 1e-{SCALE}; got {given!r}")
    for array, where, field, stream in values:
        bad = np.flatnonzero(array % step)
        if bad.size:
            found = array[bad[0]] / 10**SCALE
            raise capture.error(stream, where[bad[0]], f"field {field!r} must be a multiple of {name}={given}", found)
    return step


class _Book:
    """The rebuilt book: the applied flags, the book rows and their determined levels, from the numba kernel."""

    def __init__(self, capture: Capture, units: _Units, depth: int):
        depth_msgs, snap = capture.depth, capture.snapshots
        prices = np.concatenate([depth_msgs.level_price, snap.level_price]) // units.tick
        distinct, keys = np.unique(prices, return_inverse=True)
        n_levels = depth_msgs.level_price.shape[0]
        self.last_update_id = int(snap.ids[0]) if snap.count else -1
        status, message, level, applied, rows, books, determined = kernels.rebuild(
            depth_msgs.first_ids,
            depth_msgs.last_ids,
            depth_msgs.prev_ids,
            depth_msgs.offsets,
            depth_msgs.level_side,
            keys[:n_levels].astype(np.int64),
            depth_msgs.level_qty // units.lot,
            snap.level_side,
            keys[n_levels:].astype(np.int64),
            snap.level_qty // units.lot,
            depth_msgs.ts_ns,
            int(snap.ts_ns[0]) if snap.count else 0,
            self.last_update_id,
            capture.futures,
            max(distinct.shape[0], 1),
            depth,
            np.append(np.diff(distinct) == 1, False),
        )
        if status != kernels.OK:
            raise _rebuild_error(capture, status, message, level, self.last_update_id)
        self.applied, self.rows = applied, rows
        level = np.arange(depth)[None, :]
        self.bid_determined, self.ask_determined = level < determined[:, :1], level < determined[:, 1:]
        self.bid_price = np.where(self.bid_determined, _key_prices(books[0], distinct), NO_PRICE)
        self.ask_price = np.where(self.ask_determined, _key_prices(books[2], distinct), NO_PRICE)
        self.bid_qty = np.where(self.bid_determined, books[1], 0)
        self.ask_qty = np.where(self.ask_determined, books[3], 0)
        self.first_applied = int(rows[0]) if rows.size else -1
        self.attrs = {
            "snapshot_last_update_id": self.last_update_id,
            "snapshot_line": capture.where_text("snapshot", 0) if snap.count else "none",
            "diffs_dropped_before_snapshot": int((depth_msgs.last_ids <= self.last_update_id).sum()),
            "diffs_applied": int(rows.size),
            **self._determined_attrs(depth_msgs),
        }

    def _determined_attrs(self, depth_msgs) -> dict[str, Any]:
        full = self.bid_determined.all(axis=1) & self.ask_determined.all(axis=1)
        unknown = np.flatnonzero(~full)
        start = int(unknown[-1]) + 1 if unknown.size else 0
        from_ns, from_id = -1, -1
        if start < full.size:
            from_ns, from_id = int(depth_msgs.ts_ns[self.rows[start]]), int(depth_msgs.last_ids[self.rows[start]])
        return {
            "bid_undetermined_rows": [int(n) for n in (~self.bid_determined).sum(axis=0)],
            "ask_undetermined_rows": [int(n) for n in (~self.ask_determined).sum(axis=0)],
            "fully_determined_rows": int(full.sum()),
            "fully_determined_from_ns": from_ns,
            "fully_determined_from_update_id": from_id,
        }

    def books(self, capture: Capture, attrs: dict[str, Any]) -> xr.Dataset:
        depth_msgs = capture.depth
        books = make_books(
            ts_ns=depth_msgs.ts_ns[self.rows],
            bid_price=self.bid_price,
            bid_qty=self.bid_qty,
            ask_price=self.ask_price,
            ask_qty=self.ask_qty,
            attrs=attrs,
            source="books of " + "+".join(attrs["files"]),
        )
        extra = {
            "first_update_id": depth_msgs.first_ids[self.rows],
            "last_update_id": depth_msgs.last_ids[self.rows],
            "local_ts_ns": depth_msgs.local_ts_ns[self.rows],
        }
        books = books.assign({name: ("time", values) for name, values in extra.items()})
        return books.assign(
            bid_determined=(("time", "level"), self.bid_determined),
            ask_determined=(("time", "level"), self.ask_determined),
        )


def _rebuild(capture: Capture, units: _Units, depth: int) -> _Book:
    if capture.snapshots.count > 1:
        raise capture.error(
            "snapshot", 1, "one REST depth snapshot per window is supported (split the window there)", "a second one"
        )
    return _Book(capture, units, depth)


def _no_snapshot_warning(capture: Capture, book: _Book) -> str:
    cells = book.bid_determined.size + book.ask_determined.size
    unknown = cells - int(book.bid_determined.sum() + book.ask_determined.sum())
    since = book.attrs["fully_determined_from_ns"]
    rows, full = book.bid_determined.shape[0], book.attrs["fully_determined_rows"]
    if since >= 0:
        update_id = book.attrs["fully_determined_from_update_id"]
        when = f"fully determined from {np.datetime64(since, 'ns')} (update id {update_id}) on"
    elif full:
        when = f"fully determined in {full} of {rows} rows but not at the end of the window"
    else:
        when = "never fully determined in this window"
    return (
        f"{'+'.join(capture.file_names)}: no REST depth snapshot in the window (a capture started mid-stream), so "
        f"the book is rebuilt from the depth diffs alone: {unknown} of {cells} book cells are undetermined (held as "
        f"empty and flagged False in bid_determined / ask_determined) and the book is {when}; trades, diffs and "
        "bookTicker are read in full; pass require_snapshot=True (CLI: --option require_snapshot=true) to refuse "
        "such a capture"
    )


def _key_prices(keys: np.ndarray, distinct: np.ndarray) -> np.ndarray:
    empty = keys == NO_PRICE
    prices = distinct[np.where(empty, 0, keys)] if distinct.size else np.zeros_like(keys)
    return np.where(empty, NO_PRICE, prices).astype(np.int64)


def _rebuild_error(capture: Capture, status: int, message: int, level: int, last_update_id: int) -> DataError:
    d = capture.depth
    if status == kernels.LEVEL and message < 0:
        return capture.error("snapshot", 0, "every snapshot level must fit the book", f"level {level}")
    ids = f"U={d.first_ids[message]}, u={d.last_ids[message]}" + (
        f", pu={d.prev_ids[message]}" if capture.futures else ""
    )
    if status == kernels.FIRST_DIFF:
        target = "U <= lastUpdateId <= u, or pu == lastUpdateId" if capture.futures else "U <= lastUpdateId+1 <= u"
        rule = (
            f"the first diff after the REST snapshot ({capture.where_text('snapshot', 0)}, lastUpdateId="
            f"{last_update_id}) must straddle it ({target}); the diffs do not chain onto the snapshot (the diff's "
            f"exchange time is {(d.ts_ns[message] - capture.snapshots.ts_ns[0]) / 1e9:+.3f} s from the snapshot's)"
        )
    elif status == kernels.GAP:
        applied = np.flatnonzero(d.last_ids[:message] > last_update_id)
        previous = int(applied[-1]) if applied.size else message - 1
        rule = (
            f"gap in the depth update ids: the previous applied diff ({capture.where_text('depth', previous)}) "
            f"ended at u={d.last_ids[previous]}, so this diff must have "
            + ("pu == that u" if capture.futures else "U == that u + 1")
        )
    elif status == kernels.CROSSED:
        rule = f"the rebuilt book is crossed (best bid >= best ask) after update id u={d.last_ids[message]}"
    else:
        rule = f"level {level - d.offsets[message]} of the diff does not fit the book"
    return capture.error("depth", message, rule, ids)


def _events(capture: Capture, units: _Units, book: _Book | None, attrs: dict[str, Any], snapshots: bool) -> xr.Dataset:
    parts = [_depth_part(capture, units, book)]
    if capture.snapshots.count and (book is not None or snapshots):
        parts.insert(0, _snapshot_part(capture, units, book))
    parts.append(_trade_part(capture, units))
    columns = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    order = np.argsort(columns["ts_ns"], kind="stable")
    columns = {name: values[order] for name, values in columns.items()}
    extra = {name: columns.pop(name) for name in ("trade_id", "first_update_id", "last_update_id", "local_ts_ns")}
    extra["applied"] = columns.pop("applied")
    return make_events(
        **columns,
        tick_size=units.tick_size,
        lot_size=units.lot_size,
        instrument=capture.symbol,
        venue=VENUES[capture.market],
        extra=extra,
        attrs=attrs,
        source="events of " + "+".join(capture.file_names),
    )


def _part(n: int, **columns: Any) -> dict[str, np.ndarray]:
    base = dict(trade_id=-1, first_update_id=-1, last_update_id=-1, applied=False, price_ticks=NO_PRICE, qty_lots=0)
    base.update(columns)
    dtypes = {"kind": np.int8, "side": np.int8, "applied": np.bool_}
    return {k: np.broadcast_to(np.asarray(v, dtype=dtypes.get(k, np.int64)), (n,)) for k, v in base.items()}


def _depth_part(capture: Capture, units: _Units, book: _Book | None) -> dict[str, np.ndarray]:
    d = capture.depth
    message = np.repeat(np.arange(d.count), np.diff(d.offsets))
    applied = book.applied[message] if book is not None else False
    return _part(
        message.size,
        ts_ns=d.ts_ns[message],
        kind=EventKind.SET_LEVEL,
        side=d.level_side,
        price_ticks=d.level_price // units.tick,
        qty_lots=d.level_qty // units.lot,
        first_update_id=d.first_ids[message],
        last_update_id=d.last_ids[message],
        local_ts_ns=d.local_ts_ns[message],
        applied=applied,
    )


def _snapshot_part(capture: Capture, units: _Units, book: _Book | None) -> dict[str, np.ndarray]:
    s, d = capture.snapshots, capture.depth
    stamp = d.ts_ns[book.first_applied] if book is not None and book.first_applied >= 0 else s.ts_ns[0]
    n = s.level_price.shape[0] + 1
    price = np.concatenate([[NO_PRICE], s.level_price // units.tick])
    return _part(
        n,
        ts_ns=stamp,
        kind=np.concatenate([[EventKind.CLEAR], np.full(n - 1, EventKind.SET_LEVEL)]),
        side=np.concatenate([[0], s.level_side]),
        price_ticks=price,
        qty_lots=np.concatenate([[0], s.level_qty // units.lot]),
        first_update_id=s.ids[0],
        last_update_id=s.ids[0],
        local_ts_ns=s.local_ts_ns[0],
        applied=book is not None,
    )


def _trade_part(capture: Capture, units: _Units) -> dict[str, np.ndarray]:
    t = capture.trades
    return _part(
        t.count,
        ts_ns=t.ts_ns,
        kind=EventKind.TRADE,
        side=np.where(t.buyer_maker, -1, 1),
        price_ticks=t.price // units.tick,
        qty_lots=t.qty // units.lot,
        trade_id=t.ids,
        local_ts_ns=t.local_ts_ns,
    )


def _bbo(capture: Capture, units: _Units, attrs: dict[str, Any]) -> xr.Dataset:
    b = capture.ticker
    bbo = make_books(
        ts_ns=b.ts_ns,
        bid_price=b.bid_price // units.tick,
        bid_qty=b.bid_qty // units.lot,
        ask_price=b.ask_price // units.tick,
        ask_qty=b.ask_qty // units.lot,
        attrs={**attrs, "bbo_time": "exchange E" if capture.futures else "local receive time (spot has no E)"},
        source="bookTicker of " + "+".join(capture.file_names),
    )
    return bbo.assign(update_id=("time", b.ids), local_ts_ns=("time", b.local_ts_ns))


def check_bbo(result: dict[str, xr.Dataset]) -> dict[str, int]:
    """Check the rebuilt best bid / ask against the bookTicker stream at every matching update id.

    A bookTicker message matches when its update id ``u`` equals the final id ``u`` of an applied diff; the book
    after that diff must then hold exactly the bookTicker's best bid and ask prices and quantities. Other ids fall
    strictly inside a diff's ``[U, u]`` range (the diff batches several updates, so no book state corresponds), in
    the id gap between two diffs, or before the first / after the last applied diff: they are counted, not checked.
    A side whose best level is undetermined in that row (a window without a REST snapshot) is not checked either;
    such matching ids are counted as ``undetermined_top`` (the other side, when determined, is still checked).

    Parameters
    ----------
    result
        The output of :func:`read_binance_ws` with a rebuilt book.

    Returns
    -------
    dict
        ``bbo_messages``, ``matched`` (both sides checked and equal), ``undetermined_top``, ``inside_diff``,
        ``between_diffs``, ``before_book``, ``after_book``.

    Raises
    ------
    DataError
        At the first matched id whose best bid or ask (price or quantity) differs.
    """
    if "books" not in result:
        raise DataError("check_bbo needs a result read with rebuild_book=True (no 'books' Dataset)")
    books, bbo = result["books"], result["bbo"]
    last_ids, first_ids = books["last_update_id"].values, books["first_update_id"].values
    ids = bbo["update_id"].values
    if last_ids.size == 0:
        return {"bbo_messages": int(ids.size), "matched": 0, "before_book": int(ids.size)}
    at = np.searchsorted(last_ids, ids)
    row = np.minimum(at, last_ids.size - 1)
    after = at == last_ids.size
    before = ids < first_ids[0]
    hit = ~after & (last_ids[row] == ids)
    inside = ~after & ~before & ~hit & (first_ids[row] <= ids)
    known = {side: np.zeros(ids.size, bool) for side in ("bid", "ask")}
    for side in known:
        mask = books[f"{side}_determined"].values[:, 0] if f"{side}_determined" in books else np.ones(row.size, bool)
        known[side] = hit & mask[row]
        rows, ticks = at[known[side]], np.flatnonzero(known[side])
        for name in (f"{side}_price", f"{side}_qty"):
            mine, theirs = books[name].values[rows, 0], bbo[name].values[ticks, 0]
            bad = np.flatnonzero(mine != theirs)
            if bad.size:
                k = bad[0]
                raise DataError(
                    f"{'+'.join(books.attrs['files'])}: the rebuilt book's {name} after update id {ids[ticks[k]]} is "
                    f"{mine[k]}, but the bookTicker says {theirs[k]} (ticks or lots)"
                )
    matched = known["bid"] & known["ask"]
    counts = dict(matched=matched, undetermined_top=hit & ~matched, inside_diff=inside, before_book=before,
                  after_book=after)  # fmt: skip
    stats = {"bbo_messages": int(ids.size), **{k: int(v.sum()) for k, v in counts.items()}}
    stats["between_diffs"] = stats["bbo_messages"] - sum(stats[k] for k in counts)
    return stats
