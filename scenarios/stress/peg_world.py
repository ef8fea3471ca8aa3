"""The ``amm`` world of the stress runner: an episode's peg run (:func:`scenarios.stress.peg.peg_episode`) on
seeded paths, each a crash path of the depegging coin's external price with the pool's price and composition.

What is random. :func:`~scenarios.stress.peg.peg_episode` alone is deterministic. Here path ``k`` draws, from the
``k``-th child of the root seed, the run's arrival: sell orders of a compound Poisson schedule
(:func:`~scenarios.stress.peg.run_schedule`, :data:`ORDERS_PER_S` orders a simulated second, exponential sizes),
and the coins' external price falls in step with what the run has sold. So the run's total (coefficient of
variation ``sqrt(2 / orders)``), the depth of the low, the time of the last order (the trough) and the pool's
composition differ by path; the pool, its amplification and fee, the depeg factor, the run's size and window are
the episode's.

A path (:class:`PegPath`) is a :class:`~simlab.metrics.crash.CrashPath` on the runner's grid whose ``mid`` is the
external price of the depegging coin (the price the templates' drawdowns describe, e.g. USDC's low near $0.88),
with two pool series: ``pool_price`` (the pool's marginal price of that coin in the coin bought, before fee) and
``least_share`` (the share of the coin bought: the least-held coin at the run's peak). Their statistics
(:data:`~scenarios.stress.episodes.PEG_STATISTICS`) are ``min_share`` (the smallest share of the coin bought:
46/46/7 is 0.07) and ``min_pool_price``. Arbitrage is off (``peg_episode``'s default ``arb_capacity = 0``): the
run alone sets the composition, as in the templates' accounts of a one-way pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scenarios.stress.episodes import PEG_STATISTICS, Episode
from scenarios.stress.peg import POOLS, peg_episode
from simlab.errors import ParameterError
from simlab.metrics.crash import CrashPath

ORDERS_PER_S = 1.0
"""The run's sell orders per simulated second (a 300-s run: about 300 orders)."""


@dataclass(frozen=True, eq=False)
class PegPath(CrashPath):
    """A crash path of a peg run: ``mid`` is the depegging coin's external price; the pool's series beside it.

    Attributes
    ----------
    pool_price
        The pool's marginal price of the depegging coin in the coin bought (before fee).
    least_share
        The share of the coin bought in the pool's balances (face value).
    """

    pool_price: np.ndarray | None = None
    least_share: np.ndarray | None = None


def peg_parameters(episode: Episode, values: dict[str, float]) -> dict[str, Any]:
    """Return the keys of the episode's ``[mechanism.peg_run]``: its fixed keys and the fitted ``values``."""
    if set(episode.spec.mechanism) != {"peg_run"}:
        raise ParameterError(
            f"episode {episode.name}: the amm world runs exactly one primitive, [mechanism.peg_run]; got "
            f"{', '.join(sorted(episode.spec.mechanism))}"
        )
    shock = episode.spec.mechanism["peg_run"]
    return {**shock.fixed, **{key: values[f"peg_run.{key}"] for key in shock.fit}}


def peg_path(episode: Episode, values: dict[str, float], seed: np.random.SeedSequence, grid_s: float) -> PegPath:
    """Run one path of the episode's peg run (seeded by ``seed``) on a ``grid_s`` grid over the background."""
    params = peg_parameters(episode, values)
    bg = episode.spec.background
    for key in ("start_s", "duration_s"):
        if float(params[key]) % grid_s:
            raise ParameterError(
                f"episode {episode.name}: [mechanism.peg_run] `{key}` must be a multiple of the {grid_s:g}-s grid; "
                f"got {params[key]!r}"
            )
    result = peg_episode(**params, window_s=bg.duration_s, step_s=grid_s, rng=np.random.default_rng(seed),
                         orders_per_s=ORDERS_PER_S)  # fmt: skip
    coin = depegging_coin(episode, str(params.get("pool", "curve_3pool_2023")))
    return PegPath(
        t_s=result.t_s,
        mid=result.external[:, coin],
        pool_price=result.pool_price[:, coin],
        least_share=result.shares[:, result.into],
    )


def depegging_coin(episode: Episode, pool: str) -> int:
    """Return the index in ``pool`` of the episode's asset (a coin named in ``[episode] asset``), else of the
    first coin the run sells."""
    spec = POOLS[pool]
    for k, name in enumerate(spec["coins"]):
        if spec["run_weights"][k] > 0 and name in episode.spec.episode.asset:
            return k
    return int(np.flatnonzero(np.asarray(spec["run_weights"]) > 0)[0])


def simulate_peg(episode: Episode, values: dict[str, float], children: list, grid_s: float) -> list[PegPath]:
    """Return one peg path per child seed (sequentially: a path is a fraction of a second)."""
    return [peg_path(episode, values, child, grid_s) for child in children]


def peg_path_statistics(path: PegPath) -> dict[str, float]:
    """Return the pool statistics of a peg path (the names in :data:`PEG_STATISTICS`)."""
    out = {"min_share": float(np.min(path.least_share)), "min_pool_price": float(np.min(path.pool_price))}
    return {name: out[name] for name in PEG_STATISTICS}
