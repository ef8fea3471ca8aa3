"""abm-amzn-v2-llob: abm-amzn-v2 with the latent (LLOB) rule on its value agents (docs/agents_llob.md, last section)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from calibration.abm import load_abm_preset

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"


def test_preset_is_abm_amzn_v2_with_only_the_latent_keys_added():
    v2, _ = load_abm_preset(PRESETS / "abm-amzn-v2.toml")
    latent, _ = load_abm_preset(PRESETS / "abm-amzn-v2-llob.toml")
    value = latent.value
    assert (value.latent_depth_ticks, value.latent_refresh_per_s, value.latent_size_lots) == (20.0, 0.001, 1000)
    assert v2.value.latent_depth_ticks == 0  # the rule is off in abm-amzn-v2
    held = replace(value, latent_depth_ticks=0.0, latent_refresh_per_s=0.0, latent_size_lots=0)
    assert replace(latent, value=held, name=v2.name) == v2  # every other parameter is abm-amzn-v2's
    refit, calibration = load_abm_preset(PRESETS / "abm-amzn-v2-llob-refit.toml")
    keys = ("latent_depth_ticks", "latent_refresh_per_s", "latent_size_lots")
    assert all(getattr(refit.value, k) == getattr(value, k) for k in keys)  # held in the refit
    assert not any(k.startswith("value.latent") for k in calibration["estimates"])


def test_latent_v2_market_impact_does_not_decay_after_the_metaorder():
    # a reduced, seeded abm_impact run on the preset (seeds 0-2 of calibration/presets/abm-amzn-v2-llob.impact.json,
    # where 24 seeds give TWAP peaks 52.5 (10.1) and 187.3 (15.2) bps at Q/V 1e-2 and 1e-1, and 75.0 (18.0) and
    # 222.1 (22.3) bps 30 min after the end: the impact does not decay, see docs/agents_llob.md)
    from simlab.agents.impact import metaorder_impact

    config, _ = load_abm_preset(PRESETS / "abm-amzn-v2-llob.toml")
    result = metaorder_impact(config, np.array([1e-2, 1e-1]), seeds=[0, 1, 2])
    peak, after = result["peak_bps"].values.mean(axis=0), result["after_bps"].values.mean(axis=0)
    assert 20.0 < peak[0] < peak[1] and peak[1] > 100.0, peak  # measured 111.2 and 201.6 bps
    assert after[1] > peak[1], (after, peak)  # measured 292.7 against 201.6 bps: still rising 30 min later
