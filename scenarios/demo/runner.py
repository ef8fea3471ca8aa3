"""`simlab demo`: the lab end to end on its embedded default, writing stores and a report under one folder.

With the real data beside the repository (``../shared/data``) the demo ingests one file of each family, checks the
book rebuilds against their references (Binance bookTicker, LOBSTER orderbook file), computes the order-flow
feature bars and reports. Without it, it runs the same pipeline on the built-in synthetic sample. Each later issue
adds its steps here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from scenarios.demo.amm import amm_step
from scenarios.demo.book import book_step
from scenarios.demo.forecast import forecast_step
from scenarios.demo.generate import generate_step
from scenarios.demo.hawkes import hawkes_step
from scenarios.demo.score import score_step
from simlab.features import compute_features, ofi_signal, order_flow_imbalance
from simlab.io import DEFAULT_DATA_DIR
from simlab.provenance import provenance
from simlab.store import write_store
from simlab.synthetic import toy_market

DEFAULT_DATA = DEFAULT_DATA_DIR
BIN_NS = 1_000_000_000


class Demo:
    """Collect a demo run's steps: each step times itself and records its numbers for the report."""

    def __init__(self, output: Path, seed: int, console: Any = None) -> None:
        self.output = output
        self.seed = seed
        self.console = console
        self.sections: list[tuple[str, dict[str, Any]]] = []

    def step(self, title: str, function: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run one step, print its progress and keep its metrics."""
        if self.console is not None:
            self.console.print(f"[cyan]•[/] {title} ...")
        started = time.perf_counter()
        metrics = function()
        metrics["seconds"] = round(time.perf_counter() - started, 3)
        self.sections.append((title, metrics))
        return metrics

    def save(self, name: str, groups: dict[str, xr.Dataset] | xr.Dataset, config: dict[str, Any]) -> Path:
        """Write a store under the demo folder with the run's provenance."""
        attrs = provenance(seed=self.seed, config=config)
        return write_store(groups, self.output / name, attrs=attrs, overwrite=True)


def run_demo(
    output: Path | str = Path("outputs/demo"),
    *,
    seed: int = 20240809,
    data_dir: Path | str | None = None,
    synthetic: bool = False,
    console: Any = None,
) -> Path:
    """Run the demo and return the path of its report (``report.md`` under ``output``)."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    data = Path(data_dir) if data_dir is not None else DEFAULT_DATA
    demo = Demo(output, seed, console)
    demo.step("OFI(T,h) signal on Table 1 of the hybrid VAR-FNN paper", _paper_table)
    use_real = not synthetic and data.is_dir()
    if use_real:
        from scenarios.demo.real import real_data_steps

        events, books = real_data_steps(demo, data)
    else:
        events, books = _synthetic_step(demo)
    bars = demo.step("Order-flow feature bars (1 s)", lambda: _features(demo, events, books))
    demo.step("Hawkes: simulate the Binance BTCUSDT preset (4 x 10 min)", lambda: hawkes_step(demo, data))
    demo.step("Order book: ZI and QR AMZN presets vs the real day, LOBSTER export", lambda: book_step(demo, data))
    real = data if use_real else None
    demo.step(
        "Realism scorecard: 30 min of the ZI and QR AMZN books vs the real AMZN day at 12:00-12:30",
        lambda: score_step(demo, real),
    )
    demo.step(
        "Forecasting benchmark: OFI forecasters vs the Hawkes oracle, leakage audit", lambda: forecast_step(demo, real)
    )
    demo.step("AMM lab: fee designs under GBM arbitrage, v3 swaps replayed", lambda: amm_step(demo, real))
    demo.step("Diffusion generator: tiny model, AAPL hour, held-out score", lambda: generate_step(demo, real))
    figure = _plot(output, bars.pop("_bars"), events.attrs.get("instrument", "?"), events.attrs["tick_size"])
    return _write_report(demo, figure, "real data from " + str(data) if use_real else "built-in synthetic sample")


def _paper_table() -> dict[str, Any]:
    buys, sells = np.array([55, 45, 60]), np.array([30, 40, 125])
    ofi = order_flow_imbalance(buys, sells)
    signal = ofi_signal(ofi, threshold=0.1)
    names = {1: "BUY", 0: "HOLD", -1: "SELL"}
    return {f"{b}/{s}": f"{o:+.3f} {names[int(g)]}" for b, s, o, g in zip(buys, sells, ofi, signal, strict=True)}


def _synthetic_step(demo: Demo) -> tuple[xr.Dataset, xr.Dataset]:
    market: dict[str, xr.Dataset] = {}

    def run() -> dict[str, Any]:
        market.update(toy_market(demo.seed, duration_s=600.0))
        demo.save("toy_market.zarr", market, {"model": "toy_market", "duration_s": 600.0})
        return {"trades": market["events"].sizes["event"], "book snapshots": market["books"].sizes["time"]}

    demo.step("Simulate the built-in synthetic sample (toy market, 10 min)", run)
    return market["events"], market["books"]


def _features(demo: Demo, events: xr.Dataset, books: xr.Dataset | None) -> dict[str, Any]:
    bars = compute_features(events, books, bin_ns=BIN_NS, threshold=0.1)
    demo.save("features.zarr", bars, {"bin_ns": BIN_NS, "threshold": 0.1})
    signal = bars["ofi_signal"].values
    metrics: dict[str, Any] = {
        "bars": bars.sizes["time"],
        "bars BUY/HOLD/SELL": f"{(signal > 0).sum()}/{(signal == 0).sum()}/{(signal < 0).sum()}",
        "final CVD (lots)": int(bars["cvd_lots"].values[-1]) if bars.sizes["time"] else 0,
        "mean |OFI|": round(float(np.nanmean(np.abs(bars["ofi"].values))), 4),
    }
    if "spread_ticks" in bars:
        metrics["median spread (ticks)"] = float(np.nanmedian(bars["spread_ticks"].values))
    metrics["_bars"] = bars
    return metrics


def _plot(output: Path, bars: xr.Dataset, instrument: str, tick_size: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = (bars["ts_ns"].values - bars["ts_ns"].values[0]) / 6e10 if bars.sizes["time"] else []
    fig, axes = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    price = bars["mid_ticks"] if "mid_ticks" in bars else bars["vwap_ticks"]
    axes[0].plot(minutes, price.values * tick_size, lw=0.8)
    axes[0].set_ylabel("mid price" if price.name == "mid_ticks" else "VWAP")
    axes[1].plot(minutes, bars["cvd_lots"].values, lw=0.8, color="tab:green")
    axes[1].set_ylabel("CVD (lots)")
    colors = np.array(["tab:red", "tab:gray", "tab:green"])[bars["ofi_signal"].values.astype(int) + 1]
    axes[2].bar(minutes, bars["ofi"].values, width=1 / 60, color=colors)
    axes[2].set_ylabel("OFI (1 s)")
    axes[2].set_xlabel("minutes")
    fig.suptitle(f"{instrument}: order flow")
    fig.tight_layout()
    path = output / "order_flow.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _write_report(demo: Demo, figure: Path, source: str) -> Path:
    lines = ["# simlab demo", "", f"Source: {source}. Root seed: {demo.seed}.", ""]
    for title, metrics in demo.sections:
        lines += [f"## {title}", "", "| metric | value |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in metrics.items()]
        lines.append("")
    lines += [f"![order flow]({figure.name})", ""]
    report = demo.output / "report.md"
    report.write_text("\n".join(lines))
    metrics = {title: metrics for title, metrics in demo.sections}
    (demo.output / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    return report
