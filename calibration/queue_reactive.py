"""Calibration of the queue-reactive model (Huang, Lehalle and Rosenbaum 2015) by counts over time in state.

For each tracked queue (side, level) and size ``n`` (in units of that queue's average event size, AES, rounded up:
``n = ceil(qty / AES)``), the intensity of event type X (limit, cancel, market) is estimated as

    lambda_X(n) = (number of X events while the queue held n units) / (total time it held n units),

the maximum-likelihood estimator of a Markov jump process (HLR 2015, section 2.3). A count ``N`` over time ``T`` has
the Poisson standard error ``sqrt(N) / T = lambda / sqrt(N)``: the relative error is ``1 / sqrt(N)``.

Reading the data (events and the L2 book after each event, as LOBSTER gives them): the queue at level ``i`` of a
side is the ``i``-th best non-empty price of that side (for ``levels=1``: the best bid and ask queues). An event is
attributed to the queue whose price (in the book before it) it hits on its resting side: ADD -> limit, CANCEL and
DELETE -> cancel, TRADE (visible) -> market; an ADD on a side whose first level is empty refills that queue at
``n = 0``. ADDs at a new price (inside the spread) have no queue in the model: they are counted in
``unmodelled_events_`` and left out, as are hidden trades and book messages (CLEAR, SET_LEVEL, ...).
States above ``n_max`` are pooled into ``n_max``, whose limit intensity is set to 0 (the simulated queue reflects
there). States never visited take the intensities of the nearest visited state (``identified_`` is False there).
``theta_`` is the share of first-queue depletions followed by a price move (a new non-empty first level at another
price, or a CLEAR); ``spread_probabilities_`` is the time-weighted law of the spread (ticks) while both sides quote.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from simlab.book.queue_reactive import QRParams, simulate_qr
from simlab.errors import DataError, ParameterError
from simlab.schema import NO_PRICE, EventKind

_TYPE_OF_KIND = {EventKind.ADD: 0, EventKind.CANCEL: 1, EventKind.DELETE: 1, EventKind.TRADE: 2}


class QREstimator:
    """Estimate queue-reactive intensities from events and L2 books by counts over time in state.

    Parameters
    ----------
    levels
        Number of queues per side, K (the book must have at least K levels).
    n_max
        Largest queue size in AES units; larger sizes are pooled into ``n_max``.
    symmetric
        Pool the bid and ask sides (HLR's symmetric model).
    max_spread_ticks
        Largest spread kept in ``spread_probabilities_`` (larger spreads are left out and the law renormalised);
        ``None`` keeps every observed spread.
    """

    def __init__(
        self, *, levels: int = 1, n_max: int = 30, symmetric: bool = False, max_spread_ticks: int | None = None
    ) -> None:
        self.levels = levels
        self.n_max = n_max
        self.symmetric = symmetric
        self.max_spread_ticks = max_spread_ticks

    def fit(self, events: xr.Dataset, books: xr.Dataset) -> QREstimator:
        """Estimate the intensities from ``events`` and ``books`` (row ``i`` is the book after event ``i``)."""
        self._check()
        K, top = self.levels, self.n_max
        ts, kind, side, price, qty = _columns(events, books, K)
        price_b = np.stack([books["bid_price"].values[:, :K], books["ask_price"].values[:, :K]])
        qty_b = np.stack([books["bid_qty"].values[:, :K], books["ask_qty"].values[:, :K]])
        x, s, lev, ok = _attribute(kind, side, price, price_b, qty_b)
        self.unmodelled_events_ = int(np.sum((x >= 0) & ~ok))
        idx = np.flatnonzero(ok)
        sizes = np.zeros((2, K))
        np.add.at(sizes, (s[idx], lev[idx]), qty[idx])
        hits = np.zeros((2, K))
        np.add.at(hits, (s[idx], lev[idx]), 1)
        if np.any(hits == 0):
            raise DataError(f"QREstimator.fit: no event hit the queues (side, level) {np.argwhere(hits == 0).tolist()}")
        self.size_lots_ = sizes / hits
        units = np.minimum(np.ceil(qty_b / self.size_lots_[:, None, :]).astype(np.int64), top)  # (2, N, K)
        counts = np.zeros((3, 2, K, top + 1))
        np.add.at(counts, (x[idx], s[idx], lev[idx], units[s[idx], idx - 1, lev[idx]]), 1)
        time_s = np.zeros((2, K, top + 1))
        dt = np.diff(ts).astype(np.float64) / 1e9
        for side_index in range(2):
            for level in range(K):
                time_s[side_index, level] = np.bincount(units[side_index, :-1, level], dt, minlength=top + 1)
        if self.symmetric:
            counts[:] = counts.sum(axis=1, keepdims=True)
            time_s[:] = time_s.sum(axis=0, keepdims=True)
        self.counts_, self.time_s_ = counts, time_s
        self.identified_ = time_s > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = np.where(self.identified_, counts / time_s, 0.0)
        self.limit_rates_, self.cancel_rates_, self.market_rates_ = _fill(rates)
        self.theta_ = _theta(kind, x, s, lev, ok, price, price_b, qty_b)
        self.spread_probabilities_ = _spread_law(ts, price_b, qty_b, self.max_spread_ticks)
        self.params_ = QRParams(
            self.limit_rates_,
            self.cancel_rates_,
            self.market_rates_,
            size_lots=np.maximum(np.round(self.size_lots_), 1).astype(np.int64),
            theta=self.theta_,
            spread_probabilities=self.spread_probabilities_,
            tick_size=float(events.attrs["tick_size"]),
            lot_size=float(events.attrs["lot_size"]),
            instrument=str(events.attrs["instrument"]),
            venue=str(events.attrs["venue"]),
        )
        return self

    def standard_errors(self) -> np.ndarray:
        """Return the Poisson standard errors ``sqrt(N) / T`` (1/s) of the (limit, cancel, market) intensities."""
        self._fitted()
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.identified_, np.sqrt(self.counts_) / self.time_s_, np.nan)

    def simulator(self):
        """Return ``simulate(duration_s, rng, **options)`` running :func:`simulate_qr` with the fitted parameters."""
        params = self._fitted()

        def simulate(duration_s: float, rng: Any, **options: Any) -> dict[str, xr.Dataset]:
            return simulate_qr(params, duration_s, rng=rng, **options)

        return simulate

    def _fitted(self) -> QRParams:
        if not hasattr(self, "params_"):
            raise ParameterError("QREstimator is not fitted yet; call fit(events, books) first")
        return self.params_

    def _check(self) -> None:
        for name, low in (("levels", 1), ("n_max", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ParameterError(f"`{name}` of QREstimator must be an int >= {low}; got {value!r}")
        spread = self.max_spread_ticks
        if spread is not None and (isinstance(spread, bool) or not isinstance(spread, (int, np.integer)) or spread < 1):
            raise ParameterError(f"`max_spread_ticks` of QREstimator must be None or an int >= 1; got {spread!r}")


def _columns(events: xr.Dataset, books: xr.Dataset, levels: int) -> tuple[np.ndarray, ...]:
    n = events.sizes.get("event", 0)
    if books.sizes.get("time", -1) != n:
        raise DataError(f"QREstimator.fit: books must have one row per event ({n}); got {books.sizes.get('time')}")
    if books.sizes.get("level", 0) < levels:
        raise DataError(f"QREstimator.fit: books must have >= {levels} levels; got {books.sizes.get('level')}")
    if n < 2:
        raise DataError(f"QREstimator.fit: needs at least 2 events; got {n}")
    names = ("ts_ns", "kind", "side", "price_ticks", "qty_lots")
    return tuple(events[name].values for name in names)


def _attribute(kind, side, price, price_b, qty_b):
    """Return per event its type x (-1: not L/C/M), side index, level and whether it hit a tracked queue."""
    x = np.full(kind.shape[0], -1, dtype=np.int64)
    for k, value in _TYPE_OF_KIND.items():
        x[kind == k] = value
    resting = np.where(x == 2, -side, side)
    s = np.where(resting == 1, 0, 1)
    rows = np.arange(kind.shape[0])
    before = np.maximum(rows - 1, 0)
    prices = price_b[s, before]  # (N, K): the resting side's level prices before each event
    match = (prices == price[:, None]) & (qty_b[s, before] > 0)
    lev = np.argmax(match, axis=1)
    hit = match.any(axis=1)
    refill = (x == 0) & (qty_b[s, before, 0] == 0)  # an ADD on a side whose first queue is empty
    lev = np.where(hit, lev, 0)
    ok = (x >= 0) & (rows > 0) & (resting != 0) & (hit | refill)
    return x, s, lev, ok


def _fill(rates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # unvisited states (or states without any death) take the nearest state's intensities; L(n_max) = 0
    limit, cancel, market = (r.copy() for r in rates)
    n = np.arange(limit.shape[-1])
    for s in range(limit.shape[0]):
        for i in range(limit.shape[1]):
            death_ok = (cancel[s, i] + market[s, i] > 0) & (n > 0)
            birth_ok = limit[s, i] > 0
            for table, good in ((cancel, death_ok), (market, death_ok), (limit, birth_ok)):
                if not good.any():
                    raise DataError("QREstimator.fit: a queue had no limit or no cancel/market events at all")
                source = np.flatnonzero(good)
                nearest = source[np.argmin(np.abs(n[:, None] - source[None, :]), axis=1)]
                table[s, i] = np.where(good, table[s, i], table[s, i, nearest])
    cancel[..., 0] = market[..., 0] = 0.0
    limit[..., -1] = 0.0
    return limit, cancel, market


def _theta(kind, x, s, lev, ok, price, price_b, qty_b) -> float:
    rows = np.flatnonzero(ok & (x >= 1) & (lev == 0))
    rows = rows[rows < kind.shape[0] - 1]
    after_price, after_qty = price_b[s[rows], rows, 0], qty_b[s[rows], rows, 0]
    depleted = (after_qty == 0) | (after_price != price[rows])
    moved = ((after_qty > 0) & (after_price != price[rows]) & (after_price != NO_PRICE)) | (
        kind[rows + 1] == EventKind.CLEAR
    )
    total = int(depleted.sum())
    return float((depleted & moved).sum() / total) if total else 0.0


def _spread_law(ts, price_b, qty_b, max_spread: int | None) -> np.ndarray:
    both = (qty_b[0, :-1, 0] > 0) & (qty_b[1, :-1, 0] > 0)
    spread = (price_b[1, :-1, 0] - price_b[0, :-1, 0])[both]
    dt = np.diff(ts)[both].astype(np.float64)
    if spread.size == 0 or dt.sum() <= 0 or spread.min() < 1:
        return np.ones(1)
    top = int(spread.max()) if max_spread is None else int(max_spread)
    keep = spread <= top
    law = np.bincount(spread[keep] - 1, dt[keep], minlength=top)[:top]
    return law / law.sum() if law.sum() > 0 else np.ones(1)
