"""Start states for sampling in a regime: real windows of the training span whose measured regime is the asked one.

A regime (volatility, depth, ...) is a **state**: volatility clusters and depth persists, so a path asked for a
stress regime and started from the model's one context book (the end of the validation span, whatever its regime)
spends its first few hundred messages getting there, if it does. :func:`draw_starts` instead starts each path from
its own window of the training span: the ``rows`` messages and books that end at a book row whose **past** regime
(measured by :func:`generators.encoding.regime_values` over the :data:`generators.encoding.REGIME_WINDOW` book
rows that end there, in the quintiles of the training data) is the asked one. The path's own flow is then wholly
generated: the regime measured on a sampled path (:func:`generators.evaluation.path_regime`) reads only book rows
from the start book on, so a start in the regime does not make the measured regime true by construction; it asks
whether the model's rollout *stays* there.

:func:`start_windows` measures every candidate row once (those with both sides quoted on the model's levels, after
enough history); :func:`draw_starts` draws ``n_paths`` of the rows that match (all of them for ``mode="random"``,
the baseline), at least a regime window apart when there are enough, from a seeded generator, and records which.
:func:`real_shares` gives the ceiling a start alone can reach: how often the real flow that followed such starts
was in the asked quintile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from generators import encoding as enc
from generators.base import _context_end, context_window
from simlab.errors import DataError, ParameterError
from simlab.schema import BOOK_FIELDS, EventKind

START_MODES = ("context", "random", "regime")  # the model's one context, any training window, one in the regime


@dataclass(frozen=True)
class StartWindows:
    """The candidate start rows of a span and the regime of the window that ends at each.

    Attributes
    ----------
    span
        The span's ``(events, books)``.
    encoding
        The model's encoding (its quintile edges).
    table
        Its integer messages (:func:`generators.encoding.message_table`).
    rows
        Messages of history a start keeps (the model's ``max(history, FLOW_WINDOW)``).
    ends
        int64 ``(m,)``: the candidate book rows (quoted on both sides, with ``rows`` and a regime window before).
    past
        float64 ``(m, 4)``: the regime measures over the :data:`generators.encoding.REGIME_WINDOW` rows ending at
        each candidate; ``quintiles`` int64 ``(m, 4)`` their quintile index 0-4 in the training data.
    """

    span: tuple[xr.Dataset, xr.Dataset]
    encoding: enc.Encoding
    table: np.ndarray
    rows: int
    ends: np.ndarray
    past: np.ndarray
    quintiles: np.ndarray


def start_windows(
    events: xr.Dataset, books: xr.Dataset, encoding: enc.Encoding, *, source: str = "train span"
) -> StartWindows:
    """Measure the past regime of every candidate start row of a span (see the module docstring).

    Parameters
    ----------
    events, books
        The span (the model's training span: its quintiles are the model's).
    encoding
        The model's encoding (history length, quintile edges, levels).
    source
        Names the span in error messages.
    """
    events, books = encoding.span(events, books)  # fills merged into orders with trade_message "order"
    table = enc.message_table(
        events,
        books,
        source=source,
        cancel_position=encoding.cancel_position,
        beyond_lots=encoding.beyond_lots,
        beyond_ticks=encoding.beyond_ticks,
        add_price=encoding.add_price,
    ).table
    rows = max(encoding.history, enc.FLOW_WINDOW)
    arrays = tuple(books[name].values[:, : encoding.book_levels] for name in BOOK_FIELDS)
    forward = enc.regime_values(arrays)  # row i: over rows i .. i + REGIME_WINDOW
    first = max(rows, enc.REGIME_WINDOW)
    quoted = _quoted(arrays)
    quoted[:first] = False
    ends = np.flatnonzero(quoted)
    if not ends.size:
        raise DataError(
            f"{source}: no book row quoted on both sides after {first} rows to start a path from (of {quoted.size})"
        )
    past = forward[ends - enc.REGIME_WINDOW]
    return StartWindows((events, books), encoding, table, rows, ends, past, encoding.quintiles(past))


def matching(windows: StartWindows, regime: dict[str, int] | None) -> np.ndarray:
    """Return the candidate rows whose past regime is in every asked quintile (all of them for no regime)."""
    asked = enc.regime_condition(regime, source="regime of the start windows")
    keep = np.ones(windows.ends.shape[0], bool)
    for j in np.flatnonzero(asked != enc.NULL_REGIME):
        keep &= windows.quintiles[:, j] == asked[j]
    return windows.ends[keep]


def draw_starts(
    windows: StartWindows,
    regime: dict[str, int] | None,
    n_paths: int,
    *,
    seed: int,
    mode: str = "regime",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Draw one start window per path; return the starts (for ``sample(starts=...)``) and the record of the draw.

    Parameters
    ----------
    windows
        :func:`start_windows` of the training span.
    regime
        Quintiles 1-5 by name; the starts' past regime is in every asked quintile (``mode="regime"``).
    n_paths
        Starts to draw: rows in a seeded random order, each kept when it lies at least
        :data:`generators.encoding.REGIME_WINDOW` rows from those kept before it (nearly equal windows would make
        two paths one), then, when too few are that far apart, the next rows of the order, then repeats.
    seed
        Root seed of the draw (its first spawned stream: it does not touch the sampling's noise).
    mode
        ``"regime"`` (rows matching ``regime``) or ``"random"`` (any candidate row, the baseline).

    Returns
    -------
    tuple
        The starts (:func:`generators.base.context_window` of each row, with its ``row``) and the record:
        ``mode``, ``regime``, ``seed``, ``candidates`` (rows that matched), ``rows`` and ``ts_ns`` of the drawn
        starts, ``replace`` (fewer candidates than paths: some drawn twice), ``spaced`` (every two drawn rows at
        least :data:`generators.encoding.REGIME_WINDOW` apart) and ``past`` (their measured past regime by name).
    """
    if mode not in START_MODES[1:]:
        raise ParameterError(f"`mode` of draw_starts must be one of {list(START_MODES[1:])}; got {mode!r}")
    if isinstance(n_paths, bool) or not isinstance(n_paths, (int, np.integer)) or n_paths < 1:
        raise ParameterError(f"`n_paths` of draw_starts must be an int >= 1; got {n_paths!r}")
    rows = matching(windows, regime if mode == "regime" else None)
    if not rows.size:
        raise DataError(
            f"start windows: no training window has its past regime in {dict(regime or {})} (quintiles of the "
            f"training data); ask for another regime or start from the context"
        )
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(1)[0])
    drawn, spaced = _spaced(rows, int(n_paths), rng)
    replace = bool(rows.size < n_paths)
    starts = [{**context_window(windows.table, windows.span, int(end), windows.rows), "row": int(end)} for end in drawn]
    index = np.searchsorted(windows.ends, drawn)
    record = {
        "mode": mode,
        "regime": dict(regime or {}) if mode == "regime" else {},
        "seed": int(seed),
        "candidates": int(rows.size),
        "replace": replace,
        "spaced": spaced,
        "rows": drawn.tolist(),
        "ts_ns": [start["ts_ns"] for start in starts],
        "past": {name: windows.past[index, j].round(6).tolist() for j, name in enumerate(enc.REGIMES)},
    }
    return starts, record


