"""`simlab simulate book`, `simlab replay` and `simlab export lobster`: book simulation, replay and export.

``scenarios/cli/__init__.py`` registers :func:`simulate_book` as the ``book`` command of its ``simulate`` group,
:func:`replay` as the ``replay`` command and :func:`export_lobster` as the ``lobster`` command of an ``export``
group. A book store holds the groups ``events`` and ``books`` (the book after every event).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scenarios.cli.console import fail, print_summary
from scenarios.cli.data import FormatOption, ReaderOptions, parse_options
from simlab.errors import DataError, ParameterError, SimlabError

BOOK_MODELS = ("zi", "qr", "hawkes")


def simulate_book(
    preset: Annotated[
        str,
        typer.Argument(
            help="A book preset TOML file or a shipped one's name (zi-amzn, qr-amzn, zi-aapl, qr-aapl, hawkes-aapl)."
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The zarr store to write (events, books).")],
    model: Annotated[
        str | None,
        typer.Option("--model", help="zi, qr or hawkes; checked against the preset's model (default: its own)."),
    ] = None,
    duration: Annotated[str, typer.Option(help="Length of the simulation, e.g. 30min, 6.5h.")] = "30min",
    seed: Annotated[int, typer.Option(help="Root seed of the run.")] = 0,
    depth: Annotated[int | None, typer.Option(help="Book levels of a zero-intelligence or Hawkes-driven run.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
) -> None:
    """Simulate a book from a zero-intelligence, queue-reactive or Hawkes-driven preset into a store."""
    from calibration.book_presets import load_book_preset, simulate_book_preset
    from simlab.store import write_store
    from simlab.times import parse_duration_ns

    try:
        book_preset = load_book_preset(preset)
        if model is not None and model != book_preset.model:
            raise ParameterError(
                f"--model {model!r} does not match preset {book_preset.name}, whose model is {book_preset.model!r}"
                f" (models here: {BOOK_MODELS})"
            )
        duration_s = parse_duration_ns(duration) / 1e9
        result = simulate_book_preset(book_preset, duration_s, rng=seed, depth=depth)
        write_store(result, output, attrs={"preset": book_preset.name, "seed": seed}, overwrite=overwrite)
    except SimlabError as exc:
        fail(exc)
    events, books = result["events"], result["books"]
    print_summary(
        f"simulated {output}",
        {
            "preset": f"{book_preset.name} ({book_preset.model})",
            "duration (s)": duration_s,
            "events": events.sizes["event"],
            "book rows x levels": f"{books.sizes['time']} x {books.sizes['level']}",
        },
    )


def replay(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="DATA",
            help="A store of an ingested LOBSTER pair, or a LOBSTER message file then its orderbook file.",
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The zarr store to write (events, books).")],
    engine: Annotated[
        str, typer.Option(help="levels: the price-level replay (replay_lobster); orders: the matching engine.")
    ] = "levels",
    reveal: Annotated[bool, typer.Option(help="levels: take levels entering the window from the file.")] = True,
    depth: Annotated[int, typer.Option(help="orders: book levels to write.")] = 10,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
    options: ReaderOptions = [],  # noqa: B006
) -> None:
    """Replay LOBSTER messages and write the events and the replayed books; compare with the orderbook file."""
    try:
        events, books, summary = _replay(paths, engine, reveal, depth, parse_options(options))
        from simlab.store import write_store

        write_store({"events": events, "books": books}, output, overwrite=overwrite)
    except SimlabError as exc:
        fail(exc)
    print_summary(f"replayed {output}", summary)


def _replay(paths: list[Path], engine: str, reveal: bool, depth: int, options: dict):
    from simlab.book import match_events
    from simlab.io.dataset import load_dataset
    from simlab.io.lobster import compare_books, replay_lobster

    if engine not in ("levels", "orders"):
        raise ParameterError(f"--engine must be 'levels' or 'orders'; got {engine!r}")
    if len(paths) == 2 and all(p.is_file() for p in paths):
        _check_lobster_order(*paths)
    data = load_dataset(paths, **options)
    if "books" not in data:
        names = [p.name for p in paths]
        raise DataError(f"{names}: replay needs LOBSTER messages and their orderbook file (or a store of both)")
    events, reference = data["events"], data["books"]
    summary: dict[str, object] = {"messages": events.sizes["event"], "engine": engine}
    if engine == "levels":
        books = replay_lobster(events, reference, reveal=reveal)
        summary.update(compare_books(books, reference))
        return events, books, summary
    result = match_events(events, depth=depth, trades="resting", unknown="count")
    books = result["books"]
    counts = {k: v for k, v in books.attrs.items() if k.startswith("unknown_") or k == "skipped_no_book_effect"}
    summary.update(counts, executions=result["events"].sizes["event"])
    return events, books, summary


def _check_lobster_order(message: Path, orderbook: Path) -> None:
    """Raise when the two LOBSTER files come in the wrong order (by their names' roles or their field counts)."""
    from simlab.io.lobster import parse_lobster_name

    roles = [parse_lobster_name(p).get("role") for p in (message, orderbook)]
    fields = [_fields(p) for p in (message, orderbook)]
    looks_swapped = (
        fields[0] > 0 and fields[0] % 4 == 0 and fields[1] == 6
    )  # a message line has 6 fields, a book line 4 per level
    if roles[0] == "orderbook" or roles[1] == "message" or looks_swapped:
        raise ParameterError(
            f"the two files are swapped: {message.name} is an orderbook file ({fields[0]} fields a line) and "
            f"{orderbook.name} a message file ({fields[1]} fields); pass the message file first, then the orderbook"
        )


def _fields(path: Path) -> int:
    """Count the fields of the first line of a (plain, .gz or .zip) CSV file; -1 when it cannot be read."""
    import gzip
    import zipfile

    try:
        line = _first_line(path, gzip, zipfile)
    except (OSError, EOFError, zipfile.BadZipFile, IndexError):
        return -1
    return line.count(",") + 1


def _first_line(path: Path, gzip, zipfile) -> str:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rt", errors="replace") as handle:
            line = handle.readline()
    elif path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive, archive.open(archive.namelist()[0]) as handle:
            line = handle.readline().decode(errors="replace")
    else:
        with path.open(errors="replace") as handle:
            line = handle.readline()
    return line


def export_lobster(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="DATA",
            help="A store with events and books (simulate book, replay, ingest) or raw files with books.",
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder of the message and orderbook files.")],
    ticker: Annotated[str | None, typer.Option(help="Ticker in the file names (default: the instrument).")] = None,
    date: Annotated[str | None, typer.Option(help="Trading day YYYY-MM-DD (default: from the events).")] = None,
    levels: Annotated[int | None, typer.Option(help="Levels in the orderbook file (default: the books').")] = None,
    format: FormatOption = "auto",
    options: ReaderOptions = [],  # noqa: B006
) -> None:
    """Write the events and books of a store (or of raw files) as a LOBSTER message file and orderbook file."""
    from simlab.book.export import export_lobster as export
    from simlab.io.dataset import load_dataset

    try:
        data = load_dataset(paths, format=format, **parse_options(options))
        if "books" not in data:
            raise DataError(f"{[p.name for p in paths]} hold no books; export needs events and books")
        paths_written = export(data["events"], data["books"], output, ticker=ticker, date=date, levels=levels)
    except SimlabError as exc:
        fail(exc)
    rows = data["events"].sizes["event"]
    print_summary("exported", {"message": paths_written[0], "orderbook": paths_written[1], "rows": rows})
