"""The latent AMZN market with its latent orders anchored on the price (docs/agents_sqrt.md): its fit.

abm-amzn-llob-slow (latent value agents refreshed at 1e-4 /s, noise agents, no maker, no momentum agent) centres
every latent order on the agent's forecast of the fundamental. Its price sits on average about 100 ticks away from
that vertex, and the agents pull it back toward the fundamental at every look: a restoring force proportional to the
displacement, hence a nearly linear impact (docs/agents_sqrt.md, "Diagnosis"). Here the latent orders are anchored
on the price (``latent_anchor = "price"``: a draw is centred on the mid the agent sees, then moves with its
forecast), the refresh is held at the LLOB's slow rate (1e-4 /s: 1 / nu = 2.8 h, longer than the 1-h metaorders),
and :data:`PARAMETERS` are refitted on the level-1-visible moments of :mod:`calibration.abm_llob`.

``python -m calibration.abm_sqrt DATA_DIR`` writes :data:`PRESET`; ``python -m calibration.abm_sqrt DATA_DIR OUT V``
holds the fundamental's volatility at ``V`` ticks / sqrt s and writes ``OUT``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from calibration.abm import AgentMarketEstimator, load_abm_preset
from calibration.abm_llob import fit_visible
from calibration.abm_llob_slow import PARAMETERS as SLOW_PARAMETERS
from simlab.agents import MarketConfig

BASE = "calibration/presets/abm-amzn-llob-slow.toml"
PRESET = "calibration/presets/abm-amzn-sqrt.toml"
START_VOLATILITY = 1.0  # ticks / sqrt s: the slow preset's 6.44 makes the latent orders' staleness refill the book
PARAMETERS = SLOW_PARAMETERS  # the slow preset's three: volatility, value arrival rate, latent depth
HELD_VOLATILITY_PARAMETERS = PARAMETERS[1:]  # the fit with the fundamental's volatility held (``held_volatility``)


def start_config(base: str | Path = BASE, volatility: float = START_VOLATILITY) -> MarketConfig:
    """The start of the fit: ``base`` with its latent orders anchored on the price and the fundamental's volatility
    at ``volatility`` (ticks / sqrt s), the rest of its fitted population held."""
    config, _ = load_abm_preset(base)
    fundamental = replace(config.fundamental, volatility_ticks_per_sqrt_s=volatility)
    return replace(config, fundamental=fundamental, value=replace(config.value, latent_anchor="price"))


def fit(
    data_dir: str | Path,
    out: str | Path = PRESET,
    *,
    n_lhs: int = 12,
    maxfev: int = 24,
    held_volatility: float | None = None,
) -> AgentMarketEstimator:
    """Fit :data:`PARAMETERS` of :func:`start_config` to the AMZN day's 12:00-12:30 window on the level-1-visible
    moments (4 paths, seed 0; ``n_lhs`` Latin-hypercube points, then at most ``maxfev`` Nelder-Mead evaluations) and
    write the preset ``out``; with ``held_volatility`` (ticks / sqrt s) the fundamental's volatility is held there
    and :data:`HELD_VOLATILITY_PARAMETERS` are fitted."""
    volatility = START_VOLATILITY if held_volatility is None else held_volatility
    free = PARAMETERS if held_volatility is None else HELD_VOLATILITY_PARAMETERS
    start = f"{BASE} with value.latent_anchor = 'price', fundamental.volatility_ticks_per_sqrt_s = {volatility}"
    return fit_visible(start_config(volatility=volatility), free, data_dir, out, start, n_lhs=n_lhs, maxfev=maxfev)


if __name__ == "__main__":  # DATA_DIR [OUT HELD_VOLATILITY]
    held = {"held_volatility": float(sys.argv[3])} if len(sys.argv) > 3 else {}
    estimator = fit(sys.argv[1], *sys.argv[2:3], **held)
    print(estimator.estimates_, estimator.std_errors_, estimator.objective_, estimator.moments_without_jacobian_)
