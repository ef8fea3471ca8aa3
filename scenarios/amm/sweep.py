"""AMM design sweeps: a TOML spec -> a frozen model that rejects unknown keys -> ``simulate_amm`` -> a store and a
ranked summary.

A spec has a ``[sweep]`` table (seed, paths, blocks, the metric to rank by), a ``[pool]`` table, one
``[[designs]]`` table per fee design (``name`` plus parameters; a list of values sweeps that parameter, several
lists sweep their product) and one ``[[markets]]`` table per market point (volatility, ``blocks``, ``gas``,
``noise``). ``scenarios/library/amm_*.toml`` are reference specs, loadable by name.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, field_validator

from scenarios.report_html import format_interval
from scenarios.specs import StrictModel, parse_spec_data, read_spec
from simlab.amm.chain import BlockTimes, Gas
from simlab.amm.engine import METRICS, Market, NoiseTraders, PoolSpec, simulate_amm
from simlab.amm.fees import FeeRule, make_fee
from simlab.errors import ParameterError
from simlab.provenance import provenance
from simlab.store import write_store

_UNITLESS = {m for m in METRICS if m.endswith(("_rel", "_bps", "_s", "_share"))}
SUMMARY_METRICS = (
    "lp_pnl",
    "hedged_lp_pnl",
    "lvr",
    "fees_arb",
    "fees_noise",
    "arb_profit",
    "noise_cost",
    "sandwich_profit",
)


class SweepSpec(StrictModel):
    """The ``[sweep]`` table: root seed, paths and blocks per market point, the ranking metric and order."""

    name: str = "amm-sweep"
    seed: int = Field(0, ge=0)
    paths: int = Field(200, ge=1)
    blocks: int = Field(300, ge=1)
    rank_by: str = "hedged_lp_pnl"
    descending: bool = True

    @field_validator("rank_by")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"must be one of the metrics {', '.join(METRICS)}")
        return value


class PoolTable(StrictModel):
    """The ``[pool]`` table (see :class:`simlab.amm.engine.PoolSpec`)."""

    value: float = 1e6
    price: float = 3000.0
    accounting: Literal["aside", "reserves"] = "aside"
    lower: float | None = None
    upper: float | None = None


class BlocksTable(StrictModel):
    """A market's ``blocks`` table (see :class:`simlab.amm.chain.BlockTimes`)."""

    law: Literal["fixed", "poisson", "missed_slots"] = "fixed"
    mean_s: float = 12.0
    miss_probability: float = 0.0


class GasTable(StrictModel):
    """A market's ``gas`` table (see :class:`simlab.amm.chain.Gas`)."""

    gas_units: float = 0.0
    base_fee_gwei: float = 20.0
    priority_fee_gwei: float = 1.0
    native_price: float = 3000.0
    utilisation_concentration: float = 2.0


class NoiseTable(StrictModel):
    """A market's ``noise`` table (see :class:`simlab.amm.engine.NoiseTraders`)."""

    rate_per_s: float = 0.0
    mean_value: float = 1000.0
    dispersion: float = 1.0
    fee_elasticity: float = 0.0
    slippage: float = 0.0


class MarketTable(StrictModel):
    """One ``[[markets]]`` table."""

    label: str | None = None
    volatility: float = 0.6
    repeg_bps: float = 50.0
    blocks: BlocksTable = Field(default_factory=BlocksTable)
    gas: GasTable = Field(default_factory=GasTable)
    noise: NoiseTable = Field(default_factory=NoiseTable)

    def market(self) -> Market:
        """Return the engine's market."""
        return Market(volatility=self.volatility, blocks=BlockTimes(**self.blocks.model_dump()),
                      gas=Gas(**self.gas.model_dump()), noise=NoiseTraders(**self.noise.model_dump()),
                      repeg_bps=self.repeg_bps, label=self.label)  # fmt: skip


