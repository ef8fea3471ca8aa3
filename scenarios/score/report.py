"""The one-page HTML report of a scorecard: summary, score table with intervals, stylized facts and plots.

Plots (matplotlib, Agg backend) are embedded as base64 PNG, so the page is one self-contained file: real against
synthetic histograms of the scored quantities, the autocorrelation curves (returns, absolute returns, trade signs)
the six touch-event response functions with the response error against lag, and the error against horizon (the
mean window-by-window distances against the time since the data start).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.report_html import PLOT_STYLE, format_interval, page
from simlab.metrics.lobbench import TOUCH_TYPES
from simlab.metrics.scorecard import ScoreCard
from simlab.metrics.stylized import Fact
from simlab.store import write_text_atomic

HISTOGRAMS = (
    "spread_ticks", "imbalance_l1", "log10_interarrival_s", "log10_time_to_cancel_s", "bid_volume_l1",
    "ask_volume_l1", "limit_depth_bid", "cancel_depth_ask", "traded_volume_per_minute", "ofi_l1",
)  # fmt: skip
UNITS = {
    "spread_ticks": "spread (ticks)",
    "imbalance_l1": "L1 imbalance (bid - ask) / (bid + ask)",
    "log10_interarrival_s": "log10 time between messages (s)",
    "log10_time_to_cancel_s": "log10 time from add to cancel (s)",
    "bid_volume_l1": "volume at the best bid (lots)",
    "ask_volume_l1": "volume at the best ask (lots)",
    "limit_depth_bid": "bid limit order distance from mid (ticks)",
    "cancel_depth_ask": "ask cancel distance from mid (ticks)",
    "traded_volume_per_minute": "volume traded per minute (lots)",
    "ofi_l1": "L1 order-flow imbalance per second (lots)",
}
CURVES = (
    ("return_acf_lag1", "1 s mid returns", "lag (s)"),
    ("abs_return_acf_exponent", "|1 s mid returns|", "lag (s)"),
    ("sign_acf_exponent", "trade signs", "lag (trades)"),
)
ABOUT = {
    "summary": "The simulated data scored against the real: each score is a distance between the two datasets' "
    "distributions of one quantity (L1 between histograms, W1 the Wasserstein distance of standardised values; 0: "
    "identical), summarised over all quantities below with {level} bootstrap intervals; the ROC-AUC says how well "
    "a classifier trained on some time blocks tells real from synthetic windows in others (0.5: it cannot).",
    "scores": "One row per quantity and distance. The floor is the same distance between the real data and a "
    "resample of itself, what sampling noise alone gives: a score whose interval overlaps the floor's cannot be "
    "told from real data; a shaded row lies above it. Intervals are {level} bootstrap intervals.",
    "facts": "Stylized facts measured on each dataset separately, each with its {level} bootstrap interval: "
    "where the two intervals overlap, the data do not tell the two values apart.",
    "histograms": "Each panel is the distribution of one quantity (share of values per bin, summing to 1) in the "
    "real data (black) and the synthetic data (red); the further apart the two lines, the larger its L1 score.",
    "curves": "Autocorrelation against lag (log scale) of returns, absolute returns and trade signs in each "
    "dataset; slowly decaying curves are the long memory real markets show.",
    "responses": "Mean signed mid move (ticks) after each of the six touch-event types, against the lag in "
    "events, in each dataset (Eisler, Bouchaud and Kockelkoren 2012); the last panel is their mean absolute "
    "difference per lag.",
    "horizon": "The mean distance over the quantities scored in each time window against the window's start: a "
    "rising line means the simulation drifts away from the real data as time goes on.",
}


def write_report(card: ScoreCard, path: str | Path, *, title: str) -> Path:
    """Write the report of ``card`` to ``path`` (HTML) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    level = f"{100 * card.meta.get('confidence', 0.99):g}%"
    parts = [f"<h1>Realism scorecard: {html.escape(title)}</h1>"]
    convention = html.escape(str(card.meta.get("convention", "simlab")))
    parts.append(f"<p>Convention: {convention} (docs/lobbench.md says what each convention defines).</p>")
    parts.append("<h2>Summary</h2>" + _about("summary", level) + _summary(card))
    parts.append(f"<h2>Scores ({level} intervals)</h2>" + _about("scores", level) + _score_table(card))
    parts.append("<h2>Stylized facts</h2>" + _about("facts", level) + _facts_table(card))
    with matplotlib.rc_context(PLOT_STYLE):
        figures = [
            ("Distributions, real against synthetic", "histograms", _histograms(card)),
            ("Autocorrelations", "curves", _curves(card)),
            ("Price response of touch events", "responses", _responses(card)),
            ("Error against horizon (per window, mean over the quantities it scores)", "horizon", _horizon(card)),
        ]
    for heading, key, figure in figures:
        if figure is not None:
            image = f"<img src='data:image/png;base64,{figure}' alt='{html.escape(heading)}'>"
            parts.append(f"<h2>{heading}</h2>{_about(key, level)}{image}")
    return write_text_atomic(path, page(f"Realism scorecard: {title}", "\n".join(parts)))


def _about(key: str, level: str) -> str:
    return f"<p class='about'>{html.escape(ABOUT[key].format(level=level))}</p>"


def _summary(card: ScoreCard) -> str:
    rows = []
    for metric, table in card.summary.items():
        cells = "".join(f"<td>{_interval(table[k])}</td>" for k in ("mean", "median", "iqm"))
        rows.append(f"<tr><td>{metric} ({table['scores']} scores)</td>{cells}</tr>")
    disc = card.to_dict()["discriminative"]
    auc = _interval({"value": disc["auc"], **disc}) if isinstance(disc, dict) else html.escape(str(disc))
    meta = ", ".join(f"{k} {html.escape(str(v))}" for k, v in card.meta.items())
    head = "<tr><th></th><th>mean</th><th>median</th><th>interquartile mean</th></tr>"
    auc = f"<p>Discriminative ROC-AUC, held-out time blocks (0.5: the classifier cannot tell them apart): {auc}</p>"
    return f"<p>{meta}</p><table>{head}{''.join(rows)}</table>{auc}"


