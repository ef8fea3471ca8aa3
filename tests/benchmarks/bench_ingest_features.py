"""Benchmark: ingest + feature throughput (rows/s) of simlab against a plain pandas implementation, side by side.

Run by hand (not in CI): ``python tests/benchmarks/bench_ingest_features.py``. For each real file it times
simlab (``simlab.io.read`` then ``compute_features`` with 1 s bars) and a pandas implementation of the same
reader (same validation: NaN, sign, sort and id checks, tick conversion) and the same features, best of N runs
after a warm-up (numba compiled), and prints rows/s and the ratio. The pandas results are checked against
simlab's on the shared bar variables so both sides do the same work.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from simlab.features import compute_features
from simlab.io import read

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BIN_NS = 1_000_000_000
REPEATS = 5


# ---------------------------------------------------------------- pandas reference: readers
def _check(bad: pd.Series, what: str) -> None:
    if bad.any():
        raise ValueError(f"row {int(np.flatnonzero(bad.to_numpy())[0])}: {what}")


def _ticks(values: pd.Series, decimals: int) -> tuple[pd.Series, int]:
    scaled = (values * 10**decimals).round().astype("int64")
    step = int(np.gcd.reduce(scaled.to_numpy()))
    return scaled // step, step


def pandas_binance_trades(path: Path) -> pd.DataFrame:
    """Read a hftbacktest-derived trades CSV or an aggTrades CSV the plain pandas way, validating as simlab does."""
    df = pd.read_csv(path)
    if "trade_time_ms" in df:
        df = df.rename(columns={"trade_time_ms": "time", "trade_id": "id"})
    else:
        df = df.rename(columns={"transact_time": "time", "agg_trade_id": "id", "quantity": "qty"})
    _check(df[["price", "qty", "time", "id"]].isna().any(axis=1), "missing value")
    _check(df["price"] <= 0, "price must be > 0")
    _check(df["qty"] <= 0, "qty must be > 0")
    _check(df["id"].diff() <= 0, "ids must increase")
    df["ts_ns"] = df["time"].astype("int64") * 1_000_000
    _check(df["ts_ns"].diff() < 0, "time must not decrease")
    df["price_ticks"], _ = _ticks(df["price"], 8)
    df["qty_lots"], _ = _ticks(df["qty"], 8)
    df["side"] = np.where(df["is_buyer_maker"].astype(bool), -1, 1)
    return df[["ts_ns", "side", "price_ticks", "qty_lots"]]


def pandas_lobster(message: Path, orderbook: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a LOBSTER message + orderbook pair the plain pandas way, validating as simlab does."""
    names = ["time", "type", "order_id", "size", "price", "direction"]
    header = 0 if not message.read_text()[:1].isdigit() else None
    msg = pd.read_csv(message, header=header, names=names)
    _check(msg.isna().any(axis=1), "missing value")
    _check(~msg["type"].isin(range(1, 8)), "unknown event type")
    _check(msg["size"] <= 0, "size must be > 0")
    _check(msg["time"].diff() < 0, "time must not decrease")
    midnight = pd.Timestamp("2012-06-21", tz="America/New_York").value
    msg["ts_ns"] = midnight + (msg["time"] * 1e9).round().astype("int64")
    msg["side"] = np.where(msg["type"].isin([4, 5]), -msg["direction"], msg["direction"])
    msg["price_ticks"] = msg["price"] // 100
    book = pd.read_csv(orderbook, header=0 if header == 0 else None)
    levels = book.shape[1] // 4
    book.columns = [
        f"{s}_{f}_{i}"
        for i in range(1, levels + 1)
        for s, f in (("ask", "price"), ("ask", "qty"), ("bid", "price"), ("bid", "qty"))
    ]
    for side in ("ask", "bid"):
        for i in range(1, levels + 1):
            empty = book[f"{side}_qty_{i}"] == 0
            book.loc[empty, f"{side}_price_{i}"] = np.nan
            book[f"{side}_price_{i}"] = book[f"{side}_price_{i}"] / 100
    book["ts_ns"] = msg["ts_ns"].to_numpy()
    return msg, book


