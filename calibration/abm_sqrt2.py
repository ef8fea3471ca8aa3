"""The price-anchored latent AMZN market whose volatility comes from the order flow (docs/agents_sqrt2.md): its fit.

abm-amzn-sqrt (docs/agents_sqrt.md) anchors the latent orders on the price, but its price moves because the latent
orders follow the fundamental (2.56 ticks / sqrt s): between an agent's looks its order is stale and diffuses
relative to the price, so the book near the price is refilled at the LLOB's rate ``J = L D`` and the impact of
small metaorders is linear. Here the fundamental is held nearly still (:data:`HELD_VOLATILITY`, ticks / sqrt s:
``D`` about 100-fold smaller) and the price's volatility comes from the order flow instead: the noise agents' orders
walk ``noise.walk_ticks`` through the touch (ours, off by default), taking the latent V as they go. The walk, the
value agents' look rate and the latent depth (:data:`PARAMETERS`) are fitted on the level-1-visible moments of
:mod:`calibration.abm_llob`.

``python -m calibration.abm_sqrt2 DATA_DIR`` writes :data:`PRESET`.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from calibration.abm import AgentMarketEstimator, load_abm_preset
from calibration.abm_llob import fit_visible
from simlab.agents import MarketConfig

BASE = "calibration/presets/abm-amzn-sqrt.toml"
PRESET = "calibration/presets/abm-amzn-sqrt2.toml"
HELD_VOLATILITY = 0.1  # ticks / sqrt s: the latent orders' diffusion relative to the price, D ~ 0.01 ticks^2 / s
START_WALK = 30.0  # ticks
PARAMETERS = ("noise.walk_ticks", "value.arrival_rate_per_s", "value.latent_depth_ticks")


def start_config(
    base: str | Path = BASE, volatility: float = HELD_VOLATILITY, walk: float = START_WALK
) -> MarketConfig:
    """The start of the fit: ``base`` (price-anchored latent orders, its fitted look rate and depth) with the
    fundamental's volatility at ``volatility`` (ticks / sqrt s) and the noise orders walking ``walk`` ticks."""
    config, _ = load_abm_preset(base)
    fundamental = replace(config.fundamental, volatility_ticks_per_sqrt_s=volatility)
    return replace(config, fundamental=fundamental, noise=replace(config.noise, walk_ticks=walk))


def fit(data_dir: str | Path, out: str | Path = PRESET, *, n_lhs: int = 10, maxfev: int = 16) -> AgentMarketEstimator:
    """Fit :data:`PARAMETERS` of :func:`start_config` to the AMZN day's 12:00-12:30 window on the level-1-visible
    moments (4 paths, seed 0; ``n_lhs`` Latin-hypercube points, then at most ``maxfev`` Nelder-Mead evaluations) and
    write the preset ``out``."""
    start = f"{BASE} with fundamental.volatility_ticks_per_sqrt_s = {HELD_VOLATILITY}, noise.walk_ticks = {START_WALK}"
    return fit_visible(start_config(), PARAMETERS, data_dir, out, start, n_lhs=n_lhs, maxfev=maxfev)


if __name__ == "__main__":
    estimator = fit(sys.argv[1])
    print(estimator.estimates_, estimator.std_errors_, estimator.objective_, estimator.moments_without_jacobian_)
