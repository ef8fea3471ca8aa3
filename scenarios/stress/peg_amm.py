"""The fee designs on a depeg store's own StableSwap pool: every registry design runs on the episode's pool
(:data:`scenarios.stress.peg.POOLS`: its coins, composition and amplification, scaled to the AMM spec's pool value),
with the AMM lab's arbitrageur and noise flow (:func:`simlab.amm.stableswap_lab.simulate_stableswap`).

* **Crash**: the store's run. Path k's run is re-drawn from the store's seed exactly as ``simlab stress run`` drew
  it (:func:`scenarios.stress.peg.run_schedule` on the k-th child seed), checked against the stored price (the
  price the run implies must equal the stored ``mid``, else a DataError); the coins the run sells trade outside at
  the stored price, the others at 1; the run sells its schedule into the pool whatever the fee.
* **Normal day**: the same pool, the same noise traders, no run, the peg held (each path's pre-event median price).

Both are cut to the AMM spec's window around the event and sampled at its blocks (the last price at or before each
block; the run's orders summed over each block). The designs watch the pair (the episode's depegging coin, the coin
the run buys): its marginal price, balances and outside price ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from scenarios.stress.amm import DEFAULT_NOISE, MONEY, change_table, stress_table
from scenarios.stress.peg import POOLS, run_schedule
from scenarios.stress.peg_world import ORDERS_PER_S, depegging_coin, peg_parameters
from simlab.amm.stableswap_lab import simulate_stableswap
from simlab.errors import DataError
from simlab.provenance import provenance

PEG_MONEY = (*MONEY, "fees_run")
"""The money statistics of a StableSwap stress table: the constant-product table's and the fees the run paid."""


@dataclass(frozen=True)
class PegMarket:
    """A depeg store's pool and paths on the AMM spec's blocks.

    Attributes
    ----------
    times
        Block times (s from the window's start).
    crash, normal
        Outside prices (numeraire per coin) over (path, time, coin): the store's run, and the peg held.
    run
        Coins the run sells in each block (path, time, coin; coin units).
    balances, amplification, coins
        The pool at the start (scaled to the spec's pool value), its ``A`` and its coins' names.
    x_coin, into, x_side
        The depegging coin, the coin the run buys, the coins the run sells.
    """

    times: np.ndarray
    crash: np.ndarray
    normal: np.ndarray
    run: np.ndarray
    balances: np.ndarray
    amplification: float
    coins: tuple[str, ...]
    x_coin: int
    into: int
    x_side: np.ndarray


def _schedules(store, params: dict) -> np.ndarray:
    """Return each path's run schedule (share of the run per step), re-drawn from the store's seed, and check the
    price it implies against the stored mid."""
    t_s, mid = store.paths["t_s"].values, store.paths["mid"].values
    root = np.random.SeedSequence(store.seed)
    children = np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key, pool_size=root.pool_size).spawn(
        mid.shape[0]
    )
    out = np.empty(mid.shape)
    for k, child in enumerate(children):
        rng = np.random.default_rng(child)
        out[k] = run_schedule(t_s, float(params["start_s"]), float(params["duration_s"]), rng, ORDERS_PER_S)
        implied = 1.0 - (1.0 - float(params["depeg_factor"])) * np.cumsum(out[k])
        if not np.array_equal(implied, mid[k]):
            raise DataError(
                f"stress store {store.path}: re-drawing path {k}'s run from its seed does not reproduce its stored "
                "price (written by another version of the peg run?); run `simlab stress run` again"
            )
    return out


