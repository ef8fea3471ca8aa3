"""Every dataset in ../shared/data (but the DEX-wide MEV swap file) ingests with one command, format detected."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scenarios.cli import app
from simlab.io import detect_format, ingest
from simlab.schema import validate_books, validate_events
from simlab.store import list_groups, load_store
from tests.conftest import SHARED_DATA, shared_path

WS = "binance_ws_l2_trades_hftbacktest"
LOB = "lobster_samples"
LEAN = "equity_ticks_lean_algoseek_2013-10"
NAUTILUS = "crypto_format_fixtures_nautilus"
BOOKED = ["bbo", "books", "events"]  # a capture with a REST snapshot: events, rebuilt books and bookTicker
# (files of one ingest command, detected format, reader options, expected groups)
CASES = [
    (["binance_trades_xrpeth_2019-10/XRPETH-aggTrades-2019-10-11_to_13.csv.gz"], "binance-trades", {}, ["events"]),
    (["binance_trades_xrpeth_2019-10/XRP_ETH-trades_ccxt_raw.json.gz"], "ccxt-json", {}, ["events"]),
    *[([f"{WS}/{d}/{n}.trades.csv.gz"], "binance-trades", {}, ["events"]) for d, n in [
        ("spot", "btcusdt_20230405"), ("spot", "btcusdt_20240808"), ("spot", "ethusdt_20240808"),
        ("usdm", "btcusdt_20230404"), ("usdm", "btcusdt_20230405"), ("usdm", "btcusdt_20240718"),
        ("usdm", "btcusdt_20240719"), ("usdm", "btcusdt_20240808"), ("usdm", "ethusdt_20240718"),
        ("usdm", "ethusdt_20240719"), ("usdm", "ethusdt_20240808")]],
    ([f"{WS}/spot/btcusdt_20240808.gz"], "binance-ws", {}, BOOKED),
    ([f"{WS}/spot/ethusdt_20240808.gz"], "binance-ws", {}, BOOKED),
    ([f"{WS}/usdm/btcusdt_20240808.gz"], "binance-ws", {}, BOOKED),
    ([f"{WS}/usdm/ethusdt_20240808.gz"], "binance-ws", {}, BOOKED),
    ([f"{WS}/usdm/btcusdt_20240718.gz", f"{WS}/usdm/btcusdt_20240719.gz"], "binance-ws", {}, BOOKED),
    ([f"{WS}/usdm/ethusdt_20240718.gz", f"{WS}/usdm/ethusdt_20240719.gz"], "binance-ws", {}, BOOKED),
    ([f"{WS}/usdm/btcusdt_20230404.dat.gz", f"{WS}/usdm/btcusdt_20230405.dat.gz"], "binance-ws", {}, BOOKED),
    ([f"{WS}/spot/btcusdt_20230405.dat.gz"], "binance-ws", {}, BOOKED),  # no REST snapshot: undetermined levels
    ([f"{NAUTILUS}/btcusdt-depth-snap.csv", f"{NAUTILUS}/btcusdt-depth-update.csv"], "binance-depth-csv",
     {"rebuild_book": False}, ["events"]),
    ([f"{NAUTILUS}/binance_btcusdt-trades_2021-01-08_46s.parquet"], "binance-parquet", {}, ["events"]),
    ([f"{NAUTILUS}/binance_btcusdt-quotes_2021-01-08_46s.parquet"], "binance-parquet", {}, ["books"]),
    ([f"{NAUTILUS}/binance-futures_book_snapshot_5_BTCUSDT.csv"], "tardis", {}, ["books"]),
    ([f"{NAUTILUS}/binance-futures_book_snapshot_25_BTCUSDT.csv"], "tardis", {}, ["books"]),
    ([f"{NAUTILUS}/bitmex_trades_XBTUSD.csv"], "tardis", {}, ["events"]),
    ([f"{NAUTILUS}/deribit_incremental_book_L2_BTC-PERPETUAL.csv"], "tardis", {}, ["events"]),
    ([f"{NAUTILUS}/huobi-dm-swap_quotes_BTC-USD.csv"], "tardis", {}, ["books"]),
    ([f"{LOB}/AMZN_2012-06-21_level1_fullday/AMZN_2012-06-21_34200000_57600000_message_1.csv",
      f"{LOB}/AMZN_2012-06-21_level1_fullday/AMZN_2012-06-21_34200000_57600000_orderbook_1.csv"],
     "lobster", {}, ["books", "events"]),
    ([f"{LOB}/AAPL_2012-06-21_level10_first1000/AAPL_2012-06-21_34200000_57600000_message_10_first998.csv",
      f"{LOB}/AAPL_2012-06-21_level10_first1000/AAPL_2012-06-21_34200000_57600000_orderbook_10_first998.csv"],
     "lobster", {}, ["books", "events"]),
    ([f"{LOB}/AAPL_2012-06-21_level50_0930-1030_messages/AAPL_2012-06-21_34200000_37800000_message_50.csv"],
     "lobster", {}, ["events"]),
    ([f"{LOB}/AAPL_2012-06-21_level1_orderbook_only/AAPL_2012-06-21_34200000_57600000_orderbook_1.csv"],
     "lobster", {}, ["books"]),
    *[([f"{LEAN}/bac/2013100{d}_trade.zip", f"{LEAN}/bac/2013100{d}_quote.zip"], "lean-equity", {},
       ["books", "events", "quotes"]) for d in range(7, 10)],
    *[([f"{LEAN}/bac/201310{d}_trade.zip", f"{LEAN}/bac/201310{d}_quote.zip"], "lean-equity", {},
       ["books", "events", "quotes"]) for d in (10, 11)],
    *[([f"{LEAN}/spy/2013100{d}_trade.zip"], "lean-equity", {}, ["events"]) for d in range(7, 10)],
    *[([f"{LEAN}/spy/201310{d}_trade.zip"], "lean-equity", {}, ["events"]) for d in (10, 11)],
    (["uniswap_v2_uni_weth_swaps_2021-06/univ2_uni_weth_swaps_2021-06-14_to_06-22.csv.gz"], "uniswap-v2", {},
     ["events"]),
    (["uniswap_v3_usdc_weth_swaps_2021-08_credmark/univ3_usdc_weth_swaps_2021-08-10_to_09-05.csv.gz"], "uniswap-v3", {},
     ["events"]),
]  # fmt: skip


def test_every_shared_file_is_covered():
    shared_path("")
    covered = {name for files, *_ in CASES for name in files}
    present = {
        str(p.relative_to(SHARED_DATA))
        for p in SHARED_DATA.rglob("*")
        if p.is_file() and p.suffix not in (".md", ".txt") and "mev_inspect" not in p.name
    }
    assert present - covered == set() and covered - present == set()


@pytest.mark.slow
@pytest.mark.parametrize(("files", "format", "options", "groups"), CASES, ids=lambda v: str(v)[-60:])
def test_ingest_with_one_command(tmp_path, files, format, options, groups):
    paths = [shared_path(f) for f in files]
    assert detect_format(paths) == format
    summary = ingest(paths, tmp_path / "s.zarr", **options)
    assert summary["format"] == format and list_groups(tmp_path / "s.zarr") == groups
    for group in groups:
        data = load_store(tmp_path / "s.zarr", group)
        sources = json.loads(data.attrs["sources"])
        assert [s["name"] for s in sources] == [p.name for p in paths] and all(len(s["sha256"]) == 64 for s in sources)
        if group == "events":
            validate_events(data)
        elif group in ("books", "bbo"):
            validate_books(data, allow_crossed=True)


def test_cli_ingest_and_info(tmp_path):
    path = shared_path("binance_trades_xrpeth_2019-10/XRPETH-aggTrades-2019-10-11_to_13.csv.gz")
    result = CliRunner().invoke(app, ["ingest", str(path), "-o", str(tmp_path / "x.zarr")])
    assert result.exit_code == 0, result.output
    assert "binance-trades" in result.output and "12477" in result.output
    result = CliRunner().invoke(app, ["info", str(tmp_path / "x.zarr")])
    assert result.exit_code == 0 and '"event": 12477' in result.output


def test_cli_ingest_reports_a_reader_error_with_its_sentence(tmp_path):
    path = shared_path(f"{WS}/spot/btcusdt_20230405.dat.gz")  # no REST snapshot
    strict = ["--option", "require_snapshot=true"]
    result = CliRunner().invoke(app, ["ingest", str(path), "-o", str(tmp_path / "x.zarr"), *strict])
    assert result.exit_code == 2 and "no REST depth snapshot" in result.output
    assert not (tmp_path / "x.zarr").exists()
    result = CliRunner().invoke(app, ["ingest", str(path), "-o", str(tmp_path / "x.zarr")])
    assert result.exit_code == 0, result.output
    assert load_store(tmp_path / "x.zarr", "books").attrs["fully_determined_from_ns"] == -1
