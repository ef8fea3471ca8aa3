"""The AMM lab through crashes: every fee design of the registry run on crash price paths (the agent market's mid,
or any ``t_s``, ``mid[path, time]``) as the arbitrageur's reference, with the AMM lab's noise flow; per design
the LP P&L, LVR, fees by arbitrageurs and noise traders and the CVaR of LP P&L over the window, with intervals over
paths; the designs' ranking on each path set and on the real Uniswap v3 replay, and where it flips.

The depeg side lives in :mod:`scenarios.stress.peg` (re-exported here: :func:`peg_run`, :func:`fit_run_size`).
Every simulation is :func:`simlab.amm.engine.simulate_amm` with one reference row per path (common random numbers:
every design sees the same paths and the same noise traders).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path

import numpy as np
import xarray as xr
from scipy.stats import norm, spearmanr

from scenarios.stress.peg import POOLS, TEMPLATES, PegRunResult, fit_run_size, peg_episode, peg_run, peg_statistics
from simlab.amm.chain import Gas
from simlab.amm.engine import Market, NoiseTraders, PoolSpec, simulate_amm
from simlab.amm.fees import FeeRule, fee_names, make_fee
from simlab.amm.metrics import CVAR_LEVELS, N_BOOTSTRAP, cvar, summarise
from simlab.amm.paths import PricePath
from simlab.errors import DataError, ParameterError
from simlab.provenance import provenance
from simlab.random import as_generator

__all__ = [
    "BOUNDS",
    "DEFAULT_NOISE",
    "POOLS",
    "STATISTICS",
    "TEMPLATES",
    "PegRunResult",
    "amm_stress_table",
    "change_table",
    "degradation_table",
    "fit_run_size",
    "peg_episode",
    "peg_run",
    "peg_statistics",
    "ranking_flips",
    "registry_designs",
    "replay_stress_table",
    "run_designs",
    "store_stress_table",
    "stress_table",
    "synthetic_paths",
]

DEFAULT_NOISE = NoiseTraders(rate_per_s=0.1, mean_value=20_000.0, dispersion=1.2, fee_elasticity=300.0)
"""The noise flow of the AMM lab's registry tour (``scenarios/library/amm_registry_tour.toml``)."""
MONEY = ("lp_pnl", "lvr", "fees_arb", "fees_noise", "hedged_lp_pnl", "arb_profit")
STATISTICS = (*MONEY, "cvar_5", "cvar_1")
"""The table's statistics, all in bps of the pool's initial value; ``cvar_*`` are the CVaR of ``lp_pnl``."""
BOUNDS = ("mean", "lo", "hi")


def registry_designs() -> list[FeeRule]:
    """Return every fee design of the registry at its defaults."""
    return [make_fee(name) for name in fee_names()]


