"""A registry of named, typed, pure fee rules ``f(pool state, trade direction, chain state)``.

Every rule is a frozen dataclass whose fields are its parameters (fractions, seconds, annualised volatilities).
A rule keeps a small state vector (EWMAs, accumulators) that it updates once per block from a
:class:`BlockObservation` (``on_block``), and returns the fee of each direction from that state, the pool's
(virtual) reserves and the oracle price (``fees``): ``(buy, sell)`` where *buy* is a trade that takes token x out
of the pool (pays y in) and *sell* one that pays x in. These Python methods are the obvious reference; the
engine runs the same formulas in numba (``simlab.amm._kernels``), tested equal.

Build a rule by name with :func:`make_fee` (``make_fee("static", fee=0.003)``); :func:`fee_names` lists them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from simlab.errors import ParameterError

SECONDS_PER_YEAR = 365.0 * 86400.0
STATE_SIZE = 4
N_PARAMS = 8
REGISTRY: dict[str, type[FeeRule]] = {}


@dataclass(frozen=True)
class BlockObservation:
    """What a fee rule sees at the start of a block.

    Attributes
    ----------
    time, dt
        Block time and time since the previous block (s).
    pool_price
        Pool price (y per x) at the start of the block.
    pool_return
        Log change of the pool price over the previous block (start to start; 0 in the first block).
    oracle_return
        Log change of the oracle (reference) price since the previous block.
    imbalance
        Signed order-flow imbalance of the previous block, (buy - sell) / (buy + sell) in numeraire (0 if none).
    """

    time: float
    dt: float
    pool_price: float
    pool_return: float
    oracle_return: float
    imbalance: float


# bounds of each parameter kind: (low, high, low_open, high_open, text)
_KINDS = {
    "fee": (0.0, 1.0, False, True, "[0, 1)"),
    "nonnegative": (0.0, math.inf, False, True, "[0, inf)"),
    "positive": (0.0, math.inf, True, True, "(0, inf)"),
    "unit": (0.0, 1.0, False, False, "[0, 1]"),
}


@dataclass(frozen=True)
class FeeRule:
    """Base class of the fee rules: validation, the parameter vector and the registry."""

    name: ClassVar[str] = ""
    kind: ClassVar[int] = -1
    bounds: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind = len(REGISTRY)
        REGISTRY[cls.name] = cls

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            low, high, low_open, high_open, text = _KINDS[self.bounds[item.name]]
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
            ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
            if not ok:
                raise ParameterError(f"`{item.name}` of fee design {self.name} must be in {text}; got {value!r}")
            object.__setattr__(self, item.name, float(value))
        self._check()

    def _check(self) -> None:
        """Check relations between parameters (override)."""

    @property
    def label(self) -> str:
        """Return ``name(p=v, ...)``, the design's label in results."""
        return f"{self.name}(" + ", ".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self)) + ")"

    @property
    def short_label(self) -> str:
        """Return ``name(p=v, ...)`` with only the parameters that differ from their defaults."""
        changed = [f for f in fields(self) if getattr(self, f.name) != f.default]
        return f"{self.name}(" + ", ".join(f"{f.name}={getattr(self, f.name):g}" for f in changed) + ")"

    def vector(self) -> np.ndarray:
        """Return the parameters as the engine's float64 vector (field order, zero-padded)."""
        out = np.zeros(N_PARAMS)
        values = [getattr(self, f.name) for f in fields(self)]
        out[: len(values)] = values
        return out

    def initial_state(self, pool_price: float, x: float, time: float) -> list[float]:
        """Return the rule's state at the start (pool price, virtual reserve x, start time in s)."""
        return [0.0] * STATE_SIZE

    def on_block(self, state: list[float], block: BlockObservation) -> list[float]:
        """Return the state after the start of a block (pure: ``state`` is not changed)."""
        return list(state)

    def fees(self, state: list[float], x: float, y: float, oracle: float) -> tuple[float, float]:
        """Return the fees ``(buy, sell)`` of a trade now (virtual reserves x, y; oracle price)."""
        raise NotImplementedError


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _ewma_variance(variance: float, log_return: float, dt: float, halflife: float) -> float:
    """Update a variance rate (per second) with one return over ``dt`` s; weight 1 - 2**(-dt / halflife)."""
    weight = 1.0 - 2.0 ** (-dt / halflife)
    return (1.0 - weight) * variance + weight * log_return * log_return / dt


