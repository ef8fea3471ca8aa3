"""The abm-amzn-v24 preset (docs/agents_refit_v24.md): abm-amzn-v23 with its nine continuous parameters refitted by
simulated moments, the flow rule and every integer rule fixed."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from calibration.abm import get_parameter, load_abm_preset
from calibration.abm_refit import REFIT_V9_PARAMETERS
from tests.calibration.refitted import assert_refitted

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"


def test_v24_is_v23_with_the_nine_refitted_values():
    v23, _ = load_abm_preset(PRESETS / "abm-amzn-v23.toml")
    v24, calibration = load_abm_preset(PRESETS / "abm-amzn-v24.toml")
    assert_refitted(v23, v24, calibration, REFIT_V9_PARAMETERS)
    assert calibration["objective"] == pytest.approx(671.65, abs=0.01)  # the page's numbers (section 5)
    assert calibration["start"]["objective"] == pytest.approx(863.91, abs=0.01)
    assert get_parameter(v24, "noise.arrival_rate_per_s") == pytest.approx(0.0514099, rel=1e-5)
    assert get_parameter(v24, "value.arrival_rate_per_s") == pytest.approx(0.000211536, rel=1e-5)
    assert get_parameter(v24, "market_maker.price_skew_ticks") == pytest.approx(24.0046, rel=1e-5)
    assert calibration["source"]["moments"] == "clock-mix-path" and calibration["settings"]["n_paths"] == 2


def test_v24_records_its_uncertainty_and_moments():
    document = tomllib.loads((PRESETS / "abm-amzn-v24.toml").read_text())["calibration"]
    assert all(document["std_errors"][name] > 0 for name in REFIT_V9_PARAMETERS)
    assert document["std_errors"]["noise.arrival_rate_per_s"] == pytest.approx(0.001, rel=0.05)
    spread = document["moments"]["spread_mean_ticks"]  # the misfit the page reports: 9.4 ticks against 13.7
    assert (round(spread["real"], 2), round(spread["simulated"], 2)) == (13.72, 9.36)
    assert len(document["moments"]) == 17
    assert all({"real", "simulated"} <= set(row) for row in document["moments"].values())
