"""abm-amzn-v7 (docs/agents_realism_v7.md): abm-amzn-v5's fit with five settings set by hand (layered makers that
keep their touch within 2 ticks and wake faster, a more clustered noise clock whose orders walk 2 ticks through the
touch). No simulation here: the rule is checked by tests/simlab/agents/test_layers.py and the kernel's twin."""

from __future__ import annotations

from calibration.abm import get_parameter, load_abm_preset
from calibration.presets import PRESET_DIR


def test_v7_is_v5_with_its_hand_set_settings_and_keeps_v5s_fit_on_record():
    v7, calibration = load_abm_preset(PRESET_DIR / "abm-amzn-v7.toml")
    v5, fitted = load_abm_preset(PRESET_DIR / "abm-amzn-v5.toml")
    hand = calibration["hand_set"]
    assert set(hand) == {"noise.excitation", "noise.walk_ticks", "market_maker.wake_interval_s",
                         "market_maker.keep_touch_ticks", "market_maker.layer_ticks"}  # fmt: skip
    for name, value in hand.items():
        assert get_parameter(v7, name) == value != get_parameter(v5, name), name
    assert calibration["estimates"] == fitted["estimates"] and calibration["source"] == fitted["source"]
    for name, value in fitted["estimates"].items():  # the fit's other estimates are the market's
        assert name in hand or get_parameter(v7, name) == value, name
    assert v7.name == "abm-amzn-v7" and v7.market_maker.layer_ticks == 1 and v7.noise.walk_ticks == 2.0