@dataclass(frozen=True)
class Static(FeeRule):
    """Static fee, the same in both directions.

    Source: Uniswap v2 (0.30%) and the Uniswap v3 tiers (0.01%, 0.05%, 0.30%, 1%).
    Parameters: ``fee`` (fraction).
    """

    name: ClassVar[str] = "static"
    bounds: ClassVar[dict[str, str]] = {"fee": "fee"}
    fee: float = 0.003

    def fees(self, state, x, y, oracle):
        return self.fee, self.fee


@dataclass(frozen=True)
class VolatilityTiers(FeeRule):
    """Three fee tiers chosen by an EWMA of the pool's block returns (annualised volatility).

    Source: the Uniswap v4 volatility-fee hook (dynamic-fee hooks, v4-periphery examples).
    Parameters: ``low_fee``, ``mid_fee``, ``high_fee`` (fractions); ``low_volatility``, ``high_volatility``
    (annualised thresholds between the tiers); ``halflife_s`` of the EWMA; ``initial_volatility`` (annualised).
    State: [variance rate per second].
    """

    name: ClassVar[str] = "volatility_tiers"
    bounds: ClassVar[dict[str, str]] = dict(
        low_fee="fee", mid_fee="fee", high_fee="fee", low_volatility="nonnegative", high_volatility="nonnegative",
        halflife_s="positive", initial_volatility="nonnegative",
    )  # fmt: skip
    low_fee: float = 0.0005
    mid_fee: float = 0.003
    high_fee: float = 0.01
    low_volatility: float = 0.4
    high_volatility: float = 1.0
    halflife_s: float = 600.0
    initial_volatility: float = 0.5

    def _check(self) -> None:
        if self.low_volatility > self.high_volatility:
            raise ParameterError(
                f"`low_volatility` of fee design {self.name} must be <= `high_volatility` "
                f"({self.high_volatility}); got {self.low_volatility}"
            )

    def initial_state(self, pool_price, x, time):
        return [self.initial_volatility**2 / SECONDS_PER_YEAR, 0.0, 0.0, 0.0]

    def on_block(self, state, block):
        return [_ewma_variance(state[0], block.pool_return, block.dt, self.halflife_s), 0.0, 0.0, 0.0]

    def fees(self, state, x, y, oracle):
        vol = math.sqrt(state[0] * SECONDS_PER_YEAR)
        fee = (
            self.low_fee if vol < self.low_volatility else self.mid_fee if vol < self.high_volatility else self.high_fee
        )
        return fee, fee


@dataclass(frozen=True)
class VolatilityLinear(FeeRule):
    """Fee linear in an EWMA of the pool's block returns: ``min(base + slope * vol, max_fee)``.

    Source: volatility-proportional dynamic fees (e.g. Uniswap v4 dynamic-fee hooks; Milionis et al. 2023 on
    fees scaling with volatility). Parameters: ``base_fee``, ``slope`` (fee per unit of annualised volatility),
    ``halflife_s``, ``max_fee``, ``initial_volatility``. State: [variance rate per second].
    """

    name: ClassVar[str] = "volatility_linear"
    bounds: ClassVar[dict[str, str]] = dict(
        base_fee="fee", slope="nonnegative", halflife_s="positive", max_fee="fee", initial_volatility="nonnegative"
    )
    base_fee: float = 0.0005
    slope: float = 0.004
    halflife_s: float = 600.0
    max_fee: float = 0.05
    initial_volatility: float = 0.5

    def initial_state(self, pool_price, x, time):
        return [self.initial_volatility**2 / SECONDS_PER_YEAR, 0.0, 0.0, 0.0]

    def on_block(self, state, block):
        return [_ewma_variance(state[0], block.pool_return, block.dt, self.halflife_s), 0.0, 0.0, 0.0]

    def fees(self, state, x, y, oracle):
        fee = min(self.base_fee + self.slope * math.sqrt(state[0] * SECONDS_PER_YEAR), self.max_fee)
        return fee, fee


