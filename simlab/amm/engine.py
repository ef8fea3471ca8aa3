"""The AMM engine: pools x fee designs x market parameters x paths, in numba, into an xarray Dataset.

In every block, in order: the fee rules see the block (``on_block``); the arbitrageur trades the pool to the edge
of the no-trade band against the reference price if the profit exceeds the block's gas cost; the block's noise
traders trade at the fees then in force, each sandwiched by the attacker when the market sets a slippage tolerance
and the attack pays its gas. For the closed-form band see :mod:`simlab.amm.pools`. Paths use common random numbers
across designs (the same reference path, gas and noise for every design).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import xarray as xr

from simlab.amm import _kernels
from simlab.amm.chain import BlockTimes, Gas
from simlab.amm.fees import FeeRule, as_fee
from simlab.amm.metrics import summarise
from simlab.amm.paths import PricePath, gbm_paths
from simlab.amm.pools import ACCOUNTINGS
from simlab.errors import ParameterError
from simlab.provenance import provenance
from simlab.random import spawn

METRICS = _kernels.METRICS


def _check(value: object, name: str, owner: str, *, positive: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and (value > 0 if positive else value >= 0)):
        raise ParameterError(
            f"`{name}` of {owner} must be a finite number {'>' if positive else '>='} 0; got {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class NoiseTraders:
    """Uninformed traders: Poisson arrivals, lognormal (or given) sizes in numeraire, buy or sell with equal odds.

    Parameters
    ----------
    rate_per_s
        Arrival rate (trades per second; 0 switches them off).
    mean_value
        Mean trade size (numeraire) of the lognormal law.
    dispersion
        Standard deviation of the log size.
    sizes
        Trade sizes (numeraire) to resample instead of the lognormal law (e.g. fitted to real swaps).
    fee_elasticity
        A trader facing the fee ``f`` of its direction trades with probability ``exp(-fee_elasticity * f)``
        (0: every trader trades whatever the fee).
    slippage
        Each trader's slippage tolerance, in [0, 1): above 0, a sandwich attacker front-runs every trade where the
        optimal sandwich (:mod:`simlab.amm.sandwich`) pays two transactions' gas; fees at the attack's start
        apply to its three trades. Full-range pools only.
    """

    rate_per_s: float = 0.0
    mean_value: float = 1000.0
    dispersion: float = 1.0
    sizes: tuple[float, ...] | None = None
    fee_elasticity: float = 0.0
    slippage: float = 0.0

    def __post_init__(self) -> None:
        _check(self.rate_per_s, "rate_per_s", "NoiseTraders", positive=False)
        _check(self.mean_value, "mean_value", "NoiseTraders", positive=True)
        _check(self.dispersion, "dispersion", "NoiseTraders", positive=False)
        _check(self.fee_elasticity, "fee_elasticity", "NoiseTraders", positive=False)
        if not 0.0 <= _check(self.slippage, "slippage", "NoiseTraders", positive=False) < 1.0:
            raise ParameterError(f"`slippage` of NoiseTraders must be in [0, 1); got {self.slippage!r}")
        if self.sizes is not None:
            sizes = np.asarray(self.sizes, dtype=np.float64)
            if sizes.size == 0 or not (np.isfinite(sizes) & (sizes > 0)).all():
                bad = sizes[~(np.isfinite(sizes) & (sizes > 0))][:1].tolist()
                raise ParameterError(f"`sizes` of NoiseTraders must be a non-empty list of finite sizes > 0; got "
                                     f"{sizes.size} sizes{f', among them {bad[0]!r}' if bad else ''}")  # fmt: skip

    def sample(self, times: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Return (offsets, values, sides, uniforms): block ``t`` of path ``p`` owns trades
        ``offsets[p * n + t - 1] : offsets[p * n + t]`` (``n`` blocks per path); a trade goes ahead when its
        uniform is below ``exp(-fee_elasticity * fee)``."""
        if self.rate_per_s == 0.0:
            counts = np.zeros(times.shape[0] * (times.shape[1] - 1), dtype=np.int64)
        else:
            counts = rng.poisson(self.rate_per_s * np.diff(times, axis=1)).ravel()
        offsets = np.zeros(counts.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        total = int(offsets[-1])
        if self.sizes is not None:
            values = rng.choice(np.asarray(self.sizes, dtype=np.float64), size=total)
        else:
            mu = math.log(self.mean_value) - 0.5 * self.dispersion**2
            values = rng.lognormal(mu, self.dispersion, size=total)
        sides = np.where(rng.random(total) < 0.5, 1, -1).astype(np.int8)
        return offsets, values, sides, rng.random(total)


@dataclass(frozen=True)
class TradeFlow:
    """A fixed flow of trades (e.g. real swaps replayed): block ``t`` (1-based) holds trades
    ``offsets[t - 1] : offsets[t]`` with ``values`` (numeraire) and ``sides`` (+1 buys x, -1 sells x)."""

    offsets: np.ndarray
    values: np.ndarray
    sides: np.ndarray

    def __post_init__(self) -> None:
        offsets = np.asarray(self.offsets, dtype=np.int64)
        values, sides = np.asarray(self.values, dtype=np.float64), np.asarray(self.sides)  # checked, then int8
        ordered = offsets.ndim == 1 and offsets.size > 0 and offsets[0] == 0 and (np.diff(offsets) >= 0).all()
        if not (ordered and offsets[-1] == values.shape[0]):
            raise ParameterError(f"`offsets` of TradeFlow must start at 0, never decrease and end at len(values) "
                                 f"({values.shape[0]}); got {offsets.shape[0]} offsets from {offsets[:1].tolist()} "
                                 f"to {offsets[-1:].tolist()}")  # fmt: skip
        if values.shape != sides.shape:
            raise ParameterError(f"`values` and `sides` of TradeFlow must hold one entry per trade; got shapes "
                                 f"{values.shape} and {sides.shape}")  # fmt: skip
        bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)) | ~np.isin(sides, (-1, 1)))
        if bad.size:
            raise ParameterError(f"`values` of TradeFlow must be finite and > 0 and `sides` +1 or -1; trade {bad[0]} "
                                 f"has value {values[bad[0]]} and side {sides[bad[0]]}")  # fmt: skip
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "sides", sides.astype(np.int8))

    @property
    def n_blocks(self) -> int:
        """Return the number of blocks the flow covers."""
        return self.offsets.shape[0] - 1

    def tile(self, n_paths: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return the (offsets, values, sides, uniforms) of ``n_paths`` copies laid out path after path (uniforms
        0: every trade goes ahead whatever the fee)."""
        total = self.offsets[-1]
        starts = (self.offsets[:-1][None, :] + total * np.arange(n_paths)[:, None]).ravel()
        values, sides = np.tile(self.values, n_paths), np.tile(self.sides, n_paths)
        return np.append(starts, total * n_paths), values, sides, np.zeros(values.shape[0])


@dataclass(frozen=True)
class Market:
    """One point of the market-parameter grid: reference price, blocks, gas and noise traders.

    Parameters
    ----------
    volatility
        Annualised volatility of the GBM reference (ignored when ``reference`` is given).
    blocks, gas, noise
        Block-time law, gas and noise traders.
    reference
        A fixed reference path (real data) instead of GBM, rescaled to start at the pool's price; its times
        replace the block law. A reference with one row per path (``prices`` of shape ``(n_paths, n + 1)``, e.g.
        crash paths of another world) gives each simulated path its own row, each rescaled to start at the price.
    flow
        A fixed flow of trades (with ``reference``) instead of sampled noise traders.
    repeg_bps
        A pool is mispriced while ``|log(pool / reference)|`` exceeds this (bps); see ``time_to_repeg_s``.
    label
        The name of this point in results (default: built from the fields).
    """

    volatility: float = 0.6
    blocks: BlockTimes = field(default_factory=BlockTimes)
    gas: Gas = field(default_factory=Gas)
    noise: NoiseTraders = field(default_factory=NoiseTraders)
    reference: PricePath | None = None
    flow: TradeFlow | None = None
    repeg_bps: float = 50.0
    label: str | None = None

    def __post_init__(self) -> None:
        _check(self.volatility, "volatility", "Market", positive=False)
        _check(self.repeg_bps, "repeg_bps", "Market", positive=False)
        if self.flow is not None and (self.reference is None or self.flow.n_blocks != self.reference.n_blocks):
            got = None if self.reference is None else self.reference.n_blocks
            raise ParameterError(f"`flow` of Market needs a reference path of as many blocks ({self.flow.n_blocks}); "
                                 f"got {got}")  # fmt: skip

    @property
    def name(self) -> str:
        """Return the label of this point."""
        if self.label:
            return self.label
        if self.reference is not None:
            return f"path={self.reference.source}"
        return f"vol={self.volatility:g},blocks={self.blocks.law}/{self.blocks.mean_s:g}s"


@dataclass(frozen=True)
class PoolSpec:
    """The pool at the start.

    Parameters
    ----------
    value
        Value of the reserves at the initial price (numeraire).
    price
        Initial pool and reference price (numeraire per risky token).
    accounting
        ``"aside"`` (v3: fees kept apart) or ``"reserves"`` (v2: fees join the reserves; full range only).
    lower, upper
        Price range of a concentrated position (both or neither); None: the full range (constant product).
    """

    value: float = 1e6
    price: float = 3000.0
    accounting: Literal["aside", "reserves"] = "aside"
    lower: float | None = None
    upper: float | None = None

    def __post_init__(self) -> None:
        _check(self.value, "value", "PoolSpec", positive=True)
        _check(self.price, "price", "PoolSpec", positive=True)
        if self.accounting not in ACCOUNTINGS:
            raise ParameterError(f"`accounting` of PoolSpec must be one of {ACCOUNTINGS}; got {self.accounting!r}")
        if (self.lower is None) != (self.upper is None):
            raise ParameterError(f"`lower` and `upper` of PoolSpec must be given together (a range) or both None; "
                                 f"got lower={self.lower!r}, upper={self.upper!r}")  # fmt: skip
        if self.lower is not None:
            _check(self.lower, "lower", "PoolSpec", positive=True)
            if not self.lower < self.price < self.upper:
                raise ParameterError(f"`lower` < `price` < `upper` of PoolSpec must hold (lower >= upper is no "
                                     f"range); got {self.lower} < {self.price} < {self.upper}")  # fmt: skip
            if self.accounting == "reserves":
                raise ParameterError(
                    "`accounting` of PoolSpec must be 'aside' for a concentrated range; got 'reserves'"
                )

    def vector(self, repeg_bps: float, fee_elasticity: float = 0.0, slippage: float = 0.0) -> np.ndarray:
        """Return the kernel's pool vector (real reserves, virtual offsets, range, accounting, re-peg gap,
        noise traders' fee elasticity and slippage tolerance)."""
        root = math.sqrt(self.price)
        if self.lower is None:
            x0 = self.value / (2.0 * self.price)
            return np.array([x0, x0 * self.price, 0.0, 0.0, 0.0, math.inf, self.accounting == "reserves",
                             repeg_bps * 1e-4, fee_elasticity, slippage])  # fmt: skip
        if slippage > 0.0:
            raise ParameterError(f"`slippage` of NoiseTraders must be 0 with a concentrated range (the sandwich "
                                 f"attacker is modelled on full-range pools); got {slippage}")  # fmt: skip
        per_x, per_y = 1.0 / root - 1.0 / math.sqrt(self.upper), root - math.sqrt(self.lower)
        liquidity = self.value / (per_x * self.price + per_y)
        return np.array([liquidity * per_x, liquidity * per_y, liquidity / math.sqrt(self.upper),
                         liquidity * math.sqrt(self.lower), self.lower, self.upper, 0.0, repeg_bps * 1e-4,
                         fee_elasticity, 0.0])  # fmt: skip


def market_inputs(market: Market, pool: PoolSpec, n_paths: int, n_blocks: int, rng: np.random.Generator) -> dict:
    """Return the kernel inputs of one market point: prices, times, gas, noise (``n_paths`` rows)."""
    if market.reference is not None:
        ref = market.reference
        if ref.n_paths is not None and ref.n_paths != n_paths:
            raise ParameterError(f"`n_paths` of simulate_amm must equal the {ref.n_paths} paths of the reference "
                                 f"{ref.source}; got {n_paths}")  # fmt: skip
        times = np.broadcast_to(ref.times, (n_paths, ref.n_blocks + 1)).copy()
        price = np.broadcast_to(ref.prices * (pool.price / ref.prices[..., :1]), times.shape).copy()
        log_price, n_blocks = np.log(price), ref.n_blocks
    else:
        times = market.blocks.sample(n_paths, n_blocks, rng)
        price, log_price = gbm_paths(market.volatility, times, pool.price, rng)
    gas = market.gas.sample(n_paths, n_blocks, rng)
    starts, values, sides, uniforms = (
        market.noise.sample(times, rng) if market.flow is None else market.flow.tile(n_paths)
    )
    return dict(price=price, log_price=log_price, times=times, gas=gas, starts=starts, noise_value=values,
                noise_side=sides, noise_u=uniforms)  # fmt: skip


def simulate_amm(
    designs: Sequence[FeeRule | str | tuple | dict],
    *,
    markets: Market | Sequence[Market] = Market(),
    pool: PoolSpec = PoolSpec(),
    n_paths: int = 100,
    n_blocks: int = 300,
    seed: int,
) -> xr.Dataset:
    """Simulate every fee design in every market on ``n_paths`` paths of ``n_blocks`` blocks.

    Parameters
    ----------
    designs
        Fee designs (rules, names, ``(name, params)`` or ``{"name": ...}``), see :mod:`simlab.amm.fees`.
    markets
        One market or a grid of them (the ``parameter`` dimension).
    pool
        The pool at the start (value, price, accounting, range).
    n_paths, n_blocks
        Paths per market point and blocks per path (a market with a fixed reference uses its own length).
    seed
        Root seed; market point ``i`` uses the ``i``-th spawned stream for its paths, gas and noise.

    Returns
    -------
    xarray.Dataset
        ``value`` over (design, parameter, path, metric) (money in numeraire, ``*_rel`` per block relative to the
        pool value, ``*_bps`` in basis points, times in s), plus the summary of :func:`simlab.amm.metrics.summarise`
        and provenance in attrs.
    """
    rules = [as_fee(d) for d in designs]
    markets = [markets] if isinstance(markets, Market) else list(markets)
    for name, value in (("n_paths", n_paths), ("n_blocks", n_blocks)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ParameterError(f"`{name}` of simulate_amm must be an int >= 1; got {value!r}")
    if not rules or not markets:
        raise ParameterError(f"simulate_amm needs at least one design and one market; got {len(rules)} designs and "
                             f"{len(markets)} markets")  # fmt: skip
    lengths = {m.reference.n_blocks if m.reference is not None else n_blocks for m in markets}
    if len(lengths) > 1:
        raise ParameterError(f"every market of simulate_amm must have the same number of blocks; got {sorted(lengths)}")
    kinds = np.array([r.kind for r in rules], dtype=np.int64)
    params = np.stack([r.vector() for r in rules])
    values = np.empty((len(rules), len(markets), n_paths, len(METRICS)))
    for index, (market, rng) in enumerate(zip(markets, spawn(seed, len(markets)), strict=True)):
        data = market_inputs(market, pool, n_paths, n_blocks, rng)
        out = np.empty((len(rules), n_paths, len(METRICS)))
        vector = pool.vector(market.repeg_bps, market.noise.fee_elasticity, market.noise.slippage)
        noise = (data["starts"], data["noise_value"], data["noise_side"], data["noise_u"])
        _kernels.simulate(kinds, params, data["price"], data["log_price"], data["times"], data["gas"], *noise,
                          vector, out)  # fmt: skip
        values[:, index] = out
    coords = dict(design=_text([r.label for r in rules]), parameter=_text([m.name for m in markets]),
                  path=np.arange(n_paths), metric=_text(METRICS),
                  design_short=("design", _text([r.short_label for r in rules])))  # fmt: skip
    dataset = xr.Dataset({"value": (("design", "parameter", "path", "metric"), values)}, coords=coords)
    config = dict(designs=[r.label for r in rules], markets=[_describe(m) for m in markets], pool=asdict(pool),
                  n_paths=n_paths, n_blocks=int(lengths.pop()))  # fmt: skip
    dataset.attrs.update(provenance(seed=seed, config=config))
    return dataset.merge(summarise(dataset["value"], seed=seed))


def _text(items) -> np.ndarray:
    """Return labels as an object array (zarr v3 specifies variable-length strings, not fixed-width ones)."""
    return np.array(list(items), dtype=object)


def _describe(market: Market) -> dict:
    out = asdict(market) | {"label": market.name}
    if market.reference is not None:
        out["reference"] = f"{market.reference.source} ({market.reference.n_blocks} blocks)"
    if market.noise.sizes is not None:
        out["noise"]["sizes"] = f"{len(market.noise.sizes)} empirical sizes"
    if market.flow is not None:
        out["flow"] = f"{market.flow.values.shape[0]} fixed trades"
    return out
