"""Shape statistics of a crash: drawdown, time to trough, recovery, liquidity and liquidation multipliers.

One path is a :class:`CrashPath` on a regular time grid. :func:`shape_statistics` measures it around an event at
``event_s`` and :func:`interval_table` gives each statistic's mean and interval over many paths. The paths come from
the agent market (:func:`crash_path_from_abm`) or from real data in the simlab schema
(:func:`crash_path_from_book`); ``docs/stress_shapes.md`` gives every formula.

Grid conventions. Sample ``k`` of a state variable (``mid``, ``depth``, ``spread``, ``fund``) is its value at the
instant ``t_s[k]`` (after every event at or before it); sample ``k`` of a flow (``volume``, ``maker_gross``,
``maker_net``, ``liquidations``, ``adl``) is its sum over ``[t_s[k], t_s[k] + dt)``. NaN samples of a state
variable (a one-sided book has no mid) are skipped by every statistic, never filled.

Windows. The pre-event window holds the samples with ``event_s - pre_s <= t < event_s``; the reference level
``P0`` is the median mid there. The trough is the first sample of the most extreme mid in the crash's direction
among ``event_s <= t <= event_s + horizon_s`` (``horizon_s`` None: to the path's end). The event window (the crash
leg) holds the samples with ``event_s <= t <= t_trough``; its flows span ``(n_leg) dt`` seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import xarray as xr
from scipy import stats as sps

from simlab.errors import DataError, ParameterError
from simlab.metrics._crash_paths import abm_series, book_tape_series
from simlab.random import RandomLike, as_generator

UNITS: dict[str, str] = {
    "drawdown": "fraction of P0",
    "time_to_trough_s": "s",
    "half_life_s": "s",
    "recovered_1min": "fraction of drawdown",
    "recovered_5min": "fraction of drawdown",
    "recovered_30min": "fraction of drawdown",
    "min_depth_ratio": "ratio",
    "max_spread_ratio": "ratio",
    "volume_ratio": "ratio",
    "hot_potato_ratio": "ratio",
    "liquidations_per_min": "1/min",
    "fund_drawdown": "fund units (ticks x lots in the agent market)",
    "adl_count": "count",
}
"""Unit of each statistic."""

STATISTICS: tuple[str, ...] = tuple(UNITS)
"""Names of the shape statistics, in the order of :func:`shape_statistics`' output."""

RECOVERY_HORIZONS_S: dict[str, float] = {"recovered_1min": 60.0, "recovered_5min": 300.0, "recovered_30min": 1800.0}
"""Time after the trough (s) at which each share recovered is read."""

NEEDS: dict[str, tuple[str, ...]] = {
    "min_depth_ratio": ("depth",),
    "max_spread_ratio": ("spread",),
    "volume_ratio": ("volume",),
    "hot_potato_ratio": ("maker_gross", "maker_net"),
    "liquidations_per_min": ("liquidations",),
    "fund_drawdown": ("fund",),
    "adl_count": ("adl",),
}
"""The optional CrashPath fields each statistic needs (the price statistics need only ``mid``)."""

_OPTIONAL = ("depth", "spread", "volume", "maker_gross", "maker_net", "liquidations", "fund", "adl")


