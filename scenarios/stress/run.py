"""Run an episode's shocks in a world: n paths from one root seed, their shape statistics, the stress store.

:func:`episode_config` turns an episode (background preset, overrides, mechanism) and values of its fitted
parameters into the world's configuration; :func:`simulate_episode` runs ``n`` paths of the agent market on threads
(path k from ``SeedSequence(seed).spawn(n)[k]``, as ``simulate_markets``: the same bytes for any number of workers)
and puts each on a regular grid as it finishes (:func:`simlab.metrics.crash.crash_path_from_abm`);
:func:`episode_statistics` measures each path's shape (:func:`simlab.metrics.crash.shape_statistics`) with the
episode's time compression applied; :func:`run_stress` writes the stress store:

* group ``paths``: dims (``path``, ``time``), variables ``mid``, ``depth``, ``spread``, ``volume``,
  ``maker_gross``, ``maker_net``, ``liquidations``, ``fund``, ``adl`` (those the world has), coordinate ``t_s``
  (simulated seconds from the open), attributes ``scenario``, ``world``, ``event_s``, ``direction``, ``seed``,
  ``time_factor`` and the provenance (seed, the episode text as config, the values of the shock parameters);
* group ``statistics``: dims (``path``, ``statistic``), the shape statistics in the template's units (real
  seconds: simulated seconds x ``time_factor``).

World ``hawkes`` runs a sell program and a withdrawal on the Hawkes-driven book (:mod:`scenarios.stress.hawkes_world`).
World ``generator`` runs them as regime switches of a trained generator of order flow
(:mod:`scenarios.stress.generator_world`); its store adds each path without the switch (:func:`with_normal_paths`).
World ``amm`` (the depeg episodes) runs ``[mechanism.peg_run]`` on a StableSwap pool
(:mod:`scenarios.stress.peg_world`): ``mid`` is the depegging coin's external price, the paths group adds
``pool_price`` and ``least_share``, the statistics group adds :data:`~scenarios.stress.episodes.PEG_STATISTICS`.
"""

from __future__ import annotations

import json
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from scenarios.stress.episodes import PEG_STATISTICS, PRIMITIVES, REPO, Episode
from simlab.errors import DataError, ParameterError
from simlab.metrics.crash import STATISTICS, CrashPath, crash_path_from_abm, shape_statistics
from simlab.provenance import provenance
from simlab.random import seed_parts

GRID_S = 1.0
PATH_FIELDS = ("mid", "depth", "spread", "volume", "maker_gross", "maker_net", "liquidations", "fund", "adl")
PEG_FIELDS = ("pool_price", "least_share")
RUNNABLE_WORLDS = ("abm", "amm", "hawkes", "generator")


def default_world(episode: Episode) -> str:
    """Return the world an episode runs in when none is named: ``abm`` if it allows it, else its first world."""
    worlds = episode.spec.episode.worlds
    return "abm" if "abm" in worlds else worlds[0]


def statistic_names(episode: Episode) -> tuple[str, ...]:
    """Return the statistics measured on the episode's paths: the shape statistics, and the pool's for ``amm``."""
    return STATISTICS + PEG_STATISTICS if episode.spec.episode.worlds == ["amm"] else STATISTICS


def shock_values(episode: Episode, values: dict[str, float] | None) -> dict[str, float]:
    """Return the values of the episode's fitted parameters: ``values`` when given, else the stored fit.

    Raises ParameterError when a parameter is missing, unknown or outside its bounds, or when nothing is given
    and no fit is stored.
    """
    bounds = episode.parameters()
    if values is None:
        if episode.fitted is None and bounds:
            raise ParameterError(
                f"episode {episode.name}: no stored fit ({episode.fitted_path.name}); run `simlab stress fit "
                f"{episode.name}` first or pass values for {', '.join(bounds)}"
            )
        values = episode.fitted or {}
    unknown = sorted(set(values) - set(bounds))
    missing = sorted(set(bounds) - set(values))
    if unknown or missing:
        raise ParameterError(
            f"episode {episode.name}: shock values must name exactly {sorted(bounds)}; got unknown {unknown} and "
            f"missing {missing}"
        )
    for name, bound in bounds.items():
        if not bound.low <= values[name] <= bound.high:
            raise ParameterError(
                f"episode {episode.name}: `{name}` must lie in [{bound.low:g}, {bound.high:g}]; got {values[name]!r}"
            )
    return {name: float(values[name]) for name in bounds}