@dataclass(frozen=True)
class LiquidityBook(FeeRule):
    """Trader Joe Liquidity Book variable fee: ``base_fee + control * (v_a * bin_step)**2``, capped at ``max_fee``.

    Source: Trader Joe Liquidity Book whitepaper (2022), section "Surge pricing". The volatility accumulator
    ``v_a = v_r + |index_ref - index|`` counts bins of width ``bin_step`` crossed since the reference; after
    ``filter_period_s`` without an update the reference moves to the active bin and ``v_r = reduction * v_a``,
    after ``decay_period_s`` ``v_r = 0``. Here it is updated at the start of each block (the book updates it at
    each swap). Parameters: ``base_fee``, ``control`` (A), ``bin_step``, ``filter_period_s``, ``decay_period_s``,
    ``reduction``, ``max_accumulator`` (bins), ``max_fee``. State: [v_r, index_ref, reference time, v_a].
    """

    name: ClassVar[str] = "liquidity_book"
    bounds: ClassVar[dict[str, str]] = dict(
        base_fee="fee", control="nonnegative", bin_step="positive", filter_period_s="nonnegative",
        decay_period_s="nonnegative", reduction="unit", max_accumulator="nonnegative", max_fee="fee",
    )  # fmt: skip
    base_fee: float = 0.002
    control: float = 2.0
    bin_step: float = 0.0025
    filter_period_s: float = 30.0
    decay_period_s: float = 600.0
    reduction: float = 0.5
    max_accumulator: float = 350.0
    max_fee: float = 0.05

    def _index(self, price: float) -> float:
        return math.floor(math.log(price) / math.log1p(self.bin_step))

    def initial_state(self, pool_price, x, time):
        return [0.0, self._index(pool_price), time, 0.0]

    def on_block(self, state, block):
        v_r, index_ref, t_ref, _ = state
        index = self._index(block.pool_price)
        elapsed = block.time - t_ref
        if elapsed >= self.filter_period_s:
            index_ref, t_ref = index, block.time
            v_r = self.reduction * state[3] if elapsed < self.decay_period_s else 0.0
        return [v_r, index_ref, t_ref, min(v_r + abs(index_ref - index), self.max_accumulator)]

    def fees(self, state, x, y, oracle):
        fee = min(self.base_fee + self.control * (state[3] * self.bin_step) ** 2, self.max_fee)
        return fee, fee


@dataclass(frozen=True)
class CurveV2(FeeRule):
    """Curve v2 (cryptoswap) fee: ``g * mid_fee + (1 - g) * out_fee``, ``g = fee_gamma / (fee_gamma + 1 - K)``.

    Source: Curve v2 whitepaper (Egorov 2021), ``_fee``: ``K = 4 a b / (a + b)**2`` measures the balance of the
    pool's holdings valued at the price scale (``a = x * price_scale``, ``b = y``; 1 when balanced). The price scale
    is an EMA of the pool price with half-life ``ma_halftime_s``. Parameters: ``mid_fee``, ``out_fee``,
    ``fee_gamma``, ``ma_halftime_s``. State: [price scale].
    """

    name: ClassVar[str] = "curve_v2"
    bounds: ClassVar[dict[str, str]] = dict(
        mid_fee="fee", out_fee="fee", fee_gamma="positive", ma_halftime_s="positive"
    )
    mid_fee: float = 0.0026
    out_fee: float = 0.0045
    fee_gamma: float = 0.00023
    ma_halftime_s: float = 600.0

    def initial_state(self, pool_price, x, time):
        return [pool_price, 0.0, 0.0, 0.0]

    def on_block(self, state, block):
        weight = 1.0 - 2.0 ** (-block.dt / self.ma_halftime_s)
        return [state[0] + weight * (block.pool_price - state[0]), 0.0, 0.0, 0.0]

    def fees(self, state, x, y, oracle):
        a, b = x * state[0], y
        balance = 4.0 * a * b / ((a + b) * (a + b))
        g = self.fee_gamma / (self.fee_gamma + 1.0 - balance)
        fee = g * self.mid_fee + (1.0 - g) * self.out_fee
        return fee, fee


