"""The sandwich attack on a constant-product pool: the optimal front-run given the victim's slippage tolerance.

A victim buys x paying ``victim_in`` of y and accepts any output of at least ``(1 - slippage)`` times the quote
(the output on the pool as it stands). The attacker buys x with ``a`` of y first, lets the victim trade, then sells
all the x it bought; its profit (y) is ``back-run proceeds - a - gas``. The largest front-run the victim tolerates
has a closed form (a quadratic in ``a``); the profit is maximised on ``[0, a_max]`` at ``a_max`` or where its
derivative, computed exactly to rounding by forward-mode differentiation, vanishes (Brent's method). A victim
selling x is the mirror image (the pool with its tokens swapped; profit converted at the pool price).

For trades small against the pool, the profit is close to ``s (v - f x) P - gas`` (v: the victim's size in x at
the price before the attack, x: the pool's x reserve, P: that price, s: slippage, f: fee): the victim's slippage
``s v P`` minus the fees on the attacker's two trades of about ``s x / 2`` each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from scipy.optimize import brentq

from simlab.amm.pools import ConstantProductPool, check_fee
from simlab.errors import ParameterError


@dataclass(frozen=True)
class Sandwich:
    """The attack: front-run (y paid in), profit (numeraire, after gas), the victim's output and its minimum."""

    front_run: float
    profit: float
    victim_out: float
    victim_min_out: float

    @property
    def attacks(self) -> bool:
        """Return whether the attack is worth it (profit > 0)."""
        return self.profit > 0.0


class _Dual:
    """A number with its derivative (forward-mode differentiation) for + - * /."""

    __slots__ = ("d", "v")

    def __init__(self, v: float, d: float = 0.0) -> None:
        self.v, self.d = v, d

    @staticmethod
    def _of(other) -> _Dual:
        return other if isinstance(other, _Dual) else _Dual(other)

    def __add__(self, other):
        o = self._of(other)
        return _Dual(self.v + o.v, self.d + o.d)

    __radd__ = __add__

    def __sub__(self, other):
        o = self._of(other)
        return _Dual(self.v - o.v, self.d - o.d)

    def __rsub__(self, other):
        return self._of(other) - self

    def __mul__(self, other):
        o = self._of(other)
        return _Dual(self.v * o.v, self.d * o.v + self.v * o.d)

    __rmul__ = __mul__

    def __truediv__(self, other):
        o = self._of(other)
        return _Dual(self.v / o.v, (self.d * o.v - self.v * o.d) / (o.v * o.v))

    def __rtruediv__(self, other):
        return self._of(other) / self


def _swap(r_in, r_out, amount, fee, in_reserves):
    """Return (new r_in, new r_out, out): the constant-product swap on any number type (float, Dual, Fraction)."""
    effective = amount * (1 - fee)
    out = r_out * effective / (r_in + effective)
    return r_in + (amount if in_reserves else effective), r_out - out, out


def _attack(x, y, fee, in_reserves, front_run, victim_in, back_fee):
    """Return (attacker's y back minus front-run, victim's x out) on any number type."""
    y1, x1, bought = _swap(y, x, front_run, fee, in_reserves)
    y2, x2, victim_out = _swap(y1, x1, victim_in, fee, in_reserves)
    _, _, back = _swap(x2, y2, bought, back_fee, in_reserves)
    return back - front_run, victim_out


def _max_front_run(x: float, y: float, fee: float, in_reserves: bool, victim_in: float, min_out: float) -> float:
    """Return the largest front-run (y) after which the victim still gets ``min_out``: the root of a quadratic."""
    g, u = 1.0 - fee, (1.0 - fee) * victim_in
    if in_reserves:  # m (y + g a)(y + a + u) = x y u
        a2, a1, a0 = min_out * g, min_out * (g * (y + u) + y), min_out * y * (y + u) - x * y * u
        return 2.0 * -a0 / (a1 + math.sqrt(a1 * a1 - 4.0 * a2 * a0))
    # fees aside: m y1**2 + m u y1 - k u = 0 for y1 = y + g a (stable root form)
    k = x * y
    y1 = 2.0 * k * u / (min_out * u + math.sqrt((min_out * u) ** 2 + 4.0 * min_out * k * u))
    return max(y1 - y, 0.0) / g


def _check(pool: ConstantProductPool, victim_in: float, slippage: float, gas: float, side: str) -> None:
    if not isinstance(pool, ConstantProductPool):
        raise ParameterError(f"`pool` of the sandwich must be a ConstantProductPool; got {type(pool).__name__}")
    if not (math.isfinite(victim_in) and victim_in > 0):
        raise ParameterError(f"`victim_in` of the sandwich must be a finite number > 0; got {victim_in!r}")
    if not 0 < slippage < 1:
        raise ParameterError(f"`slippage` of the sandwich must be in (0, 1); got {slippage!r}")
    if not (math.isfinite(gas) and gas >= 0):
        raise ParameterError(f"`gas` of the sandwich must be a finite number >= 0; got {gas!r}")
    if side not in ("buy", "sell"):
        raise ParameterError(f"`side` of the sandwich must be 'buy' or 'sell'; got {side!r}")


