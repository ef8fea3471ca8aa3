"""The abm-amzn-v17 preset (candidate H30S27 of docs/agents_impact_v17.md): v10-slow plus two maker keys."""

from __future__ import annotations

import tomllib
from pathlib import Path

from calibration.abm import load_abm_preset

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"


def test_v17_is_v10_slow_with_a_30s_centre_and_skew_27():
    v17 = tomllib.loads((PRESETS / "abm-amzn-v17.toml").read_text())
    ref = tomllib.loads((PRESETS / "abm-amzn-v10-slow.toml").read_text())
    maker = v17["agents"]["market_maker"]
    assert maker.pop("center_halflife_s") == 30.0 and "center_halflife_s" not in ref["agents"]["market_maker"]
    assert maker["price_skew_ticks"] == 27.0 and ref["agents"]["market_maker"]["price_skew_ticks"] == 4.4851339336519
    maker["price_skew_ticks"] = ref["agents"]["market_maker"]["price_skew_ticks"]
    assert v17["market"].pop("name") == "abm-amzn-v17"
    ref["market"].pop("name")
    assert v17 == ref  # everything else, the [calibration] table included, is v10-slow's
    config, _ = load_abm_preset(PRESETS / "abm-amzn-v17.toml")  # and it loads as a market config
    assert config.market_maker.center_halflife_s == 30.0 and config.market_maker.price_skew_ticks == 27.0
