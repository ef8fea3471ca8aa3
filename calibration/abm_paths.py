"""A fitted agent market's whole-day moments on other paths than the fit's (docs/agents_refit_v7.md).

:mod:`calibration.abm_refit` fits with common random numbers on a few paths of one root seed; with one path per
candidate the search can settle where that path is unusual. This diagnostic recomputes the visible-mix moments
(:data:`calibration.abm_visible.VISIBLE_MIX_MOMENTS`) of a preset on the fit's path and on other spawn keys of the
same root seed (the fit's 30-min warm-up before the AMZN day's first event), and on the scorecard's day (one seed,
from the first event, no warm-up, as :func:`calibration.abm.score_abm_preset` simulates it).

``python -m calibration.abm_paths DATA_DIR PRESET [PRESET ...]`` prints one line per preset and path.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from calibration.abm import AMZN_DAY, PathRun, _raise_missing, load_abm_preset, select_window, simulate_path_moments
from calibration.abm_visible import VISIBLE_MIX_MOMENT_NAMES, VISIBLE_MIX_MOMENTS

SHOWN = ("log10_event_rate", "add_share", "cancel_share", "trade_share", "log10_gap_mean", "return_sd_block_bps")


def day_moments(
    preset: str | Path,
    data_dir: str | Path,
    *,
    keys: tuple[tuple[int, ...], ...] = ((2,), (3,), (4,), (5,)),
    root_seed: int = 0,
    warmup_s: float = 1800.0,
    scorecard_seed: int = 20260501,
) -> dict[str, np.ndarray]:
    """The whole-day visible-mix moments of ``preset``: per spawn key of ``root_seed`` (key (2,) is the first path of
    a fit with root seed 0: :meth:`calibration.abm.AgentMarketEstimator.fit` spawns the bootstrap's and the
    sandwich's sequences first), after ``warmup_s``; and at ``scorecard_seed`` from the day's first event."""
    from simlab.io.dataset import load_dataset

    config, _ = load_abm_preset(preset)
    day = select_window(load_dataset(Path(data_dir) / AMZN_DAY), 0.0, config.session_s)
    start = int(day["events"]["ts_ns"].values[0])
    end = start + int(config.session_s * 1e9)
    warm = replace(config, open_ns=start - int(warmup_s * 1e9))
    runs = {f"path {key}": PathRun(warm, root_seed, key, warmup_s + config.session_s, start, end, 60.0,
                                   VISIBLE_MIX_MOMENTS) for key in keys}  # fmt: skip
    scored = replace(config, open_ns=start)
    runs[f"scorecard day {scorecard_seed}"] = PathRun(scored, scorecard_seed, (), config.session_s, start, end, 60.0,
                                                      VISIBLE_MIX_MOMENTS)  # fmt: skip
    return {label: _raise_missing(simulate_path_moments(run)) for label, run in runs.items()}


if __name__ == "__main__":  # python -m calibration.abm_paths DATA_DIR PRESET [PRESET ...]
    index = [VISIBLE_MIX_MOMENT_NAMES.index(name) for name in SHOWN]
    for preset in sys.argv[2:]:
        for label, moments in day_moments(preset, sys.argv[1]).items():
            values = " ".join(f"{name}={moments[i]:.4g}" for name, i in zip(SHOWN, index, strict=True))
            print(f"{Path(preset).stem} {label}: {values}", flush=True)
