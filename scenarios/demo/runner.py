"""`simlab demo`: the lab end to end on its embedded default, writing stores and a report under one folder.

With the real data beside the repository (``../shared/data``) the demo ingests one file of each family, checks the
book rebuilds against their references (Binance bookTicker, LOBSTER orderbook file), computes the order-flow
feature bars and reports. Without it, it runs the same pipeline on the built-in synthetic sample. Each later issue
adds its steps here.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from scenarios.demo.abm import abm_step
from scenarios.demo.amm import amm_step
from scenarios.demo.book import book_step
from scenarios.demo.forecast import forecast_step
from scenarios.demo.generate import generate_step
from scenarios.demo.hawkes import hawkes_step
from scenarios.demo.impact import TITLE as IMPACT_TITLE
from scenarios.demo.impact import impact_step
from scenarios.demo.score import score_step
from scenarios.demo.stress import stress_step
from scenarios.demo.sweep import sweep_step
from scenarios.report_html import PLOT_STYLE, markdown_table, markdown_to_html, page
from simlab.errors import DataError, ParameterError
from simlab.features import compute_features, ofi_signal, order_flow_imbalance
from simlab.io import DEFAULT_DATA_DIR
from simlab.provenance import provenance
from simlab.store import write_store, write_text_atomic
from simlab.synthetic import toy_market

DEFAULT_DATA = DEFAULT_DATA_DIR
BIN_NS = 1_000_000_000
FIGURE_ABOUT = (
    "The 1 s feature bars over time: the price, the cumulative volume delta (buy minus sell lots traded) and the "
    "OFI of each bar coloured by its signal."
)


class Demo:
    """Collect a demo run's steps: each step times itself and records its numbers for the report.

    A step function returns its metrics (names to values) and, under ``"about"``, the one sentence that opens its
    report section: what the step did and how to read its numbers. The sentence is kept in :attr:`about`, apart
    from the metrics. A step that draws a figure appends ``(title, sentence, path)`` to :attr:`figures`; the report
    shows each in its own section after the order-flow figure.
    """

    def __init__(self, output: Path, seed: int, console: Any = None) -> None:
        self.output = output
        self.seed = seed
        self.console = console
        self.sections: list[tuple[str, dict[str, Any]]] = []
        self.about: dict[str, str] = {}
        self.figures: list[tuple[str, str, Path]] = []

    def step(self, title: str, function: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run one step, print its progress and keep its metrics and its opening sentence."""
        self._announce(title)
        started = time.perf_counter()
        metrics = function()
        return self._keep(title, metrics, time.perf_counter() - started)

    def step_beside(self, title: str, pending: Any) -> dict[str, Any]:
        """Keep a step that ran in the second process (:func:`_start_beside`): its metrics and its own run time.

        ``pending`` is the worker's ``AsyncResult``; an error of the step is raised here, in the step's place.
        """
        self._announce(title + " (ran beside the steps above, in a second process)")
        started = time.perf_counter()
        metrics, seconds = pending.get()
        metrics["waited for the second process (s)"] = round(time.perf_counter() - started, 3)
        return self._keep(title, metrics, seconds)

    def _announce(self, title: str) -> None:
        if self.console is not None:
            self.console.print(f"[cyan]•[/] {title} ...")

    def _keep(self, title: str, metrics: dict[str, Any], seconds: float) -> dict[str, Any]:
        if "about" in metrics:
            self.about[title] = metrics.pop("about")
        metrics["seconds"] = round(seconds, 3)
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
    """Run the demo and return the path of its report (``report.md`` under ``output``).

    The real data come from ``data_dir`` (which must then exist), else from ``../shared/data`` when it is there;
    ``synthetic`` (or no real-data folder at all) runs the built-in synthetic sample. Step titles name the source.
    """
    real = _real_data_folder(data_dir, synthetic)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    demo = Demo(output, seed, console)
    with multiprocessing.get_context("spawn").Pool(1) as beside:  # the generator step runs on a second core
        generated = beside.apply_async(_timed_step, (generate_step, output, seed, real))
        bars, instrument, tick_size = _main_steps(demo, real, generated)
    figure = _plot(output, bars, instrument, tick_size)
    source = f"real data from {real}" if real is not None else "built-in synthetic sample"
    if real is None and not synthetic:
        source += f" (no real-data folder at {DEFAULT_DATA})"
    return _write_report(demo, figure, source)


