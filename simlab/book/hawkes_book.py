"""A Hawkes-driven order book: event times and types from a multivariate Hawkes process, prices and sizes from laws.

The model (in the spirit of Abergel and Jedidi 2015 and of Morariu-Patrichi and Pakkanen 2022, without the state
dependence):

* **event times and types** are one path of the 6-D Hawkes process of :class:`simlab.hawkes.HawkesParams` with
  dimensions ``ORDER_FLOW`` = (limit_bid, limit_ask, cancel_bid, cancel_ask, market_buy, market_sell), e.g. the
  preset ``lobster-aapl-order-flow`` fitted on the AAPL LOBSTER hour. The book does **not** feed back into the
  intensities: given the path, the book is an exact deterministic-plus-independent-draws function of it, and
  every path event is applied (the counts per type in the output equal the path's);
* a **limit order** of side s rests at ``distance`` ticks behind the same-side best quote (``bid - distance`` for
  a buy, ``ask + distance`` for a sell), ``distance`` drawn from the fitted placement law of that side; negative
  distances are inside the spread. A price at or through the opposite best quote (``distance <= -spread``)
  becomes one tick inside the opposite best, a new best quote (joining the best when the spread is one tick):
  the model has no marketable limit orders (LOBSTER shows those as executions, i.e. market orders). The attribute
  ``capped_limit_orders`` counts them. When the same side is empty its last best quote is the reference;
* **opposite-referenced placement** (``placement_reference = "opposite"``): the distance is counted from the
  opposite best instead (``ask - distance`` for a buy, ``bid + distance`` for a sell; its last value when that side
  is empty), drawn conditioned on not reaching it. In a wide-spread book (AAPL 2012: median 18 ticks) an order's
  price is set against the other side far more than against its own, whose best is often a fleeting order: placed
  from the same-side best, the improving orders fill the spread and it closes to one tick; placed from the opposite
  best the spread stays open (see below);
* **placement feedback** (``max_spread_ticks = S``, optional): the reference quote is no farther than ``S``
  ticks from the opposite best (a bid is placed ``distance`` behind ``max(bid, ask - S)``: in a book that has
  opened wider than ``S`` an order is placed as if the spread were ``S``), and ``distance`` is drawn from the
  placement law conditioned on the order not reaching the opposite best (no capping while the law has such a
  value). ``S`` is fitted as the real median spread;
* its **size** is drawn from the fitted size law of limit orders of that side (lots);
* a **cancellation** of side s removes one whole resting order of that side: a level at ``d`` ticks from the
  same-side best is chosen with probability proportional to ``cancel_hazard[s, d] x`` its lots, then a lot
  uniformly inside it (so an order with probability proportional to its size). ``cancel_hazard`` is the fitted
  per-lot cancellation rate profile (cancelled lots over resting lot-seconds at each distance); a flat profile
  makes the choice proportional to size. A cancel that finds its side empty is skipped (attribute
  ``skipped_cancels``). Partial cancels (1 % of AAPL's) are modelled as full ones;
* **depth feedback** (``reference_depth_lots = D``, optional): a cancel event of side s is applied with
  probability ``min(1, V / D[s])``, ``V`` the lots resting within ``depth_window_ticks`` of the same-side best,
  else skipped (``skipped_cancels``): a thin side loses fewer orders. ``D`` is fitted as the real time-averaged
  ``V`` (a window the data's levels always show);
* a **market order** of side s (buy lifts the asks) has a size drawn from the fitted law of that side (the lots
  of one aggressive order: the visible executions sharing a timestamp) and executes through the matching engine;
  what an empty side cannot fill is dropped (``unfilled_market_lots``).

Every order runs through the price-time priority engine of :mod:`simlab.book._engine`. The run starts from
``initial_book`` (one order per level) and a warm-up (default 60 s of the same process, not recorded) whose
resting orders open the events as ADD records at ``start_ns`` (attribute ``initial_orders``).

The event times and types are always the Hawkes path's (``hawkes_counts``); the feedback only decides where a
limit order rests and whether a cancel event removes an order. Without feedback the book is stationary only when
the path's flows balance: with the AAPL preset, cancels (11.3/s) plus the orders taken by market orders
outnumber the limit orders (12.0/s), so the book thins out, a side is empty 12 % of the time and the spread
wanders to ~10^5 ticks. On the AAPL hour (seed 20120621; real vs no feedback vs both feedbacks, ``S = 19``,
``D = (4892, 5611)`` lots within 100 ticks): mean spread 20.5 / 101350 / 4.1 ticks (median 19 / 105743 / 2),
mean L1 queue 158 / 74 / 128 lots, std of 1-s mid changes 4.9 / 57 / 3.5 ticks, one-sided books 0 % / 12 % / 0 %,
with 13 % of the cancel events skipped. The placement feedback alone keeps the spread (median 18) but not the
depth (one-sided 11 %, mid-change std 60); the depth feedback alone closes the spread to one tick. The shipped
preset ``hawkes-aapl`` places from the opposite best with the depth feedback: median spread 11 ticks (18 real),
1-s mid-return quantiles 5 % / 95 % at -7 / +6.5 ticks (-7 / +7.5 real), median L1 queue 46 lots (100 real).
See the preset's ``[comparison]`` and ``tests/calibration/test_hawkes_book.py``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from simlab.book import _engine, _hawkes_book, _sim
from simlab.book._sim_output import BookSimulation, check_recording, positive_float, run_attrs
from simlab.errors import ParameterError
from simlab.hawkes import HawkesParams, HawkesPath, simulate_hawkes
from simlab.random import RandomLike, as_generator
from simlab.schema import NO_PRICE

ORDER_FLOW = ("limit_bid", "limit_ask", "cancel_bid", "cancel_ask", "market_buy", "market_sell")
PLACEMENT_REFERENCES = ("same", "opposite")


@dataclass(frozen=True, eq=False)
class EmpiricalLaw:
    """A law on integers: ``values`` (sorted, distinct) with ``probabilities`` (> 0, normalised to sum 1).

    Parameters
    ----------
    values
        The support, int64 (ticks or lots).
    probabilities
        Their probabilities (any positive weights; normalised).
    """

    values: np.ndarray
    probabilities: np.ndarray

    def __post_init__(self) -> None:
        values, weights = np.asarray(self.values), np.asarray(self.probabilities, dtype=np.float64)
        if values.ndim != 1 or values.size == 0 or values.shape != weights.shape or values.dtype.kind not in "iu":
            raise ParameterError(
                f"`values` and `probabilities` of EmpiricalLaw must be non-empty 1-D arrays of the same length, "
                f"values integers; got {values.dtype} {values.shape} and {weights.shape}"
            )
        if np.any(np.diff(values) <= 0) or not np.all(np.isfinite(weights)) or np.any(weights <= 0):
            raise ParameterError("`values` of EmpiricalLaw must increase strictly and `probabilities` be finite > 0")
        values, weights = values.astype(np.int64), weights / weights.sum()
        for name, array in (("values", values), ("probabilities", weights)):
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    @classmethod
    def from_samples(cls, samples: np.ndarray) -> EmpiricalLaw:
        """Return the empirical law of integer ``samples``."""
        values, counts = np.unique(np.asarray(samples, dtype=np.int64), return_counts=True)
        return cls(values, counts.astype(np.float64))

    @property
    def mean(self) -> float:
        """The law's mean."""
        return float(np.dot(self.values, self.probabilities))

    def cdf(self) -> np.ndarray:
        """Cumulative probabilities, the last one exactly 1."""
        cdf = np.cumsum(self.probabilities)
        cdf[-1] = 1.0
        return cdf

    def to_dict(self) -> dict[str, list]:
        """Return the law as JSON-serialisable lists."""
        return {"values": self.values.tolist(), "probabilities": self.probabilities.tolist()}

    @classmethod
    def from_dict(cls, data: Any) -> EmpiricalLaw:
        """Build a law from :meth:`to_dict`'s mapping; other keys are an error."""
        if not isinstance(data, dict) or set(data) != {"values", "probabilities"}:
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ParameterError(f"EmpiricalLaw.from_dict needs exactly the keys values, probabilities; got {got}")
        return cls(np.asarray(data["values"]), np.asarray(data["probabilities"], dtype=np.float64))


