"""Put agent-market runs and real order flow on a regular grid: the series of :class:`simlab.metrics.crash.CrashPath`.

A state variable at grid time ``t`` is the value after every record at or before ``t``; a flow at ``t`` is the sum
over ``[t, t + dt)``. Every function returns plain arrays; :mod:`simlab.metrics.crash` wraps them in a CrashPath.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError

DEPTH_BAND_BPS = 10.0
TRADE_KINDS = (5, 6)  # EventKind.TRADE, EventKind.TRADE_HIDDEN (auction crosses are left out)


def grid_ns(grid_s: Any, source: str) -> int:
    """The grid step in whole ns, or a ParameterError naming ``source``."""
    if isinstance(grid_s, bool) or not isinstance(grid_s, (int, float)) or not (np.isfinite(grid_s) and grid_s > 0):
        raise ParameterError(f"`grid_s` of {source} must be a finite number > 0; got {grid_s!r}")
    step = int(round(grid_s * 1e9))
    if abs(grid_s * 1e9 - step) > 1e-3:
        raise ParameterError(f"`grid_s` of {source} must be a whole number of ns; got {grid_s!r}")
    return step


def flow(ts_ns: np.ndarray, weights: np.ndarray, origin_ns: int, dt_ns: int, n: int, source: str) -> np.ndarray:
    """Sum ``weights`` over the grid intervals ``[origin + k dt, origin + (k + 1) dt)``, k < n; a time outside the
    grid's span is a DataError, not dropped."""
    k = (np.asarray(ts_ns, np.int64) - origin_ns) // dt_ns
    if k.size and (k.min() < 0 or k.max() >= n):
        raise DataError(
            f"{source}: event times must lie in the grid's span [{origin_ns}, {origin_ns + n * dt_ns}) ns; "
            f"got {int(np.min(ts_ns))} .. {int(np.max(ts_ns))}"
        )
    return np.bincount(k, weights=np.asarray(weights, float), minlength=n).astype(float)


def book_series(books: xr.Dataset, times_ns: np.ndarray, source: str) -> dict[str, np.ndarray]:
    """Mid and spread (price ticks) and depth (lots within 10 bps of the mid over the recorded levels, both
    sides) of the last book at or before each of ``times_ns``; NaN where a side is empty or no book exists yet."""
    ts = books["ts_ns"].values
    if ts.size and np.any(np.diff(ts) < 0):
        raise DataError(f"{source}: the books' `ts_ns` must be non-decreasing")
    row = np.searchsorted(ts, times_ns, side="right") - 1
    pick = np.maximum(row, 0)
    bid_p, bid_q = books["bid_price"].values[pick].astype(float), books["bid_qty"].values[pick].astype(float)
    ask_p, ask_q = books["ask_price"].values[pick].astype(float), books["ask_qty"].values[pick].astype(float)
    quoted = (row >= 0) & (bid_q[:, 0] > 0) & (ask_q[:, 0] > 0)
    mid = np.where(quoted, 0.5 * (bid_p[:, 0] + ask_p[:, 0]), np.nan)
    band = (DEPTH_BAND_BPS * 1e-4 * mid)[:, None]
    near_bid = (bid_q > 0) & (bid_p >= mid[:, None] - band)
    near_ask = (ask_q > 0) & (ask_p <= mid[:, None] + band)
    depth = (bid_q * near_bid).sum(axis=1) + (ask_q * near_ask).sum(axis=1)
    spread = np.where(quoted, ask_p[:, 0] - bid_p[:, 0], np.nan)
    return dict(mid=mid, spread=spread, depth=np.where(quoted, depth, np.nan))


