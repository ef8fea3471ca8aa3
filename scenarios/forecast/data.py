"""Targets of the benchmark: buy and sell trade counts per forecast window, the count OFI(T, h) and its signal.

A :class:`FlowSeries` is a sequence of consecutive windows of ``window_s`` = h seconds (a whole number of bins of
``bin_s``, the paper's per-second counts summed over h / bin bins) cut from one or more observed spans
(*segments*, e.g. separate real capture windows); forecasters predict window k from windows before it in its
segment. OFI(T, h) = (buy - sell) / (buy + sell) is 0 in a window without trades (HOLD in
:func:`simlab.features.ofi_signal`); ``n_empty`` says how often that happens. Synthetic series carry the true
process and its excitation state at every window start, which the oracle forecasts from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.forecast.state import states_at
from simlab.errors import DataError, ParameterError
from simlab.features.ofi import checked_threshold, ofi_signal
from simlab.hawkes import HawkesParams, simulate_hawkes
from simlab.random import RandomLike


@dataclass(frozen=True, eq=False)
class FlowSeries:
    """Buy and sell counts of consecutive forecast windows, with what is known about where they came from.

    Attributes
    ----------
    name
        Label (e.g. "BTCUSDT" or the preset's name).
    buy, sell
        float64 (n,): trades by aggressor side in each window.
    start_s
        float64 (n,): window starts in seconds on the series' clock (segments follow one another on it).
    segment
        int64 (n,): the span each window belongs to (non-decreasing).
    spans_s
        float64 (n_segments, 2): the observed [start, end) of each segment on the series' clock.
    window_s, bin_s
        The window length h and the count bin, seconds (h is a multiple of the bin).
    threshold
        The OFI signal threshold.
    times_s, dims
        The events (seconds on the series' clock, sorted; dimension 0 buy, 1 sell), or None.
    params
        The true process (synthetic data), else None.
    states
        float64 (n, P): its excitation state just before each window start (synthetic data), else None.
    """

    name: str
    buy: np.ndarray
    sell: np.ndarray
    start_s: np.ndarray
    segment: np.ndarray
    spans_s: np.ndarray
    window_s: float
    bin_s: float
    threshold: float = 0.1
    times_s: np.ndarray | None = None
    dims: np.ndarray | None = None
    params: HawkesParams | None = None
    states: np.ndarray | None = None

    @property
    def size(self) -> int:
        """Number of windows n."""
        return int(self.buy.shape[0])

    @property
    def total(self) -> np.ndarray:
        """Trades per window (n,)."""
        return self.buy + self.sell

    @property
    def ofi(self) -> np.ndarray:
        """OFI(T, h) per window (n,), 0 in a window without trades."""
        total = self.total
        return np.divide(self.buy - self.sell, total, out=np.zeros(self.size), where=total > 0)

    @property
    def signal(self) -> np.ndarray:
        """BUY (+1) / HOLD (0) / SELL (-1) of each window's OFI (n,) int8."""
        return ofi_signal(self.ofi, threshold=self.threshold)

    @property
    def n_empty(self) -> int:
        """Windows without a trade (their OFI is 0 by convention)."""
        return int(np.count_nonzero(self.total == 0))

    def first_in_segment(self, lags: int) -> np.ndarray:
        """Return the bool mask (n,) of windows with at least ``lags`` earlier windows in their segment."""
        position = np.arange(self.size) - np.searchsorted(self.segment, self.segment, side="left")
        return position >= lags

    def summary(self) -> dict[str, Any]:
        """Describe the series (counts, rates, OFI moments, empty windows) for a report."""
        ofi = self.ofi
        return {
            "name": self.name,
            "windows": self.size,
            "segments": int(self.spans_s.shape[0]),
            "window_s": self.window_s,
            "bin_s": self.bin_s,
            "buy_per_window": round(float(self.buy.mean()), 4),
            "sell_per_window": round(float(self.sell.mean()), 4),
            "ofi_mean": round(float(ofi.mean()), 4),
            "ofi_std": round(float(ofi.std()), 4),
            "empty_windows": self.n_empty,
            "synthetic": self.params is not None,
        }


def window_bins(horizon_s: float, bin_s: float) -> int:
    """Return h / bin as an int, raising ParameterError unless ``horizon_s`` is a whole multiple of ``bin_s``."""
    if not (np.isfinite(bin_s) and bin_s > 0):
        raise ParameterError(f"`bin_s` of the forecast target must be finite and > 0 seconds; got {bin_s!r}")
    ratio = horizon_s / bin_s if np.isfinite(horizon_s) else np.nan
    if not (np.isfinite(ratio) and ratio >= 1 and abs(ratio - round(ratio)) < 1e-9):
        raise ParameterError(
            f"`horizon_s` of the forecast target must be a whole multiple (>= 1) of the bin {bin_s} s; "
            f"got {horizon_s!r}"
        )
    return int(round(ratio))


def series_from_counts(
    buy: Sequence[float],
    sell: Sequence[float],
    *,
    bin_s: float,
    horizon_s: float,
    threshold: float = 0.1,
    name: str = "counts",
) -> FlowSeries:
    """Build a series from per-bin buy and sell counts of one span (bins of ``bin_s`` s, windows of ``horizon_s``).

    Bins after the last whole window (fewer than h / bin) form no window. NaN, negative or fractional counts raise
    DataError naming the first bad bin.
    """
    m = window_bins(horizon_s, bin_s)
    arrays = []
    for label, values in (("buy", buy), ("sell", sell)):
        counts = np.asarray(values, dtype=np.float64).reshape(-1)
        bad = np.flatnonzero(~np.isfinite(counts) | (counts < 0) | (counts != np.round(counts)))
        if bad.size:
            raise DataError(
                f"`{label}` counts, bin {bad[0]}: counts must be finite whole numbers >= 0; got {float(counts[bad[0]])}"
            )
        arrays.append(counts)
    if arrays[0].shape != arrays[1].shape:
        raise DataError(f"`buy` and `sell` counts must have one length; got {arrays[0].size} and {arrays[1].size}")
    n = arrays[0].size // m
    buy_w, sell_w = (a[: n * m].reshape(n, m).sum(axis=1) for a in arrays)
    return FlowSeries(
        name,
        buy_w,
        sell_w,
        np.arange(n) * m * bin_s,
        np.zeros(n, np.int64),
        np.array([[0.0, n * m * bin_s]]),
        m * bin_s,
        float(bin_s),
        checked_threshold(threshold),
    )


def series_from_events(
    times_s: np.ndarray,
    dims: np.ndarray,
    spans_s: Sequence[tuple[float, float]],
    *,
    bin_s: float,
    horizon_s: float,
    threshold: float = 0.1,
    params: HawkesParams | None = None,
    name: str = "events",
) -> FlowSeries:
    """Build a series from events (seconds, sorted; dimension 0 buy, 1 sell) observed on disjoint sorted spans.

    Each span [start, end) gives floor((end - start) / h) windows from its start. With the true ``params`` the
    excitation state before each window start is recorded from the events of its own span.
    """
    window = window_bins(horizon_s, bin_s) * bin_s
    times, dims, spans = _checked_events(times_s, dims, spans_s)
    starts = [s + window * np.arange(int((e - s) // window)) for s, e in spans]
    segment = np.concatenate([np.full(len(s), g, np.int64) for g, s in enumerate(starts)])
    start = np.concatenate(starts)
    if start.size == 0:
        raise DataError(f"the forecast series has no whole window of {window} s in spans {spans.tolist()}")
    lo, hi = np.searchsorted(times, start, side="left"), np.searchsorted(times, start + window, side="left")
    counts = []
    for j in (0, 1):
        cumulative = np.r_[0.0, np.cumsum(dims == j)]
        counts.append(cumulative[hi] - cumulative[lo])
    states = None
    if params is not None:
        # a segment's state comes from its own events (and, for the first, any history before it, e.g. a burn-in)
        lower = np.r_[-np.inf, spans[:-1, 1]]
        states = np.concatenate(
            [_span_states(params, times, dims, low, s) for low, s in zip(lower, starts, strict=True)]
        )
    return FlowSeries(
        name,
        counts[0],
        counts[1],
        start,
        segment,
        spans,
        window,
        float(bin_s),
        checked_threshold(threshold),
        times,
        dims,
        params,
        states,
    )


def _checked_events(times_s, dims, spans_s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    times, dims = np.asarray(times_s, dtype=np.float64), np.asarray(dims, dtype=np.int64)
    spans = np.asarray(spans_s, dtype=np.float64).reshape(-1, 2)
    if times.shape != dims.shape:
        raise DataError(
            f"events of the forecast series need one dimension per time; got {dims.shape} and {times.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(times) | np.r_[False, np.diff(times) < 0] | ((dims != 0) & (dims != 1)))
    if bad.size:
        k = int(bad[0])
        previous = f" after {float(times[k - 1])}" if k else ""
        raise DataError(
            f"event {k} of the forecast series: times must be finite and sorted, dimensions 0 (buy) or 1 (sell); "
            f"got time {float(times[k])}{previous} and dimension {int(dims[k])}"
        )
    if np.any(spans[:, 1] <= spans[:, 0]) or np.any(spans[1:, 0] < spans[:-1, 1]):
        raise ParameterError(f"`spans_s` must be disjoint, sorted [start, end) pairs; got {spans.tolist()}")
    return times, dims, spans


def _span_states(params: HawkesParams, times: np.ndarray, dims: np.ndarray, low: float, at: np.ndarray) -> np.ndarray:
    keep = times >= low
    return states_at(params, times[keep], dims[keep], at)


def simulate_series(
    params: HawkesParams,
    duration_s: float,
    *,
    rng: RandomLike,
    bin_s: float = 1.0,
    horizon_s: float = 1.0,
    threshold: float = 0.1,
    burn_in_s: float = 300.0,
    name: str = "synthetic",
) -> FlowSeries:
    """Simulate a 2-D (buy, sell) Hawkes process for ``duration_s`` seconds after a burn-in and build its series.

    The path starts empty ``burn_in_s`` seconds before 0 so that the observed span [0, duration_s) is close to
    stationary; the burn-in events still shape the recorded state.
    """
    if params.dimension != 2:
        raise ParameterError(
            f"`params` of simulate_series must be a 2-D (buy, sell) process; got d = {params.dimension}"
        )
    if not (np.isfinite(burn_in_s) and burn_in_s >= 0):
        raise ParameterError(f"`burn_in_s` of simulate_series must be finite and >= 0; got {burn_in_s!r}")
    (path,) = simulate_hawkes(params, float(duration_s) + burn_in_s, rng=rng)
    return series_from_events(
        path.times_s - burn_in_s,
        path.dims,
        [(0.0, float(duration_s))],
        bin_s=bin_s,
        horizon_s=horizon_s,
        threshold=threshold,
        params=params,
        name=name,
    )


def real_series(
    segments: Sequence[Sequence[Path | str]],
    *,
    bin_s: float = 1.0,
    horizon_s: float = 1.0,
    threshold: float = 0.1,
    name: str = "real",
    aggregate: bool = True,
    format: str = "auto",
    options: dict[str, Any] | None = None,
) -> FlowSeries:
    """Read real trades (one store or list of consecutive files per capture window) into one series of segments.

    Trades are split by aggressor side with :func:`calibration.hawkes_data.load_window` (raw files are read with
    ``format`` and the reader ``options``); with ``aggregate`` the trades of one side sharing a timestamp count as one
    market order (the events the Hawkes presets model). The windows follow one another on the series' clock in the
    order given.
    """
    from calibration.hawkes_data import load_window

    if not segments:
        raise ParameterError("`segments` of real_series must name at least one capture window")
    times, dims, spans, offset = [], [], [], 0.0
    for files in segments:
        window = load_window(list(files), "trades", aggregate=aggregate, format=format, **(options or {}))
        for j, t in enumerate(window.times_s):
            times.append(t + offset)
            dims.append(np.full(t.size, j, np.int64))
        spans.append((offset, offset + window.duration_s))
        offset += window.duration_s
    all_times = np.concatenate(times)
    order = np.argsort(all_times, kind="stable")
    return series_from_events(
        all_times[order],
        np.concatenate(dims)[order],
        spans,
        bin_s=bin_s,
        horizon_s=horizon_s,
        threshold=threshold,
        name=name,
    )
