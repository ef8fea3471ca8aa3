"""`simlab stress evaluate`, `simlab stress report` and `simlab stress windows`: the stress lab's integration
commands, registered on the ``simlab stress`` sub-app (:mod:`scenarios.cli.stress`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from scenarios.cli.console import fail, print_summary
from simlab.errors import SimlabError


def stress_evaluate(
    store: Annotated[Path, typer.Argument(help="A stress store written by `simlab stress run`.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The results store (zarr) to write.")],
    forecasters: Annotated[
        str | None, typer.Option(help="Forecaster stress spec: a TOML path or a library name (stress_forecasters).")
    ] = None,
    amm: Annotated[
        str | None, typer.Option(help="AMM stress spec: a TOML path or a library name (stress_amm).")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="The real-data folder (default ../shared/data).")] = None,
    real_windows: Annotated[
        Path | None, typer.Option(help="A real stress windows store (`simlab stress windows`) for the report.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Root seed of the evaluation (default: the stress store's).")] = None,
    workers: Annotated[int, typer.Option(help="Threads re-simulating paths (the bytes do not depend on it).")] = 1,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
) -> None:
    """Run a stress store's crash through the fee designs and the forecasters and write one results store."""
    from scenarios.stress.evaluate import evaluate_store
    from simlab.store import load_store

    started = time.perf_counter()
    try:
        path = evaluate_store(store, output, forecasters=forecasters, amm=amm, data_dir=data,
                              real_windows=real_windows, seed=seed, workers=workers, overwrite=overwrite)  # fmt: skip
    except SimlabError as exc:
        fail(exc)
    summary = {"scenario": load_store(path, "paths_band").attrs["scenario"]}
    if amm is not None:
        change = load_store(path, "amm_change")["value"].sel(statistic="lp_pnl", bound="mean")
        k = int(np.argmin(change.values))
        summary["worst LP P&L change (bps)"] = f"{change.values[k]:.3g} ({change['design_short'].values[k]})"
    if forecasters is not None:
        skill = load_store(path, "forecast")["summary"].sel(metric="skill", bound="value", phase="crash")
        k = int(np.nanargmax(skill.values))
        summary["best crash skill"] = f"{skill.values[k]:.3g} ({skill['model'].values[k]})"
    summary["wall time (s)"] = round(time.perf_counter() - started, 1)
    print_summary(f"stress evaluation {path}", summary)


def stress_report(
    stores: Annotated[list[Path], typer.Argument(help="Evaluation stores written by `simlab stress evaluate`.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML report to write.")],
    forecast_run: Annotated[
        list[Path] | None,
        typer.Option(help="A forecaster stress run store (python -m scenarios.stress.forecast_runs); repeatable."),
    ] = None,
) -> None:
    """Write the HTML stress report of one or more evaluated crashes (with report.md and figures beside it)."""
    from scenarios.stress.report import write_report

    try:
        path = write_report(list(stores), output, forecast_runs=list(forecast_run or []))
    except SimlabError as exc:
        fail(exc)
    print_summary(f"stress report {path}", {"crashes": len(stores), "markdown": str(path.with_suffix(".md"))})


def stress_windows(
    output: Annotated[Path, typer.Option("-o", "--output", help="The real stress windows store (zarr) to write.")],
    data: Annotated[Path | None, typer.Option(help="The real-data folder (default ../shared/data).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
) -> None:
    """Measure the most extreme 1-, 5- and 15-min windows of every real tape (a few minutes) and store them."""
    from scenarios.stress.real_windows import real_windows, windows_dataset
    from simlab.errors import ParameterError
    from simlab.io import DEFAULT_DATA_DIR
    from simlab.store import write_store

    try:
        if output.exists() and not overwrite:
            raise ParameterError(f"--output {output} exists; pass --overwrite to replace it")
        folder = data or DEFAULT_DATA_DIR
        rows = real_windows(folder)
        path = write_store(windows_dataset(rows, {"data_dir": str(folder)}), output, overwrite=overwrite)
    except SimlabError as exc:
        fail(exc)
    print_summary(f"real stress windows {path}", {"windows": len(rows), "tapes": len({r["tape"] for r in rows})})
