"""The Santa Fe zero-intelligence order book (Smith, Farmer, Gillemot and Krishnamurthy, 2003).

Order flow is a set of independent Poisson processes (Smith et al. 2003, section I.C; Farmer, Patelli and Zovko
2005, PNAS 102, 2254), all rates **per side** and counted in **orders**:

* **limit orders** arrive at rate ``limit_rate`` (alpha, orders per tick per second) at each price of a band of
  ``band_ticks`` (L) ticks next to the opposite best quote: a buy at ``ask - k`` and a sell at ``bid + k`` with
  ``k`` uniform on ``1..L``, so a limit order never crosses and may fall inside the spread. The paper places them
  uniformly on a half-infinite line; the band truncates it and is harmless once ``L`` is several characteristic
  prices (the depth beyond a few ``p_c`` never trades). When a side is empty, its last best quote is used;
* **market orders** arrive at rate ``market_rate`` (mu, orders per second) and execute against the opposite side;
  what the book cannot fill is dropped (counted in the attribute ``unfilled_market_lots``);
* every resting order is **cancelled** whole at rate ``cancel_rate`` (delta, per second);
* every order has ``order_size`` (sigma) lots, or, with ``size_law="geometric"``, a size drawn from the geometric
  law on 1, 2, ... with mean sigma (limit and market orders alike).

The paper's rates are in shares (alpha shares per price per time, mu shares per time); ours are theirs divided by
sigma, which leaves its characteristic scales unchanged: price ``p_c = mu / alpha`` (ticks), size
``N_c = mu sigma / delta`` (lots), time ``t_c = 1 / delta`` (s), and the two dimensionless numbers, the
granularity ``epsilon = sigma / N_c = delta / mu`` and the relative tick ``dp / p_c = alpha / mu``. Books that
share both are the same book in rescaled units (spread / p_c, price variance / p_c**2 per t_c): the model's
scaling laws, checked in the tests. The paper's mean spread grows with epsilon.

The simulation is exact and event driven (Gillespie): the next event comes after an exponential time of total
rate ``2 L alpha + 2 mu + delta n`` with ``n`` resting orders, and its type in proportion to the rates; a cancel
picks a resting order uniformly (an array of live order ids gives O(1) choice and removal). Every order runs
through the matching engine of :mod:`simlab.book._engine` (the one that replays LOBSTER and serves the agents).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import xarray as xr

from simlab.book import _engine, _sim, _zi
from simlab.book._sim_output import BookSimulation, check_recording, positive_float, run_attrs, whole
from simlab.errors import ParameterError
from simlab.random import RandomLike, as_generator

SIZE_LAWS = ("fixed", "geometric")


@dataclass(frozen=True)
class ZIParams:
    """Parameters of the zero-intelligence book (rates per side, in orders; see the module docstring).

    Parameters
    ----------
    limit_rate
        alpha: limit orders per tick of the band per second, per side (> 0).
    market_rate
        mu: market orders per second, per side (> 0).
    cancel_rate
        delta: cancellation rate of each resting order, per second (> 0).
    order_size
        sigma: order size in lots (the mean of the size law); a whole number >= 1 for ``size_law="fixed"``.
    band_ticks
        L: limit orders are placed 1..L ticks from the opposite best quote (>= 1).
    size_law
        ``"fixed"`` (every order has sigma lots) or ``"geometric"`` (geometric on 1, 2, ... with mean sigma).
    start_price_ticks
        The initial best bid; the initial best ask is one tick above (used until each side first fills).
    tick_size, lot_size
        Tick in price units and lot in quantity units, written to the output's attributes.
    instrument, venue
        Labels written to the output's attributes.
    """

    limit_rate: float
    market_rate: float
    cancel_rate: float
    order_size: float = 1.0
    band_ticks: int = 100
    size_law: str = "fixed"
    start_price_ticks: int = 100_000
    tick_size: float = 0.01
    lot_size: float = 1.0
    instrument: str = "ZI"
    venue: str = "simlab"

    def __post_init__(self) -> None:
        for name in ("limit_rate", "market_rate", "cancel_rate", "order_size", "tick_size", "lot_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ParameterError(f"`{name}` of ZIParams must be a finite number > 0; got {value!r}")
            object.__setattr__(self, name, float(value))
        for name, low in (("band_ticks", 1), ("start_price_ticks", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ParameterError(f"`{name}` of ZIParams must be an int >= {low}; got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.size_law not in SIZE_LAWS:
            raise ParameterError(f"`size_law` of ZIParams must be one of {SIZE_LAWS}; got {self.size_law!r}")
        if self.order_size < 1 or (self.size_law == "fixed" and self.order_size != round(self.order_size)):
            rule = "a whole number >= 1" if self.size_law == "fixed" else ">= 1"
            raise ParameterError(
                f"`order_size` of ZIParams with size_law={self.size_law!r} must be {rule}; got {self.order_size!r}"
            )

    @property
    def characteristic_price_ticks(self) -> float:
        """p_c = mu / alpha, in ticks."""
        return self.market_rate / self.limit_rate

    @property
    def characteristic_size_lots(self) -> float:
        """N_c = mu sigma / delta, in lots."""
        return self.market_rate * self.order_size / self.cancel_rate

    @property
    def characteristic_time_s(self) -> float:
        """t_c = 1 / delta, in seconds."""
        return 1.0 / self.cancel_rate

    @property
    def granularity(self) -> float:
        """epsilon = sigma / N_c = delta / mu (dimensionless)."""
        return self.cancel_rate / self.market_rate

    @property
    def relative_tick(self) -> float:
        """dp / p_c = alpha / mu: the tick in characteristic prices (dimensionless)."""
        return self.limit_rate / self.market_rate

    def expected_resting_orders(self) -> float:
        """Resting orders when the whole band is at its far-field depth alpha / delta per tick (both sides)."""
        return 2.0 * self.band_ticks * self.limit_rate / self.cancel_rate

    def expected_event_rate(self) -> float:
        """Approximate events per second in the steady state: limit + market + cancels (both sides)."""
        arrivals = 2.0 * (self.band_ticks * self.limit_rate + self.market_rate)
        return arrivals + self.cancel_rate * self.expected_resting_orders()

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as a JSON-serialisable dict."""
        return asdict(self)