# ---------------------------------------------------------------- pandas reference: features
def pandas_trade_bars(df: pd.DataFrame, threshold: float = 0.1) -> pd.DataFrame:
    """The trade bars of compute_features (counts, volumes, CVD, imbalance, OFI, VWAP/TWAP, large trades)."""
    start = df["ts_ns"].iloc[0] // BIN_NS * BIN_NS
    bins = (df["ts_ns"] - start) // BIN_NS
    buy = df["side"] > 0
    large = df["qty_lots"] > np.percentile(df["qty_lots"], 95)
    frame = pd.DataFrame(
        {
            "bin": bins,
            "buy": buy,
            "sell": df["side"] < 0,
            "qty": df["qty_lots"],
            "buy_qty": df["qty_lots"].where(buy, 0),
            "sell_qty": df["qty_lots"].where(df["side"] < 0, 0),
            "pq": df["price_ticks"] * df["qty_lots"],
            "large": large,
            "large_qty": df["qty_lots"].where(large, 0),
            "price": df["price_ticks"],
        }
    )
    g = frame.groupby("bin")
    bars = pd.DataFrame(
        {
            "trade_count": g.size(),
            "buy_count": g["buy"].sum(),
            "sell_count": g["sell"].sum(),
            "volume_lots": g["qty"].sum(),
            "buy_volume_lots": g["buy_qty"].sum(),
            "sell_volume_lots": g["sell_qty"].sum(),
            "vwap_ticks": g["pq"].sum() / g["qty"].sum(),
            "close_ticks": g["price"].last(),
            "large_trade_share": g["large"].mean(),
            "large_volume_share": g["large_qty"].sum() / g["qty"].sum(),
        }
    )
    bars = bars.reindex(range(int(bins.iloc[-1]) + 1))
    for column in ("trade_count", "buy_count", "sell_count", "volume_lots", "buy_volume_lots", "sell_volume_lots"):
        bars[column] = bars[column].fillna(0)
    bars["cvd_lots"] = (bars["buy_volume_lots"] - bars["sell_volume_lots"]).cumsum()
    flow = bars["buy_volume_lots"] + bars["sell_volume_lots"]
    bars["trade_imbalance"] = (bars["buy_volume_lots"] - bars["sell_volume_lots"]) / flow
    bars["ofi"] = (bars["buy_count"] - bars["sell_count"]) / (bars["buy_count"] + bars["sell_count"])
    bars["ofi_signal"] = np.select([bars["ofi"] > threshold, bars["ofi"] < -threshold], [1, -1], 0)
    bars["twap_ticks"] = _pandas_twap(df, start, len(bars))
    return bars


