"""The intraday profiles of a real day for the agent market: the spread's and the activity's shape through the session.

A day's spread is not one number. On AMZN's 2012-06-21 the mean spread is 23 ticks in the first half hour, 11-15
through the day and 8.5 in the last half hour, the reverse-J of McInish and Wood (1992, "An analysis of intraday
patterns in bid/ask spreads for NYSE stocks", J. Finance 47) and Chung, Van Ness and Van Ness (1999, "Limit orders
and the bid-ask spread", J. Financial Economics 53): wide at the open, while the night's information is priced in
(Madhavan, Richardson and Roomans 1997, "Why do security prices change?", Rev. Financial Studies 10), narrow into
the close. A market whose spread law is one stationary law gives every 200-event window of the day about the same
mean spread, which the scorecard's classifier reads at once (docs/agents_intraday.md).

:func:`day_profile` reads a day's mean spread (over its quoted rows) and its number of events in each of ``parts``
equal parts of the session, and their shapes (each over its mean across the parts): the spread's shape is a first
``half_spread_profile`` of :class:`simlab.agents.MarketMakers`, the events' a first ``activity_profile`` of
:class:`simlab.agents.Fundamental`. A maker's floor is not the spread (other agents quote inside it, and the floor
is a whole number of ticks), so :func:`refine_profile` takes one correction step from simulated days: each part's
weight times the real mean spread over the simulated one, averaged over the days.

``python -m calibration.abm_intraday DATA_DIR`` prints the AMZN day's parts and shapes;
``python -m calibration.abm_intraday DATA_DIR PRESET --seeds S1,S2,...`` simulates the preset's day at each seed
with its ``half_spread_profile`` (the day's spread shape, rounded to 4 decimals, where the preset has none) and
prints the refined profile. With ``calibration/presets/abm-amzn-v30.toml`` and seeds 5724,5725 it prints
abm-amzn-v33's profile (rounded to 3 decimals there).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from simlab.errors import ParameterError
from simlab.metrics._market import Market

PARTS = 13  # the half hours of 09:30-16:00
SESSION_S = 23_400.0


def part_means(market: Market, first_ns: int, *, parts: int = PARTS, session_s: float = SESSION_S) -> dict[str, Any]:
    """The mean spread (ticks, over the quoted rows; NaN for a part without one) and the number of events of each of
    ``parts`` equal parts of ``session_s`` from ``first_ns`` (events after the session fall in the last part)."""
    if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
        raise ParameterError(f"part_means: `parts` must be an int >= 1; got {parts!r}")
    part = np.clip((market.ts - first_ns) * parts // int(round(session_s * 1e9)), 0, parts - 1)
    quoted = market.quoted
    sums = np.bincount(part[quoted], weights=market.spread_after[quoted], minlength=parts)
    counts = np.bincount(part[quoted], minlength=parts)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return {"spread_ticks": spread, "events": np.bincount(part, minlength=parts)}


def day_profile(day: dict[str, xr.Dataset], *, parts: int = PARTS, session_s: float = SESSION_S) -> dict[str, Any]:
    """A real day's :func:`part_means` (from its first event) and their shapes: ``spread_shape`` (each part's mean
    spread over the parts' mean) and ``activity_shape`` (each part's events over the parts' mean)."""
    market = Market(day["events"], day["books"], levels=1, source="real")
    means = part_means(market, int(market.ts[0]), parts=parts, session_s=session_s)
    if np.isnan(means["spread_ticks"]).any():
        empty = np.flatnonzero(np.isnan(means["spread_ticks"])).tolist()
        raise ParameterError(f"day_profile: every part of the session needs a quoted row; parts {empty} have none")
    events = means["events"].astype(np.float64)
    return {**means, "spread_shape": means["spread_ticks"] / means["spread_ticks"].mean(),
            "activity_shape": events / events.mean()}  # fmt: skip


