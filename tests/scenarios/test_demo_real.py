"""The demo on the real data: every step runs and its checks hold (slow: it ingests one file of each family)."""

from __future__ import annotations

import json

import pytest

from scenarios.demo import run_demo
from scenarios.demo.abm import RESPONSE_KEY
from simlab.store import list_groups, load_store
from tests.conftest import shared_path


@pytest.mark.slow
def test_demo_on_real_data(tmp_path):
    data = shared_path("")
    report = run_demo(tmp_path, seed=1, data_dir=data)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    binance = metrics["Binance USD-M BTCUSDT capture: trades, depth diffs, L2 rebuild vs bookTicker"]
    matched, equal = (int(x) for x in binance["bookTicker ids matched / equal"].split(" / "))
    assert binance["trades"] == 21_313 and matched > 0 and equal == matched
    lobster = metrics["LOBSTER AAPL level 10 and AMZN level 1: replay against the orderbook files"]
    assert lobster["AAPL L10 with revealed levels: rows equal to the file"] == "999 / 999"
    assert lobster["AMZN L1 with revealed levels: rows equal to the file"] == "57515 / 57515"
    assert lobster["AAPL L10 messages only: determined cells equal"] == "6423 / 6423"
    assert metrics["Binance XRP/ETH aggTrades (2.5 days): ingest"]["rows"] == 12_477
    assert metrics["BAC equity ticks 2013-10-07: NBBO and Lee-Ready signs"]["trades"] == 88_172
    assert metrics["Uniswap v3 USDC/WETH swaps: swap events and pool price path"]["swaps"] == 13_413
    assert metrics["Order-flow feature bars (1 s)"]["bars"] > 300
    assert list_groups(tmp_path / "btcusdt_usdm.zarr") == ["bbo", "books", "events"]
    # the scorecard, agent-market and forecasting steps on the real data (their own tests read this run)
    card = metrics["Realism scorecard: 30 min of the ZI and QR AMZN books vs the real AMZN day at 12:00-12:30"]
    assert card["real data"].startswith("AMZN")
    value = float(card["zi-amzn mean l1 [99% interval]"].split()[0])
    assert 0.3 < value < 0.8  # far from real: the zero-intelligence book is a caricature of AMZN
    assert json.loads((tmp_path / "score" / "zi-amzn" / "scores.json").read_text())["meta"]["window_levels"] == 1
    (agents,) = [value for key, value in metrics.items() if key.startswith("Agent-based market (abm-amzn-v34")]
    assert agents["real data"].startswith("AMZN") and agents["book events"] > 1000
    real = [float(p.split("(")[1].rstrip(")")) for p in agents[RESPONSE_KEY].split(" / ")]  # AMZN 12:00-12:30
    assert all(v == v for v in real[:3]) and real[2] > real[0]  # defined in the three small bins, and rising
    impact = metrics["Metaorder impact in the calibrated agent market: one-hour TWAP buys (abm-amzn-v26), with its "
                     "held-out record"]  # fmt: skip
    peaks = [float(impact[f"Q/V {f}: peak / 30 min after (bps, mean of 2 seeds)"].split(" / ")[0]) for f in
             ("0.001", "0.01", "0.1")]  # fmt: skip
    assert 0 < peaks[2] and peaks[0] < peaks[2]  # a larger metaorder moves the price more, against itself
    label = "held out, seeds 2400-2447 (48), 30 min watched"
    assert impact[f"{label}: exponent, weighted fit (95 % interval)"] == "0.580 [0.555, 0.615]"
    assert "![Metaorder impact" in report.read_text() and (tmp_path / "abm_impact.png").is_file()
    forecast = metrics["Forecasting benchmark: OFI forecasters vs the Hawkes oracle, leakage audit"]
    assert forecast["BTCUSDT: windows of 1 s"] == 343
    honest, nowcast = (float(v) for v in forecast["BTCUSDT: hybrid honest / nowcast R^2"].split(" / "))
    # one 6-minute capture and light networks: the nowcast still explains most of the OFI, the honest one little
    assert nowcast > 0.7 > 0.3 > honest
    sources = json.loads(load_store(tmp_path / "forecast.zarr").attrs["sources"])
    assert [s["name"] for s in sources] == ["btcusdt_20240808.trades.csv.gz"] and sources[0]["bytes"] > 0
    assert "![order flow](order_flow.png)" in report.read_text()
