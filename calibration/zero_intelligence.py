"""Estimate the zero-intelligence book's parameters from order-level data (Farmer, Patelli and Zovko, 2005).

:class:`ZIEstimator` measures, in the units of :class:`simlab.book.zero_intelligence.ZIParams` (rates per side, in
orders of the mean size sigma):

* ``order_size`` sigma: the mean size of the limit orders (lots);
* ``market_rate`` mu: visible executed lots per side per second, divided by sigma (executions against hidden
  orders are left out unless ``include_hidden``);
* ``limit_rate`` alpha: limit order lots placed inside a *window* of prices next to the opposite best quote per
  side, divided by the window's integrated width (ticks x seconds) and by sigma. With ``window="spread"`` the
  window is the spread: a buy placed 1..s ticks below the ask, i.e. at or above the bid. This is the part of the
  flow that a level-1 file shows (LOBSTER's level-1 message file holds only the events that touch the best
  quotes). An int ``K`` counts orders placed 1..K ticks from the opposite best, for data with depth;
* ``cancel_rate`` delta: cancelled lots (CANCEL and DELETE) inside the window per second, divided by the
  time-averaged lots resting inside it (the window's visible depth). With ``window="spread"`` that is the
  cancellations at the best quotes over the time-averaged queues at the best: an approximation of the model's
  uniform delta by its value at the touch, which is all that a level-1 file shows.

Under the model each quantity is a count of a Poisson process over its integrated intensity, so the estimates
are maximum-likelihood ratios; ``standard_errors_`` are the compound-Poisson ones (square root of the summed
squared sizes over the same denominator). The books must follow the events row by row (row *i* is the book after
event *i*, as in LOBSTER files and ``simulate_zi(sample_ns=None)``); the book before event *i* is row *i - 1*
and the time between two events is weighted by the book after the first. Rows where a side is empty are left
out, and so are, in a replay with ``bid_determined`` / ``ask_determined`` masks (``simlab.io.replay_lobster``),
rows whose levels inside the window are not all determined. The band, not identified by level-1
data, is the constructor's ``band_ticks`` (default: the largest distance from the opposite best among the counted
limit orders, at least ``min_band_ticks``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr

from simlab.book.zero_intelligence import ZIParams, simulate_zi
from simlab.errors import DataError, ParameterError
from simlab.schema import NO_PRICE, EventKind

NS = 1e9
CANCEL_KINDS = (EventKind.CANCEL, EventKind.DELETE)


class ZIEstimator:
    """Fit :class:`ZIParams` to events and books (scikit-learn style; see the module docstring).

    Parameters
    ----------
    window
        ``"spread"`` (level-1 data) or an int K >= 1 (ticks from the opposite best; the books need >= K levels).
    band_ticks
        The band of the fitted parameters, also the widest window counted; None: the largest distance from the
        opposite best among the counted limit orders, at least ``min_band_ticks``.
    min_band_ticks
        Lower bound of the default band.
    include_hidden
        Count executions against hidden orders in the market order flow.
    size_law
        Size law of the fitted parameters: ``"fixed"`` (sigma rounded to whole lots, as in the paper) or
        ``"geometric"`` (mean sigma). The rates are divided by that size, so that the model's flows in lots match.
    """

    def __init__(
        self,
        *,
        window: str | int = "spread",
        band_ticks: int | None = None,
        min_band_ticks: int = 20,
        include_hidden: bool = False,
        size_law: str = "fixed",
    ) -> None:
        self.window = window
        self.band_ticks = band_ticks
        self.min_band_ticks = min_band_ticks
        self.include_hidden = include_hidden
        self.size_law = size_law

    def fit(self, events: xr.Dataset, books: xr.Dataset) -> ZIEstimator:
        """Estimate the parameters; set ``params_``, ``standard_errors_``, ``counts_`` and ``duration_s_``."""
        data = _Columns(events, books, self._check(), self.band_ticks)
        size = data.qty[data.kind == EventKind.ADD]
        if size.size < 2:
            raise DataError(f"ZIEstimator.fit: need at least 2 limit orders (ADD events); got {size.size}")
        sigma = float(size.mean())
        unit = float(max(1, round(sigma))) if self.size_law == "fixed" else max(1.0, sigma)
        alpha, alpha_se, n_limit, band = data.limit_flow()
        mu, mu_se, n_market = data.market_flow(self.include_hidden)
        delta, delta_se, n_cancel = data.cancel_flow()
        self.order_size_, self.duration_s_ = sigma, data.duration_s
        self.limit_rate_, self.market_rate_, self.cancel_rate_ = alpha / unit, mu / unit, delta
        self.standard_errors_ = {
            "limit_rate": alpha_se / unit,
            "market_rate": mu_se / unit,
            "cancel_rate": delta_se,
            "order_size": float(size.std(ddof=1) / math.sqrt(size.size)),
        }
        self.counts_ = {"limit_orders": n_limit, "market_fills": n_market, "cancellations": n_cancel}
        band = self.band_ticks if self.band_ticks is not None else max(band, self.min_band_ticks)
        self.params_ = ZIParams(
            limit_rate=self.limit_rate_,
            market_rate=self.market_rate_,
            cancel_rate=self.cancel_rate_,
            order_size=unit,
            band_ticks=int(band),
            size_law=self.size_law,
            start_price_ticks=data.first_bid(books),
            tick_size=float(events.attrs.get("tick_size", 0.01)),
            lot_size=float(events.attrs.get("lot_size", 1.0)),
            instrument=str(events.attrs.get("instrument", "ZI")),
            venue=str(events.attrs.get("venue", "simlab")),
        )
        return self

    def simulator(self, **changes: Any) -> Callable[..., dict[str, xr.Dataset]]:
        """Return ``simulate(duration_s, rng, **options)`` running ``simulate_zi`` with the fitted parameters.

        ``changes`` replace fields of ``params_`` first (e.g. ``band_ticks=200``).
        """
        if not hasattr(self, "params_"):
            raise ParameterError("ZIEstimator is not fitted yet; call fit(events, books) first")
        params = replace(self.params_, **changes)

        def simulate(duration_s: float, rng: Any, **options: Any) -> dict[str, xr.Dataset]:
            return simulate_zi(params, duration_s, rng=rng, **options)

        return simulate

    def _check(self) -> int:
        """Validate the constructor's arguments; return the window as an int (0 for "spread")."""
        spread = isinstance(self.window, str) and self.window == "spread"
        bad = isinstance(self.window, bool) or not isinstance(self.window, (int, np.integer)) or self.window < 1
        if not spread and bad:
            raise ParameterError(f"`window` of ZIEstimator must be 'spread' or an int >= 1; got {self.window!r}")
        band = self.band_ticks
        if band is not None and (isinstance(band, bool) or not isinstance(band, (int, np.integer)) or band < 1):
            raise ParameterError(f"`band_ticks` of ZIEstimator must be None or an int >= 1; got {band!r}")
        if self.size_law not in ("fixed", "geometric"):
            raise ParameterError(f"`size_law` of ZIEstimator must be 'fixed' or 'geometric'; got {self.size_law!r}")
        return 0 if spread else int(self.window)


