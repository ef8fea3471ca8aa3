"""Markdown and HTML report of a forecast run: the score tables, the leakage audit and the plots."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.forecast.paper import sensitivity_table, table4
from scenarios.forecast.protocol import ProtocolResult
from scenarios.forecast.tables import markdown_table

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
        parts += [f"![{name}]({figure.name})", ""]
    parts += ["## Table 4 (the paper's layout, both hybrid variants)", "", table4(results), ""]
    if "sensitivity" in summary:
        parts += ["## Sensitivity grid of the hybrid (honest and nowcast)", ""]
        parts += [sensitivity_table(summary["sensitivity"]), ""]
    if "tstr" in summary:
        parts += ["## Train on synthetic, test on real", ""] + [tstr_table(summary["tstr"]), ""]
    text = "\n".join(parts)
    path = folder / "report.md"
    path.write_text(text)
    (folder / "report.html").write_text(_html(text, title))
    return path


def _series_section(name: str, s: dict[str, Any]) -> list[str]:
    parts = [f"## {name}", "", "Series: " + ", ".join(f"{k} {v}" for k, v in s["series"].items()), ""]
    parts += [scores_table(s), ""]
    if "audit" in s:
        check = s["oracle_check"]
        parts += [
            "Leakage audit (a model beating the oracle by more than z standard errors is flagged):",
            "",
            audit_table(s),
            "",
            f"Oracle R^2 {check['r2_oracle']:.4f} vs 1 - E[Var(OFI|state)]/Var(OFI) = {check['r2_theory']:.4f} "
            f"(standard error {check['standard_error']:.4f}).",
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
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    last = slice(max(0, result.actual.size - 120), result.actual.size)
    for name in ("var", "hybrid_honest", "hybrid_nowcast", "oracle", "hawkes"):
        if name in result.forecasts:
            style = "--" if name == "hybrid_nowcast" else "-"
            left.plot(result.forecasts[name][last], style, lw=1, label=name)
    left.plot(result.actual[last], "o", color="black", ms=2.5, label="actual", zorder=5)
    left.set(title=f"{title}: OFI, last test windows", xlabel="window", ylabel="OFI")
    left.legend(fontsize=7)
    names = list(scores)
    colors = ["tab:blue" if result.honest[n] else "tab:red" for n in names]
    right.barh(names, [scores[n]["r2"] for n in names], color=colors)
    if "oracle" in scores:
        right.axvline(scores["oracle"]["r2"], color="red", ls="--", label="oracle (ceiling)")
        right.legend(fontsize=7)
    right.set(
        title="out-of-sample R^2 (red: uses the target window)",
        xlim=(min(-0.2, min(scores[n]["r2"] for n in names)), 1.05),
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _html(markdown: str, title: str) -> str:
    body = []
    for line in markdown.splitlines():
        if line.startswith("|---"):
            continue
        if line.startswith("| "):
            cells = "".join(f"<td>{html.escape(c.strip())}</td>" for c in line.strip("|").split("|"))
            body.append(f"<tr>{cells}</tr>")
        elif line.startswith("!["):
            src = line[line.index("(") + 1 : -1]
            body.append(f'<img src="{html.escape(src)}">')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    text = "\n".join(body).replace("</p>\n<tr>", "</p>\n<table>\n<tr>").replace("</tr>\n<p>", "</tr>\n</table>\n<p>")
    text = text.replace("</tr>\n<img", "</tr>\n</table>\n<img").replace("</tr>\n<h", "</tr>\n</table>\n<h")
    head = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
    return f"{head}<body>\n{text}\n</body></html>\n"
