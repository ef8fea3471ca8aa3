"""Statistics of an order book, to put a simulated book side by side with a real one.

:func:`book_statistics` measures one dataset (events and the L2 book after each event):

* ``spread_ticks``: the spread while both sides quote, weighted by the time each book row lasts (time-weighted);
* ``l1_queue_lots``: the best bid and best ask queue sizes (lots), time-weighted, both sides pooled;
* ``imbalance``: the level-1 book imbalance ``(bid - ask) / (bid + ask)``, time-weighted;
* ``interarrival_s``: the seconds between consecutive order-flow events (limit, cancel, market);
* ``mid_return_ticks``: the mid-price change (ticks) over ``return_interval_ns``, the mid sampled on that grid
  as the last quoted mid at or before each grid time;
* ``event_mix``: the shares and rates (per second) of limit orders (ADD), cancellations (CANCEL, DELETE) and
  market executions (TRADE), and the count of other records (hidden executions, L2 records, ...);
* ``return_acf`` and ``abs_return_acf``: the autocorrelation of the mid returns and of their absolute values at
  ``lags`` (in return intervals).

A level-N LOBSTER file records only the events that touch the N best levels of a side. With ``window_levels=N``
the events of a deeper simulated book are filtered the same way before the event statistics (mix, inter-arrival
times) are taken: an order event is kept when its price is within the N best prices of its resting side in the
book before it or after it (a side with fewer than N levels keeps all of its prices).

:func:`compare_statistics` puts two such results side by side: means and quantiles of each distribution with the
two-sample Kolmogorov-Smirnov distance between them (weighted where the statistic is time-weighted), and the mix
and autocorrelations of each. :func:`format_comparison` prints that table as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.schema import EventKind

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
DISTRIBUTIONS = ("spread_ticks", "l1_queue_lots", "imbalance", "interarrival_s", "mid_return_ticks")
MIX = {
    "limit": (EventKind.ADD,),
    "cancel": (EventKind.CANCEL, EventKind.DELETE),
    "market": (EventKind.TRADE,),
}
_FLOW_KINDS = tuple(k for kinds in MIX.values() for k in kinds)


@dataclass(frozen=True)
class Sample:
    """Values of a statistic with their weights (seconds for time-weighted statistics, else ones)."""

    values: np.ndarray
    weights: np.ndarray

    def mean(self) -> float:
        """Return the weighted mean (NaN when empty)."""
        total = self.weights.sum()
        return float(np.dot(self.values, self.weights) / total) if total > 0 else float("nan")

    def quantiles(self, probabilities: tuple[float, ...] = QUANTILES) -> list[float]:
        """Return the weighted quantiles: the smallest value whose weighted CDF reaches each probability."""
        return weighted_quantiles(self.values, self.weights, probabilities)


def book_statistics(
    events: xr.Dataset,
    books: xr.Dataset,
    *,
    return_interval_ns: int = 10**9,
    lags: tuple[int, ...] = (1, 2, 5, 10),
    window_levels: int | None = None,
    skip_events: int | None = None,
) -> dict[str, Any]:
    """Measure the statistics of the module docstring on one dataset.

    Parameters
    ----------
    events, books
        Events and the L2 book after each of them (row *i* follows event *i*).
    return_interval_ns
        Sampling interval of the mid price for the returns (ns, > 0).
    lags
        Autocorrelation lags, in return intervals (ints >= 1).
    window_levels
        Keep only the events a level-N file would record (see the module docstring); None keeps all.
    skip_events
        Leading events left out of the event statistics (default: the ``initial_orders`` attribute, the resting
        orders a simulator writes at its start, else 0).

    Returns
    -------
    dict
        ``Sample`` values under the names of :data:`DISTRIBUTIONS`; ``event_mix`` (dict); ``return_acf`` and
        ``abs_return_acf`` (lists over ``lags``); ``lags``, ``duration_s``, ``events`` and ``book_rows``.
    """
    ts, kind, side, price = _event_columns(events, books)
    interval = _positive_int(return_interval_ns, "return_interval_ns")
    lags = tuple(_positive_int(lag, "lags") for lag in lags)
    skip = (
        int(events.attrs.get("initial_orders", 0))
        if skip_events is None
        else _positive_int(skip_events + 1, "skip_events") - 1
    )
    bid_p, bid_q, ask_p, ask_q = (books[name].values for name in ("bid_price", "bid_qty", "ask_price", "ask_qty"))
    dt_s = np.append(np.diff(ts), 0).astype(np.float64) / 1e9
    quoted = (bid_q[:, 0] > 0) & (ask_q[:, 0] > 0)
    spread = np.where(quoted, ask_p[:, 0] - bid_p[:, 0], 0)
    depth = bid_q[:, 0] + ask_q[:, 0]
    imbalance = np.where(quoted, (bid_q[:, 0] - ask_q[:, 0]) / np.maximum(depth, 1), 0.0)
    keep = np.arange(ts.shape[0]) >= skip
    if window_levels is not None:
        keep &= visible_events(kind, side, price, books, _positive_int(window_levels, "window_levels"))
    flow = keep & np.isin(kind, _FLOW_KINDS)
    returns = mid_returns(ts, bid_p[:, 0], bid_q[:, 0], ask_p[:, 0], ask_q[:, 0], interval)
    duration_s = float(ts[-1] - ts[0]) / 1e9 if ts.size else 0.0
    return {
        "spread_ticks": Sample(spread[quoted].astype(np.float64), dt_s[quoted]),
        "l1_queue_lots": Sample(
            np.concatenate([bid_q[:, 0][bid_q[:, 0] > 0], ask_q[:, 0][ask_q[:, 0] > 0]]).astype(np.float64),
            np.concatenate([dt_s[bid_q[:, 0] > 0], dt_s[ask_q[:, 0] > 0]]),
        ),
        "imbalance": Sample(imbalance[quoted], dt_s[quoted]),
        "interarrival_s": _unweighted(np.diff(ts[flow]).astype(np.float64) / 1e9),
        "mid_return_ticks": _unweighted(returns),
        "event_mix": _event_mix(kind[keep], duration_s),
        "return_acf": autocorrelation(returns, lags),
        "abs_return_acf": autocorrelation(np.abs(returns), lags),
        "lags": list(lags),
        "duration_s": duration_s,
        "events": int(keep.sum()),
        "book_rows": int(ts.shape[0]),
    }


def visible_events(kind: np.ndarray, side: np.ndarray, price: np.ndarray, books: xr.Dataset, levels: int) -> np.ndarray:
    """Return True for the events a level-``levels`` LOBSTER file records (see the module docstring).

    Records without a resting side (HALT, CLEAR, ...) are kept.
    """
    resting = np.where(np.isin(kind, (EventKind.TRADE, EventKind.TRADE_HIDDEN)), -side, side)
    inside = np.ones(kind.shape[0], dtype=bool)
    for sign, name in ((1, "bid"), (-1, "ask")):
        qty = books[f"{name}_qty"].values
        if qty.shape[1] < levels:
            continue  # the books hold fewer levels than the window: every price is inside
        full = qty[:, levels - 1] > 0  # the side has >= `levels` levels: the window ends at the last one
        worst = sign * books[f"{name}_price"].values[:, levels - 1]
        full_before, worst_before = np.concatenate([[False], full[:-1]]), np.concatenate([[0], worst[:-1]])
        within = ~full | ~full_before | (sign * price >= worst) | (sign * price >= worst_before)
        inside = np.where(resting == sign, within, inside)
    return inside


def mid_returns(
    ts: np.ndarray, bid_p: np.ndarray, bid_q: np.ndarray, ask_p: np.ndarray, ask_q: np.ndarray, interval_ns: int
) -> np.ndarray:
    """Return the mid-price changes (ticks) between consecutive grid times ``t0 + k interval_ns``.

    The mid at a grid time is the last mid quoted (both sides non-empty) at or before it; grid times before the
    first quote are left out.
    """
    quoted = (bid_q > 0) & (ask_q > 0)
    if not quoted.any():
        return np.zeros(0)
    t_quoted = ts[quoted]
    mid = (bid_p[quoted] + ask_p[quoted]) / 2.0
    grid = np.arange(t_quoted[0], ts[-1] + 1, interval_ns)
    at = np.searchsorted(t_quoted, grid, side="right") - 1
    return np.diff(mid[at])


def autocorrelation(values: np.ndarray, lags: tuple[int, ...]) -> list[float]:
    """Return the sample autocorrelation at each lag (``sum (x_t - m)(x_{t+k} - m) / sum (x_t - m)^2``)."""
    x = np.asarray(values, dtype=np.float64) - (values.mean() if len(values) else 0.0)
    denominator = float(np.dot(x, x))
    return [
        float(np.dot(x[:-lag], x[lag:]) / denominator) if denominator > 0 and lag < x.size else float("nan")
        for lag in lags
    ]


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, probabilities: tuple[float, ...]) -> list[float]:
    """Return the smallest value whose weighted CDF is >= each probability (NaN for an empty sample)."""
    order = np.argsort(values, kind="stable")
    cdf = np.cumsum(weights[order])
    if cdf.size == 0 or cdf[-1] <= 0:
        return [float("nan")] * len(probabilities)
    cdf /= cdf[-1]
    index = np.searchsorted(cdf, np.asarray(probabilities) - 1e-12, side="left")
    return [float(v) for v in values[order][np.minimum(index, cdf.size - 1)]]


def ks_distance(a: Sample, b: Sample) -> float:
    """Return the Kolmogorov-Smirnov distance ``sup_x |F_a(x) - F_b(x)|`` of two weighted samples."""
    if a.weights.sum() <= 0 or b.weights.sum() <= 0:
        return float("nan")
    points = np.union1d(a.values, b.values)
    return float(np.max(np.abs(_cdf(a, points) - _cdf(b, points))))


def compare_statistics(real: dict[str, Any], simulated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Put two :func:`book_statistics` results side by side.

    Returns
    -------
    dict
        Per distribution: ``mean_real``, ``mean_simulated``, ``quantiles`` (the probabilities),
        ``quantiles_real``, ``quantiles_simulated`` and ``ks`` (the KS distance); ``event_mix``: the shares and
        rates of both; ``return_acf`` and ``abs_return_acf``: ``lags``, ``real`` and ``simulated``.
    """
    if list(real["lags"]) != list(simulated["lags"]):
        raise ParameterError(
            f"compare_statistics needs the same autocorrelation lags on both sides; got {real['lags']} and "
            f"{simulated['lags']}"
        )
    table: dict[str, dict[str, Any]] = {}
    for name in DISTRIBUTIONS:
        a, b = real[name], simulated[name]
        table[name] = {
            "mean_real": _round(a.mean()),
            "mean_simulated": _round(b.mean()),
            "quantiles": list(QUANTILES),
            "quantiles_real": [_round(v) for v in a.quantiles()],
            "quantiles_simulated": [_round(v) for v in b.quantiles()],
            "ks": _round(ks_distance(a, b)),
        }
    mix_real, mix_sim = real["event_mix"], simulated["event_mix"]
    table["event_mix"] = {f"{key}_real": mix_real[key] for key in mix_real}
    table["event_mix"].update({f"{key}_simulated": mix_sim[key] for key in mix_sim})
    for name in ("return_acf", "abs_return_acf"):
        table[name] = {
            "lags": list(real["lags"]),
            "real": [_round(v) for v in real[name]],
            "simulated": [_round(v) for v in simulated[name]],
        }
    return table


