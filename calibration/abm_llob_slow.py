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
from pathlib import Path

from calibration.abm import AgentMarketEstimator, load_abm_preset
from calibration.abm_llob import fit_visible

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
    config, _ = load_abm_preset(START)
    return fit_visible(config, PARAMETERS, data_dir, out, START, n_lhs=n_lhs, maxfev=maxfev)


if __name__ == "__main__":
    estimator = fit(sys.argv[1])
    print(estimator.estimates_, estimator.std_errors_, estimator.objective_, estimator.moments_without_jacobian_)
