"""The AMZN agent market with latent-liquidity value agents (LLOB, docs/agents_llob.md): its fit and its standing book.

The latent agents rest orders hundreds of ticks from the mid, where a level-1 LOBSTER file records nothing; the
scorecard therefore keeps only the synthetic events a level-1 file would record (:func:`simlab.book.stats.
visible_events`), and so do the moments of this fit (:data:`VISIBLE_MOMENTS`): with every event the fit would match
the real level-1 stream to an invisible one.

``python -m calibration.abm_llob fit DATA_DIR [OUT [START]]`` refits ``START`` (default
``scenarios/library/abm_llob_amzn_start.toml``) to the AMZN day's 12:00-12:30 window (:data:`PARAMETERS` free, the
rest held) and writes the preset ``OUT`` (default ``calibration/presets/abm-amzn-llob.toml``);
``python -m calibration.abm_llob depth PRESET`` prints its standing depth per tick against the distance to the mid.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from calibration.abm import (
    AMZN_DAY,
    MOMENTS,
    AgentMarketEstimator,
    MomentSet,
    load_abm_preset,
    market_for,
    moments_of,
    preset_document,
    select_window,
    window_blocks,
    write_preset,
)
from simlab.agents import MarketConfig
from simlab.agents.latent import standing_depth
from simlab.book.stats import visible_events

START = "scenarios/library/abm_llob_amzn_start.toml"
PRESET = "calibration/presets/abm-amzn-llob.toml"
PARAMETERS = (
    "fundamental.volatility_ticks_per_sqrt_s",
    "value.arrival_rate_per_s",
    "value.latent_depth_ticks",
    "momentum.wake_interval_s",
)
DEPTH_EDGES = np.array([0, 5, 10, 20, 40, 80, 160, 320, 640, 1280.0])


def visible_blocks(data: dict[str, xr.Dataset], block_s: float) -> list[dict[str, np.ndarray]]:
    """:func:`calibration.abm.window_blocks` of the events a level-1 LOBSTER file would record (with their book
    rows; the books hold one row per event)."""
    events, books = data["events"], data["books"]
    keep = visible_events(events["kind"].values, events["side"].values, events["price_ticks"].values, books, 1)
    return window_blocks({"events": events.isel(event=keep), "books": books.isel(time=keep)}, block_s)


VISIBLE_MOMENTS = MomentSet(MOMENTS, visible_blocks, moments_of, (0.0,) * len(MOMENTS))


def fit_visible(
    config: MarketConfig, parameters: tuple[str, ...], data_dir: str | Path, out: str | Path, start: str, **options: Any
) -> AgentMarketEstimator:
    """Fit ``parameters`` of the market ``config`` to the AMZN day's 12:00-12:30 window on the level-1-visible
    moments (4 paths, seed 0; ``options`` go to :class:`~calibration.abm.AgentMarketEstimator`, e.g. ``n_lhs``,
    ``maxfev``) and write the preset ``out``, whose source records ``start`` (what ``config`` was made from)."""
    from simlab.io.dataset import load_dataset

    window = select_window(load_dataset([Path(data_dir) / AMZN_DAY]), 9000.0, 1800.0)
    config = replace(market_for(config, window), name=Path(out).stem)
    est = AgentMarketEstimator(config, parameters=parameters, moments=VISIBLE_MOMENTS, **options).fit(window)
    document = preset_document(est, source={"files": [str(Path(data_dir) / AMZN_DAY)], "start_s": 9000.0,
                                            "duration_s": 1800.0, "config": start})  # fmt: skip
    document["calibration"]["moment_events"] = "level-1 visible (calibration.abm_llob.VISIBLE_MOMENTS)"
    document["calibration"]["moments_without_jacobian"] = est.moments_without_jacobian_
    write_preset(document, out)
    return est


def fit(
    data_dir: str | Path, out: str | Path = PRESET, *, start: str | Path = START, maxfev: int = 40
) -> AgentMarketEstimator:
    """Fit :data:`PARAMETERS` of the market ``start`` to the AMZN day's 12:00-12:30 window on the level-1-visible
    moments (4 paths, seed 0, the settings of abm-amzn otherwise) and write the preset ``out``."""
    config, _ = load_abm_preset(start)
    return fit_visible(config, PARAMETERS, data_dir, out, str(start), maxfev=maxfev)


def preset_depth(preset: str | Path, seeds: tuple[int, ...] = (0, 1)) -> dict[str, list[float]]:
    """The preset's standing depth (lots per tick, mean of the sides) in :data:`DEPTH_EDGES` bins from the mid, at
    10:30, 12:00, 13:30 and 15:00, over ``seeds``."""
    config, _ = load_abm_preset(preset)
    depth = standing_depth(config, list(seeds), [3600.0, 9000.0, 14400.0, 19800.0], DEPTH_EDGES)
    return {"edges_ticks": DEPTH_EDGES.tolist(), "lots_per_tick": depth.tolist()}


if __name__ == "__main__":
    command, argument = sys.argv[1], sys.argv[2]
    if command == "fit":
        estimator = fit(argument, *sys.argv[3:4], **({"start": sys.argv[4]} if len(sys.argv) > 4 else {}))
        print(estimator.estimates_, estimator.std_errors_, estimator.objective_)
    else:
        print(preset_depth(argument))
