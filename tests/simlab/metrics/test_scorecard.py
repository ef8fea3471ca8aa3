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
    assert dataset.sizes == {"score": 52, "touch_type": 6, "lag": 199, "horizon_quantity": 19, "window": 5}
    assert document["horizon"]["mean_l1"] == pytest.approx(dataset["horizon_mean_l1"].values.tolist(), rel=1e-5)
    assert document["horizon"]["scored"] == [18] * 5 and document["meta"]["aggregate_trades"] is False
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


def _aggregated_twin(ts, kind, side, qty, kinds):
    """Slow twin of aggregate_trades: walk the events, extend the open run or start a new one."""
    firsts, lasts, sizes = [], [], []
    for i in range(len(ts)):
        same = (
            firsts and kind[i] in kinds and (ts[i], kind[i], side[i]) == tuple(x[lasts[-1]] for x in (ts, kind, side))
        )
        if same:
            lasts[-1], sizes[-1] = i, sizes[-1] + qty[i]
        else:
            firsts.append(i), lasts.append(i), sizes.append(qty[i])
    return firsts, lasts, sizes


def test_aggregate_trades_matches_its_slow_twin_and_keeps_the_book_after_the_order():
    from simlab.metrics.scorecard import aggregate_trades
    from simlab.schema import EventKind

    data = zi_book(6, duration_s=60.0)
    events, books = data["events"], data["books"]
    rng = np.random.default_rng(0)  # stamp runs of events alike, so that trade runs (and add runs) appear
    ts = events["ts_ns"].values.copy()
    tied = np.flatnonzero(rng.random(ts.size - 1) < 0.5) + 1
    for i in tied:
        ts[i] = ts[i - 1]
    events = events.assign(ts_ns=("event", ts))
    merged, rows = aggregate_trades(events, books)
    columns = [events[name].values for name in ("ts_ns", "kind", "side", "qty_lots")]
    firsts, lasts, sizes = _aggregated_twin(*columns, kinds=(EventKind.TRADE, EventKind.TRADE_HIDDEN))
    assert ts.size - len(firsts) > 50  # trade runs were merged (72 here)
    assert merged["qty_lots"].values.tolist() == sizes
    assert merged["price_ticks"].values.tolist() == events["price_ticks"].values[firsts].tolist()
    for name in books.data_vars:
        assert np.array_equal(rows[name].values, books[name].values[lasts])
    assert not np.array_equal(books["ask_qty"].values[firsts], books["ask_qty"].values[lasts])  # the row matters
    assert merged.attrs == events.attrs
    assert np.isin(merged["kind"].values, [EventKind.ADD]).sum() == (events["kind"].values == EventKind.ADD).sum()
    every, _ = aggregate_trades(events, kinds=None)
    assert every.sizes["event"] == len(_aggregated_twin(*columns, kinds=tuple(EventKind))[0]) < len(firsts)


def test_split_prints_score_zero_once_aggregated():
    """Real: each of 2000 Poisson market orders split into 1-3 prints at one timestamp; synthetic: the orders.

    Unaggregated, the real inter-arrival law gains z zero intervals (in the 1 us floor bin) beside the synthetic
    N ones: the total variation is exactly z / (N + z). Aggregated, the two datasets are the same: every score 0.
    """
    from simlab.schema import EventKind, make_events

    rng = np.random.default_rng(1)
    ts = np.cumsum(rng.exponential(1e9, 2000)).astype(np.int64)
    side = rng.choice([-1, 1], ts.size)
    prints = rng.integers(1, 4, ts.size)
    common = dict(kind=EventKind.TRADE, price_ticks=100, tick_size=0.01, lot_size=1.0, instrument="TOY", venue="t")
    synthetic = make_events(ts_ns=ts, side=side, qty_lots=prints, **common)
    real = make_events(ts_ns=np.repeat(ts, prints), side=np.repeat(side, prints), qty_lots=1, **common)
    raw = score(synthetic, real, seed=2, n_boot=20, discriminative=False)
    merged = score(synthetic, real, seed=2, n_boot=20, discriminative=False, aggregate_trades=True)
    rows = {(r.quantity, r.metric): r.distance for r in raw.rows if r.distance is not None}
    zeros, intervals = int(prints.sum() - ts.size), ts.size - 1
    assert rows["log10_interarrival_s", "l1"].value == pytest.approx(zeros / (intervals + zeros), rel=1e-12)
    assert raw.meta["real_events"] == prints.sum() and merged.meta["real_events"] == ts.size
    assert merged.meta["aggregate_trades"] is True
    scored = [r.distance.value for r in merged.rows if r.distance is not None]
    assert len(scored) >= 4 and max(scored) == 0.0


def test_same_seed_same_numbers_other_seed_other_intervals(zi_pair, same_model):
    """One root seed fixes every bootstrap and the classifier split: the serialised card is the same text."""
    again = score(zi_pair[1], zi_pair[0], seed=3, n_boot=50)
    assert json.dumps(again.to_dict()) == json.dumps(same_model.to_dict())
    other = score(zi_pair[1], zi_pair[0], seed=4, n_boot=50)
    values = [(r.distance.value, r.distance.low) for r in same_model.rows if r.distance is not None]
    other_values = [(r.distance.value, r.distance.low) for r in other.rows if r.distance is not None]
    assert [v for v, _ in values] == [v for v, _ in other_values]  # the estimates do not depend on the seed
    assert [low for _, low in values] != [low for _, low in other_values]  # their intervals do
