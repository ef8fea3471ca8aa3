"""`simlab stress evaluate`: a stress store's crash paths through the lab's fee designs and forecasters.

:func:`evaluate_store` reads a stress store written by ``simlab stress run`` (group ``paths``: ``t_s``,
``mid[path, time]``, ...; attributes ``scenario``, ``event_s``, ``direction``, ``seed``, the episode text as
``config`` and the fitted ``shock_values``) and writes one results store:

* the **normal day** of the crash: the episode's background market without its mechanism, simulated with the same
  path seeds (path k from ``SeedSequence(seed).spawn(n)[k]``, as the stress run), so normal path k and crash
  path k share their draws until the shocks start (paired paths);
* **fee designs** (:mod:`scenarios.stress.amm`): every design of the AMM spec on the crash mids, on the paired
  normal mids (both cut to the spec's window around the event), their paired difference, the real Uniswap v3
  USDC/WETH replay cut into days, and the rankings with their flips against the normal day; for a depeg store
  (world ``amm``) the designs run on the episode's own StableSwap pool, in the store's run and with the peg held
  (:mod:`scenarios.stress.peg_amm`);
* **forecasters** (:mod:`scenarios.stress.forecast`): the models need events, not mids, so the first ``paths``
  crash paths are re-simulated from the store's recorded episode, shock values and seed, and each re-simulated
  mid is checked against the stored one (equal, or a DataError); the models train on the normal day of path 0,
  placed on the clock the day before, and are scored on its later normal windows and on each crash path's window
  of ``crash_window_s`` seconds centred on that path's trough (not before the event; ``anchor = "event"``: from
  the event);
* the store's shape statistics, its path bands (median and 5-95 % over paths, mid relative to the pre-event
  level) and, when given, the real stress windows (:mod:`scenarios.stress.real_windows`), so the report reads one
  store.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import Field

from scenarios.specs import StrictModel, read_spec
from scenarios.stress.episodes import Episode, parse_episode
from simlab.errors import DataError, ParameterError
from simlab.provenance import provenance

V3_SWAPS = "uniswap_v3_usdc_weth_swaps_2021-08_credmark/univ3_usdc_weth_swaps_2021-08-10_to_09-05.csv.gz"
DAY_NS = 86_400 * 1_000_000_000
QUANTILES = (0.05, 0.5, 0.95)


class AmmTable(StrictModel):
    """``[amm]``: the fee designs (empty: the whole registry), the pool, the window around the event, the replay."""

    designs: list[str] = []
    pool_value: float = Field(1e7, gt=0)
    block_s: float = Field(12.0, gt=0)
    before_s: float = Field(600.0, ge=0)
    after_s: float = Field(1800.0, gt=0)
    replay: str = V3_SWAPS
    replay_window_s: float = Field(86400.0, gt=0)
    rank_by: str = "lp_pnl"


class AmmSpec(StrictModel):
    """An AMM stress spec file (``scenarios/library/stress_amm.toml``)."""

    amm: AmmTable


class ForecastTable(StrictModel):
    """``[forecast]``: the models, the forecast window, how many crash paths are re-simulated and scored."""

    models: list[str] = Field(min_length=1)
    window_s: float = Field(10.0, gt=0)
    crash_window_s: float = Field(600.0, gt=0)
    anchor: Literal["trough", "event"] = "trough"
    normal_s: float = Field(3600.0, gt=0)
    paths: int = Field(5, ge=1)
    train_fraction: float = Field(0.7, gt=0, lt=1)
    lags: int = Field(5, ge=1)
    threshold: float = Field(0.1, ge=0)
    hawkes_paths: int = Field(200, ge=1)


class ForecastSpec(StrictModel):
    """A forecaster stress spec file (``scenarios/library/stress_forecasters.toml``)."""

    forecast: ForecastTable


@dataclass(frozen=True)
class StressStore:
    """A stress store's paths (``t_s``, ``mid[path, time]``, the other fields), statistics and its episode."""

    path: Path
    paths: xr.Dataset
    statistics: xr.Dataset
    episode: Episode
    values: dict[str, float]
    seed: int

    @property
    def name(self) -> str:
        """Return the scenario's name."""
        return str(self.paths.attrs["scenario"])


