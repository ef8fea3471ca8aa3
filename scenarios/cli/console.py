"""The CLI's shared console: error exits, summary tables and progress bars."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()


def fail(exc: Exception) -> NoReturn:
    """Print our error sentence whole (no wrapping) and exit with status 2."""
    console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, markup=True, highlight=False)
    raise typer.Exit(2) from exc


def print_summary(title: str, summary: dict) -> None:
    """Print a two-column table of a command's summary."""
    table = Table(title=title, show_header=False)
    for key, value in summary.items():
        table.add_row(str(key), str(value))
    console.print(table)


def progress() -> Progress:
    """Return a progress bar for long work (count of items, elapsed time)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=False)