def refine_profile(profile, real_spread, simulated_spreads) -> np.ndarray:
    """One correction step of a half-spread profile: each part's weight times the mean over the simulated days of
    (real mean spread / simulated mean spread), a day whose part had no quoted row left out of that part's mean.

    ``simulated_spreads`` is one row per simulated day (parts as columns). A part no day quoted is refused."""
    profile, real = np.asarray(profile, dtype=np.float64), np.asarray(real_spread, dtype=np.float64)
    simulated = np.atleast_2d(np.asarray(simulated_spreads, dtype=np.float64))
    if not profile.shape == real.shape == simulated.shape[1:]:
        raise ParameterError(f"refine_profile: the profile, the real spreads and each simulated day need one value per "
                             f"part; got shapes {profile.shape}, {real.shape} and {simulated.shape}")  # fmt: skip
    ratios = real / simulated
    unread = np.flatnonzero(np.isnan(ratios).all(axis=0)).tolist()
    if unread:
        raise ParameterError(f"refine_profile: parts {unread} have no quoted row in any simulated day, so their "
                             "correction cannot be read; simulate more days")  # fmt: skip
    return profile * np.nanmean(ratios, axis=0)


def refine_preset(preset: str | Path, data_dir: str | Path, seeds: list[int]) -> dict[str, Any]:
    """The refined ``half_spread_profile`` of ``preset`` (:func:`refine_profile`) from one simulated day per seed, the
    day from the real day's first event as the scorer runs it; a preset without a profile starts from the real
    day's spread shape rounded to 4 decimals."""
    from calibration.abm import AMZN_DAY, cut_window, load_abm_preset
    from calibration.abm_features import scorecard_markets
    from simlab.agents import simulate_abm
    from simlab.io.dataset import load_dataset

    config = load_abm_preset(preset)[0]
    real = load_dataset(Path(data_dir) / AMZN_DAY)
    shape = day_profile(real, session_s=config.session_s)
    start = config.market_maker.half_spread_profile or tuple(np.round(shape["spread_shape"], 4).tolist())
    config = replace(config, market_maker=replace(config.market_maker, half_spread_profile=start))
    first = int(real["events"]["ts_ns"].values[0])
    lo, hi = first, first + int(config.session_s * 1e9)
    simulated = []
    for seed in seeds:
        day = cut_window(simulate_abm(replace(config, open_ns=first), seed=seed, duration_s=config.session_s), lo, hi)
        synthetic = scorecard_markets(day, cut_window(real, lo, hi))[1]
        simulated.append(part_means(synthetic, first, session_s=config.session_s)["spread_ticks"])
    return {"start": list(start), "real_spread_ticks": shape["spread_ticks"].tolist(),
            "simulated_spread_ticks": [row.tolist() for row in simulated],
            "refined": refine_profile(start, shape["spread_ticks"], simulated).tolist()}  # fmt: skip


def _main(argv: list[str]) -> None:
    if not argv or len(argv) not in (1, 4) or (len(argv) == 4 and argv[2] != "--seeds"):
        raise ParameterError(f"abm_intraday: expected `DATA_DIR [PRESET --seeds S1,S2,...]`; got {' '.join(argv)!r}")
    if len(argv) == 1:
        from calibration.abm import AMZN_DAY
        from simlab.io.dataset import load_dataset

        shape = day_profile(load_dataset(Path(argv[0]) / AMZN_DAY))
        print(json.dumps({k: np.round(v, 4).tolist() for k, v in shape.items()}, indent=1))
        return
    try:
        seeds = [int(s) for s in argv[3].split(",")]
    except ValueError:
        raise ParameterError(f"abm_intraday: --seeds must be integers separated by commas; got {argv[3]!r}") from None
    out = refine_preset(argv[1], argv[0], seeds)
    print(json.dumps({**out, "refined_3dp": np.round(out["refined"], 3).tolist()}, indent=1))


if __name__ == "__main__":  # python -m calibration.abm_intraday DATA_DIR [PRESET --seeds S1,S2,...]
    _main(sys.argv[1:])
