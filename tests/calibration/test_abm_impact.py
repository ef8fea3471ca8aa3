"""The impact summary of calibration/abm_impact.py: per-size means and standard errors over seeds, executed shares
and the fit, from a small market's metaorders."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.abm_impact import impact_summary
from simlab.agents.impact import metaorder_impact
from tests.simlab.agents.conftest import small_config


def test_impact_summary_of_a_small_market():
    result = metaorder_impact(small_config(session_s=1800.0), np.array([0.01, 0.3]), seeds=[1, 2, 3], start_s=300.0,
                              duration_s=600.0, after_s=300.0, interval_s=20.0, strategy="pov")  # fmt: skip
    summary = impact_summary(result)
    peak = result["peak_bps"].values
    assert summary["strategy"] == "pov" and summary["seeds"] == 3
    np.testing.assert_allclose(summary["peak_bps"], peak.mean(axis=0))
    np.testing.assert_allclose(summary["peak_se_bps"], peak.std(axis=0, ddof=1) / np.sqrt(3))
    np.testing.assert_allclose(summary["after_bps"], result["after_bps"].values.mean(axis=0))
    assert all(0 < share <= 1 for share in summary["executed_share"])
    assert summary["exponent"] == pytest.approx(result.attrs["exponent"]) or np.isnan(summary["exponent"])
    assert summary["window"] == {"start_s": 300.0, "duration_s": 600.0, "after_s": 300.0}
