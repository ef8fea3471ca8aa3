"""The private numba kernels of simlab.features called directly, against the slow twins of the public features."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.features import _kernels
from simlab.schema import BOOK_FIELDS
from tests.simlab.features.test_book import slow_book_bars
from tests.simlab.features.test_ofi import random_books, slow_cks
from tests.simlab.features.test_trades import random_events, slow_bars, slow_percentile, trade_list


def book_arrays(books):
    return [books[name].values for name in BOOK_FIELDS]


@pytest.mark.parametrize("seed", range(6))
def test_cks_increments_match_the_twin(seed):
    books = random_books(seed, empty_share=[0.0, 0.3, 0.9][seed % 3])
    columns = [values[:, 0].tolist() for values in book_arrays(books)]
    assert _kernels.cks_increments(*book_arrays(books)).tolist() == slow_cks(*columns)


@pytest.mark.parametrize("seed", range(8))
def test_book_bins_match_the_twin_on_any_ends(seed):
    """Regular, gapped, overlapping and shuffled grids: every bin is [end - bin_ns, end)."""
    books = random_books(seed, empty_share=0.3)
    rng = np.random.default_rng(seed)
    bin_ns = [13, 100, 250, 400][seed % 4]
    ts = books["ts_ns"].values
    if seed % 2:
        ends = np.sort(rng.integers(int(ts[0]) - 300, int(ts[-1]) + 300, 40))
    else:
        ends = int(ts[0]) // bin_ns * bin_ns + bin_ns * np.arange(1, 2_200 // bin_ns + 2)
    if seed % 4 == 3:
        ends = rng.permutation(ends)
    levels = 1 + seed % 3
    state, flow = _kernels.book_bins(ts, *book_arrays(books), ends.astype(np.int64), bin_ns, levels)
    rows = slow_book_bars(books, ends.tolist(), bin_ns, levels)
    for row, name in enumerate(_kernels.BOOK_ROWS):
        expected = np.array([r[name] for r in rows], dtype=float)
        np.testing.assert_allclose(state[row], expected, rtol=0, equal_nan=True, err_msg=name)
    assert flow.tolist() == [r["cks_ofi_lots"] for r in rows]


def test_book_bins_without_snapshots_or_bins():
    books = random_books(0).isel(time=slice(0, 0))
    state, flow = _kernels.book_bins(books["ts_ns"].values, *book_arrays(books), np.arange(5, dtype=np.int64), 2, 1)
    assert np.isnan(state).all() and flow.tolist() == [0] * 5
    state, flow = _kernels.book_bins(books["ts_ns"].values, *book_arrays(books), np.zeros(0, np.int64), 2, 1)
    assert state.shape == (6, 0) and flow.shape == (0,)


@pytest.mark.parametrize("seed", range(8))
def test_bin_trades_match_the_twin(seed):
    trades = trade_list(random_events(seed))
    ts, side, price, qty = (np.array(column, dtype=np.int64) for column in zip(*trades, strict=True))
    bin_ns = [7, 50, 100, 333][seed % 4]
    origin = int(ts[0]) // bin_ns * bin_ns - (bin_ns if seed % 2 else 0)
    n_bins = (int(ts[-1]) - origin) // bin_ns + 1 - seed % 3  # the last bins may drop trades after the grid
    large = slow_percentile(qty.tolist(), 95)
    ints, floats, signal = _kernels.bin_trades(ts, side, price, qty, origin, bin_ns, n_bins, large, 0.1)
    ends = [origin + bin_ns * (b + 1) for b in range(n_bins)]
    rows = slow_bars(trades, ends, bin_ns, large)
    for row in rows:
        row["vwap_deviation_bps"] = 1e4 * (row["close_ticks"] - row["vwap_ticks"]) / row["vwap_ticks"]
    for table, names in ((ints, _kernels.INT_ROWS), (floats, _kernels.FLOAT_ROWS), (signal[None], ["ofi_signal"])):
        for values, name in zip(table, names, strict=True):
            expected = np.array([row[name] for row in rows], dtype=float)
            np.testing.assert_allclose(values.astype(float), expected, rtol=1e-12, equal_nan=True, err_msg=name)
    assert ints.dtype == np.int64 and floats.dtype == np.float64 and signal.dtype == np.int8
