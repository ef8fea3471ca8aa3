"""AMM design sweeps: a TOML spec -> a frozen model that rejects unknown keys -> the sweep runner (one point per
market and fee design, on Dask) -> a store and a ranked summary.

A spec has a ``[sweep]`` table (seed, paths, blocks, the metric to rank by), a ``[pool]`` table, one
``[[designs]]`` table per fee design (``name`` plus parameters; a list of values sweeps that parameter, several
lists sweep their product) and one ``[[markets]]`` table per market point (volatility, ``blocks``, ``gas``,
``noise``). ``scenarios/library/amm_*.toml`` are reference specs, loadable by name.
"""

from __future__ import annotations

import inspect
import itertools
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, field_validator

from scenarios.report_html import format_interval
from scenarios.specs import StrictModel, parse_spec_data, read_spec
from scenarios.sweep.design import Design
from scenarios.sweep.runner import Plan, run_plan
from simlab.amm import _kernels
from simlab.amm.chain import BlockTimes, Gas
from simlab.amm.engine import METRICS, Market, NoiseTraders, PoolSpec, market_inputs
from simlab.amm.fees import FeeRule, as_fee, make_fee
from simlab.amm.metrics import summarise
from simlab.errors import ParameterError

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


SUMMARY_DESIGNS = 128


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


def sweep_plan(spec: AmmSweep, text: str, *, task_seconds: float = 5.0) -> Plan:
    """Return the runner's plan of a spec: one point per (market, design), the market outer, so that a task's
    points share their market's paths.

    Every design of market ``i`` gets the ``i``-th seed spawned from the root seed (common random numbers: the same
    reference path, gas and noise for every design), as :func:`simlab.amm.engine.simulate_amm` gives it, so the
    runner's results equal the in-process engine's bit for bit.
    """
    designs = [rule for table in spec.designs for rule in table.rules()]
    markets = [m.market() for m in spec.markets]
    PoolSpec(**spec.pool.model_dump())  # validated here, before any worker starts
    dims = ("parameter", "design")
    coords = {"parameter": _text([m.name for m in markets]), "design": _text([r.label for r in designs])}
    points = [{"market": m, "design": d} for m in range(len(markets)) for d in range(len(designs))]
    market_seeds = np.random.SeedSequence(spec.sweep.seed).spawn(len(markets))
    fixed = {"designs": [{"name": r.name, **asdict(r)} for r in designs],
             "markets": [m.model_dump() for m in spec.markets], "pool": spec.pool.model_dump(),
             "blocks": spec.sweep.blocks}  # fmt: skip
    design = Design(dims, coords, {}, points)
    return Plan(name=spec.sweep.name, job="scenarios.amm.sweep:design_job", design=design,
                seeds=[market_seeds[p["market"]] for p in points], fixed=fixed, paths=spec.sweep.paths, metrics=None,
                retries=0, allowed_failures=3, task_seconds=task_seconds, seed=spec.sweep.seed,
                config=text)  # fmt: skip


