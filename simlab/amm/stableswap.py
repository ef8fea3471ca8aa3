"""A StableSwap (Curve) pool of ``n`` coins: the invariant solved by Newton's method as Curve's contracts do
(``get_D``, ``get_y``), exact swaps both ways, marginal prices and the arbitrageur's optimal trade, in float64.

The invariant (Egorov 2019, in the contracts' form) with ``Ann = A * n``::

    Ann * sum(x) + D = Ann * D + D**(n + 1) / (n**n * prod(x))

``A`` is the amplification the contracts store and curve.fi shows (the whitepaper's ``A`` times ``n**(n - 1)``).
``A -> 0`` tends to the constant product ``prod(x) = (D / n)**n``, ``A -> inf`` to the constant sum ``sum(x) = D``.
A swap's fee is charged on the output and stays in the pool (Curve's ``exchange`` with no admin fee), so ``D``
grows with every swap that pays a fee. Balances are in coin units, each coin worth about 1 numeraire at the peg.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numba
import numpy as np

from simlab.errors import ParameterError

MAX_ITERATIONS = 255
TOLERANCE = 1e-14


@numba.njit(cache=True)
def get_d(xp, amp):
    """Return the invariant ``D`` of balances ``xp`` (Curve's Newton iteration; NaN if it does not converge). Newton's
    steps shrink until rounding: a step no smaller than the last one (e.g. a two-cycle of a few ulps in a very
    imbalanced pool) ends it too."""
    n = xp.shape[0]
    s = 0.0
    for x in xp:
        s += x
    d, ann, step = s, amp * n, math.inf
    for _ in range(MAX_ITERATIONS):
        d_p = d
        for x in xp:
            d_p = d_p * d / (x * n)
        d_prev = d
        d = (ann * s + d_p * n) * d / ((ann - 1.0) * d + (n + 1.0) * d_p)
        if abs(d - d_prev) <= TOLERANCE * d or abs(d - d_prev) >= step:  # converged, or at rounding's floor
            return d
        step = abs(d - d_prev)
    return math.nan


@numba.njit(cache=True)
def get_y(i, j, x, xp, amp, d):
    """Return the balance of coin ``j`` that keeps ``D`` when coin ``i`` holds ``x`` (Curve's ``get_y``)."""
    n = xp.shape[0]
    ann = amp * n
    c, s = d, 0.0
    for k in range(n):
        if k == j:
            continue
        xk = x if k == i else xp[k]
        s += xk
        c = c * d / (xk * n)
    c = c * d / (ann * n)
    b = s + d / ann
    y, step = d, math.inf
    for _ in range(MAX_ITERATIONS):
        y_prev = y
        y = (y * y + c) / (2.0 * y + b - d)
        if abs(y - y_prev) <= TOLERANCE * y or abs(y - y_prev) >= step:  # converged, or at rounding's floor
            return y
        step = abs(y - y_prev)
    return math.nan


@numba.njit(cache=True)
def marginal_price(xp, amp, i, j):
    """Return the pool's marginal price of coin ``i`` in coin ``j`` before fees, ``-dx_j / dx_i`` along the
    invariant: ``(Ann + D_P / x_i) / (Ann + D_P / x_j)`` with ``D_P = D**(n + 1) / (n**n prod(x))``."""
    n = xp.shape[0]
    d = get_d(xp, amp)
    d_p = d
    for x in xp:
        d_p = d_p * d / (x * n)
    ann = amp * n
    return (ann + d_p / xp[i]) / (ann + d_p / xp[j])


@numba.njit(cache=True)
def swap_in(xp, amp, fee, i, j, dx):
    """Sell ``dx`` of coin ``i`` for coin ``j`` in place; return ``(dy, fee)``: what the trader receives and the
    fee (coin j) left in the pool."""
    d = get_d(xp, amp)
    y = get_y(i, j, xp[i] + dx, xp, amp, d)
    gross = xp[j] - y
    charged = gross * fee
    xp[i] += dx
    xp[j] -= gross - charged
    return gross - charged, charged


@numba.njit(cache=True)
def swap_out(xp, amp, fee, i, j, dy):
    """Buy exactly ``dy`` of coin ``j`` with coin ``i`` in place; return ``(dx, fee)`` (``dy`` must be below the
    pool's ``x_j * (1 - fee)``; NaN otherwise)."""
    gross = dy / (1.0 - fee)
    if gross >= xp[j]:
        return math.nan, math.nan
    d = get_d(xp, amp)
    x = get_y(j, i, xp[j] - gross, xp, amp, d)
    dx = x - xp[i]
    xp[i] = x
    xp[j] -= dy
    return dx, gross - dy


@numba.njit(cache=True)
def _edge(xp, amp, fee, i, j, dx, ratio):
    """Return ``(1 - fee) * price_ij - ratio`` after selling ``dx`` of i (no fee in the balances: the marginal
    rate of the next unit)."""
    trial = xp.copy()
    d = get_d(xp, amp)
    trial[j] = get_y(i, j, xp[i] + dx, xp, amp, d)
    trial[i] = xp[i] + dx
    return (1.0 - fee) * marginal_price(trial, amp, i, j) - ratio


@numba.njit(cache=True)
def arbitrage_size(xp, amp, fee, i, j, ratio, cap):
    """Return how much of coin ``i`` an arbitrageur sells for coin ``j`` when coin i is worth ``ratio`` coins j
    outside: up to where the pool's marginal rate after fee equals ``ratio`` (0 if it is already below), at most
    ``cap``. Bisection on the size, whose marginal rate falls monotonically."""
    if _edge(xp, amp, fee, i, j, 0.0, ratio) <= 0.0:
        return 0.0
    high = max(xp[i], 1e-12)
    while _edge(xp, amp, fee, i, j, high, ratio) > 0.0:
        if high >= cap:
            return cap
        high *= 2.0
    low = 0.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if middle <= low or middle >= high or low >= cap:
            break
        if _edge(xp, amp, fee, i, j, middle, ratio) > 0.0:
            low = middle
        else:
            high = middle
    return min(0.5 * (low + high), cap)


def _balances(balances: Sequence[float], owner: str) -> np.ndarray:
    xp = np.asarray(balances, dtype=np.float64)
    if xp.ndim != 1 or xp.shape[0] < 2 or not (np.isfinite(xp) & (xp > 0)).all():
        raise ParameterError(f"`balances` of {owner} must be at least two finite balances > 0; got {xp.tolist()}")
    return xp


def check_amplification(amplification: float, owner: str) -> float:
    """Return ``amplification`` as a float if it is finite and > 0; raise our error sentence otherwise."""
    ok = isinstance(amplification, (int, float)) and not isinstance(amplification, bool)
    if not (ok and math.isfinite(amplification) and amplification > 0):
        raise ParameterError(f"`amplification` of {owner} must be a finite number > 0; got {amplification!r}")
    return float(amplification)


@dataclass(frozen=True)
class StableSwapPool:
    """A StableSwap pool: ``balances`` (coin units), ``amplification`` (Curve's ``A``) and ``fee`` (on output).

    Methods return new pools; the numba kernels of this module do the work.
    """

    balances: tuple[float, ...]
    amplification: float = 2000.0
    fee: float = 0.0001

    def __post_init__(self) -> None:
        object.__setattr__(self, "balances", tuple(_balances(self.balances, "StableSwapPool").tolist()))
        object.__setattr__(self, "amplification", check_amplification(self.amplification, "StableSwapPool"))
        if not isinstance(self.fee, (int, float)) or isinstance(self.fee, bool) or not 0.0 <= self.fee < 1.0:
            raise ParameterError(f"`fee` of StableSwapPool must be in [0, 1); got {self.fee!r}")

    @property
    def n(self) -> int:
        """Return the number of coins."""
        return len(self.balances)

    @property
    def shares(self) -> np.ndarray:
        """Return each coin's share of the pool's balances (face value)."""
        xp = np.asarray(self.balances)
        return xp / xp.sum()

    def invariant(self) -> float:
        """Return ``D``."""
        return float(get_d(np.asarray(self.balances), self.amplification))

    def price(self, i: int, j: int) -> float:
        """Return the marginal price of coin ``i`` in coin ``j`` (before fee)."""
        self._pair(i, j)
        return float(marginal_price(np.asarray(self.balances), self.amplification, i, j))

    def swap(self, i: int, j: int, dx: float) -> tuple[float, StableSwapPool]:
        """Sell exactly ``dx`` of coin ``i`` for coin ``j``; return what the trader receives and the pool after."""
        self._pair(i, j)
        self._amount(dx, "dx")
        xp = np.array(self.balances)
        dy, _ = swap_in(xp, self.amplification, self.fee, i, j, float(dx))
        return float(dy), replace(self, balances=tuple(xp.tolist()))

    def swap_for(self, i: int, j: int, dy: float) -> tuple[float, StableSwapPool]:
        """Buy exactly ``dy`` of coin ``j`` with coin ``i``; return what the trader pays and the pool after."""
        self._pair(i, j)
        self._amount(dy, "dy")
        if dy >= self.balances[j] * (1.0 - self.fee):
            raise ParameterError(f"`dy` of StableSwapPool.swap_for must be below coin {j}'s balance after fee "
                                 f"({self.balances[j] * (1.0 - self.fee)}); got {dy!r}")  # fmt: skip
        xp = np.array(self.balances)
        dx, _ = swap_out(xp, self.amplification, self.fee, i, j, float(dy))
        return float(dx), replace(self, balances=tuple(xp.tolist()))

    def _pair(self, i: int, j: int) -> None:
        if not (0 <= i < self.n and 0 <= j < self.n and i != j):
            raise ParameterError(f"coins `i`, `j` of StableSwapPool must be two different indices in [0, {self.n}); "
                                 f"got {i!r}, {j!r}")  # fmt: skip

    @staticmethod
    def _amount(value: float, name: str) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise ParameterError(f"`{name}` of a StableSwapPool swap must be a finite number > 0; got {value!r}")
