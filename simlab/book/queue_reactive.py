"""The queue-reactive order book model (Huang, Lehalle and Rosenbaum 2015, JASA 110(509), 107-122).

The book is the sizes of ``K`` queues on each side of a reference price, counted in size units (one unit is the
average event size, AES, of that queue, ``size_lots`` lots). Bid queue ``i`` (1-based) rests ``i - 1`` ticks below
the bid reference price, ask queue ``i`` ``i - 1`` ticks above the ask reference price, ``spread`` ticks above
the bid one. Each queue is a continuous-time birth-death process whose limit (+1 unit), cancel (-1) and market
(-1) intensities depend on its own size ``n`` only (model I): ``limit_rates[s, i, n]`` and so on, per second, side
``s`` 0 bid / 1 ask. Without price moves the queues are independent and each one's stationary law is the
birth-death product ``pi(n) ~ prod_{k=1..n} lambda_L(k-1) / (lambda_C(k) + lambda_M(k))``.

Price moves (model III, our exact rule): when a cancel or a market order empties a first queue (``i = 1``), with
probability ``theta`` the mid moves one tick towards that side (up when the ask queue emptied), a new spread is
drawn from ``spread_probabilities`` (ticks 1, 2, ...; the mid is then floored to the half-tick grid that spread
allows, so it moves by 1/2 to 3/2 ticks, always in that direction), and every queue is redrawn from its stationary
law conditioned on ``n >= 1``. With probability ``1 - theta`` the emptied queue stays at its price, empty, until a
limit order refills it. The simulation is exact (event by event, exponential waiting times: Gillespie).

Output events (schema of :mod:`simlab.schema`): ``ADD`` (side = the queue's side), ``CANCEL`` (side = the queue's
side), ``TRADE`` (side = the aggressor, opposite to the queue), each of ``size_lots`` lots at the queue's price; a
price move writes ``CLEAR`` then one ``SET_LEVEL`` per queue (the start of the run too), so the events alone rebuild
the book. Books: the L2 snapshot after every event, level 1 being the best non-empty queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from simlab.book import _qr
from simlab.errors import ParameterError
from simlab.provenance import provenance
from simlab.random import RandomLike, as_generator
from simlab.schema import make_books, make_events

NS = 1_000_000_000
_RATE_NAMES = ("limit_rates", "cancel_rates", "market_rates")


@dataclass(frozen=True, eq=False)
class QRParams:
    """Parameters of the queue-reactive model (intensities per second, sizes in lots, prices in ticks).

    Parameters
    ----------
    limit_rates, cancel_rates, market_rates
        float ``(2, K, n_max + 1)``: the intensity (1/s) of limit orders (+1 unit), cancellations and market
        orders (-1 unit) at side ``s`` (0 bid, 1 ask), level ``i`` (0 = first queue), queue size ``n`` (units).
        Rules: finite and >= 0; ``limit_rates[..., 0] > 0`` (an empty queue refills);
        ``limit_rates[..., n_max] == 0`` (capacity: a queue never exceeds ``n_max``); cancel and market rates are
        0 at ``n = 0`` and their sum is > 0 for ``n >= 1``.
    size_lots
        int ``(2, K)``: lots per size unit (the queue's AES) at each side and level, >= 1.
    theta
        Probability in [0, 1] that the mid moves when a first queue empties.
    spread_probabilities
        Law of the spread (ticks 1, 2, ..., S) drawn at the start and after each price move; sums to 1.
    tick_size, lot_size, instrument, venue
        Attributes of the simulated events.
    """

    limit_rates: np.ndarray
    cancel_rates: np.ndarray
    market_rates: np.ndarray
    size_lots: np.ndarray
    theta: float = 0.0
    spread_probabilities: np.ndarray = field(default_factory=lambda: np.ones(1))
    tick_size: float = 0.01
    lot_size: float = 1.0
    instrument: str = "QR"
    venue: str = "simlab"

    def __post_init__(self) -> None:
        rates = [_rate_table(getattr(self, name), name) for name in _RATE_NAMES]
        if rates[1].shape != rates[0].shape or rates[2].shape != rates[0].shape:
            shapes = [r.shape for r in rates]
            raise ParameterError(f"the rate tables of QRParams must share one shape (2, K, n_max + 1); got {shapes}")
        _check_rate_rules(*rates)
        size = np.asarray(self.size_lots)
        if size.shape == ():
            size = np.full(rates[0].shape[:2], size)
        if size.shape != rates[0].shape[:2] or not np.all(np.isfinite(size)) or np.any(size < 1):
            raise ParameterError(f"`size_lots` of QRParams must be >= 1 of shape {rates[0].shape[:2]}; got {size!r}")
        if size.dtype.kind == "f" and not np.array_equal(size, np.round(size)):
            raise ParameterError(f"`size_lots` of QRParams must hold whole lots; got {size.tolist()}")
        spread = np.atleast_1d(np.asarray(self.spread_probabilities, dtype=np.float64))
        ok = spread.ndim == 1 and np.all(np.isfinite(spread)) and np.all(spread >= 0) and abs(spread.sum() - 1) < 1e-9
        if not ok:
            raise ParameterError(f"`spread_probabilities` of QRParams must be >= 0 and sum to 1; got {spread.tolist()}")
        if not (isinstance(self.theta, (int, float)) and 0.0 <= self.theta <= 1.0):
            raise ParameterError(f"`theta` of QRParams must be a probability in [0, 1]; got {self.theta!r}")
        for name in ("tick_size", "lot_size"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ParameterError(f"`{name}` of QRParams must be a finite number > 0; got {value!r}")
        for name, value in zip(_RATE_NAMES, rates, strict=True):
            _freeze(self, name, value)
        _freeze(self, "size_lots", size.astype(np.int64))
        _freeze(self, "spread_probabilities", spread / spread.sum())
        object.__setattr__(self, "theta", float(self.theta))

    @classmethod
    def symmetric(
        cls,
        limit_rates: np.ndarray,
        cancel_rates: np.ndarray,
        market_rates: np.ndarray,
        *,
        levels: int = 1,
        size_lots: int = 1,
        **options: Any,
    ) -> QRParams:
        """Build parameters whose every queue (both sides, all ``levels``) shares the 1-D tables over ``n``."""
        if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 1:
            raise ParameterError(f"`levels` of QRParams.symmetric must be an int >= 1; got {levels!r}")
        tables = [
            np.broadcast_to(np.asarray(r, dtype=np.float64), (2, levels, np.size(r))).copy()
            for r in (limit_rates, cancel_rates, market_rates)
        ]
        return cls(*tables, size_lots=np.full((2, levels), size_lots, dtype=np.int64), **options)

    @property
    def levels(self) -> int:
        """Number of queues per side, K."""
        return int(self.limit_rates.shape[1])

    @property
    def n_max(self) -> int:
        """Largest queue size (units)."""
        return int(self.limit_rates.shape[2] - 1)

    def stationary_law(self, side: int, level: int, *, nonempty: bool = False) -> np.ndarray:
        """Return the birth-death stationary law ``pi(n)``, ``n = 0..n_max``, of one queue (side 0 bid / 1 ask,
        level 0 = first), or its law conditioned on ``n >= 1`` when ``nonempty``."""
        return _stationary(
            self.limit_rates[side, level], self.cancel_rates[side, level] + self.market_rates[side, level], nonempty
        )

    def mean_event_rate(self) -> float:
        """Return the stationary number of limit, cancel and market events per second (all queues, theta = 0)."""
        total = self.limit_rates + self.cancel_rates + self.market_rates
        laws = [[self.stationary_law(s, i) for i in range(self.levels)] for s in range(2)]
        return float(np.sum(np.asarray(laws) * total))

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as JSON-serialisable values."""
        out: dict[str, Any] = {name: getattr(self, name).tolist() for name in _RATE_NAMES}
        out.update(size_lots=self.size_lots.tolist(), theta=self.theta)
        out.update(spread_probabilities=self.spread_probabilities.tolist(), tick_size=self.tick_size)
        out.update(lot_size=self.lot_size, instrument=self.instrument, venue=self.venue)
        return out


def simulate_qr(
    params: QRParams,
    duration_s: float,
    *,
    rng: RandomLike,
    initial_bid_ticks: int = 10_000,
    start_ns: int = 0,
    books: bool = True,
) -> dict[str, xr.Dataset]:
    """Simulate the queue-reactive book exactly on ``[0, duration_s)`` seconds.

    Parameters
    ----------
    params
        The model (:class:`QRParams`).
    duration_s
        Horizon in seconds, > 0.
    rng
        Seed: an int, a SeedSequence or a Generator (its stream is used as is).
    initial_bid_ticks
        Price (ticks) of the first bid queue at the start.
    start_ns
        Time of the start (ns since the epoch); event times are ``start_ns`` + exact times rounded to the ns.
    books
        Also return the L2 snapshot (depth K) after every event.

    Returns
    -------
    dict
        ``"events"`` (the schema's events; attributes carry provenance and ``true_params``) and, with ``books``,
        ``"books"`` (one row per event).
    """
    if not isinstance(params, QRParams):
        raise ParameterError(f"`params` of simulate_qr must be a QRParams; got {type(params).__name__}")
    if isinstance(duration_s, bool) or not isinstance(duration_s, (int, float)) or not 0 < duration_s < np.inf:
        raise ParameterError(f"`duration_s` of simulate_qr must be a finite number > 0; got {duration_s!r}")
    for name, value in (("initial_bid_ticks", initial_bid_ticks), ("start_ns", start_ns)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ParameterError(f"`{name}` of simulate_qr must be an int; got {value!r}")
    seed = int(rng) if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) else None
    gen = as_generator(rng)
    out, snapshots = _run(params, float(duration_s), gen, int(initial_bid_ticks), bool(books))
    config = dict(model="queue-reactive", duration_s=float(duration_s), initial_bid_ticks=int(initial_bid_ticks))
    attrs = provenance(seed=seed, config=config, true_params=params.to_dict())
    attrs.update(model="queue-reactive", duration_s=float(duration_s))
    ts_ns = int(start_ns) + np.round(out[0] * NS).astype(np.int64)
    result = {
        "events": make_events(
            ts_ns=ts_ns,
            kind=out[1],
            side=out[2],
            price_ticks=out[3],
            qty_lots=out[4],
            tick_size=params.tick_size,
            lot_size=params.lot_size,
            instrument=params.instrument,
            venue=params.venue,
            attrs=attrs,
            source="simulate_qr events",
        )
    }
    if books:
        bid_p, bid_q, ask_p, ask_q = snapshots
        result["books"] = make_books(
            ts_ns=ts_ns,
            bid_price=bid_p,
            bid_qty=bid_q,
            ask_price=ask_p,
            ask_qty=ask_q,
            attrs=attrs,
            source="simulate_qr books",
        )
    return result


def kernel_inputs(params: QRParams) -> dict[str, Any]:
    """Return the arrays the kernel reads (shared with the tests' pure-Python twin)."""
    levels, width = params.levels, params.n_max + 1
    rates = np.stack([getattr(params, name).reshape(2 * levels, width) for name in _RATE_NAMES], axis=-1)
    laws = [params.stationary_law(s, i) for s in range(2) for i in range(levels)]
    redraw = [params.stationary_law(s, i, nonempty=True) for s in range(2) for i in range(levels)]
    return dict(
        rates=np.ascontiguousarray(rates),
        start_cdf=np.cumsum(laws, axis=1),
        redraw_cdf=np.cumsum(redraw, axis=1),
        spread_cdf=np.cumsum(params.spread_probabilities),
        size_lots=params.size_lots.reshape(-1).copy(),
    )


def _run(params: QRParams, duration: float, gen: np.random.Generator, bid_ticks: int, with_books: bool):
    k = kernel_inputs(params)
    levels = params.levels
    queues = np.zeros(2 * levels, dtype=np.int64)
    grid = np.array([bid_ticks, 1], dtype=np.int64)
    clock = np.zeros(1)
    expected = params.mean_event_rate() * duration
    capacity = int(min(max(1.05 * expected + 10 * np.sqrt(expected), 1024.0), 2.0**26)) + 4 * levels
    chunks = []
    out, books = _allocate(capacity, levels, with_books)
    n = _qr.begin(gen, k["start_cdf"], k["spread_cdf"], k["size_lots"], queues, grid, with_books, out, books)
    while True:
        n, done = _qr.simulate_chunk(
            gen,
            k["rates"],
            params.theta,
            k["redraw_cdf"],
            k["spread_cdf"],
            k["size_lots"],
            queues,
            grid,
            clock,
            duration,
            n,
            with_books,
            out,
            books,
        )
        chunks.append(([a[:n] for a in out], [b[:n] for b in books]))
        if done:
            break
        out, books = _allocate(max(capacity // 4, 1024) + 4 * levels, levels, with_books)
        n = 0
    if len(chunks) == 1:
        return chunks[0]
    return [np.concatenate(parts) for parts in zip(*(c[0] for c in chunks), strict=True)], [
        np.concatenate(parts) for parts in zip(*(c[1] for c in chunks), strict=True)
    ]


def _allocate(capacity: int, levels: int, with_books: bool) -> tuple[tuple, tuple]:
    out = (np.empty(capacity), np.empty(capacity, np.int8), np.empty(capacity, np.int8))
    out += (np.empty(capacity, np.int64), np.empty(capacity, np.int64))
    rows = capacity if with_books else 1
    books = tuple(np.empty((rows, levels), np.int64) for _ in range(4))
    return out, books


def _stationary(birth: np.ndarray, death: np.ndarray, nonempty: bool) -> np.ndarray:
    # pi(n) ~ prod_{k=1..n} birth(k-1) / death(k), computed in logs (HLR 2015, section 2.2, model I)
    with np.errstate(divide="ignore"):
        log_ratio = np.log(birth[:-1]) - np.log(death[1:])
    log_pi = np.concatenate([[0.0], np.cumsum(log_ratio)])
    if nonempty:
        log_pi[0] = -np.inf
    pi = np.exp(log_pi - np.max(log_pi))
    return pi / pi.sum()


def _rate_table(value: Any, name: str) -> np.ndarray:
    table = np.asarray(value, dtype=np.float64)
    if table.ndim != 3 or table.shape[0] != 2 or table.shape[1] < 1 or table.shape[2] < 2:
        raise ParameterError(f"`{name}` of QRParams must have shape (2, K >= 1, n_max + 1 >= 2); got {table.shape}")
    bad = ~(np.isfinite(table) & (table >= 0))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ParameterError(f"`{name}` of QRParams must be finite and >= 0; got {float(table[where])} at {where}")
    return table


def _check_rate_rules(limit: np.ndarray, cancel: np.ndarray, market: np.ndarray) -> None:
    rules = (
        (limit[..., 0] > 0, "`limit_rates[s, i, 0]` of QRParams must be > 0 (an empty queue must refill)"),
        (limit[..., -1] == 0, "`limit_rates[s, i, n_max]` of QRParams must be 0 (no queue grows beyond n_max)"),
        (
            (cancel[..., 0] == 0) & (market[..., 0] == 0),
            "`cancel_rates` and `market_rates` of QRParams must be 0 at n = 0 (an empty queue cannot shrink)",
        ),
        (
            np.concatenate([np.ones_like(limit[..., :1], bool), (cancel + market)[..., 1:] > 0], axis=-1),
            "`cancel_rates + market_rates` of QRParams must be > 0 for n >= 1 (a queue must be able to shrink)",
        ),
    )
    for ok, rule in rules:
        if not np.all(ok):
            where = tuple(int(i) for i in np.argwhere(~ok)[0])
            raise ParameterError(f"{rule}; broken at index {where}")


def _freeze(params: QRParams, name: str, value: np.ndarray) -> None:
    value = np.array(value)
    value.flags.writeable = False
    object.__setattr__(params, name, value)