def episode_config(episode: Episode, values: dict[str, float] | None = None, world: str = "abm") -> Any:
    """Return the world's configuration of the episode: the background preset, its overrides and the shocks."""
    check_world(episode, world)
    from simlab.agents.config import MarketConfig

    data = _preset(episode)
    for dotted, value in episode.spec.background.overrides.items():
        _assign(data, dotted.split("."), value, f"background.overrides `{dotted}`")
    values = shock_values(episode, values)
    for name, shock in episode.spec.mechanism.items():
        primitive = PRIMITIVES[name]
        table = _table(data, primitive.table)
        table.update(dict(primitive.defaults))
        table.update(shock.fixed)
        for key, bound in shock.fit.items():
            value = values[f"{name}.{key}"]
            table[key] = int(round(value)) if bound.integer else value
    return MarketConfig.from_dict(data, source=f"episode {episode.name} ({world} world)")


def check_world(episode: Episode, world: str) -> None:
    """Raise ParameterError unless the episode allows ``world`` and this runner can run it."""
    allowed = episode.spec.episode.worlds
    if world not in allowed:
        lacking = [name for name in episode.spec.mechanism if world not in PRIMITIVES[name].worlds]
        takes = ", ".join(name for name, primitive in PRIMITIVES.items() if world in primitive.worlds)
        why = f"; primitives {', '.join(lacking)} have no form in the {world!r} world (it takes {takes})"
        why = why if lacking else ""
        raise ParameterError(f"episode {episode.name}: world {world!r} is not one of its worlds {allowed}{why}")
    if world not in RUNNABLE_WORLDS:
        raise ParameterError(
            f"episode {episode.name}: the {world!r} world is not runnable by this runner (runnable: "
            f"{', '.join(RUNNABLE_WORLDS)})"
        )


def _preset(episode: Episode) -> dict[str, Any]:
    path = REPO / episode.spec.background.preset
    if not path.is_file():
        raise DataError(f"episode {episode.name}: background.preset {episode.spec.background.preset!r}: no such file")
    data = tomllib.loads(path.read_text())
    data.pop("calibration", None)  # a calibrated preset's diagnostics: not part of the market
    return data


