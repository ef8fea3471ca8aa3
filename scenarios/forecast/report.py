"""Markdown and HTML report of a forecast run: the score tables, the leakage audit and the plots.

The markdown is written first and the HTML made from it by the shared renderer
(:func:`scenarios.report_html.markdown_to_html`). Every section opens with one sentence (a paragraph of class
``about`` in the HTML) on what was done and how to read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from scenarios.forecast.paper import sensitivity_table, table4
from scenarios.forecast.protocol import ProtocolResult
from scenarios.report_html import PLOT_STYLE, markdown_table, markdown_to_html, page
from simlab.store import write_text_atomic

COLUMNS = ("mse", "mae", "r2", "directional_accuracy", "accuracy", "macro_f1", "mcc", "dm_vs_var", "dm_p_vs_var")


def scores_table(summary: dict[str, Any]) -> str:
    """Return the score table of one series (one row per model)."""
    columns = [c for c in COLUMNS if any(c in row for row in summary["scores"].values())]
    if any("gap_closed" in row for row in summary["scores"].values()):
        columns.append("gap_closed")
    rows = [[name, *[row.get(c, np.nan) for c in columns], row["seconds"]] for name, row in summary["scores"].items()]
    return markdown_table(["model", *columns, "seconds"], rows)


def audit_table(summary: dict[str, Any]) -> str:
    """Return the leakage audit table of a synthetic series."""
    rows = [
        [
            r["model"],
            r["honest"],
            r["mse"],
            r["oracle_floor"],
            r["margin_r2"],
            r["z"],
            "**LEAK**" if r["flagged"] else "",
        ]
        for r in summary["audit"]
    ]
    return markdown_table(["model", "honest", "mse", "oracle floor", "beats oracle by (R^2)", "z", "flag"], rows)


ABOUT = {
    "series": "Walk-forward forecasts of the next window's order-flow imbalance OFI = (buy - sell) / (buy + sell), "
    "scored on the test windows only: R^2 is out of sample against each fold's training mean (0: no better than "
    "that mean, 1: perfect), accuracy is on the BUY / HOLD / SELL signal, and dm_vs_var is the Diebold-Mariano "
    "statistic against VAR (negative: more accurate than VAR).",
    "audit": "The leakage audit compares every model with the oracle, which forecasts from the true intensity "
    "state and so is the best any honest model can do: a model beating it by more than z standard errors is "
    "flagged LEAK, since it must be using the window it forecasts.",
    "plot": "Left: the forecasts and the actual OFI over the last test windows; right: each model's out-of-sample "
    "R^2 (red bars: models that read the target window), with the oracle's as the dashed line.",
    "table4": "The paper's Table 4 layout: MSE, R^2 and signal accuracy of VAR, the network and both hybrid "
    "variants on every series; only the honest hybrid is a forecast, the nowcast one reads the target window.",
    "sensitivity": "Both hybrid variants over the paper's configurations (VAR lag, layers, activation, optimizer), "
    "one row each: the gap between the honest and the nowcast R^2 is what reading the target window buys.",
    "tstr": "Train on synthetic, test on real: each model is trained on the real training block, on data simulated "
    "from a Hawkes process fitted to that block, and on both, then tested on the same later real block; a "
    "TSTR / TRTR ratio near 1 means the synthetic data teaches what the real data does.",
}


def write_report(results: dict[str, ProtocolResult], summary: dict[str, Any], folder: Path, title: str) -> Path:
    """Write ``report.md``, ``report.html`` and one plot per series into ``folder``; return the markdown path.

    ``summary`` is :func:`scenarios.forecast.runner.run_spec`'s: ``series`` (scores, audit), and optionally
    ``sensitivity`` and ``tstr``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    parts = [f"# Forecast benchmark: {title}", ""]
    for name, result in results.items():
        parts += _series_section(name, summary["series"][name])
        figure = plot_series(result, folder / f"{_slug(name)}.png", name)
        parts += [ABOUT["plot"], "", f"![{name}: forecasts and R^2]({figure.name})", ""]
    parts += ["## Table 4 (the paper's layout, both hybrid variants)", "", ABOUT["table4"], "", table4(results), ""]
    if "sensitivity" in summary:
        parts += ["## Sensitivity grid of the hybrid (honest and nowcast)", "", ABOUT["sensitivity"], ""]
        parts += [sensitivity_table(summary["sensitivity"]), ""]
    if "tstr" in summary:
        parts += ["## Train on synthetic, test on real", "", ABOUT["tstr"], "", tstr_table(summary["tstr"]), ""]
    text = "\n".join(parts)
    path = folder / "report.md"
    write_text_atomic(path, text)
    write_text_atomic(folder / "report.html", page(f"Forecast benchmark: {title}", markdown_to_html(text)))
    return path