def abm_series(out: Mapping[str, xr.Dataset], grid_s: float) -> dict[str, Any]:
    """Every CrashPath series of one ``simulate_abm`` run, on the grid ``open + k grid_s`` to the run's end."""
    source = "crash_path_from_abm"
    for group in ("books", "events"):
        if group not in out:
            raise DataError(f"{source}: the output has no {group!r} group; got {sorted(out)}")
    events = out["events"]
    config = json.loads(events.attrs["config"])
    open_ns, dt_ns = int(config["market"]["open_ns"]), grid_ns(grid_s, source)
    n = int(float(config["run"]["duration_s"]) * 1e9 // dt_ns) + 1
    times = open_ns + dt_ns * np.arange(n, dtype=np.int64)
    series: dict[str, Any] = book_series(out["books"], times, source)
    trades = np.isin(events["kind"].values, TRADE_KINDS)
    ts, qty = events["ts_ns"].values[trades], events["qty_lots"].values[trades].astype(float)
    side = events["side"].values[trades].astype(float)
    is_maker = _class_members(events, "market_maker")
    aggressor = is_maker(events["agent_id"].values[trades]).astype(float)
    passive = is_maker(events["passive_agent_id"].values[trades]).astype(float)
    series.update(
        volume=flow(ts, qty, open_ns, dt_ns, n, source),
        maker_gross=flow(ts, qty * (aggressor + passive), open_ns, dt_ns, n, source),
        maker_net=flow(ts, side * qty * (aggressor - passive), open_ns, dt_ns, n, source),
    )
    if "liquidations" in out:
        fund0 = float(config["agents"]["leveraged"]["insurance_fund_ticks"])
        series.update(_liquidation_series(out["liquidations"], fund0, open_ns, dt_ns, times))
    series.update(t_s=np.arange(n) * (dt_ns / 1e9), origin_ns=open_ns)
    return series


def _class_members(events: xr.Dataset, name: str):
    """A function telling which agent ids belong to the agent class ``name`` (ids are given in class order)."""
    classes, counts = list(events.attrs["agent_classes"]), np.asarray(events.attrs["agent_counts"], np.int64)
    k = classes.index(name)
    first, last = int(counts[:k].sum()), int(counts[: k + 1].sum())
    return lambda ids: (np.asarray(ids) >= first) & (np.asarray(ids) < last)


def _liquidation_series(report: xr.Dataset, fund0: float, origin_ns: int, dt_ns: int, times: np.ndarray) -> dict:
    """Liquidated traders (at their first step) and ADL steps per interval; the fund after the last step."""
    source, n = "crash_path_from_abm", times.size
    ts = report["step_ts_ns"].values
    first = np.unique(report["step_agent_id"].values, return_index=True)[1]
    adl = np.asarray(report["step_kind"].values, dtype=str) == "adl"
    after = np.searchsorted(ts, times, side="right") - 1
    fund_steps = np.append(report["insurance_fund_ticks_lots"].values.astype(float), fund0)
    return dict(
        liquidations=flow(ts[first], np.ones(first.size), origin_ns, dt_ns, n, source),
        adl=flow(ts[adl], np.ones(int(adl.sum())), origin_ns, dt_ns, n, source),
        fund=fund_steps[after],  # index -1 (no step yet) picks the configured fund appended last
    )


def book_tape_series(
    events: xr.Dataset | None,
    books: xr.Dataset | None,
    grid_s: float,
    span_ns: tuple[int, int] | None,
    last_sale: np.ndarray | None,
) -> dict[str, Any]:
    """CrashPath series of real order flow, on the grid from ``span_ns[0]`` to ``span_ns[1]`` or else from the first
    record (floored to the step) to the last."""
    source = "crash_path_from_book"
    if events is None and books is None:
        raise ParameterError(f"{source} needs `events`, `books` or both; got neither")
    dt_ns = grid_ns(grid_s, source)
    stamps = [d["ts_ns"].values for d in (events, books) if d is not None and d.sizes[_dim(d)]]
    if not stamps:
        raise DataError(f"{source}: the events and books hold no record")
    if span_ns is None:
        first, last = min(int(s.min()) for s in stamps), max(int(s.max()) for s in stamps)
        origin = first // dt_ns * dt_ns
    else:
        origin, last = _span(span_ns, source)
    n = (last - origin) // dt_ns + 1
    times = origin + dt_ns * np.arange(n, dtype=np.int64)
    series: dict[str, Any] = {} if books is None else book_series(books, times, source)
    if events is not None:
        series.update(_trade_series(events, times, dt_ns, last_sale, with_mid=books is None))
    if np.all(np.isnan(series["mid"])):
        raise DataError(f"{source}: no time of the grid has a mid (a two-sided book or, without books, a trade)")
    series.update(t_s=np.arange(n) * (dt_ns / 1e9), origin_ns=int(origin))
    return series


def _trade_series(
    events: xr.Dataset, times: np.ndarray, dt_ns: int, last_sale: np.ndarray | None, with_mid: bool
) -> dict[str, np.ndarray]:
    """Volume of the trades in the grid's span and, ``with_mid``, the last eligible trade price at each time."""
    source = "crash_path_from_book"
    ts = events["ts_ns"].values
    trades = np.isin(events["kind"].values, TRADE_KINDS) & (ts >= times[0]) & (ts < times[-1] + dt_ns)
    if np.any(np.diff(ts[trades]) < 0):
        raise DataError(f"{source}: the trades' `ts_ns` must be non-decreasing")
    out = {"volume": flow(ts[trades], events["qty_lots"].values[trades], int(times[0]), dt_ns, times.size, source)}
    if with_mid:
        if last_sale is not None:
            last_sale = np.asarray(last_sale)
            if last_sale.dtype != bool or last_sale.shape != ts.shape:
                raise ParameterError(
                    f"`last_sale` of {source} must be a bool array of the events' length {ts.size}; "
                    f"got {last_sale.dtype} of shape {last_sale.shape}"
                )
            trades = trades & last_sale
        row = np.searchsorted(ts[trades], times, side="right") - 1
        price = events["price_ticks"].values[trades].astype(float)
        out["mid"] = np.where(row >= 0, price[np.maximum(row, 0)] if price.size else np.nan, np.nan)
    return out


def _span(span_ns: Any, source: str) -> tuple[int, int]:
    try:
        start, end = (int(x) for x in span_ns)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`span_ns` of {source} must be two int ns times (start, end); got {span_ns!r}") from exc
    if end <= start:
        raise ParameterError(f"`span_ns` of {source} must end after it starts; got {span_ns!r}")
    return start, end


def _dim(data: xr.Dataset) -> str:
    return "event" if "event" in data.sizes else "time"
