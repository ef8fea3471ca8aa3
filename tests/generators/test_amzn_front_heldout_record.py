"""Session 41's held-out records of the rollout's two trade rules (docs/generators_amzn.md, "Session 41: a trade
executes against one order"): the three "own" long models, each sampled with trade_fill "queue" and, copied under
another name, "front", one run per training seed at one sampling seed, 4 paths each, 4 real windows, every pooled
reading at one window, the runaway guard at F = 2. The verdicts of the rule committed before the runs (3b5d8b1)
are recomputed here from the records, so the page cannot say more than they hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

LIBRARY = Path(__file__).parents[2] / "scenarios" / "library"
RUNS = {  # training seed -> (record, the model, its copy sampled under "front")
    20261203: ("generate_amzn_tiny_long_own.heldout-front-20261212.json", "outputs/s39/own_long.model",
               "outputs/s41/h/own_long_front.model"),
    5: ("generate_amzn_tiny_long_own.heldout-front-20261212-seed5.json", "outputs/s39/own_long5.model",
        "outputs/s41/h/own_long5_front.model"),
    11: ("generate_amzn_tiny_long_own.heldout-front-20261212-seed11.json", "outputs/s40/own_long11.model",
         "outputs/s41/h/own_long11_front.model"),
}  # fmt: skip
GOAL_L1, GOAL_AUC = 0.2, 0.8


def _records() -> dict[int, dict]:
    return {seed: json.loads((LIBRARY / name).read_text()) for seed, (name, _, _) in RUNS.items()}


def _auc_verdict(reading: dict) -> str:  # reading 2, one model and rule
    return "shown" if reading["high"] <= GOAL_AUC else "refuted" if reading["low"] > GOAL_AUC else "not shown"


def test_the_records_are_clean_runs_of_the_rule_s_command():
    for seed, record in _records().items():
        _, queue, front = RUNS[seed]
        config = json.loads(record["provenance"]["config"])
        assert record["provenance"]["seed"] == config["seed"] == 20261212
        assert record["provenance"]["git_commit"] == "22119843c7d1a4efd3b61ac0d93d4354ecb49b53"  # clean, after 3b5d8b1
        assert config["models"] == [queue, front] and config["trade_fill"] == ["queue", "front"]
        assert config["spec"] == "scenarios/library/generate_amzn_tiny.toml" and config["stop_when_stuck"] is True
        assert config["paths"] == 4 and config["real_windows"] == 4 and config["pooled_classifier"] is True
        assert config["runaway_factor"] == 2.0 and record["runaway_guard"]["messages"] == 1328
        assert [record["models"][m]["trade_fill"] for m in (queue, front)] == ["queue", "front"]
        assert record["pooled_window"] == 22  # the smallest source's window: a real window of 918 level-1 events
        # the two rules differ only in the trades held to the front order: none under "queue", 74-251 per path
        assert all(p["front_held"] == 0 for p in record["models"][queue]["paths"])
        assert all(74 <= p["front_held"] <= 251 for p in record["models"][front]["paths"])


def test_the_rule_s_verdicts_are_the_records():
    records = _records()
    # reading 1: front - queue, mean L1, per path: lower (interval below 0) on 2 paths of each seed, higher on none:
    # 6 of 12 lower and none higher, so front is shown better
    lower = higher = 0
    for seed, record in records.items():
        _, queue, front = RUNS[seed]
        (rows,) = record["comparisons"].values()
        assert list(record["comparisons"]) == [f"{front} vs {queue}"] and len(rows) == 4
        lower += sum(row["difference"]["high"] < 0 for row in rows)
        higher += sum(row["difference"]["low"] > 0 for row in rows)
    assert (lower, higher) == (6, 0)
    verdict = "shown better" if lower >= 6 and higher == 0 else "shown worse" if higher >= 6 and lower == 0 else "no"
    assert verdict == "shown better"
    # reading 2: the pooled classifier, AUC <= 0.8 not shown under either rule (front's points 0.702-0.709, its
    # upper ends 0.832-0.853; queue's 0.782-0.813); every reading overlaps the real windows' (the floor)
    floors = {json.dumps(r["real"]["pooled_classifier"], sort_keys=True) for r in records.values()}
    assert len(floors) == 1  # the same real windows, seed and window in every run
    floor = next(iter(records.values()))["real"]["pooled_classifier"]
    assert (round(floor["auc"], 3), round(floor["low"], 3), round(floor["high"], 3)) == (0.673, 0.416, 0.892)
    points = {"queue": [], "front": []}
    for seed, record in records.items():
        _, queue, front = RUNS[seed]
        for rule, model in (("queue", queue), ("front", front)):
            reading = record["models"][model]["pooled_classifier"]
            assert _auc_verdict(reading) == "not shown" and reading["window"] == 22
            assert reading["high"] >= floor["low"] and reading["low"] <= floor["high"]  # indistinguishable
            points[rule].append(round(reading["auc"], 3))
    assert points == {"queue": [0.813, 0.782, 0.797], "front": [0.702, 0.703, 0.709]}
    # reading 3: mean L1 <= 0.2 with its interval: 6 of 12 paths under front (8 asked: not shown), 1 of 12 under
    # queue; the real windows: 1 of 4
    shown = {"queue": 0, "front": 0}
    for seed, record in records.items():
        _, queue, front = RUNS[seed]
        for rule, model in (("queue", queue), ("front", front)):
            shown[rule] += sum(p["mean_l1"]["high"] <= GOAL_L1 for p in record["models"][model]["paths"])
    assert shown == {"queue": 1, "front": 6}
    real = next(iter(records.values()))["real"]["windows"]
    assert sum(w["mean_l1"]["high"] <= GOAL_L1 for w in real) == 1
    # reading 4: no path ran away or got stuck under either rule
    for record in records.values():
        for model in record["models"].values():
            assert all(p["runaway"] == 0 and p["stuck"] == 0 for p in model["paths"])


def test_tstr_is_shown_under_both_rules():
    for seed, record in _records().items():
        _, queue, front = RUNS[seed]
        tstr = record["tstr"]
        chosen = tstr["choice"]["chosen"]
        rows = tstr["tasks"][f"{chosen['task']} w{chosen['window']}"]["verdicts"]["chosen"]
        for model in (queue, front):
            assert rows[model]["verdict"] == "shown" and rows[model]["ratio"]["value"] == pytest.approx(0.97, abs=0.01)
