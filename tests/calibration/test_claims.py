"""docs/claims.md is generated from the stored preset scores, and its reading rules read intervals as documented."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pytest

from calibration.claims import (
    CONFIDENCE,
    DOCUMENT,
    FLOW,
    INTERARRIVAL,
    PRESET_DIR,
    Interval,
    Window,
    claim_classifier,
    claim_clustering,
    claim_interarrival,
    load_presets,
    read_auc,
    read_fact,
    read_score,
    render,
    share,
)
from simlab.errors import DataError

REPO = Path(__file__).resolve().parents[2]


def test_committed_claims_equal_the_document_the_score_tables_give():
    expected = render(*load_presets(PRESET_DIR))
    assert DOCUMENT.read_text() == expected, "docs/claims.md is stale: run python -m calibration.claims"


def test_overlapping_intervals_read_indistinguishable():
    assert read_score(Interval(0.20, 0.10, 0.30), Interval(0.15, 0.05, 0.12)) == "indistinguishable"
    assert read_score(Interval(0.20, 0.12, 0.30), Interval(0.08, 0.05, 0.12)) == "indistinguishable"  # touching
    assert read_fact(Interval(1.7, 1.6, 1.8), Interval(1.65, 1.57, 1.79)) == "indistinguishable"


def test_disjoint_intervals_read_above_the_floor_or_higher_and_lower():
    assert read_score(Interval(0.65, 0.46, 0.84), Interval(0.21, 0.06, 0.38)) == "above the floor"
    assert read_score(Interval(0.01, 0.00, 0.02), Interval(0.10, 0.05, 0.15)) == "below the floor"
    assert read_fact(Interval(0.24, 0.18, 0.29), Interval(0.44, 0.39, 0.49)) == "simulated lower"
    assert read_fact(Interval(0.28, 0.27, 0.30), Interval(0.13, 0.12, 0.15)) == "simulated higher"


def test_auc_interval_holding_one_half_cannot_tell_them_apart():
    assert read_auc(Interval(0.75, 0.42, 1.0)) == "cannot tell them apart (interval holds 0.5)"
    assert read_auc(Interval(0.5, 0.5, 0.5)) == "cannot tell them apart (interval holds 0.5)"
    assert read_auc(Interval(0.87, 0.53, 1.0)) == "tells them apart"
    assert read_auc(Interval(0.3, 0.1, 0.45)) == "below chance (interval under 0.5)"


def _window(label: str, flow: tuple, interarrival: tuple, auc: tuple, events: int = 1000) -> Window:
    """A hand-made window: (score, floor) intervals for two scores, one fact pair, an AUC interval."""
    scores = {
        (FLOW, "l1"): tuple(Interval(*x) for x in flow),
        (INTERARRIVAL, "l1"): tuple(Interval(*x) for x in interarrival),
    }
    scores[FLOW, "w1"] = scores[FLOW, "l1"]
    scores[INTERARRIVAL, "w1"] = scores[INTERARRIVAL, "l1"]
    cv = (Interval(1.7, 1.6, 1.8), Interval(1.65, 1.57, 1.79))
    acf = (Interval(0.24, 0.18, 0.29), Interval(0.44, 0.39, 0.49))
    facts = {"interarrival_cv": cv, "log_interarrival_acf_lag1": acf}
    mean = Interval(0.2, 0.1, 0.3)
    return Window("p", label.split()[0], label, "span", (events, events), 60.0, mean, scores, facts, Interval(*auc))


INSIDE, ABOVE = ((0.2, 0.1, 0.3), (0.15, 0.05, 0.25)), ((0.6, 0.5, 0.7), (0.15, 0.05, 0.25))


def test_claim_counts_follow_the_readings():
    windows = [
        _window("fitted A", INSIDE, ABOVE, (0.7, 0.4, 1.0), events=800),
        _window("held-out A", ABOVE, ABOVE, (0.9, 0.7, 1.0), events=5000),
        _window("fitted B", INSIDE, INSIDE, (0.6, 0.3, 0.9), events=900),
    ]
    said, wording = claim_clustering(windows)
    assert "L1 overlaps the floor in 2 of 3 windows" in said
    assert wording == (
        "The number of messages per 10 s cannot be told from real data in 2 of 3 windows; "
        "the held-out A window is the exception."
    )
    said, wording = claim_classifier(windows)
    assert "AUC interval contains 0.5 in 2 of 3 windows: fitted A and fitted B" in said
    assert wording.startswith("The classifier tells the simulated windows apart in 1 of 3 windows (fewer than half")
    assert "hold 5,000 to 5,000 real events, the others 800 to 900" in wording
    said, wording = claim_interarrival(windows)
    assert "above the real-vs-real floor in 2 of 3 windows" in said
    assert "coefficient of variation indistinguishable in all 3 windows" in wording
    assert "lag-1 autocorrelation) is off in all 3" in wording


def test_share_words_counts():
    assert [share(12, 12), share(0, 12), share(5, 12), share(2, 2)] == ["all 12", "none of the 12", "5 of 12", "both"]


def _flow_count(text: str) -> tuple[int, int]:
    found = re.search(r"messages per 10 s cannot be told from real data in (?:(\d+) of (\d+)|all (\d+)) windows", text)
    return (int(found[1]), int(found[2])) if found[1] else (int(found[3]), int(found[3]))


def test_a_changed_score_table_changes_the_document(tmp_path):
    for path in PRESET_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
        shutil.copy(path.with_name(path.name.split(".")[0] + ".toml"), tmp_path)
    before = render(*load_presets(tmp_path))
    for scores in sorted(tmp_path.glob("binance-*.scores.json")):  # the first flow L1 score within its floor
        document = json.loads(scores.read_text())
        row = next(r for r in document["calibration"]["scores"] if (r["quantity"], r["metric"]) == (FLOW, "l1"))
        if row["low"] <= row["floor_high"]:
            break
    row.update(value=row["floor_high"] + 0.2, low=row["floor_high"] + 0.1, high=row["floor_high"] + 0.3)
    scores.write_text(json.dumps(document))
    after = render(*load_presets(tmp_path))
    count, total = _flow_count(before)
    assert _flow_count(after) == (count - 1, total)


def test_bad_score_tables_are_refused_with_the_file_named(tmp_path):
    with pytest.raises(DataError, match="no <preset>.scores.json"):
        load_presets(tmp_path)
    shutil.copy(PRESET_DIR / "binance-usdm-ethusdt.scores.json", tmp_path)
    with pytest.raises(DataError, match=r"binance-usdm-ethusdt.scores.json: no preset file binance-usdm-ethusdt.toml"):
        load_presets(tmp_path)
    shutil.copy(PRESET_DIR / "binance-usdm-ethusdt.toml", tmp_path)
    document = json.loads((tmp_path / "binance-usdm-ethusdt.scores.json").read_text())
    del document["held_out"]["summary"]
    (tmp_path / "binance-usdm-ethusdt.scores.json").write_text(json.dumps(document))
    with pytest.raises(DataError, match=r"\[held_out\]: no key 'summary'"):
        load_presets(tmp_path)
    document = json.loads((PRESET_DIR / "binance-usdm-ethusdt.scores.json").read_text())
    document["calibration"]["summary"]["l1"]["mean"]["low"] = None
    (tmp_path / "binance-usdm-ethusdt.scores.json").write_text(json.dumps(document))
    with pytest.raises(DataError, match=r"\[calibration\]: expected numbers value, low and high; found"):
        load_presets(tmp_path)
    shutil.copy(PRESET_DIR / "binance-usdm-ethusdt.scores.json", tmp_path)
    with pytest.raises(DataError, match=r"\['zi- book', 'qr- book', 'hawkes- book'\] missing"):
        render(*load_presets(tmp_path))


def _default(path: Path, function: str, argument: str) -> object:
    tree = ast.parse(path.read_text())
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
    names = [a.arg for a in node.args.kwonlyargs]
    return ast.literal_eval(node.args.kw_defaults[names.index(argument)])


def test_stated_interval_level_is_the_one_the_scores_were_built_with():
    assert _default(REPO / "simlab/metrics/scorecard.py", "score", "confidence") == CONFIDENCE
    source = ast.parse((REPO / "simlab/metrics/lobbench_convention.py").read_text())
    ci = next(n.value for n in source.body if isinstance(n, ast.Assign) and n.targets[0].id == "CI")
    low, high = ast.literal_eval(ci)
    assert high - low == pytest.approx(100 * CONFIDENCE)