@dataclass(frozen=True, eq=False)
class CrashPath:
    """One path on a regular grid: the mid and, where known, liquidity, flow and liquidation series.

    Attributes
    ----------
    t_s
        Grid times (s, any origin; ``event_s`` is on the same axis), strictly increasing with a constant step.
    mid
        Mid price (any unit: the statistics are ratios); NaN where undefined.
    depth
        Lots resting within 10 bps of the mid, both sides together.
    spread
        Best ask - best bid (price units).
    volume
        Lots traded in ``[t, t + dt)``.
    maker_gross, maker_net
        Market makers' traded lots in ``[t, t + dt)``: gross (each maker leg counted) and net (signed, + bought).
    liquidations
        Leveraged traders liquidated in ``[t, t + dt)``.
    fund
        Insurance fund at ``t`` (ticks x lots in the agent market).
    adl
        Auto-deleveraging steps in ``[t, t + dt)``.
    origin_ns
        UTC ns of ``t_s = 0`` (0 when the axis is not anchored).
    """

    t_s: np.ndarray
    mid: np.ndarray
    depth: np.ndarray | None = None
    spread: np.ndarray | None = None
    volume: np.ndarray | None = None
    maker_gross: np.ndarray | None = None
    maker_net: np.ndarray | None = None
    liquidations: np.ndarray | None = None
    fund: np.ndarray | None = None
    adl: np.ndarray | None = None
    origin_ns: int = 0

    def __post_init__(self) -> None:
        t = np.asarray(self.t_s, dtype=float)
        if t.ndim != 1 or t.size < 2 or not np.all(np.isfinite(t)):
            raise DataError(f"CrashPath: `t_s` must be a 1-D finite array of >= 2 times; got shape {t.shape}")
        step = np.diff(t)
        if step[0] <= 0 or np.max(np.abs(step - step[0])) > 1e-6 * step[0]:
            raise DataError(
                f"CrashPath: `t_s` must be a regular increasing grid; got steps from {step.min()} to {step.max()} s"
            )
        object.__setattr__(self, "t_s", t)
        for name in ("mid", *_OPTIONAL):
            values = getattr(self, name)
            if values is None:
                continue
            values = np.asarray(values, dtype=float)
            if values.shape != t.shape:
                raise DataError(f"CrashPath: `{name}` must have the shape of `t_s` {t.shape}; got {values.shape}")
            object.__setattr__(self, name, values)

    @property
    def dt_s(self) -> float:
        """Grid step (s)."""
        return float(self.t_s[1] - self.t_s[0])

    def present(self) -> tuple[str, ...]:
        """Return the names of the optional series this path holds."""
        return tuple(f.name for f in fields(self) if f.name in _OPTIONAL and getattr(self, f.name) is not None)


def absent_statistics(path: CrashPath) -> tuple[str, ...]:
    """Return the statistics that are NaN for ``path`` because an input series is absent."""
    have = set(path.present())
    return tuple(name for name, needs in NEEDS.items() if not set(needs) <= have)


def _ratio(num: float, den: float) -> float:
    """``num / den`` with 0 / 0 = NaN and x / 0 = +-inf (a rate that was zero before the event)."""
    if not (np.isfinite(num) and np.isfinite(den)):
        return float("nan")
    if den == 0:
        return float("nan") if num == 0 else float(np.copysign(np.inf, num))
    return float(num / den)


def _check(path: CrashPath, event_s: float, direction: int, pre_s: float, horizon_s: float | None) -> None:
    if not isinstance(path, CrashPath):
        raise ParameterError(f"`path` of shape_statistics must be a CrashPath; got {type(path).__name__}")
    if direction not in (1, -1) or isinstance(direction, bool):
        raise ParameterError(f"`direction` of shape_statistics must be -1 (a fall) or +1 (a rise); got {direction!r}")
    if not (np.isfinite(event_s) and path.t_s[0] < event_s <= path.t_s[-1]):
        raise ParameterError(
            f"`event_s` of shape_statistics must lie in ({path.t_s[0]}, {path.t_s[-1]}] (after the first sample, "
            f"so that a pre-event window exists); got {event_s!r}"
        )
    if not (np.isfinite(pre_s) and pre_s > 0):
        raise ParameterError(f"`pre_s` of shape_statistics must be a finite number > 0; got {pre_s!r}")
    if horizon_s is not None and not (np.isfinite(horizon_s) and horizon_s >= 0):
        raise ParameterError(f"`horizon_s` of shape_statistics must be None or a finite number >= 0; got {horizon_s!r}")