def synthetic_paths(
    n_paths: int,
    *,
    seed: int,
    duration_s: float = 7200.0,
    step_s: float = 12.0,
    volatility: float = 0.8,
    jump: float = -0.10,
    jump_s: float = 1800.0,
    fall_s: float = 0.0,
    recovery: float = 0.5,
    recovery_halflife_s: float = 600.0,
    price: float = 3000.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(t_s, mid[path, time])``: martingale GBM plus a fall of ``jump`` (a fraction) from ``jump_s``,
    at once or spread evenly in log over ``fall_s``, that then recovers ``recovery`` of its log size with half-life
    ``recovery_halflife_s``. ``jump=0`` gives the normal day on the same draws (common random numbers for a seed).

    Parameters
    ----------
    n_paths, seed
        Paths and root seed.
    duration_s, step_s
        Window and step (s).
    volatility
        Annualised volatility of the GBM.
    jump, jump_s, fall_s, recovery, recovery_halflife_s
        The crash: its size (> -1), its start (s), how long the fall lasts (s; 0: a jump), the share of it recovered
        in the end and the recovery's half-life (s), counted from the end of the fall.
    price
        The price at the start (numeraire).
    """
    timing = 0 < jump_s and 0 <= fall_s and jump_s + fall_s < duration_s
    if not (jump > -1 and 0 <= recovery <= 1 and timing and recovery_halflife_s > 0):
        raise ParameterError(f"synthetic_paths needs jump > -1, recovery in [0, 1], 0 < jump_s <= jump_s + fall_s < "
                             f"duration_s and a half-life > 0; got jump={jump}, recovery={recovery}, jump_s={jump_s}, "
                             f"fall_s={fall_s}, duration_s={duration_s}, "
                             f"recovery_halflife_s={recovery_halflife_s}")  # fmt: skip
    t_s = np.arange(0.0, duration_s + 0.5 * step_s, step_s)
    dt = np.diff(t_s) * volatility**2 / (365.0 * 86400.0)
    steps = np.sqrt(dt) * as_generator(seed).standard_normal((n_paths, t_s.size - 1)) - 0.5 * dt
    log_mid = np.concatenate([np.zeros((n_paths, 1)), np.cumsum(steps, axis=1)], axis=1)
    fallen = np.clip((t_s - jump_s) / fall_s, 0.0, 1.0) if fall_s > 0 else (t_s >= jump_s).astype(np.float64)
    after = np.clip(t_s - jump_s - fall_s, 0.0, None)
    shock = math.log1p(jump) * fallen * (1.0 - recovery * (1.0 - 2.0 ** (-after / recovery_halflife_s)))
    return t_s, price * np.exp(log_mid + shock)


def _blocks(t_s: np.ndarray, mid: np.ndarray, block_s: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Return the block times and the last mid at or before each (every step when ``block_s`` is None)."""
    t_s, mid = np.asarray(t_s, dtype=np.float64), np.asarray(mid, dtype=np.float64)
    if t_s.ndim != 1 or mid.ndim != 2 or mid.shape[1] != t_s.shape[0] or mid.shape[0] < 1:
        raise ParameterError(f"`mid` must be (path, time) with one column per time of `t_s` ({t_s.shape[0]}); got "
                             f"shape {mid.shape}")  # fmt: skip
    if block_s is None:
        return t_s, mid
    if not (block_s > 0 and t_s[-1] - t_s[0] >= block_s):
        raise ParameterError(f"`block_s` must be > 0 and fit in the window of {t_s[-1] - t_s[0]} s; got {block_s!r}")
    grid = np.arange(t_s[0], t_s[-1] + 1e-9, block_s)
    return grid, mid[:, np.searchsorted(t_s, grid, side="right") - 1]


def run_designs(
    t_s: np.ndarray,
    mid: np.ndarray,
    designs: Sequence[FeeRule | str | tuple | dict] | None = None,
    *,
    seed: int,
    pool_value: float = 1e7,
    block_s: float | None = 12.0,
    noise: NoiseTraders = DEFAULT_NOISE,
    gas: Gas | None = None,
    label: str = "crash",
) -> xr.Dataset:
    """Run fee designs (default: the whole registry) on price paths through :func:`simulate_amm`.

    Parameters
    ----------
    t_s, mid
        Times (s) and mid prices ``mid[path, time]`` (e.g. the agent market's mid on a 1 s grid).
    designs
        Fee designs (see :mod:`simlab.amm.fees`); None: every registry design at its defaults.
    seed
        Root seed of the noise traders and gas.
    pool_value
        The constant-product pool's value at the start (numeraire).
    block_s
        Block time (s): the reference is the last mid at or before each block (None: every step is a block).
    noise, gas
        The noise traders and the arbitrageur's gas (default: the registry tour's flow, no gas).
    label
        The market's name in results.

    Returns
    -------
    xarray.Dataset
        :func:`simulate_amm`'s output: one path per row of ``mid``.
    """
    times, prices = _blocks(t_s, mid, block_s)
    reference = PricePath(times, prices, source=label)
    market = Market(reference=reference, noise=noise, gas=gas or Gas(), label=label)
    pool = PoolSpec(value=pool_value, price=float(np.median(prices[:, 0])))
    rules = registry_designs() if designs is None else designs
    return simulate_amm(rules, markets=market, pool=pool, n_paths=prices.shape[0], n_blocks=reference.n_blocks,
                        seed=seed)  # fmt: skip


def stress_table(
    results: xr.Dataset, *, pool_value: float, scenario: str = "crash", money: Sequence[str] = MONEY
) -> xr.Dataset:
    """Return the stress table of :func:`simulate_amm`'s output (its first market): ``value`` over (design,
    statistic, bound) in bps of ``pool_value``; ``bound`` is the mean and its 95 % interval over paths (normal for
    means, bootstrap for the CVaR of LP P&L). One path (a replay) has no interval and no CVaR: NaN. ``money``: the
    metrics tabled before the CVaRs (a StableSwap run adds ``fees_run``)."""
    one = results.isel(parameter=0)
    bps = 1e4 / pool_value
    rows = []
    for name in money:
        rows.append([one["mean"].sel(metric=name), one["ci_low"].sel(metric=name), one["ci_high"].sel(metric=name)])
    single = results.sizes["path"] < 2
    for name in ("cvar_5", "cvar_1"):
        rows.append([one[name], one[f"{name}_ci_low"], one[f"{name}_ci_high"]])
    value = np.array([[np.asarray(v, dtype=np.float64) for v in row] for row in rows]) * bps  # (stat, bound, design)
    if single:
        value[:, 1:] = np.nan
        value[len(money) :] = np.nan
    coords = dict(design=results["design"].values, statistic=[*money, "cvar_5", "cvar_1"], bound=list(BOUNDS),
                  design_short=("design", results["design_short"].values))  # fmt: skip
    table = xr.Dataset({"value": (("design", "statistic", "bound"), value.transpose(2, 0, 1))}, coords=coords)
    table.attrs.update(scenario=scenario, n_paths=int(results.sizes["path"]), pool_value=pool_value,
                       units="bps of the pool's initial value", seed=results.attrs.get("seed"))  # fmt: skip
    return table


def amm_stress_table(
    t_s: np.ndarray,
    mid: np.ndarray,
    designs: Sequence[FeeRule | str | tuple | dict] | None = None,
    *,
    seed: int,
    scenario: str = "crash",
    pool_value: float = 1e7,
    block_s: float | None = 12.0,
    noise: NoiseTraders = DEFAULT_NOISE,
    gas: Gas | None = None,
) -> xr.Dataset:
    """Run every fee design on the paths ``mid[path, time]`` and return their stress table.

    Returns
    -------
    xarray.Dataset
        ``value`` over (design, statistic, bound): the statistics of :data:`STATISTICS` (LP P&L against holding,
        LVR, fees paid by arbitrageurs and by noise traders, LP P&L hedged (fees - LVR), arbitrage profit, CVaR 5 %
        and 1 % of LP P&L over the window) in bps of ``pool_value``, each with its mean (``mean``) and 95 %
        interval (``lo``, ``hi``) over paths; attrs: scenario, paths, provenance.
    """
    results = run_designs(t_s, mid, designs, seed=seed, pool_value=pool_value, block_s=block_s, noise=noise, gas=gas,
                          label=scenario)  # fmt: skip
    table = stress_table(results, pool_value=pool_value, scenario=scenario)
    config = dict(scenario=scenario, pool_value=pool_value, block_s=block_s, n_paths=int(np.shape(mid)[0]),
                  designs=[str(d) for d in results["design"].values])  # fmt: skip
    table.attrs.update(provenance(seed=seed, config=config))
    return table


def degradation_table(
    t_s: np.ndarray,
    normal: np.ndarray,
    crash: np.ndarray,
    designs: Sequence[FeeRule | str | tuple | dict] | None = None,
    *,
    seed: int,
    pool_value: float = 1e7,
    block_s: float | None = 12.0,
    noise: NoiseTraders = DEFAULT_NOISE,
    gas: Gas | None = None,
    confidence: float = 0.95,
) -> xr.Dataset:
    """Return what the crash changes, path by path: each statistic on ``crash`` minus the same on ``normal``.

    The two path sets must be paired (row ``p`` of both shares its draws, as :func:`synthetic_paths` gives for
    one seed); the noise traders are the same in both (one seed), so the difference is the crash's effect alone.
    ``value`` over (design, statistic, bound) in bps of ``pool_value``: the mean difference with its normal
    interval over paths, and for ``cvar_*`` the difference of the CVaRs with a paired bootstrap interval.
    """
    if np.shape(normal) != np.shape(crash):
        raise ParameterError(f"`normal` and `crash` of degradation_table must be paired path sets of one shape; got "
                             f"{np.shape(normal)} and {np.shape(crash)}")  # fmt: skip
    runs = [run_designs(t_s, m, designs, seed=seed, pool_value=pool_value, block_s=block_s, noise=noise, gas=gas,
                        label=name) for name, m in (("normal", normal), ("crash", crash))]  # fmt: skip
    table = change_table(*runs, seed=seed, pool_value=pool_value, confidence=confidence)
    n = int(np.shape(crash)[0])
    config = dict(scenario="crash - normal", pool_value=pool_value, block_s=block_s, n_paths=n)
    table.attrs.update(provenance(seed=seed, config=config))
    table.attrs.update(scenario="crash - normal", n_paths=n, units="bps of the pool's initial value")
    return table


def change_table(
    normal: xr.Dataset,
    crash: xr.Dataset,
    *,
    seed: int,
    pool_value: float,
    confidence: float = 0.95,
    money: Sequence[str] = MONEY,
) -> xr.Dataset:
    """Return *crash minus normal*, path by path, of two paired runs (:func:`simulate_amm`'s layout, the same
    designs and paths): the mean difference of each of ``money`` with its normal interval over paths, and for
    ``cvar_*`` the difference of the CVaRs with a paired bootstrap interval; ``value`` over (design, statistic,
    bound) in bps of ``pool_value``."""
    runs = (normal, crash)
    metrics = [r["value"].isel(parameter=0).sel(metric="lp_pnl").values for r in runs]  # (design, path)
    amounts = [r["value"].isel(parameter=0).sel(metric=list(money)).values for r in runs]  # (design, path, stat)
    diff = (amounts[1] - amounts[0]) * 1e4 / pool_value
    n = diff.shape[1]
    half = norm.ppf(0.5 + confidence / 2) * diff.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else np.nan
    mean = diff.mean(axis=1)
    value = np.full((diff.shape[0], len(money) + len(CVAR_LEVELS), len(BOUNDS)), np.nan)
    value[:, : len(money)] = np.stack([mean, mean - half, mean + half], axis=-1)
    resample = as_generator(seed).integers(0, n, size=(N_BOOTSTRAP, n))
    for k, level in enumerate(CVAR_LEVELS):
        point = (cvar(metrics[1], level) - cvar(metrics[0], level)) * 1e4 / pool_value
        boot = (cvar(metrics[1][:, resample], level) - cvar(metrics[0][:, resample], level)) * 1e4 / pool_value
        low, high = np.quantile(boot, [0.5 - confidence / 2, 0.5 + confidence / 2], axis=-1)
        value[:, len(money) + k] = np.stack([point, low, high], axis=-1)
    coords = dict(design=runs[0]["design"].values, statistic=[*money, "cvar_5", "cvar_1"], bound=list(BOUNDS),
                  design_short=("design", runs[0]["design_short"].values))  # fmt: skip
    return xr.Dataset({"value": (("design", "statistic", "bound"), value)}, coords=coords)


def store_stress_table(
    store: str | Path,
    designs: Sequence[FeeRule | str | tuple | dict] | None = None,
    *,
    seed: int | None = None,
    **options,
) -> xr.Dataset:
    """Return :func:`amm_stress_table` on the ``paths`` group of a stress store (``mid`` over (path, time), coord
    ``t_s``; the store's ``scenario`` and, unless ``seed`` is given, its ``seed``); ``options`` go to
    :func:`amm_stress_table` (``pool_value``, ``block_s``, ``noise``, ``gas``)."""
    try:
        paths = xr.open_zarr(store, group="paths", consolidated=False)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise DataError(f"stress store {store}: no readable `paths` group ({exc})") from exc
    if "mid" not in paths or "t_s" not in paths.coords:
        raise DataError(f"stress store {store}: the `paths` group needs a `mid` variable over (path, time) and a "
                        f"`t_s` coordinate; found variables {list(paths.data_vars)}")  # fmt: skip
    seed = int(paths.attrs["seed"]) if seed is None and "seed" in paths.attrs else seed
    if seed is None:
        raise ParameterError(f"`seed` of store_stress_table is needed: store {store} records none")
    mid = paths["mid"].transpose("path", "time").values
    scenario = str(paths.attrs.get("scenario", Path(store).name))
    return amm_stress_table(paths["t_s"].values, mid, designs, seed=seed, scenario=scenario, **options)


def replay_stress_table(
    events: xr.Dataset,
    designs: Sequence[FeeRule | str | tuple | dict] | None = None,
    *,
    pool_value: float | None = None,
    window_s: float | None = None,
    seed: int = 0,
) -> xr.Dataset:
    """Return the stress table of the real Uniswap v3 replay (:func:`simlab.amm.uniswap.replay_v3`) of ``events``.

    Parameters
    ----------
    events
        Swap events (:func:`simlab.io.uniswap.read_uniswap_v3_swaps`).
    designs
        Fee designs (None: the whole registry).
    pool_value
        The pool's value (numeraire; default: the swaps' implied depth over the whole file).
    window_s
        None: one path, the whole replay (means only: intervals and CVaR are NaN). Else the replay is cut into
        windows of this length from the first swap (each with at least two swaps), each replayed on a fresh pool of
        ``pool_value``: the windows are the paths of the intervals and the CVaR (e.g. 86400: daily LP P&L).
    seed
        Seed of the CVaR's bootstrap intervals.
    """
    from simlab.amm.uniswap import implied_depth, replay_v3

    value = implied_depth(events) if pool_value is None else pool_value
    rules = registry_designs() if designs is None else designs
    if window_s is None:
        return stress_table(replay_v3(events, rules, pool_value=value, seed=seed), pool_value=value,
                            scenario="uniswap-v3 replay")  # fmt: skip
    if not window_s > 0:
        raise ParameterError(f"`window_s` of replay_stress_table must be > 0 (s) or None; got {window_s!r}")
    seconds = (events["ts_ns"].values - events["ts_ns"].values[0]) / 1e9
    window = np.floor(seconds / window_s).astype(np.int64)
    runs = [replay_v3(events.isel(event=window == w), rules, pool_value=value, seed=seed)["value"]
            for w in np.unique(window) if (window == w).sum() >= 2]  # fmt: skip
    per_window = xr.concat(runs, dim="path", coords="minimal").assign_coords(path=np.arange(len(runs)))
    results = per_window.to_dataset(name="value").merge(summarise(per_window, seed=seed))
    results.attrs.update(seed=seed)
    table = stress_table(results, pool_value=value, scenario=f"uniswap-v3 replay, {window_s:g} s windows")
    table.attrs.update(window_s=window_s)
    return table


def ranking_flips(
    tables: Mapping[str, xr.Dataset], *, baseline: str, statistic: str = "lp_pnl", top: int = 3
) -> dict[str, object]:
    """Compare the designs' rankings (best first by the mean of ``statistic``) across tables.

    Parameters
    ----------
    tables
        Stress tables by name (e.g. ``normal``, a crash, ``replay``), over the same designs.
    baseline
        The name of the table the others are compared with.
    statistic
        The statistic ranked (higher is better).
    top
        How many designs that move most to list per table.

    Returns
    -------
    dict
        ``rank`` (a DataArray over (table, design), 1 = best), ``spearman`` (rank correlation of each table with
        the baseline), ``shift`` (rank minus baseline rank, over (table, design)), ``movers`` (per table, the
        short labels of the ``top`` designs by absolute shift, largest first) and ``flips``: every pair of designs
        whose order differs from the baseline's, with ``significant`` when their intervals are disjoint in both
        tables.
    """
    if baseline not in tables:
        raise ParameterError(f"`baseline` of ranking_flips must be one of the tables {list(tables)}; got {baseline!r}")
    if statistic not in STATISTICS:
        raise ParameterError(f"`statistic` of ranking_flips must be one of {STATISTICS}; got {statistic!r}")
    designs = tables[baseline]["design"].values
    short = tables[baseline]["design_short"].values
    for name, table in tables.items():
        if list(table["design"].values) != list(designs):
            raise ParameterError(f"table {name!r} of ranking_flips must hold the baseline's designs in its order")
    names = list(tables)
    stat = {name: t["value"].sel(statistic=statistic) for name, t in tables.items()}
    means = np.array([stat[name].sel(bound="mean").values for name in names])
    ranks = np.argsort(np.argsort(-means, axis=1, kind="stable"), axis=1, kind="stable") + 1
    coords = dict(table=names, design=designs, design_short=("design", short))
    rank = xr.DataArray(ranks, dims=("table", "design"), coords=coords)
    shift = rank - rank.sel(table=baseline)
    base = names.index(baseline)
    spearman = {name: float(spearmanr(ranks[k], ranks[base]).statistic) for k, name in enumerate(names)}
    movers = {name: [str(short[d]) for d in np.argsort(-np.abs(shift.sel(table=name).values), kind="stable")[:top]]
              for name in names if name != baseline}  # fmt: skip
    flips = []
    for k, name in enumerate(names):
        if k == base:
            continue
        for a, b in combinations(range(len(designs)), 2):
            before, now = np.sign(means[base, a] - means[base, b]), np.sign(means[k, a] - means[k, b])
            if before * now < 0:
                winner, loser = (a, b) if now > 0 else (b, a)
                apart = _disjoint(stat[baseline], a, b) and _disjoint(stat[name], a, b)
                flips.append(dict(table=name, now_better=str(short[winner]), was_better=str(short[loser]),
                                  significant=apart))  # fmt: skip
    return dict(rank=rank, shift=shift, spearman=spearman, movers=movers, flips=flips)


def _disjoint(stat: xr.DataArray, a: int, b: int) -> bool:
    """Return whether the intervals of designs ``a`` and ``b`` do not overlap (False without intervals)."""
    lo, hi = stat.sel(bound="lo").values, stat.sel(bound="hi").values
    if np.isnan([lo[a], lo[b], hi[a], hi[b]]).any():
        return False
    return bool(hi[a] < lo[b] or hi[b] < lo[a])
