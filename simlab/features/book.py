"""L2 book features: mid-price, spread, depth and imbalance per snapshot, and sampled on a bar grid.

An empty level has quantity 0 (price NO_PRICE). A side is empty when its touch (level 1) is empty. The mid,
the spread and the L1 imbalance are NaN unless both touches are present; the k-level imbalance is NaN unless both
sides hold depth; depth itself is 0 for an empty side. Prices are float ticks, sizes lots.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.features import _kernels
from simlab.features.ofi import cks_ofi, order_flow_imbalance
from simlab.features.trades import bin_ends, positive_ns
from simlab.schema import BOOK_FIELDS, make_bars


def _checked(books: xr.Dataset, owner: str) -> xr.Dataset:
    variables = books.variables
    for name in BOOK_FIELDS:
        if name not in variables or variables[name].dims != ("time", "level"):
            raise DataError(f"books: {owner} needs {name!r} over ('time', 'level'); got {list(books.data_vars)}")
    if "ts_ns" not in books.coords:
        raise DataError(f"books: {owner} needs the coordinate 'ts_ns' along 'time'")
    return books


def _over_time(values: np.ndarray, books: xr.Dataset, name: str) -> xr.DataArray:
    return xr.DataArray(values, dims="time", coords={"ts_ns": ("time", books["ts_ns"].values)}, name=name)


def _touch(books: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    both = (books["bid_qty"].values[:, 0] > 0) & (books["ask_qty"].values[:, 0] > 0)
    bid = np.where(both, books["bid_price"].values[:, 0], 0).astype(np.float64)
    ask = np.where(both, books["ask_price"].values[:, 0], 0).astype(np.float64)
    return np.where(both, bid, np.nan), np.where(both, ask, np.nan)


def mid_price(books: xr.Dataset) -> xr.DataArray:
    """Return the mid-price (best bid + best ask) / 2 in ticks per snapshot; NaN when a touch is empty."""
    bid, ask = _touch(_checked(books, "mid_price"))
    return _over_time((bid + ask) / 2.0, books, "mid_ticks")


def spread(books: xr.Dataset) -> xr.DataArray:
    """Return the spread (best ask - best bid) in ticks per snapshot; NaN when a touch is empty."""
    bid, ask = _touch(_checked(books, "spread"))
    return _over_time(ask - bid, books, "spread_ticks")


def _levels(books: xr.Dataset, levels: int, owner: str) -> int:
    n_levels = books.sizes["level"]
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or not 1 <= levels <= n_levels:
        raise ParameterError(
            f"`levels` of {owner} must be an int in [1, {n_levels}] (the book's depth); got {levels!r}"
        )
    return int(levels)


def depth(books: xr.Dataset, *, levels: int = 5) -> xr.Dataset:
    """Return ``bid_depth_lots`` and ``ask_depth_lots``: the summed quantity of the first ``levels`` levels (int64)."""
    levels = _levels(_checked(books, "depth"), levels, "depth")
    bid = books["bid_qty"].values[:, :levels].sum(axis=1)
    ask = books["ask_qty"].values[:, :levels].sum(axis=1)
    return xr.Dataset(
        {"bid_depth_lots": ("time", bid), "ask_depth_lots": ("time", ask)},
        coords={"ts_ns": ("time", books["ts_ns"].values)},
        attrs={"depth_levels": levels},
    )


def book_imbalance(books: xr.Dataset, *, levels: int = 1) -> xr.DataArray:
    """Return (bid_qty - ask_qty) / (bid_qty + ask_qty) over the first ``levels`` levels per snapshot.

    NaN when either side is empty over those levels (an empty or one-sided book), so the value lies in (-1, 1).
    """
    levels = _levels(_checked(books, "book_imbalance"), levels, "book_imbalance")
    bid = books["bid_qty"].values[:, :levels].sum(axis=1)
    ask = books["ask_qty"].values[:, :levels].sum(axis=1)
    values = np.where((bid > 0) & (ask > 0), order_flow_imbalance(bid, ask), np.nan)
    return _over_time(values, books, f"imbalance_l{levels}")


def book_features(books: xr.Dataset, *, levels: int = 5) -> xr.Dataset:
    """Return the per-snapshot book features over ``time``.

    Variables: ``mid_ticks``, ``spread_ticks``, ``bid_depth_lots``, ``ask_depth_lots`` (first ``levels``
    levels), ``imbalance_l1`` and ``imbalance_depth`` (over ``levels``), and ``cks_ofi_lots`` (see
    :func:`simlab.features.ofi.cks_ofi`).
    """
    levels = _levels(_checked(books, "book_features"), levels, "book_features")
    sizes = depth(books, levels=levels)
    features = xr.Dataset(
        {
            "mid_ticks": mid_price(books),
            "spread_ticks": spread(books),
            "bid_depth_lots": sizes["bid_depth_lots"],
            "ask_depth_lots": sizes["ask_depth_lots"],
            "imbalance_l1": book_imbalance(books, levels=1),
            "imbalance_depth": book_imbalance(books, levels=levels),
            "cks_ofi_lots": cks_ofi(books),
        },
        attrs={"depth_levels": levels},
    )
    return features


def book_bars(
    books: xr.Dataset,
    *,
    bin_ns: int,
    start_ns: int | None = None,
    end_ns: int | None = None,
    levels: int = 5,
    ends: np.ndarray | None = None,
) -> xr.Dataset:
    """Sample the book features on a bar grid: the state at each bin end, and CKS OFI summed over the bin.

    A bar ``[start, end)`` takes the last snapshot stamped before ``end`` (carried forward through bins without
    snapshots; all NaN before the first snapshot, depths included, as float). ``cks_ofi_lots`` sums e_n over the
    snapshots stamped in ``[start, end)`` (int64, 0 when none). ``ends`` (int64 ns) overrides the grid built from
    ``bin_ns``, ``start_ns`` and ``end_ns`` (see :mod:`simlab.features.trades`).
    """
    bin_ns = positive_ns(bin_ns, "bin_ns", "book_bars")
    levels = _levels(_checked(books, "book_bars"), levels, "book_bars")
    if ends is None:
        ends = bin_ends(books.variables["ts_ns"].values, bin_ns, start_ns=start_ns, end_ns=end_ns)
    attrs = {"bin_ns": bin_ns, "depth_levels": levels}
    return make_bars(ends, _book_bar_variables(books, bin_ns, levels, ends), attrs)


def _book_bar_variables(books: xr.Dataset, bin_ns: int, levels: int, ends: np.ndarray) -> dict[str, np.ndarray]:
    # the variables of book_bars, from checked books and levels (one numba pass)
    variables = books.variables
    arrays = (np.asarray(variables[name].values, dtype=np.int64) for name in BOOK_FIELDS)
    ts = variables["ts_ns"].values
    ends = np.asarray(ends, dtype=np.int64)
    state, flow = _kernels.book_bins(ts, *arrays, ends, bin_ns, levels)
    bars = dict(zip(_kernels.BOOK_ROWS, state, strict=True))
    bars["cks_ofi_lots"] = flow
    return bars
