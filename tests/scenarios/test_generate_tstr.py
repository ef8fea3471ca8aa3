"""TSTR of generated flow on planted books: a generator of the true law scores like real data, one without the
signal does not; the next-move labels, the skill and the paired block bootstrap by hand."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.forecast.books import BookSeries
from scenarios.forecast.planted import planted_book
from scenarios.forecast.tasks import Task
from scenarios.generate.tstr import (
    NextMove,
    balanced_rows,
    circular_block_sums,
    paired_block_bootstrap,
    skill,
    tstr_compare,
    verdict,
)
from simlab.errors import DataError, ParameterError
from simlab.schema import NO_PRICE


def _book(signal, seed, n=3000):
    return planted_book(n, levels=2, signal=signal, rng=np.random.default_rng(seed))[0]


def test_heldout_tstr_chooses_the_task_on_real_spans_and_reads_each_source_against_the_goal(tmp_path, monkeypatch):
    import scenarios.generate.tstr_study as tstr_study
    from scenarios.generate.heldout import score_models, tstr_lines, tstr_scores

    seen = []  # the spans the task choice reads: the training and validation spans, never the held-out one
    select = tstr_study.select_task
    monkeypatch.setattr(tstr_study, "select_task", lambda train, validation, **kw: seen.append((train, validation))
                        or select(train, validation, **kw))  # fmt: skip

    real = {"train": _book(0.8, 1, n=1500), "validation": _book(0.8, 6, n=1500), "test": _book(0.8, 2, n=1500)}
    sources = {
        "train itself": [real["train"]],  # generated flow = the real training flow: TSTR is TRTR
        "no signal": [_book(0.0, 4, n=800), _book(0.0, 8, n=800)],
        "short": [_book(0.8, 5, n=30)],
    }
    out = tstr_scores(real, sources, n_boot=200, seed=5, select_options={"windows": (1,), "n_boot": 50})
    assert out["selected_on"] == "chosen on the training and validation spans"
    assert len(seen) == 1 and seen[0][0] is real["train"] and seen[0][1] is real["validation"]
    assert out["choice"]["chosen"]["task"].startswith("direction_h1_")  # the planted horizon
    assert set(out["left_out"]) == set(out["tasks"]) and all(list(why) == ["short"] for why in out["left_out"].values())
    assert all("usable training origins" in why["short"] for why in out["left_out"].values())
    assert out["tasks"] and all(
        result["paths"] == {"train itself": 1, "no signal": 2} for result in out["tasks"].values()
    )
    for result in out["tasks"].values():
        arms, rows = result["arms"][result["selected_metric"]], result["verdicts"][result["role"]]
        itself, noise = rows["train itself"], rows["no signal"]
        assert itself["verdict"] == "shown" and itself["ratio"]["low"] <= 1.0 <= itself["ratio"]["high"]
        assert noise["verdict"] == "refuted" and noise["ratio"]["high"] < 0.9
        assert itself["chance_ratio"] == arms["prior"]["ratio"] and arms["prior"]["ratio"]["high"] < 0.6
        assert itself["ratio_to_real_validation"] == arms["train itself"]["ratio_to_real_validation"]
        if result["selected_metric"] == "accuracy":  # the same fit on the same origins: exactly TRTR, paired
            assert itself["ratio"] == {"value": 1.0, "low": 1.0, "high": 1.0}
    text = "\n".join(tstr_lines(out))
    assert "train itself (1 paths" in text and text.count(": shown") == text.count(": refuted") == len(out["choice"])
    assert "short: left out: " in text and "chance ratio" in text and "goal ratio >= 0.9" in text
    given = tstr_scores(real, {"train itself": [real["train"]]}, n_boot=50, seed=5,
                        choice={"chosen": {"task": "next_move", "window": 1, "metric": "accuracy"}})  # fmt: skip
    assert given["selected_on"] == "given by the caller" and list(given["tasks"]) == ["next_move w1"]
    # two roles on one task, each read on its own metric: scored once, a verdict per role
    both = {"chosen": {"task": "next_move", "window": 1, "metric": "balanced_accuracy"},
            "chosen_accuracy": {"task": "next_move", "window": 1, "metric": "accuracy"}}  # fmt: skip
    pair = tstr_scores(real, {"no signal": sources["no signal"]}, n_boot=50, seed=5, choice=both)
    (result,) = pair["tasks"].values()
    assert set(result["verdicts"]) == {"chosen", "chosen_accuracy"}
    for role, pick in both.items():
        row = result["verdicts"][role]["no signal"]
        assert row["metric"] == pick["metric"] and row["ratio"] == result["arms"][pick["metric"]]["no signal"]["ratio"]
    assert result["arms"]["accuracy"]["no signal"]["ratio"] != result["arms"]["balanced_accuracy"]["no signal"]["ratio"]
    assert sum(line.startswith("  chosen") for line in tstr_lines(pair)) == 2
    with pytest.raises(ParameterError, match=r"role 'chosen' must give a task, a window \(an int >= 1\) and a metric"):
        tstr_scores(real, sources, choice={"chosen": {"task": "next_move", "window": 1, "metric": "auc"}})
    for window in ("x", 0, 1.0):
        with pytest.raises(ParameterError, match=r"a window \(an int >= 1\)"):
            tstr_scores(real, sources, choice={"chosen": {"task": "next_move", "window": window, "metric": "accuracy"}})
    with pytest.raises(ParameterError, match="unknown TSTR task 'nope'"):  # refused before any sampling
        score_models("unused.toml", [], tstr_choice={"chosen": {"task": "nope", "window": 1, "metric": "accuracy"}})
    with pytest.raises(ParameterError, match="`--tstr-boot` .* must be an int >= 1; got 0"):
        score_models("unused.toml", [], tstr_boot=0)
    (tmp_path / "choice.json").write_text("{}")  # refused before any sampling
    with pytest.raises(DataError, match="choice.json': expected a key 'chosen'"):
        score_models("unused.toml", [], tstr_choice=tmp_path / "choice.json")
    failed = tstr_scores(
        {**real, "validation": _book(0.8, 9, n=20)}, sources, n_boot=50, select_options={"windows": (1,)}
    )
    assert "spans has 20 rows; need more than the smallest OFI window" in failed["failed"] and tstr_lines(failed)[
        0
    ].startswith("TSTR failed: ")


def test_the_verdict_reads_the_ratio_against_the_goal_and_chance():
    chance = {"value": 0.83, "low": 0.78, "high": 0.88}
    ratio = lambda low, high: {"value": (low + high) / 2, "low": low, "high": high}  # noqa: E731
    assert verdict(ratio(0.955, 0.993), chance)["verdict"] == "shown"
    assert verdict(ratio(0.9, 0.95), chance)["verdict"] == "shown"  # the interval starts at the goal
    assert verdict(ratio(0.81, 0.899), chance)["verdict"] == "refuted"
    straddle = verdict(ratio(0.88, 0.95), chance)
    assert straddle["verdict"] == "not shown" and "holds 0.9" in straddle["reason"]
    reached = verdict(ratio(1.015, 1.124), {"value": 0.963, "low": 0.901, "high": 1.031})  # the AAPL hour
    assert reached["verdict"] == "not shown" and "chance reaches" in reached["reason"]
    assert verdict(ratio(0.81, 0.85), {**chance, "high": 0.9})["verdict"] == "not shown"  # chance at the goal
    assert verdict(ratio(float("nan"), float("nan")), chance)["verdict"] == "not shown"
    assert verdict(ratio(0.955, 0.993), chance, goal=0.99)["verdict"] == "not shown"
    assert "0.974 [0.955, 0.993]" in verdict(ratio(0.955, 0.993), chance)["reason"]


def test_compare_pools_paths_and_places_the_ratio_between_chance_and_real_flow():
    train, validation, test = _book(0.8, 1), _book(0.8, 6), _book(0.8, 2)
    generated = {"good": [_book(0.8, 3, n=1500), _book(0.8, 7, n=1500)], "bad": [_book(0.0, 4)]}
    out = tstr_compare(train, validation, test, generated, task=Task("direction", horizon_events=1), window=1,
                       n_boot=300, rng=5)  # fmt: skip
    assert out["origins"]["good"] == 2 * (1500 - 2) and out["paths"] == {"good": 2, "bad": 1}  # no seam origin
    for metric in ("accuracy", "balanced_accuracy"):
        arms = out["arms"][metric]
        good, bad, real = arms["good"], arms["bad"], arms["real_validation"]
        assert good["ratio"]["low"] > 0.9 and good["ratio"]["low"] <= 1 <= good["ratio"]["high"] + 0.02
        assert real["ratio"]["low"] > 0.9 and good["skill"]["low"] > 0.8
        assert bad["skill"]["high"] < 0.3 and arms["prior"]["ratio"]["high"] < 0.6
        assert arms["trtr"]["ratio"] == {"value": 1.0, "low": 1.0, "high": 1.0}  # paired: TRTR over itself
        assert len(good["halves"]) == 2 and min(good["halves"]) > 0.9 and "halves" not in bad
        to_real = good["ratio_to_real_validation"]
        assert 0.95 < to_real["low"] < to_real["high"] < 1.05 and bad["ratio_to_real_validation"]["high"] < 0.75
        assert "ratio_to_real_validation" not in real
        assert good["ratio_to_sources"]["bad"]["low"] > 1.3 and bad["ratio_to_sources"]["good"]["high"] < 0.75
    assert out["arms"]["balanced_accuracy"]["prior"]["accuracy"]["value"] == pytest.approx(1 / 3)  # one class
    from scenarios.generate.tstr_study import markdown

    table = markdown({"tasks": {"direction_h1_t0 w1": {**out, "role": "chosen"}}})
    good = out["arms"]["accuracy"]["good"]["ratio"]
    assert f"| accuracy | good | {out['arms']['accuracy']['good']['accuracy']['value']:.3f}" in table
    assert f"{good['value']:.3f} [{good['low']:.3f}, {good['high']:.3f}]" in table and "| 2996 |" in table
    with pytest.raises(ParameterError, match="path per generated source"):
        tstr_compare(train, validation, test, {"none": []}, task=NextMove())


def _series(bid, ask):
    n = len(bid)
    one = np.ones((n, 1), np.int64)
    col = lambda v: np.asarray(v, np.int64)[:, None]  # noqa: E731
    zeros = np.zeros(n, np.int64)
    return BookSeries("hand", np.arange(n, dtype=np.int64), col(bid), one, col(ask), one, zeros, zeros, zeros, zeros)


def test_next_move_labels_by_hand():
    # mid2 per row: 22 22 23 23 22 (no bid) 22 24 24
    series = _series([10, 10, 11, 11, 10, NO_PRICE, 10, 10, 10], [12, 12, 12, 12, 12, 12, 12, 14, 14])
    y, end, ok = NextMove().labels(series)
    assert ok.tolist() == [True, True, True, True, False, False, True, False, False]
    assert y[ok].tolist() == [1, 1, -1, -1, 1] and end[ok].tolist() == [2, 2, 4, 4, 7]
    _, _, near = NextMove(max_events=1).labels(series)
    assert near.tolist() == [False, True, False, True, False, False, True, False, False]
    with pytest.raises(ParameterError, match="max_events"):
        NextMove(max_events=0)


def test_skill_and_circular_block_sums_by_hand():
    assert skill(0.6, 0.5, 0.7) == pytest.approx(0.5) and skill(0.4, 0.5, 0.7) == pytest.approx(-0.5)
    assert np.isnan(skill(0.6, 0.5, 0.5))
    assert circular_block_sums(np.array([1, 0, 0, 1]), 2).tolist() == [1, 0, 1, 2]
    assert circular_block_sums(np.array([1, 0, 0, 1]), 4).tolist() == [2, 2, 2, 2]
    with pytest.raises(ParameterError, match="block"):
        circular_block_sums(np.array([1, 0]), 3)


def test_paired_bootstrap_by_hand():
    a = np.array([1, 1, 1, 0, 1, 0, 1, 1.0])
    b = np.array([1, 0, 1, 0, 1, 0, 0, 1.0])
    prior = np.array([0, 0, 1, 0, 1, 0, 0, 0.0])
    # one block of the whole circle: every replicate is the sample itself
    out = paired_block_bootstrap({"trtr": a, "gen": b, "prior": prior}, block=8, n_boot=50, rng=1)
    assert out["gen"]["accuracy"] == {"value": 0.5, "low": 0.5, "high": 0.5}
    assert out["gen"]["ratio"]["value"] == pytest.approx(0.5 / 0.75) == out["gen"]["ratio"]["low"]
    assert out["gen"]["skill"]["value"] == pytest.approx((0.5 - 0.25) / (0.75 - 0.25))
    # balanced accuracy: labels 1 at rows 0-5, -1 at rows 6-7: gen hits 3/6 and 1/2, trtr 4/6 and 2/2
    labels = np.array([1, 1, 1, 1, 1, 1, -1, -1])
    out = paired_block_bootstrap({"trtr": a, "gen": b, "prior": prior}, block=8, n_boot=50, rng=1, labels=labels)
    assert out["gen"]["accuracy"]["value"] == pytest.approx(0.5)
    assert out["trtr"]["accuracy"]["value"] == pytest.approx(5 / 6) == out["trtr"]["accuracy"]["low"]
    assert out["prior"]["accuracy"]["high"] == pytest.approx((2 / 6 + 0) / 2)
    # identical arms: paired resampling gives a ratio of exactly 1 in every replicate
    rng = np.random.default_rng(2)
    hits = (rng.random(500) < 0.6).astype(float)
    out = paired_block_bootstrap({"trtr": hits, "gen": hits.copy()}, prior=None, block=10, n_boot=200, rng=3)
    assert out["gen"]["ratio"] == {"value": 1.0, "low": 1.0, "high": 1.0} and out["gen"]["accuracy"]["low"] < 0.6
    with pytest.raises(ParameterError, match="one length"):
        paired_block_bootstrap({"trtr": hits, "gen": hits[:-1]}, prior=None, block=10)


def test_bootstrap_recovers_the_ratio_and_widens_with_dependent_hits():
    rng = np.random.default_rng(4)
    n = 20000
    gen, trtr = (rng.random(n) < 0.6).astype(float), (rng.random(n) < 0.5).astype(float)
    ratio = paired_block_bootstrap({"trtr": trtr, "gen": gen}, prior=None, block=1, n_boot=1000, rng=5)["gen"]["ratio"]
    delta = 2 * 1.96 * np.sqrt((0.24 + 0.36 / 0.25 * 0.25) / 0.25 / n)  # the delta method's 95 % width
    assert ratio["low"] < 1.2 < ratio["high"] and 0.8 < (ratio["high"] - ratio["low"]) / delta < 1.2
    runs = np.repeat((rng.random(n // 50) < 0.6).astype(float), 50)  # hits constant over runs of 50 origins
    ones = np.ones(n)
    width = {}
    for block in (1, 100):
        row = paired_block_bootstrap({"trtr": ones, "gen": runs}, prior=None, block=block, n_boot=500, rng=6)["gen"]
        width[block] = row["accuracy"]["high"] - row["accuracy"]["low"]
    assert width[100] > 4 * width[1]  # the true standard error is sqrt(50) = 7.1 times the iid one


def test_balanced_rows_cut_every_class_to_the_rarest():
    y = np.array([1, 1, 1, 1, 0, 0, -1, -1, -1, 1.0])
    rows = np.arange(1, 10)
    picked = balanced_rows(y, rows, np.random.default_rng(0))
    assert np.all(np.diff(picked) > 0) and set(picked) <= set(rows.tolist())
    assert sorted(np.unique(y[picked], return_counts=True)[1].tolist()) == [2, 2, 2]


def test_select_task_finds_the_planted_horizon_and_series_round_trip(tmp_path):
    from scenarios.generate.tstr_study import load_series, save_series, select_task

    train, validation = _book(0.8, 1, n=1500), _book(0.8, 6, n=1500)
    out = select_task(train, validation, windows=(1,), n_boot=50)
    assert out["chosen"]["task"].startswith("direction_h1_") and out["chosen"]["chance_ratio"]["high"] < 0.6
    assert len(out["candidates"]) == 22  # 11 tasks x 2 metrics
    assert out["chosen_accuracy"]["metric"] == "accuracy" and out["chosen_accuracy"]["task"].startswith("direction_h1_")
    save_series(tmp_path / "p.npz", [train, validation], {"seed": 1})
    back, meta = load_series(tmp_path / "p.npz")
    assert meta == {"seed": 1, "paths": 2} and np.array_equal(back[1].ask_qty, validation.ask_qty)
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(DataError, match="bad.npz"):
        load_series(tmp_path / "bad.npz")


def test_series_of_drops_the_transient_rows_of_a_book_rebuild():
    import xarray as xr

    from scenarios.generate.tstr import series_of
    from simlab.schema import EventKind

    # rows: an add, a trade that empties the bid (transient), CLEAR and SET_LEVEL at the same time, an add
    kind = np.array([EventKind.ADD, EventKind.TRADE, EventKind.CLEAR, EventKind.SET_LEVEL, EventKind.ADD], np.int8)
    ts = np.array([1, 2, 2, 2, 3], np.int64) * 10**9
    bid = np.array([[100], [NO_PRICE], [NO_PRICE], [99], [99]], np.int64)
    ask = np.full((5, 1), 102, np.int64)
    qty = np.ones((5, 1), np.int64)
    books = xr.Dataset({"bid_price": (("time", "level"), bid), "ask_price": (("time", "level"), ask),
                        "bid_qty": (("time", "level"), qty), "ask_qty": (("time", "level"), qty)},
                       coords={"ts_ns": ("time", ts)})  # fmt: skip
    fields = {"kind": kind, "side": np.ones(5, np.int8), "price_ticks": np.full(5, 100), "qty_lots": np.ones(5)}
    events = xr.Dataset({k: ("event", v) for k, v in fields.items()}, coords={"ts_ns": ("event", ts)})
    series = series_of("rebuild", {"events": events, "books": books})
    assert series.kind.tolist() == [EventKind.ADD, EventKind.SET_LEVEL, EventKind.ADD]
    assert series.bid_price[:, 0].tolist() == [100, 99, 99]