def _pandas_twap(df: pd.DataFrame, start: int, n_bins: int) -> np.ndarray:
    edges = start + BIN_NS * np.arange(n_bins + 1)
    held = pd.Series(df["price_ticks"].to_numpy(), index=df["ts_ns"].to_numpy())
    held = held[~held.index.duplicated(keep="last")]
    points = np.union1d(held.index.to_numpy(), edges)
    price = held.reindex(points).ffill()
    weight = np.diff(points, append=points[-1])
    frame = pd.DataFrame({"bin": (points - start) // BIN_NS, "pw": price.to_numpy() * weight, "w": weight})
    frame = frame[frame["bin"] < n_bins].dropna()
    g = frame.groupby("bin")
    return (g["pw"].sum() / g["w"].sum()).reindex(range(n_bins)).to_numpy()


def pandas_book_bars(book: pd.DataFrame, levels: int) -> pd.DataFrame:
    """The book bars of compute_features (mid, spread, depth, imbalance, CKS OFI) from the last snapshot per bin."""
    depth = min(levels, 5)
    bid, ask = book["bid_price_1"], book["ask_price_1"]
    qb, qa = book["bid_qty_1"], book["ask_qty_1"]
    e = (
        (bid >= bid.shift()) * qb
        - (bid <= bid.shift()) * qb.shift()
        - (ask <= ask.shift()) * qa
        + (ask >= ask.shift()) * qa.shift()
    ).fillna(0)
    frame = pd.DataFrame(
        {
            "bin": (book["ts_ns"] - book["ts_ns"].iloc[0] // BIN_NS * BIN_NS) // BIN_NS,
            "mid_ticks": (bid + ask) / 2,
            "spread_ticks": ask - bid,
            "bid_depth_lots": book[[f"bid_qty_{i}" for i in range(1, depth + 1)]].sum(axis=1),
            "ask_depth_lots": book[[f"ask_qty_{i}" for i in range(1, depth + 1)]].sum(axis=1),
            "imbalance_l1": (qb - qa) / (qb + qa),
            "cks": e,
        }
    )
    g = frame.groupby("bin")
    bars = g[["mid_ticks", "spread_ticks", "bid_depth_lots", "ask_depth_lots", "imbalance_l1"]].last()
    bars["cks_ofi_lots"] = g["cks"].sum()
    return bars.reindex(range(int(frame["bin"].iloc[-1]) + 1)).ffill()


# ---------------------------------------------------------------- timing
def best_of(function: Callable[[], object]) -> tuple[float, object]:
    """Return the best wall time of REPEATS runs (after one warm-up) and the last result."""
    result = function()
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def bench_trades(path: Path) -> tuple[int, float, float]:
    """Time both sides on a Binance trades file; check they agree; return rows and both times."""
    ours_t, bars = best_of(lambda: compute_features(read(path)["events"], bin_ns=BIN_NS))
    theirs_t, ref = best_of(lambda: pandas_trade_bars(pandas_binance_trades(path)))
    for column in ("buy_count", "sell_count", "volume_lots", "cvd_lots", "ofi_signal"):
        assert np.array_equal(bars[column].values[: len(ref)], ref[column].to_numpy()), column
    return int(bars["trade_count"].sum()), ours_t, theirs_t


def bench_lobster(message: Path, orderbook: Path) -> tuple[int, float, float]:
    """Time both sides on a LOBSTER pair (messages + books, trade and book bars); return rows and both times."""

    def ours():
        data = read([message, orderbook], "lobster")
        return compute_features(data["events"], data["books"], bin_ns=BIN_NS)

    def theirs():
        msg, book = pandas_lobster(message, orderbook)
        trades = msg[msg["type"].isin([4, 5])].rename(columns={"size": "qty_lots"})
        return pandas_trade_bars(trades), pandas_book_bars(book, book.shape[1] // 4)

    ours_t, bars = best_of(ours)
    theirs_t, (ref_trades, ref_book) = best_of(theirs)
    n = min(len(ref_book), bars.sizes["time"])
    assert np.allclose(bars["spread_ticks"].values[:n], ref_book["spread_ticks"].to_numpy()[:n], equal_nan=True)
    return 2 * sum(1 for _ in open(message)), ours_t, theirs_t


def main() -> int:
    """Run every benchmark case and print the table of throughputs and ratios."""
    if not DATA.is_dir():
        print(f"real data folder {DATA} is absent: nothing to benchmark")
        return 1
    ws = DATA / "binance_ws_l2_trades_hftbacktest"
    lob = DATA / "lobster_samples"
    cases: list[tuple[str, Callable[[], tuple[int, float, float]]]] = [
        (f"binance {p.parent.name}/{p.name}", lambda p=p: bench_trades(p)) for p in sorted(ws.glob("*/*.trades.csv.gz"))
    ]
    cases.append(
        (
            "binance XRPETH aggTrades 2.5 days",
            lambda: bench_trades(DATA / "binance_trades_xrpeth_2019-10" / "XRPETH-aggTrades-2019-10-11_to_13.csv.gz"),
        )
    )
    amzn = lob / "AMZN_2012-06-21_level1_fullday"
    aapl = lob / "AAPL_2012-06-21_level10_first1000"
    for label, folder in (("lobster AMZN L1 full day", amzn), ("lobster AAPL L10 first 999", aapl)):
        message, orderbook = sorted(folder.glob("*message*"))[0], sorted(folder.glob("*orderbook*"))[0]
        cases.append((label, lambda m=message, o=orderbook: bench_lobster(m, o)))
    print(f"{'case':48s} {'rows':>9s} {'simlab rows/s':>14s} {'pandas rows/s':>14s} {'ratio':>7s}")
    total_rows = total_ours = total_theirs = 0.0
    for label, case in cases:
        rows, ours_t, theirs_t = case()
        total_rows, total_ours, total_theirs = total_rows + rows, total_ours + ours_t, total_theirs + theirs_t
        print(f"{label:48s} {rows:9d} {rows / ours_t:14,.0f} {rows / theirs_t:14,.0f} {theirs_t / ours_t:6.1f}x")
    print(
        f"{'all files':48s} {int(total_rows):9d} {total_rows / total_ours:14,.0f} "
        f"{total_rows / total_theirs:14,.0f} {total_theirs / total_ours:6.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
