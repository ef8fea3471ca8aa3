"""The footprint CNN: inputs against a slow twin and without look-ahead, determinism, planted flow and noise."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from scenarios.forecast.deep import PRESETS
from scenarios.forecast.footprint_cnn import FootprintCNN, footprint_windows
from scenarios.forecast.planted import PlantedOracle, planted_flow
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import predicted_class_of, task_splits
from scenarios.forecast.tasks import Task

TINY = PRESETS["tiny"]
DIRECTION = Task("direction", horizon_events=1)
BIN = 10_000_000


def test_footprint_windows_match_a_slow_twin_and_read_no_open_bin():
    book, _ = planted_flow(300, signal=0.5, rng=np.random.default_rng(1))
    gaps = np.random.default_rng(2).integers(1, 3 * BIN, size=book.size)
    book = replace(book, ts_ns=10**9 + np.cumsum(gaps))
    index = np.arange(0, 300, 7)
    fast = footprint_windows(book, index, bin_ns=BIN, bins=5, ticks=3)
    for m, t in enumerate(index):
        origin_bin_start = (book.ts_ns[t] // BIN) * BIN  # the bin holding the origin is still open
        centre = (book.bid_price[t, 0] + book.ask_price[t, 0]) // 2
        for b in range(5):
            lo = origin_bin_start - (5 - b) * BIN
            for k, price in enumerate(range(centre - 3, centre + 4)):
                for s, side in enumerate((1, -1)):
                    mask = (book.ts_ns >= lo) & (book.ts_ns < lo + BIN) & (book.price == price) & (book.side == side)
                    assert fast[m, b, k, s] == book.qty[mask].sum(), (t, b, price, side)
    assert fast.sum() > 0


@pytest.fixture(scope="module")
def flow():
    book, probs = planted_flow(2000, signal=0.9, rng=np.random.default_rng(3))
    data = TaskData(book, DIRECTION, window=TINY.window)
    split = task_splits(data, np.arange(TINY.window, book.size - 1), n_folds=2, initial_fraction=0.6)[-1]
    data.fit_limit = int(split.test[0] - data.window + 1)
    return data, probs, split


def test_same_seed_same_forecasts(flow):
    data, _, split = flow
    quick = replace(TINY, epochs=2)
    runs = [
        FootprintCNN(quick, bin_s=0.01, ticks=3).fit(data, split.train, np.random.default_rng(s)) for s in (5, 5, 6)
    ]
    probs = [r.predict(data, split.test).probs for r in runs]
    np.testing.assert_array_equal(probs[0], probs[1])
    assert not np.array_equal(probs[0], probs[2])


def test_planted_flow_reaches_the_oracle(flow):
    data, probs, split = flow
    model = FootprintCNN(TINY, bin_s=0.01, ticks=3).fit(data, split.train, np.random.default_rng(7))
    hit = predicted_class_of(model.predict(data, split.test), DIRECTION.classes) == data.y[split.test]
    oracle = predicted_class_of(PlantedOracle(probs).predict(data, split.test), DIRECTION.classes)
    oracle_accuracy = float(np.mean(oracle == data.y[split.test]))
    assert oracle_accuracy > 0.9 and hit.mean() >= 0.95 * oracle_accuracy, (hit.mean(), oracle_accuracy)


def test_planted_noise_gives_no_skill():
    book, _ = planted_flow(1200, signal=0.0, rng=np.random.default_rng(8))
    data = TaskData(book, DIRECTION, window=TINY.window)
    split = task_splits(data, np.arange(TINY.window, book.size - 1), n_folds=2, initial_fraction=0.6)[-1]
    data.fit_limit = int(split.test[0] - data.window + 1)
    model = FootprintCNN(TINY, bin_s=0.01, ticks=3).fit(data, split.train, np.random.default_rng(9))
    hit = predicted_class_of(model.predict(data, split.test), DIRECTION.classes) == data.y[split.test]
    assert hit.mean() - 1 / 3 < 3 * np.sqrt(hit.mean() * (1 - hit.mean()) / hit.size)
