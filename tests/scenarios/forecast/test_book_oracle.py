"""The book oracle: the known answer on a world whose moves are certain, the ceiling on a tiny Hawkes-driven book,
and its refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from scenarios.forecast.book_oracle import BookOracle, HawkesWorld, mc_accuracy_se, preset_world, world_series
from scenarios.forecast.deep import PRESETS, DeepLOB, EventTransformer
from scenarios.forecast.metrics import hac_variance
from scenarios.forecast.planted import planted_book
from scenarios.forecast.spec import load_spec, parse_spec
from scenarios.forecast.task_data import TaskData
from scenarios.forecast.task_protocol import FlowLogistic, LastLabel, Prior, predicted_class_of, run_task_protocol
from scenarios.forecast.tasks import Task
from simlab.book.hawkes_book import ORDER_FLOW, EmpiricalLaw, HawkesBookParams
from simlab.errors import DataError, ParameterError
from simlab.hawkes import HawkesParams

ONE = EmpiricalLaw(np.array([1]), np.array([1.0]))


def _certain_world() -> HawkesWorld:
    """Only limit asks (5 / s; the other types 1e-12 / s), each one tick inside the best ask: the ask falls one
    tick per event until the spread is one tick, then orders join the best and nothing moves."""
    hawkes = HawkesParams([1e-12, 5.0, 1e-12, 1e-12, 1e-12, 1e-12], np.zeros((6, 6)), np.ones((6, 6)), ORDER_FLOW)
    inside = EmpiricalLaw(np.array([-1]), np.array([1.0]))
    book = np.array([[1000], [10], [1060], [10]])
    params = HawkesBookParams(hawkes, (inside, inside), (ONE, ONE), (ONE, ONE), np.ones((2, 1)), book)
    return HawkesWorld("certain", params, 30.0, seed=4, depth=1, warmup_s=0.0)


def test_the_oracle_knows_a_certain_move():
    world = _certain_world()
    book = world_series(world)
    spread = book.ask_price[:, 0] - book.bid_price[:, 0]
    k, oracle = 10, BookOracle(n_paths=20)
    for task in (Task("direction", horizon_events=k, threshold_ticks=0.5), Task("big_move", horizon_events=k,
                                                                                 move_ticks=2.0)):  # fmt: skip
        data = TaskData(book, task, window=1)
        rows = np.flatnonzero(data.valid)[2::3]
        fall = np.minimum(k, spread[rows] - 1) / 2.0  # ticks the mid falls over the next k events
        known = -(fall > 0.5).astype(int) if task.name == "direction" else (fall > 2.0).astype(int)
        pred = oracle.predict(data, rows)
        assert set(known.tolist()) == ({-1, 0} if task.name == "direction" else {0, 1})  # both answers occur
        np.testing.assert_array_equal(data.y[rows], known)
        np.testing.assert_array_equal(pred.probs.max(axis=1), 1.0)  # certain
        np.testing.assert_array_equal(predicted_class_of(pred, task.classes), known)
        assert (pred.counts.sum(axis=1) == 20).all()
        assert mc_accuracy_se(pred.counts, known, task.classes, rng=np.random.default_rng(0)) == 0.0


def test_the_oracle_knows_a_certain_volatility_and_a_poisson_clock():
    world = _certain_world()
    book = world_series(world)
    spread = book.ask_price[:, 0] - book.bid_price[:, 0]
    rv = TaskData(book, Task("realised_vol", horizon_events=10), window=1)
    rows = np.flatnonzero(rv.valid)[2::7]
    np.testing.assert_allclose(BookOracle(n_paths=10).predict(rv, rows).ofi, rv.y[rows], rtol=1e-9, atol=1e-12)
    # 1.2 s ahead: N ~ Poisson(6) limit asks; the mid falls min(N, spread - 1) / 2 ticks, "down" beyond 2.5 ticks
    timed = TaskData(book, Task("direction", horizon_s=1.2, threshold_ticks=2.5), window=1)
    rows = np.flatnonzero(timed.valid)[2::5]
    probs = BookOracle(n_paths=400).predict(timed, rows).probs
    p_down = 1.0 - stats.poisson.cdf(5, 6.0)
    wide = spread[rows] - 1 >= 6
    assert wide.sum() >= 5 and (~wide).sum() >= 5
    assert np.all(np.abs(probs[wide, 0] - p_down) < 4 * np.sqrt(p_down * (1 - p_down) / 400))
    np.testing.assert_array_equal(probs[~wide, 0], 0.0)
    assert abs(probs[wide, 0].mean() - p_down) < 4 * np.sqrt(p_down * (1 - p_down) / (400 * wide.sum()))


@pytest.fixture(scope="module")
def tiny_world():
    return world_series(preset_world("hawkes-aapl", 240.0, seed=5, depth=5))


def test_the_oracle_is_the_ceiling_on_a_tiny_hawkes_world(tiny_world):
    task = Task("direction", horizon_events=20, threshold_ticks=0.5)
    data = TaskData(tiny_world, task, window=10)
    tiny = dataclasses.replace(PRESETS["tiny"], window=10)
    models = [DeepLOB(tiny, levels=5), EventTransformer(tiny), FlowLogistic(), LastLabel(), Prior(), BookOracle(60)]
    result = run_task_protocol(data, models, rng=3, n_folds=2, initial_fraction=0.5, stride=25)
    scores = result.scores(task.classes, "prior")
    oracle = scores["oracle"]
    hits = {m: (predicted_class_of(p, task.classes) == result.actual).astype(float)
            for m, p in result.predictions.items()}  # fmt: skip
    assert result.index.size > 80
    for name in ("deeplob", "event_transformer", "flow_logistic", "last_label", "prior"):
        gap = hits["oracle"] - hits[name]
        assert gap.mean() > -2 * np.sqrt(hac_variance(gap) / gap.size), name
        assert oracle["brier"] < scores[name]["brier"] + 2 * scores[name]["brier_se"], name
    expected = result.predictions["oracle"].probs.max(axis=1).mean()  # the oracle's own accuracy forecast
    assert abs(oracle["accuracy"] - expected) < 3 * oracle["accuracy_se"]
    assert oracle["accuracy"] > scores["prior"]["accuracy"] + 2 * scores["prior"]["accuracy_se"]


def test_the_oracle_refuses_what_it_cannot_forecast(tiny_world):
    planted, _ = planted_book(300, levels=2, rng=np.random.default_rng(0))
    with pytest.raises(DataError, match="needs a simulated Hawkes-driven book"):
        BookOracle().predict(TaskData(planted, Task("direction", horizon_events=1)), np.arange(10, 20))
    with pytest.raises(ParameterError, match="got 'slippage'"):
        BookOracle().predict(TaskData(tiny_world, Task("slippage", horizon_events=5, size=1)), np.arange(500, 510))
    with pytest.raises(ParameterError, match="is a 'zi' book, which has no oracle"):
        preset_world("zi-aapl", 10.0, seed=1)
    with pytest.raises(ParameterError, match=">= 10"):
        BookOracle(n_paths=3)


def test_a_task_spec_names_the_oracle_on_a_book_preset():
    spec = parse_spec({
        "data": [{"name": "h", "source": "preset", "preset": "hawkes-aapl", "duration_s": 60.0}],
        "task": {"name": "direction", "horizon_events": 5, "models": ["prior", "oracle"], "reference": "prior",
                 "oracle_paths": 50},
    })  # fmt: skip
    assert spec.task.models == ["prior", "oracle"] and spec.task.oracle_paths == 50
    for name, task in (("oracle_hawkes_aapl", "direction"), ("oracle_hawkes_aapl_big_move", "big_move")):
        shipped = load_spec(name)
        assert shipped.task.name == task and "oracle" in shipped.task.models and shipped.data[0].source == "preset"
    with pytest.raises(ParameterError, match="oracle_paths"):
        parse_spec({"data": [{"name": "h", "source": "preset", "preset": "hawkes-aapl"}],
                    "task": {"name": "direction", "horizon_events": 5, "models": ["oracle"], "reference": "oracle",
                             "oracle_paths": 2}})  # fmt: skip
