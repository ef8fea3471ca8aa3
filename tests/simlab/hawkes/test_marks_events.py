"""Mark laws and the events written in the schema with their true parameters."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from simlab.errors import ParameterError
from simlab.hawkes import (
    EmpiricalMarks,
    GeometricMarks,
    HawkesParams,
    LogNormalMarks,
    hawkes_events,
    simulate_hawkes,
)
from simlab.schema import EventKind, validate_events

PARAMS = HawkesParams(
    baseline=[1.0, 0.8], adjacency=[[0.3, 0.2], [0.1, 0.4]], decays=[[2.0, 3.0], [1.0, 5.0]], names=("buy", "sell")
)


def test_marks_follow_their_laws_and_do_not_change_times():
    values = np.array([1, 1, 2, 5, 10, 100])
    laws = [EmpiricalMarks(values), GeometricMarks(4.0)]
    (plain,) = simulate_hawkes(PARAMS, 5000.0, rng=3)
    (marked,) = simulate_hawkes(PARAMS, 5000.0, rng=3, marks=laws)
    assert plain.times_s.tobytes() == marked.times_s.tobytes() and plain.marks is None
    assert marked.marks.dtype == np.int64 and marked.marks.min() >= 1
    buys, sells = marked.marks[marked.dims == 0], marked.marks[marked.dims == 1]
    assert set(np.unique(buys)) <= set(values.tolist())
    expected = np.array([np.mean(values == v) for v in np.unique(values)])
    observed = np.array([np.sum(buys == v) for v in np.unique(values)])
    assert stats.chisquare(observed, expected * buys.size).pvalue > 1e-3
    assert abs(sells.mean() - 4.0) < 4 * np.sqrt(12.0 / sells.size)  # geometric variance (1 - p) / p^2 = 12
    (again,) = simulate_hawkes(PARAMS, 5000.0, rng=3, marks=laws)
    assert again.marks.tobytes() == marked.marks.tobytes()


def test_lognormal_marks_round_to_at_least_one_lot():
    sizes = LogNormalMarks(mu=1.0, sigma=1.2).sample(np.random.default_rng(0), 200_000)
    assert sizes.dtype == np.int64 and sizes.min() >= 1
    assert abs(np.median(sizes) - np.rint(np.e)) <= 1
    assert np.all(LogNormalMarks(mu=-5.0, sigma=0.1).sample(np.random.default_rng(0), 100) == 1)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: EmpiricalMarks(np.array([1.0, 0.5])), "`values` of EmpiricalMarks must be whole numbers"),
        (lambda: EmpiricalMarks(np.array([], dtype=int)), "`values` of EmpiricalMarks must be a non-empty 1-D"),
        (lambda: GeometricMarks(0.5), "`mean` of GeometricMarks must be finite and >= 1 lot; got 0.5"),
        (lambda: LogNormalMarks(0.0, -1.0), "`sigma` of LogNormalMarks must be finite and >= 0; got -1.0"),
        (lambda: simulate_hawkes(PARAMS, 1.0, rng=0, marks=[GeometricMarks(2.0)] * 3), "one law per dimension"),
        (lambda: simulate_hawkes(PARAMS, 1.0, rng=0, marks=[GeometricMarks(2.0), 3]), "`marks\\[1\\]`"),
    ],
)
def test_bad_marks(build, match):
    with pytest.raises(ParameterError, match=match):
        build()


def test_hawkes_events_schema_and_true_params():
    (path,) = simulate_hawkes(PARAMS, 200.0, rng=5, marks=GeometricMarks(3.0))
    start = 1_700_000_000_000_000_000
    events = hawkes_events(path, PARAMS, start_ns=start, seed=5, instrument="BTCUSDT")
    validate_events(events)
    n = path.times_s.shape[0]
    assert events.sizes["event"] == n
    np.testing.assert_array_equal(events["ts_ns"].values, start + np.rint(path.times_s * 1e9).astype(np.int64))
    np.testing.assert_array_equal(events["side"].values, np.where(path.dims == 0, 1, -1))
    assert np.all(events["kind"].values == EventKind.TRADE)
    np.testing.assert_array_equal(events["qty_lots"].values, path.marks)
    np.testing.assert_array_equal(events["dimension"].values, path.dims)
    assert events["dimension"].dtype == np.int32
    assert HawkesParams.from_dict(json.loads(events.attrs["true_params"])) == PARAMS
    assert events.attrs["seed"] == 5 and events.attrs["instrument"] == "BTCUSDT"


def test_hawkes_events_kinds_sides_and_default_quantities():
    params = HawkesParams(baseline=[1.0, 1.0, 1.0], adjacency=np.full((3, 3), 0.1), decays=np.ones((3, 3)))
    (path,) = simulate_hawkes(params, 50.0, rng=1)
    events = hawkes_events(path, params)
    assert np.all(events["side"].values == 0) and np.all(events["qty_lots"].values == 1)
    kinds = [EventKind.ADD, EventKind.CANCEL, EventKind.TRADE]
    events = hawkes_events(path, params, kinds=kinds, sides=[1, -1, 1])
    np.testing.assert_array_equal(events["kind"].values, np.array(kinds, dtype=np.int8)[path.dims])
    with pytest.raises(ParameterError, match="`sides` of hawkes_events must hold one value per dimension \\(3\\)"):
        hawkes_events(path, params, sides=[1, -1])
    with pytest.raises(ParameterError, match="`path` of hawkes_events must have dims in \\[0, 2\\)"):
        hawkes_events(path, PARAMS)