class _Columns:
    """Event columns, the book before each event and the time each book lasted."""

    def __init__(self, events: xr.Dataset, books: xr.Dataset, window: int, band: int | None) -> None:
        n = events.sizes.get("event", 0)
        if books.sizes.get("time", -1) != n:
            rows = books.sizes.get("time")
            raise DataError(f"ZIEstimator.fit: {n} events but {rows} book rows; book row i must follow event i")
        if window and books.sizes["level"] < window:
            levels = books.sizes["level"]
            raise DataError(f"ZIEstimator.fit: window={window} needs books with >= {window} levels; got {levels}")
        skip = int(events.attrs.get("initial_orders", 0))  # a simulated opening book, not order flow
        self.kind = events["kind"].values[skip:]
        self.side = events["side"].values[skip:].astype(np.int64)
        self.price = events["price_ticks"].values[skip:]
        self.qty = events["qty_lots"].values[skip:].astype(np.float64)
        ts = events["ts_ns"].values[skip:]
        if ts.size < 3:
            raise DataError(f"ZIEstimator.fit: need at least 3 events after the opening book; got {ts.size}")
        self.duration_s = float(ts[-1] - ts[0]) / NS
        if self.duration_s <= 0:
            raise DataError("ZIEstimator.fit: the events span no time (first and last ts_ns are equal)")
        self.dt_s = np.diff(ts).astype(np.float64) / NS  # how long the book after each event lasted
        rows = slice(skip, n - 1)  # the book after event i, i.e. before event i + 1
        self.bid_p, self.bid_q = books["bid_price"].values[rows], books["bid_qty"].values[rows]
        self.ask_p, self.ask_q = books["ask_price"].values[rows], books["ask_qty"].values[rows]
        self.window, self.band = window, band
        self.quoted = (self.bid_q[:, 0] > 0) & (self.ask_q[:, 0] > 0)
        if "bid_determined" in books and "ask_determined" in books:  # a replay: leave out rows it cannot know
            used = slice(0, max(window, 1))
            known = books["bid_determined"].values[rows, used].all(axis=1)
            self.quoted &= known & books["ask_determined"].values[rows, used].all(axis=1)

    def _next(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Kind, side, price and lots of the events that follow each book row."""
        return self.kind[1:], self.side[1:], self.price[1:], self.qty[1:]

    def _distance(self, side: np.ndarray, price: np.ndarray) -> np.ndarray:
        """Ticks from the opposite best quote of each book row (positive away from it)."""
        opposite = np.where(side == 1, self.ask_p[:, 0], self.bid_p[:, 0])
        return np.where(side == 1, opposite - price, price - opposite)

    def _width(self) -> np.ndarray:
        """Window width (ticks) of each book row; 0 where a side is empty."""
        spread = self.ask_p[:, 0] - np.where(self.quoted, self.bid_p[:, 0], self.ask_p[:, 0])
        width = np.where(self.quoted, spread if not self.window else self.window, 0)
        return width if self.band is None else np.minimum(width, self.band)

    def limit_flow(self) -> tuple[float, float, int, int]:
        """alpha in lots per tick per second per side, its standard error, the count and the largest distance."""
        kind, side, price, qty = self._next()
        width = self._width()
        distance = self._distance(side, price)
        counted = (kind == EventKind.ADD) & (width > 0) & (distance >= 1) & (distance <= width)
        exposure = 2.0 * float(np.sum(width * self.dt_s))
        if exposure <= 0 or not counted.any():
            raise DataError("ZIEstimator.fit: no limit order fell inside the window while both sides were quoted")
        lots = qty[counted]
        farthest = int(distance[counted].max())
        return lots.sum() / exposure, math.sqrt(np.sum(lots**2)) / exposure, int(counted.sum()), farthest

    def market_flow(self, include_hidden: bool) -> tuple[float, float, int]:
        """mu in lots per second per side, its standard error and the number of fills."""
        kinds = (EventKind.TRADE, EventKind.TRADE_HIDDEN) if include_hidden else (EventKind.TRADE,)
        lots = self.qty[np.isin(self.kind, kinds)]
        exposure = 2.0 * self.duration_s
        return lots.sum() / exposure, math.sqrt(np.sum(lots**2)) / exposure, int(lots.size)

    def cancel_flow(self) -> tuple[float, float, int]:
        """delta per second, its standard error and the number of cancellations counted."""
        kind, side, price, qty = self._next()
        if not self.window:  # at the best quote of its side
            inside = price == np.where(side == 1, self.bid_p[:, 0], self.ask_p[:, 0])
        else:
            distance = self._distance(side, price)
            inside = (distance >= 1) & (distance <= self.window)
        counted = np.isin(kind, CANCEL_KINDS) & self.quoted & inside
        exposure = float(np.sum(self._window_depth() * self.dt_s))
        if exposure <= 0:
            raise DataError("ZIEstimator.fit: no resting volume inside the window")
        lots = qty[counted]
        return lots.sum() / exposure, math.sqrt(np.sum(lots**2)) / exposure, int(counted.sum())

    def _window_depth(self) -> np.ndarray:
        """Lots resting inside the window of each book row (both sides; 0 where a side is empty)."""
        if not self.window:
            return np.where(self.quoted, self.bid_q[:, 0] + self.ask_q[:, 0], 0).astype(np.float64)
        ask0 = np.where(self.quoted, self.ask_p[:, 0], 0)[:, None]
        bid0 = np.where(self.quoted, self.bid_p[:, 0], 0)[:, None]
        bid_in = (self.bid_q > 0) & (ask0 - self.bid_p <= self.window)
        ask_in = (self.ask_q > 0) & (self.ask_p - bid0 <= self.window)
        depth = np.sum(np.where(bid_in, self.bid_q, 0), axis=1) + np.sum(np.where(ask_in, self.ask_q, 0), axis=1)
        return np.where(self.quoted, depth, 0).astype(np.float64)

    def first_bid(self, books: xr.Dataset) -> int:
        """The first quoted best bid (the simulator's start price)."""
        bid = books["bid_price"].values[:, 0]
        quoted = np.flatnonzero(bid != NO_PRICE)
        if quoted.size == 0:
            raise DataError("ZIEstimator.fit: the books never quote a bid")
        return int(bid[quoted[0]])
