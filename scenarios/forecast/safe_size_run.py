"""Run a ``[safe_size]`` forecast spec (``simlab forecast run SPEC``): the safe order size task of
:mod:`scenarios.forecast.safe_size_task` in an agent market, written as a store and a report.

The store holds one group ``safe_size``: the task's inputs, realised labels and book walk at arrival over
``(market, origin)``, with the seed, the spec and the scores in its attributes; the report folder beside it holds
``report.md`` and ``report.html``. The root seed of ``[run]`` is the seed of every simulated market (market ``k`` is
``simulate_abm(config, seed=seed, market=k)``), so one seed gives the same store data byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.forecast.safe_size import ImpactSetup
from scenarios.forecast.safe_size_task import FEATURES, score_task, task_rows
from scenarios.forecast.spec import ForecastSpec, SafeSizeSpec
from scenarios.report_html import markdown_table, markdown_to_html, page
from simlab.provenance import provenance
from simlab.store import write_store, write_text_atomic

FORECASTERS = ("persistence", "least_squares", "prior", "walk_at_arrival")


def market_config(market: str) -> tuple[Any, Path]:
    """Return the agent market config named by ``market`` (an ABM preset name or a config TOML path) and its
    file."""
    from calibration.abm import load_abm_preset
    from calibration.presets import PRESET_DIR

    path = Path(market)
    if not path.suffix:
        path = PRESET_DIR / f"{market}.toml"
    return load_abm_preset(path)[0], path


def run_safe_size_spec(spec: ForecastSpec, output: Path, *, overwrite: bool = False) -> dict[str, Any]:
    """Simulate the ``[safe_size]`` task of ``spec``, score it, write the store ``output`` and its report folder.

    Returns
    -------
    dict
        ``store``, ``report``, ``task`` (its settings), ``scores`` (:func:`score_task`) and ``headline`` (rows for
        the CLI: each forecaster's MSE in grid steps squared with its standard error and the DM test against
        persistence).
    """
    task: SafeSizeSpec = spec.safe_size  # type: ignore[assignment]
    config, path = market_config(task.market)
    setup = ImpactSetup(config, duration_s=task.duration_s, horizons_s=(task.horizon_s,), side=task.side)
    rows = task_rows(setup, seed=spec.run.seed, markets=task.markets, origins_s=np.asarray(task.origins_s, float),
                     lead_s=task.lead_s, bound_ticks=task.bound_ticks, horizon_s=task.horizon_s,
                     grid=tuple(task.grid))  # fmt: skip
    scores = score_task(rows, task.train_markets)
    attrs = provenance(seed=spec.run.seed, config=spec.model_dump(mode="json"), sources=[path])
    attrs["summary"] = json.dumps(scores, default=float)
    output = Path(output)
    write_store({"safe_size": rows}, output, attrs=attrs, overwrite=overwrite)
    folder = output.parent / f"{output.name.removesuffix('.zarr')}_report"
    report = write_safe_size_report(scores, task, config.name, folder, spec.run.name, spec.run.seed)
    settings = {"name": "safe_size", **task.model_dump(mode="json")}
    return {"store": str(output), "report": str(report), "task": settings, "scores": scores,
            "headline": headline(scores)}  # fmt: skip


def headline(scores: dict[str, Any]) -> dict[str, str]:
    """Return one CLI row per forecaster: MSE (grid steps squared) +- s.e., and the DM test against persistence."""
    rows = {}
    for name in FORECASTERS:
        row = scores[name]
        text = f"mse {row['mse']:.3f} +- {row['mse_se']:.3f}"
        if "dm_vs_persistence" in row:
            text += f", DM {row['dm_vs_persistence']:.2f} (p {row['dm_p_vs_persistence']:.3g})"
        rows[name] = text
    rows["test origins"] = str(scores["test_origins"])
    return rows


def write_safe_size_report(scores: dict[str, Any], task: SafeSizeSpec, market: str, folder: Path, title: str,
                           seed: int) -> Path:  # fmt: skip
    """Write ``report.md`` and ``report.html`` of a safe size run into ``folder``; return the markdown path."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [[name, scores[name]["mse"], scores[name]["mse_se"], scores[name]["mae"],
             scores[name].get("dm_vs_persistence", np.nan), scores[name].get("dm_p_vs_persistence", np.nan)]
            for name in FORECASTERS]  # fmt: skip
    counts = [[j, task.grid[j - 1] if j else "none", n] for j, n in enumerate(scores["label_counts"])]
    coefficients = [[name, value] for name, value in scores["coefficients"].items()]
    parts = [
        f"# Safe order size forecast: {title}",
        "",
        f"The realised safe size (grid steps: how many sizes of {list(task.grid)} lots come before the first whose "
        f"paired impact {task.horizon_s:g} s after arrival exceeds {task.bound_ticks:g} ticks) of a "
        f"{'buy' if task.side > 0 else 'sell'} order arriving {task.lead_s:g} s after each origin, forecast from the "
        f"book at the origin, in the agent market {market!r} (seed {seed}, {task.markets} sessions of "
        f"{task.duration_s:g} s, origins {task.origins_s} s).",
        "",
        "## Scores",
        "",
        f"Each forecaster's error on the {scores['test_origins']} test origins (markets {task.train_markets} to "
        f"{task.markets - 1}; {scores['train_origins']} training origins before them), in grid steps: MSE with its "
        "Newey-West standard error, MAE, and the Diebold-Mariano statistic against persistence (negative: a smaller "
        "squared error than the book walk at the origin). walk_at_arrival walks the book the order meets and is "
        "not a forecast. Scores whose intervals overlap are indistinguishable.",
        "",
        markdown_table(["forecaster", "MSE", "s.e.", "MAE", "DM vs persistence", "p"], rows),
        "",
        "## Test labels",
        "",
        "How many test origins have each realised safe size (grid steps, and the largest safe size in lots).",
        "",
        markdown_table(["grid steps", "safe size (lots)", "origins"], counts),
        "",
        "## Least squares coefficients",
        "",
        f"The fitted coefficients on the standardised inputs {list(FEATURES)} (grid steps per standard deviation).",
        "",
        markdown_table(["input", "coefficient"], coefficients),
        "",
    ]
    markdown = "\n".join(parts)
    path = folder / "report.md"
    write_text_atomic(path, markdown)
    write_text_atomic(folder / "report.html", page(title, markdown_to_html(markdown)))
    return path