def real_shares(
    windows: StartWindows, regime: dict[str, int] | None, duration: float, rows: np.ndarray | None = None
) -> dict[str, dict[str, float]]:
    """Return how often the *real* flow that followed start rows was in the asked quintiles (the data's own law).

    This is what a perfect model of the training data would give from the same starts, without any condition:
    for each asked regime variable, the share of rows (``rows``, default every candidate matching ``regime``)
    whose real regime over the :data:`generators.encoding.REGIME_WINDOW` rows from the start is in the asked
    quintile (``start``), and over those that end ``duration`` seconds after it (``end``; rows too near the
    span's end for either are left out).

    Returns
    -------
    dict
        ``{name: {"start", "end", "n_start", "n_end"}}`` (shares and their counts of rows) for the asked names.
    """
    asked = enc.regime_condition(regime, source="regime of real_shares")
    events, books = windows.span
    ts = events["ts_ns"].values
    forward = enc.regime_values(tuple(books[name].values for name in BOOK_FIELDS))
    quintiles = windows.encoding.quintiles(forward)
    rows = matching(windows, regime) if rows is None else np.asarray(rows, np.int64)
    ahead = rows[rows + enc.REGIME_WINDOW < ts.shape[0]]
    ends = np.searchsorted(ts, ts[rows] + int(round(duration * 1e9)), side="right") - 1
    late = ends[(ends < ts.shape[0] - 1) & (ends - enc.REGIME_WINDOW >= rows)] - enc.REGIME_WINDOW
    out = {}
    for j in np.flatnonzero(asked != enc.NULL_REGIME):
        hits = {key: quintiles[index, j] == asked[j] for key, index in (("start", ahead), ("end", late))}
        shares = {key: float(hit.mean()) if hit.size else float("nan") for key, hit in hits.items()}
        out[enc.REGIMES[j]] = {**shares, "n_start": int(ahead.size), "n_end": int(late.size)}
    return out


