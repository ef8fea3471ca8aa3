"""Summaries of the engine's per-path metrics: means with normal confidence intervals, and the CVaR of LP P&L
(5% and 1%) with bootstrap confidence intervals.

The per-path metrics (``simlab.amm._kernels.METRICS``) are: ``lp_pnl`` (LP value plus fees minus holding the
initial reserves), ``hedged_lp_pnl`` (fees minus LVR), ``lvr`` (loss of the reserves against the rebalancing
portfolio that holds the pool's x between blocks), ``fees_arb`` / ``fees_noise`` (fee revenue from each, valued
at the reference price of the block), ``arb_profit`` (net of gas), ``arb_gas``, ``noise_cost`` (what noise
traders pay above the reference price, fees included), ``noise_volume``, ``arb_block_share`` (share of blocks
with an arbitrage), ``arb_profit_rel`` / ``arb_fees_rel`` / ``lvr_rel`` (per-block averages of each block's
amount over the pool value at the block's reference price), ``mispricing_bps`` (mean ``|log(pool / reference)|``
after each block) and ``max_mispricing_bps``, ``time_to_repeg_s`` (mean length of the spells in which the
mispricing after a block exceeds the market's ``repeg_bps``), ``markout_1block`` / ``_1min`` / ``_5min`` (the
LP side of every trade valued at the reference price one block, 60 s and 300 s later), ``min_reserve_share``
(lowest ``min(x / x_0, y / y_0)``), ``mean_fee_bps`` (mean of the two directions' fees over blocks), and with a
sandwich attacker ``sandwich_profit`` (after gas), ``sandwich_share`` (share of noise trades attacked) and
``fees_sandwich`` (fees the attacker's trades pay the LP). LVR here counts every trade (noise traders' trades
included), so that ``hedged_lp_pnl = fees - lvr`` always; without noise it is the arbitrage LVR.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from simlab.errors import ParameterError
from simlab.random import as_generator

CVAR_LEVELS = (0.05, 0.01)
N_BOOTSTRAP = 200


def cvar(values: np.ndarray, level: float, axis: int = -1) -> np.ndarray:
    """Return the conditional value at risk: the mean of the worst ``level`` share of ``values`` along ``axis``
    (at least one value), as a P&L (negative is a loss)."""
    if not 0 < level <= 1:
        raise ParameterError(f"`level` of cvar must be in (0, 1]; got {level!r}")
    ordered = np.sort(values, axis=axis)
    count = max(1, int(np.floor(level * ordered.shape[axis])))
    return np.take(ordered, np.arange(count), axis=axis).mean(axis=axis)


def summarise(values: xr.DataArray, *, seed: int, confidence: float = 0.95) -> xr.Dataset:
    """Return ``mean``, ``ci_low``, ``ci_high`` (normal, over paths) of every metric and the CVaR of ``lp_pnl``.

    Parameters
    ----------
    values
        Per-path metrics over (..., path, metric).
    seed
        Seed of the bootstrap of the CVaR confidence intervals.
    confidence
        Two-sided confidence level of the intervals.
    """
    if not 0 < confidence < 1:
        raise ParameterError(f"`confidence` of summarise must be in (0, 1); got {confidence!r}")
    from scipy.stats import norm  # imported here: the sweep's workers import this module, and scipy.stats costs ~1 s

    z = norm.ppf(0.5 + confidence / 2)
    n = values.sizes["path"]
    mean = values.mean("path")
    half = z * values.std("path", ddof=1) / np.sqrt(n) if n > 1 else xr.full_like(mean, np.nan)
    out = xr.Dataset({"mean": mean, "ci_low": mean - half, "ci_high": mean + half})
    pnl = values.sel(metric="lp_pnl").transpose(..., "path").values
    rng = as_generator(seed)
    resample = rng.integers(0, n, size=(N_BOOTSTRAP, n))
    dims = tuple(d for d in values.dims if d not in ("path", "metric"))
    for level in CVAR_LEVELS:
        name = f"cvar_{round(level * 100)}"
        boot = cvar(pnl[..., resample], level, axis=-1)  # (..., bootstrap)
        low, high = np.quantile(boot, [0.5 - confidence / 2, 0.5 + confidence / 2], axis=-1)
        out[name] = (dims, cvar(pnl, level))
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = (dims, low), (dims, high)
    return out
