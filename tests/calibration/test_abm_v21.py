"""The abm-amzn-v21 preset (candidate S30 of docs/agents_snap_v21.md): v20 with the makers' centre snap at 30 ticks."""

from __future__ import annotations

import tomllib
from pathlib import Path

from calibration.abm import load_abm_preset

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"


def test_v21_is_v20_with_a_centre_snap_of_30_ticks():
    v21 = tomllib.loads((PRESETS / "abm-amzn-v21.toml").read_text())
    ref = tomllib.loads((PRESETS / "abm-amzn-v20.toml").read_text())
    assert v21["agents"]["market_maker"].pop("center_snap_ticks") == 30
    assert "center_snap_ticks" not in ref["agents"]["market_maker"]
    assert v21["market"].pop("name") == "abm-amzn-v21"
    ref["market"].pop("name")
    assert v21 == ref  # everything else, the slow centre and the [calibration] table included, is v20's
    config, _ = load_abm_preset(PRESETS / "abm-amzn-v21.toml")  # and it loads with the snap on the slow centre
    assert config.market_maker.center_snap_ticks == 30 and config.market_maker.center_halflife_s == 30.0
