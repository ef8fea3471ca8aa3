"""Tardis.dev CSV reader: every fixture in shared data, each rejection, the id kernel twin, corruption property."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simlab.errors import DataError, SimlabError
from simlab.io._csv import Column, parse_csv
from simlab.io.tardis import _parse_ids, read_tardis
from simlab.schema import NO_PRICE, EventKind, validate_books, validate_events
from tests.conftest import shared_path
from tests.corruption import corrupt, corruptions

NAUTILUS = "crypto_format_fixtures_nautilus"
FILES = {
    "snap5": "binance-futures_book_snapshot_5_BTCUSDT.csv",
    "snap25": "binance-futures_book_snapshot_25_BTCUSDT.csv",
    "trades": "bitmex_trades_XBTUSD.csv",
    "l2": "deribit_incremental_book_L2_BTC-PERPETUAL.csv",
    "quotes": "huobi-dm-swap_quotes_BTC-USD.csv",
}
PREFIX = "exchange,symbol,timestamp,local_timestamp,"


def _fixture(key: str) -> Path:
    return shared_path(f"{NAUTILUS}/{FILES[key]}")


def _rows(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines()[1:]]


@pytest.mark.parametrize("key", ["snap5", "snap25"])
def test_book_snapshots(key):
    path = _fixture(key)
    books = read_tardis(path)["books"]
    validate_books(books)
    levels = 5 if key == "snap5" else 25
    assert dict(books.sizes) == {"time": 10, "level": levels} and books.attrs["layout"] == f"book_snapshot_{levels}"
    assert books.attrs["venue"] == "binance-futures" and books.attrs["instrument"] == "BTCUSDT"
    rows = _rows(path)
    tick, lot = books.attrs["tick_size"], books.attrs["lot_size"]
    assert (tick, lot) == (0.01, 0.001)
    first = rows[0]
    for level in range(levels):
        ask_p, ask_q, bid_p, bid_q = (float(x) for x in first[4 + 4 * level : 8 + 4 * level])
        assert int(books["ask_price"][0, level]) * tick == pytest.approx(ask_p)
        assert int(books["ask_qty"][0, level]) * lot == pytest.approx(ask_q)
        assert int(books["bid_price"][0, level]) * tick == pytest.approx(bid_p)
        assert int(books["bid_qty"][0, level]) * lot == pytest.approx(bid_q)
    np.testing.assert_array_equal(books["ts_ns"].values, [int(r[2]) * 1000 for r in rows])
    np.testing.assert_array_equal(books["local_ts_ns"].values, [int(r[3]) * 1000 for r in rows])
    assert (np.diff(books["ts_ns"].values) >= 0).all()


def test_bitmex_trades():
    path = _fixture("trades")
    events = read_tardis(path)["events"]
    validate_events(events)
    assert events.sizes["event"] == 10 and events.attrs["venue"] == "bitmex" and events.attrs["instrument"] == "XBTUSD"
    assert (events["side"].values == -1).all() and (events["kind"].values == EventKind.TRADE).all()
    assert "trade_id" not in events and "ccc3c1fa-212c-e8b0-1706-9b9c4f3d5ecf" in events.attrs["trade_id_dropped"]
    assert int(events["qty_lots"][0]) * events.attrs["lot_size"] == 2152
    assert int(events["ts_ns"][0]) == 1_583_020_803_145_000_000
    assert int(events["local_ts_ns"][0]) == 1_583_020_803_307_160_000
    ticked = read_tardis(path, tick_size=0.5)["events"]  # XBTUSD trades in 0.5 steps; the gcd alone gives 8531.5
    assert events.attrs["tick_size"] == 8531.5 and int(ticked["price_ticks"][0]) == 17_063


def test_deribit_incremental_l2():
    path = _fixture("l2")
    events = read_tardis(path)["events"]
    validate_events(events)
    rows = _rows(path)
    assert events.sizes["event"] == len(rows) + 1 == 16 and events.attrs["snapshots"] == 1
    kind = events["kind"].values
    assert kind[0] == EventKind.CLEAR and (kind[1:] == EventKind.SET_LEVEL).all()
    assert int(events["price_ticks"][0]) == NO_PRICE and int(events["side"][0]) == 0
    assert (events["side"].values[1:] == -1).all() and events["is_snapshot"].values.all()  # all asks, all snapshot
    assert events.attrs["tick_size"] == 0.5 and events.attrs["lot_size"] == 10
    prices = events["price_ticks"].values[1:] * events.attrs["tick_size"]
    np.testing.assert_allclose(prices, [float(r[6]) for r in rows])
    assert int(events["ts_ns"][0]) == int(events["ts_ns"][1]) == 1_585_699_200_245_000_000


def test_huobi_quotes():
    path = _fixture("quotes")
    books = read_tardis(path)["books"]
    validate_books(books)
    assert dict(books.sizes) == {"time": 10, "level": 1} and books.attrs["layout"] == "quotes"
    rows = _rows(path)
    tick, lot = books.attrs["tick_size"], books.attrs["lot_size"]
    np.testing.assert_allclose(books["ask_qty"].values[:, 0] * lot, [float(r[4]) for r in rows])
    np.testing.assert_allclose(books["ask_price"].values[:, 0] * tick, [float(r[5]) for r in rows])
    np.testing.assert_allclose(books["bid_price"].values[:, 0] * tick, [float(r[6]) for r in rows])
    np.testing.assert_allclose(books["bid_qty"].values[:, 0] * lot, [float(r[7]) for r in rows])


def test_outputs_round_trip_through_the_store(tmp_path):
    from simlab.store import load_store, write_store

    for key in FILES:
        for group, dataset in read_tardis(_fixture(key)).items():
            write_store(dataset, tmp_path / f"{key}_{group}.zarr")
            back = load_store(tmp_path / f"{key}_{group}.zarr")
            for variable in dataset.data_vars:
                np.testing.assert_array_equal(back[variable].values, dataset[variable].values)


def test_btcusdt_depth_file_is_not_tardis():
    with pytest.raises(DataError, match="expected a known Tardis header.*incremental_book_L2"):
        read_tardis(shared_path(f"{NAUTILUS}/btcusdt-depth-snap.csv"))


# ---------------------------------------------------------------- synthetic files

T0 = "1600000000000000"


def _write(tmp_path: Path, lines: list[str], name: str = "t.csv") -> Path:
    path = tmp_path / name
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def test_numeric_ids_unknown_side_and_gz(tmp_path):
    lines = [PREFIX + "id,side,price,amount", f"binance,BTCUSDT,{T0},{T0},11,buy,10.5,0.1"]
    lines.append(f"binance,BTCUSDT,{T0},{T0},12,unknown,10.0,0.2")
    events = read_tardis(_write(tmp_path, lines, "t.csv.gz"), kind="trades")["events"]
    np.testing.assert_array_equal(events["trade_id"].values, [11, 12])
    np.testing.assert_array_equal(events["side"].values, [1, 0])
    assert events.attrs["unknown_side_trades"] == 1


def test_each_snapshot_run_starts_with_clear(tmp_path):
    head = PREFIX + "is_snapshot,side,price,amount"
    body = ["true,bid,10,1", "true,ask,11,2", "false,bid,10,0", "true,bid,9,3", "false,ask,11,5"]
    events = read_tardis(_write(tmp_path, [head] + [f"x,Y,{T0},{T0},{b}" for b in body]))["events"]
    kinds = events["kind"].values.tolist()
    assert kinds == [10, 9, 9, 9, 10, 9, 9] and events.attrs["snapshots"] == 2
    np.testing.assert_array_equal(events["qty_lots"].values, [0, 1, 2, 0, 0, 3, 5])
    np.testing.assert_array_equal(events["side"].values, [0, 1, -1, 1, 0, 1, -1])


def test_empty_quote_side_and_crossed(tmp_path):
    head = PREFIX + "ask_amount,ask_price,bid_price,bid_amount"
    books = read_tardis(_write(tmp_path, [head, f"x,Y,{T0},{T0},,,10.0,5"]))["books"]
    assert int(books["ask_price"][0, 0]) == NO_PRICE and int(books["ask_qty"][0, 0]) == 0
    crossed = _write(tmp_path, [head, f"x,Y,{T0},{T0},1,10.0,10.5,5"], "c.csv")
    with pytest.raises(DataError, match="crossed"):
        read_tardis(crossed)
    assert read_tardis(crossed, allow_crossed=True)["books"].sizes["time"] == 1


def test_sort_true(tmp_path):
    head = PREFIX + "id,side,price,amount"
    lines = [head, "x,Y,1600000000000002,1,1,buy,1,1", "x,Y,1600000000000001,1,2,sell,1,1"]
    lines = [line.replace(",1,", f",{T0},", 1) if i else line for i, line in enumerate(lines)]
    with pytest.raises(DataError, match="line 3, column 'timestamp': timestamps must not decrease"):
        read_tardis(_write(tmp_path, lines))
    events = read_tardis(_write(tmp_path, lines), sort=True)["events"]
    np.testing.assert_array_equal(events["trade_id"].values, [2, 1])
    assert events.attrs["sorted"] is True


TRADES_HEAD = PREFIX + "id,side,price,amount"
L2_HEAD = PREFIX + "is_snapshot,side,price,amount"
SNAP_HEAD = PREFIX + "asks[0].price,asks[0].amount,bids[0].price,bids[0].amount"
BAD = {
    "unknown header": (["exchange,symbol,timestamp,local_timestamp,funding_rate", "x"], "known Tardis header"),
    "bad side": ([TRADES_HEAD, f"x,Y,{T0},{T0},1,long,1,1"], "column 'side': expected buy, sell or unknown"),
    "bad book side": ([L2_HEAD, f"x,Y,{T0},{T0},true,buy,1,1"], "column 'side': expected bid or ask"),
    "two symbols": ([TRADES_HEAD, f"x,Y,{T0},{T0},1,buy,1,1", f"x,Z,{T0},{T0},2,buy,1,1"], "the same symbol"),
    "two exchanges": ([TRADES_HEAD, f"x,Y,{T0},{T0},1,buy,1,1", f"w,Y,{T0},{T0},2,buy,1,1"], "the same exchange"),
    "ms times": ([TRADES_HEAD, "x,Y,1600000000000,1600000000000,1,buy,1,1"], "column 'timestamp': expected epoch µs"),
    "zero amount": ([TRADES_HEAD, f"x,Y,{T0},{T0},1,buy,1,0"], "column 'amount': expected a number > 0"),
    "negative price": ([L2_HEAD, f"x,Y,{T0},{T0},true,bid,-1,1"], "column 'price': expected a number > 0"),
    "negative amount": ([L2_HEAD, f"x,Y,{T0},{T0},true,bid,1,-1"], "column 'amount': expected a number >= 0"),
    "text amount": ([TRADES_HEAD, f"x,Y,{T0},{T0},1,buy,1,abc"], "column 'amount': expected a decimal"),
    "half level": ([SNAP_HEAD, f"x,Y,{T0},{T0},10,,9,1"], "column 'asks\\[0\\].amount': a level needs both"),
    "zero level": ([SNAP_HEAD, f"x,Y,{T0},{T0},10,0,9,1"], "column 'asks\\[0\\].amount': expected an amount > 0"),
    "bad snapshot flag": ([L2_HEAD, f"x,Y,{T0},{T0},maybe,bid,1,1"], "column 'is_snapshot'"),
    "field count": ([TRADES_HEAD, f"x,Y,{T0},{T0},1,buy,1"], "line 2: expected 8 fields"),
    "no rows": ([TRADES_HEAD], "at least one data row"),
    "kind mismatch": ([TRADES_HEAD, f"x,Y,{T0},{T0},1,buy,1,1"], "the Tardis quotes header"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_rejections(tmp_path, case):
    lines, message = BAD[case]
    with pytest.raises(DataError, match=message):
        read_tardis(_write(tmp_path, lines), kind="quotes" if case == "kind mismatch" else "auto")


def test_truncated_gz_and_bad_kind(tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(_fixture("snap25").read_bytes())[:-50])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_tardis(path)
    with pytest.raises(DataError, match="`kind` must be one of"):
        read_tardis(_fixture("quotes"), kind="book_ticker")


def test_given_tick_must_divide(tmp_path):
    with pytest.raises(DataError, match="whole multiple of the unit 0.2"):
        read_tardis(_fixture("l2"), tick_size=0.2)


def test_id_kernel_matches_twin():
    rng = np.random.default_rng(5)
    for _ in range(100):
        words = [str(int(x)) for x in rng.integers(0, 10**12, int(rng.integers(1, 10)))]
        if rng.random() < 0.5:
            words[int(rng.integers(len(words)))] = rng.choice(["a1", "", "1-2", "9" * 19, "ccc3c1fa"])
        text = "\n".join(words) + "\n"
        buf = np.frombuffer(text.encode(), np.uint8)
        table = parse_csv(buf, [Column("id", "str")], source="t", header=False)
        ids, bad = _parse_ids(buf, table._offsets["id"])
        ok = [w.isdigit() and len(w) <= 18 for w in words]
        expected_bad = ok.index(False) if not all(ok) else -1
        assert bad == expected_bad
        if expected_bad < 0:
            assert ids.tolist() == [int(w) for w in words]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(FILES)), corruption=corruptions)
def test_corrupted_tardis_parses_or_raises_data_error(tmp_path, key, corruption):
    path = tmp_path / "c.csv"
    path.write_bytes(corrupt(_fixture(key).read_bytes(), *corruption))
    try:
        result = read_tardis(path)
    except SimlabError:
        return
    for name, dataset in result.items():
        validate_events(dataset) if name == "events" else validate_books(dataset)
