"""Session 42's held-out record of the AAPL hour under the rollout's two trade rules (docs/generators_amzn.md, "The
AAPL hour under front"): the diffusion model of generate_aapl_tiny.toml retrained from its spec, sampled under
trade_fill "queue" and, copied, "front", at the sampling seed of session 38's record, 2 paths, 4 real windows. The
verdicts of the rule committed before the run (f32e3cb) are recomputed here from the record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

LIBRARY = Path(__file__).parents[2] / "scenarios" / "library"
QUEUE, FRONT = "outputs/s42/aapl.model", "outputs/s42/aapl_front.model"
GOAL_L1, GOAL_AUC = 0.2, 0.8


@pytest.fixture(scope="module")
def record() -> dict:
    return json.loads((LIBRARY / "generate_aapl_tiny.heldout-front-20261204.json").read_text())


def test_the_record_is_a_clean_run_of_the_rule_s_command_and_reproduces_session_38(record):
    config = json.loads(record["provenance"]["config"])
    assert record["provenance"]["git_commit"] == "f32e3cb144e756ec663039400532b8bdc0d6c20a"  # the rule's commit
    assert config["seed"] == 20261204 and config["models"] == [QUEUE, FRONT]
    assert config["trade_fill"] == ["queue", "front"] and config["paths"] == 2 and config["real_windows"] == 4
    assert config["spec"] == "scenarios/library/generate_aapl_tiny.toml" and config["pooled_classifier"] is True
    # reading 0: the queue arm is session 38's record, path for path
    before = json.loads((LIBRARY / "generate_aapl_tiny.heldout-gan-20261204.json").read_text())
    (diffusion, _) = before["models"].values()
    for ours, theirs in zip(record["models"][QUEUE]["paths"], diffusion["paths"], strict=True):
        assert ours["mean_l1"] == theirs["mean_l1"] and ours["events"] == theirs["events"]


def test_the_rule_s_verdicts_are_the_record(record):
    # 1: front - queue, mean L1: both intervals across 0 (points +0.002, +0.023): not shown either way
    (rows,) = record["comparisons"].values()
    assert [round(r["difference"]["value"], 3) for r in rows] == [0.002, 0.023]
    assert all(r["difference"]["low"] < 0 < r["difference"]["high"] for r in rows)
    # 2: the classifier, per path and pooled: every interval across 0.8 (not shown); pooled, each arm overlaps the
    # real windows' reading (indistinguishable)
    floor = record["real"]["pooled_classifier"]
    assert (round(floor["auc"], 3), round(floor["low"], 3), round(floor["high"], 3)) == (0.645, 0.403, 0.869)
    points = {}
    for model in (QUEUE, FRONT):
        entry = record["models"][model]
        readings = [p["classifier"] for p in entry["paths"]] + [entry["pooled_classifier"]]
        assert all(r["low"] <= GOAL_AUC < r["high"] for r in readings)
        pooled = entry["pooled_classifier"]
        assert pooled["high"] >= floor["low"] and pooled["low"] <= floor["high"]
        points[model] = [round(r["auc"], 3) for r in readings]
    assert points == {QUEUE: [0.761, 0.895, 0.851], FRONT: [0.859, 0.91, 0.887]}
    # 3: no path at mean L1 <= 0.2 with its interval under either rule
    assert not any(p["mean_l1"]["high"] <= GOAL_L1 for m in (QUEUE, FRONT) for p in record["models"][m]["paths"])
    # 4: fills per marketable order: the held-out span 1.15, queue 1.40-1.46, front 1.00-1.01 (26-39 trades held)
    assert record["real"]["test_order_fills"]["fills_per_order"] == pytest.approx(1.149, abs=1e-3)
    queue = [p["order_fills"]["fills_per_order"] for p in record["models"][QUEUE]["paths"]]
    front = [p["order_fills"]["fills_per_order"] for p in record["models"][FRONT]["paths"]]
    assert [round(v, 2) for v in queue] == [1.46, 1.4] and [round(v, 2) for v in front] == [1.0, 1.01]
    assert [p["front_held"] for p in record["models"][FRONT]["paths"]] == [39, 26]
