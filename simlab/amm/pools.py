"""Pools: a constant-product pool (fee on input, kept in reserves as in Uniswap v2 or aside as in v3) and a
concentrated-liquidity position on a price range; exact swap maths in float64 and impermanent loss.

Conventions: token ``x`` is the risky asset, token ``y`` the numeraire; the pool price is ``y / x`` (y per x). A
fee ``f`` is charged on the input amount: ``(1 - f)`` of it trades against the curve. With ``accounting="aside"``
(Uniswap v3) the fee is kept apart and ``x * y`` is unchanged by a swap; with ``accounting="reserves"`` (Uniswap v2)
the whole input joins the reserves and ``x * y`` grows. In both, no trade is profitable against a reference price
``S`` while the pool price lies in the no-trade band ``[S (1 - f), S / (1 - f)]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from simlab.errors import ParameterError

Accounting = Literal["aside", "reserves"]
ACCOUNTINGS = ("aside", "reserves")


def check_fee(fee: float, owner: str, name: str = "fee") -> float:
    """Return ``fee`` as a float if it is a fraction in [0, 1); raise our error sentence otherwise."""
    if not isinstance(fee, (int, float)) or isinstance(fee, bool) or not 0.0 <= fee < 1.0:
        raise ParameterError(f"`{name}` of {owner} must be in [0, 1); got {fee!r}")
    return float(fee)


def _positive(value: float, name: str, owner: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ParameterError(f"`{name}` of {owner} must be a finite number > 0; got {value!r}")
    return float(value)


@dataclass(frozen=True)
class SwapResult:
    """One swap: amount paid in (fee included), amount paid out, fee (in the input token) and the pool after."""

    amount_in: float
    amount_out: float
    fee_paid: float
    pool: ConstantProductPool | ConcentratedPosition


@dataclass(frozen=True)
class ConstantProductPool:
    """A constant-product pool ``x * y = k`` with a fee on input.

    Parameters
    ----------
    x, y
        Reserves of the risky token and of the numeraire (> 0).
    fee
        Fee fraction on the input, in [0, 1).
    accounting
        ``"aside"``: fees are kept apart (Uniswap v3); ``"reserves"``: fees join the reserves (Uniswap v2).
    """

    x: float
    y: float
    fee: float = 0.003
    accounting: Accounting = "aside"

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", _positive(self.x, "x", "ConstantProductPool"))
        object.__setattr__(self, "y", _positive(self.y, "y", "ConstantProductPool"))
        object.__setattr__(self, "fee", check_fee(self.fee, "ConstantProductPool"))
        if self.accounting not in ACCOUNTINGS:
            raise ParameterError(
                f"`accounting` of ConstantProductPool must be one of {ACCOUNTINGS}; got {self.accounting!r}"
            )

    @property
    def price(self) -> float:
        """Return the pool price ``y / x`` (numeraire per risky token)."""
        return self.y / self.x

    def value(self, price: float) -> float:
        """Return the reserves' value at ``price`` (numeraire), fees kept aside not included."""
        return self.x * price + self.y

    def swap(self, amount_in: float, token_in: Literal["x", "y"], fee: float | None = None) -> SwapResult:
        """Swap ``amount_in`` of ``token_in`` (fee included) for the other token; ``fee`` overrides the pool's."""
        amount_in = _positive(amount_in, "amount_in", "ConstantProductPool.swap")
        fee = self.fee if fee is None else check_fee(fee, "ConstantProductPool.swap")
        if token_in not in ("x", "y"):
            raise ParameterError(f"`token_in` of ConstantProductPool.swap must be 'x' or 'y'; got {token_in!r}")
        r_in, r_out = (self.x, self.y) if token_in == "x" else (self.y, self.x)
        effective = amount_in * (1.0 - fee)
        out = r_out * effective / (r_in + effective)
        new_in = r_in + (amount_in if self.accounting == "reserves" else effective)
        new_out = r_out - out
        x, y = (new_in, new_out) if token_in == "x" else (new_out, new_in)
        return SwapResult(amount_in, out, amount_in * fee, replace(self, x=x, y=y))

    def arbitrage(self, reference: float) -> SwapResult | None:
        """Return the profit-maximising swap against ``reference`` (numeraire per x), or None inside the band."""
        reference = _positive(reference, "reference", "ConstantProductPool.arbitrage")
        g = 1.0 - self.fee
        k = self.x * self.y
        if reference * g > self.price:  # buy x with y until the marginal cost P / (1 - f) equals the reference
            y_effective = math.sqrt(g * k * reference)  # y + (1 - f) dy after the trade
            return self.swap((y_effective - self.y) / g, "y")
        if reference < g * self.price:  # sell x until the marginal proceeds (1 - f) P equal the reference
            x_effective = math.sqrt(g * k / reference)
            return self.swap((x_effective - self.x) / g, "x")
        return None