def _table(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    for key in keys:
        data = data.setdefault(key, {})
    return data


def _assign(data: dict[str, Any], keys: list[str], value: Any, what: str) -> None:
    if len(keys) < 2:
        raise ParameterError(f"{what}: expected `table.key` (e.g. fundamental.volatility_ticks_per_sqrt_s)")
    _table(data, tuple(keys[:-1]))[keys[-1]] = value


def simulate_episode(
    episode: Episode,
    n_paths: int,
    *,
    seed: int | np.random.SeedSequence,
    values: dict[str, float] | None = None,
    workers: int = 1,
    world: str | None = None,
    model: str | Path | None = None,
) -> list[CrashPath]:
    """Simulate ``n_paths`` paths of the episode on a 1-s grid, on ``workers`` threads.

    Path k is the market of the k-th child of ``seed`` (as :func:`simlab.agents.simulate_markets`), whatever
    ``workers`` is, so the bytes do not depend on it; each market is put on the grid as soon as it finishes.
    ``world`` None is :func:`default_world`; ``amm`` runs the peg run (:mod:`scenarios.stress.peg_world`);
    ``generator`` the regime switches of the trained generator ``model`` (a folder; default the episode's
    ``[world.generator] model``), path by path.
    """
    from simlab.agents import simulate_abm

    world = default_world(episode) if world is None else world
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(_seed(seed))
    fresh = np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key, pool_size=root.pool_size)
    children = fresh.spawn(_count(n_paths, "n_paths"))
    _count(workers, "workers")
    if world == "amm":
        from scenarios.stress.peg_world import simulate_peg

        check_world(episode, world)
        return simulate_peg(episode, shock_values(episode, values), children, GRID_S)
    if world == "hawkes":
        from scenarios.stress.hawkes_world import simulate_hawkes_episode

        check_world(episode, world)
        return simulate_hawkes_episode(episode, shock_values(episode, values), children, GRID_S)
    if world == "generator":
        check_world(episode, world)
        return generator_episode(episode, shock_values(episode, values), children, model=model)[0]
    config = episode_config(episode, values, world)
    duration_s = episode.spec.background.duration_s
    grid_ns = int(round(GRID_S * 1e9))

    def one(child: np.random.SeedSequence) -> CrashPath:
        entropy, key = seed_parts(child)
        out = simulate_abm(config, seed=entropy, market=key, duration_s=duration_s, sample_ns=grid_ns)
        return crash_path_from_abm(out, grid_s=GRID_S)

    if _count(workers, "workers") == 1:
        return [one(child) for child in children]
    with ThreadPoolExecutor(max_workers=workers) as pool:  # the event loop releases the GIL
        return list(pool.map(one, children))


def generator_episode(
    episode: Episode,
    values: dict[str, float],
    children: list,
    *,
    model: str | Path | None = None,
    train_to: str | Path | None = None,
) -> tuple[list[CrashPath], list[CrashPath], str]:
    """Run the generator world (:mod:`scenarios.stress.generator_world`): return the shocked paths, the same paths
    without the regime switch, and the model's folder."""
    from scenarios.stress.generator_world import generator_paths, load_world_model

    generator, folder = load_world_model(episode, model, train_to=train_to)
    shocked, calm = generator_paths(episode, values, children, GRID_S, generator)
    return shocked, calm, folder


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"`{name}` must be an int >= 1; got {value!r}")
    return int(value)


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"`seed` must be an int >= 0; got {seed!r}")
    return int(seed)


def episode_statistics(episode: Episode, paths: list[CrashPath]) -> np.ndarray:
    """Return the statistics of every path (``[path, statistic]`` in :func:`statistic_names` order).

    Times (``*_s``) are scaled to real seconds by ``compression.time_factor``, rates per minute divided by it.
    """
    bg, factor = episode.spec.background, episode.spec.compression.time_factor
    names = statistic_names(episode)
    rows = np.empty((len(paths), len(names)))
    for i, path in enumerate(paths):
        stats = shape_statistics(path, bg.event_s, direction=episode.spec.episode.direction, pre_s=bg.pre_s)
        if len(names) > len(STATISTICS):
            from scenarios.stress.peg_world import peg_path_statistics

            stats |= peg_path_statistics(path)
        rows[i] = [_real_units(name, stats[name], factor) for name in names]
    return rows


def _real_units(name: str, value: float, factor: float) -> float:
    if name.endswith("_s"):
        return value * factor
    if name.endswith("_per_min"):
        return value / factor
    return value


def within_tolerance(episode: Episode, rows: np.ndarray, names: tuple[str, ...] = ("drawdown", "time_to_trough_s")):
    """Return, per path, whether every statistic of ``names`` lies within the template's tolerance."""
    ok = np.ones(rows.shape[0], dtype=bool)
    columns = statistic_names(episode)
    for name in names:
        stat = episode.spec.template[name]
        ok &= np.abs(rows[:, columns.index(name)] - stat.value) <= stat.tolerance
    return ok


