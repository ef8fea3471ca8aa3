"""LOB-Bench's own scores, computed exactly as its reference code defines them (peernagy/lob_bench, commit 276baf3).

:func:`score_lobbench` reproduces, on LOBSTER rows (:func:`simlab.book.export.lobster_table`), the reference's
default unconditional scores (``run_bench.DEFAULT_SCORING_CONFIG``), its default conditional scores
(``DEFAULT_SCORING_CONFIG_COND``), the mean / median / IQM summaries of each (``scoring.summary_stats``) and its
impact response score (``impact.impact_compare``), under the reference's names, to 1e-6 (checked against numbers of
the reference itself in ``tests/simlab/metrics/test_lobbench_convention.py``). What that means, score by score
(docs/lobbench.md sets it beside simlab's own convention):

* every row given counts (the empty-side placeholders +-9999999999 and zero volumes included), sequence by
  sequence (:func:`sequences` cuts the data into sequences of a given number of messages);
* depth is ``price - mid`` with the mid after the message, the side from its sign; levels are found by price in the
  book after the message (adds) or before it (cancels);
* time to cancel: the first two type 1-3 messages of each id with an add; inter-arrival and cancel times of 0 are
  replaced by 1e-9 before the log; volume per minute: visible executions per 1 s bucket with trades, times 60;
  OFI: a 100-message rolling mean; ``ofi_up`` / ``ofi_stay`` / ``ofi_down``: the OFI before each mid move of that
  sign; ask / bid volume: the first ``min(10, levels)`` levels (the reference asserts 10 levels);
* L1: total variation between group counts (NaN values not counted), groups from Freedman-Diaconis edges of the
  pooled sample, or its distinct values for discrete scores; Wasserstein: ``scipy.stats.wasserstein_distance`` of
  the sample standardised by the pooled mean and standard deviation;
* a plain bootstrap of 100 replicates of each sample, the estimate first, a 99 % percentile interval over the 101;
  the L1 and the Wasserstein draws each come from their own ``numpy.random.default_rng(12345)``, consumed score by
  score in the reference's order (so each number depends on the ones before it, as in the reference);
* conditional scores: groups by the conditioning score (pooled deciles, its distinct values, or the reference's
  24 time-of-day thresholds), subgroups by the evaluated score within each group, the per-group distances weighted
  by the pooled group size;
* impact: the mean over the six touch-event types of the summed absolute differences of the real and generated
  response functions over the reference's 21 lags, in ticks of ``tick`` price units (the reference's 100).

Where a sample of both datasets is empty the reference fails; here the score is "not applicable" with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from simlab.metrics import _lobbench_kernels as _kernels
from simlab.metrics import _lobbench_samples as smp
from simlab.metrics._lobbench_samples import Sequence, sequences
from simlab.metrics._market import NotApplicable

__all__ = ["Sequence", "sequences", "score_lobbench", "compare_numbers", "UNCONDITIONAL", "CONDITIONAL"]

N_BOOT = 100
CI = (0.5, 99.5)
SEED = 12345
SUMMARY_BOOT = 1000
MAX_EDGES = 1_000_000
DECILES = np.arange(0.1, 1.0, 0.1)
HOURS = np.linspace(0, 24 * 60 * 60, 24)  # the reference's "hour" thresholds (24 edges over the day)
LAGS = (10 ** np.arange(0.3, 2.4, step=0.1)).astype(int)
EVENTS = ("MO_0", "MO_1", "LO_0", "LO_1", "CA_0", "CA_1")
METRICS = ("l1", "wasserstein")
Sample = Callable[[Sequence], np.ndarray]

# name -> (sample, discrete), in the reference's order
UNCONDITIONAL: dict[str, tuple[Sample, bool]] = {
    "spread": (smp.spread, True),
    "orderbook_imbalance": (smp.imbalance, False),
    "log_inter_arrival_time": (smp.log_inter_arrival, False),
    "log_time_to_cancel": (smp.log_time_to_cancel, False),
    "ask_volume_touch": (smp.volume("ask", True), False),
    "bid_volume_touch": (smp.volume("bid", True), False),
    "ask_volume": (smp.volume("ask", False), False),
    "bid_volume": (smp.volume("bid", False), False),
    "limit_ask_order_depth": (smp.depth((1,), "ask"), False),
    "limit_bid_order_depth": (smp.depth((1,), "bid"), False),
    "ask_cancellation_depth": (smp.depth((2, 3), "ask"), False),
    "bid_cancellation_depth": (smp.depth((2, 3), "bid"), False),
    "limit_ask_order_levels": (smp.level((1,), "ask"), True),
    "limit_bid_order_levels": (smp.level((1,), "bid"), True),
    "ask_cancellation_levels": (smp.level((2, 3), "ask"), True),
    "bid_cancellation_levels": (smp.level((2, 3), "bid"), True),
    "vol_per_min": (smp.volume_per_minute, False),
    "ofi": (smp.ofi, False),
    "ofi_up": (smp.ofi_given_move(1), False),
    "ofi_stay": (smp.ofi_given_move(0), False),
    "ofi_down": (smp.ofi_given_move(-1), False),
}
# name -> (evaluated sample, discrete, conditioning sample, its grouping)
CONDITIONAL: dict[str, tuple[Sample, bool, Sample, dict[str, Any]]] = {
    "ask_volume | spread": (smp.volume("ask", True), False, smp.spread, {"discrete": True}),
    "spread | time": (smp.spread, False, smp.time_of_day, {"thresholds": HOURS}),
    "spread | volatility": (smp.spread, True, smp.volatility, {"quantiles": DECILES}),
}


def score_lobbench(real: list[Sequence], generated: list[Sequence], *, tick: int = 100) -> dict[str, Any]:
    """Score ``generated`` against ``real`` as LOB-Bench's reference code does (module docstring).

    Parameters
    ----------
    real, generated
        Sequences of LOBSTER rows (:func:`sequences`); sequence *i* of each is the reference's ``real_id`` *i*: the
        generated sequence *i* continues the real one, and sequences without a partner are left out (counted in
        ``sequences``).
    tick
        Price units (USD x 10,000) per tick of the impact responses (the reference's ``ticksize=100``).

    Returns
    -------
    dict
        ``unconditional`` and ``conditional``: per score and metric (``l1``, ``wasserstein``) its ``value``, ``ci``
        and the 101 ``replicates`` (estimate first), or ``status`` "not applicable: ..."; ``summary``: per family and
        metric ``mean`` / ``median`` / ``iqm`` as ``[value, low, high]``; ``impact``: lags, events, the response
        functions, per-event summed absolute differences and their mean ``score``.
    """
    paired = min(len(real), len(generated))
    if paired == 0:
        raise NotApplicable(["sequences in both datasets"])
    counts = {"real": len(real), "generated": len(generated), "paired": paired}
    real, generated = real[:paired], generated[:paired]
    streams = {metric: np.random.default_rng(SEED) for metric in METRICS}
    unconditional = {}
    for name, (sample, discrete) in UNCONDITIONAL.items():
        unconditional[name] = _guarded(lambda s=sample, d=discrete: _unconditional(real, generated, s, d, streams))
    conditional = {}
    for name, spec in CONDITIONAL.items():
        conditional[name] = _guarded(lambda spec=spec: _conditional(real, generated, *spec, streams))
    summary_rng = np.random.default_rng(SEED)
    summary = {family: _summary(table, summary_rng) for family, table in (("unconditional", unconditional),
                                                                          ("conditional", conditional))}  # fmt: skip
    return {
        "convention": "lobbench",
        "sequences": counts,
        "unconditional": _document(unconditional),
        "conditional": _document(conditional),
        "summary": summary,
        "impact": impact(real, generated, tick=tick),
    }


def _guarded(compute: Callable[[], dict[str, tuple]]) -> dict[str, tuple] | str:
    try:
        return compute()
    except NotApplicable as reason:
        return f"not applicable: {reason}"


def _gather(seqs: list[Sequence], sample: Sample) -> np.ndarray:
    parts = [sample(s) for s in seqs if s.n]
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


def _unconditional(real, generated, sample, discrete, streams) -> dict[str, tuple]:
    a, b = _gather(real, sample), _gather(generated, sample)
    ga, gb = group_by_score(a, b, discrete=discrete, bin_method=None if discrete else "fd")
    return {"l1": l1_by_group(a, ga, b, gb, streams["l1"]), "wasserstein": wasserstein(a, b, streams["wasserstein"])}


def _conditional(real, generated, sample, discrete, condition, grouping, streams) -> dict[str, tuple]:
    ca, cb = _gather(real, condition), _gather(generated, condition)
    a, b = _gather(real, sample), _gather(generated, sample)
    ga, gb = group_by_score(ca, cb, **grouping)
    within = {"discrete": True} if discrete else {"quantiles": DECILES}
    sizes, losses = [], []
    for group in np.unique(np.concatenate([ga, gb])):
        xa, xb = a[ga == group], b[gb == group]
        sa, sb = group_by_score(xa, xb, **within)
        l1 = l1_by_group(xa, sa, xb, sb, streams["l1"])[2]
        w = wasserstein(xa, xb, streams["wasserstein"])[2]
        sizes.append(xa.size + xb.size)
        losses.append(np.stack([l1, w], axis=-1))
    weights = np.array(sizes, dtype=np.float64)
    weights /= weights.sum()
    metric = np.nansum(np.array(losses).T * weights, axis=-1)  # (metrics, 1 + N_BOOT)
    ci = np.nanpercentile(metric, CI, axis=-1).T
    return {m: (float(metric[k, 0]), ci[k], metric[k]) for k, m in enumerate(METRICS)}


def group_by_score(real: np.ndarray, generated: np.ndarray, *, discrete: bool = False, bin_method: str | None = None,
                   quantiles: np.ndarray | None = None, thresholds: np.ndarray | None = None):  # fmt: skip
    """Return the reference's group labels of the two samples (``partitioning.group_by_score``)."""
    pooled = np.concatenate([real, generated]).astype(np.float64)
    if pooled.size == 0:
        raise NotApplicable(["values in either dataset"])
    if discrete:
        edges = np.unique(pooled)
    elif bin_method is not None:
        pooled = pooled[np.isfinite(pooled)]
        if pooled.size == 0:
            raise NotApplicable(["finite values in either dataset"])
        return fd_labels(real, pooled), fd_labels(generated, pooled)
    elif quantiles is not None:
        edges = np.quantile(pooled, quantiles)
        twice = np.r_[False, edges[1:] == edges[:-1]]
        edges = edges[~np.r_[False, twice[1:] & twice[:-1]]]  # keep at most two of a repeated edge
        edges[np.r_[False, edges[1:] == edges[:-1]]] += 1e-2
    else:
        edges = thresholds
    return np.searchsorted(edges, real, side="right"), np.searchsorted(edges, generated, side="right")


def fd_labels(values: np.ndarray, pooled: np.ndarray) -> np.ndarray:
    """Return ``searchsorted(histogram_bin_edges(pooled, "fd"), values, "right")`` without building the edges.

    The reference's Freedman-Diaconis bins are uncapped: a placeholder price of 9999999999 among values a tick
    apart asks for ~10^9 edges. Beyond :data:`MAX_EDGES` the label is computed from numpy's own edge formula
    (``linspace``: edge ``k`` is ``k * step + first``, the last one ``last``), corrected where rounding puts a value
    on the wrong side of its edge.
    """
    first, last = float(pooled.min()), float(pooled.max())
    if first == last:
        first, last = first - 0.5, last + 0.5
    q75, q25 = np.percentile(pooled, [75, 25])
    width = 2.0 * (q75 - q25) * pooled.size ** (-1.0 / 3.0)
    n = int(np.ceil((last - first) / width)) if width else 1
    if n < MAX_EDGES:
        return np.searchsorted(np.histogram_bin_edges(pooled, bins="fd"), values, side="right")
    step = (last - first) / n

    def edge(j: np.ndarray) -> np.ndarray:
        inside = np.where(j == n, last, j * step + first)
        return np.where(j < 0, -np.inf, np.where(j > n, np.inf, inside))

    x = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        k = np.clip(np.floor((x - first) / step), -1, n)
    k = np.where(np.isnan(k), n, k)
    for _ in range(2):
        k = np.clip(k + (edge(k + 1) <= x) - (edge(k) > x), -1, n)
    return np.where(np.isnan(x), n + 1, k + 1).astype(np.int64)


def l1_by_group(a, ga, b, gb, rng: np.random.Generator) -> tuple[float, np.ndarray, np.ndarray]:
    """Return the reference's L1 (total variation of the group counts), its 99 % interval and the 101 values."""
    if a.size == 0 or b.size == 0:
        return 1.0, np.ones(2), np.ones(N_BOOT + 1)
    labels, codes = np.unique(np.concatenate([ga, gb]), return_inverse=True)
    ca, cb = codes[: a.size], codes[a.size :]
    va, vb = ~np.isnan(a), ~np.isnan(b)
    value = _l1(np.bincount(ca, va, labels.size)[None], np.bincount(cb, vb, labels.size)[None])[0]
    ia, ib = rng.integers(0, a.size, size=(N_BOOT, a.size)), rng.integers(0, b.size, size=(N_BOOT, b.size))
    counts_a = _kernels.replicate_counts(ca, va, ia, labels.size)
    losses = np.r_[value, _l1(counts_a, _kernels.replicate_counts(cb, vb, ib, labels.size))]
    return float(value), np.percentile(losses, CI), losses


def _l1(counts_a: np.ndarray, counts_b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = counts_a / counts_a.sum(axis=1, keepdims=True)
        q = counts_b / counts_b.sum(axis=1, keepdims=True)
    return np.nansum(np.abs(p - q), axis=1) / 2.0


def wasserstein(a, b, rng: np.random.Generator) -> tuple[float, np.ndarray, np.ndarray]:
    """Return the reference's W1 of the pooled-standardised samples, its 99 % interval and the 101 values."""
    if a.size == 0 or b.size == 0:
        return float("nan"), np.full(2, np.nan), np.full(N_BOOT + 1, np.nan)
    pooled = np.concatenate([a, b])
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant or non-finite sample: NaN, as the reference
        z = (pooled - np.nanmean(pooled)) / np.nanstd(pooled, ddof=1)
    finite = np.isfinite(z)
    grid, codes = np.unique(np.where(finite, z, 0.0), return_inverse=True)
    ca, cb, fa, fb = codes[: a.size], codes[a.size :], finite[: a.size], finite[a.size :]
    value = _w1(grid, ca[None], cb[None], fa[None], fb[None])[0]
    ia, ib = rng.integers(0, a.size, size=(N_BOOT, a.size)), rng.integers(0, b.size, size=(N_BOOT, b.size))
    losses = np.r_[value, _kernels.replicate_w1(grid, ca, fa, ia, cb, fb, ib)]
    return float(value), np.percentile(losses, CI), losses


def _w1(grid, codes_a, codes_b, finite_a, finite_b) -> np.ndarray:
    """W1 of each row's sample (codes into ``grid``); NaN where a sample holds a non-finite value."""
    rows, n = codes_a.shape[0], grid.size
    offset = np.arange(rows)[:, None] * n
    cdf_a = np.bincount((offset + codes_a).ravel(), minlength=rows * n).reshape(rows, n).cumsum(axis=1)
    cdf_b = np.bincount((offset + codes_b).ravel(), minlength=rows * n).reshape(rows, n).cumsum(axis=1)
    gaps = np.diff(grid)
    out = (np.abs(cdf_a[:, :-1] / codes_a.shape[1] - cdf_b[:, :-1] / codes_b.shape[1]) * gaps).sum(axis=1)
    bad = ~finite_a.all(axis=1) | ~finite_b.all(axis=1)
    return np.where(bad, np.nan, out)


def _summary(table: dict[str, dict[str, tuple] | str], rng: np.random.Generator) -> dict[str, Any]:
    """The reference's ``summary_stats``: mean, median and IQM of the scores, intervals from 1,000 draws of one
    bootstrap value per score (one generator across metrics and families, as one call after another)."""
    scored = [v for v in table.values() if isinstance(v, dict)]
    out: dict[str, Any] = {}
    for metric in METRICS:
        values = np.array([s[metric][0] for s in scored])
        draws = np.array([[rng.choice(s[metric][2]) for s in scored] for _ in range(SUMMARY_BOOT)])
        stats, boot = _summary_stats(values), _summary_stats(draws)
        out[metric] = {name: [_num(v), *(_num(c) for c in np.percentile(bs, CI))]
                       for name, v, bs in zip(("mean", "median", "iqm"), stats, boot, strict=True)}  # fmt: skip
    return out


def _summary_stats(values: np.ndarray) -> tuple:
    q25, q75 = np.percentile(values, [25, 75], axis=-1, keepdims=True)
    masked = np.ma.masked_array(values, mask=(values < q25) | (values > q75))
    return np.mean(values, axis=-1), np.median(values, axis=-1), masked.mean(axis=-1).__array__()


def impact(real: list[Sequence], generated: list[Sequence], *, tick: int = 100) -> dict[str, Any]:
    """Return the reference's impact response score (``impact.impact_compare``) with its response functions."""
    curves = [_responses(seqs, tick) for seqs in (real, generated)]
    diffs = np.abs(curves[0] - curves[1]).sum(axis=1)
    return {
        "lags": LAGS.tolist(),
        "events": list(EVENTS),
        "real": [[_num(v) for v in row] for row in curves[0]],
        "generated": [[_num(v) for v in row] for row in curves[1]],
        "abs_diffs": [_num(v) for v in diffs],
        "score": _num(np.mean(diffs)),
    }


def _responses(seqs: list[Sequence], tick: int) -> np.ndarray:
    """Mean of ``eps_t (mid_{t+l-1} - mid_{t-1}) / tick`` over the events of each type (6, lags)."""
    sums, counts = np.zeros((len(EVENTS), LAGS.size)), np.zeros((len(EVENTS), LAGS.size))
    for s in seqs:
        mid, eps, kind = smp.response_events(s)
        for j, lag in enumerate(LAGS.tolist()):
            t = np.arange(1, mid.size - lag + 1)
            change = (mid[t + lag - 1] - mid[t - 1]) * eps[t] / tick
            sums[:, j] += np.bincount(kind[t], change, len(EVENTS))
            counts[:, j] += np.bincount(kind[t], minlength=len(EVENTS))
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _num(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _document(table: dict[str, dict[str, tuple] | str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, entry in table.items():
        if isinstance(entry, str):
            out[name] = {"status": entry}
            continue
        out[name] = {
            metric: {"value": _num(v), "ci": [_num(c) for c in ci], "replicates": [_num(r) for r in reps]}
            for metric, (v, ci, reps) in entry.items()
        }
    return out


def compare_numbers(ours: Any, reference: Any, where: str = "") -> tuple[float, str]:
    """Return the largest absolute difference between two nested documents of numbers and where it is (inf where
    one holds a number and the other none, or their keys differ)."""
    if isinstance(reference, dict):
        if not isinstance(ours, dict):
            return float("inf"), where
        worst = (0.0, where)
        for key in reference:
            found = compare_numbers(ours.get(key), reference[key], f"{where}/{key}") if key in ours else (np.inf, key)
            worst = max(worst, found, key=lambda w: w[0])
        return worst
    if isinstance(reference, list):
        if not isinstance(ours, list) or len(ours) != len(reference):
            return float("inf"), where
        return max((compare_numbers(o, r, f"{where}[{k}]") for k, (o, r) in enumerate(zip(ours, reference,
                   strict=True))), key=lambda w: w[0], default=(0.0, where))  # fmt: skip
    if reference is None or ours is None:
        return (0.0, where) if reference is None and ours is None else (float("inf"), where)
    if isinstance(reference, str):
        return (0.0, where) if reference == ours else (float("inf"), where)
    return abs(float(ours) - float(reference)), where