def simulate_zi(
    params: ZIParams,
    duration_s: float,
    *,
    rng: RandomLike,
    depth: int = 10,
    sample_ns: int | None = None,
    capacity: int | None = None,
    warmup_s: float | None = None,
    start_ns: int = 0,
) -> dict[str, xr.Dataset]:
    """Simulate the zero-intelligence book for ``duration_s`` seconds on the matching engine.

    Parameters
    ----------
    params
        The model's parameters.
    duration_s
        Length of the recorded simulation in seconds (> 0).
    rng
        Seed: an int, a SeedSequence or a Generator.
    depth
        Levels per side in the L2 snapshots (>= 1).
    sample_ns
        ``None``: the book after every event record (row *i* follows event *i*, as in a LOBSTER orderbook file;
        the trades of one market order that fills several resting orders all get the book after the whole
        order). An int > 0: the book at every multiple of ``sample_ns`` ns from ``start_ns``, ``start_ns``
        included.
    capacity
        Initial size of the engine's order pool (default: 1.5 times the expected resting orders); the pool, the
        price grid and the output buffers grow when full, never overwrite.
    warmup_s
        Simulated seconds before the recording starts, so that the book is near its steady state (default
        ``10 t_c = 10 / cancel_rate``, at most 3600). The orders resting after the warm-up open the events as
        ADD records at ``start_ns`` in arrival order (their number is the attribute ``initial_orders``).
    start_ns
        Time of the recording's start, ns since the epoch.

    Returns
    -------
    dict
        ``"events"``: ADD (limit orders), DELETE (cancellations) and TRADE (one per fill: ``side`` the market
        order's, ``order_id`` the resting order's, ``price_ticks`` its price) records; attributes carry the
        provenance with the true parameters, ``initial_orders``, ``unfilled_market_lots`` (market quantity that
        found an empty side) and the counts of limit, market and cancel events. ``"books"``: L2 snapshots.
    """
    duration_s, depth, sample_ns, warmup_s = _check_run(params, duration_s, depth, sample_ns, warmup_s, start_ns)
    capacity = whole(capacity, "capacity", 1, "simulate_zi") if capacity is not None else None
    gen = as_generator(rng)
    sim = _Simulation(params, duration_s, depth, sample_ns, capacity, start_ns)
    sim.run(gen, -warmup_s, 0.0, record=False)
    initial_orders = sim.open_book()
    sim.run(gen, 0.0, duration_s, record=True)
    attrs = run_attrs(
        sim, rng, "zero_intelligence", initial_orders,
        duration_s=duration_s, depth=depth, sample_ns=sample_ns, warmup_s=warmup_s, start_ns=start_ns,
    )  # fmt: skip
    ctr = sim.ctr
    attrs.update(
        unfilled_market_lots=int(ctr[_sim.C_UNFILLED]),
        limit_orders=int(ctr[_zi.C_LIMITS]),
        market_orders=int(ctr[_zi.C_MARKETS]),
        cancellations=int(ctr[_zi.C_CANCELS]),
    )
    return sim.datasets(attrs)