def _score_table(card: ScoreCard) -> str:
    head = "<tr><th>quantity</th><th>metric</th><th>score [interval]</th><th>floor (real vs resampled real) "
    head += "[interval]</th><th>n real</th>"
    rows = [head + "<th>n synthetic</th></tr>"]
    for entry in card.table():
        name = f"<td>{html.escape(entry['quantity'])}</td><td>{entry['metric']}</td>"
        if entry["status"] != "ok":
            rows.append(f"<tr class='na'>{name}<td colspan='4'>{html.escape(entry['status'])}</td></tr>")
            continue
        above = entry["low"] > entry["floor_high"]
        floor = {"value": entry["floor"], "low": entry["floor_low"], "high": entry["floor_high"]}
        cells = f"<td>{_interval(entry)}</td><td>{_interval(floor)}</td><td>{entry['n_real']}</td>"
        rows.append(f"<tr{' class=bad' if above else ''}>{name}{cells}<td>{entry['n_synthetic']}</td></tr>")
    return "<table>" + "".join(rows) + "</table><p>Shaded: the score's interval lies above the floor's.</p>"


def _facts_table(card: ScoreCard) -> str:
    rows = ["<tr><th>fact</th><th>real [interval]</th><th>synthetic [interval]</th></tr>"]
    for name, pair in card.facts.items():
        cells = "".join(
            f"<td>{_interval(v.to_dict())}</td>" if isinstance(v, Fact) else f"<td class='na'>{html.escape(v)}</td>"
            for v in (pair["real"], pair["synthetic"])
        )
        rows.append(f"<tr><td>{name}</td>{cells}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _histograms(card: ScoreCard) -> str | None:
    names = [name for name in HISTOGRAMS if name in card.histograms]
    if not names:
        return None
    import matplotlib.pyplot as plt

    columns = 3
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(15, 3.6 * rows), squeeze=False)
    for axis, name in zip(np.ravel(axes), names, strict=False):
        h = card.histograms[name]
        edges = np.array(h["edges"])
        for side, color in (("real", "black"), ("synthetic", "tab:red")):
            counts = np.array(h[side], dtype=float)
            axis.stairs(counts / max(counts.sum(), 1), edges, color=color, label=side)
        axis.set(title=name, xlabel=UNITS.get(name, name), ylabel="share of values per bin")
    np.ravel(axes)[0].legend()
    for axis in np.ravel(axes)[len(names) :]:
        axis.set_visible(False)
    return _png(figure)


def _curves(card: ScoreCard) -> str | None:
    available = [curve for curve in CURVES if all(isinstance(v, Fact) for v in card.facts[curve[0]].values())]
    if not available:
        return None
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(available), figsize=(5 * len(available), 3.8), squeeze=False)
    for axis, (name, label, lag) in zip(axes[0], available, strict=True):
        for side, color in (("real", "black"), ("synthetic", "tab:red")):
            curve = card.facts[name][side].curve
            axis.plot(curve["x"], curve["y"], color=color, label=side)
        axis.set_xscale("log")
        axis.set(title=f"ACF of {label}", xlabel=lag, ylabel="autocorrelation")
        axis.axhline(0, color="#999", lw=0.5)
    axes[0][0].legend()
    return _png(figure)


def _responses(card: ScoreCard) -> str | None:
    if not card.response.get("lags"):
        return None
    import matplotlib.pyplot as plt

    lags = np.array(card.response["lags"])
    figure, axes = plt.subplots(2, 4, figsize=(16, 7), sharex=True)
    axes = np.ravel(axes)
    for k, name in enumerate(TOUCH_TYPES):
        for side, color in (("real", "black"), ("synthetic", "tab:red")):
            axes[k].plot(lags, np.array(card.response[side][k], dtype=float), color=color, label=side)
        axes[k].set(title=f"R(l) after {name}", ylabel="mean signed mid move (ticks)")
    error = len(TOUCH_TYPES)
    axes[error].plot(lags, np.array(card.response["error_vs_lag"], dtype=float), color="tab:blue")
    axes[error].set(title="mean |R_syn - R_real| over the types", ylabel="ticks")
    for axis in axes[: error + 1]:
        axis.set_xscale("log")
        axis.set_xlabel("lag l (events)")
        axis.xaxis.set_tick_params(labelbottom=True)
    for axis in axes[error + 1 :]:
        axis.set_visible(False)
    axes[0].legend()
    return _png(figure)


def _horizon(card: ScoreCard) -> str | None:
    if not card.horizon or not np.any(np.isfinite(card.horizon["mean_l1"])):
        return None
    import matplotlib.pyplot as plt

    edges = np.array(card.horizon["edges_s"])
    middle = (edges[1:] + edges[:-1]) / 2
    figure, axes = plt.subplots(1, 2, figsize=(9, 3))
    for axis, metric in zip(axes, ("l1", "w1"), strict=True):
        axis.plot(middle, card.horizon[f"mean_{metric}"], marker="o", color="tab:blue")
        axis.set(
            xlabel="window middle, seconds since the data start (s)",
            ylabel=f"mean {metric.upper()} distance",
            title=f"mean {metric.upper()} per window",
        )
        axis.set_ylim(bottom=0)
    return _png(figure)


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _interval(entry: dict[str, Any]) -> str:
    return format_interval(*(entry.get(k, float("nan")) for k in ("value", "low", "high")))
