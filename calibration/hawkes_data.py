"""Real market data as multivariate point processes: per-dimension event times for Hawkes fits.

A *recipe* maps event records (kind, side) of the simlab schema to the dimensions of a Hawkes model:

* ``"trades"`` (2-D): ``buy`` and ``sell`` market orders, i.e. trades by aggressor side;
* ``"order-flow"`` (6-D): ``limit_bid``, ``limit_ask`` (ADD), ``cancel_bid``, ``cancel_ask`` (CANCEL and DELETE),
  ``market_buy``, ``market_sell`` (visible executions, TRADE, by aggressor side; hidden executions are left out).

One market order that sweeps several resting orders is printed as several trades with the same timestamp (Binance
stamps trades in ms, LOBSTER in ns). With ``aggregate=True`` (the default) the records of one dimension that share
a timestamp become one event (their quantities summed into its mark): 75 % of Binance USD-M BTCUSDT trades tie
with their predecessor, far fewer market orders do. The ties that remain (two takers on the same side in the same
ms) are left to the estimator's tie policy (``HawkesMLE(tie_policy="jitter")`` spreads them by a seeded jitter).

:class:`ActivityProfile` is the time change used for multi-day tapes: a piecewise-constant intraday activity
profile (hour of day, normalised to mean 1) turns calendar seconds into *activity seconds*, in which the flow is
fitted as a stationary Hawkes process; simulated activity times map back to calendar times through its inverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.schema import EventKind

NS = 1_000_000_000
DIMENSIONS: dict[str, tuple[tuple[int, ...], int]] = {
    "buy": ((EventKind.TRADE, EventKind.TRADE_HIDDEN), 1),
    "sell": ((EventKind.TRADE, EventKind.TRADE_HIDDEN), -1),
    "limit_bid": ((EventKind.ADD,), 1),
    "limit_ask": ((EventKind.ADD,), -1),
    "cancel_bid": ((EventKind.CANCEL, EventKind.DELETE), 1),
    "cancel_ask": ((EventKind.CANCEL, EventKind.DELETE), -1),
    "market_buy": ((EventKind.TRADE,), 1),
    "market_sell": ((EventKind.TRADE,), -1),
}
"""Dimension name -> (event kinds, side) of the records it counts."""
OFI_SIGNS: dict[str, int] = {
    "buy": 1,
    "sell": -1,
    "limit_bid": 1,
    "limit_ask": -1,
    "cancel_bid": -1,
    "cancel_ask": 1,
    "market_buy": 1,
    "market_sell": -1,
}
"""Sign of each dimension in the count order-flow imbalance (Cont, Kukanov and Stoikov, 2014, in counts)."""
RECIPES: dict[str, tuple[str, ...]] = {
    "trades": ("buy", "sell"),
    "order-flow": ("limit_bid", "limit_ask", "cancel_bid", "cancel_ask", "market_buy", "market_sell"),
}


@dataclass(frozen=True, eq=False)
class EventWindow:
    """Event times of one data window, per dimension, in seconds from the window's start.

    ``times_s[i]`` is sorted, within ``[0, duration_s)``; ``marks[i]`` holds each event's quantity in lots.
    ``start_ns`` is the window start (ns since the epoch, UTC); ``sources`` the file names it came from.
    """

    names: tuple[str, ...]
    times_s: tuple[np.ndarray, ...]
    marks: tuple[np.ndarray, ...]
    start_ns: int
    duration_s: float
    sources: tuple[str, ...] = ()

    @property
    def ties(self) -> int:
        """Number of events whose time equals the previous one's in the pooled process (all dimensions)."""
        pooled = np.sort(np.concatenate(self.times_s))
        return int(np.count_nonzero(np.diff(pooled) == 0))

    @property
    def counts(self) -> list[int]:
        """Number of events per dimension."""
        return [int(t.size) for t in self.times_s]

    @property
    def end_ns(self) -> int:
        """Window end, ns since the epoch."""
        return self.start_ns + int(round(self.duration_s * NS))

    def slice(self, start_s: float, end_s: float) -> EventWindow:
        """Return the sub-window ``[start_s, end_s)`` (seconds from this start), its times re-based to 0."""
        if not 0 <= start_s < end_s <= self.duration_s:
            raise ParameterError(
                f"`start_s`, `end_s` of EventWindow.slice must satisfy 0 <= start < end <= {self.duration_s}; "
                f"got {start_s}, {end_s}"
            )
        keep = [(t >= start_s) & (t < end_s) for t in self.times_s]
        return EventWindow(
            self.names,
            tuple(t[k] - start_s for t, k in zip(self.times_s, keep, strict=True)),
            tuple(m[k] for m, k in zip(self.marks, keep, strict=True)),
            self.start_ns + int(round(start_s * NS)),
            float(end_s - start_s),
            self.sources,
        )

    def split(self, train_fraction: float) -> tuple[EventWindow, EventWindow]:
        """Split into a training window (the first ``train_fraction`` of the span) and the validation rest."""
        if not 0 < train_fraction < 1:
            raise ParameterError(f"`train_fraction` must be in (0, 1); got {train_fraction}")
        cut = self.duration_s * train_fraction
        return self.slice(0.0, cut), self.slice(cut, self.duration_s)

    def span(self) -> dict[str, object]:
        """Describe the window for a preset: start/end (UTC ISO), duration, counts, sources."""
        return {
            "start": _iso(self.start_ns),
            "end": _iso(self.end_ns),
            "duration_s": round(self.duration_s, 6),
            "counts": self.counts,
            "ties": self.ties,
            "files": list(self.sources),
        }


