"""The `simlab` command line: thin commands that each call one library function."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from scenarios.cli import amm as amm_cli
from scenarios.cli import book as book_cli
from scenarios.cli import forecast as forecast_cli
from scenarios.cli import generate as generate_cli
from scenarios.cli import hawkes as hawkes_cli
from scenarios.cli import score as score_cli
from scenarios.cli.console import console, fail, print_summary
from simlab.errors import SimlabError

app = typer.Typer(
    help="simlab: synthetic market simulator and stress-testing lab.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
calibrate_app = typer.Typer(help="Fit models to real data.", no_args_is_help=True, pretty_exceptions_enable=False)
simulate_app = typer.Typer(help="Simulate from fitted models.", no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(calibrate_app, name="calibrate")
app.add_typer(simulate_app, name="simulate")
calibrate_app.command("hawkes")(hawkes_cli.calibrate_hawkes)
simulate_app.command("hawkes")(hawkes_cli.simulate_hawkes)
simulate_app.command("book")(book_cli.simulate_book)
export_app = typer.Typer(
    help="Export stores to other tools' formats.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.add_typer(export_app, name="export")
export_app.command("lobster")(book_cli.export_lobster)
app.command("replay")(book_cli.replay)
app.command("score")(score_cli.score)
app.add_typer(forecast_cli.app, name="forecast")
app.add_typer(amm_cli.app, name="amm")
app.add_typer(generate_cli.app, name="generate")


def _options(pairs: list[str]) -> dict[str, object]:
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise SimlabError(f"--option must look like key=value with a Python name as key; got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Input file(s); several for formats that pair files.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The zarr store to write.")],
    format: Annotated[str, typer.Option("--format", "-f", help="Input format (see `simlab formats`).")] = "auto",
    option: Annotated[list[str], typer.Option("--option", help="Reader option key=value (JSON value).")] = [],  # noqa: B006
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
) -> None:
    """Read real market-data files into a validated simlab store."""
    from simlab.io import ingest as run_ingest

    try:
        summary = run_ingest(paths, output, format=format, overwrite=overwrite, **_options(option))
    except SimlabError as exc:
        fail(exc)
    print_summary(f"ingested {output}", summary)


@app.command()
def features(
    store: Annotated[Path, typer.Argument(help="A store written by `simlab ingest`.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Bars store (default STORE + .bars.zarr).")
    ] = None,
    bin: Annotated[str, typer.Option("--bin", help="Bar length, e.g. 1s, 100ms, 1min.")] = "1s",
    threshold: Annotated[float, typer.Option(help="OFI signal threshold.")] = 0.1,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing bars store.")] = False,
) -> None:
    """Compute the order-flow feature bars of an ingested store."""
    from scenarios.pipeline import features_to_store

    output = output or store.with_name(store.name.removesuffix(".zarr") + ".bars.zarr")
    try:
        summary = features_to_store(store, output, bin=bin, threshold=threshold, overwrite=overwrite)
    except SimlabError as exc:
        fail(exc)
    print_summary(f"features {output}", summary)


@app.command()
def info(store: Annotated[Path, typer.Argument(help="A simlab store.")]) -> None:
    """Describe a store: its groups, sizes, variables and provenance."""
    from scenarios.pipeline import describe_store

    try:
        description = describe_store(store)
    except SimlabError as exc:
        fail(exc)
    console.print_json(data=description)


@app.command()
def formats() -> None:
    """List the input formats `simlab ingest` reads."""
    from simlab.io import FORMATS

    table = Table("format", "reads")
    for name, spec in FORMATS.items():
        table.add_row(name, spec.description)
    console.print(table)


@app.command()
def demo(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the demo's stores and report.")] = Path(
        "outputs/demo"
    ),
    seed: Annotated[int, typer.Option(help="Root seed of the run.")] = 20240809,
    data: Annotated[Path | None, typer.Option(help="Real-data folder (default ../shared/data).")] = None,
    synthetic: Annotated[bool, typer.Option(help="Use the built-in synthetic sample even if data exist.")] = False,
) -> None:
    """Run the lab end to end on its embedded default and write a report under OUTPUT."""
    from scenarios.demo import run_demo

    try:
        report = run_demo(output, seed=seed, data_dir=data, synthetic=synthetic, console=console)
    except SimlabError as exc:
        fail(exc)
    console.print(f"[bold green]demo done[/]: report at {report}")


if __name__ == "__main__":
    app()