def store_groups(path: str | Path, what: str, command: str, needed: tuple[str, ...], hint: str = "") -> list[str]:
    """Return the groups of the zarr store ``path``, which ``command`` wrote; anything else (not a store, a needed
    group missing) is one DataError sentence naming the store as ``what``."""
    from simlab.store import is_store, list_groups

    if not is_store(path):
        raise DataError(f"{what} {path}: not a zarr store (expected the output of `{command}`)")
    groups = list_groups(path)
    if not all(name in groups for name in needed):
        expected = " and ".join(f"`{name}`" for name in needed)
        raise DataError(f"{what} {path}: expected the groups {expected} of `{command}`; found {groups or 'none'}{hint}")
    return groups


def read_stress_store(path: str | Path) -> StressStore:
    """Read a stress store (see the module docstring); anything else is one DataError sentence naming the store."""
    from simlab.store import load_store

    path = Path(path)
    store_groups(path, "stress store", "simlab stress run", ("paths", "statistics"))
    paths, statistics = load_store(path, "paths"), load_store(path, "statistics")
    needed = ("scenario", "event_s", "direction", "seed", "config", "shock_values", "world")
    missing = [key for key in needed if key not in paths.attrs]
    if missing or "mid" not in paths or "t_s" not in paths.coords:
        raise DataError(
            f"stress store {path}: the `paths` group needs `mid`, `t_s` and the attributes {', '.join(needed)}; "
            f"missing {missing or ['mid or t_s']}"
        )
    data = tomllib.loads(paths.attrs["config"])
    spec = parse_episode(data, f"stress store {path.name} (its episode)")
    episode = Episode(spec, paths.attrs["config"], path, None)
    return StressStore(
        path, paths, statistics, episode, json.loads(paths.attrs["shock_values"]), int(paths.attrs["seed"])
    )


def read_amm_spec(path: str | Path) -> tuple[AmmTable, str]:
    """Read an AMM stress spec (a TOML path or a library name); return its table and its text."""
    spec, text = read_spec(AmmSpec, path, "AMM stress")
    from simlab.amm.fees import fee_names

    unknown = [d for d in spec.amm.designs if d not in fee_names()]
    if unknown:
        raise ParameterError(
            f"AMM stress spec {path}: `amm.designs` {unknown} are not fee designs; valid ones are {fee_names()}"
        )
    return spec.amm, text


def read_forecast_spec(path: str | Path) -> tuple[ForecastTable, str]:
    """Read a forecaster stress spec (a TOML path or a library name); return its table and its text."""
    from scenarios.stress.forecast import MODEL_NAMES

    spec, text = read_spec(ForecastSpec, path, "forecaster stress")
    unknown = [m for m in spec.forecast.models if m not in MODEL_NAMES]
    if unknown:
        raise ParameterError(
            f"forecaster stress spec {path}: `forecast.models` {unknown} are not flow forecasters; valid ones are "
            f"{MODEL_NAMES}"
        )
    return spec.forecast, text


def normal_episode(episode: Episode) -> Episode:
    """Return the episode without its mechanism: the background market alone (the crash's normal day)."""
    spec = episode.spec.model_copy(update={"mechanism": {}})
    return Episode(spec, episode.text, episode.path, {})


def _config(episode: Episode, values: dict[str, float] | None, open_shift_ns: int = 0):
    from scenarios.stress.run import episode_config

    config = episode_config(episode, values, "abm")
    return replace(config, open_ns=config.open_ns + open_shift_ns) if open_shift_ns else config