class _Simulation(BookSimulation):
    """The engine state, the kernel's work arrays and counters of one simulation."""

    reset_counters = (_sim.C_UNFILLED, _zi.C_LIMITS, _zi.C_MARKETS, _zi.C_CANCELS)

    def __init__(self, params: ZIParams, duration_s: float, depth: int, sample_ns: int, capacity, start_ns: int):
        expected = params.expected_resting_orders()
        capacity = capacity or int(1.5 * expected) + 64
        n_records = int(1.2 * params.expected_event_rate() * duration_s + 1.5 * expected) + 1024
        n_books = n_records if sample_ns == 0 else int(duration_s * 1e9 // sample_ns) + 1
        half = 4 * params.band_ticks + 256
        state = _engine.new_engine(params.start_price_ticks - half, 2 * half, capacity)
        super().__init__(
            params, state, fills=max(capacity, 64), n_records=n_records, n_books=n_books, depth=depth,
            ctr_size=_zi.CTR_SIZE, sample_ns=sample_ns, start_ns=start_ns, source="simulate_zi",
        )  # fmt: skip
        self.live = np.zeros(capacity + 2, np.int64)
        self.pos = np.zeros(n_records + 2, np.int64)
        self.ctr[_sim.C_LAST_BID], self.ctr[_sim.C_LAST_ASK] = params.start_price_ticks, params.start_price_ticks + 1
        self.rates = np.array([params.limit_rate, params.market_rate, params.cancel_rate, params.order_size])

    def run(self, gen: np.random.Generator, t_start: float, t_end: float, *, record: bool) -> None:
        """Simulate from ``t_start`` to ``t_end`` seconds (relative to ``start_ns``)."""
        geometric = self.params.size_law == "geometric"
        sample_ns = self.sample_ns if record else 0
        result = _zi.run(
            self.state, self.out, gen, self.rates, self.params.band_ticks, geometric, t_start, t_end,
            self.start_ns, sample_ns, record, self.ev, self.books, self.book_ts, self.live, self.pos, self.ctr,
        )  # fmt: skip
        self.state, self.out, self.ev, self.books, self.book_ts, self.live, self.pos = result

    def emit_resting(self, per_event: bool) -> None:
        """Record the resting orders as ADDs at ``start_ns`` in arrival order."""
        self.ev, self.books, self.book_ts = _zi.emit_resting(
            self.state, self.ev, self.books, self.book_ts, self.live, self.ctr, np.int64(self.start_ns), per_event
        )


def _check_run(
    params: ZIParams, duration_s: float, depth: int, sample_ns: int | None, warmup_s: float | None, start_ns: int
) -> tuple[float, int, int, float]:
    if not isinstance(params, ZIParams):
        raise ParameterError(f"`params` of simulate_zi must be a ZIParams; got {type(params).__name__}")
    duration_s = positive_float(duration_s, "duration_s", "simulate_zi")
    depth, sample_ns = check_recording(depth, sample_ns, start_ns, "simulate_zi")
    if warmup_s is None:
        warmup_s = min(10.0 * params.characteristic_time_s, 3600.0)
    elif not (isinstance(warmup_s, (int, float)) and math.isfinite(warmup_s) and warmup_s >= 0):
        raise ParameterError(f"`warmup_s` of simulate_zi must be a finite number >= 0; got {warmup_s!r}")
    return duration_s, depth, sample_ns, float(warmup_s)
