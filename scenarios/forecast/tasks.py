"""Prediction tasks on book series, each label defined from rows after the forecast origin only.

For an origin row t (the book after event t) and a horizon, the *target row* e(t) is ``t + k`` for a horizon of k
events, or the last row with ``ts_ns <= ts_ns[t] + T`` for a horizon of T seconds. Labels read rows t .. e(t) and
nothing else; inputs read rows up to t (:mod:`scenarios.forecast.books`), so the walk-forward purges every training
origin whose target row reaches the first test input.

* ``direction``: +1 / 0 / -1 when the mid moves up by more than ``threshold_ticks``, stays within it, or falls;
* ``big_move``: 1 when the mid leaves [mid_t - x, mid_t + x] ticks (``move_ticks``) at some row in (t, e(t)];
* ``realised_vol``: 1e4 sqrt(sum of squared log mid returns over rows (t, e(t)]) (basis points);
* ``slippage``: the slippage (ticks per lot, against the touch) of a market order of ``size`` lots walked through
  the book at the target row (the order's arrival), on ``side`` (+1 buy walks the asks).

:func:`walk_book` and :func:`safe_size` give the slippage of a size and the largest size whose slippage stays under
a bound on one book. Which tasks need which books: every task reads level 1; ``slippage`` needs the levels the order
walks (AMZN's level-1 sample can only price orders that fit at the touch, the AAPL hour has 10 replayed levels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenarios.forecast.books import BookSeries
from simlab.errors import DataError, ParameterError
from simlab.schema import NO_PRICE

TASK_NAMES = ("direction", "big_move", "realised_vol", "slippage")
CLASSES = {"direction": (-1, 0, 1), "big_move": (0, 1)}


@dataclass(frozen=True)
class Task:
    """One prediction task (see the module docstring); exactly one of ``horizon_events`` and ``horizon_s``."""

    name: str
    horizon_events: int | None = None
    horizon_s: float | None = None
    threshold_ticks: float = 0.0
    move_ticks: float = 1.0
    size: int = 100
    side: int = 1

    def __post_init__(self) -> None:
        if self.name not in TASK_NAMES:
            raise ParameterError(f"task must be one of {list(TASK_NAMES)}; got {self.name!r}")
        if (self.horizon_events is None) == (self.horizon_s is None):
            raise ParameterError(
                f"task {self.name!r} needs exactly one of `horizon_events` and `horizon_s`; got "
                f"{self.horizon_events!r} and {self.horizon_s!r}"
            )
        if (self.horizon_events is not None and self.horizon_events < 1) or (
            self.horizon_s is not None and not self.horizon_s > 0
        ):
            raise ParameterError(f"the horizon of task {self.name!r} must be >= 1 event or > 0 s")
        if self.side not in (-1, 1) or self.size < 1:
            raise ParameterError(
                f"task {self.name!r}: `side` must be +-1 and `size` >= 1; got {self.side}, {self.size}"
            )

    @property
    def classes(self) -> tuple[int, ...] | None:
        """The label classes of a classification task, None for a regression task."""
        return CLASSES.get(self.name)

    def labels(self, series: BookSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the label (n,) of every origin row, its target row (n,) and whether it is defined (n,)."""
        end, covered = target_rows(series.ts_ns, self.horizon_events, self.horizon_s)
        mid2 = series.mid2()
        if self.name == "slippage":
            series.need_levels(1, "task 'slippage'")
            excess, filled = walk_book_rows(series, self.size, self.side)
            y = excess[end] / self.size
            return y, end, covered & filled[end]
        ok = covered & _touch_kept(mid2, end)
        mid2 = np.where(mid2 == NO_PRICE, 0, mid2)
        if self.name == "direction":
            move = (mid2[end] - mid2) / 2.0
            y = np.sign(move) * (np.abs(move) > self.threshold_ticks)
        elif self.name == "big_move":
            high, low = range_max(mid2, end), -range_max(-mid2, end)
            y = ((high - mid2 > 2 * self.move_ticks) | (mid2 - low > 2 * self.move_ticks)).astype(float)
        else:
            r2 = np.r_[0.0, np.diff(np.log(np.where(mid2 > 0, mid2, 1.0))) ** 2]
            c = np.cumsum(r2)
            y = 1e4 * np.sqrt(np.maximum(c[end] - c, 0.0))
        return y.astype(float), end, ok


