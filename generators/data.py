"""Real flows for the generators: LOBSTER files read with their books, and the split by time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from simlab.errors import DataError, ParameterError
from simlab.io.lobster import read_lobster, replay_lobster

SPANS = ("train", "validation", "test")


def read_flow(message_path: str | Path, book_paths: tuple[str | Path, ...] = ()) -> dict[str, xr.Dataset]:
    """Read a LOBSTER message file with the book after each message.

    Parameters
    ----------
    message_path
        A LOBSTER message file.
    book_paths
        Either its orderbook file (one path: the books are read from it), or the (message, orderbook) files of the
        same day whose first book row follows the same first message, to start a replay of a deeper message file
        (the AAPL level-50 hour started from the level-10 first rows; its first message is then the anchor of the
        replay and is left out). Anything else is refused.

    Returns
    -------
    dict
        ``events`` and ``books`` (the book after each event). The books of a replay also carry ``bid_determined``
        and ``ask_determined`` (bool over ``(time, level)``, from :func:`simlab.io.lobster.replay_lobster`): True
        where the messages determine the cell. A level the messages never showed reads as 0 lots there but is
        *unknown*, not empty; the scorecard reads the masks with ``known_depth=True``
        (:func:`generators.evaluation.realism` does). Books read from an orderbook file carry no masks: every cell
        is known.
    """
    paths = tuple(Path(p) for p in book_paths)
    if len(paths) == 1:
        data = read_lobster(message_path, paths[0])
        return {"events": data["events"], "books": data["books"]}
    if len(paths) != 2:
        raise ParameterError(
            f"read_flow needs the orderbook file or the (message, orderbook) start files beside {Path(message_path)};"
            f" got {len(paths)} paths"
        )
    events = read_lobster(message_path)["events"].isel(event=slice(1, None))
    start = read_lobster(*paths)["books"].isel(time=slice(0, 1))
    levels = int(events.attrs.get("levels") or 0) or None
    books = replay_lobster(events, initial_book=start, levels=levels)
    return {"events": events, "books": books}


def split_by_time(
    events: xr.Dataset, books: xr.Dataset, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
) -> dict[str, dict[str, xr.Dataset]]:
    """Cut a flow into consecutive train, validation and test spans by time (fractions of its duration).

    Returns ``{"train": {"events", "books"}, "validation": ..., "test": ...}``; each span's first event is its
    anchor, so no message belongs to two spans.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1.0) > 1e-9:
        raise ParameterError(f"`fractions` of split_by_time must be 3 numbers > 0 summing to 1; got {fractions}")
    ts = events["ts_ns"].values
    if ts.shape[0] != books.sizes.get("time"):
        raise DataError(f"split_by_time: books must hold one row per event ({ts.shape[0]}); got {books.sizes}")
    cuts = ts[0] + (ts[-1] - ts[0]) * np.cumsum((0.0,) + fractions)
    bounds = np.searchsorted(ts, cuts[1:-1], side="left")
    edges = [0, *[int(b) for b in bounds], ts.shape[0]]
    return {
        name: {"events": events.isel(event=slice(a, b)), "books": books.isel(time=slice(a, b))}
        for name, a, b in zip(SPANS, edges[:-1], edges[1:], strict=True)
    }
