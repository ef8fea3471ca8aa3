"""The abm-amzn-v22 preset (docs/agents_flow_learning.md): v21 with value agents that learn from the order flow."""

from __future__ import annotations

import tomllib
from pathlib import Path

from calibration.abm import load_abm_preset

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"


def test_v22_is_v21_with_flow_learning_of_two_hundredths_of_a_tick_a_lot():
    v22 = tomllib.loads((PRESETS / "abm-amzn-v22.toml").read_text())
    ref = tomllib.loads((PRESETS / "abm-amzn-v21.toml").read_text())
    assert v22["agents"]["value"].pop("flow_learning_ticks_per_lot") == 0.02
    assert "flow_learning_ticks_per_lot" not in ref["agents"]["value"]
    assert v22["market"].pop("name") == "abm-amzn-v22"
    ref["market"].pop("name")
    assert v22 == ref  # everything else, the snap, the slow centre and the [calibration] table included, is v21's
    config, _ = load_abm_preset(PRESETS / "abm-amzn-v22.toml")
    assert config.value.flow_learning_ticks_per_lot == 0.02 and config.market_maker.center_snap_ticks == 30
