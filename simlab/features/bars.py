"""The standard bar set: trade and book features on one grid (used by `simlab features` and the demo)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from simlab.features.book import _book_bar_variables, _checked, _levels
from simlab.features.trades import _trade_arrays, _trade_bar_variables, bin_ends, positive_ns
from simlab.schema import make_bars


def compute_features(
    events: xr.Dataset,
    books: xr.Dataset | None = None,
    *,
    bin_ns: int,
    start_ns: int | None = None,
    end_ns: int | None = None,
    threshold: float = 0.1,
    levels: int = 5,
    large_lots: float | None = None,
) -> xr.Dataset:
    """Compute the standard order-flow bars of ``events`` (and ``books`` when given) on one grid.

    The grid covers the events and the books together (or ``[start_ns, end_ns)``, ns). Trade variables are
    those of :func:`~simlab.features.trades.trade_bars` (counts, volumes, ``cvd_lots``, ``trade_imbalance``,
    ``ofi``, ``ofi_signal`` at ``threshold``, ``vwap_ticks``, ``twap_ticks``, ``close_ticks``,
    ``vwap_deviation_bps``, ``large_trade_share``, ``large_volume_share``); with books, those of
    :func:`~simlab.features.book.book_bars` over the first ``levels`` levels (capped at the book's depth):
    ``mid_ticks``, ``spread_ticks``, ``bid_depth_lots``, ``ask_depth_lots``, ``imbalance_l1``,
    ``imbalance_depth`` and ``cks_ofi_lots``.

    Parameters
    ----------
    events
        Schema events (trades are the TRADE and TRADE_HIDDEN kinds).
    books
        Optional L2 books over (time, level).
    bin_ns
        Bar length in nanoseconds.
    """
    bin_ns = positive_ns(bin_ns, "bin_ns", "compute_features")
    arrays = _trade_arrays(events)
    event_ts = events.variables["ts_ns"].values
    stamps = [event_ts[[0, -1]]] if event_ts.size else []
    if books is not None and books.sizes.get("time", 0):
        stamps.append(books.variables["ts_ns"].values[[0, -1]])
    span = np.concatenate(stamps) if stamps else np.zeros(0, dtype=np.int64)
    ends = bin_ends(span, bin_ns, start_ns=start_ns, end_ns=end_ns)
    variables, attrs = _trade_bar_variables(events, arrays, ends, bin_ns, threshold, large_lots)
    if books is not None:
        depth_levels = min(int(levels), books.sizes["level"])
        depth_levels = _levels(_checked(books, "book_bars"), depth_levels, "book_bars")
        variables.update(_book_bar_variables(books, bin_ns, depth_levels, ends))
        attrs["depth_levels"] = depth_levels
    return make_bars(ends, variables, attrs)
