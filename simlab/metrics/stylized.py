"""Stylized facts of returns and order flow (Cont 2001; Bouchaud et al., Trades, Quotes and Prices), with intervals.

The array functions (:func:`hill_tail_index`, :func:`autocorrelation_curve`, :func:`decay_exponent`,
:func:`excess_kurtosis`, :func:`aggregate`, :func:`signature_variance`, :func:`impact_exponent`,
:func:`exponential_ks`) are the estimators; :func:`stylized_facts` measures all of them on one dataset, each with a
moving-block bootstrap interval (:func:`block_bootstrap`; blocks keep the short-range dependence of the series).
Besides the ratio and exponent facts, the lag-1 autocorrelation of the log inter-arrival times measures clustering
(0 for a renewal process such as Poisson flow or shuffled intervals; positive for self-exciting flow).

Facts of long event series (autocorrelations, inter-arrival moments and KS distance, the mean spread) bootstrap
cheaply: the series is cut into :data:`BLOCKS` consecutive blocks, each block's sufficient statistics (lagged
products, moments, counts on :data:`KS_POINTS` quantile bins) are summed once, and each replicate reweights the
blocks (the KS replicates are evaluated at the quantile bin edges only).

The price is the mid of the book when the dataset has books, else the last trade price. Returns are price changes
(ticks) between consecutive points of a regular grid (the price at a grid time is the last one at or before it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simlab.errors import ParameterError
from simlab.metrics import _kernels
from simlab.metrics._market import FLOW, NS, TRADES, Market, NotApplicable
from simlab.metrics.distances import block_counts, block_weights, check_bootstrap

HILL_SCALES_S = (1, 10, 60)
KURTOSIS_SCALES_S = (1, 5, 30, 60, 300)
SIGNATURE_SCALES_S = (1, 2, 5, 10, 30, 60, 300)
ACF_LAGS = 20
ABS_ACF_LAGS = 100
SIGN_ACF_LAGS = 100
IMPACT_WINDOW_S = 60
SEASONALITY_BIN_S = 1800
BLOCKS = 100
KS_POINTS = 512


@dataclass(frozen=True)
class Fact:
    """A stylized fact: its value, bootstrap interval and, for curves, the curve (``x`` and ``y``)."""

    value: float
    low: float
    high: float
    curve: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the fact as a JSON-ready mapping."""
        out: dict[str, Any] = {name: _round(getattr(self, name)) for name in ("value", "low", "high")}
        if self.curve:
            out["curve"] = {key: [_round(v) for v in values] for key, values in self.curve.items()}
        return out


def hill_tail_index(values: np.ndarray, tail_fraction: float = 0.05) -> float:
    """Return the Hill estimate of the tail index of ``|values|`` from its largest ``tail_fraction`` share.

    ``alpha = k / sum_{i<=k} (ln x_(i) - ln x_(k+1))`` over the order statistics ``x_(1) >= x_(2) >= ...`` of the
    non-zero absolute values, with ``k = max(5, tail_fraction n)``; NaN with fewer than 10 non-zero values.
    """
    if not 0 < tail_fraction < 1:
        raise ParameterError(f"`tail_fraction` of hill_tail_index must be in (0, 1); got {tail_fraction!r}")
    x = np.abs(np.asarray(values, dtype=np.float64))
    x = x[x > 0]
    if x.size < 10:
        return float("nan")
    k = min(max(5, int(tail_fraction * x.size)), x.size - 1)
    top = -np.partition(-x, k)[: k + 1]
    top.sort()
    logs = np.log(top[::-1])
    spacing = logs[:k] - logs[k]
    return float(k / spacing.sum()) if spacing.sum() > 0 else float("nan")


def autocorrelation_curve(values: np.ndarray, max_lag: int) -> np.ndarray:
    """Return the sample autocorrelation at lags 1..``max_lag`` (FFT; the estimator of ``book.stats``)."""
    x = np.asarray(values, dtype=np.float64)
    x = x - x.mean()
    n = x.size
    denominator = float(np.dot(x, x))
    if n < 2 or denominator <= 0:
        return np.full(max_lag, np.nan)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(x, size)
    raw = np.fft.irfft(spectrum * np.conj(spectrum), size)[1 : max_lag + 1] / denominator
    out = np.full(max_lag, np.nan)
    out[: min(max_lag, n - 1)] = raw[: min(max_lag, n - 1)]
    return out


