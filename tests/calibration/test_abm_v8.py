"""abm-amzn-v8 (docs/agents_realism_v8.md): abm-amzn-v7 with the market's activity on (business time for the
fundamental and every agent's clock, a log-OU of sd 0.7 and time 1 hour). No simulation here: the rule is checked by
tests/simlab/agents/test_activity.py and the kernel's twin."""

from __future__ import annotations

from dataclasses import replace

from calibration.abm import get_parameter, load_abm_preset
from calibration.presets import PRESET_DIR

ACTIVITY = {"fundamental.activity_sd": 0.7, "fundamental.activity_time_s": 3600.0}


def test_v8_is_v7_with_the_activity_on_and_keeps_the_fit_on_record():
    v8, calibration = load_abm_preset(PRESET_DIR / "abm-amzn-v8.toml")
    v7, before = load_abm_preset(PRESET_DIR / "abm-amzn-v7.toml")
    hand = calibration["hand_set"]
    assert {k: v for k, v in hand.items() if k not in before["hand_set"]} == ACTIVITY
    for name, value in hand.items():
        assert get_parameter(v8, name) == value, name
    for name, value in ACTIVITY.items():
        assert get_parameter(v7, name) != value, name
    assert v8.fundamental.activity_step_s == v7.fundamental.activity_step_s == 1.0
    assert calibration["estimates"] == before["estimates"] and calibration["source"] == before["source"]
    f = v8.fundamental  # everything else is v7's
    assert replace(v8, name=v7.name, fundamental=replace(f, activity_sd=0.0, activity_time_s=600.0)) == v7