def _timed_step(step: Callable[..., dict[str, Any]], output: Path, seed: int, real: Path | None) -> tuple[dict, float]:
    """Run ``step(demo, real)`` in the second process with a demo of its own (same folder and seed, no console);
    return its metrics and its run time (s). The step depends on nothing the main steps make."""
    started = time.perf_counter()
    metrics = step(Demo(output, seed), real)
    return metrics, time.perf_counter() - started


def _main_steps(demo: Demo, real: Path | None, generated: Any) -> tuple[xr.Dataset, str, float]:
    """Run the demo's steps in order, keeping the generator's (``generated``, running beside them) in its place;
    return the feature bars, the instrument and its tick size for the report's figure."""
    demo.step("OFI(T,h) signal on Table 1 of the hybrid VAR-FNN paper", _paper_table)
    if real is not None:
        from scenarios.demo.real import real_data_steps

        events, books = real_data_steps(demo, real)
    else:
        events, books = _synthetic_step(demo)
    bars = demo.step("Order-flow feature bars (1 s)", lambda: _features(demo, events, books))
    demo.step("Hawkes: simulate the Binance BTCUSDT preset (4 x 10 min)", lambda: hawkes_step(demo, real))
    against = "the real AMZN day" if real is not None else "the real-day numbers recorded in the presets"
    demo.step(f"Order book: ZI and QR AMZN presets vs {against}, LOBSTER export", lambda: book_step(demo, real))
    against = (
        "the real AMZN day at 12:00-12:30" if real is not None else "a second ZI run (no real data: machinery only)"
    )
    demo.step(f"Realism scorecard: 30 min of the ZI and QR AMZN books vs {against}", lambda: score_step(demo, real))
    against = "the real AMZN day at 12:00-12:30" if real is not None else "a second run (no real data: machinery only)"
    demo.step(
        f"Agent-based market (abm-amzn-v34, calibrated to the AMZN day) vs {against}", lambda: abm_step(demo, real)
    )
    demo.step(IMPACT_TITLE + " (abm-amzn-v26), with its held-out record", lambda: impact_step(demo))
    demo.step(
        "Forecasting benchmark: OFI forecasters vs the Hawkes oracle, leakage audit", lambda: forecast_step(demo, real)
    )
    swaps = ", real Uniswap v3 swaps replayed" if real is not None else " (no real swaps to replay)"
    demo.step(f"AMM lab: fee designs under GBM arbitrage{swaps}", lambda: amm_step(demo, real))
    demo.step("Sweeps on Dask: static fee x volatility on 2 workers", lambda: sweep_step(demo))
    span = "AAPL hour, held-out score" if real is not None else "a seeded ZI book stands in (no real data)"
    demo.step_beside(f"Diffusion generator: tiny model, {span}", generated)
    demo.step(
        "Stress lab: the 2010 E-mini flash crash, fee designs and forecasters; the USDC depeg on its StableSwap pool",
        lambda: stress_step(demo, real),
    )
    return bars.pop("_bars"), events.attrs.get("instrument", "?"), events.attrs["tick_size"]


def _real_data_folder(data_dir: Path | str | None, synthetic: bool) -> Path | None:
    """Return the real-data folder to use, or None for the synthetic sample; a given folder must exist."""
    if data_dir is None:
        return None if synthetic or not DEFAULT_DATA.is_dir() else DEFAULT_DATA
    if synthetic:
        raise ParameterError(f"`data_dir` ({data_dir}) and `synthetic` contradict each other; pass one of them")
    if not Path(data_dir).is_dir():
        found = "it is a file" if Path(data_dir).exists() else "it does not exist"
        raise DataError(
            f"`data_dir` {data_dir} is not a folder ({found}); expected the real-data folder, or pass `synthetic` "
            "for the built-in sample"
        )
    return Path(data_dir)


def _paper_table() -> dict[str, Any]:
    buys, sells = np.array([55, 45, 60]), np.array([30, 40, 125])
    ofi = order_flow_imbalance(buys, sells)
    signal = ofi_signal(ofi, threshold=0.1)
    names = {1: "BUY", 0: "HOLD", -1: "SELL"}
    rows = {f"{b}/{s}": f"{o:+.3f} {names[int(g)]}" for b, s, o, g in zip(buys, sells, ofi, signal, strict=True)}
    about = (
        "OFI = (buy - sell) / (buy + sell) and its BUY / HOLD / SELL signal (threshold 0.1) on the three rows of "
        "the paper's Table 1; each row reads buys/sells, then the OFI and its signal, to compare with the paper."
    )
    return {"about": about, **rows}