@dataclass(frozen=True, eq=False)
class HawkesBookParams:
    """Parameters of the Hawkes-driven book (see the module docstring).

    Parameters
    ----------
    hawkes
        The 6-D order-flow Hawkes process; its ``names`` must be ``ORDER_FLOW`` in that order (times in seconds).
    placement
        (bid, ask) laws of the limit order distance in ticks from the reference quote of ``placement_reference``.
    limit_sizes
        (bid, ask) laws of the limit order sizes in lots (>= 1).
    market_sizes
        (buy, sell) laws of the market order sizes in lots (>= 1).
    cancel_hazard
        float ``(2, H)``: relative cancellation weight per resting lot at 0..H-1 ticks from the same-side best
        (row 0 bid, row 1 ask; the last column holds for farther levels); >= 0, each row with a positive value.
    initial_book
        int64 ``(4, L)``: bid prices, bid lots, ask prices, ask lots of the starting book (one order per level with
        lots > 0; empty levels ``NO_PRICE`` / 0); both sides quoted, not crossed.
    placement_reference
        ``"same"``: distances from the same-side best (negative: inside the spread); ``"opposite"``: from the
        opposite best (1: one tick behind it; a draw is conditioned on not crossing). See the module docstring.
    max_spread_ticks
        ``None`` (no placement feedback) or an int >= 1 (with ``placement_reference="same"`` only): a limit order's
        reference quote is no farther than this from the opposite best, and its distance is drawn conditioned on
        not crossing (see the module docstring).
    reference_depth_lots
        ``None`` (every cancel applied) or (bid, ask) lots > 0: a cancel is applied with probability min(1, lots
        resting within ``depth_window_ticks`` of the same-side best / this), else skipped.
    depth_window_ticks
        The window (ticks from the same-side best, >= 1) of ``reference_depth_lots``.
    tick_size, lot_size, instrument, venue
        Written to the output's attributes.
    """

    hawkes: HawkesParams
    placement: tuple[EmpiricalLaw, EmpiricalLaw]
    limit_sizes: tuple[EmpiricalLaw, EmpiricalLaw]
    market_sizes: tuple[EmpiricalLaw, EmpiricalLaw]
    cancel_hazard: np.ndarray
    initial_book: np.ndarray
    max_spread_ticks: int | None = None
    placement_reference: str = "same"
    reference_depth_lots: tuple[float, float] | None = None
    depth_window_ticks: int = 100
    tick_size: float = 0.01
    lot_size: float = 1.0
    instrument: str = "HAWKES"
    venue: str = "simlab"
    _tables: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.hawkes, HawkesParams) or tuple(self.hawkes.names) != ORDER_FLOW:
            got = getattr(self.hawkes, "names", type(self.hawkes).__name__)
            raise ParameterError(f"`hawkes` of HawkesBookParams must be a HawkesParams named {ORDER_FLOW}; got {got}")
        for name in ("placement", "limit_sizes", "market_sizes"):
            laws = tuple(getattr(self, name))
            if len(laws) != 2 or not all(isinstance(law, EmpiricalLaw) for law in laws):
                raise ParameterError(f"`{name}` of HawkesBookParams must be two EmpiricalLaw (per side); got {laws!r}")
            if name != "placement" and any(law.values[0] < 1 for law in laws):
                raise ParameterError(f"`{name}` of HawkesBookParams must be laws on lots >= 1")
            object.__setattr__(self, name, laws)
        hazard = np.array(self.cancel_hazard, dtype=np.float64, ndmin=2)
        if hazard.ndim != 2 or hazard.shape[0] != 2 or not np.all(np.isfinite(hazard) & (hazard >= 0)):
            raise ParameterError(
                f"`cancel_hazard` of HawkesBookParams must be finite >= 0 of shape (2, H); got {hazard.shape}"
            )
        if not np.all(hazard.max(axis=1) > 0):
            raise ParameterError("`cancel_hazard` of HawkesBookParams needs a positive value on each side")
        object.__setattr__(self, "cancel_hazard", _frozen(hazard))
        object.__setattr__(self, "initial_book", _frozen(_check_book(self.initial_book)))
        spread = self.max_spread_ticks
        if spread is not None and (isinstance(spread, bool) or not isinstance(spread, (int, np.integer)) or spread < 1):
            raise ParameterError(f"`max_spread_ticks` of HawkesBookParams must be None or an int >= 1; got {spread!r}")
        object.__setattr__(self, "max_spread_ticks", None if spread is None else int(spread))
        if self.placement_reference not in PLACEMENT_REFERENCES:
            raise ParameterError(
                f"`placement_reference` of HawkesBookParams must be one of {PLACEMENT_REFERENCES}; "
                f"got {self.placement_reference!r}"
            )
        if self.placement_reference == "opposite" and spread is not None:
            raise ParameterError(
                "`max_spread_ticks` of HawkesBookParams applies to placement_reference='same' only; "
                f"got {spread!r} with 'opposite'"
            )
        window = self.depth_window_ticks
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
            raise ParameterError(f"`depth_window_ticks` of HawkesBookParams must be an int >= 1; got {window!r}")
        object.__setattr__(self, "depth_window_ticks", int(window))
        depth = self.reference_depth_lots
        if depth is not None:
            array = np.asarray(depth, dtype=np.float64) if not isinstance(depth, (str, bytes)) else np.zeros(0)
            if array.shape != (2,) or not np.all(np.isfinite(array) & (array > 0)):
                raise ParameterError(
                    f"`reference_depth_lots` of HawkesBookParams must be None or two finite numbers > 0; got {depth!r}"
                )
            object.__setattr__(self, "reference_depth_lots", (float(array[0]), float(array[1])))
        for name in ("tick_size", "lot_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ParameterError(f"`{name}` of HawkesBookParams must be a finite number > 0; got {value!r}")
        object.__setattr__(self, "_tables", _law_tables(self))

    @property
    def band_ticks(self) -> int:
        """The widest placement distance (ticks): the engine's grid margin."""
        return int(max(abs(v) for law in self.placement for v in (law.values[0], law.values[-1])))

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as a JSON-serialisable dict."""
        return {
            "hawkes": self.hawkes.to_dict(),
            "placement": [law.to_dict() for law in self.placement],
            "limit_sizes": [law.to_dict() for law in self.limit_sizes],
            "market_sizes": [law.to_dict() for law in self.market_sizes],
            "cancel_hazard": self.cancel_hazard.tolist(),
            "initial_book": self.initial_book.tolist(),
            **({} if self.max_spread_ticks is None else {"max_spread_ticks": self.max_spread_ticks}),
            "placement_reference": self.placement_reference,
            **({} if self.reference_depth_lots is None else {"reference_depth_lots": list(self.reference_depth_lots)}),
            "depth_window_ticks": self.depth_window_ticks,
            "tick_size": self.tick_size,
            "lot_size": self.lot_size,
            "instrument": self.instrument,
            "venue": self.venue,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HawkesBookParams:
        """Build parameters from :meth:`to_dict`'s mapping; unknown or missing keys are an error."""
        unknown, missing = sorted(set(data) - set(_KEYS)), sorted(set(_KEYS[:6]) - set(data))
        if unknown or missing:
            raise ParameterError(f"HawkesBookParams.from_dict: unknown keys {unknown}, missing keys {missing}")
        try:
            hawkes = HawkesParams.from_dict(data["hawkes"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ParameterError(
                f"HawkesBookParams.from_dict: `hawkes` is not a HawkesParams mapping: {exc!r}"
            ) from exc
        laws = {}
        for name in ("placement", "limit_sizes", "market_sizes"):
            if not isinstance(data[name], (list, tuple)):
                raise ParameterError(f"HawkesBookParams.from_dict: `{name}` must be a list of two laws")
            laws[name] = tuple(EmpiricalLaw.from_dict(law) for law in data[name])
        return cls(
            hawkes=hawkes,
            **laws,
            cancel_hazard=np.asarray(data["cancel_hazard"], dtype=np.float64),
            initial_book=np.asarray(data["initial_book"]),
            **{key: data[key] for key in _KEYS[6:] if key in data},
        )


_KEYS = (
    "hawkes", "placement", "limit_sizes", "market_sizes", "cancel_hazard", "initial_book",
    "max_spread_ticks", "placement_reference", "reference_depth_lots", "depth_window_ticks", "tick_size", "lot_size",
    "instrument", "venue",
)  # fmt: skip


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array)
    array.setflags(write=False)
    return array


def _check_book(book: Any) -> np.ndarray:
    book = np.array(book, dtype=np.int64, ndmin=2)
    if book.ndim != 2 or book.shape[0] != 4:
        raise ParameterError(f"`initial_book` of HawkesBookParams must have shape (4, levels); got {book.shape}")
    bid_p, bid_q, ask_p, ask_q = book
    if np.any(bid_q < 0) or np.any(ask_q < 0) or not (bid_q > 0).any() or not (ask_q > 0).any():
        raise ParameterError("`initial_book` of HawkesBookParams needs lots >= 0 and at least one level per side")
    if np.any((bid_q > 0) & (bid_p == NO_PRICE)) or np.any((ask_q > 0) & (ask_p == NO_PRICE)):
        raise ParameterError("`initial_book` of HawkesBookParams has lots at a level without a price")
    best_bid, best_ask = bid_p[bid_q > 0].max(), ask_p[ask_q > 0].min()
    if best_bid >= best_ask:
        raise ParameterError(f"`initial_book` of HawkesBookParams is crossed: bid {best_bid} >= ask {best_ask}")
    return book


def _law_tables(params: HawkesBookParams) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's (cdf, values) rows in the order of ``_hawkes_book.PLACE_BID..SIZE_MARKET_SELL``."""
    laws = (*params.placement, *params.limit_sizes, *params.market_sizes)
    width = max(law.values.size for law in laws)
    cdf, values = np.ones((len(laws), width)), np.zeros((len(laws), width), np.int64)
    for row, law in enumerate(laws):
        n = law.values.size
        cdf[row, :n], values[row, :n], values[row, n:] = law.cdf(), law.values, law.values[-1]
    return cdf, values


def simulate_hawkes_book(
    params: HawkesBookParams,
    duration_s: float,
    *,
    rng: RandomLike,
    depth: int = 10,
    sample_ns: int | None = None,
    warmup_s: float = 60.0,
    start_ns: int = 0,
    path: HawkesPath | None = None,
) -> dict[str, xr.Dataset]:
    """Simulate the Hawkes-driven book for ``duration_s`` seconds on the matching engine.

    Parameters
    ----------
    params
        The model's parameters.
    duration_s
        Length of the recorded simulation in seconds (> 0).
    rng
        Seed: an int, a SeedSequence or a Generator. The Hawkes path is ``simulate_hawkes(params.hawkes,
        warmup_s + duration_s, rng=gen)`` with ``gen = as_generator(rng)``; the book's draws follow on ``gen``.
    depth
        Levels per side in the L2 snapshots (>= 1).
    sample_ns
        ``None``: the book after every event record (row *i* follows event *i*; the trades of one market order all
        get the book after the whole order). An int > 0: the book at every multiple of ``sample_ns`` ns from
        ``start_ns``.
    warmup_s
        Seconds of the process (from ``initial_book``) before the recording starts (>= 0); the orders resting then
        open the events as ADD records at ``start_ns`` (attribute ``initial_orders``).
    start_ns
        Time of the recording's start, ns since the epoch.
    path
        A Hawkes path of ``warmup_s + duration_s`` seconds (the dimensions of :data:`ORDER_FLOW`) to apply instead
        of simulating one, e.g. one whose baselines are shocked in a window; the book's draws are then all on
        ``gen``. None: ``simulate_hawkes(params.hawkes, ...)``.

    Returns
    -------
    dict
        ``"events"``: ADD, DELETE and TRADE (one per fill; ``side`` the aggressor's, ``order_id`` the resting
        order's) records; attributes: provenance with the true parameters, ``initial_orders``, ``hawkes_counts``
        (path events per dimension in the recorded span, all applied), ``skipped_cancels``,
        ``capped_limit_orders``, ``unfilled_market_lots``, ``events_per_second`` (book kernel speed).
        ``"books"``: L2 snapshots.
    """
    duration_s, depth, sample_ns, warmup_s = _check_run(params, duration_s, depth, sample_ns, warmup_s, start_ns)
    gen = as_generator(rng)
    if path is None:
        (path,) = simulate_hawkes(params.hawkes, warmup_s + duration_s, rng=gen)
    elif not (path.dims.size == 0 or (path.dims.min() >= 0 and path.dims.max() < 6)) or (
        path.times_s.size and path.times_s[-1] >= warmup_s + duration_s
    ):
        raise ParameterError(f"`path` of simulate_hawkes_book must hold events of dimensions 0-5 before "
                             f"warmup_s + duration_s = {warmup_s + duration_s} s")  # fmt: skip
    sim = _Simulation(params, path.times_s.size, depth, sample_ns, duration_s, int(start_ns))
    cut = int(np.searchsorted(path.times_s, warmup_s))
    sim.run(gen, path, 0, cut, warmup_s, record=False)
    initial_orders = sim.open_book()
    elapsed = sim.run(gen, path, cut, path.times_s.size, warmup_s, record=True)
    attrs = run_attrs(
        sim, rng, "hawkes_book", initial_orders,
        duration_s=duration_s, depth=depth, sample_ns=sample_ns, warmup_s=warmup_s, start_ns=start_ns,
    )  # fmt: skip
    ctr, n_events = sim.ctr, path.times_s.size - cut
    attrs.update(
        hawkes_dimensions=list(ORDER_FLOW),
        hawkes_counts=[int(c) for c in ctr[_hawkes_book.C_DONE : _hawkes_book.C_DONE + 6]],
        skipped_cancels=int(ctr[_hawkes_book.C_SKIPPED]),
        capped_limit_orders=int(ctr[_hawkes_book.C_CAPPED]),
        unfilled_market_lots=int(ctr[_sim.C_UNFILLED]),
        events_per_second=float(n_events / elapsed) if elapsed > 0 else float("nan"),
    )
    return sim.datasets(attrs)


class _Simulation(BookSimulation):
    """The engine state, the kernel's work arrays and counters of one simulation."""

    reset_counters = (_sim.C_UNFILLED, *range(_hawkes_book.C_DONE, _hawkes_book.CTR_SIZE))

    def __init__(
        self, params: HawkesBookParams, n_path: int, depth: int, sample_ns: int, duration_s: float, start_ns: int
    ):
        book = params.initial_book
        levels = int((book[1] > 0).sum() + (book[3] > 0).sum())
        n_records = int(1.3 * n_path) + 4 * levels + 1024
        n_books = n_records if sample_ns == 0 else int(duration_s * 1e9 // sample_ns) + 1
        half = 4 * params.band_ticks + 256
        mid = int(book[0][book[1] > 0].max() + book[2][book[3] > 0].min()) // 2
        super().__init__(
            params, _engine.new_engine(mid - half, 2 * half, 4 * levels + 1024), fills=1024, n_records=n_records,
            n_books=n_books, depth=depth, ctr_size=_hawkes_book.CTR_SIZE, sample_ns=sample_ns, start_ns=start_ns,
            source="simulate_hawkes_book",
        )  # fmt: skip
        self.duration_s = duration_s
        depth_ref = params.reference_depth_lots
        self._depth_ref = np.zeros(2) if depth_ref is None else np.asarray(depth_ref, dtype=np.float64)
        for side, prices, qtys in ((1, book[0], book[1]), (-1, book[2], book[3])):
            self.state = _hawkes_book.place_initial(self.state, self.ctr, prices, qtys, side, params.band_ticks)
        self.ctr[_sim.C_LAST_BID], self.ctr[_sim.C_LAST_ASK] = (
            _engine.best_bid(self.state),
            _engine.best_ask(self.state),
        )

    def run(
        self, gen: np.random.Generator, path: Any, first: int, last: int, offset_s: float, *, record: bool
    ) -> float:
        """Apply path events ``first..last-1``; return the seconds it took."""
        cdf, values = self.params._tables
        sample_ns = self.sample_ns if record else 0
        began = time.perf_counter()
        result = _hawkes_book.run(
            self.state, self.out, gen, path.times_s, path.dims.astype(np.int64), first, last, offset_s, cdf, values,
            self.params.cancel_hazard, self._depth_ref, self.params.depth_window_ticks,
            self.params.max_spread_ticks or 0, self.params.placement_reference == "opposite", self.params.band_ticks,
            self.start_ns,
            sample_ns, record, self.ev, self.books, self.book_ts, self.ctr,
        )  # fmt: skip
        elapsed = time.perf_counter() - began
        self.state, self.out, self.ev, self.books, self.book_ts = result
        if record and sample_ns > 0:  # the samples after the last event, up to the end of the recording
            end_ns = np.int64(self.start_ns + round(self.duration_s * 1e9))
            _sim.samples(self.state, self.books, self.book_ts, self.ctr, self.start_ns, sample_ns, end_ns)
        return elapsed

    def emit_resting(self, per_event: bool) -> None:
        """Record the resting orders as ADDs at ``start_ns`` in arrival order."""
        self.ev, self.books, self.book_ts = _hawkes_book.emit_resting(
            self.state, self.ev, self.books, self.book_ts, self.ctr, np.int64(self.start_ns), per_event
        )


def _check_run(
    params: HawkesBookParams, duration_s: float, depth: int, sample_ns: int | None, warmup_s: float, start_ns: int
) -> tuple[float, int, int, float]:
    if not isinstance(params, HawkesBookParams):
        raise ParameterError(
            f"`params` of simulate_hawkes_book must be a HawkesBookParams; got {type(params).__name__}"
        )
    duration_s = positive_float(duration_s, "duration_s", "simulate_hawkes_book")
    good = not isinstance(warmup_s, bool) and isinstance(warmup_s, (int, float)) and math.isfinite(warmup_s)
    if not good or warmup_s < 0:
        raise ParameterError(f"`warmup_s` of simulate_hawkes_book must be a finite number >= 0; got {warmup_s!r}")
    depth, sample_ns = check_recording(depth, sample_ns, start_ns, "simulate_hawkes_book")
    return duration_s, depth, sample_ns, float(warmup_s)
