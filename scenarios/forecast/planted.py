"""Synthetic books with a planted signal: the next mid move is a known function of the current touch imbalance.

Row t holds a one-tick-spread book around mid m_t (bid levels m_t, m_t - 1, ..., ask levels m_t + 1, ...), random
depth beyond the touch and a touch imbalance I_t = (bid - ask) / (bid + ask) drawn uniformly. The rule class is the
sign of I_t (+1: more bid than ask lots at the touch, 0 when equal); with probability ``signal`` the move
m_{t+1} - m_t is the rule class, otherwise a uniform draw from {-1, 0, +1}. The oracle knows the rule: its class
probabilities are ``signal + (1 - signal) / 3`` on the rule class and ``(1 - signal) / 3`` on each other one, so its
expected accuracy is ``signal + (1 - signal) / 3``. ``signal = 0`` is the planted-noise book: no input says
anything about the move.
"""

from __future__ import annotations

import numpy as np

from scenarios.forecast.books import BookSeries
from scenarios.forecast.forecasters import Forecaster, Prediction
from scenarios.forecast.task_data import TaskData, prediction
from simlab.errors import ParameterError
from simlab.schema import EventKind


def planted_book(
    n: int, *, levels: int = 10, signal: float = 0.9, rng: np.random.Generator, name: str = "planted"
) -> tuple[BookSeries, np.ndarray]:
    """Return a planted book of ``n`` rows and the oracle's probabilities (n, 3) of the move after each row for
    (down, flat, up), i.e. of the ``direction`` label at a horizon of one event with threshold 0."""
    if not 0 <= signal <= 1 or n < 2 or levels < 1:
        raise ParameterError(
            f"planted_book needs n >= 2, levels >= 1 and signal in [0, 1]; got {n}, {levels}, {signal}"
        )
    total = rng.integers(10, 60, size=n)
    imbalance = rng.uniform(-0.9, 0.9, size=n)
    bid1 = np.clip(np.rint(total * (1 + imbalance) / 2), 1, total - 1).astype(np.int64)
    ask1 = total - bid1
    rule = np.sign(bid1 - ask1)
    follow = rng.random(n) < signal
    move = np.where(follow, rule, rng.integers(-1, 2, size=n))
    mid = 100_000 + np.r_[0, np.cumsum(move[:-1])]
    depth = np.arange(levels)
    bid_qty = rng.integers(1, 40, size=(n, levels))
    ask_qty = rng.integers(1, 40, size=(n, levels))
    bid_qty[:, 0], ask_qty[:, 0] = bid1, ask1
    side = rng.choice(np.array([-1, 1], np.int8), size=n)
    probs = np.full((n, 3), (1 - signal) / 3)
    probs[np.arange(n), rule + 1] += signal
    series = BookSeries(
        name,
        np.cumsum(rng.exponential(1e7, size=n)).astype(np.int64) + 1_000_000_000,
        mid[:, None] - depth[None, :],
        bid_qty,
        mid[:, None] + 1 + depth[None, :],
        ask_qty,
        np.full(n, EventKind.ADD, np.int8),
        side,
        np.where(side > 0, mid, mid + 1),
        np.where(side > 0, bid1, ask1),
    )
    return series, probs


class PlantedOracle(Forecaster):
    """The planted book's oracle: the rule's class probabilities at each origin (``direction``, one event ahead,
    threshold 0)."""

    name = "oracle"

    def __init__(self, probs: np.ndarray) -> None:
        self.probs = probs

    def predict(self, series: TaskData, index: np.ndarray) -> Prediction:
        task = series.task
        if (task.name, task.horizon_events, task.threshold_ticks) != ("direction", 1, 0.0):
            raise ParameterError(f"the planted oracle knows task 'direction' one event ahead only; got {task}")
        return prediction(task, self.probs[np.asarray(index)])


def planted_flow(n: int, *, signal: float = 0.9, bin_ns: int = 10_000_000, rng: np.random.Generator):
    """Return a planted trade tape of ``n`` rows and its oracle's probabilities (n, 3), for the footprint CNN.

    Row t is a market order of random side s_t and size at time t ``bin_ns`` (one order per footprint bin) hitting
    a one-tick-spread book around m_t; the move m_{t+1} - m_t is s_{t-1} (the side of the last bin closed at
    t) with probability ``signal``, else a uniform draw from {-1, 0, +1}.
    """
    if not 0 <= signal <= 1 or n < 3:
        raise ParameterError(f"planted_flow needs n >= 3 and signal in [0, 1]; got {n}, {signal}")
    side = rng.choice(np.array([-1, 1], np.int8), size=n)
    rule = np.r_[0, side[:-1]].astype(np.int64)
    move = np.where(rng.random(n) < signal, rule, rng.integers(-1, 2, size=n))
    mid = 100_000 + np.r_[0, np.cumsum(move[:-1])]
    qty = rng.integers(1, 20, size=n)
    probs = np.full((n, 3), (1 - signal) / 3)
    probs[np.arange(n), rule + 1] += signal
    series = BookSeries(
        "planted-flow", 10**9 + bin_ns * np.arange(n, dtype=np.int64), mid[:, None], rng.integers(1, 40, (n, 1)),
        mid[:, None] + 1, rng.integers(1, 40, (n, 1)), np.full(n, EventKind.TRADE, np.int8), side,
        np.where(side > 0, mid + 1, mid), qty,
    )  # fmt: skip
    return series, probs
