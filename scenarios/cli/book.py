"""`simlab simulate book`, `simlab replay` and `simlab export lobster`: book simulation, replay and export.

``scenarios/cli.py`` registers :func:`simulate_book` as the ``book`` command of its ``simulate`` group,
:func:`replay` as the ``replay`` command and :func:`export_lobster` as the ``lobster`` command of an ``export``
group. A book store holds the groups ``events`` and ``books`` (the book after every event).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scenarios.cli.console import fail, print_summary
from simlab.errors import ParameterError, SimlabError

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
    message: Annotated[Path, typer.Argument(help="A LOBSTER message file.")],
    orderbook: Annotated[Path, typer.Argument(help="Its orderbook file (start state and reference).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The zarr store to write (events, books).")],
    engine: Annotated[
        str, typer.Option(help="levels: the price-level replay (replay_lobster); orders: the matching engine.")
    ] = "levels",
    reveal: Annotated[bool, typer.Option(help="levels: take levels entering the window from the file.")] = True,
    depth: Annotated[int, typer.Option(help="orders: book levels to write.")] = 10,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
) -> None:
    """Replay a LOBSTER message file and write the events and the replayed books; compare with the orderbook file."""
    try:
        events, books, summary = _replay(message, orderbook, engine, reveal, depth)
        from simlab.store import write_store

        write_store({"events": events, "books": books}, output, overwrite=overwrite)
    except SimlabError as exc:
        fail(exc)
    print_summary(f"replayed {output}", summary)


def _replay(message: Path, orderbook: Path, engine: str, reveal: bool, depth: int):
    from simlab.book import match_events
    from simlab.io.lobster import compare_books, read_lobster, replay_lobster

    if engine not in ("levels", "orders"):
        raise ParameterError(f"--engine must be 'levels' or 'orders'; got {engine!r}")
    data = read_lobster(message, orderbook)
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


def export_lobster(
    store: Annotated[Path, typer.Argument(help="A store with `events` and `books` groups (simulate book, replay).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder of the message and orderbook files.")],
    ticker: Annotated[str | None, typer.Option(help="Ticker in the file names (default: the instrument).")] = None,
    date: Annotated[str | None, typer.Option(help="Trading day YYYY-MM-DD (default: from the events).")] = None,
    levels: Annotated[int | None, typer.Option(help="Levels in the orderbook file (default: the books').")] = None,
) -> None:
    """Write a book store as a LOBSTER message file and orderbook file."""
    from simlab.book.export import export_lobster as export
    from simlab.store import list_groups, load_store

    try:
        groups = list_groups(store)
        if not {"events", "books"} <= set(groups):
            raise ParameterError(f"store {store} needs the groups 'events' and 'books'; it has {groups}")
        events, books = load_store(store, "events"), load_store(store, "books")
        paths = export(events, books, output, ticker=ticker, date=date, levels=levels)
    except SimlabError as exc:
        fail(exc)
    print_summary(f"exported {store}", {"message": paths[0], "orderbook": paths[1], "rows": events.sizes["event"]})
