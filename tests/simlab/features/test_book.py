"""L2 book features against slow twins (one snapshot at a time), with empty and one-sided books."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simlab.errors import DataError, ParameterError
from simlab.features import book_bars, book_features, book_imbalance, depth, mid_price, spread
from simlab.io._csv import Column, parse_csv
from simlab.io._source import read_bytes
from simlab.schema import NO_PRICE, make_books
from tests.conftest import shared_path
from tests.simlab.features.test_ofi import random_books, slow_cks


def slow_snapshot(books, row, levels):
    bid_qty = [int(q) for q in books["bid_qty"].values[row]]
    ask_qty = [int(q) for q in books["ask_qty"].values[row]]
    bid, ask = int(books["bid_price"].values[row, 0]), int(books["ask_price"].values[row, 0])
    two_sided = bid_qty[0] > 0 and ask_qty[0] > 0
    bid_depth, ask_depth = sum(bid_qty[:levels]), sum(ask_qty[:levels])
    return {
        "mid_ticks": (bid + ask) / 2 if two_sided else math.nan,
        "spread_ticks": ask - bid if two_sided else math.nan,
        "bid_depth_lots": bid_depth,
        "ask_depth_lots": ask_depth,
        "imbalance_l1": (bid_qty[0] - ask_qty[0]) / (bid_qty[0] + ask_qty[0]) if two_sided else math.nan,
        "imbalance_depth": (bid_depth - ask_depth) / (bid_depth + ask_depth)
        if bid_depth > 0 and ask_depth > 0
        else math.nan,
    }


@pytest.mark.parametrize("seed", range(8))
def test_book_features_match_the_twin(seed):
    books = random_books(seed, empty_share=[0.0, 0.2, 0.6, 0.9][seed % 4])
    levels = 1 + seed % 3
    features = book_features(books, levels=levels)
    rows = [slow_snapshot(books, row, levels) for row in range(books.sizes["time"])]
    for name in rows[0]:
        expected = np.array([row[name] for row in rows], dtype=float)
        np.testing.assert_allclose(features[name].values.astype(float), expected, equal_nan=True, err_msg=name)
    assert features["ts_ns"].values.tolist() == books["ts_ns"].values.tolist()


def test_single_features_and_their_names():
    books = random_books(3)
    assert mid_price(books).name == "mid_ticks" and spread(books).name == "spread_ticks"
    assert book_imbalance(books, levels=2).name == "imbalance_l2"
    assert set(depth(books, levels=2).data_vars) == {"bid_depth_lots", "ask_depth_lots"}
    for bad in (0, 4, 1.5, True):
        with pytest.raises(ParameterError, match="levels"):
            depth(books, levels=bad)
    with pytest.raises(DataError, match="ask_price"):
        mid_price(books.drop_vars("ask_price"))


def test_empty_and_one_sided_books_give_nan():
    books = make_books(
        ts_ns=[0, 1, 2],
        bid_price=[[10, 9], [NO_PRICE, NO_PRICE], [10, NO_PRICE]],
        bid_qty=[[2, 1], [0, 0], [3, 0]],
        ask_price=[[11, 12], [NO_PRICE, NO_PRICE], [NO_PRICE, NO_PRICE]],
        ask_qty=[[1, 1], [0, 0], [0, 0]],
    )
    features = book_features(books, levels=2)
    np.testing.assert_array_equal(features["mid_ticks"].values, [10.5, np.nan, np.nan])
    np.testing.assert_array_equal(features["spread_ticks"].values, [1.0, np.nan, np.nan])
    np.testing.assert_array_equal(features["imbalance_depth"].values, [1 / 5, np.nan, np.nan])
    assert features["bid_depth_lots"].values.tolist() == [3, 0, 3]
    assert book_features(books.isel(time=slice(0, 0)), levels=1).sizes["time"] == 0


def slow_book_bars(books, ends, bin_ns, levels):
    ts = books["ts_ns"].values.tolist()
    e = slow_cks(*[books[name].values[:, 0].tolist() for name in ("bid_price", "bid_qty", "ask_price", "ask_qty")])
    rows = []
    for end in ends:
        before = [row for row in range(len(ts)) if ts[row] < end]
        row = (
            slow_snapshot(books, before[-1], levels) if before else dict.fromkeys(slow_snapshot(books, 0, 1), math.nan)
        )
        row["cks_ofi_lots"] = sum(e[n] for n in range(len(ts)) if end - bin_ns <= ts[n] < end)
        rows.append(row)
    return rows


@pytest.mark.parametrize("seed", range(6))
def test_book_bars_match_the_twin(seed):
    books = random_books(seed, empty_share=0.3)
    bin_ns = [13, 100, 250][seed % 3]
    start = None if seed % 2 else int(books["ts_ns"].values[0]) - 300
    bars = book_bars(books, bin_ns=bin_ns, levels=2, start_ns=start)
    rows = slow_book_bars(books, bars["ts_ns"].values.tolist(), bin_ns, 2)
    assert int(bars["ts_ns"].values[-1]) - bin_ns <= books["ts_ns"].values[-1] < bars["ts_ns"].values[-1]
    for name in rows[0]:
        expected = np.array([row[name] for row in rows], dtype=float)
        np.testing.assert_allclose(bars[name].values.astype(float), expected, equal_nan=True, err_msg=name)


AAPL_L10 = "lobster_samples/AAPL_2012-06-21_level10_first1000/AAPL_2012-06-21_34200000_57600000_{}_10_first998.csv"


def test_real_lobster_level10_books():
    """Book features of the first 999 AAPL level-10 LOBSTER books (prices x 10,000; tick $0.01 = 100 units)."""
    messages, books_path = shared_path(AAPL_L10.format("message")), shared_path(AAPL_L10.format("orderbook"))
    columns = [Column("time", "decimal", scale=9)] + [Column(f"c{i}", "skip") for i in range(5)]
    ts = parse_csv(read_bytes(messages), columns, source=messages.name, header=False)["time"]
    raw = np.loadtxt(books_path, delimiter=",", dtype=np.int64)
    assert raw.shape == (999, 40) and ts.shape == (999,)
    empty = raw[:, 1::2] == 0
    prices = np.where(empty, NO_PRICE, raw[:, 0::2] // 100)
    books = make_books(
        ts_ns=ts, ask_price=prices[:, 0::2], ask_qty=raw[:, 1::4], bid_price=prices[:, 1::2], bid_qty=raw[:, 3::4]
    )
    features = book_features(books, levels=10)
    assert features["spread_ticks"].min() >= 1 and features["mid_ticks"].values[0] == (58594 + 58533) / 2
    assert features["bid_depth_lots"].values[0] == raw[0, 3::4].sum() == 1667
    for row in (0, 500, 998):
        assert features["imbalance_depth"].values[row] == pytest.approx(
            slow_snapshot(books, row, 10)["imbalance_depth"]
        )
    assert features["cks_ofi_lots"].values[1] == 0  # message 1 adds 18 lots at 58532, level 2: the touch is unchanged
    assert features["cks_ofi_lots"].values.tolist() == slow_cks(
        *[books[name].values[:, 0].tolist() for name in ("bid_price", "bid_qty", "ask_price", "ask_qty")]
    )
    bars = book_bars(books, bin_ns=1_000_000_000, levels=10)
    assert bars.sizes["time"] == 50 and int(bars["cks_ofi_lots"].sum()) == int(features["cks_ofi_lots"].sum())
