"""Deep forecasters: same seed same weights, the planted signal learnt to near the oracle, no skill on noise."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from scenarios.forecast.deep import PRESETS, DeepLOB, EventTransformer
from scenarios.forecast.planted import PlantedOracle, planted_book
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import (
    HAR,
    FlowLogistic,
    LastLabel,
    Prior,
    predicted_class_of,
    run_task_protocol,
    task_splits,
)
from scenarios.forecast.tasks import Task
from simlab.errors import ParameterError

TINY = PRESETS["tiny"]
DIRECTION = Task("direction", horizon_events=1)


def _models():
    return [DeepLOB(TINY, levels=5), EventTransformer(TINY)]


def _last_split(signal: float, n: int, seed: int):
    book, probs = planted_book(n, levels=5, signal=signal, rng=np.random.default_rng(seed))
    data = TaskData(book, DIRECTION, window=TINY.window)
    usable = np.arange(TINY.window - 1, n - 1)
    return data, probs, task_splits(data, usable, n_folds=2, initial_fraction=0.6)[-1]


def _accuracy(data, model, split, rng) -> tuple[float, float]:
    fold = copy.copy(data)
    fold.fit_limit = int(split.test[0] - data.window + 1)
    pred = model.fit(fold, split.train, rng).predict(fold, split.test)
    hit = predicted_class_of(pred, DIRECTION.classes) == data.y[split.test]
    return float(hit.mean()), float(np.sqrt(hit.mean() * (1 - hit.mean()) / hit.size))


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.name)
def test_same_seed_same_weights_and_forecasts(model):
    data, _, split = _last_split(0.9, 400, 1)
    quick = dataclasses.replace(TINY, epochs=2)
    model = type(model)(quick, **({"levels": 5} if model.name == "deeplob" else {}))
    runs = []
    for seed in (7, 7, 8):
        fitted = type(model)(quick, **({"levels": 5} if model.name == "deeplob" else {})).fit(
            data, split.train, np.random.default_rng(seed)
        )
        torch.rand(3)  # advance the global torch stream: it must not matter, every weight comes from the generator
        runs.append((fitted.net_.state_dict(), fitted.predict(data, split.test).probs))
    for key, value in runs[0][0].items():
        assert torch.equal(value, runs[1][0][key]), key
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][1], runs[2][1])


# Rows of the planted book per model. The transformer's accuracy is set by its training origins, not its epochs:
# on 2,000 rows (1,199 training origins) it reached 95.5-96.3 % of the oracle for 4 model seeds, whatever the epoch
# limit (20 or 40, min_epochs 10 or 20: early stopping keeps the same best epoch); on 3,000 rows, 96.9-97.9 % for
# 3 books x 2 model seeds. DeepLOB reaches 99 % on 2,000 rows and is the slower model, so it keeps them.
PLANTED_ROWS = {"deeplob": 2000, "event_transformer": 3000}


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.name)
def test_planted_signal_reaches_the_oracle(model):
    """The next move is the sign of the touch imbalance 90 % of the time: >= 95 % of the oracle's accuracy."""
    data, probs, split = _last_split(0.9, PLANTED_ROWS[model.name], 1)
    accuracy, _ = _accuracy(data, model, split, np.random.default_rng(3))
    oracle = PlantedOracle(probs).predict(data, split.test)
    oracle_accuracy = float(np.mean(predicted_class_of(oracle, DIRECTION.classes) == data.y[split.test]))
    assert oracle_accuracy > 0.9
    assert accuracy >= 0.95 * oracle_accuracy, (accuracy, oracle_accuracy)


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.name)
def test_planted_noise_gives_no_skill(model):
    """Moves independent of the book: accuracy within 3 standard errors of chance (1/3)."""
    data, _, split = _last_split(0.0, 1200, 2)
    accuracy, error = _accuracy(data, model, split, np.random.default_rng(4))
    assert accuracy - 1 / 3 < 3 * error, (accuracy, error)


def test_protocol_scores_baselines_and_refuses_bad_runs():
    book, probs = planted_book(1500, levels=5, signal=0.9, rng=np.random.default_rng(5))
    data = TaskData(book, DIRECTION, window=5)
    models = [FlowLogistic(), LastLabel(), Prior(), PlantedOracle(probs)]
    result = run_task_protocol(data, models, rng=1, n_folds=5)
    scores = result.scores(DIRECTION.classes, "prior")
    assert scores["flow_logistic"]["accuracy"] > 0.85 and scores["prior"]["accuracy"] < 0.5
    assert scores["flow_logistic"]["dm_zero_one_vs_prior"] < -5
    for split in result.splits:  # purged: no training label reaches a test input
        assert data.end[split.train].max() < split.test[0] - data.window + 1
    with pytest.raises(ParameterError, match="longer than the test span of fold 0"):
        run_task_protocol(TaskData(book, Task("direction", horizon_events=400), window=5), models[:3], rng=1)
    with pytest.raises(ParameterError, match="model 'deeplob' needs books of >= 10 levels; series 'planted' has 5"):
        run_task_protocol(data, [DeepLOB(TINY, levels=10)], rng=1)
    with pytest.raises(ParameterError, match="model 'event_transformer' reads 8 rows before each origin"):
        run_task_protocol(data, [EventTransformer(dataclasses.replace(TINY, window=8))], rng=1)
    with pytest.raises(ParameterError, match="model 'har' forecasts task 'realised_vol' only"):
        run_task_protocol(data, [HAR()], rng=1)


def test_har_and_persistence_on_realised_vol():
    book, _ = planted_book(1500, levels=2, signal=0.5, rng=np.random.default_rng(6))
    data = TaskData(book, Task("realised_vol", horizon_events=20), window=5)
    result = run_task_protocol(data, [HAR(), LastLabel(), Prior()], rng=1, n_folds=5)
    scores = result.scores(None, "prior")
    assert set(scores["har"]) >= {"mse", "mse_se", "dm_se_vs_prior"}
    for t in result.index[::37]:  # the last label known at t: the latest valid origin whose target row is <= t
        latest = max(s for s in range(t + 1) if data.valid[s] and data.end[s] <= t)
        assert data.known_label(np.array([t]))[0] == data.y[latest]
    np.testing.assert_array_equal(result.predictions["last_label"].ofi, data.known_label(result.index))


def test_big_move_probabilities_are_scored_as_a_binary_task():
    book, _ = planted_book(1500, levels=2, signal=0.9, rng=np.random.default_rng(7))
    data = TaskData(book, Task("big_move", horizon_events=10, move_ticks=2.0), window=5)
    result = run_task_protocol(data, [FlowLogistic(), Prior()], rng=1, n_folds=5)
    probs = result.predictions["flow_logistic"].probs
    assert probs.shape == (result.index.size, 2) and np.allclose(probs.sum(axis=1), 1)
    row = result.scores((0, 1), "prior")["flow_logistic"]
    predicted = np.argmax(probs, axis=1)
    f1 = [2 * np.sum((result.actual == c) & (predicted == c)) / (np.sum(result.actual == c) + np.sum(predicted == c))
          for c in (0, 1)]  # fmt: skip
    assert row["macro_f1"] == pytest.approx(np.mean(f1)) and "recall_SELL" not in row
    onehot = np.eye(2)[result.actual.astype(int)]
    assert row["brier"] == pytest.approx(np.mean(np.sum((probs - onehot) ** 2, axis=1)))