@dataclass(frozen=True)
class ConcentratedPosition:
    """A concentrated-liquidity position: liquidity ``L`` on the price range ``[lower, upper]`` (Uniswap v3).

    Inside the range its real reserves are ``x = L (1/sqrt(P) - 1/sqrt(upper))`` and ``y = L (sqrt(P) -
    sqrt(lower))``: a constant-product curve on the virtual reserves ``L / sqrt(P)`` and ``L sqrt(P)``. Fees are
    kept aside. A swap that would cross an edge of the range stops at the edge (a partial fill).
    """

    liquidity: float
    lower: float
    upper: float
    price: float
    fee: float = 0.003

    def __post_init__(self) -> None:
        owner = "ConcentratedPosition"
        for name in ("liquidity", "lower", "upper", "price"):
            object.__setattr__(self, name, _positive(getattr(self, name), name, owner))
        if self.lower >= self.upper:
            raise ParameterError(f"`lower` of {owner} must be < `upper` ({self.upper!r}); got {self.lower!r}")
        if not self.lower <= self.price <= self.upper:
            raise ParameterError(f"`price` of {owner} must be in [{self.lower!r}, {self.upper!r}]; got {self.price!r}")
        object.__setattr__(self, "fee", check_fee(self.fee, owner))

    @property
    def reserves(self) -> tuple[float, float]:
        """Return the real reserves ``(x, y)`` of the position at its price."""
        root = math.sqrt(self.price)
        return (self.liquidity * (1.0 / root - 1.0 / math.sqrt(self.upper)),
                self.liquidity * (root - math.sqrt(self.lower)))  # fmt: skip

    def value(self, price: float) -> float:
        """Return the position's value at ``price`` (numeraire)."""
        x, y = self.reserves
        return x * price + y

    def swap(self, amount_in: float, token_in: Literal["x", "y"], fee: float | None = None) -> SwapResult:
        """Swap up to ``amount_in`` of ``token_in`` (fee included); a trade reaching a range edge fills partially."""
        amount_in = _positive(amount_in, "amount_in", "ConcentratedPosition.swap")
        fee = self.fee if fee is None else check_fee(fee, "ConcentratedPosition.swap")
        if token_in not in ("x", "y"):
            raise ParameterError(f"`token_in` of ConcentratedPosition.swap must be 'x' or 'y'; got {token_in!r}")
        liquidity, root = self.liquidity, math.sqrt(self.price)
        effective = amount_in * (1.0 - fee)
        edge_price = None  # set when the swap stops at an edge: the price is then the edge itself, not its root squared
        if token_in == "y":  # sqrt(P) rises by dy / L
            new_root, edge = root + effective / liquidity, math.sqrt(self.upper)
            if new_root > edge:
                new_root, effective, edge_price = edge, (edge - root) * liquidity, self.upper
            out = effective / (root * new_root)  # = L (1/sqrt(P) - 1/sqrt(P')), without cancellation
        else:  # 1/sqrt(P) rises by dx / L
            new_root, edge = liquidity * root / (liquidity + effective * root), math.sqrt(self.lower)
            if new_root < edge:
                new_root, effective, edge_price = edge, liquidity * (1.0 / edge - 1.0 / root), self.lower
            out = effective * root * new_root  # = L (sqrt(P) - sqrt(P')), without cancellation
        used = effective / (1.0 - fee)
        price = new_root * new_root if edge_price is None else edge_price
        price = min(max(price, self.lower), self.upper)  # a root within an ulp of an edge may square past it
        return SwapResult(used, out, used - effective, replace(self, price=price))

    def arbitrage(self, reference: float) -> SwapResult | None:
        """Return the profit-maximising swap against ``reference``, stopping at the range's edges, or None."""
        reference = _positive(reference, "reference", "ConcentratedPosition.arbitrage")
        g = 1.0 - self.fee
        if reference * g > self.price and self.price < self.upper:
            target = min(reference * g, self.upper)
            return self.swap(self.liquidity * (math.sqrt(target) - math.sqrt(self.price)) / g, "y")
        if reference < g * self.price and self.price > self.lower:
            target = max(reference / g, self.lower)
            return self.swap(self.liquidity * (1.0 / math.sqrt(target) - 1.0 / math.sqrt(self.price)) / g, "x")
        return None


def impermanent_loss(price_ratio: float) -> float:
    """Return the constant-product pool's value relative to holding, minus one: ``2 sqrt(r) / (1 + r) - 1``.

    Parameters
    ----------
    price_ratio
        The reference price at the end over the price at the start (> 0).
    """
    r = _positive(price_ratio, "price_ratio", "impermanent_loss")
    return 2.0 * math.sqrt(r) / (1.0 + r) - 1.0