def _markets(
    store: StressStore,
    indices: list[int],
    *,
    normal: bool,
    open_shift_ns: int = 0,
    workers: int = 1,
    keep: Callable[[dict], Any] | None = None,
) -> list[Any]:
    """Re-simulate the store's paths ``indices`` (crash or normal day) with their recorded seeds on ``workers``
    threads; return each output, or ``keep(output)`` as soon as it is made."""
    from scenarios.stress.run import GRID_S
    from simlab.agents import simulate_abm

    episode = normal_episode(store.episode) if normal else store.episode
    config = _config(episode, {} if normal else store.values, open_shift_ns)
    duration = store.episode.spec.background.duration_s

    def one(k: int) -> Any:  # path k is the market SeedSequence(seed).spawn(n)[k], as `simlab stress run` made it
        out = simulate_abm(config, seed=store.seed, market=k, duration_s=duration, sample_ns=int(GRID_S * 1e9))
        return out if keep is None else keep(out)

    if workers == 1:
        return [one(k) for k in indices]
    with ThreadPoolExecutor(max_workers=workers) as pool:  # the event loop releases the GIL
        return list(pool.map(one, indices))


def _checked_crash(store: StressStore, k: int, out: dict) -> None:
    from simlab.metrics.crash import crash_path_from_abm

    mid = crash_path_from_abm(out, grid_s=float(np.diff(store.paths["t_s"].values[:2])[0])).mid
    stored = store.paths["mid"].values[k]
    if mid.shape != stored.shape or not np.array_equal(mid, stored, equal_nan=True):
        raise DataError(
            f"stress store {store.path}: re-simulating path {k} from its recorded episode, shock values and seed does "
            "not reproduce its stored mid (written by another version of the agent market?); run `simlab stress run` "
            "again"
        )


def normal_paths(store: StressStore, workers: int = 1) -> np.ndarray:
    """Return the normal day's mids ``[path, time]``: the background market alone, path k on the crash's seed k;
    for a peg run (world ``amm``), the peg held: each path's pre-event median price throughout; in the ``generator``
    world, each path run without its regime switch (stored by the run)."""
    if store.paths.attrs["world"] == "generator":  # the run stored each path without its regime switch too
        return store.paths["normal_mid"].values
    if store.paths.attrs["world"] == "amm":
        t_s, mid = store.paths["t_s"].values, store.paths["mid"].values
        before = t_s < float(store.paths.attrs["event_s"])
        return np.repeat(np.nanmedian(mid[:, before], axis=1)[:, None], mid.shape[1], axis=1)
    from simlab.metrics.crash import crash_path_from_abm

    step = float(np.diff(store.paths["t_s"].values[:2])[0])
    mids = _markets(store, list(range(store.paths.sizes["path"])), normal=True, workers=workers,
                    keep=lambda out: crash_path_from_abm(out, grid_s=step).mid)  # fmt: skip
    return np.stack(mids)


