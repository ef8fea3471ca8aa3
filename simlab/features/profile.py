"""Volume at price: the volume profile with its point of control, the footprint matrix, stacked imbalances.

Prices are grouped into buckets of ``bucket_ticks`` ticks: a trade at price p lands on the level
``floor(p / bucket_ticks) * bucket_ticks``. Only levels that traded appear along ``price_ticks`` (ascending).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.features.trades import bin_ends, positive_ns, select_trades

SIDES = np.array([1, -1], dtype=np.int8)
"""The ``side`` coordinate of a footprint: +1 buy (aggressor) volume, -1 sell volume."""


def _window_trades(events: xr.Dataset, start_ns: int | None, end_ns: int | None, bucket_ticks: int, owner: str):
    if isinstance(bucket_ticks, bool) or not isinstance(bucket_ticks, (int, np.integer)) or bucket_ticks < 1:
        raise ParameterError(f"`bucket_ticks` of {owner} must be an int >= 1; got {bucket_ticks!r}")
    trades = select_trades(events)
    ts = trades["ts_ns"].values
    low = 0 if start_ns is None else np.searchsorted(ts, start_ns, side="left")
    high = ts.size if end_ns is None else np.searchsorted(ts, end_ns, side="left")
    price = (trades["price_ticks"].values[low:high] // bucket_ticks) * bucket_ticks
    return ts[low:high], trades["side"].values[low:high], price, trades["qty_lots"].values[low:high]


def volume_profile(
    events: xr.Dataset, *, start_ns: int | None = None, end_ns: int | None = None, bucket_ticks: int = 1
) -> xr.Dataset:
    """Return the traded volume per price level over the window ``[start_ns, end_ns)`` (ns; None: unbounded).

    Variables over ``price_ticks``: ``volume_lots``, ``buy_volume_lots``, ``sell_volume_lots`` (int64), and the
    scalar ``point_of_control_ticks``: the level with the most volume, the LOWEST such price on a tie (absent
    when the window holds no trade).
    """
    _, side, price, qty = _window_trades(events, start_ns, end_ns, bucket_ticks, "volume_profile")
    levels, where = np.unique(price, return_inverse=True)
    n = levels.size
    volume = np.bincount(where, weights=qty, minlength=n).astype(np.int64)
    buy = np.bincount(where, weights=np.where(side > 0, qty, 0), minlength=n).astype(np.int64)
    sell = np.bincount(where, weights=np.where(side < 0, qty, 0), minlength=n).astype(np.int64)
    profile = xr.Dataset(
        {
            "volume_lots": ("price_ticks", volume),
            "buy_volume_lots": ("price_ticks", buy),
            "sell_volume_lots": ("price_ticks", sell),
        },
        coords={"price_ticks": levels.astype(np.int64)},
        attrs={"bucket_ticks": int(bucket_ticks)},
    )
    if n:
        profile["point_of_control_ticks"] = point_of_control(profile["volume_lots"])
    return profile


def point_of_control(volume: xr.DataArray) -> int:
    """Return the price (ticks) with the most volume in a profile over ``price_ticks``; ties go to the lowest price.

    Raises
    ------
    DataError
        When the profile is empty.
    """
    if volume.sizes.get("price_ticks", 0) == 0:
        raise DataError("point_of_control: the volume profile is empty (no trade in the window)")
    order = np.argsort(volume["price_ticks"].values, kind="stable")
    values = volume.values[order]
    return int(volume["price_ticks"].values[order][int(np.argmax(values))])


def footprint(
    events: xr.Dataset,
    *,
    bin_ns: int,
    start_ns: int | None = None,
    end_ns: int | None = None,
    bucket_ticks: int = 1,
) -> xr.DataArray:
    """Return the footprint: buy and sell volume (lots) per time bin and price level.

    A DataArray of int64 over ``(time, price_ticks, side)`` with ``ts_ns`` along ``time`` (bin ends: the bar
    grid of :func:`simlab.features.trades.bin_ends` over all events, as in ``trade_bars``), the traded levels
    along ``price_ticks`` and ``side`` = [+1 buy, -1 sell] (aggressor side; trades of side 0 are left out).
    """
    bin_ns = positive_ns(bin_ns, "bin_ns", "footprint")
    ts, side, price, qty = _window_trades(events, start_ns, end_ns, bucket_ticks, "footprint")
    ends = bin_ends(events["ts_ns"].values, bin_ns, start_ns=start_ns, end_ns=end_ns)
    levels, where = np.unique(price, return_inverse=True)
    cells = np.zeros((ends.size, levels.size, 2), dtype=np.int64)
    if ends.size:
        bins = (ts - (ends[0] - bin_ns)) // bin_ns
        keep = (side != 0) & (bins < ends.size)
        column = np.where(side > 0, 0, 1)
        flat = (bins * levels.size + where) * 2 + column
        cells += np.bincount(flat[keep], weights=qty[keep], minlength=cells.size).astype(np.int64).reshape(cells.shape)
    return xr.DataArray(
        cells,
        dims=("time", "price_ticks", "side"),
        coords={"ts_ns": ("time", ends), "price_ticks": levels.astype(np.int64), "side": SIDES},
        name="footprint_lots",
        attrs={"bin_ns": bin_ns, "bucket_ticks": int(bucket_ticks)},
    )


def stacked_imbalance(footprint: xr.DataArray, *, share: float = 0.7, quantile: float = 0.8) -> xr.DataArray:
    """Flag the significant levels of a footprint: +1 buy-dominated, -1 sell-dominated, 0 neither (int8).

    In each time bin, a level with volume v = buy + sell > 0 is significant when one side's share of v exceeds
    ``share`` (strictly: buy / v > share gives +1, sell / v > share gives -1) and v is at least the bin's
    ``quantile`` of the volumes of its m traded levels, taken by the inverted-CDF rule: sort those volumes
    ascending as v_(1) <= ... <= v_(m) and take v_(j) with j = ceil(quantile * m) (so with quantile 0.8 the top
    fifth qualifies, ties included; a bin with one traded level keeps it). Returns (time, price_ticks).
    """
    if footprint.dims != ("time", "price_ticks", "side"):
        raise DataError(f"stacked_imbalance needs a footprint over (time, price_ticks, side); got {footprint.dims}")
    if not 0.5 <= share < 1.0:
        raise ParameterError(f"`share` of stacked_imbalance must be in [0.5, 1); got {share!r}")
    if not 0.0 < quantile <= 1.0:
        raise ParameterError(f"`quantile` of stacked_imbalance must be in (0, 1]; got {quantile!r}")
    buy = footprint.sel(side=1).values
    sell = footprint.sel(side=-1).values
    volume = buy + sell
    ordered = np.sort(volume, axis=1)
    traded = (volume > 0).sum(axis=1)
    rank = np.maximum(np.ceil(quantile * traded - 1e-9).astype(np.int64), 1)
    column = np.clip(volume.shape[1] - traded + rank - 1, 0, max(volume.shape[1] - 1, 0))
    cut = np.take_along_axis(ordered, column[:, None], axis=1) if volume.shape[1] else np.zeros((volume.shape[0], 1))
    heavy = (volume > 0) & (volume >= cut)
    signs = (heavy & (buy > share * volume)).astype(np.int8) - (heavy & (sell > share * volume)).astype(np.int8)
    coords = {"ts_ns": footprint["ts_ns"], "price_ticks": footprint["price_ticks"]}
    return xr.DataArray(signs, dims=("time", "price_ticks"), coords=coords, name="stacked_imbalance")
