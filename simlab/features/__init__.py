"""Order-flow features computed from events and books, returned as xarray.

Binned features share one grid (see :mod:`simlab.features.trades`): left-closed bins ``[start, end)`` of
``bin_ns`` nanoseconds labelled by their end in the coordinate ``ts_ns``.
"""

from __future__ import annotations

from simlab.features.bars import compute_features
from simlab.features.book import book_bars, book_features, book_imbalance, depth, mid_price, spread
from simlab.features.classify import lee_ready, tick_rule
from simlab.features.ofi import cks_ofi, ofi_signal, order_flow_imbalance
from simlab.features.profile import footprint, point_of_control, stacked_imbalance, volume_profile
from simlab.features.trades import (
    bin_ends,
    cumulative_volume_delta,
    large_trade_threshold,
    rolling_trade_flow,
    select_trades,
    trade_bars,
)

__all__ = [
    "bin_ends",
    "book_bars",
    "book_features",
    "book_imbalance",
    "cks_ofi",
    "compute_features",
    "cumulative_volume_delta",
    "depth",
    "footprint",
    "large_trade_threshold",
    "lee_ready",
    "mid_price",
    "ofi_signal",
    "order_flow_imbalance",
    "point_of_control",
    "rolling_trade_flow",
    "select_trades",
    "spread",
    "stacked_imbalance",
    "tick_rule",
    "trade_bars",
    "volume_profile",
]