def check_trained_on(
    generator: Any, train: tuple[xr.Dataset, xr.Dataset], validation: tuple[xr.Dataset, xr.Dataset], *, source: str
) -> None:
    """Refuse spans that are not the model's: the training span must give the model's regime quintile edges, and
    the validation span must end at the model's sampling context."""
    rows = max(generator.encoding_.history, enc.FLOW_WINDOW)
    train, validation = generator.encoding_.span(*train), generator.encoding_.span(*validation)  # as it read them
    events, books = validation
    ts = int(events["ts_ns"].values[_context_end(books, rows)])
    train_books = train[1]
    values = enc.regime_values(tuple(train_books[name].values for name in BOOK_FIELDS))[:-1]
    edges = np.quantile(values, [0.2, 0.4, 0.6, 0.8], axis=0).T
    if ts != int(generator.context_["ts_ns"]) or not np.allclose(edges, generator.encoding_.regime_edges):
        raise DataError(
            f"{source}: not the data the model was trained on: its spans give the sampling context at ts_ns {ts} "
            f"and volatility quintile edges {np.round(edges[0], 3).tolist()}; the model's are "
            f"{int(generator.context_['ts_ns'])} and {np.round(generator.encoding_.regime_edges[0], 3).tolist()}"
        )


def _spaced(rows: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    # n of the rows in a random order, each at least REGIME_WINDOW rows from those taken before it (so that two
    # paths do not start from nearly the same window) while the rows allow; then the nearest others, then repeats
    order = rng.permutation(rows)
    taken: list[int] = []
    for row in order:
        if len(taken) == n:
            break
        if all(abs(int(row) - t) >= enc.REGIME_WINDOW for t in taken):
            taken.append(int(row))
    spaced = len(taken) == n
    rest = [int(row) for row in order if int(row) not in set(taken)]
    taken += rest[: n - len(taken)]
    if len(taken) < n:
        taken += rng.choice(rows, size=n - len(taken), replace=True).tolist()
    return np.sort(np.asarray(taken, np.int64)), spaced


def _quoted(books: tuple[np.ndarray, ...]) -> np.ndarray:
    # rows with levels 1-10 (or all the span has) quoted on both sides
    bid, ask = books[1] > 0, books[3] > 0
    depth = min(enc.DEPTH_LEVELS, bid.shape[1])
    return bid[:, :depth].all(axis=1) & ask[:, :depth].all(axis=1)


def queue_context(context: dict[str, Any], events: xr.Dataset, end: int) -> dict[str, Any]:
    """Return ``context`` with the real queues of its start book: the resting orders at book row ``end``.

    A start context holds an L2 book, and the rollout rests each of its levels as one order of the level's lots, so
    a DELETE (which takes the order of its level nearest its size) removes a whole level where the real one removed
    one order, and a CANCEL finds no order larger than itself where the level held several. The events up to row
    ``end`` name their orders (``order_id``): an ADD rests an order, a CANCEL or a TRADE takes lots from the order
    it names, a DELETE removes it. The orders still resting at row ``end`` at a price of the start book are that
    level's queue, in time priority; lots of the level that no known order holds (orders resting before the first
    event, known only as part of a level) form one order at the front of the queue (they are the oldest). Known
    orders beyond the level's lots (an inconsistency of the reconstruction) are cut from the back of the queue.

    Parameters
    ----------
    context
        A sampling context (:func:`generators.base.context_window`) that ends at row ``end`` of ``events``.
    events
        The span's events (simlab schema), with real order ids.
    end
        The book row of the context's start book (the book after event ``end``).

    Returns
    -------
    dict
        The context with ``orders`` (int64 ``(n, 3)``: side, price, lots, in placing order), read by
        :func:`generators.rollout.start_orders`.
    """
    if int(events["ts_ns"].values[end]) != int(context["ts_ns"]):
        raise DataError(f"queue_context: row {end} of the events is not the context's start (ts_ns {context['ts_ns']})")
    names = ("kind", "side", "price_ticks", "qty_lots", "order_id")
    kind, side, price, qty, ids = (events[name].values[: end + 1].astype(np.int64) for name in names)
    resting: dict[int, list[int]] = {}  # id -> [side, price, lots]; dicts keep insertion (time) order
    for k, s, p, q, i in zip(kind.tolist(), side.tolist(), price.tolist(), qty.tolist(), ids.tolist(), strict=True):
        if i <= 0:
            continue
        if k == EventKind.ADD:
            resting[i] = [s, p, q]
        elif k in (EventKind.CANCEL, EventKind.TRADE) and i in resting:
            resting[i][2] -= q
            if resting[i][2] <= 0:
                del resting[i]
        elif k == EventKind.DELETE:
            resting.pop(i, None)
    book = np.asarray(context["books"], np.int64)[-1]
    rows: list[tuple[int, int, int]] = []
    for s, prices, qtys in ((1, book[0], book[1]), (-1, book[2], book[3])):
        for p, q in zip(prices.tolist(), qtys.tolist(), strict=True):
            if q <= 0:
                continue
            known = [lots for o_side, o_price, lots in resting.values() if o_side == s and o_price == p]
            front = q - sum(known)
            queue = ([front] if front > 0 else []) + known
            left = q
            for lots in queue:
                if left <= 0:
                    break
                rows.append((s, p, min(lots, left)))
                left -= min(lots, left)
    return {**context, "orders": np.asarray(rows, np.int64).reshape(-1, 3)}
