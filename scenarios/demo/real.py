"""The demo's real-data steps: ingest one file of each family from ``../shared/data`` and check the rebuilds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simlab.io import ingest, read
from simlab.io.binance_ws import check_bbo
from simlab.io.lobster import compare_books, replay_lobster
from simlab.store import load_store

BINANCE_CAPTURE = "binance_ws_l2_trades_hftbacktest/usdm/btcusdt_20240808.gz"
AAPL_L10 = "lobster_samples/AAPL_2012-06-21_level10_first1000"
AMZN_L1 = "lobster_samples/AMZN_2012-06-21_level1_fullday"
XRPETH = "binance_trades_xrpeth_2019-10/XRPETH-aggTrades-2019-10-11_to_13.csv.gz"
BAC_DAY = "equity_ticks_lean_algoseek_2013-10/bac/20131007_{}.zip"
UNISWAP_V3 = "uniswap_v3_usdc_weth_swaps_2021-08_credmark/univ3_usdc_weth_swaps_2021-08-10_to_09-05.csv.gz"


def real_data_steps(demo: Any, data: Path) -> tuple[xr.Dataset, xr.Dataset]:
    """Run the ingest and replay steps on real files; return the Binance events and books for the feature step."""
    market: dict[str, xr.Dataset] = {}
    demo.step(
        "Binance USD-M BTCUSDT capture: trades, depth diffs, L2 rebuild vs bookTicker",
        lambda: _binance_capture(demo, data, market),
    )
    demo.step(
        "LOBSTER AAPL level 10 and AMZN level 1: replay against the orderbook files", lambda: _lobster(demo, data)
    )
    demo.step("Binance XRP/ETH aggTrades (2.5 days): ingest", lambda: _ingest(demo, data / XRPETH, "xrpeth.zarr"))
    demo.step("BAC equity ticks 2013-10-07: NBBO and Lee-Ready signs", lambda: _equity(demo, data))
    demo.step("Uniswap v3 USDC/WETH swaps: swap events and pool price path", lambda: _uniswap(demo, data))
    return market["events"], market["books"]


def _binance_capture(demo: Any, data: Path, market: dict[str, xr.Dataset]) -> dict[str, Any]:
    path = data / BINANCE_CAPTURE
    summary = ingest(path, demo.output / "btcusdt_usdm.zarr", format="binance-ws", overwrite=True)
    groups = {name: load_store(demo.output / "btcusdt_usdm.zarr", name) for name in ("events", "books", "bbo")}
    bbo = check_bbo(groups)
    trades = groups["events"]["kind"].values == 5
    market.update(events=groups["events"], books=groups["books"])
    return {
        "about": "One Binance USD-M BTCUSDT WebSocket capture ingested (trades and depth diffs), its L2 book rebuilt "
        "and checked against the exchange's own best quotes (bookTicker): matched / equal counts the quotes found "
        "in both and how many agree.",
        "events (trades + level updates)": groups["events"].sizes["event"],
        "trades": int(trades.sum()),
        "book rows rebuilt": groups["books"].sizes["time"],
        "bookTicker ids matched / equal": f"{bbo['matched']} / {bbo['matched'] - bbo.get('mismatched', 0)}",
        "read rows/s": summary["rows_per_second"],
    }


def _lobster(demo: Any, data: Path) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "about": "The LOBSTER AAPL (10 levels) and AMZN (1 level) message files replayed through the matching engine "
        "and compared cell by cell with their orderbook files: each 'equal' count should reach its total.",
    }
    for label, folder in (("AAPL L10", AAPL_L10), ("AMZN L1", AMZN_L1)):
        files = sorted((data / folder).glob("*.csv"))
        lobster = read(files, "lobster")
        strict = compare_books(replay_lobster(lobster["events"], lobster["books"]), lobster["books"])
        revealed = replay_lobster(lobster["events"], lobster["books"], reveal=True)
        metrics[f"{label} rows"] = strict["rows"]
        metrics[f"{label} messages only: determined cells equal"] = (
            f"{strict['determined_cells'] - strict['mismatched_cells']} / {strict['determined_cells']}"
        )
        metrics[f"{label} with revealed levels: rows equal to the file"] = (
            f"{_equal_rows(revealed, lobster['books'])} / {strict['rows']}"
        )
        demo.save(f"lobster_{label.split()[0].lower()}.zarr", lobster, {"files": [f.name for f in files]})
    return metrics


def _equal_rows(replayed: xr.Dataset, books: xr.Dataset) -> int:
    names = ("bid_price", "bid_qty", "ask_price", "ask_qty")
    equal = np.all([(replayed[n].values == books[n].values).all(axis=1) for n in names], axis=0)
    return int(equal.sum())


def _ingest(demo: Any, path: Path, name: str) -> dict[str, Any]:
    summary = ingest(path, demo.output / name, overwrite=True)
    events = load_store(demo.output / name, "events")
    side = events["side"].values
    return {
        "about": f"{path.name} ingested into {name}: the rows, the aggressor sides and the gaps in the trade ids "
        "(missing records).",
        "rows": events.sizes["event"],
        "buy / sell (aggressor)": f"{(side > 0).sum()} / {(side < 0).sum()}",
        "id gaps": events.attrs.get("id_gaps", "n/a"),
        "read rows/s": summary["rows_per_second"],
    }


def _equity(demo: Any, data: Path) -> dict[str, Any]:
    paths = [data / BAC_DAY.format("trade"), data / BAC_DAY.format("quote")]
    summary = ingest(paths, demo.output / "bac_20131007.zarr", format="lean-equity", overwrite=True)
    events = load_store(demo.output / "bac_20131007.zarr", "events")
    books = load_store(demo.output / "bac_20131007.zarr", "books")
    side = events["side"].values
    return {
        "about": "BAC trades and quotes of 2013-10-07 ingested: the national best bid and offer rebuilt and each "
        "trade signed by the Lee-Ready rule (undecided: at the mid with no earlier price move).",
        "trades": events.sizes["event"],
        "NBBO updates": books.sizes["time"],
        "Lee-Ready buy / sell / undecided": f"{(side > 0).sum()} / {(side < 0).sum()} / {(side == 0).sum()}",
        "read rows/s": summary["rows_per_second"],
    }


def _uniswap(demo: Any, data: Path) -> dict[str, Any]:
    ingest(data / UNISWAP_V3, demo.output / "univ3_usdc_weth.zarr", overwrite=True)
    swaps = load_store(demo.output / "univ3_usdc_weth.zarr", "events")
    price = swaps["pool_price"].values
    return {
        "about": "Uniswap v3 USDC/WETH swaps ingested with the pool price after each swap (USDC per WETH).",
        "swaps": swaps.sizes["event"],
        "first / last price (USDC per WETH)": f"{price[0]:,.1f} / {price[-1]:,.1f}",
        "price range": f"{np.min(price):,.1f} - {np.max(price):,.1f}",
    }
