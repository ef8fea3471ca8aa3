"""What the generator world's learned stress regime does: its paths against the same paths without the switch.

:func:`paired_table` reads a stress store of the ``generator`` world (:func:`scenarios.stress.run.run_stress`
writes every path twice, with and without the regime switch, from one seed) and returns, per statistic, the mean
over paths with the switch, without it, and their paired difference, each with a 95 % t interval over paths, next to
the template. Besides the shape statistics it measures three window statistics from the event to the end of the
session: the mean depth within 10 bps (lots), the mean spread (ticks) and the realised volatility (the root of the
summed squared 1-s mid changes, ticks).

``python -m scenarios.stress.generator_compare EPISODE MODEL --paths N --seed S [--guidance W] -o STORE`` runs the
episode in the generator world and prints the table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import stats

SHAPE = ("drawdown", "time_to_trough_s", "min_depth_ratio", "max_spread_ratio")
WINDOW = ("depth_lots", "spread_ticks", "volatility_ticks")


def window_statistics(paths: xr.Dataset, prefix: str = "") -> np.ndarray:
    """Return ``[path, statistic]`` of :data:`WINDOW` over ``[event_s, end]`` of the ``prefix``-ed fields."""
    t_s = paths["t_s"].values
    after = t_s >= float(paths.attrs["event_s"])
    mid = paths[f"{prefix}mid"].values[:, after]
    steps = np.diff(mid, axis=1)
    volatility = np.sqrt(np.nansum(steps**2, axis=1))
    depth = np.nanmean(paths[f"{prefix}depth"].values[:, after], axis=1)
    spread = np.nanmean(paths[f"{prefix}spread"].values[:, after], axis=1)
    return np.stack([depth, spread, volatility], axis=1)


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    values = values[np.isfinite(values)]
    if values.size < 2:
        return (float(values.mean()) if values.size else np.nan, np.nan, np.nan)
    mean, half = values.mean(), stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    return float(mean), float(mean - half), float(mean + half)


def paired_table(store: str | Path) -> list[dict]:
    """Return one row per statistic: switched, unswitched and paired difference as (mean, lo, hi), the template."""
    from simlab.store import load_store

    paths = load_store(store, "paths")
    shocked, calm = load_store(store, "statistics"), load_store(store, "normal_statistics")
    template = json.loads(paths.attrs["template"])
    names = list(shocked["statistic"].values)
    columns = {name: (shocked["value"].values[:, names.index(name)], calm["value"].values[:, names.index(name)])
               for name in SHAPE}  # fmt: skip
    with_switch, without = window_statistics(paths), window_statistics(paths, "normal_")
    columns |= {name: (with_switch[:, j], without[:, j]) for j, name in enumerate(WINDOW)}
    rows = []
    for name, (a, b) in columns.items():
        rows.append({"statistic": name, "switched": _interval(a), "unswitched": _interval(b),
                     "difference": _interval(a - b), "template": template.get(name)})  # fmt: skip
    return rows


def _fmt(triple: tuple[float, float, float]) -> str:
    mean, lo, hi = triple
    return f"{mean:.4g} [{lo:.4g}, {hi:.4g}]"


def main(argv: list[str] | None = None) -> list[dict]:
    """Run an episode in the generator world and print :func:`paired_table` as markdown."""
    from scenarios.stress.episodes import Episode, load_episode
    from scenarios.stress.run import run_stress

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("episode")
    parser.add_argument("model")
    parser.add_argument("--paths", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--guidance", type=float, default=None)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    episode = load_episode(args.episode)
    if args.guidance is not None:
        world = episode.spec.world.model_copy(
            update={"generator": episode.spec.world.generator.model_copy(update={"guidance": args.guidance})}
        )
        episode = Episode(episode.spec.model_copy(update={"world": world}), episode.text, episode.path, None)
    store, _ = run_stress(episode, args.output, n_paths=args.paths, seed=args.seed, world="generator",
                          model=args.model, overwrite=True)  # fmt: skip
    rows = paired_table(store)
    print(f"{episode.name}, guidance {args.guidance}, {args.paths} paths, seed {args.seed}")
    print("| statistic | with the switch | without | paired difference | template |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['statistic']} | {_fmt(row['switched'])} | {_fmt(row['unswitched'])} | "
              f"{_fmt(row['difference'])} | {row['template']} |")  # fmt: skip
    return rows


if __name__ == "__main__":
    main()
