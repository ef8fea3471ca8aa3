"""A small seeded synthetic market (trades and L2 books) for the demo when no real data is at hand.

This is a toy, labelled as one in its attributes: buy and sell market orders arrive as two independent Poisson
processes; each trade executes at the touch and, with probability ``impact_probability``, moves the touch one tick
in its direction. The L2 book (one-tick spread, depth growing away from the touch) is sampled on a fixed grid. The
later Hawkes and order-book engines replace it; its closed forms (counts, buy share, martingale mid) are tested.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import xarray as xr

from simlab.errors import ParameterError
from simlab.provenance import provenance
from simlab.random import spawn
from simlab.schema import EventKind, make_books, make_events


@dataclass(frozen=True)
class ToyMarketParams:
    """Parameters of the toy market (rates in events per second, sizes in lots, prices in ticks)."""

    buy_rate_hz: float = 2.5
    sell_rate_hz: float = 2.5
    mean_size_lots: float = 4.0
    impact_probability: float = 0.2
    start_bid_ticks: int = 100_000
    depth_lots: int = 20
    levels: int = 10
    book_interval_ms: int = 100
    tick_size: float = 0.01
    lot_size: float = 0.001

    def __post_init__(self) -> None:
        for name in ("buy_rate_hz", "sell_rate_hz", "mean_size_lots"):
            if not getattr(self, name) > 0:
                raise ParameterError(f"`{name}` of ToyMarketParams must be > 0; got {getattr(self, name)}")
        if not 0 <= self.impact_probability <= 1:
            raise ParameterError(f"`impact_probability` must be in [0, 1]; got {self.impact_probability}")
        if self.mean_size_lots < 1 or self.levels < 1 or self.book_interval_ms < 1:
            raise ParameterError("`mean_size_lots`, `levels` and `book_interval_ms` must be >= 1")


def toy_market(seed: int, duration_s: float = 600.0, params: ToyMarketParams | None = None) -> dict[str, xr.Dataset]:
    """Simulate the toy market for ``duration_s`` seconds from ``seed``; return ``{"events", "books"}``."""
    params = params or ToyMarketParams()
    if not duration_s > 0:
        raise ParameterError(f"`duration_s` of toy_market must be > 0; got {duration_s}")
    arrivals_rng, size_rng, impact_rng, depth_rng = spawn(seed, 4)
    rate = params.buy_rate_hz + params.sell_rate_hz
    n = arrivals_rng.poisson(rate * duration_s)
    ts_ns = np.sort(arrivals_rng.uniform(0.0, duration_s, n) * 1e9).astype(np.int64)
    side = np.where(arrivals_rng.random(n) < params.buy_rate_hz / rate, 1, -1).astype(np.int8)
    qty = size_rng.geometric(1.0 / params.mean_size_lots, n).astype(np.int64)
    moves = side * (impact_rng.random(n) < params.impact_probability)
    bid_after = params.start_bid_ticks + np.cumsum(moves)
    bid_before = bid_after - moves
    price = np.where(side > 0, bid_before + 1, bid_before)
    config = {"seed": seed, "duration_s": duration_s, **asdict(params)}
    attrs = {"toy_model": True, **provenance(seed=seed, config=config, true_params=asdict(params))}
    events = make_events(
        ts_ns=ts_ns,
        kind=EventKind.TRADE,
        side=side,
        price_ticks=price,
        qty_lots=qty,
        tick_size=params.tick_size,
        lot_size=params.lot_size,
        instrument="TOY",
        venue="simlab-toy",
        attrs=attrs,
        source="toy_market",
    )
    grid = np.arange(0, int(duration_s * 1e9), params.book_interval_ms * 1_000_000, dtype=np.int64)
    last = np.searchsorted(ts_ns, grid, side="right") - 1
    bid = np.where(last >= 0, bid_after[np.maximum(last, 0)], params.start_bid_ticks)
    offsets = np.arange(params.levels)
    shape = (grid.shape[0], params.levels)
    depth = params.depth_lots * (1 + offsets)
    books = make_books(
        ts_ns=grid,
        bid_price=bid[:, None] - offsets,
        ask_price=bid[:, None] + 1 + offsets,
        bid_qty=depth_rng.poisson(depth, shape) + 1,
        ask_qty=depth_rng.poisson(depth, shape) + 1,
        attrs=attrs,
        source="toy_market",
    )
    return {"events": events, "books": books}