def format_comparison(table: dict[str, dict[str, Any]]) -> str:
    """Return the comparison as aligned text lines (one per statistic)."""
    lines = [f"{'statistic':<18}{'mean real':>12}{'mean sim':>12}{'median real':>13}{'median sim':>12}{'KS':>8}"]
    for name in DISTRIBUTIONS:
        row = table[name]
        mid = row["quantiles"].index(0.5)
        values = (row["mean_real"], row["mean_simulated"], row["quantiles_real"][mid], row["quantiles_simulated"][mid])
        lines.append(f"{name:<18}" + "".join(f"{v:>12.4g}" for v in values) + f" {row['ks']:>8.3f}")
    mix = table["event_mix"]
    shares = " ".join(f"{k}={mix[f'{k}_share_real']:.3f}/{mix[f'{k}_share_simulated']:.3f}" for k in MIX)
    lines.append(f"{'event mix':<18}{shares} (real/simulated)")
    for name in ("return_acf", "abs_return_acf"):
        row = table[name]
        pairs = " ".join(
            f"lag{k}={r:+.3f}/{s:+.3f}" for k, r, s in zip(row["lags"], row["real"], row["simulated"], strict=True)
        )
        lines.append(f"{name:<18}{pairs}")
    return "\n".join(lines)


def _event_columns(events: xr.Dataset, books: xr.Dataset) -> tuple[np.ndarray, ...]:
    n = events.sizes.get("event", 0)
    if books.sizes.get("time", -1) != n:
        raise DataError(f"book_statistics: books must have one row per event ({n}); got {books.sizes.get('time')}")
    if n < 2:
        raise DataError(f"book_statistics: needs at least 2 events; got {n}")
    return tuple(events[name].values for name in ("ts_ns", "kind", "side", "price_ticks"))


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"`{name}` of book_statistics must be an int >= 1; got {value!r}")
    return int(value)


def _unweighted(values: np.ndarray) -> Sample:
    return Sample(values.astype(np.float64), np.ones(values.shape[0]))


def _event_mix(kind: np.ndarray, duration_s: float) -> dict[str, float]:
    counts = {name: int(np.isin(kind, kinds).sum()) for name, kinds in MIX.items()}
    total = sum(counts.values())
    mix: dict[str, float] = {}
    for name, count in counts.items():
        mix[f"{name}_share"] = _round(count / total) if total else float("nan")
        mix[f"{name}_rate_per_s"] = _round(count / duration_s) if duration_s > 0 else float("nan")
    mix["other_events"] = int(kind.shape[0] - total)
    return mix


def _cdf(sample: Sample, points: np.ndarray) -> np.ndarray:
    order = np.argsort(sample.values, kind="stable")
    cumulative = np.concatenate([[0.0], np.cumsum(sample.weights[order])])
    return cumulative[np.searchsorted(sample.values[order], points, side="right")] / cumulative[-1]


def _round(value: float) -> float:
    return float(f"{value:.6g}") if np.isfinite(value) else float(value)
