"""The paper's grid and Table 4 layout, and train-on-synthetic / test-on-real."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.forecast.data import simulate_series
from scenarios.forecast.forecasters import AutoRegressive, TrainingMean, VectorAutoRegressive
from scenarios.forecast.neural import NetworkSettings
from scenarios.forecast.paper import sensitivity, sensitivity_configs, table4
from scenarios.forecast.protocol import run_protocol
from scenarios.forecast.tstr import train_synthetic_test_real
from simlab.errors import ParameterError


def test_grid_and_latin_hypercube_cover_the_papers_levels():
    grid = sensitivity_configs("grid")
    assert len(grid) == 4 * 5 * 3 * 2 and len({tuple(map(str, g.values())) for g in grid}) == 120
    lhs = sensitivity_configs("lhs", 12, rng=1)
    for factor, levels in (("var_lags", 4), ("layers", 5), ("activation", 3), ("optimizer", 2)):
        counts = np.unique([str(c[factor]) for c in lhs], return_counts=True)[1]
        assert counts.size == levels and counts.max() - counts.min() <= 1  # every level, evenly
    with pytest.raises(ParameterError, match="kind"):
        sensitivity_configs("random")


def test_sensitivity_and_table4_show_both_hybrid_variants(btc_params):
    series = simulate_series(btc_params, 1500.0, rng=4)
    config = [{"var_lags": 2, "layers": (32, 16), "activation": "relu", "optimizer": "adam"}]
    (row,) = sensitivity(series, config, base=NetworkSettings(max_epochs=5, max_train=400), rng=2)
    assert row["r2_nowcast"] > 0.8 > 0.2 > row["r2_honest"]
    results = {"synthetic": run_protocol(series, [VectorAutoRegressive(2), TrainingMean()], rng=1)}
    text = table4(results)
    assert "hybrid_nowcast" in text and "synthetic R^2" in text and text.count("\n") == 5


def test_tstr_reports_the_ratio_on_a_known_process(btc_params):
    # "real" here is a simulated series: the calibrated process is then right, so TSTR ~ TRTR for a linear model
    real = simulate_series(btc_params, 1500.0, rng=8)
    out = train_synthetic_test_real(real, [AutoRegressive(3), VectorAutoRegressive(3)], rng=3, synthetic_s=3000.0)
    # the preset's branching ratio is 0.880; the calibration on 900 s recovers it
    assert out["calibrated_branching_ratio"] == pytest.approx(btc_params.branching_ratio, abs=0.05)
    for row in out["models"].values():
        assert row["tstr_trtr_mse"] == pytest.approx(row["mse_synthetic"] / row["mse_real"])
        assert row["tstr_trtr_r2"] == pytest.approx(row["r2_synthetic"] / row["r2_real"])
        # the real skill is there (R^2 ~ 0.07-0.11) and training on synthetic data keeps most of it
        assert row["r2_real"] > 0.04 and 0.7 < row["tstr_trtr_r2"] < 1.3 and 0.97 < row["tstr_trtr_mse"] < 1.03
