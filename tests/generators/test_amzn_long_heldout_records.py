"""Session 39's held-out records of the longer-trained AMZN diffusion model (scenarios/library/
generate_amzn_tiny_long.heldout-20261210*.json; docs/generators_amzn.md, "Session 39"): the long spec against the
default at two training seeds, one sampling seed. The verdicts of the rule committed before the runs are
recomputed here from the records, so the page cannot say more than they hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generators.spec import load_spec

LIBRARY = Path(__file__).parents[2] / "scenarios" / "library"
RECORDS = {  # training seed -> (file, long model, default model)
    20261203: ("generate_amzn_tiny_long.heldout-20261210.json", "long.model", "base.model"),
    5: ("generate_amzn_tiny_long.heldout-20261210-seed5.json", "long5.model", "base5.model"),
}
# per training seed, the long model's paths: mean L1 [99 %] and ROC-AUC, as the page prints them
PAGE = {
    20261203: [(0.222, 0.206, 0.240, 0.850), (0.194, 0.173, 0.209, 0.897), (0.229, 0.213, 0.244, 0.886),
               (0.204, 0.189, 0.222, 0.863)],
    5: [(0.204, 0.189, 0.222, 0.846), (0.180, 0.166, 0.197, 0.902), (0.189, 0.177, 0.207, 0.882),
        (0.176, 0.159, 0.195, 0.881)],
}  # fmt: skip
# per training seed: the default's paths (mean L1, ROC-AUC), default - long per path, and the TSTR ratio of the
# chosen task (long, default), as the page prints them; the commit each run was made at (the rule's is 2edc2d6)
DEFAULT = {
    20261203: [(0.277, 0.933), (0.237, 0.946), (0.219, 0.937), (0.223, 0.872)],
    5: [(0.229, 0.964), (0.176, 0.880), (0.222, 0.925), (0.201, 0.924)],
}
DIFFERENCE = {20261203: (0.055, 0.044, -0.010, 0.018), 5: (0.025, -0.004, 0.032, 0.025)}
TSTR = {20261203: (0.932, 0.973), 5: (0.989, 0.957)}
COMMIT = {20261203: "2edc2d60d66b032eb99da3d8f345ad8e5b6861de", 5: "090aeacc4efc902eb041b43ff40c0724feadc88b"}
GOAL_L1, GOAL_AUC = 0.2, 0.8


def _record(seed: int) -> tuple[dict, dict, dict]:
    name, long, default = RECORDS[seed]
    record = json.loads((LIBRARY / name).read_text())
    models = {Path(key).name: value for key, value in record["models"].items()}
    return record, models[long], models[default]


def test_the_long_spec_is_the_default_with_a_longer_budget():
    default = load_spec(LIBRARY / "generate_amzn_tiny.toml")
    long = load_spec(LIBRARY / "generate_amzn_tiny_long.toml")
    for field in ("message", "books", "split", "seed", "family", "preset", "span_s", "add_price"):
        assert getattr(long, field) == getattr(default, field), field
    assert default.overrides == {} and long.overrides == {"max_steps": 20000, "eval_every": 200, "patience": 8}


@pytest.mark.parametrize("seed", sorted(RECORDS))
def test_each_record_is_one_clean_run_of_the_rule_s_command(seed):
    record, long, default = _record(seed)
    config = json.loads(record["provenance"]["config"])
    assert record["provenance"]["seed"] == config["seed"] == 20261210
    assert record["provenance"]["git_commit"] == COMMIT[seed]  # clean, at or after the rule's commit
    assert config["spec"] == "scenarios/library/generate_amzn_tiny.toml" and config["stop_when_stuck"] is True
    assert config["paths"] == 4 and config["against"] == "span" and config["real_windows"] == (4 if seed > 5 else 0)
    assert [Path(m).name for m in config["models"]] == list(RECORDS[seed][1:])
    for path, (value, low, high, auc) in zip(long["paths"], PAGE[seed], strict=True):
        assert tuple(round(path["mean_l1"][k], 3) for k in ("value", "low", "high")) == (value, low, high)
        assert round(path["classifier"]["auc"], 3) == auc
    for path, (value, auc) in zip(default["paths"], DEFAULT[seed], strict=True):
        assert (round(path["mean_l1"]["value"], 3), round(path["classifier"]["auc"], 3)) == (value, auc)
    assert all(p["stuck"] == 0 for p in long["paths"] + default["paths"])
    floors = [p["floor_mean_l1"]["value"] for p in long["paths"] + default["paths"]]
    assert 0.122 <= round(min(floors), 3) and round(max(floors), 3) <= 0.151
    ((rows),) = record["comparisons"].values()
    assert tuple(round(row["difference"]["value"], 3) for row in rows) == DIFFERENCE[seed]
    task = record["tstr"]["choice"]["chosen"]
    verdicts = record["tstr"]["tasks"][f"{task['task']} w{task['window']}"]["verdicts"]["chosen"]
    assert tuple(round(verdicts[m]["ratio"]["value"], 3) for m in config["models"]) == TSTR[seed]
    assert all(verdicts[m]["verdict"] == "shown" for m in config["models"])


def test_the_rule_s_verdicts_are_the_records():
    above = below = l1_shown = auc_shown = positive = 0
    for seed in RECORDS:
        record, long, _ = _record(seed)
        ((key, rows),) = record["comparisons"].items()
        assert Path(key.split(" vs ")[0]).name == RECORDS[seed][2]  # the default minus the long model
        for row in rows:
            above += row["difference"]["low"] > 0
            below += row["difference"]["high"] < 0
            positive += row["difference"]["value"] > 0
        l1_shown += sum(p["mean_l1"]["high"] <= GOAL_L1 for p in long["paths"])
        auc_shown += sum(p["classifier"]["high"] <= GOAL_AUC for p in long["paths"])
        highs = [p["classifier"]["high"] for p in long["paths"]]
    # reading 1: shown at >= 6 of 8 paths above 0; 5 are, so "not shown" (6 of 8 point differences are positive)
    assert (above, below, positive) == (5, 0, 6)
    # reading 2: the goal is shown on 2 of 8 paths for the mean L1 and on none for the ROC-AUC: not met
    assert (l1_shown, auc_shown) == (2, 0)
    assert round(min(highs), 3) >= 0.972  # the lowest upper end of a long path's AUC interval (seed 5's last)


def test_real_flow_from_another_time_of_the_day_reads_the_same_card():
    record, long, _ = _record(20261203)
    windows = record["real"]["windows"]
    assert len(windows) == 4
    real_l1 = [w["mean_l1"]["value"] for w in windows]
    real_auc = [w["classifier"]["auc"] for w in windows]
    assert [round(v, 3) for v in real_l1] == [0.208, 0.228, 0.176, 0.217]
    assert (round(min(real_l1), 3), round(max(real_l1), 3)) == (0.176, 0.228)
    assert (round(min(real_auc), 3), round(max(real_auc), 3)) == (0.553, 0.790)
    # the long model's mean L1 spans the real windows' range (0.176-0.229 against 0.176-0.228); every one of its
    # AUCs lies above every real window's
    longs = [p for seed in RECORDS for p in _record(seed)[1]["paths"]]
    long_l1 = [p["mean_l1"]["value"] for p in longs]
    assert (round(min(long_l1), 3), round(max(long_l1), 3)) == (0.176, 0.229)
    assert min(p["classifier"]["auc"] for p in longs) > max(real_auc)


# the "own" encoding at the same budget (generate_amzn_tiny_long_own.toml; its rule committed at 8f1065b)
OWN = {  # training seed -> (file, "own" model, long model)
    20261203: ("generate_amzn_tiny_long_own.heldout-20261210.json", "own_long.model", "long.model"),
    5: ("generate_amzn_tiny_long_own.heldout-20261210-seed5.json", "own_long5.model", "long5.model"),
}
OWN_PAGE = {  # the "own" long model's paths: mean L1 [99 %], ROC-AUC; then long - "own" per path
    20261203: ([(0.200, 0.186, 0.217, 0.834), (0.238, 0.219, 0.259, 0.796), (0.182, 0.166, 0.205, 0.742),
                (0.193, 0.183, 0.209, 0.746)], (0.023, -0.044, 0.046, 0.012)),
    5: ([(0.216, 0.202, 0.235, 0.743), (0.190, 0.177, 0.206, 0.742), (0.185, 0.171, 0.207, 0.796),
         (0.170, 0.156, 0.185, 0.694)], (-0.013, -0.010, 0.004, 0.006)),
}  # fmt: skip
OWN_COMMIT = "8f1065b30ffb7245b8b8194960fec8a41e4b15b8"


def test_the_own_spec_is_the_long_spec_with_the_own_encoding():
    long = load_spec(LIBRARY / "generate_amzn_tiny_long.toml")
    own = load_spec(LIBRARY / "generate_amzn_tiny_long_own.toml")
    for field in ("message", "books", "split", "seed", "family", "preset", "span_s", "overrides"):
        assert getattr(own, field) == getattr(long, field), field
    assert (long.add_price, own.add_price) == ("opposite", "own")


def test_the_own_records_give_the_page_s_readings_and_verdicts():
    auc_points = l1_points = both = l1_shown = auc_shown = below = above = 0
    highs, values, aucs, tstr = [], [], [], []
    for seed, (name, own, long) in OWN.items():
        record = json.loads((LIBRARY / name).read_text())
        config = json.loads(record["provenance"]["config"])
        assert record["provenance"]["git_commit"] == OWN_COMMIT and config["seed"] == 20261210
        assert [Path(m).name for m in config["models"]] == [own, long] and config["paths"] == 4
        assert config["spec"] == "scenarios/library/generate_amzn_tiny.toml" and config["stop_when_stuck"] is True
        task = record["tstr"]["choice"]["chosen"]
        verdict = record["tstr"]["tasks"][f"{task['task']} w{task['window']}"]["verdicts"]["chosen"][
            config["models"][0]
        ]
        assert verdict["verdict"] == "shown"
        tstr.append(round(verdict["ratio"]["value"], 3))
        models = {Path(key).name: value for key, value in record["models"].items()}
        # the long model samples the same paths as in its own rule's run
        first = _record(seed)[1]["paths"]
        assert [p["mean_l1"] for p in models[long]["paths"]] == [p["mean_l1"] for p in first]
        paths, differences = OWN_PAGE[seed]
        for path, (value, low, high, auc) in zip(models[own]["paths"], paths, strict=True):
            assert tuple(round(path["mean_l1"][k], 3) for k in ("value", "low", "high")) == (value, low, high)
            assert round(path["classifier"]["auc"], 3) == auc and path["stuck"] == 0
            auc_points += path["classifier"]["auc"] < GOAL_AUC
            l1_points += path["mean_l1"]["value"] <= GOAL_L1
            both += path["classifier"]["auc"] < GOAL_AUC and path["mean_l1"]["value"] <= GOAL_L1
            l1_shown += path["mean_l1"]["high"] <= GOAL_L1
            auc_shown += path["classifier"]["high"] <= GOAL_AUC
            highs.append(path["classifier"]["high"])
            values.append(path["mean_l1"]["value"])
            aucs.append(path["classifier"]["auc"])
        ((key, rows),) = record["comparisons"].items()
        assert Path(key.split(" vs ")[0]).name == long  # the long model minus the "own" one
        assert tuple(round(row["difference"]["value"], 3) for row in rows) == differences
        below += sum(row["difference"]["high"] < 0 for row in rows)
        above += sum(row["difference"]["low"] > 0 for row in rows)
    assert auc_points == 7  # reading 1: shown by points (>= 6 of 8)
    assert (round(min(highs), 3), round(max(highs), 3)) == (0.919, 0.999)  # no AUC interval ends at or below 0.8
    # beside the first run's real windows: 6 of 8 mean L1s inside their range (0.238 above, 0.170 below), 5 of 8 AUCs
    windows = _record(20261203)[0]["real"]["windows"]
    real_l1 = [w["mean_l1"]["value"] for w in windows]
    real_auc = [w["classifier"]["auc"] for w in windows]
    assert sum(min(real_l1) <= v <= max(real_l1) for v in values) == 6
    assert sum(min(real_auc) <= a <= max(real_auc) for a in aucs) == 5
    assert tstr == [0.969, 0.970]  # TSTR of the "own" models, chosen task: shown
    assert (below, above) == (1, 2)  # reading 2: not shown (neither way at 6 of 8)
    assert (l1_points, both, l1_shown, auc_shown) == (6, 5, 1, 0)  # the goal by points, and with intervals
