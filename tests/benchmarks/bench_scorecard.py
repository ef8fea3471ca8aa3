"""Benchmark: the realism scorecard on a LOBSTER-like day (about 10^6 messages a side) against plain pandas/numpy.

Run by hand (not in CI): ``python tests/benchmarks/bench_scorecard.py [N_BOOT]``. Two seeded zero-intelligence days
(6.5 h, 10 levels, about 10^6 messages each) play real and synthetic. Timed after a warm-up that compiles the numba
kernels:

* simlab: :func:`simlab.metrics.scorecard.score` with ``N_BOOT`` bootstrap replicates (default 20), with and without
  the discriminative classifier;
* peer: the same scores written the plain way with pandas and numpy: each quantity from DataFrames (shifts, merges,
  group-bys), each distance from ``np.histogram`` and ``scipy.stats.wasserstein_distance``, each block bootstrap
  by gathering the resampled values and recomputing; response functions lag by lag with ``Series.shift``; the
  autocorrelation facts with ``Series.autocorr``. Same replicates, same data, no classifier.

Targets (issue 5): the full scorecard in < 60 s on 2 cores, >= 20x the peer.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

from simlab.book import ZIParams, simulate_zi
from simlab.metrics.scorecard import score

DAY_S = 6.5 * 3600.0
PARAMS = ZIParams(
    limit_rate=0.5, market_rate=1.0, cancel_rate=0.05, order_size=3.0, band_ticks=20, size_law="geometric",
    instrument="BENCH", tick_size=0.01,
)  # fmt: skip
BLOCKS = 100
ADD, CANCEL, DELETE, TRADE = 1, 2, 3, 5


def frame(data) -> pd.DataFrame:
    """Events and the L2 book after each as one DataFrame (the peer's input), set-up orders dropped."""
    events, books = data["events"], data["books"]
    skip = int(events.attrs.get("initial_orders", 0))
    df = pd.DataFrame({name: events[name].values for name in ("ts_ns", "kind", "side", "price_ticks", "qty_lots")})
    df["order_id"] = events["order_id"].values
    for name in ("bid_price", "bid_qty", "ask_price", "ask_qty"):
        for level in range(books.sizes["level"]):
            df[f"{name}_{level + 1}"] = books[name].values[:, level]
    return df.iloc[skip:].reset_index(drop=True)


def peer_quantities(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """The scorecard's unconditional quantities, the pandas way."""
    quoted = (df.bid_qty_1 > 0) & (df.ask_qty_1 > 0)
    q = df[quoted]
    mid = ((df.bid_price_1 + df.ask_price_1) / 2).where(quoted)
    mid_before = mid.shift(1)
    out = {"spread_ticks": (q.ask_price_1 - q.bid_price_1).to_numpy(float)}
    out["imbalance_l1"] = ((q.bid_qty_1 - q.ask_qty_1) / (q.bid_qty_1 + q.ask_qty_1)).to_numpy()
    out["log10_interarrival_s"] = np.log10(np.maximum(df.ts_ns.diff().iloc[1:] / 1e9, 1e-6)).to_numpy()
    adds = df[df.kind == ADD][["order_id", "ts_ns"]].drop_duplicates("order_id")
    cancels = df[df.kind.isin([CANCEL, DELETE])][["order_id", "ts_ns"]].merge(
        adds, on="order_id", suffixes=("", "_add")
    )
    out["log10_time_to_cancel_s"] = np.log10(np.maximum((cancels.ts_ns - cancels.ts_ns_add) / 1e9, 1e-6)).to_numpy()
    levels = [c for c in df.columns if c.startswith("bid_qty_")]
    for side in ("bid", "ask"):
        out[f"{side}_volume_l1"] = q[f"{side}_qty_1"].to_numpy(float)
        out[f"{side}_volume"] = q[[c.replace("bid", side) for c in levels]].sum(axis=1).to_numpy(float)
    for side, sign in (("bid", 1), ("ask", -1)):
        for name, kinds in (("limit", [ADD]), ("cancel", [CANCEL, DELETE])):
            rows = df.kind.isin(kinds) & (df.side == sign) & mid_before.notna()
            out[f"{name}_depth_{side}"] = (sign * (mid_before[rows] - df.price_ticks[rows])).to_numpy()
            before = df.shift(1)[rows]
            level = pd.Series(1, index=before.index)
            for k in range(1, len(levels) + 1):
                better = (sign * (before[f"{side}_price_{k}"] - df.price_ticks[rows]) > 0) & (
                    before[f"{side}_qty_{k}"] > 0
                )
                level = level.where(~better, k + 1)
            inside = (before[f"{side}_qty_1"] > 0) & (sign * (df.price_ticks[rows] - before[f"{side}_price_1"]) > 0)
            out[f"{name}_level_{side}"] = level.where(~inside, 0).to_numpy(float)
    seconds = (df.ts_ns - df.ts_ns.iloc[0]) // 10**9
    out["flow_events_per_10s"] = seconds.floordiv(10).value_counts().sort_index().iloc[:-1].to_numpy(float)
    trades = df[df.kind == TRADE]
    out["traded_volume_per_minute"] = trades.groupby(seconds[trades.index] // 60).qty_lots.sum().to_numpy(float)
    e = (
        (df.bid_price_1 >= df.bid_price_1.shift()) * df.bid_qty_1
        - (df.bid_price_1 <= df.bid_price_1.shift()) * df.bid_qty_1.shift()
        - (df.ask_price_1 <= df.ask_price_1.shift()) * df.ask_qty_1
        + (df.ask_price_1 >= df.ask_price_1.shift()) * df.ask_qty_1.shift()
    )
    out["ofi_l1"] = e.groupby(seconds).sum().iloc[:-1].to_numpy(float)
    return out


def block_resample(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One block-bootstrap resample: BLOCKS consecutive blocks drawn with replacement, values gathered."""
    blocks = np.array_split(values, BLOCKS)
    return np.concatenate([blocks[i] for i in rng.integers(0, BLOCKS, BLOCKS)])


def peer_distance(a: np.ndarray, b: np.ndarray, n_boot: int, rng: np.random.Generator) -> list[float]:
    """L1 on Freedman-Diaconis histograms and W1 on standardised values, with block-bootstrap replicates and floor."""
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins="fd")[:1001]
    mean, std = a.mean(), a.std() or 1.0

    def both(x, y):
        p, q = np.histogram(x, edges)[0] / x.size, np.histogram(y, edges)[0] / y.size
        return 0.5 * np.abs(p - q).sum(), wasserstein_distance((x - mean) / std, (y - mean) / std)

    values = [both(a, b)]
    for _ in range(n_boot):
        values.append(both(block_resample(a, rng), block_resample(b, rng)))
        values.append(both(block_resample(a, rng), block_resample(a, rng)))
    return values


def peer_response(df: pd.DataFrame, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Response functions of the six touch-event types at lags 1-199, lag by lag with Series.shift."""
    quoted = (df.bid_qty_1 > 0) & (df.ask_qty_1 > 0)
    mid = ((df.bid_price_1 + df.ask_price_1) / 2).where(quoted)
    before = df.shift(1)
    at_touch = np.where(df.side > 0, df.price_ticks == before.bid_price_1, df.price_ticks == before.ask_price_1)
    inside = np.where(df.side > 0, df.price_ticks > before.bid_price_1, df.price_ticks < before.ask_price_1)
    kind = np.select(
        [df.kind == TRADE, (df.kind == ADD) & (at_touch | inside), df.kind.isin([CANCEL, DELETE]) & at_touch],
        [0, 2, 4],
        -1,
    )
    touch = pd.DataFrame({"mid": mid.shift(1), "kind": kind + (mid != mid.shift(1)), "sign": df.side})
    touch = touch[(kind >= 0) & touch.mid.notna()].reset_index(drop=True)
    touch.loc[touch.kind >= 4, "sign"] *= -1

    def curves(t: pd.DataFrame) -> np.ndarray:
        return np.array([
            (t.sign * (t.mid.shift(-lag) - t.mid)).groupby(t.kind).mean().reindex(range(6)).to_numpy()
            for lag in range(1, 200)
        ])  # fmt: skip

    out = [curves(touch)]
    for _ in range(n_boot):
        out.append(curves(pd.DataFrame(block_resample(touch.to_numpy(), rng), columns=touch.columns)))
    return np.array(out)


def peer_facts(df: pd.DataFrame, n_boot: int, rng: np.random.Generator) -> list[float]:
    """The autocorrelation and inter-arrival facts with their block bootstraps, pandas style."""
    signs = pd.Series(df.side[df.kind == TRADE].to_numpy(float))
    dt = pd.Series(df.ts_ns.diff().iloc[1:].to_numpy() / 1e9)
    out = []
    for _ in range(max(10, n_boot // 4) + 1):
        s, d = pd.Series(block_resample(signs.to_numpy(), rng)), pd.Series(block_resample(dt.to_numpy(), rng))
        out.append([s.autocorr(lag) for lag in range(1, 101)])
        out.append([d.std() / d.mean(), np.log10(d.clip(lower=1e-6)).autocorr(1)])
    return out


def peer_scorecard(real, synthetic, n_boot: int, seed: int) -> None:
    """The peer's whole scorecard (numbers discarded)."""
    rng = np.random.default_rng(seed)
    df_real, df_synthetic = frame(real), frame(synthetic)
    a, b = peer_quantities(df_real), peer_quantities(df_synthetic)
    for name in a:
        peer_distance(a[name], b[name], n_boot, rng)
    for df in (df_real, df_synthetic):
        peer_response(df, n_boot, rng)
        peer_facts(df, n_boot, rng)


def timed(function, *args, **kwargs) -> float:
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


def main() -> None:
    n_boot = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    real, synthetic = (simulate_zi(PARAMS, DAY_S, rng=seed, depth=10) for seed in (1, 2))
    sizes = [d["events"].sizes["event"] for d in (real, synthetic)]
    small = [simulate_zi(PARAMS, 600.0, rng=seed, depth=10) for seed in (3, 4)]
    score(small[0], small[1], seed=0, n_boot=10)  # compile the numba kernels
    full = timed(score, synthetic, real, seed=0, n_boot=n_boot)
    without = timed(score, synthetic, real, seed=0, n_boot=n_boot, discriminative=False)
    peer = timed(peer_scorecard, real, synthetic, n_boot, 0)
    print(f"messages: real {sizes[0]:,}, synthetic {sizes[1]:,}; {n_boot} bootstrap replicates")
    print(f"simlab full scorecard: {full:.1f} s (target < 60 s); without the classifier: {without:.1f} s")
    print(f"peer (pandas/numpy, no classifier): {peer:.1f} s; ratio {peer / without:.1f}x (target >= 20x)")


if __name__ == "__main__":
    main()
