"""Errors a new user meets in the first hour: each is our one sentence, in the command line's words, exit status 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from scenarios.cli import app
from scenarios.cli.data import parse_options
from simlab.errors import ParameterError
from simlab.io import read, reader_options

runner = CliRunner()
# a LOBSTER level-1 pair: a sell order rests at 100.01, a buy order at 99.99, then the sell order is deleted
MESSAGES = "34200.000000001,1,1,100,1000100,-1\n34200.1,1,2,50,999900,1\n34200.2,3,1,100,1000100,-1\n"
BOOKS = "1000100,100,-9999999999,0\n1000100,100,999900,50\n9999999999,0,999900,50\n"
TRADES = "id,price,qty,quote_qty,time,is_buyer_maker\n1,100.5,0.01,1.005,1704067200000,true\n"


def invoke(*args: str):
    """Run the CLI and check the error contract: exit status 2, one `error:` line (the last), no traceback."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: ") and result.output.count("error:") == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    return lines[-1]


@pytest.fixture
def lobster(tmp_path):
    message = tmp_path / "TOY_2012-06-21_34200000_57600000_message_1.csv"
    orderbook = tmp_path / "TOY_2012-06-21_34200000_57600000_orderbook_1.csv"
    message.write_text(MESSAGES)
    orderbook.write_text(BOOKS)
    return message, orderbook


def test_a_mistyped_reader_option_lists_the_valid_keys(tmp_path, lobster):
    output = invoke("ingest", *lobster, "-o", tmp_path / "s.zarr", "--option", "levls=1")
    assert "the lobster reader has no option 'levls' (did you mean 'levels'?)" in output
    assert "its options are levels, date, ticker, tick_size, sort" in output
    trades = tmp_path / "TOY-trades-2024-01-01.csv"
    trades.write_text(TRADES)
    output = invoke("calibrate", "hawkes", trades, "-o", tmp_path / "p.toml", "--option", "levls=1")
    assert "binance-trades reader has no option 'levls'; its options are kind, header, tick_size" in output
    assert not (tmp_path / "s.zarr").exists()


def test_reader_options_are_the_keyword_only_parameters(tmp_path):
    assert reader_options("lobster") == ["levels", "date", "ticker", "tick_size", "sort"]
    (tmp_path / "capture.gz").write_bytes(b"")  # never opened: the options are checked first
    with pytest.raises(ParameterError, match="binance-ws reader has no option 'depht' \\(did you mean 'depth'\\?\\)"):
        read(tmp_path / "capture.gz", "binance-ws", depht=5)
    assert parse_options(["sort=true", "date=2012-06-21", "levels=10", "rebuild_book=False"]) == {
        "sort": True,
        "date": "2012-06-21",
        "levels": 10,
        "rebuild_book": False,
    }
    with pytest.raises(ParameterError, match="--option must look like key=value"):
        parse_options(["levels"])


def test_messages_name_the_command_line_flags(tmp_path, lobster):
    store = tmp_path / "s.zarr"
    assert runner.invoke(app, ["ingest", *map(str, lobster), "-o", str(store)]).exit_code == 0
    output = invoke("ingest", *lobster, "-o", store)
    assert "already exists; pass --overwrite to replace it" in output and "overwrite=True" not in output
    renamed = tmp_path / "toy_message_1.csv"
    renamed.write_text(MESSAGES)
    output = invoke("ingest", renamed, "-o", tmp_path / "r.zarr")
    assert "cannot tell the trading day from the file name; pass --option date=YYYY-MM-DD" in output
    assert "date='" not in output
    unsorted = tmp_path / "TOY-trades-2024-01-01.csv"
    unsorted.write_text(TRADES + "0,100.6,0.01,1.006,1704067199000,false\n")
    output = invoke("features", unsorted, "-o", tmp_path / "bars.zarr")
    assert "line 3" in output and "pass --option sort=True to sort" in output
    result = runner.invoke(app, ["features", str(unsorted), "-o", str(tmp_path / "bars.zarr"), "--option", "sort=True"])
    assert result.exit_code == 0, result.output
    output = invoke("calibrate", "hawkes", store, "-o", tmp_path / "p.toml", "--format", "lobster")
    assert "--format and --option (reader options) apply to raw files only; got format='lobster'" in output


def test_simulate_hawkes_with_no_paths_names_paths(tmp_path):
    output = invoke("simulate", "hawkes", "binance-usdm-btcusdt", "-o", tmp_path / "h.zarr", "--paths", "0")
    assert "--paths, the number of paths to simulate, must be a whole number >= 1; got 0" in output
    assert not (tmp_path / "h.zarr").exists()


def test_an_unknown_book_preset_lists_every_shipped_one(tmp_path):
    output = invoke("simulate", "book", "zi-amz", "-o", tmp_path / "b.zarr")
    for name in ("zi-amzn", "qr-amzn", "zi-aapl", "qr-aapl", "hawkes-aapl"):
        assert repr(name) in output
    assert "binance-usdm-btcusdt" not in output  # a Hawkes-process preset, not a book preset


def test_info_on_something_that_is_not_a_store(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    output = invoke("info", tmp_path / "notes.txt")
    assert "notes.txt is not a simlab store: expected a zarr folder holding zarr.json" in output
    assert "found a file" in output and "No group found" not in output and "zarr v3" not in output
    assert "found a folder without zarr.json" in invoke("info", tmp_path)
    assert "does not exist" in invoke("info", tmp_path / "missing.zarr")


def test_demo_with_a_missing_data_folder_fails(tmp_path):
    output = invoke("demo", "--data", tmp_path / "missing", "-o", tmp_path / "demo")
    assert "--data" in output and "is not a folder (it does not exist)" in output and "--synthetic" in output
    assert not (tmp_path / "demo").exists()
    output = invoke("demo", "--data", tmp_path, "--synthetic", "-o", tmp_path / "demo")
    assert "--data" in output and "--synthetic contradict each other" in output


def test_replay_with_its_files_swapped_says_so(tmp_path, lobster):
    message, orderbook = lobster
    output = invoke("replay", orderbook, message, "-o", tmp_path / "r.zarr")
    assert "the two files are swapped" in output and "pass the message file first" in output
    plain_message, plain_book = tmp_path / "a.csv", tmp_path / "b.csv"  # names that tell nothing: by content
    plain_message.write_text(MESSAGES)
    plain_book.write_text(BOOKS)
    output = invoke("replay", plain_book, plain_message, "-o", tmp_path / "r.zarr")
    assert "b.csv is an orderbook file (4 fields a line) and a.csv a message file (6 fields)" in output
    result = runner.invoke(app, ["replay", str(message), str(orderbook), "-o", str(tmp_path / "r.zarr")])
    assert result.exit_code == 0, result.output
    assert "mismatched_cells" in result.output
