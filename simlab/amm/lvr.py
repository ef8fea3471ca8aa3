"""Closed forms of loss-versus-rebalancing and arbitrage profits for a constant-product pool.

``sigma_block`` is the standard deviation of the log reference price over one (mean) block; ``fee`` the fee
fraction; ``value`` the pool value. Sources: Milionis, Moallemi, Roughgarden and Zhang, "Automated market making
and loss-versus-rebalancing" (2022) for the LVR rate; Milionis, Moallemi and Roughgarden, "Automated market making
and arbitrage profits in the presence of fees" (2023) for Poisson blocks; Nezlobin and Tassy, "Loss-versus-
rebalancing under deterministic and generalized block-times" (2025) for fixed blocks, their spread read as 2 f.
"""

from __future__ import annotations

import math

from simlab.errors import ParameterError

NEZLOBIN_TASSY_CONSTANT = 3.4328
"""The coefficient of f / sigma_b in the fixed-block arbitrage profit (Nezlobin and Tassy 2025, spread 2 f)."""


def _check(owner: str, sigma_block: float, fee: float = 0.0) -> None:
    if not (math.isfinite(sigma_block) and sigma_block > 0):
        raise ParameterError(f"`sigma_block` of {owner} must be a finite number > 0; got {sigma_block!r}")
    if not 0 <= fee < 1:
        raise ParameterError(f"`fee` of {owner} must be in [0, 1); got {fee!r}")


def lvr_per_block(value: float, sigma_block: float) -> float:
    """Return the LVR of a constant-product pool per block, ``V sigma_b**2 / 8`` (numeraire)."""
    _check("lvr_per_block", sigma_block)
    return value * sigma_block**2 / 8.0


def expected_value_fee_free(value: float, sigma_total: float) -> float:
    """Return ``E[V_T] = V_0 exp(-sigma**2 T / 8)`` of a fee-free constant-product pool (``sigma_total**2 =
    sigma**2 T``) arbitraged continuously against a martingale GBM."""
    if not (math.isfinite(sigma_total) and sigma_total >= 0):
        raise ParameterError(
            f"`sigma_total` of expected_value_fee_free must be a finite number >= 0; got {sigma_total!r}"
        )
    return value * math.exp(-(sigma_total**2) / 8.0)


def poisson_trade_probability(sigma_block: float, fee: float) -> float:
    """Return the probability that a Poisson block carries an arbitrage, ``1 / (1 + sqrt(2) f / sigma_b)``."""
    _check("poisson_trade_probability", sigma_block, fee)
    return 1.0 / (1.0 + math.sqrt(2.0) * fee / sigma_block)


def poisson_arbitrage_profit(value: float, sigma_block: float, fee: float) -> float:
    """Return the arbitrage profit per Poisson block, ``(V / 4) (sigma_b**2 / 2) / (1 + sqrt(2) f / sigma_b)``."""
    _check("poisson_arbitrage_profit", sigma_block, fee)
    return value / 4.0 * sigma_block**2 / 2.0 * poisson_trade_probability(sigma_block, fee)


def fixed_block_arbitrage_profit(value: float, sigma_block: float, fee: float) -> float:
    """Return the arbitrage profit per fixed-time block, ``(V / 4) sigma_b**2 / (2 + 3.4328 f / sigma_b)``."""
    _check("fixed_block_arbitrage_profit", sigma_block, fee)
    return value / 4.0 * sigma_block**2 / (2.0 + NEZLOBIN_TASSY_CONSTANT * fee / sigma_block)