def _windows(path: CrashPath, event_s: float, pre_s: float, horizon_s: float | None) -> tuple[np.ndarray, int, int]:
    """The pre-event mask, the event index and the last index the trough may be at."""
    eps = 1e-9 * path.dt_s
    t = path.t_s
    pre = (t >= event_s - pre_s - eps) & (t < event_s - eps)
    event = int(np.searchsorted(t, event_s - eps))
    last = t.size - 1 if horizon_s is None else int(np.searchsorted(t, event_s + horizon_s + eps)) - 1
    return pre, event, last


def shape_statistics(
    path: CrashPath, event_s: float, direction: int = -1, pre_s: float = 600.0, horizon_s: float | None = None
) -> dict[str, float]:
    """Measure the shape of a crash (``direction`` -1) or a spike (+1) that starts at ``event_s``.

    Parameters
    ----------
    path
        The path on a regular grid.
    event_s
        Event time (s, on the axis of ``path.t_s``); the first sample at or after it opens the event.
    direction
        -1 for a fall, +1 for a rise: the drawdown is measured in this direction.
    pre_s
        Length (s) of the pre-event window ``[event_s - pre_s, event_s)`` that gives the reference levels.
    horizon_s
        The trough is searched within ``[event_s, event_s + horizon_s]`` (None: to the path's end).

    Returns
    -------
    dict
        One float per name of :data:`STATISTICS` (units in :data:`UNITS`), NaN where an input is absent
        (:func:`absent_statistics`) or undefined (no mid before the event, no drawdown to recover from); the
        half-life is +inf when the path ends before half the drawdown is recovered.
    """
    _check(path, event_s, direction, pre_s, horizon_s)
    pre, event, last = _windows(path, event_s, pre_s, horizon_s)
    out = dict.fromkeys(STATISTICS, float("nan"))
    reference = path.mid[pre]
    reference = reference[np.isfinite(reference)]
    post = path.mid[event : last + 1]
    if reference.size == 0 or not np.isfinite(post).any():
        return out
    p0 = float(np.median(reference))
    move = direction * (path.mid - p0) / p0  # > 0: moved in the crash's direction
    trough = event + int(np.nanargmax(move[event : last + 1]))
    drawdown = float(move[trough])
    out["drawdown"], out["time_to_trough_s"] = drawdown, float(path.t_s[trough] - path.t_s[event])
    out.update(_recovery(path, move, trough, drawdown))
    out.update(_liquidity(path, pre, event, trough))
    return out


def _recovery(path: CrashPath, move: np.ndarray, trough: int, drawdown: float) -> dict[str, float]:
    """Half-life (interpolated between the grid samples around the crossing) and shares recovered."""
    out = dict.fromkeys(("half_life_s", *RECOVERY_HORIZONS_S), float("nan"))
    if not drawdown > 0:
        return out
    half = 0.5 * drawdown
    after = np.flatnonzero(move[trough + 1 :] <= half)
    if after.size == 0:
        out["half_life_s"] = float("inf")
    else:
        k = trough + 1 + int(after[0])
        t_cross = path.t_s[k]
        if np.isfinite(move[k - 1]) and move[k - 1] > half:
            t_cross -= path.dt_s * (half - move[k]) / (move[k - 1] - move[k])
        out["half_life_s"] = float(t_cross - path.t_s[trough])
    for name, h in RECOVERY_HORIZONS_S.items():
        k = trough + int(round(h / path.dt_s))
        if k < move.size and np.isfinite(move[k]):
            out[name] = float((drawdown - move[k]) / drawdown)
    return out


