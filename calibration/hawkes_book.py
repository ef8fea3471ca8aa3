"""Fit the Hawkes-driven book (:mod:`simlab.book.hawkes_book`) to order-level data with books.

:class:`HawkesBookEstimator` takes events and the book after each event (row *i* follows event *i*, as in LOBSTER
files, ``simlab.io.lobster.replay_lobster`` and ``simulate_hawkes_book(sample_ns=None)``) and measures:

* ``placement_`` (bid, ask): the law of a limit order's distance in ticks from the reference quote of the book
  just before it: the same-side best (negative inside the spread) or, with ``placement_reference="opposite"``,
  the opposite best (>= 1), over the ADD events whose previous book has both sides quoted (and, in a replay, its
  touch determined); distances beyond ``max_distance_ticks`` (stub quotes) are left out
  (``counts_["far_limit_orders"]``);
* ``limit_sizes_`` (bid, ask): the law of ADD sizes in lots;
* ``market_sizes_`` (buy, sell): the law of the lots of one market order: the visible executions (TRADE) of one
  aggressor side sharing a timestamp, merged as in :func:`calibration.hawkes_data.event_times` (the Hawkes
  preset's ``market_*`` events are the same merged events);
* ``cancel_hazard_`` (2, H): cancelled lots (CANCEL and DELETE) at ``d`` ticks from the same-side best over the
  lot-seconds resting there (the book before each cancel; levels a replay cannot determine are left out), for
  ``d = 0..H-1`` with ``H = hazard_ticks`` (the last bin pools everything farther); a bin that never held
  volume takes the pooled rate of its side;
* ``max_spread_ticks_`` (same-side placement only): the ``spread_quantile`` quantile (default the median) of the
  quoted spread before events, rounded up; ``reference_depth_`` (bid, ask): the time-averaged lots resting within
  ``depth_window_ticks`` of the same-side best (the book-to-flow feedback of :mod:`simlab.book.hawkes_book`);
* ``initial_book_``: the first book row with both sides quoted (determined levels only);
* ``hawkes_``: the event-time process: the shipped preset named by ``hawkes`` (default
  ``lobster-aapl-order-flow``, fitted on the same AAPL hour), a :class:`HawkesParams`, or a ``HawkesMLE``
  instance refitted here on the events' 6-D order flow (``calibration.hawkes_data.event_times``).

``params_`` is the :class:`HawkesBookParams`; ``simulator()`` returns the simulation function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from calibration.hawkes_data import event_times
from calibration.presets import load_preset
from simlab.book.hawkes_book import (
    ORDER_FLOW,
    PLACEMENT_REFERENCES,
    EmpiricalLaw,
    HawkesBookParams,
    simulate_hawkes_book,
)
from simlab.book.stats import autocorrelation
from simlab.errors import DataError, ParameterError
from simlab.hawkes import HawkesParams
from simlab.metrics.stylized import excess_kurtosis
from simlab.schema import NO_PRICE, EventKind

NS = 1e9


class HawkesBookEstimator:
    """Fit :class:`HawkesBookParams` to events and books (scikit-learn style; see the module docstring).

    Parameters
    ----------
    hawkes
        A preset name, a :class:`HawkesParams` named ``ORDER_FLOW``, or an unfitted ``HawkesMLE`` to refit.
    placement_reference
        ``"same"`` or ``"opposite"``: the quote a limit order's distance is counted from.
    max_distance_ticks
        Limit orders placed farther than this from the reference quote are left out of the placement law.
    hazard_ticks
        H, the number of distance bins of the cancellation hazard (the last pools farther levels).
    spread_quantile
        ``max_spread_ticks_`` is this quantile of the real spread (``None``: no spread feedback); unused with
        ``placement_reference="opposite"``.
    depth_window_ticks
        The window of ``reference_depth_``: the mean lots within this many ticks of the same-side best, per side
        (``None``: no depth feedback, every cancel applied). Keep it inside the span the books always show
        (the AAPL 50 levels span >= 124 ticks in 95 % of the rows).
    """

    def __init__(
        self,
        *,
        hawkes: str | HawkesParams | Any = "lobster-aapl-order-flow",
        placement_reference: str = "same",
        max_distance_ticks: int = 500,
        hazard_ticks: int = 200,
        spread_quantile: float | None = 0.5,
        depth_window_ticks: int | None = 100,
    ) -> None:
        self.hawkes = hawkes
        self.placement_reference = placement_reference
        self.max_distance_ticks = max_distance_ticks
        self.hazard_ticks = hazard_ticks
        self.spread_quantile = spread_quantile
        self.depth_window_ticks = depth_window_ticks

    def fit(self, events: xr.Dataset, books: xr.Dataset) -> HawkesBookEstimator:
        """Estimate the laws; set ``params_``, the laws (``placement_`` ...), ``counts_`` and ``hawkes_``."""
        for name in ("max_distance_ticks", "hazard_ticks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"`{name}` of HawkesBookEstimator must be an int >= 1; got {value!r}")
        reference = self.placement_reference
        if reference not in PLACEMENT_REFERENCES:
            raise ParameterError(
                f"`placement_reference` of HawkesBookEstimator must be one of {PLACEMENT_REFERENCES}; got {reference!r}"
            )
        data = _Columns(events, books)
        self.placement_, far = data.placement(int(self.max_distance_ticks), opposite=reference == "opposite")
        self.limit_sizes_ = tuple(EmpiricalLaw.from_samples(data.qty[data.is_add & (data.side == s)]) for s in (1, -1))
        window = event_times(events.isel(event=slice(data.skip, None)), "order-flow")
        self.market_sizes_ = tuple(EmpiricalLaw.from_samples(window.marks[k]) for k in (4, 5))
        self.cancel_hazard_ = data.cancel_hazard(int(self.hazard_ticks))
        self.initial_book_ = data.initial_book()
        q = self.spread_quantile
        if q is not None and (isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q <= 1):
            raise ParameterError(f"`spread_quantile` of HawkesBookEstimator must be None or in (0, 1]; got {q!r}")
        self.max_spread_ticks_ = None if q is None or reference == "opposite" else data.spread_quantile(float(q))
        depth_window = self.depth_window_ticks
        bad = isinstance(depth_window, bool) or not isinstance(depth_window, (int, np.integer)) or depth_window < 1
        if depth_window is not None and bad:
            raise ParameterError(
                f"`depth_window_ticks` of HawkesBookEstimator must be None or an int >= 1; got {depth_window!r}"
            )
        self.reference_depth_ = None if depth_window is None else data.reference_depth(int(depth_window))
        self.hawkes_ = self._hawkes(window)
        self.counts_ = {
            "limit_orders": int(data.is_add.sum()),
            "placed_limit_orders": int(sum(data.placed_counts)),
            "far_limit_orders": far,
            "market_orders": [int(m.size) for m in window.marks[4:]],
            "cancellations": int(data.is_cancel.sum()),
        }
        self.params_ = HawkesBookParams(
            hawkes=self.hawkes_,
            placement=self.placement_,
            limit_sizes=self.limit_sizes_,
            market_sizes=self.market_sizes_,
            cancel_hazard=self.cancel_hazard_,
            initial_book=self.initial_book_,
            max_spread_ticks=self.max_spread_ticks_,
            placement_reference=reference,
            reference_depth_lots=self.reference_depth_,
            **({} if depth_window is None else {"depth_window_ticks": int(depth_window)}),
            tick_size=float(events.attrs.get("tick_size", 0.01)),
            lot_size=float(events.attrs.get("lot_size", 1.0)),
            instrument=str(events.attrs.get("instrument", "HAWKES")),
            venue=str(events.attrs.get("venue", "simlab")),
        )
        return self

    def simulator(self, **changes: Any) -> Callable[..., dict[str, xr.Dataset]]:
        """Return ``simulate(duration_s, rng, **options)`` running ``simulate_hawkes_book`` on ``params_``.

        ``changes`` replace fields of ``params_`` first.
        """
        if not hasattr(self, "params_"):
            raise ParameterError("HawkesBookEstimator is not fitted yet; call fit(events, books) first")
        params = replace(self.params_, **changes)

        def simulate(duration_s: float, rng: Any, **options: Any) -> dict[str, xr.Dataset]:
            return simulate_hawkes_book(params, duration_s, rng=rng, **options)

        return simulate

    def _hawkes(self, window: Any) -> HawkesParams:
        if isinstance(self.hawkes, str):
            return load_preset(self.hawkes).params
        if isinstance(self.hawkes, HawkesParams):
            return self.hawkes
        if hasattr(self.hawkes, "fit"):
            return self.hawkes.fit(list(window.times_s), window.duration_s, names=ORDER_FLOW).params_
        raise ParameterError(
            f"`hawkes` of HawkesBookEstimator must be a preset name, a HawkesParams or a HawkesMLE; got {self.hawkes!r}"
        )


class _Columns:
    """Event columns and the book before each event (book row i - 1 before event i)."""

    def __init__(self, events: xr.Dataset, books: xr.Dataset) -> None:
        n = events.sizes.get("event", 0)
        if books.sizes.get("time", -1) != n:
            rows = books.sizes.get("time")
            raise DataError(f"HawkesBookEstimator.fit: {n} events but {rows} book rows; book row i must follow event i")
        self.skip = skip = int(events.attrs.get("initial_orders", 0))  # a simulated opening book, not order flow
        if n - skip < 3:
            raise DataError(f"HawkesBookEstimator.fit: need at least 3 events after the opening book; got {n - skip}")
        kind = events["kind"].values[skip:]
        self.side = events["side"].values[skip:].astype(np.int64)
        self.price = events["price_ticks"].values[skip:]
        self.qty = events["qty_lots"].values[skip:]
        self.is_add = kind == EventKind.ADD
        self.is_cancel = np.isin(kind, (EventKind.CANCEL, EventKind.DELETE))
        self.dt_s = np.diff(events["ts_ns"].values[skip:]).astype(np.float64) / NS
        self.books = books
        self.bid_p, self.bid_q = books["bid_price"].values, books["bid_qty"].values
        self.ask_p, self.ask_q = books["ask_price"].values, books["ask_qty"].values
        if "bid_determined" in books and "ask_determined" in books:  # a replay: only the determined cells count
            self.bid_known, self.ask_known = books["bid_determined"].values, books["ask_determined"].values
        else:
            self.bid_known = self.ask_known = np.ones(self.bid_p.shape, bool)
        quoted = (self.bid_q[:, 0] > 0) & (self.ask_q[:, 0] > 0) & self.bid_known[:, 0] & self.ask_known[:, 0]
        self.quoted_before = quoted[skip : n - 1]  # the book before event skip + 1 .. n - 1
        self.before = slice(skip, n - 1)

    def _same_best(self, side: np.ndarray) -> np.ndarray:
        """Same-side best quote before each event from the second on."""
        return np.where(side == 1, self.bid_p[self.before, 0], self.ask_p[self.before, 0])

    def placement(self, max_distance: int, opposite: bool) -> tuple[tuple[EmpiricalLaw, EmpiricalLaw], int]:
        """(bid, ask) laws of the distance from the same-side (or opposite) best; the number of far orders left out."""
        side, price = self.side[1:], self.price[1:]
        reference = self._same_best(-side) if opposite else self._same_best(side)
        distance = side * (reference - price)
        counted = self.is_add[1:] & self.quoted_before
        near = counted & (distance <= max_distance)
        laws, self.placed_counts = [], []
        for s in (1, -1):
            chosen = distance[near & (side == s)]
            if chosen.size == 0:
                raise DataError(f"HawkesBookEstimator.fit: no limit order of side {s} with a quoted book before it")
            laws.append(EmpiricalLaw.from_samples(chosen))
            self.placed_counts.append(int(chosen.size))
        return (laws[0], laws[1]), int((counted & ~near).sum())

    def cancel_hazard(self, bins: int) -> np.ndarray:
        """Cancelled lots over resting lot-seconds per distance bin, per side (2, bins)."""
        side, price = self.side[1:], self.price[1:]
        counted = self.is_cancel[1:] & self.quoted_before
        distance = np.abs(self._same_best(side) - price)
        hazard = np.zeros((2, bins))
        for row, s in enumerate((1, -1)):
            mask = counted & (side == s)
            cancelled = np.bincount(np.minimum(distance[mask], bins - 1), self.qty[1:][mask], bins)
            exposure = self._exposure(s, bins)
            pooled = cancelled.sum() / exposure.sum() if exposure.sum() > 0 else 0.0
            if pooled <= 0:
                raise DataError(f"HawkesBookEstimator.fit: no cancellation of side {s} with a quoted book before it")
            hazard[row] = np.where(exposure > 0, cancelled / np.where(exposure > 0, exposure, 1.0), pooled)
        return hazard

    def _exposure(self, side: int, bins: int) -> np.ndarray:
        """Lot-seconds resting at each distance bin from the same-side best, over the rows quoted before events."""
        prices, qtys, known = (
            (self.bid_p, self.bid_q, self.bid_known) if side == 1 else (self.ask_p, self.ask_q, self.ask_known)
        )
        rows = self.before
        p, q, k = prices[rows], qtys[rows], known[rows]
        use = (q > 0) & k & self.quoted_before[:, None]
        distance = np.minimum(np.abs(p - p[:, :1]), bins - 1)
        weight = q * self.dt_s[:, None]
        return np.bincount(distance[use], weight[use], bins)

    def reference_depth(self, bins: int) -> tuple[float, float]:
        """(bid, ask) time-averaged lots resting within ``bins`` ticks of the same-side best (quoted rows)."""
        seconds = float(self.dt_s[self.quoted_before].sum())
        if seconds <= 0:
            raise DataError("HawkesBookEstimator.fit: the books are never quoted on both sides for a positive time")
        depth = []
        for prices, qtys, known in ((self.bid_p, self.bid_q, self.bid_known), (self.ask_p, self.ask_q, self.ask_known)):
            p, q, k = prices[self.before], qtys[self.before], known[self.before]
            near = (q > 0) & k & (np.abs(p - p[:, :1]) < bins) & self.quoted_before[:, None]
            depth.append(max(float((np.where(near, q, 0).sum(axis=1) * self.dt_s).sum()) / seconds, 1.0))
        return depth[0], depth[1]

    def spread_quantile(self, q: float) -> int:
        """The ``q`` quantile of the quoted spread (ticks) over the books before events, rounded up (>= 1)."""
        rows = self.before
        spread = (self.ask_p[rows, 0] - self.bid_p[rows, 0])[self.quoted_before]
        return max(int(np.ceil(np.quantile(spread, q))), 1)

    def initial_book(self) -> np.ndarray:
        """The first quoted book row (4, levels), undetermined levels blanked."""
        quoted = np.flatnonzero(self.quoted_before)
        if quoted.size == 0:
            raise DataError("HawkesBookEstimator.fit: the books never quote both sides")
        row = self.skip + int(quoted[0])
        book = np.array([self.bid_p[row], self.bid_q[row], self.ask_p[row], self.ask_q[row]], dtype=np.int64)
        unknown = np.array([~self.bid_known[row], ~self.bid_known[row], ~self.ask_known[row], ~self.ask_known[row]])
        book[1][unknown[1]], book[3][unknown[3]] = 0, 0
        book[0][book[1] == 0], book[2][book[3] == 0] = NO_PRICE, NO_PRICE
        return book


def lobster_with_depth(message_path: str | Path, start_paths: tuple[str | Path, str | Path], levels: int = 50):
    """Read a deep LOBSTER message file and rebuild its book, started from a deeper-known first row.

    Parameters
    ----------
    message_path
        A level-N message file (e.g. AAPL's level-50 hour).
    start_paths
        (message, orderbook) files of the same day whose first book row follows the same first message (e.g.
        AAPL's level-10 first rows).
    levels
        N, the message file's level count.

    Returns
    -------
    dict
        ``"events"`` (from the second message on) and ``"books"`` (``replay_lobster`` with determined masks).
    """
    from simlab.io.lobster import read_lobster, replay_lobster

    messages = read_lobster(message_path)["events"]
    start = read_lobster(*start_paths)["books"].isel(time=slice(0, 1))
    events = messages.isel(event=slice(1, None))
    return {"events": events, "books": replay_lobster(events, initial_book=start, levels=levels)}


def book_statistics(events: xr.Dataset, books: xr.Dataset, *, bin_s: float = 1.0) -> dict[str, float]:
    """Summarise a book for side-by-side comparisons (ticks, lots, seconds).

    Returns the spread's mean and quantiles, the mean and median L1 queues, the L1 imbalance
    ``(bid - ask) / (bid + ask)`` (mean, std), the event-type mix (ADD, CANCEL + DELETE, TRADE shares), the median
    and mean time between distinct timestamps, the share of book rows with a side empty, and the mid-price change
    over ``bin_s`` bins (std in ticks, excess kurtosis, lag-1 autocorrelation of the changes and of their absolute
    values). Book rows are taken as they are (one per event for LOBSTER files and per-event simulations).
    """
    skip = int(events.attrs.get("initial_orders", 0))
    kind, ts = events["kind"].values[skip:], events["ts_ns"].values[skip:]
    bid_p, bid_q = books["bid_price"].values[skip:, 0], books["bid_qty"].values[skip:, 0]
    ask_p, ask_q = books["ask_price"].values[skip:, 0], books["ask_qty"].values[skip:, 0]
    quoted = (bid_q > 0) & (ask_q > 0)
    spread = (ask_p - bid_p)[quoted].astype(np.float64)
    imbalance = ((bid_q - ask_q) / np.maximum(bid_q + ask_q, 1))[quoted]
    stamps = np.unique(ts)
    gaps = np.diff(stamps).astype(np.float64) / NS
    mid = (ask_p + bid_p)[quoted] / 2.0
    bins = ((ts[quoted] - ts[0]) // int(bin_s * NS)).astype(np.int64)
    last = np.full(bins.max() + 1 if bins.size else 0, np.nan)
    last[bins] = mid  # the last mid of each bin (rows are in time order)
    filled = _forward_fill(last)
    change = np.diff(filled[~np.isnan(filled)])
    total = max(kind.size, 1)
    return {
        "spread_mean_ticks": float(spread.mean()),
        **{f"spread_q{q}_ticks": float(np.percentile(spread, q)) for q in (10, 50, 90)},
        "l1_bid_mean_lots": float(bid_q[quoted].mean()),
        "l1_ask_mean_lots": float(ask_q[quoted].mean()),
        "l1_bid_median_lots": float(np.median(bid_q[quoted])),
        "l1_ask_median_lots": float(np.median(ask_q[quoted])),
        "imbalance_mean": float(imbalance.mean()),
        "imbalance_std": float(imbalance.std()),
        "share_add": float(np.mean(kind == EventKind.ADD)),
        "share_cancel": float(np.isin(kind, (EventKind.CANCEL, EventKind.DELETE)).sum() / total),
        "share_trade": float(np.mean(kind == EventKind.TRADE)),
        "interarrival_median_s": float(np.median(gaps)),
        "interarrival_mean_s": float(gaps.mean()),
        "one_sided_share": float(1.0 - quoted.mean()),
        "mid_change_std_ticks": float(change.std()),
        "mid_change_excess_kurtosis": excess_kurtosis(change),
        "mid_change_acf1": autocorrelation(change, (1,))[0],
        "abs_mid_change_acf1": autocorrelation(np.abs(change), (1,))[0],
    }


def _forward_fill(values: np.ndarray) -> np.ndarray:
    index = np.where(np.isnan(values), 0, np.arange(values.size))
    np.maximum.accumulate(index, out=index)
    out = values[index]
    return out
