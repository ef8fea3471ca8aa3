"""Session 42's held-out records of the order encoding (docs/generators_amzn.md, "Session 42: a TRADE message of the
whole marketable order"): per training seed, the "own" long model trained on fills under trade_fill "queue" and,
copied, "front", and the same spec trained on orders (trade_message "order") under "queue", one run per seed at
one sampling seed, 4 paths each, 4 real windows, every pooled reading at one window, the runaway guard at F = 2.
The verdicts of the rule committed before the runs (08388e2) are recomputed here from the records, so the page
cannot say more than they hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

LIBRARY = Path(__file__).parents[2] / "scenarios" / "library"
RECORD = "generate_amzn_tiny_long_own_order.heldout-20261213{}.json"
RUNS = {  # training seed -> (record suffix, the fill model, its copy sampled under "front", the order model)
    20261203: ("", "outputs/s39/own_long.model", "outputs/s41/h/own_long_front.model", "outputs/s42/order.model"),
    5: ("-seed5", "outputs/s39/own_long5.model", "outputs/s41/h/own_long5_front.model", "outputs/s42/order5.model"),
    11: ("-seed11", "outputs/s40/own_long11.model", "outputs/s41/h/own_long11_front.model",
         "outputs/s42/order11.model"),
}  # fmt: skip
ARMS = ("queue", "front", "order")
GOAL_L1, GOAL_AUC = 0.2, 0.8


def _records() -> dict[int, dict]:
    return {seed: json.loads((LIBRARY / RECORD.format(run[0])).read_text()) for seed, run in RUNS.items()}


def _arms(seed: int) -> dict[str, str]:
    return dict(zip(ARMS, RUNS[seed][1:], strict=True))


def _count(rows: list[dict]) -> tuple[int, int]:  # paths lower (interval below 0), higher (above 0)
    return sum(r["difference"]["high"] < 0 for r in rows), sum(r["difference"]["low"] > 0 for r in rows)


def _verdict(lower: int, higher: int) -> str:
    return "shown better" if lower >= 6 and higher == 0 else "shown worse" if higher >= 6 and lower == 0 else "no"


def test_the_records_are_clean_runs_of_the_rule_s_command():
    for seed, record in _records().items():
        arms = _arms(seed)
        config = json.loads(record["provenance"]["config"])
        assert record["provenance"]["seed"] == config["seed"] == 20261213
        assert record["provenance"]["git_commit"] == "08388e2a546231216067211e51ac0d1bbf24fd53"  # the rule's commit
        assert config["models"] == list(arms.values()) and config["trade_fill"] == ["queue", "front", "queue"]
        assert config["spec"] == "scenarios/library/generate_amzn_tiny.toml" and config["stop_when_stuck"] is True
        assert config["paths"] == 4 and config["real_windows"] == 4 and config["pooled_classifier"] is True
        assert config["runaway_factor"] == 2.0 and record["runaway_guard"]["messages"] == 1328
        assert record["pooled_window"] == 22
        assert [record["models"][m]["trade_fill"] for m in arms.values()] == ["queue", "front", "queue"]
        assert all(p["front_held"] == 0 for arm in ("queue", "order") for p in record["models"][arms[arm]]["paths"])
        assert all(p["front_held"] > 0 for p in record["models"][arms["front"]]["paths"])


def test_the_rule_s_verdicts_are_the_records():
    records = _records()
    # readings 1 and 2: order - queue and front - queue, mean L1, per path, over the 12 paths
    counts = {"order": [0, 0], "front": [0, 0]}
    for seed, record in records.items():
        arms = _arms(seed)
        assert list(record["comparisons"]) == [f"{arms[a]} vs {arms['queue']}" for a in ("front", "order")]
        for arm in counts:
            rows = record["comparisons"][f"{arms[arm]} vs {arms['queue']}"]
            assert len(rows) == 4
            lower, higher = _count(rows)
            counts[arm][0] += lower
            counts[arm][1] += higher
    # 1: orders lower on 3 paths and higher on 2: not shown either way
    assert counts["order"] == [3, 2] and _verdict(*counts["order"]) == "no"
    # 2: front lower on 5 paths, higher on none: session 41's "shown better" (6 of 12) is not replicated, by one path
    assert counts["front"] == [5, 0] and _verdict(*counts["front"]) == "no"
    # 3: the pooled classifier, AUC <= 0.8 not shown for any arm at any seed; every reading overlaps the real
    # windows' (the floor), so indistinguishable
    floors = {json.dumps(r["real"]["pooled_classifier"], sort_keys=True) for r in records.values()}
    assert len(floors) == 1
    floor = next(iter(records.values()))["real"]["pooled_classifier"]
    assert (round(floor["auc"], 3), round(floor["low"], 3), round(floor["high"], 3)) == (0.675, 0.437, 0.932)
    points = {arm: [] for arm in ARMS}
    for seed, record in records.items():
        for arm, model in _arms(seed).items():
            reading = record["models"][model]["pooled_classifier"]
            assert reading["low"] <= GOAL_AUC < reading["high"] and reading["window"] == 22  # not shown
            assert reading["high"] >= floor["low"] and reading["low"] <= floor["high"]  # indistinguishable
            points[arm].append(round(reading["auc"], 3))
    assert points == {"queue": [0.796, 0.796, 0.812], "front": [0.72, 0.725, 0.701], "order": [0.79, 0.772, 0.791]}
    # 4: mean L1 <= 0.2 with its interval (8 of 12 asked): queue 3, front 7, orders 1; the real windows 1 of 4
    shown = dict.fromkeys(ARMS, 0)
    for seed, record in records.items():
        for arm, model in _arms(seed).items():
            shown[arm] += sum(p["mean_l1"]["high"] <= GOAL_L1 for p in record["models"][model]["paths"])
    assert shown == {"queue": 3, "front": 7, "order": 1}
    real = next(iter(records.values()))["real"]["windows"]
    assert sum(w["mean_l1"]["high"] <= GOAL_L1 for w in real) == 1


def test_fills_per_marketable_order_front_is_nearest_the_data_and_orders_do_not_bring_it_down():
    # reading 5: the held-out span's orders fill 1.27 resting orders each; the rollout's "queue" arms 1.62-2.14
    # (the order models' 1.69-2.14, no fewer than the fill models'), "front" 1.10-1.26; no path ran away or stuck
    fills = dict.fromkeys(ARMS, ())
    for seed, record in _records().items():
        assert record["real"]["test_order_fills"]["fills_per_order"] == pytest.approx(1.2744, abs=1e-4)
        for arm, model in _arms(seed).items():
            paths = record["models"][model]["paths"]
            assert all(p["runaway"] == 0 and p["stuck"] == 0 for p in paths)
            fills[arm] += tuple(p["order_fills"]["fills_per_order"] for p in paths)
    assert 1.6 < min(fills["queue"]) and max(fills["queue"]) < 2.0
    assert 1.65 < min(fills["order"]) and max(fills["order"]) < 2.15
    assert 1.09 < min(fills["front"]) and max(fills["front"]) < 1.27


def test_tstr_is_shown_for_every_arm():
    for seed, record in _records().items():
        tstr = record["tstr"]
        chosen = tstr["choice"]["chosen"]
        rows = tstr["tasks"][f"{chosen['task']} w{chosen['window']}"]["verdicts"]["chosen"]
        for model in _arms(seed).values():
            assert rows[model]["verdict"] == "shown" and rows[model]["ratio"]["low"] >= 0.9


def test_the_ground_truth_with_orders_is_its_records():
    # the Hawkes spread spec trained on orders (run at 08388e2): 2 of 4 paths inside the floor, excess +0.019 to
    # +0.044; paired against the model trained on fills (same references and scoring seeds) not told apart on any
    # path; fills per order: the order model 1.24-1.30, the fill model 1.29-1.36, the process 1.33-1.46
    truth = json.loads((LIBRARY / "generate_hawkes_truth_tiny_spread_order.truth.json").read_text())
    assert truth["provenance"]["git_commit"] == "08388e2a546231216067211e51ac0d1bbf24fd53"
    model = [path["model"] for path in truth["paths"]]
    assert [round(m["difference"]["value"], 3) for m in model] == [0.036, 0.044, 0.019, 0.031]
    assert [m["indistinguishable"] for m in model] == [False, False, True, True]
    paired = json.loads((LIBRARY / "generate_hawkes_truth_tiny_spread_order.paired-fill.json").read_text())
    assert [round(row["ours"]["value"], 3) for row in paired["paths"]] == [round(m["ours"]["value"], 3) for m in model]
    assert all(row["difference"]["low"] < 0 < row["difference"]["high"] for row in paired["paths"])
    per_order = {k: [round(r["fills_per_order"], 2) for r in v] for k, v in paired["fills"].items()}
    assert per_order == {"fill": [1.29, 1.3, 1.36, 1.32], "order": [1.28, 1.3, 1.24, 1.3],
                         "process": [1.34, 1.37, 1.33, 1.46]}  # fmt: skip


def test_the_ground_truth_under_front_at_a_second_training_seed_is_its_record():
    # the Hawkes spread spec's model trained at seed 5 (session 41 read the spec's seed: front worse on 1 of 4
    # paths), sampled under queue and front with the spec's sampling, references and scoring seeds: front - queue
    # across 0 on all 4 paths (points +0.003 to +0.011); front's trades 0.075-0.093 of the events, queue's
    # 0.089-0.121 (the process 0.122); fills per order 1.04-1.07 against 1.25-1.45
    record = json.loads((LIBRARY / "generate_hawkes_truth_tiny_spread_front.paired-seed5.json").read_text())
    assert record["fit_seed"] == 5 and len(record["paths"]) == 4
    assert [round(row["difference"]["value"], 3) for row in record["paths"]] == [0.011, 0.004, 0.01, 0.003]
    assert all(row["difference"]["low"] < 0 < row["difference"]["high"] for row in record["paths"])
    shares = {fill: [round(r["trade_share"], 3) for r in rows] for fill, rows in record["flows"].items()}
    assert shares == {"queue": [0.095, 0.121, 0.089, 0.107], "front": [0.075, 0.093, 0.081, 0.087]}
    fills = {
        fill: [round(r["order_fills"]["fills_per_order"], 2) for r in rows] for fill, rows in record["flows"].items()
    }
    assert fills == {"queue": [1.25, 1.38, 1.35, 1.45], "front": [1.04, 1.07, 1.06, 1.07]}
