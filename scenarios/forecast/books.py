"""Inputs of the deep order-flow forecasters: book series, their feature tensors and a training-only normaliser.

A :class:`BookSeries` holds one L2 book per event (row i is the book after event i) with the event that made it.
Every input a model reads at forecast origin t comes from rows ``t - window + 1 .. t``: the book tensor (prices
relative to the mid in ticks and sizes of ``levels`` levels per side), the event tokens (kind, side, price distance
from the mid, size, inter-arrival and the touch sizes after the event) and the order-flow features (Cont-Kukanov-
Stoikov OFI summed over the window, the level-1 book imbalance). :class:`Normaliser` is fitted on rows of the
training block only; asked to fit on a row at or after the first test row it raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.features.ofi import cks_ofi
from simlab.schema import NO_PRICE, EventKind

EVENT_KINDS = (EventKind.ADD, EventKind.CANCEL, EventKind.DELETE, EventKind.TRADE)
EVENT_FEATURES = len(EVENT_KINDS) + 1 + 6  # kinds one-hot + other, side, distance, size, gap, bid and ask touch sizes


@dataclass(frozen=True)
class BookSeries:
    """L2 books after each event: prices in ticks, sizes in lots, shape (n, levels); the events' kind, side, price
    (ticks, NO_PRICE when none) and size (n,); ``ts_ns`` (n,)."""

    name: str
    ts_ns: np.ndarray
    bid_price: np.ndarray
    bid_qty: np.ndarray
    ask_price: np.ndarray
    ask_qty: np.ndarray
    kind: np.ndarray
    side: np.ndarray
    price: np.ndarray
    qty: np.ndarray

    @property
    def size(self) -> int:
        """Number of rows (events)."""
        return int(self.ts_ns.size)

    @property
    def levels(self) -> int:
        """Book levels per side."""
        return int(self.bid_price.shape[1])

    def full_rows(self, levels: int) -> np.ndarray:
        """Return a mask (n,) of rows whose first ``levels`` levels are non-empty on both sides."""
        self.need_levels(levels, "the inputs")
        bid, ask = self.bid_price[:, :levels], self.ask_price[:, :levels]
        return ((bid != NO_PRICE) & (ask != NO_PRICE)).all(axis=1)

    def need_levels(self, levels: int, who: str) -> None:
        """Raise ParameterError when the series has fewer than ``levels`` book levels."""
        if levels > self.levels:
            raise ParameterError(
                f"{who} needs books of >= {levels} levels; series {self.name!r} has {self.levels} "
                f"(AMZN's LOBSTER sample is level 1 only: use a level-1 task and model there)"
            )

    def mid2(self) -> np.ndarray:
        """Return best bid + best ask (twice the mid, in ticks, int64) per row; rows with an empty touch are
        NO_PRICE."""
        bid, ask = self.bid_price[:, 0], self.ask_price[:, 0]
        ok = (bid != NO_PRICE) & (ask != NO_PRICE)
        return np.where(ok, bid + ask, NO_PRICE)


def from_books(name: str, books: xr.Dataset, events: xr.Dataset) -> BookSeries:
    """Return a :class:`BookSeries` from a books Dataset with one row per event of ``events``."""
    if books.sizes["time"] != events.sizes["event"]:
        raise DataError(f"series {name!r}: {books.sizes['time']} book rows but {events.sizes['event']} events")
    return BookSeries(
        name,
        books["ts_ns"].values.astype(np.int64),
        *(books[f].values.astype(np.int64) for f in ("bid_price", "bid_qty", "ask_price", "ask_qty")),
        events["kind"].values.astype(np.int8),
        events["side"].values.astype(np.int8),
        events["price_ticks"].values.astype(np.int64),
        events["qty_lots"].values.astype(np.int64),
    )


def lobster_series(name: str, files: list[Path], levels: int = 10) -> BookSeries:
    """Read a LOBSTER sample: a message file alone (replayed on the matching engine to ``levels`` levels, orders
    resting before the window unknown) or a message and an orderbook file (the file's books, its own depth)."""
    from simlab.io.lobster import read_lobster

    messages = [f for f in files if "_message_" in Path(f).name]
    books_files = [f for f in files if "_orderbook_" in Path(f).name]
    if len(messages) != 1 or len(books_files) > 1:
        raise DataError(f"series {name!r}: expected one LOBSTER message file, at most one orderbook file; got {files}")
    data = read_lobster(messages[0], books_files[0] if books_files else None)
    if books_files:
        return from_books(name, data["books"], data["events"])
    from simlab.book.engine import match_events

    books = match_events(data["events"], depth=levels, trades="resting", unknown="count")["books"]
    return from_books(name, books, data["events"])


def binance_series(name: str, files: list[Path], levels: int = 10) -> BookSeries:
    """Read one continuous Binance WebSocket capture window (REST snapshot, depth diffs and trades, consecutive
    ``files``) into one row per applied depth diff and one per trade, in exchange-time order.

    The L2 book is rebuilt from the snapshot and the diffs by :func:`simlab.io.binance_ws.read_binance_ws` (top
    ``levels`` levels). A diff row holds the book after the diff; its event is SET_LEVEL with side 0, no price and,
    as its size, the number of levels the diff set. A trade row holds the trade (aggressor side, price in ticks,
    lots) and the book of the latest diff before it: Binance reports a trade's effect on the book in a later diff,
    so a trade and a diff of the same exchange millisecond are ordered trade first. The series starts at the
    first applied diff (trades before it have no book). A window without a REST snapshot is refused, because
    part of its book would be undetermined.
    """
    from simlab.io.binance_ws import read_binance_ws

    data = read_binance_ws(files, depth=levels, require_snapshot=True)
    books, events = data["books"], data["events"]
    kind, ids = events["kind"].values, events["last_update_id"].values
    book_ids = books["last_update_id"].values
    changed, counts = np.unique(ids[kind == EventKind.SET_LEVEL], return_counts=True)
    at = np.clip(np.searchsorted(changed, book_ids), 0, max(changed.size - 1, 0))
    set_levels = np.where(changed[at] == book_ids, counts[at], 0) if changed.size else np.zeros(book_ids.size, int)
    trades = np.flatnonzero(kind == EventKind.TRADE)
    ts = np.r_[events["ts_ns"].values[trades], books["ts_ns"].values].astype(np.int64)
    is_diff = np.r_[np.zeros(trades.size, bool), np.ones(book_ids.size, bool)]
    order = np.lexsort((is_diff, ts))
    book_row = np.cumsum(is_diff[order]) - 1
    order, book_row = order[book_row >= 0], book_row[book_row >= 0]
    diff = is_diff[order]
    trade = trades[np.where(diff, 0, order)]
    pick = {f: books[f].values.astype(np.int64)[book_row] for f in ("bid_price", "bid_qty", "ask_price", "ask_qty")}
    column = {f: events[f].values.astype(np.int64)[trade] for f in ("side", "price_ticks", "qty_lots")}
    return BookSeries(
        name,
        ts[order],
        pick["bid_price"],
        pick["bid_qty"],
        pick["ask_price"],
        pick["ask_qty"],
        np.where(diff, EventKind.SET_LEVEL, EventKind.TRADE).astype(np.int8),
        np.where(diff, 0, column["side"]).astype(np.int8),
        np.where(diff, NO_PRICE, column["price_ticks"]),
        np.where(diff, set_levels[book_row], column["qty_lots"]),
    )


def book_tensor(series: BookSeries, levels: int) -> np.ndarray:
    """Return per-row book features (n, 4 * levels): for each level, ask price - mid (ticks), ask size, bid price
    - mid, bid size in lots (LOBSTER's column order, DeepLOB's raw inputs before normalisation). Rows with an
    empty cell hold NaN."""
    series.need_levels(levels, "the book tensor")
    mid = series.mid2() / 2.0
    out = np.empty((series.size, levels, 4))
    full = series.full_rows(levels)
    out[:, :, 0] = series.ask_price[:, :levels] - mid[:, None]
    out[:, :, 1] = series.ask_qty[:, :levels]
    out[:, :, 2] = series.bid_price[:, :levels] - mid[:, None]
    out[:, :, 3] = series.bid_qty[:, :levels]
    out[~full] = np.nan
    return out.reshape(series.size, 4 * levels)


def event_tokens(series: BookSeries) -> np.ndarray:
    """Return per-event features (n, EVENT_FEATURES): kind one-hot (ADD, CANCEL, DELETE, TRADE, other), side,
    price distance from the previous row's mid (ticks, 0 without a price), log(1 + size), log(1 + inter-arrival in
    microseconds) and the touch sizes (lots) after the event."""
    n = series.size
    out = np.zeros((n, EVENT_FEATURES))
    for j, kind in enumerate(EVENT_KINDS):
        out[:, j] = series.kind == kind
    out[:, len(EVENT_KINDS)] = ~np.isin(series.kind, EVENT_KINDS)
    col = len(EVENT_KINDS) + 1
    out[:, col] = series.side
    mid = series.mid2() / 2.0
    before = np.r_[mid[0], mid[:-1]]
    priced = (series.price != NO_PRICE) & (before != NO_PRICE / 2.0)
    out[:, col + 1] = np.where(priced, series.price - before, 0.0)
    out[:, col + 2] = np.log1p(series.qty)
    out[:, col + 3] = np.log1p(np.diff(series.ts_ns, prepend=series.ts_ns[0]) / 1e3)
    out[:, col + 4] = series.bid_qty[:, 0]
    out[:, col + 5] = series.ask_qty[:, 0]
    return out


def flow_features(series: BookSeries, window: int) -> np.ndarray:
    """Return the order-flow features (n, 2) at each row: CKS OFI summed over the last ``window`` events (lots) and
    the level-1 book imbalance (bid - ask) / (bid + ask)."""
    books = xr.Dataset(
        {f: (("time", "level"), getattr(series, f)[:, :1]) for f in ("bid_price", "bid_qty", "ask_price", "ask_qty")},
        coords={"ts_ns": ("time", series.ts_ns)},
    )
    ofi = np.cumsum(cks_ofi(books).values.astype(float))
    summed = ofi - np.r_[np.zeros(window), ofi[:-window]] if series.size > window else ofi
    bid, ask = series.bid_qty[:, 0].astype(float), series.ask_qty[:, 0].astype(float)
    imbalance = np.divide(bid - ask, bid + ask, out=np.zeros(series.size), where=(bid + ask) > 0)
    return np.column_stack([summed, imbalance])


class Normaliser:
    """Column means and standard deviations of the rows of the training block (a zero deviation reads as 1).

    Parameters
    ----------
    values
        Per-row features (n, c).
    rows
        The rows the statistics may read: the inputs of the training origins.
    first_test_row
        The first row any test input reads; a row at or after it raises ParameterError (the normaliser would see
        the test span).
    """

    def __init__(self, values: np.ndarray, rows: np.ndarray, first_test_row: int) -> None:
        rows = np.asarray(rows)
        if rows.size == 0 or int(rows.max()) >= first_test_row:
            raise ParameterError(
                f"normalisation must be fitted on the training block only (rows < {first_test_row}, the first test "
                f"input); got rows up to {int(rows.max()) if rows.size else 'none'}"
            )
        picked = values[rows]
        self.mean = np.nanmean(picked, axis=0)
        std = np.nanstd(picked, axis=0)
        self.std = np.where(std > 0, std, 1.0)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std


def windows(values: np.ndarray, origins: np.ndarray, window: int) -> np.ndarray:
    """Return the rows ``t - window + 1 .. t`` of ``values`` (n, c) for each origin t: (m, window, c)."""
    if origins.size and int(origins.min()) < window - 1:
        raise ParameterError(f"an origin needs {window - 1} earlier rows; got origin {int(origins.min())}")
    return values[origins[:, None] + np.arange(-window + 1, 1)[None, :]]
