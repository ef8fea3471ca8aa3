"""The CLI's shared console: error exits, summary tables and progress bars."""

from __future__ import annotations

import os
import re
from typing import Any, NoReturn

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


class _Console(Console):
    """rich's console, measured at each print: rich reads ``COLUMNS`` once, when the console is made (at import), so
    a width set later for one command (by its caller, or a test runner that sets 80 for its workers) would not apply
    and a wide table would be cut."""

    @property
    def size(self) -> ConsoleDimensions:
        columns = os.environ.get("COLUMNS", "")
        measured = super().size
        return ConsoleDimensions(int(columns), measured.height) if columns.isdigit() else measured


console = _Console()


def fail(exc: Exception) -> NoReturn:
    """Print our error sentence whole (no wrapping), in the running command's words, and exit with status 2."""
    message = cli_words(str(exc), _current_command())
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(2) from exc


_PASS = re.compile(r"\bpass (\w+)=('[^']*'|\"[^\"]*\"|[^\s;,)]+)")
_NAMED = re.compile(r"`(\w+)`")


def cli_words(message: str, command: Any) -> str:
    """Reword a library error for the command line: parameters become the command's flags.

    Library errors name parameters (`` `n_paths` ``) and keyword settings (``pass overwrite=True``). A parameter of
    ``command`` becomes its flag (``--paths``, ``--overwrite``, ``--no-rebuild-book``); a reader option of a command
    that takes ``--option`` becomes ``--option key=value``; anything else is left as the library wrote it.
    """
    if command is None:
        return message
    params = {p.name: p for p in command.params if p.name}

    def setting(match: re.Match) -> str:
        name, value = match.group(1), match.group(2).strip("'\"")
        param = params.get(name)
        if _is_option(param) and param.is_flag:
            opts = param.opts if value == "True" else param.secondary_opts
            return f"pass {_long(opts)}" if opts else match.group(0)
        if param is not None:
            return f"pass {_flag(param)} {value}"
        if "options" in params and name in _reader_option_names():
            return f"pass --option {name}={value}"
        return match.group(0)

    def named(match: re.Match) -> str:
        name = match.group(1)
        if name in params:
            return _flag(params[name])
        if "options" in params and name in _reader_option_names():
            return f"--option {name}"
        return match.group(0)

    return _NAMED.sub(named, _PASS.sub(setting, message))


def _current_command() -> Any:
    # typer >= 0.29 runs on its own copy of click (pyproject pins that range), so the context lives there
    from typer._click.globals import get_current_context

    context = get_current_context(silent=True)
    return context.command if context is not None else None


def _is_option(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def _long(opts: list[str]) -> str:
    return max(opts, key=len)


def _flag(param: Any) -> str:
    if _is_option(param):
        return _long(param.opts)
    return getattr(param, "metavar", None) or param.name.upper()


def _reader_option_names() -> set[str]:
    from simlab.io import FORMATS, reader_options

    return {name for fmt in FORMATS for name in reader_options(fmt)}


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
