"""The measured forecaster stress runs of docs/stress_forecast.md, and the table they print.

* :func:`amzn_run`: models trained on the real AMZN day (LOBSTER level 1, 2012-06-21) before its most extreme
  5-minute move, scored on its later normal minutes, on that real window, and on the calibrated agent market
  (abm-amzn) with its stress rules on, simulated on the next day's clock;
* :func:`abm_run`: models trained on an hour of the calibrated agent market without shocks, scored on the same market
  with its stress rules on;
* :func:`hawkes_run`: models trained on a Hawkes preset's normal hour, scored on a crash of the same process whose
  sell-order baseline is multiplied by ``sell_factor`` for five minutes, with the oracle's ceiling.

Run ``PYTHONPATH=. python -m scenarios.stress.forecast_runs --data ../shared/data -o outputs/stress_forecast``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import xarray as xr

from scenarios.stress.forecast import NS, forecaster_stress, iso
from scenarios.stress.forecast_tasks import DirectionSettings
from scenarios.stress.forecast_worlds import hawkes_world, stressed_market
from simlab.errors import DataError
from simlab.store import write_store

AMZN = "lobster_samples/AMZN_2012-06-21_level1_fullday"
FLOW_MODELS = ["mean", "persistence", "ewma", "ar", "var", "logistic", "fnn", "hawkes"]
DIRECTION_MODELS = ["prior", "last_label", "flow_logistic", "event_transformer", "deeplob"]
DAY_NS = 86_400 * NS


def most_extreme_window(books: xr.Dataset, length_s: float, *, grid_s: float = 1.0) -> tuple[int, int, float]:
    """Return ``(start_ns, end_ns, move_bps)`` of the largest absolute log move of the mid over ``length_s`` seconds
    (the mid sampled every ``grid_s`` seconds from the first book with both touches; the last one at or before each
    grid time)."""
    bid, ask = books["bid_price"].values[:, 0], books["ask_price"].values[:, 0]
    both = (bid > 0) & (ask > 0) & (ask > bid)
    ts = books["ts_ns"].values[both]
    mid = np.log(0.5 * (bid[both] + ask[both]).astype(float))
    steps = int(round(length_s / grid_s))
    grid = ts[0] + np.arange(0, ts[-1] - ts[0], int(grid_s * NS), dtype=np.int64)
    if grid.size <= steps:
        raise DataError(f"the books span {(ts[-1] - ts[0]) / NS:.0f} s, shorter than the {length_s} s window")
    sampled = mid[np.searchsorted(ts, grid, side="right") - 1]
    move = sampled[steps:] - sampled[:-steps]
    k = int(np.argmax(np.abs(move)))
    return int(grid[k]), int(grid[k + steps]), float(1e4 * move[k])


def window_moves(crashes: dict[str, tuple]) -> str:
    """Return JSON of each crash window's mid move (first to last book, bps of the log mid) and its largest fall
    from a running high (bps), for the report."""
    out = {}
    for name, (_, books, (start, end)) in crashes.items():
        ts = books["ts_ns"].values
        rows = slice(int(np.searchsorted(ts, start)), int(np.searchsorted(ts, end)))
        bid, ask = books["bid_price"].values[rows, 0], books["ask_price"].values[rows, 0]
        both = (bid > 0) & (ask > 0)
        mid = np.log(0.5 * (bid[both] + ask[both]).astype(float))
        fall = float(np.max(np.maximum.accumulate(mid) - mid))
        out[name] = {"move_bps": round(1e4 * float(mid[-1] - mid[0]), 1), "max_fall_bps": round(1e4 * fall, 1)}
    return json.dumps(out)


def abm_crashes(config, open_ns: int, seed: int) -> dict[str, tuple]:
    """Return the stressed agent market (:func:`stressed_market`: a POV seller, sell stops and leveraged longs from
    600 s, the window 600-900 s) and its unstressed twin (the same config and seed without the stress rules: common
    random numbers), both opened at ``open_ns``."""
    from simlab.agents import simulate_abm

    out = {}
    plain = replace(config, open_ns=open_ns)
    worlds = {"abm_stressed": stressed_market(plain, start_s=600.0, duration_s=300.0), "abm_twin_unstressed": plain}
    for name, world in worlds.items():
        market = simulate_abm(world, seed=seed, duration_s=1200.0)
        out[name] = (market["events"], market["books"], (open_ns + 600 * NS, open_ns + 900 * NS))
    return out


def stress_moves(seeds: range) -> list[dict]:
    """Return, per seed, the 600-900 s mid move and largest fall (bps) of the stressed agent market and of its
    unstressed twin (:func:`abm_crashes`): does the stress move the price beyond the market's own 5-minute moves?"""
    from calibration.abm import load_abm_preset
    from calibration.presets import PRESET_DIR

    config, _ = load_abm_preset(PRESET_DIR / "abm-amzn.toml")
    rows = []
    for seed in seeds:
        moves = json.loads(window_moves(abm_crashes(config, config.open_ns, seed)))
        rows.append({"seed": seed, **{f"{k}_{m}": v[m] for k, v in moves.items() for m in v}})
    return rows


