"""compute_features on synthetic data and on a real Binance USD-M trade file, checked against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simlab.errors import ParameterError
from simlab.features import book_bars, compute_features, cumulative_volume_delta, trade_bars
from simlab.io._csv import Column, parse_csv
from simlab.io._source import read_bytes
from simlab.io._units import to_units
from simlab.schema import EventKind, make_events
from tests.conftest import shared_path
from tests.simlab.features.test_ofi import random_books
from tests.simlab.features.test_trades import random_events

BTC_TRADES = "binance_ws_l2_trades_hftbacktest/usdm/btcusdt_20240808.trades.csv.gz"
TRADE_COLUMNS = [
    Column("local_ts_ns", "int"),
    Column("event_time_ms", "int"),
    Column("trade_time_ms", "int"),
    Column("symbol", "skip"),
    Column("trade_id", "int"),
    Column("price", "decimal", scale=2),
    Column("qty", "decimal", scale=3),
    Column("is_buyer_maker", "bool"),
    Column("order_type_X", "skip"),
]


@pytest.fixture(scope="module")
def btc_trades():
    """The trades of the real file as schema events (exchange trade time; m = true is a sell aggressor)."""
    path = shared_path(BTC_TRADES)
    table = parse_csv(read_bytes(path), TRADE_COLUMNS, source=path.name, header=True)
    price, tick = to_units(table, "price", 2)
    qty, lot = to_units(table, "qty", 3)
    return make_events(
        ts_ns=table["trade_time_ms"] * 1_000_000,
        kind=EventKind.TRADE,
        side=np.where(table["is_buyer_maker"], -1, 1),
        price_ticks=price,
        qty_lots=qty,
        tick_size=tick,
        lot_size=lot,
        instrument="BTCUSDT",
        venue="BINANCE_USDM",
    )


def test_real_trades_bars_are_consistent(btc_trades):
    assert btc_trades.sizes["event"] == 21_313
    assert btc_trades.attrs["tick_size"] == 0.1 and btc_trades.attrs["lot_size"] == 0.001
    bars = compute_features(btc_trades, bin_ns=1_000_000_000)
    qty, side = btc_trades["qty_lots"].values, btc_trades["side"].values
    assert int(bars["trade_count"].sum()) == 21_313
    np.testing.assert_array_equal(bars["buy_volume_lots"] + bars["sell_volume_lots"], bars["volume_lots"])
    assert int(bars["volume_lots"].sum()) == int(qty.sum())
    assert int(bars["cvd_lots"].values[-1]) == int((side * qty).sum()) == int(cumulative_volume_delta(btc_trades)[-1])
    traded = bars["volume_lots"].values > 0
    vwap = bars["vwap_ticks"].values[traded]
    total_vwap = (vwap * bars["volume_lots"].values[traded]).sum() / qty.sum()
    price = btc_trades["price_ticks"].values
    assert total_vwap == pytest.approx((price * qty).sum() / qty.sum(), rel=1e-12)
    assert price.min() <= np.nanmin(bars["twap_ticks"]) <= np.nanmax(bars["twap_ticks"]) <= price.max()
    assert np.nanmax(np.abs(bars["ofi"])) <= 1 and set(np.unique(bars["ofi_signal"])) <= {-1, 0, 1}
    large = bars["large_trade_share"].values[traded]
    assert 0 < np.nanmean(large) < 0.2 and (bars["large_volume_share"].values[traded] >= large - 1e-12).all()


def test_real_trades_match_pandas(btc_trades):
    """An independent pandas resample of the same trades (closed='left', label='right')."""
    bars = trade_bars(btc_trades, bin_ns=1_000_000_000)
    frame = pd.DataFrame(
        {name: btc_trades[name].values for name in ("side", "price_ticks", "qty_lots")},
        index=pd.to_datetime(btc_trades["ts_ns"].values, unit="ns"),
    )
    frame["buy"] = frame["qty_lots"].where(frame["side"] > 0, 0)
    frame["notional"] = frame["price_ticks"] * frame["qty_lots"]
    frame["buy_trade"] = (frame["side"] > 0).astype(int)
    grouped = frame.resample("1s", closed="left", label="right")
    expected = grouped[["qty_lots", "buy", "notional", "buy_trade"]].sum()
    expected["count"] = grouped["side"].count()
    expected["close"] = grouped["price_ticks"].last()
    assert bars["ts_ns"].values.tolist() == expected.index.asi8.tolist()
    assert bars["trade_count"].values.tolist() == expected["count"].tolist()
    assert bars["buy_count"].values.tolist() == expected["buy_trade"].tolist()
    assert bars["volume_lots"].values.tolist() == expected["qty_lots"].tolist()
    assert bars["buy_volume_lots"].values.tolist() == expected["buy"].tolist()
    with np.errstate(invalid="ignore"):
        vwap = (expected["notional"] / expected["qty_lots"].where(expected["qty_lots"] > 0)).to_numpy()
    np.testing.assert_allclose(bars["vwap_ticks"].values, vwap, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(bars["close_ticks"].values, expected["close"].to_numpy(dtype=float))


@pytest.mark.parametrize("seed", range(4))
def test_compute_features_joins_trades_and_books_on_one_grid(seed):
    events, books = random_events(seed), random_books(seed)
    books = books.assign_coords(ts_ns=books["ts_ns"] + 9_500)  # starts before the events, ends inside them
    bars = compute_features(events, books, bin_ns=100, threshold=0.2, levels=9)
    first = min(int(events["ts_ns"][0]), int(books["ts_ns"][0])) // 100 * 100
    last = max(int(events["ts_ns"][-1]), int(books["ts_ns"][-1]))
    assert bars["ts_ns"].values[0] == first + 100 and bars["ts_ns"].values[-1] - 100 <= last < bars["ts_ns"].values[-1]
    alone = trade_bars(events, bin_ns=100, start_ns=first, end_ns=int(bars["ts_ns"][-1]), threshold=0.2)
    sampled = book_bars(books, bin_ns=100, start_ns=first, end_ns=int(bars["ts_ns"][-1]), levels=3)
    for part in (alone, sampled):
        for name in part.data_vars:
            np.testing.assert_array_equal(bars[name].values, part[name].values, err_msg=name)
    assert bars.attrs["depth_levels"] == 3 and bars.attrs["ofi_threshold"] == 0.2
    assert {"mid_ticks", "spread_ticks", "cks_ofi_lots", "ofi_signal", "cvd_lots", "twap_ticks"} <= set(bars)


def test_compute_features_edges():
    events = random_events(0)
    empty = events.isel(event=slice(0, 0))
    assert compute_features(empty, bin_ns=10).sizes["time"] == 0
    books = random_books(1)
    only_books = compute_features(empty, books, bin_ns=500)
    assert only_books.sizes["time"] > 0 and int(only_books["trade_count"].sum()) == 0
    assert np.isfinite(only_books["mid_ticks"].values).any()
    with pytest.raises(ParameterError, match="bin_ns"):
        compute_features(events, bin_ns=0)
