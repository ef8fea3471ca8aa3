"""Trade-flow features: buy/sell counts and volumes per bin and on trailing windows, CVD, VWAP/TWAP, large trades.

Conventions shared by every binned feature of :mod:`simlab.features`:

* Times are int64 nanoseconds since the epoch; ``bin_ns`` and ``window_ns`` are lengths in ns.
* Bins are left-closed, right-open ``[start, end)`` on the grid ``origin + k * bin_ns``; a bar's coordinate
  ``ts_ns`` is its bin END. The ``origin`` is ``start_ns`` when given, else the first timestamp floored to a
  multiple of ``bin_ns`` (so 1 s bars start on whole seconds). The grid ends with the bin holding the last
  timestamp, or at ``end_ns`` (exclusive) when given.
* Trades are the events of kind TRADE and TRADE_HIDDEN; ``side`` is the aggressor (+1 buy, -1 sell). A trade of
  side 0 (unknown) counts in the totals but in neither the buy nor the sell columns.
* Trailing windows are ``(t - window_ns, t]``: they include every trade stamped ``t``.
* Prices are float ticks (NaN where undefined), sizes int64 lots.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.features import _kernels
from simlab.features.ofi import checked_threshold, ofi_signal, order_flow_imbalance
from simlab.schema import EventKind, make_bars

TRADE_KINDS = (int(EventKind.TRADE), int(EventKind.TRADE_HIDDEN))
_TRADE_FIELDS = ("ts_ns", "side", "price_ticks", "qty_lots")
_KEPT_ATTRS = ("tick_size", "lot_size", "instrument", "venue")


def select_trades(events: xr.Dataset) -> xr.Dataset:
    """Return the trades (kinds TRADE and TRADE_HIDDEN) of an events Dataset, keeping ts, side, price and size.

    Raises
    ------
    DataError
        When ``events`` lacks one of ``ts_ns``, ``kind``, ``side``, ``price_ticks``, ``qty_lots`` along ``event``.
    """
    is_trade = _trade_mask(events)
    trades = events[list(_TRADE_FIELDS)]
    return trades if is_trade is None else trades.isel(event=np.flatnonzero(is_trade))


def _trade_mask(events: xr.Dataset) -> np.ndarray | None:
    """Check the trade fields of ``events``; return the trade mask, None when every event is a trade."""
    variables = events.variables
    for name in ("kind", *_TRADE_FIELDS):
        if name not in variables or variables[name].dims != ("event",):
            raise DataError(f"events: features need the variable {name!r} along 'event'; got {list(events.data_vars)}")
    kind = variables["kind"].values
    is_trade = (kind == TRADE_KINDS[0]) | (kind == TRADE_KINDS[1])
    return None if is_trade.all() else is_trade


def _trade_arrays(events: xr.Dataset) -> list[np.ndarray]:
    """The trades' ts_ns, side, price_ticks and qty_lots arrays (checked as select_trades does)."""
    is_trade = _trade_mask(events)
    arrays = [events.variables[name].values for name in _TRADE_FIELDS]
    if is_trade is None:
        return arrays
    rows = np.flatnonzero(is_trade)  # one scan of the mask, then fast takes
    return [values[rows] for values in arrays]