def run_sweep(
    path: str | Path,
    output: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Run the sweep of ``path`` through the sweep runner into the store ``output``, add its summary and return
    the ranked summary rows (empty while points are missing or failed; the store's attributes count them).

    ``workers``, ``scheduler``, ``resume`` and ``progress`` are those of :func:`scenarios.sweep.runner.run_plan`.
    """
    spec, text = load_sweep(path)
    result = run_plan(sweep_plan(spec, text), output, workers=workers, scheduler=scheduler, resume=resume,
                      overwrite=overwrite, progress=progress)  # fmt: skip
    if result.failed or result.pending:
        return []
    dataset = add_summary(output, spec.sweep.seed, [r.short_label for t in spec.designs for r in t.rules()])
    pool_value = spec.pool.value
    return ranked_summary(dataset, spec.sweep.rank_by, pool_value=pool_value, descending=spec.sweep.descending)


def add_summary(output: str | Path, seed: int, short_labels: list[str]) -> xr.Dataset:
    """Add the summary of :func:`simlab.amm.metrics.summarise` (means, intervals, CVaR over paths) and the designs'
    short labels to a finished AMM sweep store, reading ``SUMMARY_DESIGNS`` designs at a time; return the summary."""
    dataset = xr.open_zarr(output, consolidated=False)
    blocks = []
    for start in range(0, dataset.sizes["design"], SUMMARY_DESIGNS):  # memory: one block of designs at a time
        part = dataset[list(METRICS)].isel(design=slice(start, start + SUMMARY_DESIGNS)).to_array("metric")
        value = part.transpose("parameter", "design", "path", "metric").load().assign_coords(metric=_text(METRICS))
        blocks.append(summarise(value, seed=seed))  # the bootstrap draws the same resamples for every block
    summary = xr.concat(blocks, "design").assign_coords(design_short=("design", _text(short_labels)))
    appended = summary.drop_vars(["parameter", "design"])
    appended.attrs = dict(dataset.attrs)  # xarray's append rewrites the root attributes: keep the provenance
    appended.to_zarr(output, mode="a", consolidated=False)
    return summary


def design_job(
    seed: np.random.SeedSequence,
    paths: int,
    *,
    market: int,
    design: int,
    designs: list[dict[str, Any]],
    markets: list[dict[str, Any]],
    pool: dict[str, Any],
    blocks: int,
) -> xr.Dataset:
    """Simulate fee design ``designs[design]`` in market ``markets[market]`` on ``paths`` paths of ``blocks``
    blocks; return one variable per metric over ``path`` (the sweep job of :func:`sweep_plan`).

    The market's inputs (paths, gas, noise) depend only on the market, its seed, the pool and the sizes: the last
    ones are kept in the worker, so consecutive designs of one market draw them once.
    """
    pool_spec = PoolSpec(**pool)
    table = MarketTable(**markets[market])
    inputs = _market_inputs(json.dumps([markets[market], pool], sort_keys=True), seed, paths, blocks)
    rule = as_fee(dict(designs[design]))
    out = np.empty((1, paths, len(METRICS)))
    vector = pool_spec.vector(table.repeg_bps, table.noise.fee_elasticity, table.noise.slippage)
    noise = (inputs["starts"], inputs["noise_value"], inputs["noise_side"], inputs["noise_u"])
    _kernels.simulate(np.array([rule.kind], dtype=np.int64), rule.vector()[None, :], inputs["price"],
                      inputs["log_price"], inputs["times"], inputs["gas"], *noise, vector, out)  # fmt: skip
    return xr.Dataset({name: ("path", out[0, :, k]) for k, name in enumerate(METRICS)})


_INPUTS: dict[tuple, dict[str, np.ndarray]] = {}


def _market_inputs(described: str, seed: np.random.SeedSequence, paths: int, blocks: int) -> dict[str, np.ndarray]:
    key = (described, seed.entropy, seed.spawn_key, paths, blocks)
    if key not in _INPUTS:
        _INPUTS.clear()
        market, pool = json.loads(described)
        rng = np.random.default_rng(seed)
        _INPUTS[key] = market_inputs(MarketTable(**market).market(), PoolSpec(**pool), paths, blocks, rng)
    return _INPUTS[key]


def amm_job(
    seed: np.random.SeedSequence,
    paths: int,
    *,
    design: str = "static",
    blocks: int = 300,
    volatility: float = 0.6,
    repeg_bps: float = 50.0,
    block_law: str = "fixed",
    block_mean_s: float = 12.0,
    miss_probability: float = 0.0,
    gas_units: float = 0.0,
    base_fee_gwei: float = 20.0,
    noise_rate_per_s: float = 0.0,
    noise_mean_value: float = 1000.0,
    noise_fee_elasticity: float = 0.0,
    noise_slippage: float = 0.0,
    pool_value: float = 1e6,
    pool_price: float = 3000.0,
    **fee_parameters: float,
) -> xr.Dataset:
    """Simulate one fee design (``design`` with ``fee_parameters``, see :mod:`simlab.amm.fees`) in one market on
    ``paths`` paths of ``blocks`` blocks; return one variable per metric (:data:`METRICS`) over ``path``: the
    ``amm`` job of the sweep runner, whose parameters are the market's, the pool's and the design's, flat."""
    market = {"volatility": volatility, "repeg_bps": repeg_bps,
              "blocks": {"law": block_law, "mean_s": block_mean_s, "miss_probability": miss_probability},
              "gas": {"gas_units": gas_units, "base_fee_gwei": base_fee_gwei},
              "noise": {"rate_per_s": noise_rate_per_s, "mean_value": noise_mean_value,
                        "fee_elasticity": noise_fee_elasticity, "slippage": noise_slippage}}  # fmt: skip
    rule = make_fee(design, **fee_parameters)
    return design_job(seed, paths, market=0, design=0, designs=[{"name": rule.name, **asdict(rule)}],
                      markets=[market], pool={"value": pool_value, "price": pool_price}, blocks=blocks)  # fmt: skip


def _check_amm_parameters(values: dict[str, list[Any]]) -> None:
    fee_names_given = set(values) - set(inspect.signature(amm_job).parameters)
    for design in dict.fromkeys(values.get("design", ["static"])):
        make_fee(design, **{name: values[name][0] for name in fee_names_given})


amm_job.check_parameters = _check_amm_parameters  # type: ignore[attr-defined]


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


def _text(items) -> np.ndarray:
    return np.array(list(items), dtype=object)