def _oriented(pool: ConstantProductPool, side: str) -> tuple[float, float, float]:
    """Return (x, y, numeraire per unit of the attacker's profit token): a seller of x is a buyer in the mirror."""
    return (pool.x, pool.y, 1.0) if side == "buy" else (pool.y, pool.x, pool.price)


def optimal_sandwich(
    pool: ConstantProductPool, victim_in: float, slippage: float, *, gas: float = 0.0,
    side: Literal["buy", "sell"] = "buy", back_fee: float | None = None,
) -> Sandwich:  # fmt: skip
    """Return the attacker's optimal sandwich of a victim paying ``victim_in`` with tolerance ``slippage``.

    Parameters
    ----------
    pool
        The pool before the attack (its fee and accounting apply to all three trades).
    victim_in
        What the victim pays in: y when buying x (``side="buy"``), x when selling x.
    slippage
        The victim's tolerance: it accepts ``(1 - slippage) * quote`` or more, in (0, 1).
    gas
        The attacker's gas for both transactions (numeraire).
    side
        The victim's side.
    back_fee
        The fee of the back-run, which trades the other way (default: the pool's fee; directional designs differ).

    Returns
    -------
    Sandwich
        ``front_run`` in the token the victim pays, ``profit`` in numeraire (after gas; <= -gas means none).
    """
    _check(pool, victim_in, slippage, gas, side)
    back_fee = pool.fee if back_fee is None else check_fee(back_fee, "optimal_sandwich", "back_fee")
    x, y, unit = _oriented(pool, side)
    reserves = pool.accounting == "reserves"
    quote = _swap(y, x, victim_in, pool.fee, reserves)[2]
    min_out = (1.0 - slippage) * quote
    upper = _max_front_run(x, y, pool.fee, reserves, victim_in, min_out)

    def slope(a: float) -> float:
        return _attack(x, y, pool.fee, reserves, _Dual(a, 1.0), victim_in, back_fee)[0].d

    if upper <= 0.0 or slope(0.0) <= 0.0:
        best = 0.0
    elif slope(upper) >= 0.0:
        best = upper
    else:
        best = brentq(slope, 0.0, upper, xtol=1e-300, rtol=4 * 2.0**-52, maxiter=500)
    gain, victim_out = _attack(x, y, pool.fee, reserves, best, victim_in, back_fee)
    return Sandwich(best, gain * unit - gas, victim_out, min_out)


def brute_force_sandwich(
    pool: ConstantProductPool, victim_in: float, slippage: float, *, gas: float = 0.0,
    side: Literal["buy", "sell"] = "buy", rounds: int = 40,
) -> Sandwich:  # fmt: skip
    """Return the sandwich found by brute force in exact rational arithmetic (a reference for the solver).

    The largest tolerated front-run is found by bisection on the victim's exact output; the profit is then
    maximised by a grid of 1,001 points and ``rounds`` zooms of 16 points (each 8 times narrower), every profit
    evaluated exactly (fractions), so the search is limited by nothing but its grid.
    """
    _check(pool, victim_in, slippage, gas, side)
    x, y, unit = _oriented(pool, side)
    reserves = pool.accounting == "reserves"
    min_out = (1.0 - slippage) * _swap(y, x, victim_in, pool.fee, reserves)[2]
    X, Y, F, U, M = (Fraction(v) for v in (x, y, pool.fee, victim_in, min_out))

    def exact(a: Fraction) -> tuple[Fraction, Fraction]:
        return _attack(X, Y, F, reserves, a, U, F)

    low, high = Fraction(0), Y
    while exact(high)[1] >= M:  # the victim tolerates even this: double it
        high *= 2
    for _ in range(110):  # bisection on feasibility: victim_out(a) >= min_out
        middle = (low + high) / 2
        low, high = (middle, high) if exact(middle)[1] >= M else (low, middle)
    grid = [low * i / 1000 for i in range(1001)]
    best = max(grid, key=lambda a: float(exact(a)[0]))
    step = low / 1000
    for _ in range(rounds):
        candidates = [min(max(best + step * (i - 8) / 8, Fraction(0)), low) for i in range(17)]
        best = max(candidates, key=lambda a: exact(a)[0])
        step /= 8
    gain, victim_out = exact(best)
    return Sandwich(float(best), float(gain) * unit - gas, float(victim_out), min_out)


def approximate_profit(pool: ConstantProductPool, victim_in: float, slippage: float, *, gas: float = 0.0) -> float:
    """Return ``s (v - f x) P - gas``, the small-trade approximation of a buy victim's sandwich profit, with ``v =
    victim_in / P`` the victim's size in x at the pool price before the attack."""
    _check(pool, victim_in, slippage, gas, "buy")
    return slippage * (victim_in / pool.price - pool.fee * pool.x) * pool.price - gas
