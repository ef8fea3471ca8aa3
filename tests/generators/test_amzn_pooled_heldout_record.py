"""Session 40's held-out record of the pooled classifier against its real-vs-real floor
(scenarios/library/generate_amzn_tiny_long.heldout-pooled-20261211.json; docs/generators_amzn.md, "Session 40"):
both long specs at three training seeds and the default, 4 paths each, one sampling seed, 4 real windows of the
validation span, every pooled reading at one window. The verdicts of the rule committed before the run (1f5e82f)
are recomputed here from the record, so the page cannot say more than it holds."""

from __future__ import annotations

import json
from pathlib import Path

LIBRARY = Path(__file__).parents[2] / "scenarios" / "library"
RECORD = LIBRARY / "generate_amzn_tiny_long.heldout-pooled-20261211.json"
SPECS = {  # spec -> its models at training seeds 20261203, 5 and 11
    "own long": ("outputs/s39/own_long.model", "outputs/s39/own_long5.model", "outputs/s40/own_long11.model"),
    "long": ("outputs/s39/long.model", "outputs/s39/long5.model", "outputs/s40/long11.model"),
}
DEFAULT = "outputs/s39/base.model"
GOAL_L1, GOAL_AUC = 0.2, 0.8


def _record() -> dict:
    return json.loads(RECORD.read_text())


def _auc_verdict(reading: dict) -> str:  # reading 1, one model
    return "shown" if reading["high"] <= GOAL_AUC else "refuted" if reading["low"] > GOAL_AUC else "not shown"


def _floor_verdict(reading: dict, floor: dict) -> str:  # reading 2, one model
    if reading["low"] > floor["high"]:
        return "distinguishable"
    return "indistinguishable" if reading["high"] >= floor["low"] else "below the floor"


def _count(verdicts: list[str], word: str) -> str:  # a spec: at 2 or 3 of its 3 seeds
    return word if verdicts.count(word) >= 2 else f"not {word}"


def test_the_record_is_one_clean_run_of_the_rule_s_command():
    record = _record()
    config = json.loads(record["provenance"]["config"])
    assert record["provenance"]["seed"] == config["seed"] == 20261211
    assert record["provenance"]["git_commit"] == "de76fd2e28aa4a4b7926717ffb465cd86f080480"  # clean, after 1f5e82f
    assert config["spec"] == "scenarios/library/generate_amzn_tiny.toml" and config["stop_when_stuck"] is True
    assert config["paths"] == 4 and config["real_windows"] == 4 and config["pooled_classifier"] is True
    assert config["models"] == [*SPECS["own long"], *SPECS["long"], DEFAULT]
    # one window for every pooled reading: the smallest source's, a real window of 918 level-1 events
    readings = [record["real"]["pooled_classifier"]] + [m["pooled_classifier"] for m in record["models"].values()]
    assert record["pooled_window"] == 22 and all(r["window"] == 22 for r in readings)
    assert [w["events"] for w in record["real"]["windows"]] == [1460, 1218, 1621, 918]


def test_the_rule_s_verdicts_are_the_record_s():
    record = _record()
    floor = record["real"]["pooled_classifier"]
    assert (round(floor["auc"], 3), round(floor["low"], 3), round(floor["high"], 3)) == (0.663, 0.373, 0.956)
    models = record["models"]
    pooled = {m: models[m]["pooled_classifier"] for m in models}
    assert [tuple(round(pooled[m][k], 3) for k in ("auc", "low", "high")) for m in SPECS["own long"]] == [
        (0.813, 0.606, 0.938), (0.789, 0.620, 0.896), (0.782, 0.564, 0.883)]  # fmt: skip
    assert [tuple(round(pooled[m][k], 3) for k in ("auc", "low", "high")) for m in SPECS["long"]] == [
        (0.883, 0.734, 0.964), (0.875, 0.653, 0.955), (0.873, 0.589, 0.965)]  # fmt: skip
    # reading 1: no model's interval ends at or below 0.8: not shown for either spec; the default's starts above it
    for spec in SPECS.values():
        verdicts = [_auc_verdict(pooled[m]) for m in spec]
        assert verdicts == ["not shown"] * 3 and _count(verdicts, "shown") == "not shown"
    assert _auc_verdict(pooled[DEFAULT]) == "refuted" and round(pooled[DEFAULT]["auc"], 3) == 0.931
    # reading 2: every model overlaps the floor, the default too: the reading cannot tell these models apart here
    for spec in SPECS.values():
        assert _count([_floor_verdict(pooled[m], floor) for m in spec], "indistinguishable") == "indistinguishable"
    assert _floor_verdict(pooled[DEFAULT], floor) == "indistinguishable"
    # reading 3: mean L1 <= 0.2 with its interval on 2 of 12 "own" long paths and 3 of 12 long ones (8 asked):
    # not shown; every path but one overlaps the real windows' hull, the default's 4 too
    real = record["real"]["windows"]
    hull = (min(w["mean_l1"]["low"] for w in real), max(w["mean_l1"]["high"] for w in real))
    assert (round(hull[0], 3), round(hull[1], 3)) == (0.162, 0.250)
    assert sum(w["mean_l1"]["high"] <= GOAL_L1 for w in real) == 1  # real flow of another time: 1 of 4 windows

    def counts(names):
        paths = [p["mean_l1"] for m in names for p in models[m]["paths"]]
        shown = sum(p["high"] <= GOAL_L1 for p in paths)
        return shown, sum(p["high"] >= hull[0] and p["low"] <= hull[1] for p in paths), len(paths)

    assert counts(SPECS["own long"]) == (2, 12, 12) and counts(SPECS["long"]) == (3, 11, 12)
    assert counts([DEFAULT]) == (0, 4, 4)


def test_three_long_paths_ran_away_and_no_own_one_did():
    """The `"opposite"` long models' rate ran away on 3 of their 12 paths (14,213-51,370 events in 778 s against
    1,893-2,741 on the others and 918-1,621 in the real windows), each with thousands of rejected and discarded
    messages; none of the `"own"` long or the default's paths did."""
    models = _record()["models"]
    events = {m: [p["events"] for p in models[m]["paths"]] for m in models}
    assert events[SPECS["long"][0]][2] == 43476 and events[SPECS["long"][1]][3] == 14213
    assert events[SPECS["long"][2]][2] == 51370
    runaway = [(m, p) for m in models for p, n in enumerate(events[m]) if n > 5000]
    assert runaway == [(SPECS["long"][0], 2), (SPECS["long"][1], 3), (SPECS["long"][2], 2)]
    assert all(models[m]["paths"][p]["rejected"] > 4000 for m, p in runaway)
    others = [n for m in models for p, n in enumerate(events[m]) if (m, p) not in runaway]
    assert max(others) == 3057 and all(p["stuck"] == 0 for m in models for p in models[m]["paths"])
