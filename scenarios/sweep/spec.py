"""Sweep specs: a TOML file read into a frozen model that rejects unknown keys.

```toml
[sweep]
name = "fee-vs-volatility"
job = "amm"                  # a registered job (amm, hawkes, forecast, ...) or a dotted path "package.module:function"
seed = 7                     # the root seed: every point's seed is spawned from it in design order
paths = 200                  # paths per point
metrics = ["lp_pnl", "lvr"]  # the job's outputs to keep (default: all)
retries = 1                  # a point whose job raises is run again this many times before it is a failed row
allowed_failures = 3         # Dask: times a task may be on a worker that dies before it is given up
task_seconds = 1.0           # each task carries at least about this much work (measured on a pilot point)

[design]
kind = "grid"                # "grid" (every combination), "lhs" (Latin hypercube) or "sobol" (scrambled Sobol)
n = 64                       # points of an lhs or sobol design (sobol: a power of 2)

[parameters]                 # a list sweeps (grid: its values; lhs/sobol: its levels), a range table samples
fee = [0.0005, 0.003]        # (lhs/sobol only), a single value is passed to every point unchanged
volatility = { low = 0.2, high = 1.2, log = false }
blocks = 600
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from scenarios.specs import StrictModel, parse_spec_data, read_spec

Scalar = bool | int | float | str
DESIGN_KINDS = ("grid", "lhs", "sobol")


class SweepTable(StrictModel):
    """The ``[sweep]`` table: name, job, root seed, paths per point, metrics kept, retries and task size."""

    name: str = "sweep"
    job: str
    seed: int = Field(ge=0)
    paths: int = Field(1, ge=1)
    metrics: list[str] | None = None
    retries: int = Field(1, ge=0)
    allowed_failures: int = Field(3, ge=0)
    task_seconds: float = Field(1.0, gt=0)

    @field_validator("job")
    @classmethod
    def _job(cls, value: str) -> str:
        from scenarios.sweep.jobs import check_job_name

        check_job_name(value)
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or len(set(value)) != len(value)):
            raise ValueError("must list at least one metric, each once")
        return value


class DesignTable(StrictModel):
    """The ``[design]`` table: the kind of design and, for ``lhs`` and ``sobol``, its number of points."""

    kind: Literal["grid", "lhs", "sobol"] = "grid"
    n: int | None = Field(None, ge=1)


class RangeTable(StrictModel):
    """A sampled parameter: uniform on [low, high), or log-uniform with ``log = true``."""

    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _range(self) -> RangeTable:
        if not self.low < self.high:
            raise ValueError(f"is an empty range: `low` must be < `high`; got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"is a log range, so `low` must be > 0; got {self.low}")
        return self


class SweepSpec(StrictModel):
    """A whole sweep spec."""

    sweep: SweepTable
    design: DesignTable = Field(default_factory=DesignTable)
    parameters: dict[str, Scalar | list[Scalar] | RangeTable] = Field(default_factory=dict)

    @field_validator("parameters", mode="before")
    @classmethod
    def _ranges(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        for name, item in value.items():
            if isinstance(item, dict):
                try:
                    item = RangeTable.model_validate(item)
                except ValidationError as exc:
                    error = exc.errors()[0]
                    where = ".".join(str(p) for p in error["loc"])
                    text = error["msg"].removeprefix("Value error, ")
                    raise ValueError(f"`parameters.{name}{'.' + where if where else ''}` {text}") from None
            out[name] = item
        return out

    @model_validator(mode="after")
    def _design(self) -> SweepSpec:
        for name, value in self.parameters.items():
            if isinstance(value, list) and not value:
                raise ValueError(f"`parameters.{name}` is an empty list of values; a swept parameter needs >= 1")
            if isinstance(value, RangeTable) and self.design.kind == "grid":
                raise ValueError(f"`parameters.{name}` is a range, which a grid cannot enumerate; give a list of "
                                 f"values or use design kind 'lhs' or 'sobol'")  # fmt: skip
        if self.design.kind != "grid":
            n = self.design.n
            if n is None:
                raise ValueError(f"`design.n` (the number of points) is required by design kind {self.design.kind!r}")
            if self.design.kind == "sobol" and n & (n - 1):
                raise ValueError(f"`design.n` of a sobol design must be a power of 2 (its balance); got {n}")
        elif self.design.n is not None:
            raise ValueError(f"`design.n` applies to lhs and sobol designs; a grid has one point per combination, "
                             f"got n={self.design.n}")  # fmt: skip
        return self

    def swept(self) -> dict[str, list[Scalar] | RangeTable]:
        """Return the swept parameters (lists and ranges) in spec order."""
        return {k: v for k, v in self.parameters.items() if isinstance(v, (list, RangeTable))}

    def fixed(self) -> dict[str, Scalar]:
        """Return the parameters given one value, passed to every point unchanged."""
        return {k: v for k, v in self.parameters.items() if not isinstance(v, (list, RangeTable))}


def parse_sweep_spec(data: dict, source: str = "spec") -> SweepSpec:
    """Validate a spec mapping; the first problem becomes one ParameterError sentence naming the field."""
    return parse_spec_data(SweepSpec, data, source)


def load_sweep_spec(path: str | Path) -> tuple[SweepSpec, str]:
    """Read a sweep TOML file, or a spec of ``scenarios/library/`` by name; return the spec and its text."""
    return read_spec(SweepSpec, path, "sweep")