def decay_exponent(lags: np.ndarray, curve: np.ndarray) -> float:
    """Return ``gamma`` of a power-law fit ``curve ~ lag^-gamma`` (least squares in log-log).

    The fit uses the leading run of positive values (up to the first lag where the curve is no longer positive,
    where noise takes over); NaN when that run is shorter than 3 lags.
    """
    lags, curve = np.asarray(lags, dtype=np.float64), np.asarray(curve, dtype=np.float64)
    positive = np.isfinite(curve) & (curve > 0)
    run = int(np.argmin(positive)) if not positive.all() else positive.size
    keep = np.arange(curve.size) < run
    if run < 3:
        return float("nan")
    slope = np.polyfit(np.log(lags[keep]), np.log(curve[keep]), 1)[0]
    return float(-slope)


def excess_kurtosis(values: np.ndarray) -> float:
    """Return the excess kurtosis ``m4 / m2^2 - 3`` (0 for a Gaussian); NaN with zero variance or < 4 values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 4:
        return float("nan")
    x = x - x.mean()
    m2 = np.mean(x * x)
    return float(np.mean(x**4) / m2**2 - 3.0) if m2 > 0 else float("nan")


def aggregate(values: np.ndarray, scale: int) -> np.ndarray:
    """Return the sums of ``values`` over consecutive non-overlapping blocks of ``scale`` (a partial end dropped)."""
    n = values.size // scale
    return values[: n * scale].reshape(n, scale).sum(axis=1)


def signature_variance(returns: np.ndarray, scales: tuple[int, ...]) -> np.ndarray:
    """Return the realised variance per unit of time ``sum r_tau^2 / T`` at each aggregation scale (signature plot).

    ``returns`` are on the base grid; the value at scale ``s`` sums squared ``s``-step returns and divides by the
    number of base steps they cover.
    """
    out = []
    for scale in scales:
        sums = aggregate(returns, scale)
        out.append(float(np.sum(sums**2) / (sums.size * scale)) if sums.size else float("nan"))
    return np.array(out)


def impact_exponent(signed_volume: np.ndarray, price_change: np.ndarray, n_buckets: int = 8) -> float:
    """Return ``delta`` of ``E[sign(Q) dp | |Q|] ~ |Q|^delta`` over windows (the square-root law gives 0.5).

    Windows with ``Q != 0`` are put in ``n_buckets`` quantile buckets of ``|Q|``; the fit is least squares in
    log-log over the buckets with a positive mean impact (NaN with fewer than 3).
    """
    q, dp = np.asarray(signed_volume, dtype=np.float64), np.asarray(price_change, dtype=np.float64)
    keep = q != 0
    q, dp = q[keep], dp[keep]
    if q.size < 3 * n_buckets:
        return float("nan")
    edges = np.unique(np.percentile(np.abs(q), np.linspace(0, 100, n_buckets + 1)))
    bucket = np.clip(np.searchsorted(edges, np.abs(q), side="right") - 1, 0, edges.size - 2)
    size = np.bincount(bucket, np.abs(q)) / np.maximum(np.bincount(bucket), 1)
    impact = np.bincount(bucket, np.sign(q) * dp) / np.maximum(np.bincount(bucket), 1)
    good = impact > 0
    if good.sum() < 3:
        return float("nan")
    return float(np.polyfit(np.log(size[good]), np.log(impact[good]), 1)[0])


def exponential_ks(intervals: np.ndarray) -> float:
    """Return the Kolmogorov-Smirnov distance of ``intervals / mean`` from the unit exponential (0 for Poisson)."""
    x = np.sort(np.asarray(intervals, dtype=np.float64))
    if x.size < 2 or x.mean() <= 0:
        return float("nan")
    cdf = 1.0 - np.exp(-x / x.mean())
    n = x.size
    return float(max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n)))


def block_bootstrap(
    series: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    *,
    rng: np.random.Generator,
    n_boot: int,
    block: int,
    confidence: float = 0.99,
) -> tuple[float, float]:
    """Return the central ``confidence`` interval of ``statistic`` over moving-block bootstrap resamples.

    Each resample joins ``ceil(n / block)`` blocks of ``block`` consecutive values (at most ``n // 10``, so that
    there are at least 10 blocks) starting at uniform positions and keeps its first ``n`` values.
    """
    n_boot, tails = check_bootstrap(n_boot, confidence)
    n = series.shape[0]
    block = max(1, min(int(block), n // 10))  # at least 10 blocks
    n_blocks = -(-n // block)
    offsets = np.arange(block)
    values = np.empty(n_boot)
    for r in range(n_boot):
        starts = rng.integers(0, n - block + 1, size=n_blocks)
        values[r] = statistic(series[(starts[:, None] + offsets).ravel()[:n]])
    finite = values[np.isfinite(values)]
    if finite.size < n_boot // 2:
        return float("nan"), float("nan")
    low, high = np.percentile(finite, tails)
    return float(low), float(high)


def stylized_facts(
    m: Market, *, rng: np.random.Generator, n_boot: int = 50, confidence: float = 0.99
) -> dict[str, Fact | NotApplicable]:
    """Measure every stylized fact of the module on one dataset; a fact it cannot measure is a NotApplicable."""
    facts: dict[str, Fact | NotApplicable] = {}
    for names, measure in _MEASURES:
        try:
            measured = measure(m, rng, n_boot, confidence)
        except NotApplicable as reason:
            measured = dict.fromkeys(names, reason)
        for name in names:
            fact = measured[name]
            undefined = isinstance(fact, Fact) and not np.isfinite(fact.value)
            facts[name] = NotApplicable(["enough varied data (the estimate is undefined)"]) if undefined else fact
    return facts


def price_returns(m: Market, interval_s: float = 1.0) -> np.ndarray:
    """Return the price changes (ticks) on a grid of ``interval_s`` (the mid with books, else the trade price)."""
    if m.book is not None and m.quoted.sum() >= 2:
        ts, price = m.ts[m.quoted], m.mid_after[m.quoted]
    else:
        trade = np.isin(m.kind, TRADES)
        if trade.sum() < 2 or np.all(m.price[trade] == m.price[trade][0]):
            raise NotApplicable(["books, or TRADE events whose prices vary"])
        ts, price = m.ts[trade], m.price[trade].astype(np.float64)
    step = int(round(interval_s * NS))
    grid = np.arange(ts[0], m.ts[-1] + 1, step)
    if grid.size < 3:
        raise NotApplicable([f"at least 3 grid points of {interval_s:g} s"])
    return np.diff(price[np.searchsorted(ts, grid, side="right") - 1])


def _n_blocks(n: int) -> int:
    if n < 20:
        raise NotApplicable([f"at least 20 values for a block bootstrap (got {n})"])
    return min(BLOCKS, n // 10)


def _replicated(value: float, replicate_sums: np.ndarray, statistic, confidence: float, curve=None) -> Fact:
    """A fact whose replicates are ``statistic`` of block-weighted sums (one row of sums per replicate)."""
    _, tails = check_bootstrap(max(10, replicate_sums.shape[0]), confidence)
    values = np.array([statistic(row) for row in replicate_sums])
    finite = values[np.isfinite(values)]
    low, high = np.percentile(finite, tails) if finite.size >= values.size // 2 else (float("nan"), float("nan"))
    return Fact(float(value), float(low), float(high), curve or {})


def _acf_fact(series, max_lag, reduce, rng, n_boot, confidence) -> Fact:
    """A fact ``reduce(acf at lags 1..max_lag)`` with a block bootstrap over lagged-product block sums."""
    x = np.ascontiguousarray(series - series.mean(), dtype=np.float64)
    n_blocks = _n_blocks(x.size)
    sums = _kernels.lagged_block_sums(x, int(max_lag), n_blocks)
    total = sums.sum(axis=0)
    if total[0] <= 0:
        raise NotApplicable(["a series that varies"])
    curve = total[1:] / total[0]
    replicates = block_weights(n_blocks, n_blocks, rng, n_boot) @ sums
    statistic = lambda row: reduce(row[1:] / row[0]) if row[0] > 0 else float("nan")  # noqa: E731
    return _replicated(reduce(curve), replicates, statistic, confidence, _xy(np.arange(1, max_lag + 1), curve))


def _binned_exponential_ks(counts: np.ndarray, edges: np.ndarray, mean: float) -> float:
    """KS distance from the exponential of ``mean``, at the bin edges only (a replicate of exponential_ks)."""
    empirical = np.cumsum(counts)[:-1] / counts.sum()
    return float(np.max(np.abs(empirical - (1.0 - np.exp(-edges / mean)))))


def _fact(series, statistic, rng, n_boot, confidence, block, curve=None) -> Fact:
    low, high = block_bootstrap(series, statistic, rng=rng, n_boot=n_boot, block=block, confidence=confidence)
    return Fact(float(statistic(series)), low, high, curve or {})


def _tails(m, rng, n_boot, confidence):
    out = {}
    for scale in HILL_SCALES_S:
        returns = price_returns(m, scale)
        out[f"hill_tail_index_{scale}s"] = _fact(returns, hill_tail_index, rng, n_boot, confidence, 60)
    return out


def _return_acf(m, rng, n_boot, confidence):
    returns = price_returns(m, 1.0)
    first = _acf_fact(returns, ACF_LAGS, lambda curve: curve[0], rng, n_boot, confidence)
    abs_lags = np.arange(1, ABS_ACF_LAGS + 1)
    exponent = _acf_fact(np.abs(returns), ABS_ACF_LAGS, lambda c: decay_exponent(abs_lags, c), rng, n_boot, confidence)
    return {"return_acf_lag1": first, "abs_return_acf_exponent": exponent}


def _kurtosis(m, rng, n_boot, confidence):
    returns = price_returns(m, 1.0)
    out = {}
    for scale in KURTOSIS_SCALES_S:
        out[f"excess_kurtosis_{scale}s"] = _fact(
            returns, lambda x, s=scale: excess_kurtosis(aggregate(x, s)), rng, n_boot, confidence, max(60, 4 * scale)
        )
    return out


def _signature(m, rng, n_boot, confidence):
    returns = price_returns(m, 1.0)
    curve = signature_variance(returns, SIGNATURE_SCALES_S)

    def ratio(x):
        v = signature_variance(x, (1, 60))
        return v[0] / v[1] if v[1] > 0 else float("nan")

    return {
        "signature_ratio_1s_60s": _fact(returns, ratio, rng, n_boot, confidence, 600, _xy(SIGNATURE_SCALES_S, curve))
    }


def _signs(m, rng, n_boot, confidence):
    m.require("trades")
    signs = m.side[np.isin(m.kind, TRADES)].astype(np.float64)
    lags = np.arange(1, SIGN_ACF_LAGS + 1)
    return {
        "sign_acf_exponent": _acf_fact(signs, SIGN_ACF_LAGS, lambda c: decay_exponent(lags, c), rng, n_boot, confidence)
    }


def _impact(m, rng, n_boot, confidence):
    m.require("trades")
    trade = np.isin(m.kind, TRADES)
    window = (m.ts - m.ts[0]) // (IMPACT_WINDOW_S * 10**9)
    returns = price_returns(m, IMPACT_WINDOW_S)
    signed = np.bincount(window[trade], (m.side * m.qty)[trade].astype(np.float64), minlength=returns.size + 1)
    pairs = np.column_stack([signed[: returns.size], returns])
    statistic = lambda x: impact_exponent(x[:, 0], x[:, 1])  # noqa: E731
    return {"impact_exponent": _fact(pairs, statistic, rng, n_boot, confidence, 5)}


def _arrivals(m, rng, n_boot, confidence):
    m.require("flow")
    dt = np.diff(m.ts[np.isin(m.kind, FLOW)]) / NS
    n_blocks = _n_blocks(dt.size)
    block = np.arange(dt.size) * n_blocks // dt.size
    moments = np.column_stack([np.bincount(block, dt**k, n_blocks) for k in (0, 1, 2)])
    cv = lambda s: float(np.sqrt(max(s[2] / s[0] - (s[1] / s[0]) ** 2, 0.0)) / (s[1] / s[0]))  # noqa: E731
    edges = np.unique(np.quantile(dt, np.linspace(0, 1, KS_POINTS + 1)[1:-1]))
    histogram = block_counts(np.searchsorted(edges, dt, side="right"), edges.size + 1, n_blocks)
    ks = lambda s: _binned_exponential_ks(s[3:], edges, s[1] / s[0])  # noqa: E731
    weights = block_weights(n_blocks, n_blocks, rng, n_boot)
    sums = np.hstack([moments, histogram])
    log_dt = np.log10(np.maximum(dt, 1e-6))
    return {
        "interarrival_ks_exponential": _replicated(exponential_ks(dt), weights @ sums, ks, confidence),
        "interarrival_cv": _replicated(cv(sums.sum(axis=0)), weights @ sums, cv, confidence),
        "log_interarrival_acf_lag1": _acf_fact(log_dt, 1, lambda c: c[0], rng, n_boot, confidence),
    }


def _seasonality(m, rng, n_boot, confidence):
    m.require("flow")
    flow = m.ts[np.isin(m.kind, FLOW)]
    bins = int((m.ts[-1] - m.ts[0]) // (SEASONALITY_BIN_S * 10**9))
    if bins < 2:
        raise NotApplicable([f"at least 2 whole bins of {SEASONALITY_BIN_S} s"])
    counts = np.bincount((flow - m.ts[0]) // (SEASONALITY_BIN_S * 10**9), minlength=bins)[:bins].astype(np.float64)
    profile = counts / counts.mean()
    statistic = lambda x: float(x.std() / x.mean()) if x.mean() > 0 else float("nan")  # noqa: E731
    curve = _xy(np.arange(bins) * SEASONALITY_BIN_S, profile)
    return {"intraday_activity_cv": _fact(counts, statistic, rng, n_boot, confidence, 1, curve)}


def _spread(m, rng, n_boot, confidence):
    m.require("books")
    spread = m.spread_after[m.quoted]
    n_blocks = _n_blocks(spread.size)
    block = np.arange(spread.size) * n_blocks // spread.size
    sums = np.column_stack([np.bincount(block, minlength=n_blocks), np.bincount(block, spread, n_blocks)])
    mean = lambda s: float(s[1] / s[0])  # noqa: E731
    fact = _replicated(mean(sums.sum(axis=0)), block_weights(n_blocks, n_blocks, rng, n_boot) @ sums, mean, confidence)
    quantiles = np.percentile(spread, [5, 25, 50, 75, 95])
    return {"mean_spread_ticks": Fact(fact.value, fact.low, fact.high, _xy([5, 25, 50, 75, 95], quantiles))}


def _volume_volatility(m, rng, n_boot, confidence):
    m.require("trades")
    returns = price_returns(m, 60.0)
    trade = np.isin(m.kind, TRADES)
    minute = (m.ts - m.ts[0]) // (60 * 10**9)
    volume = np.bincount(minute[trade], m.qty[trade].astype(np.float64), minlength=returns.size + 1)[: returns.size]
    pairs = np.column_stack([np.abs(returns), volume])
    if pairs.shape[0] < 5:
        raise NotApplicable(["at least 5 whole minutes"])

    def correlation(x):
        if x[:, 0].std() == 0 or x[:, 1].std() == 0:
            return float("nan")
        return float(np.corrcoef(x[:, 0], x[:, 1])[0, 1])

    return {"volume_volatility_correlation": _fact(pairs, correlation, rng, n_boot, confidence, 5)}


_MEASURES = (
    (tuple(f"hill_tail_index_{scale}s" for scale in HILL_SCALES_S), _tails),
    (("return_acf_lag1", "abs_return_acf_exponent"), _return_acf),
    (tuple(f"excess_kurtosis_{scale}s" for scale in KURTOSIS_SCALES_S), _kurtosis),
    (("signature_ratio_1s_60s",), _signature),
    (("sign_acf_exponent",), _signs),
    (("impact_exponent",), _impact),
    (("interarrival_ks_exponential", "interarrival_cv", "log_interarrival_acf_lag1"), _arrivals),
    (("intraday_activity_cv",), _seasonality),
    (("mean_spread_ticks",), _spread),
    (("volume_volatility_correlation",), _volume_volatility),
)


def _xy(x, y) -> dict[str, list[float]]:
    return {"x": [float(v) for v in x], "y": [float(v) for v in y]}


def _round(value: float) -> float:
    return float(f"{value:.6g}") if np.isfinite(value) else float("nan")
