"""abm-amzn-v9 (docs/agents_realism_v8.md, "Multi-timescale activity"): abm-amzn-v8 with the activity split over three
time scales (60, 600, 3600 s; total sd 0.85) and the makers' volume window at 10 s. No simulation here: the rule is
checked by tests/simlab/agents/test_activity.py and the kernel's twin."""

from __future__ import annotations

from dataclasses import replace

from calibration.abm import get_parameter, load_abm_preset
from calibration.presets import PRESET_DIR

CHANGED = {
    "fundamental.activity_sd": 0.85,
    "fundamental.activity_time_s": [60.0, 600.0, 3600.0],
    "market_maker.volume_window_s": 10.0,
}


def test_v9_is_v8_with_three_activity_times_and_a_short_volume_window():
    v9, calibration = load_abm_preset(PRESET_DIR / "abm-amzn-v9.toml")
    v8, before = load_abm_preset(PRESET_DIR / "abm-amzn-v8.toml")
    hand = calibration["hand_set"]
    assert {k: v for k, v in hand.items() if before["hand_set"].get(k) != v} == CHANGED
    for name, value in hand.items():  # get_parameter reads numbers; the list of times is read directly
        if not isinstance(value, list):
            assert get_parameter(v9, name) == value, name
    assert v9.fundamental.activity_time_s == (60.0, 600.0, 3600.0)  # the TOML list as a tuple of floats
    assert calibration["estimates"] == before["estimates"] and calibration["source"] == before["source"]
    f, m = v9.fundamental, v9.market_maker  # everything else is v8's
    back = replace(f, activity_sd=0.7, activity_time_s=3600.0)
    assert replace(v9, name=v8.name, fundamental=back, market_maker=replace(m, volume_window_s=60.0)) == v8
