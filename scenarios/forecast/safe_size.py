"""Safe order size: the largest market order whose impact stays under a bound, from the agent-based market.

The book walk (:func:`scenarios.forecast.tasks.walk_book`) prices an order against the book at its arrival and
nobody reacts. In the agent-based market (:func:`simlab.agents.simulate_abm`) the other agents do. The impact of a
market order of ``q`` lots arriving ``at_s`` seconds after the open is measured by paired runs: market ``k`` of a
root seed without the order (the baseline) and with it (one :class:`~simlab.agents.LeveragedTraders` at leverage 1,
never liquidated, whose opening market order is the order), for the same session length (value agents forecast to
its close, so it must not change). Both runs share every draw up to the order (common random numbers); after it the
agents' streams follow the market state, so the two runs may drift apart: the expected impact is an average over
markets, with its standard error.

* **Impact** at horizon ``h``: ``side (mid_with(t_a + h) - mid_without(t_a + h))`` in ticks, ``t_a`` the order's
  arrival (its first fill), each mid the last two-sided mid at or before that time.
* **Book-walk impact**: the immediate mid move of walking ``q`` lots through the book the order met: the new touch
  is the first level the order does not empty; NaN (unbounded) when the recorded levels cannot hold it.
* **Safe size**: on a size grid, the largest size before the first one whose impact exceeds ``bound_ticks``
  (0 when the smallest already does). :func:`impact_curve` gives the expected curves at one origin and
  :func:`safe_size_summary` the two safe sizes with a bootstrap interval over markets.

The forecast task (:mod:`scenarios.forecast.safe_size_task`) forecasts the realised safe size of an order arriving
``T`` seconds after an origin from the baseline's book at the origin.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import xarray as xr

from simlab.agents import LeveragedTraders, MarketConfig, simulate_abm
from simlab.errors import ParameterError
from simlab.random import RandomLike, as_generator
from simlab.schema import NO_PRICE, EventKind

GRID = (10, 20, 50, 100, 200, 500, 1000, 2000)


@dataclass(frozen=True)
class ImpactSetup:
    """The market and how an order's impact is measured: every run lasts ``duration_s`` seconds, books record
    ``depth`` levels, the impact is read ``horizons_s`` seconds after the order's arrival (0: at once), orders buy
    (``side`` +1) or sell (-1)."""

    config: MarketConfig
    duration_s: float
    horizons_s: tuple[float, ...] = (0.0, 1.0, 10.0, 60.0)
    side: int = 1
    depth: int = 50

    @property
    def horizon_s(self) -> float:
        """The longest horizon (s)."""
        return max(self.horizons_s)

    def __post_init__(self) -> None:
        if self.config.leveraged.count:
            raise ParameterError(
                f"the impact runs add one leveraged trader as the order; market {self.config.name!r} already has "
                f"{self.config.leveraged.count}"
            )
        if self.side not in (1, -1) or min(self.horizons_s) < 0 or not self.duration_s > self.horizon_s:
            raise ParameterError(f"ImpactSetup needs side +-1 and horizons in [0, duration_s); got {self.side}, "
                                 f"{self.horizons_s}, {self.duration_s}")  # fmt: skip

    def run(self, seed: int, market: int, size: int = 0, at_s: float = 0.0) -> dict[str, xr.Dataset]:
        """Simulate market ``market`` of ``seed``: the baseline (``size`` 0) or with an order of ``size`` lots
        sent ``at_s`` seconds after the open."""
        config = self.config
        if size:
            if not 0 < at_s < self.duration_s - self.horizon_s:
                raise ParameterError(f"an order at {at_s} s needs 0 < at_s < duration_s - horizon_s "
                                     f"({self.duration_s - self.horizon_s} s)")  # fmt: skip
            order = LeveragedTraders(count=1, side=self.side, position_lots=int(size), leverage=1.0, start_s=at_s)
            config = replace(config, leveraged=order)
        return simulate_abm(config, seed=seed, market=market, duration_s=self.duration_s, depth=self.depth,
                            path_sample_ns=int(self.duration_s * 1e9))  # fmt: skip


def two_sided_mid(books: xr.Dataset, t_ns: int) -> float:
    """Return the last mid (ticks) with both sides quoted at or before ``t_ns``; NaN when there is none."""
    ts = books["ts_ns"].values
    bid, ask = books["bid_price"].values[:, 0], books["ask_price"].values[:, 0]
    quoted = np.flatnonzero((bid != NO_PRICE) & (ask != NO_PRICE) & (ts <= t_ns))
    return float("nan") if quoted.size == 0 else 0.5 * float(bid[quoted[-1]] + ask[quoted[-1]])


def walk_impact(prices: np.ndarray, sizes: np.ndarray, size: int, side: int = 1) -> float:
    """Return the immediate mid move (ticks, signed by ``side``) of walking ``size`` lots through one side of a
    book (best first; NO_PRICE levels empty): half the distance from the touch to the first level the order does
    not empty; NaN when the levels cannot hold more than ``size`` lots."""
    held = np.where(prices != NO_PRICE, sizes, 0)
    cumulative = np.cumsum(held)
    left = np.flatnonzero(cumulative > size)
    if left.size == 0 or held[0] == 0:
        return float("nan")
    return 0.5 * float((prices[left[0]] - prices[0]) * side)


def order_impact(setup: ImpactSetup, baseline: dict[str, xr.Dataset], seed: int, market: int, size: int,
                 at_s: float) -> dict[str, float]:  # fmt: skip
    """Return the paired impact of one order (module docstring) against ``baseline`` (the same market without it):
    ``impact_ticks`` at each horizon (an array), ``walk_impact_ticks``, ``slippage_ticks`` (its fills' mean price
    against the touch it met, ticks per lot), ``walk_slippage_ticks`` (the same from walking that book),
    ``filled_lots`` and ``arrival_ns``."""
    run = setup.run(seed, market, size, at_s)
    events, books = run["events"], run["books"]
    trader = int(run["liquidations"]["agent_id"].values[0])
    mine = np.flatnonzero((events["kind"].values == EventKind.TRADE) & (events["agent_id"].values == trader))
    if mine.size == 0:  # no liquidity on the order's side when it arrived: no fill, an unbounded impact
        nan = float("nan")
        return {"impact_ticks": np.full(len(setup.horizons_s), nan), "walk_impact_ticks": nan, "slippage_ticks": nan,
                "walk_slippage_ticks": nan, "filled_lots": 0.0, "arrival_ns": nan}  # fmt: skip
    first = int(mine[0])
    arrival = int(events["ts_ns"].values[first])
    side, bid_side = setup.side, setup.side < 0
    before = {k: books[k].values[first - 1] for k in ("bid_price", "bid_qty", "ask_price", "ask_qty")}
    prices, sizes = (before["bid_price"], before["bid_qty"]) if bid_side else (before["ask_price"], before["ask_qty"])
    qty, price = events["qty_lots"].values[mine], events["price_ticks"].values[mine]
    filled = int(qty.sum())
    held = np.where(prices != NO_PRICE, sizes, 0)
    take = np.clip(filled - np.r_[0, np.cumsum(held)[:-1]], 0, held)
    ends = [arrival + int(round(h * 1e9)) for h in setup.horizons_s]
    impact = [side * (two_sided_mid(books, end) - two_sided_mid(baseline["books"], end)) for end in ends]
    return {
        "impact_ticks": np.array(impact),
        "walk_impact_ticks": walk_impact(prices, sizes, size, side),
        "slippage_ticks": side * float((price - prices[0]) @ qty) / filled,
        "walk_slippage_ticks": side * float(np.where(take > 0, prices - prices[0], 0) @ take) / max(filled, 1),
        "filled_lots": float(filled),
        "arrival_ns": float(arrival),
    }


def safe_index(impacts: np.ndarray, bound_ticks: float) -> int:
    """Return how many grid sizes come before the first impact above ``bound_ticks`` (NaN counts as above)."""
    over = ~(np.asarray(impacts, float) <= bound_ticks)
    return int(np.argmax(over)) if over.any() else int(over.size)


def impact_curve(setup: ImpactSetup, at_s: float, *, seed: int, markets: int, grid: tuple[int, ...] = GRID,
                 ) -> xr.Dataset:  # fmt: skip
    """Return every size's paired impact (module docstring) for an order at ``at_s`` in markets 0 .. ``markets``
    - 1 of ``seed``: the fields of :func:`order_impact` over ``(market, size)``, ``impact_ticks`` over
    ``(market, size, horizon)``."""
    if markets < 2 or list(grid) != sorted(set(grid)) or grid[0] < 1:
        raise ParameterError(f"impact_curve needs >= 2 markets and an increasing grid of sizes >= 1; got {markets}, "
                             f"{grid}")  # fmt: skip
    rows = []
    for k in range(markets):
        baseline = setup.run(seed, k)
        rows.append([order_impact(setup, baseline, seed, k, q, at_s) for q in grid])
    data = {f: (("market", "size"), np.array([[r[f] for r in row] for row in rows])) for f in rows[0][0]}
    data["impact_ticks"] = (("market", "size", "horizon"), data["impact_ticks"][1])
    attrs = {"seed": seed, "at_s": at_s, "side": setup.side, "duration_s": setup.duration_s,
             "market_name": setup.config.name}  # fmt: skip
    coords = {"market": np.arange(markets), "size": np.asarray(grid), "horizon_s": ("horizon", list(setup.horizons_s))}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def safe_size_summary(
    curve: xr.Dataset, bound_ticks: float, horizon_s: float, *, rng: RandomLike, n_boot: int = 2000
) -> dict[str, Any]:
    """Return, per size, the mean agent-market (at ``horizon_s``) and book-walk impacts with their standard errors
    over markets, and both safe sizes (from the mean curves) with 95 % bootstrap intervals over markets.

    A market where some order found no liquidity on its side at all (no fill) is left out of both, and counted
    (``no_liquidity_markets``). A book walk that the recorded levels cannot hold counts as unbounded (above every
    bound); its mean is taken over the markets whose book held the order (``walk_held``)."""
    gen, grid = as_generator(rng), curve["size"].values
    traded = (curve["filled_lots"].values > 0).all(axis=1)
    abm = curve["impact_ticks"].sel(horizon=list(curve["horizon_s"].values).index(horizon_s)).values[traded]
    walk = curve["walk_impact_ticks"].values[traded]
    n = abm.shape[0]

    def safe(a: np.ndarray, w: np.ndarray) -> tuple[int, int]:
        walked = np.where(np.isnan(w).any(axis=0), np.nan, np.nanmean(np.where(np.isnan(w), 0, w), axis=0))
        return safe_index(np.nanmean(a, axis=0), bound_ticks), safe_index(walked, bound_ticks)

    point = safe(abm, walk)
    draws = np.array([safe(abm[i], walk[i]) for i in gen.integers(0, n, size=(n_boot, n))])
    size_of = np.r_[0, grid]
    out: dict[str, Any] = {"bound_ticks": bound_ticks, "horizon_s": horizon_s, "markets": n, "sizes": grid.tolist(),
                           "no_liquidity_markets": int((~traded).sum())}  # fmt: skip
    for j, name in enumerate(("abm", "walk")):
        low, high = np.percentile(draws[:, j], [2.5, 97.5], method="nearest")
        out[f"safe_{name}_lots"] = int(size_of[point[j]])
        out[f"safe_{name}_interval_lots"] = [int(size_of[int(low)]), int(size_of[int(high)])]
    out["abm_impact_ticks"] = np.nanmean(abm, axis=0).tolist()
    out["abm_impact_se"] = _standard_error(abm).tolist()
    out["walk_impact_ticks"] = np.nanmean(walk, axis=0).tolist()
    out["walk_impact_se"] = _standard_error(walk).tolist()
    out["walk_held"] = np.sum(~np.isnan(walk), axis=0).tolist()
    return out


def _standard_error(values: np.ndarray) -> np.ndarray:
    """Standard error of the mean over markets (axis 0) of the non-NaN values; NaN with fewer than two."""
    count = np.sum(~np.isnan(values), axis=0)
    mean = np.nansum(values, axis=0) / np.maximum(count, 1)
    variance = np.nansum((values - mean) ** 2, axis=0) / np.maximum(count - 1, 1)
    return np.where(count > 1, np.sqrt(variance / np.maximum(count, 1)), np.nan)
