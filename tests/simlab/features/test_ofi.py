"""Count OFI and its signal (Table 1 of the hybrid VAR-FNN paper), and CKS L1 OFI against a slow twin."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.features import cks_ofi, ofi_signal, order_flow_imbalance
from simlab.schema import NO_PRICE, make_books


def test_table_1_of_the_hybrid_var_fnn_paper():
    buys = np.array([55, 45, 60])
    sells = np.array([30, 40, 125])
    ofi = order_flow_imbalance(buys, sells)
    np.testing.assert_allclose(np.round(ofi, 3), [0.294, 0.059, -0.351])
    assert ofi_signal(ofi, threshold=0.1).tolist() == [1, 0, -1]  # BUY, HOLD, SELL


def test_signal_threshold_is_strict_and_nan_is_hold():
    ofi = np.array([0.1, -0.1, 0.1000001, -0.1000001, np.nan, 1.0, -1.0, 0.0])
    assert ofi_signal(ofi, threshold=0.1).tolist() == [0, 0, 1, -1, 0, 1, -1, 0]
    assert ofi_signal(ofi, threshold=0.0).tolist() == [1, -1, 1, -1, 0, 1, -1, 0]
    for bad in (-0.1, np.nan, np.inf):
        with pytest.raises(ParameterError, match="threshold"):
            ofi_signal(ofi, threshold=bad)


def test_imbalance_of_no_flow_is_nan_and_dataarrays_keep_coordinates():
    assert np.isnan(order_flow_imbalance(np.array([0]), np.array([0]))).all()
    buys = xr.DataArray([3, 0], dims="time", coords={"ts_ns": ("time", [10, 20])})
    sells = xr.DataArray([1, 0], dims="time", coords={"ts_ns": ("time", [10, 20])})
    ofi = order_flow_imbalance(buys, sells)
    assert isinstance(ofi, xr.DataArray) and ofi["ts_ns"].values.tolist() == [10, 20]
    assert ofi.values[0] == 0.5 and np.isnan(ofi.values[1])
    assert ofi_signal(ofi).values.tolist() == [1, 0]


def slow_cks(bid_price, bid_qty, ask_price, ask_qty):
    """Eq. 2 of Cont, Kukanov and Stoikov, one snapshot at a time; an empty bid is -inf, an empty ask +inf."""
    out = [0]
    for n in range(1, len(bid_qty)):
        pb = bid_price[n] if bid_qty[n] > 0 else -math.inf
        pb_prev = bid_price[n - 1] if bid_qty[n - 1] > 0 else -math.inf
        pa = ask_price[n] if ask_qty[n] > 0 else math.inf
        pa_prev = ask_price[n - 1] if ask_qty[n - 1] > 0 else math.inf
        e = 0
        if pb >= pb_prev:
            e += bid_qty[n]
        if pb <= pb_prev:
            e -= bid_qty[n - 1]
        if pa <= pa_prev:
            e -= ask_qty[n]
        if pa >= pa_prev:
            e += ask_qty[n - 1]
        out.append(e)
    return out


def random_books(seed: int, n: int = 80, levels: int = 3, empty_share: float = 0.15):
    """Random uncrossed books with empty levels (at any depth, whole sides included) and tied stamps."""
    rng = np.random.default_rng(seed)
    mid = 1_000 + np.cumsum(rng.integers(-1, 2, n))
    gap = rng.integers(0, 2, n)
    offsets = np.cumsum(rng.integers(1, 3, (n, levels)), axis=1) - 1
    bid_price = (mid - gap)[:, None] - offsets
    ask_price = (mid + 1)[:, None] + offsets
    bid_qty = rng.integers(1, 9, (n, levels))
    ask_qty = rng.integers(1, 9, (n, levels))
    for qty, price in ((bid_qty, bid_price), (ask_qty, ask_price)):
        cut = np.where(rng.random(n) < empty_share, rng.integers(0, levels, n), levels)
        empty = np.arange(levels)[None, :] >= cut[:, None]
        qty[empty] = 0
        price[empty] = NO_PRICE
    ts = np.sort(rng.integers(0, 2_000, n))
    return make_books(ts_ns=ts, bid_price=bid_price, bid_qty=bid_qty, ask_price=ask_price, ask_qty=ask_qty)


@pytest.mark.parametrize("seed", range(10))
def test_cks_ofi_matches_the_twin(seed):
    books = random_books(seed, empty_share=[0.0, 0.15, 0.5][seed % 3])
    columns = [books[name].values[:, 0].tolist() for name in ("bid_price", "bid_qty", "ask_price", "ask_qty")]
    got = cks_ofi(books)
    assert got.values.tolist() == slow_cks(*columns)
    assert got["ts_ns"].values.tolist() == books["ts_ns"].values.tolist()


def test_cks_ofi_of_empty_and_hand_made_books():
    books = make_books(
        ts_ns=[0, 1, 2, 3, 4],
        bid_price=[10, 10, 11, NO_PRICE, NO_PRICE],
        bid_qty=[5, 7, 2, 0, 0],
        ask_price=[12, 12, 12, 12, 13],
        ask_qty=[4, 4, 1, 1, 6],
    )
    # +7-5 (bid grew); +2 (bid improved) and -1+4 (ask shrank); -2 (bid vanished); ask worsened: +1
    assert cks_ofi(books).values.tolist() == [0, 2, 5, -2, 1]
    assert cks_ofi(books.isel(time=slice(0, 0))).size == 0
    with pytest.raises(DataError, match="bid_qty"):
        cks_ofi(books.drop_vars("bid_qty"))
