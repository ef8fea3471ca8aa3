"""The per-sequence samples of LOB-Bench's reference code (peernagy/lob_bench 276baf3, ``eval.py``), on LOBSTER rows.

Private to :mod:`simlab.metrics.lobbench_convention`. Each function takes one :class:`Sequence` (every row it is
given counts, empty-side placeholders included) and returns a float64 array in the reference's order; NaN where the
reference yields NaN (``0 / 0`` imbalance). The reference's definition is quoted in each docstring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlab.book.export import LobsterTable

NS = 1_000_000_000
N_WINDOW = 100  # OFI rolling window (messages)
ZERO_TIME = 1e-9  # the reference's stand-in for a zero duration before the log
VOLUME_LEVELS = 10


@dataclass(frozen=True)
class Sequence:
    """One sequence of LOBSTER rows: message columns (int64; ``t`` in ns after midnight) and the book after each."""

    t: np.ndarray
    event_type: np.ndarray
    order_id: np.ndarray
    size: np.ndarray
    price: np.ndarray
    direction: np.ndarray
    book: np.ndarray

    @property
    def n(self) -> int:
        """Return the number of rows."""
        return int(self.t.size)


def sequences(table: LobsterTable, length: int | None = None) -> list[Sequence]:
    """Cut LOBSTER rows into consecutive sequences of ``length`` messages (the last one may be shorter).

    Parameters
    ----------
    table
        Rows from :func:`simlab.book.export.lobster_table`.
    length
        Messages per sequence; None: one sequence of every row.
    """
    n = table.seconds_ns.size
    length = n if length is None else int(length)
    columns = (table.seconds_ns, table.event_type, table.order_id, table.size, table.price, table.direction)
    return [Sequence(*(c[i : i + length] for c in columns), table.book[i : i + length]) for i in range(0, n, length)]


def spread(s: Sequence) -> np.ndarray:
    """``book[:, 0] - book[:, 2]`` of every row (LOBSTER price units)."""
    return (s.book[:, 0] - s.book[:, 2]).astype(np.float64)


def imbalance(s: Sequence) -> np.ndarray:
    """``(bid_1 - ask_1) / (bid_1 + ask_1)`` volumes of every row (NaN when both are 0)."""
    ask, bid = s.book[:, 1].astype(np.float64), s.book[:, 3].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (bid - ask) / (bid + ask)


def log_inter_arrival(s: Sequence) -> np.ndarray:
    """``log`` of the ms between consecutive rows, a zero replaced by 1e-9."""
    ms = (np.diff(s.t) / NS) * 1000
    return np.log(np.where(ms == 0, ZERO_TIME, ms))


def log_time_to_cancel(s: Sequence) -> np.ndarray:
    """``log`` of the s between the first two type 1-3 rows of each id that has a type-1 row, ordered by id."""
    new_ids = np.unique(s.order_id[s.event_type == 1])
    rows = np.flatnonzero(np.isin(s.event_type, (1, 2, 3)) & np.isin(s.order_id, new_ids))
    rows = rows[np.argsort(s.order_id[rows], kind="stable")]
    ids = s.order_id[rows]
    first = np.r_[True, ids[1:] != ids[:-1]] if ids.size else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    has_second = np.r_[starts[1:], ids.size] - starts >= 2
    starts = starts[has_second]
    seconds = (s.t[rows[starts + 1]] - s.t[rows[starts]]) / NS
    return np.log(np.where(seconds == 0, ZERO_TIME, seconds))


def volume(side: str, touch: bool):
    """Lots on ``side`` at the touch, or summed over the first ``min(10, levels)`` levels, of every row."""
    column = 1 if side == "ask" else 3

    def sample(s: Sequence) -> np.ndarray:
        if touch:
            return s.book[:, column].astype(np.float64)
        levels = min(VOLUME_LEVELS, s.book.shape[1] // 4)
        return s.book[:, column : 4 * levels : 4].sum(axis=1).astype(np.float64)

    return sample


def depth(types: tuple[int, ...], side: str):
    """``price - mid`` (mid after the message) of ``types`` rows; ask: the positive ones, bid: minus the negative."""

    def sample(s: Sequence) -> np.ndarray:
        select = np.isin(s.event_type, types)
        mid = (s.book[select, 0] + s.book[select, 2]) / 2
        d = s.price[select] - mid
        return d[d > 0] if side == "ask" else np.abs(d[d < 0])

    return sample


def level(types: tuple[int, ...], side: str):
    """The level of ``types`` rows whose price is a price of the book (after the message for adds, before it for
    cancels): column ``k`` of ``book[:, 0::2]`` is ask level ``k // 2 + 1`` (even ``k``) or bid ``(k + 1) // 2``."""

    def sample(s: Sequence) -> np.ndarray:
        book, event_type, price = s.book, s.event_type, s.price
        if 1 not in types:  # cancels: the book before the message, from the second row on
            book, event_type, price = book[:-1], event_type[1:], price[1:]
        select = np.isin(event_type, types)
        hit = np.argwhere(price[select][:, None] == book[select][:, 0::2])[:, 1]
        bid = hit % 2 == 1
        return ((hit[bid] + 1) // 2 if side == "bid" else hit[~bid] // 2 + 1).astype(np.float64)

    return sample


def volume_per_minute(s: Sequence) -> np.ndarray:
    """Visible executions (type 4) summed per 1 s bucket with trades, times 60; the first and last buckets are
    dropped when under 0.1 s of trading, else scaled to a full second (the reference's edge rule)."""
    trades = np.flatnonzero(s.event_type == 4)
    if trades.size == 0:
        return np.zeros(0)
    second = s.t[trades] // NS
    keys, slot = np.unique(second, return_inverse=True)
    vol = np.bincount(slot, s.size[trades].astype(np.float64))
    first_us, last_us = (int(s.t[trades[k]] // 1000 % 1_000_000) for k in (0, -1))
    if keys.size == 1:
        if s.t[trades[0]] != s.t[trades[-1]]:
            period = last_us - first_us
            vol = vol[:0] if period < 100_000 else vol * (1_000_000 / period)
    else:
        if first_us < 900_000:
            vol = vol[1:]
        else:
            vol[0] /= 1 - first_us / 1_000_000
        if last_us < 100_000:
            vol = vol[:-1]
        else:
            vol[-1] *= 1_000_000 / last_us
    return vol * 60


def _ofi_increments(s: Sequence) -> np.ndarray:
    b = s.book
    ask_delta, bid_delta = np.diff(b[:, 0]), np.diff(b[:, 2])
    return (
        (bid_delta >= 0) * b[1:, 3] - (bid_delta <= 0) * b[:-1, 3] - (ask_delta <= 0) * b[1:, 1]
        + (ask_delta >= 0) * b[:-1, 1]
    )  # fmt: skip


def ofi(s: Sequence) -> np.ndarray:
    """The L1 order-flow imbalance of each row change, as a rolling mean over 100 changes (whole windows)."""
    e = _ofi_increments(s)
    if e.size < N_WINDOW:
        return np.zeros(0)
    total = np.cumsum(np.r_[0, e])
    return (total[N_WINDOW:] - total[:-N_WINDOW]) / N_WINDOW


def ofi_given_move(sign: int):
    """The rolling OFI before each mid change of sign ``sign`` (-1, 0, +1) that follows a whole window."""

    def sample(s: Sequence) -> np.ndarray:
        rolling = ofi(s)
        mid = (s.book[:, 0] + s.book[:, 2]) / 2
        move = np.sign(np.diff(mid)[N_WINDOW:])
        previous = rolling[:-1]
        return previous[move == sign] if previous.size else np.zeros(0)

    return sample


def time_of_day(s: Sequence) -> np.ndarray:
    """Seconds after midnight of every row."""
    return s.t / NS


def volatility(s: Sequence) -> np.ndarray:
    """The std of the log mid returns between consecutive 0.1 s buckets (last mid of each, empty buckets NaN), 0
    when undefined, repeated for every row."""
    mid = (s.book[:, 0] + s.book[:, 2]) / 2
    bucket = s.t // (NS // 10)
    last = np.flatnonzero(np.r_[bucket[1:] != bucket[:-1], True])
    grid = np.full(int(bucket[-1] - bucket[0]) + 1, np.nan)
    grid[bucket[last] - bucket[0]] = mid[last]
    with np.errstate(invalid="ignore", divide="ignore"):
        returns = np.diff(np.log(grid))
    returns = returns[~np.isnan(returns)]
    std = float(np.std(returns, ddof=1)) if returns.size >= 2 else float("nan")
    return np.full(s.n, 0.0 if np.isnan(std) else std)


def response_events(s: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The touch events of the reference's impact code: (mid after, sign ``eps``, type index 0-5).

    Rows whose L1 book has a 0 or did not change, or of other types or directions, are left out; consecutive
    executions within 1 us of one direction and price are merged (the last row stands for them). Types, in order:
    MO_0, MO_1, LO_0, LO_1, CA_0, CA_1, ``_1`` when the best ask or bid price changed since the previous kept row.
    """
    b = s.book[:, :4]
    changed_row = np.r_[True, (np.diff(b, axis=0) != 0).any(axis=1)]
    keep = ~(b == 0).any(axis=1) & changed_row & np.isin(s.event_type, (1, 2, 3, 4)) & np.isin(s.direction, (-1, 1))
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    ask, bid = b[rows, 0], b[rows, 2]
    moved = np.r_[True, (np.diff(ask) != 0) | (np.diff(bid) != 0)]
    event_type, direction, price, t = s.event_type[rows], s.direction[rows], s.price[rows], s.t[rows]
    base = np.where(event_type == 4, 0, np.where(event_type == 1, 2, 4))
    eps = np.where(event_type == 1, direction, -direction)
    mid = ((ask + bid) / 2).astype(np.int64)
    new = np.r_[True, (np.diff(t) > 1000) | (event_type[1:] != 4) | (direction[1:] != direction[:-1])]
    new[1:] |= price[1:] != price[:-1]
    last = np.r_[np.flatnonzero(new)[1:] - 1, rows.size - 1]
    return mid[last], eps[last].astype(np.float64), (base + moved)[last]