def positive_ns(value: int, name: str, owner: str) -> int:
    """Return ``value`` as an int after checking it is a whole number of ns > 0 (raise ParameterError)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ParameterError(f"`{name}` of {owner} must be a whole number of nanoseconds > 0; got {value!r}")
    return int(value)


def bin_ends(ts_ns: np.ndarray, bin_ns: int, *, start_ns: int | None = None, end_ns: int | None = None) -> np.ndarray:
    """Return the int64 bin ends (ns) of the bar grid covering ``ts_ns`` (see the module notes for the rule).

    Parameters
    ----------
    ts_ns
        Timestamps (ns since the epoch) the grid must cover when ``start_ns`` / ``end_ns`` are not given.
    bin_ns
        Bin length in ns (> 0).
    start_ns, end_ns
        Optional grid start (inclusive) and end (exclusive), ns since the epoch.
    """
    bin_ns = positive_ns(bin_ns, "bin_ns", "bin_ends")
    ts = np.asarray(ts_ns, dtype=np.int64)
    if start_ns is None and ts.size == 0:
        return np.zeros(0, dtype=np.int64)
    origin = int(start_ns) if start_ns is not None else (int(ts.min()) // bin_ns) * bin_ns
    if end_ns is not None:
        last = int(end_ns)
    else:
        last = int(ts.max()) + 1 if ts.size else origin
    n_bins = max(0, -((origin - last) // bin_ns))
    return origin + bin_ns * np.arange(1, n_bins + 1, dtype=np.int64)


def large_trade_threshold(qty_lots: np.ndarray, percentile: float = 95.0) -> float:
    """Return the ``percentile`` (numpy's linear rule) of trade sizes in lots; NaN when there are no trades."""
    if not 0.0 <= percentile <= 100.0:
        raise ParameterError(f"`percentile` of large_trade_threshold must be in [0, 100]; got {percentile}")
    qty = np.asarray(qty_lots)
    return float(np.percentile(qty, percentile)) if qty.size else float("nan")


def trade_bars(
    events: xr.Dataset,
    *,
    bin_ns: int,
    start_ns: int | None = None,
    end_ns: int | None = None,
    threshold: float = 0.1,
    large_lots: float | None = None,
    large_percentile: float = 95.0,
) -> xr.Dataset:
    """Aggregate trades into bars of ``bin_ns`` nanoseconds (one numba pass).

    Variables (over ``time``): ``trade_count``, ``buy_count``, ``sell_count``, ``volume_lots``,
    ``buy_volume_lots``, ``sell_volume_lots`` (int64, 0 in empty bins); ``cvd_lots`` (cumulative buy minus sell
    volume since the grid start); ``trade_imbalance`` = (buy_vol - sell_vol) / (buy_vol + sell_vol); ``ofi`` =
    (N_buy - N_sell) / (N_buy + N_sell) and ``ofi_signal`` (+1 BUY if ofi > threshold, -1 SELL if < -threshold,
    else 0 HOLD); ``vwap_ticks``, ``close_ticks`` (last trade price), ``vwap_deviation_bps`` = 1e4 (close -
    vwap) / vwap, all NaN in empty bins; ``twap_ticks``, the time average over the bin of the last trade price
    (each price held until the next trade, carried across bins: NaN only before the first trade);
    ``large_trade_share`` and ``large_volume_share``, the share of trades (of volume) with size > the large-trade
    threshold (NaN in empty bins).

    Parameters
    ----------
    events
        Schema events; only trades are used.
    bin_ns, start_ns, end_ns
        Bin length and optional grid bounds in ns (see the module notes).
    threshold
        OFI signal threshold (dimensionless, >= 0).
    large_lots
        Large-trade threshold in lots. None takes the ``large_percentile`` of all trade sizes in ``events``
        (a look-ahead over the whole input: pass a fixed threshold for causal use).
    """
    bin_ns = positive_ns(bin_ns, "bin_ns", "trade_bars")
    arrays = _trade_arrays(events)
    ends = bin_ends(events.variables["ts_ns"].values, bin_ns, start_ns=start_ns, end_ns=end_ns)
    variables, attrs = _trade_bar_variables(events, arrays, ends, bin_ns, threshold, large_lots, large_percentile)
    return make_bars(ends, variables, attrs)


def _trade_bar_variables(events, arrays, ends, bin_ns, threshold, large_lots, large_percentile=95.0):
    # the variables and attributes of trade_bars on the grid `ends` from the trades' arrays (see _trade_arrays)
    ts, side, price, qty = arrays
    large = large_trade_threshold(qty, large_percentile) if large_lots is None else float(large_lots)
    attrs = {key: events.attrs[key] for key in _KEPT_ATTRS if key in events.attrs}
    attrs.update(bin_ns=bin_ns, ofi_threshold=float(threshold), large_trade_lots=large)
    threshold = checked_threshold(threshold)
    origin = int(ends[0]) - bin_ns if ends.size else 0
    limit = np.inf if np.isnan(large) else large
    ints, floats, signal = _kernels.bin_trades(ts, side, price, qty, origin, bin_ns, ends.size, limit, threshold)
    variables = dict(zip(_kernels.INT_ROWS, ints, strict=True))
    variables.update(zip(_kernels.FLOAT_ROWS, floats, strict=True))
    variables["ofi_signal"] = signal
    return {name: variables[name] for name in _BAR_ORDER}, attrs


_BAR_ORDER = (
    "trade_count",
    "buy_count",
    "sell_count",
    "volume_lots",
    "buy_volume_lots",
    "sell_volume_lots",
    "cvd_lots",
    "trade_imbalance",
    "ofi",
    "ofi_signal",
    "vwap_ticks",
    "twap_ticks",
    "close_ticks",
    "vwap_deviation_bps",
    "large_trade_share",
    "large_volume_share",
)


def rolling_trade_flow(events: xr.Dataset, *, window_ns: int, threshold: float = 0.1) -> xr.Dataset:
    """Return, for every trade, the flow of the trailing window ``(t - window_ns, t]`` (ns).

    Variables along ``event`` (the trades only, coordinate ``ts_ns``): ``buy_count``, ``sell_count``,
    ``buy_volume_lots``, ``sell_volume_lots`` (int64), the count OFI ``ofi`` and its ``ofi_signal`` at
    ``threshold``. Every trade sees the trades stamped at its own time, including those after it in the file.
    """
    window_ns = positive_ns(window_ns, "window_ns", "rolling_trade_flow")
    trades = select_trades(events)
    ts = trades["ts_ns"].values
    counts, volumes = _kernels.rolling_flow(ts, trades["side"].values, trades["qty_lots"].values, window_ns)
    ofi = order_flow_imbalance(counts[:, 0], counts[:, 1])
    variables = {
        "buy_count": counts[:, 0],
        "sell_count": counts[:, 1],
        "buy_volume_lots": volumes[:, 0],
        "sell_volume_lots": volumes[:, 1],
        "ofi": ofi,
        "ofi_signal": ofi_signal(ofi, threshold=threshold),
    }
    data_vars = {name: ("event", values) for name, values in variables.items()}
    attrs = {key: events.attrs[key] for key in _KEPT_ATTRS if key in events.attrs}
    attrs.update(window_ns=window_ns, ofi_threshold=float(threshold))
    return xr.Dataset(data_vars, coords={"ts_ns": ("event", ts)}, attrs=attrs)


def cumulative_volume_delta(events: xr.Dataset) -> xr.DataArray:
    """Return the cumulative volume delta (lots) after each trade: the running sum of side * qty_lots."""
    trades = select_trades(events)
    signed = trades["side"].values.astype(np.int64) * trades["qty_lots"].values
    return xr.DataArray(
        np.cumsum(signed), dims="event", coords={"ts_ns": ("event", trades["ts_ns"].values)}, name="cvd_lots"
    )
