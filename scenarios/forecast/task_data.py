"""What a task forecaster sees: a book series, one task's labels, and the fold's normalisation limit.

:class:`TaskData` is the ``series`` argument of ``fit(series, train, rng)`` / ``predict(series, index)`` for the
task forecasters (the benchmark's :class:`~scenarios.forecast.forecasters.Forecaster` interface); ``train`` and
``index`` are origin rows. The protocol sets ``fit_limit`` per fold to the first row a test input reads, so a
normaliser asked to read a row at or beyond it raises (:class:`~scenarios.forecast.books.Normaliser`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from scenarios.forecast.books import BookSeries, book_tensor, event_tokens, flow_features
from scenarios.forecast.forecasters import Prediction
from scenarios.forecast.tasks import Task
from simlab.errors import ParameterError


@dataclass
class TaskData:
    """One book series with one task's labels (``y``, ``end`` target rows, ``valid``) and the input window."""

    book: BookSeries
    task: Task
    window: int = 20
    fit_limit: int | None = None
    y: np.ndarray = field(init=False)
    end: np.ndarray = field(init=False)
    valid: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ParameterError(f"`window` of the task inputs must be >= 1 row; got {self.window}")
        self.y, self.end, self.valid = self.task.labels(self.book)

    @property
    def name(self) -> str:
        """The series' name."""
        return self.book.name

    @property
    def limit(self) -> int:
        """The first row normalisation may not read (the whole series outside a fold)."""
        return self.book.size if self.fit_limit is None else self.fit_limit

    @cached_property
    def flow(self) -> np.ndarray:
        """Order-flow features (n, 2): windowed CKS OFI and level-1 imbalance."""
        return flow_features(self.book, self.window)

    @cached_property
    def tokens(self) -> np.ndarray:
        """Event tokens (n, EVENT_FEATURES)."""
        return event_tokens(self.book)

    def tensor(self, levels: int) -> np.ndarray:
        """Book features of ``levels`` levels (n, 4 levels), cached per depth."""
        cache = self.__dict__.setdefault("_tensors", {})
        if levels not in cache:
            cache[levels] = book_tensor(self.book, levels)
        return cache[levels]

    def known_label(self, index: np.ndarray) -> np.ndarray:
        """Return, for each origin, the label of the latest valid origin whose target row is at or before it (the
        last label known at the origin; NaN when none)."""
        rows = np.flatnonzero(self.valid)
        ends = self.end[rows]  # non-decreasing in the origin
        latest = np.searchsorted(ends, index, side="right") - 1
        return np.where(latest >= 0, self.y[rows[np.maximum(latest, 0)]], np.nan)


def prediction(task: Task, values: np.ndarray) -> Prediction:
    """Wrap class probabilities (m, classes) or point forecasts (m,) of a task as a :class:`Prediction`; its ``ofi``
    field carries the point forecast (the probability-weighted class for a classification task)."""
    if task.classes is None:
        return Prediction(np.asarray(values, dtype=float))
    probs = np.asarray(values, dtype=float)
    return Prediction(probs @ np.asarray(task.classes, dtype=float), probs=probs)
