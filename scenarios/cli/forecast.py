"""`simlab forecast run SPEC.toml -o STORE`: the order-flow forecasting benchmark (``scenarios/cli/__init__.py``
registers this group)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scenarios.cli.console import console, fail, print_summary
from simlab.errors import SimlabError
from simlab.io import DEFAULT_DATA_DIR

app = typer.Typer(help="Order-flow forecasting benchmark.", no_args_is_help=True, pretty_exceptions_enable=False)
DEFAULT_DATA = DEFAULT_DATA_DIR


@app.command("run")
def run(
    spec: Annotated[str, typer.Argument(help="A spec TOML file or the name of one in scenarios/library/.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The zarr store to write (report beside it).")],
    data_dir: Annotated[Path, typer.Option(help="Folder the spec's real files are relative to.")] = DEFAULT_DATA,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
    workers: Annotated[
        int | None, typer.Option(help="Run the sensitivity grid on a local Dask cluster of N worker processes.")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Run the sensitivity grid on the running Dask scheduler at tcp://HOST:PORT.")
    ] = None,
) -> None:
    """Run the walk-forward benchmark of a spec and write its store and report (the paper's sensitivity grid, when
    the spec asks for it, in process or with --workers / --scheduler on the sweep runner's Dask cluster)."""
    from scenarios.forecast.runner import run_spec
    from scenarios.forecast.spec import load_spec

    try:
        loaded = load_spec(spec)
        with console.status("forecasting ...") as status:
            summary = run_spec(
                loaded,
                output,
                data_dir=data_dir,
                overwrite=overwrite,
                workers=workers,
                scheduler=scheduler,
                progress=lambda series, model, fold: status.update(f"{series}: {model} fold {fold}"),
            )
    except SimlabError as exc:
        fail(exc)
    rows = {"store": summary["store"], "report": summary["report"]}
    if "headline" in summary:  # a book task
        names = [summary["task"]["name"]] if "task" in summary else list(summary["tasks"])
        print_summary(f"forecast {loaded.run.name}: task {', '.join(names)}", {**rows, **summary["headline"]})
        return
    for name, item in summary["series"].items():
        scores = item["scores"]
        best = max((n for n in scores if n != "oracle" and scores[n]["honest"]), key=lambda n: scores[n]["r2"])
        rows[f"{name}: best honest R^2"] = f"{best} {scores[best]['r2']:.4f}"
        if "hybrid_nowcast" in scores:
            rows[f"{name}: nowcast hybrid R^2"] = round(scores["hybrid_nowcast"]["r2"], 4)
        if "audit" in item:
            flagged = [r["model"] for r in item["audit"] if r["flagged"]]
            rows[f"{name}: oracle R^2"] = round(scores["oracle"]["r2"], 4)
            rows[f"{name}: flagged by the audit"] = ", ".join(flagged) or "none"
    print_summary(f"forecast {loaded.run.name}", rows)
