"""Parameters of the agent-based market: frozen dataclasses, checked on construction, read from a nested mapping.

A market is one :class:`MarketConfig`: the session (open, length, tick), the fundamental (:class:`Fundamental`),
one table per agent class (:class:`NoiseAgents`, :class:`ValueAgents`, :class:`MarketMakers`,
:class:`MomentumAgents`), the latency model (:class:`Latency`) and an optional opening book
(:class:`InitialBook`). The defaults are ABIDES' ``rmsc04`` (abides-jpmc-public,
``abides_markets/configs/rmsc04.py``) converted to seconds and ticks (a tick is a cent there): see
``docs/agents.md`` for the table of conversions. :meth:`MarketConfig.from_dict` reads the TOML layout
(``[market]``, ``[fundamental]``, ``[latency]``, ``[initial_book]``, ``[agents.<class>]``, ``[shocks.<primitive>]``)
and rejects unknown tables and keys with a sentence that lists the valid ones. The shock primitives (issue 17:
:class:`NewsShock`, :class:`WithdrawalShock`, :class:`MarkShock`, :class:`PauseShock`, gathered in :class:`Shocks`)
must lie within the session and act through agents the market has.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from simlab.errors import DataError, ParameterError

VARIANCE_UPDATES = ("kalman", "abides")
LATENCY_MODELS = ("line", "fixed")
LATENT_ANCHORS = ("fundamental", "price")
FLOW_SOURCES = ("all", "others")  # whose aggressive orders a flow-learning value agent reads
# the trades of the last window a market maker's size counts (``MarketMakers.size_volume``)
SIZE_VOLUMES = ("all", "others", "not_between_makers")
SKEW_ROUNDINGS = ("toward_zero", "random")  # how the makers' imbalance skew with a prior is rounded to ticks
VOLUME_KERNELS = ("box", "exponential")  # how the makers weigh the trades behind their size and skew
TOUCH_SIZE_COMPONENTS = 11  # the ABIDES size mixture: a log-normal, then 100, 200, ..., 1000 lots
ABIDES_SIZE_LOG = (2.9, 1.2)  # the mixture's log-normal (mean, sd of log lots) in ABIDES, and our defaults
ACTIVITY_SD_MAX = 3.0  # the market's log-activity sd (larger: a multiplier beyond e^9 within 3 sd)
ACTIVITY_STEP_MIN_S = 1e-3  # the activity's grid step (smaller: over 2e7 cells in a 6.5-hour day)
ACTIVITY_COMPONENTS_MAX = 8  # log-OU components of a multi-timescale activity (a list of `activity_time_s`)
PROFILE_PARTS_MAX = 1440  # parts of an intraday profile (a minute each over a 24-hour session)


def _number(owner: str, name: str, value: Any, *, low: float | None = None, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParameterError(f"`{name}` of {owner} must be a finite number; got {value!r}")
    if low is not None and (value <= low if strict else value < low):
        raise ParameterError(f"`{name}` of {owner} must be {'>' if strict else '>='} {low}; got {value!r}")
    return float(value)


def _count(owner: str, name: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ParameterError(f"`{name}` of {owner} must be an int >= {low}; got {value!r}")
    if value >= 2**62:  # the engine keeps every count in int64 arrays, some of them summed or doubled
        raise ParameterError(
            f"`{name}` of {owner} must be an int below 2**62, as the engine keeps it in int64; got {value!r}"
        )
    return int(value)


def check_size_law_read(owner: str, prefix: str, weights: tuple, log_mean: float, log_sd: float, off: str) -> None:
    """Refuse a log-normal that would be ignored: without ``{prefix}size_weights`` the mixture's log-normal is not
    read, so ``{prefix}size_log_mean`` and ``{prefix}size_log_sd`` must keep their defaults (ABIDES' 2.9 and 1.2)."""
    if not weights and (log_mean, log_sd) != ABIDES_SIZE_LOG:
        raise ParameterError(
            f"`{prefix}size_log_mean` and `{prefix}size_log_sd` of {owner} are read only with `{prefix}size_weights` "
            f"(empty: {off}), so they must stay {ABIDES_SIZE_LOG[0]} and {ABIDES_SIZE_LOG[1]}; got {log_mean!r} and "
            f"{log_sd!r} with no weights"
        )


def size_weights(value: Any, name: str, owner: str) -> tuple[float, ...]:
    """Return the weights of an ABIDES size mixture as floats: empty (off) or 11 numbers >= 0 with a positive sum."""
    weights = tuple(value)
    if weights and (
        len(weights) != TOUCH_SIZE_COMPONENTS
        or any(isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0 for w in weights)
        or sum(weights) <= 0
    ):
        raise ParameterError(
            f"`{name}` of {owner} must be empty or {TOUCH_SIZE_COMPONENTS} weights >= 0 with a positive sum; got "
            f"{weights!r}"
        )
    return tuple(float(w) for w in weights)


def intraday_profile(owner: str, key: str, value: Any, *, positive: bool = False) -> tuple[float, ...]:
    """An intraday profile (``activity_profile`` of Fundamental, ``half_spread_profile`` of MarketMakers): a list of
    1 to ``PROFILE_PARTS_MAX`` finite numbers >= 0 (> 0 with ``positive``: an activity rate of 0 would stop business
    time, and a wait could never end), one per equal part of the session from the open, with a positive sum; empty:
    off. Returned as a tuple of floats."""
    parts = tuple(value) if isinstance(value, (list, tuple)) else None
    words = "> 0" if positive else ">= 0 with a positive sum"
    if (
        parts is None
        or len(parts) > PROFILE_PARTS_MAX
        or any(isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0 for w in parts)
        or (positive and 0 in parts)
        or (parts and sum(parts) <= 0)
    ):
        raise ParameterError(
            f"`{key}` of {owner} (one number per equal part of the session) must be a list of at most "
            f"{PROFILE_PARTS_MAX} finite numbers {words}, or empty (off); got {value!r}"
        )
    return tuple(float(w) for w in parts)


def _activity_times(value: Any) -> float | tuple[float, ...]:
    """``activity_time_s`` of Fundamental: a number > 0 (as a float), or a list of 1 to ``ACTIVITY_COMPONENTS_MAX``
    numbers > 0 (as a tuple of floats); anything else is refused with a sentence."""
    if not isinstance(value, (list, tuple)):
        return _number("Fundamental", "activity_time_s", value, low=0.0, strict=True)
    good = all(not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in value)
    if not good or not 1 <= len(value) <= ACTIVITY_COMPONENTS_MAX:
        raise ParameterError(
            f"`activity_time_s` of Fundamental (the activity's mean-reversion times) must be a number > 0 or a list of "
            f"1 to {ACTIVITY_COMPONENTS_MAX} numbers > 0; got {list(value)!r}"
        )
    return tuple(float(v) for v in value)


class _Checked:
    """Shared checks: every float field finite (and >= 0 unless listed), every int field an int >= its floor."""

    _positive: tuple[str, ...] = ()
    _signed: tuple[str, ...] = ()
    _int_floor: dict[str, int] = {}

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.type == "int":
                object.__setattr__(self, f.name, _count(owner, f.name, value, self._int_floor.get(f.name, 0)))
            elif f.type == "float":
                low = None if f.name in self._signed else 0.0
                strict = f.name in self._positive
                object.__setattr__(self, f.name, _number(owner, f.name, value, low=low, strict=strict))

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as a JSON-serialisable dict."""
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Fundamental(_Checked):
    """The Ornstein-Uhlenbeck fundamental with megashocks (ABIDES ``SparseMeanRevertingOracle``).

    ``dr = -mean_reversion (r - mean) dt + volatility dW``, plus megashocks at Poisson times of rate
    ``megashock_rate_per_s``, each of size ``+-N(megashock_mean_ticks, megashock_variance_ticks2)`` (sign even).

    The market's activity (ours; off while ``activity_sd`` is 0, docs/agents_realism_v8.md): the fundamental's OU
    and every agent's clock (the noise clock, the waits between wake-ups of value agents, market makers and momentum
    agents, and their first wake-ups) run in business time, whose rate per calendar second is ``exp(x -
    activity_sd^2 / 2)`` (mean 1, so a day keeps its expected variance and numbers of events), ``x`` a log-OU of
    stationary sd ``activity_sd`` and mean-reversion time ``activity_time_s``, constant on a grid of
    ``activity_step_s``, drawn at the set-up from its own stream by its exact transition. Latencies, the makers'
    cancel delay, jitter and volume window, execution schedules, megashocks and scheduled shocks keep calendar time.
    News (the fundamental's variance) and trading then come in bursts lasting about ``activity_time_s``, and with
    them the large price moves: Clark's
    subordination (1973, "A subordinated stochastic process model with finite variance for speculative prices",
    Econometrica 41: Gaussian in business time, fat-tailed in calendar time), with the log-normal stochastic
    volatility of Taylor (1986, "Modelling Financial Time Series") as the clock; Ane and Geman (2000, "Order flow,
    transaction clock, and normality of asset returns", J. Finance 55) find that clock in the number of trades.

    Several time scales (ours, docs/agents_realism_v8.md "Multi-timescale activity"): ``activity_time_s`` may be a
    list of 1 to ``ACTIVITY_COMPONENTS_MAX`` mean-reversion times; ``x`` is then the sum of that many independent
    log-OUs, one per time, each of stationary variance ``activity_sd^2 / K`` (the total sd stays ``activity_sd``, the
    rate's mean stays 1), each drawn in turn from the activity stream by its exact transition (a one-element list
    draws exactly as the number). The autocorrelation of ``x`` is the equally weighted mixture ``(1/K) sum_k
    exp(-lag / time_k)``; over log-spaced times it decays much more slowly than one exponential, approximating a
    power law over the span of the times: Barndorff-Nielsen and Shephard's superposition of OU processes (2001,
    "Non-Gaussian Ornstein-Uhlenbeck-based models and some of their uses in financial economics", JRSS B 63), and
    the log-normal, finite-K relative of Calvet and Fisher's multifractal cascade of volatility components with
    geometric time scales (2001, "Forecasting multifractal volatility", J. Econometrics 105; 2004, "How to forecast
    long-run volatility", J. Financial Econometrics 2).

    An intraday profile (ours; empty: off, docs/agents_intraday.md): ``activity_profile``, one weight per equal part
    of the session from the open, multiplies the rate of business time in each cell of the grid by the weight of the
    part the cell starts in over the weights' mean (with ``activity_sd`` 0, the rate is that ratio alone), so trading
    and news follow a deterministic intraday pattern, the U-shape of activity of Jain and Joh (1988, "The dependence
    between hourly prices and trading volume", J. Financial Quant. Analysis 23) and Admati and Pfleiderer (1988, "A
    theory of intraday patterns", Rev. Financial Studies 1); ``calibration.abm_intraday`` reads a day's shape. The
    weights are normalised to mean 1, so a day keeps its expected business time only where the parts are equal and
    the run covers the session.
    """

    mean_ticks: float = 100_000.0
    mean_reversion_per_s: float = 1.67e-7
    volatility_ticks_per_sqrt_s: float = 5e-5 * math.sqrt(1e9)
    megashock_rate_per_s: float = 2.77778e-9
    megashock_mean_ticks: float = 1000.0
    megashock_variance_ticks2: float = 50_000.0
    activity_sd: float = 0.0
    activity_time_s: float | tuple[float, ...] = 600.0
    activity_step_s: float = 1.0
    activity_profile: tuple[float, ...] = ()
    _positive = ("mean_ticks", "mean_reversion_per_s", "activity_step_s")

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "activity_time_s", _activity_times(self.activity_time_s))
        profile = intraday_profile("Fundamental", "activity_profile", self.activity_profile, positive=True)
        object.__setattr__(self, "activity_profile", profile)
        if self.activity_sd > ACTIVITY_SD_MAX:
            raise ParameterError(
                f"`activity_sd` of Fundamental (the sd of the log-activity) must be in [0, {ACTIVITY_SD_MAX}] (a rate "
                f"multiplier within e^+-{3 * ACTIVITY_SD_MAX:g} at 3 sd); got {self.activity_sd!r}"
            )
        if self.activity_step_s < ACTIVITY_STEP_MIN_S:
            raise ParameterError(
                f"`activity_step_s` of Fundamental (the activity's grid step) must be >= {ACTIVITY_STEP_MIN_S} s; got "
                f"{self.activity_step_s!r}"
            )


@dataclass(frozen=True)
class NoiseAgents(_Checked):
    """Noise agents: one marketable order each at a U-quadratic wake time (ABIDES ``NoiseAgent``).

    Wake times spread over ``[open + wake_start_s, close]`` (ABIDES: 30 min before the open); an agent that wakes
    before the open finds no book and does nothing.

    The noise clock (ours; off while ``arrival_rate_per_s`` is 0): instead, the class wakes at the events of a
    self-exciting (Hawkes) process of baseline ``arrival_rate_per_s``, branching ratio ``excitation`` in [0, 1) and
    exponential kernel of rate ``decay_per_s`` (Hawkes 1971; Bacry, Mastromatteo and Muzy 2015 for order flow);
    each event wakes one noise agent drawn uniformly, which sends an immediate-or-cancel limit order at the touch it
    saw (it trades there or better, the rest expires: it neither rests nor walks the book). Order splitting (ours,
    after Lillo, Mike and Farmer 2005; off while ``split_exponent`` is 0): each noise agent works a metaorder of
    ``L`` child orders, ``P(L >= l) = l^-split_exponent`` (capped at ``split_max_children``), one child per wake,
    its side a coin drawn at the metaorder's start; the trade-sign ACF then decays as ``lag^-(split_exponent - 1)``.
    ``size_weights`` (ours; empty: off, ABIDES' weights): the 11 weights of the ABIDES size mixture the orders'
    sizes are drawn from, with its log-normal of ``size_log_mean`` and ``size_log_sd`` (log lots), e.g. fitted to a
    day's marketable orders by :mod:`calibration.abm_sizes` (the same two draws per order). The noise walk (ours;
    off while ``walk_ticks`` is 0, docs/agents_sqrt2.md): the order's limit lies ``walk_ticks`` (rounded to whole
    ticks) beyond the touch the agent saw, so a large order takes several resting orders and price levels at one
    instant (the rest rests there, or expires with the clock): the price's volatility then comes from the order
    flow eating the latent book, not from re-pricing the latent orders (AMZN's marketable orders take 1.37 fills on
    average at 12:00-12:30; Bouchaud, Bonart, Donier and Gould 2018, "Trades, Quotes and Prices", ch. 10).
    """

    count: int = 1000
    wake_start_s: float = -1800.0
    arrival_rate_per_s: float = 0.0
    excitation: float = 0.0
    decay_per_s: float = 1.0
    split_exponent: float = 0.0
    split_max_children: int = 10_000
    size_weights: tuple[float, ...] = ()
    size_log_mean: float = ABIDES_SIZE_LOG[0]
    size_log_sd: float = ABIDES_SIZE_LOG[1]
    walk_ticks: float = 0.0
    _signed = ("wake_start_s",)
    _positive = ("decay_per_s", "size_log_sd")
    _int_floor = {"split_max_children": 1}

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "size_weights", size_weights(self.size_weights, "size_weights", "NoiseAgents"))
        check_size_law_read("NoiseAgents", "", self.size_weights, self.size_log_mean, self.size_log_sd,
                            "ABIDES' mixture with its own log-normal")  # fmt: skip
        if self.excitation >= 1:
            raise ParameterError(
                f"`excitation` of NoiseAgents (the clock's branching ratio) must be in [0, 1); got {self.excitation!r}"
            )
        if self.arrival_rate_per_s == 0 and (self.excitation > 0 or self.split_exponent > 0):
            raise ParameterError(
                "`excitation` and `split_exponent` of NoiseAgents need the noise clock: `arrival_rate_per_s` > 0; "
                f"got arrival_rate_per_s 0 with excitation {self.excitation!r} and split_exponent "
                f"{self.split_exponent!r}"
            )
        if 0 < self.split_exponent <= 1:
            raise ParameterError(
                "`split_exponent` of NoiseAgents (the Pareto tail of metaorder lengths) must be 0 (off) or > 1 (a "
                f"finite mean length); got {self.split_exponent!r}"
            )
        if self.arrival_rate_per_s > 0 and self.count == 0:
            raise ParameterError("`arrival_rate_per_s` of NoiseAgents > 0 needs noise agents: count > 0; got count 0")


@dataclass(frozen=True)
class ValueAgents(_Checked):
    """Value agents: noisy looks at the fundamental, a Bayesian estimate, a forecast to the close (ABIDES ValueAgent).

    ``variance_update``: ``"kalman"`` (the posterior variance of the estimate, ours) or ``"abides"`` (ABIDES' update
    that shrinks the previous variance instead of the predicted one; see docs/agents.md).

    ``latent_depth_ticks`` > 0 switches the class to the latent-liquidity rule (LLOB, docs/agents_llob.md): each
    agent rests one order at its estimate's forecast -/+ a private offset of density linear on
    ``[0, latent_depth_ticks]``, redrawn at ``latent_refresh_per_s``, of ``latent_size_lots`` (0: the ABIDES
    mixture); 0 (the default) keeps the ABIDES rule. ``latent_anchor``: ``"fundamental"`` (the default) centres
    every latent order on the agent's forecast; ``"price"`` (ours, docs/agents_sqrt.md) centres a new draw on the mid
    it sees (the forecast plus the mid's premium over it at the draw), then moves it with the forecast.

    ``size_mispricing_scale_ticks`` (ours; 0, the default: off, ABIDES' size): with the ABIDES rule, the size drawn
    from the order-size mixture is multiplied by ``1 + |forecast - mid| / size_mispricing_scale_ticks`` (at most
    ``size_mispricing_max_factor`` when that is > 0; 0: no cap) and rounded to lots, the mid being the one the
    agent's side is read from; with a side of the book empty the drawn size is sent. ``size_mispricing_power`` (1:
    linear) raises ``|forecast - mid| / scale`` to that power (> 0; 2: the flow grows as the LLOB's latent volume
    within the displacement, ``L d^2 / 2``). A linear demand in the
    mispricing (the CARA demand ``(E[v] - p) / (a Var v)`` of Grossman and Stiglitz 1980; the latent volume growing
    with the distance from the price of Toth et al. 2011 and Donier et al. 2015), so the value agents' flow against
    a displaced price grows with the displacement instead of being bounded by their looks
    (docs/agents_value_size_v19.md).

    ``flow_learning_ticks_per_lot`` (ours; 0, the default: off, ABIDES' looks): every look sees the fundamental plus
    this many ticks per lot of the day's net aggressor flow (buyer-initiated minus seller-initiated lots traded since
    the open, every agent's, the execution agent's included), the observation noise drawn on top: a Kyle-style
    linear update with an exogenous lambda (in Kyle 1985, "Continuous auctions and insider trading", Econometrica 53,
    the market maker's price is linear in the net flow, lambda set in equilibrium); linear, because a permanent
    impact that is not linear in the traded quantity admits price manipulation (Huberman and Stanzl 2004, "Price
    manipulation and quasi-arbitrage", Econometrica 72; Gatheral 2010, "No-dynamic-arbitrage and market impact",
    Quantitative Finance 10). The fundamental's own path is unchanged and is what is recorded. The value agents'
    pull then reverts a displaced price to the shifted value, so a metaorder leaves a permanent part of its impact
    (docs/agents_flow_learning.md). ``flow_learning_source``:
    ``"all"`` (the default) counts every agent's fills; ``"others"`` leaves out the fills whose aggressor (the
    incoming order) is a value agent: a device that cuts a feedback, not an informational argument. With ``"all"``
    the value agents' contrarian orders, read back as news, move their value against a metaorder
    (docs/agents_flow_learning.md section 4); ``"others"`` assumes they can tell their class's aggressive orders
    from the rest, which an anonymous market does not show, and leaves them to learn from the other classes' flow.
    """

    count: int = 102
    arrival_rate_per_s: float = 5.7e-3
    observation_variance_ticks2: float = 1000.0
    mean_reversion_per_s: float = 1.67e-6
    shock_variance_ticks2_per_s: float = 1e14
    aggressive_share: float = 0.1
    depth_spread: float = 2.0
    variance_update: str = "kalman"
    latent_depth_ticks: float = 0.0
    latent_refresh_per_s: float = 0.0
    latent_size_lots: int = 0
    latent_anchor: str = "fundamental"
    size_mispricing_scale_ticks: float = 0.0
    size_mispricing_max_factor: float = 0.0
    size_mispricing_power: float = 1.0
    flow_learning_ticks_per_lot: float = 0.0
    flow_learning_source: str = "all"
    _positive = ("arrival_rate_per_s", "mean_reversion_per_s", "size_mispricing_power")

    def __post_init__(self) -> None:
        super().__post_init__()
        if 0 < self.latent_depth_ticks < 1:
            raise ParameterError(
                f"`latent_depth_ticks` of ValueAgents must be 0 (the ABIDES rule) or >= 1 tick; got "
                f"{self.latent_depth_ticks!r}"
            )
        for name in ("latent_refresh_per_s", "latent_size_lots"):
            if getattr(self, name) > 0 and self.latent_depth_ticks == 0:
                raise ParameterError(
                    f"`{name}` of ValueAgents needs the latent rule on (`latent_depth_ticks` >= 1); got "
                    f"{name} = {getattr(self, name)!r} with latent_depth_ticks = 0"
                )
        if self.latent_anchor not in LATENT_ANCHORS:
            raise ParameterError(
                f"`latent_anchor` of ValueAgents must be one of {LATENT_ANCHORS}; got {self.latent_anchor!r}"
            )
        if self.flow_learning_source not in FLOW_SOURCES:
            raise ParameterError(
                f"`flow_learning_source` of ValueAgents must be one of {FLOW_SOURCES}; got "
                f"{self.flow_learning_source!r}"
            )
        if self.flow_learning_source != "all" and self.flow_learning_ticks_per_lot == 0:
            raise ParameterError(
                "`flow_learning_source` of ValueAgents needs the flow rule on (`flow_learning_ticks_per_lot` > 0); "
                f"got flow_learning_source = {self.flow_learning_source!r} with flow_learning_ticks_per_lot = 0"
            )
        if self.latent_anchor != "fundamental" and self.latent_depth_ticks == 0:
            raise ParameterError(
                f"`latent_anchor` of ValueAgents needs the latent rule on (`latent_depth_ticks` >= 1); got "
                f"latent_anchor = {self.latent_anchor!r} with latent_depth_ticks = 0"
            )
        if 0 < self.size_mispricing_scale_ticks < 1:
            raise ParameterError(
                "`size_mispricing_scale_ticks` of ValueAgents must be 0 (off) or >= 1 tick (below a tick the grown "
                f"size can leave the int64 lots the kernel counts in); got {self.size_mispricing_scale_ticks!r}"
            )
        if 0 < self.size_mispricing_max_factor <= 1:
            raise ParameterError(
                "`size_mispricing_max_factor` of ValueAgents must be 0 (no cap) or > 1 (a factor on the drawn size; 1 "
                f"would switch the key off); got {self.size_mispricing_max_factor!r}"
            )
        if self.size_mispricing_power > 2:
            raise ParameterError(
                "`size_mispricing_power` of ValueAgents must be in (0, 2] (above 2 the grown size of a market whose "
                "prices span 2^20 ticks can leave the int64 lots the kernel counts in); got "
                f"{self.size_mispricing_power!r}"
            )
        if self.size_mispricing_max_factor > 0 and self.size_mispricing_scale_ticks == 0:
            raise ParameterError(
                "`size_mispricing_max_factor` of ValueAgents caps the size grown with the mispricing, so it needs "
                "`size_mispricing_scale_ticks` > 0; got size_mispricing_max_factor = "
                f"{self.size_mispricing_max_factor!r} with size_mispricing_scale_ticks = 0"
            )
        if self.size_mispricing_power != 1.0 and self.size_mispricing_scale_ticks == 0:
            raise ParameterError(
                "`size_mispricing_power` of ValueAgents shapes the size grown with the mispricing, so it must stay 1 "
                f"without `size_mispricing_scale_ticks` > 0; got size_mispricing_power = {self.size_mispricing_power!r}"
                " with size_mispricing_scale_ticks = 0"
            )
        if self.size_mispricing_scale_ticks > 0 and self.latent_depth_ticks > 0:
            raise ParameterError(
                "`size_mispricing_scale_ticks` of ValueAgents grows the ABIDES rule's size, so it needs the latent "
                "rule off (`latent_depth_ticks` = 0); got size_mispricing_scale_ticks = "
                f"{self.size_mispricing_scale_ticks!r} with latent_depth_ticks = {self.latent_depth_ticks!r}"
            )
        if self.aggressive_share > 1:
            raise ParameterError(f"`aggressive_share` of ValueAgents must be in [0, 1]; got {self.aggressive_share!r}")
        if self.variance_update not in VARIANCE_UPDATES:
            raise ParameterError(
                f"`variance_update` of ValueAgents must be one of {VARIANCE_UPDATES}; got {self.variance_update!r}"
            )


@dataclass(frozen=True)
class MarketMakers(_Checked):
    """Adaptive market makers: a Chakraborty-Kearns ladder (ABIDES ``AdaptiveMarketMakerAgent``, adaptive window).

    Ours, each off at 0: ``min_half_spread_ticks``, a floor under the half-spread of the quotes (the best bid at least
    that many ticks below the skewed mid, the best ask above it: a maker's minimum quoted spread, the spread term of
    Avellaneda and Stoikov 2008 that does not shrink with the observed spread); ``level_jitter_s``, the mean of an
    exponential delay added to each order of the ladder and to each cancel of the old one (Hasbrouck and Saar 2013:
    a run of linked messages is spread over milliseconds, not sent at one instant); ``touch_orders``, the best level
    of each side posted as that many orders instead of one, the level's size split evenly among them (0 and 1: one
    order, as ABIDES). A real touch is a queue of many small orders, so a marketable order takes several fills at one
    instant (Bouchaud, Bonart, Donier and Gould 2018, "Trades, Quotes and Prices", ch. 4: the mean queue at the
    touch holds several orders; Toth, Palit, Lillo and Farmer 2015, "Why is equity order flow so persistent?",
    J. Econ. Dyn. Control 51: the fills of one order are a large part of the trade-sign ACF at short lags);
    ``quote_offset_ticks``, at each ladder each side is moved away from the mid by its own uniform integer number of
    ticks in ``[0, quote_offset_ticks]``, so makers quote at different prices and the touch is usually one maker's
    orders, not every maker's stacked at one price (the placement of limit orders is spread around the touch:
    Bouchaud, Mezard and Potters 2002, "Statistical properties of stock order books", Quant. Finance 2; Zovko and
    Farmer 2002, "The power of patience", Quant. Finance 2). ``touch_size_weights`` (empty: off), the orders of the
    best level (one, or ``touch_orders``) each get their own size drawn from the ABIDES order-size mixture with these
    11 weights (a log-normal of ``touch_size_log_mean`` and ``touch_size_log_sd``, then 100, 200, ..., 1000 lots)
    instead of a share of the ``pov`` size, which deeper levels keep (a withdrawal's size factor then acts on them
    only): a real touch is mostly round-lot orders of one hundred shares (AMZN's adds: half are 100 shares), not
    a share of the traded volume; the weights are fitted to a day's add sizes by :mod:`calibration.abm_sizes`.
    ``touch_ask_size_weights`` (empty: off, the ask's touch orders drawn from the ``touch_size_*`` law as the bid's),
    with ``touch_ask_size_log_mean`` and ``touch_ask_size_log_sd``: the ask's touch orders drawn from their own law
    of the same form, the ``touch_size_*`` keys then the bid's (ours): a day's touch need not be symmetric (AMZN's
    adds on 2012-06-21: the bid's mean 107.6 shares, the ask's 85.7; its mean L1 imbalance +0.10; the two laws are
    fitted to each side's adds by :mod:`calibration.abm_sizes`). Needs ``touch_size_weights``; each draw takes the
    same two numbers of the maker stream whatever its law, so the draws line up with and without it.
    ``half_spread_profile`` (empty: off; needs ``min_half_spread_ticks`` > 0): one weight per equal part of the
    session from the open; a maker deciding in part ``i`` quotes with the floor ``rint(min_half_spread_ticks x
    weight_i)`` instead of ``min_half_spread_ticks`` (before the open: the first part's; after the session: the last
    part's), so the spread follows the day's reverse-J, wide at the open and narrow into the close (McInish and Wood
    1992, "An analysis of intraday patterns in bid/ask spreads for NYSE stocks", J. Finance 47; Chung, Van Ness and
    Van Ness 1999, "Limit orders and the bid-ask spread", J. Financial Economics 53); ``calibration.abm_intraday``
    fits it to a day (docs/agents_intraday.md).
    ``latency_us`` (0: off, the latency model's): every maker's one-way latency is this many microseconds instead
    of the latency model's: makers are co-located high-frequency traders, whose
    cancel and replace reach the book within a millisecond (Hasbrouck and Saar 2013, "Low-latency trading",
    J. Financial Markets 16: linked messages milliseconds apart; AMZN's cancel-then-add gaps: 47 % under 1 ms on
    2012-06-21 at 12:00-12:30).
    ``keep_touch_ticks`` (-1: off): a maker's best order of each side is not cancelled at its wake-up; at its
    decision it keeps that order, and posts no new best order on that side, when the order still rests within this
    many ticks of the new ladder's best price (0: at that very price), and otherwise cancels it (one message, its
    own jitter) and posts the new one. A real maker re-quotes only what moved, so its touch order keeps its queue
    place and is often filled or outbid before it is cancelled (Hasbrouck and Saar 2013: much message traffic is
    runs of cancels and resubmissions that reposition quotes; AMZN 2012-06-21: 32 % of the visible events are
    cancels). Needs ``touch_orders`` <= 1.
    ``layer_ticks`` (0: off): maker ``k`` (0, 1, ..., count - 1) quotes each side ``k * layer_ticks`` ticks further
    from the mid than its ladder (after the floor and any offsets), a floor per maker fixed for the day, with no
    draw. The touch is then mostly one maker's (the innermost) and its best prices move only when its own ladder
    does, unlike ``quote_offset_ticks``' new draws at every ladder; the others' ladders are the book behind it.
    Makers differ in their quoting aggressiveness (Biais, Hillion and Spatt 1995, "An empirical analysis of the
    limit order book and the order flow in the Paris Bourse", J. Finance 50: orders are placed at and behind the
    touch, not only at it; Avellaneda and Stoikov 2008: a maker's spread grows with its risk aversion, which differs
    from maker to maker).
    ``inventory_skew_ticks_per_lot`` (0: off): at each ladder the maker's centre (the mid, before ABIDES' imbalance
    skew) moves ``int(inventory_skew_ticks_per_lot * inventory)`` ticks against its own inventory (down when long, up
    when short; toward zero to whole ticks), at most ``inventory_skew_max_ticks`` ticks either way (0: no cap); both
    sides of the ladder move with it, so a long maker bids lower (buys less) and offers lower (sells more). The
    inventory term of a maker's reservation price, linear in the inventory (Avellaneda and Stoikov 2008: ``r = s - q
    gamma sigma^2 (T - t)``; Gueant, Lehalle and Fernandez-Tapia 2013, "Dealing with the inventory risk: a solution
    to the market making problem", Math. Financ. Econ. 7: the stationary quotes' skew, nearly linear in ``q``), with
    the coefficient given in ticks per lot rather than derived from a risk aversion. With the skew on, the ladder is
    posted only: its best bid at most one tick below the best ask the maker saw at its decision, its best ask at least
    one above the best bid (the bid ladder moved down, the ask ladder up, whole), so a skewed maker never crosses the
    book: unclipped, a long maker's asks met a short maker's bids and makers sized by the volume (``pov``) traded with
    each other at ever larger sizes (docs/agents_impact_v15.md).
    ``size_volume``: the trades of the last ``volume_window_s`` whose lots set a maker's size (``pov`` x their sum):
    ``"all"`` (the default, ABIDES ``update_order_size``: every trade), ``"others"`` (the trades in which no market
    maker was a party, as aggressor or as resting side) or ``"not_between_makers"`` (every trade but those between
    two market makers). Ours: under ABIDES' rule a maker's size grows with the makers' own trades, so makers that
    trade with each other raise each other's sizes at every ladder, an exponential (docs/agents_impact_v15.md,
    section 3); ``"not_between_makers"`` cuts exactly that loop, ``"others"`` sizes the makers by the rest of the
    market's trading alone, a volume no maker's quotes can raise (the makers' imbalance skew, ``price_skew_ticks``,
    still reads every trade).
    ``center_halflife_s`` (0: off, ABIDES): the maker's ladder is centred not on the mid it saw but on an exponential
    moving average of the mids seen at its decisions, in calendar time with this half-life: ``c <- w c + (1 - w)
    mid``, ``w = 2^(-dt / center_halflife_s)``, ``dt`` the time since its previous decision (the first decision
    starts ``c`` at the mid), rounded to a whole tick; the inventory skew and ABIDES' imbalance skew then move it as
    they move the mid. Ours: a maker re-centring on the mid at each wake-up moves its liquidity with the price, so a
    displacement meets no resistance that grows with it (docs/agents_impact_v14.md, v16); a slow centre keeps the
    maker's quotes near where the price was, a mean-reverting reference price (Avellaneda and Stoikov 2008's mid is
    the maker's own estimate of the price, and a maker anchored on a slow reference trades against transient moves).
    With the half-life on, the ladder is posted only, as with the inventory skew (its best bid at most one tick below
    the best ask seen at the decision, its best ask at least one above the best bid), so a centre left behind by the
    price never crosses the book.
    ``center_snap_ticks`` (0: off, the slow centre alone): with the slow centre on, a centre that the EMA update
    leaves more than this many ticks from the mid seen at the decision (``|mid - c| > center_snap_ticks``, ``c`` the
    unrounded EMA just updated) is set to the mid itself (``c <- mid``, kept in the maker's state, so later decisions
    average from there); the skews then move it as they move any centre. Ours: the slow centre resists every move
    alike, so the large fast moves that make a day's 1-min returns fat-tailed are smoothed as much as the small ones
    (docs/agents_tails_v18.md: the thinning of the tails is the slow centre's); with the snap, small and gradual
    moves stay resisted (the concave impact the slow centre gives) while a move beyond the threshold passes through
    at once, a maker that treats a large gap between its reference price and the market as news rather than noise
    (docs/agents_snap_v21.md). Needs ``center_halflife_s`` > 0 (without it the centre is the mid and the key would
    be ignored).
    ``post_only_gap_ticks`` (0: off, the clip of one tick): a post-only clipped side (with the inventory skew or the
    slow centre on) is put at least this many ticks off the other side's touch seen at the decision instead of one
    (the best bid at most ``ask - g``, the best ask at least ``bid + g``, ``g = max(1, post_only_gap_ticks)``; 1 is
    the clip of one tick, as 0). Ours: a maker whose slow centre lags the price has its lagging side clipped against
    the touch, and with one tick the book spends much of the day with a 1-3 tick spread that AMZN rarely shows
    (docs/agents_impact_v17.md, section 4); with a gap the lagging quotes still resist a metaorder but keep a spread
    (a maker's minimum quoted spread, the spread term of Avellaneda and Stoikov 2008). Needs the inventory skew or
    the slow centre on (without either there is no clip, and the key would be ignored).
    ``skew_prior_lots`` (0: off, ABIDES' ratio): the imbalance that skews the ladder (``price_skew_ticks`` times it) is
    ``(buy - sell) / (buy + sell + skew_prior_lots)`` over the last ``volume_window_s``, the buy share shrunk toward
    one half by a prior of ``skew_prior_lots / 2`` lots a side, instead of ABIDES' ``2 buy / (buy + sell) - 1``, and
    the ladder moves by that skew in whole ticks toward zero (ABIDES truncates the skewed price, which moves a sell's
    fraction of a tick one tick down and a buy's not at all).
    Ours: under ABIDES' ratio a lone lot in a quiet window moves every maker's ladder by the whole skew, so the
    smallest metaorders' first children move the price about as much as much larger ones' (abm-amzn-v24: 6.5 bps at
    1e-4 and 7.8 at 1e-2 of the day's volume 10 s into a one-hour TWAP; docs/agents_skew_prior.md); with the
    prior the skew grows linearly with a window's net volume while it is small against the prior and saturates
    beyond it, the shape of aggregate impact in Patzelt and Bouchaud (2018, "Universal scaling and nonlinearity of
    aggregate price impact in financial markets", Phys. Rev. E 97) and, at small imbalances, the linear response to
    order-flow imbalance of Cont, Kukanov and Stoikov (2014, "The price impact of order book events", J. Financ.
    Econom. 12).
    ``skew_rounding`` (``"toward_zero"``: the move in whole ticks toward zero, as above; ``"random"``): with the
    prior on, the skew's move ``x`` (ticks, a fraction in general) has its size rounded at random, up to
    ``floor(|x|) + 1`` with probability ``|x| - floor(|x|)`` and down to ``floor(|x|)`` otherwise, its sign kept (a
    net sell moves the ladder as far down as the same net buy moves it up under the same draw), one uniform draw of
    the makers' stream at every maker decision (a mid seen or not, for common random numbers). Ours: rounded toward
    zero, a window's net flow
    below ``skew_prior_lots / price_skew_ticks`` lots moves no ladder at all, so the smallest metaorders' children
    move nothing (abm-amzn-v25: 0.2 bps at 1e-4 of the day's volume); at random, the expected move is ``x``, linear
    in a small flow as the response of Cont, Kukanov and Stoikov (2014) (stochastic rounding, as in low-precision
    arithmetic; docs/agents_skew_rounding.md). Needs ``skew_prior_lots`` > 0 (ABIDES' ratio truncates the skewed
    price, and the key would be ignored).
    ``volume_kernel`` (``"box"``: ABIDES' window, every trade of the last ``volume_window_s`` counted whole, which
    ABIDES sets to the wake-up interval;
    ``"exponential"``): the buy and sell volumes behind a maker's size and its imbalance skew (and the counted
    volume of ``size_volume``) weigh each trade by ``exp(-age / volume_window_s)``, ``age`` the time since it
    (ns), over every trade so far; a box and an exponential of the same ``volume_window_s`` count the same volume
    on average in a steady flow. Ours: in a box a trade moves the skew twice, when it enters the window and again,
    the other way, when it leaves it ``volume_window_s`` later, so every trade has an echo: the 1-s |r| ACF of
    abm-amzn-v26 (window 10 s, makers waking every second) peaks at the window (0.118 at 10 s against 0.011 at 5 s
    on 11 held-out days; AMZN 0.043 and 0.050; docs/agents_volume_kernel.md). An exponential
    forgets a trade gradually, the smoothed order-flow imbalance of an exponentially weighted moving average, with
    no echo.
    """

    count: int = 2
    pov: float = 0.025
    min_order_size: int = 1
    levels: int = 10
    wake_interval_s: float = 60.0
    level_spacing: float = 5.0
    spread_alpha: float = 0.75
    price_skew_ticks: float = 4.0
    initial_spread_ticks: float = 50.0
    cancel_delay_ns: int = 50
    volume_window_s: float = 60.0
    withdraw_inventory_lots: int = 0
    withdraw_move_bps: float = 0.0
    withdraw_size_factor: float = 0.2
    withdraw_spread_factor: float = 3.0
    min_half_spread_ticks: int = 0
    level_jitter_s: float = 0.0
    touch_orders: int = 0
    quote_offset_ticks: int = 0
    touch_size_weights: tuple[float, ...] = ()
    touch_size_log_mean: float = ABIDES_SIZE_LOG[0]
    touch_size_log_sd: float = ABIDES_SIZE_LOG[1]
    touch_ask_size_weights: tuple[float, ...] = ()
    touch_ask_size_log_mean: float = ABIDES_SIZE_LOG[0]
    touch_ask_size_log_sd: float = ABIDES_SIZE_LOG[1]
    latency_us: float = 0.0
    keep_touch_ticks: int = -1
    layer_ticks: int = 0
    inventory_skew_ticks_per_lot: float = 0.0
    inventory_skew_max_ticks: int = 0
    size_volume: str = "all"
    center_halflife_s: float = 0.0
    center_snap_ticks: int = 0
    post_only_gap_ticks: int = 0
    skew_prior_lots: float = 0.0
    skew_rounding: str = "toward_zero"
    volume_kernel: str = "box"
    half_spread_profile: tuple[float, ...] = ()
    _positive = ("wake_interval_s", "level_spacing", "initial_spread_ticks", "volume_window_s", "withdraw_size_factor",
                 "touch_size_log_sd", "touch_ask_size_log_sd")  # fmt: skip
    _int_floor = {"min_order_size": 1, "levels": 1, "keep_touch_ticks": -1}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.keep_touch_ticks >= 0 and self.touch_orders > 1:
            raise ParameterError(
                "`keep_touch_ticks` of MarketMakers keeps one best order a side, so it needs `touch_orders` <= 1; got "
                f"keep_touch_ticks {self.keep_touch_ticks!r} with touch_orders {self.touch_orders!r}"
            )
        if 0 < self.center_halflife_s < 0.5e-9:  # the kernel reads it in whole ns: off there, on in the twin
            raise ParameterError(
                "`center_halflife_s` of MarketMakers must be 0 (off) or at least 0.5e-9 s, since the engine keeps it "
                f"in whole ns and a smaller one rounds to 0 (off); got {self.center_halflife_s!r}"
            )
        if self.center_snap_ticks > 0 and self.center_halflife_s <= 0:
            raise ParameterError(
                "`center_snap_ticks` of MarketMakers snaps the slow ladder centre to the mid, which is on only with "
                f"`center_halflife_s` > 0, so it must stay 0 without it; got {self.center_snap_ticks!r} with it off"
            )
        if self.post_only_gap_ticks > 0 and self.inventory_skew_ticks_per_lot <= 0 and self.center_halflife_s <= 0:
            raise ParameterError(
                "`post_only_gap_ticks` of MarketMakers sets the post-only clip, which is on only with "
                "`inventory_skew_ticks_per_lot` > 0 or `center_halflife_s` > 0, so it must stay 0 without them; got "
                f"{self.post_only_gap_ticks!r} with both off"
            )
        if self.spread_alpha > 1:
            raise ParameterError(f"`spread_alpha` of MarketMakers must be in [0, 1]; got {self.spread_alpha!r}")
        if self.withdraw_size_factor > 1 or self.withdraw_spread_factor < 1:
            raise ParameterError(
                "`withdraw_size_factor` of MarketMakers must be in (0, 1] and `withdraw_spread_factor` >= 1; got "
                f"{self.withdraw_size_factor!r} and {self.withdraw_spread_factor!r}"
            )
        if not isinstance(self.size_volume, str) or self.size_volume not in SIZE_VOLUMES:
            raise ParameterError(
                f"`size_volume` of MarketMakers must be one of {SIZE_VOLUMES}; got {self.size_volume!r}"
            )
        if not isinstance(self.skew_rounding, str) or self.skew_rounding not in SKEW_ROUNDINGS:
            raise ParameterError(
                f"`skew_rounding` of MarketMakers must be one of {SKEW_ROUNDINGS}; got {self.skew_rounding!r}"
            )
        if not isinstance(self.volume_kernel, str) or self.volume_kernel not in VOLUME_KERNELS:
            raise ParameterError(
                f"`volume_kernel` of MarketMakers must be one of {VOLUME_KERNELS}; got {self.volume_kernel!r}"
            )
        if self.skew_rounding == "random" and self.skew_prior_lots <= 0:
            raise ParameterError(
                "`skew_rounding` of MarketMakers rounds the skew with a prior volume, which is on only with "
                f"`skew_prior_lots` > 0, so it must stay 'toward_zero' without it; got {self.skew_rounding!r} with "
                "skew_prior_lots 0"
            )
        weights = size_weights(self.touch_size_weights, "touch_size_weights", "MarketMakers")
        object.__setattr__(self, "touch_size_weights", weights)
        check_size_law_read("MarketMakers", "touch_", weights, self.touch_size_log_mean, self.touch_size_log_sd,
                            "the touch orders keep a share of the pov size")  # fmt: skip
        ask = size_weights(self.touch_ask_size_weights, "touch_ask_size_weights", "MarketMakers")
        object.__setattr__(self, "touch_ask_size_weights", ask)
        check_size_law_read("MarketMakers", "touch_ask_", ask, self.touch_ask_size_log_mean,
                            self.touch_ask_size_log_sd, "the ask's touch orders follow touch_size_*")  # fmt: skip
        profile = intraday_profile("MarketMakers", "half_spread_profile", self.half_spread_profile)
        object.__setattr__(self, "half_spread_profile", profile)
        if profile and self.min_half_spread_ticks <= 0:
            raise ParameterError(
                "`half_spread_profile` of MarketMakers scales `min_half_spread_ticks` through the session, so it needs "
                f"`min_half_spread_ticks` > 0; got a profile of {len(profile)} parts with min_half_spread_ticks "
                f"{self.min_half_spread_ticks!r}"
            )
        if ask and not weights:
            raise ParameterError(
                "`touch_ask_size_weights` of MarketMakers gives the ask's touch orders their own size law, which "
                "needs `touch_size_weights` (the bid's law) set too; got ask weights with `touch_size_weights` empty"
            )


@dataclass(frozen=True)
class CircuitBreaker(_Checked):
    """Pause matching for ``pause_s`` after a trade ``move_pct`` % away from a trade of the last ``window_s``
    (CME's stop logic; ``move_pct = 0`` turns it off). Orders arriving during the pause wait for the resume."""

    move_pct: float = 0.0
    window_s: float = 60.0
    pause_s: float = 5.0
    _positive = ("window_s", "pause_s")


@dataclass(frozen=True)
class MomentumAgents(_Checked):
    """Momentum agents: buy at the ask when MA(short) >= MA(long) of their mid looks, else sell at the bid."""

    count: int = 12
    wake_interval_s: float = 37.0
    short_window: int = 20
    long_window: int = 50
    _positive = ("wake_interval_s",)
    _int_floor = {"short_window": 1, "long_window": 1}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.short_window > self.long_window:
            raise ParameterError(
                f"`short_window` of MomentumAgents must be <= long_window ({self.long_window}); got {self.short_window}"
            )


STRATEGIES = ("twap", "pov", "vwap", "almgren_chriss")


@dataclass(frozen=True)
class ExecutionAgents(_Checked):
    """Execution agents: each works a metaorder of ``quantity_lots`` on ``side`` from ``start_s`` after the open.

    Every ``interval_s`` an agent cancels its resting child and sends a new one at the other side's touch:
    ``"twap"``: up to ``ceil(Q (j + 1) / n)`` lots done by the end of slice ``j`` of the ``n`` in the duration (an even
    schedule: a metaorder of fewer lots than slices still ends at ``start_s + duration_s``); ``"pov"``: up to
    ``participation / (1 - participation)`` of the other traders' volume since its start, less what it has done;
    ``"vwap"``: up to the target of an intraday ``profile`` (weights of equal parts of the duration; empty: flat);
    ``"almgren_chriss"``: up to the Almgren-Chriss target ``1 - sinh(k (T - t)) / sinh(k T)`` of the quantity, with
    ``k = urgency_per_s`` (see :func:`simlab.agents.execution.execution_schedule`).
    """

    count: int = 0
    strategy: str = "twap"
    side: int = 1
    quantity_lots: int = 1000
    start_s: float = 3600.0
    duration_s: float = 3600.0
    interval_s: float = 30.0
    participation: float = 0.1
    urgency_per_s: float = 1e-3
    profile: tuple[float, ...] = ()
    volume_window_s: float = 0.0
    _positive = ("duration_s", "interval_s", "participation", "urgency_per_s")
    _int_floor = {"side": -1, "quantity_lots": 1}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.strategy not in STRATEGIES:
            raise ParameterError(f"`strategy` of ExecutionAgents must be one of {STRATEGIES}; got {self.strategy!r}")
        if self.side not in (1, -1):
            raise ParameterError(f"`side` of ExecutionAgents must be +1 (buy) or -1 (sell); got {self.side!r}")
        if self.participation >= 1:
            raise ParameterError(f"`participation` of ExecutionAgents must be in (0, 1); got {self.participation!r}")
        profile = tuple(self.profile)
        if any(isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0 for w in profile) or (
            profile and sum(profile) <= 0
        ):
            raise ParameterError(
                f"`profile` of ExecutionAgents must be weights >= 0 with a positive sum; got {profile!r}"
            )
        object.__setattr__(self, "profile", tuple(float(w) for w in profile))
        if self.volume_window_s > 0 and self.strategy != "pov":
            raise ParameterError(
                f"`volume_window_s` of ExecutionAgents applies to strategy 'pov' only; got {self.volume_window_s!r} "
                f"with strategy {self.strategy!r}"
            )


@dataclass(frozen=True)
class StopLossAgents(_Checked):
    """A stop-loss ladder: at ``start_s`` after the open, agent k arms a stop ``first_ticks + k * spacing_ticks``
    from the mid against its side (``side = -1``: a sell stop below the mid); when a trade prints at or through it,
    the agent sends a market order (immediate or cancel) of ``quantity_lots``, arriving one latency later."""

    count: int = 0
    side: int = -1
    quantity_lots: int = 100
    start_s: float = 600.0
    first_ticks: int = 10
    spacing_ticks: int = 5
    _int_floor = {"side": -1, "quantity_lots": 1}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.side not in (1, -1):
            raise ParameterError(
                f"`side` of StopLossAgents must be +1 (buy stops) or -1 (sell stops); got {self.side!r}"
            )


@dataclass(frozen=True)
class LeveragedTraders(_Checked):
    """Leveraged traders on perpetual-futures terms (isolated margin, linear contract).

    Trader k opens ``position_lots`` with a market order at ``start_s + k * stagger_s`` after the open (``side``
    +1 long, -1 short, 0 alternating from long). With entry price ``e`` (its average fill), leverage ``L`` and
    maintenance margin ``m``: margin ``e q / L``, bankruptcy price ``e (1 - 1/L)`` (long) or ``e (1 + 1/L)``
    (short), liquidation price ``e (1 - 1/L) / (1 - m)`` or ``e (1 + 1/L) / (1 + m)``, where equity falls to the
    maintenance margin. When the last trade price reaches it, the exchange closes the position at once with a market
    order; what it closes better than bankruptcy goes to the insurance fund (worse: the fund pays); what the book
    cannot take is auto-deleveraged against the opposite traders ranked by profit x leverage, at the bankruptcy
    price, and the fund takes any rest.
    """

    count: int = 0
    side: int = 1
    position_lots: int = 100
    leverage: float = 10.0
    maintenance_margin: float = 0.005
    start_s: float = 60.0
    stagger_s: float = 1.0
    insurance_fund_ticks: int = 0
    _positive = ("leverage",)
    _int_floor = {"side": -1, "position_lots": 1}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.side not in (1, -1, 0):
            raise ParameterError(f"`side` of LeveragedTraders must be +1, -1 or 0 (alternating); got {self.side!r}")
        if self.maintenance_margin >= 1.0 / self.leverage:
            raise ParameterError(
                f"`maintenance_margin` of LeveragedTraders must be below the initial margin 1 / leverage "
                f"({1.0 / self.leverage:g}); got {self.maintenance_margin!r}"
            )


@dataclass(frozen=True)
class Latency(_Checked):
    """One-way latency of each agent to the exchange, in ns.

    ``"line"`` (ABIDES ``generate_latency_model``): the exchange and every agent sit at uniform points of a line of
    ``line_m`` metres; latency is distance / c. ``"fixed"``: every agent has ``fixed_ns``.
    """

    model: str = "line"
    line_m: float = 3_866_660.0
    fixed_ns: int = 0

    def __post_init__(self) -> None:
        if self.model not in LATENCY_MODELS:
            raise ParameterError(f"`model` of Latency must be one of {LATENCY_MODELS}; got {self.model!r}")
        if isinstance(self.fixed_ns, int) and not isinstance(self.fixed_ns, bool) and self.fixed_ns < 0:
            raise ParameterError(f"`fixed_ns` of Latency (a latency) must be >= 0 ns; got {self.fixed_ns!r}")
        super().__post_init__()


@dataclass(frozen=True)
class InitialBook(_Checked):
    """Resting orders the exchange (agent -1) posts at the open: ``levels`` per side of ``qty_lots``, one tick apart,
    the best bid and ask ``spread_ticks`` apart around the fundamental's mean."""

    levels: int = 0
    qty_lots: int = 100
    spread_ticks: int = 2
    _int_floor = {"qty_lots": 1, "spread_ticks": 1}


@dataclass(frozen=True)
class NewsShock(_Checked):
    """A news jump: at ``time_s`` after the open the fundamental jumps by ``jump_bps`` of its value then
    (deterministic); value agents see it at their next look."""

    time_s: float
    jump_bps: float
    _signed = ("jump_bps",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.jump_bps <= -10_000:
            raise ParameterError(f"`jump_bps` of NewsShock must be > -10000 (a positive value); got {self.jump_bps!r}")

    def window_s(self) -> tuple[float, float]:
        """The shock's span after the open (s)."""
        return self.time_s, self.time_s


@dataclass(frozen=True)
class WithdrawalShock(_Checked):
    """A forced market-maker withdrawal: every ladder a maker posts in ``[start_s, start_s + duration_s)`` has its
    size per level x ``size_factor`` (floored, at least one lot; 0: no quotes) and its spread window x
    ``spread_factor``, whatever the makers' own withdrawal thresholds; after the window they quote as before."""

    start_s: float
    duration_s: float
    size_factor: float
    spread_factor: float
    _positive = ("duration_s",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.size_factor > 1 or self.spread_factor < 1:
            raise ParameterError(
                "`size_factor` of WithdrawalShock must be in [0, 1] and `spread_factor` >= 1; got "
                f"{self.size_factor!r} and {self.spread_factor!r}"
            )

    def window_s(self) -> tuple[float, float]:
        """The shock's span after the open (s)."""
        return self.start_s, self.start_s + self.duration_s


@dataclass(frozen=True)
class MarkShock(_Checked):
    """A mispriced oracle on this venue: in ``[start_s, start_s + duration_s)`` the mark the liquidation engine
    uses is the last trade price x ``factor`` (checked at the window's start and end and after every trade)."""

    start_s: float
    duration_s: float
    factor: float
    _positive = ("duration_s", "factor")

    def window_s(self) -> tuple[float, float]:
        """The shock's span after the open (s)."""
        return self.start_s, self.start_s + self.duration_s


@dataclass(frozen=True)
class PauseShock(_Checked):
    """A scheduled trading halt of ``duration_s`` from ``start_s`` (the circuit breaker's halt: HALT records,
    orders wait for the resume, cancels go through)."""

    start_s: float
    duration_s: float
    _positive = ("duration_s",)

    def window_s(self) -> tuple[float, float]:
        """The shock's span after the open (s)."""
        return self.start_s, self.start_s + self.duration_s


SHOCK_PRIMITIVES = {"news": NewsShock, "withdrawal": WithdrawalShock, "mark": MarkShock, "pause": PauseShock}
SHOCK_AGENTS = {"news": "value", "withdrawal": "market_maker", "mark": "leveraged"}  # who a shock acts through


@dataclass(frozen=True)
class Shocks:
    """The shock primitives of a market (``[shocks.<primitive>]``; ``None``: no such shock)."""

    news: NewsShock | None = None
    withdrawal: WithdrawalShock | None = None
    mark: MarkShock | None = None
    pause: PauseShock | None = None

    def __post_init__(self) -> None:
        for name, kind in SHOCK_PRIMITIVES.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise ParameterError(f"`{name}` of Shocks must be a {kind.__name__} or None; got {value!r}")

    def present(self) -> dict[str, Any]:
        """The shocks that are set, by primitive name."""
        return {name: getattr(self, name) for name in SHOCK_PRIMITIVES if getattr(self, name) is not None}

    def to_dict(self) -> dict[str, Any]:
        """Return the set shocks as a JSON-serialisable dict (the ``[shocks.<primitive>]`` layout)."""
        return {name: shock.to_dict() for name, shock in self.present().items()}

    @classmethod
    def from_dict(cls, data: Any, source: str) -> Shocks:
        """Read ``[shocks]``: an unknown primitive or key, or a missing key, is an error listing the valid ones."""
        _known(f"{source} [shocks]", "shock primitive", data, list(SHOCK_PRIMITIVES))
        parts = {}
        for name, table in data.items():
            kind = SHOCK_PRIMITIVES[name]
            missing = sorted({f.name for f in fields(kind)} - set(table)) if isinstance(table, dict) else []
            if missing:
                raise ParameterError(
                    f"{source} [shocks.{name}]: missing key {missing[0]!r}; a {name} shock needs "
                    f"{[f.name for f in fields(kind)]}"
                )
            parts[name] = _table(kind, table, f"{source} [shocks.{name}]")
        return cls(**parts)


AGENT_CLASSES = {
    "noise": NoiseAgents,
    "value": ValueAgents,
    "market_maker": MarketMakers,
    "momentum": MomentumAgents,
    "execution": ExecutionAgents,
    "stop_loss": StopLossAgents,
    "leveraged": LeveragedTraders,
}
CLASS_ORDER = tuple(AGENT_CLASSES)  # agent ids follow this order (ABIDES rmsc04's, then the execution agents)


@dataclass(frozen=True)
class MarketConfig:
    """One market: session, fundamental, agent populations, latency and opening book.

    Parameters
    ----------
    name
        Label of the configuration.
    open_ns
        The open, ns since the epoch (default 2021-02-05 09:30 New York, ABIDES rmsc04's day).
    session_s
        Length of the session in seconds (09:30-16:00 = 23400); value agents forecast to its end.
    tick_size, lot_size, instrument, venue
        Written to the outputs' attributes.
    starting_cash_ticks
        Every agent's starting cash, in ticks x lots (ABIDES: 10,000,000 cents).
    shocks
        The scheduled shocks (none by default; a market without shocks runs as before they existed).
    """

    name: str = "abm"
    open_ns: int = 1_612_535_400_000_000_000
    session_s: float = 23_400.0
    tick_size: float = 0.01
    lot_size: float = 1.0
    instrument: str = "ABM"
    venue: str = "simlab-abm"
    starting_cash_ticks: int = 10_000_000
    fundamental: Fundamental = field(default_factory=Fundamental)
    noise: NoiseAgents = field(default_factory=NoiseAgents)
    value: ValueAgents = field(default_factory=ValueAgents)
    market_maker: MarketMakers = field(default_factory=MarketMakers)
    momentum: MomentumAgents = field(default_factory=MomentumAgents)
    execution: ExecutionAgents = field(default_factory=ExecutionAgents)
    stop_loss: StopLossAgents = field(default_factory=StopLossAgents)
    leveraged: LeveragedTraders = field(default_factory=LeveragedTraders)
    latency: Latency = field(default_factory=Latency)
    initial_book: InitialBook = field(default_factory=InitialBook)
    circuit_breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    shocks: Shocks = field(default_factory=Shocks)

    def __post_init__(self) -> None:
        _count("MarketConfig", "open_ns", self.open_ns)
        _count("MarketConfig", "starting_cash_ticks", self.starting_cash_ticks)
        _number("MarketConfig", "session_s", self.session_s, low=0.0, strict=True)
        _number("MarketConfig", "tick_size", self.tick_size, low=0.0, strict=True)
        _number("MarketConfig", "lot_size", self.lot_size, low=0.0, strict=True)
        if self.value.count == 0 and self.market_maker.count == 0 and self.initial_book.levels == 0:
            raise ParameterError(
                f"market {self.name!r} cannot open: it has no liquidity provider (value agents or market makers) and "
                "no initial book; got value.count 0, market_maker.count 0 and initial_book.levels 0"
            )
        for name, shock in self.shocks.present().items():
            start, end = shock.window_s()
            if start < 0 or end > self.session_s or (start == end and start >= self.session_s):
                raise ParameterError(
                    f"`shocks.{name}` of market {self.name!r} must lie within the session (0 to session_s "
                    f"{self.session_s:g} s after the open): a shock outside the session; got {start:g} to {end:g} s"
                )
            if name in SHOCK_AGENTS and getattr(self, SHOCK_AGENTS[name]).count == 0:
                raise ParameterError(
                    f"`shocks.{name}` of market {self.name!r} has no agents to act on: it needs "
                    f"[agents.{SHOCK_AGENTS[name]}] with count > 0; got count 0"
                )

    @property
    def counts(self) -> tuple[int, ...]:
        """Agents per class, in :data:`CLASS_ORDER`."""
        return tuple(getattr(self, name).count for name in CLASS_ORDER)

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as a JSON-serialisable dict (the TOML layout)."""
        top = {f.name: getattr(self, f.name) for f in fields(self) if not hasattr(getattr(self, f.name), "to_dict")}
        out: dict[str, Any] = {"market": top}
        singles = ("fundamental", "latency", "initial_book", "circuit_breaker")
        out.update({name: getattr(self, name).to_dict() for name in singles})
        out["agents"] = {name: getattr(self, name).to_dict() for name in CLASS_ORDER}
        if self.shocks.present():  # a market without shocks keeps the layout it had before shocks existed
            out["shocks"] = self.shocks.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "abm config") -> MarketConfig:
        """Build a config from the TOML layout; an unknown table, agent class or key is an error listing valid ones."""
        tables = {"market", "fundamental", "latency", "initial_book", "circuit_breaker", "agents", "shocks"}
        _known(source, "table", data, tables)
        market = dict(data.get("market", {}))
        top_names = [f.name for f in fields(cls) if f.name not in AGENT_CLASSES and f.name not in tables]
        _known(f"{source} [market]", "key", market, top_names)
        parts: dict[str, Any] = {}
        singles = (("fundamental", Fundamental), ("latency", Latency), ("initial_book", InitialBook))
        for name, kind in (*singles, ("circuit_breaker", CircuitBreaker)):
            parts[name] = _table(kind, data.get(name, {}), f"{source} [{name}]")
        agents = data.get("agents", {})
        _known(f"{source} [agents]", "agent class", agents, list(AGENT_CLASSES))
        for name, kind in AGENT_CLASSES.items():  # a class left out of [agents] has no agents
            parts[name] = _table(kind, agents[name], f"{source} [agents.{name}]") if name in agents else kind(count=0)
        parts["shocks"] = Shocks.from_dict(data.get("shocks", {}), source)
        try:
            return cls(**market, **parts)
        except ParameterError as exc:
            raise ParameterError(f"{source}: {exc}") from None


def read_market_config(path: str | Path) -> tuple[MarketConfig, str]:
    """Read a market configuration TOML file; return the config and the file's text."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"abm config {str(path)!r}: no such file")
    text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"abm config {path}: not valid TOML: {exc}") from None
    return MarketConfig.from_dict(data, source=f"abm config {path.name}"), text


def _known(source: str, what: str, data: Any, valid: Any) -> None:
    if not isinstance(data, dict):
        raise ParameterError(f"{source} must be a table; got {data!r}")
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ParameterError(f"{source}: unknown {what} {unknown[0]!r}; valid ones are {sorted(valid)}")


def _table(kind: type, data: Any, source: str) -> Any:
    valid = [f.name for f in fields(kind)]
    _known(source, "parameter", data, valid)
    try:
        return kind(**data)
    except ParameterError as exc:
        raise ParameterError(f"{source}: {exc}") from None
