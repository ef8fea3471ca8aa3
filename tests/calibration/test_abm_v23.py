"""The abm-amzn-v23 preset (docs/agents_flow_learning.md): v21 with value agents that learn from the others' flow."""

from __future__ import annotations

import tomllib
from pathlib import Path

from calibration.abm import load_abm_preset

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"


def test_v23_is_v21_with_flow_learning_of_five_thousandths_of_a_tick_a_lot_from_the_others():
    v23 = tomllib.loads((PRESETS / "abm-amzn-v23.toml").read_text())
    ref = tomllib.loads((PRESETS / "abm-amzn-v21.toml").read_text())
    assert v23["agents"]["value"].pop("flow_learning_ticks_per_lot") == 0.005
    assert v23["agents"]["value"].pop("flow_learning_source") == "others"
    assert not {"flow_learning_ticks_per_lot", "flow_learning_source"} & set(ref["agents"]["value"])
    assert v23["market"].pop("name") == "abm-amzn-v23"
    ref["market"].pop("name")
    assert v23 == ref  # everything else, the snap, the slow centre and the [calibration] table included, is v21's
    config, _ = load_abm_preset(PRESETS / "abm-amzn-v23.toml")
    assert (config.value.flow_learning_ticks_per_lot, config.value.flow_learning_source) == (0.005, "others")
