"""The abm-amzn-v25 preset (docs/agents_skew_prior.md): abm-amzn-v24 with the makers' imbalance skew given a prior
volume and its ten continuous parameters refitted by simulated moments with the aggregate price response among
them, every integer rule fixed."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from calibration.abm import get_parameter, load_abm_preset, with_parameters
from calibration.abm_refit import CLOCK_MIX_PATH_RESPONSE_NAMES, REFIT_V25_PARAMETERS
from tests.calibration.refitted import assert_refitted

PRESETS = Path(__file__).parents[2] / "calibration" / "presets"


def test_v25_is_v24_with_the_prior_on_and_the_ten_refitted_values():
    v24, _ = load_abm_preset(PRESETS / "abm-amzn-v24.toml")
    v25, calibration = load_abm_preset(PRESETS / "abm-amzn-v25.toml")
    start = with_parameters(v24, {"market_maker.skew_prior_lots": 300.0})
    assert calibration["start"]["overrides"] == {"market_maker.skew_prior_lots": 300.0}
    assert_refitted(start, v25, calibration, REFIT_V25_PARAMETERS)
    assert calibration["objective"] == pytest.approx(1613.04, abs=0.01)  # the page's numbers (section 4)
    assert calibration["start"]["objective"] == pytest.approx(2153.21, abs=0.01)
    assert get_parameter(v25, "market_maker.skew_prior_lots") == pytest.approx(250.942, rel=1e-5)
    assert get_parameter(v25, "market_maker.price_skew_ticks") == pytest.approx(29.003, rel=1e-4)
    assert calibration["source"]["moments"] == "clock-mix-path-response" and calibration["settings"]["n_paths"] == 2


def test_v25_records_its_uncertainty_and_the_response_it_fits():
    document = tomllib.loads((PRESETS / "abm-amzn-v25.toml").read_text())["calibration"]
    assert all(document["std_errors"][name] > 0 for name in REFIT_V25_PARAMETERS)
    assert document["std_errors"]["market_maker.skew_prior_lots"] == pytest.approx(19.4, rel=0.05)
    assert list(document["moments"]) == list(CLOCK_MIX_PATH_RESPONSE_NAMES)
    response = [document["moments"][f"response_ticks_{b}"] for b in ("1_100", "100_300", "300_1000", "1000_up")]
    assert [round(r["real"], 2) for r in response] == [1.42, 3.62, 6.01, 11.52]
    assert [round(r["simulated"], 2) for r in response] == [3.03, 6.24, 10.79, 13.87]  # twice AMZN's at the bottom
    search = document["search"]  # the page's record of the search: the budget stopped it
    assert (search["nelder_mead_success"], search["nelder_mead_simulated"]) == (False, 54)
    assert search["lhs_best_objective"] == pytest.approx(1844.39, abs=0.01)