def _synthetic_step(demo: Demo) -> tuple[xr.Dataset, xr.Dataset]:
    market: dict[str, xr.Dataset] = {}

    def run() -> dict[str, Any]:
        market.update(toy_market(demo.seed, duration_s=600.0))
        demo.save("toy_market.zarr", market, {"model": "toy_market", "duration_s": 600.0})
        about = (
            "Ten minutes of the built-in toy market (Poisson buy and sell market orders moving a one-tick-spread "
            "book) simulated and stored in place of real data; the rows count what it holds."
        )
        return {
            "about": about,
            "trades": market["events"].sizes["event"],
            "book snapshots": market["books"].sizes["time"],
        }

    demo.step("Simulate the built-in synthetic sample (toy market, 10 min)", run)
    return market["events"], market["books"]


def _features(demo: Demo, events: xr.Dataset, books: xr.Dataset | None) -> dict[str, Any]:
    bars = compute_features(events, books, bin_ns=BIN_NS, threshold=0.1)
    demo.save("features.zarr", bars, {"bin_ns": BIN_NS, "threshold": 0.1})
    signal = bars["ofi_signal"].values
    metrics: dict[str, Any] = {
        "about": "The events cut into 1 s bars with their order-flow features (trade counts, cumulative volume "
        "delta, OFI and its signal, spread); the rows summarise the bars, which the plot at the end of the report "
        "shows.",
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
    with matplotlib.rc_context(PLOT_STYLE):
        fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
        price = bars["mid_ticks"] if "mid_ticks" in bars else bars["vwap_ticks"]
        axes[0].plot(minutes, price.values * tick_size, lw=0.8)
        axes[0].set_ylabel(("mid price" if price.name == "mid_ticks" else "VWAP") + "\n(quote currency)")
        axes[0].ticklabel_format(axis="y", useOffset=False)
        axes[1].plot(minutes, bars["cvd_lots"].values, lw=0.8, color="tab:green")
        axes[1].set_ylabel("cumulative volume\ndelta (lots)")
        colors = np.array(["tab:red", "tab:gray", "tab:green"])[bars["ofi_signal"].values.astype(int) + 1]
        axes[2].bar(minutes, bars["ofi"].values, width=1 / 60, color=colors)
        axes[2].set_ylabel("OFI per 1 s bar\n(buy - sell) / (buy + sell)")
        axes[2].set_xlabel("minutes since the first bar (min)")
        fig.suptitle(f"{instrument}: order flow (green BUY, grey HOLD, red SELL signal)")
        fig.tight_layout()
        path = output / "order_flow.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return path


def _write_report(demo: Demo, figure: Path, source: str) -> Path:
    """Write ``report.md``, ``report.html`` (the same, rendered) and ``metrics.json``; return the markdown path.

    Every section opens with its step's sentence (:class:`Demo`); a step without one is an error of the step.
    """
    missing = [title for title, _ in demo.sections if title not in demo.about]
    if missing:
        raise RuntimeError(f"demo steps {missing} return no 'about' sentence for their report section")
    lines = ["# simlab demo", "", f"Source: {source}. Root seed: {demo.seed}.", ""]
    for title, metrics in demo.sections:
        lines += [f"## {title}", "", demo.about[title], ""]
        lines += [markdown_table(["metric", "value"], [[key, str(value)] for key, value in metrics.items()]), ""]
    lines += ["## Order flow", "", FIGURE_ABOUT, "", f"![order flow]({figure.name})", ""]
    for title, about, path in demo.figures:
        lines += [f"## {title}", "", about, "", f"![{title}]({path.relative_to(demo.output).as_posix()})", ""]
    report = demo.output / "report.md"
    text = "\n".join(lines)
    write_text_atomic(report, text)
    write_text_atomic(demo.output / "report.html", page("simlab demo", markdown_to_html(text)))
    metrics = {title: metrics for title, metrics in demo.sections}
    write_text_atomic(demo.output / "metrics.json", json.dumps(metrics, indent=2, default=str))
    return report
