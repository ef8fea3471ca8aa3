"""abm-amzn-v12 (docs/agents_split_v12.md): abm-amzn-v10-slow with only its name and the noise agents' split exponent
changed (1.6 -> 1.5), the value the pre-registered rule picks from the screen recorded in its
``[calibration.split_screen]`` (no simulation here)."""

from __future__ import annotations

from dataclasses import replace

from calibration.abm import load_abm_preset
from calibration.abm_paths import with_overrides
from calibration.presets import PRESET_DIR

V12, V10_SLOW = PRESET_DIR / "abm-amzn-v12.toml", PRESET_DIR / "abm-amzn-v10-slow.toml"


def test_v12_is_v10_slow_with_only_the_split_exponent_changed():
    """The market: v10-slow's but for the name and ``noise.split_exponent`` (1.5 against 1.6); the split exponent put
    back (as ``abm_paths --set`` puts it) gives v10-slow. The record: v10-slow's (v10's fit) but for the note, the
    hand-set split exponent and the screen's table."""
    v12, record = load_abm_preset(V12)
    slow, slow_record = load_abm_preset(V10_SLOW)
    assert v12.name == "abm-amzn-v12" and v12.noise.split_exponent == 1.5 and slow.noise.split_exponent == 1.6
    assert v12.noise.split_max_children == slow.noise.split_max_children == 10000
    assert replace(v12, name=slow.name, noise=replace(v12.noise, split_exponent=1.6)) == slow
    assert replace(with_overrides(v12, {"noise.split_exponent": "1.6"}), name=slow.name) == slow
    assert record["hand_set"] == {**slow_record["hand_set"], "noise.split_exponent": 1.5}
    same = set(slow_record) - {"note", "hand_set"}
    assert set(record) == set(slow_record) | {"split_screen"}
    assert {key: record[key] for key in same} == {key: slow_record[key] for key in same}  # v10's fit, not refitted


def test_the_recorded_screen_picks_v12s_value_by_its_rule():
    """The pre-registered rule on the recorded screen: most seeds meeting every goal at once, then most meeting the
    sign goal, then the sign-exponent mean nearest 0.55, then the value nearest 1.6; the winner is v12's value and
    is not v10-slow's 1.6 (a 1.6 win would have meant no v12)."""
    v12, record = load_abm_preset(V12)
    screen = record["split_screen"]
    assert screen["parameter"] == "noise.split_exponent" and screen["preset"].endswith("abm-amzn-v10-slow.toml")
    assert screen["seeds"] == list(range(20260501, 20260507)) and 1.6 in screen["values"]
    columns = ("every_goal_seeds", "sign_goal_seeds", "sign_exponent_mean")
    assert all(len(screen[name]) == len(screen["values"]) for name in columns)
    rows = zip(screen["values"], *(screen[name] for name in columns), strict=True)
    best = max(rows, key=lambda r: (r[1], r[2], -abs(r[3] - 0.55), -abs(r[0] - 1.6)))
    assert best[0] == screen["chosen"] == v12.noise.split_exponent != 1.6
    assert all(0 <= n <= len(screen["seeds"]) for name in columns[:2] for n in screen[name])