@dataclass(frozen=True)
class NezlobinDirectional(FeeRule):
    """Nezlobin's directional fee: after the pool price moved by ``d`` (log) over the previous block, buys pay
    ``base_fee + sensitivity * d`` and sells ``base_fee - sensitivity * d``, each clipped to [min_fee, max_fee].

    Source: A. Nezlobin, "Ethereum block times, MEV, and LP returns" / directional fees proposal (2023).
    Parameters: ``base_fee``, ``sensitivity``, ``min_fee``, ``max_fee``. State: [last block's log move].
    """

    name: ClassVar[str] = "nezlobin_directional"
    bounds: ClassVar[dict[str, str]] = dict(base_fee="fee", sensitivity="nonnegative", min_fee="fee", max_fee="fee")
    base_fee: float = 0.003
    sensitivity: float = 0.75
    min_fee: float = 0.0001
    max_fee: float = 0.02

    def on_block(self, state, block):
        return [block.pool_return, 0.0, 0.0, 0.0]

    def fees(self, state, x, y, oracle):
        shift = self.sensitivity * state[0]
        return (_clip(self.base_fee + shift, self.min_fee, self.max_fee),
                _clip(self.base_fee - shift, self.min_fee, self.max_fee))  # fmt: skip


@dataclass(frozen=True)
class InventoryLinear(FeeRule):
    """Inventory-linear fee: with ``q = x / x_0 - 1`` (virtual reserve x against its start), buys pay
    ``base_fee - slope * q`` and sells ``base_fee + slope * q``, clipped to [min_fee, max_fee]; trades that
    deplete the scarcer reserve pay more.

    Source: Baggiani, Herdegen and Sánchez-Betancourt, "Optimal dynamic fees in automated market makers" (2025),
    whose optimal fees are approximately linear in the inventory. Parameters: ``base_fee``, ``slope``,
    ``min_fee``, ``max_fee``. State: [x_0].
    """

    name: ClassVar[str] = "inventory_linear"
    bounds: ClassVar[dict[str, str]] = dict(base_fee="fee", slope="nonnegative", min_fee="fee", max_fee="fee")
    base_fee: float = 0.003
    slope: float = 0.05
    min_fee: float = 0.0001
    max_fee: float = 0.02

    def initial_state(self, pool_price, x, time):
        return [x, 0.0, 0.0, 0.0]

    def fees(self, state, x, y, oracle):
        q = x / state[0] - 1.0
        return (_clip(self.base_fee - self.slope * q, self.min_fee, self.max_fee),
                _clip(self.base_fee + self.slope * q, self.min_fee, self.max_fee))  # fmt: skip


@dataclass(frozen=True)
class Toxicity(FeeRule):
    """Order-flow-toxicity fee: ``base_fee + imbalance_weight * max(+-ofi, 0) + volatility_weight * vol``,
    capped at ``max_fee``; ``ofi`` is an EWMA of the blocks' signed order-flow imbalance (a buy pays the
    positive part, a sell the negative part) and ``vol`` an EWMA of the pool's annualised volatility.

    Source: order-flow toxicity (VPIN, Easley, López de Prado and O'Hara 2012) applied to AMM fees.
    Parameters: ``base_fee``, ``imbalance_weight``, ``volatility_weight``, ``halflife_s``, ``max_fee``,
    ``initial_volatility``. State: [ofi, variance rate per second].
    """

    name: ClassVar[str] = "toxicity"
    bounds: ClassVar[dict[str, str]] = dict(
        base_fee="fee", imbalance_weight="nonnegative", volatility_weight="nonnegative", halflife_s="positive",
        max_fee="fee", initial_volatility="nonnegative",
    )  # fmt: skip
    base_fee: float = 0.002
    imbalance_weight: float = 0.003
    volatility_weight: float = 0.002
    halflife_s: float = 300.0
    max_fee: float = 0.03
    initial_volatility: float = 0.5

    def initial_state(self, pool_price, x, time):
        return [0.0, self.initial_volatility**2 / SECONDS_PER_YEAR, 0.0, 0.0]

    def on_block(self, state, block):
        weight = 1.0 - 2.0 ** (-block.dt / self.halflife_s)
        ofi = state[0] + weight * (block.imbalance - state[0])
        return [ofi, _ewma_variance(state[1], block.pool_return, block.dt, self.halflife_s), 0.0, 0.0]

    def fees(self, state, x, y, oracle):
        common = self.base_fee + self.volatility_weight * math.sqrt(state[1] * SECONDS_PER_YEAR)
        return (min(common + self.imbalance_weight * max(state[0], 0.0), self.max_fee),
                min(common + self.imbalance_weight * max(-state[0], 0.0), self.max_fee))  # fmt: skip


