"""Binance trade readers: every real file in shared data, every dump layout, each rejection, kernel twins."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simlab.errors import DataError, SimlabError
from simlab.io._csv import Column, parse_csv
from simlab.io.binance import (
    _scan_chain,
    _scan_trades,
    read_binance_parquet,
    read_binance_trades,
    read_ccxt_trades_json,
)
from simlab.schema import NO_PRICE, EventKind, validate_books, validate_events
from tests.conftest import shared_path
from tests.corruption import corrupt, corruptions

XRP = "binance_trades_xrpeth_2019-10/XRPETH-aggTrades-2019-10-11_to_13.csv.gz"
XRP_JSON = "binance_trades_xrpeth_2019-10/XRP_ETH-trades_ccxt_raw.json.gz"
HFT = "binance_ws_l2_trades_hftbacktest"
# rows per hftbacktest trades file (data README, section 1), tick size, and the instrument
HFT_FILES = {
    "spot/btcusdt_20230405": (3144, 0.01, "BTCUSDT"),
    "spot/btcusdt_20240808": (9757, 0.01, "BTCUSDT"),
    "spot/ethusdt_20240808": (6106, 0.01, "ETHUSDT"),
    "usdm/btcusdt_20230404": (2197, 0.1, "BTCUSDT"),
    "usdm/btcusdt_20230405": (10738, 0.1, "BTCUSDT"),
    "usdm/btcusdt_20240718": (974, 0.1, "BTCUSDT"),
    "usdm/btcusdt_20240719": (9727, 0.1, "BTCUSDT"),
    "usdm/btcusdt_20240808": (21313, 0.1, "BTCUSDT"),
    "usdm/ethusdt_20240718": (1640, 0.01, "ETHUSDT"),
    "usdm/ethusdt_20240719": (12015, 0.01, "ETHUSDT"),
    "usdm/ethusdt_20240808": (14076, 0.01, "ETHUSDT"),
}
NAUTILUS = "crypto_format_fixtures_nautilus"


# ---------------------------------------------------------------- real files


def test_xrpeth_aggtrades_csv():
    events = read_binance_trades(shared_path(XRP))["events"]
    validate_events(events)
    assert events.sizes["event"] == 12_477
    ids = events["agg_trade_id"].values
    assert ids[0] == 13_519_807 and ids[-1] == 13_532_283 and (np.diff(ids) == 1).all()
    assert events.attrs["id_gaps"] == 0 and events.attrs["first_id_gap"] == ""
    assert events.attrs["n_trades_total"] == 14_672 == int(events["n_trades"].sum())
    assert events.attrs["layout"] == "spot_aggTrades" and events.attrs["source_time_unit"] == "ms"
    assert events.attrs["tick_size"] == 1e-8 and events.attrs["instrument"] == "XRPETH"
    first = events.isel(event=0)
    assert int(first.ts_ns) == 1_570_752_011_620 * 10**6
    assert int(first.price_ticks) * events.attrs["tick_size"] == pytest.approx(0.00141342)
    assert int(first.qty_lots) * events.attrs["lot_size"] == 23 and int(first.side) == -1  # m=true: a sell
    assert (events["side"].values == 1).sum() == 6_524 and (events["side"].values == -1).sum() == 5_953
    assert (events["kind"].values == EventKind.TRADE).all() and (np.diff(events["ts_ns"].values) >= 0).all()


def test_ccxt_json_gives_the_csv_events():
    csv_events = read_binance_trades(shared_path(XRP))["events"]
    json_events = read_ccxt_trades_json(shared_path(XRP_JSON))["events"]
    assert json_events.attrs["format"] == "ccxt_binance_aggTrades_json"
    assert json_events.attrs["instrument"] == "XRPETH"
    assert set(json_events.data_vars) == set(csv_events.data_vars)
    for name in csv_events.data_vars:
        np.testing.assert_array_equal(json_events[name].values, csv_events[name].values, err_msg=name)
    for attr in ("tick_size", "lot_size", "id_gaps", "n_trades_total"):
        assert json_events.attrs[attr] == csv_events.attrs[attr]


def _first_data_line(path: Path) -> list[str]:
    with gzip.open(path, "rt") as handle:
        handle.readline()
        return handle.readline().strip().split(",")


@pytest.mark.parametrize("stem", sorted(HFT_FILES))
def test_hftbacktest_trades(stem):
    path = shared_path(f"{HFT}/{stem}.trades.csv.gz")
    rows, tick, symbol = HFT_FILES[stem]
    events = read_binance_trades(path)["events"]
    validate_events(events)
    assert events.sizes["event"] == rows and events.attrs["layout"] == "hftbacktest"
    assert events.attrs["tick_size"] == pytest.approx(tick) and events.attrs["instrument"] == symbol
    assert events.attrs["venue"] == ("binance-spot" if stem.startswith("spot") else "binance-futures")
    assert (np.diff(events["trade_id"].values) == 1).all() and events.attrs["id_gaps"] == 0
    assert (np.diff(events["ts_ns"].values) >= 0).all() and (np.diff(events["local_ts_ns"].values) >= 0).all()
    local, event_ms, trade_ms, _, trade_id, price, qty, maker, _ = _first_data_line(path)
    first = events.isel(event=0)
    assert int(first.ts_ns) == int(trade_ms) * 10**6 and int(first.event_ts_ns) == int(event_ms) * 10**6
    assert int(first.local_ts_ns) == int(local) and int(first.trade_id) == int(trade_id)
    assert int(first.price_ticks) * events.attrs["tick_size"] == pytest.approx(float(price))
    assert int(first.qty_lots) * events.attrs["lot_size"] == pytest.approx(float(qty))
    assert int(first.side) == (-1 if maker == "true" else 1)
    order_type = events["order_type"].values
    assert (order_type == 0).all() if stem.startswith("spot") else (order_type >= 1).all()
    assert (order_type == 2).sum() == (1 if stem == "usdm/btcusdt_20230405" else 0)  # one INSURANCE_FUND trade


@pytest.mark.parametrize("pair", ["usdm/btcusdt_2024071", "usdm/ethusdt_2024071", "usdm/btcusdt_2023040"])
def test_hftbacktest_trade_ids_continue_across_files(pair):
    days = ("8", "9") if pair.endswith("1") else ("4", "5")
    first, second = (read_binance_trades(shared_path(f"{HFT}/{pair}{d}.trades.csv.gz"))["events"] for d in days)
    assert int(second["trade_id"][0]) == int(first["trade_id"][-1]) + 1


def test_parquet_trades_and_quotes():
    trades = read_binance_parquet(shared_path(f"{NAUTILUS}/binance_btcusdt-trades_2021-01-08_46s.parquet"))["events"]
    validate_events(trades)
    assert trades.sizes["event"] == 2_001 and (np.diff(trades["trade_id"].values) == 1).all()
    assert int(trades["trade_id"][0]) == 553_287_559 and int(trades["side"][0]) == -1  # buyer_maker True
    assert (trades["side"].values == -1).sum() == 914 and (trades["side"].values == 1).sum() == 1_087
    assert int(trades["ts_ns"][0]) == 1_610_064_000_278 * 10**6
    assert int(trades["price_ticks"][0]) * trades.attrs["tick_size"] == pytest.approx(39432.48)
    assert int(trades["qty_lots"][2]) * trades.attrs["lot_size"] == pytest.approx(0.000311)  # float noise gone
    path = shared_path(f"{NAUTILUS}/binance_btcusdt-quotes_2021-01-08_46s.parquet")
    books = read_binance_parquet(path)["books"]  # kind="auto": a bid column, so quotes
    validate_books(books)
    assert dict(books.sizes) == {"time": 451, "level": 1} and books.attrs["instrument"] == "BTCUSDT"
    assert int(books["bid_price"][0, 0]) * books.attrs["tick_size"] == pytest.approx(39432.99)
    assert int(books["bid_qty"][0, 0]) * books.attrs["lot_size"] == pytest.approx(0.0031)


# ---------------------------------------------------------------- every dump layout, built in temp files

SPOT_TRADES = [
    "100,0.01000000,5.00000000,0.05000000,1735689600000000,true,true",
    "101,0.01010000,1.50000000,0.01515000,1735689600001000,false,true",
    "103,0.01000000,2.00000000,0.02000000,1735689600001000,True,True",
]
FUTURES_TRADES = ["7,61800.30,0.006,370.8,1723161256322,false", "8,61800.40,0.199,12298.2,1723161256344,true"]
SPOT_AGG = [
    "26129,0.01633102,4.70443515,27781,27781,1498793709153,true,true",
    "26130,0.01633102,1.00000000,27782,27783,1498793709154,false,true",
]
FUTURES_AGG = ["5,100.5,2,10,12,1600000000000,true", "6,100.6,1,13,13,1600000000001,false"]
HEADERS = {
    "futures_trades": "id,price,qty,quote_qty,time,is_buyer_maker",
    "futures_aggTrades": "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker",
    "spot_trades": "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match",
    "spot_aggTrades": "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,"
    "is_best_match",
}
LAYOUT_ROWS = {
    "spot_trades": SPOT_TRADES,
    "futures_trades": FUTURES_TRADES,
    "spot_aggTrades": SPOT_AGG,
    "futures_aggTrades": FUTURES_AGG,
}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    data = text.encode()
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    elif name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name[: -len(".zip")], data)
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".zip"])
@pytest.mark.parametrize("with_header", [False, True])
@pytest.mark.parametrize("layout", sorted(LAYOUT_ROWS))
def test_every_dump_layout(tmp_path, layout, with_header, suffix):
    lines = ([HEADERS[layout]] if with_header else []) + LAYOUT_ROWS[layout]
    path = _write(
        tmp_path, f"TESTUSDT-{'aggTrades' if 'agg' in layout else 'trades'}-2025-01-01{suffix}", "\n".join(lines)
    )
    events = read_binance_trades(path)["events"]
    assert events.attrs["layout"] == layout and events.attrs["instrument"] == "TESTUSDT"
    rows = [line.split(",") for line in LAYOUT_ROWS[layout]]
    assert events.sizes["event"] == len(rows)
    time_col = 4 if layout.endswith("_trades") else 5
    maker_col = time_col + 1
    raw_ts = np.array([int(r[time_col]) for r in rows])
    factor = 1000 if raw_ts[0] > 10**14 else 10**6
    assert events.attrs["source_time_unit"] == ("us" if factor == 1000 else "ms")
    np.testing.assert_array_equal(events["ts_ns"].values, raw_ts * factor)
    np.testing.assert_array_equal(events["side"].values, [-1 if r[maker_col].lower() == "true" else 1 for r in rows])
    prices = events["price_ticks"].values * events.attrs["tick_size"]
    np.testing.assert_allclose(prices, [float(r[1]) for r in rows])
    assert events.attrs["venue"] == ("binance-spot" if layout.startswith("spot") else "binance-futures")


def test_kind_picks_between_seven_field_layouts(tmp_path):
    spot = _write(tmp_path, "X-trades.csv", "\n".join(SPOT_TRADES))
    futures_agg = _write(tmp_path, "X-aggTrades.csv", "\n".join(FUTURES_AGG))
    assert read_binance_trades(spot, kind="trades")["events"].attrs["layout"] == "spot_trades"
    assert read_binance_trades(futures_agg, kind="aggTrades")["events"].attrs["layout"] == "futures_aggTrades"
    with pytest.raises(DataError, match="expected \\[6, 7\\] fields"):
        read_binance_trades(_write(tmp_path, "Y.csv", "\n".join(SPOT_AGG)), kind="trades")


def test_aggtrades_extras_and_trade_id_gap(tmp_path):
    rows = ["1,1.0,1,10,12,1600000000000,true", "2,1.0,1,13,13,1600000000001,false", "3,1.0,2,20,21,1600000000002,true"]
    events = read_binance_trades(_write(tmp_path, "A.csv", "\n".join(rows)))["events"]
    np.testing.assert_array_equal(events["n_trades"].values, [3, 1, 2])
    assert (
        events.attrs["trade_id_gaps"] == 1
        and "first_trade_id 20 follows 13 (6 missing)" in events.attrs["first_trade_id_gap"]
    )
    overlapping = ["1,1.0,1,10,12,1600000000000,true", "2,1.0,1,12,13,1600000000001,false"]
    with pytest.raises(DataError, match="line 2, column 'first_trade_id'.*overlap"):
        read_binance_trades(_write(tmp_path, "B.csv", "\n".join(overlapping)))
    with pytest.raises(DataError, match="last_trade_id must be >= first_trade_id"):
        read_binance_trades(_write(tmp_path, "C.csv", "1,1.0,1,10,9,1600000000000,true"))


def test_id_gaps_are_reported_not_fatal(tmp_path):
    events = read_binance_trades(_write(tmp_path, "G-trades.csv", "\n".join(SPOT_TRADES)))["events"]
    assert events.attrs["id_gaps"] == 1
    assert events.attrs["first_id_gap"] == "line 3: id 103 follows 101 (1 missing)"
    np.testing.assert_array_equal(events["trade_id"].values, [100, 101, 103])


def test_given_tick_and_lot(tmp_path):
    path = _write(tmp_path, "F.csv", "\n".join([HEADERS["futures_trades"]] + FUTURES_TRADES))
    events = read_binance_trades(path, tick_size=0.01, lot_size=0.001)["events"]
    assert events.attrs["tick_size"] == 0.01 and events.attrs["tick_size_inferred"] is False
    np.testing.assert_array_equal(events["price_ticks"].values, [6_180_030, 6_180_040])
    np.testing.assert_array_equal(events["qty_lots"].values, [6, 199])
    with pytest.raises(DataError, match="whole multiple of the unit 0.2"):
        read_binance_trades(path, tick_size=0.2)


def test_sort_true_sorts_and_records(tmp_path):
    rows = ["2,1.0,1,1.0,1600000000002,true", "1,1.0,1,1.0,1600000000001,false"]
    path = _write(tmp_path, "S.csv", "\n".join(rows))
    with pytest.raises(DataError, match="line 2, column 'time': timestamps must not decrease.*sort=True"):
        read_binance_trades(path)
    events = read_binance_trades(path, sort=True)["events"]
    assert events.attrs["sorted"] is True
    np.testing.assert_array_equal(events["trade_id"].values, [1, 2])
    np.testing.assert_array_equal(events["side"].values, [1, -1])
    rows = ["2,1.0,1,1.0,1600000000002,true", "1,1.0,1,1.0,1600000000001,false", "1,1.0,1,1.0,1600000000003,true"]
    with pytest.raises(
        DataError, match="line 3, column 'id': ids must increase strictly in time order.*line 1 holds 2"
    ):
        read_binance_trades(_write(tmp_path, "S2.csv", "\n".join(rows)), sort=True)


BAD_INPUTS = {
    "duplicate id": (["1,1.0,1,1.0,1600000000000,true", "1,1.0,1,1.0,1600000000001,true"], "ids must increase"),
    "decreasing id": (["5,1.0,1,1.0,1600000000000,true", "4,1.0,1,1.0,1600000000001,true"], "repeated or decr"),
    "text price": (["1,abc,1,1.0,1600000000000,true"], "column 'price': expected a decimal number"),
    "NaN price": (["1,NaN,1,1.0,1600000000000,true"], "column 'price'"),
    "negative price": (["1,-1.0,1,1.0,1600000000000,true"], "column 'price': expected a number > 0"),
    "zero qty": (["1,1.0,0,0,1600000000000,true"], "column 'qty': expected a number > 0"),
    "empty qty": (["1,1.0,,0,1600000000000,true"], "column 'qty'"),
    "too many decimals": (["1,1.000000001,1,1,1600000000000,true"], "at most 8 decimals"),
    "wrong field count": (["1,1.0,1,1.0,1600000000000,true", "2,1.0,1,1.0,1600000000001,true,x"], "line 2: expected 6"),
    "bad bool": (["1,1.0,1,1.0,1600000000000,yes"], "column 'is_buyer_maker': expected true or false"),
    "seconds not ms": (["1,1.0,1,1.0,1600000000,true"], "epoch times all in one unit"),
    "ns not ms or us": (["1,1.0,1,1.0,1600000000000000000,true"], "epoch times all in one unit"),
    "mixed ms and us": (["1,1.0,1,1.0,1600000000000,true", "2,1.0,1,1.0,1600000000000001,true"], "line 2, col"),
    "unknown header": (["trade,price,size,time"], "expected one of the Binance headers"),
    "five fields": (["1,1.0,1,1600000000000,true"], "found 5 fields"),
    "empty line one": (["", "1,1.0,1,1.0,1600000000000,true"], "empty line"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_rejections(tmp_path, case):
    rows, message = BAD_INPUTS[case]
    with pytest.raises(DataError, match=message):
        read_binance_trades(_write(tmp_path, "BAD-trades.csv", "\n".join(rows) + "\n"))


def test_header_only_and_header_flags(tmp_path):
    with pytest.raises(DataError, match="at least one trade"):
        read_binance_trades(_write(tmp_path, "H.csv", HEADERS["futures_trades"] + "\n"))
    with pytest.raises(DataError, match="header=False"):
        read_binance_trades(_write(tmp_path, "H2.csv", HEADERS["futures_trades"] + "\n"), header=False)
    with pytest.raises(DataError, match="expected one of the Binance headers"):
        read_binance_trades(_write(tmp_path, "H3.csv", "\n".join(FUTURES_TRADES)), header=True)
    with pytest.raises(DataError, match="`kind` must be one of"):
        read_binance_trades(_write(tmp_path, "H4.csv", "\n".join(FUTURES_TRADES)), kind="klines")


def test_truncated_gz_and_corrupt_zip(tmp_path):
    text = "\n".join(SPOT_TRADES * 50).encode()
    (tmp_path / "T.csv.gz").write_bytes(gzip.compress(text)[:-30])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_binance_trades(tmp_path / "T.csv.gz")
    good = _write(tmp_path, "Z.zip", "\n".join(SPOT_TRADES * 50))
    raw = bytearray(good.read_bytes())
    raw[40:60] = b"\xff" * 20
    (tmp_path / "Z2.zip").write_bytes(bytes(raw))
    with pytest.raises(DataError, match="zip archive is truncated or corrupt"):
        read_binance_trades(tmp_path / "Z2.zip")


HFT_HEADER = "local_ts_ns,event_time_ms,trade_time_ms,symbol,trade_id,price,qty,is_buyer_maker,order_type_X"


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (
            "1600000000001000000,1600000000001,1600000000001,ETHUSDT,2,1.0,1.0,true,MARKET",
            "column 'symbol': expected the same symbol",
        ),
        (
            "1600000000001000000,1600000000001,1600000000001,BTCUSDT,2,1.0,1.0,true,STOP",
            "column 'order_type_X': expected an order",
        ),
        (
            "1600000000001000000,1600000000001,1600000000001000,BTCUSDT,2,1.0,1.0,true,MARKET",
            "column 'trade_time_ms': expected",
        ),
    ],
)
def test_hftbacktest_rejections(tmp_path, second, message):
    first = "1600000000000000000,1600000000000,1600000000000,BTCUSDT,1,1.0,1.0,true,MARKET"
    with pytest.raises(DataError, match=message):
        read_binance_trades(_write(tmp_path, "h.trades.csv", "\n".join([HFT_HEADER, first, second])))


def test_ccxt_rejections(tmp_path):
    trade = {"info": {"a": 1, "p": "1.0", "q": "2", "f": 1, "l": 1, "T": 1600000000000, "m": True, "M": True}}
    trade.update(side="sell", timestamp=1600000000000, id="1", symbol="XRP/ETH")
    cases = {
        '{"a": 1}': "expected a JSON list",
        "[1, 2": "does not parse",
        '[{"info": {"a": 1}}]': "info fields a,p,q,f,l,T,m,M",
        str([dict(trade, side="buy")]).replace("'", '"').replace("True", "true"): "taker side",
        str([dict(trade, timestamp=5)]).replace("'", '"').replace("True", "true"): "timestamp/id",
    }
    for index, (text, message) in enumerate(cases.items()):
        with pytest.raises(DataError, match=message):
            read_ccxt_trades_json(_write(tmp_path, f"c{index}.json", text))


def quotes_base(ts):
    return {"timestamp": ts, "bid": [1.0, 1.0], "bid_size": [1.0, 0.0], "ask": [1.1, 1.1], "ask_size": [1.0, 2.0]}


def test_parquet_rejections(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    ts = pa.array([1, 2], pa.timestamp("ms", tz="UTC"))
    base = {"timestamp": ts, "trade_id": [1, 2], "price": [1.0, 1.5], "quantity": [1.0, 2.0]}
    cases = {
        "missing": ({"timestamp": ts, "price": [1.0, 2.0]}, "missing \\['trade_id'"),
        "maker text": (dict(base, buyer_maker=["True", "maybe"]), "row 1, column 'buyer_maker'"),
        "null": (dict(base, price=[1.0, None], buyer_maker=[True, False]), "row 1, column 'price': expected a value"),
        "decimals": (dict(base, price=[1.0, 1.000000001], buyer_maker=[True, False]), "at most 8 decimals"),
        "ids": (dict(base, trade_id=[2, 2], buyer_maker=[True, False]), "trade ids must increase"),
        "zero qty": (dict(base, quantity=[0.0, 1.0], buyer_maker=[True, False]), "quantity must be > 0"),
    }
    for columns, message in cases.values():
        pq.write_table(pa.table(columns), path)
        with pytest.raises(DataError, match=message):
            read_binance_parquet(path)
    pq.write_table(pa.table(dict(quotes_base(ts), symbol=["A/B", "C/D"])), path)
    with pytest.raises(DataError, match="row 1, column 'symbol'"):
        read_binance_parquet(path)
    pq.write_table(pa.table(quotes_base(ts)).slice(0, 0), path)
    with pytest.raises(DataError, match="at least one quotes row"):
        read_binance_parquet(path)
    path.write_bytes(b"PAR1 not really parquet PAR1")
    with pytest.raises(DataError, match="readable parquet"):
        read_binance_parquet(path)
    pq.write_table(pa.table(quotes_base(ts)), path)
    books = read_binance_parquet(path, kind="quotes")["books"]
    assert books.attrs["instrument"] == "t"
    assert int(books["bid_price"][1, 0]) == NO_PRICE and int(books["bid_qty"][1, 0]) == 0  # size 0: empty level


def test_outputs_round_trip_through_the_store(tmp_path):
    from simlab.store import load_store, write_store

    outputs = {
        "agg": read_binance_trades(shared_path(XRP))["events"],
        "hft": read_binance_trades(shared_path(f"{HFT}/usdm/btcusdt_20230405.trades.csv.gz"))["events"],
        "quotes": read_binance_parquet(shared_path(f"{NAUTILUS}/binance_btcusdt-quotes_2021-01-08_46s.parquet"))[
            "books"
        ],
    }
    for name, dataset in outputs.items():
        write_store(dataset, tmp_path / f"{name}.zarr")
        back = load_store(tmp_path / f"{name}.zarr")
        for variable in dataset.data_vars:
            np.testing.assert_array_equal(back[variable].values, dataset[variable].values)
        assert back.attrs["tick_size"] == dataset.attrs["tick_size"]


# ---------------------------------------------------------------- kernel twins


def _scan_twin(ids, ts, price, qty):
    out = [-1, -1, 0, -1, -1, -1, int(ts[0]), int(ts[0])]
    for i in range(len(ids)):
        if i and ts[i] < ts[i - 1] and out[0] < 0:
            out[0] = i
        if i and ids[i] <= ids[i - 1] and out[1] < 0:
            out[1] = i
        if i and ids[i] - ids[i - 1] > 1:
            out[2] += 1
            out[3] = i if out[3] < 0 else out[3]
        out[4] = i if price[i] <= 0 and out[4] < 0 else out[4]
        out[5] = i if qty[i] <= 0 and out[5] < 0 else out[5]
        out[6], out[7] = min(out[6], int(ts[i])), max(out[7], int(ts[i]))
    return out


def _chain_twin(first, last):
    out = [-1, 0, -1, -1]
    for i in range(len(first)):
        out[0] = i if last[i] < first[i] and out[0] < 0 else out[0]
        if i and first[i] <= last[i - 1]:
            out[3] = i if out[3] < 0 else out[3]
        elif i and first[i] - last[i - 1] > 1:
            out[1] += 1
            out[2] = i if out[2] < 0 else out[2]
    return out


def test_kernels_match_their_twins():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        ids = np.cumsum(rng.integers(-1, 4, n)).astype(np.int64)
        ts = np.cumsum(rng.integers(-1, 5, n)).astype(np.int64)
        price, qty = rng.integers(-2, 50, n), rng.integers(-2, 50, n)
        assert _scan_trades(ids, ts, price, qty).tolist() == _scan_twin(ids, ts, price, qty)
        first = np.cumsum(rng.integers(0, 4, n)).astype(np.int64)
        last = first + rng.integers(-1, 3, n)
        assert _scan_chain(first, last).tolist() == _chain_twin(first, last)


def test_token_kernel_matches_twin():
    rng = np.random.default_rng(3)
    alphabet = ["", "a", "ab", "abc", "MARKET", "ba", "MARKE"]
    vocabulary = ["", "MARKET", "ab", "a"]
    for _ in range(50):
        picked = list(rng.choice(alphabet, int(rng.integers(1, 20))))
        text = "\n".join(picked) + "\n"
        table = parse_csv(np.frombuffer(text.encode(), np.uint8), [Column("w", "str")], source="t", header=False)
        codes = table.codes("w", vocabulary)
        assert codes.tolist() == [vocabulary.index(w) if w in vocabulary else -1 for w in picked]


# ---------------------------------------------------------------- corruption properties


def _head(relative: str, lines: int) -> bytes:
    with gzip.open(shared_path(relative), "rb") as handle:
        return b"".join(handle.readline() for _ in range(lines))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    corruption=corruptions,
    source=st.sampled_from([XRP, f"{HFT}/usdm/btcusdt_20230405.trades.csv.gz"]),
    cut_trailer=st.booleans(),
)
def test_corrupted_trade_csv_parses_or_raises_data_error(tmp_path, corruption, source, cut_trailer):
    data = gzip.compress(corrupt(_head(source, 120), *corruption))
    path = tmp_path / ("XRPETH-aggTrades.csv.gz" if source == XRP else "x.trades.csv.gz")
    path.write_bytes(data[:-4] if cut_trailer and corruption[0] == "flip" else data)  # flips also lose the gz trailer
    try:
        events = read_binance_trades(path)["events"]
    except SimlabError:
        return
    validate_events(events)
    assert (events["qty_lots"].values > 0).all() and (events["price_ticks"].values > 0).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corruption=corruptions)
def test_corrupted_ccxt_json_parses_or_raises_data_error(tmp_path, corruption):
    with gzip.open(shared_path(XRP_JSON), "rb") as handle:
        data = handle.read(6000)
    data = data[: data.rfind(b"}, {") + 1] + b"]"
    path = tmp_path / "c.json"
    path.write_bytes(corrupt(data, *corruption))
    try:
        validate_events(read_ccxt_trades_json(path)["events"])
    except SimlabError:
        pass


def test_hftbacktest_sort_keeps_text_columns_aligned(tmp_path):
    rows = [
        "1600000000002000000,1600000000002,1600000000002,BTCUSDT,2,1.0,1.0,true,INSURANCE_FUND",
        "1600000000001000000,1600000000001,1600000000001,BTCUSDT,1,1.0,1.0,false,MARKET",
    ]
    events = read_binance_trades(_write(tmp_path, "s.trades.csv", "\n".join([HFT_HEADER] + rows)), sort=True)
    np.testing.assert_array_equal(events["events"]["order_type"].values, [1, 2])
    bad = "1600000000002000000,16000000000020,1600000000002,BTCUSDT,3,1.0,1.0,true,MARKET"
    with pytest.raises(DataError, match="line 3, column 'event_time_ms': expected epoch times"):
        read_binance_trades(_write(tmp_path, "b.trades.csv", "\n".join([HFT_HEADER, rows[1], bad])))
