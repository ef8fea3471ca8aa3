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

from simlab.metrics.lobbench import TOUCH_TYPES
from simlab.metrics.scorecard import ScoreCard
from simlab.metrics.stylized import Fact

HISTOGRAMS = (
    "spread_ticks", "imbalance_l1", "log10_interarrival_s", "log10_time_to_cancel_s", "bid_volume_l1",
    "ask_volume_l1", "limit_depth_bid", "cancel_depth_ask", "traded_volume_per_minute", "ofi_l1",
)  # fmt: skip
CURVES = (("return_acf_lag1", "returns"), ("abs_return_acf_exponent", "|returns|"), ("sign_acf_exponent", "signs"))
STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:auto;font-size:13px}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child{text-align:left}"
    ".na{color:#999}.bad{background:#fde0dc}img{max-width:100%}"
)


def write_report(card: ScoreCard, path: str | Path, *, title: str) -> Path:
    """Write the report of ``card`` to ``path`` (HTML) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style>"]
    parts.append(f"<h1>Realism scorecard: {html.escape(title)}</h1>")
    parts.append(f"<p>Convention: {html.escape(str(card.meta.get('convention', 'simlab')))} (docs/lobbench.md).</p>")
    parts.append(_summary(card))
    parts.append("<h2>Scores (99% intervals; floor: real against resampled real)</h2>" + _score_table(card))
    parts.append("<h2>Stylized facts</h2>" + _facts_table(card))
    for heading, figure in (
        ("Distributions, real against synthetic", _histograms(card)),
        ("Autocorrelations", _curves(card)),
        ("Price response of touch events", _responses(card)),
        ("Error against horizon (per window, mean over the quantities it scores)", _horizon(card)),
    ):
        if figure is not None:
            parts.append(f"<h2>{heading}</h2><img src='data:image/png;base64,{figure}'>")
    path = Path(path)
    path.write_text("\n".join(parts) + "\n")
    return path


def _summary(card: ScoreCard) -> str:
    rows = []
    for metric, table in card.summary.items():
        cells = "".join(f"<td>{_interval(table[k])}</td>" for k in ("mean", "median", "iqm"))
        rows.append(f"<tr><td>{metric} ({table['scores']} scores)</td>{cells}</tr>")
    disc = card.to_dict()["discriminative"]
    auc = _interval({"value": disc["auc"], **disc}) if isinstance(disc, dict) else html.escape(str(disc))
    meta = ", ".join(f"{k} {html.escape(str(v))}" for k, v in card.meta.items())
    head = "<tr><th></th><th>mean</th><th>median</th><th>interquartile mean</th></tr>"
    auc = f"<p>Discriminative ROC-AUC (0.5: indistinguishable): {auc}</p>"
    return f"<p>{meta}</p><table>{head}{''.join(rows)}</table>{auc}"


def _score_table(card: ScoreCard) -> str:
    head = "<tr><th>quantity</th><th>metric</th><th>score [interval]</th><th>floor [interval]</th><th>n real</th>"
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

    columns = 4
    figure, axes = plt.subplots(-(-len(names) // columns), columns, figsize=(14, 3 * -(-len(names) // columns)))
    for axis, name in zip(np.ravel(axes), names, strict=False):
        h = card.histograms[name]
        edges = np.array(h["edges"])
        for side, color in (("real", "black"), ("synthetic", "tab:red")):
            counts = np.array(h[side], dtype=float)
            axis.stairs(counts / max(counts.sum(), 1), edges, color=color, label=side)
        axis.set_title(name, fontsize=9)
    np.ravel(axes)[0].legend(fontsize=8)
    for axis in np.ravel(axes)[len(names) :]:
        axis.set_visible(False)
    return _png(figure)


def _curves(card: ScoreCard) -> str | None:
    available = [(name, label) for name, label in CURVES if all(isinstance(v, Fact) for v in card.facts[name].values())]
    if not available:
        return None
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(available), figsize=(4.5 * len(available), 3.2), squeeze=False)
    for axis, (name, label) in zip(axes[0], available, strict=True):
        for side, color in (("real", "black"), ("synthetic", "tab:red")):
            curve = card.facts[name][side].curve
            axis.plot(curve["x"], curve["y"], color=color, label=side)
        axis.set_xscale("log")
        axis.set_title(f"ACF of {label}", fontsize=9)
        axis.axhline(0, color="#999", lw=0.5)
    axes[0][0].legend(fontsize=8)
    return _png(figure)


def _responses(card: ScoreCard) -> str | None:
    if not card.response.get("lags"):
        return None
    import matplotlib.pyplot as plt

    lags = np.array(card.response["lags"])
    figure, axes = plt.subplots(1, len(TOUCH_TYPES) + 1, figsize=(20, 3), sharex=True)
    for k, name in enumerate(TOUCH_TYPES):
        for side, color in (("real", "black"), ("synthetic", "tab:red")):
            axes[k].plot(lags, np.array(card.response[side][k], dtype=float), color=color, label=side)
        axes[k].set_title(f"R(l), {name}", fontsize=9)
        axes[k].set_xscale("log")
    axes[-1].plot(lags, np.array(card.response["error_vs_lag"], dtype=float), color="tab:blue")
    axes[-1].set_title("mean |R_syn - R_real| (ticks) vs lag", fontsize=9)
    axes[0].legend(fontsize=8)
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
        axis.set_xlabel("seconds since the data start")
        axis.set_title(f"mean {metric} per window", fontsize=9)
        axis.set_ylim(bottom=0)
    return _png(figure)


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _interval(entry: dict[str, Any]) -> str:
    value, low, high = (entry.get(k, float("nan")) for k in ("value", "low", "high"))
    return f"{value:.4g} [{low:.4g}, {high:.4g}]"