def _liquidity(path: CrashPath, pre: np.ndarray, event: int, trough: int) -> dict[str, float]:
    """The liquidity, flow and liquidation statistics over the crash leg [event, trough] against the pre window."""
    leg = slice(event, trough + 1)
    leg_s = (trough + 1 - event) * path.dt_s
    pre_s = int(pre.sum()) * path.dt_s
    out: dict[str, float] = {}
    if path.depth is not None:
        out["min_depth_ratio"] = _ratio(_nan_extreme(path.depth[leg], np.nanmin), _nan_median(path.depth[pre]))
    if path.spread is not None:
        out["max_spread_ratio"] = _ratio(_nan_extreme(path.spread[leg], np.nanmax), _nan_median(path.spread[pre]))
    if path.volume is not None:
        out["volume_ratio"] = _ratio(np.sum(path.volume[leg]) / leg_s, np.sum(path.volume[pre]) / pre_s)
    if path.maker_gross is not None and path.maker_net is not None:
        out["hot_potato_ratio"] = _ratio(np.sum(path.maker_gross[leg]), abs(np.sum(path.maker_net[leg])))
    if path.liquidations is not None:
        out["liquidations_per_min"] = float(np.sum(path.liquidations[leg]) / (leg_s / 60.0))
    if path.fund is not None:
        before = path.fund[:event][np.isfinite(path.fund[:event])]
        low = _nan_extreme(path.fund[leg], np.nanmin)
        out["fund_drawdown"] = float(before[-1] - low) if before.size and np.isfinite(low) else float("nan")
    if path.adl is not None:
        out["adl_count"] = float(np.sum(path.adl[leg]))
    return out


def _nan_extreme(values: np.ndarray, reduce) -> float:
    return float(reduce(values)) if np.isfinite(values).any() else float("nan")


def _nan_median(values: np.ndarray) -> float:
    return float(np.nanmedian(values)) if np.isfinite(values).any() else float("nan")


def interval_table(
    rows: Sequence[Mapping[str, float]],
    level: float = 0.95,
    *,
    method: str = "t",
    n_resamples: int = 2000,
    rng: RandomLike | None = None,
) -> dict[str, tuple[float, float, float, int]]:
    """Give each statistic's mean over paths and an interval for it.

    Parameters
    ----------
    rows
        One dict per path (the output of :func:`shape_statistics`).
    level
        Coverage of the interval, in (0, 1).
    method
        ``"t"``: mean +- the Student t quantile x the standard error; ``"bootstrap"``: the percentile interval of
        the mean over ``n_resamples`` resamples of the paths drawn with ``rng`` (required).
    n_resamples
        Bootstrap resamples.
    rng
        Seed or Generator of the bootstrap.

    Returns
    -------
    dict
        ``{name: (mean, lo, hi, n)}`` for each name of :data:`STATISTICS`, over the ``n`` paths where the
        statistic is finite (NaN and infinite values, such as a censored half-life, are left out and show in ``n``);
        ``(nan, nan, nan, 0)`` without any, and NaN bounds with one.
    """
    if not (isinstance(level, float) and 0 < level < 1):
        raise ParameterError(f"`level` of interval_table must be a float in (0, 1); got {level!r}")
    if method not in ("t", "bootstrap"):
        raise ParameterError(f"`method` of interval_table must be 't' or 'bootstrap'; got {method!r}")
    gen = as_generator(rng) if method == "bootstrap" else None
    out = {}
    for name in STATISTICS:
        values = np.array([float(row.get(name, np.nan)) for row in rows], dtype=float)
        values = values[np.isfinite(values)]
        n = int(values.size)
        if n == 0:
            out[name] = (float("nan"), float("nan"), float("nan"), 0)
            continue
        mean = float(values.mean())
        if n == 1:
            out[name] = (mean, float("nan"), float("nan"), 1)
        elif gen is None:
            half = float(sps.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / np.sqrt(n))
            out[name] = (mean, mean - half, mean + half, n)
        else:
            means = values[gen.integers(0, n, size=(n_resamples, n))].mean(axis=1)
            lo, hi = np.quantile(means, [0.5 - level / 2, 0.5 + level / 2])
            out[name] = (mean, float(lo), float(hi), n)
    return out


