"""Hidden depth for books recorded through a narrow window: the levels a level-N LOBSTER file does not show.

A level-N LOBSTER file (the AMZN day is level 1) records only the messages that touch the first N levels of each
side, and its books show only those levels. When a message empties a level, the level behind it moves into the
window: the next book row shows a level that no recorded message placed (a **reveal**). A rollout started from such
a book holds only the N visible levels, so emptying the best empties the whole side, which never happens in the
real data. Its books would be one-sided about half the time.

:func:`reveal_law` measures every reveal of the training span: how many ticks behind the old N-th level the new
one sits (the gap) and how many lots it holds. It is fitted with the model and saved with its context.
:func:`with_hidden_depth` gives the sampling context's start book :data:`HIDDEN_LEVELS` levels behind the
visible ones, each gap and size drawn from that law, so that the engine reveals a level when the flow empties one,
as the real book did. The hidden orders are initial orders of every path (ADDs before its first message, which the
scorecard leaves out). The network never sees them: the book state it reads stops at the levels that varied in
training (:meth:`generators.encoding.Encoding.book`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from generators import encoding as enc
from simlab.schema import NO_PRICE

HIDDEN_LEVELS = 50
MAX_REVEALS = 4096  # reveals kept per side (evenly spaced in time)


def window_levels(events: xr.Dataset) -> int | None:
    """Return N for events read from a level-N LOBSTER file (attributes ``format`` and ``levels``), else None."""
    attrs = events.attrs
    return int(attrs["levels"]) if attrs.get("format") == "lobster" and attrs.get("levels") else None


def reveal_law(events: xr.Dataset, books: xr.Dataset) -> dict[str, Any] | None:
    """Return the reveals of a span recorded through a window narrower than the encoding's book (else None).

    Returns
    -------
    dict or None
        ``window_levels`` (N) and, per side (``bid``, ``ask``), ``[gap_ticks, qty_lots]`` pairs: at every row where
        the N-th level moved away from the spread to a price no message of that row named. None when the data
        are not a level-N LOBSTER file with N < :data:`generators.encoding.DEPTH_LEVELS`, or show no reveal.
    """
    levels = window_levels(events)
    if levels is None or levels >= enc.DEPTH_LEVELS or books.sizes["level"] < levels:
        return None
    price = events["price_ticks"].values[1:]
    out: dict[str, Any] = {"window_levels": levels}
    for sign, name in ((1, "bid"), (-1, "ask")):
        p, q = books[f"{name}_price"].values[:, levels - 1], books[f"{name}_qty"].values[:, levels - 1]
        moved = (q[:-1] > 0) & (q[1:] > 0) & (sign * (p[:-1] - p[1:]) > 0) & (price != p[1:])
        rows = np.flatnonzero(moved)
        rows = rows[np.linspace(0, rows.size - 1, min(rows.size, MAX_REVEALS)).astype(np.int64)] if rows.size else rows
        out[name] = np.stack([sign * (p[rows] - p[rows + 1]), q[rows + 1]], axis=1).astype(int).tolist()
    return out if out["bid"] and out["ask"] else None


def with_hidden_depth(context: dict[str, Any], law: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Return the context with :data:`HIDDEN_LEVELS` hidden levels per side behind its start book's visible ones.

    Parameters
    ----------
    context
        The sampling context (``books`` int64 ``(rows, 4, levels)``; the last row starts the engine).
    law
        :func:`reveal_law` of the training span.
    rng
        Draws the gaps and sizes (one draw of each per hidden level, the bids first).
    """
    books = np.asarray(context["books"], np.int64)
    levels = int(law["window_levels"])
    out = np.zeros((books.shape[0], 4, levels + HIDDEN_LEVELS), np.int64)
    out[:, [0, 2]] = NO_PRICE
    out[:, :, :levels] = books[:, :, :levels]
    start = out[-1]
    for sign, row, name in ((1, 0, "bid"), (-1, 2, "ask")):
        pairs = np.asarray(law[name], np.int64)
        draws = pairs[rng.integers(0, pairs.shape[0], HIDDEN_LEVELS)]
        quoted = np.flatnonzero(start[row + 1, :levels] > 0)
        if not quoted.size:
            continue  # an empty side stays empty: no level to hide anything behind
        last = start[row, quoted[-1]]
        start[row, levels:] = last - sign * np.cumsum(draws[:, 0])
        start[row + 1, levels:] = draws[:, 1]
    return {**context, "books": out}