def _window(store: StressStore, spec: AmmTable, mids: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Cut ``mids`` to ``[event - before_s, event + after_s]``; fill a one-sided book's NaN mid with the last mid."""
    t_s = store.paths["t_s"].values
    event = float(store.paths.attrs["event_s"])
    keep = (t_s >= event - spec.before_s) & (t_s <= event + spec.after_s)
    cut = np.array(mids[:, keep], dtype=np.float64)
    if np.isnan(cut[:, 0]).any():
        raise DataError(f"stress store {store.path}: the mid is undefined at the AMM window's start ({t_s[keep][0]} s)")
    filled = int(np.isnan(cut).sum())
    for j in range(1, cut.shape[1]):
        gap = np.isnan(cut[:, j])
        cut[gap, j] = cut[gap, j - 1]
    return t_s[keep] - t_s[keep][0], cut, filled


def amm_groups(
    store: StressStore, spec: AmmTable, normal: np.ndarray, data_dir: Path, seed: int
) -> dict[str, xr.Dataset]:
    """Return the fee-design groups: ``amm_crash``, ``amm_normal``, ``amm_change`` (paired), ``amm_replay``,
    ``amm_rank`` (ranks of every table, flips and Spearman against the normal day in the attributes). For a depeg
    store (world ``amm``) the first three come from the episode's StableSwap pool
    (:func:`scenarios.stress.peg_amm.peg_amm_groups`); else from a constant-product pool on the crash's mids."""
    from scenarios.stress.amm import amm_stress_table, degradation_table, ranking_flips, replay_stress_table

    designs = spec.designs or None
    if store.paths.attrs["world"] == "amm":  # a depeg: the designs on the episode's own StableSwap pool
        from scenarios.stress.peg_amm import peg_amm_groups

        groups, filled_crash, filled_normal = peg_amm_groups(store, spec, seed), 0, 0
    else:
        options = dict(seed=seed, pool_value=spec.pool_value, block_s=spec.block_s)
        t_s, crash, filled_crash = _window(store, spec, store.paths["mid"].values)
        _, calm, filled_normal = _window(store, spec, normal)
        groups = {
            "amm_crash": amm_stress_table(t_s, crash, designs, scenario=store.name, **options),
            "amm_normal": amm_stress_table(t_s, calm, designs, scenario="normal day", **options),
            "amm_change": degradation_table(t_s, calm, crash, designs, **options),
        }
    tables = {"normal day": groups["amm_normal"], store.name: groups["amm_crash"]}
    if spec.replay:
        from simlab.io.uniswap import read_uniswap_v3_swaps

        swaps = data_dir / spec.replay
        if not swaps.is_file():
            raise DataError(f"AMM stress spec: `amm.replay` {swaps}: no such file (the real-data folder is --data)")
        events = read_uniswap_v3_swaps(swaps)["events"]
        groups["amm_replay"] = replay_stress_table(events, designs, window_s=spec.replay_window_s, seed=seed)
        tables["real v3 replay"] = groups["amm_replay"]
    flips = ranking_flips(tables, baseline="normal day", statistic=spec.rank_by)
    rank = xr.Dataset({"rank": flips["rank"], "shift": flips["shift"]})
    rank.attrs.update(spearman=json.dumps(flips["spearman"]), flips=json.dumps(flips["flips"]), rank_by=spec.rank_by,
                      mid_filled_points=json.dumps({"crash": filled_crash, "normal": filled_normal}))  # fmt: skip
    groups["amm_rank"] = rank
    return groups


def forecast_group(store: StressStore, spec: ForecastTable, seed: int, workers: int = 1) -> xr.Dataset:
    """Return the forecaster stress table: trained on path 0's normal day (the day before on the clock), scored on
    its later normal windows and on the crash windows of the first ``spec.paths`` re-simulated crash paths
    (regimes ``path_<k>``; each window centred on the path's trough, or from the event, see :func:`_crash_start`);
    ``summary`` adds the crash over paths (:func:`forecast_summary`)."""
    from scenarios.stress.forecast import NS, forecaster_stress

    n = min(spec.paths, store.paths.sizes["path"])
    event = float(store.paths.attrs["event_s"])
    duration = store.episode.spec.background.duration_s
    if event + spec.crash_window_s > duration:
        raise ParameterError(f"forecaster stress spec: `forecast.crash_window_s` {spec.crash_window_s} s runs past the "
                             f"session's end ({duration - event:g} s after the event)")  # fmt: skip
    if store.paths.attrs["world"] == "generator":
        from scenarios.stress.generator_world import store_flows

        open_ns, outs, calm = store_flows(store, n, DAY_NS)  # each re-simulated mid checked against the stored one
    else:
        open_ns = _config(store.episode, store.values).open_ns
        outs = _markets(store, list(range(n)), normal=False, workers=workers)
        for k, out in enumerate(outs):
            _checked_crash(store, k, out)
        (calm,) = _markets(store, [0], normal=True, open_shift_ns=-DAY_NS)
    crashes = {}
    for k, out in enumerate(outs):
        begin = _crash_start(store, spec, k)
        start = open_ns + int(round(begin * NS))
        crashes[f"path_{k}"] = (out["events"], None, (start, start + int(spec.crash_window_s * NS)))
    start = open_ns + int(event * NS)
    first = open_ns - DAY_NS + int(max(0.0, event - spec.normal_s) * NS)
    normal = (calm["events"], None, (first, start - DAY_NS + int(spec.crash_window_s * NS)))
    ds = forecaster_stress(normal, crashes, spec.models, seed, window_s=spec.window_s,
                           train_fraction=spec.train_fraction, lags=spec.lags, threshold=spec.threshold,
                           hawkes_paths=spec.hawkes_paths)  # fmt: skip
    return ds.assign(summary=forecast_summary(ds))


def _crash_start(store: StressStore, spec: ForecastTable, k: int) -> float:
    """Return the simulated second where path k's crash window starts: the event, or (``anchor = "trough"``) half
    the window before the path's trough, not before the event and not so late that the window outlasts the session."""
    event = float(store.paths.attrs["event_s"])
    if spec.anchor == "event":
        return event
    to_trough = float(store.statistics["value"].sel(path=k, statistic="time_to_trough_s"))
    if not np.isfinite(to_trough):
        raise DataError(f"stress store {store.path}: path {k} has no trough (time_to_trough_s is {to_trough}); use "
                        "`forecast.anchor = \"event\"`")  # fmt: skip
    trough = event + to_trough / float(store.paths.attrs.get("time_factor", 1.0))
    latest = store.episode.spec.background.duration_s - spec.crash_window_s
    return float(min(max(event, trough - spec.crash_window_s / 2.0), latest))


def forecast_summary(ds: xr.Dataset) -> xr.DataArray:
    """Return each model's scores on the normal day and in the crash over paths: (model, phase = normal, crash,
    metric, bound = value, lo, hi). The normal row is the normal test windows' (Newey-West interval); the crash row
    is the mean over the crash paths with its 95 % t interval over paths (one path: that path's own interval)."""
    from scipy import stats

    crash = [r for r in ds.regime.values if r != "normal"]
    score = ds["score"]
    normal = score.sel(regime="normal").values
    per_path = score.sel(regime=crash, bound="value").values  # (model, path, metric)
    mean = np.nanmean(per_path, axis=1) if per_path.size else per_path
    if len(crash) > 1:
        count = np.sum(np.isfinite(per_path), axis=1)
        half = stats.t.ppf(0.975, np.maximum(count - 1, 1)) * np.nanstd(per_path, axis=1, ddof=1) / np.sqrt(count)
        crash_row = np.stack([mean, mean - half, mean + half], axis=-1)
    else:
        crash_row = score.sel(regime=crash[0]).values
    data = np.stack([normal, crash_row], axis=1)
    coords = {"model": ds.model.values, "phase": ["normal", "crash"], "metric": ds.metric.values,
              "bound": ["value", "lo", "hi"]}  # fmt: skip
    return xr.DataArray(data, dims=("model", "phase", "metric", "bound"), coords=coords)


def bands(store: StressStore) -> xr.Dataset:
    """Return the paths' bands over time: the 5, 50 and 95 % quantiles over paths of ``mid_rel`` (the mid over each
    path's pre-event median, the reference level of the shape statistics), ``depth`` (lots within 10 bps),
    ``spread_bps`` (spread over mid), ``liquidations_cum`` (liquidations since the open), ``volume`` (lots per
    step) and ``fund`` (insurance fund), those the store has."""
    paths = store.paths
    t_s = paths["t_s"].values
    event, pre = float(paths.attrs["event_s"]), float(paths.attrs.get("pre_s", 300.0))
    mid = paths["mid"].values
    before = (t_s >= event - pre) & (t_s < event)
    fields = {"mid_rel": mid / np.nanmedian(mid[:, before], axis=1, keepdims=True)}
    if "depth" in paths:
        fields["depth"] = paths["depth"].values
    if "spread" in paths:
        fields["spread_bps"] = 1e4 * paths["spread"].values / mid
    if "liquidations" in paths:
        fields["liquidations_cum"] = np.cumsum(paths["liquidations"].values, axis=1)
    fields |= {name: paths[name].values for name in ("volume", "fund") if name in paths}
    data = {}
    for name, values in fields.items():
        finite = np.isfinite(values).any(axis=0)
        q = np.full((len(QUANTILES), t_s.size), np.nan)
        q[:, finite] = np.nanquantile(values[:, finite], QUANTILES, axis=0)
        data[name] = (("quantile", "time"), q)
    return xr.Dataset(data, coords={"quantile": list(QUANTILES), "t_s": ("time", t_s)})


def evaluate_store(
    store: str | Path,
    output: str | Path,
    *,
    forecasters: str | Path | None,
    amm: str | Path | None,
    data_dir: str | Path | None = None,
    real_windows: str | Path | None = None,
    seed: int | None = None,
    workers: int = 1,
    overwrite: bool = False,
) -> Path:
    """Evaluate a stress store's crash (see the module docstring) and write the results store atomically.

    Parameters
    ----------
    store
        The stress store (``simlab stress run``).
    output
        The results store to write.
    forecasters, amm
        The forecaster and AMM stress specs (TOML paths or library names); None skips that part.
    data_dir
        The real-data folder (the v3 replay); default ``../shared/data``.
    real_windows
        A store of the real stress windows (``simlab stress windows``) to carry for the report, or None.
    seed
        Root seed of the evaluation (default: the stress store's); split into one stream for the AMM, one for the
        forecasters.
    workers
        Threads re-simulating paths (the bytes do not depend on it).
    overwrite
        Replace an existing output.

    Returns
    -------
    Path
        The results store: groups ``paths_band``, ``statistics``, ``amm_*``, ``forecast``, ``real_windows``.
    """
    from simlab.io import DEFAULT_DATA_DIR
    from simlab.store import load_store, write_store

    if forecasters is None and amm is None:
        raise ParameterError("stress evaluate needs --forecasters SPEC or --amm SPEC (or both); got neither")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ParameterError(f"--workers must be an int >= 1; got {workers!r}")
    if Path(output).exists() and not overwrite:
        raise ParameterError(f"--output {output} exists; pass --overwrite to replace it")
    stress = read_stress_store(store)
    world = stress.paths.attrs["world"]
    if world not in ("abm", "amm", "generator"):
        raise ParameterError(f"stress evaluate takes stores of the worlds abm, amm and generator (their normal days "
                             f"are known); {Path(store).name} is world {world!r}")  # fmt: skip
    if world == "amm" and forecasters is not None:
        raise ParameterError(f"--forecasters needs a store of the agent market (world abm), whose order flow it "
                             f"re-simulates; {Path(store).name} is world 'amm' (a peg run has prices, no order flow: "
                             f"evaluate it with --amm only)")  # fmt: skip
    amm_spec = read_amm_spec(amm) if amm is not None else None
    forecast_spec = read_forecast_spec(forecasters) if forecasters is not None else None
    windows = load_store(real_windows) if real_windows is not None else None
    root = stress.seed if seed is None else seed
    amm_seed, forecast_seed = (int(s.generate_state(1)[0]) for s in np.random.SeedSequence(root).spawn(2))
    groups = {"paths_band": bands(stress), "statistics": stress.statistics}
    if amm_spec is not None:
        normal = normal_paths(stress, workers)
        groups |= amm_groups(stress, amm_spec[0], normal, Path(data_dir or DEFAULT_DATA_DIR), amm_seed)
    if forecast_spec is not None:
        groups["forecast"] = forecast_group(stress, forecast_spec[0], forecast_seed, workers)
    if windows is not None:
        groups["real_windows"] = windows
    keep = ("scenario", "world", "event_s", "pre_s", "direction", "time_factor", "shock_values", "template")
    attrs = {key: stress.paths.attrs[key] for key in keep if key in stress.paths.attrs}
    config = {"stress_store": str(store), "stress_seed": stress.seed, "episode": stress.episode.text,
              "amm_spec": amm_spec[1] if amm_spec else None,
              "forecast_spec": forecast_spec[1] if forecast_spec else None,
              "real_windows": str(real_windows) if real_windows else None}  # fmt: skip
    attrs |= provenance(seed=root, config=config)
    attrs |= {"n_paths": int(stress.paths.sizes["path"]), "kind": "stress evaluation"}
    return write_store(groups, output, attrs=attrs, overwrite=overwrite)