def peg_market(store, spec) -> PegMarket:
    """Return the depeg store's pool, its run and both price sets on the AMM spec's window and blocks."""
    params = peg_parameters(store.episode, store.values)
    name = str(params.get("pool", "curve_3pool_2023"))
    pool = POOLS[name]
    schedule = _schedules(store, params)
    t_s, mid = store.paths["t_s"].values, store.paths["mid"].values
    event = float(store.paths.attrs["event_s"])
    start, end = max(t_s[0], event - spec.before_s), min(t_s[-1], event + spec.after_s)
    blocks = np.arange(start, end + 1e-9, spec.block_s)
    if blocks.size < 2:
        raise DataError(f"stress store {store.path}: the AMM window [{start:g}, {end:g}] s holds no {spec.block_s:g}-s "
                        "block")  # fmt: skip
    index = np.searchsorted(t_s, blocks, side="right") - 1
    weights = np.asarray(pool["run_weights"], dtype=np.float64)
    balances = np.asarray(pool["balances"], dtype=np.float64)
    balances = balances * (spec.pool_value / balances.sum())
    sold = np.diff(np.cumsum(schedule, axis=1)[:, index], axis=1, prepend=0.0)
    sold[:, 0] = 0.0  # row 0 opens the window: nothing is sold before it
    run = float(params["run_share"]) * balances.sum() * sold[:, :, None] * weights[None, None, :]
    crash = np.ones(run.shape)
    crash[:, :, weights > 0] = mid[:, index][:, :, None]
    before = t_s < event
    normal = np.ones(run.shape)
    normal[:, :, weights > 0] = np.nanmedian(mid[:, before], axis=1)[:, None, None]
    return PegMarket(blocks - blocks[0], crash, normal, run, balances, float(pool["amplification"]),
                     tuple(pool["coins"]), depegging_coin(store.episode, name), int(pool["into"]),
                     weights > 0)  # fmt: skip


def peg_amm_groups(store, spec, seed: int) -> dict[str, xr.Dataset]:
    """Return ``amm_crash``, ``amm_normal`` and ``amm_change`` of a depeg store: every design of the spec on the
    episode's StableSwap pool, in the store's run and on the peg held (paired: the same noise traders)."""
    from scenarios.stress.amm import registry_designs

    market = peg_market(store, spec)
    designs = spec.designs or registry_designs()
    common = dict(balances=market.balances, amplification=market.amplification, times=market.times, seed=seed,
                  x_coin=market.x_coin, y_coin=market.into, x_side=market.x_side, into=market.into,
                  noise=DEFAULT_NOISE)  # fmt: skip
    crash = simulate_stableswap(designs, external=market.crash, run=market.run, label=store.name, **common)
    normal = simulate_stableswap(designs, external=market.normal, run=None, label="normal day", **common)
    options = dict(pool_value=spec.pool_value, money=PEG_MONEY)
    pool = (f"StableSwap pool of the episode ({', '.join(market.coins)}; A = {market.amplification:g}; balances "
            f"{', '.join(f'{b:.4g}' for b in market.balances)}); designs watch {market.coins[market.x_coin]} in "
            f"{market.coins[market.into]}")  # fmt: skip
    config = dict(scenario=store.name, pool=pool, pool_value=spec.pool_value, block_s=spec.block_s,
                  before_s=spec.before_s, after_s=spec.after_s, n_paths=int(market.crash.shape[0]),
                  run=float(market.run.sum()))  # fmt: skip
    groups = {
        "amm_crash": stress_table(crash, scenario=store.name, **options),
        "amm_normal": stress_table(normal, scenario="normal day", **options),
        "amm_change": change_table(normal, crash, seed=seed, **options),
    }
    for name, group in groups.items():
        group.attrs.update(provenance(seed=seed, config=config))
        group.attrs.update(pool_kind="stableswap", pool=pool, n_paths=int(market.crash.shape[0]),
                           scenario={"amm_crash": store.name, "amm_normal": "normal day"}.get(name, "crash - normal"),
                           units="bps of the pool's initial value")  # fmt: skip
    groups["amm_crash"]["min_share"] = (("design", "bound"), _share(crash))
    groups["amm_normal"]["min_share"] = (("design", "bound"), _share(normal))
    return groups


def _share(results: xr.Dataset) -> np.ndarray:
    """Return the smallest share of the coin the run buys (mean, 95 % interval over paths), per design."""
    one = results.isel(parameter=0)
    return np.stack([one[k].sel(metric="min_share").values for k in ("mean", "ci_low", "ci_high")], axis=-1)