def crash_path_from_abm(out: Mapping[str, xr.Dataset], grid_s: float = 1.0) -> CrashPath:
    """Put one run of :func:`simlab.agents.simulate_abm` on a regular grid from its open.

    Parameters
    ----------
    out
        ``simulate_abm``'s output: ``"books"`` and ``"events"`` are required; ``"liquidations"`` (present with
        leveraged traders) gives ``liquidations``, ``fund`` and ``adl``.
    grid_s
        Grid step (s); ``t_s`` is the time since the open, ``0, grid_s, ...`` up to the run's end.

    Returns
    -------
    CrashPath
        ``mid`` and ``spread`` (ticks) and ``depth`` (lots within :data:`DEPTH_BAND_BPS` of the mid over the
        recorded levels) from the books; ``volume`` (lots) from the trades; ``maker_gross`` and ``maker_net`` from
        the trades whose aggressor (``agent_id``) or resting side (``passive_agent_id``) is a market maker (a
        maker-to-maker trade counts both legs); ``liquidations`` (traders, counted at their first liquidation
        step), ``fund`` (after the last step; the configured fund before any) and ``adl`` (ADL steps) from the
        liquidation log.
    """
    return CrashPath(**abm_series(out, grid_s))


def crash_path_from_book(
    events: xr.Dataset | None,
    books: xr.Dataset | None,
    grid_s: float = 1.0,
    *,
    span_ns: tuple[int, int] | None = None,
    last_sale: np.ndarray | None = None,
) -> CrashPath:
    """Put real order flow in the simlab schema on a regular grid.

    Parameters
    ----------
    events
        Events (their TRADE and TRADE_HIDDEN records give ``volume``), or None.
    books
        L2 books (``mid``, ``spread``, ``depth`` within :data:`DEPTH_BAND_BPS` over the recorded levels), or None:
        then ``mid`` is the last trade price (a trade tape has no quotes) and ``spread`` and ``depth`` are absent.
    grid_s
        Grid step (s); the grid runs from the first record, floored to a whole step of UTC, to the last;
        ``origin_ns`` anchors ``t_s = 0``.
    span_ns
        ``(start, end)`` UTC ns: the grid runs from ``start`` to ``end`` instead (a regular session); trades outside
        it are left out, books before it still give the state at its start.
    last_sale
        Without books: a bool per event, True for the trades that may set the last price (for example not the
        average-price or late-reported prints of a consolidated tape); None: every trade. ``volume`` counts every
        trade either way.

    Returns
    -------
    CrashPath
        Prices in ticks; no maker or liquidation series (real tapes carry no agent ids).
    """
    return CrashPath(**book_tape_series(events, books, grid_s, span_ns, last_sale))


def extreme_move(path: CrashPath, window_s: float) -> tuple[float, int, float]:
    """Find the window of ``window_s`` seconds with the largest absolute mid return.

    The return of the window opening at grid sample ``k`` is ``mid[k + m] / mid[k] - 1`` with
    ``m = round(window_s / dt)``; windows open at ``k >= 1`` (one sample before them, so that
    :func:`shape_statistics` has a pre-event window) and need both ends' mids. Ties go to the earliest window.

    Returns
    -------
    tuple
        ``(event_s, direction, move)``: the window's opening time (on ``path.t_s``), the sign of its move (-1 a
        fall, +1 a rise) and the return (a signed fraction).
    """
    m = int(round(window_s / path.dt_s)) if np.isfinite(window_s) and window_s > 0 else 0
    if m < 1 or m + 1 >= path.t_s.size:
        raise ParameterError(
            f"`window_s` of extreme_move must be >= the grid step and shorter than the path less one step "
            f"({(path.t_s.size - 2) * path.dt_s} s); got {window_s!r}"
        )
    ret = path.mid[1 + m :] / path.mid[1:-m] - 1.0
    if not np.isfinite(ret).any():
        raise DataError(f"extreme_move: no window of {window_s} s has a mid at both ends")
    k = int(np.nanargmax(np.abs(ret)))
    return float(path.t_s[1 + k]), (1 if ret[k] > 0 else -1), float(ret[k])
