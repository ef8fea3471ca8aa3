"""Reference prices for the arbitrageur: geometric Brownian motion at block times, or a path read from any simlab
events dataset (AMM swaps, CEX trades) sampled on a block grid."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from simlab.amm import _kernels
from simlab.errors import DataError, ParameterError

SECONDS_PER_YEAR = 365.0 * 86400.0


def gbm_prices(volatility: float, times: np.ndarray, initial: float, rng: np.random.Generator) -> np.ndarray:
    """Return martingale GBM prices at ``times`` (zero drift: ``E[S_t] = S_0``).

    Parameters
    ----------
    volatility
        Annualised volatility of the log price (>= 0).
    times
        Block times (s), shape ``(n_paths, n_blocks + 1)``, increasing along each row.
    initial
        Price at ``times[:, 0]`` (> 0).
    rng
        The generator (one normal draw per path and block).

    Returns
    -------
    numpy.ndarray
        Prices, same shape as ``times``: ``log S`` moves by ``sigma sqrt(dt) Z - sigma**2 dt / 2``.
    """
    return gbm_paths(volatility, times, initial, rng)[0]


def gbm_paths(
    volatility: float, times: np.ndarray, initial: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(prices, log prices)`` of :func:`gbm_prices` (one numba pass; the normals come from ``rng``)."""
    if not (math.isfinite(volatility) and volatility >= 0):
        raise ParameterError(f"`volatility` of gbm_prices must be a finite number >= 0; got {volatility!r}")
    if not (math.isfinite(initial) and initial > 0):
        raise ParameterError(f"`initial` of gbm_prices must be a finite number > 0; got {initial!r}")
    times = np.ascontiguousarray(times, dtype=np.float64)
    normals = rng.standard_normal((times.shape[0], times.shape[1] - 1))
    log_price, price = np.empty(times.shape), np.empty(times.shape)
    _kernels.gbm_paths(normals, times, volatility**2 / SECONDS_PER_YEAR, math.log(initial), log_price, price)
    return price, log_price


@dataclass(frozen=True)
class PricePath:
    """A fixed reference path: block ``times`` (s, shape ``(n + 1,)``) and ``prices`` (shape ``(n + 1,)``, or
    ``(n_paths, n + 1)``: one reference path per simulated path on the same block times)."""

    times: np.ndarray
    prices: np.ndarray
    source: str = "array"

    def __post_init__(self) -> None:
        times, prices = np.asarray(self.times, dtype=np.float64), np.asarray(self.prices, dtype=np.float64)
        if times.ndim != 1 or prices.ndim not in (1, 2) or times.shape[-1:] != prices.shape[-1:] or times.size < 2:
            raise DataError(f"PricePath {self.source}: times must be 1-D of length >= 2 and prices (n,) or (paths, "
                            f"n) of the same length n; got shapes {times.shape} and {prices.shape}")  # fmt: skip
        if not (np.diff(times) > 0).all():
            row = int(np.flatnonzero(np.diff(times) <= 0)[0]) + 1
            raise DataError(f"PricePath {self.source}: block times must increase; block {row} is at {times[row]} s")
        if not (np.isfinite(prices) & (prices > 0)).all():
            where = np.argwhere(~(np.isfinite(prices) & (prices > 0)))[0]
            raise DataError(
                f"PricePath {self.source}: prices must be finite and > 0; block {where[-1]}"
                f"{f' of path {where[0]}' if prices.ndim == 2 else ''} has {prices[tuple(where)]}"
            )
        object.__setattr__(self, "times", times - times[0])
        object.__setattr__(self, "prices", prices)

    @property
    def n_blocks(self) -> int:
        """Return the number of blocks after the start."""
        return self.times.shape[0] - 1

    @property
    def n_paths(self) -> int | None:
        """Return the number of reference paths (None: one path shared by every simulated path)."""
        return self.prices.shape[0] if self.prices.ndim == 2 else None


def path_from_events(events: xr.Dataset, block_s: float = 12.0, *, max_blocks: int | None = None) -> PricePath:
    """Sample the last traded price of an events dataset on a grid of ``block_s`` seconds.

    Parameters
    ----------
    events
        A simlab events dataset (trades or AMM swaps). The price is the ``pool_price`` variable when present
        (the Uniswap readers' price after each swap), else ``price_ticks * tick_size``.
    block_s
        The block time (s, > 0).
    max_blocks
        Keep at most this many blocks from the start.

    Returns
    -------
    PricePath
        Times from the first event, prices the last event price at or before each block time.
    """
    if not (math.isfinite(block_s) and block_s > 0):
        raise ParameterError(f"`block_s` of path_from_events must be a finite number > 0; got {block_s!r}")
    source = str(events.attrs.get("instrument", "events"))
    seconds = events["ts_ns"].values.astype(np.float64) / 1e9
    if seconds.shape[0] < 2 or seconds[-1] - seconds[0] < block_s:
        raise DataError(f"events {source}: need at least one block of {block_s} s of prices; got {seconds.shape[0]} "
                        f"events over {seconds[-1] - seconds[0] if seconds.size else 0} s")  # fmt: skip
    if "pool_price" in events:
        price = events["pool_price"].values.astype(np.float64)
    else:
        price = events["price_ticks"].values * float(events.attrs["tick_size"])
    grid = np.arange(seconds[0], seconds[-1] + 1e-9, block_s)
    if max_blocks is not None:
        grid = grid[: max_blocks + 1]
    last = np.searchsorted(seconds, grid, side="right") - 1
    return PricePath(grid, price[last], source=source)


def path_from_file(path: str | Path, format: str = "auto", block_s: float = 12.0, **options) -> PricePath:
    """Read real trades or swaps with :func:`simlab.io.read` and sample their price path (see
    :func:`path_from_events`); ``options`` go to the reader."""
    from simlab.io import read

    return path_from_events(read(path, format, **options)["events"], block_s)
