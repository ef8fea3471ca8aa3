"""The scorecard: identical inputs score 0, another run of the same model sits on the floor, bad input is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simlab.errors import DataError
from simlab.metrics.scorecard import score
from tests.simlab.metrics.conftest import zi_book


@pytest.fixture(scope="module")
def same_model(zi_pair):
    return score(zi_pair[1], zi_pair[0], seed=3, n_boot=50)


def test_identical_inputs_score_zero(zi_pair):
    card = score(zi_pair[0], zi_pair[0], seed=1, n_boot=20, discriminative=False)
    scored = [row for row in card.rows if row.distance is not None]
    assert len(card.rows) == 52  # (19 quantities + 4 conditional) x 2 metrics + 6 responses
    # 10 min of this book: 9 whole minutes of traded volume and 12 cancels at the touch that move the mid, too few
    assert {(r.quantity, r.reason) for r in card.rows if r.distance is None} == {
        ("traded_volume_per_minute", "fewer than 10 values (real 9, synthetic 9)"),
        ("response_cancel_1", "fewer than 20 cancel_1 touch events (real 12, synthetic 12)"),
    }
    assert len(scored) == 49
    assert all(row.distance.value == 0.0 for row in scored)
    assert card.summary["l1"]["mean"]["value"] == 0.0 and card.summary["w1"]["iqm"]["value"] == 0.0


def test_another_run_of_the_same_model_scores_near_the_floor(same_model):
    """Two runs of one model: most scores inside the real-vs-real floor interval, all small.

    Ten minutes of book are short against the slow drift of its depth, so the block bootstrap's floor is a little
    narrow for the depth scores: two thirds inside, not 99 %.
    """
    rows = [r for r in same_model.rows if r.distance is not None and r.family == "unconditional"]
    inside = [r.distance.floor_low <= r.distance.value <= r.distance.floor_high for r in rows]
    assert np.mean(inside) >= 2 / 3
    assert max(r.distance.value for r in rows if r.metric == "l1") < 0.3
    assert 0.3 < same_model.discriminative.auc < 0.75  # a coin flip on held-out windows


def test_a_different_model_scores_worse(same_model, zi_pair):
    tighter = zi_book(4, limit_rate=2.0)  # more limit orders: a thicker book, tighter spread
    card = score(tighter, zi_pair[0], seed=3, n_boot=50)
    worse = {row.quantity: row.distance for row in card.rows if row.metric == "l1" and row.distance is not None}
    same = {row.quantity: row.distance for row in same_model.rows if row.metric == "l1" and row.distance is not None}
    for quantity in ("spread_ticks", "bid_volume", "ask_volume"):
        assert worse[quantity].low > same[quantity].high
        assert worse[quantity].low > worse[quantity].floor_high
    assert card.summary["l1"]["mean"]["low"] > same_model.summary["l1"]["mean"]["high"]
    assert card.discriminative.low > 0.9


def test_the_result_serialises(same_model, tmp_path):
    document = json.loads(json.dumps(same_model.to_dict()))
    assert document["meta"]["instrument"] == "TOY" and len(document["scores"]) == 52
    assert set(document["stylized_facts"]["interarrival_cv"]) == {"real", "synthetic"}
    dataset = same_model.to_dataset()
    assert dataset.sizes == {"score": 52, "touch_type": 6, "lag": 199}
    assert json.loads(dataset.attrs["summary"]) == document["summary"]


def test_events_only_data_gets_not_applicable_book_scores(zi_pair):
    real, synthetic = zi_pair[0], zi_pair[1]["events"]
    card = score(synthetic, real, seed=1, n_boot=20, discriminative=False)
    rows = {(row.quantity, row.metric): row for row in card.rows}
    assert rows["spread_ticks", "l1"].distance is None
    assert rows["spread_ticks", "l1"].reason.startswith("synthetic data: missing books")
    assert rows["log10_interarrival_s", "l1"].distance is not None
    assert rows["response_market_0", "mae_ticks"].distance is None
    with pytest.raises(DataError, match=r"not applicable: .*spread_ticks: synthetic data: missing books"):
        score(synthetic, real, seed=1, n_boot=20, strict=True, discriminative=False)


def test_mismatched_tick_sizes_and_instruments_are_refused(zi_pair):
    real, synthetic = zi_pair[0], {name: ds.copy() for name, ds in zi_pair[1].items()}
    synthetic["events"].attrs["tick_size"] = 0.05
    with pytest.raises(DataError, match=r"tick sizes differ \(synthetic 0.05, real 0.01\)"):
        score(synthetic, real, seed=1)
    synthetic["events"].attrs.update(tick_size=0.01, instrument="OTHER")
    with pytest.raises(DataError, match="instruments differ"):
        score(synthetic, real, seed=1)
    with pytest.raises(DataError, match="mapping with 'events'"):
        score({"books": real["books"]}, real, seed=1)


def test_conditional_score_is_the_real_share_weighted_mean_of_group_scores():
    from simlab.metrics.distances import total_variation
    from simlab.metrics.scorecard import _conditional

    rng = np.random.default_rng(0)
    condition_real, condition_synthetic = rng.integers(1, 4, 3000).astype(float), rng.integers(1, 4, 2000).astype(float)
    real = rng.poisson(3 * condition_real).astype(float)
    synthetic = rng.poisson(3 * condition_synthetic + 1).astype(float)
    out = _conditional(real, condition_real, synthetic, condition_synthetic, "discrete", rng, 20, 0.99)
    expected = 0.0
    for group in (1.0, 2.0, 3.0):
        a, b = real[condition_real == group], synthetic[condition_synthetic == group]
        edges = np.arange(min(a.min(), b.min()) - 0.5, max(a.max(), b.max()) + 1.5)
        tv = total_variation(np.histogram(a, edges)[0].astype(float), np.histogram(b, edges)[0].astype(float))
        expected += tv * a.size / real.size
    assert out["l1"].value == pytest.approx(expected, rel=1e-12)
