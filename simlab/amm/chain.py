"""The chain: block-time laws (fixed, Poisson, fixed slots with missed proposals) and gas (EIP-1559 base fee plus a
priority fee), sampled per path with one seeded generator."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from simlab.errors import ParameterError

BLOCK_LAWS = ("fixed", "poisson", "missed_slots")
BASE_FEE_MAX_CHANGE = 8.0
"""EIP-1559: the base fee moves by at most 1/8 per block (``BASE_FEE_MAX_CHANGE_DENOMINATOR``)."""


def _number(value: object, name: str, owner: str, *, low: float, open_low: bool, high: float = math.inf) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and value < high
    if not ok:
        bound = f"> {low:g}" if open_low else f">= {low:g}"
        bound += f" and < {high:g}" if math.isfinite(high) else ""
        raise ParameterError(f"`{name}` of {owner} must be a finite number {bound}; got {value!r}")
    return float(value)


@dataclass(frozen=True)
class BlockTimes:
    """A block-time law.

    Parameters
    ----------
    law
        ``"fixed"`` (every ``mean_s``), ``"poisson"`` (exponential gaps of mean ``mean_s``) or ``"missed_slots"``
        (slots of ``mean_s`` whose proposer is missing with probability ``miss_probability``: a gap is a whole
        number of slots, geometric).
    mean_s
        Block time or slot length (s, > 0).
    miss_probability
        Probability that a slot has no block (``missed_slots`` only), in [0, 1).
    """

    law: Literal["fixed", "poisson", "missed_slots"] = "fixed"
    mean_s: float = 12.0
    miss_probability: float = 0.0

    def __post_init__(self) -> None:
        if self.law not in BLOCK_LAWS:
            raise ParameterError(f"`law` of BlockTimes must be one of {', '.join(BLOCK_LAWS)}; got {self.law!r}")
        object.__setattr__(self, "mean_s", _number(self.mean_s, "mean_s", "BlockTimes", low=0.0, open_low=True))
        probability = _number(self.miss_probability, "miss_probability", "BlockTimes", low=0.0, open_low=False, high=1)
        object.__setattr__(self, "miss_probability", probability)

    @property
    def expected_gap_s(self) -> float:
        """Return the expected time between blocks (s)."""
        if self.law == "missed_slots":
            return self.mean_s / (1.0 - self.miss_probability)
        return self.mean_s

    def sample(self, n_paths: int, n_blocks: int, rng: np.random.Generator) -> np.ndarray:
        """Return block times (s) of shape ``(n_paths, n_blocks + 1)``, starting at 0."""
        if self.law == "fixed":
            return np.broadcast_to(np.arange(n_blocks + 1) * self.mean_s, (n_paths, n_blocks + 1)).copy()
        if self.law == "poisson":
            gaps = rng.exponential(self.mean_s, size=(n_paths, n_blocks))
        else:
            gaps = self.mean_s * rng.geometric(1.0 - self.miss_probability, size=(n_paths, n_blocks))
        return np.concatenate((np.zeros((n_paths, 1)), np.cumsum(gaps, axis=1)), axis=1)


@dataclass(frozen=True)
class Gas:
    """Gas cost of one arbitrage transaction: ``gas_units * (base fee + priority fee)``, paid in the chain's
    native token, converted at ``native_price`` (numeraire per native token).

    The base fee follows EIP-1559: ``b' = b (1 + (used / target - 1) / 8)``, with each block's gas used over its
    target drawn as ``2 * Beta(utilisation_concentration, utilisation_concentration)`` (mean 1, in [0, 2]).

    Parameters
    ----------
    gas_units
        Gas used by one arbitrage (0 switches gas off).
    base_fee_gwei
        The base fee at the start (gwei).
    priority_fee_gwei
        The priority fee (tip) per gas (gwei).
    native_price
        Numeraire per native token (e.g. USDC per ETH).
    utilisation_concentration
        Concentration of the Beta law of block utilisation (larger: blocks closer to the target).
    """

    gas_units: float = 0.0
    base_fee_gwei: float = 20.0
    priority_fee_gwei: float = 1.0
    native_price: float = 3000.0
    utilisation_concentration: float = 2.0

    def __post_init__(self) -> None:
        for name in ("gas_units", "base_fee_gwei", "priority_fee_gwei"):
            object.__setattr__(self, name, _number(getattr(self, name), name, "Gas", low=0.0, open_low=False))
        for name in ("native_price", "utilisation_concentration"):
            object.__setattr__(self, name, _number(getattr(self, name), name, "Gas", low=0.0, open_low=True))

    def sample(self, n_paths: int, n_blocks: int, rng: np.random.Generator) -> np.ndarray:
        """Return the cost of one arbitrage in each block (numeraire), shape ``(n_paths, n_blocks)``."""
        if self.gas_units == 0.0:
            return np.zeros((n_paths, n_blocks))
        a = self.utilisation_concentration
        used = 2.0 * rng.beta(a, a, size=(n_paths, n_blocks))
        base = base_fee_path(self.base_fee_gwei, used)
        return self.gas_units * (base + self.priority_fee_gwei) * 1e-9 * self.native_price


def base_fee_path(initial_gwei: float, used_over_target: np.ndarray) -> np.ndarray:
    """Return the EIP-1559 base fee of each block (gwei) given each block's gas used over its target.

    Parameters
    ----------
    initial_gwei
        Base fee of the first block.
    used_over_target
        Gas used / gas target of each block, in [0, 2]; shape ``(..., n_blocks)``. Block ``t``'s base fee
        depends on the blocks before it.

    Returns
    -------
    numpy.ndarray
        Base fee of each block, same shape; ``b[0] = initial_gwei``, ``b[t+1] = b[t] (1 + (u[t] - 1) / 8)``.
    """
    used = np.asarray(used_over_target, dtype=np.float64)
    if used.size and (np.nanmin(used) < 0 or np.nanmax(used) > 2 or np.isnan(used).any()):
        raise ParameterError(f"`used_over_target` of base_fee_path must be in [0, 2]; got values in "
                             f"[{np.nanmin(used)}, {np.nanmax(used)}]")  # fmt: skip
    initial = _number(initial_gwei, "initial_gwei", "base_fee_path", low=0.0, open_low=False)
    factors = 1.0 + (used[..., :-1] - 1.0) / BASE_FEE_MAX_CHANGE
    out = np.empty_like(used)
    out[..., :1] = initial
    np.cumprod(factors, axis=-1, out=out[..., 1:])
    out[..., 1:] *= initial
    return out
