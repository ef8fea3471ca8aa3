"""The arrays every realism metric reads, taken once from a dataset (events, and books when present)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import xarray as xr

from simlab.book.stats import visible_events
from simlab.errors import DataError
from simlab.schema import BOOK_FIELDS, EVENT_FIELDS, EventKind

TRADES = (EventKind.TRADE, EventKind.TRADE_HIDDEN)
CANCELS = (EventKind.CANCEL, EventKind.DELETE)
FLOW = (EventKind.ADD, EventKind.CANCEL, EventKind.DELETE, EventKind.MODIFY, *TRADES)
NS = 1e9


class NotApplicable(Exception):
    """A metric cannot be computed on a dataset; ``missing`` lists what it lacks."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("missing " + ", ".join(missing))
        self.missing = missing


class Market:
    """Events (and the L2 book after each event, when given) as plain arrays, the simulator's set-up dropped.

    The first ``initial_orders`` events (an attribute simulators write for the resting orders they start with)
    are left out, and the books are cut to their first ``levels`` levels. With ``window_levels`` only the events a
    level-N LOBSTER file would record are kept (:func:`simlab.book.stats.visible_events`), with their book rows.

    With ``known_depth`` the books' ``bid_determined`` / ``ask_determined`` masks (``(time, level)`` bool, True where
    the data determine the cell; a LOBSTER replay and the Binance reader write them) are kept beside the books, and
    the quantities that read depth use only known cells (:meth:`side_known`, :meth:`level_known`,
    :meth:`touch_known`). Books without the masks are known in every cell. Without ``known_depth`` (the default) the
    masks are ignored and every cell is read as it is, as before.
    """

    def __init__(
        self,
        events: xr.Dataset,
        books: xr.Dataset | None,
        *,
        levels: int | None,
        source: str,
        window_levels: int | None = None,
        known_depth: bool = False,
    ) -> None:
        for name in EVENT_FIELDS:
            if name not in events:
                raise DataError(f"{source}: events lack the variable {name!r}; expected {list(EVENT_FIELDS)}")
        n = events.sizes["event"]
        keep = np.arange(n) >= int(events.attrs.get("initial_orders", 0))
        self.source = source
        self.attrs: dict[str, Any] = dict(events.attrs)
        self.book: tuple[np.ndarray, ...] | None = None
        self.known: tuple[np.ndarray, np.ndarray] | None = None
        if books is not None:
            for name in BOOK_FIELDS:
                if name not in books or books[name].dims != ("time", "level"):
                    raise DataError(f"{source}: books need {name!r} over ('time', 'level'); got {list(books)}")
            if books.sizes["time"] != n:
                raise DataError(f"{source}: books must have one row per event ({n}); got {books.sizes['time']}")
            if window_levels is not None:
                columns = (events[name].values for name in ("kind", "side", "price_ticks"))
                keep &= visible_events(*columns, books, window_levels)
            depth = books.sizes["level"] if levels is None else min(levels, books.sizes["level"])
            self.book = tuple(books[name].values[keep, :depth] for name in BOOK_FIELDS)
            if known_depth:
                self.known = _known_cells(books, source, keep, depth)
        self.ts, self.kind, self.side, self.price, self.qty, self.order_id = (
            events[name].values[keep] for name in ("ts_ns", "kind", "side", "price_ticks", "qty_lots", "order_id")
        )

    def subset(self, keep: np.ndarray) -> Market:
        """Return the market of the events where ``keep`` is True (their book rows with them), in order."""
        out = object.__new__(Market)
        out.source, out.attrs = self.source, self.attrs
        out.book = None if self.book is None else tuple(field[keep] for field in self.book)
        out.known = None if self.known is None else tuple(mask[keep] for mask in self.known)
        out.ts, out.kind, out.side, out.price, out.qty, out.order_id = (
            column[keep] for column in (self.ts, self.kind, self.side, self.price, self.qty, self.order_id)
        )
        return out

    @property
    def levels(self) -> int:
        """Number of book levels kept (0 without books)."""
        return 0 if self.book is None else self.book[0].shape[1]

    def require(self, *needs: str) -> None:
        """Raise :class:`NotApplicable` naming each of ``needs`` the dataset lacks (see :meth:`missing`)."""
        missing = self.missing(needs)
        if missing:
            raise NotApplicable(missing)

    def missing(self, needs: tuple[str, ...]) -> list[str]:
        """Return which of ``needs`` are absent: ``books``, ``order_id``, ``trades``, ``adds``, ``cancels``."""
        checks = {
            "books": lambda: self.book is not None and self.quoted.sum() >= 2,
            "order_id": lambda: bool(np.any(self.order_id[self.is_add] >= 0)),
            "trades": lambda: int(np.isin(self.kind, TRADES).sum()) >= 2,
            "adds": lambda: int(self.is_add.sum()) >= 2,
            "cancels": lambda: int(np.isin(self.kind, CANCELS).sum()) >= 2,
            "flow": lambda: int(np.isin(self.kind, FLOW).sum()) >= 3,
        }
        labels = {
            "books": "books (the L2 book after each event, both sides quoted)",
            "order_id": "order ids on ADD events",
            "trades": "TRADE events (at least 2)",
            "adds": "ADD events (at least 2)",
            "cancels": "CANCEL/DELETE events (at least 2)",
            "flow": "order-flow events (at least 3)",
        }
        return [labels[need] for need in needs if not checks[need]()]

    @cached_property
    def is_add(self) -> np.ndarray:
        """True on ADD events."""
        return self.kind == EventKind.ADD

    @cached_property
    def quoted(self) -> np.ndarray:
        """True on book rows with both touches present (False everywhere without books) and, with known-depth
        masks, known."""
        if self.book is None:
            return np.zeros(self.ts.shape[0], dtype=bool)
        present = (self.book[1][:, 0] > 0) & (self.book[3][:, 0] > 0)
        return present if self.known is None else present & self.known[0][:, 0] & self.known[1][:, 0]

    @cached_property
    def mid_after(self) -> np.ndarray:
        """Mid-price (ticks) of the book after each event; NaN when a touch is empty."""
        bid, ask = self.book[0][:, 0], self.book[2][:, 0]
        return np.where(self.quoted, (bid + ask.astype(np.float64)) / 2.0, np.nan)

    @cached_property
    def mid_before(self) -> np.ndarray:
        """Mid-price (ticks) of the book before each event (NaN for the first one)."""
        return np.concatenate([[np.nan], self.mid_after[:-1]])

    @cached_property
    def spread_after(self) -> np.ndarray:
        """Spread (ticks) of the book after each event; NaN when a touch is empty."""
        return np.where(self.quoted, (self.book[2][:, 0] - self.book[0][:, 0]).astype(np.float64), np.nan)

    def before(self, index: int) -> np.ndarray:
        """The book field ``index`` (0 bid price, 1 bid qty, 2 ask price, 3 ask qty) before each event."""
        return self._before[index]

    @cached_property
    def _before(self) -> tuple[np.ndarray, ...]:
        out = []
        for field in self.book:
            first = np.zeros((1, field.shape[1]), dtype=field.dtype)
            out.append(np.concatenate([first, field[:-1]]))
        return tuple(out)

    def side_known(self, side: int) -> np.ndarray:
        """True on the book rows whose kept levels of ``side`` (+1 bid, -1 ask) are all known (all rows without
        masks)."""
        if self.known is None:
            return np.ones(self.ts.shape[0], dtype=bool)
        return self.known[0 if side > 0 else 1].all(axis=1)

    def touch_known(self) -> np.ndarray:
        """True on the events whose book before and after have both touches known (all events without masks); the
        first event needs only its book after (its order-flow increment is 0 by definition)."""
        if self.known is None:
            return np.ones(self.ts.shape[0], dtype=bool)
        after = self.known[0][:, 0] & self.known[1][:, 0]
        return after & np.concatenate([after[:1], after[:-1]])

    def level_known(self, select: np.ndarray, side: int) -> np.ndarray:
        """For the events ``select`` of ``side``: True where their price's level in the book before is known.

        It is when every kept level of that side is known before the event, or when the price is at or better than
        the last known level (the known cells of a side are a prefix of its levels). All True without masks.
        """
        if self.known is None:
            return np.ones(int(select.sum()), dtype=bool)
        mask = self.known[0 if side > 0 else 1]
        before = np.concatenate([np.zeros((1, mask.shape[1]), dtype=bool), mask[:-1]])[select]
        count = np.where(before.all(axis=1), before.shape[1], before.argmin(axis=1))
        prices = self.before(0 if side > 0 else 2)[select]
        last = prices[np.arange(count.size), np.maximum(count - 1, 0)]
        sign = 1 if side > 0 else -1
        return (count >= before.shape[1]) | ((count > 0) & (sign * (self.price[select] - last) >= 0))

    def seconds(self) -> np.ndarray:
        """Event times in seconds from the first event."""
        return (self.ts - self.ts[0]) / NS if self.ts.size else np.zeros(0)


def _known_cells(books: xr.Dataset, source: str, keep: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray] | None:
    # the books' determined masks, cut as the books are; None when the books carry neither (every cell known)
    names = [f"{side}_determined" for side in ("bid", "ask")]
    present = [name in books for name in names]
    if not any(present):
        return None
    for name in names:
        if name not in books or books[name].dims != ("time", "level") or books[name].dtype != bool:
            found = "absent" if name not in books else f"{books[name].dtype} over {books[name].dims}"
            raise DataError(f"{source}: books need {name!r} as bool over ('time', 'level') beside {names}; got {found}")
    return tuple(books[name].values[keep, :depth] for name in names)