def amzn_run(data_dir: Path, seed: int, *, preset: str = "cpu") -> xr.Dataset:
    """Train on AMZN from 09:35 up to its most extreme 5-minute move (normal test after the training block); score
    on that move, on the stressed agent market (abm-amzn) of the next day and on its unstressed twin; 10-second OFI
    windows, direction 50 events ahead."""
    from calibration.abm import load_abm_preset
    from calibration.presets import PRESET_DIR
    from simlab.io import read

    real = read(sorted((Path(data_dir) / AMZN).glob("*.csv")), "lobster")
    events, books = real["events"], real["books"]
    open_ns = int(events["ts_ns"].values[0])
    start, end, move = most_extreme_window(books, 300.0)
    normal = (events, books, (open_ns + 300 * NS, start - 60 * NS))  # 09:35 to a minute before the move
    config, _ = load_abm_preset(PRESET_DIR / "abm-amzn.toml")
    crashes = {**abm_crashes(config, open_ns + DAY_NS, seed), "amzn_extreme_5min": (events, books, (start, end))}
    direction = DirectionSettings(horizon_events=50, threshold_ticks=0.5, preset=preset, levels=1)
    ds = forecaster_stress(normal, crashes, FLOW_MODELS + DIRECTION_MODELS, seed, window_s=10.0, direction=direction)
    ds.attrs.update(extreme_move_bps=move, extreme_window=f"{iso(start)} to {iso(end)}", moves=window_moves(crashes))
    return ds


def abm_run(seed: int, *, preset: str = "cpu") -> xr.Dataset:
    """Train on an hour of the calibrated agent market (abm-amzn, no stress rules); score on the same market with
    its stress rules on and on its unstressed twin (a day later, window 600-900 s); 10-second OFI windows, direction
    50 events ahead with DeepLOB on 10 levels."""
    from calibration.abm import load_abm_preset
    from calibration.presets import PRESET_DIR
    from simlab.agents import simulate_abm

    config, _ = load_abm_preset(PRESET_DIR / "abm-amzn.toml")
    normal = simulate_abm(config, seed=seed, duration_s=3660.0)
    crashes = abm_crashes(config, config.open_ns + DAY_NS, seed + 1)
    window = (config.open_ns + 60 * NS, config.open_ns + 3660 * NS)
    direction = DirectionSettings(horizon_events=50, threshold_ticks=0.5, preset=preset, levels=10)
    models = FLOW_MODELS + DIRECTION_MODELS
    ds = forecaster_stress(
        (normal["events"], normal["books"], window), crashes, models, seed, window_s=10.0, direction=direction
    )
    ds.attrs.update(moves=window_moves(crashes))
    return ds


def hawkes_run(seed: int, *, preset: str = "binance-usdm-btcusdt", sell_factor: float = 5.0) -> xr.Dataset:
    """Train on an hour of a Hawkes preset, score on a later session whose sell baseline is x ``sell_factor`` for
    five minutes (1-second windows), with the oracle."""
    from calibration.presets import load_preset

    params = load_preset(preset).params
    start = 1_700_000_000 * NS
    normal = hawkes_world(params, 3600.0, seed=seed, start_ns=start)
    crash = hawkes_world(
        params, 1200.0, seed=seed + 1, start_ns=start + DAY_NS, crash_s=(600.0, 900.0), sell_factor=sell_factor
    )
    ds = forecaster_stress(normal, {f"sell_x{sell_factor:g}": crash}, [*FLOW_MODELS, "oracle"], seed, window_s=1.0)
    ds.attrs.update(preset=preset, sell_factor=sell_factor)
    return ds


def stress_markdown(ds: xr.Dataset) -> str:
    """Return the table of a stress run as markdown: per model and regime, loss, directional accuracy and skill
    with their 95 % intervals, and the shift tests' statistics (p-values) against the normal regime."""
    lines = [
        "| model | regime | n | loss [95 %] | directional accuracy [95 %] | skill [95 %] | DM vs baseline (p) "
        "| shift of loss (p) | shift of direction (p) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model in ds.model.values:
        for regime in ds.regime.values:
            cell = ds["score"].sel(model=model, regime=regime)
            if np.isnan(float(cell.sel(metric="loss", bound="value"))):
                continue
            tests = ds["tests"].sel(model=model, regime=regime)
            row = [str(model), str(regime), str(int(ds.n_scored.sel(model=model, regime=regime)))]
            row += [_interval(cell.sel(metric=m).values) for m in ("loss", "directional_accuracy", "skill")]
            row += [_test(tests.sel(test=t).values) for t in ("dm_vs_baseline", "shift_loss", "shift_direction")]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _interval(values: np.ndarray) -> str:
    return f"{values[0]:.3f} [{values[1]:.3f}, {values[2]:.3f}]"


def _test(values: np.ndarray) -> str:
    return "—" if np.isnan(values[0]) else f"{values[0]:+.2f} ({values[1]:.2g})"


def main() -> None:
    """Run both stress runs, write their stores under ``-o`` and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the real-data folder (../shared/data)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder for the stores")
    args = parser.parse_args()
    runs = {
        "hawkes": lambda: hawkes_run(args.seed),
        "abm": lambda: abm_run(args.seed),
        "amzn": lambda: amzn_run(args.data, args.seed),
    }
    for row in stress_moves(range(args.seed, args.seed + 8)):
        print(row, flush=True)
    for name, run in runs.items():
        ds = run()
        write_store({"table": ds}, args.output / f"{name}.zarr", attrs=dict(ds.attrs), overwrite=True)
        print(f"## {name}\n\n{ds.attrs.get('moves', '')}\n\n{stress_markdown(ds)}\n", flush=True)


if __name__ == "__main__":
    main()
