"""The abm-amzn-v19 preset (candidate Q100 of docs/agents_value_size_v19.md): v17 plus two value-agent keys."""

from __future__ import annotations

import tomllib
from pathlib import Path

from calibration.abm import load_abm_preset

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"


def test_v19_is_v17_with_value_sizes_grown_by_the_square_of_the_mispricing():
    v19 = tomllib.loads((PRESETS / "abm-amzn-v19.toml").read_text())
    ref = tomllib.loads((PRESETS / "abm-amzn-v17.toml").read_text())
    value = v19["agents"]["value"]
    assert value.pop("size_mispricing_scale_ticks") == 100.0 and value.pop("size_mispricing_power") == 2.0
    assert "size_mispricing_scale_ticks" not in ref["agents"]["value"]
    assert v19["market"].pop("name") == "abm-amzn-v19"
    ref["market"].pop("name")
    assert v19 == ref  # everything else, the [calibration] table included, is v17's
    config, _ = load_abm_preset(PRESETS / "abm-amzn-v19.toml")  # and it loads as a market config with the keys on
    assert config.value.size_mispricing_scale_ticks == 100.0 and config.value.size_mispricing_power == 2.0
    assert config.market_maker.center_halflife_s == 30.0