def _series_section(name: str, s: dict[str, Any]) -> list[str]:
    described = ", ".join(f"{k} {v}" for k, v in s["series"].items())
    parts = [f"## {name}", "", ABOUT["series"], "", f"Series: {described}.", "", scores_table(s), ""]
    if "audit" in s:
        check, oracle_r2 = s["oracle_check"], s["scores"]["oracle"]["r2"]
        parts += [
            "### Leakage audit",
            "",
            ABOUT["audit"],
            "",
            audit_table(s),
            "",
            f"Oracle R^2 {oracle_r2:.4f} (the table's) against its closed-form expectation given the simulated "
            f"conditional variances, {check['r2_theory']:.4f} (standard error of the difference "
            f"{check['standard_error']:.4f}).",
            "",
        ]
    else:
        parts += ["Real data: no oracle and no leakage audit (they need the true intensity state).", ""]
    return parts


def tstr_table(tstr: dict[str, Any]) -> str:
    """Return the TSTR results (per real series and model) as a markdown table."""
    header = ["series", "model", "R^2 real", "R^2 synthetic", "R^2 both", "TSTR/TRTR R^2", "TSTR/TRTR MSE"]
    rows = [
        [name, model, r["r2_real"], r["r2_synthetic"], r["r2_both"], r["tstr_trtr_r2"], r["tstr_trtr_mse"]]
        for name, item in tstr.items()
        for model, r in item["models"].items()
    ]
    return markdown_table(header, rows)


def plot_series(result: ProtocolResult, path: Path, title: str) -> Path:
    """Plot predicted vs actual OFI on the last test windows and each model's R^2 (with the oracle's as a line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = result.scores()
    window_s = result.series.get("window_s", result.series.get("bin_s", "?"))
    with matplotlib.rc_context(PLOT_STYLE):
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
        last = slice(max(0, result.actual.size - 120), result.actual.size)
        for name in ("var", "hybrid_honest", "hybrid_nowcast", "oracle", "hawkes"):
            if name in result.forecasts:
                style = "--" if name == "hybrid_nowcast" else "-"
                left.plot(result.forecasts[name][last], style, lw=1, label=name)
        left.plot(result.actual[last], "o", color="black", ms=2.5, label="actual", zorder=5)
        left.set(
            title=f"{title}: OFI, last test windows",
            xlabel=f"test window (windows of {window_s} s)",
            ylabel="OFI = (buy - sell) / (buy + sell)",
        )
        left.legend()
        names = list(scores)
        colors = ["tab:blue" if result.honest[n] else "tab:red" for n in names]
        right.barh(names, [scores[n]["r2"] for n in names], color=colors)
        if "oracle" in scores:
            right.axvline(scores["oracle"]["r2"], color="red", ls="--", label="oracle (ceiling)")
            right.legend()
        right.set(
            title="out-of-sample R^2 (red: uses the target window)",
            xlabel="R^2 against the training mean (1 = perfect, 0 = the mean)",
            ylabel="model",
            xlim=(min(-0.2, min(scores[n]["r2"] for n in names)), 1.05),
        )
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return path


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)
