"""The `simlab` command line: thin commands that each call one library function."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from scenarios.cli import abm as abm_cli
from scenarios.cli import amm as amm_cli
from scenarios.cli import book as book_cli
from scenarios.cli import forecast as forecast_cli
from scenarios.cli import generate as generate_cli
from scenarios.cli import hawkes as hawkes_cli
from scenarios.cli import score as score_cli
from scenarios.cli import stress as stress_cli
from scenarios.cli import sweep as sweep_cli
from scenarios.cli.console import console, fail, print_summary
from scenarios.cli.data import DATA_HELP, FormatOption, ReaderOptions, parse_options
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
calibrate_app.command("abm")(abm_cli.calibrate_abm_command)
simulate_app.command("hawkes")(hawkes_cli.simulate_hawkes)
simulate_app.command("book")(book_cli.simulate_book)
simulate_app.command("abm")(abm_cli.simulate_abm_command)
export_app = typer.Typer(
    help="Export stores to other tools' formats.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.add_typer(export_app, name="export")
export_app.command("lobster")(book_cli.export_lobster)
app.command("replay")(book_cli.replay)
app.command("score")(score_cli.score)
app.add_typer(forecast_cli.app, name="forecast")
app.add_typer(amm_cli.app, name="amm")
app.command("sweep")(sweep_cli.sweep)
app.add_typer(generate_cli.app, name="generate")
app.add_typer(stress_cli.stress_app, name="stress")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Input file(s); several for formats that pair files.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The zarr store to write.")],
    format: Annotated[str, typer.Option("--format", "-f", help="Input format (see `simlab formats`).")] = "auto",
    options: ReaderOptions = [],  # noqa: B006
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
) -> None:
    """Read real market-data files into a validated simlab store."""
    from simlab.io import ingest as run_ingest

    try:
        summary = run_ingest(paths, output, format=format, overwrite=overwrite, **parse_options(options))
    except SimlabError as exc:
        fail(exc)
    print_summary(f"ingested {output}", summary)


@app.command()
def features(
    paths: Annotated[list[Path], typer.Argument(metavar="DATA", help=DATA_HELP)],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Bars store (default STORE.bars.zarr beside a store).")
    ] = None,
    bin: Annotated[str, typer.Option("--bin", help="Bar length, e.g. 1s, 100ms, 1min.")] = "1s",
    threshold: Annotated[float, typer.Option(help="OFI signal threshold.")] = 0.1,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing bars store.")] = False,
    format: FormatOption = "auto",
    options: ReaderOptions = [],  # noqa: B006
) -> None:
    """Compute the order-flow feature bars of a store or of raw files."""
    from scenarios.pipeline import features_to_store

    try:
        summary = features_to_store(
            paths, output, bin=bin, threshold=threshold, overwrite=overwrite, format=format, **parse_options(options)
        )
    except SimlabError as exc:
        fail(exc)
    print_summary(f"features {summary.pop('output')}", summary)


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
    data_dir: Annotated[
        Path | None, typer.Option("--data", help="Real-data folder (default ../shared/data, if it is there).")
    ] = None,
    synthetic: Annotated[bool, typer.Option(help="Use the built-in synthetic sample even if data exist.")] = False,
) -> None:
    """Run the lab end to end on its embedded default and write a report under OUTPUT."""
    from scenarios.demo import run_demo

    try:
        report = run_demo(output, seed=seed, data_dir=data_dir, synthetic=synthetic, console=console)
    except SimlabError as exc:
        fail(exc)
    console.print(f"[bold green]demo done[/]: report at {report}")


if __name__ == "__main__":
    app()
