"""abm-amzn-v5 (docs/agents_realism_v5.md): abm-amzn-v4's market refitted with its makers keeping their touch."""

from __future__ import annotations

import numpy as np

from simlab.schema import EventKind


def _visible_cancel_share(name: str) -> float:
    from calibration.abm import load_abm_preset
    from calibration.abm_visible import visible_window
    from calibration.presets import PRESET_DIR
    from simlab.agents import simulate_abm

    config, _ = load_abm_preset(PRESET_DIR / f"{name}.toml")
    events = visible_window(simulate_abm(config, seed=11, duration_s=1800.0))["events"]
    kinds = events["kind"].values
    assert kinds.size > 400
    return float(np.mean(kinds == EventKind.DELETE))


def test_the_v5_preset_keeps_its_touch_and_cancels_less_than_v4():
    """abm-amzn-v5 loads with the rule on; 30 minutes of it, seen as a level-1 file, have a smaller share of cancels
    than v4's on the same seed (its makers' best orders at an unchanged price are no longer cancelled and re-added)."""
    from calibration.abm import load_abm_preset
    from calibration.presets import PRESET_DIR

    config, calibration = load_abm_preset(PRESET_DIR / "abm-amzn-v5.toml")
    assert config.market_maker.keep_touch_ticks == 0 and calibration["source"]["moments"] == "visible"
    v5, v4 = _visible_cancel_share("abm-amzn-v5"), _visible_cancel_share("abm-amzn-v4")
    assert v5 < v4 - 0.02, (v5, v4)
