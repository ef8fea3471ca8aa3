"""The data arguments shared by every command that reads market data: a store or raw files, `--format`, `--option`.

Commands take their data as paths (a simlab store written by `simlab ingest`, or raw files) and hand them, with the
format and the parsed reader options, to :func:`simlab.io.dataset.load_dataset` (through the library function they
call), the one place that tells a store from raw files.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from simlab.errors import ParameterError

FormatOption = Annotated[
    str, typer.Option("--format", "-f", help="Format of raw input files (see `simlab formats`); a store needs none.")
]
ReaderOptions = Annotated[
    list[str],
    typer.Option("--option", help="Reader option key=value (JSON value) for raw input files; repeatable."),
]
PYTHON_CONSTANTS = {"True": True, "False": False, "None": None}
"""Python spellings accepted beside JSON's true, false and null."""
DATA_HELP = "A simlab store (`simlab ingest`) or raw data file(s) of one window (consecutive files concatenate)."


def parse_options(pairs: list[str]) -> dict[str, object]:
    """Turn ``--option key=value`` pairs into reader keyword options.

    Values are parsed as JSON (``true``, ``3``, ``[1, 2]``; also ``True``, ``False``, ``None``), else kept as text.
    """
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ParameterError(f"--option must look like key=value with a Python name as key; got {pair!r}")
        try:
            options[key] = PYTHON_CONSTANTS[value] if value in PYTHON_CONSTANTS else json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options
