"""The abm-amzn-v20 preset (candidate Q150 of docs/agents_value_size_v19.md): v19 with a value-size scale of 150."""

from __future__ import annotations

import tomllib
from pathlib import Path

from calibration.abm import load_abm_preset

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"


def test_v20_is_v19_with_a_value_size_scale_of_150_ticks():
    v20 = tomllib.loads((PRESETS / "abm-amzn-v20.toml").read_text())
    ref = tomllib.loads((PRESETS / "abm-amzn-v19.toml").read_text())
    assert v20["agents"]["value"].pop("size_mispricing_scale_ticks") == 150.0
    assert ref["agents"]["value"].pop("size_mispricing_scale_ticks") == 100.0
    assert v20["agents"]["value"]["size_mispricing_power"] == 2.0
    assert v20["market"].pop("name") == "abm-amzn-v20"
    ref["market"].pop("name")
    assert v20 == ref  # everything else, the power and the [calibration] table included, is v19's
    config, _ = load_abm_preset(PRESETS / "abm-amzn-v20.toml")  # and it loads as a market config with the keys on
    assert config.value.size_mispricing_scale_ticks == 150.0 and config.value.size_mispricing_power == 2.0
    assert config.market_maker.center_halflife_s == 30.0