def event_times(
    events: xr.Dataset,
    dims: str | Sequence[str] = "trades",
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    aggregate: bool = True,
    sources: Sequence[str] = (),
) -> EventWindow:
    """Turn an events Dataset into per-dimension event times in seconds from ``start_ns``.

    Parameters
    ----------
    events
        Events in the simlab schema (``simlab.io.read(...)["events"]``), sorted by ``ts_ns``.
    dims
        A recipe name of :data:`RECIPES` or a sequence of dimension names of :data:`DIMENSIONS`.
    start_ns, end_ns
        The window ``[start_ns, end_ns)`` in ns since the epoch; default: the first event's ms floor and one ms
        after the last event.
    aggregate
        Merge the records of one dimension that share a timestamp into one event (one market order sweeping
        several resting orders); their quantities add up in the mark.
    sources
        File names recorded in the window's description.
    """
    names = resolve_dims(dims)
    ts = events["ts_ns"].values
    if ts.size == 0:
        raise DataError("events: no records; a Hawkes window needs events")
    if np.any(np.diff(ts) < 0):
        raise DataError("events: `ts_ns` is not sorted; read the files with sort=True")
    start = int(ts[0] // 1_000_000 * 1_000_000) if start_ns is None else int(start_ns)
    end = int(ts[-1] // 1_000_000 * 1_000_000 + 1_000_000) if end_ns is None else int(end_ns)
    if end <= start:
        raise ParameterError(f"`end_ns` must be > `start_ns`; got {end} <= {start}")
    inside = (ts >= start) & (ts < end)
    kind, side, qty = events["kind"].values, events["side"].values, events["qty_lots"].values
    times, marks = [], []
    for name in names:
        kinds, sign = DIMENSIONS[name]
        keep = inside & np.isin(kind, kinds) & (side == sign)
        stamp, size = ts[keep], qty[keep].astype(np.float64)
        if aggregate:
            stamp, size = _merge_equal(stamp, size)
        t = (stamp - start) / NS
        times.append(t)
        marks.append(size)
    return EventWindow(names, tuple(times), tuple(marks), start, (end - start) / NS, tuple(sources))


def load_window(
    paths: Path | str | Sequence[Path | str],
    dims: str | Sequence[str] = "trades",
    *,
    format: str = "auto",
    start_ns: int | None = None,
    end_ns: int | None = None,
    aggregate: bool = True,
    **options: Any,
) -> EventWindow:
    """Load a store or raw files with :func:`simlab.io.dataset.load_dataset` and return their per-dimension event
    times (see :func:`event_times`).

    ``paths`` is a simlab store (``simlab ingest``), several stores, or raw files: several files of a one-file format
    (consecutive ``*.trades.csv.gz``) are read one by one and concatenated in time order. ``format`` and ``options``
    go to the reader of raw files (e.g. ``sort=True``).
    """
    from simlab.io.dataset import load_dataset

    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    events = load_dataset(paths, format=format, **options)["events"]
    return event_times(
        events, dims, start_ns=start_ns, end_ns=end_ns, aggregate=aggregate, sources=[p.name for p in paths]
    )


def resolve_dims(dims: str | Sequence[str]) -> tuple[str, ...]:
    """Return the dimension names of a recipe name, a comma-separated list or a sequence of names."""
    if isinstance(dims, str):
        dims = RECIPES.get(dims, tuple(d.strip() for d in dims.split(",") if d.strip()))
    names = tuple(dims)
    unknown = [n for n in names if n not in DIMENSIONS]
    if not names or unknown or len(set(names)) != len(names):
        raise ParameterError(
            f"`dims` must be a recipe {sorted(RECIPES)} or distinct names from {sorted(DIMENSIONS)}; got {names}"
        )
    return names


def count_ofi(times_s: Sequence[np.ndarray], names: Sequence[str], duration_s: float, bin_s: float) -> np.ndarray:
    """Return the count order-flow imbalance on consecutive bins of ``bin_s`` seconds (sum of signed counts)."""
    n_bins = int(duration_s // bin_s)
    if n_bins < 1:
        raise ParameterError(f"`bin_s` must be <= the duration {duration_s} s; got {bin_s}")
    edges = np.arange(n_bins + 1) * bin_s
    ofi = np.zeros(n_bins)
    for t, name in zip(times_s, names, strict=True):
        ofi += OFI_SIGNS[name] * np.histogram(t, bins=edges)[0]
    return ofi


@dataclass(frozen=True, eq=False)
class ActivityProfile:
    """Piecewise-constant intraday activity (mean 1 over a day) and the time change it defines.

    ``levels[h]`` is the relative activity of the ``bin_s``-long bin ``h`` of the (UTC) day; activity time runs at
    ``levels[h]`` activity seconds per calendar second in that bin. ``origin_s`` is the calendar window's start as
    seconds after midnight UTC.
    """

    levels: np.ndarray
    bin_s: float = 3600.0
    origin_s: float = 0.0

    @classmethod
    def estimate(cls, window: EventWindow, bin_s: float = 3600.0, floor: float = 0.05) -> ActivityProfile:
        """Estimate the profile from all events of ``window`` (every dimension pooled), binned by time of day."""
        per_day = int(round(86400 / bin_s))
        if per_day * bin_s != 86400:
            raise ParameterError(f"`bin_s` must divide a day (86400 s); got {bin_s}")
        origin = (window.start_ns / NS) % 86400
        pooled = np.concatenate(window.times_s)
        slot = ((pooled + origin) // bin_s).astype(np.int64) % per_day
        grid = np.arange(0.0, window.duration_s, 1.0) + origin  # calendar exposure of each slot, 1 s steps
        exposure = np.bincount((grid // bin_s).astype(np.int64) % per_day, minlength=per_day).astype(float)
        rate = np.bincount(slot, minlength=per_day) / np.maximum(exposure, 1.0)
        levels = np.maximum(rate / rate[exposure > 0].mean(), floor)
        return cls(levels / levels.mean(), float(bin_s), float(origin))

    def to_activity(self, calendar_s: np.ndarray) -> np.ndarray:
        """Map calendar seconds from the window start to activity seconds (the integrated profile)."""
        grid, cumulative = self._grid(np.max(calendar_s, initial=0.0))
        return np.interp(calendar_s, grid, cumulative)

    def to_calendar(self, activity_s: np.ndarray, horizon_s: float) -> np.ndarray:
        """Map activity seconds back to calendar seconds (inverse of :meth:`to_activity`) within ``horizon_s``."""
        grid, cumulative = self._grid(horizon_s)
        return np.interp(activity_s, cumulative, grid)

    def _grid(self, horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
        first = np.floor(self.origin_s / self.bin_s) * self.bin_s
        edges = np.arange(first, self.origin_s + horizon_s + self.bin_s, self.bin_s)
        edges = np.clip(edges, self.origin_s, None)
        edges = np.unique(np.append(edges, self.origin_s + horizon_s))
        slot = (edges[:-1] // self.bin_s).astype(np.int64) % self.levels.size
        cumulative = np.concatenate([[0.0], np.cumsum(np.diff(edges) * self.levels[slot])])
        return edges - self.origin_s, cumulative


def _merge_equal(stamp: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if stamp.size == 0:
        return stamp, size
    first = np.concatenate([[True], stamp[1:] != stamp[:-1]])
    starts = np.flatnonzero(first)
    return stamp[starts], np.add.reduceat(size, starts)


def _iso(ns: int) -> str:
    return str(np.datetime64(int(ns), "ns").astype("datetime64[ms]")) + "Z"
