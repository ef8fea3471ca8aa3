"""The realism scorecard: one call scores a synthetic dataset against a real one on every realism measure.

:func:`score` measures, on both datasets, the LOB-Bench quantities of :mod:`simlab.metrics.lobbench` (compared with
the ``l1`` and ``w1`` distances of :mod:`simlab.metrics.distances`, conditional ones averaged over groups), the six
touch-event price response functions (compared by their mean absolute difference over lags 1-199, ``mae_ticks``,
with a block bootstrap), the stylized facts of :mod:`simlab.metrics.stylized` (both values with intervals) and the
discriminative score of :mod:`simlab.metrics.discriminative` (windows of ``n // 40`` events, between 20 and 200,
for the smaller dataset's ``n``). A measure a dataset lacks the fields for is reported
as not applicable with what is missing (``strict=True`` raises instead), and so is a distance between samples of
fewer than :data:`MIN_VALUES` values: no number is computed from nothing. The error against horizon
(:func:`simlab.metrics.horizon.error_vs_horizon`) gives the unconditional distances window by window from the
data start.

Raw trade files hold one record per fill: a market order that sweeps several resting orders is several prints of
one aggressor side at one timestamp. ``aggregate_trades=True`` merges them into one market order
(:func:`aggregate_trades`) in both datasets before scoring, as the Hawkes fits do.

Datasets whose tick sizes or instruments differ are refused: their prices are not comparable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.metrics import lobbench
from simlab.metrics._market import TRADES, Market, NotApplicable
from simlab.metrics.discriminative import Discrimination, discriminate
from simlab.metrics.distances import (
    Distance,
    bias_corrected,
    check_bootstrap,
    compare_samples,
    histogram_edges,
    make_distance,
    summarise,
)
from simlab.metrics.horizon import error_vs_horizon
from simlab.metrics.stylized import Fact, stylized_facts
from simlab.random import spawn

Dataset = xr.Dataset | Mapping[str, xr.Dataset]
MIN_TOUCH_EVENTS = 20
MIN_VALUES = 10
CONVENTIONS = ("simlab", "lobbench")


@dataclass(frozen=True)
class ScoreRow:
    """One score: a quantity, its metric and either a distance or why it is not applicable."""

    quantity: str
    family: str  # unconditional, conditional or response
    metric: str  # l1, w1 or mae_ticks
    distance: Distance | None
    reason: str = ""
    n_real: int = 0
    n_synthetic: int = 0


@dataclass
class ScoreCard:
    """The result of :func:`score`: score rows, summaries, stylized facts, curves and the discriminative score."""

    rows: list[ScoreRow]
    summary: dict[str, Any]
    facts: dict[str, dict[str, Fact | str]]
    response: dict[str, Any]
    histograms: dict[str, dict[str, list[float]]]
    discriminative: Discrimination | str
    meta: dict[str, Any] = field(default_factory=dict)
    horizon: dict[str, Any] = field(default_factory=dict)
    lobbench: dict[str, Any] = field(default_factory=dict)

    def table(self) -> list[dict[str, Any]]:
        """Return the score rows as JSON-ready mappings (``status`` is ``ok`` or ``not applicable: ...``)."""
        out = []
        for row in self.rows:
            entry: dict[str, Any] = {"quantity": row.quantity, "family": row.family, "metric": row.metric}
            entry.update(n_real=row.n_real, n_synthetic=row.n_synthetic)
            if row.distance is None:
                entry["status"] = f"not applicable: {row.reason}"
            else:
                entry.update(status="ok", **row.distance.to_dict())
            out.append(entry)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return every number of the scorecard as a JSON-ready mapping."""
        facts = {
            name: {side: v.to_dict() if isinstance(v, Fact) else f"not applicable: {v}" for side, v in pair.items()}
            for name, pair in self.facts.items()
        }
        disc = self.discriminative
        return {
            "meta": self.meta,
            "summary": self.summary,
            "scores": self.table(),
            "stylized_facts": facts,
            "response": self.response,
            "discriminative": disc.to_dict() if isinstance(disc, Discrimination) else f"not applicable: {disc}",
            "horizon": _horizon_document(self.horizon),
            **({"lobbench": _without_replicates(self.lobbench)} if self.lobbench else {}),
        }

    def to_dataset(self) -> xr.Dataset:
        """Return the scorecard as an xarray Dataset (scores over ``score``, response curves over ``lag``)."""
        names = ("value", "low", "high", "floor", "floor_low", "floor_high")
        values = {n: [getattr(r.distance, n) if r.distance else np.nan for r in self.rows] for n in names}
        data = {f"score_{n}": ("score", np.array(v, dtype=np.float64)) for n, v in values.items()}
        labels = {  # object arrays: variable-length strings in zarr
            "quantity": [r.quantity for r in self.rows],
            "metric": [r.metric for r in self.rows],
            "family": [r.family for r in self.rows],
            "status": ["ok" if r.distance else f"not applicable: {r.reason}" for r in self.rows],
        }
        coords: dict[str, Any] = {name: ("score", np.array(v, dtype=object)) for name, v in labels.items()}
        if self.response.get("lags"):
            coords["lag"] = ("lag", np.array(self.response["lags"]))
            coords["touch_type"] = ("touch_type", np.array(lobbench.TOUCH_TYPES, dtype=object))
            for side in ("real", "synthetic"):
                data[f"response_{side}"] = (("touch_type", "lag"), np.array(self.response[side], dtype=np.float64))
            data["response_error_vs_lag"] = ("lag", np.array(self.response["error_vs_lag"], dtype=np.float64))
        if self.horizon:
            coords["horizon_quantity"] = ("horizon_quantity", np.array(self.horizon["quantities"], dtype=object))
            coords["horizon_start_s"] = ("window", np.array(self.horizon["edges_s"][:-1]))
            coords["horizon_end_s"] = ("window", np.array(self.horizon["edges_s"][1:]))
            for metric in ("l1", "w1"):
                data[f"horizon_{metric}"] = (("horizon_quantity", "window"), self.horizon[metric])
                data[f"horizon_mean_{metric}"] = ("window", self.horizon[f"mean_{metric}"])
        document = self.to_dict()
        attrs = {key: json.dumps(document[key]) for key in ("meta", "summary", "stylized_facts", "discriminative")}
        return xr.Dataset(data, coords=coords, attrs=attrs)


