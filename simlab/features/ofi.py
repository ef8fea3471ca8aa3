"""Order-flow imbalance: the count-based OFI with its BUY/SELL/HOLD signal, and Cont-Kukanov-Stoikov L1 OFI."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.features import _kernels
from simlab.schema import BOOK_FIELDS

ArrayLike = TypeVar("ArrayLike", np.ndarray, xr.DataArray)

BUY_SIGNAL, HOLD_SIGNAL, SELL_SIGNAL = 1, 0, -1


def order_flow_imbalance(buy: ArrayLike, sell: ArrayLike) -> ArrayLike:
    """Return (buy - sell) / (buy + sell): the count OFI(T, h) from trade counts, or an imbalance of volumes.

    NaN where buy + sell == 0. DataArrays keep their coordinates; other inputs give a float64 ndarray.
    """
    if not isinstance(buy, xr.DataArray):
        buy = np.asarray(buy)
    if not isinstance(sell, xr.DataArray):
        sell = np.asarray(sell)
    total = np.asarray(buy + sell, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (buy - sell) / np.where(total > 0, total, np.nan)


def ofi_signal(ofi: ArrayLike, *, threshold: float = 0.1) -> ArrayLike:
    """Return the intensity signal of an OFI: +1 BUY if ofi > threshold, -1 SELL if ofi < -threshold, else 0 HOLD.

    NaN (no trades) is HOLD. The result is int8 (a DataArray for a DataArray input).
    """
    checked_threshold(threshold)
    if not isinstance(ofi, xr.DataArray):
        ofi = np.asarray(ofi, dtype=np.float64)
    return (ofi > threshold).astype(np.int8) - (ofi < -threshold).astype(np.int8)


def checked_threshold(threshold: float) -> float:
    """Return the OFI signal ``threshold`` as a float after checking it is finite and >= 0 (raise ParameterError)."""
    if not (np.isfinite(threshold) and threshold >= 0):
        raise ParameterError(f"`threshold` of ofi_signal must be a finite number >= 0; got {threshold!r}")
    return float(threshold)


def cks_ofi(books: xr.Dataset) -> xr.DataArray:
    """Return the Cont-Kukanov-Stoikov (2014) L1 order-flow imbalance e_n of every book snapshot (lots).

    e_n = 1{Pb_n >= Pb_{n-1}} qb_n - 1{Pb_n <= Pb_{n-1}} qb_{n-1} - 1{Pa_n <= Pa_{n-1}} qa_n
    + 1{Pa_n >= Pa_{n-1}} qa_{n-1} (eq. 2 of "The price impact of order book events"). An empty bid counts as a
    price of -inf and an empty ask as +inf, both with size 0: a bid appearing adds its size, a bid vanishing
    removes the old one, two empty snapshots give 0. The first snapshot has no predecessor: e_0 = 0.

    Returns
    -------
    xarray.DataArray
        int64 over ``time`` with the books' ``ts_ns`` coordinate.
    """
    variables = books.variables
    for name in BOOK_FIELDS:
        if name not in variables or variables[name].dims != ("time", "level"):
            raise DataError(f"books: cks_ofi needs {name!r} over ('time', 'level'); got {list(books.data_vars)}")
    e = _kernels.cks_increments(*(np.asarray(variables[name].values, dtype=np.int64) for name in BOOK_FIELDS))
    return xr.DataArray(e, dims="time", coords={"ts_ns": ("time", variables["ts_ns"].values)}, name="cks_ofi_lots")