class DesignTable(BaseModel):
    """One ``[[designs]]`` table: ``name`` and the design's parameters (numbers, or lists of numbers to sweep);
    the parameter names are checked by the fee registry, which lists the valid ones."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str

    def rules(self) -> list[FeeRule]:
        """Return one rule per point of the product of the listed values."""
        params = dict(self.model_extra or {})
        grid = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
        return [
            make_fee(self.name, **dict(zip(grid, point, strict=True))) for point in itertools.product(*grid.values())
        ]


class AmmSweep(StrictModel):
    """A whole sweep spec."""

    sweep: SweepSpec = Field(default_factory=SweepSpec)
    pool: PoolTable = Field(default_factory=PoolTable)
    designs: list[DesignTable] = Field(min_length=1)
    markets: list[MarketTable] = Field(default_factory=lambda: [MarketTable()], min_length=1)


def parse_sweep(data: dict[str, Any], source: str = "spec") -> AmmSweep:
    """Validate a spec mapping; the first problem becomes one ParameterError sentence naming the field."""
    return parse_spec_data(AmmSweep, data, source)


def load_sweep(path: str | Path) -> tuple[AmmSweep, str]:
    """Read a sweep TOML file, or a spec of ``scenarios/library/`` by name (``"amm_fee_levels"``); return the
    spec and its text."""
    return read_spec(AmmSweep, path, "AMM sweep")


def run_sweep(path: str | Path, output: str | Path, *, overwrite: bool = False) -> list[dict[str, Any]]:
    """Run the sweep of ``path``, write its Dataset to the store ``output`` and return the ranked summary rows."""
    spec, text = load_sweep(path)
    designs = [rule for table in spec.designs for rule in table.rules()]
    pool = PoolSpec(**spec.pool.model_dump())
    dataset = simulate_amm(designs, markets=[m.market() for m in spec.markets], pool=pool,
                           n_paths=spec.sweep.paths, n_blocks=spec.sweep.blocks, seed=spec.sweep.seed)  # fmt: skip
    attrs = provenance(seed=spec.sweep.seed, config=text)
    write_store(dataset, output, attrs=attrs, overwrite=overwrite)
    return ranked_summary(dataset, spec.sweep.rank_by, pool_value=pool.value, descending=spec.sweep.descending)


def ranked_summary(
    dataset: xr.Dataset, rank_by: str, *, pool_value: float, descending: bool = True
) -> list[dict[str, Any]]:
    """Return one row per (market, design), ranked by the mean of ``rank_by`` within each market.

    Money is in basis points of ``pool_value`` (the pool's initial value); each row gives the ranking metric's
    95% interval.
    """
    if rank_by not in METRICS:
        raise ParameterError(
            f"`rank_by` of ranked_summary must be one of the metrics {', '.join(METRICS)}; got {rank_by!r}"
        )
    value = pool_value
    rows = []
    for parameter in dataset["parameter"].values:
        mean = dataset["mean"].sel(parameter=parameter)
        key = mean.sel(metric=rank_by).values
        order = np.argsort(-key if descending else key, kind="stable")
        for rank, d in enumerate(order, start=1):
            row: dict[str, Any] = {
                "market": str(parameter),
                "rank": rank,
                "design": str(dataset["design_short"].values[d]),
            }
            low = float(dataset["ci_low"].sel(parameter=parameter, metric=rank_by)[d])
            high = float(dataset["ci_high"].sel(parameter=parameter, metric=rank_by)[d])
            scale = 1e4 / value if rank_by not in _UNITLESS else 1.0
            row[f"{rank_by} (95% CI)"] = format_interval(key[d] * scale, low * scale, high * scale, digits=".2f")
            for metric in SUMMARY_METRICS:
                row[f"{metric}_bps"] = round(float(mean.sel(metric=metric)[d]) * 1e4 / value, 3)
            row["cvar_5_bps"] = round(float(dataset["cvar_5"].sel(parameter=parameter)[d]) * 1e4 / value, 3)
            rows.append(row)
    return rows