@dataclass(frozen=True)
class OracleGap(FeeRule):
    """Oracle-gap surcharge: with ``gap = log(oracle / pool price)``, buys pay ``base_fee + coefficient *
    max(gap, 0)`` and sells ``base_fee + coefficient * max(-gap, 0)``, capped at ``max_fee``: a trade towards the
    oracle pays part of the gap it closes.

    Source: oracle-informed dynamic fees (e.g. Ambient/CrocSwap and v4 oracle hooks; "Am-AMM" discussions).
    Parameters: ``base_fee``, ``coefficient`` (< 1), ``max_fee``. Stateless.
    """

    name: ClassVar[str] = "oracle_gap"
    bounds: ClassVar[dict[str, str]] = dict(base_fee="fee", coefficient="fee", max_fee="fee")
    base_fee: float = 0.0005
    coefficient: float = 0.5
    max_fee: float = 0.05

    def fees(self, state, x, y, oracle):
        gap = math.log(oracle * x / y)
        return (min(self.base_fee + self.coefficient * max(gap, 0.0), self.max_fee),
                min(self.base_fee + self.coefficient * max(-gap, 0.0), self.max_fee))  # fmt: skip


@dataclass(frozen=True)
class Surge(FeeRule):
    """Decaying surge fee: a block whose oracle log return exceeds ``threshold`` in size sets a surcharge of
    ``surge`` that then halves every ``halflife_s``; the fee is ``base_fee + surcharge`` (capped below 1).

    Source: surge-pricing hooks (e.g. Balancer v3 StableSurge, Uniswap v4 surge-fee examples).
    Parameters: ``base_fee``, ``surge``, ``threshold`` (log return), ``halflife_s``. State: [surcharge].
    """

    name: ClassVar[str] = "surge"
    bounds: ClassVar[dict[str, str]] = dict(base_fee="fee", surge="fee", threshold="nonnegative", halflife_s="positive")
    base_fee: float = 0.003
    surge: float = 0.01
    threshold: float = 0.005
    halflife_s: float = 120.0

    def _check(self) -> None:
        if self.base_fee + self.surge >= 1.0:
            raise ParameterError(
                f"`surge` of fee design {self.name} must keep base_fee + surge < 1; got {self.base_fee} + {self.surge}"
            )

    def on_block(self, state, block):
        level = state[0] * 2.0 ** (-block.dt / self.halflife_s)
        return [self.surge if abs(block.oracle_return) > self.threshold else level, 0.0, 0.0, 0.0]

    def fees(self, state, x, y, oracle):
        return self.base_fee + state[0], self.base_fee + state[0]


def fee_names() -> list[str]:
    """Return the names of the registered fee designs."""
    return list(REGISTRY)


def make_fee(name: str, **params: float) -> FeeRule:
    """Build the fee design ``name`` with ``params`` (the others take their defaults).

    Unknown names or parameters raise :class:`~simlab.errors.ParameterError` listing the valid ones.
    """
    if name not in REGISTRY:
        raise ParameterError(f"fee design {name!r} is unknown; the valid designs are {', '.join(REGISTRY)}")
    cls = REGISTRY[name]
    valid = [f.name for f in fields(cls)]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ParameterError(
            f"fee design {name} has no parameter {', '.join(map(repr, unknown))}; its parameters are {', '.join(valid)}"
        )
    return cls(**params)


def as_fee(design: FeeRule | str | tuple[str, dict[str, float]] | dict[str, Any]) -> FeeRule:
    """Return ``design`` as a rule: a rule, a name, a ``(name, params)`` pair or ``{"name": ..., **params}``."""
    if isinstance(design, FeeRule):
        return design
    if isinstance(design, str):
        return make_fee(design)
    if isinstance(design, tuple) and len(design) == 2:
        return make_fee(design[0], **design[1])
    if isinstance(design, dict) and "name" in design:
        params = {k: v for k, v in design.items() if k != "name"}
        return make_fee(design["name"], **params)
    raise ParameterError(f"a fee design must be a FeeRule, a name, (name, params) or {{'name': ...}}; got {design!r}")
