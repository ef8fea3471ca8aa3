"""A peg run on a StableSwap pool: holders of the depegging coin(s) sell them into the pool over a schedule while
their external price falls, and arbitrageurs with a bounded capacity trade the pool towards the external prices.

The pool's composition skews towards the coins being sold. How far it skews at the worst moment (the step where
the coin bought, e.g. USDT, holds its smallest share) depends on the run's size, so the run size is the parameter
a crash library fits to a template composition (:func:`fit_run_size`). Templates (:data:`TEMPLATES`) cite the
public accounts of the 2023-03 USDC and 2022-05 UST depegs.

Every trade is a swap of the pool (:mod:`simlab.amm.stableswap`), so tokens are conserved: per coin, the pool's
change plus the holders' and the arbitrageurs' net flows is zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from simlab.amm.stableswap import StableSwapPool, arbitrage_size, marginal_price, swap_in
from simlab.errors import ParameterError

TEMPLATES = {
    "usdc_2023_03": dict(
        coins=("DAI", "USDC", "USDT"),
        shares=(0.465, 0.465, 0.07),
        source="CoinDesk, 2023-03-10 22:51 UTC, 'DeFi Protocol Curve's $500M Stablecoin Pool Hammered as Traders "
        "Flee USDC': the 3pool (over $510M) held less than 7% USDT while USDC and DAI had ballooned to over 46% "
        "apiece, after being split evenly earlier that week; by Saturday afternoon (Hong Kong) USDT was below 1.5% "
        "(CoinDesk, 2023-03-11). USDC and DAI fell as low as $0.88 overnight (The Block, 2023-03-11).",
    ),
    "ust_2022_05": dict(
        coins=("UST", "3CRV"),
        shares=(0.75, 0.25),
        source="E. Hoo, 'Will there be another stablecoin de-peg?' (Medium, 2022): the Curve UST-3CRV pool stood at "
        "75%-25% on 2022-05-08 when the UST defence failed, widening to 99%-1% as UST fell below $0.10.",
    ),
}


POOLS = {
    "curve_3pool_2023": dict(
        coins=("DAI", "USDC", "USDT"),
        balances=(170e6, 170e6, 170e6),
        amplification=2000.0,
        fee=0.0001,
        run_weights=(0.5, 0.5, 0.0),
        into=2,
        note="Balanced (split evenly before the run) and over $510M (CoinDesk, 2023-03-10); A = 2000 and fee 0.01 % "
        "are assumed, not sourced. DAI followed USDC off its peg, so the run sells both.",
    ),
    "curve_ust_3crv_2022": dict(
        coins=("UST", "3CRV"),
        balances=(500e6, 500e6),
        amplification=500.0,
        fee=0.0004,
        run_weights=(1.0, 0.0),
        into=1,
        note="Size, A = 500 and fee 0.04 % are assumed, not sourced (shares are scale-free).",
    ),
}
"""Pools of the depeg episodes, by name (the ``pool`` key of the crash library's ``peg_run`` primitive)."""


@dataclass(frozen=True)
class PegRunResult:
    """A peg run, step by step (``time`` rows, ``coin`` columns).

    Attributes
    ----------
    t_s
        Step times (s).
    balances
        The pool's balances after each step (coin units; row 0 is the start).
    external
        External prices of the coins (numeraire per coin).
    pool_price
        The pool's marginal price of each coin in the coin bought (``into``), before fee.
    holders, arbitrageurs
        Cumulative net token flows of the sellers and of the arbitrageurs (received minus paid).
    arb_profit
        Cumulative arbitrage profit, each trade valued at the external prices of its step (numeraire).
    into
        Index of the coin the holders buy.
    """

    t_s: np.ndarray
    balances: np.ndarray
    external: np.ndarray
    pool_price: np.ndarray
    holders: np.ndarray
    arbitrageurs: np.ndarray
    arb_profit: np.ndarray
    into: int

    @property
    def shares(self) -> np.ndarray:
        """Return each coin's share of the pool's balances (face value) after each step."""
        return self.balances / self.balances.sum(axis=1, keepdims=True)

    @property
    def peak(self) -> int:
        """Return the step of the largest skew: where the coin bought holds its smallest share."""
        return int(np.argmin(self.shares[:, self.into]))

    @property
    def peak_shares(self) -> np.ndarray:
        """Return the composition at the largest skew."""
        return self.shares[self.peak]

    def shares_at(self, time_s: float) -> np.ndarray:
        """Return the composition after the last step at or before ``time_s``."""
        if not self.t_s[0] <= time_s:
            raise ParameterError(f"`time_s` of PegRunResult.shares_at must be >= {self.t_s[0]}; got {time_s!r}")
        return self.shares[int(np.searchsorted(self.t_s, time_s, side="right")) - 1]

    @property
    def lp_value(self) -> np.ndarray:
        """Return the pool's value at the external prices after each step (numeraire)."""
        return (self.balances * self.external).sum(axis=1)


def depeg_path(t_s: np.ndarray, *, trough: float, trough_s: float, end_level: float = 1.0) -> np.ndarray:
    """Return an external price that falls linearly from 1 to ``trough`` at ``trough_s``, then moves linearly to
    ``end_level`` at the last time (numeraire per coin)."""
    t_s = np.asarray(t_s, dtype=np.float64)
    if not (0.0 < trough and math.isfinite(trough)) or not (t_s[0] < trough_s <= t_s[-1]):
        raise ParameterError(f"`trough` of depeg_path must be > 0 and `trough_s` in ({t_s[0]}, {t_s[-1]}]; got "
                             f"trough={trough!r}, trough_s={trough_s!r}")  # fmt: skip
    return np.interp(t_s, [t_s[0], trough_s, t_s[-1]], [1.0, trough, end_level])


def _check_inputs(t_s, external, balances, run_size, run_weights, into, window) -> tuple:
    t_s = np.asarray(t_s, dtype=np.float64)
    external = np.asarray(external, dtype=np.float64)
    xp = np.asarray(balances, dtype=np.float64)
    n = xp.shape[0]
    if t_s.ndim != 1 or t_s.shape[0] < 2 or not (np.diff(t_s) > 0).all():
        raise ParameterError(f"`t_s` of peg_run must be at least two increasing times (s); got shape {t_s.shape}")
    if external.shape != (t_s.shape[0], n) or not (np.isfinite(external) & (external > 0)).all():
        raise ParameterError(f"`external` of peg_run must be finite prices > 0 of shape (time, coin) = "
                             f"{(t_s.shape[0], n)}; got shape {external.shape}")  # fmt: skip
    weights = np.asarray(run_weights, dtype=np.float64)
    if weights.shape != (n,) or (weights < 0).any() or not math.isclose(weights.sum(), 1.0, rel_tol=1e-9):
        raise ParameterError(f"`run_weights` of peg_run must be {n} shares >= 0 summing to 1; got {weights.tolist()}")
    if not (isinstance(into, int) and 0 <= into < n) or weights[into] > 0:
        raise ParameterError(f"`into` of peg_run must be the index in [0, {n}) of a coin the run does not sell; got "
                             f"{into!r} with run_weights {weights.tolist()}")  # fmt: skip
    if not (math.isfinite(run_size) and run_size >= 0):
        raise ParameterError(f"`run_size` of peg_run must be a finite share >= 0 of the pool; got {run_size!r}")
    start, end = window
    if not (t_s[0] <= start < end <= t_s[-1]):
        raise ParameterError(f"the run of peg_run (start_s={start}, duration_s={end - start}) must lie within "
                             f"[{t_s[0]}, {t_s[-1]}] s with a positive duration")  # fmt: skip
    return t_s, external, weights


def peg_run(
    t_s: np.ndarray,
    external: np.ndarray,
    *,
    balances: Sequence[float],
    run_size: float,
    run_weights: Sequence[float],
    into: int,
    amplification: float = 2000.0,
    fee: float = 0.0001,
    start_s: float | None = None,
    duration_s: float | None = None,
    arb_capacity: float = math.inf,
) -> PegRunResult:
    """Run holders of the depegging coins into a StableSwap pool while arbitrageurs trade it to external prices.

    Parameters
    ----------
    t_s
        Step times (s), increasing; shape ``(time,)``.
    external
        External prices (numeraire per coin), shape ``(time, coin)``: the arbitrageurs' reference.
    balances
        The pool's balances at the start (coin units).
    run_size
        What the holders sell in all, as a share of the pool's initial balances (face value).
    run_weights
        Each coin's share of the run (>= 0, summing to 1; 0 for ``into``).
    into
        Index of the coin the holders buy (e.g. USDT).
    amplification, fee
        The pool's ``A`` (as Curve's contracts store it) and fee (on output).
    start_s, duration_s
        The run sells at a constant rate over ``[start_s, start_s + duration_s]`` (default: the whole window).
    arb_capacity
        What the arbitrageurs of each ordered pair of coins can sell per hour, as a share of the pool's initial
        value (inf: unlimited).

    Returns
    -------
    PegRunResult
        In each step, the holders sell their share of the run first; then, in three rounds over every ordered pair
        of coins ``(i, j)``, an arbitrageur sells coin ``i`` for ``j`` up to where the pool's marginal rate after fee
        equals the external ratio, each pair within the step's capacity.
    """
    times = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
    start = float(times[0]) if start_s is None and times.size else float(start_s or 0.0)
    end = float(times[-1]) if duration_s is None and times.size else start + float(duration_s or 0.0)
    t_s, external, weights = _check_inputs(t_s, external, balances, run_size, run_weights, into, (start, end))
    pool = StableSwapPool(tuple(balances), amplification, fee)  # validates the pool
    if not (arb_capacity >= 0):
        raise ParameterError(f"`arb_capacity` of peg_run must be >= 0 (inf: unlimited); got {arb_capacity!r}")
    xp = np.array(pool.balances)
    n_steps, n = t_s.shape[0], xp.shape[0]
    sold_total = run_size * xp.sum() * weights
    value_0 = float(xp @ external[0])
    out = {k: np.zeros((n_steps, n)) for k in ("balances", "pool_price", "holders", "arbitrageurs")}
    profit = np.zeros(n_steps)
    _record(out, 0, xp, amplification, into)
    for step in range(1, n_steps):
        overlap = max(0.0, min(end, t_s[step]) - max(start, t_s[step - 1])) / (end - start)
        out["holders"][step] = out["holders"][step - 1]
        out["arbitrageurs"][step] = out["arbitrageurs"][step - 1]
        for coin in np.flatnonzero(sold_total * overlap > 0):
            dx = sold_total[coin] * overlap
            dy, _ = swap_in(xp, amplification, fee, coin, into, dx)
            out["holders"][step, coin] -= dx
            out["holders"][step, into] += dy
        budget = arb_capacity * value_0 * (t_s[step] - t_s[step - 1]) / 3600.0
        gain = _arbitrage(xp, amplification, fee, external[step], budget, out["arbitrageurs"][step])
        profit[step] = profit[step - 1] + gain
        if not np.isfinite(xp).all():
            raise ParameterError(f"peg_run: the StableSwap invariant did not converge at step {step} "
                                 f"(t = {t_s[step]} s, balances {xp.tolist()}); use a smaller run or step")  # fmt: skip
        _record(out, step, xp, amplification, into)
    return PegRunResult(t_s=t_s, external=external, arb_profit=profit, into=into, **out)


def _arbitrage(xp, amplification, fee, prices, budget, flows, rounds: int = 3) -> float:
    """Trade every ordered pair towards ``prices`` (``rounds`` rounds), each pair within its own ``budget``
    (numeraire) for the step, so that pairs with equal gaps trade alike; update ``xp`` and ``flows`` in place;
    return the profit at ``prices``."""
    n, gain = xp.shape[0], 0.0
    left = np.full((n, n), budget)
    for _ in range(rounds):
        for i in range(n):
            for j in range(n):
                if i == j or left[i, j] <= 0.0:
                    continue
                size = arbitrage_size(xp, amplification, fee, i, j, prices[i] / prices[j], left[i, j] / prices[i])
                if size <= 0.0:
                    continue
                dy, _ = swap_in(xp, amplification, fee, i, j, size)
                flows[i] -= size
                flows[j] += dy
                left[i, j] -= size * prices[i]
                gain += dy * prices[j] - size * prices[i]
    return gain


def _record(out, step, xp, amplification, into) -> None:
    out["balances"][step] = xp
    for coin in range(xp.shape[0]):
        out["pool_price"][step, coin] = 1.0 if coin == into else marginal_price(xp, amplification, coin, into)


def peg_episode(
    *,
    start_s: float,
    duration_s: float,
    run_share: float,
    depeg_factor: float,
    pool: str = "curve_3pool_2023",
    window_s: float | None = None,
    step_s: float | None = None,
    arb_capacity: float = 0.0,
) -> PegRunResult:
    """Run the crash library's ``peg_run`` primitive: its keys (``start_s``, ``duration_s``, ``run_share``,
    ``depeg_factor``, ``pool``) on a pool of :data:`POOLS`.

    The coins the run sells trade outside at 1 until ``start_s``, fall linearly to ``depeg_factor`` at the run's
    end and stay there; the run sells ``run_share`` of the pool evenly over ``[start_s, start_s + duration_s]``.
    The window lasts ``window_s`` (default: twice the run's end) in steps of ``step_s`` (default: a 50th of the
    run). ``arb_capacity`` is :func:`peg_run`'s (default 0: the run alone sets the composition).
    """
    if pool not in POOLS:
        raise ParameterError(f"`pool` of the peg_run primitive must be one of {', '.join(POOLS)}; got {pool!r}")
    if not (duration_s > 0 and start_s >= 0 and 0 < depeg_factor):
        raise ParameterError(f"the peg_run primitive needs start_s >= 0, duration_s > 0 and depeg_factor > 0; "
                             f"got start_s={start_s!r}, duration_s={duration_s!r}, "
                             f"depeg_factor={depeg_factor!r}")  # fmt: skip
    end = start_s + duration_s
    window = 2.0 * end if window_s is None else float(window_s)
    step = duration_s / 50.0 if step_s is None else float(step_s)
    if not (window > end and step > 0):
        raise ParameterError(f"the peg_run primitive's window ({window} s) must outlast the run's end ({end} s) and "
                             f"its step ({step} s) be > 0")  # fmt: skip
    t_s = np.unique(np.append(np.arange(0.0, window, step), [start_s, end, window]))
    spec = POOLS[pool]
    external = np.ones((t_s.size, len(spec["balances"])))
    falling = np.asarray(spec["run_weights"]) > 0
    external[:, falling] = np.interp(t_s, [0.0, start_s, end, window], [1.0, 1.0, depeg_factor, depeg_factor])[:, None]
    return peg_run(t_s, external, balances=spec["balances"], run_size=run_share, run_weights=spec["run_weights"],
                   into=spec["into"], amplification=spec["amplification"], fee=spec["fee"], start_s=start_s,
                   duration_s=duration_s, arb_capacity=arb_capacity)  # fmt: skip


def peg_statistics(result: PegRunResult) -> dict[str, float]:
    """Return the shape of a peg run: ``peak_share_<k>`` (each coin's share at the largest skew), ``time_to_peak_s``
    (from the first step), ``min_pool_price`` (the lowest marginal price of a coin sold, in the coin bought),
    ``arb_profit_share`` and ``lp_value_change`` (the pool's value at external prices, end over start, minus one)."""
    out = {f"peak_share_{k}": float(share) for k, share in enumerate(result.peak_shares)}
    sold = [k for k in range(result.balances.shape[1]) if k != result.into]
    value = result.lp_value
    out.update(time_to_peak_s=float(result.t_s[result.peak] - result.t_s[0]),
               min_pool_price=float(result.pool_price[:, sold].min()),
               arb_profit_share=float(result.arb_profit[-1] / value[0]),
               lp_value_change=float(value[-1] / value[0] - 1.0))  # fmt: skip
    return out


def composition_error(result: PegRunResult, target: Sequence[float], at_s: float | None = None) -> float:
    """Return the largest absolute gap between ``target`` shares and the run's composition at its peak (or at
    ``at_s``)."""
    shares = result.peak_shares if at_s is None else result.shares_at(at_s)
    return float(np.max(np.abs(shares - np.asarray(target, dtype=np.float64))))


def fit_run_size(
    target: Sequence[float], grid: Sequence[float], *, at_s: float | None = None, refine: bool = True, **run
) -> dict:
    """Fit the run size whose peak composition (or composition at ``at_s``) matches ``target`` (shares per coin).

    Parameters
    ----------
    target
        The template's composition at the peak (shares summing to 1).
    grid
        Run sizes to try (shares of the pool, increasing).
    at_s
        Match the composition at this time (s) instead of at the peak skew.
    refine
        Refine the best grid point by bounded scalar minimisation between its neighbours.
    **run
        The other arguments of :func:`peg_run` (``t_s``, ``external``, ``balances``, ``run_weights``, ``into``, ...).

    Returns
    -------
    dict
        ``run_size`` (the fit), ``shares`` (the matched composition) and ``error`` (largest share gap) at the
        fit, and ``grid``,
        ``grid_error`` (the error at every grid point).
    """
    grid = np.asarray(grid, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if grid.ndim != 1 or grid.shape[0] < 2 or not (np.diff(grid) > 0).all() or grid[0] < 0:
        raise ParameterError(f"`grid` of fit_run_size must be at least two increasing run sizes >= 0; got "
                             f"{grid.tolist()}")  # fmt: skip
    if not math.isclose(target.sum(), 1.0, rel_tol=1e-6) or (target < 0).any():
        raise ParameterError(f"`target` of fit_run_size must be shares >= 0 summing to 1; got {target.tolist()}")

    def error(size: float) -> float:
        return composition_error(peg_run(run_size=size, **run), target, at_s)

    errors = np.array([error(r) for r in grid])
    best = int(np.argmin(errors))
    size = float(grid[best])
    if refine:
        low, high = grid[max(best - 1, 0)], grid[min(best + 1, grid.shape[0] - 1)]
        found = minimize_scalar(error, bounds=(low, high), method="bounded", options={"xatol": 1e-4})
        size = float(found.x) if found.fun <= errors[best] else size
    result = peg_run(run_size=size, **run)
    shares = result.peak_shares if at_s is None else result.shares_at(at_s)
    return dict(run_size=size, shares=shares, error=composition_error(result, target, at_s), grid=grid,
                grid_error=errors)  # fmt: skip
