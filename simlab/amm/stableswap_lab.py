"""The fee designs of the AMM lab on a StableSwap (Curve) pool: arbitrageurs, a price-insensitive run and noise traders.

Every design of the registry (:mod:`simlab.amm.fees`) runs unchanged: its state and formulas are the lab's own
kernels, fed with the pool's **pair** (coin ``x``: the coin whose price the design watches, e.g. the depegging
coin; coin ``y``: the numeraire coin, e.g. the coin a run buys). The design sees the pool's marginal price of x in
y (its volatility, Liquidity Book index, Curve v2 price scale), the real balances of x and y (inventory, Curve v2's
balance), the oracle ``ext_x / ext_y`` and its gap to the marginal price (oracle_gap), and the previous block's
flow imbalance. A swap that takes an x-side coin out of the pool pays the design's *buy* fee, one that pays an
x-side coin in its *sell* fee, any other (between two x-side coins, or two others) the mean of the two. The fee is
charged on the output and stays in the pool, as in Curve's ``exchange``.

Per block, as in the constant-product lab (:mod:`simlab.amm.engine`): the design sees the block; the arbitrageur
trades every ordered pair of coins to where the pool's marginal rate net of fee equals the outside price ratio
(:func:`simlab.amm._stableswap_kernels.arbitrage_size`, three rounds); a run (coins sold into one coin, e.g. the
holders of a depegging coin) sells its block's amounts, whatever the fee; the noise traders (Poisson arrivals,
lognormal sizes in numeraire, a uniformly drawn ordered pair, leaving when the fee is high) trade.

Accounting at the outside prices ``ext`` (numeraire per coin): LP P&L is the pool's value at the end minus holding
its initial balances; LVR is the loss against the rebalancing portfolio that holds the pool's balances between
blocks, net of the fees that stayed in the pool, so ``hedged_lp_pnl = fees - lvr``; fees are split by who paid
them (arbitrageurs, noise traders, the run). :func:`lvr_rate` is the closed form of the fee-free LVR rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import xarray as xr

from simlab.amm import _stableswap_kernels as kernels
from simlab.amm.engine import NoiseTraders
from simlab.amm.fees import FeeRule, as_fee
from simlab.amm.metrics import summarise
from simlab.amm.stableswap import check_amplification, get_d
from simlab.errors import ParameterError
from simlab.provenance import provenance
from simlab.random import as_generator

METRICS = kernels.METRICS
NO_NOISE = NoiseTraders()


def pair_table(n: int) -> np.ndarray:
    """Return the ordered pairs ``(i, j)`` of ``n`` coins, row by row (the noise traders' pair index)."""
    return np.array([(i, j) for i in range(n) for j in range(n) if i != j], dtype=np.int64)


def side_table(x_side: np.ndarray) -> np.ndarray:
    """Return ``side[i, j]``: +1 when selling i for j takes an x-side coin out (the design's buy), -1 when it pays
    one in (its sell), 0 otherwise."""
    x_side = np.asarray(x_side, dtype=bool)
    return (x_side[None, :] & ~x_side[:, None]).astype(np.int64) - (x_side[:, None] & ~x_side[None, :])


def lvr_rate(balances: Sequence[float], amplification: float, sigma: float) -> float:
    """Return the fee-free LVR rate of a two-coin StableSwap pool, ``0.5 sigma**2 p**2 |dx / dp|`` (coin 1 per unit
    of time of ``sigma``), where ``p`` is the marginal price of coin 0 in coin 1 and ``x(p)`` the pool's holding of
    coin 0 when its marginal price is ``p`` (the arbitraged pool), ``dp / dx`` from the invariant
    (:func:`simlab.amm._stableswap_kernels.price_slope`). ``sigma`` is the volatility of coin 0's log price (per
    square root of the time unit). At ``A -> 0`` it is the constant product's ``sigma**2 V / 8``."""
    xp = np.asarray(balances, dtype=np.float64)
    if xp.shape != (2,) or not (np.isfinite(xp) & (xp > 0)).all():
        raise ParameterError(f"`balances` of lvr_rate must be two finite balances > 0; got {xp.tolist()}")
    amp = check_amplification(amplification, "lvr_rate")
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ParameterError(f"`sigma` of lvr_rate must be a finite number >= 0; got {sigma!r}")
    d = get_d(xp, amp)
    p = kernels.price(xp, amp, d, 0, 1)
    return 0.5 * sigma**2 * p * p / abs(kernels.price_slope(xp, amp, d, 0, 1))


def _check_inputs(balances, external, times, run, x_coin, y_coin, into):
    xp = np.asarray(balances, dtype=np.float64)
    n = xp.shape[0] if xp.ndim == 1 else 0
    if n < 2 or not (np.isfinite(xp) & (xp > 0)).all():
        raise ParameterError(f"`balances` of simulate_stableswap must be at least two finite balances > 0; got "
                             f"{xp.tolist()}")  # fmt: skip
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or times.shape[0] < 2 or not (np.diff(times) > 0).all():
        raise ParameterError(f"`times` of simulate_stableswap must be at least two increasing block times (s); got "
                             f"shape {times.shape}")  # fmt: skip
    ext = np.ascontiguousarray(external, dtype=np.float64)
    if ext.ndim != 3 or ext.shape[1:] != (times.shape[0], n) or not (np.isfinite(ext) & (ext > 0)).all():
        raise ParameterError(f"`external` of simulate_stableswap must be finite prices > 0 over (path, time, coin) = "
                             f"(*, {times.shape[0]}, {n}); got shape {ext.shape}")  # fmt: skip
    flows = np.zeros(ext.shape) if run is None else np.ascontiguousarray(run, dtype=np.float64)  # one kernel layout
    if flows.shape != ext.shape or not (np.isfinite(flows) & (flows >= 0)).all() or flows[..., into].any():
        raise ParameterError(f"`run` of simulate_stableswap must be amounts >= 0 shaped like `external` {ext.shape}, "
                             f"0 for the coin bought ({into}); got shape {flows.shape}")  # fmt: skip
    for name, coin in (("x_coin", x_coin), ("y_coin", y_coin), ("into", into)):
        if isinstance(coin, bool) or not isinstance(coin, (int, np.integer)) or not 0 <= coin < n:
            raise ParameterError(f"`{name}` of simulate_stableswap must be a coin index in [0, {n}); got {coin!r}")
    if x_coin == y_coin:
        raise ParameterError(f"`x_coin` and `y_coin` of simulate_stableswap must differ; got {x_coin} twice")
    return xp, ext, times, flows


def simulate_stableswap(
    designs: Sequence[FeeRule | str | tuple | dict],
    *,
    balances: Sequence[float],
    amplification: float,
    external: np.ndarray,
    times: np.ndarray,
    seed: int,
    x_coin: int = 0,
    y_coin: int = 1,
    x_side: Sequence[bool] | None = None,
    run: np.ndarray | None = None,
    into: int | None = None,
    noise: NoiseTraders = NO_NOISE,
    label: str = "stableswap",
) -> xr.Dataset:
    """Simulate every fee design on a StableSwap pool on each path of outside prices.

    Parameters
    ----------
    designs
        Fee designs (rules, names, ``(name, params)`` or ``{"name": ...}``), see :mod:`simlab.amm.fees`.
    balances, amplification
        The pool at the start (coin units; Curve's ``A``).
    external
        Outside prices (numeraire per coin) over (path, time, coin): the arbitrageur's reference.
    times
        Block times (s), shape ``(time,)``, shared by the paths.
    seed
        Root seed of the noise traders (the same for every design: common random numbers).
    x_coin, y_coin
        The pair the designs watch: coin x's marginal price in coin y, their balances, the oracle ``ext_x / ext_y``.
    x_side
        Which coins count as x (their outflow is a buy); default: ``x_coin`` and the coins the run sells.
    run, into
        Amounts of each coin the run sells into coin ``into`` in the block ending at each time (path, time, coin;
        row 0 unused), whatever the fee; None: no run.
    noise
        Noise traders (numeraire sizes; each picks an ordered pair of coins uniformly).
    label
        The market's name in results (the ``parameter`` coordinate).

    Returns
    -------
    xarray.Dataset
        ``value`` over (design, parameter, path, metric) in numeraire (``mean_fee_bps`` and ``max_mispricing_bps``
        in bps, ``min_share`` the smallest share of coin y), with :func:`simlab.amm.metrics.summarise`'s means,
        intervals and CVaR of ``lp_pnl``, and provenance; the layout of :func:`simlab.amm.engine.simulate_amm`.
    """
    rules = [as_fee(d) for d in designs]
    if not rules:
        raise ParameterError("simulate_stableswap needs at least one design; got none")
    into = y_coin if into is None else into
    xp, ext, times, flows = _check_inputs(balances, external, times, run, x_coin, y_coin, into)
    amp = check_amplification(amplification, "simulate_stableswap")
    n_paths, n = ext.shape[0], xp.shape[0]
    sides_of = np.zeros(n, dtype=bool) if x_side is None else np.asarray(x_side, dtype=bool)
    if sides_of.shape != (n,) or (x_side is not None and (not sides_of[x_coin] or sides_of[y_coin])):
        raise ParameterError(f"`x_side` of simulate_stableswap must be {n} flags, true for x_coin and false for "
                             f"y_coin; got {np.asarray(x_side).tolist()}")  # fmt: skip
    if x_side is None:
        sides_of[x_coin] = True
        sides_of |= flows.sum(axis=(0, 1)) > 0
    rng = as_generator(seed)
    grid = np.broadcast_to(times, (n_paths, times.shape[0]))
    starts, values, _, uniforms = noise.sample(grid, rng)
    pairs = pair_table(n)
    chosen = rng.integers(0, pairs.shape[0], size=values.shape[0])
    out = np.empty((len(rules), n_paths, len(METRICS)))
    kernels.simulate(np.array([r.kind for r in rules], dtype=np.int64), np.stack([r.vector() for r in rules]), ext,
                     times, flows, starts, values, chosen, uniforms, pairs, side_table(sides_of), xp, amp, x_coin,
                     y_coin, into, noise.fee_elasticity, out)  # fmt: skip
    coords = dict(design=_text(r.label for r in rules), parameter=_text([label]), path=np.arange(n_paths),
                  metric=_text(METRICS), design_short=("design", _text(r.short_label for r in rules)))  # fmt: skip
    dataset = xr.Dataset({"value": (("design", "parameter", "path", "metric"), out[:, None])}, coords=coords)
    config = dict(designs=[r.label for r in rules], balances=xp.tolist(), amplification=amp, x_coin=x_coin,
                  y_coin=y_coin, into=into, x_side=sides_of.tolist(), n_paths=n_paths, n_blocks=times.shape[0] - 1,
                  noise=repr(noise), run=None if run is None else float(flows.sum()), label=label)  # fmt: skip
    dataset.attrs.update(provenance(seed=seed, config=config))
    return dataset.merge(summarise(dataset["value"], seed=seed))


def _text(items) -> np.ndarray:
    return np.array(list(items), dtype=object)