def _unknown_cells(books) -> int:
    """Count the cells a dataset's books mark unknown (``{side}_determined`` False); 0 without masks."""
    if books is None:
        return 0
    sides = [f"{side}_determined" for side in ("bid", "ask") if f"{side}_determined" in books]
    return sum(int((~books[name].values).sum()) for name in sides)


def score(
    synthetic: Dataset,
    real: Dataset,
    *,
    seed: int,
    n_boot: int = 200,
    confidence: float = 0.99,
    levels: int | None = None,
    strict: bool = False,
    discriminative: bool = True,
    horizon_windows: int = 5,
    aggregate_trades: bool = False,
    convention: str = "simlab",
    sequence_length: int | None = None,
    known_depth: bool | None = None,
) -> ScoreCard:
    """Score ``synthetic`` against ``real`` on every measure of the module docstring.

    Parameters
    ----------
    synthetic, real
        An events Dataset, or a mapping with ``events`` and optionally ``books`` (the L2 book after each event).
    seed
        Root seed of the bootstraps and the classifier split.
    n_boot
        Bootstrap replicates of every interval (>= 10).
    confidence
        Central mass of the intervals, in (0, 1).
    levels
        Book levels compared (default: the fewer of the two datasets'). When the real data is a level-N LOBSTER
        file (attributes ``format`` and ``levels``), the synthetic events it would not record are left out.
    strict
        Raise :class:`DataError` listing every measure that is not applicable, instead of reporting it.
    discriminative
        Train the real-vs-synthetic classifier.
    horizon_windows
        Windows of the error against horizon (>= 2).
    aggregate_trades
        Merge the consecutive trades of one aggressor side sharing a timestamp into one market order in both
        datasets (:func:`aggregate_trades`) before scoring.
    convention
        ``simlab`` (default): the scores of the module docstring. ``lobbench``: LOB-Bench's reference code's own
        scores, summaries and impact score (:mod:`simlab.metrics.lobbench_card`; ``n_boot``, ``confidence``,
        ``levels``, ``horizon_windows`` and the classifier do not apply: the reference fixes its bootstrap), with
        simlab's stylized facts beside them.
    sequence_length
        Under ``lobbench``: messages per sequence (None: one sequence per dataset).
    known_depth
        Read the books' ``bid_determined`` / ``ask_determined`` masks (a LOBSTER replay of a deeper message file
        writes them: a level its messages never showed is unknown, not empty) and compute every quantity that reads
        the book beyond the touch on known cells only (:class:`simlab.metrics._market.Market`): the volumes over the
        kept levels on the rows whose kept levels of that side are all known, the order levels where the price's
        level is known, the 1 s L1 OFI on the seconds whose touches are all known. A dataset whose books carry no
        masks is known in every cell. Default None: on when a dataset's masks mark an unknown cell (an unknown level
        is never read as empty unless asked for), off otherwise; False reads every cell as the books hold it. Under
        ``lobbench``, which reads every level, books with unknown cells are refused unless ``known_depth=False``.

    Returns
    -------
    ScoreCard
    """
    n_boot, _ = check_bootstrap(n_boot, confidence)
    if convention not in CONVENTIONS:
        raise ParameterError(f"`convention` of score must be one of {CONVENTIONS}; got {convention!r}")
    (syn_events, syn_books), (real_events, real_books) = _split(synthetic, "synthetic"), _split(real, "real")
    _refuse_mismatch(syn_events.attrs, real_events.attrs)
    if aggregate_trades:
        syn_events, syn_books = _aggregated(syn_events, syn_books)
        real_events, real_books = _aggregated(real_events, real_books)
    unknown = {name: _unknown_cells(books) for name, books in (("synthetic", syn_books), ("real", real_books))}
    if convention == "lobbench":
        if known_depth:
            raise ParameterError("`known_depth` of score applies to the simlab convention; got convention 'lobbench'")
        marked = {name: n for name, n in unknown.items() if n}
        if marked and known_depth is None:
            name, n = next(iter(marked.items()))
            raise ParameterError(
                f"the {name} books mark {n:,} cells unknown (bid_determined / ask_determined) and LOB-Bench's "
                "convention reads every level; pass convention='simlab', or pass known_depth=False to read them as"
                " the books hold them"
            )
        card = _lobbench_card((syn_events, syn_books), (real_events, real_books), seed, n_boot, confidence,
                              sequence_length, aggregate_trades)  # fmt: skip
        if strict:
            _raise_if_missing(card.rows, card.facts)
        return card
    depth = levels or min((b.sizes["level"] for b in (syn_books, real_books) if b is not None), default=None)
    if known_depth is None:
        known_depth = any(unknown.values())
    window = real_events.attrs.get("levels") if real_events.attrs.get("format") == "lobster" else None
    m_syn = Market(syn_events, syn_books, levels=depth, source="synthetic", window_levels=window,
                   known_depth=known_depth)  # fmt: skip
    m_real = Market(real_events, real_books, levels=depth, source="real", known_depth=known_depth)
    horizon = error_vs_horizon(m_real, m_syn, windows=horizon_windows, min_values=MIN_VALUES)
    rngs = spawn(seed, 4)
    rows, histograms = _distribution_rows(m_real, m_syn, rngs[0], n_boot, confidence)
    response_rows, response = _response_rows(m_real, m_syn, rngs[1], n_boot, confidence)
    rows += response_rows
    facts = _facts(m_real, m_syn, rngs[2], max(10, n_boot // 4), confidence)
    disc: Discrimination | str = "not requested"
    if discriminative:
        try:
            size = int(np.clip(min(m_real.ts.size, m_syn.ts.size) // 40, 20, 200))  # about 40 windows or more
            disc = discriminate(m_real, m_syn, rng=rngs[3], window=size, n_boot=n_boot, confidence=confidence)
        except NotApplicable as reason:
            disc = str(reason)
    if strict:
        _raise_if_missing(rows, facts)
    meta = {"convention": "simlab", "seed": int(seed), "n_boot": n_boot, "confidence": confidence, "levels": depth}
    meta.update(window_levels=window)
    if known_depth:
        meta.update(known_depth=True, real_known_cells=_known_share(m_real), synthetic_known_cells=_known_share(m_syn))
    meta.update(aggregate_trades=bool(aggregate_trades))
    meta.update(tick_size=real_events.attrs.get("tick_size"), instrument=real_events.attrs.get("instrument"))
    meta.update(real_events=int(m_real.ts.size), synthetic_events=int(m_syn.ts.size))
    return ScoreCard(rows, _summary(rows, confidence), facts, response, histograms, disc, meta, horizon)


def _known_share(m: Market) -> float | None:
    # the share of the kept book cells the data determine (None: the books carry no masks, every cell is known)
    return None if m.known is None else float(np.mean([mask.mean() for mask in m.known]))


def _lobbench_card(synthetic, real, seed, n_boot, confidence, sequence_length, aggregated) -> ScoreCard:
    from simlab.metrics.lobbench_card import REFERENCE, lobbench_rows

    rows, summary, document = lobbench_rows(synthetic, real, sequence_length)
    m_syn = Market(*synthetic, levels=None, source="synthetic")
    m_real = Market(*real, levels=None, source="real")
    facts = _facts(m_real, m_syn, spawn(seed, 4)[2], max(10, n_boot // 4), confidence)
    meta = {"convention": "lobbench", "reference": REFERENCE, "seed": int(seed), "sequence_length": sequence_length}
    meta.update(sequences=document["sequences"], aggregate_trades=bool(aggregated))
    meta.update(tick_size=real[0].attrs.get("tick_size"), instrument=real[0].attrs.get("instrument"))
    meta.update(real_events=int(real[0].sizes["event"]), synthetic_events=int(synthetic[0].sizes["event"]))
    why = "not part of the lobbench convention"
    return ScoreCard(rows, summary, facts, {}, {}, why, meta, {}, document)


def _without_replicates(document: dict[str, Any]) -> dict[str, Any]:
    """The LOB-Bench document without the bootstrap values (scores.json keeps value and interval)."""
    out = dict(document)
    for family in ("unconditional", "conditional"):
        out[family] = {
            name: {k: {"value": v["value"], "ci": v["ci"]} if isinstance(v, dict) else v for k, v in entry.items()}
            for name, entry in document[family].items()
        }
    return out


def aggregate_trades(
    events: xr.Dataset, books: xr.Dataset | None = None, *, kinds: tuple[int, ...] | None = TRADES
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """Merge each run of consecutive events of one kind and side sharing a timestamp into one event.

    A taker order filled against several resting orders leaves one print per fill, consecutive and stamped alike
    (Binance trade files, LOBSTER executions): merged, it is one market order whose size is the sum of the fills.
    The merged event keeps the first record's fields but the summed ``qty_lots``; its book row is the book after
    the last record of the run (after the whole market order).

    Parameters
    ----------
    events
        Events in the simlab schema, in time order.
    books
        The L2 book after each event (one row per event along ``time``), or None.
    kinds
        The event kinds merged (default: visible and hidden trades); None merges runs of every kind.

    Returns
    -------
    tuple
        The merged events and their book rows (None without books); the events' attributes are kept.
    """
    ts, kind, side = (events[name].values for name in ("ts_ns", "kind", "side"))
    mergeable = np.ones(ts.size, dtype=bool) if kinds is None else np.isin(kind, kinds)
    new = np.ones(ts.size, dtype=bool)
    new[1:] = (ts[1:] != ts[:-1]) | (kind[1:] != kind[:-1]) | (side[1:] != side[:-1]) | ~mergeable[1:]
    first = np.flatnonzero(new)
    qty = np.add.reduceat(events["qty_lots"].values.astype(np.int64), first) if ts.size else np.zeros(0, np.int64)
    merged = events.isel(event=first).assign(qty_lots=("event", qty.astype(events["qty_lots"].dtype)))
    if books is None:
        return merged, None
    last = np.append(first[1:], ts.size) - 1
    return merged, books.isel(time=last)


def _aggregated(events: xr.Dataset, books: xr.Dataset | None) -> tuple[xr.Dataset, xr.Dataset | None]:
    if books is not None and books.sizes.get("time") != events.sizes["event"]:
        return events, books  # Market refuses the mismatch with its own sentence
    return aggregate_trades(events, books)


def _horizon_document(horizon: dict[str, Any]) -> dict[str, Any]:
    """The error against horizon as JSON-ready lists (None where a window does not score a quantity)."""
    if not horizon:
        return {}

    def clean(values: np.ndarray) -> list:
        return [clean(v) for v in values] if np.ndim(values) > 1 else [_rounded(v) for v in values]

    out = {key: horizon[key] for key in ("edges_s", "quantities", "scored")}
    out.update({key: clean(np.asarray(horizon[key])) for key in ("l1", "w1", "mean_l1", "mean_w1")})
    return out


def _rounded(value: float) -> float | None:
    return float(f"{value:.6g}") if np.isfinite(value) else None


def _split(data: Dataset, name: str) -> tuple[xr.Dataset, xr.Dataset | None]:
    if isinstance(data, xr.Dataset):
        return data, None
    if not isinstance(data, Mapping) or "events" not in data:
        raise DataError(f"the {name} dataset must be an events Dataset or a mapping with 'events' (and 'books')")
    return data["events"], data.get("books")


def _refuse_mismatch(synthetic: Mapping[str, Any], real: Mapping[str, Any]) -> None:
    for key in ("tick_size", "instrument"):
        missing = [name for name, attrs in (("synthetic", synthetic), ("real", real)) if key not in attrs]
        if missing:
            raise DataError(f"score: the {' and '.join(missing)} events lack the attribute {key!r}")
    if not np.isclose(float(synthetic["tick_size"]), float(real["tick_size"]), rtol=1e-9, atol=0):
        raise DataError(
            f"score: tick sizes differ (synthetic {synthetic['tick_size']}, real {real['tick_size']}); prices in "
            "ticks are not comparable"
        )
    if str(synthetic["instrument"]) != str(real["instrument"]):
        raise DataError(
            f"score: instruments differ (synthetic {synthetic['instrument']!r}, real {real['instrument']!r}); "
            "score a dataset against real data of its own instrument"
        )


def _distribution_rows(m_real, m_syn, rng, n_boot, confidence):
    rows, histograms = [], {}
    for name, quantity in lobbench.QUANTITIES.items():
        try:
            a, b = quantity(m_real), quantity(m_syn)
        except NotApplicable as reason:
            reason = _which(reason, m_real, quantity)
            rows += [ScoreRow(name, "unconditional", metric, None, reason) for metric in ("l1", "w1")]
            continue
        if min(a.size, b.size) < MIN_VALUES:
            reason = f"fewer than {MIN_VALUES} values (real {a.size}, synthetic {b.size})"
            rows += [ScoreRow(name, "unconditional", k, None, reason, a.size, b.size) for k in ("l1", "w1")]
            continue
        distances = compare_samples(a, b, rng=rng, n_boot=n_boot, confidence=confidence)
        rows += [ScoreRow(name, "unconditional", k, d, "", a.size, b.size) for k, d in distances.items()]
        edges = histogram_edges(a, b)
        histograms[name] = {
            "edges": edges.tolist(),
            "real": np.histogram(a, edges)[0].tolist(),
            "synthetic": np.histogram(b, edges)[0].tolist(),
        }
    for name, (quantity, how) in lobbench.CONDITIONAL.items():
        try:
            (a, ca), (b, cb) = quantity(m_real), quantity(m_syn)
            distances = _conditional(a, ca, b, cb, how, rng, n_boot, confidence)
        except NotApplicable as reason:
            rows += [ScoreRow(name, "conditional", k, None, _which(reason, m_real, quantity)) for k in ("l1", "w1")]
            continue
        rows += [ScoreRow(name, "conditional", k, d, "", a.size, b.size) for k, d in distances.items()]
    return rows, histograms


def _which(reason: NotApplicable, m_real: Market, quantity) -> str:
    """Say which dataset lacks what (the real one is tried first)."""
    try:
        quantity(m_real)
    except NotApplicable:
        return f"real data: {reason}"
    return f"synthetic data: {reason}"


def _conditional(a, ca, b, cb, how, rng, n_boot, confidence) -> dict[str, Distance]:
    """Average the per-group distances over the groups both datasets fill, weighted by the real group shares."""
    ga, gb = lobbench.condition_groups(ca, cb, how)
    groups, counts = np.unique(ga, return_counts=True)
    parts, weights = [], []
    for group, count in zip(groups, counts, strict=True):
        in_b = gb == group
        if count >= MIN_VALUES and in_b.sum() >= MIN_VALUES:
            parts.append(compare_samples(a[ga == group], b[in_b], rng=rng, n_boot=n_boot, confidence=confidence))
            weights.append(count)
    if not parts:
        raise NotApplicable([f"a condition group filled by both datasets (at least {MIN_VALUES} values each)"])
    w = np.array(weights, dtype=np.float64) / np.sum(weights)
    _, tails = check_bootstrap(n_boot, confidence)
    out = {}
    for metric in ("l1", "w1"):
        value = float(np.dot(w, [p[metric].value for p in parts]))
        replicates = np.tensordot(w, np.array([p[metric].replicates for p in parts]), axes=1)
        floor = np.tensordot(w, np.array([p[metric].floor_replicates for p in parts]), axes=1)
        out[metric] = make_distance(value, replicates, floor, tails)
    return out


def _response_rows(m_real, m_syn, rng, n_boot, confidence):
    try:
        curves = [_block_curves(m) for m in (m_real, m_syn)]
    except NotApplicable as reason:
        rows = [ScoreRow(f"response_{t}", "response", "mae_ticks", None, str(reason)) for t in lobbench.TOUCH_TYPES]
        return rows, {}
    (sums_r, counts_r), (sums_s, counts_s) = curves
    real, synthetic = _curve(sums_r, counts_r), _curve(sums_s, counts_s)
    _, tails = check_bootstrap(n_boot, confidence)
    rows = []
    for k, name in enumerate(lobbench.TOUCH_TYPES):
        n_r, n_s = int(counts_r[:, k, 0].sum()), int(counts_s[:, k, 0].sum())
        if min(n_r, n_s) < MIN_TOUCH_EVENTS:
            reason = f"fewer than {MIN_TOUCH_EVENTS} {name} touch events (real {n_r}, synthetic {n_s})"
            rows.append(ScoreRow(f"response_{name}", "response", "mae_ticks", None, reason, n_r, n_s))
            continue
        value = _mae(real[k], synthetic[k])
        boot_r = _resampled(sums_r[:, k], counts_r[:, k], rng, n_boot)
        boot_s = _resampled(sums_s[:, k], counts_s[:, k], rng, n_boot)
        floor_r = _resampled(sums_r[:, k], counts_r[:, k], rng, n_boot)
        replicates = bias_corrected(value, np.array([_mae(x, y) for x, y in zip(boot_r, boot_s, strict=True)]))
        floor = np.array([_mae(x, y) for x, y in zip(boot_r, floor_r, strict=True)])
        distance = make_distance(value, replicates, floor, tails)
        rows.append(ScoreRow(f"response_{name}", "response", "mae_ticks", distance, "", n_r, n_s))
    error = np.nanmean(np.abs(real - synthetic), axis=0)
    response = {
        "lags": list(range(1, lobbench.MAX_LAG + 1)),
        "real": np.round(real, 6).tolist(),
        "synthetic": np.round(synthetic, 6).tolist(),
        "error_vs_lag": np.round(error, 6).tolist(),
    }
    return rows, response


def _block_curves(m: Market) -> tuple[np.ndarray, np.ndarray]:
    mid, sign, kind = lobbench.touch_events(m)
    if mid.size < 2 * MIN_TOUCH_EVENTS:
        raise NotApplicable([f"at least {2 * MIN_TOUCH_EVENTS} touch events with a quoted book"])
    return lobbench.response_curves(mid, sign, kind, block=max(200, mid.size // 50))


def _curve(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    total = counts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, sums.sum(axis=0) / total, np.nan)


def _resampled(sums: np.ndarray, counts: np.ndarray, rng, n_boot: int) -> np.ndarray:
    weights = rng.multinomial(sums.shape[0], np.full(sums.shape[0], 1.0 / sums.shape[0]), size=n_boot)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights @ sums) / (weights @ counts)


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    both = np.isfinite(a) & np.isfinite(b)
    return float(np.mean(np.abs(a[both] - b[both]))) if both.any() else float("nan")


def _facts(m_real, m_syn, rng, n_boot, confidence) -> dict[str, dict[str, Fact | str]]:
    real = stylized_facts(m_real, rng=rng, n_boot=n_boot, confidence=confidence)
    synthetic = stylized_facts(m_syn, rng=rng, n_boot=n_boot, confidence=confidence)
    out: dict[str, dict[str, Fact | str]] = {}
    for name in real:
        out[name] = {
            side: v if isinstance(v, Fact) else str(v)
            for side, v in (("real", real[name]), ("synthetic", synthetic[name]))
        }
    return out


def _summary(rows: list[ScoreRow], confidence: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in ("l1", "w1"):
        scored = [r for r in rows if r.metric == metric and r.distance is not None and np.isfinite(r.distance.value)]
        if scored:
            values = np.array([r.distance.value for r in scored])
            replicates = np.array([r.distance.replicates for r in scored])
            out[metric] = {**summarise(values, replicates, confidence), "scores": len(scored)}
    return out


def _raise_if_missing(rows: list[ScoreRow], facts: dict[str, dict[str, Fact | str]]) -> None:
    missing = sorted({f"{r.quantity}: {r.reason}" for r in rows if r.distance is None})
    missing += [
        f"{name} ({side}): {v}" for name, pair in facts.items() for side, v in pair.items() if isinstance(v, str)
    ]
    if missing:
        raise DataError(f"score(strict=True): {len(missing)} measures are not applicable: " + "; ".join(missing))
