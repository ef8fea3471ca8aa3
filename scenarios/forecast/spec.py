"""Forecast benchmark specs: a TOML file read into frozen models that reject unknown keys.

```toml
[run]
name = "btc-vs-synthetic"
seed = 7

[[data]]                       # one table per series: a Hawkes preset simulated, or real capture windows
name = "synthetic"
source = "preset"
preset = "binance-usdm-btcusdt"
duration_s = 3600.0

[[data]]
name = "BTCUSDT"
source = "real"
files = [["binance_ws_l2_trades_hftbacktest/usdm/btcusdt_20240808.trades.csv.gz"]]   # under the data folder
# format = "binance-trades"; options = {sort = true}  # raw files only; a store (simlab ingest) needs neither

[target]                       # bin, horizon (a multiple of the bin) and signal threshold
bin_s = 1.0
horizon_s = 1.0
threshold = 0.1

[protocol]
n_folds = 5

[models]
include = ["mean", "persistence", "ewma", "ar", "var", "logistic", "fnn", "hybrid_honest", "hybrid_nowcast",
           "hawkes", "oracle"]
lags = 5

[paper]                        # the hybrid's sensitivity grid: "none", "grid" (120 configurations) or "lhs"
sensitivity = "lhs"
n_configs = 12

[tstr]                         # train on synthetic (a preset fitted on the training block), test on real
enabled = true
```

A spec with a ``[task]`` section runs a book task instead (:mod:`scenarios.forecast.task_runner`; data of source
``"lobster"``, ``"planted"`` or ``"preset"``, a simulated book preset), e.g. ``scenarios/library/deep_lob.toml``::

    [task]
    name = "direction"             # direction, big_move, realised_vol, slippage
    horizon_events = 50            # or horizon_s
    threshold_ticks = 0.5
    models = ["deeplob", "flow_logistic", "last_label", "prior"]
    reference = "flow_logistic"    # the Diebold-Mariano baseline

Several tasks on the same series go in ``[[tasks]]`` tables instead (each series is read once), e.g.
``scenarios/library/deep_binance_btcusdt.toml``; ``source = "binance_ws"`` data read a Binance WebSocket capture
with its L2 book rebuilt.

A spec with a ``[safe_size]`` table (and no ``[[data]]``) runs the safe order size task in the agent-based market
(:mod:`scenarios.forecast.safe_size_run`), e.g. ``scenarios/library/safe_size_abm_amzn.toml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from scenarios.specs import StrictModel, parse_spec_data, read_spec

MODEL_NAMES = (
    "mean",
    "persistence",
    "ewma",
    "ar",
    "var",
    "logistic",
    "fnn",
    "hybrid_honest",
    "hybrid_nowcast",
    "hawkes",
    "oracle",
)
TASK_MODEL_NAMES = (
    "deeplob", "event_transformer", "footprint_cnn", "flow_logistic", "har", "book_now", "last_label", "prior",
    "oracle",
)  # fmt: skip
"""Forecasters of the book tasks (``[task] models``); see :mod:`scenarios.forecast.deep` and
:mod:`scenarios.forecast.footprint_cnn`, :mod:`scenarios.forecast.task_protocol`; ``oracle`` is the Monte Carlo
ceiling on a simulated Hawkes-driven book (:mod:`scenarios.forecast.book_oracle`)."""


class RunSpec(StrictModel):
    """Name and root seed of the run."""

    name: str = "forecast"
    seed: int = Field(0, ge=0)


class DataSpec(StrictModel):
    """One series: ``source = "preset"`` simulates ``duration_s`` seconds of a Hawkes preset; ``"real"`` reads
    ``files`` (one list per capture window, relative to the data folder: a simlab store, or consecutive raw files
    read with ``format`` and the reader ``options``) and counts trades of one side sharing a timestamp as one market
    order (``aggregate = true``, the presets' events) or each trade (``false``, the paper's trade counts)."""

    name: str
    source: Literal["preset", "real", "lobster", "planted", "binance_ws"]
    preset: str | None = None
    duration_s: float = Field(3600.0, gt=0)
    burn_in_s: float = Field(300.0, ge=0)
    files: list[list[str]] = Field(default_factory=list)
    format: str = "auto"
    options: dict[str, Any] = Field(default_factory=dict)
    aggregate: bool = True
    levels: int = Field(10, ge=1)
    rows: int = Field(20_000, ge=100)
    signal: float = Field(0.9, ge=0, le=1)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _source_fields(self) -> DataSpec:
        if self.source == "preset" and not self.preset:
            raise ValueError(f"data {self.name!r}: source 'preset' needs `preset` (a preset name or file)")
        if self.source in ("real", "lobster", "binance_ws") and not self.files:
            raise ValueError(f"data {self.name!r}: source 'real' needs `files` (lists of files per window)")
        return self


class TargetSpec(StrictModel):
    """Count bin and forecast horizon in seconds, and the OFI signal threshold."""

    bin_s: float = Field(1.0, gt=0)
    horizon_s: float = Field(1.0, gt=0)
    threshold: float = Field(0.1, ge=0)


class TaskSpec(StrictModel):
    """A book task (:mod:`scenarios.forecast.tasks`) and its forecasters, for ``lobster``, ``binance_ws``,
    ``planted`` and ``preset`` data: ``source = "lobster"`` reads a LOBSTER sample (``files = [[message]]`` replayed
    to ``levels`` levels, or ``[[message, orderbook]]``), ``"binance_ws"`` a raw Binance WebSocket capture window
    (``files = [[consecutive capture files]]``, the L2 book rebuilt to ``levels`` levels from its REST snapshot and
    diffs: :func:`scenarios.forecast.books.binance_series`), ``"planted"`` draws ``rows`` rows of a planted-signal
    book (:mod:`scenarios.forecast.planted`), ``"preset"`` simulates ``duration_s`` seconds of a book preset with
    seed ``seed`` and ``levels`` levels (a Hawkes-driven one, e.g. hawkes-aapl, gives the model ``oracle`` its
    ceiling from ``oracle_paths`` continuations per origin). ``preset`` sizes the deep models (``tiny``, ``cpu``,
    ``full``), ``window`` overrides its input rows (the footprint CNN's bins of ``footprint_bin_s`` seconds, on
    ``2 footprint_ticks + 1`` price levels); ``tstr`` adds train-synthetic-test-real against train-real-test-real
    (:mod:`scenarios.forecast.book_tstr`) and a mixed arm (a share ``tstr_mix_share`` synthetic), tested on every
    ``tstr_stride``-th origin after the first ``tstr_train_fraction`` of the rows; ``tstr_source`` is ``"qr"`` (a
    queue-reactive model fitted on the rows before the cut), ``"hawkes:NAME"`` (the Hawkes-driven book preset
    NAME's recipe refitted on the rows of its data before the cut), ``"preset:NAME"`` (a book preset as shipped,
    e.g. hawkes-aapl), ``"abm:PATH"`` (an agent-market config TOML; a preset calibrated on the same data must end
    before the cut), each simulated for ``tstr_synthetic_s`` seconds, or
    ``"store:PATH"`` (the first ``tstr_paths`` paths of a store with events and books, e.g. ``simlab generate
    sample``'s); ``reference`` is the baseline of the Diebold-Mariano tests;
    ``stride`` keeps every stride-th origin. ``normalisation`` must be ``"train"``: statistics of the training
    block only. ``label`` names the task among several ``[[tasks]]`` (default: its name and horizon, e.g.
    ``direction_50ev``, ``big_move_5s``)."""

    name: str
    label: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")
    horizon_events: int | None = Field(None, ge=1)
    horizon_s: float | None = Field(None, gt=0)
    threshold_ticks: float = Field(0.0, ge=0)
    move_ticks: float = Field(1.0, ge=0)
    size: int = Field(100, ge=1)
    side: Literal[-1, 1] = 1
    models: list[str] = Field(default_factory=lambda: ["deeplob", "flow_logistic", "last_label", "prior"])
    reference: str = "flow_logistic"
    preset: Literal["tiny", "cpu", "full"] = "cpu"
    levels: int = Field(10, ge=1)
    window: int | None = Field(None, ge=1)
    stride: int = Field(1, ge=1)
    footprint_bin_s: float = Field(1.0, gt=0)
    footprint_ticks: int = Field(10, ge=2)
    oracle_paths: int = Field(200, ge=10)
    tstr: bool = False
    tstr_train_fraction: float = Field(0.6, gt=0, lt=1)
    tstr_synthetic_s: float = Field(1800.0, gt=0)
    tstr_n_max: int = Field(30, ge=1)
    tstr_source: str = Field("qr", pattern=r"^(qr|(hawkes|preset|abm|store):.+)$")
    tstr_paths: int = Field(1, ge=1)
    tstr_mix_share: float = Field(0.5, gt=0, lt=1)
    tstr_stride: int = Field(1, ge=1)
    normalisation: str = "train"

    @field_validator("name")
    @classmethod
    def _task_name(cls, value: str) -> str:
        from scenarios.forecast.tasks import TASK_NAMES

        if value not in TASK_NAMES:
            raise ValueError(f"must be one of {list(TASK_NAMES)}")
        return value

    @field_validator("models")
    @classmethod
    def _model_names(cls, value: list[str]) -> list[str]:
        unknown = [m for m in value if m not in TASK_MODEL_NAMES]
        if unknown or not value or len(set(value)) != len(value):
            raise ValueError(f"must be distinct names from {list(TASK_MODEL_NAMES)} (unknown: {unknown})")
        return value

    @field_validator("normalisation")
    @classmethod
    def _train_only(cls, value: str) -> str:
        if value != "train":
            raise ValueError(
                "must be 'train' (statistics of the training block only); any other value would let the "
                "normalisation see the test span"
            )
        return value

    @model_validator(mode="after")
    def _horizon(self) -> TaskSpec:
        if (self.horizon_events is None) == (self.horizon_s is None):
            raise ValueError(f"task {self.name!r} needs exactly one of `horizon_events` and `horizon_s`")
        if self.reference not in self.models:
            raise ValueError(f"`reference` must be one of the task's models {self.models}; got {self.reference!r}")
        return self

    @property
    def tag(self) -> str:
        """The task's label: ``label`` or its name and horizon (``direction_50ev``, ``realised_vol_60s``)."""
        if self.label is not None:
            return self.label
        horizon = f"{self.horizon_events}ev" if self.horizon_events is not None else f"{self.horizon_s:g}s"
        return f"{self.name}_{horizon}"


class SafeSizeSpec(StrictModel):
    """The safe order size task (:mod:`scenarios.forecast.safe_size_task`) in the agent market ``market`` (an ABM
    preset name of ``calibration/presets``, e.g. ``abm-amzn``, or a market config TOML path): ``markets``
    independent sessions of ``duration_s`` seconds, the first ``train_markets`` train; at each origin (seconds after
    the open) the label is the realised safe size of an order of side ``side`` arriving ``lead_s`` later, its impact
    read ``horizon_s`` after the arrival against ``bound_ticks``, on the size grid ``grid`` (lots, increasing)."""

    market: str = "abm-amzn"
    duration_s: float = Field(1800.0, gt=0)
    markets: int = Field(64, ge=2)
    train_markets: int = Field(32, ge=1)
    lead_s: float = Field(60.0, ge=0)
    horizon_s: float = Field(10.0, ge=0)
    origins_s: list[float] = Field(min_length=1)
    bound_ticks: float = Field(5.0, gt=0)
    side: Literal[-1, 1] = 1
    grid: list[int] = Field(default_factory=lambda: [10, 20, 50, 100, 200, 500, 1000, 2000], min_length=1)

    @field_validator("train_markets")
    @classmethod
    def _train_below_markets(cls, value: int, info: ValidationInfo) -> int:
        markets = info.data.get("markets")
        if markets is not None and value >= markets:
            raise ValueError(f"must be below `markets` ({markets}) so that some markets test")
        return value

    @field_validator("origins_s")
    @classmethod
    def _origins_in_session(cls, value: list[float], info: ValidationInfo) -> list[float]:
        if {"duration_s", "lead_s", "horizon_s"} <= info.data.keys():
            latest = info.data["duration_s"] - info.data["horizon_s"] - info.data["lead_s"]
            if not 0 < min(value) <= max(value) < latest:
                raise ValueError(f"must lie in (0, duration_s - horizon_s - lead_s) = (0, {latest:g}) s so that every "
                                 "order arrives and is read within the session")  # fmt: skip
        return value

    @field_validator("grid")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if min(value) < 1 or sorted(set(value)) != value:
            raise ValueError("must be strictly increasing sizes of at least 1 lot")
        return value


class ProtocolSpec(StrictModel):
    """Walk-forward settings (see :func:`scenarios.forecast.protocol.walk_forward`) and the audit's z."""

    n_folds: int = Field(5, ge=5)
    embargo: int | None = None
    initial_fraction: float = Field(0.5, gt=0, lt=1)
    audit_z: float = Field(3.0, gt=0)


class NetworkSpec(StrictModel):
    """The network of the FNN and the hybrids."""

    layers: list[int] = Field(default_factory=lambda: [32, 16])
    activation: Literal["relu", "tanh", "sigmoid"] = "relu"
    optimizer: Literal["adam", "sgd"] = "adam"
    learning_rate: float = Field(1e-3, gt=0)
    batch_size: int = Field(8, ge=1)
    max_epochs: int = Field(50, ge=1)
    patience: int = Field(5, ge=1)
    max_train: int = Field(4096, ge=50)


class ModelsSpec(StrictModel):
    """Which forecasters to run and their settings."""

    include: list[Literal[MODEL_NAMES]] = Field(default_factory=lambda: list(MODEL_NAMES))  # type: ignore[valid-type]
    lags: int = Field(5, ge=1)
    oracle_paths: int = Field(400, ge=10)
    hawkes_paths: int = Field(200, ge=10)
    network: NetworkSpec = Field(default_factory=NetworkSpec)


class PaperSpec(StrictModel):
    """The paper's sensitivity grid of the hybrid ("none", the full "grid" of 120, or "lhs" of ``n_configs``) on the
    series named ``series`` (default: the first)."""

    sensitivity: Literal["none", "grid", "lhs"] = "none"
    n_configs: int = Field(12, ge=1)
    series: str | None = None


class TstrSpec(StrictModel):
    """Train on synthetic, test on real, for every real series (see :mod:`scenarios.forecast.tstr`)."""

    enabled: bool = False
    train_fraction: float = Field(0.6, gt=0, lt=1)
    synthetic_s: float = Field(3600.0, gt=0)


class ForecastSpec(StrictModel):
    """A whole benchmark run."""

    run: RunSpec = Field(default_factory=RunSpec)
    data: list[DataSpec] = Field(default_factory=list)
    target: TargetSpec = Field(default_factory=TargetSpec)
    protocol: ProtocolSpec = Field(default_factory=ProtocolSpec)
    models: ModelsSpec = Field(default_factory=ModelsSpec)
    paper: PaperSpec = Field(default_factory=PaperSpec)
    tstr: TstrSpec = Field(default_factory=TstrSpec)
    task: TaskSpec | None = None
    tasks: list[TaskSpec] = Field(default_factory=list)
    safe_size: SafeSizeSpec | None = None

    @property
    def task_list(self) -> list[TaskSpec]:
        """The book tasks of the spec: ``[task]`` alone, or every ``[[tasks]]`` table in order."""
        return [self.task] if self.task is not None else list(self.tasks)

    @model_validator(mode="after")
    def _names(self) -> ForecastSpec:
        names = [d.name for d in self.data]
        if self.safe_size is not None:
            if names or self.task_list:
                raise ValueError(
                    "a `[safe_size]` spec simulates its own agent market and takes no `[[data]]`, `[task]` or "
                    f"`[[tasks]]` tables; got data {names} and {len(self.task_list)} task(s)"
                )
            return self
        books = [d.name for d in self.data if d.source in ("lobster", "planted", "binance_ws")]
        if self.task is not None and self.tasks:
            raise ValueError("give one `[task]` table or several `[[tasks]]` tables, not both")
        tags = [t.tag for t in self.tasks]
        if len(set(tags)) != len(tags):
            raise ValueError(f"the `[[tasks]]` must have distinct labels (name and horizon, or `label`); got {tags}")
        if self.task_list:  # a book preset's series (e.g. hawkes-aapl, with the oracle) is a book too
            books += [d.name for d in self.data if d.source == "preset"]
        if self.task_list and len(books) != len(names):
            raise ValueError(
                f"a [task] spec needs `lobster`, `binance_ws`, `planted` or book `preset` data only; got {names}, "
                f"books {books}"
            )
        if not self.task_list and books:
            raise ValueError(f"data {books} are book series: they need a [task] or [[tasks]] section")
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"`data` must hold at least one series, with distinct names; got {names}")
        if self.paper.series is not None and self.paper.series not in names:
            raise ValueError(f"`paper.series` must name a series of `data` {names}; got {self.paper.series!r}")
        return self


def parse_spec(data: dict, source: str = "spec") -> ForecastSpec:
    """Validate a spec mapping; the first problem becomes one ParameterError sentence naming the field."""
    return parse_spec_data(ForecastSpec, data, source)


def load_spec(path: str | Path) -> ForecastSpec:
    """Read a spec TOML file, or a spec shipped in ``scenarios/library/`` by name (e.g. ``"forecast_smoke"``)."""
    return read_spec(ForecastSpec, path, "forecast")[0]
