"""The no-maker latent AMZN market with a slow latent refresh and no momentum agents (docs/agents_llob_slow.md).

abm-amzn-llob with its market makers removed and its latent orders refreshed at 1e-4 /s gave, unrefitted, a TWAP
impact exponent of 0.62 [0.53, 0.82] (docs/agents_llob.md); its refit with the momentum wake interval free
(abm-amzn-llob-nomm) turned the momentum agents on and moved it to 0.80. This fit holds the refresh at 1e-4 /s and
the momentum agents off (:data:`START`) and frees only :data:`PARAMETERS`, on the level-1-visible moments of
:mod:`calibration.abm_llob`.

``python -m calibration.abm_llob_slow DATA_DIR`` writes :data:`PRESET`.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from calibration.abm import (
    AMZN_DAY,
    AgentMarketEstimator,
    load_abm_preset,
    market_for,
    preset_document,
    select_window,
    write_preset,
)
from calibration.abm_llob import VISIBLE_MOMENTS

START = "scenarios/library/abm_llob_amzn_slow_start.toml"
PRESET = "calibration/presets/abm-amzn-llob-slow.toml"
PARAMETERS = (
    "fundamental.volatility_ticks_per_sqrt_s",
    "value.arrival_rate_per_s",
    "value.latent_depth_ticks",
)


def fit(data_dir: str | Path, out: str | Path = PRESET, *, n_lhs: int = 12, maxfev: int = 24) -> AgentMarketEstimator:
    """Fit :data:`PARAMETERS` of :data:`START` to the AMZN day's 12:00-12:30 window on the level-1-visible moments
    (4 paths, seed 0; ``n_lhs`` Latin-hypercube points, then at most ``maxfev`` Nelder-Mead evaluations) and write
    the preset ``out``."""
    from simlab.io.dataset import load_dataset

    window = select_window(load_dataset([Path(data_dir) / AMZN_DAY]), 9000.0, 1800.0)
    config, _ = load_abm_preset(START)
    config = replace(market_for(config, window), name=Path(out).stem)
    est = AgentMarketEstimator(config, parameters=PARAMETERS, maxfev=maxfev, n_lhs=n_lhs, moments=VISIBLE_MOMENTS)
    est.fit(window)
    document = preset_document(est, source={"files": [str(Path(data_dir) / AMZN_DAY)], "start_s": 9000.0,
                                            "duration_s": 1800.0, "config": START})  # fmt: skip
    document["calibration"]["moment_events"] = "level-1 visible (calibration.abm_llob.VISIBLE_MOMENTS)"
    document["calibration"]["moments_without_jacobian"] = est.moments_without_jacobian_
    write_preset(document, out)
    return est


if __name__ == "__main__":
    estimator = fit(sys.argv[1])
    print(estimator.estimates_, estimator.std_errors_, estimator.objective_, estimator.moments_without_jacobian_)