def target_rows(
    ts_ns: np.ndarray, horizon_events: int | None, horizon_s: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Return each origin's target row (n,) and whether the data reach the horizon (n,)."""
    n = ts_ns.size
    if horizon_events is not None:
        end = np.arange(n) + int(horizon_events)
        return np.minimum(end, n - 1), end < n
    limit = ts_ns + int(round(horizon_s * 1e9))
    end = np.searchsorted(ts_ns, limit, side="right") - 1
    return end, limit <= ts_ns[-1]


def _touch_kept(mid2: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whether both touches exist at every row from each origin to its target row."""
    empty = np.cumsum(mid2 == NO_PRICE)
    before = np.r_[0, empty[:-1]]
    return empty[end] - before == 0


def range_max(values: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Return max(values[t .. end[t]]) for every t (a sparse table, O(n log n))."""
    n = values.size
    table = [values.astype(np.int64)]
    width = 1
    while 2 * width <= n:
        prev = table[-1]
        table.append(np.maximum(prev[: n - 2 * width + 1], prev[width : n - width + 1]))
        width *= 2
    start = np.arange(n)
    span = end - start + 1
    level = np.floor(np.log2(np.maximum(span, 1))).astype(int)
    out = np.empty(n, dtype=np.int64)
    for k in np.unique(level):
        rows = np.flatnonzero(level == k)
        out[rows] = np.maximum(table[k][start[rows]], table[k][end[rows] - (1 << k) + 1])
    return out


def walk_book(prices: np.ndarray, sizes: np.ndarray, size: int, side: int = 1) -> tuple[int, int]:
    """Walk a market order of ``size`` lots through one side of a book (``prices`` in ticks best first, ``sizes``
    in lots; a buy, ``side`` +1, walks the asks) and return (filled lots, excess cost in tick-lots over filling all
    at the touch). Slippage per lot is excess / size when the book holds the whole order.

    Raises
    ------
    DataError
        When the visible book holds fewer than ``size`` lots.
    """
    cumulative = np.cumsum(sizes)
    if size > cumulative[-1]:
        raise DataError(f"walk_book: the visible book holds {int(cumulative[-1])} lots; the order needs {size}")
    distance = (prices - prices[0]) * side
    before = np.r_[0, cumulative[:-1]]
    take = np.clip(size - before, 0, sizes)
    return int(take.sum()), int(np.sum(take * distance))


def walk_book_rows(series: BookSeries, size: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the excess cost (tick-lots) of ``size`` lots at every row (n,) and whether the visible, non-empty
    levels hold the order (n,); see :func:`walk_book`."""
    prices = series.ask_price if side > 0 else series.bid_price
    sizes = np.where(prices != NO_PRICE, series.ask_qty if side > 0 else series.bid_qty, 0)
    cumulative = np.cumsum(sizes, axis=1)
    before = np.concatenate([np.zeros((series.size, 1), np.int64), cumulative[:, :-1]], axis=1)
    take = np.clip(size - before, 0, sizes)
    distance = np.where(prices != NO_PRICE, (prices - prices[:, :1]) * side, 0)
    return np.sum(take * distance, axis=1), cumulative[:, -1] >= size


def safe_size(prices: np.ndarray, sizes: np.ndarray, bound_ticks: float, side: int = 1) -> tuple[int, bool]:
    """Return the largest order size (lots) whose slippage per lot stays <= ``bound_ticks`` on one book side, and
    whether it is exact (False: the whole visible book fits, so the true bound may lie beyond it).

    Within level j (lots C_{j-1} < q <= C_j before it, excess E_{j-1}, distance d_j from the touch) the slippage is
    (E_{j-1} + (q - C_{j-1}) d_j) / q, non-decreasing in q; the bound holds for q <= (d_j C_{j-1} - E_{j-1}) /
    (d_j - bound) where d_j > bound.
    """
    if not bound_ticks >= 0:
        raise ParameterError(f"`bound_ticks` of safe_size must be >= 0; got {bound_ticks!r}")
    distance = (prices - prices[0]) * side
    cumulative = np.cumsum(sizes)
    before = np.r_[0, cumulative[:-1]]
    excess_before = np.r_[0, np.cumsum(sizes * distance)[:-1]]
    for j in range(len(sizes)):
        if distance[j] <= bound_ticks:
            continue
        limit = int(np.floor((distance[j] * before[j] - excess_before[j]) / (distance[j] - bound_ticks)))
        if limit < cumulative[j]:
            return max(limit, int(before[j])), True
    return int(cumulative[-1]), False
