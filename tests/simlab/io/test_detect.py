"""Format detection reads the files' first bytes: copies of real files under names that follow no pattern."""

from __future__ import annotations

import gzip
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from simlab.errors import ParameterError
from simlab.io import FORMATS, detect_format, read
from tests.conftest import shared_path

# a real file of every format with a content sniffer -> its format
SAMPLES = {
    "binance_trades_xrpeth_2019-10/XRPETH-aggTrades-2019-10-11_to_13.csv.gz": "binance-trades",
    "binance_ws_l2_trades_hftbacktest/usdm/btcusdt_20240718.trades.csv.gz": "binance-trades",
    "binance_trades_xrpeth_2019-10/XRP_ETH-trades_ccxt_raw.json.gz": "ccxt-json",
    "binance_ws_l2_trades_hftbacktest/spot/btcusdt_20230405.dat.gz": "binance-ws",
    "binance_ws_l2_trades_hftbacktest/usdm/btcusdt_20240718.gz": "binance-ws",
    "crypto_format_fixtures_nautilus/btcusdt-depth-update.csv": "binance-depth-csv",
    "crypto_format_fixtures_nautilus/binance_btcusdt-trades_2021-01-08_46s.parquet": "binance-parquet",
    "crypto_format_fixtures_nautilus/bitmex_trades_XBTUSD.csv": "tardis",
    "crypto_format_fixtures_nautilus/binance-futures_book_snapshot_5_BTCUSDT.csv": "tardis",
    "lobster_samples/AMZN_2012-06-21_level1_fullday/AMZN_2012-06-21_34200000_57600000_message_1.csv": "lobster",
    "lobster_samples/AAPL_2012-06-21_level50_0930-1030_messages/AAPL_2012-06-21_34200000_37800000_message_50.csv": (
        "lobster"
    ),
    "lobster_samples/AAPL_2012-06-21_level10_first1000/AAPL_2012-06-21_34200000_57600000_orderbook_10_first998.csv": (
        "lobster"
    ),
    "uniswap_v2_uni_weth_swaps_2021-06/univ2_uni_weth_swaps_2021-06-14_to_06-22.csv.gz": "uniswap-v2",
    "uniswap_v3_usdc_weth_swaps_2021-08_credmark/univ3_usdc_weth_swaps_2021-08-10_to_09-05.csv.gz": "uniswap-v3",
}


def _copy_head(source: Path, target: Path, lines: int = 50) -> Path:
    """Write the first ``lines`` lines of ``source`` (decompressed) to ``target``, gzipped when it ends in .gz."""
    raw = gzip.decompress(source.read_bytes()) if source.name.endswith(".gz") else source.read_bytes()
    head = b"\n".join(raw.split(b"\n")[:lines]) + b"\n"
    target.write_bytes(gzip.compress(head) if target.name.endswith(".gz") else head)
    return target


@pytest.mark.parametrize("relative", sorted(SAMPLES))
def test_content_decides_whatever_the_name(tmp_path: Path, relative: str) -> None:
    source = shared_path(relative)
    assert re_search_name(source.name, SAMPLES[relative])  # the real name follows the format's pattern ...
    if source.suffix == ".parquet":
        renamed = [tmp_path / "export.bin"]
        shutil.copy(source, renamed[0])
    else:  # ... and neither of these names does
        renamed = [_copy_head(source, tmp_path / "export.gz"), _copy_head(source, tmp_path / "my data.txt")]
    for path in renamed:
        assert not re_search_name(path.name, SAMPLES[relative])
        assert detect_format([path]) == SAMPLES[relative]


def re_search_name(name: str, format: str) -> bool:
    return re.search(FORMATS[format].pattern, name) is not None


def test_a_real_capture_under_any_name_reads_with_no_options(tmp_path: Path) -> None:
    source = shared_path("binance_ws_l2_trades_hftbacktest/spot/btcusdt_20240808.gz")
    path = tmp_path / "mycapture.log.gz"
    shutil.copy(source, path)
    result = read(path)
    assert result["events"].attrs["format"] == "binance-ws" and result["events"].attrs["files"] == [path.name]
    assert result["books"].sizes["time"] == result["events"].attrs["diffs_applied"] > 3000


def test_names_decide_when_no_sniffer_does_and_undetectable_files_name_the_formats(tmp_path: Path) -> None:
    source = shared_path("equity_ticks_lean_algoseek_2013-10/bac/20131007_trade.zip")
    assert FORMATS["lean-equity"].sniff is None and detect_format([source]) == "lean-equity"
    renamed = tmp_path / "trades.zip"
    shutil.copy(source, renamed)
    with pytest.raises(ParameterError, match=r"cannot detect the format of \['trades.zip'\]: neither .* pass --format"):
        detect_format([renamed])
    (tmp_path / "notes.txt").write_text("hello\nworld\n")
    with pytest.raises(ParameterError, match=r"one of \['binance-depth-csv', 'binance-parquet'.*'uniswap-v3'\]"):
        detect_format([tmp_path / "notes.txt"])
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:  # not one member: no content read, name only
        archive.writestr("a.csv", "1,2\n")
        archive.writestr("b.csv", "3,4\n")
    with pytest.raises(ParameterError, match="neither their first lines nor their names"):
        detect_format([tmp_path / "two.zip"])


def test_files_of_two_formats_are_refused(tmp_path: Path) -> None:
    ws = _copy_head(shared_path("binance_ws_l2_trades_hftbacktest/usdm/btcusdt_20240718.gz"), tmp_path / "a.gz")
    tardis = _copy_head(shared_path("crypto_format_fixtures_nautilus/bitmex_trades_XBTUSD.csv"), tmp_path / "b.csv")
    with pytest.raises(ParameterError, match=r"cannot detect the format of \['a.gz', 'b.csv'\]"):
        detect_format([ws, tardis])