def stress_datasets(
    episode: Episode, paths: list[CrashPath], rows: np.ndarray, *, seed: int, world: str, values: dict[str, float]
) -> dict[str, xr.Dataset]:
    """Build the ``paths`` and ``statistics`` groups of a stress store (see the module docstring)."""
    bg = episode.spec.background
    attrs = {
        "scenario": episode.name,
        "world": world,
        "event_s": bg.event_s,
        "pre_s": bg.pre_s,
        "direction": episode.spec.episode.direction,
        "time_factor": episode.spec.compression.time_factor,
        "shock_values": json.dumps(values, sort_keys=True),
        "template": json.dumps({k: [s.value, s.tolerance] for k, s in episode.spec.template.items()}),
        **provenance(seed=seed, config=episode.text, true_params={"shocks": values, "world": world}),
    }
    present = [f for f in PATH_FIELDS + PEG_FIELDS if all(getattr(p, f, None) is not None for p in paths)]
    data = {f: (("path", "time"), np.stack([getattr(p, f) for p in paths]).astype(np.float64)) for f in present}
    coords = {"path": np.arange(len(paths)), "t_s": ("time", paths[0].t_s)}
    path_ds = xr.Dataset(data, coords=coords, attrs=attrs)
    stats_ds = xr.Dataset(
        {"value": (("path", "statistic"), rows)},
        coords={"path": np.arange(len(paths)), "statistic": np.array(statistic_names(episode), dtype=object)},
        attrs=attrs,
    )
    return {"paths": path_ds, "statistics": stats_ds}


def run_stress(
    episode: Episode,
    output: str | Path,
    *,
    n_paths: int,
    seed: int,
    world: str | None = None,
    workers: int = 1,
    values: dict[str, float] | None = None,
    overwrite: bool = False,
    model: str | Path | None = None,
) -> tuple[Path, np.ndarray]:
    """Simulate the episode's paths and write the stress store atomically; return its path and the statistics.

    In the ``generator`` world the store also holds every path without the regime switch (same seed:
    :func:`with_normal_paths`); without a ``model`` (nor ``[world.generator] model``) the model is trained from the
    episode's spec and saved beside the store (``<output>.model``).
    """
    from simlab.store import write_store

    world = default_world(episode) if world is None else world
    values = shock_values(episode, values)
    if world == "generator":
        check_world(episode, world)
        _count(workers, "workers")
        children = np.random.SeedSequence(_seed(seed)).spawn(_count(n_paths, "n_paths"))
        train_to = Path(output).with_suffix(".model")
        paths, calm, folder = generator_episode(episode, values, children, model=model, train_to=train_to)
    else:
        paths = simulate_episode(episode, n_paths, seed=seed, values=values, workers=workers, world=world)
    rows = episode_statistics(episode, paths)
    groups = stress_datasets(episode, paths, rows, seed=seed, world=world, values=values)
    if world == "generator":
        groups = with_normal_paths(groups, episode, calm, folder)
    return write_store(groups, output, overwrite=overwrite), rows


def with_normal_paths(groups: dict[str, xr.Dataset], episode: Episode, calm: list[CrashPath], model: str):
    """Add the generator world's paths without the regime switch: ``normal_<field>`` variables of ``paths`` and
    the group ``normal_statistics``; record the model's folder and the ``[world.generator]`` settings as the
    attributes ``generator_model`` and ``generator_world``."""
    rows = episode_statistics(episode, calm)
    paths, stats = groups["paths"], groups["statistics"]
    for field in PATH_FIELDS:
        if field in paths:
            paths[f"normal_{field}"] = (("path", "time"), np.stack([getattr(p, field) for p in calm]).astype(float))
    world = json.dumps(episode.spec.world.generator.model_dump(), sort_keys=True)  # what ran (store_flows reads it)
    for ds in (paths, stats):
        ds.attrs.update(generator_model=model, generator_world=world)
    normal = stats.copy(data={"value": rows})
    return {"paths": paths, "statistics": stats, "normal_statistics": normal}
